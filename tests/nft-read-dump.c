/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Drives the nftables reader alone (fw_nft_read()) in the current network namespace, for
 * netns/nft-read.sh and measurements:
 *   nft-read-dump            the IR as text, then "counts SOURCE ..." and "stats ..." lines
 *   nft-read-dump --json     the IR as JSON
 *   nft-read-dump --loop N   N reads; one line each: "read I rules=R sets=S elements=E attempts=A"
 *   nft-read-dump --bench N  N reads; "bench reads=N min_usec=.. median_usec=.."
 *   nft-read-dump --floor N  N bare dumps of the same data (generation, tables, chains, sets,
 *                            elements of each set, rules, generation; received, not parsed):
 *                            "floor reads=N min_usec=.. median_usec=.. bytes=.. messages=.."
 */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>

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

/* --- the floor: the same dumps, only received --- */

struct floor {
	struct mnl_socket *nl;
	uint32_t seq;
	unsigned long long bytes, messages;
	char names[2][4096][NFT_NAME_MAXLEN];
	uint8_t families[4096];
	unsigned nsets;
	char buf[1 << 16];
};

static int set_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_get_type(a) <= NFTA_SET_MAX)
		tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static int floor_dump(struct floor *f, uint16_t type, uint16_t family, uint16_t flags,
		      const char *table, const char *set)
{
	char req[512];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(req, type, family, flags, ++f->seq);

	if (table) {
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	}
	if (mnl_socket_sendto(f->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		int len = (int)mnl_socket_recvfrom(f->nl, f->buf, sizeof(f->buf));
		if (len < 0)
			return -errno;
		f->bytes += (unsigned)len;
		for (const struct nlmsghdr *h = (void *)f->buf; mnl_nlmsg_ok(h, len);
		     h = mnl_nlmsg_next(h, &len)) {
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
				return 0;
			f->messages++;
			if (type == NFT_MSG_GETSET && f->nsets < 4096) {
				const struct nlattr *tb[NFTA_SET_MAX + 1] = { 0 };
				mnl_attr_parse(h, sizeof(struct nfgenmsg), set_attr_cb, tb);
				if (!tb[NFTA_SET_TABLE] || !tb[NFTA_SET_NAME])
					return -EBADMSG;
				snprintf(f->names[0][f->nsets], NFT_NAME_MAXLEN, "%s",
					 mnl_attr_get_str(tb[NFTA_SET_TABLE]));
				snprintf(f->names[1][f->nsets], NFT_NAME_MAXLEN, "%s",
					 mnl_attr_get_str(tb[NFTA_SET_NAME]));
				f->families[f->nsets++] =
					((const struct nfgenmsg *)mnl_nlmsg_get_payload(h))
						->nfgen_family;
			}
		}
	}
}

static int floor_once(struct floor *f)
{
	int size = 8 << 20, r;

	f->nsets = 0;
	f->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!f->nl || mnl_socket_bind(f->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	setsockopt(mnl_socket_get_fd(f->nl), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	r = floor_dump(f, NFT_MSG_GETGEN, NFPROTO_UNSPEC, NLM_F_ACK, NULL, NULL);
	if (r >= 0)
		r = floor_dump(f, NFT_MSG_GETTABLE, NFPROTO_UNSPEC, NLM_F_DUMP, NULL, NULL);
	if (r >= 0)
		r = floor_dump(f, NFT_MSG_GETCHAIN, NFPROTO_UNSPEC, NLM_F_DUMP, NULL, NULL);
	if (r >= 0)
		r = floor_dump(f, NFT_MSG_GETSET, NFPROTO_UNSPEC, NLM_F_DUMP, NULL, NULL);
	for (unsigned i = 0; i < f->nsets && r >= 0; i++)
		r = floor_dump(f, NFT_MSG_GETSETELEM, f->families[i], NLM_F_DUMP, f->names[0][i],
			       f->names[1][i]);
	if (r >= 0)
		r = floor_dump(f, NFT_MSG_GETRULE, NFPROTO_UNSPEC, NLM_F_DUMP, NULL, NULL);
	if (r >= 0)
		r = floor_dump(f, NFT_MSG_GETGEN, NFPROTO_UNSPEC, NLM_F_ACK, NULL, NULL);
	mnl_socket_close(f->nl);
	return r;
}

int main(int argc, char **argv)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct strbuf out = { 0 };
	struct fw_nft_stats st;
	unsigned long long usec;
	struct ir_stats is;
	int r;

	if (argc > 2 && streq(argv[1], "--floor")) {
		unsigned n = (unsigned)atoi(argv[2]);
		unsigned long long *t = calloc(n ? n : 1, sizeof(*t));
		struct floor *f = calloc(1, sizeof(*f));

		if (!t || !f)
			return 1;
		for (unsigned i = 0; i < n; i++) {
			unsigned long long t0 = now_usec();
			f->bytes = f->messages = 0;
			r = floor_once(f);
			t[i] = now_usec() - t0;
			if (r < 0) {
				fprintf(stderr, "floor: %s\n", np_strerror(r));
				return 1;
			}
		}
		qsort(t, n, sizeof(*t), cmp_ull);
		printf("floor reads=%u min_usec=%llu median_usec=%llu bytes=%llu messages=%llu\n",
		       n, n ? t[0] : 0, n ? t[n / 2] : 0, f->bytes, f->messages);
		free(t);
		free(f);
		return 0;
	}
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
