/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xtables match and target blobs into IR predicates and statements, one decoder per extension
 * and revision, with the kernel's semantics (net/netfilter/xt_*.c). The blob layouts are the
 * uapi structs; a blob shorter than the fields read, a revision not listed, or an option the IR
 * cannot express becomes an opaque predicate or statement naming the extension, its revision,
 * the blob size and what was not understood.
 *
 * Blobs are copied into local structs before reading: they come from netlink attributes and
 * libiptc entries with no alignment guarantee.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_addrtype.h>
#include <linux/netfilter/xt_comment.h>
#include <linux/netfilter/xt_connmark.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_CT.h>
#include <linux/netfilter/xt_dscp.h>
#include <linux/netfilter/xt_iprange.h>
#include <linux/netfilter/xt_length.h>
#include <linux/netfilter/xt_limit.h>
#include <linux/netfilter/xt_LOG.h>
#include <linux/netfilter/xt_mac.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_multiport.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <linux/netfilter/xt_physdev.h>
#include <linux/netfilter/xt_pkttype.h>
#include <linux/netfilter/xt_rpfilter.h>
#include <linux/netfilter/xt_sctp.h>
#include <linux/netfilter/xt_set.h>
#include <linux/netfilter/xt_state.h>
#include <linux/netfilter/xt_tcpudp.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv4/ipt_REJECT.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/netfilter_ipv6/ip6t_REJECT.h>

#include "ir/ir.h"
#include "fw.h"
#include "xt.h"

struct xt_item {
	const struct fw_xt_ctx *ctx;
	const char *name;
	uint8_t rev;
	const void *data;
	size_t len;
	struct ir_rule *r;
};

/* Copies the first n bytes of the blob into dst (zero-filling past the blob); returns whether
 * the blob holds at least need bytes. */
static bool blob_get(const struct xt_item *x, void *dst, size_t n, size_t need)
{
	memset(dst, 0, n);
	if (x->len > 0)
		memcpy(dst, x->data, MIN(n, x->len));
	return x->len >= need;
}

#define BLOB(x, v) blob_get((x), &(v), sizeof(v), sizeof(v))
#define BLOB_UPTO(x, v, field) blob_get((x), &(v), sizeof(v), offsetof(__typeof__(v), field))

static int match_opaque(const struct xt_item *x, const char *fmt, ...) _printf_(2, 3);
static int match_opaque(const struct xt_item *x, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return ir_rule_add_opaque(x->r, "xtables match %s rev %u (%zu bytes): %s", x->name, x->rev,
				  x->len, why);
}

static int target_opaque(const struct xt_item *x, const char *fmt, ...) _printf_(2, 3);
static int target_opaque(const struct xt_item *x, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return ir_rule_add_note(x->r, IR_STMT_OPAQUE, "xtables target %s rev %u (%zu bytes): %s",
				x->name, x->rev, x->len, why);
}

static int short_blob(const struct xt_item *x, bool target)
{
	return target ? target_opaque(x, "blob too short") : match_opaque(x, "blob too short");
}

/* A predicate that never matches (field ∈ {}), or nothing when negated (always matches). */
static int add_never(struct ir_rule *r, bool negate)
{
	struct np_iset none = { 0 };

	if (negate)
		return 0;
	return ir_rule_add_match(r, IR_FIELD_NFPROTO, false, &none);
}

static int add_num(struct ir_rule *r, enum ir_field f, bool negate, np_u128 lo, np_u128 hi)
{
	return ir_rule_add_match_range(r, f, negate, lo, hi);
}

/* Port range predicate; a full range is no predicate (or never when inverted). */
static int add_ports(struct ir_rule *r, enum ir_field f, uint16_t lo, uint16_t hi, bool inv)
{
	if (lo > hi) /* the kernel's range test fails for every port */
		return add_never(r, inv);
	if (lo == 0 && hi == UINT16_MAX)
		return inv ? add_never(r, false) : 0;
	return add_num(r, f, inv, lo, hi);
}

static np_u128 inet_addr_value(const union nf_inet_addr *a, uint8_t family)
{
	np_u128 v = 0;

	if (family == NFPROTO_IPV4)
		return np_v4(ntohl(a->ip));
	for (int i = 0; i < 16; i++)
		v = (v << 8) | ((const uint8_t *)a->ip6)[i];
	return v;
}

/* --- interface name patterns (iptables: name + byte mask) --- */

/*
 * x_tables compares interface names under a mask (ifname_compare_aligned): libiptc sets the
 * mask over strlen(name) + 1 bytes for an exact name and over strlen(name) bytes for `name+`.
 * Returns 1 and the pattern (exact or prefix), 0 for "any interface" (empty prefix), or
 * -EINVAL for a mask that is not a prefix of ones.
 */
int fw_xt_ifname_from_mask(const char *via, const unsigned char *mask, size_t size,
			   struct ir_ifname *ret)
{
	size_t m = 0, l;

	while (m < size && mask[m] == 0xff)
		m++;
	for (size_t i = m; i < size; i++)
		if (mask[i] != 0)
			return -EINVAL;
	l = strnlen(via, size);
	if (m == 0)
		return 0;
	if (m > l) {
		ret->name = strndup(via, l);
		ret->prefix = false;
	} else {
		ret->name = strndup(via, m);
		ret->prefix = true;
	}
	if (!ret->name)
		return -ENOMEM;
	return 1;
}

/* Adds field ~ pattern from via/mask; an empty pattern adds nothing (or never when negated). */
static int add_ifname_masked(struct ir_rule *r, enum ir_field f, bool negate, const char *via,
			     const unsigned char *mask, size_t size, bool *ret_bad)
{
	struct ir_pred p = { .kind = IR_PRED_MATCH, .field = f, .negate = negate };
	struct ir_ifname n = { 0 };
	int k;

	*ret_bad = false;
	k = fw_xt_ifname_from_mask(via, mask, size, &n);
	if (k == -EINVAL) {
		*ret_bad = true;
		return 0;
	}
	if (k < 0)
		return k;
	if (k == 0)
		return negate ? add_never(r, false) : 0;
	if (VEC_PUSH(&p.ifnames, n) < 0) {
		free(n.name);
		return -ENOMEM;
	}
	return ir_rule_add_pred(r, &p);
}

/* --- matches --- */

