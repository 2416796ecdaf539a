/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Offline policy commands on cluster dumps: `npaudit matrix`, `npaudit expect` and
 * `npaudit explain`. They read `kubectl get namespaces,pods,networkpolicies -A -o json|yaml`
 * output and say what the NetworkPolicies allow, and why.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "cli.h"
#include "cli-util.h"
#include "policy/policy.h"

static void strbuf_donep(struct strbuf *sb)
{
	strbuf_done(sb);
}

typedef VEC(char *) str_vec;

static void str_vec_done(str_vec *v)
{
	VEC_DONE(v);
}

/* --- shared: input, ports, descriptions --- */

struct portspec {
	uint16_t port;
	uint8_t proto;
};

/* Parses PORT[/PROTO] (protocol case-insensitive, TCP by default). */
static int portspec_parse(const char *s, struct portspec *ret)
{
	char proto[8] = "TCP";
	const char *slash = strchr(s, '/');
	unsigned long v;
	char *end;
	int p;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || (*end && *end != '/') || v < 1 || v > 65535)
		return -EINVAL;
	if (slash) {
		size_t n = strlen(slash + 1);
		if (n == 0 || n >= sizeof(proto))
			return -EINVAL;
		for (size_t i = 0; i <= n; i++)
			proto[i] = (char)toupper((unsigned char)slash[1 + i]);
	}
	p = np_proto_from_name(proto);
	if (p < 0)
		return -EINVAL;
	ret->port = (uint16_t)v;
	ret->proto = (uint8_t)p;
	return 0;
}

static int portspec_cmp(const void *a, const void *b)
{
	const struct portspec *x = a, *y = b;

	if (x->port != y->port)
		return (int)x->port - (int)y->port;
	return policy_proto_index(x->proto) - policy_proto_index(y->proto);
}

/* Finds "NS/NAME" in m. */
static const struct model_pod *pod_lookup(const struct model *m, const char *id)
{
	const char *slash = strchr(id, '/');
	char ns[256];

	if (!slash || slash == id || (size_t)(slash - id) >= sizeof(ns))
		return NULL;
	memcpy(ns, id, slash - id);
	ns[slash - id] = 0;
	return model_pod_get(m, ns, slash + 1);
}

