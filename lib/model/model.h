/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The cluster model: namespaces, pods, NetworkPolicies, services and daemonsets decoded from
 * Kubernetes JSON/YAML (kubectl -o json/yaml dumps, List objects, multi-document YAML) or fed
 * object by object from the API client. Label keys and values are interned, so equal strings
 * are equal pointers. Pods are indexed by namespace and by label (key=value), so a selector
 * visits only candidate pods.
 *
 * The model keeps the spec fields as written (missing vs empty is preserved where the
 * NetworkPolicy semantics or the lint depend on it); lib/policy gives them meaning.
 */

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "util/util.h"

/* IP protocol numbers, as Kubernetes' Protocol values map to them. */
enum np_proto {
	NP_PROTO_TCP = 6,
	NP_PROTO_UDP = 17,
	NP_PROTO_SCTP = 132,
};

/* Returns "TCP"/"UDP"/"SCTP", or NULL for another value. */
const char *np_proto_name(uint8_t proto);
/* Returns the protocol number for "TCP"/"UDP"/"SCTP" (case-sensitive, as the API), or -EINVAL. */
int np_proto_from_name(const char *s);

struct model_label {
	const char *key, *value; /* interned in the model's pool */
};

/* Labels sorted by key (strcmp), keys unique. */
struct model_labels {
	struct model_label *v;
	uint32_t n;
};

/* Returns the interned value of key in l, or NULL if absent. */
const char *model_labels_get(const struct model_labels *l, const char *key);

enum model_selector_op {
	MODEL_OP_IN,
	MODEL_OP_NOT_IN,
	MODEL_OP_EXISTS,
	MODEL_OP_DOES_NOT_EXIST,
};

struct model_requirement {
	const char *key; /* interned */
	enum model_selector_op op;
	const char **values; /* interned; sorted, unique */
	uint32_t n_values;
};

/* A metav1.LabelSelector. `present` is false for a missing (null) selector; an empty
 * selector that is present ({}) matches everything. */
struct model_selector {
	bool present;
	struct model_labels match_labels;
	struct model_requirement *exprs;
	uint32_t n_exprs;
};

/* Returns whether the selector matches the labels (a missing selector matches nothing;
 * callers decide what a missing selector means in their context). */
bool model_selector_matches(const struct model_selector *s, const struct model_labels *l);
/* Returns whether the selector is present and empty (matches everything). */
bool model_selector_is_empty(const struct model_selector *s);

struct model_container_port {
	const char *name; /* interned, NULL if unnamed */
	uint16_t port;
	uint8_t proto;
};

enum model_pod_phase {
	MODEL_POD_PENDING,
	MODEL_POD_RUNNING,
	MODEL_POD_SUCCEEDED,
	MODEL_POD_FAILED,
	MODEL_POD_UNKNOWN,
};

struct model_namespace {
	const char *name; /* interned */
	const char *uid;
	struct model_labels labels;
	uint32_t id; /* dense index, stable while the namespace exists */
	uint64_t gen; /* model generation of the last change */
	/* Not in the input but named by pods: labels unknown except kubernetes.io/metadata.name,
	 * which the API server sets on every namespace. */
	bool implicit;
};

/* Where a pod comes from; pods of one workload share it. */
struct model_pod_origin {
	const char *owner_kind, *owner_name; /* interned; controller ownerReference, or NULL */
	const char *image; /* interned; first container's image, or NULL */
};

/*
 * A pod is one allocation of about 130 bytes: this struct, then its addresses, its name and
 * (when it is not a UUID) its uid. Pods of one workload share their label array, container
 * ports and origin; the strings that repeat between pods (namespace, node, label keys and
 * values, port names) are interned.
 */
struct model_pod {
	const char *ns; /* interned */
	const char *name; /* owned (in the pod's allocation) */
	const char *node; /* interned; NULL when not scheduled */
	struct model_labels labels; /* shared between pods with equal labels */
	np_u128 *ips; /* n_ips addresses: status.podIPs (or podIP), IPv4-mapped; at most one per
		       * family; ips[0] is 0 when there is none */
	struct model_container_port *ports; /* n_ports, NULL when none; shared */
	const struct model_pod_origin *origin; /* never NULL; shared */
	uint32_t hash; /* of (namespace, name), for the model's pod table */
	uint16_t n_ports;
	uint16_t restarts; /* sum of containerStatuses[].restartCount, saturating */
	uint8_t n_ips;
	uint8_t phase; /* enum model_pod_phase */
	bool terminating; /* metadata.deletionTimestamp set */
	bool host_network; /* spec.hostNetwork */
	bool ready; /* condition Ready=True */
	bool uid_is_uuid; /* metadata.uid is in uuid[], else a string after the name */
	uint8_t uuid[16]; /* read with model_pod_uid() */
};

