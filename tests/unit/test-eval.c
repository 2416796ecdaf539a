/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The evaluator on rulesets built in memory: the kernel's verdict semantics, one by one. */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "eval/eval.h"

static np_u128 ip(const char *s)
{
	np_u128 v;

	ck_assert_int_gt(np_addr_parse(s, &v), 0);
	return v;
}

static void cidr(struct np_iset *s, const char *c)
{
	np_u128 lo, hi;

	ck_assert_int_gt(np_cidr_parse(c, &lo, &hi), 0);
	ck_assert_int_eq(np_iset_add(s, lo, hi), 0);
}

static struct ir_table *table(struct ir_ruleset *rs, enum ir_source src, enum ir_family f,
			      const char *name)
{
	struct ir_table *t;

	ck_assert_int_eq(ir_ruleset_new_table(rs, src, f, name, &t), 0);
	return t;
}

static struct ir_chain *base(struct ir_table *t, const char *name, enum ir_chain_type type,
			     enum ir_hook h, int prio, enum ir_verdict_kind policy)
{
	struct ir_chain *c;

	ck_assert_int_eq(ir_table_new_chain(t, name, &c), 0);
	ck_assert_int_eq(ir_chain_set_base(c, type, h, prio, policy, NULL), 0);
	return c;
}

static struct ir_chain *chain(struct ir_table *t, const char *name)
{
	struct ir_chain *c;

	ck_assert_int_eq(ir_table_new_chain(t, name, &c), 0);
	return c;
}

/* Appends a new rule to c and returns it (owned by c) for filling. */
static struct ir_rule *rule(struct ir_chain *c)
{
	struct ir_rule *r;

	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(ir_chain_append(c, &(struct ir_rule *){ r }), 0);
	return r;
}

static void match_cidr(struct ir_rule *r, enum ir_field f, const char *c, bool negate)
{
	struct np_iset s = { 0 };

	cidr(&s, c);
	ck_assert_int_eq(ir_rule_add_match(r, f, negate, &s), 0);
}

static void match_num(struct ir_rule *r, enum ir_field f, unsigned lo, unsigned hi)
{
	ck_assert_int_eq(ir_rule_add_match_range(r, f, false, lo, hi), 0);
}

static void verdict(struct ir_rule *r, enum ir_verdict_kind k, const char *target)
{
	ck_assert_int_eq(ir_rule_set_verdict(r, k, target), 0);
}

static struct eval_packet *pkt(struct eval_packet *p, enum eval_path path, const char *src,
			       const char *dst, uint8_t proto, uint16_t dport, const char *iif,
			       const char *oif)
{
	np_u128 s = ip(src);

	eval_packet_init(p, np_addr_family(s), path);
	p->saddr = s;
	p->daddr = ip(dst);
	p->l4proto = proto;
	p->sport = 40000;
	p->dport = dport;
	snprintf(p->iif, sizeof(p->iif), "%s", iif ? iif : "");
	snprintf(p->oif, sizeof(p->oif), "%s", oif ? oif : "");
	return p;
}

/* Prepares rs, evaluates p with trace, returns the verdict (res filled). */
static enum eval_verdict run(struct ir_ruleset *rs, const struct eval_packet *p,
			     struct eval_result *res)
{
	_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
	struct eval_result quick = { 0 };

	ck_assert_int_eq(eval_prepare(rs, &ctx), 0);
	ck_assert_int_eq(eval_packet(ctx, p, true, res), 0);
	/* The fast mode must agree and keep the deciding entry. */
	ck_assert_int_eq(eval_packet(ctx, p, false, &quick), 0);
	ck_assert_int_eq(quick.verdict, res->verdict);
	ck_assert_str_eq(eval_result_reason(&quick), res->reason);
	if (res->decided_by >= 0) {
		ck_assert_int_eq(quick.decided_by, 0);
		ck_assert_ptr_eq(quick.trace.items[0].rule, res->trace.items[res->decided_by].rule);
	}
	eval_result_done(&quick);
	/* And a shared walk: the first keeps the walk, the second takes it from the tree. */
	{
		_cleanup_(eval_memo_freep) struct eval_memo *m = NULL;

		ck_assert_int_eq(eval_memo_new(EVAL_VARY_SADDR | EVAL_VARY_DADDR, &m), 0);
		for (int i = 0; i < 2; i++) {
			ck_assert_int_eq(eval_packet_memo(ctx, m, p, &quick), 0);
			ck_assert_int_eq(quick.verdict, res->verdict);
			ck_assert_str_eq(eval_result_reason(&quick), res->reason);
			ck_assert_int_eq(quick.decided_by, res->decided_by >= 0 ? 0 : -1);
			if (res->decided_by >= 0)
				ck_assert_ptr_eq(quick.trace.items[0].rule,
						 res->trace.items[res->decided_by].rule);
		}
		eval_result_done(&quick);
	}
	return res->verdict;
}

static const struct eval_trace_entry *decided(const struct eval_result *res)
{
	ck_assert_int_ge(res->decided_by, 0);
	ck_assert_int_lt(res->decided_by, (long)res->trace.n);
	return &res->trace.items[res->decided_by];
}

#define FWD(p, src, dst, dport) \
	pkt(p, EVAL_PATH_FORWARD, src, dst, IPPROTO_TCP, dport, "eth0", "veth1")

START_TEST(accept_ends_only_its_base_chain)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_table *legacy, *nft;
	struct ir_chain *fwd, *nfwd;
	struct ir_rule *r;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	legacy = table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter");
	fwd = base(legacy, "FORWARD", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	r = rule(fwd);
	match_cidr(r, IR_FIELD_SADDR, "10.0.0.1/32", false);
	verdict(r, IR_VERDICT_ACCEPT, NULL);

	nft = table(rs, IR_SRC_NFT, IR_FAMILY_INET, "fw");
	nfwd = base(nft, "forward", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 10, IR_VERDICT_ACCEPT);
	r = rule(nfwd);
	match_cidr(r, IR_FIELD_SADDR, "10.0.0.0/24", false);
	verdict(r, IR_VERDICT_DROP, NULL);

	/* accepted by the legacy chain (priority 0), dropped by the later nft chain (10) */
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.2.0.1", 80), &res), EVAL_DROP);
	ck_assert_uint_eq(res.trace.n, 2);
	ck_assert_ptr_eq(res.trace.items[0].chain, fwd);
	ck_assert_int_eq(res.trace.items[0].action, IR_VERDICT_ACCEPT);
	ck_assert_ptr_eq(decided(&res)->chain, nfwd);
	ck_assert_ptr_nonnull(strstr(res.reason, "dropped by nft inet fw chain forward rule 1"));

	/* the other order: the nft drop comes first */
	nfwd->priority = -10;
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.2.0.1", 80), &res), EVAL_DROP);
	ck_assert_uint_eq(res.trace.n, 1);

	/* outside the drop: accepted by the policies, the legacy rule decides */
	nfwd->priority = 10;
	ck_assert_int_eq(run(rs, FWD(&p, "10.1.0.1", "10.2.0.1", 80), &res), EVAL_ACCEPT);
	ck_assert_uint_eq(res.trace.n, 2); /* two policies */
	ck_assert_ptr_null(decided(&res)->rule);

	eval_result_done(&res);
}
END_TEST

START_TEST(equal_priorities_keep_ruleset_order)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_chain *a, *b;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	a = base(table(rs, IR_SRC_IPTABLES_NFT, IR_FAMILY_IP, "filter"), "FORWARD", IR_CHAIN_FILTER,
		 IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	b = base(table(rs, IR_SRC_NFT, IR_FAMILY_IP, "other"), "fwd", IR_CHAIN_FILTER,
		 IR_HOOK_FORWARD, 0, IR_VERDICT_DROP);
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.2.0.1", 80), &res), EVAL_DROP);
	ck_assert_uint_eq(res.trace.n, 2);
	ck_assert_ptr_eq(res.trace.items[0].chain, a);
	ck_assert_ptr_eq(res.trace.items[1].chain, b);
	ck_assert_ptr_nonnull(strstr(res.reason, "policy of base chain fwd"));
	eval_result_done(&res);
}
END_TEST

START_TEST(drop_across_sources_and_hooks)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_table *raw, *nft;
	struct ir_chain *pre, *post;
	struct ir_rule *r;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	raw = table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "raw");
	pre = base(raw, "PREROUTING", IR_CHAIN_FILTER, IR_HOOK_PREROUTING, IR_PRIO_RAW,
		   IR_VERDICT_ACCEPT);
	r = rule(pre);
	match_num(r, IR_FIELD_DPORT, 22, 22);
	match_num(r, IR_FIELD_L4PROTO, IPPROTO_TCP, IPPROTO_TCP);
	verdict(r, IR_VERDICT_DROP, NULL);

	nft = table(rs, IR_SRC_NFT, IR_FAMILY_IP, "post");
	post = base(nft, "postrouting", IR_CHAIN_FILTER, IR_HOOK_POSTROUTING, 0, IR_VERDICT_ACCEPT);
	r = rule(post);
	ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_OIFNAME, false, "veth1"), 0);
	match_num(r, IR_FIELD_DPORT, 23, 23);
	verdict(r, IR_VERDICT_REJECT, NULL);

	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.2.0.1", 22), &res), EVAL_DROP);
	ck_assert_ptr_eq(decided(&res)->chain, pre);
	ck_assert_int_eq(decided(&res)->hook, IR_HOOK_PREROUTING);
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.2.0.1", 23), &res), EVAL_DROP);
	ck_assert_ptr_eq(decided(&res)->chain, post);
	ck_assert_ptr_nonnull(strstr(res.reason, "rejected"));
	/* input path: no postrouting */
	ck_assert_int_eq(
		run(rs,
		    pkt(&p, EVAL_PATH_INPUT, "10.0.0.1", "10.2.0.1", IPPROTO_TCP, 23, "eth0", NULL),
		    &res),
		EVAL_ACCEPT);
	/* output path: no prerouting */
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_OUTPUT, "10.0.0.1", "10.2.0.1", IPPROTO_TCP, 22,
				 NULL, "eth0"),
			     &res),
			 EVAL_ACCEPT);
	/* udp 22 is not tcp 22 */
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.2.0.1", IPPROTO_UDP, 22,
				 "eth0", "veth9"),
			     &res),
			 EVAL_ACCEPT);
	eval_result_done(&res);
}
END_TEST

START_TEST(jump_return_goto_and_policy)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_table *t;
	struct ir_chain *fwd, *a, *g;
	struct ir_rule *r;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	t = table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter");
	fwd = base(t, "FORWARD", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_DROP);
	a = chain(t, "A");
	g = chain(t, "G");

	/* FORWARD: 1 jump A; 2 dport 81 goto G; 3 dport 80-90 accept; policy drop */
	verdict(rule(fwd), IR_VERDICT_JUMP, "A");
	r = rule(fwd);
	match_num(r, IR_FIELD_DPORT, 81, 81);
	verdict(r, IR_VERDICT_GOTO, "G");
	r = rule(fwd);
	match_num(r, IR_FIELD_DPORT, 80, 90);
	verdict(r, IR_VERDICT_ACCEPT, NULL);
	/* A: 1 saddr 10.0.0.1 return; 2 dport 85 drop; 3 dport 86 accept */
	r = rule(a);
	match_cidr(r, IR_FIELD_SADDR, "10.0.0.1/32", false);
	verdict(r, IR_VERDICT_RETURN, NULL);
	r = rule(a);
	match_num(r, IR_FIELD_DPORT, 85, 85);
	verdict(r, IR_VERDICT_DROP, NULL);
	r = rule(a);
	match_num(r, IR_FIELD_DPORT, 86, 86);
	verdict(r, IR_VERDICT_ACCEPT, NULL);
	/* G: 1 saddr 10.0.0.2 accept; end of G after a goto from the base chain: policy */
	r = rule(g);
	match_cidr(r, IR_FIELD_SADDR, "10.0.0.2/32", false);
	verdict(r, IR_VERDICT_ACCEPT, NULL);

	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.9", "10.2.0.1", 80), &res), EVAL_ACCEPT);
	ck_assert_uint_eq(res.trace.n, 2); /* jump A, accept */
	ck_assert_int_eq(res.trace.items[0].action, IR_VERDICT_JUMP);
	ck_assert_ptr_eq(res.trace.items[0].target, a);
	ck_assert_uint_eq(decided(&res)->rule->position, 3);

	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.9", "10.2.0.1", 85), &res), EVAL_DROP);
	ck_assert_ptr_eq(decided(&res)->chain, a);
	/* return from A skips A's drop */
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.2.0.1", 85), &res), EVAL_ACCEPT);
	ck_assert_int_eq(res.trace.items[1].action, IR_VERDICT_RETURN);
	/* accept inside A ends FORWARD */
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.9", "10.2.0.1", 86), &res), EVAL_ACCEPT);
	ck_assert_ptr_eq(decided(&res)->chain, a);
	/* goto G: accept there, else the end of G applies FORWARD's policy (not rule 3) */
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.2", "10.2.0.1", 81), &res), EVAL_ACCEPT);
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.3", "10.2.0.1", 81), &res), EVAL_DROP);
	ck_assert_ptr_null(decided(&res)->rule);
	ck_assert_ptr_eq(decided(&res)->chain, fwd);
	/* nothing matches: policy drop */
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.9", "10.2.0.1", 443), &res), EVAL_DROP);
	ck_assert_ptr_nonnull(strstr(res.reason, "policy of base chain FORWARD"));
	eval_result_done(&res);
}
END_TEST

