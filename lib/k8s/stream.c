/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Incremental splitting of a watch stream into JSON objects, watch event decoding, backoff. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k8s.h"

#define STREAM_MAX_DEFAULT (256u << 20)
#define MANAGED_FIELDS_KEY "\"managedFields\""

void k8s_stream_init(struct k8s_stream *s, size_t max_value)
{
	*s = (struct k8s_stream){ .max_value = max_value ? max_value : STREAM_MAX_DEFAULT };
}

void k8s_stream_done(struct k8s_stream *s)
{
	free(s->buf);
	s->buf = NULL;
	s->len = s->cap = s->start = s->scan = 0;
}

bool k8s_stream_pending(const struct k8s_stream *s)
{
	return s->in_value;
}

static int stream_fail(struct k8s_stream *s, struct np_error *reterr, const char *msg,
		       const char *detail)
{
	s->failed = true;
	return np_error_set(reterr, -EBADMSG, "watch stream", NULL, NULL, 0, "%s%s", msg, detail);
}

static int stream_append(struct k8s_stream *s, const char *data, size_t n)
{
	/* Drop consumed bytes first so that the buffer holds at most one partial value. */
	if (s->start > 0) {
		memmove(s->buf, s->buf + s->start, s->len - s->start);
		s->len -= s->start;
		s->scan -= s->start;
		s->start = 0;
	}
	return np_buf_append((void **)&s->buf, &s->len, &s->cap, data, n);
}

