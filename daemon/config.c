/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The config file is INI without sections (key = value, '#' or ';' comments), read with
 * libinih: a well-kept parser for exactly this format, so the daemon has none of its own. */
#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "audit/audit.h"
#include "config.h"
#include "log.h"

int config_parse_duration(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		uint64_t mul;
	} units[] = {
		{ "us", 1 },	   { "ms", 1000 },	{ "s", 1000000 },	{ "sec", 1000000 },
		{ "m", 60000000 }, { "min", 60000000 }, { "h", 3600000000ull },
	};
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0 || v > 1e9)
		return -EINVAL;
	while (*end == ' ')
		end++;
	if (!*end) {
		*ret = (uint64_t)(v * 1e6);
		return 0;
	}
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (streq(end, units[i].suffix)) {
			*ret = (uint64_t)(v * (double)units[i].mul);
			return 0;
		}
	return -EINVAL;
}

const char *remediate_mode_to_string(enum remediate_mode m)
{
	switch (m) {
	case REMEDIATE_DRY_RUN:
		return "dry-run";
	case REMEDIATE_RESTART_CNI:
		return "restart-cni";
	case REMEDIATE_OFF:
	default:
		return "off";
	}
}

static int set_str(char **dst, const char *v)
{
	char *s = NULL;

	if (v && *v && !(s = strdup(v)))
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

int config_init(struct config *c)
{
	*c = (struct config){
		.socket_mode = 0660,
		.poll_usec = 2 * 1000000ull,
		.poll_cpu_ppm = 3000, /* 0.3 % of a core */
		.full_usec = 300 * 1000000ull,
		.debounce_usec = 50000,
		.events = false,
		.log_level = LOG_INFO,
		.journal_rate_usec = 60 * 1000000ull,
		.remediate = REMEDIATE_OFF,
		.remediate_audits = 3,
		.remediate_after_usec = 60 * 1000000ull,
		.remediate_cooldown_usec = 15 * 60 * 1000000ull,
		.remediate_daily_budget = 4,
		.remediate_grace_usec = 120 * 1000000ull,
	};
	if (set_str(&c->socket_path, CONFIG_DEFAULT_SOCKET) < 0 ||
	    set_str(&c->cni_conf_dir, "/etc/cni/net.d") < 0 ||
	    set_str(&c->state_file, "/var/lib/npaudit/state.json") < 0)
		return -ENOMEM;
	return 0;
}

void config_done(struct config *c)
{
	free(c->node);
	free(c->kubeconfig);
	free(c->apiserver);
	free(c->token_file);
	free(c->ca_file);
	free(c->socket_path);
	free(c->socket_group);
	free(c->socket_allow_uids);
	free(c->metrics_listen);
	free(c->cni_conf_dir);
	free(c->state_file);
	for (size_t i = 0; i < c->n_flags; i++)
		free(c->flags[i]);
	free(c->flags);
	*c = (struct config){ 0 };
}

static int parse_bool(const char *v, bool *ret)
{
	if (streq(v, "yes") || streq(v, "true") || streq(v, "on") || streq(v, "1"))
		*ret = true;
	else if (streq(v, "no") || streq(v, "false") || streq(v, "off") || streq(v, "0"))
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

/* socket-allow-uids: numeric uids separated by spaces or commas; empty clears the list. */
static int parse_uids(struct config *c, const char *key, const char *v, struct np_error *e)
{
	_cleanup_(freep) uint32_t *uids = NULL;
	size_t n = 0;
	const char *p = v ? v : "";

	for (;;) {
		char *end;
		unsigned long u;
		uint32_t *x;

		p += strspn(p, " \t,");
		if (!*p)
			break;
		if (*p < '0' || *p > '9')
			return np_error_set(e, -EINVAL, NULL, NULL, key, 0,
					    "'%s' is not a list of numeric uids", v);
		errno = 0;
		u = strtoul(p, &end, 10);
		if (errno || u >= UINT32_MAX || (*end && !strchr(" \t,", *end)))
			return np_error_set(e, -EINVAL, NULL, NULL, key, 0,
					    "'%s' is not a list of numeric uids", v);
		if (n >= 1024)
			return np_error_set(e, -EINVAL, NULL, NULL, key, 0,
					    "more than 1024 uids; use socket-group");
		x = reallocarray(uids, n + 1, sizeof(*uids));
		if (!x)
			return -ENOMEM;
		uids = x;
		uids[n++] = (uint32_t)u;
		p = end;
	}
	free(c->socket_allow_uids);
	c->socket_allow_uids = TAKE_PTR(uids);
	c->n_socket_allow_uids = n;
	return 0;
}

int config_set(struct config *c, const char *key, const char *v, struct np_error *e)
{
	static const struct {
		const char *key;
		size_t off;
	} strs[] = {
		{ "node", offsetof(struct config, node) },
		{ "kubeconfig", offsetof(struct config, kubeconfig) },
		{ "apiserver", offsetof(struct config, apiserver) },
		{ "token-file", offsetof(struct config, token_file) },
		{ "ca-file", offsetof(struct config, ca_file) },
		{ "socket", offsetof(struct config, socket_path) },
		{ "socket-group", offsetof(struct config, socket_group) },
		{ "metrics-listen", offsetof(struct config, metrics_listen) },
		{ "cni-conf-dir", offsetof(struct config, cni_conf_dir) },
		{ "state-file", offsetof(struct config, state_file) },
	};
	static const struct {
		const char *key;
		size_t off;
		uint64_t min;
	} durs[] = {
		{ "poll-interval", offsetof(struct config, poll_usec), 100000 },
		{ "full-audit-interval", offsetof(struct config, full_usec), 1000000 },
		{ "debounce", offsetof(struct config, debounce_usec), 0 },
		{ "journal-rate-limit", offsetof(struct config, journal_rate_usec), 0 },
		{ "remediate-after", offsetof(struct config, remediate_after_usec), 0 },
		{ "remediate-cooldown", offsetof(struct config, remediate_cooldown_usec), 0 },
		{ "remediate-grace", offsetof(struct config, remediate_grace_usec), 0 },
	};
	static const struct {
		const char *key;
		size_t off;
		unsigned min, max;
	} uints[] = {
		{ "remediate-audits", offsetof(struct config, remediate_audits), 1, 1000 },
		{ "audit-threads", offsetof(struct config, audit_threads), 0, AUDIT_THREADS_MAX },
		{ "remediate-daily-budget", offsetof(struct config, remediate_daily_budget), 0,
		  100 },
	};
	int r;

	for (size_t i = 0; i < ELEMENTSOF(strs); i++)
		if (streq(key, strs[i].key))
			return set_str((char **)((char *)c + strs[i].off), v);
	for (size_t i = 0; i < ELEMENTSOF(durs); i++)
		if (streq(key, durs[i].key)) {
			uint64_t d;
			if (config_parse_duration(v, &d) < 0)
				return np_error_set(e, -EINVAL, NULL, NULL, key, 0,
						    "'%s' is not a duration (e.g. 50ms, 2s, 5min)",
						    v);
			if (d < durs[i].min)
				return np_error_set(e, -EINVAL, NULL, NULL, key, 0,
						    "'%s' is below the minimum of %llu ms", v,
						    (unsigned long long)durs[i].min / 1000);
			*(uint64_t *)((char *)c + durs[i].off) = d;
			return 0;
		}
	for (size_t i = 0; i < ELEMENTSOF(uints); i++)
		if (streq(key, uints[i].key)) {
			char *end;
			unsigned long n;
			errno = 0;
			n = strtoul(v, &end, 10);
			if (errno || end == v || *end || n < uints[i].min || n > uints[i].max)
				return np_error_set(e, -EINVAL, NULL, NULL, key, 0,
						    "'%s' is not a number from %u to %u", v,
						    uints[i].min, uints[i].max);
			*(unsigned *)((char *)c + uints[i].off) = (unsigned)n;
			return 0;
		}
	if (streq(key, "remediate")) {
		if (streq(v, "off") || streq(v, "no"))
			c->remediate = REMEDIATE_OFF;
		else if (streq(v, "dry-run"))
			c->remediate = REMEDIATE_DRY_RUN;
		else if (streq(v, "restart-cni"))
			c->remediate = REMEDIATE_RESTART_CNI;
		else
			return np_error_set(e, -EINVAL, NULL, NULL, key, 0,
					    "'%s' is not off, dry-run or restart-cni", v);
		return 0;
	}
	if (streq(key, "poll-cpu-budget")) {
		char *end;
		double pct;

		errno = 0;
		pct = strtod(v, &end);
		if (end != v && *end == '%')
			end++;
		if (errno || end == v || *end || !(pct >= 0 && pct <= 100))
			return np_error_set(e, -EINVAL, NULL, NULL, key, 0,
					    "'%s' is not a percentage of a core from 0 to 100 "
					    "(e.g. 0.4%%; 0: no limit)",
					    v);
		c->poll_cpu_ppm = (unsigned)(pct * 10000 + 0.5);
		if (pct > 0 && c->poll_cpu_ppm == 0)
			c->poll_cpu_ppm = 1;
		return 0;
	}
	if (streq(key, "events")) {
		if (parse_bool(v, &c->events) < 0)
			return np_error_set(e, -EINVAL, NULL, NULL, key, 0, "'%s' is not yes or no",
					    v);
		return 0;
	}
	if (streq(key, "log-level")) {
		r = log_level_from_string(v);
		if (r < 0)
			return np_error_set(e, -EINVAL, NULL, NULL, key, 0,
					    "'%s' is not debug, info, notice, warning or error", v);
		c->log_level = r;
		return 0;
	}
	if (streq(key, "socket-allow-uids"))
		return parse_uids(c, key, v, e);
	if (streq(key, "socket-mode")) {
		char *end;
		unsigned long m = strtoul(v, &end, 8);
		if (*end || m > 0777)
			return np_error_set(e, -EINVAL, NULL, NULL, key, 0,
					    "'%s' is not an octal mode", v);
		c->socket_mode = (unsigned)m;
		return 0;
	}
	return np_error_set(e, -EINVAL, NULL, NULL, key, 0, "unknown setting");
}

int config_set_flag(struct config *c, const char *key, const char *v, struct np_error *e)
{
	char **f;
	int r = config_set(c, key, v, e);

	if (r < 0)
		return r;
	f = reallocarray(c->flags, c->n_flags + 3, sizeof(*f));
	if (!f)
		return -ENOMEM;
	c->flags = f;
	f[c->n_flags] = strdup(key);
	f[c->n_flags + 1] = strdup(v ? v : "");
	f[c->n_flags + 2] = NULL;
	if (!f[c->n_flags] || !f[c->n_flags + 1]) {
		free(f[c->n_flags]);
		free(f[c->n_flags + 1]);
		f[c->n_flags] = NULL;
		return -ENOMEM;
	}
	c->n_flags += 2;
	return 0;
}

int config_apply_flags(struct config *c, const struct config *from, struct np_error *e)
{
	for (size_t i = 0; i + 1 < from->n_flags; i += 2) {
		int r = config_set(c, from->flags[i], from->flags[i + 1], e);

		if (r < 0)
			return r;
	}
	return 0;
}

struct ini_ctx {
	struct config *c;
	struct np_error *e;
	int r;
};

static int on_ini_line(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *x = user;

	if (x->r < 0)
		return 1; /* keep the first error: inih reports its line */
	if (section && *section) {
		x->r = np_error_set(x->e, -EINVAL, NULL, NULL, section, 0,
				    "sections are not used in this file");
		return 0;
	}
	x->r = config_set(x->c, name, value, x->e);
	return x->r >= 0;
}

static int ini_result(struct ini_ctx *x, int line, const char *name)
{
	if (line == 0)
		return 0;
	if (x->r < 0) {
		if (x->e) {
			snprintf(x->e->file, sizeof(x->e->file), "%s", name);
			x->e->line = (unsigned)line;
		}
		return x->r;
	}
	return np_error_set(x->e, -EBADMSG, name, NULL, NULL, (unsigned)(line > 0 ? line : 0),
			    "not a 'key = value' line");
}

int config_load_string(struct config *c, const char *text, const char *name, struct np_error *e)
{
	struct ini_ctx x = { .c = c, .e = e };

	return ini_result(&x, ini_parse_string(text, on_ini_line, &x), name);
}

int config_load_file(struct config *c, const char *path, bool optional, struct np_error *e)
{
	struct ini_ctx x = { .c = c, .e = e };
	FILE *f = fopen(path, "re");
	int line;

	if (!f) {
		if (errno == ENOENT && optional)
			return 0;
		return np_error_set(e, -errno, path, NULL, NULL, 0, "cannot open: %s",
				    strerror(errno));
	}
	line = ini_parse_file(f, on_ini_line, &x);
	fclose(f);
	return ini_result(&x, line, path);
}