START_TEST(return_in_base_chain_applies_policy)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_chain *fwd;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	fwd = base(table(rs, IR_SRC_NFT, IR_FAMILY_IP, "t"), "f", IR_CHAIN_FILTER, IR_HOOK_FORWARD,
		   0, IR_VERDICT_DROP);
	verdict(rule(fwd), IR_VERDICT_RETURN, NULL);
	verdict(rule(fwd), IR_VERDICT_ACCEPT, NULL);
	fwd->priority = -150;
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 80), &res), EVAL_DROP);
	ck_assert_str_eq(res.reason,
			 "dropped by the policy of base chain f (nft ip t, hook forward, "
			 "priority -150)");
	eval_result_done(&res);
}
END_TEST

START_TEST(marks_set_early_tested_later)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_table *mangle, *filter;
	struct ir_chain *pre, *fwd;
	struct ir_rule *r;
	struct np_iset v = { 0 };

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	mangle = table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "mangle");
	pre = base(mangle, "PREROUTING", IR_CHAIN_FILTER, IR_HOOK_PREROUTING, IR_PRIO_MANGLE,
		   IR_VERDICT_ACCEPT);
	/* -i cali+ -j MARK --set-xmark 0x10000/0x10000 */
	r = rule(pre);
	ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_IIFNAME, false, "cali+"), 0);
	ck_assert_int_eq(ir_rule_add_mark(r, IR_FIELD_META_MARK, 0x10000, 0x10000), 0);
	/* CONNMARK --save-mark --mask 0xff: ctmark = (ctmark & ~0xff) ^ (mark & 0xff) */
	r = rule(pre);
	ck_assert_int_eq(
		ir_rule_add_mark_copy(r, IR_FIELD_CT_MARK, IR_FIELD_META_MARK, 0xff, 0xff, 0), 0);

	filter = table(rs, IR_SRC_IPTABLES_NFT, IR_FAMILY_IP, "filter");
	fwd = base(filter, "FORWARD", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_DROP);
	r = rule(fwd);
	np_iset_add(&v, 0x10000, 0x10000);
	ck_assert_int_eq(ir_rule_add_match_masked(r, IR_FIELD_META_MARK, 0x10000, false, &v), 0);
	verdict(r, IR_VERDICT_ACCEPT, NULL);

	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80,
				 "cali1234", "eth0"),
			     &res),
			 EVAL_ACCEPT);
	ck_assert_ptr_eq(decided(&res)->chain, fwd);
	ck_assert_uint_eq(res.mark, 0x10000);
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80,
				 "eth0", "cali1234"),
			     &res),
			 EVAL_DROP);

	/* xmark semantics: mark = (mark & ~mask) ^ value; the save copies the low byte */
	pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80, "cali1", "eth0");
	p.mark = 0x100ff;
	p.ct_mark = 0xab00;
	ck_assert_int_eq(run(rs, &p, &res), EVAL_ACCEPT);
	ck_assert_uint_eq(res.mark, (0x100ffu & ~0x10000u) ^ 0x10000u);
	ck_assert_uint_eq(res.ct_mark, 0xabffu);
	pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80, "cali1", "eth0");
	p.mark = 0x10000; /* already set: cleared by the mask, set again by the value */
	ck_assert_int_eq(run(rs, &p, &res), EVAL_ACCEPT);
	eval_result_done(&res);
}
END_TEST

START_TEST(statement_before_predicate_runs_even_without_match)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_chain *c;
	struct ir_rule *r;
	struct np_iset v = { 0 };

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	c = base(table(rs, IR_SRC_NFT, IR_FAMILY_INET, "t"), "f", IR_CHAIN_FILTER, IR_HOOK_FORWARD,
		 0, IR_VERDICT_ACCEPT);
	/* meta mark set 0x1 ip saddr 10.9.9.9 accept */
	r = rule(c);
	ck_assert_int_eq(ir_rule_add_mark(r, IR_FIELD_META_MARK, UINT32_MAX, 1), 0);
	match_cidr(r, IR_FIELD_SADDR, "10.9.9.9/32", false);
	verdict(r, IR_VERDICT_ACCEPT, NULL);
	/* meta mark 0x1 drop */
	r = rule(c);
	np_iset_add(&v, 1, 1);
	ck_assert_int_eq(ir_rule_add_match(r, IR_FIELD_META_MARK, false, &v), 0);
	verdict(r, IR_VERDICT_DROP, NULL);

	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 80), &res), EVAL_DROP);
	ck_assert_int_eq(run(rs, FWD(&p, "10.9.9.9", "10.0.0.2", 80), &res), EVAL_ACCEPT);
	eval_result_done(&res);
}
END_TEST

static struct ir_set *ipset(struct ir_ruleset *rs, const char *name, const char *type,
			    unsigned nkey, const enum ir_keytype *kt)
{
	struct ir_set *s;

	ck_assert_int_eq(ir_set_new(name, type, &s), 0);
	for (unsigned i = 0; i < nkey; i++)
		ck_assert_int_eq(ir_set_add_key(s, kt[i]), 0);
	ck_assert_int_eq(ir_ruleset_add_ipset(rs, &(struct ir_set *){ s }), 0);
	return s;
}

static void add_net(struct ir_set *s, const char *c, bool nomatch)
{
	struct ir_key_part k = { 0 };

	ck_assert_int_gt(np_cidr_parse(c, &k.lo, &k.hi), 0);
	ck_assert_int_eq(ir_set_add_elem(s, &k, NULL, 0, nomatch), 0);
}

START_TEST(ipsets_nomatch_lists_and_concatenations)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_set *pods, *more, *list, *svc;
	struct ir_chain *fwd;
	struct ir_rule *r;
	static const enum ir_keytype addr[] = { IR_KEY_ADDR };
	static const enum ir_keytype ipport[] = { IR_KEY_ADDR, IR_KEY_NUM, IR_KEY_NUM };
	static const enum ir_field src[] = { IR_FIELD_SADDR };
	static const enum ir_field dst_port[] = { IR_FIELD_DADDR, IR_FIELD_L4PROTO,
						  IR_FIELD_DPORT };
	struct ir_key_part k[3] = { 0 };

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	pods = ipset(rs, "pods", "hash:net", 1, addr);
	add_net(pods, "10.0.0.0/24", false);
	add_net(pods, "10.0.0.128/25", true);
	add_net(pods, "10.0.0.200/32", false);
	more = ipset(rs, "more", "hash:net", 1, addr);
	add_net(more, "192.168.0.0/16", false);
	list = ipset(rs, "all", "list:set", 1, addr);
	ck_assert_int_eq(ir_set_add_member(list, "pods"), 0);
	ck_assert_int_eq(ir_set_add_member(list, "more"), 0);
	svc = ipset(rs, "svc", "hash:ip,port", 3, ipport);
	k[0].lo = k[0].hi = ip("10.1.0.1");
	k[1].lo = k[1].hi = IPPROTO_TCP;
	k[2].lo = k[2].hi = 80;
	ck_assert_int_eq(ir_set_add_elem(svc, k, NULL, 0, false), 0);
	k[2].lo = 8000;
	k[2].hi = 8080;
	ck_assert_int_eq(ir_set_add_elem(svc, k, NULL, 0, false), 0);

	fwd = base(table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter"), "FORWARD",
		   IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_DROP);
	r = rule(fwd);
	ck_assert_int_eq(ir_rule_add_lookup(r, dst_port, 3, "svc", true, false), 0);
	verdict(r, IR_VERDICT_ACCEPT, NULL);
	r = rule(fwd);
	ck_assert_int_eq(ir_rule_add_lookup(r, src, 1, "all", true, false), 0);
	match_num(r, IR_FIELD_DPORT, 5000, 5000);
	verdict(r, IR_VERDICT_ACCEPT, NULL);

	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.5", "10.9.0.1", 5000), &res), EVAL_ACCEPT);
	/* nomatch carves 10.0.0.128/25 out, the more specific /32 puts .200 back */
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.129", "10.9.0.1", 5000), &res), EVAL_DROP);
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.200", "10.9.0.1", 5000), &res), EVAL_ACCEPT);
	/* the second member of the list */
	ck_assert_int_eq(run(rs, FWD(&p, "192.168.3.4", "10.9.0.1", 5000), &res), EVAL_ACCEPT);
	ck_assert_int_eq(run(rs, FWD(&p, "192.169.3.4", "10.9.0.1", 5000), &res), EVAL_DROP);
	/* address . protocol . port */
	ck_assert_int_eq(run(rs, FWD(&p, "1.1.1.1", "10.1.0.1", 80), &res), EVAL_ACCEPT);
	ck_assert_int_eq(run(rs, FWD(&p, "1.1.1.1", "10.1.0.1", 8042), &res), EVAL_ACCEPT);
	ck_assert_int_eq(run(rs, FWD(&p, "1.1.1.1", "10.1.0.1", 81), &res), EVAL_DROP);
	ck_assert_int_eq(run(rs, FWD(&p, "1.1.1.1", "10.1.0.2", 80), &res), EVAL_DROP);
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "1.1.1.1", "10.1.0.1", IPPROTO_UDP, 80,
				 "eth0", "veth1"),
			     &res),
			 EVAL_DROP);
	/* an IPv6 packet never meets an IPv4 table */
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "fd00::1", "fd00::2", IPPROTO_TCP, 80,
				 "eth0", "veth1"),
			     &res),
			 EVAL_ACCEPT);
	eval_result_done(&res);
}
END_TEST

START_TEST(list_set_members_of_different_dimensions)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_set *nets, *netport, *list;
	struct ir_chain *fwd;
	struct ir_rule *r;
	static const enum ir_keytype addr[] = { IR_KEY_ADDR };
	static const enum ir_keytype addrport[] = { IR_KEY_ADDR, IR_KEY_NUM, IR_KEY_NUM };
	/* -m set --match-set mixed src,dst,dst: hash:net uses the first direction only */
	static const enum ir_field key[] = { IR_FIELD_SADDR, IR_FIELD_L4PROTO, IR_FIELD_DPORT };
	struct ir_key_part k[3] = { 0 };

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	nets = ipset(rs, "nets", "hash:net", 1, addr);
	add_net(nets, "10.1.0.0/16", false);
	netport = ipset(rs, "netport", "hash:net,port", 3, addrport);
	ck_assert_int_gt(np_cidr_parse("10.2.0.0/16", &k[0].lo, &k[0].hi), 0);
	k[1].lo = k[1].hi = IPPROTO_TCP;
	k[2].lo = k[2].hi = 443;
	ck_assert_int_eq(ir_set_add_elem(netport, k, NULL, 0, false), 0);
	list = ipset(rs, "mixed", "list:set", 1, addr);
	ck_assert_int_eq(ir_set_add_member(list, "nets"), 0);
	ck_assert_int_eq(ir_set_add_member(list, "netport"), 0);

	fwd = base(table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter"), "FORWARD",
		   IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_DROP);
	r = rule(fwd);
	ck_assert_int_eq(ir_rule_add_lookup(r, key, 3, "mixed", true, false), 0);
	verdict(r, IR_VERDICT_ACCEPT, NULL);

	ck_assert_int_eq(run(rs, FWD(&p, "10.1.2.3", "10.9.0.1", 1), &res), EVAL_ACCEPT);
	ck_assert_int_eq(run(rs, FWD(&p, "10.2.2.3", "10.9.0.1", 443), &res), EVAL_ACCEPT);
	ck_assert_int_eq(run(rs, FWD(&p, "10.2.2.3", "10.9.0.1", 444), &res), EVAL_DROP);
	ck_assert_int_eq(run(rs, FWD(&p, "10.3.2.3", "10.9.0.1", 443), &res), EVAL_DROP);

	/* a member whose dimensions do not line up with the match (bitmap:port keys are
	 * protocol . port) cannot be answered: unknown, not a silent miss */
	{
		static const enum ir_keytype pp[] = { IR_KEY_NUM, IR_KEY_NUM };
		struct ir_set *ports = ipset(rs, "ports", "bitmap:port", 2, pp);

		ck_assert_int_eq(ir_set_add_elem(ports, k + 1, NULL, 0, false), 0);
		ck_assert_int_eq(ir_set_add_member(list, "ports"), 0);
	}
	ck_assert_int_eq(run(rs, FWD(&p, "10.3.2.3", "10.9.0.1", 443), &res), EVAL_UNKNOWN);
	ck_assert_int_eq(run(rs, FWD(&p, "10.1.2.3", "10.9.0.1", 1), &res), EVAL_ACCEPT);
	eval_result_done(&res);
}
END_TEST

