/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lib/fw: the xtables match/target decoders on blobs built in memory (the layouts of the uapi
 * structs, as libiptc and iptables-nft hand them over), and the ipset dump parser on
 * IPSET_CMD_LIST messages built in memory with libmnl, with the set index -> name/type
 * resolution the `set` match needs.
 */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_CT.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_connmark.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_iprange.h>
#include <linux/netfilter/xt_limit.h>
#include <linux/netfilter/xt_LOG.h>
#include <linux/netfilter/xt_mac.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_multiport.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <linux/netfilter/xt_physdev.h>
#include <linux/netfilter/xt_set.h>
#include <linux/netfilter/xt_state.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>
#include <linux/rtnetlink.h>

#include "fw/fw.h"
#include "fw/xt.h"
#include "ir/ir.h"

static const struct fw_xt_ctx ctx4 = { .family = NFPROTO_IPV4 };
static const struct fw_xt_ctx ctx6 = { .family = NFPROTO_IPV6 };

static struct ir_rule *rule(void)
{
	struct ir_rule *r;

	ck_assert_int_eq(ir_rule_new(&r), 0);
	return r;
}

static char *render(struct ir_rule *r)
{
	struct strbuf sb = { 0 };

	ck_assert_int_eq(ir_rule_render(r, &sb), 0);
	return strbuf_steal(&sb);
}

#define MATCH(ctx, name, rev, v, r) \
	ck_assert_int_eq(fw_xt_match_to_ir((ctx), (name), (rev), &(v), sizeof(v), (r)), 0)
#define TARGET(ctx, name, rev, v, r) \
	ck_assert_int_eq(fw_xt_target_to_ir((ctx), (name), (rev), &(v), sizeof(v), (r)), 0)

/* Asserts predicate i is field ∈ [lo, hi] exactly (one range), negated or not. */
static void assert_range(const struct ir_rule *r, size_t i, enum ir_field f, bool neg, np_u128 lo,
			 np_u128 hi)
{
	const struct ir_pred *p;

	ck_assert_uint_gt(r->preds.n, i);
	p = &r->preds.items[i];
	ck_assert_int_eq(p->kind, IR_PRED_MATCH);
	ck_assert_int_eq(p->field, f);
	ck_assert_int_eq(p->negate, neg);
	ck_assert_uint_eq(p->values.n, 1);
	ck_assert(p->values.r[0].lo == lo);
	ck_assert(p->values.r[0].hi == hi);
}

static void assert_opaque(const struct ir_rule *r, size_t i, const char *needle)
{
	ck_assert_uint_gt(r->preds.n, i);
	ck_assert_int_eq(r->preds.items[i].kind, IR_PRED_OPAQUE);
	ck_assert_ptr_nonnull(r->preds.items[i].text);
	ck_assert_msg(strstr(r->preds.items[i].text, needle), "'%s' lacks '%s'",
		      r->preds.items[i].text, needle);
}

static np_u128 ip(const char *s)
{
	np_u128 v;

	ck_assert_int_gt(np_addr_parse(s, &v), 0);
	return v;
}

START_TEST(tcp_ports_with_inversion)
{
	struct ir_rule *r = rule();
	struct xt_tcp v = { .spts = { 1024, 65535 },
			    .dpts = { 80, 80 },
			    .invflags = XT_TCP_INV_DSTPT };

	MATCH(&ctx4, "tcp", 0, v, r);
	ck_assert_uint_eq(r->preds.n, 3);
	assert_range(r, 0, IR_FIELD_L4PROTO, false, IPPROTO_TCP, IPPROTO_TCP);
	assert_range(r, 1, IR_FIELD_SPORT, false, 1024, 65535);
	assert_range(r, 2, IR_FIELD_DPORT, true, 80, 80);
	ir_rule_free(r);

	/* full ranges test nothing; flags become a masked match; options are opaque */
	r = rule();
	v = (struct xt_tcp){ .spts = { 0, 65535 },
			     .dpts = { 0, 65535 },
			     .flg_mask = 0x17,
			     .flg_cmp = 0x02,
			     .option = 2 };
	MATCH(&ctx4, "tcp", 0, v, r);
	ck_assert_uint_eq(r->preds.n, 3);
	ck_assert_int_eq(r->preds.items[1].field, IR_FIELD_TCP_FLAGS);
	ck_assert(r->preds.items[1].masked);
	ck_assert_uint_eq(r->preds.items[1].mask, 0x17);
	ck_assert(r->preds.items[1].values.r[0].lo == 0x02);
	assert_opaque(r, 2, "tcp-option 2");
	ir_rule_free(r);

	/* an inverted full range never matches */
	r = rule();
	v = (struct xt_tcp){ .spts = { 0, 65535 },
			     .dpts = { 0, 65535 },
			     .invflags = XT_TCP_INV_SRCPT };
	MATCH(&ctx4, "tcp", 0, v, r);
	ck_assert_uint_eq(r->preds.n, 2);
	ck_assert_uint_eq(r->preds.items[1].values.n, 0);
	ck_assert(!r->preds.items[1].negate);
	ir_rule_free(r);
}
END_TEST

START_TEST(udp_ports)
{
	struct ir_rule *r = rule();
	struct xt_udp v = { .spts = { 53, 53 },
			    .dpts = { 1000, 2000 },
			    .invflags = XT_UDP_INV_SRCPT };
	char *s;

	MATCH(&ctx6, "udp", 0, v, r);
	ck_assert_uint_eq(r->preds.n, 3);
	assert_range(r, 0, IR_FIELD_L4PROTO, false, IPPROTO_UDP, IPPROTO_UDP);
	assert_range(r, 1, IR_FIELD_SPORT, true, 53, 53);
	assert_range(r, 2, IR_FIELD_DPORT, false, 1000, 2000);
	s = render(r);
	ck_assert_msg(strstr(s, "sport != 53"), "%s", s);
	free(s);
	ir_rule_free(r);
}
END_TEST

