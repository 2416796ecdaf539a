/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "model-internal.h"

/* ---- strings and label sets ---- */

const char *model_intern(struct model *m, const char *s)
{
	return strpool_intern(&m->pool, s);
}

const char *model_string_lookup(const struct model *m, const char *s)
{
	return strpool_lookup(&m->pool, s);
}

/* ---- tables of objects by hash ---- */

/*
 * Open addressing with linear probing and deletion by backward shift (no tombstones), up to
 * 7/8 full. A slot holds an object's address; objects are 16-byte aligned, so the low 4 bits
 * carry the top 4 bits of the object's hash and most probes need not read the object. Each
 * object holds its 32-bit hash at t->hash_off.
 */
#define SLOT_TAG ((uintptr_t)15)

static void *slot_obj(uintptr_t s)
{
	return (void *)(s & ~SLOT_TAG);
}

static bool slot_may_be(uintptr_t s, uint32_t h)
{
	return s && (s & SLOT_TAG) == h >> 28;
}

static uint32_t obj_hash(const struct otable *t, const void *o)
{
	uint32_t h;

	memcpy(&h, (const char *)o + t->hash_off, sizeof(h));
	return h;
}

static uintptr_t slot_of(const struct otable *t, void *o)
{
	assert(((uintptr_t)o & SLOT_TAG) == 0);
	return (uintptr_t)o | (obj_hash(t, o) >> 28);
}

