/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * npauditd's manager: owns the sd-event loop and everything it drives — the API client's curl
 * multi handle, the nftables and rtnetlink monitors, the poll of iptables-legacy and ipsets
 * (they send no events), the debounce and safety-net timers — and turns audits into
 * transitions (new/resolved) for the journal, the local API's stream and Kubernetes Events.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "api.h"
#include "fw/fw.h"
#include "journal.h"
#include "log.h"
#include "manager.h"
#include "remediate.h"

static uint64_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t thread_cpu_nsec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* The poll's interval: poll-interval, or longer when one check (smoothed) costs more CPU than
 * poll-cpu-budget allows at that rate, but never more than ten times poll-interval. */
static uint64_t poll_interval(const struct manager *m)
{
	uint64_t base = m->cfg.poll_usec, need;

	if (!m->cfg.poll_cpu_ppm || !m->poll_cost_nsec)
		return base;
	need = m->poll_cost_nsec * 1000 / m->cfg.poll_cpu_ppm; /* usec */
	return need < base ? base : need > 10 * base ? 10 * base : need;
}

/* Counts the CPU of one poll that found nothing new and sets the interval from it. */
static void poll_account(struct manager *m, uint64_t cpu_nsec)
{
	uint64_t was = m->poll_interval_usec ? m->poll_interval_usec : m->cfg.poll_usec, now;

	m->polls++;
	m->poll_cost_nsec = m->poll_cost_nsec ? (3 * m->poll_cost_nsec + cpu_nsec) / 4 : cpu_nsec;
	now = poll_interval(m);
	m->poll_interval_usec = now;
	/* say so when the interval moves by more than a quarter, not on every wobble */
	if (now * 4 > was * 5 || now * 5 < was * 4)
		log_info("A check of iptables-legacy and ipsets costs %.1f ms of CPU: checking "
			 "every "
			 "%.1f s (poll-interval %.1f s, poll-cpu-budget %.2f%%)",
			 m->poll_cost_nsec / 1e6, now / 1e6, m->cfg.poll_usec / 1e6,
			 m->cfg.poll_cpu_ppm / 1e4);
}

static void notify_status(struct manager *m)
{
	char buf[512];

	if (!m->synced)
		snprintf(buf, sizeof(buf), "STATUS=Waiting for the API server (%s)",
			 m->reachable ? "listing" : "unreachable");
	else if (m->degraded)
		snprintf(buf, sizeof(buf), "STATUS=Degraded: %s", m->degraded_reason);
	else
		snprintf(buf, sizeof(buf), "STATUS=%u findings on %u pods; last audit %.1f ms%s",
			 (unsigned)hashmap_size(&m->findings), m->last_pods, m->last_duration_ms,
			 m->reachable ? ""
				      : "; API server unreachable, using the last known state");
	sd_notify(0, buf);
}

static void set_degraded(struct manager *m, const char *reason);

/* ---- the API client in the event loop ---- */

static int on_k8s_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct manager *m = userdata;
	unsigned ev = 0;
	int r;

	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		ev |= K8S_IO_IN;
	if (revents & EPOLLOUT)
		ev |= K8S_IO_OUT;
	r = k8s_client_on_io(m->k8s, fd, ev);
	if (r < 0)
		log_error_errno(r, "API client failed on fd %d, going on", fd);
	return 0;
}

static int k8s_loop_io(void *userdata, int fd, unsigned events)
{
	struct manager *m = userdata;
	uint32_t ep = (events & K8S_IO_IN ? EPOLLIN : 0) | (events & K8S_IO_OUT ? EPOLLOUT : 0);

	for (size_t i = 0; i < m->k8s_fds.n; i++) {
		struct k8s_fd *x = &m->k8s_fds.items[i];
		if (x->fd != fd)
			continue;
		if (events == 0) {
			sd_event_source_disable_unref(x->source);
			m->k8s_fds.items[i] = m->k8s_fds.items[--m->k8s_fds.n];
			return 0;
		}
		return sd_event_source_set_io_events(x->source, ep);
	}
	if (events == 0)
		return 0;
	{
		struct k8s_fd x = { .fd = fd };
		int r = sd_event_add_io(m->event, &x.source, fd, ep, on_k8s_io, m);
		if (r < 0)
			return r;
		if (VEC_PUSH(&m->k8s_fds, x) < 0) {
			sd_event_source_disable_unref(x.source);
			return -ENOMEM;
		}
	}
	return 0;
}

static int on_k8s_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	int r = k8s_client_on_timer(m->k8s);

	if (r < 0)
		log_error_errno(r, "API client timer failed, going on");
	return 0;
}

static int k8s_loop_timer(void *userdata, uint64_t usec)
{
	struct manager *m = userdata;

	if (usec == UINT64_MAX)
		return m->k8s_timer ? sd_event_source_set_enabled(m->k8s_timer, SD_EVENT_OFF) : 0;
	if (!m->k8s_timer)
		return sd_event_add_time(m->event, &m->k8s_timer, CLOCK_MONOTONIC, usec, 1000,
					 on_k8s_timer, m);
	sd_event_source_set_time(m->k8s_timer, usec);
	return sd_event_source_set_enabled(m->k8s_timer, SD_EVENT_ONESHOT);
}

static const struct k8s_loop k8s_loop = { .io = k8s_loop_io, .timer = k8s_loop_timer };

static void on_k8s_object(void *userdata, enum model_kind kind, enum k8s_event event, json_t *obj)
{
	struct manager *m = userdata;

	if (m->synced)
		manager_schedule(m, CHANGE_MODEL);
}

static void on_k8s_synced(void *userdata, enum model_kind kind)
{
	struct manager *m = userdata;

	m->synced_kinds |= 1u << kind;
	m->synced = k8s_client_synced(m->k8s);
	log_info("%s listed%s", k8s_resource_get(kind)->kind,
		 m->synced ? "; every resource is synced" : "");
	if (m->synced)
		manager_schedule(m, CHANGE_FULL);
	notify_status(m);
}

static void on_k8s_reachable(void *userdata, bool reachable)
{
	struct manager *m = userdata;

	if (reachable == m->reachable)
		return;
	m->reachable = reachable;
	m->unreachable_since = reachable ? 0 : now_real();
	if (reachable && !m->was_reachable_reported) {
		/* The first contact is no transition. */
		m->was_reachable_reported = true;
		log_info("Connected to the API server");
		notify_status(m);
		return;
	}
	m->was_reachable_reported = true;
	if (log_to_journal())
		sd_journal_send(
			"MESSAGE=%s",
			reachable ? "API server reachable again"
				  : "API server unreachable; auditing against the last known state",
			"MESSAGE_ID=%s",
			reachable ? MSGID_APISERVER_REGAINED : MSGID_APISERVER_LOST, "PRIORITY=%i",
			reachable ? LOG_NOTICE : LOG_WARNING, "SYSLOG_IDENTIFIER=npauditd",
			"NPAUDIT_NODE=%s", m->cfg.node, NULL);
	else
		log_full(reachable ? LOG_NOTICE : LOG_WARNING, "%s",
			 reachable
				 ? "API server reachable again"
				 : "API server unreachable; auditing against the last known state");
	api_broadcast(m->api, reachable ? "{\"transition\":\"apiserver-regained\"}"
					: "{\"transition\":\"apiserver-lost\"}");
	notify_status(m);
}

static void on_k8s_log(void *userdata, int priority, const char *message)
{
	log_full(priority, "API client: %s", message);
}

static const struct k8s_callbacks k8s_cb = {
	.object = on_k8s_object,
	.synced = on_k8s_synced,
	.reachable = on_k8s_reachable,
	.log = on_k8s_log,
};

/* ---- the node's rules and routes ---- */

/* Reads the ruleset; returns 1 if it differs from the current one (then it is installed), 0
 * if equal, or -errno (the current one stays, marked stale). */
static int fw_refresh(struct manager *m)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
	uint64_t h, poll_hash;
	int r;

	m->metrics.fw_reads++;
	/* What the poll compares with (only while the nftables monitor runs), taken before the
	 * read: a change between the two makes the next poll read again rather than be missed.
	 * 0 (never a fingerprint): read again. */
	if (!m->nft_source || fw_legacy_fingerprint(&poll_hash) < 0)
		poll_hash = 0;
	r = fw_read_all(NULL, &rs, NULL);
	if (r < 0) {
		m->metrics.fw_read_failures++;
		m->fw_error = r;
		return r;
	}
	m->fw_error = 0;
	m->fw_read_at = now_real();
	m->poll_hash = poll_hash;
	h = eval_ruleset_hash(rs);
	if (h && h == m->fw_hash && m->eval)
		return 0;
	r = eval_prepare(rs, &ctx);
	if (r < 0) {
		m->fw_error = r;
		return r;
	}
	/* What the change can touch, for an incremental audit: one diff per audit (a second
	 * change before the audit ran makes the audit a full one). */
	if (m->eval && m->audited_full && !m->fw_change_valid && !m->fw_change.all &&
	    !m->fw_change.ifnames) {
		r = eval_changed_interfaces(m->eval, ctx, &m->fw_change);
		if (r < 0) {
			log_warning_errno(r, "Failed to compare the rulesets, auditing in full");
			eval_change_done(&m->fw_change);
		} else
			m->fw_change_valid = true;
	} else {
		eval_change_done(&m->fw_change);
		m->fw_change_valid = false;
		m->fw_change.all = true; /* until the next audit */
	}
	eval_ctx_free(m->eval);
	ir_ruleset_free(m->rs);
	m->eval = TAKE_PTR(ctx);
	m->rs = TAKE_PTR(rs);
	m->fw_hash = h;
	return 1;
}

static int routes_refresh(struct manager *m)
{
	struct fw_rtable *rt;
	int r = fw_rtable_read(&rt);

	if (r < 0)
		return r;
	fw_rtable_free(m->rt);
	m->rt = rt;
	return 0;
}

