/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reads the live packet filter of the current network namespace with fw_read_all() and prints
 * the IR (text, or --json), then one line of counts per source for tests to check:
 *   counts SOURCE tables=N chains=N base=N rules=N sets=N elements=N opaque_preds=N
 *          opaque_stmts=N opaque_rules=N
 *   counts ipsets sets=N elements=N
 * With --route ADDR...: prints "ADDR IFNAME" per address (fw_route_get()), or "ADDR error
 * MESSAGE", and then the links "link INDEX NAME" (fw_links_read()).
 */
#include <stdio.h>
#include <string.h>

#include "fw/fw.h"
#include "ir/ir.h"

static int route_main(int argc, char **argv)
{
	_cleanup_(fw_links_freep) struct fw_links *links = NULL;
	int r;

	for (int i = 2; i < argc; i++) {
		_cleanup_(freep) char *name = NULL;
		np_u128 a;
		int fam = np_addr_parse(argv[i], &a);

		if (fam < 0) {
			fprintf(stderr, "bad address %s\n", argv[i]);
			return 1;
		}
		r = fw_route_get(fam, a, &name);
		if (r < 0)
			printf("%s error %s\n", argv[i], np_strerror(r));
		else
			printf("%s %s %d\n", argv[i], name, r);
	}
	r = fw_links_read(&links);
	if (r < 0) {
		fprintf(stderr, "fw_links_read: %s\n", np_strerror(r));
		return 1;
	}
	for (size_t i = 0; i < fw_links_count(links); i++) {
		const struct fw_link *l = fw_links_at(links, i);

		if (fw_links_index(links, l->name) != l->index ||
		    !streq(fw_links_name(links, l->index), l->name)) {
			fprintf(stderr, "link map inconsistent at %s\n", l->name);
			return 1;
		}
		printf("link %d %s\n", l->index, l->name);
	}
	return 0;
}

int main(int argc, char **argv)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct strbuf out = { 0 };
	struct fw_read_stats st;
	struct ir_stats is;
	bool json = argc > 1 && streq(argv[1], "--json");
	int r;

	if (argc > 1 && streq(argv[1], "--route"))
		return route_main(argc, argv);
	if (argc > 1 && streq(argv[1], "--fingerprint")) {
		uint64_t h;

		r = fw_legacy_fingerprint(&h);
		if (r < 0) {
			fprintf(stderr, "fw_legacy_fingerprint: %s\n", np_strerror(r));
			return 1;
		}
		printf("%016llx\n", (unsigned long long)h);
		return 0;
	}
	r = fw_read_all(NULL, &rs, &st);
	if (r < 0) {
		fprintf(stderr, "fw_read_all: %s\n", np_strerror(r));
		return 1;
	}
	ir_ruleset_link(rs);
	r = json ? ir_ruleset_render_json(rs, &out) : ir_ruleset_render(rs, &out);
	if (r < 0) {
		fprintf(stderr, "render: %s\n", np_strerror(r));
		return 1;
	}
	fputs(strbuf_str(&out), stdout);
	if (!json) {
		ir_ruleset_stats(rs, &is);
		for (int s = 0; s < _IR_SRC_MAX; s++) {
			const struct ir_counts *c = &is.src[s];

			printf("counts %s read=%d tables=%u chains=%u base=%u rules=%u sets=%u "
			       "elements=%u opaque_preds=%u opaque_stmts=%u opaque_rules=%u\n",
			       ir_source_to_string(s), rs->sources[s].read, c->tables, c->chains,
			       c->base_chains, c->rules, c->sets, c->elements, c->opaque_preds,
			       c->opaque_stmts, c->opaque_rules);
		}
		printf("counts ipsets sets=%u elements=%u\n", is.ipsets, is.ipset_elements);
		printf("usec ipsets=%llu nft=%llu legacy=%llu total=%llu\n",
		       (unsigned long long)st.usec_ipsets, (unsigned long long)st.usec_nft,
		       (unsigned long long)st.usec_legacy, (unsigned long long)st.usec_total);
	}
	strbuf_done(&out);
	return 0;
}
