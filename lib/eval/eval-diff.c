/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which traffic a ruleset change can touch.
 *
 * Chains are matched between the two rulesets by source, family, table and name, sets by the
 * same (ipsets by name). A chain differs when its base properties or rules differ, or when a
 * rule of it looks up a set (or verdict map) whose elements differ. A packet that never enters
 * a differing chain takes the same path through both rulesets, so only packets that can reach
 * one matter: each rule that jumps or goes to a chain, or a verdict map element that does,
 * restricts the packets it sends there when it names exact interfaces (`-i cali1234`,
 * `iifname "veth1"`, a verdict map keyed by interface); without such a name the chain's
 * packets are those of the chain the rule is in, up to a base chain (any packet at all).
 *
 * Within a differing chain, when the rules that differ (between a common head and a common
 * tail) all name exact interfaces, a packet on another interface meets exactly the same
 * rules in the same order in both: the change is owned by those interfaces alone. This keeps a
 * rule added or removed in a dispatch chain (one rule per pod) to that pod.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval-internal.h"
#include "util/hashmap.h"

struct chain_sum {
	char *key;
	const struct ir_chain *c;
	uint64_t head; /* base properties */
	uint64_t *rules; /* per rule: hash of its rendering */
	size_t n;
};

struct set_sum {
	char *key;
	uint64_t hash;
};

struct summary {
	struct chain_sum *chains; /* by chain id */
	size_t n_chains;
	struct set_sum *sets; /* by set id */
	size_t n_sets;
	struct hashmap chain_by_key, set_by_key;
};

static void summary_done(struct summary *s)
{
	for (size_t i = 0; i < s->n_chains; i++) {
		free(s->chains[i].key);
		free(s->chains[i].rules);
	}
	for (size_t i = 0; i < s->n_sets; i++)
		free(s->sets[i].key);
	free(s->chains);
	free(s->sets);
	hashmap_done(&s->chain_by_key);
	hashmap_done(&s->set_by_key);
	*s = (struct summary){ 0 };
}

static char *set_key(const struct ir_set *set)
{
	char *k = NULL;

	if (!set->table)
		return asprintf(&k, "ipset/%s", set->name) < 0 ? NULL : k;
	return asprintf(&k, "%d/%d/%s/@%s", set->table->source, set->table->family,
			set->table->name, set->name) < 0
		       ? NULL
		       : k;
}

static uint64_t hash_str(uint64_t h, const char *str)
{
	return str ? np_hash64_bytes(h, str, strlen(str) + 1) : np_hash64_bytes(h, "", 1);
}

static uint64_t hash_iset(uint64_t h, const struct np_iset *v)
{
	h = np_hash64_bytes(h, &v->n, sizeof(v->n));
	return np_hash64_bytes(h, v->r, v->n * sizeof(*v->r));
}

static uint64_t hash_verdict(uint64_t h, const struct ir_verdict *v)
{
	h = np_hash64_bytes(h, &v->kind, sizeof(v->kind));
	h = hash_str(h, v->chain);
	h = np_hash64_bytes(h, &v->queue_num, sizeof(v->queue_num));
	h = np_hash64_bytes(h, &v->queue_last, sizeof(v->queue_last));
	h = np_hash64_bytes(h, &v->queue_bypass, sizeof(v->queue_bypass));
	return np_hash64_bytes(h, &v->queue_fanout, sizeof(v->queue_fanout));
}

static uint64_t hash_ref(uint64_t h, const struct ir_setref *ref)
{
	h = np_hash64_bytes(h, &ref->nkey, sizeof(ref->nkey));
	h = np_hash64_bytes(h, ref->key, ref->nkey * sizeof(ref->key[0]));
	h = hash_str(h, ref->name);
	return np_hash64_bytes(h, &ref->ipset, sizeof(ref->ipset));
}

