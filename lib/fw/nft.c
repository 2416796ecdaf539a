/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nftables reader: netlink dumps (libmnl) parsed from their attributes into the IR (libnftnl
 * builds the requests and names the userdata types).
 *
 * Rules are register programs. We replay them on a model of the register file: every load
 * (payload, meta, ct, fib, immediate, map lookup, ...) writes a "segment" describing what the
 * bytes of the register hold; bitwise and byteorder transform segments; cmp, range and lookup
 * read segments back and become IR predicates; meta/ct set, nat, counter, log, ... become
 * statements in their place. This is what nftables' userspace does in netlink_delinearize.c,
 * reduced to what the IR can say. Whatever does not fit becomes opaque with the raw
 * expressions as its text. A rule whose expressions equal an earlier rule's in the same table
 * is a copy of that translation (lib/fw/rcache.h): most rules of a CNI's ruleset repeat.
 */

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/gen.h>
#include <libnftnl/udata.h>

#include "fw/nft.h"
#include "rcache.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_gen *, nftnl_gen_free);

static inline void strbuf_donep(struct strbuf *sb)
{
	strbuf_done(sb);
}

/* iptables-nft's rule userdata types (iptables/nft.h, enum udata_type): 0 comment (shared with
 * nft), 1 ebtables policy rule, 2 the rule in compat extension form (iptables >= 1.8.11). */
#define XT_UDATA_COMMENT 0
#define XT_UDATA_EBTABLES_POLICY 1
#define XT_UDATA_COMPAT_EXT 2

/* nftables' datatype ids (nftables include/datatype.h, enum datatypes). A set's key type is
 * one id, or for a concatenation the ids shifted in TYPE_BITS at a time, first field highest. */
enum {
	DT_INVALID = 0,
	DT_VERDICT = 1,
	DT_NFPROTO = 2,
	DT_BITMASK = 3,
	DT_INTEGER = 4,
	DT_STRING = 5,
	DT_LLADDR = 6,
	DT_IPADDR = 7,
	DT_IP6ADDR = 8,
	DT_ETHERADDR = 9,
	DT_ETHERTYPE = 10,
	DT_ARPOP = 11,
	DT_INET_PROTOCOL = 12,
	DT_INET_SERVICE = 13,
	DT_ICMP_TYPE = 14,
	DT_TCP_FLAG = 15,
	DT_DCCP_PKTTYPE = 16,
	DT_MH_TYPE = 17,
	DT_TIME = 18,
	DT_MARK = 19,
	DT_IFINDEX = 20,
	DT_ARPHRD = 21,
	DT_REALM = 22,
	DT_CLASSID = 23,
	DT_UID = 24,
	DT_GID = 25,
	DT_CT_STATE = 26,
	DT_CT_DIR = 27,
	DT_CT_STATUS = 28,
	DT_ICMP6_TYPE = 29,
	DT_CT_LABEL = 30,
	DT_PKTTYPE = 31,
	DT_ICMP_CODE = 32,
	DT_ICMPV6_CODE = 33,
	DT_ICMPX_CODE = 34,
	DT_DEVGROUP = 35,
	DT_DSCP = 36,
	DT_ECN = 37,
	DT_FIB_ADDR = 38,
	DT_BOOLEAN = 39,
	DT_CT_EVENTBIT = 40,
	DT_IFNAME = 41,
	DT_IGMP_TYPE = 42,
	DT_TIME_DATE = 43,
	DT_TIME_HOUR = 44,
	DT_TIME_DAY = 45,
	DT_CGROUPV2 = 46,
	_DT_MAX,
	DT_BITS = 6,
};

/* nftables' enum byteorder in NFTNL_UDATA_SET_KEYBYTEORDER / DATABYTEORDER. */
#define NFT_UD_BYTEORDER_HOST 1

struct dtinfo {
	const char *name;
	uint8_t size; /* bytes; 0: variable (taken from the key length) */
	bool host; /* host byte order in registers and set keys */
};

static const struct dtinfo dtinfo[_DT_MAX] = {
	[DT_VERDICT] = { "verdict", 4, true },
	[DT_NFPROTO] = { "nf_proto", 1, true },
	[DT_BITMASK] = { "bitmask", 4, true },
	[DT_INTEGER] = { "integer", 0, false },
	[DT_STRING] = { "string", 0, false },
	[DT_LLADDR] = { "ll_addr", 0, false },
	[DT_IPADDR] = { "ipv4_addr", 4, false },
	[DT_IP6ADDR] = { "ipv6_addr", 16, false },
	[DT_ETHERADDR] = { "ether_addr", 6, false },
	[DT_ETHERTYPE] = { "ether_type", 2, false },
	[DT_ARPOP] = { "arp_op", 2, false },
	[DT_INET_PROTOCOL] = { "inet_proto", 1, false },
	[DT_INET_SERVICE] = { "inet_service", 2, false },
	[DT_ICMP_TYPE] = { "icmp_type", 1, false },
	[DT_TCP_FLAG] = { "tcp_flag", 1, false },
	[DT_DCCP_PKTTYPE] = { "dccp_pkttype", 1, false },
	[DT_MH_TYPE] = { "mh_type", 1, false },
	[DT_TIME] = { "time", 8, true },
	[DT_MARK] = { "mark", 4, true },
	[DT_IFINDEX] = { "iface_index", 4, true },
	[DT_ARPHRD] = { "iface_type", 2, true },
	[DT_REALM] = { "realm", 4, true },
	[DT_CLASSID] = { "classid", 4, true },
	[DT_UID] = { "uid", 4, true },
	[DT_GID] = { "gid", 4, true },
	[DT_CT_STATE] = { "ct_state", 4, true },
	[DT_CT_DIR] = { "ct_dir", 1, true },
	[DT_CT_STATUS] = { "ct_status", 4, true },
	[DT_ICMP6_TYPE] = { "icmpv6_type", 1, false },
	[DT_CT_LABEL] = { "ct_label", 16, true },
	[DT_PKTTYPE] = { "pkt_type", 1, true },
	[DT_ICMP_CODE] = { "icmp_code", 1, false },
	[DT_ICMPV6_CODE] = { "icmpv6_code", 1, false },
	[DT_ICMPX_CODE] = { "icmpx_code", 1, false },
	[DT_DEVGROUP] = { "devgroup", 4, true },
	[DT_DSCP] = { "dscp", 1, false },
	[DT_ECN] = { "ecn", 1, false },
	[DT_FIB_ADDR] = { "fib_addrtype", 4, true },
	[DT_BOOLEAN] = { "boolean", 1, true },
	[DT_CT_EVENTBIT] = { "ct_event", 4, true },
	[DT_IFNAME] = { "ifname", 16, false },
	[DT_IGMP_TYPE] = { "igmp_type", 1, false },
	[DT_TIME_DATE] = { "day", 8, true },
	[DT_TIME_HOUR] = { "hour", 4, true },
	[DT_TIME_DAY] = { "day", 1, true },
	[DT_CGROUPV2] = { "cgroupsv2", 8, true },
};

/* ------------------------------------------------------------------------------------------ */
/* parser state */

struct raw_elem {
	np_u128 key; /* big-endian key of an interval set, as a number */
	bool end; /* NFT_SET_ELEM_INTERVAL_END */
	struct ir_verdict verdict; /* vmap: owned */
	np_u128 data;
};

struct nft_set_rec {
	struct ir_set *set; /* owned by the table */
	uint32_t flags; /* NFT_SET_* */
	uint32_t key_len, data_type, data_len;
	unsigned nfield;
	uint8_t flen[IR_KEY_MAX]; /* bytes of each key field */
	bool fhost[IR_KEY_MAX]; /* field in host byte order */
	bool data_host;
	char *bad; /* why its elements cannot be decoded (lookups into it are opaque) */
	VEC(struct raw_elem) raw; /* single-field interval sets: start/end elements */
};

struct nft_table_rec {
	struct ir_table *t; /* owned until finish */
	uint16_t family;
	uint32_t flags; /* NFT_TABLE_F_* */
	bool compat; /* a compat expression or iptables-nft userdata was seen */
	struct hashmap sets; /* name (the ir_set's) -> struct nft_set_rec */
	VEC(struct nft_set_rec *) setv;
};

struct fw_nft_parser {
	struct fw_nft_opts opts;
	VEC(struct xexpr) xe; /* the expressions of the rule being read */
	struct ir_chain *last_chain; /* of the previous rule */
	struct xl *xl; /* the register model, reused from rule to rule */
	struct ir_rule *rule; /* the rule being translated (a scratch rule) */
	struct fw_rcache *cache; /* the rules translated so far */
	VEC(struct nft_table_rec *) tables;
	struct nft_table_rec *last;
	unsigned messages, ntables, nchains, nsets, nelems, nrules;
};

static void set_rec_free(struct nft_set_rec *s)
{
	if (!s)
		return;
	VEC_FOREACH (e, &s->raw)
		ir_verdict_done(&e->verdict);
	VEC_DONE(&s->raw);
	free(s->bad);
	free(s);
}

static void table_rec_free(struct nft_table_rec *tr)
{
	if (!tr)
		return;
	VEC_FOREACH (s, &tr->setv)
		set_rec_free(*s);
	VEC_DONE(&tr->setv);
	hashmap_done(&tr->sets);
	ir_table_free(tr->t);
	free(tr);
}

int fw_nft_parser_new(const struct fw_nft_opts *opts, struct fw_nft_parser **ret)
{
	struct fw_nft_parser *p;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (opts)
		p->opts = *opts;
	*ret = p;
	return 0;
}

struct fw_nft_parser *fw_nft_parser_free(struct fw_nft_parser *p)
{
	if (!p)
		return NULL;
	VEC_FOREACH (t, &p->tables)
		table_rec_free(*t);
	VEC_DONE(&p->tables);
	VEC_DONE(&p->xe);
	ir_rule_free(p->rule);
	fw_rcache_free(p->cache);
	free(p->xl);
	free(p);
	return NULL;
}

void fw_nft_parser_stats(const struct fw_nft_parser *p, struct fw_nft_stats *ret)
{
	*ret = (struct fw_nft_stats){
		.messages = p->messages,
		.tables = p->ntables,
		.chains = p->nchains,
		.sets = p->nsets,
		.elements = p->nelems,
		.rules = p->nrules,
	};
}

static bool family_known(uint16_t f)
{
	switch (f) {
	case NFPROTO_INET:
	case NFPROTO_IPV4:
	case NFPROTO_ARP:
	case NFPROTO_NETDEV:
	case NFPROTO_BRIDGE:
	case NFPROTO_IPV6:
		return true;
	default:
		return false;
	}
}

static struct nft_table_rec *table_find(struct fw_nft_parser *p, uint16_t family, const char *name)
{
	if (!name)
		return NULL;
	if (p->last && p->last->family == family && streq(p->last->t->name, name))
		return p->last;
	VEC_FOREACH (t, &p->tables)
		if ((*t)->family == family && streq((*t)->t->name, name))
			return p->last = *t;
	return NULL;
}

static struct nft_set_rec *set_find(struct nft_table_rec *tr, const char *name)
{
	return name ? hashmap_get(&tr->sets, name) : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* byte helpers */

static np_u128 bytes_be(const uint8_t *b, size_t n)
{
	np_u128 v = 0;

	for (size_t i = 0; i < n && i < 16; i++)
		v = (v << 8) | b[i];
	return v;
}

static np_u128 bytes_host(const uint8_t *b, size_t n)
{
	np_u128 v = 0;

	if (n > 16)
		n = 16;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (size_t i = n; i > 0; i--)
		v = (v << 8) | b[i - 1];
#else
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | b[i];
#endif
	return v;
}

static np_u128 bytes_value(const uint8_t *b, size_t n, bool host)
{
	return host ? bytes_host(b, n) : bytes_be(b, n);
}

static np_u128 nbytes_max(size_t n)
{
	return n >= 16 ? NP_U128_MAX : (((np_u128)1) << (8 * n)) - 1;
}

static int hex_append(struct strbuf *sb, const uint8_t *b, size_t n)
{
	int r = strbuf_puts(sb, "0x");

	for (size_t i = 0; i < n && r >= 0; i++)
		r = strbuf_printf(sb, "%02x", b[i]);
	return r;
}

/* ------------------------------------------------------------------------------------------ */
/* verdicts */

/* Fills *v (chain borrowed from the caller, not copied) from an nf_tables verdict code. Returns
 * 0, or -EINVAL for a code the IR has no verdict for. */
static int verdict_from_code(int32_t code, const char *chain, struct ir_verdict *v)
{
	*v = (struct ir_verdict){ 0 };
	switch (code) {
	case NF_ACCEPT:
		v->kind = IR_VERDICT_ACCEPT;
		return 0;
	case NF_DROP:
		v->kind = IR_VERDICT_DROP;
		return 0;
	case NFT_CONTINUE:
		v->kind = IR_VERDICT_CONTINUE;
		return 0;
	case NFT_RETURN:
		v->kind = IR_VERDICT_RETURN;
		return 0;
	case NFT_JUMP:
	case NFT_GOTO:
		if (!chain)
			return -EINVAL;
		v->kind = code == NFT_JUMP ? IR_VERDICT_JUMP : IR_VERDICT_GOTO;
		v->chain = (char *)chain;
		return 0;
	default:
		if ((code & NF_VERDICT_MASK) == NF_QUEUE && code >= 0) {
			v->kind = IR_VERDICT_QUEUE;
			v->queue_num = v->queue_last = (uint32_t)code >> 16;
			return 0;
		}
		return -EINVAL;
	}
}

/* ------------------------------------------------------------------------------------------ */
/* tables and chains */

/*
 * Tables, chains and sets are parsed straight from their attributes too: a libnftnl object per
 * message copies every attribute (and exits the process on one of the wrong size). What
 * libnftnl validates we check, returning -EBADMSG; attributes not used are skipped.
 */

/* Indexes the attributes in len bytes at p by type into tb[0..max] (others are skipped),
 * stopping at the first malformed one as mnl_attr_parse() does. */
static void attrs_index(const void *p, size_t len, const struct nlattr **tb, unsigned max)
{
	const uint8_t *b = p;

	while (len >= sizeof(struct nlattr)) {
		const struct nlattr *a = (const struct nlattr *)b;
		size_t step = NLA_ALIGN(a->nla_len);
		unsigned type = a->nla_type & NLA_TYPE_MASK;

		if (a->nla_len < sizeof(struct nlattr) || a->nla_len > len)
			return;
		if (type <= max)
			tb[type] = a;
		if (step >= len)
			return;
		b += step;
		len -= step;
	}
}

/* The attributes of a message after its nfgenmsg (its length checked by the caller). */
static void msg_attrs_index(const struct nlmsghdr *nlh, const struct nlattr **tb, unsigned max)
{
	size_t off = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));

	if (nlh->nlmsg_len > off)
		attrs_index((const uint8_t *)nlh + off, nlh->nlmsg_len - off, tb, max);
}

static void nest_attrs_index(const struct nlattr *nest, const struct nlattr **tb, unsigned max)
{
	attrs_index(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), tb, max);
}

/* A NUL-terminated string attribute: 0 and the string (NULL when absent), or -EBADMSG. */
static int attr_str(const struct nlattr *a, const char **ret)
{
	*ret = NULL;
	if (!a)
		return 0;
	if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		return -EBADMSG;
	*ret = mnl_attr_get_str(a);
	return 0;
}

/* A u32 attribute in network byte order: 0 and the value (def when absent), or -EBADMSG. */
static int attr_u32(const struct nlattr *a, uint32_t def, uint32_t *ret)
{
	*ret = def;
	if (!a)
		return 0;
	if (mnl_attr_get_payload_len(a) != sizeof(uint32_t))
		return -EBADMSG;
	*ret = ntohl(mnl_attr_get_u32(a));
	return 0;
}

