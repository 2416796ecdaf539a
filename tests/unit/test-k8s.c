/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests of lib/k8s: watch stream splitting and decoding, protobuf List answers and watch
 * streams, kubeconfig, backoff. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "k8s/k8s.h"

/* ---- stream splitting ---- */

struct collect {
	json_t *values;
	int stop_after;
};

static int collect_cb(void *userdata, json_t *v)
{
	struct collect *c = userdata;

	json_array_append(c->values, v);
	if (c->stop_after && (int)json_array_size(c->values) >= c->stop_after)
		return -ECANCELED;
	return 0;
}

static const char three_events[] =
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}"
	"\n"
	"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"b}{\\\"\\\\\","
	"\"resourceVersion\":\"2\"},\"x\":[1,{\"y\":[]}]}}\n"
	"  \r\n{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"3\"}}}";

static void check_three(json_t *values)
{
	ck_assert_uint_eq(json_array_size(values), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(values, 0), "type")),
			 "ADDED");
	ck_assert_str_eq(
		json_string_value(json_object_get(
			json_object_get(json_object_get(json_array_get(values, 1), "object"),
					"metadata"),
			"name")),
		"b}{\"\\");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(values, 2), "type")),
			 "BOOKMARK");
}

static size_t json_fail_from;

static void *json_malloc_small(size_t n)
{
	return n >= json_fail_from ? NULL : malloc(n);
}

START_TEST(stream_and_list_out_of_memory)
{
	/* An event or a list item with a string jansson cannot hold: out of memory, never a
	 * malformed stream, a shortened value or a crash (see model_json_parse_begin()). */
	size_t n = 100000;
	char *ev = malloc(n + 256), *list = malloc(n + 256), *p;
	struct collect c = { json_array(), 0 };
	struct np_error e = { 0 };
	struct k8s_stream s;
	json_t *md = NULL;

	ck_assert_ptr_nonnull(ev);
	ck_assert_ptr_nonnull(list);
	p = ev + sprintf(ev, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
			     "\"annotations\":{\"blob\":\"");
	memset(p, 'b', n);
	strcpy(p + n, "\"}}}}\n");
	p = list + sprintf(list,
			   "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{\"metadata\":"
			   "{\"name\":\"a\",\"annotations\":{\"blob\":\"");
	memset(p, 'b', n);
	strcpy(p + n, "\"}}}]}");
	json_fail_from = 32768;
	json_set_alloc_funcs(json_malloc_small, free);
	k8s_stream_init(&s, 0);
	ck_assert_int_eq(k8s_stream_feed(&s, ev, strlen(ev), collect_cb, &c, &e), -ENOMEM);
	ck_assert_msg(strstr(e.message, "out of memory"), "%s", e.message);
	k8s_stream_done(&s);
	ck_assert_int_eq(k8s_list_parse(list, strlen(list), NULL, NULL, &md, &e), -ENOMEM);
	ck_assert_msg(strstr(e.message, "out of memory"), "%s", e.message);
	json_set_alloc_funcs(malloc, free);
	ck_assert_uint_eq(json_array_size(c.values), 0);
	/* With memory, both are read. */
	k8s_stream_init(&s, 0);
	ck_assert_int_eq(k8s_stream_feed(&s, ev, strlen(ev), collect_cb, &c, &e), 0);
	k8s_stream_done(&s);
	ck_assert_uint_eq(json_array_size(c.values), 1);
	json_decref(c.values);
	free(ev);
	free(list);
}
END_TEST

START_TEST(stream_many_events_in_one_chunk)
{
	struct k8s_stream s;
	struct collect c = { json_array(), 0 };

	k8s_stream_init(&s, 0);
	ck_assert_int_eq(
		k8s_stream_feed(&s, three_events, strlen(three_events), collect_cb, &c, NULL), 0);
	check_three(c.values);
	ck_assert(!k8s_stream_pending(&s));
	k8s_stream_done(&s);
	json_decref(c.values);
}
END_TEST

START_TEST(stream_split_at_every_boundary)
{
	size_t n = strlen(three_events);

	/* Every pair of cut points: events split across chunks, including inside escapes. */
	for (size_t i = 0; i <= n; i++)
		for (size_t j = i; j <= n; j += 7) {
			struct k8s_stream s;
			struct collect c = { json_array(), 0 };

			k8s_stream_init(&s, 0);
			ck_assert_int_eq(k8s_stream_feed(&s, three_events, i, collect_cb, &c, NULL),
					 0);
			ck_assert_int_eq(
				k8s_stream_feed(&s, three_events + i, j - i, collect_cb, &c, NULL),
				0);
			ck_assert_int_eq(
				k8s_stream_feed(&s, three_events + j, n - j, collect_cb, &c, NULL),
				0);
			check_three(c.values);
			k8s_stream_done(&s);
			json_decref(c.values);
		}
}
END_TEST

START_TEST(stream_byte_by_byte)
{
	struct k8s_stream s;
	struct collect c = { json_array(), 0 };

	k8s_stream_init(&s, 0);
	for (size_t i = 0; three_events[i]; i++) {
		ck_assert_int_eq(k8s_stream_feed(&s, three_events + i, 1, collect_cb, &c, NULL), 0);
		/* the value is complete exactly when its last brace arrives */
		if (i == strlen(three_events) - 2)
			ck_assert(k8s_stream_pending(&s));
	}
	check_three(c.values);
	ck_assert(!k8s_stream_pending(&s));
	k8s_stream_done(&s);
	json_decref(c.values);
}
END_TEST

START_TEST(stream_very_long_line)
{
	size_t big = 20u << 20, chunk = 16384;
	char *ev = malloc(big + 200);
	struct k8s_stream s;
	struct collect c = { json_array(), 0 };
	size_t n;

	ck_assert_ptr_nonnull(ev);
	n = (size_t)sprintf(ev, "{\"type\":\"ADDED\",\"object\":{\"data\":\"");
	memset(ev + n, 'x', big);
	/* escaped quotes and braces deep inside the long string */
	memcpy(ev + n + big / 2, "\\\"}}{", 5);
	n += big;
	n += (size_t)sprintf(ev + n, "\"}}\n");
	k8s_stream_init(&s, 0);
	for (size_t off = 0; off < n; off += chunk)
		ck_assert_int_eq(
			k8s_stream_feed(&s, ev + off, MIN(chunk, n - off), collect_cb, &c, NULL),
			0);
	ck_assert_uint_eq(json_array_size(c.values), 1);
	ck_assert_uint_eq(json_string_length(json_object_get(
				  json_object_get(json_array_get(c.values, 0), "object"), "data")),
			  big - 1);
	k8s_stream_done(&s);
	json_decref(c.values);
	free(ev);
}
END_TEST

START_TEST(stream_events_without_newlines)
{
	const char *in = "{\"a\":1}{\"b\":2}   {\"c\":\"}\"}";
	struct k8s_stream s;
	struct collect c = { json_array(), 0 };

	k8s_stream_init(&s, 0);
	ck_assert_int_eq(k8s_stream_feed(&s, in, strlen(in), collect_cb, &c, NULL), 0);
	ck_assert_uint_eq(json_array_size(c.values), 3);
	k8s_stream_done(&s);
	json_decref(c.values);
}
END_TEST

static int feed_all(const char *in, size_t max, struct np_error *err, size_t *ret_values)
{
	struct k8s_stream s;
	struct collect c = { json_array(), 0 };
	int r;

	k8s_stream_init(&s, max);
	r = k8s_stream_feed(&s, in, strlen(in), collect_cb, &c, err);
	*ret_values = json_array_size(c.values);
	if (r == -EBADMSG) /* a failed stream stays failed */
		ck_assert_int_eq(k8s_stream_feed(&s, "{}", 2, collect_cb, &c, NULL), -EBADMSG);
	k8s_stream_done(&s);
	json_decref(c.values);
	return r;
}

