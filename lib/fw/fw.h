/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * fw: the readers of the live packet filter of the current network namespace.
 *
 *   fw_read_all()    every source (native nftables incl. iptables-nft, iptables-legacy of both
 *                    families, ipsets) into one IR ruleset
 *   fw_iptc_read()   iptables-legacy via libiptc/libip6tc (raw, mangle, filter, nat)
 *   fw_ipsets_read() ipsets over netlink
 *   fw_route_get()   the output interface of a route lookup, fw_links_read() link names
 *
 * A failed read is an error, never an empty result. Whatever a reader does not understand
 * becomes an opaque IR predicate or action with a readable description.
 */

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

struct ir_ruleset;

/* --- ipsets --- */

enum fw_ipset_kind {
	FW_IPSET_HASH_IP,
	FW_IPSET_HASH_NET,
	FW_IPSET_HASH_IP_PORT,
	FW_IPSET_HASH_NET_PORT,
	FW_IPSET_HASH_NET_IFACE,
	FW_IPSET_BITMAP_PORT,
	FW_IPSET_LIST_SET,
	FW_IPSET_BITMAP_IP,
	FW_IPSET_HASH_NET_NET,
	FW_IPSET_HASH_IP_PORT_IP,
	FW_IPSET_HASH_IP_PORT_NET,
	FW_IPSET_HASH_NET_PORT_NET,
	FW_IPSET_OTHER, /* a type not decoded: references to it are opaque */
};

struct fw_ipset_elem {
	np_u128 lo, hi; /* address range (IPv4 mapped), when has_addr */
	np_u128 lo2, hi2; /* the second address (hash:net,net, hash:ip,port,ip, ...), has_addr2 */
	uint16_t port_lo, port_hi; /* when has_port (ICMP: type << 8 | code) */
	uint8_t proto; /* with a port: IP protocol number */
	bool has_addr, has_port, has_addr2;
	bool nomatch; /* the element excludes (hash:net*) */
	bool physdev; /* hash:net,iface: the name is a bridge port */
	bool iface_wildcard; /* hash:net,iface: the name is a prefix */
	char *iface; /* hash:net,iface */
	char *member; /* list:set: the member set's name */
};

struct fw_ipset {
	char *name;
	char *type; /* "hash:ip", ... as the kernel names it */
	enum fw_ipset_kind kind;
	uint8_t family; /* NFPROTO_IPV4 / NFPROTO_IPV6 (list:set and bitmap:port: NFPROTO_UNSPEC) */
	uint8_t revision;
	uint8_t netmask; /* hash:ip with `netmask`: the prefix stored elements cover; 0 if none */
	uint16_t port_from, port_to; /* bitmap:port range */
	int index; /* the kernel's ip_set_id_t */
	bool has_timeout; /* elements expire: the dump is a snapshot */
	VEC(struct fw_ipset_elem) elems; /* read straight into the IR: list:set members only */
	size_t n_elems; /* elements dumped */
};

struct fw_ipsets {
	struct fw_ipset **sets; /* in dump order */
	size_t n, cap;
	struct hashmap by_name;
	struct fw_ipset **by_index; /* index -> set (NULL holes) */
	size_t n_index;
	uint8_t protocol; /* negotiated ipset netlink protocol */
};

/* Dumps every ipset of the current netns with its elements. Returns 0 and *ret (free with
 * fw_ipsets_free()), or -errno (never an empty result on failure). */
int fw_ipsets_read(struct fw_ipsets **ret);
/* Hashes the ipset dump as the kernel sends it (every set, header and elements) into *ret
 * without decoding it: equal values mean equal ipsets. Returns 0 or -errno. */
int fw_ipsets_fingerprint(uint64_t *ret);
/* Parses IPSET_CMD_LIST reply messages in buf (as received, 4-byte aligned); for tests and
 * fuzzing. Returns 0
 * and *ret, -EBADMSG for malformed input, or -ENOMEM. */
int fw_ipsets_parse_dump(const void *buf, size_t len, struct fw_ipsets **ret);
/* Dumps every ipset of the current netns straight into rs, as fw_ipsets_to_ir() would add
 * fw_ipsets_read()'s result (and records the ipset source info), without keeping the elements
 * twice. Returns 0 and in *ret the sets without their elements but list:set members (names,
 * types, indexes, counts, members: what the xtables decoders need; free with fw_ipsets_free()),
 * or -errno (a failed dump leaves rs unchanged; when adding the sets to rs fails, rs may hold
 * some of them: discard it). */
int fw_ipsets_read_into(struct ir_ruleset *rs, struct fw_ipsets **ret);
/* fw_ipsets_read_into() for a dump in buf, like fw_ipsets_parse_dump(); for tests. */
int fw_ipsets_parse_dump_into(const void *buf, size_t len, struct ir_ruleset *rs,
			      struct fw_ipsets **ret);
/* Returns the set called name (owned by l), or NULL. */
struct fw_ipset *fw_ipsets_find(const struct fw_ipsets *l, const char *name);
/* Resolves a kernel set index to its name (owned by l): 0, or -ENOENT. Usable as
 * fw_xt_set_name_fn with l as userdata. */
int fw_ipsets_name(const struct fw_ipsets *l, uint16_t index, const char **ret_name);
/* The same as an fw_xt_set_name_fn taking the struct fw_ipsets as userdata; the xtables
 * decoders recognise it and also take the sets' types from it (see xt.h). */
int fw_ipsets_xt_name(void *userdata, uint16_t index, const char **ret_name);
/* Frees l; returns NULL. */
struct fw_ipsets *fw_ipsets_free(struct fw_ipsets *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fw_ipsets *, fw_ipsets_free);