static int mt_tcp(const struct xt_item *x)
{
	struct xt_tcp v;
	int k;

	if (!BLOB(x, v))
		return short_blob(x, false);
	k = add_num(x->r, IR_FIELD_L4PROTO, false, IPPROTO_TCP, IPPROTO_TCP);
	if (k >= 0)
		k = add_ports(x->r, IR_FIELD_SPORT, v.spts[0], v.spts[1],
			      v.invflags & XT_TCP_INV_SRCPT);
	if (k >= 0)
		k = add_ports(x->r, IR_FIELD_DPORT, v.dpts[0], v.dpts[1],
			      v.invflags & XT_TCP_INV_DSTPT);
	if (k >= 0 && v.flg_mask) {
		struct np_iset s = { 0 };

		k = np_iset_add(&s, v.flg_cmp & v.flg_mask, v.flg_cmp & v.flg_mask);
		if (k >= 0)
			k = ir_rule_add_match_masked(x->r, IR_FIELD_TCP_FLAGS, v.flg_mask,
						     v.invflags & XT_TCP_INV_FLAGS, &s);
		np_iset_done(&s);
	}
	if (k >= 0 && v.option)
		k = match_opaque(x, "%s--tcp-option %u", v.invflags & XT_TCP_INV_OPTION ? "! " : "",
				 v.option);
	return k;
}

static int mt_udp(const struct xt_item *x, uint8_t proto)
{
	struct xt_udp v;
	int k;

	if (!BLOB(x, v))
		return short_blob(x, false);
	k = add_num(x->r, IR_FIELD_L4PROTO, false, proto, proto);
	if (k >= 0)
		k = add_ports(x->r, IR_FIELD_SPORT, v.spts[0], v.spts[1],
			      v.invflags & XT_UDP_INV_SRCPT);
	if (k >= 0)
		k = add_ports(x->r, IR_FIELD_DPORT, v.dpts[0], v.dpts[1],
			      v.invflags & XT_UDP_INV_DSTPT);
	return k;
}

static int mt_sctp(const struct xt_item *x)
{
	struct xt_sctp_info v;
	int k;

	if (!BLOB(x, v))
		return short_blob(x, false);
	k = add_num(x->r, IR_FIELD_L4PROTO, false, IPPROTO_SCTP, IPPROTO_SCTP);
	if (k >= 0 && (v.flags & XT_SCTP_SRC_PORTS))
		k = add_ports(x->r, IR_FIELD_SPORT, v.spts[0], v.spts[1],
			      v.invflags & XT_SCTP_SRC_PORTS);
	if (k >= 0 && (v.flags & XT_SCTP_DEST_PORTS))
		k = add_ports(x->r, IR_FIELD_DPORT, v.dpts[0], v.dpts[1],
			      v.invflags & XT_SCTP_DEST_PORTS);
	if (k >= 0 && (v.flags & XT_SCTP_CHUNK_TYPES))
		k = match_opaque(x, "--chunk-types not modelled");
	return k;
}

/* icmp and icmp6 share a layout: type, code[2], invflags (IPT_ICMP_INV == IP6T_ICMP_INV). */
static int mt_icmp(const struct xt_item *x, uint8_t proto)
{
	struct ipt_icmp v;
	bool inv;
	int k;

	if (!BLOB(x, v))
		return short_blob(x, false);
	inv = v.invflags & IPT_ICMP_INV;
	k = add_num(x->r, IR_FIELD_L4PROTO, false, proto, proto);
	if (k < 0)
		return k;
	/* IPv4 type 0xff is iptables' "any" (icmp_type_code_match: test_type == 0xFF). */
	if (proto == IPPROTO_ICMP && v.type == 0xff)
		return add_never(x->r, !inv);
	if (v.code[0] > v.code[1])
		return add_never(x->r, inv);
	if (v.code[0] == 0 && v.code[1] == 0xff)
		return add_num(x->r, IR_FIELD_ICMP_TYPE, inv, v.type, v.type);
	if (inv)
		return match_opaque(x, "! --icmp-type %u/%u-%u: negated type and code", v.type,
				    v.code[0], v.code[1]);
	k = add_num(x->r, IR_FIELD_ICMP_TYPE, false, v.type, v.type);
	if (k >= 0)
		k = add_num(x->r, IR_FIELD_ICMP_CODE, false, v.code[0], v.code[1]);
	return k;
}

static int mt_multiport(const struct xt_item *x)
{
	struct np_iset s = { 0 };
	uint8_t flags, count;
	bool inv = false;
	enum ir_field f;
	int k = 0;

	if (x->rev == 0) {
		struct xt_multiport v;

		if (!BLOB(x, v))
			return short_blob(x, false);
		flags = v.flags;
		count = MIN(v.count, XT_MULTI_PORTS);
		for (unsigned i = 0; i < count && k >= 0; i++)
			k = np_iset_add(&s, v.ports[i], v.ports[i]);
	} else if (x->rev == 1) {
		struct xt_multiport_v1 v;

		if (!BLOB(x, v))
			return short_blob(x, false);
		flags = v.flags;
		count = MIN(v.count, XT_MULTI_PORTS);
		inv = v.invert;
		for (unsigned i = 0; i < count && k >= 0; i++) {
			/* pflags[i]: ports[i]..ports[i+1] is a range (xt_multiport.c
			 * ports_match_v1) */
			if (v.pflags[i] && i + 1 < count) {
				if (v.ports[i] <= v.ports[i + 1])
					k = np_iset_add(&s, v.ports[i], v.ports[i + 1]);
				i++;
			} else
				k = np_iset_add(&s, v.ports[i], v.ports[i]);
		}
	} else
		return match_opaque(x, "revision not decoded");
	if (k < 0) {
		np_iset_done(&s);
		return k;
	}
	np_iset_normalize(&s);
	switch (flags) {
	case XT_MULTIPORT_SOURCE:
		f = IR_FIELD_SPORT;
		break;
	case XT_MULTIPORT_DESTINATION:
		f = IR_FIELD_DPORT;
		break;
	default:
		np_iset_done(&s);
		/* --ports: source OR destination, not a conjunction of predicates */
		return match_opaque(x, "%s--ports (source or destination)", inv ? "! " : "");
	}
	return ir_rule_add_match(x->r, f, inv, &s);
}

/* conntrack: the state, direction, protocol and status options become predicates; address,
 * port and expiry options an opaque predicate (all are ANDed, so the result stays exact). */
