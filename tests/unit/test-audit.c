/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The audit on rulesets built in memory: faithful rules give no finding, each kind of drift
 * gives exactly the finding it should. (The netns suite checks the same against the kernel.)
 */
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "audit/audit.h"

static np_u128 ip(const char *s)
{
	np_u128 v;

	ck_assert_int_gt(np_addr_parse(s, &v), 0);
	return v;
}

struct fixture {
	struct model *m;
	struct policy_engine *e;
	struct ir_ruleset *rs;
	struct ir_chain *fwd;
	struct fw_rtable *rt;
	struct eval_ctx *ctx;
	struct audit_report *rep;
};

static void route(struct fw_rtable *t, const char *cidr, int oif, const char *dev,
		  enum fw_route_type type)
{
	struct fw_route r = { .type = type,
			      .table = type == FW_ROUTE_LOCAL ? 255 : 254,
			      .oif = oif };

	r.family = np_cidr_parse(cidr, &r.lo, &r.hi);
	ck_assert_int_gt(r.family, 0);
	r.prefix = strchr(cidr, '/') ? (unsigned)atoi(strchr(cidr, '/') + 1)
				     : (r.family == AF_INET ? 32 : 128);
	snprintf(r.oifname, sizeof(r.oifname), "%s", dev);
	ck_assert_int_eq(fw_rtable_add(t, &r), 0);
}

static void setup(struct fixture *f, const char *dump)
{
	struct np_error err = { 0 };
	struct ir_table *t;
	struct ir_chain *c;

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(model_new(&f->m), 0);
	ck_assert_int_eq(model_load_file(f->m, dump, &err), 0);
	ck_assert_int_eq(policy_engine_new(f->m, &f->e), 0);
	ck_assert_int_eq(ir_ruleset_new(&f->rs), 0);
	ck_assert_int_eq(ir_ruleset_new_table(f->rs, IR_SRC_NFT, IR_FAMILY_INET, "cni", &t), 0);
	ck_assert_int_eq(ir_chain_new_base("forward", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0,
					   IR_VERDICT_ACCEPT, &c),
			 0);
	ck_assert_int_eq(ir_table_add_chain(t, &c), 0);
	f->fwd = ir_table_find_chain(t, "forward");
	ck_assert_ptr_nonnull(f->fwd);
	ck_assert_int_eq(fw_rtable_new(&f->rt), 0);
	route(f->rt, "10.0.1.10/32", 3, "veth-client", FW_ROUTE_UNICAST);
	route(f->rt, "10.0.1.11/32", 4, "veth-web", FW_ROUTE_UNICAST);
	route(f->rt, "0.0.0.0/0", 2, "eth0", FW_ROUTE_UNICAST);
	route(f->rt, "10.0.0.1/32", 2, "eth0", FW_ROUTE_LOCAL);
	ck_assert_int_eq(fw_rtable_add_link(f->rt, 2, "eth0"), 0);
	ck_assert_int_eq(fw_rtable_add_link(f->rt, 3, "veth-client"), 0);
	ck_assert_int_eq(fw_rtable_add_link(f->rt, 4, "veth-web"), 0);
}

static void teardown(struct fixture *f)
{
	audit_report_free(f->rep);
	eval_ctx_free(f->ctx);
	ir_ruleset_free(f->rs);
	fw_rtable_free(f->rt);
	policy_engine_free(f->e);
	model_free(f->m);
}

/* Appends: [oifname OIF] [ip saddr SRC] [tcp dport PORT] [ct state established,related] VERDICT */
static void rule(struct fixture *f, const char *oif, const char *src, int dport, bool est,
		 enum ir_verdict_kind v)
{
	struct ir_rule *r;

