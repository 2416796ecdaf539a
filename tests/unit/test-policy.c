/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Conformance of the policy engine with networking.k8s.io/v1 NetworkPolicy.
 *
 * The cluster is the one the upstream e2e suite uses (test/e2e/network/netpol): namespaces
 * x, y, z, each with pods a, b, c serving 80 and 81 on TCP, UDP and SCTP (container ports
 * named serve-80-tcp, ...), in tests/data/policy/xyz.json; pod IPs are 10.0.<ns>.<pod> with
 * x=1, y=2, z=3 and a=1, b=2, c=3. Namespace y carries env=prod, z env=dev, x no env.
 *
 * Every expected truth table below was written from the API reference, not from the engine:
 * rows are the sources, columns the destinations, in the order x/a x/b x/c y/a y/b y/c z/a z/b
 * z/c, '.' allowed and 'X' denied, as the upstream suite prints them.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "policy/policy.h"

#define XYZ TEST_DATA "/policy/xyz.json"
#define NAMED TEST_DATA "/policy/named.yaml"
#define EXEMPT TEST_DATA "/policy/exempt.yaml"
#define DUAL TEST_DATA "/policy/dual.json"

/* A NetworkPolicy as one YAML flow mapping. */
#define NETPOL(ns, name, spec)                                                                \
	"---\n{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: " name \
	", namespace: \"" ns "\"}, spec: " spec "}\n"

static const char *const pods9[9] = {
	"x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c"
};

struct fixture {
	struct model *m;
	struct policy_engine *e;
};

static void fixture_done(struct fixture *f)
{
	policy_engine_free(f->e);
	model_free(f->m);
}

/* Loads the files (NULL-terminated after the first) and then the inline policies. */
static struct fixture load(const char *policies, const char *file, ...)
{
	struct fixture f = { 0 };
	struct np_error err = { 0 };
	char buf[1024];
	va_list ap;
	int r;

	ck_assert_int_eq(model_new(&f.m), 0);
	va_start(ap, file);
	for (const char *p = file; p; p = va_arg(ap, const char *)) {
		r = model_load_file(f.m, p, &err);
		ck_assert_msg(r == 0, "loading %s: %d %s", p, r,
			      np_error_format(&err, buf, sizeof(buf)));
	}
	va_end(ap);
	if (policies) {
		r = model_load_buffer(f.m, policies, strlen(policies), "inline", &err);
		if (r != 0) {
			size_t n;
			const struct np_error *d = model_diagnostics(f.m, &n);
			ck_abort_msg("loading policies: %d %s %s", r,
				     np_error_format(&err, buf, sizeof(buf)),
				     n ? np_error_format(&d[0], buf, sizeof(buf)) : "");
		}
	}
	ck_assert_int_eq(policy_engine_new(f.m, &f.e), 0);
	return f;
}

static const struct model_pod *pod(struct model *m, const char *id)
{
	char ns[64];
	const char *slash = strchr(id, '/');
	const struct model_pod *p;

	ck_assert_ptr_nonnull(slash);
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - id), id);
	p = model_pod_get(m, ns, slash + 1);
	ck_assert_msg(p != NULL, "no pod %s", id);
	return p;
}

static const struct policy_expect *expect(struct fixture *f, const char *id)
{
	const struct policy_expect *x;

	ck_assert_int_eq(policy_engine_expect(f->e, pod(f->m, id), &x), 0);
	return x;
}

static bool reach(struct fixture *f, const char *from, const char *to, int family, uint8_t proto,
		  uint16_t port)
{
	struct policy_verdict v;

	ck_assert_int_eq(
		policy_engine_reach(f->e, pod(f->m, from), pod(f->m, to), family, proto, port, &v),
		0);
	ck_assert(v.allowed == (v.egress && v.ingress));
	return v.allowed;
}

/* Compares the 9x9 truth table for (proto, port); want is 9 rows of 9 separated by spaces. */
static void check_matrix(struct fixture *f, uint8_t proto, uint16_t port, const char *want)
{
	char got[100];
	size_t k = 0;

	for (int i = 0; i < 9; i++) {
		for (int j = 0; j < 9; j++)
			got[k++] = reach(f, pods9[i], pods9[j], AF_INET, proto, port) ? '.' : 'X';
		got[k++] = i < 8 ? ' ' : '\0';
	}
	ck_assert_msg(streq(got, want), "%s/%u:\n got  %s\n want %s", np_proto_name(proto), port,
		      got, want);
}

/* Compares the column of destination `to`: who may connect to it. */
static void check_to(struct fixture *f, const char *to, uint8_t proto, uint16_t port,
		     const char *want)
{
	char got[10];

	for (int i = 0; i < 9; i++)
		got[i] = reach(f, pods9[i], to, AF_INET, proto, port) ? '.' : 'X';
	got[9] = 0;
	ck_assert_msg(streq(got, want), "to %s %s/%u: got %s want %s", to, np_proto_name(proto),
		      port, got, want);
}

/* Compares the row of source `from`: where it may connect to. */
static void check_from(struct fixture *f, const char *from, uint8_t proto, uint16_t port,
		       const char *want)
{
	char got[10];

	for (int i = 0; i < 9; i++)
		got[i] = reach(f, from, pods9[i], AF_INET, proto, port) ? '.' : 'X';
	got[9] = 0;
	ck_assert_msg(streq(got, want), "from %s %s/%u: got %s want %s", from, np_proto_name(proto),
		      port, got, want);
}

static const char *format_dir(const struct policy_dir *d, struct strbuf *sb)
{
	strbuf_reset(sb);
	ck_assert_int_eq(policy_dir_format(d, sb), 0);
	return strbuf_str(sb);
}

#define TCP NP_PROTO_TCP
#define UDP NP_PROTO_UDP
#define SCTP NP_PROTO_SCTP

#define ALL_OPEN                                                                           \
	"......... ......... ......... ......... ......... ......... ......... ......... " \
	"........."

START_TEST(no_policy_allows_everything)
{
	struct fixture f = load(NULL, XYZ, NULL);
	const struct policy_expect *x = expect(&f, "x/a");

	ck_assert(!x->dir[NP_INGRESS]->isolated);
	ck_assert(!x->dir[NP_EGRESS]->isolated);
	check_matrix(&f, TCP, 80, ALL_OPEN);
	check_matrix(&f, SCTP, 81, ALL_OPEN);
	fixture_done(&f);
}
END_TEST

START_TEST(deny_all_ingress)
{
	/* podSelector {} with no ingress and policyTypes omitted: every pod of x is isolated
	 * for ingress and nothing is allowed in; egress is untouched. */
	struct fixture f = load(NETPOL("x", "deny-all", "{podSelector: {}}"), XYZ, NULL);
	const char *want = ".XX...... X.X...... XX....... XXX...... XXX...... XXX...... "
			   "XXX...... XXX...... XXX......";

	ck_assert(expect(&f, "x/b")->dir[NP_INGRESS]->isolated);
	ck_assert(!expect(&f, "x/b")->dir[NP_EGRESS]->isolated);
	ck_assert(!expect(&f, "y/a")->dir[NP_INGRESS]->isolated);
	check_matrix(&f, TCP, 80, want);
	check_matrix(&f, UDP, 81, want);
	check_matrix(&f, SCTP, 80, want);
	fixture_done(&f);
}
END_TEST

START_TEST(deny_all_egress)
{
	struct fixture f = load(
		NETPOL("x", "deny-egress", "{podSelector: {}, policyTypes: [Egress]}"), XYZ, NULL);
	const char *want = ".XXXXXXXX X.XXXXXXX XX.XXXXXX ......... ......... ......... "
			   "......... ......... .........";

	ck_assert(!expect(&f, "x/a")->dir[NP_INGRESS]->isolated);
	ck_assert(expect(&f, "x/a")->dir[NP_EGRESS]->isolated);
	check_matrix(&f, TCP, 80, want);
	check_matrix(&f, UDP, 80, want);
	fixture_done(&f);
}
END_TEST

START_TEST(allow_same_namespace)
{
	struct fixture f = load(NETPOL("x", "same-ns",
				       "{podSelector: {}, ingress: [{from: "
				       "[{podSelector: {}}]}]}"),
				XYZ, NULL);

	check_matrix(&f, TCP, 80,
		     "......... ......... ......... XXX...... XXX...... XXX...... XXX...... "
		     "XXX...... XXX......");
	fixture_done(&f);
}
END_TEST

START_TEST(namespace_selector)
{
	struct fixture f = load(NETPOL("x", "from-y",
				       "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
				       "[{namespaceSelector: {matchLabels: {ns: \"y\"}}}]}]}"),
				XYZ, NULL);

	check_matrix(&f, TCP, 80,
		     "......... X........ X........ ......... ......... ......... X........ "
		     "X........ X........");
	ck_assert(!expect(&f, "x/b")->dir[NP_INGRESS]->isolated);
	fixture_done(&f);
}
END_TEST

START_TEST(namespace_selector_empty_is_all_namespaces)
{
	/* namespaceSelector {} alone: every pod of every namespace. */
	struct fixture f = load(NETPOL("x", "from-all-ns",
				       "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
				       "[{namespaceSelector: {}}], ports: [{port: 80}]}]}"),
				XYZ, NULL);

	check_to(&f, "x/a", TCP, 80, ".........");
	check_to(&f, "x/a", TCP, 81, ".XXXXXXXX");
	fixture_done(&f);
}
END_TEST

