/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared between the transport (client.c), the informers (informer.c) and writes (write.c). */

#include <curl/curl.h>

#include "k8s.h"

struct k8s_req;
typedef void (*k8s_req_done_fn)(struct k8s_req *r, CURLcode cc, long code);

struct k8s_req {
	struct k8s_client *c;
	CURL *easy;
	struct curl_slist *headers;
	char *url;
	char *post; /* request body, owned */
	struct strbuf body; /* buffered response (non-streaming, or a streaming error body) */
	size_t body_max;
	bool streaming;
	bool accept_protobuf; /* pods: protobuf preferred, JSON accepted */
	bool stream_decided, stream_protobuf; /* a watch answer's encoding, from its Content-Type */
	struct k8s_stream stream;
	struct k8s_pb_stream pbstream;
	int64_t retry_after_usec; /* -1: none */
	int abort_error; /* set when the write callback aborted the transfer */
	struct informer *inf;
	k8s_req_done_fn done;
	k8s_write_done_fn wdone;
	void *wuserdata;
	uint64_t started;
	char errbuf[CURL_ERROR_SIZE];
	struct k8s_req *prev, *next;
	bool added;
};

enum informer_state {
	INF_IDLE,
	INF_LISTING,
	INF_WATCHING,
	INF_WAITING,
	INF_DONE,
};

struct informer_entry {
	char *rv;
	uint32_t gen;
	bool invalid; /* the model rejected the last version */
	char key[];
};

struct informer {
	struct k8s_client *c;
	enum model_kind kind;
	const struct k8s_resource *res;
	char *label_selector, *field_selector;
	enum informer_state state;
	bool started, synced, need_list, progress, failed;
	char *rv;
	char *cont;
	uint32_t list_gen;
	struct hashmap store; /* key -> struct informer_entry */
	size_t count; /* entries in store (the map counts tombstones) */
	struct k8s_backoff backoff;
	uint64_t deadline;
	struct k8s_req *req;
	uint64_t watch_events;
	struct strbuf spare; /* the last page's buffer, reused while a list is paginated */
	struct k8s_stats stats;
};

struct k8s_fd {
	int fd;
	unsigned events;
};

struct k8s_client {
	CURLM *multi;
	struct k8s_config *cfg;
	struct k8s_options opts;
	struct model *model;
	struct k8s_callbacks cb;
	void *userdata;
	const struct k8s_loop *loop;
	void *loop_userdata;
	uint64_t curl_deadline;
	uint64_t armed;
	VEC(struct k8s_fd) fds;
	char *token;
	char *url_base; /* the server URL; with tls-server-name, that name as host */
	struct curl_slist *connect_to; /* tls-server-name: connect to the real host */
	uint64_t token_next;
	struct k8s_req *reqs; /* live requests */
	struct k8s_req *pending; /* created inside a callback, added after it */
	unsigned in_callback;
	uint64_t connections; /* sockets opened by libcurl */
	bool reachable, reachable_known;
	char last_error[512];
	struct informer inf[_MODEL_KIND_MAX];
};

void k8s_log(struct k8s_client *c, int prio, const char *fmt, ...) _printf_(3, 4);
/* Creates a request for path (appended to the server URL). */
int k8s_req_new(struct k8s_client *c, const char *url_path, bool streaming, struct k8s_req **ret);
/* Queues r on the multi handle (takes ownership). */
int k8s_req_start(struct k8s_client *c, struct k8s_req *r);
void k8s_req_free(struct k8s_req *r);
void k8s_client_rearm(struct k8s_client *c);
void k8s_client_set_reachable(struct k8s_client *c, bool reachable);
/* Re-reads the token file; returns 1 if the token changed, 0 if not, or -errno. */
int k8s_client_token_reload(struct k8s_client *c);
/* Returns the Status message and code of an error body, or NULL. */
const char *k8s_status_message(const char *body, size_t len, char *buf, size_t size);

int informer_init(struct informer *inf, struct k8s_client *c, enum model_kind kind);
void informer_done(struct informer *inf);
void informer_kick(struct informer *inf);
