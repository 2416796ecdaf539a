/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The one rule language every netfilter source is read into.
 *
 *   ruleset ─┬─ tables (source × family × name) ─┬─ chains ── rules ── predicates, statements,
 *            │                                   │                     final verdict
 *            │                                   └─ named sets and maps (nft, incl. anonymous)
 *            └─ ipsets (global per network namespace, their own namespace of names)
 *
 * A rule is: a conjunction of predicates, a list of statements and a final verdict. Statements
 * keep their place among the predicates (struct ir_stmt.after), because nftables executes
 * expressions in order: `meta mark set 1 ip saddr 10.0.0.1 accept` sets the mark even when the
 * address does not match. Readers simply add predicates and statements in expression order.
 *
 * Numbers and addresses are np_iset values (lib/util/iset.h): IPv4 addresses live at
 * ::ffff:0:0/96, so one value space holds both families. Anything a reader does not
 * understand becomes an opaque predicate or statement carrying its raw description; a verdict
 * that depends on one is UNKNOWN to the evaluator.
 *
 * Ownership: the ruleset owns its tables and ipsets, a table its chains and sets, a chain its
 * rules, a rule its predicates and statements. Every string is a private copy. Readers pack
 * each rule into one allocation (ir_chain_append_packed()), let a rule that repeats another
 * share the body of a template its table keeps (ir_chain_append_shared()), and keep a set's
 * element keys in the set's pool: the IR is read-only outside the ir_* functions. Back pointers
 * (rule->chain, chain->table, table->ruleset, set->table) are set when an object is added.
 * References by name (jump targets, set lookups, list:set members) are resolved into pointers
 * by ir_ruleset_link(), which the evaluator calls; readers may leave them unresolved.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

enum ir_source {
	IR_SRC_NFT, /* native nftables (tables not owned by iptables-nft) */
	IR_SRC_IPTABLES_NFT, /* nftables tables written by iptables-nft (xtables compat) */
	IR_SRC_IPTABLES_LEGACY, /* x_tables via libiptc / libip6tc */
	_IR_SRC_MAX,
};

/* Values are the kernel's NFPROTO_* numbers, so readers may cast. */
enum ir_family {
	IR_FAMILY_INET = 1,
	IR_FAMILY_IP = 2,
	IR_FAMILY_ARP = 3,
	IR_FAMILY_NETDEV = 5,
	IR_FAMILY_BRIDGE = 7,
	IR_FAMILY_IP6 = 10,
};

/* Values 0..4 are the kernel's NF_INET_* hook numbers. IR_HOOK_NONE: a regular chain. */
enum ir_hook {
	IR_HOOK_PREROUTING = 0,
	IR_HOOK_INPUT = 1,
	IR_HOOK_FORWARD = 2,
	IR_HOOK_OUTPUT = 3,
	IR_HOOK_POSTROUTING = 4,
	IR_HOOK_INGRESS = 5, /* netdev/inet ingress */
	IR_HOOK_EGRESS = 6, /* netdev egress */
	IR_HOOK_NONE = 7,
	_IR_HOOK_MAX,
};

enum ir_chain_type {
	IR_CHAIN_FILTER,
	IR_CHAIN_NAT,
	IR_CHAIN_ROUTE, /* also iptables mangle OUTPUT */
	_IR_CHAIN_TYPE_MAX,
};

/* Standard priorities (nftables' named priorities; iptables tables register at these). */
enum {
	IR_PRIO_RAW = -300,
	IR_PRIO_CONNTRACK = -200,
	IR_PRIO_MANGLE = -150,
	IR_PRIO_DSTNAT = -100,
	IR_PRIO_FILTER = 0,
	IR_PRIO_SECURITY = 50,
	IR_PRIO_SRCNAT = 100,
};

enum ir_verdict_kind {
	IR_VERDICT_CONTINUE, /* no verdict: the next rule */
	IR_VERDICT_ACCEPT,
	IR_VERDICT_DROP,
	IR_VERDICT_REJECT, /* a drop for the packet's fate */
	IR_VERDICT_JUMP,
	IR_VERDICT_GOTO,
	IR_VERDICT_RETURN,
	IR_VERDICT_QUEUE, /* NFQUEUE: decided by a userspace program */
	_IR_VERDICT_MAX,
};

/*
 * Packet fields a predicate can test. Numeric fields take np_iset values, interface names take
 * ir_ifname patterns. Append new fields at the end (before _IR_FIELD_MAX); never renumber.
 */