START_TEST(pod_and_namespace_selector_combined)
{
	/* One peer with both selectors: pods b of the namespaces labelled ns=y. */
	struct fixture f =
		load(NETPOL("x", "combined",
			    "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
			    "[{namespaceSelector: {matchLabels: {ns: \"y\"}}, podSelector: "
			    "{matchLabels: {pod: b}}}]}]}"),
		     XYZ, NULL);

	check_to(&f, "x/a", TCP, 80, ".XXX.XXXX");
	fixture_done(&f);
}
END_TEST

START_TEST(pod_and_namespace_selector_as_two_peers)
{
	/* Two peers: every pod of ns=y, or pods b of the policy's own namespace x. */
	struct fixture f =
		load(NETPOL("x", "two-peers",
			    "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
			    "[{namespaceSelector: {matchLabels: {ns: \"y\"}}}, {podSelector: "
			    "{matchLabels: {pod: b}}}]}]}"),
		     XYZ, NULL);
	const struct policy_expect *x = expect(&f, "x/a");
	const struct policy_term **why = NULL;
	np_u128 yb, xb;

	check_to(&f, "x/a", TCP, 80, "..X...XXX");

	/* Provenance: which peer allowed it. */
	ck_assert(policy_pod_addr(pod(f.m, "y/b"), AF_INET, &yb));
	ck_assert(policy_pod_addr(pod(f.m, "x/b"), AF_INET, &xb));
	ck_assert_int_eq(policy_dir_why(x->dir[NP_INGRESS], yb, TCP, 80, &why), 1);
	ck_assert_str_eq(why[0]->policy->name, "two-peers");
	ck_assert_int_eq(why[0]->rule, 0);
	ck_assert_int_eq(why[0]->peer, 0);
	ck_assert_int_eq(why[0]->port, -1);
	free(why);
	ck_assert_int_eq(policy_dir_why(x->dir[NP_INGRESS], xb, TCP, 80, &why), 1);
	ck_assert_int_eq(why[0]->peer, 1);
	free(why);
	ck_assert_int_eq(policy_dir_why(x->dir[NP_INGRESS], np_v4(0x0a000303), TCP, 80, &why), 0);
	ck_assert_ptr_null(why);
	fixture_done(&f);
}
END_TEST

START_TEST(match_expressions)
{
	static const struct {
		const char *from, *want;
	} cases[] = {
		/* y and z */
		{ "[{namespaceSelector: {matchExpressions: [{key: ns, operator: In, values: "
		  "[\"y\", \"z\"]}]}}]",
		  ".XX......" },
		/* NotIn matches namespaces without the key too: x (no env) and z (dev) */
		{ "[{namespaceSelector: {matchExpressions: [{key: env, operator: NotIn, values: "
		  "[prod]}]}}]",
		  "...XXX..." },
		{ "[{namespaceSelector: {matchExpressions: [{key: env, operator: Exists}]}}]",
		  ".XX......" },
		{ "[{namespaceSelector: {matchExpressions: [{key: env, operator: DoesNotExist}]}}]",
		  "...XXXXXX" },
		/* pod-level NotIn across every namespace: the c pods */
		{ "[{namespaceSelector: {}, podSelector: {matchExpressions: [{key: pod, operator: "
		  "NotIn, values: [a, b]}]}}]",
		  ".X.XX.XX." },
		/* matchLabels and matchExpressions are ANDed */
		{ "[{namespaceSelector: {matchLabels: {env: dev}, matchExpressions: [{key: ns, "
		  "operator: In, values: [\"z\"]}]}, podSelector: {matchExpressions: [{key: pod, "
		  "operator: In, values: [b, c]}]}}]",
		  ".XXXXXX.." },
		/* a key nobody has: In matches nothing, DoesNotExist everything */
		{ "[{namespaceSelector: {}, podSelector: {matchExpressions: [{key: tier, operator: "
		  "In, values: [db]}]}}]",
		  ".XXXXXXXX" },
		{ "[{namespaceSelector: {}, podSelector: {matchExpressions: [{key: tier, operator: "
		  "DoesNotExist}]}}]",
		  "........." },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		char buf[1024];
		struct fixture f;

		snprintf(buf, sizeof(buf),
			 NETPOL("x", "exprs",
				"{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
				"%s}]}"),
			 cases[i].from);
		f = load(buf, XYZ, NULL);
		check_to(&f, "x/a", TCP, 80, cases[i].want);
		fixture_done(&f);
	}
}
END_TEST

START_TEST(ipblock_except)
{
	struct fixture f =
		load(NETPOL("x", "cidr",
			    "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
			    "[{ipBlock: {cidr: 10.0.2.0/24, except: [10.0.2.2/32]}}]}]}"),
		     XYZ, NULL);
	struct strbuf sb = { 0 };

	check_to(&f, "x/a", TCP, 80, ".XX.X.XXX");
	check_to(&f, "x/a", UDP, 81, ".XX.X.XXX");
	ck_assert_str_eq(
		format_dir(expect(&f, "x/a")->dir[NP_INGRESS], &sb),
		"TCP 0-65535 10.0.2.0/31,10.0.2.3/32,10.0.2.4/30,10.0.2.8/29,10.0.2.16/28,"
		"10.0.2.32/27,10.0.2.64/26,10.0.2.128/25\n"
		"UDP 0-65535 10.0.2.0/31,10.0.2.3/32,10.0.2.4/30,10.0.2.8/29,10.0.2.16/28,"
		"10.0.2.32/27,10.0.2.64/26,10.0.2.128/25\n"
		"SCTP 0-65535 10.0.2.0/31,10.0.2.3/32,10.0.2.4/30,10.0.2.8/29,10.0.2.16/28,"
		"10.0.2.32/27,10.0.2.64/26,10.0.2.128/25\n");
	strbuf_done(&sb);
	fixture_done(&f);

	/* Egress to everything but the pods' /16's namespace x block. */
	f = load(NETPOL("x", "cidr-egress",
			"{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], egress: "
			"[{to: "
			"[{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}]}]}"),
		 XYZ, NULL);
	check_from(&f, "x/a", TCP, 80, ".XX......");
	fixture_done(&f);
}
END_TEST

START_TEST(ipblock_except_overlapped_by_another_peer)
{
	/* Upstream: "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is
	 * allowed" — an address excepted by one peer but named by another rule is allowed. */
	struct fixture f = load(NETPOL("x", "overlap",
				       "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
				       "[{ipBlock: {cidr: 10.0.2.0/24, except: [10.0.2.1/32]}}]}, "
				       "{from: [{ipBlock: {cidr: 10.0.2.1/32}}]}]}"),
				XYZ, NULL);

	check_to(&f, "x/a", TCP, 80, ".XX...XXX");
	fixture_done(&f);
}
END_TEST

START_TEST(egress_deny_wins_over_ingress_allow)
{
	/* Upstream: "should support denying of egress traffic on the client side (even if the
	 * server explicitly allows this traffic)". */
	struct fixture f =
		load(NETPOL("x", "allow-y-a",
			    "{podSelector: {matchLabels: {pod: a}}, "
			    "ingress: [{from: [{namespaceSelector: "
			    "{matchLabels: {ns: \"y\"}}, podSelector: "
			    "{matchLabels: {pod: a}}}]}]}")
			     NETPOL("y", "deny-egress-a",
				    "{podSelector: {matchLabels: {pod: a}}, policyTypes: "
				    "[Egress]}"),
		     XYZ, NULL);
	struct policy_verdict v;

	ck_assert_int_eq(
		policy_engine_reach(f.e, pod(f.m, "y/a"), pod(f.m, "x/a"), AF_INET, TCP, 80, &v),
		0);
	ck_assert(!v.allowed && !v.egress && v.ingress);
	check_to(&f, "x/a", TCP, 80, ".XXXXXXXX");
	check_from(&f, "y/a", TCP, 80, "XXX.XXXXX");
	fixture_done(&f);
}
END_TEST

START_TEST(end_port)
{
	struct fixture f = load(NETPOL("x", "range",
				       "{podSelector: {matchLabels: {pod: a}}, ingress: [{ports: "
				       "[{protocol: TCP, port: 80, endPort: 81}]}]}"),
				XYZ, NULL);
	struct strbuf sb = { 0 };

	check_to(&f, "x/a", TCP, 80, ".........");
	check_to(&f, "x/a", TCP, 81, ".........");
	check_to(&f, "x/a", TCP, 79, ".XXXXXXXX");
	check_to(&f, "x/a", TCP, 82, ".XXXXXXXX");
	check_to(&f, "x/a", UDP, 80, ".XXXXXXXX");
	ck_assert_str_eq(format_dir(expect(&f, "x/a")->dir[NP_INGRESS], &sb),
			 "TCP 80-81 0.0.0.0/0,::/0\n");
	strbuf_done(&sb);
	fixture_done(&f);
}
END_TEST

START_TEST(named_port_ingress)
{
	struct fixture f = load(NETPOL("x", "named",
				       "{podSelector: {}, ingress: [{ports: [{port: "
				       "serve-81-tcp}, {protocol: UDP, port: "
				       "serve-80-udp}, {port: serve-81-udp}]}]}"),
				XYZ, NULL);

	check_to(&f, "x/a", TCP, 81, ".........");
	check_to(&f, "x/a", TCP, 80, ".XXXXXXXX");
	check_to(&f, "x/b", UDP, 80, ".........");
	/* serve-81-udp with the default protocol TCP names no TCP port: allows nothing. */
	check_to(&f, "x/c", UDP, 81, "XX.XXXXXX");
	check_to(&f, "x/c", SCTP, 81, "XX.XXXXXX");
	fixture_done(&f);
}
END_TEST

