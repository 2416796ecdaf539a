/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "eval-internal.h"
#include "util/hashmap.h"

/* --- names --- */

const char *eval_verdict_to_string(enum eval_verdict v)
{
	switch (v) {
	case EVAL_ACCEPT:
		return "accept";
	case EVAL_DROP:
		return "drop";
	case EVAL_UNKNOWN:
		return "unknown";
	}
	return "?";
}

static const char *const path_names[_EVAL_PATH_MAX] = {
	[EVAL_PATH_FORWARD] = "forward",
	[EVAL_PATH_INPUT] = "input",
	[EVAL_PATH_OUTPUT] = "output",
};

const char *eval_path_to_string(enum eval_path p)
{
	return (unsigned)p < _EVAL_PATH_MAX ? path_names[p] : "?";
}

int eval_path_from_string(const char *s)
{
	for (int i = 0; s && i < _EVAL_PATH_MAX; i++)
		if (streq(path_names[i], s))
			return i;
	return -EINVAL;
}

size_t eval_path_hooks(enum eval_path p, enum ir_hook ret[EVAL_PATH_HOOKS_MAX])
{
	switch (p) {
	case EVAL_PATH_FORWARD:
		ret[0] = IR_HOOK_INGRESS;
		ret[1] = IR_HOOK_PREROUTING;
		ret[2] = IR_HOOK_FORWARD;
		ret[3] = IR_HOOK_POSTROUTING;
		ret[4] = IR_HOOK_EGRESS;
		return 5;
	case EVAL_PATH_INPUT:
		ret[0] = IR_HOOK_INGRESS;
		ret[1] = IR_HOOK_PREROUTING;
		ret[2] = IR_HOOK_INPUT;
		return 3;
	case EVAL_PATH_OUTPUT:
		ret[0] = IR_HOOK_OUTPUT;
		ret[1] = IR_HOOK_POSTROUTING;
		ret[2] = IR_HOOK_EGRESS;
		return 3;
	default:
		return 0;
	}
}

enum ir_hook eval_path_main_hook(enum eval_path p)
{
	return p == EVAL_PATH_INPUT    ? IR_HOOK_INPUT
	       : p == EVAL_PATH_OUTPUT ? IR_HOOK_OUTPUT
				       : IR_HOOK_FORWARD;
}

/* --- packets --- */

struct eval_packet *eval_packet_init(struct eval_packet *p, int family, enum eval_path path)
{
	*p = (struct eval_packet){
		.family = family,
		.path = path,
		.ct_state = IR_CT_NEW,
		.pkttype = PACKET_HOST,
		.rpf_ok = -1,
	};
	return p;
}

int eval_packet_fill_interfaces(struct eval_packet *p, eval_route_fn route, void *userdata)
{
	int r;

	if (p->path != EVAL_PATH_OUTPUT && !p->iif[0]) {
		r = route(userdata, p->family, p->saddr, p->iif);
		if (r < 0)
			return r;
		p->iif[IFNAMSIZ - 1] = 0;
	}
	if (p->path != EVAL_PATH_INPUT && !p->oif[0]) {
		r = route(userdata, p->family, p->daddr, p->oif);
		if (r < 0)
			return r;
		p->oif[IFNAMSIZ - 1] = 0;
	}
	return 0;
}

/* --- preparation --- */

int eval_cmp_u128(const void *a, const void *b)
{
	np_u128 x = *(const np_u128 *)a, y = *(const np_u128 *)b;

	return x < y ? -1 : x > y;
}

static void insertion_sort_u128(np_u128 *a, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		np_u128 v = a[i];
		size_t j = i;

		for (; j > 0 && a[j - 1] > v; j--)
			a[j] = a[j - 1];
		a[j] = v;
	}
}

void eval_sort_u128(np_u128 *a, size_t n)
{
	while (n > 16) {
		np_u128 x = a[0], y = a[n / 2], z = a[n - 1], pivot, t;
		size_t i = 0, j = n - 1;

		/* median of three */
		pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
		for (;;) {
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i >= j)
				break;
			t = a[i];
			a[i] = a[j];
			a[j] = t;
			i++;
			j--;
		}
		/* [0, j] <= pivot <= [j + 1, n): recurse into the smaller part */
		if (j + 1 < n - j - 1) {
			eval_sort_u128(a, j + 1);
			a += j + 1;
			n -= j + 1;
		} else {
			eval_sort_u128(a + j + 1, n - j - 1);
			n = j + 1;
		}
	}
	insertion_sort_u128(a, n);
}

/* Index of the segment holding v: the last i with seg_lo[i] <= v. */
static size_t seg_find(const np_u128 *lo, size_t n, np_u128 v)
{
	size_t a = 0, b = n; /* lo[a] <= v; answer in [a, b) */

	while (b - a > 1) {
		size_t m = a + (b - a) / 2;

		if (lo[m] <= v)
			a = m;
		else
			b = m;
	}
	return a;
}

static inline size_t hash_u128(np_u128 v, size_t mask)
{
	uint64_t h = (uint64_t)v ^ ((uint64_t)(v >> 64) * 0xff51afd7ed558ccdull);

	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h ^ (h >> 29)) & mask;
}

static void set_index_done(struct set_index *x)
{
	free(x->seg_lo);
	free(x->off);
	free(x->elems);
	free(x->best);
	free(x->slots);
	free(x->names);
	*x = (struct set_index){ 0 };
}

/* For one-field sets: the element deciding each segment (the most specific one, as ipset's
 * nomatch entries need), SEG_NONE or SEG_NOMATCH. */
static int set_index_best(const struct ir_set *s, struct set_index *x)
{
	x->best = malloc((x->nseg ? x->nseg : 1) * sizeof(*x->best));
	if (!x->best)
		return -ENOMEM;
	for (size_t g = 0; g < x->nseg; g++) {
		int32_t best = SEG_NONE;
		np_u128 bsize = 0;

		for (uint32_t i = x->off[g]; i < x->off[g + 1]; i++) {
			const struct ir_key_part *k = &s->elems.items[x->elems[i]].key[x->field];

			if (best == SEG_NONE || k->hi - k->lo < bsize) {
				best = (int32_t)x->elems[i];
				bsize = k->hi - k->lo;
			}
		}
		if (best >= 0 && s->elems.items[best].nomatch)
			best = SEG_NOMATCH;
		x->best[g] = best;
	}
	return 0;
}

/* When every element has one value on the indexed field: a hash from that value to its
 * segment (and deciding element), so that a lookup costs about one memory access instead of a
 * binary search. */
static int set_index_hash(const struct ir_set *s, struct set_index *x)
{
	size_t nval = 0, cap = 16;

	EVAL_FOREACH(e, &s->elems)
	if (e->key[x->field].lo != e->key[x->field].hi)
		return 0;
	for (size_t g = 0; g < x->nseg; g++)
		if (x->off[g + 1] > x->off[g])
			nval++;
	while (cap < 2 * nval)
		cap *= 2;
	x->slots = calloc(cap, sizeof(*x->slots));
	if (!x->slots)
		return -ENOMEM;
	x->mask = cap - 1;
	for (size_t g = 0; g < x->nseg; g++) {
		size_t i;

		if (x->off[g + 1] == x->off[g])
			continue;
		for (i = hash_u128(x->seg_lo[g], x->mask); x->slots[i].seg; i = (i + 1) & x->mask)
			;
		x->slots[i].value = x->seg_lo[g];
		x->slots[i].seg = (uint32_t)g + 1;
		x->slots[i].best = x->best ? x->best[g] : SEG_NONE;
	}
	return 0;
}

/* The segment holding v, or -1 when no element can hold it; *best is the deciding element of
 * a one-field set (when x->best). */
static inline long set_index_segment(const struct set_index *x, np_u128 v, int32_t *best)
{
	long g;

	if (x->nseg == 0)
		return -1;
	if (x->slots) {
		for (size_t i = hash_u128(v, x->mask); x->slots[i].seg; i = (i + 1) & x->mask)
			if (x->slots[i].value == v) {
				*best = x->slots[i].best;
				return (long)x->slots[i].seg - 1;
			}
		return -1;
	}
	g = (long)seg_find(x->seg_lo, x->nseg, v);
	if (x->best)
		*best = x->best[g];
	return g;
}

static inline size_t ifname_hash(const char *name, size_t mask)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < IFNAMSIZ && name[i]; i++)
		h = (h ^ (uint8_t)name[i]) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 29)) & mask;
}

/* A one-field interface name set: a hash on the names when every element is an exact name
 * (else the linear scan stays). */
static int set_index_names(const struct ir_set *s, struct set_index *ret)
{
	struct set_index x = { .set = s, .field = -1 };
	size_t cap = 16;

	EVAL_FOREACH(e, &s->elems)
	if (e->key[0].prefix || !e->key[0].ifname) {
		*ret = x;
		return 0;
	}
	while (cap < 2 * s->elems.n)
		cap *= 2;
	x.names = calloc(cap, sizeof(*x.names));
	if (!x.names)
		return -ENOMEM;
	x.names_mask = cap - 1;
	for (size_t i = 0; i < s->elems.n; i++) {
		const char *name = s->elems.items[i].key[0].ifname;
		size_t h = ifname_hash(name, x.names_mask);

		while (x.names[h].name && strncmp(x.names[h].name, name, IFNAMSIZ) != 0)
			h = (h + 1) & x.names_mask;
		if (x.names[h].name)
			continue; /* the first element of a name decides */
		x.names[h] = (struct name_slot){ .name = name, .elem = (uint32_t)i };
	}
	*ret = x;
	return 0;
}

static int set_index_build(const struct ir_set *s, struct set_index *ret)
{
	struct set_index x = { .set = s, .field = -1 };
	size_t n = s->elems.n, nb = 0, total = 0;
	np_u128 *b = NULL;

	for (unsigned i = 0; i < s->nkey; i++)
		if (s->keytype[i] != IR_KEY_IFNAME) {
			x.field = (int)i;
			break;
		}
	if (x.field < 0 && n > 0 && s->nkey == 1)
		return set_index_names(s, ret);
	if (x.field < 0 || n == 0) {
		*ret = x;
		return 0;
	}

	b = malloc((2 * n + 1) * sizeof(*b));
	if (!b)
		return -ENOMEM;
	b[nb++] = 0;
	EVAL_FOREACH(e, &s->elems)
	{
		const struct ir_key_part *k = &e->key[x.field];

		b[nb++] = k->lo;
		if (k->hi != NP_U128_MAX)
			b[nb++] = k->hi + 1;
	}
	eval_sort_u128(b, nb);
	x.nseg = 0;
	for (size_t i = 0; i < nb; i++)
		if (x.nseg == 0 || b[i] != b[x.nseg - 1])
			b[x.nseg++] = b[i];
	x.seg_lo = b;

	x.off = calloc(x.nseg + 1, sizeof(*x.off));
	if (!x.off)
		goto oom;
	/* Count, then fill (CSR). */
	for (size_t e = 0; e < n; e++) {
		const struct ir_key_part *k = &s->elems.items[e].key[x.field];

		if (k->lo > k->hi)
			continue;
		for (size_t g = seg_find(b, x.nseg, k->lo); g < x.nseg && b[g] <= k->hi; g++) {
			x.off[g + 1]++;
			total++;
		}
	}
	if (total > UINT32_MAX)
		goto oom;
	for (size_t g = 0; g < x.nseg; g++)
		x.off[g + 1] += x.off[g];
	x.elems = malloc((total ? total : 1) * sizeof(*x.elems));
	if (!x.elems)
		goto oom;
	{
		_cleanup_(freep) uint32_t *fill = calloc(x.nseg, sizeof(*fill));

		if (!fill)
			goto oom;
		for (size_t e = 0; e < n; e++) {
			const struct ir_key_part *k = &s->elems.items[e].key[x.field];

			if (k->lo > k->hi)
				continue;
			for (size_t g = seg_find(b, x.nseg, k->lo); g < x.nseg && b[g] <= k->hi;
			     g++)
				x.elems[x.off[g] + fill[g]++] = (uint32_t)e;
		}
	}
	if (s->nkey == 1 && set_index_best(s, &x) < 0)
		goto oom;
	if (set_index_hash(s, &x) < 0)
		goto oom;
	*ret = x;
	return 0;
oom:
	set_index_done(&x);
	return -ENOMEM;
}

static int chain_prio_cmp(const void *a, const void *b)
{
	const struct ir_chain *x = *(const struct ir_chain *const *)a;
	const struct ir_chain *y = *(const struct ir_chain *const *)b;

	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	/* Stable: ruleset order (the chain ids follow it). */
	return x->id < y->id ? -1 : x->id > y->id;
}

