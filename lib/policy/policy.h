/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The NetworkPolicy engine: what the cluster's policies say each pod may send and receive.
 *
 * For a pod and a direction the engine compiles whether the pod is isolated and the exact set
 * of allowed traffic as a canonical set of (peer addresses x protocol x ports): per protocol
 * (TCP, UDP, SCTP) the port space 0-65535 is cut into maximal intervals whose allowed peer
 * address set is the same, adjacent intervals with equal sets are merged, intervals allowing
 * nothing are left out, and each peer set is a normalised np_iset (IPv4 at ::ffff:0:0/96).
 * Two directions with the same behaviour therefore compare equal element by element.
 *
 * Beside the canonical set every direction keeps its terms: the pieces the policies' rules
 * contributed, each naming the policy, rule, peer and port it came from. Terms are not part
 * of equality; they answer "why".
 *
 * The semantics (policyTypes defaulting, empty vs missing fields, named ports, exempt pods)
 * are the Kubernetes networking.k8s.io/v1 ones; docs/semantics.md lists them edge by edge.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

/* The protocols NetworkPolicy speaks of, as indexes into per-protocol arrays. */
enum policy_proto {
	POLICY_TCP,
	POLICY_UDP,
	POLICY_SCTP,
	_POLICY_PROTO_MAX,
};

/* IP protocol numbers by enum policy_proto. */
extern const uint8_t policy_proto_numbers[_POLICY_PROTO_MAX];
/* Returns the enum policy_proto index of an IP protocol number, or -EPROTONOSUPPORT. */
int policy_proto_index(uint8_t proto);

/* Returns the directions p affects (MODEL_POLICY_TYPE_*): spec.policyTypes, or when omitted
 * or empty, Ingress plus Egress iff spec.egress has a rule (the API server's defaulting). */
uint8_t policy_effective_types(const struct model_policy *p);

/* Why NetworkPolicy does not apply to a pod (Kubernetes leaves these pods alone). */
enum policy_exempt {
	POLICY_APPLIES,
	POLICY_EXEMPT_NO_IP,
	POLICY_EXEMPT_HOST_NETWORK,
	POLICY_EXEMPT_TERMINATING,
	POLICY_EXEMPT_FINISHED, /* phase Succeeded or Failed */
};

/* Returns a short phrase for e ("hostNetwork pod", ...); never NULL. */
const char *policy_exempt_reason(enum policy_exempt e);
/* Returns why policy does not apply to p, or POLICY_APPLIES. */
enum policy_exempt policy_pod_exempt(const struct model_pod *p);

/*
 * One piece of allowed traffic as a rule wrote it: the peer addresses `addrs` on protocol
 * `proto`, ports [port_lo, port_hi]. Indexes refer to the policy as written.
 */
struct policy_term {
	const struct model_policy *policy;
	uint32_t rule; /* index in spec.ingress or spec.egress */
	int32_t peer; /* index in from/to; -1 when from/to is missing or empty (all peers) */
	int32_t port; /* index in ports; -1 when ports is missing or empty (all ports) */
	uint8_t proto; /* IP protocol number */
	uint16_t port_lo, port_hi;
	const char *port_name; /* the named port this was resolved from, or NULL */
	const struct np_iset *addrs; /* owned by the engine */
};

/* A maximal port interval of one protocol and the peers allowed on all its ports. */
struct policy_seg {
	uint16_t lo, hi;
	struct np_iset addrs; /* canonical, never empty */
};

/* The compiled behaviour of one pod in one direction. */
struct policy_dir {
	enum np_dir dir;
	bool isolated; /* some policy in the pod's namespace selects it for this direction */
	const struct model_policy **policies; /* those policies, in namespace/name order */
	size_t n_policies;
	struct policy_seg *segs[_POLICY_PROTO_MAX]; /* canonical allowed set */
	size_t n_segs[_POLICY_PROTO_MAX];
	struct policy_term *terms; /* provenance, in policy/rule/peer/port order */
	size_t n_terms;
	/* Ingress of an isolated pod: the addresses of the pod's node, always allowed in (API
	 * reference: "OR if the traffic source is the pod's local node"); part of the allowed
	 * set, with no term. Known from the node's hostNetwork pods. */
	struct np_iset local_node;
};

/* The compiled expectation for one pod. */
struct policy_expect {
	const struct model_pod *pod;
	enum policy_exempt exempt;
	const struct policy_dir
		*dir[2]; /* [NP_INGRESS], [NP_EGRESS]; shared, owned by the engine */
};

struct policy_engine;

