/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The local API's request handling, end to end in one process: the input is written as raw
 * bytes to the agent's real Unix socket, where libmicrohttpd parses it inside the manager's
 * sd-event loop and daemon/api.c routes it (URL, method, query parameters, body limits, the
 * peer check) to the real manager views — status, findings with filters, pods, the findings
 * stream, and /v1/trace's parameter parsing and evaluation through a small ruleset built in
 * memory (a CNI-style forward chain with a set-like address match, a jump, an opaque-free
 * deny). The answer is read back until the server closes.
 *
 * POST /v1/audit reads the packet filter and routes of the process's own namespace (or fails
 * without CAP_NET_ADMIN, which is answered 500/503); the fixed ruleset is put back after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "eval/eval.h"
#include "fw/rtable.h"
#include "ir/ir.h"
#include "log.h"
#include "manager.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct manager *M;
static char sock_path[108];

static int add_rule(struct ir_chain *c, bool tcp6379, const char *from, enum ir_verdict_kind v,
		    const char *target)
{
	_cleanup_(ir_rule_freep) struct ir_rule *r = NULL;
	struct np_iset s = { 0 };
	np_u128 lo, hi;
	int k;

	if ((k = ir_rule_new(&r)) < 0)
		return k;
	if (from) {
		if (np_cidr_parse(from, &lo, &hi) < 0 || np_iset_add(&s, lo, hi) < 0)
			return -EINVAL;
		k = ir_rule_add_match(r, IR_FIELD_SADDR, false, &s);
		np_iset_done(&s);
		if (k < 0)
			return k;
	}
	if (tcp6379) {
		if (np_iset_add(&s, IPPROTO_TCP, IPPROTO_TCP) < 0)
			return -ENOMEM;
		k = ir_rule_add_match(r, IR_FIELD_L4PROTO, false, &s);
		np_iset_done(&s);
		if (k < 0 ||
		    (k = ir_rule_add_match_range(r, IR_FIELD_DPORT, false, 6379, 6379)) < 0)
			return k;
	}
	if ((k = ir_rule_set_verdict(r, v, target)) < 0)
		return k;
	return ir_chain_append(c, &r);
}

/* The trace's ruleset and routes: pods 10.244.0.0/24 behind cali0, this node 10.0.0.1. */
static int install_ruleset(struct manager *m)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	_cleanup_(fw_rtable_freep) struct fw_rtable *rt = NULL;
	_cleanup_(ir_chain_freep) struct ir_chain *fwd = NULL;
	struct eval_ctx *ctx = NULL;
	struct ir_table *t;
	struct ir_chain *to_db;
	struct fw_route pods = { .prefix = 24,
				 .family = AF_INET,
				 .table = 254,
				 .oif = 3,
				 .oifname = "cali0" },
			local = { .prefix = 32,
				  .family = AF_INET,
				  .table = 255,
				  .type = FW_ROUTE_LOCAL,
				  .oif = 1,
				  .oifname = "lo" };
	int r;

	if ((r = ir_ruleset_new(&rs)) < 0 ||
	    (r = ir_ruleset_new_table(rs, IR_SRC_NFT, IR_FAMILY_INET, "cni", &t)) < 0 ||
	    (r = ir_chain_new_base("forward", IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0,
				   IR_VERDICT_ACCEPT, &fwd)) < 0 ||
	    (r = add_rule(fwd, false, "10.244.0.12/32", IR_VERDICT_JUMP, "to-db")) < 0 ||
	    (r = ir_table_add_chain(t, &fwd)) < 0 ||
	    (r = ir_table_new_chain(t, "to-db", &to_db)) < 0 ||
	    (r = add_rule(to_db, true, "10.244.0.11/32", IR_VERDICT_ACCEPT, NULL)) < 0 ||
	    (r = add_rule(to_db, false, NULL, IR_VERDICT_DROP, NULL)) < 0 ||
	    (r = ir_ruleset_set_source_info(rs, IR_SRC_NFT, true, NULL)) < 0)
		return r;
	if (ir_ruleset_link(rs) != 0)
		return -EINVAL;
	if ((r = eval_prepare(rs, &ctx)) < 0)
		return r;
	if ((r = fw_rtable_new(&rt)) < 0)
		return r;
	(void)np_cidr_parse("10.244.0.0/24", &pods.lo, &pods.hi);
	(void)np_cidr_parse("10.0.0.1/32", &local.lo, &local.hi);
	if ((r = fw_rtable_add(rt, &pods)) < 0 || (r = fw_rtable_add(rt, &local)) < 0 ||
	    (r = fw_rtable_add_link(rt, 3, "cali0")) < 0 ||
	    (r = fw_rtable_add_link(rt, 1, "lo")) < 0)
		return r;
	eval_ctx_free(m->eval);
	ir_ruleset_free(m->rs);
	fw_rtable_free(m->rt);
	m->eval = ctx;
	m->rs = TAKE_PTR(rs);
	m->rt = TAKE_PTR(rt);
	return 0;
}

