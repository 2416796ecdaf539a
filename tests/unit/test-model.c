/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "k8s-pod.pb-c.h"
#include "model/model.h"

static struct model *load(const char *file, int expect_skipped)
{
	struct np_error e = { 0 };
	struct model *m;

	ck_assert_int_eq(model_new(&m), 0);
	ck_assert_int_eq(model_load_file(m, file, &e), expect_skipped);
	return m;
}

START_TEST(list_loads_every_kind)
{
	_cleanup_(model_freep) struct model *m = load(TEST_DATA "/model/cluster.json", 0);
	const struct model_pod *const *pods;
	const struct model_policy *const *pols;
	const struct model_service *const *svcs;
	const struct model_daemonset *const *ds;
	const struct model_namespace *const *nss;

	/* x, y explicit; z implicit (pod c names it) */
	ck_assert_uint_eq(model_namespaces(m, &nss), 3);
	ck_assert_str_eq(nss[2]->name, "z");
	ck_assert(nss[2]->implicit);
	ck_assert_str_eq(model_labels_get(&nss[2]->labels, "kubernetes.io/metadata.name"), "z");
	/* the API server's name label is added where missing */
	ck_assert_str_eq(model_labels_get(&model_namespace_get(m, "x")->labels,
					  "kubernetes.io/metadata.name"),
			 "x");
	ck_assert_uint_eq(model_pods(m, &pods), 4);
	/* the Calico projectcalico.org NetworkPolicy is not a Kubernetes one */
	ck_assert_uint_eq(model_policies(m, &pols), 1);
	ck_assert_uint_eq(model_services(m, &svcs), 1);
	ck_assert_uint_eq(model_daemonsets(m, &ds), 1);
	ck_assert_uint_eq(ds[0]->desired, 3);
	ck_assert_uint_eq(ds[0]->ready, 2);
	ck_assert_str_eq(ds[0]->images[0], "docker.io/calico/node:v3.27.0");
	ck_assert_int_eq(svcs[0]->type, MODEL_SVC_NODE_PORT);
	ck_assert(svcs[0]->external_traffic_local);
	ck_assert_str_eq(svcs[0]->ports[0].target_port_name, "http");
}
END_TEST

START_TEST(pod_fields)
{
	_cleanup_(model_freep) struct model *m = load(TEST_DATA "/model/cluster.json", 0);
	const struct model_pod *a = model_pod_get(m, "x", "a"), *c = model_pod_get(m, "z", "c");
	const struct model_pod *h = model_pod_get(m, "y", "host");
	char uid[MODEL_UID_BUF];
	np_u128 v;

	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->name, "a");
	ck_assert_str_eq(model_pod_uid(a, uid), "u-xa");
	ck_assert_str_eq(a->node, "node-1");
	ck_assert_uint_eq(a->n_ips, 2);
	ck_assert_int_eq(np_addr_parse("fd00::a", &v), AF_INET6);
	ck_assert(a->ips[1] == v);
	ck_assert_uint_eq(a->n_ports, 2);
	ck_assert_str_eq(a->ports[1].name, "dns");
	ck_assert_uint_eq(a->ports[1].proto, NP_PROTO_UDP);
	ck_assert_uint_eq(a->ports[0].proto, NP_PROTO_TCP);
	ck_assert(a->ready);
	ck_assert_uint_eq(a->restarts, 3);
	ck_assert_str_eq(a->origin->owner_kind, "ReplicaSet");
	ck_assert_str_eq(a->origin->image, "nginx:1.25");
	ck_assert(model_pod_policy_applies(a));
	ck_assert(c->terminating);
	ck_assert(!model_pod_policy_applies(c));
	ck_assert(h->host_network);
	ck_assert(!model_pod_policy_applies(h));
	ck_assert_int_eq(np_addr_parse("10.0.1.10", &v), AF_INET);
	ck_assert_ptr_eq(model_pod_by_ip(m, v), a);
	ck_assert_int_eq(np_addr_parse("10.0.1.11", &v), AF_INET);
	ck_assert_ptr_null(model_pod_by_ip(m, v)); /* terminating pods are not peers */
}
END_TEST

START_TEST(policy_fields)
{
	_cleanup_(model_freep) struct model *m = load(TEST_DATA "/model/cluster.json", 0);
	const struct model_policy *p = model_policy_get(m, "x", "allow-web");
	const struct model_rule *r;
	np_u128 lo, hi;

	ck_assert_ptr_nonnull(p);
	ck_assert(!p->policy_types_present);
	ck_assert(p->ingress_present);
	ck_assert(p->egress_present); /* `egress: []` is present but empty */
	ck_assert_uint_eq(p->n_rules[NP_EGRESS], 0);
	ck_assert_uint_eq(p->n_rules[NP_INGRESS], 2);
	r = &p->rules[NP_INGRESS][0];
	ck_assert(r->peers_present);
	ck_assert_uint_eq(r->n_peers, 2);
	ck_assert(r->peers[0].namespace_selector.present);
	ck_assert(model_selector_is_empty(&r->peers[0].pod_selector));
	ck_assert_uint_eq(r->peers[0].namespace_selector.exprs[0].n_values, 2); /* deduplicated */
	ck_assert_ptr_nonnull(r->peers[1].ipblock);
	ck_assert_uint_eq(r->peers[1].ipblock->n_except, 1);
	ck_assert_int_eq(np_cidr_parse("10.1.0.0/16", &lo, &hi), AF_INET);
	ck_assert(r->peers[1].ipblock->except[0].lo == lo &&
		  r->peers[1].ipblock->except[0].hi == hi);
	ck_assert_str_eq(r->ports[0].port_name, "http");
	ck_assert_uint_eq(r->ports[0].proto, NP_PROTO_TCP); /* default */
	ck_assert_uint_eq(r->ports[1].proto, NP_PROTO_UDP);
	ck_assert_uint_eq(r->ports[1].port, 1000);
	ck_assert_uint_eq(r->ports[1].end_port, 2000);
	/* the second rule is `{}`: no from, no ports */
	ck_assert(!p->rules[NP_INGRESS][1].peers_present);
	ck_assert(!p->rules[NP_INGRESS][1].ports_present);
}
END_TEST

