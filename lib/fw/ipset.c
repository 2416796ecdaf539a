/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ipsets over netlink (NETLINK_NETFILTER, subsystem NFNL_SUBSYS_IPSET) with libmnl.
 *
 * IPSET_CMD_LIST is sent in protocol 7; a kernel that refuses it (IPSET_ERR_PROTOCOL) gets
 * IPSET_CMD_PROTOCOL to negotiate the version (we speak 7, accept 6) and the list again. LIST
 * dumps every set: a set's first message carries its type, family, revision, index (protocol
 * 7 only; with 6 the index comes from IPSET_CMD_GET_BYNAME) and header (IPSET_ATTR_DATA), then
 * its elements in IPSET_ATTR_ADT, possibly continued over several messages that repeat only
 * the set name.
 *
 * Consistency: ipsets have no generation counter and the kernel does not flag an interrupted
 * dump (NLM_F_DUMP_INTR is still honoured if present). Each set is dumped under a reference
 * that keeps it from being destroyed or swapped away, but a set can gain or lose elements, or
 * another set can be created, between messages. A second dump to compare would double the
 * read cost (the performance goal is 1.5x of one bare dump), so the result is one dump: a
 * consistent view per message, not per ruleset. A set that a rule references but that the
 * dump did not see makes the reference opaque (see fw_ipsets_name()).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/ipset/ip_set.h>

#include "ir/ir.h"
#include "fw.h"

/* The kernel builds each dump skb up to 32 KiB (netlink_dump(), capped by the largest read
 * seen): a bigger buffer only costs memory. */
#define IPSET_RECV_SIZE (64u * 1024u)

static const struct {
	const char *name;
	enum fw_ipset_kind kind;
} ipset_kinds[] = {
	{ "hash:ip", FW_IPSET_HASH_IP },
	{ "hash:net", FW_IPSET_HASH_NET },
	{ "hash:ip,port", FW_IPSET_HASH_IP_PORT },
	{ "hash:net,port", FW_IPSET_HASH_NET_PORT },
	{ "hash:net,iface", FW_IPSET_HASH_NET_IFACE },
	{ "bitmap:port", FW_IPSET_BITMAP_PORT },
	{ "list:set", FW_IPSET_LIST_SET },
	{ "bitmap:ip", FW_IPSET_BITMAP_IP },
	{ "hash:net,net", FW_IPSET_HASH_NET_NET },
	{ "hash:ip,port,ip", FW_IPSET_HASH_IP_PORT_IP },
	{ "hash:ip,port,net", FW_IPSET_HASH_IP_PORT_NET },
	{ "hash:net,port,net", FW_IPSET_HASH_NET_PORT_NET },
};

static void ipset_elem_done(struct fw_ipset_elem *e)
{
	free(e->iface);
	free(e->member);
}

static struct fw_ipset *ipset_free(struct fw_ipset *s)
{
	if (!s)
		return NULL;
	VEC_FOREACH (e, &s->elems)
		ipset_elem_done(e);
	VEC_DONE(&s->elems);
	free(s);
	return NULL;
}

struct fw_ipsets *fw_ipsets_free(struct fw_ipsets *l)
{
	if (!l)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		ipset_free(l->sets[i]);
	free(l->sets);
	hashmap_done(&l->by_name);
	free(l->by_index);
	free(l);
	return NULL;
}

struct fw_ipset *fw_ipsets_find(const struct fw_ipsets *l, const char *name)
{
	return hashmap_get(&l->by_name, name);
}

int fw_ipsets_name(const struct fw_ipsets *l, uint16_t index, const char **ret_name)
{
	if (index >= l->n_index || !l->by_index[index])
		return -ENOENT;
	*ret_name = l->by_index[index]->name;
	return 0;
}

int fw_ipsets_xt_name(void *userdata, uint16_t index, const char **ret_name)
{
	return fw_ipsets_name(userdata, index, ret_name);
}

/* --- netlink plumbing --- */

struct ipset_nl {
	struct mnl_socket *nl;
	uint32_t seq;
	unsigned portid;
	uint8_t protocol;
	char *buf;
};

static void ipset_nl_done(struct ipset_nl *n)
{
	if (n->nl)
		mnl_socket_close(n->nl);
	free(n->buf);
}

static struct nlmsghdr *ipset_msg(struct ipset_nl *n, char *buf, uint8_t cmd, uint16_t flags)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	/* requests are small (a set name at most): zero their room, attribute padding included */
	memset(buf, 0, 256);
	nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = (NFNL_SUBSYS_IPSET << 8) | cmd;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++n->seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	/* The ipset tool sends AF_INET for every command; the kernel ignores it for these. */
	nfg->nfgen_family = NFPROTO_IPV4;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(0);
	mnl_attr_put_u8(nlh, IPSET_ATTR_PROTOCOL, n->protocol);
	return nlh;
}

/* Sends nlh and runs cb on the replies until done; returns 0, -EINTR if the kernel flagged the
 * dump as interrupted, or -errno (a netlink error reply becomes its errno). */