START_TEST(named_port_egress_per_peer)
{
	/* y/b names port 80 "web", z/b names 81 "web", x/b has no "web". */
	struct fixture f =
		load(NETPOL("x", "to-web",
			    "{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], "
			    "egress: [{to: [{namespaceSelector: {}, podSelector: "
			    "{matchLabels: {pod: b}}}], ports: [{port: web}]}]}"),
		     XYZ, NAMED, NULL);
	const struct policy_expect *x = expect(&f, "x/a");
	const struct policy_term **why = NULL;

	check_from(&f, "x/a", TCP, 80, ".XXX.XXXX");
	check_from(&f, "x/a", TCP, 81, ".XXXXXX.X");
	check_from(&f, "x/a", UDP, 80, ".XXXXXXXX");
	ck_assert_int_eq(policy_dir_why(x->dir[NP_EGRESS], np_v4(0x0a000302), TCP, 81, &why), 1);
	ck_assert_str_eq(why[0]->port_name, "web");
	ck_assert_int_eq(why[0]->port_lo, 81);
	free(why);
	fixture_done(&f);

	/* No `to`: every destination pod that names the port, each on its own number. */
	f = load(NETPOL("x", "to-web",
			"{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], "
			"egress: [{ports: [{port: web}]}]}"),
		 XYZ, NAMED, NULL);
	check_from(&f, "x/a", TCP, 80, ".XXX.XXXX");
	check_from(&f, "x/a", TCP, 81, ".XXXXXX.X");
	fixture_done(&f);

	/* ipBlock: pods whose address is in the block, resolved on each. */
	f = load(NETPOL("x", "to-web",
			"{podSelector: {matchLabels: {pod: a}}, policyTypes: [Egress], "
			"egress: [{to: [{ipBlock: {cidr: 10.0.2.0/24}}], ports: [{port: "
			"web}]}]}"),
		 XYZ, NAMED, NULL);
	check_from(&f, "x/a", TCP, 80, ".XXX.XXXX");
	check_from(&f, "x/a", TCP, 81, ".XXXXXXXX");
	fixture_done(&f);

	/* A name no destination has: the pod is isolated and allowed nothing. */
	f = load(NETPOL("x", "nowhere",
			"{podSelector: {matchLabels: {pod: a}}, policyTypes: "
			"[Egress], egress: [{ports: [{port: nope}]}]}"),
		 XYZ, NAMED, NULL);
	x = expect(&f, "x/a");
	ck_assert(x->dir[NP_EGRESS]->isolated);
	for (int i = 0; i < _POLICY_PROTO_MAX; i++)
		ck_assert_int_eq(x->dir[NP_EGRESS]->n_segs[i], 0);
	check_from(&f, "x/a", TCP, 80, ".XXXXXXXX");
	fixture_done(&f);
}
END_TEST

START_TEST(named_port_egress_and_ingress_together)
{
	/* x/a may send to "web" anywhere; y/b and z/b accept only on their "web". The
	 * connection needs both: x/a -> y/b on 80 and x/a -> z/b on 81 only. */
	struct fixture f = load(NETPOL("x", "to-web",
				       "{podSelector: {matchLabels: {pod: a}}, "
				       "policyTypes: [Egress], egress: [{ports: "
				       "[{port: web}]}]}") NETPOL("y", "web-in",
								  "{podSelector: "
								  "{matchLabels: "
								  "{pod: b}}, "
								  "ingress: "
								  "[{ports: "
								  "[{port: web}]}]}")
					NETPOL("z", "web-in",
					       "{podSelector: {matchLabels: {pod: b}}, "
					       "ingress: [{ports: [{port: web}]}]}"),
				XYZ, NAMED, NULL);

	ck_assert(reach(&f, "x/a", "y/b", AF_INET, TCP, 80));
	ck_assert(!reach(&f, "x/a", "y/b", AF_INET, TCP, 81));
	ck_assert(reach(&f, "x/a", "z/b", AF_INET, TCP, 81));
	ck_assert(!reach(&f, "x/a", "z/b", AF_INET, TCP, 80));
	/* y/b's ingress "web" is 80 for everyone */
	ck_assert(reach(&f, "z/c", "y/b", AF_INET, TCP, 80));
	ck_assert(!reach(&f, "z/c", "y/b", AF_INET, TCP, 81));
	fixture_done(&f);
}
END_TEST

START_TEST(protocol_defaults_to_tcp)
{
	struct fixture f = load(NETPOL("x", "p80",
				       "{podSelector: {matchLabels: {pod: a}}, ingress: "
				       "[{ports: [{port: 80}]}]}"),
				XYZ, NULL);

	check_to(&f, "x/a", TCP, 80, ".........");
	check_to(&f, "x/a", UDP, 80, ".XXXXXXXX");
	check_to(&f, "x/a", SCTP, 80, ".XXXXXXXX");
	check_to(&f, "x/a", TCP, 81, ".XXXXXXXX");
	fixture_done(&f);
}
END_TEST

START_TEST(sctp)
{
	struct fixture f = load(NETPOL("x", "sctp80",
				       "{podSelector: {matchLabels: {pod: a}}, "
				       "ingress: [{ports: [{protocol: SCTP, port: "
				       "80}]}]}"),
				XYZ, NULL);

	check_to(&f, "x/a", SCTP, 80, ".........");
	check_to(&f, "x/a", SCTP, 81, ".XXXXXXXX");
	check_to(&f, "x/a", TCP, 80, ".XXXXXXXX");
	fixture_done(&f);

	/* A protocol without a port: every port of that protocol. */
	f = load(NETPOL("x", "udp-all",
			"{podSelector: {matchLabels: {pod: a}}, ingress: [{ports: "
			"[{protocol: UDP}]}]}"),
		 XYZ, NULL);
	check_to(&f, "x/a", UDP, 80, ".........");
	check_to(&f, "x/a", UDP, 81, ".........");
	check_to(&f, "x/a", TCP, 80, ".XXXXXXXX");
	fixture_done(&f);
}
END_TEST

START_TEST(port_without_number_or_protocol)
{
	/* ports: [{}] — protocol defaults to TCP, no port means every TCP port. */
	struct fixture f = load(NETPOL("x", "tcp-any",
				       "{podSelector: {matchLabels: {pod: a}}, "
				       "ingress: [{ports: [{}]}]}"),
				XYZ, NULL);

	check_to(&f, "x/a", TCP, 80, ".........");
	check_to(&f, "x/a", TCP, 65535, ".........");
	check_to(&f, "x/a", UDP, 80, ".XXXXXXXX");
	check_to(&f, "x/a", SCTP, 81, ".XXXXXXXX");
	fixture_done(&f);
}
END_TEST

START_TEST(missing_pod_selector_selects_all)
{
	/* spec.podSelector is a struct, not a pointer, in the API types: missing is {}. */
	struct fixture f = load(NETPOL("x", "no-selector", "{ingress: []}"), XYZ, NULL);

	ck_assert(expect(&f, "x/a")->dir[NP_INGRESS]->isolated);
	ck_assert(expect(&f, "x/c")->dir[NP_INGRESS]->isolated);
	ck_assert(!expect(&f, "y/a")->dir[NP_INGRESS]->isolated);
	fixture_done(&f);
}
END_TEST

START_TEST(namespace_name_label)
{
	/* The API server labels every namespace kubernetes.io/metadata.name=<name>; a dump
	 * without it (here namespace w, and namespace v which has no Namespace object at all)
	 * is read as if it were there. */
	struct fixture f =
		load("---\n{apiVersion: v1, kind: Namespace, metadata: {name: w, labels: {team: "
		     "blue}}}\n"
		     "---\n{apiVersion: v1, kind: Pod, metadata: {name: a, namespace: w, labels: "
		     "{pod: a}}, "
		     "spec: {containers: [{name: c, image: i}]}, status: {phase: Running, podIP: "
		     "10.0.4.1}}\n"
		     "---\n{apiVersion: v1, kind: Pod, metadata: {name: a, namespace: v, labels: "
		     "{pod: a}}, "
		     "spec: {containers: [{name: c, image: i}]}, status: {phase: Running, podIP: "
		     "10.0.5.1}}\n" NETPOL(
			     "x", "from-w-v",
			     "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
			     "[{namespaceSelector: {matchExpressions: [{key: "
			     "kubernetes.io/metadata.name, operator: In, values: [w, v]}]}}]}]}"),
		     XYZ, NULL);
	const struct policy_dir *d = expect(&f, "x/a")->dir[NP_INGRESS];

	ck_assert(policy_dir_allows(d, np_v4(0x0a000401), TCP, 80));
	ck_assert(policy_dir_allows(d, np_v4(0x0a000501), TCP, 80));
	ck_assert(!policy_dir_allows(d, np_v4(0x0a000201), TCP, 80));
	check_to(&f, "x/a", TCP, 80, ".XXXXXXXX");
	fixture_done(&f);
}
END_TEST

