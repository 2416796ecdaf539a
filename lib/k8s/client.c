/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The transport: one libcurl multi handle driven by the owner's loop or by a poll() driver. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "k8s-internal.h"

#define TOKEN_MAX (64u << 10)
#define ERROR_BODY_MAX (64u << 10)
#define LIST_BODY_MAX (1024u << 20)

static const struct k8s_resource resources[_MODEL_KIND_MAX] = {
	[MODEL_NAMESPACE] = { "Namespace", "v1", "/api/v1/namespaces", false },
	[MODEL_POD] = { "Pod", "v1", "/api/v1/pods", true },
	[MODEL_POLICY] = { "NetworkPolicy", "networking.k8s.io/v1",
			   "/apis/networking.k8s.io/v1/networkpolicies", true },
	[MODEL_SERVICE] = { "Service", "v1", "/api/v1/services", true },
	/* Only kube-system's daemonsets matter (the CNI agent); the lint reads them. */
	[MODEL_DAEMONSET] = { "DaemonSet", "apps/v1",
			      "/apis/apps/v1/namespaces/kube-system/daemonsets", true },
};

const struct k8s_resource *k8s_resource_get(enum model_kind kind)
{
	if ((unsigned)kind >= _MODEL_KIND_MAX)
		return NULL;
	return &resources[kind];
}

uint64_t k8s_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void k8s_log(struct k8s_client *c, int prio, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (prio <= LOG_WARNING)
		snprintf(c->last_error, sizeof(c->last_error), "%s", buf);
	if (!c->cb.log)
		return;
	c->in_callback++;
	c->cb.log(c->userdata, prio, buf);
	c->in_callback--;
}

void k8s_client_set_reachable(struct k8s_client *c, bool reachable)
{
	if (c->reachable_known && c->reachable == reachable)
		return;
	c->reachable = reachable;
	c->reachable_known = true;
	if (c->cb.reachable) {
		c->in_callback++;
		c->cb.reachable(c->userdata, reachable);
		c->in_callback--;
	}
}

const char *k8s_client_last_error(const struct k8s_client *c)
{
	return c->last_error[0] ? c->last_error : NULL;
}

bool k8s_client_reachable(const struct k8s_client *c)
{
	return c->reachable;
}

static int read_small_file(const char *path, char **ret)
{
	_cleanup_(closep) int fd = -1;
	_cleanup_(freep) char *buf = NULL;
	size_t len = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(TOKEN_MAX + 1);
	if (!buf)
		return -ENOMEM;
	while (len < TOKEN_MAX) {
		ssize_t n = read(fd, buf + len, TOKEN_MAX - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	/* Trailing whitespace (a newline from `echo`) is not part of a token. */
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
			   buf[len - 1] == '\t'))
		len--;
	buf[len] = 0;
	if (len == 0 || strpbrk(buf, "\r\n"))
		return -EINVAL;
	*ret = TAKE_PTR(buf);
	return 0;
}

int k8s_client_token_reload(struct k8s_client *c)
{
	char *t = NULL;
	int r;

	if (!c->cfg->token_file)
		return 0;
	c->token_next = k8s_now_usec() + c->opts.token_reload_usec;
	r = read_small_file(c->cfg->token_file, &t);
	if (r < 0) {
		k8s_log(c, LOG_WARNING, "Cannot read token file %s, keeping the current token: %s",
			c->cfg->token_file, np_strerror(r));
		return r;
	}
	if (c->token && streq(c->token, t)) {
		free(t);
		return 0;
	}
	free(c->token);
	c->token = t;
	return 1;
}

/* ---- fd table and timer ---- */

static struct k8s_fd *fd_find(struct k8s_client *c, int fd)
{
	VEC_FOREACH (f, &c->fds)
		if (f->fd == fd)
			return f;
	return NULL;
}

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct k8s_client *c = userp;
	struct k8s_fd *f = fd_find(c, s);
	unsigned ev = 0;

	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= K8S_IO_IN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= K8S_IO_OUT;
	if (what == CURL_POLL_REMOVE) {
		if (f) {
			*f = c->fds.items[--c->fds.n];
		}
	} else if (f)
		f->events = ev;
	else if (VEC_PUSH(&c->fds, ((struct k8s_fd){ s, ev })) < 0)
		return -1;
	if (c->loop && c->loop->io && c->loop->io(c->loop_userdata, s, ev) < 0)
		return -1;
	return 0;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct k8s_client *c = userp;

	c->curl_deadline =
		timeout_ms < 0 ? UINT64_MAX : k8s_now_usec() + (uint64_t)timeout_ms * 1000;
	k8s_client_rearm(c);
	return 0;
}