static int ipset_talk(struct ipset_nl *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t seq = nlh->nlmsg_seq;
	bool intr = false;
	ssize_t len;
	int r;

	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) < 0)
		return negative_errno();
	for (;;) {
		len = mnl_socket_recvfrom(n->nl, n->buf, IPSET_RECV_SIZE);
		if (len < 0)
			return negative_errno();
		{
			int rest = (int)len;

			for (const struct nlmsghdr *h = (const struct nlmsghdr *)n->buf;
			     mnl_nlmsg_ok(h, rest); h = mnl_nlmsg_next(h, &rest))
				if (h->nlmsg_flags & NLM_F_DUMP_INTR)
					intr = true;
		}
		r = mnl_cb_run(n->buf, (size_t)len, seq, n->portid, cb, data);
		if (r < 0)
			return negative_errno();
		if (r == MNL_CB_STOP)
			break;
	}
	return intr ? -EINTR : 0;
}

static int ipset_nl_open(struct ipset_nl *n)
{
	n->buf = malloc(IPSET_RECV_SIZE);
	if (!n->buf)
		return -ENOMEM;
	n->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!n->nl)
		return negative_errno();
	if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return negative_errno();
	n->portid = mnl_socket_get_portid(n->nl);
	n->seq = (uint32_t)time(NULL);
	n->protocol = IPSET_PROTOCOL;
	return 0;
}

/* --- protocol negotiation --- */

struct proto_reply {
	int protocol, protocol_min;
};

static int proto_attr_cb(const struct nlattr *a, void *data)
{
	struct proto_reply *p = data;

	switch (mnl_attr_get_type(a)) {
	case IPSET_ATTR_PROTOCOL:
		if (mnl_attr_validate(a, MNL_TYPE_U8) >= 0)
			p->protocol = mnl_attr_get_u8(a);
		break;
	case IPSET_ATTR_PROTOCOL_MIN:
		if (mnl_attr_validate(a, MNL_TYPE_U8) >= 0)
			p->protocol_min = mnl_attr_get_u8(a);
		break;
	}
	return MNL_CB_OK;
}

static int proto_cb(const struct nlmsghdr *nlh, void *data)
{
	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), proto_attr_cb, data);
	return MNL_CB_OK;
}

static int ipset_negotiate(struct ipset_nl *n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct proto_reply p = { -1, -1 };
	int r;

	r = ipset_talk(n, ipset_msg(n, buf, IPSET_CMD_PROTOCOL, NLM_F_ACK), proto_cb, &p);
	if (r < 0)
		return r;
	if (p.protocol < 0)
		return -EPROTO;
	if (p.protocol_min < 0)
		p.protocol_min = p.protocol;
	/* Speak the highest version both sides know. */
	if (p.protocol >= IPSET_PROTOCOL)
		n->protocol = IPSET_PROTOCOL;
	else if (p.protocol >= IPSET_PROTOCOL_MIN)
		n->protocol = (uint8_t)p.protocol;
	else
		return -EPROTONOSUPPORT;
	if (p.protocol_min > n->protocol)
		return -EPROTONOSUPPORT;
	return 0;
}

/* --- list parsing --- */

static int ipset_ir_new(const struct fw_ipset *fs, struct ir_set **ret);
static int elem_to_ir(const struct fw_ipset *fs, struct ir_set *s, const struct fw_ipset_elem *e,
		      struct np_iset *ports);
static int ipset_ir_finish(const struct fw_ipset *fs, struct ir_set *s, struct np_iset *ports);
static int ipsets_source_info(const struct fw_ipsets *l, struct ir_ruleset *rs);

struct list_state {
	struct fw_ipsets *l;
	struct fw_ipset *cur;
	int err;
	/* straight into IR sets (fw_ipsets_read_into()): elements are not kept in l */
	bool direct;
	VEC(struct ir_set *) irs; /* one per set of l, in order */
	struct np_iset ports; /* bitmap:port of the current set */
	uint32_t hint; /* elements the current set's header announces */
};

static void list_state_done(struct list_state *st)
{
	VEC_FOREACH (s, &st->irs)
		ir_set_free(*s);
	VEC_DONE(&st->irs);
	np_iset_done(&st->ports);
}

/* Completes the IR set of the current set (direct mode). */
static int list_finish_set(struct list_state *st)
{
	if (!st->direct || !st->cur || st->irs.n == 0)
		return 0;
	return ipset_ir_finish(st->cur, st->irs.items[st->irs.n - 1], &st->ports);
}

static int list_fail(struct list_state *st, int r)
{
	st->err = r;
	errno = -r;
	return MNL_CB_ERROR;
}

/* Attribute access for the per-element loop, inline instead of libmnl's calls. */
static inline uint16_t nla_kind(const struct nlattr *a)
{
	return a->nla_type & NLA_TYPE_MASK;
}

static inline uint16_t nla_len_payload(const struct nlattr *a)
{
	return (uint16_t)(a->nla_len - MNL_ATTR_HDRLEN);
}

static inline const uint8_t *nla_data(const struct nlattr *a)
{
	return (const uint8_t *)a + MNL_ATTR_HDRLEN;
}

/* Iterates over the attributes nested in nest, stopping at the first malformed one (as
 * mnl_attr_for_each_nested does). */
#define NLA_FOREACH_NESTED(a, nest)                                                             \
	for (const struct nlattr *a = (const struct nlattr *)nla_data(nest),                    \
				 *_end_ = (const struct nlattr *)((const uint8_t *)(nest) +     \
								  MNL_ALIGN((nest)->nla_len));  \
	     (const uint8_t *)_end_ - (const uint8_t *)a >= (ptrdiff_t)sizeof(struct nlattr) && \
	     a->nla_len >= sizeof(struct nlattr) &&                                             \
	     a->nla_len <= (size_t)((const uint8_t *)_end_ - (const uint8_t *)a);               \
	     a = (const struct nlattr *)((const uint8_t *)a + MNL_ALIGN(a->nla_len)))