/* Returns 0 and a new engine over m in *ret (free with policy_engine_free()), or -ENOMEM.
 * m must outlive the engine. Work is done lazily and cached: policies are compiled when a pod
 * of their namespace is asked for, peer selections once per distinct selector, and pods that
 * are selected by the same policies (and, for ingress, share a node and named-port layout)
 * share one compiled direction. When the model's generation changes,
 * the next call drops every cache (pointers handed out before become invalid). */
int policy_engine_new(const struct model *m, struct policy_engine **ret);
/* Frees e and everything it handed out; returns NULL. */
struct policy_engine *policy_engine_free(struct policy_engine *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct policy_engine *, policy_engine_free);

/* Returns 0 and the expectation for pod p (a pod of e's model) in *ret, owned by e and valid
 * until the model changes; or -ENOMEM. */
int policy_engine_expect(struct policy_engine *e, const struct model_pod *p,
			 const struct policy_expect **ret);
/* Compiles the pods of node (model_pods_on_node() order) into ret[], which must have room for
 * model_pods_on_node(); returns their number, -ENOBUFS if size is too small, or -ENOMEM.
 * Entries are owned by e. */
int policy_engine_expect_node(struct policy_engine *e, const char *node,
			      const struct policy_expect **ret, size_t size);

/* Returns whether d allows traffic with peer address addr, IP protocol proto and port.
 * Protocols other than TCP/UDP/SCTP are outside NetworkPolicy: allowed iff not isolated. */
bool policy_dir_allows(const struct policy_dir *d, np_u128 addr, uint8_t proto, uint16_t port);
/* Returns the number of terms of d that allow (addr, proto, port) and a new array of them in
 * *ret (caller frees the array, not the terms; NULL when 0), or -ENOMEM. */
int policy_dir_why(const struct policy_dir *d, np_u128 addr, uint8_t proto, uint16_t port,
		   const struct policy_term ***ret);
/* Returns whether t allows (addr, proto, port). */
bool policy_term_matches(const struct policy_term *t, np_u128 addr, uint8_t proto, uint16_t port);
/* Returns whether a and b allow exactly the same traffic (isolation and terms not compared). */
bool policy_dir_equal(const struct policy_dir *a, const struct policy_dir *b);
/* Returns whether two expectations allow the same traffic in both directions. */
bool policy_expect_equal(const struct policy_expect *a, const struct policy_expect *b);
/* Returns a 64-bit hash of the canonical allowed set of d (equal sets, equal hashes), to
 * remember an expectation across model changes (which invalidate the engine's pointers). */
uint64_t policy_dir_hash(const struct policy_dir *d);
/* Returns a hash of both directions' allowed sets of x. */
uint64_t policy_expect_hash(const struct policy_expect *x);
/* Appends an address set as minimal CIDRs, IPv4 first ("0.0.0.0/0,::/0" for every address);
 * returns 0 or -ENOMEM. */
int policy_addrs_format(const struct np_iset *s, struct strbuf *out);
/* Appends the canonical allowed set of d, one "PROTO LO-HI CIDR,CIDR..." line per segment;
 * equal behaviour gives equal text. Returns 0 or -ENOMEM. */
int policy_dir_format(const struct policy_dir *d, struct strbuf *out);

/* Returns 0 and in *ret (count in *ret_n) a new sorted array (caller frees) of every address at
 * which membership in some peer set of d can change (each range's lo and hi + 1), all protocols; or
 * -ENOMEM. */
int policy_dir_addr_cuts(const struct policy_dir *d, np_u128 **ret, size_t *ret_n);
/* As policy_dir_addr_cuts() for the ports of protocol index pi (segment lo and hi + 1, which
 * can be 65536). */
int policy_dir_port_cuts(const struct policy_dir *d, enum policy_proto pi, uint32_t **ret,
			 size_t *ret_n);

/* The verdict for one connection between two pods in one address family. */
struct policy_verdict {
	bool allowed; /* egress && ingress */
	bool egress, ingress; /* what the source's egress / the destination's ingress say */
	bool self; /* same pod: always allowed, never leaves its network namespace */
	np_u128 src, dst; /* the addresses used */
	const struct policy_expect *from, *to;
};

/* Evaluates a connection from pod src to pod dst on (proto, port) over address family
 * (AF_INET/AF_INET6): the source's egress must allow (dst address, proto, port) — with egress
 * named ports resolved against dst — and the destination's ingress (src address, proto,
 * port). Returns 0 and *ret, -EADDRNOTAVAIL if a pod has no address of family, or -ENOMEM. */
int policy_engine_reach(struct policy_engine *e, const struct model_pod *src,
			const struct model_pod *dst, int family, uint8_t proto, uint16_t port,
			struct policy_verdict *ret);

/* Returns the address of family in p, or false if it has none. */
bool policy_pod_addr(const struct model_pod *p, int family, np_u128 *ret);
