/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Policy engine benchmark: load a synthetic cluster (bench/gen-cluster.py) and compile the
 * expected behaviour of one node's pods.
 *
 * usage: bench-policy DIR [NODE] [REPEAT]
 * Prints: load time, model memory (per pod, and of the namespaces+policies), and the
 * median/min/max time to compile NODE from a fresh engine (cold caches), on one core.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "model/model.h"
#include "policy/policy.h"
#include "bench.h"

static double now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static double cpu_ms(void)
{
	return clock_ms(CLOCK_PROCESS_CPUTIME_ID);
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void load(struct model *m, const char *path)
{
	struct np_error e = { 0 };
	char buf[1024];
	int r = model_load_file(m, path, &e);

	if (r != 0) {
		fprintf(stderr, "bench-policy: %s: %s (%d)\n", path,
			np_error_format(&e, buf, sizeof(buf)), r);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	_cleanup_(model_freep) struct model *m = NULL;
	const char *node = argc > 2 ? argv[2] : "node-0";
	int repeat = argc > 3 ? atoi(argv[3]) : 21;
	const struct model_pod *const *pods;
	const struct model_policy *const *pols;
	char path[4096];
	size_t h0, h1, h2, n_pods, n_node;
	double t0, t1, t2, c1, c2, *times;
	struct rusage ru;

	if (argc < 2) {
		fprintf(stderr, "usage: bench-policy DIR [NODE] [REPEAT]\n");
		return 2;
	}
	if (model_new(&m) < 0)
		return 1;
	h0 = heap_in_use();
	t0 = now_ms();
	snprintf(path, sizeof(path), "%s/ns-policies.json", argv[1]);
	load(m, path);
	h1 = heap_in_use();
	t1 = now_ms();
	c1 = cpu_ms();
	snprintf(path, sizeof(path), "%s/pods.json", argv[1]);
	load(m, path);
	t2 = now_ms();
	c2 = cpu_ms();
	/* Views and the IP index are part of the model's steady state. */
	n_pods = model_pods(m, &pods);
	if (!getenv("NO_BYIP"))
		(void)model_pod_by_ip(m, 0);
	h2 = heap_in_use();
	printf("load: namespaces+policies %.1f ms, %zu pods %.1f ms (CPU %.1f ms)\n", t1 - t0,
	       n_pods, t2 - t1, c2 - c1);
	printf("memory: namespaces+%zu policies %zu KiB; pods %.0f bytes/pod (model_memory_usage "
	       "%.0f bytes/pod overall)\n",
	       model_policies(m, &pols), (h1 - h0) / 1024, (double)(h2 - h1) / (double)n_pods,
	       (double)model_memory_usage(m) / (double)n_pods);

	n_node = model_pods_on_node(m, node, &pods);
	times = calloc(repeat, sizeof(*times));
	const struct policy_expect **ex = calloc(n_node ? n_node : 1, sizeof(*ex));
	if (!times || !ex)
		return 1;
	for (int i = 0; i < repeat; i++) {
		_cleanup_(policy_engine_freep) struct policy_engine *e = NULL;
		double a = now_ms();
		int r;

		if (policy_engine_new(m, &e) < 0)
			return 1;
		r = policy_engine_expect_node(e, node, ex, n_node);
		if (r < 0 || (size_t)r != n_node) {
			fprintf(stderr, "bench-policy: compile failed: %d\n", r);
			return 1;
		}
		times[i] = now_ms() - a;
	}
	qsort(times, repeat, sizeof(*times), dbl_cmp);
	printf("compile %s (%zu pods), fresh engine each time, %d runs: median %.2f ms, min %.2f, "
	       "max %.2f\n",
	       node, n_node, repeat, times[repeat / 2], times[0], times[repeat - 1]);
	getrusage(RUSAGE_SELF, &ru);
	printf("peak RSS %ld MiB\n", ru.ru_maxrss / 1024);
	free(times);
	free(ex);
	return 0;
}
