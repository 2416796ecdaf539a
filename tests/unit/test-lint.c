/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lint and the CNI detection on hand-written dumps that look like real clusters.
 *
 * tests/data/lint/cluster.yaml is a two-node cluster (shop, payments, monitoring, CoreDNS,
 * Calico); each tests/data/lint/<family>.yaml adds policies with positive and negative cases
 * for one family of lint kinds. tests/data/cni/<cni>/ holds the CNI's DaemonSet and agent pod
 * and a copy of the node's /etc/cni/net.d; workload.yaml adds a pod on node-1 and a policy
 * selecting it.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "lint/lint.h"

#define LINT_DATA TEST_DATA "/lint"

static inline void *mfree(void *p)
{
	free(p);
	return NULL;
}
#define CNI_DATA TEST_DATA "/cni"
#define CLUSTER LINT_DATA "/cluster.yaml"

static struct model *load(const char *file, ...)
{
	struct model *m;
	struct np_error err = { 0 };
	char buf[1200];
	va_list ap;

	ck_assert_int_eq(model_new(&m), 0);
	va_start(ap, file);
	for (const char *p = file; p; p = va_arg(ap, const char *)) {
		int r = model_load_file(m, p, &err);
		ck_assert_msg(r == 0, "loading %s: %d %s", p, r,
			      np_error_format(&err, buf, sizeof(buf)));
	}
	va_end(ap);
	return m;
}

static struct lint_report *run(const struct model *m, const struct lint_options *o)
{
	struct lint_report *rep = NULL;
	struct np_error err = { 0 };
	char buf[1200];
	int r = lint_run(m, o, &rep, &err);

	ck_assert_msg(r == 0, "lint_run: %d %s", r, np_error_format(&err, buf, sizeof(buf)));
	return rep;
}

/* Lints the cluster plus one lint family file, for the whole cluster. */
static struct lint_report *lint_family(const char *family, struct model **ret_m)
{
	char path[512];

	snprintf(path, sizeof(path), LINT_DATA "/%s.yaml", family);
	*ret_m = load(CLUSTER, path, NULL);
	return run(*ret_m, NULL);
}

static bool has_object(const struct lint_finding *f, const char *obj)
{
	for (size_t i = 0; i < f->n_objects; i++)
		if (streq(f->objects[i], obj))
			return true;
	return false;
}

/* The findings of kind whose first object is obj0 (and, if not NULL, whose message contains
 * `in_msg`). Returns the count and the first in *ret. */
static size_t find(const struct lint_report *r, enum lint_kind kind, const char *obj0,
		   const char *in_msg, const struct lint_finding **ret)
{
	size_t n = 0;

	if (ret)
		*ret = NULL;
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct lint_finding *f = &r->findings[i];
		if (f->kind != kind || !f->n_objects || !streq(f->objects[0], obj0))
			continue;
		if (in_msg && !strstr(f->message, in_msg))
			continue;
		if (ret && !n)
			*ret = f;
		n++;
	}
	return n;
}

static size_t count_kind(const struct lint_report *r, enum lint_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_findings; i++)
		n += r->findings[i].kind == kind;
	return n;
}

static bool has_note(const struct lint_report *r, const char *part)
{
	for (size_t i = 0; i < r->n_notes; i++)
		if (strstr(r->notes[i], part))
			return true;
	return false;
}

#define ASSERT_CONTAINS(s, part) ck_assert_msg(strstr((s), (part)), "'%s' not in: %s", part, s)

START_TEST(model_keeps_daemonset_containers)
{
	_cleanup_(model_freep) struct model *m = load(CNI_DATA "/aws-vpc/cluster.yaml", NULL);
	const struct model_daemonset *const *ds;
	const struct model_ds_container *c;
	static const char bad[] = "---\n{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: x, "
				  "namespace: kube-system}, spec: {template: {spec: {containers: "
				  "[{name: a, image: i, env: {FOO: bar}}]}}}}";
	struct np_error e = { 0 };

	ck_assert_uint_eq(model_daemonsets(m, &ds), 1);
	ck_assert_uint_eq(ds[0]->n_containers, 3);
	c = &ds[0]->containers[0];
	ck_assert(c->init);
	ck_assert_str_eq(c->name, "aws-vpc-cni-init");
	ck_assert_uint_eq(c->n_env, 2);
	ck_assert_str_eq(c->env[1].name, "ENABLE_IPv6");
	ck_assert_str_eq(c->env[1].value, "false");
	c = &ds[0]->containers[1];
	ck_assert(!c->init);
	ck_assert_str_eq(c->env[4].name, "MY_NODE_NAME");
	ck_assert_ptr_null(c->env[4].value); /* valueFrom */
	c = &ds[0]->containers[2];
	ck_assert_str_eq(c->name, "aws-eks-nodeagent");
	ck_assert_uint_eq(c->n_argv, 7);
	ck_assert_str_eq(c->argv[1], "--enable-network-policy=false");
	/* images keeps its meaning: the regular containers only */
	ck_assert_uint_eq(ds[0]->n_images, 2);

	/* env must be a list of {name, value}: the object is skipped with a diagnostic */
	ck_assert_int_eq(model_load_buffer(m, bad, strlen(bad), "bad", &e), 1);
	ck_assert_uint_eq(model_daemonsets(m, &ds), 1);
}
END_TEST

START_TEST(policy_selects_nothing)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = lint_family("selection", &m);
	const struct lint_finding *f;

	ck_assert_uint_eq(
		find(r, LINT_POLICY_SELECTS_NOTHING, "networkpolicy/shop/frontend-typo", NULL, &f),
		1);
	ck_assert_int_eq(f->severity, LINT_WARNING);
	ck_assert_uint_eq(f->n_objects, 1);
	ASSERT_CONTAINS(f->message, "app=wbe");
	ASSERT_CONTAINS(f->fix, "the closest is app=web");
	/* negatives: selects pods; wrong namespace and hostNetwork are reported as such */
	ck_assert_uint_eq(
		find(r, LINT_POLICY_SELECTS_NOTHING, "networkpolicy/shop/web-ingress", NULL, NULL),
		0);
	ck_assert_uint_eq(find(r, LINT_POLICY_SELECTS_NOTHING,
			       "networkpolicy/default/billing-ingress", NULL, NULL),
			  0);
	ck_assert_uint_eq(find(r, LINT_POLICY_SELECTS_NOTHING,
			       "networkpolicy/monitoring/node-exporter-ingress", NULL, NULL),
			  0);
	ck_assert_uint_eq(count_kind(r, LINT_POLICY_SELECTS_NOTHING), 1);
}
END_TEST

START_TEST(policy_wrong_namespace)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = lint_family("selection", &m);
	const struct lint_finding *f;

	ck_assert_uint_eq(find(r, LINT_POLICY_WRONG_NAMESPACE,
			       "networkpolicy/default/billing-ingress", NULL, &f),
			  1);
	ck_assert_int_eq(f->severity, LINT_ERROR);
	ck_assert_uint_eq(f->n_objects, 2);
	ck_assert_str_eq(f->objects[1], "pod/payments/billing-84d9c6b7f5-h6j7k");
	ASSERT_CONTAINS(f->message, "run in namespace payments");
	ASSERT_CONTAINS(f->fix, "metadata.namespace: payments");
	ck_assert_uint_eq(count_kind(r, LINT_POLICY_WRONG_NAMESPACE), 1);
}
END_TEST

START_TEST(policy_selects_all)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = lint_family("selection", &m);
	const struct lint_finding *f;

	ck_assert_uint_eq(find(r, LINT_POLICY_SELECTS_ALL,
			       "networkpolicy/shop/default-deny-ingress", NULL, &f),
			  1);
	ck_assert_int_eq(f->severity, LINT_INFO);
	ASSERT_CONTAINS(f->message, "every pod in namespace shop (4 now");
	ASSERT_CONTAINS(f->message, "for Ingress");
	ck_assert_uint_eq(count_kind(r, LINT_POLICY_SELECTS_ALL), 1);
}
END_TEST

