/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "rtable.h"

struct fw_rtable {
	VEC(struct fw_route) routes;
	bool policy_rules;
	struct {
		int index;
		char name[IFNAMSIZ];
	} * links;
	size_t n_links;
};

int fw_rtable_new(struct fw_rtable **ret)
{
	*ret = calloc(1, sizeof(**ret));
	return *ret ? 0 : -ENOMEM;
}

struct fw_rtable *fw_rtable_free(struct fw_rtable *t)
{
	if (!t)
		return NULL;
	VEC_DONE(&t->routes);
	free(t->links);
	free(t);
	return NULL;
}

int fw_rtable_add(struct fw_rtable *t, const struct fw_route *r)
{
	return VEC_PUSH(&t->routes, *r);
}

static void mnl_socket_closep(struct mnl_socket **nl)
{
	if (*nl)
		mnl_socket_close(*nl);
}

struct dump {
	struct fw_rtable *t;
	int family; /* of the dump */
	int r;
	int n_rules;
};

static np_u128 addr_from(int family, const void *p)
{
	np_u128 v = 0;
	const uint8_t *b = p;

	if (family == AF_INET) {
		uint32_t a;
		memcpy(&a, p, 4);
		return np_v4(ntohl(a));
	}
	for (int i = 0; i < 16; i++)
		v = (v << 8) | b[i];
	return v;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct fw_route r = { 0 };
	struct nlattr *a;
	np_u128 dst = 0;
	unsigned bits;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return MNL_CB_OK; /* truncated: the kernel never sends one */
	bits = rtm->rtm_family == AF_INET ? 32 : 128;
	if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
		return MNL_CB_OK;
	r.family = rtm->rtm_family;
	r.table = rtm->rtm_table;
	switch (rtm->rtm_type) {
	case RTN_UNICAST:
		r.type = FW_ROUTE_UNICAST;
		break;
	case RTN_LOCAL:
		r.type = FW_ROUTE_LOCAL;
		break;
	case RTN_BLACKHOLE:
	case RTN_UNREACHABLE:
	case RTN_PROHIBIT:
		r.type = FW_ROUTE_UNREACHABLE;
		break;
	default:
		return MNL_CB_OK; /* broadcast, multicast, anycast: not for unicast pod traffic */
	}
	mnl_attr_for_each(a, nlh, sizeof(*rtm))
	{
		switch (mnl_attr_get_type(a)) {
		case RTA_TABLE:
			if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
				r.table = mnl_attr_get_u32(a);
			break;
		case RTA_DST:
			if (mnl_attr_get_payload_len(a) >= (r.family == AF_INET ? 4u : 16u))
				dst = addr_from(r.family, mnl_attr_get_payload(a));
			break;
		case RTA_OIF:
			if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
				r.oif = (int)mnl_attr_get_u32(a);
			break;
		case RTA_PRIORITY:
			if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
				r.metric = mnl_attr_get_u32(a);
			break;
		case RTA_MULTIPATH:
			/* The first nexthop's interface; ECMP picks by hash, which the audit cannot
			 * predict, but every nexthop of a pod route leads the same way in practice.
			 */
			if (!r.oif && mnl_attr_get_payload_len(a) >= sizeof(struct rtnexthop)) {
				struct rtnexthop *nh = mnl_attr_get_payload(a);
				r.oif = nh->rtnh_ifindex;
			}
			break;
		}
	}
	if (r.table != RT_TABLE_MAIN && r.table != RT_TABLE_LOCAL)
		return MNL_CB_OK;
	if (rtm->rtm_dst_len > bits)
		return MNL_CB_OK;
	r.prefix = rtm->rtm_dst_len;
	{
		np_u128 host = (bits - r.prefix) >= 128 ? NP_U128_MAX
							: ((((np_u128)1) << (bits - r.prefix)) - 1);
		if (r.family == AF_INET) {
			dst = dst & ~host;
			r.lo = dst;
			r.hi = dst | host;
			if (r.prefix == 0) {
				r.lo = NP_V4_BASE;
				r.hi = NP_V4_LAST;
			}
		} else {
			r.lo = dst & ~host;
			r.hi = r.lo | host;
		}
	}
	if (VEC_PUSH(&d->t->routes, r) < 0)
		d->r = -ENOMEM;
	return d->r < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct nlattr *a;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi))
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifi))
	{
		if (mnl_attr_get_type(a) == IFLA_IFNAME &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0) {
			void *p =
				reallocarray(d->t->links, d->t->n_links + 1, sizeof(*d->t->links));
			if (!p) {
				d->r = -ENOMEM;
				return MNL_CB_ERROR;
			}
			d->t->links = p;
			d->t->links[d->t->n_links].index = ifi->ifi_index;
			snprintf(d->t->links[d->t->n_links].name, IFNAMSIZ, "%s",
				 mnl_attr_get_str(a));
			d->t->n_links++;
		}
	}
	return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	struct nlattr *a;
	uint32_t table, prio = 0;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*frh))
		return MNL_CB_OK;
	table = frh->table;
	mnl_attr_for_each(a, nlh, sizeof(*frh))
	{
		if (mnl_attr_get_type(a) == FRA_TABLE && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			table = mnl_attr_get_u32(a);
		if (mnl_attr_get_type(a) == FRA_PRIORITY && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			prio = mnl_attr_get_u32(a);
	}
	/* The defaults: 0 local, 32766 main, 32767 default. */
	if (!((prio == 0 && table == RT_TABLE_LOCAL) || (prio == 32766 && table == RT_TABLE_MAIN) ||
	      (prio == 32767 && table == RT_TABLE_DEFAULT)))
		d->n_rules++;
	return MNL_CB_OK;
}

static int dump(struct mnl_socket *nl, uint16_t type, int family, mnl_cb_t cb, struct dump *d)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	unsigned seq = (unsigned)time(NULL), portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int r;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	if (type == RTM_GETLINK) {
		struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
		ifi->ifi_family = AF_UNSPEC;
	} else if (type == RTM_GETRULE) {
		struct fib_rule_hdr *frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
		frh->family = (uint8_t)family;
	} else {
		struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
		rtm->rtm_family = (uint8_t)family;
	}
	d->family = family;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return negative_errno();
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return negative_errno();
		r = mnl_cb_run(buf, (size_t)n, seq, portid, cb, d);
		if (d->r < 0)
			return d->r;
		if (r < 0)
			return negative_errno();
		if (r == MNL_CB_STOP)
			return 0;
	}
}