START_TEST(multiport)
{
	struct ir_rule *r = rule();
	struct xt_multiport_v1 v = {
		.flags = XT_MULTIPORT_DESTINATION,
		.count = 4,
		.ports = { 80, 443, 8000, 8080 },
		.pflags = { 0, 0, 1, 0 },
	};
	const struct ir_pred *p;

	MATCH(&ctx4, "multiport", 1, v, r);
	ck_assert_uint_eq(r->preds.n, 1);
	p = &r->preds.items[0];
	ck_assert_int_eq(p->field, IR_FIELD_DPORT);
	ck_assert(!p->negate);
	ck_assert_uint_eq(p->values.n, 3);
	ck_assert(p->values.r[2].lo == 8000 && p->values.r[2].hi == 8080);
	ck_assert(np_iset_contains(&p->values, 443));
	ck_assert(!np_iset_contains(&p->values, 444));
	ir_rule_free(r);

	/* inverted source ports */
	r = rule();
	v.flags = XT_MULTIPORT_SOURCE;
	v.invert = 1;
	MATCH(&ctx4, "multiport", 1, v, r);
	ck_assert_int_eq(r->preds.items[0].field, IR_FIELD_SPORT);
	ck_assert(r->preds.items[0].negate);
	ir_rule_free(r);

	/* revision 0 has no ranges */
	r = rule();
	struct xt_multiport v0 = { .flags = XT_MULTIPORT_DESTINATION,
				   .count = 2,
				   .ports = { 22, 2222 } };
	MATCH(&ctx4, "multiport", 0, v0, r);
	ck_assert_uint_eq(r->preds.items[0].values.n, 2);
	ir_rule_free(r);

	/* --ports is "source or destination": not a conjunction, so opaque */
	r = rule();
	v.flags = XT_MULTIPORT_EITHER;
	MATCH(&ctx4, "multiport", 1, v, r);
	assert_opaque(r, 0, "--ports");
	ir_rule_free(r);
}
END_TEST

START_TEST(conntrack_and_state)
{
	struct ir_rule *r = rule();
	struct xt_conntrack_mtinfo3 v = {
		.match_flags = XT_CONNTRACK_STATE,
		.state_mask = XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED) |
			      XT_CONNTRACK_STATE_BIT(IP_CT_RELATED),
	};
	struct xt_state_info st = { .statemask = XT_STATE_INVALID };

	MATCH(&ctx4, "conntrack", 3, v, r);
	ck_assert_uint_eq(r->preds.n, 1);
	ck_assert_int_eq(r->preds.items[0].kind, IR_PRED_BITS);
	ck_assert_int_eq(r->preds.items[0].field, IR_FIELD_CT_STATE);
	ck_assert_uint_eq(r->preds.items[0].bits, IR_CT_ESTABLISHED | IR_CT_RELATED);
	ck_assert(!r->preds.items[0].negate);
	ir_rule_free(r);

	/* ! --ctstate NEW --ctdir ORIGINAL --ctorigdst ...: bits, direction, and opaque rest */
	r = rule();
	v.match_flags = XT_CONNTRACK_STATE | XT_CONNTRACK_DIRECTION | XT_CONNTRACK_ORIGDST;
	v.invert_flags = XT_CONNTRACK_STATE | XT_CONNTRACK_DIRECTION;
	v.state_mask = XT_CONNTRACK_STATE_BIT(IP_CT_NEW);
	MATCH(&ctx4, "conntrack", 3, v, r);
	ck_assert_uint_eq(r->preds.n, 3);
	ck_assert_uint_eq(r->preds.items[0].bits, IR_CT_NEW);
	ck_assert(r->preds.items[0].negate);
	assert_range(r, 1, IR_FIELD_CT_DIRECTION, true, 1, 1);
	assert_opaque(r, 2, "conntrack rev 3");
	ir_rule_free(r);

	/* rev 1 (u8 masks) and the old state match */
	r = rule();
	struct xt_conntrack_mtinfo1 v1 = { .match_flags = XT_CONNTRACK_STATE,
					   .state_mask = XT_CONNTRACK_STATE_INVALID };
	MATCH(&ctx4, "conntrack", 1, v1, r);
	MATCH(&ctx4, "state", 0, st, r);
	ck_assert_uint_eq(r->preds.n, 2);
	ck_assert_uint_eq(r->preds.items[0].bits, IR_CT_INVALID);
	ck_assert_uint_eq(r->preds.items[1].bits, IR_CT_INVALID);
	ir_rule_free(r);
}
END_TEST

START_TEST(mark_and_connmark)
{
	struct ir_rule *r = rule();
	struct xt_mark_mtinfo1 v = { .mark = 0x10000, .mask = 0x30000, .invert = 1 };
	struct xt_connmark_mtinfo1 c = { .mark = 0x1, .mask = 0xff };

	MATCH(&ctx4, "mark", 1, v, r);
	MATCH(&ctx4, "connmark", 1, c, r);
	ck_assert_uint_eq(r->preds.n, 2);
	ck_assert_int_eq(r->preds.items[0].field, IR_FIELD_META_MARK);
	ck_assert(r->preds.items[0].masked && r->preds.items[0].negate);
	ck_assert_uint_eq(r->preds.items[0].mask, 0x30000);
	ck_assert(r->preds.items[0].values.r[0].lo == 0x10000);
	ck_assert_int_eq(r->preds.items[1].field, IR_FIELD_CT_MARK);
	ck_assert(!r->preds.items[1].negate);
	ir_rule_free(r);

	/* rev 0 (unsigned long layout) is not decoded */
	r = rule();
	MATCH(&ctx4, "mark", 0, v, r);
	assert_opaque(r, 0, "mark rev 0");
	ir_rule_free(r);
}
END_TEST

/* --- ipset dump messages built in memory --- */

struct msgbuf {
	char buf[16384];
	size_t len;
};

static struct nlmsghdr *list_msg(struct msgbuf *mb, const char *name, const char *type,
				 uint8_t family, int index)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(mb->buf + mb->len);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_LIST;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	mnl_attr_put_u8(nlh, IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL);
	mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name);
	if (type) {
		mnl_attr_put_strz(nlh, IPSET_ATTR_TYPENAME, type);
		mnl_attr_put_u8(nlh, IPSET_ATTR_REVISION, 1);
		mnl_attr_put_u8(nlh, IPSET_ATTR_FAMILY, family);
		if (index >= 0)
			mnl_attr_put_u16(nlh, IPSET_ATTR_INDEX, htons((uint16_t)index));
	}
	return nlh;
}

static void msg_end(struct msgbuf *mb, struct nlmsghdr *nlh)
{
	mb->len += nlh->nlmsg_len;
}

static void put_ip4(struct nlmsghdr *nlh, uint16_t type, const char *a)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);
	struct in_addr in;

	ck_assert_int_eq(inet_pton(AF_INET, a, &in), 1);
	mnl_attr_put(nlh, IPSET_ATTR_IPADDR_IPV4 | NLA_F_NET_BYTEORDER, 4, &in);
	mnl_attr_nest_end(nlh, n);
}

