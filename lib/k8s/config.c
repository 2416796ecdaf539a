/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Credentials: kubeconfig (parsed with libyaml's document loader), in-cluster, explicit. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "k8s.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define KUBECONFIG_MAX (16u << 20)
#define KUBECONFIG_FILES_MAX 64u

struct k8s_config *k8s_config_free(struct k8s_config *c)
{
	if (!c)
		return NULL;
	free(c->server);
	free(c->token);
	free(c->token_file);
	free(c->ca_file);
	free(c->ca_data);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert_data);
	free(c->key_data);
	free(c->tls_server_name);
	free(c->context);
	free(c->namespace);
	free(c);
	return NULL;
}

static int b64_value(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

int k8s_base64_decode(const char *s, size_t n, char **ret, size_t *ret_len)
{
	_cleanup_(freep) char *out = NULL;
	unsigned acc = 0, bits = 0, pad = 0;
	size_t len = 0;

	out = malloc(n / 4 * 3 + 4);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int v;

		if (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
			continue;
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0)
			return -EINVAL; /* data after padding */
		v = b64_value((unsigned char)s[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2 || bits >= 6)
		return -EINVAL;
	out[len] = 0;
	*ret = TAKE_PTR(out);
	*ret_len = len;
	return 0;
}

/* ---- a small view over a libyaml document ---- */

static yaml_node_t *ynode(yaml_document_t *d, int idx)
{
	return idx > 0 ? yaml_document_get_node(d, idx) : NULL;
}

static const char *yscalar(yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* Returns the value node of key in mapping n, or NULL. */
static yaml_node_t *ymap_get(yaml_document_t *d, yaml_node_t *n, const char *key)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		const char *k = yscalar(ynode(d, p->key));

		if (k && streq(k, key))
			return ynode(d, p->value);
	}
	return NULL;
}

static const char *ymap_str(yaml_document_t *d, yaml_node_t *n, const char *key)
{
	return yscalar(ymap_get(d, n, key));
}

/* One parsed kubeconfig file of a merge. */
struct kc_src {
	yaml_document_t doc;
	const char *name; /* for messages */
	const char *dir; /* relative paths in this file are relative to it */
};

/* Finds the entry named `name` in the list `list` ({name: ..., <field>: {...}}) of the first
 * document that has one, as kubectl merges kubeconfigs: the first file to set a map key wins,
 * and its entry is taken whole. Returns the entry's <field> mapping (NULL when the entry lacks
 * it) and the document in *ret_src; returns false when no document has the name. */
static bool ynamed(struct kc_src *v, size_t n, const char *list, const char *field,
		   const char *name, yaml_node_t **ret, struct kc_src **ret_src)
{
	for (size_t k = 0; k < n; k++) {
		yaml_document_t *d = &v[k].doc;
		yaml_node_t *l = ymap_get(d, yaml_document_get_root_node(d), list);

		if (!l || l->type != YAML_SEQUENCE_NODE)
			continue;
		for (yaml_node_item_t *i = l->data.sequence.items.start;
		     i < l->data.sequence.items.top; i++) {
			yaml_node_t *e = ynode(d, *i);
			const char *nm = ymap_str(d, e, "name");

			if (nm && streq(nm, name)) {
				*ret = ymap_get(d, e, field);
				*ret_src = &v[k];
				return true;
			}
		}
	}
	*ret = NULL;
	*ret_src = NULL;
	return false;
}

static int path_resolve(const char *dir, const char *p, char **ret)
{
	char *s;

	if (p[0] == '/' || !dir)
		s = strdup(p);
	else if (asprintf(&s, "%s/%s", dir, p) < 0)
		s = NULL;
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

static int dup_opt(const char *s, char **ret)
{
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int decode_data(const char *s, char **ret, size_t *ret_len, const char *field,
		       const char *name, struct np_error *reterr)
{
	int r = k8s_base64_decode(s, strlen(s), ret, ret_len);

	if (r == -EINVAL)
		return np_error_set(reterr, -EINVAL, name, NULL, field, 0, "%s is not valid base64",
				    field);
	return r;
}

static int server_check(const char *s, const char *name, struct np_error *reterr)
{
	if (!strneq(s, "https://", 8) && !strneq(s, "http://", 7))
		return np_error_set(reterr, -EINVAL, name, NULL, "server", 0,
				    "server '%.200s' is not an http(s) URL", s);
	if (strpbrk(s, " \t\r\n"))
		return np_error_set(reterr, -EINVAL, name, NULL, "server", 0,
				    "server URL contains whitespace");
	return 0;
}

static int server_set(struct k8s_config *c, const char *s)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		n--;
	c->server = strndup(s, n);
	return c->server ? 0 : -ENOMEM;
}

static int kubeconfig_build(struct kc_src *v, size_t n, const char *label, const char *context,
			    struct k8s_config **ret, struct np_error *reterr)
{
	_cleanup_(k8s_config_freep) struct k8s_config *c = NULL;
	yaml_node_t *ctx, *cluster, *user;
	struct kc_src *sctx, *scl, *su;
	const char *cluster_name, *user_name, *s, *name, *dir;
	yaml_document_t *d;
	int r;

	/* current-context: from the first file that sets it */
	for (size_t k = 0; !context && k < n; k++) {
		s = ymap_str(&v[k].doc, yaml_document_get_root_node(&v[k].doc), "current-context");
		if (s && *s)
			context = s;
	}
	if (!context || !*context)
		return np_error_set(reterr, -EINVAL, label, NULL, "current-context", 0,
				    "no context given and current-context is not set");
	if (!ynamed(v, n, "contexts", "context", context, &ctx, &sctx) || !ctx)
		return np_error_set(reterr, -EINVAL, sctx ? sctx->name : label, context, "contexts",
				    0, "context '%.100s' not found", context);
	cluster_name = ymap_str(&sctx->doc, ctx, "cluster");
	user_name = ymap_str(&sctx->doc, ctx, "user");
	if (!cluster_name)
		return np_error_set(reterr, -EINVAL, sctx->name, context, "context.cluster", 0,
				    "context '%.100s' names no cluster", context);
	if (!ynamed(v, n, "clusters", "cluster", cluster_name, &cluster, &scl) || !cluster)
		return np_error_set(reterr, -EINVAL, scl ? scl->name : label, context, "clusters",
				    0, "cluster '%.100s' not found", cluster_name);
	user = NULL;
	su = NULL;
	if (user_name && *user_name &&
	    (!ynamed(v, n, "users", "user", user_name, &user, &su) || !user))
		return np_error_set(reterr, -EINVAL, su ? su->name : label, context, "users", 0,
				    "user '%.100s' not found", user_name);

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->context = strdup(context);
	if (!c->context)
		return -ENOMEM;
	r = dup_opt(ymap_str(&sctx->doc, ctx, "namespace"), &c->namespace);
	if (r < 0)
		return r;

	/* The cluster's fields, paths relative to the file it came from. */
	d = &scl->doc;
	name = scl->name;
	dir = scl->dir;
	s = ymap_str(d, cluster, "server");
	if (!s)
		return np_error_set(reterr, -EINVAL, name, cluster_name, "cluster.server", 0,
				    "cluster '%.100s' has no server", cluster_name);
	r = server_check(s, name, reterr);
	if (r < 0)
		return r;
	r = server_set(c, s);
	if (r < 0)
		return r;
	s = ymap_str(d, cluster, "certificate-authority-data");
	if (s) {
		r = decode_data(s, &c->ca_data, &c->ca_data_len, "certificate-authority-data", name,
				reterr);
		if (r < 0)
			return r;
	} else if ((s = ymap_str(d, cluster, "certificate-authority"))) {
		r = path_resolve(dir, s, &c->ca_file);
		if (r < 0)
			return r;
	}
	s = ymap_str(d, cluster, "insecure-skip-tls-verify");
	if (s) {
		/* YAML 1.1/1.2 booleans as client-go's decoder accepts them. */
		if (streq(s, "true") || streq(s, "True") || streq(s, "TRUE"))
			c->insecure = true;
		else if (!streq(s, "false") && !streq(s, "False") && !streq(s, "FALSE"))
			return np_error_set(reterr, -EINVAL, name, cluster_name,
					    "insecure-skip-tls-verify", 0,
					    "insecure-skip-tls-verify '%.20s' is not a boolean", s);
	}
	r = dup_opt(ymap_str(d, cluster, "tls-server-name"), &c->tls_server_name);
	if (r < 0)
		return r;

	if (user) {
		d = &su->doc;
		name = su->name;
		dir = su->dir;
		if (ymap_get(d, user, "exec") || ymap_get(d, user, "auth-provider"))
			return np_error_set(reterr, -EINVAL, name, user_name, "user.exec", 0,
					    "exec and auth-provider credentials are not supported; "
					    "use a token, tokenFile or client certificate");
		r = dup_opt(ymap_str(d, user, "token"), &c->token);
		if (r < 0)
			return r;
		s = ymap_str(d, user, "tokenFile");
		if (s) {
			r = path_resolve(dir, s, &c->token_file);
			if (r < 0)
				return r;
		}
		s = ymap_str(d, user, "client-certificate-data");
		if (s) {
			r = decode_data(s, &c->cert_data, &c->cert_data_len,
					"client-certificate-data", name, reterr);
			if (r < 0)
				return r;
		} else if ((s = ymap_str(d, user, "client-certificate"))) {
			r = path_resolve(dir, s, &c->cert_file);
			if (r < 0)
				return r;
		}
		s = ymap_str(d, user, "client-key-data");
		if (s) {
			r = decode_data(s, &c->key_data, &c->key_data_len, "client-key-data", name,
					reterr);
			if (r < 0)
				return r;
		} else if ((s = ymap_str(d, user, "client-key"))) {
			r = path_resolve(dir, s, &c->key_file);
			if (r < 0)
				return r;
		}
		if ((c->cert_data || c->cert_file) != (c->key_data || c->key_file))
			return np_error_set(reterr, -EINVAL, name, user_name, "client-key", 0,
					    "a client certificate needs both certificate and key");
	}

	*ret = TAKE_PTR(c);
	return 0;
}

static int kc_load(struct kc_src *src, const char *buf, size_t len, struct np_error *reterr)
{
	yaml_parser_t parser;
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &src->doc))
		r = np_error_set(reterr, parser.error == YAML_MEMORY_ERROR ? -ENOMEM : -EBADMSG,
				 src->name, NULL, NULL, (unsigned)parser.problem_mark.line + 1,
				 "not valid YAML: %s",
				 parser.problem ? parser.problem : "parse error");
	yaml_parser_delete(&parser);
	return r;
}

