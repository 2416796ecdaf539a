/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Lint: the classic NetworkPolicy mistakes that need no packet filter to find, and what the
 * node's CNI is (and whether it can enforce NetworkPolicy at all).
 *
 * Everything here is static analysis of the cluster model (policies, pods, services,
 * daemonsets), of a copy of the node's CNI configuration directory (/etc/cni/net.d), and of
 * counts of live rules per netfilter source that the caller supplies (so lint does not
 * depend on lib/fw). Every finding names its objects as "kind/NS/NAME" strings, says in one
 * sentence what is wrong, and gives the fix in concrete terms. The finding id is a hash of
 * the kind and the objects, so it is stable across runs and reports can be about transitions.
 *
 * The NetworkPolicy semantics are the networking.k8s.io/v1 ones, through lib/policy.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy/policy.h"

enum lint_severity {
	LINT_INFO,
	LINT_WARNING,
	LINT_ERROR,
	LINT_CRITICAL,
};

enum lint_kind {
	LINT_POLICY_SELECTS_NOTHING,
	LINT_POLICY_WRONG_NAMESPACE,
	LINT_POLICY_SELECTS_ALL,
	LINT_PEER_SELECTS_NOTHING,
	LINT_RULE_ALLOWS_ALL,
	LINT_POLICYTYPES_IMPLICIT,
	LINT_POLICYTYPES_CONTRADICTION,
	LINT_EGRESS_BLOCKS_DNS,
	LINT_EXTERNAL_EXPOSURE,
	LINT_HOSTNETWORK_SELECTED,
	LINT_NAMED_PORT_UNRESOLVED,
	LINT_SHADOWED_POLICY,
	LINT_REDUNDANT_RULE,
	LINT_CNI_NO_POLICY_SUPPORT,
	LINT_CNI_EBPF_DATAPLANE,
	LINT_CNI_AGENT_UNHEALTHY,
	LINT_IPTABLES_BACKEND_SPLIT,
	_LINT_KIND_MAX,
};

/* Returns the kind's name ("policy-selects-nothing"), or NULL for an invalid value. */
const char *lint_kind_name(enum lint_kind k);
/* Returns the kind named s, or -EINVAL. */
int lint_kind_from_name(const char *s);
/* Returns "info", "warning", "error" or "critical" (NULL for an invalid value). */
const char *lint_severity_name(enum lint_severity s);
/* Returns the severity named s, or -EINVAL. */
int lint_severity_from_name(const char *s);

struct lint_finding {
	enum lint_kind kind;
	enum lint_severity severity;
	char **objects; /* "networkpolicy/NS/NAME", "pod/NS/NAME", "service/NS/NAME", ... */
	size_t n_objects;
	char *message; /* one sentence: what is wrong */
	char *fix; /* what to change */
	char id[17]; /* 16 hex digits: FNV-1a 64 of kind, objects (pods left out when others are
			named, so scaling a workload keeps the id) and the field it is about */
};

/* --- CNI detection --- */

enum cni_kind {
	CNI_UNKNOWN,
	CNI_CALICO,
	CNI_CANAL, /* flannel networking, Calico (Felix) policy */
	CNI_CILIUM,
	CNI_WEAVE,
	CNI_KUBE_ROUTER,
	CNI_FLANNEL,
	CNI_ANTREA,
	CNI_KUBE_NETWORK_POLICIES,
	CNI_AWS_VPC,
	CNI_BRIDGE, /* the reference bridge/ptp plugins with host-local IPAM */
	_CNI_KIND_MAX,
};

enum cni_dataplane {
	CNI_DP_UNKNOWN,
	CNI_DP_NONE, /* the CNI programs no policy dataplane */
	CNI_DP_IPTABLES_LEGACY,
	CNI_DP_IPTABLES_NFT,
	CNI_DP_NFTABLES,
	CNI_DP_EBPF,
	CNI_DP_OVS,
	_CNI_DP_MAX,
};

enum cni_enforce {
	CNI_ENFORCE_UNKNOWN,
	CNI_ENFORCE_NO,
	CNI_ENFORCE_YES,
};

/* Returns "calico", "canal", ... ("unknown" for CNI_UNKNOWN), or NULL for an invalid value. */
const char *cni_kind_name(enum cni_kind k);
/* Returns "iptables-legacy", "iptables-nft", "nftables", "eBPF", "OVS", "none" or "unknown". */
const char *cni_dataplane_name(enum cni_dataplane d);
/* Returns "yes", "no" or "unknown". */
const char *cni_enforce_name(enum cni_enforce e);

/* The CNI agent pod on the node: what remediation deletes (with a uid precondition) so that
 * its DaemonSet recreates it. All strings owned by the detection. */
struct cni_agent {
	char *daemonset_ns, *daemonset; /* the agent's DaemonSet */
	char *ns, *name, *uid, *node; /* NULL name: no pod of the DaemonSet on the node */
	bool ready;
	unsigned restarts;
};

