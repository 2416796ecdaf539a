/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Text and JSON renderings of the IR: nft-like, so a user can read what was understood. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "ir-internal.h"

static const char *proto_name(unsigned p)
{
	switch (p) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_SCTP:
		return "sctp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	case IPPROTO_UDPLITE:
		return "udplite";
	case IPPROTO_DCCP:
		return "dccp";
	case IPPROTO_ESP:
		return "esp";
	case IPPROTO_AH:
		return "ah";
	case IPPROTO_GRE:
		return "gre";
	case IPPROTO_IPIP:
		return "ipip";
	}
	return NULL;
}

/* The l4 protocol a rule pins down with a single-valued l4proto match, or 0. */
static unsigned rule_l4proto(const struct ir_rule *r)
{
	IR_FOREACH(p, &r->preds)
	if (p->kind == IR_PRED_MATCH && p->field == IR_FIELD_L4PROTO && !p->negate &&
	    p->values.n == 1 && p->values.r[0].lo == p->values.r[0].hi)
		return (unsigned)p->values.r[0].lo;
	return 0;
}

static bool iset_is_v4(const struct np_iset *s)
{
	return s->n > 0 && s->r[0].lo >= NP_V4_BASE && s->r[s->n - 1].hi <= NP_V4_LAST;
}

struct render_ctx {
	enum ir_family family;
	unsigned l4proto;
	bool v4; /* values of the current address field are IPv4 */
};

static int render_field(const struct render_ctx *rc, enum ir_field f, struct strbuf *out)
{
	const char *l3 = rc->family == IR_FAMILY_IP6  ? "ip6"
			 : rc->family == IR_FAMILY_IP ? "ip"
			 : rc->v4		      ? "ip"
						      : "ip6";
	const char *l4 = proto_name(rc->l4proto);

	switch (f) {
	case IR_FIELD_SADDR:
	case IR_FIELD_DADDR:
		return strbuf_printf(out, "%s %s", l3, f == IR_FIELD_SADDR ? "saddr" : "daddr");
	case IR_FIELD_SPORT:
	case IR_FIELD_DPORT:
		return strbuf_printf(out, "%s %s", l4 && rc->l4proto != IPPROTO_ICMP ? l4 : "th",
				     f == IR_FIELD_SPORT ? "sport" : "dport");
	case IR_FIELD_ICMP_TYPE:
	case IR_FIELD_ICMP_CODE:
		return strbuf_printf(out, "%s %s",
				     rc->l4proto == IPPROTO_ICMPV6 || rc->family == IR_FAMILY_IP6
					     ? "icmpv6"
					     : "icmp",
				     f == IR_FIELD_ICMP_TYPE ? "type" : "code");
	default:
		return strbuf_puts(out, ir_field_to_string(f));
	}
}

static int render_ct_bits(uint32_t bits, bool status, struct strbuf *out)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} states[] = {
		{ IR_CT_INVALID, "invalid" },	  { IR_CT_ESTABLISHED, "established" },
		{ IR_CT_RELATED, "related" },	  { IR_CT_NEW, "new" },
		{ IR_CT_UNTRACKED, "untracked" }, { IR_CT_SNAT, "snat" },
		{ IR_CT_DNAT, "dnat" },
	};
	uint32_t rest = bits;
	bool first = true;

	if (status)
		return strbuf_printf(out, "0x%x", bits);
	for (size_t i = 0; i < ELEMENTSOF(states); i++)
		if (bits & states[i].bit) {
			strbuf_printf(out, "%s%s", first ? "" : ",", states[i].name);
			rest &= ~states[i].bit;
			first = false;
		}
	if (rest || first)
		strbuf_printf(out, "%s0x%x", first ? "" : ",", rest);
	return out->oom ? -ENOMEM : 0;
}

/* Appends a comma-separated list as nft prints it: ", " between items, hosts without /32 or
 * /128. */
static void list_append(const char *list, bool addr, struct strbuf *out)
{
	const char *p = list;

	while (*p) {
		size_t n = strcspn(p, ",");
		size_t len = n;

		if (addr && n > 3 && strneq(p + n - 3, "/32", 3) && !memchr(p, ':', n))
			len = n - 3;
		else if (addr && n > 4 && strneq(p + n - 4, "/128", 4))
			len = n - 4;
		if (p != list)
			strbuf_puts(out, ", ");
		strbuf_append(out, p, len);
		p += n;
		if (*p == ',')
			p++;
	}
}

