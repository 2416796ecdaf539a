/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"
#include "util/util.h"

static int max_level = LOG_INFO;
static int journal = -1; /* -1: decide on first use */

void log_set_max_level(int level)
{
	max_level = level;
}

int log_level_from_string(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{ "debug", LOG_DEBUG },	    { "info", LOG_INFO }, { "notice", LOG_NOTICE },
		{ "warning", LOG_WARNING }, { "err", LOG_ERR },	  { "error", LOG_ERR },
	};
	for (size_t i = 0; i < ELEMENTSOF(levels); i++)
		if (streq(s, levels[i].name))
			return levels[i].level;
	return -EINVAL;
}

void log_set_journal(bool j)
{
	journal = j;
}

bool log_to_journal(void)
{
	if (journal < 0)
		journal = access("/run/systemd/journal/socket", W_OK) == 0;
	return journal;
}

static void log_va(int priority, const char *suffix, const char *fmt, va_list ap)
{
	char msg[2048];

	if (priority > max_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_to_journal()) {
		sd_journal_send("MESSAGE=%s%s", msg, suffix ? suffix : "", "PRIORITY=%i", priority,
				"SYSLOG_IDENTIFIER=npauditd", NULL);
		return;
	}
	fprintf(stderr, "npauditd: %s%s\n", msg, suffix ? suffix : "");
}

void log_full(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(priority, NULL, fmt, ap);
	va_end(ap);
}

int log_full_errno(int priority, int r, const char *fmt, ...)
{
	char suffix[256];
	va_list ap;

	snprintf(suffix, sizeof(suffix), ": %s", strerror(r < 0 ? -r : r));
	va_start(ap, fmt);
	log_va(priority, suffix, fmt, ap);
	va_end(ap);
	return r;
}
