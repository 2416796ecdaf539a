/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * YAML -> JSON values with libyaml's event parser, for manifests and `kubectl -o yaml` dumps.
 * Plain scalars are typed as YAML 1.2's core schema does (null, booleans, integers, floats);
 * quoted and block scalars are strings. Anchors and aliases are resolved (an alias shares the
 * anchored value); merge keys (<<) are applied. Depth and alias expansion are bounded so that
 * hostile input cannot exhaust the stack or memory.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "model-internal.h"

#define YAML_MAX_DEPTH 256
#define YAML_MAX_ANCHORS 10000

struct anchor {
	char *name;
	json_t *value;
};

struct yparse {
	yaml_parser_t parser;
	const char *name;
	struct np_error *e;
	struct anchor *anchors;
	size_t n_anchors;
	size_t aliases; /* alias uses, bounded (billion laughs) */
};

static void yparse_done(struct yparse *y)
{
	for (size_t i = 0; i < y->n_anchors; i++) {
		free(y->anchors[i].name);
		json_decref(y->anchors[i].value);
	}
	free(y->anchors);
	yaml_parser_delete(&y->parser);
}

static int fail_at(struct yparse *y, unsigned line, const char *msg)
{
	return np_error_set(y->e, -EBADMSG, y->name, NULL, NULL, line, "YAML: %s", msg);
}

static int parser_fail(struct yparse *y)
{
	char buf[300];

	snprintf(buf, sizeof(buf), "%s%s%s", y->parser.problem ? y->parser.problem : "syntax error",
		 y->parser.context ? " " : "", y->parser.context ? y->parser.context : "");
	return fail_at(y, (unsigned)y->parser.problem_mark.line + 1, buf);
}

static int remember_anchor(struct yparse *y, const yaml_char_t *anchor, json_t *v)
{
	struct anchor *a;

	if (!anchor)
		return 0;
	if (y->n_anchors >= YAML_MAX_ANCHORS)
		return fail_at(y, 0, "too many anchors");
	a = reallocarray(y->anchors, y->n_anchors + 1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	y->anchors = a;
	a[y->n_anchors].name = strdup((const char *)anchor);
	if (!a[y->n_anchors].name)
		return -ENOMEM;
	a[y->n_anchors].value = json_incref(v);
	y->n_anchors++;
	return 0;
}

static bool all_digits(const char *s, int base)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (base == 10	 ? !(*s >= '0' && *s <= '9')
		    : base == 16 ? !strchr("0123456789abcdefABCDEF", *s)
				 : !(*s >= '0' && *s <= '7'))
			return false;
	return true;
}

