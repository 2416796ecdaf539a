/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test driver for the informers: follows an API server into a model, driven through the
 * external-loop interface (k8s_client_set_loop) by a small poll() loop of its own, as the daemon
 * drives it from sd-event. Commands on stdin, one per line; answers on stdout, one JSON per line:
 *
 *   dump                 the informers' objects (key -> resourceVersion), the model's objects
 *                        (pods with uid and labels), the counters (with the HTTP version of
 *                        each informer's last answer), the TCP connections opened and the
 *                        sockets in use
 *   delete NS NAME UID   DELETE the pod with a uid precondition; answers {"delete": result}
 *   event NS JSON        POST the Event; answers {"event": result}
 *
 * Unprompted lines: {"synced": true} once every informer has listed, and {"log": ...} lines on
 * stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "k8s/k8s.h"

struct loopfd {
	int fd;
	unsigned events;
};

static struct loopfd fds[256];
static size_t n_fds;
static uint64_t timer_at = UINT64_MAX;
static bool reachable_changes;

static int loop_io(void *userdata, int fd, unsigned events)
{
	for (size_t i = 0; i < n_fds; i++)
		if (fds[i].fd == fd) {
			if (events)
				fds[i].events = events;
			else
				fds[i] = fds[--n_fds];
			return 0;
		}
	if (!events)
		return 0;
	if (n_fds >= ELEMENTSOF(fds))
		return -ENOSPC;
	fds[n_fds++] = (struct loopfd){ fd, events };
	return 0;
}

static int loop_timer(void *userdata, uint64_t usec)
{
	timer_at = usec;
	return 0;
}

static const struct k8s_loop loop = { loop_io, loop_timer };

static void on_log(void *userdata, int prio, const char *msg)
{
	fprintf(stderr, "k8s-follow: <%d> %s\n", prio, msg);
}

static void on_reachable(void *userdata, bool r)
{
	reachable_changes = true;
	fprintf(stderr, "k8s-follow: API server %s\n", r ? "reachable" : "unreachable");
}

static const char *const kind_names[] = { "namespaces", "pods", "networkpolicies", "services",
					  "daemonsets" };

static void add_key(void *userdata, const char *key, const char *rv)
{
	json_object_set_new(userdata, key, json_string(rv));
}

static json_t *labels_json(const struct model_labels *l)
{
	json_t *o = json_object();

	for (uint32_t i = 0; i < l->n; i++)
		json_object_set_new(o, l->v[i].key, json_string(l->v[i].value));
	return o;
}

/* Everything else the model holds of a pod, as one string: two clients that decoded the same
 * objects (in JSON and in protobuf, say) must print the same. */
static const char *pod_detail(const struct model_pod *p, char *buf, size_t size)
{
	size_t n = 0;
	char a[64];

#define ADD(...) n += (size_t)snprintf(buf + n, n < size ? size - n : 0, __VA_ARGS__)
	ADD("node=%s phase=%u ready=%d restarts=%u hostnet=%d term=%d", p->node ? p->node : "-",
	    (unsigned)p->phase, p->ready, (unsigned)p->restarts, p->host_network, p->terminating);
	for (unsigned i = 0; i < p->n_ips; i++)
		ADD(" ip=%s", np_addr_format(p->ips[i], a, sizeof(a)));
	for (unsigned i = 0; i < p->n_ports; i++)
		ADD(" port=%s/%u/%u", p->ports[i].name ? p->ports[i].name : "-",
		    (unsigned)p->ports[i].port, (unsigned)p->ports[i].proto);
	ADD(" owner=%s/%s image=%s", p->origin->owner_kind ? p->origin->owner_kind : "-",
	    p->origin->owner_name ? p->origin->owner_name : "-",
	    p->origin->image ? p->origin->image : "-");
#undef ADD
	return buf;
}

static void dump(struct k8s_client *c, struct model *m)
{
	json_t *out = json_object(), *inf = json_object(), *mod = json_object(),
	       *stats = json_object();
	const struct model_namespace *const *nss;
	const struct model_pod *const *pods;
	const struct model_policy *const *pols;
	const struct model_service *const *svcs;
	const struct model_daemonset *const *dss;
	size_t n;
	json_t *o;
	char key[600], uid[MODEL_UID_BUF];

	for (int k = 0; k < _MODEL_KIND_MAX; k++) {
		struct k8s_stats st;
		json_t *objs = json_object();

		k8s_client_foreach(c, (enum model_kind)k, add_key, objs);
		json_object_set_new(inf, kind_names[k], objs);
		if (k8s_client_stats(c, (enum model_kind)k, &st) == 0)
			json_object_set_new(
				stats, kind_names[k],
				json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, "
					  "s:s, s:i}",
					  "lists", (json_int_t)st.lists, "relists",
					  (json_int_t)st.relists, "pages", (json_int_t)st.pages,
					  "watches", (json_int_t)st.watches, "events",
					  (json_int_t)st.events, "bookmarks",
					  (json_int_t)st.bookmarks, "errors", (json_int_t)st.errors,
					  "malformed", (json_int_t)st.malformed, "unchanged",
					  (json_int_t)st.unchanged, "protobuf_pages",
					  (json_int_t)st.protobuf_pages, "synced", st.synced, "rv",
					  st.resource_version, "http", (int)st.http_version));
	}
	o = json_object();
	n = model_namespaces(m, &nss);
	for (size_t i = 0; i < n; i++)
		if (!nss[i]->implicit) /* made up by the model for pods whose namespace is unseen */
			json_object_set_new(o, nss[i]->name, json_object());
	json_object_set_new(mod, "namespaces", o);
	o = json_object();
	n = model_pods(m, &pods);
	for (size_t i = 0; i < n; i++) {
		char detail[2048];

		snprintf(key, sizeof(key), "%s/%s", pods[i]->ns, pods[i]->name);
		json_object_set_new(o, key,
				    json_pack("{s:s, s:o, s:s}", "uid", model_pod_uid(pods[i], uid),
					      "labels", labels_json(&pods[i]->labels), "detail",
					      pod_detail(pods[i], detail, sizeof(detail))));
	}
	json_object_set_new(mod, "pods", o);
	o = json_object();
	n = model_policies(m, &pols);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s/%s", pols[i]->ns, pols[i]->name);
		json_object_set_new(o, key, json_object());
	}
	json_object_set_new(mod, "networkpolicies", o);
	o = json_object();
	n = model_services(m, &svcs);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s/%s", svcs[i]->ns, svcs[i]->name);
		json_object_set_new(o, key, json_object());
	}
	json_object_set_new(mod, "services", o);
	o = json_object();
	n = model_daemonsets(m, &dss);
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s/%s", dss[i]->ns, dss[i]->name);
		json_object_set_new(o, key, json_object());
	}
	json_object_set_new(mod, "daemonsets", o);

	json_object_set_new(out, "informers", inf);
	json_object_set_new(out, "model", mod);
	json_object_set_new(out, "stats", stats);
	json_object_set_new(out, "synced", json_boolean(k8s_client_synced(c)));
	json_object_set_new(out, "reachable", json_boolean(k8s_client_reachable(c)));
	json_object_set_new(out, "connections",
			    json_integer((json_int_t)k8s_client_connections(c)));
	json_object_set_new(out, "sockets", json_integer((json_int_t)k8s_client_sockets(c)));
	json_dumpf(out, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(out);
}