static size_t skip_ws(const char *b, size_t i, size_t n)
{
	while (i < n && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
		i++;
	return i;
}

/* Returns the end (one past) of the JSON value starting at b[i], or 0 if it does not end
 * within n. Only finds the extent; json_loadb() validates. */
static size_t value_end(const char *b, size_t i, size_t n)
{
	unsigned depth = 0;
	bool in_string = false;

	if (i >= n)
		return 0;
	if (b[i] != '{' && b[i] != '[' && b[i] != '"') {
		/* number, true, false, null */
		while (i < n && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' &&
		       b[i] != '\n' && b[i] != '\r' && b[i] != '\t')
			i++;
		return i;
	}
	for (; i < n; i++) {
		char ch = b[i];

		if (in_string) {
			/* Most of a document is inside strings: jump to the next quote (memchr is
			 * vectorised) and look back for the backslashes that would escape it. */
			const char *q = NULL;
			size_t j, bs = 0;

			/* member names are short: look at a few bytes before calling memchr */
			for (j = i; j < n && j < i + 16; j++)
				if (b[j] == '"') {
					q = b + j;
					break;
				}
			if (!q && j < n)
				q = memchr(b + j, '"', n - j);
			if (!q)
				return 0;
			j = (size_t)(q - b);
			while (j - bs > i && b[j - 1 - bs] == '\\')
				bs++;
			i = j;
			if (bs % 2 == 1)
				continue; /* an escaped quote */
			in_string = false;
			if (depth == 0)
				return i + 1;
			continue;
		}
		switch (ch) {
		case '"':
			in_string = true;
			break;
		case '{':
		case '[':
			if (++depth > 10000)
				return 0;
			break;
		case '}':
		case ']':
			if (depth == 0)
				return 0;
			if (--depth == 0)
				return i + 1;
			break;
		default:
			break;
		}
	}
	return 0;
}

/*
 * Looks at the managedFields member whose name would start at p[ks] (p[ks] is the opening quote
 * of "managedFields"). Returns 1 and the range [*ret_start, *ret_end) to cut: the member and one
 * comma. Returns 0 when this is no such member, with *ret_end where to search on: the quote is
 * escaped (inside a string), no ':' follows (a string value), the value is not an array (a label
 * or annotation named managedFields), or neither comma exists (the only member of its object,
 * left alone; the search goes on after its value, so no byte is scanned twice). Returns -1 when
 * the array does not end: nothing after it can be cut. `lo` is the lowest index that may be
 * looked at backwards.
 *
 * Server-side-apply bookkeeping is often half of an object and nothing here reads it (kubectl
 * hides it too), so not decoding it saves a good part of the parse. In valid JSON an unescaped
 * quote followed by managedFields": opens a member name.
 */
static int managed_fields_range(const char *p, size_t lo, size_t ks, size_t n, size_t *ret_start,
				size_t *ret_end)
{
	const size_t kl = sizeof(MANAGED_FIELDS_KEY) - 1;
	size_t i, ve, cut_start, cut_end, bs = 0;

	*ret_end = ks + 1;
	while (ks - bs > lo && p[ks - 1 - bs] == '\\')
		bs++;
	if (bs % 2 == 1)
		return 0; /* an escaped quote inside a string */
	i = skip_ws(p, ks + kl, n);
	if (i >= n || p[i] != ':')
		return 0;
	i = skip_ws(p, i + 1, n);
	if (i >= n || p[i] != '[')
		return 0;
	ve = value_end(p, i, n);
	if (ve == 0)
		return -1;
	*ret_end = ve;
	cut_start = ks;
	cut_end = skip_ws(p, ve, n);
	if (cut_end < n && p[cut_end] == ',') {
		cut_end++; /* "managedFields": [...], "next": ... */
	} else {
		/* the last member: take the comma before it */
		size_t j = ks;

		while (j > lo && (p[j - 1] == ' ' || p[j - 1] == '\n' || p[j - 1] == '\r' ||
				  p[j - 1] == '\t'))
			j--;
		if (j == lo || p[j - 1] != ',')
			return 0; /* neither comma: the only member, leave it */
		cut_start = j - 1;
	}
	*ret_start = cut_start;
	*ret_end = cut_end;
	return 1;
}

/* Drops every managedFields member from p (one watch event, or a whole List page) in one pass:
 * the text before, between and after the cuts is moved down once. Returns the new length. */
static size_t strip_managed_fields(char *p, size_t n)
{
	const size_t kl = sizeof(MANAGED_FIELDS_KEY) - 1;
	size_t rd = 0, wr = 0, at = 0;
	int r;

	/* p[rd..n) is untouched input, p[0..wr) the output; wr <= rd. at: where to search. */
	while (at < n) {
		char *k = memmem(p + at, n - at, MANAGED_FIELDS_KEY, kl);
		size_t ks, cut_start, cut_end;

		if (!k)
			break;
		ks = (size_t)(k - p);
		r = managed_fields_range(p, rd, ks, n, &cut_start, &cut_end);
		if (r < 0)
			break;
		if (r == 0) {
			at = cut_end;
			continue;
		}
		if (wr != rd)
			memmove(p + wr, p + rd, cut_start - rd);
		wr += cut_start - rd;
		rd = at = cut_end;
	}
	if (wr != rd)
		memmove(p + wr, p + rd, n - rd);
	return wr + (n - rd);
}

static int stream_emit(struct k8s_stream *s, size_t end, k8s_stream_value_fn fn, void *userdata,
		       struct np_error *reterr)
{
	json_error_t jerr;
	const char *p;
	json_t *v;
	size_t n;
	int r = 0;

	unsigned long mark;

	p = s->buf + s->start;
	n = strip_managed_fields(s->buf + s->start, end - s->start);
	mark = model_json_parse_begin();
	v = json_loadb(p, n, JSON_ALLOW_NUL, &jerr);
	s->start = end;
	if (model_json_parse_end(mark)) {
		/* Whatever jansson made of it, it is not the event (see model.h). */
		json_decref(v);
		return np_error_set(reterr, -ENOMEM, "watch stream", NULL, NULL, 0,
				    "out of memory parsing an event of %zu bytes", n);
	}
	if (!v)
		return stream_fail(s, reterr, "event is not valid JSON: ", jerr.text);
	if (!json_is_object(v)) {
		json_decref(v);
		return stream_fail(s, reterr, "event is not a JSON object", "");
	}
	if (fn)
		r = fn(userdata, v);
	json_decref(v);
	return r;
}

int k8s_stream_feed(struct k8s_stream *s, const void *data, size_t n, k8s_stream_value_fn fn,
		    void *userdata, struct np_error *reterr)
{
	int r;

	if (s->failed)
		return np_error_set(reterr, -EBADMSG, "watch stream", NULL, NULL, 0,
				    "stream already failed");
	r = stream_append(s, data, n);
	if (r < 0)
		return r;

	/* One pass: track string/escape state and nesting depth; a value ends when the depth
	 * returns to zero. Bytes between values may only be whitespace. */
	while (s->scan < s->len) {
		char ch = s->buf[s->scan];

		if (s->in_value && s->scan - s->start > s->max_value)
			return stream_fail(s, reterr, "event larger than the limit", "");

		if (!s->in_value) {
			if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') {
				s->scan++;
				s->start = s->scan;
				continue;
			}
			if (ch != '{')
				return stream_fail(s, reterr,
						   "expected a JSON object between events", "");
			s->in_value = true;
			s->start = s->scan;
			s->depth = 1;
			s->scan++;
			continue;
		}
		if (s->in_string) {
			/* Skip quickly to the next quote or backslash. */
			const char *p = s->buf + s->scan, *end = s->buf + s->len;

			if (s->escape) {
				s->escape = false;
				s->scan++;
				continue;
			}
			while (p < end && *p != '"' && *p != '\\')
				p++;
			s->scan = (size_t)(p - s->buf);
			if (p == end)
				break;
			if (*p == '\\')
				s->escape = true;
			else
				s->in_string = false;
			s->scan++;
			continue;
		}
		{
			/* Outside strings: run to the next quote or the end of the value, with the
			 * position and depth in registers (stores through the char buffer could
			 * alias the struct's fields). */
			const char *b = s->buf;
			size_t i = s->scan, end = s->len;
			unsigned depth = s->depth;
			bool closed = false;

			while (i < end) {
				ch = b[i++];
				if (ch == '"') {
					s->in_string = true;
					break;
				}
				if (ch == '{' || ch == '[') {
					if (++depth > 10000)
						return stream_fail(s, reterr,
								   "event nested too deeply", "");
				} else if (ch == '}' || ch == ']') {
					if (--depth == 0) {
						closed = true;
						break;
					}
				} else if (ch == '\n')
					/* The API server writes each event as one compact JSON
					 * document followed by a newline (the streaming JSON
					 * encoder); a raw newline inside an event means the framing
					 * is broken: fail now rather than swallow the following
					 * events into a value that never ends. */
					return stream_fail(s, reterr, "line break inside an event",
							   "");
			}
			s->scan = i;
			s->depth = depth;
			if (closed) {
				s->in_value = false;
				r = stream_emit(s, s->scan, fn, userdata, reterr);
				if (r < 0)
					return r;
			}
		}
	}
	if (s->in_value && s->len - s->start > s->max_value)
		return stream_fail(s, reterr, "event larger than the limit", "");
	if (!s->in_value) {
		/* Everything consumed: keep the buffer but forget its contents. */
		s->len = s->scan = s->start = 0;
		if (s->cap > (1u << 20)) {
			free(s->buf);
			s->buf = NULL;
			s->cap = 0;
		}
	}
	return 0;
}