static bool family_applies(enum ir_family tf, int fi, enum ir_hook h)
{
	switch (tf) {
	case IR_FAMILY_IP:
		return fi == 0;
	case IR_FAMILY_IP6:
		return fi == 1;
	case IR_FAMILY_INET:
		return true;
	case IR_FAMILY_NETDEV:
		return h == IR_HOOK_INGRESS || h == IR_HOOK_EGRESS;
	default:
		return false;
	}
}

static int set_index_add(struct eval_ctx *ctx, const struct ir_set *s)
{
	if (s->id >= ctx->nsets)
		return 0;
	return set_index_build(s, &ctx->sets[s->id]);
}

static void prefilter_build(const struct ir_rule *r, struct prefilter *pf)
{
	const struct ir_pred *p;

	*pf = (struct prefilter){ .kind = PF_NONE };
	if (r->preds.n == 0 || (r->stmts.n > 0 && r->stmts.items[0].after == 0))
		return;
	p = &r->preds.items[0];
	pf->field = (uint8_t)p->field;
	pf->negate = p->negate;
	switch (p->kind) {
	case IR_PRED_MATCH:
		if (ir_field_keytype(p->field) == IR_KEY_IFNAME) {
			const struct ir_ifname *n = p->ifnames.items;
			size_t len = p->ifnames.n == 1 && n[0].name ? strlen(n[0].name) : IFNAMSIZ;

			if (len >= IFNAMSIZ)
				return;
			memcpy(pf->name, n[0].name, len + 1);
			pf->len = (uint8_t)len;
			pf->prefix = n[0].prefix;
			pf->kind = PF_IFNAME;
		} else if (p->values.n == 1) {
			pf->lo = p->values.r[0].lo;
			pf->hi = p->values.r[0].hi;
			pf->masked = p->masked;
			pf->mask = p->mask;
			pf->kind = PF_RANGE;
		}
		return;
	case IR_PRED_BITS:
		pf->mask = p->bits;
		pf->kind = PF_BITS;
		return;
	default:
		return;
	}
}

/* Whether the rule at pf can be part of a dispatch run on field (0: any field). */
static bool run_member(const struct prefilter *pf, uint8_t field)
{
	return pf->kind == PF_IFNAME && !pf->prefix && !pf->negate &&
	       (pf->field == IR_FIELD_IIFNAME || pf->field == IR_FIELD_OIFNAME) &&
	       (!field || pf->field == field);
}

static int ifrun_build(struct eval_ctx *ctx, const struct ir_chain *c, uint32_t first, uint32_t end)
{
	uint32_t base = ctx->chain_first[c->id];
	size_t cap = 16;
	struct ifrun *runs, *run;

	while (cap < 2 * (end - first))
		cap *= 2;
	runs = reallocarray(ctx->runs, ctx->nruns + 1, sizeof(*runs));
	if (!runs)
		return -ENOMEM;
	ctx->runs = runs;
	run = &runs[ctx->nruns];
	*run = (struct ifrun){
		.first = first, .end = end, .field = ctx->pf[base + first].field, .mask = cap - 1
	};
	run->slots = calloc(cap, sizeof(*run->slots));
	run->next = calloc(end - first, sizeof(*run->next));
	if (!run->slots || !run->next) {
		free(run->slots);
		free(run->next);
		return -ENOMEM;
	}
	ctx->nruns++;
	/* Backwards, so that each slot ends with the first position and next[] chains forward. */
	for (uint32_t pos = end; pos-- > first;) {
		const char *name = ctx->pf[base + pos].name;
		size_t h = ifname_hash(name, run->mask);

		while (run->slots[h].head && strncmp(run->slots[h].name, name, IFNAMSIZ) != 0)
			h = (h + 1) & run->mask;
		run->next[pos - first] = run->slots[h].head ? run->slots[h].head - 1 : end;
		memcpy(run->slots[h].name, name, IFNAMSIZ);
		run->slots[h].head = pos + 1;
		ctx->rule_run[base + pos] = (uint32_t)ctx->nruns;
	}
	return 0;
}

uint32_t eval_ifrun_next(const struct ifrun *run, const char *ifname, uint32_t pos)
{
	size_t h = ifname_hash(ifname, run->mask);
	uint32_t at;

	for (; run->slots[h].head; h = (h + 1) & run->mask)
		if (strncmp(run->slots[h].name, ifname, IFNAMSIZ) == 0)
			break;
	if (!run->slots[h].head)
		return run->end;
	for (at = run->slots[h].head - 1; at < pos && at < run->end;
	     at = run->next[at - run->first])
		;
	return at;
}

/* Finds the dispatch runs of c (after its prefilters are built). Returns 0 or -ENOMEM. */
static int ifruns_find(struct eval_ctx *ctx, const struct ir_chain *c)
{
	uint32_t base = ctx->chain_first[c->id], n = (uint32_t)c->rules.n;

	for (uint32_t i = 0; i < n;) {
		uint32_t j = i;
		int r;

		if (!run_member(&ctx->pf[base + i], 0)) {
			i++;
			continue;
		}
		while (j < n && run_member(&ctx->pf[base + j], ctx->pf[base + i].field))
			j++;
		if (j - i >= EVAL_RUN_MIN && (r = ifrun_build(ctx, c, i, j)) < 0)
			return r;
		i = j;
	}
	return 0;
}

/* The EVAL_VARY_* group of the packet field f reads, or 0 for the fields a batch of shared walks
 * keeps fixed (and the walk's own state: marks, conntrack). */
static uint8_t field_vary(enum ir_field f)
{
	switch (f) {
	case IR_FIELD_SADDR:
		return EVAL_VARY_SADDR;
	case IR_FIELD_DADDR:
		return EVAL_VARY_DADDR;
	case IR_FIELD_IIFNAME:
	case IR_FIELD_IIF:
		return EVAL_VARY_IIF;
	case IR_FIELD_OIFNAME:
	case IR_FIELD_OIF:
		return EVAL_VARY_OIF;
	case IR_FIELD_L4PROTO:
	case IR_FIELD_SPORT:
	case IR_FIELD_DPORT:
	case IR_FIELD_ICMP_TYPE:
	case IR_FIELD_ICMP_CODE:
	case IR_FIELD_TCP_FLAGS:
		return EVAL_VARY_L4;
	default:
		return 0;
	}
}

/* The fields rule r reads (EVAL_VARY_*), with MEMO_UNSAFE when a shared walk cannot pass it: it
 * reads a varying field and changes the state (mark, notrack) before a point where it can still
 * fail to match (a no-match would not always mean the same state). A nat that rewrites the
 * packet stops the keeping of a walk where it runs (stmts_run()). */
static uint8_t rule_memo_bits(const struct ir_rule *r)
{
	uint8_t b = 0, unsafe = 0;
	bool effects = false;

	EVAL_FOREACH(p, &r->preds)
	{
		if (p->kind == IR_PRED_LOOKUP)
			for (unsigned k = 0; k < p->ref.nkey && k < IR_KEY_MAX; k++)
				b |= field_vary(p->ref.key[k]);
		else
			b |= field_vary(p->field);
	}
	EVAL_FOREACH(s, &r->stmts)
	{
		switch (s->kind) {
		case IR_STMT_VMAP:
			for (unsigned k = 0; k < s->ref.nkey && k < IR_KEY_MAX; k++)
				b |= field_vary(s->ref.key[k]);
			if (effects)
				unsafe = MEMO_UNSAFE;
			break;
		case IR_STMT_MARK:
		case IR_STMT_NOTRACK:
			if (s->after < r->preds.n)
				unsafe = MEMO_UNSAFE;
			effects = true;
			break;
		default:
			break;
		}
	}
	return b ? b | unsafe : 0;
}

int eval_prepare(struct ir_ruleset *rs, struct eval_ctx **ret)
{
	static _Atomic uint64_t serial;
	_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
	int r;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->rs = rs;
	ctx->serial = ++serial;
	r = ir_ruleset_link(rs);
	if (r < 0)
		return r;

	for (int fi = 0; fi < 2; fi++)
		for (int h = 0; h < _IR_HOOK_MAX; h++) {
			struct chain_list *l = &ctx->hooks[fi][h];

			if (h == IR_HOOK_NONE)
				continue;
			EVAL_FOREACH(tp, &rs->tables)
			{
				if (!family_applies((*tp)->family, fi, h))
					continue;
				EVAL_FOREACH(cp, &(*tp)->chains)
				{
					const struct ir_chain *c = *cp;
					const struct ir_chain **nv;

					if (!c->base || c->hook != (enum ir_hook)h)
						continue;
					nv = reallocarray(l->v, l->n + 1, sizeof(*nv));
					if (!nv)
						return -ENOMEM;
					l->v = nv;
					l->v[l->n++] = c;
				}
			}
			if (l->n > 1)
				np_qsort(l->v, l->n, sizeof(*l->v), chain_prio_cmp);
		}

	ctx->pf = calloc(rs->n_rules ? rs->n_rules : 1, sizeof(*ctx->pf));
	ctx->rule_memo = calloc(rs->n_rules ? rs->n_rules : 1, sizeof(*ctx->rule_memo));
	ctx->chain_first = calloc(rs->n_chains ? rs->n_chains : 1, sizeof(*ctx->chain_first));
	if (!ctx->pf || !ctx->rule_memo || !ctx->chain_first)
		return -ENOMEM;
	EVAL_FOREACH(tp, &rs->tables)
	EVAL_FOREACH(cp, &(*tp)->chains)
	{
		const struct ir_chain *c = *cp;

		/* ir_ruleset_link() numbers a chain's rules consecutively */
		ctx->chain_first[c->id] = c->rules.n ? c->rules.items[0]->id : 0;
		EVAL_FOREACH(rp, &c->rules)
		{
			prefilter_build(*rp, &ctx->pf[(*rp)->id]);
			ctx->rule_memo[(*rp)->id] = rule_memo_bits(*rp);
		}
	}
	ctx->rule_run = calloc(rs->n_rules ? rs->n_rules : 1, sizeof(*ctx->rule_run));
	if (!ctx->rule_run)
		return -ENOMEM;
	EVAL_FOREACH(tp, &rs->tables)
	EVAL_FOREACH(cp, &(*tp)->chains)
	{
		r = ifruns_find(ctx, *cp);
		if (r < 0)
			return r;
	}

	ctx->nsets = rs->n_sets;
	ctx->sets = calloc(ctx->nsets ? ctx->nsets : 1, sizeof(*ctx->sets));
	if (!ctx->sets)
		return -ENOMEM;
	EVAL_FOREACH(sp, &rs->ipsets)
	{
		r = set_index_add(ctx, *sp);
		if (r < 0)
			return r;
	}
	EVAL_FOREACH(tp, &rs->tables)
	EVAL_FOREACH(sp, &(*tp)->sets)
	{
		r = set_index_add(ctx, *sp);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(ctx);
	return 0;
}

size_t eval_ctx_memory(const struct eval_ctx *ctx)
{
	size_t m = sizeof(*ctx);

	for (int fi = 0; fi < 2; fi++)
		for (int h = 0; h < _IR_HOOK_MAX; h++)
			m += ctx->hooks[fi][h].n * sizeof(*ctx->hooks[fi][h].v);
	m += ctx->nsets * sizeof(*ctx->sets);
	for (size_t i = 0; i < ctx->nsets; i++) {
		const struct set_index *x = &ctx->sets[i];

		m += x->nseg *
		     (sizeof(*x->seg_lo) + sizeof(*x->off) + (x->best ? sizeof(*x->best) : 0));
		m += x->nseg ? x->off[x->nseg] * sizeof(*x->elems) : 0;
		m += x->slots ? (x->mask + 1) * sizeof(*x->slots) : 0;
		m += x->names ? (x->names_mask + 1) * sizeof(*x->names) : 0;
	}
	m += ctx->rs->n_rules * sizeof(*ctx->pf) + ctx->rs->n_chains * sizeof(*ctx->chain_first);
	m += ctx->rs->n_rules * (sizeof(*ctx->rule_run) + sizeof(*ctx->rule_memo));
	for (size_t i = 0; i < ctx->nruns; i++)
		m += sizeof(ctx->runs[i]) + (ctx->runs[i].mask + 1) * sizeof(*ctx->runs[i].slots) +
		     (ctx->runs[i].end - ctx->runs[i].first) * sizeof(*ctx->runs[i].next);
	return m;
}

struct eval_ctx *eval_ctx_free(struct eval_ctx *ctx)
{
	if (!ctx)
		return NULL;
	for (int fi = 0; fi < 2; fi++)
		for (int h = 0; h < _IR_HOOK_MAX; h++)
			free(ctx->hooks[fi][h].v);
	for (size_t i = 0; i < ctx->nsets; i++)
		set_index_done(&ctx->sets[i]);
	free(ctx->sets);
	free(ctx->pf);
	free(ctx->chain_first);
	for (size_t i = 0; i < ctx->nruns; i++) {
		free(ctx->runs[i].slots);
		free(ctx->runs[i].next);
	}
	free(ctx->runs);
	free(ctx->rule_run);
	free(ctx->rule_memo);
	free(ctx);
	return NULL;
}

/* --- packet fields --- */

enum tri {
	T_FALSE,
	T_TRUE,
	T_UNKNOWN,
};

static inline enum tri tri_not(enum tri t, bool negate)
{
	if (t == T_UNKNOWN || !negate)
		return t;
	return t == T_TRUE ? T_FALSE : T_TRUE;
}

enum {
	F_ABSENT = 0,
	F_PRESENT = 1,
	F_UNKNOWN = -1,
};

static bool has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
	       proto == IPPROTO_UDPLITE || proto == IPPROTO_DCCP;
}

