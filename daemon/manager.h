/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "audit/audit.h"
#include "config.h"
#include "k8s/k8s.h"
#include "lint/lint.h"

enum {
	CHANGE_FW = 1 << 0, /* the ruleset may have changed: re-read it */
	CHANGE_MODEL = 1 << 1, /* objects changed in the API */
	CHANGE_ROUTES = 1 << 2, /* routes or links changed */
	CHANGE_FULL = 1 << 3, /* re-read everything (lost events, timer, SIGHUP) */
	CHANGE_POLL = 1 << 4, /* the poll: iptables-legacy or ipsets may have changed */
};

/* A finding the agent currently reports, with its history. */
struct tracked {
	struct audit_finding *f;
	uint64_t first_seen; /* CLOCK_REALTIME usec */
	uint64_t last_event; /* CLOCK_MONOTONIC usec of the last Kubernetes Event */
};

/* The journal rate limit of one finding id; outlives the finding, so a flapping finding is
 * limited across its appearances. */
#define JOURNAL_BURST 4
struct ratelimit {
	char id[17];
	char *pod, *kind, *direction;
	uint64_t window_start; /* CLOCK_MONOTONIC usec */
	unsigned count; /* transitions written in this window */
	unsigned suppressed; /* transitions not written in this window */
};

#define AUDIT_BUCKETS 12

struct metrics {
	uint64_t audits_total, audits_failed, audit_bucket[AUDIT_BUCKETS + 1];
	uint64_t audits_incremental; /* audits that re-ran only the checks of changed pods */
	double audit_seconds_sum;
	uint64_t classes_total;
	uint64_t fw_reads, fw_read_failures, nft_events, nft_overruns, route_events;
	uint64_t transitions_new, transitions_resolved, journal_suppressed, events_posted;
	uint64_t api_requests;
};

struct api;
struct remediation;

struct manager {
	struct config cfg;
	char *config_path;
	sd_event *event;
	struct api *api;

	/* the cluster */
	struct model *model;
	struct policy_engine *engine;
	struct k8s_client *k8s;
	sd_event_source *k8s_timer;
	VEC(struct k8s_fd {
		int fd;
		sd_event_source *source;
	})
	k8s_fds;
	unsigned synced_kinds;
	bool synced, reachable, was_reachable_reported;
	uint64_t unreachable_since; /* CLOCK_REALTIME usec, 0 when reachable */

	/* the node */
	struct ir_ruleset *rs;
	struct eval_ctx *eval;
	struct fw_rtable *rt;
	uint64_t fw_hash;
	uint64_t poll_hash; /* of the iptables-legacy and ipset part of the last full read */
	uint64_t poll_cost_nsec; /* CPU of one poll that found nothing new, smoothed; 0: none yet */
	uint64_t poll_interval_usec; /* the poll's interval now (see poll_interval()) */
	uint64_t polls; /* polls that found nothing new */
	uint64_t fw_read_at; /* CLOCK_REALTIME usec */
	int fw_error; /* last read error, 0 when the ruleset is current */
	int nft_fd, rtnl_fd;
	sd_event_source *nft_source, *rtnl_source, *poll_timer, *full_timer, *debounce;
	sd_event_source *lint_timer; /* a lint put off by LINT_INTERVAL_USEC */
	uint64_t lint_at; /* CLOCK_MONOTONIC usec of the last lint, 0 before the first */
	unsigned pending;

	/* What the ruleset changes since the last audit can touch (valid: a diff was made for
	 * every change since; else the next audit runs in full). */
	struct eval_change fw_change;
	bool fw_change_valid;

	/* the audit */
	struct audit_cache *audit_cache; /* each check's classes, for incremental audits */
	bool last_incremental;
	bool audited_full; /* a full audit after sync has run: findings are reported */
	bool ready_sent;
	bool degraded;
	char degraded_reason[512];
	uint64_t last_audit_at; /* CLOCK_REALTIME usec */
	double last_duration_ms;
	unsigned long last_classes;
	unsigned last_pods;
	struct hashmap findings; /* id -> struct tracked * (key is tracked->f->id) */
	struct hashmap ratelimits; /* id -> struct ratelimit * (key is ratelimit->id) */
	VEC(char *) notes;
	struct lint_report *lint; /* the last lint of the cluster for this node */
	struct metrics metrics;
	uint64_t started_at;
	struct remediation *rem; /* remediation (daemon/remediate.c), off by default */
};

/* Returns 0 and a new manager in *ret taking over *cfg (zeroed), or -errno (logged). */
int manager_new(struct config *cfg, const char *config_path, struct manager **ret);
/* Frees m; returns NULL. */
struct manager *manager_free(struct manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager *, manager_free);
/* Opens the socket, starts the API client, the monitors and timers. Returns 0 or -errno. */
int manager_start(struct manager *m);
/* Runs the event loop until SIGTERM/SIGINT; returns the loop's exit code. */
int manager_run(struct manager *m);
/* Schedules an audit after the debounce delay with the given CHANGE_* bits. */
void manager_schedule(struct manager *m, unsigned what);
/* Re-reads what is pending and audits now; returns 0 or -errno. */
int manager_audit_now(struct manager *m, unsigned what);

/* JSON views for the local API; each appends to out and returns 0 or -ENOMEM. */
int manager_status_json(struct manager *m, struct strbuf *out);
/* Findings filtered by pod ("ns/name"), kind and severity (NULL: any). */
int manager_findings_json(struct manager *m, const char *pod, const char *kind,
			  const char *severity, struct strbuf *out);
/* Returns -ENOENT when the pod is not on this node. */
int manager_pods_json(struct manager *m, const char *ns, const char *name, struct strbuf *out);
int manager_metrics_text(struct manager *m, struct strbuf *out);
/* Evaluates one packet through the current ruleset; returns -EINVAL with a message in *reterr for
 * bad parameters. `get` returns a query parameter or NULL. */
int manager_trace_json(struct manager *m, const char *(*get)(void *u, const char *key), void *u,
		       struct strbuf *out, struct np_error *reterr);