static uint64_t next_deadline(const struct k8s_client *c)
{
	uint64_t d = c->curl_deadline;

	for (int k = 0; k < _MODEL_KIND_MAX; k++)
		if (c->inf[k].started && c->inf[k].state == INF_WAITING)
			d = MIN(d, c->inf[k].deadline);
	if (c->cfg->token_file && c->token_next)
		d = MIN(d, c->token_next);
	if (c->pending)
		d = 0;
	return d;
}

void k8s_client_rearm(struct k8s_client *c)
{
	uint64_t d = next_deadline(c);

	if (!c->loop || !c->loop->timer || d == c->armed)
		return;
	c->armed = d;
	c->loop->timer(c->loop_userdata, d);
}

/* ---- requests ---- */

static bool tls_is_openssl; /* libcurl's TLS backend, checked once */

/* Opens libcurl's sockets, to count the connections. */
static curl_socket_t open_socket_cb(void *userp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct k8s_client *c = userp;
	int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);

	if (fd < 0)
		return CURL_SOCKET_BAD;
	c->connections++;
	return fd;
}

uint64_t k8s_client_connections(const struct k8s_client *c)
{
	return c->connections;
}

size_t k8s_client_sockets(const struct k8s_client *c)
{
	return c->fds.n;
}

/* libcurl asks OpenSSL to free a connection's read buffer whenever it has been drained
 * (SSL_MODE_RELEASE_BUFFERS): on a watch stream that is a 16 KB malloc and free for every
 * event, and each large malloc makes glibc consolidate its small free chunks. Keeping the
 * buffers costs about 34 KB per connection. */
static CURLcode ssl_ctx_cb(CURL *easy, void *ssl_ctx, void *userp)
{
	SSL_CTX_clear_mode((SSL_CTX *)ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
	return CURLE_OK;
}

static size_t header_cb(char *buf, size_t size, size_t n, void *userp)
{
	struct k8s_req *r = userp;
	size_t len = size * n;

	if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
		char v[128];
		size_t vl = MIN(len - 12, sizeof(v) - 1);

		memcpy(v, buf + 12, vl);
		v[vl] = 0;
		r->retry_after_usec = k8s_retry_after_parse(v, (int64_t)time(NULL));
	} else if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
		/* The end of the headers: the protocol is settled (ALPN for HTTP/2). */
		long v = 0;

		curl_easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &v);
		if (r->inf)
			r->inf->stats.http_version = v == CURL_HTTP_VERSION_1_0	  ? 10
						     : v == CURL_HTTP_VERSION_1_1 ? 11
						     : v == CURL_HTTP_VERSION_2_0 ? 20
						     : v == CURL_HTTP_VERSION_3	  ? 30
										  : 0;
	} else if (len > 5 && strncmp(buf, "HTTP/", 5) == 0) {
		r->retry_after_usec = -1; /* a new response (after a redirect or 100) */
		/* Any answer means the server is there; a watch may not complete for minutes. */
		r->c->in_callback++;
		k8s_client_set_reachable(r->c, true);
		r->c->in_callback--;
	}
	return len;
}

int informer_stream_data(struct k8s_req *r, const char *data, size_t n);

static size_t write_cb(char *data, size_t size, size_t n, void *userp)
{
	struct k8s_req *r = userp;
	size_t len = size * n;
	long code = 0;
	int e;

	if (r->abort_error)
		return 0;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	if (r->streaming && code == 200) {
		r->c->in_callback++;
		e = informer_stream_data(r, data, len);
		r->c->in_callback--;
		if (e < 0) {
			r->abort_error = e;
			return 0;
		}
		return len;
	}
	/* Buffered: a LIST page or a write's answer, or the Status body of a failed watch. */
	if (r->body.len + len > (code == 200 ? r->body_max : ERROR_BODY_MAX)) {
		if (code != 200)
			return len; /* keep the start of an error body */
		r->abort_error = -EFBIG;
		return 0;
	}
	if (strbuf_append(&r->body, data, len) < 0) {
		r->abort_error = -ENOMEM;
		return 0;
	}
	return len;
}