START_TEST(hostnetwork_selected)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = lint_family("selection", &m);
	const struct lint_finding *f;

	ck_assert_uint_eq(find(r, LINT_HOSTNETWORK_SELECTED,
			       "networkpolicy/monitoring/node-exporter-ingress", NULL, &f),
			  1);
	ck_assert_uint_eq(f->n_objects, 2);
	ck_assert_str_eq(f->objects[1], "pod/monitoring/node-exporter-h7k2l");
	ASSERT_CONTAINS(f->fix, "spec.hostNetwork");
	/* prometheus-ingress selects a normal pod */
	ck_assert_uint_eq(count_kind(r, LINT_HOSTNETWORK_SELECTED), 1);
}
END_TEST

START_TEST(peer_selects_nothing)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = lint_family("peers", &m);
	const struct lint_finding *f;

	ck_assert_uint_eq(find(r, LINT_PEER_SELECTS_NOTHING, "networkpolicy/shop/api-from-frontend",
			       "spec.ingress[0].from[0]", &f),
			  1);
	ASSERT_CONTAINS(f->message, "role=frontend");
	ASSERT_CONTAINS(f->fix, "no pod in namespace shop has a label 'role'");

	ck_assert_uint_eq(find(r, LINT_PEER_SELECTS_NOTHING,
			       "networkpolicy/shop/api-from-monitoring", NULL, &f),
			  1);
	ck_assert_int_eq(f->severity, LINT_WARNING);
	ASSERT_CONTAINS(f->message, "matches no namespace");
	ASSERT_CONTAINS(f->fix, "matchLabels {kubernetes.io/metadata.name: monitoring}");

	ck_assert_uint_eq(find(r, LINT_PEER_SELECTS_NOTHING,
			       "networkpolicy/payments/billing-from-shop-pods", NULL, &f),
			  1);
	ASSERT_CONTAINS(f->message, "app=carts");
	ASSERT_CONTAINS(f->fix, "the closest is app=cart");

	/* a podSelector peer that matches, a namespace matched through the label the API server
	 * sets (absent from the dump), and an ipBlock */
	ck_assert_uint_eq(
		find(r, LINT_PEER_SELECTS_NOTHING, "networkpolicy/shop/api-from-web", NULL, NULL),
		0);
	ck_assert_uint_eq(count_kind(r, LINT_PEER_SELECTS_NOTHING), 3);
}
END_TEST

START_TEST(rule_allows_all)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = lint_family("allow-all", &m);
	const struct lint_finding *f;

	ck_assert_uint_eq(
		find(r, LINT_RULE_ALLOWS_ALL, "networkpolicy/shop/deny-web-ingress", NULL, &f), 1);
	ck_assert_int_eq(f->severity, LINT_WARNING); /* the name says deny */
	ASSERT_CONTAINS(f->message, "`ingress: [{}]` allows everything, `ingress: []` allows "
				    "nothing");
	ASSERT_CONTAINS(f->fix, "`ingress: []`");
	ck_assert_uint_eq(
		find(r, LINT_RULE_ALLOWS_ALL, "networkpolicy/shop/allow-all-to-cart", NULL, &f), 1);
	ck_assert_int_eq(f->severity, LINT_INFO); /* says what it does */
	/* `ingress: []` and a rule with ports only are not allow-all */
	ck_assert_uint_eq(
		find(r, LINT_RULE_ALLOWS_ALL, "networkpolicy/shop/api-deny-all", NULL, NULL), 0);
	ck_assert_uint_eq(find(r, LINT_RULE_ALLOWS_ALL, "networkpolicy/shop/api-http-from-anywhere",
			       NULL, NULL),
			  0);
	ck_assert_uint_eq(count_kind(r, LINT_RULE_ALLOWS_ALL), 2);
}
END_TEST

START_TEST(rule_allows_all_overrides_a_neighbour)
{
	static const char pols[] =
		"---\n{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: "
		"web-open, namespace: shop}, spec: {podSelector: {matchLabels: {app: web}}, "
		"ingress: [{}]}}\n---\n"
		"{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: "
		"web-from-api, namespace: shop}, spec: {podSelector: {matchLabels: {tier: "
		"frontend}}, ingress: [{from: [{podSelector: {matchLabels: {app: api}}}]}]}}\n";
	_cleanup_(model_freep) struct model *m = load(CLUSTER, NULL);
	_cleanup_(lint_report_freep) struct lint_report *r = NULL;
	const struct lint_finding *f;
	struct np_error e = { 0 };

	ck_assert_int_eq(model_load_buffer(m, pols, strlen(pols), "inline", &e), 0);
	r = run(m, NULL);
	ck_assert_uint_eq(find(r, LINT_RULE_ALLOWS_ALL, "networkpolicy/shop/web-open", NULL, &f),
			  1);
	ck_assert_int_eq(f->severity, LINT_WARNING);
	ASSERT_CONTAINS(f->message, "other policies' restrictions on the same pods moot");
}
END_TEST

START_TEST(policytypes_implicit)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = lint_family("policytypes", &m);
	const struct lint_finding *f;

	ck_assert_uint_eq(
		find(r, LINT_POLICYTYPES_IMPLICIT, "networkpolicy/shop/web-egress-only", NULL, &f),
		1);
	ASSERT_CONTAINS(f->message, "defaults to [Ingress, Egress]");
	ASSERT_CONTAINS(f->fix, "policyTypes: [Egress]");
	ck_assert_uint_eq(
		find(r, LINT_POLICYTYPES_IMPLICIT, "networkpolicy/shop/api-deny-egress", NULL, &f),
		1);
	ASSERT_CONTAINS(f->message, "`egress: []`");
	ASSERT_CONTAINS(f->message, "defaults to [Ingress]");
	/* explicit types, and the default-deny idiom without sections */
	ck_assert_uint_eq(find(r, LINT_POLICYTYPES_IMPLICIT,
			       "networkpolicy/shop/web-egress-explicit", NULL, NULL),
			  0);
	ck_assert_uint_eq(
		find(r, LINT_POLICYTYPES_IMPLICIT, "networkpolicy/shop/default-deny", NULL, NULL),
		0);
	ck_assert_uint_eq(count_kind(r, LINT_POLICYTYPES_IMPLICIT), 2);
}
END_TEST

START_TEST(policytypes_contradiction)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = lint_family("policytypes", &m);
	const struct lint_finding *f;

	ck_assert_uint_eq(find(r, LINT_POLICYTYPES_CONTRADICTION,
			       "networkpolicy/shop/cart-ingress-ignored", NULL, &f),
			  1);
	ck_assert_int_eq(f->severity, LINT_ERROR);
	ASSERT_CONTAINS(f->message, "the section is ignored");
	ASSERT_CONTAINS(f->fix, "add Ingress to spec.policyTypes");
	ck_assert_uint_eq(find(r, LINT_POLICYTYPES_CONTRADICTION,
			       "networkpolicy/payments/billing-both", NULL, &f),
			  1);
	ck_assert_int_eq(f->severity, LINT_WARNING);
	ASSERT_CONTAINS(f->message, "lists Egress in policyTypes but has no spec.egress");
	ck_assert_uint_eq(find(r, LINT_POLICYTYPES_CONTRADICTION,
			       "networkpolicy/payments/default-deny-all", NULL, NULL),
			  0);
	ck_assert_uint_eq(count_kind(r, LINT_POLICYTYPES_CONTRADICTION), 2);
}
END_TEST