/* A hash of everything in r that decides what it does (not its handle or position). */
static uint64_t hash_rule(const struct ir_rule *r)
{
	uint64_t h = NP_HASH64_INIT;

	EVAL_FOREACH(p, &r->preds)
	{
		h = np_hash64_bytes(h, &p->kind, sizeof(p->kind));
		h = np_hash64_bytes(h, &p->negate, sizeof(p->negate));
		h = np_hash64_bytes(h, &p->field, sizeof(p->field));
		h = np_hash64_bytes(h, &p->masked, sizeof(p->masked));
		h = np_hash64_bytes(h, &p->mask, sizeof(p->mask));
		h = hash_iset(h, &p->values);
		h = np_hash64_bytes(h, &p->ifnames.n, sizeof(p->ifnames.n));
		EVAL_FOREACH(n, &p->ifnames)
		{
			h = hash_str(h, n->name);
			h = np_hash64_bytes(h, &n->prefix, sizeof(n->prefix));
		}
		h = np_hash64_bytes(h, &p->bits, sizeof(p->bits));
		if (p->kind == IR_PRED_LOOKUP)
			h = hash_ref(h, &p->ref);
		h = hash_str(h, p->text);
	}
	h = np_hash64_bytes(h, "|", 1);
	EVAL_FOREACH(st, &r->stmts)
	{
		h = np_hash64_bytes(h, &st->kind, sizeof(st->kind));
		h = np_hash64_bytes(h, &st->after, sizeof(st->after));
		h = np_hash64_bytes(h, &st->mark_dst, sizeof(st->mark_dst));
		h = np_hash64_bytes(h, &st->mark_src, sizeof(st->mark_src));
		h = np_hash64_bytes(h, &st->mark_clear, sizeof(st->mark_clear));
		h = np_hash64_bytes(h, &st->mark_src_mask, sizeof(st->mark_src_mask));
		h = np_hash64_bytes(h, &st->mark_xor, sizeof(st->mark_xor));
		if (st->kind == IR_STMT_VMAP)
			h = hash_ref(h, &st->ref);
		h = np_hash64_bytes(h, &st->nat, sizeof(st->nat));
		h = np_hash64_bytes(h, &st->nat_has_addr, sizeof(st->nat_has_addr));
		h = np_hash64_bytes(h, &st->nat_has_port, sizeof(st->nat_has_port));
		h = np_hash64_bytes(h, &st->nat_addr_lo, sizeof(st->nat_addr_lo));
		h = np_hash64_bytes(h, &st->nat_addr_hi, sizeof(st->nat_addr_hi));
		h = np_hash64_bytes(h, &st->nat_port_lo, sizeof(st->nat_port_lo));
		h = np_hash64_bytes(h, &st->nat_port_hi, sizeof(st->nat_port_hi));
		h = hash_str(h, st->text);
	}
	return hash_verdict(h, &r->verdict);
}

static uint64_t hash_set(const struct ir_set *set);

uint64_t eval_ruleset_hash_sources(const struct ir_ruleset *rs, unsigned sources)
{
	uint64_t h = NP_HASH64_INIT;

	for (int i = 0; i < _IR_SRC_MAX; i++) {
		if (!(sources & (1u << i)))
			continue;
		h = np_hash64_bytes(h, &rs->sources[i].read, sizeof(rs->sources[i].read));
		h = hash_str(h, rs->sources[i].note);
	}
	if (sources & EVAL_HASH_IPSETS) {
		h = np_hash64_bytes(h, &rs->ipset_info.read, sizeof(rs->ipset_info.read));
		h = hash_str(h, rs->ipset_info.note);
	}
	EVAL_FOREACH(sp, &rs->ipsets)
	{
		if (!(sources & EVAL_HASH_IPSETS))
			break;
		h = hash_str(h, (*sp)->name);
		h = np_hash64_bytes(h, (uint64_t[]){ hash_set(*sp) }, sizeof(uint64_t));
	}
	EVAL_FOREACH(tp, &rs->tables)
	{
		const struct ir_table *t = *tp;

		if (!(sources & (1u << t->source)))
			continue;
		h = np_hash64_bytes(h, &t->source, sizeof(t->source));
		h = np_hash64_bytes(h, &t->family, sizeof(t->family));
		h = hash_str(h, t->name);
		EVAL_FOREACH(sp, &t->sets)
		{
			h = hash_str(h, (*sp)->name);
			h = np_hash64_bytes(h, (uint64_t[]){ hash_set(*sp) }, sizeof(uint64_t));
		}
		EVAL_FOREACH(cp, &t->chains)
		{
			const struct ir_chain *c = *cp;

			h = hash_str(h, c->name);
			h = np_hash64_bytes(h, &c->base, sizeof(c->base));
			h = np_hash64_bytes(h, &c->type, sizeof(c->type));
			h = np_hash64_bytes(h, &c->hook, sizeof(c->hook));
			h = np_hash64_bytes(h, &c->priority, sizeof(c->priority));
			h = np_hash64_bytes(h, &c->policy, sizeof(c->policy));
			h = hash_str(h, c->device);
			h = np_hash64_bytes(h, &c->rules.n, sizeof(c->rules.n));
			/* handles too: findings name the rule by its handle */
			EVAL_FOREACH(rp, &c->rules)
			{
				h = np_hash64_bytes(h, (uint64_t[]){ hash_rule(*rp) },
						    sizeof(uint64_t));
				h = np_hash64_bytes(h, &(*rp)->handle, sizeof((*rp)->handle));
			}
		}
	}
	return h ? h : 1;
}