	ck_assert_int_eq(ir_rule_new(&r), 0);
	if (est)
		ck_assert_int_eq(ir_rule_add_bits(r, IR_FIELD_CT_STATE,
						  IR_CT_ESTABLISHED | IR_CT_RELATED, false),
				 0);
	if (oif)
		ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_OIFNAME, false, oif), 0);
	if (src) {
		np_u128 lo, hi;
		ck_assert_int_gt(np_cidr_parse(src, &lo, &hi), 0);
		ck_assert_int_eq(ir_rule_add_match_range(r, IR_FIELD_SADDR, false, lo, hi), 0);
	}
	if (dport >= 0) {
		ck_assert_int_eq(ir_rule_add_match_range(r, IR_FIELD_L4PROTO, false, IPPROTO_TCP,
							 IPPROTO_TCP),
				 0);
		ck_assert_int_eq(ir_rule_add_match_range(r, IR_FIELD_DPORT, false, dport, dport),
				 0);
	}
	if (v == IR_VERDICT_QUEUE)
		ck_assert_int_eq(ir_rule_set_queue(r, 100, 100, false, false), 0);
	else
		ck_assert_int_eq(ir_rule_set_verdict(r, v, NULL), 0);
	ck_assert_int_eq(ir_chain_append(f->fwd, &r), 0);
}

static void run(struct fixture *f)
{
	struct audit_env env = { .model = f->m, .engine = f->e, .node = "node-1", .routes = f->rt };

	ck_assert_int_eq(eval_prepare(f->rs, &f->ctx), 0);
	env.eval = f->ctx;
	ck_assert_int_eq(audit_run(&env, NULL, &f->rep), 0);
}

static void faithful(struct fixture *f, int allowed_port)
{
	rule(f, NULL, NULL, -1, true, IR_VERDICT_ACCEPT);
	rule(f, "veth-web", "10.0.1.10/32", allowed_port, false, IR_VERDICT_ACCEPT);
	rule(f, "veth-web", NULL, -1, false, IR_VERDICT_DROP);
}

static const struct audit_finding *find(const struct fixture *f, enum audit_kind k, const char *pod,
					const char *peer_pod)
{
	for (size_t i = 0; i < f->rep->findings.n; i++) {
		const struct audit_finding *x = f->rep->findings.items[i];
		if (x->kind == k && streq(x->pod, pod) &&
		    ((!peer_pod && !x->peer_pod) ||
		     (peer_pod && x->peer_pod && streq(peer_pod, x->peer_pod))))
			return x;
	}
	return NULL;
}

static void dump_findings(const struct fixture *f)
{
	struct strbuf sb = { 0 };

	audit_report_text(f->rep, &sb);
	fprintf(stderr, "%s\n", strbuf_str(&sb));
	strbuf_done(&sb);
}

/* A per-pod layout: forward dispatches by output interface to one chain per pod; web's chain
 * allows web_port from the client. */
static struct ir_ruleset *per_pod_ruleset(int web_port)
{
	struct ir_ruleset *rs;
	struct ir_table *t;
	struct ir_chain *fwd, *web, *client;
	struct ir_rule *r;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	ck_assert_int_eq(ir_ruleset_new_table(rs, IR_SRC_NFT, IR_FAMILY_INET, "cni", &t), 0);
	ck_assert_int_eq(ir_table_new_chain(t, "forward", &fwd), 0);
	ck_assert_int_eq(ir_chain_set_base(fwd, IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0,
					   IR_VERDICT_ACCEPT, NULL),
			 0);
	ck_assert_int_eq(ir_table_new_chain(t, "to-web", &web), 0);
	ck_assert_int_eq(ir_table_new_chain(t, "to-client", &client), 0);
	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_OIFNAME, false, "veth-web"), 0);
	ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_JUMP, "to-web"), 0);
	ck_assert_int_eq(ir_chain_append(fwd, &r), 0);
	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_OIFNAME, false, "veth-client"), 0);
	ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_JUMP, "to-client"), 0);
	ck_assert_int_eq(ir_chain_append(fwd, &r), 0);
	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(
		ir_rule_add_match_range(r, IR_FIELD_SADDR, false, ip("10.0.1.10"), ip("10.0.1.10")),
		0);
	ck_assert_int_eq(
		ir_rule_add_match_range(r, IR_FIELD_L4PROTO, false, IPPROTO_TCP, IPPROTO_TCP), 0);
	ck_assert_int_eq(ir_rule_add_match_range(r, IR_FIELD_DPORT, false, web_port, web_port), 0);
	ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_ACCEPT, NULL), 0);
	ck_assert_int_eq(ir_chain_append(web, &r), 0);
	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_DROP, NULL), 0);
	ck_assert_int_eq(ir_chain_append(web, &r), 0);
	/* a drift that stays: the client (not isolated) dropping a remote pod */
	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(
		ir_rule_add_match_range(r, IR_FIELD_SADDR, false, ip("10.0.2.10"), ip("10.0.2.10")),
		0);
	ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_DROP, NULL), 0);
	ck_assert_int_eq(ir_chain_append(client, &r), 0);
	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_RETURN, NULL), 0);
	ck_assert_int_eq(ir_chain_append(client, &r), 0);
	return rs;
}