static void write_done(void *userdata, int result, long code, const char *message)
{
	printf("{\"%s\": %d, \"code\": %ld}\n", (const char *)userdata, result, code);
	fflush(stdout);
}

static int command(struct k8s_client *c, struct model *m, char *line)
{
	char *cmd = strtok(line, " \n"), *a, *b, *u;

	if (!cmd)
		return 0;
	if (streq(cmd, "dump")) {
		dump(c, m);
		return 0;
	}
	if (streq(cmd, "delete")) {
		a = strtok(NULL, " \n");
		b = strtok(NULL, " \n");
		u = strtok(NULL, " \n");
		return k8s_pod_delete(c, a, b, u, write_done, "delete");
	}
	if (streq(cmd, "event")) {
		json_t *ev;
		int r;

		a = strtok(NULL, " \n");
		b = strtok(NULL, "\n");
		ev = b ? json_loads(b, 0, NULL) : NULL;
		if (!a || !ev)
			return -EINVAL;
		r = k8s_event_post(c, a, ev, write_done, "event");
		json_decref(ev);
		return r;
	}
	return -EINVAL;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "apiserver", required_argument, NULL, 'a' },
		{ "token-file", required_argument, NULL, 't' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "page-size", required_argument, NULL, 'p' },
		{ "watch-timeout", required_argument, NULL, 'w' },
		{ "backoff-max-ms", required_argument, NULL, 'b' },
		{ "token-reload-ms", required_argument, NULL, 'r' },
		{ "field-selector", required_argument, NULL, 'f' },
		{ "label-selector", required_argument, NULL, 'l' },
		{ "json-only", no_argument, NULL, 'J' },
		{},
	};
	_cleanup_(k8s_config_freep) struct k8s_config *cfg = NULL;
	_cleanup_(k8s_client_freep) struct k8s_client *c = NULL;
	_cleanup_(model_freep) struct model *m = NULL;
	struct k8s_options opts = { .backoff_initial_usec = 100000 };
	struct k8s_callbacks cb = { .log = on_log, .reachable = on_reachable };
	const char *server = NULL, *token = NULL, *ca = NULL, *kubeconfig = NULL;
	struct np_error err = { 0 };
	char line[1 << 16], ebuf[1024];
	size_t llen = 0;
	bool announced = false;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
		switch (opt) {
		case 'a':
			server = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'c':
			ca = optarg;
			break;
		case 'k':
			kubeconfig = optarg;
			break;
		case 'p':
			opts.page_size = (unsigned)atoi(optarg);
			break;
		case 'w':
			opts.watch_timeout_sec = (unsigned)atoi(optarg);
			break;
		case 'b':
			opts.backoff_max_usec = (uint64_t)atoll(optarg) * 1000;
			break;
		case 'r':
			opts.token_reload_usec = (uint64_t)atoll(optarg) * 1000;
			break;
		case 'f':
			opts.field_selector[MODEL_POD] = optarg;
			break;
		case 'l':
			opts.label_selector[MODEL_POD] = optarg;
			break;
		case 'J':
			opts.json_only = true;
			break;
		default:
			return 2;
		}
	r = k8s_config_auto(kubeconfig, server, token, ca, &cfg, &err);
	if (r < 0) {
		fprintf(stderr, "k8s-follow: %s\n", np_error_format(&err, ebuf, sizeof(ebuf)));
		return 1;
	}
	if (model_new(&m) < 0)
		return 1;
	r = k8s_client_new(cfg, &opts, m, &cb, NULL, &c, &err);
	if (r < 0) {
		fprintf(stderr, "k8s-follow: %s\n", np_error_format(&err, ebuf, sizeof(ebuf)));
		return 1;
	}
	k8s_client_set_loop(c, &loop, NULL);
	if (k8s_client_start(c) < 0)
		return 1;

	for (;;) {
		struct pollfd pfd[ELEMENTSOF(fds) + 1];
		uint64_t now = k8s_now_usec();
		int timeout = timer_at == UINT64_MAX ? 1000
			      : timer_at <= now	     ? 0
						: (int)MIN((timer_at - now + 999) / 1000, 1000u);
		size_t n = n_fds;
		int k;

		if (!announced && k8s_client_synced(c)) {
			announced = true;
			printf("{\"synced\": true}\n");
			fflush(stdout);
		}
		pfd[0] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		for (size_t i = 0; i < n; i++)
			pfd[i + 1] = (struct pollfd){
				.fd = fds[i].fd,
				.events = (short)(((fds[i].events & K8S_IO_IN) ? POLLIN : 0) |
						  ((fds[i].events & K8S_IO_OUT) ? POLLOUT : 0)),
			};
		k = poll(pfd, n + 1, timeout);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (pfd[0].revents) {
			ssize_t got = read(STDIN_FILENO, line + llen, sizeof(line) - 1 - llen);
			char *nl;

			if (got <= 0)
				break;
			llen += (size_t)got;
			line[llen] = 0;
			while ((nl = strchr(line, '\n'))) {
				size_t used = (size_t)(nl - line) + 1;

				*nl = 0;
				r = command(c, m, line);
				if (r < 0) {
					printf("{\"error\": %d}\n", r);
					fflush(stdout);
				}
				memmove(line, line + used, llen - used + 1);
				llen -= used;
			}
		}
		for (size_t i = 0; i < n; i++) {
			unsigned ev = 0;

			if (!pfd[i + 1].revents)
				continue;
			if (pfd[i + 1].revents & POLLIN)
				ev |= K8S_IO_IN;
			if (pfd[i + 1].revents & POLLOUT)
				ev |= K8S_IO_OUT;
			if (pfd[i + 1].revents & (POLLERR | POLLHUP))
				ev |= K8S_IO_ERR;
			k8s_client_on_io(c, pfd[i + 1].fd, ev);
		}
		if (timer_at != UINT64_MAX && k8s_now_usec() >= timer_at)
			k8s_client_on_timer(c);
	}
	(void)reachable_changes;
	return 0;
}