/* The attributes nested in an element or a header, by type: only those in seen are set, so
 * that the table need not be cleared for every element. */
struct nest_tb {
	const struct nlattr *a[IPSET_ATTR_ADT_MAX + 1];
	uint64_t seen;
};
_Static_assert(IPSET_ATTR_ADT_MAX < 64, "ipset attribute types fit the seen mask");

static void nested_table(const struct nlattr *nest, struct nest_tb *tb)
{
	tb->seen = 0;
	NLA_FOREACH_NESTED(a, nest)
	{
		uint16_t t = nla_kind(a);

		if (t <= IPSET_ATTR_ADT_MAX) {
			tb->a[t] = a;
			tb->seen |= (uint64_t)1 << t;
		}
	}
}

/* Returns the attribute of type t, or NULL. */
static inline const struct nlattr *tb_get(const struct nest_tb *tb, unsigned t)
{
	return tb->seen >> t & 1 ? tb->a[t] : NULL;
}

/* Parses nested IPSET_ATTR_IP{,_TO}: returns 0 and the address (IPv4 mapped), or -EBADMSG. */
static int parse_ipaddr(const struct nlattr *nest, np_u128 *ret, uint8_t *ret_family)
{
	NLA_FOREACH_NESTED(a, nest)
	{
		uint16_t t = nla_kind(a), n = nla_len_payload(a);
		const uint8_t *p = nla_data(a);

		if (t == IPSET_ATTR_IPADDR_IPV4 && n == 4) {
			*ret = np_v4((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
				     (uint32_t)p[2] << 8 | p[3]);
			*ret_family = NFPROTO_IPV4;
			return 0;
		}
		if (t == IPSET_ATTR_IPADDR_IPV6 && n == 16) {
			np_u128 v = 0;

			for (int i = 0; i < 16; i++)
				v = (v << 8) | p[i];
			*ret = v;
			*ret_family = NFPROTO_IPV6;
			return 0;
		}
	}
	return -EBADMSG;
}

static int get_be16(const struct nlattr *a, uint16_t *ret)
{
	if (mnl_attr_get_payload_len(a) != 2)
		return -EBADMSG;
	*ret = ntohs(mnl_attr_get_u16(a));
	return 0;
}

static int get_be32(const struct nlattr *a, uint32_t *ret)
{
	if (mnl_attr_get_payload_len(a) != 4)
		return -EBADMSG;
	*ret = ntohl(mnl_attr_get_u32(a));
	return 0;
}

static int get_u8(const struct nlattr *a, uint8_t *ret)
{
	if (mnl_attr_get_payload_len(a) < 1)
		return -EBADMSG;
	*ret = mnl_attr_get_u8(a);
	return 0;
}

/* Returns the range [lo, hi] of a prefix of family fam around a. */
static void prefix_range(uint8_t fam, np_u128 a, unsigned cidr, np_u128 *lo, np_u128 *hi)
{
	unsigned bits = fam == NFPROTO_IPV4 ? 32 : 128;
	np_u128 host;

	if (cidr > bits)
		cidr = bits;
	host = bits - cidr >= 128 ? NP_U128_MAX : (((np_u128)1 << (bits - cidr)) - 1);
	if (fam == NFPROTO_IPV4)
		host &= 0xffffffffu;
	*lo = a & ~host;
	*hi = *lo | host;
}

static int parse_elem(struct list_state *st, const struct nlattr *nest)
{
	/* copied rather than zero-initialised: the compiler clears a struct this size with a slow
	 * string instruction */
	static const struct fw_ipset_elem elem_zero;
	struct nest_tb tb;
	struct fw_ipset *s = st->cur;
	struct fw_ipset_elem e = elem_zero;
	uint8_t fam = s->family;
	int r;

	nested_table(nest, &tb);

	if (tb_get(&tb, IPSET_ATTR_IP)) {
		uint8_t f;
		unsigned cidr = fam == NFPROTO_IPV4 ? 32 : 128;

		r = parse_ipaddr(tb_get(&tb, IPSET_ATTR_IP), &e.lo, &f);
		if (r < 0)
			return r;
		fam = f;
		if (tb_get(&tb, IPSET_ATTR_CIDR)) {
			uint8_t c;

			r = get_u8(tb_get(&tb, IPSET_ATTR_CIDR), &c);
			if (r < 0)
				return r;
			cidr = c;
		} else if (s->netmask)
			cidr = s->netmask;
		prefix_range(fam, e.lo, cidr, &e.lo, &e.hi);
		if (tb_get(&tb, IPSET_ATTR_IP_TO)) {
			np_u128 to;

			r = parse_ipaddr(tb_get(&tb, IPSET_ATTR_IP_TO), &to, &f);
			if (r < 0)
				return r;
			if (f != fam || to < e.lo)
				return -EBADMSG;
			e.hi = to;
		}
		e.has_addr = true;
	}
	if (tb_get(&tb, IPSET_ATTR_IP2)) {
		uint8_t f, c = fam == NFPROTO_IPV4 ? 32 : 128;

		r = parse_ipaddr(tb_get(&tb, IPSET_ATTR_IP2), &e.lo2, &f);
		if (r < 0)
			return r;
		if (tb_get(&tb, IPSET_ATTR_CIDR2)) {
			r = get_u8(tb_get(&tb, IPSET_ATTR_CIDR2), &c);
			if (r < 0)
				return r;
		}
		prefix_range(f, e.lo2, c, &e.lo2, &e.hi2);
		e.has_addr2 = true;
	}
	if (tb_get(&tb, IPSET_ATTR_PORT)) {
		r = get_be16(tb_get(&tb, IPSET_ATTR_PORT), &e.port_lo);
		if (r < 0)
			return r;
		e.port_hi = e.port_lo;
		if (tb_get(&tb, IPSET_ATTR_PORT_TO)) {
			r = get_be16(tb_get(&tb, IPSET_ATTR_PORT_TO), &e.port_hi);
			if (r < 0)
				return r;
			if (e.port_hi < e.port_lo)
				return -EBADMSG;
		}
		e.has_port = true;
	}
	if (tb_get(&tb, IPSET_ATTR_PROTO)) {
		r = get_u8(tb_get(&tb, IPSET_ATTR_PROTO), &e.proto);
		if (r < 0)
			return r;
	}
	if (tb_get(&tb, IPSET_ATTR_CADT_FLAGS)) {
		uint32_t fl;

		r = get_be32(tb_get(&tb, IPSET_ATTR_CADT_FLAGS), &fl);
		if (r < 0)
			return r;
		e.nomatch = !!(fl & IPSET_FLAG_NOMATCH);
		e.physdev = !!(fl & IPSET_FLAG_PHYSDEV);
		e.iface_wildcard = !!(fl & IPSET_FLAG_IFACE_WILDCARD);
	}
	if (tb_get(&tb, IPSET_ATTR_IFACE)) {
		if (mnl_attr_validate(tb_get(&tb, IPSET_ATTR_IFACE), MNL_TYPE_NUL_STRING) < 0)
			return -EBADMSG;
		e.iface = strdup(mnl_attr_get_str(tb_get(&tb, IPSET_ATTR_IFACE)));
		if (!e.iface)
			return -ENOMEM;
	}
	if (tb_get(&tb, IPSET_ATTR_NAME)) {
		if (mnl_attr_validate(tb_get(&tb, IPSET_ATTR_NAME), MNL_TYPE_NUL_STRING) < 0) {
			ipset_elem_done(&e);
			return -EBADMSG;
		}
		e.member = strdup(mnl_attr_get_str(tb_get(&tb, IPSET_ATTR_NAME)));
		if (!e.member) {
			ipset_elem_done(&e);
			return -ENOMEM;
		}
	}
	if (tb_get(&tb, IPSET_ATTR_TIMEOUT))
		s->has_timeout = true;
	s->n_elems++;
	if (st->direct) {
		r = elem_to_ir(s, st->irs.items[st->irs.n - 1], &e, &st->ports);
		/* list:set members stay: the set match takes its key layout from them */
		if (r < 0 || s->kind != FW_IPSET_LIST_SET) {
			ipset_elem_done(&e);
			return r;
		}
	}
	if (VEC_PUSH(&s->elems, e) < 0) {
		ipset_elem_done(&e);
		return -ENOMEM;
	}
	return 0;
}

static int parse_header(struct list_state *st, struct fw_ipset *s, const struct nlattr *nest)
{
	struct nest_tb tb;
	int r;

	nested_table(nest, &tb);
	if (tb_get(&tb, IPSET_ATTR_NETMASK)) {
		r = get_u8(tb_get(&tb, IPSET_ATTR_NETMASK), &s->netmask);
		if (r < 0)
			return r;
	}
	if (tb_get(&tb, IPSET_ATTR_PORT)) {
		r = get_be16(tb_get(&tb, IPSET_ATTR_PORT), &s->port_from);
		if (r < 0)
			return r;
	}
	if (tb_get(&tb, IPSET_ATTR_PORT_TO)) {
		r = get_be16(tb_get(&tb, IPSET_ATTR_PORT_TO), &s->port_to);
		if (r < 0)
			return r;
	}
	if (tb_get(&tb, IPSET_ATTR_MARKMASK)) {
		uint32_t m;

		r = get_be32(tb_get(&tb, IPSET_ATTR_MARKMASK), &m);
		if (r < 0)
			return r;
	}
	if (tb_get(&tb, IPSET_ATTR_TIMEOUT))
		s->has_timeout = true;
	if (tb_get(&tb, IPSET_ATTR_ELEMENTS)) {
		uint32_t n;

		/* room for the elements the header announces (capped: it is only a hint) */
		if (get_be32(tb_get(&tb, IPSET_ATTR_ELEMENTS), &n) == 0) {
			st->hint = MIN(n, 1u << 20);
			if (!st->direct && VEC_RESERVE(&s->elems, st->hint) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

/* A new set called name of type type, appended to the list; name and type live behind the set
 * (one allocation). */
static int ipset_new(struct list_state *st, const char *name, const char *type,
		     struct fw_ipset **ret)
{
	struct fw_ipsets *l = st->l;
	size_t nl = strlen(name) + 1, tl = strlen(type) + 1;
	struct fw_ipset *s;
	int r;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct fw_ipset **v = reallocarray(l->sets, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->sets = v;
		l->cap = cap;
	}
	s = calloc(1, sizeof(*s) + nl + tl);
	if (!s)
		return -ENOMEM;
	s->index = -1;
	s->kind = FW_IPSET_OTHER;
	s->name = memcpy(s + 1, name, nl);
	s->type = memcpy((char *)(s + 1) + nl, type, tl);
	for (size_t i = 0; i < ELEMENTSOF(ipset_kinds); i++)
		if (streq(type, ipset_kinds[i].name)) {
			s->kind = ipset_kinds[i].kind;
			break;
		}
	r = hashmap_put(&l->by_name, s->name, s);
	if (r < 0) {
		ipset_free(s);
		return r;
	}
	l->sets[l->n++] = s;
	*ret = s;
	return 0;
}

static int list_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;
	uint16_t t = mnl_attr_get_type(a);

	if (t <= IPSET_ATTR_CMD_MAX)
		tb[t] = a;
	return MNL_CB_OK;
}

static int list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_state *st = data;
	const struct nlattr *tb[IPSET_ATTR_CMD_MAX + 1] = { 0 };
	const struct nlattr *a;
	const char *name;
	struct fw_ipset *s;
	int r;

	if ((nlh->nlmsg_type & 0xff) != IPSET_CMD_LIST || nlh->nlmsg_type >> 8 != NFNL_SUBSYS_IPSET)
		return MNL_CB_OK;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return list_fail(st, -EBADMSG);
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), list_attr_cb, tb) < 0)
		return list_fail(st, -EBADMSG);
	if (!tb[IPSET_ATTR_SETNAME] ||
	    mnl_attr_validate(tb[IPSET_ATTR_SETNAME], MNL_TYPE_NUL_STRING) < 0)
		return list_fail(st, -EBADMSG);
	name = mnl_attr_get_str(tb[IPSET_ATTR_SETNAME]);

	if (st->cur && streq(st->cur->name, name) && !tb[IPSET_ATTR_TYPENAME])
		s = st->cur; /* continuation of the set's element list */
	else {
		if (fw_ipsets_find(st->l, name))
			return list_fail(st, -EBADMSG);
		r = list_finish_set(st);
		if (r < 0)
			return list_fail(st, r);
		st->hint = 0;
		if (!tb[IPSET_ATTR_TYPENAME] ||
		    mnl_attr_validate(tb[IPSET_ATTR_TYPENAME], MNL_TYPE_NUL_STRING) < 0 ||
		    !tb[IPSET_ATTR_FAMILY] || !tb[IPSET_ATTR_REVISION])
			return list_fail(st, -EBADMSG);
		r = ipset_new(st, name, mnl_attr_get_str(tb[IPSET_ATTR_TYPENAME]), &s);
		if (r < 0)
			return list_fail(st, r);
		st->cur = s;
		if (get_u8(tb[IPSET_ATTR_FAMILY], &s->family) < 0 ||
		    get_u8(tb[IPSET_ATTR_REVISION], &s->revision) < 0)
			return list_fail(st, -EBADMSG);
		if (tb[IPSET_ATTR_INDEX]) {
			uint16_t idx;

			if (get_be16(tb[IPSET_ATTR_INDEX], &idx) < 0)
				return list_fail(st, -EBADMSG);
			s->index = idx;
		}
		if (tb[IPSET_ATTR_DATA]) {
			r = parse_header(st, s, tb[IPSET_ATTR_DATA]);
			if (r < 0)
				return list_fail(st, r);
		}
		if (st->direct) {
			struct ir_set *is = NULL;

			r = ipset_ir_new(s, &is);
			if (r >= 0 && VEC_PUSH(&st->irs, is) < 0) {
				ir_set_free(is);
				r = -ENOMEM;
			}
			if (r >= 0 && is->nkey > 0 && s->kind != FW_IPSET_BITMAP_PORT)
				r = ir_set_reserve(is, st->hint);
			if (r < 0)
				return list_fail(st, r);
		}
	}

	if (tb[IPSET_ATTR_ADT]) {
		mnl_attr_for_each_nested(a, tb[IPSET_ATTR_ADT])
		{
			if (mnl_attr_get_type(a) != IPSET_ATTR_DATA)
				continue;
			r = parse_elem(st, a);
			if (r < 0)
				return list_fail(st, r);
		}
	}
	return MNL_CB_OK;
}

