/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fw_read_all(): every source of the current network namespace into one IR ruleset.
 *
 * The ipsets are read first: the xtables `set` match carries a kernel set index, resolved to a
 * name (and the set's type, which decides the key fields) from that dump. nftables (native and
 * iptables-nft) and iptables-legacy follow; the kernel's copies of the iptables-legacy tables
 * are fetched on another thread meanwhile (the two dumps take about as long, mostly in the
 * kernel), and translated once the ipsets are known. Each reader is consistent on its own (nft
 * re-reads on a generation change; libiptc copies each table atomically); there is no transaction
 * across sources, as the kernel offers none.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "ir/ir.h"
#include "fw.h"
#include "nft.h"

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A subsystem the kernel does not offer in this namespace, as opposed to a failed read. */
static bool not_available(int r)
{
	return r == -EPROTONOSUPPORT || r == -EAFNOSUPPORT || r == -EOPNOTSUPP;
}

/* The iptables-legacy tables fetched on another thread. */
struct fetch_job {
	pthread_t th;
	bool started;
	struct fw_iptc_fetched *f; /* NULL: the fetch failed (no memory); read without */
};

static void *fetch_main(void *p)
{
	struct fetch_job *j = p;

	if (fw_iptc_fetch(&j->f) < 0)
		j->f = NULL;
	return NULL;
}

/* Waits for the fetch (every way out of fw_read_all() passes here) and frees what is left. */
static void fetch_done(struct fetch_job *j)
{
	if (j->started)
		pthread_join(j->th, NULL);
	j->started = false;
	j->f = fw_iptc_fetched_free(j->f);
}

int fw_read_all(const struct fw_read_opts *opts, struct ir_ruleset **ret,
		struct fw_read_stats *ret_stats)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	_cleanup_(fw_ipsets_freep) struct fw_ipsets *ipsets = NULL;
	_cleanup_(fetch_done) struct fetch_job fetch = { 0 };
	static const struct fw_read_opts none = { 0 };
	struct fw_read_stats st = { 0 };
	uint64_t t0 = now_usec(), t;
	int r;

	if (!opts)
		opts = &none;
	r = ir_ruleset_new(&rs);
	if (r < 0)
		return r;
	/* Without a thread the tables are fetched where they are read. */
	if (!opts->skip_legacy && !opts->skip_ipsets)
		fetch.started = pthread_create(&fetch.th, NULL, fetch_main, &fetch) == 0;

	t = now_usec();
	if (!opts->skip_ipsets) {
		/* the elements go straight into rs; ipsets keeps names and types for the set
		 * matches */
		r = fw_ipsets_read_into(rs, &ipsets);
		if (not_available(r))
			r = ir_ruleset_set_source_info(rs, _IR_SRC_MAX, false,
						       "ipset netlink not available");
		else if (r >= 0) {
			st.ipsets = (unsigned)ipsets->n;
			for (size_t i = 0; i < ipsets->n; i++)
				st.ipset_elements += ipsets->sets[i]->n_elems;
		}
		if (r < 0)
			return r;
	} else {
		r = ir_ruleset_set_source_info(rs, _IR_SRC_MAX, false, "not requested");
		if (r < 0)
			return r;
	}
	st.usec_ipsets = now_usec() - t;

	t = now_usec();
	if (!opts->skip_nft) {
		struct fw_nft_opts no = {
			.set_name = ipsets ? fw_ipsets_xt_name : NULL,
			.set_name_userdata = ipsets,
		};
		struct fw_nft_stats ns = { 0 };

		r = fw_nft_read(rs, &no, &ns);
		if (not_available(r)) {
			r = ir_ruleset_set_source_info(rs, IR_SRC_NFT, false,
						       "nf_tables not available");
			if (r >= 0)
				r = ir_ruleset_set_source_info(rs, IR_SRC_IPTABLES_NFT, false,
							       "nf_tables not available");
		}
		if (r < 0)
			return r;
		st.nft_attempts = ns.attempts;
	}
	st.usec_nft = now_usec() - t;

	t = now_usec();
	if (!opts->skip_legacy) {
		struct strbuf note = { 0 };
		int n4, n6;

		if (fetch.started) {
			pthread_join(fetch.th, NULL);
			fetch.started = false;
		}
		n4 = fw_iptc_read_fetched(rs, AF_INET, ipsets, &note, fetch.f);
		if (n4 < 0) {
			strbuf_done(&note);
			return n4;
		}
		n6 = fw_iptc_read_fetched(rs, AF_INET6, ipsets, &note, fetch.f);
		if (n6 < 0) {
			strbuf_done(&note);
			return n6;
		}
		st.legacy_tables = (unsigned)(n4 + n6);
		if (note.oom) {
			strbuf_done(&note);
			return -ENOMEM;
		}
		r = ir_ruleset_set_source_info(
			rs, IR_SRC_IPTABLES_LEGACY, n4 + n6 > 0,
			n4 + n6 > 0 ? strbuf_str(&note)
				    : "no iptables-legacy tables exist in this namespace");
		strbuf_done(&note);
		if (r < 0)
			return r;
	}
	st.usec_legacy = now_usec() - t;
	st.usec_total = now_usec() - t0;

	if (ret_stats)
		*ret_stats = st;
	*ret = TAKE_PTR(rs);
	return 0;
}
