/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* npaudit lint | cni: static NetworkPolicy mistakes and CNI detection on a cluster dump. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lint/lint.h"

#ifdef HAVE_CMD_FW
/* The live rule readers are linked in with the fw commands. */
#include "fw/fw.h"
#include "ir/ir.h"
#endif

struct lint_args {
	const char **states;
	size_t n_states;
	struct lint_options o;
	bool json;
	bool live_rules;
};

static void lint_usage(FILE *f, const char *cmd)
{
	fprintf(f,
		"Usage: npaudit %s --state FILE... [--node NODE] [--cni-conf-dir DIR] [--json]\n\n"
		"%s\n\n"
		"  --state FILE         a kubectl get -o json/yaml dump (repeatable; '-' is "
		"stdin)\n"
		"  --node NODE          the node whose CNI agent and pods to look at\n"
		"  --cni-conf-dir DIR   a copy of the node's /etc/cni/net.d (read only)\n"
		"%s"
		"  --live-rules         read this network namespace's rules (needs "
		"CAP_NET_ADMIN):\n"
		"                       rules split between iptables backends, and the CNI's\n"
		"                       iptables backend when the cluster objects leave it open\n"
		"  --json               machine-readable output\n\n"
		"Exit status: %s, 2 usage or input error (also when objects of the input were\n"
		"skipped as malformed; they are listed on stderr after the output).\n",
		cmd,
		streq(cmd, "lint")
			? "Reports NetworkPolicy mistakes and CNI problems."
			: "Says which CNI the node runs, whether it enforces NetworkPolicy, "
			  "and why.",
		streq(cmd, "lint")
			? "  --dns-namespace NS   namespace of the cluster DNS pods (default "
			  "kube-system)\n"
			  "  --dns-label K=V      label of the cluster DNS pods (default "
			  "k8s-app=kube-dns)\n"
			  "  --restart-threshold N  agent restarts that count as restarting "
			  "(default 5)\n"
			: "",
		streq(cmd, "lint") ? "0 no findings, 1 findings" : "0 detection done");
}

/* Returns -1 to go on, or an exit code. */
static int lint_parse(int argc, char **argv, struct lint_args *a)
{
	enum {
		ARG_NODE = 0x100,
		ARG_CONF,
		ARG_DNS_NS,
		ARG_DNS_LABEL,
		ARG_RESTARTS,
		ARG_LIVE,
	};
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "node", required_argument, NULL, ARG_NODE },
		{ "cni-conf-dir", required_argument, NULL, ARG_CONF },
		{ "dns-namespace", required_argument, NULL, ARG_DNS_NS },
		{ "dns-label", required_argument, NULL, ARG_DNS_LABEL },
		{ "restart-threshold", required_argument, NULL, ARG_RESTARTS },
		{ "live-rules", no_argument, NULL, ARG_LIVE },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c;

	a->states = calloc((size_t)argc + 1, sizeof(*a->states));
	if (!a->states)
		return cli_fail("out of memory");
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:jh", opts, NULL)) >= 0) {
		switch (c) {
		case 's':
			a->states[a->n_states++] = optarg;
			break;
		case ARG_NODE:
			a->o.node = optarg;
			break;
		case ARG_CONF:
			a->o.cni_conf_dir = optarg;
			break;
		case ARG_DNS_NS:
			a->o.dns_namespace = optarg;
			break;
		case ARG_DNS_LABEL:
			a->o.dns_label = optarg;
			break;
		case ARG_RESTARTS: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v == 0 || v > 1000000)
				return cli_fail(
					"--restart-threshold must be a positive number, not "
					"'%s'",
					optarg);
			a->o.restart_threshold = (unsigned)v;
			break;
		}
		case ARG_LIVE:
			a->live_rules = true;
			break;
		case 'j':
			a->json = true;
			break;
		case 'h':
			lint_usage(stdout, argv[0]);
			return EXIT_OK;
		default:
			lint_usage(stderr, argv[0]);
			return EXIT_USAGE;
		}
	}
	/* Files may also follow the options: `npaudit lint --state a.json b.json`. */
	for (int i = optind; i < argc; i++)
		a->states[a->n_states++] = argv[i];
	if (a->n_states == 0)
		return cli_fail("%s: --state FILE is required (a kubectl get -o json dump)",
				argv[0]);
	return -1;
}

/* Loads the dumps; returns -1 and the model, or an exit code. *ret_skipped counts malformed
 * objects that were left out. */
static int lint_load(const struct lint_args *a, struct model **ret, size_t *ret_skipped)
{
	_cleanup_(model_freep) struct model *m = NULL;
	size_t skipped = 0;

	if (model_new(&m) < 0)
		return cli_fail("out of memory");
	for (size_t i = 0; i < a->n_states; i++) {
		struct np_error err = { 0 };
		char buf[1200];
		int r = model_load_file(m, a->states[i], &err);

		if (r < 0)
			return cli_fail("%s", np_error_format(&err, buf, sizeof(buf)));
		skipped += (size_t)r;
	}
	*ret = TAKE_PTR(m);
	*ret_skipped = skipped;
	return -1;
}

/* Prints the model's diagnostics on stderr; returns whether there were any. */
static bool lint_diagnostics(const struct model *m)
{
	size_t n;
	const struct np_error *d = model_diagnostics(m, &n);
	char buf[1200];

	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "npaudit: skipped: %s\n", np_error_format(&d[i], buf, sizeof(buf)));
	return n > 0;
}

