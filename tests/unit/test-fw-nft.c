/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The nftables reader on netlink messages built in memory with libnftnl (the way nft and
 * iptables-nft build them), fed to the parser one by one: register programs to predicates,
 * sets and their elements, verdict maps, statements, opaque fallbacks, table sources.
 */
#include <arpa/inet.h>
#include <check.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "fw/nft.h"

static char buf[1 << 16];
static uint32_t seq = 1;

static struct fw_nft_parser *parser(void)
{
	struct fw_nft_parser *p;

	ck_assert_int_eq(fw_nft_parser_new(NULL, &p), 0);
	return p;
}

static int feed_table(struct fw_nft_parser *p, uint16_t family, const char *name)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int r;

	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWTABLE, family, 0, seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	r = fw_nft_parser_feed(p, nlh);
	return r;
}

/* hook < 0: a regular chain */
static int feed_chain(struct fw_nft_parser *p, uint16_t family, const char *table, const char *name,
		      int hook, int prio, const char *type, uint32_t policy)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;
	int r;

	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (hook >= 0) {
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, policy);
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, family, 0, seq++);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	r = fw_nft_parser_feed(p, nlh);
	return r;
}

static struct nftnl_set *set_new(const char *table, const char *name, uint32_t flags,
				 uint32_t key_type, uint32_t key_len)
{
	struct nftnl_set *s = nftnl_set_alloc();

	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
	nftnl_set_set_u32(s, NFTNL_SET_ID, 1);
	return s;
}

static int feed_set(struct fw_nft_parser *p, uint16_t family, struct nftnl_set *s)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, family, 0, seq++);
	int r;

	nftnl_set_nlmsg_build_payload(nlh, s);
	r = fw_nft_parser_feed(p, nlh);
	return r;
}

/* Adds an element: key (key_len bytes), optional key_end, flags, verdict/chain or data. */
static void elem_add(struct nftnl_set *s, const void *key, size_t klen, const void *key_end,
		     uint32_t flags, int verdict, const char *chain, const void *data, size_t dlen)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)klen);
	if (key_end)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, key_end, (uint32_t)klen);
	if (flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
	if (chain)
		nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chain);
	if (verdict != INT32_MIN)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)verdict);
	if (data)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data, (uint32_t)dlen);
	nftnl_set_elem_add(s, e);
}

static int feed_elems(struct fw_nft_parser *p, uint16_t family, struct nftnl_set *s)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSETELEM, family, 0, seq++);

	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	return fw_nft_parser_feed(p, nlh);
}

/* --- expressions --- */

static struct nftnl_expr *payload(uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	return e;
}

static struct nftnl_expr *meta(uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	return e;
}

static struct nftnl_expr *meta_set(uint32_t key, uint32_t sreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, sreg);
	return e;
}

static struct nftnl_expr *ct(uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
	return e;
}

static struct nftnl_expr *cmp(uint32_t sreg, uint32_t op, const void *data, size_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, (uint32_t)len);
	return e;
}

static struct nftnl_expr *cmp_u32(uint32_t sreg, uint32_t op, uint32_t v)
{
	return cmp(sreg, op, &v, sizeof(v));
}

static struct nftnl_expr *cmp_u8(uint32_t sreg, uint32_t op, uint8_t v)
{
	return cmp(sreg, op, &v, 1);
}

static struct nftnl_expr *cmp_be16(uint32_t sreg, uint32_t op, uint16_t v)
{
	uint16_t n = htons(v);
	return cmp(sreg, op, &n, 2);
}

static struct nftnl_expr *range_be16(uint32_t sreg, uint32_t op, uint16_t lo, uint16_t hi)
{
	struct nftnl_expr *e = nftnl_expr_alloc("range");
	uint16_t a = htons(lo), b = htons(hi);

	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, &a, 2);
	nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, &b, 2);
	return e;
}

static struct nftnl_expr *bitwise(uint32_t reg, uint32_t len, const void *mask, const void *xr)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xr, len);
	return e;
}

static struct nftnl_expr *bitwise_u32(uint32_t reg, uint32_t mask, uint32_t xr)
{
	return bitwise(reg, 4, &mask, &xr);
}

static struct nftnl_expr *lookup(uint32_t sreg, const char *set, int dreg, uint32_t flags)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (dreg >= 0)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
	if (flags)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, flags);
	return e;
}

static struct nftnl_expr *verdict(int code, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)code);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	return e;
}

static struct nftnl_expr *imm_u32(uint32_t dreg, uint32_t v)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &v, sizeof(v));
	return e;
}

static struct nftnl_expr *counter(void)
{
	return nftnl_expr_alloc("counter");
}

/* Feeds a rule made of the NULL-terminated expressions; returns the parser's result. */
static int feed_rule_ud(struct fw_nft_parser *p, uint16_t family, const char *table,
			const char *chain, uint64_t handle, const void *udata, size_t udlen, ...)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	struct nftnl_expr *e;
	va_list ap;
	int k;

	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
	if (udata)
		nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, udata, (uint32_t)udlen);
	va_start(ap, udlen);
	while ((e = va_arg(ap, struct nftnl_expr *)))
		nftnl_rule_add_expr(r, e);
	va_end(ap);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, family, 0, seq++);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	k = fw_nft_parser_feed(p, nlh);
	return k;
}

#define feed_rule(p, family, table, chain, handle, ...) \
	feed_rule_ud(p, family, table, chain, handle, NULL, 0, __VA_ARGS__, NULL)

/* Finishes p into a new ruleset. */
static struct ir_ruleset *finish(struct fw_nft_parser *p)
{
	struct ir_ruleset *rs;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	ck_assert_int_eq(fw_nft_parser_finish(p, rs), 0);
	fw_nft_parser_free(p);
	return rs;
}

static struct ir_table *tab(struct ir_ruleset *rs, enum ir_source src, enum ir_family f,
			    const char *name)
{
	struct ir_table *t = ir_ruleset_find_table(rs, src, f, name);

	ck_assert_ptr_nonnull(t);
	return t;
}

static struct ir_rule *rule_at(struct ir_table *t, const char *chain, unsigned pos)
{
	struct ir_chain *c = ir_table_find_chain(t, chain);

	ck_assert_ptr_nonnull(c);
	ck_assert_uint_ge(c->rules.n, pos);
	return c->rules.items[pos - 1];
}

static np_u128 ip(const char *s)
{
	np_u128 v;

	ck_assert_int_gt(np_addr_parse(s, &v), 0);
	return v;
}

/* A standard inet table "t" with base chain "input" and regular chain "c1". */
static struct fw_nft_parser *inet_setup(void)
{
	struct fw_nft_parser *p = parser();

	ck_assert_int_eq(feed_table(p, NFPROTO_INET, "t"), 0);
	ck_assert_int_eq(
		feed_chain(p, NFPROTO_INET, "t", "input", NF_INET_LOCAL_IN, 0, "filter", NF_DROP),
		0);
	ck_assert_int_eq(feed_chain(p, NFPROTO_INET, "t", "c1", -1, 0, NULL, 0), 0);
	return p;
}