static void put_ip6(struct nlmsghdr *nlh, uint16_t type, const char *a)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);
	struct in6_addr in;

	ck_assert_int_eq(inet_pton(AF_INET6, a, &in), 1);
	mnl_attr_put(nlh, IPSET_ATTR_IPADDR_IPV6 | NLA_F_NET_BYTEORDER, 16, &in);
	mnl_attr_nest_end(nlh, n);
}

/* Builds the dump of: allowed (hash:ip, 2 elements, index 3), nets (hash:net, a /8 and a
 * nomatch /16, split over two messages), ipport (hash:ip,port, index 0), n6 (hash:net inet6),
 * ifs (hash:net,iface), ports (bitmap:port 80-81), lst (list:set of allowed, nets). */
static void build_dump(struct msgbuf *mb)
{
	struct nlmsghdr *nlh;
	struct nlattr *adt, *d;

	mb->len = 0;
	nlh = list_msg(mb, "allowed", "hash:ip", NFPROTO_IPV4, 3);
	adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	put_ip4(nlh, IPSET_ATTR_IP, "10.0.0.1");
	mnl_attr_nest_end(nlh, d);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	put_ip4(nlh, IPSET_ATTR_IP, "10.0.0.2");
	mnl_attr_put_u32(nlh, IPSET_ATTR_TIMEOUT | NLA_F_NET_BYTEORDER, htonl(100));
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, adt);
	msg_end(mb, nlh);

	nlh = list_msg(mb, "nets", "hash:net", NFPROTO_IPV4, 1);
	adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	put_ip4(nlh, IPSET_ATTR_IP, "10.0.0.0");
	mnl_attr_put_u8(nlh, IPSET_ATTR_CIDR, 8);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, adt);
	msg_end(mb, nlh);
	/* continuation: only the set name and more elements */
	nlh = list_msg(mb, "nets", NULL, NFPROTO_IPV4, -1);
	adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	put_ip4(nlh, IPSET_ATTR_IP, "10.1.0.0");
	mnl_attr_put_u8(nlh, IPSET_ATTR_CIDR, 16);
	mnl_attr_put_u32(nlh, IPSET_ATTR_CADT_FLAGS | NLA_F_NET_BYTEORDER,
			 htonl(IPSET_FLAG_NOMATCH));
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, adt);
	msg_end(mb, nlh);

	nlh = list_msg(mb, "ipport", "hash:ip,port", NFPROTO_IPV4, 0);
	adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	put_ip4(nlh, IPSET_ATTR_IP, "10.0.0.9");
	mnl_attr_put_u16(nlh, IPSET_ATTR_PORT | NLA_F_NET_BYTEORDER, htons(443));
	mnl_attr_put_u8(nlh, IPSET_ATTR_PROTO, IPPROTO_TCP);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, adt);
	msg_end(mb, nlh);

	nlh = list_msg(mb, "n6", "hash:net", NFPROTO_IPV6, 2);
	adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	put_ip6(nlh, IPSET_ATTR_IP, "fd00::");
	mnl_attr_put_u8(nlh, IPSET_ATTR_CIDR, 64);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, adt);
	msg_end(mb, nlh);

	nlh = list_msg(mb, "ifs", "hash:net,iface", NFPROTO_IPV4, 4);
	adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	put_ip4(nlh, IPSET_ATTR_IP, "192.168.0.0");
	mnl_attr_put_u8(nlh, IPSET_ATTR_CIDR, 24);
	mnl_attr_put_strz(nlh, IPSET_ATTR_IFACE, "eth0");
	mnl_attr_nest_end(nlh, d);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	put_ip4(nlh, IPSET_ATTR_IP, "192.168.1.0");
	mnl_attr_put_u8(nlh, IPSET_ATTR_CIDR, 24);
	mnl_attr_put_strz(nlh, IPSET_ATTR_IFACE, "br0");
	mnl_attr_put_u32(nlh, IPSET_ATTR_CADT_FLAGS | NLA_F_NET_BYTEORDER,
			 htonl(IPSET_FLAG_PHYSDEV));
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, adt);
	msg_end(mb, nlh);

	nlh = list_msg(mb, "ports", "bitmap:port", NFPROTO_UNSPEC, 5);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	mnl_attr_put_u16(nlh, IPSET_ATTR_PORT | NLA_F_NET_BYTEORDER, htons(1));
	mnl_attr_put_u16(nlh, IPSET_ATTR_PORT_TO | NLA_F_NET_BYTEORDER, htons(1000));
	mnl_attr_nest_end(nlh, d);
	adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
	for (uint16_t p = 80; p <= 81; p++) {
		d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
		mnl_attr_put_u16(nlh, IPSET_ATTR_PORT | NLA_F_NET_BYTEORDER, htons(p));
		mnl_attr_nest_end(nlh, d);
	}
	mnl_attr_nest_end(nlh, adt);
	msg_end(mb, nlh);

	nlh = list_msg(mb, "lst", "list:set", NFPROTO_UNSPEC, 6);
	adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	mnl_attr_put_strz(nlh, IPSET_ATTR_NAME, "allowed");
	mnl_attr_nest_end(nlh, d);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	mnl_attr_put_strz(nlh, IPSET_ATTR_NAME, "nets");
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, adt);
	msg_end(mb, nlh);

	nlh = mnl_nlmsg_put_header(mb->buf + mb->len);
	nlh->nlmsg_type = NLMSG_DONE;
	msg_end(mb, nlh);
}

static struct fw_ipsets *parse_dump(void)
{
	static struct msgbuf mb;
	struct fw_ipsets *l = NULL;

	build_dump(&mb);
	ck_assert_int_eq(fw_ipsets_parse_dump(mb.buf, mb.len, &l), 0);
	return l;
}