static char *findings_json(const struct audit_report *rep)
{
	struct strbuf sb = { 0 };
	char *s;

	for (size_t i = 0; i < rep->findings.n; i++)
		ck_assert_int_eq(audit_finding_json(rep->findings.items[i], &sb), 0);
	s = strdup(strbuf_str(&sb) ? strbuf_str(&sb) : "");
	strbuf_done(&sb);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* An audit after a ruleset change re-runs only the checks of the pods the change touches and
 * reports exactly what a full audit reports. */
/* Appends to c: <field> in {10.0.1.(10 + first), every third up to the 24 pods} tcp dport 5432
 * return. */
static void return_5432(struct ir_chain *c, enum ir_field field, int first)
{
	struct np_iset v = { 0 };
	struct ir_rule *r;

	for (int k = first; k < 24; k += 3)
		ck_assert_int_eq(np_iset_add(&v, ip("10.0.1.10") + k, ip("10.0.1.10") + k), 0);
	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(ir_rule_add_match(r, field, false, &v), 0);
	np_iset_done(&v);
	ck_assert_int_eq(
		ir_rule_add_match_range(r, IR_FIELD_L4PROTO, false, IPPROTO_TCP, IPPROTO_TCP), 0);
	ck_assert_int_eq(ir_rule_add_match_range(r, IR_FIELD_DPORT, false, 5432, 5432), 0);
	ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_RETURN, NULL), 0);
	ck_assert_int_eq(ir_chain_append(c, &r), 0);
}

/* 24 pods on the node in three apps: "db" pods take TCP 5432 from "api" pods only, "api" pods
 * are isolated for egress and may reach db and DNS; "web" is open. The rules: a per-pod
 * dispatch where db-3 and db-5 lost their chains' allow rule, api-2's egress is open, and web-4
 * drops everything. */