START_TEST(base_chains_and_tables)
{
	struct fw_nft_parser *p = inet_setup();
	struct ir_ruleset *rs;
	struct ir_chain *c;
	struct ir_table *t;

	ck_assert_int_eq(feed_table(p, NFPROTO_NETDEV, "nd"), 0);
	ck_assert_int_eq(feed_chain(p, NFPROTO_NETDEV, "nd", "in", 0, -500, "filter", NF_ACCEPT),
			 0);
	ck_assert_int_eq(feed_table(p, NFPROTO_ARP, "a"), 0);
	ck_assert_int_eq(feed_chain(p, NFPROTO_ARP, "a", "out", 1, 0, "filter", NF_ACCEPT), 0);
	ck_assert_int_eq(feed_chain(p, NFPROTO_IPV4, "nope", "x", -1, 0, NULL, 0), -ENOENT);
	ck_assert_int_eq(feed_table(p, NFPROTO_INET, "t"), -EBADMSG);
	rs = finish(p);

	t = tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "t");
	c = ir_table_find_chain(t, "input");
	ck_assert(c->base);
	ck_assert_int_eq(c->hook, IR_HOOK_INPUT);
	ck_assert_int_eq(c->policy, IR_VERDICT_DROP);
	ck_assert_int_eq(c->type, IR_CHAIN_FILTER);
	ck_assert(!ir_table_find_chain(t, "c1")->base);
	c = ir_table_find_chain(tab(rs, IR_SRC_NFT, IR_FAMILY_NETDEV, "nd"), "in");
	ck_assert_int_eq(c->hook, IR_HOOK_INGRESS);
	ck_assert_int_eq(c->priority, -500);
	c = ir_table_find_chain(tab(rs, IR_SRC_NFT, IR_FAMILY_ARP, "a"), "out");
	ck_assert_int_eq(c->hook, IR_HOOK_OUTPUT);
	ir_ruleset_free(rs);
}
END_TEST

START_TEST(saddr_cidr_from_mask_and_from_short_load)
{
	struct fw_nft_parser *p = parser();
	uint8_t net8 = 10, addr[4] = { 10, 16, 0, 0 }, mask[4] = { 255, 240, 0, 0 },
		zero[4] = { 0 };
	uint8_t daddr[4] = { 1, 2, 3, 4 };
	struct ir_ruleset *rs;
	struct ir_rule *r;
	struct ir_pred *pr;

	ck_assert_int_eq(feed_table(p, NFPROTO_IPV4, "f"), 0);
	ck_assert_int_eq(
		feed_chain(p, NFPROTO_IPV4, "f", "fwd", NF_INET_FORWARD, 0, "filter", NF_ACCEPT),
		0);
	/* nft: ip saddr 10.16.0.0/12 drop */
	ck_assert_int_eq(feed_rule(p, NFPROTO_IPV4, "f", "fwd", 2,
				   payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1),
				   bitwise(NFT_REG_1, 4, mask, zero),
				   cmp(NFT_REG_1, NFT_CMP_EQ, addr, 4), verdict(NF_DROP, NULL)),
			 0);
	/* iptables-nft: -s 10.0.0.0/8 ! -d 1.2.3.4: one byte loaded for the /8 */
	ck_assert_int_eq(feed_rule(p, NFPROTO_IPV4, "f", "fwd", 3,
				   payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 1, NFT_REG_1),
				   cmp(NFT_REG_1, NFT_CMP_EQ, &net8, 1),
				   payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4, NFT_REG_1),
				   cmp(NFT_REG_1, NFT_CMP_NEQ, daddr, 4), verdict(NF_ACCEPT, NULL)),
			 0);
	rs = finish(p);

	r = rule_at(tab(rs, IR_SRC_NFT, IR_FAMILY_IP, "f"), "fwd", 1);
	ck_assert_uint_eq(r->handle, 2);
	ck_assert_uint_eq(r->preds.n, 1);
	pr = &r->preds.items[0];
	ck_assert_int_eq(pr->kind, IR_PRED_MATCH);
	ck_assert_int_eq(pr->field, IR_FIELD_SADDR);
	ck_assert(!pr->negate);
	ck_assert(np_iset_contains(&pr->values, ip("10.16.0.0")));
	ck_assert(np_iset_contains(&pr->values, ip("10.31.255.255")));
	ck_assert(!np_iset_contains(&pr->values, ip("10.32.0.0")));
	ck_assert(!np_iset_contains(&pr->values, ip("10.15.255.255")));
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_DROP);

	r = rule_at(tab(rs, IR_SRC_NFT, IR_FAMILY_IP, "f"), "fwd", 2);
	ck_assert_uint_eq(r->preds.n, 2);
	pr = &r->preds.items[0];
	ck_assert_int_eq(pr->field, IR_FIELD_SADDR);
	ck_assert(np_iset_contains(&pr->values, ip("10.255.0.1")));
	ck_assert(!np_iset_contains(&pr->values, ip("11.0.0.0")));
	pr = &r->preds.items[1];
	ck_assert_int_eq(pr->field, IR_FIELD_DADDR);
	ck_assert(pr->negate);
	ck_assert(np_iset_contains(&pr->values, ip("1.2.3.4")));
	ck_assert_int_eq(np_iset_count(&pr->values), 1);
	ir_ruleset_free(rs);
}
END_TEST

START_TEST(ports_ranges_and_merged_loads)
{
	struct fw_nft_parser *p = inet_setup();
	uint8_t two = NFPROTO_IPV4, tcp = IPPROTO_TCP;
	uint8_t both[8] = { 1, 1, 1, 1, 2, 2, 2, 2 };
	struct ir_ruleset *rs;
	struct ir_table *t;
	struct ir_rule *r;

	/* meta l4proto tcp tcp dport 1000-2000 tcp sport < 1024 accept */
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 5, meta(NFT_META_L4PROTO, 1),
				   cmp_u8(1, NFT_CMP_EQ, tcp),
				   payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, 1),
				   range_be16(1, NFT_RANGE_EQ, 1000, 2000),
				   payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, 1),
				   cmp_be16(1, NFT_CMP_LT, 1024), verdict(NF_ACCEPT, NULL)),
			 0);
	/* meta nfproto ipv4 ip saddr 1.1.1.1 ip daddr 2.2.2.2: nft merges both into one load */
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 6, meta(NFT_META_NFPROTO, 1),
				   cmp_u8(1, NFT_CMP_EQ, two),
				   payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 8, 1),
				   cmp(1, NFT_CMP_EQ, both, 8), verdict(NF_ACCEPT, NULL)),
			 0);
	/* without `meta nfproto`, an inet network header load means nothing we know */
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 7,
				   payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, 1),
				   cmp(1, NFT_CMP_EQ, both, 4), verdict(NF_ACCEPT, NULL)),
			 0);
	rs = finish(p);
	t = tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "t");

	r = rule_at(t, "input", 1);
	ck_assert_uint_eq(r->preds.n, 3);
	ck_assert_int_eq(r->preds.items[0].field, IR_FIELD_L4PROTO);
	ck_assert(np_iset_contains(&r->preds.items[0].values, IPPROTO_TCP));
	ck_assert_int_eq(r->preds.items[1].field, IR_FIELD_DPORT);
	ck_assert(np_iset_contains(&r->preds.items[1].values, 1000));
	ck_assert(np_iset_contains(&r->preds.items[1].values, 2000));
	ck_assert(!np_iset_contains(&r->preds.items[1].values, 999));
	ck_assert(!np_iset_contains(&r->preds.items[1].values, 2001));
	ck_assert_int_eq(r->preds.items[2].field, IR_FIELD_SPORT);
	ck_assert(np_iset_contains(&r->preds.items[2].values, 1023));
	ck_assert(!np_iset_contains(&r->preds.items[2].values, 1024));

	r = rule_at(t, "input", 2);
	ck_assert_uint_eq(r->preds.n, 3);
	ck_assert_int_eq(r->preds.items[1].field, IR_FIELD_SADDR);
	ck_assert(np_iset_contains(&r->preds.items[1].values, ip("1.1.1.1")));
	ck_assert_int_eq(r->preds.items[2].field, IR_FIELD_DADDR);
	ck_assert(np_iset_contains(&r->preds.items[2].values, ip("2.2.2.2")));

	r = rule_at(t, "input", 3);
	ck_assert_uint_eq(r->preds.n, 1);
	ck_assert_int_eq(r->preds.items[0].kind, IR_PRED_OPAQUE);
	ck_assert_ptr_nonnull(strstr(r->preds.items[0].text, "network header"));
	ck_assert(ir_rule_is_opaque(r));
	ir_ruleset_free(rs);
}
END_TEST