int k8s_watch_event_parse(json_t *ev, enum k8s_watch_type *ret_type, json_t **ret_object,
			  struct np_error *reterr)
{
	static const char *const names[] = {
		[K8S_WATCH_ADDED] = "ADDED",	 [K8S_WATCH_MODIFIED] = "MODIFIED",
		[K8S_WATCH_DELETED] = "DELETED", [K8S_WATCH_BOOKMARK] = "BOOKMARK",
		[K8S_WATCH_ERROR] = "ERROR",
	};
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");

	if (!type)
		return np_error_set(reterr, -EBADMSG, "watch stream", NULL, "type", 0,
				    "event has no type");
	if (!json_is_object(obj))
		return np_error_set(reterr, -EBADMSG, "watch stream", NULL, "object", 0,
				    "%s event has no object", type);
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(type, names[i])) {
			*ret_type = (enum k8s_watch_type)i;
			*ret_object = obj;
			return 0;
		}
	return np_error_set(reterr, -EBADMSG, "watch stream", NULL, "type", 0,
			    "unknown event type '%.40s'", type);
}

/* ---- List answers, item by item ---- */

static int list_fail(struct np_error *reterr, const char *what, size_t at)
{
	return np_error_set(reterr, -EBADMSG, "list", NULL, NULL, 0, "%s at byte %zu", what, at);
}

/* The raw contents of a string value at b[i] ('"' there): false if it has escapes (the raw
 * bytes would not be the value) or does not end. */
static bool raw_string(const char *b, size_t i, size_t n, struct k8s_raw *ret)
{
	const char *q;

	if (i >= n || b[i] != '"')
		return false;
	q = memchr(b + i + 1, '"', n - i - 1);
	if (!q || memchr(b + i + 1, '\\', (size_t)(q - b) - i - 1))
		return false;
	*ret = (struct k8s_raw){ b + i + 1, (size_t)(q - b) - i - 1 };
	return true;
}

/* Finds metadata.namespace, .name and .resourceVersion of the object at b[i] without decoding
 * it; returns false when one of them is not a plain string (the object is then decoded). */
static bool item_peek(const char *b, size_t i, size_t n, struct k8s_raw *ns, struct k8s_raw *name,
		      struct k8s_raw *rv)
{
	bool in_md = false;