void k8s_req_free(struct k8s_req *r)
{
	if (!r)
		return;
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->url);
	free(r->post);
	strbuf_done(&r->body);
	k8s_stream_done(&r->stream);
	k8s_pb_stream_done(&r->pbstream);
	free(r);
}

static int req_headers(struct k8s_req *r)
{
	struct k8s_client *c = r->c;
	struct curl_slist *l = NULL, *t;
	char *auth = NULL;
	const char *tok = c->token ? c->token : c->cfg->token;

	/* What client-go asks for built-in types: protobuf, or JSON from a server (or a proxy)
	 * that does not speak it; the answer's Content-Type says which it is. */
	t = curl_slist_append(l, r->accept_protobuf ? "Accept: " K8S_PROTOBUF_CONTENT_TYPE
						      ", application/json"
						    : "Accept: application/json");
	if (!t)
		goto oom;
	l = t;
	t = curl_slist_append(l, "User-Agent: npaudit/" NPAUDIT_VERSION);
	if (!t)
		goto oom;
	l = t;
	if (r->post) {
		t = curl_slist_append(l, "Content-Type: application/json");
		if (!t)
			goto oom;
		l = t;
	}
	if (tok) {
		if (asprintf(&auth, "Authorization: Bearer %s", tok) < 0)
			goto oom;
		t = curl_slist_append(l, auth);
		free(auth);
		if (!t)
			goto oom;
		l = t;
	}
	curl_slist_free_all(r->headers);
	r->headers = l;
	return 0;
oom:
	curl_slist_free_all(l);
	return -ENOMEM;
}

int k8s_req_new(struct k8s_client *c, const char *url_path, bool streaming, struct k8s_req **ret)
{
	struct k8s_config *cfg = c->cfg;
	struct k8s_req *r;
	CURL *e;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->c = c;
	r->retry_after_usec = -1;
	r->streaming = streaming;
	r->body_max = LIST_BODY_MAX;
	k8s_stream_init(&r->stream, 0);
	k8s_pb_stream_init(&r->pbstream, 0);
	if (asprintf(&r->url, "%s%s", c->url_base, url_path) < 0) {
		r->url = NULL;
		k8s_req_free(r);
		return -ENOMEM;
	}
	r->easy = e = curl_easy_init();
	if (!e) {
		k8s_req_free(r);
		return -ENOMEM;
	}
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->connect_to)
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to);
	/* HTTP/2 when the server offers it in ALPN: all watches then share one connection. */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	if (tls_is_openssl)
		curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
	if (cfg->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	if (cfg->ca_data) {
		struct curl_blob b = { cfg->ca_data, cfg->ca_data_len, CURL_BLOB_NOCOPY };

		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
	} else if (cfg->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->cert_data) {
		struct curl_blob b = { cfg->cert_data, cfg->cert_data_len, CURL_BLOB_NOCOPY };

		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (cfg->cert_file)
		curl_easy_setopt(e, CURLOPT_SSLCERT, cfg->cert_file);
	if (cfg->key_data) {
		struct curl_blob b = { cfg->key_data, cfg->key_data_len, CURL_BLOB_NOCOPY };

		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (cfg->key_file)
		curl_easy_setopt(e, CURLOPT_SSLKEY, cfg->key_file);
	if (!streaming) {
		/* A LIST page or a write: give up when nothing arrives for the request timeout. */
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
				 (long)MAX(1u, c->opts.request_timeout_usec / 1000000));
	}
	*ret = r;
	return 0;
}

int k8s_req_start(struct k8s_client *c, struct k8s_req *r)
{
	int r2;

	r2 = req_headers(r);
	if (r2 < 0) {
		k8s_req_free(r);
		return r2;
	}
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	r->started = k8s_now_usec();
	if (c->in_callback) {
		/* curl forbids adding handles from inside its callbacks: add it after. */
		r->next = c->pending;
		c->pending = r;
		return 0;
	}
	if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
		k8s_req_free(r);
		return -ENOMEM;
	}
	r->added = true;
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
	return 0;
}

static void req_unlink(struct k8s_client *c, struct k8s_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->prev = r->next = NULL;
}

