/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* npaudit: the command line. Offline commands on cluster dumps and on the live rules of the
 * current network namespace, and a client for npauditd's local socket. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_command *const groups[] = {
#ifdef HAVE_CMD_POLICY
	cli_policy_commands,
#endif
#ifdef HAVE_CMD_FW
	cli_fw_commands,
#endif
#ifdef HAVE_CMD_AUDIT
	cli_audit_commands,
#endif
#ifdef HAVE_CMD_LINT
	cli_lint_commands,
#endif
#ifdef HAVE_CMD_K8S
	cli_k8s_commands,
#endif
#ifdef HAVE_CMD_CLIENT
	cli_client_commands,
#endif
	NULL,
};

int cli_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("npaudit: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: npaudit COMMAND [OPTIONS]\n\n"
		   "Checks that a node's packet filter does what the cluster's NetworkPolicies "
		   "say.\n\n"
		   "Commands:\n");
	for (size_t g = 0; groups[g]; g++)
		for (const struct cli_command *c = groups[g]; c->name; c++)
			fprintf(f, "  %-10s %s\n  %-10s   %s\n", c->name, c->usage, "", c->help);
	fprintf(f, "\nRun 'npaudit COMMAND --help' for a command's options. See npaudit(1).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("npaudit %s\n", NPAUDIT_VERSION);
		return EXIT_OK;
	}
	for (size_t g = 0; groups[g]; g++)
		for (const struct cli_command *c = groups[g]; c->name; c++)
			if (strcmp(c->name, argv[1]) == 0)
				return c->fn(argc - 1, argv + 1);
	fprintf(stderr, "npaudit: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
