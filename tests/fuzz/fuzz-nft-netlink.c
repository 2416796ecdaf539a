/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The nftables reader's message parser. The input bytes drive a small program that builds
 * netlink messages the way the kernel sends them in dumps and feeds them to the parser:
 *
 *   - set element messages whose element list is raw input bytes (the reader parses those
 *     attributes itself), or elements built from input keys, key ends, flags and verdicts;
 *   - rules whose expressions (payload, meta, ct, cmp, bitwise, lookup, range, byteorder,
 *     immediate, fib, nat, compat match/target, ...) take their registers, offsets, lengths
 *     and data from the input: arbitrary register programs for the translator;
 *   - rules whose expression list is raw input bytes (parsed by the reader itself).
 *
 * Tables, chains and sets are built with libnftnl rather than taken raw because libnftnl,
 * which parses those, exits the process (abi_breakage()) on attributes of the wrong size; the
 * kernel never sends those. The
 * result is finished into a ruleset, linked and rendered, so that what the parser builds is
 * walked too.
 */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "fw/nft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct in *in)
{
	uint8_t v;

	if (in->n == 0)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

static uint32_t u32(struct in *in)
{
	return (uint32_t)u8(in) | (uint32_t)u8(in) << 8 | (uint32_t)u8(in) << 16 |
	       (uint32_t)u8(in) << 24;
}

static void bytes(struct in *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = u8(in);
}

static uint32_t reg(struct in *in)
{
	static const uint32_t regs[] = {
		NFT_REG_VERDICT, NFT_REG_1,    NFT_REG_2,    NFT_REG_3,	   NFT_REG_4, NFT_REG32_00,
		NFT_REG32_01,	 NFT_REG32_02, NFT_REG32_05, NFT_REG32_15, 5
	};
	return regs[u8(in) % (sizeof(regs) / sizeof(regs[0]))];
}

static char buf[1 << 16];

struct setdef {
	const char *name;
	uint32_t flags, key_type, key_len, data_type, data_len;
	uint8_t concat[2];
};

static const struct setdef sets[] = {
	{ "s4", NFT_SET_INTERVAL, 7, 4, 0, 0, { 0 } },
	{ "cc", NFT_SET_INTERVAL | NFT_SET_CONCAT, (7u << 6) | 13u, 8, 0, 0, { 4, 2 } },
	{ "cp", 0, (7u << 12) | (12u << 6) | 13u, 12, 0, 0, { 0 } },
	{ "vm", NFT_SET_MAP, 7, 4, NFT_DATA_VERDICT, 0, { 0 } },
	{ "mm", NFT_SET_MAP, 13, 2, 19, 4, { 0 } },
	{ "if", NFT_SET_INTERVAL, 41, 16, 0, 0, { 0 } },
	{ "s6", 0, 8, 16, 0, 0, { 0 } },
	{ "st", 0, 26, 4, 0, 0, { 0 } },
};
#define NSETS (sizeof(sets) / sizeof(sets[0]))

static void feed(struct fw_nft_parser *p, struct nlmsghdr *nlh)
{
	(void)fw_nft_parser_feed(p, nlh);
}

static void skeleton(struct fw_nft_parser *p)
{
	static const struct {
		uint16_t family;
		const char *table, *chain;
		int hook;
	} chains[] = {
		{ NFPROTO_INET, "t", "input", NF_INET_LOCAL_IN },
		{ NFPROTO_INET, "t", "c1", -1 },
		{ NFPROTO_IPV4, "filter", "INPUT", NF_INET_LOCAL_IN },
		{ NFPROTO_IPV6, "t6", "fwd", NF_INET_FORWARD },
		{ NFPROTO_BRIDGE, "br", "f", NF_INET_FORWARD },
	};

	for (size_t i = 0; i < sizeof(chains) / sizeof(chains[0]); i++) {
		struct nftnl_table *t = nftnl_table_alloc();
		struct nftnl_chain *c = nftnl_chain_alloc();
		struct nlmsghdr *nlh;

		nftnl_table_set_str(t, NFTNL_TABLE_NAME, chains[i].table);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWTABLE, chains[i].family, 0, 1);
		nftnl_table_nlmsg_build_payload(nlh, t);
		feed(p, nlh); /* the second time: a duplicate, refused */
		nftnl_table_free(t);

		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, chains[i].table);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chains[i].chain);
		if (chains[i].hook >= 0) {
			nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)chains[i].hook);
			nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
			nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
			nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
		}
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWCHAIN, chains[i].family, 0, 1);
		nftnl_chain_nlmsg_build_payload(nlh, c);
		feed(p, nlh);
		nftnl_chain_free(c);
	}
	for (size_t i = 0; i < NSETS; i++) {
		struct nftnl_set *s = nftnl_set_alloc();
		struct nlmsghdr *nlh;

		nftnl_set_set_str(s, NFTNL_SET_TABLE, "t");
		nftnl_set_set_str(s, NFTNL_SET_NAME, sets[i].name);
		nftnl_set_set_u32(s, NFTNL_SET_FLAGS, sets[i].flags);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, sets[i].key_type);
		nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, sets[i].key_len);
		nftnl_set_set_u32(s, NFTNL_SET_ID, (uint32_t)i + 1);
		if (sets[i].flags & NFT_SET_MAP) {
			nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, sets[i].data_type);
			nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, sets[i].data_len);
		}
		if (sets[i].concat[0])
			nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, sets[i].concat, 2);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSET, NFPROTO_INET, 0, 1);
		nftnl_set_nlmsg_build_payload(nlh, s);
		feed(p, nlh);
		nftnl_set_free(s);
	}
}