static int parse_table(struct fw_nft_parser *p, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[NFTA_TABLE_MAX + 1] = { 0 };
	_cleanup_(ir_table_freep) struct ir_table *it = NULL;
	struct nft_table_rec *tr;
	const char *name;
	uint32_t flags;
	uint16_t family = ((const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family;
	int r;

	msg_attrs_index(nlh, tb, NFTA_TABLE_MAX);
	if (attr_str(tb[NFTA_TABLE_NAME], &name) < 0 ||
	    attr_u32(tb[NFTA_TABLE_FLAGS], 0, &flags) < 0)
		return -EBADMSG;
	if (!name || !family_known(family))
		return -EBADMSG;
	if (table_find(p, family, name))
		return -EBADMSG;

	r = ir_table_new(IR_SRC_NFT, (enum ir_family)family, name, &it);
	if (r < 0)
		return r;
	tr = calloc(1, sizeof(*tr));
	if (!tr)
		return -ENOMEM;
	tr->family = family;
	tr->flags = flags;
	tr->t = TAKE_PTR(it);
	if (VEC_PUSH(&p->tables, tr) < 0) {
		table_rec_free(tr);
		return -ENOMEM;
	}
	p->ntables++;
	return 0;
}

static enum ir_hook hook_from_kernel(uint16_t family, uint32_t hooknum)
{
	switch (family) {
	case NFPROTO_NETDEV:
		return hooknum == 0   ? IR_HOOK_INGRESS
		       : hooknum == 1 ? IR_HOOK_EGRESS
				      : _IR_HOOK_MAX;
	case NFPROTO_ARP:
		/* NF_ARP_IN, NF_ARP_OUT, NF_ARP_FORWARD */
		return hooknum == 0   ? IR_HOOK_INPUT
		       : hooknum == 1 ? IR_HOOK_OUTPUT
		       : hooknum == 2 ? IR_HOOK_FORWARD
				      : _IR_HOOK_MAX;
	default:
		/* NF_INET_* (bridge uses the same numbers); inet ingress is NF_INET_INGRESS 5 */
		return hooknum <= 5 ? (enum ir_hook)hooknum : _IR_HOOK_MAX;
	}
}

/* The base chain's device(s): NFTA_HOOK_DEV, or the names in NFTA_HOOK_DEVS joined by ",".
 * Returns 0 or -EBADMSG / -ENOMEM. */
static int chain_devices(const struct nlattr **hk, struct strbuf *dev)
{
	const struct nlattr *a;
	const char *name;
	int r = 0;

	if (hk[NFTA_HOOK_DEV]) {
		if (attr_str(hk[NFTA_HOOK_DEV], &name) < 0)
			return -EBADMSG;
		return strbuf_puts(dev, name);
	}
	if (!hk[NFTA_HOOK_DEVS])
		return 0;
	mnl_attr_for_each_nested(a, hk[NFTA_HOOK_DEVS])
	{
		if (mnl_attr_get_type(a) != NFTA_DEVICE_NAME || attr_str(a, &name) < 0)
			return -EBADMSG;
		r = strbuf_printf(dev, "%s%s", dev->len ? "," : "", name);
		if (r < 0)
			return r;
	}
	return 0;
}

static int parse_chain(struct fw_nft_parser *p, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[NFTA_CHAIN_MAX + 1] = { 0 }, *hk[NFTA_HOOK_MAX + 1] = { 0 };
	_cleanup_(ir_chain_freep) struct ir_chain *ic = NULL;
	_cleanup_(strbuf_donep) struct strbuf dev = { 0 };
	uint16_t family = ((const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family;
	const char *name, *table, *type;
	uint32_t policy;
	struct nft_table_rec *tr;
	int r;

	msg_attrs_index(nlh, tb, NFTA_CHAIN_MAX);
	if (attr_str(tb[NFTA_CHAIN_NAME], &name) < 0 ||
	    attr_str(tb[NFTA_CHAIN_TABLE], &table) < 0 ||
	    attr_str(tb[NFTA_CHAIN_TYPE], &type) < 0 ||
	    attr_u32(tb[NFTA_CHAIN_POLICY], NF_ACCEPT, &policy) < 0)
		return -EBADMSG;
	if (!name)
		return -EBADMSG;
	if (tb[NFTA_CHAIN_HOOK])
		nest_attrs_index(tb[NFTA_CHAIN_HOOK], hk, NFTA_HOOK_MAX);
	tr = table_find(p, family, table);
	if (!tr)
		return -ENOENT;

	r = ir_chain_new(name, &ic);
	if (r < 0)
		return r;
	if (hk[NFTA_HOOK_HOOKNUM]) {
		enum ir_chain_type ct = IR_CHAIN_FILTER;
		uint32_t hooknum, prio;
		enum ir_hook hook;

		if (attr_u32(hk[NFTA_HOOK_HOOKNUM], 0, &hooknum) < 0 ||
		    attr_u32(hk[NFTA_HOOK_PRIORITY], 0, &prio) < 0)
			return -EBADMSG;
		hook = hook_from_kernel(tr->family, hooknum);
		if (type && streq(type, "nat"))
			ct = IR_CHAIN_NAT;
		else if (type && streq(type, "route"))
			ct = IR_CHAIN_ROUTE;
		if (hook == _IR_HOOK_MAX)
			return -EBADMSG;
		r = chain_devices(hk, &dev);
		if (r < 0)
			return r;
		r = ir_chain_set_base(ic, ct, hook, (int32_t)prio,
				      policy == NF_DROP ? IR_VERDICT_DROP : IR_VERDICT_ACCEPT,
				      dev.len ? strbuf_str(&dev) : NULL);
		if (r < 0)
			return r;
	}
	r = ir_table_add_chain(tr->t, &ic);
	if (r == -EEXIST)
		return -EBADMSG;
	if (r < 0)
		return r;
	p->nchains++;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* sets */

/* Userdata that nft and iptables-nft attach to sets and rules: TLVs of u8 type, u8 length and
 * the value (libnftnl's udata format). Walked with bounds checks: nftnl_udata_parse() trusts
 * the lengths. */
struct udata_tlv {
	uint8_t type, len;
	const uint8_t *value;
};

static void udata_walk(const void *data, size_t n, void (*fn)(const struct udata_tlv *, void *),
		       void *userdata)
{
	const uint8_t *d = data;

	for (size_t off = 0; off + 2 <= n;) {
		struct udata_tlv t = { d[off], d[off + 1], d + off + 2 };
		if (off + 2 + t.len > n)
			return;
		fn(&t, userdata);
		off += 2 + (size_t)t.len;
	}
}

struct set_udata {
	uint32_t key_byteorder, data_byteorder;
};

static void set_udata_tlv(const struct udata_tlv *t, void *userdata)
{
	struct set_udata *u = userdata;
	uint32_t v;

	if (t->len != sizeof(v))
		return;
	memcpy(&v, t->value, sizeof(v));
	if (t->type == NFTNL_UDATA_SET_KEYBYTEORDER)
		u->key_byteorder = v;
	else if (t->type == NFTNL_UDATA_SET_DATABYTEORDER)
		u->data_byteorder = v;
}

static int set_bad(struct nft_set_rec *s, const char *fmt, ...) _printf_(2, 3);
static int set_bad(struct nft_set_rec *s, const char *fmt, ...)
{
	va_list ap;
	char *m;
	int k;

	if (s->bad)
		return 0;
	va_start(ap, fmt);
	k = vasprintf(&m, fmt, ap);
	va_end(ap);
	if (k < 0)
		return -ENOMEM;
	s->bad = m;
	return 0;
}

/* Works out the fields of the set key: their sizes from the concatenation description the
 * kernel keeps (NFTA_SET_DESC_CONCAT), else from the datatypes of the key type. */
/* What a set message says of the set's layout. */
struct set_desc {
	uint32_t key_type;
	const struct nlattr *udata; /* NFTA_SET_USERDATA or NULL */
	bool has_concat; /* NFTA_SET_DESC_CONCAT was there */
	uint32_t nconcat; /* its fields (only the first NFT_REG32_COUNT lengths kept) */
	uint8_t concat[NFT_REG32_COUNT]; /* field lengths in bytes, as libnftnl keeps them */
};

static int set_layout(struct nft_set_rec *s, const struct set_desc *sd, struct strbuf *type)
{
	struct set_udata ud = { 0 };
	uint32_t key_type = sd->key_type;
	uint8_t ids[IR_KEY_MAX];
	unsigned nids = 0, total = 0;
	const uint8_t *concat = NULL;
	uint32_t nconcat = 0;
	bool ud_host = false;
	int r;

	if (sd->udata) {
		udata_walk(mnl_attr_get_payload(sd->udata), mnl_attr_get_payload_len(sd->udata),
			   set_udata_tlv, &ud);
		ud_host = ud.key_byteorder == NFT_UD_BYTEORDER_HOST;
		s->data_host = ud.data_byteorder == NFT_UD_BYTEORDER_HOST;
	}

	/* split the key type into datatype ids, first field first */
	for (uint32_t kt = key_type; kt; kt >>= DT_BITS) {
		if (nids == IR_KEY_MAX)
			return set_bad(s, "key type 0x%x has more than %d fields", key_type,
				       IR_KEY_MAX);
		ids[nids++] = kt & ((1u << DT_BITS) - 1);
	}
	for (unsigned i = 0; i < nids / 2; i++) {
		uint8_t x = ids[i];
		ids[i] = ids[nids - 1 - i];
		ids[nids - 1 - i] = x;
	}
	if (nids == 0)
		ids[nids++] = DT_INTEGER;

	if (sd->has_concat) {
		concat = sd->concat;
		nconcat = sd->nconcat;
	}
	if (concat && nconcat > 1 && nconcat != nids)
		return set_bad(s, "key type 0x%x has %u fields but the kernel describes %u",
			       key_type, nids, nconcat);

	s->nfield = nids;
	for (unsigned i = 0; i < nids; i++) {
		const struct dtinfo *d = ids[i] < _DT_MAX ? &dtinfo[ids[i]] : NULL;
		enum ir_keytype kt = IR_KEY_NUM;
		unsigned len;

		if (!d || !d->name)
			return set_bad(s, "key field %u has unknown datatype %u", i, ids[i]);
		if (concat && nconcat > 1)
			len = concat[i];
		else if (nids == 1)
			len = s->key_len;
		else
			len = d->size;
		if (len == 0 || len > 16)
			return set_bad(s, "key field %u (%s) has no usable size", i, d->name);
		s->flen[i] = len;
		s->fhost[i] = ids[i] == DT_INTEGER ? ud_host : d->host;
		/* interval sets hold big-endian keys (userspace converts host-order fields) */
		if (s->flags & NFT_SET_INTERVAL)
			s->fhost[i] = false;
		if (ids[i] == DT_IPADDR || ids[i] == DT_IP6ADDR)
			kt = IR_KEY_ADDR;
		else if (ids[i] == DT_IFNAME)
			kt = IR_KEY_IFNAME;
		r = ir_set_add_key(s->set, kt);
		if (r < 0)
			return r;
		if (ids[i] == DT_IPADDR)
			s->set->family = AF_INET;
		else if (ids[i] == DT_IP6ADDR)
			s->set->family = AF_INET6;
		r = strbuf_printf(type, "%s%s", i ? " . " : "", d->name);
		if (r < 0)
			return r;
		total += nids == 1 ? len : (len + 3) / 4 * 4;
	}
	if (total != s->key_len)
		return set_bad(s, "key fields take %u bytes but the key has %u", total, s->key_len);
	return 0;
}

/* NFTA_SET_DESC: the concatenation's field lengths. Returns 0 or -EBADMSG. */
static int set_desc_parse(const struct nlattr *desc, struct set_desc *sd)
{
	const struct nlattr *tb[NFTA_SET_DESC_MAX + 1] = { 0 }, *el, *f;
	uint32_t v;

	nest_attrs_index(desc, tb, NFTA_SET_DESC_MAX);
	if (attr_u32(tb[NFTA_SET_DESC_SIZE], 0, &v) < 0)
		return -EBADMSG;
	if (!tb[NFTA_SET_DESC_CONCAT])
		return 0;
	sd->has_concat = true;
	mnl_attr_for_each_nested(el, tb[NFTA_SET_DESC_CONCAT])
	{
		if (mnl_attr_get_type(el) != NFTA_LIST_ELEM)
			continue;
		mnl_attr_for_each_nested(f, el)
		{
			if (mnl_attr_get_type(f) != NFTA_SET_FIELD_LEN)
				continue;
			if (attr_u32(f, 0, &v) < 0)
				return -EBADMSG;
			if (sd->nconcat < NFT_REG32_COUNT)
				sd->concat[sd->nconcat] = (uint8_t)v;
			sd->nconcat++;
		}
	}
	return 0;
}

static int parse_set(struct fw_nft_parser *p, const struct nlmsghdr *nlh)
{
	const struct nlattr *tb[NFTA_SET_MAX + 1] = { 0 };
	_cleanup_(ir_set_freep) struct ir_set *is = NULL;
	_cleanup_(strbuf_donep) struct strbuf type = { 0 };
	uint16_t family = ((const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family;
	struct set_desc sd = { 0 };
	struct nft_table_rec *tr;
	struct nft_set_rec *s;
	const char *name, *table;
	uint32_t flags, key_len, data_type, data_len;
	int r;

	msg_attrs_index(nlh, tb, NFTA_SET_MAX);
	if (attr_str(tb[NFTA_SET_NAME], &name) < 0 || attr_str(tb[NFTA_SET_TABLE], &table) < 0 ||
	    attr_u32(tb[NFTA_SET_FLAGS], 0, &flags) < 0 ||
	    attr_u32(tb[NFTA_SET_KEY_TYPE], 0, &sd.key_type) < 0 ||
	    attr_u32(tb[NFTA_SET_KEY_LEN], 0, &key_len) < 0 ||
	    attr_u32(tb[NFTA_SET_DATA_TYPE], 0, &data_type) < 0 ||
	    attr_u32(tb[NFTA_SET_DATA_LEN], 0, &data_len) < 0 ||
	    (tb[NFTA_SET_DESC] && set_desc_parse(tb[NFTA_SET_DESC], &sd) < 0))
		return -EBADMSG;
	sd.udata = tb[NFTA_SET_USERDATA];
	if (!name)
		return -EBADMSG;
	tr = table_find(p, family, table);
	if (!tr)
		return -ENOENT;
	if (set_find(tr, name))
		return -EBADMSG;

	r = ir_set_new(name, NULL, &is);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (VEC_PUSH(&tr->setv, s) < 0) {
		free(s);
		return -ENOMEM;
	}
	s->set = is;
	s->flags = flags;
	s->key_len = key_len;
	s->data_type = data_type;
	s->data_len = data_len;
	is->family = AF_UNSPEC;
	is->flags = (flags & NFT_SET_INTERVAL ? IR_SET_INTERVAL : 0) |
		    (flags & NFT_SET_TIMEOUT ? IR_SET_TIMEOUT : 0) |
		    (flags & NFT_SET_CONSTANT ? IR_SET_CONSTANT : 0) |
		    (flags & NFT_SET_ANONYMOUS ? IR_SET_ANONYMOUS : 0) |
		    (flags & NFT_SET_EVAL ? IR_SET_DYNAMIC : 0);
	if (flags & NFT_SET_MAP)
		is->flags |= s->data_type == NFT_DATA_VERDICT ? IR_SET_VMAP : IR_SET_MAP;
	if (flags & NFT_SET_OBJECT)
		r = set_bad(s, "object map");
	if (r >= 0 && s->key_len == 0)
		r = set_bad(s, "key length 0");
	if (r >= 0)
		r = set_layout(s, &sd, &type);
	if (r >= 0 && (flags & NFT_SET_MAP) && s->data_type != NFT_DATA_VERDICT &&
	    (s->data_len == 0 || s->data_len > 16))
		r = set_bad(s, "map data of %u bytes", s->data_len);
	if (r < 0)
		return r;
	if (flags & NFT_SET_MAP) {
		uint32_t dt = s->data_type;
		r = strbuf_printf(&type, " : %s",
				  dt == NFT_DATA_VERDICT	      ? "verdict"
				  : (dt < _DT_MAX && dtinfo[dt].name) ? dtinfo[dt].name
								      : "integer");
		if (r < 0)
			return r;
	}
	is->type = strbuf_steal(&type);
	if (!is->type)
		return -ENOMEM;

	r = ir_table_add_set(tr->t, &is);
	if (r < 0)
		return r == -EEXIST ? -EBADMSG : r;
	r = hashmap_put(&tr->sets, s->set->name, s);
	if (r < 0)
		return r;
	p->nsets++;
	return 0;
}

/* Decodes key field bytes into a key part: addresses into the mapped space, numbers by byte
 * order, interface names as exact names. */
static int key_part(const struct nft_set_rec *s, unsigned i, const uint8_t *b,
		    struct ir_key_part *kp, char *namebuf)
{
	unsigned len = s->flen[i];

	switch (s->set->keytype[i]) {
	case IR_KEY_ADDR:
		kp->lo = len == 4 ? np_v4((uint32_t)bytes_be(b, 4)) : bytes_be(b, len);
		break;
	case IR_KEY_IFNAME:
		memcpy(namebuf, b, len);
		namebuf[len] = '\0';
		kp->ifname = namebuf;
		kp->lo = bytes_be(b, len);
		break;
	default:
		kp->lo = bytes_value(b, len, s->fhost[i]);
		break;
	}
	kp->hi = kp->lo;
	return 0;
}

/* Turns [lo, hi] of an interface name field (big-endian numbers of 16 bytes) into an exact
 * name or a prefix pattern; returns -EINVAL when the range is neither. */
static int ifname_range(np_u128 lo, np_u128 hi, unsigned len, struct ir_key_part *kp, char *namebuf)
{
	uint8_t a[16], b[16];
	unsigned k = 0;

	for (unsigned i = 0; i < len; i++) {
		a[len - 1 - i] = (uint8_t)(lo >> (8 * i));
		b[len - 1 - i] = (uint8_t)(hi >> (8 * i));
	}
	while (k < len && a[k] == b[k] && a[k] != 0)
		k++;
	if (lo == hi) {
		memcpy(namebuf, a, len);
		namebuf[len] = '\0';
		kp->ifname = namebuf;
		kp->prefix = false;
		return 0;
	}
	for (unsigned i = k; i < len; i++)
		if (a[i] != 0 || b[i] != 0xff)
			return -EINVAL;
	memcpy(namebuf, a, k);
	namebuf[k] = '\0';
	kp->ifname = namebuf;
	kp->prefix = true;
	return 0;
}

struct elem_attrs {
	const struct nlattr *tb[NFTA_SET_ELEM_MAX + 1];
};

static int data_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type > 0 && type <= NFTA_DATA_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int verdict_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type > 0 && type <= NFTA_VERDICT_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

/* Indexes the attributes nested in nest by type into tb[0..max] (others are skipped): what
 * mnl_attr_parse_nested() does, without a callback per attribute (the reader does this a few
 * times per expression and per set element). Returns 0, or -EBADMSG for a malformed nest. */
static int attr_index(const struct nlattr *nest, const struct nlattr **tb, unsigned max)
{
	const uint8_t *p = mnl_attr_get_payload(nest);
	size_t rem = mnl_attr_get_payload_len(nest);

	while (rem >= sizeof(struct nlattr)) {
		const struct nlattr *a = (const struct nlattr *)p;
		size_t len = a->nla_len, step = NLA_ALIGN(a->nla_len);
		unsigned type = a->nla_type & NLA_TYPE_MASK;

		if (len < sizeof(struct nlattr) || len > rem)
			return -EBADMSG;
		if (type <= max)
			tb[type] = a;
		if (step >= rem)
			break;
		p += step;
		rem -= step;
	}
	return 0;
}

/* Returns the value bytes of a nested nft_data attribute (NFTA_DATA_VALUE), or NULL. */
static const uint8_t *data_value(const struct nlattr *nest, uint32_t *ret_len)
{
	const struct nlattr *tb[NFTA_DATA_MAX + 1] = { 0 };

	if (!nest || attr_index(nest, tb, NFTA_DATA_MAX) < 0 || !tb[NFTA_DATA_VALUE])
		return NULL;
	*ret_len = mnl_attr_get_payload_len(tb[NFTA_DATA_VALUE]);
	return mnl_attr_get_payload(tb[NFTA_DATA_VALUE]);
}

/* Parses the verdict of a nested nft_data attribute into *v (chain borrowed from the message).
 * Returns 0 or -EBADMSG. */
static int data_verdict(const struct nlattr *nest, struct ir_verdict *v)
{
	const struct nlattr *tb[NFTA_DATA_MAX + 1] = { 0 };
	const struct nlattr *vt[NFTA_VERDICT_MAX + 1] = { 0 };
	const char *chain = NULL;

	if (!nest || mnl_attr_parse_nested(nest, data_attr_cb, tb) < 0 || !tb[NFTA_DATA_VERDICT])
		return -EBADMSG;
	if (mnl_attr_parse_nested(tb[NFTA_DATA_VERDICT], verdict_attr_cb, vt) < 0 ||
	    !vt[NFTA_VERDICT_CODE] || mnl_attr_validate(vt[NFTA_VERDICT_CODE], MNL_TYPE_U32) < 0)
		return -EBADMSG;
	if (vt[NFTA_VERDICT_CHAIN]) {
		if (mnl_attr_validate(vt[NFTA_VERDICT_CHAIN], MNL_TYPE_NUL_STRING) < 0)
			return -EBADMSG;
		chain = mnl_attr_get_str(vt[NFTA_VERDICT_CHAIN]);
	}
	return verdict_from_code((int32_t)ntohl(mnl_attr_get_u32(vt[NFTA_VERDICT_CODE])), chain,
				 v) < 0
		       ? -EBADMSG
		       : 0;
}

static int add_elem(struct fw_nft_parser *p, struct nft_set_rec *s, const struct nlattr *nest)
{
	struct elem_attrs ea = { 0 };
	struct ir_key_part kp[IR_KEY_MAX] = { 0 };
	char names[IR_KEY_MAX][17];
	struct ir_verdict v = { 0 };
	const uint8_t *key, *key_end = NULL;
	uint32_t klen = 0, kelen = 0, flags = 0;
	np_u128 data = 0;
	int r;

	if (attr_index(nest, ea.tb, NFTA_SET_ELEM_MAX) < 0)
		return -EBADMSG;
	if (ea.tb[NFTA_SET_ELEM_FLAGS]) {
		if (mnl_attr_validate(ea.tb[NFTA_SET_ELEM_FLAGS], MNL_TYPE_U32) < 0)
			return -EBADMSG;
		flags = ntohl(mnl_attr_get_u32(ea.tb[NFTA_SET_ELEM_FLAGS]));
	}
	p->nelems++;
	if (s->bad)
		return 0;
	if (flags & NFT_SET_ELEM_CATCHALL)
		return set_bad(s, "catch-all element");
	key = data_value(ea.tb[NFTA_SET_ELEM_KEY], &klen);
	if (!key || klen != s->key_len)
		return set_bad(s, "element key of %u bytes, expected %u", klen, s->key_len);
	if (ea.tb[NFTA_SET_ELEM_KEY_END]) {
		key_end = data_value(ea.tb[NFTA_SET_ELEM_KEY_END], &kelen);
		if (!key_end || kelen != s->key_len)
			return set_bad(s, "element key end of %u bytes", kelen);
	}
	if ((s->flags & NFT_SET_MAP) && !(flags & NFT_SET_ELEM_INTERVAL_END)) {
		if (s->data_type == NFT_DATA_VERDICT) {
			if (data_verdict(ea.tb[NFTA_SET_ELEM_DATA], &v) < 0)
				return set_bad(s, "element with a verdict that does not parse");
		} else {
			uint32_t dlen = 0;
			const uint8_t *d = data_value(ea.tb[NFTA_SET_ELEM_DATA], &dlen);
			if (!d || dlen != s->data_len)
				return set_bad(s, "element data of %u bytes, expected %u", dlen,
					       s->data_len);
			bool host = s->data_type < _DT_MAX && dtinfo[s->data_type].name &&
						    s->data_type != DT_INTEGER
					    ? dtinfo[s->data_type].host
					    : s->data_host;
			data = bytes_value(d, dlen, host);
		}
	}

	if ((s->flags & NFT_SET_INTERVAL) && !key_end) {
		/* rbtree: start and end elements, ranges built in finish */
		struct raw_elem re = {
			.key = bytes_be(key, klen),
			.end = flags & NFT_SET_ELEM_INTERVAL_END,
			.data = data,
		};
		if (s->nfield != 1)
			return set_bad(s, "concatenated interval element without a key end");
		if (ir_verdict_copy(&v, &re.verdict) < 0)
			return -ENOMEM;
		if (VEC_PUSH(&s->raw, re) < 0) {
			ir_verdict_done(&re.verdict);
			return -ENOMEM;
		}
		return 0;
	}
	if (flags & NFT_SET_ELEM_INTERVAL_END)
		return set_bad(s, "interval end element in a set without intervals");

	for (unsigned i = 0, off = 0; i < s->nfield; i++) {
		r = key_part(s, i, key + off, &kp[i], names[i]);
		if (r < 0)
			return r;
		if (key_end) {
			struct ir_key_part hi = { 0 };
			char hiname[17];
			r = key_part(s, i, key_end + off, &hi, hiname);
			if (r < 0)
				return r;
			kp[i].hi = hi.lo;
			if (s->set->keytype[i] == IR_KEY_IFNAME &&
			    ifname_range(kp[i].lo, hi.lo, s->flen[i], &kp[i], names[i]) < 0)
				return set_bad(s, "interface name range that is not a prefix");
			if (kp[i].hi < kp[i].lo)
				return set_bad(s, "element range with its end below its start");
		}
		off += s->nfield == 1 ? s->flen[i] : (s->flen[i] + 3u) / 4 * 4;
	}
	return ir_set_add_elem(s->set, kp, (s->set->flags & IR_SET_VMAP) ? &v : NULL, data, false);
}

struct elemlist_attrs {
	const struct nlattr *tb[NFTA_SET_ELEM_LIST_MAX + 1];
};

static int elemlist_attr_cb(const struct nlattr *attr, void *data)
{
	struct elemlist_attrs *e = data;
	int type = mnl_attr_get_type(attr);

	if (type > 0 && type <= NFTA_SET_ELEM_LIST_MAX)
		e->tb[type] = attr;
	return MNL_CB_OK;
}

/* Set elements are parsed straight from the attributes: sets are the bulk of big rulesets and
 * one libnftnl object per element costs more than the dump itself. */
static int parse_setelems(struct fw_nft_parser *p, const struct nlmsghdr *nlh)
{
	struct elemlist_attrs la = { 0 };
	const struct nfgenmsg *nfg;
	struct nft_table_rec *tr;
	struct nft_set_rec *s;
	const struct nlattr *a;
	int r;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*nfg)))
		return -EBADMSG;
	nfg = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*nfg), elemlist_attr_cb, &la) < 0)
		return -EBADMSG;
	if (!la.tb[NFTA_SET_ELEM_LIST_TABLE] || !la.tb[NFTA_SET_ELEM_LIST_SET] ||
	    mnl_attr_validate(la.tb[NFTA_SET_ELEM_LIST_TABLE], MNL_TYPE_NUL_STRING) < 0 ||
	    mnl_attr_validate(la.tb[NFTA_SET_ELEM_LIST_SET], MNL_TYPE_NUL_STRING) < 0)
		return -EBADMSG;
	tr = table_find(p, nfg->nfgen_family, mnl_attr_get_str(la.tb[NFTA_SET_ELEM_LIST_TABLE]));
	if (!tr)
		return -ENOENT;
	s = set_find(tr, mnl_attr_get_str(la.tb[NFTA_SET_ELEM_LIST_SET]));
	if (!s)
		return -ENOENT;
	if (!la.tb[NFTA_SET_ELEM_LIST_ELEMENTS])
		return 0;
	mnl_attr_for_each_nested(a, la.tb[NFTA_SET_ELEM_LIST_ELEMENTS])
	{
		/* the kernel dumps NFTA_LIST_ELEM; libnftnl numbers them 1, 2, ... (the kernel
		 * accepts either): the type is not checked */
		r = add_elem(p, s, a);
		if (r < 0)
			return r;
	}
	return 0;
}

static int raw_elem_cmp(const void *a, const void *b)
{
	const struct raw_elem *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	/* an end before a start at the same key: the start wins, as in the kernel's rbtree */
	return (int)y->end - (int)x->end;
}

/* Returns whether the n raw elements are in raw_elem_cmp() order (strict: no two equal). */
static bool raw_sorted(const struct raw_elem *e, size_t n, bool strict)
{
	for (size_t i = 1; i < n; i++) {
		int c = raw_elem_cmp(&e[i - 1], &e[i]);
		if (c > 0 || (strict && c == 0))
			return false;
	}
	return true;
}

static void raw_reverse(struct raw_elem *e, size_t n)
{
	for (size_t i = 0, j = n - 1; n > 0 && i < j; i++, j--) {
		struct raw_elem t = e[i];
		e[i] = e[j];
		e[j] = t;
	}
}

/* Builds the ranges of a single-field interval set from its start and end elements: a key is
 * in the set when the greatest element not above it is a start (the kernel's rbtree lookup);
 * a start without a following element runs to the end of the key space. */
static int set_build_intervals(struct nft_set_rec *s)
{
	np_u128 max = nbytes_max(s->flen[0]);
	int r;

	size_t starts = 0;

	if (s->bad || s->raw.n == 0)
		return 0;
	/* the kernel dumps an rbtree from its greatest key down: reversed, it is sorted (qsort()
	 * keeps equal elements in dump order, so a reversal stands for it only without any) */
	if (!raw_sorted(s->raw.items, s->raw.n, false)) {
		raw_reverse(s->raw.items, s->raw.n);
		if (!raw_sorted(s->raw.items, s->raw.n, true)) {
			raw_reverse(s->raw.items, s->raw.n);
			qsort(s->raw.items, s->raw.n, sizeof(s->raw.items[0]), raw_elem_cmp);
		}
	}
	VEC_FOREACH (e, &s->raw)
		starts += !e->end;
	r = ir_set_reserve(s->set, starts);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->raw.n; i++) {
		struct raw_elem *e = &s->raw.items[i];
		struct ir_key_part kp = { 0 };
		char name[17];
		np_u128 hi;

		if (e->end)
			continue;
		if (i + 1 < s->raw.n) {
			if (s->raw.items[i + 1].key == e->key)
				continue; /* duplicate start: the next one carries it */
			hi = s->raw.items[i + 1].key - 1;
		} else
			hi = max;
		kp.lo = e->key;
		kp.hi = hi;
		if (s->set->keytype[0] == IR_KEY_ADDR && s->flen[0] == 4) {
			kp.lo = np_v4((uint32_t)kp.lo);
			kp.hi = np_v4((uint32_t)kp.hi);
		} else if (s->set->keytype[0] == IR_KEY_IFNAME &&
			   ifname_range(kp.lo, kp.hi, s->flen[0], &kp, name) < 0)
			return set_bad(s, "interface name range that is not a prefix");
		r = ir_set_add_elem(s->set, &kp, (s->set->flags & IR_SET_VMAP) ? &e->verdict : NULL,
				    e->data, false);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* rule expressions, read straight from the attributes */

/*
 * Rules are parsed without libnftnl: one libnftnl object per expression costs more than the
 * kernel spends dumping it, and libnftnl exits the process on an attribute of the wrong size.
 * An expression is its name and its data attributes indexed by the kernel's NFTA_<EXPR>_*
 * numbers; the accessors check sizes and read a malformed attribute as absent, which makes the
 * expression opaque rather than wrong.
 */
#define XE_MAX 16

struct xexpr {
	const char *name;
	const struct nlattr *data; /* NFTA_EXPR_DATA, or NULL */
	const struct nlattr *tb[XE_MAX + 1];
};

static int expr_top_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type > 0 && type <= NFTA_EXPR_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

/* Parses one NFTA_LIST_ELEM of an expression list. Returns 0 or -EBADMSG. */
static int xe_parse(const struct nlattr *elem, struct xexpr *e)
{
	const struct nlattr *tb[NFTA_EXPR_MAX + 1] = { 0 };

	*e = (struct xexpr){ 0 };
	if (attr_index(elem, tb, NFTA_EXPR_MAX) < 0 || !tb[NFTA_EXPR_NAME] ||
	    mnl_attr_validate(tb[NFTA_EXPR_NAME], MNL_TYPE_NUL_STRING) < 0)
		return -EBADMSG;
	e->name = mnl_attr_get_str(tb[NFTA_EXPR_NAME]);
	e->data = tb[NFTA_EXPR_DATA];
	if (e->data && attr_index(e->data, e->tb, XE_MAX) < 0)
		return -EBADMSG;
	return 0;
}

static bool xe_has(const struct xexpr *e, unsigned t)
{
	return t <= XE_MAX && e->tb[t];
}

static uint32_t xe_u32(const struct xexpr *e, unsigned t)
{
	if (!xe_has(e, t) || mnl_attr_get_payload_len(e->tb[t]) != 4)
		return 0;
	return ntohl(mnl_attr_get_u32(e->tb[t]));
}

static uint16_t xe_u16(const struct xexpr *e, unsigned t)
{
	if (!xe_has(e, t) || mnl_attr_get_payload_len(e->tb[t]) != 2)
		return 0;
	return ntohs(mnl_attr_get_u16(e->tb[t]));
}

static uint8_t xe_u8(const struct xexpr *e, unsigned t)
{
	if (!xe_has(e, t) || mnl_attr_get_payload_len(e->tb[t]) != 1)
		return 0;
	return mnl_attr_get_u8(e->tb[t]);
}

static uint64_t xe_u64(const struct xexpr *e, unsigned t)
{
	uint64_t v;

	if (!xe_has(e, t) || mnl_attr_get_payload_len(e->tb[t]) != 8)
		return 0;
	memcpy(&v, mnl_attr_get_payload(e->tb[t]), 8);
	return be64toh(v);
}

static const char *xe_str(const struct xexpr *e, unsigned t)
{
	if (!xe_has(e, t) || mnl_attr_validate(e->tb[t], MNL_TYPE_NUL_STRING) < 0)
		return NULL;
	return mnl_attr_get_str(e->tb[t]);
}

/* The bytes of a nested nft_data value (cmp data, masks, immediate data), or NULL. */
static const uint8_t *xe_data(const struct xexpr *e, unsigned t, uint32_t *ret_len)
{
	if (!xe_has(e, t))
		return NULL;
	return data_value(e->tb[t], ret_len);
}

static const void *xe_bin(const struct xexpr *e, unsigned t, uint32_t *ret_len)
{
	if (!xe_has(e, t))
		return NULL;
	*ret_len = mnl_attr_get_payload_len(e->tb[t]);
	return mnl_attr_get_payload(e->tb[t]);
}

/* Describes an expression from its attributes: "[name 1=... 2=...]", numbers for fixed-size
 * values, quoted strings, hex for data. */
static int xe_describe_attrs(const struct nlattr *nest, struct strbuf *sb, unsigned depth);

static int xe_describe_attr(const struct nlattr *a, struct strbuf *sb, unsigned depth)
{
	uint16_t len = mnl_attr_get_payload_len(a);
	const uint8_t *b = mnl_attr_get_payload(a);
	int r = strbuf_printf(sb, " %u=", mnl_attr_get_type(a));

	if (r < 0)
		return r;
	if (len == 4)
		return strbuf_printf(sb, "%u", ntohl(mnl_attr_get_u32(a)));
	if (len > 1 && b[len - 1] == '\0' && strlen((const char *)b) == (size_t)len - 1) {
		bool printable = true;
		for (uint16_t i = 0; i + 1 < len; i++)
			printable &= b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"';
		if (printable)
			return strbuf_printf(sb, "\"%s\"", (const char *)b);
	}
	if ((a->nla_type & NLA_F_NESTED ||
	     (len >= 4 && ((const struct nlattr *)b)->nla_len <= len &&
	      ((const struct nlattr *)b)->nla_len >= 4)) &&
	    depth < 3) {
		r = strbuf_puts(sb, "{");
		if (r >= 0)
			r = xe_describe_attrs(a, sb, depth + 1);
		return r < 0 ? r : strbuf_puts(sb, " }");
	}
	return hex_append(sb, b, MIN(len, 64));
}

static int xe_describe_attrs(const struct nlattr *nest, struct strbuf *sb, unsigned depth)
{
	const struct nlattr *a;
	int r = 0;

	mnl_attr_for_each_nested(a, nest)
	{
		r = xe_describe_attr(a, sb, depth);
		if (r < 0)
			break;
	}
	return r;
}

/* ------------------------------------------------------------------------------------------ */
/* rules: the register file model */

enum fk {
	FK_RAW, /* bytes with no IR field: comparisons on them are opaque */
	FK_NUM, /* a number: port, protocol, mark, type, ... */
	FK_ADDR, /* an address, or some of its bytes (foff/fsize) */
	FK_IFNAME, /* an interface name */
	FK_BITS, /* ct state / ct status bit masks */
	FK_ETHERTYPE, /* meta protocol / ether type: tells the network protocol */
	FK_DSCP, /* the byte(s) holding the DSCP */
	FK_RPF, /* fib saddr . iif oif: zero when the reverse path fails */
	FK_IMM, /* immediate data */
	FK_MAP, /* the data a map lookup returned */
};

struct seg {
	uint8_t start, len; /* bytes in the register file (NFT_REG32_00 is byte 0) */
	uint8_t fk;
	bool host; /* value in host byte order (after byteorder expressions) */
	bool masked, complex; /* complex: shifted, or transformed beyond mask/xor */
	enum ir_field field;
	uint8_t foff, fsize; /* FK_ADDR: the loaded bytes are [foff, foff + len) of fsize */
	uint8_t mask[16], xor[16];
	uint8_t data[16]; /* FK_IMM */
	const struct xexpr *src; /* the expression that loaded it (for descriptions) */
};

#define NSEG 64
#define REGBYTES (NFT_REG32_COUNT * NFT_REG32_SIZE)

struct xl {
	struct fw_nft_parser *p;
	struct nft_table_rec *tr;
	struct ir_rule *r;
	int nfproto; /* NFPROTO_IPV4/IPV6 when known for the packet, else 0 */
	int l4proto; /* IPPROTO_* when known, else -1 */
	bool verdict; /* a verdict was set: later expressions are unreachable */
	unsigned nseg;
	struct seg seg[NSEG];
};

static int reg_off(uint32_t reg)
{
	if (reg >= NFT_REG_1 && reg <= NFT_REG_4)
		return (int)(reg - NFT_REG_1) * NFT_REG_SIZE;
	if (reg >= NFT_REG32_00 && reg <= NFT_REG32_15)
		return (int)(reg - NFT_REG32_00) * NFT_REG32_SIZE;
	return -1;
}

/* Forgets what the bytes [start, start + len) rounded up to 32-bit words held. */
static void regs_clobber(struct xl *x, unsigned start, unsigned len)
{
	unsigned end = start + (len + 3) / 4 * 4;

	for (unsigned i = 0; i < x->nseg;) {
		struct seg *s = &x->seg[i];
		if (s->start < end && s->start + s->len > start)
			x->seg[i] = x->seg[--x->nseg];
		else
			i++;
	}
}

static void regs_push(struct xl *x, const struct seg *s)
{
	if (s->start + s->len > REGBYTES)
		return;
	if (x->nseg == NSEG)
		x->seg[0] = x->seg[--x->nseg];
	x->seg[x->nseg++] = *s;
}

/* Collects the segments starting in [start, start + len), in register order. */
static unsigned regs_get(struct xl *x, unsigned start, unsigned len, struct seg **out)
{
	unsigned n = 0;

	for (unsigned i = 0; i < x->nseg; i++)
		if (x->seg[i].start >= start && x->seg[i].start < start + len) {
			/* insertion sort: one or a few segments, every cmp and lookup */
			unsigned k = n++;
			while (k > 0 && out[k - 1]->start > x->seg[i].start) {
				out[k] = out[k - 1];
				k--;
			}
			out[k] = &x->seg[i];
		}
	return n;
}

static const char *cmp_op_str(uint32_t op)
{
	static const char *const ops[] = {
		[NFT_CMP_EQ] = "==",  [NFT_CMP_NEQ] = "!=", [NFT_CMP_LT] = "<",
		[NFT_CMP_LTE] = "<=", [NFT_CMP_GT] = ">",   [NFT_CMP_GTE] = ">=",
	};
	return op < ELEMENTSOF(ops) ? ops[op] : "?";
}

static const char *const meta_keys[] = {
	"len",	    "protocol",	 "priority", "mark",	"iif",	   "oif",     "iifname",
	"oifname",  "iiftype",	 "oiftype",  "skuid",	"skgid",   "nftrace", "rtclassid",
	"secmark",  "nfproto",	 "l4proto",  "ibrname", "obrname", "pkttype", "cpu",
	"iifgroup", "oifgroup",	 "cgroup",   "random",	"secpath", "iifkind", "oifkind",
	"ibrpvid",  "ibrvproto", "time",     "day",	"hour",	   "sdif",    "sdifname",
};
static const char *const ct_keys[] = {
	"state",     "direction", "status",   "mark",	   "secmark",	"expiration",
	"helper",    "l3proto",	  "saddr",    "daddr",	   "protocol",	"proto-src",
	"proto-dst", "label",	  "pkts",     "bytes",	   "avgpkt",	"zone",
	"events",    "ip saddr",  "ip daddr", "ip6 saddr", "ip6 daddr", "id",
};

/* A readable description of one expression for opaque items: loads by key name, anything else
 * by its attributes. */
static int expr_describe(const struct xexpr *e, struct strbuf *sb)
{
	int r;

	if (streq(e->name, "meta") && xe_has(e, NFTA_META_KEY) &&
	    xe_u32(e, NFTA_META_KEY) < ELEMENTSOF(meta_keys))
		return strbuf_printf(
			sb, "[meta %s %s reg %u]", meta_keys[xe_u32(e, NFTA_META_KEY)],
			xe_has(e, NFTA_META_SREG) ? "set from" : "load =>",
			xe_u32(e, xe_has(e, NFTA_META_SREG) ? NFTA_META_SREG : NFTA_META_DREG));
	if (streq(e->name, "ct") && xe_has(e, NFTA_CT_KEY) &&
	    xe_u32(e, NFTA_CT_KEY) < ELEMENTSOF(ct_keys))
		return strbuf_printf(
			sb, "[ct %s%s %s reg %u]",
			xe_has(e, NFTA_CT_DIRECTION)
				? (xe_u8(e, NFTA_CT_DIRECTION) ? "reply " : "original ")
				: "",
			ct_keys[xe_u32(e, NFTA_CT_KEY)],
			xe_has(e, NFTA_CT_SREG) ? "set from" : "load =>",
			xe_u32(e, xe_has(e, NFTA_CT_SREG) ? NFTA_CT_SREG : NFTA_CT_DREG));
	if (streq(e->name, "payload") && xe_has(e, NFTA_PAYLOAD_DREG)) {
		static const char *const bases[] = { "link layer", "network", "transport",
						     "inner" };
		uint32_t base = xe_u32(e, NFTA_PAYLOAD_BASE);
		return strbuf_printf(sb, "[payload load %ub @ %s header + %u => reg %u]",
				     xe_u32(e, NFTA_PAYLOAD_LEN),
				     base < ELEMENTSOF(bases) ? bases[base] : "?",
				     xe_u32(e, NFTA_PAYLOAD_OFFSET), xe_u32(e, NFTA_PAYLOAD_DREG));
	}
	r = strbuf_printf(sb, "[%s", e->name);
	if (r >= 0 && e->data)
		r = xe_describe_attrs(e->data, sb, 0);
	return r < 0 ? r : strbuf_puts(sb, "]");
}

static int seg_describe(const struct seg *s, struct strbuf *sb)
{
	int r;

	if (s->fk == FK_IMM)
		r = hex_append(sb, s->data, s->len);
	else if (s->field != IR_FIELD_NONE && s->fk != FK_RAW && s->fk != FK_MAP) {
		r = strbuf_puts(sb, ir_field_to_string(s->field));
		if (r >= 0 && s->fk == FK_ADDR && (s->foff != 0 || s->len != s->fsize))
			r = strbuf_printf(sb, "[bytes %u-%u]", s->foff, s->foff + s->len - 1);
	} else if (s->src)
		r = expr_describe(s->src, sb);
	else
		r = strbuf_puts(sb, "?");
	if (r >= 0 && s->masked) {
		r = strbuf_puts(sb, " & ");
		if (r >= 0)
			r = hex_append(sb, s->mask, MIN(s->len, 16));
		if (r >= 0) {
			bool x = false;
			for (unsigned i = 0; i < s->len && i < 16; i++)
				x |= s->xor [i] != 0;
			if (x) {
				r = strbuf_puts(sb, " ^ ");
				if (r >= 0)
					r = hex_append(sb, s->xor, MIN(s->len, 16));
			}
		}
	}
	if (r >= 0 && s->complex)
		r = strbuf_puts(sb, " (shifted)");
	return r;
}

/* An opaque predicate: "<what the register holds> <op> <value>[: why]". */
static int opaque_cmp(struct xl *x, struct seg **segs, unsigned n, const char *op,
		      const uint8_t *val, size_t vlen, const char *why)
{
	_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
	int r = 0;

	for (unsigned i = 0; i < n && r >= 0; i++) {
		if (i)
			r = strbuf_puts(&sb, " . ");
		if (r >= 0)
			r = seg_describe(segs[i], &sb);
	}
	if (r >= 0 && n == 0)
		r = strbuf_puts(&sb, "(register not loaded)");
	if (r >= 0 && op)
		r = strbuf_printf(&sb, " %s ", op);
	if (r >= 0 && val)
		r = hex_append(&sb, val, vlen);
	if (r >= 0 && why)
		r = strbuf_printf(&sb, ": %s", why);
	if (r < 0)
		return r;
	return ir_rule_add_opaque(x->r, "%s", strbuf_str(&sb));
}

/* An opaque predicate or statement made of one raw expression. */
static int opaque_expr(struct xl *x, const struct xexpr *e, bool stmt, const char *why)
{
	_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
	int r;

	r = expr_describe(e, &sb);
	if (r >= 0 && why)
		r = strbuf_printf(&sb, ": %s", why);
	if (r < 0)
		return r;
	if (stmt)
		return ir_rule_add_note(x->r, IR_STMT_OPAQUE, "%s", strbuf_str(&sb));
	return ir_rule_add_opaque(x->r, "%s", strbuf_str(&sb));
}

static int note_expr(struct xl *x, enum ir_stmt_kind kind, const struct xexpr *e)
{
	_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
	int r;

	r = expr_describe(e, &sb);
	if (r < 0)
		return r;
	return ir_rule_add_note(x->r, kind, "%s", strbuf_str(&sb));
}

/* ------------------------------------------------------------------------------------------ */
/* loads */

struct pfield {
	uint8_t off, len;
	enum ir_field field;
	uint8_t fk;
};

static const struct pfield nh4_fields[] = {
	{ 12, 4, IR_FIELD_SADDR, FK_ADDR },
	{ 16, 4, IR_FIELD_DADDR, FK_ADDR },
	{ 9, 1, IR_FIELD_L4PROTO, FK_NUM },
	{ 1, 1, IR_FIELD_DSCP, FK_DSCP },
	{ 0 },
};
static const struct pfield nh6_fields[] = {
	{ 8, 16, IR_FIELD_SADDR, FK_ADDR },
	{ 24, 16, IR_FIELD_DADDR, FK_ADDR },
	{ 6, 1, IR_FIELD_L4PROTO, FK_NUM },
	{ 0, 2, IR_FIELD_DSCP, FK_DSCP },
	{ 0 },
};
static const struct pfield th_tcp_fields[] = {
	{ 0, 2, IR_FIELD_SPORT, FK_NUM },
	{ 2, 2, IR_FIELD_DPORT, FK_NUM },
	{ 13, 1, IR_FIELD_TCP_FLAGS, FK_NUM },
	{ 0 },
};
static const struct pfield th_port_fields[] = {
	{ 0, 2, IR_FIELD_SPORT, FK_NUM },
	{ 2, 2, IR_FIELD_DPORT, FK_NUM },
	{ 0 },
};
static const struct pfield th_icmp_fields[] = {
	{ 0, 1, IR_FIELD_ICMP_TYPE, FK_NUM },
	{ 1, 1, IR_FIELD_ICMP_CODE, FK_NUM },
	{ 0 },
};
static const struct pfield ll_bridge_fields[] = {
	{ 12, 2, IR_FIELD_NFPROTO, FK_ETHERTYPE },
	{ 0 },
};

static const struct pfield *payload_fields(struct xl *x, uint32_t base)
{
	switch (base) {
	case NFT_PAYLOAD_NETWORK_HEADER:
		return x->nfproto == NFPROTO_IPV4   ? nh4_fields
		       : x->nfproto == NFPROTO_IPV6 ? nh6_fields
						    : NULL;
	case NFT_PAYLOAD_TRANSPORT_HEADER:
		switch (x->l4proto) {
		case IPPROTO_TCP:
			return th_tcp_fields;
		case IPPROTO_ICMP:
		case IPPROTO_ICMPV6:
			return th_icmp_fields;
		case -1: /* nft `th`: ports of whatever transport */
		case IPPROTO_UDP:
		case IPPROTO_UDPLITE:
		case IPPROTO_SCTP:
		case IPPROTO_DCCP:
			return th_port_fields;
		default:
			return NULL;
		}
	case NFT_PAYLOAD_LL_HEADER:
		return x->tr->family == NFPROTO_BRIDGE ? ll_bridge_fields : NULL;
	default:
		return NULL;
	}
}

/* Splits a payload load into the fields it covers: one field, several adjacent ones (nft
 * merges `ip saddr 1.1.1.1 ip daddr 2.2.2.2` into one 8-byte load), or the first bytes of an
 * address (iptables-nft loads one byte for a /8). Anything else is one raw segment. */
static unsigned payload_split(struct xl *x, const struct xexpr *e, uint32_t base, uint32_t off,
			      uint32_t len, struct seg *out)
{
	const struct pfield *f = payload_fields(x, base);
	unsigned n = 0;

	out[0] = (struct seg){ .fk = FK_RAW, .len = (uint8_t)MIN(len, 64u), .src = e };
	if (!f || len == 0 || len > 64)
		return 1;
	/* bytes inside one address */
	for (const struct pfield *p = f; p->len; p++)
		if (p->fk == FK_ADDR && off >= p->off && off + len <= (uint32_t)p->off + p->len &&
		    !(off == p->off && len == p->len)) {
			out[0] = (struct seg){ .fk = FK_ADDR,
					       .len = len,
					       .field = p->field,
					       .foff = off - p->off,
					       .fsize = p->len,
					       .src = e };
			return 1;
		}
	for (uint32_t pos = off; pos < off + len;) {
		const struct pfield *m = NULL;
		for (const struct pfield *p = f; p->len; p++)
			if (p->off == pos && pos + p->len <= off + len) {
				m = p;
				break;
			}
		if (!m || n == 8) {
			out[0] = (struct seg){ .fk = FK_RAW, .len = len, .src = e };
			return 1;
		}
		out[n++] = (struct seg){
			.start = pos - off,
			.len = m->len,
			.fk = m->fk,
			.field = m->field,
			.fsize = m->len,
			.src = e,
		};
		pos += m->len;
	}
	return n;
}

static void load(struct xl *x, uint32_t dreg, struct seg *segs, unsigned n, unsigned span)
{
	int d = reg_off(dreg);

	if (d < 0)
		return;
	regs_clobber(x, d, span);
	for (unsigned i = 0; i < n; i++) {
		segs[i].start += d;
		regs_push(x, &segs[i]);
	}
}

static void load_one(struct xl *x, uint32_t dreg, const struct seg *tmpl, unsigned span)
{
	struct seg s = *tmpl;
	load(x, dreg, &s, 1, span);
}

static void load_raw(struct xl *x, uint32_t dreg, const struct xexpr *e)
{
	struct seg s = { .fk = FK_RAW, .len = 16, .src = e };
	load(x, dreg, &s, 1, 16);
}

static int do_payload(struct xl *x, const struct xexpr *e)
{
	uint32_t base = xe_u32(e, NFTA_PAYLOAD_BASE);
	uint32_t off = xe_u32(e, NFTA_PAYLOAD_OFFSET);
	uint32_t len = xe_u32(e, NFTA_PAYLOAD_LEN);

	if (xe_has(e, NFTA_PAYLOAD_DREG)) {
		struct seg segs[8];
		unsigned n = payload_split(x, e, base, off, len, segs);
		load(x, xe_u32(e, NFTA_PAYLOAD_DREG), segs, n, MIN(len, 64u));
		return 0;
	}
	/* a payload write: mangling addresses, ports or the protocol changes what later rules
	 * see; other fields (dscp, ttl, ...) do not matter to filtering */
	{
		struct seg segs[8];
		unsigned n = payload_split(x, e, base, off, len, segs);
		bool matters = false;
		for (unsigned i = 0; i < n; i++)
			matters |= segs[i].fk == FK_RAW || segs[i].field == IR_FIELD_SADDR ||
				   segs[i].field == IR_FIELD_DADDR ||
				   segs[i].field == IR_FIELD_SPORT ||
				   segs[i].field == IR_FIELD_DPORT ||
				   segs[i].field == IR_FIELD_L4PROTO;
		return matters ? opaque_expr(x, e, true, "packet mangling")
			       : note_expr(x, IR_STMT_NOTE, e);
	}
}

static int mark_stmt(struct xl *x, enum ir_field dst, uint32_t sreg, const struct xexpr *e)
{
	struct seg *segs[NSEG];
	int a = reg_off(sreg);
	unsigned n = a < 0 ? 0 : regs_get(x, a, 4, segs);
	const struct seg *s = n == 1 && segs[0]->start == a ? segs[0] : NULL;

	if (s && s->fk == FK_IMM && s->len >= 4)
		return ir_rule_add_mark(x->r, dst, UINT32_MAX, (uint32_t)bytes_host(s->data, 4));
	if (s && s->fk == FK_NUM && !s->complex && s->host && s->len == 4 &&
	    (s->field == IR_FIELD_META_MARK || s->field == IR_FIELD_CT_MARK)) {
		uint32_t m = s->masked ? (uint32_t)bytes_host(s->mask, 4) : UINT32_MAX;
		uint32_t xr = s->masked ? (uint32_t)bytes_host(s->xor, 4) : 0;
		if (s->field == dst)
			return ir_rule_add_mark(x->r, dst, ~m, xr);
		return ir_rule_add_mark_copy(x->r, dst, s->field, m, UINT32_MAX, xr);
	}
	{
		_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
		int r = strbuf_printf(&sb, "%s set ", ir_field_to_string(dst));
		for (unsigned i = 0; i < n && r >= 0; i++)
			r = seg_describe(segs[i], &sb);
		if (r >= 0 && n == 0)
			r = expr_describe(e, &sb);
		if (r < 0)
			return r;
		return ir_rule_add_note(x->r, IR_STMT_OPAQUE, "%s", strbuf_str(&sb));
	}
}

static int do_meta(struct xl *x, const struct xexpr *e)
{
	uint32_t key = xe_u32(e, NFTA_META_KEY);
	struct seg s = { .src = e, .fk = FK_NUM };

	if (xe_has(e, NFTA_META_SREG)) {
		uint32_t sreg = xe_u32(e, NFTA_META_SREG);
		switch (key) {
		case NFT_META_MARK:
			return mark_stmt(x, IR_FIELD_META_MARK, sreg, e);
		case NFT_META_PRIORITY:
		case NFT_META_NFTRACE:
		case NFT_META_SECMARK:
			return note_expr(x, IR_STMT_NOTE, e);
		default:
			return opaque_expr(x, e, true, NULL);
		}
	}
	if (!xe_has(e, NFTA_META_DREG))
		return opaque_expr(x, e, true, "meta without register");

	switch (key) {
	case NFT_META_IIFNAME:
	case NFT_META_OIFNAME:
		s.fk = FK_IFNAME;
		s.field = key == NFT_META_IIFNAME ? IR_FIELD_IIFNAME : IR_FIELD_OIFNAME;
		s.len = 16;
		break;
	case NFT_META_IIF:
	case NFT_META_OIF:
		s.field = key == NFT_META_IIF ? IR_FIELD_IIF : IR_FIELD_OIF;
		s.len = 4;
		s.host = true;
		break;
	case NFT_META_MARK:
		s.field = IR_FIELD_META_MARK;
		s.len = 4;
		s.host = true;
		break;
	case NFT_META_L4PROTO:
		s.field = IR_FIELD_L4PROTO;
		s.len = 1;
		break;
	case NFT_META_NFPROTO:
		s.field = IR_FIELD_NFPROTO;
		s.len = 1;
		break;
	case NFT_META_PKTTYPE:
		s.field = IR_FIELD_PKTTYPE;
		s.len = 1;
		break;
	case NFT_META_SKUID:
	case NFT_META_SKGID:
		s.field = key == NFT_META_SKUID ? IR_FIELD_SKUID : IR_FIELD_SKGID;
		s.len = 4;
		s.host = true;
		break;
	case NFT_META_IIFTYPE:
	case NFT_META_OIFTYPE:
		s.field = key == NFT_META_IIFTYPE ? IR_FIELD_IIFTYPE : IR_FIELD_OIFTYPE;
		s.len = 2;
		s.host = true;
		break;
	case NFT_META_LEN:
		s.field = IR_FIELD_LENGTH;
		s.len = 4;
		s.host = true;
		break;
	case NFT_META_PROTOCOL:
		s.fk = FK_ETHERTYPE;
		s.field = IR_FIELD_NFPROTO;
		s.len = 2;
		break;
	default:
		load_raw(x, xe_u32(e, NFTA_META_DREG), e);
		return 0;
	}
	s.fsize = s.len;
	load_one(x, xe_u32(e, NFTA_META_DREG), &s, s.len);
	return 0;
}

static int do_ct(struct xl *x, const struct xexpr *e)
{
	uint32_t key = xe_u32(e, NFTA_CT_KEY);
	struct seg s = { .src = e, .fk = FK_NUM, .host = true };

	if (xe_has(e, NFTA_CT_SREG)) {
		switch (key) {
		case NFT_CT_MARK:
			return mark_stmt(x, IR_FIELD_CT_MARK, xe_u32(e, NFTA_CT_SREG), e);
		case NFT_CT_ZONE:
			return opaque_expr(x, e, true, "conntrack zone changes ct state lookups");
		default:
			return note_expr(x, IR_STMT_NOTE, e);
		}
	}
	if (!xe_has(e, NFTA_CT_DREG))
		return opaque_expr(x, e, true, "ct without register");
	if (xe_has(e, NFTA_CT_DIRECTION)) {
		load_raw(x, xe_u32(e, NFTA_CT_DREG), e);
		return 0;
	}
	switch (key) {
	case NFT_CT_STATE:
	case NFT_CT_STATUS:
		s.fk = FK_BITS;
		s.field = key == NFT_CT_STATE ? IR_FIELD_CT_STATE : IR_FIELD_CT_STATUS;
		s.len = 4;
		break;
	case NFT_CT_MARK:
		s.field = IR_FIELD_CT_MARK;
		s.len = 4;
		break;
	case NFT_CT_DIRECTION:
		s.field = IR_FIELD_CT_DIRECTION;
		s.len = 1;
		break;
	default:
		load_raw(x, xe_u32(e, NFTA_CT_DREG), e);
		return 0;
	}
	s.fsize = s.len;
	load_one(x, xe_u32(e, NFTA_CT_DREG), &s, s.len);
	return 0;
}

static int do_fib(struct xl *x, const struct xexpr *e)
{
	uint32_t result = xe_u32(e, NFTA_FIB_RESULT);
	uint32_t flags = xe_u32(e, NFTA_FIB_FLAGS);
	uint32_t addr = flags & (NFTA_FIB_F_SADDR | NFTA_FIB_F_DADDR);
	uint32_t rest = flags & ~(NFTA_FIB_F_SADDR | NFTA_FIB_F_DADDR | NFTA_FIB_F_PRESENT);
	struct seg s = { .src = e, .fk = FK_NUM, .host = true, .len = 4 };

	if (!xe_has(e, NFTA_FIB_DREG))
		return opaque_expr(x, e, true, "fib without register");
	if (result == NFT_FIB_RESULT_ADDRTYPE && rest == 0 && addr != 0 &&
	    addr != (NFTA_FIB_F_SADDR | NFTA_FIB_F_DADDR))
		s.field = addr == NFTA_FIB_F_SADDR ? IR_FIELD_SADDR_TYPE : IR_FIELD_DADDR_TYPE;
	else if ((result == NFT_FIB_RESULT_OIF || result == NFT_FIB_RESULT_OIFNAME) &&
		 addr == NFTA_FIB_F_SADDR && (rest & ~NFTA_FIB_F_MARK) == NFTA_FIB_F_IIF) {
		/* rpfilter: the route back to the source leaves through the input interface */
		s.fk = FK_RPF;
		s.field = IR_FIELD_RPF_OK;
		s.len = flags & NFTA_FIB_F_PRESENT ? 1 : result == NFT_FIB_RESULT_OIF ? 4 : 16;
	} else {
		load_raw(x, xe_u32(e, NFTA_FIB_DREG), e);
		return 0;
	}
	s.fsize = s.len;
	load_one(x, xe_u32(e, NFTA_FIB_DREG), &s, s.len);
	return 0;
}

static int do_immediate(struct xl *x, const struct xexpr *e)
{
	uint32_t dreg = xe_u32(e, NFTA_IMMEDIATE_DREG);

	if (dreg == NFT_REG_VERDICT) {
		struct ir_verdict v;

		if (!xe_has(e, NFTA_IMMEDIATE_DATA) ||
		    data_verdict(e->tb[NFTA_IMMEDIATE_DATA], &v) < 0)
			return opaque_expr(x, e, true, "verdict the reader does not know");
		x->verdict = v.kind != IR_VERDICT_CONTINUE;
		if (v.kind == IR_VERDICT_QUEUE)
			return ir_rule_set_queue(x->r, v.queue_num, v.queue_num, false, false);
		return ir_rule_set_verdict(x->r, v.kind, v.chain);
	}
	{
		uint32_t len = 0;
		const void *d = xe_data(e, NFTA_IMMEDIATE_DATA, &len);
		struct seg s = { .fk = FK_IMM, .src = e, .len = (uint8_t)MIN(len, 16u) };
		if (!d || len == 0 || len > 16) {
			load_raw(x, dreg, e);
			return 0;
		}
		memcpy(s.data, d, len);
		load_one(x, dreg, &s, len);
		return 0;
	}
}

static int do_bitwise(struct xl *x, const struct xexpr *e)
{
	int a = reg_off(xe_u32(e, NFTA_BITWISE_SREG));
	int d = reg_off(xe_u32(e, NFTA_BITWISE_DREG));
	uint32_t len = xe_u32(e, NFTA_BITWISE_LEN);
	uint32_t op = xe_has(e, NFTA_BITWISE_OP) ? xe_u32(e, NFTA_BITWISE_OP) : NFT_BITWISE_BOOL;
	uint32_t mlen = 0, xlen = 0;
	const uint8_t *mask = xe_data(e, NFTA_BITWISE_MASK, &mlen);
	const uint8_t *xr = xe_data(e, NFTA_BITWISE_XOR, &xlen);
	struct seg *segs[NSEG], tmp[NSEG];
	unsigned n;

	if (a < 0 || d < 0 || len == 0 || a + len > REGBYTES || d + len > REGBYTES)
		return opaque_expr(x, e, true, "bitwise on bad registers");
	n = regs_get(x, a, len, segs);
	for (unsigned i = 0; i < n; i++) {
		struct seg *s = &tmp[i];
		unsigned rel = segs[i]->start - a;

		*s = *segs[i];
		if (op != NFT_BITWISE_BOOL || !mask || !xr || mlen < len || xlen < len ||
		    rel + s->len > len || s->len > 16) {
			s->complex = true;
			continue;
		}
		if (!s->masked) {
			memset(s->mask, 0xff, sizeof(s->mask));
			memset(s->xor, 0, sizeof(s->xor));
			s->masked = true;
		}
		for (unsigned k = 0; k < s->len; k++) {
			s->mask[k] &= mask[rel + k];
			s->xor [k] = (uint8_t)((s->xor [k] & mask[rel + k]) ^ xr[rel + k]);
		}
		if (s->fk == FK_IMM)
			for (unsigned k = 0; k < s->len; k++)
				s->data[k] = (uint8_t)((s->data[k] & s->mask[k]) ^ s->xor [k]);
		if (s->fk == FK_IMM)
			s->masked = false;
	}
	regs_clobber(x, d, len);
	for (unsigned i = 0; i < n; i++) {
		tmp[i].start = (uint8_t)(tmp[i].start - a + d);
		regs_push(x, &tmp[i]);
	}
	return 0;
}

static int do_byteorder(struct xl *x, const struct xexpr *e)
{
	int a = reg_off(xe_u32(e, NFTA_BYTEORDER_SREG));
	int d = reg_off(xe_u32(e, NFTA_BYTEORDER_DREG));
	uint32_t len = xe_u32(e, NFTA_BYTEORDER_LEN);
	uint32_t size = xe_u32(e, NFTA_BYTEORDER_SIZE);
	struct seg *segs[NSEG], tmp[NSEG];
	unsigned n;

	if (a < 0 || d < 0 || len == 0 || a + len > REGBYTES || d + len > REGBYTES)
		return opaque_expr(x, e, true, "byteorder on bad registers");
	n = regs_get(x, a, len, segs);
	for (unsigned i = 0; i < n; i++) {
		tmp[i] = *segs[i];
		if (tmp[i].len == size || tmp[i].len == 1) {
			tmp[i].host = !tmp[i].host;
			if (tmp[i].masked && tmp[i].len == size)
				for (unsigned k = 0; k < size / 2; k++) {
					uint8_t m = tmp[i].mask[k], y = tmp[i].xor [k];
					tmp[i].mask[k] = tmp[i].mask[size - 1 - k];
					tmp[i].mask[size - 1 - k] = m;
					tmp[i].xor [k] = tmp[i].xor [size - 1 - k];
					tmp[i].xor [size - 1 - k] = y;
				}
		} else
			tmp[i].complex = true;
	}
	regs_clobber(x, d, len);
	for (unsigned i = 0; i < n; i++) {
		tmp[i].start = (uint8_t)(tmp[i].start - a + d);
		regs_push(x, &tmp[i]);
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* comparisons */

/* Adds the values op selects among [0, max] relative to v to *set. */
static int op_values(uint32_t op, np_u128 v, np_u128 max, struct np_iset *set)
{
	switch (op) {
	case NFT_CMP_EQ:
	case NFT_CMP_NEQ:
		return np_iset_add(set, v, v);
	case NFT_CMP_LT:
		return v == 0 ? 0 : np_iset_add(set, 0, v - 1);
	case NFT_CMP_LTE:
		return np_iset_add(set, 0, v);
	case NFT_CMP_GT:
		return v >= max ? 0 : np_iset_add(set, v + 1, max);
	case NFT_CMP_GTE:
		return np_iset_add(set, v, max);
	default:
		return -EINVAL;
	}
}

static bool all_ff(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0xff)
			return false;
	return true;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static void context_update(struct xl *x, enum ir_field field, uint32_t op, np_u128 v)
{
	if (op != NFT_CMP_EQ)
		return;
	if (field == IR_FIELD_L4PROTO)
		x->l4proto = (int)v;
	else if (field == IR_FIELD_NFPROTO)
		x->nfproto = (int)v;
}

/* Adds field ∈ *set (moved). nft writes a range as `>= lo` then `<= hi` on the same load: a
 * positive match right after another on the same field, with no statement in between, is
 * folded into it (their intersection), so the rule reads as one range. */
static int add_match(struct xl *x, enum ir_field field, bool negate, struct np_iset *set)
{
	struct ir_rule *r = x->r;
	struct ir_pred *last = r->preds.n ? &r->preds.items[r->preds.n - 1] : NULL;
	struct np_iset both = { 0 };
	int k;

	if (!negate && last && last->kind == IR_PRED_MATCH && last->field == field &&
	    !last->negate && !last->masked && last->ifnames.n == 0 && !last->text &&
	    (r->stmts.n == 0 || r->stmts.items[r->stmts.n - 1].after < r->preds.n)) {
		k = np_iset_intersect(&last->values, set, &both);
		np_iset_done(set);
		if (k < 0) {
			np_iset_done(&both);
			return k;
		}
		np_iset_done(&last->values);
		last->values = both;
		return 0;
	}
	return ir_rule_add_match(r, field, negate, set);
}

static int cmp_num(struct xl *x, struct seg *s, uint32_t op, const uint8_t *val, unsigned clen)
{
	struct np_iset set = { 0 };
	np_u128 max = nbytes_max(clen), v, m = max;
	bool relational = op != NFT_CMP_EQ && op != NFT_CMP_NEQ;
	bool masked = s->masked;
	int r;

	if (s->complex || clen != s->len || clen > 16)
		return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL);
	/* the kernel compares bytes: only big-endian values order like numbers */
	if (relational && s->host && clen > 1)
		return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, "host byte order");
	v = bytes_value(val, clen, s->host);
	if (masked) {
		if (!all_zero(s->xor, clen))
			return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL);
		m = bytes_value(s->mask, clen, s->host);
		masked = m != max;
		if (masked && clen > 4)
			return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL);
	}
	if (s->fk == FK_DSCP) {
		/* ip dscp: (tos & 0xfc) >> 2; ip6 dscp: (first 16 bits & 0x0fc0) >> 6 */
		unsigned shift = clen == 1 ? 2 : 6;
		np_u128 want = clen == 1 ? 0xfc : 0x0fc0;
		if (!masked || m != want || relational)
			return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL);
		return ir_rule_add_match_range(x->r, IR_FIELD_DSCP, op == NFT_CMP_NEQ, v >> shift,
					       v >> shift);
	}
	r = op_values(op, v, max, &set);
	if (r < 0) {
		np_iset_done(&set);
		return r == -EINVAL ? opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL) : r;
	}
	if (!masked)
		context_update(x, s->field, op, v);
	if (masked)
		return ir_rule_add_match_masked(x->r, s->field, (uint32_t)m, op == NFT_CMP_NEQ,
						&set);
	return add_match(x, s->field, op == NFT_CMP_NEQ, &set);
}