static void flush_pending(struct k8s_client *c)
{
	while (c->pending) {
		struct k8s_req *r = c->pending;

		c->pending = r->next;
		r->next = NULL;
		if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
			/* Tell the owner of the request instead of losing it silently. */
			r->abort_error = -ENOMEM;
			if (r->done)
				r->done(r, CURLE_OUT_OF_MEMORY, 0);
			k8s_req_free(r);
			continue;
		}
		r->added = true;
		r->next = c->reqs;
		if (c->reqs)
			c->reqs->prev = r;
		c->reqs = r;
	}
}

static void process_done(struct k8s_client *c)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(c->multi, &left))) {
		struct k8s_req *r = NULL;
		CURLcode cc = msg->data.result;
		long code = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
		curl_multi_remove_handle(c->multi, r->easy);
		r->added = false;
		req_unlink(c, r);
		if (code == 0)
			k8s_client_set_reachable(c, false);
		if (code == 401)
			k8s_client_token_reload(c);
		if (r->done)
			r->done(r, cc, code);
		k8s_req_free(r);
	}
	flush_pending(c);
}

int k8s_client_on_io(struct k8s_client *c, int fd, unsigned revents)
{
	int running, ev = 0;
	CURLMcode mc;

	if (revents & K8S_IO_IN)
		ev |= CURL_CSELECT_IN;
	if (revents & K8S_IO_OUT)
		ev |= CURL_CSELECT_OUT;
	if (revents & K8S_IO_ERR)
		ev |= CURL_CSELECT_ERR;
	mc = curl_multi_socket_action(c->multi, fd, ev, &running);
	process_done(c);
	k8s_client_rearm(c);
	return mc == CURLM_OK ? 0 : -EIO;
}

int k8s_client_on_timer(struct k8s_client *c)
{
	uint64_t now = k8s_now_usec();
	CURLMcode mc = CURLM_OK;
	int running;

	c->armed = UINT64_MAX - 1; /* force re-arming: the owner's timer fired */
	if (now >= c->curl_deadline) {
		c->curl_deadline = UINT64_MAX;
		mc = curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		process_done(c);
	}
	flush_pending(c);
	if (c->cfg->token_file && now >= c->token_next)
		k8s_client_token_reload(c);
	for (int k = 0; k < _MODEL_KIND_MAX; k++) {
		struct informer *inf = &c->inf[k];

		if (inf->started && inf->state == INF_WAITING && now >= inf->deadline)
			informer_kick(inf);
	}
	k8s_client_rearm(c);
	return mc == CURLM_OK ? 0 : -EIO;
}

int k8s_client_run(struct k8s_client *c, uint64_t until_usec, bool (*done)(void *userdata),
		   void *userdata)
{
	_cleanup_(freep) struct pollfd *pfd = NULL;
	size_t cap = 0;

	for (;;) {
		uint64_t now, next;
		size_t n = c->fds.n;
		int k, timeout;

		if (done && done(userdata))
			return 1;
		now = k8s_now_usec();
		if (now >= until_usec)
			return 0;
		next = MIN(next_deadline(c), until_usec);
		timeout = next <= now ? 0 : (int)MIN((next - now + 999) / 1000, 60000u);
		if (n > cap) {
			struct pollfd *p = reallocarray(pfd, n, sizeof(*pfd));

			if (!p)
				return -ENOMEM;
			pfd = p;
			cap = n;
		}
		for (size_t i = 0; i < n; i++)
			pfd[i] = (struct pollfd){
				.fd = c->fds.items[i].fd,
				.events = (short)(((c->fds.items[i].events & K8S_IO_IN) ? POLLIN
											: 0) |
						  ((c->fds.items[i].events & K8S_IO_OUT) ? POLLOUT
											 : 0)),
			};
		k = poll(pfd, n, timeout);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (size_t i = 0; k > 0 && i < n; i++) {
			unsigned ev = 0;

			if (!pfd[i].revents)
				continue;
			if (pfd[i].revents & POLLIN)
				ev |= K8S_IO_IN;
			if (pfd[i].revents & POLLOUT)
				ev |= K8S_IO_OUT;
			if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL))
				ev |= K8S_IO_ERR;
			k8s_client_on_io(c, pfd[i].fd, ev);
		}
		if (k8s_now_usec() >= next_deadline(c))
			k8s_client_on_timer(c);
	}
}

/* ---- life cycle ---- */