static bool is_icmp(uint8_t proto)
{
	return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

/* A numeric field of p: F_PRESENT and *v, F_ABSENT (the packet has no such header), or
 * F_UNKNOWN (the caller did not say). */
static int field_num(const struct eval_packet *p, enum ir_field f, np_u128 *v)
{
	switch (f) {
	case IR_FIELD_NFPROTO:
		*v = p->family == AF_INET6 ? 10 : 2;
		return F_PRESENT;
	case IR_FIELD_SADDR:
		*v = p->saddr;
		return F_PRESENT;
	case IR_FIELD_DADDR:
		*v = p->daddr;
		return F_PRESENT;
	case IR_FIELD_L4PROTO:
		*v = p->l4proto;
		return F_PRESENT;
	case IR_FIELD_SPORT:
	case IR_FIELD_DPORT:
		if (!has_ports(p->l4proto))
			return F_ABSENT;
		*v = f == IR_FIELD_SPORT ? p->sport : p->dport;
		return F_PRESENT;
	case IR_FIELD_ICMP_TYPE:
	case IR_FIELD_ICMP_CODE:
		if (!is_icmp(p->l4proto))
			return F_ABSENT;
		*v = f == IR_FIELD_ICMP_TYPE ? p->icmp_type : p->icmp_code;
		return F_PRESENT;
	case IR_FIELD_IIF:
		if (!p->iif[0]) {
			*v = 0;
			return F_PRESENT;
		}
		*v = (np_u128)p->iif_index;
		return p->iif_index > 0 ? F_PRESENT : F_UNKNOWN;
	case IR_FIELD_OIF:
		if (!p->oif[0]) {
			*v = 0;
			return F_PRESENT;
		}
		*v = (np_u128)p->oif_index;
		return p->oif_index > 0 ? F_PRESENT : F_UNKNOWN;
	case IR_FIELD_CT_STATE:
		*v = p->ct_state;
		return F_PRESENT;
	case IR_FIELD_CT_DIRECTION:
		if (p->ct_state & (IR_CT_INVALID | IR_CT_UNTRACKED))
			return F_ABSENT;
		*v = p->ct_reply;
		return F_PRESENT;
	case IR_FIELD_CT_MARK:
		if (p->ct_state & (IR_CT_INVALID | IR_CT_UNTRACKED))
			return F_ABSENT;
		*v = p->ct_mark;
		return F_PRESENT;
	case IR_FIELD_META_MARK:
		*v = p->mark;
		return F_PRESENT;
	case IR_FIELD_PKTTYPE:
		*v = p->pkttype;
		return F_PRESENT;
	case IR_FIELD_SADDR_TYPE:
		*v = p->saddr_type;
		return p->saddr_type ? F_PRESENT : F_UNKNOWN;
	case IR_FIELD_DADDR_TYPE:
		*v = p->daddr_type;
		return p->daddr_type ? F_PRESENT : F_UNKNOWN;
	case IR_FIELD_PHYSDEV_BRIDGED:
		*v = p->bridged;
		return F_PRESENT;
	case IR_FIELD_TCP_FLAGS:
		if (p->l4proto != IPPROTO_TCP)
			return F_ABSENT;
		if (p->tcp_flags_set)
			*v = p->tcp_flags;
		else
			*v = p->ct_state & IR_CT_NEW ? 0x02 /* SYN */ : 0x10 /* ACK */;
		return F_PRESENT;
	case IR_FIELD_RPF_OK:
		*v = p->rpf_ok > 0;
		return p->rpf_ok >= 0 ? F_PRESENT : F_UNKNOWN;
	default:
		return F_UNKNOWN;
	}
}

static int field_name(const struct eval_packet *p, enum ir_field f, const char **name)
{
	switch (f) {
	case IR_FIELD_IIFNAME:
		*name = p->iif;
		return F_PRESENT;
	case IR_FIELD_OIFNAME:
		*name = p->oif;
		return F_PRESENT;
	case IR_FIELD_PHYSDEV_IN:
		*name = p->bridged ? p->physdev_in : "";
		return F_PRESENT;
	case IR_FIELD_PHYSDEV_OUT:
		*name = p->bridged ? p->physdev_out : "";
		return F_PRESENT;
	default:
		return F_UNKNOWN;
	}
}

static bool ifname_match(const char *name, const char *pat, bool prefix)
{
	if (!pat)
		pat = "";
	if (prefix)
		return strncmp(name, pat, strlen(pat)) == 0;
	return strncmp(name, pat, IFNAMSIZ) == 0;
}

/* --- the region a verdict holds for --- */

static inline bool is_port_field(enum ir_field f)
{
	return f == IR_FIELD_SPORT || f == IR_FIELD_DPORT;
}

/* Narrows the region's range of port field f (holding v) to [lo, hi] when v is inside, else to
 * the side of [lo, hi] that v is on. */
static void rg_narrow(struct eval_region *rg, enum ir_field f, np_u128 v, np_u128 lo, np_u128 hi)
{
	uint16_t *a, *b;

	if (!rg)
		return;
	a = f == IR_FIELD_SPORT ? &rg->sport_lo : &rg->dport_lo;
	b = f == IR_FIELD_SPORT ? &rg->sport_hi : &rg->dport_hi;
	if (v > 65535 || v < *a || v > *b)
		return; /* the port was rewritten (dnat): the region is already that one port */
	if (v >= lo && v <= hi) {
		if (lo > *a)
			*a = (uint16_t)lo;
		if (hi < *b)
			*b = (uint16_t)hi;
	} else if (v < lo) {
		if (lo - 1 < *b)
			*b = (uint16_t)(lo - 1);
	} else if (hi + 1 > *a)
		*a = (uint16_t)(hi + 1);
}

static void rg_narrow_iset(struct eval_region *rg, enum ir_field f, np_u128 v,
			   const struct np_iset *values);

/* Notes that field f (a port or the protocol, holding v) was tested against values (or the
 * range lo..hi when values is NULL); beyond EVAL_REGION_TESTS tests, narrows the interval (or
 * ties the region to the protocol) instead. */
static void rg_test(struct eval_region *rg, enum ir_field f, np_u128 v,
		    const struct np_iset *values, np_u128 lo, np_u128 hi)
{
	struct eval_region_test *t;
	uint8_t field = f == IR_FIELD_SPORT   ? EVAL_REGION_SPORT
			: f == IR_FIELD_DPORT ? EVAL_REGION_DPORT
					      : EVAL_REGION_PROTO;
	np_u128 a = 0, b = 255;

	if (!rg)
		return;
	if (field == EVAL_REGION_PROTO) {
		if (rg->l4proto)
			return; /* already the exact protocol */
	} else {
		a = field == EVAL_REGION_SPORT ? rg->sport_lo : rg->dport_lo;
		b = field == EVAL_REGION_SPORT ? rg->sport_hi : rg->dport_hi;
		if (v > 65535 || v < a || v > b)
			return; /* the port was rewritten (dnat): the region is already that port */
	}
	if (values && values->n == 1) {
		lo = values->r[0].lo;
		hi = values->r[0].hi;
		values = NULL;
	}
	if (!values) {
		/* one range: inside narrows a port interval exactly */
		if (field != EVAL_REGION_PROTO && v >= lo && v <= hi) {
			rg_narrow(rg, f, v, lo, hi);
			return;
		}
		if (hi < a || lo > b)
			return; /* the range lies outside the interval: nothing to note */
	} else if (!np_iset_intersects_range(values, a, b))
		return; /* no value inside the interval */
	for (unsigned i = 0; i < rg->ntests; i++) {
		t = &rg->tests[i];
		if (t->field == field && t->values == values &&
		    (values || (t->lo == lo && t->hi == hi)))
			return; /* tested before, with the same outcome */
	}
	if (rg->ntests == EVAL_REGION_TESTS) {
		if (field == EVAL_REGION_PROTO)
			rg->l4proto = true;
		else if (values)
			rg_narrow_iset(rg, f, v, values);
		else
			rg_narrow(rg, f, v, lo, hi);
		return;
	}
	t = &rg->tests[rg->ntests++];
	*t = (struct eval_region_test){
		.values = values,
		.lo = (uint16_t)MIN(lo, (np_u128)65535),
		.hi = (uint16_t)MIN(hi, (np_u128)65535),
		.field = field,
		.in = values ? np_iset_contains(values, v) : (v >= lo && v <= hi),
	};
}

/* Shrinks the range of port field f to v itself. */
static void rg_point(struct eval_region *rg, enum ir_field f, np_u128 v)
{
	rg_narrow(rg, f, v, v, v);
}

/* Narrows port field f (holding v) to the values that values contains exactly as it contains
 * v (the range of values holding v, or the gap between two ranges). */
static void rg_narrow_iset(struct eval_region *rg, enum ir_field f, np_u128 v,
			   const struct np_iset *values)
{
	size_t a = 0, b = values->n; /* the first range with lo > v is in [a, b] */
	np_u128 lo, hi;

	if (!rg)
		return;
	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (values->r[m].lo <= v)
			a = m + 1;
		else
			b = m;
	}
	/* ranges [0, a) start at or below v */
	if (a > 0 && v <= values->r[a - 1].hi) {
		rg_narrow(rg, f, v, values->r[a - 1].lo, values->r[a - 1].hi);
		return;
	}
	lo = a > 0 ? values->r[a - 1].hi + 1 : 0;
	hi = a < values->n ? values->r[a].lo - 1 : NP_U128_MAX;
	rg_narrow(rg, f, v, lo, hi);
}

/* Notes that field f of p was read other than by a value list: the protocol, or a field only
 * tcp has, ties the verdict to the protocol. */
static inline void rg_read(struct eval_region *rg, const struct eval_packet *p, enum ir_field f)
{
	if (!rg)
		return;
	if (f == IR_FIELD_L4PROTO)
		rg->l4proto = true;
	else if (f == IR_FIELD_TCP_FLAGS)
		rg_test(rg, IR_FIELD_L4PROTO, p->l4proto, NULL, IPPROTO_TCP, IPPROTO_TCP);
}

static bool region_test_holds(const struct eval_region_test *t, unsigned v)
{
	bool in = t->values ? np_iset_contains(t->values, v) : (v >= t->lo && v <= t->hi);

	return in == t->in;
}

bool eval_region_holds(const struct eval_region *rg, uint8_t proto, uint16_t sport, uint16_t dport)
{
	if ((rg->l4proto && proto != rg->proto) || !has_ports(proto) || !has_ports(rg->proto))
		return false;
	if (sport < rg->sport_lo || sport > rg->sport_hi || dport < rg->dport_lo ||
	    dport > rg->dport_hi)
		return false;
	for (unsigned i = 0; i < rg->ntests; i++) {
		const struct eval_region_test *t = &rg->tests[i];
		unsigned v = t->field == EVAL_REGION_SPORT   ? sport
			     : t->field == EVAL_REGION_DPORT ? dport
							     : proto;

		if (!region_test_holds(t, v))
			return false;
	}
	return true;
}

int eval_region_ports(const struct eval_region *rg, bool sport, struct np_iset *ret)
{
	struct np_iset tmp = { 0 }, one = { 0 };
	int r = -ENOMEM;

	np_iset_clear(ret);
	if (np_iset_add(ret, sport ? rg->sport_lo : rg->dport_lo,
			sport ? rg->sport_hi : rg->dport_hi) < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < rg->ntests; i++) {
		const struct eval_region_test *t = &rg->tests[i];
		const struct np_iset *v = t->values;

		if (t->field != (sport ? EVAL_REGION_SPORT : EVAL_REGION_DPORT))
			continue;
		if (!v) {
			np_iset_clear(&one);
			if (np_iset_add(&one, t->lo, t->hi) < 0)
				goto out;
			v = &one;
		}
		if ((t->in ? np_iset_intersect(ret, v, &tmp) : np_iset_subtract(ret, v, &tmp)) < 0)
			goto out;
		/* swap: both keep their room for the next test */
		{
			struct np_iset x = *ret;

			*ret = tmp;
			tmp = x;
		}
	}
	r = 0;
out:
	np_iset_done(&tmp);
	np_iset_done(&one);
	return r;
}

/* --- set lookups --- */