START_TEST(nft_interval_concatenation_and_vmap)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_table *t;
	struct ir_set *allow, *vm;
	struct ir_chain *fwd, *pod1;
	struct ir_rule *r;
	struct ir_key_part k[2] = { 0 };
	struct ir_verdict v = { 0 };
	static const enum ir_field key[] = { IR_FIELD_SADDR, IR_FIELD_DPORT };
	static const enum ir_field ifkey[] = { IR_FIELD_OIFNAME };

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	t = table(rs, IR_SRC_NFT, IR_FAMILY_INET, "np");
	ck_assert_int_eq(ir_set_new("allow", "ipv4_addr . inet_service", &allow), 0);
	allow->flags = IR_SET_INTERVAL;
	ck_assert_int_eq(ir_set_add_key(allow, IR_KEY_ADDR), 0);
	ck_assert_int_eq(ir_set_add_key(allow, IR_KEY_NUM), 0);
	ck_assert_int_gt(np_cidr_parse("10.0.0.0/16", &k[0].lo, &k[0].hi), 0);
	k[1].lo = 80;
	k[1].hi = 89;
	ck_assert_int_eq(ir_set_add_elem(allow, k, NULL, 0, false), 0);
	ck_assert_int_gt(np_cidr_parse("10.0.5.0/24", &k[0].lo, &k[0].hi), 0);
	k[1].lo = k[1].hi = 443;
	ck_assert_int_eq(ir_set_add_elem(allow, k, NULL, 0, false), 0);
	ck_assert_int_eq(ir_table_add_set(t, &(struct ir_set *){ allow }), 0);

	ck_assert_int_eq(ir_set_new("pods", "ifname : verdict", &vm), 0);
	vm->flags = IR_SET_VMAP;
	ck_assert_int_eq(ir_set_add_key(vm, IR_KEY_IFNAME), 0);
	k[0] = (struct ir_key_part){ .ifname = (char *)"veth1" };
	v.kind = IR_VERDICT_JUMP;
	v.chain = (char *)"pod1";
	ck_assert_int_eq(ir_set_add_elem(vm, k, &v, 0, false), 0);
	k[0] = (struct ir_key_part){ .ifname = (char *)"veth2" };
	v = (struct ir_verdict){ .kind = IR_VERDICT_ACCEPT };
	ck_assert_int_eq(ir_set_add_elem(vm, k, &v, 0, false), 0);
	ck_assert_int_eq(ir_table_add_set(t, &(struct ir_set *){ vm }), 0);

	fwd = base(t, "forward", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	pod1 = chain(t, "pod1");
	/* oifname vmap @pods; then (no element) tcp dport 22 drop */
	r = rule(fwd);
	ck_assert_int_eq(ir_rule_add_vmap(r, ifkey, 1, "pods", false), 0);
	r = rule(fwd);
	match_num(r, IR_FIELD_DPORT, 22, 22);
	verdict(r, IR_VERDICT_DROP, NULL);
	/* pod1: ip saddr . th dport @allow accept; drop */
	r = rule(pod1);
	ck_assert_int_eq(ir_rule_add_lookup(r, key, 2, "allow", false, false), 0);
	verdict(r, IR_VERDICT_ACCEPT, NULL);
	verdict(rule(pod1), IR_VERDICT_DROP, NULL);

	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.9.9", "10.2.0.1", IPPROTO_TCP, 85,
				 "eth0", "veth1"),
			     &res),
			 EVAL_ACCEPT);
	ck_assert_int_eq(res.trace.items[0].action, IR_VERDICT_JUMP);
	ck_assert_ptr_eq(res.trace.items[0].target, pod1);
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.9.9", "10.2.0.1", IPPROTO_TCP, 443,
				 "eth0", "veth1"),
			     &res),
			 EVAL_DROP);
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.5.9", "10.2.0.1", IPPROTO_TCP, 443,
				 "eth0", "veth1"),
			     &res),
			 EVAL_ACCEPT);
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.1.0.1", "10.2.0.1", IPPROTO_TCP, 85,
				 "eth0", "veth1"),
			     &res),
			 EVAL_DROP);
	/* veth2 accepted by the map before the port 22 drop */
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.1.0.1", "10.2.0.1", IPPROTO_TCP, 22,
				 "eth0", "veth2"),
			     &res),
			 EVAL_ACCEPT);
	/* no element: the rule does not match, the next one does */
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.1.0.1", "10.2.0.1", IPPROTO_TCP, 22,
				 "eth0", "veth3"),
			     &res),
			 EVAL_DROP);
	eval_result_done(&res);
}
END_TEST

START_TEST(queue_is_unknown)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_chain *c;
	struct ir_rule *r;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	c = base(table(rs, IR_SRC_NFT, IR_FAMILY_INET, "kube-network-policies"), "forward",
		 IR_CHAIN_FILTER, IR_HOOK_FORWARD, -200, IR_VERDICT_ACCEPT);
	r = rule(c);
	ck_assert_int_eq(ir_rule_add_bits(r, IR_FIELD_CT_STATE, IR_CT_NEW, false), 0);
	ck_assert_int_eq(ir_rule_set_queue(r, 100, 0, true, false), 0);

	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 80), &res), EVAL_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(res.reason, "NFQUEUE 100"));
	ck_assert_ptr_eq(decided(&res)->rule, r);
	ck_assert_int_eq(decided(&res)->action, IR_VERDICT_QUEUE);
	/* established packets are not queued */
	FWD(&p, "10.0.0.1", "10.0.0.2", 80)->ct_state = IR_CT_ESTABLISHED;
	ck_assert_int_eq(run(rs, &p, &res), EVAL_ACCEPT);
	eval_result_done(&res);
}
END_TEST

START_TEST(opaque_is_unknown_unless_irrelevant)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_chain *c;
	struct ir_rule *r, *op;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	c = base(table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter"), "FORWARD",
		 IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	/* -p tcp --dport 80 -m foo --bar -j DROP */
	op = rule(c);
	match_num(op, IR_FIELD_DPORT, 80, 80);
	ck_assert_int_eq(ir_rule_add_opaque(op, "xt match foo rev %d (%d bytes)", 0, 8), 0);
	verdict(op, IR_VERDICT_DROP, NULL);
	/* -p tcp --dport 81 -m foo -j ACCEPT: the same verdict either way */
	r = rule(c);
	match_num(r, IR_FIELD_DPORT, 81, 81);
	ck_assert_int_eq(ir_rule_add_opaque(r, "xt match foo"), 0);
	verdict(r, IR_VERDICT_ACCEPT, NULL);
	/* -p tcp --dport 82 -j OPAQUE-TARGET */
	r = rule(c);
	match_num(r, IR_FIELD_DPORT, 82, 82);
	ck_assert_int_eq(ir_rule_add_note(r, IR_STMT_OPAQUE, "xt target BAR"), 0);

	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 80), &res), EVAL_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(res.reason, "opaque(xt match foo rev 0 (8 bytes))"));
	ck_assert_ptr_nonnull(strstr(res.reason, "filter chain FORWARD rule 1"));
	ck_assert_uint_eq(res.forks, 1);
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 81), &res), EVAL_ACCEPT);
	ck_assert_ptr_nonnull(strstr(res.reason, "the same whether or not"));
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 79), &res), EVAL_ACCEPT);
	ck_assert_uint_eq(res.forks, 0);
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 82), &res), EVAL_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(res.reason, "xt target BAR"));
	ck_assert(decided(&res)->unknown);
	ck_assert_uint_eq(decided(&res)->rule->position, 3);
	{
		struct strbuf sb = { 0 };

		ck_assert_int_eq(eval_trace_entry_action(decided(&res), &sb), 0);
		ck_assert_str_eq(strbuf_str(&sb), "unknown");
		strbuf_done(&sb);
	}
	eval_result_done(&res);
}
END_TEST

START_TEST(unknown_packet_fields_fork_too)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_chain *c;
	struct ir_rule *r;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	c = base(table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter"), "INPUT",
		 IR_CHAIN_FILTER, IR_HOOK_INPUT, 0, IR_VERDICT_ACCEPT);
	r = rule(c);
	match_num(r, IR_FIELD_DADDR_TYPE, 2 /* RTN_LOCAL */, 2);
	verdict(r, IR_VERDICT_DROP, NULL);

	pkt(&p, EVAL_PATH_INPUT, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80, "eth0", NULL);
	ck_assert_int_eq(run(rs, &p, &res), EVAL_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(res.reason, "fib daddr type"));
	p.daddr_type = 2;
	ck_assert_int_eq(run(rs, &p, &res), EVAL_DROP);
	p.daddr_type = 1;
	ck_assert_int_eq(run(rs, &p, &res), EVAL_ACCEPT);
	eval_result_done(&res);
}
END_TEST

START_TEST(ipv6_and_inet)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_chain *c6, *ci;
	struct ir_rule *r;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	c6 = base(table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP6, "filter"), "FORWARD",
		  IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	r = rule(c6);
	match_cidr(r, IR_FIELD_SADDR, "fd00:1::/64", false);
	match_num(r, IR_FIELD_DPORT, 80, 80);
	verdict(r, IR_VERDICT_DROP, NULL);
	ci = base(table(rs, IR_SRC_NFT, IR_FAMILY_INET, "t"), "f", IR_CHAIN_FILTER, IR_HOOK_FORWARD,
		  5, IR_VERDICT_ACCEPT);
	r = rule(ci);
	match_num(r, IR_FIELD_NFPROTO, 10, 10);
	match_num(r, IR_FIELD_DPORT, 443, 443);
	verdict(r, IR_VERDICT_DROP, NULL);

	ck_assert_int_eq(run(rs, FWD(&p, "fd00:1::5", "fd00:2::1", 80), &res), EVAL_DROP);
	ck_assert_ptr_eq(decided(&res)->chain, c6);
	ck_assert_int_eq(run(rs, FWD(&p, "fd00:3::5", "fd00:2::1", 80), &res), EVAL_ACCEPT);
	ck_assert_int_eq(run(rs, FWD(&p, "fd00:3::5", "fd00:2::1", 443), &res), EVAL_DROP);
	ck_assert_ptr_eq(decided(&res)->chain, ci);
	/* IPv4: the ip6 table is not visited, the inet one is but nfproto is ipv4 */
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 443), &res), EVAL_ACCEPT);
	ck_assert_uint_eq(res.trace.n, 1);
	ck_assert_ptr_eq(res.trace.items[0].chain, ci);
	/* ::ffff:10.0.0.1 style confusion is impossible: fd00:1::/64 does not hold IPv4 */
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 80), &res), EVAL_ACCEPT);
	eval_result_done(&res);
}
END_TEST

START_TEST(interface_wildcards)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_chain *c;
	struct ir_rule *r;
	static const char *const names[] = { "lxc+", "eth0" };

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	c = base(table(rs, IR_SRC_NFT, IR_FAMILY_IP, "t"), "f", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0,
		 IR_VERDICT_DROP);
	r = rule(c);
	ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_IIFNAME, false, "cali*"), 0);
	ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_OIFNAME, true, "veth+"), 0);
	verdict(r, IR_VERDICT_ACCEPT, NULL);
	r = rule(c);
	ck_assert_int_eq(ir_rule_add_ifnames(r, IR_FIELD_OIFNAME, false, names, 2), 0);
	verdict(r, IR_VERDICT_ACCEPT, NULL);

	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80,
				 "cali12", "tunl0"),
			     &res),
			 EVAL_ACCEPT);
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80,
				 "cali12", "veth0"),
			     &res),
			 EVAL_DROP);
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80,
				 "cal", "tunl0"),
			     &res),
			 EVAL_DROP);
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80,
				 "x", "lxc9"),
			     &res),
			 EVAL_ACCEPT);
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80,
				 "x", "eth0"),
			     &res),
			 EVAL_ACCEPT);
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 80,
				 "x", "eth00"),
			     &res),
			 EVAL_DROP);
	eval_result_done(&res);
}
END_TEST

/* Dispatch runs (one rule per interface name) give what comparing every name gives: each rule
 * naming the interface matches, in order, duplicates and a wildcard in between included. */
