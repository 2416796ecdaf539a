/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The Kubernetes API client: credentials (in-cluster, kubeconfig, explicit), informers that keep
 * the model current with paginated LIST + WATCH (bookmarks, resume, 410 re-list, backoff), and
 * the two writes later components need (DELETE a pod with a uid precondition, POST an Event).
 *
 * All HTTP goes through one libcurl multi handle. The owner drives it either from its own event
 * loop (k8s_client_set_loop(): the client asks for fd interest and one absolute timer; the owner
 * calls k8s_client_on_io() / k8s_client_on_timer()) or with the blocking driver k8s_client_run().
 * Callbacks into the owner happen only from those entry points. Nothing here logs: messages go
 * to the owner's log callback.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "model/model.h"
#include "util/util.h"

/* ---- configuration ---- */

struct k8s_config {
	char *server; /* "https://host:port", no trailing slash */
	char *token; /* static bearer token, or NULL */
	char *token_file; /* re-read periodically and on 401, or NULL */
	char *ca_file; /* PEM file, or NULL */
	char *ca_data; /* PEM bytes (decoded certificate-authority-data), or NULL */
	size_t ca_data_len;
	char *cert_file, *key_file; /* client certificate and key files, or NULL */
	char *cert_data, *key_data; /* decoded client-certificate-data / client-key-data */
	size_t cert_data_len, key_data_len;
	char *tls_server_name; /* tls-server-name, or NULL */
	char *context; /* the kubeconfig context used, or NULL */
	char *namespace; /* the context's namespace, or NULL */
	bool insecure; /* insecure-skip-tls-verify: true in the kubeconfig; never defaulted */
};

/* Frees c and its strings; returns NULL. */
struct k8s_config *k8s_config_free(struct k8s_config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct k8s_config *, k8s_config_free);

/* Parses a kubeconfig document (YAML or JSON) and resolves `context` (NULL: current-context).
 * Relative file paths are resolved against `dir` (NULL: the current directory). Returns 0 and
 * a new config in *ret (free with k8s_config_free()), or -EINVAL/-EBADMSG with *reterr, or
 * -ENOMEM. */
int k8s_config_parse_kubeconfig(const char *buf, size_t len, const char *name, const char *dir,
				const char *context, struct k8s_config **ret,
				struct np_error *reterr);
/* One kubeconfig document of a merge: its text, a name for messages and the directory its
 * relative paths are relative to (NULL: the current directory). */
struct k8s_kubeconfig_doc {
	const char *buf;
	size_t len;
	const char *name, *dir;
};
/* Merges kubeconfig documents as kubectl merges the files of $KUBECONFIG: the first document to
 * set a context, cluster or user of a given name wins (its entry is taken whole), current-context
 * comes from the first that sets it, and each entry's relative paths are relative to its own
 * document's dir. An empty document adds nothing. Returns as k8s_config_parse_kubeconfig(). */
int k8s_config_parse_kubeconfigs(const struct k8s_kubeconfig_doc *docs, size_t n,
				 const char *context, struct k8s_config **ret,
				 struct np_error *reterr);
/* Reads a kubeconfig file (NULL: every existing file in the colon-separated $KUBECONFIG, merged
 * as k8s_config_parse_kubeconfigs() does; else ~/.kube/config). Returns as
 * k8s_config_parse_kubeconfig(), or -ENOENT/-errno with *reterr when unreadable or when no file
 * of $KUBECONFIG exists. */
int k8s_config_load_kubeconfig(const char *path, const char *context, struct k8s_config **ret,
			       struct np_error *reterr);
/* The in-cluster config: $KUBERNETES_SERVICE_HOST/PORT and the service-account token and CA
 * under sa_dir (NULL: /var/run/secrets/kubernetes.io/serviceaccount). Returns 0 and *ret, or
 * -ENXIO when not running in a cluster, or -errno with *reterr. */
int k8s_config_in_cluster(const char *sa_dir, struct k8s_config **ret, struct np_error *reterr);
/* An explicit config: server URL, token file (may be NULL), CA file (NULL: system CAs).
 * Returns 0 and *ret, or -EINVAL with *reterr for a URL that is not http(s), or -ENOMEM. */
int k8s_config_explicit(const char *server, const char *token_file, const char *ca_file,
			struct k8s_config **ret, struct np_error *reterr);
