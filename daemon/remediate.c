/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Remediation: restart this node's CNI agent when its rules rot, with guards so that it can
 * never make things worse than one restart per cooldown. The state machine:
 *
 *   idle --(drift ripe, guards pass)--> deleting --(DELETE answered)--> waiting
 *   waiting --(a new Ready pod of the DaemonSet on the node)--> verifying
 *   verifying --(first full audit after the settle time)--> idle (fixed) | ineffective
 *   ineffective --(no drift in a complete audit)--> idle
 *
 * Every restart is written to the state file before the DELETE is sent, so a crash at any point
 * leaves a record that the next npauditd honours (cooldown, budget, the pending verification).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <systemd/sd-event.h>
#include <systemd/sd-journal.h>

#include "api.h"
#include "journal.h"
#include "log.h"
#include "manager.h"
#include "remediate.h"

#define USEC_PER_SEC 1000000ull
#define DAY_USEC (24 * 3600 * USEC_PER_SEC)
/* How long the DaemonSet gets to bring up a Ready agent pod after the DELETE. */
#define READY_TIMEOUT_USEC (5 * 60 * USEC_PER_SEC)
/* While the API server is away the new pod cannot be seen: look again this much later. */
#define READY_RETRY_USEC (30 * USEC_PER_SEC)
#define STATE_VERSION 1
#define MAX_RESTARTS 64 /* kept (the last 24 hours) */
#define MAX_DECISIONS 20 /* shown at /v1/status */
#define MAX_DRIFT_IDS 20 /* finding ids named in a journal entry */
/* While the state file cannot be written, try again this often. */
#define WRITE_RETRY_USEC (5 * USEC_PER_SEC)

enum rem_state {
	REM_IDLE,
	REM_DELETING,
	REM_WAITING,
	REM_VERIFYING,
	REM_INEFFECTIVE,
	_REM_STATE_MAX,
};

static const char *const state_names[_REM_STATE_MAX] = {
	[REM_IDLE] = "idle",	       [REM_DELETING] = "deleting",	  [REM_WAITING] = "waiting",
	[REM_VERIFYING] = "verifying", [REM_INEFFECTIVE] = "ineffective",
};

enum decision {
	DEC_WOULD_RESTART,
	DEC_RESTARTED,
	DEC_SKIPPED,
	DEC_FAILED,
	DEC_FIXED,
	DEC_INEFFECTIVE,
	DEC_INEFFECTIVE_RESOLVED,
	DEC_STATE_UNREADABLE,
	_DEC_MAX,
};

static const struct {
	const char *name, *msgid, *event_reason;
	int priority;
	bool warning; /* Kubernetes Event type */
} decisions[_DEC_MAX] = {
	[DEC_WOULD_RESTART] = { "would-restart", MSGID_REMEDIATION_WOULD_RESTART,
				"CNIAgentRestartDryRun", LOG_NOTICE, true },
	[DEC_RESTARTED] = { "restarted", MSGID_REMEDIATION_RESTARTED, "CNIAgentRestarted",
			    LOG_WARNING, true },
	[DEC_SKIPPED] = { "skipped", MSGID_REMEDIATION_SKIPPED, "CNIAgentRestartSkipped",
			  LOG_NOTICE, false },
	[DEC_FAILED] = { "failed", MSGID_REMEDIATION_FAILED, "CNIAgentRestartFailed", LOG_ERR,
			 true },
	[DEC_FIXED] = { "fixed", MSGID_REMEDIATION_FIXED, "CNIAgentRestartFixedDrift", LOG_NOTICE,
			false },
	[DEC_INEFFECTIVE] = { "ineffective", MSGID_REMEDIATION_INEFFECTIVE,
			      "CNIAgentRestartIneffective", LOG_ERR, true },
	[DEC_INEFFECTIVE_RESOLVED] = { "ineffective-resolved",
				       MSGID_REMEDIATION_INEFFECTIVE_RESOLVED,
				       "CNIAgentRestartIneffectiveResolved", LOG_NOTICE, false },
	[DEC_STATE_UNREADABLE] = { "state-unreadable", MSGID_REMEDIATION_STATE_UNREADABLE,
				   "RemediationStateUnreadable", LOG_WARNING, true },
};

/* One restart, done or (dry-run) simulated. */
struct restart {
	uint64_t at; /* CLOCK_REALTIME usec */
	char *pod; /* "ns/name" of the deleted agent pod; "" for an assumed one */
	char *uid;
	char *outcome; /* pending, fixed, ineffective, failed, replaced, unverified, assumed,
			  dry-run */
	bool dry; /* simulated by dry-run: never written to the state file */
};

struct decision_rec {
	uint64_t at; /* CLOCK_REALTIME usec */
	enum decision d;
	char *reason;
	char *pod;
};

/* How long a drift finding has been there. */
struct drift_age {
	char id[17];
	unsigned audits; /* consecutive complete audits */
	uint64_t since; /* CLOCK_MONOTONIC usec of its first audit */
	bool seen;
};

struct remediation {
	struct manager *m;
	enum remediate_mode mode;
	enum rem_state state;
	struct hashmap drift; /* finding id -> struct drift_age * (key is drift_age->id) */
	unsigned n_drift; /* qualifying drift findings in the last audit */
	VEC(struct restart) restarts; /* the last 24 hours, oldest first */
	char *state_error; /* why the state file could not be read at start, or NULL */
	char *write_error; /* why the state file cannot be written now (last try), or NULL */
	uint64_t write_tried; /* CLOCK_MONOTONIC usec of the last write or probe */

	/* the restart in progress (deleting, waiting, verifying) */
	char *old_pod, *old_uid; /* "ns/name" */
	char *new_pod, *new_uid;
	uint64_t deadline; /* CLOCK_MONOTONIC usec: a new Ready pod by then */
	uint64_t verify_at; /* CLOCK_MONOTONIC usec: re-audit from then on */
	bool verify_due; /* the re-audit after verify_at has been asked for */
	sd_event_source *timer;

	/* the current agent pod when it is not Ready */
	char *notready_uid;
	uint64_t notready_since; /* CLOCK_MONOTONIC usec */

	struct decision_rec dec[MAX_DECISIONS]; /* ring, dec_n entries ending before dec_next */
	size_t dec_n, dec_next;
	char last_skip[32]; /* the guard last journalled as a skip: once per episode */