/* --- index lookup for protocol 6 kernels --- */

static int byname_attr_cb(const struct nlattr *a, void *data)
{
	int *idx = data;
	uint16_t v;

	if (mnl_attr_get_type(a) == IPSET_ATTR_INDEX && get_be16(a, &v) == 0)
		*idx = v;
	return MNL_CB_OK;
}

static int byname_cb(const struct nlmsghdr *nlh, void *data)
{
	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), byname_attr_cb, data);
	return MNL_CB_OK;
}

static int ipset_get_index(struct ipset_nl *n, struct fw_ipset *s)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int idx = -1, r;

	nlh = ipset_msg(n, buf, IPSET_CMD_GET_BYNAME, NLM_F_ACK);
	mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, s->name);
	r = ipset_talk(n, nlh, byname_cb, &idx);
	if (r < 0)
		return r;
	if (idx < 0)
		return -EPROTO;
	s->index = idx;
	return 0;
}

static int ipsets_index(struct fw_ipsets *l)
{
	int max = -1;

	for (size_t i = 0; i < l->n; i++)
		max = MAX(max, l->sets[i]->index);
	free(l->by_index);
	l->by_index = NULL;
	l->n_index = 0;
	if (max < 0)
		return 0;
	l->by_index = calloc((size_t)max + 1, sizeof(*l->by_index));
	if (!l->by_index)
		return -ENOMEM;
	l->n_index = (size_t)max + 1;
	for (size_t i = 0; i < l->n; i++)
		if (l->sets[i]->index >= 0)
			l->by_index[l->sets[i]->index] = l->sets[i];
	return 0;
}