START_TEST(interface_dispatch_runs)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_chain *c, *sub;
	struct ir_rule *r;
	struct ir_table *t;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	t = table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter");
	c = base(t, "FORWARD", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	sub = chain(t, "sub");
	r = rule(sub);
	ck_assert_int_eq(ir_rule_add_mark(r, IR_FIELD_META_MARK, 0, 1u << 30), 0);
	for (unsigned i = 0; i < 25; i++) {
		char name[IFNAMSIZ];

		r = rule(c);
		if (i == 12) { /* a wildcard: splits the run in two */
			ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_IIFNAME, false, "v1+"), 0);
			ck_assert_int_eq(ir_rule_add_mark(r, IR_FIELD_META_MARK, 0, 1u << 12), 0);
			continue;
		}
		snprintf(name, sizeof(name), "v%u", i * 7 % 10);
		ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_IIFNAME, false, name), 0);
		ck_assert_int_eq(ir_rule_add_mark(r, IR_FIELD_META_MARK, 0, 1u << i), 0);
		if (i % 2) /* a port test after the name: a cut point when the name fits */
			match_num(r, IR_FIELD_SPORT, 1000 + i, 1000 + i);
		if (i == 20) /* a jump from inside the run returns into it */
			verdict(r, IR_VERDICT_JUMP, "sub");
	}
	ck_assert_int_eq(eval_prepare(rs, &ctx), 0);
	for (unsigned k = 0; k <= 11; k++) {
		char name[IFNAMSIZ];
		uint32_t want = 0;

		snprintf(name, sizeof(name), k < 10 ? "v%u" : k == 10 ? "v1%u" : "other", k);
		for (unsigned i = 0; i < 25; i++) {
			char ri[IFNAMSIZ];

			snprintf(ri, sizeof(ri), "v%u", i * 7 % 10);
			if (i == 12 ? strncmp(name, "v1", 2) == 0 : streq(name, ri))
				want ^= 1u << i | (i == 20 ? 1u << 30 : 0);
		}
		ck_assert_int_eq(eval_packet(ctx,
					     pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2",
						 IPPROTO_TCP, 80, name, "eth0"),
					     false, &res),
				 0);
		ck_assert_int_eq(res.verdict, EVAL_ACCEPT);
		ck_assert_msg(res.mark == want, "%s: mark %#x, want %#x", name, res.mark, want);
	}
	/* the two runs are indexed (memory beyond the plain prefilters) */
	ck_assert_uint_gt(eval_ctx_memory(ctx), 2 * 16 * IFNAMSIZ);
	eval_result_done(&res);

	/* The boundaries of a template walk only the rules naming its interfaces. */
	{
		static const char *const two[] = { "v3", "v7" };
		struct eval_boundaries b = { 0 };
		struct eval_template tm = { .family = AF_INET,
					    .path = EVAL_PATH_FORWARD,
					    .iif = "v3",
					    .oif = "eth0",
					    .l4proto = IPPROTO_TCP };

		/* v3: i * 7 % 10 == 3 for i = 9, 19 (odd: port tests 1009, 1019) */
		ck_assert_int_eq(eval_collect_boundaries(ctx, &tm, &b), 0);
		ck_assert_uint_eq(b.sport.n, 4);
		ck_assert(b.sport.items[0] == 1009 && b.sport.items[1] == 1010);
		ck_assert(b.sport.items[2] == 1019 && b.sport.items[3] == 1020);
		/* v3 or v7 (i = 1, 11, 21: 1001, 1011, 1021) */
		tm.iif = NULL;
		tm.iifs = two;
		tm.n_iifs = 2;
		ck_assert_int_eq(eval_collect_boundaries(ctx, &tm, &b), 0);
		ck_assert_uint_eq(b.sport.n, 10);
		/* any interface: every odd rule but the wildcard's position */
		tm.n_iifs = 0;
		tm.iifs = NULL;
		ck_assert_int_eq(eval_collect_boundaries(ctx, &tm, &b), 0);
		ck_assert_uint_eq(b.sport.n, 2 * 12);
		eval_boundaries_done(&b);
	}
}
END_TEST

/* A CNI-like ruleset for the change scope test; variant v changes one thing. */
enum {
	V_SAME,
	V_POD_CHAIN, /* a rule of cali3's own chain */
	V_SHARED, /* a rule of the policy chain the even pods jump to */
	V_SET, /* an element of the ipset that policy chain looks up */
	V_DISPATCH, /* cali5's dispatch rule (and chain) gone */
	V_BASE, /* a rule of the base chain */
	V_DISPATCH_ANY, /* a rule without interface added to the dispatch chain */
	V_VMAP, /* the chain a verdict map keyed by interface sends veth7 to */
};

static struct ir_ruleset *cni_ruleset(int v)
{
	struct ir_ruleset *rs;
	struct ir_table *t, *n;
	struct ir_chain *fwd, *disp, *shared, *c;
	struct ir_rule *r;
	struct ir_set *set;
	static const enum ir_keytype one[] = { IR_KEY_ADDR };

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	set = ipset(rs, "allowed", "hash:net", 1, one);
	add_net(set, "10.1.0.0/16", false);
	if (v == V_SET)
		add_net(set, "10.2.0.0/16", false);
	t = table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter");
	fwd = base(t, "FORWARD", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	disp = chain(t, "from-dispatch");
	shared = chain(t, "po-shared");
	r = rule(fwd);
	ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_IIFNAME, false, "cali+"), 0);
	verdict(r, IR_VERDICT_JUMP, "from-dispatch");
	if (v == V_BASE) {
		r = rule(fwd);
		match_num(r, IR_FIELD_DPORT, 22, 22);
		verdict(r, IR_VERDICT_DROP, NULL);
	}
	for (int i = 0; i < 10; i++) {
		char ifn[IFNAMSIZ], cn[32];

		if (v == V_DISPATCH && i == 5)
			continue;
		snprintf(ifn, sizeof(ifn), "cali%d", i);
		snprintf(cn, sizeof(cn), "fw-cali%d", i);
		r = rule(disp);
		ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_IIFNAME, false, ifn), 0);
		verdict(r, IR_VERDICT_GOTO, cn);
		c = chain(t, cn);
		if (i % 2 == 0) {
			r = rule(c);
			verdict(r, IR_VERDICT_JUMP, "po-shared");
		}
		r = rule(c);
		{
			unsigned port = v == V_POD_CHAIN && i == 3 ? 81 : 80;

			match_num(r, IR_FIELD_DPORT, port, port);
		}
		verdict(r, IR_VERDICT_ACCEPT, NULL);
	}
	if (v == V_DISPATCH_ANY) {
		r = rule(disp);
		match_num(r, IR_FIELD_DPORT, 53, 53);
		verdict(r, IR_VERDICT_ACCEPT, NULL);
	}
	r = rule(shared);
	ck_assert_int_eq(ir_rule_add_lookup(r, (enum ir_field[]){ IR_FIELD_SADDR }, 1, "allowed",
					    true, false),
			 0);
	verdict(r, v == V_SHARED ? IR_VERDICT_DROP : IR_VERDICT_ACCEPT, NULL);

	/* nftables: a verdict map from the output interface to per-interface chains */
	n = table(rs, IR_SRC_NFT, IR_FAMILY_INET, "pods");
	c = base(n, "fwd", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	{
		static const enum ir_keytype kt[] = { IR_KEY_IFNAME };
		struct ir_stmt st = { .kind = IR_STMT_VMAP };
		struct ir_set *m;

		ck_assert_int_eq(ir_set_new("ifmap", "ifname", &m), 0);
		ck_assert_int_eq(ir_set_add_key(m, kt[0]), 0);
		m->flags |= IR_SET_MAP | IR_SET_VMAP;
		ck_assert_int_eq(ir_table_add_set(n, &(struct ir_set *){ m }), 0);
		for (int i = 6; i < 9; i++) {
			struct ir_key_part k = { 0 };
			char ifn[IFNAMSIZ], cn[32];

			snprintf(ifn, sizeof(ifn), "veth%d", i);
			snprintf(cn, sizeof(cn), "to-veth%d", i);
			k.ifname = ifn;
			ck_assert_int_eq(
				ir_set_add_elem(m, &k,
						&(struct ir_verdict){ .kind = IR_VERDICT_JUMP,
								      .chain = cn },
						0, false),
				0);
			r = rule(chain(n, cn));
			{
				unsigned port = v == V_VMAP && i == 7 ? 444 : 443;

				match_num(r, IR_FIELD_DPORT, port, port);
			}
			verdict(r, IR_VERDICT_ACCEPT, NULL);
		}
		r = rule(c);
		st.ref.key[0] = IR_FIELD_OIFNAME;
		st.ref.nkey = 1;
		st.ref.name = strdup("ifmap");
		ck_assert_ptr_nonnull(st.ref.name);
		ck_assert_int_eq(ir_rule_add_stmt(r, &st), 0);
	}
	return rs;
}

static const char *change_of(int v, struct eval_change *ch)
{
	static char buf[256];
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *a = cni_ruleset(V_SAME), *b = cni_ruleset(v);
	_cleanup_(eval_ctx_freep) struct eval_ctx *ca = NULL, *cb = NULL;
	size_t o = 0;

	ck_assert_int_eq(eval_prepare(a, &ca), 0);
	ck_assert_int_eq(eval_prepare(b, &cb), 0);
	/* the ruleset hash tells the same ruleset from a changed one */
	ck_assert_int_eq(eval_ruleset_hash(a) == eval_ruleset_hash(b), v == V_SAME);
	/* and its iptables-legacy and ipset part from a change elsewhere (the nftables map) */
	ck_assert_int_eq(
		eval_ruleset_hash_sources(a, (1u << IR_SRC_IPTABLES_LEGACY) | EVAL_HASH_IPSETS) ==
			eval_ruleset_hash_sources(b, (1u << IR_SRC_IPTABLES_LEGACY) |
							     EVAL_HASH_IPSETS),
		v == V_SAME || v == V_VMAP);
	ck_assert_int_eq(eval_changed_interfaces(ca, cb, ch), 0);
	buf[0] = 0;
	if (ch->all)
		return "all";
	for (size_t i = 0; i < ch->n; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? "," : "",
				      ch->ifnames[i]);
	return buf;
}

/* A verdict map keyed by interface: looked up by name, and a boundary walk follows only the
 * elements the template's interface can select. */
START_TEST(interface_verdict_map)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = cni_ruleset(V_SAME);
	_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
	struct eval_result res = { 0 };
	struct eval_boundaries b = { 0 };
	struct eval_template tm = { .family = AF_INET,
				    .path = EVAL_PATH_FORWARD,
				    .iif = "eth0",
				    .oif = "veth7",
				    .l4proto = IPPROTO_TCP };
	struct eval_packet p;

	ck_assert_int_eq(eval_prepare(rs, &ctx), 0);
	for (int i = 5; i < 10; i++) {
		char ifn[IFNAMSIZ], cn[32];

		snprintf(ifn, sizeof(ifn), "veth%d", i);
		snprintf(cn, sizeof(cn), "to-veth%d", i);
		ck_assert_int_eq(eval_packet(ctx,
					     pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2",
						 IPPROTO_TCP, 443, "eth0", ifn),
					     true, &res),
				 0);
		ck_assert_int_eq(res.verdict, EVAL_ACCEPT);
		if (i >= 6 && i <= 8)
			ck_assert_str_eq(decided(&res)->chain->name, cn);
		else
			ck_assert_ptr_null(decided(&res)->rule); /* the base chain's policy */
	}
	/* veth7's chain only: its port, not the others' */
	ck_assert_int_eq(eval_collect_boundaries(ctx, &tm, &b), 0);
	ck_assert_uint_eq(b.dport.n, 2);
	ck_assert(b.dport.items[0] == 443 && b.dport.items[1] == 444);
	tm.oif = "veth9";
	ck_assert_int_eq(eval_collect_boundaries(ctx, &tm, &b), 0);
	ck_assert_uint_eq(b.dport.n, 0);
	eval_boundaries_done(&b);
	eval_result_done(&res);
}
END_TEST

START_TEST(ruleset_change_scope)
{
	struct eval_change ch = { 0 };

	ck_assert_str_eq(change_of(V_SAME, &ch), "");
	ck_assert_uint_eq(ch.changed_chains, 0);
	eval_change_done(&ch);
	ck_assert_str_eq(change_of(V_POD_CHAIN, &ch), "cali3");
	ck_assert_uint_eq(ch.changed_chains, 1);
	eval_change_done(&ch);
	ck_assert_str_eq(change_of(V_SHARED, &ch), "cali0,cali2,cali4,cali6,cali8");
	eval_change_done(&ch);
	ck_assert_str_eq(change_of(V_SET, &ch), "cali0,cali2,cali4,cali6,cali8");
	eval_change_done(&ch);
	ck_assert_str_eq(change_of(V_DISPATCH, &ch), "cali5");
	eval_change_done(&ch);
	ck_assert_str_eq(change_of(V_VMAP, &ch), "veth7");
	eval_change_done(&ch);
	ck_assert_str_eq(change_of(V_BASE, &ch), "all");
	ck_assert_ptr_nonnull(ch.why);
	ck_assert_ptr_nonnull(strstr(ch.why, "FORWARD"));
	eval_change_done(&ch);
	ck_assert_str_eq(change_of(V_DISPATCH_ANY, &ch), "all");
	eval_change_done(&ch);
}
END_TEST

