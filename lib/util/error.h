/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "cleanup.h"

/*
 * Detail about outside input that was wrong. Functions that parse input take an optional
 * struct np_error *reterr and fill it when they return -EINVAL/-EBADMSG: the file (or stream),
 * the object it was about ("pod default/web-0"), the field, and a sentence with the value.
 */
struct np_error {
	char file[256];
	char object[256];
	char field[128];
	unsigned line; /* 0 when unknown */
	char message[512];
};

/* Fills e (if not NULL) and returns r, which must be negative: `return np_error_set(e, -EINVAL,
 * ...)`. */
int np_error_set(struct np_error *e, int r, const char *file, const char *object, const char *field,
		 unsigned line, const char *fmt, ...) _printf_(7, 8);

/* Returns a static-free formatted description of e in buf (always NUL-terminated); returns buf. */
const char *np_error_format(const struct np_error *e, char *buf, size_t size);

/* Returns the strerror() text of a negative errno value r. */
const char *np_strerror(int r);
