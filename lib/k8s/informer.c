/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Informers: the reflector protocol of client-go for one resource. A paginated LIST (limit,
 * continue; an expired continue token restarts the list) replaces what we hold, then a WATCH
 * from the list's resourceVersion with bookmarks keeps it current. A closed stream resumes
 * from the last resourceVersion seen (bookmarks included); 410 Gone (as HTTP status or as an
 * ERROR event) re-lists, and objects missing from the new list are deleted. Failures back off
 * exponentially with jitter; Retry-After is honoured on 429/503.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "k8s-internal.h"

static void informer_list(struct informer *inf);
static void informer_watch(struct informer *inf);

int informer_init(struct informer *inf, struct k8s_client *c, enum model_kind kind)
{
	*inf = (struct informer){
		.c = c,
		.kind = kind,
		.res = k8s_resource_get(kind),
		.backoff = { .initial_usec = c->opts.backoff_initial_usec,
			     .max_usec = c->opts.backoff_max_usec },
	};
	return 0;
}

static void entry_free(struct informer_entry *e)
{
	if (!e)
		return;
	free(e->rv);
	free(e);
}

void informer_done(struct informer *inf)
{
	HASHMAP_FOREACH (e, &inf->store)
		entry_free(e->value);
	hashmap_done(&inf->store);
	strbuf_done(&inf->spare);
	free(inf->rv);
	free(inf->cont);
	free(inf->label_selector);
	free(inf->field_selector);
	inf->rv = inf->cont = inf->label_selector = inf->field_selector = NULL;
}

static void set_str(char **p, const char *s)
{
	char *n = s ? strdup(s) : NULL;

	/* On OOM keep the old value: a stale resourceVersion only costs a re-list. */
	if (s && !n)
		return;
	free(*p);
	*p = n;
}

static void schedule(struct informer *inf, uint64_t delay)
{
	inf->state = INF_WAITING;
	inf->deadline = k8s_now_usec() + delay;
	k8s_client_rearm(inf->c);
}

/* A failed attempt: back off, or wait what Retry-After says. */
static void retry_later(struct informer *inf, int64_t retry_after)
{
	uint64_t d = k8s_backoff_next(&inf->backoff);

	inf->stats.errors++;
	if (inf->c->opts.list_only && inf->c->opts.max_failures &&
	    inf->backoff.failures >= inf->c->opts.max_failures) {
		inf->state = INF_DONE;
		inf->failed = true;
		return;
	}
	if (retry_after >= 0)
		d = (uint64_t)retry_after + d / 8; /* a little jitter on top */
	schedule(inf, d);
}

void informer_kick(struct informer *inf)
{
	inf->deadline = 0;
	if (inf->need_list)
		informer_list(inf);
	else
		informer_watch(inf);
}

/* Restarts right away after progress, with backoff when the last attempt achieved nothing:
 * whatever the server does, we never loop without waiting. */
static void restart(struct informer *inf)
{
	if (inf->progress) {
		inf->progress = false;
		k8s_backoff_reset(&inf->backoff);
		informer_kick(inf);
	} else
		retry_later(inf, -1);
}

static int url_append(struct strbuf *sb, const char *key, const char *value)
{
	char *e = curl_easy_escape(NULL, value, 0);
	int r;

	if (!e)
		return -ENOMEM;
	r = strbuf_printf(sb, "%c%s=%s", strchr(strbuf_str(sb), '?') ? '&' : '?', key, e);
	curl_free(e);
	return r;
}

static int selectors_append(struct informer *inf, struct strbuf *sb)
{
	int r = 0;

	if (inf->label_selector)
		r = url_append(sb, "labelSelector", inf->label_selector);
	if (r >= 0 && inf->field_selector)
		r = url_append(sb, "fieldSelector", inf->field_selector);
	return r;
}

/* ---- objects ---- */

static void report_malformed_name(struct informer *inf, const char *ns, const char *name,
				  const struct np_error *err)
{
	char buf[1024];

	inf->stats.malformed++;
	k8s_log(inf->c, LOG_WARNING, "Skipping malformed %s %s%s%s: %s", inf->res->kind,
		ns ? ns : "", ns ? "/" : "", name ? name : "(no name)",
		err ? np_error_format(err, buf, sizeof(buf)) : "missing metadata");
}

