/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy lint: mistakes in NetworkPolicies that need no packet filter to see.
 *
 * Every check follows the networking.k8s.io/v1 API reference: a policy selects pods of its own
 * namespace by spec.podSelector; policyTypes, when omitted or empty, is [Ingress] plus Egress
 * iff spec.egress has a rule; a rule with from/to missing or empty allows every peer, with
 * ports missing or empty every port; a peer's podSelector alone selects in the policy's
 * namespace, namespaceSelector alone every pod of the matching namespaces; named ports resolve
 * against the destination pod's container ports; hostNetwork pods are outside NetworkPolicy.
 * Reachability questions (DNS, external clients) go through lib/policy, so the lint and the
 * audit cannot disagree about what a policy allows.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "lint-internal.h"

static const char *const kind_names[_LINT_KIND_MAX] = {
	[LINT_POLICY_SELECTS_NOTHING] = "policy-selects-nothing",
	[LINT_POLICY_WRONG_NAMESPACE] = "policy-wrong-namespace",
	[LINT_POLICY_SELECTS_ALL] = "policy-selects-all",
	[LINT_PEER_SELECTS_NOTHING] = "peer-selects-nothing",
	[LINT_RULE_ALLOWS_ALL] = "rule-allows-all",
	[LINT_POLICYTYPES_IMPLICIT] = "policytypes-implicit",
	[LINT_POLICYTYPES_CONTRADICTION] = "policytypes-contradiction",
	[LINT_EGRESS_BLOCKS_DNS] = "egress-blocks-dns",
	[LINT_EXTERNAL_EXPOSURE] = "external-exposure",
	[LINT_HOSTNETWORK_SELECTED] = "hostnetwork-selected",
	[LINT_NAMED_PORT_UNRESOLVED] = "named-port-unresolved",
	[LINT_SHADOWED_POLICY] = "shadowed-policy",
	[LINT_REDUNDANT_RULE] = "redundant-rule",
	[LINT_CNI_NO_POLICY_SUPPORT] = "cni-no-policy-support",
	[LINT_CNI_EBPF_DATAPLANE] = "cni-ebpf-dataplane",
	[LINT_CNI_AGENT_UNHEALTHY] = "cni-agent-unhealthy",
	[LINT_IPTABLES_BACKEND_SPLIT] = "iptables-backend-split",
};

static const char *const severity_names[] = {
	[LINT_INFO] = "info",
	[LINT_WARNING] = "warning",
	[LINT_ERROR] = "error",
	[LINT_CRITICAL] = "critical",
};

const char *lint_kind_name(enum lint_kind k)
{
	return (unsigned)k < _LINT_KIND_MAX ? kind_names[k] : NULL;
}

int lint_kind_from_name(const char *s)
{
	for (int k = 0; k < _LINT_KIND_MAX; k++)
		if (streq(kind_names[k], s))
			return k;
	return -EINVAL;
}

const char *lint_severity_name(enum lint_severity s)
{
	return (unsigned)s < ELEMENTSOF(severity_names) ? severity_names[s] : NULL;
}

int lint_severity_from_name(const char *s)
{
	for (size_t k = 0; k < ELEMENTSOF(severity_names); k++)
		if (streq(severity_names[k], s))
			return (int)k;
	return -EINVAL;
}

const char *lint_fw_source_name(enum lint_fw_source s)
{
	switch (s) {
	case LINT_FW_NFT:
		return "nftables";
	case LINT_FW_IPTABLES_NFT:
		return "iptables-nft";
	case LINT_FW_IPTABLES_LEGACY:
		return "iptables-legacy";
	case _LINT_FW_SOURCE_MAX:
		break;
	}
	return "unknown";
}

/* --- the context and emitting findings --- */

struct lint_ctx {
	const struct model *m;
	const struct lint_options *o;
	struct policy_engine *e;
	VEC(struct lint_finding) f;
	struct strv notes;
	struct cni_detection *cni;
	char dns_key[256], dns_value[256];
	struct hashmap named; /* container port name -> struct named_pods */
	bool named_built;
	const char *dns_ns;
	unsigned restart_threshold;
};

static void finding_done(struct lint_finding *f)
{
	strv_free_array(f->objects, f->n_objects);
	free(f->message);
	free(f->fix);
}

static void hash_bytes(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		*h ^= b[i];
		*h *= 1099511628211ull;
	}
}

/*
 * The id: FNV-1a 64 of the kind, the objects and the field. Pods are left out when the finding
 * names other objects (the policies, service or DaemonSet to change), so that scaling or
 * rolling a workload does not turn one mistake into a new finding, and an external exposure is
 * identified by its Service alone; `with_pods` hashes every object (used when two findings
 * would otherwise share an id).
 */
static void finding_id(struct lint_finding *f, const char *field, bool with_pods)
{
	uint64_t h = 14695981039346656037ull;
	bool others = false;

	for (size_t i = 0; i < f->n_objects; i++)
		others |= !strneq(f->objects[i], "pod/", 4);
	hash_bytes(&h, kind_names[f->kind], strlen(kind_names[f->kind]) + 1);
	for (size_t i = 0; i < f->n_objects; i++) {
		/* An exposure is the Service's, whichever policies isolate its pods. */
		if (f->kind == LINT_EXTERNAL_EXPOSURE && i > 0 && !with_pods)
			break;
		if (with_pods || !others || !strneq(f->objects[i], "pod/", 4))
			hash_bytes(&h, f->objects[i], strlen(f->objects[i]) + 1);
	}
	if (field)
		hash_bytes(&h, field, strlen(field) + 1);
	snprintf(f->id, sizeof(f->id), "%016llx", (unsigned long long)h);
}

/* A finding lists at most this many pods (the policies and services stay complete); the
 * message says how many more there are. */
#define LINT_MAX_PODS 50

static int finding_cap_pods(struct lint_finding *f)
{
	size_t pods = 0, k = 0;
	char *msg;

	for (size_t i = 0; i < f->n_objects; i++)
		pods += strneq(f->objects[i], "pod/", 4);
	if (pods <= LINT_MAX_PODS)
		return 0;
	msg = lint_strf("%s (%zu more pods not listed)", f->message, pods - LINT_MAX_PODS);
	if (!msg)
		return -ENOMEM;
	free(f->message);
	f->message = msg;
	pods = 0;
	for (size_t i = 0; i < f->n_objects; i++) {
		if (strneq(f->objects[i], "pod/", 4) && ++pods > LINT_MAX_PODS) {
			free(f->objects[i]);
			continue;
		}
		f->objects[k++] = f->objects[i];
	}
	f->n_objects = k;
	return 0;
}

/*
 * Adds a finding, taking ownership of objs' strings, msg and fix (also on failure). `field`
 * tells apart findings of one kind on the same objects (two peers of one policy); it is part
 * of the id, not of the output. Returns 0 or -ENOMEM.
 */
static int emit(struct lint_ctx *c, enum lint_kind kind, enum lint_severity sev, struct strv *objs,
		const char *field, char *msg, char *fix)
{
	struct lint_finding f = { .kind = kind, .severity = sev, .message = msg, .fix = fix };
	int r;

	f.objects = objs->v;
	f.n_objects = objs->n;
	*objs = (struct strv){ 0 };
	if (!msg || !fix) {
		finding_done(&f);
		return -ENOMEM;
	}
	r = finding_cap_pods(&f);
	if (r < 0) {
		finding_done(&f);
		return r;
	}
	finding_id(&f, field, false);
	for (size_t i = 0; i < c->f.n; i++)
		if (streq(c->f.items[i].id, f.id)) {
			finding_id(&f, field, true);
			break;
		}
	r = VEC_PUSH(&c->f, f);
	if (r < 0)
		finding_done(&f);
	return r;
}

static int obj_add(struct strv *objs, const char *kind, const char *ns, const char *name)
{
	char buf[600];

	if (ns)
		snprintf(buf, sizeof(buf), "%s/%s/%s", kind, ns, name);
	else
		snprintf(buf, sizeof(buf), "%s/%s", kind, name);
	if (strv_contains(objs, buf))
		return 0;
	return strv_add(objs, buf);
}

static int obj_policy(struct strv *objs, const struct model_policy *p)
{
	return obj_add(objs, "networkpolicy", p->ns, p->name);
}

static int obj_pod(struct strv *objs, const struct model_pod *p)
{
	return obj_add(objs, "pod", p->ns, p->name);
}

/* --- selectors --- */

static bool policy_selects(const struct model_policy *p, const struct model_pod *pod)
{
	if (!streq(pod->ns, p->ns))
		return false;
	/* podSelector is required by the API; the model keeps a missing one as not present,
	 * which the API would have defaulted to {} (every pod). */
	return !p->pod_selector.present || model_selector_matches(&p->pod_selector, &pod->labels);
}

static bool policy_selects_all(const struct model_policy *p)
{
	return !p->pod_selector.present || model_selector_is_empty(&p->pod_selector);
}

static const char *op_name(enum model_selector_op op)
{
	switch (op) {
	case MODEL_OP_IN:
		return "in";
	case MODEL_OP_NOT_IN:
		return "notin";
	case MODEL_OP_EXISTS:
		return "exists";
	case MODEL_OP_DOES_NOT_EXIST:
		return "doesnotexist";
	}
	return "?";
}

/* Formats a selector as kubectl's -l syntax ("app=web,tier in (a,b),!legacy"). */
static void selector_format(const struct model_selector *s, struct strbuf *out)
{
	bool first = true;

	if (!s->present || model_selector_is_empty(s)) {
		strbuf_puts(out, "{} (everything)");
		return;
	}
	for (uint32_t i = 0; i < s->match_labels.n; i++, first = false)
		strbuf_printf(out, "%s%s=%s", first ? "" : ",", s->match_labels.v[i].key,
			      s->match_labels.v[i].value);
	for (uint32_t i = 0; i < s->n_exprs; i++, first = false) {
		const struct model_requirement *q = &s->exprs[i];

		strbuf_puts(out, first ? "" : ",");
		if (q->op == MODEL_OP_EXISTS)
			strbuf_puts(out, q->key);
		else if (q->op == MODEL_OP_DOES_NOT_EXIST)
			strbuf_printf(out, "!%s", q->key);
		else {
			strbuf_printf(out, "%s %s (", q->key, op_name(q->op));
			for (uint32_t k = 0; k < q->n_values; k++)
				strbuf_printf(out, "%s%s", k ? "," : "", q->values[k]);
			strbuf_puts(out, ")");
		}
	}
}