/* Names each route's interface; counts the policy routing rules beyond the defaults. */
static void rtable_finish(struct fw_rtable *t, const struct dump *d)
{
	/* IPv6 also has "0 local, 32766 main" only (no default table rule): not counted. */
	t->policy_rules = d->n_rules > 0;
	for (size_t i = 0; i < t->routes.n; i++) {
		struct fw_route *rt = &t->routes.items[i];
		for (size_t j = 0; j < t->n_links; j++)
			if (t->links[j].index == rt->oif)
				snprintf(rt->oifname, IFNAMSIZ, "%s", t->links[j].name);
	}
}

int fw_rtable_read(struct fw_rtable **ret)
{
	_cleanup_(fw_rtable_freep) struct fw_rtable *t = NULL;
	_cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
	struct dump d = { 0 };
	int r;

	r = fw_rtable_new(&t);
	if (r < 0)
		return r;
	d.t = t;
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return negative_errno();
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return negative_errno();
	if ((r = dump(nl, RTM_GETLINK, AF_UNSPEC, link_cb, &d)) < 0 ||
	    (r = dump(nl, RTM_GETROUTE, AF_INET, route_cb, &d)) < 0 ||
	    (r = dump(nl, RTM_GETROUTE, AF_INET6, route_cb, &d)) < 0 ||
	    (r = dump(nl, RTM_GETRULE, AF_INET, rule_cb, &d)) < 0 ||
	    (r = dump(nl, RTM_GETRULE, AF_INET6, rule_cb, &d)) < 0)
		return r;
	rtable_finish(t, &d);
	*ret = TAKE_PTR(t);
	return 0;
}

/* rtnetlink dumps in one buffer, as fw_rtable_read() receives them: for the fuzz target and
 * tests. Control messages (NLMSG_DONE, NLMSG_ERROR) are handled as libmnl does. */
static int any_cb(const struct nlmsghdr *nlh, void *data)
{
	switch (nlh->nlmsg_type) {
	case RTM_NEWROUTE:
		return route_cb(nlh, data);
	case RTM_NEWLINK:
		return link_cb(nlh, data);
	case RTM_NEWRULE:
		return rule_cb(nlh, data);
	default:
		return MNL_CB_OK;
	}
}

