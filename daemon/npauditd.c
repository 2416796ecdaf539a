/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * npauditd: the node agent. main() only sets up: settings from the config file and the
 * command line, then the manager, which owns everything that runs.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cap-ng.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "log.h"
#include "manager.h"

static void help(FILE *f)
{
	fprintf(f,
		"Usage: npauditd [OPTIONS]\n\n"
		"Audits continuously that this node's packet filter does what the cluster's\n"
		"NetworkPolicies say. See npauditd(8) and npauditd.conf(5).\n\n"
		"  -c, --config PATH            config file (default " CONFIG_DEFAULT_PATH ")\n"
		"      --node NAME              this node (default $NODE_NAME, else the host "
		"name)\n"
		"      --kubeconfig PATH        API credentials from a kubeconfig\n"
		"      --apiserver URL          API server (with --token-file, --ca-file)\n"
		"      --token-file PATH        bearer token file (re-read when it rotates)\n"
		"      --ca-file PATH           CA bundle for the API server\n"
		"      --socket PATH            local API socket (default " CONFIG_DEFAULT_SOCKET
		")\n"
		"      --socket-group GROUP     group that may use the socket (mode 0660)\n"
		"      --socket-mode MODE       octal mode of the socket (default 0660)\n"
		"      --socket-allow-uids UIDS besides root, only these uids (and socket-group)\n"
		"                               are served; others get 403\n"
		"      --metrics-listen ADDR:PORT  Prometheus metrics listener (default off)\n"
		"      --poll-interval DURATION iptables-legacy/ipset change check (default 2s)\n"
		"      --poll-cpu-budget PERCENT  the most of a core the check may use; a "
		"costlier\n"
		"                               check is made less often (default 0.3%%, 0: off)\n"
		"      --full-audit-interval DURATION  safety-net full audit (default 5min)\n"
		"      --audit-threads N        threads for an audit's checks (default 0: one per\n"
		"                               CPU the agent may use)\n"
		"      --debounce DURATION      wait after a change before auditing (default "
		"50ms)\n"
		"      --events / --no-events   Kubernetes Events on pods with new drift (default "
		"off)\n"
		"      --log-level LEVEL        debug, info, notice, warning or error (default "
		"info)\n"
		"      --cni-conf-dir DIR       the node's CNI configuration (default "
		"/etc/cni/net.d)\n"
		"      --state-file PATH        remediation state (default "
		"/var/lib/npaudit/state.json)\n"
		"      --remediate MODE         off, dry-run or restart-cni: delete this node's\n"
		"                               CNI agent pod when drift persists (default off)\n"
		"      --remediate-audits N     drift persists this many audits (default 3)\n"
		"      --remediate-after DURATION  and this long (default 60s)\n"
		"      --remediate-cooldown DURATION  at most one restart per (default 15min)\n"
		"      --remediate-daily-budget N  at most N restarts per 24 hours (default 4)\n"
		"      --remediate-grace DURATION  an agent pod not Ready for less is left to\n"
		"                               recover on its own (default 2min)\n"
		"      --keep-caps              keep every capability (debugging)\n"
		"  -h, --help                   this help\n"
		"      --version                the version\n");
}

/* Keeps CAP_NET_ADMIN and CAP_NET_RAW: reading nftables, iptables and ipsets needs the first,
 * and libiptc reads iptables-legacy through a raw socket, which needs the second. Nothing else
 * the agent does after start-up needs privilege. */