static np_u128 addr_value(const uint8_t *b, unsigned size)
{
	return size == 4 ? np_v4((uint32_t)bytes_be(b, 4)) : bytes_be(b, 16);
}

static int cmp_addr(struct xl *x, struct seg *s, uint32_t op, const uint8_t *val, unsigned clen)
{
	uint8_t m[16] = { 0 }, v[16] = { 0 };
	unsigned size = s->fsize, prefix = 0;
	bool contiguous = true;

	if (s->complex || s->foff != 0 || clen > size || (size != 4 && size != 16))
		return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL);
	for (unsigned i = 0; i < clen; i++) {
		m[i] = s->masked ? s->mask[i] : 0xff;
		if (s->masked && s->xor [i])
			return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL);
		v[i] = val[i] & m[i];
	}
	for (unsigned i = 0; i < size * 8; i++) {
		bool bit = m[i / 8] & (0x80 >> (i % 8));
		if (bit && !contiguous)
			return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen,
					  "mask is not a prefix");
		if (bit)
			prefix++;
		else
			contiguous = false;
	}
	if (op == NFT_CMP_EQ || op == NFT_CMP_NEQ) {
		struct np_iset set = { 0 };
		int r = np_iset_add_cidr(&set, size == 4 ? AF_INET : AF_INET6, bytes_be(v, size),
					 prefix);
		if (r < 0) {
			np_iset_done(&set);
			return r;
		}
		return ir_rule_add_match(x->r, s->field, op == NFT_CMP_NEQ, &set);
	}
	if (prefix == size * 8) {
		struct np_iset set = { 0 };
		np_u128 raw = bytes_be(v, size);
		int r = op_values(op, raw, nbytes_max(size), &set);
		if (r >= 0 && size == 4)
			for (size_t i = 0; i < set.n; i++) {
				set.r[i].lo = np_v4((uint32_t)set.r[i].lo);
				set.r[i].hi = np_v4((uint32_t)set.r[i].hi);
			}
		if (r < 0) {
			np_iset_done(&set);
			return r;
		}
		return add_match(x, s->field, false, &set);
	}
	return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL);
}

