/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The writes later components need: DELETE a pod with a uid precondition, POST an Event. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "k8s-internal.h"

/* A DNS-1123 name or label as the API validates them: no character can leave the path. */
static bool name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '.'))
			return false;
	return true;
}

static int result_of(CURLcode cc, long code)
{
	if (code == 0) {
		switch (cc) {
		case CURLE_COULDNT_CONNECT:
			return -ECONNREFUSED;
		case CURLE_OPERATION_TIMEDOUT:
			return -ETIMEDOUT;
		case CURLE_COULDNT_RESOLVE_HOST:
			return -EHOSTUNREACH;
		case CURLE_OUT_OF_MEMORY:
			return -ENOMEM;
		default:
			return -EIO;
		}
	}
	if (code >= 200 && code < 300)
		return 0;
	switch (code) {
	case 404:
		return -ENOENT;
	case 409:
		return -ESTALE;
	case 401:
	case 403:
		return -EACCES;
	default:
		return -EIO;
	}
}

static void write_done(struct k8s_req *r, CURLcode cc, long code)
{
	char buf[512];
	const char *msg = NULL;
	int result = result_of(cc, code);

	if (r->abort_error)
		result = r->abort_error;
	if (result < 0 && code != 0 && r->body.len)
		msg = k8s_status_message(r->body.s, r->body.len, buf, sizeof(buf));
	if (!msg && result < 0 && code == 0)
		msg = r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc);
	if (r->wdone) {
		r->c->in_callback++;
		r->wdone(r->wuserdata, result, code, msg ? msg : "");
		r->c->in_callback--;
	}
}

static int write_start(struct k8s_client *c, const char *path, const char *method, char **body,
		       k8s_write_done_fn done, void *userdata)
{
	struct k8s_req *r;
	int e;

	e = k8s_req_new(c, path, false, &r);
	if (e < 0) {
		free(*body);
		*body = NULL;
		return e;
	}
	r->post = TAKE_PTR(*body);
	r->body_max = 1u << 20;
	r->done = write_done;
	r->wdone = done;
	r->wuserdata = userdata;
	curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->post);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(r->post));
	e = k8s_req_start(c, r);
	k8s_client_rearm(c);
	return e;
}

int k8s_pod_delete(struct k8s_client *c, const char *ns, const char *name, const char *uid,
		   k8s_write_done_fn done, void *userdata)
{
	_cleanup_(freep) char *path = NULL;
	char *body;
	json_t *j;

	if (!name_valid(ns) || !name_valid(name) || !uid || !*uid)
		return -EINVAL;
	if (asprintf(&path, "/api/v1/namespaces/%s/pods/%s", ns, name) < 0)
		return -ENOMEM;
	/* DeleteOptions.preconditions.uid: the server answers 409 Conflict when the pod with
	 * this name is another incarnation (a DaemonSet pod recreated since we looked). */
	j = json_pack("{s:s, s:s, s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1",
		      "preconditions", "uid", uid);
	if (!j)
		return -ENOMEM;
	body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!body)
		return -ENOMEM;
	return write_start(c, path, "DELETE", &body, done, userdata);
}

int k8s_event_post(struct k8s_client *c, const char *ns, json_t *ev, k8s_write_done_fn done,
		   void *userdata)
{
	_cleanup_(freep) char *path = NULL;
	json_t *copy;
	char *body;

	if (!name_valid(ns) || !json_is_object(ev))
		return -EINVAL;
	if (asprintf(&path, "/api/v1/namespaces/%s/events", ns) < 0)
		return -ENOMEM;
	copy = json_copy(ev);
	if (!copy)
		return -ENOMEM;
	if (!json_object_get(copy, "apiVersion"))
		json_object_set_new(copy, "apiVersion", json_string("v1"));
	if (!json_object_get(copy, "kind"))
		json_object_set_new(copy, "kind", json_string("Event"));
	body = json_dumps(copy, JSON_COMPACT);
	json_decref(copy);
	if (!body)
		return -ENOMEM;
	return write_start(c, path, "POST", &body, done, userdata);
}
