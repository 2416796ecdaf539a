/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the npaudit commands. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli-util.h"

int cli_load_states(char *const *files, size_t n, struct model **ret, bool *ret_partial)
{
	_cleanup_(model_freep) struct model *m = NULL;
	const struct np_error *diags;
	size_t n_diags;
	char buf[1200];
	int r;

	if (n == 0)
		return cli_fail(
			"--state FILE is required (a kubectl -o json/yaml dump, - for stdin)");
	if (model_new(&m) < 0)
		return cli_fail("out of memory");
	for (size_t i = 0; i < n; i++) {
		struct np_error err = { 0 };

		r = model_load_file(m, files[i], &err);
		if (r < 0) {
			if (err.message[0])
				return cli_fail("%s", np_error_format(&err, buf, sizeof(buf)));
			return cli_fail("%s: %s", files[i], np_strerror(r));
		}
	}
	diags = model_diagnostics(m, &n_diags);
	for (size_t i = 0; i < n_diags; i++)
		fprintf(stderr, "npaudit: skipped: %s\n",
			np_error_format(&diags[i], buf, sizeof(buf)));
	*ret_partial = n_diags > 0;
	*ret = TAKE_PTR(m);
	return EXIT_OK;
}

const char *cli_default_node(char *buf, size_t size)
{
	const char *env = getenv("NODE_NAME");

	if (env && *env)
		return env;
	if (gethostname(buf, size) < 0)
		return NULL;
	buf[size - 1] = 0;
	return buf;
}
