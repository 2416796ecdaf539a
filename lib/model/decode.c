/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kubernetes JSON objects (and Pods in protobuf) -> model objects. Unknown fields are ignored; a
 * field the model needs with the wrong type or an invalid value rejects the object with an error
 * that names the object and the field (the API server would have rejected it too, or the object is
 * half-filled and using it would give a wrong answer).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "k8s-pod.pb-c.h"
#include "model-internal.h"

#define FAIL(e, field, ...) np_error_set(e, -EINVAL, NULL, NULL, field, 0, __VA_ARGS__)

static const char *type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value";
}

/* Returns 1 and the member in *ret, 0 if missing or null, -EINVAL if of another type. */
static int get(json_t *o, const char *key, json_type t, const char *path, json_t **ret,
	       struct np_error *e)
{
	json_t *v = o ? json_object_get(o, key) : NULL;
	size_t pl = strlen(path), kl = strlen(key);
	char full[300];

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	/* Callers pass the member's path or its parent's; name the member either way. */
	if (pl < kl || !streq(path + pl - kl, key)) {
		snprintf(full, sizeof(full), "%s%s%s", path, *path ? "." : "", key);
		path = full;
	}
	if (json_typeof(v) != t && !(t == JSON_TRUE && json_is_boolean(v)))
		return FAIL(e, path, "must be %s, got %s",
			    t == JSON_OBJECT	? "an object"
			    : t == JSON_ARRAY	? "a list"
			    : t == JSON_STRING	? "a string"
			    : t == JSON_INTEGER ? "an integer"
						: "a boolean",
			    type_name(v));
	*ret = v;
	return 1;
}

static int get_str(json_t *o, const char *key, const char *path, const char **ret,
		   struct np_error *e)
{
	json_t *v;
	int r = get(o, key, JSON_STRING, path, &v, e);

	*ret = r > 0 ? json_string_value(v) : NULL;
	return r;
}

static int get_bool(json_t *o, const char *key, const char *path, bool *ret, struct np_error *e)
{
	json_t *v;
	int r = get(o, key, JSON_TRUE, path, &v, e);

	*ret = r > 0 && json_is_true(v);
	return r;
}

static int get_int(json_t *o, const char *key, const char *path, long long lo, long long hi,
		   long long *ret, struct np_error *e)
{
	json_t *v;
	int r = get(o, key, JSON_INTEGER, path, &v, e);

	if (r <= 0)
		return r;
	*ret = json_integer_value(v);
	if (*ret < lo || *ret > hi)
		return FAIL(e, path, "must be between %lld and %lld, got %lld", lo, hi, *ret);
	return 1;
}

const char *model_object_ident(json_t *o, const char *kind, char *buf, size_t size)
{
	json_t *md = json_is_object(o) ? json_object_get(o, "metadata") : NULL;
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));

	if (ns && name)
		snprintf(buf, size, "%s %s/%s", kind, ns, name);
	else if (name)
		snprintf(buf, size, "%s %s", kind, name);
	else
		snprintf(buf, size, "%s (without metadata.name)", kind);
	return buf;
}

const char *np_proto_name(uint8_t proto)
{
	switch (proto) {
	case NP_PROTO_TCP:
		return "TCP";
	case NP_PROTO_UDP:
		return "UDP";
	case NP_PROTO_SCTP:
		return "SCTP";
	}
	return NULL;
}

int np_proto_from_name(const char *s)
{
	if (!s)
		return -EINVAL;
	if (streq(s, "TCP"))
		return NP_PROTO_TCP;
	if (streq(s, "UDP"))
		return NP_PROTO_UDP;
	if (streq(s, "SCTP"))
		return NP_PROTO_SCTP;
	return -EINVAL;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct model_label *)a)->key, ((const struct model_label *)b)->key);
}

/* Decodes a map of string -> string (labels, matchLabels, service selector) into a sorted
 * array of interned pairs; *ret_v is malloc'ed (NULL when empty). */
static int decode_string_map(struct model *m, json_t *o, const char *path,
			     struct model_label **ret_v, uint32_t *ret_n, struct np_error *e)
{
	_cleanup_(freep) struct model_label *v = NULL;
	const char *k;
	json_t *val;
	uint32_t n = 0;
	char fpath[256];

	*ret_v = NULL;
	*ret_n = 0;
	if (!o || json_object_size(o) == 0)
		return 0;
	v = calloc(json_object_size(o), sizeof(*v));
	if (!v)
		return -ENOMEM;
	json_object_foreach(o, k, val)
	{
		if (!json_is_string(val)) {
			snprintf(fpath, sizeof(fpath), "%s.%s", path, k);
			return FAIL(e, fpath, "must be a string, got %s", type_name(val));
		}
		v[n].key = model_intern(m, k);
		v[n].value = model_intern(m, json_string_value(val));
		if (!v[n].key || !v[n].value)
			return -ENOMEM;
		n++;
	}
	np_qsort(v, n, sizeof(*v), label_cmp);
	*ret_v = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void selector_done(struct model_selector *s)
{
	free(s->match_labels.v);
	for (uint32_t i = 0; i < s->n_exprs; i++)
		free(s->exprs[i].values);
	free(s->exprs);
	*s = (struct model_selector){ 0 };
}

/* Decodes a LabelSelector (o may be NULL: missing). Validation as metav1's. */
static int decode_selector(struct model *m, json_t *o, const char *path, struct model_selector *ret,
			   struct np_error *e)
{
	_cleanup_(selector_done) struct model_selector s = { 0 };
	char fpath[256];
	json_t *ml, *me, *x;
	size_t i;
	int r;