static void report_malformed(struct informer *inf, json_t *obj, const struct np_error *err)
{
	json_t *md = json_object_get(obj, "metadata");

	report_malformed_name(inf, json_string_value(json_object_get(md, "namespace")),
			      json_string_value(json_object_get(md, "name")), err);
}

static int object_key(struct informer *inf, json_t *obj, char *buf, size_t size)
{
	json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	size_t nl, nsl = 0;

	if (!name || !*name || (inf->res->namespaced && (!ns || !*ns)))
		return -EBADMSG;
	/* once per object and event: no printf */
	nl = strlen(name);
	if (inf->res->namespaced)
		nsl = strlen(ns) + 1;
	if (nsl + nl + 1 > size)
		return -EBADMSG;
	if (nsl) {
		memcpy(buf, ns, nsl - 1);
		buf[nsl - 1] = '/';
	}
	memcpy(buf + nsl, name, nl + 1);
	return 0;
}

static void rv_copy(struct informer *inf, const char *rv)
{
	size_t n = MIN(strlen(rv), sizeof(inf->stats.resource_version) - 1);

	memcpy(inf->stats.resource_version, rv, n);
	inf->stats.resource_version[n] = 0;
}

static void emit(struct informer *inf, enum k8s_event ev, json_t *obj)
{
	struct k8s_client *c = inf->c;

	if (!c->cb.object)
		return;
	/* Watch events name their kind; list items usually do not: add it for the owner. */
	if (!json_object_get(obj, "kind"))
		json_object_set_new(obj, "kind", json_string(inf->res->kind));
	if (!json_object_get(obj, "apiVersion"))
		json_object_set_new(obj, "apiVersion", json_string(inf->res->api_version));
	c->in_callback++;
	c->cb.object(c->userdata, inf->kind, ev, obj);
	c->in_callback--;
}

static int model_apply(struct informer *inf, json_t *obj, bool deleted, struct np_error *err)
{
	if (!inf->c->model)
		return 0;
	return model_apply_json(inf->c->model, obj, inf->kind, deleted, err);
}

/* Adds a store entry for key; returns it, or NULL on OOM. */
static struct informer_entry *entry_add(struct informer *inf, const char *key)
{
	size_t kl = strlen(key);
	struct informer_entry *e;

	e = calloc(1, sizeof(*e) + kl + 1);
	if (!e)
		return NULL;
	memcpy(e->key, key, kl + 1);
	if (hashmap_put(&inf->store, e->key, e) < 0) {
		free(e);
		return NULL;
	}
	inf->count++;
	return e;
}

/* Applies an added/modified/listed (deleted = false) or deleted object. Returns 0, or -ENOMEM
 * (everything the server sends that is wrong is reported and skipped). */
static int apply_object(struct informer *inf, json_t *obj, bool deleted, bool listed)
{
	struct informer_entry *e;
	struct np_error err = { 0 };
	char key[512];
	const char *rv;
	int r;

	if (object_key(inf, obj, key, sizeof(key)) < 0) {
		report_malformed(inf, obj, NULL);
		return 0;
	}
	rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	if (!rv)
		rv = "";

	e = hashmap_get(&inf->store, key);
	if (deleted) {
		if (!e)
			return 0; /* never saw it (or already gone): nothing to undo */
		hashmap_remove(&inf->store, e->key);
		entry_free(e);
		inf->count--;
		r = model_apply(inf, obj, true, &err);
		if (r == -ENOMEM)
			return r;
		emit(inf, K8S_EVENT_DELETED, obj);
		return 0;
	}
	if (e && listed && !e->invalid && streq(e->rv, rv) && !inf->c->opts.keep_objects) {
		e->gen = inf->list_gen; /* unchanged since we last saw it */
		return 0;
	}
	if (!e) {
		e = entry_add(inf, key);
		if (!e)
			return -ENOMEM;
		r = 1;
	} else
		r = 0;
	set_str(&e->rv, rv);
	e->gen = inf->list_gen;
	{
		bool added = r == 1;

		r = model_apply(inf, obj, false, &err);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			/* The model keeps the previous version, if any: a policy that became
			 * unreadable must not silently vanish from the expected side. */
			e->invalid = true;
			report_malformed(inf, obj, &err);
			return 0;
		}
		e->invalid = false;
		emit(inf, added ? K8S_EVENT_ADDED : K8S_EVENT_MODIFIED, obj);
	}
	return 0;
}