static int opts_copy(struct k8s_options *dst, const struct k8s_options *src)
{
	*dst = src ? *src : (struct k8s_options){ 0 };
	for (int k = 0; k < _MODEL_KIND_MAX; k++) {
		dst->label_selector[k] = NULL;
		dst->field_selector[k] = NULL;
	}
	if (!dst->kinds)
		dst->kinds = (1u << _MODEL_KIND_MAX) - 1;
	if (!dst->page_size)
		dst->page_size = 500;
	if (!dst->watch_timeout_sec)
		dst->watch_timeout_sec = 300;
	if (!dst->backoff_initial_usec)
		dst->backoff_initial_usec = 800000;
	if (!dst->backoff_max_usec)
		dst->backoff_max_usec = 30000000;
	if (!dst->token_reload_usec)
		dst->token_reload_usec = 60000000;
	if (!dst->request_timeout_usec)
		dst->request_timeout_usec = 60000000;
	return 0;
}

static int config_copy(const struct k8s_config *s, struct k8s_config **ret)
{
	_cleanup_(k8s_config_freep) struct k8s_config *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
#define DUP(f)                                  \
	do {                                    \
		if (s->f) {                     \
			c->f = strdup(s->f);    \
			if (!c->f)              \
				return -ENOMEM; \
		}                               \
	} while (0)
#define DUPB(f, l)                                \
	do {                                      \
		if (s->f) {                       \
			c->f = malloc(s->l + 1);  \
			if (!c->f)                \
				return -ENOMEM;   \
			memcpy(c->f, s->f, s->l); \
			c->f[s->l] = 0;           \
			c->l = s->l;              \
		}                                 \
	} while (0)
	DUP(server);
	DUP(token);
	DUP(token_file);
	DUP(ca_file);
	DUP(cert_file);
	DUP(key_file);
	DUP(tls_server_name);
	DUP(context);
	DUP(namespace);
	DUPB(ca_data, ca_data_len);
	DUPB(cert_data, cert_data_len);
	DUPB(key_data, key_data_len);
#undef DUP
#undef DUPB
	c->insecure = s->insecure;
	*ret = TAKE_PTR(c);
	return 0;
}

/* kubeconfig's tls-server-name: verify the certificate against that name while connecting to
 * the server's address. The URL carries the name (so SNI and verification use it) and
 * CURLOPT_CONNECT_TO sends the connection to the real host and port. */
static int server_names(struct k8s_client *c, struct np_error *reterr)
{
	CURLU *u;
	char *host = NULL, *port = NULL, *url = NULL, *map = NULL;
	int r = 0;

	if (!c->cfg->tls_server_name) {
		c->url_base = strdup(c->cfg->server);
		return c->url_base ? 0 : -ENOMEM;
	}
	u = curl_url();
	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, c->cfg->server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_HOST, c->cfg->tls_server_name, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
		r = np_error_set(reterr, -EINVAL, "config", NULL, "tls-server-name", 0,
				 "cannot use tls-server-name '%.100s' with server '%.200s'",
				 c->cfg->tls_server_name, c->cfg->server);
		goto out;
	}
	if (asprintf(&map, "%s:%s:%s:%s", c->cfg->tls_server_name, port, host, port) < 0) {
		map = NULL;
		r = -ENOMEM;
		goto out;
	}
	c->connect_to = curl_slist_append(NULL, map);
	/* the URL API may add a trailing slash to an empty path */
	if (url[0] && url[strlen(url) - 1] == '/')
		url[strlen(url) - 1] = 0;
	c->url_base = strdup(url);
	if (!c->connect_to || !c->url_base)
		r = -ENOMEM;
out:
	free(map);
	curl_free(host);
	curl_free(port);
	curl_free(url);
	curl_url_cleanup(u);
	return r;
}

int k8s_client_new(const struct k8s_config *cfg, const struct k8s_options *opts, struct model *m,
		   const struct k8s_callbacks *cb, void *userdata, struct k8s_client **ret,
		   struct np_error *reterr)
{
	_cleanup_(k8s_client_freep) struct k8s_client *c = NULL;
	static bool curl_ready;
	int r;

