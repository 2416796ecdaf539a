/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * rtnetlink dumps (routes, links, policy routing rules) into the route table the audit uses to
 * find interfaces (lib/fw/rtable.c), then every query of the table on what was parsed. The input
 * is a buffer of netlink messages as the kernel sends them for RTM_GETROUTE/GETLINK/GETRULE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw/rtable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(fw_rtable_freep) struct fw_rtable *t = NULL;
	struct np_iset local = { 0 };
	const struct fw_route *routes;
	np_u128 *cuts = NULL;
	size_t n, n_cuts = 0;
	void *buf;

	if (size > 1 << 20)
		return 0;
	/* An exactly sized, aligned copy: ASan sees every read past the messages. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (fw_rtable_parse_dump(buf, size, &t) < 0) {
		free(buf);
		return 0;
	}
	free(buf);
	n = fw_rtable_routes(t, &routes);
	for (size_t i = 0; i < n; i++) {
		const struct fw_route *r = fw_rtable_lookup(t, routes[i].lo);

		/* A route found for an address covers it. (IPv6 routes inside ::ffff:0:0/96 are
		 * not found for the IPv4 addresses mapped there: the kernel keeps the families
		 * apart.) */
		if (r && (r->lo > routes[i].lo || r->hi < routes[i].lo))
			abort();
		(void)fw_rtable_lookup(t, routes[i].hi);
		(void)fw_rtable_ifindex(t, routes[i].oifname);
	}
	if (fw_rtable_cuts(t, AF_INET, &cuts, &n_cuts) == 0)
		free(cuts);
	cuts = NULL;
	if (fw_rtable_cuts(t, AF_INET6, &cuts, &n_cuts) == 0)
		free(cuts);
	(void)fw_rtable_local_addrs(t, &local);
	np_iset_done(&local);
	(void)fw_rtable_has_policy_rules(t);
	return 0;
}
