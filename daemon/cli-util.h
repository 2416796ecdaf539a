/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"
#include "model/model.h"

/*
 * Loads every --state file into one model. Returns EXIT_OK and the model in *ret, or
 * EXIT_USAGE with the error printed when a file cannot be read or parsed at all. Objects that
 * were skipped are printed (one line each) and reported through *ret_partial: the command
 * still answers for the rest and then exits with EXIT_USAGE.
 */
int cli_load_states(char *const *files, size_t n, struct model **ret, bool *ret_partial);
/* Returns $NODE_NAME, else the host name (in buf), else NULL. */
const char *cli_default_node(char *buf, size_t size);

/* Asks the agent on socket_path for /v1/trace with the given query parameters (values NULL are
 * left out) and prints the answer (JSON as is, or a human reading). Returns an exit code. */
int cli_agent_trace(const char *socket_path, const char *const *keys, const char *const *values,
		    size_t n, bool json);
