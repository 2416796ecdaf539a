/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * API client benchmark against the emulator (bench/run-k8s.sh sets it up): the initial sync of
 * the cluster the emulator holds (wall, CPU, peak and steady RSS of this process, model memory),
 * then the cost of following a stream of pod updates the emulator generates at a given rate.
 *
 * bench-k8s --apiserver URL --token-file F --ca-file F --control URL [--rate N] [--seconds S]
 *           [--no-model] [--repeat N] [--relist] [--json]
 *
 * --relist: after the watch, the API server goes away, 100 pods change, history is compacted
 * and the server comes back: the informers get 410 Gone and list everything again, most of it
 * unchanged; prints the CPU time of that re-list.
 * --json lists and watches pods in JSON as well (by default the client asks for protobuf).
 * --repeat N syncs N - 1 more times at the end (a new client and model each time) and prints the
 * smallest and the median CPU time of the N syncs: on a shared machine single runs vary a lot.
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>

#include "k8s/k8s.h"

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long peak_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static bool synced(void *userdata)
{
	return k8s_client_synced(userdata);
}

static int control(const char *base, const char *path, const char *body)
{
	char url[512];
	CURL *e = curl_easy_init();
	CURLcode cc;
	long code = 0;
	FILE *devnull = fopen("/dev/null", "we");

	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, devnull);
	cc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(e);
	if (devnull)
		fclose(devnull);
	return cc == CURLE_OK && code == 200 ? 0 : -EIO;
}

static void on_log(void *userdata, int prio, const char *msg)
{
	if (prio <= 4)
		fprintf(stderr, "bench-k8s: %s\n", msg);
}

/* Follows the pod update stream the emulator generates at `rate` for `seconds`. */
static int follow(struct k8s_client *c, const char *ctl, unsigned rate, unsigned seconds)
{
	struct k8s_stats st0, st1;
	double cpu1, cpu2, wall1, wall2;
	char body[128];

	/* let the watches start before the stream begins */
	k8s_client_run(c, k8s_now_usec() + 1000000, NULL, NULL);
	snprintf(body, sizeof(body), "{\"count\": %u, \"rate\": %u, \"background\": true}",
		 rate * seconds, rate);
	if (control(ctl, "/update-pods", body) < 0) {
		fprintf(stderr, "bench-k8s: control request failed\n");
		return -EIO;
	}
	k8s_client_stats(c, MODEL_POD, &st0);
	wall1 = (double)k8s_now_usec() / 1e6;
	cpu1 = cpu_seconds();
	k8s_client_run(c, k8s_now_usec() + (uint64_t)seconds * 1000000, NULL, NULL);
	wall2 = (double)k8s_now_usec() / 1e6;
	cpu2 = cpu_seconds();
	k8s_client_stats(c, MODEL_POD, &st1);
	printf("watch: %llu pod events in %.1f s (%.0f/s asked), client CPU %.3f s = %.1f%% of one "
	       "core, RSS %.1f MiB\n",
	       (unsigned long long)(st1.events - st0.events), wall2 - wall1, (double)rate,
	       cpu2 - cpu1, 100.0 * (cpu2 - cpu1) / (wall2 - wall1), (double)rss_kib() / 1024);
	return 0;
}

struct relist_wait {
	struct k8s_client *c;
	uint64_t relists, pages;
};

static bool relisted(void *userdata)
{
	struct relist_wait *w = userdata;
	struct k8s_stats st;

	return k8s_client_stats(w->c, MODEL_POD, &st) == 0 && st.relists > w->relists &&
	       st.pages >= w->pages;
}