static int render_values(const struct render_ctx *rc, enum ir_field f, const struct np_iset *v,
			 struct strbuf *out)
{
	struct strbuf tmp = { 0 };
	bool addr = ir_field_keytype(f) == IR_KEY_ADDR;
	bool many;
	int k;

	if (v->n == 0)
		return strbuf_puts(out, "{ }");
	if (f == IR_FIELD_NFPROTO && v->n == 1 && v->r[0].lo == v->r[0].hi &&
	    (v->r[0].lo == 2 || v->r[0].lo == 10))
		return strbuf_puts(out, v->r[0].lo == 2 ? "ipv4" : "ipv6");
	if (f == IR_FIELD_L4PROTO || f == IR_FIELD_META_MARK || f == IR_FIELD_CT_MARK ||
	    f == IR_FIELD_TCP_FLAGS) {
		bool hex = f != IR_FIELD_L4PROTO;

		if (v->n > 1)
			strbuf_puts(out, "{ ");
		for (size_t i = 0; i < v->n; i++) {
			const char *n = !hex && v->r[i].lo == v->r[i].hi
						? proto_name((unsigned)v->r[i].lo)
						: NULL;

			if (i > 0)
				strbuf_puts(out, ", ");
			if (n)
				strbuf_puts(out, n);
			else if (v->r[i].lo == v->r[i].hi)
				strbuf_printf(out, hex ? "0x%08x" : "%u", (unsigned)v->r[i].lo);
			else
				strbuf_printf(out, hex ? "0x%08x-0x%08x" : "%u-%u",
					      (unsigned)v->r[i].lo, (unsigned)v->r[i].hi);
		}
		if (v->n > 1)
			strbuf_puts(out, " }");
		return out->oom ? -ENOMEM : 0;
	}
	(void)rc;
	k = addr ? np_iset_format_cidrs(v, &tmp) : np_iset_format_numbers(v, &tmp);
	if (k < 0) {
		strbuf_done(&tmp);
		return k;
	}
	many = strchr(strbuf_str(&tmp), ',') || (!addr && v->r[0].lo != v->r[0].hi);
	if (many)
		strbuf_puts(out, "{ ");
	list_append(strbuf_str(&tmp), addr, out);
	if (many)
		strbuf_puts(out, " }");
	strbuf_done(&tmp);
	return out->oom ? -ENOMEM : 0;
}

static int render_setref(const struct render_ctx *rc0, const struct ir_setref *ref, bool negate,
			 bool vmap, struct strbuf *out)
{
	struct render_ctx rc = *rc0;

	/* Address spelling follows the set's family when it is known. */
	if (ref->set && ref->set->family == AF_INET)
		rc.v4 = true;
	for (unsigned i = 0; i < ref->nkey; i++) {
		if (i > 0)
			strbuf_puts(out, " . ");
		render_field(&rc, ref->key[i], out);
	}
	strbuf_printf(out, "%s%s %s%s", negate ? " !=" : "", vmap ? " vmap" : "",
		      ref->ipset ? "@ipset:" : "@", ref->name);
	return out->oom ? -ENOMEM : 0;
}

static int pred_render(const struct render_ctx *rc0, const struct ir_pred *p, struct strbuf *out)
{
	struct render_ctx rc = *rc0;

	switch (p->kind) {
	case IR_PRED_MATCH:
		rc.v4 = iset_is_v4(&p->values);
		render_field(&rc, p->field, out);
		if (ir_field_keytype(p->field) == IR_KEY_IFNAME) {
			strbuf_puts(out, p->negate ? " != " : " ");
			if (p->ifnames.n != 1)
				strbuf_puts(out, "{ ");
			for (size_t i = 0; i < p->ifnames.n; i++)
				strbuf_printf(out, "%s\"%s%s\"", i > 0 ? ", " : "",
					      p->ifnames.items[i].name,
					      p->ifnames.items[i].prefix ? "*" : "");
			if (p->ifnames.n != 1)
				strbuf_puts(out, " }");
			break;
		}
		if (p->masked)
			strbuf_printf(out, " and 0x%08x", p->mask);
		strbuf_puts(out, p->negate ? " != " : p->masked ? " == " : " ");
		if (p->field == IR_FIELD_CT_STATE && !p->masked && p->values.n == 1 &&
		    p->values.r[0].lo == p->values.r[0].hi && p->values.r[0].lo <= UINT32_MAX)
			render_ct_bits((uint32_t)p->values.r[0].lo, false, out);
		else
			render_values(&rc, p->field, &p->values, out);
		break;
	case IR_PRED_BITS:
		render_field(&rc, p->field, out);
		strbuf_puts(out, p->negate ? " != " : " ");
		render_ct_bits(p->bits, p->field != IR_FIELD_CT_STATE, out);
		break;
	case IR_PRED_LOOKUP:
		render_setref(&rc, &p->ref, p->negate, false, out);
		break;
	case IR_PRED_OPAQUE:
		strbuf_printf(out, "opaque(%s)", p->text ? p->text : "?");
		break;
	default:
		strbuf_printf(out, "pred(%d)", p->kind);
		break;
	}
	return out->oom ? -ENOMEM : 0;
}

