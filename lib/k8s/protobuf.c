/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * List answers in the API server's protobuf encoding (Content-Type
 * application/vnd.kubernetes.protobuf), read without decoding the items: the envelope is the
 * four bytes "k8s\0" and a runtime.Unknown (k8s.io/apimachinery pkg/runtime/generated.proto:
 * typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2, contentEncoding = 3, contentType = 4), whose
 * raw is the List message (core/v1 generated.proto, PodList: metadata = 1, items = 2; meta/v1
 * ListMeta: resourceVersion = 2, continue = 3). Each item's ObjectMeta (metadata = 1 of every
 * object; name = 1, namespace = 3, resourceVersion = 6) is peeked for the informer's store and
 * the item's bytes go to the model's decoder. Errors come as a meta/v1 Status (message = 3,
 * code = 6) in the same envelope. A watch in protobuf is a sequence of length-prefixed
 * WatchEvents (see below). Fields this reader does not know are skipped, as protobuf requires.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s.h"

static const char pb_magic[4] = { 'k', '8', 's', 0 };

enum {
	PB_VARINT = 0,
	PB_FIXED64 = 1,
	PB_BYTES = 2,
	PB_FIXED32 = 5,
};

struct pb_reader {
	const uint8_t *p, *end;
};

struct pb_field {
	uint32_t number;
	unsigned wire;
	uint64_t num; /* PB_VARINT */
	struct k8s_raw bytes; /* PB_BYTES */
};

static int pb_varint(struct pb_reader *r, uint64_t *ret)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;

		if (r->p >= r->end)
			return -EBADMSG;
		b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG; /* more than ten bytes */
}

/* Reads the next field of the message in r. Returns 1 and *f, 0 at the end, or -EBADMSG. */
static int pb_next(struct pb_reader *r, struct pb_field *f)
{
	uint64_t tag, n;

	if (r->p >= r->end)
		return 0;
	if (pb_varint(r, &tag) < 0 || (tag >> 3) == 0 || (tag >> 3) > UINT32_MAX)
		return -EBADMSG;
	f->number = (uint32_t)(tag >> 3);
	f->wire = (unsigned)(tag & 7);
	switch (f->wire) {
	case PB_VARINT:
		return pb_varint(r, &f->num) < 0 ? -EBADMSG : 1;
	case PB_FIXED64:
		n = 8;
		break;
	case PB_FIXED32:
		n = 4;
		break;
	case PB_BYTES:
		if (pb_varint(r, &n) < 0)
			return -EBADMSG;
		if (n > (uint64_t)(r->end - r->p))
			return -EBADMSG;
		f->bytes = (struct k8s_raw){ (const char *)r->p, (size_t)n };
		r->p += n;
		return 1;
	default:
		return -EBADMSG; /* groups (3, 4) are not used by the API; 6, 7 do not exist */
	}
	if (n > (uint64_t)(r->end - r->p))
		return -EBADMSG;
	r->p += n;
	return 1;
}

static struct pb_reader pb_sub(struct k8s_raw b)
{
	return (struct pb_reader){ (const uint8_t *)b.p, (const uint8_t *)b.p + b.len };
}

static bool raw_eq(struct k8s_raw a, const char *s)
{
	size_t n = strlen(s);

	return a.len == n && memcmp(a.p, s, n) == 0;
}

static int pb_fail(struct np_error *reterr, const char *what, size_t at)
{
	return np_error_set(reterr, -EBADMSG, "list", NULL, NULL, 0, "protobuf: %s at byte %zu",
			    what, at);
}

/* The envelope: returns 0 with the raw message, its kind and its apiVersion, or -EBADMSG. */
static int pb_unwrap(const void *buf, size_t len, struct k8s_raw *ret_raw, struct k8s_raw *ret_kind,
		     struct k8s_raw *ret_encoding, struct np_error *reterr)
{
	struct pb_reader r;
	struct pb_field f;
	int e;

