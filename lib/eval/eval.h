/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The packet evaluator: runs one packet through the hooks of its path and, at each hook,
 * through every base chain of every source whose family applies (ip and inet for IPv4, ip6 and
 * inet for IPv6; netdev/inet ingress chains of the input interface first, netdev egress chains
 * of the output interface last), in priority
 * order, with the kernel's verdict semantics:
 *
 *   - accept (and a NAT statement) ends that base chain only; the next base chain and hook go on;
 *   - drop and reject end everything;
 *   - jump pushes a return point (at most EVAL_JUMP_MAX deep in nftables tables, like the
 *     kernel's jump stack; EVAL_JUMP_MAX_LEGACY in x_tables, whose stack has no fixed size),
 *     goto replaces the current chain, return pops; the end of a regular chain returns; a
 *     return or the end of a base chain (also reached by goto) applies the base chain's policy;
 *   - mark and ct mark statements change what later predicates see; chains that run before
 *     conntrack (ingress; prerouting and output below priority -200, like the raw table) see
 *     no connection: ct state invalid, no ct mark; notrack there makes the packet untracked;
 *   - nat-type chains only see packets of state NEW (as conntrack runs them only for the first
 *     packet of a connection);
 *   - NFQUEUE, an opaque statement, or an unresolved chain or set reference make the verdict
 *     UNKNOWN with a reason; a limit is treated as matching and noted in the trace.
 *
 * Three-valued: a predicate whose outcome cannot be known (opaque, or a packet field the caller
 * did not give) forks the evaluation into "matches" and "does not match"; when both branches end
 * in the same verdict, that is the verdict, else the verdict is UNKNOWN with a reason naming the
 * rule. The number of forks per packet is bounded (EVAL_FORK_MAX); beyond it the verdict is
 * UNKNOWN.
 *
 * Base chains of equal priority at one hook are visited in ruleset order (the order the readers
 * added their tables, then chains). The kernel puts a newer registration before older ones of
 * equal priority; the registration order of tables of different sources is not visible to the
 * readers. It only matters when such chains set and test marks for each other: a drop wins in
 * any order.
 *
 * Interfaces are the caller's: fill iif/oif (eval_packet_fill_interfaces() does it with a route
 * lookup callback). The evaluator never talks to the kernel.
 */

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "ir/ir.h"
#include "util/util.h"

#define EVAL_JUMP_MAX 16
#define EVAL_JUMP_MAX_LEGACY 64
#define EVAL_FORK_MAX 64

enum eval_path {
	EVAL_PATH_FORWARD, /* prerouting, forward, postrouting */
	EVAL_PATH_INPUT, /* prerouting, input */
	EVAL_PATH_OUTPUT, /* output, postrouting */
	_EVAL_PATH_MAX,
};

enum eval_verdict {
	EVAL_ACCEPT,
	EVAL_DROP,
	EVAL_UNKNOWN,
};

struct eval_packet {
	int family; /* AF_INET or AF_INET6 */
	enum eval_path path;
	np_u128 saddr, daddr; /* IPv4 mapped (iset.h) */
	uint8_t l4proto; /* IPPROTO_* */
	uint16_t sport, dport;
	uint8_t icmp_type, icmp_code;
	char iif[IFNAMSIZ], oif[IFNAMSIZ]; /* "" when the packet has none (oif on input, iif on
					    * output) */
	int iif_index, oif_index; /* 0: unknown (predicates on iif/oif become unknown) */
	uint32_t ct_state; /* one IR_CT_* bit */
	bool ct_reply; /* ct direction reply */
	uint32_t mark, ct_mark;
	uint8_t pkttype; /* PACKET_HOST (0) by default */
	uint8_t saddr_type, daddr_type; /* RTN_*; 0 unknown */
	int8_t rpf_ok; /* 1, 0, or -1 unknown */
	bool tcp_flags_set; /* else derived: SYN for NEW, ACK otherwise */
	uint8_t tcp_flags;
	bool bridged; /* physdev fields apply */
	char physdev_in[IFNAMSIZ], physdev_out[IFNAMSIZ];
};

/* Initialises p to a NEW packet with unknown address types and reverse path; returns p. */
struct eval_packet *eval_packet_init(struct eval_packet *p, int family, enum eval_path path);

/* Looks up the interface a packet to addr leaves on; writes its name (NUL-terminated) and
 * returns 0 or -errno. */
typedef int (*eval_route_fn)(void *userdata, int family, np_u128 addr, char ret_ifname[IFNAMSIZ]);