int ir_pred_render(const struct ir_pred *p, enum ir_family family, struct strbuf *out)
{
	struct render_ctx rc = { .family = family };

	return pred_render(&rc, p, out);
}

int ir_verdict_render(const struct ir_verdict *v, struct strbuf *out)
{
	switch (v->kind) {
	case IR_VERDICT_JUMP:
	case IR_VERDICT_GOTO:
		return strbuf_printf(out, "%s %s", ir_verdict_kind_to_string(v->kind),
				     v->chain ? v->chain : "?");
	case IR_VERDICT_QUEUE:
		if (v->queue_last > v->queue_num)
			strbuf_printf(out, "queue num %u-%u", v->queue_num, v->queue_last);
		else
			strbuf_printf(out, "queue num %u", v->queue_num);
		if (v->queue_bypass || v->queue_fanout)
			strbuf_printf(out, " flags %s%s%s", v->queue_bypass ? "bypass" : "",
				      v->queue_bypass && v->queue_fanout ? "," : "",
				      v->queue_fanout ? "fanout" : "");
		return out->oom ? -ENOMEM : 0;
	default:
		return strbuf_puts(out, ir_verdict_kind_to_string(v->kind));
	}
}

static int stmt_render(const struct render_ctx *rc, const struct ir_stmt *s, struct strbuf *out)
{
	switch (s->kind) {
	case IR_STMT_MARK:
		strbuf_printf(out, "%s set ", ir_field_to_string(s->mark_dst));
		if (s->mark_src == IR_FIELD_NONE && s->mark_clear == UINT32_MAX)
			strbuf_printf(out, "0x%08x", s->mark_xor);
		else if (s->mark_src == IR_FIELD_NONE)
			strbuf_printf(out, "%s and 0x%08x xor 0x%08x",
				      ir_field_to_string(s->mark_dst), ~s->mark_clear, s->mark_xor);
		else if (s->mark_clear == UINT32_MAX && s->mark_src_mask == UINT32_MAX &&
			 !s->mark_xor)
			strbuf_puts(out, ir_field_to_string(s->mark_src));
		else
			strbuf_printf(out, "(%s and 0x%08x) xor (%s and 0x%08x) xor 0x%08x",
				      ir_field_to_string(s->mark_dst), ~s->mark_clear,
				      ir_field_to_string(s->mark_src), s->mark_src_mask,
				      s->mark_xor);
		break;
	case IR_STMT_VMAP:
		render_setref(rc, &s->ref, false, true, out);
		break;
	case IR_STMT_NAT:
		if (s->text)
			strbuf_puts(out, s->text);
		else
			strbuf_puts(out, ir_nat_kind_to_string(s->nat));
		break;
	case IR_STMT_LOG:
		if (s->text && *s->text)
			strbuf_printf(out, "log prefix \"%s\"", s->text);
		else
			strbuf_puts(out, "log");
		break;
	case IR_STMT_COUNTER:
		strbuf_puts(out, "counter");
		break;
	case IR_STMT_LIMIT:
		strbuf_printf(out, "limit%s%s", s->text && *s->text ? " rate " : "",
			      s->text ? s->text : "");
		break;
	case IR_STMT_NOTRACK:
		strbuf_puts(out, "notrack");
		break;
	case IR_STMT_NOTE:
		strbuf_puts(out, s->text ? s->text : "note");
		break;
	case IR_STMT_OPAQUE:
		strbuf_printf(out, "opaque-statement(%s)", s->text ? s->text : "?");
		break;
	default:
		strbuf_printf(out, "stmt(%d)", s->kind);
		break;
	}
	return out->oom ? -ENOMEM : 0;
}