START_TEST(netdev_chains_follow_their_device)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_table *t;
	struct ir_chain *in, *out;
	struct ir_rule *r;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	t = table(rs, IR_SRC_NFT, IR_FAMILY_NETDEV, "nd");
	ck_assert_int_eq(ir_table_new_chain(t, "in", &in), 0);
	ck_assert_int_eq(ir_chain_set_base(in, IR_CHAIN_FILTER, IR_HOOK_INGRESS, 0,
					   IR_VERDICT_ACCEPT, "eth0"),
			 0);
	r = rule(in);
	match_num(r, IR_FIELD_DPORT, 25, 25);
	verdict(r, IR_VERDICT_DROP, NULL);
	ck_assert_int_eq(ir_table_new_chain(t, "out", &out), 0);
	ck_assert_int_eq(ir_chain_set_base(out, IR_CHAIN_FILTER, IR_HOOK_EGRESS, 0,
					   IR_VERDICT_ACCEPT, "veth1"),
			 0);
	r = rule(out);
	match_num(r, IR_FIELD_DPORT, 26, 26);
	verdict(r, IR_VERDICT_DROP, NULL);

	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 25), &res), EVAL_DROP);
	ck_assert_int_eq(decided(&res)->hook, IR_HOOK_INGRESS);
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 26), &res), EVAL_DROP);
	ck_assert_int_eq(decided(&res)->hook, IR_HOOK_EGRESS);
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 25,
				 "eth1", "veth2"),
			     &res),
			 EVAL_ACCEPT);
	ck_assert_int_eq(run(rs,
			     pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2", IPPROTO_TCP, 26,
				 "eth1", "veth2"),
			     &res),
			 EVAL_ACCEPT);
	/* IPv6 meets netdev chains too */
	ck_assert_int_eq(run(rs, FWD(&p, "fd00::1", "fd00::2", 25), &res), EVAL_DROP);
	eval_result_done(&res);
}
END_TEST

START_TEST(jump_loop_is_guarded)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_table *t;
	struct ir_chain *c;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	t = table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter");
	c = base(t, "FORWARD", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	verdict(rule(c), IR_VERDICT_JUMP, "A");
	verdict(rule(chain(t, "A")), IR_VERDICT_JUMP, "B");
	verdict(rule(chain(t, "B")), IR_VERDICT_JUMP, "A");
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 80), &res), EVAL_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(res.reason, "jump stack deeper than 64"));
	/* nftables: the kernel's 16 */
	t->source = IR_SRC_NFT;
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 80), &res), EVAL_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(res.reason, "jump stack deeper than 16"));
	ck_assert_uint_eq(res.trace.n, 17);
	eval_result_done(&res);
}
END_TEST

START_TEST(deep_legacy_chains_are_fine)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_table *t;
	struct ir_chain *c;
	char name[16];

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	t = table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter");
	c = base(t, "FORWARD", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	verdict(rule(c), IR_VERDICT_JUMP, "L0");
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "L%d", i);
		c = chain(t, name);
		snprintf(name, sizeof(name), "L%d", i + 1);
		verdict(rule(c), i == 29 ? IR_VERDICT_DROP : IR_VERDICT_JUMP,
			i == 29 ? NULL : name);
	}
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 80), &res), EVAL_DROP);
	ck_assert_uint_eq(res.trace.n, 31);
	eval_result_done(&res);
}
END_TEST

START_TEST(unresolved_jump_is_unknown)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_chain *c;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	c = base(table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter"), "FORWARD",
		 IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	verdict(rule(c), IR_VERDICT_JUMP, "MISSING");
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 80), &res), EVAL_UNKNOWN);
	ck_assert_ptr_nonnull(strstr(res.reason, "'MISSING'"));
	ck_assert_uint_eq(rs->unresolved, 1);
	eval_result_done(&res);
}
END_TEST

START_TEST(nat_chains_see_only_new)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_chain *nat, *fwd;
	struct ir_rule *r;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	nat = base(table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "nat"), "PREROUTING",
		   IR_CHAIN_NAT, IR_HOOK_PREROUTING, IR_PRIO_DSTNAT, IR_VERDICT_ACCEPT);
	r = rule(nat);
	match_num(r, IR_FIELD_DPORT, 80, 80);
	verdict(r, IR_VERDICT_DROP, NULL);
	/* a DNAT to a known address rewrites the destination for later chains */
	r = rule(nat);
	match_num(r, IR_FIELD_DPORT, 8080, 8080);
	{
		struct ir_stmt s = { .kind = IR_STMT_NAT,
				     .nat = IR_NAT_DNAT,
				     .nat_has_addr = true };

		s.nat_addr_lo = s.nat_addr_hi = ip("10.9.9.9");
		ck_assert_int_eq(ir_rule_add_stmt(r, &s), 0);
	}
	fwd = base(table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter"), "FORWARD",
		   IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	r = rule(fwd);
	match_cidr(r, IR_FIELD_DADDR, "10.9.9.9/32", false);
	verdict(r, IR_VERDICT_DROP, NULL);
	/* an unknown masquerade address in postrouting does not block */
	r = rule(base(table(rs, IR_SRC_NFT, IR_FAMILY_IP, "nat"), "post", IR_CHAIN_NAT,
		      IR_HOOK_POSTROUTING, IR_PRIO_SRCNAT, IR_VERDICT_ACCEPT));
	ck_assert_int_eq(ir_rule_add_nat(r, IR_NAT_MASQUERADE, "masquerade"), 0);

	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 80), &res), EVAL_DROP);
	FWD(&p, "10.0.0.1", "10.0.0.2", 80)->ct_state = IR_CT_ESTABLISHED;
	ck_assert_int_eq(run(rs, &p, &res), EVAL_ACCEPT);
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 8080), &res), EVAL_DROP);
	ck_assert_ptr_eq(decided(&res)->chain, fwd);
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 443), &res), EVAL_ACCEPT);
	ck_assert_int_eq(res.trace.items[res.trace.n - 1].action, IR_VERDICT_ACCEPT);
	ck_assert_ptr_nonnull(res.trace.items[res.trace.n - 1].note);
	eval_result_done(&res);
}
END_TEST

START_TEST(ct_state_and_notrack)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_chain *raw, *fwd;
	struct ir_rule *r;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	raw = base(table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "raw"), "PREROUTING",
		   IR_CHAIN_FILTER, IR_HOOK_PREROUTING, IR_PRIO_RAW, IR_VERDICT_ACCEPT);
	r = rule(raw);
	match_num(r, IR_FIELD_DPORT, 53, 53);
	ck_assert_int_eq(ir_rule_add_note(r, IR_STMT_NOTRACK, "CT --notrack"), 0);
	fwd = base(table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter"), "FORWARD",
		   IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_DROP);
	r = rule(fwd);
	ck_assert_int_eq(
		ir_rule_add_bits(r, IR_FIELD_CT_STATE, IR_CT_ESTABLISHED | IR_CT_RELATED, false),
		0);
	verdict(r, IR_VERDICT_ACCEPT, NULL);
	r = rule(fwd);
	ck_assert_int_eq(ir_rule_add_bits(r, IR_FIELD_CT_STATE, IR_CT_UNTRACKED, false), 0);
	verdict(r, IR_VERDICT_ACCEPT, NULL);

	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 80), &res), EVAL_DROP);
	FWD(&p, "10.0.0.1", "10.0.0.2", 80)->ct_state = IR_CT_RELATED;
	ck_assert_int_eq(run(rs, &p, &res), EVAL_ACCEPT);
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 53), &res), EVAL_ACCEPT);
	ck_assert_uint_eq(decided(&res)->rule->position, 2);

	/* notrack after conntrack has no effect */
	raw->priority = IR_PRIO_MANGLE;
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 53), &res), EVAL_DROP);
	raw->priority = IR_PRIO_RAW;

	/* before conntrack there is no connection: an established packet is "invalid" there */
	r = rule(raw);
	ck_assert_int_eq(ir_rule_add_bits(r, IR_FIELD_CT_STATE, IR_CT_INVALID, false), 0);
	verdict(r, IR_VERDICT_DROP, NULL);
	FWD(&p, "10.0.0.1", "10.0.0.2", 80)->ct_state = IR_CT_ESTABLISHED;
	ck_assert_int_eq(run(rs, &p, &res), EVAL_DROP);
	ck_assert_ptr_eq(decided(&res)->chain, raw);
	/* ... but not for an untracked one */
	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 53), &res), EVAL_ACCEPT);
	eval_result_done(&res);
}
END_TEST

START_TEST(boundaries_of_reachable_rules)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
	struct eval_boundaries b = { 0 };
	struct ir_table *t;
	struct ir_chain *fwd, *pod, *other;
	struct ir_set *s;
	struct ir_rule *r;
	static const enum ir_keytype addr[] = { IR_KEY_ADDR };
	static const enum ir_field src[] = { IR_FIELD_SADDR };
	struct eval_template tmpl = {
		.family = AF_INET,
		.path = EVAL_PATH_FORWARD,
		.iif = "eth0",
		.oif = "cali1",
		.l4proto = IPPROTO_TCP,
	};

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	s = ipset(rs, "peers", "hash:net", 1, addr);
	add_net(s, "192.168.1.0/24", false);
	t = table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter");
	fwd = base(t, "FORWARD", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_DROP);
	pod = chain(t, "to-cali1");
	other = chain(t, "to-cali2");
	r = rule(fwd);
	ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_OIFNAME, false, "cali1"), 0);
	verdict(r, IR_VERDICT_GOTO, "to-cali1");
	r = rule(fwd);
	ck_assert_int_eq(ir_rule_add_ifname(r, IR_FIELD_OIFNAME, false, "cali2"), 0);
	verdict(r, IR_VERDICT_GOTO, "to-cali2");
	r = rule(pod);
	ck_assert_int_eq(ir_rule_add_lookup(r, src, 1, "peers", true, false), 0);
	match_num(r, IR_FIELD_DPORT, 80, 90);
	verdict(r, IR_VERDICT_ACCEPT, NULL);
	r = rule(pod);
	match_num(r, IR_FIELD_L4PROTO, IPPROTO_UDP, IPPROTO_UDP);
	match_num(r, IR_FIELD_DPORT, 53, 53);
	verdict(r, IR_VERDICT_ACCEPT, NULL);
	r = rule(other);
	match_cidr(r, IR_FIELD_SADDR, "172.16.0.0/12", false);
	verdict(r, IR_VERDICT_ACCEPT, NULL);

	ck_assert_int_eq(eval_prepare(rs, &ctx), 0);
	ck_assert_int_eq(eval_collect_boundaries(ctx, &tmpl, &b), 0);
	ck_assert_uint_eq(b.saddr.n, 2);
	ck_assert(b.saddr.items[0] == ip("192.168.1.0"));
	ck_assert(b.saddr.items[1] == ip("192.168.2.0"));
	ck_assert_uint_eq(b.dport.n, 2); /* udp 53 excluded by the template */
	ck_assert(b.dport.items[0] == 80 && b.dport.items[1] == 91);
	ck_assert_uint_eq(b.daddr.n, 0);
	ck_assert_uint_eq(b.rules, 2); /* FORWARD's cali1 dispatch and the tcp rule of to-cali1 */

	tmpl.oif = NULL;
	tmpl.l4proto = -1;
	ck_assert_int_eq(eval_collect_boundaries(ctx, &tmpl, &b), 0);
	ck_assert_uint_eq(b.saddr.n, 4);
	ck_assert_uint_eq(b.dport.n, 4);
	ck_assert_uint_eq(b.inexact, 0);

	/* off-node peers: the output interface is one of the uplinks, not a pod's */
	{
		static const char *const uplinks[] = { "eth0", "tunl0" };

		tmpl.oifs = uplinks;
		tmpl.n_oifs = 2;
		ck_assert_int_eq(eval_collect_boundaries(ctx, &tmpl, &b), 0);
		ck_assert_uint_eq(b.saddr.n, 0);
		ck_assert_uint_eq(b.rules, 0);
		tmpl.oifs = (const char *const[]){ "eth0", "cali1" };
		ck_assert_int_eq(eval_collect_boundaries(ctx, &tmpl, &b), 0);
		ck_assert_uint_eq(b.saddr.n, 2);
	}
	eval_boundaries_done(&b);
}
END_TEST

