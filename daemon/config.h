/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

#define CONFIG_DEFAULT_PATH "/etc/npaudit/npauditd.conf"
#define CONFIG_DEFAULT_SOCKET "/run/npaudit/npauditd.sock"

/* What remediation does when drift rots (see docs/remediation.md). */
enum remediate_mode {
	REMEDIATE_OFF,
	REMEDIATE_DRY_RUN, /* decide and report, never act */
	REMEDIATE_RESTART_CNI, /* delete this node's CNI agent pod */
};

/* npauditd's settings: defaults, then the config file (key = value, see npauditd.conf(5)),
 * then command line flags. Every string is owned by the config. */
struct config {
	char *node;
	char *kubeconfig, *apiserver, *token_file, *ca_file;
	char *socket_path, *socket_group;
	unsigned socket_mode;
	/* socket-allow-uids: when set, only root, the agent's own uid, these uids and members of
	 * socket_group are served; anyone else who can connect gets 403. */
	uint32_t *socket_allow_uids;
	size_t n_socket_allow_uids;
	char *metrics_listen; /* "ADDR:PORT", or NULL: off */
	uint64_t poll_usec; /* iptables-legacy and ipset change check */
	/* poll-cpu-budget: the most of a core (parts per million) the poll's own checks may use
	 * on average; a check that costs more stretches the interval. 0: no limit. */
	unsigned poll_cpu_ppm;
	uint64_t full_usec; /* full re-audit safety net */
	unsigned audit_threads; /* threads for an audit's checks; 0: one per CPU */
	uint64_t debounce_usec;
	bool events; /* Kubernetes Events for new drift */
	int log_level;
	uint64_t journal_rate_usec; /* at most one transition per finding per this interval */
	char *cni_conf_dir;
	char *state_file;
	/* remediation */
	enum remediate_mode remediate;
	unsigned remediate_audits; /* consecutive complete audits with the drift */
	uint64_t remediate_after_usec; /* and for at least this long */
	uint64_t remediate_cooldown_usec; /* at most one restart per this interval */
	unsigned remediate_daily_budget; /* and at most this many per 24 hours */
	uint64_t remediate_grace_usec; /* an agent not Ready for less is restarting itself */
	/* The command line's settings as key, value pairs (NULL-terminated): they override the
	 * file, at start and again after each reload. */
	char **flags;
	size_t n_flags;
};

/* Fills c with the defaults; returns 0 or -ENOMEM. */
int config_init(struct config *c);
/* Frees the strings of c. */
void config_done(struct config *c);
/* Applies one setting; returns 0, -EINVAL (unknown key or bad value, *reterr filled) or -ENOMEM. */
int config_set(struct config *c, const char *key, const char *value, struct np_error *reterr);
/* Applies one setting from the command line and remembers it for config_apply_flags(); returns
 * as config_set(). */
int config_set_flag(struct config *c, const char *key, const char *value, struct np_error *reterr);
/* Applies the command-line settings remembered in from to c (after a reload of the file);
 * returns 0 or as config_set(). */
int config_apply_flags(struct config *c, const struct config *from, struct np_error *reterr);
/* Reads a config file into c. A missing file is not an error when `optional`. Returns 0 or a
 * negative errno with *reterr (file, line, key). */
int config_load_file(struct config *c, const char *path, bool optional, struct np_error *reterr);
/* Reads settings from a buffer in the config file's format (name is for messages). Returns 0 or
 * a negative errno with *reterr (name, line, key). */
int config_load_string(struct config *c, const char *text, const char *name,
		       struct np_error *reterr);
/* Returns "off", "dry-run" or "restart-cni". */
const char *remediate_mode_to_string(enum remediate_mode m);
/* Parses "50ms", "2s", "5min", "1h" or a number of seconds into usec; returns 0 or -EINVAL. */
int config_parse_duration(const char *s, uint64_t *ret);
