/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The audit: for every pod on a node, does the live packet filter do what the policies say?
 *
 * For a pod and a direction, every value that can change a verdict on either side is a cut
 * point: the peer address sets and port ranges the policy engine compiled, the addresses,
 * CIDRs, set and ipset elements and ports that the live rules reachable by this pod's packets
 * test (eval_collect_boundaries()), the route prefixes (a peer on another route arrives on
 * another interface), and the addresses of the node's own pods and of the node itself. The
 * cut points split address x port space into classes that no predicate on either side can tell
 * apart, so one representative packet per class decides for the whole class. A class whose
 * expected and live verdicts differ is drift.
 *
 * Three checks: traffic from off-node peers into each local pod, from each local pod to
 * off-node peers, and between every ordered pair of local pods (expected: the source's egress
 * AND the destination's ingress), each through the interfaces the routes give.
 *
 * Findings that differ only in the peer class are merged per pod, direction, protocol and port
 * range; findings have stable ids (same drift, same id across audits).
 */

#include <stdbool.h>
#include <stdint.h>

#include "eval/eval.h"
#include "fw/rtable.h"
#include "policy/policy.h"

enum audit_kind {
	AUDIT_ALLOWED_DRIFT, /* policy denies, the node accepts */
	AUDIT_BLOCKED_DRIFT, /* policy allows, the node drops */
	AUDIT_UNENFORCED, /* isolated, but no live rule drops any of the pod's traffic */
	AUDIT_UNVERIFIABLE, /* the live verdict is unknown (NFQUEUE, opaque rule) */
	AUDIT_NO_ROUTE, /* a pod on this node without a usable route or interface */
	_AUDIT_KIND_MAX,
};

enum audit_severity {
	AUDIT_CRITICAL,
	AUDIT_ERROR,
	AUDIT_WARNING,
	AUDIT_INFO,
};

/* Returns the kind's name ("allowed-drift", ...) / the severity's name ("critical", ...). */
const char *audit_kind_to_string(enum audit_kind k);
const char *audit_severity_to_string(enum audit_severity s);
/* Returns the kind for a name, or -EINVAL. */
int audit_kind_from_string(const char *s);
/* Returns the severity of a kind. */
enum audit_severity audit_kind_severity(enum audit_kind k);

struct audit_packet {
	int family;
	np_u128 src, dst;
	uint8_t proto;
	uint16_t sport, dport;
	char iif[IFNAMSIZ], oif[IFNAMSIZ];
	int iif_index, oif_index; /* 0: look up by name */
};

enum {
	AUDIT_PROTO_TCP = 1 << 0,
	AUDIT_PROTO_UDP = 1 << 1,
	AUDIT_PROTO_SCTP = 1 << 2,
};

struct audit_finding {
	char id[17]; /* 16 hex digits */
	enum audit_kind kind;
	enum audit_severity severity;
	char *pod; /* "ns/name" */
	enum np_dir dir; /* of `pod` */
	char *peer_pod; /* "ns/name" of the other local pod (pair check), else NULL */
	char *iface; /* the pod's host-side interface, or NULL */
	bool expected_allow;
	enum eval_verdict actual;
	struct audit_packet example;
	struct np_iset peers; /* peer addresses covered */
	uint8_t proto; /* 0 for no-route; the example's protocol when several */
	uint8_t protos; /* AUDIT_PROTO_* bits of every protocol covered */
	struct np_iset ports; /* destination ports covered */
	unsigned classes; /* classes merged into this finding */
	VEC(char *) policies; /* "ns/name" of the policies involved */
	char *rule_json; /* the deciding trace entry as JSON (eval_trace_entry_json), or NULL */
	char *rule_text; /* its rendering, or NULL */
	char *reason; /* the evaluator's reason (unverifiable), or NULL */
	char *message; /* one sentence */
};

struct audit_report {
	char *node;
	unsigned pods_audited;
	unsigned long classes_evaluated;
	unsigned long packets_evaluated; /* walks through the rules: classes whose verdict was not
					  * known from another class's path */
	unsigned long walks_shared; /* of those, verdicts taken from a walk of the same batch
				     * without walking (eval_packet_memo()) */
	bool incremental; /* some checks were taken from the cache */
	unsigned long checks_run, checks_reused;
	double duration_ms;
	VEC(struct audit_finding *) findings; /* sorted by pod, kind, direction, id */
	VEC(char *) notes; /* what limits the audit (policy routing, ...) */
};

/* Everything the audit reads; nothing is owned. */
struct audit_env {
	const struct model *model;
	struct policy_engine *engine; /* over model */
	const char *node;
	const struct eval_ctx *eval; /* the live ruleset, prepared */
	const struct fw_rtable *routes; /* the namespace's routes */
};

/*
 * What an audit keeps for the next one: the classes each check (one local pod's off-node
 * traffic in one direction, one ordered pair of local pods) found, the drops it saw, and a hash
 * of each pod's compiled expectation. An audit given a cache fills it; an incremental audit
 * given a cache from an audit with the same local pods, addresses, interfaces and routes
 * re-runs only the checks of the pods whose interface is among the changed ones or whose
 * expectation changed (their off-node traffic and every pair with them) and takes the other
 * checks' classes from the cache, so its findings are the ones a full audit would give (an
 * example packet may name a peer pod that has gone since). Otherwise everything is run (and
 * cached).
 */
struct audit_cache;

/* Returns a new, empty cache (free with audit_cache_free()), or NULL on OOM. */
struct audit_cache *audit_cache_new(void);
/* Frees c (accepts NULL); returns NULL. */
struct audit_cache *audit_cache_free(struct audit_cache *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct audit_cache *, audit_cache_free);

struct audit_options {
	const char *pod; /* "ns/name": audit only this pod (its checks and its pairs), or NULL */
	bool skip_pairs; /* leave the local pair check out */
	struct audit_cache *cache; /* filled (not with pod or skip_pairs); read when incremental */
	bool incremental; /* only the checks of changed pods run, if the cache allows */
	const char *const *changed_ifaces;
	size_t n_changed_ifaces;
	/* Threads for the checks: 0 for one per CPU the process may run on and its cgroup's CPU
	 * quota allows (one when the node has fewer than 16 pods, or fewer than 4 pods' checks
	 * run), at most AUDIT_THREADS_MAX. The report is the same for any. */
	unsigned threads;
	bool full_walks; /* walk every class in full, sharing no walk: the same report (tests and
			  * benchmarks compare the two) */
};

#define AUDIT_THREADS_MAX 16

/* Returns the CPUs the cgroup v2 quota allows the process whose cgroup file (/proc/self/cgroup)
 * is proc_cgroup, under the cgroup2 mount root: "QUOTA PERIOD" of cpu.max in its cgroup and in
 * each one above it, the smallest, rounded up, at most AUDIT_THREADS_MAX; 0 when none is set
 * or none can be read. */
unsigned audit_cgroup_cpus(const char *proc_cgroup, const char *root);

/* Runs the audit. Returns 0 and a new report in *ret (free with audit_report_free()), -ENOENT
 * when opts->pod is not a pod of env->node, or -ENOMEM. */
int audit_run(const struct audit_env *env, const struct audit_options *opts,
	      struct audit_report **ret);
/* Frees r; returns NULL. */
struct audit_report *audit_report_free(struct audit_report *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct audit_report *, audit_report_free);

/* Appends r as JSON: {"node","pods_audited","classes_evaluated","duration_ms","findings":[...]}.
 * Returns 0 or -ENOMEM. */
int audit_report_json(const struct audit_report *r, struct strbuf *out);
/* Appends one finding as a JSON object. Returns 0 or -ENOMEM. */
int audit_finding_json(const struct audit_finding *f, struct strbuf *out);
/* Appends a human diagnosis of r, grouped by pod. Returns 0 or -ENOMEM. */
int audit_report_text(const struct audit_report *r, struct strbuf *out);
/* Frees f; returns NULL. */
struct audit_finding *audit_finding_free(struct audit_finding *f);