struct key {
	np_u128 v[IR_KEY_MAX];
	const char *name[IR_KEY_MAX];
};

/* Builds the lookup key; T_FALSE if a field is absent (no element can match), T_UNKNOWN. */
static enum tri key_build(const struct eval_packet *p, const struct ir_setref *ref,
			  const struct ir_set *s, struct key *k)
{
	/* xt_set gives a direction per dimension and a set uses as many as it has (list:set
	 * members may differ); an nft lookup names exactly the set's key. */
	if (ref->ipset ? ref->nkey < s->nkey : ref->nkey != s->nkey)
		return T_UNKNOWN;
	for (unsigned i = 0; i < s->nkey; i++) {
		enum ir_field f = ref->key[i];
		bool addr = f == IR_FIELD_SADDR || f == IR_FIELD_DADDR;
		int r;

		/* a field of another type than the set's (say a list:set member whose dimensions
		 * do not line up with the match's): no sound answer */
		if (addr != (s->keytype[i] == IR_KEY_ADDR))
			return T_UNKNOWN;
		if (s->keytype[i] == IR_KEY_IFNAME)
			r = field_name(p, f, &k->name[i]);
		else if (ref->ipset && (f == IR_FIELD_SPORT || f == IR_FIELD_DPORT) &&
			 !has_ports(p->l4proto)) {
			/* ipset: ICMP "ports" are type << 8 | code; other protocols port 0. */
			k->v[i] = is_icmp(p->l4proto) ? ((unsigned)p->icmp_type << 8 | p->icmp_code)
						      : 0;
			r = F_PRESENT;
		} else
			r = field_num(p, f, &k->v[i]);
		if (r == F_ABSENT)
			return T_FALSE;
		if (r == F_UNKNOWN)
			return T_UNKNOWN;
	}
	return T_TRUE;
}

static bool elem_match(const struct ir_set *s, const struct ir_set_elem *e, const struct key *k)
{
	for (unsigned i = 0; i < s->nkey; i++) {
		const struct ir_key_part *part = &e->key[i];

		if (s->keytype[i] == IR_KEY_IFNAME) {
			if (!ifname_match(k->name[i], part->ifname, part->prefix))
				return false;
		} else if (k->v[i] < part->lo || k->v[i] > part->hi)
			return false;
	}
	return true;
}

/* Finds the element of s deciding for k: the most specific one on the indexed field (ipset's
 * nomatch semantics: the most specific entry decides). Returns true and *ret when it matches. */
static bool set_find(const struct eval_ctx *ctx, const struct ir_set *s, const struct key *k,
		     const struct ir_set_elem **ret)
{
	const struct set_index *x = s->id < ctx->nsets ? &ctx->sets[s->id] : NULL;
	const struct ir_set_elem *best = NULL;
	np_u128 best_size = 0;
	int32_t bi = SEG_NONE;
	long g;

	*ret = NULL;
	if (x && x->set == s && x->names) {
		for (size_t h = ifname_hash(k->name[0], x->names_mask); x->names[h].name;
		     h = (h + 1) & x->names_mask)
			if (strncmp(x->names[h].name, k->name[0], IFNAMSIZ) == 0) {
				*ret = &s->elems.items[x->names[h].elem];
				return !(*ret)->nomatch;
			}
		return false;
	}
	if (!x || x->set != s || x->field < 0) {
		EVAL_FOREACH(e, &s->elems)
		if (elem_match(s, e, k)) {
			*ret = e;
			return !e->nomatch;
		}
		return false;
	}
	g = set_index_segment(x, k->v[x->field], &bi);
	if (g < 0)
		return false;
	if (x->best) {
		if (bi < 0)
			return false;
		*ret = &s->elems.items[bi];
		return true;
	}
	for (uint32_t i = x->off[g]; i < x->off[g + 1]; i++) {
		const struct ir_set_elem *e = &s->elems.items[x->elems[i]];
		np_u128 size = e->key[x->field].hi - e->key[x->field].lo;

		if (!elem_match(s, e, k))
			continue;
		if (!best || size < best_size) {
			best = e;
			best_size = size;
		}
	}
	*ret = best;
	return best && !best->nomatch;
}

/* Looks the packet up in s as ref says (list:set: in its members, in order, each with its own
 * key layout). */
/* Narrows rg to the ports for which s answers a lookup of k as it does for k: for a one-field
 * port set, the index segment holding the port (its elements are the same throughout); a port
 * in a concatenated key shrinks to the port itself. */
static void rg_set(struct eval_region *rg, const struct eval_ctx *ctx, const struct ir_setref *ref,
		   const struct ir_set *s, const struct key *k)
{
	if (!rg)
		return;
	for (unsigned i = 0; i < s->nkey; i++) {
		enum ir_field f = ref->key[i];
		const struct set_index *x;

		if (!is_port_field(f))
			continue; /* the protocol: set_lookup() noted it */
		x = s->id < ctx->nsets ? &ctx->sets[s->id] : NULL;
		if (s->nkey == 1 && x && x->set == s && x->field == 0 && x->nseg > 0) {
			size_t g = seg_find(x->seg_lo, x->nseg, k->v[0]);

			rg_narrow(rg, f, k->v[0], x->seg_lo[g],
				  g + 1 < x->nseg ? x->seg_lo[g + 1] - 1 : NP_U128_MAX);
		} else
			rg_point(rg, f, k->v[i]);
	}
}

static enum tri set_lookup(const struct eval_ctx *ctx, const struct eval_packet *p,
			   const struct ir_setref *ref, const struct ir_set *s,
			   const struct ir_set_elem **ret, unsigned depth, struct eval_region *rg)
{
	struct key k;
	enum tri t;

	if (s->flags & IR_SET_LIST) {
		if (depth > 8)
			return T_UNKNOWN;
		EVAL_FOREACH(mp, &s->member_sets)
		{
			t = set_lookup(ctx, p, ref, *mp, ret, depth + 1, rg);
			if (t != T_FALSE)
				return t;
		}
		return s->member_sets.n == s->members.n ? T_FALSE : T_UNKNOWN;
	}
	t = key_build(p, ref, s, &k);
	if (rg)
		for (unsigned i = 0; i < ref->nkey; i++)
			rg_read(rg, p, ref->key[i]);
	if (t != T_TRUE) {
		/* A port field absent or unknown: only the protocol decided that. */
		return t;
	}
	rg_set(rg, ctx, ref, s, &k);
	return set_find(ctx, s, &k, ret) ? T_TRUE : T_FALSE;
}

static enum tri ref_lookup(const struct eval_ctx *ctx, const struct eval_packet *p,
			   const struct ir_setref *ref, const struct ir_set_elem **ret,
			   struct eval_region *rg)
{
	*ret = NULL;
	if (!ref->set)
		return T_UNKNOWN;
	return set_lookup(ctx, p, ref, ref->set, ret, 0, rg);
}

int eval_ref_holds_addr(const struct eval_ctx *ctx, const struct ir_setref *ref, int family,
			np_u128 saddr, np_u128 daddr)
{
	const struct ir_set_elem *e;
	struct eval_packet p;
	enum tri t;

	if (ref->nkey != 1 || (ref->key[0] != IR_FIELD_SADDR && ref->key[0] != IR_FIELD_DADDR))
		return -1;
	eval_packet_init(&p, family, EVAL_PATH_FORWARD);
	p.saddr = saddr;
	p.daddr = daddr;
	t = ref_lookup(ctx, &p, ref, &e, NULL);
	return t == T_TRUE ? 1 : t == T_FALSE ? 0 : -1;
}

/* --- predicates --- */

static inline bool is_ifname_field(enum ir_field f)
{
	return f == IR_FIELD_IIFNAME || f == IR_FIELD_OIFNAME || f == IR_FIELD_PHYSDEV_IN ||
	       f == IR_FIELD_PHYSDEV_OUT;
}

/* np_iset_contains() with the common one-range case inline. */
static inline bool iset_contains(const struct np_iset *s, np_u128 v)
{
	if (s->n == 1)
		return v >= s->r[0].lo && v <= s->r[0].hi;
	return s->n > 0 && np_iset_contains(s, v);
}

static enum tri pred_eval(const struct eval_ctx *ctx, const struct eval_packet *p,
			  const struct ir_pred *pr, struct eval_region *rg)
{
	np_u128 v;
	int r;

	switch (pr->kind) {
	case IR_PRED_MATCH:
		if (is_ifname_field(pr->field)) {
			const char *name;
			bool in = false;

			if (field_name(p, pr->field, &name) != F_PRESENT)
				return T_UNKNOWN;
			EVAL_FOREACH(n, &pr->ifnames)
			if (ifname_match(name, n->name, n->prefix)) {
				in = true;
				break;
			}
			return tri_not(in ? T_TRUE : T_FALSE, pr->negate);
		}
		r = field_num(p, pr->field, &v);
		if (pr->field == IR_FIELD_L4PROTO && !pr->masked)
			rg_test(rg, pr->field, v, &pr->values, 0, 0);
		else
			rg_read(rg, p, pr->field);
		if (r == F_ABSENT)
			return T_FALSE;
		if (r == F_UNKNOWN)
			return T_UNKNOWN;
		if (is_port_field(pr->field)) {
			if (pr->masked)
				rg_point(rg, pr->field, v);
			else
				rg_test(rg, pr->field, v, &pr->values, 0, 0);
		}
		if (pr->masked)
			v &= pr->mask;
		return tri_not(iset_contains(&pr->values, v) ? T_TRUE : T_FALSE, pr->negate);
	case IR_PRED_BITS:
		r = field_num(p, pr->field, &v);
		rg_read(rg, p, pr->field);
		if (r == F_PRESENT && is_port_field(pr->field))
			rg_point(rg, pr->field, v);
		if (r == F_ABSENT)
			return T_FALSE;
		if (r == F_UNKNOWN)
			return T_UNKNOWN;
		if (v & pr->bits)
			return tri_not(T_TRUE, pr->negate);
		/* xt_conntrack's virtual SNAT/DNAT states need the connection's NAT binding. */
		if (pr->field == IR_FIELD_CT_STATE && (pr->bits & (IR_CT_SNAT | IR_CT_DNAT)))
			return T_UNKNOWN;
		return tri_not(T_FALSE, pr->negate);
	case IR_PRED_LOOKUP: {
		const struct ir_set_elem *e;

		return tri_not(ref_lookup(ctx, p, &pr->ref, &e, rg), pr->negate);
	}
	case IR_PRED_OPAQUE:
	default:
		return T_UNKNOWN;
	}
}

/* What the rule's first predicate says for p, as pred_eval() would (narrowing rg alike): PF_FALSE,
 * PF_TRUE, or PF_MAYBE when the prefilter cannot tell (pred_eval() decides). */
enum {
	PF_MAYBE,
	PF_FALSE,
	PF_TRUE,
};

static inline int prefilter(const struct eval_packet *p, const struct prefilter *pf,
			    struct eval_region *rg)
{
	np_u128 v;
	const char *name;
	int r;

	switch (pf->kind) {
	case PF_RANGE:
		if (pf->field == IR_FIELD_L4PROTO && !pf->masked) {
			/* the most common first predicate: no 128-bit detour */
			unsigned x = p->l4proto;

			if (rg && !rg->l4proto)
				rg_test(rg, pf->field, x, NULL, pf->lo, pf->hi);
			return (x >= pf->lo && x <= pf->hi) == pf->negate ? PF_FALSE : PF_TRUE;
		}
		r = field_num(p, pf->field, &v);
		if (pf->field == IR_FIELD_L4PROTO && !pf->masked)
			rg_test(rg, pf->field, v, NULL, pf->lo, pf->hi);
		else
			rg_read(rg, p, pf->field);
		if (r == F_ABSENT)
			return PF_FALSE;
		if (r == F_UNKNOWN)
			return PF_MAYBE;
		if (is_port_field(pf->field)) {
			if (pf->masked)
				rg_point(rg, pf->field, v);
			else
				rg_test(rg, pf->field, v, NULL, pf->lo, pf->hi);
		}
		if (pf->masked)
			v &= pf->mask;
		return (v >= pf->lo && v <= pf->hi) == pf->negate ? PF_FALSE : PF_TRUE;
	case PF_IFNAME:
		if (field_name(p, pf->field, &name) != F_PRESENT)
			return PF_MAYBE;
		return (pf->prefix ? strncmp(name, pf->name, pf->len) == 0
				   : strncmp(name, pf->name, IFNAMSIZ) == 0) == pf->negate
			       ? PF_FALSE
			       : PF_TRUE;
	case PF_BITS:
		r = field_num(p, pf->field, &v);
		rg_read(rg, p, pf->field);
		if (r == F_PRESENT && is_port_field(pf->field))
			rg_point(rg, pf->field, v);
		if (r == F_ABSENT)
			return PF_FALSE;
		if (r == F_UNKNOWN)
			return PF_MAYBE;
		if (v & pf->mask)
			return pf->negate ? PF_FALSE : PF_TRUE;
		if (pf->field == IR_FIELD_CT_STATE && (pf->mask & (IR_CT_SNAT | IR_CT_DNAT)))
			return PF_MAYBE;
		return pf->negate ? PF_TRUE : PF_FALSE;
	default:
		return PF_MAYBE;
	}
}