/* Interface names: a compare up to and including the NUL is an exact name; a shorter one
 * without NUL is a prefix (nft `eth*`, iptables `eth+`). */
static int cmp_ifname(struct xl *x, struct seg *s, uint32_t op, const uint8_t *val, unsigned clen)
{
	char name[18];
	unsigned k = 0;

	if (s->complex || (s->masked && (!all_ff(s->mask, clen) || !all_zero(s->xor, clen))) ||
	    (op != NFT_CMP_EQ && op != NFT_CMP_NEQ) || clen > 16)
		return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL);
	while (k < clen && val[k] != 0)
		k++;
	memcpy(name, val, k);
	if (k == clen && clen < 16)
		name[k++] = '*';
	name[k] = '\0';
	return ir_rule_add_ifname(x->r, s->field, op == NFT_CMP_NEQ, name);
}

static int cmp_bits(struct xl *x, struct seg *s, uint32_t op, const uint8_t *val, unsigned clen)
{
	uint32_t v, m;

	if (s->complex || clen != 4 || !s->host || (op != NFT_CMP_EQ && op != NFT_CMP_NEQ) ||
	    (s->masked && !all_zero(s->xor, 4)))
		return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL);
	v = (uint32_t)bytes_host(val, 4);
	m = s->masked ? (uint32_t)bytes_host(s->mask, 4) : UINT32_MAX;
	if (m != UINT32_MAX) {
		/* (state & m) == 0 / != 0, or == m for one bit */
		if (v == 0)
			return ir_rule_add_bits(x->r, s->field, m, op == NFT_CMP_EQ);
		if (v == m && __builtin_popcount(m) == 1)
			return ir_rule_add_bits(x->r, s->field, m, op == NFT_CMP_NEQ);
	} else if (s->field == IR_FIELD_CT_STATE && __builtin_popcount(v) == 1) {
		/* a conntrack entry is in exactly one state: == bit is the bit test */
		return ir_rule_add_bits(x->r, s->field, v, op == NFT_CMP_NEQ);
	}
	return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL);
}

