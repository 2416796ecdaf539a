/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <check.h>
#include <string.h>
#include <sys/socket.h>

#include "util/util.h"

static np_u128 ip(const char *s)
{
	np_u128 v;

	ck_assert_int_gt(np_addr_parse(s, &v), 0);
	return v;
}

START_TEST(iset_normalize_merges_adjacent_and_overlapping)
{
	struct np_iset s = { 0 };

	np_iset_add(&s, 10, 20);
	np_iset_add(&s, 21, 30); /* adjacent */
	np_iset_add(&s, 5, 12); /* overlapping */
	np_iset_add(&s, 40, 50);
	np_iset_add(&s, NP_U128_MAX - 1, NP_U128_MAX);
	np_iset_add(&s, NP_U128_MAX, NP_U128_MAX);
	np_iset_normalize(&s);
	ck_assert_uint_eq(s.n, 3);
	ck_assert(s.r[0].lo == 5 && s.r[0].hi == 30);
	ck_assert(s.r[1].lo == 40 && s.r[1].hi == 50);
	ck_assert(s.r[2].hi == NP_U128_MAX);
	ck_assert(np_iset_contains(&s, 5));
	ck_assert(np_iset_contains(&s, 30));
	ck_assert(!np_iset_contains(&s, 31));
	ck_assert(!np_iset_contains(&s, 4));
	ck_assert(np_iset_intersects_range(&s, 31, 40));
	ck_assert(!np_iset_intersects_range(&s, 31, 39));
	np_iset_done(&s);
}
END_TEST

START_TEST(iset_algebra)
{
	struct np_iset a = { 0 }, b = { 0 }, r = { 0 }, r2 = { 0 };

	np_iset_add(&a, 0, 100);
	np_iset_add(&b, 10, 20);
	np_iset_add(&b, 50, 200);
	np_iset_normalize(&a);
	np_iset_normalize(&b);
	ck_assert_int_eq(np_iset_subtract(&a, &b, &r), 0);
	ck_assert_uint_eq(r.n, 2);
	ck_assert(r.r[0].lo == 0 && r.r[0].hi == 9);
	ck_assert(r.r[1].lo == 21 && r.r[1].hi == 49);
	ck_assert_int_eq(np_iset_intersect(&a, &b, &r), 0);
	ck_assert_uint_eq(r.n, 2);
	ck_assert(r.r[1].lo == 50 && r.r[1].hi == 100);
	ck_assert_int_eq(np_iset_union(&a, &b, &r), 0);
	ck_assert_uint_eq(r.n, 1);
	ck_assert(r.r[0].hi == 200);
	ck_assert(np_iset_count(&r) == 201);
	ck_assert_int_eq(np_iset_copy(&r, &r2), 0);
	ck_assert(np_iset_equal(&r, &r2));
	ck_assert(!np_iset_equal(&a, &r2));
	np_iset_done(&a);
	np_iset_done(&b);
	np_iset_done(&r);
	np_iset_done(&r2);
}
END_TEST

START_TEST(cidr_parse_and_format)
{
	struct np_iset s = { 0 };
	struct strbuf sb = { 0 };
	np_u128 lo, hi;

	ck_assert_int_eq(np_cidr_parse("10.1.2.3/16", &lo, &hi), AF_INET);
	ck_assert(lo == ip("10.1.0.0") && hi == ip("10.1.255.255"));
	ck_assert_int_eq(np_cidr_parse("fd00::1/64", &lo, &hi), AF_INET6);
	ck_assert(lo == ip("fd00::") && hi == ip("fd00::ffff:ffff:ffff:ffff"));
	ck_assert_int_eq(np_cidr_parse("10.0.0.0/33", &lo, &hi), -EINVAL);
	ck_assert_int_eq(np_cidr_parse("10.0.0.0/", &lo, &hi), -EINVAL);
	ck_assert_int_eq(np_cidr_parse("10.0.0.0/-1", &lo, &hi), -EINVAL);
	ck_assert_int_eq(np_cidr_parse("banana/8", &lo, &hi), -EINVAL);
	/* 0.0.0.0/0 and ::/0 are disjoint: IPv6's whole space leaves the IPv4-mapped block out */
	ck_assert_int_eq(np_iset_add_cidr(&s, AF_INET6, 0, 0), 0);
	np_iset_normalize(&s);
	ck_assert(!np_iset_contains(&s, ip("10.0.0.1")));
	ck_assert(np_iset_contains(&s, ip("2001:db8::1")));
	np_iset_clear(&s);
	ck_assert_int_eq(np_iset_add_cidr(&s, AF_INET, ip("10.0.0.0"), 8), 0);
	ck_assert_int_eq(np_iset_add(&s, ip("192.168.0.1"), ip("192.168.0.6")), 0);
	np_iset_normalize(&s);
	ck_assert_int_eq(np_iset_format_cidrs(&s, &sb), 0);
	ck_assert_str_eq(strbuf_str(&sb),
			 "10.0.0.0/8,192.168.0.1/32,192.168.0.2/31,192.168.0.4/31,192.168.0.6/32");
	strbuf_reset(&sb);
	np_iset_clear(&s);
	np_iset_add(&s, 80, 80);
	np_iset_add(&s, 8000, 8080);
	np_iset_normalize(&s);
	ck_assert_int_eq(np_iset_format_numbers(&s, &sb), 0);
	ck_assert_str_eq(strbuf_str(&sb), "80,8000-8080");
	strbuf_done(&sb);
	np_iset_done(&s);
}
END_TEST