/* After a complete list: everything not in it vanished while we were not watching. */
static int delete_unlisted(struct informer *inf)
{
	VEC(struct informer_entry *) gone = { 0 };
	int r = 0;

	HASHMAP_FOREACH (he, &inf->store) {
		struct informer_entry *e = he->value;

		if (e->gen != inf->list_gen && VEC_PUSH(&gone, e) < 0) {
			VEC_DONE(&gone);
			return -ENOMEM;
		}
	}
	VEC_FOREACH (p, &gone) {
		struct informer_entry *e = *p;
		char *slash = inf->res->namespaced ? strchr(e->key, '/') : NULL;
		json_t *md, *obj;

		md = slash ? json_pack("{s:s%, s:s, s:s}", "namespace", e->key,
				       (size_t)(slash - e->key), "name", slash + 1,
				       "resourceVersion", e->rv ? e->rv : "")
			   : json_pack("{s:s, s:s}", "name", e->key, "resourceVersion",
				       e->rv ? e->rv : "");
		obj = md ? json_pack("{s:s, s:s, s:o}", "kind", inf->res->kind, "apiVersion",
				     inf->res->api_version, "metadata", md)
			 : NULL;
		if (!obj) {
			r = -ENOMEM;
			break;
		}
		r = apply_object(inf, obj, true, false);
		json_decref(obj);
		if (r < 0)
			break;
	}
	VEC_DONE(&gone);
	return r;
}

/* ---- LIST ---- */

