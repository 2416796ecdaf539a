/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ir-internal.h"

/* --- names --- */

static const char *const source_names[_IR_SRC_MAX] = {
	[IR_SRC_NFT] = "nft",
	[IR_SRC_IPTABLES_NFT] = "iptables-nft",
	[IR_SRC_IPTABLES_LEGACY] = "iptables-legacy",
};

static const char *const hook_names[_IR_HOOK_MAX] = {
	[IR_HOOK_PREROUTING] = "prerouting",   [IR_HOOK_INPUT] = "input",
	[IR_HOOK_FORWARD] = "forward",	       [IR_HOOK_OUTPUT] = "output",
	[IR_HOOK_POSTROUTING] = "postrouting", [IR_HOOK_INGRESS] = "ingress",
	[IR_HOOK_EGRESS] = "egress",	       [IR_HOOK_NONE] = "none",
};

static const char *const chain_type_names[_IR_CHAIN_TYPE_MAX] = {
	[IR_CHAIN_FILTER] = "filter",
	[IR_CHAIN_NAT] = "nat",
	[IR_CHAIN_ROUTE] = "route",
};

static const char *const verdict_names[_IR_VERDICT_MAX] = {
	[IR_VERDICT_CONTINUE] = "continue", [IR_VERDICT_ACCEPT] = "accept",
	[IR_VERDICT_DROP] = "drop",	    [IR_VERDICT_REJECT] = "reject",
	[IR_VERDICT_JUMP] = "jump",	    [IR_VERDICT_GOTO] = "goto",
	[IR_VERDICT_RETURN] = "return",	    [IR_VERDICT_QUEUE] = "queue",
};

static const char *const field_names[_IR_FIELD_MAX] = {
	[IR_FIELD_NONE] = "none",
	[IR_FIELD_NFPROTO] = "meta nfproto",
	[IR_FIELD_SADDR] = "saddr",
	[IR_FIELD_DADDR] = "daddr",
	[IR_FIELD_L4PROTO] = "meta l4proto",
	[IR_FIELD_SPORT] = "th sport",
	[IR_FIELD_DPORT] = "th dport",
	[IR_FIELD_ICMP_TYPE] = "icmp type",
	[IR_FIELD_ICMP_CODE] = "icmp code",
	[IR_FIELD_IIFNAME] = "iifname",
	[IR_FIELD_OIFNAME] = "oifname",
	[IR_FIELD_IIF] = "iif",
	[IR_FIELD_OIF] = "oif",
	[IR_FIELD_CT_STATE] = "ct state",
	[IR_FIELD_CT_DIRECTION] = "ct direction",
	[IR_FIELD_CT_MARK] = "ct mark",
	[IR_FIELD_META_MARK] = "meta mark",
	[IR_FIELD_PKTTYPE] = "meta pkttype",
	[IR_FIELD_SADDR_TYPE] = "fib saddr type",
	[IR_FIELD_DADDR_TYPE] = "fib daddr type",
	[IR_FIELD_PHYSDEV_IN] = "physdev in",
	[IR_FIELD_PHYSDEV_OUT] = "physdev out",
	[IR_FIELD_PHYSDEV_BRIDGED] = "physdev bridged",
	[IR_FIELD_TCP_FLAGS] = "tcp flags",
	[IR_FIELD_CT_STATUS] = "ct status",
	[IR_FIELD_RPF_OK] = "rpfilter ok",
	[IR_FIELD_SKUID] = "meta skuid",
	[IR_FIELD_SKGID] = "meta skgid",
	[IR_FIELD_IIFTYPE] = "meta iiftype",
	[IR_FIELD_OIFTYPE] = "meta oiftype",
	[IR_FIELD_LENGTH] = "meta length",
	[IR_FIELD_DSCP] = "dscp",
};

static const char *const pred_kind_names[_IR_PRED_MAX] = {
	[IR_PRED_MATCH] = "match",
	[IR_PRED_BITS] = "bits",
	[IR_PRED_LOOKUP] = "lookup",
	[IR_PRED_OPAQUE] = "opaque",
};

static const char *const stmt_kind_names[_IR_STMT_MAX] = {
	[IR_STMT_MARK] = "mark",       [IR_STMT_VMAP] = "vmap",	      [IR_STMT_NAT] = "nat",
	[IR_STMT_LOG] = "log",	       [IR_STMT_COUNTER] = "counter", [IR_STMT_LIMIT] = "limit",
	[IR_STMT_NOTRACK] = "notrack", [IR_STMT_NOTE] = "note",	      [IR_STMT_OPAQUE] = "opaque",
};

static const char *const nat_names[_IR_NAT_MAX] = {
	[IR_NAT_SNAT] = "snat",
	[IR_NAT_DNAT] = "dnat",
	[IR_NAT_MASQUERADE] = "masquerade",
	[IR_NAT_REDIRECT] = "redirect",
};

#define NAME_OF(table, v) ((unsigned)(v) < ELEMENTSOF(table) && (table)[v] ? (table)[v] : "?")

const char *ir_source_to_string(enum ir_source s)
{
	return NAME_OF(source_names, s);
}

const char *ir_family_to_string(enum ir_family f)
{
	switch (f) {
	case IR_FAMILY_INET:
		return "inet";
	case IR_FAMILY_IP:
		return "ip";
	case IR_FAMILY_ARP:
		return "arp";
	case IR_FAMILY_NETDEV:
		return "netdev";
	case IR_FAMILY_BRIDGE:
		return "bridge";
	case IR_FAMILY_IP6:
		return "ip6";
	}
	return "?";
}

const char *ir_hook_to_string(enum ir_hook h)
{
	return NAME_OF(hook_names, h);
}

const char *ir_chain_type_to_string(enum ir_chain_type t)
{
	return NAME_OF(chain_type_names, t);
}

const char *ir_verdict_kind_to_string(enum ir_verdict_kind v)
{
	return NAME_OF(verdict_names, v);
}

const char *ir_field_to_string(enum ir_field f)
{
	return NAME_OF(field_names, f);
}

const char *ir_pred_kind_to_string(enum ir_pred_kind k)
{
	return NAME_OF(pred_kind_names, k);
}

const char *ir_stmt_kind_to_string(enum ir_stmt_kind k)
{
	return NAME_OF(stmt_kind_names, k);
}

const char *ir_nat_kind_to_string(enum ir_nat_kind k)
{
	return NAME_OF(nat_names, k);
}

static int lookup_name(const char *const *names, size_t n, const char *s)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (names[i] && streq(names[i], s))
			return (int)i;
	return -EINVAL;
}

