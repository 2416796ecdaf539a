/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Drives the nftables reader alone (fw_nft_read()) in the current network namespace, for
 * netns/nft-read.sh and measurements:
 *   nft-read-dump            the IR as text, then "counts SOURCE ..." and "stats ..." lines
 *   nft-read-dump --json     the IR as JSON
 *   nft-read-dump --loop N   N reads; one line each: "read I rules=R sets=S elements=E attempts=A"
 *   nft-read-dump --bench N  N reads; "bench reads=N min_usec=.. median_usec=.."
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fw/nft.h"

static unsigned long long now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

static int read_once(struct ir_ruleset **ret, struct fw_nft_stats *st, unsigned long long *usec)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	unsigned long long t;
	int r;

	r = ir_ruleset_new(&rs);
	if (r < 0)
		return r;
	t = now_usec();
	r = fw_nft_read(rs, NULL, st);
	*usec = now_usec() - t;
	if (r < 0)
		return r;
	*ret = TAKE_PTR(rs);
	return 0;
}

static int cmp_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct strbuf out = { 0 };
	struct fw_nft_stats st;
	unsigned long long usec;
	struct ir_stats is;
	int r;

	if (argc > 2 && (streq(argv[1], "--loop") || streq(argv[1], "--bench"))) {
		unsigned n = (unsigned)atoi(argv[2]);
		unsigned long long *t = calloc(n ? n : 1, sizeof(*t));

		if (!t)
			return 1;
		for (unsigned i = 0; i < n; i++) {
			_cleanup_(ir_ruleset_freep) struct ir_ruleset *x = NULL;

			r = read_once(&x, &st, &t[i]);
			if (r < 0) {
				fprintf(stderr, "fw_nft_read: %s\n", np_strerror(r));
				free(t);
				return 1;
			}
			if (streq(argv[1], "--loop"))
				printf("read %u rules=%u sets=%u elements=%u attempts=%u\n", i,
				       st.rules, st.sets, st.elements, st.attempts);
		}
		if (streq(argv[1], "--bench")) {
			qsort(t, n, sizeof(*t), cmp_ull);
			printf("bench reads=%u min_usec=%llu median_usec=%llu\n", n, n ? t[0] : 0,
			       n ? t[n / 2] : 0);
		}
		free(t);
		return 0;
	}

	r = read_once(&rs, &st, &usec);
	if (r < 0) {
		fprintf(stderr, "fw_nft_read: %s\n", np_strerror(r));
		return 1;
	}
	ir_ruleset_link(rs);
	if (argc > 1 && streq(argv[1], "--json"))
		r = ir_ruleset_render_json(rs, &out);
	else
		r = ir_ruleset_render(rs, &out);
	if (r < 0)
		return 1;
	fputs(strbuf_str(&out), stdout);
	if (argc > 1 && streq(argv[1], "--json")) {
		strbuf_done(&out);
		return 0;
	}
	ir_ruleset_stats(rs, &is);
	for (int s = IR_SRC_NFT; s <= IR_SRC_IPTABLES_NFT; s++) {
		const struct ir_counts *c = &is.src[s];

		printf("counts %s tables=%u chains=%u base=%u rules=%u sets=%u elements=%u "
		       "opaque_preds=%u opaque_stmts=%u opaque_rules=%u\n",
		       ir_source_to_string(s), c->tables, c->chains, c->base_chains, c->rules,
		       c->sets, c->elements, c->opaque_preds, c->opaque_stmts, c->opaque_rules);
	}
	printf("stats attempts=%u generation=%u messages=%u usec=%llu\n", st.attempts,
	       st.generation, st.messages, usec);
	strbuf_done(&out);
	return 0;
}