START_TEST(stream_malformed)
{
	struct np_error err = { 0 };
	size_t n;

	ck_assert_int_eq(feed_all("{\"a\":1}\n[1,2]\n", 0, &err, &n), -EBADMSG);
	ck_assert_uint_eq(n, 1);
	ck_assert(strstr(err.message, "expected a JSON object"));
	ck_assert_int_eq(feed_all("{\"a\":1,}\n", 0, &err, &n), -EBADMSG);
	ck_assert(strstr(err.message, "not valid JSON"));
	ck_assert_int_eq(feed_all("{\"a\":\n{\"b\":2}}\n", 0, &err, &n), -EBADMSG);
	ck_assert(strstr(err.message, "line break"));
	ck_assert_int_eq(
		feed_all("{\"a\":\"0123456789012345678901234567890123456789\"}", 16, &err, &n),
		-EBADMSG);
	ck_assert(strstr(err.message, "larger than the limit"));
	ck_assert_int_eq(feed_all("garbage", 0, &err, &n), -EBADMSG);
	ck_assert_int_eq(feed_all("}", 0, &err, &n), -EBADMSG);
	/* a NUL inside a string is valid JSON (\u0000) but not a raw one */
	ck_assert_int_eq(feed_all("{\"a\":\"\\u0000\"}", 0, &err, &n), 0);
	ck_assert_uint_eq(n, 1);
}
END_TEST

START_TEST(stream_callback_stops)
{
	struct k8s_stream s;
	struct collect c = { json_array(), 2 };

	k8s_stream_init(&s, 0);
	ck_assert_int_eq(
		k8s_stream_feed(&s, three_events, strlen(three_events), collect_cb, &c, NULL),
		-ECANCELED);
	ck_assert_uint_eq(json_array_size(c.values), 2);
	k8s_stream_done(&s);
	json_decref(c.values);
}
END_TEST

static int count_item(void *userdata, json_t *item)
{
	json_array_append(userdata, item);
	return 0;
}

static int lp(const char *body, json_t *items, json_t **md, struct np_error *err)
{
	_cleanup_(freep) char *copy = strdup(body);

	ck_assert_ptr_nonnull(copy);
	return k8s_list_parse(copy, strlen(copy), count_item, items, md, err);
}

START_TEST(list_item_by_item)
{
	static const char body[] =
		" {\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
		"\"12\",\"continue\":\"c1\"},\n\"items\": [ {\"metadata\":{\"name\":\"a]}\\\"\"}}, "
		"\"odd\" ,{\"x\":[1,{\"y\":null}]}] }\n";
	struct np_error err = { 0 };
	json_t *items = json_array(), *md = NULL;

	ck_assert_int_eq(lp(body, items, &md, &err), 0);
	ck_assert_uint_eq(json_array_size(items), 3);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_array_get(items, 0), "metadata"), "name")),
			 "a]}\"");
	ck_assert_str_eq(json_string_value(json_array_get(items, 1)), "odd");
	ck_assert_str_eq(json_string_value(json_object_get(md, "continue")), "c1");
	json_decref(md);
	json_array_clear(items);

	/* empty and null items, metadata after items */
	ck_assert_int_eq(
		lp("{\"items\":[],\"metadata\":{\"resourceVersion\":\"3\"}}", items, &md, &err), 0);
	ck_assert_str_eq(json_string_value(json_object_get(md, "resourceVersion")), "3");
	json_decref(md);
	ck_assert_int_eq(lp("{\"items\":null}", items, &md, &err), 0);
	json_decref(md);
	ck_assert_uint_eq(json_array_size(items), 0);

	/* not a List */
	ck_assert_int_eq(lp("[]", items, &md, &err), -EBADMSG);
	ck_assert_int_eq(lp("{\"items\":{}}", items, &md, &err), -EBADMSG);
	ck_assert_int_eq(lp("{\"items\":[{\"a\":1}", items, &md, &err), -EBADMSG);
	ck_assert_int_eq(lp("{\"items\":[{\"a\":1,}]}", items, &md, &err), -EBADMSG);
	ck_assert(strstr(err.message, "not valid JSON"));
	ck_assert_int_eq(lp("{\"items\":[]} x", items, &md, &err), -EBADMSG);
	ck_assert_int_eq(lp("{\"kind\":\"Status\"}", items, &md, &err), -EBADMSG);
	ck_assert_int_eq(lp("{\"items\":[1 2]}", items, &md, &err), -EBADMSG);
	json_decref(items);
}
END_TEST

static const char *item_json(json_t *items, size_t i, char *buf, size_t size)
{
	char *s = json_dumps(json_array_get(items, i), JSON_COMPACT | JSON_SORT_KEYS);

	snprintf(buf, size, "%s", s);
	free(s);
	return buf;
}

START_TEST(managed_fields_dropped)
{
	struct np_error err = { 0 };
	json_t *items = json_array(), *md = NULL;
	char buf[512];
	struct k8s_stream s;
	struct collect c = { json_array(), 0 };
	static const char ev[] =
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\","
		"\"managedFields\":[{\"manager\":\"x\",\"fieldsV1\":{\"f:a\":{}}}]}}}\n";

	ck_assert_int_eq(lp("{\"items\":["
			    /* in the middle */
			    "{\"metadata\":{\"name\":\"a\", \"managedFields\" : [{\"m\":\"]\"}] "
			    ",\"uid\":\"u\"}},"
			    /* last member */
			    "{\"metadata\":{\"name\":\"b\",\n \"managedFields\":[]}},"
			    /* the only member: left as it is */
			    "{\"metadata\":{\"managedFields\":[1]}},"
			    /* inside a string: not a member */
			    "{\"metadata\":{\"name\":\"c\\\"managedFields\\\":[1]\"}}"
			    "]}",
			    items, &md, &err),
			 0);
	json_decref(md);
	ck_assert_str_eq(item_json(items, 0, buf, sizeof(buf)),
			 "{\"metadata\":{\"name\":\"a\",\"uid\":\"u\"}}");
	ck_assert_str_eq(item_json(items, 1, buf, sizeof(buf)), "{\"metadata\":{\"name\":\"b\"}}");
	ck_assert_str_eq(item_json(items, 2, buf, sizeof(buf)),
			 "{\"metadata\":{\"managedFields\":[1]}}");
	ck_assert_str_eq(item_json(items, 3, buf, sizeof(buf)),
			 "{\"metadata\":{\"name\":\"c\\\"managedFields\\\":[1]\"}}");
	json_decref(items);

	k8s_stream_init(&s, 0);
	ck_assert_int_eq(k8s_stream_feed(&s, ev, strlen(ev), collect_cb, &c, NULL), 0);
	ck_assert_uint_eq(json_array_size(c.values), 1);
	ck_assert_str_eq(item_json(c.values, 0, buf, sizeof(buf)),
			 "{\"object\":{\"metadata\":{\"name\":\"a\"}},\"type\":\"ADDED\"}");
	k8s_stream_done(&s);
	json_decref(c.values);
}
END_TEST