static int drain(int fd, bool *overrun)
{
	char buf[65536];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == ENOBUFS) {
				*overrun = true;
				continue;
			}
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
	}
}

static int on_nft_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct manager *m = userdata;
	bool overrun = false;
	int r = drain(fd, &overrun);

	m->metrics.nft_events++;
	log_debug("nftables changed");
	if (overrun) {
		/* Events were lost: nothing is known about what changed, so re-read all. */
		m->metrics.nft_overruns++;
		log_warning("Lost nftables events (socket buffer overrun), re-reading everything");
	}
	if (r < 0)
		log_warning_errno(r, "nftables monitor read failed, re-reading everything");
	manager_schedule(m, overrun || r < 0 ? CHANGE_FULL : CHANGE_FW);
	return 0;
}

static int on_rtnl_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct manager *m = userdata;
	bool overrun = false;
	int r = drain(fd, &overrun);

	m->metrics.route_events++;
	manager_schedule(m, (overrun || r < 0 ? CHANGE_FULL : 0) | CHANGE_ROUTES);
	return 0;
}

static int open_monitor(int proto, const unsigned *groups, size_t n)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int size = 4 * 1024 * 1024;

	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i],
			       sizeof(groups[i])) < 0)
			goto fail;
	return fd;
fail : {
	int r = -errno;
	close(fd);
	return r;
}
}

static void ratelimit_flush(struct manager *m);

static int on_poll(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;

	/* iptables-legacy and ipsets send no events: compare them with the last poll's, and
	 * re-read everything when they changed (native nftables changes come from the monitor). */
	manager_schedule(m, CHANGE_POLL);
	ratelimit_flush(m);
	sd_event_source_set_time_relative(s, poll_interval(m));
	sd_event_source_set_enabled(s, SD_EVENT_ON);
	return 0;
}

static int on_full(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;

	manager_schedule(m, CHANGE_FULL);
	sd_event_source_set_time_relative(s, m->cfg.full_usec);
	sd_event_source_set_enabled(s, SD_EVENT_ON);
	return 0;
}

static int on_debounce(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;
	unsigned what = m->pending;

	m->pending = 0;
	log_debug("Audit for changes 0x%x", what);
	(void)manager_audit_now(m, what);
	return 0;
}

void manager_schedule(struct manager *m, unsigned what)
{
	m->pending |= what;
	if (!m->debounce) {
		int r = sd_event_add_time_relative(m->event, &m->debounce, CLOCK_MONOTONIC,
						   m->cfg.debounce_usec, 1000, on_debounce, m);
		if (r < 0)
			log_error_errno(r, "Failed to schedule an audit, ignoring");
		return;
	}
	if (sd_event_source_get_enabled(m->debounce, NULL) > 0)
		return; /* already pending: the changes fold into that audit */
	sd_event_source_set_time_relative(m->debounce, m->cfg.debounce_usec);
	sd_event_source_set_enabled(m->debounce, SD_EVENT_ONESHOT);
}

/* ---- transitions ---- */

static const char *msgid_of(enum audit_kind k)
{
	switch (k) {
	case AUDIT_ALLOWED_DRIFT:
		return MSGID_ALLOWED_DRIFT;
	case AUDIT_BLOCKED_DRIFT:
		return MSGID_BLOCKED_DRIFT;
	case AUDIT_UNENFORCED:
		return MSGID_UNENFORCED;
	case AUDIT_UNVERIFIABLE:
		return MSGID_UNVERIFIABLE;
	case AUDIT_NO_ROUTE:
	default:
		return MSGID_NO_ROUTE;
	}
}

static int severity_priority(enum audit_severity s)
{
	switch (s) {
	case AUDIT_CRITICAL:
		return LOG_CRIT;
	case AUDIT_ERROR:
		return LOG_ERR;
	case AUDIT_WARNING:
		return LOG_WARNING;
	case AUDIT_INFO:
	default:
		return LOG_INFO;
	}
}

static void example_text(const struct audit_finding *f, char *buf, size_t size)
{
	char src[64], dst[64];

	np_addr_format(f->example.src, src, sizeof(src));
	np_addr_format(f->example.dst, dst, sizeof(dst));
	if (f->kind == AUDIT_NO_ROUTE)
		snprintf(buf, size, "%s", dst);
	else
		snprintf(buf, size, "%s %s:%u -> %s:%u iif %s oif %s",
			 f->proto == IPPROTO_TCP   ? "tcp"
			 : f->proto == IPPROTO_UDP ? "udp"
						   : "sctp",
			 src, f->example.sport, dst, f->example.dport, f->example.iif,
			 f->example.oif);
}

static void policies_text(const struct audit_finding *f, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < f->policies.n && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? "," : "",
				      f->policies.items[i]);
}

static struct ratelimit *ratelimit_free(struct ratelimit *rl)
{
	if (rl) {
		free(rl->pod);
		free(rl->kind);
		free(rl->direction);
		free(rl);
	}
	return NULL;
}

/* Returns whether a transition of f may be written now (at most JOURNAL_BURST per finding per
 * journal-rate-limit interval), counting it either way; *ret_suppressed says how many were
 * held back before it. */
static bool ratelimit_pass(struct manager *m, const struct audit_finding *f,
			   unsigned *ret_suppressed)
{
	struct ratelimit *rl = hashmap_get(&m->ratelimits, f->id);
	uint64_t now = now_mono();

	*ret_suppressed = 0;
	if (!m->cfg.journal_rate_usec)
		return true;
	if (!rl) {
		rl = calloc(1, sizeof(*rl));
		if (!rl)
			return true;
		snprintf(rl->id, sizeof(rl->id), "%s", f->id);
		rl->pod = strdup(f->pod);
		rl->kind = strdup(audit_kind_to_string(f->kind));
		rl->direction = strdup(f->dir == NP_INGRESS ? "ingress" : "egress");
		rl->window_start = now;
		if (!rl->pod || !rl->kind || !rl->direction ||
		    hashmap_put(&m->ratelimits, rl->id, rl) < 0) {
			ratelimit_free(rl);
			return true;
		}
	}
	if (now - rl->window_start >= m->cfg.journal_rate_usec) {
		rl->window_start = now;
		rl->count = 0;
	}
	if (rl->count >= JOURNAL_BURST) {
		rl->suppressed++;
		m->metrics.journal_suppressed++;
		return false;
	}
	rl->count++;
	*ret_suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}

/* Writes one transition to the journal (or stderr), rate-limited per finding. */
static void journal_transition(struct manager *m, struct tracked *t, bool resolved)
{
	const struct audit_finding *f = t->f;
	char example[256], policies[1024], msg[2048];
	unsigned suppressed;

	if (!ratelimit_pass(m, f, &suppressed))
		return;
	example_text(f, example, sizeof(example));
	policies_text(f, policies, sizeof(policies));
	snprintf(msg, sizeof(msg), "%s%s %s %s: %s.", resolved ? "resolved: " : "",
		 audit_kind_to_string(f->kind), f->pod, f->dir == NP_INGRESS ? "ingress" : "egress",
		 f->message);
	if (suppressed) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n,
			 " (%u earlier transitions of this finding were not "
			 "logged: it is flapping)",
			 suppressed);
	}
	if (log_to_journal()) {
		char supp[32];
		snprintf(supp, sizeof(supp), "%u", suppressed);
		sd_journal_send("MESSAGE=%s", msg, "MESSAGE_ID=%s",
				resolved ? MSGID_RESOLVED : msgid_of(f->kind), "PRIORITY=%i",
				resolved ? LOG_NOTICE : severity_priority(f->severity),
				"SYSLOG_IDENTIFIER=npauditd", "NPAUDIT_TRANSITION=%s",
				resolved ? "resolved" : "new", "NPAUDIT_FINDING_ID=%s", f->id,
				"NPAUDIT_KIND=%s", audit_kind_to_string(f->kind),
				"NPAUDIT_SEVERITY=%s", audit_severity_to_string(f->severity),
				"NPAUDIT_NODE=%s", m->cfg.node, "NPAUDIT_POD=%s", f->pod,
				"NPAUDIT_DIRECTION=%s", f->dir == NP_INGRESS ? "ingress" : "egress",
				"NPAUDIT_PEER_POD=%s", f->peer_pod ? f->peer_pod : "",
				"NPAUDIT_POLICIES=%s", policies, "NPAUDIT_EXAMPLE=%s", example,
				"NPAUDIT_RULE=%s", f->rule_text ? f->rule_text : "",
				"NPAUDIT_SUPPRESSED=%s", supp, NULL);
	} else
		fprintf(stderr, "npauditd: %s [%s] example: %s; rule: %s\n", msg, f->id, example,
			f->rule_text ? f->rule_text : "-");
}

/* After a window in which a finding's transitions were held back, one entry says where it
 * stands now, so the journal's last word on every finding is right. */
static void ratelimit_flush(struct manager *m)
{
	uint64_t now = now_mono();

	for (;;) {
		struct ratelimit *done = NULL;

		HASHMAP_FOREACH (e, &m->ratelimits) {
			struct ratelimit *rl = e->value;
			if (now - rl->window_start >= m->cfg.journal_rate_usec) {
				done = rl;
				break;
			}
		}
		if (!done)
			return;
		if (done->suppressed) {
			bool present = hashmap_get(&m->findings, done->id) != NULL;
			char msg[1024];

			snprintf(msg, sizeof(msg),
				 "%s %s %s flapped: %u transitions were not logged; it is now %s",
				 done->kind, done->pod, done->direction, done->suppressed,
				 present ? "present" : "resolved");
			if (log_to_journal())
				sd_journal_send(
					"MESSAGE=%s", msg, "MESSAGE_ID=%s",
					present ? MSGID_FLAPPING : MSGID_RESOLVED, "PRIORITY=%i",
					LOG_WARNING, "SYSLOG_IDENTIFIER=npauditd",
					"NPAUDIT_TRANSITION=%s", present ? "flapping" : "resolved",
					"NPAUDIT_FINDING_ID=%s", done->id, "NPAUDIT_KIND=%s",
					done->kind, "NPAUDIT_POD=%s", done->pod,
					"NPAUDIT_DIRECTION=%s", done->direction,
					"NPAUDIT_SUPPRESSED=%u", done->suppressed, NULL);
			else
				fprintf(stderr, "npauditd: %s [%s]\n", msg, done->id);
		}
		hashmap_remove(&m->ratelimits, done->id);
		ratelimit_free(done);
	}
}

