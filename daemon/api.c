/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The local API: HTTP/1.1 with JSON bodies on a Unix socket (curl --unix-socket works), served
 * by libmicrohttpd — a well-kept HTTP server library, so request parsing, limits and keep-alive
 * are not ours to get wrong — in external-epoll mode inside the daemon's sd-event loop. Slow or
 * garbage clients cannot block the loop: every connection has a memory limit and a timeout, and
 * the number of connections is bounded. Only POST /v1/audit changes anything (it runs an audit).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "api.h"
#include "log.h"
#include "manager.h"

#define API_MAX_CONNECTIONS 2048
#define API_CONNECTION_TIMEOUT_SEC 15
#define API_MEMORY_LIMIT (64 * 1024)
#define API_MAX_BODY 4096
/* A request must arrive whole within this time: libmicrohttpd's timeout is one of inactivity, so
 * a client sending a byte a second would otherwise hold its connection for as long as it likes. */
#define API_REQUEST_DEADLINE_USEC (10 * 1000000ull)
#define STREAM_MAX_BACKLOG (4 * 1024 * 1024) /* a stream client further behind is dropped */

struct stream {
	struct api *api;
	struct MHD_Connection *conn;
	struct strbuf buf;
	size_t off;
	bool suspended, dead;
};

/* One open connection, from accept to close (MHD's socket context). */
struct conn {
	int fd;
	uint64_t since; /* CLOCK_MONOTONIC usec: accepted, or the last request answered */
	bool answering; /* the current request arrived whole and is being answered */
	size_t idx; /* in server.conns */
};

struct server {
	struct MHD_Daemon *mhd;
	sd_event_source *io, *timer, *deadline;
	struct api *api;
	bool metrics_only;
	VEC(struct conn *) conns;
};

struct api {
	struct manager *m;
	struct server local, metrics;
	int fd;
	bool fd_owned;
	VEC(struct stream *) streams;
	gid_t group; /* socket-group's gid, when it exists */
	bool have_group;
};

struct request {
	size_t body;
	bool too_large;
};

static void server_rearm(struct server *s);

static int on_mhd_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct server *s = userdata;

	MHD_run(s->mhd);
	server_rearm(s);
	return 0;
}

static int on_mhd_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct server *s = userdata;

	MHD_run(s->mhd);
	server_rearm(s);
	return 0;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct server *s = cls;
	struct conn *k = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

		k = calloc(1, sizeof(*k));
		if (!k)
			return; /* not tracked: only the inactivity timeout applies to it */
		k->fd = ci ? ci->connect_fd : -1;
		k->since = now_usec();
		k->idx = s->conns.n;
		if (VEC_PUSH(&s->conns, k) < 0) {
			free(k);
			return;
		}
		*socket_context = k;
		return;
	}
	if (!k)
		return;
	/* Closed: swap-remove. */
	s->conns.items[k->idx] = s->conns.items[--s->conns.n];
	s->conns.items[k->idx]->idx = k->idx;
	free(k);
	*socket_context = NULL;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* Every second: shuts down connections whose request has not arrived whole within the deadline.
 * libmicrohttpd then sees the end of the stream and frees the connection in its next run. */
static int on_deadline(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct server *s = userdata;
	uint64_t now = now_usec();
	unsigned n = 0;

	for (size_t i = 0; i < s->conns.n; i++) {
		struct conn *k = s->conns.items[i];
		if (!k->answering && k->fd >= 0 && now - k->since > API_REQUEST_DEADLINE_USEC) {
			(void)shutdown(k->fd, SHUT_RDWR);
			k->fd = -1;
			n++;
		}
	}
	if (n) {
		log_debug("Closed %u connection(s) whose request did not arrive within %llus", n,
			  API_REQUEST_DEADLINE_USEC / 1000000);
		MHD_run(s->mhd);
		server_rearm(s);
	}
	sd_event_source_set_time_relative(src, 1000000);
	return 0;
}

