/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Rules already read, by the bytes that decide their translation. CNI rulesets repeat rules a
 * great deal (Calico's mark checks and per-endpoint boilerplate: about three rules in four are
 * a copy of an earlier one but for their comment), so a reader looks a rule up here first and,
 * when an equal one was translated before, appends a copy of that translation instead of
 * decoding it again, sharing the first one's translation (ir_chain_append_shared()).
 *
 * A key is a tag (what else the translation depends on, e.g. the table a rule's set references
 * resolve in) and bytes (e.g. a rule's expression attributes, or an x_tables entry without its
 * counters and comments). Two rules with equal tags and bytes must translate alike; the reader
 * leaves out of the key only what it sets on the copy itself (comment, handle). A template
 * keeps a comment its translation made (iptables-nft's comment match).
 */

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

struct ir_rule;
struct fw_rcache;

/* Keys longer than this are not cached (such rules are rare and seldom repeat). */
#define FW_RCACHE_KEY_MAX 8192u

/* Returns 0 and a new empty cache in *ret (free with fw_rcache_free()), or -ENOMEM. */
int fw_rcache_new(struct fw_rcache **ret);
/* Frees c (not the templates); accepts NULL; returns NULL. */
struct fw_rcache *fw_rcache_free(struct fw_rcache *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fw_rcache *, fw_rcache_free);

/* Returns the hash of the key (tag, len bytes at key). */
uint64_t fw_rcache_hash(const void *tag, const void *key, size_t len);
/* Returns the template stored for the key whose hash is h (owned by its table), or NULL. */
const struct ir_rule *fw_rcache_get(const struct fw_rcache *c, uint64_t h, const void *tag,
				    const void *key, size_t len);
/* Stores tmpl (not owned: a template its table keeps, see ir_table_add_template()) for the
 * key, which must not be stored yet (its bytes are copied). Returns 0, -E2BIG for a key longer
 * than FW_RCACHE_KEY_MAX (not stored), or -ENOMEM. */
int fw_rcache_put(struct fw_rcache *c, uint64_t h, const void *tag, const void *key, size_t len,
		  const struct ir_rule *tmpl);
/* Returns the number of templates stored. */
size_t fw_rcache_size(const struct fw_rcache *c);