enum ir_field {
	IR_FIELD_NONE,
	IR_FIELD_NFPROTO, /* NFPROTO_IPV4 (2) / NFPROTO_IPV6 (10) */
	IR_FIELD_SADDR, /* mapped address space, see iset.h */
	IR_FIELD_DADDR,
	IR_FIELD_L4PROTO, /* IPPROTO_* of the transport header */
	IR_FIELD_SPORT, /* tcp/udp/sctp/udplite/dccp; absent for other protocols */
	IR_FIELD_DPORT,
	IR_FIELD_ICMP_TYPE, /* icmp or icmpv6 type, by the packet's l4proto */
	IR_FIELD_ICMP_CODE,
	IR_FIELD_IIFNAME, /* interface names: ifnames patterns */
	IR_FIELD_OIFNAME,
	IR_FIELD_IIF, /* interface index (readers resolve to names when they can) */
	IR_FIELD_OIF,
	IR_FIELD_CT_STATE, /* bitmask of IR_CT_* (use IR_PRED_BITS) */
	IR_FIELD_CT_DIRECTION, /* 0 original, 1 reply */
	IR_FIELD_CT_MARK,
	IR_FIELD_META_MARK,
	IR_FIELD_PKTTYPE, /* PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3 */
	IR_FIELD_SADDR_TYPE, /* RTN_* route type of the source address (addrtype, fib) */
	IR_FIELD_DADDR_TYPE,
	IR_FIELD_PHYSDEV_IN, /* bridge port names; "" when the packet was not bridged */
	IR_FIELD_PHYSDEV_OUT,
	IR_FIELD_PHYSDEV_BRIDGED, /* 1 when the packet is bridged, else 0 */
	IR_FIELD_TCP_FLAGS, /* tcp flags byte (use a mask: (flags & mask) in values) */
	IR_FIELD_CT_STATUS, /* IPS_* bitmask (use IR_PRED_BITS) */
	IR_FIELD_RPF_OK, /* 1 when a reverse-path lookup of saddr leads to iif (rpfilter) */
	IR_FIELD_SKUID, /* socket owner (output path) */
	IR_FIELD_SKGID,
	IR_FIELD_IIFTYPE, /* ARPHRD_* */
	IR_FIELD_OIFTYPE,
	IR_FIELD_LENGTH, /* packet length */
	IR_FIELD_DSCP,
	_IR_FIELD_MAX,
};

/* Connection tracking state bits: the kernel's NF_CT_STATE_* values (nft `ct state`, xt_state,
 * xt_conntrack --ctstate); IR_CT_SNAT/DNAT are xt_conntrack's virtual states. */
enum {
	IR_CT_INVALID = 1 << 0,
	IR_CT_ESTABLISHED = 1 << 1,
	IR_CT_RELATED = 1 << 2,
	IR_CT_NEW = 1 << 3,
	IR_CT_UNTRACKED = 1 << 6,
	IR_CT_SNAT = 1 << 8,
	IR_CT_DNAT = 1 << 9,
};

/* Longest concatenation (nft `a . b . c`, ipset hash:net,port,net) a set key may have. */
#define IR_KEY_MAX 8

/* An interface name pattern: exact, or a prefix for iptables `veth+` and nftables `cali*`. */
struct ir_ifname {
	char *name; /* without the wildcard character */
	bool prefix;
};

/*
 * A reference to a set by name with the packet fields forming its key, in key order. For an
 * ipset (xt_set) the fields follow the match's directions, a port dimension adding
 * IR_FIELD_L4PROTO before the port as ipset keys hold the protocol; a set uses the first nkey
 * fields it has (list:set members may have fewer). ipset port fields of ICMP packets read as
 * type << 8 | code, of protocols without ports as 0.
 */
struct ir_setref {
	enum ir_field key[IR_KEY_MAX];
	unsigned nkey;
	char *name; /* set name in the rule's table, or the ipset name */
	bool ipset; /* name is in the ruleset's ipset namespace (xt_set) */
	struct ir_set *set; /* resolved by ir_ruleset_link(); NULL while unresolved */
};