/* What was detected. Strings are owned by the detection. */
struct cni_detection {
	enum cni_kind kind; /* CNI_UNKNOWN when nothing was recognised */
	char *version; /* image tag of the agent, or NULL */
	enum cni_dataplane dataplane; /* of the NetworkPolicy enforcement */
	enum cni_enforce enforces;
	char *policy_addon; /* a separate NetworkPolicy agent (kube-network-policies, Calico
			       policy-only, ...) in front of the network CNI, or NULL */
	char *policy_addon_version; /* its image tag, or NULL */
	struct cni_agent agent; /* valid when has_agent */
	bool has_agent; /* an agent DaemonSet was recognised */
	char *conf_file; /* the CNI configuration the runtime uses (first by name), or NULL */
	char *conf_type; /* its first plugin's type, or NULL */
	char **evidence; /* why: one sentence each */
	size_t n_evidence;
	char **notes; /* what could not be determined, one sentence each */
	size_t n_notes;
	enum cni_kind enforcer; /* the component that enforces NetworkPolicy, or CNI_UNKNOWN */
	ssize_t dataplane_note; /* index in notes saying why the dataplane is unknown, or -1 */
};

/*
 * Detects the CNI from the model's daemonsets and their pods (on `node` when not NULL) and,
 * when conf_dir is not NULL, from the CNI configuration files there (read only; the first of
 * *.conf, *.conflist, *.json by byte order is the one container runtimes use).
 * Returns 0 and a new detection in *ret (free with cni_detection_free()), -ENOMEM, or a
 * negative errno with *reterr filled when conf_dir cannot be read.
 */
int cni_detect(const struct model *m, const char *node, const char *conf_dir,
	       struct cni_detection **ret, struct np_error *reterr);
/* Frees d; returns NULL. */
struct cni_detection *cni_detection_free(struct cni_detection *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct cni_detection *, cni_detection_free);
/* Appends d as a JSON object; returns 0 or -ENOMEM. */
int cni_detection_json(const struct cni_detection *d, struct strbuf *out);
/* Appends d as human-readable lines; returns 0 or -ENOMEM. */
int cni_detection_format(const struct cni_detection *d, struct strbuf *out);

/* --- live rule sources (filled by the caller that can read them) --- */

enum lint_fw_source {
	LINT_FW_NFT, /* native nftables tables */
	LINT_FW_IPTABLES_NFT, /* iptables-nft (xtables compat in nftables) */
	LINT_FW_IPTABLES_LEGACY, /* iptables-legacy (x_tables) */
	_LINT_FW_SOURCE_MAX,
};

/* Returns "nftables", "iptables-nft" or "iptables-legacy". */
const char *lint_fw_source_name(enum lint_fw_source s);

/* A chain and its rule count; lets lint say whose rules are where. */
struct lint_fw_chain {
	enum lint_fw_source source;
	const char *table, *chain;
	uint32_t n_rules;
};

struct lint_fw_input {
	uint32_t n_rules[_LINT_FW_SOURCE_MAX]; /* rules per source */
	const struct lint_fw_chain *chains; /* optional, may be NULL */
	size_t n_chains;
};

/*
 * Settles an iptables dataplane the cluster objects leave open (Calico's FELIX_IPTABLESBACKEND
 * Auto, Weave Net, kube-router) from where the enforcer's chains are in the live rules: when
 * all of them are in one source, that is the dataplane, and the note saying it was unknown is
 * replaced by evidence. Returns 1 if it changed d, 0 if not, or -ENOMEM.
 */
int cni_detection_refine(struct cni_detection *d, const struct lint_fw_input *fw);

/* --- running the lint --- */

struct lint_options {
	const char *node; /* this node; NULL: the whole cluster (offline without --node) */
	const char *dns_namespace; /* NULL: "kube-system" */
	const char *dns_label; /* "key=value"; NULL: "k8s-app=kube-dns" */
	const char *cni_conf_dir; /* NULL: not looked at */
	const struct lint_fw_input *fw; /* NULL: live rules unknown, backend split skipped */
	unsigned restart_threshold; /* agent restarts from which it is "restarting"; 0: 5 */
	struct policy_engine *engine; /* an engine over the same model to share (the agent's);
					 NULL: lint makes its own */
};

struct lint_report {
	struct lint_finding *findings; /* sorted by severity (highest first), kind, objects */
	size_t n_findings;
	char **notes; /* checks skipped or limited, and why; one sentence each */
	size_t n_notes;
	struct cni_detection *cni;
};

/*
 * Lints the model. Returns 0 and a new report in *ret (free with lint_report_free()),
 * -EINVAL with *reterr for a bad option (dns_label not key=value), a negative errno with
 * *reterr when the CNI configuration directory cannot be read, or -ENOMEM.
 */
int lint_run(const struct model *m, const struct lint_options *o, struct lint_report **ret,
	     struct np_error *reterr);
/* Frees r; returns NULL. */
struct lint_report *lint_report_free(struct lint_report *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct lint_report *, lint_report_free);

/* Appends {"findings":[{"id","kind","severity","objects","message","fix"}...]}; 0 or -ENOMEM. */
int lint_report_json(const struct lint_report *r, struct strbuf *out);
/* Appends the findings as human-readable text, one block per finding; 0 or -ENOMEM. */
int lint_report_format(const struct lint_report *r, struct strbuf *out);
/*
 * The transitions between two reports (e.g. the agent's previous and current lint): findings of
 * `now` whose id is not in `before` go to *ret_new, findings of `before` whose id is not in
 * `now` to *ret_resolved (new arrays, caller frees them, not the findings, which stay owned by
 * the reports; NULL when empty). before may be NULL (everything is new). Returns 0 or -ENOMEM.
 */
int lint_report_diff(const struct lint_report *before, const struct lint_report *now,
		     const struct lint_finding ***ret_new, size_t *ret_n_new,
		     const struct lint_finding ***ret_resolved, size_t *ret_n_resolved);
/* Returns the finding of r with id, or NULL. */
const struct lint_finding *lint_report_find(const struct lint_report *r, const char *id);