static void many_pods(struct fixture *f)
{
	struct strbuf y = { 0 };
	struct np_error err = { 0 };
	static const char *const apps[] = { "db", "api", "web" };
	struct ir_table *t;
	struct ir_chain *fwd;
	struct ir_rule *r;

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(model_new(&f->m), 0);
	ck_assert_int_eq(fw_rtable_new(&f->rt), 0);
	ck_assert_int_eq(ir_ruleset_new(&f->rs), 0);
	ck_assert_int_eq(ir_ruleset_new_table(f->rs, IR_SRC_NFT, IR_FAMILY_INET, "cni", &t), 0);
	ck_assert_int_eq(ir_table_new_chain(t, "forward", &fwd), 0);
	ck_assert_int_eq(ir_chain_set_base(fwd, IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0,
					   IR_VERDICT_ACCEPT, NULL),
			 0);
	for (int i = 0; i < 24; i++) {
		const char *app = apps[i % 3];
		char ip4[32], cidr[40], veth[16], name[16], chain[32];
		struct ir_chain *c;

		snprintf(name, sizeof(name), "%s-%d", app, i / 3);
		snprintf(ip4, sizeof(ip4), "10.0.1.%d", 10 + i);
		snprintf(cidr, sizeof(cidr), "%s/32", ip4);
		snprintf(veth, sizeof(veth), "veth%d", i);
		strbuf_printf(
			&y,
			"apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default, "
			"labels: {app: %s}}\nspec: {nodeName: node-1, containers: [{name: c}]}\n"
			"status: {phase: Running, podIP: %s}\n---\n",
			name, app, ip4);
		route(f->rt, cidr, 10 + i, veth, FW_ROUTE_UNICAST);
		ck_assert_int_eq(fw_rtable_add_link(f->rt, 10 + i, veth), 0);

		/* forward: oifname veth jump to-<veth>; iifname veth jump from-<veth> */
		snprintf(chain, sizeof(chain), "to-%s", veth);
		ck_assert_int_eq(ir_table_new_chain(t, chain, &c), 0);
		ck_assert_int_eq(ir_rule_new(&r), 0);
		ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_OIFNAME, false, veth), 0);
		ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_JUMP, chain), 0);
		ck_assert_int_eq(ir_chain_append(fwd, &r), 0);
		if (i % 3 == 0 && i / 3 != 3 && i / 3 != 5) { /* db: 5432 from the api pods */
			return_5432(c, IR_FIELD_SADDR, 1);
		}
		if (i % 3 == 0 || (i % 3 == 2 && i / 3 == 4)) { /* db's default deny; web-4 */
			ck_assert_int_eq(ir_rule_new(&r), 0);
			ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_DROP, NULL), 0);
			ck_assert_int_eq(ir_chain_append(c, &r), 0);
		}
		snprintf(chain, sizeof(chain), "from-%s", veth);
		ck_assert_int_eq(ir_table_new_chain(t, chain, &c), 0);
		ck_assert_int_eq(ir_rule_new(&r), 0);
		ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_IIFNAME, false, veth), 0);
		ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_JUMP, chain), 0);
		ck_assert_int_eq(ir_chain_append(fwd, &r), 0);
		if (i % 3 == 1 && i / 3 != 2) { /* api: to the db pods' 5432 and UDP 53 */
			return_5432(c, IR_FIELD_DADDR, 0);
			ck_assert_int_eq(ir_rule_new(&r), 0);
			ck_assert_int_eq(ir_rule_add_match_range(r, IR_FIELD_L4PROTO, false,
								 IPPROTO_UDP, IPPROTO_UDP),
					 0);
			ck_assert_int_eq(ir_rule_add_match_range(r, IR_FIELD_DPORT, false, 53, 53),
					 0);
			ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_RETURN, NULL), 0);
			ck_assert_int_eq(ir_chain_append(c, &r), 0);
			ck_assert_int_eq(ir_rule_new(&r), 0);
			ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_DROP, NULL), 0);
			ck_assert_int_eq(ir_chain_append(c, &r), 0);
		}
	}
	strbuf_puts(&y, "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			"metadata: {name: db, namespace: default}\n"
			"spec:\n  podSelector: {matchLabels: {app: db}}\n  ingress:\n"
			"  - from: [{podSelector: {matchLabels: {app: api}}}]\n"
			"    ports: [{port: 5432}]\n---\n"
			"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
			"metadata: {name: api, namespace: default}\n"
			"spec:\n  podSelector: {matchLabels: {app: api}}\n  policyTypes: [Egress]\n"
			"  egress:\n  - to: [{podSelector: {matchLabels: {app: db}}}]\n"
			"    ports: [{port: 5432}]\n  - ports: [{port: 53, protocol: UDP}]\n");
	ck_assert_int_eq(model_load_buffer(f->m, strbuf_str(&y), y.len, "many-pods", &err), 0);
	strbuf_done(&y);
	ck_assert_int_eq(policy_engine_new(f->m, &f->e), 0);
	route(f->rt, "0.0.0.0/0", 2, "eth0", FW_ROUTE_UNICAST);
	route(f->rt, "10.0.0.1/32", 2, "eth0", FW_ROUTE_LOCAL);
	ck_assert_int_eq(fw_rtable_add_link(f->rt, 2, "eth0"), 0);
	ck_assert_int_eq(eval_prepare(f->rs, &f->ctx), 0);
}

/* The checks on several threads give the report of one thread: the same findings in the same
 * order, the same counters; an incremental audit on several threads as well. And the same
 * with every class walked in full (no shared walks). */