static int mt_conntrack(const struct xt_item *x)
{
	uint16_t match_flags, invert_flags, state_mask, status_mask, l4proto;
	int k = 0;

	if (x->rev == 1) {
		struct xt_conntrack_mtinfo1 v;

		if (!BLOB(x, v))
			return short_blob(x, false);
		match_flags = v.match_flags, invert_flags = v.invert_flags;
		state_mask = v.state_mask, status_mask = v.status_mask, l4proto = v.l4proto;
	} else if (x->rev == 2 || x->rev == 3) {
		struct xt_conntrack_mtinfo2 v; /* rev 3 extends rev 2 at the end */

		if (!BLOB(x, v))
			return short_blob(x, false);
		match_flags = v.match_flags, invert_flags = v.invert_flags;
		state_mask = v.state_mask, status_mask = v.status_mask, l4proto = v.l4proto;
	} else
		return match_opaque(x, "revision not decoded");

	if (match_flags & XT_CONNTRACK_STATE)
		k = ir_rule_add_bits(x->r, IR_FIELD_CT_STATE, state_mask,
				     invert_flags & XT_CONNTRACK_STATE);
	/* --ctdir REPLY sets the flag, --ctdir ORIGINAL sets it inverted (conntrack_mt) */
	if (k >= 0 && (match_flags & XT_CONNTRACK_DIRECTION))
		k = add_num(x->r, IR_FIELD_CT_DIRECTION, invert_flags & XT_CONNTRACK_DIRECTION, 1,
			    1);
	if (k >= 0 && (match_flags & XT_CONNTRACK_PROTO))
		k = add_num(x->r, IR_FIELD_L4PROTO, invert_flags & XT_CONNTRACK_PROTO, l4proto,
			    l4proto);
	if (k >= 0 && (match_flags & XT_CONNTRACK_STATUS))
		k = ir_rule_add_bits(x->r, IR_FIELD_CT_STATUS, status_mask,
				     invert_flags & XT_CONNTRACK_STATUS);
	if (k >= 0) {
		uint16_t rest = match_flags &
				~(XT_CONNTRACK_STATE | XT_CONNTRACK_DIRECTION | XT_CONNTRACK_PROTO |
				  XT_CONNTRACK_STATUS | XT_CONNTRACK_STATE_ALIAS);
		if (rest)
			k = match_opaque(x,
					 "original/reply tuple or expiry options 0x%x not modelled",
					 rest);
	}
	return k;
}

static int mt_state(const struct xt_item *x)
{
	struct xt_state_info v;

	if (!BLOB(x, v))
		return short_blob(x, false);
	/* XT_STATE_BIT(ctinfo) has the same encoding as the IR's (and nft's) ct state bits. */
	return ir_rule_add_bits(x->r, IR_FIELD_CT_STATE, v.statemask, false);
}

static int mt_mark(const struct xt_item *x, enum ir_field f)
{
	struct xt_mark_mtinfo1 v; /* == struct xt_connmark_mtinfo1 */
	struct np_iset s = { 0 };
	int k;

	if (x->rev != 1)
		return match_opaque(x, "revision not decoded");
	if (!BLOB(x, v))
		return short_blob(x, false);
	k = np_iset_add(&s, v.mark & v.mask, v.mark & v.mask);
	if (k >= 0 && (v.mark & ~v.mask)) {
		/* (mark & mask) == value can never hold when value has bits outside mask */
		np_iset_clear(&s);
	}
	if (k >= 0)
		k = ir_rule_add_match_masked(x->r, f, v.mask, v.invert, &s);
	np_iset_done(&s);
	return k;
}

void fw_xt_comment_append(const void *data, size_t len, char *buf, size_t size)
{
	const struct xt_item x = { .data = data, .len = data ? len : 0 };
	struct xt_comment_info v;

	BLOB_UPTO(&x, v, comment);
	v.comment[sizeof(v.comment) - 1] = 0;
	if (x.len < sizeof(v.comment))
		v.comment[MIN(x.len, sizeof(v.comment) - 1)] = 0;
	/* The first comment names the rule; later ones are appended. */
	size = MIN(size, (size_t)FW_XT_COMMENT_MAX);
	if (size == 0)
		return;
	if (*buf) {
		size_t n = strnlen(buf, size - 1);

		for (const char *p = "; "; *p && n + 1 < size; p++)
			buf[n++] = *p;
		for (const char *p = v.comment; *p && n + 1 < size; p++)
			buf[n++] = *p;
		buf[n] = 0;
	} else {
		size_t n = MIN(strlen(v.comment), size - 1);

		memcpy(buf, v.comment, n);
		buf[n] = 0;
	}
}

static int mt_comment(const struct xt_item *x)
{
	char buf[FW_XT_COMMENT_MAX];

	snprintf(buf, sizeof(buf), "%s", x->r->comment ? x->r->comment : "");
	fw_xt_comment_append(x->data, x->len, buf, sizeof(buf));
	return ir_rule_set_comment(x->r, buf);
}

/*
 * physdev (physdev_mt): without bridge info the match holds only if every option used is
 * inverted; with it, each option is tested. PHYSDEV_IN/OUT are "" for a packet that was not
 * bridged (and PHYSDEV_OUT for a bridged packet delivered locally), so every option is one
 * predicate on those names that is false for such a packet unless inverted, and the
 * conjunction is exact: --physdev-is-in: IN != "", --physdev-is-out and --physdev-is-bridged
 * (the kernel tests the bridge output port): OUT != "", --physdev-in NAME: IN ~ NAME.
 * One corner is not: the kernel fails `! --physdev-out NAME` for a bridged packet without an
 * output port (bridged, then delivered locally: the INPUT hook), while OUT !~ NAME holds for
 * it; that needs a disjunction (not bridged, or has an output port) the IR cannot state.
 */