static void on_event_posted(void *userdata, int result, long http_code, const char *message)
{
	if (result < 0)
		log_warning("Posting a Kubernetes Event failed (HTTP %ld): %s", http_code,
			    message ? message : np_strerror(result));
}

static void post_event(struct manager *m, struct tracked *t)
{
	const struct audit_finding *f = t->f;
	const char *slash = strchr(f->pod, '/');
	_cleanup_(freep) char *ns = NULL;
	const struct model_pod *p;
	char example[256], ts[64], uid[MODEL_UID_BUF];
	time_t now = time(NULL);
	struct tm tm;
	json_t *ev;

	if (!m->cfg.events || !m->k8s || !slash || f->kind == AUDIT_UNVERIFIABLE)
		return;
	/* At most one Event per finding every 10 minutes: a flapping rule must not flood etcd. */
	if (t->last_event && now_mono() - t->last_event < 600 * 1000000ull)
		return;
	ns = strndup(f->pod, (size_t)(slash - f->pod));
	if (!ns)
		return;
	p = model_pod_get(m->model, ns, slash + 1);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	example_text(f, example, sizeof(example));
	ev = json_pack("{s:{s:s},s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s,s:s},s:s,s:s,s:i}",
		       "metadata", "generateName", "npaudit-", "involvedObject", "kind", "Pod",
		       "apiVersion", "v1", "namespace", ns, "name", slash + 1, "uid",
		       p ? model_pod_uid(p, uid) : "", "reason", "NetworkPolicyDrift", "type",
		       "Warning", "message", f->message, "source", "component", "npauditd", "host",
		       m->cfg.node, "firstTimestamp", ts, "lastTimestamp", ts, "count", 1);
	if (!ev)
		return;
	{
		char full[1024];
		snprintf(full, sizeof(full), "%s. Example: %s. Finding %s.", f->message, example,
			 f->id);
		json_object_set_new(ev, "message", json_string(full));
	}
	if (k8s_event_post(m->k8s, ns, ev, on_event_posted, m) >= 0) {
		t->last_event = now_mono();
		m->metrics.events_posted++;
	}
	json_decref(ev);
}

static void broadcast_transition(struct manager *m, const struct audit_finding *f, bool resolved)
{
	_cleanup_(strbuf_done) struct strbuf sb = { 0 };

	if (strbuf_printf(&sb, "{\"transition\":\"%s\",\"finding\":",
			  resolved ? "resolved" : "new") < 0 ||
	    audit_finding_json(f, &sb) < 0 || strbuf_puts(&sb, "}") < 0)
		return;
	api_broadcast(m->api, strbuf_str(&sb));
}

static struct tracked *tracked_free(struct tracked *t)
{
	if (t) {
		audit_finding_free(t->f);
		free(t);
	}
	return NULL;
}

/* Replaces the findings of the pods the report covers (all when pod is NULL) and reports what
 * changed. Takes the report's findings. */
static int apply_report(struct manager *m, struct audit_report *rep, const char *pod)
{
	struct hashmap seen = { 0 };
	bool report = m->audited_full;

	/* New findings. */
	for (size_t i = 0; i < rep->findings.n; i++) {
		struct audit_finding *f = rep->findings.items[i];
		struct tracked *t = hashmap_get(&m->findings, f->id);

		if (t) {
			/* Same drift: keep its history, take the fresh details (the map's key is
			 * the finding's id, so it moves to the new finding). */
			struct hashmap_entry *e = hashmap_find(&m->findings, f->id);
			audit_finding_free(t->f);
			t->f = f;
			e->key = f->id;
		} else {
			t = calloc(1, sizeof(*t));
			if (!t) {
				hashmap_done(&seen);
				return -ENOMEM;
			}
			t->f = f;
			t->first_seen = now_real();
			if (hashmap_put(&m->findings, f->id, t) < 0) {
				t->f = NULL;
				tracked_free(t);
				hashmap_done(&seen);
				return -ENOMEM;
			}
			if (report) {
				m->metrics.transitions_new++;
				journal_transition(m, t, false);
				broadcast_transition(m, f, false);
				if (f->kind != AUDIT_UNVERIFIABLE)
					post_event(m, t);
			}
		}
		rep->findings.items[i] = NULL;
		(void)hashmap_put(&seen, t->f->id, t);
	}
	rep->findings.n = 0;

	/* Resolved findings: gone from a report that covered them. */
	for (;;) {
		struct tracked *gone = NULL;
		HASHMAP_FOREACH (e, &m->findings) {
			struct tracked *t = e->value;
			if (hashmap_get(&seen, e->key))
				continue;
			if (pod && !streq(t->f->pod, pod) &&
			    !(t->f->peer_pod && streq(t->f->peer_pod, pod)))
				continue;
			gone = t;
			break;
		}
		if (!gone)
			break;
		hashmap_remove(&m->findings, gone->f->id);
		if (report) {
			m->metrics.transitions_resolved++;
			journal_transition(m, gone, true);
			broadcast_transition(m, gone->f, true);
		}
		tracked_free(gone);
	}
	hashmap_done(&seen);
	return 0;
}

static void set_degraded(struct manager *m, const char *reason)
{
	if (reason) {
		bool was = m->degraded;
		snprintf(m->degraded_reason, sizeof(m->degraded_reason), "%s", reason);
		m->degraded = true;
		if (!was) {
			if (log_to_journal())
				sd_journal_send("MESSAGE=npauditd degraded: %s", reason,
						"MESSAGE_ID=%s", MSGID_DEGRADED, "PRIORITY=%i",
						LOG_ERR, "SYSLOG_IDENTIFIER=npauditd",
						"NPAUDIT_NODE=%s", m->cfg.node, NULL);
			else
				log_error("degraded: %s", reason);
			api_broadcast(m->api, "{\"transition\":\"degraded\"}");
		}
	} else if (m->degraded) {
		m->degraded = false;
		m->degraded_reason[0] = 0;
		if (log_to_journal())
			sd_journal_send("MESSAGE=npauditd recovered: audits are complete again",
					"MESSAGE_ID=%s", MSGID_RECOVERED, "PRIORITY=%i", LOG_NOTICE,
					"SYSLOG_IDENTIFIER=npauditd", "NPAUDIT_NODE=%s",
					m->cfg.node, NULL);
		else
			log_notice("recovered: audits are complete again");
		api_broadcast(m->api, "{\"transition\":\"recovered\"}");
	}
}

static void run_lint(struct manager *m);

/* Lints the cluster at most every LINT_INTERVAL_USEC: a lint reads every policy against its
 * namespace's pods, which under pod churn (an audit per debounce) would cost more than the
 * incremental audits. A lint put off runs from a timer, so the last state is always linted. */
#define LINT_INTERVAL_USEC (5 * 1000000ull)

static int on_lint_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct manager *m = userdata;

	sd_event_source_set_enabled(s, SD_EVENT_OFF);
	if (m->audited_full && !m->degraded) {
		run_lint(m);
		m->lint_at = now_mono();
		notify_status(m);
	}
	return 0;
}

static void lint_after_audit(struct manager *m)
{
	uint64_t now = now_mono();
	int r;

	if (!m->lint_at || now - m->lint_at >= LINT_INTERVAL_USEC || !m->event) {
		run_lint(m);
		m->lint_at = now;
		if (m->lint_timer)
			sd_event_source_set_enabled(m->lint_timer, SD_EVENT_OFF);
		return;
	}
	if (m->lint_timer) {
		int on = SD_EVENT_OFF;

		if (sd_event_source_get_enabled(m->lint_timer, &on) >= 0 && on != SD_EVENT_OFF)
			return; /* already put off */
		r = sd_event_source_set_time(m->lint_timer, m->lint_at + LINT_INTERVAL_USEC);
		if (r >= 0)
			r = sd_event_source_set_enabled(m->lint_timer, SD_EVENT_ONESHOT);
	} else
		r = sd_event_add_time(m->event, &m->lint_timer, CLOCK_MONOTONIC,
				      m->lint_at + LINT_INTERVAL_USEC, 0, on_lint_timer, m);
	if (r < 0) {
		/* no timer: lint now rather than never */
		run_lint(m);
		m->lint_at = now;
	}
}

static void observe_duration(struct manager *m, double ms)
{
	static const double bounds_ms[AUDIT_BUCKETS] = { 1,   2.5, 5,	10,   25,   50,
							 100, 250, 500, 1000, 2500, 10000 };
	size_t i;

	for (i = 0; i < AUDIT_BUCKETS && ms > bounds_ms[i]; i++)
		;
	m->metrics.audit_bucket[i]++;
	m->metrics.audit_seconds_sum += ms / 1000.0;
}

/* The poll: a fingerprint of iptables-legacy and the ipsets, compared with the one taken
 * before the last full read (native nftables changes arrive as events while the monitor
 * runs). Returns 1 when they may differ, 0 when not. */
static int poll_legacy(struct manager *m)
{
	uint64_t h;
	int r = fw_legacy_fingerprint(&h);

	if (r < 0) {
		log_debug("Failed to fingerprint iptables-legacy and ipsets (%s), reading all",
			  np_strerror(r));
		return 1;
	}
	return h != m->poll_hash;
}