int ir_stmt_render(const struct ir_stmt *s, enum ir_family family, struct strbuf *out)
{
	struct render_ctx rc = { .family = family };

	return stmt_render(&rc, s, out);
}

static bool pred_uses(const struct ir_pred *q, enum ir_field a, enum ir_field b, enum ir_field c,
		      enum ir_field d)
{
	if (q->kind == IR_PRED_MATCH)
		return q->field == a || q->field == b || q->field == c || q->field == d;
	if (q->kind == IR_PRED_LOOKUP)
		for (unsigned k = 0; k < q->ref.nkey; k++)
			if (q->ref.key[k] == a || q->ref.key[k] == b || q->ref.key[k] == c ||
			    q->ref.key[k] == d)
				return true;
	return false;
}

/* nft leaves out the dependencies it adds itself: "tcp dport 80", not "meta l4proto tcp tcp
 * dport 80"; "ip saddr 10.0.0.1" in an inet table, not "meta nfproto ipv4 ip saddr ...". */
static bool redundant_dependency(const struct ir_rule *r, size_t i)
{
	const struct ir_pred *p = &r->preds.items[i];

	if (p->kind != IR_PRED_MATCH || p->negate || p->masked || p->values.n != 1 ||
	    p->values.r[0].lo != p->values.r[0].hi)
		return false;
	if (p->field == IR_FIELD_L4PROTO && proto_name((unsigned)p->values.r[0].lo)) {
		for (size_t j = i + 1; j < r->preds.n; j++)
			if (pred_uses(&r->preds.items[j], IR_FIELD_SPORT, IR_FIELD_DPORT,
				      IR_FIELD_ICMP_TYPE, IR_FIELD_ICMP_CODE))
				return true;
		for (size_t j = 0; j < r->stmts.n; j++)
			if (r->stmts.items[j].kind == IR_STMT_VMAP &&
			    pred_uses(&(struct ir_pred){ .kind = IR_PRED_LOOKUP,
							 .ref = r->stmts.items[j].ref },
				      IR_FIELD_SPORT, IR_FIELD_DPORT, IR_FIELD_ICMP_TYPE,
				      IR_FIELD_ICMP_CODE))
				return true;
	}
	if (p->field == IR_FIELD_NFPROTO && (p->values.r[0].lo == 2 || p->values.r[0].lo == 10)) {
		for (size_t j = i + 1; j < r->preds.n; j++)
			if (pred_uses(&r->preds.items[j], IR_FIELD_SADDR, IR_FIELD_DADDR,
				      IR_FIELD_SADDR, IR_FIELD_DADDR))
				return true;
	}
	return false;
}

int ir_rule_render(const struct ir_rule *r, struct strbuf *out)
{
	struct render_ctx rc = {
		.family = r->chain && r->chain->table ? r->chain->table->family : IR_FAMILY_INET,
		.l4proto = rule_l4proto(r),
	};
	size_t si = 0;
	bool any = false;

	/* an inet rule that pins IPv4 spells its address fields "ip" */
	IR_FOREACH(p, &r->preds)
	if (p->kind == IR_PRED_MATCH && p->field == IR_FIELD_NFPROTO && !p->negate &&
	    p->values.n == 1 && p->values.r[0].lo == 2 && p->values.r[0].hi == 2)
		rc.v4 = true;

	for (size_t i = 0; i <= r->preds.n; i++) {
		for (; si < r->stmts.n && r->stmts.items[si].after <= i; si++) {
			if (any)
				strbuf_puts(out, " ");
			stmt_render(&rc, &r->stmts.items[si], out);
			any = true;
		}
		if (i == r->preds.n)
			break;
		if (redundant_dependency(r, i))
			continue;
		if (any)
			strbuf_puts(out, " ");
		pred_render(&rc, &r->preds.items[i], out);
		any = true;
	}
	if (r->verdict.kind != IR_VERDICT_CONTINUE || !any) {
		if (any)
			strbuf_puts(out, " ");
		ir_verdict_render(&r->verdict, out);
	}
	if (r->comment)
		strbuf_printf(out, " comment \"%s\"", r->comment);
	return out->oom ? -ENOMEM : 0;
}

