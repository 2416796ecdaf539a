/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * npauditd's config file (daemon/config.c: key = value through libinih, then every setting's own
 * parser: durations, octal modes, numbers, uid lists, enums) on arbitrary text. Whatever is
 * accepted must leave a consistent config: settings within their documented bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	struct np_error e = { 0 };
	char buf[1200];
	char *text;
	int r;

	if (size > 1 << 16)
		return 0;
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (config_init(&c) < 0) {
		free(text);
		return 0;
	}
	r = config_load_string(&c, text, "fuzz.conf", &e);
	if (r < 0)
		(void)np_error_format(&e, buf, sizeof(buf));
	/* Values the parsers promise, whatever the file said. */
	if (c.socket_mode > 0777 || c.poll_usec < 100000 || c.full_usec < 1000000 ||
	    c.remediate_audits < 1 || c.remediate_audits > 1000 || c.remediate_daily_budget > 100 ||
	    (c.n_socket_allow_uids && !c.socket_allow_uids))
		abort();
	(void)remediate_mode_to_string(c.remediate);
	config_done(&c);
	free(text);
	return 0;
}