START_TEST(interval_set_lookup_inverted)
{
	struct fw_nft_parser *p = inet_setup();
	struct nftnl_set *s = set_new("t", "s4", NFT_SET_INTERVAL, 7 /* ipv4_addr */, 4);
	uint8_t two = NFPROTO_IPV4;
	uint8_t k0[4] = { 0, 0, 0, 0 }, k1[4] = { 10, 0, 0, 0 }, k2[4] = { 11, 0, 0, 0 },
		k3[4] = { 192, 168, 1, 1 }, k4[4] = { 192, 168, 1, 2 }, k5[4] = { 240, 0, 0, 0 };
	struct ir_ruleset *rs;
	struct ir_table *t;
	struct ir_set *is;
	struct ir_rule *r;

	ck_assert_int_eq(feed_set(p, NFPROTO_INET, s), 0);
	/* as the kernel dumps them: descending, with the 0.0.0.0 end sentinel; the last range
	 * (240.0.0.0/4) has no end element */
	elem_add(s, k5, 4, NULL, 0, INT32_MIN, NULL, NULL, 0);
	elem_add(s, k4, 4, NULL, NFT_SET_ELEM_INTERVAL_END, INT32_MIN, NULL, NULL, 0);
	elem_add(s, k3, 4, NULL, 0, INT32_MIN, NULL, NULL, 0);
	elem_add(s, k2, 4, NULL, NFT_SET_ELEM_INTERVAL_END, INT32_MIN, NULL, NULL, 0);
	elem_add(s, k1, 4, NULL, 0, INT32_MIN, NULL, NULL, 0);
	elem_add(s, k0, 4, NULL, NFT_SET_ELEM_INTERVAL_END, INT32_MIN, NULL, NULL, 0);
	ck_assert_int_eq(feed_elems(p, NFPROTO_INET, s), 0);
	nftnl_set_free(s);

	/* meta nfproto ipv4 ip saddr != @s4 drop */
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 9, meta(NFT_META_NFPROTO, 1),
				   cmp_u8(1, NFT_CMP_EQ, two),
				   payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, 1),
				   lookup(1, "s4", -1, NFT_LOOKUP_F_INV), verdict(NF_DROP, NULL)),
			 0);
	rs = finish(p);
	t = tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "t");
	is = ir_table_find_set(t, "s4");
	ck_assert_ptr_nonnull(is);
	ck_assert(is->flags & IR_SET_INTERVAL);
	ck_assert_int_eq(is->family, AF_INET);
	ck_assert_uint_eq(is->nkey, 1);
	ck_assert_int_eq(is->keytype[0], IR_KEY_ADDR);
	ck_assert_uint_eq(is->elems.n, 3);
	ck_assert(is->elems.items[0].key[0].lo == ip("10.0.0.0"));
	ck_assert(is->elems.items[0].key[0].hi == ip("10.255.255.255"));
	ck_assert(is->elems.items[1].key[0].lo == ip("192.168.1.1"));
	ck_assert(is->elems.items[1].key[0].hi == ip("192.168.1.1"));
	ck_assert(is->elems.items[2].key[0].lo == ip("240.0.0.0"));
	ck_assert(is->elems.items[2].key[0].hi == ip("255.255.255.255"));

	r = rule_at(t, "input", 1);
	ck_assert_uint_eq(r->preds.n, 2);
	ck_assert_int_eq(r->preds.items[1].kind, IR_PRED_LOOKUP);
	ck_assert(r->preds.items[1].negate);
	ck_assert_str_eq(r->preds.items[1].ref.name, "s4");
	ck_assert_uint_eq(r->preds.items[1].ref.nkey, 1);
	ck_assert_int_eq(r->preds.items[1].ref.key[0], IR_FIELD_SADDR);
	ir_ruleset_free(rs);
}
END_TEST

START_TEST(concatenated_ranges)
{
	struct fw_nft_parser *p = inet_setup();
	/* ipv4_addr . inet_service, interval: pipapo elements with key and key end */
	struct nftnl_set *s =
		set_new("t", "cc", NFT_SET_INTERVAL | NFT_SET_CONCAT, (7u << 6) | 13u, 8);
	uint8_t lo[8] = { 10, 0, 0, 0, 0, 80, 0, 0 }, hi[8] = { 10, 0, 0, 255, 0, 90, 0, 0 };
	uint8_t one[8] = { 1, 2, 3, 4, 0, 22, 0, 0 };
	uint8_t two = NFPROTO_IPV4, tcp = IPPROTO_TCP, fl[2] = { 4, 2 };
	struct ir_ruleset *rs;
	struct ir_set *is;
	struct ir_rule *r;

	nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, fl, sizeof(fl));
	ck_assert_int_eq(feed_set(p, NFPROTO_INET, s), 0);
	elem_add(s, lo, 8, hi, 0, INT32_MIN, NULL, NULL, 0);
	elem_add(s, one, 8, one, 0, INT32_MIN, NULL, NULL, 0);
	ck_assert_int_eq(feed_elems(p, NFPROTO_INET, s), 0);
	nftnl_set_free(s);

	/* ip saddr . tcp dport @cc accept: the port goes to the next 32-bit register */
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 10, meta(NFT_META_NFPROTO, 1),
				   cmp_u8(1, NFT_CMP_EQ, two), meta(NFT_META_L4PROTO, 1),
				   cmp_u8(1, NFT_CMP_EQ, tcp),
				   payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1),
				   payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_01),
				   lookup(NFT_REG_1, "cc", -1, 0), verdict(NF_ACCEPT, NULL)),
			 0);
	rs = finish(p);
	is = ir_table_find_set(tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "t"), "cc");
	ck_assert_uint_eq(is->nkey, 2);
	ck_assert_int_eq(is->keytype[0], IR_KEY_ADDR);
	ck_assert_int_eq(is->keytype[1], IR_KEY_NUM);
	ck_assert_uint_eq(is->elems.n, 2);
	ck_assert(is->elems.items[0].key[0].lo == ip("10.0.0.0"));
	ck_assert(is->elems.items[0].key[0].hi == ip("10.0.0.255"));
	ck_assert(is->elems.items[0].key[1].lo == 80);
	ck_assert(is->elems.items[0].key[1].hi == 90);
	ck_assert(is->elems.items[1].key[1].lo == 22);
	ck_assert(is->elems.items[1].key[1].hi == 22);

	r = rule_at(tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "t"), "input", 1);
	ck_assert_uint_eq(r->preds.n, 3);
	ck_assert_int_eq(r->preds.items[2].kind, IR_PRED_LOOKUP);
	ck_assert_uint_eq(r->preds.items[2].ref.nkey, 2);
	ck_assert_int_eq(r->preds.items[2].ref.key[0], IR_FIELD_SADDR);
	ck_assert_int_eq(r->preds.items[2].ref.key[1], IR_FIELD_DPORT);
	ir_ruleset_free(rs);
}
END_TEST