int ir_source_from_string(const char *s)
{
	return lookup_name(source_names, ELEMENTSOF(source_names), s);
}

int ir_family_from_string(const char *s)
{
	static const enum ir_family all[] = { IR_FAMILY_INET,	IR_FAMILY_IP,	  IR_FAMILY_ARP,
					      IR_FAMILY_NETDEV, IR_FAMILY_BRIDGE, IR_FAMILY_IP6 };

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(all); i++)
		if (streq(ir_family_to_string(all[i]), s))
			return all[i];
	return -EINVAL;
}

int ir_hook_from_string(const char *s)
{
	return lookup_name(hook_names, ELEMENTSOF(hook_names), s);
}

int ir_chain_type_from_string(const char *s)
{
	return lookup_name(chain_type_names, ELEMENTSOF(chain_type_names), s);
}

enum ir_keytype ir_field_keytype(enum ir_field f)
{
	switch (f) {
	case IR_FIELD_SADDR:
	case IR_FIELD_DADDR:
		return IR_KEY_ADDR;
	case IR_FIELD_IIFNAME:
	case IR_FIELD_OIFNAME:
	case IR_FIELD_PHYSDEV_IN:
	case IR_FIELD_PHYSDEV_OUT:
		return IR_KEY_IFNAME;
	default:
		return IR_KEY_NUM;
	}
}

/* --- small helpers --- */

static int strdup_or_null(const char *s, char **ret)
{
	char *c = NULL;

	if (s) {
		c = strdup(s);
		if (!c)
			return -ENOMEM;
	}
	free(*ret);
	*ret = c;
	return 0;
}

