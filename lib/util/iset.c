/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "iset.h"

int np_iset_add(struct np_iset *s, np_u128 lo, np_u128 hi)
{
	if (lo > hi)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		struct np_range *r = reallocarray(s->r, cap, sizeof(*r));
		if (!r)
			return -ENOMEM;
		s->r = r;
		s->cap = cap;
	}
	s->r[s->n++] = (struct np_range){ lo, hi };
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct np_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return 0;
}

void np_iset_normalize(struct np_iset *s)
{
	size_t w = 0;
	bool sorted = true;

	if (s->n < 2)
		return;
	for (size_t i = 1; i < s->n && sorted; i++)
		if (s->r[i - 1].lo > s->r[i].lo)
			sorted = false;
	if (!sorted)
		np_qsort(s->r, s->n, sizeof(*s->r), range_cmp);
	for (size_t i = 1; i < s->n; i++) {
		struct np_range *cur = &s->r[w];
		/* Merge overlapping and adjacent ranges; careful with hi == MAX. */
		if (cur->hi == NP_U128_MAX || s->r[i].lo <= cur->hi + 1) {
			if (s->r[i].hi > cur->hi)
				cur->hi = s->r[i].hi;
		} else
			s->r[++w] = s->r[i];
	}
	s->n = w + 1;
}

bool np_iset_contains(const struct np_iset *s, np_u128 v)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v < s->r[mid].lo)
			hi = mid;
		else if (v > s->r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

bool np_iset_intersects_range(const struct np_iset *s, np_u128 lo, np_u128 hi)
{
	size_t a = 0, b = s->n;

	/* first range with r.hi >= lo */
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (s->r[mid].hi < lo)
			a = mid + 1;
		else
			b = mid;
	}
	return a < s->n && s->r[a].lo <= hi;
}

bool np_iset_equal(const struct np_iset *a, const struct np_iset *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->r, b->r, a->n * sizeof(*a->r)) == 0);
}

int np_iset_copy(const struct np_iset *src, struct np_iset *ret)
{
	np_iset_clear(ret);
	for (size_t i = 0; i < src->n; i++)
		if (np_iset_add(ret, src->r[i].lo, src->r[i].hi) < 0)
			return -ENOMEM;
	return 0;
}

int np_iset_merge(struct np_iset *a, const struct np_iset *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (np_iset_add(a, b->r[i].lo, b->r[i].hi) < 0)
			return -ENOMEM;
	np_iset_normalize(a);
	return 0;
}

int np_iset_union(const struct np_iset *a, const struct np_iset *b, struct np_iset *ret)
{
	int r = np_iset_copy(a, ret);

	if (r < 0)
		return r;
	return np_iset_merge(ret, b);
}

int np_iset_intersect(const struct np_iset *a, const struct np_iset *b, struct np_iset *ret)
{
	size_t i = 0, j = 0;

	np_iset_clear(ret);
	while (i < a->n && j < b->n) {
		np_u128 lo = MAX(a->r[i].lo, b->r[j].lo);
		np_u128 hi = MIN(a->r[i].hi, b->r[j].hi);

		if (lo <= hi && np_iset_add(ret, lo, hi) < 0)
			return -ENOMEM;
		if (a->r[i].hi < b->r[j].hi)
			i++;
		else
			j++;
	}
	return 0;
}

int np_iset_subtract(const struct np_iset *a, const struct np_iset *b, struct np_iset *ret)
{
	size_t j = 0;

	np_iset_clear(ret);
	for (size_t i = 0; i < a->n; i++) {
		np_u128 lo = a->r[i].lo, hi = a->r[i].hi;
		bool done = false;

		while (j < b->n && b->r[j].hi < lo)
			j++;
		for (size_t k = j; k < b->n && b->r[k].lo <= hi; k++) {
			if (b->r[k].lo > lo && np_iset_add(ret, lo, b->r[k].lo - 1) < 0)
				return -ENOMEM;
			if (b->r[k].hi >= hi) {
				done = true;
				break;
			}
			lo = b->r[k].hi + 1;
		}
		if (!done && np_iset_add(ret, lo, hi) < 0)
			return -ENOMEM;
	}
	return 0;
}

np_u128 np_iset_count(const struct np_iset *s)
{
	np_u128 c = 0;

	for (size_t i = 0; i < s->n; i++) {
		np_u128 w = s->r[i].hi - s->r[i].lo;
		if (w == NP_U128_MAX || c + w + 1 < c)
			return NP_U128_MAX;
		c += w + 1;
	}
	return c;
}

int np_u128_cmp(const void *a, const void *b)
{
	np_u128 x = *(const np_u128 *)a, y = *(const np_u128 *)b;

	return x < y ? -1 : x > y;
}

void np_iset_clear(struct np_iset *s)
{
	s->n = 0;
}

void np_iset_done(struct np_iset *s)
{
	free(s->r);
	*s = (struct np_iset){ 0 };
}