static int cmp_ethertype(struct xl *x, struct seg *s, uint32_t op, const uint8_t *val,
			 unsigned clen)
{
	uint16_t et;
	int nfp;

	if (s->complex || s->masked || clen != 2 || (op != NFT_CMP_EQ && op != NFT_CMP_NEQ))
		return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL);
	et = (uint16_t)bytes_be(val, 2);
	nfp = et == 0x0800 ? NFPROTO_IPV4 : et == 0x86dd ? NFPROTO_IPV6 : 0;
	if (!nfp)
		return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, "ethertype");
	context_update(x, IR_FIELD_NFPROTO, op, (np_u128)nfp);
	return ir_rule_add_match_range(x->r, IR_FIELD_NFPROTO, op == NFT_CMP_NEQ, nfp, nfp);
}

static int cmp_rpf(struct xl *x, struct seg *s, uint32_t op, const uint8_t *val, unsigned clen)
{
	if (s->complex || s->masked || (op != NFT_CMP_EQ && op != NFT_CMP_NEQ) ||
	    !all_zero(val, clen))
		return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL);
	/* == 0: no route back through iif (the check fails) */
	return ir_rule_add_match_range(x->r, IR_FIELD_RPF_OK, op == NFT_CMP_NEQ, 0, 0);
}