static uint64_t hash_set(const struct ir_set *set)
{
	uint64_t h = NP_HASH64_INIT;

	h = hash_str(h, set->type);
	h = np_hash64_bytes(h, &set->flags, sizeof(set->flags));
	h = np_hash64_bytes(h, &set->nkey, sizeof(set->nkey));
	h = np_hash64_bytes(h, set->keytype, set->nkey * sizeof(set->keytype[0]));
	h = np_hash64_bytes(h, &set->family, sizeof(set->family));
	EVAL_FOREACH(e, &set->elems)
	{
		for (unsigned k = 0; k < set->nkey; k++) {
			h = np_hash64_bytes(h, &e->key[k].lo, sizeof(e->key[k].lo));
			h = np_hash64_bytes(h, &e->key[k].hi, sizeof(e->key[k].hi));
			h = hash_str(h, e->key[k].ifname);
			h = np_hash64_bytes(h, &e->key[k].prefix, sizeof(e->key[k].prefix));
		}
		h = hash_verdict(h, &e->verdict);
		h = np_hash64_bytes(h, &e->data, sizeof(e->data));
		h = np_hash64_bytes(h, &e->nomatch, sizeof(e->nomatch));
	}
	EVAL_FOREACH(m, &set->members)
	h = hash_str(h, *m);
	return h;
}

uint64_t eval_ruleset_hash(const struct ir_ruleset *rs)
{
	return eval_ruleset_hash_sources(rs, EVAL_HASH_ALL);
}

static int sum_set(struct summary *s, const struct ir_set *set)
{
	struct set_sum *x;

	if (set->id >= s->n_sets)
		return -EINVAL;
	x = &s->sets[set->id];
	if (!(x->key = set_key(set)))
		return -ENOMEM;
	x->hash = hash_set(set);
	return hashmap_put(&s->set_by_key, x->key, x);
}

static int sum_chain(struct summary *s, const struct ir_chain *c)
{
	struct chain_sum *x;
	uint64_t h = NP_HASH64_INIT;

	if (c->id >= s->n_chains)
		return -EINVAL;
	x = &s->chains[c->id];
	x->c = c;
	if (asprintf(&x->key, "%d/%d/%s/%s", c->table->source, c->table->family, c->table->name,
		     c->name) < 0) {
		x->key = NULL;
		return -ENOMEM;
	}
	h = np_hash64_bytes(h, &c->base, sizeof(c->base));
	if (c->base) {
		h = np_hash64_bytes(h, &c->type, sizeof(c->type));
		h = np_hash64_bytes(h, &c->hook, sizeof(c->hook));
		h = np_hash64_bytes(h, &c->priority, sizeof(c->priority));
		h = np_hash64_bytes(h, &c->policy, sizeof(c->policy));
		if (c->device)
			h = np_hash64_bytes(h, c->device, strlen(c->device));
	}
	x->head = h;
	x->rules = calloc(c->rules.n ? c->rules.n : 1, sizeof(*x->rules));
	if (!x->rules)
		return -ENOMEM;
	x->n = c->rules.n;
	for (size_t i = 0; i < c->rules.n; i++)
		x->rules[i] = hash_rule(c->rules.items[i]);
	return hashmap_put(&s->chain_by_key, x->key, x);
}

