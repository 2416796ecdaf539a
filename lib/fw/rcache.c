/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rule cache: an open-addressing table (linear probing, at most half full) of entries with
 * the key's hash, tag and bytes and the template rule (kept by its IR table).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "rcache.h"
#include "util/hashmap.h"

struct rc_entry {
	uint64_t hash;
	const void *tag;
	size_t len;
	uint8_t *key;
	const struct ir_rule *tmpl;
};

/* Key bytes are kept in chunks freed with the cache. */
struct rc_chunk {
	struct rc_chunk *next;
	size_t size, used;
	uint8_t data[];
};

struct fw_rcache {
	struct rc_entry *slots; /* tmpl NULL: free */
	size_t cap; /* power of two, or 0 */
	size_t n;
	struct rc_chunk *keys;
};

#define RC_CHUNK (64u * 1024u)

/* Returns room for len key bytes, or NULL. */
static uint8_t *key_room(struct fw_rcache *c, size_t len)
{
	struct rc_chunk *k = c->keys;

	if (!k || k->size - k->used < len) {
		size_t size = MAX((size_t)RC_CHUNK, len);

		k = malloc(sizeof(*k) + size);
		if (!k)
			return NULL;
		k->next = c->keys;
		k->size = size;
		k->used = 0;
		c->keys = k;
	}
	k->used += len;
	return k->data + k->used - len;
}

int fw_rcache_new(struct fw_rcache **ret)
{
	struct fw_rcache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	*ret = c;
	return 0;
}

struct fw_rcache *fw_rcache_free(struct fw_rcache *c)
{
	if (!c)
		return NULL;
	while (c->keys) {
		struct rc_chunk *next = c->keys->next;

		free(c->keys);
		c->keys = next;
	}
	free(c->slots);
	free(c);
	return NULL;
}

size_t fw_rcache_size(const struct fw_rcache *c)
{
	return c->n;
}

uint64_t fw_rcache_hash(const void *tag, const void *key, size_t len)
{
	uint64_t h = np_hash64_block((uint64_t)(uintptr_t)tag * 0x9e3779b97f4a7c15ull, key, len);

	/* a final mix (murmur3's) so that the low bits index well */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

const struct ir_rule *fw_rcache_get(const struct fw_rcache *c, uint64_t h, const void *tag,
				    const void *key, size_t len)
{
	if (c->cap == 0)
		return NULL;
	for (size_t i = h & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
		const struct rc_entry *e = &c->slots[i];

		if (!e->tmpl)
			return NULL;
		if (e->hash == h && e->tag == tag && e->len == len &&
		    (len == 0 || memcmp(e->key, key, len) == 0))
			return e->tmpl;
	}
}

static void slot_insert(struct rc_entry *slots, size_t cap, const struct rc_entry *e)
{
	size_t i = e->hash & (cap - 1);

	while (slots[i].tmpl)
		i = (i + 1) & (cap - 1);
	slots[i] = *e;
}

static int grow(struct fw_rcache *c)
{
	size_t cap = c->cap ? c->cap * 2 : 256;
	struct rc_entry *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].tmpl)
			slot_insert(slots, cap, &c->slots[i]);
	free(c->slots);
	c->slots = slots;
	c->cap = cap;
	return 0;
}

int fw_rcache_put(struct fw_rcache *c, uint64_t h, const void *tag, const void *key, size_t len,
		  const struct ir_rule *tmpl)
{
	struct rc_entry e = { .hash = h, .tag = tag, .len = len, .tmpl = tmpl };

	if (len > FW_RCACHE_KEY_MAX)
		return -E2BIG;
	if ((c->n + 1) * 2 > c->cap && grow(c) < 0)
		return -ENOMEM;
	e.key = key_room(c, len);
	if (!e.key)
		return -ENOMEM;
	if (len > 0)
		memcpy(e.key, key, len);
	slot_insert(c->slots, c->cap, &e);
	c->n++;
	return 0;
}