/* A label or annotation may be named managedFields: only the array member is bookkeeping. */
START_TEST(managed_fields_not_a_label)
{
	static const char obj[] = "{\"metadata\":{\"labels\":{\"managedFields\":\"x\"},"
				  "\"annotations\":{\"managedFields\" : \"[1]\"},"
				  "\"managedFields\":[{\"f\":\"\\\"managedFields\\\":[]\"}],"
				  "\"name\":\"n\"}}";
	static const char want[] = "{\"metadata\":{\"annotations\":{\"managedFields\":\"[1]\"},"
				   "\"labels\":{\"managedFields\":\"x\"},\"name\":\"n\"}}";
	struct np_error err = { 0 };
	json_t *items = json_array(), *md = NULL;
	struct collect c = { json_array(), 0 };
	struct k8s_stream s;
	char body[1024], buf[512];

	/* in a List page, several items, each with its own bookkeeping */
	snprintf(body, sizeof(body), "{\"items\":[%s,%s,%s]}", obj, obj, obj);
	ck_assert_int_eq(lp(body, items, &md, &err), 0);
	json_decref(md);
	ck_assert_uint_eq(json_array_size(items), 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_str_eq(item_json(items, i, buf, sizeof(buf)), want);
	json_decref(items);

	/* in a watch event */
	snprintf(body, sizeof(body), "{\"type\":\"ADDED\",\"object\":%s}\n", obj);
	k8s_stream_init(&s, 0);
	ck_assert_int_eq(k8s_stream_feed(&s, body, strlen(body), collect_cb, &c, NULL), 0);
	ck_assert_uint_eq(json_array_size(c.values), 1);
	{
		json_t *objs = json_array();

		json_array_append(objs, json_object_get(json_array_get(c.values, 0), "object"));
		ck_assert_str_eq(item_json(objs, 0, buf, sizeof(buf)), want);
		json_decref(objs);
	}
	k8s_stream_done(&s);
	json_decref(c.values);
}
END_TEST

/* Text built to make a careless managedFields cut scan the rest of the page once per match. */
START_TEST(managed_fields_linear)
{
	const char rep[] = "{\"managedFields\":[";
	const size_t n = 400000, rl = sizeof(rep) - 1;
	_cleanup_(freep) char *page = malloc(n * rl + 64), *ev = malloc(1000 * (rl + 2) + 64);
	struct np_error err = { 0 };
	json_t *items = json_array(), *md = NULL;
	struct collect c = { json_array(), 0 };
	struct k8s_stream s;
	size_t len;

	/* a page of arrays that never end: the cut gives up at the first one */
	ck_assert_ptr_nonnull(page);
	len = (size_t)sprintf(page, "{\"items\":[");
	for (size_t i = 0; i < n; i++, len += rl)
		memcpy(page + len, rep, rl);
	ck_assert_int_eq(k8s_list_parse(page, len, count_item, items, &md, &err), -EBADMSG);
	ck_assert_uint_eq(json_array_size(items), 0);

	/* an event of nested arrays (as deep as jansson takes), each the only member of its
	 * object: left as they are, each byte scanned once */
	ck_assert_ptr_nonnull(ev);
	len = (size_t)sprintf(ev, "{\"type\":\"ADDED\",\"object\":");
	for (size_t i = 0; i < 1000; i++, len += rl)
		memcpy(ev + len, rep, rl);
	for (size_t i = 0; i < 1000; i++, len += 2)
		memcpy(ev + len, "]}", 2);
	len += (size_t)sprintf(ev + len, "}\n");
	k8s_stream_init(&s, 0);
	ck_assert_int_eq(k8s_stream_feed(&s, ev, len, collect_cb, &c, &err), 0);
	ck_assert_uint_eq(json_array_size(c.values), 1);
	k8s_stream_done(&s);
	json_decref(c.values);
	json_decref(items);
}
END_TEST

struct peeked {
	json_t *asked; /* "ns|name|rv" for each item the peek saw */
	json_t *items; /* the items decoded */
};

static int peek_cb(void *userdata, const struct k8s_raw *ns, const struct k8s_raw *name,
		   const struct k8s_raw *rv)
{
	struct peeked *p = userdata;
	char buf[256];

	snprintf(buf, sizeof(buf), "%.*s|%.*s|%.*s", ns->p ? (int)ns->len : 1, ns->p ? ns->p : "-",
		 (int)name->len, name->p, (int)rv->len, rv->p);
	json_array_append_new(p->asked, json_string(buf));
	return strneq(name->p, "skip", 4) ? 1 : 0;
}

static int peeked_item(void *userdata, json_t *item)
{
	struct peeked *p = userdata;

	json_array_append(p->items, item);
	return 0;
}

/* A re-list asks about each item's metadata before decoding it. */
START_TEST(list_peek)
{
	static const char body[] =
		"{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":["
		"{\"metadata\":{\"name\":\"skip-1\",\"namespace\":\"a\",\"resourceVersion\":\"5\","
		"\"labels\":{\"x\":\"}\"},\"managedFields\":[{}]},\"spec\":{\"s\":[1,{\"t\":\"]\"}]"
		"}},"
		"{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"6\",\"name\":\"keep-1\"}},"
		/* an escaped name is not asked about: the raw bytes are not the name */
		"{\"metadata\":{\"name\":\"skip\\u002d2\",\"resourceVersion\":\"7\"}},"
		/* no resourceVersion: not asked */
		"{\"metadata\":{\"name\":\"skip-3\"}},"
		/* skipped, and then the page goes on */
		"{\"metadata\":{\"name\":\"skip-4\",\"resourceVersion\":\"8\"}},"
		"{\"metadata\":{\"name\":\"keep-2\",\"resourceVersion\":\"9\"}}]}";
	struct peeked p = { json_array(), json_array() };
	struct np_error err = { 0 };
	_cleanup_(freep) char *copy = strdup(body);
	json_t *md = NULL;
	char buf[512];

	ck_assert_int_eq(
		k8s_list_parse_peek(copy, strlen(copy), peek_cb, peeked_item, &p, &md, &err), 0);
	ck_assert_str_eq(json_string_value(json_object_get(md, "resourceVersion")), "9");
	json_decref(md);
	ck_assert_uint_eq(json_array_size(p.asked), 4);
	ck_assert_str_eq(json_string_value(json_array_get(p.asked, 0)), "a|skip-1|5");
	ck_assert_str_eq(json_string_value(json_array_get(p.asked, 1)), "-|keep-1|6");
	ck_assert_str_eq(json_string_value(json_array_get(p.asked, 2)), "-|skip-4|8");
	ck_assert_str_eq(json_string_value(json_array_get(p.asked, 3)), "-|keep-2|9");
	ck_assert_uint_eq(json_array_size(p.items), 4);
	ck_assert_str_eq(item_json(p.items, 0, buf, sizeof(buf)),
			 "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"keep-1\",\"resourceVersion\":"
			 "\"6\"}}");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_array_get(p.items, 1), "metadata"), "name")),
			 "skip-2");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_array_get(p.items, 3), "metadata"), "name")),
			 "keep-2");
	/* a skipped item that does not end is still an error */
	ck_assert_int_eq(lp("{\"items\":[{\"metadata\":{\"name\":\"skip\",\"resourceVersion\":"
			    "\"1\"}, \"x\": [}]}",
			    p.items, &md, &err),
			 -EBADMSG);
	free(copy);
	copy = strdup("{\"items\":[{\"metadata\":{\"name\":\"skip\",\"resourceVersion\":\"1\"},"
		      "\"x\":[");
	ck_assert_int_eq(
		k8s_list_parse_peek(copy, strlen(copy), peek_cb, peeked_item, &p, &md, &err),
		-EBADMSG);
	json_decref(p.asked);
	json_decref(p.items);
}
END_TEST