/* One LIST dump into *ret, and with direct into IR sets in st->irs. */
static int ipsets_read_once(struct ipset_nl *n, struct list_state *st, struct fw_ipsets **ret)
{
	_cleanup_(fw_ipsets_freep) struct fw_ipsets *l = NULL;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int r;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	st->l = l;
	st->cur = NULL;
	st->err = 0;
	r = ipset_talk(n, ipset_msg(n, buf, IPSET_CMD_LIST, NLM_F_DUMP), list_cb, st);
	if (st->err < 0)
		return st->err;
	if (r < 0)
		return r;
	r = list_finish_set(st);
	if (r < 0)
		return r;
	for (size_t i = 0; i < l->n; i++) {
		struct fw_ipset *s = l->sets[i];

		if (s->index < 0) {
			r = ipset_get_index(n, s);
			if (r < 0)
				return r;
		}
	}
	r = ipsets_index(l);
	if (r < 0)
		return r;
	l->protocol = n->protocol;
	*ret = TAKE_PTR(l);
	return 0;
}

/* Opens an ipset socket and runs once(n, data) until it is neither refused for the protocol
 * (then the version is negotiated: asking in ours first saves a round trip) nor an interrupted
 * dump (-EINTR, up to 8 retries). Returns once's result or -errno. */