static const char *family_name(int family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

static const char *dir_name(enum np_dir d)
{
	return d == NP_INGRESS ? "ingress" : "egress";
}

/* "ns/name ingress rule 0 (from[1] namespaceSelector, ports[0] TCP 80)" */
static void term_describe(const struct policy_term *t, enum np_dir d, struct strbuf *sb)
{
	const char *peers = d == NP_INGRESS ? "from" : "to";

	strbuf_printf(sb, "%s/%s %s rule %u (", t->policy->ns, t->policy->name, dir_name(d),
		      t->rule);
	if (t->peer < 0)
		strbuf_printf(sb, "%s all %s", peers, d == NP_INGRESS ? "sources" : "destinations");
	else {
		const struct model_peer *p = &t->policy->rules[d][t->rule].peers[t->peer];

		strbuf_printf(sb, "%s[%d] ", peers, t->peer);
		if (p->ipblock)
			strbuf_printf(sb, "ipBlock %s%s", p->ipblock->cidr,
				      p->ipblock->n_except ? " with except" : "");
		else if (p->namespace_selector.present && p->pod_selector.present)
			strbuf_puts(sb, "namespaceSelector+podSelector");
		else if (p->namespace_selector.present)
			strbuf_puts(sb, "namespaceSelector");
		else
			strbuf_puts(sb, "podSelector");
	}
	if (t->port < 0)
		strbuf_puts(sb, ", all ports)");
	else if (t->port_name)
		strbuf_printf(sb, ", ports[%d] %s '%s' = %u)", t->port, np_proto_name(t->proto),
			      t->port_name, t->port_lo);
	else if (t->port_lo == 0 && t->port_hi == 65535)
		strbuf_printf(sb, ", ports[%d] all %s ports)", t->port, np_proto_name(t->proto));
	else if (t->port_lo == t->port_hi)
		strbuf_printf(sb, ", ports[%d] %s %u)", t->port, np_proto_name(t->proto),
			      t->port_lo);
	else
		strbuf_printf(sb, ", ports[%d] %s %u-%u)", t->port, np_proto_name(t->proto),
			      t->port_lo, t->port_hi);
}

static void policies_list(const struct policy_dir *d, struct strbuf *sb)
{
	for (size_t i = 0; i < d->n_policies; i++)
		strbuf_printf(sb, "%s%s/%s", i ? ", " : "", d->policies[i]->ns,
			      d->policies[i]->name);
}

/*
 * Appends one sentence per reason for one direction of a connection to `reasons`: the pod
 * whose policies decide (`self` — the source for egress, the destination for ingress) and the
 * peer address it sees.
 */
static int direction_reasons(const struct policy_expect *self, enum np_dir d, np_u128 peer,
			     uint8_t proto, uint16_t port, bool allowed, const char *prefix,
			     json_t *reasons)
{
	const struct policy_dir *dir = self->dir[d];
	_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
	char addr[64];

	if (self->exempt != POLICY_APPLIES) {
		strbuf_printf(&sb, "%s%s allowed: NetworkPolicy does not apply to %s/%s (%s)",
			      prefix, dir_name(d), self->pod->ns, self->pod->name,
			      policy_exempt_reason(self->exempt));
		return json_array_append_new(reasons, json_string(strbuf_str(&sb)));
	}
	if (!dir->isolated) {
		strbuf_printf(&sb,
			      "%s%s allowed: no NetworkPolicy in namespace %s selects %s/%s for %s",
			      prefix, dir_name(d), self->pod->ns, self->pod->ns, self->pod->name,
			      dir_name(d));
		return json_array_append_new(reasons, json_string(strbuf_str(&sb)));
	}
	if (allowed) {
		const struct policy_term **why = NULL;
		int n = policy_dir_why(dir, peer, proto, port, &why);

		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			strbuf_reset(&sb);
			strbuf_printf(&sb, "%s%s allowed by ", prefix, dir_name(d));
			term_describe(why[i], d, &sb);
			json_array_append_new(reasons, json_string(strbuf_str(&sb)));
		}
		free(why);
		if (np_iset_contains(&dir->local_node, peer)) {
			strbuf_reset(&sb);
			strbuf_printf(&sb,
				      "%s%s allowed: traffic from the pod's own node is always "
				      "allowed in",
				      prefix, dir_name(d));
			json_array_append_new(reasons, json_string(strbuf_str(&sb)));
		}
		return 0;
	}
	strbuf_printf(&sb, "%s%s denied: %s/%s is isolated for %s by ", prefix, dir_name(d),
		      self->pod->ns, self->pod->name, dir_name(d));
	policies_list(dir, &sb);
	strbuf_printf(&sb, " and no %s rule allows %s %s %s/%u", dir_name(d),
		      d == NP_INGRESS ? "from" : "to", np_addr_format(peer, addr, sizeof(addr)),
		      np_proto_name(proto), port);
	return json_array_append_new(reasons, json_string(strbuf_str(&sb)));
}

struct pair {
	bool allowed, egress, ingress;
	json_t *reasons; /* array of strings, or NULL when not wanted */
};

/* Evaluates src -> dst on (proto, port) in every address family both pods have: allowed only
 * if allowed in each. */
static int pair_eval(struct policy_engine *e, const struct model_pod *src,
		     const struct model_pod *dst, uint8_t proto, uint16_t port, bool want_reasons,
		     struct pair *ret)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct policy_verdict v[2];
	bool have[2] = { false, false };
	int n = 0, r;

	*ret = (struct pair){ .allowed = true, .egress = true, .ingress = true };
	for (int i = 0; i < 2; i++) {
		r = policy_engine_reach(e, src, dst, families[i], proto, port, &v[i]);
		if (r == -EADDRNOTAVAIL)
			continue;
		if (r < 0)
			return r;
		have[i] = true;
		n++;
		ret->allowed = ret->allowed && v[i].allowed;
		ret->egress = ret->egress && v[i].egress;
		ret->ingress = ret->ingress && v[i].ingress;
	}
	if (n == 0)
		ret->allowed = ret->egress = ret->ingress = false;
	if (!want_reasons)
		return 0;
	ret->reasons = json_array();
	if (!ret->reasons)
		return -ENOMEM;
	if (n == 0) {
		char buf[600];
		snprintf(buf, sizeof(buf), "%s/%s and %s/%s have no IP address family in common",
			 src->ns, src->name, dst->ns, dst->name);
		return json_array_append_new(ret->reasons, json_string(buf));
	}
	for (int i = 0; i < 2; i++) {
		char prefix[16] = "";

		if (!have[i])
			continue;
		if (n > 1)
			snprintf(prefix, sizeof(prefix), "%s: ", family_name(families[i]));
		if (v[i].self) {
			char buf[128];
			snprintf(buf, sizeof(buf),
				 "%sallowed: traffic from a pod to itself never leaves its network "
				 "namespace",
				 prefix);
			json_array_append_new(ret->reasons, json_string(buf));
			continue;
		}
		r = direction_reasons(v[i].from, NP_EGRESS, v[i].dst, proto, port, v[i].egress,
				      prefix, ret->reasons);
		if (r >= 0)
			r = direction_reasons(v[i].to, NP_INGRESS, v[i].src, proto, port,
					      v[i].ingress, prefix, ret->reasons);
		if (r < 0)
			return r;
	}
	return 0;
}