static int summarize(const struct ir_ruleset *rs, struct summary *s)
{
	int r;

	*s = (struct summary){ 0 };
	s->n_chains = rs->n_chains;
	s->n_sets = rs->n_sets;
	s->chains = calloc(s->n_chains + 1, sizeof(*s->chains));
	s->sets = calloc(s->n_sets + 1, sizeof(*s->sets));
	if (!s->chains || !s->sets)
		return -ENOMEM;
	EVAL_FOREACH(sp, &rs->ipsets)
	if ((r = sum_set(s, *sp)) < 0)
		return r;
	EVAL_FOREACH(tp, &rs->tables)
	{
		EVAL_FOREACH(sp, &(*tp)->sets)
		if ((r = sum_set(s, *sp)) < 0)
			return r;
		EVAL_FOREACH(cp, &(*tp)->chains)
		if ((r = sum_chain(s, *cp)) < 0)
			return r;
	}
	return 0;
}

/* --- interfaces --- */

struct names {
	const char **v;
	size_t n, cap;
	bool all;
};

static int names_add(struct names *x, const char *name)
{
	for (size_t i = 0; i < x->n; i++)
		if (streq(x->v[i], name))
			return 0;
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 8;
		const char **v = reallocarray(x->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n++] = name;
	return 0;
}

static int names_merge(struct names *x, const struct names *y)
{
	int r;

	if (y->all)
		x->all = true;
	for (size_t i = 0; !x->all && i < y->n; i++)
		if ((r = names_add(x, y->v[i])) < 0)
			return r;
	return 0;
}

/* Adds the exact interface names r restricts its packets to (an iif or oif test that is not
 * negated and has no wildcard); returns 1 when there is such a restriction, 0 when not, or
 * -ENOMEM. */
static int rule_names(const struct ir_rule *r, struct names *x)
{
	EVAL_FOREACH(p, &r->preds)
	{
		bool exact = p->kind == IR_PRED_MATCH && !p->negate && p->ifnames.n > 0 &&
			     (p->field == IR_FIELD_IIFNAME || p->field == IR_FIELD_OIFNAME);
		int k;

		EVAL_FOREACH(n, &p->ifnames)
		if (n->prefix || !n->name || !n->name[0])
			exact = false;
		if (!exact)
			continue;
		EVAL_FOREACH(n, &p->ifnames)
		if ((k = names_add(x, n->name)) < 0)
			return k;
		return 1;
	}
	return 0;
}

struct diff {
	const struct ir_ruleset *rs;
	/* per chain of the new ruleset: the rules (rule, element key) that send packets to it */
	struct edge {
		const struct ir_rule *rule;
		const char *ifname; /* a verdict map element keyed by this exact interface */
		struct edge *next;
	} * *in;
	struct edge *edges;
	size_t n_edges;
	/* owners by chain id: 0 not computed, 1 computing, 2 done */
	uint8_t *state;
	struct names *owners;
	const struct ir_chain *why_all;
};

static int owners_of(struct diff *d, const struct ir_chain *c, struct names **ret);

/* The interfaces of the packets that rule e sends to its target. */
static int edge_names(struct diff *d, const struct edge *e, struct names *x)
{
	struct names *parent;
	int r;

	if (e->ifname)
		return names_add(x, e->ifname);
	r = rule_names(e->rule, x);
	if (r != 0)
		return r < 0 ? r : 0;
	r = owners_of(d, e->rule->chain, &parent);
	if (r < 0)
		return r;
	return names_merge(x, parent);
}

static int owners_of(struct diff *d, const struct ir_chain *c, struct names **ret)
{
	struct names *x = &d->owners[c->id];
	int r;

	*ret = x;
	if (d->state[c->id] == 2)
		return 0;
	if (d->state[c->id] == 1) {
		/* a loop of jumps: give up scoping */
		x->all = true;
		if (!d->why_all)
			d->why_all = c;
		return 0;
	}
	d->state[c->id] = 1;
	if (c->base) {
		x->all = true;
		if (!d->why_all)
			d->why_all = c;
	}
	for (const struct edge *e = d->in [c->id]; e && !x->all; e = e->next)
		if ((r = edge_names(d, e, x)) < 0)
			return r;
	d->state[c->id] = 2;
	return 0;
}