START_TEST(ingress_empty_list_vs_empty_rule)
{
	struct fixture f = load(NETPOL("x", "none",
				       "{podSelector: {matchLabels: {pod: a}}, "
				       "ingress: []}"),
				XYZ, NULL);
	const struct policy_expect *xa, *xb;

	/* ingress: [] — isolated, no rule, nothing allowed in */
	check_to(&f, "x/a", TCP, 80, ".XXXXXXXX");
	fixture_done(&f);

	/* ingress: [{}] — one rule matching all sources and all ports: isolated, yet the
	 * allowed set equals that of a pod no policy selects. */
	f = load(NETPOL("x", "all", "{podSelector: {matchLabels: {pod: a}}, ingress: [{}]}"), XYZ,
		 NULL);
	check_to(&f, "x/a", TCP, 80, ".........");
	check_to(&f, "x/a", SCTP, 12345, ".........");
	xa = expect(&f, "x/a");
	xb = expect(&f, "x/b");
	ck_assert(xa->dir[NP_INGRESS]->isolated);
	ck_assert(!xb->dir[NP_INGRESS]->isolated);
	ck_assert(policy_dir_equal(xa->dir[NP_INGRESS], xb->dir[NP_INGRESS]));
	fixture_done(&f);
}
END_TEST

START_TEST(from_empty_vs_missing)
{
	struct strbuf a = { 0 }, b = { 0 };
	struct fixture f = load(NETPOL("x", "empty-from",
				       "{podSelector: {matchLabels: {pod: a}}, "
				       "ingress: [{from: [], ports: [{port: "
				       "80}]}]}"),
				XYZ, NULL);
	struct fixture g = load(NETPOL("x", "no-from",
				       "{podSelector: {matchLabels: {pod: a}}, "
				       "ingress: [{ports: [{port: 80}]}]}"),
				XYZ, NULL);

	check_to(&f, "x/a", TCP, 80, ".........");
	check_to(&f, "x/a", TCP, 81, ".XXXXXXXX");
	ck_assert(policy_dir_equal(expect(&f, "x/a")->dir[NP_INGRESS],
				   expect(&g, "x/a")->dir[NP_INGRESS]));
	ck_assert_str_eq(format_dir(expect(&f, "x/a")->dir[NP_INGRESS], &a),
			 format_dir(expect(&g, "x/a")->dir[NP_INGRESS], &b));
	/* the term says "all peers" */
	ck_assert_int_eq(expect(&f, "x/a")->dir[NP_INGRESS]->n_terms, 1);
	ck_assert_int_eq(expect(&f, "x/a")->dir[NP_INGRESS]->terms[0].peer, -1);
	strbuf_done(&a);
	strbuf_done(&b);
	fixture_done(&f);
	fixture_done(&g);
}
END_TEST

START_TEST(policy_types_omitted_with_only_egress)
{
	/* No policyTypes and only an egress section: the API defaults policyTypes to
	 * [Ingress, Egress], so the pods also lose all ingress. */
	struct fixture f = load(NETPOL("x", "egress-only",
				       "{podSelector: {}, egress: [{to: "
				       "[{podSelector: {}}]}]}"),
				XYZ, NULL);

	ck_assert(expect(&f, "x/a")->dir[NP_INGRESS]->isolated);
	ck_assert(expect(&f, "x/a")->dir[NP_EGRESS]->isolated);
	check_matrix(&f, TCP, 80,
		     ".XXXXXXXX X.XXXXXXX XX.XXXXXX XXX...... XXX...... XXX...... XXX...... "
		     "XXX...... XXX......");
	fixture_done(&f);
}
END_TEST

START_TEST(policy_types_egress_only)
{
	struct fixture f = load(NETPOL("x", "egress-y",
				       "{podSelector: {}, policyTypes: [Egress], "
				       "ingress: [], egress: [{to: "
				       "[{namespaceSelector: {matchLabels: {ns: "
				       "\"y\"}}}]}]}"),
				XYZ, NULL);

	/* ingress: [] is ignored: the policy does not affect ingress */
	ck_assert(!expect(&f, "x/a")->dir[NP_INGRESS]->isolated);
	check_matrix(&f, TCP, 80,
		     ".XX...XXX X.X...XXX XX....XXX ......... ......... ......... ......... "
		     "......... .........");
	fixture_done(&f);
}
END_TEST

START_TEST(egress_empty_without_policy_types)
{
	/* egress: [] with policyTypes omitted does not make the policy affect egress
	 * (SetDefaults_NetworkPolicy checks len(spec.egress) != 0). */
	struct fixture f =
		load(NETPOL("x", "egress-empty", "{podSelector: {}, egress: []}"), XYZ, NULL);

	ck_assert(expect(&f, "x/a")->dir[NP_INGRESS]->isolated);
	ck_assert(!expect(&f, "x/a")->dir[NP_EGRESS]->isolated);
	check_matrix(&f, TCP, 80,
		     ".XX...... X.X...... XX....... XXX...... XXX...... XXX...... XXX...... "
		     "XXX...... XXX......");
	fixture_done(&f);

	/* ...but written explicitly, it denies all egress. */
	f = load(NETPOL("x", "egress-empty",
			"{podSelector: {}, policyTypes: [Ingress, Egress], "
			"ingress: [{}], egress: []}"),
		 XYZ, NULL);
	ck_assert(expect(&f, "x/a")->dir[NP_EGRESS]->isolated);
	check_matrix(&f, TCP, 80,
		     ".XXXXXXXX X.XXXXXXX XX.XXXXXX ......... ......... ......... ......... "
		     "......... .........");
	fixture_done(&f);
}
END_TEST

START_TEST(policies_add_up)
{
	/* Policies are additive: a pod selected by several is allowed what any allows. */
	struct fixture f = load(
		NETPOL("x", "deny", "{podSelector: {}}")
			NETPOL("x", "from-y",
			       "{podSelector: {matchLabels: {pod: a}}, ingress: "
			       "[{from: [{namespaceSelector: {matchLabels: "
			       "{ns: \"y\"}}}]}]}")
				NETPOL("x", "from-z-81",
				       "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
				       "[{namespaceSelector: {matchLabels: {ns: \"z\"}}}], ports: "
				       "[{port: 81}]}]}"),
		XYZ, NULL);
	const struct policy_dir *d = expect(&f, "x/a")->dir[NP_INGRESS];

	check_to(&f, "x/a", TCP, 80, ".XX...XXX");
	check_to(&f, "x/a", TCP, 81, ".XX......");
	check_to(&f, "x/b", TCP, 81, "X.XXXXXXX");
	ck_assert_int_eq(d->n_policies, 3);
	ck_assert_str_eq(d->policies[0]->name, "deny");
	ck_assert_str_eq(d->policies[1]->name, "from-y");
	ck_assert_str_eq(d->policies[2]->name, "from-z-81");
	fixture_done(&f);
}
END_TEST

START_TEST(dual_stack)
{
	struct fixture f = load(NETPOL("d", "v4-block",
				       "{podSelector: {matchLabels: {app: p}}, "
				       "ingress: [{from: [{ipBlock: {cidr: "
				       "10.1.0.0/24}}]}]}"),
				DUAL, NULL);
	struct policy_verdict v;

	ck_assert(reach(&f, "d/q", "d/p", AF_INET, TCP, 80));
	ck_assert(!reach(&f, "d/q", "d/p", AF_INET6, TCP, 80));
	ck_assert(reach(&f, "d/r", "d/p", AF_INET, TCP, 80));
	ck_assert_int_eq(
		policy_engine_reach(f.e, pod(f.m, "d/r"), pod(f.m, "d/p"), AF_INET6, TCP, 80, &v),
		-EADDRNOTAVAIL);
	ck_assert_int_eq(
		policy_engine_reach(f.e, pod(f.m, "d/s"), pod(f.m, "d/p"), AF_INET, TCP, 80, &v),
		-EADDRNOTAVAIL);
	ck_assert(!reach(&f, "d/s", "d/p", AF_INET6, TCP, 80));
	fixture_done(&f);

	/* ::/0 is every IPv6 address and no IPv4 one. */
	f = load(NETPOL("d", "v6-all",
			"{podSelector: {matchLabels: {app: p}}, ingress: [{from: "
			"[{ipBlock: {cidr: \"::/0\"}}]}]}"),
		 DUAL, NULL);
	ck_assert(!reach(&f, "d/q", "d/p", AF_INET, TCP, 80));
	ck_assert(reach(&f, "d/q", "d/p", AF_INET6, TCP, 80));
	ck_assert(reach(&f, "d/s", "d/p", AF_INET6, TCP, 80));
	fixture_done(&f);

	/* Selectors select a pod with all its addresses. */
	f = load(NETPOL("d", "from-q",
			"{podSelector: {matchLabels: {app: p}}, ingress: [{from: "
			"[{podSelector: {matchLabels: {app: q}}}]}]}"),
		 DUAL, NULL);
	ck_assert(reach(&f, "d/q", "d/p", AF_INET, TCP, 80));
	ck_assert(reach(&f, "d/q", "d/p", AF_INET6, TCP, 80));
	ck_assert(!reach(&f, "d/r", "d/p", AF_INET, TCP, 80));
	ck_assert(!reach(&f, "d/s", "d/p", AF_INET6, TCP, 80));
	{
		struct strbuf sb = { 0 };
		ck_assert_str_eq(format_dir(expect(&f, "d/p")->dir[NP_INGRESS], &sb),
				 "TCP 0-65535 10.1.0.2/32,fd00::2/128\n"
				 "UDP 0-65535 10.1.0.2/32,fd00::2/128\n"
				 "SCTP 0-65535 10.1.0.2/32,fd00::2/128\n");
		strbuf_done(&sb);
	}
	fixture_done(&f);
}
END_TEST

