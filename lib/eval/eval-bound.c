/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cut points of the address and port spaces that the rules reachable by a packet template test:
 * the input of the audit's equivalence classes. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "eval-internal.h"

struct walk {
	const struct eval_ctx *ctx;
	const struct eval_template *t;
	struct eval_boundaries *b;
	/* Chains before conntrack see ct state invalid whatever the template says: they are
	 * walked without excluding rules by ct state (a superset). */
	bool ct_any;
	uint8_t *seen_chain; /* by chain id: SEEN_* bits */
	uint8_t *seen_set; /* by set id */
	uint8_t *tested_set; /* by set id: bit per key field whose test was recorded */
	bool oom;
};

static struct eval_tests *tests_for(struct walk *w, enum ir_field f)
{
	if (!w->b->want_tests)
		return NULL;
	if (w->t->ports_only && (f == IR_FIELD_SADDR || f == IR_FIELD_DADDR))
		return NULL;
	switch (f) {
	case IR_FIELD_SADDR:
		return &w->b->saddr_tests;
	case IR_FIELD_DADDR:
		return &w->b->daddr_tests;
	case IR_FIELD_SPORT:
		return &w->b->sport_tests;
	case IR_FIELD_DPORT:
		return &w->b->dport_tests;
	default:
		return NULL;
	}
}

/* Returns a new test number for field f. */
static uint32_t test_new(struct walk *w, enum ir_field f)
{
	struct eval_tests *t = tests_for(w, f);

	if (!t)
		return 0;
	return t->n_tests++;
}

static void test_range(struct walk *w, enum ir_field f, uint32_t test, np_u128 lo, np_u128 hi)
{
	struct eval_tests *t = tests_for(w, f);
	struct eval_test_range x = { lo, hi, test };

	if (t && lo <= hi && VEC_PUSH(t, x) < 0)
		w->oom = true;
}

static struct eval_cuts *cuts_for_all(struct eval_boundaries *b, enum ir_field f)
{
	switch (f) {
	case IR_FIELD_SADDR:
		return &b->saddr;
	case IR_FIELD_DADDR:
		return &b->daddr;
	case IR_FIELD_SPORT:
		return &b->sport;
	case IR_FIELD_DPORT:
		return &b->dport;
	default:
		return NULL;
	}
}

static struct eval_cuts *cuts_for(const struct walk *w, enum ir_field f)
{
	if (w->t->ports_only && (f == IR_FIELD_SADDR || f == IR_FIELD_DADDR))
		return NULL;
	return cuts_for_all(w->b, f);
}

static void cut_range(struct walk *w, enum ir_field f, np_u128 lo, np_u128 hi)
{
	struct eval_cuts *v = cuts_for(w, f);

	if (!v || lo > hi)
		return;
	if (lo > 0 && VEC_PUSH(v, lo) < 0)
		w->oom = true;
	if (hi != NP_U128_MAX && VEC_PUSH(v, hi + 1) < 0)
		w->oom = true;
}

static void cut_set(struct walk *w, const struct ir_setref *ref, const struct ir_set *s,
		    unsigned depth)
{
	const struct set_index *x;

	if (!s || depth > 8)
		return;
	if (s->flags & IR_SET_LIST) {
		EVAL_FOREACH(mp, &s->member_sets)
		cut_set(w, ref, *mp, depth + 1);
		return;
	}
	if (ref->ipset ? ref->nkey < s->nkey : ref->nkey != s->nkey)
		return;
	x = s->id < w->ctx->nsets && w->ctx->sets[s->id].set == s ? &w->ctx->sets[s->id] : NULL;
	for (unsigned i = 0; i < s->nkey; i++) {
		bool addr = ref->key[i] == IR_FIELD_SADDR || ref->key[i] == IR_FIELD_DADDR;

		if (addr != (s->keytype[i] == IR_KEY_ADDR))
			return; /* the evaluator cannot answer this lookup either */
	}
	if (w->b->want_tests && !(w->tested_set[s->id] & (1u << (ref->key[0] == IR_FIELD_DADDR)))) {
		/* A one-field set is one test; in a concatenation each element is one test per
		 * field, since membership depends on the fields together. */
		w->tested_set[s->id] |= 1u << (ref->key[0] == IR_FIELD_DADDR);
		for (unsigned i = 0; i < s->nkey; i++) {
			uint32_t t;

			if (!tests_for(w, ref->key[i]) || s->keytype[i] == IR_KEY_IFNAME)
				continue;
			t = test_new(w, ref->key[i]);
			EVAL_FOREACH(e, &s->elems)
			{
				if (s->nkey > 1 && e != s->elems.items)
					t = test_new(w, ref->key[i]);
				test_range(w, ref->key[i], t, e->key[i].lo, e->key[i].hi);
			}
		}
	}
	for (unsigned i = 0; i < s->nkey; i++) {
		struct eval_cuts *v = cuts_for(w, ref->key[i]);

		if (!v || s->keytype[i] == IR_KEY_IFNAME)
			continue;
		if (x && x->field == (int)i && x->nseg > 0) {
			/* the index's segment starts are this field's cut points (and 0) */
			if (VEC_RESERVE(v, x->nseg) < 0) {
				w->oom = true;
				return;
			}
			memcpy(v->items + v->n, x->seg_lo + 1, (x->nseg - 1) * sizeof(*v->items));
			v->n += x->nseg - 1;
			continue;
		}
		EVAL_FOREACH(e, &s->elems)
		cut_range(w, ref->key[i], e->key[i].lo, e->key[i].hi);
	}
}