START_TEST(egress_blocks_dns)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = lint_family("dns", &m);
	const struct lint_finding *f;

	ck_assert_uint_eq(
		find(r, LINT_EGRESS_BLOCKS_DNS, "networkpolicy/shop/web-egress", NULL, &f), 1);
	ck_assert_int_eq(f->severity, LINT_ERROR);
	ck_assert_uint_eq(f->n_objects, 3);
	ck_assert(has_object(f, "pod/shop/web-7c9d8f7b6-k2x9p"));
	ck_assert(has_object(f, "pod/shop/web-7c9d8f7b6-q8w4z"));
	ASSERT_CONTAINS(f->message, "no UDP or TCP");
	ASSERT_CONTAINS(f->fix, "{protocol: UDP, port: 53}, {protocol: TCP, port: 53}");
	ck_assert_uint_eq(
		find(r, LINT_EGRESS_BLOCKS_DNS, "networkpolicy/shop/cart-egress", NULL, &f), 1);
	ck_assert_int_eq(f->severity, LINT_WARNING);
	ASSERT_CONTAINS(f->message, "allows no TCP");
	/* DNS allowed explicitly, and through the DNS pods' named ports */
	ck_assert_uint_eq(
		find(r, LINT_EGRESS_BLOCKS_DNS, "networkpolicy/shop/api-egress", NULL, NULL), 0);
	ck_assert_uint_eq(find(r, LINT_EGRESS_BLOCKS_DNS,
			       "networkpolicy/monitoring/prometheus-egress", NULL, NULL),
			  0);
	ck_assert_uint_eq(count_kind(r, LINT_EGRESS_BLOCKS_DNS), 2);
}
END_TEST

START_TEST(egress_blocks_dns_needs_the_dns_pods)
{
	_cleanup_(model_freep) struct model *m = load(CLUSTER, LINT_DATA "/dns.yaml", NULL);
	_cleanup_(lint_report_freep) struct lint_report *r = NULL;
	struct lint_options o = { .dns_label = "k8s-app=coredns" };
	struct lint_report *bad = NULL;
	struct np_error e = { 0 };

	r = run(m, &o);
	ck_assert_uint_eq(count_kind(r, LINT_EGRESS_BLOCKS_DNS), 0);
	ck_assert(has_note(r, "egress-blocks-dns not checked: no running pod labelled "
			      "k8s-app=coredns in namespace kube-system"));
	o.dns_label = "k8s-app";
	ck_assert_int_eq(lint_run(m, &o, &bad, &e), -EINVAL);
	ck_assert_ptr_null(bad);
	ASSERT_CONTAINS(e.message, "key=value");
}
END_TEST

START_TEST(external_exposure)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = lint_family("exposure", &m);
	const struct lint_finding *f;

	ck_assert_uint_eq(find(r, LINT_EXTERNAL_EXPOSURE, "service/shop/web", NULL, &f), 1);
	ck_assert_int_eq(f->severity, LINT_WARNING);
	ck_assert_str_eq(f->objects[1], "networkpolicy/shop/web-from-api");
	ck_assert(has_object(f, "pod/shop/web-7c9d8f7b6-q8w4z"));
	ASSERT_CONTAINS(f->message, "externalTrafficPolicy Cluster");
	ASSERT_CONTAINS(f->message, "SNATed");
	ASSERT_CONTAINS(f->message, "no ingress rule admits non-pod addresses on TCP 8080");
	ASSERT_CONTAINS(f->fix, "externalTrafficPolicy: Local");

	ck_assert_uint_eq(find(r, LINT_EXTERNAL_EXPOSURE, "service/payments/billing", NULL, &f), 1);
	ck_assert_int_eq(f->severity, LINT_INFO); /* Local, and an ipBlock admits clients */
	ASSERT_CONTAINS(f->message, "client address is preserved");
	ck_assert_ptr_null(strstr(f->message, "no ingress rule admits"));

	/* shop/api is isolated but its Service is ClusterIP */
	ck_assert_uint_eq(find(r, LINT_EXTERNAL_EXPOSURE, "service/shop/api", NULL, NULL), 0);
	ck_assert_uint_eq(count_kind(r, LINT_EXTERNAL_EXPOSURE), 2);
}
END_TEST

START_TEST(named_port_unresolved)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = lint_family("named-ports", &m);
	const struct lint_finding *f;

	ck_assert_uint_eq(find(r, LINT_NAMED_PORT_UNRESOLVED, "networkpolicy/shop/api-http",
			       "spec.ingress[0].ports[1]", &f),
			  1);
	ASSERT_CONTAINS(f->message, "'grpc-api'");
	ASSERT_CONTAINS(f->fix, "they name http (8080), grpc (9090)");
	/* spec.ingress[0].ports[0] (http) resolves */
	ck_assert_uint_eq(find(r, LINT_NAMED_PORT_UNRESOLVED, "networkpolicy/shop/api-http",
			       "ports[0]", NULL),
			  0);
	/* egress: resolved against the destination pods; https exists in payments, http/UDP
	 * nowhere */
	ck_assert_uint_eq(find(r, LINT_NAMED_PORT_UNRESOLVED, "networkpolicy/shop/web-egress-named",
			       "spec.egress[1].ports[0]", &f),
			  1);
	ASSERT_CONTAINS(f->message, "'http' (UDP)");
	ck_assert_uint_eq(count_kind(r, LINT_NAMED_PORT_UNRESOLVED), 2);
}
END_TEST

START_TEST(redundant_rule_and_shadowed_policy)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = lint_family("redundant", &m);
	const struct lint_finding *f;

	ck_assert_uint_eq(find(r, LINT_REDUNDANT_RULE, "networkpolicy/shop/api-rules",
			       "spec.ingress[0] of", &f),
			  1);
	ASSERT_CONTAINS(f->message, "that spec.ingress[1] does not already allow");
	ck_assert_uint_eq(find(r, LINT_REDUNDANT_RULE, "networkpolicy/shop/api-rules",
			       "spec.ingress[2] of", &f),
			  1);
	ASSERT_CONTAINS(f->message, "that spec.ingress[3] does not");
	/* different peers/ports, and an ipBlock inside an except */
	ck_assert_uint_eq(find(r, LINT_REDUNDANT_RULE, "networkpolicy/shop/cart-rules", NULL, NULL),
			  0);
	ck_assert_uint_eq(count_kind(r, LINT_REDUNDANT_RULE), 2);

	ck_assert_uint_eq(
		find(r, LINT_SHADOWED_POLICY, "networkpolicy/shop/web-allow-api", NULL, &f), 1);
	ck_assert_str_eq(f->objects[1], "networkpolicy/shop/shop-internal");
	/* of two identical policies only the later one */
	ck_assert_uint_eq(
		find(r, LINT_SHADOWED_POLICY, "networkpolicy/payments/billing-b", NULL, &f), 1);
	ck_assert_uint_eq(
		find(r, LINT_SHADOWED_POLICY, "networkpolicy/payments/billing-a", NULL, NULL), 0);
	/* shop-internal allows more than anything else in shop */
	ck_assert_uint_eq(
		find(r, LINT_SHADOWED_POLICY, "networkpolicy/shop/shop-internal", NULL, NULL), 0);
}
END_TEST

/* --- CNI detection --- */

struct cni_case {
	const char *dir, *cluster;
	enum cni_kind kind;
	const char *version;
	enum cni_dataplane dp;
	enum cni_enforce enforces;
	const char *addon;
	const char *agent_pod;
	const char *evidence; /* a piece of some evidence line */
};