static void log_http_error(struct informer *inf, const char *what, struct k8s_req *r, CURLcode cc,
			   long code)
{
	char buf[512];
	const char *msg = NULL;

	if (r->abort_error) {
		/* The answer was abandoned on our side (too large, out of memory): say why, and
		 * never parse the part received, which may be hundreds of MB of a LIST. */
		k8s_log(inf->c, LOG_WARNING, "%s %s: HTTP %ld, answer abandoned: %s", what,
			inf->res->path, code, np_strerror(r->abort_error));
		return;
	}
	if (cc != CURLE_OK && code == 0) {
		k8s_log(inf->c, LOG_WARNING, "%s %s failed: %s", what, inf->res->path,
			r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
		return;
	}
	/* Only an error's body is a Status (and is kept short by the write callback). */
	if (r->body.len && code != 200)
		msg = k8s_status_message(r->body.s, r->body.len, buf, sizeof(buf));
	k8s_log(inf->c, code == 410 ? LOG_INFO : LOG_WARNING, "%s %s: HTTP %ld%s%s", what,
		inf->res->path, code, msg ? ": " : "", msg ? msg : "");
}

static void list_finish(struct informer *inf, const char *rv)
{
	int r;

	strbuf_done(&inf->spare); /* no more pages: give the memory back */
	r = delete_unlisted(inf);
	if (r < 0) {
		retry_later(inf, -1);
		return;
	}
	set_str(&inf->rv, rv);
	if (rv)
		rv_copy(inf, rv);
	inf->need_list = false;
	inf->progress = true;
	k8s_backoff_reset(&inf->backoff);
	if (!inf->synced) {
		inf->synced = inf->stats.synced = true;
		if (inf->c->cb.synced) {
			inf->c->in_callback++;
			inf->c->cb.synced(inf->c->userdata, inf->kind);
			inf->c->in_callback--;
		}
	}
	if (inf->c->opts.list_only) {
		inf->state = INF_DONE;
		return;
	}
	informer_watch(inf);
}

/* A re-list: an object the informer holds at the same resourceVersion is not decoded again
 * (what apply_object() would find after decoding it, found in the text). Returns 1 to skip. */
static int list_peek(void *userdata, const struct k8s_raw *ns, const struct k8s_raw *name,
		     const struct k8s_raw *rv)
{
	struct informer *inf = userdata;
	struct informer_entry *e;
	size_t nsl = 0;
	char key[512];

	if (inf->c->opts.keep_objects || name->len == 0)
		return 0;
	if (inf->res->namespaced) {
		if (!ns->p || ns->len == 0)
			return 0;
		nsl = ns->len + 1;
	}
	if (nsl + name->len + 1 > sizeof(key))
		return 0;
	if (nsl) {
		memcpy(key, ns->p, ns->len);
		key[ns->len] = '/';
	}
	memcpy(key + nsl, name->p, name->len);
	key[nsl + name->len] = 0;
	if (strlen(key) != nsl + name->len)
		return 0; /* a NUL byte in the text: let jansson judge it */
	e = hashmap_get(&inf->store, key);
	if (!e || e->invalid || !e->rv || strlen(e->rv) != rv->len ||
	    memcmp(e->rv, rv->p, rv->len) != 0)
		return 0;
	e->gen = inf->list_gen;
	inf->stats.unchanged++;
	return 1;
}

static int list_item(void *userdata, json_t *item)
{
	struct informer *inf = userdata;

	if (!json_is_object(item)) {
		report_malformed(inf, item, NULL);
		return 0;
	}
	return apply_object(inf, item, false, true);
}

/* Copies a raw string into buf as a C string; false when it does not fit or holds a NUL. */
static bool raw_cstr(const struct k8s_raw *v, char *buf, size_t size)
{
	if (!v->p || v->len >= size || memchr(v->p, 0, v->len))
		return false;
	memcpy(buf, v->p, v->len);
	buf[v->len] = 0;
	return true;
}

/* An object in protobuf (only pods are asked for in protobuf), listed or added/modified by a
 * watch: the store is keyed from the peeked metadata, the model decodes the message. Callbacks
 * get the metadata only. Returns 0, or -ENOMEM. */
static int apply_pb(struct informer *inf, const void *item, size_t len,
		    const struct k8s_pb_meta *md, bool listed)
{
	struct informer_entry *e;
	struct np_error err = { 0 };
	char ns[254], name[254], rv[128], key[512];
	bool added = false;
	int r;

	ns[0] = name[0] = rv[0] = 0;
	if (!md || !raw_cstr(&md->name, name, sizeof(name)) || !*name ||
	    (inf->res->namespaced && (!raw_cstr(&md->ns, ns, sizeof(ns)) || !*ns)) ||
	    (md->rv.p && !raw_cstr(&md->rv, rv, sizeof(rv)))) {
		report_malformed_name(inf, *ns ? ns : NULL, *name ? name : NULL, NULL);
		return 0;
	}
	{
		/* once per item: no printf */
		size_t nsl = strlen(ns), nl = strlen(name);

		memcpy(key, ns, nsl);
		key[nsl] = '/';
		nsl += nsl > 0;
		memcpy(key + nsl, name, nl + 1);
	}
	e = hashmap_get(&inf->store, key);
	if (listed && e && !e->invalid && e->rv && streq(e->rv, rv) && !inf->c->opts.keep_objects) {
		/* Held at this resourceVersion: not decoded again. */
		e->gen = inf->list_gen;
		inf->stats.unchanged++;
		return 0;
	}
	if (!e) {
		e = entry_add(inf, key);
		if (!e)
			return -ENOMEM;
		added = true;
	}
	set_str(&e->rv, rv);
	e->gen = inf->list_gen;
	r = inf->c->model ? model_apply_pod_protobuf(inf->c->model, item, len, &err) : 0;
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		e->invalid = true;
		report_malformed_name(inf, *ns ? ns : NULL, name, &err);
		return 0;
	}
	e->invalid = false;
	if (inf->c->cb.object) {
		_cleanup_(json_decrefp) json_t *obj = NULL;

		obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "kind", inf->res->kind,
				"apiVersion", inf->res->api_version, "metadata", "namespace", ns,
				"name", name, "resourceVersion", rv);
		if (!obj)
			return -ENOMEM;
		emit(inf, added ? K8S_EVENT_ADDED : K8S_EVENT_MODIFIED, obj);
	}
	return 0;
}

static int list_item_pb(void *userdata, const void *item, size_t len, const struct k8s_pb_meta *md)
{
	return apply_pb(userdata, item, len, md, true);
}

/* Pods are most of a cluster and the most costly to decode: as client-go does for built-in
 * types, they are asked for in protobuf (cluster-dump prints whole objects: JSON). */
static bool wants_protobuf(struct informer *inf)
{
	return inf->kind == MODEL_POD && !inf->c->opts.keep_objects && !inf->c->opts.json_only;
}