START_TEST(ipset_dump_parse)
{
	struct fw_ipsets *l = parse_dump();
	const struct fw_ipset *s;
	const char *name;

	ck_assert_uint_eq(l->n, 7);
	s = fw_ipsets_find(l, "allowed");
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->kind, FW_IPSET_HASH_IP);
	ck_assert_int_eq(s->index, 3);
	ck_assert(s->has_timeout);
	ck_assert_uint_eq(s->elems.n, 2);
	ck_assert(s->elems.items[1].lo == ip("10.0.0.2") && s->elems.items[1].hi == ip("10.0.0.2"));

	s = fw_ipsets_find(l, "nets");
	ck_assert_uint_eq(s->elems.n, 2); /* both messages */
	ck_assert(s->elems.items[0].lo == ip("10.0.0.0") &&
		  s->elems.items[0].hi == ip("10.255.255.255"));
	ck_assert(!s->elems.items[0].nomatch);
	ck_assert(s->elems.items[1].nomatch);

	s = fw_ipsets_find(l, "ipport");
	ck_assert_int_eq(s->kind, FW_IPSET_HASH_IP_PORT);
	ck_assert_uint_eq(s->elems.items[0].port_lo, 443);
	ck_assert_uint_eq(s->elems.items[0].proto, IPPROTO_TCP);

	s = fw_ipsets_find(l, "n6");
	ck_assert_int_eq(s->family, NFPROTO_IPV6);
	ck_assert(s->elems.items[0].hi == ip("fd00::ffff:ffff:ffff:ffff"));

	s = fw_ipsets_find(l, "ifs");
	ck_assert_str_eq(s->elems.items[0].iface, "eth0");
	ck_assert(s->elems.items[1].physdev);

	s = fw_ipsets_find(l, "ports");
	ck_assert_uint_eq(s->port_from, 1);
	ck_assert_uint_eq(s->port_to, 1000);
	ck_assert_uint_eq(s->elems.n, 2);

	s = fw_ipsets_find(l, "lst");
	ck_assert_int_eq(s->kind, FW_IPSET_LIST_SET);
	ck_assert_str_eq(s->elems.items[1].member, "nets");

	ck_assert_int_eq(fw_ipsets_name(l, 0, &name), 0);
	ck_assert_str_eq(name, "ipport");
	ck_assert_int_eq(fw_ipsets_name(l, 6, &name), 0);
	ck_assert_str_eq(name, "lst");
	ck_assert_int_eq(fw_ipsets_name(l, 7, &name), -ENOENT);
	ck_assert_int_eq(fw_ipsets_name(l, 4000, &name), -ENOENT);
	fw_ipsets_free(l);
}
END_TEST

START_TEST(ipset_dump_malformed)
{
	static struct msgbuf mb;
	struct fw_ipsets *l = NULL;
	struct nlmsghdr *nlh;
	struct nlattr *adt, *d;

	/* an element whose address attribute has the wrong size */
	mb.len = 0;
	nlh = list_msg(&mb, "bad", "hash:ip", NFPROTO_IPV4, 0);
	adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	{
		struct nlattr *n = mnl_attr_nest_start(nlh, IPSET_ATTR_IP);

		mnl_attr_put_u16(nlh, IPSET_ATTR_IPADDR_IPV4, 1);
		mnl_attr_nest_end(nlh, n);
	}
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, adt);
	msg_end(&mb, nlh);
	ck_assert_int_eq(fw_ipsets_parse_dump(mb.buf, mb.len, &l), -EBADMSG);
	ck_assert_ptr_null(l);

	/* a set header without its type */
	mb.len = 0;
	nlh = list_msg(&mb, "notype", NULL, NFPROTO_IPV4, -1);
	msg_end(&mb, nlh);
	ck_assert_int_eq(fw_ipsets_parse_dump(mb.buf, mb.len, &l), -EBADMSG);
}
END_TEST

START_TEST(ipsets_into_ir)
{
	struct fw_ipsets *l = parse_dump();
	struct ir_ruleset *rs;
	const struct ir_set *s;

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	ck_assert_int_eq(fw_ipsets_to_ir(l, rs), 0);
	ck_assert_uint_eq(rs->ipsets.n, 7);
	ck_assert(rs->ipset_info.read);

	s = ir_ruleset_find_ipset(rs, "nets");
	ck_assert_uint_eq(s->nkey, 1);
	ck_assert_int_eq(s->keytype[0], IR_KEY_ADDR);
	ck_assert_int_eq(s->family, AF_INET);
	ck_assert_uint_eq(s->elems.n, 2);
	ck_assert(s->elems.items[1].nomatch);

	s = ir_ruleset_find_ipset(rs, "ipport");
	ck_assert_uint_eq(s->nkey, 3);
	ck_assert(s->elems.items[0].key[1].lo == IPPROTO_TCP);
	ck_assert(s->elems.items[0].key[2].lo == 443);

	/* the physdev element is invisible to the set match */
	s = ir_ruleset_find_ipset(rs, "ifs");
	ck_assert_uint_eq(s->elems.n, 1);
	ck_assert_str_eq(s->elems.items[0].key[1].ifname, "eth0");

	/* bitmap:port: TCP and UDP, ports merged into a range */
	s = ir_ruleset_find_ipset(rs, "ports");
	ck_assert_uint_eq(s->nkey, 2);
	ck_assert_uint_eq(s->elems.n, 2);
	ck_assert(s->elems.items[0].key[1].lo == 80 && s->elems.items[0].key[1].hi == 81);

	s = ir_ruleset_find_ipset(rs, "lst");
	ck_assert(s->flags & IR_SET_LIST);
	ck_assert_uint_eq(s->members.n, 2);
	ck_assert_int_eq(ir_ruleset_link(rs), 0);
	ck_assert_uint_eq(s->member_sets.n, 2);

	ir_ruleset_free(rs);
	fw_ipsets_free(l);
}
END_TEST

/* Straight into the IR: the same IR sets as parsing and converting, sets without their
 * elements but with their counts, names and indexes; an element lacking a field of its type
 * fails the read and leaves the ruleset alone. */