START_TEST(boundaries_follow_verdict_maps)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
	struct eval_boundaries b = { 0 };
	struct ir_table *t;
	struct ir_chain *fwd, *pod;
	struct ir_set *vm;
	struct ir_rule *r;
	struct ir_key_part k = { 0 };
	struct ir_verdict v = { .kind = IR_VERDICT_GOTO, .chain = (char *)"pod" };
	static const enum ir_field key[] = { IR_FIELD_DADDR };
	struct np_iset m = { 0 };
	struct eval_template tmpl = {
		.family = AF_INET,
		.path = EVAL_PATH_FORWARD,
		.l4proto = -1,
	};

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	t = table(rs, IR_SRC_NFT, IR_FAMILY_INET, "np");
	ck_assert_int_eq(ir_set_new("pods", NULL, &vm), 0);
	vm->flags = IR_SET_VMAP | IR_SET_INTERVAL;
	ck_assert_int_eq(ir_set_add_key(vm, IR_KEY_ADDR), 0);
	ck_assert_int_gt(np_cidr_parse("10.0.1.0/24", &k.lo, &k.hi), 0);
	ck_assert_int_eq(ir_set_add_elem(vm, &k, &v, 0, false), 0);
	ck_assert_int_eq(ir_table_add_set(t, &(struct ir_set *){ vm }), 0);
	fwd = base(t, "forward", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	pod = chain(t, "pod");
	ck_assert_int_eq(ir_rule_add_vmap(rule(fwd), key, 1, "pods", false), 0);
	r = rule(pod);
	match_num(r, IR_FIELD_SPORT, 1000, 1999);
	verdict(r, IR_VERDICT_DROP, NULL);
	r = rule(pod);
	np_iset_add(&m, 0x1, 0x1);
	ck_assert_int_eq(ir_rule_add_match_masked(r, IR_FIELD_DPORT, 0x1, false, &m), 0);
	verdict(r, IR_VERDICT_DROP, NULL);

	ck_assert_int_eq(eval_prepare(rs, &ctx), 0);
	ck_assert_int_eq(eval_collect_boundaries(ctx, &tmpl, &b), 0);
	ck_assert_uint_eq(b.daddr.n, 2);
	ck_assert(b.daddr.items[0] == ip("10.0.1.0") && b.daddr.items[1] == ip("10.0.2.0"));
	ck_assert_uint_eq(b.sport.n, 2);
	ck_assert(b.sport.items[0] == 1000 && b.sport.items[1] == 2000);
	ck_assert_uint_eq(b.inexact, 1); /* odd ports: no interval cut expresses them */
	ck_assert_uint_eq(b.rules, 3);
	eval_boundaries_done(&b);
}
END_TEST

/* Random sets against a linear reference: the index must agree. */
START_TEST(set_index_agrees_with_scan)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_set *s;
	struct ir_chain *c;
	struct ir_rule *r;
	static const enum ir_keytype kt[] = { IR_KEY_ADDR, IR_KEY_NUM };
	static const enum ir_field key[] = { IR_FIELD_DADDR, IR_FIELD_DPORT };
	struct ir_key_part k[2] = { 0 };
	unsigned seed = 42;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	s = ipset(rs, "big", "hash:net,port", 2, kt);
	for (int i = 0; i < 3000; i++) {
		unsigned a = rand_r(&seed) & 0xffff, plen = 16 + rand_r(&seed) % 17;
		uint32_t net = (10u << 24 | a << 8) & (plen ? ~0u << (32 - plen) : 0);

		k[0].lo = np_v4(net);
		k[0].hi = np_v4(net | (plen == 32 ? 0 : (~0u >> plen)));
		k[1].lo = rand_r(&seed) % 100;
		k[1].hi = k[1].lo + rand_r(&seed) % 5;
		ck_assert_int_eq(ir_set_add_elem(s, k, NULL, 0, false), 0);
	}
	c = base(table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter"), "FORWARD",
		 IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_DROP);
	r = rule(c);
	ck_assert_int_eq(ir_rule_add_lookup(r, key, 2, "big", true, false), 0);
	verdict(r, IR_VERDICT_ACCEPT, NULL);
	ck_assert_int_eq(eval_prepare(rs, &ctx), 0);
	/* at least the segment starts of 3000 ranges */
	ck_assert_uint_gt(eval_ctx_memory(ctx), 3000 * sizeof(np_u128));

	for (int i = 0; i < 20000; i++) {
		bool want = false;
		np_u128 d;

		FWD(&p, "1.2.3.4", "10.0.0.0", 0);
		p.daddr = d = np_v4(10u << 24 | (rand_r(&seed) & 0xffffff));
		p.dport = rand_r(&seed) % 105;
		for (size_t e = 0; e < s->elems.n && !want; e++) {
			const struct ir_key_part *q = s->elems.items[e].key;

			want = d >= q[0].lo && d <= q[0].hi && p.dport >= q[1].lo &&
			       p.dport <= q[1].hi;
		}
		ck_assert_int_eq(eval_packet(ctx, &p, false, &res), 0);
		ck_assert_int_eq(res.verdict, want ? EVAL_ACCEPT : EVAL_DROP);
	}
	eval_result_done(&res);
}
END_TEST

/* --- random rulesets: the cut points must make classes no rule can tell apart --- */

static unsigned rnd(unsigned *seed, unsigned n)
{
	return (unsigned)rand_r(seed) % n;
}

static void random_cidr(unsigned *seed, np_u128 *lo, np_u128 *hi)
{
	unsigned plen = 8 + rnd(seed, 25);
	uint32_t a = 10u << 24 | (uint32_t)rnd(seed, 4) << 8 | rnd(seed, 256);
	uint32_t mask = plen == 32 ? ~0u : ~(~0u >> plen);

	a = (a | (uint32_t)rnd(seed, 4) << 16) & mask;
	*lo = np_v4(a);
	*hi = np_v4(a | ~mask);
}

/* A random predicate; rich adds protocol tests, one-field port sets, masked port tests and
 * dnat (for the region test). */
static void random_pred(unsigned *seed, struct ir_rule *r, int nsets, bool rich)
{
	static const enum ir_field addr_fields[] = { IR_FIELD_SADDR, IR_FIELD_DADDR };
	static const enum ir_field port_fields[] = { IR_FIELD_SPORT, IR_FIELD_DPORT };
	struct np_iset v = { 0 };
	np_u128 lo, hi;
	unsigned k = rnd(seed, rich ? 12 : 7);

	switch (k) {
	case 7:
		np_iset_add(&v, rnd(seed, 2) ? IPPROTO_TCP : IPPROTO_UDP,
			    rnd(seed, 2) ? IPPROTO_UDP : IPPROTO_SCTP);
		np_iset_normalize(&v);
		ck_assert_int_eq(ir_rule_add_match(r, IR_FIELD_L4PROTO, rnd(seed, 3) == 0, &v), 0);
		break;
	case 8: {
		enum ir_field key[1] = { port_fields[rnd(seed, 2)] };

		ck_assert_int_eq(ir_rule_add_lookup(r, key, 1, "ports", true, rnd(seed, 4) == 0),
				 0);
		break;
	}
	case 9:
		np_iset_add(&v, rnd(seed, 4) << 8, rnd(seed, 4) << 8);
		ck_assert_int_eq(ir_rule_add_match_masked(r, port_fields[rnd(seed, 2)], 0xff00,
							  rnd(seed, 3) == 0, &v),
				 0);
		break;
	case 10:
		for (unsigned i = 0, n = 1 + rnd(seed, 3); i < n; i++) {
			lo = rnd(seed, 1024);
			np_iset_add(&v, lo, lo + rnd(seed, 64));
		}
		np_iset_normalize(&v);
		ck_assert_int_eq(
			ir_rule_add_match(r, port_fields[rnd(seed, 2)], rnd(seed, 4) == 0, &v), 0);
		break;
	case 11: {
		struct ir_stmt st = { .kind = IR_STMT_NAT,
				      .nat = IR_NAT_DNAT,
				      .nat_has_addr = true,
				      .nat_has_port = true };

		st.nat_addr_lo = st.nat_addr_hi = np_v4(0x0a000063);
		st.nat_port_lo = st.nat_port_hi = (uint16_t)rnd(seed, 1024);
		ck_assert_int_eq(ir_rule_add_stmt(r, &st), 0);
		break;
	}
	case 0:
		for (unsigned i = 0, n = 1 + rnd(seed, 3); i < n; i++) {
			random_cidr(seed, &lo, &hi);
			np_iset_add(&v, lo, hi);
		}
		ck_assert_int_eq(
			ir_rule_add_match(r, addr_fields[rnd(seed, 2)], rnd(seed, 4) == 0, &v), 0);
		break;
	case 1:
		lo = rnd(seed, 1024);
		np_iset_add(&v, lo, lo + rnd(seed, 64));
		ck_assert_int_eq(
			ir_rule_add_match(r, port_fields[rnd(seed, 2)], rnd(seed, 4) == 0, &v), 0);
		break;
	case 2: {
		char name[16];
		enum ir_field key[2] = { addr_fields[rnd(seed, 2)], IR_FIELD_DPORT };
		int si = (int)rnd(seed, (unsigned)nsets);

		snprintf(name, sizeof(name), "s%d", si);
		ck_assert_int_eq(
			ir_rule_add_lookup(r, key, si % 2 ? 2 : 1, name, true, rnd(seed, 4) == 0),
			0);
		break;
	}
	case 3:
		np_iset_add(&v, 1u << rnd(seed, 3), 1u << rnd(seed, 3));
		ck_assert_int_eq(ir_rule_add_match_masked(r, IR_FIELD_META_MARK, 0x7, false, &v),
				 0);
		break;
	case 5:
		if (rnd(seed, 4) == 0) {
			ck_assert_int_eq(ir_rule_add_opaque(r, "xt match random"), 0);
			break;
		}
		__attribute__((fallthrough));
	case 4:
		ck_assert_int_eq(ir_rule_add_bits(r, IR_FIELD_CT_STATE,
						  rnd(seed, 2) ? IR_CT_NEW : IR_CT_INVALID,
						  rnd(seed, 3) == 0),
				 0);
		break;
	default:
		ck_assert_int_eq(ir_rule_add_mark(r, IR_FIELD_META_MARK, 0x7, 1u << rnd(seed, 3)),
				 0);
		break;
	}
}

static struct ir_ruleset *random_ruleset(unsigned *seed, bool rich)
{
	struct ir_ruleset *rs;
	struct ir_table *t;
	struct ir_chain *chains[6];
	static const enum ir_keytype one[] = { IR_KEY_ADDR };
	static const enum ir_keytype two[] = { IR_KEY_ADDR, IR_KEY_NUM };
	const int nsets = 4, nchains = 6;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	for (int i = 0; i < nsets; i++) {
		char name[16];
		struct ir_set *s;

		snprintf(name, sizeof(name), "s%d", i);
		s = ipset(rs, name, i % 2 ? "hash:net,port" : "hash:net", i % 2 ? 2 : 1,
			  i % 2 ? two : one);
		for (unsigned e = 0, n = 1 + rnd(seed, 6); e < n; e++) {
			struct ir_key_part k[2] = { 0 };

			random_cidr(seed, &k[0].lo, &k[0].hi);
			k[1].lo = rnd(seed, 1024);
			k[1].hi = k[1].lo + rnd(seed, 8);
			ck_assert_int_eq(
				ir_set_add_elem(s, k, NULL, 0, i == 0 && rnd(seed, 3) == 0), 0);
		}
	}
	if (rich) {
		static const enum ir_keytype num[] = { IR_KEY_NUM };
		struct ir_set *s = ipset(rs, "ports", "bitmap:port", 1, num);

		for (unsigned e = 0, n = 1 + rnd(seed, 6); e < n; e++) {
			struct ir_key_part k[1] = { 0 };

			k[0].lo = rnd(seed, 1024);
			k[0].hi = k[0].lo + rnd(seed, 16);
			ck_assert_int_eq(ir_set_add_elem(s, k, NULL, 0, false), 0);
		}
	}
	t = table(rs, rnd(seed, 2) ? IR_SRC_IPTABLES_LEGACY : IR_SRC_NFT, IR_FAMILY_IP, "filter");
	for (int c = 0; c < nchains; c++) {
		char name[16];

		snprintf(name, sizeof(name), "c%d", c);
		chains[c] = c < 2 ? base(t, name, IR_CHAIN_FILTER,
					 c ? IR_HOOK_FORWARD : IR_HOOK_PREROUTING,
					 c == 0 && rnd(seed, 2) ? IR_PRIO_RAW : 0,
					 rnd(seed, 2) ? IR_VERDICT_ACCEPT : IR_VERDICT_DROP)
				  : chain(t, name);
	}
	for (int c = 0; c < nchains; c++)
		for (unsigned i = 0, n = 1 + rnd(seed, 6); i < n; i++) {
			struct ir_rule *r = rule(chains[c]);
			unsigned v = rnd(seed, 10);
			char target[16];

			for (unsigned k = 0, np = rnd(seed, 4); k < np; k++)
				random_pred(seed, r, nsets, rich);
			snprintf(target, sizeof(target), "c%d", 2 + (int)rnd(seed, nchains - 2));
			if (v < 2)
				verdict(r, IR_VERDICT_ACCEPT, NULL);
			else if (v < 4)
				verdict(r, IR_VERDICT_DROP, NULL);
			else if (v < 6 && c < nchains - 1 && atoi(target + 1) > c)
				verdict(r, v == 4 ? IR_VERDICT_JUMP : IR_VERDICT_GOTO, target);
			else if (v == 6)
				verdict(r, IR_VERDICT_RETURN, NULL);
		}
	return rs;
}