int manager_audit_now(struct manager *m, unsigned what)
{
	_cleanup_(audit_report_freep) struct audit_report *rep = NULL;
	char reason[512];
	/* a poll alone: its CPU counts against poll-cpu-budget when it finds nothing new */
	uint64_t poll_t0 = what == CHANGE_POLL ? thread_cpu_nsec() : 0;
	int r;

	if (what & CHANGE_POLL) {
		/* Only a poll, the nftables monitor running and a ruleset already read: read the
		 * sources without events alone, and everything only when they changed. */
		if (!(what & ~CHANGE_POLL) && m->nft_source && m->eval && !m->fw_error &&
		    m->audited_full) {
			r = poll_legacy(m);
			if (r == 0) {
				poll_account(m, thread_cpu_nsec() - poll_t0);
				return 0;
			}
		}
		what = (what & ~CHANGE_POLL) | CHANGE_FW;
	}

	if (what & (CHANGE_ROUTES | CHANGE_FULL) || !m->rt) {
		r = routes_refresh(m);
		if (r < 0) {
			snprintf(reason, sizeof(reason), "cannot read the routing tables: %s",
				 np_strerror(r));
			set_degraded(m, reason);
			return r;
		}
	}
	if (what & (CHANGE_FW | CHANGE_FULL) || !m->eval) {
		r = fw_refresh(m);
		if (r < 0) {
			/* The findings stay as they were: they are not confirmed, and "clean" would
			 * be a lie. The status and the journal say the audit is stale. */
			snprintf(reason, sizeof(reason), "cannot read the packet filter: %s",
				 np_strerror(r));
			set_degraded(m, reason);
			return r;
		}
		if (r == 0 && !(what & (CHANGE_MODEL | CHANGE_ROUTES | CHANGE_FULL)) &&
		    m->audited_full) {
			if (poll_t0) /* a poll without the nftables monitor: a full read */
				poll_account(m, thread_cpu_nsec() - poll_t0);
			return 0; /* the poll found nothing new */
		}
	}
	if (!m->synced)
		return 0; /* findings need the cluster's state */
	{
		struct audit_env env = { .model = m->model,
					 .engine = m->engine,
					 .node = m->cfg.node,
					 .eval = m->eval,
					 .routes = m->rt };
		/* Unless the ruleset change reaches any packet (or the safety net asks for a full
		 * audit): re-run only the checks of the pods the ruleset change can touch and of
		 * those whose expectation changed. The audit falls back to a full one when the
		 * node's pods, addresses or routes differ from its cache's. */
		struct audit_options o = {
			.cache = m->audit_cache,
			.incremental =
				!(what & CHANGE_FULL) && m->audited_full && !m->fw_change.all,
			.changed_ifaces = (const char *const *)m->fw_change.ifnames,
			.n_changed_ifaces = m->fw_change.n,
			.threads = m->cfg.audit_threads,
		};

		r = audit_run(&env, &o, &rep);
		eval_change_done(&m->fw_change);
		m->fw_change_valid = false;
	}
	m->metrics.audits_total++;
	if (r < 0) {
		m->metrics.audits_failed++;
		snprintf(reason, sizeof(reason), "audit failed: %s", np_strerror(r));
		set_degraded(m, reason);
		return r;
	}
	m->last_audit_at = now_real();
	m->last_incremental = rep->incremental;
	/* A full audit allocates and frees tens of MiB in small pieces; give the freed pages back
	 * so that the agent's RSS reflects what it holds (months of uptime). */
	if (!rep->incremental)
		malloc_trim(0);
	if (rep->incremental) {
		m->metrics.audits_incremental++;
		log_debug("Incremental audit: %u pods re-audited, %lu checks reused, %.1f ms",
			  rep->pods_audited, rep->checks_reused, rep->duration_ms);
	}
	m->last_duration_ms = rep->duration_ms;
	m->last_classes = rep->classes_evaluated;
	m->last_pods = rep->pods_audited;
	m->metrics.classes_total += rep->classes_evaluated;
	observe_duration(m, rep->duration_ms);
	VEC_FOREACH (n, &m->notes)
		free(*n);
	VEC_DONE(&m->notes);
	/* Take the report's notes. */
	m->notes.items = rep->notes.items;
	m->notes.n = rep->notes.n;
	m->notes.cap = rep->notes.cap;
	rep->notes.items = NULL;
	rep->notes.n = rep->notes.cap = 0;
	{
		/* No pod on this node at all is most likely a wrong node name: say so rather than
		 * let an empty audit read as a clean node. */
		const struct model_pod *const *pods;
		char *n = NULL;

		if (model_pods_on_node(m->model, m->cfg.node, &pods) == 0 &&
		    asprintf(&n,
			     "the API server lists no pod on node '%s': is the node name right "
			     "(--node, $NODE_NAME)?",
			     m->cfg.node) >= 0 &&
		    VEC_PUSH(&m->notes, n) < 0)
			free(n);
	}
	r = apply_report(m, rep, NULL);
	if (r < 0)
		return log_error_errno(r, "Failed to record the audit's findings");
	if (!m->audited_full) {
		/* The first complete audit: report what it found, then tell systemd we are ready.
		 */
		m->audited_full = true;
		HASHMAP_FOREACH (e, &m->findings) {
			struct tracked *t = e->value;
			m->metrics.transitions_new++;
			journal_transition(m, t, false);
			broadcast_transition(m, t->f, false);
			if (t->f->kind != AUDIT_UNVERIFIABLE)
				post_event(m, t);
		}
		log_info("First audit complete: %u pods, %lu classes, %zu findings, %.1f ms",
			 m->last_pods, m->last_classes, hashmap_size(&m->findings),
			 m->last_duration_ms);
	}
	lint_after_audit(m);
	set_degraded(m, NULL);
	remediation_after_audit(m->rem); /* after a complete audit and lint */
	if (!m->ready_sent) {
		sd_notify(0, "READY=1");
		m->ready_sent = true;
	}
	notify_status(m);
	return 0;
}

/* ---- lint ---- */

static int lint_priority(enum lint_severity s)
{
	/* Lint findings are about the policies as written, one step below live drift. */
	switch (s) {
	case LINT_CRITICAL:
		return LOG_ERR;
	case LINT_ERROR:
		return LOG_WARNING;
	case LINT_WARNING:
		return LOG_NOTICE;
	case LINT_INFO:
	default:
		return LOG_INFO;
	}
}

static void journal_lint(struct manager *m, const struct lint_finding *f, bool resolved)
{
	_cleanup_(strbuf_done) struct strbuf objs = { 0 }, line = { 0 };

	for (size_t i = 0; i < f->n_objects; i++)
		strbuf_printf(&objs, "%s%s", i ? "," : "", f->objects[i]);
	if (log_to_journal())
		sd_journal_send("MESSAGE=%slint %s: %s", resolved ? "resolved: " : "",
				lint_kind_name(f->kind), f->message, "MESSAGE_ID=%s",
				resolved ? MSGID_LINT_RESOLVED : MSGID_LINT, "PRIORITY=%i",
				resolved ? LOG_INFO : lint_priority(f->severity),
				"SYSLOG_IDENTIFIER=npauditd", "NPAUDIT_TRANSITION=%s",
				resolved ? "resolved" : "new", "NPAUDIT_FINDING_ID=%s", f->id,
				"NPAUDIT_KIND=%s", lint_kind_name(f->kind), "NPAUDIT_SEVERITY=%s",
				lint_severity_name(f->severity), "NPAUDIT_NODE=%s", m->cfg.node,
				"NPAUDIT_OBJECTS=%s", strbuf_str(&objs), "NPAUDIT_FIX=%s",
				f->fix ? f->fix : "", NULL);
	else
		fprintf(stderr, "npauditd: %slint %s: %s [%s]\n", resolved ? "resolved: " : "",
			lint_kind_name(f->kind), f->message, f->id);
	if (strbuf_printf(&line, "{\"transition\":\"%s\",\"lint\":{\"id\":\"%s\",\"kind\":",
			  resolved ? "resolved" : "new", f->id) >= 0 &&
	    strbuf_json_string(&line, lint_kind_name(f->kind)) >= 0 &&
	    strbuf_puts(&line, ",\"message\":") >= 0 &&
	    strbuf_json_string(&line, f->message) >= 0 && strbuf_puts(&line, "}}") >= 0)
		api_broadcast(m->api, strbuf_str(&line));
}

/* Lints the cluster for this node (with the live rule counts for the backend checks) and
 * reports what changed since the last lint. A failing lint is logged, never fatal. */
static void run_lint(struct manager *m)
{
	struct lint_report *rep = NULL;
	struct lint_fw_input fw = { 0 };
	struct lint_options o = {
		.node = m->cfg.node,
		.cni_conf_dir = m->cfg.cni_conf_dir,
		.engine = m->engine,
		.fw = &fw,
	};
	const struct lint_finding **added = NULL, **gone = NULL;
	size_t n_added = 0, n_gone = 0;
	struct np_error e = { 0 };
	char buf[1024];
	int r;

	if (m->rs) {
		struct ir_stats st;
		ir_ruleset_stats(m->rs, &st);
		fw.n_rules[LINT_FW_NFT] = st.src[IR_SRC_NFT].rules;
		fw.n_rules[LINT_FW_IPTABLES_NFT] = st.src[IR_SRC_IPTABLES_NFT].rules;
		fw.n_rules[LINT_FW_IPTABLES_LEGACY] = st.src[IR_SRC_IPTABLES_LEGACY].rules;
	}
	r = lint_run(m->model, &o, &rep, &e);
	if (r == -ENOENT || (r < 0 && r != -ENOMEM && o.cni_conf_dir)) {
		/* The CNI configuration directory is not there (not mounted, say): lint without
		 * it rather than not at all. */
		o.cni_conf_dir = NULL;
		r = lint_run(m->model, &o, &rep, &e);
	}
	if (r < 0) {
		log_warning("Lint failed, going on without it: %s",
			    e.message[0] ? np_error_format(&e, buf, sizeof(buf)) : np_strerror(r));
		return;
	}
	if (lint_report_diff(m->lint, rep, &added, &n_added, &gone, &n_gone) < 0) {
		lint_report_free(rep);
		return;
	}
	for (size_t i = 0; i < n_added; i++)
		journal_lint(m, added[i], false);
	for (size_t i = 0; i < n_gone; i++)
		journal_lint(m, gone[i], true);
	free(added);
	free(gone);
	lint_report_free(m->lint);
	m->lint = rep;
}