static const struct cni_case cni_cases[] = {
	{ "calico", "cluster.yaml", CNI_CALICO, "v3.27.2", CNI_DP_IPTABLES_LEGACY, CNI_ENFORCE_YES,
	  NULL, "calico-node-7hq2m", "FELIX_IPTABLESBACKEND=Legacy" },
	{ "calico-ebpf", "cluster.yaml", CNI_CALICO, "v3.28.0", CNI_DP_EBPF, CNI_ENFORCE_YES, NULL,
	  "calico-node-x2p9d", "FELIX_BPFENABLED=true" },
	{ "canal", "cluster.yaml", CNI_CANAL, "v3.27.2", CNI_DP_UNKNOWN, CNI_ENFORCE_YES, NULL,
	  "canal-4k8sd", "flannel and Calico run together" },
	{ "cilium", "cluster.yaml", CNI_CILIUM, "v1.15.3", CNI_DP_EBPF, CNI_ENFORCE_YES, NULL,
	  "cilium-9xv2k", "05-cilium.conflist is the first CNI configuration" },
	{ "weave", "cluster.yaml", CNI_WEAVE, "2.8.1", CNI_DP_UNKNOWN, CNI_ENFORCE_YES, NULL,
	  "weave-net-6jzkb", "weaveworks/weave-npc:2.8.1" },
	{ "kube-router", "cluster.yaml", CNI_KUBE_ROUTER, "v2.1.0", CNI_DP_UNKNOWN, CNI_ENFORCE_YES,
	  NULL, "kube-router-r7h2x", "first plugin is 'bridge'" },
	{ "flannel", "cluster.yaml", CNI_FLANNEL, "v0.24.2", CNI_DP_NONE, CNI_ENFORCE_NO, NULL,
	  "kube-flannel-ds-8c4qz", "flannel does not implement NetworkPolicy" },
	{ "antrea", "cluster.yaml", CNI_ANTREA, "v2.0.0", CNI_DP_OVS, CNI_ENFORCE_YES, NULL,
	  "antrea-agent-lz5c9", "Open vSwitch" },
	{ "kube-network-policies", "cluster.yaml", CNI_BRIDGE, NULL, CNI_DP_NFTABLES,
	  CNI_ENFORCE_YES, "kube-network-policies", "kube-network-policies-m4qzw", "NFQUEUE" },
	{ "aws-vpc", "cluster.yaml", CNI_AWS_VPC, "v1.18.1-eksbuild.1", CNI_DP_NONE, CNI_ENFORCE_NO,
	  NULL, "aws-node-5t9wq", "--enable-network-policy=false" },
	{ "aws-vpc", "cluster-policy.yaml", CNI_AWS_VPC, "v1.18.1-eksbuild.1", CNI_DP_EBPF,
	  CNI_ENFORCE_YES, NULL, "aws-node-5t9wq", "--enable-network-policy=true" },
	{ "bridge", "cluster.yaml", CNI_BRIDGE, NULL, CNI_DP_NONE, CNI_ENFORCE_NO, NULL, NULL,
	  "first plugin is 'bridge'" },
};

static bool has_evidence(const struct cni_detection *d, const char *part)
{
	for (size_t i = 0; i < d->n_evidence; i++)
		if (strstr(d->evidence[i], part))
			return true;
	return false;
}

START_TEST(cni_detects_each_plugin)
{
	const struct cni_case *c = &cni_cases[_i];
	char cluster[512], dir[512];
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(cni_detection_freep) struct cni_detection *d = NULL;
	struct strbuf js = { 0 };
	json_t *j;

	snprintf(cluster, sizeof(cluster), CNI_DATA "/%s/%s", c->dir, c->cluster);
	snprintf(dir, sizeof(dir), CNI_DATA "/%s/net.d", c->dir);
	m = load(cluster, CNI_DATA "/workload.yaml", NULL);
	ck_assert_int_eq(cni_detect(m, "node-1", dir, &d, NULL), 0);
	ck_assert_msg(d->kind == c->kind, "%s: kind %s", c->dir, cni_kind_name(d->kind));
	if (c->version)
		ck_assert_str_eq(d->version, c->version);
	else
		ck_assert_ptr_null(d->version);
	ck_assert_msg(d->dataplane == c->dp, "%s: dataplane %s", c->dir,
		      cni_dataplane_name(d->dataplane));
	ck_assert_int_eq(d->enforces, c->enforces);
	if (c->addon)
		ck_assert_str_eq(d->policy_addon, c->addon);
	else
		ck_assert_ptr_null(d->policy_addon);
	if (c->agent_pod) {
		ck_assert(d->has_agent);
		ck_assert_str_eq(d->agent.name, c->agent_pod);
		ck_assert_str_eq(d->agent.node, "node-1");
		ck_assert_uint_gt(strlen(d->agent.uid), 30);
	} else
		ck_assert(!d->has_agent);
	ck_assert_msg(has_evidence(d, c->evidence), "%s: no evidence '%s'", c->dir, c->evidence);
	ck_assert_ptr_nonnull(d->conf_file);

	/* the JSON form parses and carries the same answer */
	ck_assert_int_eq(cni_detection_json(d, &js), 0);
	j = json_loads(strbuf_str(&js), 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")), cni_kind_name(c->kind));
	ck_assert_str_eq(json_string_value(json_object_get(j, "dataplane")),
			 cni_dataplane_name(c->dp));
	json_decref(j);
	strbuf_done(&js);
}
END_TEST

START_TEST(cni_detects_by_daemonset_name)
{
	/* a private mirror renames the image; the DaemonSet keeps the manifest's name */
	static const char ds[] =
		"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: calico-node, namespace: "
		"kube-system, labels: {k8s-app: calico-node}}\nspec:\n  selector: {matchLabels: "
		"{k8s-app: calico-node}}\n  template:\n    spec:\n      containers:\n      - name: "
		"calico-node\n        image: registry.internal.example/mirror/node:v3.27.2\n       "
		" "
		"env:\n        - {name: FELIX_IPTABLESBACKEND, value: NFT}\n";
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(cni_detection_freep) struct cni_detection *d = NULL;
	struct np_error e = { 0 };

	ck_assert_int_eq(model_new(&m), 0);
	ck_assert_int_eq(model_load_buffer(m, ds, strlen(ds), "ds", &e), 0);
	ck_assert_int_eq(cni_detect(m, NULL, NULL, &d, NULL), 0);
	ck_assert_int_eq(d->kind, CNI_CALICO);
	ck_assert_str_eq(d->version, "v3.27.2");
	ck_assert_int_eq(d->dataplane, CNI_DP_IPTABLES_NFT);
	ck_assert(has_evidence(d, "is named as calico's manifests name it"));
}
END_TEST

START_TEST(cni_live_rules_settle_the_backend)
{
	static const struct lint_fw_chain nft[] = {
		{ LINT_FW_IPTABLES_NFT, "filter", "cali-FORWARD", 4 },
		{ LINT_FW_IPTABLES_NFT, "filter", "cali-tw-cali12345", 9 },
		{ LINT_FW_IPTABLES_NFT, "nat", "KUBE-SERVICES", 40 },
	};
	static const struct lint_fw_chain both[] = {
		{ LINT_FW_IPTABLES_NFT, "filter", "cali-FORWARD", 4 },
		{ LINT_FW_IPTABLES_LEGACY, "filter", "cali-FORWARD", 4 },
	};
	struct lint_fw_input in = { .n_rules = { 0, 53, 0 }, .chains = nft, .n_chains = 3 };
	struct lint_fw_input split = { .n_rules = { 0, 4, 4 }, .chains = both, .n_chains = 2 };
	_cleanup_(model_freep) struct model *m = load(CNI_DATA "/canal/cluster.yaml", NULL);
	_cleanup_(cni_detection_freep) struct cni_detection *d = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = NULL;
	struct lint_options o = { .node = "node-1", .fw = &in };
	size_t notes;

	/* FELIX_IPTABLESBACKEND=Auto: unknown from the objects */
	ck_assert_int_eq(cni_detect(m, "node-1", NULL, &d, NULL), 0);
	ck_assert_int_eq(d->dataplane, CNI_DP_UNKNOWN);
	ck_assert_int_ge(d->dataplane_note, 0);
	notes = d->n_notes;
	ck_assert_int_eq(cni_detection_refine(d, NULL), 0);
	ck_assert_int_eq(cni_detection_refine(d, &split), 0); /* in both: still unknown */
	ck_assert_int_eq(d->dataplane, CNI_DP_UNKNOWN);
	ck_assert_int_eq(cni_detection_refine(d, &in), 1);
	ck_assert_int_eq(d->dataplane, CNI_DP_IPTABLES_NFT);
	ck_assert_uint_eq(d->n_notes, notes - 1);
	ck_assert(has_evidence(d, "13 rules of calico's chains, all in iptables-nft"));
	ck_assert_int_eq(cni_detection_refine(d, &in), 0); /* known now */

	/* the lint does the same with its live rule input */
	r = run(m, &o);
	ck_assert_int_eq(r->cni->dataplane, CNI_DP_IPTABLES_NFT);
	ck_assert(!has_note(r, "auto-detected"));
}
END_TEST

START_TEST(cni_kindnet_alone_is_not_guessed)
{
	/* the kube-network-policies fixture without kube-network-policies: kindnet alone */
	_cleanup_(model_freep) struct model *m = load(
		CNI_DATA "/kube-network-policies/cluster.yaml", CNI_DATA "/workload.yaml", NULL);
	_cleanup_(cni_detection_freep) struct cni_detection *d = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = NULL;
	struct lint_options o = { .node = "node-1",
				  .cni_conf_dir = CNI_DATA "/kube-network-policies/net.d" };
	const char del[] = "{\"apiVersion\": \"apps/v1\", \"kind\": \"DaemonSet\", \"metadata\": "
			   "{\"name\": \"kube-network-policies\", \"namespace\": \"kube-system\"}}";
	json_t *obj = json_loads(del, 0, NULL);

	ck_assert_ptr_nonnull(obj);
	ck_assert_int_eq(model_apply_json(m, obj, MODEL_DAEMONSET, true, NULL), 1);
	json_decref(obj);
	ck_assert_int_eq(cni_detect(m, "node-1", o.cni_conf_dir, &d, NULL), 0);
	ck_assert_int_eq(d->kind, CNI_BRIDGE);
	ck_assert_int_eq(d->enforces, CNI_ENFORCE_UNKNOWN);
	r = run(m, &o);
	ck_assert_uint_eq(count_kind(r, LINT_CNI_NO_POLICY_SUPPORT), 0);
	ck_assert(has_note(r, "kindnet (docker.io/kindest/kindnetd:v20240202-8f1494ea)"));
}
END_TEST

START_TEST(cni_unknown_dataplane_is_a_note)
{
	_cleanup_(model_freep) struct model *m = load(CNI_DATA "/weave/cluster.yaml", NULL);
	_cleanup_(cni_detection_freep) struct cni_detection *d = NULL;
	bool noted = false;

	ck_assert_int_eq(cni_detect(m, NULL, NULL, &d, NULL), 0);
	ck_assert_int_eq(d->kind, CNI_WEAVE);
	ck_assert_int_eq(d->dataplane, CNI_DP_UNKNOWN);
	for (size_t i = 0; i < d->n_notes; i++)
		noted |= strstr(d->notes[i], "not visible in the cluster objects") != NULL;
	ck_assert(noted);
	/* without a node there is no agent pod, but the DaemonSet is known */
	ck_assert(d->has_agent);
	ck_assert_ptr_null(d->agent.name);
	ck_assert_str_eq(d->agent.daemonset, "weave-net");
}
END_TEST

START_TEST(cni_conf_dir_edge_cases)
{
	char tmpl[] = "/tmp/npaudit-lint-XXXXXX", path[600];
	_cleanup_(model_freep) struct model *m = load(CNI_DATA "/calico/cluster.yaml", NULL);
	struct cni_detection *d = NULL;
	struct np_error e = { 0 };
	FILE *f;
	bool noted = false;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	/* empty directory */
	ck_assert_int_eq(cni_detect(m, "node-1", tmpl, &d, &e), 0);
	ck_assert_ptr_null(d->conf_file);
	for (size_t i = 0; i < d->n_notes; i++)
		noted |= strstr(d->notes[i], "holds no CNI configuration") != NULL;
	ck_assert(noted);
	ck_assert_int_eq(d->kind, CNI_CALICO); /* still known from the DaemonSet */
	d = cni_detection_free(d);

	/* the first file by name is broken JSON: said so, not skipped */
	snprintf(path, sizeof(path), "%s/00-broken.conf", tmpl);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"type\": \"bridge\",", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/10-calico.conflist", tmpl);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"plugins\": [{\"type\": \"calico\"}]}", f);
	fclose(f);
	ck_assert_int_eq(cni_detect(m, "node-1", tmpl, &d, &e), 0);
	ASSERT_CONTAINS(d->conf_file, "00-broken.conf");
	ck_assert_ptr_null(d->conf_type);
	noted = false;
	for (size_t i = 0; i < d->n_notes; i++)
		noted |= strstr(d->notes[i], "is not valid JSON") != NULL;
	ck_assert(noted);
	d = cni_detection_free(d);
	unlink(path);
	snprintf(path, sizeof(path), "%s/00-broken.conf", tmpl);
	unlink(path);
	rmdir(tmpl);

	/* a directory that does not exist is an error */
	ck_assert_int_eq(cni_detect(m, "node-1", "/nonexistent/net.d", &d, &e), -ENOENT);
	ASSERT_CONTAINS(e.message, "cannot read the CNI configuration directory");
}
END_TEST