/* Picks a config the way the CLI and daemon do: explicit server if given; else the kubeconfig
 * (path or $KUBECONFIG) if one is given or exists; else in-cluster. Returns as above. */
int k8s_config_auto(const char *kubeconfig, const char *server, const char *token_file,
		    const char *ca_file, struct k8s_config **ret, struct np_error *reterr);

/* Decodes standard base64 (whitespace ignored) into a new buffer in *ret (NUL-terminated,
 * length in *ret_len; caller frees). Returns 0, -EINVAL for bad input, or -ENOMEM. */
int k8s_base64_decode(const char *s, size_t n, char **ret, size_t *ret_len);

/* ---- backoff ---- */

/* Exponential backoff with jitter: the n-th consecutive failure waits a uniformly random time in
 * [d/2, d] where d = initial * 2^n capped at max. */
struct k8s_backoff {
	uint64_t initial_usec, max_usec;
	unsigned failures;
	uint64_t rand_state; /* xorshift state; 0 seeds from the clock */
};

/* Returns the delay before the next attempt and counts one failure. */
uint64_t k8s_backoff_next(struct k8s_backoff *b);
/* Forgets the failures after a success. */
void k8s_backoff_reset(struct k8s_backoff *b);
/* Parses a Retry-After header value (delta-seconds or an HTTP date). Returns the delay in usec
 * clamped to [0, 600 s], or -EINVAL. `now` is the wall clock (time(NULL)) for dates. */
int64_t k8s_retry_after_parse(const char *value, int64_t now);

/* ---- watch stream decoding ---- */

/*
 * Splits a byte stream into top-level JSON objects as the API server writes them (one JSON
 * object per event, newline-terminated), across arbitrary chunk boundaries, in one pass over the
 * bytes however long an event is. metadata.managedFields is dropped before decoding.
 */
struct k8s_stream {
	char *buf;
	size_t len, cap;
	size_t start; /* start of the current value in buf */
	size_t scan; /* next byte to scan */
	size_t max_value; /* largest accepted value in bytes */
	unsigned depth;
	bool in_string, escape, in_value;
	bool failed;
};

enum k8s_watch_type {
	K8S_WATCH_ADDED,
	K8S_WATCH_MODIFIED,
	K8S_WATCH_DELETED,
	K8S_WATCH_BOOKMARK,
	K8S_WATCH_ERROR,
};

/* Called for every complete value; obj is borrowed. Return < 0 to stop the feed (returned). */
typedef int (*k8s_stream_value_fn)(void *userdata, json_t *value);

/* Initialises s with a value size limit (0: 256 MiB). */
void k8s_stream_init(struct k8s_stream *s, size_t max_value);
/* Frees the buffer of s. */
void k8s_stream_done(struct k8s_stream *s);
/* Feeds n bytes; calls fn for each complete JSON value. Returns 0, or -EBADMSG with *reterr
 * when the stream is malformed (not an object at top level, bad JSON, a value over the limit;
 * the stream is unusable after that), or fn's negative return, or -ENOMEM. */
int k8s_stream_feed(struct k8s_stream *s, const void *data, size_t n, k8s_stream_value_fn fn,
		    void *userdata, struct np_error *reterr);
/* Returns whether a partial value is pending (the stream ended mid-event). */
bool k8s_stream_pending(const struct k8s_stream *s);

/* Called for every element of a List's items; item is borrowed. Return < 0 to stop. */
typedef int (*k8s_list_item_fn)(void *userdata, json_t *item);

/* Decodes a List answer ({"metadata": {...}, "items": [...], ...}) one item at a time, so that
 * a page never exists as one document tree. Calls fn for each item (an element that is not an
 * object is passed as well; the caller reports it) and returns the List's metadata in
 * *ret_metadata (a new reference; an empty object when missing). Items lose
 * metadata.managedFields (as watch events do); buf is modified. Returns 0, or -EBADMSG with
 * *reterr when the body is not a List, or fn's negative return, or -ENOMEM. */
int k8s_list_parse(char *buf, size_t len, k8s_list_item_fn fn, void *userdata,
		   json_t **ret_metadata, struct np_error *reterr);

/* Bytes of a JSON string's contents as they are in the text (no escapes in them). */
struct k8s_raw {
	const char *p;
	size_t len;
};