static int cmp_one(struct xl *x, struct seg *s, uint32_t op, const uint8_t *val, unsigned clen)
{
	switch (s->fk) {
	case FK_NUM:
	case FK_DSCP:
		return cmp_num(x, s, op, val, clen);
	case FK_ADDR:
		return cmp_addr(x, s, op, val, clen);
	case FK_IFNAME:
		return cmp_ifname(x, s, op, val, clen);
	case FK_BITS:
		return cmp_bits(x, s, op, val, clen);
	case FK_ETHERTYPE:
		return cmp_ethertype(x, s, op, val, clen);
	case FK_RPF:
		return cmp_rpf(x, s, op, val, clen);
	default:
		return opaque_cmp(x, &s, 1, cmp_op_str(op), val, clen, NULL);
	}
}

static int do_cmp(struct xl *x, const struct xexpr *e)
{
	uint32_t op = xe_u32(e, NFTA_CMP_OP), dlen = 0;
	const uint8_t *val = xe_data(e, NFTA_CMP_DATA, &dlen);
	int a = reg_off(xe_u32(e, NFTA_CMP_SREG));
	struct seg *segs[NSEG];
	unsigned n;
	int r;

	if (a < 0 || !val || dlen == 0 || a + dlen > REGBYTES || op > NFT_CMP_GTE)
		return opaque_expr(x, e, false, "malformed cmp");
	n = regs_get(x, a, dlen, segs);
	if (n == 0 || segs[0]->start != a)
		return opaque_cmp(x, segs, n, cmp_op_str(op), val, dlen, "register not loaded");
	if (n == 1)
		return cmp_one(x, segs[0], op, val, MIN(dlen, (uint32_t)segs[0]->len));
	if (op != NFT_CMP_EQ)
		return opaque_cmp(x, segs, n, cmp_op_str(op), val, dlen, NULL);
	/* a merged compare of adjacent fields: each must equal its part */
	for (unsigned i = 0; i < n; i++) {
		unsigned rel = segs[i]->start - a;
		r = cmp_one(x, segs[i], op, val + rel, MIN(dlen - rel, (uint32_t)segs[i]->len));
		if (r < 0)
			return r;
	}
	return 0;
}

static int do_range(struct xl *x, const struct xexpr *e)
{
	uint32_t op = xe_u32(e, NFTA_RANGE_OP), flen = 0, tlen = 0;
	const uint8_t *from = xe_data(e, NFTA_RANGE_FROM_DATA, &flen);
	const uint8_t *to = xe_data(e, NFTA_RANGE_TO_DATA, &tlen);
	int a = reg_off(xe_u32(e, NFTA_RANGE_SREG));
	struct seg *segs[NSEG], *s;
	np_u128 lo, hi;
	unsigned n;

	if (a < 0 || !from || !to || flen == 0 || flen != tlen || a + flen > REGBYTES)
		return opaque_expr(x, e, false, "malformed range");
	n = regs_get(x, a, flen, segs);
	s = n == 1 && segs[0]->start == a ? segs[0] : NULL;
	if (!s || s->complex || s->masked || s->len != flen || flen > 16 ||
	    (s->fk != FK_NUM && s->fk != FK_ADDR) || (s->fk == FK_ADDR && s->len != s->fsize) ||
	    (s->host && flen > 1))
		return opaque_expr(x, e, false, NULL);
	if (s->fk == FK_ADDR) {
		lo = addr_value(from, flen);
		hi = addr_value(to, flen);
	} else {
		lo = bytes_be(from, flen);
		hi = bytes_be(to, flen);
	}
	if (hi < lo)
		return opaque_expr(x, e, false, "empty range");
	return ir_rule_add_match_range(x->r, s->field, op == NFT_RANGE_NEQ, lo, hi);
}

/* Collects the key fields of a lookup from the registers; returns the count or -EINVAL when
 * one of them is not a plain packet field. */
static int lookup_key(struct xl *x, int a, unsigned klen, struct seg **segs, unsigned *ret_n,
		      enum ir_field *key)
{
	unsigned n = regs_get(x, a, klen, segs), pos = a;