START_TEST(verdict_map_and_jumps)
{
	struct fw_nft_parser *p = inet_setup();
	struct nftnl_set *s = set_new("t", "vm", NFT_SET_MAP, 7, 4);
	uint8_t two = NFPROTO_IPV4, a1[4] = { 10, 0, 0, 1 }, a2[4] = { 10, 0, 0, 2 };
	struct ir_ruleset *rs;
	struct ir_table *t;
	struct ir_set *is;
	struct ir_rule *r;

	nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 0);
	ck_assert_int_eq(feed_set(p, NFPROTO_INET, s), 0);
	elem_add(s, a1, 4, NULL, 0, NF_ACCEPT, NULL, NULL, 0);
	elem_add(s, a2, 4, NULL, 0, NFT_JUMP, "c1", NULL, 0);
	ck_assert_int_eq(feed_elems(p, NFPROTO_INET, s), 0);
	nftnl_set_free(s);

	/* ip saddr vmap @vm */
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 11, meta(NFT_META_NFPROTO, 1),
				   cmp_u8(1, NFT_CMP_EQ, two),
				   payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, 1),
				   lookup(1, "vm", NFT_REG_VERDICT, 0)),
			 0);
	/* counter jump c1; goto c1 */
	ck_assert_int_eq(
		feed_rule(p, NFPROTO_INET, "t", "input", 12, counter(), verdict(NFT_JUMP, "c1")),
		0);
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "c1", 13, verdict(NFT_GOTO, "input")), 0);
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "c1", 14, verdict(NFT_RETURN, NULL)), 0);
	rs = finish(p);
	t = tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "t");
	is = ir_table_find_set(t, "vm");
	ck_assert(is->flags & IR_SET_VMAP);
	ck_assert_uint_eq(is->elems.n, 2);
	ck_assert_int_eq(is->elems.items[0].verdict.kind, IR_VERDICT_ACCEPT);
	ck_assert_int_eq(is->elems.items[1].verdict.kind, IR_VERDICT_JUMP);
	ck_assert_str_eq(is->elems.items[1].verdict.chain, "c1");

	r = rule_at(t, "input", 1);
	ck_assert_uint_eq(r->stmts.n, 1);
	ck_assert_int_eq(r->stmts.items[0].kind, IR_STMT_VMAP);
	ck_assert_uint_eq(r->stmts.items[0].after, 1);
	ck_assert_str_eq(r->stmts.items[0].ref.name, "vm");
	ck_assert_int_eq(r->stmts.items[0].ref.key[0], IR_FIELD_SADDR);
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_CONTINUE);

	r = rule_at(t, "input", 2);
	ck_assert_int_eq(r->stmts.items[0].kind, IR_STMT_COUNTER);
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_JUMP);
	ck_assert_str_eq(r->verdict.chain, "c1");
	ck_assert_int_eq(rule_at(t, "c1", 1)->verdict.kind, IR_VERDICT_GOTO);
	ck_assert_int_eq(rule_at(t, "c1", 2)->verdict.kind, IR_VERDICT_RETURN);
	ck_assert_int_eq(ir_ruleset_link(rs), 0);
	ir_ruleset_free(rs);
}
END_TEST

START_TEST(ct_state_marks_and_interfaces)
{
	struct fw_nft_parser *p = inet_setup();
	struct ir_ruleset *rs;
	struct ir_table *t;
	struct ir_rule *r;
	char veth[4] = { 'v', 'e', 't', 'h' }, eth0[16] = "eth0";

	/* ct state established,related accept */
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 20, ct(NFT_CT_STATE, 1),
				   bitwise_u32(1, 0x6, 0), cmp_u32(1, NFT_CMP_NEQ, 0),
				   verdict(NF_ACCEPT, NULL)),
			 0);
	/* ct state invalid drop written as a plain compare */
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 21, ct(NFT_CT_STATE, 1),
				   cmp_u32(1, NFT_CMP_EQ, 0x1), verdict(NF_DROP, NULL)),
			 0);
	/* meta mark & 0xff00 == 0x100 meta mark set 0x10 ct mark set meta mark */
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 22, meta(NFT_META_MARK, 1),
				   bitwise_u32(1, 0xff00, 0), cmp_u32(1, NFT_CMP_EQ, 0x100),
				   imm_u32(1, 0x10), meta_set(NFT_META_MARK, 1),
				   meta(NFT_META_MARK, 1), bitwise_u32(1, 0xffffffef, 0x10),
				   meta_set(NFT_META_MARK, 1), meta(NFT_META_MARK, 2), ({
					   struct nftnl_expr *e = nftnl_expr_alloc("ct");
					   nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_MARK);
					   nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, 2);
					   e;
				   })),
			 0);
	/* iifname "veth*" oifname != "eth0" accept */
	ck_assert_int_eq(
		feed_rule(p, NFPROTO_INET, "t", "input", 23, meta(NFT_META_IIFNAME, 1),
			  cmp(1, NFT_CMP_EQ, veth, sizeof(veth)), meta(NFT_META_OIFNAME, 1),
			  cmp(1, NFT_CMP_NEQ, eth0, sizeof(eth0)), verdict(NF_ACCEPT, NULL)),
		0);
	rs = finish(p);
	t = tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "t");

	r = rule_at(t, "input", 1);
	ck_assert_uint_eq(r->preds.n, 1);
	ck_assert_int_eq(r->preds.items[0].kind, IR_PRED_BITS);
	ck_assert_int_eq(r->preds.items[0].field, IR_FIELD_CT_STATE);
	ck_assert_uint_eq(r->preds.items[0].bits, IR_CT_ESTABLISHED | IR_CT_RELATED);
	ck_assert(!r->preds.items[0].negate);

	r = rule_at(t, "input", 2);
	ck_assert_int_eq(r->preds.items[0].kind, IR_PRED_BITS);
	ck_assert_uint_eq(r->preds.items[0].bits, IR_CT_INVALID);

	r = rule_at(t, "input", 3);
	ck_assert_uint_eq(r->preds.n, 1);
	ck_assert_int_eq(r->preds.items[0].field, IR_FIELD_META_MARK);
	ck_assert(r->preds.items[0].masked);
	ck_assert_uint_eq(r->preds.items[0].mask, 0xff00);
	ck_assert(np_iset_contains(&r->preds.items[0].values, 0x100));
	ck_assert_uint_eq(r->stmts.n, 3);
	/* meta mark set 0x10 */
	ck_assert_int_eq(r->stmts.items[0].kind, IR_STMT_MARK);
	ck_assert_int_eq(r->stmts.items[0].mark_dst, IR_FIELD_META_MARK);
	ck_assert_uint_eq(r->stmts.items[0].mark_clear, UINT32_MAX);
	ck_assert_uint_eq(r->stmts.items[0].mark_xor, 0x10);
	/* meta mark set meta mark | 0x10 */
	ck_assert_int_eq(r->stmts.items[1].kind, IR_STMT_MARK);
	ck_assert_uint_eq(r->stmts.items[1].mark_clear, 0x10);
	ck_assert_uint_eq(r->stmts.items[1].mark_xor, 0x10);
	ck_assert_int_eq(r->stmts.items[1].mark_src, IR_FIELD_NONE);
	/* ct mark set meta mark */
	ck_assert_int_eq(r->stmts.items[2].kind, IR_STMT_MARK);
	ck_assert_int_eq(r->stmts.items[2].mark_dst, IR_FIELD_CT_MARK);
	ck_assert_int_eq(r->stmts.items[2].mark_src, IR_FIELD_META_MARK);
	ck_assert_uint_eq(r->stmts.items[2].mark_src_mask, UINT32_MAX);
	ck_assert_uint_eq(r->stmts.items[2].after, 1);

	r = rule_at(t, "input", 4);
	ck_assert_uint_eq(r->preds.n, 2);
	ck_assert_int_eq(r->preds.items[0].field, IR_FIELD_IIFNAME);
	ck_assert_uint_eq(r->preds.items[0].ifnames.n, 1);
	ck_assert_str_eq(r->preds.items[0].ifnames.items[0].name, "veth");
	ck_assert(r->preds.items[0].ifnames.items[0].prefix);
	ck_assert_int_eq(r->preds.items[1].field, IR_FIELD_OIFNAME);
	ck_assert(r->preds.items[1].negate);
	ck_assert_str_eq(r->preds.items[1].ifnames.items[0].name, "eth0");
	ck_assert(!r->preds.items[1].ifnames.items[0].prefix);
	ir_ruleset_free(rs);
}
END_TEST

