/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Read benchmark: the live packet filter of the current network namespace, read by
 * fw_read_all() and by its parts, against the floor of a bare dump of the same data measured in
 * the same run, and against the tools' own dumps.
 *
 *   floor: libiptc/libip6tc iptc_init() of every existing legacy table with a walk over every
 *          chain and rule (as iptables-save does before printing); the ipset IPSET_CMD_LIST
 *          netlink dump received and framed (mnl_cb_run with an empty callback); the nftables
 *          dumps (tables, chains, sets, the elements of each set, rules) likewise.
 *   read:  fw_ipsets_read_into() (what fw_read_all() does with ipsets), fw_iptc_read() for both
 *          families, and the whole fw_read_all() (ipsets, nft incl. iptables-nft, legacy) into
 *          one IR ruleset.
 *   tools: iptables-legacy-save + ip6tables-legacy-save, ipset save, nft -j list ruleset
 *          (each to /dev/null; only those whose source has data).
 *
 * usage: bench-fw-read [ITERATIONS]   (default 21; medians of CPU time (user + system, so the
 * kernel's side of the dumps counts) in ms, which is steadier than wall time on a busy machine)
 *        bench-fw-read --dump        (the ruleset read, as JSON and text: to compare versions)
 *        bench-fw-read --profile N [all|iptc|ipsets|ipsets-read|nft|floor|floor-iptc|floor-ipset|
 *                                   fingerprint|fingerprint-ipsets]
 * (one part alone, N times, with its user and system time: for `perf record`; fingerprint is
 * the agent's poll of the sources without events, fw_legacy_fingerprint())
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/ipset/ip_set.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "fw/fw.h"
#include "ir/ir.h"
#include "bench.h"

extern char **environ;

#define RECV_SIZE (256u * 1024u)

/* CPU time of this thread (user + system, which includes the kernel's work for our netlink
 * dumps and getsockopt calls): steadier than wall time on a shared machine. */
static double now_ms(void)
{
	return clock_ms(CLOCK_THREAD_CPUTIME_ID);
}

/* CPU time of the process, every thread (fw_read_all() fetches the iptables-legacy tables on
 * a thread of its own), and wall time. */
static double proc_ms(void)
{
	return clock_ms(CLOCK_PROCESS_CPUTIME_ID);
}

static double wall_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static double tv_ms(const struct timeval *tv)
{
	return tv->tv_sec * 1e3 + tv->tv_usec / 1e3;
}

static void check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "bench-fw-read: %s: %s\n", what, np_strerror(r));
		exit(1);
	}
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), dbl_cmp);
	return v[n / 2];
}

/* --- floor: libiptc walk --- */

static volatile unsigned long sink;

static int floor_iptc(void)
{
	static const char *const names[] = { "raw", "mangle", "nat", "filter", "security" };
	int n = 0;

	for (int fam = 0; fam < 2; fam++) {
		char **have = NULL;
		int k = fw_iptc_tables(fam ? AF_INET6 : AF_INET, &have);

		check(k, "table list");
		for (size_t i = 0; i < ELEMENTSOF(names); i++) {
			bool present = false;

			for (char **p = have; p && *p; p++)
				present |= streq(*p, names[i]);
			if (!present)
				continue;
			if (!fam) {
				struct xtc_handle *h = iptc_init(names[i]);

				if (!h)
					check(negative_errno(), "iptc_init");
				for (const char *c = iptc_first_chain(h); c; c = iptc_next_chain(h))
					for (const struct ipt_entry *e = iptc_first_rule(c, h); e;
					     e = iptc_next_rule(e, h))
						sink += e->next_offset +
							strlen(iptc_get_target(e, h));
				iptc_free(h);
			} else {
				struct xtc_handle *h = ip6tc_init(names[i]);

				if (!h)
					check(negative_errno(), "ip6tc_init");
				for (const char *c = ip6tc_first_chain(h); c;
				     c = ip6tc_next_chain(h))
					for (const struct ip6t_entry *e = ip6tc_first_rule(c, h); e;
					     e = ip6tc_next_rule(e, h))
						sink += e->next_offset +
							strlen(ip6tc_get_target(e, h));
				ip6tc_free(h);
			}
			n++;
		}
		for (char **p = have; p && *p; p++)
			free(*p);
		free(have);
	}
	return n;
}

/* --- floor: netlink dumps received and framed --- */

struct nl {
	struct mnl_socket *sock;
	unsigned portid;
	uint32_t seq;
	char *buf;
};