/* ---- views for the local API ---- */

static int json_str(struct strbuf *out, const char *s)
{
	return s ? strbuf_json_string(out, s) : strbuf_puts(out, "null");
}

static void iso_time(uint64_t usec, char *buf, size_t size)
{
	time_t t = (time_t)(usec / 1000000);
	struct tm tm;

	if (!usec) {
		snprintf(buf, size, "null");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, size, "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
}

int manager_status_json(struct manager *m, struct strbuf *out)
{
	char t1[64], t2[64], t3[64], t4[64];
	unsigned by_kind[_AUDIT_KIND_MAX] = { 0 };
	int r;

	HASHMAP_FOREACH (e, &m->findings)
		by_kind[((struct tracked *)e->value)->f->kind]++;
	iso_time(m->started_at, t1, sizeof(t1));
	iso_time(m->last_audit_at, t2, sizeof(t2));
	iso_time(m->fw_read_at, t3, sizeof(t3));
	iso_time(m->unreachable_since, t4, sizeof(t4));
	r = strbuf_printf(out, "{\"version\":\"%s\",\"node\":", NPAUDIT_VERSION);
	if (r >= 0)
		r = json_str(out, m->cfg.node);
	if (r >= 0)
		r = strbuf_printf(
			out,
			",\"started_at\":%s,\"ready\":%s,\"reporting\":%s,\"degraded\":%s,"
			"\"degraded_reason\":",
			t1, m->ready_sent ? "true" : "false", m->audited_full ? "true" : "false",
			m->degraded ? "true" : "false");
	if (r >= 0)
		r = json_str(out, m->degraded ? m->degraded_reason : NULL);
	if (r >= 0)
		r = strbuf_printf(out,
				  ",\"apiserver\":{\"reachable\":%s,\"unreachable_since\":%s,"
				  "\"synced\":%s,\"last_error\":",
				  m->reachable ? "true" : "false", t4,
				  m->synced ? "true" : "false");
	if (r >= 0)
		r = json_str(out, m->k8s ? k8s_client_last_error(m->k8s) : NULL);
	if (r >= 0)
		r = strbuf_puts(out, ",\"resources\":{");
	for (int k = 0; r >= 0 && k < _MODEL_KIND_MAX; k++) {
		struct k8s_stats st;
		if (!m->k8s || k8s_client_stats(m->k8s, (enum model_kind)k, &st) < 0)
			continue;
		r = strbuf_printf(
			out,
			"%s\"%s\":{\"synced\":%s,\"objects\":%zu,\"resource_version\":\"%s\","
			"\"lists\":%llu,\"relists\":%llu,\"watches\":%llu,\"events\":%llu,"
			"\"errors\":%llu,\"malformed\":%llu}",
			k ? "," : "", k8s_resource_get((enum model_kind)k)->kind,
			st.synced ? "true" : "false", st.objects, st.resource_version,
			(unsigned long long)st.lists, (unsigned long long)st.relists,
			(unsigned long long)st.watches, (unsigned long long)st.events,
			(unsigned long long)st.errors, (unsigned long long)st.malformed);
	}
	if (r >= 0)
		r = strbuf_printf(out, "}},\"ruleset\":{\"read_at\":%s,\"error\":", t3);
	if (r >= 0)
		r = json_str(out, m->fw_error ? np_strerror(m->fw_error) : NULL);
	if (r >= 0 && m->rs) {
		struct ir_stats st;
		ir_ruleset_stats(m->rs, &st);
		r = strbuf_puts(out, ",\"sources\":{");
		for (int s = 0; r >= 0 && s < _IR_SRC_MAX; s++)
			r = strbuf_printf(
				out,
				"%s\"%s\":{\"read\":%s,\"tables\":%u,\"chains\":%u,\"rules\":%u,"
				"\"sets\":%u,\"opaque_rules\":%u}",
				s ? "," : "", ir_source_to_string((enum ir_source)s),
				m->rs->sources[s].read ? "true" : "false", st.src[s].tables,
				st.src[s].chains, st.src[s].rules, st.src[s].sets,
				st.src[s].opaque_rules);
		if (r >= 0)
			r = strbuf_printf(out, "},\"ipsets\":%u", st.ipsets);
	}
	if (r >= 0)
		r = strbuf_printf(
			out,
			",\"poll\":{\"interval_ms\":%llu,\"configured_interval_ms\":%llu,"
			"\"cpu_budget_percent\":%g,\"check_cpu_ms\":%.3f,\"checks\":%llu}",
			(unsigned long long)poll_interval(m) / 1000,
			(unsigned long long)m->cfg.poll_usec / 1000, m->cfg.poll_cpu_ppm / 1e4,
			m->poll_cost_nsec / 1e6, (unsigned long long)m->polls);
	if (r >= 0)
		r = strbuf_printf(
			out,
			"},\"last_audit\":{\"at\":%s,\"duration_ms\":%.3f,\"classes\":%lu,"
			"\"pods\":%u,\"incremental\":%s,\"total\":%llu,\"incremental_total\":%llu,"
			"\"failed\":%llu},\"findings\":{\"total\":%zu",
			t2, m->last_duration_ms, m->last_classes, m->last_pods,
			m->last_incremental ? "true" : "false",
			(unsigned long long)m->metrics.audits_total,
			(unsigned long long)m->metrics.audits_incremental,
			(unsigned long long)m->metrics.audits_failed, hashmap_size(&m->findings));
	for (int k = 0; r >= 0 && k < _AUDIT_KIND_MAX; k++)
		r = strbuf_printf(out, ",\"%s\":%u", audit_kind_to_string((enum audit_kind)k),
				  by_kind[k]);
	if (r >= 0 && m->lint)
		r = strbuf_printf(out, ",\"lint\":%zu", m->lint->n_findings);
	if (r >= 0)
		r = strbuf_puts(out, "},\"cni\":");
	if (r >= 0 && m->lint && m->lint->cni)
		r = cni_detection_json(m->lint->cni, out);
	else if (r >= 0)
		r = strbuf_puts(out, "null");
	if (r >= 0)
		r = strbuf_puts(out, ",\"remediation\":");
	if (r >= 0)
		r = remediation_status_json(m->rem, out);
	if (r >= 0)
		r = strbuf_puts(out, ",\"notes\":[");
	for (size_t i = 0; r >= 0 && i < m->notes.n; i++) {
		r = strbuf_puts(out, i ? "," : "");
		if (r >= 0)
			r = strbuf_json_string(out, m->notes.items[i]);
	}
	if (r >= 0)
		r = strbuf_puts(out, "]}");
	return r;
}

static int tracked_cmp(const void *a, const void *b)
{
	const struct tracked *x = *(struct tracked *const *)a, *y = *(struct tracked *const *)b;
	int c = strcmp(x->f->pod, y->f->pod);

	if (c)
		return c;
	if (x->f->kind != y->f->kind)
		return x->f->kind < y->f->kind ? -1 : 1;
	return strcmp(x->f->id, y->f->id);
}

/* The current findings, sorted, matching the filters; caller frees the array. */
static size_t sorted_findings(struct manager *m, const char *pod, const char *kind,
			      const char *severity, struct tracked ***ret)
{
	struct tracked **v = calloc(m->findings.n + 1, sizeof(*v));
	size_t n = 0;

	*ret = v;
	if (!v)
		return 0;
	HASHMAP_FOREACH (e, &m->findings) {
		struct tracked *t = e->value;
		if (pod && !streq(t->f->pod, pod) &&
		    !(t->f->peer_pod && streq(t->f->peer_pod, pod)))
			continue;
		if (kind && !streq(audit_kind_to_string(t->f->kind), kind))
			continue;
		if (severity && !streq(audit_severity_to_string(t->f->severity), severity))
			continue;
		v[n++] = t;
	}
	if (n > 1)
		np_qsort(v, n, sizeof(*v), tracked_cmp);
	return n;
}

int manager_findings_json(struct manager *m, const char *pod, const char *kind,
			  const char *severity, struct strbuf *out)
{
	_cleanup_(freep) struct tracked **v = NULL;
	size_t n = sorted_findings(m, pod, kind, severity, &v);
	char t[64];
	int r;

	if (!v)
		return -ENOMEM;
	iso_time(m->last_audit_at, t, sizeof(t));
	r = strbuf_puts(out, "{\"node\":");
	if (r >= 0)
		r = json_str(out, m->cfg.node);
	if (r >= 0)
		r = strbuf_printf(
			out,
			",\"reporting\":%s,\"degraded\":%s,\"last_audit\":%s,\"pods_audited\":%u,"
			"\"classes_evaluated\":%lu,\"duration_ms\":%.3f,\"findings\":[",
			m->audited_full ? "true" : "false", m->degraded ? "true" : "false", t,
			m->last_pods, m->last_classes, m->last_duration_ms);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		char first[64];
		r = strbuf_puts(out, i ? "," : "");
		if (r >= 0)
			r = audit_finding_json(v[i]->f, out);
		/* add first_seen inside the object: replace the closing brace */
		if (r >= 0 && out->len && out->s[out->len - 1] == '}') {
			out->len--;
			iso_time(v[i]->first_seen, first, sizeof(first));
			r = strbuf_printf(out, ",\"first_seen\":%s}", first);
		}
	}
	if (r >= 0)
		r = strbuf_puts(out, "],\"lint\":");
	if (r >= 0 && m->lint && !pod && !kind) {
		/* lint_report_json() gives {"findings":[...]}: take its list. */
		_cleanup_(strbuf_done) struct strbuf l = { 0 };
		r = lint_report_json(m->lint, &l);
		if (r >= 0) {
			const char *lb = strchr(strbuf_str(&l), '[');
			const char *rb = strrchr(strbuf_str(&l), ']');
			if (lb && rb && rb > lb)
				r = strbuf_append(out, lb, (size_t)(rb - lb) + 1);
			else
				r = strbuf_puts(out, "[]");
		}
	} else if (r >= 0)
		r = strbuf_puts(out, "[]");
	if (r >= 0)
		r = strbuf_puts(out, "}");
	return r;
}