START_TEST(watch_event_types)
{
	struct np_error err = { 0 };
	enum k8s_watch_type t;
	json_t *obj, *ev;

	ev = json_loads("{\"type\":\"DELETED\",\"object\":{\"metadata\":{}}}", 0, NULL);
	ck_assert_int_eq(k8s_watch_event_parse(ev, &t, &obj, &err), 0);
	ck_assert_int_eq(t, K8S_WATCH_DELETED);
	ck_assert_ptr_eq(obj, json_object_get(ev, "object"));
	json_decref(ev);
	ev = json_loads("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}", 0,
			NULL);
	ck_assert_int_eq(k8s_watch_event_parse(ev, &t, &obj, &err), 0);
	ck_assert_int_eq(t, K8S_WATCH_ERROR);
	json_decref(ev);
	ev = json_loads("{\"type\":\"SYNC\",\"object\":{}}", 0, NULL);
	ck_assert_int_eq(k8s_watch_event_parse(ev, &t, &obj, &err), -EBADMSG);
	ck_assert(strstr(err.message, "SYNC"));
	json_decref(ev);
	ev = json_loads("{\"type\":\"ADDED\",\"object\":\"x\"}", 0, NULL);
	ck_assert_int_eq(k8s_watch_event_parse(ev, &t, &obj, &err), -EBADMSG);
	json_decref(ev);
	ev = json_loads("{\"object\":{}}", 0, NULL);
	ck_assert_int_eq(k8s_watch_event_parse(ev, &t, &obj, &err), -EBADMSG);
	json_decref(ev);
}
END_TEST

/* ---- kubeconfig ---- */