/* The longest uid model_pod_uid() formats into its buffer (a UUID and its NUL). */
#define MODEL_UID_BUF 37

/* Returns the pod's metadata.uid ("" when missing): formatted into buf, or a string owned by
 * the pod. */
const char *model_pod_uid(const struct model_pod *p, char buf[static MODEL_UID_BUF]);

/* Returns whether NetworkPolicy applies to the pod as Kubernetes does: it has an IP, is not
 * hostNetwork, is not terminating and not Succeeded/Failed. */
bool model_pod_policy_applies(const struct model_pod *p);

enum np_dir {
	NP_INGRESS = 0,
	NP_EGRESS = 1,
};

struct model_ipblock {
	const char *cidr; /* owned, as written */
	np_u128 lo, hi;
	int family; /* AF_INET / AF_INET6 */
	struct model_except {
		const char *cidr; /* owned, as written */
		np_u128 lo, hi;
	} * except;
	uint32_t n_except;
};

/* A NetworkPolicyPeer. At most one of ipblock or the selectors is set (the API enforces it;
 * the decoder rejects a peer with both). A peer with neither selector nor ipBlock is invalid. */
struct model_peer {
	struct model_selector pod_selector; /* .present false when missing */
	struct model_selector namespace_selector; /* .present false when missing */
	struct model_ipblock *ipblock; /* NULL when missing */
};

/* A NetworkPolicyPort. */
struct model_policy_port {
	uint8_t proto; /* defaulted to TCP when missing */
	bool has_port; /* false: all ports of proto */
	const char *port_name; /* interned; set for a named port (then `port` is 0) */
	uint16_t port;
	uint16_t end_port; /* 0 when missing */
};

/* A NetworkPolicyIngressRule or EgressRule: `peers` is from (ingress) or to (egress). */
struct model_rule {
	struct model_peer *peers;
	uint32_t n_peers;
	bool peers_present; /* the from/to key was there (possibly an empty list) */
	struct model_policy_port *ports;
	uint32_t n_ports;
	bool ports_present;
};

enum {
	MODEL_POLICY_TYPE_INGRESS = 1 << 0,
	MODEL_POLICY_TYPE_EGRESS = 1 << 1,
};

struct model_policy {
	const char *ns; /* interned */
	const char *name; /* owned */
	const char *uid;
	struct model_selector pod_selector;
	uint8_t policy_types; /* MODEL_POLICY_TYPE_* as written (0 when omitted or empty) */
	bool policy_types_present; /* the key was there */
	bool ingress_present, egress_present; /* the sections were there (possibly empty lists) */
	struct model_rule *rules[2]; /* [NP_INGRESS], [NP_EGRESS] */
	uint32_t n_rules[2];
	uint32_t id; /* dense index, stable while the policy exists */
	uint64_t gen;
};

enum model_service_type {
	MODEL_SVC_CLUSTER_IP,
	MODEL_SVC_NODE_PORT,
	MODEL_SVC_LOAD_BALANCER,
	MODEL_SVC_EXTERNAL_NAME,
};

struct model_service_port {
	const char *name; /* interned or NULL */
	uint8_t proto;
	uint16_t port;
	uint16_t node_port; /* 0 if none */
	uint16_t target_port; /* 0 if named or missing */
	const char *target_port_name; /* interned or NULL */
};

struct model_service {
	const char *ns, *name;
	uint8_t type; /* enum model_service_type */
	bool external_traffic_local; /* externalTrafficPolicy: Local */
	struct model_labels selector; /* empty: no selector */
	bool has_selector;
	struct model_service_port *ports;
	uint32_t n_ports;
	uint64_t gen;
};

/* A literal environment variable of a container (valueFrom is kept with value NULL). */
struct model_env {
	const char *name, *value; /* interned */
};

/* A container of a daemonset's pod template, as far as CNI detection looks at it. */
struct model_ds_container {
	const char *name, *image; /* interned; image NULL when missing */
	bool init; /* from spec.template.spec.initContainers */
	const char **argv; /* interned; command then args, as written */
	uint32_t n_argv;
	struct model_env *env; /* in the order written */
	uint32_t n_env;
};

struct model_daemonset {
	const char *ns, *name;
	struct model_labels labels;
	struct model_labels selector; /* spec.selector.matchLabels */
	const char **images; /* interned, the pod template's containers */
	uint32_t n_images;
	struct model_ds_container *containers; /* initContainers, then containers */
	uint32_t n_containers;
	uint32_t desired, ready; /* status.desiredNumberScheduled, numberReady */
	uint64_t gen;
};

struct model;

enum model_kind {
	MODEL_NAMESPACE,
	MODEL_POD,
	MODEL_POLICY,
	MODEL_SERVICE,
	MODEL_DAEMONSET,
	_MODEL_KIND_MAX,
};