	*ret_n = n;
	if (n == 0 || n > IR_KEY_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		struct seg *s = segs[i];
		if (s->start != pos || s->complex ||
		    (s->masked && (!all_ff(s->mask, s->len) || !all_zero(s->xor, s->len))))
			return -EINVAL;
		switch (s->fk) {
		case FK_NUM:
		case FK_IFNAME:
		case FK_BITS:
			break;
		case FK_ADDR:
			if (s->foff != 0 || s->len != s->fsize)
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
		key[i] = s->field;
		/* one field: the key is its length; concatenations pad each to 32 bits */
		pos += n == 1 ? s->len : (s->len + 3u) / 4 * 4;
	}
	return (int)n;
}

static int do_lookup(struct xl *x, const struct xexpr *e)
{
	const char *name = xe_str(e, NFTA_LOOKUP_SET);
	int a = reg_off(xe_u32(e, NFTA_LOOKUP_SREG));
	uint32_t flags = xe_has(e, NFTA_LOOKUP_FLAGS) ? xe_u32(e, NFTA_LOOKUP_FLAGS) : 0;
	bool has_dreg = xe_has(e, NFTA_LOOKUP_DREG);
	uint32_t dreg = has_dreg ? xe_u32(e, NFTA_LOOKUP_DREG) : 0;
	struct nft_set_rec *set = set_find(x->tr, name);
	enum ir_field key[IR_KEY_MAX];
	struct seg *segs[NSEG];
	unsigned n = 0;
	int k = -EINVAL;

	if (!name || a < 0)
		return opaque_expr(x, e, has_dreg && dreg == NFT_REG_VERDICT, "malformed lookup");
	if (!set && has_dreg && dreg != NFT_REG_VERDICT)
		load_raw(x, dreg, e);
	if (!set)
		return opaque_expr(x, e, has_dreg && dreg == NFT_REG_VERDICT,
				   "set not known when the rule was read");
	if (a + set->key_len <= REGBYTES)
		k = lookup_key(x, a, set->key_len, segs, &n, key);
	if (k > 0 && (unsigned)k != set->nfield)
		k = -EINVAL;
	if (has_dreg && dreg != NFT_REG_VERDICT) {
		/* a data map: the value goes on to a statement (meta mark set ... map, dnat to
		 * ... map); the statement decides what it can make of it */
		struct seg s = { .fk = FK_MAP, .src = e, .len = 4 };
		if (set->data_len > 0 && set->data_len <= 16)
			s.len = (uint8_t)set->data_len;
		load_one(x, dreg, &s, s.len);
		return 0;
	}
	if (k < 0) {
		_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
		int r = 0;
		for (unsigned i = 0; i < n && r >= 0; i++)
			r = strbuf_puts(&sb, i ? " . " : ""),
			r = r < 0 ? r : seg_describe(segs[i], &sb);
		if (r >= 0)
			r = strbuf_printf(&sb,
					  "%s%s @%s: key the reader cannot map to packet fields",
					  n ? " " : "", has_dreg ? "vmap" : "lookup", name);
		if (r < 0)
			return r;
		if (has_dreg)
			return ir_rule_add_note(x->r, IR_STMT_OPAQUE, "%s", strbuf_str(&sb));
		return ir_rule_add_opaque(x->r, "%s", strbuf_str(&sb));
	}
	if (has_dreg)
		return ir_rule_add_vmap(x->r, key, (unsigned)k, name, false);
	return ir_rule_add_lookup(x->r, key, (unsigned)k, name, false, flags & NFT_LOOKUP_F_INV);
}

/* ------------------------------------------------------------------------------------------ */
/* statements */

static const struct seg *reg_seg(struct xl *x, const struct xexpr *e, uint16_t attr)
{
	struct seg *segs[NSEG];
	int a;

	if (!xe_has(e, attr))
		return NULL;
	a = reg_off(xe_u32(e, attr));
	if (a < 0 || regs_get(x, a, 4, segs) == 0 || segs[0]->start != a)
		return NULL;
	return segs[0];
}

/* snat/dnat/masquerade/redirect: a statement recording the translation when it is immediate. */
static int do_nat(struct xl *x, const struct xexpr *e, enum ir_nat_kind kind, uint16_t amin,
		  uint16_t amax, uint16_t pmin, uint16_t pmax, int family)
{
	const struct seg *a0 = amin ? reg_seg(x, e, amin) : NULL;
	const struct seg *a1 = amax ? reg_seg(x, e, amax) : NULL;
	const struct seg *p0 = pmin ? reg_seg(x, e, pmin) : NULL;
	const struct seg *p1 = pmax ? reg_seg(x, e, pmax) : NULL;
	_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
	bool has_addr = false, has_port = false, other = false;
	np_u128 alo = 0, ahi = 0;
	uint16_t plo = 0, phi = 0;
	struct ir_stmt *st;
	char b1[64], b2[64];
	int r;

	if (!a1)
		a1 = a0;
	if (!p1)
		p1 = p0;
	if (a0 && a1 && a0->fk == FK_IMM && a1->fk == FK_IMM) {
		unsigned size = family == NFPROTO_IPV6 ? 16 : 4;
		if (a0->len >= size && a1->len >= size) {
			has_addr = true;
			alo = addr_value(a0->data, size);
			ahi = addr_value(a1->data, size);
		}
	}
	if (p0 && p1 && p0->fk == FK_IMM && p1->fk == FK_IMM && p0->len >= 2 && p1->len >= 2) {
		has_port = true;
		plo = (uint16_t)bytes_be(p0->data, 2);
		phi = (uint16_t)bytes_be(p1->data, 2);
	}
	other = (a0 && !has_addr) || (p0 && !has_port);

	r = strbuf_puts(&sb, ir_nat_kind_to_string(kind));
	if (r >= 0 && has_addr) {
		r = strbuf_printf(&sb, " to %s", np_addr_format(alo, b1, sizeof(b1)));
		if (r >= 0 && ahi != alo)
			r = strbuf_printf(&sb, "-%s", np_addr_format(ahi, b2, sizeof(b2)));
	}
	if (r >= 0 && has_port) {
		r = strbuf_printf(&sb, "%s:%u", has_addr ? "" : " to", plo);
		if (r >= 0 && phi != plo)
			r = strbuf_printf(&sb, "-%u", phi);
	}
	if (r >= 0 && other) {
		r = strbuf_puts(&sb, " (from registers: ");
		if (r >= 0)
			r = expr_describe(e, &sb);
		if (r >= 0)
			r = strbuf_puts(&sb, ")");
	}
	if (r < 0)
		return r;
	r = ir_rule_add_nat(x->r, kind, strbuf_str(&sb));
	if (r < 0)
		return r;
	st = &x->r->stmts.items[x->r->stmts.n - 1];
	st->nat_has_addr = has_addr;
	st->nat_addr_lo = alo;
	st->nat_addr_hi = ahi;
	st->nat_has_port = has_port;
	st->nat_port_lo = plo;
	st->nat_port_hi = phi;
	return 0;
}

static int do_limit(struct xl *x, const struct xexpr *e)
{
	static const char *const units[] = { "second", "minute", "hour", "day", "week" };
	uint64_t rate = xe_u64(e, NFTA_LIMIT_RATE);
	uint64_t unit = xe_u64(e, NFTA_LIMIT_UNIT);
	uint32_t type = xe_u32(e, NFTA_LIMIT_TYPE);
	uint32_t flags = xe_u32(e, NFTA_LIMIT_FLAGS);
	const char *u = "?";

	/* `limit rate over`: matches only past the rate, a predicate we cannot evaluate */
	if (flags & NFT_LIMIT_F_INV)
		return opaque_expr(x, e, false, "matches only above the rate");
	switch (unit) {
	case 1:
		u = units[0];
		break;
	case 60:
		u = units[1];
		break;
	case 3600:
		u = units[2];
		break;
	case 86400:
		u = units[3];
		break;
	case 604800:
		u = units[4];
		break;
	}
	return ir_rule_add_note(x->r, IR_STMT_LIMIT, "%" PRIu64 "%s/%s burst %u", rate,
				type == NFT_LIMIT_PKT_BYTES ? " bytes" : "", u,
				xe_u32(e, NFTA_LIMIT_BURST));
}

static int do_queue(struct xl *x, const struct xexpr *e)
{
	uint16_t num = xe_u16(e, NFTA_QUEUE_NUM);
	uint16_t total = xe_has(e, NFTA_QUEUE_TOTAL) ? xe_u16(e, NFTA_QUEUE_TOTAL) : 1;
	uint16_t flags = xe_has(e, NFTA_QUEUE_FLAGS) ? xe_u16(e, NFTA_QUEUE_FLAGS) : 0;

	x->verdict = true;
	if (xe_has(e, NFTA_QUEUE_SREG_QNUM))
		/* queue number from a register: any queue */
		return ir_rule_set_queue(x->r, 0, UINT16_MAX, flags & NFT_QUEUE_FLAG_BYPASS,
					 flags & NFT_QUEUE_FLAG_CPU_FANOUT);
	return ir_rule_set_queue(x->r, num, (uint16_t)(num + (total ? total - 1 : 0)),
				 flags & NFT_QUEUE_FLAG_BYPASS, flags & NFT_QUEUE_FLAG_CPU_FANOUT);
}

static int xt_family(struct xl *x)
{
	if (x->tr->family == NFPROTO_IPV4 || x->tr->family == NFPROTO_IPV6)
		return x->tr->family;
	return x->nfproto;
}

static int do_compat(struct xl *x, const struct xexpr *e, bool target)
{
	const char *name = xe_str(e, target ? NFTA_TARGET_NAME : NFTA_MATCH_NAME);
	uint32_t rev = xe_u32(e, target ? NFTA_TARGET_REV : NFTA_MATCH_REV);
	uint32_t len = 0;
	const void *info = xe_bin(e, target ? NFTA_TARGET_INFO : NFTA_MATCH_INFO, &len);
	struct fw_xt_ctx ctx = {
		.family = (uint8_t)xt_family(x),
		.set_name = x->p->opts.set_name,
		.userdata = x->p->opts.set_name_userdata,
	};

	x->tr->compat = true;
	if (!name)
		return opaque_expr(x, e, target, "compat expression without a name");
	if (ctx.family != NFPROTO_IPV4 && ctx.family != NFPROTO_IPV6) {
		/* arptables-nft / ebtables-nft blobs have their own layouts */
		if (target)
			return ir_rule_add_note(x->r, IR_STMT_OPAQUE,
						"xtables target %s rev %u (%u bytes) in a %s table",
						name, rev, len,
						ir_family_to_string((enum ir_family)x->tr->family));
		return ir_rule_add_opaque(x->r, "xtables match %s rev %u (%u bytes) in a %s table",
					  name, rev, len,
					  ir_family_to_string((enum ir_family)x->tr->family));
	}
	if (!info)
		info = "", len = 0;
	if (target) {
		x->verdict = true;
		return fw_xt_target_to_ir(&ctx, name, (uint8_t)rev, info, len, x->r);
	}
	return fw_xt_match_to_ir(&ctx, name, (uint8_t)rev, info, len, x->r);
}

/* Whether every expression a set update carries is a counter. */
static bool dynset_only_counters(const struct xexpr *e)
{
	const struct nlattr *a;
	struct xexpr inner;

	if (xe_has(e, NFTA_DYNSET_EXPR)) {
		const struct nlattr *tb[NFTA_EXPR_MAX + 1] = { 0 };
		if (mnl_attr_parse_nested(e->tb[NFTA_DYNSET_EXPR], expr_top_cb, tb) < 0 ||
		    !tb[NFTA_EXPR_NAME] ||
		    mnl_attr_validate(tb[NFTA_EXPR_NAME], MNL_TYPE_NUL_STRING) < 0 ||
		    !streq(mnl_attr_get_str(tb[NFTA_EXPR_NAME]), "counter"))
			return false;
	}
	if (xe_has(e, NFTA_DYNSET_EXPRESSIONS))
		mnl_attr_for_each_nested(a, e->tb[NFTA_DYNSET_EXPRESSIONS])
		{
			if (xe_parse(a, &inner) < 0 || !streq(inner.name, "counter"))
				return false;
		}
	return true;
}

static int do_dynset(struct xl *x, const struct xexpr *e)
{
	bool only_counters = dynset_only_counters(e);

	if (xe_has(e, NFTA_DYNSET_FLAGS) && (xe_u32(e, NFTA_DYNSET_FLAGS) & NFT_DYNSET_F_INV))
		only_counters = false;
	/* adding to a set changes what later packets match (the set is marked dynamic);
	 * with a limit or quota inside (meters) it is a predicate we cannot evaluate */
	if (only_counters)
		return note_expr(x, IR_STMT_NOTE, e);
	return opaque_expr(x, e, false, "set update with per-element state");
}

static int do_objref(struct xl *x, const struct xexpr *e)
{
	uint32_t type = xe_has(e, NFTA_OBJREF_IMM_TYPE) ? xe_u32(e, NFTA_OBJREF_IMM_TYPE) : 0;

	switch (type) {
	case NFT_OBJECT_COUNTER:
		return note_expr(x, IR_STMT_COUNTER, e);
	case NFT_OBJECT_LIMIT:
		/* the object may be `limit rate over`, which the reference does not say */
		return opaque_expr(x, e, false, "named limit object");
	case NFT_OBJECT_CT_HELPER:
	case NFT_OBJECT_CT_TIMEOUT:
	case NFT_OBJECT_CT_EXPECT:
	case NFT_OBJECT_SECMARK:
		return note_expr(x, IR_STMT_NOTE, e);
	case NFT_OBJECT_QUOTA:
	case NFT_OBJECT_CONNLIMIT:
		return opaque_expr(x, e, false, "stateful object that can stop matching");
	default:
		return opaque_expr(x, e, true, NULL);
	}
}

static uint32_t expr_dreg_attr(const char *name)
{
	static const struct {
		const char *name;
		uint16_t attr;
	} dregs[] = {
		{ "rt", NFTA_RT_DREG },		{ "exthdr", NFTA_EXTHDR_DREG },
		{ "socket", NFTA_SOCKET_DREG }, { "hash", NFTA_HASH_DREG },
		{ "numgen", NFTA_NG_DREG },	{ "osf", NFTA_OSF_DREG },
		{ "xfrm", NFTA_XFRM_DREG },	{ "tunnel", NFTA_TUNNEL_DREG },
	};
	for (size_t i = 0; i < ELEMENTSOF(dregs); i++)
		if (streq(name, dregs[i].name))
			return dregs[i].attr;
	return 0;
}

static int do_expr(struct xl *x, const struct xexpr *e)
{
	const char *name = e->name;
	uint32_t attr;

	if (!name)
		return opaque_expr(x, e, true, "expression without a name");
	if (x->verdict)
		return note_expr(x, IR_STMT_NOTE, e); /* after the verdict: never runs */

	/* the common expressions first, by their first letter */
	switch (name[0]) {
	case 'p':
		if (streq(name, "payload"))
			return do_payload(x, e);
		break;
	case 'c':
		if (streq(name, "cmp"))
			return do_cmp(x, e);
		if (streq(name, "ct"))
			return do_ct(x, e);
		break;
	case 'm':
		if (streq(name, "meta"))
			return do_meta(x, e);
		break;
	case 'i':
		if (streq(name, "immediate"))
			return do_immediate(x, e);
		break;
	case 'l':
		if (streq(name, "lookup"))
			return do_lookup(x, e);
		break;
	case 'b':
		if (streq(name, "bitwise"))
			return do_bitwise(x, e);
		break;
	}
	if (streq(name, "payload"))
		return do_payload(x, e);
	if (streq(name, "cmp"))
		return do_cmp(x, e);
	if (streq(name, "meta"))
		return do_meta(x, e);
	if (streq(name, "immediate"))
		return do_immediate(x, e);
	if (streq(name, "lookup"))
		return do_lookup(x, e);
	if (streq(name, "bitwise"))
		return do_bitwise(x, e);
	if (streq(name, "ct"))
		return do_ct(x, e);
	if (streq(name, "counter"))
		return ir_rule_add_note(x->r, IR_STMT_COUNTER, "counter");
	if (streq(name, "range"))
		return do_range(x, e);
	if (streq(name, "byteorder"))
		return do_byteorder(x, e);
	if (streq(name, "match"))
		return do_compat(x, e, false);
	if (streq(name, "target"))
		return do_compat(x, e, true);
	if (streq(name, "log"))
		return ir_rule_add_note(x->r, IR_STMT_LOG, "%s",
					xe_has(e, NFTA_LOG_PREFIX) ? xe_str(e, NFTA_LOG_PREFIX)
								   : "");
	if (streq(name, "limit"))
		return do_limit(x, e);
	if (streq(name, "reject")) {
		x->verdict = true;
		return ir_rule_set_verdict(x->r, IR_VERDICT_REJECT, NULL);
	}
	if (streq(name, "queue"))
		return do_queue(x, e);
	if (streq(name, "fib"))
		return do_fib(x, e);
	if (streq(name, "nat")) {
		uint32_t type = xe_u32(e, NFTA_NAT_TYPE);
		return do_nat(x, e, type == NFT_NAT_SNAT ? IR_NAT_SNAT : IR_NAT_DNAT,
			      NFTA_NAT_REG_ADDR_MIN, NFTA_NAT_REG_ADDR_MAX, NFTA_NAT_REG_PROTO_MIN,
			      NFTA_NAT_REG_PROTO_MAX, (int)xe_u32(e, NFTA_NAT_FAMILY));
	}
	if (streq(name, "masq"))
		return do_nat(x, e, IR_NAT_MASQUERADE, 0, 0, NFTA_MASQ_REG_PROTO_MIN,
			      NFTA_MASQ_REG_PROTO_MAX, 0);
	if (streq(name, "redir"))
		return do_nat(x, e, IR_NAT_REDIRECT, 0, 0, NFTA_REDIR_REG_PROTO_MIN,
			      NFTA_REDIR_REG_PROTO_MAX, 0);
	if (streq(name, "notrack"))
		return ir_rule_add_note(x->r, IR_STMT_NOTRACK, "notrack");
	if (streq(name, "dynset"))
		return do_dynset(x, e);
	if (streq(name, "objref"))
		return do_objref(x, e);
	if (streq(name, "quota") || streq(name, "connlimit"))
		return opaque_expr(x, e, false, "stateful match");
	/* `last` records a timestamp; `flow add @ft` offloads the connection once established:
	 * neither changes what happens to this packet */
	if (streq(name, "last") || streq(name, "flow_offload"))
		return note_expr(x, IR_STMT_NOTE, e);
	/* writing TCP options (mss clamping) or extension headers does not change what the
	 * filter sees */
	if (streq(name, "exthdr") && xe_has(e, NFTA_EXTHDR_SREG))
		return note_expr(x, IR_STMT_NOTE, e);
	attr = expr_dreg_attr(name);
	if (attr && xe_has(e, attr)) {
		load_raw(x, xe_u32(e, attr), e);
		return 0;
	}
	/* anything else: a statement we do not understand; what it may have loaded is lost */
	x->nseg = 0;
	return opaque_expr(x, e, true, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* rule messages */

struct rule_udata {
	const char *comment;
	bool xt;
};

static void rule_udata_tlv(const struct udata_tlv *t, void *userdata)
{
	struct rule_udata *u = userdata;

	switch (t->type) {
	case XT_UDATA_COMMENT:
		if (t->len > 0 && t->value[t->len - 1] == '\0')
			u->comment = (const char *)t->value;
		break;
	case XT_UDATA_EBTABLES_POLICY:
	case XT_UDATA_COMPAT_EXT:
		u->xt = true;
		break;
	}
}

struct raw_rule_attrs {
	const struct nlattr *tb[NFTA_RULE_MAX + 1];
};

static int raw_rule_attr_cb(const struct nlattr *attr, void *data)
{
	struct raw_rule_attrs *ra = data;
	int type = mnl_attr_get_type(attr);

	if (type > 0 && type <= NFTA_RULE_MAX)
		ra->tb[type] = attr;
	return MNL_CB_OK;
}

/* Translates the parsed expressions p->xe into r. Returns 0 or -ENOMEM. */
static int rule_translate(struct fw_nft_parser *p, struct nft_table_rec *tr, struct ir_rule *r)
{
	struct xl *x = p->xl;
	int k = 0;

	x->p = p;
	x->tr = tr;
	x->r = r;
	x->nfproto = tr->family == NFPROTO_IPV4 || tr->family == NFPROTO_IPV6 ? tr->family : 0;
	x->l4proto = -1;
	x->verdict = false;
	x->nseg = 0;
	for (size_t i = 0; i < p->xe.n && k >= 0; i++)
		k = do_expr(x, &p->xe.items[i]);
	return k;
}

/*
 * A rule is translated from its expressions alone (and the table its set references resolve
 * in): a rule whose expression bytes equal an earlier one's in the same table is a copy of that
 * rule's translation with its own comment and handle (see rcache.h).
 */
static int parse_rule(struct fw_nft_parser *p, const struct nlmsghdr *nlh)
{
	struct ir_rule *r;
	struct raw_rule_attrs ra = { 0 };
	const struct nfgenmsg *nfg;
	const struct ir_rule *tmpl;
	struct ir_rule *kept;
	const struct nlattr *a, *exprs;
	const char *comment = NULL;
	struct nft_table_rec *tr;
	struct ir_chain *c;
	uint64_t handle = 0, hash;
	size_t klen;
	bool bad = false;
	int k;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*nfg)))
		return -EBADMSG;
	nfg = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*nfg), raw_rule_attr_cb, &ra) < 0 ||
	    !ra.tb[NFTA_RULE_TABLE] || !ra.tb[NFTA_RULE_CHAIN] ||
	    mnl_attr_validate(ra.tb[NFTA_RULE_TABLE], MNL_TYPE_NUL_STRING) < 0 ||
	    mnl_attr_validate(ra.tb[NFTA_RULE_CHAIN], MNL_TYPE_NUL_STRING) < 0)
		return -EBADMSG;
	tr = table_find(p, nfg->nfgen_family, mnl_attr_get_str(ra.tb[NFTA_RULE_TABLE]));
	if (!tr)
		return -ENOENT;
	/* rules come chain by chain: most lookups are the previous rule's chain */
	c = p->last_chain;
	if (!c || c->table != tr->t || !streq(c->name, mnl_attr_get_str(ra.tb[NFTA_RULE_CHAIN])))
		c = p->last_chain =
			ir_table_find_chain(tr->t, mnl_attr_get_str(ra.tb[NFTA_RULE_CHAIN]));
	if (!c)
		return -ENOENT;
	if (!p->xl) {
		p->xl = malloc(sizeof(*p->xl));
		if (!p->xl)
			return -ENOMEM;
	}
	if (!p->rule) {
		k = ir_rule_new(&p->rule);
		if (k < 0)
			return k;
	}
	if (!p->cache) {
		k = fw_rcache_new(&p->cache);
		if (k < 0)
			return k;
	}

	if (ra.tb[NFTA_RULE_HANDLE] && mnl_attr_get_payload_len(ra.tb[NFTA_RULE_HANDLE]) == 8) {
		memcpy(&handle, mnl_attr_get_payload(ra.tb[NFTA_RULE_HANDLE]), sizeof(handle));
		handle = be64toh(handle);
	}
	if (ra.tb[NFTA_RULE_USERDATA]) {
		struct rule_udata u = { 0 };
		udata_walk(mnl_attr_get_payload(ra.tb[NFTA_RULE_USERDATA]),
			   mnl_attr_get_payload_len(ra.tb[NFTA_RULE_USERDATA]), rule_udata_tlv, &u);
		if (u.xt)
			tr->compat = true;
		comment = u.comment;
	}

	exprs = ra.tb[NFTA_RULE_EXPRESSIONS];
	klen = exprs ? mnl_attr_get_payload_len(exprs) : 0;
	hash = fw_rcache_hash(tr, exprs ? mnl_attr_get_payload(exprs) : NULL, klen);
	tmpl = fw_rcache_get(p->cache, hash, tr, exprs ? mnl_attr_get_payload(exprs) : NULL, klen);
	if (tmpl && !(tmpl->comment && comment))
		goto append;

	/* built in the scratch rule (emptied here: a failed rule may have left a part) */
	r = p->rule;
	ir_rule_clear(r);
	p->xe.n = 0;
	if (exprs)
		mnl_attr_for_each_nested(a, exprs)
		{
			k = VEC_RESERVE(&p->xe, 1);
			if (k < 0)
				return k;
			if (xe_parse(a, &p->xe.items[p->xe.n]) < 0) {
				bad = true;
				break;
			}
			p->xe.n++;
		}
	if (bad) {
		/* keep the rule's place: one opaque predicate naming what did parse */
		_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
		k = strbuf_puts(&sb, "rule with an expression that does not parse, after:");
		for (size_t i = 0; i < p->xe.n && k >= 0; i++)
			k = strbuf_printf(&sb, " %s", p->xe.items[i].name);
		if (k >= 0)
			k = ir_rule_add_opaque(r, "%s", strbuf_str(&sb));
	} else
		k = rule_translate(p, tr, r);
	if (k < 0)
		return k;
	if (!tmpl) {
		/* the first of its kind: kept by the table as the body the next ones share */
		k = ir_table_take_template(tr->t, r, &kept);
		if (k < 0)
			return k;
		tmpl = kept;
		k = fw_rcache_put(p->cache, hash, tr, exprs ? mnl_attr_get_payload(exprs) : NULL,
				  klen, tmpl);
		if (k < 0 && k != -E2BIG)
			return k;
	}
	if (tmpl->comment && comment) {
		/* a comment in the userdata and one from the expressions (an xtables comment
		 * match, which appends itself to the first): translate with the first in place */
		ir_rule_clear(r);
		k = ir_rule_set_comment(r, comment);
		if (k >= 0)
			k = rule_translate(p, tr, r);
		if (k >= 0)
			k = ir_chain_append_copy(c, r, r->comment, handle);
		if (k < 0)
			return k;
		p->nrules++;
		return 0;
	}
append:
	k = ir_chain_append_shared(c, tmpl, comment ? comment : tmpl->comment, handle);
	if (k < 0)
		return k;
	p->nrules++;
	return 0;
}