/* --- the walk --- */

struct frame {
	const struct ir_chain *chain;
	unsigned rule; /* index of the rule being evaluated (after a jump: the one to resume) */
};

struct state {
	struct eval_packet pkt;
	unsigned hook_i, base_i;
	const struct ir_chain *base; /* NULL between base chains */
	unsigned depth;
	/* Conntrack: chains before it (ingress, and prerouting/output below priority -200) see no
	 * connection (ct state invalid, no ct mark) unless notrack made the packet untracked. */
	uint32_t ct_real;
	bool pre_ct, notracked;
	VEC(struct eval_trace_entry) trace;
	struct eval_trace_entry decided, last;
	long decided_idx, last_idx;
	int decided_rank;
	bool has_last;
	/* The reason of an accept or drop is formatted from the deciding entry at the end. */
	enum {
		RSN_TEXT,
		RSN_DECIDED,
	} rsn;
	/* Not initialised up front (eval_packet() zeroes what comes before). */
	char reason[512];
	struct frame stack[EVAL_JUMP_MAX_LEGACY + 1];
};

struct env {
	const struct eval_ctx *ctx;
	enum ir_hook hooks[EVAL_PATH_HOOKS_MAX];
	size_t nhooks;
	int fi;
	enum ir_hook main_hook;
	bool with_trace;
	bool track_last; /* keep the last entry too (with_trace, or explaining an unknown) */
	unsigned forks;
	bool oom;
	struct eval_region rg; /* narrowed by every test of the evaluation, all forks included */
	struct eval_memo *memo; /* the graph this walk adds to, or NULL */
};

static void state_done(struct state *st)
{
	VEC_DONE(&st->trace);
}

static int state_copy(const struct state *src, struct state *ret)
{
	*ret = *src;
	ret->trace.items = NULL;
	ret->trace.n = ret->trace.cap = 0;
	if (src->trace.n == 0)
		return 0;
	if (VEC_RESERVE(&ret->trace, src->trace.n) < 0)
		return -ENOMEM;
	memcpy(ret->trace.items, src->trace.items, src->trace.n * sizeof(*src->trace.items));
	ret->trace.n = src->trace.n;
	return 0;
}

/* --- shared walks: the graph of a batch's walks (see eval_packet_memo()) --- */

enum {
	MK_NOMATCH,
	MK_MATCH, /* with the verdict applied */
	MK_TO, /* a dispatch run led to another position */
};

/* The outcome of the step at a node: what the walk does next depends on nothing else. */
struct memo_key {
	uint8_t how, kind; /* MK_*; the verdict kind of a match */
	uint32_t to; /* MK_TO: the position */
	const struct ir_chain *target; /* a match's jump or goto target */
};

struct memo_edge {
	uint32_t node; /* from this node (index + 1); 0: an empty slot */
	uint32_t child; /* to this one (index + 1) */
	struct memo_key key; /* for this outcome of the node's step */
};

struct memo_node {
	/* A step: the rule at position pos of chain, and the state the rule sees. */
	const struct ir_chain *chain;
	uint32_t pos, id;
	uint32_t mark, ct_mark, ct_state;
	bool pre_ct, notracked;
	size_t snap; /* offset in snaps of the whole state before the step */
	uint32_t snap_size;
	uint64_t hash; /* of the snapshot */
	/* A leaf (leaf true): the walk's end. */
	bool leaf;
	enum eval_verdict verdict;
	int decided_rank;
	struct eval_trace_entry decided;
};

/* The state a snapshot keeps: everything before the reason, and the used part of the stack. */
#define SNAP_HEAD offsetof(struct state, reason)

struct eval_memo {
	unsigned vary;
	const struct eval_ctx *ctx;
	uint64_t serial; /* ctx's: a context freed and another made at its address differ */
	struct eval_packet first; /* the batch's first packet: its fixed fields are the batch's */
	bool batch, off; /* off: this batch's walks are not shared (device chains) */
	uint32_t root; /* node index + 1, or 0 */
	VEC(struct memo_node) nodes;
	struct memo_edge *edges; /* open addressing on (node, outcome) */
	size_t edges_mask, edges_n;
	uint8_t *snaps;
	size_t snaps_n, snaps_cap;
	/* the walk being kept */
	bool abort; /* the walk is not kept from here on */
	uint32_t open; /* the node whose step's outcome is pending (+ 1), or 0 */
	uint32_t resumed; /* the node the walk resumes at (+ 1): its step is no new node */
	struct memo_key key; /* the pending outcome */
	uint32_t merged; /* the walk met the state of this node (+ 1): it descends from there */
	/* the nodes by the hash of their state (index + 1; 0 empty): walks that reach the same
	 * state go on as one */
	uint32_t *ht;
	size_t ht_mask, ht_n;
	struct state scratch; /* the steps of a descent */
	struct eval_memo_stats stats;
};

/* A batch's graph grows by at most one node per rule of a new path; past these sizes it starts
 * over (same answers, fewer shared). */
#define MEMO_NODES_MAX (1u << 18)
#define MEMO_SNAPS_MAX ((size_t)64 << 20)

static void memo_clear(struct eval_memo *m)
{
	m->root = 0;
	m->nodes.n = 0;
	if (m->edges)
		memset(m->edges, 0, (m->edges_mask + 1) * sizeof(*m->edges));
	m->edges_n = 0;
	m->snaps_n = 0;
	m->open = m->resumed = m->merged = 0;
	m->abort = false;
	if (m->ht)
		memset(m->ht, 0, (m->ht_mask + 1) * sizeof(*m->ht));
	m->ht_n = 0;
}

/* Writes st's snapshot to buf (SNAP_HEAD + depth frames): the varying fields of the packet and
 * the trace array, which differ from walk to walk on the same path, zeroed. */
static void memo_snapshot(const struct eval_memo *m, const struct state *st, uint8_t *buf)
{
	struct eval_packet pk;
	typeof(st->trace) none = { 0 };

	memcpy(buf, st, SNAP_HEAD);
	memcpy(buf + SNAP_HEAD, st->stack, st->depth * sizeof(struct frame));
	memcpy(&pk, &st->pkt, sizeof(pk));
	if (m->vary & EVAL_VARY_SADDR)
		pk.saddr = 0;
	if (m->vary & EVAL_VARY_DADDR)
		pk.daddr = 0;
	if (m->vary & EVAL_VARY_IIF) {
		memset(pk.iif, 0, sizeof(pk.iif));
		pk.iif_index = 0;
	}
	if (m->vary & EVAL_VARY_OIF) {
		memset(pk.oif, 0, sizeof(pk.oif));
		pk.oif_index = 0;
	}
	pk.l4proto = 0;
	pk.sport = pk.dport = 0;
	pk.icmp_type = pk.icmp_code = 0;
	pk.tcp_flags_set = false;
	pk.tcp_flags = 0;
	memcpy(buf + offsetof(struct state, pkt), &pk, sizeof(pk));
	memcpy(buf + offsetof(struct state, trace), &none, sizeof(none));
}

/* Returns the node (+ 1) whose snapshot equals snap (size bytes, hash h), or 0. */
static uint32_t memo_find(const struct eval_memo *m, const uint8_t *snap, uint32_t size, uint64_t h)
{
	if (!m->ht)
		return 0;
	for (size_t i = h & m->ht_mask; m->ht[i]; i = (i + 1) & m->ht_mask) {
		const struct memo_node *x = &m->nodes.items[m->ht[i] - 1];

		if (x->hash == h && x->snap_size == size &&
		    memcmp(m->snaps + x->snap, snap, size) == 0)
			return m->ht[i];
	}
	return 0;
}

/* Adds node n (+ 1) to the hash table; a table without memory only finds fewer. */
static void memo_index(struct eval_memo *m, uint32_t n)
{
	size_t i;

	if (2 * (m->ht_n + 1) > (m->ht ? m->ht_mask + 1 : 0)) {
		size_t cap = m->ht ? 2 * (m->ht_mask + 1) : 1024;
		uint32_t *v = calloc(cap, sizeof(*v));

		if (!v)
			return;
		for (size_t j = 0; m->ht && j <= m->ht_mask; j++)
			if (m->ht[j]) {
				for (i = m->nodes.items[m->ht[j] - 1].hash & (cap - 1); v[i];
				     i = (i + 1) & (cap - 1))
					;
				v[i] = m->ht[j];
			}
		free(m->ht);
		m->ht = v;
		m->ht_mask = cap - 1;
	}
	for (i = m->nodes.items[n - 1].hash & m->ht_mask; m->ht[i]; i = (i + 1) & m->ht_mask)
		;
	m->ht[i] = n;
	m->ht_n++;
}

static bool memo_key_eq(const struct memo_key *a, const struct memo_key *b)
{
	return a->how == b->how && a->kind == b->kind && a->to == b->to && a->target == b->target;
}

static size_t memo_edge_hash(uint32_t n, const struct memo_key *k)
{
	uint64_t h = (uint64_t)n * 0x9e3779b97f4a7c15ull;

	h ^= ((uint64_t)k->how << 40 | (uint64_t)k->kind << 32 | k->to) * 0xff51afd7ed558ccdull;
	h ^= (uint64_t)(uintptr_t)k->target * 0xc4ceb9fe1a85ec53ull;
	return (size_t)(h ^ h >> 29);
}

/* Returns the child of node n (+ 1) for outcome k, or 0. */
static uint32_t memo_child(const struct eval_memo *m, uint32_t n, const struct memo_key *k)
{
	if (!m->edges)
		return 0;
	for (size_t i = memo_edge_hash(n, k) & m->edges_mask; m->edges[i].node;
	     i = (i + 1) & m->edges_mask)
		if (m->edges[i].node == n && memo_key_eq(&m->edges[i].key, k))
			return m->edges[i].child;
	return 0;
}