/* Called before an item is decoded with its metadata.namespace (p NULL when absent), .name and
 * .resourceVersion as they are in the text; return > 0 to skip the item undecoded (fn is not
 * called for it). Items whose fields are missing or escaped are decoded without asking. */
typedef int (*k8s_list_peek_fn)(void *userdata, const struct k8s_raw *ns,
				const struct k8s_raw *name, const struct k8s_raw *rv);

/* As k8s_list_parse(), with peek (may be NULL) asked first for each item: a re-list skips the
 * objects the owner holds unchanged without decoding them. */
int k8s_list_parse_peek(char *buf, size_t len, k8s_list_peek_fn peek, k8s_list_item_fn fn,
			void *userdata, json_t **ret_metadata, struct np_error *reterr);

/* ---- List answers in protobuf ---- */

/* The media type of the API server's protobuf encoding (built-in types only). */
#define K8S_PROTOBUF_CONTENT_TYPE "application/vnd.kubernetes.protobuf"

/* An object's metadata.name, .namespace and .resourceVersion as bytes of the answer (not
 * NUL-terminated; p NULL when absent). */
struct k8s_pb_meta {
	struct k8s_raw name, ns, rv;
};

/* A List's metadata.resourceVersion and .continue as bytes of the answer (len 0 when absent). */
struct k8s_pb_list_meta {
	struct k8s_raw rv, cont;
};

/* Called for every item of a protobuf List with the item's message bytes (borrowed) and its
 * metadata, or md NULL when the item's metadata does not read (the caller reports the item).
 * Return < 0 to stop. */
typedef int (*k8s_pb_item_fn)(void *userdata, const void *item, size_t len,
			      const struct k8s_pb_meta *md);

/* Reads a List answer in protobuf ("k8s\0", runtime.Unknown, then the List whose kind must be
 * list_kind, e.g. "PodList", when the envelope names one) item by item without decoding the
 * items. Returns 0 and the List's metadata in *ret_meta (pointing into buf), or -EBADMSG with
 * *reterr when the envelope or the List's framing is malformed, or fn's negative return. */
int k8s_pb_list_parse(const void *buf, size_t len, const char *list_kind, k8s_pb_item_fn fn,
		      void *userdata, struct k8s_pb_list_meta *ret_meta, struct np_error *reterr);
/* Finds the metadata of an object message (field 1, ObjectMeta) without decoding the rest.
 * Returns 0 and *ret, or -EBADMSG. */
int k8s_pb_object_meta(const void *obj, size_t len, struct k8s_pb_meta *ret);
/* Returns the message of a meta/v1 Status in protobuf (an error answer to a protobuf request)
 * copied into buf, or NULL. */
const char *k8s_pb_status_message(const void *body, size_t len, char *buf, size_t size);

/* A watch stream in protobuf (Content-Type application/vnd.kubernetes.protobuf;stream=watch):
 * frames of a 4-byte big-endian length and a WatchEvent, split across any chunks. */
struct k8s_pb_stream {
	uint8_t *buf;
	size_t len, cap;
	size_t max_frame;
	bool failed;
};

/* Called for every event: its type, the object's kind as its envelope names it, the object's
 * message (borrowed; a Status for ERROR) and its metadata (NULL when it does not read; the
 * caller reports the object). Return < 0 to stop the feed (returned). */
typedef int (*k8s_pb_event_fn)(void *userdata, enum k8s_watch_type type, const struct k8s_raw *kind,
			       const void *obj, size_t len, const struct k8s_pb_meta *md);

/* Initialises s with a frame size limit (0: 256 MiB). */
void k8s_pb_stream_init(struct k8s_pb_stream *s, size_t max_frame);
/* Frees the buffer of s. */
void k8s_pb_stream_done(struct k8s_pb_stream *s);
/* Feeds n bytes; calls fn for each complete event. Returns 0, or -EBADMSG with *reterr when the
 * stream is malformed (the stream is unusable after that), or fn's negative return, or
 * -ENOMEM. */
int k8s_pb_stream_feed(struct k8s_pb_stream *s, const void *data, size_t n, k8s_pb_event_fn fn,
		       void *userdata, struct np_error *reterr);