START_TEST(unknown_expressions_are_opaque_in_place)
{
	struct fw_nft_parser *p = inet_setup();
	struct ir_ruleset *rs;
	struct ir_table *t;
	struct ir_rule *r;
	struct nftnl_expr *rt, *dup;

	/* rt nexthop == 1.2.3.4 accept: a load we do not model, then a compare on it */
	rt = nftnl_expr_alloc("rt");
	nftnl_expr_set_u32(rt, NFTNL_EXPR_RT_KEY, 2);
	nftnl_expr_set_u32(rt, NFTNL_EXPR_RT_DREG, 1);
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 30, meta(NFT_META_L4PROTO, 1),
				   cmp_u8(1, NFT_CMP_EQ, IPPROTO_UDP), rt,
				   cmp_u32(1, NFT_CMP_EQ, 0x04030201), verdict(NF_ACCEPT, NULL)),
			 0);
	/* a statement we do not model keeps its place */
	dup = nftnl_expr_alloc("dup");
	nftnl_expr_set_u32(dup, NFTNL_EXPR_DUP_SREG_ADDR, 1);
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 31, counter(), dup,
				   verdict(NF_DROP, NULL)),
			 0);
	/* a compare on a register nothing loaded */
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 32,
				   cmp_u32(NFT_REG32_05, NFT_CMP_EQ, 1), verdict(NF_DROP, NULL)),
			 0);
	rs = finish(p);
	t = tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "t");

	r = rule_at(t, "input", 1);
	ck_assert_uint_eq(r->preds.n, 2);
	ck_assert_int_eq(r->preds.items[0].kind, IR_PRED_MATCH);
	ck_assert_int_eq(r->preds.items[1].kind, IR_PRED_OPAQUE);
	ck_assert_ptr_nonnull(strstr(r->preds.items[1].text, "rt"));
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_ACCEPT);

	r = rule_at(t, "input", 2);
	ck_assert_uint_eq(r->stmts.n, 2);
	ck_assert_int_eq(r->stmts.items[0].kind, IR_STMT_COUNTER);
	ck_assert_int_eq(r->stmts.items[1].kind, IR_STMT_OPAQUE);
	ck_assert_ptr_nonnull(strstr(r->stmts.items[1].text, "dup"));
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_DROP);

	r = rule_at(t, "input", 3);
	ck_assert_int_eq(r->preds.items[0].kind, IR_PRED_OPAQUE);
	ck_assert_ptr_nonnull(strstr(r->preds.items[0].text, "not loaded"));
	ir_ruleset_free(rs);
}
END_TEST

START_TEST(undecodable_set_makes_lookups_opaque)
{
	struct fw_nft_parser *p = inet_setup();
	struct nftnl_set *s = set_new("t", "odd", 0, 4 /* integer */, 3);
	uint8_t k[5] = { 1, 2, 3, 4, 5 }, two = NFPROTO_IPV4;
	struct ir_ruleset *rs;
	struct ir_rule *r;

	ck_assert_int_eq(feed_set(p, NFPROTO_INET, s), 0);
	/* an element whose key has the wrong size */
	elem_add(s, k, 5, NULL, 0, INT32_MIN, NULL, NULL, 0);
	ck_assert_int_eq(feed_elems(p, NFPROTO_INET, s), 0);
	nftnl_set_free(s);
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 40, meta(NFT_META_NFPROTO, 1),
				   cmp_u8(1, NFT_CMP_EQ, two),
				   payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 3, 1),
				   lookup(1, "odd", -1, 0), verdict(NF_ACCEPT, NULL)),
			 0);
	rs = finish(p);
	r = rule_at(tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "t"), "input", 1);
	ck_assert_int_eq(r->preds.items[r->preds.n - 1].kind, IR_PRED_OPAQUE);
	ck_assert(ir_rule_is_opaque(r));
	ir_ruleset_free(rs);
}
END_TEST

START_TEST(iptables_nft_tables_are_recognised)
{
	struct fw_nft_parser *p = parser();
	struct ir_ruleset *rs;
	struct nftnl_expr *mt;
	struct nftnl_udata_buf *ud;

	/* ip filter with iptables' built-in chain names and a compat match */
	ck_assert_int_eq(feed_table(p, NFPROTO_IPV4, "filter"), 0);
	ck_assert_int_eq(feed_chain(p, NFPROTO_IPV4, "filter", "INPUT", NF_INET_LOCAL_IN, 0,
				    "filter", NF_ACCEPT),
			 0);
	mt = nftnl_expr_alloc("match");
	nftnl_expr_set_str(mt, NFTNL_EXPR_MT_NAME, "nosuchmatch");
	nftnl_expr_set_u32(mt, NFTNL_EXPR_MT_REV, 0);
	/* libnftnl takes the info buffer */
	nftnl_expr_set(mt, NFTNL_EXPR_MT_INFO, calloc(1, 32), 32);
	ck_assert_int_eq(feed_rule(p, NFPROTO_IPV4, "filter", "INPUT", 2, mt, counter(),
				   verdict(NF_ACCEPT, NULL)),
			 0);
	/* ip6 filter of iptables-nft without rules: built-in names decide */
	ck_assert_int_eq(feed_table(p, NFPROTO_IPV6, "filter"), 0);
	ck_assert_int_eq(feed_chain(p, NFPROTO_IPV6, "filter", "FORWARD", NF_INET_FORWARD, 0,
				    "filter", NF_DROP),
			 0);
	/* a native table that happens to be called filter */
	ck_assert_int_eq(feed_table(p, NFPROTO_IPV4, "nat"), 0);
	ck_assert_int_eq(feed_chain(p, NFPROTO_IPV4, "nat", "postrouting", NF_INET_POST_ROUTING,
				    100, "nat", NF_ACCEPT),
			 0);
	/* a comment in the rule userdata */
	ck_assert_int_eq(feed_table(p, NFPROTO_INET, "fw"), 0);
	ck_assert_int_eq(feed_chain(p, NFPROTO_INET, "fw", "c", -1, 0, NULL, 0), 0);
	ud = nftnl_udata_buf_alloc(128);
	nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, "allow dns");
	ck_assert_int_eq(feed_rule_ud(p, NFPROTO_INET, "fw", "c", 3, nftnl_udata_buf_data(ud),
				      nftnl_udata_buf_len(ud), verdict(NF_ACCEPT, NULL), NULL),
			 0);
	nftnl_udata_buf_free(ud);
	rs = finish(p);

	ck_assert_ptr_nonnull(
		ir_ruleset_find_table(rs, IR_SRC_IPTABLES_NFT, IR_FAMILY_IP, "filter"));
	ck_assert_ptr_nonnull(
		ir_ruleset_find_table(rs, IR_SRC_IPTABLES_NFT, IR_FAMILY_IP6, "filter"));
	ck_assert_ptr_nonnull(ir_ruleset_find_table(rs, IR_SRC_NFT, IR_FAMILY_IP, "nat"));
	ck_assert_str_eq(rule_at(tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "fw"), "c", 1)->comment,
			 "allow dns");
	/* the unknown xtables match is not dropped */
	ck_assert(rule_at(tab(rs, IR_SRC_IPTABLES_NFT, IR_FAMILY_IP, "filter"), "INPUT", 1)
			  ->preds.n >= 1);
	ck_assert(ir_rule_is_opaque(
		rule_at(tab(rs, IR_SRC_IPTABLES_NFT, IR_FAMILY_IP, "filter"), "INPUT", 1)));
	ir_ruleset_free(rs);
}
END_TEST

