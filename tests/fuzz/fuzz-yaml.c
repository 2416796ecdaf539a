/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* YAML input (manifests, kubectl -o yaml) into the model. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(model_freep) struct model *m = NULL;
	struct np_error e = { 0 };
	const struct model_policy *const *pols;

	if (size > 1 << 20 || model_new(&m) < 0)
		return 0;
	(void)model_load_buffer(m, (const char *)data, size, "fuzz", &e);
	(void)model_policies(m, &pols);
	return 0;
}