static size_t class_of(const struct eval_cuts *c, np_u128 v)
{
	size_t a = 0, b = c->n; /* number of cut points <= v */

	while (a < b) {
		size_t m = (a + b) / 2;

		if (c->items[m] <= v)
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* A random value of class i of cut points c within [lo, hi]. */
static np_u128 member(unsigned *seed, const struct eval_cuts *c, size_t i, np_u128 lo, np_u128 hi)
{
	np_u128 a = i == 0 ? lo : MAX(lo, c->items[i - 1]);
	np_u128 b = i == c->n ? hi : MIN(hi, c->items[i] - 1);

	if (b < a)
		return a;
	return a + (np_u128)rnd(seed, (unsigned)MIN(b - a + 1, (np_u128)0x7fffffff));
}

START_TEST(random_rulesets_classes_are_exact)
{
	unsigned seed = 7;
	unsigned classes = 0, unknown = 0;

	for (int round = 0; round < 60; round++) {
		_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = random_ruleset(&seed, false);
		_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
		struct eval_boundaries b = { 0 };
		struct eval_result res = { 0 };
		struct eval_template tmpl = {
			.family = AF_INET,
			.path = EVAL_PATH_FORWARD,
			.iif = "eth0",
			.oif = "veth1",
			.l4proto = IPPROTO_TCP,
			.ct_state = IR_CT_NEW,
		};

		ck_assert_int_eq(eval_prepare(rs, &ctx), 0);
		ck_assert_int_eq(eval_collect_boundaries(ctx, &tmpl, &b), 0);
		ck_assert_uint_eq(b.inexact, 0);
		for (int k = 0; k < 40; k++) {
			size_t cs = rnd(&seed, (unsigned)b.saddr.n + 1),
			       cd = rnd(&seed, (unsigned)b.daddr.n + 1),
			       cp = rnd(&seed, (unsigned)b.dport.n + 1),
			       cq = rnd(&seed, (unsigned)b.sport.n + 1);
			enum eval_verdict first = EVAL_UNKNOWN;
			const struct ir_rule *first_rule = NULL;

			for (int m = 0; m < 6; m++) {
				struct eval_packet p;

				FWD(&p, "10.0.0.1", "10.0.0.2", 0);
				p.saddr = member(&seed, &b.saddr, cs, np_v4(10u << 24),
						 np_v4(0x0affffff));
				p.daddr = member(&seed, &b.daddr, cd, np_v4(10u << 24),
						 np_v4(0x0affffff));
				p.dport = (uint16_t)member(&seed, &b.dport, cp, 0, 65535);
				p.sport = (uint16_t)member(&seed, &b.sport, cq, 0, 65535);
				ck_assert_uint_eq(class_of(&b.dport, p.dport), cp);
				ck_assert_int_eq(eval_packet(ctx, &p, true, &res), 0);
				if (m == 0) {
					first = res.verdict;
					first_rule = res.decided_by >= 0
							     ? res.trace.items[res.decided_by].rule
							     : NULL;
					classes++;
					unknown += first == EVAL_UNKNOWN;
				} else {
					ck_assert_int_eq(res.verdict, first);
					ck_assert_ptr_eq(
						res.decided_by >= 0
							? res.trace.items[res.decided_by].rule
							: NULL,
						first_rule);
				}
			}
		}
		eval_result_done(&res);
		eval_boundaries_done(&b);
	}
	ck_assert_uint_eq(classes, 60 * 40);
	/* opaque predicates made some classes unknown (the same for all their members) */
	ck_assert_uint_gt(unknown, 0);
	ck_assert_uint_lt(unknown, classes / 2);
}
END_TEST

/* The ports of a region as text (a static buffer). */
static const char *ports_of(const struct eval_region *rg, bool sport)
{
	static char buf[256];
	struct np_iset v = { 0 };
	struct strbuf sb = { 0 };

	ck_assert_int_eq(eval_region_ports(rg, sport, &v), 0);
	ck_assert_int_eq(np_iset_format_numbers(&v, &sb), 0);
	snprintf(buf, sizeof(buf), "%s", strbuf_str(&sb));
	strbuf_done(&sb);
	np_iset_done(&v);
	return buf;
}

/* The region of a verdict: exact bounds for value lists, one-field sets and protocol tests. */
START_TEST(region_bounds)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct ir_chain *c;
	struct ir_rule *r;
	struct ir_set *s;
	struct np_iset v = { 0 };
	static const enum ir_keytype num[] = { IR_KEY_NUM };
	static const enum ir_field dport_key[] = { IR_FIELD_DPORT };
	struct ir_key_part k[1] = { 0 };

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	s = ipset(rs, "web", "bitmap:port", 1, num);
	k[0].lo = 8000;
	k[0].hi = 8099;
	ck_assert_int_eq(ir_set_add_elem(s, k, NULL, 0, false), 0);
	k[0].lo = k[0].hi = 9000;
	ck_assert_int_eq(ir_set_add_elem(s, k, NULL, 0, false), 0);
	c = base(table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter"), "FORWARD",
		 IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	/* a second predicate with several ranges (no prefilter) */
	r = rule(c);
	match_cidr(r, IR_FIELD_SADDR, "10.0.0.0/8", false);
	np_iset_add(&v, 10, 20);
	np_iset_add(&v, 30, 40);
	np_iset_normalize(&v);
	ck_assert_int_eq(ir_rule_add_match(r, IR_FIELD_DPORT, false, &v), 0);
	verdict(r, IR_VERDICT_DROP, NULL);
	r = rule(c);
	ck_assert_int_eq(ir_rule_add_lookup(r, dport_key, 1, "web", true, false), 0);
	verdict(r, IR_VERDICT_DROP, NULL);
	r = rule(c);
	match_num(r, IR_FIELD_L4PROTO, IPPROTO_UDP, IPPROTO_UDP);
	match_num(r, IR_FIELD_SPORT, 1000, 1999);
	verdict(r, IR_VERDICT_DROP, NULL);
	ck_assert_int_eq(eval_prepare(rs, &ctx), 0);

	/* tcp to 25: outside both ranges, below the set; the protocol was tested */
	ck_assert_int_eq(eval_packet(ctx, FWD(&p, "10.0.0.1", "10.2.0.1", 25), false, &res), 0);
	ck_assert_int_eq(res.verdict, EVAL_ACCEPT);
	ck_assert_str_eq(ports_of(&res.region, false), "0-9,21-29,41-7999");
	ck_assert_str_eq(ports_of(&res.region, true), "0-65535");
	ck_assert(!res.region.l4proto); /* tested as "is udp" only */
	ck_assert(eval_region_holds(&res.region, IPPROTO_TCP, 1, 7999));
	ck_assert(!eval_region_holds(&res.region, IPPROTO_TCP, 1, 30));
	ck_assert(!eval_region_holds(&res.region, IPPROTO_UDP, 1, 25));
	ck_assert(eval_region_holds(&res.region, IPPROTO_SCTP, 1, 25));
	/* in the first range */
	ck_assert_int_eq(eval_packet(ctx, FWD(&p, "10.0.0.1", "10.2.0.1", 15), false, &res), 0);
	ck_assert_int_eq(res.verdict, EVAL_DROP);
	ck_assert_str_eq(ports_of(&res.region, false), "10-20,30-40");
	ck_assert(!res.region.l4proto);
	ck_assert(eval_region_holds(&res.region, IPPROTO_SCTP, 9, 35));
	ck_assert(!eval_region_holds(&res.region, IPPROTO_ICMP, 0, 0));
	/* in a set element */
	ck_assert_int_eq(eval_packet(ctx, FWD(&p, "10.0.0.1", "10.2.0.1", 8050), false, &res), 0);
	ck_assert_int_eq(res.verdict, EVAL_DROP);
	ck_assert_str_eq(ports_of(&res.region, false), "8000-8099");
	/* above every range, between set elements: udp from a tested source port */
	FWD(&p, "10.0.0.1", "10.2.0.1", 8500);
	p.l4proto = IPPROTO_UDP;
	p.sport = 1500;
	ck_assert_int_eq(eval_packet(ctx, &p, false, &res), 0);
	ck_assert_int_eq(res.verdict, EVAL_DROP);
	ck_assert_str_eq(ports_of(&res.region, false), "8100-8999");
	ck_assert_str_eq(ports_of(&res.region, true), "1000-1999");
	ck_assert(!res.region.l4proto);
	ck_assert(eval_region_holds(&res.region, IPPROTO_UDP, 1000, 8100));
	ck_assert(!eval_region_holds(&res.region, IPPROTO_TCP, 1000, 8100));
	/* another source: the port ranges are not tested at all */
	FWD(&p, "192.168.0.1", "10.2.0.1", 15);
	ck_assert_int_eq(eval_packet(ctx, &p, false, &res), 0);
	ck_assert_int_eq(res.verdict, EVAL_ACCEPT);
	ck_assert_str_eq(ports_of(&res.region, false), "0-7999");
	eval_result_done(&res);
}
END_TEST

/* A random member of the port set v, mostly below 1100 where the random rules test ports;
 * with edge, the first or last port of one of its ranges. */
static uint16_t in_set(unsigned *seed, const struct np_iset *v, bool edge)
{
	const struct np_range *r;
	unsigned lo, hi, top;

	ck_assert_uint_gt(v->n, 0);
	r = &v->r[rnd(seed, (unsigned)v->n)];
	lo = (unsigned)r->lo;
	hi = (unsigned)r->hi;
	top = rnd(seed, 8) == 0 ? hi : MIN(hi, MAX(lo, 1100u));
	if (edge)
		return (uint16_t)(rnd(seed, 2) ? lo : hi);
	return (uint16_t)(lo + rnd(seed, top - lo + 1));
}

/* Every packet in the region of an evaluation gets the same verdict, deciding rule and reason;
 * a region without protocol test holds for the other protocols with ports. */
START_TEST(random_rulesets_regions_hold)
{
	static const uint8_t port_protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };
	unsigned seed = 11;
	unsigned wide = 0, anyproto = 0, narrow = 0, checked = 0, swept = 0, otherproto = 0;

	for (int round = 0; round < 80; round++) {
		_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = random_ruleset(&seed, true);
		_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
		struct eval_result res = { 0 }, other = { 0 };
		struct np_iset dports = { 0 }, sports = { 0 };

		ck_assert_int_eq(eval_prepare(rs, &ctx), 0);
		for (int k = 0; k < 40; k++) {
			struct eval_packet p;
			struct eval_region rg;
			const struct ir_rule *rule0;
			char reason[sizeof(res.reason)];

			FWD(&p, "10.0.0.1", "10.0.0.2", 0);
			p.l4proto = port_protos[rnd(&seed, 3)];
			p.saddr = np_v4(10u << 24 | rnd(&seed, 1 << 18));
			p.daddr = np_v4(10u << 24 | rnd(&seed, 1 << 18));
			p.dport = (uint16_t)rnd(&seed, 1100);
			p.sport = (uint16_t)rnd(&seed, 1100);
			ck_assert_int_eq(eval_packet(ctx, &p, true, &res), 0);
			rg = res.region;
			ck_assert_uint_le(rg.dport_lo, p.dport);
			ck_assert_uint_ge(rg.dport_hi, p.dport);
			ck_assert_uint_le(rg.sport_lo, p.sport);
			ck_assert_uint_ge(rg.sport_hi, p.sport);
			rule0 = res.decided_by >= 0 ? res.trace.items[res.decided_by].rule : NULL;
			snprintf(reason, sizeof(reason), "%s", res.reason);
			wide += rg.dport_hi > rg.dport_lo;
			narrow += rg.dport_hi - rg.dport_lo < 65535;
			anyproto += !rg.l4proto;
			ck_assert_int_eq(eval_region_ports(&rg, false, &dports), 0);
			ck_assert_int_eq(eval_region_ports(&rg, true, &sports), 0);
			ck_assert(np_iset_contains(&dports, p.dport));
			ck_assert(np_iset_contains(&sports, p.sport));
			for (int m = 0; m < 8; m++) {
				struct eval_packet q = p;

				/* where the rules' ports are (below 1100), and the edges */
				q.dport = in_set(&seed, &dports, m % 4 == 0);
				q.sport = in_set(&seed, &sports, false);
				ck_assert(eval_region_holds(&rg, q.l4proto, q.sport, q.dport));
				/* another protocol that meets the path's protocol tests alike */
				q.l4proto = port_protos[rnd(&seed, 3)];
				if (eval_region_holds(&rg, q.l4proto, q.sport, q.dport))
					otherproto += q.l4proto != p.l4proto;
				else
					q.l4proto = p.l4proto;
				ck_assert_int_eq(eval_packet(ctx, &q, true, &other), 0);
				ck_assert_int_eq(other.verdict, res.verdict);
				ck_assert_ptr_eq(other.decided_by >= 0
							 ? other.trace.items[other.decided_by].rule
							 : NULL,
						 rule0);
				ck_assert_uint_eq(other.trace.n, res.trace.n);
				ck_assert_str_eq(other.reason, reason);
				checked++;
			}
			/* every destination port where the rules test ports: in the region, the
			 * same path; a port outside may take another */
			for (unsigned d = 0; k % 8 == 0 && d <= 1100u; d++) {
				struct eval_packet q = p;

				q.dport = (uint16_t)d;
				ck_assert(eval_region_holds(&rg, q.l4proto, q.sport, q.dport) ==
					  np_iset_contains(&dports, d));
				if (!np_iset_contains(&dports, d))
					continue;
				ck_assert_int_eq(eval_packet(ctx, &q, false, &other), 0);
				ck_assert_int_eq(other.verdict, res.verdict);
				ck_assert_ptr_eq(other.decided_by >= 0
							 ? other.trace.items[other.decided_by].rule
							 : NULL,
						 rule0);
				swept++;
			}
		}
		eval_result_done(&res);
		eval_result_done(&other);
		np_iset_done(&dports);
		np_iset_done(&sports);
	}
	ck_assert_uint_eq(checked, 80 * 40 * 8);
	ck_assert_uint_gt(swept, 80 * 5 * 100);
	/* the regions are neither all single ports nor all everything */
	ck_assert_uint_gt(wide, 80 * 40 / 4);
	ck_assert_uint_gt(narrow, 80 * 40 / 4);
	ck_assert_uint_gt(anyproto, 0);
	ck_assert_uint_gt(otherproto, 80 * 40);
}
END_TEST

/* Two results of one packet are the same: verdict, deciding entry, reason, marks, region. */
static void same_result(struct eval_result *a, struct eval_result *b)
{
	ck_assert_int_eq(a->verdict, b->verdict);
	ck_assert_int_eq(a->decided_by, b->decided_by);
	if (a->decided_by >= 0) {
		ck_assert_ptr_eq(a->trace.items[0].rule, b->trace.items[0].rule);
		ck_assert_ptr_eq(a->trace.items[0].chain, b->trace.items[0].chain);
		ck_assert_int_eq(a->trace.items[0].action, b->trace.items[0].action);
	}
	ck_assert_str_eq(eval_result_reason(a), eval_result_reason(b));
	ck_assert_uint_eq(a->mark, b->mark);
	ck_assert_uint_eq(a->ct_mark, b->ct_mark);
	ck_assert_uint_eq(a->region.sport_lo, b->region.sport_lo);
	ck_assert_uint_eq(a->region.sport_hi, b->region.sport_hi);
	ck_assert_uint_eq(a->region.dport_lo, b->region.dport_lo);
	ck_assert_uint_eq(a->region.dport_hi, b->region.dport_hi);
	ck_assert_int_eq(a->region.l4proto, b->region.l4proto);
	ck_assert_uint_eq(a->region.ntests, b->region.ntests);
	for (unsigned i = 0; i < a->region.ntests; i++) {
		const struct eval_region_test *x = &a->region.tests[i], *y = &b->region.tests[i];

		ck_assert_ptr_eq(x->values, y->values);
		ck_assert_uint_eq(x->lo, y->lo);
		ck_assert_uint_eq(x->hi, y->hi);
		ck_assert_uint_eq(x->field, y->field);
		ck_assert_int_eq(x->in, y->in);
	}
}

/* Shared walks give each packet exactly what its own walk gives: on random rulesets (marks,
 * opaque matches, dnat, port sets, ipsets with ports) and on a CNI-like one with interface
 * dispatch, for batches that vary in addresses, interfaces, protocol and ports, with batches
 * interleaved. */
START_TEST(shared_walks_agree_with_full_walks)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMP };
	unsigned seed = 23;
	struct eval_memo_stats all = { 0 };

	for (int round = 0; round < 120; round++) {
		_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs =
			round % 4 == 3 ? cni_ruleset(round / 4 % 8) : random_ruleset(&seed, true);
		_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
		_cleanup_(eval_memo_freep) struct eval_memo *m = NULL;
		struct eval_result full = { 0 }, shared = { 0 };
		struct eval_memo_stats st;
		unsigned vary = EVAL_VARY_SADDR | EVAL_VARY_DADDR;

		if (round % 2)
			vary |= EVAL_VARY_IIF | EVAL_VARY_OIF;
		ck_assert_int_eq(eval_prepare(rs, &ctx), 0);
		ck_assert_int_eq(eval_memo_new(vary, &m), 0);
		for (int k = 0; k < 300; k++) {
			struct eval_packet p;
			char iif[IFNAMSIZ], oif[IFNAMSIZ];

			/* the fixed fields: a few batches, met again and again */
			snprintf(iif, sizeof(iif), "cali%u",
				 vary & EVAL_VARY_IIF ? rnd(&seed, 10) : 1);
			snprintf(oif, sizeof(oif), "cali%u",
				 vary & EVAL_VARY_OIF ? rnd(&seed, 10) : 2);
			pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "10.0.0.2", protos[rnd(&seed, 4)],
			    (uint16_t)rnd(&seed, 1100), iif, oif);
			p.mark = k % 50 < 45 ? 0 : 1u << rnd(&seed, 3);
			p.ct_state = k % 60 < 55 ? IR_CT_NEW : IR_CT_ESTABLISHED;
			p.saddr = np_v4(10u << 24 | rnd(&seed, 1 << 18));
			p.daddr = np_v4(10u << 24 | rnd(&seed, 1 << 18));
			p.sport = (uint16_t)rnd(&seed, 1100);
			p.icmp_type = (uint8_t)rnd(&seed, 9);
			ck_assert_int_eq(eval_packet(ctx, &p, false, &full), 0);
			ck_assert_int_eq(eval_packet_memo(ctx, m, &p, &shared), 0);
			same_result(&full, &shared);
		}
		eval_memo_get_stats(m, &st);
		all.walks += st.walks;
		all.shared += st.shared;
		all.full += st.full;
		all.batches += st.batches;
		eval_result_done(&full);
		eval_result_done(&shared);
	}
	/* the test saw every way: walks kept, verdicts shared, walks not shareable, batches */
	ck_assert_uint_gt(all.shared, 120 * 300 / 4);
	ck_assert_uint_gt(all.walks, 120 * 10);
	ck_assert_uint_gt(all.full, 100);
	ck_assert_uint_gt(all.batches, 120 * 4);
}
END_TEST