static void nl_open(struct nl *n)
{
	n->buf = malloc(RECV_SIZE);
	n->sock = mnl_socket_open(NETLINK_NETFILTER);
	if (!n->buf || !n->sock || mnl_socket_bind(n->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		check(negative_errno(), "netlink socket");
	n->portid = mnl_socket_get_portid(n->sock);
	n->seq = (uint32_t)time(NULL);
}

static void nl_close(struct nl *n)
{
	mnl_socket_close(n->sock);
	free(n->buf);
}

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	(*(unsigned *)data)++;
	return MNL_CB_OK;
}

static void nl_dump(struct nl *n, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	uint32_t seq = nlh->nlmsg_seq;
	int r;

	if (mnl_socket_sendto(n->sock, nlh, nlh->nlmsg_len) < 0)
		check(negative_errno(), "sendto");
	do {
		ssize_t len = mnl_socket_recvfrom(n->sock, n->buf, RECV_SIZE);

		if (len < 0)
			check(negative_errno(), "recvfrom");
		r = mnl_cb_run(n->buf, (size_t)len, seq, n->portid, cb, data);
		if (r < 0)
			check(negative_errno(), "dump");
	} while (r > 0);
}

static struct nlmsghdr *nl_req(struct nl *n, char *buf, uint16_t type, uint8_t family,
			       uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++n->seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	return nlh;
}

static void floor_ipset(struct nl *n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh =
		nl_req(n, buf, (NFNL_SUBSYS_IPSET << 8) | IPSET_CMD_LIST, NFPROTO_IPV4, NLM_F_DUMP);
	unsigned msgs = 0;

	mnl_attr_put_u8(nlh, IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL);
	nl_dump(n, nlh, count_cb, &msgs);
	sink += msgs;
}

struct setname {
	uint8_t family;
	char table[64], name[64];
};

struct sets {
	VEC(struct setname) v;
};

static int set_attr_cb(const struct nlattr *a, void *data)
{
	struct setname *s = data;

	if (mnl_attr_get_type(a) == NFTA_SET_TABLE)
		snprintf(s->table, sizeof(s->table), "%s", mnl_attr_get_str(a));
	else if (mnl_attr_get_type(a) == NFTA_SET_NAME)
		snprintf(s->name, sizeof(s->name), "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sets *sets = data;
	struct setname s = {
		.family = ((const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family
	};

	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), set_attr_cb, &s);
	if (VEC_PUSH(&sets->v, s) < 0)
		check(-ENOMEM, "set list");
	return MNL_CB_OK;
}

static void floor_nft(struct nl *n)
{
	static const uint16_t dumps[] = { NFT_MSG_GETTABLE, NFT_MSG_GETCHAIN, NFT_MSG_GETRULE };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct sets sets = { 0 };
	unsigned msgs = 0;

	nl_dump(n, nl_req(n, buf, NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK),
		count_cb, &msgs);
	for (size_t i = 0; i < ELEMENTSOF(dumps); i++)
		nl_dump(n,
			nl_req(n, buf, NFNL_SUBSYS_NFTABLES << 8 | dumps[i], AF_UNSPEC, NLM_F_DUMP),
			count_cb, &msgs);
	nl_dump(n,
		nl_req(n, buf, NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETSET, AF_UNSPEC, NLM_F_DUMP),
		set_cb, &sets);
	VEC_FOREACH (s, &sets.v) {
		struct nlmsghdr *nlh =
			nl_req(n, buf, NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETSETELEM, s->family,
			       NLM_F_DUMP);

		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, s->table);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, s->name);
		nl_dump(n, nlh, count_cb, &msgs);
	}
	VEC_DONE(&sets.v);
	sink += msgs;
}

/* --- tools --- */

/* Runs a tool with its output to /dev/null; returns its CPU time (user + system) in ms, or -1. */
static double run_tool(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	struct rusage ru;
	int status;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
	       ru.ru_stime.tv_usec / 1e3;
}