const char *ir_rule_text(struct ir_rule *r)
{
	struct strbuf sb = { 0 };

	if (r->text)
		return r->text;
	if (ir_rule_render(r, &sb) < 0) {
		strbuf_done(&sb);
		return NULL;
	}
	r->text = strbuf_steal(&sb);
	return r->text;
}

static int render_key_part(const struct ir_set *s, unsigned i, const struct ir_key_part *k,
			   struct strbuf *out)
{
	char a[64], b[64];

	switch (s->keytype[i]) {
	case IR_KEY_IFNAME:
		return strbuf_printf(out, "\"%s%s\"", k->ifname ? k->ifname : "",
				     k->prefix ? "*" : "");
	case IR_KEY_ADDR: {
		struct np_iset one = { .r = (struct np_range[]){ { k->lo, k->hi } },
				       .n = 1,
				       .cap = 1 };

		if (k->lo == k->hi)
			return strbuf_puts(out, np_addr_format(k->lo, a, sizeof(a)));
		/* Not np_iset_format_cidrs(): an element range that is no CIDR stays a range. */
		for (unsigned p = 0; p <= 128; p++) {
			np_u128 size = p == 0 ? NP_U128_MAX : (((np_u128)1 << (128 - p)) - 1);

			if ((k->lo & size) == 0 && k->hi - k->lo == size) {
				struct strbuf tmp = { 0 };
				int r = np_iset_format_cidrs(&one, &tmp);

				if (r >= 0)
					r = strbuf_puts(out, strbuf_str(&tmp));
				strbuf_done(&tmp);
				return r;
			}
		}
		return strbuf_printf(out, "%s-%s", np_addr_format(k->lo, a, sizeof(a)),
				     np_addr_format(k->hi, b, sizeof(b)));
	}
	default:
		if (k->lo == k->hi)
			return strbuf_printf(out, "%llu", (unsigned long long)k->lo);
		return strbuf_printf(out, "%llu-%llu", (unsigned long long)k->lo,
				     (unsigned long long)k->hi);
	}
}

int ir_set_render_elems(const struct ir_set *s, struct strbuf *out)
{
	strbuf_puts(out, "{ ");
	for (size_t e = 0; e < s->elems.n; e++) {
		const struct ir_set_elem *el = &s->elems.items[e];

		if (e > 0)
			strbuf_puts(out, ", ");
		for (unsigned i = 0; i < s->nkey; i++) {
			if (i > 0)
				strbuf_puts(out, " . ");
			render_key_part(s, i, &el->key[i], out);
		}
		if (s->flags & IR_SET_VMAP) {
			strbuf_puts(out, " : ");
			ir_verdict_render(&el->verdict, out);
		} else if (s->flags & IR_SET_MAP)
			strbuf_printf(out, " : 0x%llx", (unsigned long long)el->data);
		if (el->nomatch)
			strbuf_puts(out, " nomatch");
	}
	for (size_t m = 0; m < s->members.n; m++)
		strbuf_printf(out, "%s%s", m > 0 || s->elems.n > 0 ? ", " : "",
			      s->members.items[m]);
	strbuf_puts(out, s->elems.n + s->members.n ? " }" : "}");
	return out->oom ? -ENOMEM : 0;
}

static void counts_render(const struct ir_counts *c, struct strbuf *out)
{
	strbuf_printf(out,
		      "%u tables, %u chains (%u base), %u rules, %u sets (%u elements), "
		      "%u opaque predicates, %u opaque statements, %u rules with opaque items",
		      c->tables, c->chains, c->base_chains, c->rules, c->sets, c->elements,
		      c->opaque_preds, c->opaque_stmts, c->opaque_rules);
}

static void set_render(const struct ir_set *s, const char *indent, struct strbuf *out)
{
	strbuf_printf(out, "%s%s %s {", indent,
		      s->flags & (IR_SET_MAP | IR_SET_VMAP) ? "map" : "set", s->name);
	if (s->type)
		strbuf_printf(out, " type %s;", s->type);
	if (s->flags & IR_SET_INTERVAL)
		strbuf_puts(out, " flags interval;");
	if (s->flags & IR_SET_TIMEOUT)
		strbuf_puts(out, " flags timeout;");
	strbuf_puts(out, " elements = ");
	ir_set_render_elems(s, out);
	strbuf_puts(out, " }\n");
}