int fw_nft_parser_feed(struct fw_nft_parser *p, const struct nlmsghdr *nlh)
{
	uint16_t type;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg)))
		return -EBADMSG;
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return -EOPNOTSUPP;
	p->messages++;
	type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	switch (type) {
	case NFT_MSG_NEWTABLE:
		return parse_table(p, nlh);
	case NFT_MSG_NEWCHAIN:
		return parse_chain(p, nlh);
	case NFT_MSG_NEWSET:
		return parse_set(p, nlh);
	case NFT_MSG_NEWSETELEM:
		return parse_setelems(p, nlh);
	case NFT_MSG_NEWRULE:
		return parse_rule(p, nlh);
	case NFT_MSG_NEWGEN:
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

int fw_nft_parser_feed_buf(struct fw_nft_parser *p, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	/* not mnl_nlmsg_ok(): it takes a length above INT_MAX for a small negative one */
	for (size_t off = 0; off + sizeof(struct nlmsghdr) <= len;) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(b + off);
		int r;

		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len - off)
			return -EBADMSG;
		off += NLMSG_ALIGN(nlh->nlmsg_len);
		switch (nlh->nlmsg_type) {
		case NLMSG_NOOP:
			continue;
		case NLMSG_DONE:
			return 0;
		case NLMSG_ERROR: {
			const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)))
				return -EBADMSG;
			if (err->error < 0)
				return err->error;
			continue;
		}
		default:
			r = fw_nft_parser_feed(p, nlh);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* finishing: table sources, interval sets, lookups into undecodable sets */

static bool xt_table_name(uint16_t family, const char *name)
{
	static const char *const ipt[] = { "filter", "nat", "mangle", "raw", "security" };

	switch (family) {
	case NFPROTO_IPV4:
	case NFPROTO_IPV6:
		for (size_t i = 0; i < ELEMENTSOF(ipt); i++)
			if (streq(name, ipt[i]))
				return true;
		return false;
	case NFPROTO_ARP:
		return streq(name, "filter");
	case NFPROTO_BRIDGE:
		return streq(name, "filter") || streq(name, "nat") || streq(name, "broute");
	default:
		return false;
	}
}

static bool xt_builtin_chain(const struct ir_chain *c)
{
	static const char *const names[] = {
		[IR_HOOK_PREROUTING] = "PREROUTING",   [IR_HOOK_INPUT] = "INPUT",
		[IR_HOOK_FORWARD] = "FORWARD",	       [IR_HOOK_OUTPUT] = "OUTPUT",
		[IR_HOOK_POSTROUTING] = "POSTROUTING",
	};

	if (c->hook == IR_HOOK_PREROUTING && streq(c->name, "BROUTING"))
		return true;
	return c->hook < ELEMENTSOF(names) && names[c->hook] && streq(c->name, names[c->hook]);
}

static enum ir_source table_source(const struct nft_table_rec *tr)
{
	unsigned nbase = 0;

	if (!xt_table_name(tr->family, tr->t->name))
		return IR_SRC_NFT;
	if (tr->compat)
		return IR_SRC_IPTABLES_NFT;
	VEC_FOREACH (c, &tr->t->chains)
		if ((*c)->base) {
			if (!xt_builtin_chain(*c))
				return IR_SRC_NFT;
			nbase++;
		}
	return nbase > 0 ? IR_SRC_IPTABLES_NFT : IR_SRC_NFT;
}

static int setref_opaque_text(const struct ir_setref *ref, const char *what, const char *why,
			      char **ret)
{
	_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
	int r = 0;

	for (unsigned i = 0; i < ref->nkey && r >= 0; i++)
		r = strbuf_printf(&sb, "%s%s", i ? " . " : "", ir_field_to_string(ref->key[i]));
	if (r >= 0)
		r = strbuf_printf(&sb, " %s @%s: set elements not decoded (%s)", what, ref->name,
				  why);
	if (r < 0)
		return r;
	*ret = strbuf_steal(&sb);
	return *ret ? 0 : -ENOMEM;
}

/* Lookups and verdict maps into a set whose elements we could not decode become opaque. */
static int table_mark_bad_lookups(struct nft_table_rec *tr)
{
	bool any = false;

	VEC_FOREACH (s, &tr->setv)
		any |= !!(*s)->bad;
	if (!any)
		return 0;
	VEC_FOREACH (c, &tr->t->chains)
		VEC_FOREACH (rp, &(*c)->rules) {
			struct ir_rule *r = *rp;
			VEC_FOREACH (pr, &r->preds) {
				struct nft_set_rec *s;
				char *text;
				int k;

				if (pr->kind != IR_PRED_LOOKUP || pr->ref.ipset)
					continue;
				s = set_find(tr, pr->ref.name);
				if (!s || !s->bad)
					continue;
				/* changed in place below: give the rule its own allocations */
				if (r->packed) {
					size_t i = (size_t)(pr - r->preds.items);

					if (ir_rule_unpack(r) < 0)
						return -ENOMEM;
					pr = &r->preds.items[i];
				}
				k = setref_opaque_text(&pr->ref, pr->negate ? "not in" : "in",
						       s->bad, &text);
				if (k < 0)
					return k;
				ir_pred_done(pr);
				pr->kind = IR_PRED_OPAQUE;
				pr->text = text;
				free(r->text);
				r->text = NULL;
			}
			VEC_FOREACH (st, &r->stmts) {
				struct nft_set_rec *s;
				char *text;
				unsigned after;
				int k;

				if (st->kind != IR_STMT_VMAP || st->ref.ipset)
					continue;
				s = set_find(tr, st->ref.name);
				if (!s || !s->bad)
					continue;
				if (r->packed) {
					size_t i = (size_t)(st - r->stmts.items);

					if (ir_rule_unpack(r) < 0)
						return -ENOMEM;
					st = &r->stmts.items[i];
				}
				k = setref_opaque_text(&st->ref, "vmap", s->bad, &text);
				if (k < 0)
					return k;
				after = st->after;
				ir_stmt_done(st);
				st->kind = IR_STMT_OPAQUE;
				st->after = after;
				st->text = text;
				free(r->text);
				r->text = NULL;
			}
		}
	return 0;
}

int fw_nft_parser_finish(struct fw_nft_parser *p, struct ir_ruleset *rs)
{
	int r;

	VEC_FOREACH (t, &p->tables) {
		struct nft_table_rec *tr = *t;
		(*t)->t->source = table_source(tr);
		if (ir_ruleset_find_table(rs, tr->t->source, tr->t->family, tr->t->name))
			return -EEXIST;
	}
	VEC_FOREACH (t, &p->tables) {
		struct nft_table_rec *tr = *t;
		VEC_FOREACH (s, &tr->setv) {
			r = set_build_intervals(*s);
			if (r < 0)
				return r;
		}
		r = table_mark_bad_lookups(tr);
		if (r < 0)
			return r;
		/* a dormant table is registered with no hooks: its chains never see packets */
		if (tr->flags & NFT_TABLE_F_DORMANT)
			VEC_FOREACH (c, &tr->t->chains) {
				(*c)->base = false;
				(*c)->hook = IR_HOOK_NONE;
			}
	}
	VEC_FOREACH (t, &p->tables) {
		r = ir_ruleset_add_table(rs, &(*t)->t);
		if (r < 0)
			return r;
	}
	VEC_FOREACH (t, &p->tables)
		table_rec_free(*t);
	VEC_DONE(&p->tables);
	p->last = NULL;
	p->last_chain = NULL;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* netlink */

/* The kernel builds each dump skb up to 32 KiB (netlink_dump(), capped by the largest read
 * seen); a bigger buffer only costs memory. The socket buffer is made big so that the
 * generation query and acknowledgements never overrun. */
#define NFT_RECV_BUFFER (64u * 1024u)
#define NFT_SOCK_RCVBUF (8 * 1024 * 1024)

struct nlsock {
	struct mnl_socket *nl;
	unsigned portid;
	uint32_t seq;
	uint8_t *buf;
	unsigned messages;
	unsigned last_messages; /* of the last request */
	uint16_t last_res_id; /* the generation (low 16 bits) in its last message */
};

static void nlsock_close(struct nlsock *s)
{
	if (s->nl)
		mnl_socket_close(s->nl);
	free(s->buf);
	*s = (struct nlsock){ 0 };
}

static int nlsock_open(struct nlsock *s)
{
	int size = NFT_SOCK_RCVBUF, fd;

	*s = (struct nlsock){ 0 };
	s->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!s->nl)
		return negative_errno();
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int r = negative_errno();
		nlsock_close(s);
		return r;
	}
	fd = mnl_socket_get_fd(s->nl);
	/* SO_RCVBUFFORCE needs CAP_NET_ADMIN, which reading nftables needs anyway */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	s->portid = mnl_socket_get_portid(s->nl);
	s->seq = (uint32_t)time(NULL);
	s->buf = malloc(NFT_RECV_BUFFER);
	if (!s->buf) {
		nlsock_close(s);
		return -ENOMEM;
	}
	return 0;
}

typedef int (*nlmsg_fn)(void *userdata, const struct nlmsghdr *nlh);

/*
 * Sends the request in s->buf and hands every reply message to fn until NLMSG_DONE (dumps) or
 * the acknowledgement. Sets *intr when a message carries NLM_F_DUMP_INTR. The first error of
 * fn is returned after the whole reply was drained, so the socket stays usable.
 */
static int nlsock_transact(struct nlsock *s, struct nlmsghdr *req, nlmsg_fn fn, void *userdata,
			   bool *intr)
{
	int first = 0;

	req->nlmsg_seq = ++s->seq;
	s->last_messages = 0;
	if (mnl_socket_sendto(s->nl, req, req->nlmsg_len) < 0)
		return negative_errno();
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(s->nl, s->buf, NFT_RECV_BUFFER);
		int len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		len = (int)n;
		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)s->buf;
		     mnl_nlmsg_ok(nlh, len) && nlh->nlmsg_len <= (unsigned)len;
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_seq != s->seq || !mnl_nlmsg_portid_ok(nlh, s->portid))
				continue;
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				*intr = true;
			switch (nlh->nlmsg_type) {
			case NLMSG_NOOP:
				continue;
			case NLMSG_OVERRUN:
				return -ENOBUFS;
			case NLMSG_DONE: {
				/* a dump that failed in the kernel says so in its DONE */
				int err = 0;
				if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(err))
					memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
				return err < 0 ? err : first;
			}
			case NLMSG_ERROR: {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
				if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
					return -EBADMSG;
				return e->error < 0 ? e->error : first;
			}
			default:
				s->messages++;
				s->last_messages++;
				if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct nfgenmsg))
					s->last_res_id = ntohs(((const struct nfgenmsg *)
									mnl_nlmsg_get_payload(nlh))
								       ->res_id);
				if (first == 0) {
					int r = fn(userdata, nlh);
					if (r < 0)
						first = r;
				}
			}
		}
		if (len > 0)
			return -EBADMSG; /* a truncated message */
	}
}

static struct nlmsghdr *nlsock_req(struct nlsock *s, uint16_t type, uint16_t family, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr((char *)s->buf, type, family, flags, 0);
}

static int gen_cb(void *userdata, const struct nlmsghdr *nlh)
{
	_cleanup_(nftnl_gen_freep) struct nftnl_gen *g = nftnl_gen_alloc();
	uint32_t *gen = userdata;

	if (!g)
		return -ENOMEM;
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWGEN || nftnl_gen_nlmsg_parse(nlh, g) < 0)
		return -EBADMSG;
	*gen = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	return 0;
}

static int nlsock_getgen(struct nlsock *s, uint32_t *ret)
{
	struct nlmsghdr *req = nlsock_req(s, NFT_MSG_GETGEN, NFPROTO_UNSPEC, NLM_F_ACK);
	bool intr = false;
	uint32_t gen = UINT32_MAX;
	int r;

	r = nlsock_transact(s, req, gen_cb, &gen, &intr);
	if (r < 0)
		return r;
	if (gen == UINT32_MAX)
		return -EBADMSG;
	*ret = gen;
	return 0;
}

static int feed_cb(void *userdata, const struct nlmsghdr *nlh)
{
	return fw_nft_parser_feed(userdata, nlh);
}

static int dump_all(struct nlsock *s, struct fw_nft_parser *p, uint16_t type, bool *intr)
{
	struct nlmsghdr *req = nlsock_req(s, type, NFPROTO_UNSPEC, NLM_F_DUMP);
	return nlsock_transact(s, req, feed_cb, p, intr);
}

static int dump_elems(struct nlsock *s, struct fw_nft_parser *p, struct nft_table_rec *tr,
		      struct nft_set_rec *set, bool *intr)
{
	struct nlmsghdr *req = nlsock_req(s, NFT_MSG_GETSETELEM, tr->family, NLM_F_DUMP);

	mnl_attr_put_strz(req, NFTA_SET_ELEM_LIST_TABLE, tr->t->name);
	mnl_attr_put_strz(req, NFTA_SET_ELEM_LIST_SET, set->set->name);
	return nlsock_transact(s, req, feed_cb, p, intr);
}

/* One consistent attempt: the generation before and after, dumps in between. */
static int read_once(struct nlsock *s, const struct fw_nft_opts *opts, struct fw_nft_parser **ret_p,
		     uint32_t *ret_gen, bool *ret_again, int *ret_err)
{
	_cleanup_(fw_nft_parser_freep) struct fw_nft_parser *p = NULL;
	static const uint16_t order[] = { NFT_MSG_GETTABLE, NFT_MSG_GETCHAIN, NFT_MSG_GETSET };
	uint32_t gen0, gen1;
	bool intr = false;
	int r, rd = 0;

	r = fw_nft_parser_new(opts, &p);
	if (r < 0)
		return r;
	r = nlsock_getgen(s, &gen0);
	if (r < 0)
		return r;
	/* without a table there is nothing else (the generation check below proves the empty
	 * table dump was the whole ruleset): a namespace without nftables costs three requests */
	for (size_t i = 0; i < ELEMENTSOF(order) && rd >= 0 && (i == 0 || p->tables.n > 0); i++)
		rd = dump_all(s, p, order[i], &intr);
	VEC_FOREACH (t, &p->tables) {
		VEC_FOREACH (set, &(*t)->setv) {
			if (rd < 0)
				break;
			rd = dump_elems(s, p, *t, *set, &intr);
		}
	}
	if (rd >= 0 && p->tables.n > 0)
		rd = dump_all(s, p, NFT_MSG_GETRULE, &intr);
	if (rd == -ENOMEM)
		return rd;
	/* Every dump message carries the generation it was made under (its low 16 bits, in
	 * res_id). When the last message of the last dump still has gen0's, no commit began
	 * before it was made (the kernel bumps the generation first): the generation query
	 * after the dumps is needed only when that dump sent nothing. */
	if (rd >= 0 && s->last_messages > 0 && s->last_res_id == (gen0 & 0xffff))
		gen1 = gen0;
	else {
		r = nlsock_getgen(s, &gen1);
		if (r < 0)
			return r;
	}
	/*
	 * A change during the dumps explains interrupted dumps, missing objects (-ENOENT) and
	 * duplicates (-EBADMSG): read again. The kernel bumps the generation when a commit
	 * starts (nf_tables_commit()), before it is done switching objects: a read while a
	 * commit runs sees one generation before and after, yet dumps can show both the old and
	 * the new table of a `flush ruleset` batch. Objects that appear twice or refer to what is
	 * not there are the only trace of that, so those errors make the caller read again too
	 * (and are returned if they persist).
	 */
	*ret_again = intr || gen0 != gen1 || rd == -ENOENT || rd == -EBADMSG;
	*ret_err = rd < 0 ? rd : 0;
	if (rd < 0 && !*ret_again)
		return rd;
	*ret_gen = gen1;
	*ret_p = TAKE_PTR(p);
	return 0;
}

int fw_nft_read(struct ir_ruleset *rs, const struct fw_nft_opts *opts,
		struct fw_nft_stats *ret_stats)
{
	struct nlsock s;
	int r, last_err = 0;

	r = nlsock_open(&s);
	if (r < 0)
		return r;
	for (unsigned attempt = 1; attempt <= FW_NFT_READ_ATTEMPTS; attempt++) {
		_cleanup_(fw_nft_parser_freep) struct fw_nft_parser *p = NULL;
		struct fw_nft_stats st;
		uint32_t gen = 0;
		bool again = false;
		int err = 0;

		s.messages = 0;
		r = read_once(&s, opts, &p, &gen, &again, &err);
		if (r < 0)
			break;
		if (again) {
			/* a commit in progress can show its half-done state for a while (both the
			 * old and the new table of a `flush ruleset` batch under one generation):
			 * back off, 1 ms doubling to 100 ms, about a second in all */
			struct timespec ts = { 0 };
			long ms = attempt < 2 ? 0 : MIN(1L << MIN(attempt - 2, 7u), 100L);
			last_err = err;
			ts.tv_nsec = ms * 1000000L;
			if (ms > 0)
				(void)nanosleep(&ts, NULL);
			continue;
		}
		fw_nft_parser_stats(p, &st);
		r = fw_nft_parser_finish(p, rs);
		if (r < 0)
			break;
		st.attempts = attempt;
		st.generation = gen;
		nlsock_close(&s);
		r = ir_ruleset_set_source_info(rs, IR_SRC_NFT, true, NULL);
		if (r >= 0)
			r = ir_ruleset_set_source_info(rs, IR_SRC_IPTABLES_NFT, true, NULL);
		if (r < 0)
			return r;
		if (ret_stats)
			*ret_stats = st;
		return 0;
	}
	nlsock_close(&s);
	if (r < 0)
		return r;
	/* still changing, or still malformed: the last parse error says which */
	return last_err < 0 ? last_err : -EAGAIN;
}
