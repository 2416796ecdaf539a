/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

/* A list of object pointers with a lazily restored order. */
struct objlist {
	VEC(void *) v;
	bool dirty; /* order needs restoring before it is handed out */
};

/* Shared, reference-counted label arrays: pods of one workload carry identical labels. */
struct labelset {
	struct model_labels labels;
	unsigned refs;
	char key[]; /* canonical "k=v\\x1f..." form, the hashmap key */
};

struct model {
	struct strpool pool;
	uint64_t gen;

	struct hashmap namespaces; /* name -> struct model_namespace * */
	struct hashmap pods; /* "ns/name" -> struct model_pod * (key inside the pod) */
	struct hashmap policies; /* "ns/name" -> struct model_policy * */
	struct hashmap services; /* "ns/name" -> struct model_service * */
	struct hashmap daemonsets; /* "ns/name" -> struct model_daemonset * */
	struct hashmap labelsets; /* canonical key -> struct labelset * */

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
int model_decode_policy(struct model *m, json_t *o, struct model_policy **ret, struct np_error *e);
int model_decode_service(struct model *m, json_t *o, struct model_service **ret,
			 struct np_error *e);
int model_decode_daemonset(struct model *m, json_t *o, struct model_daemonset **ret,
			   struct np_error *e);
/* Returns the object's identity for errors ("pod ns/name") in buf. */
const char *model_object_ident(json_t *o, const char *kind, char *buf, size_t size);

/* model.c helpers used by decode.c */
const char *model_intern(struct model *m, const char *s);
int model_labelset_get(struct model *m, struct model_label *v, uint32_t n,
		       struct model_labels *ret);
void model_labelset_put(struct model *m, struct model_labels *l);

void model_namespace_free(struct model *m, struct model_namespace *n);
void model_pod_free(struct model *m, struct model_pod *p);
void model_policy_free(struct model_policy *p);
void model_service_free(struct model_service *s);
void model_daemonset_free(struct model_daemonset *d);

/* yaml.c: parses every YAML document of buf into a JSON array of documents. */
int model_yaml_parse(const char *buf, size_t len, const char *name, json_t **ret,
		     struct np_error *e);