/* Whether the answer's Content-Type is the protobuf encoding. */
static bool answer_is_protobuf(struct k8s_req *r)
{
	const size_t n = sizeof(K8S_PROTOBUF_CONTENT_TYPE) - 1;
	const char *ct = NULL;

	if (curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK || !ct)
		return false;
	return strncasecmp(ct, K8S_PROTOBUF_CONTENT_TYPE, n) == 0 &&
	       (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/* Decodes a page in protobuf; returns as k8s_list_parse_peek(), with the List's
 * resourceVersion and continue token as new strings. */
static int list_parse_pb(struct informer *inf, struct k8s_req *r, char **ret_rv, char **ret_cont,
			 struct np_error *err)
{
	struct k8s_pb_list_meta lm;
	char kind[64];
	int e;

	snprintf(kind, sizeof(kind), "%sList", inf->res->kind);
	e = k8s_pb_list_parse(r->body.s ? r->body.s : "", r->body.len, kind, list_item_pb, inf, &lm,
			      err);
	if (e < 0)
		return e;
	if (memchr(lm.rv.p, 0, lm.rv.len) || memchr(lm.cont.p, 0, lm.cont.len))
		return np_error_set(err, -EBADMSG, "list", NULL, "metadata", 0,
				    "protobuf: a NUL byte in the List's metadata");
	*ret_rv = strndup(lm.rv.p, lm.rv.len);
	*ret_cont = strndup(lm.cont.p, lm.cont.len);
	if (!*ret_rv || !*ret_cont) {
		free(*ret_rv);
		free(*ret_cont);
		*ret_rv = *ret_cont = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void list_done(struct k8s_req *r, CURLcode cc, long code)
{
	struct informer *inf = r->inf;
	struct np_error err = { 0 };
	_cleanup_(json_decrefp) json_t *md = NULL;
	_cleanup_(freep) char *pb_rv = NULL, *pb_cont = NULL;
	const char *cont = NULL, *rv = NULL;
	char buf[1024];
	int e;

	inf->req = NULL;
	inf->state = INF_IDLE;
	if (cc != CURLE_OK || code != 200) {
		log_http_error(inf, "LIST", r, cc, code);
		if (code == 410 && inf->cont) {
			/* The continue token expired (its snapshot was compacted): the pages we
			 * have are from an old snapshot, start over. */
			set_str(&inf->cont, NULL);
			restart(inf);
			return;
		}
		retry_later(inf, (code == 429 || code == 503) ? r->retry_after_usec : -1);
		return;
	}
	inf->stats.pages++;
	inf->stats.bytes += r->body.len;
	if (answer_is_protobuf(r) && !r->accept_protobuf) {
		/* Only pods are asked for in protobuf: the items' decoder is the Pod's. */
		e = np_error_set(&err, -EBADMSG, "list", NULL, NULL, 0,
				 "answer in protobuf, which was not asked for");
	} else if (answer_is_protobuf(r)) {
		inf->stats.protobuf_pages++;
		e = list_parse_pb(inf, r, &pb_rv, &pb_cont, &err);
		rv = pb_rv;
		cont = pb_cont;
	} else {
		/* Item by item: a page never becomes one document tree, and what one item
		 * allocated is reused by the next. */
		char empty[1] = "";

		/* A re-list (there was a complete list before) finds most objects unchanged. */
		e = k8s_list_parse_peek(r->body.s ? r->body.s : empty, r->body.len,
					inf->synced && inf->count > 0 ? list_peek : NULL, list_item,
					inf, &md, &err);
		cont = json_string_value(json_object_get(md, "continue"));
		rv = json_string_value(json_object_get(md, "resourceVersion"));
	}
	/* Keep the buffer for the next page: growing it again would copy each page twice. */
	strbuf_done(&inf->spare);
	if (r->body.cap <= (16u << 20)) {
		inf->spare = r->body;
		r->body = (struct strbuf){ 0 };
		strbuf_reset(&inf->spare);
	}
	if (e < 0) {
		if (e == -EBADMSG)
			k8s_log(inf->c, LOG_WARNING, "LIST %s: malformed answer: %s",
				inf->res->path, np_error_format(&err, buf, sizeof(buf)));
		else
			k8s_log(inf->c, LOG_WARNING, "LIST %s: cannot apply the answer: %s",
				inf->res->path, np_strerror(e));
		/* Items applied so far stay; the list restarts from scratch. */
		set_str(&inf->cont, NULL);
		retry_later(inf, -1);
		return;
	}
	if (cont && *cont) {
		set_str(&inf->cont, cont);
		inf->progress = true;
		informer_list(inf);
		return;
	}
	set_str(&inf->cont, NULL);
	if (!rv || !*rv) {
		/* Without a resourceVersion we cannot watch from this snapshot. */
		k8s_log(inf->c, LOG_WARNING, "LIST %s: answer has no resourceVersion",
			inf->res->path);
		retry_later(inf, -1);
		return;
	}
	list_finish(inf, rv);
}

static void informer_list(struct informer *inf)
{
	_cleanup_(strbuf_done) struct strbuf sb = { 0 };
	struct k8s_req *r;
	int e;

	if (!inf->cont) {
		/* A new snapshot: everything seen in it is marked with the new generation. */
		inf->list_gen++;
		if (inf->synced || inf->stats.lists > 0)
			inf->stats.relists++;
		inf->stats.lists++;
	}
	e = strbuf_printf(&sb, "%s?limit=%u", inf->res->path, inf->c->opts.page_size);
	if (e >= 0 && inf->cont)
		e = url_append(&sb, "continue", inf->cont);
	if (e >= 0)
		e = selectors_append(inf, &sb);
	if (e >= 0)
		e = k8s_req_new(inf->c, strbuf_str(&sb), false, &r);
	if (e < 0) {
		retry_later(inf, -1);
		return;
	}
	r->inf = inf;
	r->done = list_done;
	r->accept_protobuf = wants_protobuf(inf);
	r->body = inf->spare;
	inf->spare = (struct strbuf){ 0 };
	inf->state = INF_LISTING;
	inf->req = r;
	if (k8s_req_start(inf->c, r) < 0) {
		inf->req = NULL;
		retry_later(inf, -1);
	}
}

/* ---- WATCH ---- */

static int watch_value(void *userdata, json_t *ev)
{
	struct k8s_req *r = userdata;
	struct informer *inf = r->inf;
	struct np_error err = { 0 };
	enum k8s_watch_type type;
	json_t *obj;
	const char *rv;
	int e;

	e = k8s_watch_event_parse(ev, &type, &obj, &err);
	if (e < 0) {
		char buf[1024];

		inf->stats.malformed++;
		k8s_log(inf->c, LOG_WARNING, "WATCH %s: dropping malformed stream: %s",
			inf->res->path, np_error_format(&err, buf, sizeof(buf)));
		return -EBADMSG;
	}
	inf->stats.events++;
	if (type == K8S_WATCH_ERROR) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));
		const char *msg = json_string_value(json_object_get(obj, "message"));

		k8s_log(inf->c, code == 410 ? LOG_INFO : LOG_WARNING, "WATCH %s: ERROR %lld: %s",
			inf->res->path, (long long)code, msg ? msg : "");
		/* 410 Gone: our resourceVersion is compacted away; only a re-list helps. */
		return code == 410 ? -ESTALE : -EIO;
	}
	rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	if (type == K8S_WATCH_BOOKMARK) {
		inf->stats.bookmarks++;
	} else {
		inf->watch_events++;
		e = apply_object(inf, obj, type == K8S_WATCH_DELETED, false);
		if (e < 0)
			return e;
	}
	if (rv && *rv) {
		/* Progress means a resourceVersion we did not have: a server replaying the same
		 * event on every connection must not get immediate reconnects. */
		if (!inf->rv || !streq(inf->rv, rv))
			inf->progress = true;
		set_str(&inf->rv, rv);
		rv_copy(inf, rv);
	}
	return 0;
}

/* A watch event in protobuf (pods only). */
static int watch_event_pb(void *userdata, enum k8s_watch_type type, const struct k8s_raw *kind,
			  const void *obj, size_t len, const struct k8s_pb_meta *md)
{
	struct k8s_req *r = userdata;
	struct informer *inf = r->inf;
	char rv[128] = "";
	int e;

	inf->stats.events++;
	if (type == K8S_WATCH_ERROR) {
		struct k8s_raw msg;
		long code;

		if (k8s_pb_status(obj, len, &code, &msg) < 0) {
			code = 0;
			msg = (struct k8s_raw){ "(unreadable Status)", 19 };
		}
		k8s_log(inf->c, code == 410 ? LOG_INFO : LOG_WARNING, "WATCH %s: ERROR %ld: %.*s",
			inf->res->path, code, (int)MIN(msg.len, (size_t)400), msg.p);
		/* 410 Gone: our resourceVersion is compacted away; only a re-list helps. */
		return code == 410 ? -ESTALE : -EIO;
	}
	if (kind->len > 0 && !(kind->len == strlen(inf->res->kind) &&
			       memcmp(kind->p, inf->res->kind, kind->len) == 0)) {
		inf->stats.malformed++;
		k8s_log(inf->c, LOG_WARNING,
			"WATCH %s: dropping malformed stream: an event of kind '%.*s'",
			inf->res->path, (int)MIN(kind->len, (size_t)40), kind->p);
		return -EBADMSG;
	}
	if (md && md->rv.p && md->rv.len < sizeof(rv) && !memchr(md->rv.p, 0, md->rv.len)) {
		memcpy(rv, md->rv.p, md->rv.len);
		rv[md->rv.len] = 0;
	}
	if (type == K8S_WATCH_BOOKMARK) {
		inf->stats.bookmarks++;
	} else if (type == K8S_WATCH_DELETED) {
		_cleanup_(json_decrefp) json_t *o = NULL;
		char ns[254] = "", name[254] = "";

		inf->watch_events++;
		if (!md || !raw_cstr(&md->name, name, sizeof(name)) ||
		    (md->ns.p && !raw_cstr(&md->ns, ns, sizeof(ns)))) {
			report_malformed_name(inf, NULL, NULL, NULL);
			return 0;
		}
		/* What the JSON path gets: an object with the metadata that names it. */
		o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "kind", inf->res->kind, "apiVersion",
			      inf->res->api_version, "metadata", "namespace", ns, "name", name,
			      "resourceVersion", rv);
		if (!o)
			return -ENOMEM;
		if (!*ns)
			json_object_del(json_object_get(o, "metadata"), "namespace");
		e = apply_object(inf, o, true, false);
		if (e < 0)
			return e;
	} else {
		inf->watch_events++;
		e = apply_pb(inf, obj, len, md, false);
		if (e < 0)
			return e;
	}
	if (*rv) {
		/* Progress means a resourceVersion we did not have (as in watch_value()). */
		if (!inf->rv || !streq(inf->rv, rv))
			inf->progress = true;
		set_str(&inf->rv, rv);
		rv_copy(inf, rv);
	}
	return 0;
}