static int vformat(char **ret, const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/*
 * Packing: a cursor over one allocation. With p NULL it only measures (n is then the size
 * needed); the same calls with p set fill the allocation.
 */
struct packer {
	char *p;
	size_t n;
};

static void *pk_alloc(struct packer *k, size_t size, size_t align)
{
	size_t off = (k->n + align - 1) & ~(align - 1);

	k->n = off + size;
	return k->p ? k->p + off : NULL;
}

static char *pk_str(struct packer *k, const char *str)
{
	size_t l;
	char *d;

	if (!str)
		return NULL;
	l = strlen(str) + 1;
	d = pk_alloc(k, l, 1);
	if (d)
		memcpy(d, str, l);
	return d;
}

/* --- predicates, statements, verdicts --- */

void ir_pred_done(struct ir_pred *p)
{
	if (!p)
		return;
	np_iset_done(&p->values);
	IR_FOREACH(n, &p->ifnames)
	free(n->name);
	VEC_DONE(&p->ifnames);
	free(p->ref.name);
	free(p->text);
	*p = (struct ir_pred){ 0 };
}

void ir_verdict_done(struct ir_verdict *v)
{
	if (!v)
		return;
	free(v->chain);
	*v = (struct ir_verdict){ 0 };
}

void ir_stmt_done(struct ir_stmt *s)
{
	if (!s)
		return;
	free(s->ref.name);
	free(s->text);
	*s = (struct ir_stmt){ 0 };
}

int ir_verdict_copy(const struct ir_verdict *src, struct ir_verdict *ret)
{
	*ret = *src;
	ret->chain = NULL;
	if (src->chain) {
		ret->chain = strdup(src->chain);
		if (!ret->chain) {
			*ret = (struct ir_verdict){ 0 };
			return -ENOMEM;
		}
	}
	return 0;
}

/* --- rules --- */

int ir_rule_new(struct ir_rule **ret)
{
	struct ir_rule *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->verdict.kind = IR_VERDICT_CONTINUE;
	*ret = r;
	return 0;
}

struct ir_rule *ir_rule_free(struct ir_rule *r)
{
	if (!r)
		return NULL;
	if (!r->packed) {
		IR_FOREACH(p, &r->preds)
		ir_pred_done(p);
		VEC_DONE(&r->preds);
		IR_FOREACH(s, &r->stmts)
		ir_stmt_done(s);
		VEC_DONE(&r->stmts);
		ir_verdict_done(&r->verdict);
		free(r->comment);
	}
	free(r->text);
	free(r);
	return NULL;
}

void ir_rule_clear(struct ir_rule *r)
{
	IR_FOREACH(p, &r->preds)
	ir_pred_done(p);
	r->preds.n = 0;
	IR_FOREACH(s, &r->stmts)
	ir_stmt_done(s);
	r->stmts.n = 0;
	ir_verdict_done(&r->verdict);
	free(r->comment);
	r->comment = NULL;
	free(r->text);
	r->text = NULL;
	r->handle = 0;
}

/* Deep copies (into separate allocations) for ir_rule_unpack(); *dst is zeroed on failure. */
static int pred_copy(const struct ir_pred *src, struct ir_pred *dst)
{
	*dst = *src;
	dst->values = (struct np_iset){ 0 };
	dst->ifnames.items = NULL;
	dst->ifnames.n = dst->ifnames.cap = 0;
	dst->ref.name = NULL;
	dst->text = NULL;
	if (np_iset_copy(&src->values, &dst->values) < 0)
		goto oom;
	IR_FOREACH(f, &src->ifnames)
	{
		struct ir_ifname c = { .name = strdup(f->name), .prefix = f->prefix };

		if (!c.name || VEC_PUSH(&dst->ifnames, c) < 0) {
			free(c.name);
			goto oom;
		}
	}
	if (strdup_or_null(src->ref.name, &dst->ref.name) < 0 ||
	    strdup_or_null(src->text, &dst->text) < 0)
		goto oom;
	return 0;
oom:
	ir_pred_done(dst);
	return -ENOMEM;
}

static int stmt_copy(const struct ir_stmt *src, struct ir_stmt *dst)
{
	*dst = *src;
	dst->ref.name = NULL;
	dst->text = NULL;
	if (strdup_or_null(src->ref.name, &dst->ref.name) < 0 ||
	    strdup_or_null(src->text, &dst->text) < 0) {
		ir_stmt_done(dst);
		return -ENOMEM;
	}
	return 0;
}

static int rule_unpack(struct ir_rule *r)
{
	struct ir_rule c = { 0 };

	if (r->preds.n > 0) {
		c.preds.items = calloc(r->preds.n, sizeof(*c.preds.items));
		if (!c.preds.items)
			goto oom;
		c.preds.cap = r->preds.n;
	}
	for (size_t i = 0; i < r->preds.n; i++, c.preds.n++)
		if (pred_copy(&r->preds.items[i], &c.preds.items[i]) < 0)
			goto oom;
	if (r->stmts.n > 0) {
		c.stmts.items = calloc(r->stmts.n, sizeof(*c.stmts.items));
		if (!c.stmts.items)
			goto oom;
		c.stmts.cap = r->stmts.n;
	}
	for (size_t i = 0; i < r->stmts.n; i++, c.stmts.n++)
		if (stmt_copy(&r->stmts.items[i], &c.stmts.items[i]) < 0)
			goto oom;
	if (ir_verdict_copy(&r->verdict, &c.verdict) < 0 ||
	    strdup_or_null(r->comment, &c.comment) < 0)
		goto oom;
	/* the packed copies stay in r's allocation (or its template), unused, until r is freed */
	r->preds = c.preds;
	r->stmts = c.stmts;
	r->verdict = c.verdict;
	r->comment = c.comment;
	r->packed = false;
	r->shared = false;
	return 0;
oom:
	c.text = NULL;
	IR_FOREACH(p, &c.preds)
	ir_pred_done(p);
	VEC_DONE(&c.preds);
	IR_FOREACH(st, &c.stmts)
	ir_stmt_done(st);
	VEC_DONE(&c.stmts);
	ir_verdict_done(&c.verdict);
	free(c.comment);
	return -ENOMEM;
}

int ir_rule_unpack(struct ir_rule *r)
{
	return r->packed ? rule_unpack(r) : 0;
}

int ir_rule_set_comment(struct ir_rule *r, const char *comment)
{
	if (r->packed && rule_unpack(r) < 0)
		return -ENOMEM;
	return strdup_or_null(comment, &r->comment);
}

int ir_rule_set_text(struct ir_rule *r, const char *text)
{
	return strdup_or_null(text, &r->text);
}

int ir_rule_add_pred(struct ir_rule *r, struct ir_pred *p)
{
	int k;

	if (r->packed && rule_unpack(r) < 0) {
		ir_pred_done(p);
		return -ENOMEM;
	}
	if (p->kind == IR_PRED_MATCH)
		np_iset_normalize(&p->values);
	k = VEC_PUSH(&r->preds, *p);
	if (k < 0) {
		ir_pred_done(p);
		return k;
	}
	*p = (struct ir_pred){ 0 };
	return 0;
}

int ir_rule_add_match(struct ir_rule *r, enum ir_field field, bool negate, struct np_iset *values)
{
	struct ir_pred p = {
		.kind = IR_PRED_MATCH,
		.field = field,
		.negate = negate,
		.values = *values,
	};

	*values = (struct np_iset){ 0 };
	return ir_rule_add_pred(r, &p);
}

int ir_rule_add_match_masked(struct ir_rule *r, enum ir_field field, uint32_t mask, bool negate,
			     struct np_iset *values)
{
	struct ir_pred p = {
		.kind = IR_PRED_MATCH,
		.field = field,
		.negate = negate,
		.masked = true,
		.mask = mask,
		.values = *values,
	};

	*values = (struct np_iset){ 0 };
	return ir_rule_add_pred(r, &p);
}

int ir_rule_add_match_range(struct ir_rule *r, enum ir_field field, bool negate, np_u128 lo,
			    np_u128 hi)
{
	struct np_iset s = { 0 };

	if (lo <= hi) {
		/* one range: no room for more */
		s.r = malloc(sizeof(*s.r));
		if (!s.r)
			return -ENOMEM;
		s.r[0] = (struct np_range){ lo, hi };
		s.n = s.cap = 1;
	}
	return ir_rule_add_match(r, field, negate, &s);
}

static int ifname_parse(const char *pattern, struct ir_ifname *ret)
{
	size_t n = strlen(pattern);
	bool prefix = n > 0 && (pattern[n - 1] == '+' || pattern[n - 1] == '*');

	ret->name = strndup(pattern, prefix ? n - 1 : n);
	if (!ret->name)
		return -ENOMEM;
	ret->prefix = prefix;
	return 0;
}

int ir_rule_add_ifnames(struct ir_rule *r, enum ir_field field, bool negate,
			const char *const *patterns, size_t n)
{
	struct ir_pred p = {
		.kind = IR_PRED_MATCH,
		.field = field,
		.negate = negate,
	};

	for (size_t i = 0; i < n; i++) {
		struct ir_ifname f = { 0 };

		if (ifname_parse(patterns[i], &f) < 0) {
			ir_pred_done(&p);
			return -ENOMEM;
		}
		if (VEC_PUSH(&p.ifnames, f) < 0) {
			free(f.name);
			ir_pred_done(&p);
			return -ENOMEM;
		}
	}
	return ir_rule_add_pred(r, &p);
}

int ir_rule_add_ifname(struct ir_rule *r, enum ir_field field, bool negate, const char *pattern)
{
	return ir_rule_add_ifnames(r, field, negate, &pattern, 1);
}

int ir_rule_add_bits(struct ir_rule *r, enum ir_field field, uint32_t bits, bool negate)
{
	struct ir_pred p = {
		.kind = IR_PRED_BITS,
		.field = field,
		.negate = negate,
		.bits = bits,
	};

	return ir_rule_add_pred(r, &p);
}

static int setref_init(struct ir_setref *ref, const enum ir_field *key, unsigned nkey,
		       const char *set_name, bool ipset)
{
	if (nkey == 0 || nkey > IR_KEY_MAX || !set_name)
		return -EINVAL;
	memcpy(ref->key, key, nkey * sizeof(*key));
	ref->nkey = nkey;
	ref->ipset = ipset;
	ref->name = strdup(set_name);
	if (!ref->name)
		return -ENOMEM;
	return 0;
}

int ir_rule_add_lookup(struct ir_rule *r, const enum ir_field *key, unsigned nkey,
		       const char *set_name, bool ipset, bool negate)
{
	struct ir_pred p = {
		.kind = IR_PRED_LOOKUP,
		.negate = negate,
	};
	int k;

	k = setref_init(&p.ref, key, nkey, set_name, ipset);
	if (k < 0)
		return k;
	return ir_rule_add_pred(r, &p);
}

int ir_rule_add_opaque(struct ir_rule *r, const char *fmt, ...)
{
	struct ir_pred p = {
		.kind = IR_PRED_OPAQUE,
	};
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vformat(&p.text, fmt, ap);
	va_end(ap);
	if (k < 0)
		return k;
	return ir_rule_add_pred(r, &p);
}

int ir_rule_add_stmt(struct ir_rule *r, struct ir_stmt *s)
{
	int k;

	if (r->packed && rule_unpack(r) < 0) {
		ir_stmt_done(s);
		return -ENOMEM;
	}
	s->after = r->preds.n;
	k = VEC_PUSH(&r->stmts, *s);
	if (k < 0) {
		ir_stmt_done(s);
		return k;
	}
	*s = (struct ir_stmt){ 0 };
	return 0;
}

int ir_rule_add_mark_copy(struct ir_rule *r, enum ir_field dst, enum ir_field src,
			  uint32_t src_mask, uint32_t clear, uint32_t xor)
{
	struct ir_stmt s = {
		.kind = IR_STMT_MARK,
		.mark_dst = dst,
		.mark_src = src,
		.mark_src_mask = src_mask,
		.mark_clear = clear,
		.mark_xor = xor,
	};

	return ir_rule_add_stmt(r, &s);
}

int ir_rule_add_mark(struct ir_rule *r, enum ir_field dst, uint32_t clear, uint32_t xor)
{
	return ir_rule_add_mark_copy(r, dst, IR_FIELD_NONE, 0, clear, xor);
}

int ir_rule_add_vmap(struct ir_rule *r, const enum ir_field *key, unsigned nkey,
		     const char *set_name, bool ipset)
{
	struct ir_stmt s = {
		.kind = IR_STMT_VMAP,
	};
	int k;

	k = setref_init(&s.ref, key, nkey, set_name, ipset);
	if (k < 0)
		return k;
	return ir_rule_add_stmt(r, &s);
}

int ir_rule_add_nat(struct ir_rule *r, enum ir_nat_kind kind, const char *text)
{
	struct ir_stmt s = {
		.kind = IR_STMT_NAT,
		.nat = kind,
	};

	if (strdup_or_null(text, &s.text) < 0)
		return -ENOMEM;
	return ir_rule_add_stmt(r, &s);
}

int ir_rule_add_note(struct ir_rule *r, enum ir_stmt_kind kind, const char *fmt, ...)
{
	struct ir_stmt s = {
		.kind = kind,
	};
	va_list ap;
	int k;

	switch (kind) {
	case IR_STMT_LOG:
	case IR_STMT_COUNTER:
	case IR_STMT_LIMIT:
	case IR_STMT_NOTRACK:
	case IR_STMT_NOTE:
	case IR_STMT_OPAQUE:
		break;
	default:
		return -EINVAL;
	}
	va_start(ap, fmt);
	k = vformat(&s.text, fmt, ap);
	va_end(ap);
	if (k < 0)
		return k;
	return ir_rule_add_stmt(r, &s);
}

int ir_rule_set_verdict(struct ir_rule *r, enum ir_verdict_kind kind, const char *chain)
{
	char *c = NULL;

	if ((kind == IR_VERDICT_JUMP || kind == IR_VERDICT_GOTO) && !chain)
		return -EINVAL;
	if (r->packed && rule_unpack(r) < 0)
		return -ENOMEM;
	if (chain && (kind == IR_VERDICT_JUMP || kind == IR_VERDICT_GOTO)) {
		c = strdup(chain);
		if (!c)
			return -ENOMEM;
	}
	ir_verdict_done(&r->verdict);
	r->verdict.kind = kind;
	r->verdict.chain = c;
	return 0;
}

int ir_rule_set_queue(struct ir_rule *r, uint16_t num, uint16_t last, bool bypass, bool fanout)
{
	if (r->packed && rule_unpack(r) < 0)
		return -ENOMEM;
	ir_verdict_done(&r->verdict);
	r->verdict.kind = IR_VERDICT_QUEUE;
	r->verdict.queue_num = num;
	r->verdict.queue_last = last < num ? num : last;
	r->verdict.queue_bypass = bypass;
	r->verdict.queue_fanout = fanout;
	return 0;
}

bool ir_rule_is_opaque(const struct ir_rule *r)
{
	IR_FOREACH(p, &r->preds)
	if (p->kind == IR_PRED_OPAQUE)
		return true;
	IR_FOREACH(s, &r->stmts)
	if (s->kind == IR_STMT_OPAQUE)
		return true;
	return false;
}

/* --- chains --- */

int ir_chain_new(const char *name, struct ir_chain **ret)
{
	size_t nl = strlen(name) + 1;
	/* the name lives behind the chain: one allocation */
	struct ir_chain *c = calloc(1, sizeof(*c) + nl);

	if (!c)
		return -ENOMEM;
	c->name = memcpy(c + 1, name, nl);
	c->hook = IR_HOOK_NONE;
	c->policy = IR_VERDICT_ACCEPT;
	*ret = c;
	return 0;
}

int ir_chain_set_base(struct ir_chain *c, enum ir_chain_type type, enum ir_hook hook, int priority,
		      enum ir_verdict_kind policy, const char *device)
{
	if (strdup_or_null(device, &c->device) < 0)
		return -ENOMEM;
	c->base = true;
	c->type = type;
	c->hook = hook;
	c->priority = priority;
	c->policy = policy;
	return 0;
}

int ir_chain_new_base(const char *name, enum ir_chain_type type, enum ir_hook hook, int priority,
		      enum ir_verdict_kind policy, struct ir_chain **ret)
{
	_cleanup_(ir_chain_freep) struct ir_chain *c = NULL;
	int k;

	k = ir_chain_new(name, &c);
	if (k < 0)
		return k;
	k = ir_chain_set_base(c, type, hook, priority, policy, NULL);
	if (k < 0)
		return k;
	*ret = TAKE_PTR(c);
	return 0;
}

struct ir_chain *ir_chain_free(struct ir_chain *c)
{
	if (!c)
		return NULL;
	IR_FOREACH(r, &c->rules)
	ir_rule_free(*r);
	VEC_DONE(&c->rules);
	if (c->name != (char *)(c + 1))
		free(c->name);
	free(c->device);
	free(c);
	return NULL;
}

int ir_chain_append(struct ir_chain *c, struct ir_rule **rule)
{
	struct ir_rule *r = TAKE_PTR(*rule);

	if (VEC_PUSH(&c->rules, r) < 0) {
		ir_rule_free(r);
		return -ENOMEM;
	}
	r->chain = c;
	r->position = c->rules.n;
	return 0;
}

/* Lays out the packed copy of src (see struct packer); returns the rule when k->p is set. */
static struct ir_rule *rule_pack(struct packer *k, const struct ir_rule *src, const char *comment,
				 uint64_t handle)
{
	struct ir_rule *r = pk_alloc(k, sizeof(*r), _Alignof(struct ir_rule));
	struct ir_stmt *stmts = NULL;
	struct ir_pred *preds = NULL;
	char *str;

	if (src->stmts.n > 0)
		stmts = pk_alloc(k, src->stmts.n * sizeof(*stmts), _Alignof(struct ir_stmt));
	if (src->preds.n > 0)
		preds = pk_alloc(k, src->preds.n * sizeof(*preds), _Alignof(struct ir_pred));
	if (r) {
		*r = *src;
		r->chain = NULL;
		r->position = 0;
		r->handle = handle;
		r->text = NULL;
		r->shared = false;
		r->preds.items = preds;
		r->preds.cap = src->preds.n;
		r->stmts.items = stmts;
		r->stmts.cap = src->stmts.n;
		r->packed = true;
	}
	for (size_t i = 0; i < src->preds.n; i++) {
		const struct ir_pred *sp = &src->preds.items[i];
		struct np_range *rg = NULL;
		struct ir_ifname *fn = NULL;

		if (sp->values.n > 0)
			rg = pk_alloc(k, sp->values.n * sizeof(*rg), _Alignof(struct np_range));
		if (sp->ifnames.n > 0)
			fn = pk_alloc(k, sp->ifnames.n * sizeof(*fn), _Alignof(struct ir_ifname));
		if (preds) {
			preds[i] = *sp;
			if (rg)
				memcpy(rg, sp->values.r, sp->values.n * sizeof(*rg));
			preds[i].values = (struct np_iset){ rg, sp->values.n, sp->values.n };
			preds[i].ifnames.items = fn;
			preds[i].ifnames.cap = sp->ifnames.n;
		}
		for (size_t j = 0; j < sp->ifnames.n; j++) {
			str = pk_str(k, sp->ifnames.items[j].name);
			if (fn)
				fn[j] = (struct ir_ifname){ str, sp->ifnames.items[j].prefix };
		}
		str = pk_str(k, sp->ref.name);
		if (preds)
			preds[i].ref.name = str;
		str = pk_str(k, sp->text);
		if (preds)
			preds[i].text = str;
	}
	for (size_t i = 0; i < src->stmts.n; i++) {
		const struct ir_stmt *ss = &src->stmts.items[i];

		if (stmts)
			stmts[i] = *ss;
		str = pk_str(k, ss->ref.name);
		if (stmts)
			stmts[i].ref.name = str;
		str = pk_str(k, ss->text);
		if (stmts)
			stmts[i].text = str;
	}
	str = pk_str(k, src->verdict.chain);
	if (r)
		r->verdict.chain = str;
	str = pk_str(k, comment);
	if (r)
		r->comment = str;
	return r;
}

#define RELOCATE(p, from, to) \
	((p) ? (__typeof__(p))((char *)(to) + ((char *)(p) - (char *)(from))) : NULL)

/* The copy of a packed rule: its allocation up to its comment (packed last) copied as it is and
 * the pointers into it moved to the copy. */
static struct ir_rule *rule_clone(const struct ir_rule *src, const char *comment, uint64_t handle)
{
	size_t n = src->comment ? (size_t)(src->comment - (const char *)src) : src->packed_size;
	size_t cl = comment ? strlen(comment) + 1 : 0;
	struct ir_rule *r = malloc(n + cl);

	if (!r)
		return NULL;
	memcpy(r, src, n);
	r->chain = NULL;
	r->position = 0;
	r->handle = handle;
	r->text = NULL;
	r->packed_size = (uint32_t)(n + cl);
	r->preds.items = RELOCATE(src->preds.items, src, r);
	r->stmts.items = RELOCATE(src->stmts.items, src, r);
	IR_FOREACH(p, &r->preds)
	{
		p->values.r = RELOCATE(p->values.r, src, r);
		p->ifnames.items = RELOCATE(p->ifnames.items, src, r);
		IR_FOREACH(f, &p->ifnames)
		f->name = RELOCATE(f->name, src, r);
		p->ref.name = RELOCATE(p->ref.name, src, r);
		p->text = RELOCATE(p->text, src, r);
	}
	IR_FOREACH(st, &r->stmts)
	{
		st->ref.name = RELOCATE(st->ref.name, src, r);
		st->text = RELOCATE(st->text, src, r);
	}
	r->verdict.chain = RELOCATE(src->verdict.chain, src, r);
	r->comment = NULL;
	if (comment) {
		r->comment = (char *)r + n;
		memcpy(r->comment, comment, cl);
	}
	return r;
}

/* A packed copy of src with comment and handle replaced, in *ret (no chain, no text). */
static int rule_pack_new(const struct ir_rule *src, const char *comment, uint64_t handle,
			 struct ir_rule **ret)
{
	struct packer k = { 0 };

	if (src->packed && !src->shared && src->packed_size > 0) {
		*ret = rule_clone(src, comment, handle);
		return *ret ? 0 : -ENOMEM;
	}
	rule_pack(&k, src, comment, handle);
	if (k.n > UINT32_MAX)
		return -ENOMEM;
	k.p = malloc(k.n);
	if (!k.p)
		return -ENOMEM;
	k.n = 0;
	*ret = rule_pack(&k, src, comment, handle);
	(*ret)->packed_size = (uint32_t)k.n;
	return 0;
}

int ir_rule_pack(const struct ir_rule *src, const char *comment, uint64_t handle,
		 struct ir_rule **ret)
{
	return rule_pack_new(src, comment, handle, ret);
}

int ir_chain_append_copy(struct ir_chain *c, const struct ir_rule *src, const char *comment,
			 uint64_t handle)
{
	struct ir_rule *r;
	int k;

	if (VEC_RESERVE(&c->rules, 1) < 0)
		return -ENOMEM;
	k = rule_pack_new(src, comment, handle, &r);
	if (k < 0)
		return k;
	c->rules.items[c->rules.n++] = r;
	r->chain = c;
	r->position = c->rules.n;
	return 0;
}

int ir_table_add_template(struct ir_table *t, const struct ir_rule *src, struct ir_rule **ret)
{
	struct ir_rule *r;
	int k;

	if (VEC_RESERVE(&t->templates, 1) < 0)
		return -ENOMEM;
	k = rule_pack_new(src, src->comment, src->handle, &r);
	if (k < 0)
		return k;
	t->templates.items[t->templates.n++] = r;
	*ret = r;
	return 0;
}

int ir_table_take_template(struct ir_table *t, struct ir_rule *scratch, struct ir_rule **ret)
{
	struct ir_rule *r = NULL;

	if (scratch->packed)
		return -EINVAL;
	if (VEC_RESERVE(&t->templates, 1) < 0)
		return -ENOMEM;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	/* the arrays at their size; what they point to moves with them */
	if (scratch->preds.n > 0) {
		r->preds.items = malloc(scratch->preds.n * sizeof(*r->preds.items));
		if (!r->preds.items)
			goto oom;
		memcpy(r->preds.items, scratch->preds.items,
		       scratch->preds.n * sizeof(*r->preds.items));
		r->preds.n = r->preds.cap = scratch->preds.n;
	}
	if (scratch->stmts.n > 0) {
		r->stmts.items = malloc(scratch->stmts.n * sizeof(*r->stmts.items));
		if (!r->stmts.items)
			goto oom;
		memcpy(r->stmts.items, scratch->stmts.items,
		       scratch->stmts.n * sizeof(*r->stmts.items));
		r->stmts.n = r->stmts.cap = scratch->stmts.n;
	}
	r->verdict = scratch->verdict;
	r->comment = scratch->comment;
	r->handle = scratch->handle;
	scratch->preds.n = scratch->stmts.n = 0;
	scratch->verdict = (struct ir_verdict){ .kind = IR_VERDICT_CONTINUE };
	scratch->comment = NULL;
	scratch->handle = 0;
	ir_rule_clear(scratch); /* its text */
	t->templates.items[t->templates.n++] = r;
	*ret = r;
	return 0;
oom:
	free(r->preds.items);
	free(r);
	return -ENOMEM;
}

int ir_chain_append_shared(struct ir_chain *c, const struct ir_rule *tmpl, const char *comment,
			   uint64_t handle)
{
	size_t cl = comment ? strlen(comment) + 1 : 0;
	struct ir_rule *r;

	if (!c->table || tmpl->shared || tmpl->chain)
		return -EINVAL;
	if (VEC_RESERVE(&c->rules, 1) < 0)
		return -ENOMEM;
	r = malloc(sizeof(*r) + cl);
	if (!r)
		return -ENOMEM;
	*r = *tmpl;
	r->handle = handle;
	r->text = NULL;
	r->comment = NULL;
	if (comment) {
		r->comment = (char *)(r + 1);
		memcpy(r->comment, comment, cl);
	}
	/* owns nothing but itself (and a text it may be given): packed */
	r->packed = true;
	r->shared = true;
	r->packed_size = (uint32_t)(sizeof(*r) + cl);
	c->rules.items[c->rules.n++] = r;
	r->chain = c;
	r->position = c->rules.n;
	return 0;
}

int ir_chain_append_packed(struct ir_chain *c, struct ir_rule *scratch)
{
	int k;

	if (scratch->packed)
		return -EINVAL;
	k = ir_chain_append_copy(c, scratch, scratch->comment, scratch->handle);
	if (k < 0)
		return k;
	/* the text is moved, not packed: ir_rule_text() may set it later */
	c->rules.items[c->rules.n - 1]->text = TAKE_PTR(scratch->text);
	ir_rule_clear(scratch);
	return 0;
}

/* --- sets --- */

/* The name and type given to ir_set_new() live behind the set (one allocation); a type set
 * later by a reader is its own allocation. Returns whether str is one of those. */
static bool set_str_inline(const struct ir_set *s, const char *str)
{
	const char *base = (const char *)(s + 1);

	return str == base || str == base + strlen(base) + 1;
}

int ir_set_new(const char *name, const char *type, struct ir_set **ret)
{
	size_t nl = strlen(name) + 1, tl = type ? strlen(type) + 1 : 0;
	struct ir_set *s;

	s = calloc(1, sizeof(*s) + nl + tl);
	if (!s)
		return -ENOMEM;
	s->name = memcpy(s + 1, name, nl);
	if (type)
		s->type = memcpy((char *)(s + 1) + nl, type, tl);
	s->family = AF_UNSPEC;
	*ret = s;
	return 0;
}

/*
 * A set's pool: chunks of memory for its elements' keys, interface names and verdict chains,
 * allocated by bumping a cursor and freed all at once with the set (elements are never removed
 * one by one).
 */
struct ir_set_pool {
	struct ir_set_pool *next; /* the previous, full chunk */
	size_t size, used;
	_Alignas(16) char data[];
};

#define POOL_CHUNK_MIN 1024u

static void pool_free(struct ir_set_pool *p)
{
	while (p) {
		struct ir_set_pool *next = p->next;

		free(p);
		p = next;
	}
}

/* Returns whether the current chunk has size more bytes at alignment align. */
static bool pool_fits(const struct ir_set_pool *p, size_t size, size_t align)
{
	return p && ((p->used + align - 1) & ~(align - 1)) + size <= p->size;
}

/* Starts a new chunk of at least size bytes (more when the set keeps growing). */
static int pool_grow(struct ir_set *s, size_t size)
{
	struct ir_set_pool *p;
	size_t n = MAX(size, POOL_CHUNK_MIN);

	if (s->pool)
		n = MAX(n, MIN(s->pool->size * 2, (size_t)1 << 20));
	p = malloc(sizeof(*p) + n);
	if (!p)
		return -ENOMEM;
	p->next = s->pool;
	p->size = n;
	p->used = 0;
	s->pool = p;
	return 0;
}

static void *pool_alloc(struct ir_set *s, size_t size, size_t align)
{
	struct ir_set_pool *p;
	size_t off;

	if (!pool_fits(s->pool, size, align) && pool_grow(s, size + align) < 0)
		return NULL;
	p = s->pool;
	off = (p->used + align - 1) & ~(align - 1);
	p->used = off + size;
	return p->data + off;
}

static char *pool_strdup(struct ir_set *s, const char *str)
{
	size_t l = strlen(str) + 1;
	char *d = pool_alloc(s, l, 1);

	if (d)
		memcpy(d, str, l);
	return d;
}

struct ir_set *ir_set_free(struct ir_set *s)
{
	if (!s)
		return NULL;
	/* element keys, names and chains live in the pool */
	pool_free(s->pool);
	VEC_DONE(&s->elems);
	IR_FOREACH(m, &s->members)
	free(*m);
	VEC_DONE(&s->members);
	VEC_DONE(&s->member_sets);
	if (!set_str_inline(s, s->name))
		free(s->name);
	if (s->type && !set_str_inline(s, s->type))
		free(s->type);
	free(s);
	return NULL;
}

int ir_set_add_key(struct ir_set *s, enum ir_keytype t)
{
	if (s->nkey >= IR_KEY_MAX)
		return -EINVAL;
	if (s->elems.n > 0)
		return -EINVAL;
	s->keytype[s->nkey++] = t;
	return 0;
}

int ir_set_reserve(struct ir_set *s, size_t n)
{
	size_t need = s->elems.n + n, keys = n * s->nkey * sizeof(struct ir_key_part);

	if (s->nkey == 0)
		return -EINVAL;
	if (need > s->elems.cap) {
		void *v = reallocarray(s->elems.items, need, sizeof(*s->elems.items));

		if (!v)
			return -ENOMEM;
		s->elems.items = v;
		s->elems.cap = need;
	}
	if (keys > 0 && !pool_fits(s->pool, keys, _Alignof(struct ir_key_part)))
		return pool_grow(s, keys + _Alignof(struct ir_key_part));
	return 0;
}

int ir_set_add_elem(struct ir_set *s, const struct ir_key_part *key,
		    const struct ir_verdict *verdict, np_u128 data, bool nomatch)
{
	struct ir_set_elem e = { .data = data, .nomatch = nomatch };

	if (s->nkey == 0)
		return -EINVAL;
	if (VEC_RESERVE(&s->elems, 1) < 0)
		return -ENOMEM;
	/* nothing allocated below is given back on failure: the pool keeps it until the set
	 * is freed */
	e.key = pool_alloc(s, s->nkey * sizeof(*e.key), _Alignof(struct ir_key_part));
	if (!e.key)
		return -ENOMEM;
	for (unsigned i = 0; i < s->nkey; i++) {
		e.key[i] = (struct ir_key_part){ .lo = key[i].lo,
						 .hi = key[i].hi,
						 .prefix = key[i].prefix };
		if (key[i].ifname) {
			e.key[i].ifname = pool_strdup(s, key[i].ifname);
			if (!e.key[i].ifname)
				return -ENOMEM;
		}
	}
	if (verdict) {
		e.verdict = *verdict;
		e.verdict.chain = NULL;
		if (verdict->chain) {
			e.verdict.chain = pool_strdup(s, verdict->chain);
			if (!e.verdict.chain)
				return -ENOMEM;
		}
	}
	s->elems.items[s->elems.n++] = e;
	return 0;
}

int ir_set_add_range(struct ir_set *s, np_u128 lo, np_u128 hi)
{
	struct ir_key_part k = { .lo = lo, .hi = hi };

	if (s->nkey != 1)
		return -EINVAL;
	return ir_set_add_elem(s, &k, NULL, 0, false);
}

int ir_set_add_member(struct ir_set *s, const char *name)
{
	char *n = strdup(name);

	if (!n || VEC_PUSH(&s->members, n) < 0) {
		free(n);
		return -ENOMEM;
	}
	s->flags |= IR_SET_LIST;
	return 0;
}

/* --- tables --- */

int ir_table_new(enum ir_source source, enum ir_family family, const char *name,
		 struct ir_table **ret)
{
	struct ir_table *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->name = strdup(name);
	if (!t->name) {
		free(t);
		return -ENOMEM;
	}
	t->source = source;
	t->family = family;
	*ret = t;
	return 0;
}

struct ir_table *ir_table_free(struct ir_table *t)
{
	if (!t)
		return NULL;
	IR_FOREACH(c, &t->chains)
	ir_chain_free(*c);
	VEC_DONE(&t->chains);
	IR_FOREACH(s, &t->sets)
	ir_set_free(*s);
	VEC_DONE(&t->sets);
	/* after the chains: their shared rules point into the templates */
	IR_FOREACH(r, &t->templates)
	ir_rule_free(*r);
	VEC_DONE(&t->templates);
	hashmap_done(&t->chain_by_name);
	hashmap_done(&t->set_by_name);
	free(t->name);
	free(t);
	return NULL;
}

int ir_table_add_chain(struct ir_table *t, struct ir_chain **chain)
{
	struct ir_chain *c = TAKE_PTR(*chain);

	if (hashmap_get(&t->chain_by_name, c->name)) {
		ir_chain_free(c);
		return -EEXIST;
	}
	if (VEC_RESERVE(&t->chains, 1) < 0 || hashmap_put(&t->chain_by_name, c->name, c) < 0) {
		ir_chain_free(c);
		return -ENOMEM;
	}
	t->chains.items[t->chains.n++] = c;
	c->table = t;
	return 0;
}

int ir_table_new_chain(struct ir_table *t, const char *name, struct ir_chain **ret)
{
	struct ir_chain *c;
	int k;

	k = ir_chain_new(name, &c);
	if (k < 0)
		return k;
	k = ir_table_add_chain(t, &(struct ir_chain *){ c });
	if (k < 0)
		return k;
	*ret = c;
	return 0;
}

struct ir_chain *ir_table_find_chain(const struct ir_table *t, const char *name)
{
	return hashmap_get(&t->chain_by_name, name);
}

int ir_table_add_set(struct ir_table *t, struct ir_set **set)
{
	struct ir_set *s = TAKE_PTR(*set);

	if (hashmap_get(&t->set_by_name, s->name)) {
		ir_set_free(s);
		return -EEXIST;
	}
	if (VEC_RESERVE(&t->sets, 1) < 0 || hashmap_put(&t->set_by_name, s->name, s) < 0) {
		ir_set_free(s);
		return -ENOMEM;
	}
	t->sets.items[t->sets.n++] = s;
	s->table = t;
	return 0;
}

struct ir_set *ir_table_find_set(const struct ir_table *t, const char *name)
{
	return hashmap_get(&t->set_by_name, name);
}

/* --- ruleset --- */

int ir_ruleset_new(struct ir_ruleset **ret)
{
	struct ir_ruleset *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return -ENOMEM;
	*ret = rs;
	return 0;
}

struct ir_ruleset *ir_ruleset_free(struct ir_ruleset *rs)
{
	if (!rs)
		return NULL;
	IR_FOREACH(t, &rs->tables)
	ir_table_free(*t);
	VEC_DONE(&rs->tables);
	IR_FOREACH(s, &rs->ipsets)
	ir_set_free(*s);
	VEC_DONE(&rs->ipsets);
	hashmap_done(&rs->ipset_by_name);
	for (size_t i = 0; i < ELEMENTSOF(rs->sources); i++)
		free(rs->sources[i].note);
	free(rs->ipset_info.note);
	free(rs);
	return NULL;
}

struct ir_table *ir_ruleset_find_table(const struct ir_ruleset *rs, enum ir_source source,
				       enum ir_family family, const char *name)
{
	IR_FOREACH(t, &rs->tables)
	if ((*t)->source == source && (*t)->family == family && streq((*t)->name, name))
		return *t;
	return NULL;
}

int ir_ruleset_add_table(struct ir_ruleset *rs, struct ir_table **table)
{
	struct ir_table *t = TAKE_PTR(*table);

	if (ir_ruleset_find_table(rs, t->source, t->family, t->name)) {
		ir_table_free(t);
		return -EEXIST;
	}
	if (VEC_PUSH(&rs->tables, t) < 0) {
		ir_table_free(t);
		return -ENOMEM;
	}
	t->ruleset = rs;
	rs->linked = false;
	return 0;
}

int ir_ruleset_new_table(struct ir_ruleset *rs, enum ir_source source, enum ir_family family,
			 const char *name, struct ir_table **ret)
{
	struct ir_table *t;
	int k;

	k = ir_table_new(source, family, name, &t);
	if (k < 0)
		return k;
	k = ir_ruleset_add_table(rs, &(struct ir_table *){ t });
	if (k < 0)
		return k;
	*ret = t;
	return 0;
}

int ir_ruleset_add_ipset(struct ir_ruleset *rs, struct ir_set **set)
{
	struct ir_set *s = TAKE_PTR(*set);

	if (hashmap_get(&rs->ipset_by_name, s->name)) {
		ir_set_free(s);
		return -EEXIST;
	}
	if (VEC_RESERVE(&rs->ipsets, 1) < 0 || hashmap_put(&rs->ipset_by_name, s->name, s) < 0) {
		ir_set_free(s);
		return -ENOMEM;
	}
	rs->ipsets.items[rs->ipsets.n++] = s;
	s->table = NULL;
	rs->linked = false;
	return 0;
}

struct ir_set *ir_ruleset_find_ipset(const struct ir_ruleset *rs, const char *name)
{
	return hashmap_get(&rs->ipset_by_name, name);
}

int ir_ruleset_set_source_info(struct ir_ruleset *rs, enum ir_source source, bool read,
			       const char *note)
{
	struct ir_source_info *i;

	if ((unsigned)source > _IR_SRC_MAX)
		return -EINVAL;
	i = source == _IR_SRC_MAX ? &rs->ipset_info : &rs->sources[source];
	if (strdup_or_null(note, &i->note) < 0)
		return -ENOMEM;
	i->read = read;
	return 0;
}

static unsigned link_setref(struct ir_ruleset *rs, struct ir_table *t, struct ir_setref *ref)
{
	ref->set =
		ref->ipset ? ir_ruleset_find_ipset(rs, ref->name) : ir_table_find_set(t, ref->name);
	return ref->set ? 0 : 1;
}

int ir_ruleset_link(struct ir_ruleset *rs)
{
	unsigned unresolved = 0, nrules = 0, nchains = 0, nsets = 0;

	IR_FOREACH(sp, &rs->ipsets)
	{
		struct ir_set *s = *sp;

		s->id = nsets++;
		s->member_sets.n = 0;
		IR_FOREACH(m, &s->members)
		{
			struct ir_set *ms = ir_ruleset_find_ipset(rs, *m);

			if (!ms) {
				unresolved++;
				continue;
			}
			if (VEC_PUSH(&s->member_sets, ms) < 0)
				return -ENOMEM;
		}
	}
	IR_FOREACH(tp, &rs->tables)
	{
		struct ir_table *t = *tp;

		IR_FOREACH(sp, &t->sets)
		{
			struct ir_set *s = *sp;

			s->id = nsets++;
			IR_FOREACH(e, &s->elems)
			if (e->verdict.kind == IR_VERDICT_JUMP ||
			    e->verdict.kind == IR_VERDICT_GOTO) {
				e->verdict.target =
					e->verdict.chain ? ir_table_find_chain(t, e->verdict.chain)
							 : NULL;
				if (!e->verdict.target)
					unresolved++;
			}
		}
		IR_FOREACH(cp, &t->chains)
		{
			struct ir_chain *c = *cp;

			c->id = nchains++;
			IR_FOREACH(rp, &c->rules)
			{
				struct ir_rule *r = *rp;

				r->id = nrules++;
				IR_FOREACH(p, &r->preds)
				if (p->kind == IR_PRED_LOOKUP)
					unresolved += link_setref(rs, t, &p->ref);
				IR_FOREACH(s, &r->stmts)
				if (s->kind == IR_STMT_VMAP)
					unresolved += link_setref(rs, t, &s->ref);
				if (r->verdict.kind == IR_VERDICT_JUMP ||
				    r->verdict.kind == IR_VERDICT_GOTO) {
					r->verdict.target =
						ir_table_find_chain(t, r->verdict.chain);
					if (!r->verdict.target)
						unresolved++;
				}
			}
		}
	}
	rs->n_rules = nrules;
	rs->n_chains = nchains;
	rs->n_sets = nsets;
	rs->unresolved = unresolved;
	rs->linked = true;
	return (int)unresolved;
}

/* --- counts --- */

void ir_ruleset_stats(const struct ir_ruleset *rs, struct ir_stats *ret)
{
	*ret = (struct ir_stats){ 0 };

	IR_FOREACH(tp, &rs->tables)
	{
		const struct ir_table *t = *tp;
		struct ir_counts *c;

		if ((unsigned)t->source >= _IR_SRC_MAX)
			continue;
		c = &ret->src[t->source];
		c->tables++;
		IR_FOREACH(sp, &t->sets)
		{
			c->sets++;
			c->elements += (*sp)->elems.n;
		}
		IR_FOREACH(cp, &t->chains)
		{
			c->chains++;
			if ((*cp)->base)
				c->base_chains++;
			IR_FOREACH(rp, &(*cp)->rules)
			{
				const struct ir_rule *r = *rp;
				bool opaque = false;

				c->rules++;
				IR_FOREACH(p, &r->preds)
				if (p->kind == IR_PRED_OPAQUE) {
					c->opaque_preds++;
					opaque = true;
				}
				IR_FOREACH(s, &r->stmts)
				if (s->kind == IR_STMT_OPAQUE) {
					c->opaque_stmts++;
					opaque = true;
				}
				if (opaque)
					c->opaque_rules++;
			}
		}
	}
	IR_FOREACH(sp, &rs->ipsets)
	{
		ret->ipsets++;
		ret->ipset_elements += (*sp)->elems.n;
	}
}