static void elements(struct fw_nft_parser *p, struct in *in)
{
	const struct setdef *d = &sets[u8(in) % NSETS];
	struct nftnl_set *s = nftnl_set_alloc();
	unsigned n = u8(in) % 8;
	struct nlmsghdr *nlh;

	nftnl_set_set_str(s, NFTNL_SET_TABLE, "t");
	nftnl_set_set_str(s, NFTNL_SET_NAME, d->name);
	for (unsigned i = 0; i < n; i++) {
		static const int codes[] = { NF_ACCEPT,
					     NF_DROP,
					     NFT_JUMP,
					     NFT_GOTO,
					     NFT_RETURN,
					     NFT_CONTINUE,
					     NF_QUEUE | (3 << 16),
					     77 };
		struct nftnl_set_elem *e = nftnl_set_elem_alloc();
		uint8_t key[16], kend[16], dat[16];
		uint8_t opt = u8(in);
		uint32_t klen = opt & 0x80 ? u8(in) % 17 : d->key_len;

		bytes(in, key, klen);
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, klen ? klen : 1);
		if (opt & 1) {
			bytes(in, kend, klen);
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, kend, klen ? klen : 1);
		}
		if (opt & 2)
			nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, (opt >> 2) & 3);
		if (opt & 0x10) {
			int code = codes[u8(in) % 8];
			nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)code);
			if (code == NFT_JUMP || code == NFT_GOTO)
				nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, "c1");
		} else if (opt & 0x20) { /* libnftnl keeps verdict and data in one union */
			uint32_t dlen = u8(in) % 17;
			bytes(in, dat, dlen);
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, dat, dlen ? dlen : 1);
		}
		nftnl_set_elem_add(s, e);
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSETELEM, NFPROTO_INET, 0, 1);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	feed(p, nlh);
	nftnl_set_free(s);
}

/* An element list whose nested attributes are the input bytes themselves. */
static void raw_elements(struct fw_nft_parser *p, struct in *in)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWSETELEM, NFPROTO_INET, 0, 1);
	size_t n = u8(in);
	struct nlattr *nest;

	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, "t");
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, sets[u8(in) % NSETS].name);
	nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	if (n > in->n)
		n = in->n;
	n &= ~(size_t)3;
	memcpy(mnl_nlmsg_get_payload_tail(nlh), in->p, n);
	nlh->nlmsg_len += (uint32_t)n;
	in->p += n;
	in->n -= n;
	mnl_attr_nest_end(nlh, nest);
	feed(p, nlh);
}

/* A rule whose expression list is the input bytes themselves (the reader parses rules from
 * the attributes, without libnftnl). */
