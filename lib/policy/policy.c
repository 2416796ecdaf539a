/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy compiler: from the model's NetworkPolicies to per-pod canonical allowed sets.
 *
 * Work is shared at three levels: a policy's rules are compiled once (peer selections through
 * the label index, ipBlocks, named-port resolutions of egress peers); a direction is compiled
 * once per distinct (selecting policies, ingress named-port resolution) key, so the replicas
 * of a workload share one result; and each pod's expectation is cached.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy-internal.h"

const uint8_t policy_proto_numbers[_POLICY_PROTO_MAX] = {
	[POLICY_TCP] = NP_PROTO_TCP,
	[POLICY_UDP] = NP_PROTO_UDP,
	[POLICY_SCTP] = NP_PROTO_SCTP,
};

int policy_proto_index(uint8_t proto)
{
	switch (proto) {
	case NP_PROTO_TCP:
		return POLICY_TCP;
	case NP_PROTO_UDP:
		return POLICY_UDP;
	case NP_PROTO_SCTP:
		return POLICY_SCTP;
	default:
		return -EPROTONOSUPPORT;
	}
}

const char *policy_exempt_reason(enum policy_exempt e)
{
	switch (e) {
	case POLICY_APPLIES:
		return "policy applies";
	case POLICY_EXEMPT_NO_IP:
		return "pod has no IP";
	case POLICY_EXEMPT_HOST_NETWORK:
		return "hostNetwork pod";
	case POLICY_EXEMPT_TERMINATING:
		return "pod is terminating";
	case POLICY_EXEMPT_FINISHED:
		return "finished pod, phase Succeeded or Failed";
	}
	return "unknown";
}

enum policy_exempt policy_pod_exempt(const struct model_pod *p)
{
	/* Kubernetes: NetworkPolicy isolates and selects only pods that have their own network
	 * namespace and an address, and that are still running. */
	if (p->host_network)
		return POLICY_EXEMPT_HOST_NETWORK;
	if (p->n_ips == 0)
		return POLICY_EXEMPT_NO_IP;
	if (p->terminating)
		return POLICY_EXEMPT_TERMINATING;
	if (p->phase == MODEL_POD_SUCCEEDED || p->phase == MODEL_POD_FAILED)
		return POLICY_EXEMPT_FINISHED;
	return POLICY_APPLIES;
}

static bool pod_selectable(const struct model_pod *p)
{
	return policy_pod_exempt(p) == POLICY_APPLIES;
}

/* --- named ports --- */

static void named_groups_free(struct named_groups *g)
{
	while (g) {
		struct named_groups *next = g->next;
		for (size_t i = 0; i < g->n; i++)
			np_iset_done(&g->v[i].addrs);
		free(g->v);
		free(g);
		g = next;
	}
}

static int named_groups_add(struct named_groups *g, uint16_t port, np_u128 ip)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (g->v[i].port == port)
			break;
	if (i == g->n) {
		struct port_group *v = reallocarray(g->v, g->n + 1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		g->v = v;
		g->v[g->n++] = (struct port_group){ .port = port };
	}
	return np_iset_add(&g->v[i].addrs, ip, ip);
}

static int port_group_cmp(const void *a, const void *b)
{
	const struct port_group *x = a, *y = b;
	return (int)x->port - (int)y->port;
}

static void named_groups_finish(struct named_groups *g)
{
	for (size_t i = 0; i < g->n; i++)
		np_iset_normalize(&g->v[i].addrs);
	if (g->n > 1)
		np_qsort(g->v, g->n, sizeof(*g->v), port_group_cmp);
}

static struct named_groups *named_groups_find(struct named_groups *list, const char *name,
					      uint8_t proto)
{
	for (; list; list = list->next)
		if (list->proto == proto && streq(list->name, name))
			return list;
	return NULL;
}

static struct named_groups *named_groups_new(const char *name, uint8_t proto)
{
	struct named_groups *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->name = name;
	g->proto = proto;
	return g;
}

/* Adds every address of p within `within` (NULL: all) for each container port of p named
 * `name` with protocol proto. */