START_TEST(exempt_pods)
{
	struct fixture f = load(NETPOL("x", "deny", "{podSelector: {}}")
					NETPOL("x", "same-ns",
					       "{podSelector: {}, ingress: [{from: "
					       "[{podSelector: {}}]}]}"),
				XYZ, EXEMPT, NULL);
	const struct policy_dir *d;

	/* Policies do not apply to them: not isolated. */
	ck_assert_int_eq(expect(&f, "x/noip")->exempt, POLICY_EXEMPT_NO_IP);
	ck_assert_int_eq(expect(&f, "x/term")->exempt, POLICY_EXEMPT_TERMINATING);
	ck_assert_int_eq(expect(&f, "x/host")->exempt, POLICY_EXEMPT_HOST_NETWORK);
	ck_assert_int_eq(expect(&f, "x/done")->exempt, POLICY_EXEMPT_FINISHED);
	ck_assert(!expect(&f, "x/host")->dir[NP_INGRESS]->isolated);
	ck_assert(!expect(&f, "x/term")->dir[NP_EGRESS]->isolated);

	/* ...and no selector picks them as peers, though they carry matching labels. (x/b is
	 * on node n2; x/host, the node address of n1, is tested in local_node_always_allowed.) */
	d = expect(&f, "x/b")->dir[NP_INGRESS];
	ck_assert(policy_dir_allows(d, np_v4(0x0a000101), TCP, 80)); /* x/a */
	ck_assert(!policy_dir_allows(d, np_v4(0xc0a80001), TCP, 80)); /* x/host */
	ck_assert(!policy_dir_allows(d, np_v4(0x0a00010a), TCP, 80)); /* x/term */
	ck_assert(!policy_dir_allows(d, np_v4(0x0a00010b), TCP, 80)); /* x/done */
	ck_assert(!reach(&f, "x/host", "x/b", AF_INET, TCP, 80));
	ck_assert(!reach(&f, "x/term", "x/b", AF_INET, TCP, 80));
	ck_assert(reach(&f, "x/a", "x/host", AF_INET, TCP, 80));
	fixture_done(&f);

	/* A policy whose selector matches only exempt pods isolates nothing. */
	f = load(NETPOL("x", "extra", "{podSelector: {matchLabels: {extra: \"true\"}}}"), XYZ,
		 EXEMPT, NULL);
	ck_assert(!expect(&f, "x/term")->dir[NP_INGRESS]->isolated);
	ck_assert(!expect(&f, "x/a")->dir[NP_INGRESS]->isolated);
	fixture_done(&f);

	/* An ipBlock still matches a hostNetwork pod's address (it is just an address). */
	f = load(NETPOL("x", "from-node",
			"{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
			"[{ipBlock: {cidr: 192.168.0.0/16}}]}]}"),
		 XYZ, EXEMPT, NULL);
	ck_assert(reach(&f, "x/host", "x/a", AF_INET, TCP, 80));
	ck_assert(!reach(&f, "x/b", "x/a", AF_INET, TCP, 80));
	fixture_done(&f);
}
END_TEST

START_TEST(local_node_always_allowed)
{
	/* API reference, NetworkPolicySpec.ingress: traffic is allowed to a pod "if the traffic
	 * source is the pod's local node". x/host is a hostNetwork pod on n1, so 192.168.0.1 is
	 * n1's address: it may reach x/a (on n1) under deny-all, but not x/b (on n2). Egress to
	 * the node is not special. */
	struct fixture f = load(NETPOL("x", "deny",
				       "{podSelector: {}, policyTypes: [Ingress, "
				       "Egress]}"),
				XYZ, EXEMPT, NULL);
	const struct policy_dir *in = expect(&f, "x/a")->dir[NP_INGRESS];
	struct strbuf sb = { 0 };

	ck_assert(in->isolated);
	ck_assert(policy_dir_allows(in, np_v4(0xc0a80001), UDP, 53));
	ck_assert(policy_dir_allows(in, np_v4(0xc0a80001), SCTP, 1));
	ck_assert(!policy_dir_allows(in, np_v4(0x0a000102), TCP, 80));
	ck_assert_str_eq(format_dir(in, &sb), "TCP 0-65535 192.168.0.1/32\n"
					      "UDP 0-65535 192.168.0.1/32\n"
					      "SCTP 0-65535 192.168.0.1/32\n");
	ck_assert(reach(&f, "x/host", "x/a", AF_INET, TCP, 80));
	ck_assert(!reach(&f, "x/host", "x/b", AF_INET, TCP, 80));
	ck_assert(!policy_dir_allows(expect(&f, "x/a")->dir[NP_EGRESS], np_v4(0xc0a80001), TCP,
				     10250));
	/* pods on another node share nothing node-specific */
	ck_assert_int_eq(expect(&f, "x/b")->dir[NP_INGRESS]->local_node.n, 0);
	ck_assert_int_eq(expect(&f, "x/b")->dir[NP_INGRESS]->n_segs[POLICY_TCP], 0);
	strbuf_done(&sb);
	fixture_done(&f);
}
END_TEST

START_TEST(self_traffic_always_allowed)
{
	struct fixture f = load(NETPOL("x", "deny-both",
				       "{podSelector: {}, policyTypes: [Ingress, "
				       "Egress]}"),
				XYZ, NULL);
	struct policy_verdict v;

	ck_assert_int_eq(
		policy_engine_reach(f.e, pod(f.m, "x/a"), pod(f.m, "x/a"), AF_INET, TCP, 80, &v),
		0);
	ck_assert(v.allowed && v.self);
	check_matrix(&f, UDP, 81,
		     ".XXXXXXXX X.XXXXXXX XX.XXXXXX XXX...... XXX...... XXX...... XXX...... "
		     "XXX...... XXX......");
	fixture_done(&f);
}
END_TEST

START_TEST(canonical_equality)
{
	/* The same allowed set written three ways must compare equal byte for byte. */
	struct fixture a = load(NETPOL("x", "one",
				       "{podSelector: {matchLabels: {pod: a}}, ingress: "
				       "[{from: [{namespaceSelector: {matchLabels: "
				       "{ns: \"y\"}}}], ports: [{port: 80}, {port: "
				       "81}]}]}"),
				XYZ, NULL);
	struct fixture b =
		load(NETPOL("x", "b1",
			    "{podSelector: {matchLabels: {pod: a}}, ingress: [{from: "
			    "[{namespaceSelector: {matchExpressions: [{key: ns, operator: In, "
			    "values: [\"y\"]}]}}], ports: [{port: 81}]}]}")
			     NETPOL("x", "b2",
				    "{podSelector: {matchExpressions: [{key: pod, operator: "
				    "In, values: [a]}]}, ingress: [{from: [{podSelector: {}, "
				    "namespaceSelector: {matchLabels: {ns: \"y\"}}}], ports: "
				    "[{port: 80, endPort: 80, protocol: TCP}]}]}"),
		     XYZ, NULL);
	/* The three y pods' addresses as ipBlocks, with a range and a split. */
	struct fixture c = load(NETPOL("x", "cidrs",
				       "{podSelector: {matchLabels: {pod: a}}, "
				       "ingress: [{from: [{ipBlock: {cidr: "
				       "10.0.2.0/30, except: [10.0.2.0/32]}}, "
				       "{ipBlock: {cidr: 10.0.2.3/32}}], ports: "
				       "[{port: 80, endPort: 81}]}]}"),
				XYZ, NULL);
	/* A superset: the whole /24. */
	struct fixture d = load(NETPOL("x", "wide",
				       "{podSelector: {matchLabels: {pod: a}}, ingress: "
				       "[{from: [{ipBlock: {cidr: 10.0.2.0/24}}], ports: "
				       "[{port: 80, endPort: 81}]}]}"),
				XYZ, NULL);
	struct strbuf sa = { 0 }, sb = { 0 }, sc = { 0 };
	const struct policy_expect *xa = expect(&a, "x/a"), *xb = expect(&b, "x/a"),
				   *xc = expect(&c, "x/a"), *xd = expect(&d, "x/a");

	ck_assert_str_eq(format_dir(xa->dir[NP_INGRESS], &sa),
			 "TCP 80-81 10.0.2.1/32,10.0.2.2/31\n");
	ck_assert_str_eq(format_dir(xb->dir[NP_INGRESS], &sb), strbuf_str(&sa));
	ck_assert_str_eq(format_dir(xc->dir[NP_INGRESS], &sc), strbuf_str(&sa));
	ck_assert(policy_expect_equal(xa, xb));
	ck_assert(policy_expect_equal(xa, xc));
	ck_assert(!policy_expect_equal(xa, xd));
	ck_assert(policy_expect_hash(xa) == policy_expect_hash(xb));
	ck_assert(policy_expect_hash(xa) == policy_expect_hash(xc));
	ck_assert(policy_expect_hash(xa) != policy_expect_hash(xd));
	ck_assert(policy_dir_hash(xa->dir[NP_INGRESS]) != policy_dir_hash(xa->dir[NP_EGRESS]));
	ck_assert(!policy_expect_equal(xa, expect(&a, "x/b")));
	/* provenance differs although the sets are equal */
	ck_assert_int_eq(xa->dir[NP_INGRESS]->n_terms, 2);
	ck_assert_int_eq(xb->dir[NP_INGRESS]->n_terms, 2);
	ck_assert_str_eq(xb->dir[NP_INGRESS]->terms[0].policy->name, "b1");
	strbuf_done(&sa);
	strbuf_done(&sb);
	strbuf_done(&sc);
	fixture_done(&a);
	fixture_done(&b);
	fixture_done(&c);
	fixture_done(&d);
}
END_TEST

