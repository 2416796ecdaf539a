/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A kubeconfig file (YAML or JSON), parsed with libyaml and resolved to one context. */
#include <stdint.h>
#include <stdlib.h>

#include "k8s/k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct k8s_config *c = NULL;
	struct np_error err = { 0 };
	char buf[1024];

	if (size > 1 << 20)
		return 0;
	if (k8s_config_parse_kubeconfig((const char *)data, size, "fuzz", "/dir", NULL, &c, &err) <
	    0)
		(void)np_error_format(&err, buf, sizeof(buf));
	k8s_config_free(c);
	/* and with an explicit context name */
	c = NULL;
	(void)k8s_config_parse_kubeconfig((const char *)data, size, "fuzz", NULL, "dev", &c, &err);
	k8s_config_free(c);
	return 0;
}