/* Lints a CNI fixture for node with the workload. */
static struct lint_report *lint_cni(const char *cni, const char *cluster, const char *node,
				    unsigned threshold, struct model **ret_m)
{
	char path[512], dir[512];
	struct lint_options o = { .node = node, .restart_threshold = threshold };

	snprintf(path, sizeof(path), CNI_DATA "/%s/%s", cni, cluster);
	snprintf(dir, sizeof(dir), CNI_DATA "/%s/net.d", cni);
	o.cni_conf_dir = dir;
	*ret_m = load(path, CNI_DATA "/workload.yaml", NULL);
	return run(*ret_m, &o);
}

START_TEST(cni_no_policy_support)
{
	static const char *const no[][2] = { { "flannel", "cluster.yaml" },
					     { "bridge", "cluster.yaml" },
					     { "aws-vpc", "cluster.yaml" } };
	static const char *const yes[][2] = { { "calico", "cluster.yaml" },
					      { "aws-vpc", "cluster-policy.yaml" },
					      { "kube-network-policies", "cluster.yaml" } };

	for (size_t i = 0; i < ELEMENTSOF(no); i++) {
		_cleanup_(model_freep) struct model *m = NULL;
		_cleanup_(lint_report_freep) struct lint_report *r =
			lint_cni(no[i][0], no[i][1], "node-1", 0, &m);
		const struct lint_finding *f;

		ck_assert_uint_eq(find(r, LINT_CNI_NO_POLICY_SUPPORT, "node/node-1", NULL, &f), 1);
		ck_assert_int_eq(f->severity, LINT_CRITICAL);
		ck_assert(has_object(f, "networkpolicy/shop/web-ingress"));
		ck_assert_int_eq(r->findings[0].kind,
				 LINT_CNI_NO_POLICY_SUPPORT); /* sorted first */
		if (streq(no[i][0], "flannel"))
			ASSERT_CONTAINS(f->fix, "Canal");
		if (streq(no[i][0], "aws-vpc"))
			ASSERT_CONTAINS(f->fix, "--enable-network-policy=true");
	}
	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		_cleanup_(model_freep) struct model *m = NULL;
		_cleanup_(lint_report_freep) struct lint_report *r =
			lint_cni(yes[i][0], yes[i][1], "node-1", 0, &m);
		ck_assert_uint_eq(count_kind(r, LINT_CNI_NO_POLICY_SUPPORT), 0);
	}
	/* no policy selects a pod on node-2: nothing to enforce there */
	{
		_cleanup_(model_freep) struct model *m = NULL;
		_cleanup_(lint_report_freep) struct lint_report *r =
			lint_cni("flannel", "cluster.yaml", "node-2", 0, &m);
		ck_assert_uint_eq(count_kind(r, LINT_CNI_NO_POLICY_SUPPORT), 0);
	}
}
END_TEST

