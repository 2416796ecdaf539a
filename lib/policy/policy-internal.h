/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "policy.h"

typedef VEC(const struct model_pod *) pod_vec;

static inline void pod_vec_done(pod_vec *v)
{
	VEC_DONE(v);
}

/* The addresses of the pods on which a named port resolves to `port`. */
struct port_group {
	uint16_t port;
	struct np_iset addrs;
};

/* One named port (name, protocol) resolved over a peer's destination pods. */
struct named_groups {
	const char *name;
	uint8_t proto;
	struct port_group *v; /* sorted by port */
	size_t n;
	struct named_groups *next;
};

/* What a peer selects: for selector peers the pods (shared by every peer with the same
 * selectors and scope, so a selector common to many policies is evaluated once), for ipBlock
 * peers only the addresses. */
struct selection {
	struct np_iset addrs; /* canonical */
	pod_vec pods; /* selector peers: the selected pods */
	struct named_groups *named; /* egress named ports resolved over this selection */
	char *key; /* NULL for a peer's own (ipBlock) selection */
};

/* A compiled NetworkPolicyPeer. */
struct cpeer {
	const struct model_peer *mp;
	struct selection *sel; /* shared when sel->key is set, else owned */
};

/* A compiled rule; all_peers when from/to is missing or empty. */
struct crule {
	bool all_peers;
	struct cpeer *peers;
	uint32_t n_peers;
};

/* A compiled policy; rules of directions it does not affect are left empty. */
struct cpolicy {
	const struct model_policy *p;
	uint8_t types; /* effective MODEL_POLICY_TYPE_* */
	bool named[2]; /* some rule of the direction uses a named port */
	struct crule *rules[2];
	uint32_t n_rules[2];
};

struct named_pods {
	pod_vec pods;
};

struct dir_entry {
	char *key;
	struct policy_dir *dir;
};

struct expect_entry {
	struct policy_expect x;
	char key[]; /* "ns/name" */
};

struct policy_engine {
	const struct model *m;
	uint64_t gen;
	struct np_iset all; /* every address */
	struct policy_dir *allow_all[2];
	struct cpolicy **pol; /* by model_policy.id */
	size_t n_pol;
	struct hashmap dirs; /* key -> struct dir_entry */
	struct hashmap expects; /* "ns/name" -> struct expect_entry */
	struct hashmap named_index; /* port name -> struct named_pods */
	bool named_index_built;
	struct named_groups *named_all; /* egress named ports resolved over every pod */
	struct hashmap selections; /* selector key -> struct selection */
	struct hashmap node_addrs; /* node -> struct np_iset of its hostNetwork pods' IPs */
	bool node_addrs_built;
};
