/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CNI detection: which network plugin a node runs, which component enforces NetworkPolicy,
 * in which dataplane, and which pod is its agent on the node.
 *
 * The evidence is what anyone can see with kubectl and ls: the daemonsets' images, container
 * names, environment and arguments, their pods on the node, and the node's CNI configuration
 * directory. Container runtimes (containerd's go-cni, CRI-O's ocicni) use the first file of
 * *.conf, *.conflist and *.json in that directory by byte order, so that file names the
 * network plugin of every new pod. Nothing is guessed: what cannot be seen is reported as
 * unknown with a note saying why.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>

#include "lint-internal.h"

/* --- small helpers shared with lint.c --- */

int strv_add(struct strv *s, const char *str)
{
	char *c = strdup(str);

	if (!c)
		return -ENOMEM;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		char **v = reallocarray(s->v, cap, sizeof(*v));
		if (!v) {
			free(c);
			return -ENOMEM;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = c;
	return 0;
}

int strv_printf(struct strv *s, const char *fmt, ...)
{
	_cleanup_(freep) char *str = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&str, fmt, ap);
	va_end(ap);
	if (r < 0) {
		str = NULL;
		return -ENOMEM;
	}
	return strv_add(s, str);
}

bool strv_contains(const struct strv *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->v[i], str))
			return true;
	return false;
}