START_TEST(canonical_segments_and_cuts)
{
	/* Two overlapping port ranges with different peers: 80-89 from y, 85-99 from z.
	 * Canonical: 80-84 {y}, 85-89 {y,z}, 90-99 {z}. */
	struct fixture f = load(NETPOL("x", "ranges",
				       "{podSelector: {matchLabels: {pod: a}}, "
				       "ingress: [{from: [{namespaceSelector: "
				       "{matchLabels: {ns: \"y\"}}}], ports: [{port: "
				       "80, endPort: 89}]}, {from: "
				       "[{namespaceSelector: {matchLabels: {ns: "
				       "\"z\"}}}], ports: [{port: 85, endPort: "
				       "99}]}]}"),
				XYZ, NULL);
	const struct policy_dir *d = expect(&f, "x/a")->dir[NP_INGRESS];
	struct strbuf sb = { 0 };
	uint32_t *pc;
	np_u128 *ac;
	size_t n;

	ck_assert_str_eq(format_dir(d, &sb),
			 "TCP 80-84 10.0.2.1/32,10.0.2.2/31\n"
			 "TCP 85-89 10.0.2.1/32,10.0.2.2/31,10.0.3.1/32,10.0.3.2/31\n"
			 "TCP 90-99 10.0.3.1/32,10.0.3.2/31\n");
	ck_assert_int_eq(policy_dir_port_cuts(d, POLICY_TCP, &pc, &n), 0);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(pc[0], 80);
	ck_assert_int_eq(pc[1], 85);
	ck_assert_int_eq(pc[2], 90);
	ck_assert_int_eq(pc[3], 100);
	free(pc);
	ck_assert_int_eq(policy_dir_addr_cuts(d, &ac, &n), 0);
	ck_assert_int_eq(n, 4);
	ck_assert(ac[0] == np_v4(0x0a000201) && ac[1] == np_v4(0x0a000204));
	ck_assert(ac[2] == np_v4(0x0a000301) && ac[3] == np_v4(0x0a000304));
	free(ac);
	strbuf_done(&sb);
	fixture_done(&f);
}
END_TEST

START_TEST(isolation_is_per_namespace)
{
	/* A policy only selects pods of its own namespace, whatever its podSelector says. */
	struct fixture f =
		load(NETPOL("x", "deny-a", "{podSelector: {matchLabels: {pod: a}}}"), XYZ, NULL);

	ck_assert(expect(&f, "x/a")->dir[NP_INGRESS]->isolated);
	ck_assert(!expect(&f, "y/a")->dir[NP_INGRESS]->isolated);
	ck_assert(!expect(&f, "z/a")->dir[NP_INGRESS]->isolated);
	fixture_done(&f);
}
END_TEST

START_TEST(node_compile_and_sharing)
{
	struct fixture f = load(NETPOL("x", "deny", "{podSelector: {}}")
					NETPOL("y", "deny", "{podSelector: {}}"),
				XYZ, NULL);
	const struct policy_expect *v[16];
	int n = policy_engine_expect_node(f.e, "n1", v, ELEMENTSOF(v));

	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(v[0]->pod->ns, "x");
	ck_assert_str_eq(v[1]->pod->ns, "y");
	ck_assert_str_eq(v[2]->pod->ns, "z");
	ck_assert(v[0]->dir[NP_INGRESS]->isolated && v[1]->dir[NP_INGRESS]->isolated);
	ck_assert(!v[2]->dir[NP_INGRESS]->isolated);
	/* pods selected by the same policies share one compiled direction */
	ck_assert_ptr_eq(expect(&f, "x/a")->dir[NP_INGRESS], expect(&f, "x/b")->dir[NP_INGRESS]);
	ck_assert_int_eq(policy_engine_expect_node(f.e, "n1", v, 2), -ENOBUFS);
	ck_assert_int_eq(policy_engine_expect_node(f.e, "nowhere", v, 0), 0);
	fixture_done(&f);
}
END_TEST

START_TEST(large_selection)
{
	/* 3000 pods at scattered addresses, selected by one namespaceSelector: the peer set must
	 * be exactly their addresses (large sets take a different sorting path). */
	struct strbuf sb = { 0 };
	struct np_iset want = { 0 };
	const struct policy_dir *d;
	struct fixture f;
	uint32_t a = 12345;

	strbuf_puts(&sb, NETPOL("x", "from-big",
				"{podSelector: {matchLabels: {pod: a}}, ingress: "
				"[{from: [{namespaceSelector: {matchLabels: "
				"{kubernetes.io/metadata.name: big}}}]}]}"));
	for (int i = 0; i < 3000; i++) {
		a = a * 1103515245u + 12345u;
		/* 172.16.0.0/12, some addresses repeated (a pod IP reused after another pod's
		 * deletion shows up twice in a racy dump) */
		uint32_t ip = 0xac100000u | ((a >> 8) & 0xfffffu);
		if (i % 97 == 0)
			ip = 0xac100001u;
		strbuf_printf(&sb,
			      "---\n{apiVersion: v1, kind: Pod, metadata: {name: p%d, namespace: "
			      "big}, spec: {}, status: {phase: Running, podIP: %u.%u.%u.%u}}\n",
			      i, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
		ck_assert_int_eq(np_iset_add(&want, np_v4(ip), np_v4(ip)), 0);
	}
	np_iset_normalize(&want);
	f = load(strbuf_str(&sb), XYZ, NULL);
	d = expect(&f, "x/a")->dir[NP_INGRESS];
	ck_assert_int_eq(d->n_segs[POLICY_TCP], 1);
	ck_assert(np_iset_equal(&d->segs[POLICY_TCP][0].addrs, &want));
	ck_assert(policy_dir_allows(d, np_v4(0xac100001u), UDP, 9));
	ck_assert(!policy_dir_allows(d, np_v4(0x0a000201), UDP, 9));
	np_iset_done(&want);
	strbuf_done(&sb);
	fixture_done(&f);
}
END_TEST

START_TEST(model_change_recompiles)
{
	struct fixture f = load(NULL, XYZ, NULL);
	const char *pol = NETPOL("x", "deny", "{podSelector: {}}");
	struct np_error err;

	ck_assert(!expect(&f, "x/a")->dir[NP_INGRESS]->isolated);
	ck_assert_int_eq(model_load_buffer(f.m, pol, strlen(pol), "inline", &err), 0);
	ck_assert(expect(&f, "x/a")->dir[NP_INGRESS]->isolated);
	fixture_done(&f);
}
END_TEST

START_TEST(policy_types_defaulting)
{
	struct fixture f = load(
		NETPOL("x", "p1", "{podSelector: {}}") NETPOL("x", "p2",
							      "{podSelector: {}, egress: "
							      "[{}]}")
			NETPOL("x", "p3", "{podSelector: {}, egress: []}")
				NETPOL("x", "p4", "{podSelector: {}, policyTypes: [Egress]}")
					NETPOL("x", "p5", "{podSelector: {}, policyTypes: []}"),
		XYZ, NULL);
	static const struct {
		const char *name;
		uint8_t types;
	} want[] = {
		{ "p1", MODEL_POLICY_TYPE_INGRESS },
		{ "p2", MODEL_POLICY_TYPE_INGRESS | MODEL_POLICY_TYPE_EGRESS },
		{ "p3", MODEL_POLICY_TYPE_INGRESS },
		{ "p4", MODEL_POLICY_TYPE_EGRESS },
		{ "p5", MODEL_POLICY_TYPE_INGRESS },
	};

	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		const struct model_policy *p = model_policy_get(f.m, "x", want[i].name);
		ck_assert_ptr_nonnull(p);
		ck_assert_msg(policy_effective_types(p) == want[i].types, "%s", want[i].name);
	}
	fixture_done(&f);
}
END_TEST

/*
 * Randomised cross-check against a direct reading of the spec: for random policies over the
 * x/y/z cluster, every connection and a set of non-pod addresses are judged packet by packet
 * by naive_allows() below — written from the API reference, scanning everything, sharing no
 * code with the engine but the model's label matching — and the engine must agree.
 */
static uint32_t rnd_state;

static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

static bool naive_port_matches(const struct model_policy_port *pp, const struct model_pod *dst,
			       uint8_t proto, uint16_t port)
{
	if (pp->proto != proto)
		return false;
	if (!pp->has_port)
		return true;
	if (pp->port_name) {
		/* resolved on the destination pod; none (not a pod) matches nothing */
		for (uint16_t i = 0; dst && i < dst->n_ports; i++)
			if (dst->ports[i].name && streq(dst->ports[i].name, pp->port_name) &&
			    dst->ports[i].proto == proto && dst->ports[i].port == port)
				return true;
		return false;
	}
	return port >= pp->port && port <= (pp->end_port ? pp->end_port : pp->port);
}

static bool naive_peer_matches(const struct model *m, const struct model_policy *pol,
			       const struct model_peer *peer, np_u128 addr,
			       const struct model_pod *q)
{
	if (peer->ipblock) {
		bool v4 = addr >= NP_V4_BASE && addr <= NP_V4_LAST;
		if (v4 != (peer->ipblock->family == AF_INET))
			return false;
		if (addr < peer->ipblock->lo || addr > peer->ipblock->hi)
			return false;
		for (uint32_t i = 0; i < peer->ipblock->n_except; i++)
			if (addr >= peer->ipblock->except[i].lo &&
			    addr <= peer->ipblock->except[i].hi)
				return false;
		return true;
	}
	if (!q)
		return false;
	if (peer->namespace_selector.present) {
		const struct model_namespace *ns = model_namespace_get(m, q->ns);
		if (!ns || !model_selector_matches(&peer->namespace_selector, &ns->labels))
			return false;
	} else if (!streq(q->ns, pol->ns))
		return false;
	if (peer->pod_selector.present && !model_selector_matches(&peer->pod_selector, &q->labels))
		return false;
	return peer->pod_selector.present || peer->namespace_selector.present;
}

