/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

/* A list of object pointers with a lazily restored order. */
struct objlist {
	VEC(void *) v;
	bool dirty; /* order needs restoring before it is handed out */
};

/* A table of objects by their hash (pods by namespace and name, shared data by contents);
 * see model.c. */
struct otable {
	uintptr_t *slots;
	size_t cap; /* power of two, or 0 */
	size_t n;
	size_t hash_off; /* where an object holds its uint32_t hash */
};

/* Shared, reference-counted read-only data of pods and namespaces: pods of one workload have
 * equal label arrays, container port arrays and origins. The payload follows the header. */
enum blob_kind {
	BLOB_LABELS,
	BLOB_PORTS,
	BLOB_ORIGIN,
};

struct blob {
	uint32_t hash;
	uint32_t refs;
	uint32_t size; /* of the payload */
	uint8_t kind; /* enum blob_kind */
};

/* Where the parts of a pod's allocation are: offsets from the struct, and the size. */
struct pod_layout {
	size_t ips, name, uid, size;
};

struct model {
	struct strpool pool;
	uint64_t gen;

	struct hashmap namespaces; /* name -> struct model_namespace * */
	struct otable pods; /* struct model_pod by (namespace, name) */
	struct hashmap policies; /* "ns/name" -> struct model_policy * */
	struct hashmap services; /* "ns/name" -> struct model_service * */
	struct hashmap daemonsets; /* "ns/name" -> struct model_daemonset * */
	struct otable blobs; /* struct blob by contents */

	struct hashmap pods_by_ns; /* ns -> struct objlist of pods, sorted by name */
	struct hashmap pods_by_label; /* interned "k=v" -> struct objlist of pods */
	struct hashmap values_by_key; /* interned key -> struct objlist of interned "k=v" */
	struct hashmap policies_by_ns; /* ns -> struct objlist of policies, sorted by name */

	/* Lazily rebuilt views, invalidated on change. */
	struct objlist all_namespaces, all_pods, all_policies, all_services, all_daemonsets;
	bool views_dirty[_MODEL_KIND_MAX];
	/* Pods with policy applying, by address: (pod pointer | index of the address), sorted by
	 * address; 8 bytes an address. */
	uintptr_t *by_ip;
	size_t n_by_ip;
	bool by_ip_dirty;
	const char *node_cache_name;
	struct objlist node_cache;
	uint64_t node_cache_gen;
	struct objlist scratch; /* model_pods_with_key() result */

	uint32_t next_ns_id, next_policy_id;
	VEC(struct np_error) diags;
	size_t bytes; /* approximate memory held by objects */
};

/* decode.c: JSON object -> model object. Return 0 and a new object, or -EINVAL/-EBADMSG. */
int model_decode_namespace(struct model *m, json_t *o, struct model_namespace **ret,
			   struct np_error *e);
int model_decode_pod(struct model *m, json_t *o, struct model_pod **ret, struct np_error *e);
/* decode.c: a core/v1 Pod message in protobuf (k8s-pod.proto) -> model pod, with the same
 * validation as the JSON decode. Returns 0 and a new pod, or -EBADMSG (not a Pod message) or
 * -EINVAL (a field the model rejects) with *e, or -ENOMEM. */
int model_decode_pod_protobuf(struct model *m, const void *buf, size_t len, struct model_pod **ret,
			      struct np_error *e);
/* model.c: adds or replaces pod p (takes ownership, also on failure). Returns 0 or -ENOMEM. */
int model_pod_put(struct model *m, struct model_pod *p);
int model_decode_policy(struct model *m, json_t *o, struct model_policy **ret, struct np_error *e);
int model_decode_service(struct model *m, json_t *o, struct model_service **ret,
			 struct np_error *e);
int model_decode_daemonset(struct model *m, json_t *o, struct model_daemonset **ret,
			   struct np_error *e);
/* Returns the object's identity for errors ("pod ns/name") in buf. */
const char *model_object_ident(json_t *o, const char *kind, char *buf, size_t size);

/* model.c helpers used by decode.c */
/* Returns the hash of a pod's (namespace, name), as model_pod.hash holds it. */
uint32_t model_pod_hash(const char *ns, const char *name);
/* Fills *ret with the layout of a pod with n_ips addresses and these string lengths (uid_size
 * is 0 for a UUID, else the uid's length plus its NUL). Addresses get at least one slot. */
void model_pod_layout(size_t n_ips, size_t name_len, size_t uid_size, struct pod_layout *ret);
const char *model_intern(struct model *m, const char *s);
/* Fills *ret with the model's shared copy of the n labels at v (empty for 0); returns 0 or
 * -ENOMEM. */
int model_labelset_get(struct model *m, struct model_label *v, uint32_t n,
		       struct model_labels *ret);
/* Drops the reference of *l on its shared array and empties it. */
void model_labelset_put(struct model *m, struct model_labels *l);
/* Returns the model's shared copy of the n (> 0) ports at v, or NULL on OOM. */
struct model_container_port *model_ports_get(struct model *m, const struct model_container_port *v,
					     uint16_t n);
/* Returns the model's shared copy of *o, or NULL on OOM. */
const struct model_pod_origin *model_origin_get(struct model *m, const struct model_pod_origin *o);
/* Drops a reference taken by model_ports_get() or model_origin_get() (NULL: none). */
void model_blob_put(struct model *m, const void *payload);

void model_namespace_free(struct model *m, struct model_namespace *n);
void model_pod_free(struct model *m, struct model_pod *p);
void model_policy_free(struct model_policy *p);
void model_service_free(struct model_service *s);
void model_daemonset_free(struct model_daemonset *d);

/* yaml.c: parses every YAML document of buf into a JSON array of documents. */
int model_yaml_parse(const char *buf, size_t len, const char *name, json_t **ret,
		     struct np_error *e);