/* Adds every set of l to rs as an ipset (keys: hash:ip/net address; hash:ip,port and
 * hash:net,port address . l4proto . port; hash:net,iface address . ifname; bitmap:port
 * l4proto . port (TCP and UDP, as the kernel matches); list:set members by name) and records
 * the ipset source info. Returns 0, -EBADMSG (an element lacks a field of its type), -EEXIST
 * or -ENOMEM. */
int fw_ipsets_to_ir(const struct fw_ipsets *l, struct ir_ruleset *rs);

/* --- iptables-legacy --- */

/* Lists the x_tables tables that exist for family (AF_INET/AF_INET6) in this netns, from
 * /proc/net/ip{,6}_tables_names (never creating one). Returns their number and a
 * NULL-terminated array in *ret (free each string and the array; NULL when the file does not
 * exist, i.e. x_tables is not loaded), or -errno. */
int fw_iptc_tables(int family, char ***ret);
/* Reads the existing iptables-legacy tables (raw, mangle, nat, filter, security) of family
 * AF_INET (libiptc) or AF_INET6 (libip6tc) into rs as IR_SRC_IPTABLES_LEGACY tables. ipsets
 * (may be NULL: set matches become opaque) resolves `set` matches. Appends "ip filter, ..."
 * to note if not NULL. Returns the number of tables read, or -errno (rs may then hold part of
 * a table: discard it). */
int fw_iptc_read(struct ir_ruleset *rs, int family, const struct fw_ipsets *ipsets,
		 struct strbuf *note);

/* The kernel's part of a read ahead: for both families, the tables that exist and a copy of
 * each (what takes the time: the kernel copies every rule with its counters). Another thread
 * may fetch while this one reads the ipsets the translation needs. */
struct fw_iptc_fetched;
/* Returns 0 and *ret (free with fw_iptc_fetched_free(); a table that could not be copied
 * keeps its error for fw_iptc_read_fetched()), or -ENOMEM. */
int fw_iptc_fetch(struct fw_iptc_fetched **ret);
/* Frees f and the copies not read; accepts NULL; returns NULL. */
struct fw_iptc_fetched *fw_iptc_fetched_free(struct fw_iptc_fetched *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fw_iptc_fetched *, fw_iptc_fetched_free);
/* fw_iptc_read() from f's copies of family's tables (taken from f; NULL: fetched here).
 * Returns the same. */
int fw_iptc_read_fetched(struct ir_ruleset *rs, int family, const struct fw_ipsets *ipsets,
			 struct strbuf *note, struct fw_iptc_fetched *f);

/* Returns 0 and in *ret a hash (never 0) of the sources that send no events: the
 * iptables-legacy tables of both families as the kernel hands them out, each rule without its
 * counters, and the ipset dump; equal values mean they did not change (the cheap check of a
 * poll). -errno when a table or the ipsets cannot be read. */
int fw_legacy_fingerprint(uint64_t *ret);

/* --- everything --- */

struct fw_read_opts {
	bool skip_nft, skip_legacy, skip_ipsets;
};

struct fw_read_stats {
	/* CLOCK_MONOTONIC; usec_legacy: the wait for the tables fetched meanwhile and their
	 * translation */
	uint64_t usec_ipsets, usec_nft, usec_legacy, usec_total;
	unsigned nft_attempts; /* full nft dumps (1 when nothing changed meanwhile) */
	unsigned legacy_tables, ipsets;
	size_t ipset_elements;
};

/*
 * Reads the whole live packet filter of the current netns into one new IR ruleset: the ipsets
 * (first, so that `set` matches can name them), native nftables and iptables-nft (fw_nft_read),
 * then iptables-legacy for IPv4 and IPv6. A source that does not exist (no legacy tables, no
 * ipset or nf_tables support) is recorded in the ruleset's source info with a note, not an
 * error. opts and ret_stats may be NULL. Returns 0 and *ret (free with ir_ruleset_free()), or
 * -errno when any read fails (never a partial ruleset).
 */
int fw_read_all(const struct fw_read_opts *opts, struct ir_ruleset **ret,
		struct fw_read_stats *ret_stats);

/* --- routes and links --- */

/* Looks up the route the kernel would use to send to addr (family AF_INET/AF_INET6, addr IPv4
 * mapped as in iset.h), like `ip route get ADDR`. Returns the output ifindex (> 0) and, if
 * ret_ifname is not NULL, its name in *ret_ifname (caller frees); -ENETUNREACH/-EHOSTUNREACH
 * (and the like) when no route, -EINVAL when addr is not of family, or -errno. */
int fw_route_get(int family, np_u128 addr, char **ret_ifname);

struct fw_link {
	int index;
	char *name;
};
struct fw_links;

/* Dumps the links of the current netns. Returns 0 and *ret (free with fw_links_free()), or
 * -errno. */
int fw_links_read(struct fw_links **ret);
/* Returns the name of link index (owned by l), or NULL. */
const char *fw_links_name(const struct fw_links *l, int index);
/* Returns the index of the link called name, or -ENODEV. */
int fw_links_index(const struct fw_links *l, const char *name);
/* Returns the number of links. */
size_t fw_links_count(const struct fw_links *l);
/* Returns link i (0-based, sorted by index; owned by l), or NULL past the end. */
const struct fw_link *fw_links_at(const struct fw_links *l, size_t i);
/* Frees l; returns NULL. */
struct fw_links *fw_links_free(struct fw_links *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fw_links *, fw_links_free);