/* Returns a new string with the selector in -l syntax, or NULL on OOM. */
static char *selector_str(const struct model_selector *s)
{
	struct strbuf sb = { 0 };

	selector_format(s, &sb);
	if (sb.oom) {
		strbuf_done(&sb);
		return NULL;
	}
	return strbuf_steal(&sb);
}

/* Matches a namespace selector against a namespace's labels plus kubernetes.io/metadata.name,
 * which the API server sets on every namespace (Kubernetes >= 1.22) and dumps may lack. */
static bool ns_selector_matches(const struct model_selector *s, const struct model_namespace *n)
{
	static const char key[] = "kubernetes.io/metadata.name";
	struct model_label buf[64];
	struct model_labels l = { buf, 0 };
	bool placed = false;

	if (model_labels_get(&n->labels, key) || n->labels.n >= ELEMENTSOF(buf))
		return model_selector_matches(s, &n->labels);
	for (uint32_t i = 0; i < n->labels.n; i++) {
		if (!placed && strcmp(n->labels.v[i].key, key) > 0) {
			buf[l.n++] = (struct model_label){ key, n->name };
			placed = true;
		}
		buf[l.n++] = n->labels.v[i];
	}
	if (!placed)
		buf[l.n++] = (struct model_label){ key, n->name };
	return model_selector_matches(s, &l);
}

/* Levenshtein distance, capped for long strings (only used to rank suggestions). */
static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = MIN(strlen(a), (size_t)63), lb = MIN(strlen(b), (size_t)63);
	unsigned d[64][64];

	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			unsigned sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			d[i][j] = MIN(sub, MIN(d[i - 1][j] + 1, d[i][j - 1] + 1));
		}
	return d[la][lb];
}

/*
 * Appends to fix a concrete suggestion for the first matchLabels pair that no object of
 * `labels` satisfies: the closest value of that key they carry ("did you mean app=web?"), or
 * that none carries the key. `what` names the objects ("pods in namespace shop").
 */
static void suggest_labels(const struct model_selector *s, const struct model_labels *const *labels,
			   size_t n, const char *what, struct strbuf *fix)
{
	for (uint32_t i = 0; i < s->match_labels.n; i++) {
		const char *key = s->match_labels.v[i].key, *want = s->match_labels.v[i].value;
		const char *best = NULL;
		unsigned best_d = ~0u;
		bool sat = false;

		for (size_t k = 0; k < n && !sat; k++) {
			const char *v = model_labels_get(labels[k], key);
			if (!v)
				continue;
			if (streq(v, want))
				sat = true;
			else if (edit_distance(v, want) < best_d) {
				best_d = edit_distance(v, want);
				best = v;
			}
		}
		if (sat)
			continue;
		/* Only a near miss is a useful suggestion (a typo, a plural): at most a third of
		 * the value changed, and at least two edits allowed for short values. */
		if (best && best_d <= MAX(2u, (unsigned)strlen(want) / 3))
			strbuf_printf(fix, "; no %s has %s=%s, the closest is %s=%s", what, key,
				      want, key, best);
		else if (best)
			strbuf_printf(fix, "; no %s has %s=%s", what, key, want);
		else
			strbuf_printf(fix, "; no %s has a label '%s'", what, key);
		return;
	}
	for (uint32_t i = 0; i < s->n_exprs; i++) {
		const struct model_requirement *q = &s->exprs[i];
		bool any = false;

		if (q->op != MODEL_OP_IN && q->op != MODEL_OP_EXISTS)
			continue;
		for (size_t k = 0; k < n && !any; k++)
			any = model_labels_get(labels[k], q->key) != NULL;
		if (!any) {
			strbuf_printf(fix, "; no %s has a label '%s'", what, q->key);
			return;
		}
	}
}

/* --- per-policy checks --- */

static const char *dir_section(enum np_dir d)
{
	return d == NP_INGRESS ? "ingress" : "egress";
}

static const char *dir_type(enum np_dir d)
{
	return d == NP_INGRESS ? "Ingress" : "Egress";
}

static const char *dir_peers(enum np_dir d)
{
	return d == NP_INGRESS ? "from" : "to";
}

static uint8_t dir_bit(enum np_dir d)
{
	return d == NP_INGRESS ? MODEL_POLICY_TYPE_INGRESS : MODEL_POLICY_TYPE_EGRESS;
}

static int check_selection(struct lint_ctx *c, const struct model_policy *p)
{
	const struct model_pod *const *pods;
	_cleanup_(strv_done) struct strv objs = { 0 }, other_ns = { 0 };
	_cleanup_(freep) char *sel = NULL;
	_cleanup_(freep) const struct model_labels **labels = NULL;
	struct strbuf fix = { 0 };
	size_t n, n_match = 0, n_host = 0, n_all;
	int r;

	n = model_pods_in_namespace(c->m, p->ns, &pods);
	r = obj_policy(&objs, p);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (!policy_selects(p, pods[i]))
			continue;
		n_match++;
		if (pods[i]->host_network)
			n_host++;
	}

	if (n_host > 0) {
		_cleanup_(strv_done) struct strv hobjs = { 0 };

		r = obj_policy(&hobjs, p);
		for (size_t i = 0; r >= 0 && i < n; i++)
			if (pods[i]->host_network && policy_selects(p, pods[i]))
				r = obj_pod(&hobjs, pods[i]);
		if (r < 0)
			return r;
		r = emit(
			c, LINT_HOSTNETWORK_SELECTED, LINT_WARNING, &hobjs, NULL,
			lint_strf("NetworkPolicy %s/%s selects %zu hostNetwork pod%s, which "
				  "NetworkPolicy does not govern: they share the node's network "
				  "namespace and address, so this policy has no effect on them",
				  p->ns, p->name, n_host, n_host == 1 ? "" : "s"),
			lint_strf("exclude them from spec.podSelector (for example a "
				  "matchExpressions entry with operator NotIn or DoesNotExist on a "
				  "label only they carry) and protect them with host firewall "
				  "rules, or "
				  "run them without spec.hostNetwork"));
		if (r < 0)
			return r;
	}

	if (policy_selects_all(p)) {
		return emit(
			c, LINT_POLICY_SELECTS_ALL, LINT_INFO, &objs, NULL,
			lint_strf("NetworkPolicy %s/%s has an empty podSelector, so it selects "
				  "every pod in namespace %s (%zu now, and every future one) and "
				  "isolates them for %s",
				  p->ns, p->name, p->ns, n_match,
				  policy_effective_types(p) == (MODEL_POLICY_TYPE_INGRESS |
								MODEL_POLICY_TYPE_EGRESS)
					  ? "Ingress and Egress"
				  : policy_effective_types(p) & MODEL_POLICY_TYPE_EGRESS
					  ? "Egress"
					  : "Ingress"),
			lint_strf("nothing if a namespace-wide policy is intended; to select "
				  "some pods only, set spec.podSelector.matchLabels"));
	}
	if (n_match > 0)
		return 0;

	/* Nothing in its namespace: do pods elsewhere carry the labels? */
	sel = selector_str(&p->pod_selector);
	if (!sel)
		return -ENOMEM;
	n_all = model_pods(c->m, &pods);
	for (size_t i = 0; i < n_all; i++) {
		const struct model_pod *q = pods[i];
		if (streq(q->ns, p->ns) || q->host_network ||
		    !model_selector_matches(&p->pod_selector, &q->labels))
			continue;
		r = obj_pod(&objs, q);
		if (r >= 0 && !strv_contains(&other_ns, q->ns))
			r = strv_add(&other_ns, q->ns);
		if (r < 0)
			return r;
	}
	if (other_ns.n > 0) {
		struct strbuf nss = { 0 };
		char *msg;

		for (size_t i = 0; i < other_ns.n; i++)
			strbuf_printf(&nss, "%s%s", i ? ", " : "", other_ns.v[i]);
		msg = lint_strf(
			"NetworkPolicy %s/%s selects no pod in namespace %s, but pods "
			"matching its podSelector %s run in namespace%s %s: a NetworkPolicy "
			"only ever selects pods of its own namespace",
			p->ns, p->name, p->ns, sel, other_ns.n == 1 ? "" : "s", strbuf_str(&nss));
		strbuf_printf(&fix,
			      "create the policy in namespace %s (metadata.namespace: %s) instead "
			      "of %s",
			      other_ns.v[0], other_ns.v[0], p->ns);
		if (other_ns.n > 1)
			strbuf_puts(&fix, ", one copy per namespace");
		strbuf_done(&nss);
		if (fix.oom) {
			free(msg);
			strbuf_done(&fix);
			return -ENOMEM;
		}
		return emit(c, LINT_POLICY_WRONG_NAMESPACE, LINT_ERROR, &objs, NULL, msg,
			    strbuf_steal(&fix));
	}

	/* Selects nothing anywhere: suggest the label that would match. */
	n = model_pods_in_namespace(c->m, p->ns, &pods);
	if (n) {
		labels = calloc(n, sizeof(*labels));
		if (!labels)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			labels[i] = &pods[i]->labels;
	}
	strbuf_printf(&fix, "change spec.podSelector to labels the intended pods carry");
	{
		_cleanup_(freep) char *what = lint_strf("pod in namespace %s", p->ns);
		if (!what) {
			strbuf_done(&fix);
			return -ENOMEM;
		}
		suggest_labels(&p->pod_selector, labels, n, what, &fix);
	}
	if (fix.oom) {
		strbuf_done(&fix);
		return -ENOMEM;
	}
	return emit(c, LINT_POLICY_SELECTS_NOTHING, LINT_WARNING, &objs, NULL,
		    lint_strf("NetworkPolicy %s/%s selects no pod: no pod in namespace %s (or "
			      "any other) matches its podSelector %s, so it has no effect",
			      p->ns, p->name, p->ns, sel),
		    strbuf_steal(&fix));
}