	*ns = *name = *rv = (struct k8s_raw){ NULL, 0 };
	if (i >= n || b[i] != '{')
		return false;
	i = skip_ws(b, i + 1, n);
	for (;;) {
		size_t kend, vend;
		struct k8s_raw key;

		if (i < n && b[i] == '}') {
			if (!in_md)
				return false; /* no metadata */
			return name->p && rv->p;
		}
		if (!raw_string(b, i, n, &key))
			return false;
		kend = i + key.len + 2;
		i = skip_ws(b, kend, n);
		if (i >= n || b[i] != ':')
			return false;
		i = skip_ws(b, i + 1, n);
		if (!in_md && key.len == 8 && memcmp(key.p, "metadata", 8) == 0) {
			if (i >= n || b[i] != '{')
				return false;
			in_md = true;
			i = skip_ws(b, i + 1, n);
			continue;
		}
		if (in_md && ((key.len == 4 && memcmp(key.p, "name", 4) == 0) ||
			      (key.len == 9 && memcmp(key.p, "namespace", 9) == 0) ||
			      (key.len == 15 && memcmp(key.p, "resourceVersion", 15) == 0))) {
			struct k8s_raw *dst = key.len == 4 ? name : key.len == 9 ? ns : rv;

			if (dst->p || !raw_string(b, i, n, dst))
				return false; /* twice, or not a plain string */
			vend = i + dst->len + 2;
		} else {
			vend = value_end(b, i, n);
			if (vend == 0)
				return false;
		}
		i = skip_ws(b, vend, n);
		if (i < n && b[i] == ',')
			i = skip_ws(b, i + 1, n);
		else if (!(i < n && b[i] == '}'))
			return false;
		if (in_md && i < n && b[i] == '}')
			return name->p && rv->p; /* the end of metadata: enough */
	}
}

int k8s_list_parse(char *buf, size_t len, k8s_list_item_fn fn, void *userdata,
		   json_t **ret_metadata, struct np_error *reterr)
{
	return k8s_list_parse_peek(buf, len, NULL, fn, userdata, ret_metadata, reterr);
}

int k8s_list_parse_peek(char *buf, size_t len, k8s_list_peek_fn peek, k8s_list_item_fn fn,
			void *userdata, json_t **ret_metadata, struct np_error *reterr)
{
	_cleanup_(json_decrefp) json_t *metadata = NULL;
	bool have_items = false;
	size_t i;
	int r;

	i = skip_ws(buf, 0, len);
	if (i >= len || buf[i] != '{')
		return list_fail(reterr, "not a JSON object", i);
	len = strip_managed_fields(buf, len);
	i = skip_ws(buf, i + 1, len);
	while (i < len && buf[i] != '}') {
		size_t kend = value_end(buf, i, len), vend;
		bool items, meta;

		if (buf[i] != '"' || kend == 0)
			return list_fail(reterr, "expected a member name", i);
		/* Member names of a List are plain ASCII: compare the raw bytes. */
		items = kend - i == 7 && memcmp(buf + i, "\"items\"", 7) == 0;
		meta = kend - i == 10 && memcmp(buf + i, "\"metadata\"", 10) == 0;
		i = skip_ws(buf, kend, len);
		if (i >= len || buf[i] != ':')
			return list_fail(reterr, "expected ':'", i);
		i = skip_ws(buf, i + 1, len);
		if (items && i < len && buf[i] == '[') {
			have_items = true;
			i = skip_ws(buf, i + 1, len);
			while (i < len && buf[i] != ']') {
				struct k8s_raw pns, pname, prv;
				unsigned long mark;
				json_error_t jerr;
				json_t *item;

				if (peek && item_peek(buf, i, len, &pns, &pname, &prv) &&
				    peek(userdata, &pns, &pname, &prv) > 0) {
					/* The owner has it at this resourceVersion: not decoded. */
					vend = value_end(buf, i, len);
					if (vend == 0)
						return list_fail(reterr, "item does not end", i);
					i = skip_ws(buf, vend, len);
					if (i < len && buf[i] == ',')
						i = skip_ws(buf, i + 1, len);
					else if (i >= len || buf[i] != ']')
						return list_fail(reterr, "expected ',' or ']'", i);
					continue;
				}
				mark = model_json_parse_begin();
				if (buf[i] == '{') {
					/* An object (every real item): jansson finds its end, so
					 * the bytes are read once. */
					item = json_loadb(buf + i, len - i, JSON_DISABLE_EOF_CHECK,
							  &jerr);
					vend = item ? i + (size_t)jerr.position : 0;
				} else {
					vend = value_end(buf, i, len);
					if (vend == 0)
						return list_fail(reterr, "item does not end", i);
					item = json_loadb(buf + i, vend - i, JSON_DECODE_ANY,
							  &jerr);
				}
				if (model_json_parse_end(mark)) {
					json_decref(item);
					return np_error_set(reterr, -ENOMEM, "list", NULL, "items",
							    0,
							    "out of memory parsing the item at "
							    "byte %zu",
							    i);
				}
				if (!item)
					return np_error_set(
						reterr, -EBADMSG, "list", NULL, "items", 0,
						"item at byte %zu is not valid JSON: %s", i,
						jerr.text);
				r = fn ? fn(userdata, item) : 0;
				json_decref(item);
				if (r < 0)
					return r;
				i = skip_ws(buf, vend, len);
				if (i < len && buf[i] == ',')
					i = skip_ws(buf, i + 1, len);
				else if (i >= len || buf[i] != ']')
					return list_fail(reterr, "expected ',' or ']'", i);
			}
			if (i >= len)
				return list_fail(reterr, "items do not end", i);
			vend = i + 1;
		} else {
			vend = value_end(buf, i, len);
			if (vend == 0)
				return list_fail(reterr, "value does not end", i);
			if (items && !(vend - i == 4 && memcmp(buf + i, "null", 4) == 0))
				return list_fail(reterr, "items is not an array", i);
			have_items = have_items || items;
			if (meta && !metadata) {
				unsigned long mark = model_json_parse_begin();

				metadata = json_loadb(buf + i, vend - i, 0, NULL);
				if (model_json_parse_end(mark)) {
					json_decref(metadata);
					return np_error_set(reterr, -ENOMEM, "list", NULL,
							    "metadata", 0,
							    "out of memory parsing the metadata");
				}
				if (!json_is_object(metadata))
					return list_fail(reterr, "metadata is not an object", i);
			}
		}
		i = skip_ws(buf, vend, len);
		if (i < len && buf[i] == ',')
			i = skip_ws(buf, i + 1, len);
		else if (i >= len || buf[i] != '}')
			return list_fail(reterr, "expected ',' or '}'", i);
	}
	if (i >= len)
		return list_fail(reterr, "list does not end", i);
	if (skip_ws(buf, i + 1, len) != len)
		return list_fail(reterr, "data after the list", i + 1);
	if (!have_items && !metadata)
		return list_fail(reterr, "neither items nor metadata: not a List", 0);
	if (!metadata)
		metadata = json_object();
	if (!metadata)
		return -ENOMEM;
	*ret_metadata = TAKE_PTR(metadata);
	return 0;
}