static int mt_physdev(const struct xt_item *x)
{
	static const unsigned char one[1] = { 0xff };
	struct xt_physdev_info v;
	bool bad = false;
	int k = 0;

	if (x->rev != 0)
		return match_opaque(x, "revision not decoded");
	if (!BLOB(x, v))
		return short_blob(x, false);
	v.physindev[IFNAMSIZ - 1] = v.physoutdev[IFNAMSIZ - 1] = 0;
	if (v.bitmask & ~XT_PHYSDEV_OP_MASK)
		return match_opaque(x, "unknown options 0x%x", v.bitmask);
	if (v.bitmask & XT_PHYSDEV_OP_ISIN)
		k = add_ifname_masked(x->r, IR_FIELD_PHYSDEV_IN, !(v.invert & XT_PHYSDEV_OP_ISIN),
				      "", one, 1, &bad);
	if (k >= 0 && (v.bitmask & XT_PHYSDEV_OP_ISOUT))
		k = add_ifname_masked(x->r, IR_FIELD_PHYSDEV_OUT, !(v.invert & XT_PHYSDEV_OP_ISOUT),
				      "", one, 1, &bad);
	if (k >= 0 && (v.bitmask & XT_PHYSDEV_OP_BRIDGED))
		k = add_ifname_masked(x->r, IR_FIELD_PHYSDEV_OUT,
				      !(v.invert & XT_PHYSDEV_OP_BRIDGED), "", one, 1, &bad);
	for (int dir = 0; dir < 2 && k >= 0 && !bad; dir++) {
		uint8_t op = dir ? XT_PHYSDEV_OP_OUT : XT_PHYSDEV_OP_IN;
		const char *via = dir ? v.physoutdev : v.physindev;
		const unsigned char *mask = (const unsigned char *)(dir ? v.out_mask : v.in_mask);
		enum ir_field f = dir ? IR_FIELD_PHYSDEV_OUT : IR_FIELD_PHYSDEV_IN;
		bool inv = v.invert & op;

		if (!(v.bitmask & op))
			continue;
		if (!via[0] || mask[0] != 0xff)
			/* `--physdev-in +`: any port, i.e. the packet has one */
			k = add_ifname_masked(x->r, f, !inv, "", one, 1, &bad);
		else
			k = add_ifname_masked(x->r, f, inv, via, mask, IFNAMSIZ, &bad);
	}
	if (k >= 0 && bad)
		k = match_opaque(x, "interface mask is not a prefix");
	return k;
}

/* Adds field ∈ { RTN_* types whose bit (1 << RTN_x) is in mask }. */
static int add_addrtype(struct ir_rule *r, enum ir_field f, uint16_t mask, bool inv)
{
	struct np_iset s = { 0 };
	int k = 0;

	for (unsigned t = 0; t < 16 && k >= 0; t++)
		if (mask & (1u << t))
			k = np_iset_add(&s, t, t);
	if (k < 0) {
		np_iset_done(&s);
		return k;
	}
	np_iset_normalize(&s);
	return ir_rule_add_match(r, f, inv, &s);
}

static int mt_addrtype(const struct xt_item *x)
{
	uint16_t src, dst;
	bool inv_src, inv_dst;
	int k = 0;

	if (x->rev == 0) {
		struct xt_addrtype_info v;

		if (!BLOB(x, v))
			return short_blob(x, false);
		src = v.source, dst = v.dest, inv_src = v.invert_source, inv_dst = v.invert_dest;
	} else if (x->rev == 1) {
		struct xt_addrtype_info_v1 v;

		if (!BLOB(x, v))
			return short_blob(x, false);
		if (v.flags & (XT_ADDRTYPE_LIMIT_IFACE_IN | XT_ADDRTYPE_LIMIT_IFACE_OUT))
			/* the type as seen from one interface only: not an IR field */
			return match_opaque(x,
					    "--src-type 0x%x --dst-type 0x%x with --limit-iface-%s",
					    v.source, v.dest,
					    v.flags & XT_ADDRTYPE_LIMIT_IFACE_IN ? "in" : "out");
		src = v.source, dst = v.dest;
		inv_src = v.flags & XT_ADDRTYPE_INVERT_SOURCE;
		inv_dst = v.flags & XT_ADDRTYPE_INVERT_DEST;
	} else
		return match_opaque(x, "revision not decoded");
	if (src)
		k = add_addrtype(x->r, IR_FIELD_SADDR_TYPE, src, inv_src);
	if (k >= 0 && dst)
		k = add_addrtype(x->r, IR_FIELD_DADDR_TYPE, dst, inv_dst);
	return k;
}

static int mt_iprange(const struct xt_item *x)
{
	uint8_t fam = x->ctx->family;
	np_u128 slo, shi, dlo, dhi;
	uint8_t flags;
	int k = 0;

	if (x->rev == 0) {
		/* struct ipt_iprange_info: IPv4 only, IPRANGE_SRC/DST and _INV flags */
		struct {
			struct {
				uint32_t min_ip, max_ip;
			} src, dst;
			uint8_t flags;
		} v;

		if (!BLOB(x, v))
			return short_blob(x, false);
		if (fam != NFPROTO_IPV4)
			return match_opaque(x, "revision 0 in an IPv6 table");
		slo = np_v4(ntohl(v.src.min_ip)), shi = np_v4(ntohl(v.src.max_ip));
		dlo = np_v4(ntohl(v.dst.min_ip)), dhi = np_v4(ntohl(v.dst.max_ip));
		flags = v.flags;
	} else if (x->rev == 1) {
		struct xt_iprange_mtinfo v;

		if (!BLOB(x, v))
			return short_blob(x, false);
		if (fam != NFPROTO_IPV4 && fam != NFPROTO_IPV6)
			return match_opaque(x, "unknown family %u", fam);
		slo = inet_addr_value(&v.src_min, fam), shi = inet_addr_value(&v.src_max, fam);
		dlo = inet_addr_value(&v.dst_min, fam), dhi = inet_addr_value(&v.dst_max, fam);
		flags = v.flags;
	} else
		return match_opaque(x, "revision not decoded");
	if (flags & IPRANGE_SRC)
		k = slo <= shi ? add_num(x->r, IR_FIELD_SADDR, flags & IPRANGE_SRC_INV, slo, shi)
			       : add_never(x->r, flags & IPRANGE_SRC_INV);
	if (k >= 0 && (flags & IPRANGE_DST))
		k = dlo <= dhi ? add_num(x->r, IR_FIELD_DADDR, flags & IPRANGE_DST_INV, dlo, dhi)
			       : add_never(x->r, flags & IPRANGE_DST_INV);
	return k;
}

static int mt_mac(const struct xt_item *x)
{
	struct xt_mac_info v;

	if (!BLOB(x, v))
		return short_blob(x, false);
	/* The IR has no link-layer address field. */
	return match_opaque(x, "%s--mac-source %02x:%02x:%02x:%02x:%02x:%02x", v.invert ? "! " : "",
			    v.srcaddr[0], v.srcaddr[1], v.srcaddr[2], v.srcaddr[3], v.srcaddr[4],
			    v.srcaddr[5]);
}