START_TEST(cni_ebpf_dataplane)
{
	static const char *const yes[] = { "cilium", "calico-ebpf", "antrea" };
	static const char *const no[] = { "calico", "weave", "flannel" };

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		_cleanup_(model_freep) struct model *m = NULL;
		_cleanup_(lint_report_freep) struct lint_report *r =
			lint_cni(yes[i], "cluster.yaml", "node-1", 0, &m);
		const struct lint_finding *f = NULL;

		/* stated once, not per pod */
		ck_assert_uint_eq(count_kind(r, LINT_CNI_EBPF_DATAPLANE), 1);
		for (size_t k = 0; k < r->n_findings; k++)
			if (r->findings[k].kind == LINT_CNI_EBPF_DATAPLANE)
				f = &r->findings[k];
		ASSERT_CONTAINS(f->objects[0], "daemonset/");
		ASSERT_CONTAINS(f->message, "unverifiable");
	}
	for (size_t i = 0; i < ELEMENTSOF(no); i++) {
		_cleanup_(model_freep) struct model *m = NULL;
		_cleanup_(lint_report_freep) struct lint_report *r =
			lint_cni(no[i], "cluster.yaml", "node-1", 0, &m);
		ck_assert_uint_eq(count_kind(r, LINT_CNI_EBPF_DATAPLANE), 0);
	}
}
END_TEST

START_TEST(cni_agent_unhealthy)
{
	_cleanup_(model_freep) struct model *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL,
					    *m5 = NULL, *m6 = NULL;
	_cleanup_(lint_report_freep) struct lint_report *healthy = NULL, *sick = NULL,
							*missing = NULL, *restarts = NULL,
							*calm = NULL, *all = NULL;
	const struct lint_finding *f;

	healthy = lint_cni("calico", "cluster.yaml", "node-1", 0, &m1);
	ck_assert_uint_eq(count_kind(healthy, LINT_CNI_AGENT_UNHEALTHY), 0);

	sick = lint_cni("calico", "cluster.yaml", "node-2", 0, &m2);
	ck_assert_uint_eq(
		find(sick, LINT_CNI_AGENT_UNHEALTHY, "pod/kube-system/calico-node-b8z4r", NULL, &f),
		1);
	ASSERT_CONTAINS(f->message, "not Ready and has restarted repeatedly (12 times)");

	missing = lint_cni("calico", "cluster.yaml", "node-3", 0, &m3);
	ck_assert_uint_eq(find(missing, LINT_CNI_AGENT_UNHEALTHY,
			       "daemonset/kube-system/calico-node", NULL, &f),
			  1);
	ck_assert_str_eq(f->objects[1], "node/node-3");
	ASSERT_CONTAINS(f->message, "no pod of the CNI agent DaemonSet");

	/* canal's pod is Ready with 2 restarts: restarting from a threshold of 2 */
	restarts = lint_cni("canal", "cluster.yaml", "node-1", 2, &m4);
	ck_assert_uint_eq(
		find(restarts, LINT_CNI_AGENT_UNHEALTHY, "pod/kube-system/canal-4k8sd", NULL, &f),
		1);
	ASSERT_CONTAINS(f->message, "is Ready and has restarted repeatedly (2 times)");
	calm = lint_cni("canal", "cluster.yaml", "node-1", 0, &m5);
	ck_assert_uint_eq(count_kind(calm, LINT_CNI_AGENT_UNHEALTHY), 0);

	/* without a node every agent pod is looked at */
	m6 = load(CNI_DATA "/calico/cluster.yaml", NULL);
	all = run(m6, NULL);
	ck_assert_uint_eq(count_kind(all, LINT_CNI_AGENT_UNHEALTHY), 1);
	ck_assert_uint_eq(find(all, LINT_CNI_AGENT_UNHEALTHY, "pod/kube-system/calico-node-b8z4r",
			       NULL, NULL),
			  1);
}
END_TEST

START_TEST(iptables_backend_split)
{
	static const struct lint_fw_chain chains[] = {
		{ LINT_FW_IPTABLES_LEGACY, "filter", "cali-FORWARD", 12 },
		{ LINT_FW_IPTABLES_LEGACY, "filter", "cali-fw-cali1234", 30 },
		{ LINT_FW_IPTABLES_NFT, "nat", "KUBE-SERVICES", 40 },
		{ LINT_FW_NFT, "inet filter", "input", 3 },
	};
	struct lint_fw_input split = { .n_rules = { 3, 40, 42 }, .chains = chains, .n_chains = 4 };
	struct lint_fw_input nft_only = { .n_rules = { 3, 40, 0 } };
	struct lint_options o = { .node = "node-1", .fw = &split };
	_cleanup_(model_freep) struct model *m = load(CNI_DATA "/calico/cluster.yaml", NULL);
	_cleanup_(lint_report_freep) struct lint_report *r1 = NULL, *r2 = NULL, *r3 = NULL;
	const struct lint_finding *f;

	r1 = run(m, &o);
	ck_assert_uint_eq(find(r1, LINT_IPTABLES_BACKEND_SPLIT, "node/node-1", NULL, &f), 1);
	ck_assert_int_eq(f->severity, LINT_ERROR);
	ck_assert_str_eq(f->objects[1], "daemonset/kube-system/calico-node");
	ASSERT_CONTAINS(f->message, "iptables-legacy (42)");
	ASSERT_CONTAINS(f->message, "Calico in iptables-legacy");
	ASSERT_CONTAINS(f->message, "kube-proxy in iptables-nft");
	ASSERT_CONTAINS(f->message, "the CNI is configured for iptables-legacy");
	ASSERT_CONTAINS(f->fix, "FELIX_IPTABLESBACKEND");

	o.fw = &nft_only;
	r2 = run(m, &o);
	ck_assert_uint_eq(count_kind(r2, LINT_IPTABLES_BACKEND_SPLIT), 0);
	ck_assert(!has_note(r2, "iptables-backend-split not checked"));

	o.fw = NULL;
	r3 = run(m, &o);
	ck_assert_uint_eq(count_kind(r3, LINT_IPTABLES_BACKEND_SPLIT), 0);
	ck_assert(has_note(r3, "iptables-backend-split not checked"));
}
END_TEST

START_TEST(ids_are_stable_and_json_is_exact)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *a = lint_family("peers", &m);
	_cleanup_(lint_report_freep) struct lint_report *b = run(m, NULL);
	struct strbuf js = { 0 };
	json_t *j, *arr, *x;
	size_t i;

	ck_assert_uint_eq(a->n_findings, b->n_findings);
	for (i = 0; i < a->n_findings; i++) {
		ck_assert_str_eq(a->findings[i].id, b->findings[i].id);
		ck_assert_uint_eq(strlen(a->findings[i].id), 16);
		ck_assert_ptr_eq(lint_report_find(b, a->findings[i].id)->message,
				 b->findings[i].message);
		/* two findings never share an id */
		for (size_t k = 0; k < i; k++)
			ck_assert_str_ne(a->findings[i].id, a->findings[k].id);
	}
	ck_assert_ptr_null(lint_report_find(a, "0000000000000000"));

	ck_assert_int_eq(lint_report_json(a, &js), 0);
	j = json_loads(strbuf_str(&js), JSON_REJECT_DUPLICATES, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_uint_eq(json_object_size(j), 1);
	arr = json_object_get(j, "findings");
	ck_assert_uint_eq(json_array_size(arr), a->n_findings);
	json_array_foreach(arr, i, x)
	{
		const struct lint_finding *f = &a->findings[i];
		json_t *objs = json_object_get(x, "objects");

		ck_assert_uint_eq(json_object_size(x), 6);
		ck_assert_str_eq(json_string_value(json_object_get(x, "id")), f->id);
		ck_assert_str_eq(json_string_value(json_object_get(x, "kind")),
				 lint_kind_name(f->kind));
		ck_assert_str_eq(json_string_value(json_object_get(x, "severity")),
				 lint_severity_name(f->severity));
		ck_assert_str_eq(json_string_value(json_object_get(x, "message")), f->message);
		ck_assert_str_eq(json_string_value(json_object_get(x, "fix")), f->fix);
		ck_assert_uint_eq(json_array_size(objs), f->n_objects);
		for (size_t k = 0; k < f->n_objects; k++)
			ck_assert_str_eq(json_string_value(json_array_get(objs, k)), f->objects[k]);
	}
	json_decref(j);
	strbuf_done(&js);

	/* sorted by severity, highest first */
	for (i = 1; i < a->n_findings; i++)
		ck_assert_int_ge(a->findings[i - 1].severity, a->findings[i].severity);
}
END_TEST