/* The server goes away, pods change, history is compacted: the informers re-list after 410. */
static int relist_after_compaction(struct k8s_client *c, const char *ctl, uint64_t pages)
{
	struct relist_wait w = { c, 0, 0 };
	struct k8s_stats st0, st1;
	double cpu0, cpu1;

	k8s_client_stats(c, MODEL_POD, &st0);
	w.relists = st0.relists;
	w.pages = st0.pages + pages;
	if (control(ctl, "/outage", "{\"seconds\": 60}") < 0 ||
	    control(ctl, "/update-pods", "{\"count\": 100}") < 0 ||
	    control(ctl, "/compact", "{}") < 0 || control(ctl, "/resume", "{}") < 0) {
		fprintf(stderr, "bench-k8s: control request failed\n");
		return -EIO;
	}
	cpu0 = cpu_seconds();
	if (k8s_client_run(c, k8s_now_usec() + 120000000ull, relisted, &w) <= 0) {
		fprintf(stderr, "bench-k8s: no re-list within 120 s\n");
		return -ETIMEDOUT;
	}
	cpu1 = cpu_seconds();
	k8s_client_stats(c, MODEL_POD, &st1);
	printf("re-list after compaction: %llu pods not decoded again (unchanged), client CPU "
	       "%.2f s\n",
	       (unsigned long long)(st1.unchanged - st0.unchanged), cpu1 - cpu0);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Syncs n - 1 more times, each with a new client and model; prints min and median CPU. */
static int resync(const struct k8s_config *cfg, const struct k8s_options *opts, bool no_model,
		  unsigned n, double *cpu)
{
	for (unsigned i = 1; i < n; i++) {
		_cleanup_(k8s_client_freep) struct k8s_client *c = NULL;
		_cleanup_(model_freep) struct model *m = NULL;
		struct k8s_callbacks cb = { .log = on_log };
		double t0;

		if (model_new(&m) < 0 ||
		    k8s_client_new(cfg, opts, no_model ? NULL : m, &cb, NULL, &c, NULL) < 0)
			return 1;
		t0 = cpu_seconds();
		k8s_client_start(c);
		if (k8s_client_run(c, k8s_now_usec() + 300000000ull, synced, c) <= 0) {
			fprintf(stderr, "bench-k8s: no sync within 300 s\n");
			return 1;
		}
		cpu[i] = cpu_seconds() - t0;
	}
	qsort(cpu, n, sizeof(*cpu), cmp_double);
	printf("initial sync CPU over %u syncs: min %.2f s, median %.2f s, max %.2f s\n", n, cpu[0],
	       n % 2 ? cpu[n / 2] : (cpu[n / 2 - 1] + cpu[n / 2]) / 2, cpu[n - 1]);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "apiserver", required_argument, NULL, 'a' },
		{ "token-file", required_argument, NULL, 't' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "control", required_argument, NULL, 'C' },
		{ "rate", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "no-model", no_argument, NULL, 'n' },
		{ "repeat", required_argument, NULL, 'R' },
		{ "relist", no_argument, NULL, 'L' },
		{ "json", no_argument, NULL, 'J' },
		{},
	};
	_cleanup_(k8s_config_freep) struct k8s_config *cfg = NULL;
	_cleanup_(k8s_client_freep) struct k8s_client *c = NULL;
	_cleanup_(model_freep) struct model *m = NULL;
	const char *server = NULL, *token = NULL, *ca = NULL, *ctl = NULL;
	struct k8s_callbacks cb = { .log = on_log };
	struct k8s_options opts = { 0 };
	struct k8s_stats st0;
	struct np_error err = { 0 };
	unsigned rate = 1000, seconds = 10, repeat = 1;
	double sync_cpu[64];
	bool no_model = false, relist = false;
	double cpu0, cpu1, wall0, wall1;
	const struct model_namespace *const *nss;
	const struct model_policy *const *pols;
	char ebuf[1024];
	int opt, r;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
		switch (opt) {
		case 'a':
			server = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'c':
			ca = optarg;
			break;
		case 'C':
			ctl = optarg;
			break;
		case 'r':
			rate = (unsigned)atoi(optarg);
			break;
		case 's':
			seconds = (unsigned)atoi(optarg);
			break;
		case 'n':
			no_model = true; /* the client's own cost: decode and store, no model */
			break;
		case 'R':
			repeat = (unsigned)atoi(optarg);
			break;
		case 'L':
			relist = true;
			break;
		case 'J':
			opts.json_only = true;
			break;
		default:
			return 2;
		}
	if (!server || !ctl) {
		fprintf(stderr, "usage: bench-k8s --apiserver URL --token-file F --ca-file F "
				"--control URL [--rate N] [--seconds S]\n");
		return 2;
	}
	r = k8s_config_explicit(server, token, ca, &cfg, &err);
	if (r >= 0)
		r = model_new(&m);
	if (r >= 0)
		r = k8s_client_new(cfg, &opts, no_model ? NULL : m, &cb, NULL, &c, &err);
	if (r < 0) {
		fprintf(stderr, "bench-k8s: %s\n", np_error_format(&err, ebuf, sizeof(ebuf)));
		return 1;
	}

	wall0 = (double)k8s_now_usec() / 1e6;
	cpu0 = cpu_seconds();
	k8s_client_start(c);
	r = k8s_client_run(c, k8s_now_usec() + 300000000ull, synced, c);
	if (r <= 0) {
		fprintf(stderr, "bench-k8s: no sync within 300 s\n");
		return 1;
	}
	wall1 = (double)k8s_now_usec() / 1e6;
	cpu1 = cpu_seconds();
	sync_cpu[0] = cpu1 - cpu0;
	k8s_client_stats(c, MODEL_POD, &st0);
	printf("initial sync%s: %zu pods, %zu namespaces, %zu policies in %llu pages (%llu in "
	       "protobuf), %.1f MB\n",
	       no_model ? " (without the model)" : "", st0.objects, model_namespaces(m, &nss),
	       model_policies(m, &pols), (unsigned long long)st0.pages,
	       (unsigned long long)st0.protobuf_pages, (double)st0.bytes / 1e6);
	printf("  wall %.2f s, client CPU %.2f s, peak RSS %.1f MiB; HTTP/%u.%u, %llu "
	       "connections\n",
	       wall1 - wall0, cpu1 - cpu0, (double)peak_rss_kib() / 1024, st0.http_version / 10,
	       st0.http_version % 10, (unsigned long long)k8s_client_connections(c));
	malloc_trim(0);
	printf("  steady RSS after sync %.1f MiB (model %.1f MiB)\n", (double)rss_kib() / 1024,
	       (double)model_memory_usage(m) / (1 << 20));
	fflush(stdout);

	if (rate > 0 && seconds > 0) {
		r = follow(c, ctl, rate, seconds);
		if (r < 0)
			return 1;
	}
	if (relist && relist_after_compaction(c, ctl, st0.pages) < 0)
		return 1;
	if (repeat > 1)
		return resync(cfg, &opts, no_model, MIN(repeat, ELEMENTSOF(sync_cpu)), sync_cpu);
	return 0;
}