	*ret_raw = *ret_kind = *ret_encoding = (struct k8s_raw){ "", 0 };
	if (len < sizeof(pb_magic) || memcmp(buf, pb_magic, sizeof(pb_magic)) != 0)
		return pb_fail(reterr, "no \"k8s\\0\" prefix", 0);
	r = (struct pb_reader){ (const uint8_t *)buf + sizeof(pb_magic),
				(const uint8_t *)buf + len };
	while ((e = pb_next(&r, &f)) > 0) {
		if (f.number == 1 && f.wire == PB_BYTES) {
			struct pb_reader t = pb_sub(f.bytes);
			struct pb_field g;

			while ((e = pb_next(&t, &g)) > 0)
				if (g.number == 2 && g.wire == PB_BYTES)
					*ret_kind = g.bytes;
			if (e < 0)
				return pb_fail(reterr, "malformed typeMeta",
					       (size_t)(t.p - (const uint8_t *)buf));
		} else if (f.number == 2 && f.wire == PB_BYTES)
			*ret_raw = f.bytes;
		else if (f.number == 3 && f.wire == PB_BYTES)
			*ret_encoding = f.bytes;
		else if (f.number <= 4 && f.wire != PB_BYTES)
			return pb_fail(reterr, "envelope field of the wrong wire type",
				       (size_t)(r.p - (const uint8_t *)buf));
	}
	if (e < 0)
		return pb_fail(reterr, "malformed envelope", (size_t)(r.p - (const uint8_t *)buf));
	return 0;
}

int k8s_pb_object_meta(const void *obj, size_t len, struct k8s_pb_meta *ret)
{
	struct pb_reader r = { obj, (const uint8_t *)obj + len };
	struct pb_field f;
	int e;

	*ret = (struct k8s_pb_meta){ 0 };
	while ((e = pb_next(&r, &f)) > 0) {
		struct pb_reader m;
		struct pb_field g;

		if (f.number != 1)
			continue;
		if (f.wire != PB_BYTES)
			return -EBADMSG;
		/* A message field that occurs twice is merged: the later values win. */
		m = pb_sub(f.bytes);
		while ((e = pb_next(&m, &g)) > 0) {
			struct k8s_raw *dst = g.number == 1   ? &ret->name
					      : g.number == 3 ? &ret->ns
					      : g.number == 6 ? &ret->rv
							      : NULL;

			if (!dst)
				continue;
			if (g.wire != PB_BYTES)
				return -EBADMSG;
			*dst = g.bytes;
		}
		if (e < 0)
			return -EBADMSG;
	}
	return e < 0 ? -EBADMSG : 0;
}