/* Types a plain scalar as the YAML 1.2 core schema does. Returns a new reference. */
static json_t *plain_scalar(const char *s)
{
	const char *d = s;
	char *end;

	if (!*s || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL"))
		return json_null();
	if (streq(s, "true") || streq(s, "True") || streq(s, "TRUE"))
		return json_true();
	if (streq(s, "false") || streq(s, "False") || streq(s, "FALSE"))
		return json_false();
	if (*d == '-' || *d == '+')
		d++;
	if (all_digits(d, 10)) {
		errno = 0;
		long long v = strtoll(s, &end, 10);
		if (!errno && !*end)
			return json_integer(v);
	}
	if (strneq(s, "0x", 2) && all_digits(s + 2, 16)) {
		errno = 0;
		long long v = strtoll(s + 2, &end, 16);
		if (!errno && !*end)
			return json_integer(v);
	}
	if (strneq(s, "0o", 2) && all_digits(s + 2, 8)) {
		errno = 0;
		long long v = strtoll(s + 2, &end, 8);
		if (!errno && !*end)
			return json_integer(v);
	}
	if (strpbrk(s, "0123456789") && strspn(s, "+-.0123456789eE") == strlen(s)) {
		errno = 0;
		double v = strtod(s, &end);
		if (!errno && !*end && isfinite(v))
			return json_real(v);
	}
	return json_string(s);
}

static int parse_node(struct yparse *y, yaml_event_t *ev, unsigned depth, json_t **ret);

/* Parses the node after the current event; returns 1 and the node, 0 at the end of a
 * sequence/mapping (the end event is consumed), or a negative error. */
static int parse_next(struct yparse *y, unsigned depth, yaml_event_type_t end_type, json_t **ret)
{
	yaml_event_t ev;
	int r;

	if (!yaml_parser_parse(&y->parser, &ev))
		return parser_fail(y);
	if (ev.type == end_type) {
		yaml_event_delete(&ev);
		return 0;
	}
	r = parse_node(y, &ev, depth, ret);
	yaml_event_delete(&ev);
	return r < 0 ? r : 1;
}

static int merge_into(json_t *map, json_t *src)
{
	const char *k;
	json_t *v;

	/* Keys already in the mapping win over merged ones (YAML merge key semantics). */
	json_object_foreach(src, k, v) if (!json_object_get(map, k) &&
					   json_object_set(map, k, v) < 0) return -ENOMEM;
	return 0;
}

static int parse_node(struct yparse *y, yaml_event_t *ev, unsigned depth, json_t **ret)
{
	json_t *v = NULL, *item, *key;
	unsigned line = (unsigned)ev->start_mark.line + 1;
	int r;

	if (depth > YAML_MAX_DEPTH)
		return fail_at(y, line, "nesting too deep");
	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		const char *s = (const char *)ev->data.scalar.value;
		if (strlen(s) != ev->data.scalar.length)
			return fail_at(y, line, "NUL byte in a scalar");
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag)
			v = plain_scalar(s);
		else
			v = json_string(s);
		if (!v)
			return fail_at(y, line, "scalar is not valid UTF-8");
		r = remember_anchor(y, ev->data.scalar.anchor, v);
		break;
	}
	case YAML_ALIAS_EVENT:
		if (++y->aliases > 100000)
			return fail_at(y, line, "too many aliases");
		for (size_t i = y->n_anchors; i-- > 0;)
			if (streq(y->anchors[i].name, (const char *)ev->data.alias.anchor)) {
				v = json_incref(y->anchors[i].value);
				break;
			}
		if (!v) {
			char buf[300];
			snprintf(buf, sizeof(buf), "unknown alias '*%s'", ev->data.alias.anchor);
			return fail_at(y, line, buf);
		}
		r = 0;
		break;
	case YAML_SEQUENCE_START_EVENT:
		v = json_array();
		if (!v)
			return -ENOMEM;
		for (;;) {
			r = parse_next(y, depth + 1, YAML_SEQUENCE_END_EVENT, &item);
			if (r <= 0)
				break;
			if (json_array_append_new(v, item) < 0) {
				r = -ENOMEM;
				break;
			}
		}
		if (r >= 0)
			r = remember_anchor(y, ev->data.sequence_start.anchor, v);
		break;
	case YAML_MAPPING_START_EVENT:
		v = json_object();
		if (!v)
			return -ENOMEM;
		for (;;) {
			r = parse_next(y, depth + 1, YAML_MAPPING_END_EVENT, &key);
			if (r <= 0)
				break;
			r = parse_next(y, depth + 1, YAML_MAPPING_END_EVENT, &item);
			if (r == 0)
				r = fail_at(y, line, "mapping key without a value");
			if (r < 0) {
				json_decref(key);
				break;
			}
			if (json_is_string(key) && streq(json_string_value(key), "<<") &&
			    (json_is_object(item) || json_is_array(item))) {
				size_t i;
				json_t *x;
				if (json_is_object(item))
					r = merge_into(v, item);
				else
					json_array_foreach(item, i,
							   x) if (json_is_object(x) && r >= 0) r =
						merge_into(v, x);
			} else if (json_is_string(key)) {
				r = json_object_set(v, json_string_value(key), item) < 0 ? -ENOMEM
											 : 0;
			} else if (json_is_integer(key) || json_is_real(key) ||
				   json_is_boolean(key) || json_is_null(key)) {
				/* Non-string keys become their text, as YAML-to-JSON converters do.
				 */
				char *text = json_dumps(key, JSON_ENCODE_ANY);
				r = text && json_object_set(v, text, item) == 0 ? 0 : -ENOMEM;
				free(text);
			} else
				r = fail_at(y, line, "mapping key is not a scalar");
			json_decref(key);
			json_decref(item);
			if (r < 0)
				break;
		}
		if (r >= 0)
			r = remember_anchor(y, ev->data.mapping_start.anchor, v);
		break;
	default:
		return fail_at(y, line, "unexpected event");
	}
	if (r < 0) {
		json_decref(v);
		return r;
	}
	*ret = v;
	return 0;
}

int model_yaml_parse(const char *buf, size_t len, const char *name, json_t **ret,
		     struct np_error *e)
{
	_cleanup_(yparse_done) struct yparse y = { .name = name, .e = e };
	json_t *docs, *doc;
	yaml_event_t ev;
	int r = 0;

	if (!yaml_parser_initialize(&y.parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)buf, len);
	docs = json_array();
	if (!docs)
		return -ENOMEM;
	for (;;) {
		if (!yaml_parser_parse(&y.parser, &ev)) {
			r = parser_fail(&y);
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			/* Anchors are scoped to their document. */
			for (size_t i = 0; i < y.n_anchors; i++) {
				free(y.anchors[i].name);
				json_decref(y.anchors[i].value);
			}
			y.n_anchors = 0;
			r = parse_next(&y, 0, YAML_DOCUMENT_END_EVENT, &doc);
			if (r < 0)
				break;
			if (r == 0)
				continue; /* empty document */
			if (json_array_append_new(docs, doc) < 0) {
				r = -ENOMEM;
				break;
			}
			if (!yaml_parser_parse(&y.parser, &ev)) {
				r = parser_fail(&y);
				break;
			}
			if (ev.type != YAML_DOCUMENT_END_EVENT) {
				unsigned line = (unsigned)ev.start_mark.line + 1;
				yaml_event_delete(&ev);
				r = fail_at(&y, line, "more than one node in a document");
				break;
			}
		}
		yaml_event_delete(&ev);
	}
	if (r < 0) {
		json_decref(docs);
		return r;
	}
	*ret = docs;
	return 0;
}