int np_addr_family(np_u128 v)
{
	return v >= NP_V4_BASE && v <= NP_V4_LAST ? AF_INET : AF_INET6;
}

int np_addr_parse(const char *s, np_u128 *ret)
{
	struct in_addr a4;
	struct in6_addr a6;
	np_u128 v = 0;

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &a4) == 1) {
		*ret = np_v4(ntohl(a4.s_addr));
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, &a6) == 1) {
		for (int i = 0; i < 16; i++)
			v = (v << 8) | a6.s6_addr[i];
		*ret = v;
		return AF_INET6;
	}
	return -EINVAL;
}

static np_u128 prefix_mask(unsigned bits, unsigned prefix)
{
	/* mask of the low (bits - prefix) bits */
	unsigned host = bits - prefix;
	return host >= 128 ? NP_U128_MAX : (((np_u128)1) << host) - 1;
}

int np_cidr_parse(const char *s, np_u128 *ret_lo, np_u128 *ret_hi)
{
	char buf[64];
	const char *slash;
	unsigned long prefix;
	char *end;
	np_u128 v, host;
	unsigned bits;
	int fam;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash) {
		fam = np_addr_parse(s, &v);
		if (fam < 0)
			return fam;
		*ret_lo = *ret_hi = v;
		return fam;
	}
	if ((size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, slash - s);
	buf[slash - s] = 0;
	fam = np_addr_parse(buf, &v);
	if (fam < 0)
		return fam;
	if (!slash[1] || slash[1] == '-' || slash[1] == '+')
		return -EINVAL;
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (errno || *end)
		return -EINVAL;
	bits = fam == AF_INET ? 32 : 128;
	if (prefix > bits)
		return -EINVAL;
	host = prefix_mask(bits, (unsigned)prefix);
	*ret_lo = v & ~host;
	*ret_hi = (v & ~host) | host;
	return fam;
}

int np_iset_add_cidr(struct np_iset *s, int family, np_u128 addr, unsigned prefix)
{
	unsigned bits = family == AF_INET ? 32 : 128;
	np_u128 host, lo, hi;

	if (prefix > bits)
		prefix = bits;
	host = prefix_mask(bits, prefix);
	if (family == AF_INET) {
		lo = np_v4((uint32_t)(addr & ~host & 0xffffffffu));
		hi = lo | host;
		return np_iset_add(s, lo, hi);
	}
	lo = addr & ~host;
	hi = lo | host;
	if (lo <= NP_V4_BASE && hi >= NP_V4_LAST) {
		int r = 0;
		if (lo < NP_V4_BASE)
			r = np_iset_add(s, lo, NP_V4_BASE - 1);
		if (r >= 0 && hi > NP_V4_LAST)
			r = np_iset_add(s, NP_V4_LAST + 1, hi);
		return r;
	}
	return np_iset_add(s, lo, hi);
}

const char *np_addr_format(np_u128 v, char *buf, size_t size)
{
	if (np_addr_family(v) == AF_INET) {
		struct in_addr a = { .s_addr = htonl((uint32_t)v) };
		inet_ntop(AF_INET, &a, buf, size);
	} else {
		struct in6_addr a;
		for (int i = 15; i >= 0; i--) {
			a.s6_addr[i] = (uint8_t)v;
			v >>= 8;
		}
		inet_ntop(AF_INET6, &a, buf, size);
	}
	return buf;
}

int np_iset_format_cidrs(const struct np_iset *s, struct strbuf *out)
{
	char buf[64];
	bool first = true;

	for (size_t i = 0; i < s->n; i++) {
		np_u128 lo = s->r[i].lo, hi = s->r[i].hi;

		/* Emit the largest aligned block at lo that fits, until the range is covered. */
		for (;;) {
			bool v4 = np_addr_family(lo) == AF_INET && hi <= NP_V4_LAST;
			unsigned bits = v4 ? 32 : 128, host = 0;
			int r;

			while (host < bits) {
				np_u128 m = prefix_mask(bits, bits - host - 1);
				if ((lo & m) != 0 || (lo | m) > hi)
					break;
				host++;
			}
			r = strbuf_printf(out, "%s%s/%u", first ? "" : ",",
					  np_addr_format(lo, buf, sizeof(buf)), bits - host);
			if (r < 0)
				return r;
			first = false;
			np_u128 end = lo | prefix_mask(bits, bits - host);
			if (end >= hi)
				break;
			lo = end + 1;
		}
	}
	return 0;
}

int np_iset_format_numbers(const struct np_iset *s, struct strbuf *out)
{
	for (size_t i = 0; i < s->n; i++) {
		int r;
		if (s->r[i].lo == s->r[i].hi)
			r = strbuf_printf(out, "%s%llu", i ? "," : "",
					  (unsigned long long)s->r[i].lo);
		else
			r = strbuf_printf(out, "%s%llu-%llu", i ? "," : "",
					  (unsigned long long)s->r[i].lo,
					  (unsigned long long)s->r[i].hi);
		if (r < 0)
			return r;
	}
	return 0;
}