int informer_stream_data(struct k8s_req *r, const char *data, size_t n);
int informer_stream_data(struct k8s_req *r, const char *data, size_t n)
{
	struct np_error err = { 0 };
	int e;

	r->inf->stats.bytes += n;
	if (!r->stream_decided) {
		/* The headers are in: the answer's encoding is known. */
		r->stream_decided = true;
		r->stream_protobuf = answer_is_protobuf(r);
		if (r->stream_protobuf && !r->accept_protobuf) {
			r->inf->stats.malformed++;
			k8s_log(r->c, LOG_WARNING,
				"WATCH %s: dropping malformed stream: protobuf, which was not "
				"asked "
				"for",
				r->inf->res->path);
			return -EBADMSG;
		}
	}
	if (r->stream_protobuf)
		e = k8s_pb_stream_feed(&r->pbstream, data, n, watch_event_pb, r, &err);
	else
		e = k8s_stream_feed(&r->stream, data, n, watch_value, r, &err);

	if (e == -EBADMSG && err.message[0]) {
		char buf[1024];

		r->inf->stats.malformed++;
		k8s_log(r->c, LOG_WARNING, "WATCH %s: dropping malformed stream: %s",
			r->inf->res->path, np_error_format(&err, buf, sizeof(buf)));
	}
	return e;
}