START_TEST(threads_give_the_same_report)
{
	struct fixture f;
	_cleanup_(freep) char *one = NULL;
	unsigned long classes = 0, walks = 0, checks = 0;
	static const unsigned variants[][2] = { { 1, 0 }, { 3, 0 }, { 5, 0 }, { 1, 1 }, { 3, 1 } };

	many_pods(&f);
	for (size_t v = 0; v < ELEMENTSOF(variants); v++) {
		unsigned threads = variants[v][0];
		struct audit_env env = {
			.model = f.m, .engine = f.e, .node = "node-1", .eval = f.ctx, .routes = f.rt
		};
		_cleanup_(audit_cache_freep) struct audit_cache *cache = audit_cache_new();
		_cleanup_(audit_report_freep) struct audit_report *rep = NULL, *inc = NULL;
		struct audit_options o = { .cache = cache,
					   .threads = threads,
					   .full_walks = variants[v][1] };
		_cleanup_(freep) char *s = NULL, *si = NULL;
		static const char *const changed[] = { "veth3" };

		ck_assert_int_eq(audit_run(&env, &o, &rep), 0);
		s = findings_json(rep);
		/* most verdicts come from a shared walk, unless none may */
		if (o.full_walks)
			ck_assert_uint_eq(rep->walks_shared, 0);
		else
			ck_assert_uint_gt(rep->walks_shared, rep->packets_evaluated / 2);
		if (v == 0) {
			if (f.rep == NULL && rep->findings.n < 4) {
				f.rep = TAKE_PTR(rep);
				dump_findings(&f);
			}
			ck_assert_uint_ge(rep->findings.n, 4);
			ck_assert_uint_eq(rep->pods_audited, 24);
			ck_assert_uint_eq(rep->checks_run, 2 * 24 + 24 * 23);
			one = TAKE_PTR(s);
			classes = rep->classes_evaluated;
			walks = rep->packets_evaluated;
			checks = rep->checks_run;
		} else {
			ck_assert_str_eq(s, one);
			ck_assert_uint_eq(rep->classes_evaluated, classes);
			ck_assert_uint_eq(rep->packets_evaluated, walks);
			ck_assert_uint_eq(rep->checks_run, checks);
		}
		/* veth3 (api-1) changed: its checks run again, the rest is taken from the cache */
		o.incremental = true;
		o.changed_ifaces = changed;
		o.n_changed_ifaces = 1;
		ck_assert_int_eq(audit_run(&env, &o, &inc), 0);
		ck_assert(inc->incremental);
		ck_assert_uint_eq(inc->pods_audited, 1);
		si = findings_json(inc);
		ck_assert_str_eq(si, one);
	}
	teardown(&f);
}
END_TEST