struct live_rules {
	struct lint_fw_chain *chains;
	size_t n;
	struct lint_fw_input in;
#ifdef HAVE_CMD_FW
	struct ir_ruleset *rs;
#endif
};

static void live_rules_done(struct live_rules *l)
{
	free(l->chains);
#ifdef HAVE_CMD_FW
	ir_ruleset_free(l->rs);
#endif
}

/* Counts the live rules per source and chain of the current network namespace. Returns -1 to
 * go on, or an exit code. */
static int live_rules_read(struct live_rules *l)
{
#ifdef HAVE_CMD_FW
	size_t n = 0;
	int r;

	r = fw_read_all(NULL, &l->rs, NULL);
	if (r < 0)
		return cli_fail("cannot read the live rules: %s", np_strerror(r));
	for (size_t t = 0; t < l->rs->tables.n; t++)
		n += l->rs->tables.items[t]->chains.n;
	l->chains = calloc(n ? n : 1, sizeof(*l->chains));
	if (!l->chains)
		return cli_fail("out of memory");
	for (size_t t = 0; t < l->rs->tables.n; t++) {
		const struct ir_table *tb = l->rs->tables.items[t];
		enum lint_fw_source src = tb->source == IR_SRC_IPTABLES_LEGACY
						  ? LINT_FW_IPTABLES_LEGACY
					  : tb->source == IR_SRC_IPTABLES_NFT ? LINT_FW_IPTABLES_NFT
									      : LINT_FW_NFT;

		for (size_t c = 0; c < tb->chains.n; c++) {
			const struct ir_chain *ch = tb->chains.items[c];

			l->chains[l->n++] = (struct lint_fw_chain){ src, tb->name, ch->name,
								    (uint32_t)ch->rules.n };
			l->in.n_rules[src] += (uint32_t)ch->rules.n;
		}
	}
	l->in.chains = l->chains;
	l->in.n_chains = l->n;
	return -1;
#else
	return cli_fail("--live-rules: this npaudit was built without the live rule readers");
#endif
}

static int cmd_lint(int argc, char **argv)
{
	_cleanup_(lint_report_freep) struct lint_report *rep = NULL;
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(live_rules_done) struct live_rules live = { 0 };
	struct lint_args a = { 0 };
	struct strbuf out = { 0 };
	struct np_error err = { 0 };
	size_t skipped = 0;
	char buf[1200];
	int r, ex;

	ex = lint_parse(argc, argv, &a);
	if (ex < 0)
		ex = lint_load(&a, &m, &skipped);
	if (ex < 0 && a.live_rules) {
		ex = live_rules_read(&live);
		a.o.fw = &live.in;
	}
	free(a.states);
	if (ex >= 0)
		return ex;

	r = lint_run(m, &a.o, &rep, &err);
	if (r < 0)
		return r == -ENOMEM ? cli_fail("out of memory")
				    : cli_fail("%s", np_error_format(&err, buf, sizeof(buf)));
	r = a.json ? lint_report_json(rep, &out) : lint_report_format(rep, &out);
	if (r < 0) {
		strbuf_done(&out);
		return cli_fail("out of memory");
	}
	if (a.json)
		printf("%s\n", strbuf_str(&out));
	else if (rep->n_findings)
		fputs(strbuf_str(&out), stdout);
	else
		printf("No lint findings.\n");
	strbuf_done(&out);
	for (size_t i = 0; i < rep->n_notes; i++)
		fprintf(stderr, "npaudit: note: %s\n", rep->notes[i]);
	if (lint_diagnostics(m) || skipped)
		return EXIT_USAGE;
	return rep->n_findings ? EXIT_FINDINGS : EXIT_OK;
}

static int cmd_cni(int argc, char **argv)
{
	_cleanup_(cni_detection_freep) struct cni_detection *d = NULL;
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(live_rules_done) struct live_rules live = { 0 };
	struct lint_args a = { 0 };
	struct strbuf out = { 0 };
	struct np_error err = { 0 };
	size_t skipped = 0;
	char buf[1200];
	int r, ex;

	ex = lint_parse(argc, argv, &a);
	if (ex < 0)
		ex = lint_load(&a, &m, &skipped);
	if (ex < 0 && a.live_rules)
		ex = live_rules_read(&live);
	free(a.states);
	if (ex >= 0)
		return ex;

	r = cni_detect(m, a.o.node, a.o.cni_conf_dir, &d, &err);
	if (r >= 0 && a.live_rules)
		r = cni_detection_refine(d, &live.in);
	if (r < 0)
		return r == -ENOMEM ? cli_fail("out of memory")
				    : cli_fail("%s", np_error_format(&err, buf, sizeof(buf)));
	r = a.json ? cni_detection_json(d, &out) : cni_detection_format(d, &out);
	if (r < 0) {
		strbuf_done(&out);
		return cli_fail("out of memory");
	}
	fputs(strbuf_str(&out), stdout);
	if (a.json)
		fputc('\n', stdout);
	strbuf_done(&out);
	if (lint_diagnostics(m) || skipped)
		return EXIT_USAGE;
	return EXIT_OK;
}

const struct cli_command cli_lint_commands[] = {
	{ "lint", cmd_lint, "--state FILE... [--node NODE] [--cni-conf-dir DIR] [--json]",
	  "NetworkPolicy mistakes and CNI problems in a cluster dump" },
	{ "cni", cmd_cni, "--state FILE... [--node NODE] [--cni-conf-dir DIR] [--json]",
	  "which CNI runs, whether it enforces NetworkPolicy, and why" },
	{},
};