static const char kubeconfig[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"current-context: prod\n"
	"preferences: {}\n"
	"clusters:\n"
	"- name: dev\n"
	"  cluster:\n"
	"    server: http://127.0.0.1:8080\n"
	"    insecure-skip-tls-verify: true\n"
	"- name: prod-cluster\n"
	"  cluster:\n"
	"    server: https://api.example.com:6443/\n"
	"    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
	"    tls-server-name: kubernetes\n"
	"users:\n"
	"- name: admin\n"
	"  user:\n"
	"    client-certificate-data: Y2VydA==\n"
	"    client-key-data: a2V5\n"
	"- name: agent\n"
	"  user:\n"
	"    tokenFile: secrets/token\n"
	"    token: static-token\n"
	"contexts:\n"
	"- name: prod\n"
	"  context:\n"
	"    cluster: prod-cluster\n"
	"    user: agent\n"
	"    namespace: kube-system\n"
	"- name: dev\n"
	"  context: {cluster: dev, user: admin}\n";

START_TEST(kubeconfig_current_context)
{
	_cleanup_(k8s_config_freep) struct k8s_config *c = NULL;
	struct np_error err = { 0 };

	ck_assert_int_eq(k8s_config_parse_kubeconfig(kubeconfig, strlen(kubeconfig), "kc",
						     "/etc/kube", NULL, &c, &err),
			 0);
	ck_assert_str_eq(c->server, "https://api.example.com:6443");
	ck_assert_str_eq(c->context, "prod");
	ck_assert_str_eq(c->namespace, "kube-system");
	ck_assert_str_eq(c->ca_data, "-----BEGIN CERTIFICATE-----\n");
	ck_assert_uint_eq(c->ca_data_len, 28);
	ck_assert_ptr_null(c->ca_file);
	ck_assert_str_eq(c->token, "static-token");
	/* relative paths are relative to the kubeconfig's directory */
	ck_assert_str_eq(c->token_file, "/etc/kube/secrets/token");
	ck_assert_str_eq(c->tls_server_name, "kubernetes");
	ck_assert(!c->insecure);
	ck_assert_ptr_null(c->cert_data);
}
END_TEST

START_TEST(kubeconfig_other_context)
{
	_cleanup_(k8s_config_freep) struct k8s_config *c = NULL;
	struct np_error err = { 0 };

	ck_assert_int_eq(k8s_config_parse_kubeconfig(kubeconfig, strlen(kubeconfig), "kc", NULL,
						     "dev", &c, &err),
			 0);
	ck_assert_str_eq(c->server, "http://127.0.0.1:8080");
	ck_assert(c->insecure);
	ck_assert_str_eq(c->cert_data, "cert");
	ck_assert_str_eq(c->key_data, "key");
	ck_assert_uint_eq(c->key_data_len, 3);
	ck_assert_ptr_null(c->token);
}
END_TEST

static int parse_err(const char *doc, const char *ctx, struct np_error *err)
{
	struct k8s_config *c = NULL;
	int r;

	memset(err, 0, sizeof(*err));
	r = k8s_config_parse_kubeconfig(doc, strlen(doc), "kc", NULL, ctx, &c, err);
	k8s_config_free(c);
	return r;
}

START_TEST(kubeconfig_errors)
{
	struct np_error err;

	ck_assert_int_eq(parse_err(kubeconfig, "nope", &err), -EINVAL);
	ck_assert(strstr(err.message, "context 'nope' not found"));
	ck_assert_int_eq(parse_err("clusters: []\n", NULL, &err), -EINVAL);
	ck_assert(strstr(err.message, "current-context"));
	ck_assert_int_eq(parse_err("a: [1, 2\n", NULL, &err), -EBADMSG);
	ck_assert_uint_ge(err.line, 1);
	ck_assert_int_eq(parse_err("", NULL, &err), -EBADMSG);
	ck_assert_int_eq(parse_err("- just\n- a list\n", NULL, &err), -EBADMSG);
	ck_assert_int_eq(parse_err("current-context: x\ncontexts:\n- name: x\n  context: "
				   "{cluster: c}\nclusters:\n- name: c\n  cluster: {server: "
				   "ftp://x}\n",
				   NULL, &err),
			 -EINVAL);
	ck_assert(strstr(err.message, "not an http(s) URL"));
	ck_assert_int_eq(parse_err("current-context: x\ncontexts:\n- name: x\n  context: "
				   "{cluster: c}\nclusters:\n- name: c\n  cluster: {server: "
				   "'https://x', insecure-skip-tls-verify: maybe}\n",
				   NULL, &err),
			 -EINVAL);
	ck_assert_int_eq(parse_err("current-context: x\ncontexts:\n- name: x\n  context: "
				   "{cluster: c}\nclusters:\n- name: c\n  cluster: {server: "
				   "'https://x', certificate-authority-data: '!!notbase64'}\n",
				   NULL, &err),
			 -EINVAL);
	ck_assert(strstr(err.message, "base64"));
	ck_assert_int_eq(
		parse_err("current-context: x\ncontexts:\n- name: x\n  context: "
			  "{cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: "
			  "'https://x'}\nusers:\n- name: u\n  user: {exec: {command: aws}}\n",
			  NULL, &err),
		-EINVAL);
	ck_assert(strstr(err.message, "exec"));
	ck_assert_int_eq(
		parse_err("current-context: x\ncontexts:\n- name: x\n  context: "
			  "{cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: "
			  "'https://x'}\nusers:\n- name: u\n  user: {client-certificate: "
			  "/a.crt}\n",
			  NULL, &err),
		-EINVAL);
	ck_assert(strstr(err.message, "both"));
}
END_TEST

START_TEST(kubeconfig_json_and_anchors)
{
	static const char json_kc[] =
		"{\"current-context\":\"c\",\"contexts\":[{\"name\":\"c\",\"context\":{\"cluster\":"
		"\"k\",\"user\":\"u\"}}],\"clusters\":[{\"name\":\"k\",\"cluster\":{\"server\":"
		"\"https://10.0.0.1\",\"certificate-authority\":\"/"
		"ca.pem\"}}],\"users\":[{\"name\":"
		"\"u\",\"user\":{\"token\":\"t\"}}]}";
	static const char anchors[] = "current-context: c\n"
				      "base: &b {server: 'https://[fd00::1]:443'}\n"
				      "clusters: [{name: k, cluster: *b}]\n"
				      "contexts: [{name: c, context: {cluster: k}}]\n";
	_cleanup_(k8s_config_freep) struct k8s_config *c = NULL, *d = NULL;

	ck_assert_int_eq(
		k8s_config_parse_kubeconfig(json_kc, strlen(json_kc), NULL, "/x", NULL, &c, NULL),
		0);
	ck_assert_str_eq(c->server, "https://10.0.0.1");
	ck_assert_str_eq(c->ca_file, "/ca.pem");
	ck_assert_str_eq(c->token, "t");
	ck_assert_int_eq(
		k8s_config_parse_kubeconfig(anchors, strlen(anchors), NULL, NULL, NULL, &d, NULL),
		0);
	ck_assert_str_eq(d->server, "https://[fd00::1]:443");
}
END_TEST

START_TEST(kubeconfig_file_and_env)
{
	char dir[] = "/tmp/test-k8s-XXXXXX", path[300], env[700];
	_cleanup_(k8s_config_freep) struct k8s_config *c = NULL;
	struct k8s_config *c2 = NULL;
	struct np_error err = { 0 };
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(kubeconfig, f);
	fclose(f);
	snprintf(env, sizeof(env), "%s/missing:%s", dir, path);
	setenv("KUBECONFIG", env, 1);
	ck_assert_int_eq(k8s_config_load_kubeconfig(NULL, NULL, &c, &err), 0);
	ck_assert_str_eq(c->server, "https://api.example.com:6443");
	ck_assert_ptr_nonnull(strstr(c->token_file, dir));
	ck_assert_int_eq(k8s_config_load_kubeconfig("/nonexistent/kc", NULL, &c2, &err), -ENOENT);
	unsetenv("KUBECONFIG");
	unlink(path);
	rmdir(dir);
}
END_TEST

/* $KUBECONFIG with several files, merged as kubectl merges them. */
static const char kc_first[] = /* sets the context and a user, no cluster */
	"current-context: work\n"
	"contexts:\n"
	"- name: work\n"
	"  context: {cluster: shared, user: me, namespace: first-ns}\n"
	"users:\n"
	"- name: me\n"
	"  user: {tokenFile: tok-first}\n";
static const char kc_second[] = /* a second current-context, the same names again, and more */
	"current-context: other\n"
	"contexts:\n"
	"- name: work\n"
	"  context: {cluster: elsewhere, user: me, namespace: second-ns}\n"
	"- name: other\n"
	"  context: {cluster: elsewhere, user: you}\n"
	"clusters:\n"
	"- name: shared\n"
	"  cluster: {server: 'https://second:6443', certificate-authority: ca.crt}\n"
	"- name: elsewhere\n"
	"  cluster: {server: 'https://elsewhere'}\n"
	"users:\n"
	"- name: me\n"
	"  user: {token: second-token, client-certificate: c.crt, client-key: c.key}\n"
	"- name: you\n"
	"  user: {token: you-token}\n";
static const char kc_third[] = /* the cluster again: the second file set it first */
	"clusters:\n"
	"- name: shared\n"
	"  cluster: {server: 'https://third'}\n";

START_TEST(kubeconfig_merge)
{
	_cleanup_(k8s_config_freep) struct k8s_config *c = NULL, *o = NULL, *e = NULL;
	struct k8s_config *none = NULL;
	struct np_error err = { 0 };
	struct k8s_kubeconfig_doc docs[] = {
		{ "", 0, "/k/empty", "/k" },
		{ kc_first, strlen(kc_first), "/a/first", "/a" },
		{ kc_second, strlen(kc_second), "/b/second", "/b" },
		{ kc_third, strlen(kc_third), "/c/third", "/c" },
	};
	static const char no_server[] = "clusters:\n- name: shared\n  cluster: {}\n";
	static const char bad[] = "clusters: [\n";

	ck_assert_int_eq(k8s_config_parse_kubeconfigs(docs, 4, NULL, &c, &err), 0);
	/* current-context and the context from the first file that sets them */
	ck_assert_str_eq(c->context, "work");
	ck_assert_str_eq(c->namespace, "first-ns");
	/* the cluster from the first file that has it, its path relative to that file */
	ck_assert_str_eq(c->server, "https://second:6443");
	ck_assert_str_eq(c->ca_file, "/b/ca.crt");
	/* the user of the first file, whole: nothing of the second file's "me" is added */
	ck_assert_str_eq(c->token_file, "/a/tok-first");
	ck_assert_ptr_null(c->token);
	ck_assert_ptr_null(c->cert_file);
	ck_assert_ptr_null(c->key_file);

	/* a context only the second file has */
	ck_assert_int_eq(k8s_config_parse_kubeconfigs(docs, 4, "other", &o, &err), 0);
	ck_assert_str_eq(o->server, "https://elsewhere");
	ck_assert_str_eq(o->token, "you-token");

	/* without the first file, the second one's current-context */
	ck_assert_int_eq(k8s_config_parse_kubeconfigs(docs + 2, 2, NULL, &e, &err), 0);
	ck_assert_str_eq(e->context, "other");

	/* an entry is never completed from a later file: a cluster without server stays so */
	docs[0] = (struct k8s_kubeconfig_doc){ no_server, strlen(no_server), "/k/ns", "/k" };
	ck_assert_int_eq(k8s_config_parse_kubeconfigs(docs, 4, NULL, &none, &err), -EINVAL);
	ck_assert(strstr(err.message, "has no server"));
	ck_assert_str_eq(err.file, "/k/ns");

	/* a file that is not YAML is an error naming it, wherever it is in the list */
	docs[3] = (struct k8s_kubeconfig_doc){ bad, strlen(bad), "/d/bad", "/d" };
	ck_assert_int_eq(k8s_config_parse_kubeconfigs(docs + 1, 3, NULL, &none, &err), -EBADMSG);
	ck_assert_str_eq(err.file, "/d/bad");

	/* a context that none of the files has */
	ck_assert_int_eq(k8s_config_parse_kubeconfigs(docs + 1, 2, "nope", &none, &err), -EINVAL);
	ck_assert(strstr(err.message, "context 'nope' not found"));
	/* nothing but empty documents */
	docs[0] = (struct k8s_kubeconfig_doc){ "\n", 1, "/k/empty", "/k" };
	ck_assert_int_eq(k8s_config_parse_kubeconfigs(docs, 1, NULL, &none, &err), -EBADMSG);
	ck_assert_ptr_null(none);
}
END_TEST

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(kubeconfig_env_merge)
{
	char dir[] = "/tmp/test-k8s-XXXXXX", a[300], b[300], sub[300], env[1500];
	_cleanup_(k8s_config_freep) struct k8s_config *c = NULL, *x = NULL;
	struct k8s_config *none = NULL;
	struct np_error err = { 0 };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(a, sizeof(a), "%s/first", dir);
	snprintf(b, sizeof(b), "%s/second", sub);
	write_text(a, kc_first);
	write_text(b, kc_second);
	/* empty entries and files that do not exist are skipped */
	snprintf(env, sizeof(env), "::%s/missing:%s::%s:", dir, a, b);
	setenv("KUBECONFIG", env, 1);
	ck_assert_int_eq(k8s_config_load_kubeconfig(NULL, NULL, &c, &err), 0);
	ck_assert_str_eq(c->context, "work");
	ck_assert_str_eq(c->server, "https://second:6443");
	ck_assert(strneq(c->ca_file, sub, strlen(sub)));
	ck_assert(strneq(c->token_file, dir, strlen(dir)) && !strstr(c->token_file, "/sub/"));
	/* k8s_config_auto() takes the same path */
	ck_assert_int_eq(k8s_config_auto(NULL, NULL, NULL, NULL, &x, &err), 0);
	ck_assert_str_eq(x->server, "https://second:6443");
	/* an explicit file is read alone: the first file has no cluster */
	ck_assert_int_eq(k8s_config_load_kubeconfig(a, NULL, &none, &err), -EINVAL);
	ck_assert(strstr(err.message, "cluster 'shared' not found"));
	/* none of the files exists */
	snprintf(env, sizeof(env), "%s/missing:%s/missing2", dir, dir);
	setenv("KUBECONFIG", env, 1);
	ck_assert_int_eq(k8s_config_load_kubeconfig(NULL, NULL, &none, &err), -ENOENT);
	/* an unreadable file in the list is an error, not skipped */
	snprintf(env, sizeof(env), "%s:%s", a, dir);
	setenv("KUBECONFIG", env, 1);
	ck_assert_int_lt(k8s_config_load_kubeconfig(NULL, NULL, &none, &err), 0);
	ck_assert_ptr_null(none);
	unsetenv("KUBECONFIG");
	unlink(a);
	unlink(b);
	rmdir(sub);
	rmdir(dir);
}
END_TEST

START_TEST(in_cluster)
{
	char dir[] = "/tmp/test-k8s-XXXXXX", path[300];
	_cleanup_(k8s_config_freep) struct k8s_config *c = NULL, *c6 = NULL;
	struct k8s_config *none = NULL;
	struct np_error err = { 0 };
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	unsetenv("KUBERNETES_SERVICE_HOST");
	ck_assert_int_eq(k8s_config_in_cluster(dir, &none, &err), -ENXIO);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	ck_assert_int_eq(k8s_config_in_cluster(dir, &none, &err), -ENOENT); /* no token */
	snprintf(path, sizeof(path), "%s/token", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("abc\n", f);
	fclose(f);
	ck_assert_int_eq(k8s_config_in_cluster(dir, &c, &err), 0);
	ck_assert_str_eq(c->server, "https://10.96.0.1:443");
	ck_assert_str_eq(c->token_file, path);
	ck_assert_ptr_nonnull(strstr(c->ca_file, "/ca.crt"));
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	ck_assert_int_eq(k8s_config_in_cluster(dir, &c6, &err), 0);
	ck_assert_str_eq(c6->server, "https://[fd00::1]:443");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(explicit_config)
{
	_cleanup_(k8s_config_freep) struct k8s_config *c = NULL;
	struct k8s_config *bad = NULL;
	struct np_error err = { 0 };

	ck_assert_int_eq(k8s_config_explicit("https://h:6443//", "/t", NULL, &c, &err), 0);
	ck_assert_str_eq(c->server, "https://h:6443");
	ck_assert(!c->insecure); /* never by default */
	ck_assert_int_eq(k8s_config_explicit("h:6443", NULL, NULL, &bad, &err), -EINVAL);
	ck_assert_int_eq(k8s_config_explicit("https://h\n:6443", NULL, NULL, &bad, &err), -EINVAL);
}
END_TEST

START_TEST(client_rejects_unreadable_files)
{
	_cleanup_(k8s_config_freep) struct k8s_config *c = NULL;
	struct k8s_client *cl = NULL;
	struct np_error err = { 0 };

	ck_assert_int_eq(k8s_config_explicit("https://h", "/nonexistent/token", NULL, &c, &err), 0);
	ck_assert_int_eq(k8s_client_new(c, NULL, NULL, NULL, NULL, &cl, &err), -ENOENT);
	ck_assert(strstr(err.message, "token"));
}
END_TEST

START_TEST(base64)
{
	char *out = NULL;
	size_t n = 0;

	ck_assert_int_eq(k8s_base64_decode("aGVsbG8=", 8, &out, &n), 0);
	ck_assert_str_eq(out, "hello");
	ck_assert_uint_eq(n, 5);
	free(out);
	ck_assert_int_eq(k8s_base64_decode("aGVs\nbG8h", 9, &out, &n), 0);
	ck_assert_str_eq(out, "hello!");
	free(out);
	ck_assert_int_eq(k8s_base64_decode("", 0, &out, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(out);
	ck_assert_int_eq(k8s_base64_decode("aGVsbG8=x", 9, &out, &n), -EINVAL);
	ck_assert_int_eq(k8s_base64_decode("a$==", 4, &out, &n), -EINVAL);
	ck_assert_int_eq(k8s_base64_decode("a", 1, &out, &n), -EINVAL);
}
END_TEST

/* ---- backoff ---- */

START_TEST(backoff_grows_with_jitter_and_caps)
{
	struct k8s_backoff b = { .initial_usec = 100000, .max_usec = 1600000, .rand_state = 42 };
	uint64_t expect = 100000;
	bool varied = false;
	uint64_t prev = 0;

	for (int i = 0; i < 12; i++) {
		uint64_t d = k8s_backoff_next(&b);

		ck_assert_uint_ge(d, expect / 2);
		ck_assert_uint_le(d, expect);
		if (i > 0 && d != prev)
			varied = true;
		prev = d;
		expect = MIN(expect * 2, 1600000u);
	}
	ck_assert(varied);
	k8s_backoff_reset(&b);
	ck_assert_uint_le(k8s_backoff_next(&b), 100000);
}
END_TEST

START_TEST(backoff_jitter_spreads)
{
	/* Many clients failing together must not retry together. */
	uint64_t min = UINT64_MAX, max = 0;

	for (int i = 1; i <= 200; i++) {
		struct k8s_backoff b = { .initial_usec = 1000000,
					 .max_usec = 1000000,
					 .rand_state = (uint64_t)i * 7919 };
		uint64_t d = k8s_backoff_next(&b);

		min = MIN(min, d);
		max = MAX(max, d);
	}
	ck_assert_uint_lt(min, 600000);
	ck_assert_uint_gt(max, 900000);
}
END_TEST

START_TEST(retry_after)
{
	ck_assert_int_eq(k8s_retry_after_parse(" 3", 0), 3000000);
	ck_assert_int_eq(k8s_retry_after_parse("120\r\n", 0), 120000000);
	ck_assert_int_eq(k8s_retry_after_parse("99999", 0), 600000000); /* clamped */
	ck_assert_int_eq(k8s_retry_after_parse("0", 0), 0);
	/* 784111777 is Sun, 06 Nov 1994 08:49:37 GMT */
	ck_assert_int_eq(k8s_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111770),
			 7000000);
	ck_assert_int_eq(k8s_retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", 784111800), 0);
	ck_assert_int_eq(k8s_retry_after_parse("soon", 0), -EINVAL);
	ck_assert_int_eq(k8s_retry_after_parse("3s", 0), -EINVAL);
	ck_assert_int_eq(k8s_retry_after_parse("Sun, 06 Foo 1994 08:49:37 GMT", 0), -EINVAL);
}
END_TEST

START_TEST(resources)
{
	ck_assert_str_eq(k8s_resource_get(MODEL_POLICY)->path,
			 "/apis/networking.k8s.io/v1/networkpolicies");
	ck_assert_str_eq(k8s_resource_get(MODEL_DAEMONSET)->path,
			 "/apis/apps/v1/namespaces/kube-system/daemonsets");
	ck_assert(!k8s_resource_get(MODEL_NAMESPACE)->namespaced);
	ck_assert_ptr_null(k8s_resource_get(_MODEL_KIND_MAX));
}
END_TEST

/* ---- List answers in protobuf ---- */

struct pbw {
	uint8_t b[4096];
	size_t n;
};

static void pbw_raw(struct pbw *w, const void *p, size_t n)
{
	ck_assert_uint_le(w->n + n, sizeof(w->b));
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void pbw_varint(struct pbw *w, uint64_t v)
{
	do {
		uint8_t c = (uint8_t)(v & 0x7f);

		v >>= 7;
		if (v)
			c |= 0x80;
		pbw_raw(w, &c, 1);
	} while (v);
}

static void pbw_bytes(struct pbw *w, unsigned field, const void *p, size_t n)
{
	pbw_varint(w, (uint64_t)field << 3 | 2);
	pbw_varint(w, n);
	pbw_raw(w, p, n);
}

static void pbw_str(struct pbw *w, unsigned field, const char *s)
{
	pbw_bytes(w, field, s, strlen(s));
}

static void pbw_msg(struct pbw *w, unsigned field, const struct pbw *m)
{
	pbw_bytes(w, field, m->b, m->n);
}

/* A Pod message with metadata name, namespace and resourceVersion, and an unknown field. */
static void pb_pod(struct pbw *w, const char *ns, const char *name, const char *rv)
{
	struct pbw md = { .n = 0 }, spec = { .n = 0 };

	pbw_str(&md, 1, name);
	pbw_str(&md, 3, ns);
	pbw_str(&md, 6, rv);
	pbw_varint(&md, 7 << 3 | 0); /* generation = 5 */
	pbw_varint(&md, 5);
	pbw_str(&spec, 10, "node-1");
	w->n = 0;
	pbw_msg(w, 1, &md);
	pbw_msg(w, 2, &spec);
}

/* "k8s\0" + Unknown{typeMeta{v1, kind}, raw, contentEncoding, contentType} */
static void pb_envelope(struct pbw *w, const char *kind, const struct pbw *raw, const char *enc)
{
	struct pbw tm = { .n = 0 };

	pbw_str(&tm, 1, "v1");
	pbw_str(&tm, 2, kind);
	w->n = 0;
	pbw_raw(w, "k8s", 4);
	pbw_msg(w, 1, &tm);
	pbw_msg(w, 2, raw);
	pbw_str(w, 3, enc);
	pbw_str(w, 4, "");
}

struct pb_seen {
	char names[8][64];
	int n, bad;
};

static int pb_item_cb(void *userdata, const void *item, size_t len, const struct k8s_pb_meta *md)
{
	struct pb_seen *s = userdata;

	if (!md) {
		s->bad++;
		return 0;
	}
	ck_assert_int_lt(s->n, 8);
	snprintf(s->names[s->n++], 64, "%.*s/%.*s@%.*s", (int)md->ns.len, md->ns.p,
		 (int)md->name.len, md->name.p, (int)md->rv.len, md->rv.p);
	return 0;
}

START_TEST(protobuf_list)
{
	struct pbw pod, list = { .n = 0 }, lm = { .n = 0 }, page, bad = { .n = 0 };
	struct k8s_pb_list_meta meta;
	struct np_error err = { 0 };
	struct pb_seen seen = { .n = 0 };
	char buf[256];

	pbw_str(&lm, 2, "1234");
	pbw_str(&lm, 3, "next-page");
	pbw_msg(&list, 1, &lm);
	pb_pod(&pod, "ns-a", "p1", "11");
	pbw_msg(&list, 2, &pod);
	/* an item whose metadata is a number: reported, the others go on */
	pbw_varint(&bad, 1 << 3 | 0);
	pbw_varint(&bad, 7);
	pbw_msg(&list, 2, &bad);
	pb_pod(&pod, "ns-b", "p2", "12");
	pbw_msg(&list, 2, &pod);
	pb_envelope(&page, "PodList", &list, "");
	ck_assert_int_eq(
		k8s_pb_list_parse(page.b, page.n, "PodList", pb_item_cb, &seen, &meta, &err), 0);
	ck_assert_int_eq(seen.n, 2);
	ck_assert_int_eq(seen.bad, 1);
	ck_assert_str_eq(seen.names[0], "ns-a/p1@11");
	ck_assert_str_eq(seen.names[1], "ns-b/p2@12");
	ck_assert_uint_eq(meta.rv.len, 4);
	ck_assert(memcmp(meta.rv.p, "1234", 4) == 0);
	ck_assert_uint_eq(meta.cont.len, 9);
	ck_assert(memcmp(meta.cont.p, "next-page", 9) == 0);

	/* every truncation of the page is refused or read consistently, never overread */
	for (size_t n = 0; n < page.n; n++) {
		uint8_t *copy = malloc(n + 1);

		memcpy(copy, page.b, n);
		seen = (struct pb_seen){ .n = 0 };
		(void)k8s_pb_list_parse(copy, n, "PodList", pb_item_cb, &seen, &meta, &err);
		free(copy);
	}
	page.n -= 3;
	ck_assert_int_eq(k8s_pb_list_parse(page.b, page.n, "PodList", NULL, NULL, &meta, &err),
			 -EBADMSG);
	ck_assert_msg(strstr(err.message, "protobuf"), "%s", err.message);
	/* not a PodList, compressed, no magic */
	pb_envelope(&page, "ServiceList", &list, "");
	ck_assert_int_eq(k8s_pb_list_parse(page.b, page.n, "PodList", NULL, NULL, &meta, &err),
			 -EBADMSG);
	ck_assert_msg(strstr(err.message, "ServiceList"), "%s", err.message);
	pb_envelope(&page, "PodList", &list, "gzip");
	ck_assert_int_eq(k8s_pb_list_parse(page.b, page.n, "PodList", NULL, NULL, &meta, &err),
			 -EBADMSG);
	ck_assert_msg(strstr(err.message, "gzip"), "%s", err.message);
	ck_assert_int_eq(
		k8s_pb_list_parse("{\"items\":[]}", 12, "PodList", NULL, NULL, &meta, &err),
		-EBADMSG);
	/* a group wire type inside the List */
	list.n = 0;
	pbw_varint(&list, 2 << 3 | 3);
	pb_envelope(&page, "PodList", &list, "");
	ck_assert_int_eq(k8s_pb_list_parse(page.b, page.n, "PodList", NULL, NULL, &meta, &err),
			 -EBADMSG);
	/* an empty List: no items, no metadata */
	list.n = 0;
	pb_envelope(&page, "PodList", &list, "");
	seen = (struct pb_seen){ .n = 0 };
	ck_assert_int_eq(
		k8s_pb_list_parse(page.b, page.n, "PodList", pb_item_cb, &seen, &meta, &err), 0);
	ck_assert_int_eq(seen.n, 0);
	ck_assert_uint_eq(meta.rv.len, 0);

	/* an error answer: a Status */
	list.n = 0;
	pbw_str(&list, 2, "Failure");
	pbw_str(&list, 3, "too old resource version");
	pbw_str(&list, 4, "Expired");
	pbw_varint(&list, 6 << 3 | 0);
	pbw_varint(&list, 410);
	pb_envelope(&page, "Status", &list, "");
	ck_assert_str_eq(k8s_pb_status_message(page.b, page.n, buf, sizeof(buf)),
			 "too old resource version");
	ck_assert_ptr_null(k8s_pb_status_message(page.b, 3, buf, sizeof(buf)));
}
END_TEST

/* One frame of a protobuf watch: length, WatchEvent{type, RawExtension{enveloped object}}. */
static void pb_frame(struct pbw *out, const char *type, const char *kind, const struct pbw *raw)
{
	struct pbw env, ext = { .n = 0 }, ev = { .n = 0 };
	uint8_t h[4];

	pb_envelope(&env, kind, raw, "");
	pbw_msg(&ext, 1, &env);
	pbw_str(&ev, 1, type);
	pbw_msg(&ev, 2, &ext);
	h[0] = (uint8_t)(ev.n >> 24);
	h[1] = (uint8_t)(ev.n >> 16);
	h[2] = (uint8_t)(ev.n >> 8);
	h[3] = (uint8_t)ev.n;
	pbw_raw(out, h, 4);
	pbw_raw(out, ev.b, ev.n);
}

struct pb_events {
	char seen[8][96];
	int n;
};

static int pb_event_cb(void *userdata, enum k8s_watch_type type, const struct k8s_raw *kind,
		       const void *obj, size_t len, const struct k8s_pb_meta *md)
{
	struct pb_events *s = userdata;

	ck_assert_int_lt(s->n, 8);
	if (type == K8S_WATCH_ERROR) {
		struct k8s_raw msg;
		long code;

		ck_assert_int_eq(k8s_pb_status(obj, len, &code, &msg), 0);
		snprintf(s->seen[s->n++], 96, "ERROR %ld %.*s", code, (int)msg.len, msg.p);
		return 0;
	}
	ck_assert_ptr_nonnull(md);
	snprintf(s->seen[s->n++], 96, "%d %.*s %.*s/%.*s@%.*s", (int)type, (int)kind->len, kind->p,
		 (int)md->ns.len, md->ns.p, (int)md->name.len, md->name.p, (int)md->rv.len,
		 md->rv.p);
	return 0;
}

START_TEST(protobuf_watch_stream)
{
	struct pbw stream = { .n = 0 }, pod, st = { .n = 0 }, bm = { .n = 0 }, md = { .n = 0 };
	struct np_error err = { 0 };
	struct k8s_pb_stream s;
	struct pb_events ev;

	pb_pod(&pod, "ns", "a", "21");
	pb_frame(&stream, "ADDED", "Pod", &pod);
	pb_pod(&pod, "ns", "b", "22");
	pb_frame(&stream, "DELETED", "Pod", &pod);
	pbw_str(&md, 6, "23");
	pbw_msg(&bm, 1, &md);
	pb_frame(&stream, "BOOKMARK", "Pod", &bm);
	pbw_str(&st, 3, "too old resource version");
	pbw_varint(&st, 6 << 3 | 0);
	pbw_varint(&st, 410);
	pb_frame(&stream, "ERROR", "Status", &st);

	/* every split into two chunks, and byte by byte */
	for (size_t cut = 0; cut <= stream.n; cut++) {
		ev = (struct pb_events){ .n = 0 };
		k8s_pb_stream_init(&s, 0);
		ck_assert_int_eq(k8s_pb_stream_feed(&s, stream.b, cut, pb_event_cb, &ev, &err), 0);
		ck_assert_int_eq(k8s_pb_stream_feed(&s, stream.b + cut, stream.n - cut, pb_event_cb,
						    &ev, &err),
				 0);
		ck_assert(!k8s_pb_stream_pending(&s));
		ck_assert_int_eq(ev.n, 4);
		ck_assert_str_eq(ev.seen[0], "0 Pod ns/a@21");
		ck_assert_str_eq(ev.seen[1], "2 Pod ns/b@22");
		ck_assert_str_eq(ev.seen[2], "3 Pod /@23");
		ck_assert_str_eq(ev.seen[3], "ERROR 410 too old resource version");
		k8s_pb_stream_done(&s);
	}
	ev = (struct pb_events){ .n = 0 };
	k8s_pb_stream_init(&s, 0);
	for (size_t i = 0; i < stream.n; i++)
		ck_assert_int_eq(k8s_pb_stream_feed(&s, stream.b + i, 1, pb_event_cb, &ev, &err),
				 0);
	ck_assert_int_eq(ev.n, 4);
	/* the stream ends in the middle of a frame */
	ck_assert_int_eq(k8s_pb_stream_feed(&s, stream.b, 7, pb_event_cb, &ev, &err), 0);
	ck_assert(k8s_pb_stream_pending(&s));
	k8s_pb_stream_done(&s);

	/* malformed: an empty frame, a frame over the limit, garbage, an unknown type */
	k8s_pb_stream_init(&s, 64);
	ck_assert_int_eq(k8s_pb_stream_feed(&s, "\0\0\0\0", 4, pb_event_cb, &ev, &err), -EBADMSG);
	ck_assert_int_eq(k8s_pb_stream_feed(&s, stream.b, stream.n, pb_event_cb, &ev, &err),
			 -EBADMSG); /* failed for good */
	k8s_pb_stream_done(&s);
	k8s_pb_stream_init(&s, 16);
	ck_assert_int_eq(k8s_pb_stream_feed(&s, stream.b, stream.n, pb_event_cb, &ev, &err),
			 -EBADMSG);
	ck_assert_msg(strstr(err.message, "limit"), "%s", err.message);
	k8s_pb_stream_done(&s);
	k8s_pb_stream_init(&s, 0);
	ck_assert_int_eq(
		k8s_pb_stream_feed(&s, "\0\0\0\5\xff\xff\xff\xff\xff", 9, pb_event_cb, &ev, &err),
		-EBADMSG);
	k8s_pb_stream_done(&s);
	stream.n = 0;
	pb_frame(&stream, "RENAMED", "Pod", &pod);
	k8s_pb_stream_init(&s, 0);
	ck_assert_int_eq(k8s_pb_stream_feed(&s, stream.b, stream.n, pb_event_cb, &ev, &err),
			 -EBADMSG);
	ck_assert_msg(strstr(err.message, "unknown event type"), "%s", err.message);
	k8s_pb_stream_done(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("k8s");
	TCase *tc = tcase_create("k8s"), *linear = tcase_create("linear");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, stream_many_events_in_one_chunk);
	tcase_add_test(tc, stream_and_list_out_of_memory);
	tcase_add_test(tc, stream_split_at_every_boundary);
	tcase_add_test(tc, stream_byte_by_byte);
	tcase_add_test(tc, stream_very_long_line);
	tcase_add_test(tc, stream_events_without_newlines);
	tcase_add_test(tc, stream_malformed);
	tcase_add_test(tc, stream_callback_stops);
	tcase_add_test(tc, list_item_by_item);
	tcase_add_test(tc, managed_fields_dropped);
	tcase_add_test(tc, managed_fields_not_a_label);
	tcase_add_test(tc, list_peek);
	tcase_add_test(tc, watch_event_types);
	tcase_add_test(tc, kubeconfig_current_context);
	tcase_add_test(tc, kubeconfig_other_context);
	tcase_add_test(tc, kubeconfig_errors);
	tcase_add_test(tc, kubeconfig_json_and_anchors);
	tcase_add_test(tc, kubeconfig_file_and_env);
	tcase_add_test(tc, kubeconfig_merge);
	tcase_add_test(tc, kubeconfig_env_merge);
	tcase_add_test(tc, in_cluster);
	tcase_add_test(tc, explicit_config);
	tcase_add_test(tc, client_rejects_unreadable_files);
	tcase_add_test(tc, base64);
	tcase_add_test(tc, backoff_grows_with_jitter_and_caps);
	tcase_add_test(tc, backoff_jitter_spreads);
	tcase_add_test(tc, retry_after);
	tcase_add_test(tc, resources);
	tcase_add_test(tc, protobuf_list);
	tcase_add_test(tc, protobuf_watch_stream);
	suite_add_tcase(s, tc);
	/* a cut that scans the rest of the page per match takes half a minute here */
	tcase_set_timeout(linear, 10);
	tcase_add_test(linear, managed_fields_linear);
	suite_add_tcase(s, linear);
	sr = srunner_create(s);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
