/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/*
 * Sets of unsigned 128-bit values as sorted, disjoint, non-adjacent inclusive ranges.
 * Used for addresses (IPv4 lives at ::ffff:0:0/96, so one set holds both families), ports,
 * protocols and marks. A set is canonical after np_iset_normalize(): two equal sets are then
 * equal element by element (np_iset_equal, memcmp of the ranges).
 */
typedef unsigned __int128 np_u128;

struct np_range {
	np_u128 lo, hi; /* inclusive */
};

struct np_iset {
	struct np_range *r;
	size_t n, cap;
};

#define NP_U128_MAX (~(np_u128)0)
#define NP_V4_BASE (((np_u128)0xffff) << 32)
#define NP_V4_LAST (NP_V4_BASE | 0xffffffffu)

/* Appends [lo, hi] without normalising; returns 0 or -ENOMEM. Call np_iset_normalize() after. */
int np_iset_add(struct np_iset *s, np_u128 lo, np_u128 hi);
/* Sorts and merges s into canonical form; never fails. */
void np_iset_normalize(struct np_iset *s);
/* Returns whether v is in the canonical set s (binary search). */
bool np_iset_contains(const struct np_iset *s, np_u128 v);
/* Returns whether s intersects [lo, hi]. */
bool np_iset_intersects_range(const struct np_iset *s, np_u128 lo, np_u128 hi);
/* Returns whether two canonical sets are equal. */
bool np_iset_equal(const struct np_iset *a, const struct np_iset *b);
/* Sets *ret (initialised, emptied first) to a ∪ b, a ∩ b, or a \ b; returns 0 or -ENOMEM. */
int np_iset_union(const struct np_iset *a, const struct np_iset *b, struct np_iset *ret);
int np_iset_intersect(const struct np_iset *a, const struct np_iset *b, struct np_iset *ret);
int np_iset_subtract(const struct np_iset *a, const struct np_iset *b, struct np_iset *ret);
/* Copies src into *ret (emptied first); returns 0 or -ENOMEM. */
int np_iset_copy(const struct np_iset *src, struct np_iset *ret);
/* Adds every element of b to a and normalises; returns 0 or -ENOMEM. */
int np_iset_merge(struct np_iset *a, const struct np_iset *b);
/* Returns the number of values in s, saturating at NP_U128_MAX. */
np_u128 np_iset_count(const struct np_iset *s);
/* qsort() comparator of np_u128 values; returns -1, 0 or 1. */
int np_u128_cmp(const void *a, const void *b);
/* Empties s, keeping the allocation. */
void np_iset_clear(struct np_iset *s);
/* Frees the ranges of s. */
void np_iset_done(struct np_iset *s);

/* --- addresses --- */

/* Parses an IPv4 or IPv6 address into *ret (IPv4 mapped); returns AF_INET/AF_INET6 or -EINVAL. */
int np_addr_parse(const char *s, np_u128 *ret);
/* Parses "addr/prefix" (or a bare address) into the range it covers; host bits are masked.
 * Returns AF_INET/AF_INET6 or -EINVAL. An IPv6 range never includes the IPv4-mapped block. */
int np_cidr_parse(const char *s, np_u128 *ret_lo, np_u128 *ret_hi);
/* Adds a CIDR given as family, host-order value and prefix; returns 0 or -ENOMEM. IPv6 CIDRs
 * covering ::ffff:0:0/96 leave that block out, so 0.0.0.0/0 and ::/0 are disjoint. */
int np_iset_add_cidr(struct np_iset *s, int family, np_u128 addr, unsigned prefix);
/* Returns AF_INET if v is an IPv4-mapped value, else AF_INET6. */
int np_addr_family(np_u128 v);
/* Formats an address ("10.0.0.1", "fd00::1") into buf (at least 46 bytes); returns buf. */
const char *np_addr_format(np_u128 v, char *buf, size_t size);
/* Appends the addresses of s as a comma-separated list of minimal CIDRs; returns 0 or -ENOMEM. */
int np_iset_format_cidrs(const struct np_iset *s, struct strbuf *out);
/* Appends s as ports/numbers "80,8000-8080"; returns 0 or -ENOMEM. */
int np_iset_format_numbers(const struct np_iset *s, struct strbuf *out);

/* IPv4 value (host order) to mapped and back. */
static inline np_u128 np_v4(uint32_t a)
{
	return NP_V4_BASE | a;
}