/* Makes node n (+ 1) the next one of the pending outcome, or the root. Returns 0 or -ENOMEM. */
static int memo_link(struct eval_memo *m, uint32_t n)
{
	size_t i;

	if (!m->open) {
		m->root = n;
		return 0;
	}
	if (2 * (m->edges_n + 1) > (m->edges ? m->edges_mask + 1 : 0)) {
		size_t cap = m->edges ? 2 * (m->edges_mask + 1) : 1024;
		struct memo_edge *v = calloc(cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		for (size_t j = 0; m->edges && j <= m->edges_mask; j++) {
			const struct memo_edge *e = &m->edges[j];

			if (!e->node)
				continue;
			for (i = memo_edge_hash(e->node, &e->key) & (cap - 1); v[i].node;
			     i = (i + 1) & (cap - 1))
				;
			v[i] = *e;
		}
		free(m->edges);
		m->edges = v;
		m->edges_mask = cap - 1;
	}
	for (i = memo_edge_hash(m->open, &m->key) & m->edges_mask; m->edges[i].node;
	     i = (i + 1) & m->edges_mask)
		;
	m->edges[i] = (struct memo_edge){ .node = m->open, .child = n, .key = m->key };
	m->edges_n++;
	return 0;
}

/* Returns the index + 1 of a new node for the state st, or 0 (no memory, or the graph is full). */
static uint32_t memo_node_new(struct eval_memo *m, const struct state *st, bool leaf)
{
	struct memo_node x = { 0 };

	if (m->nodes.n >= MEMO_NODES_MAX)
		return 0;
	if (!leaf) {
		const struct frame *f = &st->stack[st->depth - 1];
		/* rounded up: every snapshot starts aligned */
		size_t need = (SNAP_HEAD + st->depth * sizeof(struct frame) + 15) & ~(size_t)15;

		if (m->snaps_n + need > m->snaps_cap) {
			size_t cap = m->snaps_cap ? 2 * m->snaps_cap : 64 * 1024;
			uint8_t *v;

			while (cap < m->snaps_n + need)
				cap *= 2;
			if (cap > MEMO_SNAPS_MAX || !(v = realloc(m->snaps, cap)))
				return 0;
			m->snaps = v;
			m->snaps_cap = cap;
		}
		memset(m->snaps + m->snaps_n, 0, need);
		memo_snapshot(m, st, m->snaps + m->snaps_n);
		x.snap = m->snaps_n;
		x.snap_size = (uint32_t)need;
		x.hash = np_hash64_block(0x6d656d6f, m->snaps + m->snaps_n, need);
		x.chain = f->chain;
		x.pos = f->rule;
		x.id = m->ctx->chain_first[f->chain->id] + f->rule;
		x.mark = st->pkt.mark;
		x.ct_mark = st->pkt.ct_mark;
		x.ct_state = st->pkt.ct_state;
		x.pre_ct = st->pre_ct;
		x.notracked = st->notracked;
	}
	x.leaf = leaf;
	if (!leaf) {
		uint32_t same = memo_find(m, m->snaps + x.snap, x.snap_size, x.hash);

		if (same)
			return same; /* the snapshot just written is dropped (snaps_n unchanged) */
		m->snaps_n += x.snap_size;
	}
	if (VEC_PUSH(&m->nodes, x) < 0)
		return 0;
	if (!leaf)
		memo_index(m, (uint32_t)m->nodes.n);
	return (uint32_t)m->nodes.n;
}

/* Before the step at rule id: returns 1 when it is a node of the graph (its outcome is then
 * reported with memo_outcome()), adding the node when the walk is kept; 0 when it is not; -1
 * when the state is an existing node's (m->merged): the walk stops and descends from there. */
static int memo_begin(struct env *env, const struct state *st, uint32_t id)
{
	struct eval_memo *m = env->memo;
	uint8_t b = env->ctx->rule_memo[id];
	uint32_t n, before;

	if (m->abort || !(b & m->vary))
		return 0;
	if (b & MEMO_UNSAFE) {
		m->abort = true;
		return 0;
	}
	if (m->resumed) {
		m->open = m->resumed;
		m->resumed = 0;
		return 1;
	}
	before = (uint32_t)m->nodes.n;
	if (!(n = memo_node_new(m, st, false)) || memo_link(m, n) < 0) {
		m->abort = true;
		return 0;
	}
	if (n <= before) {
		m->merged = n;
		return -1;
	}
	m->open = n;
	return 1;
}

static void memo_outcome(struct env *env, uint8_t how, uint32_t to, const struct ir_verdict *v)
{
	struct eval_memo *m = env->memo;

	m->key = (struct memo_key){
		.how = how,
		.to = to,
		.kind = v ? (uint8_t)v->kind : 0,
		.target = v ? v->target : NULL,
	};
}

/* The end of a kept walk with verdict v: adds its leaf. */
static void memo_end(struct env *env, const struct state *st, enum eval_verdict v)
{
	struct eval_memo *m = env->memo;
	struct memo_node *x;
	uint32_t n;

	if (m->abort || m->resumed || v == EVAL_UNKNOWN || st->rsn != RSN_DECIDED || env->forks)
		return;
	if (!(n = memo_node_new(m, st, true)) || memo_link(m, n) < 0)
		return;
	x = &m->nodes.items[n - 1];
	x->verdict = v;
	x->decided = st->decided;
	x->decided_rank = st->decided_rank;
	x->mark = st->pkt.mark;
	x->ct_mark = st->pkt.ct_mark;
}

_printf_(2, 3) static void set_reason(struct state *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->reason, sizeof(st->reason), fmt, ap);
	va_end(ap);
	st->rsn = RSN_TEXT;
}

/* Which entry explains the verdict: a drop/queue ends it; for accept prefer an accept by a
 * rule of the path's main hook (forward/input/output), then that hook's policy, then any
 * accepting rule. */
static int entry_rank(const struct env *env, const struct eval_trace_entry *e)
{
	switch (e->action) {
	case IR_VERDICT_DROP:
	case IR_VERDICT_REJECT:
	case IR_VERDICT_QUEUE:
		return 5;
	case IR_VERDICT_ACCEPT:
		if (e->hook == env->main_hook)
			return e->rule ? 4 : 3;
		return e->rule ? 2 : 1;
	default:
		return 0;
	}
}

static void record(struct env *env, struct state *st, const struct ir_rule *rule,
		   const struct ir_chain *chain, enum ir_verdict_kind action,
		   const struct ir_chain *target, const char *note)
{
	struct eval_trace_entry e = {
		.rule = rule,
		.chain = chain,
		.base = st->base,
		.hook = st->base ? st->base->hook : IR_HOOK_NONE,
		.action = action,
		.target = target,
		.note = note,
	};
	int rank;
	long idx = -1;

	if (!env->track_last) {
		/* Only the deciding entry is kept: most matched rules (marks, jumps) rank 0. */
		switch (action) {
		case IR_VERDICT_ACCEPT:
		case IR_VERDICT_DROP:
		case IR_VERDICT_REJECT:
		case IR_VERDICT_QUEUE:
			break;
		default:
			return;
		}
		rank = entry_rank(env, &e);
		if (rank > 0 && rank >= st->decided_rank) {
			st->decided = e;
			st->decided_idx = -1;
			st->decided_rank = rank;
		}
		return;
	}
	rank = entry_rank(env, &e);
	if (env->with_trace) {
		if (VEC_PUSH(&st->trace, e) < 0)
			env->oom = true;
		else
			idx = (long)st->trace.n - 1;
	}
	st->last = e;
	st->last_idx = idx;
	st->has_last = true;
	if (rank > 0 && rank >= st->decided_rank) {
		st->decided = e;
		st->decided_idx = idx;
		st->decided_rank = rank;
	}
}

/* Bounded string building without printf: reasons are made for every traced packet. */
struct rbuf {
	char *p, *end; /* end: the last byte, kept for the NUL */
};

static void rb_puts(struct rbuf *b, const char *s)
{
	while (*s && b->p < b->end)
		*b->p++ = *s++;
	*b->p = 0;
}

static void rb_int(struct rbuf *b, long v)
{
	char tmp[24], *q = tmp + sizeof(tmp) - 1;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	*q = 0;
	do
		*--q = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--q = '-';
	rb_puts(b, q);
}

static void rb_rule_where(struct rbuf *b, const struct ir_rule *r)
{
	const struct ir_chain *c = r->chain;
	const struct ir_table *t = c ? c->table : NULL;

	rb_puts(b, t ? ir_source_to_string(t->source) : "?");
	rb_puts(b, " ");
	rb_puts(b, t ? ir_family_to_string(t->family) : "?");
	rb_puts(b, " ");
	rb_puts(b, t ? t->name : "?");
	rb_puts(b, " chain ");
	rb_puts(b, c ? c->name : "?");
	rb_puts(b, " rule ");
	rb_int(b, r->position);
}

static const char *rule_where(const struct ir_rule *r, char *buf, size_t size)
{
	struct rbuf b = { buf, buf + size - 1 };

	*buf = 0;
	rb_rule_where(&b, r);
	return buf;
}

enum rule_outcome {
	R_NOMATCH,
	R_MATCH, /* *verdict holds the verdict to apply */
	R_UNKNOWN_PRED, /* *at holds the predicate index */
	R_UNKNOWN, /* st->reason says why */
};

/* Applies a mark statement to the state's packet. */
static void mark_apply(struct state *st, const struct ir_stmt *s)
{
	uint32_t src = 0, *dst;

	if (s->mark_src == IR_FIELD_META_MARK)
		src = st->pkt.mark;
	else if (s->mark_src == IR_FIELD_CT_MARK)
		src = st->pkt.ct_mark;
	dst = s->mark_dst == IR_FIELD_CT_MARK ? &st->pkt.ct_mark : &st->pkt.mark;
	*dst = (*dst & ~s->mark_clear) ^ (src & s->mark_src_mask) ^ s->mark_xor;
}

static enum rule_outcome nat_apply(struct state *st, const struct ir_rule *r,
				   const struct ir_stmt *s, const char **note)
{
	char where[256];

	switch (s->nat) {
	case IR_NAT_DNAT:
	case IR_NAT_REDIRECT:
		if (s->nat == IR_NAT_DNAT && s->nat_has_addr && s->nat_addr_lo == s->nat_addr_hi &&
		    (!s->nat_has_port || s->nat_port_lo == s->nat_port_hi)) {
			st->pkt.daddr = s->nat_addr_lo;
			if (s->nat_has_port && has_ports(st->pkt.l4proto))
				st->pkt.dport = s->nat_port_lo;
			*note = "destination rewritten by dnat (interfaces not looked up again)";
			return R_MATCH;
		}
		set_reason(st, "destination rewritten to an address not known in advance by %s",
			   rule_where(r, where, sizeof(where)));
		return R_UNKNOWN;
	case IR_NAT_SNAT:
		if (s->nat_has_addr && s->nat_addr_lo == s->nat_addr_hi) {
			st->pkt.saddr = s->nat_addr_lo;
			*note = "source rewritten by snat";
			return R_MATCH;
		}
		*note = "source rewritten by snat (later rules see the original source)";
		return R_MATCH;
	default:
		*note = "source rewritten by masquerade (later rules see the original source)";
		return R_MATCH;
	}
}

/*
 * Runs the statements placed before predicate `upto` (from *si on) and returns R_MATCH to go on,
 * or the rule's outcome: R_NOMATCH (verdict map without element), R_MATCH with a verdict set
 * (*decided), R_UNKNOWN.
 */
static enum rule_outcome stmts_run(struct env *env, struct state *st, const struct ir_rule *r,
				   size_t *si, unsigned upto, struct ir_verdict *verdict,
				   bool *decided, const char **note)
{
	char where[256];

	for (; *si < r->stmts.n && r->stmts.items[*si].after <= upto; (*si)++) {
		const struct ir_stmt *s = &r->stmts.items[*si];

		switch (s->kind) {
		case IR_STMT_MARK:
			if ((s->mark_dst == IR_FIELD_CT_MARK || s->mark_src == IR_FIELD_CT_MARK) &&
			    (st->pkt.ct_state & (IR_CT_INVALID | IR_CT_UNTRACKED)))
				break; /* no connection to carry a ct mark */
			mark_apply(st, s);
			break;
		case IR_STMT_VMAP: {
			const struct ir_set_elem *e;
			enum tri t = ref_lookup(env->ctx, &st->pkt, &s->ref, &e, &env->rg);

			if (t == T_UNKNOWN) {
				set_reason(st,
					   "verdict map %s%s cannot be looked up for this packet "
					   "in %s",
					   s->ref.ipset ? "ipset " : "@", s->ref.name,
					   rule_where(r, where, sizeof(where)));
				return R_UNKNOWN;
			}
			if (t == T_FALSE || !e)
				return R_NOMATCH;
			if (e->verdict.kind != IR_VERDICT_CONTINUE) {
				*verdict = e->verdict;
				*decided = true;
				(*si)++;
				return R_MATCH;
			}
			break;
		}
		case IR_STMT_NAT: {
			enum rule_outcome o;

			np_u128 sa = st->pkt.saddr, da = st->pkt.daddr;
			uint16_t dp = st->pkt.dport;

			if (s->nat == IR_NAT_DNAT && s->nat_has_port)
				rg_point(&env->rg, IR_FIELD_DPORT, st->pkt.dport);
			o = nat_apply(st, r, s, note);
			if (env->memo &&
			    (st->pkt.saddr != sa || st->pkt.daddr != da || st->pkt.dport != dp))
				env->memo->abort = true; /* the packet is no longer the batch's */

			if (o != R_MATCH)
				return o;
			*verdict = (struct ir_verdict){ .kind = IR_VERDICT_ACCEPT };
			*decided = true;
			(*si)++;
			return R_MATCH;
		}
		case IR_STMT_LIMIT:
			*note = "limit treated as matching";
			break;
		case IR_STMT_NOTRACK:
			/* only a packet that has no connection yet can be left untracked */
			if (st->pre_ct) {
				st->notracked = true;
				st->pkt.ct_state = IR_CT_UNTRACKED;
			}
			break;
		case IR_STMT_LOG:
		case IR_STMT_COUNTER:
		case IR_STMT_NOTE:
			break;
		case IR_STMT_OPAQUE:
		default:
			set_reason(st, "statement with unknown effect in %s: %s",
				   rule_where(r, where, sizeof(where)), s->text ? s->text : "?");
			return R_UNKNOWN;
		}
	}
	return R_MATCH;
}

static enum rule_outcome rule_eval(struct env *env, struct state *st, const struct ir_rule *r,
				   unsigned start, struct ir_verdict *verdict, unsigned *at,
				   const char **note)
{
	size_t si = 0;
	bool decided = false;
	enum rule_outcome o;

	while (si < r->stmts.n && r->stmts.items[si].after < start)
		si++;
	for (unsigned i = start;; i++) {
		/* statements due before predicate i (most rules have none) */
		if (si < r->stmts.n && r->stmts.items[si].after <= i) {
			o = stmts_run(env, st, r, &si, i, verdict, &decided, note);
			if (o != R_MATCH || decided)
				return o;
		}
		if (i >= r->preds.n)
			break;
		switch (pred_eval(env->ctx, &st->pkt, &r->preds.items[i], &env->rg)) {
		case T_FALSE:
			return R_NOMATCH;
		case T_TRUE:
			break;
		case T_UNKNOWN:
			*at = i;
			return R_UNKNOWN_PRED;
		}
	}
	*verdict = r->verdict;
	return R_MATCH;
}

