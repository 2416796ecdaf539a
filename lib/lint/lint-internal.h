/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "lint.h"

/* A growable list of owned strings. */
struct strv {
	char **v;
	size_t n, cap;
};

/* Appends a formatted string; returns 0 or -ENOMEM. */
int strv_printf(struct strv *s, const char *fmt, ...) _printf_(2, 3);
/* Appends a copy of str; returns 0 or -ENOMEM. */
int strv_add(struct strv *s, const char *str);
/* Returns whether s holds str. */
bool strv_contains(const struct strv *s, const char *str);
/* Frees the strings and the array. */
void strv_done(struct strv *s);
/* Frees n strings of v and v. */
void strv_free_array(char **v, size_t n);

/* Returns a new formatted string, or NULL on OOM. */
char *lint_strf(const char *fmt, ...) _printf_(1, 2);

/* Pods of daemonset d (by controller reference, or by its selector in its namespace), on node
 * when not NULL; fills *ret with a new array (caller frees) and returns the count, or -ENOMEM. */
int cni_daemonset_pods(const struct model *m, const struct model_daemonset *d, const char *node,
		       const struct model_pod ***ret);