START_TEST(malformed_and_out_of_order_messages)
{
	struct fw_nft_parser *p = inet_setup();
	struct nftnl_set *s = set_new("t", "missing", 0, 7, 4);
	uint8_t k[4] = { 1, 2, 3, 4 };
	struct nlmsghdr *nlh;

	/* elements of a set never announced */
	elem_add(s, k, 4, NULL, 0, INT32_MIN, NULL, NULL, 0);
	ck_assert_int_eq(feed_elems(p, NFPROTO_INET, s), -ENOENT);
	nftnl_set_free(s);
	/* a rule in an unknown chain */
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "nochain", 1, verdict(NF_DROP, NULL)),
			 -ENOENT);
	/* truncated header */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWTABLE, NFPROTO_INET, 0, seq++);
	nlh->nlmsg_len = sizeof(*nlh);
	ck_assert_int_eq(fw_nft_parser_feed(p, nlh), -EBADMSG);
	/* another subsystem */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWTABLE, NFPROTO_INET, 0, seq++);
	nlh->nlmsg_type = (NFNL_SUBSYS_IPSET << 8) | 1;
	ck_assert_int_eq(fw_nft_parser_feed(p, nlh), -EOPNOTSUPP);
	/* the parser stays usable */
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 2, verdict(NF_DROP, NULL)), 0);
	ir_ruleset_free(finish(p));
}
END_TEST

START_TEST(statements_nat_queue_reject_and_data_maps)
{
	struct fw_nft_parser *p = inet_setup();
	struct nftnl_set *s = set_new("t", "mm", NFT_SET_MAP, 13 /* inet_service */, 2);
	struct nftnl_expr *nat, *q, *lk;
	uint8_t tcp = IPPROTO_TCP, port[2] = { 0, 80 };
	uint32_t mark = 0x10, addr = htonl(0x0a010101), p8080 = htons(8080);
	struct ir_ruleset *rs;
	struct ir_table *t;
	struct ir_rule *r;

	nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, 19 /* mark */);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 4);
	ck_assert_int_eq(feed_set(p, NFPROTO_INET, s), 0);
	elem_add(s, port, 2, NULL, 0, INT32_MIN, NULL, &mark, sizeof(mark));
	ck_assert_int_eq(feed_elems(p, NFPROTO_INET, s), 0);
	nftnl_set_free(s);

	/* tcp dport 80 dnat ip to 10.1.1.1:8080 */
	nat = nftnl_expr_alloc("nat");
	nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
	nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
	nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 50, meta(NFT_META_L4PROTO, 1),
				   cmp_u8(1, NFT_CMP_EQ, tcp),
				   payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, 1),
				   cmp_be16(1, NFT_CMP_EQ, 80), imm_u32(NFT_REG_1, addr),
				   imm_u32(NFT_REG_2, p8080), nat),
			 0);
	/* queue num 3-4 bypass */
	q = nftnl_expr_alloc("queue");
	nftnl_expr_set_u16(q, NFTNL_EXPR_QUEUE_NUM, 3);
	nftnl_expr_set_u16(q, NFTNL_EXPR_QUEUE_TOTAL, 2);
	nftnl_expr_set_u16(q, NFTNL_EXPR_QUEUE_FLAGS, NFT_QUEUE_FLAG_BYPASS);
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 51, q), 0);
	/* reject */
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 52, nftnl_expr_alloc("reject")),
			 0);
	/* meta mark set tcp dport map @mm: a value the IR cannot hold */
	lk = lookup(1, "mm", NFT_REG_1, 0);
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 53, meta(NFT_META_L4PROTO, 1),
				   cmp_u8(1, NFT_CMP_EQ, tcp),
				   payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, 1), lk,
				   meta_set(NFT_META_MARK, 1)),
			 0);
	rs = finish(p);
	t = tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "t");

	ck_assert_uint_eq(ir_table_find_set(t, "mm")->elems.n, 1);
	ck_assert(ir_table_find_set(t, "mm")->elems.items[0].data == 0x10);

	r = rule_at(t, "input", 1);
	ck_assert_uint_eq(r->stmts.n, 1);
	ck_assert_int_eq(r->stmts.items[0].kind, IR_STMT_NAT);
	ck_assert_int_eq(r->stmts.items[0].nat, IR_NAT_DNAT);
	ck_assert(r->stmts.items[0].nat_has_addr);
	ck_assert(r->stmts.items[0].nat_addr_lo == ip("10.1.1.1"));
	ck_assert(r->stmts.items[0].nat_has_port);
	ck_assert_uint_eq(r->stmts.items[0].nat_port_lo, 8080);
	ck_assert_str_eq(r->stmts.items[0].text, "dnat to 10.1.1.1:8080");

	r = rule_at(t, "input", 2);
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_QUEUE);
	ck_assert_uint_eq(r->verdict.queue_num, 3);
	ck_assert_uint_eq(r->verdict.queue_last, 4);
	ck_assert(r->verdict.queue_bypass);
	ck_assert_int_eq(rule_at(t, "input", 3)->verdict.kind, IR_VERDICT_REJECT);

	r = rule_at(t, "input", 4);
	ck_assert_uint_eq(r->stmts.n, 1);
	ck_assert_int_eq(r->stmts.items[0].kind, IR_STMT_OPAQUE);
	ck_assert_ptr_nonnull(strstr(r->stmts.items[0].text, "mm"));
	ir_ruleset_free(rs);
}
END_TEST