static void watch_done(struct k8s_req *r, CURLcode cc, long code)
{
	struct informer *inf = r->inf;
	uint64_t lasted = k8s_now_usec() - r->started;

	inf->req = NULL;
	inf->state = INF_IDLE;
	if (r->abort_error == -ESTALE || code == 410) {
		if (code == 410)
			log_http_error(inf, "WATCH", r, cc, code);
		inf->need_list = true;
		/* Relisting is progress only if the stream itself got somewhere; a server that
		 * answers every watch with 410 gets the backoff. */
		restart(inf);
		return;
	}
	if (r->abort_error == -EBADMSG || r->abort_error == -EIO) {
		inf->progress = false;
		retry_later(inf, -1);
		return;
	}
	if (r->abort_error) {
		/* -ENOMEM while applying: re-list to get back in step. */
		k8s_log(inf->c, LOG_WARNING, "WATCH %s: stream abandoned: %s; re-listing",
			inf->res->path, np_strerror(r->abort_error));
		inf->need_list = true;
		retry_later(inf, -1);
		return;
	}
	if (code != 200) {
		log_http_error(inf, "WATCH", r, cc, code);
		retry_later(inf, (code == 429 || code == 503) ? r->retry_after_usec : -1);
		return;
	}
	if (cc != CURLE_OK)
		k8s_log(inf->c, LOG_INFO, "WATCH %s ended: %s", inf->res->path,
			r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
	if (k8s_stream_pending(&r->stream) || k8s_pb_stream_pending(&r->pbstream))
		k8s_log(inf->c, LOG_INFO, "WATCH %s: stream closed in the middle of an event",
			inf->res->path);
	/* A watch that lasted a while is progress even when the cluster was quiet. */
	if (lasted >= 1000000)
		inf->progress = true;
	restart(inf);
}

static void informer_watch(struct informer *inf)
{
	_cleanup_(strbuf_done) struct strbuf sb = { 0 };
	unsigned t = inf->c->opts.watch_timeout_sec;
	struct k8s_req *r;
	int e;

	/* Like client-go, spread the watch timeouts over [t, 2t) so that many agents do not
	 * reconnect in lockstep. */
	t += (unsigned)(k8s_now_usec() % t);
	e = strbuf_printf(&sb, "%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%u",
			  inf->res->path, t);
	if (e >= 0)
		e = url_append(&sb, "resourceVersion", inf->rv ? inf->rv : "");
	if (e >= 0)
		e = selectors_append(inf, &sb);
	if (e >= 0)
		e = k8s_req_new(inf->c, strbuf_str(&sb), true, &r);
	if (e < 0) {
		retry_later(inf, -1);
		return;
	}
	/* The server ends the watch after timeoutSeconds; a stream that stalls is cut a little
	 * later by curl. */
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)(t + 5 + t / 4) * 1000L);
	r->inf = inf;
	r->done = watch_done;
	r->accept_protobuf = wants_protobuf(inf);
	inf->state = INF_WATCHING;
	inf->req = r;
	inf->stats.watches++;
	inf->progress = false;
	inf->watch_events = 0;
	if (k8s_req_start(inf->c, r) < 0) {
		inf->req = NULL;
		retry_later(inf, -1);
	}
}

