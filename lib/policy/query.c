/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Questions to compiled expectations: allowed?, why?, equal?, where are the edges? */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy-internal.h"

static const struct policy_seg *dir_seg(const struct policy_dir *d, int x, uint16_t port)
{
	size_t lo = 0, hi = d->n_segs[x];

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct policy_seg *s = &d->segs[x][mid];
		if (port < s->lo)
			hi = mid;
		else if (port > s->hi)
			lo = mid + 1;
		else
			return s;
	}
	return NULL;
}

bool policy_dir_allows(const struct policy_dir *d, np_u128 addr, uint8_t proto, uint16_t port)
{
	const struct policy_seg *s;
	int x = policy_proto_index(proto);

	if (x < 0)
		return !d->isolated;
	s = dir_seg(d, x, port);
	return s && np_iset_contains(&s->addrs, addr);
}

bool policy_term_matches(const struct policy_term *t, np_u128 addr, uint8_t proto, uint16_t port)
{
	return t->proto == proto && port >= t->port_lo && port <= t->port_hi &&
	       np_iset_contains(t->addrs, addr);
}

int policy_dir_why(const struct policy_dir *d, np_u128 addr, uint8_t proto, uint16_t port,
		   const struct policy_term ***ret)
{
	const struct policy_term **v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < d->n_terms; i++) {
		if (!policy_term_matches(&d->terms[i], addr, proto, port))
			continue;
		if (!v) {
			v = calloc(d->n_terms - i, sizeof(*v));
			if (!v)
				return -ENOMEM;
		}
		v[n++] = &d->terms[i];
	}
	*ret = v;
	return (int)n;
}

bool policy_dir_equal(const struct policy_dir *a, const struct policy_dir *b)
{
	if (a == b)
		return true;
	for (int x = 0; x < _POLICY_PROTO_MAX; x++) {
		if (a->n_segs[x] != b->n_segs[x])
			return false;
		for (size_t i = 0; i < a->n_segs[x]; i++) {
			const struct policy_seg *s = &a->segs[x][i], *t = &b->segs[x][i];
			if (s->lo != t->lo || s->hi != t->hi ||
			    !np_iset_equal(&s->addrs, &t->addrs))
				return false;
		}
	}
	return true;
}

uint64_t policy_dir_hash(const struct policy_dir *d)
{
	uint64_t h = NP_HASH64_INIT;

	for (int x = 0; x < _POLICY_PROTO_MAX; x++) {
		uint64_t n = d->n_segs[x];

		h = np_hash64_bytes(h, &n, sizeof(n));
		for (size_t i = 0; i < d->n_segs[x]; i++) {
			const struct policy_seg *s = &d->segs[x][i];
			uint64_t m = s->addrs.n;
			uint16_t lohi[2] = { s->lo, s->hi };

			h = np_hash64_bytes(h, lohi, sizeof(lohi));
			h = np_hash64_bytes(h, &m, sizeof(m));
			for (size_t k = 0; k < s->addrs.n; k++) {
				np_u128 r[2] = { s->addrs.r[k].lo, s->addrs.r[k].hi };
				h = np_hash64_bytes(h, r, sizeof(r));
			}
		}
	}
	return h;
}

uint64_t policy_expect_hash(const struct policy_expect *x)
{
	uint64_t h[2] = { policy_dir_hash(x->dir[NP_INGRESS]), policy_dir_hash(x->dir[NP_EGRESS]) };

	return np_hash64_bytes(NP_HASH64_INIT, h, sizeof(h));
}

bool policy_expect_equal(const struct policy_expect *a, const struct policy_expect *b)
{
	return policy_dir_equal(a->dir[NP_INGRESS], b->dir[NP_INGRESS]) &&
	       policy_dir_equal(a->dir[NP_EGRESS], b->dir[NP_EGRESS]);
}

int policy_addrs_format(const struct np_iset *s, struct strbuf *out)
{
	_cleanup_(np_iset_done) struct np_iset v4 = { 0 }, v6 = { 0 }, mapped = { 0 };
	int r;

	r = np_iset_add(&mapped, NP_V4_BASE, NP_V4_LAST);
	if (r >= 0)
		r = np_iset_intersect(s, &mapped, &v4);
	if (r >= 0)
		r = np_iset_subtract(s, &mapped, &v6);
	if (r < 0)
		return r;
	/* IPv6 CIDRs never cover IPv4 traffic: an IPv6 set around the mapped block reads best
	 * with the hole filled ("::/0", not a dozen CIDRs). */
	if (np_iset_contains(&v6, NP_V4_BASE - 1) && np_iset_contains(&v6, NP_V4_LAST + 1)) {
		r = np_iset_merge(&v6, &mapped);
		if (r < 0)
			return r;
	}
	r = np_iset_format_cidrs(&v4, out);
	if (r >= 0 && v4.n > 0 && v6.n > 0)
		r = strbuf_puts(out, ",");
	if (r >= 0)
		r = np_iset_format_cidrs(&v6, out);
	return r;
}