START_TEST(ipsets_read_straight_into_ir)
{
	static struct msgbuf mb;
	struct fw_ipsets *l = parse_dump(), *direct = NULL;
	struct ir_ruleset *a, *b;
	struct strbuf sa = { 0 }, sb = { 0 };
	struct nlmsghdr *nlh;
	struct nlattr *adt, *d;
	const char *name;

	ck_assert_int_eq(ir_ruleset_new(&a), 0);
	ck_assert_int_eq(ir_ruleset_new(&b), 0);
	ck_assert_int_eq(fw_ipsets_to_ir(l, a), 0);
	build_dump(&mb);
	ck_assert_int_eq(fw_ipsets_parse_dump_into(mb.buf, mb.len, b, &direct), 0);
	ck_assert_int_eq(ir_ruleset_render_json(a, &sa), 0);
	ck_assert_int_eq(ir_ruleset_render_json(b, &sb), 0);
	ck_assert_str_eq(strbuf_str(&sa), strbuf_str(&sb));
	ck_assert_ptr_nonnull(strstr(strbuf_str(&sb), "\"allowed\""));
	ck_assert(b->ipset_info.read);
	ck_assert_uint_eq(direct->n, 7);
	ck_assert_uint_eq(fw_ipsets_find(direct, "nets")->elems.n, 0);
	ck_assert_uint_eq(fw_ipsets_find(direct, "nets")->n_elems, 2);
	ck_assert_uint_eq(fw_ipsets_find(l, "nets")->n_elems, 2);
	ck_assert(fw_ipsets_find(direct, "allowed")->has_timeout);
	ck_assert(ir_ruleset_find_ipset(b, "allowed")->flags & IR_SET_TIMEOUT);
	ck_assert_int_eq(fw_ipsets_find(direct, "ports")->kind, FW_IPSET_BITMAP_PORT);
	/* list:set members are kept: the set match takes its key layout from them */
	ck_assert_uint_eq(fw_ipsets_find(direct, "lst")->elems.n, 2);
	ck_assert_str_eq(fw_ipsets_find(direct, "lst")->elems.items[1].member, "nets");
	{
		struct fw_xt_ctx ctx = { .family = NFPROTO_IPV4,
					 .set_name = fw_ipsets_xt_name,
					 .userdata = direct };
		struct xt_set_info_match_v4 v = {
			.match_set = { .index = 6, .dim = 1, .flags = 0 },
		};
		struct ir_rule *r = rule();

		MATCH(&ctx, "set", 4, v, r);
		ck_assert_int_eq(r->preds.items[0].kind, IR_PRED_LOOKUP);
		ck_assert_str_eq(r->preds.items[0].ref.name, "lst");
		ir_rule_free(r);
	}
	ck_assert_int_eq(fw_ipsets_name(direct, 6, &name), 0);
	ck_assert_str_eq(name, "lst");
	fw_ipsets_free(direct);
	direct = NULL;
	ir_ruleset_free(b);

	/* hash:ip,port element without its port */
	mb.len = 0;
	nlh = list_msg(&mb, "ok", "hash:ip", NFPROTO_IPV4, 0);
	adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	put_ip4(nlh, IPSET_ATTR_IP, "10.0.0.1");
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, adt);
	msg_end(&mb, nlh);
	nlh = list_msg(&mb, "noport", "hash:ip,port", NFPROTO_IPV4, 1);
	adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	put_ip4(nlh, IPSET_ATTR_IP, "10.0.0.9");
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, adt);
	msg_end(&mb, nlh);
	ck_assert_int_eq(ir_ruleset_new(&b), 0);
	ck_assert_int_eq(fw_ipsets_parse_dump_into(mb.buf, mb.len, b, &direct), -EBADMSG);
	ck_assert_ptr_null(direct);
	ck_assert_uint_eq(b->ipsets.n, 0);
	ck_assert(!b->ipset_info.read);

	strbuf_done(&sa);
	strbuf_done(&sb);
	ir_ruleset_free(a);
	ir_ruleset_free(b);
	fw_ipsets_free(l);
}
END_TEST

START_TEST(set_match_by_index)
{
	struct fw_ipsets *l = parse_dump();
	struct fw_xt_ctx ctx = { .family = NFPROTO_IPV4,
				 .set_name = fw_ipsets_xt_name,
				 .userdata = l };
	struct ir_rule *r = rule();
	struct xt_set_info_match_v4 v = {
		.match_set = { .index = 3, .dim = 1, .flags = IPSET_DIM_ONE_SRC },
	};
	const struct ir_pred *p;

	MATCH(&ctx, "set", 4, v, r);
	p = &r->preds.items[0];
	ck_assert_int_eq(p->kind, IR_PRED_LOOKUP);
	ck_assert(p->ref.ipset);
	ck_assert_str_eq(p->ref.name, "allowed");
	ck_assert_uint_eq(p->ref.nkey, 1);
	ck_assert_int_eq(p->ref.key[0], IR_FIELD_SADDR);
	ck_assert(!p->negate);
	ir_rule_free(r);

	/* ! --match-set ipport dst,dst: address . protocol . port of the destination */
	r = rule();
	struct xt_set_info_match_v1 v1 = {
		.match_set = { .index = 0, .dim = 2, .flags = IPSET_INV_MATCH },
	};
	MATCH(&ctx, "set", 1, v1, r);
	p = &r->preds.items[0];
	ck_assert_str_eq(p->ref.name, "ipport");
	ck_assert_uint_eq(p->ref.nkey, 3);
	ck_assert_int_eq(p->ref.key[0], IR_FIELD_DADDR);
	ck_assert_int_eq(p->ref.key[1], IR_FIELD_L4PROTO);
	ck_assert_int_eq(p->ref.key[2], IR_FIELD_DPORT);
	ck_assert(p->negate);
	ir_rule_free(r);

	/* hash:net,iface src,src: address . input interface; list:set takes its members' layout */
	r = rule();
	v.match_set = (struct xt_set_info){ .index = 4,
					    .dim = 2,
					    .flags = IPSET_DIM_ONE_SRC | IPSET_DIM_TWO_SRC };
	MATCH(&ctx, "set", 4, v, r);
	ck_assert_int_eq(r->preds.items[0].ref.key[1], IR_FIELD_IIFNAME);
	v.match_set = (struct xt_set_info){ .index = 6, .dim = 1, .flags = 0 };
	MATCH(&ctx, "set", 4, v, r);
	ck_assert_str_eq(r->preds.items[1].ref.name, "lst");
	ck_assert_int_eq(r->preds.items[1].ref.key[0], IR_FIELD_DADDR);
	ir_rule_free(r);

	/* too few dimensions for hash:ip,port: ip_set_test() never matches */
	r = rule();
	v.match_set = (struct xt_set_info){ .index = 0, .dim = 1, .flags = 0 };
	MATCH(&ctx, "set", 4, v, r);
	ck_assert_int_eq(r->preds.items[0].kind, IR_PRED_MATCH);
	ck_assert_uint_eq(r->preds.items[0].values.n, 0);
	/* an IPv4 set in an IPv6 table never matches either */
	ctx.family = NFPROTO_IPV6;
	v.match_set = (struct xt_set_info){ .index = 3, .dim = 1, .flags = 0 };
	MATCH(&ctx, "set", 4, v, r);
	ck_assert_uint_eq(r->preds.items[1].values.n, 0);
	ctx.family = NFPROTO_IPV4;
	ir_rule_free(r);

	/* an index nobody has, counters, and no resolver: opaque with a reason */
	r = rule();
	v.match_set = (struct xt_set_info){ .index = 42, .dim = 1 };
	MATCH(&ctx, "set", 4, v, r);
	assert_opaque(r, 0, "index 42");
	v.match_set.index = 3;
	v.packets.op = IPSET_COUNTER_GT;
	MATCH(&ctx, "set", 4, v, r);
	assert_opaque(r, 1, "allowed");
	v.packets.op = IPSET_COUNTER_NONE;
	MATCH(&ctx4, "set", 4, v, r);
	assert_opaque(r, 2, "no set resolver");
	ir_rule_free(r);
	fw_ipsets_free(l);
}
END_TEST