	if (!o)
		return 0;
	s.present = true;
	snprintf(fpath, sizeof(fpath), "%s.matchLabels", path);
	r = get(o, "matchLabels", JSON_OBJECT, fpath, &ml, e);
	if (r < 0)
		return r;
	r = decode_string_map(m, ml, fpath, &s.match_labels.v, &s.match_labels.n, e);
	if (r < 0)
		return r;
	snprintf(fpath, sizeof(fpath), "%s.matchExpressions", path);
	r = get(o, "matchExpressions", JSON_ARRAY, fpath, &me, e);
	if (r < 0)
		return r;
	if (me && json_array_size(me) > 0) {
		s.exprs = calloc(json_array_size(me), sizeof(*s.exprs));
		if (!s.exprs)
			return -ENOMEM;
	}
	json_array_foreach(me, i, x)
	{
		struct model_requirement *q = &s.exprs[s.n_exprs];
		const char *key, *op;
		json_t *vals, *v;
		size_t j;

		snprintf(fpath, sizeof(fpath), "%s.matchExpressions[%zu]", path, i);
		if (!json_is_object(x))
			return FAIL(e, fpath, "must be an object, got %s", type_name(x));
		r = get_str(x, "key", fpath, &key, e);
		if (r < 0)
			return r;
		if (!key || !*key)
			return FAIL(e, fpath, "'key' is required");
		r = get_str(x, "operator", fpath, &op, e);
		if (r < 0)
			return r;
		if (!op)
			return FAIL(e, fpath, "'operator' is required");
		if (streq(op, "In"))
			q->op = MODEL_OP_IN;
		else if (streq(op, "NotIn"))
			q->op = MODEL_OP_NOT_IN;
		else if (streq(op, "Exists"))
			q->op = MODEL_OP_EXISTS;
		else if (streq(op, "DoesNotExist"))
			q->op = MODEL_OP_DOES_NOT_EXIST;
		else
			return FAIL(e, fpath,
				    "operator must be In, NotIn, Exists or DoesNotExist, not '%s'",
				    op);
		q->key = model_intern(m, key);
		if (!q->key)
			return -ENOMEM;
		s.n_exprs++;
		r = get(x, "values", JSON_ARRAY, fpath, &vals, e);
		if (r < 0)
			return r;
		if ((q->op == MODEL_OP_IN || q->op == MODEL_OP_NOT_IN) &&
		    json_array_size(vals) == 0)
			return FAIL(e, fpath, "operator %s needs a non-empty 'values'", op);
		if ((q->op == MODEL_OP_EXISTS || q->op == MODEL_OP_DOES_NOT_EXIST) &&
		    json_array_size(vals) > 0)
			return FAIL(e, fpath, "operator %s must not have 'values'", op);
		if (json_array_size(vals) == 0)
			continue;
		q->values = calloc(json_array_size(vals), sizeof(*q->values));
		if (!q->values)
			return -ENOMEM;
		json_array_foreach(vals, j, v)
		{
			if (!json_is_string(v))
				return FAIL(e, fpath, "values[%zu] must be a string, got %s", j,
					    type_name(v));
			q->values[q->n_values] = model_intern(m, json_string_value(v));
			if (!q->values[q->n_values])
				return -ENOMEM;
			q->n_values++;
		}
		np_qsort(q->values, q->n_values, sizeof(*q->values), str_cmp);
		uint32_t w = 0;
		for (uint32_t k = 0; k < q->n_values; k++)
			if (w == 0 || q->values[w - 1] != q->values[k])
				q->values[w++] = q->values[k];
		q->n_values = w;
	}
	*ret = s;
	s = (struct model_selector){ 0 };
	return 0;
}

/* Returns the namespace of a namespaced object, defaulting to "default" as kubectl does for
 * manifests without one; interned. */
static int object_namespace(struct model *m, json_t *md, const char **ret, struct np_error *e)
{
	const char *ns;
	int r = get_str(md, "namespace", "metadata.namespace", &ns, e);

	if (r < 0)
		return r;
	if (!ns || !*ns)
		ns = "default";
	*ret = model_intern(m, ns);
	return *ret ? 0 : -ENOMEM;
}

static int object_meta(json_t *o, json_t **ret_md, const char **ret_name, struct np_error *e)
{
	int r;

	if (!json_is_object(o))
		return FAIL(e, "", "object must be a JSON object, got %s", type_name(o));
	r = get(o, "metadata", JSON_OBJECT, "metadata", ret_md, e);
	if (r < 0)
		return r;
	if (!*ret_md)
		return FAIL(e, "metadata", "is required");
	r = get_str(*ret_md, "name", "metadata.name", ret_name, e);
	if (r < 0)
		return r;
	if (!*ret_name || !**ret_name)
		return FAIL(e, "metadata.name", "is required");
	return 0;
}

int model_decode_namespace(struct model *m, json_t *o, struct model_namespace **ret,
			   struct np_error *e)
{
	_cleanup_(freep) struct model_namespace *n = NULL;
	_cleanup_(freep) struct model_label *v = NULL;
	const char *name, *uid;
	json_t *md, *lo;
	uint32_t nl;
	bool has_name_label = false;
	int r;

	r = object_meta(o, &md, &name, e);
	if (r < 0)
		return r;
	r = get_str(md, "uid", "metadata.uid", &uid, e);
	if (r < 0)
		return r;
	r = get(md, "labels", JSON_OBJECT, "metadata.labels", &lo, e);
	if (r < 0)
		return r;
	/* The API server sets kubernetes.io/metadata.name on every namespace (1.21+); add it
	 * when a hand-written input lacks it, so namespaceSelectors behave as in a cluster. */
	v = calloc(json_object_size(lo) + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	{
		_cleanup_(freep) struct model_label *tmp = NULL;
		r = decode_string_map(m, lo, "metadata.labels", &tmp, &nl, e);
		if (r < 0)
			return r;
		if (nl)
			memcpy(v, tmp, nl * sizeof(*v));
	}
	for (uint32_t i = 0; i < nl; i++)
		if (streq(v[i].key, "kubernetes.io/metadata.name"))
			has_name_label = true;
	if (!has_name_label) {
		v[nl].key = model_intern(m, "kubernetes.io/metadata.name");
		v[nl].value = model_intern(m, name);
		if (!v[nl].key || !v[nl].value)
			return -ENOMEM;
		nl++;
		np_qsort(v, nl, sizeof(*v), label_cmp);
	}
	n = calloc(1, sizeof(*n) + (uid ? strlen(uid) + 1 : 1));
	if (!n)
		return -ENOMEM;
	n->name = model_intern(m, name);
	if (!n->name)
		return -ENOMEM;
	n->uid = strcpy((char *)(n + 1), uid ? uid : "");
	r = model_labelset_get(m, v, nl, &n->labels);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(n);
	return 0;
}

/* Stores a UUID as the API server writes it (lowercase 8-4-4-4-12 hex) in ret; returns false
 * for anything else, which is then kept as a string. */
static bool uuid_parse(const char *s, uint8_t ret[static 16])
{
	unsigned k = 0;

	for (unsigned i = 0; i < 36; i++) {
		char c = s[i];
		unsigned v;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
			continue;
		}
		if (c >= '0' && c <= '9')
			v = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (unsigned)(c - 'a' + 10);
		else
			return false; /* also the NUL of a shorter string */
		if (k % 2 == 0)
			ret[k / 2] = (uint8_t)(v << 4);
		else
			ret[k / 2] |= (uint8_t)v;
		k++;
	}
	return s[36] == 0;
}

/*
 * Pods. Both encodings the API server speaks, JSON (a jansson tree) and protobuf (a Pod
 * message), are first read into a struct pod_src: the fields the model uses, as borrowed
 * strings and numbers, with the JSON type checks done on the way. pod_build() then validates
 * the values and makes the model pod, so the two encodings give the same pod and the same
 * errors for the same object.
 */

struct pod_port_src {
	const char *name, *proto; /* NULL when absent */
	long long port;
	bool has_port;
	uint32_t container, index; /* where it is, for error messages */
};

struct pod_label_src {
	const char *key, *value;
};

#define POD_SRC_INLINE 16

struct pod_src {
	const char *name, *ns, *uid, *node, *phase, *pod_ip, *image; /* NULL when absent */
	const char *owner_kind, *owner_name; /* of the last controller ownerReference */
	bool terminating, host_network, ready;
	unsigned long restarts;
	/* status.podIPs[].ip (NULL: the entry has no ip); a third entry is always an error, so
	 * no more are kept */
	const char *pod_ips[3];
	size_t n_pod_ips;
	struct pod_port_src *ports;
	size_t n_ports, cap_ports;
	struct pod_label_src *labels;
	size_t n_labels, cap_labels;
	struct pod_port_src ports_inline[POD_SRC_INLINE];
	struct pod_label_src labels_inline[POD_SRC_INLINE];
};

static void pod_src_init(struct pod_src *s)
{
	memset(s, 0, offsetof(struct pod_src, ports_inline));
	s->ports = s->ports_inline;
	s->cap_ports = POD_SRC_INLINE;
	s->labels = s->labels_inline;
	s->cap_labels = POD_SRC_INLINE;
}

static void pod_src_done(struct pod_src *s)
{
	if (s->ports != s->ports_inline)
		free(s->ports);
	if (s->labels != s->labels_inline)
		free(s->labels);
}

/* Grows the array *v (n used of *cap, its first room inline) to want entries of size bytes;
 * returns 0 or -ENOMEM. */
static int grow_inline(void **v, const void *inline_v, size_t *cap, size_t n, size_t want,
		       size_t size)
{
	void *x;

	if (want <= *cap)
		return 0;
	x = calloc(want, size);
	if (!x)
		return -ENOMEM;
	memcpy(x, *v, n * size);
	if (*v != inline_v)
		free(*v);
	*v = x;
	*cap = want;
	return 0;
}

/* Makes room for n ports and n labels in total. */
static int pod_src_reserve(struct pod_src *s, size_t n_ports, size_t n_labels)
{
	int r = grow_inline((void **)&s->ports, s->ports_inline, &s->cap_ports, s->n_ports, n_ports,
			    sizeof(*s->ports));

	if (r < 0)
		return r;
	return grow_inline((void **)&s->labels, s->labels_inline, &s->cap_labels, s->n_labels,
			   n_labels, sizeof(*s->labels));
}

static int port_path_fail(struct np_error *e, const struct pod_port_src *p, const char *fmt, ...)
	_printf_(3, 4);
static int port_path_fail(struct np_error *e, const struct pod_port_src *p, const char *fmt, ...)
{
	char path[96], msg[256];
	va_list ap;

	/* Formatted only here: a pod without errors never prints its port paths. */
	snprintf(path, sizeof(path), "spec.containers[%" PRIu32 "].ports[%" PRIu32 "]",
		 p->container, p->index);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return FAIL(e, path, "%s", msg);
}

static int pod_build_ports(struct model *m, const struct pod_src *s,
			   struct model_container_port **ret, uint16_t *ret_n, struct np_error *e)
{
	_cleanup_(freep) struct model_container_port *v = NULL;