/* Fills the missing interfaces of p the way the kernel finds them: iif (forward, input) is the
 * interface toward saddr, oif (forward, output) the one toward daddr. Returns 0 or the lookup's
 * -errno. */
int eval_packet_fill_interfaces(struct eval_packet *p, eval_route_fn route, void *userdata);

struct eval_trace_entry {
	const struct ir_rule *rule; /* NULL for a chain policy */
	const struct ir_chain *chain; /* the chain of rule (or whose policy applied) */
	const struct ir_chain *base; /* the base chain being traversed */
	enum ir_hook hook;
	enum ir_verdict_kind action; /* what the rule did; CONTINUE for a rule without verdict */
	const struct ir_chain *target; /* jump/goto target */
	const char *note; /* static text, e.g. "limit treated as matching", or NULL */
	bool unknown; /* the rule was reached but its effect is unknown (the reason says why) */
};

/*
 * The part of the transport fields an evaluation depended on: every packet equal to the
 * evaluated one except for its ports, whose source port is in the region's source ports and
 * whose destination port is in its destination ports, meets the same predicate outcomes, so
 * takes exactly the same path through the rules and gets the same verdict, deciding rule and
 * reason. The ports of a field are an interval [lo, hi] less or restricted by the value lists
 * the path tested (each: the port is in it, or is not, as the evaluated packet's port was).
 * The protocol is treated alike: value lists of protocols the path tested (tcp flags count as
 * "is tcp"), so that the region also holds for the same packet with another protocol that has
 * ports (tcp, udp, sctp, udplite, dccp) and meets those tests alike; l4proto set means the path
 * depends on the exact protocol. Tests that cannot be expressed this way (masked tests, ports
 * or protocols in concatenated set keys, a port rewritten by dnat) shrink the interval to the
 * packet's own port (or set l4proto); beyond EVAL_REGION_TESTS value lists, the interval
 * narrows (or l4proto is set) instead.
 */
#define EVAL_REGION_TESTS 24

enum eval_region_field {
	EVAL_REGION_DPORT,
	EVAL_REGION_SPORT,
	EVAL_REGION_PROTO,
};

struct eval_region_test {
	const struct np_iset *values; /* owned by the ruleset; NULL: the range lo..hi */
	uint16_t lo, hi;
	uint8_t field; /* enum eval_region_field */
	bool in; /* the value is in values */
};

struct eval_region {
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	uint8_t proto; /* of the evaluated packet */
	bool l4proto;
	unsigned ntests;
	struct eval_region_test tests[EVAL_REGION_TESTS];
};

/* Returns whether the packet of rg with these protocol and ports is in rg (then its path, and
 * verdict, are those of rg's packet); proto is only compared when rg tested the protocol. */
bool eval_region_holds(const struct eval_region *rg, uint8_t proto, uint16_t sport, uint16_t dport);
/* Sets *ret (emptied first) to the source (sport) or destination ports of rg. Returns 0 or
 * -ENOMEM. */
int eval_region_ports(const struct eval_region *rg, bool sport, struct np_iset *ret);

struct eval_result {
	enum eval_verdict verdict;
	struct eval_region region; /* what the verdict holds for (see above) */
	char reason[512];
	VEC(struct eval_trace_entry) trace; /* every matched rule and applied policy, in order */
	long decided_by; /* index into trace, or -1 */
	uint32_t mark, ct_mark; /* at the end */
	unsigned forks; /* unknown predicates explored */
};

struct eval_ctx;

/* Links rs (ir_ruleset_link()) and precomputes the per-hook base chain lists and set indexes.
 * Returns 0 and *ret (free with eval_ctx_free(); rs must outlive it and not change), or
 * -ENOMEM. */
int eval_prepare(struct ir_ruleset *rs, struct eval_ctx **ret);
/* Frees ctx; accepts NULL; returns NULL. */
struct eval_ctx *eval_ctx_free(struct eval_ctx *ctx);
/* Returns the bytes ctx holds beyond the ruleset (chain lists, set indexes, prefilters). */
size_t eval_ctx_memory(const struct eval_ctx *ctx);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct eval_ctx *, eval_ctx_free);

/* Evaluates p; fills *res (initialise with { 0 } once, reuse across calls; free with
 * eval_result_done()). with_trace false records only the deciding entry and leaves the reason
 * of an accept or drop to eval_result_reason() (faster). Returns 0, -EINVAL (bad family/path)
 * or -ENOMEM. */
int eval_packet(const struct eval_ctx *ctx, const struct eval_packet *p, bool with_trace,
		struct eval_result *res);