int ir_ruleset_render(const struct ir_ruleset *rs, struct strbuf *out)
{
	struct ir_stats st;

	ir_ruleset_stats(rs, &st);
	for (int src = 0; src < _IR_SRC_MAX; src++) {
		strbuf_printf(out, "# %s: %s%s%s; ", ir_source_to_string(src),
			      rs->sources[src].read ? "read" : "not read",
			      rs->sources[src].note ? ", " : "",
			      rs->sources[src].note ? rs->sources[src].note : "");
		counts_render(&st.src[src], out);
		strbuf_puts(out, "\n");
	}
	strbuf_printf(out, "# ipsets: %s%s%s; %u sets, %u elements\n",
		      rs->ipset_info.read ? "read" : "not read", rs->ipset_info.note ? ", " : "",
		      rs->ipset_info.note ? rs->ipset_info.note : "", st.ipsets, st.ipset_elements);

	IR_FOREACH(tp, &rs->tables)
	{
		const struct ir_table *t = *tp;

		strbuf_printf(out, "\ntable %s %s { # %s\n", ir_family_to_string(t->family),
			      t->name, ir_source_to_string(t->source));
		IR_FOREACH(sp, &t->sets)
		set_render(*sp, "\t", out);
		IR_FOREACH(cp, &t->chains)
		{
			const struct ir_chain *c = *cp;

			strbuf_printf(out, "\tchain %s {\n", c->name);
			if (c->base) {
				strbuf_printf(out, "\t\ttype %s hook %s",
					      ir_chain_type_to_string(c->type),
					      ir_hook_to_string(c->hook));
				if (c->device)
					strbuf_printf(out, " device \"%s\"", c->device);
				strbuf_printf(out, " priority %d; policy %s;\n", c->priority,
					      ir_verdict_kind_to_string(c->policy));
			}
			IR_FOREACH(rp, &c->rules)
			{
				const struct ir_rule *r = *rp;

				strbuf_puts(out, "\t\t");
				if (r->text)
					strbuf_puts(out, r->text);
				else
					ir_rule_render(r, out);
				strbuf_printf(out, " # position %u", r->position);
				if (r->handle)
					strbuf_printf(out, " handle %llu",
						      (unsigned long long)r->handle);
				if (ir_rule_is_opaque(r))
					strbuf_puts(out, " (contains opaque items)");
				strbuf_puts(out, "\n");
			}
			strbuf_puts(out, "\t}\n");
		}
		strbuf_puts(out, "}\n");
	}
	if (rs->ipsets.n > 0)
		strbuf_puts(out, "\n");
	IR_FOREACH(sp, &rs->ipsets)
	set_render(*sp, "ipset ", out);
	return out->oom ? -ENOMEM : 0;
}

static void json_counts(const struct ir_counts *c, struct strbuf *out)
{
	strbuf_printf(out,
		      "{\"tables\":%u,\"chains\":%u,\"base_chains\":%u,\"rules\":%u,\"sets\":%u,"
		      "\"elements\":%u,\"opaque_predicates\":%u,\"opaque_statements\":%u,"
		      "\"opaque_rules\":%u}",
		      c->tables, c->chains, c->base_chains, c->rules, c->sets, c->elements,
		      c->opaque_preds, c->opaque_stmts, c->opaque_rules);
}

static void json_str_or_null(const char *s, struct strbuf *out)
{
	if (s)
		strbuf_json_string(out, s);
	else
		strbuf_puts(out, "null");
}

static void json_set(const struct ir_set *s, struct strbuf *out)
{
	struct strbuf tmp = { 0 };

	strbuf_puts(out, "{\"name\":");
	strbuf_json_string(out, s->name);
	strbuf_puts(out, ",\"type\":");
	json_str_or_null(s->type, out);
	strbuf_printf(out, ",\"interval\":%s,\"map\":%s,\"vmap\":%s,\"list\":%s,\"count\":%zu,",
		      s->flags & IR_SET_INTERVAL ? "true" : "false",
		      s->flags & IR_SET_MAP ? "true" : "false",
		      s->flags & IR_SET_VMAP ? "true" : "false",
		      s->flags & IR_SET_LIST ? "true" : "false", s->elems.n);
	strbuf_puts(out, "\"elements\":");
	ir_set_render_elems(s, &tmp);
	strbuf_json_string(out, strbuf_str(&tmp));
	strbuf_done(&tmp);
	strbuf_puts(out, "}");
}

