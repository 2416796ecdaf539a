/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * npaudit audit: a one-shot audit of the current network namespace's live rules against a
 * cluster dump. Exit 0: no findings; 1: findings; 2: usage or input error (also when part of
 * the input was skipped: the audit then could not tell for everything).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "cli-util.h"
#include "fw/fw.h"
#include "fw/rtable.h"

static void usage_audit(FILE *f)
{
	fprintf(f,
		"Usage: npaudit audit --state FILE... [--node NODE] [--pod NS/NAME] [--json]\n"
		"                     [--threads N]\n\n"
		"Audits the live packet filter of this network namespace against the\n"
		"NetworkPolicies of a cluster dump, for the pods of NODE (default: $NODE_NAME,\n"
		"else the host name). Exit 0: no findings, 1: findings, 2: error.\n\n"
		"  --threads N  threads for the checks (default 0: one per CPU, at most %d;\n"
		"               one for fewer than 16 pods); the result is the same for any\n",
		AUDIT_THREADS_MAX);
}

static int cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "node", required_argument, NULL, 'n' },
		{ "pod", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "threads", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(policy_engine_freep) struct policy_engine *e = NULL;
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
	_cleanup_(fw_rtable_freep) struct fw_rtable *rt = NULL;
	_cleanup_(audit_report_freep) struct audit_report *rep = NULL;
	struct strbuf out = { 0 };
	VEC(char *) states = { 0 };
	const char *node = NULL, *pod = NULL;
	char host[256];
	bool json = false, partial = false;
	unsigned threads = 0;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
		switch (c) {
		case 's':
			if (VEC_PUSH(&states, optarg) < 0)
				return cli_fail("out of memory");
			break;
		case 'n':
			node = optarg;
			break;
		case 'p':
			pod = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 't': {
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || n > AUDIT_THREADS_MAX) {
				VEC_DONE(&states);
				return cli_fail("--threads: '%s' is not a number from 0 to %d",
						optarg, AUDIT_THREADS_MAX);
			}
			threads = (unsigned)n;
			break;
		}
		case 'h':
			usage_audit(stdout);
			VEC_DONE(&states);
			return EXIT_OK;
		default:
			usage_audit(stderr);
			VEC_DONE(&states);
			return EXIT_USAGE;
		}
	if (optind < argc) {
		VEC_DONE(&states);
		return cli_fail("unexpected argument '%s'", argv[optind]);
	}
	if (!node)
		node = cli_default_node(host, sizeof(host));
	if (!node) {
		VEC_DONE(&states);
		return cli_fail("--node NODE is required (no $NODE_NAME, no host name)");
	}
	r = cli_load_states(states.items, states.n, &m, &partial);
	VEC_DONE(&states);
	if (r != EXIT_OK)
		return r;
	if (policy_engine_new(m, &e) < 0)
		return cli_fail("out of memory");
	r = fw_read_all(NULL, &rs, NULL);
	if (r < 0)
		return cli_fail("cannot read the packet filter of this network namespace: %s%s",
				np_strerror(r),
				r == -EPERM ? " (run as root, or with CAP_NET_ADMIN)" : "");
	r = fw_rtable_read(&rt);
	if (r < 0)
		return cli_fail("cannot read the routing tables: %s", np_strerror(r));
	r = eval_prepare(rs, &ctx);
	if (r < 0)
		return cli_fail("cannot prepare the ruleset: %s", np_strerror(r));
	{
		struct audit_env env = {
			.model = m, .engine = e, .node = node, .eval = ctx, .routes = rt
		};
		struct audit_options ao = { .pod = pod, .threads = threads };

		r = audit_run(&env, &ao, &rep);
	}
	if (r == -ENOENT)
		return cli_fail("pod %s is not a pod of node %s to which NetworkPolicy applies",
				pod, node);
	if (r < 0)
		return cli_fail("audit failed: %s", np_strerror(r));
	{
		const struct model_pod *const *pods;

		/* A node the input has no pod on is most likely a wrong --node: saying "no drift"
		 * would claim what was never checked. */
		if (!pod && model_pods_on_node(m, node, &pods) == 0)
			return cli_fail(
				"no pod of node '%s' in the input (is --node right? the pods' "
				"spec.nodeName says where they run)",
				node);
	}
	r = json ? audit_report_json(rep, &out) : audit_report_text(rep, &out);
	if (r < 0) {
		strbuf_done(&out);
		return cli_fail("out of memory");
	}
	fputs(strbuf_str(&out), stdout);
	if (json)
		fputc('\n', stdout);
	strbuf_done(&out);
	if (partial)
		return EXIT_USAGE;
	return rep->findings.n ? EXIT_FINDINGS : EXIT_OK;
}

const struct cli_command cli_audit_commands[] = {
	{ "audit", cmd_audit,
	  "--state FILE... [--node NODE] [--pod NS/NAME] [--json] [--threads N]",
	  "audit this namespace's live rules against the policies, per pod" },
	{},
};