static int engine_new(const struct model *m, struct policy_engine **ret)
{
	if (policy_engine_new(m, ret) < 0) {
		cli_fail("out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* --- matrix --- */

static void matrix_usage(FILE *f)
{
	fprintf(f,
		"Usage: npaudit matrix --state FILE... [--port PORT[/PROTO]]... "
		"[--namespace NS]... [--json]\n\n"
		"Prints which pod may connect to which, per port and protocol, as the\n"
		"NetworkPolicies of the dump say (rows: from, columns: to; . allowed, X denied).\n"
		"Without --port, every port/protocol some pod declares.\n");
}

static bool ns_wanted(const str_vec *nss, const char *ns)
{
	if (nss->n == 0)
		return true;
	for (size_t i = 0; i < nss->n; i++)
		if (streq(nss->items[i], ns))
			return true;
	return false;
}

static int cmd_matrix(int argc, char **argv)
{
	static const struct option opts[] = { { "state", required_argument, NULL, 's' },
					      { "port", required_argument, NULL, 'p' },
					      { "namespace", required_argument, NULL, 'n' },
					      { "json", no_argument, NULL, 'j' },
					      { "help", no_argument, NULL, 'h' },
					      {} };
	_cleanup_(str_vec_done) str_vec files = { 0 }, nss = { 0 };
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(policy_engine_freep) struct policy_engine *e = NULL;
	_cleanup_(freep) struct portspec *ports = NULL;
	_cleanup_(freep) const struct model_pod **pods = NULL;
	_cleanup_(json_decrefp) json_t *results = NULL;
	const struct model_pod *const *all;
	size_t n_ports = 0, n_pods = 0, n_all;
	bool json = false, partial = false;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "s:p:n:jh", opts, NULL)) >= 0) {
		switch (c) {
		case 's':
			if (VEC_PUSH(&files, optarg) < 0)
				return cli_fail("out of memory");
			break;
		case 'p': {
			struct portspec *v = reallocarray(ports, n_ports + 1, sizeof(*v));
			if (!v)
				return cli_fail("out of memory");
			ports = v;
			if (portspec_parse(optarg, &ports[n_ports]) < 0)
				return cli_fail("--port '%s': expected PORT[/TCP|UDP|SCTP]",
						optarg);
			n_ports++;
			break;
		}
		case 'n':
			if (VEC_PUSH(&nss, optarg) < 0)
				return cli_fail("out of memory");
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			matrix_usage(stdout);
			return EXIT_OK;
		default:
			matrix_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_fail("unexpected argument '%s'", argv[optind]);
	r = cli_load_states(files.items, files.n, &m, &partial);
	if (r != EXIT_OK)
		return r;
	if (engine_new(m, &e) < 0)
		return EXIT_USAGE;

	/* Pods with an address, in namespace/name order. */
	n_all = model_pods(m, &all);
	pods = calloc(n_all ? n_all : 1, sizeof(*pods));
	if (!pods)
		return cli_fail("out of memory");
	for (size_t i = 0; i < n_all; i++)
		if (all[i]->n_ips > 0 && ns_wanted(&nss, all[i]->ns))
			pods[n_pods++] = all[i];

	if (n_ports == 0) {
		for (size_t i = 0; i < n_pods; i++)
			for (uint16_t k = 0; k < pods[i]->n_ports; k++) {
				struct portspec *v;
				if (policy_proto_index(pods[i]->ports[k].proto) < 0)
					continue;
				v = reallocarray(ports, n_ports + 1, sizeof(*v));
				if (!v)
					return cli_fail("out of memory");
				ports = v;
				ports[n_ports++] = (struct portspec){ pods[i]->ports[k].port,
								      pods[i]->ports[k].proto };
			}
	}
	np_qsort(ports, n_ports, sizeof(*ports), portspec_cmp);
	{
		size_t w = 0;
		for (size_t i = 0; i < n_ports; i++)
			if (w == 0 || portspec_cmp(&ports[w - 1], &ports[i]) != 0)
				ports[w++] = ports[i];
		n_ports = w;
	}

	if (json) {
		results = json_array();
		if (!results)
			return cli_fail("out of memory");
	}
	for (size_t k = 0; k < n_ports; k++) {
		const char *pname = np_proto_name(ports[k].proto);

		if (!json) {
			printf("%sReachability for %u/%s (rows: from, columns: to; . allowed, X "
			       "denied):\n\n-",
			       k ? "\n" : "", ports[k].port, pname);
			for (size_t j = 0; j < n_pods; j++)
				printf("\t%s/%s", pods[j]->ns, pods[j]->name);
			putchar('\n');
		}
		for (size_t i = 0; i < n_pods; i++) {
			if (!json)
				printf("%s/%s", pods[i]->ns, pods[i]->name);
			for (size_t j = 0; j < n_pods; j++) {
				struct pair pr;
				char from[512], to[512];

				r = pair_eval(e, pods[i], pods[j], ports[k].proto, ports[k].port,
					      json, &pr);
				if (r < 0) {
					json_decref(pr.reasons);
					return cli_fail("evaluating: %s", np_strerror(r));
				}
				if (!json) {
					printf("\t%c", pr.allowed ? '.' : 'X');
					continue;
				}
				snprintf(from, sizeof(from), "%s/%s", pods[i]->ns, pods[i]->name);
				snprintf(to, sizeof(to), "%s/%s", pods[j]->ns, pods[j]->name);
				if (json_array_append_new(
					    results,
					    json_pack("{s:s,s:s,s:i,s:s,s:b,s:b,s:b,s:o}", "from",
						      from, "to", to, "port", (int)ports[k].port,
						      "protocol", pname, "allowed", pr.allowed,
						      "egress", pr.egress, "ingress", pr.ingress,
						      "reasons", pr.reasons)) < 0)
					return cli_fail("out of memory");
			}
			if (!json)
				putchar('\n');
		}
	}
	if (json) {
		_cleanup_(json_decrefp) json_t *root = json_pack("{s:O}", "results", results);
		if (!root || json_dumpf(root, stdout, JSON_INDENT(1)) < 0)
			return cli_fail("out of memory");
		putchar('\n');
	}
	if (fflush(stdout) != 0)
		return cli_fail("writing output: %m");
	return partial ? EXIT_USAGE : EXIT_OK;
}

/* --- expect --- */

static void expect_usage(FILE *f)
{
	fprintf(f,
		"Usage: npaudit expect --state FILE... (--node NODE | --pod NS/NAME) [--json]\n\n"
		"Prints the compiled expected behaviour of the pods: isolation per direction\n"
		"and the allowed traffic, each piece with the policy and rule that allow it.\n");
}

/* Returns whether term t contributes to segment s of protocol proto. */
static bool term_in_seg(const struct policy_term *t, uint8_t proto, const struct policy_seg *s)
{
	if (t->proto != proto || t->port_hi < s->lo || t->port_lo > s->hi)
		return false;
	for (size_t i = 0; i < t->addrs->n; i++)
		if (np_iset_intersects_range(&s->addrs, t->addrs->r[i].lo, t->addrs->r[i].hi))
			return true;
	return false;
}

static json_t *dir_json(const struct policy_expect *x, enum np_dir d)
{
	const struct policy_dir *dir = x->dir[d];
	json_t *o = json_object(), *pols = json_array(), *allowed = json_array();

	if (!o || !pols || !allowed) {
		json_decref(o);
		json_decref(pols);
		json_decref(allowed);
		return NULL;
	}
	json_object_set_new(o, "isolated", json_boolean(dir->isolated));
	for (size_t i = 0; i < dir->n_policies; i++) {
		char buf[600];
		snprintf(buf, sizeof(buf), "%s/%s", dir->policies[i]->ns, dir->policies[i]->name);
		json_array_append_new(pols, json_string(buf));
	}
	json_object_set_new(o, "policies", pols);
	for (int p = 0; p < _POLICY_PROTO_MAX; p++) {
		uint8_t proto = policy_proto_numbers[p];

		for (size_t i = 0; i < dir->n_segs[p]; i++) {
			const struct policy_seg *s = &dir->segs[p][i];
			_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
			json_t *peers = json_array(), *prov = json_array();
			char *tok, *save = NULL;

			policy_addrs_format(&s->addrs, &sb);
			for (tok = strtok_r(sb.s, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save))
				json_array_append_new(peers, json_string(tok));
			for (size_t t = 0; t < dir->n_terms; t++) {
				const struct policy_term *pt = &dir->terms[t];
				char pol[600];

				if (!term_in_seg(pt, proto, s))
					continue;
				snprintf(pol, sizeof(pol), "%s/%s", pt->policy->ns,
					 pt->policy->name);
				json_array_append_new(
					prov,
					json_pack("{s:s,s:i,s:i,s:i,s:s?}", "policy", pol, "rule",
						  (int)pt->rule, "peer", (int)pt->peer, "port",
						  (int)pt->port, "port_name", pt->port_name));
			}
			json_array_append_new(allowed,
					      json_pack("{s:s,s:i,s:i,s:o,s:o}", "protocol",
							np_proto_name(proto), "port_min",
							(int)s->lo, "port_max", (int)s->hi, "peers",
							peers, "provenance", prov));
		}
	}
	json_object_set_new(o, "allowed", allowed);
	if (dir->local_node.n > 0) {
		_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
		json_t *ln = json_array();
		char *tok, *save = NULL;

		policy_addrs_format(&dir->local_node, &sb);
		for (tok = strtok_r(sb.s, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			json_array_append_new(ln, json_string(tok));
		json_object_set_new(o, "local_node", ln);
	}
	return o;
}

static void dir_print(const struct policy_expect *x, enum np_dir d)
{
	const struct policy_dir *dir = x->dir[d];
	_cleanup_(strbuf_donep) struct strbuf sb = { 0 };

	if (x->exempt != POLICY_APPLIES) {
		printf("  %s: not isolated, NetworkPolicy does not apply (%s)\n", dir_name(d),
		       policy_exempt_reason(x->exempt));
		return;
	}
	if (!dir->isolated) {
		printf("  %s: not isolated (no policy selects it for %s): all traffic allowed\n",
		       dir_name(d), dir_name(d));
		return;
	}
	policies_list(dir, &sb);
	printf("  %s: isolated by %s\n", dir_name(d), strbuf_str(&sb));
	if (dir->n_segs[0] + dir->n_segs[1] + dir->n_segs[2] == 0)
		printf("    nothing allowed\n");
	for (int p = 0; p < _POLICY_PROTO_MAX; p++) {
		uint8_t proto = policy_proto_numbers[p];

		for (size_t i = 0; i < dir->n_segs[p]; i++) {
			const struct policy_seg *s = &dir->segs[p][i];

			strbuf_reset(&sb);
			policy_addrs_format(&s->addrs, &sb);
			if (s->lo == 0 && s->hi == 65535)
				printf("    %s all ports %s %s\n", np_proto_name(proto),
				       d == NP_INGRESS ? "from" : "to", strbuf_str(&sb));
			else if (s->lo == s->hi)
				printf("    %s %u %s %s\n", np_proto_name(proto), s->lo,
				       d == NP_INGRESS ? "from" : "to", strbuf_str(&sb));
			else
				printf("    %s %u-%u %s %s\n", np_proto_name(proto), s->lo, s->hi,
				       d == NP_INGRESS ? "from" : "to", strbuf_str(&sb));
			for (size_t t = 0; t < dir->n_terms; t++) {
				if (!term_in_seg(&dir->terms[t], proto, s))
					continue;
				strbuf_reset(&sb);
				term_describe(&dir->terms[t], d, &sb);
				printf("      <- %s\n", strbuf_str(&sb));
			}
			for (size_t k = 0; k < dir->local_node.n; k++)
				if (np_iset_intersects_range(&s->addrs, dir->local_node.r[k].lo,
							     dir->local_node.r[k].hi)) {
					printf("      <- the pod's own node (always allowed in)\n");
					break;
				}
		}
	}
}

static json_t *pod_ips_json(const struct model_pod *p)
{
	json_t *a = json_array();
	char buf[64];

	for (uint8_t i = 0; a && i < p->n_ips; i++)
		json_array_append_new(a, json_string(np_addr_format(p->ips[i], buf, sizeof(buf))));
	return a;
}

static int cmd_expect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' }, { "node", required_argument, NULL, 'N' },
		{ "pod", required_argument, NULL, 'P' },   { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },	   {}
	};
	_cleanup_(str_vec_done) str_vec files = { 0 };
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(policy_engine_freep) struct policy_engine *e = NULL;
	_cleanup_(freep) const struct policy_expect **xs = NULL;
	_cleanup_(json_decrefp) json_t *arr = NULL;
	const char *node = NULL, *podid = NULL;
	bool json = false, partial = false;
	size_t n = 0;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "s:N:P:jh", opts, NULL)) >= 0) {
		switch (c) {
		case 's':
			if (VEC_PUSH(&files, optarg) < 0)
				return cli_fail("out of memory");
			break;
		case 'N':
			node = optarg;
			break;
		case 'P':
			podid = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			expect_usage(stdout);
			return EXIT_OK;
		default:
			expect_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_fail("unexpected argument '%s'", argv[optind]);
	if (!!node == !!podid)
		return cli_fail("give exactly one of --node NODE or --pod NS/NAME");
	r = cli_load_states(files.items, files.n, &m, &partial);
	if (r != EXIT_OK)
		return r;
	if (engine_new(m, &e) < 0)
		return EXIT_USAGE;

	if (podid) {
		const struct model_pod *p = pod_lookup(m, podid);
		if (!p)
			return cli_fail("no pod '%s' in the dump (expected NS/NAME)", podid);
		xs = calloc(1, sizeof(*xs));
		if (!xs)
			return cli_fail("out of memory");
		r = policy_engine_expect(e, p, &xs[0]);
		n = 1;
	} else {
		const struct model_pod *const *pods;
		size_t np = model_pods_on_node(m, node, &pods);

		xs = calloc(np ? np : 1, sizeof(*xs));
		if (!xs)
			return cli_fail("out of memory");
		r = policy_engine_expect_node(e, node, xs, np);
		if (r >= 0) {
			n = (size_t)r;
			if (n == 0)
				fprintf(stderr,
					"npaudit: no pod in the dump is scheduled on node '%s'\n",
					node);
		}
	}
	if (r < 0)
		return cli_fail("compiling: %s", np_strerror(r));

	if (json && !(arr = json_array()))
		return cli_fail("out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct policy_expect *x = xs[i];
		const struct model_pod *p = x->pod;
		char id[600];

		snprintf(id, sizeof(id), "%s/%s", p->ns, p->name);
		if (json) {
			json_t *o = json_pack("{s:s,s:s?,s:o,s:b,s:s?,s:o,s:o}", "pod", id, "node",
					      p->node, "ips", pod_ips_json(p), "policy_applies",
					      x->exempt == POLICY_APPLIES, "exempt",
					      x->exempt == POLICY_APPLIES
						      ? NULL
						      : policy_exempt_reason(x->exempt),
					      "ingress", dir_json(x, NP_INGRESS), "egress",
					      dir_json(x, NP_EGRESS));
			if (!o || json_array_append_new(arr, o) < 0)
				return cli_fail("out of memory");
			continue;
		}
		printf("%s%s", i ? "\n" : "", id);
		for (uint8_t k = 0; k < p->n_ips; k++) {
			char buf[64];
			printf("%s%s", k ? ", " : "  ",
			       np_addr_format(p->ips[k], buf, sizeof(buf)));
		}
		printf("%s%s\n", p->node ? "  node " : "", p->node ?: "");
		dir_print(x, NP_INGRESS);
		dir_print(x, NP_EGRESS);
	}
	if (json) {
		_cleanup_(json_decrefp) json_t *root = json_pack("{s:O}", "pods", arr);
		if (!root || json_dumpf(root, stdout, JSON_INDENT(1)) < 0)
			return cli_fail("out of memory");
		putchar('\n');
	}
	if (fflush(stdout) != 0)
		return cli_fail("writing output: %m");
	return partial ? EXIT_USAGE : EXIT_OK;
}

/* --- explain --- */

static void explain_usage(FILE *f)
{
	fprintf(f, "Usage: npaudit explain --state FILE... --from NS/POD --to NS/POD "
		   "--port PORT[/PROTO]\n\n"
		   "Says whether the connection is allowed, which policies and rules decide each\n"
		   "direction, and what to change.\n");
}

/* Prints the rules of an isolated direction that come close: right peer on other ports, or
 * right port for other peers. */
static void explain_near_misses(const struct policy_dir *dir, enum np_dir d, np_u128 peer,
				uint8_t proto, uint16_t port)
{
	_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
	bool any = false;

	for (size_t t = 0; t < dir->n_terms; t++) {
		const struct policy_term *pt = &dir->terms[t];
		bool addr_ok = np_iset_contains(pt->addrs, peer);
		bool port_ok = pt->proto == proto && port >= pt->port_lo && port <= pt->port_hi;

		if (addr_ok == port_ok)
			continue;
		if (!any)
			printf("    Rules that allow part of it:\n");
		any = true;
		strbuf_reset(&sb);
		term_describe(pt, d, &sb);
		if (addr_ok)
			printf("      %s allows this peer, but not %s/%u\n", strbuf_str(&sb),
			       np_proto_name(proto), port);
		else {
			printf("      %s allows %s/%u, but only %s ", strbuf_str(&sb),
			       np_proto_name(proto), port, d == NP_INGRESS ? "from" : "to");
			strbuf_reset(&sb);
			policy_addrs_format(pt->addrs, &sb);
			printf("%s\n", strbuf_str(&sb));
		}
	}
	if (!any)
		printf("    No rule of these policies allows this peer or this port.\n");
}

/* Appends the pod's labels as a flow mapping, leaving out the per-rollout hashes that
 * controllers add (a selector on them breaks with the next rollout). */
static void labels_yaml(const struct model_labels *l, struct strbuf *sb)
{
	bool first = true;

	strbuf_puts(sb, "{");
	for (uint32_t i = 0; i < l->n; i++) {
		if (streq(l->v[i].key, "pod-template-hash") ||
		    streq(l->v[i].key, "controller-revision-hash") ||
		    streq(l->v[i].key, "statefulset.kubernetes.io/pod-name"))
			continue;
		strbuf_printf(sb, "%s%s: \"%s\"", first ? "" : ", ", l->v[i].key, l->v[i].value);
		first = false;
	}
	strbuf_puts(sb, "}");
}

static void explain_direction(const struct policy_verdict *v, enum np_dir d, uint8_t proto,
			      uint16_t port)
{
	const struct policy_expect *self = d == NP_EGRESS ? v->from : v->to;
	const struct model_pod *other = d == NP_EGRESS ? v->to->pod : v->from->pod;
	const struct policy_dir *dir = self->dir[d];
	np_u128 peer = d == NP_EGRESS ? v->dst : v->src;
	bool ok = d == NP_EGRESS ? v->egress : v->ingress;
	_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
	char addr[64];

	printf("  %s of %s/%s: %s\n", dir_name(d), self->pod->ns, self->pod->name,
	       ok ? "allowed" : "DENIED");
	if (self->exempt != POLICY_APPLIES) {
		printf("    NetworkPolicy does not apply to this pod (%s).\n",
		       policy_exempt_reason(self->exempt));
		return;
	}
	if (!dir->isolated) {
		printf("    No NetworkPolicy in namespace %s selects it for %s, so all %s traffic "
		       "is "
		       "allowed.\n",
		       self->pod->ns, dir_name(d), dir_name(d));
		return;
	}
	policies_list(dir, &sb);
	printf("    Isolated for %s by %s.\n", dir_name(d), strbuf_str(&sb));
	if (ok) {
		const struct policy_term **why = NULL;
		int n = policy_dir_why(dir, peer, proto, port, &why);

		for (int i = 0; i < n; i++) {
			strbuf_reset(&sb);
			term_describe(why[i], d, &sb);
			printf("    Allowed by %s.\n", strbuf_str(&sb));
		}
		free(why);
		if (np_iset_contains(&dir->local_node, peer))
			printf("    Allowed because it comes from the pod's own node: the API "
			       "reference "
			       "lets a pod's local node in whatever the policies say.\n");
		return;
	}
	printf("    None of their %s rules allows %s %s on %s/%u.\n", dir_name(d),
	       d == NP_INGRESS ? "from" : "to", np_addr_format(peer, addr, sizeof(addr)),
	       np_proto_name(proto), port);
	explain_near_misses(dir, d, peer, proto, port);
	strbuf_reset(&sb);
	if (policy_pod_exempt(other) != POLICY_APPLIES) {
		/* Selectors never pick such a pod: only its address can be allowed. */
		printf("    %s/%s cannot be selected by podSelector/namespaceSelector (%s); to "
		       "allow "
		       "it, add to a policy in namespace %s that selects %s/%s an %s rule like:\n"
		       "      - %s: [{ipBlock: {cidr: %s/%u}}]\n"
		       "        ports: [{protocol: %s, port: %u}]\n",
		       other->ns, other->name, policy_exempt_reason(policy_pod_exempt(other)),
		       self->pod->ns, self->pod->ns, self->pod->name, dir_name(d),
		       d == NP_INGRESS ? "from" : "to", np_addr_format(peer, addr, sizeof(addr)),
		       np_addr_family(peer) == AF_INET ? 32 : 128, np_proto_name(proto), port);
		return;
	}
	labels_yaml(&other->labels, &sb);
	printf("    To allow it, add to a policy in namespace %s that selects %s/%s an %s rule "
	       "like:\n"
	       "      - %s: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "
	       "\"%s\"}}, podSelector: {matchLabels: %s}}]\n"
	       "        ports: [{protocol: %s, port: %u}]\n",
	       self->pod->ns, self->pod->ns, self->pod->name, dir_name(d),
	       d == NP_INGRESS ? "from" : "to", other->ns, strbuf_str(&sb), np_proto_name(proto),
	       port);
}

static int cmd_explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' }, { "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },	   { "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },	   {}
	};
	static const int families[] = { AF_INET, AF_INET6 };
	_cleanup_(str_vec_done) str_vec files = { 0 };
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(policy_engine_freep) struct policy_engine *e = NULL;
	const char *from_id = NULL, *to_id = NULL;
	const struct model_pod *src, *dst;
	struct portspec ps = { 0 };
	bool partial = false, have_port = false, any = false, allowed = true;
	struct policy_verdict v[2];
	bool have[2] = { false, false };
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "s:f:t:p:h", opts, NULL)) >= 0) {
		switch (c) {
		case 's':
			if (VEC_PUSH(&files, optarg) < 0)
				return cli_fail("out of memory");
			break;
		case 'f':
			from_id = optarg;
			break;
		case 't':
			to_id = optarg;
			break;
		case 'p':
			if (portspec_parse(optarg, &ps) < 0)
				return cli_fail("--port '%s': expected PORT[/TCP|UDP|SCTP]",
						optarg);
			have_port = true;
			break;
		case 'h':
			explain_usage(stdout);
			return EXIT_OK;
		default:
			explain_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_fail("unexpected argument '%s'", argv[optind]);
	if (!from_id || !to_id || !have_port)
		return cli_fail("--from NS/POD, --to NS/POD and --port PORT[/PROTO] are required");
	r = cli_load_states(files.items, files.n, &m, &partial);
	if (r != EXIT_OK)
		return r;
	src = pod_lookup(m, from_id);
	if (!src)
		return cli_fail("no pod '%s' in the dump (expected NS/NAME)", from_id);
	dst = pod_lookup(m, to_id);
	if (!dst)
		return cli_fail("no pod '%s' in the dump (expected NS/NAME)", to_id);
	if (engine_new(m, &e) < 0)
		return EXIT_USAGE;

	for (int i = 0; i < 2; i++) {
		r = policy_engine_reach(e, src, dst, families[i], ps.proto, ps.port, &v[i]);
		if (r == -EADDRNOTAVAIL)
			continue;
		if (r < 0)
			return cli_fail("evaluating: %s", np_strerror(r));
		have[i] = any = true;
		allowed = allowed && v[i].allowed;
	}
	if (!any) {
		printf("%s -> %s %s/%u: DENIED\n", from_id, to_id, np_proto_name(ps.proto),
		       ps.port);
		if (src->n_ips == 0 || dst->n_ips == 0)
			printf("  %s has no IP address yet.\n", src->n_ips == 0 ? from_id : to_id);
		else
			printf("  The pods have no IP address family in common.\n");
		return partial ? EXIT_USAGE : EXIT_OK;
	}
	printf("%s -> %s %s/%u: %s\n", from_id, to_id, np_proto_name(ps.proto), ps.port,
	       allowed ? "ALLOWED" : "DENIED");
	for (int i = 0; i < 2; i++) {
		char a[64], b[64];

		if (!have[i])
			continue;
		printf("\n%s %s -> %s: %s\n", family_name(families[i]),
		       np_addr_format(v[i].src, a, sizeof(a)),
		       np_addr_format(v[i].dst, b, sizeof(b)), v[i].allowed ? "allowed" : "DENIED");
		if (v[i].self) {
			printf("  A pod's traffic to its own address never leaves its network "
			       "namespace: always allowed.\n");
			continue;
		}
		explain_direction(&v[i], NP_EGRESS, ps.proto, ps.port);
		explain_direction(&v[i], NP_INGRESS, ps.proto, ps.port);
	}
	if (fflush(stdout) != 0)
		return cli_fail("writing output: %m");
	return partial ? EXIT_USAGE : EXIT_OK;
}

const struct cli_command cli_policy_commands[] = {
	{ "matrix", cmd_matrix,
	  "--state FILE... [--port PORT[/PROTO]]... [--namespace NS]... [--json]",
	  "which pod may connect to which, per port, from a cluster dump" },
	{ "expect", cmd_expect, "--state FILE... (--node NODE | --pod NS/NAME) [--json]",
	  "the compiled expected behaviour of pods, with policy/rule provenance" },
	{ "explain", cmd_explain, "--state FILE... --from NS/POD --to NS/POD --port PORT[/PROTO]",
	  "why a connection is allowed or denied, and what to change" },
	{},
};
