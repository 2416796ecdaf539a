/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <syslog.h>

/*
 * Logging of the daemon: to the journal with fields when journald runs (its socket exists),
 * else to stderr. lib/ never logs; the daemon logs once where it handles an error.
 */

/* Sets the highest priority that is logged (LOG_DEBUG .. LOG_ERR). */
void log_set_max_level(int level);
/* Returns the level for "debug", "info", "notice", "warning", "err"/"error", or -EINVAL. */
int log_level_from_string(const char *s);
/* Forces the target: true journal, false stderr (tests). */
void log_set_journal(bool journal);
/* Returns whether messages go to the journal. */
bool log_to_journal(void);

void log_full(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs with ": %m"-style error text for -r appended by the caller via np_strerror(). Returns r. */
int log_full_errno(int priority, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(LOG_WARNING, r, __VA_ARGS__)
#define log_error_errno(r, ...) log_full_errno(LOG_ERR, r, __VA_ARGS__)