int k8s_pb_list_parse(const void *buf, size_t len, const char *list_kind, k8s_pb_item_fn fn,
		      void *userdata, struct k8s_pb_list_meta *ret_meta, struct np_error *reterr)
{
	struct k8s_raw raw, kind, encoding;
	struct k8s_pb_list_meta lm = { { "", 0 }, { "", 0 } };
	struct pb_reader r;
	struct pb_field f;
	int e;

	e = pb_unwrap(buf, len, &raw, &kind, &encoding, reterr);
	if (e < 0)
		return e;
	if (encoding.len > 0)
		return np_error_set(reterr, -EBADMSG, "list", NULL, NULL, 0,
				    "protobuf: unsupported contentEncoding '%.*s'",
				    (int)MIN(encoding.len, (size_t)40), encoding.p);
	if (list_kind && kind.len > 0 && !raw_eq(kind, list_kind))
		return np_error_set(reterr, -EBADMSG, "list", NULL, NULL, 0,
				    "protobuf: a %.*s, not a %s", (int)MIN(kind.len, (size_t)40),
				    kind.p, list_kind);
	r = pb_sub(raw);
	while ((e = pb_next(&r, &f)) > 0) {
		size_t at = (size_t)((const uint8_t *)f.bytes.p - (const uint8_t *)buf);

		if (f.number == 1) {
			struct pb_reader m;
			struct pb_field g;

			if (f.wire != PB_BYTES)
				return pb_fail(reterr, "List metadata is not a message", at);
			m = pb_sub(f.bytes);
			while ((e = pb_next(&m, &g)) > 0) {
				if (g.number != 2 && g.number != 3)
					continue;
				if (g.wire != PB_BYTES)
					return pb_fail(reterr, "ListMeta field is not a string",
						       at);
				if (g.number == 2)
					lm.rv = g.bytes;
				else
					lm.cont = g.bytes;
			}
			if (e < 0)
				return pb_fail(reterr, "malformed ListMeta", at);
		} else if (f.number == 2) {
			struct k8s_pb_meta md;
			bool ok;

			if (f.wire != PB_BYTES)
				return pb_fail(reterr, "List item is not a message", at);
			/* An item whose metadata does not read is the item's problem: the
			 * owner reports it and goes on with the next. */
			ok = k8s_pb_object_meta(f.bytes.p, f.bytes.len, &md) >= 0;
			e = fn ? fn(userdata, f.bytes.p, f.bytes.len, ok ? &md : NULL) : 0;
			if (e < 0)
				return e;
		}
	}
	if (e < 0)
		return pb_fail(reterr, "malformed List", (size_t)(r.p - (const uint8_t *)buf));
	*ret_meta = lm;
	return 0;
}

const char *k8s_pb_status_message(const void *body, size_t len, char *buf, size_t size)
{
	struct k8s_raw raw, kind, encoding, msg = { NULL, 0 };
	struct pb_reader r;
	struct pb_field f;

	if (pb_unwrap(body, len, &raw, &kind, &encoding, NULL) < 0 || encoding.len > 0)
		return NULL;
	r = pb_sub(raw);
	while (pb_next(&r, &f) > 0)
		if (f.number == 3 && f.wire == PB_BYTES)
			msg = f.bytes;
	if (!msg.p || size == 0)
		return NULL;
	snprintf(buf, size, "%.*s", (int)MIN(msg.len, (size_t)INT_MAX), msg.p);
	return buf;
}

/* ---- watch streams in protobuf ---- */

/*
 * A protobuf watch answer (Content-Type application/vnd.kubernetes.protobuf;stream=watch) is a
 * sequence of frames, each a 4-byte big-endian length and a meta/v1 WatchEvent without the
 * envelope (type = 1, object = 2: a runtime.RawExtension whose raw = 1 holds the object with
 * its "k8s\0" envelope, as a LIST answer holds a List).
 */

#define PB_STREAM_MAX_DEFAULT (256u << 20)

void k8s_pb_stream_init(struct k8s_pb_stream *s, size_t max_frame)
{
	*s = (struct k8s_pb_stream){ .max_frame = max_frame ? max_frame : PB_STREAM_MAX_DEFAULT };
}

void k8s_pb_stream_done(struct k8s_pb_stream *s)
{
	free(s->buf);
	s->buf = NULL;
	s->len = s->cap = 0;
}

bool k8s_pb_stream_pending(const struct k8s_pb_stream *s)
{
	return s->len > 0;
}

static int pb_stream_fail(struct k8s_pb_stream *s, struct np_error *reterr, const char *msg)
{
	s->failed = true;
	return np_error_set(reterr, -EBADMSG, "watch stream", NULL, NULL, 0, "protobuf: %s", msg);
}