START_TEST(hashmap_and_pool)
{
	struct hashmap m = { 0 };
	struct strpool p = { 0 };
	char key[32];
	const char *a, *b;

	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		const char *k = strpool_intern(&p, key);
		ck_assert_int_eq(hashmap_put(&m, k, (void *)(long)(i + 1)), 0);
	}
	ck_assert_ptr_eq(hashmap_get(&m, "k500"), (void *)501L);
	ck_assert_uint_eq(hashmap_size(&m), 1000);
	ck_assert_ptr_eq(hashmap_remove(&m, "k500"), (void *)501L);
	ck_assert_ptr_null(hashmap_get(&m, "k500"));
	/* the removed entry is no entry, though its slot stays used */
	ck_assert_uint_eq(hashmap_size(&m), 999);
	ck_assert_uint_eq(m.n, 1000);
	ck_assert_int_eq(hashmap_put(&m, strpool_intern(&p, "k500"), (void *)7L), 0);
	ck_assert_ptr_eq(hashmap_get(&m, "k500"), (void *)7L);
	a = strpool_intern(&p, "same");
	b = strpool_intern(&p, "same");
	ck_assert_ptr_eq(a, b);
	ck_assert_ptr_eq(strpool_lookup(&p, "same"), a);
	ck_assert_ptr_null(strpool_lookup(&p, "other"));
	hashmap_done(&m);
	strpool_done(&p);
}
END_TEST

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

START_TEST(hash64_block_sees_every_byte)
{
	/* one bit changed anywhere, or one byte more or less, gives another hash */
	unsigned char buf[100];
	uint64_t h[100 * 8 + 100 + 1];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7);
	h[n++] = np_hash64_block(1, buf, sizeof(buf));
	ck_assert_uint_eq(np_hash64_block(1, buf, sizeof(buf)), h[0]);
	for (size_t i = 0; i < sizeof(buf); i++)
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (unsigned char)(1u << bit);
			h[n++] = np_hash64_block(1, buf, sizeof(buf));
			buf[i] ^= (unsigned char)(1u << bit);
		}
	for (size_t len = 0; len < sizeof(buf); len++)
		h[n++] = np_hash64_block(1, buf, len);
	ck_assert_uint_eq(n, sizeof(h) / sizeof(h[0]));
	qsort(h, n, sizeof(h[0]), u64_cmp);
	for (size_t i = 1; i < n; i++)
		ck_assert_uint_ne(h[i - 1], h[i]);
	/* the start value counts; zeros are not absorbed */
	memset(buf, 0, sizeof(buf));
	ck_assert_uint_ne(np_hash64_block(1, buf, 32), np_hash64_block(2, buf, 32));
	ck_assert_uint_ne(np_hash64_block(1, buf, 32), np_hash64_block(1, buf, 48));
	/* nothing to hash, from no buffer at all (an empty key) */
	ck_assert_uint_eq(np_hash64_block(1, NULL, 0), np_hash64_block(1, buf, 0));
}
END_TEST

START_TEST(buf_append_grows)
{
	char *buf = NULL, chunk[3000];
	size_t len = 0, cap = 0;

	memset(chunk, 'x', sizeof(chunk));
	ck_assert_int_eq(np_buf_append((void **)&buf, &len, &cap, "ab", 2), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(cap, 4096);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(np_buf_append((void **)&buf, &len, &cap, chunk, sizeof(chunk)), 0);
	ck_assert_uint_eq(len, 2 + 3 * sizeof(chunk));
	ck_assert_uint_eq(cap, 16384); /* doubled, with a byte to spare after the data */
	ck_assert(memcmp(buf, "abxxx", 5) == 0 && buf[len - 1] == 'x');
	ck_assert_int_eq(np_buf_append((void **)&buf, &len, &cap, NULL, 0), 0);
	ck_assert_uint_eq(len, 2 + 3 * sizeof(chunk));
	free(buf);
}
END_TEST

START_TEST(strbuf_json)
{
	struct strbuf sb = { 0 };
	struct np_error e = { 0 };
	char buf[256];

	ck_assert_int_eq(strbuf_json_string(&sb, "a\"b\\c\n\x01"), 0);
	ck_assert_str_eq(strbuf_str(&sb), "\"a\\\"b\\\\c\\n\\u0001\"");
	strbuf_done(&sb);
	ck_assert_int_eq(
		np_error_set(&e, -EINVAL, "f.json", "Pod a/b", "spec.x", 3, "bad '%s'", "v"),
		-EINVAL);
	ck_assert_str_eq(np_error_format(&e, buf, sizeof(buf)),
			 "f.json:3: Pod a/b: field 'spec.x': bad 'v'");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, iset_normalize_merges_adjacent_and_overlapping);
	tcase_add_test(tc, iset_algebra);
	tcase_add_test(tc, cidr_parse_and_format);
	tcase_add_test(tc, hashmap_and_pool);
	tcase_add_test(tc, strbuf_json);
	tcase_add_test(tc, buf_append_grows);
	tcase_add_test(tc, hash64_block_sees_every_byte);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