START_TEST(trace_json_and_actions)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct eval_result res = { 0 };
	struct eval_packet p;
	struct strbuf sb = { 0 };
	struct ir_table *t;
	struct ir_chain *c;
	struct ir_rule *r;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	t = table(rs, IR_SRC_IPTABLES_NFT, IR_FAMILY_IP, "filter");
	c = base(t, "FORWARD", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_ACCEPT);
	r = rule(c);
	r->handle = 7;
	match_num(r, IR_FIELD_L4PROTO, IPPROTO_TCP, IPPROTO_TCP);
	match_num(r, IR_FIELD_DPORT, 22, 22);
	verdict(r, IR_VERDICT_JUMP, "KUBE-FW");
	verdict(rule(chain(t, "KUBE-FW")), IR_VERDICT_DROP, NULL);

	ck_assert_int_eq(run(rs, FWD(&p, "10.0.0.1", "10.0.0.2", 22), &res), EVAL_DROP);
	ck_assert_int_eq(eval_trace_entry_json(&res.trace.items[0], &sb), 0);
	ck_assert_str_eq(strbuf_str(&sb),
			 "{\"source\":\"iptables-nft\",\"family\":\"ip\",\"table\":\"filter\","
			 "\"chain\":\"FORWARD\",\"base_chain\":\"FORWARD\",\"hook\":\"forward\","
			 "\"priority\":0,\"position\":1,\"handle\":7,"
			 "\"rule\":\"tcp dport 22 jump KUBE-FW\",\"action\":\"jump KUBE-FW\"}");
	strbuf_done(&sb);
	ck_assert_str_eq(eval_path_to_string(EVAL_PATH_INPUT), "input");
	ck_assert_int_eq(eval_path_from_string("output"), EVAL_PATH_OUTPUT);
	ck_assert_int_eq(eval_path_from_string("sideways"), -EINVAL);
	eval_result_done(&res);
}
END_TEST

static int fake_route(void *userdata, int family, np_u128 addr, char ret[IFNAMSIZ])
{
	snprintf(ret, IFNAMSIZ, "%s", addr == np_v4(0x0a000001) ? "cali1" : "eth0");
	return 0;
}

START_TEST(interfaces_from_routes)
{
	struct eval_packet p;

	pkt(&p, EVAL_PATH_FORWARD, "10.0.0.1", "8.8.8.8", IPPROTO_TCP, 53, NULL, NULL);
	ck_assert_int_eq(eval_packet_fill_interfaces(&p, fake_route, NULL), 0);
	ck_assert_str_eq(p.iif, "cali1");
	ck_assert_str_eq(p.oif, "eth0");
	pkt(&p, EVAL_PATH_INPUT, "8.8.8.8", "10.0.0.1", IPPROTO_TCP, 53, NULL, NULL);
	ck_assert_int_eq(eval_packet_fill_interfaces(&p, fake_route, NULL), 0);
	ck_assert_str_eq(p.iif, "eth0");
	ck_assert_str_eq(p.oif, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("eval");
	TCase *tc = tcase_create("eval");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, accept_ends_only_its_base_chain);
	tcase_add_test(tc, equal_priorities_keep_ruleset_order);
	tcase_add_test(tc, drop_across_sources_and_hooks);
	tcase_add_test(tc, jump_return_goto_and_policy);
	tcase_add_test(tc, return_in_base_chain_applies_policy);
	tcase_add_test(tc, marks_set_early_tested_later);
	tcase_add_test(tc, statement_before_predicate_runs_even_without_match);
	tcase_add_test(tc, ipsets_nomatch_lists_and_concatenations);
	tcase_add_test(tc, list_set_members_of_different_dimensions);
	tcase_add_test(tc, nft_interval_concatenation_and_vmap);
	tcase_add_test(tc, queue_is_unknown);
	tcase_add_test(tc, opaque_is_unknown_unless_irrelevant);
	tcase_add_test(tc, unknown_packet_fields_fork_too);
	tcase_add_test(tc, ipv6_and_inet);
	tcase_add_test(tc, interface_wildcards);
	tcase_add_test(tc, interface_dispatch_runs);
	tcase_add_test(tc, ruleset_change_scope);
	tcase_add_test(tc, interface_verdict_map);
	tcase_add_test(tc, netdev_chains_follow_their_device);
	tcase_add_test(tc, jump_loop_is_guarded);
	tcase_add_test(tc, deep_legacy_chains_are_fine);
	tcase_add_test(tc, unresolved_jump_is_unknown);
	tcase_add_test(tc, nat_chains_see_only_new);
	tcase_add_test(tc, ct_state_and_notrack);
	tcase_add_test(tc, boundaries_of_reachable_rules);
	tcase_add_test(tc, boundaries_follow_verdict_maps);
	tcase_add_test(tc, set_index_agrees_with_scan);
	tcase_add_test(tc, random_rulesets_classes_are_exact);
	tcase_add_test(tc, region_bounds);
	tcase_add_test(tc, random_rulesets_regions_hold);
	tcase_add_test(tc, shared_walks_agree_with_full_walks);
	tcase_add_test(tc, trace_json_and_actions);
	tcase_add_test(tc, interfaces_from_routes);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
