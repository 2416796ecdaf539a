/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"

/* A growable NUL-terminated string. Zero-initialised is empty and valid. */
struct strbuf {
	char *s;
	size_t len;
	size_t cap;
	bool oom; /* an append failed; the contents are truncated */
};

/* Appends formatted text; returns 0 or -ENOMEM (and then sets sb->oom). */
int strbuf_printf(struct strbuf *sb, const char *fmt, ...) _printf_(2, 3);
/* Appends n bytes of s; returns 0 or -ENOMEM. */
int strbuf_append(struct strbuf *sb, const char *s, size_t n);
/* Appends a NUL-terminated string; returns 0 or -ENOMEM. */
int strbuf_puts(struct strbuf *sb, const char *s);
/* Appends s as a JSON string literal with quotes and escapes; returns 0 or -ENOMEM. */
int strbuf_json_string(struct strbuf *sb, const char *s);
/* Returns the contents (never NULL; "" when empty); owned by sb. */
const char *strbuf_str(const struct strbuf *sb);
/* Returns the contents and leaves sb empty; the caller frees the string. NULL on OOM. */
char *strbuf_steal(struct strbuf *sb);
/* Empties sb, keeping its allocation. */
void strbuf_reset(struct strbuf *sb);
/* Frees the contents of sb (not sb itself). */
void strbuf_done(struct strbuf *sb);

/* Appends n bytes to the byte buffer *buf of *len bytes in *cap (the caller's, freed with
 * free()), growing it from 4 KiB by doubling with one byte to spare after the data. Returns 0,
 * or -ENOMEM with the buffer unchanged. */
int np_buf_append(void **buf, size_t *len, size_t *cap, const void *data, size_t n);