START_TEST(comment_physdev_addrtype)
{
	struct ir_rule *r = rule();
	struct xt_comment_info c = { .comment = "cali:abc allow" };
	struct xt_physdev_info pd = {
		.physindev = "vethwe",
		.bitmask = XT_PHYSDEV_OP_IN | XT_PHYSDEV_OP_BRIDGED,
	};
	struct xt_addrtype_info_v1 at = { .dest = 1 << RTN_LOCAL,
					  .flags = XT_ADDRTYPE_INVERT_DEST };
	const struct ir_pred *p;

	memset(pd.in_mask, 0xff, strlen("vethwe")); /* `--physdev-in vethwe+` */
	MATCH(&ctx4, "comment", 0, c, r);
	ck_assert_str_eq(r->comment, "cali:abc allow");
	ck_assert_uint_eq(r->preds.n, 0);

	MATCH(&ctx4, "physdev", 0, pd, r);
	ck_assert_uint_eq(r->preds.n, 2);
	/* --physdev-is-bridged: a bridge output port exists */
	p = &r->preds.items[0];
	ck_assert_int_eq(p->field, IR_FIELD_PHYSDEV_OUT);
	ck_assert(p->negate);
	ck_assert_str_eq(p->ifnames.items[0].name, "");
	p = &r->preds.items[1];
	ck_assert_int_eq(p->field, IR_FIELD_PHYSDEV_IN);
	ck_assert_str_eq(p->ifnames.items[0].name, "vethwe");
	ck_assert(p->ifnames.items[0].prefix);

	MATCH(&ctx4, "addrtype", 1, at, r);
	p = &r->preds.items[2];
	ck_assert_int_eq(p->field, IR_FIELD_DADDR_TYPE);
	ck_assert(p->negate);
	ck_assert(np_iset_contains(&p->values, RTN_LOCAL));
	ck_assert_uint_eq(p->values.n, 1);

	at.flags = XT_ADDRTYPE_LIMIT_IFACE_OUT;
	MATCH(&ctx4, "addrtype", 1, at, r);
	assert_opaque(r, 3, "limit-iface-out");
	ir_rule_free(r);
}
END_TEST

START_TEST(iprange_mac_icmp_limit)
{
	struct ir_rule *r = rule();
	struct xt_iprange_mtinfo ir = { .flags = IPRANGE_SRC | IPRANGE_DST | IPRANGE_DST_INV };
	struct xt_mac_info mac = { .srcaddr = { 0, 0x11, 0x22, 0x33, 0x44, 0x55 } };
	struct ipt_icmp icmp = { .type = 8, .code = { 0, 0xff } };
	struct xt_rateinfo lim = { .avg = XT_LIMIT_SCALE / 5, .burst = 10 };

	inet_pton(AF_INET, "10.2.0.1", &ir.src_min.in);
	inet_pton(AF_INET, "10.2.0.9", &ir.src_max.in);
	inet_pton(AF_INET, "192.168.0.0", &ir.dst_min.in);
	inet_pton(AF_INET, "192.168.0.255", &ir.dst_max.in);
	MATCH(&ctx4, "iprange", 1, ir, r);
	assert_range(r, 0, IR_FIELD_SADDR, false, ip("10.2.0.1"), ip("10.2.0.9"));
	assert_range(r, 1, IR_FIELD_DADDR, true, ip("192.168.0.0"), ip("192.168.0.255"));

	MATCH(&ctx4, "mac", 0, mac, r);
	assert_opaque(r, 2, "00:11:22:33:44:55");

	MATCH(&ctx4, "icmp", 0, icmp, r);
	assert_range(r, 3, IR_FIELD_L4PROTO, false, IPPROTO_ICMP, IPPROTO_ICMP);
	assert_range(r, 4, IR_FIELD_ICMP_TYPE, false, 8, 8);
	icmp = (struct ipt_icmp){ .type = 3, .code = { 1, 1 }, .invflags = IPT_ICMP_INV };
	MATCH(&ctx4, "icmp", 0, icmp, r);
	assert_opaque(r, 6, "negated type and code");

	MATCH(&ctx4, "limit", 0, lim, r);
	ck_assert_uint_eq(r->stmts.n, 1);
	ck_assert_int_eq(r->stmts.items[0].kind, IR_STMT_LIMIT);
	ck_assert_str_eq(r->stmts.items[0].text, "5/second burst 10");
	ir_rule_free(r);

	/* icmp6 in an IPv6 table */
	r = rule();
	icmp = (struct ipt_icmp){ .type = 128, .code = { 0, 0xff }, .invflags = IPT_ICMP_INV };
	MATCH(&ctx6, "icmp6", 0, icmp, r);
	assert_range(r, 0, IR_FIELD_L4PROTO, false, IPPROTO_ICMPV6, IPPROTO_ICMPV6);
	assert_range(r, 1, IR_FIELD_ICMP_TYPE, true, 128, 128);
	ir_rule_free(r);
}
END_TEST

START_TEST(unknown_and_short_are_opaque)
{
	struct ir_rule *r = rule();
	uint8_t blob[24] = { 0 };
	struct xt_tcp t = { 0 };

	ck_assert_int_eq(fw_xt_match_to_ir(&ctx4, "u32", 0, blob, sizeof(blob), r), 0);
	assert_opaque(r, 0, "xtables match u32 rev 0 (24 bytes)");
	/* a known match in an unknown revision */
	ck_assert_int_eq(fw_xt_match_to_ir(&ctx4, "conntrack", 9, blob, sizeof(blob), r), 0);
	assert_opaque(r, 1, "conntrack rev 9");
	/* a blob shorter than the struct */
	ck_assert_int_eq(fw_xt_match_to_ir(&ctx4, "tcp", 0, &t, 4, r), 0);
	assert_opaque(r, 2, "too short");
	ck_assert_int_eq(fw_xt_match_to_ir(&ctx4, "tcp", 0, NULL, 0, r), 0);
	assert_opaque(r, 3, "too short");
	ck_assert(ir_rule_is_opaque(r));
	/* unknown target: an opaque statement */
	ck_assert_int_eq(fw_xt_target_to_ir(&ctx4, "FOO", 1, blob, 8, r), 0);
	ck_assert_uint_eq(r->stmts.n, 1);
	ck_assert_int_eq(r->stmts.items[0].kind, IR_STMT_OPAQUE);
	ck_assert(strstr(r->stmts.items[0].text, "xtables target FOO rev 1 (8 bytes)"));
	ir_rule_free(r);
}
END_TEST