	/* remediation-ineffective */
	uint64_t ineffective_since; /* CLOCK_REALTIME usec; 0 when not raised */
	char *ineffective_reason;
};

static uint64_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / 1000;
}

/* "2026-12-01T13:54:22Z" into buf (unquoted). */
static const char *iso(uint64_t usec, char *buf, size_t size)
{
	time_t t = (time_t)(usec / USEC_PER_SEC);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static int set_str(char **dst, const char *s)
{
	char *c = NULL;

	if (s && !(c = strdup(s)))
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

static void restart_done(struct restart *x)
{
	free(x->pod);
	free(x->uid);
	free(x->outcome);
}

/* ---- the state file ---- */

/* Forgets restarts older than a day (and the oldest beyond MAX_RESTARTS). */
static void restarts_prune(struct remediation *r, uint64_t now)
{
	size_t k = 0;

	for (size_t i = 0; i < r->restarts.n; i++) {
		struct restart *x = &r->restarts.items[i];
		bool keep = x->at + DAY_USEC > now && r->restarts.n - i <= MAX_RESTARTS;
		if (keep)
			r->restarts.items[k++] = *x;
		else
			restart_done(x);
	}
	r->restarts.n = k;
}

static int restarts_push(struct remediation *r, uint64_t at, const char *pod, const char *uid,
			 const char *outcome, bool dry)
{
	struct restart x = { .at = at, .dry = dry };

	x.pod = strdup(pod ? pod : "");
	x.uid = strdup(uid ? uid : "");
	x.outcome = strdup(outcome);
	if (!x.pod || !x.uid || !x.outcome || VEC_PUSH(&r->restarts, x) < 0) {
		restart_done(&x);
		return -ENOMEM;
	}
	return 0;
}

static struct restart *restarts_last_real(struct remediation *r)
{
	for (size_t i = r->restarts.n; i > 0; i--)
		if (!r->restarts.items[i - 1].dry)
			return &r->restarts.items[i - 1];
	return NULL;
}

static int set_outcome(struct restart *x, const char *outcome)
{
	return x ? set_str(&x->outcome, outcome) : 0;
}

/* mkdir -p of the directory part of path. */
static int mkdir_parents(const char *path)
{
	_cleanup_(freep) char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t k = write(fd, s, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Writes the state atomically: a temporary file in the same directory, fsync, rename, fsync of
 * the directory. Without commit, only the temporary file is written and removed again: whether
 * the state could be written now. Returns 0 or -errno. */
static int state_write(struct remediation *r, bool commit)
{
	const char *path = r->m->cfg.state_file;
	_cleanup_(freep) char *tmp = NULL, *dir = NULL, *text = NULL;
	json_t *root, *list;
	char *slash;
	int fd, e;

	if (!path)
		return -EINVAL;
	root = json_object();
	list = json_array();
	if (!root || !list) {
		json_decref(root);
		json_decref(list);
		return -ENOMEM;
	}
	json_object_set_new(root, "version", json_integer(STATE_VERSION));
	json_object_set_new(root, "node", json_string(r->m->cfg.node ? r->m->cfg.node : ""));
	json_object_set_new(root, "restarts", list);
	VEC_FOREACH (x, &r->restarts) {
		char t[64];
		if (x->dry)
			continue;
		json_array_append_new(list, json_pack("{s:s,s:I,s:s,s:s,s:s}", "at",
						      iso(x->at, t, sizeof(t)), "at_usec",
						      (json_int_t)x->at, "pod", x->pod, "uid",
						      x->uid, "outcome", x->outcome));
	}
	if (r->ineffective_since)
		json_object_set_new(root, "ineffective",
				    json_pack("{s:I,s:s}", "since_usec",
					      (json_int_t)r->ineffective_since, "reason",
					      r->ineffective_reason ? r->ineffective_reason : ""));
	else
		json_object_set_new(root, "ineffective", json_null());
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(root);
	if (!text)
		return -ENOMEM;

	e = mkdir_parents(path);
	if (e < 0)
		return e;
	/* One writer per process: the pid makes the name unique; a leftover of a crashed process
	 * that had the same pid is removed first. */
	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	e = write_all(fd, text, strlen(text));
	if (e >= 0)
		e = write_all(fd, "\n", 1);
	if (e >= 0 && fsync(fd) < 0)
		e = -errno;
	if (close(fd) < 0 && e >= 0)
		e = -errno;
	if (e >= 0 && commit && rename(tmp, path) < 0)
		e = -errno;
	if (e < 0 || !commit) {
		(void)unlink(tmp);
		return e;
	}
	/* The rename is durable once the directory is. */
	dir = strdup(path);
	if (!dir)
		return 0;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = 0;
	else if (slash)
		*slash = 0;
	else
		strcpy(dir, ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	return 0;
}

/* Writes the state (commit) or tries whether it could be written, and keeps the outcome for
 * the status: the first failure of a run of them and the recovery are logged, so a read-only
 * or full state directory is said once, and so is its end. Returns 0 or -errno. */
static int state_save_or_probe(struct remediation *r, bool commit)
{
	const char *path = r->m->cfg.state_file;
	char why[512];
	int e;

	r->write_tried = now_mono();
	e = state_write(r, commit);
	if (e < 0) {
		if (e == -ENOMEM)
			return e;
		snprintf(why, sizeof(why), "cannot write %s: %s", path ? path : "(no state file)",
			 np_strerror(e));
		if (!r->write_error)
			log_error("Remediation: %s; no CNI agent restart until the state can be "
				  "recorded (auditing goes on)",
				  why);
		(void)set_str(&r->write_error, why);
		return e;
	}
	if (r->write_error) {
		log_notice("Remediation: %s can be written again", path);
		(void)set_str(&r->write_error, NULL);
	}
	return 0;
}

static int state_save(struct remediation *r)
{
	return state_save_or_probe(r, true);
}

static void decide(struct remediation *r, enum decision d, const char *skip, const char *pod_ns,
		   const char *pod_name, const char *pod_uid, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* Parses the state file. Returns 0 (also for a missing file: nothing happened yet), or
 * -EBADMSG/-errno with a reason in buf. */
static int state_parse(struct remediation *r, char *buf, size_t size)
{
	const char *path = r->m->cfg.state_file;
	json_error_t je;
	json_t *root, *list, *inef, *v;
	size_t i;
	FILE *f;

	if (!path)
		return 0;
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		snprintf(buf, size, "cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
	fclose(f);
	if (!root) {
		snprintf(buf, size, "%s:%d: %s", path, je.line, je.text);
		return -EBADMSG;
	}
	v = json_object_get(root, "version");
	list = json_object_get(root, "restarts");
	inef = json_object_get(root, "ineffective");
	if (!json_is_integer(v) || json_integer_value(v) != STATE_VERSION || !json_is_array(list) ||
	    (inef && !json_is_null(inef) && !json_is_object(inef))) {
		snprintf(buf, size, "%s: not a version %d state (version, restarts, ineffective)",
			 path, STATE_VERSION);
		json_decref(root);
		return -EBADMSG;
	}
	json_array_foreach(list, i, v)
	{
		json_t *at = json_object_get(v, "at_usec"), *pod = json_object_get(v, "pod"),
		       *uid = json_object_get(v, "uid"), *out = json_object_get(v, "outcome");
		if (!json_is_integer(at) || json_integer_value(at) <= 0 || !json_is_string(pod) ||
		    !json_is_string(uid) || !json_is_string(out)) {
			snprintf(buf, size, "%s: restart %zu lacks at_usec, pod, uid or outcome",
				 path, i);
			json_decref(root);
			return -EBADMSG;
		}
		if (restarts_push(r, (uint64_t)json_integer_value(at), json_string_value(pod),
				  json_string_value(uid), json_string_value(out), false) < 0) {
			json_decref(root);
			return -ENOMEM;
		}
	}
	if (json_is_object(inef)) {
		json_t *since = json_object_get(inef, "since_usec"),
		       *reason = json_object_get(inef, "reason");
		if (!json_is_integer(since) || json_integer_value(since) <= 0 ||
		    !json_is_string(reason)) {
			snprintf(buf, size, "%s: ineffective lacks since_usec or reason", path);
			json_decref(root);
			return -EBADMSG;
		}
		r->ineffective_since = (uint64_t)json_integer_value(since);
		if (set_str(&r->ineffective_reason, json_string_value(reason)) < 0) {
			json_decref(root);
			return -ENOMEM;
		}
	}
	json_decref(root);
	return 0;
}

static void arm_timer(struct remediation *r, uint64_t at);

/* Loads the state; what cannot be read counts as a restart that happened just now. */
static int state_load(struct remediation *r)
{
	uint64_t now = now_real();
	struct restart *last;
	char why[512] = "";
	int e;

	e = state_parse(r, why, sizeof(why));
	if (e == -ENOMEM)
		return e;
	if (e < 0) {
		/* The safe side: a crash-looping npauditd with a damaged file must not restart
		 * the CNI on every start. */
		VEC_FOREACH (x, &r->restarts)
			restart_done(x);
		r->restarts.n = 0;
		r->ineffective_since = 0;
		if (set_str(&r->state_error, why) < 0 ||
		    restarts_push(r, now, "", "", "assumed", false) < 0)
			return -ENOMEM;
		decide(r, DEC_STATE_UNREADABLE, NULL, NULL, NULL, NULL,
		       "the remediation state cannot be read (%s): counting it as a restart that "
		       "happened just now, so the next is allowed after the cooldown",
		       why);
		return 0;
	}
	restarts_prune(r, now);
	if (r->ineffective_since) {
		r->state = REM_INEFFECTIVE;
		log_notice(
			"Remediation: a restart did not fix the drift (%s); no restarts until it "
			"is gone",
			r->ineffective_reason ? r->ineffective_reason : "");
		return 0;
	}
	last = restarts_last_real(r);
	if (last && streq(last->outcome, "pending")) {
		if (now - last->at < READY_TIMEOUT_USEC && *last->uid) {
			/* npauditd stopped between the DELETE and the verdict: go on waiting. */
			if (set_str(&r->old_pod, last->pod) < 0 ||
			    set_str(&r->old_uid, last->uid) < 0)
				return -ENOMEM;
			r->state = REM_WAITING;
			r->deadline = now_mono() + (READY_TIMEOUT_USEC - (now - last->at));
			arm_timer(r, r->deadline);
			log_notice(
				"Remediation: waiting for the agent pod that replaces %s (uid %s)",
				last->pod, last->uid);
		} else if (set_outcome(last, "unverified") < 0)
			return -ENOMEM;
	}
	return 0;
}

/* ---- reporting ---- */

static void on_event_posted(void *userdata, int result, long http_code, const char *message)
{
	if (result < 0)
		log_warning("Posting a remediation Event failed (HTTP %ld): %s", http_code,
			    message && *message ? message : np_strerror(result));
}

static void post_event(struct remediation *r, enum decision d, const char *ns, const char *name,
		       const char *uid, const char *message)
{
	const struct cni_detection *cni = r->m->lint ? r->m->lint->cni : NULL;
	const char *kind = "Pod", *api = "v1";
	char ts[64];
	json_t *ev;

	if (!r->m->k8s || !r->m->reachable)
		return; /* it could not be delivered; the journal has the decision */
	if (!name && cni && cni->has_agent && cni->agent.daemonset) {
		/* No agent pod on the node: the DaemonSet is what the Event is about. */
		kind = "DaemonSet";
		api = "apps/v1";
		ns = cni->agent.daemonset_ns;
		name = cni->agent.daemonset;
		uid = NULL;
	}
	if (!ns || !name)
		return;
	iso(now_real(), ts, sizeof(ts));
	ev = json_pack("{s:{s:s},s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s,s:s},s:s,s:s,s:i}",
		       "metadata", "generateName", "npaudit-remediation-", "involvedObject", "kind",
		       kind, "apiVersion", api, "namespace", ns, "name", name, "uid",
		       uid ? uid : "", "reason", decisions[d].event_reason, "type",
		       decisions[d].warning ? "Warning" : "Normal", "message", message, "source",
		       "component", "npauditd", "host", r->m->cfg.node, "firstTimestamp", ts,
		       "lastTimestamp", ts, "count", 1);
	if (!ev)
		return;
	if (k8s_event_post(r->m->k8s, ns, ev, on_event_posted, r) >= 0)
		r->m->metrics.events_posted++;
	json_decref(ev);
}

static unsigned restarts_today(const struct remediation *r, uint64_t now)
{
	unsigned n = 0;

	for (size_t i = 0; i < r->restarts.n; i++)
		if (r->restarts.items[i].at + DAY_USEC > now)
			n++;
	return n;
}

/* The drift findings' ids, comma-separated (at most MAX_DRIFT_IDS). */
static void drift_ids(const struct remediation *r, char *buf, size_t size)
{
	size_t n = 0, k = 0;

	buf[0] = 0;
	HASHMAP_FOREACH (e, &r->drift) {
		if (k++ >= MAX_DRIFT_IDS || n >= size)
			break;
		n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? "," : "", e->key);
	}
}

/* One decision: the journal (own MESSAGE_ID, NPAUDIT_* fields), an Event on the CNI agent pod,
 * the status' list and the stream. skip is the guard's code for DEC_SKIPPED. */
static void decide(struct remediation *r, enum decision d, const char *skip, const char *pod_ns,
		   const char *pod_name, const char *pod_uid, const char *fmt, ...)
{
	struct manager *m = r->m;
	char reason[1024], pod[512], ids[MAX_DRIFT_IDS * 18 + 1], today[16];
	struct decision_rec *rec;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	snprintf(pod, sizeof(pod), "%s%s%s", pod_ns ? pod_ns : "", pod_ns ? "/" : "",
		 pod_name ? pod_name : "");
	drift_ids(r, ids, sizeof(ids));
	snprintf(today, sizeof(today), "%u", restarts_today(r, now_real()));

	if (log_to_journal())
		sd_journal_send(
			"MESSAGE=remediation %s: %s", decisions[d].name, reason, "MESSAGE_ID=%s",
			decisions[d].msgid, "PRIORITY=%i", decisions[d].priority,
			"SYSLOG_IDENTIFIER=npauditd", "NPAUDIT_REMEDIATION=%s", decisions[d].name,
			"NPAUDIT_MODE=%s", remediate_mode_to_string(r->mode), "NPAUDIT_REASON=%s",
			reason, "NPAUDIT_SKIP=%s", skip ? skip : "", "NPAUDIT_NODE=%s", m->cfg.node,
			"NPAUDIT_CNI_POD=%s", pod, "NPAUDIT_CNI_POD_UID=%s", pod_uid ? pod_uid : "",
			"NPAUDIT_KIND=%s",
			d == DEC_INEFFECTIVE || d == DEC_INEFFECTIVE_RESOLVED
				? "remediation-ineffective"
				: "remediation",
			"NPAUDIT_TRANSITION=%s",
			d == DEC_INEFFECTIVE		? "new"
			: d == DEC_INEFFECTIVE_RESOLVED ? "resolved"
							: "",
			"NPAUDIT_DRIFT_FINDINGS=%s", ids, "NPAUDIT_RESTARTS_TODAY=%s", today, NULL);
	else
		log_full(decisions[d].priority, "remediation %s: %s", decisions[d].name, reason);

	if (d != DEC_STATE_UNREADABLE)
		post_event(r, d, pod_ns, pod_name, pod_uid, reason);

	rec = &r->dec[r->dec_next];
	free(rec->reason);
	free(rec->pod);
	*rec = (struct decision_rec){ .at = now_real(), .d = d };
	rec->reason = strdup(reason);
	rec->pod = pod[0] ? strdup(pod) : NULL;
	r->dec_next = (r->dec_next + 1) % MAX_DECISIONS;
	if (r->dec_n < MAX_DECISIONS)
		r->dec_n++;

	{
		_cleanup_(strbuf_done) struct strbuf sb = { 0 };
		if (strbuf_printf(&sb, "{\"transition\":\"remediation\",\"decision\":\"%s\",",
				  decisions[d].name) >= 0 &&
		    strbuf_puts(&sb, "\"reason\":") >= 0 && strbuf_json_string(&sb, reason) >= 0 &&
		    strbuf_puts(&sb, "}") >= 0)
			api_broadcast(m->api, strbuf_str(&sb));
	}
}

/* A guard held: journalled once until another guard holds, an action happens or the drift goes
 * away, so that an audit every few seconds does not repeat it. */
static void skip(struct remediation *r, const char *code, const struct cni_agent *a,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void skip(struct remediation *r, const char *code, const struct cni_agent *a,
		 const char *fmt, ...)
{
	char reason[900];
	va_list ap;

	if (streq(r->last_skip, code))
		return;
	snprintf(r->last_skip, sizeof(r->last_skip), "%s", code);
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	decide(r, DEC_SKIPPED, code, a ? a->ns : NULL, a ? a->name : NULL, a ? a->uid : NULL,
	       "%s%s", r->mode == REMEDIATE_DRY_RUN ? "(dry-run) " : "", reason);
}

/* ---- the timer: verification and the wait for the new pod ---- */

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct remediation *r = userdata;

	if (r->state == REM_VERIFYING)
		r->verify_due = true;
	/* A full audit re-reads the rules and ends in remediation_after_audit(). */
	manager_schedule(r->m, CHANGE_FULL);
	return 0;
}

static void arm_timer(struct remediation *r, uint64_t at)
{
	int e;

	if (!r->timer) {
		e = sd_event_add_time(r->m->event, &r->timer, CLOCK_MONOTONIC, at, 10000, on_timer,
				      r);
		if (e < 0)
			log_error_errno(e, "Remediation: cannot arm a timer, relying on the "
					   "periodic audits");
		return;
	}
	sd_event_source_set_time(r->timer, at);
	sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT);
}

/* ---- drift ---- */

static bool is_drift(enum audit_kind k)
{
	return k == AUDIT_ALLOWED_DRIFT || k == AUDIT_BLOCKED_DRIFT || k == AUDIT_UNENFORCED;
}

/* Whether f is drift on a pod of this node that NetworkPolicy governs. */
static bool finding_qualifies(struct remediation *r, const struct audit_finding *f)
{
	const char *slash = strchr(f->pod, '/');
	const struct model_pod *p;
	char ns[256];

	if (!is_drift(f->kind) || !slash || (size_t)(slash - f->pod) >= sizeof(ns))
		return false;
	memcpy(ns, f->pod, (size_t)(slash - f->pod));
	ns[slash - f->pod] = 0;
	p = model_pod_get(r->m->model, ns, slash + 1);
	return p && p->node && streq(p->node, r->m->cfg.node) &&
	       policy_pod_exempt(p) == POLICY_APPLIES;
}

/* Follows the drift findings of the last audit; returns whether one has lasted the configured
 * number of audits and time. */
static bool drift_update(struct remediation *r, uint64_t now)
{
	struct manager *m = r->m;
	bool ripe = false;

	HASHMAP_FOREACH (e, &r->drift)
		((struct drift_age *)e->value)->seen = false;
	r->n_drift = 0;
	HASHMAP_FOREACH (e, &m->findings) {
		const struct audit_finding *f = ((struct tracked *)e->value)->f;
		struct drift_age *a;

		if (!finding_qualifies(r, f))
			continue;
		r->n_drift++;
		a = hashmap_get(&r->drift, f->id);
		if (!a) {
			a = calloc(1, sizeof(*a));
			if (!a)
				continue;
			snprintf(a->id, sizeof(a->id), "%s", f->id);
			a->since = now;
			if (hashmap_put(&r->drift, a->id, a) < 0) {
				free(a);
				continue;
			}
		}
		a->audits++;
		a->seen = true;
		if (a->audits >= m->cfg.remediate_audits &&
		    now - a->since >= m->cfg.remediate_after_usec)
			ripe = true;
	}
	for (;;) {
		struct drift_age *gone = NULL;
		HASHMAP_FOREACH (e, &r->drift)
			if (!((struct drift_age *)e->value)->seen) {
				gone = e->value;
				break;
			}
		if (!gone)
			break;
		hashmap_remove(&r->drift, gone->id);
		free(gone);
	}
	return ripe;
}

static void drift_oldest(const struct remediation *r, unsigned *ret_audits, uint64_t *ret_since)
{
	*ret_audits = 0;
	*ret_since = 0;
	HASHMAP_FOREACH (e, &r->drift) {
		const struct drift_age *a = e->value;
		if (a->audits > *ret_audits)
			*ret_audits = a->audits;
		if (!*ret_since || a->since < *ret_since)
			*ret_since = a->since;
	}
}

/* Remembers since when the current agent pod is not Ready. */
static void agent_track(struct remediation *r, const struct cni_detection *cni, uint64_t now)
{
	const struct cni_agent *a = cni && cni->has_agent ? &cni->agent : NULL;

	if (!a || !a->name || !a->uid || a->ready) {
		free(r->notready_uid);
		r->notready_uid = NULL;
		return;
	}
	if (r->notready_uid && streq(r->notready_uid, a->uid))
		return;
	if (set_str(&r->notready_uid, a->uid) >= 0)
		r->notready_since = now;
}

/* ---- acting ---- */

/* When the next restart is allowed (CLOCK_REALTIME usec), 0 when now, UINT64_MAX never. */
static uint64_t next_allowed(const struct remediation *r, uint64_t now, const char **ret_why)
{
	const struct config *c = &r->m->cfg;
	uint64_t next = 0, last = 0;
	unsigned n = 0;

	*ret_why = NULL;
	for (size_t i = 0; i < r->restarts.n; i++) {
		const struct restart *x = &r->restarts.items[i];
		if (x->at > last)
			last = x->at;
		if (x->at + DAY_USEC > now)
			n++;
	}
	/* A restart "in the future" (the clock went back) counts as now. */
	if (last && now < last + c->remediate_cooldown_usec) {
		next = (last > now ? now : last) + c->remediate_cooldown_usec;
		*ret_why = "cooldown";
	}
	if (n >= c->remediate_daily_budget) {
		uint64_t b = 0;
		unsigned k = 0;
		if (c->remediate_daily_budget == 0) {
			*ret_why = "budget";
			return UINT64_MAX;
		}
		/* A slot frees when the (n - budget + 1)-th oldest restart of the window ages
		 * out (the list is in the order of the restarts). */
		for (size_t i = 0; i < r->restarts.n; i++) {
			const struct restart *x = &r->restarts.items[i];
			if (x->at + DAY_USEC > now && k++ == n - c->remediate_daily_budget)
				b = x->at + DAY_USEC;
		}
		if (b > next) {
			next = b;
			*ret_why = "budget";
		}
	}
	return next > now ? next : 0;
}

static void on_deleted(void *userdata, int result, long http_code, const char *message)
{
	struct remediation *r = userdata;
	struct restart *last = restarts_last_real(r);
	const char *slash = r->old_pod ? strchr(r->old_pod, '/') : NULL;
	_cleanup_(freep) char *ns =
		slash ? strndup(r->old_pod, (size_t)(slash - r->old_pod)) : NULL;
	const char *name = slash ? slash + 1 : r->old_pod;
	int e;

	if (r->state != REM_DELETING)
		return;
	if (result == 0) {
		decide(r, DEC_RESTARTED, NULL, ns, name, r->old_uid,
		       "deleted the CNI agent pod %s (uid %s) so that its DaemonSet recreates it; "
		       "%u drift findings on this node had persisted",
		       r->old_pod, r->old_uid, r->n_drift);
	} else if (result == -ENOENT || result == -ESTALE) {
		/* Gone or replaced since the model was read: whatever replaced it is what the
		 * verification looks at. */
		(void)set_outcome(last, "replaced");
		decide(r, DEC_FAILED, NULL, ns, name, r->old_uid,
		       "the CNI agent pod %s (uid %s) was %s before the DELETE (HTTP %ld): not "
		       "restarted by npauditd; verifying the pod that replaces it",
		       r->old_pod, r->old_uid, result == -ENOENT ? "gone" : "already replaced",
		       http_code);
	} else {
		(void)set_outcome(last, "failed");
		e = state_save(r);
		if (e < 0)
			log_error_errno(e, "Remediation: cannot write %s", r->m->cfg.state_file);
		decide(r, DEC_FAILED, NULL, ns, name, r->old_uid,
		       "deleting the CNI agent pod %s (uid %s) failed (HTTP %ld): %s; the next "
		       "attempt waits for the cooldown",
		       r->old_pod, r->old_uid, http_code,
		       message && *message ? message : np_strerror(result));
		r->state = REM_IDLE;
		r->last_skip[0] = 0;
		return;
	}
	e = state_save(r);
	if (e < 0)
		log_error_errno(e, "Remediation: cannot write %s", r->m->cfg.state_file);
	r->state = REM_WAITING;
	r->deadline = now_mono() + READY_TIMEOUT_USEC;
	arm_timer(r, r->deadline);
}

static void restart(struct remediation *r, const struct cni_detection *cni, uint64_t mono)
{
	const struct cni_agent *a = &cni->agent;
	const struct config *c = &r->m->cfg;
	char pod[512], why[512];
	unsigned audits;
	uint64_t since, now = now_real();
	int e;

	drift_oldest(r, &audits, &since);
	snprintf(pod, sizeof(pod), "%s/%s", a->ns, a->name);
	snprintf(why, sizeof(why),
		 "%u drift findings on pods %s enforces have persisted for %u audits and %llu s "
		 "(thresholds %u audits, %llu s)%s",
		 r->n_drift,
		 cni_kind_name(cni->enforcer != CNI_UNKNOWN ? cni->enforcer : cni->kind), audits,
		 (unsigned long long)((mono - since) / USEC_PER_SEC), c->remediate_audits,
		 (unsigned long long)(c->remediate_after_usec / USEC_PER_SEC),
		 a->ready ? "" : "; the agent pod is not Ready beyond the grace period");

	if (r->mode == REMEDIATE_DRY_RUN) {
		/* Simulated: cooldown and budget apply to the simulation as they would. */
		if (restarts_push(r, now, pod, a->uid, "dry-run", true) < 0)
			return;
		r->last_skip[0] = 0;
		decide(r, DEC_WOULD_RESTART, NULL, a->ns, a->name, a->uid,
		       "would delete the CNI agent pod %s (uid %s) of DaemonSet %s/%s: %s", pod,
		       a->uid, a->daemonset_ns, a->daemonset, why);
		return;
	}

	/* On disk before the DELETE leaves: a crash after it cannot lead to a second one. */
	if (restarts_push(r, now, pod, a->uid, "pending", false) < 0)
		return;
	e = state_save(r);
	if (e < 0) {
		restart_done(&r->restarts.items[--r->restarts.n]);
		skip(r, "state-file", a,
		     "cannot record the restart in %s (%s): not restarting without a record",
		     c->state_file, np_strerror(e));
		return;
	}
	if (set_str(&r->old_pod, pod) < 0 || set_str(&r->old_uid, a->uid) < 0)
		return;
	e = k8s_pod_delete(r->m->k8s, a->ns, a->name, a->uid, on_deleted, r);
	if (e < 0) {
		(void)set_outcome(restarts_last_real(r), "failed");
		(void)state_save(r);
		decide(r, DEC_FAILED, NULL, a->ns, a->name, a->uid,
		       "cannot send the DELETE of %s: %s", pod, np_strerror(e));
		return;
	}
	r->last_skip[0] = 0;
	r->state = REM_DELETING;
	log_notice("Remediation: deleting the CNI agent pod %s (uid %s): %s", pod, a->uid, why);
}

/* Drift is ripe: check every guard, then act. */
static void consider(struct remediation *r, const struct cni_detection *cni, uint64_t mono)
{
	struct manager *m = r->m;
	const struct config *c = &m->cfg;
	const struct cni_agent *a = cni && cni->has_agent && cni->agent.name ? &cni->agent : NULL;
	uint64_t now = now_real(), next;
	const char *why;
	char t[64];

	if (!m->reachable) {
		skip(r, "apiserver-unreachable", a,
		     "the API server is unreachable: the cluster state may be stale");
		return;
	}
	if (!m->synced || !m->k8s || !k8s_client_synced(m->k8s)) {
		skip(r, "not-synced", a,
		     "the informers have not synced: the cluster state is "
		     "incomplete");
		return;
	}
	if (!cni || cni->enforces != CNI_ENFORCE_YES) {
		skip(r, "cni-cannot-enforce", a,
		     "the CNI (%s) is not known to enforce NetworkPolicy: that is a lint finding "
		     "(cni-no-policy-support), not rotting rules",
		     cni ? cni_kind_name(cni->kind) : "not detected");
		return;
	}
	if (!a || !a->uid || !*a->uid) {
		skip(r, "no-agent-pod", NULL,
		     "no CNI agent pod of %s was found on node %s: there is nothing to restart",
		     cni_kind_name(cni->kind), c->node);
		return;
	}
	if (!a->ready && r->notready_uid && streq(r->notready_uid, a->uid) &&
	    mono - r->notready_since < c->remediate_grace_usec) {
		skip(r, "agent-not-ready", a,
		     "the CNI agent pod %s/%s has not been Ready for %llu s (grace %llu s): it is "
		     "restarting on its own",
		     a->ns, a->name,
		     (unsigned long long)((mono - r->notready_since) / USEC_PER_SEC),
		     (unsigned long long)(c->remediate_grace_usec / USEC_PER_SEC));
		return;
	}
	next = next_allowed(r, now, &why);
	if (next) {
		if (next == UINT64_MAX)
			skip(r, "budget", a, "the daily budget of restarts is 0");
		else if (streq(why, "cooldown"))
			skip(r, "cooldown", a,
			     "cooldown: the last restart was less than %llu s ago; next allowed at "
			     "%s",
			     (unsigned long long)(c->remediate_cooldown_usec / USEC_PER_SEC),
			     iso(next, t, sizeof(t)));
		else
			skip(r, "budget", a,
			     "the daily budget of %u restarts is used (%u in the last 24 h); next "
			     "allowed at %s",
			     c->remediate_daily_budget, restarts_today(r, now),
			     iso(next, t, sizeof(t)));
		return;
	}
	restart(r, cni, mono);
}

static void raise_ineffective(struct remediation *r, const struct cni_agent *a, const char *fmt,
			      ...) __attribute__((format(printf, 3, 4)));
static void raise_ineffective(struct remediation *r, const struct cni_agent *a, const char *fmt,
			      ...)
{
	char reason[900];
	va_list ap;
	int e;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	(void)set_outcome(restarts_last_real(r), "ineffective");
	r->ineffective_since = now_real();
	(void)set_str(&r->ineffective_reason, reason);
	r->state = REM_INEFFECTIVE;
	r->last_skip[0] = 0;
	e = state_save(r);
	if (e < 0)
		log_error_errno(e, "Remediation: cannot write %s", r->m->cfg.state_file);
	decide(r, DEC_INEFFECTIVE, NULL, a ? a->ns : NULL, a ? a->name : NULL, a ? a->uid : NULL,
	       "remediation-ineffective: %s; no further restarts until the drift is gone", reason);
}

void remediation_after_audit(struct remediation *r)
{
	struct manager *m;
	const struct cni_detection *cni;
	const struct cni_agent *a;
	uint64_t mono = now_mono();
	bool ripe;
	int e;

	if (!r || r->mode == REMEDIATE_OFF)
		return;
	m = r->m;
	cni = m->lint ? m->lint->cni : NULL;
	a = cni && cni->has_agent && cni->agent.name ? &cni->agent : NULL;
	restarts_prune(r, now_real());
	/* While the state cannot be written, see every few seconds whether it can again (space
	 * freed, the directory writable), so that the status clears without waiting for drift. */
	if (r->write_error && r->mode == REMEDIATE_RESTART_CNI &&
	    mono - r->write_tried >= WRITE_RETRY_USEC)
		(void)state_save_or_probe(r, false);
	agent_track(r, cni, mono);
	ripe = drift_update(r, mono);

	switch (r->state) {
	case REM_DELETING:
		return; /* the DELETE's answer moves on */
	case REM_WAITING:
		if (a && a->uid && r->old_uid && !streq(a->uid, r->old_uid) && a->ready) {
			(void)set_str(&r->new_pod, NULL);
			if (asprintf(&r->new_pod, "%s/%s", a->ns, a->name) < 0)
				r->new_pod = NULL;
			(void)set_str(&r->new_uid, a->uid);
			/* The new agent reprograms its rules after it reports Ready: the verdict
			 * waits as long as drift must last to count. */
			r->state = REM_VERIFYING;
			r->verify_due = false;
			r->verify_at = mono + m->cfg.remediate_after_usec;
			arm_timer(r, r->verify_at);
			log_notice(
				"Remediation: the new CNI agent pod %s (uid %s) is Ready; "
				"re-auditing in %llu s",
				r->new_pod ? r->new_pod : "?", a->uid,
				(unsigned long long)(m->cfg.remediate_after_usec / USEC_PER_SEC));
			return;
		}
		if (mono < r->deadline)
			return;
		if (!m->reachable) {
			r->deadline = mono + READY_RETRY_USEC;
			arm_timer(r, r->deadline);
			return;
		}
		raise_ineffective(r, a,
				  "no new Ready pod of the CNI agent replaced %s within %llu s of "
				  "the restart",
				  r->old_pod ? r->old_pod : "?",
				  (unsigned long long)(READY_TIMEOUT_USEC / USEC_PER_SEC));
		return;
	case REM_VERIFYING:
		/* The timer asks for a full audit at verify_at; should it be missing, the
		 * safety-net full audit after it does as well. */
		if (mono < r->verify_at ||
		    (!r->verify_due && mono < r->verify_at + m->cfg.full_usec))
			return;
		if (r->n_drift) {
			raise_ineffective(r, a,
					  "%u drift findings remain after the CNI agent pod %s was "
					  "replaced by %s",
					  r->n_drift, r->old_pod ? r->old_pod : "?",
					  r->new_pod ? r->new_pod : "?");
			return;
		}
		(void)set_outcome(restarts_last_real(r), "fixed");
		e = state_save(r);
		if (e < 0)
			log_error_errno(e, "Remediation: cannot write %s", m->cfg.state_file);
		r->state = REM_IDLE;
		r->last_skip[0] = 0;
		decide(r, DEC_FIXED, NULL, a ? a->ns : NULL, a ? a->name : NULL, a ? a->uid : NULL,
		       "the restart fixed the drift: no drift after %s was replaced by %s",
		       r->old_pod ? r->old_pod : "?", r->new_pod ? r->new_pod : "?");
		return;
	case REM_INEFFECTIVE:
		if (r->n_drift) {
			if (ripe)
				skip(r, "ineffective", a,
				     "a restart did not fix the drift (remediation-ineffective "
				     "since "
				     "the last restart): not restarting again until it is gone");
			return;
		}
		r->ineffective_since = 0;
		(void)set_str(&r->ineffective_reason, NULL);
		r->state = REM_IDLE;
		r->last_skip[0] = 0;
		e = state_save(r);
		if (e < 0)
			log_error_errno(e, "Remediation: cannot write %s", m->cfg.state_file);
		decide(r, DEC_INEFFECTIVE_RESOLVED, NULL, a ? a->ns : NULL, a ? a->name : NULL,
		       a ? a->uid : NULL,
		       "remediation-ineffective resolved: the drift is gone; restarts are allowed "
		       "again");
		return;
	case REM_IDLE:
	default:
		break;
	}
	if (!r->n_drift) {
		r->last_skip[0] = 0;
		return;
	}
	if (ripe)
		consider(r, cni, mono);
}

/* ---- life cycle and status ---- */

int remediation_new(struct manager *m, struct remediation **ret)
{
	_cleanup_(remediation_freep) struct remediation *r = calloc(1, sizeof(*r));
	int e;

	if (!r)
		return -ENOMEM;
	r->m = m;
	r->mode = m->cfg.remediate;
	if (r->mode != REMEDIATE_OFF) {
		e = state_load(r);
		if (e < 0)
			return e;
		/* Known at start, not at the first restart: whether a restart could be recorded. */
		if (r->mode == REMEDIATE_RESTART_CNI && m->cfg.state_file) {
			e = state_save_or_probe(r, false);
			if (e == -ENOMEM)
				return e;
		}
		log_info("Remediation %s: after %u audits and %llu s of drift; cooldown %llu s, "
			 "%u restarts a day, grace %llu s; state in %s",
			 remediate_mode_to_string(r->mode), m->cfg.remediate_audits,
			 (unsigned long long)(m->cfg.remediate_after_usec / USEC_PER_SEC),
			 (unsigned long long)(m->cfg.remediate_cooldown_usec / USEC_PER_SEC),
			 m->cfg.remediate_daily_budget,
			 (unsigned long long)(m->cfg.remediate_grace_usec / USEC_PER_SEC),
			 m->cfg.state_file ? m->cfg.state_file : "(none)");
	}
	*ret = TAKE_PTR(r);
	return 0;
}

struct remediation *remediation_free(struct remediation *r)
{
	if (!r)
		return NULL;
	HASHMAP_FOREACH (e, &r->drift)
		free(e->value);
	hashmap_done(&r->drift);
	VEC_FOREACH (x, &r->restarts)
		restart_done(x);
	VEC_DONE(&r->restarts);
	for (size_t i = 0; i < MAX_DECISIONS; i++) {
		free(r->dec[i].reason);
		free(r->dec[i].pod);
	}
	sd_event_source_disable_unref(r->timer);
	free(r->state_error);
	free(r->write_error);
	free(r->old_pod);
	free(r->old_uid);
	free(r->new_pod);
	free(r->new_uid);
	free(r->notready_uid);
	free(r->ineffective_reason);
	free(r);
	return NULL;
}

static int json_str(struct strbuf *out, const char *s)
{
	return s ? strbuf_json_string(out, s) : strbuf_puts(out, "null");
}

static int json_time(struct strbuf *out, uint64_t usec)
{
	char t[64];

	if (!usec)
		return strbuf_puts(out, "null");
	return strbuf_printf(out, "\"%s\"", iso(usec, t, sizeof(t)));
}

int remediation_status_json(const struct remediation *r, struct strbuf *out)
{
	const struct config *c;
	uint64_t now = now_real(), mono = now_mono(), next, since;
	const struct restart *last = NULL;
	const char *why;
	unsigned audits;
	int e;

	if (!r)
		return strbuf_puts(out, "null");
	c = &r->m->cfg;
	for (size_t i = r->restarts.n; i > 0 && !last; i--)
		last = &r->restarts.items[i - 1];
	next = next_allowed(r, now, &why);
	drift_oldest(r, &audits, &since);
	e = strbuf_printf(
		out,
		"{\"mode\":\"%s\",\"state\":\"%s\",\"thresholds\":{\"audits\":%u,\"after_s\":%.3f,"
		"\"cooldown_s\":%.3f,\"daily_budget\":%u,\"grace_s\":%.3f},\"state_file\":",
		remediate_mode_to_string(r->mode), state_names[r->state], c->remediate_audits,
		(double)c->remediate_after_usec / 1e6, (double)c->remediate_cooldown_usec / 1e6,
		c->remediate_daily_budget, (double)c->remediate_grace_usec / 1e6);
	if (e >= 0)
		e = json_str(out, c->state_file);
	if (e >= 0)
		e = strbuf_puts(out, ",\"state_file_error\":");
	if (e >= 0)
		e = json_str(out, r->state_error);
	if (e >= 0)
		e = strbuf_puts(out, ",\"state_file_write_error\":");
	if (e >= 0)
		e = json_str(out, r->write_error);
	if (e >= 0)
		e = strbuf_printf(out,
				  ",\"drift\":{\"findings\":%u,\"audits\":%u,\"for_s\":%.3f},"
				  "\"restarts_today\":%u,\"last_restart\":",
				  r->n_drift, audits, since ? (double)(mono - since) / 1e6 : 0.0,
				  restarts_today(r, now));
	if (e >= 0 && last) {
		e = strbuf_puts(out, "{\"at\":");
		if (e >= 0)
			e = json_time(out, last->at);
		if (e >= 0)
			e = strbuf_puts(out, ",\"pod\":");
		if (e >= 0)
			e = json_str(out, last->pod);
		if (e >= 0)
			e = strbuf_puts(out, ",\"uid\":");
		if (e >= 0)
			e = json_str(out, last->uid);
		if (e >= 0)
			e = strbuf_puts(out, ",\"outcome\":");
		if (e >= 0)
			e = json_str(out, last->outcome);
		if (e >= 0)
			e = strbuf_printf(out, ",\"dry_run\":%s}", last->dry ? "true" : "false");
	} else if (e >= 0)
		e = strbuf_puts(out, "null");
	if (e >= 0)
		e = strbuf_puts(out, ",\"next_allowed\":");
	if (e >= 0)
		e = next == UINT64_MAX ? strbuf_puts(out, "\"never\"")
				       : json_time(out, next ? next : now);
	if (e >= 0)
		e = strbuf_puts(out, ",\"next_allowed_reason\":");
	if (e >= 0)
		e = json_str(out, why);
	if (e >= 0)
		e = strbuf_puts(out, ",\"restart\":");
	if (e >= 0 &&
	    (r->state == REM_DELETING || r->state == REM_WAITING || r->state == REM_VERIFYING)) {
		e = strbuf_puts(out, "{\"pod\":");
		if (e >= 0)
			e = json_str(out, r->old_pod);
		if (e >= 0)
			e = strbuf_puts(out, ",\"uid\":");
		if (e >= 0)
			e = json_str(out, r->old_uid);
		if (e >= 0)
			e = strbuf_puts(out, ",\"new_pod\":");
		if (e >= 0)
			e = json_str(out, r->state == REM_VERIFYING ? r->new_pod : NULL);
		if (e >= 0)
			e = strbuf_puts(out, ",\"new_uid\":");
		if (e >= 0)
			e = json_str(out, r->state == REM_VERIFYING ? r->new_uid : NULL);
		if (e >= 0)
			e = strbuf_puts(out, "}");
	} else if (e >= 0)
		e = strbuf_puts(out, "null");
	if (e >= 0)
		e = strbuf_puts(out, ",\"finding\":");
	if (e >= 0 && r->ineffective_since) {
		e = strbuf_puts(out, "{\"kind\":\"remediation-ineffective\",\"severity\":\"error\","
				     "\"since\":");
		if (e >= 0)
			e = json_time(out, r->ineffective_since);
		if (e >= 0)
			e = strbuf_puts(out, ",\"message\":");
		if (e >= 0)
			e = json_str(out, r->ineffective_reason ? r->ineffective_reason : "");
		if (e >= 0)
			e = strbuf_puts(out, "}");
	} else if (e >= 0)
		e = strbuf_puts(out, "null");
	if (e >= 0)
		e = strbuf_puts(out, ",\"decisions\":[");
	/* Newest first. */
	for (size_t i = 0; e >= 0 && i < r->dec_n; i++) {
		const struct decision_rec *d =
			&r->dec[(r->dec_next + MAX_DECISIONS - 1 - i) % MAX_DECISIONS];
		e = strbuf_puts(out, i ? ",{\"at\":" : "{\"at\":");
		if (e >= 0)
			e = json_time(out, d->at);
		if (e >= 0)
			e = strbuf_printf(out,
					  ",\"decision\":\"%s\",\"reason\":", decisions[d->d].name);
		if (e >= 0)
			e = json_str(out, d->reason);
		if (e >= 0)
			e = strbuf_puts(out, ",\"pod\":");
		if (e >= 0)
			e = json_str(out, d->pod);
		if (e >= 0)
			e = strbuf_puts(out, "}");
	}
	if (e >= 0)
		e = strbuf_puts(out, "]}");
	return e;
}