enum ir_pred_kind {
	IR_PRED_MATCH, /* field ∈ values (numeric; optionally (field & mask) ∈ values) or
			* field matches one of ifnames (interface fields) */
	IR_PRED_BITS, /* (field & bits) != 0: ct state, ct status */
	IR_PRED_LOOKUP, /* key tuple ∈ set */
	IR_PRED_OPAQUE, /* not understood: matches UNKNOWN; text says what it was */
	_IR_PRED_MAX,
};

struct ir_pred {
	enum ir_pred_kind kind;
	bool negate;
	enum ir_field field; /* MATCH, BITS */

	/* MATCH */
	bool masked;
	uint32_t mask;
	struct np_iset values;
	VEC(struct ir_ifname) ifnames;

	/* BITS */
	uint32_t bits;

	/* LOOKUP */
	struct ir_setref ref;

	/* OPAQUE (mandatory), or an optional reader's description of any predicate */
	char *text;
};

enum ir_nat_kind {
	IR_NAT_SNAT,
	IR_NAT_DNAT,
	IR_NAT_MASQUERADE,
	IR_NAT_REDIRECT,
	_IR_NAT_MAX,
};

enum ir_stmt_kind {
	IR_STMT_MARK, /* dst = (dst & ~clear) ^ (src & src_mask) ^ xor; src NONE means 0 */
	IR_STMT_VMAP, /* verdict map: key tuple → element verdict; no element: the rule
		       * stops here without effect (nft NFT_BREAK) */
	IR_STMT_NAT, /* snat/dnat/masquerade/redirect: ends the base chain like accept */
	IR_STMT_LOG, /* no effect on the verdict */
	IR_STMT_COUNTER, /* no effect on the verdict */
	IR_STMT_LIMIT, /* rate limit: treated as matching (noted in traces) */
	IR_STMT_NOTRACK, /* untracked for later chains (effective before conntrack only) */
	IR_STMT_NOTE, /* known to have no effect on filtering (text says what) */
	IR_STMT_OPAQUE, /* not understood: reaching it makes the verdict UNKNOWN */
	_IR_STMT_MAX,
};

struct ir_stmt {
	enum ir_stmt_kind kind;
	unsigned after; /* runs after this many of the rule's predicates matched
			 * (ir_rule_add_stmt() sets it to the number added so far) */

	/* MARK: dst and src are IR_FIELD_META_MARK or IR_FIELD_CT_MARK (src may be NONE).
	 * xtables MARK --set-xmark v/m: clear = m, xor = v. CONNMARK --restore-mark: dst meta,
	 * src ct, clear = nfmask, src_mask = ctmask. nft `meta mark set mark or 0x10`: clear =
	 * 0x10, xor = 0x10. */
	enum ir_field mark_dst, mark_src;
	uint32_t mark_clear, mark_src_mask, mark_xor;

	/* VMAP */
	struct ir_setref ref;

	/* NAT: the translation when known (has_addr/has_port), inclusive ranges */
	enum ir_nat_kind nat;
	bool nat_has_addr, nat_has_port;
	np_u128 nat_addr_lo, nat_addr_hi;
	uint16_t nat_port_lo, nat_port_hi;

	/* LOG prefix, LIMIT rate, NOTE/OPAQUE description, NAT rendering; optional except OPAQUE */
	char *text;
};

struct ir_verdict {
	enum ir_verdict_kind kind;
	char *chain; /* JUMP/GOTO: target chain name in the same table */
	struct ir_chain *target; /* resolved by ir_ruleset_link() */
	uint16_t queue_num; /* QUEUE: first queue */
	uint16_t queue_last; /* QUEUE: last queue of a balance range (= queue_num if none) */
	bool queue_bypass; /* QUEUE: accept when no program listens */
	bool queue_fanout;
};

struct ir_rule {
	struct ir_chain *chain; /* set by ir_chain_append() */
	unsigned position; /* 1-based index in the chain, set by ir_chain_append() */
	uint64_t handle; /* nft handle; 0 for iptables-legacy (the position identifies it) */
	char *comment;
	char *text; /* a reader's rendering (e.g. iptables-save form), else ir_rule_text() fills
		     * it with the nft-like rendering on first use */
	VEC(struct ir_pred) preds;
	VEC(struct ir_stmt) stmts;
	struct ir_verdict verdict;
	unsigned id; /* ir_ruleset_link(): dense number over the ruleset */
	/* Made by ir_chain_append_packed(): the arrays, value sets and strings above (all but
	 * text) live in the rule's own allocation. Read it like any rule; change it only through
	 * the ir_rule_* functions, which give it separate allocations first (ir_rule_unpack()). */
	bool packed;
	/* Made by ir_chain_append_shared(): packed, and its predicates, statements and verdict are
	 * those of a template its table keeps (only the rule, its comment and text are its own;
	 * ir_ruleset_link() resolving its references writes the same into the template). */
	bool shared;
	uint32_t packed_size; /* bytes of the packed allocation (internal) */
};