static int mt_limit(const struct xt_item *x)
{
	static const struct {
		const char *unit;
		uint32_t secs;
	} units[] = { { "second", 1 }, { "minute", 60 }, { "hour", 3600 }, { "day", 86400 } };
	struct xt_rateinfo v;

	if (!BLOB_UPTO(x, v, prev))
		return short_blob(x, false);
	/* avg is the time between packets in 1/XT_LIMIT_SCALE s; print it in the smallest unit
	 * giving a whole rate (5/second, 5/minute). The IR treats limits as matching. */
	for (size_t i = 0; i < ELEMENTSOF(units) && v.avg; i++)
		if ((uint64_t)XT_LIMIT_SCALE * units[i].secs % v.avg == 0 ||
		    i + 1 == ELEMENTSOF(units))
			return ir_rule_add_note(x->r, IR_STMT_LIMIT, "%llu/%s burst %u",
						(unsigned long long)((uint64_t)XT_LIMIT_SCALE *
								     units[i].secs / v.avg),
						units[i].unit, v.burst);
	return ir_rule_add_note(x->r, IR_STMT_LIMIT, "avg 0 burst %u", v.burst);
}

static int mt_pkttype(const struct xt_item *x)
{
	struct xt_pkttype_info v;

	if (!BLOB(x, v))
		return short_blob(x, false);
	return add_num(x->r, IR_FIELD_PKTTYPE, v.invert, (unsigned)v.pkttype, (unsigned)v.pkttype);
}

static int mt_length(const struct xt_item *x)
{
	struct xt_length_info v;

	if (!BLOB(x, v))
		return short_blob(x, false);
	if (v.min > v.max)
		return add_never(x->r, v.invert);
	return add_num(x->r, IR_FIELD_LENGTH, v.invert, v.min, v.max);
}

static int mt_dscp(const struct xt_item *x)
{
	struct xt_dscp_info v;

	if (!BLOB(x, v))
		return short_blob(x, false);
	return add_num(x->r, IR_FIELD_DSCP, v.invert, v.dscp, v.dscp);
}

static int mt_rpfilter(const struct xt_item *x)
{
	struct xt_rpfilter_info v;

	if (!BLOB(x, v))
		return short_blob(x, false);
	if (v.flags & (XT_RPFILTER_LOOSE | XT_RPFILTER_ACCEPT_LOCAL))
		return match_opaque(x, "--loose/--accept-local not modelled (flags 0x%x)", v.flags);
	/* --validmark only changes the lookup when routing depends on marks */
	return add_num(x->r, IR_FIELD_RPF_OK, v.flags & XT_RPFILTER_INVERT, 1, 1);
}

/* --- set --- */

struct set_opt {
	uint16_t index;
	uint8_t dim, flags; /* flags: IPSET_INV_MATCH | IPSET_DIM_n_SRC bits */
	uint32_t v3_flags;
	bool counters;
};

/* Returns the set called name's key layout in dimensions: 'a' address, 'p' port, 'i' iface;
 * NULL when unknown. For list:set, the layout of its members (all must agree). */
static const char *set_layout(const struct fw_ipsets *l, const struct fw_ipset *s, unsigned depth)
{
	const char *lay = NULL;

	switch (s->kind) {
	case FW_IPSET_HASH_IP:
	case FW_IPSET_HASH_NET:
	case FW_IPSET_BITMAP_IP:
		return "a";
	case FW_IPSET_HASH_NET_NET:
		return "aa";
	case FW_IPSET_HASH_IP_PORT_IP:
	case FW_IPSET_HASH_IP_PORT_NET:
	case FW_IPSET_HASH_NET_PORT_NET:
		return "apa";
	case FW_IPSET_HASH_IP_PORT:
	case FW_IPSET_HASH_NET_PORT:
		return "ap";
	case FW_IPSET_HASH_NET_IFACE:
		return "ai";
	case FW_IPSET_BITMAP_PORT:
		return "p";
	case FW_IPSET_LIST_SET:
		if (depth > 4)
			return NULL;
		for (size_t i = 0; i < s->elems.n; i++) {
			const struct fw_ipset_elem *e = &s->elems.items[i];
			const struct fw_ipset *m = e->member ? fw_ipsets_find(l, e->member) : NULL;
			const char *ml = m ? set_layout(l, m, depth + 1) : NULL;

			if (!ml || (lay && !streq(lay, ml)))
				return NULL;
			lay = ml;
		}
		return lay ? lay : "";
	default:
		return NULL;
	}
}

static const struct fw_ipsets *ctx_ipsets(const struct fw_xt_ctx *ctx)
{
	if (ctx->ipsets)
		return ctx->ipsets;
	if (ctx->set_name == fw_ipsets_xt_name)
		return ctx->userdata;
	return NULL;
}

static int set_lookup(const struct xt_item *x, const struct set_opt *o)
{
	const struct fw_ipsets *l = ctx_ipsets(x->ctx);
	const struct fw_ipset *s = NULL;
	const char *name = NULL, *lay;
	enum ir_field key[IR_KEY_MAX];
	bool inv = o->flags & IPSET_INV_MATCH;
	unsigned nkey = 0;
	int k;

	if (!x->ctx->set_name)
		return match_opaque(x, "ipset index %u: no set resolver", o->index);
	k = x->ctx->set_name(x->ctx->userdata, o->index, &name);
	if (k == -ENOENT)
		return match_opaque(x, "ipset index %u: no such set", o->index);
	if (k < 0)
		return k;
	if (o->counters || (o->v3_flags & IPSET_FLAG_RETURN_NOMATCH))
		return match_opaque(x, "%s--match-set %s with counter or return-nomatch options",
				    inv ? "! " : "", name);
	if (l && x->ctx->set_name == fw_ipsets_xt_name && x->ctx->userdata == l &&
	    o->index < l->n_index)
		s = l->by_index[o->index]; /* the set that name came from: no lookup by name */
	else if (l)
		s = fw_ipsets_find(l, name);
	if (!s)
		return match_opaque(x, "%s--match-set %s: set type unknown", inv ? "! " : "", name);
	lay = set_layout(l, s, 0);
	if (!lay)
		return match_opaque(x, "%s--match-set %s: type %s not decoded", inv ? "! " : "",
				    name, s->type);
	if (s->kind == FW_IPSET_LIST_SET && !*lay)
		return add_never(x->r, inv); /* an empty list:set matches nothing */
	/* ip_set_test(): fewer dimensions than the type has, or another family, never match. */
	if (o->dim < strlen(lay) || o->dim > IPSET_DIM_MAX)
		return add_never(x->r, inv);
	if (s->family != NFPROTO_UNSPEC && s->family != x->ctx->family)
		return add_never(x->r, inv);
	for (unsigned d = 0; lay[d]; d++) {
		bool src = o->flags & (1u << (d + 1));

		switch (lay[d]) {
		case 'a':
			key[nkey++] = src ? IR_FIELD_SADDR : IR_FIELD_DADDR;
			break;
		case 'p':
			key[nkey++] = IR_FIELD_L4PROTO;
			key[nkey++] = src ? IR_FIELD_SPORT : IR_FIELD_DPORT;
			break;
		case 'i':
			key[nkey++] = src ? IR_FIELD_IIFNAME : IR_FIELD_OIFNAME;
			break;
		}
	}
	return ir_rule_add_lookup(x->r, key, nkey, name, true, inv);
}