static int drop_capabilities(void)
{
	if (geteuid() != 0)
		return 0;
	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			 CAP_NET_ADMIN) < 0 ||
	    capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			 CAP_NET_RAW) < 0)
		return -EINVAL;
	if (capng_apply(CAPNG_SELECT_BOTH) < 0)
		return -EPERM;
	(void)prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		OPT_NODE = 0x100,
		OPT_VERSION,
		OPT_NO_EVENTS,
		OPT_KEEP_CAPS,
	};
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "node", required_argument, NULL, OPT_NODE },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "apiserver", required_argument, NULL, 'a' },
		{ "token-file", required_argument, NULL, 't' },
		{ "ca-file", required_argument, NULL, 'C' },
		{ "socket", required_argument, NULL, 's' },
		{ "socket-group", required_argument, NULL, 'g' },
		{ "socket-allow-uids", required_argument, NULL, 'u' },
		{ "socket-mode", required_argument, NULL, 'M' },
		{ "metrics-listen", required_argument, NULL, 'm' },
		{ "poll-interval", required_argument, NULL, 'p' },
		{ "poll-cpu-budget", required_argument, NULL, 'P' },
		{ "full-audit-interval", required_argument, NULL, 'f' },
		{ "audit-threads", required_argument, NULL, 'A' },
		{ "debounce", required_argument, NULL, 'd' },
		{ "events", no_argument, NULL, 'e' },
		{ "no-events", no_argument, NULL, OPT_NO_EVENTS },
		{ "log-level", required_argument, NULL, 'l' },
		{ "cni-conf-dir", required_argument, NULL, 'n' },
		{ "state-file", required_argument, NULL, 'S' },
		{ "journal-rate-limit", required_argument, NULL, 'J' },
		{ "remediate", required_argument, NULL, 'R' },
		{ "remediate-audits", required_argument, NULL, 'N' },
		{ "remediate-after", required_argument, NULL, 'T' },
		{ "remediate-cooldown", required_argument, NULL, 'O' },
		{ "remediate-daily-budget", required_argument, NULL, 'B' },
		{ "remediate-grace", required_argument, NULL, 'G' },
		{ "keep-caps", no_argument, NULL, OPT_KEEP_CAPS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{},
	};
	static const char *const keys[128] = {
		['k'] = "kubeconfig",
		['a'] = "apiserver",
		['t'] = "token-file",
		['C'] = "ca-file",
		['s'] = "socket",
		['g'] = "socket-group",
		['u'] = "socket-allow-uids",
		['M'] = "socket-mode",
		['m'] = "metrics-listen",
		['p'] = "poll-interval",
		['P'] = "poll-cpu-budget",
		['f'] = "full-audit-interval",
		['A'] = "audit-threads",
		['d'] = "debounce",
		['l'] = "log-level",
		['n'] = "cni-conf-dir",
		['S'] = "state-file",
		['J'] = "journal-rate-limit",
		['R'] = "remediate",
		['N'] = "remediate-audits",
		['T'] = "remediate-after",
		['O'] = "remediate-cooldown",
		['B'] = "remediate-daily-budget",
		['G'] = "remediate-grace",
	};
	_cleanup_(manager_freep) struct manager *m = NULL;
	struct config cfg;
	struct np_error e = { 0 };
	const char *config_path = CONFIG_DEFAULT_PATH;
	bool explicit_config = false, keep_caps = false;
	char buf[1200];
	int c, r;

	/* The config file first, flags override it: find --config before anything else. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0)
		if (c == 'c') {
			config_path = optarg;
			explicit_config = true;
		}
	if (config_init(&cfg) < 0)
		return EXIT_FAILURE;
	r = config_load_file(&cfg, config_path, !explicit_config, &e);
	if (r < 0) {
		fprintf(stderr, "npauditd: %s\n", np_error_format(&e, buf, sizeof(buf)));
		config_done(&cfg);
		return 2;
	}
	opterr = 1;
	optind = 0;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			break;
		case 'h':
			help(stdout);
			config_done(&cfg);
			return 0;
		case OPT_VERSION:
			printf("npauditd %s\n", NPAUDIT_VERSION);
			config_done(&cfg);
			return 0;
		case OPT_NODE:
			r = config_set_flag(&cfg, "node", optarg, &e);
			break;
		case 'e':
			r = config_set_flag(&cfg, "events", "yes", &e);
			break;
		case OPT_NO_EVENTS:
			r = config_set_flag(&cfg, "events", "no", &e);
			break;
		case OPT_KEEP_CAPS:
			keep_caps = true;
			break;
		default:
			if (c > 0 && c < 128 && keys[c]) {
				r = config_set_flag(&cfg, keys[c], optarg, &e);
				break;
			}
			help(stderr);
			config_done(&cfg);
			return 2;
		}
		if (r < 0) {
			fprintf(stderr, "npauditd: --%s\n", np_error_format(&e, buf, sizeof(buf)));
			config_done(&cfg);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "npauditd: unexpected argument '%s'\n", argv[optind]);
		config_done(&cfg);
		return 2;
	}
	if (!cfg.node) {
		const char *env = getenv("NODE_NAME");
		char host[256];

		if (env && *env)
			r = config_set(&cfg, "node", env, &e);
		else if (gethostname(host, sizeof(host)) == 0) {
			host[sizeof(host) - 1] = 0;
			r = config_set(&cfg, "node", host, &e);
		}
		if (!cfg.node) {
			fprintf(stderr,
				"npauditd: no node name: set --node, node = or $NODE_NAME\n");
			config_done(&cfg);
			return 2;
		}
	}
	log_set_max_level(cfg.log_level);

	r = manager_new(&cfg, config_path, &m);
	if (r < 0) {
		config_done(&cfg);
		return EXIT_FAILURE;
	}
	r = manager_start(m);
	if (r < 0) {
		sd_notifyf(0, "STATUS=Failed to start: %s\nERRNO=%d", np_strerror(r), -r);
		return EXIT_FAILURE;
	}
	if (!keep_caps) {
		r = drop_capabilities();
		if (r < 0)
			log_warning_errno(
				r, "Cannot drop capabilities, going on with the ones we have");
	}
	r = manager_run(m);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