/* Frees the trace of res. */
void eval_result_done(struct eval_result *res);

/*
 * Shared walks. The audit evaluates batches of packets that differ only in a few fields: the
 * traffic of one pod to every other pod differs in destination address, output interface,
 * protocol and ports. An eval_memo keeps the walks of one batch as a graph: a node is the state
 * of a walk just before a rule that reads a varying field, an edge that rule's outcome (no match,
 * match with its verdict, or the dispatch rule an interface run leads to), a leaf the verdict and
 * deciding entry. A packet of the batch re-evaluates only the rules at the nodes, for itself
 * (which also narrows its region exactly as a full walk does), and follows the edges; the rules
 * between nodes read no varying field, so they act on it as on the packet that first took the
 * path. Where its outcome has no edge yet, the walk goes on from that node's state and adds to the
 * graph; a walk that reaches the state of an existing node (the varying fields aside) joins it.
 * Walks that meet an undecidable predicate, an unknown verdict or a rule that rewrites the packet
 * (nat) are not kept: the packet is evaluated in full.
 *
 * A batch is the run of packets whose fixed fields (everything but the varying ones) are equal;
 * a packet with other fixed fields starts a new batch.
 */
enum {
	EVAL_VARY_SADDR = 1 << 0,
	EVAL_VARY_DADDR = 1 << 1,
	EVAL_VARY_IIF = 1 << 2, /* iif and iif_index */
	EVAL_VARY_OIF = 1 << 3, /* oif and oif_index */
	EVAL_VARY_L4 = 1 << 4, /* protocol, ports, icmp type and code, tcp flags: always varying */
};

struct eval_memo;

struct eval_memo_stats {
	unsigned long walks; /* packets walked through the rules (in part, from a node, or all) */
	unsigned long shared; /* packets whose verdict came from a leaf without a walk */
	unsigned long full; /* packets evaluated in full (a walk that cannot be kept) */
	unsigned long batches; /* batches started */
	size_t nodes; /* nodes of the current batch's graph */
};

/* Returns 0 and *ret, an empty memo for packets varying in the EVAL_VARY_* fields `vary` (free
 * with eval_memo_free()), or -ENOMEM. */
int eval_memo_new(unsigned vary, struct eval_memo **ret);
/* Frees m; accepts NULL; returns NULL. */
struct eval_memo *eval_memo_free(struct eval_memo *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct eval_memo *, eval_memo_free);
/* Evaluates p like eval_packet(ctx, p, false, res), the same verdict, region and deciding entry,
 * sharing the walks of m's batch (a ctx other than the batch's, or other fixed fields, start a
 * new one). Returns 0, -EINVAL or -ENOMEM. */
int eval_packet_memo(const struct eval_ctx *ctx, struct eval_memo *m, const struct eval_packet *p,
		     struct eval_result *res);
/* Fills *ret with m's counters. */
void eval_memo_get_stats(const struct eval_memo *m, struct eval_memo_stats *ret);
/* Returns the reason of res (owned by res): eval_packet() without trace leaves it to be
 * formatted here, from the deciding entry, for accept and drop. */
const char *eval_result_reason(struct eval_result *res);

/* Returns "accept", "drop" or "unknown". */
const char *eval_verdict_to_string(enum eval_verdict v);
/* Returns "forward", "input", "output" or "?"; and the path for a name, or -EINVAL. */
const char *eval_path_to_string(enum eval_path p);
int eval_path_from_string(const char *s);
/* Appends the action of e ("accept", "jump cali-fw-x", "policy drop", "mark", ...) to out;
 * returns 0 or -ENOMEM. */
int eval_trace_entry_action(const struct eval_trace_entry *e, struct strbuf *out);
/* Appends e as a JSON object {"source","family","table","chain","hook","priority","position",
 * "handle","rule","action"}; rendering may fill rule->text. Returns 0 or -ENOMEM. */
int eval_trace_entry_json(const struct eval_trace_entry *e, struct strbuf *out);

/*
 * Boundaries for equivalence classes: for a packet template, every cut point of the address and
 * port spaces that a reachable rule tests (predicate values, set and ipset elements, verdict map
 * keys). A cut point v means some predicate can tell v-1 from v; two values with no cut point
 * between them are treated alike by every reachable predicate on that field.
 *
 * Reachable: rules in the base chains of the template's hooks and families and in the chains
 * they jump or go to (also through verdict maps), skipping rules that a template field (iif,
 * oif, l4proto, ct state) makes certainly false, and not following their jumps.
 */