static enum eval_verdict run(struct env *env, struct state *st, int resume);

/* The reason of an accept or drop, from the entry that decided it. */
static void reason_from_entry(enum eval_verdict v, const struct eval_trace_entry *e, bool have,
			      char *buf, size_t size)
{
	struct rbuf b = { buf, buf + size - 1 };
	const struct ir_chain *c = have ? e->chain : NULL;

	*buf = 0;
	if (v == EVAL_ACCEPT && !have) {
		rb_puts(&b, "accepted: no base chain on the path");
		return;
	}
	if (!have) {
		rb_puts(&b, "dropped");
		return;
	}
	rb_puts(&b, v == EVAL_ACCEPT				? "accepted by "
		    : e->rule && e->action == IR_VERDICT_REJECT ? "rejected by "
								: "dropped by ");
	if (e->rule) {
		rb_rule_where(&b, e->rule);
		return;
	}
	rb_puts(&b, "the policy of base chain ");
	rb_puts(&b, c->name);
	if (v == EVAL_ACCEPT)
		return;
	rb_puts(&b, " (");
	rb_puts(&b, ir_source_to_string(c->table->source));
	rb_puts(&b, " ");
	rb_puts(&b, ir_family_to_string(c->table->family));
	rb_puts(&b, " ");
	rb_puts(&b, c->table->name);
	rb_puts(&b, ", hook ");
	rb_puts(&b, ir_hook_to_string(c->hook));
	rb_puts(&b, ", priority ");
	rb_int(&b, c->priority);
	rb_puts(&b, ")");
}

static void reason_format(struct state *st, enum eval_verdict v)
{
	if (st->rsn == RSN_TEXT)
		return;
	reason_from_entry(v, &st->decided, st->decided_rank > 0, st->reason, sizeof(st->reason));
	st->rsn = RSN_TEXT;
}

const char *eval_result_reason(struct eval_result *res)
{
	if (!res->reason[0] && res->verdict != EVAL_UNKNOWN)
		reason_from_entry(res->verdict,
				  res->decided_by >= 0 ? &res->trace.items[res->decided_by] : NULL,
				  res->decided_by >= 0, res->reason, sizeof(res->reason));
	return res->reason;
}

/* The evaluation reached a predicate it cannot decide: explore both outcomes. */
static enum eval_verdict fork_at(struct env *env, struct state *st, const struct ir_rule *r,
				 unsigned at)
{
	struct state a;
	enum eval_verdict va, vb;
	char where[256], pred[256];
	struct strbuf sb = { 0 };

	rule_where(r, where, sizeof(where));
	ir_pred_render(&r->preds.items[at],
		       r->chain && r->chain->table ? r->chain->table->family : IR_FAMILY_INET, &sb);
	snprintf(pred, sizeof(pred), "%s", strbuf_str(&sb));
	strbuf_done(&sb);

	if (++env->forks > EVAL_FORK_MAX) {
		set_reason(st, "more than %d undecidable predicates on the path (last: %s in %s)",
			   EVAL_FORK_MAX, pred, where);
		return EVAL_UNKNOWN;
	}
	if (state_copy(st, &a) < 0) {
		env->oom = true;
		return EVAL_UNKNOWN;
	}
	va = run(env, &a, (int)at + 1);
	st->stack[st->depth - 1].rule++;
	vb = run(env, st, -1);

	if (va == vb && va != EVAL_UNKNOWN) {
		char prev[sizeof(st->reason)];

		reason_format(st, vb);
		snprintf(prev, sizeof(prev), "%s", st->reason);
		set_reason(st, "%s (the same whether or not '%s' in %s matches)", prev, pred,
			   where);
		state_done(&a);
		return vb;
	}
	if (vb == EVAL_UNKNOWN) {
		state_done(&a);
		return vb;
	}
	if (va != EVAL_UNKNOWN)
		set_reason(
			&a,
			"'%s' in %s cannot be decided: the packet is %s if it matches, %s if not",
			pred, where, va == EVAL_ACCEPT ? "accepted" : "dropped",
			vb == EVAL_ACCEPT ? "accepted" : "dropped");
	state_done(st);
	*st = a;
	return EVAL_UNKNOWN;
}

/* Applies the base chain's policy; returns true when that ends the evaluation (drop). */
static bool policy_end(struct env *env, struct state *st)
{
	const struct ir_chain *b = st->base;

	record(env, st, NULL, b, b->policy, NULL, "policy");
	if (b->policy == IR_VERDICT_DROP) {
		st->rsn = RSN_DECIDED;
		return true;
	}
	st->depth = 0;
	st->base = NULL;
	st->base_i++;
	return false;
}

enum {
	STEP_RULE, /* the rule decides (rule_eval()) */
	STEP_TO, /* a dispatch run leads to another position */
	STEP_NOMATCH, /* the prefilter says no */
};

/* The first part of the step at rule id (position pos): an interface dispatch run's jump to the
 * rule naming the interface (*to), or the prefilter's no-match; else STEP_RULE, where the rule's
 * predicates from *first on decide (the prefilter may have decided the first one). */
static inline int step_pre(struct env *env, struct state *st, uint32_t id, uint32_t pos,
			   uint32_t *to, unsigned *first)
{
	uint32_t run = env->ctx->rule_run[id];

	*first = 0;
	if (run) {
		const struct ifrun *x = &env->ctx->runs[run - 1];

		*to = eval_ifrun_next(x, x->field == IR_FIELD_IIFNAME ? st->pkt.iif : st->pkt.oif,
				      pos);
		return *to != pos ? STEP_TO : STEP_RULE;
	}
	switch (prefilter(&st->pkt, &env->ctx->pf[id], &env->rg)) {
	case PF_FALSE:
		return STEP_NOMATCH;
	case PF_TRUE:
		/* no statement comes before the first predicate of a rule with a prefilter */
		*first = 1;
		return STEP_RULE;
	default:
		return STEP_RULE;
	}
}

static enum eval_verdict run(struct env *env, struct state *st, int resume)
{
	char where[256];

	for (;;) {
		const struct ir_chain *c;
		const struct ir_rule *r;
		struct frame *f;
		struct ir_verdict v;
		enum rule_outcome o;
		const char *note = NULL;
		unsigned at = 0;
		bool mv = false; /* the step is a node of the shared walks' graph */

		if (env->oom)
			return EVAL_UNKNOWN;
		if (st->depth == 0) {
			const struct chain_list *l;

			if (st->hook_i >= env->nhooks) {
				st->rsn = RSN_DECIDED;
				return EVAL_ACCEPT;
			}
			l = &env->ctx->hooks[env->fi][env->hooks[st->hook_i]];
			if (st->base_i >= l->n) {
				st->hook_i++;
				st->base_i = 0;
				continue;
			}
			c = l->v[st->base_i];
			st->pre_ct = before_conntrack(c);
			st->pkt.ct_state = st->notracked ? IR_CT_UNTRACKED
					   : st->pre_ct	 ? IR_CT_INVALID
							 : st->ct_real;
			if ((c->type == IR_CHAIN_NAT && !(st->pkt.ct_state & IR_CT_NEW)) ||
			    !device_applies(c, st->pkt.iif, st->pkt.oif)) {
				st->base_i++;
				continue;
			}
			st->base = c;
			st->stack[0] = (struct frame){ c, 0 };
			st->depth = 1;
			resume = -1;
		}
		f = &st->stack[st->depth - 1];
		c = f->chain;
		if (f->rule >= c->rules.n) {
			if (st->depth == 1) {
				if (policy_end(env, st))
					return EVAL_DROP;
				continue;
			}
			st->depth--; /* implicit return */
			continue;
		}
		if (resume < 0) {
			uint32_t id = env->ctx->chain_first[c->id] + f->rule, to;
			unsigned first;

			if (env->memo) {
				int mb = memo_begin(env, st, id);

				if (mb < 0)
					return EVAL_UNKNOWN; /* merged: eval_run() descends */
				mv = mb > 0;
			}
			switch (step_pre(env, st, id, f->rule, &to, &first)) {
			case STEP_TO:
				if (mv)
					memo_outcome(env, MK_TO, to, NULL);
				f->rule = to;
				continue;
			case STEP_NOMATCH:
				if (mv)
					memo_outcome(env, MK_NOMATCH, 0, NULL);
				f->rule++;
				continue;
			default:
				break;
			}
			resume = (int)first;
		}
		r = c->rules.items[f->rule];
		o = rule_eval(env, st, r, (unsigned)resume, &v, &at, &note);
		resume = -1;
		if (env->memo && (o == R_UNKNOWN || o == R_UNKNOWN_PRED))
			env->memo->abort = true; /* forks and unknowns are not kept */
		switch (o) {
		case R_NOMATCH:
			if (mv)
				memo_outcome(env, MK_NOMATCH, 0, NULL);
			f->rule++;
			continue;
		case R_UNKNOWN:
			record(env, st, r, c, IR_VERDICT_CONTINUE, NULL, NULL);
			if (st->trace.n > 0 && env->with_trace)
				st->trace.items[st->trace.n - 1].unknown = true;
			st->last.unknown = true;
			return EVAL_UNKNOWN;
		case R_UNKNOWN_PRED:
			return fork_at(env, st, r, at);
		case R_MATCH:
			if (mv)
				memo_outcome(env, MK_MATCH, 0, &v);
			break;
		}

		record(env, st, r, c, v.kind, v.target, note);
		switch (v.kind) {
		case IR_VERDICT_CONTINUE:
			f->rule++;
			break;
		case IR_VERDICT_ACCEPT:
			st->depth = 0;
			st->base = NULL;
			st->base_i++;
			break;
		case IR_VERDICT_DROP:
		case IR_VERDICT_REJECT:
			st->rsn = RSN_DECIDED;
			return EVAL_DROP;
		case IR_VERDICT_QUEUE:
			set_reason(st,
				   "queued to userspace (NFQUEUE %u%s) by %s: the verdict is a "
				   "program's",
				   v.queue_num, v.queue_bypass ? ", bypass" : "",
				   rule_where(r, where, sizeof(where)));
			return EVAL_UNKNOWN;
		case IR_VERDICT_JUMP:
		case IR_VERDICT_GOTO:
			if (!v.target) {
				set_reason(st, "%s to chain '%s' that was not read, in %s",
					   ir_verdict_kind_to_string(v.kind),
					   v.chain ? v.chain : "?",
					   rule_where(r, where, sizeof(where)));
				return EVAL_UNKNOWN;
			}
			if (v.kind == IR_VERDICT_GOTO) {
				*f = (struct frame){ v.target, 0 };
				break;
			}
			if (st->depth > (c->table->source == IR_SRC_IPTABLES_LEGACY
						 ? EVAL_JUMP_MAX_LEGACY
						 : EVAL_JUMP_MAX)) {
				set_reason(st, "jump stack deeper than %d (a loop?) at %s",
					   c->table->source == IR_SRC_IPTABLES_LEGACY
						   ? EVAL_JUMP_MAX_LEGACY
						   : EVAL_JUMP_MAX,
					   rule_where(r, where, sizeof(where)));
				return EVAL_UNKNOWN;
			}
			f->rule++;
			st->stack[st->depth++] = (struct frame){ v.target, 0 };
			break;
		case IR_VERDICT_RETURN:
			if (st->depth == 1) {
				if (policy_end(env, st))
					return EVAL_DROP;
				break;
			}
			st->depth--;
			break;
		default:
			set_reason(st, "unknown verdict in %s",
				   rule_where(r, where, sizeof(where)));
			return EVAL_UNKNOWN;
		}
	}
}

/* Whether p belongs to m's batch (its fixed fields are the first packet's). */
static bool memo_same_batch(const struct eval_memo *m, const struct eval_packet *p)
{
	const struct eval_packet *q = &m->first;

	if (p->family != q->family || p->path != q->path || p->ct_state != q->ct_state ||
	    p->ct_reply != q->ct_reply || p->mark != q->mark || p->ct_mark != q->ct_mark ||
	    p->pkttype != q->pkttype || p->saddr_type != q->saddr_type ||
	    p->daddr_type != q->daddr_type || p->rpf_ok != q->rpf_ok || p->bridged != q->bridged)
		return false;
	if (p->bridged && (strncmp(p->physdev_in, q->physdev_in, IFNAMSIZ) != 0 ||
			   strncmp(p->physdev_out, q->physdev_out, IFNAMSIZ) != 0))
		return false;
	if (!(m->vary & EVAL_VARY_SADDR) && p->saddr != q->saddr)
		return false;
	if (!(m->vary & EVAL_VARY_DADDR) && p->daddr != q->daddr)
		return false;
	if (!(m->vary & EVAL_VARY_IIF) &&
	    (p->iif_index != q->iif_index || strncmp(p->iif, q->iif, IFNAMSIZ) != 0))
		return false;
	if (!(m->vary & EVAL_VARY_OIF) &&
	    (p->oif_index != q->oif_index || strncmp(p->oif, q->oif, IFNAMSIZ) != 0))
		return false;
	return true;
}