START_TEST(selectors_and_index)
{
	_cleanup_(model_freep) struct model *m = load(TEST_DATA "/model/cluster.json", 0);
	const struct model_policy *p = model_policy_get(m, "x", "allow-web");
	const struct model_pod *const *pods;

	ck_assert(model_selector_matches(&p->pod_selector, &model_pod_get(m, "x", "a")->labels));
	ck_assert(!model_selector_matches(&p->pod_selector, &model_pod_get(m, "z", "c")->labels));
	ck_assert(model_selector_matches(&p->rules[0][0].peers[0].namespace_selector,
					 &model_namespace_get(m, "y")->labels));
	ck_assert(!model_selector_matches(&p->rules[0][0].peers[0].namespace_selector,
					  &model_namespace_get(m, "z")->labels));
	ck_assert_uint_eq(model_pods_with_label(m, "app", "web", &pods), 2);
	ck_assert_uint_eq(model_pods_with_label(m, "app", "nope", &pods), 0);
	ck_assert_uint_eq(model_pods_with_key(m, "pod", &pods), 3);
	ck_assert_uint_eq(model_pods_in_namespace(m, "x", &pods), 2);
	ck_assert_str_eq(pods[0]->name, "a");
	ck_assert_uint_eq(model_pods_on_node(m, "node-1", &pods), 3);
	ck_assert_uint_eq(model_pods_on_node(m, "node-9", &pods), 0);
}
END_TEST

START_TEST(matchexpressions_ops)
{
	_cleanup_(model_freep) struct model *m = NULL;
	struct np_error e = { 0 };
	const char *doc = "kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: "
			  "p, namespace: n}\n"
			  "spec:\n  podSelector:\n    matchExpressions:\n"
			  "    - {key: a, operator: NotIn, values: [x]}\n"
			  "    - {key: b, operator: Exists}\n"
			  "    - {key: c, operator: DoesNotExist}\n"
			  "---\nkind: Pod\napiVersion: v1\nmetadata: {name: p1, namespace: n, "
			  "labels: {b: '1'}}\n"
			  "---\nkind: Pod\napiVersion: v1\nmetadata: {name: p2, namespace: n, "
			  "labels: {a: x, b: '1'}}\n"
			  "---\nkind: Pod\napiVersion: v1\nmetadata: {name: p3, namespace: n, "
			  "labels: {b: '1', c: ''}}\n"
			  "---\nkind: Pod\napiVersion: v1\nmetadata: {name: p4, namespace: n, "
			  "labels: {a: y}}\n";
	const struct model_policy *p;

	ck_assert_int_eq(model_new(&m), 0);
	ck_assert_int_eq(model_load_buffer(m, doc, strlen(doc), "inline", &e), 0);
	p = model_policy_get(m, "n", "p");
	ck_assert(model_selector_matches(&p->pod_selector, &model_pod_get(m, "n", "p1")->labels));
	ck_assert(!model_selector_matches(&p->pod_selector, &model_pod_get(m, "n", "p2")->labels));
	ck_assert(!model_selector_matches(&p->pod_selector, &model_pod_get(m, "n", "p3")->labels));
	ck_assert(!model_selector_matches(&p->pod_selector, &model_pod_get(m, "n", "p4")->labels));
}
END_TEST

START_TEST(malformed_objects_are_reported_and_skipped)
{
	_cleanup_(model_freep) struct model *m = load(TEST_DATA "/model/broken.yaml", 2);
	const struct np_error *d;
	size_t n;
	char buf[1024];
	const struct model_policy *p;

	d = model_diagnostics(m, &n);
	ck_assert_uint_eq(n, 2);
	np_error_format(&d[0], buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "Pod q/bad-port") && strstr(buf, "containerPort") &&
			      strstr(buf, "broken.yaml"),
		      "%s", buf);
	np_error_format(&d[1], buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "NetworkPolicy q/bad-op"), "%s", buf);
	ck_assert_msg(strstr(buf, "Like"), "%s", buf);
	/* the rest of the file is used */
	ck_assert_ptr_nonnull(model_pod_get(m, "q", "good"));
	ck_assert_str_eq(model_labels_get(&model_pod_get(m, "q", "good")->labels, "tier"), "2");
	p = model_policy_get(m, "q", "anchors");
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->policy_types, MODEL_POLICY_TYPE_INGRESS | MODEL_POLICY_TYPE_EGRESS);
	ck_assert_str_eq(p->rules[NP_INGRESS][0].peers[0].pod_selector.match_labels.v[0].value,
			 "db");
}
END_TEST

START_TEST(syntax_error_loads_nothing)
{
	_cleanup_(model_freep) struct model *m = NULL;
	struct np_error e = { 0 };
	const struct model_pod *const *pods;
	char buf[1024];

	ck_assert_int_eq(model_new(&m), 0);
	ck_assert_int_eq(model_load_file(m, TEST_DATA "/model/truncated.json", &e), -EBADMSG);
	np_error_format(&e, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "truncated.json:1") && strstr(buf, "JSON"), "%s", buf);
	ck_assert_uint_eq(model_pods(m, &pods), 0);
	ck_assert_int_lt(model_load_file(m, TEST_DATA "/model/does-not-exist.json", &e), 0);
	ck_assert_int_eq(model_load_buffer(m, "a: [b", 5, "bad", &e), -EBADMSG);
}
END_TEST