struct ir_chain {
	struct ir_table *table; /* set when added */
	char *name;
	bool base;
	enum ir_chain_type type; /* base chains */
	enum ir_hook hook; /* IR_HOOK_NONE for regular chains */
	int priority;
	enum ir_verdict_kind policy; /* IR_VERDICT_ACCEPT or IR_VERDICT_DROP (base chains) */
	char *device; /* netdev / ingress chains */
	VEC(struct ir_rule *) rules;
	unsigned id; /* ir_ruleset_link(): dense number over the ruleset */
};

enum ir_keytype {
	IR_KEY_ADDR, /* address (mapped space) */
	IR_KEY_NUM, /* port, protocol, mark, any number */
	IR_KEY_IFNAME, /* interface name */
	_IR_KEY_MAX,
};

enum {
	IR_SET_INTERVAL = 1 << 0, /* elements are ranges */
	IR_SET_MAP = 1 << 1, /* elements carry data */
	IR_SET_VMAP = 1 << 2, /* elements carry verdicts */
	IR_SET_TIMEOUT = 1 << 3, /* timeouts (ignored for matching) */
	IR_SET_CONSTANT = 1 << 4,
	IR_SET_ANONYMOUS = 1 << 5, /* nft anonymous set ({ ... } in a rule) */
	IR_SET_DYNAMIC = 1 << 6, /* updated from the packet path */
	IR_SET_LIST = 1 << 7, /* ipset list:set: the union of its members */
};

/* One field of an element: [lo, hi] for addresses and numbers (lo == hi for an exact value),
 * or an interface name pattern. */
struct ir_key_part {
	np_u128 lo, hi;
	char *ifname;
	bool prefix;
};

struct ir_set_elem {
	np_u128 data; /* IR_SET_MAP (first: no padding, 64 bytes in all) */
	struct ir_key_part *key; /* set->nkey parts */
	struct ir_verdict verdict; /* IR_SET_VMAP */
	bool nomatch; /* ipset nomatch: excluded (the most specific entry decides) */
};

struct ir_set {
	struct ir_table *table; /* NULL for ipsets */
	char *name;
	char *type; /* for display: ipset type "hash:net,port", nft "ipv4_addr . inet_service" */
	enum ir_keytype keytype[IR_KEY_MAX];
	unsigned nkey;
	int family; /* AF_INET, AF_INET6, or AF_UNSPEC */
	unsigned flags; /* IR_SET_* */
	VEC(struct ir_set_elem) elems;
	VEC(char *) members; /* IR_SET_LIST: member ipset names, in order */
	VEC(struct ir_set *) member_sets; /* resolved by ir_ruleset_link() */
	unsigned id; /* ir_ruleset_link(): dense number over the ruleset */
	struct ir_set_pool *pool; /* the elements' keys, interface names and verdict chains (owned
				   * by the set: never free them one by one) */
};

struct ir_table {
	struct ir_ruleset *ruleset; /* set when added */
	enum ir_source source;
	enum ir_family family;
	char *name;
	VEC(struct ir_chain *) chains;
	VEC(struct ir_set *) sets;
	struct hashmap chain_by_name, set_by_name;
	VEC(struct ir_rule *) templates; /* rule bodies shared by rules of this table (internal) */
};

/* What the readers say about each source: read or not, and why (e.g. "module not loaded"). */
struct ir_source_info {
	bool read;
	char *note;
};

struct ir_ruleset {
	VEC(struct ir_table *) tables; /* all sources, in reading order */
	VEC(struct ir_set *) ipsets;
	struct hashmap ipset_by_name;
	struct ir_source_info sources[_IR_SRC_MAX];
	struct ir_source_info ipset_info;
	/* ir_ruleset_link() */
	unsigned n_rules, n_chains, n_sets; /* id ranges */
	unsigned unresolved; /* references left unresolved */
	bool linked;
};

/* --- names (stable strings for text and JSON output) --- */

