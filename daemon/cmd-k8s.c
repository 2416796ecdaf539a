/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* npaudit cluster-dump: list the five resources the agent follows, through its API client. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "cli.h"
#include "k8s/k8s.h"

struct dump {
	json_t *items;
	size_t count[_MODEL_KIND_MAX];
	bool failed;
};

static void dump_object(void *userdata, enum model_kind kind, enum k8s_event event, json_t *obj)
{
	struct dump *d = userdata;

	if (event == K8S_EVENT_DELETED)
		return;
	if (json_array_append(d->items, obj) < 0)
		d->failed = true;
	d->count[kind]++;
}

static void dump_log(void *userdata, int prio, const char *msg)
{
	if (prio <= LOG_WARNING)
		fprintf(stderr, "npaudit: %s\n", msg);
}

static bool dump_done(void *userdata)
{
	return k8s_client_finished(userdata);
}

static int cluster_dump(int argc, char **argv)
{
	static const struct option options[] = {
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "apiserver", required_argument, NULL, 'a' },
		{ "token-file", required_argument, NULL, 't' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static const char *const plural[] = { "namespaces", "pods", "networkpolicies", "services",
					      "daemonsets" };
	_cleanup_(k8s_config_freep) struct k8s_config *cfg = NULL;
	_cleanup_(k8s_client_freep) struct k8s_client *c = NULL;
	const char *kubeconfig = NULL, *server = NULL, *token = NULL, *ca = NULL;
	struct k8s_options opts = { .list_only = true, .keep_objects = true };
	struct k8s_callbacks cb = { .object = dump_object, .log = dump_log };
	struct dump d = { 0 };
	struct np_error err = { 0 };
	unsigned timeout = 60;
	bool json = false;
	char ebuf[1024];
	json_t *list;
	int opt, r;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "hj", options, NULL)) >= 0)
		switch (opt) {
		case 'k':
			kubeconfig = optarg;
			break;
		case 'a':
			server = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'c':
			ca = optarg;
			break;
		case 'T':
			timeout = (unsigned)strtoul(optarg, NULL, 10);
			if (timeout == 0)
				return cli_fail("--timeout needs a number of seconds > 0");
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("Usage: npaudit cluster-dump [--kubeconfig F] [--apiserver URL "
			       "--token-file F --ca-file F] [--timeout SEC] [--json]\n\n"
			       "Lists namespaces, pods, NetworkPolicies, services and "
			       "kube-system's "
			       "daemonsets through npaudit's API client. --json prints a "
			       "kubectl-style "
			       "List (the input of the offline commands); otherwise a summary.\n"
			       "Without flags: $KUBECONFIG, ~/.kube/config, or the in-cluster "
			       "service account.\n");
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	if (optind < argc)
		return cli_fail("cluster-dump: unexpected argument '%s'", argv[optind]);
	if ((token || ca) && !server)
		return cli_fail("--token-file and --ca-file go with --apiserver");

	r = k8s_config_auto(kubeconfig, server, token, ca, &cfg, &err);
	if (r < 0)
		return cli_fail("%s", np_error_format(&err, ebuf, sizeof(ebuf)));
	d.items = json_array();
	if (!d.items)
		return cli_fail("out of memory");
	opts.backoff_max_usec = 5000000;
	opts.max_failures = 3;
	r = k8s_client_new(cfg, &opts, NULL, &cb, &d, &c, &err);
	if (r < 0) {
		json_decref(d.items);
		return cli_fail("%s", np_error_format(&err, ebuf, sizeof(ebuf)));
	}
	r = k8s_client_start(c);
	if (r >= 0)
		r = k8s_client_run(c, k8s_now_usec() + (uint64_t)timeout * 1000000, dump_done, c);
	if (r > 0 && !k8s_client_synced(c)) {
		json_decref(d.items);
		return cli_fail("cluster-dump: cannot list from %s: %s", cfg->server,
				k8s_client_last_error(c) ?: "unknown error");
	}
	if (r <= 0 || d.failed) {
		json_decref(d.items);
		if (r == 0)
			return cli_fail("cluster-dump: no complete list from %s within %u s",
					cfg->server, timeout);
		return cli_fail("cluster-dump: %s", r < 0 ? np_strerror(r) : "out of memory");
	}

	if (!json) {
		printf("API server %s\n", cfg->server);
		for (int k = 0; k < _MODEL_KIND_MAX; k++) {
			struct k8s_stats st = { 0 };

			k8s_client_stats(c, (enum model_kind)k, &st);
			printf("  %zu %s (resourceVersion %s)\n", d.count[k], plural[k],
			       st.resource_version);
		}
		json_decref(d.items);
		return EXIT_OK;
	}
	list = json_pack("{s:s, s:s, s:{}, s:o}", "apiVersion", "v1", "kind", "List", "metadata",
			 "items", d.items);
	if (!list || json_dumpf(list, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
		json_decref(list);
		return cli_fail("cannot write the list");
	}
	fputc('\n', stdout);
	json_decref(list);
	return EXIT_OK;
}

const struct cli_command cli_k8s_commands[] = {
	{ "cluster-dump", cluster_dump,
	  "[--kubeconfig F | --apiserver URL --token-file F --ca-file F] [--json]",
	  "List the cluster's namespaces, pods, policies, services, daemonsets" },
	{},
};