START_TEST(apply_update_delete)
{
	_cleanup_(model_freep) struct model *m = load(TEST_DATA "/model/cluster.json", 0);
	json_t *o =
		json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s},s:{s:s}}", "kind", "Pod",
			  "apiVersion", "v1", "metadata", "name", "a", "namespace", "x", "labels",
			  "app", "db", "spec", "nodeName", "node-3", "status", "podIP", "10.9.9.9");
	const struct model_pod *const *pods;
	struct np_error e = { 0 };
	uint64_t g = model_generation(m);

	ck_assert_int_eq(model_apply_json(m, o, MODEL_POD, false, &e), 1);
	ck_assert_uint_gt(model_generation(m), g);
	ck_assert_str_eq(model_pod_get(m, "x", "a")->node, "node-3");
	ck_assert_uint_eq(model_pods_with_label(m, "app", "web", &pods), 1);
	ck_assert_uint_eq(model_pods_with_label(m, "app", "db", &pods), 1);
	ck_assert_int_eq(model_apply_json(m, o, MODEL_POD, true, &e), 1);
	ck_assert_ptr_null(model_pod_get(m, "x", "a"));
	ck_assert_uint_eq(model_pods_with_label(m, "app", "db", &pods), 0);
	ck_assert_int_eq(model_apply_json(m, o, MODEL_POD, true, &e), 0);
	json_decref(o);
	/* the last pod of an implicit namespace takes the namespace with it */
	o = json_pack("{s:{s:s,s:s}}", "metadata", "name", "c", "namespace", "z");
	ck_assert_int_eq(model_apply_json(m, o, MODEL_POD, true, &e), 1);
	ck_assert_ptr_null(model_namespace_get(m, "z"));
	json_decref(o);
	/* a half-filled object is refused with its name and field, the model unchanged */
	o = json_pack("{s:{s:s},s:{s:i}}", "metadata", "namespace", "x", "spec", "hostNetwork", 1);
	ck_assert_int_eq(model_apply_json(m, o, MODEL_POD, false, &e), -EINVAL);
	ck_assert_str_eq(e.field, "metadata.name");
	json_decref(o);
	o = json_pack("{s:{s:s,s:s},s:{s:i}}", "metadata", "name", "q", "namespace", "x", "spec",
		      "hostNetwork", 1);
	ck_assert_int_eq(model_apply_json(m, o, MODEL_POD, false, &e), -EINVAL);
	ck_assert_str_eq(e.field, "spec.hostNetwork");
	ck_assert_msg(strstr(e.object, "x/q"), "%s", e.object);
	json_decref(o);
}
END_TEST

START_TEST(status_update_keeps_indexes)
{
	_cleanup_(model_freep) struct model *m = load(TEST_DATA "/model/cluster.json", 0);
	const struct model_pod *before = model_pod_get(m, "x", "b"), *after;
	const struct model_pod *const *pods;
	struct np_error e = { 0 };
	np_u128 v;
	/* Same labels and layout, new address and phase: updated in place. */
	json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:{s:s,s:[{s:s}]},s:{s:s,s:s}}",
			      "kind", "Pod", "apiVersion", "v1", "metadata", "name", "b",
			      "namespace", "x", "labels", "pod", "b", "app", "web", "spec",
			      "nodeName", "node-2", "containers", "name", "c", "status", "phase",
			      "Failed", "podIP", "10.0.2.99");

	ck_assert_int_eq(model_apply_json(m, o, MODEL_POD, false, &e), 1);
	after = model_pod_get(m, "x", "b");
	ck_assert_ptr_eq(before, after);
	ck_assert_str_eq(after->name, "b");
	ck_assert_str_eq(after->ns, "x");
	ck_assert_int_eq(after->phase, MODEL_POD_FAILED);
	ck_assert_uint_eq(model_pods_with_label(m, "app", "web", &pods), 2);
	ck_assert_uint_eq(model_pods_in_namespace(m, "x", &pods), 2);
	ck_assert_int_eq(np_addr_parse("10.0.2.10", &v), AF_INET);
	ck_assert_ptr_null(model_pod_by_ip(m, v));
	/* a Failed pod is no peer either */
	ck_assert_int_eq(np_addr_parse("10.0.2.99", &v), AF_INET);
	ck_assert_ptr_null(model_pod_by_ip(m, v));
	json_decref(o);
	/* A label changed, same layout: still in place, the label index follows. */
	o = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:{s:s,s:[{s:s}]},s:{s:s,s:s}}", "kind",
		      "Pod", "apiVersion", "v1", "metadata", "name", "b", "namespace", "x",
		      "labels", "pod", "b", "app", "api", "spec", "nodeName", "node-2",
		      "containers", "name", "c", "status", "phase", "Running", "podIP",
		      "10.0.2.99");
	ck_assert_int_eq(model_apply_json(m, o, MODEL_POD, false, &e), 1);
	ck_assert_ptr_eq(model_pod_get(m, "x", "b"), before);
	ck_assert_uint_eq(model_pods_with_label(m, "app", "web", &pods), 1);
	ck_assert_str_eq(pods[0]->name, "a");
	ck_assert_uint_eq(model_pods_with_label(m, "app", "api", &pods), 1);
	ck_assert_ptr_eq(pods[0], before);
	ck_assert_uint_eq(model_pods_with_key(m, "app", &pods), 2);
	ck_assert_uint_eq(model_pods_with_label(m, "pod", "b", &pods), 1);
	ck_assert_ptr_eq(model_pod_by_ip(m, v), before);
	json_decref(o);
}
END_TEST

static json_t *pod_json(const char *ns, const char *name, const char *uid, const char *app,
			unsigned port, const char *ip)
{
	json_t *o =
		json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s,s:[{s:s,s:s,s:[{s:s,s:i}]}]},"
			  "s:{s:s,s:s}}",
			  "kind", "Pod", "apiVersion", "v1", "metadata", "name", name, "namespace",
			  ns, "labels", "app", app, "spec", "nodeName", "n1", "containers", "name",
			  "c", "image", "img:1", "ports", "name", "http", "containerPort",
			  (int)port, "status", "phase", "Running", "podIP", ip);

	if (uid)
		json_object_set_new(json_object_get(o, "metadata"), "uid", json_string(uid));
	return o;
}

static void apply(struct model *m, json_t *o, bool deleted, int expect)
{
	struct np_error e = { 0 };

	ck_assert_int_eq(model_apply_json(m, o, MODEL_POD, deleted, &e), expect);
	json_decref(o);
}

