/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kubernetes JSON input (kubectl dumps, API objects) into the model. */
#include <stdint.h>
#include <stdlib.h>

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(model_freep) struct model *m = NULL;
	struct np_error e = { 0 };
	const struct model_pod *const *pods;
	size_t n;

	if (size > 1 << 20 || model_new(&m) < 0)
		return 0;
	(void)model_load_buffer(m, (const char *)data, size, "fuzz", &e);
	/* Exercise the indexes on whatever was loaded. */
	n = model_pods(m, &pods);
	for (size_t i = 0; i < n; i++) {
		const struct model_pod *const *x;

		(void)model_pods_in_namespace(m, pods[i]->ns, &x);
		if (pods[i]->n_ips)
			(void)model_pod_by_ip(m, pods[i]->ips[0]);
	}
	return 0;
}
