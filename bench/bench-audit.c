/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Audit benchmark, run inside the network namespace that holds the node's rules and routes
 * (bench/run-audit.sh sets one up from bench/gen-ruleset.py and bench/gen-audit.py):
 *
 *   bench-audit DUMP NODE [REPEAT]
 *
 * Prints the time to read the live rules, to prepare them, a full audit of NODE (reading the
 * rules included and not), classes per second, the CPU time of the full audit over all its
 * threads (one per CPU the process may run on: `taskset` chooses; NP_AUDIT_THREADS=N sets
 * audit_options.threads), the re-audit of one pod reusing the ruleset and the compiled
 * expectations, and the findings (a faithful ruleset has none).
 */
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "audit/audit.h"
#include "fw/fw.h"
#include "fw/rtable.h"
#include "bench.h"

static double now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
	       ru.ru_stime.tv_usec / 1e3;
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

int main(int argc, char **argv)
{
	_cleanup_(model_freep) struct model *m = NULL;
	_cleanup_(policy_engine_freep) struct policy_engine *e = NULL;
	_cleanup_(fw_rtable_freep) struct fw_rtable *rt = NULL;
	int repeat = argc > 3 ? atoi(argv[3]) : 11;
	double *t_read, *t_full, *t_pod, *t_total, *t_cpu;
	/* NP_AUDIT_THREADS: audit_options.threads of the full audit (default 0: one per CPU
	 * this process may run on, as taskset leaves them) */
	unsigned threads =
		getenv("NP_AUDIT_THREADS") ? (unsigned)atoi(getenv("NP_AUDIT_THREADS")) : 0;
	/* NP_AUDIT_FULL_WALKS=1: audit_options.full_walks (no shared walks), for an A/B */
	bool full_walks = getenv("NP_AUDIT_FULL_WALKS") && atoi(getenv("NP_AUDIT_FULL_WALKS"));
	cpu_set_t cpus;
	struct np_error err = { 0 };
	char buf[1024], pod[512] = "";
	unsigned long classes = 0, packets = 0, shared = 0;
	size_t findings = 0;
	struct rusage ru;

	if (argc < 3 || repeat < 1) {
		fprintf(stderr, "usage: bench-audit DUMP NODE [REPEAT]\n");
		return 2;
	}
	if (model_new(&m) < 0 || model_load_file(m, argv[1], &err) != 0) {
		fprintf(stderr, "bench-audit: %s\n", np_error_format(&err, buf, sizeof(buf)));
		return 1;
	}
	if (policy_engine_new(m, &e) < 0 || fw_rtable_read(&rt) < 0)
		return 1;
	{
		const struct model_pod *const *pods;
		if (model_pods_on_node(m, argv[2], &pods) == 0) {
			fprintf(stderr, "bench-audit: no pod on %s\n", argv[2]);
			return 1;
		}
		snprintf(pod, sizeof(pod), "%s/%s", pods[0]->ns, pods[0]->name);
	}
	t_read = calloc((size_t)repeat, sizeof(double));
	t_full = calloc((size_t)repeat, sizeof(double));
	t_pod = calloc((size_t)repeat, sizeof(double));
	t_total = calloc((size_t)repeat, sizeof(double));
	t_cpu = calloc((size_t)repeat, sizeof(double));
	if (!t_read || !t_full || !t_pod || !t_total || !t_cpu)
		return 1;
	for (int i = 0; i < repeat; i++) {
		_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
		_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
		_cleanup_(audit_report_freep) struct audit_report *rep = NULL, *one = NULL;
		struct audit_env env = { .model = m, .engine = e, .node = argv[2], .routes = rt };
		struct audit_options po = { .pod = pod, .full_walks = full_walks },
				     fo = { .threads = threads, .full_walks = full_walks };
		double a = now_ms(), b, c, d, u;
		int r;

		r = fw_read_all(NULL, &rs, NULL);
		if (r < 0) {
			fprintf(stderr, "bench-audit: reading the rules: %s\n", np_strerror(r));
			return 1;
		}
		r = eval_prepare(rs, &ctx);
		if (r < 0)
			return 1;
		b = now_ms();
		u = cpu_ms();
		env.eval = ctx;
		/* A fresh engine each round would measure the policy compiler again; the agent
		 * keeps its engine between audits, and so does this loop after the first round. */
		r = audit_run(&env, &fo, &rep);
		if (r < 0) {
			fprintf(stderr, "bench-audit: audit: %s\n", np_strerror(r));
			return 1;
		}
		c = now_ms();
		t_cpu[i] = cpu_ms() - u;
		r = audit_run(&env, &po, &one);
		if (r < 0)
			return 1;
		d = now_ms();
		t_read[i] = b - a;
		t_full[i] = c - b;
		t_total[i] = c - a;
		t_pod[i] = d - c;
		classes = rep->classes_evaluated;
		packets = rep->packets_evaluated;
		shared = rep->walks_shared;
		findings = rep->findings.n;
		if (i == 0 && findings) {
			struct strbuf sb = { 0 };
			audit_report_text(rep, &sb);
			fprintf(stderr, "%.4000s\n", strbuf_str(&sb));
			strbuf_done(&sb);
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("read+prepare rules: median %.1f ms\n", median(t_read, repeat));
	printf("full audit of %s: median %.1f ms without reading, %.1f ms with; %lu classes "
	       "(%.0f classes/s), %lu walks through the rules, %zu findings\n",
	       argv[2], median(t_full, repeat), median(t_total, repeat), classes,
	       classes / (median(t_full, repeat) / 1e3), packets, findings);
	if (sched_getaffinity(0, sizeof(cpus), &cpus) < 0)
		CPU_ZERO(&cpus);
	printf("walks: %lu of %lu from a shared walk's leaf without walking (%s)\n", shared,
	       packets, full_walks ? "NP_AUDIT_FULL_WALKS: none shared" : "shared walks");
	printf("full audit CPU time (all threads): median %.1f ms; threads %s (%d CPUs usable)\n",
	       median(t_cpu, repeat), threads ? "as NP_AUDIT_THREADS says" : "one per CPU",
	       CPU_COUNT(&cpus));
	printf("re-audit of one pod (%s), ruleset and expectations reused: median %.2f ms\n", pod,
	       median(t_pod, repeat));
	{
		/* Where the classes are: the off-node checks alone. */
		_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
		_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
		_cleanup_(audit_report_freep) struct audit_report *rep = NULL;
		struct audit_options o = { .skip_pairs = true };
		struct audit_env env = { .model = m, .engine = e, .node = argv[2], .routes = rt };
		double a;

		if (fw_read_all(NULL, &rs, NULL) < 0 || eval_prepare(rs, &ctx) < 0)
			return 1;
		env.eval = ctx;
		a = now_ms();
		if (audit_run(&env, &o, &rep) < 0)
			return 1;
		printf("off-node checks only: %.1f ms, %lu classes (%lu walks); the pair check: "
		       "%lu "
		       "classes (%lu walks)\n",
		       now_ms() - a, rep->classes_evaluated, rep->packets_evaluated,
		       classes - rep->classes_evaluated, packets - rep->packets_evaluated);
	}
	{
		/* What the agent does after a change in one pod's chain: compare the rulesets,
		 * then an incremental audit that re-runs that pod's checks and replays the rest. */
		_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL, *rs2 = NULL;
		_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL, *ctx2 = NULL;
		_cleanup_(audit_cache_freep) struct audit_cache *cache = audit_cache_new();
		struct audit_env env = { .model = m, .engine = e, .node = argv[2], .routes = rt };
		const struct model_pod *const *pods;
		char veth[IFNAMSIZ] = "";
		const char *ifs[1] = { veth };
		struct audit_options o = { .cache = cache };
		double *t_diff = calloc((size_t)repeat, sizeof(double));
		double *t_inc = calloc((size_t)repeat, sizeof(double));
		unsigned long reused = 0;
		unsigned pods_run = 0;

		if (!cache || !t_diff || !t_inc || fw_read_all(NULL, &rs, NULL) < 0 ||
		    eval_prepare(rs, &ctx) < 0 || fw_read_all(NULL, &rs2, NULL) < 0 ||
		    eval_prepare(rs2, &ctx2) < 0)
			return 1;
		/* the first local pod's interface: the route to its address */
		if (model_pods_on_node(m, argv[2], &pods) > 0 && pods[0]->n_ips > 0) {
			const struct fw_route *r0 = fw_rtable_lookup(rt, pods[0]->ips[0]);

			if (r0)
				snprintf(veth, sizeof(veth), "%s", r0->oifname);
		}
		env.eval = ctx;
		{
			_cleanup_(audit_report_freep) struct audit_report *rep = NULL;

			if (audit_run(&env, &o, &rep) < 0)
				return 1;
		}
		env.eval = ctx2;
		o.incremental = true;
		o.changed_ifaces = ifs;
		o.n_changed_ifaces = 1;
		for (int i = 0; i < repeat; i++) {
			_cleanup_(audit_report_freep) struct audit_report *rep = NULL;
			struct eval_change ch = { 0 };
			double a = now_ms(), b;

			if (eval_changed_interfaces(ctx, ctx2, &ch) < 0)
				return 1;
			b = now_ms();
			eval_change_done(&ch);
			if (audit_run(&env, &o, &rep) < 0 || !rep->incremental)
				return 1;
			t_diff[i] = b - a;
			t_inc[i] = now_ms() - b;
			reused = rep->checks_reused;
			pods_run = rep->pods_audited;
		}
		printf("compare two reads of the ruleset (what a change can touch): median %.2f "
		       "ms\n",
		       median(t_diff, repeat));
		printf("incremental audit after a change in %s's chain: median %.2f ms (%u pod "
		       "audited, %lu checks reused)\n",
		       veth, median(t_inc, repeat), pods_run, reused);
		free(t_diff);
		free(t_inc);
	}
	printf("peak RSS %ld MiB\n", ru.ru_maxrss / 1024);
	free(t_read);
	free(t_full);
	free(t_pod);
	free(t_total);
	return 0;
}
