/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "eval.h"

/* Like VEC_FOREACH, also over a vector reached through a const pointer. */
#define EVAL_FOREACH(p, v) \
	for (__typeof__((v)->items[0]) *p = (v)->items; p && p < (v)->items + (v)->n; p++)

struct chain_list {
	const struct ir_chain **v;
	size_t n;
};

/*
 * Index of one set: the elements' ranges on one key field (the first address or number field)
 * cut the value space into segments; each segment lists the elements covering it (CSR arrays).
 * A lookup is a binary search for the segment (a hash when every element has one value on that
 * field), then a check of the other key fields of its few candidates; one-field sets keep the
 * deciding element per segment. Exact values and ranges, single and concatenated keys alike.
 */
struct set_index {
	const struct ir_set *set;
	int field; /* key position indexed, or -1 (interface names only): linear scan */
	size_t nseg;
	np_u128 *seg_lo; /* nseg segment starts, sorted; seg_lo[0] == 0 */
	uint32_t *off; /* nseg + 1 offsets into elems */
	uint32_t *elems; /* element indexes */
	int32_t *best; /* one-field sets: per segment the deciding element, or SEG_* */
	struct set_slot {
		np_u128 value;
		uint32_t seg; /* segment index + 1; 0: empty slot */
		int32_t best; /* as best[seg] */
	} * slots; /* every value exact: open addressing on the value */
	size_t mask; /* slots capacity - 1 */
	/* One-field interface name sets whose elements are all exact names (verdict maps keyed by
	 * iifname/oifname): open addressing on the name, to the first element with it. */
	struct name_slot {
		const char *name; /* the element's; NULL: empty slot */
		uint32_t elem;
	} * names;
	size_t names_mask;
};

enum {
	SEG_NONE = -1, /* no element */
	SEG_NOMATCH = -2, /* the most specific element is an ipset nomatch entry */
};

/*
 * A compact copy of a rule's first predicate, in one array in rule order: most rules a packet
 * meets fail on their first predicate, and this rejects them without touching the rule's own
 * memory. It only ever says "certainly false"; everything else goes to the full evaluation.
 */
struct prefilter {
	enum {
		PF_NONE, /* no usable first predicate (or a statement runs before it) */
		PF_RANGE,
		PF_IFNAME,
		PF_BITS,
	} kind : 8;
	uint8_t field; /* enum ir_field */
	bool negate, masked, prefix;
	uint8_t len; /* PF_IFNAME: length of name */
	uint32_t mask; /* PF_RANGE with masked: the mask; PF_BITS: the bits */
	union {
		struct {
			np_u128 lo, hi;
		};
		char name[IFNAMSIZ];
	};
};

/*
 * A dispatch run: consecutive rules of a chain whose first predicate is one exact interface name
 * on the same field (`-i cali1234 -g cali-fw-cali1234`, one per pod). A packet can only match the
 * rules of the run that name its interface, so the walk jumps straight to the next of them (or
 * past the run) instead of comparing every name.
 */
#define EVAL_RUN_MIN 8

struct ifrun {
	uint32_t first, end; /* rule positions [first, end) in the chain */
	uint8_t field; /* IR_FIELD_IIFNAME or IR_FIELD_OIFNAME */
	size_t mask; /* slots capacity - 1 */
	struct ifrun_slot {
		char name[IFNAMSIZ];
		uint32_t head; /* the first position with this name + 1; 0: empty slot */
	} * slots;
	uint32_t *next; /* per position - first: the next position with the same name, or end */
};

/* Packets of family f (0 IPv4, 1 IPv6) at hook h meet hooks[f][h], in priority order. */
/* eval_ctx.rule_memo: a shared walk cannot pass the rule (see rule_memo_bits()) */
#define MEMO_UNSAFE (1 << 7)

struct eval_ctx {
	struct ir_ruleset *rs;
	uint64_t serial; /* unique per prepared context (a memo tells contexts apart by it) */
	struct chain_list hooks[2][_IR_HOOK_MAX];
	struct set_index *sets; /* by ir_set.id */
	size_t nsets;
	struct prefilter *pf; /* by ir_rule.id */
	uint32_t *chain_first; /* by ir_chain.id: the id of its first rule */
	struct ifrun *runs;
	size_t nruns;
	uint32_t *rule_run; /* by ir_rule.id: its dispatch run + 1, or 0 */
	uint8_t *rule_memo; /* by ir_rule.id: the EVAL_VARY_* fields it reads, MEMO_UNSAFE */
};

/* The position of the first rule at or after pos (in run) that names ifname, or run->end. */
uint32_t eval_ifrun_next(const struct ifrun *run, const char *ifname, uint32_t pos);

#define EVAL_PATH_HOOKS_MAX 5

/* The hooks of a path, in traversal order; returns their number. */
size_t eval_path_hooks(enum eval_path p, enum ir_hook ret[EVAL_PATH_HOOKS_MAX]);

/* Whether base chain c runs before conntrack (ingress; prerouting and output below -200): it
 * sees no connection. */
static inline bool before_conntrack(const struct ir_chain *c)
{
	switch (c->hook) {
	case IR_HOOK_INGRESS:
		return true;
	case IR_HOOK_PREROUTING:
	case IR_HOOK_OUTPUT:
		return c->priority < IR_PRIO_CONNTRACK;
	default:
		return false;
	}
}

/* Whether base chain c sees a packet with these interfaces: ingress chains are bound to the
 * input device, egress chains to the output device. */
static inline bool device_applies(const struct ir_chain *c, const char *iif, const char *oif)
{
	if (!c->device)
		return true;
	if (c->hook == IR_HOOK_INGRESS)
		return !iif || streq(c->device, iif);
	if (c->hook == IR_HOOK_EGRESS)
		return !oif || streq(c->device, oif);
	return true;
}
/* The path's main filter hook (forward, input or output). */
enum ir_hook eval_path_main_hook(enum eval_path p);
/* qsort comparison of np_u128 values. */
int eval_cmp_u128(const void *a, const void *b);

/* Whether the one-field address set behind ref holds the address the field names (saddr or
 * daddr of a packet of family): 1, 0, or -1 when it cannot be told (another key layout, an
 * unresolved set). */
int eval_ref_holds_addr(const struct eval_ctx *ctx, const struct ir_setref *ref, int family,
			np_u128 saddr, np_u128 daddr);