int k8s_config_parse_kubeconfigs(const struct k8s_kubeconfig_doc *docs, size_t n,
				 const char *context, struct k8s_config **ret,
				 struct np_error *reterr)
{
	_cleanup_(freep) struct kc_src *v = NULL;
	size_t loaded = 0, nonempty = 0;
	int r = 0;

	if (n == 0)
		return np_error_set(reterr, -EINVAL, "kubeconfig", NULL, NULL, 0,
				    "no kubeconfig given");
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (; loaded < n; loaded++) {
		yaml_node_t *root;

		v[loaded].name = docs[loaded].name ? docs[loaded].name : "kubeconfig";
		v[loaded].dir = docs[loaded].dir;
		r = kc_load(&v[loaded], docs[loaded].buf, docs[loaded].len, reterr);
		if (r < 0)
			break;
		root = yaml_document_get_root_node(&v[loaded].doc);
		if (!root)
			continue; /* an empty file adds nothing (an error when it is the only one)
				   */
		nonempty++;
		if (root->type != YAML_MAPPING_NODE) {
			r = np_error_set(reterr, -EBADMSG, v[loaded].name, NULL, NULL, 0,
					 "kubeconfig is not a mapping");
			loaded++;
			break;
		}
	}
	if (r >= 0 && nonempty == 0)
		r = np_error_set(reterr, -EBADMSG, v[0].name, NULL, NULL, 0, "kubeconfig is empty");
	if (r >= 0)
		r = kubeconfig_build(v, n, n == 1 ? v[0].name : "$KUBECONFIG", context, ret,
				     reterr);
	for (size_t k = 0; k < loaded; k++)
		yaml_document_delete(&v[k].doc);
	return r;
}