void strv_free_array(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void strv_done(struct strv *s)
{
	strv_free_array(s->v, s->n);
	*s = (struct strv){ 0 };
}

char *lint_strf(const char *fmt, ...)
{
	char *s;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

/* --- names --- */

static const char *const kind_names[_CNI_KIND_MAX] = {
	[CNI_UNKNOWN] = "unknown",
	[CNI_CALICO] = "calico",
	[CNI_CANAL] = "canal",
	[CNI_CILIUM] = "cilium",
	[CNI_WEAVE] = "weave-net",
	[CNI_KUBE_ROUTER] = "kube-router",
	[CNI_FLANNEL] = "flannel",
	[CNI_ANTREA] = "antrea",
	[CNI_KUBE_NETWORK_POLICIES] = "kube-network-policies",
	[CNI_AWS_VPC] = "aws-vpc-cni",
	[CNI_BRIDGE] = "bridge",
};

const char *cni_kind_name(enum cni_kind k)
{
	return (unsigned)k < _CNI_KIND_MAX ? kind_names[k] : NULL;
}

const char *cni_dataplane_name(enum cni_dataplane d)
{
	static const char *const names[_CNI_DP_MAX] = {
		[CNI_DP_UNKNOWN] = "unknown",
		[CNI_DP_NONE] = "none",
		[CNI_DP_IPTABLES_LEGACY] = "iptables-legacy",
		[CNI_DP_IPTABLES_NFT] = "iptables-nft",
		[CNI_DP_NFTABLES] = "nftables",
		[CNI_DP_EBPF] = "eBPF",
		[CNI_DP_OVS] = "OVS",
	};
	return (unsigned)d < _CNI_DP_MAX ? names[d] : "unknown";
}

const char *cni_enforce_name(enum cni_enforce e)
{
	return e == CNI_ENFORCE_YES ? "yes" : e == CNI_ENFORCE_NO ? "no" : "unknown";
}

/* --- image signatures --- */

/* Substrings of an image repository (the part before the tag), per plugin. Registries and
 * mirrors vary (docker.io/calico/node, quay.io/calico/node, rancher/mirrored-calico-node,
 * 602401143452.dkr.ecr....amazonaws.com/amazon-k8s-cni), so the distinctive name is matched. */
static const struct image_sig {
	enum cni_kind kind;
	const char *repo_part;
} image_sigs[] = {
	{ CNI_CALICO, "calico/node" },
	{ CNI_CALICO, "calico-node" },
	{ CNI_CILIUM, "cilium/cilium" },
	{ CNI_CILIUM, "cilium-cilium" },
	{ CNI_WEAVE, "weave-kube" },
	{ CNI_WEAVE, "weave-npc" },
	{ CNI_KUBE_ROUTER, "kube-router" },
	{ CNI_FLANNEL, "flannel/flannel" },
	{ CNI_FLANNEL, "coreos/flannel" },
	{ CNI_FLANNEL, "flannelcni/flannel" },
	{ CNI_FLANNEL, "mirrored-flannelcni-flannel" },
	{ CNI_ANTREA, "antrea-agent" },
	{ CNI_ANTREA, "antrea/antrea-ubuntu" },
	{ CNI_ANTREA, "antrea-ubuntu" },
	{ CNI_KUBE_NETWORK_POLICIES, "kube-network-policies" },
	{ CNI_AWS_VPC, "amazon-k8s-cni" },
};

/* Copies the repository part of an image reference (without tag and digest) into buf. */
static const char *image_repo(const char *image, char *buf, size_t size)
{
	const char *slash = strrchr(image, '/');
	const char *at = strchr(image, '@');
	const char *colon = strchr(slash ? slash : image, ':');
	size_t n = strlen(image);

	if (at && (size_t)(at - image) < n)
		n = (size_t)(at - image);
	if (colon && (size_t)(colon - image) < n)
		n = (size_t)(colon - image);
	snprintf(buf, size, "%.*s", (int)n, image);
	return buf;
}

/* Returns a new copy of the image's tag ("v3.27.0"), or NULL (no tag, or OOM). */
static char *image_tag(const char *image)
{
	const char *slash = strrchr(image, '/');
	const char *colon = strchr(slash ? slash : image, ':');
	const char *at;

	if (!colon)
		return NULL;
	at = strchr(colon, '@');
	return strndup(colon + 1, at ? (size_t)(at - colon - 1) : strlen(colon + 1));
}

static enum cni_kind image_kind(const char *image)
{
	char repo[512];

	if (!image)
		return CNI_UNKNOWN;
	image_repo(image, repo, sizeof(repo));
	/* flannel's CNI plugin installer is part of flannel, not a sign of it running alone, but
	 * its daemon image always comes with it; the installer alone does not count. */
	if (strstr(repo, "flannel-cni-plugin"))
		return CNI_UNKNOWN;
	for (size_t i = 0; i < ELEMENTSOF(image_sigs); i++)
		if (strstr(repo, image_sigs[i].repo_part))
			return image_sigs[i].kind;
	return CNI_UNKNOWN;
}

static bool image_is(const char *image, const char *part)
{
	char repo[512];

	return image && strstr(image_repo(image, repo, sizeof(repo)), part);
}

/* Returns the literal value of env var name in container c, or NULL. */
static const char *container_env(const struct model_ds_container *c, const char *name)
{
	for (uint32_t i = 0; i < c->n_env; i++)
		if (streq(c->env[i].name, name))
			return c->env[i].value;
	return NULL;
}

/* Returns the value of "--flag=value" or "--flag value" in c's argv, "" for a bare "--flag",
 * or NULL when absent. Single-dash spellings are accepted as Go's flag package does. */
static const char *container_flag(const struct model_ds_container *c, const char *flag)
{
	size_t fl = strlen(flag);

	for (uint32_t i = 0; i < c->n_argv; i++) {
		const char *a = c->argv[i];

		/* Arguments of a shell command line ("sh -c '... --flag=x'") are searched too. */
		for (const char *p = strstr(a, flag); p; p = strstr(p + 1, flag)) {
			if (p != a && p[-1] != ' ' && p[-1] != '-')
				continue;
			if (p[fl] == '=')
				return p + fl + 1;
			if (p[fl] == '\0')
				return i + 1 < c->n_argv && c->argv[i + 1][0] != '-'
					       ? c->argv[i + 1]
					       : "";
			if (p[fl] == ' ')
				return "";
		}
	}
	return NULL;
}

static bool str_true(const char *v)
{
	return v && (strncasecmp(v, "true", 4) == 0 || streq(v, "1"));
}

/* --- daemonset pods --- */

int cni_daemonset_pods(const struct model *m, const struct model_daemonset *d, const char *node,
		       const struct model_pod ***ret)
{
	const struct model_pod *const *pods;
	const struct model_pod **v = NULL;
	size_t n, k = 0;

	n = node ? model_pods_on_node(m, node, &pods) : model_pods_in_namespace(m, d->ns, &pods);
	if (n) {
		v = calloc(n, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct model_pod *p = pods[i];
		bool mine;

		if (!streq(p->ns, d->ns))
			continue;
		if (p->origin->owner_kind)
			mine = streq(p->origin->owner_kind, "DaemonSet") && p->origin->owner_name &&
			       streq(p->origin->owner_name, d->name);
		else {
			/* No controller reference in the dump: the DaemonSet's selector decides. */
			mine = d->selector.n > 0;
			for (uint32_t j = 0; mine && j < d->selector.n; j++) {
				const char *v2 = model_labels_get(&p->labels, d->selector.v[j].key);
				mine = v2 && streq(v2, d->selector.v[j].value);
			}
		}
		if (mine)
			v[k++] = p;
	}
	*ret = v;
	return (int)k;
}

/* --- detection --- */

struct component {
	enum cni_kind kind;
	const struct model_daemonset *ds;
	const struct model_ds_container *c; /* the container whose image matched */
};

struct detect {
	const struct model *m;
	const char *node;
	struct component comps[16];
	size_t n_comps;
	struct strv evidence, notes;
};

static const struct component *find_comp(const struct detect *d, enum cni_kind k)
{
	for (size_t i = 0; i < d->n_comps; i++)
		if (d->comps[i].kind == k)
			return &d->comps[i];
	return NULL;
}

/*
 * Images from a private mirror can have any name; the DaemonSets' names (and their k8s-app
 * labels) as the CNIs' manifests create them are the second sign. Only used when no image
 * was recognised in the DaemonSet.
 */
static int scan_by_name(struct detect *d, const struct model_daemonset *ds)
{
	static const struct {
		const char *name;
		enum cni_kind kinds[2];
	} names[] = {
		{ "calico-node", { CNI_CALICO } },
		{ "canal", { CNI_CALICO, CNI_FLANNEL } },
		{ "cilium", { CNI_CILIUM } },
		{ "weave-net", { CNI_WEAVE } },
		{ "kube-router", { CNI_KUBE_ROUTER } },
		{ "kube-flannel-ds", { CNI_FLANNEL } },
		{ "kube-flannel", { CNI_FLANNEL } },
		{ "antrea-agent", { CNI_ANTREA } },
		{ "kube-network-policies", { CNI_KUBE_NETWORK_POLICIES } },
		{ "aws-node", { CNI_AWS_VPC } },
	};
	const char *app = model_labels_get(&ds->labels, "k8s-app");
	const struct model_ds_container *c = NULL;

	for (uint32_t k = 0; k < ds->n_containers && !c; k++)
		if (!ds->containers[k].init)
			c = &ds->containers[k];
	if (!c)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		if (!streq(ds->name, names[i].name) && !(app && streq(app, names[i].name)))
			continue;
		for (size_t k = 0; k < 2 && names[i].kinds[k] != CNI_UNKNOWN; k++) {
			if (d->n_comps == ELEMENTSOF(d->comps))
				break;
			d->comps[d->n_comps++] = (struct component){ names[i].kinds[k], ds, c };
		}
		return strv_printf(
			&d->evidence,
			"DaemonSet %s/%s is named as %s's manifests name it (its image %s "
			"is not one npaudit knows)",
			ds->ns, ds->name, cni_kind_name(names[i].kinds[0]),
			c->image ? c->image : "(none)");
	}
	return 0;
}

static int scan_daemonsets(struct detect *d)
{
	const struct model_daemonset *const *dss;
	size_t n = model_daemonsets(d->m, &dss);
	int r;

	for (size_t i = 0; i < n; i++) {
		const struct model_daemonset *ds = dss[i];
		bool found = false;

		for (uint32_t k = 0; k < ds->n_containers; k++) {
			const struct model_ds_container *c = &ds->containers[k];
			enum cni_kind kind = c->init ? CNI_UNKNOWN : image_kind(c->image);
			bool dup = false;

			if (kind == CNI_UNKNOWN)
				continue;
			for (size_t j = 0; j < d->n_comps; j++)
				if (d->comps[j].kind == kind && d->comps[j].ds == ds)
					dup = true;
			if (dup || d->n_comps == ELEMENTSOF(d->comps))
				continue;
			d->comps[d->n_comps++] = (struct component){ kind, ds, c };
			found = true;
			r = strv_printf(&d->evidence, "DaemonSet %s/%s runs %s (container %s)",
					ds->ns, ds->name, c->image, c->name ? c->name : "?");
			if (r < 0)
				return r;
		}
		if (!found) {
			r = scan_by_name(d, ds);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int read_file(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_(fclosep) FILE *f = NULL;
	_cleanup_(freep) char *buf = NULL;
	size_t n;

	f = fopen(path, "re");
	if (!f)
		return negative_errno();
	buf = malloc(1024 * 1024 + 1);
	if (!buf)
		return -ENOMEM;
	n = fread(buf, 1, 1024 * 1024 + 1, f);
	if (ferror(f))
		return -EIO;
	if (n > 1024 * 1024)
		return -EFBIG;
	buf[n] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = n;
	return 0;
}

static bool conf_name_ok(const char *name)
{
	size_t l = strlen(name);

	return (l > 5 && streq(name + l - 5, ".conf")) ||
	       (l > 9 && streq(name + l - 9, ".conflist")) ||
	       (l > 5 && streq(name + l - 5, ".json"));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Finds the first CNI configuration in dir and its first plugin type. */
static int scan_conf_dir(struct detect *d, const char *dir, struct cni_detection *out,
			 struct np_error *e)
{
	_cleanup_(strv_done) struct strv names = { 0 };
	_cleanup_(freep) char *buf = NULL;
	_cleanup_(freep) char *path = NULL;
	json_t *root, *plugins, *first;
	json_error_t jerr;
	const char *type;
	struct dirent *de;
	size_t len;
	DIR *dh;
	int r;

	dh = opendir(dir);
	if (!dh)
		return np_error_set(e, negative_errno(), dir, NULL, NULL, 0,
				    "cannot read the CNI configuration directory: %s",
				    strerror(errno));
	while ((de = readdir(dh))) {
		struct stat st;
		char *full;

		if (!conf_name_ok(de->d_name))
			continue;
		full = lint_strf("%s/%s", dir, de->d_name);
		if (!full) {
			closedir(dh);
			return -ENOMEM;
		}
		r = stat(full, &st);
		free(full);
		if (r < 0 || !S_ISREG(st.st_mode))
			continue;
		if (strv_add(&names, de->d_name) < 0) {
			closedir(dh);
			return -ENOMEM;
		}
	}
	closedir(dh);
	if (names.n == 0)
		return strv_printf(&d->notes,
				   "%s holds no CNI configuration (*.conf, *.conflist, *.json): "
				   "the node's runtime cannot set up pod networking yet",
				   dir);
	np_qsort(names.v, names.n, sizeof(*names.v), name_cmp);
	path = lint_strf("%s/%s", dir, names.v[0]);
	if (!path)
		return -ENOMEM;
	out->conf_file = strdup(path);
	if (!out->conf_file)
		return -ENOMEM;
	r = read_file(path, &buf, &len);
	if (r < 0)
		return np_error_set(e, r, path, NULL, NULL, 0, "cannot read: %s", np_strerror(r));
	root = json_loadb(buf, len, 0, &jerr);
	if (!root)
		return strv_printf(
			&d->notes,
			"%s, the configuration the runtime uses, is not valid JSON (line "
			"%d: %s): containerd fails pod networking with it",
			path, jerr.line, jerr.text);
	plugins = json_object_get(root, "plugins");
	first = json_is_array(plugins) ? json_array_get(plugins, 0) : root;
	type = json_string_value(json_object_get(first, "type"));
	if (!type) {
		json_decref(root);
		return strv_printf(&d->notes, "%s names no plugin type", path);
	}
	out->conf_type = strdup(type);
	json_decref(root);
	if (!out->conf_type)
		return -ENOMEM;
	r = strv_printf(&d->evidence,
			"%s is the first CNI configuration in %s (of %zu) and its first plugin "
			"is '%s'",
			names.v[0], dir, names.n, out->conf_type);
	if (r < 0)
		return r;
	return 0;
}

/* The network plugin named by a configuration's first plugin type. */
static enum cni_kind conf_kind(const char *type)
{
	static const struct {
		const char *type;
		enum cni_kind kind;
	} map[] = {
		{ "calico", CNI_CALICO },	    { "cilium-cni", CNI_CILIUM },
		{ "weave-net", CNI_WEAVE },	    { "flannel", CNI_FLANNEL },
		{ "antrea", CNI_ANTREA },	    { "aws-cni", CNI_AWS_VPC },
		{ "bridge", CNI_BRIDGE },	    { "ptp", CNI_BRIDGE },
		{ "kube-router", CNI_KUBE_ROUTER },
	};

	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (streq(map[i].type, type))
			return map[i].kind;
	return CNI_UNKNOWN;
}

/* Whether a recognised component enforces NetworkPolicy, from its configuration. */
static enum cni_enforce comp_enforces(struct detect *d, const struct component *c, int *err)
{
	const char *v;
	int r = 0;

	switch (c->kind) {
	case CNI_CALICO:
	case CNI_CANAL:
	case CNI_CILIUM:
	case CNI_ANTREA:
	case CNI_KUBE_NETWORK_POLICIES:
		return CNI_ENFORCE_YES;
	case CNI_WEAVE:
		/* weave-npc is the policy controller; weave-kube alone does not enforce. */
		for (uint32_t i = 0; i < c->ds->n_containers; i++)
			if (image_is(c->ds->containers[i].image, "weave-npc")) {
				r = strv_printf(&d->evidence,
						"DaemonSet %s/%s runs the policy controller %s",
						c->ds->ns, c->ds->name, c->ds->containers[i].image);
				*err = r < 0 ? r : 0;
				return CNI_ENFORCE_YES;
			}
		r = strv_printf(&d->evidence, "DaemonSet %s/%s has no weave-npc container",
				c->ds->ns, c->ds->name);
		*err = r < 0 ? r : 0;
		return CNI_ENFORCE_NO;
	case CNI_KUBE_ROUTER:
		v = container_flag(c->c, "run-firewall");
		if (v && (streq(v, "false") || streq(v, "0"))) {
			r = strv_printf(&d->evidence, "kube-router runs with --run-firewall=%s", v);
			*err = r < 0 ? r : 0;
			return CNI_ENFORCE_NO;
		}
		return CNI_ENFORCE_YES; /* --run-firewall defaults to true */
	case CNI_AWS_VPC:
		/* Since VPC CNI v1.14 the aws-node pod carries the network policy agent, which
		 * enforces only with --enable-network-policy=true. */
		for (uint32_t i = 0; i < c->ds->n_containers; i++) {
			const struct model_ds_container *x = &c->ds->containers[i];
			if (!image_is(x->image, "aws-network-policy-agent"))
				continue;
			v = container_flag(x, "enable-network-policy");
			r = strv_printf(&d->evidence,
					"the network policy agent (container %s) runs with "
					"--enable-network-policy=%s",
					x->name ? x->name : "?", v ? (*v ? v : "true") : "false");
			*err = r < 0 ? r : 0;
			return v && (!*v || str_true(v)) ? CNI_ENFORCE_YES : CNI_ENFORCE_NO;
		}
		r = strv_printf(&d->evidence,
				"DaemonSet %s/%s has no network policy agent container", c->ds->ns,
				c->ds->name);
		*err = r < 0 ? r : 0;
		return CNI_ENFORCE_NO;
	case CNI_FLANNEL:
	case CNI_BRIDGE:
		return CNI_ENFORCE_NO;
	case CNI_UNKNOWN:
	case _CNI_KIND_MAX:
		break;
	}
	return CNI_ENFORCE_UNKNOWN;
}

/* The dataplane a policy component programs, from what its configuration shows. */
static int comp_dataplane(struct detect *d, const struct component *c, enum cni_dataplane *ret)
{
	const char *v;

	*ret = CNI_DP_UNKNOWN;
	switch (c->kind) {
	case CNI_CALICO:
	case CNI_CANAL:
		/* The calico/node container (Felix), not the CNI installer init containers. */
		{
			const struct model_ds_container *x = c->c;

			if (str_true(v = container_env(x, "FELIX_BPFENABLED"))) {
				*ret = CNI_DP_EBPF;
				return strv_printf(&d->evidence,
						   "FELIX_BPFENABLED=%s: Calico's eBPF "
						   "dataplane",
						   v);
			}
			v = container_env(x, "FELIX_NFTABLESMODE");
			if (v && strcasecmp(v, "Enabled") == 0) {
				*ret = CNI_DP_NFTABLES;
				return strv_printf(
					&d->evidence,
					"FELIX_NFTABLESMODE=%s: Calico's nftables dataplane", v);
			}
			v = container_env(x, "FELIX_IPTABLESBACKEND");
			if (v && strcasecmp(v, "Legacy") == 0)
				*ret = CNI_DP_IPTABLES_LEGACY;
			else if (v && strcasecmp(v, "NFT") == 0)
				*ret = CNI_DP_IPTABLES_NFT;
			if (*ret != CNI_DP_UNKNOWN)
				return strv_printf(&d->evidence, "FELIX_IPTABLESBACKEND=%s", v);
			return strv_printf(
				&d->notes,
				"Calico's iptables backend is auto-detected by Felix at "
				"start (FELIX_IPTABLESBACKEND is %s): it is iptables-legacy "
				"or iptables-nft, whichever already has rules on the node",
				v ? v : "not set");
		}
	case CNI_CILIUM:
		*ret = CNI_DP_EBPF;
		if (strv_printf(&d->notes, "Cilium's enable-policy setting lives in the "
					   "cilium-config ConfigMap, which is not read: assumed "
					   "'default' (NetworkPolicy enforced)") < 0)
			return -ENOMEM;
		return strv_printf(&d->evidence, "Cilium enforces NetworkPolicy in eBPF programs");
	case CNI_ANTREA:
		*ret = CNI_DP_OVS;
		return strv_printf(&d->evidence, "Antrea enforces NetworkPolicy in Open vSwitch "
						 "flows");
	case CNI_AWS_VPC:
		*ret = CNI_DP_EBPF;
		return strv_printf(&d->evidence, "the VPC CNI network policy agent enforces in "
						 "eBPF programs on the pods' host veths");
	case CNI_KUBE_NETWORK_POLICIES:
		*ret = CNI_DP_NFTABLES;
		return strv_printf(&d->evidence,
				   "kube-network-policies sends new connections of selected pods "
				   "through an nftables NFQUEUE rule and decides in userspace");
	case CNI_WEAVE:
	case CNI_KUBE_ROUTER:
		return strv_printf(&d->notes,
				   "%s programs iptables; which backend (legacy or nft) its image "
				   "picks is not visible in the cluster objects",
				   cni_kind_name(c->kind));
	case CNI_FLANNEL:
	case CNI_BRIDGE:
		*ret = CNI_DP_NONE;
		return 0;
	case CNI_UNKNOWN:
	case _CNI_KIND_MAX:
		break;
	}
	return 0;
}

static int fill_agent(struct detect *d, const struct model_daemonset *ds, struct cni_agent *a)
{
	_cleanup_(freep) const struct model_pod **pods = NULL;
	int n;

	a->daemonset_ns = strdup(ds->ns);
	a->daemonset = strdup(ds->name);
	if (!a->daemonset_ns || !a->daemonset)
		return -ENOMEM;
	if (!d->node)
		return 0;
	a->node = strdup(d->node);
	if (!a->node)
		return -ENOMEM;
	n = cni_daemonset_pods(d->m, ds, d->node, &pods);
	if (n < 0)
		return n;
	if (n == 0)
		return strv_printf(&d->evidence, "no pod of DaemonSet %s/%s on node %s", ds->ns,
				   ds->name, d->node);
	/* A DaemonSet runs one pod per node; during a rollout the old one may still be there:
	 * the one that is not terminating is the agent. */
	for (int i = 0; i < n; i++)
		if (!pods[i]->terminating || i == n - 1) {
			const struct model_pod *p = pods[i];
			char uid[MODEL_UID_BUF];

			a->ns = strdup(p->ns);
			a->name = strdup(p->name);
			a->uid = strdup(model_pod_uid(p, uid));
			if (!a->ns || !a->name || !a->uid)
				return -ENOMEM;
			a->ready = p->ready;
			a->restarts = p->restarts;
			return strv_printf(
				&d->evidence, "agent pod %s/%s on node %s: %s, %u restarts", p->ns,
				p->name, d->node, p->ready ? "Ready" : "not Ready", p->restarts);
		}
	return 0;
}

static int steal_strv(struct strv *s, char ***ret, size_t *ret_n)
{
	*ret = s->v;
	*ret_n = s->n;
	*s = (struct strv){ 0 };
	return 0;
}

/* Returns the first container image of any DaemonSet whose repository contains part, or NULL. */
static const char *find_image(const struct model *m, const char *part)
{
	const struct model_daemonset *const *dss;
	size_t n = model_daemonsets(m, &dss);

	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < dss[i]->n_containers; k++)
			if (!dss[i]->containers[k].init &&
			    image_is(dss[i]->containers[k].image, part))
				return dss[i]->containers[k].image;
	return NULL;
}

int cni_detect(const struct model *m, const char *node, const char *conf_dir,
	       struct cni_detection **ret, struct np_error *reterr)
{
	_cleanup_(cni_detection_freep) struct cni_detection *out = NULL;
	_cleanup_(strv_done) struct strv ev = { 0 }, notes = { 0 };
	struct detect d = { .m = m, .node = node };
	const struct component *net = NULL, *pol = NULL, *c;
	enum cni_kind conf = CNI_UNKNOWN;
	const char *kindnet;
	int r, err = 0;

	out = calloc(1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	r = scan_daemonsets(&d);
	if (r >= 0 && conf_dir)
		r = scan_conf_dir(&d, conf_dir, out, reterr);
	if (r < 0)
		goto fail;
	if (out->conf_type)
		conf = conf_kind(out->conf_type);

	/* The network plugin: what the runtime's configuration names, else the daemonset of a
	 * plugin that brings pod networking. kube-router writes a bridge configuration. */
	if (conf == CNI_BRIDGE && find_comp(&d, CNI_KUBE_ROUTER))
		conf = CNI_KUBE_ROUTER;
	if (conf != CNI_UNKNOWN)
		net = find_comp(&d, conf);
	else {
		static const enum cni_kind order[] = { CNI_CILIUM,     CNI_CALICO,  CNI_ANTREA,
						       CNI_WEAVE,      CNI_AWS_VPC, CNI_FLANNEL,
						       CNI_KUBE_ROUTER };
		for (size_t i = 0; i < ELEMENTSOF(order) && !net; i++)
			net = find_comp(&d, order[i]);
		if (net)
			conf = net->kind;
	}
	if (out->conf_type && conf == CNI_UNKNOWN) {
		r = strv_printf(&d.notes, "plugin type '%s' is not one npaudit recognises",
				out->conf_type);
		if (r < 0)
			goto fail;
	}
	if (conf != CNI_UNKNOWN && conf != CNI_BRIDGE && !net) {
		r = strv_printf(
			&d.notes,
			"the CNI configuration names %s but no %s DaemonSet is in the input",
			cni_kind_name(conf), cni_kind_name(conf));
		if (r < 0)
			goto fail;
	}

	/* The NetworkPolicy enforcer: the plugin itself when it enforces, else an add-on. */
	{
		static const enum cni_kind order[] = { CNI_CILIUM,	CNI_CALICO,
						       CNI_ANTREA,	CNI_WEAVE,
						       CNI_KUBE_ROUTER, CNI_KUBE_NETWORK_POLICIES,
						       CNI_AWS_VPC };
		if (net && comp_enforces(&d, net, &err) == CNI_ENFORCE_YES)
			pol = net;
		if (err < 0) {
			r = err;
			goto fail;
		}
		for (size_t i = 0; i < ELEMENTSOF(order) && !pol; i++) {
			c = find_comp(&d, order[i]);
			if (c && c != net && comp_enforces(&d, c, &err) == CNI_ENFORCE_YES)
				pol = c;
			if (err < 0) {
				r = err;
				goto fail;
			}
		}
	}

	out->kind = conf;
	/* Canal: flannel networking with Calico's Felix for policy (one DaemonSet "canal" with
	 * both containers, or the two side by side). */
	if ((conf == CNI_FLANNEL || conf == CNI_CALICO) && find_comp(&d, CNI_FLANNEL) &&
	    find_comp(&d, CNI_CALICO)) {
		out->kind = CNI_CANAL;
		r = strv_printf(&d.evidence, "flannel and Calico run together: Canal");
		if (r < 0)
			goto fail;
	}
	if (pol && pol != net && !(out->kind == CNI_CANAL && pol->kind == CNI_CALICO)) {
		out->policy_addon = strdup(cni_kind_name(pol->kind));
		if (!out->policy_addon) {
			r = -ENOMEM;
			goto fail;
		}
	}

	out->dataplane_note = -1;
	if (pol) {
		size_t notes0 = d.notes.n;

		out->enforces = CNI_ENFORCE_YES;
		out->enforcer = pol->kind;
		r = comp_dataplane(&d, pol, &out->dataplane);
		if (r >= 0 && out->dataplane == CNI_DP_UNKNOWN && d.notes.n > notes0)
			out->dataplane_note = (ssize_t)notes0;
	} else if (conf == CNI_BRIDGE && (kindnet = find_image(m, "kindnetd"))) {
		/* kind's kindnet writes a ptp configuration; newer kindnetd versions carry a
		 * NetworkPolicy controller of their own, older ones do not. Not guessed. */
		out->enforces = CNI_ENFORCE_UNKNOWN;
		r = strv_printf(
			&d.notes,
			"kindnet (%s) runs the ptp plugin; whether this kindnetd version "
			"enforces NetworkPolicy itself is not visible in the cluster objects",
			kindnet);
	} else if (conf != CNI_UNKNOWN) {
		out->enforces = CNI_ENFORCE_NO;
		out->dataplane = CNI_DP_NONE;
		r = strv_printf(&d.evidence, "%s does not implement NetworkPolicy",
				cni_kind_name(out->kind));
	} else {
		out->enforces = CNI_ENFORCE_UNKNOWN;
		r = strv_printf(&d.notes, "no known CNI agent DaemonSet%s was found",
				conf_dir ? " or CNI configuration" : "");
	}
	if (r < 0)
		goto fail;

	/* The agent: the enforcer's DaemonSet, else the network plugin's. */
	c = pol ? pol : net;
	if (c && c->ds) {
		const char *tag_image = c->c->image;
		out->has_agent = true;
		r = fill_agent(&d, c->ds, &out->agent);
		if (r < 0)
			goto fail;
		if (net && net->ds && net != c)
			tag_image = net->c->image; /* the version of the network plugin */
		else if (net != c)
			tag_image = NULL; /* only the add-on's version is known */
		if (pol && pol != net && pol->c->image) {
			out->policy_addon_version = image_tag(pol->c->image);
			if (!out->policy_addon_version && strchr(pol->c->image, ':')) {
				r = -ENOMEM;
				goto fail;
			}
		}
		if (tag_image) {
			out->version = image_tag(tag_image);
			if (!out->version && strchr(tag_image, ':')) {
				r = -ENOMEM;
				goto fail;
			}
		}
	}

	steal_strv(&d.evidence, &out->evidence, &out->n_evidence);
	steal_strv(&d.notes, &out->notes, &out->n_notes);
	*ret = TAKE_PTR(out);
	return 0;
fail:
	strv_done(&d.evidence);
	strv_done(&d.notes);
	return r;
}

struct cni_detection *cni_detection_free(struct cni_detection *d)
{
	if (!d)
		return NULL;
	free(d->version);
	free(d->policy_addon);
	free(d->policy_addon_version);
	free(d->agent.daemonset_ns);
	free(d->agent.daemonset);
	free(d->agent.ns);
	free(d->agent.name);
	free(d->agent.uid);
	free(d->agent.node);
	free(d->conf_file);
	free(d->conf_type);
	strv_free_array(d->evidence, d->n_evidence);
	strv_free_array(d->notes, d->n_notes);
	free(d);
	return NULL;
}

static int json_str_or_null(struct strbuf *out, const char *key, const char *v)
{
	strbuf_printf(out, "\"%s\":", key);
	if (v)
		return strbuf_json_string(out, v);
	return strbuf_puts(out, "null");
}

static int json_strs(struct strbuf *out, const char *key, char **v, size_t n)
{
	strbuf_printf(out, "\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_puts(out, ",");
		strbuf_json_string(out, v[i]);
	}
	return strbuf_puts(out, "]");
}

int cni_detection_json(const struct cni_detection *d, struct strbuf *out)
{
	strbuf_puts(out, "{");
	json_str_or_null(out, "name", cni_kind_name(d->kind));
	strbuf_puts(out, ",");
	json_str_or_null(out, "version", d->version);
	strbuf_puts(out, ",");
	json_str_or_null(out, "dataplane", cni_dataplane_name(d->dataplane));
	strbuf_puts(out, ",");
	json_str_or_null(out, "enforces_networkpolicy", cni_enforce_name(d->enforces));
	strbuf_puts(out, ",");
	json_str_or_null(out, "policy_addon", d->policy_addon);
	strbuf_puts(out, ",");
	json_str_or_null(out, "policy_addon_version", d->policy_addon_version);
	strbuf_puts(out, ",");
	json_str_or_null(out, "conf_file", d->conf_file);
	strbuf_puts(out, ",");
	json_str_or_null(out, "conf_type", d->conf_type);
	strbuf_puts(out, ",\"agent\":");
	if (d->has_agent) {
		const struct cni_agent *a = &d->agent;
		_cleanup_(freep) char *dsname = lint_strf("%s/%s", a->daemonset_ns, a->daemonset);

		if (!dsname)
			return -ENOMEM;
		strbuf_puts(out, "{");
		json_str_or_null(out, "daemonset", dsname);
		strbuf_puts(out, ",");
		json_str_or_null(out, "node", a->node);
		strbuf_puts(out, ",");
		if (a->name) {
			json_str_or_null(out, "namespace", a->ns);
			strbuf_puts(out, ",");
			json_str_or_null(out, "pod", a->name);
			strbuf_puts(out, ",");
			json_str_or_null(out, "uid", a->uid);
			strbuf_printf(out, ",\"ready\":%s,\"restarts\":%u",
				      a->ready ? "true" : "false", a->restarts);
		} else
			strbuf_puts(out, "\"pod\":null");
		strbuf_puts(out, "}");
	} else
		strbuf_puts(out, "null");
	strbuf_puts(out, ",");
	json_strs(out, "evidence", d->evidence, d->n_evidence);
	strbuf_puts(out, ",");
	json_strs(out, "notes", d->notes, d->n_notes);
	strbuf_puts(out, "}");
	return out->oom ? -ENOMEM : 0;
}

int cni_detection_format(const struct cni_detection *d, struct strbuf *out)
{
	strbuf_printf(out, "CNI:        %s%s%s%s\n", cni_kind_name(d->kind), d->version ? " " : "",
		      d->version ? d->version : "",
		      d->kind == CNI_UNKNOWN ? " (not recognised)" : "");
	if (d->policy_addon)
		strbuf_printf(out, "Policy by:  %s%s%s\n", d->policy_addon,
			      d->policy_addon_version ? " " : "",
			      d->policy_addon_version ? d->policy_addon_version : "");
	strbuf_printf(out, "Enforces NetworkPolicy: %s\n", cni_enforce_name(d->enforces));
	strbuf_printf(out, "Dataplane:  %s\n", cni_dataplane_name(d->dataplane));
	if (d->conf_file)
		strbuf_printf(out, "CNI config: %s (type %s)\n", d->conf_file,
			      d->conf_type ? d->conf_type : "?");
	if (d->has_agent) {
		const struct cni_agent *a = &d->agent;
		strbuf_printf(out, "Agent:      DaemonSet %s/%s", a->daemonset_ns, a->daemonset);
		if (a->name)
			strbuf_printf(out, ", pod %s/%s (uid %s) on %s: %s, %u restarts\n", a->ns,
				      a->name, a->uid, a->node, a->ready ? "Ready" : "not Ready",
				      a->restarts);
		else if (a->node)
			strbuf_printf(out, ", no pod on node %s\n", a->node);
		else
			strbuf_puts(out, " (no node given)\n");
	}
	if (d->n_evidence)
		strbuf_puts(out, "Evidence:\n");
	for (size_t i = 0; i < d->n_evidence; i++)
		strbuf_printf(out, "  - %s\n", d->evidence[i]);
	if (d->n_notes)
		strbuf_puts(out, "Not determined:\n");
	for (size_t i = 0; i < d->n_notes; i++)
		strbuf_printf(out, "  - %s\n", d->notes[i]);
	return out->oom ? -ENOMEM : 0;
}

int cni_detection_refine(struct cni_detection *d, const struct lint_fw_input *fw)
{
	static const struct {
		enum cni_kind kind;
		const char *prefix;
	} chains[] = {
		{ CNI_CALICO, "cali-" },
		{ CNI_CANAL, "cali-" },
		{ CNI_WEAVE, "WEAVE-NPC" },
		{ CNI_KUBE_ROUTER, "KUBE-NWPLCY-" },
		{ CNI_KUBE_ROUTER, "KUBE-POD-FW-" },
		{ CNI_KUBE_ROUTER, "KUBE-ROUTER-" },
	};
	static const enum cni_dataplane dp[_LINT_FW_SOURCE_MAX] = {
		[LINT_FW_NFT] = CNI_DP_NFTABLES,
		[LINT_FW_IPTABLES_NFT] = CNI_DP_IPTABLES_NFT,
		[LINT_FW_IPTABLES_LEGACY] = CNI_DP_IPTABLES_LEGACY,
	};
	uint32_t rules[_LINT_FW_SOURCE_MAX] = { 0 };
	struct strv ev = { .v = d->evidence, .n = d->n_evidence, .cap = d->n_evidence };
	int found = -1, r;

	if (!fw || d->dataplane != CNI_DP_UNKNOWN || d->enforces != CNI_ENFORCE_YES)
		return 0;
	for (size_t i = 0; i < fw->n_chains; i++)
		for (size_t k = 0; k < ELEMENTSOF(chains); k++)
			if (chains[k].kind == d->enforcer && fw->chains[i].chain &&
			    strneq(fw->chains[i].chain, chains[k].prefix,
				   strlen(chains[k].prefix)) &&
			    fw->chains[i].source < _LINT_FW_SOURCE_MAX)
				rules[fw->chains[i].source] += fw->chains[i].n_rules;
	for (int s = 0; s < _LINT_FW_SOURCE_MAX; s++) {
		if (!rules[s])
			continue;
		if (found >= 0)
			return 0; /* in two sources: iptables-backend-split says so */
		found = s;
	}
	if (found < 0)
		return 0;

	r = strv_printf(&ev, "the live rules: %u rule%s of %s's chains, all in %s", rules[found],
			rules[found] == 1 ? "" : "s", cni_kind_name(d->enforcer),
			lint_fw_source_name((enum lint_fw_source)found));
	d->evidence = ev.v;
	d->n_evidence = ev.n;
	if (r < 0)
		return r;
	d->dataplane = dp[found];
	if (d->dataplane_note >= 0 && (size_t)d->dataplane_note < d->n_notes) {
		free(d->notes[d->dataplane_note]);
		memmove(d->notes + d->dataplane_note, d->notes + d->dataplane_note + 1,
			(d->n_notes - (size_t)d->dataplane_note - 1) * sizeof(*d->notes));
		d->n_notes--;
	}
	d->dataplane_note = -1;
	return 1;
}
