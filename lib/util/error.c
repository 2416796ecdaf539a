/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static void copy(char *dst, size_t size, const char *src)
{
	if (!src)
		src = "";
	snprintf(dst, size, "%s", src);
}

int np_error_set(struct np_error *e, int r, const char *file, const char *object, const char *field,
		 unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return r;
	copy(e->file, sizeof(e->file), file);
	copy(e->object, sizeof(e->object), object);
	copy(e->field, sizeof(e->field), field);
	e->line = line;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return r;
}

const char *np_error_format(const struct np_error *e, char *buf, size_t size)
{
	size_t n = 0;

	if (size == 0)
		return buf;
	buf[0] = 0;
#define APPEND(...)                                                    \
	do {                                                           \
		if (n < size)                                          \
			n += snprintf(buf + n, size - n, __VA_ARGS__); \
	} while (0)
	if (e->file[0]) {
		APPEND("%s", e->file);
		if (e->line)
			APPEND(":%u", e->line);
		APPEND(": ");
	}
	if (e->object[0])
		APPEND("%s: ", e->object);
	if (e->field[0])
		APPEND("field '%s': ", e->field);
	APPEND("%s", e->message[0] ? e->message : "invalid input");
#undef APPEND
	return buf;
}

const char *np_strerror(int r)
{
	return strerror(r < 0 ? -r : r);
}