static int otable_resize(struct otable *t, size_t ncap)
{
	uintptr_t *slots = calloc(ncap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		size_t j;

		if (!t->slots[i])
			continue;
		for (j = obj_hash(t, slot_obj(t->slots[i])) & (ncap - 1); slots[j];
		     j = (j + 1) & (ncap - 1))
			;
		slots[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->cap = ncap;
	return 0;
}

/* Adds o, which is not in the table; returns 0 or -ENOMEM. */
static int otable_add(struct otable *t, void *o)
{
	size_t i;

	if ((t->n + 1) * 8 > t->cap * 7 && otable_resize(t, t->cap ? t->cap * 2 : 16) < 0)
		return -ENOMEM;
	for (i = obj_hash(t, o) & (t->cap - 1); t->slots[i]; i = (i + 1) & (t->cap - 1))
		;
	t->slots[i] = slot_of(t, o);
	t->n++;
	return 0;
}

/* Returns the slot of o, which is in the table. */
static size_t otable_slot(const struct otable *t, const void *o)
{
	size_t i = obj_hash(t, o) & (t->cap - 1);

	while (slot_obj(t->slots[i]) != o)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static void otable_remove_at(struct otable *t, size_t i)
{
	size_t mask = t->cap - 1, j = i;

	for (;;) {
		t->slots[i] = 0;
		for (;;) {
			size_t k;

			j = (j + 1) & mask;
			if (!t->slots[j])
				goto done;
			k = obj_hash(t, slot_obj(t->slots[j])) & mask;
			/* The entry at j stays unless its home k lies cyclically outside (i, j]. */
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		t->slots[i] = t->slots[j];
		i = j;
	}
done:
	t->n--;
	/* Give memory back after mass deletions; the table is then at most half full. */
	if (t->cap > 16 && t->n * 4 < t->cap)
		(void)otable_resize(t, t->cap / 2);
}

/* murmur3's finaliser: the tables index by the low bits of a hash. */
static uint32_t hash_fmix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static uint64_t hash_word(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

/* ---- shared data: label arrays, port arrays, origins ---- */

/* Hashes an array of pointers (label arrays, origins: interned strings, which are equal
 * exactly when their pointers are). */
static uint32_t hash_ptrs(enum blob_kind kind, const void *v, size_t n)
{
	uint64_t h = kind;

	for (size_t i = 0; i < n; i++) {
		uintptr_t w;

		memcpy(&w, (const char *)v + i * sizeof(w), sizeof(w));
		h = hash_word(h, w);
	}
	return hash_fmix((uint32_t)(h ^ (h >> 32)));
}

static uint32_t hash_ports(const struct model_container_port *v, size_t n)
{
	uint64_t h = BLOB_PORTS;

	for (size_t i = 0; i < n; i++)
		h = hash_word(hash_word(h, (uintptr_t)v[i].name),
			      (uint64_t)v[i].port << 8 | v[i].proto);
	return hash_fmix((uint32_t)(h ^ (h >> 32)));
}

static bool blob_equal(const struct blob *b, enum blob_kind kind, const void *payload, size_t size)
{
	const struct model_container_port *x = (const void *)(b + 1), *y = payload;

	if (b->kind != kind || b->size != size)
		return false;
	if (kind != BLOB_PORTS) /* arrays of pointers, no padding */
		return memcmp(b + 1, payload, size) == 0;
	for (size_t i = 0; i < size / sizeof(*x); i++)
		if (x[i].name != y[i].name || x[i].port != y[i].port || x[i].proto != y[i].proto)
			return false;
	return true;
}

/* Returns the shared copy of the payload, taking a reference, or NULL on OOM. */
static void *blob_get(struct model *m, enum blob_kind kind, const void *payload, size_t size,
		      uint32_t hash)
{
	struct otable *t = &m->blobs;
	struct blob *b;

	for (size_t i = hash & (t->cap - 1); t->cap && t->slots[i]; i = (i + 1) & (t->cap - 1)) {
		if (!slot_may_be(t->slots[i], hash))
			continue;
		b = slot_obj(t->slots[i]);
		if (b->hash == hash && blob_equal(b, kind, payload, size)) {
			b->refs++;
			return b + 1;
		}
	}
	if (posix_memalign((void **)&b, 16, sizeof(*b) + size) != 0)
		return NULL;
	*b = (struct blob){ .hash = hash, .refs = 1, .size = (uint32_t)size, .kind = kind };
	memcpy(b + 1, payload, size);
	if (otable_add(t, b) < 0) {
		free(b);
		return NULL;
	}
	m->bytes += sizeof(*b) + size;
	return b + 1;
}

void model_blob_put(struct model *m, const void *payload)
{
	struct blob *b;

	if (!payload)
		return;
	b = (struct blob *)payload - 1;
	if (--b->refs > 0)
		return;
	otable_remove_at(&m->blobs, otable_slot(&m->blobs, b));
	m->bytes -= sizeof(*b) + b->size;
	free(b);
}

int model_labelset_get(struct model *m, struct model_label *v, uint32_t n, struct model_labels *ret)
{
	*ret = (struct model_labels){ 0 };
	if (n == 0)
		return 0;
	ret->v = blob_get(m, BLOB_LABELS, v, n * sizeof(*v), hash_ptrs(BLOB_LABELS, v, 2 * n));
	if (!ret->v)
		return -ENOMEM;
	ret->n = n;
	return 0;
}

void model_labelset_put(struct model *m, struct model_labels *l)
{
	if (l->n > 0)
		model_blob_put(m, l->v);
	*l = (struct model_labels){ 0 };
}

struct model_container_port *model_ports_get(struct model *m, const struct model_container_port *v,
					     uint16_t n)
{
	assert(n > 0);
	return blob_get(m, BLOB_PORTS, v, n * sizeof(*v), hash_ports(v, n));
}

const struct model_pod_origin *model_origin_get(struct model *m, const struct model_pod_origin *o)
{
	return blob_get(m, BLOB_ORIGIN, o, sizeof(*o), hash_ptrs(BLOB_ORIGIN, o, 3));
}

const char *model_labels_get(const struct model_labels *l, const char *key)
{
	uint32_t lo = 0, hi = l->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, l->v[mid].key);
		if (c == 0)
			return l->v[mid].value;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- selectors ---- */

static bool value_in(const struct model_requirement *q, const char *v)
{
	for (uint32_t i = 0; i < q->n_values; i++)
		if (q->values[i] == v || streq(q->values[i], v))
			return true;
	return false;
}

bool model_selector_matches(const struct model_selector *s, const struct model_labels *l)
{
	if (!s->present)
		return false;
	for (uint32_t i = 0; i < s->match_labels.n; i++) {
		const char *v = model_labels_get(l, s->match_labels.v[i].key);
		if (!v ||
		    (v != s->match_labels.v[i].value && !streq(v, s->match_labels.v[i].value)))
			return false;
	}
	for (uint32_t i = 0; i < s->n_exprs; i++) {
		const struct model_requirement *q = &s->exprs[i];
		const char *v = model_labels_get(l, q->key);

		switch (q->op) {
		case MODEL_OP_IN:
			if (!v || !value_in(q, v))
				return false;
			break;
		case MODEL_OP_NOT_IN:
			if (v && value_in(q, v))
				return false;
			break;
		case MODEL_OP_EXISTS:
			if (!v)
				return false;
			break;
		case MODEL_OP_DOES_NOT_EXIST:
			if (v)
				return false;
			break;
		}
	}
	return true;
}

bool model_selector_is_empty(const struct model_selector *s)
{
	return s->present && s->match_labels.n == 0 && s->n_exprs == 0;
}

bool model_pod_policy_applies(const struct model_pod *p)
{
	return p->n_ips > 0 && !p->host_network && !p->terminating &&
	       p->phase != MODEL_POD_SUCCEEDED && p->phase != MODEL_POD_FAILED;
}

/* ---- pods: layout, uid, the pod table ---- */

void model_pod_layout(size_t n_ips, size_t name_len, size_t uid_size, struct pod_layout *ret)
{
	ret->ips = (sizeof(struct model_pod) + 15) & ~(size_t)15;
	ret->name = ret->ips + MAX(n_ips, 1) * sizeof(np_u128);
	ret->uid = ret->name + name_len + 1;
	ret->size = ret->uid + uid_size;
}

static size_t pod_alloc_size(const struct model_pod *p)
{
	struct pod_layout lay;
	size_t len = strlen(p->name);

	model_pod_layout(p->n_ips, len, p->uid_is_uuid ? 0 : strlen(p->name + len + 1) + 1, &lay);
	return lay.size;
}

const char *model_pod_uid(const struct model_pod *p, char buf[static MODEL_UID_BUF])
{
	static const char hex[] = "0123456789abcdef";
	char *o = buf;

	if (!p->uid_is_uuid)
		return p->name + strlen(p->name) + 1;
	for (unsigned i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[p->uuid[i] >> 4];
		*o++ = hex[p->uuid[i] & 15];
	}
	*o = 0;
	return buf;
}

uint32_t model_pod_hash(const char *ns, const char *name)
{
	uint32_t h = np_hash_bytes(2166136261u, ns, strlen(ns) + 1);

	return hash_fmix(np_hash_bytes(h, name, strlen(name)));
}

/* Returns the slot of pod ns/name (ns interned) whose hash is h, or SIZE_MAX. */
static size_t podtable_find(const struct otable *t, const char *ns, const char *name, uint32_t h)
{
	for (size_t i = h & (t->cap - 1); t->cap && t->slots[i]; i = (i + 1) & (t->cap - 1)) {
		const struct model_pod *p;

		if (!slot_may_be(t->slots[i], h))
			continue;
		p = slot_obj(t->slots[i]);
		if (p->hash == h && p->ns == ns && streq(p->name, name))
			return i;
	}
	return SIZE_MAX;
}

/* ---- object lists ---- */

static int objlist_add(struct hashmap *h, const char *key, void *obj, bool *ret_created)
{
	struct objlist *l = hashmap_get(h, key);

	if (ret_created)
		*ret_created = false;
	if (!l) {
		l = calloc(1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		if (hashmap_put(h, key, l) < 0) {
			free(l);
			return -ENOMEM;
		}
		if (ret_created)
			*ret_created = true;
	}
	l->dirty = true;
	if (l->v.n == l->v.cap) {
		/* Grow by half: the indexes hold several pointers a pod, doubling wastes more; and
		 * from one, as a label of a single pod (a StatefulSet's pod-name) is common. */
		size_t cap = l->v.cap < 4 ? l->v.cap + 1 : l->v.cap + l->v.cap / 2;
		void **v = reallocarray(l->v.items, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v.items = v;
		l->v.cap = cap;
	}
	l->v.items[l->v.n++] = obj;
	return 0;
}

/* Cuts l's array to its size (after a bulk load, or when deletions emptied it). */
static void objlist_fit(struct objlist *l)
{
	void **v;

	if (l->v.cap == l->v.n || l->v.n == 0)
		return;
	v = reallocarray(l->v.items, l->v.n, sizeof(*v));
	if (v) {
		l->v.items = v;
		l->v.cap = l->v.n;
	}
}

static void objlists_fit(struct hashmap *h)
{
	HASHMAP_FOREACH (e, h)
		objlist_fit(e->value);
}

/* Removes obj from the list under key; returns the number of elements left (or -1 if none). */
static ssize_t objlist_del(struct hashmap *h, const char *key, const void *obj)
{
	struct objlist *l = hashmap_get(h, key);

	if (!l)
		return -1;
	for (size_t i = 0; i < l->v.n; i++)
		if (l->v.items[i] == obj) {
			l->v.items[i] = l->v.items[--l->v.n];
			l->dirty = true;
			break;
		}
	if (l->v.n == 0) {
		hashmap_remove(h, key);
		VEC_DONE(&l->v);
		free(l);
		return 0;
	}
	if (l->v.cap > 16 && l->v.n < l->v.cap / 4)
		objlist_fit(l);
	return (ssize_t)l->v.n;
}

static void objlists_free(struct hashmap *h)
{
	HASHMAP_FOREACH (e, h) {
		struct objlist *l = e->value;
		VEC_DONE(&l->v);
		free(l);
	}
	hashmap_done(h);
}

/* ---- model ---- */

int model_new(struct model **ret)
{
	struct model *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	for (int k = 0; k < _MODEL_KIND_MAX; k++)
		m->views_dirty[k] = true;
	m->by_ip_dirty = true;
	m->pods.hash_off = offsetof(struct model_pod, hash);
	m->blobs.hash_off = offsetof(struct blob, hash);
	*ret = m;
	return 0;
}

void model_pod_free(struct model *m, struct model_pod *p)
{
	if (!p)
		return;
	model_labelset_put(m, &p->labels);
	model_blob_put(m, p->ports);
	model_blob_put(m, p->origin);
	free(p);
}

void model_namespace_free(struct model *m, struct model_namespace *n)
{
	if (!n)
		return;
	model_labelset_put(m, &n->labels);
	free(n);
}

struct model *model_free(struct model *m)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->pods.cap; i++)
		model_pod_free(m, slot_obj(m->pods.slots[i]));
	HASHMAP_FOREACH (e, &m->namespaces)
		model_namespace_free(m, e->value);
	HASHMAP_FOREACH (e, &m->policies) {
		struct model_policy *p = e->value;
		free((char *)e->key);
		model_policy_free(p);
	}
	HASHMAP_FOREACH (e, &m->services) {
		free((char *)e->key);
		model_service_free(e->value);
	}
	HASHMAP_FOREACH (e, &m->daemonsets) {
		free((char *)e->key);
		model_daemonset_free(e->value);
	}
	free(m->pods.slots);
	hashmap_done(&m->namespaces);
	hashmap_done(&m->policies);
	hashmap_done(&m->services);
	hashmap_done(&m->daemonsets);
	/* What pods and namespaces shared went with them (policies hold no shared data); the
	 * loop only matters should a reference have been lost. */
	for (size_t i = 0; i < m->blobs.cap; i++)
		free(slot_obj(m->blobs.slots[i]));
	free(m->blobs.slots);
	objlists_free(&m->pods_by_ns);
	objlists_free(&m->pods_by_label);
	objlists_free(&m->values_by_key);
	objlists_free(&m->policies_by_ns);
	VEC_DONE(&m->all_namespaces.v);
	VEC_DONE(&m->all_pods.v);
	VEC_DONE(&m->all_policies.v);
	VEC_DONE(&m->all_services.v);
	VEC_DONE(&m->all_daemonsets.v);
	VEC_DONE(&m->node_cache.v);
	VEC_DONE(&m->scratch.v);
	VEC_DONE(&m->diags);
	free(m->by_ip);
	strpool_done(&m->pool);
	free(m);
	return NULL;
}

static void changed(struct model *m, enum model_kind k)
{
	m->gen++;
	m->views_dirty[k] = true;
	if (k == MODEL_POD)
		m->by_ip_dirty = true;
}

uint64_t model_generation(const struct model *m)
{
	return m->gen;
}

const struct np_error *model_diagnostics(const struct model *m, size_t *ret_n)
{
	*ret_n = m->diags.n;
	return m->diags.items;
}

/* Interned "key=value" for the label index. */
static const char *label_index_key(struct model *m, const struct model_label *l)
{
	_cleanup_(freep) char *s = NULL;
	size_t kl = strlen(l->key), vl = strlen(l->value);
	char buf[256], *p = buf;

	if (kl + vl + 2 > sizeof(buf)) {
		p = s = malloc(kl + vl + 2);
		if (!s)
			return NULL;
	}
	memcpy(p, l->key, kl);
	p[kl] = '=';
	memcpy(p + kl + 1, l->value, vl + 1);
	return model_intern(m, p);
}

static int implicit_namespace(struct model *m, const char *ns)
{
	struct model_namespace *n;
	struct model_label l;
	int r;

	if (hashmap_get(&m->namespaces, ns))
		return 0;
	n = calloc(1, sizeof(*n) + 1);
	if (!n)
		return -ENOMEM;
	n->name = ns;
	n->uid = (const char *)(n + 1);
	n->implicit = true;
	n->id = m->next_ns_id++;
	n->gen = m->gen + 1;
	l.key = model_intern(m, "kubernetes.io/metadata.name");
	l.value = ns;
	if (!l.key || (r = model_labelset_get(m, &l, 1, &n->labels)) < 0 ||
	    hashmap_put(&m->namespaces, n->name, n) < 0) {
		model_namespace_free(m, n);
		return -ENOMEM;
	}
	changed(m, MODEL_NAMESPACE);
	return 0;
}

static int index_pod(struct model *m, struct model_pod *p)
{
	int r;

	r = objlist_add(&m->pods_by_ns, p->ns, p, NULL);
	if (r < 0)
		return r;
	for (uint32_t i = 0; i < p->labels.n; i++) {
		const char *kv = label_index_key(m, &p->labels.v[i]);
		bool created;

		if (!kv)
			return -ENOMEM;
		r = objlist_add(&m->pods_by_label, kv, p, &created);
		if (r < 0)
			return r;
		if (created) {
			r = objlist_add(&m->values_by_key, p->labels.v[i].key, (void *)kv, NULL);
			if (r < 0)
				return r;
		}
	}
	return implicit_namespace(m, p->ns);
}

static void unindex_pod(struct model *m, struct model_pod *p)
{
	ssize_t left = objlist_del(&m->pods_by_ns, p->ns, p);

	for (uint32_t i = 0; i < p->labels.n; i++) {
		const char *kv = label_index_key(m, &p->labels.v[i]);
		if (kv && objlist_del(&m->pods_by_label, kv, p) == 0)
			objlist_del(&m->values_by_key, p->labels.v[i].key, kv);
	}
	if (left <= 0) {
		struct model_namespace *n = hashmap_get(&m->namespaces, p->ns);
		if (n && n->implicit) {
			hashmap_remove(&m->namespaces, n->name);
			model_namespace_free(m, n);
			changed(m, MODEL_NAMESPACE);
		}
	}
}

static int put_pod(struct model *m, struct model_pod *p)
{
	size_t slot = podtable_find(&m->pods, p->ns, p->name, p->hash);
	struct model_pod *old = slot != SIZE_MAX ? slot_obj(m->pods.slots[slot]) : NULL;
	int r;

	if (old && pod_alloc_size(old) == pod_alloc_size(p)) {
		/* The common update (status, readiness, restarts, a label or two): the new
		 * contents move into the old allocation, so the indexes, which hold its address,
		 * change only for the labels that changed (removing a pod from a label that
		 * thousands of pods share is a scan). */
		ptrdiff_t shift = (char *)old - (char *)p;
		struct model_labels gone = old->labels;
		struct model_container_port *gone_ports = old->ports;
		const struct model_pod_origin *gone_origin = old->origin;

		if (old->labels.v != p->labels.v) {
			uint32_t added = 0;

			/* Add first: should it fail, the adds are undone and the slow path below
			 * re-indexes from a consistent state. */
			for (; added < p->labels.n; added++) {
				const struct model_label *l = &p->labels.v[added];
				const char *kv;
				bool created;

				if (model_labels_get(&gone, l->key) == l->value)
					continue;
				kv = label_index_key(m, l);
				if (!kv || objlist_add(&m->pods_by_label, kv, old, &created) < 0)
					break;
				if (created &&
				    objlist_add(&m->values_by_key, l->key, (void *)kv, NULL) < 0) {
					objlist_del(&m->pods_by_label, kv, old);
					break;
				}
			}
			if (added < p->labels.n) {
				for (uint32_t i = 0; i < added; i++) {
					const struct model_label *l = &p->labels.v[i];
					const char *kv;

					if (model_labels_get(&gone, l->key) == l->value)
						continue;
					kv = label_index_key(m, l);
					if (kv && objlist_del(&m->pods_by_label, kv, old) == 0)
						objlist_del(&m->values_by_key, l->key, kv);
				}
				goto slow;
			}
			for (uint32_t i = 0; i < gone.n; i++) {
				const char *kv;

				if (model_labels_get(&p->labels, gone.v[i].key) == gone.v[i].value)
					continue;
				kv = label_index_key(m, &gone.v[i]);
				if (kv && objlist_del(&m->pods_by_label, kv, old) == 0)
					objlist_del(&m->values_by_key, gone.v[i].key, kv);
			}
		}
		memcpy(old, p, pod_alloc_size(p));
		old->name += shift;
		old->ips = (np_u128 *)((char *)old->ips + shift);
		/* The old contents' references on their labels, ports and origin go; the new ones'
		 * stay. */
		model_labelset_put(m, &gone);
		model_blob_put(m, gone_ports);
		model_blob_put(m, gone_origin);
		free(p);
		changed(m, MODEL_POD);
		return 0;
	}
slow:
	if (old) {
		/* Same key, same hash: the new pod takes the old one's slot. */
		unindex_pod(m, old);
		model_pod_free(m, old);
		m->pods.slots[slot] = slot_of(&m->pods, p);
	} else {
		r = otable_add(&m->pods, p);
		if (r < 0) {
			model_pod_free(m, p);
			changed(m, MODEL_POD);
			return r;
		}
	}
	r = index_pod(m, p);
	changed(m, MODEL_POD);
	return r;
}

int model_pod_put(struct model *m, struct model_pod *p)
{
	return put_pod(m, p) < 0 ? -ENOMEM : 0;
}

int model_apply_pod_protobuf(struct model *m, const void *buf, size_t len, struct np_error *reterr)
{
	struct model_pod *p;
	int r;

	r = model_decode_pod_protobuf(m, buf, len, &p, reterr);
	if (r < 0)
		return r;
	return model_pod_put(m, p) < 0 ? -ENOMEM : 1;
}

static int del_pod(struct model *m, const char *ns, const char *name)
{
	const char *ins = strpool_lookup(&m->pool, ns);
	size_t slot =
		ins ? podtable_find(&m->pods, ins, name, model_pod_hash(ins, name)) : SIZE_MAX;
	struct model_pod *old;

	if (slot == SIZE_MAX)
		return 0;
	old = slot_obj(m->pods.slots[slot]);
	otable_remove_at(&m->pods, slot);
	unindex_pod(m, old);
	model_pod_free(m, old);
	changed(m, MODEL_POD);
	return 1;
}

static int put_namespace(struct model *m, struct model_namespace *n)
{
	struct model_namespace *old = hashmap_get(&m->namespaces, n->name);

	if (old) {
		n->id = old->id;
		hashmap_remove(&m->namespaces, old->name);
		model_namespace_free(m, old);
	} else
		n->id = m->next_ns_id++;
	n->gen = m->gen + 1;
	if (hashmap_put(&m->namespaces, n->name, n) < 0) {
		model_namespace_free(m, n);
		return -ENOMEM;
	}
	changed(m, MODEL_NAMESPACE);
	return 1;
}

static int del_namespace(struct model *m, const char *name)
{
	struct model_namespace *old = hashmap_get(&m->namespaces, name);

	if (!old || old->implicit)
		return 0;
	hashmap_remove(&m->namespaces, name);
	model_namespace_free(m, old);
	changed(m, MODEL_NAMESPACE);
	/* Pods still naming it keep an implicit namespace until they go too. */
	if (hashmap_get(&m->pods_by_ns, name))
		return implicit_namespace(m, model_intern(m, name)) < 0 ? -ENOMEM : 1;
	return 1;
}

/* Generic keyed storage for policies, services and daemonsets: the key "ns/name" is owned
 * by the hashmap entry. */
static int put_keyed(struct model *m, struct hashmap *h, enum model_kind kind, const char *ns,
		     const char *name, void *obj, void **ret_old, char **ret_key)
{
	_cleanup_(freep) char *key = NULL;
	struct hashmap_entry *e;

	*ret_old = NULL;
	if (asprintf(&key, "%s/%s", ns, name) < 0)
		return -ENOMEM;
	e = hashmap_find(h, key);
	if (e) {
		/* Replace in place, keeping the existing key string. */
		*ret_old = e->value;
		e->value = obj;
		*ret_key = (char *)e->key;
		changed(m, kind);
		return 1;
	}
	if (hashmap_put(h, key, obj) < 0)
		return -ENOMEM;
	*ret_key = TAKE_PTR(key);
	changed(m, kind);
	return 1;
}

static int del_keyed(struct model *m, struct hashmap *h, enum model_kind kind, const char *key,
		     void **ret_old)
{
	struct hashmap_entry *e = hashmap_find(h, key);
	char *k;

	*ret_old = NULL;
	if (!e)
		return 0;
	k = (char *)e->key;
	*ret_old = e->value;
	hashmap_remove(h, key);
	free(k);
	changed(m, kind);
	return 1;
}

static int put_policy(struct model *m, struct model_policy *p)
{
	struct model_policy *old;
	char *key;
	int r;

	p->gen = m->gen + 1;
	r = put_keyed(m, &m->policies, MODEL_POLICY, p->ns, p->name, p, (void **)&old, &key);
	if (r < 0) {
		model_policy_free(p);
		return r;
	}
	if (old) {
		p->id = old->id;
		objlist_del(&m->policies_by_ns, old->ns, old);
		model_policy_free(old);
	} else
		p->id = m->next_policy_id++;
	return objlist_add(&m->policies_by_ns, p->ns, p, NULL) < 0 ? -ENOMEM : 1;
}

/* ---- decoding dispatch ---- */

static const struct {
	const char *kind;
	const char *api_prefix; /* accepted apiVersion: exact, or group prefix ending in '/' */
	enum model_kind mk;
} kinds[] = {
	{ "Namespace", "v1", MODEL_NAMESPACE },
	{ "Pod", "v1", MODEL_POD },
	{ "NetworkPolicy", "networking.k8s.io/v1", MODEL_POLICY },
	{ "Service", "v1", MODEL_SERVICE },
	{ "DaemonSet", "apps/", MODEL_DAEMONSET },
};

static const char *kind_name(enum model_kind k)
{
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
		if (kinds[i].mk == k)
			return kinds[i].kind;
	return "object";
}

/* Returns the model kind of obj, `fallback` when it has no kind, or -ENOENT for kinds (or API
 * groups: Calico's own NetworkPolicy, say) the model does not hold. */
static int object_kind(json_t *obj, int fallback)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *api = json_string_value(json_object_get(obj, "apiVersion"));

	if (!kind)
		return fallback;
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
		const char *p = kinds[i].api_prefix;
		size_t n = strlen(p);

		if (!streq(kind, kinds[i].kind))
			continue;
		if (!api || (p[n - 1] == '/' ? strneq(api, p, n) : streq(api, p)))
			return (int)kinds[i].mk;
		return -ENOENT;
	}
	return -ENOENT;
}

static const char *metadata_str(json_t *obj, const char *field)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

int model_apply_json(struct model *m, json_t *obj, enum model_kind kind, bool deleted,
		     struct np_error *reterr)
{
	char ident[300];
	int k = json_is_object(obj) ? object_kind(obj, (int)kind) : (int)kind;
	int r;

	if (k == -ENOENT)
		return 0;
	if (deleted) {
		const char *name = metadata_str(obj, "name");
		const char *ns = metadata_str(obj, "namespace");
		_cleanup_(freep) char *key = NULL;
		void *old;

		if (!name)
			return np_error_set(
				reterr, -EINVAL, NULL,
				model_object_ident(obj, kind_name(k), ident, sizeof(ident)),
				"metadata.name", 0, "is required");
		if (k == MODEL_NAMESPACE)
			return del_namespace(m, name);
		if (asprintf(&key, "%s/%s", ns ? ns : "default", name) < 0)
			return -ENOMEM;
		switch (k) {
		case MODEL_POD:
			return del_pod(m, ns ? ns : "default", name);
		case MODEL_POLICY:
			r = del_keyed(m, &m->policies, MODEL_POLICY, key, &old);
			if (old) {
				objlist_del(&m->policies_by_ns, ((struct model_policy *)old)->ns,
					    old);
				model_policy_free(old);
			}
			return r;
		case MODEL_SERVICE:
			r = del_keyed(m, &m->services, MODEL_SERVICE, key, &old);
			model_service_free(old);
			return r;
		case MODEL_DAEMONSET:
			r = del_keyed(m, &m->daemonsets, MODEL_DAEMONSET, key, &old);
			model_daemonset_free(old);
			return r;
		}
		return 0;
	}

	switch (k) {
	case MODEL_NAMESPACE: {
		struct model_namespace *n;
		r = model_decode_namespace(m, obj, &n, reterr);
		if (r >= 0)
			r = put_namespace(m, n);
		break;
	}
	case MODEL_POD: {
		struct model_pod *p;
		r = model_decode_pod(m, obj, &p, reterr);
		if (r >= 0)
			r = put_pod(m, p) < 0 ? -ENOMEM : 1;
		break;
	}
	case MODEL_POLICY: {
		struct model_policy *p;
		r = model_decode_policy(m, obj, &p, reterr);
		if (r >= 0)
			r = put_policy(m, p);
		break;
	}
	case MODEL_SERVICE: {
		struct model_service *s, *old = NULL;
		char *key;
		r = model_decode_service(m, obj, &s, reterr);
		if (r >= 0) {
			s->gen = m->gen + 1;
			r = put_keyed(m, &m->services, MODEL_SERVICE, s->ns, s->name, s,
				      (void **)&old, &key);
			if (r < 0)
				model_service_free(s);
			model_service_free(old);
		}
		break;
	}
	case MODEL_DAEMONSET: {
		struct model_daemonset *d, *old = NULL;
		char *key;
		r = model_decode_daemonset(m, obj, &d, reterr);
		if (r >= 0) {
			d->gen = m->gen + 1;
			r = put_keyed(m, &m->daemonsets, MODEL_DAEMONSET, d->ns, d->name, d,
				      (void **)&old, &key);
			if (r < 0)
				model_daemonset_free(d);
			model_daemonset_free(old);
		}
		break;
	}
	default:
		return 0;
	}
	if (r == -EINVAL && reterr) {
		/* Name the object the field belongs to. */
		snprintf(reterr->object, sizeof(reterr->object), "%s",
			 model_object_ident(obj, kind_name(k), ident, sizeof(ident)));
	}
	return r;
}

/* ---- loading files ---- */

static int load_object(struct model *m, json_t *obj, int fallback, const char *name,
		       size_t *skipped)
{
	struct np_error e = { 0 };
	int r;

	if (!json_is_object(obj)) {
		np_error_set(&e, -EINVAL, name, NULL, NULL, 0,
			     "a document or list item is not an object");
		(*skipped)++;
		return VEC_PUSH(&m->diags, e);
	}
	{
		const char *kind = json_string_value(json_object_get(obj, "kind"));
		json_t *items = json_object_get(obj, "items");
		size_t klen = kind ? strlen(kind) : 0;

		/* kubectl's List and the API's typed lists (PodList: items lack kind). */
		if (kind && klen >= 4 && streq(kind + klen - 4, "List")) {
			int item_kind = -ENOENT;
			size_t i;
			json_t *x;

			if (klen > 4) {
				_cleanup_(freep) char *single = strndup(kind, klen - 4);
				json_t *probe = json_pack("{s:s}", "kind", single ? single : "");
				if (!probe)
					return -ENOMEM;
				item_kind = object_kind(probe, -ENOENT);
				json_decref(probe);
			}
			if (items && !json_is_array(items)) {
				np_error_set(&e, -EINVAL, name, kind, "items", 0, "must be a list");
				(*skipped)++;
				return VEC_PUSH(&m->diags, e);
			}
			json_array_foreach(items, i, x)
			{
				r = load_object(m, x, item_kind, name, skipped);
				if (r < 0)
					return r;
			}
			return 0;
		}
	}
	if (fallback == -ENOENT && !json_object_get(obj, "kind")) {
		np_error_set(&e, -EINVAL, name, NULL, "kind", 0, "object without 'kind'");
		(*skipped)++;
		return VEC_PUSH(&m->diags, e);
	}
	r = model_apply_json(m, obj, fallback < 0 ? MODEL_POD : (enum model_kind)fallback, false,
			     &e);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		snprintf(e.file, sizeof(e.file), "%s", name);
		(*skipped)++;
		return VEC_PUSH(&m->diags, e);
	}
	return 0;
}

/* jansson goes on after an allocation fails inside its lexer: the token loses bytes, and a
 * string that lost its closing quote is then copied past the end of its buffer (a heap
 * overflow), or comes out shortened, or as a bad token. So within a parse the first failed
 * allocation makes every later one fail: the lexer stops at its next allocation (a string's
 * copy is allocated before it is made) and the parse ends in an error that the failure count
 * tells from bad input. */
static _Thread_local unsigned long json_alloc_failures;
static _Thread_local unsigned json_parse_depth;
static _Thread_local bool json_parse_failed;
static json_malloc_t json_malloc_next;

static void *json_malloc_guarded(size_t n)
{
	void *p;

	if (json_parse_depth && json_parse_failed)
		return NULL;
	p = json_malloc_next(n);
	if (!p) {
		json_alloc_failures++;
		if (json_parse_depth)
			json_parse_failed = true;
	}
	return p;
}

unsigned long model_json_parse_begin(void)
{
	if (!json_malloc_next) {
		json_free_t f;

		json_get_alloc_funcs(&json_malloc_next, &f);
		json_set_alloc_funcs(json_malloc_guarded, f);
	}
	json_parse_depth++;
	return json_alloc_failures;
}

bool model_json_parse_end(unsigned long mark)
{
	if (json_parse_depth && --json_parse_depth == 0)
		json_parse_failed = false;
	return json_alloc_failures != mark;
}

int model_load_buffer(struct model *m, const char *buf, size_t len, const char *name,
		      struct np_error *reterr)
{
	size_t skipped = 0, i = 0;
	json_t *docs = NULL, *doc;
	int r;

	while (i < len && strchr(" \t\r\n", buf[i]))
		i++;
	if (len - i >= 3 && memcmp(buf + i, "\xef\xbb\xbf", 3) == 0)
		i += 3;
	if (i < len && (buf[i] == '{' || buf[i] == '[')) {
		/* JSON: one value or several concatenated (a stream of objects). */
		size_t off = i;

		docs = json_array();
		if (!docs)
			return np_error_set(reterr, -ENOMEM, name, NULL, NULL, 0,
					    "out of memory parsing the JSON");
		while (off < len) {
			unsigned long mark = model_json_parse_begin();
			json_error_t je;
			json_t *v = json_loadb(buf + off, len - off,
					       JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES |
						       JSON_ALLOW_NUL,
					       &je);
			if (model_json_parse_end(mark)) {
				json_decref(v);
				json_decref(docs);
				return np_error_set(reterr, -ENOMEM, name, NULL, NULL, 0,
						    "out of memory parsing the JSON (%zu bytes)",
						    len);
			}
			if (!v) {
				json_decref(docs);
				return np_error_set(reterr, -EBADMSG, name, NULL, NULL,
						    (unsigned)je.line, "JSON: %s (column %d)",
						    je.text, je.column);
			}
			json_array_append_new(docs, v);
			off += je.position;
			while (off < len && strchr(" \t\r\n", buf[off]))
				off++;
		}
	} else {
		unsigned long mark = model_json_parse_begin();

		r = model_yaml_parse(buf, len, name, &docs, reterr);
		if (model_json_parse_end(mark)) {
			if (r >= 0)
				json_decref(docs);
			return np_error_set(reterr, -ENOMEM, name, NULL, NULL, 0,
					    "out of memory parsing the YAML (%zu bytes)", len);
		}
		if (r < 0)
			return r;
	}
	json_array_foreach(docs, i, doc)
	{
		if (json_is_array(doc)) {
			size_t j;
			json_t *x;
			json_array_foreach(doc, j, x)
			{
				r = load_object(m, x, -ENOENT, name, &skipped);
				if (r < 0)
					goto out;
			}
			continue;
		}
		if (json_is_null(doc))
			continue;
		r = load_object(m, doc, -ENOENT, name, &skipped);
		if (r < 0)
			goto out;
	}
	r = (int)MIN(skipped, (size_t)INT32_MAX);
out:
	if (r == -ENOMEM && reterr && !reterr->message[0])
		np_error_set(reterr, -ENOMEM, name, NULL, NULL, 0,
			     "out of memory loading the objects");
	json_decref(docs);
	/* A load is a bulk change: the indexes give back what their growth reserved. */
	objlists_fit(&m->pods_by_ns);
	objlists_fit(&m->pods_by_label);
	objlists_fit(&m->values_by_key);
	objlists_fit(&m->policies_by_ns);
	return r;
}

int model_load_file(struct model *m, const char *path, struct np_error *reterr)
{
	_cleanup_(fclosep) FILE *f = NULL;
	_cleanup_(freep) char *buf = NULL;
	size_t len = 0, cap = 0;
	bool is_stdin = streq(path, "-");

	f = is_stdin ? NULL : fopen(path, "re");
	if (!is_stdin && !f)
		return np_error_set(reterr, -errno, path, NULL, NULL, 0, "cannot open: %s",
				    strerror(errno));
	for (;;) {
		size_t n;
		if (len + 65536 + 1 > cap) {
			char *nb;
			cap = cap ? cap * 2 : 1 << 20;
			nb = realloc(buf, cap);
			if (!nb)
				return np_error_set(reterr, -ENOMEM, path, NULL, NULL, 0,
						    "out of memory reading the file");
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, is_stdin ? stdin : f);
		len += n;
		if (n == 0) {
			if (ferror(is_stdin ? stdin : f))
				return np_error_set(reterr, -EIO, path, NULL, NULL, 0,
						    "read error");
			break;
		}
	}
	if (!buf)
		return np_error_set(reterr, -EBADMSG, path, NULL, NULL, 0, "empty input");
	buf[len] = 0;
	return model_load_buffer(m, buf, len, is_stdin ? "<stdin>" : path, reterr);
}

/* ---- queries ---- */

const struct model_namespace *model_namespace_get(const struct model *m, const char *name)
{
	return hashmap_get(&m->namespaces, name);
}

const struct model_pod *model_pod_get(const struct model *m, const char *ns, const char *name)
{
	const char *ins = strpool_lookup(&m->pool, ns);
	size_t slot;

	if (!ins)
		return NULL;
	slot = podtable_find(&m->pods, ins, name, model_pod_hash(ins, name));
	return slot != SIZE_MAX ? slot_obj(m->pods.slots[slot]) : NULL;
}

const struct model_policy *model_policy_get(const struct model *m, const char *ns, const char *name)
{
	_cleanup_(freep) char *key = NULL;

	if (asprintf(&key, "%s/%s", ns, name) < 0)
		return NULL;
	return hashmap_get(&m->policies, key);
}

static int cmp_ns_name(const char *ans, const char *aname, const char *bns, const char *bname)
{
	int c = strcmp(ans, bns);
	return c ? c : strcmp(aname, bname);
}

static int pod_cmp(const void *a, const void *b)
{
	const struct model_pod *x = *(void *const *)a, *y = *(void *const *)b;
	return cmp_ns_name(x->ns, x->name, y->ns, y->name);
}

static int policy_cmp(const void *a, const void *b)
{
	const struct model_policy *x = *(void *const *)a, *y = *(void *const *)b;
	return cmp_ns_name(x->ns, x->name, y->ns, y->name);
}

static int service_cmp(const void *a, const void *b)
{
	const struct model_service *x = *(void *const *)a, *y = *(void *const *)b;
	return cmp_ns_name(x->ns, x->name, y->ns, y->name);
}

static int daemonset_cmp(const void *a, const void *b)
{
	const struct model_daemonset *x = *(void *const *)a, *y = *(void *const *)b;
	return cmp_ns_name(x->ns, x->name, y->ns, y->name);
}

static int namespace_cmp(const void *a, const void *b)
{
	const struct model_namespace *x = *(void *const *)a, *y = *(void *const *)b;
	return strcmp(x->name, y->name);
}

/* Sizes l's array for n elements: exactly, unless it is already within an eighth of that. */
static int objlist_size(struct objlist *l, size_t n)
{
	void **v;

	if (l->v.cap >= n && l->v.cap <= n + n / 8)
		return 0;
	v = reallocarray(l->v.items, MAX(n, (size_t)1), sizeof(*v));
	if (!v)
		return l->v.cap >= n ? 0 : -ENOMEM;
	l->v.items = v;
	l->v.cap = MAX(n, (size_t)1);
	return 0;
}

/* Rebuilds a sorted view of a hashmap's values (or, h NULL, of the pods) when dirty. Views are
 * caches: the model is logically const for callers, so the cast is deliberate. On OOM the
 * view is empty. */
static size_t view(const struct model *cm, enum model_kind k, const struct hashmap *h,
		   struct objlist *l, int (*cmp)(const void *, const void *),
		   const void *const **ret)
{
	struct model *m = (struct model *)cm;

	if (m->views_dirty[k]) {
		l->v.n = 0;
		if (objlist_size(l, h ? h->n : m->pods.n) == 0) {
			if (h) {
				HASHMAP_FOREACH (e, h)
					l->v.items[l->v.n++] = e->value;
			} else {
				for (size_t i = 0; i < m->pods.cap; i++)
					if (m->pods.slots[i])
						l->v.items[l->v.n++] = slot_obj(m->pods.slots[i]);
			}
			np_qsort(l->v.items, l->v.n, sizeof(void *), cmp);
			m->views_dirty[k] = false;
		}
	}
	*ret = (const void *const *)l->v.items;
	return l->v.n;
}

size_t model_namespaces(const struct model *m, const struct model_namespace *const **ret)
{
	return view(m, MODEL_NAMESPACE, &m->namespaces, (struct objlist *)&m->all_namespaces,
		    namespace_cmp, (const void *const **)ret);
}

size_t model_pods(const struct model *m, const struct model_pod *const **ret)
{
	return view(m, MODEL_POD, NULL, (struct objlist *)&m->all_pods, pod_cmp,
		    (const void *const **)ret);
}

size_t model_policies(const struct model *m, const struct model_policy *const **ret)
{
	return view(m, MODEL_POLICY, &m->policies, (struct objlist *)&m->all_policies, policy_cmp,
		    (const void *const **)ret);
}

size_t model_services(const struct model *m, const struct model_service *const **ret)
{
	return view(m, MODEL_SERVICE, &m->services, (struct objlist *)&m->all_services, service_cmp,
		    (const void *const **)ret);
}

size_t model_daemonsets(const struct model *m, const struct model_daemonset *const **ret)
{
	return view(m, MODEL_DAEMONSET, &m->daemonsets, (struct objlist *)&m->all_daemonsets,
		    daemonset_cmp, (const void *const **)ret);
}

static size_t sorted_list(const struct hashmap *h, const char *key,
			  int (*cmp)(const void *, const void *), const void *const **ret)
{
	struct objlist *l = hashmap_get(h, key);

	*ret = NULL;
	if (!l)
		return 0;
	if (l->dirty && cmp) {
		np_qsort(l->v.items, l->v.n, sizeof(void *), cmp);
		l->dirty = false;
	}
	*ret = (const void *const *)l->v.items;
	return l->v.n;
}

size_t model_pods_in_namespace(const struct model *m, const char *ns,
			       const struct model_pod *const **ret)
{
	return sorted_list(&m->pods_by_ns, ns, pod_cmp, (const void *const **)ret);
}

size_t model_policies_in_namespace(const struct model *m, const char *ns,
				   const struct model_policy *const **ret)
{
	return sorted_list(&m->policies_by_ns, ns, policy_cmp, (const void *const **)ret);
}

size_t model_pods_with_label(const struct model *m, const char *key, const char *value,
			     const struct model_pod *const **ret)
{
	_cleanup_(freep) char *kv = NULL;
	const char *ikv;

	*ret = NULL;
	if (asprintf(&kv, "%s=%s", key, value) < 0)
		return 0;
	ikv = strpool_lookup(&m->pool, kv);
	if (!ikv)
		return 0;
	return sorted_list(&m->pods_by_label, ikv, NULL, (const void *const **)ret);
}

size_t model_pods_with_key(const struct model *cm, const char *key,
			   const struct model_pod *const **ret)
{
	struct model *m = (struct model *)cm;
	const void *const *values;
	size_t n;

	m->scratch.v.n = 0;
	*ret = NULL;
	n = sorted_list(&m->values_by_key, key, NULL, &values);
	for (size_t i = 0; i < n; i++) {
		struct objlist *l = hashmap_get(&m->pods_by_label, values[i]);
		if (!l)
			continue;
		if (VEC_RESERVE(&m->scratch.v, l->v.n) < 0)
			return 0;
		memcpy(m->scratch.v.items + m->scratch.v.n, l->v.items, l->v.n * sizeof(void *));
		m->scratch.v.n += l->v.n;
	}
	*ret = (const struct model_pod *const *)m->scratch.v.items;
	return m->scratch.v.n;
}

size_t model_pods_on_node(const struct model *cm, const char *node,
			  const struct model_pod *const **ret)
{
	struct model *m = (struct model *)cm;
	const struct model_pod *const *all;
	const char *inode = strpool_lookup(&m->pool, node);
	size_t n;

	*ret = NULL;
	if (!inode)
		return 0;
	if (m->node_cache_name != inode || m->node_cache_gen != m->gen ||
	    m->views_dirty[MODEL_POD]) {
		m->node_cache.v.n = 0;
		n = model_pods(m, &all);
		for (size_t i = 0; i < n; i++)
			if (all[i]->node == inode && VEC_PUSH(&m->node_cache.v, (void *)all[i]) < 0)
				return 0;
		m->node_cache_name = inode;
		m->node_cache_gen = m->gen;
	}
	*ret = (const struct model_pod *const *)m->node_cache.v.items;
	return m->node_cache.v.n;
}

static np_u128 by_ip_addr(uintptr_t e)
{
	const struct model_pod *p = (const struct model_pod *)(e & ~(uintptr_t)1);

	return p->ips[e & 1];
}

static int by_ip_cmp(const void *a, const void *b)
{
	np_u128 x = by_ip_addr(*(const uintptr_t *)a), y = by_ip_addr(*(const uintptr_t *)b);

	return x < y ? -1 : x > y;
}

const struct model_pod *model_pod_by_ip(const struct model *cm, np_u128 ip)
{
	struct model *m = (struct model *)cm;
	size_t lo = 0, hi;

	if (m->by_ip_dirty) {
		const struct model_pod *const *all;
		size_t n = model_pods(m, &all), k = 0;

		for (size_t i = 0; i < n; i++)
			if (model_pod_policy_applies(all[i]))
				k += all[i]->n_ips;
		free(m->by_ip);
		m->n_by_ip = 0;
		m->by_ip = calloc(k + 1, sizeof(*m->by_ip));
		if (!m->by_ip)
			return NULL;
		k = 0;
		/* Pods are malloc'ed, so their addresses are even: the low bit holds the index of
		 * the address (at most two). */
		for (size_t i = 0; i < n; i++)
			if (model_pod_policy_applies(all[i]))
				for (unsigned j = 0; j < all[i]->n_ips; j++)
					m->by_ip[k++] = (uintptr_t)all[i] | j;
		if (k > 1)
			np_qsort(m->by_ip, k, sizeof(*m->by_ip), by_ip_cmp);
		m->n_by_ip = k;
		m->by_ip_dirty = false;
	}
	hi = m->n_by_ip;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (by_ip_addr(m->by_ip[mid]) < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->n_by_ip && by_ip_addr(m->by_ip[lo]) == ip
		       ? (const struct model_pod *)(m->by_ip[lo] & ~(uintptr_t)1)
		       : NULL;
}

size_t model_memory_usage(const struct model *m)
{
	size_t b = m->pool.bytes + m->bytes;
	const struct hashmap *maps[] = { &m->namespaces,    &m->policies,	&m->services,
					 &m->daemonsets,    &m->pods_by_ns,	&m->pods_by_label,
					 &m->values_by_key, &m->policies_by_ns, &m->pool.map };

	for (size_t i = 0; i < ELEMENTSOF(maps); i++)
		b += maps[i]->cap * sizeof(struct hashmap_entry);
	b += (m->pods.cap + m->blobs.cap) * sizeof(uintptr_t);
	for (size_t i = 0; i < m->pods.cap; i++)
		if (m->pods.slots[i])
			b += pod_alloc_size(slot_obj(m->pods.slots[i]));
	HASHMAP_FOREACH (e, &m->pods_by_label)
		b += sizeof(struct objlist) + ((struct objlist *)e->value)->v.cap * sizeof(void *);
	HASHMAP_FOREACH (e, &m->pods_by_ns)
		b += sizeof(struct objlist) + ((struct objlist *)e->value)->v.cap * sizeof(void *);
	b += m->all_pods.v.cap * sizeof(void *) + m->n_by_ip * sizeof(*m->by_ip);
	return b;
}