static int pod_json(struct manager *m, const struct model_pod *p, bool detail, struct strbuf *out)
{
	const struct policy_expect *exp = NULL;
	char ip[64], ref[512];
	unsigned nf = 0;
	int r;

	snprintf(ref, sizeof(ref), "%s/%s", p->ns, p->name);
	HASHMAP_FOREACH (e, &m->findings)
		if (streq(((struct tracked *)e->value)->f->pod, ref))
			nf++;
	r = strbuf_puts(out, "{\"pod\":");
	if (r >= 0)
		r = strbuf_json_string(out, ref);
	if (r >= 0)
		r = strbuf_puts(out, ",\"ips\":[");
	for (unsigned i = 0; r >= 0 && i < p->n_ips; i++)
		r = strbuf_printf(out, "%s\"%s\"", i ? "," : "",
				  np_addr_format(p->ips[i], ip, sizeof(ip)));
	if (r >= 0)
		r = strbuf_puts(out, "],\"interface\":");
	if (r >= 0) {
		const struct fw_route *rt =
			m->rt && p->n_ips ? fw_rtable_lookup(m->rt, p->ips[0]) : NULL;
		r = json_str(out,
			     rt && rt->type == FW_ROUTE_UNICAST && rt->prefix > 0 && rt->oifname[0]
				     ? rt->oifname
				     : NULL);
	}
	if (r >= 0 && policy_pod_exempt(p) != POLICY_APPLIES)
		r = strbuf_printf(out, ",\"exempt\":\"%s\"",
				  policy_exempt_reason(policy_pod_exempt(p)));
	if (r >= 0 && policy_pod_exempt(p) == POLICY_APPLIES &&
	    policy_engine_expect(m->engine, p, &exp) >= 0 && exp) {
		r = strbuf_printf(out, ",\"isolated\":{\"ingress\":%s,\"egress\":%s}",
				  exp->dir[NP_INGRESS]->isolated ? "true" : "false",
				  exp->dir[NP_EGRESS]->isolated ? "true" : "false");
		for (int d = 0; r >= 0 && d < 2; d++) {
			const struct policy_dir *pd = exp->dir[d];
			r = strbuf_printf(out, ",\"%s\":{\"policies\":[",
					  d == NP_INGRESS ? "ingress" : "egress");
			for (size_t i = 0; r >= 0 && i < pd->n_policies; i++)
				r = strbuf_printf(out, "%s\"%s/%s\"", i ? "," : "",
						  pd->policies[i]->ns, pd->policies[i]->name);
			if (r >= 0)
				r = strbuf_puts(out, "]");
			if (r >= 0 && detail) {
				struct strbuf allowed = { 0 };
				r = policy_dir_format(pd, &allowed);
				if (r >= 0)
					r = strbuf_puts(out, ",\"allowed\":");
				if (r >= 0)
					r = strbuf_json_string(out, strbuf_str(&allowed));
				strbuf_done(&allowed);
			}
			if (r >= 0)
				r = strbuf_puts(out, "}");
		}
	}
	if (r >= 0)
		r = strbuf_printf(out, ",\"findings\":%u", nf);
	if (r >= 0 && detail) {
		_cleanup_(freep) struct tracked **v = NULL;
		size_t n = sorted_findings(m, ref, NULL, NULL, &v);
		if (!v)
			return -ENOMEM;
		r = strbuf_puts(out, ",\"finding_list\":[");
		for (size_t i = 0; r >= 0 && i < n; i++) {
			r = strbuf_puts(out, i ? "," : "");
			if (r >= 0)
				r = audit_finding_json(v[i]->f, out);
		}
		if (r >= 0)
			r = strbuf_puts(out, "]");
	}
	if (r >= 0)
		r = strbuf_puts(out, "}");
	return r;
}

int manager_pods_json(struct manager *m, const char *ns, const char *name, struct strbuf *out)
{
	const struct model_pod *const *pods;
	size_t n;
	int r;

	if (ns && name) {
		const struct model_pod *p = model_pod_get(m->model, ns, name);
		if (!p || !p->node || !streq(p->node, m->cfg.node))
			return -ENOENT;
		return pod_json(m, p, true, out);
	}
	n = model_pods_on_node(m->model, m->cfg.node, &pods);
	r = strbuf_puts(out, "{\"node\":");
	if (r >= 0)
		r = json_str(out, m->cfg.node);
	if (r >= 0)
		r = strbuf_puts(out, ",\"pods\":[");
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = strbuf_puts(out, i ? "," : "");
		if (r >= 0)
			r = pod_json(m, pods[i], false, out);
	}
	if (r >= 0)
		r = strbuf_puts(out, "]}");
	return r;
}

int manager_metrics_text(struct manager *m, struct strbuf *out)
{
	static const char *const le[AUDIT_BUCKETS] = { "0.001", "0.0025", "0.005", "0.01",
						       "0.025", "0.05",	  "0.1",   "0.25",
						       "0.5",	"1",	  "2.5",   "10" };
	unsigned by[_AUDIT_KIND_MAX][4] = { { 0 } };
	uint64_t cum = 0;
	int r;

	HASHMAP_FOREACH (e, &m->findings) {
		const struct audit_finding *f = ((struct tracked *)e->value)->f;
		by[f->kind][f->severity]++;
	}
	r = strbuf_puts(out, "# HELP npaudit_findings Current findings by kind and severity.\n"
			     "# TYPE npaudit_findings gauge\n");
	for (int k = 0; r >= 0 && k < _AUDIT_KIND_MAX; k++)
		r = strbuf_printf(out, "npaudit_findings{kind=\"%s\",severity=\"%s\"} %u\n",
				  audit_kind_to_string((enum audit_kind)k),
				  audit_severity_to_string(audit_kind_severity((enum audit_kind)k)),
				  by[k][audit_kind_severity((enum audit_kind)k)]);
	if (r >= 0)
		r = strbuf_puts(out, "# HELP npaudit_audit_duration_seconds Duration of audits.\n"
				     "# TYPE npaudit_audit_duration_seconds histogram\n");
	for (int i = 0; r >= 0 && i < AUDIT_BUCKETS; i++) {
		cum += m->metrics.audit_bucket[i];
		r = strbuf_printf(out, "npaudit_audit_duration_seconds_bucket{le=\"%s\"} %llu\n",
				  le[i], (unsigned long long)cum);
	}
	cum += m->metrics.audit_bucket[AUDIT_BUCKETS];
	if (r >= 0)
		r = strbuf_printf(
			out,
			"npaudit_audit_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
			"npaudit_audit_duration_seconds_sum %.6f\n"
			"npaudit_audit_duration_seconds_count %llu\n"
			"# HELP npaudit_audits_total Audits run.\n# TYPE npaudit_audits_total "
			"counter\n"
			"npaudit_audits_total %llu\n"
			"# HELP npaudit_audits_failed_total Audits that failed.\n"
			"# TYPE npaudit_audits_failed_total counter\nnpaudit_audits_failed_total "
			"%llu\n"
			"# HELP npaudit_classes_evaluated_total Traffic classes evaluated.\n"
			"# TYPE npaudit_classes_evaluated_total counter\n"
			"npaudit_classes_evaluated_total %llu\n"
			"# HELP npaudit_last_audit_classes Traffic classes of the last audit.\n"
			"# TYPE npaudit_last_audit_classes gauge\nnpaudit_last_audit_classes %lu\n"
			"# HELP npaudit_last_successful_audit_timestamp_seconds End of the last "
			"audit.\n"
			"# TYPE npaudit_last_successful_audit_timestamp_seconds gauge\n"
			"npaudit_last_successful_audit_timestamp_seconds %.3f\n"
			"# HELP npaudit_apiserver_reachable Whether the API server answers.\n"
			"# TYPE npaudit_apiserver_reachable gauge\nnpaudit_apiserver_reachable %d\n"
			"# HELP npaudit_degraded Whether audits are incomplete (see /v1/status).\n"
			"# TYPE npaudit_degraded gauge\nnpaudit_degraded %d\n"
			"# HELP npaudit_poll_interval_seconds The interval of the check of "
			"iptables-legacy and ipsets now (poll-interval, or longer within "
			"poll-cpu-budget).\n"
			"# TYPE npaudit_poll_interval_seconds gauge\nnpaudit_poll_interval_seconds "
			"%g\n"
			"# HELP npaudit_poll_check_cpu_seconds CPU time of one check of "
			"iptables-legacy and ipsets that found nothing new (smoothed).\n"
			"# TYPE npaudit_poll_check_cpu_seconds "
			"gauge\nnpaudit_poll_check_cpu_seconds "
			"%g\n"
			"# HELP npaudit_ruleset_reads_total Reads of the packet filter.\n"
			"# TYPE npaudit_ruleset_reads_total counter\nnpaudit_ruleset_reads_total "
			"%llu\n"
			"# HELP npaudit_ruleset_read_failures_total Failed reads of the packet "
			"filter.\n"
			"# TYPE npaudit_ruleset_read_failures_total counter\n"
			"npaudit_ruleset_read_failures_total %llu\n"
			"# HELP npaudit_nft_events_total nftables change notifications.\n"
			"# TYPE npaudit_nft_events_total counter\nnpaudit_nft_events_total %llu\n"
			"# HELP npaudit_nft_event_overruns_total Lost nftables notifications (full "
			"re-read).\n"
			"# TYPE npaudit_nft_event_overruns_total counter\n"
			"npaudit_nft_event_overruns_total %llu\n"
			"# HELP npaudit_transitions_total Finding transitions.\n"
			"# TYPE npaudit_transitions_total counter\n"
			"npaudit_transitions_total{transition=\"new\"} %llu\n"
			"npaudit_transitions_total{transition=\"resolved\"} %llu\n"
			"# HELP npaudit_journal_suppressed_total Transitions not journalled (rate "
			"limit).\n"
			"# TYPE npaudit_journal_suppressed_total counter\n"
			"npaudit_journal_suppressed_total %llu\n"
			"# HELP npaudit_events_posted_total Kubernetes Events posted.\n"
			"# TYPE npaudit_events_posted_total counter\nnpaudit_events_posted_total "
			"%llu\n",
			(unsigned long long)cum, m->metrics.audit_seconds_sum,
			(unsigned long long)cum, (unsigned long long)m->metrics.audits_total,
			(unsigned long long)m->metrics.audits_failed,
			(unsigned long long)m->metrics.classes_total, m->last_classes,
			m->last_audit_at / 1e6, m->reachable ? 1 : 0, m->degraded ? 1 : 0,
			poll_interval(m) / 1e6, m->poll_cost_nsec / 1e9,
			(unsigned long long)m->metrics.fw_reads,
			(unsigned long long)m->metrics.fw_read_failures,
			(unsigned long long)m->metrics.nft_events,
			(unsigned long long)m->metrics.nft_overruns,
			(unsigned long long)m->metrics.transitions_new,
			(unsigned long long)m->metrics.transitions_resolved,
			(unsigned long long)m->metrics.journal_suppressed,
			(unsigned long long)m->metrics.events_posted);
	if (r >= 0)
		r = strbuf_printf(out,
				  "# HELP npaudit_audits_incremental_total Audits that re-ran only "
				  "the checks of the pods a change can touch.\n"
				  "# TYPE npaudit_audits_incremental_total counter\n"
				  "npaudit_audits_incremental_total %llu\n",
				  (unsigned long long)m->metrics.audits_incremental);
	if (r >= 0)
		r = strbuf_puts(out,
				"# HELP npaudit_watch_events_total Watch events per resource.\n"
				"# TYPE npaudit_watch_events_total counter\n");
	for (int k = 0; r >= 0 && m->k8s && k < _MODEL_KIND_MAX; k++) {
		struct k8s_stats st;
		if (k8s_client_stats(m->k8s, (enum model_kind)k, &st) < 0)
			continue;
		r = strbuf_printf(out, "npaudit_watch_events_total{resource=\"%s\"} %llu\n",
				  k8s_resource_get((enum model_kind)k)->kind,
				  (unsigned long long)st.events);
	}
	if (r >= 0)
		r = strbuf_puts(out, "# HELP npaudit_relists_total Re-lists per resource.\n"
				     "# TYPE npaudit_relists_total counter\n");
	for (int k = 0; r >= 0 && m->k8s && k < _MODEL_KIND_MAX; k++) {
		struct k8s_stats st;
		if (k8s_client_stats(m->k8s, (enum model_kind)k, &st) < 0)
			continue;
		r = strbuf_printf(out, "npaudit_relists_total{resource=\"%s\"} %llu\n",
				  k8s_resource_get((enum model_kind)k)->kind,
				  (unsigned long long)st.relists);
	}
	if (r >= 0 && m->rs) {
		struct ir_stats st;
		ir_ruleset_stats(m->rs, &st);
		r = strbuf_puts(
			out, "# HELP npaudit_ruleset_rules Rules in the live ruleset by source.\n"
			     "# TYPE npaudit_ruleset_rules gauge\n");
		for (int s = 0; r >= 0 && s < _IR_SRC_MAX; s++)
			r = strbuf_printf(out, "npaudit_ruleset_rules{source=\"%s\"} %u\n",
					  ir_source_to_string((enum ir_source)s), st.src[s].rules);
		if (r >= 0)
			r = strbuf_printf(
				out,
				"# HELP npaudit_ruleset_ipset_elements Elements in ipsets.\n"
				"# TYPE npaudit_ruleset_ipset_elements gauge\n"
				"npaudit_ruleset_ipset_elements %u\n",
				st.ipset_elements);
	}
	return r;
}