	if (!cfg || !cfg->server)
		return np_error_set(reterr, -EINVAL, "config", NULL, "server", 0,
				    "no API server URL");
	if (!curl_ready) {
		const curl_version_info_data *vi;

		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -ENOMEM;
		vi = curl_version_info(CURLVERSION_NOW);
		tls_is_openssl =
			vi && vi->ssl_version && strncmp(vi->ssl_version, "OpenSSL/", 8) == 0;
		curl_ready = true;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->curl_deadline = UINT64_MAX;
	c->armed = UINT64_MAX - 1;
	c->model = m;
	if (cb)
		c->cb = *cb;
	c->userdata = userdata;
	r = config_copy(cfg, &c->cfg);
	if (r < 0)
		return r;
	opts_copy(&c->opts, opts);
	for (int k = 0; k < _MODEL_KIND_MAX; k++) {
		r = informer_init(&c->inf[k], c, (enum model_kind)k);
		if (r < 0)
			return r;
		if (opts && opts->label_selector[k] &&
		    !(c->inf[k].label_selector = strdup(opts->label_selector[k])))
			return -ENOMEM;
		if (opts && opts->field_selector[k] &&
		    !(c->inf[k].field_selector = strdup(opts->field_selector[k])))
			return -ENOMEM;
	}
	if (c->cfg->token_file) {
		r = read_small_file(c->cfg->token_file, &c->token);
		if (r < 0)
			return np_error_set(reterr, r == -EINVAL ? -EINVAL : r, c->cfg->token_file,
					    NULL, NULL, 0, "cannot read the token file: %s",
					    r == -EINVAL ? "empty or not one line"
							 : np_strerror(r));
		c->token_next = k8s_now_usec() + c->opts.token_reload_usec;
	}
	if (c->cfg->ca_file && access(c->cfg->ca_file, R_OK) < 0) {
		r = -errno;
		return np_error_set(reterr, r, c->cfg->ca_file, NULL, NULL, 0,
				    "cannot read the CA file: %s", np_strerror(r));
	}
	r = server_names(c, reterr);
	if (r < 0)
		return r;
	c->multi = curl_multi_init();
	if (!c->multi)
		return -ENOMEM;
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	*ret = TAKE_PTR(c);
	return 0;
}

void k8s_client_set_loop(struct k8s_client *c, const struct k8s_loop *loop, void *userdata)
{
	c->loop = loop;
	c->loop_userdata = userdata;
	c->armed = UINT64_MAX - 1;
	VEC_FOREACH (f, &c->fds)
		if (loop && loop->io)
			loop->io(userdata, f->fd, f->events);
	k8s_client_rearm(c);
}

int k8s_client_start(struct k8s_client *c)
{
	if (c->cfg->insecure)
		k8s_log(c, LOG_WARNING,
			"WARNING: TLS verification of %s is DISABLED (insecure-skip-tls-verify in "
			"the kubeconfig): anyone on the path can impersonate the API server",
			c->cfg->server);
	for (int k = 0; k < _MODEL_KIND_MAX; k++) {
		struct informer *inf = &c->inf[k];

		if (!(c->opts.kinds & (1u << k)) || inf->started)
			continue;
		inf->started = true;
		inf->need_list = true;
		informer_kick(inf);
	}
	k8s_client_rearm(c);
	return 0;
}

struct k8s_client *k8s_client_free(struct k8s_client *c)
{
	if (!c)
		return NULL;
	while (c->reqs) {
		struct k8s_req *r = c->reqs;

		req_unlink(c, r);
		curl_multi_remove_handle(c->multi, r->easy);
		k8s_req_free(r);
	}
	while (c->pending) {
		struct k8s_req *r = c->pending;

		c->pending = r->next;
		k8s_req_free(r);
	}
	for (int k = 0; k < _MODEL_KIND_MAX; k++)
		informer_done(&c->inf[k]);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->loop && c->loop->timer)
		c->loop->timer(c->loop_userdata, UINT64_MAX);
	VEC_DONE(&c->fds);
	free(c->token);
	free(c->url_base);
	curl_slist_free_all(c->connect_to);
	k8s_config_free(c->cfg);
	free(c);
	return NULL;
}

const char *k8s_status_message(const char *body, size_t len, char *buf, size_t size)
{
	json_t *j;
	const char *msg;

	if (len >= 4 && memcmp(body, "k8s", 4) == 0)
		return k8s_pb_status_message(body, len, buf, size);
	j = json_loadb(body, len, 0, NULL);
	if (!j)
		return NULL;
	msg = json_string_value(json_object_get(j, "message"));
	if (msg)
		snprintf(buf, size, "%s", msg);
	json_decref(j);
	return msg ? buf : NULL;
}