static int ipset_dump_retrying(int (*once)(struct ipset_nl *n, void *data), void *data)
{
	_cleanup_(ipset_nl_done) struct ipset_nl n = { 0 };
	int r;

	r = ipset_nl_open(&n);
	if (r < 0)
		return r;
	for (int attempt = 0, negotiated = 0;; attempt++) {
		r = once(&n, data);
		if (r == -IPSET_ERR_PROTOCOL && !negotiated) {
			r = ipset_negotiate(&n);
			if (r < 0)
				return r;
			negotiated = 1;
			continue;
		}
		if (r != -EINTR || attempt >= 8)
			return r;
	}
}

struct read_args {
	struct list_state *st;
	struct fw_ipsets **ret;
};

static int read_once(struct ipset_nl *n, void *data)
{
	struct read_args *a = data;

	list_state_done(a->st);
	return ipsets_read_once(n, a->st, a->ret);
}

/* Reads every set, retrying an interrupted dump; st->direct chooses the IR sets too. */
static int ipsets_read(struct list_state *st, struct fw_ipsets **ret)
{
	return ipset_dump_retrying(read_once, &(struct read_args){ st, ret });
}

/* Hashes each dump message's payload (after the netlink header, whose sequence and port vary
 * from one dump to the next). */
static int fingerprint_cb(const struct nlmsghdr *nlh, void *data)
{
	uint64_t *h = data;

	*h = np_hash64_block(*h, (const char *)nlh + sizeof(*nlh), nlh->nlmsg_len - sizeof(*nlh));
	return MNL_CB_OK;
}

static int fingerprint_once(struct ipset_nl *n, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint64_t *h = data;

	*h = NP_HASH64_INIT;
	return ipset_talk(n, ipset_msg(n, buf, IPSET_CMD_LIST, NLM_F_DUMP), fingerprint_cb, h);
}

int fw_ipsets_fingerprint(uint64_t *ret)
{
	uint64_t h;
	int r = ipset_dump_retrying(fingerprint_once, &h);

	if (r < 0)
		return r;
	*ret = h;
	return 0;
}

int fw_ipsets_read(struct fw_ipsets **ret)
{
	struct list_state st = { 0 };
	int r;

	r = ipsets_read(&st, ret);
	list_state_done(&st);
	return r;
}

/* Moves the IR sets of st into rs and records the source info. */
static int ipsets_into(struct list_state *st, const struct fw_ipsets *l, struct ir_ruleset *rs)
{
	int r;

	for (size_t i = 0; i < st->irs.n; i++) {
		r = ir_ruleset_add_ipset(rs, &st->irs.items[i]);
		if (r < 0)
			return r;
	}
	st->irs.n = 0;
	return ipsets_source_info(l, rs);
}

/* The end of a read or parse into rs (r its result, l its list): the IR sets into rs, st
 * freed, *ret set on success. Returns 0 or -errno. */
static int into_finish(int r, struct list_state *st, struct fw_ipsets *l, struct ir_ruleset *rs,
		       struct fw_ipsets **ret)
{
	if (r >= 0)
		r = ipsets_into(st, l, rs);
	list_state_done(st);
	if (r < 0) {
		fw_ipsets_free(l);
		return r;
	}
	*ret = l;
	return 0;
}

int fw_ipsets_read_into(struct ir_ruleset *rs, struct fw_ipsets **ret)
{
	struct fw_ipsets *l = NULL;
	struct list_state st = { .direct = true };
	int r = ipsets_read(&st, &l);

	return into_finish(r, &st, l, rs, ret);
}