/* Starts a batch at p unless p is in m's; returns whether the batch's walks are shared. */
static bool memo_batch(struct eval_memo *m, const struct eval_ctx *ctx, const struct env *env,
		       const struct eval_packet *p)
{
	if (m->batch && m->ctx == ctx && m->serial == ctx->serial && memo_same_batch(m, p)) {
		if (m->nodes.n >= MEMO_NODES_MAX)
			memo_clear(m); /* full: start over */
		return !m->off;
	}
	memo_clear(m);
	m->ctx = ctx;
	m->serial = ctx->serial;
	m->first = *p;
	m->batch = true;
	m->off = false;
	m->stats.batches++;
	/* A base chain bound to a device is chosen by the interfaces before any rule. */
	for (size_t h = 0; h < env->nhooks; h++) {
		const struct chain_list *l = &ctx->hooks[env->fi][env->hooks[h]];

		for (size_t i = 0; i < l->n; i++)
			if (l->v[i]->device)
				m->off = true;
	}
	return !m->off;
}

/* Restores the state before node x's step for packet p (st keeps its trace array). */
static void memo_restore(const struct eval_memo *m, const struct memo_node *x,
			 const struct eval_packet *p, struct state *st)
{
	typeof(st->trace) trace = st->trace;

	memcpy((void *)st, m->snaps + x->snap, SNAP_HEAD);
	st->trace = trace;
	memcpy(st->stack, m->snaps + x->snap + SNAP_HEAD, st->depth * sizeof(struct frame));
	st->pkt = *p; /* no kept walk rewrites the packet: only the walk's own state differs */
	st->pkt.mark = x->mark;
	st->pkt.ct_mark = x->ct_mark;
	st->pkt.ct_state = x->ct_state;
	st->reason[0] = 0;
}

/*
 * The descent of p through m's graph from node n (+ 1): at each node the rule is evaluated for p
 * (narrowing env->rg) and its outcome's edge followed. Returns the leaf reached (+ 1; *ret_leaf
 * true), the node whose outcome has no edge yet (+ 1), or 0 when p cannot be shared (an unknown
 * outcome) or the graph is empty.
 */
static uint32_t memo_descend(struct env *env, struct eval_memo *m, const struct eval_packet *p,
			     uint32_t n, bool *ret_leaf)
{
	struct state *sc = &m->scratch;
	size_t steps = 0;

	*ret_leaf = false;
	sc->pkt = *p;
	while (n) {
		const struct memo_node *x = &m->nodes.items[n - 1];
		struct memo_key k = { 0 };
		uint32_t c, to = 0;
		unsigned first;

		if (x->leaf) {
			*ret_leaf = true;
			return n;
		}
		sc->pkt.mark = x->mark;
		sc->pkt.ct_mark = x->ct_mark;
		sc->pkt.ct_state = x->ct_state;
		sc->pre_ct = x->pre_ct;
		sc->notracked = x->notracked;
		switch (step_pre(env, sc, x->id, x->pos, &to, &first)) {
		case STEP_TO:
			k.how = MK_TO;
			k.to = to;
			break;
		case STEP_NOMATCH:
			k.how = MK_NOMATCH;
			break;
		default: {
			struct ir_verdict v;
			unsigned at = 0;
			const char *note = NULL;
			enum rule_outcome o = rule_eval(env, sc, x->chain->rules.items[x->pos],
							first, &v, &at, &note);

			if (o == R_UNKNOWN || o == R_UNKNOWN_PRED || m->abort)
				return 0;
			if (o == R_MATCH) {
				k.how = MK_MATCH;
				k.kind = (uint8_t)v.kind;
				k.target = v.target;
			}
		}
		}
		if (!(c = memo_child(m, n, &k)))
			return n;
		n = c;
		if (++steps > MEMO_NODES_MAX)
			return 0; /* not a path of a real walk (a ruleset with a loop) */
	}
	return 0;
}

/* Sets st (but its trace array) to the start of p's walk. */
static void state_start(struct state *st, const struct eval_packet *p)
{
	typeof(st->trace) trace = st->trace;

	memset((void *)st, 0, offsetof(struct state, reason));
	st->trace = trace;
	st->pkt = *p;
	st->ct_real = p->ct_state;
	st->notracked = p->ct_state == IR_CT_UNTRACKED;
	st->decided_idx = st->last_idx = -1;
	st->reason[0] = 0;
}

static int eval_run(const struct eval_ctx *ctx, const struct eval_packet *p, bool with_trace,
		    bool track_last, struct eval_memo *memo, struct eval_result *res)
{
	struct env env = {
		.ctx = ctx,
		.with_trace = with_trace,
		.track_last = with_trace || track_last,
		.rg = { .sport_hi = 65535, .dport_hi = 65535 },
	};
	struct state st;
	enum eval_verdict v = EVAL_UNKNOWN;
	bool leaf = false;

	if (p->family != AF_INET && p->family != AF_INET6)
		return -EINVAL;
	if ((unsigned)p->path >= _EVAL_PATH_MAX)
		return -EINVAL;
	memset(&st, 0, offsetof(struct state, reason));
	state_start(&st, p);
	env.fi = p->family == AF_INET6;
	env.nhooks = eval_path_hooks(p->path, env.hooks);
	env.main_hook = eval_path_main_hook(p->path);

	/* Reuse the caller's trace array. */
	st.trace.items = res->trace.items;
	st.trace.cap = res->trace.cap;
	res->trace.items = NULL;
	res->trace.n = res->trace.cap = 0;

	if (memo && !memo_batch(memo, ctx, &env, p)) {
		memo->stats.full++;
		memo = NULL;
	}
	if (!memo)
		v = run(&env, &st, -1);
	else {
		uint32_t n = memo->root;

		env.memo = memo;
		memo->open = memo->resumed = memo->merged = 0;
		memo->abort = false;
		for (;;) {
			if (n)
				n = memo_descend(&env, memo, p, n, &leaf);
			if (leaf) {
				const struct memo_node *x = &memo->nodes.items[n - 1];

				/* the walk's end as the path's first packet met it */
				v = x->verdict;
				st.decided = x->decided;
				st.decided_rank = x->decided_rank;
				st.rsn = RSN_DECIDED;
				st.pkt.mark = x->mark;
				st.pkt.ct_mark = x->ct_mark;
				memo->stats.shared++;
				break;
			}
			if (n) {
				memo_restore(memo, &memo->nodes.items[n - 1], p, &st);
				memo->resumed = n;
			} else if (memo->root) {
				/* not shared (an outcome the graph cannot hold): a walk of its own
				 */
				state_start(&st, p);
				env.memo = NULL;
				env.rg = (struct eval_region){ .sport_hi = 65535,
							       .dport_hi = 65535 };
				memo->stats.full++;
				v = run(&env, &st, -1);
				break;
			}
			v = run(&env, &st, -1);
			memo->stats.walks++;
			if (!memo->merged) {
				memo_end(&env, &st, v);
				break;
			}
			/* the walk reached a node's state: on from there */
			n = memo->merged;
			memo->merged = 0;
			memo->open = 0;
		}
		env.memo = NULL;
	}
	if (env.oom) {
		state_done(&st);
		return -ENOMEM;
	}
	res->verdict = v;
	/* Without a trace, an accept or drop is explained on demand (eval_result_reason()). */
	if (with_trace)
		reason_format(&st, v);
	if (st.rsn == RSN_TEXT)
		memcpy(res->reason, st.reason, sizeof(res->reason));
	else
		res->reason[0] = 0;
	res->trace.items = st.trace.items;
	res->trace.n = st.trace.n;
	res->trace.cap = st.trace.cap;
	res->mark = st.pkt.mark;
	res->ct_mark = st.pkt.ct_mark;
	res->forks = env.forks;
	res->region = env.rg;
	res->region.proto = p->l4proto;
	/* An unknown verdict without a queue is explained by the last rule reached. */
	if (v == EVAL_UNKNOWN && st.decided_rank < 5 && st.has_last) {
		st.decided = st.last;
		st.decided_idx = st.last_idx;
		st.decided_rank = 5;
	}
	if (with_trace)
		res->decided_by = st.decided_idx;
	else {
		/* Keep the deciding entry as the only trace entry. */
		res->decided_by = -1;
		if (st.decided_rank > 0) {
			if (VEC_PUSH(&res->trace, st.decided) < 0)
				return -ENOMEM;
			res->decided_by = 0;
		}
	}
	return 0;
}

int eval_packet(const struct eval_ctx *ctx, const struct eval_packet *p, bool with_trace,
		struct eval_result *res)
{
	int r = eval_run(ctx, p, with_trace, false, NULL, res);

	/* An unknown verdict is explained by the last rule reached, which the fast walk does not
	 * keep: walk again keeping it (unknown verdicts are rare). */
	if (r >= 0 && !with_trace && res->verdict == EVAL_UNKNOWN)
		r = eval_run(ctx, p, false, true, NULL, res);
	return r;
}

int eval_memo_new(unsigned vary, struct eval_memo **ret)
{
	struct eval_memo *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->vary = vary | EVAL_VARY_L4;
	*ret = m;
	return 0;
}

struct eval_memo *eval_memo_free(struct eval_memo *m)
{
	if (!m)
		return NULL;
	VEC_DONE(&m->nodes);
	free(m->edges);
	free(m->snaps);
	free(m->ht);
	free(m);
	return NULL;
}

int eval_packet_memo(const struct eval_ctx *ctx, struct eval_memo *m, const struct eval_packet *p,
		     struct eval_result *res)
{
	int r = eval_run(ctx, p, false, false, m, res);

	/* unknown verdicts are never kept: explained as eval_packet() does */
	if (r >= 0 && res->verdict == EVAL_UNKNOWN)
		r = eval_run(ctx, p, false, true, NULL, res);
	return r;
}

void eval_memo_get_stats(const struct eval_memo *m, struct eval_memo_stats *ret)
{
	*ret = m->stats;
	ret->nodes = m->nodes.n;
}

void eval_result_done(struct eval_result *res)
{
	VEC_DONE(&res->trace);
}

/* --- trace output --- */

int eval_trace_entry_action(const struct eval_trace_entry *e, struct strbuf *out)
{
	if (!e->rule)
		return strbuf_printf(out, "policy %s", ir_verdict_kind_to_string(e->action));
	if (e->unknown)
		return strbuf_puts(out, "unknown");
	switch (e->action) {
	case IR_VERDICT_JUMP:
	case IR_VERDICT_GOTO:
		return strbuf_printf(out, "%s %s", ir_verdict_kind_to_string(e->action),
				     e->target ? e->target->name : "?");
	case IR_VERDICT_QUEUE:
		return ir_verdict_render(&e->rule->verdict, out);
	default:
		return strbuf_puts(out, ir_verdict_kind_to_string(e->action));
	}
}

int eval_trace_entry_json(const struct eval_trace_entry *e, struct strbuf *out)
{
	const struct ir_chain *c = e->chain;
	const struct ir_table *t = c ? c->table : NULL;
	struct strbuf a = { 0 };

	strbuf_puts(out, "{\"source\":");
	strbuf_json_string(out, t ? ir_source_to_string(t->source) : "?");
	strbuf_puts(out, ",\"family\":");
	strbuf_json_string(out, t ? ir_family_to_string(t->family) : "?");
	strbuf_puts(out, ",\"table\":");
	strbuf_json_string(out, t ? t->name : "?");
	strbuf_puts(out, ",\"chain\":");
	strbuf_json_string(out, c ? c->name : "?");
	strbuf_puts(out, ",\"base_chain\":");
	strbuf_json_string(out, e->base ? e->base->name : "?");
	strbuf_printf(out, ",\"hook\":\"%s\",\"priority\":%d", ir_hook_to_string(e->hook),
		      e->base ? e->base->priority : 0);
	if (e->rule) {
		const char *text = ir_rule_text((struct ir_rule *)e->rule);

		strbuf_printf(out, ",\"position\":%u,\"handle\":%llu,\"rule\":", e->rule->position,
			      (unsigned long long)e->rule->handle);
		strbuf_json_string(out, text ? text : "");
	} else
		strbuf_puts(out, ",\"position\":null,\"handle\":null,\"rule\":null");
	eval_trace_entry_action(e, &a);
	strbuf_puts(out, ",\"action\":");
	strbuf_json_string(out, strbuf_str(&a));
	strbuf_done(&a);
	if (e->note) {
		strbuf_puts(out, ",\"note\":");
		strbuf_json_string(out, e->note);
	}
	strbuf_puts(out, "}");
	return out->oom ? -ENOMEM : 0;
}