static void server_rearm(struct server *s)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (!s->mhd || !s->timer)
		return;
	if (MHD_get_timeout(s->mhd, &ms) == MHD_YES) {
		sd_event_source_set_time_relative(s->timer, ms * 1000);
		sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
	} else
		sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     struct strbuf *body)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = body->len;
	char *data = strbuf_steal(body);

	if (!data)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, struct strbuf *body)
{
	strbuf_puts(body, "\n");
	if (body->oom)
		return MHD_NO;
	return reply(c, status, "application/json", body);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	struct strbuf sb = { 0 };

	if (strbuf_puts(&sb, "{\"error\":") < 0 || strbuf_json_string(&sb, msg) < 0 ||
	    strbuf_printf(&sb, ",\"status\":%u}", status) < 0) {
		strbuf_done(&sb);
		return MHD_NO;
	}
	return reply_json(c, status, &sb);
}

/* ---- /v1/findings/stream ---- */

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	size_t n;

	if (s->dead)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = s->buf.len - s->off;
	if (n == 0) {
		/* Nothing to send: park the connection until the next transition. */
		strbuf_reset(&s->buf);
		s->off = 0;
		s->suspended = true;
		MHD_suspend_connection(s->conn);
		return 0;
	}
	if (n > max)
		n = max;
	memcpy(buf, s->buf.s + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;
	struct api *a = s->api;

	for (size_t i = 0; a && i < a->streams.n; i++)
		if (a->streams.items[i] == s) {
			a->streams.items[i] = a->streams.items[--a->streams.n];
			break;
		}
	strbuf_done(&s->buf);
	free(s);
}

static void stream_push(struct stream *s, const char *line)
{
	if (s->dead)
		return;
	if (s->buf.len - s->off > STREAM_MAX_BACKLOG) {
		/* A client that does not read cannot make the agent hold unbounded memory. */
		s->dead = true;
	} else if (strbuf_puts(&s->buf, line) < 0 || strbuf_puts(&s->buf, "\n") < 0)
		s->dead = true;
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
}

void api_broadcast(struct api *a, const char *line)
{
	if (!a || a->streams.n == 0)
		return;
	for (size_t i = 0; i < a->streams.n; i++)
		stream_push(a->streams.items[i], line);
	MHD_run(a->local.mhd);
	server_rearm(&a->local);
}

static enum MHD_Result start_stream(struct api *a, struct MHD_Connection *c)
{
	struct stream *s = calloc(1, sizeof(*s));
	struct MHD_Response *resp;
	enum MHD_Result ret;
	struct strbuf sb = { 0 };

	if (!s)
		return MHD_NO;
	s->api = a;
	s->conn = c;
	/* First the current findings, then transitions as they happen. */
	if (manager_findings_json(a->m, NULL, NULL, NULL, &sb) >= 0) {
		strbuf_puts(&s->buf, "{\"transition\":\"snapshot\",\"findings\":");
		strbuf_puts(&s->buf, strbuf_str(&sb));
		strbuf_puts(&s->buf, "}\n");
	}
	strbuf_done(&sb);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s,
						 stream_free);
	if (!resp) {
		strbuf_done(&s->buf);
		free(s);
		return MHD_NO;
	}
	if (VEC_PUSH(&a->streams, s) < 0) {
		MHD_destroy_response(resp); /* frees s through stream_free */
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- routing ---- */

static const char *get_arg(void *u, const char *key)
{
	return MHD_lookup_connection_value(u, MHD_GET_ARGUMENT_KIND, key);
}

/* Returns whether the peer's credentials were read into *cred. */
static bool peer_cred(struct MHD_Connection *c, struct ucred *cred)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	socklen_t len = sizeof(*cred);

	return ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, cred, &len) == 0 &&
	       cred->pid > 0;
}

static bool peer_in_group(struct MHD_Connection *c, gid_t want, const struct ucred *cred)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (cred->gid == want)
		return true;
	/* The supplementary groups the peer had when it connected (Linux 4.13). */
	if (!ci || getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == want)
			return true;
	return false;
}

/* socket-allow-uids (config.h): with the list set, the socket's mode is not the only gate: a
 * peer that could connect is served only if it is root, the agent's own uid, listed, or in
 * socket-group. Without credentials (not a Unix socket peer) nobody is served. */
static bool peer_allowed(struct api *a, struct MHD_Connection *c, const struct ucred *cred,
			 bool have_cred)
{
	const struct config *cfg = &a->m->cfg;

	if (!cfg->n_socket_allow_uids)
		return true;
	if (!have_cred)
		return false;
	if (cred->uid == 0 || cred->uid == geteuid())
		return true;
	for (size_t i = 0; i < cfg->n_socket_allow_uids; i++)
		if (cfg->socket_allow_uids[i] == cred->uid)
			return true;
	return a->have_group && peer_in_group(c, a->group, cred);
}

