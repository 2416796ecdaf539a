/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "util/util.h"

/*
 * Guarded remediation of rotting CNI rules (off by default; docs/remediation.md): when drift on
 * pods the CNI should enforce persists for several complete audits and some time, delete this
 * node's CNI agent pod with a uid precondition so that its DaemonSet recreates it, wait for the
 * new pod to be Ready, re-audit and report whether the restart fixed the drift. Guards: the API
 * server reachable and the informers synced, the agent not already restarting on its own, one
 * restart per cooldown and a daily budget, kept on disk across restarts of npauditd, and no more
 * restarts after one that did not help (remediation-ineffective) until the drift is gone.
 */

struct manager;
struct remediation;

/* Returns 0 and a new remediation for m in *ret (free with remediation_free()), or -ENOMEM.
 * When a mode is on, loads the state file; an unreadable or corrupt one is logged and counted
 * as a restart that just happened. m is borrowed and must outlive the remediation. */
int remediation_new(struct manager *m, struct remediation **ret);
/* Frees r; returns NULL. */
struct remediation *remediation_free(struct remediation *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct remediation *, remediation_free);
/* Called after every complete audit, with m->findings and m->lint current: follows the drift,
 * decides and acts. Errors are logged; a NULL r is ignored. */
void remediation_after_audit(struct remediation *r);
/* Appends the "remediation" object of /v1/status (null for a NULL r); returns 0 or -ENOMEM. */
int remediation_status_json(const struct remediation *r, struct strbuf *out);