static void raw_rule(struct fw_nft_parser *p, struct in *in)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, 0, 1);
	size_t n = (size_t)u8(in) * 2;
	struct nlattr *nest;

	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "t");
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, u8(in) & 1 ? "input" : "c1");
	if (u8(in) & 1) { /* userdata TLVs (comments, iptables-nft markers) from the input */
		size_t m = u8(in) % 64;
		if (m > in->n)
			m = in->n;
		mnl_attr_put(nlh, NFTA_RULE_USERDATA, m, in->p);
		in->p += m;
		in->n -= m;
	}
	nest = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	if (n > in->n)
		n = in->n;
	n &= ~(size_t)3;
	memcpy(mnl_nlmsg_get_payload_tail(nlh), in->p, n);
	nlh->nlmsg_len += (uint32_t)n;
	in->p += n;
	in->n -= n;
	mnl_attr_nest_end(nlh, nest);
	feed(p, nlh);
}

static struct nftnl_expr *expression(struct in *in)
{
	static const char *const xt[] = { "tcp",  "udp",       "comment", "conntrack", "state",
					  "mark", "multiport", "set",	  "nosuch",    "REJECT",
					  "MARK", "LOG",       "NFQUEUE", "CONNMARK" };
	uint8_t kind = u8(in) % 20, d[16];
	struct nftnl_expr *e = NULL;
	uint32_t len;

	switch (kind) {
	case 0:
		e = nftnl_expr_alloc("payload");
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, u8(in) % 4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, u8(in) % 48);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, u8(in) % 20);
		nftnl_expr_set_u32(
			e, u8(in) & 1 ? NFTNL_EXPR_PAYLOAD_SREG : NFTNL_EXPR_PAYLOAD_DREG, reg(in));
		break;
	case 1:
	case 2:
		e = nftnl_expr_alloc(kind == 1 ? "meta" : "ct");
		nftnl_expr_set_u32(e, kind == 1 ? NFTNL_EXPR_META_KEY : NFTNL_EXPR_CT_KEY,
				   u8(in) % 40);
		if (u8(in) & 1)
			nftnl_expr_set_u32(e, kind == 1 ? NFTNL_EXPR_META_SREG : NFTNL_EXPR_CT_SREG,
					   reg(in));
		else
			nftnl_expr_set_u32(e, kind == 1 ? NFTNL_EXPR_META_DREG : NFTNL_EXPR_CT_DREG,
					   reg(in));
		break;
	case 3:
	case 4:
		e = nftnl_expr_alloc("cmp");
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, reg(in));
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, u8(in) % 7);
		len = u8(in) % 16 + 1;
		bytes(in, d, len);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, d, len);
		break;
	case 5: {
		uint8_t m[16], x[16];
		e = nftnl_expr_alloc("bitwise");
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg(in));
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg(in));
		len = u8(in) % 16 + 1;
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		bytes(in, m, len);
		bytes(in, x, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, m, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, x, len);
		break;
	}
	case 6:
		e = nftnl_expr_alloc("lookup");
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, reg(in));
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, sets[u8(in) % NSETS].name);
		if (u8(in) & 1)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, reg(in));
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, u8(in) & 1);
		break;
	case 7:
		e = nftnl_expr_alloc("immediate");
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg(in));
		if (u8(in) & 1) {
			static const int codes[] = { NF_ACCEPT,	      NF_DROP,	  NFT_JUMP,
						     NFT_GOTO,	      NFT_RETURN, NFT_BREAK,
						     NF_QUEUE | 65536 };
			int code = codes[u8(in) % 7];
			nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)code);
			if (code == NFT_JUMP || code == NFT_GOTO)
				nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, "c1");
		} else {
			len = u8(in) % 16 + 1;
			bytes(in, d, len);
			nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, d, len);
		}
		break;
	case 8: {
		uint8_t t[16];
		e = nftnl_expr_alloc("range");
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, reg(in));
		nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP, u8(in) % 2);
		len = u8(in) % 16 + 1;
		bytes(in, d, len);
		bytes(in, t, len);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, d, len);
		nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, t, len);
		break;
	}
	case 9:
		e = nftnl_expr_alloc("byteorder");
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, reg(in));
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, reg(in));
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, u8(in) % 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, u8(in) % 17);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 1u << (u8(in) % 4));
		break;
	case 10:
		e = nftnl_expr_alloc("fib");
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, reg(in));
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, u8(in) % 4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, u8(in) % 64);
		break;
	case 11:
		e = nftnl_expr_alloc("nat");
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, u8(in) % 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY,
				   u8(in) & 1 ? NFPROTO_IPV6 : NFPROTO_IPV4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg(in));
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg(in));
		break;
	case 12:
	case 13: {
		uint32_t n = u8(in) % 64;
		void *info = calloc(1, n ? n : 1);
		if (info)
			bytes(in, info, n);
		e = nftnl_expr_alloc(kind == 12 ? "match" : "target");
		nftnl_expr_set_str(e, kind == 12 ? NFTNL_EXPR_MT_NAME : NFTNL_EXPR_TG_NAME,
				   xt[u8(in) % (sizeof(xt) / sizeof(xt[0]))]);
		nftnl_expr_set_u32(e, kind == 12 ? NFTNL_EXPR_MT_REV : NFTNL_EXPR_TG_REV,
				   u8(in) % 4);
		if (info) /* libnftnl takes the buffer */
			nftnl_expr_set(e, kind == 12 ? NFTNL_EXPR_MT_INFO : NFTNL_EXPR_TG_INFO,
				       info, n);
		break;
	}
	case 14:
		e = nftnl_expr_alloc("counter");
		break;
	case 15:
		e = nftnl_expr_alloc("limit");
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, u8(in));
		nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 60);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, u8(in) & 1);
		break;
	case 16:
		e = nftnl_expr_alloc("queue");
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, (uint16_t)u32(in));
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, (uint16_t)u32(in));
		break;
	case 17:
		e = nftnl_expr_alloc("reject");
		break;
	case 18:
		e = nftnl_expr_alloc("rt");
		nftnl_expr_set_u32(e, NFTNL_EXPR_RT_KEY, u8(in) % 5);
		nftnl_expr_set_u32(e, NFTNL_EXPR_RT_DREG, reg(in));
		break;
	default:
		e = nftnl_expr_alloc(u8(in) & 1 ? "notrack" : "masq");
		break;
	}
	return e;
}