/* One frame: a WatchEvent. */
static int pb_stream_event(struct k8s_pb_stream *s, const uint8_t *p, size_t n, k8s_pb_event_fn fn,
			   void *userdata, struct np_error *reterr)
{
	static const char *const names[] = {
		[K8S_WATCH_ADDED] = "ADDED",	 [K8S_WATCH_MODIFIED] = "MODIFIED",
		[K8S_WATCH_DELETED] = "DELETED", [K8S_WATCH_BOOKMARK] = "BOOKMARK",
		[K8S_WATCH_ERROR] = "ERROR",
	};
	struct pb_reader r = { p, p + n };
	struct k8s_raw type = { NULL, 0 }, obj = { NULL, 0 }, raw, kind, encoding;
	struct k8s_pb_meta md;
	struct pb_field f;
	int e, t = -1;

	while ((e = pb_next(&r, &f)) > 0) {
		if (f.number == 1 && f.wire == PB_BYTES)
			type = f.bytes;
		else if (f.number == 2 && f.wire == PB_BYTES) {
			struct pb_reader x = pb_sub(f.bytes);
			struct pb_field g;

			while ((e = pb_next(&x, &g)) > 0)
				if (g.number == 1 && g.wire == PB_BYTES)
					obj = g.bytes;
			if (e < 0)
				return pb_stream_fail(s, reterr, "malformed event object");
		} else if (f.number <= 2)
			return pb_stream_fail(s, reterr, "event field of the wrong wire type");
	}
	if (e < 0)
		return pb_stream_fail(s, reterr, "malformed event");
	if (!type.p)
		return pb_stream_fail(s, reterr, "event has no type");
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (raw_eq(type, names[i]))
			t = (int)i;
	if (t < 0)
		return pb_stream_fail(s, reterr, "unknown event type");
	if (!obj.p)
		return pb_stream_fail(s, reterr, "event has no object");
	if (pb_unwrap(obj.p, obj.len, &raw, &kind, &encoding, NULL) < 0 || encoding.len > 0)
		return pb_stream_fail(s, reterr, "event object is not an enveloped message");
	if (!fn)
		return 0;
	return fn(userdata, (enum k8s_watch_type)t, &kind, raw.p, raw.len,
		  k8s_pb_object_meta(raw.p, raw.len, &md) >= 0 ? &md : NULL);
}

int k8s_pb_stream_feed(struct k8s_pb_stream *s, const void *data, size_t n, k8s_pb_event_fn fn,
		       void *userdata, struct np_error *reterr)
{
	size_t at = 0;
	int r = 0;

	if (s->failed)
		return np_error_set(reterr, -EBADMSG, "watch stream", NULL, NULL, 0,
				    "stream already failed");
	r = np_buf_append((void **)&s->buf, &s->len, &s->cap, data, n);
	if (r < 0)
		return r;
	while (s->len - at >= 4) {
		const uint8_t *h = s->buf + at;
		size_t fl = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];

		if (fl == 0)
			return pb_stream_fail(s, reterr, "empty frame");
		if (fl > s->max_frame)
			return pb_stream_fail(s, reterr, "event larger than the limit");
		if (s->len - at - 4 < fl)
			break;
		r = pb_stream_event(s, h + 4, fl, fn, userdata, reterr);
		at += 4 + fl;
		if (r < 0)
			break;
	}
	if (at > 0) {
		memmove(s->buf, s->buf + at, s->len - at);
		s->len -= at;
	}
	if (s->len == 0 && s->cap > (1u << 20)) {
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
	return r < 0 ? r : 0;
}

int k8s_pb_status(const void *msg, size_t len, long *ret_code, struct k8s_raw *ret_message)
{
	struct pb_reader r = { msg, (const uint8_t *)msg + len };
	struct pb_field f;
	int e;

	*ret_code = 0;
	*ret_message = (struct k8s_raw){ "", 0 };
	while ((e = pb_next(&r, &f)) > 0) {
		if (f.number == 3 && f.wire == PB_BYTES)
			*ret_message = f.bytes;
		else if (f.number == 6 && f.wire == PB_VARINT)
			*ret_code = (long)(int32_t)(uint32_t)f.num;
	}
	return e < 0 ? -EBADMSG : 0;
}
