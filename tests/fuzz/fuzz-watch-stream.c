/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A watch stream from the API server: chunk splitting, event decoding, objects into the model.
 * The first byte chooses the chunk size, so the same stream is also tried split differently.
 * The same bytes are also decoded as a LIST answer, item by item. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_value(void *userdata, json_t *ev)
{
	struct model *m = userdata;
	struct np_error err = { 0 };
	enum k8s_watch_type type;
	json_t *obj;

	if (k8s_watch_event_parse(ev, &type, &obj, &err) < 0)
		return -EBADMSG;
	if (type == K8S_WATCH_BOOKMARK || type == K8S_WATCH_ERROR)
		return 0;
	(void)model_apply_json(m, obj, MODEL_POD, type == K8S_WATCH_DELETED, &err);
	return 0;
}

static int list_item(void *userdata, json_t *item)
{
	struct np_error err = { 0 };

	(void)model_apply_json(userdata, item, MODEL_POLICY, false, &err);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(model_freep) struct model *m = NULL;
	struct k8s_stream s;
	struct np_error err = { 0 };
	size_t chunk;

	if (size < 1 || size > 1 << 20 || model_new(&m) < 0)
		return 0;
	chunk = (size_t)data[0] + 1;
	data++;
	size--;
	k8s_stream_init(&s, 64 << 10);
	for (size_t off = 0; off < size; off += chunk)
		if (k8s_stream_feed(&s, data + off, MIN(chunk, size - off), on_value, m, &err) < 0)
			break;
	(void)k8s_stream_pending(&s);
	k8s_stream_done(&s);

	{
		_cleanup_(freep) char *copy = malloc(size + 1);
		json_t *md = NULL;

		if (!copy)
			return 0;
		memcpy(copy, data, size);
		if (k8s_list_parse(copy, size, list_item, m, &md, &err) == 0)
			json_decref(md);
	}
	return 0;
}