/* Parses a LIST dump held in memory into *ret (and with st->direct, IR sets in st->irs). */
static int parse_dump(const void *buf, size_t len, struct list_state *st, struct fw_ipsets **ret)
{
	_cleanup_(fw_ipsets_freep) struct fw_ipsets *l = NULL;
	int r;

	/* mnl_nlmsg_ok() trusts nlmsg_len values >= 2^31 (a signed comparison): check the
	 * framing first, as the kernel's messages always satisfy it. */
	for (size_t off = 0; off < len;) {
		struct nlmsghdr h;

		if (len - off < sizeof(h))
			return -EBADMSG;
		memcpy(&h, (const uint8_t *)buf + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
			return -EBADMSG;
		off += MNL_ALIGN(h.nlmsg_len);
	}

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	st->l = l;
	r = mnl_cb_run(buf, len, 0, 0, list_cb, st);
	if (st->err < 0)
		return st->err;
	if (r < 0)
		return negative_errno();
	r = list_finish_set(st);
	if (r < 0)
		return r;
	r = ipsets_index(l);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(l);
	return 0;
}

int fw_ipsets_parse_dump(const void *buf, size_t len, struct fw_ipsets **ret)
{
	struct list_state st = { 0 };
	int r;

	r = parse_dump(buf, len, &st, ret);
	list_state_done(&st);
	return r;
}

int fw_ipsets_parse_dump_into(const void *buf, size_t len, struct ir_ruleset *rs,
			      struct fw_ipsets **ret)
{
	struct fw_ipsets *l = NULL;
	struct list_state st = { .direct = true };
	int r = parse_dump(buf, len, &st, &l);

	return into_finish(r, &st, l, rs, ret);
}

/* --- into the IR --- */

static int key_add_port_proto(struct ir_set *s, struct ir_key_part *key, unsigned n,
			      const struct fw_ipset_elem *e, bool nomatch)
{
	key[n].lo = key[n].hi = e->proto;
	key[n + 1].lo = e->port_lo;
	key[n + 1].hi = e->port_hi;
	return ir_set_add_elem(s, key, NULL, 0, nomatch);
}

/* Returns 0 and in *ret a new IR set for fs with its key fields and flags, no elements yet. */
static int ipset_ir_new(const struct fw_ipset *fs, struct ir_set **ret)
{
	_cleanup_(ir_set_freep) struct ir_set *s = NULL;
	static const enum ir_keytype keys[][4] = {
		[FW_IPSET_HASH_IP] = { IR_KEY_ADDR },
		[FW_IPSET_HASH_NET] = { IR_KEY_ADDR },
		[FW_IPSET_BITMAP_IP] = { IR_KEY_ADDR },
		[FW_IPSET_HASH_IP_PORT] = { IR_KEY_ADDR, IR_KEY_NUM, IR_KEY_NUM },
		[FW_IPSET_HASH_NET_PORT] = { IR_KEY_ADDR, IR_KEY_NUM, IR_KEY_NUM },
		[FW_IPSET_HASH_NET_NET] = { IR_KEY_ADDR, IR_KEY_ADDR },
		[FW_IPSET_HASH_IP_PORT_IP] = { IR_KEY_ADDR, IR_KEY_NUM, IR_KEY_NUM, IR_KEY_ADDR },
		[FW_IPSET_HASH_IP_PORT_NET] = { IR_KEY_ADDR, IR_KEY_NUM, IR_KEY_NUM, IR_KEY_ADDR },
		[FW_IPSET_HASH_NET_PORT_NET] = { IR_KEY_ADDR, IR_KEY_NUM, IR_KEY_NUM, IR_KEY_ADDR },
		[FW_IPSET_HASH_NET_IFACE] = { IR_KEY_ADDR, IR_KEY_IFNAME },
		[FW_IPSET_BITMAP_PORT] = { IR_KEY_NUM, IR_KEY_NUM },
	};
	static const unsigned nkeys[] = {
		[FW_IPSET_HASH_IP] = 1,
		[FW_IPSET_HASH_NET] = 1,
		[FW_IPSET_BITMAP_IP] = 1,
		[FW_IPSET_HASH_IP_PORT] = 3,
		[FW_IPSET_HASH_NET_PORT] = 3,
		[FW_IPSET_HASH_NET_NET] = 2,
		[FW_IPSET_HASH_IP_PORT_IP] = 4,
		[FW_IPSET_HASH_IP_PORT_NET] = 4,
		[FW_IPSET_HASH_NET_PORT_NET] = 4,
		[FW_IPSET_HASH_NET_IFACE] = 2,
		[FW_IPSET_BITMAP_PORT] = 2,
		[FW_IPSET_LIST_SET] = 0,
		[FW_IPSET_OTHER] = 0,
	};
	int k;

	k = ir_set_new(fs->name, fs->type, &s);
	if (k < 0)
		return k;
	s->family = fs->family == NFPROTO_IPV4	 ? AF_INET
		    : fs->family == NFPROTO_IPV6 ? AF_INET6
						 : AF_UNSPEC;
	if (fs->kind == FW_IPSET_LIST_SET)
		s->flags |= IR_SET_LIST;
	else if (fs->kind != FW_IPSET_OTHER) /* OTHER: no key, every match on it is opaque */
		s->flags |= IR_SET_INTERVAL;
	for (unsigned i = 0; i < nkeys[fs->kind] && k >= 0; i++)
		k = ir_set_add_key(s, keys[fs->kind][i]);
	if (k < 0)
		return k;
	*ret = TAKE_PTR(s);
	return 0;
}

/* Adds element e of fs to its IR set s. bitmap:port elements go to *ports first (see
 * ipset_ir_finish()). Returns 0, -EBADMSG (e lacks a field of the set's type) or -ENOMEM. */
static int elem_to_ir(const struct fw_ipset *fs, struct ir_set *s, const struct fw_ipset_elem *e,
		      struct np_iset *ports)
{
	switch (fs->kind) {
	case FW_IPSET_HASH_IP:
	case FW_IPSET_HASH_NET:
	case FW_IPSET_BITMAP_IP:
		if (!e->has_addr)
			return -EBADMSG;
		return ir_set_add_elem(s, &(struct ir_key_part){ .lo = e->lo, .hi = e->hi }, NULL,
				       0, e->nomatch);
	case FW_IPSET_HASH_IP_PORT:
	case FW_IPSET_HASH_NET_PORT: {
		struct ir_key_part key[3] = { { .lo = e->lo, .hi = e->hi } };

		if (!e->has_addr || !e->has_port)
			return -EBADMSG;
		return key_add_port_proto(s, key, 1, e, e->nomatch);
	}
	case FW_IPSET_HASH_NET_NET: {
		struct ir_key_part key[2] = { { .lo = e->lo, .hi = e->hi },
					      { .lo = e->lo2, .hi = e->hi2 } };

		if (!e->has_addr || !e->has_addr2)
			return -EBADMSG;
		return ir_set_add_elem(s, key, NULL, 0, e->nomatch);
	}
	case FW_IPSET_HASH_IP_PORT_IP:
	case FW_IPSET_HASH_IP_PORT_NET:
	case FW_IPSET_HASH_NET_PORT_NET: {
		struct ir_key_part key[4] = { { .lo = e->lo, .hi = e->hi },
					      { .lo = e->proto, .hi = e->proto },
					      { .lo = e->port_lo, .hi = e->port_hi },
					      { .lo = e->lo2, .hi = e->hi2 } };

		if (!e->has_addr || !e->has_port || !e->has_addr2)
			return -EBADMSG;
		return ir_set_add_elem(s, key, NULL, 0, e->nomatch);
	}
	case FW_IPSET_HASH_NET_IFACE: {
		struct ir_key_part key[2] = { { .lo = e->lo, .hi = e->hi },
					      { .ifname = e->iface, .prefix = e->iface_wildcard } };

		if (!e->has_addr || !e->iface)
			return -EBADMSG;
		/* hash_netiface*_kadt() looks up physdev entries only for SET targets with the
		 * physdev flag; the set match never finds them. */
		if (e->physdev)
			return 0;
		return ir_set_add_elem(s, key, NULL, 0, e->nomatch);
	}
	case FW_IPSET_BITMAP_PORT:
		return e->has_port ? np_iset_add(ports, e->port_lo, e->port_hi) : 0;
	case FW_IPSET_LIST_SET:
		if (!e->member)
			return -EBADMSG;
		return ir_set_add_member(s, e->member);
	case FW_IPSET_OTHER:
		break;
	}
	return 0;
}

/* Completes s after the last element of fs: the timeout flag, and bitmap:port's ports, which
 * ip_set_get_ip_port() matches for TCP and UDP only (empties *ports). Returns 0 or -ENOMEM. */
static int ipset_ir_finish(const struct fw_ipset *fs, struct ir_set *s, struct np_iset *ports)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	int k = 0;

	if (fs->has_timeout)
		s->flags |= IR_SET_TIMEOUT;
	if (fs->kind == FW_IPSET_BITMAP_PORT) {
		np_iset_normalize(ports);
		for (size_t i = 0; i < ports->n && k >= 0; i++)
			for (size_t j = 0; j < ELEMENTSOF(protos) && k >= 0; j++) {
				struct ir_key_part key[2] = {
					{ .lo = protos[j], .hi = protos[j] },
					{ .lo = ports->r[i].lo, .hi = ports->r[i].hi },
				};

				k = ir_set_add_elem(s, key, NULL, 0, false);
			}
	}
	np_iset_clear(ports);
	return k;
}