int k8s_config_parse_kubeconfig(const char *buf, size_t len, const char *name, const char *dir,
				const char *context, struct k8s_config **ret,
				struct np_error *reterr)
{
	struct k8s_kubeconfig_doc d = { buf, len, name, dir };

	return k8s_config_parse_kubeconfigs(&d, 1, context, ret, reterr);
}

static int read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_(closep) int fd = -1;
	_cleanup_(freep) char *buf = NULL;
	size_t len = 0, cap = 4096;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb;

			if (cap >= max)
				return -EFBIG;
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = 0;
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* The files of a merge, read. */
struct kc_files {
	struct k8s_kubeconfig_doc v[KUBECONFIG_FILES_MAX];
	char *path[KUBECONFIG_FILES_MAX], *buf[KUBECONFIG_FILES_MAX], *dir[KUBECONFIG_FILES_MAX];
	size_t n;
};

static void kc_files_done(struct kc_files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->path[i]);
		free(f->buf[i]);
		free(f->dir[i]);
	}
	f->n = 0;
}

/* Reads path into the next slot of f. Returns 0, or -errno with *reterr. */
static int kc_files_add(struct kc_files *f, const char *path, struct np_error *reterr)
{
	size_t i = f->n, len = 0;
	char *slash;
	int r;

	if (i >= KUBECONFIG_FILES_MAX)
		return np_error_set(reterr, -E2BIG, "$KUBECONFIG", NULL, NULL, 0,
				    "more than %u kubeconfig files", KUBECONFIG_FILES_MAX);
	f->path[i] = strdup(path);
	f->dir[i] = strdup(path);
	if (!f->path[i] || !f->dir[i]) {
		free(f->path[i]);
		free(f->dir[i]);
		return -ENOMEM;
	}
	r = read_file(path, KUBECONFIG_MAX, &f->buf[i], &len);
	if (r < 0) {
		free(f->path[i]);
		free(f->dir[i]);
		return np_error_set(reterr, r, path, NULL, NULL, 0, "cannot read kubeconfig: %s",
				    np_strerror(r));
	}
	slash = strrchr(f->dir[i], '/');
	if (slash)
		*(slash == f->dir[i] ? slash + 1 : slash) = 0;
	else
		strcpy(f->dir[i], ".");
	f->v[i] = (struct k8s_kubeconfig_doc){ f->buf[i], len, f->path[i], f->dir[i] };
	f->n++;
	return 0;
}

