/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * An open-addressing hash map from NUL-terminated string keys to pointers. The map does not
 * copy keys: a key must live as long as its entry (interned strings are the usual keys).
 */
struct hashmap {
	struct hashmap_entry {
		const char *key;
		void *value;
		uint32_t hash;
	} * slots;
	size_t cap; /* power of two, or 0 */
	size_t n; /* slots in use, removed entries (tombstones) included: not the entry count */
};

/* Returns the FNV-1a hash of s. */
uint32_t np_hash_str(const char *s);
/* Returns the FNV-1a hash of n bytes at p, continuing from h (start with 2166136261u). */
uint32_t np_hash_bytes(uint32_t h, const void *p, size_t n);
/* The 64-bit FNV-1a: returns the hash of n bytes at p continuing from h (start with
 * NP_HASH64_INIT). */
#define NP_HASH64_INIT 14695981039346656037ull
uint64_t np_hash64_bytes(uint64_t h, const void *p, size_t n);
/* Returns a 64-bit hash of n bytes at p continuing from h (any start value), 16 bytes a step:
 * for change detection over megabytes (the rule and set dumps of the poll). Its values are not
 * kept anywhere, so it may change between versions; np_hash64_bytes() is the stable one. */
uint64_t np_hash64_block(uint64_t h, const void *p, size_t n);

/* Returns the entry for key (owned by the map, valid until it changes), or NULL. */
struct hashmap_entry *hashmap_find(const struct hashmap *m, const char *key);
/* Returns the value stored for key, or NULL. */
void *hashmap_get(const struct hashmap *m, const char *key);
/* Stores key -> value, replacing an existing value; returns 0 or -ENOMEM. */
int hashmap_put(struct hashmap *m, const char *key, void *value);
/* Removes key; returns the value it had, or NULL. */
void *hashmap_remove(struct hashmap *m, const char *key);
/* Returns the number of entries (m->n counts removed ones too). */
size_t hashmap_size(const struct hashmap *m);
/* Frees the table (not keys or values). */
void hashmap_done(struct hashmap *m);

/* Iterates over the entries with a value; e is a struct hashmap_entry *. */
#define HASHMAP_FOREACH(e, m)                                                                    \
	for (struct hashmap_entry *e = (m)->slots; (m)->slots && e < (m)->slots + (m)->cap; e++) \
		if (e->key && e->key != hashmap_tombstone)

extern const char hashmap_tombstone[];

/*
 * String interning: equal strings share one copy, so labels compare by pointer.
 * The pool owns the strings.
 */
struct strpool {
	struct hashmap map;
	size_t bytes; /* memory held by the strings */
};

/* Returns the pool's copy of s (owned by the pool), or NULL on OOM. */
const char *strpool_intern(struct strpool *p, const char *s);
/* Returns the pool's copy of s if present, else NULL (never allocates). */
const char *strpool_lookup(const struct strpool *p, const char *s);
/* Frees every string of the pool. */
void strpool_done(struct strpool *p);