static int edge_add(struct diff *d, const struct ir_rule *r, const struct ir_chain *target,
		    const char *ifname)
{
	struct edge *e;

	if (!target)
		return 0;
	e = &d->edges[d->n_edges++];
	*e = (struct edge){ .rule = r, .ifname = ifname, .next = d->in[target->id] };
	d->in[target->id] = e;
	return 0;
}

static int graph_build(struct diff *d)
{
	size_t n = 0;

	EVAL_FOREACH(tp, &d->rs->tables)
	EVAL_FOREACH(cp, &(*tp)->chains)
	EVAL_FOREACH(rp, &(*cp)->rules)
	{
		n++;
		EVAL_FOREACH(s, &(*rp)->stmts)
		if (s->kind == IR_STMT_VMAP && s->ref.set)
			n += s->ref.set->elems.n;
	}
	d->edges = calloc(n + 1, sizeof(*d->edges));
	d->in = calloc(d->rs->n_chains + 1, sizeof(*d->in));
	d->state = calloc(d->rs->n_chains + 1, sizeof(*d->state));
	d->owners = calloc(d->rs->n_chains + 1, sizeof(*d->owners));
	if (!d->edges || !d->in || !d->state || !d->owners)
		return -ENOMEM;
	EVAL_FOREACH(tp, &d->rs->tables)
	EVAL_FOREACH(cp, &(*tp)->chains)
	EVAL_FOREACH(rp, &(*cp)->rules)
	{
		const struct ir_rule *r = *rp;

		if (r->verdict.kind == IR_VERDICT_JUMP || r->verdict.kind == IR_VERDICT_GOTO)
			edge_add(d, r, r->verdict.target, NULL);
		EVAL_FOREACH(s, &r->stmts)
		{
			const struct ir_set *set = s->ref.set;
			bool by_if = set && set->nkey == 1 && s->ref.nkey == 1 &&
				     (s->ref.key[0] == IR_FIELD_IIFNAME ||
				      s->ref.key[0] == IR_FIELD_OIFNAME);

			if (s->kind != IR_STMT_VMAP || !set)
				continue;
			EVAL_FOREACH(e, &set->elems)
			edge_add(d, r, e->verdict.target,
				 by_if && e->key[0].ifname && !e->key[0].prefix ? e->key[0].ifname
										: NULL);
		}
	}
	return 0;
}

static void diff_done(struct diff *d)
{
	for (size_t i = 0; d->owners && i < d->rs->n_chains; i++)
		free(d->owners[i].v);
	free(d->owners);
	free(d->state);
	free(d->in);
	free(d->edges);
}

/* Whether rule r of the new ruleset looks up a set whose elements differ (or are new). */
static bool rule_sets_differ(const struct ir_rule *r, const bool *set_differs)
{
	EVAL_FOREACH(p, &r->preds)
	if (p->kind == IR_PRED_LOOKUP && (!p->ref.set || set_differs[p->ref.set->id]))
		return true;
	EVAL_FOREACH(s, &r->stmts)
	if (s->kind == IR_STMT_VMAP && (!s->ref.set || set_differs[s->ref.set->id]))
		return true;
	return false;
}

static bool set_differs_rec(const struct ir_set *s, const struct summary *old,
			    const struct summary *new, unsigned depth)
{
	const struct set_sum *o = hashmap_get(&old->set_by_key, new->sets[s->id].key);

	if (!o || o->hash != new->sets[s->id].hash || depth > 8)
		return true;
	EVAL_FOREACH(m, &s->member_sets)
	if (set_differs_rec(*m, old, new, depth + 1))
		return true;
	return false;
}

void eval_change_done(struct eval_change *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->ifnames[i]);
	free(c->ifnames);
	free(c->why);
	*c = (struct eval_change){ 0 };
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int eval_changed_interfaces(const struct eval_ctx *old, const struct eval_ctx *new,
			    struct eval_change *ret)
{
	struct summary so = { 0 }, sn = { 0 };
	struct diff d = { .rs = new->rs };
	struct names all = { 0 };
	bool *set_differs = NULL;
	int r;

