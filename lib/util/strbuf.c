/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

static int strbuf_reserve(struct strbuf *sb, size_t extra)
{
	size_t need, cap;
	char *n;

	if (sb->len + extra + 1 <= sb->cap)
		return 0;
	need = sb->len + extra + 1;
	cap = sb->cap ? sb->cap : 64;
	while (cap < need)
		cap *= 2;
	n = realloc(sb->s, cap);
	if (!n) {
		sb->oom = true;
		return -ENOMEM;
	}
	sb->s = n;
	sb->cap = cap;
	return 0;
}

int strbuf_append(struct strbuf *sb, const char *s, size_t n)
{
	if (strbuf_reserve(sb, n) < 0)
		return -ENOMEM;
	memcpy(sb->s + sb->len, s, n);
	sb->len += n;
	sb->s[sb->len] = 0;
	return 0;
}

int strbuf_puts(struct strbuf *sb, const char *s)
{
	return strbuf_append(sb, s, strlen(s));
}

int strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (strbuf_reserve(sb, (size_t)n) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
	return 0;
}

int strbuf_json_string(struct strbuf *sb, const char *s)
{
	int r = strbuf_puts(sb, "\"");

	for (const unsigned char *p = (const unsigned char *)s; r >= 0 && *p; p++) {
		switch (*p) {
		case '"':
			r = strbuf_puts(sb, "\\\"");
			break;
		case '\\':
			r = strbuf_puts(sb, "\\\\");
			break;
		case '\n':
			r = strbuf_puts(sb, "\\n");
			break;
		case '\t':
			r = strbuf_puts(sb, "\\t");
			break;
		case '\r':
			r = strbuf_puts(sb, "\\r");
			break;
		default:
			if (*p < 0x20)
				r = strbuf_printf(sb, "\\u%04x", *p);
			else
				r = strbuf_append(sb, (const char *)p, 1);
		}
	}
	if (r >= 0)
		r = strbuf_puts(sb, "\"");
	return r;
}

const char *strbuf_str(const struct strbuf *sb)
{
	return sb->s ? sb->s : "";
}

char *strbuf_steal(struct strbuf *sb)
{
	char *s = sb->s;

	if (!s)
		s = strdup("");
	*sb = (struct strbuf){ 0 };
	return s;
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->s)
		sb->s[0] = 0;
	sb->oom = false;
}

void strbuf_done(struct strbuf *sb)
{
	free(sb->s);
	*sb = (struct strbuf){ 0 };
}

int np_buf_append(void **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 4096;
		void *b;

		while (c < *len + n + 1)
			c *= 2;
		b = realloc(*buf, c);
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = c;
	}
	if (n)
		memcpy((char *)*buf + *len, data, n);
	*len += n;
	return 0;
}