static void log_peer(struct MHD_Connection *c, const char *method, const char *url,
		     const struct ucred *cred, bool have_cred)
{
	if (have_cred)
		log_debug("%s %s from pid %d uid %u", method, url, (int)cred->pid,
			  (unsigned)cred->uid);
	else
		log_debug("%s %s", method, url);
}

static enum MHD_Result route(struct api *a, struct MHD_Connection *c, const char *url,
			     const char *method)
{
	struct manager *m = a->m;
	struct strbuf sb = { 0 };
	int r;

	m->metrics.api_requests++;
	if (streq(url, "/metrics")) {
		if (!streq(method, "GET"))
			return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET");
		r = manager_metrics_text(m, &sb);
		if (r < 0)
			return MHD_NO;
		return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4", &sb);
	}
	if (streq(url, "/v1/audit")) {
		if (!streq(method, "POST"))
			return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST");
		r = manager_audit_now(m, CHANGE_FULL);
		if (r < 0 && !m->synced)
			return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
					   "not synced with the API server yet");
		if (r >= 0 && !m->synced)
			return reply_error(
				c, MHD_HTTP_SERVICE_UNAVAILABLE,
				"not synced with the API server yet; the rules were read");
		if (r < 0)
			return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, m->degraded_reason);
		if (manager_findings_json(m, NULL, NULL, NULL, &sb) < 0)
			return MHD_NO;
		return reply_json(c, MHD_HTTP_OK, &sb);
	}
	if (!streq(method, "GET") && !streq(method, "HEAD"))
		return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				   "only GET, and POST /v1/audit, are served");
	if (streq(url, "/v1/status"))
		r = manager_status_json(m, &sb);
	else if (streq(url, "/v1/findings")) {
		const char *kind = get_arg(c, "kind"), *sev = get_arg(c, "severity");
		if (kind && audit_kind_from_string(kind) < 0)
			return reply_error(c, MHD_HTTP_BAD_REQUEST, "unknown kind");
		if (sev && !streq(sev, "critical") && !streq(sev, "error") &&
		    !streq(sev, "warning") && !streq(sev, "info"))
			return reply_error(c, MHD_HTTP_BAD_REQUEST, "unknown severity");
		r = manager_findings_json(m, get_arg(c, "pod"), kind, sev, &sb);
	} else if (streq(url, "/v1/findings/stream"))
		return start_stream(a, c);
	else if (streq(url, "/v1/pods"))
		r = manager_pods_json(m, NULL, NULL, &sb);
	else if (strneq(url, "/v1/pods/", 9)) {
		const char *rest = url + 9, *slash = strchr(rest, '/');
		char ns[256];

		if (!slash || slash == rest || !slash[1] || strchr(slash + 1, '/') ||
		    (size_t)(slash - rest) >= sizeof(ns))
			return reply_error(c, MHD_HTTP_NOT_FOUND, "use /v1/pods/NAMESPACE/NAME");
		memcpy(ns, rest, (size_t)(slash - rest));
		ns[slash - rest] = 0;
		r = manager_pods_json(m, ns, slash + 1, &sb);
		if (r == -ENOENT) {
			strbuf_done(&sb);
			return reply_error(c, MHD_HTTP_NOT_FOUND, "no such pod on this node");
		}
	} else if (streq(url, "/v1/trace")) {
		struct np_error e = { 0 };
		char buf[1024];

		r = manager_trace_json(m, get_arg, c, &sb, &e);
		if (r < 0 && r != -ENOMEM) {
			strbuf_done(&sb);
			return reply_error(c,
					   r == -EAGAIN ? MHD_HTTP_SERVICE_UNAVAILABLE
							: MHD_HTTP_BAD_REQUEST,
					   np_error_format(&e, buf, sizeof(buf)));
		}
	} else
		return reply_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint");
	if (r < 0) {
		strbuf_done(&sb);
		return MHD_NO;
	}
	return reply_json(c, MHD_HTTP_OK, &sb);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct request *req = *con_cls;

	if (!req) {
		/* First call: headers only. */
		struct ucred cred = { 0 };
		bool have_cred = peer_cred(c, &cred);

		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*con_cls = req;
		log_peer(c, method, url, &cred, have_cred);
		if (!s->metrics_only && !peer_allowed(s->api, c, &cred, have_cred)) {
			struct conn *k = conn_of(c);

			log_notice("Refused %s %s from uid %u: not in socket-allow-uids", method,
				   url, (unsigned)cred.uid);
			/* Answered now, with the headers: libmicrohttpd then reads no body (no
			 * 100 Continue) and closes the connection after the answer. */
			if (k)
				k->answering = true;
			return reply_error(c, MHD_HTTP_FORBIDDEN,
					   "this uid may not use the socket (socket-allow-uids)");
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		req->body += *upload_data_size;
		if (req->body > API_MAX_BODY)
			req->too_large = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	{
		/* The request is here whole: from now on it is ours to answer, not the client's
		 * to finish. */
		struct conn *k = conn_of(c);
		if (k)
			k->answering = true;
	}
	if (req->too_large)
		return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large");
	if (s->metrics_only && !streq(url, "/metrics"))
		return reply_error(c, MHD_HTTP_NOT_FOUND, "only /metrics is served here");
	return route(s->api, c, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn *k = conn_of(c);

	/* A kept-alive connection's next request has its own deadline. */
	if (k) {
		k->answering = false;
		k->since = now_usec();
	}
	free(*con_cls);
	*con_cls = NULL;
}

static int server_start(struct api *a, struct server *s, int fd, const struct sockaddr *sa,
			bool metrics_only)
{
	const union MHD_DaemonInfo *di;
	int r;

	s->api = a;
	s->metrics_only = metrics_only;
	if (fd >= 0)
		s->mhd = MHD_start_daemon(
			MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, on_request, s,
			MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
			(unsigned)API_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
			(unsigned)API_CONNECTION_TIMEOUT_SEC, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
			(size_t)API_MEMORY_LIMIT, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
	else
		s->mhd = MHD_start_daemon(
			MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
				(sa->sa_family == AF_INET6 ? MHD_USE_IPv6 : 0),
			0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, sa,
			MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_CONNECTION_TIMEOUT,
			(unsigned)API_CONNECTION_TIMEOUT_SEC, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
			(size_t)API_MEMORY_LIMIT, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
			MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_END);
	if (!s->mhd)
		return -EADDRNOTAVAIL;
	di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di)
		return -EIO;
	r = sd_event_add_io(a->m->event, &s->io, di->epoll_fd, EPOLLIN, on_mhd_io, s);
	if (r < 0)
		return r;
	r = sd_event_add_time_relative(a->m->event, &s->timer, CLOCK_MONOTONIC, 1000000, 1000,
				       on_mhd_timer, s);
	if (r < 0)
		return r;
	r = sd_event_add_time_relative(a->m->event, &s->deadline, CLOCK_MONOTONIC, 1000000, 100000,
				       on_deadline, s);
	if (r < 0)
		return r;
	(void)sd_event_source_set_enabled(s->deadline, SD_EVENT_ON);
	server_rearm(s);
	return 0;
}

static void server_stop(struct server *s)
{
	sd_event_source_disable_unref(s->io);
	sd_event_source_disable_unref(s->timer);
	sd_event_source_disable_unref(s->deadline);
	s->io = s->timer = s->deadline = NULL;
	if (s->mhd)
		MHD_stop_daemon(s->mhd); /* closes every connection: on_connection frees them */
	s->mhd = NULL;
	VEC_DONE(&s->conns);
}

static int open_socket(struct api *a)
{
	const struct config *cfg = &a->m->cfg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = sd_listen_fds(1), fd;

	if (n > 1)
		return log_error_errno(-EINVAL, "Socket activation passed %d sockets, expected one",
				       n);
	if (n == 1) {
		if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
			log_error(
				"The socket passed by the service manager is not a listening Unix "
				"stream socket");
			return -EINVAL;
		}
		a->fd = SD_LISTEN_FDS_START;
		log_info("Serving the local API on the socket passed by the service manager");
		return 0;
	}
	if (strlen(cfg->socket_path) >= sizeof(sa.sun_path)) {
		log_error("Socket path too long: %s", cfg->socket_path);
		return -ENAMETOOLONG;
	}
	{
		/* Create the socket's directory (0755) if needed, e.g. /run/npaudit. */
		_cleanup_(freep) char *dir = strdup(cfg->socket_path);
		char *slash = dir ? strrchr(dir, '/') : NULL;
		if (!dir)
			return -ENOMEM;
		if (slash && slash != dir) {
			*slash = 0;
			if (mkdir(dir, 0755) < 0 && errno != EEXIST)
				return log_error_errno(-errno, "Cannot create %s", dir);
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	strcpy(sa.sun_path, cfg->socket_path);
	(void)unlink(cfg->socket_path); /* a stale socket of a previous run */
	{
		/* Bind with a restrictive umask so that the socket never exists world-accessible.
		 */
		mode_t old = umask(0177);
		int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		umask(old);
		if (r < 0) {
			r = -errno;
			close(fd);
			return log_error_errno(r, "Cannot bind %s", cfg->socket_path);
		}
	}
	if (cfg->socket_group) {
		struct group *g = getgrnam(cfg->socket_group);
		if (!g)
			log_warning("Group '%s' does not exist; the socket stays root-only",
				    cfg->socket_group);
		else if (chown(cfg->socket_path, 0, g->gr_gid) < 0)
			log_warning_errno(-errno, "Cannot give %s to group %s", cfg->socket_path,
					  cfg->socket_group);
	}
	if (chmod(cfg->socket_path, cfg->socket_mode) < 0)
		log_warning_errno(-errno, "Cannot set the mode of %s", cfg->socket_path);
	if (listen(fd, SOMAXCONN) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	a->fd = fd;
	a->fd_owned = true;
	log_info("Serving the local API on %s", cfg->socket_path);
	return 0;
}

static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		host[strlen(host) - 1] = 0;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1 ? 0 : -EINVAL;
	}
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		return inet_pton(AF_INET, host, &a4->sin_addr) == 1 ? 0 : -EINVAL;
	}
}

int api_new(struct manager *m, struct api **ret)
{
	struct api *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->m = m;
	a->fd = -1;
	if (m->cfg.socket_group) {
		struct group *g = getgrnam(m->cfg.socket_group);
		if (g) {
			a->group = g->gr_gid;
			a->have_group = true;
		}
	}
	r = open_socket(a);
	if (r < 0)
		goto fail;
	r = server_start(a, &a->local, a->fd, NULL, false);
	if (r < 0 && a->fd_owned && !a->local.mhd)
		close(a->fd); /* not handed to MHD */
	if (r < 0) {
		log_error_errno(r, "Cannot start the local API server");
		goto fail;
	}
	if (m->cfg.metrics_listen) {
		struct sockaddr_storage ss;
		if (parse_listen(m->cfg.metrics_listen, &ss) < 0) {
			log_error("metrics-listen '%s' is not ADDRESS:PORT", m->cfg.metrics_listen);
			r = -EINVAL;
			goto fail;
		}
		r = server_start(a, &a->metrics, -1, (struct sockaddr *)&ss, true);
		if (r < 0) {
			log_error_errno(r, "Cannot serve metrics on %s", m->cfg.metrics_listen);
			goto fail;
		}
		log_info("Serving Prometheus metrics on http://%s/metrics", m->cfg.metrics_listen);
	}
	*ret = a;
	return 0;
fail:
	api_free(a);
	return r;
}

struct api *api_free(struct api *a)
{
	if (!a)
		return NULL;
	/* MHD must not be stopped with suspended connections: end every stream first. Streams
	 * are freed by MHD through stream_free; detach them from us. */
	for (size_t i = 0; i < a->streams.n; i++) {
		struct stream *st = a->streams.items[i];
		st->dead = true;
		if (st->suspended) {
			st->suspended = false;
			MHD_resume_connection(st->conn);
		}
	}
	if (a->local.mhd && a->streams.n)
		MHD_run(a->local.mhd);
	for (size_t i = 0; i < a->streams.n; i++)
		a->streams.items[i]->api = NULL;
	server_stop(&a->local);
	server_stop(&a->metrics);
	VEC_DONE(&a->streams);
	/* MHD_stop_daemon() closed the listening socket; remove the path we created. */
	if (a->fd_owned)
		(void)unlink(a->m->cfg.socket_path);
	free(a);
	return NULL;
}