static int parse_u32(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	*ret = strtoul(s, &end, 0);
	return errno || *end || *ret > max ? -EINVAL : 0;
}

int manager_trace_json(struct manager *m, const char *(*get)(void *u, const char *key), void *u,
		       struct strbuf *out, struct np_error *e)
{
	const char *src = get(u, "src"), *dst = get(u, "dst"), *v;
	struct eval_result res = { 0 };
	struct eval_packet p;
	np_u128 s, d;
	int fs, fd, r;
	unsigned long n;
	int path = -1;

	if (!m->eval || !m->rt)
		return np_error_set(e, -EAGAIN, NULL, NULL, NULL, 0,
				    "the ruleset has not been read yet");
	if (!src || !dst)
		return np_error_set(e, -EINVAL, NULL, NULL, "src", 0, "src and dst are required");
	fs = np_addr_parse(src, &s);
	fd = np_addr_parse(dst, &d);
	if (fs < 0 || fd < 0 || fs != fd)
		return np_error_set(e, -EINVAL, NULL, NULL, "src", 0,
				    "src and dst must be addresses of one family");
	if ((v = get(u, "path"))) {
		path = eval_path_from_string(v);
		if (path < 0)
			return np_error_set(e, -EINVAL, NULL, NULL, "path", 0,
					    "path must be forward, input or output");
	} else {
		const struct fw_route *rs = fw_rtable_lookup(m->rt, s),
				      *rd = fw_rtable_lookup(m->rt, d);
		path = rs && rs->type == FW_ROUTE_LOCAL	  ? EVAL_PATH_OUTPUT
		       : rd && rd->type == FW_ROUTE_LOCAL ? EVAL_PATH_INPUT
							  : EVAL_PATH_FORWARD;
	}
	eval_packet_init(&p, fs, (enum eval_path)path);
	p.saddr = s;
	p.daddr = d;
	p.l4proto = IPPROTO_TCP;
	if ((v = get(u, "proto"))) {
		if (streq(v, "tcp"))
			p.l4proto = IPPROTO_TCP;
		else if (streq(v, "udp"))
			p.l4proto = IPPROTO_UDP;
		else if (streq(v, "sctp"))
			p.l4proto = IPPROTO_SCTP;
		else if (streq(v, "icmp"))
			p.l4proto = fs == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		else
			return np_error_set(e, -EINVAL, NULL, NULL, "proto", 0,
					    "proto must be tcp, udp, sctp or icmp");
	}
	if ((v = get(u, "sport"))) {
		if (parse_u32(v, 65535, &n) < 0)
			return np_error_set(e, -EINVAL, NULL, NULL, "sport", 0, "not a port: '%s'",
					    v);
		p.sport = (uint16_t)n;
	} else
		p.sport = 40000;
	if ((v = get(u, "dport"))) {
		if (parse_u32(v, 65535, &n) < 0)
			return np_error_set(e, -EINVAL, NULL, NULL, "dport", 0, "not a port: '%s'",
					    v);
		p.dport = (uint16_t)n;
	}
	if ((v = get(u, "mark"))) {
		if (parse_u32(v, UINT32_MAX, &n) < 0)
			return np_error_set(e, -EINVAL, NULL, NULL, "mark", 0, "not a mark: '%s'",
					    v);
		p.mark = (uint32_t)n;
	}
	if ((v = get(u, "ct"))) {
		if (streq(v, "new"))
			p.ct_state = IR_CT_NEW;
		else if (streq(v, "established"))
			p.ct_state = IR_CT_ESTABLISHED;
		else if (streq(v, "related"))
			p.ct_state = IR_CT_RELATED;
		else
			return np_error_set(e, -EINVAL, NULL, NULL, "ct", 0,
					    "ct must be new, established or related");
	}
	if ((v = get(u, "iif")))
		snprintf(p.iif, sizeof(p.iif), "%s", v);
	if ((v = get(u, "oif")))
		snprintf(p.oif, sizeof(p.oif), "%s", v);
	if (!p.iif[0] && path != EVAL_PATH_OUTPUT) {
		const struct fw_route *rt = fw_rtable_lookup(m->rt, s);
		if (rt && rt->oifname[0])
			snprintf(p.iif, sizeof(p.iif), "%s",
				 rt->type == FW_ROUTE_LOCAL ? "lo" : rt->oifname);
	}
	if (!p.oif[0] && path != EVAL_PATH_INPUT) {
		const struct fw_route *rt = fw_rtable_lookup(m->rt, d);
		if (rt && rt->oifname[0])
			snprintf(p.oif, sizeof(p.oif), "%s", rt->oifname);
	}
	p.iif_index = p.iif[0] ? fw_rtable_ifindex(m->rt, p.iif) : 0;
	p.oif_index = p.oif[0] ? fw_rtable_ifindex(m->rt, p.oif) : 0;
	r = eval_packet(m->eval, &p, true, &res);
	if (r < 0) {
		eval_result_done(&res);
		return np_error_set(e, r, NULL, NULL, NULL, 0, "evaluation failed: %s",
				    np_strerror(r));
	}
	r = strbuf_printf(out,
			  "{\"verdict\":\"%s\",\"reason\":", eval_verdict_to_string(res.verdict));
	if (r >= 0)
		r = strbuf_json_string(out, res.reason);
	if (r >= 0)
		r = strbuf_puts(out, ",\"iif\":");
	if (r >= 0)
		r = strbuf_json_string(out, p.iif);
	if (r >= 0)
		r = strbuf_puts(out, ",\"oif\":");
	if (r >= 0)
		r = strbuf_json_string(out, p.oif);
	if (r >= 0)
		r = strbuf_printf(out, ",\"path\":\"%s\",\"trace\":[",
				  eval_path_to_string((enum eval_path)path));
	for (size_t i = 0; r >= 0 && i < res.trace.n; i++) {
		r = strbuf_puts(out, i ? "," : "");
		if (r >= 0)
			r = eval_trace_entry_json(&res.trace.items[i], out);
	}
	if (r >= 0)
		r = strbuf_puts(out, "],\"decided_by\":");
	if (r >= 0 && res.decided_by >= 0 && (size_t)res.decided_by < res.trace.n)
		r = eval_trace_entry_json(&res.trace.items[res.decided_by], out);
	else if (r >= 0)
		r = strbuf_puts(out, "null");
	if (r >= 0)
		r = strbuf_puts(out, "}");
	eval_result_done(&res);
	return r;
}