static bool name_fits(const char *tmpl, const struct ir_pred *p)
{
	bool in = false;

	EVAL_FOREACH(n, &p->ifnames)
	{
		const char *pat = n->name ? n->name : "";

		if (n->prefix ? strncmp(tmpl, pat, strlen(pat)) == 0 : strcmp(tmpl, pat) == 0) {
			in = true;
			break;
		}
	}
	return in != p->negate;
}

/* Whether the interface the template allows (one name, one of a list, or any) may fit p. */
static bool name_may_fit(const char *one, const char *const *list, size_t n,
			 const struct ir_pred *p)
{
	if (one)
		return name_fits(one, p);
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (name_fits(list[i], p))
			return true;
	return false;
}

/* Whether a template field makes p certainly false. */
static bool pred_excluded(const struct walk *w, const struct ir_pred *p)
{
	const struct eval_template *t = w->t;

	switch (p->kind) {
	case IR_PRED_MATCH:
		switch (p->field) {
		case IR_FIELD_IIFNAME:
			return !name_may_fit(t->iif, t->iifs, t->n_iifs, p);
		case IR_FIELD_OIFNAME:
			return !name_may_fit(t->oif, t->oifs, t->n_oifs, p);
		case IR_FIELD_L4PROTO:
			return t->l4proto >= 0 && !p->masked &&
			       np_iset_contains(&p->values, (np_u128)t->l4proto) == p->negate;
		case IR_FIELD_NFPROTO:
			return !p->masked &&
			       np_iset_contains(&p->values, t->family == AF_INET6 ? 10 : 2) ==
				       p->negate;
		case IR_FIELD_SADDR:
		case IR_FIELD_DADDR:
			return t->fixed_addrs && !p->masked &&
			       np_iset_contains(&p->values,
						p->field == IR_FIELD_SADDR ? t->saddr : t->daddr) ==
				       p->negate;
		default:
			return false;
		}
	case IR_PRED_LOOKUP:
		if (t->fixed_addrs) {
			int in =
				eval_ref_holds_addr(w->ctx, &p->ref, t->family, t->saddr, t->daddr);
			return in >= 0 && (in == 1) == p->negate;
		}
		return false;
	case IR_PRED_BITS:
		if (p->field == IR_FIELD_CT_STATE && t->ct_state && !w->ct_any)
			return ((t->ct_state & p->bits) != 0) == p->negate &&
			       !(p->bits & (IR_CT_SNAT | IR_CT_DNAT));
		return false;
	default:
		return false;
	}
}

enum {
	SEEN_CT = 1 << 0, /* walked excluding rules by the template's ct state */
	SEEN_ANY = 1 << 1, /* walked with any ct state: covers SEEN_CT */
};

/* Returns whether the walk already covered this in the current context, and marks it. */
static bool seen(uint8_t *flags, bool ct_any)
{
	uint8_t bit = ct_any ? SEEN_ANY : SEEN_CT;

	if (*flags & (bit | SEEN_ANY))
		return true;
	*flags |= bit;
	return false;
}

static void walk_chain(struct walk *w, const struct ir_chain *c);

static void walk_verdict(struct walk *w, const struct ir_verdict *v)
{
	if ((v->kind == IR_VERDICT_JUMP || v->kind == IR_VERDICT_GOTO) && v->target)
		walk_chain(w, v->target);
}

/* Whether the template's interfaces may select element e of a verdict map keyed by one
 * interface name (`oifname vmap { "cali1" : jump ... }`); other maps: always. */