START_TEST(interface_name_intervals_and_catchall)
{
	struct fw_nft_parser *p = inet_setup();
	struct nftnl_set *s = set_new("t", "ifs", NFT_SET_INTERVAL | NFT_SET_ANONYMOUS, 41, 16);
	struct nftnl_set *v = set_new("t", "cv", NFT_SET_MAP, 7, 4);
	char lo[16] = "veth", hi[16] = "veti", ex[16] = "lo", ex1[16] = "lo";
	uint8_t any[4] = { 0 };
	struct ir_ruleset *rs;
	struct ir_table *t;
	struct ir_set *is;
	struct ir_rule *r;

	/* iifname { "veth*", "lo" }: "veth" .. "veti" (exclusive) and "lo" .. "lo\0...\1" */
	ex1[15] = 1;
	ck_assert_int_eq(feed_set(p, NFPROTO_INET, s), 0);
	elem_add(s, lo, 16, NULL, 0, INT32_MIN, NULL, NULL, 0);
	elem_add(s, hi, 16, NULL, NFT_SET_ELEM_INTERVAL_END, INT32_MIN, NULL, NULL, 0);
	elem_add(s, ex, 16, NULL, 0, INT32_MIN, NULL, NULL, 0);
	elem_add(s, ex1, 16, NULL, NFT_SET_ELEM_INTERVAL_END, INT32_MIN, NULL, NULL, 0);
	ck_assert_int_eq(feed_elems(p, NFPROTO_INET, s), 0);
	nftnl_set_free(s);
	/* a verdict map with a catch-all element: not representable, lookups become opaque */
	nftnl_set_set_u32(v, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
	ck_assert_int_eq(feed_set(p, NFPROTO_INET, v), 0);
	elem_add(v, any, 4, NULL, NFT_SET_ELEM_CATCHALL, NF_DROP, NULL, NULL, 0);
	ck_assert_int_eq(feed_elems(p, NFPROTO_INET, v), 0);
	nftnl_set_free(v);

	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 60, meta(NFT_META_IIFNAME, 1),
				   lookup(1, "ifs", -1, 0), verdict(NF_ACCEPT, NULL)),
			 0);
	ck_assert_int_eq(feed_rule(p, NFPROTO_INET, "t", "input", 61, meta(NFT_META_NFPROTO, 1),
				   cmp_u8(1, NFT_CMP_EQ, NFPROTO_IPV4),
				   payload(NFT_PAYLOAD_NETWORK_HEADER, 12, 4, 1),
				   lookup(1, "cv", NFT_REG_VERDICT, 0)),
			 0);
	rs = finish(p);
	t = tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "t");
	is = ir_table_find_set(t, "ifs");
	ck_assert_int_eq(is->keytype[0], IR_KEY_IFNAME);
	ck_assert_uint_eq(is->elems.n, 2);
	ck_assert_str_eq(is->elems.items[0].key[0].ifname, "lo");
	ck_assert(!is->elems.items[0].key[0].prefix);
	ck_assert_str_eq(is->elems.items[1].key[0].ifname, "veth");
	ck_assert(is->elems.items[1].key[0].prefix);
	r = rule_at(t, "input", 1);
	ck_assert_int_eq(r->preds.items[0].kind, IR_PRED_LOOKUP);
	ck_assert_int_eq(r->preds.items[0].ref.key[0], IR_FIELD_IIFNAME);

	r = rule_at(t, "input", 2);
	ck_assert_uint_eq(r->stmts.n, 1);
	ck_assert_int_eq(r->stmts.items[0].kind, IR_STMT_OPAQUE);
	ck_assert_ptr_nonnull(strstr(r->stmts.items[0].text, "catch-all"));
	ir_ruleset_free(rs);
}
END_TEST

START_TEST(malformed_expressions_keep_the_rule)
{
	struct fw_nft_parser *p = inet_setup();
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, 0, seq++);
	struct nlattr *list, *el;
	struct ir_ruleset *rs;
	struct ir_rule *r;

	/* an expression list whose second element has no name */
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "t");
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "c1");
	list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "counter");
	mnl_attr_nest_end(nlh, el);
	el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put_u32(nlh, NFTA_EXPR_DATA, 0);
	mnl_attr_nest_end(nlh, el);
	mnl_attr_nest_end(nlh, list);
	ck_assert_int_eq(fw_nft_parser_feed(p, nlh), 0);
	/* an expression the reader has never heard of, then a verdict */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, 0, seq++);
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "t");
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "c1");
	list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "frobnicate");
	mnl_attr_nest_end(nlh, el);
	mnl_attr_nest_end(nlh, list);
	ck_assert_int_eq(fw_nft_parser_feed(p, nlh), 0);
	rs = finish(p);

	r = rule_at(tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "t"), "c1", 1);
	ck_assert_uint_eq(r->preds.n, 1);
	ck_assert_int_eq(r->preds.items[0].kind, IR_PRED_OPAQUE);
	ck_assert_ptr_nonnull(strstr(r->preds.items[0].text, "does not parse"));
	r = rule_at(tab(rs, IR_SRC_NFT, IR_FAMILY_INET, "t"), "c1", 2);
	ck_assert_uint_eq(r->stmts.n, 1);
	ck_assert_int_eq(r->stmts.items[0].kind, IR_STMT_OPAQUE);
	ck_assert_ptr_nonnull(strstr(r->stmts.items[0].text, "frobnicate"));
	ir_ruleset_free(rs);
}
END_TEST

START_TEST(dormant_table_has_no_hooks)
{
	struct fw_nft_parser *p = parser();
	struct nftnl_table *tb = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	struct ir_ruleset *rs;
	struct ir_chain *c;

	nftnl_table_set_str(tb, NFTNL_TABLE_NAME, "sleepy");
	nftnl_table_set_u32(tb, NFTNL_TABLE_FLAGS, NFT_TABLE_F_DORMANT);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWTABLE, NFPROTO_IPV4, 0, seq++);
	nftnl_table_nlmsg_build_payload(nlh, tb);
	nftnl_table_free(tb);
	ck_assert_int_eq(fw_nft_parser_feed(p, nlh), 0);
	ck_assert_int_eq(
		feed_chain(p, NFPROTO_IPV4, "sleepy", "in", NF_INET_LOCAL_IN, 0, "filter", NF_DROP),
		0);
	rs = finish(p);
	c = ir_table_find_chain(tab(rs, IR_SRC_NFT, IR_FAMILY_IP, "sleepy"), "in");
	ck_assert(!c->base);
	ck_assert_int_eq(c->hook, IR_HOOK_NONE);
	ir_ruleset_free(rs);
}
END_TEST

/* An xtables comment match (revision 0) as iptables-nft writes it. */
static struct nftnl_expr *xt_comment(const char *text)
{
	struct nftnl_expr *mt = nftnl_expr_alloc("match");
	char *info = calloc(1, 256);

	snprintf(info, 256, "%s", text);
	nftnl_expr_set_str(mt, NFTNL_EXPR_MT_NAME, "comment");
	nftnl_expr_set_u32(mt, NFTNL_EXPR_MT_REV, 0);
	/* libnftnl takes the info buffer */
	nftnl_expr_set(mt, NFTNL_EXPR_MT_INFO, info, 256);
	return mt;
}

/* Rules with the same expressions share their translation (the rule cache) and keep their own
 * comment and handle, also when a comment comes from the expressions and another from the
 * userdata; equal expressions in another table are translated there. */