static int mt_set(const struct xt_item *x)
{
	struct set_opt o = { 0 };

	switch (x->rev) {
	case 1:
	case 2: {
		struct xt_set_info_match_v1 v;

		if (!BLOB(x, v))
			return short_blob(x, false);
		o.index = v.match_set.index, o.dim = v.match_set.dim, o.flags = v.match_set.flags;
		break;
	}
	case 3: {
		struct xt_set_info_match_v3 v;

		if (!BLOB(x, v))
			return short_blob(x, false);
		o.index = v.match_set.index, o.dim = v.match_set.dim, o.flags = v.match_set.flags;
		o.v3_flags = v.flags;
		o.counters = v.packets.op != IPSET_COUNTER_NONE || v.bytes.op != IPSET_COUNTER_NONE;
		break;
	}
	case 4: {
		struct xt_set_info_match_v4 v;

		if (!BLOB(x, v))
			return short_blob(x, false);
		o.index = v.match_set.index, o.dim = v.match_set.dim, o.flags = v.match_set.flags;
		o.v3_flags = v.flags;
		o.counters = v.packets.op != IPSET_COUNTER_NONE || v.bytes.op != IPSET_COUNTER_NONE;
		break;
	}
	default:
		return match_opaque(x, "revision not decoded");
	}
	return set_lookup(x, &o);
}

static int mt_udp4(const struct xt_item *x)
{
	return mt_udp(x, IPPROTO_UDP);
}

static int mt_udplite(const struct xt_item *x)
{
	return mt_udp(x, IPPROTO_UDPLITE);
}

static int mt_icmp4(const struct xt_item *x)
{
	return mt_icmp(x, IPPROTO_ICMP);
}

static int mt_icmp6(const struct xt_item *x)
{
	return mt_icmp(x, IPPROTO_ICMPV6);
}

static int mt_meta_mark(const struct xt_item *x)
{
	return mt_mark(x, IR_FIELD_META_MARK);
}

static int mt_ct_mark(const struct xt_item *x)
{
	return mt_mark(x, IR_FIELD_CT_MARK);
}

/* Decoders by extension name: rev -1 decodes every revision (the decoder checks), family 0
 * either family. Looked up for every match of every rule, so compare the first byte first. */
static const struct xt_decoder {
	const char *name;
	int rev;
	uint8_t family;
	int (*fn)(const struct xt_item *x);
} match_decoders[] = {
	{ "addrtype", -1, 0, mt_addrtype },
	{ "comment", 0, 0, mt_comment },
	{ "connmark", -1, 0, mt_ct_mark },
	{ "conntrack", -1, 0, mt_conntrack },
	{ "dscp", 0, 0, mt_dscp },
	{ "icmp", 0, NFPROTO_IPV4, mt_icmp4 },
	{ "icmp6", 0, NFPROTO_IPV6, mt_icmp6 },
	{ "iprange", -1, 0, mt_iprange },
	{ "length", 0, 0, mt_length },
	{ "limit", 0, 0, mt_limit },
	{ "mac", 0, 0, mt_mac },
	{ "mark", -1, 0, mt_meta_mark },
	{ "multiport", -1, 0, mt_multiport },
	{ "physdev", -1, 0, mt_physdev },
	{ "pkttype", 0, 0, mt_pkttype },
	{ "rpfilter", 0, 0, mt_rpfilter },
	{ "sctp", 0, 0, mt_sctp },
	{ "set", -1, 0, mt_set },
	{ "state", 0, 0, mt_state },
	{ "tcp", 0, 0, mt_tcp },
	{ "udp", 0, 0, mt_udp4 },
	{ "udplite", 0, 0, mt_udplite },
};

int fw_xt_match_to_ir(const struct fw_xt_ctx *ctx, const char *name, uint8_t rev, const void *data,
		      size_t len, struct ir_rule *rule)
{
	struct xt_item x = {
		.ctx = ctx,
		.name = name,
		.rev = rev,
		.data = data,
		.len = data ? len : 0,
		.r = rule,
	};

	for (size_t i = 0; i < ELEMENTSOF(match_decoders); i++) {
		const struct xt_decoder *d = &match_decoders[i];

		if (d->name[0] != name[0] || !streq(d->name, name))
			continue;
		if ((d->rev < 0 || d->rev == rev) && (!d->family || d->family == ctx->family))
			return d->fn(&x);
		break;
	}
	return match_opaque(&x, "not decoded");
}

/* --- targets --- */

static int tg_reject(const struct xt_item *x)
{
	/* enum ipt_reject_with / enum ip6t_reject_with, as iptables spells them */
	static const char *const with4[] = {
		"icmp-net-unreachable",	  "icmp-host-unreachable",
		"icmp-proto-unreachable", "icmp-port-unreachable",
		"icmp-echo-reply",	  "icmp-net-prohibited",
		"icmp-host-prohibited",	  "tcp-reset",
		"icmp-admin-prohibited",
	};
	static const char *const with6[] = {
		"icmp6-no-route",
		"icmp6-adm-prohibited",
		"icmp6-not-neighbour",
		"icmp6-addr-unreachable",
		"icmp6-port-unreachable",
		"icmp6-echo-reply",
		"tcp-reset",
		"icmp6-policy-fail",
		"icmp6-reject-route",
	};
	bool v6 = x->ctx->family == NFPROTO_IPV6;
	uint32_t with;
	int k;

	if (x->len < sizeof(with))
		return short_blob(x, true);
	memcpy(&with, x->data, sizeof(with));
	if (with < (v6 ? ELEMENTSOF(with6) : ELEMENTSOF(with4)))
		k = ir_rule_add_note(x->r, IR_STMT_NOTE, "reject-with %s",
				     v6 ? with6[with] : with4[with]);
	else
		k = ir_rule_add_note(x->r, IR_STMT_NOTE, "reject-with #%u", with);
	if (k >= 0)
		k = ir_rule_set_verdict(x->r, IR_VERDICT_REJECT, NULL);
	return k;
}