/* Does pod p's direction d allow peer address addr on (proto, port)? */
static bool naive_allows(const struct model *m, const struct model_pod *p, enum np_dir d,
			 np_u128 addr, uint8_t proto, uint16_t port)
{
	const struct model_policy *const *pols;
	const struct model_pod *q = model_pod_by_ip(m, addr);
	size_t n = model_policies_in_namespace(m, p->ns, &pols);
	bool isolated = false;

	if (p->n_ips == 0 || p->host_network || p->terminating || p->phase == MODEL_POD_SUCCEEDED ||
	    p->phase == MODEL_POD_FAILED)
		return true;
	for (size_t i = 0; i < n; i++) {
		const struct model_policy *pol = pols[i];
		uint8_t types = pol->policy_types;
		uint8_t want =
			d == NP_INGRESS ? MODEL_POLICY_TYPE_INGRESS : MODEL_POLICY_TYPE_EGRESS;

		if (!types)
			types = MODEL_POLICY_TYPE_INGRESS |
				(pol->n_rules[NP_EGRESS] > 0 ? MODEL_POLICY_TYPE_EGRESS : 0);
		if (!(types & want))
			continue;
		if (pol->pod_selector.present &&
		    !model_selector_matches(&pol->pod_selector, &p->labels))
			continue;
		isolated = true;
		/* the pod's own node may always connect in (its hostNetwork pods' address) */
		if (d == NP_INGRESS && q == NULL) {
			const struct model_pod *const *all;
			size_t na = model_pods(m, &all);
			for (size_t k = 0; k < na; k++)
				if (all[k]->host_network && all[k]->node && p->node &&
				    streq(all[k]->node, p->node) && all[k]->n_ips &&
				    all[k]->ips[0] == addr)
					return true;
		}
		for (uint32_t r = 0; r < pol->n_rules[d]; r++) {
			const struct model_rule *rule = &pol->rules[d][r];
			bool port_ok = rule->n_ports == 0, peer_ok = rule->n_peers == 0;

			for (uint32_t k = 0; k < rule->n_ports && !port_ok; k++)
				port_ok = naive_port_matches(&rule->ports[k],
							     d == NP_INGRESS ? p : q, proto, port);
			for (uint32_t k = 0; k < rule->n_peers && !peer_ok; k++)
				peer_ok = naive_peer_matches(m, pol, &rule->peers[k], addr, q);
			if (port_ok && peer_ok)
				return true;
		}
	}
	return !isolated;
}

static void random_selector(struct strbuf *sb, bool ns)
{
	static const char *const pod_sel[] = {
		"{}",
		"{matchLabels: {pod: a}}",
		"{matchLabels: {pod: b}}",
		"{matchExpressions: [{key: pod, operator: In, values: [a, c]}]}",
		"{matchExpressions: [{key: pod, operator: NotIn, values: [b]}]}",
		"{matchExpressions: [{key: pod, operator: Exists}]}",
		"{matchExpressions: [{key: pod, operator: DoesNotExist}]}",
		"{matchLabels: {pod: c}, matchExpressions: [{key: tier, operator: DoesNotExist}]}",
	};
	static const char *const ns_sel[] = {
		"{}",
		"{matchLabels: {ns: \"y\"}}",
		"{matchExpressions: [{key: env, operator: Exists}]}",
		"{matchExpressions: [{key: env, operator: NotIn, values: [prod]}]}",
		"{matchLabels: {kubernetes.io/metadata.name: \"z\"}}",
		"{matchExpressions: [{key: ns, operator: In, values: [\"x\", \"z\"]}]}",
	};
	if (ns)
		strbuf_puts(sb, ns_sel[rnd(ELEMENTSOF(ns_sel))]);
	else
		strbuf_puts(sb, pod_sel[rnd(ELEMENTSOF(pod_sel))]);
}

static void random_rules(struct strbuf *sb)
{
	static const char *const blocks[] = {
		"{cidr: 10.0.0.0/16}",
		"{cidr: 10.0.2.0/24, except: [10.0.2.2/32]}",
		"{cidr: 10.0.1.0/30}",
		"{cidr: 0.0.0.0/0, except: [10.0.3.0/24, 10.0.1.2/32]}",
		"{cidr: \"fd00::/8\"}",
		"{cidr: 10.0.3.2/31}",
		"{cidr: \"::/0\", except: [\"fd00::/64\"]}",
	};
	static const char *const ports[] = {
		"{port: 80}",
		"{protocol: UDP, port: 81}",
		"{port: 80, endPort: 81}",
		"{protocol: SCTP}",
		"{port: serve-81-tcp}",
		"{protocol: UDP, port: serve-80-udp}",
		"{port: web}",
		"{}",
		"{protocol: TCP, port: 79, endPort: 80}",
		"{protocol: SCTP, port: serve-80-sctp}",
	};
	uint32_t n = rnd(3);

	strbuf_puts(sb, "[");
	for (uint32_t i = 0; i < n; i++) {
		uint32_t np = rnd(4), nq = rnd(4);

		strbuf_puts(sb, i ? ", {" : "{");
		if (np == 1)
			strbuf_puts(sb, "peers: [], ");
		else if (np > 1) {
			strbuf_puts(sb, "peers: [");
			for (uint32_t k = 0; k < np - 1; k++) {
				uint32_t kind = rnd(4);
				strbuf_puts(sb, k ? ", {" : "{");
				if (kind == 0) {
					strbuf_puts(sb, "ipBlock: ");
					strbuf_puts(sb, blocks[rnd(ELEMENTSOF(blocks))]);
				} else {
					if (kind & 1) {
						strbuf_puts(sb, "namespaceSelector: ");
						random_selector(sb, true);
					}
					if (kind & 2) {
						strbuf_puts(sb, kind & 1 ? ", podSelector: "
									 : "podSelector: ");
						random_selector(sb, false);
					}
				}
				strbuf_puts(sb, "}");
			}
			strbuf_puts(sb, "], ");
		}
		if (nq == 1)
			strbuf_puts(sb, "ports: []");
		else if (nq > 1) {
			strbuf_puts(sb, "ports: [");
			for (uint32_t k = 0; k < nq - 1; k++) {
				strbuf_puts(sb, k ? ", " : "");
				strbuf_puts(sb, ports[rnd(ELEMENTSOF(ports))]);
			}
			strbuf_puts(sb, "]");
		} else
			strbuf_puts(sb, "x-none: 1");
		strbuf_puts(sb, "}");
	}
	strbuf_puts(sb, "]");
}

/* Replaces every "peers:" with from: (ingress) or to: (egress) in s from offset off. */
static void name_peers(struct strbuf *sb, size_t off, const char *word)
{
	for (char *p = sb->s + off; (p = strstr(p, "peers:"));)
		memcpy(p, word, 6), p += 6;
}

START_TEST(random_cross_check)
{
	static const char *const types[] = { "", "policyTypes: [Ingress], ",
					     "policyTypes: [Egress], ",
					     "policyTypes: [Ingress, Egress], " };
	static const char *const extra[] = { "10.0.2.200", "10.0.3.3", "192.168.1.1", "10.0.1.2",
					     "fd00::5",	   "10.0.0.1", "192.168.0.1", "10.0.1.10" };
	static const uint16_t ports[] = { 79, 80, 81, 82 };
	size_t checks = 0;

	rnd_state = 20261201u + (uint32_t)_i;
	for (int scenario = 0; scenario < 16; scenario++) {
		struct strbuf sb = { 0 };
		uint32_t n = 1 + rnd(4);
		struct fixture f;

		for (uint32_t i = 0; i < n; i++) {
			size_t off;
			strbuf_printf(
				&sb,
				"---\n{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, "
				"metadata: {name: p%u, namespace: \"%c\"}, spec: {",
				i, "xyz"[rnd(3)]);
			strbuf_puts(&sb, "podSelector: ");
			random_selector(&sb, false);
			strbuf_printf(&sb, ", %s", types[rnd(4)]);
			if (rnd(3)) {
				strbuf_puts(&sb, "ingress: ");
				off = sb.len;
				random_rules(&sb);
				name_peers(&sb, off, "from: ");
				strbuf_puts(&sb, ", ");
			}
			if (rnd(3)) {
				strbuf_puts(&sb, "egress: ");
				off = sb.len;
				random_rules(&sb);
				name_peers(&sb, off, "to:   ");
				strbuf_puts(&sb, ", ");
			}
			strbuf_puts(&sb, "x-end: 1}}\n");
		}
		f = load(strbuf_str(&sb), XYZ, NAMED, EXEMPT, NULL);
		for (int i = 0; i < 9; i++) {
			const struct model_pod *src = pod(f.m, pods9[i]);
			const struct policy_expect *xs = expect(&f, pods9[i]);

			for (int x = 0; x < _POLICY_PROTO_MAX; x++)
				for (size_t k = 0; k < ELEMENTSOF(ports); k++) {
					uint8_t proto = policy_proto_numbers[x];
					uint16_t port = ports[k];

					for (int j = 0; j < 9; j++) {
						const struct model_pod *dst = pod(f.m, pods9[j]);
						bool want =
							i == j ||
							(naive_allows(f.m, src, NP_EGRESS,
								      dst->ips[0], proto, port) &&
							 naive_allows(f.m, dst, NP_INGRESS,
								      src->ips[0], proto, port));
						ck_assert_msg(reach(&f, pods9[i], pods9[j], AF_INET,
								    proto, port) == want,
							      "%s -> %s %s/%u: want %d\n%s",
							      pods9[i], pods9[j],
							      np_proto_name(proto), port, want,
							      strbuf_str(&sb));
						checks++;
					}
					for (size_t e = 0; e < ELEMENTSOF(extra); e++) {
						np_u128 a;
						ck_assert_int_ge(np_addr_parse(extra[e], &a), 0);
						for (int d = 0; d < 2; d++) {
							bool want = naive_allows(f.m, src, d, a,
										 proto, port);
							ck_assert_msg(
								policy_dir_allows(xs->dir[d], a,
										  proto,
										  port) == want,
								"%s %s %s %s/%u: want %d\n%s",
								pods9[i], d ? "egress" : "ingress",
								extra[e], np_proto_name(proto),
								port, want, strbuf_str(&sb));
							checks++;
						}
					}
				}
		}
		fixture_done(&f);
		strbuf_done(&sb);
	}
	ck_assert_int_gt(checks, 16 * 9 * 12 * 9);
}
END_TEST