static bool vmap_elem_may_fit(const struct walk *w, const struct ir_setref *ref,
			      const struct ir_set_elem *e)
{
	const struct eval_template *t = w->t;
	const struct ir_set *s = ref->set;
	bool in;
	const char *one;
	const char *const *list;
	size_t n;

	if (ref->nkey != 1 || s->nkey != 1 || s->keytype[0] != IR_KEY_IFNAME ||
	    (ref->key[0] != IR_FIELD_IIFNAME && ref->key[0] != IR_FIELD_OIFNAME) ||
	    !e->key[0].ifname)
		return true;
	in = ref->key[0] == IR_FIELD_IIFNAME;
	one = in ? t->iif : t->oif;
	list = in ? t->iifs : t->oifs;
	n = one ? 1 : in ? t->n_iifs : t->n_oifs;
	if (n == 0)
		return true; /* any interface */
	for (size_t i = 0; i < n; i++) {
		const char *name = one ? one : list[i];

		if (e->key[0].prefix
			    ? strncmp(name, e->key[0].ifname, strlen(e->key[0].ifname)) == 0
			    : strcmp(name, e->key[0].ifname) == 0)
			return true;
	}
	return false;
}

static void walk_rule(struct walk *w, const struct ir_rule *r)
{
	EVAL_FOREACH(p, &r->preds)
	if (pred_excluded(w, p))
		return;

	w->b->rules++;
	EVAL_FOREACH(p, &r->preds)
	{
		switch (p->kind) {
		case IR_PRED_MATCH:
			if (cuts_for(w, p->field) && p->masked)
				w->b->inexact++;
			else if (cuts_for(w, p->field)) {
				uint32_t t = test_new(w, p->field);

				for (size_t i = 0; i < p->values.n; i++) {
					cut_range(w, p->field, p->values.r[i].lo,
						  p->values.r[i].hi);
					test_range(w, p->field, t, p->values.r[i].lo,
						   p->values.r[i].hi);
				}
			}
			break;
		case IR_PRED_LOOKUP:
			cut_set(w, &p->ref, p->ref.set, 0);
			break;
		case IR_PRED_OPAQUE:
			w->b->opaque++;
			break;
		default:
			break;
		}
	}
	EVAL_FOREACH(s, &r->stmts)
	{
		if (s->kind == IR_STMT_OPAQUE)
			w->b->opaque++;
		if (s->kind != IR_STMT_VMAP || !s->ref.set)
			continue;
		cut_set(w, &s->ref, s->ref.set, 0);
		if (seen(&w->seen_set[s->ref.set->id], w->ct_any))
			continue;
		EVAL_FOREACH(e, &s->ref.set->elems)
		if (vmap_elem_may_fit(w, &s->ref, e))
			walk_verdict(w, &e->verdict);
	}
	walk_verdict(w, &r->verdict);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Walks the rules of dispatch run x that can fit the template's interfaces for its field (one
 * name, or each of a list); returns false when the template allows any interface there. */
static bool walk_run(struct walk *w, const struct ir_chain *c, const struct ifrun *x)
{
	const struct eval_template *t = w->t;
	bool in = x->field == IR_FIELD_IIFNAME;
	const char *one = in ? t->iif : t->oif;
	const char *const *list = in ? t->iifs : t->oifs;
	size_t n = one ? 1 : in ? t->n_iifs : t->n_oifs;
	uint32_t stack[64], *pos = stack;
	size_t np = 0, cap = ELEMENTSOF(stack);

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *name = one ? one : list[i];

		for (uint32_t at = eval_ifrun_next(x, name, x->first); at < x->end;
		     at = x->next[at - x->first]) {
			if (np == cap) {
				uint32_t *v = malloc(2 * cap * sizeof(*v));

				if (!v) {
					w->oom = true;
					goto out;
				}
				memcpy(v, pos, np * sizeof(*v));
				if (pos != stack)
					free(pos);
				pos = v;
				cap *= 2;
			}
			pos[np++] = at;
		}
	}
	if (np > 1)
		qsort(pos, np, sizeof(*pos), u32_cmp);
	for (size_t i = 0; i < np; i++)
		if (i == 0 || pos[i] != pos[i - 1])
			walk_rule(w, c->rules.items[pos[i]]);
out:
	if (pos != stack)
		free(pos);
	return true;
}

static void walk_chain(struct walk *w, const struct ir_chain *c)
{
	uint32_t base = w->ctx->chain_first[c->id];

	if (seen(&w->seen_chain[c->id], w->ct_any))
		return;
	for (uint32_t i = 0; i < c->rules.n; i++) {
		uint32_t run = w->ctx->rule_run[base + i];

		if (run && w->ctx->runs[run - 1].first == i &&
		    walk_run(w, c, &w->ctx->runs[run - 1])) {
			/* the rules naming other interfaces cannot fit the template */
			i = w->ctx->runs[run - 1].end - 1;
			continue;
		}
		walk_rule(w, c->rules.items[i]);
	}
}