int policy_dir_format(const struct policy_dir *d, struct strbuf *out)
{
	int r = 0;

	for (int x = 0; x < _POLICY_PROTO_MAX && r >= 0; x++)
		for (size_t i = 0; i < d->n_segs[x] && r >= 0; i++) {
			const struct policy_seg *s = &d->segs[x][i];
			r = strbuf_printf(out, "%s %u-%u ", np_proto_name(policy_proto_numbers[x]),
					  s->lo, s->hi);
			if (r >= 0)
				r = policy_addrs_format(&s->addrs, out);
			if (r >= 0)
				r = strbuf_puts(out, "\n");
		}
	return r;
}

int policy_dir_addr_cuts(const struct policy_dir *d, np_u128 **ret, size_t *ret_n)
{
	np_u128 *v;
	size_t n = 0, cap = 0, w = 0;

	for (int x = 0; x < _POLICY_PROTO_MAX; x++)
		for (size_t i = 0; i < d->n_segs[x]; i++)
			cap += 2 * d->segs[x][i].addrs.n;
	v = calloc(cap ? cap : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (int x = 0; x < _POLICY_PROTO_MAX; x++)
		for (size_t i = 0; i < d->n_segs[x]; i++) {
			const struct np_iset *s = &d->segs[x][i].addrs;
			for (size_t k = 0; k < s->n; k++) {
				v[n++] = s->r[k].lo;
				if (s->r[k].hi != NP_U128_MAX)
					v[n++] = s->r[k].hi + 1;
			}
		}
	np_qsort(v, n, sizeof(*v), np_u128_cmp);
	for (size_t i = 0; i < n; i++)
		if (w == 0 || v[w - 1] != v[i])
			v[w++] = v[i];
	*ret = v;
	*ret_n = w;
	return 0;
}

int policy_dir_port_cuts(const struct policy_dir *d, enum policy_proto pi, uint32_t **ret,
			 size_t *ret_n)
{
	uint32_t *v;
	size_t n = 0;

	if (pi < 0 || pi >= _POLICY_PROTO_MAX)
		return -EINVAL;
	v = calloc(2 * d->n_segs[pi] + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	/* Segments are sorted and disjoint: their edges are already in order. */
	for (size_t i = 0; i < d->n_segs[pi]; i++) {
		const struct policy_seg *s = &d->segs[pi][i];
		if (n == 0 || v[n - 1] != s->lo)
			v[n++] = s->lo;
		v[n++] = (uint32_t)s->hi + 1;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

bool policy_pod_addr(const struct model_pod *p, int family, np_u128 *ret)
{
	for (uint8_t i = 0; i < p->n_ips; i++)
		if (np_addr_family(p->ips[i]) == family) {
			*ret = p->ips[i];
			return true;
		}
	return false;
}

int policy_engine_reach(struct policy_engine *e, const struct model_pod *src,
			const struct model_pod *dst, int family, uint8_t proto, uint16_t port,
			struct policy_verdict *ret)
{
	struct policy_verdict v = { 0 };
	int r;

	if (!policy_pod_addr(src, family, &v.src) || !policy_pod_addr(dst, family, &v.dst))
		return -EADDRNOTAVAIL;
	r = policy_engine_expect(e, src, &v.from);
	if (r < 0)
		return r;
	r = policy_engine_expect(e, dst, &v.to);
	if (r < 0)
		return r;
	if (src == dst) {
		/* Traffic to the pod's own address stays in its network namespace (loopback):
		 * no policy is consulted. */
		v.self = v.egress = v.ingress = v.allowed = true;
		*ret = v;
		return 0;
	}
	v.egress = policy_dir_allows(v.from->dir[NP_EGRESS], v.dst, proto, port);
	v.ingress = policy_dir_allows(v.to->dir[NP_INGRESS], v.src, proto, port);
	v.allowed = v.egress && v.ingress;
	*ret = v;
	return 0;
}