static void rule(struct fw_nft_parser *p, struct in *in)
{
	static const struct {
		uint16_t family;
		const char *table, *chain;
	} where[] = {
		{ NFPROTO_INET, "t", "input" },	     { NFPROTO_INET, "t", "c1" },
		{ NFPROTO_IPV4, "filter", "INPUT" }, { NFPROTO_IPV6, "t6", "fwd" },
		{ NFPROTO_BRIDGE, "br", "f" },
	};
	unsigned w = u8(in) % (sizeof(where) / sizeof(where[0])), n = u8(in) % 12;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, where[w].table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, where[w].chain);
	nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, u8(in));
	for (unsigned i = 0; i < n; i++)
		nftnl_rule_add_expr(r, expression(in));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, where[w].family, 0, 1);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	feed(p, nlh);
	nftnl_rule_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(fw_nft_parser_freep) struct fw_nft_parser *p = NULL;
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct in in = { data, size };
	struct strbuf sb = { 0 };

	if (fw_nft_parser_new(NULL, &p) < 0)
		return 0;
	skeleton(p);
	while (in.n > 0) {
		switch (u8(&in) % 5) {
		case 0:
			elements(p, &in);
			break;
		case 1:
			raw_elements(p, &in);
			break;
		case 2:
			raw_rule(p, &in);
			break;
		default:
			rule(p, &in);
			break;
		}
	}
	if (ir_ruleset_new(&rs) < 0)
		return 0;
	if (fw_nft_parser_finish(p, rs) < 0)
		return 0;
	(void)ir_ruleset_link(rs);
	(void)ir_ruleset_render(rs, &sb);
	strbuf_reset(&sb);
	(void)ir_ruleset_render_json(rs, &sb);
	strbuf_done(&sb);
	return 0;
}