/* Each returns a static string, or "?" for a value out of range. */
const char *ir_source_to_string(enum ir_source s);
const char *ir_family_to_string(enum ir_family f);
const char *ir_hook_to_string(enum ir_hook h);
const char *ir_chain_type_to_string(enum ir_chain_type t);
const char *ir_verdict_kind_to_string(enum ir_verdict_kind v);
const char *ir_field_to_string(enum ir_field f);
const char *ir_pred_kind_to_string(enum ir_pred_kind k);
const char *ir_stmt_kind_to_string(enum ir_stmt_kind k);
const char *ir_nat_kind_to_string(enum ir_nat_kind k);
/* Each returns the value named by s (as the _to_string functions spell it), or -EINVAL. */
int ir_source_from_string(const char *s);
int ir_family_from_string(const char *s);
int ir_hook_from_string(const char *s);
int ir_chain_type_from_string(const char *s);
/* Returns the key type a field is compared as (IR_KEY_ADDR/NUM/IFNAME). */
enum ir_keytype ir_field_keytype(enum ir_field f);

/* --- ruleset --- */

/* Returns 0 and a new empty ruleset in *ret (free with ir_ruleset_free()), or -ENOMEM. */
int ir_ruleset_new(struct ir_ruleset **ret);
/* Frees rs and everything it owns; accepts NULL; returns NULL. */
struct ir_ruleset *ir_ruleset_free(struct ir_ruleset *rs);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct ir_ruleset *, ir_ruleset_free);
/* Adds *t to rs; takes ownership even on failure (*t is NULL after). Returns 0, -EEXIST if a
 * table with the same source, family and name exists, or -ENOMEM. */
int ir_ruleset_add_table(struct ir_ruleset *rs, struct ir_table **t);
/* Creates a table in rs; returns 0 and the table (owned by rs) in *ret, -EEXIST or -ENOMEM. */
int ir_ruleset_new_table(struct ir_ruleset *rs, enum ir_source source, enum ir_family family,
			 const char *name, struct ir_table **ret);
/* Returns the table (owned by rs) or NULL. */
struct ir_table *ir_ruleset_find_table(const struct ir_ruleset *rs, enum ir_source source,
				       enum ir_family family, const char *name);
/* Adds ipset *s to rs; takes ownership even on failure. Returns 0, -EEXIST or -ENOMEM. */
int ir_ruleset_add_ipset(struct ir_ruleset *rs, struct ir_set **s);
/* Returns the ipset named name (owned by rs) or NULL. */
struct ir_set *ir_ruleset_find_ipset(const struct ir_ruleset *rs, const char *name);
/* Records whether a source was read and a note (copied; may be NULL); returns 0 or -ENOMEM.
 * source may be _IR_SRC_MAX for the ipsets. */
int ir_ruleset_set_source_info(struct ir_ruleset *rs, enum ir_source source, bool read,
			       const char *note);
/*
 * Resolves every reference by name (jump/goto targets, set lookups and verdict maps, list:set
 * members) into pointers and numbers rules, chains and sets densely (the id fields). Safe to
 * call again after changes. Unresolved references stay NULL (the evaluator treats reaching one
 * as UNKNOWN). Returns the number of unresolved references (>= 0).
 */
int ir_ruleset_link(struct ir_ruleset *rs);

/* --- tables --- */

/* Returns 0 and a new table in *ret (free with ir_table_free()), or -ENOMEM. */
int ir_table_new(enum ir_source source, enum ir_family family, const char *name,
		 struct ir_table **ret);
/* Frees t, its chains and sets; accepts NULL; returns NULL. */
struct ir_table *ir_table_free(struct ir_table *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct ir_table *, ir_table_free);
/* Adds *c to t; takes ownership even on failure. Returns 0, -EEXIST (same name) or -ENOMEM. */
int ir_table_add_chain(struct ir_table *t, struct ir_chain **c);
/* Creates a regular chain in t; returns 0 and the chain (owned by t) in *ret, -EEXIST, -ENOMEM. */
int ir_table_new_chain(struct ir_table *t, const char *name, struct ir_chain **ret);
/* Returns the chain named name (owned by t) or NULL. */
struct ir_chain *ir_table_find_chain(const struct ir_table *t, const char *name);
/* Adds *s to t; takes ownership even on failure. Returns 0, -EEXIST or -ENOMEM. */
int ir_table_add_set(struct ir_table *t, struct ir_set **s);
/* Returns the set named name (owned by t) or NULL. */
struct ir_set *ir_table_find_set(const struct ir_table *t, const char *name);