static struct eval_ctx *fixed_eval;
static struct fw_rtable *fixed_rt;

static void cleanup(void)
{
	(void)unlink(sock_path);
}

static void setup(void)
{
	struct config cfg;
	struct np_error e = { 0 };

	log_set_max_level(LOG_CRIT);
	snprintf(sock_path, sizeof(sock_path), "/tmp/fuzz-api-%d.sock", (int)getpid());
	if (config_init(&cfg) < 0 || config_set(&cfg, "node", "node-1", &e) < 0 ||
	    config_set(&cfg, "socket", sock_path, &e) < 0 ||
	    /* the peer check runs (the fuzzer's own uid is root or the agent's: served) */
	    config_set(&cfg, "socket-allow-uids", "1000 1001", &e) < 0 ||
	    manager_new(&cfg, "/dev/null", &M) < 0 || api_new(M, &M->api) < 0 ||
	    install_ruleset(M) < 0)
		abort();
	fixed_eval = M->eval;
	fixed_rt = M->rt;
	atexit(cleanup);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[65536];
	size_t off = 0;
	bool eof = false, shut = false;
	uint64_t deadline, last;
	bool verbose = getenv("FUZZ_API_VERBOSE");
	int fd;

	if (!M)
		setup();
	if (size > 128 * 1024)
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		abort();
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS &&
	    errno != EAGAIN)
		abort();
	/* Send everything, then half-close: the server sees the whole input and then EOF. */
	last = now_ms();
	deadline = last + 3000;
	while (!eof && now_ms() < deadline) {
		ssize_t n;

		/* Nothing moved for a while after the whole input was sent: a parked stream or
		 * a server waiting for more; closing is what a client would do. */
		if (shut && now_ms() - last > 100)
			break;
		if (off < size) {
			n = send(fd, data + off, size - off, MSG_NOSIGNAL);
			if (n > 0) {
				off += (size_t)n;
				last = now_ms();
			} else if (n < 0 && errno != EAGAIN)
				break; /* the server closed early (e.g. 413): fine */
		} else if (!shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		(void)sd_event_run(M->event, 1000);
		for (;;) {
			n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n > 0) {
				last = now_ms();
				if (verbose)
					fprintf(stderr, "%.*s\n", (int)MIN((size_t)n, (size_t)120),
						buf);
				continue;
			}
			if (n == 0 || (errno != EAGAIN && errno != EINTR))
				eof = true;
			break;
		}
	}
	close(fd);
	/* A findings stream parked by the server ends with the next broadcast, which finds the
	 * peer gone; the loop then frees the connection. */
	api_broadcast(M->api, "{\"transition\":\"fuzz\"}");
	for (int i = 0; i < 3; i++)
		(void)sd_event_run(M->event, 0);
	if (M->eval != fixed_eval || M->rt != fixed_rt) {
		if (install_ruleset(M) < 0)
			abort();
		fixed_eval = M->eval;
		fixed_rt = M->rt;
	}
	return 0;
}