/* ---- backoff ---- */

static uint64_t xorshift(uint64_t *state)
{
	uint64_t x = *state;

	if (x == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		x = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)state;
		if (x == 0)
			x = 0x9e3779b97f4a7c15ull;
	}
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

uint64_t k8s_backoff_next(struct k8s_backoff *b)
{
	uint64_t d = b->initial_usec ? b->initial_usec : 1;

	for (unsigned i = 0; i < b->failures && d < b->max_usec; i++)
		d *= 2;
	if (b->max_usec && d > b->max_usec)
		d = b->max_usec;
	if (b->failures < 64)
		b->failures++;
	/* Uniform in [d/2, d]: spreads clients that failed together (full jitter would allow
	 * near-zero waits and so a retry storm). */
	return d / 2 + xorshift(&b->rand_state) % (d / 2 + 1);
}

void k8s_backoff_reset(struct k8s_backoff *b)
{
	b->failures = 0;
}

int64_t k8s_retry_after_parse(const char *value, int64_t now)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char mon[4], wday[4];
	int day, year, hh, mm, ss;
	int64_t secs;

	while (*value == ' ' || *value == '\t')
		value++;
	if (*value >= '0' && *value <= '9') {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(value, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end || errno)
			return -EINVAL;
		secs = v > 600 ? 600 : (int64_t)v;
		return secs * 1000000;
	}
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7). */
	if (sscanf(value, "%3s, %d %3s %d %d:%d:%d GMT", wday, &day, mon, &year, &hh, &mm, &ss) !=
	    7)
		return -EINVAL;
	for (int m = 0; m < 12; m++)
		if (streq(mon, months[m])) {
			struct tm tm = { .tm_year = year - 1900,
					 .tm_mon = m,
					 .tm_mday = day,
					 .tm_hour = hh,
					 .tm_min = mm,
					 .tm_sec = ss };
			int64_t t;

			if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970 ||
			    year > 9999)
				return -EINVAL;
			t = (int64_t)timegm(&tm);
			secs = t - now;
			if (secs < 0)
				secs = 0;
			if (secs > 600)
				secs = 600;
			return secs * 1000000;
		}
	return -EINVAL;
}