/* --- chains --- */

/* Returns 0 and a new regular chain in *ret (free with ir_chain_free()), or -ENOMEM. */
int ir_chain_new(const char *name, struct ir_chain **ret);
/* Returns 0 and a new base chain in *ret (free with ir_chain_free()), or -ENOMEM.
 * policy: IR_VERDICT_ACCEPT or IR_VERDICT_DROP. */
int ir_chain_new_base(const char *name, enum ir_chain_type type, enum ir_hook hook, int priority,
		      enum ir_verdict_kind policy, struct ir_chain **ret);
/* Makes c a base chain; device may be NULL. Returns 0 or -ENOMEM. */
int ir_chain_set_base(struct ir_chain *c, enum ir_chain_type type, enum ir_hook hook, int priority,
		      enum ir_verdict_kind policy, const char *device);
/* Frees c and its rules; accepts NULL; returns NULL. */
struct ir_chain *ir_chain_free(struct ir_chain *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct ir_chain *, ir_chain_free);
/* Appends *rule to c and sets its chain and position; takes ownership even on failure (*rule
 * is NULL after). Returns 0 or -ENOMEM. */
int ir_chain_append(struct ir_chain *c, struct ir_rule **rule);
/*
 * Appends to c a copy of *scratch made in one allocation: its predicates, statements, value
 * sets and strings are packed behind the rule (its text, if any, is moved). *scratch is then
 * emptied as by ir_rule_clear(), keeping its arrays for the next rule: readers build every rule
 * in one scratch rule and append it this way. Returns 0, -EINVAL (*scratch is packed itself) or
 * -ENOMEM (*scratch unchanged).
 */
int ir_chain_append_packed(struct ir_chain *c, struct ir_rule *scratch);
/* Appends to c a packed copy of src (any rule, unchanged; its text is not copied) with comment
 * (copied; NULL for none) and handle in place of its own. Returns 0 or -ENOMEM. */
int ir_chain_append_copy(struct ir_chain *c, const struct ir_rule *src, const char *comment,
			 uint64_t handle);
/* Keeps in t a packed copy of src (its comment and handle included, not its text) as a
 * template whose body rules of t may share. Returns 0 and the template (owned by t, freed with
 * it) in *ret, or -ENOMEM. */
int ir_table_add_template(struct ir_table *t, const struct ir_rule *src, struct ir_rule **ret);
/* Moves the contents of *scratch (not packed) into a new template of t, its arrays allocated
 * to their size; *scratch is left empty, keeping its arrays for the next rule. Returns 0 and the
 * template (owned by t) in *ret, -EINVAL or -ENOMEM (*scratch unchanged). */
int ir_table_take_template(struct ir_table *t, struct ir_rule *scratch, struct ir_rule **ret);
/*
 * Appends to c a rule whose predicates, statements and verdict are those of tmpl, a template of
 * c's table (ir_table_add_template(), ir_table_take_template()), with comment (copied; NULL for
 * none) and handle of its own: one small allocation for a rule that repeats another. Returns 0,
 * -EINVAL (tmpl is not a template: in a chain, or shared itself) or -ENOMEM.
 */
int ir_chain_append_shared(struct ir_chain *c, const struct ir_rule *tmpl, const char *comment,
			   uint64_t handle);

/* --- rules --- */

/* Returns 0 and a new empty rule (no predicates, verdict CONTINUE) in *ret, or -ENOMEM. */
int ir_rule_new(struct ir_rule **ret);
/* Frees r; accepts NULL; returns NULL. */
struct ir_rule *ir_rule_free(struct ir_rule *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct ir_rule *, ir_rule_free);
/* Empties r (predicates, statements, verdict, comment, text, handle), keeping the capacity of
 * its arrays; r must not be packed. */
void ir_rule_clear(struct ir_rule *r);
/* Gives a packed rule's contents allocations of their own, so that they can be changed in
 * place (the ir_rule_* functions do this themselves). Returns 0 (also when r is not packed) or
 * -ENOMEM (r unchanged). */
int ir_rule_unpack(struct ir_rule *r);
/* Returns 0 and in *ret a packed copy of src (free with ir_rule_free(); in no chain, without
 * text) with comment (copied; NULL for none) and handle in place of src's, or -ENOMEM. Readers
 * keep such copies as templates of rules that repeat (see ir_chain_append_copy()). */