/* The CPU quota from cgroup v2's cpu.max: the smallest along the path, rounded up. */
START_TEST(cgroup_quota)
{
	char dir[] = "/tmp/np-cgroup-XXXXXX", path[256], self[256];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
#define PUT(name, text)                                           \
	do {                                                      \
		snprintf(path, sizeof(path), "%s/%s", dir, name); \
		ck_assert_ptr_nonnull(f = fopen(path, "w"));      \
		fputs(text, f);                                   \
		fclose(f);                                        \
	} while (0)
	snprintf(path, sizeof(path), "%s/a", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/a/b", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	PUT("self", "1:cpu:/\n0::/a/b\n");
	snprintf(self, sizeof(self), "%s/self", dir);
	ck_assert_uint_eq(audit_cgroup_cpus(self, dir), 0); /* no cpu.max anywhere */
	PUT("a/b/cpu.max", "max 100000\n");
	ck_assert_uint_eq(audit_cgroup_cpus(self, dir), 0);
	PUT("a/b/cpu.max", "150000 100000\n");
	ck_assert_uint_eq(audit_cgroup_cpus(self, dir), 2);
	PUT("a/cpu.max", "50000 100000\n");
	ck_assert_uint_eq(audit_cgroup_cpus(self, dir), 1);
	PUT("a/cpu.max", "4000000 100000\n");
	ck_assert_uint_eq(audit_cgroup_cpus(self, dir), 2);
	PUT("cpu.max", "100000000 100000\n"); /* the root: at most AUDIT_THREADS_MAX */
	PUT("a/b/cpu.max", "max 100000\n");
	PUT("a/cpu.max", "max 100000\n");
	ck_assert_uint_eq(audit_cgroup_cpus(self, dir), AUDIT_THREADS_MAX);
	PUT("self", "0::/\n");
	ck_assert_uint_eq(audit_cgroup_cpus(self, dir), AUDIT_THREADS_MAX);
	ck_assert_uint_eq(audit_cgroup_cpus("/nonexistent", dir), 0);
#undef PUT
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

START_TEST(incremental_audit_equals_full)
{
	struct fixture f;
	_cleanup_(audit_cache_freep) struct audit_cache *cache = audit_cache_new();
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs2 = NULL;
	_cleanup_(eval_ctx_freep) struct eval_ctx *ctx2 = NULL;
	_cleanup_(audit_report_freep) struct audit_report *inc = NULL, *full = NULL;
	struct eval_change ch = { 0 };
	struct audit_env env;
	struct audit_options o = { .cache = cache };
	_cleanup_(freep) char *a = NULL, *b = NULL;

	ck_assert_ptr_nonnull(cache);
	setup(&f, TEST_DATA "/audit/two-pods.yaml");
	ir_ruleset_free(f.rs);
	f.rs = per_pod_ruleset(80);
	ck_assert_int_eq(eval_prepare(f.rs, &f.ctx), 0);
	env = (struct audit_env){
		.model = f.m, .engine = f.e, .node = "node-1", .eval = f.ctx, .routes = f.rt
	};
	ck_assert_int_eq(audit_run(&env, &o, &f.rep), 0);
	ck_assert(!f.rep->incremental);
	if (f.rep->findings.n != 3)
		dump_findings(&f);
	ck_assert_uint_eq(f.rep->findings.n, 3); /* one per protocol */
	ck_assert_ptr_nonnull(find(&f, AUDIT_BLOCKED_DRIFT, "default/client", NULL));

	/* web's chain now allows the wrong port: only veth-web's traffic can differ */
	rs2 = per_pod_ruleset(8080);
	ck_assert_int_eq(eval_prepare(rs2, &ctx2), 0);
	ck_assert_int_eq(eval_changed_interfaces(f.ctx, ctx2, &ch), 0);
	ck_assert(!ch.all);
	ck_assert_uint_eq(ch.n, 1);
	ck_assert_str_eq(ch.ifnames[0], "veth-web");
	env.eval = ctx2;
	o.incremental = true;
	o.changed_ifaces = (const char *const *)ch.ifnames;
	o.n_changed_ifaces = ch.n;
	ck_assert_int_eq(audit_run(&env, &o, &inc), 0);
	ck_assert(inc->incremental);
	ck_assert_uint_eq(inc->pods_audited, 1);
	ck_assert_uint_gt(inc->checks_reused, 0);
	ck_assert_uint_gt(inc->findings.n, 3); /* the client's, taken from the cache, and web's */
	ck_assert_int_eq(audit_run(&env, NULL, &full), 0);
	a = findings_json(inc);
	b = findings_json(full);
	ck_assert_str_eq(a, b);

	/* a policy now isolates the client: only the client's checks run again */
	{
		struct np_error err = { 0 };
		_cleanup_(audit_report_freep) struct audit_report *inc2 = NULL, *full2 = NULL;
		_cleanup_(freep) char *c = NULL, *d = NULL;

		ck_assert_int_eq(model_load_file(f.m, TEST_DATA "/audit/client-deny.yaml", &err),
				 0);
		o.changed_ifaces = NULL;
		o.n_changed_ifaces = 0;
		ck_assert_int_eq(audit_run(&env, &o, &inc2), 0);
		ck_assert(inc2->incremental);
		ck_assert_uint_eq(inc2->pods_audited, 1);
		ck_assert_int_eq(audit_run(&env, NULL, &full2), 0);
		c = findings_json(inc2);
		d = findings_json(full2);
		ck_assert_str_eq(c, d);
		ck_assert_str_ne(c, a); /* the client's ingress drift is gone or changed */
		o.changed_ifaces = (const char *const *)ch.ifnames;
		o.n_changed_ifaces = ch.n;
	}

	/* a cache from other routes is not used */
	audit_report_free(inc);
	inc = NULL;
	route(f.rt, "10.9.0.0/16", 2, "eth0", FW_ROUTE_UNICAST);
	ck_assert_int_eq(audit_run(&env, &o, &inc), 0);
	ck_assert(!inc->incremental);
	ck_assert_uint_eq(inc->checks_reused, 0);
	eval_change_done(&ch);
	teardown(&f);
}
END_TEST

START_TEST(faithful_rules_give_no_finding)
{
	struct fixture f;

	setup(&f, TEST_DATA "/audit/two-pods.yaml");
	faithful(&f, 80);
	run(&f);
	if (f.rep->findings.n)
		dump_findings(&f);
	ck_assert_uint_eq(f.rep->findings.n, 0);
	ck_assert_uint_eq(f.rep->pods_audited, 2);
	ck_assert_uint_gt(f.rep->classes_evaluated, 10);
	teardown(&f);
}
END_TEST

START_TEST(wrong_port_gives_blocked_and_allowed_drift)
{
	struct fixture f;
	const struct audit_finding *blocked, *allowed;
	struct strbuf sb = { 0 };

	setup(&f, TEST_DATA "/audit/two-pods.yaml");
	faithful(&f, 81); /* the CNI opened 81 where the policy says 80 */
	run(&f);
	blocked = find(&f, AUDIT_BLOCKED_DRIFT, "default/web", "default/client");
	allowed = find(&f, AUDIT_ALLOWED_DRIFT, "default/web", "default/client");
	if (!blocked || !allowed || f.rep->findings.n != 2)
		dump_findings(&f);
	ck_assert_uint_eq(f.rep->findings.n, 2);
	ck_assert_ptr_nonnull(blocked);
	ck_assert_ptr_nonnull(allowed);
	ck_assert_uint_eq(blocked->example.dport, 80);
	ck_assert(blocked->example.src == ip("10.0.1.10"));
	ck_assert(blocked->example.dst == ip("10.0.1.11"));
	ck_assert_str_eq(blocked->example.iif, "veth-client");
	ck_assert_str_eq(blocked->example.oif, "veth-web");
	ck_assert(np_iset_contains(&blocked->ports, 80) && !np_iset_contains(&blocked->ports, 81));
	ck_assert_uint_eq(allowed->example.dport, 81);
	ck_assert(np_iset_contains(&allowed->ports, 81) && np_iset_count(&allowed->ports) == 1);
	ck_assert_uint_eq(blocked->policies.n, 1);
	ck_assert_str_eq(blocked->policies.items[0], "default/web-from-client");
	/* the deciding rules: the drop for 80, the accept for 81 */
	ck_assert_ptr_nonnull(strstr(blocked->rule_text, "drop"));
	ck_assert_ptr_nonnull(strstr(allowed->rule_text, "accept"));
	ck_assert_ptr_nonnull(strstr(allowed->rule_json, "\"chain\":\"forward\""));
	ck_assert_int_eq(audit_report_json(f.rep, &sb), 0);
	ck_assert_ptr_nonnull(strstr(strbuf_str(&sb), "\"kind\":\"blocked-drift\""));
	strbuf_done(&sb);
	/* stable identity */
	{
		char id[17];
		snprintf(id, sizeof(id), "%s", blocked->id);
		audit_report_free(f.rep);
		f.rep = NULL;
		{
			struct audit_env env = { .model = f.m,
						 .engine = f.e,
						 .node = "node-1",
						 .routes = f.rt,
						 .eval = f.ctx };
			ck_assert_int_eq(audit_run(&env, NULL, &f.rep), 0);
		}
		ck_assert_str_eq(find(&f, AUDIT_BLOCKED_DRIFT, "default/web", "default/client")->id,
				 id);
	}
	teardown(&f);
}
END_TEST

START_TEST(missing_drop_is_unenforced)
{
	struct fixture f;
	const struct audit_finding *u;

	setup(&f, TEST_DATA "/audit/two-pods.yaml");
	rule(&f, NULL, NULL, -1, true, IR_VERDICT_ACCEPT);
	rule(&f, "veth-web", "10.0.1.10/32", 80, false, IR_VERDICT_ACCEPT);
	run(&f);
	u = find(&f, AUDIT_UNENFORCED, "default/web", NULL);
	if (!u)
		dump_findings(&f);
	ck_assert_ptr_nonnull(u);
	ck_assert_int_eq(u->dir, NP_INGRESS);
	ck_assert_int_eq(u->actual, EVAL_ACCEPT);
	ck_assert(!u->expected_allow);
	/* the remote peer is in the example: a real pod's address */
	ck_assert(np_iset_contains(&u->peers, ip("10.0.2.10")));
	/* the local client's traffic (pair check) is part of the same finding, not another one */
	ck_assert(np_iset_contains(&u->peers, ip("10.0.1.10")));
	ck_assert_ptr_null(find(&f, AUDIT_UNENFORCED, "default/web", "default/client"));
	ck_assert_ptr_null(find(&f, AUDIT_ALLOWED_DRIFT, "default/web", NULL));
	ck_assert_ptr_null(find(&f, AUDIT_ALLOWED_DRIFT, "default/client", NULL));
	teardown(&f);
}
END_TEST

START_TEST(accept_inserted_on_top_is_allowed_drift)
{
	struct fixture f;
	const struct audit_finding *a;

	setup(&f, TEST_DATA "/audit/two-pods.yaml");
	faithful(&f, 80);
	/* another tool inserts "ip saddr 10.0.2.0/24 accept" at the top */
	{
		struct ir_rule *r;
		np_u128 lo, hi;
		ck_assert_int_eq(ir_rule_new(&r), 0);
		np_cidr_parse("10.0.2.0/24", &lo, &hi);
		ck_assert_int_eq(ir_rule_add_match_range(r, IR_FIELD_SADDR, false, lo, hi), 0);
		ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_ACCEPT, NULL), 0);
		ck_assert_int_eq(ir_chain_append(f.fwd, &r), 0);
		/* move it first */
		struct ir_rule *last = f.fwd->rules.items[f.fwd->rules.n - 1];
		memmove(f.fwd->rules.items + 1, f.fwd->rules.items,
			(f.fwd->rules.n - 1) * sizeof(*f.fwd->rules.items));
		f.fwd->rules.items[0] = last;
		for (size_t i = 0; i < f.fwd->rules.n; i++)
			f.fwd->rules.items[i]->position = (unsigned)i + 1;
	}
	run(&f);
	a = find(&f, AUDIT_ALLOWED_DRIFT, "default/web", NULL);
	if (!a || f.rep->findings.n != 3)
		dump_findings(&f);
	ck_assert_ptr_nonnull(a);
	ck_assert(np_iset_contains(&a->peers, ip("10.0.2.10")));
	ck_assert(!np_iset_contains(&a->peers, ip("10.0.3.1")));
	ck_assert(a->example.src == ip("10.0.2.10"));
	ck_assert_ptr_nonnull(strstr(a->rule_text, "10.0.2.0/24"));
	/* one finding per protocol: TCP, UDP, SCTP all pass the inserted rule */
	ck_assert_uint_eq(f.rep->findings.n, 3);
	teardown(&f);
}
END_TEST