	*ret = (struct eval_change){ 0 };
	if ((r = summarize(old->rs, &so)) < 0 || (r = summarize(new->rs, &sn)) < 0)
		goto out;
	r = -ENOMEM;
	set_differs = calloc(sn.n_sets + 1, sizeof(*set_differs));
	if (!set_differs)
		goto out;
	EVAL_FOREACH(sp, &new->rs->ipsets)
	set_differs[(*sp)->id] = set_differs_rec(*sp, &so, &sn, 0);
	EVAL_FOREACH(tp, &new->rs->tables)
	EVAL_FOREACH(sp, &(*tp)->sets)
	set_differs[(*sp)->id] = set_differs_rec(*sp, &so, &sn, 0);
	/* A base chain gone is a change for every packet. */
	for (size_t i = 0; i < so.n_chains; i++)
		if (so.chains[i].c && so.chains[i].c->base &&
		    !hashmap_get(&sn.chain_by_key, so.chains[i].key)) {
			all.all = true;
			if (asprintf(&ret->why, "base chain %s %s removed",
				     so.chains[i].c->table->name, so.chains[i].c->name) < 0)
				ret->why = NULL;
			break;
		}
	if ((r = graph_build(&d)) < 0)
		goto out;
	for (size_t i = 0; i < sn.n_chains && !all.all; i++) {
		const struct chain_sum *cn = &sn.chains[i];
		const struct chain_sum *co;
		size_t head = 0, tail = 0;
		struct names local = { 0 };
		bool scoped = true;

		if (!cn->c)
			continue;
		co = hashmap_get(&so.chain_by_key, cn->key);
		if (co && co->head == cn->head) {
			/* the common head and tail: equal rules that look up no changed set */
			while (head < co->n && head < cn->n && co->rules[head] == cn->rules[head] &&
			       !rule_sets_differ(cn->c->rules.items[head], set_differs))
				head++;
			while (tail < co->n - head && tail < cn->n - head &&
			       co->rules[co->n - 1 - tail] == cn->rules[cn->n - 1 - tail] &&
			       !rule_sets_differ(cn->c->rules.items[cn->n - 1 - tail], set_differs))
				tail++;
			if (head == co->n && head == cn->n)
				continue; /* the same chain */
			/* The rules between: all of the old and new ones must name interfaces. */
			for (size_t k = head; scoped && k < co->n - tail; k++)
				if ((r = rule_names(co->c->rules.items[k], &local)) <= 0)
					scoped = false;
			for (size_t k = head; scoped && k < cn->n - tail; k++)
				if ((r = rule_names(cn->c->rules.items[k], &local)) <= 0)
					scoped = false;
			if (r < 0) {
				free(local.v);
				goto out;
			}
		} else
			scoped = false;
		ret->changed_chains++;
		if (scoped)
			r = names_merge(&all, &local);
		else {
			struct names *x;

			r = owners_of(&d, cn->c, &x);
			if (r >= 0)
				r = names_merge(&all, x);
			if (r >= 0 && all.all && !ret->why &&
			    asprintf(&ret->why,
				     "chain %s %s changed, reached from base chain %s %s",
				     cn->c->table->name, cn->c->name,
				     d.why_all ? d.why_all->table->name : "?",
				     d.why_all ? d.why_all->name : "?") < 0)
				ret->why = NULL;
		}
		free(local.v);
		if (r < 0)
			goto out;
	}
	ret->all = all.all;
	if (!ret->all && all.n > 0) {
		r = -ENOMEM;
		ret->ifnames = calloc(all.n, sizeof(*ret->ifnames));
		if (!ret->ifnames)
			goto out;
		for (; ret->n < all.n; ret->n++)
			if (!(ret->ifnames[ret->n] = strdup(all.v[ret->n])))
				goto out;
		if (ret->n > 1)
			qsort(ret->ifnames, ret->n, sizeof(*ret->ifnames), name_cmp);
	}
	r = 0;
out:
	if (r < 0)
		eval_change_done(ret);
	free(all.v);
	free(set_differs);
	diff_done(&d);
	summary_done(&so);
	summary_done(&sn);
	return r;
}
