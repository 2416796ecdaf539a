/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdio.h>

/* Exit codes of every npaudit command. */
enum {
	EXIT_OK = 0,
	EXIT_FINDINGS = 1, /* audit/lint: findings reported */
	EXIT_USAGE = 2, /* usage or input error, with a message on stderr */
};

/* A command: argv[0] is the command name; returns an exit code. */
typedef int (*cli_command_fn)(int argc, char **argv);

struct cli_command {
	const char *name;
	cli_command_fn fn;
	const char *usage; /* one line: arguments */
	const char *help; /* one line: what it does */
};

/* Prints "npaudit: " + message to stderr; returns EXIT_USAGE. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Command groups, each in its own cmd-*.c, each exporting a NULL-terminated table. */
extern const struct cli_command cli_policy_commands[];
extern const struct cli_command cli_fw_commands[];
extern const struct cli_command cli_audit_commands[];
extern const struct cli_command cli_lint_commands[];
extern const struct cli_command cli_k8s_commands[];
extern const struct cli_command cli_client_commands[];