START_TEST(queue_is_unverifiable)
{
	struct fixture f;
	const struct audit_finding *u;

	setup(&f, TEST_DATA "/audit/two-pods.yaml");
	rule(&f, NULL, NULL, -1, true, IR_VERDICT_ACCEPT);
	rule(&f, "veth-web", NULL, -1, false, IR_VERDICT_QUEUE);
	run(&f);
	u = find(&f, AUDIT_UNVERIFIABLE, "default/web", NULL);
	ck_assert_ptr_nonnull(u);
	ck_assert_ptr_nonnull(u->reason);
	ck_assert_int_eq(u->actual, EVAL_UNKNOWN);
	/* never "clean" */
	ck_assert_uint_gt(f.rep->findings.n, 0);
	teardown(&f);
}
END_TEST

START_TEST(pod_without_route)
{
	struct fixture f;
	const struct audit_finding *n;

	setup(&f, TEST_DATA "/audit/two-pods.yaml");
	faithful(&f, 80);
	/* rebuild the routes without client's */
	fw_rtable_free(f.rt);
	ck_assert_int_eq(fw_rtable_new(&f.rt), 0);
	route(f.rt, "10.0.1.11/32", 4, "veth-web", FW_ROUTE_UNICAST);
	route(f.rt, "0.0.0.0/0", 2, "eth0", FW_ROUTE_UNICAST);
	run(&f);
	n = find(&f, AUDIT_NO_ROUTE, "default/client", NULL);
	if (!n)
		dump_findings(&f);
	ck_assert_ptr_nonnull(n);
	ck_assert_ptr_nonnull(strstr(n->message, "default route"));
	ck_assert_ptr_nonnull(strstr(n->message, "eth0"));
	teardown(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("audit");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, faithful_rules_give_no_finding);
	tcase_add_test(tc, wrong_port_gives_blocked_and_allowed_drift);
	tcase_add_test(tc, missing_drop_is_unenforced);
	tcase_add_test(tc, accept_inserted_on_top_is_allowed_drift);
	tcase_add_test(tc, queue_is_unverifiable);
	tcase_add_test(tc, pod_without_route);
	tcase_add_test(tc, incremental_audit_equals_full);
	tcase_add_test(tc, threads_give_the_same_report);
	tcase_add_test(tc, cgroup_quota);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