START_TEST(ids_survive_scaling)
{
	/* a third web replica: the DNS finding lists it, and keeps its id */
	static const char pod[] =
		"apiVersion: v1\nkind: Pod\nmetadata: {name: web-7c9d8f7b6-z9z9z, namespace: shop, "
		"labels: {app: web, tier: frontend}}\nspec: {nodeName: node-2, containers: [{name: "
		"web, image: 'nginx:1.25.4'}]}\nstatus: {phase: Running, podIP: 10.244.1.29}\n";
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *a = lint_family("dns", &m);
	_cleanup_(lint_report_freep) struct lint_report *b = NULL;
	const struct lint_finding *fa, *fb;
	struct np_error e = { 0 };

	ck_assert_uint_eq(
		find(a, LINT_EGRESS_BLOCKS_DNS, "networkpolicy/shop/web-egress", NULL, &fa), 1);
	ck_assert_int_eq(model_load_buffer(m, pod, strlen(pod), "pod", &e), 0);
	b = run(m, NULL);
	ck_assert_uint_eq(
		find(b, LINT_EGRESS_BLOCKS_DNS, "networkpolicy/shop/web-egress", NULL, &fb), 1);
	ck_assert_uint_eq(fb->n_objects, fa->n_objects + 1);
	ck_assert(has_object(fb, "pod/shop/web-7c9d8f7b6-z9z9z"));
	ck_assert_str_eq(fa->id, fb->id);
}
END_TEST

START_TEST(report_diff_gives_transitions)
{
	/* the typo is fixed: the policy now selects the web pods, exactly like web-ingress */
	static const char fixed[] =
		"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: "
		"frontend-typo, namespace: shop}\nspec: {podSelector: {matchLabels: {app: web}}, "
		"policyTypes: [Ingress], ingress: [{from: [{podSelector: {}}]}]}\n";
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *a = lint_family("selection", &m);
	_cleanup_(lint_report_freep) struct lint_report *b = NULL;
	_cleanup_(freep) const struct lint_finding **added = NULL, **resolved = NULL;
	size_t n_added, n_resolved;
	struct np_error e = { 0 };

	ck_assert_int_eq(lint_report_diff(NULL, a, &added, &n_added, &resolved, &n_resolved), 0);
	ck_assert_uint_eq(n_added, a->n_findings);
	ck_assert_uint_eq(n_resolved, 0);
	ck_assert_ptr_null(resolved);
	added = mfree(added);

	ck_assert_int_eq(model_load_buffer(m, fixed, strlen(fixed), "fixed", &e), 0);
	b = run(m, NULL);
	ck_assert_int_eq(lint_report_diff(a, b, &added, &n_added, &resolved, &n_resolved), 0);
	ck_assert_uint_eq(n_added, 1);
	ck_assert_int_eq(added[0]->kind, LINT_SHADOWED_POLICY);
	ck_assert_str_eq(added[0]->objects[0], "networkpolicy/shop/web-ingress");
	/* the exposure of shop/web now lists one more policy: same finding */
	ck_assert_uint_eq(n_resolved, 1);
	ck_assert_int_eq(resolved[0]->kind, LINT_POLICY_SELECTS_NOTHING);
	ck_assert_str_eq(resolved[0]->objects[0], "networkpolicy/shop/frontend-typo");
}
END_TEST

START_TEST(shared_engine_gives_the_same_report)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *a = lint_family("dns", &m);
	_cleanup_(lint_report_freep) struct lint_report *b = NULL;
	_cleanup_(policy_engine_freep) struct policy_engine *e = NULL;
	struct lint_options o = { 0 };

	ck_assert_int_eq(policy_engine_new(m, &e), 0);
	o.engine = e;
	b = run(m, &o);
	ck_assert_uint_eq(a->n_findings, b->n_findings);
	for (size_t i = 0; i < a->n_findings; i++)
		ck_assert_str_eq(a->findings[i].id, b->findings[i].id);
	/* the engine is still usable after the lint */
	b = lint_report_free(b);
	ck_assert_int_eq(lint_run(m, &o, &b, NULL), 0);
	ck_assert_uint_eq(a->n_findings, b->n_findings);
}
END_TEST

START_TEST(findings_list_at_most_50_pods)
{
	static const char pol[] = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
				  "metadata: {name: many, namespace: b}\nspec: {podSelector: "
				  "{matchLabels: {app: many}}}\n";
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(lint_report_freep) struct lint_report *r = NULL;
	const struct lint_finding *f;
	struct strbuf y = { 0 };
	struct np_error e = { 0 };

	ck_assert_int_eq(model_new(&m), 0);
	for (int i = 0; i < 60; i++)
		strbuf_printf(
			&y,
			"---\napiVersion: v1\nkind: Pod\nmetadata: {name: many-%d, namespace: "
			"a, labels: {app: many}}\nspec: {nodeName: n1, containers: [{name: "
			"c}]}\nstatus: {phase: Running, podIP: 10.9.0.%d}\n",
			i, i + 1);
	strbuf_puts(&y, pol);
	ck_assert_int_eq(model_load_buffer(m, strbuf_str(&y), y.len, "many", &e), 0);
	strbuf_done(&y);
	r = run(m, NULL);
	ck_assert_uint_eq(find(r, LINT_POLICY_WRONG_NAMESPACE, "networkpolicy/b/many", NULL, &f),
			  1);
	ck_assert_uint_eq(f->n_objects, 51);
	ASSERT_CONTAINS(f->message, "(10 more pods not listed)");
}
END_TEST

START_TEST(names_round_trip)
{
	for (int k = 0; k < _LINT_KIND_MAX; k++) {
		ck_assert_ptr_nonnull(lint_kind_name(k));
		ck_assert_int_eq(lint_kind_from_name(lint_kind_name(k)), k);
	}
	ck_assert_int_eq(lint_kind_from_name("nope"), -EINVAL);
	ck_assert_int_eq(lint_severity_from_name("critical"), LINT_CRITICAL);
	ck_assert_ptr_null(lint_kind_name(_LINT_KIND_MAX));
}
END_TEST

START_TEST(clean_cluster_has_no_policy_findings)
{
	/* the upstream e2e cluster with its policies: none of the static mistakes */
	_cleanup_(model_freep) struct model *m = load(TEST_DATA "/policy/xyz.json", NULL);
	_cleanup_(lint_report_freep) struct lint_report *r = run(m, NULL);

	ck_assert_uint_eq(r->n_findings, 0);
}
END_TEST

/* --- the command line --- */

struct cli_result {
	int status;
	char *out, *err;
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	ck_assert_ptr_nonnull(f);
	buf = calloc(1, 1 << 20);
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Runs `$NPAUDIT args` with stdout and stderr captured. */
static struct cli_result cli(const char *args)
{
	const char *bin = getenv("NPAUDIT");
	char out[] = "/tmp/npaudit-lint-out-XXXXXX", err[] = "/tmp/npaudit-lint-err-XXXXXX";
	char cmd[4096];
	struct cli_result r;
	int fo, fe, st;

	ck_assert_msg(bin && *bin, "NPAUDIT (the npaudit binary) is not set");
	fo = mkstemp(out);
	fe = mkstemp(err);
	ck_assert(fo >= 0 && fe >= 0);
	close(fo);
	close(fe);
	snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' %s >'%s' 2>'%s'", TEST_DATA, bin, args, out,
		 err);
	st = system(cmd);
	ck_assert(st != -1 && WIFEXITED(st));
	r.status = WEXITSTATUS(st);
	r.out = slurp(out);
	r.err = slurp(err);
	unlink(out);
	unlink(err);
	return r;
}