int ir_rule_pack(const struct ir_rule *src, const char *comment, uint64_t handle,
		 struct ir_rule **ret);
/* Sets the comment / the reader's rendering (copied; NULL clears). Returns 0 or -ENOMEM. */
int ir_rule_set_comment(struct ir_rule *r, const char *comment);
int ir_rule_set_text(struct ir_rule *r, const char *text);

/* Appends *p to r, moving its contents (p is zeroed, also on failure, when its contents are
 * freed). Returns 0 or -ENOMEM. */
int ir_rule_add_pred(struct ir_rule *r, struct ir_pred *p);
/* field ∈ *values (moved out of *values, also on failure). Returns 0 or -ENOMEM. */
int ir_rule_add_match(struct ir_rule *r, enum ir_field field, bool negate, struct np_iset *values);
/* (field & mask) ∈ *values (moved). Returns 0 or -ENOMEM. */
int ir_rule_add_match_masked(struct ir_rule *r, enum ir_field field, uint32_t mask, bool negate,
			     struct np_iset *values);
/* field ∈ [lo, hi]. Returns 0 or -ENOMEM. */
int ir_rule_add_match_range(struct ir_rule *r, enum ir_field field, bool negate, np_u128 lo,
			    np_u128 hi);
/* Interface field matches the pattern ("eth0", "veth+" or "cali*" for a prefix). Returns 0 or
 * -ENOMEM. */
int ir_rule_add_ifname(struct ir_rule *r, enum ir_field field, bool negate, const char *pattern);
/* Interface field matches one of n patterns. Returns 0 or -ENOMEM. */
int ir_rule_add_ifnames(struct ir_rule *r, enum ir_field field, bool negate,
			const char *const *patterns, size_t n);
/* (field & bits) != 0, e.g. IR_FIELD_CT_STATE with IR_CT_ESTABLISHED|IR_CT_RELATED. Returns 0
 * or -ENOMEM. */
int ir_rule_add_bits(struct ir_rule *r, enum ir_field field, uint32_t bits, bool negate);
/* (key[0] . key[1] ...) ∈ the set named set_name (in the rule's table, or an ipset). Returns 0,
 * -EINVAL (nkey 0 or > IR_KEY_MAX) or -ENOMEM. */
int ir_rule_add_lookup(struct ir_rule *r, const enum ir_field *key, unsigned nkey,
		       const char *set_name, bool ipset, bool negate);
/* An opaque predicate with a printf-formatted description. Returns 0 or -ENOMEM. */
int ir_rule_add_opaque(struct ir_rule *r, const char *fmt, ...) _printf_(2, 3);

/* Appends *s to r after the predicates added so far (sets s->after), moving its contents (s is
 * zeroed, also on failure). Returns 0 or -ENOMEM. */
int ir_rule_add_stmt(struct ir_rule *r, struct ir_stmt *s);
/* dst = (dst & ~clear) ^ xor (dst: IR_FIELD_META_MARK or IR_FIELD_CT_MARK). Returns 0 or
 * -ENOMEM. */
int ir_rule_add_mark(struct ir_rule *r, enum ir_field dst, uint32_t clear, uint32_t xor);
/* dst = (dst & ~clear) ^ (src & src_mask) ^ xor. Returns 0 or -ENOMEM. */
int ir_rule_add_mark_copy(struct ir_rule *r, enum ir_field dst, enum ir_field src,
			  uint32_t src_mask, uint32_t clear, uint32_t xor);
/* Verdict map lookup of the key tuple in the map named set_name. Returns 0, -EINVAL, -ENOMEM. */
int ir_rule_add_vmap(struct ir_rule *r, const enum ir_field *key, unsigned nkey,
		     const char *set_name, bool ipset);
/* A NAT statement with an optional rendering (text may be NULL). Returns 0 or -ENOMEM. */
int ir_rule_add_nat(struct ir_rule *r, enum ir_nat_kind kind, const char *text);
/* A LOG/COUNTER/LIMIT/NOTRACK/NOTE/OPAQUE statement with a printf-formatted text. Returns 0,
 * -EINVAL (another kind) or -ENOMEM. */
int ir_rule_add_note(struct ir_rule *r, enum ir_stmt_kind kind, const char *fmt, ...)
	_printf_(3, 4);
/* Sets the final verdict; chain (copied) for JUMP/GOTO, else NULL. Returns 0, -EINVAL (JUMP or
 * GOTO without chain) or -ENOMEM. */