START_TEST(pod_uids)
{
	_cleanup_(model_freep) struct model *m = NULL;
	char buf[MODEL_UID_BUF];

	ck_assert_int_eq(model_new(&m), 0);
	apply(m, pod_json("n", "uuid", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "a", 80, "10.0.0.1"),
	      false, 1);
	apply(m,
	      pod_json("n", "upper", "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0", "a", 80, "10.0.0.2"),
	      false, 1);
	apply(m, pod_json("n", "short", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f", "a", 80, "10.0.0.3"),
	      false, 1);
	apply(m, pod_json("n", "none", NULL, "a", 80, "10.0.0.4"), false, 1);
	ck_assert(model_pod_get(m, "n", "uuid")->uid_is_uuid);
	ck_assert_str_eq(model_pod_uid(model_pod_get(m, "n", "uuid"), buf),
			 "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
	/* Anything but the API server's lowercase form is kept as written. */
	ck_assert(!model_pod_get(m, "n", "upper")->uid_is_uuid);
	ck_assert_str_eq(model_pod_uid(model_pod_get(m, "n", "upper"), buf),
			 "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0");
	ck_assert_str_eq(model_pod_uid(model_pod_get(m, "n", "short"), buf),
			 "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f");
	ck_assert_str_eq(model_pod_uid(model_pod_get(m, "n", "none"), buf), "");
	/* An update that turns a UUID into a string (another layout) is applied too. */
	apply(m, pod_json("n", "uuid", "u-1", "a", 80, "10.0.0.1"), false, 1);
	ck_assert_str_eq(model_pod_uid(model_pod_get(m, "n", "uuid"), buf), "u-1");
}
END_TEST

START_TEST(pod_table_keys_and_churn)
{
	_cleanup_(model_freep) struct model *m = NULL;
	const struct model_pod *const *pods;
	const struct model_pod *p, *q;
	char ns[32], name[32], ip[32];
	size_t empty, full;

	ck_assert_int_eq(model_new(&m), 0);
	/* (namespace, name) is the key: no joined string can confuse these two. */
	apply(m, pod_json("a", "b/c", NULL, "x", 80, "10.1.0.1"), false, 1);
	apply(m, pod_json("a/b", "c", NULL, "y", 80, "10.1.0.2"), false, 1);
	ck_assert_str_eq(model_labels_get(&model_pod_get(m, "a", "b/c")->labels, "app"), "x");
	ck_assert_str_eq(model_labels_get(&model_pod_get(m, "a/b", "c")->labels, "app"), "y");
	ck_assert_ptr_null(model_pod_get(m, "a", "c"));
	ck_assert_ptr_null(model_pod_get(m, "nowhere", "c"));
	apply(m, pod_json("a", "b/c", NULL, "x", 80, "10.1.0.1"), true, 1);
	apply(m, pod_json("a/b", "c", NULL, "y", 80, "10.1.0.2"), true, 1);
	empty = model_memory_usage(m);

	for (unsigned i = 0; i < 3000; i++) {
		snprintf(ns, sizeof(ns), "ns-%u", i % 7);
		snprintf(name, sizeof(name), "pod-%u", i);
		snprintf(ip, sizeof(ip), "10.2.%u.%u", i / 250, i % 250);
		apply(m, pod_json(ns, name, NULL, i % 2 ? "odd" : "even", 80 + i % 3, ip), false,
		      1);
	}
	full = model_memory_usage(m);
	ck_assert_uint_eq(model_pods(m, &pods), 3000);
	ck_assert_uint_eq(model_pods_with_label(m, "app", "odd", &pods), 1500);
	/* Pods declaring the same ports share one array. */
	p = model_pod_get(m, "ns-0", "pod-0");
	q = model_pod_get(m, "ns-3", "pod-3");
	ck_assert_ptr_eq(p->ports, q->ports);
	ck_assert_ptr_eq(p->origin, q->origin);
	ck_assert_str_eq(p->origin->image, "img:1");
	ck_assert_ptr_null(p->origin->owner_kind);
	/* Delete every other pod: the rest stay reachable through the shifted table. */
	for (unsigned i = 0; i < 3000; i += 2) {
		snprintf(ns, sizeof(ns), "ns-%u", i % 7);
		snprintf(name, sizeof(name), "pod-%u", i);
		apply(m, pod_json(ns, name, NULL, "even", 80, "10.9.9.9"), true, 1);
	}
	ck_assert_uint_eq(model_pods(m, &pods), 1500);
	ck_assert_uint_eq(model_pods_with_label(m, "app", "even", &pods), 0);
	for (unsigned i = 0; i < 3000; i++) {
		snprintf(ns, sizeof(ns), "ns-%u", i % 7);
		snprintf(name, sizeof(name), "pod-%u", i);
		p = model_pod_get(m, ns, name);
		ck_assert_msg(i % 2 ? p != NULL : p == NULL, "%s/%s", ns, name);
		if (p)
			ck_assert_uint_eq(p->ports[0].port, 80 + i % 3);
	}
	/* A port change keeps the pod where it is and shares the other array. */
	q = model_pod_get(m, "ns-1", "pod-1");
	apply(m, pod_json("ns-1", "pod-1", NULL, "odd", 82, "10.2.0.1"), false, 1);
	ck_assert_ptr_eq(model_pod_get(m, "ns-1", "pod-1"), q);
	ck_assert_ptr_eq(q->ports, model_pod_get(m, "ns-5", "pod-5")->ports);
	ck_assert_uint_eq(q->ports[0].port, 82);
	for (unsigned i = 1; i < 3000; i += 2) {
		snprintf(ns, sizeof(ns), "ns-%u", i % 7);
		snprintf(name, sizeof(name), "pod-%u", i);
		apply(m, pod_json(ns, name, NULL, "odd", 80, "10.9.9.9"), true, 1);
	}
	ck_assert_uint_eq(model_pods(m, &pods), 0);
	/* Deletion gives the memory back (the interned strings stay). */
	ck_assert_msg(model_memory_usage(m) < empty + (full - empty) / 8, "%zu %zu %zu", empty,
		      full, model_memory_usage(m));
}
END_TEST

START_TEST(policy_validation)
{
	static const char *bad[] = {
		/* peer with ipBlock and selector */
		"{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"ingress\":[{"
		"\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\"},\"podSelector\":{}}]}]}}",
		/* except outside cidr */
		"{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"ingress\":[{"
		"\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\",\"except\":[\"11.0.0.0/"
		"8\"]}}]}]}}",
		/* endPort with a named port */
		"{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"egress\":[{"
		"\"ports\":[{\"port\":\"http\",\"endPort\":90}]}]}}",
		/* endPort below port */
		"{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"egress\":[{"
		"\"ports\":[{\"port\":100,\"endPort\":90}]}]}}",
		/* empty peer */
		"{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"egress\":[{"
		"\"to\":[{}]}]}}",
		/* bad protocol */
		"{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"egress\":[{"
		"\"ports\":[{\"protocol\":\"ICMP\"}]}]}}",
		/* bad policyType */
		"{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"p\"},\"spec\":{"
		"\"policyTypes\":[\"ingress\"]}}",
		/* cidr without prefix */
		"{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"ingress\":[{"
		"\"from\":[{\"ipBlock\":{\"cidr\":\"10.0.0.1\"}}]}]}}",
		/* In without values */
		"{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"p\"},\"spec\":{"
		"\"podSelector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\"}]}}}",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_(model_freep) struct model *m = NULL;
		const struct model_policy *const *p;
		struct np_error e = { 0 };

		ck_assert_int_eq(model_new(&m), 0);
		ck_assert_msg(model_load_buffer(m, bad[i], strlen(bad[i]), "t", &e) == 1,
			      "case %zu", i);
		ck_assert_uint_eq(model_policies(m, &p), 0);
	}
}
END_TEST

START_TEST(policy_defaults)
{
	_cleanup_(model_freep) struct model *m = NULL;
	struct np_error e = { 0 };
	const char *doc = "{\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"p\"},\"spec\":{}}";
	const struct model_policy *p;

	ck_assert_int_eq(model_new(&m), 0);
	ck_assert_int_eq(model_load_buffer(m, doc, strlen(doc), "t", &e), 0);
	p = model_policy_get(m, "default", "p"); /* namespace defaults like kubectl's */
	ck_assert_ptr_nonnull(p);
	ck_assert(model_selector_is_empty(&p->pod_selector)); /* missing podSelector = {} */
	ck_assert(!p->ingress_present && !p->egress_present && !p->policy_types_present);
}
END_TEST

START_TEST(yaml_scalars_and_fuzzy_input)
{
	_cleanup_(model_freep) struct model *m = NULL;
	struct np_error e = { 0 };
	const char *doc = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"007\"\n  namespace: n\n"
			  "  labels: {version: \"1.0\", on: \"yes\"}\nspec:\n  hostNetwork: true\n";
	const char *bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n";
	const char *unknown_alias = "a: *nope\n";

	ck_assert_int_eq(model_new(&m), 0);
	ck_assert_int_eq(model_load_buffer(m, doc, strlen(doc), "t", &e), 0);
	ck_assert(model_pod_get(m, "n", "007")->host_network);
	ck_assert_str_eq(model_labels_get(&model_pod_get(m, "n", "007")->labels, "version"), "1.0");
	/* an object without kind is an error, anchors share values */
	ck_assert_int_eq(model_load_buffer(m, bomb, strlen(bomb), "t", &e), 1);
	ck_assert_int_eq(model_load_buffer(m, unknown_alias, strlen(unknown_alias), "t", &e),
			 -EBADMSG);
	ck_assert_ptr_nonnull(strstr(e.message, "nope"));
}
END_TEST

static size_t json_fail_from;

static void *json_malloc_small(size_t n)
{
	return n >= json_fail_from ? NULL : malloc(n);
}

START_TEST(json_out_of_memory)
{
	/* jansson's lexer drops the bytes it cannot store and goes on: a long string then comes
	 * out shortened or as a bad token. Either must be an out-of-memory error, not a load. */
	_cleanup_(model_freep) struct model *m = NULL;
	struct np_error e = { 0 };
	const struct model_pod *const *pods;
	size_t n = 100000;
	char *doc = malloc(n + 1024), *p;
	int r;

	ck_assert_ptr_nonnull(doc);
	p = doc + sprintf(doc, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":"
			       "\"a\",\"namespace\":\"x\",\"annotations\":{\"blob\":\"");
	memset(p, 'b', n);
	p += n;
	p += sprintf(p, "\"}},\"spec\":{\"nodeName\":\"n\"},\"status\":{\"podIP\":\"10.0.0.1\"}}");
	ck_assert_int_eq(model_new(&m), 0);
	json_fail_from = 32768;
	json_set_alloc_funcs(json_malloc_small, free);
	r = model_load_buffer(m, doc, (size_t)(p - doc), "big", &e);
	json_set_alloc_funcs(malloc, free);
	ck_assert_int_eq(r, -ENOMEM);
	ck_assert_msg(strstr(e.message, "out of memory"), "%s", e.message);
	ck_assert_uint_eq(model_pods(m, &pods), 0);
	/* With memory, the same document loads. */
	ck_assert_int_eq(model_load_buffer(m, doc, (size_t)(p - doc), "big", &e), 0);
	ck_assert_uint_eq(model_pods(m, &pods), 1);
	free(doc);
}
END_TEST

/* ---- pods in protobuf: the same model pod as from JSON ---- */

/* Builds the protobuf encoding of a JSON pod (the fields k8s-pod.proto has) with protobuf-c;
 * returns a malloc'ed buffer. Structures come from a bump arena freed by the caller. */
static char pb_pool[1 << 18];
static size_t pb_pool_used;

static void *pb_new(size_t size)
{
	void *p = pb_pool + pb_pool_used;

	size = (size + 15) & ~(size_t)15;
	ck_assert_uint_le(pb_pool_used + size, sizeof(pb_pool));
	pb_pool_used += size;
	memset(p, 0, size);
	return p;
}

static char *pb_s(json_t *o, const char *key)
{
	return (char *)json_string_value(json_object_get(o, key));
}

#define PB_ARRAY(T, n) ((T **)pb_new((n) * sizeof(T *) + 1))

static uint8_t *pod_to_pb(json_t *o, size_t *ret_len)
{
	K8s__Pod *pod = pb_new(sizeof(*pod));
	json_t *md = json_object_get(o, "metadata"), *spec = json_object_get(o, "spec");
	json_t *st = json_object_get(o, "status"), *x, *y, *z;
	const char *k;
	size_t i, j;
	uint8_t *buf;

	pb_pool_used = 0;
	pod = pb_new(sizeof(*pod));
	k8s__pod__init(pod);
	if (md) {
		K8s__ObjectMeta *m = pb_new(sizeof(*m));

		k8s__object_meta__init(m);
		m->name = pb_s(md, "name");
		m->namespace_ = pb_s(md, "namespace");
		m->uid = pb_s(md, "uid");
		m->resourceversion = pb_s(md, "resourceVersion");
		if (json_object_get(md, "deletionTimestamp")) {
			m->deletiontimestamp = pb_new(sizeof(K8s__Time));
			k8s__time__init(m->deletiontimestamp);
			m->deletiontimestamp->has_seconds = true;
			m->deletiontimestamp->seconds = 1767225600;
		}
		x = json_object_get(md, "labels");
		m->labels = PB_ARRAY(K8s__ObjectMeta__LabelsEntry, json_object_size(x));
		json_object_foreach(x, k, y)
		{
			K8s__ObjectMeta__LabelsEntry *l = pb_new(sizeof(*l));

			k8s__object_meta__labels_entry__init(l);
			l->key = (char *)k;
			l->value = (char *)json_string_value(y);
			m->labels[m->n_labels++] = l;
		}
		x = json_object_get(md, "ownerReferences");
		m->ownerreferences = PB_ARRAY(K8s__OwnerReference, json_array_size(x));
		json_array_foreach(x, i, y)
		{
			K8s__OwnerReference *r = pb_new(sizeof(*r));

			k8s__owner_reference__init(r);
			r->kind = pb_s(y, "kind");
			r->name = pb_s(y, "name");
			r->uid = pb_s(y, "uid");
			r->apiversion = pb_s(y, "apiVersion");
			if (json_is_boolean(json_object_get(y, "controller"))) {
				r->has_controller = true;
				r->controller = json_is_true(json_object_get(y, "controller"));
			}
			m->ownerreferences[m->n_ownerreferences++] = r;
		}
		pod->metadata = m;
	}
	if (spec) {
		K8s__PodSpec *s = pb_new(sizeof(*s));

		k8s__pod_spec__init(s);
		s->nodename = pb_s(spec, "nodeName");
		if (json_is_boolean(json_object_get(spec, "hostNetwork"))) {
			s->has_hostnetwork = true;
			s->hostnetwork = json_is_true(json_object_get(spec, "hostNetwork"));
		}
		x = json_object_get(spec, "containers");
		s->containers = PB_ARRAY(K8s__Container, json_array_size(x));
		json_array_foreach(x, i, y)
		{
			K8s__Container *c = pb_new(sizeof(*c));

			k8s__container__init(c);
			c->name = pb_s(y, "name");
			c->image = pb_s(y, "image");
			z = json_object_get(y, "ports");
			c->ports = PB_ARRAY(K8s__ContainerPort, json_array_size(z));
			for (j = 0; j < json_array_size(z); j++) {
				json_t *p = json_array_get(z, j);
				K8s__ContainerPort *cp = pb_new(sizeof(*cp));

				k8s__container_port__init(cp);
				cp->name = pb_s(p, "name");
				cp->protocol = pb_s(p, "protocol");
				if (json_is_integer(json_object_get(p, "containerPort"))) {
					cp->has_containerport = true;
					cp->containerport = (int32_t)json_integer_value(
						json_object_get(p, "containerPort"));
				}
				c->ports[c->n_ports++] = cp;
			}
			s->containers[s->n_containers++] = c;
		}
		pod->spec = s;
	}
	if (st) {
		K8s__PodStatus *s = pb_new(sizeof(*s));

		k8s__pod_status__init(s);
		s->phase = pb_s(st, "phase");
		s->podip = pb_s(st, "podIP");
		x = json_object_get(st, "podIPs");
		s->podips = PB_ARRAY(K8s__PodIP, json_array_size(x));
		json_array_foreach(x, i, y)
		{
			K8s__PodIP *ip = pb_new(sizeof(*ip));

			k8s__pod_ip__init(ip);
			ip->ip = pb_s(y, "ip");
			s->podips[s->n_podips++] = ip;
		}
		x = json_object_get(st, "conditions");
		s->conditions = PB_ARRAY(K8s__PodCondition, json_array_size(x));
		json_array_foreach(x, i, y)
		{
			K8s__PodCondition *c = pb_new(sizeof(*c));

			k8s__pod_condition__init(c);
			c->type = pb_s(y, "type");
			c->status = pb_s(y, "status");
			s->conditions[s->n_conditions++] = c;
		}
		x = json_object_get(st, "containerStatuses");
		s->containerstatuses = PB_ARRAY(K8s__ContainerStatus, json_array_size(x));
		json_array_foreach(x, i, y)
		{
			K8s__ContainerStatus *c = pb_new(sizeof(*c));

			k8s__container_status__init(c);
			c->name = pb_s(y, "name");
			if (json_is_integer(json_object_get(y, "restartCount"))) {
				c->has_restartcount = true;
				c->restartcount = (int32_t)json_integer_value(
					json_object_get(y, "restartCount"));
			}
			s->containerstatuses[s->n_containerstatuses++] = c;
		}
		pod->status = s;
	}
	*ret_len = k8s__pod__get_packed_size(pod);
	buf = malloc(*ret_len + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(k8s__pod__pack(pod, buf), *ret_len);
	return buf;
}

static void pods_equal(const struct model_pod *a, const struct model_pod *b)
{
	char ua[MODEL_UID_BUF], ub[MODEL_UID_BUF];

	ck_assert_str_eq(a->ns, b->ns);
	ck_assert_str_eq(a->name, b->name);
	ck_assert_str_eq(a->node ? a->node : "-", b->node ? b->node : "-");
	ck_assert_str_eq(model_pod_uid(a, ua), model_pod_uid(b, ub));
	ck_assert_uint_eq(a->labels.n, b->labels.n);
	for (uint32_t i = 0; i < a->labels.n; i++) {
		ck_assert_str_eq(a->labels.v[i].key, b->labels.v[i].key);
		ck_assert_str_eq(a->labels.v[i].value, b->labels.v[i].value);
	}
	ck_assert_uint_eq(a->n_ips, b->n_ips);
	for (unsigned i = 0; i < a->n_ips; i++)
		ck_assert(a->ips[i] == b->ips[i]);
	ck_assert_uint_eq(a->n_ports, b->n_ports);
	for (unsigned i = 0; i < a->n_ports; i++) {
		ck_assert_str_eq(a->ports[i].name ? a->ports[i].name : "-",
				 b->ports[i].name ? b->ports[i].name : "-");
		ck_assert_uint_eq(a->ports[i].port, b->ports[i].port);
		ck_assert_uint_eq(a->ports[i].proto, b->ports[i].proto);
	}
	ck_assert_str_eq(a->origin->owner_kind ? a->origin->owner_kind : "-",
			 b->origin->owner_kind ? b->origin->owner_kind : "-");
	ck_assert_str_eq(a->origin->owner_name ? a->origin->owner_name : "-",
			 b->origin->owner_name ? b->origin->owner_name : "-");
	ck_assert_str_eq(a->origin->image ? a->origin->image : "-",
			 b->origin->image ? b->origin->image : "-");
	ck_assert_int_eq(a->phase, b->phase);
	ck_assert_int_eq(a->ready, b->ready);
	ck_assert_int_eq(a->restarts, b->restarts);
	ck_assert_int_eq(a->host_network, b->host_network);
	ck_assert_int_eq(a->terminating, b->terminating);
}

/* Decodes the JSON pod and its protobuf encoding into two models: both succeed with equal
 * pods, or both fail on the same field with the same message. Returns the JSON result. */
static int json_pb_same(const char *text, const char *ns, const char *name)
{
	_cleanup_(model_freep) struct model *mj = NULL, *mp = NULL;
	struct np_error ej = { 0 }, ep = { 0 };
	json_error_t jerr;
	json_t *o = json_loads(text, 0, &jerr);
	uint8_t *buf;
	size_t len;
	int rj, rp;

	ck_assert_msg(o, "%s: %s", text, jerr.text);
	ck_assert_int_eq(model_new(&mj), 0);
	ck_assert_int_eq(model_new(&mp), 0);
	buf = pod_to_pb(o, &len);
	rj = model_apply_json(mj, o, MODEL_POD, false, &ej);
	rp = model_apply_pod_protobuf(mp, buf, len, &ep);
	free(buf);
	json_decref(o);
	ck_assert_msg(rj == rp, "%s: JSON %d (%s: %s), protobuf %d (%s: %s)", text, rj, ej.field,
		      ej.message, rp, ep.field, ep.message);
	if (rj < 0) {
		ck_assert_str_eq(ej.field, ep.field);
		ck_assert_str_eq(ej.message, ep.message);
		ck_assert_str_eq(ej.object, ep.object);
		ck_assert_ptr_null(model_pod_get(mp, ns, name));
		return rj;
	}
	ck_assert_ptr_nonnull(model_pod_get(mj, ns, name));
	pods_equal(model_pod_get(mj, ns, name), model_pod_get(mp, ns, name));
	return rj;
}

START_TEST(pod_protobuf_equals_json)
{
	static const char *const valid[][3] = {
		/* dual-stack, named ports in two containers, the controller reference, ready,
		 * restarts */
		{ "{\"metadata\":{\"name\":\"p\",\"namespace\":\"n\",\"uid\":"
		  "\"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\",\"labels\":{\"app\":\"web\",\"t\":\"\"}"
		  ","
		  "\"ownerReferences\":[{\"kind\":\"Node\",\"name\":\"x\"},{\"kind\":"
		  "\"ReplicaSet\","
		  "\"name\":\"rs\",\"controller\":true}]},\"spec\":{\"nodeName\":\"node-1\","
		  "\"containers\":[{\"name\":\"a\",\"image\":\"img:1\",\"ports\":[{\"name\":"
		  "\"http\","
		  "\"containerPort\":80},{\"containerPort\":53,\"protocol\":\"UDP\"}]},{\"name\":"
		  "\"b\",\"image\":\"img:2\",\"ports\":[{\"name\":\"s\",\"containerPort\":9,"
		  "\"protocol\":\"SCTP\"}]}]},\"status\":{\"phase\":\"Running\",\"podIP\":"
		  "\"10.0.0.7\",\"podIPs\":[{\"ip\":\"10.0.0.7\"},{\"ip\":\"fd00::7\"}],"
		  "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],\"containerStatuses\":"
		  "[{\"name\":\"a\",\"restartCount\":3},{\"name\":\"b\",\"restartCount\":2}]}}",
		  "n", "p" },
		/* IPv6 first, then IPv4 */
		{ "{\"metadata\":{\"name\":\"v6\",\"namespace\":\"n\"},\"status\":{\"podIPs\":[{"
		  "\"ip\":\"fd00::1\"},{\"ip\":\"10.1.1.1\"}]}}",
		  "n", "v6" },
		/* host network, terminating, only podIP, not ready */
		{ "{\"metadata\":{\"name\":\"h\",\"namespace\":\"kube-system\","
		  "\"deletionTimestamp\":"
		  "\"2026-01-01T00:00:00Z\",\"uid\":\"not-a-uuid\"},\"spec\":{\"hostNetwork\":true,"
		  "\"nodeName\":\"node-2\",\"containers\":[{\"name\":\"c\"}]},\"status\":{"
		  "\"phase\":"
		  "\"Failed\",\"podIP\":\"192.168.0.2\",\"conditions\":[{\"type\":\"Ready\","
		  "\"status\":\"False\"}]}}",
		  "kube-system", "h" },
		/* missing fields: no namespace (default), no spec, no status */
		{ "{\"metadata\":{\"name\":\"bare\"}}", "default", "bare" },
		{ "{\"metadata\":{\"name\":\"e\",\"namespace\":\"n\"},\"spec\":{},\"status\":{}}",
		  "n", "e" },
		/* empty strings, as the protobuf encoder of the API server always writes them */
		{ "{\"metadata\":{\"name\":\"z\",\"namespace\":\"n\",\"uid\":\"\"},\"spec\":{"
		  "\"nodeName\":\"\",\"containers\":[{\"name\":\"c\",\"ports\":[{\"name\":\"\","
		  "\"containerPort\":8080}]}]},\"status\":{\"podIP\":\"\"}}",
		  "n", "z" },
		{ "{\"metadata\":{\"name\":\"ph\",\"namespace\":\"n\"},\"status\":{\"phase\":"
		  "\"Evicted\"}}",
		  "n", "ph" },
	};
	static const char *const invalid[] = {
		"{\"metadata\":{\"namespace\":\"n\"}}",
		"{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"ports\":[{"
		"\"containerPort\":0}]}]}}",
		"{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\"},{"
		"\"ports\":"
		"[{\"containerPort\":80},{\"containerPort\":70000}]}]}}",
		"{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"ports\":[{"
		"\"containerPort\":80,\"protocol\":\"ICMP\"}]}]}}",
		"{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"ports\":[{\"name\":"
		"\"x\"}]}]}}",
		"{\"metadata\":{\"name\":\"p\"},\"status\":{\"podIP\":\"10.0.0.300\"}}",
		"{\"metadata\":{\"name\":\"p\"},\"status\":{\"podIPs\":[{\"ip\":\"10.0.0.1\"},{"
		"\"ip\":"
		"\"10.0.0.2\"}]}}",
		"{\"metadata\":{\"name\":\"p\"},\"status\":{\"podIPs\":[{\"ip\":\"10.0.0.1\"},{"
		"\"ip\":"
		"\"fd00::1\"},{\"ip\":\"fd00::2\"},{\"ip\":\"10.0.0.4\"}]}}",
		"{\"metadata\":{\"name\":\"p\"},\"status\":{\"podIP\":\"10.0.0.2\",\"podIPs\":[{"
		"\"ip\":\"10.0.0.1\"}]}}",
		"{\"metadata\":{\"name\":\"p\"},\"status\":{\"podIPs\":[{}]}}",
		"{\"metadata\":{\"name\":\"p\"},\"status\":{\"podIPs\":[{\"ip\":\"\"}]}}",
	};

	for (size_t i = 0; i < ELEMENTSOF(valid); i++)
		ck_assert_int_eq(json_pb_same(valid[i][0], valid[i][1], valid[i][2]), 1);
	for (size_t i = 0; i < ELEMENTSOF(invalid); i++)
		ck_assert_int_eq(json_pb_same(invalid[i], "default", "p"), -EINVAL);
}
END_TEST

START_TEST(pod_protobuf_many_labels_and_ports)
{
	json_t *o =
		json_pack("{s:{s:s,s:s,s:{}},s:{s:[{s:s,s:[]}]}}", "metadata", "name", "big",
			  "namespace", "n", "labels", "spec", "containers", "name", "c", "ports");
	json_t *labels = json_object_get(json_object_get(o, "metadata"), "labels");
	json_t *ports = json_object_get(
		json_array_get(json_object_get(json_object_get(o, "spec"), "containers"), 0),
		"ports");
	char *text, k[32];

	/* more than the decoder keeps inline */
	for (int i = 0; i < 40; i++) {
		snprintf(k, sizeof(k), "key-%02d", 39 - i);
		json_object_set_new(labels, k, json_string(k + 4));
		json_array_append_new(ports, json_pack("{s:i, s:s}", "containerPort", 1000 + i,
						       "protocol", i % 2 ? "UDP" : "TCP"));
	}
	text = json_dumps(o, 0);
	ck_assert_int_eq(json_pb_same(text, "n", "big"), 1);
	free(text);
	json_decref(o);
}
END_TEST

START_TEST(pod_protobuf_malformed)
{
	_cleanup_(model_freep) struct model *m = NULL;
	struct np_error e = { 0 };
	/* metadata (1) holding name (1) = "p", then the label map entry as a number */
	static const uint8_t wrong_wire[] = { 0x0a, 0x05, 0x0a, 0x01, 'p', 0x58, 0x01 };
	static const uint8_t truncated[] = { 0x0a, 0x09, 0x0a, 0x01, 'p' };
	/* a label map given twice with the same key: the last value wins */
	static const uint8_t dup_label[] = { 0x0a, 0x16, 0x0a, 0x01, 'p', 0x1a, 0x01, 'n',
					     0x5a, 0x06, 0x0a, 0x01, 'a', 0x12, 0x01, '1',
					     0x5a, 0x06, 0x0a, 0x01, 'a', 0x12, 0x01, '2' };

	ck_assert_int_eq(model_new(&m), 0);
	ck_assert_int_eq(model_apply_pod_protobuf(m, wrong_wire, sizeof(wrong_wire), &e), -EBADMSG);
	ck_assert_msg(strstr(e.message, "not a valid protobuf Pod"), "%s", e.message);
	ck_assert_int_eq(model_apply_pod_protobuf(m, truncated, sizeof(truncated), &e), -EBADMSG);
	ck_assert_int_eq(model_apply_pod_protobuf(m, "\xff\xff\xff", 3, &e), -EBADMSG);
	ck_assert_ptr_null(model_pod_get(m, "default", "p"));
	ck_assert_int_eq(model_apply_pod_protobuf(m, dup_label, sizeof(dup_label), &e), 1);
	ck_assert_uint_eq(model_pod_get(m, "n", "p")->labels.n, 1);
	ck_assert_str_eq(model_labels_get(&model_pod_get(m, "n", "p")->labels, "a"), "2");
	/* an empty message is a pod without a name */
	ck_assert_int_eq(model_apply_pod_protobuf(m, "", 0, &e), -EINVAL);
	ck_assert_str_eq(e.field, "metadata.name");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("model");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, list_loads_every_kind);
	tcase_add_test(tc, pod_fields);
	tcase_add_test(tc, policy_fields);
	tcase_add_test(tc, selectors_and_index);
	tcase_add_test(tc, matchexpressions_ops);
	tcase_add_test(tc, malformed_objects_are_reported_and_skipped);
	tcase_add_test(tc, syntax_error_loads_nothing);
	tcase_add_test(tc, apply_update_delete);
	tcase_add_test(tc, status_update_keeps_indexes);
	tcase_add_test(tc, pod_uids);
	tcase_add_test(tc, pod_protobuf_equals_json);
	tcase_add_test(tc, pod_protobuf_many_labels_and_ports);
	tcase_add_test(tc, pod_protobuf_malformed);
	tcase_add_test(tc, pod_table_keys_and_churn);
	tcase_add_test(tc, policy_validation);
	tcase_add_test(tc, policy_defaults);
	tcase_add_test(tc, yaml_scalars_and_fuzzy_input);
	tcase_add_test(tc, json_out_of_memory);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
