/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rtnetlink in the current network namespace: the output interface the kernel would pick for
 * an address (RTM_GETROUTE with RTA_DST, as `ip route get ADDR` does) and the link
 * index <-> name map (RTM_GETLINK dump).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include "fw.h"

#define RTNL_RECV_SIZE (64u * 1024u)

static void mnl_socket_closep(struct mnl_socket **nl)
{
	if (*nl)
		mnl_socket_close(*nl);
}

/* Returns 0 and an open, bound NETLINK_ROUTE socket in *ret, or -errno. */
static int rtnl_open(struct mnl_socket **ret)
{
	struct mnl_socket *nl;

	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl)
		return negative_errno();
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int r = negative_errno();
		mnl_socket_close(nl);
		return r;
	}
	*ret = nl;
	return 0;
}

/* Sends nlh and runs cb over every reply until the request or dump is done; returns 0 or -errno
 * (a netlink error message becomes its errno; an interrupted dump is -EINTR). */
static int rtnl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	_cleanup_(freep) char *buf = NULL;
	unsigned portid = mnl_socket_get_portid(nl);
	uint32_t seq = nlh->nlmsg_seq;
	bool intr = false;
	ssize_t n;
	int rest, r;

	buf = malloc(RTNL_RECV_SIZE);
	if (!buf)
		return -ENOMEM;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return negative_errno();
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, RTNL_RECV_SIZE);
		if (n < 0)
			return negative_errno();
		rest = (int)n;
		for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(h, rest);
		     h = mnl_nlmsg_next(h, &rest))
			if (h->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
		r = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (r < 0)
			return negative_errno();
		if (r == MNL_CB_STOP)
			break;
	}
	return intr ? -EINTR : 0;
}

struct route_reply {
	int oif;
};

static int route_attr_cb(const struct nlattr *a, void *data)
{
	struct route_reply *rr = data;

	if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
		rr->oif = (int)mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(struct rtmsg), route_attr_cb, data);
	/* A single reply answers a non-dump request. */
	return MNL_CB_STOP;
}

int fw_route_get(int family, np_u128 addr, char **ret_ifname)
{
	_cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct route_reply rr = { .oif = 0 };
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	char name[IF_NAMESIZE];
	int r;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if ((family == AF_INET) != (np_addr_family(addr) == AF_INET))
		return -EINVAL;

	r = rtnl_open(&nl);
	if (r < 0)
		return r;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)family;
	if (family == AF_INET) {
		uint32_t a = htonl((uint32_t)addr);

		rtm->rtm_dst_len = 32;
		mnl_attr_put(nlh, RTA_DST, sizeof(a), &a);
	} else {
		uint8_t a[16];

		for (int i = 0; i < 16; i++)
			a[i] = (uint8_t)(addr >> (8 * (15 - i)));
		rtm->rtm_dst_len = 128;
		mnl_attr_put(nlh, RTA_DST, sizeof(a), a);
	}

	r = rtnl_talk(nl, nlh, route_cb, &rr);
	if (r < 0)
		return r;
	if (rr.oif <= 0)
		return -ENETUNREACH;
	if (!if_indextoname((unsigned)rr.oif, name))
		return negative_errno();
	if (ret_ifname) {
		*ret_ifname = strdup(name);
		if (!*ret_ifname)
			return -ENOMEM;
	}
	return rr.oif;
}

/* --- links --- */

struct fw_links {
	VEC(struct fw_link) v; /* sorted by index */
	struct hashmap by_name;
};

struct fw_links *fw_links_free(struct fw_links *l)
{
	if (!l)
		return NULL;
	VEC_FOREACH (k, &l->v)
		free(k->name);
	VEC_DONE(&l->v);
	hashmap_done(&l->by_name);
	free(l);
	return NULL;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	const char **name = data;

	if (mnl_attr_get_type(a) == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
		*name = mnl_attr_get_str(a);
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct fw_links *l = data;
	const struct ifinfomsg *ifi;
	const char *name = NULL;
	struct fw_link k;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	ifi = mnl_nlmsg_get_payload(nlh);
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, &name);
	if (!name) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	k.index = ifi->ifi_index;
	k.name = strdup(name);
	if (!k.name || VEC_PUSH(&l->v, k) < 0) {
		free(k.name);
		errno = ENOMEM;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int link_cmp(const void *a, const void *b)
{
	const struct fw_link *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

int fw_links_read(struct fw_links **ret)
{
	_cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct rtgenmsg *g;
	int r;

	r = rtnl_open(&nl);
	if (r < 0)
		return r;

	for (int attempt = 0;; attempt++) {
		_cleanup_(fw_links_freep) struct fw_links *l = calloc(1, sizeof(*l));

		if (!l)
			return -ENOMEM;
		nlh = mnl_nlmsg_put_header(buf);
		nlh->nlmsg_type = RTM_GETLINK;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		nlh->nlmsg_seq = (uint32_t)time(NULL) + (uint32_t)attempt;
		g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
		g->rtgen_family = AF_UNSPEC;

		r = rtnl_talk(nl, nlh, link_cb, l);
		if (r == -EINTR && attempt < 8)
			continue;
		if (r < 0)
			return r;
		qsort(l->v.items, l->v.n, sizeof(*l->v.items), link_cmp);
		VEC_FOREACH (k, &l->v) {
			r = hashmap_put(&l->by_name, k->name, k);
			if (r < 0)
				return r;
		}
		*ret = TAKE_PTR(l);
		return 0;
	}
}

const char *fw_links_name(const struct fw_links *l, int index)
{
	size_t lo = 0, hi = l->v.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->v.items[mid].index == index)
			return l->v.items[mid].name;
		if (l->v.items[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int fw_links_index(const struct fw_links *l, const char *name)
{
	const struct fw_link *k = hashmap_get(&l->by_name, name);

	return k ? k->index : -ENODEV;
}

size_t fw_links_count(const struct fw_links *l)
{
	return l->v.n;
}

const struct fw_link *fw_links_at(const struct fw_links *l, size_t i)
{
	return i < l->v.n ? &l->v.items[i] : NULL;
}
