/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * npaudit status | findings [--watch] | pod NS/NAME: clients of npauditd's local API (HTTP/1.1
 * and JSON over its Unix socket, with libcurl). They say so plainly when the agent is not
 * running.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli-util.h"
#include "cli.h"

#define DEFAULT_SOCKET "/run/npaudit/npauditd.sock"

struct fetch {
	struct strbuf body;
	bool stream; /* print complete lines as they come */
	bool json;
	int (*on_line)(struct fetch *f, const char *line);
	size_t line_start;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *userdata)
{
	struct fetch *f = userdata;
	size_t len = size * n;

	if (strbuf_append(&f->body, ptr, len) < 0)
		return 0;
	if (f->stream) {
		char *nl;
		while ((nl = memchr(f->body.s + f->line_start, '\n',
				    f->body.len - f->line_start))) {
			*nl = 0;
			if (f->on_line(f, f->body.s + f->line_start) < 0)
				return 0;
			f->line_start = (size_t)(nl - f->body.s) + 1;
		}
		if (f->line_start == f->body.len) {
			strbuf_reset(&f->body);
			f->line_start = 0;
		}
	}
	return len;
}

/* Performs METHOD PATH on the agent's socket. Returns the HTTP status (> 0) with the body in
 * f->body, or EXIT_USAGE after printing why the agent could not be asked. */