static int check_policytypes(struct lint_ctx *c, const struct model_policy *p)
{
	_cleanup_(strv_done) struct strv objs = { 0 };
	int r;

	if (!p->policy_types) {
		/* Omitted or empty: the API server defaults to [Ingress], plus Egress iff
		 * len(spec.egress) != 0. */
		const char *types =
			p->policy_types_present ? "an empty policyTypes" : "no policyTypes";

		if (p->n_rules[NP_EGRESS] > 0 && !p->ingress_present) {
			r = obj_policy(&objs, p);
			if (r < 0)
				return r;
			return emit(
				c, LINT_POLICYTYPES_IMPLICIT, LINT_WARNING, &objs, NULL,
				lint_strf(
					"NetworkPolicy %s/%s has only egress rules and %s, "
					"which defaults to [Ingress, Egress] (Ingress always, "
					"Egress because spec.egress has rules): the selected pods "
					"are also isolated for ingress and this policy allows "
					"them none",
					p->ns, p->name, types),
				lint_strf(
					"add policyTypes: [Egress] if ingress should stay as it "
					"is, or policyTypes: [Ingress, Egress] with ingress rules "
					"if isolating ingress is intended"));
		}
		if (p->egress_present && p->n_rules[NP_EGRESS] == 0) {
			r = obj_policy(&objs, p);
			if (r < 0)
				return r;
			return emit(
				c, LINT_POLICYTYPES_IMPLICIT, LINT_WARNING, &objs, NULL,
				lint_strf(
					"NetworkPolicy %s/%s has `egress: []` and %s, which "
					"defaults to [Ingress] (Egress is added only when "
					"spec.egress has a rule): egress is not isolated and none "
					"of it is denied",
					p->ns, p->name, types),
				lint_strf("add policyTypes: [Ingress, Egress] (or [Egress]) to "
					  "deny all egress of the selected pods"));
		}
		return 0;
	}

	for (int d = NP_INGRESS; d <= NP_EGRESS; d++) {
		bool listed = p->policy_types & dir_bit(d);
		bool present = d == NP_INGRESS ? p->ingress_present : p->egress_present;
		bool other_present = d == NP_INGRESS ? p->egress_present : p->ingress_present;
		char field[32];

		r = 0;
		snprintf(field, sizeof(field), "spec.%s", dir_section(d));
		if (!listed && present) {
			r = obj_policy(&objs, p);
			if (r < 0)
				return r;
			r = emit(c, LINT_POLICYTYPES_CONTRADICTION,
				 p->n_rules[d] ? LINT_ERROR : LINT_WARNING, &objs, field,
				 lint_strf(
					 "NetworkPolicy %s/%s has spec.%s (%u rule%s) but "
					 "policyTypes does not list %s: the section is ignored and "
					 "this policy neither isolates nor allows %s",
					 p->ns, p->name, dir_section(d), p->n_rules[d],
					 p->n_rules[d] == 1 ? "" : "s", dir_type(d),
					 dir_section(d)),
				 lint_strf("add %s to spec.policyTypes, or delete spec.%s",
					   dir_type(d), dir_section(d)));
		} else if (listed && !present && other_present) {
			/* A type listed without any section at all is the documented default-deny
			 * idiom; next to the other direction's rules it usually is an oversight. */
			r = obj_policy(&objs, p);
			if (r < 0)
				return r;
			r = emit(
				c, LINT_POLICYTYPES_CONTRADICTION, LINT_WARNING, &objs, field,
				lint_strf("NetworkPolicy %s/%s lists %s in policyTypes but has no "
					  "spec.%s: the selected pods are isolated for %s and this "
					  "policy allows them none",
					  p->ns, p->name, dir_type(d), dir_section(d),
					  dir_section(d)),
				lint_strf("add the intended spec.%s rules, or remove %s from "
					  "spec.policyTypes if %s should not be restricted (write "
					  "`%s: []` to make a deny-all explicit)",
					  dir_section(d), dir_type(d), dir_section(d),
					  dir_section(d)));
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Whether another policy isolating some of the same pods for d restricts them (its rules do
 * not allow everything): then an allow-all rule here overrides a deny there. */
static bool neighbour_restricts(struct lint_ctx *c, const struct model_policy *p, enum np_dir d)
{
	const struct model_policy *const *pols;
	const struct model_pod *const *pods;
	size_t np = model_policies_in_namespace(c->m, p->ns, &pols);
	size_t n = model_pods_in_namespace(c->m, p->ns, &pods);

	for (size_t i = 0; i < np; i++) {
		const struct model_policy *q = pols[i];
		bool allows_all = false;

		if (q == p || !(policy_effective_types(q) & dir_bit(d)))
			continue;
		for (uint32_t k = 0; k < q->n_rules[d]; k++)
			if (q->rules[d][k].n_peers == 0 && q->rules[d][k].n_ports == 0)
				allows_all = true;
		if (allows_all)
			continue;
		for (size_t k = 0; k < n; k++)
			if (!pods[k]->host_network && policy_selects(p, pods[k]) &&
			    policy_selects(q, pods[k]))
				return true;
	}
	return false;
}

static int check_allow_all(struct lint_ctx *c, const struct model_policy *p)
{
	uint8_t types = policy_effective_types(p);
	int r;

	for (int d = NP_INGRESS; d <= NP_EGRESS; d++) {
		if (!(types & dir_bit(d)))
			continue;
		for (uint32_t i = 0; i < p->n_rules[d]; i++) {
			const struct model_rule *rule = &p->rules[d][i];
			_cleanup_(strv_done) struct strv objs = { 0 };
			bool deny_name = strcasestr(p->name, "deny") != NULL;
			bool neighbours;
			char field[48];

			if (rule->n_peers != 0 || rule->n_ports != 0)
				continue;
			neighbours = neighbour_restricts(c, p, d);
			snprintf(field, sizeof(field), "spec.%s[%u]", dir_section(d), i);
			r = obj_policy(&objs, p);
			if (r < 0)
				return r;
			r = emit(
				c, LINT_RULE_ALLOWS_ALL,
				deny_name || neighbours ? LINT_WARNING : LINT_INFO, &objs, field,
				lint_strf("%s of NetworkPolicy %s/%s has no %s peers and no ports, "
					  "so "
					  "it allows all %s %s every peer on every port%s%s "
					  "(`%s: [{}]` allows everything, `%s: []` allows nothing)",
					  field, p->ns, p->name, dir_peers(d), dir_section(d),
					  d == NP_INGRESS ? "from" : "to",
					  deny_name ? ", although the policy's name says deny" : "",
					  neighbours
						  ? ", which makes other policies' restrictions on "
						    "the same pods moot"
						  : "",
					  dir_section(d), dir_section(d)),
				lint_strf(
					"to deny all %s, replace it with `%s: []` (and keep %s in "
					"policyTypes); to allow some peers, add `%s:` peers and "
					"`ports:` to %s",
					dir_section(d), dir_section(d), dir_type(d), dir_peers(d),
					field));
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Whether some pod of namespace ns (not hostNetwork, not finished) matches the peer's
 * podSelector (a missing one matches every pod). */
static bool peer_pod_in(struct lint_ctx *c, const struct model_peer *pe, const char *ns)
{
	const struct model_pod *const *pods;
	size_t n = model_pods_in_namespace(c->m, ns, &pods);

	for (size_t i = 0; i < n; i++)
		if (!pods[i]->host_network &&
		    policy_pod_exempt(pods[i]) != POLICY_EXEMPT_FINISHED &&
		    (!pe->pod_selector.present ||
		     model_selector_matches(&pe->pod_selector, &pods[i]->labels)))
			return true;
	return false;
}

/* Whether a selector peer selects some pod (*ret_pods 1 or 0); when it selects none, the
 * namespaces in its scope and those whose labels are unknown (known only through their pods)
 * are counted. */
static void peer_count(struct lint_ctx *c, const struct model_policy *p,
		       const struct model_peer *pe, size_t *ret_ns, size_t *ret_ns_unknown,
		       size_t *ret_pods)
{
	const struct model_namespace *const *nss;
	size_t n_ns, n_ns_match = 0, n_unknown = 0;

	*ret_ns = 1;
	*ret_ns_unknown = 0;
	*ret_pods = 0;
	if (!pe->namespace_selector.present) {
		*ret_pods = peer_pod_in(c, pe, p->ns);
		return;
	}
	n_ns = model_namespaces(c->m, &nss);
	for (size_t k = 0; k < n_ns; k++) {
		if (!ns_selector_matches(&pe->namespace_selector, nss[k])) {
			if (nss[k]->implicit)
				n_unknown++;
			continue;
		}
		n_ns_match++;
		if (peer_pod_in(c, pe, nss[k]->name)) {
			*ret_pods = 1;
			return;
		}
	}
	*ret_ns = n_ns_match;
	*ret_ns_unknown = n_unknown;
}

static int peer_nothing(struct lint_ctx *c, const struct model_policy *p, enum np_dir d,
			uint32_t ri, uint32_t pi, const struct model_peer *pe)
{
	_cleanup_(strv_done) struct strv objs = { 0 };
	_cleanup_(freep) char *nssel = NULL, *podsel = NULL, *msg = NULL;
	struct strbuf fix = { 0 };
	size_t n_ns, n_unknown, n_pods;
	char field[64];
	int r;

	peer_count(c, p, pe, &n_ns, &n_unknown, &n_pods);
	if (n_pods > 0)
		return 0;
	snprintf(field, sizeof(field), "spec.%s[%u].%s[%u]", dir_section(d), ri, dir_peers(d), pi);
	r = obj_policy(&objs, p);
	if (r < 0)
		return r;
	podsel = selector_str(&pe->pod_selector);
	nssel = selector_str(&pe->namespace_selector);
	if (!podsel || !nssel)
		return -ENOMEM;

	if (pe->namespace_selector.present && n_ns == 0) {
		const struct model_namespace *const *nss;
		size_t nn = model_namespaces(c->m, &nss);
		_cleanup_(freep) const struct model_labels **labels = NULL;

		msg = lint_strf("%s of NetworkPolicy %s/%s has namespaceSelector %s, which matches "
				"no namespace%s, so the peer allows nothing",
				field, p->ns, p->name, nssel,
				n_unknown ? " in the input (some namespaces appear only through "
					    "their pods, with unknown labels)"
					  : "");
		strbuf_printf(&fix,
			      "label the intended namespace or change %s.namespaceSelector; "
			      "every namespace carries kubernetes.io/metadata.name=<its name>",
			      field);
		/* A selector on "name" (a common label people expect) for a namespace that exists
		 * but does not carry it. */
		for (uint32_t i = 0; i < pe->namespace_selector.match_labels.n; i++) {
			const struct model_label *l = &pe->namespace_selector.match_labels.v[i];
			if (model_namespace_get(c->m, l->value) &&
			    !streq(l->key, "kubernetes.io/metadata.name")) {
				strbuf_printf(&fix,
					      "; namespace %s exists but has no label %s=%s: use "
					      "matchLabels {kubernetes.io/metadata.name: %s}",
					      l->value, l->key, l->value, l->value);
				break;
			}
		}
		if (nn) {
			labels = calloc(nn, sizeof(*labels));
			if (!labels) {
				strbuf_done(&fix);
				return -ENOMEM;
			}
			for (size_t i = 0; i < nn; i++)
				labels[i] = &nss[i]->labels;
		}
		suggest_labels(&pe->namespace_selector, labels, nn, "namespace", &fix);
	} else {
		const struct model_pod *const *pods;
		_cleanup_(freep) const struct model_labels **labels = NULL;
		size_t n = pe->namespace_selector.present
				   ? model_pods(c->m, &pods)
				   : model_pods_in_namespace(c->m, p->ns, &pods);
		_cleanup_(freep) char *what = NULL;

		if (pe->namespace_selector.present)
			msg = lint_strf(
				"%s of NetworkPolicy %s/%s selects no pod: none of the %zu "
				"namespace%s matching %s has a pod matching podSelector %s, "
				"so the peer allows nothing",
				field, p->ns, p->name, n_ns, n_ns == 1 ? "" : "s", nssel, podsel);
		else
			msg = lint_strf(
				"%s of NetworkPolicy %s/%s selects no pod: no pod in "
				"namespace %s matches podSelector %s (a podSelector without "
				"namespaceSelector only looks in the policy's namespace), so "
				"the peer allows nothing",
				field, p->ns, p->name, p->ns, podsel);
		strbuf_printf(&fix, "change %s.podSelector to labels the intended pods carry",
			      field);
		if (!pe->namespace_selector.present)
			strbuf_puts(&fix, ", or add a namespaceSelector if they run in another "
					  "namespace");
		if (n) {
			labels = calloc(n, sizeof(*labels));
			if (!labels) {
				strbuf_done(&fix);
				return -ENOMEM;
			}
			for (size_t i = 0; i < n; i++)
				labels[i] = &pods[i]->labels;
		}
		what = pe->namespace_selector.present ? lint_strf("pod")
						      : lint_strf("pod in namespace %s", p->ns);
		if (!what) {
			strbuf_done(&fix);
			return -ENOMEM;
		}
		suggest_labels(&pe->pod_selector, labels, n, what, &fix);
	}
	if (fix.oom || !msg) {
		strbuf_done(&fix);
		return -ENOMEM;
	}
	return emit(c, LINT_PEER_SELECTS_NOTHING, n_unknown ? LINT_INFO : LINT_WARNING, &objs,
		    field, TAKE_PTR(msg), strbuf_steal(&fix));
}

static int check_peers(struct lint_ctx *c, const struct model_policy *p)
{
	uint8_t types = policy_effective_types(p);
	int r;

	for (int d = NP_INGRESS; d <= NP_EGRESS; d++) {
		if (!(types & dir_bit(d)))
			continue;
		for (uint32_t i = 0; i < p->n_rules[d]; i++)
			for (uint32_t k = 0; k < p->rules[d][i].n_peers; k++) {
				const struct model_peer *pe = &p->rules[d][i].peers[k];
				if (pe->ipblock ||
				    (!pe->pod_selector.present && !pe->namespace_selector.present))
					continue;
				r = peer_nothing(c, p, d, i, k, pe);
				if (r < 0)
					return r;
			}
	}
	return 0;
}

static bool pod_declares(const struct model_pod *p, const char *name, uint8_t proto)
{
	for (uint16_t i = 0; i < p->n_ports; i++)
		if (p->ports[i].name && p->ports[i].proto == proto && streq(p->ports[i].name, name))
			return true;
	return false;
}

/* Whether pod q is a destination of egress rule `rule` of p (a peer selects it, or an ipBlock
 * contains its address, or the rule has no peers). */
static bool egress_dest(struct lint_ctx *c, const struct model_policy *p,
			const struct model_rule *rule, const struct model_pod *q)
{
	const struct model_namespace *qn;

	if (policy_pod_exempt(q) != POLICY_APPLIES)
		return false;
	if (rule->n_peers == 0)
		return true;
	qn = model_namespace_get(c->m, q->ns);
	for (uint32_t k = 0; k < rule->n_peers; k++) {
		const struct model_peer *pe = &rule->peers[k];

		if (pe->ipblock) {
			for (uint8_t a = 0; a < q->n_ips; a++) {
				bool in = q->ips[a] >= pe->ipblock->lo &&
					  q->ips[a] <= pe->ipblock->hi;
				for (uint32_t x = 0; in && x < pe->ipblock->n_except; x++)
					if (q->ips[a] >= pe->ipblock->except[x].lo &&
					    q->ips[a] <= pe->ipblock->except[x].hi)
						in = false;
				if (in)
					return true;
			}
			continue;
		}
		if (pe->namespace_selector.present) {
			if (!qn || !ns_selector_matches(&pe->namespace_selector, qn))
				continue;
		} else if (!streq(q->ns, p->ns))
			continue;
		if (pe->pod_selector.present &&
		    !model_selector_matches(&pe->pod_selector, &q->labels))
			continue;
		if (pe->pod_selector.present || pe->namespace_selector.present)
			return true;
	}
	return false;
}

struct named_pods {
	VEC(const struct model_pod *) pods;
};

static void named_index_free(struct hashmap *h)
{
	HASHMAP_FOREACH (e, h) {
		struct named_pods *np = e->value;
		VEC_DONE(&np->pods);
		free(np);
	}
	hashmap_done(h);
}

/* The pods declaring each container port name (interned names as keys), built once. */
static int named_index_build(struct lint_ctx *c)
{
	const struct model_pod *const *pods;
	size_t n;

	if (c->named_built)
		return 0;
	n = model_pods(c->m, &pods);
	for (size_t i = 0; i < n; i++)
		for (uint16_t k = 0; k < pods[i]->n_ports; k++) {
			const char *name = pods[i]->ports[k].name;
			struct named_pods *np;

			if (!name)
				continue;
			np = hashmap_get(&c->named, name);
			if (!np) {
				np = calloc(1, sizeof(*np));
				if (!np || hashmap_put(&c->named, name, np) < 0) {
					free(np);
					return -ENOMEM;
				}
			}
			if (np->pods.n && np->pods.items[np->pods.n - 1] == pods[i])
				continue;
			if (VEC_PUSH(&np->pods, pods[i]) < 0)
				return -ENOMEM;
		}
	c->named_built = true;
	return 0;
}

/* Returns 1 if some destination pod of egress rule `rule` declares pp's name with its protocol,
 * 0 if none does, or -ENOMEM. */
static int named_port_resolves(struct lint_ctx *c, const struct model_policy *p,
			       const struct model_rule *rule, const struct model_policy_port *pp)
{
	struct named_pods *np;
	int r;

	r = named_index_build(c);
	if (r < 0)
		return r;
	np = hashmap_get(&c->named, pp->port_name);
	for (size_t i = 0; np && i < np->pods.n; i++)
		if (pod_declares(np->pods.items[i], pp->port_name, pp->proto) &&
		    egress_dest(c, p, rule, np->pods.items[i]))
			return 1;
	return 0;
}

static int check_named_ports(struct lint_ctx *c, const struct model_policy *p)
{
	uint8_t types = policy_effective_types(p);
	const struct model_pod *const *pods;
	int r;

	for (int d = NP_INGRESS; d <= NP_EGRESS; d++) {
		if (!(types & dir_bit(d)))
			continue;
		for (uint32_t i = 0; i < p->n_rules[d]; i++) {
			const struct model_rule *rule = &p->rules[d][i];

			for (uint32_t k = 0; k < rule->n_ports; k++) {
				const struct model_policy_port *pp = &rule->ports[k];
				_cleanup_(strv_done) struct strv objs = { 0 }, names = { 0 };
				size_t n, n_dest = 0;
				bool found = false;
				struct strbuf fix = { 0 };
				char field[64];

				if (!pp->port_name)
					continue;
				/* Egress: try the pods that declare the name first; the full scan
				 * (to count the destinations) only runs for a finding. */
				if (d == NP_EGRESS) {
					r = named_port_resolves(c, p, rule, pp);
					if (r < 0)
						return r;
					if (r > 0)
						continue;
				}
				n = d == NP_INGRESS ? model_pods_in_namespace(c->m, p->ns, &pods)
						    : model_pods(c->m, &pods);
				for (size_t q = 0; q < n && !found; q++) {
					bool dest = d == NP_INGRESS
							    ? policy_pod_exempt(pods[q]) ==
									      POLICY_APPLIES &&
								      policy_selects(p, pods[q])
							    : egress_dest(c, p, rule, pods[q]);
					if (!dest)
						continue;
					n_dest++;
					found = pod_declares(pods[q], pp->port_name, pp->proto);
					for (uint16_t x = 0; x < pods[q]->n_ports && names.n < 8;
					     x++) {
						const struct model_container_port *cp =
							&pods[q]->ports[x];
						char buf[128];
						if (!cp->name || cp->proto != pp->proto)
							continue;
						snprintf(buf, sizeof(buf), "%s (%u)", cp->name,
							 cp->port);
						if (!strv_contains(&names, buf) &&
						    strv_add(&names, buf) < 0)
							return -ENOMEM;
					}
				}
				/* No destination at all is peer-selects-nothing or
				 * policy-selects-nothing, not this. */
				if (found || n_dest == 0)
					continue;
				snprintf(field, sizeof(field), "spec.%s[%u].ports[%u]",
					 dir_section(d), i, k);
				r = obj_policy(&objs, p);
				if (r < 0)
					return r;
				strbuf_printf(&fix,
					      "use a port number in %s, or name the container port "
					      "'%s' (protocol %s) in the %s pods",
					      field, pp->port_name, np_proto_name(pp->proto),
					      d == NP_INGRESS ? "selected" : "destination");
				for (size_t x = 0; x < names.n; x++)
					strbuf_printf(&fix, "%s%s", x ? ", " : "; they name ",
						      names.v[x]);
				if (fix.oom)
					return -ENOMEM;
				r = emit(
					c, LINT_NAMED_PORT_UNRESOLVED, LINT_ERROR, &objs, field,
					lint_strf(
						"%s of NetworkPolicy %s/%s names port '%s' (%s), "
						"but none of the %zu %s pod%s declares a container "
						"port of that name, so this entry allows nothing",
						field, p->ns, p->name, pp->port_name,
						np_proto_name(pp->proto), n_dest,
						d == NP_INGRESS ? "selected" : "destination",
						n_dest == 1 ? "" : "s"),
					strbuf_steal(&fix));
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

/* --- exact redundancy --- */

static bool labels_equal(const struct model_labels *a, const struct model_labels *b)
{
	if (a->n != b->n)
		return false;
	for (uint32_t i = 0; i < a->n; i++)
		if (!streq(a->v[i].key, b->v[i].key) || !streq(a->v[i].value, b->v[i].value))
			return false;
	return true;
}

static bool selector_equal(const struct model_selector *a, const struct model_selector *b)
{
	if (a->present != b->present || !labels_equal(&a->match_labels, &b->match_labels) ||
	    a->n_exprs != b->n_exprs)
		return false;
	for (uint32_t i = 0; i < a->n_exprs; i++) {
		const struct model_requirement *x = &a->exprs[i], *y = &b->exprs[i];
		if (!streq(x->key, y->key) || x->op != y->op || x->n_values != y->n_values)
			return false;
		for (uint32_t k = 0; k < x->n_values; k++)
			if (!streq(x->values[k], y->values[k]))
				return false;
	}
	return true;
}

/* Whether selector peer b selects every pod selector peer a can select, whatever the labels
 * of pods and namespaces are (structural, so it holds for future pods too). */
static bool peer_covers(const struct model_peer *b, const struct model_peer *a)
{
	const struct model_selector *bn = &b->namespace_selector, *an = &a->namespace_selector;
	const struct model_selector *bp = &b->pod_selector, *ap = &a->pod_selector;
	bool ns_ok, pod_ok;

	if (model_selector_is_empty(bn))
		ns_ok = true; /* every namespace */
	else if (!bn->present)
		ns_ok = !an->present; /* the policy's namespace */
	else
		ns_ok = an->present && selector_equal(an, bn);
	pod_ok = !bp->present || model_selector_is_empty(bp) ||
		 (ap->present && selector_equal(ap, bp));
	return ns_ok && pod_ok;
}

static int ipblock_set(const struct model_ipblock *b, struct np_iset *ret)
{
	_cleanup_(np_iset_done) struct np_iset base = { 0 }, ex = { 0 };
	int r;

	r = np_iset_add(&base, b->lo, b->hi);
	if (r >= 0 && b->family == AF_INET6)
		r = np_iset_add(&ex, NP_V4_BASE, NP_V4_LAST);
	for (uint32_t i = 0; r >= 0 && i < b->n_except; i++)
		r = np_iset_add(&ex, b->except[i].lo, b->except[i].hi);
	if (r < 0)
		return r;
	np_iset_normalize(&base);
	np_iset_normalize(&ex);
	return np_iset_subtract(&base, &ex, ret);
}

/* Whether every peer of rule a is within the peers of rule b; 1, 0 or -ENOMEM. */
static int peers_cover(const struct model_rule *b, const struct model_rule *a)
{
	_cleanup_(np_iset_done) struct np_iset bset = { 0 };
	int r;

	if (b->n_peers == 0)
		return 1;
	if (a->n_peers == 0)
		return 0;
	for (uint32_t k = 0; k < b->n_peers; k++)
		if (b->peers[k].ipblock) {
			_cleanup_(np_iset_done) struct np_iset s = { 0 };
			r = ipblock_set(b->peers[k].ipblock, &s);
			if (r >= 0)
				r = np_iset_merge(&bset, &s);
			if (r < 0)
				return r;
		}
	for (uint32_t i = 0; i < a->n_peers; i++) {
		const struct model_peer *ap = &a->peers[i];
		bool covered = false;

		if (ap->ipblock) {
			_cleanup_(np_iset_done) struct np_iset s = { 0 }, rest = { 0 };
			r = ipblock_set(ap->ipblock, &s);
			if (r >= 0)
				r = np_iset_subtract(&s, &bset, &rest);
			if (r < 0)
				return r;
			covered = rest.n == 0;
		} else
			for (uint32_t k = 0; k < b->n_peers && !covered; k++)
				covered = !b->peers[k].ipblock && peer_covers(&b->peers[k], ap);
		if (!covered)
			return 0;
	}
	return 1;
}

/* Whether every port entry of rule a is within the ports of rule b; 1, 0 or -ENOMEM. */
static int ports_cover(const struct model_rule *b, const struct model_rule *a)
{
	if (b->n_ports == 0)
		return 1;
	if (a->n_ports == 0)
		return 0;
	for (uint32_t i = 0; i < a->n_ports; i++) {
		const struct model_policy_port *ap = &a->ports[i];
		_cleanup_(np_iset_done) struct np_iset bs = { 0 }, as = { 0 }, rest = { 0 };
		bool covered = false;
		int r = 0;

		for (uint32_t k = 0; k < b->n_ports && !covered; k++) {
			const struct model_policy_port *bp = &b->ports[k];
			if (bp->proto != ap->proto)
				continue;
			if (!bp->has_port)
				covered = true;
			else if (ap->port_name)
				covered = bp->port_name && streq(bp->port_name, ap->port_name);
			else if (!bp->port_name && r >= 0)
				r = np_iset_add(&bs, bp->port,
						bp->end_port ? bp->end_port : bp->port);
		}
		if (r < 0)
			return r;
		if (covered)
			continue;
		if (ap->port_name || !ap->has_port)
			return 0;
		r = np_iset_add(&as, ap->port, ap->end_port ? ap->end_port : ap->port);
		if (r < 0)
			return r;
		np_iset_normalize(&bs);
		np_iset_normalize(&as);
		r = np_iset_subtract(&as, &bs, &rest);
		if (r < 0)
			return r;
		if (rest.n)
			return 0;
	}
	return 1;
}

static int rule_covers(const struct model_rule *b, const struct model_rule *a)
{
	int r = peers_cover(b, a);

	if (r <= 0)
		return r;
	return ports_cover(b, a);
}

static int check_redundant_rules(struct lint_ctx *c, const struct model_policy *p)
{
	uint8_t types = policy_effective_types(p);
	int r;

	for (int d = NP_INGRESS; d <= NP_EGRESS; d++) {
		if (!(types & dir_bit(d)))
			continue;
		for (uint32_t i = 0; i < p->n_rules[d]; i++)
			for (uint32_t j = 0; j < p->n_rules[d]; j++) {
				_cleanup_(strv_done) struct strv objs = { 0 };
				char field[48], other[48];

				if (i == j)
					continue;
				r = rule_covers(&p->rules[d][j], &p->rules[d][i]);
				if (r < 0)
					return r;
				if (!r)
					continue;
				/* Two identical rules: report the later one only. */
				if (j > i) {
					r = rule_covers(&p->rules[d][i], &p->rules[d][j]);
					if (r < 0)
						return r;
					if (r)
						continue;
				}
				snprintf(field, sizeof(field), "spec.%s[%u]", dir_section(d), i);
				snprintf(other, sizeof(other), "spec.%s[%u]", dir_section(d), j);
				r = obj_policy(&objs, p);
				if (r >= 0)
					r = emit(
						c, LINT_REDUNDANT_RULE, LINT_INFO, &objs, field,
						lint_strf(
							"%s of NetworkPolicy %s/%s allows nothing "
							"that %s does not already allow (its peers "
							"and ports are contained in that rule's)",
							field, p->ns, p->name, other),
						lint_strf("delete %s, or narrow %s if the two were "
							  "meant to differ",
							  field, other));
				if (r < 0)
					return r;
				break;
			}
	}
	return 0;
}

/* Whether policy b makes policy a redundant: b selects every pod a selects, isolates at least
 * the same directions, and each rule of a is contained in one rule of b. */
static int policy_covers(const struct model_policy *b, const struct model_policy *a)
{
	uint8_t ta = policy_effective_types(a), tb = policy_effective_types(b);
	int r;

	if (!streq(a->ns, b->ns) || (ta & ~tb))
		return 0;
	if (!policy_selects_all(b) && !(a->pod_selector.present && b->pod_selector.present &&
					selector_equal(&a->pod_selector, &b->pod_selector)))
		return 0;
	for (int d = NP_INGRESS; d <= NP_EGRESS; d++) {
		if (!(ta & dir_bit(d)))
			continue;
		for (uint32_t i = 0; i < a->n_rules[d]; i++) {
			bool covered = false;
			for (uint32_t j = 0; j < b->n_rules[d] && !covered; j++) {
				r = rule_covers(&b->rules[d][j], &a->rules[d][i]);
				if (r < 0)
					return r;
				covered = r;
			}
			if (!covered)
				return 0;
		}
	}
	return 1;
}

static int check_shadowed(struct lint_ctx *c, const struct model_policy *p)
{
	const struct model_policy *const *pols;
	size_t n = model_policies_in_namespace(c->m, p->ns, &pols);
	int r;

	for (size_t i = 0; i < n; i++) {
		const struct model_policy *q = pols[i];
		_cleanup_(strv_done) struct strv objs = { 0 };

		if (q == p)
			continue;
		r = policy_covers(q, p);
		if (r <= 0) {
			if (r < 0)
				return r;
			continue;
		}
		/* Two equivalent policies: report the one that sorts later. */
		if (strcmp(p->name, q->name) < 0) {
			r = policy_covers(p, q);
			if (r < 0)
				return r;
			if (r)
				continue;
		}
		r = obj_policy(&objs, p);
		if (r >= 0)
			r = obj_policy(&objs, q);
		if (r >= 0)
			r = emit(c, LINT_SHADOWED_POLICY, LINT_INFO, &objs, NULL,
				 lint_strf(
					 "NetworkPolicy %s/%s changes nothing: %s/%s selects the "
					 "same "
					 "pods (or more), isolates the same directions and each of "
					 "its rules is contained in one of %s's",
					 p->ns, p->name, q->ns, q->name, q->name),
				 lint_strf(
					 "delete NetworkPolicy %s/%s, or change it if it was meant "
					 "to allow something %s/%s does not",
					 p->ns, p->name, q->ns, q->name));
		return r;
	}
	return 0;
}

/* --- checks through the policy engine --- */

struct pod_group {
	const struct policy_dir *dir;
	VEC(const struct model_pod *) pods;
};

static int check_dns(struct lint_ctx *c)
{
	const struct model_pod *const *pods, *const *dns;
	VEC(const struct model_pod *) dnsv = { 0 };
	VEC(struct pod_group) groups = { 0 };
	size_t n, n_dns;
	int r = 0;

	n_dns = model_pods_with_label(c->m, c->dns_key, c->dns_value, &dns);
	for (size_t i = 0; i < n_dns && r >= 0; i++)
		if (streq(dns[i]->ns, c->dns_ns) && policy_pod_exempt(dns[i]) == POLICY_APPLIES)
			r = VEC_PUSH(&dnsv, dns[i]);
	if (r < 0)
		goto out;
	if (dnsv.n == 0) {
		r = strv_printf(
			&c->notes,
			"egress-blocks-dns not checked: no running pod labelled %s=%s in "
			"namespace %s is in the input (add the DNS pods to the dump, or set "
			"the DNS namespace and label)",
			c->dns_key, c->dns_value, c->dns_ns);
		goto out;
	}

	n = model_pods(c->m, &pods);
	for (size_t i = 0; i < n; i++) {
		const struct policy_expect *x;
		bool is_dns = false;
		size_t g;

		if (policy_pod_exempt(pods[i]) != POLICY_APPLIES)
			continue;
		for (size_t k = 0; k < dnsv.n; k++)
			is_dns |= dnsv.items[k] == pods[i];
		if (is_dns)
			continue;
		r = policy_engine_expect(c->e, pods[i], &x);
		if (r < 0)
			goto out;
		if (!x->dir[NP_EGRESS]->isolated)
			continue;
		for (g = 0; g < groups.n; g++)
			if (groups.items[g].dir == x->dir[NP_EGRESS] &&
			    streq(groups.items[g].pods.items[0]->ns, pods[i]->ns))
				break;
		if (g == groups.n) {
			r = VEC_PUSH(&groups, ((struct pod_group){ .dir = x->dir[NP_EGRESS] }));
			if (r < 0)
				goto out;
		}
		r = VEC_PUSH(&groups.items[g].pods, pods[i]);
		if (r < 0)
			goto out;
	}

	for (size_t g = 0; g < groups.n; g++) {
		const struct policy_dir *d = groups.items[g].dir;
		_cleanup_(strv_done) struct strv objs = { 0 };
		bool udp = false, tcp = false;
		const struct model_policy *first;

		for (size_t k = 0; k < dnsv.n; k++)
			for (uint8_t a = 0; a < dnsv.items[k]->n_ips; a++) {
				udp |= policy_dir_allows(d, dnsv.items[k]->ips[a], NP_PROTO_UDP,
							 53);
				tcp |= policy_dir_allows(d, dnsv.items[k]->ips[a], NP_PROTO_TCP,
							 53);
			}
		if (udp && tcp)
			continue;
		for (size_t k = 0; r >= 0 && k < d->n_policies; k++)
			r = obj_policy(&objs, d->policies[k]);
		for (size_t k = 0; r >= 0 && k < groups.items[g].pods.n; k++)
			r = obj_pod(&objs, groups.items[g].pods.items[k]);
		if (r < 0)
			goto out;
		first = d->n_policies ? d->policies[0] : NULL;
		r = emit(c, LINT_EGRESS_BLOCKS_DNS, udp ? LINT_WARNING : LINT_ERROR, &objs, NULL,
			 lint_strf(
				 "%zu pod%s in namespace %s %s isolated for egress and %s %s "
				 "no %s to the cluster DNS pods (%s=%s in %s) on port 53%s",
				 groups.items[g].pods.n, groups.items[g].pods.n == 1 ? "" : "s",
				 groups.items[g].pods.items[0]->ns,
				 groups.items[g].pods.n == 1 ? "is" : "are",
				 groups.items[g].pods.n == 1 ? "its" : "their",
				 d->n_policies == 1 ? "policy allows" : "policies allow",
				 !udp && !tcp ? "UDP or TCP"
				 : !udp	      ? "UDP"
					      : "TCP",
				 c->dns_key, c->dns_value, c->dns_ns,
				 !udp ? ": name resolution fails"
				      : ": answers too large for UDP (truncated, retried over TCP) "
					"fail"),
			 lint_strf(
				 "add an egress rule to NetworkPolicy %s/%s: to: "
				 "[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "
				 "%s}}, podSelector: {matchLabels: {%s: %s}}}], ports: [{protocol: "
				 "UDP, port: 53}, {protocol: TCP, port: 53}]",
				 first ? first->ns : "?", first ? first->name : "?", c->dns_ns,
				 c->dns_key, c->dns_value));
		if (r < 0)
			goto out;
	}
out:
	for (size_t g = 0; g < groups.n; g++)
		VEC_DONE(&groups.items[g].pods);
	VEC_DONE(&groups);
	VEC_DONE(&dnsv);
	return r;
}

static bool service_selects(const struct model_service *s, const struct model_pod *p)
{
	if (!s->has_selector || !streq(s->ns, p->ns))
		return false;
	for (uint32_t i = 0; i < s->selector.n; i++) {
		const char *v = model_labels_get(&p->labels, s->selector.v[i].key);
		if (!v || !streq(v, s->selector.v[i].value))
			return false;
	}
	return true;
}

/* Whether ingress d admits some address outside the pods on (proto, port): a term from a rule
 * without peers or from an ipBlock peer. Exact from the terms' provenance. */
static bool admits_outside(const struct policy_dir *d, uint8_t proto, uint16_t port)
{
	for (size_t i = 0; i < d->n_terms; i++) {
		const struct policy_term *t = &d->terms[i];
		if (t->proto != proto || port < t->port_lo || port > t->port_hi)
			continue;
		if (t->peer < 0 || t->policy->rules[NP_INGRESS][t->rule].peers[t->peer].ipblock)
			return true;
	}
	return false;
}

static int check_exposure(struct lint_ctx *c)
{
	const struct model_service *const *svcs;
	size_t n_svc = model_services(c->m, &svcs);
	int r;

	for (size_t s = 0; s < n_svc; s++) {
		const struct model_service *svc = svcs[s];
		const struct model_pod *const *pods;
		_cleanup_(strv_done) struct strv objs = { 0 }, podobjs = { 0 }, closed = { 0 };
		size_t n, n_iso = 0;
		struct strbuf msg = { 0 }, fix = { 0 };

		if (svc->type != MODEL_SVC_NODE_PORT && svc->type != MODEL_SVC_LOAD_BALANCER)
			continue;
		if (!svc->has_selector)
			continue;
		r = obj_add(&objs, "service", svc->ns, svc->name);
		if (r < 0)
			return r;
		n = model_pods_in_namespace(c->m, svc->ns, &pods);
		for (size_t i = 0; i < n; i++) {
			const struct policy_expect *px;

			if (policy_pod_exempt(pods[i]) != POLICY_APPLIES ||
			    !service_selects(svc, pods[i]))
				continue;
			r = policy_engine_expect(c->e, pods[i], &px);
			if (r < 0)
				return r;
			if (!px->dir[NP_INGRESS]->isolated)
				continue;
			n_iso++;
			for (size_t k = 0; r >= 0 && k < px->dir[NP_INGRESS]->n_policies; k++)
				r = obj_policy(&objs, px->dir[NP_INGRESS]->policies[k]);
			if (r >= 0)
				r = obj_pod(&podobjs, pods[i]);
			/* Which service ports no ingress rule opens to non-pod addresses. */
			for (uint32_t k = 0; r >= 0 && k < svc->n_ports; k++) {
				const struct model_service_port *sp = &svc->ports[k];
				uint16_t tp = sp->target_port;
				char buf[64];

				for (uint16_t q = 0;
				     !tp && sp->target_port_name && q < pods[i]->n_ports; q++)
					if (pods[i]->ports[q].name &&
					    pods[i]->ports[q].proto == sp->proto &&
					    streq(pods[i]->ports[q].name, sp->target_port_name))
						tp = pods[i]->ports[q].port;
				if (!tp || admits_outside(px->dir[NP_INGRESS], sp->proto, tp))
					continue;
				snprintf(buf, sizeof(buf), "%s %u", np_proto_name(sp->proto), tp);
				if (!strv_contains(&closed, buf))
					r = strv_add(&closed, buf);
			}
			if (r < 0)
				return r;
		}
		if (n_iso == 0)
			continue;
		for (size_t i = 0; i < podobjs.n; i++)
			if (strv_add(&objs, podobjs.v[i]) < 0)
				return -ENOMEM;
		strbuf_printf(&msg,
			      "Service %s/%s (%s, externalTrafficPolicy %s) sends traffic from "
			      "outside the cluster to %zu pod%s isolated for ingress; ",
			      svc->ns, svc->name,
			      svc->type == MODEL_SVC_NODE_PORT ? "NodePort" : "LoadBalancer",
			      svc->external_traffic_local ? "Local" : "Cluster", n_iso,
			      n_iso == 1 ? "" : "s");
		if (svc->external_traffic_local)
			strbuf_puts(&msg, "with Local the client address is preserved, so ipBlock "
					  "rules see real clients");
		else
			strbuf_puts(&msg,
				    "with Cluster, connections forwarded from another node are "
				    "SNATed to that node's address, so ipBlock rules do not see "
				    "client addresses");
		strbuf_puts(&msg, ", and such traffic is outside pod-to-pod policy unless the CNI "
				  "also applies policy to host and external endpoints");
		for (size_t i = 0; i < closed.n; i++)
			strbuf_printf(&msg, "%s%s",
				      i ? ", "
					: "; no ingress rule admits non-pod "
					  "addresses on ",
				      closed.v[i]);
		if (svc->external_traffic_local)
			strbuf_printf(&fix,
				      "allow the client ranges with an ipBlock in an ingress rule "
				      "of %s on the service's target ports",
				      objs.n > 1 ? objs.v[1] : "the pods' policy");
		else
			strbuf_printf(
				&fix,
				"set spec.externalTrafficPolicy: Local on Service %s/%s to keep "
				"client addresses and allow the client ranges with an ipBlock "
				"ingress rule; with Cluster, the rule must allow the nodes' "
				"addresses instead",
				svc->ns, svc->name);
		if (msg.oom || fix.oom) {
			strbuf_done(&msg);
			strbuf_done(&fix);
			return -ENOMEM;
		}
		r = emit(c, LINT_EXTERNAL_EXPOSURE,
			 svc->external_traffic_local && closed.n == 0 ? LINT_INFO : LINT_WARNING,
			 &objs, NULL, strbuf_steal(&msg), strbuf_steal(&fix));
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- checks from the CNI detection --- */

/* Policies that select pods (to which policy applies) on the node, or anywhere without one. */
static int policies_in_use(struct lint_ctx *c, struct strv *objs)
{
	const struct model_policy *const *pols;
	size_t np = model_policies(c->m, &pols);
	int r;

	for (size_t i = 0; i < np; i++) {
		const struct model_pod *const *pods;
		size_t n = model_pods_in_namespace(c->m, pols[i]->ns, &pods);

		for (size_t k = 0; k < n; k++)
			if ((!c->o->node || (pods[k]->node && streq(pods[k]->node, c->o->node))) &&
			    policy_pod_exempt(pods[k]) == POLICY_APPLIES &&
			    policy_selects(pols[i], pods[k])) {
				r = obj_policy(objs, pols[i]);
				if (r < 0)
					return r;
				break;
			}
	}
	return 0;
}

static const char *install_instead(enum cni_kind k)
{
	switch (k) {
	case CNI_FLANNEL:
		return "keep flannel and add a policy agent: Canal (Calico's Felix on flannel) or "
		       "kube-network-policies; or move to Calico, Cilium or Antrea";
	case CNI_AWS_VPC:
		return "enable the VPC CNI network policy agent (enableNetworkPolicy: \"true\" in "
		       "the aws-node add-on configuration, which runs aws-eks-nodeagent with "
		       "--enable-network-policy=true), or install Calico in policy-only mode";
	case CNI_WEAVE:
		return "run Weave Net's weave-npc container in the weave-net DaemonSet";
	case CNI_KUBE_ROUTER:
		return "run kube-router with --run-firewall=true";
	default:
		return "install a CNI that enforces NetworkPolicy (Calico, Cilium, Antrea), or add "
		       "kube-network-policies next to the current one";
	}
}

static int check_cni(struct lint_ctx *c)
{
	const struct cni_detection *d = c->cni;
	_cleanup_(strv_done) struct strv used = { 0 };
	int r;

	r = policies_in_use(c, &used);
	if (r < 0)
		return r;

	if (d->enforces == CNI_ENFORCE_NO && used.n > 0) {
		_cleanup_(strv_done) struct strv objs = { 0 };

		if (c->o->node)
			r = obj_add(&objs, "node", NULL, c->o->node);
		if (r >= 0 && d->has_agent)
			r = obj_add(&objs, "daemonset", d->agent.daemonset_ns, d->agent.daemonset);
		for (size_t i = 0; r >= 0 && i < used.n; i++)
			r = strv_add(&objs, used.v[i]);
		if (r < 0)
			return r;
		r = emit(c, LINT_CNI_NO_POLICY_SUPPORT, LINT_CRITICAL, &objs, NULL,
			 lint_strf("the CNI (%s) does not enforce NetworkPolicy, so the %zu "
				   "polic%s selecting pods %s%s ha%s no effect: all traffic is "
				   "allowed",
				   cni_kind_name(d->kind), used.n, used.n == 1 ? "y" : "ies",
				   c->o->node ? "on node " : "in the cluster",
				   c->o->node ? c->o->node : "", used.n == 1 ? "s" : "ve"),
			 lint_strf("%s", install_instead(d->kind)));
		if (r < 0)
			return r;
	}

	if ((d->dataplane == CNI_DP_EBPF || d->dataplane == CNI_DP_OVS) &&
	    d->enforces == CNI_ENFORCE_YES && used.n > 0) {
		_cleanup_(strv_done) struct strv objs = { 0 };
		const char *who = d->policy_addon ? d->policy_addon : cni_kind_name(d->kind);

		if (d->has_agent)
			r = obj_add(&objs, "daemonset", d->agent.daemonset_ns, d->agent.daemonset);
		else
			r = obj_add(&objs, "cni", NULL, who);
		if (r < 0)
			return r;
		r = emit(
			c, LINT_CNI_EBPF_DATAPLANE, LINT_WARNING, &objs, NULL,
			lint_strf("%s enforces NetworkPolicy in %s, which netfilter does not show: "
				  "the audit reports the pods it isolates as unverifiable instead "
				  "of checking them",
				  who, d->dataplane == CNI_DP_EBPF ? "eBPF programs" : "OVS flows"),
			lint_strf("%s",
				  d->dataplane == CNI_DP_EBPF
					  ? "verify with the CNI's own tools (cilium: `cilium-dbg "
					    "policy get`, `hubble observe --verdict DROPPED`; VPC "
					    "CNI: "
					    "the policy agent's logs); the policies need no change"
					  : "verify with `antctl get networkpolicy` and `ovs-ofctl "
					    "dump-flows br-int`; the policies need no change"));
		if (r < 0)
			return r;
	}

	if (d->has_agent) {
		const struct cni_agent *a = &d->agent;
		unsigned th = c->restart_threshold;

		if (c->o->node) {
			_cleanup_(strv_done) struct strv objs = { 0 };
			char *msg = NULL;

			if (!a->name) {
				r = obj_add(&objs, "daemonset", a->daemonset_ns, a->daemonset);
				if (r >= 0)
					r = obj_add(&objs, "node", NULL, c->o->node);
				msg = lint_strf(
					"no pod of the CNI agent DaemonSet %s/%s runs on node "
					"%s: nothing programs NetworkPolicy for new changes "
					"there",
					a->daemonset_ns, a->daemonset, c->o->node);
			} else if (!a->ready || a->restarts >= th) {
				r = obj_add(&objs, "pod", a->ns, a->name);
				msg = lint_strf("the CNI agent pod %s/%s on node %s is %s%s%s",
						a->ns, a->name, c->o->node,
						a->ready ? "Ready" : "not Ready",
						a->restarts >= th ? " and has restarted " : "",
						a->restarts >= th ? "repeatedly" : "");
				if (msg && a->restarts >= th) {
					char *m2 = lint_strf("%s (%u times)", msg, a->restarts);
					free(msg);
					msg = m2;
				}
			} else
				return 0;
			if (r < 0) {
				free(msg);
				return r;
			}
			return emit(
				c, LINT_CNI_AGENT_UNHEALTHY, LINT_ERROR, &objs, NULL, msg,
				lint_strf("look at `kubectl -n %s describe daemonset %s` and, for "
					  "its "
					  "pod on %s, `kubectl -n %s describe pod` and `logs "
					  "--previous`; until the agent is healthy its rules there "
					  "may be stale or missing",
					  a->daemonset_ns, a->daemonset, c->o->node,
					  a->daemonset_ns));
		} else {
			const struct model_daemonset *const *dss;
			size_t nd = model_daemonsets(c->m, &dss);

			for (size_t i = 0; i < nd; i++) {
				_cleanup_(freep) const struct model_pod **pods = NULL;
				int np;

				if (!streq(dss[i]->ns, a->daemonset_ns) ||
				    !streq(dss[i]->name, a->daemonset))
					continue;
				np = cni_daemonset_pods(c->m, dss[i], NULL, &pods);
				if (np < 0)
					return np;
				for (int k = 0; k < np; k++) {
					_cleanup_(strv_done) struct strv objs = { 0 };
					const struct model_pod *p = pods[k];

					if (p->ready && p->restarts < th)
						continue;
					r = obj_pod(&objs, p);
					if (r < 0)
						return r;
					r = emit(c, LINT_CNI_AGENT_UNHEALTHY, LINT_ERROR, &objs,
						 NULL,
						 lint_strf(
							 "the CNI agent pod %s/%s on node %s is %s "
							 "with %u restarts",
							 p->ns, p->name, p->node ? p->node : "?",
							 p->ready ? "Ready" : "not Ready",
							 p->restarts),
						 lint_strf("look at `kubectl -n %s describe pod "
							   "%s` and "
							   "its logs (--previous); until it is "
							   "healthy "
							   "its rules on that node may be stale",
							   p->ns, p->name));
					if (r < 0)
						return r;
				}
			}
		}
	}
	return 0;
}

/* Chain name prefixes of the components whose rules matter for the split. */
static const char *chain_owner(const char *chain)
{
	static const struct {
		const char *prefix, *owner;
	} owners[] = {
		{ "cali-", "Calico" },
		{ "KUBE-ROUTER-", "kube-router" },
		{ "KUBE-NWPLCY-", "kube-router" },
		{ "KUBE-POD-FW-", "kube-router" },
		{ "CILIUM_", "Cilium" },
		{ "WEAVE-", "Weave Net" },
		{ "ANTREA-", "Antrea" },
		{ "FLANNEL-", "flannel" },
		{ "AWS-", "AWS VPC CNI" },
		{ "KUBE-", "kube-proxy" },
	};

	for (size_t i = 0; i < ELEMENTSOF(owners); i++)
		if (strneq(chain, owners[i].prefix, strlen(owners[i].prefix)))
			return owners[i].owner;
	return NULL;
}

static int check_backend_split(struct lint_ctx *c)
{
	const struct lint_fw_input *fw = c->o->fw;
	_cleanup_(strv_done) struct strv objs = { 0 }, where = { 0 };
	uint32_t legacy, nft;
	struct strbuf msg = { 0 };
	int r;

	if (!fw)
		return strv_printf(&c->notes, "iptables-backend-split not checked: the live rules "
					      "were not read (offline)");
	legacy = fw->n_rules[LINT_FW_IPTABLES_LEGACY];
	nft = fw->n_rules[LINT_FW_NFT] + fw->n_rules[LINT_FW_IPTABLES_NFT];
	if (legacy == 0 || nft == 0)
		return 0;

	/* Say whose rules are where, as far as chain names tell. */
	for (int s = 0; s < _LINT_FW_SOURCE_MAX; s++) {
		_cleanup_(strv_done) struct strv owners = { 0 };

		for (size_t i = 0; i < fw->n_chains; i++) {
			const char *o = chain_owner(fw->chains[i].chain);
			if (fw->chains[i].source != (enum lint_fw_source)s || !o ||
			    !fw->chains[i].n_rules || strv_contains(&owners, o))
				continue;
			if (strv_add(&owners, o) < 0)
				return -ENOMEM;
		}
		for (size_t i = 0; i < owners.n; i++)
			if (strv_printf(&where, "%s in %s", owners.v[i],
					lint_fw_source_name((enum lint_fw_source)s)) < 0)
				return -ENOMEM;
	}
	if (c->o->node)
		r = obj_add(&objs, "node", NULL, c->o->node);
	else
		r = obj_add(&objs, "node", NULL, "localhost");
	if (r >= 0 && c->cni && c->cni->has_agent)
		r = obj_add(&objs, "daemonset", c->cni->agent.daemonset_ns,
			    c->cni->agent.daemonset);
	if (r < 0)
		return r;
	strbuf_printf(&msg,
		      "the node has rules in both iptables-legacy (%u) and nf_tables (%u in "
		      "nftables, %u in iptables-nft): the two are separate, a packet passes both, "
		      "and rules one component writes in one are invisible to the tools of the "
		      "other",
		      legacy, fw->n_rules[LINT_FW_NFT], fw->n_rules[LINT_FW_IPTABLES_NFT]);
	for (size_t i = 0; i < where.n; i++)
		strbuf_printf(&msg, "%s%s", i ? ", " : " (", where.v[i]);
	if (where.n)
		strbuf_puts(&msg, ")");
	if (c->cni && c->cni->dataplane == CNI_DP_IPTABLES_LEGACY)
		strbuf_puts(&msg, "; the CNI is configured for iptables-legacy");
	else if (c->cni && c->cni->dataplane == CNI_DP_IPTABLES_NFT)
		strbuf_puts(&msg, "; the CNI is configured for iptables-nft");
	if (msg.oom) {
		strbuf_done(&msg);
		return -ENOMEM;
	}
	return emit(c, LINT_IPTABLES_BACKEND_SPLIT, LINT_ERROR, &objs, NULL, strbuf_steal(&msg),
		    lint_strf("make every component use one backend: the host's iptables "
			      "(update-alternatives --set iptables /usr/sbin/iptables-nft), "
			      "kube-proxy and the CNI (Calico: FELIX_IPTABLESBACKEND=NFT) must "
			      "agree; then remove the stale rules of the other backend "
			      "(iptables-legacy-save shows them) or reboot the node"));
}

/* Frees v; returns NULL. */
static const struct lint_finding **mfree_findings(const struct lint_finding **v)
{
	free(v);
	return NULL;
}

/* --- running --- */

static int finding_cmp(const void *a, const void *b)
{
	const struct lint_finding *x = a, *y = b;
	int r;

	if (x->severity != y->severity)
		return x->severity > y->severity ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	for (size_t i = 0; i < x->n_objects && i < y->n_objects; i++) {
		r = strcmp(x->objects[i], y->objects[i]);
		if (r)
			return r;
	}
	if (x->n_objects != y->n_objects)
		return x->n_objects < y->n_objects ? -1 : 1;
	return strcmp(x->id, y->id);
}

int lint_run(const struct model *m, const struct lint_options *o, struct lint_report **ret,
	     struct np_error *reterr)
{
	static const struct lint_options defaults = { 0 };
	_cleanup_(lint_report_freep) struct lint_report *rep = NULL;
	struct lint_ctx c = { .m = m, .o = o ? o : &defaults };
	struct policy_engine *own = NULL;
	const struct model_policy *const *pols;
	const char *label, *eq;
	size_t np;
	int r;

	label = c.o->dns_label ? c.o->dns_label : "k8s-app=kube-dns";
	eq = strchr(label, '=');
	if (!eq || eq == label || !eq[1] || (size_t)(eq - label) >= sizeof(c.dns_key) ||
	    strlen(eq + 1) >= sizeof(c.dns_value))
		return np_error_set(reterr, -EINVAL, NULL, NULL, "dns-label", 0,
				    "the DNS pod label must be key=value, not '%s'", label);
	snprintf(c.dns_key, sizeof(c.dns_key), "%.*s", (int)(eq - label), label);
	snprintf(c.dns_value, sizeof(c.dns_value), "%s", eq + 1);
	c.dns_ns = c.o->dns_namespace ? c.o->dns_namespace : "kube-system";
	c.restart_threshold = c.o->restart_threshold ? c.o->restart_threshold : 5;

	rep = calloc(1, sizeof(*rep));
	if (!rep)
		return -ENOMEM;
	r = cni_detect(m, c.o->node, c.o->cni_conf_dir, &c.cni, reterr);
	if (r >= 0)
		r = cni_detection_refine(c.cni, c.o->fw);
	if (r < 0) {
		c.cni = cni_detection_free(c.cni);
		return r;
	}
	if (c.o->engine)
		c.e = c.o->engine;
	else {
		r = policy_engine_new(m, &own);
		if (r < 0)
			goto out;
		c.e = own;
	}

	np = model_policies(m, &pols);
	for (size_t i = 0; i < np && r >= 0; i++) {
		r = check_selection(&c, pols[i]);
		if (r >= 0)
			r = check_policytypes(&c, pols[i]);
		if (r >= 0)
			r = check_allow_all(&c, pols[i]);
		if (r >= 0)
			r = check_peers(&c, pols[i]);
		if (r >= 0)
			r = check_named_ports(&c, pols[i]);
		if (r >= 0)
			r = check_redundant_rules(&c, pols[i]);
		if (r >= 0)
			r = check_shadowed(&c, pols[i]);
	}
	if (r >= 0)
		r = check_dns(&c);
	if (r >= 0)
		r = check_exposure(&c);
	if (r >= 0)
		r = check_cni(&c);
	if (r >= 0)
		r = check_backend_split(&c);
	for (size_t i = 0; r >= 0 && i < c.cni->n_notes; i++)
		r = strv_printf(&c.notes, "CNI: %s", c.cni->notes[i]);
	if (r >= 0 && !c.o->cni_conf_dir)
		r = strv_printf(&c.notes, "CNI configuration directory not given: the CNI was "
					  "detected from the DaemonSets alone");
	if (r >= 0 && !c.o->node)
		r = strv_printf(&c.notes, "no node given: the CNI agent health was checked on "
					  "every node, and CNI findings consider every pod");
	if (r < 0)
		goto out;

	if (c.f.n > 1)
		np_qsort(c.f.items, c.f.n, sizeof(*c.f.items), finding_cmp);
	rep->findings = c.f.items;
	rep->n_findings = c.f.n;
	c.f = (typeof(c.f)){ 0 };
	rep->notes = c.notes.v;
	rep->n_notes = c.notes.n;
	c.notes = (struct strv){ 0 };
	rep->cni = TAKE_PTR(c.cni);
	*ret = TAKE_PTR(rep);
out:
	for (size_t i = 0; i < c.f.n; i++)
		finding_done(&c.f.items[i]);
	VEC_DONE(&c.f);
	strv_done(&c.notes);
	named_index_free(&c.named);
	cni_detection_free(c.cni);
	policy_engine_free(own);
	return r;
}

struct lint_report *lint_report_free(struct lint_report *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n_findings; i++)
		finding_done(&r->findings[i]);
	free(r->findings);
	strv_free_array(r->notes, r->n_notes);
	cni_detection_free(r->cni);
	free(r);
	return NULL;
}

const struct lint_finding *lint_report_find(const struct lint_report *r, const char *id)
{
	for (size_t i = 0; i < r->n_findings; i++)
		if (streq(r->findings[i].id, id))
			return &r->findings[i];
	return NULL;
}

int lint_report_json(const struct lint_report *r, struct strbuf *out)
{
	strbuf_puts(out, "{\"findings\":[");
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct lint_finding *f = &r->findings[i];

		strbuf_printf(out,
			      "%s{\"id\":\"%s\",\"kind\":\"%s\",\"severity\":\"%s\",\"objects\":[",
			      i ? "," : "", f->id, lint_kind_name(f->kind),
			      lint_severity_name(f->severity));
		for (size_t k = 0; k < f->n_objects; k++) {
			if (k)
				strbuf_puts(out, ",");
			strbuf_json_string(out, f->objects[k]);
		}
		strbuf_puts(out, "],\"message\":");
		strbuf_json_string(out, f->message);
		strbuf_puts(out, ",\"fix\":");
		strbuf_json_string(out, f->fix);
		strbuf_puts(out, "}");
	}
	strbuf_puts(out, "]}");
	return out->oom ? -ENOMEM : 0;
}

int lint_report_format(const struct lint_report *r, struct strbuf *out)
{
	for (size_t i = 0; i < r->n_findings; i++) {
		const struct lint_finding *f = &r->findings[i];

		strbuf_printf(out, "%s%s: %s [%s]\n", i ? "\n" : "",
			      lint_severity_name(f->severity), lint_kind_name(f->kind), f->id);
		for (size_t k = 0; k < f->n_objects; k++)
			strbuf_printf(out, "  %s\n", f->objects[k]);
		strbuf_printf(out, "  %s\n  fix: %s\n", f->message, f->fix);
	}
	return out->oom ? -ENOMEM : 0;
}

/* Fills *ret with the findings of a whose id is not in b (b may be NULL). */
static int findings_missing(const struct lint_report *a, const struct lint_report *b,
			    const struct lint_finding ***ret, size_t *ret_n)
{
	_cleanup_(hashmap_done) struct hashmap ids = { 0 };
	_cleanup_(freep) const struct lint_finding **v = NULL;
	size_t n = 0;

	for (size_t i = 0; b && i < b->n_findings; i++)
		if (hashmap_put(&ids, b->findings[i].id, (void *)&b->findings[i]) < 0)
			return -ENOMEM;
	if (a && a->n_findings) {
		v = calloc(a->n_findings, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (size_t i = 0; a && i < a->n_findings; i++)
		if (!hashmap_get(&ids, a->findings[i].id))
			v[n++] = &a->findings[i];
	if (n == 0)
		v = mfree_findings(v);
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

int lint_report_diff(const struct lint_report *before, const struct lint_report *now,
		     const struct lint_finding ***ret_new, size_t *ret_n_new,
		     const struct lint_finding ***ret_resolved, size_t *ret_n_resolved)
{
	_cleanup_(freep) const struct lint_finding **added = NULL;
	size_t n_added;
	int r;

	r = findings_missing(now, before, &added, &n_added);
	if (r < 0)
		return r;
	r = findings_missing(before, now, ret_resolved, ret_n_resolved);
	if (r < 0)
		return r;
	*ret_new = TAKE_PTR(added);
	*ret_n_new = n_added;
	return 0;
}
