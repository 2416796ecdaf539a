/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

const char hashmap_tombstone[] = "";

uint64_t np_hash64_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* The 128-bit product of a and b folded to 64 bits. */
static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t np_hash64_block(uint64_t h, const void *p, size_t n)
{
	/* Each 16-byte block is mixed on its own (the products of consecutive blocks do not wait
	 * for each other), then folded into the state by an odd multiplier, so blocks count in
	 * order. The length goes into the last step. */
	static const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull,
			      k2 = 0x8ebc6af09c88c6e3ull;
	const unsigned char *b = p;
	uint64_t w0, w1, t0 = 0, t1 = 0;
	size_t len = n;

	for (; n >= 16; b += 16, n -= 16) {
		memcpy(&w0, b, 8);
		memcpy(&w1, b + 8, 8);
		h = (h ^ fold_mul(w0 ^ k0, w1 ^ k1)) * k2;
	}
	if (n > 0) /* p may be NULL when n is 0 */
		memcpy(&t0, b, n < 8 ? n : 8);
	if (n > 8)
		memcpy(&t1, b + 8, n - 8);
	h = (h ^ fold_mul(t0 ^ k0 ^ len, t1 ^ k1)) * k2;
	return h ^ (h >> 29);
}

uint32_t np_hash_bytes(uint32_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 16777619u;
	}
	return h;
}

uint32_t np_hash_str(const char *s)
{
	return np_hash_bytes(2166136261u, s, strlen(s));
}

static struct hashmap_entry *find(const struct hashmap *m, const char *key, uint32_t h)
{
	size_t mask, i;

	if (!m->cap)
		return NULL;
	mask = m->cap - 1;
	for (i = h & mask;; i = (i + 1) & mask) {
		struct hashmap_entry *e = &m->slots[i];

		if (!e->key)
			return NULL;
		if (e->key != hashmap_tombstone && e->hash == h && strcmp(e->key, key) == 0)
			return e;
	}
}

static int grow(struct hashmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	struct hashmap_entry *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct hashmap_entry *e = &m->slots[i];
		size_t j;

		if (!e->key || e->key == hashmap_tombstone)
			continue;
		for (j = e->hash & (ncap - 1); ns[j].key; j = (j + 1) & (ncap - 1))
			;
		ns[j] = *e;
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

struct hashmap_entry *hashmap_find(const struct hashmap *m, const char *key)
{
	return find(m, key, np_hash_str(key));
}

void *hashmap_get(const struct hashmap *m, const char *key)
{
	struct hashmap_entry *e = find(m, key, np_hash_str(key));

	return e ? e->value : NULL;
}

int hashmap_put(struct hashmap *m, const char *key, void *value)
{
	uint32_t h = np_hash_str(key);
	struct hashmap_entry *e = find(m, key, h);
	size_t i, mask;

	if (e) {
		e->value = value;
		return 0;
	}
	/* Tombstones count toward the load so that probing always ends at an empty slot. */
	if ((m->n + 1) * 4 >= m->cap * 3) {
		int r = grow(m);
		if (r < 0)
			return r;
	}
	mask = m->cap - 1;
	for (i = h & mask; m->slots[i].key && m->slots[i].key != hashmap_tombstone;
	     i = (i + 1) & mask)
		;
	if (!m->slots[i].key)
		m->n++;
	m->slots[i] = (struct hashmap_entry){ .key = key, .value = value, .hash = h };
	return 0;
}

size_t hashmap_size(const struct hashmap *m)
{
	size_t n = 0;

	HASHMAP_FOREACH (e, m)
		n++;
	return n;
}

void *hashmap_remove(struct hashmap *m, const char *key)
{
	struct hashmap_entry *e = find(m, key, np_hash_str(key));
	void *v;

	if (!e)
		return NULL;
	v = e->value;
	e->key = hashmap_tombstone;
	e->value = NULL;
	return v;
}

void hashmap_done(struct hashmap *m)
{
	free(m->slots);
	*m = (struct hashmap){ 0 };
}

const char *strpool_lookup(const struct strpool *p, const char *s)
{
	return hashmap_get(&p->map, s);
}

const char *strpool_intern(struct strpool *p, const char *s)
{
	char *c = hashmap_get(&p->map, s);
	size_t len;

	if (c)
		return c;
	len = strlen(s);
	c = malloc(len + 1);
	if (!c)
		return NULL;
	memcpy(c, s, len + 1);
	if (hashmap_put(&p->map, c, c) < 0) {
		free(c);
		return NULL;
	}
	p->bytes += len + 1;
	return c;
}

void strpool_done(struct strpool *p)
{
	HASHMAP_FOREACH (e, &p->map)
		free(e->value);
	hashmap_done(&p->map);
	p->bytes = 0;
}