/* Runs the npaudit binary (path in $NPAUDIT) and returns its exit status and stdout. */
static int run_npaudit(char *const argv[], char *out, size_t size)
{
	int fds[2], status;
	size_t len = 0;
	ssize_t k;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while (len + 1 < size && (k = read(fds[0], out + len, size - len - 1)) > 0)
		len += (size_t)k;
	out[len] = 0;
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(cli_matrix_json)
{
	const char *bin = getenv("NPAUDIT");
	static char out[1 << 20];
	json_error_t je;
	json_t *root, *results, *it;
	size_t i, n_ok = 0;

	ck_assert_msg(bin && *bin, "NPAUDIT is not set");
	{
		char *const argv[] = { (char *)bin, "matrix",
				       "--state",   XYZ,
				       "--state",   TEST_DATA "/policy/deny-x-ingress.yaml",
				       "--port",    "80",
				       "--json",    NULL };
		ck_assert_int_eq(run_npaudit(argv, out, sizeof(out)), 0);
	}
	root = json_loads(out, 0, &je);
	ck_assert_msg(root, "not JSON: %s", je.text);
	results = json_object_get(root, "results");
	ck_assert(json_is_array(results));
	/* 9 pods, ordered pairs including self, one port */
	ck_assert_int_eq(json_array_size(results), 81);
	json_array_foreach(results, i, it)
	{
		const char *from = json_string_value(json_object_get(it, "from"));
		const char *to = json_string_value(json_object_get(it, "to"));
		bool allowed = json_is_true(json_object_get(it, "allowed"));

		ck_assert_int_eq(json_integer_value(json_object_get(it, "port")), 80);
		ck_assert_str_eq(json_string_value(json_object_get(it, "protocol")), "TCP");
		ck_assert(json_is_array(json_object_get(it, "reasons")));
		ck_assert(json_array_size(json_object_get(it, "reasons")) > 0);
		/* deny-x-ingress: nothing may enter namespace x except a pod to itself */
		if (to[0] == 'x' && !streq(from, to)) {
			ck_assert_msg(!allowed, "%s -> %s", from, to);
			ck_assert(json_is_true(json_object_get(it, "egress")));
			ck_assert(json_is_false(json_object_get(it, "ingress")));
		} else {
			ck_assert_msg(allowed, "%s -> %s", from, to);
			n_ok++;
		}
	}
	ck_assert_int_eq(n_ok, 81 - 9 * 3 + 3);
	json_decref(root);

	{
		char *const argv[] = { (char *)bin, "matrix",
				       "--state",   XYZ,
				       "--state",   TEST_DATA "/policy/deny-x-ingress.yaml",
				       "--port",    "81/UDP",
				       NULL };
		ck_assert_int_eq(run_npaudit(argv, out, sizeof(out)), 0);
		ck_assert_msg(strstr(out, "x/b\tX\t.\tX\t.\t.\t.\t.\t.\t.\n"), "%s", out);
		ck_assert_msg(strstr(out, "y/a\tX\tX\tX\t.\t.\t.\t.\t.\t.\n"), "%s", out);
	}
	{
		/* A malformed policy is skipped with a diagnostic: the rest still answers, exit 2.
		 */
		char *const argv[] = { (char *)bin, "matrix",
				       "--state",   XYZ,
				       "--state",   TEST_DATA "/policy/partly-broken.yaml",
				       "--port",    "80",
				       NULL };
		ck_assert_int_eq(run_npaudit(argv, out, sizeof(out)), 2);
		ck_assert_msg(strstr(out, "y/a\tX\t.\t.\t.\t.\t.\t.\t.\t.\n"), "%s", out);
	}
	{
		char *const argv[] = { (char *)bin, "expect",
				       "--state",   XYZ,
				       "--state",   TEST_DATA "/policy/deny-x-ingress.yaml",
				       "--pod",	    "x/a",
				       "--json",    NULL };
		json_t *x, *in, *eg;

		ck_assert_int_eq(run_npaudit(argv, out, sizeof(out)), 0);
		root = json_loads(out, 0, &je);
		ck_assert_msg(root, "not JSON: %s", je.text);
		ck_assert_int_eq(json_array_size(json_object_get(root, "pods")), 1);
		x = json_array_get(json_object_get(root, "pods"), 0);
		ck_assert_str_eq(json_string_value(json_object_get(x, "pod")), "x/a");
		in = json_object_get(x, "ingress");
		eg = json_object_get(x, "egress");
		ck_assert(json_is_true(json_object_get(in, "isolated")));
		ck_assert_str_eq(
			json_string_value(json_array_get(json_object_get(in, "policies"), 0)),
			"x/deny-ingress");
		ck_assert_int_eq(json_array_size(json_object_get(in, "allowed")), 0);
		ck_assert(json_is_false(json_object_get(eg, "isolated")));
		/* not isolated: every port of the three protocols from everywhere */
		ck_assert_int_eq(json_array_size(json_object_get(eg, "allowed")), 3);
		json_decref(root);
	}
	{
		char *const argv[] = { (char *)bin, "expect", "--state", XYZ, NULL };
		ck_assert_int_eq(run_npaudit(argv, out, sizeof(out)), 2);
	}
	{
		char *const argv[] = { (char *)bin, "matrix", "--state", "/nonexistent", NULL };
		ck_assert_int_eq(run_npaudit(argv, out, sizeof(out)), 2);
	}
	{
		char *const argv[] = { (char *)bin, "explain",
				       "--state",   XYZ,
				       "--state",   TEST_DATA "/policy/deny-x-ingress.yaml",
				       "--from",    "y/a",
				       "--to",	    "x/b",
				       "--port",    "80",
				       NULL };
		ck_assert_int_eq(run_npaudit(argv, out, sizeof(out)), 0);
		ck_assert_msg(strstr(out, "DENIED"), "%s", out);
		ck_assert_msg(strstr(out, "x/deny-ingress"), "%s", out);
	}
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("conformance");

	/* generous: the suite also runs under ASan+UBSan on loaded CI machines */
	tcase_set_timeout(tc, 60);

	tcase_add_test(tc, no_policy_allows_everything);
	tcase_add_test(tc, deny_all_ingress);
	tcase_add_test(tc, deny_all_egress);
	tcase_add_test(tc, allow_same_namespace);
	tcase_add_test(tc, namespace_selector);
	tcase_add_test(tc, namespace_selector_empty_is_all_namespaces);
	tcase_add_test(tc, pod_and_namespace_selector_combined);
	tcase_add_test(tc, pod_and_namespace_selector_as_two_peers);
	tcase_add_test(tc, match_expressions);
	tcase_add_test(tc, ipblock_except);
	tcase_add_test(tc, ipblock_except_overlapped_by_another_peer);
	tcase_add_test(tc, egress_deny_wins_over_ingress_allow);
	tcase_add_test(tc, end_port);
	tcase_add_test(tc, named_port_ingress);
	tcase_add_test(tc, named_port_egress_per_peer);
	tcase_add_test(tc, named_port_egress_and_ingress_together);
	tcase_add_test(tc, protocol_defaults_to_tcp);
	tcase_add_test(tc, sctp);
	tcase_add_test(tc, port_without_number_or_protocol);
	tcase_add_test(tc, missing_pod_selector_selects_all);
	tcase_add_test(tc, namespace_name_label);
	tcase_add_test(tc, ingress_empty_list_vs_empty_rule);
	tcase_add_test(tc, from_empty_vs_missing);
	tcase_add_test(tc, policy_types_omitted_with_only_egress);
	tcase_add_test(tc, policy_types_egress_only);
	tcase_add_test(tc, egress_empty_without_policy_types);
	tcase_add_test(tc, policies_add_up);
	tcase_add_test(tc, dual_stack);
	tcase_add_test(tc, exempt_pods);
	tcase_add_test(tc, self_traffic_always_allowed);
	tcase_add_test(tc, local_node_always_allowed);
	tcase_add_test(tc, isolation_is_per_namespace);
	tcase_add_test(tc, policy_types_defaulting);
	suite_add_tcase(s, tc);

	tc = tcase_create("engine");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, canonical_equality);
	tcase_add_test(tc, canonical_segments_and_cuts);
	tcase_add_test(tc, node_compile_and_sharing);
	tcase_add_test(tc, model_change_recompiles);
	tcase_add_test(tc, large_selection);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_add_loop_test(tc, random_cross_check, 0, 8);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("cli");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, cli_matrix_json);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	int failed;

	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