/* Returns whether a partial frame is pending (the stream ended mid-event). */
bool k8s_pb_stream_pending(const struct k8s_pb_stream *s);
/* Reads a meta/v1 Status message (without envelope): its code (0 when absent) and message
 * (pointing into msg). Returns 0, or -EBADMSG. */
int k8s_pb_status(const void *msg, size_t len, long *ret_code, struct k8s_raw *ret_message);

/* Decodes a watch event {"type": ..., "object": {...}}: the type and the borrowed object.
 * Returns 0, or -EBADMSG with *reterr. */
int k8s_watch_event_parse(json_t *ev, enum k8s_watch_type *ret_type, json_t **ret_object,
			  struct np_error *reterr);

/* ---- the client ---- */

/* The API resources the informers follow, indexed by enum model_kind. */
struct k8s_resource {
	const char *kind, *api_version;
	const char *path; /* collection path, e.g. "/api/v1/pods" */
	bool namespaced;
};
/* Returns the resource description of kind (static). */
const struct k8s_resource *k8s_resource_get(enum model_kind kind);

enum k8s_io {
	K8S_IO_IN = 1 << 0,
	K8S_IO_OUT = 1 << 1,
	K8S_IO_ERR = 1 << 2, /* revents only: error or hang-up (EPOLLERR/EPOLLHUP) */
};

/* The owner's event loop. */
struct k8s_loop {
	/* Watch fd for `events` (K8S_IO_*); events == 0 removes it. Returns 0 or -errno. */
	int (*io)(void *userdata, int fd, unsigned events);
	/* Arm the single timer at an absolute CLOCK_MONOTONIC time in usec; UINT64_MAX disarms. */
	int (*timer)(void *userdata, uint64_t usec);
};

enum k8s_event {
	K8S_EVENT_ADDED,
	K8S_EVENT_MODIFIED,
	K8S_EVENT_DELETED,
};

struct k8s_callbacks {
	/* An object was added/modified/deleted (after the model was updated); obj is borrowed and
	 * carries kind and apiVersion. For deletes of objects that vanished during a disconnect,
	 * and for pods listed in protobuf (see k8s_options.json_only), obj has only metadata
	 * (namespace, name, resourceVersion). */
	void (*object)(void *userdata, enum model_kind kind, enum k8s_event event, json_t *obj);
	/* The first complete LIST of kind has been applied (once per informer). */
	void (*synced)(void *userdata, enum model_kind kind);
	/* The API server became reachable / unreachable. */
	void (*reachable)(void *userdata, bool reachable);
	/* A message for the log, priority as syslog's LOG_*. */
	void (*log)(void *userdata, int priority, const char *message);
};

struct k8s_options {
	unsigned kinds; /* bit (1 << enum model_kind) per informer; 0: all five */
	const char *label_selector[_MODEL_KIND_MAX]; /* optional, per kind */
	const char *field_selector[_MODEL_KIND_MAX]; /* optional, e.g. "spec.nodeName=node-1" */
	unsigned page_size; /* LIST limit; 0: 500 */
	unsigned watch_timeout_sec; /* 0: 300; each watch asks a random value in [t, 2t) */
	uint64_t backoff_initial_usec; /* 0: 800 ms */
	uint64_t backoff_max_usec; /* 0: 30 s */
	uint64_t token_reload_usec; /* 0: 60 s */
	uint64_t request_timeout_usec; /* LIST and writes; 0: 60 s without progress */
	bool list_only; /* stop after the initial LIST (no watch) */
	unsigned max_failures; /* list_only: give up after this many consecutive failures; 0: never
				*/
	bool keep_objects; /* hand list items to callbacks.object as ADDED (cluster-dump) */
	bool json_only; /* list pods in JSON too (by default they are asked for in protobuf) */
};

struct k8s_stats {
	uint64_t lists, relists, pages, watches, events, bookmarks, errors, malformed;
	uint64_t unchanged; /* list items skipped undecoded: held at the same resourceVersion */
	uint64_t protobuf_pages; /* list pages answered in protobuf */
	uint64_t bytes;
	bool synced;
	char resource_version[64];
	size_t objects;
	unsigned http_version; /* of the informer's last answer: 10, 11, 20 or 30; 0 before one */
};

struct k8s_client;