START_TEST(standard_verdicts)
{
	struct ir_rule *r = rule();

	ck_assert_int_eq(fw_xt_verdict_to_ir(-NF_ACCEPT - 1, NULL, 0, r), 0);
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_ACCEPT);
	ck_assert_int_eq(fw_xt_verdict_to_ir(-NF_DROP - 1, NULL, 0, r), 0);
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_DROP);
	ck_assert_int_eq(fw_xt_verdict_to_ir(XT_RETURN, NULL, 0, r), 0);
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_RETURN);
	ck_assert_int_eq(fw_xt_verdict_to_ir(-NF_QUEUE - 1, NULL, 0, r), 0);
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_QUEUE);
	ck_assert_int_eq(fw_xt_verdict_to_ir(0, "cali-fw-veth1", 0, r), 0);
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_JUMP);
	ck_assert_str_eq(r->verdict.chain, "cali-fw-veth1");
	ck_assert_int_eq(fw_xt_verdict_to_ir(0, "KUBE-SVC", 1, r), 0);
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_GOTO);
	ck_assert_int_eq(fw_xt_verdict_to_ir(12345, NULL, 0, r), -EINVAL);
	/* the labels libiptc gives */
	ck_assert_int_eq(fw_xt_target_to_ir(&ctx4, "RETURN", 0, NULL, 0, r), 0);
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_RETURN);
	ir_rule_free(r);
}
END_TEST

START_TEST(targets)
{
	struct ir_rule *r = rule();
	struct ipt_reject_info rej = { .with = IPT_ICMP_PORT_UNREACHABLE };
	struct xt_log_info log = { .level = 4, .prefix = "drop: " };
	struct xt_NFQ_info_v3 q = { .queuenum = 3, .queues_total = 2, .flags = NFQ_FLAG_BYPASS };
	struct xt_mark_tginfo2 mark = { .mark = 0x10000, .mask = 0x30000 };
	struct xt_connmark_tginfo2 cm = { .ctmask = 0xff,
					  .nfmask = 0xff00,
					  .mode = XT_CONNMARK_SAVE };
	const struct ir_stmt *s;

	TARGET(&ctx4, "REJECT", 0, rej, r);
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_REJECT);
	ir_rule_free(r);

	r = rule();
	TARGET(&ctx4, "LOG", 0, log, r);
	ck_assert_int_eq(r->stmts.items[0].kind, IR_STMT_LOG);
	ck_assert_str_eq(r->stmts.items[0].text, "drop: ");
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_CONTINUE);
	ir_rule_free(r);

	r = rule();
	TARGET(&ctx4, "NFQUEUE", 3, q, r);
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_QUEUE);
	ck_assert_uint_eq(r->verdict.queue_num, 3);
	ck_assert_uint_eq(r->verdict.queue_last, 4);
	ck_assert(r->verdict.queue_bypass);
	ir_rule_free(r);

	r = rule();
	TARGET(&ctx4, "MARK", 2, mark, r);
	s = &r->stmts.items[0];
	ck_assert_int_eq(s->kind, IR_STMT_MARK);
	ck_assert_int_eq(s->mark_dst, IR_FIELD_META_MARK);
	ck_assert_uint_eq(s->mark_clear, 0x30000);
	ck_assert_uint_eq(s->mark_xor, 0x10000);
	ck_assert_int_eq(r->verdict.kind, IR_VERDICT_CONTINUE);

	TARGET(&ctx4, "CONNMARK", 2, cm, r);
	s = &r->stmts.items[1];
	ck_assert_int_eq(s->mark_dst, IR_FIELD_CT_MARK);
	ck_assert_int_eq(s->mark_src, IR_FIELD_META_MARK);
	ck_assert_uint_eq(s->mark_src_mask, 0xff00);
	ck_assert_uint_eq(s->mark_clear, 0xff);

	cm.mode = XT_CONNMARK_RESTORE;
	TARGET(&ctx4, "CONNMARK", 2, cm, r);
	s = &r->stmts.items[2];
	ck_assert_int_eq(s->mark_dst, IR_FIELD_META_MARK);
	ck_assert_int_eq(s->mark_src, IR_FIELD_CT_MARK);
	ck_assert_uint_eq(s->mark_src_mask, 0xff);
	ck_assert_uint_eq(s->mark_clear, 0xff00);

	cm = (struct xt_connmark_tginfo2){ .ctmark = 0x5, .ctmask = 0xf, .mode = XT_CONNMARK_SET };
	TARGET(&ctx4, "CONNMARK", 2, cm, r);
	s = &r->stmts.items[3];
	ck_assert_int_eq(s->mark_dst, IR_FIELD_CT_MARK);
	ck_assert_uint_eq(s->mark_xor, 0x5);

	cm.shift_bits = 8;
	TARGET(&ctx4, "CONNMARK", 2, cm, r);
	ck_assert_int_eq(r->stmts.items[4].kind, IR_STMT_OPAQUE);
	ir_rule_free(r);
}
END_TEST

START_TEST(ifname_masks)
{
	struct ir_ifname n = { 0 };
	unsigned char mask[IFNAMSIZ] = { 0 };
	char via[IFNAMSIZ] = "eth0";

	/* exact: mask over strlen + 1 */
	memset(mask, 0xff, 5);
	ck_assert_int_eq(fw_xt_ifname_from_mask(via, mask, IFNAMSIZ, &n), 1);
	ck_assert_str_eq(n.name, "eth0");
	ck_assert(!n.prefix);
	free(n.name);
	/* `eth+`: mask over strlen of the prefix */
	memset(mask, 0, sizeof(mask));
	memset(mask, 0xff, 3);
	snprintf(via, sizeof(via), "eth");
	ck_assert_int_eq(fw_xt_ifname_from_mask(via, mask, IFNAMSIZ, &n), 1);
	ck_assert_str_eq(n.name, "eth");
	ck_assert(n.prefix);
	free(n.name);
	/* no mask: any interface */
	memset(mask, 0, sizeof(mask));
	ck_assert_int_eq(fw_xt_ifname_from_mask(via, mask, IFNAMSIZ, &n), 0);
	/* holes in the mask: not a pattern */
	mask[0] = 0xff;
	mask[2] = 0xff;
	ck_assert_int_eq(fw_xt_ifname_from_mask(via, mask, IFNAMSIZ, &n), -EINVAL);
}
END_TEST