/* ---- life cycle ---- */

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct manager *m = userdata;

	if (si->ssi_signo == SIGHUP) {
		struct config c;
		struct np_error e = { 0 };
		char buf[1024];
		int r;

		log_info("SIGHUP: reloading %s", m->config_path);
		if (config_init(&c) < 0)
			return 0;
		r = config_load_file(&c, m->config_path, true, &e);
		if (r >= 0) /* the command line still overrides the file */
			r = config_apply_flags(&c, &m->cfg, &e);
		if (r < 0) {
			log_error("Reload failed, keeping the running settings: %s",
				  np_error_format(&e, buf, sizeof(buf)));
			config_done(&c);
			return 0;
		}
		/* What can change at run time; credentials, node and sockets need a restart. */
		m->cfg.poll_usec = c.poll_usec;
		m->cfg.poll_cpu_ppm = c.poll_cpu_ppm;
		m->cfg.full_usec = c.full_usec;
		m->cfg.audit_threads = c.audit_threads;
		m->cfg.debounce_usec = c.debounce_usec;
		m->cfg.events = c.events;
		m->cfg.log_level = c.log_level;
		m->cfg.journal_rate_usec = c.journal_rate_usec;
		log_set_max_level(c.log_level);
		config_done(&c);
		manager_schedule(m, CHANGE_FULL);
		return 0;
	}
	log_info("Received %s, stopping", strsignal((int)si->ssi_signo));
	sd_notify(0, "STOPPING=1");
	sd_event_exit(sd_event_source_get_event(s), 0);
	return 0;
}

int manager_new(struct config *cfg, const char *config_path, struct manager **ret)
{
	_cleanup_(manager_freep) struct manager *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->nft_fd = m->rtnl_fd = -1;
	m->cfg = *cfg;
	*cfg = (struct config){ 0 };
	m->config_path = strdup(config_path ? config_path : CONFIG_DEFAULT_PATH);
	if (!m->config_path)
		return -ENOMEM;
	m->started_at = now_real();
	r = sd_event_default(&m->event);
	if (r < 0)
		return log_error_errno(r, "Failed to allocate the event loop");
	r = model_new(&m->model);
	if (r < 0)
		return r;
	r = policy_engine_new(m->model, &m->engine);
	if (r < 0)
		return r;
	m->audit_cache = audit_cache_new();
	if (!m->audit_cache)
		return -ENOMEM;
	*ret = TAKE_PTR(m);
	return 0;
}

struct manager *manager_free(struct manager *m)
{
	if (!m)
		return NULL;
	api_free(m->api);
	k8s_client_free(m->k8s);
	remediation_free(m->rem); /* after the client, which holds it as a DELETE's userdata */
	for (size_t i = 0; i < m->k8s_fds.n; i++)
		sd_event_source_disable_unref(m->k8s_fds.items[i].source);
	VEC_DONE(&m->k8s_fds);
	sd_event_source_disable_unref(m->k8s_timer);
	sd_event_source_disable_unref(m->nft_source);
	sd_event_source_disable_unref(m->rtnl_source);
	sd_event_source_disable_unref(m->poll_timer);
	sd_event_source_disable_unref(m->lint_timer);
	sd_event_source_disable_unref(m->full_timer);
	sd_event_source_disable_unref(m->debounce);
	if (m->nft_fd >= 0)
		close(m->nft_fd);
	if (m->rtnl_fd >= 0)
		close(m->rtnl_fd);
	HASHMAP_FOREACH (e, &m->findings)
		tracked_free(e->value);
	hashmap_done(&m->findings);
	VEC_FOREACH (n, &m->notes)
		free(*n);
	VEC_DONE(&m->notes);
	lint_report_free(m->lint);
	audit_cache_free(m->audit_cache);
	eval_change_done(&m->fw_change);
	eval_ctx_free(m->eval);
	ir_ruleset_free(m->rs);
	fw_rtable_free(m->rt);
	policy_engine_free(m->engine);
	model_free(m->model);
	sd_event_unref(m->event);
	config_done(&m->cfg);
	free(m->config_path);
	free(m);
	return NULL;
}

int manager_start(struct manager *m)
{
	static const unsigned nft_groups[] = { NFNLGRP_NFTABLES };
	static const unsigned rtnl_groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_ROUTE,
						RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV4_IFADDR,
						RTNLGRP_IPV6_IFADDR };
	_cleanup_(k8s_config_freep) struct k8s_config *kc = NULL;
	struct np_error e = { 0 };
	struct k8s_options ko = { 0 };
	char buf[1200];
	sigset_t ss;
	int r;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	if ((r = sd_event_add_signal(m->event, NULL, SIGTERM, on_signal, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, NULL, SIGINT, on_signal, m)) < 0 ||
	    (r = sd_event_add_signal(m->event, NULL, SIGHUP, on_signal, m)) < 0)
		return log_error_errno(r, "Failed to install signal handlers");
	/* WATCHDOG_USEC: sd-event pings the watchdog from the loop itself. */
	r = sd_event_set_watchdog(m->event, true);
	if (r < 0)
		log_warning_errno(r, "Failed to enable the watchdog, going on");

	r = api_new(m, &m->api);
	if (r < 0)
		return r;

	/* The API client: only this node's pods, everything else cluster-wide. */
	r = k8s_config_auto(m->cfg.kubeconfig, m->cfg.apiserver, m->cfg.token_file, m->cfg.ca_file,
			    &kc, &e);
	if (r < 0) {
		log_error("No usable API server configuration: %s",
			  np_error_format(&e, buf, sizeof(buf)));
		return r;
	}
	if (kc->insecure)
		log_warning(
			"TLS verification of the API server is OFF (insecure-skip-tls-verify in "
			"the kubeconfig): anyone on the path can feed this agent a false cluster");
	/* Peers of this node's pods may run anywhere, so every pod is watched. */
	r = k8s_client_new(kc, &ko, m->model, &k8s_cb, m, &m->k8s, &e);
	if (r < 0) {
		log_error("Cannot create the API client: %s",
			  np_error_format(&e, buf, sizeof(buf)));
		return r;
	}
	k8s_client_set_loop(m->k8s, &k8s_loop, m);
	r = k8s_client_start(m->k8s);
	if (r < 0)
		return log_error_errno(r, "Cannot start the API client");
	r = remediation_new(m, &m->rem);
	if (r < 0)
		return log_error_errno(r, "Cannot set up remediation");

	/* The node: monitors first, so no change between the first read and them is missed.
	 * Without them (or without a first read) the agent still runs, degraded: it says it
	 * cannot audit rather than exit, and the poll keeps trying. */
	m->nft_fd = open_monitor(NETLINK_NETFILTER, nft_groups, ELEMENTSOF(nft_groups));
	if (m->nft_fd < 0) {
		char reason[256];

		log_error_errno(m->nft_fd,
				"Cannot subscribe to nftables events, relying on the poll");
		snprintf(reason, sizeof(reason), "cannot subscribe to nftables events: %s",
			 np_strerror(m->nft_fd));
		set_degraded(m, reason);
	} else {
		r = sd_event_add_io(m->event, &m->nft_source, m->nft_fd, EPOLLIN, on_nft_event, m);
		if (r < 0)
			return r;
	}
	m->rtnl_fd = open_monitor(NETLINK_ROUTE, rtnl_groups, ELEMENTSOF(rtnl_groups));
	if (m->rtnl_fd < 0)
		return log_error_errno(m->rtnl_fd, "Cannot subscribe to route events");
	r = sd_event_add_io(m->event, &m->rtnl_source, m->rtnl_fd, EPOLLIN, on_rtnl_event, m);
	if (r < 0)
		return r;
	r = sd_event_add_time_relative(m->event, &m->poll_timer, CLOCK_MONOTONIC, m->cfg.poll_usec,
				       10000, on_poll, m);
	if (r < 0)
		return r;
	r = sd_event_add_time_relative(m->event, &m->full_timer, CLOCK_MONOTONIC, m->cfg.full_usec,
				       1000000, on_full, m);
	if (r < 0)
		return r;
	r = routes_refresh(m);
	if (r < 0) {
		char reason[256];

		log_error_errno(r, "Cannot read the routing tables, retrying");
		snprintf(reason, sizeof(reason), "cannot read the routing tables: %s",
			 np_strerror(r));
		set_degraded(m, reason);
	}
	r = fw_refresh(m);
	if (r < 0) {
		char reason[256];

		log_error_errno(r, "Cannot read the packet filter, retrying");
		snprintf(reason, sizeof(reason), "cannot read the packet filter: %s",
			 np_strerror(r));
		set_degraded(m, reason);
	}
	if (log_to_journal())
		sd_journal_send("MESSAGE=npauditd %s started on node %s", NPAUDIT_VERSION,
				m->cfg.node, "MESSAGE_ID=%s", MSGID_STARTED, "PRIORITY=%i",
				LOG_INFO, "SYSLOG_IDENTIFIER=npauditd", "NPAUDIT_NODE=%s",
				m->cfg.node, NULL);
	else
		log_info("npauditd %s started on node %s", NPAUDIT_VERSION, m->cfg.node);
	notify_status(m);
	return 0;
}

int manager_run(struct manager *m)
{
	int r = sd_event_loop(m->event);

	if (log_to_journal())
		sd_journal_send("MESSAGE=npauditd stopped", "MESSAGE_ID=%s", MSGID_STOPPED,
				"PRIORITY=%i", LOG_INFO, "SYSLOG_IDENTIFIER=npauditd", NULL);
	return r;
}