static int tg_log(const struct xt_item *x)
{
	struct xt_log_info v;

	if (!BLOB(x, v))
		return short_blob(x, true);
	v.prefix[sizeof(v.prefix) - 1] = 0;
	return ir_rule_add_note(x->r, IR_STMT_LOG, "%s", v.prefix);
}

static int tg_nfqueue(const struct xt_item *x)
{
	uint16_t num = 0, total = 1, flags = 0;

	switch (x->rev) {
	case 0: {
		struct xt_NFQ_info v;

		if (!BLOB(x, v))
			return short_blob(x, true);
		num = v.queuenum;
		break;
	}
	case 1: {
		struct xt_NFQ_info_v1 v;

		if (!BLOB(x, v))
			return short_blob(x, true);
		num = v.queuenum, total = v.queues_total;
		break;
	}
	case 2:
	case 3: {
		struct xt_NFQ_info_v3 v; /* v2's bypass field is v3's flags */

		if (!BLOB(x, v))
			return short_blob(x, true);
		num = v.queuenum, total = v.queues_total, flags = v.flags;
		break;
	}
	default:
		return target_opaque(x, "revision not decoded");
	}
	if (total == 0)
		total = 1;
	return ir_rule_set_queue(x->r, num, (uint16_t)(num + total - 1), flags & NFQ_FLAG_BYPASS,
				 x->rev == 3 && (flags & NFQ_FLAG_CPU_FANOUT));
}

static int tg_mark(const struct xt_item *x)
{
	struct xt_mark_tginfo2 v;

	if (x->rev != 2)
		return target_opaque(x, "revision not decoded");
	if (!BLOB(x, v))
		return short_blob(x, true);
	/* mark_tg: skb->mark = (skb->mark & ~info->mask) ^ info->mark */
	return ir_rule_add_mark(x->r, IR_FIELD_META_MARK, v.mask, v.mark);
}

static int tg_connmark(const struct xt_item *x)
{
	struct xt_connmark_tginfo2 v;

	if (x->rev == 1) {
		struct xt_connmark_tginfo1 v1;

		if (!BLOB(x, v1))
			return short_blob(x, true);
		v = (struct xt_connmark_tginfo2){ .ctmark = v1.ctmark,
						  .ctmask = v1.ctmask,
						  .nfmask = v1.nfmask,
						  .mode = v1.mode };
	} else if (x->rev == 2) {
		if (!BLOB(x, v))
			return short_blob(x, true);
	} else
		return target_opaque(x, "revision not decoded");
	if (v.shift_bits)
		return target_opaque(x, "mark shift by %u bits not modelled", v.shift_bits);
	switch (v.mode) {
	case XT_CONNMARK_SET:
		/* ct->mark = (ct->mark & ~ctmask) ^ ctmark */
		return ir_rule_add_mark(x->r, IR_FIELD_CT_MARK, v.ctmask, v.ctmark);
	case XT_CONNMARK_SAVE:
		/* ct->mark = (ct->mark & ~ctmask) ^ (skb->mark & nfmask) */
		return ir_rule_add_mark_copy(x->r, IR_FIELD_CT_MARK, IR_FIELD_META_MARK, v.nfmask,
					     v.ctmask, 0);
	case XT_CONNMARK_RESTORE:
		/* skb->mark = (skb->mark & ~nfmask) ^ (ct->mark & ctmask) */
		return ir_rule_add_mark_copy(x->r, IR_FIELD_META_MARK, IR_FIELD_CT_MARK, v.ctmask,
					     v.nfmask, 0);
	default:
		return target_opaque(x, "mode %u not decoded", v.mode);
	}
}

static int tg_ct(const struct xt_item *x)
{
	struct xt_ct_target_info v; /* rev 1 and 2 start alike */

	if (!BLOB_UPTO(x, v, helper))
		return short_blob(x, true);
	if (x->rev > 2)
		return target_opaque(x, "revision not decoded");
	if (v.flags & XT_CT_NOTRACK)
		return ir_rule_add_note(x->r, IR_STMT_NOTRACK, "notrack");
	if (v.zone || (v.flags & (XT_CT_ZONE_DIR_ORIG | XT_CT_ZONE_DIR_REPL | XT_CT_ZONE_MARK)))
		/* another zone means another conntrack table: states seen later differ */
		return target_opaque(x, "conntrack zone %u (flags 0x%x)", v.zone, v.flags);
	return ir_rule_add_note(x->r, IR_STMT_NOTE, "CT template (helper/events/timeout)");
}

static int nat_text(const struct xt_item *x, struct ir_stmt *st, char *buf, size_t size)
{
	uint8_t fam = x->ctx->family;
	unsigned flags;
	np_u128 lo, hi;
	uint16_t plo, phi;
	char a[64], b[64];

	if (fam == NFPROTO_IPV4 && x->rev == 0) {
		struct nf_nat_ipv4_multi_range_compat v;

		if (!BLOB(x, v) || v.rangesize != 1)
			return -EBADMSG;
		flags = v.range[0].flags;
		lo = np_v4(ntohl(v.range[0].min_ip)), hi = np_v4(ntohl(v.range[0].max_ip));
		plo = ntohs(v.range[0].min.all), phi = ntohs(v.range[0].max.all);
	} else if (x->rev == 1 || x->rev == 2) {
		struct nf_nat_range v; /* nf_nat_range2 extends it */

		if (!BLOB(x, v))
			return -EBADMSG;
		flags = v.flags;
		lo = inet_addr_value(&v.min_addr, fam), hi = inet_addr_value(&v.max_addr, fam);
		plo = ntohs(v.min_proto.all), phi = ntohs(v.max_proto.all);
	} else if (fam == NFPROTO_IPV6 && x->rev == 0) {
		struct nf_nat_range v; /* MASQUERADE/REDIRECT rev 0 for IPv6 */

		if (!BLOB(x, v))
			return -EBADMSG;
		flags = v.flags;
		lo = inet_addr_value(&v.min_addr, fam), hi = inet_addr_value(&v.max_addr, fam);
		plo = ntohs(v.min_proto.all), phi = ntohs(v.max_proto.all);
	} else
		return -EBADMSG;
	snprintf(buf, size, "%s", x->name);
	if (flags & NF_NAT_RANGE_MAP_IPS) {
		st->nat_has_addr = true;
		st->nat_addr_lo = lo, st->nat_addr_hi = hi;
		np_addr_format(lo, a, sizeof(a));
		np_addr_format(hi, b, sizeof(b));
		snprintf(buf + strlen(buf), size - strlen(buf), " to %s%s%s", a,
			 lo == hi ? "" : "-", lo == hi ? "" : b);
	}
	if (flags & NF_NAT_RANGE_PROTO_SPECIFIED) {
		st->nat_has_port = true;
		st->nat_port_lo = plo, st->nat_port_hi = phi;
		snprintf(buf + strlen(buf), size - strlen(buf), " ports %u-%u", plo, phi);
	}
	return 0;
}