int k8s_config_load_kubeconfig(const char *path, const char *context, struct k8s_config **ret,
			       struct np_error *reterr)
{
	_cleanup_(kc_files_done) struct kc_files f = { 0 };
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	int r;

	if (path)
		r = kc_files_add(&f, path, reterr);
	else if (env && *env) {
		/* A list of files, merged as kubectl does; files that do not exist are skipped. */
		for (const char *s = env; *s;) {
			size_t n = strcspn(s, ":");
			_cleanup_(freep) char *p = strndup(s, n);

			if (!p)
				return -ENOMEM;
			s += n;
			if (*s == ':')
				s++;
			if (n == 0 || access(p, F_OK) < 0)
				continue;
			r = kc_files_add(&f, p, reterr);
			if (r < 0)
				return r;
		}
		if (f.n == 0)
			return np_error_set(reterr, -ENOENT, "$KUBECONFIG", NULL, NULL, 0,
					    "none of the files in $KUBECONFIG exists");
		r = 0;
	} else if (home) {
		_cleanup_(freep) char *p = NULL;

		if (asprintf(&p, "%s/.kube/config", home) < 0)
			return -ENOMEM;
		r = kc_files_add(&f, p, reterr);
	} else
		return np_error_set(reterr, -ENOENT, "kubeconfig", NULL, NULL, 0,
				    "no kubeconfig: $KUBECONFIG and $HOME are unset");
	if (r < 0)
		return r;
	return k8s_config_parse_kubeconfigs(f.v, f.n, context, ret, reterr);
}

int k8s_config_in_cluster(const char *sa_dir, struct k8s_config **ret, struct np_error *reterr)
{
	_cleanup_(k8s_config_freep) struct k8s_config *c = NULL;
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	int r;

	if (!host || !*host || !port || !*port)
		return np_error_set(reterr, -ENXIO, "in-cluster", NULL, NULL, 0,
				    "not in a cluster: KUBERNETES_SERVICE_HOST/PORT are unset");
	if (!sa_dir)
		sa_dir = SA_DIR;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	/* An IPv6 service address needs brackets in the URL. */
	r = asprintf(&c->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
		     port);
	if (r < 0) {
		c->server = NULL;
		return -ENOMEM;
	}
	if (asprintf(&c->token_file, "%s/token", sa_dir) < 0) {
		c->token_file = NULL;
		return -ENOMEM;
	}
	if (asprintf(&c->ca_file, "%s/ca.crt", sa_dir) < 0) {
		c->ca_file = NULL;
		return -ENOMEM;
	}
	if (access(c->token_file, R_OK) < 0) {
		r = -errno;
		return np_error_set(reterr, r, c->token_file, NULL, NULL, 0,
				    "service-account token is not readable: %s", np_strerror(r));
	}
	*ret = TAKE_PTR(c);
	return 0;
}

int k8s_config_explicit(const char *server, const char *token_file, const char *ca_file,
			struct k8s_config **ret, struct np_error *reterr)
{
	_cleanup_(k8s_config_freep) struct k8s_config *c = NULL;
	int r;

	r = server_check(server, "--apiserver", reterr);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = server_set(c, server);
	if (r < 0)
		return r;
	r = dup_opt(token_file, &c->token_file);
	if (r < 0)
		return r;
	r = dup_opt(ca_file, &c->ca_file);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

int k8s_config_auto(const char *kubeconfig, const char *server, const char *token_file,
		    const char *ca_file, struct k8s_config **ret, struct np_error *reterr)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	char path[PATH_MAX];

	if (server)
		return k8s_config_explicit(server, token_file, ca_file, ret, reterr);
	if (kubeconfig || (env && *env))
		return k8s_config_load_kubeconfig(kubeconfig, NULL, ret, reterr);
	if (getenv("KUBERNETES_SERVICE_HOST"))
		return k8s_config_in_cluster(NULL, ret, reterr);
	if (home && (size_t)snprintf(path, sizeof(path), "%s/.kube/config", home) < sizeof(path) &&
	    access(path, F_OK) == 0)
		return k8s_config_load_kubeconfig(path, NULL, ret, reterr);
	return np_error_set(reterr, -ENXIO, "config", NULL, NULL, 0,
			    "no API server configured: give --apiserver or --kubeconfig, set "
			    "$KUBECONFIG, or run in a cluster");
}