START_TEST(repeated_rules_keep_their_comments)
{
	struct fw_nft_parser *p = parser();
	struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(128);
	struct ir_ruleset *rs;
	struct ir_table *t;
	struct strbuf sb = { 0 };

	nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, "from udata");
	ck_assert_int_eq(feed_table(p, NFPROTO_IPV4, "a"), 0);
	ck_assert_int_eq(feed_chain(p, NFPROTO_IPV4, "a", "c", -1, 0, NULL, 0), 0);
	ck_assert_int_eq(feed_table(p, NFPROTO_IPV6, "a"), 0);
	ck_assert_int_eq(feed_chain(p, NFPROTO_IPV6, "a", "c", -1, 0, NULL, 0), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(feed_rule_ud(p, NFPROTO_IPV4, "a", "c", 10 + i,
					      i == 1 ? nftnl_udata_buf_data(ud) : NULL,
					      i == 1 ? nftnl_udata_buf_len(ud) : 0,
					      meta(NFT_META_MARK, NFT_REG_1),
					      cmp_u32(NFT_REG_1, NFT_CMP_EQ, 0x10000),
					      verdict(NFT_RETURN, NULL), NULL),
				 0);
		ck_assert_int_eq(feed_rule_ud(p, NFPROTO_IPV4, "a", "c", 20 + i,
					      i == 2 ? nftnl_udata_buf_data(ud) : NULL,
					      i == 2 ? nftnl_udata_buf_len(ud) : 0,
					      xt_comment("xt says"), verdict(NF_DROP, NULL), NULL),
				 0);
	}
	ck_assert_int_eq(feed_rule(p, NFPROTO_IPV6, "a", "c", 30, meta(NFT_META_MARK, NFT_REG_1),
				   cmp_u32(NFT_REG_1, NFT_CMP_EQ, 0x10000),
				   verdict(NFT_RETURN, NULL)),
			 0);
	nftnl_udata_buf_free(ud);
	rs = finish(p);

	t = tab(rs, IR_SRC_NFT, IR_FAMILY_IP, "a");
	for (unsigned i = 0; i < 3; i++) {
		struct ir_rule *r = rule_at(t, "c", 1 + 2 * i), *x = rule_at(t, "c", 2 + 2 * i);

		ck_assert_uint_eq(r->handle, 10 + i);
		ck_assert_uint_eq(r->position, 1 + 2 * i);
		if (i == 1)
			ck_assert_str_eq(r->comment, "from udata");
		else
			ck_assert_ptr_null(r->comment);
		strbuf_reset(&sb);
		ck_assert_int_eq(ir_rule_render(r, &sb), 0);
		ck_assert_ptr_nonnull(strstr(strbuf_str(&sb), "meta mark 0x00010000 return"));
		ck_assert_uint_eq(x->handle, 20 + i);
		/* the xtables comment follows the userdata's, as the decoder appends it */
		ck_assert_str_eq(x->comment, i == 2 ? "from udata; xt says" : "xt says");
		ck_assert_int_eq(x->verdict.kind, IR_VERDICT_DROP);
	}
	ck_assert_uint_eq(rule_at(tab(rs, IR_SRC_NFT, IR_FAMILY_IP6, "a"), "c", 1)->handle, 30);
	strbuf_done(&sb);
	ir_ruleset_free(rs);
}
END_TEST

/* Netdev chains with one device or several; a chain attribute of the wrong size is an error
 * (not a process exit) and the parser stays usable. */
START_TEST(chain_devices_and_bad_attributes)
{
	struct fw_nft_parser *p = parser();
	const char *devs[] = { "eth0", "eth1", NULL };
	struct nftnl_chain *c;
	struct nlmsghdr *nlh;
	struct nlattr *nest;
	struct ir_ruleset *rs;
	struct ir_table *t;

	ck_assert_int_eq(feed_table(p, NFPROTO_NETDEV, "nd"), 0);
	c = nftnl_chain_alloc();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, "nd");
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "both");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, 0);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, -10);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_DROP);
	nftnl_chain_set_array(c, NFTNL_CHAIN_DEVICES, devs);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, NFPROTO_NETDEV, 0, seq++);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	ck_assert_int_eq(fw_nft_parser_feed(p, nlh), 0);
	c = nftnl_chain_alloc();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, "nd");
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "one");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, 1);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 5);
	nftnl_chain_set_str(c, NFTNL_CHAIN_DEV, "lo");
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, NFPROTO_NETDEV, 0, seq++);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	ck_assert_int_eq(fw_nft_parser_feed(p, nlh), 0);

	/* a policy of two bytes */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, NFPROTO_NETDEV, 0, seq++);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, "nd");
	mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, "bad");
	mnl_attr_put_u16(nlh, NFTA_CHAIN_POLICY, 1);
	ck_assert_int_eq(fw_nft_parser_feed(p, nlh), -EBADMSG);
	/* a hook number of one byte */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, NFPROTO_NETDEV, 0, seq++);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, "nd");
	mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, "bad");
	nest = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
	mnl_attr_put_u8(nlh, NFTA_HOOK_HOOKNUM, 0);
	mnl_attr_nest_end(nlh, nest);
	ck_assert_int_eq(fw_nft_parser_feed(p, nlh), -EBADMSG);
	/* a set key length of two bytes */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, NFPROTO_NETDEV, 0, seq++);
	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, "nd");
	mnl_attr_put_strz(nlh, NFTA_SET_NAME, "s");
	mnl_attr_put_u16(nlh, NFTA_SET_KEY_LEN, 4);
	ck_assert_int_eq(fw_nft_parser_feed(p, nlh), -EBADMSG);
	/* a table name without its NUL */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWTABLE, NFPROTO_IPV4, 0, seq++);
	mnl_attr_put(nlh, NFTA_TABLE_NAME, 3, "abc");
	ck_assert_int_eq(fw_nft_parser_feed(p, nlh), -EBADMSG);
	ck_assert_int_eq(feed_chain(p, NFPROTO_NETDEV, "nd", "later", -1, 0, NULL, 0), 0);
	rs = finish(p);

	t = tab(rs, IR_SRC_NFT, IR_FAMILY_NETDEV, "nd");
	ck_assert_str_eq(ir_table_find_chain(t, "both")->device, "eth0,eth1");
	ck_assert_int_eq(ir_table_find_chain(t, "both")->hook, IR_HOOK_INGRESS);
	ck_assert_int_eq(ir_table_find_chain(t, "both")->priority, -10);
	ck_assert_int_eq(ir_table_find_chain(t, "both")->policy, IR_VERDICT_DROP);
	ck_assert_str_eq(ir_table_find_chain(t, "one")->device, "lo");
	ck_assert_int_eq(ir_table_find_chain(t, "one")->hook, IR_HOOK_EGRESS);
	ck_assert_int_eq(ir_table_find_chain(t, "one")->policy, IR_VERDICT_ACCEPT);
	ck_assert_ptr_null(ir_table_find_chain(t, "bad"));
	ck_assert_ptr_nonnull(ir_table_find_chain(t, "later"));
	ir_ruleset_free(rs);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fw-nft");
	TCase *tc = tcase_create("fw-nft");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, base_chains_and_tables);
	tcase_add_test(tc, saddr_cidr_from_mask_and_from_short_load);
	tcase_add_test(tc, ports_ranges_and_merged_loads);
	tcase_add_test(tc, interval_set_lookup_inverted);
	tcase_add_test(tc, concatenated_ranges);
	tcase_add_test(tc, verdict_map_and_jumps);
	tcase_add_test(tc, ct_state_marks_and_interfaces);
	tcase_add_test(tc, unknown_expressions_are_opaque_in_place);
	tcase_add_test(tc, undecodable_set_makes_lookups_opaque);
	tcase_add_test(tc, iptables_nft_tables_are_recognised);
	tcase_add_test(tc, malformed_and_out_of_order_messages);
	tcase_add_test(tc, statements_nat_queue_reject_and_data_maps);
	tcase_add_test(tc, interface_name_intervals_and_catchall);
	tcase_add_test(tc, malformed_expressions_keep_the_rule);
	tcase_add_test(tc, dormant_table_has_no_hooks);
	tcase_add_test(tc, repeated_rules_keep_their_comments);
	tcase_add_test(tc, chain_devices_and_bad_attributes);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