/* Runs one part N times; prints its user and system CPU time per run. */
static int profile(int reps, const char *what)
{
	struct rusage r0, r1;
	struct nl n = { 0 };

	struct fw_ipsets *sets = NULL;
	double t_read = 0;

	reps = MAX(reps, 1);
	if (streq(what, "iptc")) {
		struct ir_ruleset *scratch;

		/* the set matches resolve */
		check(ir_ruleset_new(&scratch), "ir_ruleset_new");
		check(fw_ipsets_read_into(scratch, &sets), "fw_ipsets_read_into");
		ir_ruleset_free(scratch);
	}
	nl_open(&n);
	getrusage(RUSAGE_THREAD, &r0);
	for (int i = 0; i < reps; i++) {
		struct ir_ruleset *rs = NULL;
		struct fw_ipsets *l = NULL;
		double t = now_ms();

		if (streq(what, "floor-iptc"))
			floor_iptc();
		else if (streq(what, "floor-ipset"))
			floor_ipset(&n);
		else if (streq(what, "fingerprint")) {
			uint64_t h;

			check(fw_legacy_fingerprint(&h), "fw_legacy_fingerprint");
		} else if (streq(what, "fingerprint-ipsets")) {
			uint64_t h;

			check(fw_ipsets_fingerprint(&h), "fw_ipsets_fingerprint");
		} else if (streq(what, "ipsets-read"))
			check(fw_ipsets_read(&l), "fw_ipsets_read");
		else if (streq(what, "floor")) {
			floor_iptc();
			floor_ipset(&n);
			floor_nft(&n);
		} else if (streq(what, "all"))
			check(fw_read_all(NULL, &rs, NULL), "fw_read_all");
		else if (streq(what, "nft"))
			check(fw_read_all(&(struct fw_read_opts){ .skip_legacy = true,
								  .skip_ipsets = true },
					  &rs, NULL),
			      "fw_read_all");
		else if (streq(what, "ipsets")) {
			check(ir_ruleset_new(&rs), "ir_ruleset_new");
			check(fw_ipsets_read_into(rs, &l), "fw_ipsets_read_into");
		} else if (streq(what, "iptc")) {
			check(ir_ruleset_new(&rs), "ir_ruleset_new");
			check(fw_iptc_read(rs, AF_INET, sets, NULL), "fw_iptc_read");
			check(fw_iptc_read(rs, AF_INET6, sets, NULL), "fw_iptc_read");
		} else {
			fprintf(stderr,
				"bench-fw-read: --profile "
				"all|iptc|ipsets|ipsets-read|nft|floor|floor-iptc|floor-ipset|"
				"fingerprint|fingerprint-ipsets\n");
			return 2;
		}
		t_read += now_ms() - t;
		ir_ruleset_free(rs);
		fw_ipsets_free(l);
	}
	getrusage(RUSAGE_THREAD, &r1);
	nl_close(&n);
	fw_ipsets_free(sets);
	printf("%s: user %.3f system %.3f ms per run (freeing included); %.3f ms without freeing\n",
	       what, (tv_ms(&r1.ru_utime) - tv_ms(&r0.ru_utime)) / reps,
	       (tv_ms(&r1.ru_stime) - tv_ms(&r0.ru_stime)) / reps, t_read / reps);
	return 0;
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 21;
	double *t_floor_iptc, *t_floor_ipset, *t_floor_nft, *t_ipsets, *t_iptc, *t_all, *t_save,
		*t_ipsave, *t_nft, *t_ratio, *t_all_wall;
	struct ir_ruleset *rs;
	struct fw_read_stats st;
	struct ir_stats is;
	unsigned rules = 0;
	bool have_nft;
	struct nl n = { 0 };
	int legacy_tables = 0;

	if (argc > 1 && streq(argv[1], "--dump")) {
		struct strbuf sb = { 0 };

		check(fw_read_all(NULL, &rs, NULL), "fw_read_all");
		check(ir_ruleset_render_json(rs, &sb), "render");
		check(ir_ruleset_render(rs, &sb), "render");
		fwrite(sb.s, 1, sb.len, stdout);
		strbuf_done(&sb);
		ir_ruleset_free(rs);
		return 0;
	}
	if (argc > 2 && streq(argv[1], "--profile"))
		return profile(atoi(argv[2]), argc > 3 ? argv[3] : "all");
	if (iters < 1)
		iters = 1;
	t_floor_iptc = calloc((size_t)iters, sizeof(double));
	t_floor_ipset = calloc((size_t)iters, sizeof(double));
	t_floor_nft = calloc((size_t)iters, sizeof(double));
	t_ipsets = calloc((size_t)iters, sizeof(double));
	t_iptc = calloc((size_t)iters, sizeof(double));
	t_all = calloc((size_t)iters, sizeof(double));
	t_save = calloc((size_t)iters, sizeof(double));
	t_ipsave = calloc((size_t)iters, sizeof(double));
	t_nft = calloc((size_t)iters, sizeof(double));
	t_ratio = calloc((size_t)iters, sizeof(double));
	t_all_wall = calloc((size_t)iters, sizeof(double));
	if (!t_floor_iptc || !t_floor_ipset || !t_floor_nft || !t_ipsets || !t_iptc || !t_all ||
	    !t_save || !t_ipsave || !t_nft || !t_ratio || !t_all_wall)
		check(-ENOMEM, "alloc");

	/* what is there */
	check(fw_read_all(NULL, &rs, &st), "fw_read_all");
	ir_ruleset_stats(rs, &is);
	for (int s = 0; s < _IR_SRC_MAX; s++)
		rules += is.src[s].rules;
	have_nft = is.src[IR_SRC_NFT].tables + is.src[IR_SRC_IPTABLES_NFT].tables > 0;
	printf("ruleset: %u legacy tables, %u nft tables, %u rules, %u ipsets with %u elements\n",
	       is.src[IR_SRC_IPTABLES_LEGACY].tables,
	       is.src[IR_SRC_NFT].tables + is.src[IR_SRC_IPTABLES_NFT].tables, rules, is.ipsets,
	       is.ipset_elements);
	ir_ruleset_free(rs);

	nl_open(&n);
	for (int i = 0; i < iters; i++) {
		double t = now_ms();
		struct fw_ipsets *l;
		double w;

		legacy_tables = floor_iptc();
		t_floor_iptc[i] = now_ms() - t;

		t = now_ms();
		floor_ipset(&n);
		t_floor_ipset[i] = now_ms() - t;

		t = now_ms();
		floor_nft(&n);
		t_floor_nft[i] = now_ms() - t;

		check(ir_ruleset_new(&rs), "ir_ruleset_new");
		t = now_ms();
		check(fw_ipsets_read_into(rs, &l), "fw_ipsets_read_into");
		t_ipsets[i] = now_ms() - t;

		t = now_ms();
		check(fw_iptc_read(rs, AF_INET, l, NULL), "fw_iptc_read");
		check(fw_iptc_read(rs, AF_INET6, l, NULL), "fw_iptc_read");
		t_iptc[i] = now_ms() - t;
		ir_ruleset_free(rs);
		fw_ipsets_free(l);

		t = proc_ms();
		w = wall_ms();
		check(fw_read_all(NULL, &rs, NULL), "fw_read_all");
		t_all[i] = proc_ms() - t;
		t_all_wall[i] = wall_ms() - w;
		ir_ruleset_free(rs);

		t_save[i] = t_ipsave[i] = t_nft[i] = -1;
		if (legacy_tables) {
			double a = run_tool((char *[]){ "iptables-legacy-save", NULL });
			double b = run_tool((char *[]){ "ip6tables-legacy-save", NULL });

			t_save[i] = a < 0 || b < 0 ? -1 : a + b;
		}
		if (is.ipsets)
			t_ipsave[i] = run_tool((char *[]){ "ipset", "save", NULL });
		if (have_nft)
			t_nft[i] = run_tool((char *[]){ "nft", "-j", "list", "ruleset", NULL });
	}
	/* the read against the floor run by run (a few milliseconds apart), which load that comes
	 * and goes during the benchmark disturbs less; before median() sorts the arrays */
	for (int i = 0; i < iters; i++) {
		double f = t_floor_iptc[i] + t_floor_ipset[i] + t_floor_nft[i];

		t_ratio[i] = f > 0 ? t_all[i] / f : 0;
	}
	nl_close(&n);

	{
		double fi = median(t_floor_iptc, iters), fs = median(t_floor_ipset, iters),
		       fn = median(t_floor_nft, iters), ri = median(t_iptc, iters),
		       rsets = median(t_ipsets, iters), ra = median(t_all, iters);
		double floor_all = fi + fs + fn;

		printf("median of %d runs, CPU ms (user + system, kernel work included; "
		       "fw_read_all: all its threads):\n",
		       iters);
		printf("  floor libiptc walk (%d tables)    %9.3f\n", legacy_tables, fi);
		printf("  floor ipset LIST dump             %9.3f\n", fs);
		printf("  floor nft dumps                   %9.3f\n", fn);
		printf("  floor total                       %9.3f\n", floor_all);
		printf("  fw_iptc_read (v4+v6)              %9.3f  %.2fx of its floor\n", ri,
		       fi > 0 ? ri / fi : 0);
		printf("  fw_ipsets_read_into               %9.3f  %.2fx of its floor\n", rsets,
		       fs > 0 ? rsets / fs : 0);
		printf("  fw_read_all                       %9.3f  %.2fx of the floor\n", ra,
		       floor_all > 0 ? ra / floor_all : 0);
		printf("    median of the runs' ratios      %9.2fx\n", median(t_ratio, iters));
		printf("  fw_read_all, wall time            %9.3f  (the legacy tables fetched on "
		       "another thread)\n",
		       median(t_all_wall, iters));
		if (legacy_tables)
			printf("  iptables-legacy-save + ip6tables  %9.3f  (fw_iptc_read %.2fx "
			       "faster)\n",
			       median(t_save, iters), median(t_save, iters) / ri);
		if (is.ipsets)
			printf("  ipset save                        %9.3f  (fw_ipsets_read_into "
			       "%.2fx "
			       "faster)\n",
			       median(t_ipsave, iters), median(t_ipsave, iters) / rsets);
		if (have_nft)
			printf("  nft -j list ruleset               %9.3f\n", median(t_nft, iters));
	}
	return 0;
}