/*
 * {"sources":[{"source":"nft","read":true,"note":null,"counts":{...}}, ...],
 *  "ipsets_read":bool,
 *  "tables":[{"source","family","name","sets":[set...],"chains":[{"name","base","type","hook",
 *             "priority","policy","device","rules":[{"position","handle","rule","comment",
 *             "opaque"}]}]}],
 *  "ipsets":[set...]}
 * where set is {"name","type","interval","map","vmap","list","count","elements":"{ ... }"}.
 */
int ir_ruleset_render_json(const struct ir_ruleset *rs, struct strbuf *out)
{
	struct ir_stats st;

	ir_ruleset_stats(rs, &st);
	strbuf_puts(out, "{\"sources\":[");
	for (int src = 0; src < _IR_SRC_MAX; src++) {
		strbuf_printf(out, "%s{\"source\":\"%s\",\"read\":%s,\"note\":", src ? "," : "",
			      ir_source_to_string(src), rs->sources[src].read ? "true" : "false");
		json_str_or_null(rs->sources[src].note, out);
		strbuf_puts(out, ",\"counts\":");
		json_counts(&st.src[src], out);
		strbuf_puts(out, "}");
	}
	strbuf_printf(out, "],\"ipsets_read\":%s,\"ipsets_note\":",
		      rs->ipset_info.read ? "true" : "false");
	json_str_or_null(rs->ipset_info.note, out);
	strbuf_puts(out, ",\"tables\":[");
	for (size_t ti = 0; ti < rs->tables.n; ti++) {
		const struct ir_table *t = rs->tables.items[ti];

		strbuf_printf(out,
			      "%s{\"source\":\"%s\",\"family\":\"%s\",\"name\":", ti ? "," : "",
			      ir_source_to_string(t->source), ir_family_to_string(t->family));
		strbuf_json_string(out, t->name);
		strbuf_puts(out, ",\"sets\":[");
		for (size_t si = 0; si < t->sets.n; si++) {
			if (si)
				strbuf_puts(out, ",");
			json_set(t->sets.items[si], out);
		}
		strbuf_puts(out, "],\"chains\":[");
		for (size_t ci = 0; ci < t->chains.n; ci++) {
			const struct ir_chain *c = t->chains.items[ci];

			strbuf_printf(out, "%s{\"name\":", ci ? "," : "");
			strbuf_json_string(out, c->name);
			strbuf_printf(out, ",\"base\":%s", c->base ? "true" : "false");
			if (c->base) {
				strbuf_printf(out,
					      ",\"type\":\"%s\",\"hook\":\"%s\",\"priority\":%d,"
					      "\"policy\":\"%s\",\"device\":",
					      ir_chain_type_to_string(c->type),
					      ir_hook_to_string(c->hook), c->priority,
					      ir_verdict_kind_to_string(c->policy));
				json_str_or_null(c->device, out);
			}
			strbuf_puts(out, ",\"rules\":[");
			for (size_t ri = 0; ri < c->rules.n; ri++) {
				const struct ir_rule *r = c->rules.items[ri];
				struct strbuf tmp = { 0 };

				strbuf_printf(out, "%s{\"position\":%u,\"handle\":%llu,\"rule\":",
					      ri ? "," : "", r->position,
					      (unsigned long long)r->handle);
				if (r->text)
					strbuf_json_string(out, r->text);
				else {
					ir_rule_render(r, &tmp);
					strbuf_json_string(out, strbuf_str(&tmp));
					strbuf_done(&tmp);
				}
				strbuf_puts(out, ",\"comment\":");
				json_str_or_null(r->comment, out);
				strbuf_printf(out, ",\"opaque\":%s}",
					      ir_rule_is_opaque(r) ? "true" : "false");
			}
			strbuf_puts(out, "]}");
		}
		strbuf_puts(out, "]}");
	}
	strbuf_puts(out, "],\"ipsets\":[");
	for (size_t si = 0; si < rs->ipsets.n; si++) {
		if (si)
			strbuf_puts(out, ",");
		json_set(rs->ipsets.items[si], out);
	}
	strbuf_puts(out, "]}");
	return out->oom ? -ENOMEM : 0;
}