/* Returns 0 and a new empty model in *ret (free with model_free()), or -ENOMEM. */
int model_new(struct model **ret);
/* Frees m and everything in it; returns NULL. */
struct model *model_free(struct model *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct model *, model_free);

/* Brackets a jansson parse (json_loadb and the like): inside it, the first allocation that
 * fails makes every later one fail too, so that jansson, which goes on after a failed
 * allocation in its lexer, stops instead of overrunning or shortening a string. begin returns
 * a mark; end returns whether an allocation failed since: the parse's result must then be
 * treated as out of memory, whatever jansson said. */
unsigned long model_json_parse_begin(void);
bool model_json_parse_end(unsigned long mark);

/*
 * Loads a file of Kubernetes objects into m, merging with what is there (a later object with
 * the same kind/namespace/name replaces the earlier one). JSON or YAML is told by content;
 * a single object, a `kind: List` (items), and multi-document YAML are accepted; "-" is stdin.
 * Objects of other kinds are ignored. An object that is malformed (missing name, wrong type of
 * a field the model needs) is skipped and its error appended to the model's diagnostics (see
 * model_diagnostics()); the rest of the file is still used.
 * Returns the number of objects skipped (>= 0), or a negative errno with *reterr filled when
 * the file cannot be read or is not JSON/YAML at all (then nothing of it is loaded).
 */
int model_load_file(struct model *m, const char *path, struct np_error *reterr);
/* As model_load_file() for a buffer; `name` names it in errors. */
int model_load_buffer(struct model *m, const char *buf, size_t len, const char *name,
		      struct np_error *reterr);

/* Applies one object as the API sends it: added/modified replaces, deleted removes.
 * `kind` is the object's kind when the object itself lacks it (watch events on a typed
 * resource carry it; list items may not). Returns 1 if the model changed, 0 if not (same
 * object or an ignored kind), or -EINVAL/-EBADMSG with *reterr for a malformed object (the
 * model is unchanged), or -ENOMEM. */
int model_apply_json(struct model *m, json_t *obj, enum model_kind kind, bool deleted,
		     struct np_error *reterr);

/* Applies a core/v1 Pod in the API server's protobuf encoding (the Pod message itself, as a
 * PodList's item holds it) as added/modified. Decodes to the same pod as the JSON of the same
 * object. Returns 1 (the model changed), or -EBADMSG (not a Pod message) or -EINVAL (a value
 * the model rejects) with *reterr (the model is unchanged), or -ENOMEM. */
int model_apply_pod_protobuf(struct model *m, const void *buf, size_t len, struct np_error *reterr);

/* Returns the diagnostics collected by loads (owned by m) and their count in *ret_n. */
const struct np_error *model_diagnostics(const struct model *m, size_t *ret_n);

/* Returns the model generation: incremented on every change. */
uint64_t model_generation(const struct model *m);

/* Look-ups; the returned objects are owned by m and valid until it changes. */
const struct model_namespace *model_namespace_get(const struct model *m, const char *name);
const struct model_pod *model_pod_get(const struct model *m, const char *ns, const char *name);
const struct model_policy *model_policy_get(const struct model *m, const char *ns,
					    const char *name);
/* Returns the pod with this IP to which policy applies, or NULL. */
const struct model_pod *model_pod_by_ip(const struct model *m, np_u128 ip);

/* Iteration: fill *ret with an array owned by m (valid until it changes) and return the count. */
size_t model_namespaces(const struct model *m, const struct model_namespace *const **ret);
size_t model_pods(const struct model *m, const struct model_pod *const **ret);
size_t model_policies(const struct model *m, const struct model_policy *const **ret);
size_t model_services(const struct model *m, const struct model_service *const **ret);
size_t model_daemonsets(const struct model *m, const struct model_daemonset *const **ret);
/* Pods in namespace ns (sorted by name). */
size_t model_pods_in_namespace(const struct model *m, const char *ns,
			       const struct model_pod *const **ret);
/* Pods carrying label key=value (any namespace). */
size_t model_pods_with_label(const struct model *m, const char *key, const char *value,
			     const struct model_pod *const **ret);
/* Pods carrying label key with any value (any namespace). */
size_t model_pods_with_key(const struct model *m, const char *key,
			   const struct model_pod *const **ret);
/* Policies in namespace ns (sorted by name). */
size_t model_policies_in_namespace(const struct model *m, const char *ns,
				   const struct model_policy *const **ret);
/* Pods scheduled on node (sorted by namespace/name). */
size_t model_pods_on_node(const struct model *m, const char *node,
			  const struct model_pod *const **ret);

/* Returns the interned copy of s if the model knows the string, else NULL (for comparing
 * user input with interned labels). */
const char *model_string_lookup(const struct model *m, const char *s);

/* Memory held by the model, in bytes (for benchmarks). */
size_t model_memory_usage(const struct model *m);