	if (s->n_ports == 0)
		return 0;
	if (s->n_ports > UINT16_MAX)
		return FAIL(e, "spec.containers", "too many container ports (%zu)", s->n_ports);
	v = calloc(s->n_ports, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct pod_port_src *p = &s->ports[i];
		int r;

		if (!p->has_port)
			return port_path_fail(e, p, "'containerPort' is required");
		if (p->port < 1 || p->port > 65535)
			return port_path_fail(e, p, "must be between 1 and 65535, got %lld",
					      p->port);
		r = p->proto ? np_proto_from_name(p->proto) : NP_PROTO_TCP;
		if (r < 0)
			return port_path_fail(e, p, "protocol must be TCP, UDP or SCTP, not '%s'",
					      p->proto);
		v[i].proto = (uint8_t)r;
		v[i].port = (uint16_t)p->port;
		v[i].name = p->name && *p->name ? model_intern(m, p->name) : NULL;
		if (p->name && *p->name && !v[i].name)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(v);
	*ret_n = (uint16_t)s->n_ports;
	return 0;
}

static int ip_path_fail(struct np_error *e, size_t i, const char *fmt, ...) _printf_(3, 4);
static int ip_path_fail(struct np_error *e, size_t i, const char *fmt, ...)
{
	char path[64], msg[256];
	va_list ap;

	snprintf(path, sizeof(path), "status.podIPs[%zu].ip", i);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return FAIL(e, path, "%s", msg);
}

static int pod_build_ips(const struct pod_src *s, np_u128 ips[static 2], uint8_t *n_ips,
			 struct np_error *e)
{
	for (size_t i = 0; i < s->n_pod_ips; i++) {
		const char *ip = s->pod_ips[i];
		np_u128 v;
		int fam;

		if (!ip)
			return ip_path_fail(e, i, "is required");
		fam = np_addr_parse(ip, &v);
		if (fam < 0)
			return ip_path_fail(e, i, "'%s' is not an IP address", ip);
		/* At most one address per family (the API validates this). */
		for (unsigned k = 0; k < *n_ips; k++)
			if (np_addr_family(ips[k]) == fam)
				return ip_path_fail(e, i, "a second %s address '%s'",
						    fam == AF_INET ? "IPv4" : "IPv6", ip);
		if (*n_ips == 2)
			return ip_path_fail(e, i, "more than two addresses");
		ips[(*n_ips)++] = v;
	}
	if (s->pod_ip && *s->pod_ip) {
		np_u128 v;

		if (np_addr_parse(s->pod_ip, &v) < 0)
			return FAIL(e, "status.podIP", "'%s' is not an IP address", s->pod_ip);
		if (*n_ips == 0)
			ips[(*n_ips)++] = v;
		else if (ips[0] != v)
			return FAIL(e, "status.podIP", "'%s' differs from status.podIPs[0]",
				    s->pod_ip);
	}
	return 0;
}

static int pod_build_labels(struct model *m, const struct pod_src *s, struct model_labels *ret)
{
	_cleanup_(freep) struct model_label *v = NULL;
	uint32_t n = 0;

	if (s->n_labels > UINT32_MAX)
		return -ENOMEM;
	if (s->n_labels > 0) {
		v = calloc(s->n_labels, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_labels; i++) {
		const char *k = model_intern(m, s->labels[i].key);
		const char *val = model_intern(m, s->labels[i].value);
		uint32_t j;

		if (!k || !val)
			return -ENOMEM;
		/* A protobuf map may repeat a key: the last one wins, as in a decoded map. */
		for (j = 0; j < n && v[j].key != k; j++)
			;
		v[j] = (struct model_label){ k, val };
		if (j == n)
			n++;
	}
	np_qsort(v, n, sizeof(*v), label_cmp);
	return model_labelset_get(m, v, n, ret);
}

/* Validates s and makes the model pod. Returns 0 and *ret, or -EINVAL with *e, or -ENOMEM. */
static int pod_build(struct model *m, const struct pod_src *s, struct model_pod **ret,
		     struct np_error *e)
{
	_cleanup_(freep) struct model_container_port *ports = NULL;
	struct model_pod tmp = { 0 }, *p;
	struct model_pod_origin origin = { 0 };
	np_u128 ips[2] = { 0 };
	struct pod_layout lay;
	const char *uid = s->uid ? s->uid : "";
	size_t len_name;
	int r;

	if (!s->name || !*s->name)
		return FAIL(e, "metadata.name", "is required");
	tmp.ns = model_intern(m, s->ns && *s->ns ? s->ns : "default");
	if (!tmp.ns)
		return -ENOMEM;
	tmp.terminating = s->terminating;
	if (s->owner_kind && s->owner_name) {
		origin.owner_kind = model_intern(m, s->owner_kind);
		origin.owner_name = model_intern(m, s->owner_name);
		if (!origin.owner_kind || !origin.owner_name)
			return -ENOMEM;
	}
	if (s->node && *s->node) {
		tmp.node = model_intern(m, s->node);
		if (!tmp.node)
			return -ENOMEM;
	}
	tmp.host_network = s->host_network;
	r = pod_build_ports(m, s, &ports, &tmp.n_ports, e);
	if (r < 0)
		return r;
	if (s->image) {
		origin.image = model_intern(m, s->image);
		if (!origin.image)
			return -ENOMEM;
	}
	tmp.phase = !s->phase			   ? MODEL_POD_PENDING
		    : streq(s->phase, "Pending")   ? MODEL_POD_PENDING
		    : streq(s->phase, "Running")   ? MODEL_POD_RUNNING
		    : streq(s->phase, "Succeeded") ? MODEL_POD_SUCCEEDED
		    : streq(s->phase, "Failed")	   ? MODEL_POD_FAILED
						   : MODEL_POD_UNKNOWN;
	r = pod_build_ips(s, ips, &tmp.n_ips, e);
	if (r < 0)
		return r;
	tmp.ready = s->ready;
	tmp.restarts = s->restarts > UINT16_MAX ? UINT16_MAX : (uint16_t)s->restarts;

	/* One allocation (see model_pod_layout()): the pod, its addresses, its name and, unless
	 * it is a UUID, its uid. Ports are shared with pods that declare the same. */
	tmp.uid_is_uuid = uuid_parse(uid, tmp.uuid);
	len_name = strlen(s->name);
	model_pod_layout(tmp.n_ips, len_name, tmp.uid_is_uuid ? 0 : strlen(uid) + 1, &lay);
	if (tmp.n_ports && !(tmp.ports = model_ports_get(m, ports, tmp.n_ports)))
		return -ENOMEM;
	tmp.origin = model_origin_get(m, &origin);
	if (!tmp.origin || posix_memalign((void **)&p, 16, lay.size) != 0) {
		model_blob_put(m, tmp.ports);
		model_blob_put(m, tmp.origin);
		return -ENOMEM;
	}
	tmp.hash = model_pod_hash(tmp.ns, s->name);
	*p = tmp;
	p->ips = (np_u128 *)((char *)p + lay.ips);
	memcpy(p->ips, ips, MAX(tmp.n_ips, 1) * sizeof(*ips));
	p->name = memcpy((char *)p + lay.name, s->name, len_name + 1);
	if (!tmp.uid_is_uuid)
		strcpy((char *)p + lay.uid, uid);
	r = pod_build_labels(m, s, &p->labels);
	if (r < 0) {
		model_pod_free(m, p);
		return r;
	}
	*ret = p;
	return 0;
}

/* A member of a JSON object that is present, not null and not of type t (JSON_TRUE: a
 * boolean): fails with its path, formatted here only. */
static int json_type_fail(struct np_error *e, json_t *v, json_type t, const char *fmt, ...)
	_printf_(4, 5);
static int json_type_fail(struct np_error *e, json_t *v, json_type t, const char *fmt, ...)
{
	char path[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	return FAIL(e, path, "must be %s, got %s",
		    t == JSON_OBJECT	? "an object"
		    : t == JSON_ARRAY	? "a list"
		    : t == JSON_STRING	? "a string"
		    : t == JSON_INTEGER ? "an integer"
					: "a boolean",
		    type_name(v));
}

static bool json_wrong_type(json_t *v, json_type t)
{
	return v && !json_is_null(v) && json_typeof(v) != t &&
	       !(t == JSON_TRUE && json_is_boolean(v));
}

static int pod_src_json_ports(json_t *spec, struct pod_src *s, struct np_error *e)
{
	json_t *containers, *c, *ports, *p;
	size_t cap = 0, i, j;
	int r;

	r = get(spec, "containers", JSON_ARRAY, "spec.containers", &containers, e);
	if (r < 0)
		return r;
	json_array_foreach(containers, i, c)
	{
		if (!json_is_object(c))
			return json_type_fail(e, c, JSON_OBJECT, "spec.containers[%zu]", i);
		ports = json_object_get(c, "ports");
		if (json_wrong_type(ports, JSON_ARRAY))
			return json_type_fail(e, ports, JSON_ARRAY, "spec.containers[%zu].ports",
					      i);
		cap += json_array_size(ports);
	}
	if (cap == 0)
		return 0;
	if (cap > UINT16_MAX)
		return FAIL(e, "spec.containers", "too many container ports (%zu)", cap);
	r = pod_src_reserve(s, cap, 0);
	if (r < 0)
		return r;
	json_array_foreach(containers, i, c)
	{
		ports = json_object_get(c, "ports");
		json_array_foreach(ports, j, p)
		{
			struct pod_port_src *d = &s->ports[s->n_ports++];
			json_t *v;

			*d = (struct pod_port_src){ .container = (uint32_t)i,
						    .index = (uint32_t)j };
			if (!json_is_object(p))
				return port_path_fail(e, d, "must be an object, got %s",
						      type_name(p));
			v = json_object_get(p, "containerPort");
			if (json_wrong_type(v, JSON_INTEGER))
				return json_type_fail(
					e, v, JSON_INTEGER,
					"spec.containers[%zu].ports[%zu].containerPort", i, j);
			if (json_is_integer(v)) {
				d->has_port = true;
				d->port = json_integer_value(v);
			}
			v = json_object_get(p, "name");
			if (json_wrong_type(v, JSON_STRING))
				return json_type_fail(e, v, JSON_STRING,
						      "spec.containers[%zu].ports[%zu].name", i, j);
			d->name = json_string_value(v);
			v = json_object_get(p, "protocol");
			if (json_wrong_type(v, JSON_STRING))
				return json_type_fail(e, v, JSON_STRING,
						      "spec.containers[%zu].ports[%zu].protocol", i,
						      j);
			d->proto = json_string_value(v);
		}
	}
	return 0;
}

/* Reads the pod fields of a JSON object into s (strings borrowed from o). Returns 0, or
 * -EINVAL with *e for a member of the wrong type, or -ENOMEM. */
static int pod_src_from_json(json_t *o, struct pod_src *s, struct np_error *e)
{
	json_t *md, *spec, *status, *x, *y;
	const char *k;
	size_t i;
	int r;

	r = object_meta(o, &md, &s->name, e);
	if (r < 0)
		return r;
	r = get_str(md, "namespace", "metadata.namespace", &s->ns, e);
	if (r < 0)
		return r;
	r = get_str(md, "uid", "metadata.uid", &s->uid, e);
	if (r < 0)
		return r;
	r = get(md, "deletionTimestamp", JSON_STRING, "metadata.deletionTimestamp", &x, e);
	if (r < 0)
		return r;
	s->terminating = r > 0;
	r = get(md, "ownerReferences", JSON_ARRAY, "metadata.ownerReferences", &x, e);
	if (r < 0)
		return r;
	json_array_foreach(x, i, y)
	{
		bool controller = false;
		const char *kind = NULL, *oname = NULL;

		if (!json_is_object(y))
			continue;
		if (get_bool(y, "controller", "metadata.ownerReferences", &controller, e) < 0 ||
		    get_str(y, "kind", "metadata.ownerReferences", &kind, e) < 0 ||
		    get_str(y, "name", "metadata.ownerReferences", &oname, e) < 0)
			return -EINVAL;
		if (controller && kind && oname) {
			s->owner_kind = kind;
			s->owner_name = oname;
		}
	}
	r = get(md, "labels", JSON_OBJECT, "metadata.labels", &x, e);
	if (r < 0)
		return r;
	r = pod_src_reserve(s, 0, json_object_size(x));
	if (r < 0)
		return r;
	json_object_foreach(x, k, y)
	{
		if (!json_is_string(y))
			return json_type_fail(e, y, JSON_STRING, "metadata.labels.%s", k);
		s->labels[s->n_labels++] = (struct pod_label_src){ k, json_string_value(y) };
	}

	r = get(o, "spec", JSON_OBJECT, "spec", &spec, e);
	if (r < 0)
		return r;
	r = get_str(spec, "nodeName", "spec.nodeName", &s->node, e);
	if (r < 0)
		return r;
	r = get_bool(spec, "hostNetwork", "spec.hostNetwork", &s->host_network, e);
	if (r < 0)
		return r;
	r = pod_src_json_ports(spec, s, e);
	if (r < 0)
		return r;
	x = json_array_get(json_object_get(spec, "containers"), 0);
	if (get_str(x, "image", "spec.containers[0].image", &s->image, e) < 0)
		return -EINVAL;

	r = get(o, "status", JSON_OBJECT, "status", &status, e);
	if (r < 0)
		return r;
	r = get_str(status, "phase", "status.phase", &s->phase, e);
	if (r < 0)
		return r;
	r = get(status, "podIPs", JSON_ARRAY, "status.podIPs", &x, e);
	if (r < 0)
		return r;
	json_array_foreach(x, i, y)
	{
		json_t *ip;

		if (i == ELEMENTSOF(s->pod_ips))
			break; /* the third already fails */
		if (!json_is_object(y))
			return json_type_fail(e, y, JSON_OBJECT, "status.podIPs[%zu].ip", i);
		ip = json_object_get(y, "ip");
		if (json_wrong_type(ip, JSON_STRING))
			return json_type_fail(e, ip, JSON_STRING, "status.podIPs[%zu].ip", i);
		s->pod_ips[s->n_pod_ips++] = json_string_value(ip);
	}
	r = get_str(status, "podIP", "status.podIP", &s->pod_ip, e);
	if (r < 0)
		return r;
	r = get(status, "conditions", JSON_ARRAY, "status.conditions", &x, e);
	if (r < 0)
		return r;
	json_array_foreach(x, i, y)
	{
		const char *type = json_string_value(json_object_get(y, "type"));
		const char *st = json_string_value(json_object_get(y, "status"));

		if (type && st && streq(type, "Ready"))
			s->ready = streq(st, "True");
	}
	r = get(status, "containerStatuses", JSON_ARRAY, "status.containerStatuses", &x, e);
	if (r < 0)
		return r;
	json_array_foreach(x, i, y)
	{
		json_t *rc = json_object_get(y, "restartCount");

		if (json_is_integer(rc) && json_integer_value(rc) > 0)
			s->restarts += (unsigned long)json_integer_value(rc);
	}
	return 0;
}

int model_decode_pod(struct model *m, json_t *o, struct model_pod **ret, struct np_error *e)
{
	struct pod_src s;
	int r;

	pod_src_init(&s);
	r = pod_src_from_json(o, &s, e);
	if (r >= 0)
		r = pod_build(m, &s, ret, e);
	pod_src_done(&s);
	return r;
}

/* ---- pods in protobuf ---- */

/* protobuf-c allocates every message and string of a decoded Pod separately: they come from
 * an arena that lives for one decode (the first block on the stack), and go all at once. */
struct pb_arena_block {
	struct pb_arena_block *next;
	max_align_t data[];
};

struct pb_arena {
	char *cur, *end;
	struct pb_arena_block *blocks;
	bool failed;
	max_align_t first[8192 / sizeof(max_align_t)];
};

static void *pb_arena_alloc(void *data, size_t size)
{
	struct pb_arena *a = data;
	const size_t align = sizeof(max_align_t);
	struct pb_arena_block *b;
	size_t bs;
	void *p;

	if (size > SIZE_MAX / 2)
		goto fail;
	size = (size + align - 1) / align * align;
	if (size <= (size_t)(a->end - a->cur)) {
		p = a->cur;
		a->cur += size;
		return p;
	}
	bs = MAX(size, (size_t)65536);
	b = malloc(sizeof(*b) + bs);
	if (!b)
		goto fail;
	b->next = a->blocks;
	a->blocks = b;
	if (size == bs)
		return b->data; /* a large allocation gets its own block; the current one goes on */
	a->cur = (char *)b->data + size;
	a->end = (char *)b->data + bs;
	return b->data;
fail:
	a->failed = true;
	return NULL;
}

static void pb_arena_free(void *data, void *p)
{
	/* Everything goes at once in pb_arena_done(). */
}

static void pb_arena_init(struct pb_arena *a)
{
	a->cur = (char *)a->first;
	a->end = (char *)a->first + sizeof(a->first);
	a->blocks = NULL;
	a->failed = false;
}

static void pb_arena_done(struct pb_arena *a)
{
	while (a->blocks) {
		struct pb_arena_block *b = a->blocks;

		a->blocks = b->next;
		free(b);
	}
}

/* An empty string in protobuf is what the JSON encoding omits (omitempty): read it as absent. */
static const char *pb_str(const char *s)
{
	return s && *s ? s : NULL;
}

static int pod_src_from_pb(const K8s__Pod *pod, struct pod_src *s)
{
	const K8s__ObjectMeta *md = pod->metadata;
	const K8s__PodSpec *spec = pod->spec;
	const K8s__PodStatus *st = pod->status;
	size_t n_ports = 0;
	int r;

	if (md) {
		s->name = pb_str(md->name);
		s->ns = pb_str(md->namespace_);
		s->uid = pb_str(md->uid);
		s->terminating = md->deletiontimestamp != NULL;
		for (size_t i = 0; i < md->n_ownerreferences; i++) {
			const K8s__OwnerReference *ref = md->ownerreferences[i];

			if (ref->has_controller && ref->controller && ref->kind && ref->name) {
				s->owner_kind = ref->kind;
				s->owner_name = ref->name;
			}
		}
		r = pod_src_reserve(s, 0, md->n_labels);
		if (r < 0)
			return r;
		for (size_t i = 0; i < md->n_labels; i++) {
			const K8s__ObjectMeta__LabelsEntry *l = md->labels[i];

			s->labels[s->n_labels++] =
				(struct pod_label_src){ l->key ? l->key : "",
							l->value ? l->value : "" };
		}
	}
	if (spec) {
		s->node = pb_str(spec->nodename);
		s->host_network = spec->has_hostnetwork && spec->hostnetwork;
		for (size_t i = 0; i < spec->n_containers; i++)
			n_ports += spec->containers[i]->n_ports;
		if (n_ports > UINT16_MAX)
			n_ports = UINT16_MAX + 1; /* enough to fail in pod_build() */
		r = pod_src_reserve(s, n_ports, 0);
		if (r < 0)
			return r;
		for (size_t i = 0; i < spec->n_containers && s->n_ports < n_ports; i++) {
			const K8s__Container *c = spec->containers[i];

			for (size_t j = 0; j < c->n_ports && s->n_ports < n_ports; j++) {
				const K8s__ContainerPort *p = c->ports[j];

				s->ports[s->n_ports++] = (struct pod_port_src){
					.name = pb_str(p->name),
					.proto = pb_str(p->protocol),
					.port = p->containerport,
					.has_port = p->has_containerport,
					.container = (uint32_t)i,
					.index = (uint32_t)j,
				};
			}
		}
		if (spec->n_containers > 0)
			s->image = pb_str(spec->containers[0]->image);
	}
	if (st) {
		s->phase = pb_str(st->phase);
		s->pod_ip = pb_str(st->podip);
		for (size_t i = 0; i < st->n_podips && i < ELEMENTSOF(s->pod_ips); i++)
			s->pod_ips[s->n_pod_ips++] = st->podips[i]->ip;
		for (size_t i = 0; i < st->n_conditions; i++) {
			const K8s__PodCondition *c = st->conditions[i];

			if (c->type && c->status && streq(c->type, "Ready"))
				s->ready = streq(c->status, "True");
		}
		for (size_t i = 0; i < st->n_containerstatuses; i++) {
			const K8s__ContainerStatus *c = st->containerstatuses[i];

			if (c->has_restartcount && c->restartcount > 0)
				s->restarts += (unsigned long)c->restartcount;
		}
	}
	return 0;
}

int model_decode_pod_protobuf(struct model *m, const void *buf, size_t len, struct model_pod **ret,
			      struct np_error *e)
{
	struct pb_arena a;
	ProtobufCAllocator alloc = { pb_arena_alloc, pb_arena_free, &a };
	struct pod_src s;
	K8s__Pod *pod;
	int r;

	pb_arena_init(&a);
	pod_src_init(&s);
	pod = k8s__pod__unpack(&alloc, len, buf);
	if (!pod)
		r = a.failed ? -ENOMEM
			     : np_error_set(e, -EBADMSG, NULL, NULL, NULL, 0,
					    "not a valid protobuf Pod (%zu bytes)", len);
	else {
		r = pod_src_from_pb(pod, &s);
		if (r >= 0)
			r = pod_build(m, &s, ret, e);
		if (r == -EINVAL && e) {
			/* Name the object the field belongs to, as model_apply_json() does. */
			if (s.name && s.ns)
				snprintf(e->object, sizeof(e->object), "Pod %s/%s", s.ns, s.name);
			else if (s.name)
				snprintf(e->object, sizeof(e->object), "Pod %s", s.name);
			else
				snprintf(e->object, sizeof(e->object),
					 "Pod (without metadata.name)");
		}
	}
	pod_src_done(&s);
	pb_arena_done(&a);
	return r;
}

static void ipblock_free(struct model_ipblock *b)
{
	if (!b)
		return;
	for (uint32_t i = 0; i < b->n_except; i++)
		free((char *)b->except[i].cidr);
	free(b->except);
	free((char *)b->cidr);
	free(b);
}

static int decode_ipblock(json_t *o, const char *path, struct model_ipblock **ret,
			  struct np_error *e)
{
	struct model_ipblock *b;
	const char *cidr;
	json_t *ex, *x;
	char fpath[256];
	size_t i;
	int r;

	r = get_str(o, "cidr", path, &cidr, e);
	if (r < 0)
		return r;
	if (!cidr)
		return FAIL(e, path, "'cidr' is required");
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->family = np_cidr_parse(cidr, &b->lo, &b->hi);
	if (b->family < 0 || !strchr(cidr, '/')) {
		free(b);
		return FAIL(e, path, "cidr '%s' is not a valid CIDR", cidr);
	}
	b->cidr = strdup(cidr);
	if (!b->cidr) {
		ipblock_free(b);
		return -ENOMEM;
	}
	snprintf(fpath, sizeof(fpath), "%s.except", path);
	r = get(o, "except", JSON_ARRAY, fpath, &ex, e);
	if (r < 0) {
		ipblock_free(b);
		return r;
	}
	if (json_array_size(ex)) {
		b->except = calloc(json_array_size(ex), sizeof(*b->except));
		if (!b->except) {
			ipblock_free(b);
			return -ENOMEM;
		}
	}
	json_array_foreach(ex, i, x)
	{
		struct model_except *c = &b->except[b->n_except];
		const char *s = json_string_value(x);
		int fam;

		snprintf(fpath, sizeof(fpath), "%s.except[%zu]", path, i);
		if (!s) {
			ipblock_free(b);
			return FAIL(e, fpath, "must be a string, got %s", type_name(x));
		}
		fam = np_cidr_parse(s, &c->lo, &c->hi);
		if (fam < 0 || !strchr(s, '/')) {
			ipblock_free(b);
			return FAIL(e, fpath, "'%s' is not a valid CIDR", s);
		}
		/* The API requires every except to lie within cidr. */
		if (fam != b->family || c->lo < b->lo || c->hi > b->hi) {
			ipblock_free(b);
			return FAIL(e, fpath, "'%s' is not within cidr '%s'", s, cidr);
		}
		c->cidr = strdup(s);
		if (!c->cidr) {
			ipblock_free(b);
			return -ENOMEM;
		}
		b->n_except++;
	}
	*ret = b;
	return 0;
}

static void rule_done(struct model_rule *r)
{
	for (uint32_t i = 0; i < r->n_peers; i++) {
		selector_done(&r->peers[i].pod_selector);
		selector_done(&r->peers[i].namespace_selector);
		ipblock_free(r->peers[i].ipblock);
	}
	free(r->peers);
	free(r->ports);
}

static int decode_rule(struct model *m, json_t *o, const char *path, enum np_dir dir,
		       struct model_rule *rule, struct np_error *e)
{
	const char *peers_key = dir == NP_INGRESS ? "from" : "to";
	json_t *peers, *ports, *x;
	char fpath[256];
	size_t i;
	int r;

	if (!json_is_object(o))
		return FAIL(e, path, "must be an object, got %s", type_name(o));
	snprintf(fpath, sizeof(fpath), "%s.%s", path, peers_key);
	r = get(o, peers_key, JSON_ARRAY, fpath, &peers, e);
	if (r < 0)
		return r;
	rule->peers_present = r > 0;
	if (json_array_size(peers)) {
		rule->peers = calloc(json_array_size(peers), sizeof(*rule->peers));
		if (!rule->peers)
			return -ENOMEM;
	}
	json_array_foreach(peers, i, x)
	{
		struct model_peer *p = &rule->peers[rule->n_peers];
		json_t *ps, *nss, *ipb;

		snprintf(fpath, sizeof(fpath), "%s.%s[%zu]", path, peers_key, i);
		if (!json_is_object(x))
			return FAIL(e, fpath, "must be an object, got %s", type_name(x));
		rule->n_peers++;
		if ((r = get(x, "podSelector", JSON_OBJECT, fpath, &ps, e)) < 0 ||
		    (r = get(x, "namespaceSelector", JSON_OBJECT, fpath, &nss, e)) < 0 ||
		    (r = get(x, "ipBlock", JSON_OBJECT, fpath, &ipb, e)) < 0)
			return r;
		if (!ps && !nss && !ipb)
			return FAIL(e, fpath,
				    "a peer needs podSelector, namespaceSelector or ipBlock");
		if (ipb && (ps || nss))
			return FAIL(e, fpath, "ipBlock cannot be combined with a selector");
		{
			char spath[300];
			snprintf(spath, sizeof(spath), "%s.podSelector", fpath);
			if ((r = decode_selector(m, ps, spath, &p->pod_selector, e)) < 0)
				return r;
			snprintf(spath, sizeof(spath), "%s.namespaceSelector", fpath);
			if ((r = decode_selector(m, nss, spath, &p->namespace_selector, e)) < 0)
				return r;
			snprintf(spath, sizeof(spath), "%s.ipBlock", fpath);
			if (ipb && (r = decode_ipblock(ipb, spath, &p->ipblock, e)) < 0)
				return r;
		}
	}
	snprintf(fpath, sizeof(fpath), "%s.ports", path);
	r = get(o, "ports", JSON_ARRAY, fpath, &ports, e);
	if (r < 0)
		return r;
	rule->ports_present = r > 0;
	if (json_array_size(ports)) {
		rule->ports = calloc(json_array_size(ports), sizeof(*rule->ports));
		if (!rule->ports)
			return -ENOMEM;
	}
	json_array_foreach(ports, i, x)
	{
		struct model_policy_port *p = &rule->ports[rule->n_ports];
		const char *proto;
		json_t *port;
		long long endp;

		snprintf(fpath, sizeof(fpath), "%s.ports[%zu]", path, i);
		if (!json_is_object(x))
			return FAIL(e, fpath, "must be an object, got %s", type_name(x));
		if ((r = get_str(x, "protocol", fpath, &proto, e)) < 0)
			return r;
		/* Protocol defaults to TCP (NetworkPolicyPort.protocol). */
		r = proto ? np_proto_from_name(proto) : NP_PROTO_TCP;
		if (r < 0)
			return FAIL(e, fpath, "protocol must be TCP, UDP or SCTP, not '%s'", proto);
		p->proto = (uint8_t)r;
		port = json_object_get(x, "port");
		if (port && json_is_integer(port)) {
			if (json_integer_value(port) < 1 || json_integer_value(port) > 65535)
				return FAIL(e, fpath, "port must be between 1 and 65535, got %lld",
					    (long long)json_integer_value(port));
			p->has_port = true;
			p->port = (uint16_t)json_integer_value(port);
		} else if (port && json_is_string(port)) {
			const char *s = json_string_value(port);
			char *end;
			long v;

			if (!*s)
				return FAIL(e, fpath, "port must not be empty");
			/* IntOrString: a string of digits is still a name to the API (it must be an
			 * IANA_SVC_NAME, which has a letter), so reject all-digit names. */
			v = strtol(s, &end, 10);
			if (!*end)
				return FAIL(e, fpath,
					    "port '%s' is a number in a string (%ld); write it "
					    "as an integer",
					    s, v);
			p->has_port = true;
			p->port_name = model_intern(m, s);
			if (!p->port_name)
				return -ENOMEM;
		} else if (port && !json_is_null(port))
			return FAIL(e, fpath, "port must be an integer or a name, got %s",
				    type_name(port));
		if ((r = get_int(x, "endPort", fpath, 1, 65535, &endp, e)) < 0)
			return r;
		if (r > 0) {
			if (!p->has_port || p->port_name)
				return FAIL(e, fpath, "endPort needs a numeric port");
			if (endp < p->port)
				return FAIL(e, fpath, "endPort %lld is below port %u", endp,
					    p->port);
			p->end_port = (uint16_t)endp;
		}
		rule->n_ports++;
	}
	return 0;
}

void model_policy_free(struct model_policy *p)
{
	if (!p)
		return;
	selector_done(&p->pod_selector);
	for (int d = 0; d < 2; d++) {
		for (uint32_t i = 0; i < p->n_rules[d]; i++)
			rule_done(&p->rules[d][i]);
		free(p->rules[d]);
	}
	free((char *)p->name);
	free((char *)p->uid);
	free(p);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct model_policy *, model_policy_free);

int model_decode_policy(struct model *m, json_t *o, struct model_policy **ret, struct np_error *e)
{
	_cleanup_(model_policy_freep) struct model_policy *p = NULL;
	const char *name, *uid;
	json_t *md, *spec, *ps, *types, *x;
	size_t i;
	int r;

	r = object_meta(o, &md, &name, e);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	r = object_namespace(m, md, &p->ns, e);
	if (r < 0)
		return r;
	r = get_str(md, "uid", "metadata.uid", &uid, e);
	if (r < 0)
		return r;
	p->name = strdup(name);
	p->uid = strdup(uid ? uid : "");
	if (!p->name || !p->uid)
		return -ENOMEM;
	r = get(o, "spec", JSON_OBJECT, "spec", &spec, e);
	if (r < 0)
		return r;
	if (!spec)
		return FAIL(e, "spec", "is required");
	r = get(spec, "podSelector", JSON_OBJECT, "spec.podSelector", &ps, e);
	if (r < 0)
		return r;
	/* podSelector is a required struct in the API: missing means {} (every pod). */
	r = decode_selector(m, ps, "spec.podSelector", &p->pod_selector, e);
	if (r < 0)
		return r;
	p->pod_selector.present = true;
	r = get(spec, "policyTypes", JSON_ARRAY, "spec.policyTypes", &types, e);
	if (r < 0)
		return r;
	p->policy_types_present = r > 0;
	json_array_foreach(types, i, x)
	{
		const char *t = json_string_value(x);
		char fpath[64];

		snprintf(fpath, sizeof(fpath), "spec.policyTypes[%zu]", i);
		if (t && streq(t, "Ingress"))
			p->policy_types |= MODEL_POLICY_TYPE_INGRESS;
		else if (t && streq(t, "Egress"))
			p->policy_types |= MODEL_POLICY_TYPE_EGRESS;
		else
			return FAIL(e, fpath, "must be \"Ingress\" or \"Egress\"");
	}
	for (int d = 0; d < 2; d++) {
		const char *key = d == NP_INGRESS ? "ingress" : "egress";
		json_t *rules, *rule;

		r = get(spec, key, JSON_ARRAY, d == NP_INGRESS ? "spec.ingress" : "spec.egress",
			&rules, e);
		if (r < 0)
			return r;
		if (d == NP_INGRESS)
			p->ingress_present = r > 0;
		else
			p->egress_present = r > 0;
		if (!json_array_size(rules))
			continue;
		p->rules[d] = calloc(json_array_size(rules), sizeof(*p->rules[d]));
		if (!p->rules[d])
			return -ENOMEM;
		json_array_foreach(rules, i, rule)
		{
			char path[64];

			snprintf(path, sizeof(path), "spec.%s[%zu]", key, i);
			p->n_rules[d]++;
			r = decode_rule(m, rule, path, d, &p->rules[d][i], e);
			if (r < 0)
				return r;
		}
	}
	*ret = TAKE_PTR(p);
	return 0;
}

void model_service_free(struct model_service *s)
{
	if (!s)
		return;
	free(s->selector.v);
	free(s->ports);
	free((char *)s->name);
	free(s);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct model_service *, model_service_free);

int model_decode_service(struct model *m, json_t *o, struct model_service **ret, struct np_error *e)
{
	_cleanup_(model_service_freep) struct model_service *s = NULL;
	const char *name, *type, *etp;
	json_t *md, *spec, *sel, *ports, *x;
	size_t i;
	int r;

	r = object_meta(o, &md, &name, e);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = object_namespace(m, md, &s->ns, e);
	if (r < 0)
		return r;
	s->name = strdup(name);
	if (!s->name)
		return -ENOMEM;
	r = get(o, "spec", JSON_OBJECT, "spec", &spec, e);
	if (r < 0)
		return r;
	r = get_str(spec, "type", "spec.type", &type, e);
	if (r < 0)
		return r;
	if (!type || streq(type, "ClusterIP"))
		s->type = MODEL_SVC_CLUSTER_IP;
	else if (streq(type, "NodePort"))
		s->type = MODEL_SVC_NODE_PORT;
	else if (streq(type, "LoadBalancer"))
		s->type = MODEL_SVC_LOAD_BALANCER;
	else if (streq(type, "ExternalName"))
		s->type = MODEL_SVC_EXTERNAL_NAME;
	else
		return FAIL(e, "spec.type", "unknown service type '%s'", type);
	r = get_str(spec, "externalTrafficPolicy", "spec.externalTrafficPolicy", &etp, e);
	if (r < 0)
		return r;
	s->external_traffic_local = etp && streq(etp, "Local");
	r = get(spec, "selector", JSON_OBJECT, "spec.selector", &sel, e);
	if (r < 0)
		return r;
	s->has_selector = sel && json_object_size(sel) > 0;
	r = decode_string_map(m, sel, "spec.selector", &s->selector.v, &s->selector.n, e);
	if (r < 0)
		return r;
	r = get(spec, "ports", JSON_ARRAY, "spec.ports", &ports, e);
	if (r < 0)
		return r;
	if (json_array_size(ports)) {
		s->ports = calloc(json_array_size(ports), sizeof(*s->ports));
		if (!s->ports)
			return -ENOMEM;
	}
	json_array_foreach(ports, i, x)
	{
		struct model_service_port *p = &s->ports[s->n_ports];
		const char *pname, *proto;
		long long v;
		json_t *tp;
		char path[64];

		snprintf(path, sizeof(path), "spec.ports[%zu]", i);
		if (!json_is_object(x))
			return FAIL(e, path, "must be an object, got %s", type_name(x));
		if ((r = get_str(x, "name", path, &pname, e)) < 0 ||
		    (r = get_str(x, "protocol", path, &proto, e)) < 0)
			return r;
		r = proto ? np_proto_from_name(proto) : NP_PROTO_TCP;
		if (r < 0)
			return FAIL(e, path, "protocol must be TCP, UDP or SCTP, not '%s'", proto);
		p->proto = (uint8_t)r;
		p->name = pname ? model_intern(m, pname) : NULL;
		if ((r = get_int(x, "port", path, 1, 65535, &v, e)) < 0)
			return r;
		if (r == 0)
			return FAIL(e, path, "'port' is required");
		p->port = (uint16_t)v;
		if ((r = get_int(x, "nodePort", path, 0, 65535, &v, e)) < 0)
			return r;
		p->node_port = r > 0 ? (uint16_t)v : 0;
		tp = json_object_get(x, "targetPort");
		if (json_is_integer(tp) && json_integer_value(tp) >= 1 &&
		    json_integer_value(tp) <= 65535)
			p->target_port = (uint16_t)json_integer_value(tp);
		else if (json_is_string(tp))
			p->target_port_name = model_intern(m, json_string_value(tp));
		else if (tp && !json_is_null(tp))
			return FAIL(e, path, "targetPort must be a port number or a name");
		else
			p->target_port = p->port; /* defaults to port */
		s->n_ports++;
	}
	*ret = TAKE_PTR(s);
	return 0;
}

void model_daemonset_free(struct model_daemonset *d)
{
	if (!d)
		return;
	free(d->labels.v);
	free(d->selector.v);
	free(d->images);
	for (uint32_t i = 0; i < d->n_containers; i++) {
		free(d->containers[i].argv);
		free(d->containers[i].env);
	}
	free(d->containers);
	free((char *)d->name);
	free(d);
}

/* Decodes one pod template container for detection: name, image, command + args, literal env.
 * Only what is there is taken; a container of the wrong shape is an error. */
static int decode_ds_container(struct model *m, json_t *c, bool init, const char *path,
			       struct model_ds_container *ret, struct np_error *e)
{
	const char *name, *image;
	json_t *lists[2], *env, *x;
	size_t i, n = 0;
	int r;

	if (!json_is_object(c))
		return FAIL(e, path, "must be an object, got %s", type_name(c));
	if ((r = get_str(c, "name", path, &name, e)) < 0 ||
	    (r = get_str(c, "image", path, &image, e)) < 0 ||
	    (r = get(c, "command", JSON_ARRAY, path, &lists[0], e)) < 0 ||
	    (r = get(c, "args", JSON_ARRAY, path, &lists[1], e)) < 0 ||
	    (r = get(c, "env", JSON_ARRAY, path, &env, e)) < 0)
		return r;
	ret->init = init;
	ret->name = name ? model_intern(m, name) : NULL;
	ret->image = image ? model_intern(m, image) : NULL;
	if ((name && !ret->name) || (image && !ret->image))
		return -ENOMEM;
	n = json_array_size(lists[0]) + json_array_size(lists[1]);
	if (n) {
		ret->argv = calloc(n, sizeof(*ret->argv));
		if (!ret->argv)
			return -ENOMEM;
	}
	for (int l = 0; l < 2; l++)
		json_array_foreach(lists[l], i, x)
		{
			if (!json_is_string(x))
				return FAIL(e, path, "%s[%zu] must be a string",
					    l ? "args" : "command", i);
			ret->argv[ret->n_argv] = model_intern(m, json_string_value(x));
			if (!ret->argv[ret->n_argv++])
				return -ENOMEM;
		}
	if (json_array_size(env)) {
		ret->env = calloc(json_array_size(env), sizeof(*ret->env));
		if (!ret->env)
			return -ENOMEM;
	}
	json_array_foreach(env, i, x)
	{
		const char *en, *ev;
		char epath[128];

		snprintf(epath, sizeof(epath), "%s.env[%zu]", path, i);
		if (!json_is_object(x))
			return FAIL(e, epath, "must be an object, got %s", type_name(x));
		if ((r = get_str(x, "name", epath, &en, e)) < 0 ||
		    (r = get_str(x, "value", epath, &ev, e)) < 0)
			return r;
		if (!en)
			return FAIL(e, epath, "'name' is required");
		ret->env[ret->n_env].name = model_intern(m, en);
		ret->env[ret->n_env].value = ev ? model_intern(m, ev) : NULL;
		if (!ret->env[ret->n_env].name || (ev && !ret->env[ret->n_env].value))
			return -ENOMEM;
		ret->n_env++;
	}
	return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct model_daemonset *, model_daemonset_free);

int model_decode_daemonset(struct model *m, json_t *o, struct model_daemonset **ret,
			   struct np_error *e)
{
	_cleanup_(model_daemonset_freep) struct model_daemonset *d = NULL;
	const char *name;
	json_t *md, *spec, *sel, *ml, *containers, *c, *status, *lo;
	long long v;
	size_t i;
	int r;

	r = object_meta(o, &md, &name, e);
	if (r < 0)
		return r;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	r = object_namespace(m, md, &d->ns, e);
	if (r < 0)
		return r;
	d->name = strdup(name);
	if (!d->name)
		return -ENOMEM;
	if ((r = get(md, "labels", JSON_OBJECT, "metadata.labels", &lo, e)) < 0)
		return r;
	if ((r = decode_string_map(m, lo, "metadata.labels", &d->labels.v, &d->labels.n, e)) < 0)
		return r;
	if ((r = get(o, "spec", JSON_OBJECT, "spec", &spec, e)) < 0)
		return r;
	if ((r = get(spec, "selector", JSON_OBJECT, "spec.selector", &sel, e)) < 0)
		return r;
	if ((r = get(sel, "matchLabels", JSON_OBJECT, "spec.selector.matchLabels", &ml, e)) < 0)
		return r;
	if ((r = decode_string_map(m, ml, "spec.selector.matchLabels", &d->selector.v,
				   &d->selector.n, e)) < 0)
		return r;
	containers = json_object_get(json_object_get(json_object_get(spec, "template"), "spec"),
				     "containers");
	if (json_array_size(containers)) {
		d->images = calloc(json_array_size(containers), sizeof(*d->images));
		if (!d->images)
			return -ENOMEM;
	}
	json_array_foreach(containers, i, c)
	{
		const char *img = json_string_value(json_object_get(c, "image"));
		if (img) {
			d->images[d->n_images] = model_intern(m, img);
			if (!d->images[d->n_images])
				return -ENOMEM;
			d->n_images++;
		}
	}
	{
		json_t *tspec = json_object_get(json_object_get(spec, "template"), "spec");
		json_t *lists[2] = { json_object_get(tspec, "initContainers"), containers };
		size_t n = 0;

		for (int l = 0; l < 2; l++) {
			if (lists[l] && !json_is_array(lists[l]))
				return FAIL(e,
					    l ? "spec.template.spec.containers"
					      : "spec.template.spec.initContainers",
					    "must be a list, got %s", type_name(lists[l]));
			n += json_array_size(lists[l]);
		}
		if (n) {
			d->containers = calloc(n, sizeof(*d->containers));
			if (!d->containers)
				return -ENOMEM;
		}
		for (int l = 0; l < 2; l++)
			json_array_foreach(lists[l], i, c)
			{
				char path[80];

				snprintf(path, sizeof(path), "spec.template.spec.%s[%zu]",
					 l ? "containers" : "initContainers", i);
				r = decode_ds_container(m, c, l == 0, path,
							&d->containers[d->n_containers++], e);
				if (r < 0)
					return r;
			}
	}
	if ((r = get(o, "status", JSON_OBJECT, "status", &status, e)) < 0)
		return r;
	if ((r = get_int(status, "desiredNumberScheduled", "status.desiredNumberScheduled", 0,
			 UINT32_MAX, &v, e)) < 0)
		return r;
	d->desired = r > 0 ? (uint32_t)v : 0;
	if ((r = get_int(status, "numberReady", "status.numberReady", 0, UINT32_MAX, &v, e)) < 0)
		return r;
	d->ready = r > 0 ? (uint32_t)v : 0;
	*ret = TAKE_PTR(d);
	return 0;
}