/* Creates a client for cfg feeding model m (may be NULL: objects only go to the callbacks).
 * Borrows m, cb and userdata; copies cfg and opts (selectors included). Returns 0 and *ret (free
 * with k8s_client_free()), or -EINVAL with *reterr (unreadable CA or token file), or -ENOMEM. */
int k8s_client_new(const struct k8s_config *cfg, const struct k8s_options *opts, struct model *m,
		   const struct k8s_callbacks *cb, void *userdata, struct k8s_client **ret,
		   struct np_error *reterr);
/* Stops every transfer and frees c; returns NULL. The owner's loop gets io(fd, 0) calls. */
struct k8s_client *k8s_client_free(struct k8s_client *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct k8s_client *, k8s_client_free);

/* Hands fd and timer management to the owner's loop (call before k8s_client_start()). */
void k8s_client_set_loop(struct k8s_client *c, const struct k8s_loop *loop, void *userdata);
/* Starts the informers. Returns 0 or -ENOMEM. */
int k8s_client_start(struct k8s_client *c);
/* The owner's loop saw `revents` (K8S_IO_*) on fd. Returns 0 or -errno (multi handle broken). */
int k8s_client_on_io(struct k8s_client *c, int fd, unsigned revents);
/* The owner's timer expired. Returns 0 or -errno. */
int k8s_client_on_timer(struct k8s_client *c);
/* Blocking driver: runs until done(userdata) is true (checked after each step) or the absolute
 * CLOCK_MONOTONIC time `until_usec` passes. Returns 1 when done, 0 on timeout, or -errno. */
int k8s_client_run(struct k8s_client *c, uint64_t until_usec, bool (*done)(void *userdata),
		   void *userdata);

/* Returns whether every started informer has completed its first LIST. */
bool k8s_client_synced(const struct k8s_client *c);
/* Returns whether every started informer is idle after its LIST in list_only mode (listed, or
 * given up after max_failures; k8s_client_synced() tells which). */
bool k8s_client_finished(const struct k8s_client *c);
/* Returns the last warning or error message (owned by c), or NULL. */
const char *k8s_client_last_error(const struct k8s_client *c);
/* Returns whether the last request reached the API server (any HTTP answer counts). */
bool k8s_client_reachable(const struct k8s_client *c);
/* Fills *ret with the counters of kind's informer. Returns 0, or -ENOENT if not started. */
int k8s_client_stats(const struct k8s_client *c, enum model_kind kind, struct k8s_stats *ret);
/* Calls fn for every object key ("ns/name" or "name") the informer of kind holds, with its
 * resourceVersion; in no particular order. Returns the number of objects. */
size_t k8s_client_foreach(const struct k8s_client *c, enum model_kind kind,
			  void (*fn)(void *userdata, const char *key, const char *rv),
			  void *userdata);
/* Returns how many TCP connections the client has opened so far, attempts that failed
 * included (with HTTP/2 every request shares one; with HTTP/1.1 each open watch holds its own). */
uint64_t k8s_client_connections(const struct k8s_client *c);
/* Returns how many sockets the client watches right now (one per connection in use). */
size_t k8s_client_sockets(const struct k8s_client *c);
/* Returns the current monotonic time in usec (the clock of the loop interface). */
uint64_t k8s_now_usec(void);

/* The result of a write: 0, or -ENOENT (404), -ESTALE (409: precondition failed), -EACCES
 * (401/403), -EIO (other HTTP error; message has the Status message), -ETIMEDOUT/-ECONNREFUSED
 * etc. for transport errors. message is borrowed for the call. */
typedef void (*k8s_write_done_fn)(void *userdata, int result, long http_code, const char *message);

/* Deletes pod ns/name if its uid is still `uid` (DeleteOptions preconditions). done is called
 * once, later, from the loop. Returns 0 (request queued) or -ENOMEM/-EINVAL. */
int k8s_pod_delete(struct k8s_client *c, const char *ns, const char *name, const char *uid,
		   k8s_write_done_fn done, void *userdata);
/* Creates a core/v1 Event in namespace ns from ev (borrowed; apiVersion/kind added when
 * missing). Returns 0 (queued) or -ENOMEM/-EINVAL. */
int k8s_event_post(struct k8s_client *c, const char *ns, json_t *ev, k8s_write_done_fn done,
		   void *userdata);