static long request(const char *socket_path, const char *method, const char *path, long timeout,
		    struct fetch *f)
{
	CURL *c = curl_easy_init();
	char url[2048], err[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;

	if (!c)
		return cli_fail("out of memory");
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket_path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (streq(method, "POST"))
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	if (timeout > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (rc == CURLE_COULDNT_CONNECT) {
		if (access(socket_path, F_OK) < 0)
			return cli_fail("npauditd is not running: no socket at %s (--socket PATH)",
					socket_path);
		if (access(socket_path, R_OK | W_OK) < 0)
			return cli_fail(
				"no permission to use %s: run as root or as a member of the "
				"socket's group",
				socket_path);
		return cli_fail("npauditd is not running: %s refuses connections", socket_path);
	}
	if (rc != CURLE_OK)
		return cli_fail("asking npauditd on %s failed: %s", socket_path,
				err[0] ? err : curl_easy_strerror(rc));
	return status;
}

static json_t *parse_body(struct fetch *f, long status)
{
	json_error_t je;
	json_t *j = json_loadb(strbuf_str(&f->body), f->body.len, 0, &je);

	if (!j) {
		cli_fail("npauditd answered HTTP %ld with something that is not JSON: %s", status,
			 je.text);
		return NULL;
	}
	if (status != 200) {
		cli_fail("npauditd: %s (HTTP %ld)",
			 json_string_value(json_object_get(j, "error"))
				 ? json_string_value(json_object_get(j, "error"))
				 : "error",
			 status);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* GETs path from the agent and parses its JSON answer. Returns it (caller decrefs), or NULL
 * after printing why; *ret_unreachable says whether the agent could not be asked at all. */
static json_t *agent_get(const char *socket_path, const char *path, bool *ret_unreachable)
{
	struct fetch f = { 0 };
	long st = request(socket_path, "GET", path, 10, &f);
	json_t *j = NULL;

	*ret_unreachable = st == EXIT_USAGE;
	if (!*ret_unreachable)
		j = parse_body(&f, st);
	strbuf_done(&f.body);
	return j;
}

/* Prints j as JSON (indented unless compact). */
static void print_json(json_t *j, bool compact)
{
	char *out = json_dumps(j, compact ? JSON_COMPACT : JSON_INDENT(2));

	puts(out ? out : "{}");
	free(out);
}

static const char *s(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "-";
}

static void print_finding(json_t *f, const char *prefix)
{
	json_t *ex = json_object_get(f, "example");

	printf("%s[%s] %s %s %s: %s\n", prefix, s(f, "severity"), s(f, "kind"), s(f, "pod"),
	       s(f, "direction"), s(f, "message"));
	if (json_object_get(ex, "src"))
		printf("    example: %s %s:%lld -> %s:%lld (in %s, out %s)\n", s(ex, "protocol"),
		       s(ex, "src"), (long long)json_integer_value(json_object_get(ex, "sport")),
		       s(ex, "dst"), (long long)json_integer_value(json_object_get(ex, "dport")),
		       s(ex, "iif"), s(ex, "oif"));
	if (json_string_value(json_object_get(f, "rule_text")))
		printf("    decided by: %s\n", s(f, "rule_text"));
	if (json_array_size(json_object_get(f, "policies"))) {
		size_t i;
		json_t *p;
		printf("    policies:");
		json_array_foreach(json_object_get(f, "policies"), i, p)
			printf(" %s", json_string_value(p));
		printf("\n");
	}
	printf("    id %s\n", s(f, "id"));
}

struct common {
	const char *socket;
	bool json;
};

static int parse_common(int argc, char **argv, struct common *c, bool *watch, bool *probe,
			const char **pod, const char **kind, const char **severity,
			const char *usage)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "watch", no_argument, NULL, 'w' },
		{ "probe", no_argument, NULL, 'P' },
		{ "pod", required_argument, NULL, 'p' },
		{ "kind", required_argument, NULL, 'k' },
		{ "severity", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int o;

	c->socket = getenv("NPAUDIT_SOCKET") ? getenv("NPAUDIT_SOCKET") : DEFAULT_SOCKET;
	optind = 0;
	while ((o = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
		switch (o) {
		case 'S':
			c->socket = optarg;
			break;
		case 'j':
			c->json = true;
			break;
		case 'w':
			if (!watch)
				goto bad;
			*watch = true;
			break;
		case 'P':
			if (!probe)
				goto bad;
			*probe = true;
			break;
		case 'p':
			if (!pod)
				goto bad;
			*pod = optarg;
			break;
		case 'k':
			if (!kind)
				goto bad;
			*kind = optarg;
			break;
		case 's':
			if (!severity)
				goto bad;
			*severity = optarg;
			break;
		case 'h':
			printf("Usage: npaudit %s\n", usage);
			return 1;
		default:
		bad:
			fprintf(stderr, "Usage: npaudit %s\n", usage);
			return -1;
		}
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	static const char *usage = "status [--socket PATH] [--json] [--probe]";
	struct common c = { 0 };
	bool probe = false, unreachable;
	json_t *j, *api, *la, *fi;
	int r = parse_common(argc, argv, &c, NULL, &probe, NULL, NULL, NULL, usage);

	if (r)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	if (optind < argc)
		return cli_fail("unexpected argument '%s'", argv[optind]);
	j = agent_get(c.socket, "/v1/status", &unreachable);
	if (!j)
		return unreachable && probe ? EXIT_FINDINGS : EXIT_USAGE;
	if (probe) {
		/* For liveness/readiness probes: ready (first audit done) and not degraded. */
		bool ok = json_is_true(json_object_get(j, "ready")) &&
			  !json_is_true(json_object_get(j, "degraded"));
		if (!ok)
			fprintf(stderr, "npaudit: agent %s\n",
				!json_is_true(json_object_get(j, "ready")) ? "not ready yet"
									   : "degraded");
		json_decref(j);
		return ok ? EXIT_OK : EXIT_FINDINGS;
	}
	if (c.json) {
		print_json(j, false);
		json_decref(j);
		return EXIT_OK;
	}
	api = json_object_get(j, "apiserver");
	la = json_object_get(j, "last_audit");
	fi = json_object_get(j, "findings");
	printf("npauditd %s on node %s\n", s(j, "version"), s(j, "node"));
	printf("  state:      %s%s%s\n",
	       json_is_true(json_object_get(j, "degraded")) ? "DEGRADED: "
	       : json_is_true(json_object_get(j, "ready"))  ? "ready"
							    : "starting",
	       json_is_true(json_object_get(j, "degraded")) ? s(j, "degraded_reason") : "", "");
	printf("  API server: %s, %s\n",
	       json_is_true(json_object_get(api, "reachable")) ? "reachable" : "UNREACHABLE",
	       json_is_true(json_object_get(api, "synced")) ? "synced" : "not synced yet");
	if (json_is_string(json_object_get(la, "at")))
		printf("  last audit: %s, %.1f ms, %lld pods, %lld traffic classes\n", s(la, "at"),
		       json_number_value(json_object_get(la, "duration_ms")),
		       (long long)json_integer_value(json_object_get(la, "pods")),
		       (long long)json_integer_value(json_object_get(la, "classes")));
	else
		printf("  last audit: none yet\n");
	printf("  findings:   %lld (allowed-drift %lld, blocked-drift %lld, unenforced %lld, "
	       "unverifiable %lld, no-route %lld)\n",
	       (long long)json_integer_value(json_object_get(fi, "total")),
	       (long long)json_integer_value(json_object_get(fi, "allowed-drift")),
	       (long long)json_integer_value(json_object_get(fi, "blocked-drift")),
	       (long long)json_integer_value(json_object_get(fi, "unenforced")),
	       (long long)json_integer_value(json_object_get(fi, "unverifiable")),
	       (long long)json_integer_value(json_object_get(fi, "no-route")));
	{
		json_t *rem = json_object_get(j, "remediation"), *cni = json_object_get(j, "cni");

		if (json_is_object(cni))
			printf("  CNI:        %s%s%s, dataplane %s, enforces NetworkPolicy: %s\n",
			       s(cni, "name"),
			       json_is_string(json_object_get(cni, "version")) ? " " : "",
			       json_is_string(json_object_get(cni, "version")) ? s(cni, "version")
									       : "",
			       s(cni, "dataplane"), s(cni, "enforces_networkpolicy"));
		if (json_is_object(rem)) {
			json_t *last = json_object_get(rem, "last_restart");

			printf("  remediation: %s, %s; restarts today %lld", s(rem, "mode"),
			       s(rem, "state"),
			       (long long)json_integer_value(
				       json_object_get(rem, "restarts_today")));
			if (json_is_object(last))
				printf("; last %s of %s: %s", s(last, "at"), s(last, "pod"),
				       s(last, "outcome"));
			printf("\n");
		}
	}
	{
		json_t *n;
		size_t i;

		json_array_foreach(json_object_get(j, "notes"), i, n)
			printf("  note:       %s\n", json_string_value(n));
	}
	json_decref(j);
	return EXIT_OK;
}

static int on_stream_line(struct fetch *f, const char *line)
{
	json_t *j;
	const char *t;

	if (!*line)
		return 0;
	if (f->json) {
		printf("%s\n", line);
		fflush(stdout);
		return 0;
	}
	j = json_loads(line, 0, NULL);
	if (!j) {
		fprintf(stderr, "npaudit: the agent sent a line that is not JSON\n");
		return -1;
	}
	t = s(j, "transition");
	if (streq(t, "snapshot")) {
		json_t *fs = json_object_get(json_object_get(j, "findings"), "findings"), *x;
		size_t i;
		printf("%zu current findings\n", json_array_size(fs));
		json_array_foreach(fs, i, x) print_finding(x, "");
	} else if (streq(t, "new"))
		print_finding(json_object_get(j, "finding"), "NEW ");
	else if (streq(t, "resolved")) {
		json_t *x = json_object_get(j, "finding");
		printf("RESOLVED %s %s %s (id %s)\n", s(x, "kind"), s(x, "pod"), s(x, "direction"),
		       s(x, "id"));
	} else
		printf("agent: %s\n", t);
	fflush(stdout);
	json_decref(j);
	return 0;
}

static int cmd_findings(int argc, char **argv)
{
	static const char *usage = "findings [--socket PATH] [--json] [--watch] [--pod NS/NAME] "
				   "[--kind KIND] [--severity SEVERITY]";
	struct common c = { 0 };
	struct fetch f = { 0 };
	const char *pod = NULL, *kind = NULL, *sev = NULL;
	bool watch = false, unreachable;
	char path[1024];
	json_t *j, *fs, *x;
	size_t i;
	long st;
	int r = parse_common(argc, argv, &c, &watch, NULL, &pod, &kind, &sev, usage);

	if (r)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	if (optind < argc)
		return cli_fail("unexpected argument '%s'", argv[optind]);
	if (watch) {
		f.stream = true;
		f.json = c.json;
		f.on_line = on_stream_line;
		st = request(c.socket, "GET", "/v1/findings/stream", 0, &f);
		strbuf_done(&f.body);
		if (st == EXIT_USAGE)
			return EXIT_USAGE;
		return cli_fail("the agent closed the stream (HTTP %ld)", st);
	}
	{
		CURL *e = curl_easy_init();
		char *ep = pod && e ? curl_easy_escape(e, pod, 0) : NULL;
		char *ek = kind && e ? curl_easy_escape(e, kind, 0) : NULL;
		char *es = sev && e ? curl_easy_escape(e, sev, 0) : NULL;
		snprintf(path, sizeof(path), "/v1/findings?%s%s%s%s%s%s", ep ? "pod=" : "",
			 ep ? ep : "", ek ? "&kind=" : "", ek ? ek : "", es ? "&severity=" : "",
			 es ? es : "");
		curl_free(ep);
		curl_free(ek);
		curl_free(es);
		curl_easy_cleanup(e);
	}
	j = agent_get(c.socket, path, &unreachable);
	if (!j)
		return EXIT_USAGE;
	fs = json_object_get(j, "findings");
	if (c.json)
		print_json(j, false);
	else {
		if (!json_is_true(json_object_get(j, "reporting")))
			printf("The agent has not finished its first audit yet: no findings are "
			       "known.\n");
		else if (json_array_size(fs) == 0)
			printf("No findings on node %s: the live rules do what the policies "
			       "say%s.\n",
			       s(j, "node"),
			       json_is_true(json_object_get(j, "degraded"))
				       ? " (as of the last complete audit; the agent is DEGRADED)"
				       : "");
		json_array_foreach(fs, i, x) print_finding(x, "");
	}
	r = json_array_size(fs) ? EXIT_FINDINGS : EXIT_OK;
	json_decref(j);
	return r;
}

static int cmd_pod(int argc, char **argv)
{
	static const char *usage = "pod NS/NAME [--socket PATH] [--json]";
	struct common c = { 0 };
	bool unreachable;
	char path[1024];
	json_t *j, *x;
	size_t i;
	int r = parse_common(argc, argv, &c, NULL, NULL, NULL, NULL, NULL, usage);

	if (r)
		return r > 0 ? EXIT_OK : EXIT_USAGE;
	if (optind != argc - 1 || !strchr(argv[optind], '/'))
		return cli_fail("usage: npaudit %s", usage);
	snprintf(path, sizeof(path), "/v1/pods/%s", argv[optind]);
	j = agent_get(c.socket, path, &unreachable);
	if (!j)
		return EXIT_USAGE;
	if (c.json) {
		print_json(j, false);
		json_decref(j);
		return EXIT_OK;
	}
	printf("pod %s on interface %s\n", s(j, "pod"), s(j, "interface"));
	if (json_object_get(j, "exempt"))
		printf("  NetworkPolicy does not apply: %s\n", s(j, "exempt"));
	for (int d = 0; d < 2; d++) {
		json_t *dir = json_object_get(j, d ? "egress" : "ingress"), *p;
		if (!dir)
			continue;
		printf("  %s: %s", d ? "egress" : "ingress",
		       json_is_true(json_object_get(json_object_get(j, "isolated"),
						    d ? "egress" : "ingress"))
			       ? "isolated by"
			       : "not isolated");
		json_array_foreach(json_object_get(dir, "policies"), i, p)
			printf(" %s", json_string_value(p));
		printf("\n");
		if (json_string_value(json_object_get(dir, "allowed")))
			printf("    allowed:\n      %s\n", s(dir, "allowed"));
	}
	json_array_foreach(json_object_get(j, "finding_list"), i, x) print_finding(x, "  ");
	json_decref(j);
	return EXIT_OK;
}

int cli_agent_trace(const char *socket_path, const char *const *keys, const char *const *values,
		    size_t n, bool json)
{
	_cleanup_(strbuf_done) struct strbuf path = { 0 };
	CURL *e = curl_easy_init();
	bool unreachable;
	json_t *j, *x;
	size_t i;

	if (!e)
		return cli_fail("out of memory");
	strbuf_puts(&path, "/v1/trace?");
	for (size_t k = 0; k < n; k++) {
		char *v;
		if (!values[k])
			continue;
		v = curl_easy_escape(e, values[k], 0);
		strbuf_printf(&path, "%s=%s&", keys[k], v ? v : "");
		curl_free(v);
	}
	curl_easy_cleanup(e);
	j = agent_get(socket_path, strbuf_str(&path), &unreachable);
	if (!j)
		return EXIT_USAGE;
	if (json)
		print_json(j, true);
	else {
		printf("%s (%s) via %s -> %s, %s path\n", s(j, "verdict"), s(j, "reason"),
		       s(j, "iif"), s(j, "oif"), s(j, "path"));
		json_array_foreach(json_object_get(j, "trace"), i, x)
			printf("  %s %s %s/%s: %s -> %s\n", s(x, "source"), s(x, "family"),
			       s(x, "table"), s(x, "chain"), s(x, "rule"), s(x, "action"));
	}
	json_decref(j);
	return EXIT_OK;
}

const struct cli_command cli_client_commands[] = {
	{ "status", cmd_status, "[--socket PATH] [--json] [--probe]",
	  "the agent's state: sync, last audit, counts (--probe: exit 0 iff ready)" },
	{ "findings", cmd_findings, "[--watch] [--pod NS/NAME] [--kind K] [--severity S] [--json]",
	  "the agent's current findings, or (--watch) each change as it happens" },
	{ "pod", cmd_pod, "NS/NAME [--json]",
	  "one pod of this node: isolation, allowed traffic, findings" },
	{},
};
