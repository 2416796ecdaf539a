/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The routing tables of the current network namespace as a longest-prefix-match table, so the
 * audit can find the interface of thousands of addresses without a netlink round trip each,
 * and so that route prefixes can split the address space into equivalence classes (two
 * addresses on different routes arrive on different interfaces).
 *
 * Read: the unicast, local, blackhole, unreachable and prohibit routes of the main (254) and
 * local (255) tables for IPv4 and IPv6. The kernel's policy routing rules (ip rule) are not
 * evaluated: with rules other than the default three, fw_rtable_has_policy_rules() is true and
 * callers should confirm lookups with fw_route_get().
 */

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

enum fw_route_type {
	FW_ROUTE_UNICAST,
	FW_ROUTE_LOCAL, /* an address of this namespace */
	FW_ROUTE_UNREACHABLE, /* blackhole, unreachable, prohibit */
};

struct fw_route {
	np_u128 lo, hi; /* the prefix as a range (IPv4 mapped) */
	unsigned prefix;
	int family;
	enum fw_route_type type;
	uint32_t table, metric;
	int oif; /* 0 when none (unreachable, or a gateway-only multipath route) */
	char oifname[IFNAMSIZ];
};

struct fw_rtable;

/* Dumps the routes and links of the current netns. Returns 0 and *ret (free with
 * fw_rtable_free()), or -errno. */
int fw_rtable_read(struct fw_rtable **ret);
/* Parses rtnetlink messages (RTM_NEWROUTE, RTM_NEWLINK, RTM_NEWRULE, as dumps send them) from
 * buf. Returns 0 and *ret (free with fw_rtable_free()), or -EBADMSG / -ENOMEM. */
int fw_rtable_parse_dump(const void *buf, size_t len, struct fw_rtable **ret);
/* Frees t; returns NULL. */
struct fw_rtable *fw_rtable_free(struct fw_rtable *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fw_rtable *, fw_rtable_free);
/* Returns the route the kernel picks for addr (local table first, then main; longest prefix,
 * then lowest metric), owned by t, or NULL when nothing routes it. */
const struct fw_route *fw_rtable_lookup(const struct fw_rtable *t, np_u128 addr);
/* Adds every route prefix's first address and the address after its last to cuts (an
 * unnormalised interval set of single points is not needed: callers merge). Returns 0 or
 * -ENOMEM. */
int fw_rtable_cuts(const struct fw_rtable *t, int family, np_u128 **ret, size_t *ret_n);
/* Returns the routes (owned by t) and their number. */
size_t fw_rtable_routes(const struct fw_rtable *t, const struct fw_route **ret);
/* Returns whether policy routing rules beyond the defaults exist. */
bool fw_rtable_has_policy_rules(const struct fw_rtable *t);
/* Adds the local addresses of the namespace (local table) to *ret. Returns 0 or -ENOMEM. */
int fw_rtable_local_addrs(const struct fw_rtable *t, struct np_iset *ret);
/* Returns the index of the link called name, or 0 when there is none. */
int fw_rtable_ifindex(const struct fw_rtable *t, const char *name);
/* Adds a route (for tests: tables built in memory). Returns 0 or -ENOMEM. */
int fw_rtable_add(struct fw_rtable *t, const struct fw_route *r);
/* Adds a link (for tests); returns 0 or -ENOMEM. */
int fw_rtable_add_link(struct fw_rtable *t, int index, const char *name);
/* Returns 0 and a new empty table in *ret, or -ENOMEM. */
int fw_rtable_new(struct fw_rtable **ret);