struct eval_template {
	int family;
	enum eval_path path;
	const char *iif, *oif; /* NULL: any (or one of iifs/oifs) */
	int l4proto; /* -1: any */
	uint32_t ct_state; /* 0: any */
	/* When iif (oif) is NULL: the interface is one of these n_iifs (n_oifs) names, e.g. the
	 * interfaces routes to off-node peers use; none: any interface. */
	const char *const *iifs, *const *oifs;
	size_t n_iifs, n_oifs;
	/* Collect the port fields only (the addresses are fixed, e.g. between two local pods):
	 * address cut points and tests are left empty, which saves walking large sets. */
	bool ports_only;
	/* The addresses are these: rules whose address tests (values or one-field sets) cannot
	 * match them are left out with their ports (used with ports_only). */
	bool fixed_addrs;
	np_u128 saddr, daddr;
};

struct eval_cuts {
	np_u128 *items; /* sorted, unique cut points */
	size_t n, cap;
};

/*
 * The tests behind the cut points, for grouping classes: each reachable predicate value list,
 * one-field set (and set field), or element of a concatenated set is one test, given as its
 * ranges. Two values that every test contains alike (both or neither) are treated alike by
 * every reachable predicate on that field, however far apart they are: the audit groups
 * classes by that membership (atomic predicates) instead of testing each interval.
 */
struct eval_test_range {
	np_u128 lo, hi;
	uint32_t test; /* test number, dense from 0 */
};

struct eval_tests {
	struct eval_test_range *items;
	size_t n, cap;
	uint32_t n_tests;
};

struct eval_boundaries {
	struct eval_cuts saddr, daddr, sport, dport;
	unsigned rules; /* reachable rules visited */
	unsigned opaque; /* reachable opaque predicates or statements */
	unsigned inexact; /* reachable masked tests of those fields (no cut points express them) */
	bool want_tests; /* set by the caller: fill the tests below too */
	struct eval_tests saddr_tests, daddr_tests, sport_tests, dport_tests;
};

/* Collects the cut points of t into *ret (zero-initialised, or reused after
 * eval_boundaries_done()). Returns 0, -EINVAL or -ENOMEM. */
int eval_collect_boundaries(const struct eval_ctx *ctx, const struct eval_template *t,
			    struct eval_boundaries *ret);
/* Frees the vectors of b. */
void eval_boundaries_done(struct eval_boundaries *b);

/*
 * What a ruleset change can touch (eval_changed_interfaces()): a packet that enters no chain
 * whose rules (or looked-up sets) differ takes the same path through both rulesets. Packets
 * reach a chain through the rules that jump or go to it; a rule naming exact interfaces
 * restricts them to those. `all` when a differing chain is reached by packets of any interface
 * (from a base chain without such a name, a changed base chain, a loop), else the interfaces
 * whose packets (in or out) can meet a difference.
 */
struct eval_change {
	bool all;
	char *why; /* when all: which chain made it so */
	char **ifnames; /* sorted, unique */
	size_t n;
	unsigned changed_chains;
};

/* Compares the rulesets of old and new (both prepared). Returns 0 and fills *ret (free with
 * eval_change_done()), or -ENOMEM. */
int eval_changed_interfaces(const struct eval_ctx *old, const struct eval_ctx *new,
			    struct eval_change *ret);
/* Frees what c holds. */
void eval_change_done(struct eval_change *c);
/* Returns a hash of everything in rs that decides what packets meet (sources read, tables,
 * chains with their rules, sets and ipsets with their elements) and of the rule handles that
 * name rules in findings, never 0: equal hashes mean the same ruleset. rs need not be
 * prepared. */
uint64_t eval_ruleset_hash(const struct ir_ruleset *rs);
/* Bits of eval_ruleset_hash_sources(): 1 << IR_SRC_* for the tables (and source info) of a
 * source, EVAL_HASH_IPSETS for the ipsets. */
#define EVAL_HASH_IPSETS (1u << _IR_SRC_MAX)
#define EVAL_HASH_ALL (EVAL_HASH_IPSETS | ((1u << _IR_SRC_MAX) - 1))
/* Like eval_ruleset_hash(), over the parts of rs that sources names only: equal for a full
 * read and a read of those sources alone when they are the same. */
uint64_t eval_ruleset_hash_sources(const struct ir_ruleset *rs, unsigned sources);
/* Sorts the n values at a ascending in place (an inlined quicksort, several times faster than
 * qsort() on the 10^4-10^5 cut points of a class split). */
void eval_sort_u128(np_u128 *a, size_t n);