static inline size_t mix_u128(np_u128 v)
{
	uint64_t h = (uint64_t)v ^ ((uint64_t)(v >> 64) * 0xff51afd7ed558ccdull);

	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h ^ (h >> 31));
}

/* Drops duplicates in place (order not kept) through a hash set; returns false on OOM. Many
 * sets share elements (the same pod in many ipsets), so this shrinks what is sorted. */
static bool cuts_dedup(struct eval_cuts *v)
{
	size_t cap = 64, n = 0, mask;
	np_u128 *slot;
	bool *used;

	while (cap < 2 * v->n)
		cap *= 2;
	mask = cap - 1;
	slot = malloc(cap * sizeof(*slot));
	used = calloc(cap, sizeof(*used));
	if (!slot || !used) {
		free(slot);
		free(used);
		return false;
	}
	for (size_t i = 0; i < v->n; i++) {
		np_u128 x = v->items[i];
		size_t h = mix_u128(x) & mask;

		while (used[h] && slot[h] != x)
			h = (h + 1) & mask;
		if (used[h])
			continue;
		used[h] = true;
		slot[h] = x;
		v->items[n++] = x;
	}
	v->n = n;
	free(slot);
	free(used);
	return true;
}

static bool cuts_finish(struct eval_cuts *v)
{
	size_t n = 0;

	if (v->n == 0)
		return true;
	if (v->n > 1024 && !cuts_dedup(v))
		return false;
	eval_sort_u128(v->items, v->n);
	for (size_t i = 0; i < v->n; i++)
		if (n == 0 || v->items[i] != v->items[n - 1])
			v->items[n++] = v->items[i];
	v->n = n;
	return true;
}

int eval_collect_boundaries(const struct eval_ctx *ctx, const struct eval_template *t,
			    struct eval_boundaries *ret)
{
	struct walk w = { .ctx = ctx, .t = t, .b = ret };
	enum ir_hook hooks[EVAL_PATH_HOOKS_MAX];
	size_t nh;
	int fi;

	if (t->family != AF_INET && t->family != AF_INET6)
		return -EINVAL;
	nh = eval_path_hooks(t->path, hooks);
	if (nh == 0)
		return -EINVAL;
	fi = t->family == AF_INET6;

	ret->saddr.n = ret->daddr.n = ret->sport.n = ret->dport.n = 0;
	ret->rules = ret->opaque = ret->inexact = 0;
	ret->saddr_tests.n = ret->daddr_tests.n = ret->sport_tests.n = ret->dport_tests.n = 0;
	ret->saddr_tests.n_tests = ret->daddr_tests.n_tests = ret->sport_tests.n_tests =
		ret->dport_tests.n_tests = 0;
	w.seen_chain = calloc(ctx->rs->n_chains + 1, 1);
	w.seen_set = calloc(ctx->rs->n_sets + 1, 1);
	w.tested_set = calloc(ctx->rs->n_sets + 1, 1);
	if (!w.seen_chain || !w.seen_set || !w.tested_set) {
		free(w.seen_chain);
		free(w.seen_set);
		free(w.tested_set);
		return -ENOMEM;
	}
	for (size_t h = 0; h < nh; h++) {
		const struct chain_list *l = &ctx->hooks[fi][hooks[h]];

		for (size_t i = 0; i < l->n; i++) {
			const struct ir_chain *c = l->v[i];

			if (c->type == IR_CHAIN_NAT && t->ct_state && !(t->ct_state & IR_CT_NEW))
				continue;
			if (!device_applies(c, t->iif, t->oif))
				continue;
			w.ct_any = before_conntrack(c);
			walk_chain(&w, c);
		}
	}
	free(w.seen_chain);
	free(w.seen_set);
	free(w.tested_set);
	if (w.oom)
		return -ENOMEM;
	if (!cuts_finish(&ret->saddr) || !cuts_finish(&ret->daddr) || !cuts_finish(&ret->sport) ||
	    !cuts_finish(&ret->dport))
		return -ENOMEM;
	return 0;
}

void eval_boundaries_done(struct eval_boundaries *b)
{
	VEC_DONE(&b->saddr);
	VEC_DONE(&b->daddr);
	VEC_DONE(&b->sport);
	VEC_DONE(&b->dport);
	VEC_DONE(&b->saddr_tests);
	VEC_DONE(&b->daddr_tests);
	VEC_DONE(&b->sport_tests);
	VEC_DONE(&b->dport_tests);
}