int ir_rule_set_verdict(struct ir_rule *r, enum ir_verdict_kind kind, const char *chain);
/* Sets the final verdict to QUEUE num..last (last < num means num). Returns 0. */
int ir_rule_set_queue(struct ir_rule *r, uint16_t num, uint16_t last, bool bypass, bool fanout);
/* Returns whether r has an opaque predicate or statement. */
bool ir_rule_is_opaque(const struct ir_rule *r);

/* Free the contents of a predicate / statement / verdict and zero it; accept zeroed input. */
void ir_pred_done(struct ir_pred *p);
void ir_stmt_done(struct ir_stmt *s);
void ir_verdict_done(struct ir_verdict *v);
/* Copies src into *ret (deep); returns 0 or -ENOMEM (*ret zeroed then). */
int ir_verdict_copy(const struct ir_verdict *src, struct ir_verdict *ret);

/* --- sets --- */

/* Returns 0 and a new empty set in *ret (free with ir_set_free()), or -ENOMEM. type may be
 * NULL. */
int ir_set_new(const char *name, const char *type, struct ir_set **ret);
/* Frees s; accepts NULL; returns NULL. */
struct ir_set *ir_set_free(struct ir_set *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct ir_set *, ir_set_free);
/* Appends a key field of type t. Returns 0 or -EINVAL (more than IR_KEY_MAX). */
int ir_set_add_key(struct ir_set *s, enum ir_keytype t);
/* Makes room for n more elements (after the key fields are added), so that adding them
 * allocates nothing more when n is known in advance. Returns 0, -EINVAL (no key fields yet) or
 * -ENOMEM. */
int ir_set_reserve(struct ir_set *s, size_t n);
/*
 * Adds an element: key holds s->nkey parts (copied, interface names too, into the set's pool);
 * verdict (copied likewise) for verdict maps, else NULL. Returns 0, -EINVAL (no key fields yet)
 * or -ENOMEM.
 */
int ir_set_add_elem(struct ir_set *s, const struct ir_key_part *key,
		    const struct ir_verdict *verdict, np_u128 data, bool nomatch);
/* Convenience for one-field sets: adds [lo, hi]. Returns 0, -EINVAL or -ENOMEM. */
int ir_set_add_range(struct ir_set *s, np_u128 lo, np_u128 hi);
/* Appends a list:set member name (copied) and sets IR_SET_LIST. Returns 0 or -ENOMEM. */
int ir_set_add_member(struct ir_set *s, const char *name);

/* --- rendering (nft-like text) --- */

/* Each appends the rendering to out; returns 0 or -ENOMEM. The family selects ip/ip6/inet
 * spelling of address fields (IR_FAMILY_INET when unsure). */
int ir_pred_render(const struct ir_pred *p, enum ir_family family, struct strbuf *out);
int ir_stmt_render(const struct ir_stmt *s, enum ir_family family, struct strbuf *out);
int ir_verdict_render(const struct ir_verdict *v, struct strbuf *out);
/* The whole rule: predicates and statements in order, then the verdict, then the comment. */
int ir_rule_render(const struct ir_rule *r, struct strbuf *out);
/* Returns r->text, rendering it first when the reader left it NULL; the string is owned by r.
 * Returns NULL on OOM. */
const char *ir_rule_text(struct ir_rule *r);
/* The elements of s, "{ 10.0.0.0/8, 192.168.1.1 . tcp . 80 }". */
int ir_set_render_elems(const struct ir_set *s, struct strbuf *out);
/* Renders the whole ruleset as text, all sources side by side, with counts. */
int ir_ruleset_render(const struct ir_ruleset *rs, struct strbuf *out);
/* Renders the whole ruleset as one JSON object (see ir.c for the shape). */
int ir_ruleset_render_json(const struct ir_ruleset *rs, struct strbuf *out);

/* --- counts (for `npaudit rules`) --- */

struct ir_counts {
	unsigned tables, chains, base_chains, rules, sets, elements;
	unsigned opaque_preds, opaque_stmts, opaque_rules; /* rules with either */
};

struct ir_stats {
	struct ir_counts src[_IR_SRC_MAX];
	unsigned ipsets, ipset_elements;
};

/* Fills *ret with the counts of rs per source. */
void ir_ruleset_stats(const struct ir_ruleset *rs, struct ir_stats *ret);