static int ipset_to_ir(const struct fw_ipset *fs, struct ir_set **ret)
{
	_cleanup_(ir_set_freep) struct ir_set *s = NULL;
	_cleanup_(np_iset_done) struct np_iset ports = { 0 };
	int k;

	k = ipset_ir_new(fs, &s);
	if (k >= 0 && s->nkey > 0 && fs->kind != FW_IPSET_BITMAP_PORT)
		k = ir_set_reserve(s, fs->elems.n);
	for (size_t i = 0; i < fs->elems.n && k >= 0; i++)
		k = elem_to_ir(fs, s, &fs->elems.items[i], &ports);
	if (k >= 0)
		k = ipset_ir_finish(fs, s, &ports);
	if (k < 0)
		return k;
	*ret = TAKE_PTR(s);
	return 0;
}

/* Records the ipset source info of rs: read, with a note on sets of types not decoded. */
static int ipsets_source_info(const struct fw_ipsets *l, struct ir_ruleset *rs)
{
	unsigned other = 0;
	char note[96];

	for (size_t i = 0; i < l->n; i++)
		other += l->sets[i]->kind == FW_IPSET_OTHER;
	if (!other)
		return ir_ruleset_set_source_info(rs, _IR_SRC_MAX, true, NULL);
	snprintf(note, sizeof(note), "%u set(s) of types not decoded (matches opaque)", other);
	return ir_ruleset_set_source_info(rs, _IR_SRC_MAX, true, note);
}

int fw_ipsets_to_ir(const struct fw_ipsets *l, struct ir_ruleset *rs)
{
	int k;

	for (size_t i = 0; i < l->n; i++) {
		struct ir_set *s = NULL;

		k = ipset_to_ir(l->sets[i], &s);
		if (k < 0)
			return k;
		k = ir_ruleset_add_ipset(rs, &s);
		if (k < 0)
			return k;
	}
	return ipsets_source_info(l, rs);
}