static int named_groups_add_pod(struct named_groups *g, const struct model_pod *p,
				const struct np_iset *within)
{
	for (uint16_t i = 0; i < p->n_ports; i++) {
		const struct model_container_port *cp = &p->ports[i];
		if (!cp->name || cp->proto != g->proto || !streq(cp->name, g->name))
			continue;
		for (uint8_t k = 0; k < p->n_ips; k++) {
			if (within && !np_iset_contains(within, p->ips[k]))
				continue;
			int r = named_groups_add(g, cp->port, p->ips[k]);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* The cluster-wide index of named container ports of selectable pods: name -> pods. */
static int engine_named_index(struct policy_engine *e)
{
	const struct model_pod *const *pods;
	size_t n;

	if (e->named_index_built)
		return 0;
	n = model_pods(e->m, &pods);
	for (size_t i = 0; i < n; i++) {
		const struct model_pod *p = pods[i];
		if (!pod_selectable(p))
			continue;
		for (uint16_t k = 0; k < p->n_ports; k++) {
			const char *name = p->ports[k].name;
			struct named_pods *np;

			if (!name)
				continue;
			np = hashmap_get(&e->named_index, name);
			if (!np) {
				np = calloc(1, sizeof(*np));
				if (!np)
					return -ENOMEM;
				if (hashmap_put(&e->named_index, name, np) < 0) {
					free(np);
					return -ENOMEM;
				}
			}
			/* A pod naming the port twice is listed once; the resolution looks at all
			 * its ports anyway. */
			if (np->pods.n > 0 && np->pods.items[np->pods.n - 1] == p)
				continue;
			if (VEC_PUSH(&np->pods, p) < 0)
				return -ENOMEM;
		}
	}
	e->named_index_built = true;
	return 0;
}

/*
 * Resolves an egress named port for a peer: the destination of egress traffic is the peer, so
 * the name is looked up in each destination pod's container ports. Selector peers resolve over
 * their selected pods; ipBlock peers and "all peers" over the pods whose address they contain
 * (traffic to a non-pod address has no container ports, so a named port allows nothing there).
 */
static int egress_named(struct policy_engine *e, struct cpeer *cp, const char *name, uint8_t proto,
			struct named_groups **ret)
{
	struct named_groups **list = cp ? &cp->sel->named : &e->named_all;
	struct named_groups *g;
	int r;

	g = named_groups_find(*list, name, proto);
	if (g) {
		*ret = g;
		return 0;
	}
	g = named_groups_new(name, proto);
	if (!g)
		return -ENOMEM;
	if (cp && !cp->mp->ipblock) {
		for (size_t i = 0; i < cp->sel->pods.n; i++) {
			r = named_groups_add_pod(g, cp->sel->pods.items[i], NULL);
			if (r < 0)
				goto fail;
		}
	} else {
		struct named_pods *np;

		r = engine_named_index(e);
		if (r < 0)
			goto fail;
		np = hashmap_get(&e->named_index, name);
		for (size_t i = 0; np && i < np->pods.n; i++) {
			r = named_groups_add_pod(g, np->pods.items[i], cp ? &cp->sel->addrs : NULL);
			if (r < 0)
				goto fail;
		}
	}
	named_groups_finish(g);
	g->next = *list;
	*list = g;
	*ret = g;
	return 0;
fail:
	named_groups_free(g);
	return r;
}

/* --- namespaces and selectors --- */

/*
 * Candidate pods for a selector from the label index: the shortest list among its matchLabels
 * pairs, In expressions (union over the values; a pod has one value per key, so the lists are
 * disjoint) and Exists expressions. Returns the count, with the list in *ret (possibly in
 * *tmp), or SIZE_MAX when the selector has no indexable requirement.
 */
static size_t selector_candidates(struct policy_engine *e, const struct model_selector *s,
				  const struct model_pod *const **ret, pod_vec *tmp)
{
	const struct model_pod *const *best = NULL, *const * l;
	const struct model_requirement *best_req = NULL;
	size_t best_n = SIZE_MAX, n;

	for (uint32_t i = 0; i < s->match_labels.n; i++) {
		n = model_pods_with_label(e->m, s->match_labels.v[i].key,
					  s->match_labels.v[i].value, &l);
		if (n < best_n) {
			best_n = n;
			best = l;
			best_req = NULL;
		}
	}
	for (uint32_t i = 0; i < s->n_exprs; i++) {
		const struct model_requirement *q = &s->exprs[i];
		if (q->op == MODEL_OP_IN) {
			n = 0;
			for (uint32_t k = 0; k < q->n_values; k++)
				n += model_pods_with_label(e->m, q->key, q->values[k], &l);
		} else if (q->op == MODEL_OP_EXISTS)
			n = model_pods_with_key(e->m, q->key, &l);
		else
			continue;
		if (n < best_n) {
			best_n = n;
			best = NULL;
			best_req = q;
		}
	}
	if (best_n == SIZE_MAX || !best_req) {
		*ret = best;
		return best_n;
	}
	/* Materialise: model_pods_with_key() hands out a scratch list, In needs a union. */
	tmp->n = 0;
	if (VEC_RESERVE(tmp, best_n) < 0)
		return SIZE_MAX;
	if (best_req->op == MODEL_OP_EXISTS) {
		n = model_pods_with_key(e->m, best_req->key, &l);
		if (n > 0)
			memcpy(tmp->items, l, n * sizeof(*l));
		tmp->n = n;
	} else
		for (uint32_t k = 0; k < best_req->n_values; k++) {
			n = model_pods_with_label(e->m, best_req->key, best_req->values[k], &l);
			if (n > 0)
				memcpy(tmp->items + tmp->n, l, n * sizeof(*l));
			tmp->n += n;
		}
	*ret = (const struct model_pod *const *)tmp->items;
	return tmp->n;
}

static int cpeer_add_pod(struct selection *cp, const struct model_pod *p)
{
	return VEC_PUSH(&cp->pods, p);
}

/* Sorts addresses; IPv4-only lists (the common case, and the large ones) by a two-pass radix
 * sort on the low 32 bits, which is several times faster than qsort on tens of thousands. */
static int addrs_sort(np_u128 *v, size_t n)
{
	_cleanup_(freep) np_u128 *tmp = NULL;
	_cleanup_(freep) uint32_t *cnt = NULL;

	for (size_t i = 0; i < n; i++)
		if (v[i] < NP_V4_BASE || v[i] > NP_V4_LAST) {
			np_qsort(v, n, sizeof(*v), np_u128_cmp);
			return 0;
		}
	if (n < 512) {
		np_qsort(v, n, sizeof(*v), np_u128_cmp);
		return 0;
	}
	tmp = malloc(n * sizeof(*tmp));
	cnt = malloc(65536 * sizeof(*cnt));
	if (!tmp || !cnt)
		return -ENOMEM;
	for (unsigned shift = 0; shift < 32; shift += 16) {
		uint32_t sum = 0;

		memset(cnt, 0, 65536 * sizeof(*cnt));
		for (size_t i = 0; i < n; i++)
			cnt[(uint32_t)(v[i] >> shift) & 0xffff]++;
		for (size_t k = 0; k < 65536; k++) {
			uint32_t c = cnt[k];
			cnt[k] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[cnt[(uint32_t)(v[i] >> shift) & 0xffff]++] = v[i];
		memcpy(v, tmp, n * sizeof(*v));
	}
	return 0;
}

/* Builds the canonical address set of the selected pods. */
static int selection_addrs(struct selection *cp)
{
	_cleanup_(freep) np_u128 *v = NULL;
	size_t n = 0;
	int r;

	for (size_t i = 0; i < cp->pods.n; i++)
		n += cp->pods.items[i]->n_ips;
	if (n == 0)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < cp->pods.n; i++)
		for (uint8_t k = 0; k < cp->pods.items[i]->n_ips; k++)
			v[n++] = cp->pods.items[i]->ips[k];
	r = addrs_sort(v, n);
	for (size_t i = 0; r >= 0 && i < n; i++)
		if (i == 0 || v[i] != v[i - 1])
			r = np_iset_add(&cp->addrs, v[i], v[i]);
	if (r < 0)
		return r;
	np_iset_normalize(&cp->addrs); /* sorted: only merges adjacent addresses */
	return 0;
}

static void selection_free(struct selection *s)
{
	if (!s)
		return;
	np_iset_done(&s->addrs);
	VEC_DONE(&s->pods);
	named_groups_free(s->named);
	free(s->key);
	free(s);
}

static void selector_key(const struct model_selector *s, struct strbuf *sb)
{
	static const char ops[] = { [MODEL_OP_IN] = 'I',
				    [MODEL_OP_NOT_IN] = 'N',
				    [MODEL_OP_EXISTS] = 'E',
				    [MODEL_OP_DOES_NOT_EXIST] = 'D' };

	if (!s->present) {
		strbuf_puts(sb, "-");
		return;
	}
	/* Keys and values are interned, so their addresses identify them. */
	strbuf_puts(sb, "{");
	for (uint32_t i = 0; i < s->match_labels.n; i++)
		strbuf_printf(sb, "%p=%p,", (const void *)s->match_labels.v[i].key,
			      (const void *)s->match_labels.v[i].value);
	for (uint32_t i = 0; i < s->n_exprs; i++) {
		strbuf_printf(sb, ";%p%c", (const void *)s->exprs[i].key, ops[s->exprs[i].op]);
		for (uint32_t k = 0; k < s->exprs[i].n_values; k++)
			strbuf_printf(sb, "%p,", (const void *)s->exprs[i].values[k]);
	}
	strbuf_puts(sb, "}");
}

/*
 * The pods a selector peer selects (NetworkPolicyPeer): podSelector alone selects in the
 * policy's namespace; namespaceSelector alone selects every pod of the matching namespaces;
 * both select the pods matching podSelector in the matching namespaces. Only pods to which
 * policy applies are selected.
 */
static int selection_compute(struct policy_engine *e, const struct model_policy *pol,
			     const struct model_peer *mp, struct selection *cp)
{
	const struct model_selector *ps = mp->pod_selector.present ? &mp->pod_selector : NULL;
	const struct model_pod *const *cand = NULL, *const * l;
	_cleanup_(hashmap_done) struct hashmap nsset = { 0 };
	_cleanup_(pod_vec_done) pod_vec tmp = { 0 };
	VEC(const char *) nslist = { 0 };
	size_t n_cand = SIZE_MAX, total = 0, n;
	int r = 0;

	if (ps)
		n_cand = selector_candidates(e, ps, &cand, &tmp);

	if (!mp->namespace_selector.present) {
		n = model_pods_in_namespace(e->m, pol->ns, &l);
		if (n_cand > n) {
			cand = l;
			n_cand = n;
		}
		for (size_t i = 0; i < n_cand; i++) {
			const struct model_pod *p = cand[i];
			if (!streq(p->ns, pol->ns) || !pod_selectable(p))
				continue;
			if (ps && !model_selector_matches(ps, &p->labels))
				continue;
			r = cpeer_add_pod(cp, p);
			if (r < 0)
				return r;
		}
		return selection_addrs(cp);
	}

	{
		const struct model_namespace *const *nss;
		size_t n_ns = model_namespaces(e->m, &nss);

		for (size_t i = 0; i < n_ns; i++) {
			/* The model gives every namespace kubernetes.io/metadata.name, as the API
			 * server does (also to namespaces only named by pods). */
			if (!model_selector_matches(&mp->namespace_selector, &nss[i]->labels))
				continue;
			r = VEC_PUSH(&nslist, nss[i]->name);
			if (r >= 0)
				r = hashmap_put(&nsset, nss[i]->name, (void *)nss[i]);
			if (r < 0)
				goto out;
			total += model_pods_in_namespace(e->m, nss[i]->name, &l);
		}
	}

	if (n_cand < total) {
		for (size_t i = 0; i < n_cand; i++) {
			const struct model_pod *p = cand[i];
			if (!pod_selectable(p) || !hashmap_get(&nsset, p->ns))
				continue;
			if (!model_selector_matches(ps, &p->labels))
				continue;
			r = cpeer_add_pod(cp, p);
			if (r < 0)
				goto out;
		}
	} else
		for (size_t k = 0; k < nslist.n; k++) {
			n = model_pods_in_namespace(e->m, nslist.items[k], &l);
			for (size_t i = 0; i < n; i++) {
				if (!pod_selectable(l[i]))
					continue;
				if (ps && !model_selector_matches(ps, &l[i]->labels))
					continue;
				r = cpeer_add_pod(cp, l[i]);
				if (r < 0)
					goto out;
			}
		}
	r = selection_addrs(cp);
out:
	VEC_DONE(&nslist);
	return r;
}

/* Sets cp->sel to the shared selection of a selector peer, computing it on first use. The
 * scope is the policy's namespace when there is no namespaceSelector. */
static int cpeer_select(struct policy_engine *e, const struct model_policy *pol, struct cpeer *cp)
{
	_cleanup_(strbuf_done) struct strbuf key = { 0 };
	struct selection *s;
	int r;

	if (cp->mp->namespace_selector.present) {
		strbuf_puts(&key, "N");
		selector_key(&cp->mp->namespace_selector, &key);
	} else
		strbuf_printf(&key, "P%p", (const void *)pol->ns);
	selector_key(&cp->mp->pod_selector, &key);
	if (key.oom)
		return -ENOMEM;
	s = hashmap_get(&e->selections, strbuf_str(&key));
	if (s) {
		cp->sel = s;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->key = strbuf_steal(&key);
	r = s->key ? selection_compute(e, pol, cp->mp, s) : -ENOMEM;
	if (r >= 0)
		r = hashmap_put(&e->selections, s->key, s);
	if (r < 0) {
		selection_free(s);
		return r;
	}
	cp->sel = s;
	return 0;
}

/* An ipBlock: the CIDR minus its exceptions. IPv6 blocks never cover IPv4 traffic, so the
 * IPv4-mapped block is removed from them. */
static int cpeer_ipblock(struct cpeer *cp)
{
	const struct model_ipblock *b = cp->mp->ipblock;
	_cleanup_(np_iset_done) struct np_iset base = { 0 }, ex = { 0 };
	int r;

	r = np_iset_add(&base, b->lo, b->hi);
	if (r < 0)
		return r;
	if (b->family == AF_INET6) {
		r = np_iset_add(&ex, NP_V4_BASE, NP_V4_LAST);
		if (r < 0)
			return r;
	}
	for (uint32_t i = 0; i < b->n_except; i++) {
		r = np_iset_add(&ex, b->except[i].lo, b->except[i].hi);
		if (r < 0)
			return r;
	}
	np_iset_normalize(&ex);
	cp->sel = calloc(1, sizeof(*cp->sel));
	if (!cp->sel)
		return -ENOMEM;
	return np_iset_subtract(&base, &ex, &cp->sel->addrs);
}

/* --- policies --- */

static void cpolicy_free(struct cpolicy *c)
{
	if (!c)
		return;
	for (int d = 0; d < 2; d++) {
		for (uint32_t i = 0; i < c->n_rules[d]; i++) {
			struct crule *cr = &c->rules[d][i];
			for (uint32_t k = 0; k < cr->n_peers; k++) {
				if (cr->peers[k].sel && !cr->peers[k].sel->key)
					selection_free(cr->peers[k].sel);
			}
			free(cr->peers);
		}
		free(c->rules[d]);
	}
	free(c);
}

/* Returns the directions a policy affects: spec.policyTypes, or when it is omitted or empty,
 * as the API server's SetDefaults_NetworkPolicy: Ingress always, Egress iff spec.egress has at
 * least one rule (`egress: []` does not make a policy affect egress). */
uint8_t policy_effective_types(const struct model_policy *p)
{
	if (p->policy_types)
		return p->policy_types;
	return MODEL_POLICY_TYPE_INGRESS | (p->n_rules[NP_EGRESS] ? MODEL_POLICY_TYPE_EGRESS : 0);
}

static int cpolicy_compile(struct policy_engine *e, const struct model_policy *p,
			   struct cpolicy **ret)
{
	struct cpolicy *c;
	int r;

	if (p->id < e->n_pol && e->pol[p->id]) {
		*ret = e->pol[p->id];
		return 0;
	}
	if (p->id >= e->n_pol) {
		size_t n = MAX((size_t)p->id + 1, e->n_pol * 2);
		struct cpolicy **v = reallocarray(e->pol, n, sizeof(*v));
		if (!v)
			return -ENOMEM;
		memset(v + e->n_pol, 0, (n - e->n_pol) * sizeof(*v));
		e->pol = v;
		e->n_pol = n;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->p = p;
	c->types = policy_effective_types(p);
	for (int d = 0; d < 2; d++) {
		if (!(c->types &
		      (d == NP_INGRESS ? MODEL_POLICY_TYPE_INGRESS : MODEL_POLICY_TYPE_EGRESS)))
			continue; /* rules of a direction the policy does not affect are ignored */
		c->rules[d] = calloc(p->n_rules[d] ? p->n_rules[d] : 1, sizeof(struct crule));
		if (!c->rules[d])
			goto oom;
		c->n_rules[d] = p->n_rules[d];
		for (uint32_t i = 0; i < p->n_rules[d]; i++) {
			const struct model_rule *mr = &p->rules[d][i];
			struct crule *cr = &c->rules[d][i];

			for (uint32_t k = 0; k < mr->n_ports; k++)
				if (mr->ports[k].port_name)
					c->named[d] = true;
			/* from/to missing or empty: every peer (spec: "If this field is empty or
			 * missing, this rule matches all sources/destinations"). */
			if (mr->n_peers == 0) {
				cr->all_peers = true;
				continue;
			}
			cr->peers = calloc(mr->n_peers, sizeof(*cr->peers));
			if (!cr->peers)
				goto oom;
			cr->n_peers = mr->n_peers;
			for (uint32_t k = 0; k < mr->n_peers; k++) {
				struct cpeer *cp = &cr->peers[k];
				cp->mp = &mr->peers[k];
				if (cp->mp->ipblock)
					r = cpeer_ipblock(cp);
				else if (cp->mp->pod_selector.present ||
					 cp->mp->namespace_selector.present)
					r = cpeer_select(e, p, cp);
				else {
					/* invalid peer (the API rejects it): selects nothing */
					cp->sel = calloc(1, sizeof(*cp->sel));
					r = cp->sel ? 0 : -ENOMEM;
				}
				if (r < 0) {
					cpolicy_free(c);
					return r;
				}
			}
		}
	}
	e->pol[p->id] = c;
	*ret = c;
	return 0;
oom:
	cpolicy_free(c);
	return -ENOMEM;
}

/* --- directions --- */

static void dir_free(struct policy_dir *d)
{
	if (!d)
		return;
	for (int i = 0; i < _POLICY_PROTO_MAX; i++) {
		for (size_t k = 0; k < d->n_segs[i]; k++)
			np_iset_done(&d->segs[i][k].addrs);
		free(d->segs[i]);
	}
	free(d->policies);
	free(d->terms);
	np_iset_done(&d->local_node);
	free(d);
}

typedef VEC(struct policy_term) term_vec;

static int term_push(term_vec *tv, const struct cpolicy *c, uint32_t rule, int32_t peer,
		     int32_t port, uint8_t proto, uint16_t lo, uint16_t hi, const char *name,
		     const struct np_iset *addrs)
{
	if (addrs->n == 0)
		return 0;
	return VEC_PUSH(tv, ((struct policy_term){
				    .policy = c->p,
				    .rule = rule,
				    .peer = peer,
				    .port = port,
				    .proto = proto,
				    .port_lo = lo,
				    .port_hi = hi,
				    .port_name = name,
				    .addrs = addrs,
			    }));
}

/* Adds the terms of one rule port (or of "all ports" when mp is NULL) for every peer. */
static int rule_port_terms(struct policy_engine *e, term_vec *tv, const struct model_pod *pod,
			   const struct cpolicy *c, enum np_dir d, uint32_t ri, int32_t pi,
			   const struct model_policy_port *mp)
{
	struct crule *cr = &c->rules[d][ri];
	uint32_t n_peers = cr->all_peers ? 1 : cr->n_peers;
	int r = 0;

	for (uint32_t k = 0; k < n_peers; k++) {
		struct cpeer *cp = cr->all_peers ? NULL : &cr->peers[k];
		const struct np_iset *addrs = cp ? &cp->sel->addrs : &e->all;
		int32_t peer = cp ? (int32_t)k : -1;

		if (!mp) {
			for (int x = 0; x < _POLICY_PROTO_MAX && r >= 0; x++)
				r = term_push(tv, c, ri, peer, -1, policy_proto_numbers[x], 0,
					      65535, NULL, addrs);
		} else if (mp->port_name && d == NP_INGRESS) {
			/* Ingress: the destination is the pod itself. */
			for (uint16_t i = 0; i < pod->n_ports && r >= 0; i++) {
				const struct model_container_port *p = &pod->ports[i];
				if (p->name && p->proto == mp->proto &&
				    streq(p->name, mp->port_name))
					r = term_push(tv, c, ri, peer, pi, mp->proto, p->port,
						      p->port, mp->port_name, addrs);
			}
		} else if (mp->port_name) {
			struct named_groups *g;

			r = egress_named(e, cp, mp->port_name, mp->proto, &g);
			for (size_t i = 0; r >= 0 && i < g->n; i++)
				r = term_push(tv, c, ri, peer, pi, mp->proto, g->v[i].port,
					      g->v[i].port, mp->port_name, &g->v[i].addrs);
		} else if (!mp->has_port)
			r = term_push(tv, c, ri, peer, pi, mp->proto, 0, 65535, NULL, addrs);
		else {
			/* endPort: the range port..endPort; the API rejects endPort < port. */
			uint16_t hi = mp->end_port >= mp->port ? mp->end_port : mp->port;
			r = term_push(tv, c, ri, peer, pi, mp->proto, mp->port, hi, NULL, addrs);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Sets out to a ∪ b for canonical a and b by one linear merge (np_iset_union sorts). */
static int iset_union_sorted(const struct np_iset *a, const struct np_iset *b, struct np_iset *out)
{
	size_t i = 0, j = 0;

	np_iset_clear(out);
	while (i < a->n || j < b->n) {
		const struct np_range *x;

		if (j >= b->n || (i < a->n && a->r[i].lo <= b->r[j].lo))
			x = &a->r[i++];
		else
			x = &b->r[j++];
		if (out->n > 0) {
			struct np_range *last = &out->r[out->n - 1];
			if (last->hi == NP_U128_MAX || x->lo <= last->hi + 1) {
				if (x->hi > last->hi)
					last->hi = x->hi;
				continue;
			}
		}
		if (np_iset_add(out, x->lo, x->hi) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Builds the canonical segments of protocol index x from the terms. */
static int dir_canonicalize(struct policy_dir *d, int x)
{
	uint8_t proto = policy_proto_numbers[x];
	_cleanup_(freep) uint32_t *cuts = NULL;
	_cleanup_(np_iset_done) struct np_iset cur = { 0 }, tmp = { 0 };
	VEC(struct policy_seg) segs = { 0 };
	size_t n_cuts = 0;
	int r = 0;

	cuts = calloc(2 * d->n_terms + 2, sizeof(*cuts));
	if (!cuts)
		return -ENOMEM;
	if (d->local_node.n > 0) {
		cuts[n_cuts++] = 0;
		cuts[n_cuts++] = 65536;
	}
	for (size_t i = 0; i < d->n_terms; i++)
		if (d->terms[i].proto == proto) {
			cuts[n_cuts++] = d->terms[i].port_lo;
			cuts[n_cuts++] = (uint32_t)d->terms[i].port_hi + 1;
		}
	if (n_cuts == 0)
		return 0;
	np_qsort(cuts, n_cuts, sizeof(*cuts), u32_cmp);

	for (size_t i = 0; i + 1 < n_cuts; i++) {
		uint32_t lo = cuts[i], hi = cuts[i + 1] - 1;
		bool all = false;

		if (cuts[i + 1] == cuts[i])
			continue;
		/* The union of the local node and every term covering [lo, hi]; all inputs are
		 * canonical, so linear merges keep it canonical. */
		r = np_iset_copy(&d->local_node, &cur);
		for (size_t t = 0; t < d->n_terms && !all && r >= 0; t++) {
			const struct policy_term *pt = &d->terms[t];
			struct np_iset swap;

			if (pt->proto != proto || pt->port_lo > lo || pt->port_hi < hi)
				continue;
			if (pt->addrs->n == 1 && pt->addrs->r[0].lo == 0 &&
			    pt->addrs->r[0].hi == NP_U128_MAX) {
				np_iset_clear(&cur);
				r = np_iset_add(&cur, 0, NP_U128_MAX);
				all = true;
				continue;
			}
			r = iset_union_sorted(&cur, pt->addrs, &tmp);
			swap = cur;
			cur = tmp;
			tmp = swap;
		}
		if (r < 0)
			goto fail;
		if (cur.n == 0)
			continue;
		if (segs.n > 0 && (uint32_t)segs.items[segs.n - 1].hi + 1 == lo &&
		    np_iset_equal(&segs.items[segs.n - 1].addrs, &cur)) {
			segs.items[segs.n - 1].hi = (uint16_t)hi;
			continue;
		}
		r = VEC_PUSH(&segs,
			     ((struct policy_seg){ .lo = (uint16_t)lo, .hi = (uint16_t)hi }));
		if (r < 0)
			goto fail;
		/* hand the set over and start a fresh one */
		segs.items[segs.n - 1].addrs = cur;
		cur = (struct np_iset){ 0 };
	}
	d->segs[x] = segs.items;
	d->n_segs[x] = segs.n;
	return 0;
fail:
	for (size_t i = 0; i < segs.n; i++)
		np_iset_done(&segs.items[i].addrs);
	VEC_DONE(&segs);
	return r;
}

static int dir_compile(struct policy_engine *e, const struct model_pod *pod, enum np_dir dir,
		       struct cpolicy **pols, size_t n_pols, const struct np_iset *node,
		       struct policy_dir **ret)
{
	struct policy_dir *d;
	term_vec tv = { 0 };
	int r = 0;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->dir = dir;
	d->isolated = true;
	d->policies = calloc(n_pols, sizeof(*d->policies));
	if (!d->policies) {
		r = -ENOMEM;
		goto fail;
	}
	d->n_policies = n_pols;
	for (size_t i = 0; i < n_pols; i++) {
		const struct cpolicy *c = pols[i];
		const struct model_policy *p = c->p;

		d->policies[i] = p;
		for (uint32_t ri = 0; ri < c->n_rules[dir]; ri++) {
			const struct model_rule *mr = &p->rules[dir][ri];

			/* ports missing or empty: all ports of all protocols. */
			if (mr->n_ports == 0)
				r = rule_port_terms(e, &tv, pod, c, dir, ri, -1, NULL);
			for (uint32_t k = 0; k < mr->n_ports && r >= 0; k++)
				r = rule_port_terms(e, &tv, pod, c, dir, ri, (int32_t)k,
						    &mr->ports[k]);
			if (r < 0)
				goto fail;
		}
	}
	d->terms = tv.items;
	d->n_terms = tv.n;
	tv = (term_vec){ 0 };
	if (node) {
		r = np_iset_copy(node, &d->local_node);
		if (r < 0)
			goto fail;
	}
	for (int x = 0; x < _POLICY_PROTO_MAX; x++) {
		r = dir_canonicalize(d, x);
		if (r < 0)
			goto fail;
	}
	*ret = d;
	return 0;
fail:
	VEC_DONE(&tv);
	dir_free(d);
	return r;
}

/* The "allow everything" direction of a pod no policy isolates. */
static int dir_allow_all(struct policy_engine *e, enum np_dir dir, struct policy_dir **ret)
{
	struct policy_dir *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->dir = dir;
	for (int x = 0; x < _POLICY_PROTO_MAX; x++) {
		d->segs[x] = calloc(1, sizeof(struct policy_seg));
		if (!d->segs[x] || np_iset_add(&d->segs[x][0].addrs, 0, NP_U128_MAX) < 0) {
			dir_free(d);
			return -ENOMEM;
		}
		d->segs[x][0].lo = 0;
		d->segs[x][0].hi = 65535;
		d->n_segs[x] = 1;
	}
	*ret = d;
	return 0;
}

/*
 * The addresses of a node, as far as the API tells them: a hostNetwork pod's IP is its node's
 * IP. Sets *ret to the node's set, or NULL when none is known.
 */
static int engine_node_addrs(struct policy_engine *e, const char *node, const struct np_iset **ret)
{
	*ret = NULL;
	if (!node)
		return 0;
	if (!e->node_addrs_built) {
		const struct model_pod *const *pods;
		size_t n = model_pods(e->m, &pods);

		for (size_t i = 0; i < n; i++) {
			const struct model_pod *p = pods[i];
			struct np_iset *s;

			if (!p->host_network || !p->node || p->n_ips == 0)
				continue;
			s = hashmap_get(&e->node_addrs, p->node);
			if (!s) {
				s = calloc(1, sizeof(*s));
				if (!s)
					return -ENOMEM;
				if (hashmap_put(&e->node_addrs, p->node, s) < 0) {
					free(s);
					return -ENOMEM;
				}
			}
			for (uint8_t k = 0; k < p->n_ips; k++)
				if (np_iset_add(s, p->ips[k], p->ips[k]) < 0)
					return -ENOMEM;
		}
		HASHMAP_FOREACH (he, &e->node_addrs)
			np_iset_normalize(he->value);
		e->node_addrs_built = true;
	}
	*ret = hashmap_get(&e->node_addrs, node);
	return 0;
}

/* Returns the shared compiled direction for a pod selected by pols. */
static int dir_get(struct policy_engine *e, const struct model_pod *pod, enum np_dir dir,
		   struct cpolicy **pols, size_t n_pols, const struct policy_dir **ret)
{
	_cleanup_(strbuf_done) struct strbuf key = { 0 };
	const struct np_iset *node = NULL;
	struct dir_entry *de;
	bool named = false;
	int r;

	if (n_pols == 0) {
		*ret = e->allow_all[dir];
		return 0;
	}
	if (dir == NP_INGRESS) {
		r = engine_node_addrs(e, pod->node, &node);
		if (r < 0)
			return r;
	}
	/* The key: the selecting policies and, when an ingress rule uses named ports, the pod's
	 * container ports they resolve against. Egress named ports resolve against peers. */
	strbuf_printf(&key, "%c", dir == NP_INGRESS ? 'I' : 'E');
	for (size_t i = 0; i < n_pols; i++) {
		strbuf_printf(&key, ",%u", pols[i]->p->id);
		named = named || pols[i]->named[dir];
	}
	if (node)
		strbuf_printf(&key, "|N%p", (const void *)pod->node);
	if (named && dir == NP_INGRESS)
		for (uint16_t i = 0; i < pod->n_ports; i++)
			strbuf_printf(&key, "|%s/%u/%u", pod->ports[i].name ?: "",
				      pod->ports[i].proto, pod->ports[i].port);
	if (key.oom)
		return -ENOMEM;
	de = hashmap_get(&e->dirs, strbuf_str(&key));
	if (de) {
		*ret = de->dir;
		return 0;
	}
	de = calloc(1, sizeof(*de));
	if (!de)
		return -ENOMEM;
	de->key = strbuf_steal(&key);
	r = de->key ? dir_compile(e, pod, dir, pols, n_pols, node, &de->dir) : -ENOMEM;
	if (r >= 0)
		r = hashmap_put(&e->dirs, de->key, de);
	if (r < 0) {
		dir_free(de->dir);
		free(de->key);
		free(de);
		return r;
	}
	*ret = de->dir;
	return 0;
}

/* --- the engine --- */

static void engine_flush(struct policy_engine *e)
{
	HASHMAP_FOREACH (he, &e->dirs) {
		struct dir_entry *de = he->value;
		dir_free(de->dir);
		free(de->key);
		free(de);
	}
	hashmap_done(&e->dirs);
	HASHMAP_FOREACH (he, &e->expects) {
		free(he->value);
	}
	hashmap_done(&e->expects);
	for (size_t i = 0; i < e->n_pol; i++)
		cpolicy_free(e->pol[i]);
	free(e->pol);
	e->pol = NULL;
	e->n_pol = 0;
	HASHMAP_FOREACH (he, &e->named_index) {
		struct named_pods *np = he->value;
		VEC_DONE(&np->pods);
		free(np);
	}
	hashmap_done(&e->named_index);
	e->named_index_built = false;
	named_groups_free(e->named_all);
	e->named_all = NULL;
	HASHMAP_FOREACH (he, &e->node_addrs) {
		np_iset_done(he->value);
		free(he->value);
	}
	hashmap_done(&e->node_addrs);
	e->node_addrs_built = false;
	HASHMAP_FOREACH (he, &e->selections) {
		selection_free(he->value);
	}
	hashmap_done(&e->selections);
}

static void engine_sync(struct policy_engine *e)
{
	uint64_t g = model_generation(e->m);
	if (g != e->gen) {
		engine_flush(e);
		e->gen = g;
	}
}

int policy_engine_new(const struct model *m, struct policy_engine **ret)
{
	struct policy_engine *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	e->m = m;
	e->gen = model_generation(m);
	r = np_iset_add(&e->all, 0, NP_U128_MAX);
	for (int d = 0; d < 2 && r >= 0; d++)
		r = dir_allow_all(e, d, &e->allow_all[d]);
	if (r < 0) {
		policy_engine_free(e);
		return r;
	}
	*ret = e;
	return 0;
}

struct policy_engine *policy_engine_free(struct policy_engine *e)
{
	if (!e)
		return NULL;
	engine_flush(e);
	for (int d = 0; d < 2; d++)
		dir_free(e->allow_all[d]);
	np_iset_done(&e->all);
	free(e);
	return NULL;
}

static int expect_compile(struct policy_engine *e, const struct model_pod *p,
			  struct policy_expect *x)
{
	const struct model_policy *const *pols;
	_cleanup_(freep) struct cpolicy **sel_in = NULL;
	_cleanup_(freep) struct cpolicy **sel_eg = NULL;
	struct cpolicy **sel[2];
	size_t n_sel[2] = { 0, 0 }, n;
	int r;

	x->pod = p;
	x->exempt = policy_pod_exempt(p);
	x->dir[NP_INGRESS] = e->allow_all[NP_INGRESS];
	x->dir[NP_EGRESS] = e->allow_all[NP_EGRESS];
	if (x->exempt != POLICY_APPLIES)
		return 0;

	/* A pod is isolated in a direction iff a policy of its namespace selects it (the
	 * policy's podSelector; {} selects all) and affects that direction. */
	n = model_policies_in_namespace(e->m, p->ns, &pols);
	sel[NP_INGRESS] = sel_in = calloc(n ? n : 1, sizeof(struct cpolicy *));
	sel[NP_EGRESS] = sel_eg = calloc(n ? n : 1, sizeof(struct cpolicy *));
	if (!sel_in || !sel_eg)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct model_policy *pol = pols[i];
		struct cpolicy *c;
		uint8_t types;

		if (pol->pod_selector.present &&
		    !model_selector_matches(&pol->pod_selector, &p->labels))
			continue;
		types = policy_effective_types(pol);
		if (!types)
			continue;
		r = cpolicy_compile(e, pol, &c);
		if (r < 0)
			return r;
		if (types & MODEL_POLICY_TYPE_INGRESS)
			sel[NP_INGRESS][n_sel[NP_INGRESS]++] = c;
		if (types & MODEL_POLICY_TYPE_EGRESS)
			sel[NP_EGRESS][n_sel[NP_EGRESS]++] = c;
	}
	for (int d = 0; d < 2; d++) {
		r = dir_get(e, p, d, sel[d], n_sel[d], &x->dir[d]);
		if (r < 0)
			return r;
	}
	return 0;
}

int policy_engine_expect(struct policy_engine *e, const struct model_pod *p,
			 const struct policy_expect **ret)
{
	struct expect_entry *x;
	char buf[512];
	size_t len;
	int r;

	engine_sync(e);
	snprintf(buf, sizeof(buf), "%s/%s", p->ns, p->name);
	x = hashmap_get(&e->expects, buf);
	if (x) {
		*ret = &x->x;
		return 0;
	}
	len = strlen(buf);
	x = calloc(1, sizeof(*x) + len + 1);
	if (!x)
		return -ENOMEM;
	memcpy(x->key, buf, len + 1);
	r = expect_compile(e, p, &x->x);
	if (r >= 0)
		r = hashmap_put(&e->expects, x->key, x);
	if (r < 0) {
		free(x);
		return r;
	}
	*ret = &x->x;
	return 0;
}

int policy_engine_expect_node(struct policy_engine *e, const char *node,
			      const struct policy_expect **ret, size_t size)
{
	const struct model_pod *const *pods;
	size_t n;

	engine_sync(e);
	n = model_pods_on_node(e->m, node, &pods);
	if (n > size)
		return -ENOBUFS;
	for (size_t i = 0; i < n; i++) {
		int r = policy_engine_expect(e, pods[i], &ret[i]);
		if (r < 0)
			return r;
	}
	return (int)n;
}