static int tg_nat(const struct xt_item *x, enum ir_nat_kind kind)
{
	struct ir_stmt st = { 0 };
	char text[200];
	int k;

	if (nat_text(x, &st, text, sizeof(text)) < 0)
		return target_opaque(x, "NAT range not decoded");
	k = ir_rule_add_nat(x->r, kind, text);
	if (k < 0)
		return k;
	{
		struct ir_stmt *last = &x->r->stmts.items[x->r->stmts.n - 1];

		last->nat_has_addr = st.nat_has_addr, last->nat_has_port = st.nat_has_port;
		last->nat_addr_lo = st.nat_addr_lo, last->nat_addr_hi = st.nat_addr_hi;
		last->nat_port_lo = st.nat_port_lo, last->nat_port_hi = st.nat_port_hi;
	}
	return 0;
}

static int tg_set(const struct xt_item *x)
{
	const char *name = "?";
	uint16_t add = IPSET_INVALID_ID, del = IPSET_INVALID_ID;
	char an[40] = "", dn[40] = "";

	if (x->rev >= 1 && x->rev <= 3) {
		struct xt_set_info_target_v1 v; /* v2, v3 start with the same two sets */

		if (!BLOB(x, v))
			return short_blob(x, true);
		add = v.add_set.index, del = v.del_set.index;
	} else
		return target_opaque(x, "revision not decoded");
	if (x->rev == 3) {
		struct xt_set_info_target_v3 v;

		if (!BLOB(x, v))
			return short_blob(x, true);
		if (v.map_set.index != IPSET_INVALID_ID)
			/* --map-set changes the packet's mark/priority/queue */
			return target_opaque(x, "--map-set not modelled");
	}
	if (add != IPSET_INVALID_ID && x->ctx->set_name &&
	    x->ctx->set_name(x->ctx->userdata, add, &name) >= 0)
		snprintf(an, sizeof(an), " --add-set %s", name);
	else if (add != IPSET_INVALID_ID)
		snprintf(an, sizeof(an), " --add-set #%u", add);
	if (del != IPSET_INVALID_ID && x->ctx->set_name &&
	    x->ctx->set_name(x->ctx->userdata, del, &name) >= 0)
		snprintf(dn, sizeof(dn), " --del-set %s", name);
	else if (del != IPSET_INVALID_ID)
		snprintf(dn, sizeof(dn), " --del-set #%u", del);
	/* Changes a set for later packets; the dump already holds what earlier packets added. */
	return ir_rule_add_note(x->r, IR_STMT_NOTE, "SET%s%s (updates the set for later packets)",
				an, dn);
}

/* Targets that return XT_CONTINUE and change nothing a predicate of the IR tests. */
static const char *const note_targets[] = {
	"TCPMSS",    "CLASSIFY", "TTL",	    "HL",	   "CHECKSUM", "TRACE",	      "AUDIT",
	"IDLETIMER", "LED",	 "SECMARK", "CONNSECMARK", "TEE",      "TCPOPTSTRIP", "SYNPROXY",
};

int fw_xt_target_to_ir(const struct fw_xt_ctx *ctx, const char *name, uint8_t rev, const void *data,
		       size_t len, struct ir_rule *rule)
{
	struct xt_item x = {
		.ctx = ctx,
		.name = name,
		.rev = rev,
		.data = data,
		.len = data ? len : 0,
		.r = rule,
	};

	if (streq(name, "ACCEPT"))
		return ir_rule_set_verdict(rule, IR_VERDICT_ACCEPT, NULL);
	if (streq(name, "DROP"))
		return ir_rule_set_verdict(rule, IR_VERDICT_DROP, NULL);
	if (streq(name, "RETURN"))
		return ir_rule_set_verdict(rule, IR_VERDICT_RETURN, NULL);
	if (streq(name, "QUEUE"))
		return ir_rule_set_queue(rule, 0, 0, false, false);
	if (streq(name, "REJECT") && rev == 0)
		return tg_reject(&x);
	if (streq(name, "LOG") && rev == 0)
		return tg_log(&x);
	if (streq(name, "NFLOG"))
		return ir_rule_add_note(rule, IR_STMT_LOG, "%s", "");
	if (streq(name, "NFQUEUE"))
		return tg_nfqueue(&x);
	if (streq(name, "MARK"))
		return tg_mark(&x);
	if (streq(name, "CONNMARK"))
		return tg_connmark(&x);
	if (streq(name, "NOTRACK"))
		return ir_rule_add_note(rule, IR_STMT_NOTRACK, "NOTRACK");
	if (streq(name, "CT"))
		return tg_ct(&x);
	if (streq(name, "SNAT"))
		return tg_nat(&x, IR_NAT_SNAT);
	if (streq(name, "DNAT"))
		return tg_nat(&x, IR_NAT_DNAT);
	if (streq(name, "MASQUERADE"))
		return tg_nat(&x, IR_NAT_MASQUERADE);
	if (streq(name, "REDIRECT"))
		return tg_nat(&x, IR_NAT_REDIRECT);
	if (streq(name, "SET"))
		return tg_set(&x);
	for (size_t i = 0; i < ELEMENTSOF(note_targets); i++)
		if (streq(name, note_targets[i]))
			return ir_rule_add_note(rule, IR_STMT_NOTE, "%s (no effect on filtering)",
						name);
	return target_opaque(&x, "not decoded");
}

int fw_xt_verdict_to_ir(int verdict, const char *jump_chain, int is_goto, struct ir_rule *rule)
{
	if (jump_chain)
		return ir_rule_set_verdict(rule, is_goto ? IR_VERDICT_GOTO : IR_VERDICT_JUMP,
					   jump_chain);
	switch (verdict) {
	case -NF_ACCEPT - 1:
		return ir_rule_set_verdict(rule, IR_VERDICT_ACCEPT, NULL);
	case -NF_DROP - 1:
		return ir_rule_set_verdict(rule, IR_VERDICT_DROP, NULL);
	case -NF_QUEUE - 1:
		return ir_rule_set_queue(rule, 0, 0, false, false);
	case XT_RETURN:
		return ir_rule_set_verdict(rule, IR_VERDICT_RETURN, NULL);
	default:
		return -EINVAL;
	}
}