int fw_rtable_parse_dump(const void *buf, size_t len, struct fw_rtable **ret)
{
	_cleanup_(fw_rtable_freep) struct fw_rtable *t = NULL;
	struct dump d = { 0 };
	int r;

	/* libmnl's mnl_nlmsg_ok() compares nlmsg_len as an int: a length of 2^31 or more passes
	 * and mnl_cb_run() then steps outside the buffer. The kernel never sends one; a buffer
	 * from elsewhere is checked first. */
	for (size_t off = 0; off < len;) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)((const char *)buf + off);

		if (len - off < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) ||
		    nlh->nlmsg_len > len - off)
			return -EBADMSG;
		off += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	r = fw_rtable_new(&t);
	if (r < 0)
		return r;
	d.t = t;
	/* seq and portid 0: not checked, as for a buffer that did not come from a socket. */
	r = mnl_cb_run(buf, len, 0, 0, any_cb, &d);
	if (d.r < 0)
		return d.r;
	if (r < 0)
		return -EBADMSG;
	rtable_finish(t, &d);
	*ret = TAKE_PTR(t);
	return 0;
}

static bool better(const struct fw_route *cand, const struct fw_route *best)
{
	if (!best)
		return true;
	/* The local table is consulted first (rule priority 0). */
	if ((cand->table == RT_TABLE_LOCAL) != (best->table == RT_TABLE_LOCAL))
		return cand->table == RT_TABLE_LOCAL;
	if (cand->prefix != best->prefix)
		return cand->prefix > best->prefix;
	return cand->metric < best->metric;
}

const struct fw_route *fw_rtable_lookup(const struct fw_rtable *t, np_u128 addr)
{
	const struct fw_route *best = NULL;
	int fam = np_addr_family(addr);

	/* Route tables are small (hundreds of pod routes); a scan is cheaper than keeping a trie
	 * in step with rtnetlink changes, and callers cache by equivalence class. */
	for (size_t i = 0; i < t->routes.n; i++) {
		const struct fw_route *r = &t->routes.items[i];
		if (r->family == fam && addr >= r->lo && addr <= r->hi && better(r, best))
			best = r;
	}
	return best;
}

int fw_rtable_cuts(const struct fw_rtable *t, int family, np_u128 **ret, size_t *ret_n)
{
	np_u128 *v = calloc(t->routes.n * 2 + 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->routes.n; i++) {
		const struct fw_route *r = &t->routes.items[i];
		if (r->family != family)
			continue;
		v[n++] = r->lo;
		if (r->hi != NP_U128_MAX)
			v[n++] = r->hi + 1;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int fw_rtable_add_link(struct fw_rtable *t, int index, const char *name)
{
	void *p = reallocarray(t->links, t->n_links + 1, sizeof(*t->links));

	if (!p)
		return -ENOMEM;
	t->links = p;
	t->links[t->n_links].index = index;
	snprintf(t->links[t->n_links].name, IFNAMSIZ, "%s", name);
	t->n_links++;
	for (size_t i = 0; i < t->routes.n; i++)
		if (t->routes.items[i].oif == index)
			snprintf(t->routes.items[i].oifname, IFNAMSIZ, "%s", name);
	return 0;
}

int fw_rtable_ifindex(const struct fw_rtable *t, const char *name)
{
	for (size_t i = 0; i < t->n_links; i++)
		if (streq(t->links[i].name, name))
			return t->links[i].index;
	return 0;
}

size_t fw_rtable_routes(const struct fw_rtable *t, const struct fw_route **ret)
{
	*ret = t->routes.items;
	return t->routes.n;
}

bool fw_rtable_has_policy_rules(const struct fw_rtable *t)
{
	return t->policy_rules;
}

int fw_rtable_local_addrs(const struct fw_rtable *t, struct np_iset *ret)
{
	for (size_t i = 0; i < t->routes.n; i++) {
		const struct fw_route *r = &t->routes.items[i];
		if (r->type == FW_ROUTE_LOCAL && np_iset_add(ret, r->lo, r->hi) < 0)
			return -ENOMEM;
	}
	np_iset_normalize(ret);
	return 0;
}