START_TEST(icmp6_has_no_any_type)
{
	struct ir_rule *r = rule();
	struct ipt_icmp v = { .type = 0xff, .code = { 0, 0xff } };

	/* ip6_tables' icmp6_type_code_match() has no 0xff wildcard, unlike IPv4 */
	MATCH(&ctx6, "icmp6", 0, v, r);
	assert_range(r, 1, IR_FIELD_ICMP_TYPE, false, 0xff, 0xff);
	ir_rule_free(r);
	r = rule();
	MATCH(&ctx4, "icmp", 0, v, r);
	ck_assert_uint_eq(r->preds.n, 1); /* protocol only: any type */
	/* icmp6 in an IPv4 table is not decoded */
	MATCH(&ctx4, "icmp6", 0, v, r);
	assert_opaque(r, 1, "icmp6 rev 0");
	ir_rule_free(r);
}
END_TEST

START_TEST(nat_and_ct_targets)
{
	struct ir_rule *r = rule();
	struct nf_nat_range2 dnat = { .flags =
					      NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED };
	const struct ir_stmt *s;

	inet_pton(AF_INET, "10.0.0.5", &dnat.min_addr.in);
	inet_pton(AF_INET, "10.0.0.5", &dnat.max_addr.in);
	dnat.min_proto.all = htons(6443);
	dnat.max_proto.all = htons(6443);
	TARGET(&ctx4, "DNAT", 2, dnat, r);
	s = &r->stmts.items[0];
	ck_assert_int_eq(s->kind, IR_STMT_NAT);
	ck_assert_int_eq(s->nat, IR_NAT_DNAT);
	ck_assert(s->nat_has_addr && s->nat_addr_lo == ip("10.0.0.5"));
	ck_assert(s->nat_has_port && s->nat_port_lo == 6443);
	ir_rule_free(r);

	r = rule();
	struct xt_ct_target_info_v1 ct = { .flags = XT_CT_NOTRACK };
	TARGET(&ctx4, "CT", 1, ct, r);
	ck_assert_int_eq(r->stmts.items[0].kind, IR_STMT_NOTRACK);
	ct = (struct xt_ct_target_info_v1){ .zone = 7 };
	TARGET(&ctx4, "CT", 1, ct, r);
	ck_assert_int_eq(r->stmts.items[1].kind, IR_STMT_OPAQUE);
	ir_rule_free(r);
}
END_TEST

START_TEST(set_match_three_dimensions)
{
	static struct msgbuf mb;
	struct fw_ipsets *l = NULL;
	struct nlmsghdr *nlh;
	struct nlattr *adt, *d;
	struct ir_ruleset *rs;
	struct ir_rule *r = rule();
	struct fw_xt_ctx ctx = { .family = NFPROTO_IPV4, .set_name = fw_ipsets_xt_name };
	struct xt_set_info_match_v4 v = {
		.match_set = { .index = 9,
			       .dim = 3,
			       .flags = IPSET_DIM_ONE_SRC | IPSET_DIM_THREE_SRC },
	};
	const struct ir_set *s;

	mb.len = 0;
	nlh = list_msg(&mb, "ipi", "hash:ip,port,ip", NFPROTO_IPV4, 9);
	adt = mnl_attr_nest_start(nlh, IPSET_ATTR_ADT);
	d = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	put_ip4(nlh, IPSET_ATTR_IP, "10.0.0.1");
	mnl_attr_put_u16(nlh, IPSET_ATTR_PORT | NLA_F_NET_BYTEORDER, htons(80));
	mnl_attr_put_u8(nlh, IPSET_ATTR_PROTO, IPPROTO_TCP);
	put_ip4(nlh, IPSET_ATTR_IP2, "10.0.0.2");
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, adt);
	msg_end(&mb, nlh);
	ck_assert_int_eq(fw_ipsets_parse_dump(mb.buf, mb.len, &l), 0);
	ctx.userdata = l;

	MATCH(&ctx, "set", 4, v, r);
	ck_assert_uint_eq(r->preds.items[0].ref.nkey, 4);
	ck_assert_int_eq(r->preds.items[0].ref.key[0], IR_FIELD_SADDR);
	ck_assert_int_eq(r->preds.items[0].ref.key[2], IR_FIELD_DPORT);
	ck_assert_int_eq(r->preds.items[0].ref.key[3], IR_FIELD_SADDR);

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	ck_assert_int_eq(fw_ipsets_to_ir(l, rs), 0);
	s = ir_ruleset_find_ipset(rs, "ipi");
	ck_assert_uint_eq(s->nkey, 4);
	ck_assert(s->elems.items[0].key[3].lo == ip("10.0.0.2"));
	ir_ruleset_free(rs);
	ir_rule_free(r);
	fw_ipsets_free(l);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fw");
	TCase *tc = tcase_create("xt");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, tcp_ports_with_inversion);
	tcase_add_test(tc, udp_ports);
	tcase_add_test(tc, multiport);
	tcase_add_test(tc, conntrack_and_state);
	tcase_add_test(tc, mark_and_connmark);
	tcase_add_test(tc, set_match_by_index);
	tcase_add_test(tc, comment_physdev_addrtype);
	tcase_add_test(tc, iprange_mac_icmp_limit);
	tcase_add_test(tc, unknown_and_short_are_opaque);
	tcase_add_test(tc, standard_verdicts);
	tcase_add_test(tc, targets);
	tcase_add_test(tc, ifname_masks);
	tcase_add_test(tc, icmp6_has_no_any_type);
	tcase_add_test(tc, nat_and_ct_targets);
	suite_add_tcase(s, tc);
	tc = tcase_create("ipset");
	tcase_add_test(tc, ipset_dump_parse);
	tcase_add_test(tc, ipset_dump_malformed);
	tcase_add_test(tc, ipsets_into_ir);
	tcase_add_test(tc, ipsets_read_straight_into_ir);
	tcase_add_test(tc, set_match_three_dimensions);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