static void cli_done(struct cli_result *r)
{
	free(r->out);
	free(r->err);
}

START_TEST(cli_lint_json)
{
	struct cli_result r;
	json_t *j, *arr, *x;
	const char *key;
	json_t *v;
	size_t i;
	bool seen_wrong_ns = false;

	/* findings: exit 1, exactly {"findings":[{id,kind,severity,objects,message,fix}]} */
	r = cli("lint --state lint/cluster.yaml --state lint/selection.yaml --node node-1 "
		"--cni-conf-dir cni/calico/net.d --json");
	ck_assert_msg(r.status == 1, "status %d, stderr %s", r.status, r.err);
	j = json_loads(r.out, JSON_REJECT_DUPLICATES, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", r.out);
	ck_assert_uint_eq(json_object_size(j), 1);
	arr = json_object_get(j, "findings");
	ck_assert(json_is_array(arr));
	ck_assert_uint_gt(json_array_size(arr), 3);
	json_array_foreach(arr, i, x)
	{
		ck_assert_uint_eq(json_object_size(x), 6);
		json_object_foreach(x, key, v)
		{
			if (streq(key, "objects")) {
				ck_assert(json_is_array(v) && json_array_size(v) > 0);
				ck_assert(json_is_string(json_array_get(v, 0)));
			} else
				ck_assert_msg(json_is_string(v) &&
						      (streq(key, "id") || streq(key, "kind") ||
						       streq(key, "severity") ||
						       streq(key, "message") || streq(key, "fix")),
					      "unexpected member %s", key);
		}
		ck_assert_int_ge(lint_kind_from_name(json_string_value(json_object_get(x, "kind"))),
				 0);
		ck_assert_int_ge(
			lint_severity_from_name(json_string_value(json_object_get(x, "severity"))),
			0);
		if (streq(json_string_value(json_object_get(x, "kind")),
			  "policy-wrong-namespace")) {
			seen_wrong_ns = true;
			ck_assert_str_eq(json_string_value(json_object_get(x, "severity")),
					 "error");
			ck_assert_str_eq(
				json_string_value(json_array_get(json_object_get(x, "objects"), 0)),
				"networkpolicy/default/billing-ingress");
			ck_assert_str_eq(
				json_string_value(json_array_get(json_object_get(x, "objects"), 1)),
				"pod/payments/billing-84d9c6b7f5-h6j7k");
		}
	}
	ck_assert(seen_wrong_ns);
	/* notes go to stderr, never into the JSON */
	ASSERT_CONTAINS(r.err, "iptables-backend-split not checked");
	json_decref(j);
	cli_done(&r);

	/* no findings: exit 0 and an empty list */
	r = cli("lint --state policy/xyz.json --json");
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "{\"findings\":[]}\n");
	cli_done(&r);

	/* human output */
	r = cli("lint --state lint/cluster.yaml --state lint/selection.yaml");
	ck_assert_int_eq(r.status, 1);
	ASSERT_CONTAINS(r.out, "error: policy-wrong-namespace [");
	ASSERT_CONTAINS(r.out, "  fix: create the policy in namespace payments");
	cli_done(&r);
}
END_TEST

START_TEST(cli_errors_and_cni)
{
	struct cli_result r;
	json_t *j;

	/* malformed objects: the output, then the diagnostics and exit 2 */
	r = cli("lint --state model/broken.yaml --json");
	ck_assert_int_eq(r.status, 2);
	j = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	json_decref(j);
	ASSERT_CONTAINS(r.err, "npaudit: skipped: ");
	cli_done(&r);

	r = cli("lint --json");
	ck_assert_int_eq(r.status, 2);
	ASSERT_CONTAINS(r.err, "--state FILE is required");
	cli_done(&r);

	r = cli("lint --state /nonexistent.json");
	ck_assert_int_eq(r.status, 2);
	cli_done(&r);

	r = cli("lint --state lint/cluster.yaml --cni-conf-dir /nonexistent/net.d");
	ck_assert_int_eq(r.status, 2);
	ASSERT_CONTAINS(r.err, "cannot read the CNI configuration directory");
	cli_done(&r);

	r = cli("lint --state lint/cluster.yaml --dns-label nolabel");
	ck_assert_int_eq(r.status, 2);
	cli_done(&r);

	r = cli("cni --state cni/flannel/cluster.yaml --node node-1 --cni-conf-dir "
		"cni/flannel/net.d --json");
	ck_assert_int_eq(r.status, 0);
	j = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "flannel");
	ck_assert_str_eq(json_string_value(json_object_get(j, "enforces_networkpolicy")), "no");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "agent"), "pod")),
			 "kube-flannel-ds-8c4qz");
	ck_assert(json_array_size(json_object_get(j, "evidence")) >= 2);
	json_decref(j);
	cli_done(&r);

	r = cli("cni --state cni/cilium/cluster.yaml --node node-1 --cni-conf-dir "
		"cni/cilium/net.d");
	ck_assert_int_eq(r.status, 0);
	ASSERT_CONTAINS(r.out, "CNI:        cilium v1.15.3");
	ASSERT_CONTAINS(r.out, "Dataplane:  eBPF");
	cli_done(&r);

	r = cli("lint --state cni/flannel/cluster.yaml --state cni/workload.yaml --node node-1 "
		"--cni-conf-dir cni/flannel/net.d --json");
	ck_assert_int_eq(r.status, 1);
	ASSERT_CONTAINS(r.out, "\"kind\":\"cni-no-policy-support\",\"severity\":\"critical\"");
	cli_done(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lint");
	TCase *tc = tcase_create("lint");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, model_keeps_daemonset_containers);
	tcase_add_test(tc, policy_selects_nothing);
	tcase_add_test(tc, policy_wrong_namespace);
	tcase_add_test(tc, policy_selects_all);
	tcase_add_test(tc, hostnetwork_selected);
	tcase_add_test(tc, peer_selects_nothing);
	tcase_add_test(tc, rule_allows_all);
	tcase_add_test(tc, rule_allows_all_overrides_a_neighbour);
	tcase_add_test(tc, policytypes_implicit);
	tcase_add_test(tc, policytypes_contradiction);
	tcase_add_test(tc, egress_blocks_dns);
	tcase_add_test(tc, egress_blocks_dns_needs_the_dns_pods);
	tcase_add_test(tc, external_exposure);
	tcase_add_test(tc, named_port_unresolved);
	tcase_add_test(tc, redundant_rule_and_shadowed_policy);
	tcase_add_loop_test(tc, cni_detects_each_plugin, 0, (int)ELEMENTSOF(cni_cases));
	tcase_add_test(tc, cni_detects_by_daemonset_name);
	tcase_add_test(tc, cni_live_rules_settle_the_backend);
	tcase_add_test(tc, cni_kindnet_alone_is_not_guessed);
	tcase_add_test(tc, cni_unknown_dataplane_is_a_note);
	tcase_add_test(tc, cni_conf_dir_edge_cases);
	tcase_add_test(tc, cni_no_policy_support);
	tcase_add_test(tc, cni_ebpf_dataplane);
	tcase_add_test(tc, cni_agent_unhealthy);
	tcase_add_test(tc, iptables_backend_split);
	tcase_add_test(tc, ids_are_stable_and_json_is_exact);
	tcase_add_test(tc, ids_survive_scaling);
	tcase_add_test(tc, report_diff_gives_transitions);
	tcase_add_test(tc, shared_engine_gives_the_same_report);
	tcase_add_test(tc, findings_list_at_most_50_pods);
	tcase_add_test(tc, names_round_trip);
	tcase_add_test(tc, clean_cluster_has_no_policy_findings);
	tcase_add_test(tc, cli_lint_json);
	tcase_add_test(tc, cli_errors_and_cni);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