/* ---- queries ---- */

bool k8s_client_synced(const struct k8s_client *c)
{
	for (int k = 0; k < _MODEL_KIND_MAX; k++)
		if (c->inf[k].started && !c->inf[k].synced)
			return false;
	return true;
}

bool k8s_client_finished(const struct k8s_client *c)
{
	for (int k = 0; k < _MODEL_KIND_MAX; k++)
		if (c->inf[k].started && c->inf[k].state != INF_DONE)
			return false;
	return true;
}

int k8s_client_stats(const struct k8s_client *c, enum model_kind kind, struct k8s_stats *ret)
{
	const struct informer *inf;

	if ((unsigned)kind >= _MODEL_KIND_MAX || !c->inf[kind].started)
		return -ENOENT;
	inf = &c->inf[kind];
	*ret = inf->stats;
	ret->objects = inf->count;
	return 0;
}

size_t k8s_client_foreach(const struct k8s_client *c, enum model_kind kind,
			  void (*fn)(void *userdata, const char *key, const char *rv),
			  void *userdata)
{
	size_t n = 0;

	if ((unsigned)kind >= _MODEL_KIND_MAX)
		return 0;
	HASHMAP_FOREACH (e, &c->inf[kind].store) {
		struct informer_entry *ie = e->value;

		if (fn)
			fn(userdata, ie->key, ie->rv ? ie->rv : "");
		n++;
	}
	return n;
}
