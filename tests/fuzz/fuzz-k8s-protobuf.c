/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A LIST answer in protobuf from the API server: the envelope and the PodList read item by
 * item (lib/k8s/protobuf.c), each Pod decoded into the model (protobuf-c, lib/model/decode.c),
 * and the same bytes read as a protobuf Status (an error answer) and as a protobuf watch stream
 * (length-prefixed WatchEvents), fed in chunks of the size the first byte says. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_item(void *userdata, const void *item, size_t len, const struct k8s_pb_meta *md)
{
	struct np_error err = { 0 };

	if (md) {
		/* what the informer does with the peeked metadata: look at every byte */
		volatile size_t sum = 0;

		for (size_t i = 0; i < md->name.len; i++)
			sum += (uint8_t)md->name.p[i];
		for (size_t i = 0; i < md->ns.len; i++)
			sum += (uint8_t)md->ns.p[i];
		for (size_t i = 0; i < md->rv.len; i++)
			sum += (uint8_t)md->rv.p[i];
	}
	(void)model_apply_pod_protobuf(userdata, item, len, &err);
	return 0;
}

static int on_event(void *userdata, enum k8s_watch_type type, const struct k8s_raw *kind,
		    const void *obj, size_t len, const struct k8s_pb_meta *md)
{
	struct np_error err = { 0 };
	struct k8s_raw msg;
	long code;

	if (type == K8S_WATCH_ERROR)
		return k8s_pb_status(obj, len, &code, &msg) < 0 ? -EBADMSG : 0;
	if (type == K8S_WATCH_ADDED || type == K8S_WATCH_MODIFIED)
		(void)model_apply_pod_protobuf(userdata, obj, len, &err);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(freep) uint8_t *copy = NULL;
	struct k8s_pb_list_meta lm;
	struct np_error err = { 0 };
	char buf[256];

	if (size > 1 << 20 || model_new(&m) < 0)
		return 0;
	/* an exact-size copy, so that a read past the end is caught */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (k8s_pb_list_parse(copy, size, "PodList", on_item, m, &lm, &err) == 0) {
		volatile size_t sum = 0;

		for (size_t i = 0; i < lm.rv.len; i++)
			sum += (uint8_t)lm.rv.p[i];
		for (size_t i = 0; i < lm.cont.len; i++)
			sum += (uint8_t)lm.cont.p[i];
	}
	(void)k8s_pb_status_message(copy, size, buf, sizeof(buf));
	/* the bytes as one Pod message */
	(void)model_apply_pod_protobuf(m, copy, size, &err);
	if (size > 0) {
		struct k8s_pb_stream s;
		size_t chunk = (size_t)copy[0] + 1;

		k8s_pb_stream_init(&s, 64 << 10);
		for (size_t off = 1; off < size; off += chunk)
			if (k8s_pb_stream_feed(&s, copy + off, MIN(chunk, size - off), on_event, m,
					       &err) < 0)
				break;
		(void)k8s_pb_stream_pending(&s);
		k8s_pb_stream_done(&s);
	}
	return 0;
}
