/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <assert.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "audit.h"

static const char *const kind_names[_AUDIT_KIND_MAX] = {
	[AUDIT_ALLOWED_DRIFT] = "allowed-drift", [AUDIT_BLOCKED_DRIFT] = "blocked-drift",
	[AUDIT_UNENFORCED] = "unenforced",	 [AUDIT_UNVERIFIABLE] = "unverifiable",
	[AUDIT_NO_ROUTE] = "no-route",
};

const char *audit_kind_to_string(enum audit_kind k)
{
	return k < _AUDIT_KIND_MAX ? kind_names[k] : "?";
}

int audit_kind_from_string(const char *s)
{
	for (int k = 0; k < _AUDIT_KIND_MAX; k++)
		if (streq(s, kind_names[k]))
			return k;
	return -EINVAL;
}

const char *audit_severity_to_string(enum audit_severity s)
{
	switch (s) {
	case AUDIT_CRITICAL:
		return "critical";
	case AUDIT_ERROR:
		return "error";
	case AUDIT_WARNING:
		return "warning";
	case AUDIT_INFO:
		return "info";
	}
	return "?";
}

enum audit_severity audit_kind_severity(enum audit_kind k)
{
	switch (k) {
	case AUDIT_ALLOWED_DRIFT:
		return AUDIT_CRITICAL;
	case AUDIT_BLOCKED_DRIFT:
	case AUDIT_UNENFORCED:
	case AUDIT_NO_ROUTE:
		return AUDIT_ERROR;
	case AUDIT_UNVERIFIABLE:
	default:
		return AUDIT_WARNING;
	}
}

struct audit_finding *audit_finding_free(struct audit_finding *f)
{
	if (!f)
		return NULL;
	free(f->pod);
	free(f->peer_pod);
	free(f->iface);
	np_iset_done(&f->peers);
	np_iset_done(&f->ports);
	VEC_FOREACH (p, &f->policies)
		free(*p);
	VEC_DONE(&f->policies);
	free(f->rule_json);
	free(f->rule_text);
	free(f->reason);
	free(f->message);
	free(f);
	return NULL;
}

struct audit_report *audit_report_free(struct audit_report *r)
{
	if (!r)
		return NULL;
	VEC_FOREACH (f, &r->findings)
		audit_finding_free(*f);
	VEC_DONE(&r->findings);
	VEC_FOREACH (n, &r->notes)
		free(*n);
	VEC_DONE(&r->notes);
	free(r->node);
	free(r);
	return NULL;
}

/* ---- cut points and classes ---- */

struct cuts {
	np_u128 *v;
	size_t n, cap;
};

static int cuts_add(struct cuts *c, np_u128 x)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		np_u128 *v = reallocarray(c->v, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = x;
	return 0;
}

static int cuts_add_all(struct cuts *c, const np_u128 *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cuts_add(c, v[i]) < 0)
			return -ENOMEM;
	return 0;
}

static void cuts_sort(struct cuts *c)
{
	size_t w = 0;

	if (c->n > 1)
		eval_sort_u128(c->v, c->n);
	for (size_t i = 0; i < c->n; i++)
		if (w == 0 || c->v[w - 1] != c->v[i])
			c->v[w++] = c->v[i];
	c->n = w;
}

static void cuts_done(struct cuts *c)
{
	free(c->v);
	*c = (struct cuts){ 0 };
}

/* Splits [lo, hi] at the sorted cuts into classes (inclusive ranges). */
static int classes_of(const struct cuts *c, np_u128 lo, np_u128 hi, struct np_iset *ret)
{
	np_u128 start = lo;

	for (size_t i = 0; i < c->n; i++) {
		np_u128 x = c->v[i];
		if (x <= lo || x > hi)
			continue;
		if (np_iset_add(ret, start, x - 1) < 0)
			return -ENOMEM;
		start = x;
	}
	return np_iset_add(ret, start, hi);
}

/* ---- state of one audit ---- */

struct group {
	enum audit_kind kind;
	const struct model_pod *pod, *peer_pod;
	enum np_dir dir;
	uint8_t proto;
	char *reason;
	char iface[IFNAMSIZ];
	struct np_iset ports;
	struct np_iset peers;
	unsigned classes;
	struct audit_packet example;
	bool expected_allow;
	enum eval_verdict actual;
	int score; /* of the example */
	uint8_t protos; /* AUDIT_PROTO_* */
	bool merged; /* folded into another group */
};

struct atoms {
	struct np_iset *v; /* per atom: its values, canonical */
	size_t n;
};

struct pair_class {
	struct audit_packet p;
	enum eval_verdict v;
	char *reason; /* unknown verdicts */
};

struct pair_classes {
	struct pair_class *items;
	size_t n, cap;
};

struct pod_state {
	const struct model_pod *pod;
	const struct policy_expect *exp;
	char veth[2][IFNAMSIZ]; /* per family index (0 v4, 1 v6) */
	int veth_index[2];
	np_u128 ip[2];
	bool has[2];
	bool saw_drop[2]; /* [dir]: some class of its traffic in that direction was dropped */
};

/*
 * Live verdicts already known between the same two addresses and interfaces: each evaluation
 * says for which ports (and, when it tested no protocol, for which other protocols) its path
 * through the rules is the same (struct eval_region), and a class whose representative falls
 * in such a region has that verdict without a walk. Unknown verdicts are not kept: their
 * reason is the class's own.
 */
struct known {
	struct known_verdict {
		struct eval_region rg;
		enum eval_verdict v;
		bool all_dports, all_sports; /* the region holds every such port */
		struct np_iset dports; /* else: the ports it holds (filled when first needed) */
		bool have_dports;
	} * v;
	size_t n, cap; /* entries up to cap are initialised (their sets reused) */
};

struct audit {
	const struct audit_env *env;
	struct audit_report *report;
	VEC(struct group) groups;
	struct np_iset excluded[2]; /* local pod and node addresses, per family index */
	np_u128 *pod_ips; /* every cluster pod address, sorted: preferred examples */
	size_t n_pod_ips;
	const char **uplinks; /* interfaces of routes that lead off the node (not to a local pod) */
	size_t n_uplinks;
	/* Per family: the prefixes of the routes out of the uplinks, as sets (tests for the
	 * address atoms: members of an atom take the same route) and as cut points. */
	struct np_iset *route_sets[2];
	size_t n_route_sets[2];
	np_u128 *route_cuts[2];
	size_t n_route_cuts[2];
	np_u128 *route_starts; /* first address of every non-default unicast route prefix */
	size_t n_route_starts;
	struct eval_result res;
	struct known pair_known; /* of the pair being checked */
	struct pair_classes pair_sub; /* the pair check's classes of one piece of ports */
	struct np_iset pair_sets[6], scratch; /* the pair check's working sets */
	bool pair_saw[2]; /* the pair being checked: a drop seen by [0] the source's egress,
			   * [1] the destination's ingress */
	struct np_iset all_ports; /* 0-65535 */
	struct eval_boundaries bounds;
	struct pod_state *pods;
	size_t n_pods;
	bool full_walks; /* audit_options.full_walks */
	/* Shared walks (eval_packet_memo()), per family index, and the one in use. */
	struct eval_memo *memo[2];
	struct eval_memo *memo_cur;
};

static void group_done(struct group *g)
{
	free(g->reason);
	np_iset_done(&g->ports);
	np_iset_done(&g->peers);
}

/* A deep copy of g into *ret; returns 0 or -ENOMEM. */
static int group_copy(const struct group *g, struct group *ret)
{
	*ret = *g;
	ret->reason = NULL;
	ret->ports = ret->peers = (struct np_iset){ 0 };
	if ((g->reason && !(ret->reason = strdup(g->reason))) ||
	    np_iset_copy(&g->ports, &ret->ports) < 0 || np_iset_copy(&g->peers, &ret->peers) < 0) {
		group_done(ret);
		return -ENOMEM;
	}
	return 0;
}

/* The classes one check found and the drops it saw (a: the pod's, or the pair source's
 * egress; b: the pair destination's ingress). */
struct check_memo {
	struct group *g;
	size_t n;
	bool saw_a, saw_b;
};

struct audit_cache {
	bool valid;
	uint64_t fp; /* of what the checks depend on besides the ruleset and expectations */
	size_t n_pods;
	uint64_t *exp_hash; /* per pod: of its compiled expectation */
	struct check_memo *off; /* [pod * 2 + dir] */
	struct check_memo *pair; /* [src * n_pods + dst] */
};

static void memo_done(struct check_memo *m)
{
	for (size_t i = 0; i < m->n; i++)
		group_done(&m->g[i]);
	free(m->g);
	*m = (struct check_memo){ 0 };
}

static void cache_clear(struct audit_cache *c)
{
	for (size_t i = 0; c->off && i < 2 * c->n_pods; i++)
		memo_done(&c->off[i]);
	for (size_t i = 0; c->pair && i < c->n_pods * c->n_pods; i++)
		memo_done(&c->pair[i]);
	free(c->off);
	free(c->pair);
	free(c->exp_hash);
	*c = (struct audit_cache){ 0 };
}

struct audit_cache *audit_cache_new(void)
{
	return calloc(1, sizeof(struct audit_cache));
}

struct audit_cache *audit_cache_free(struct audit_cache *c)
{
	if (c) {
		cache_clear(c);
		free(c);
	}
	return NULL;
}

static int fam_index(int family)
{
	return family == AF_INET6;
}

static const struct pod_state *state_of(const struct audit *a, const struct model_pod *p)
{
	for (size_t i = 0; i < a->n_pods; i++)
		if (a->pods[i].pod == p)
			return &a->pods[i];
	return NULL;
}

static bool is_pod_ip(const struct audit *a, np_u128 v)
{
	size_t l = 0, h = a->n_pod_ips;

	while (l < h) {
		size_t mid = l + (h - l) / 2;
		if (a->pod_ips[mid] < v)
			l = mid + 1;
		else
			h = mid;
	}
	return l < a->n_pod_ips && a->pod_ips[l] == v;
}

/* A realistic member of [lo, hi]: a cluster pod's address when the class has one (the example
 * then names a real peer), else the first host of a route's prefix in the class (a remote
 * node's pod range, say), else an ordinary unicast address. */
static np_u128 pick_rep(const struct audit *a, np_u128 lo, np_u128 hi)
{
	static const np_u128 v4_ordinary = NP_V4_BASE | 0x01000000u; /* 1.0.0.0 */
	size_t l = 0, h = a->n_pod_ips;

	while (l < h) {
		size_t mid = l + (h - l) / 2;
		if (a->pod_ips[mid] < lo)
			l = mid + 1;
		else
			h = mid;
	}
	if (l < a->n_pod_ips && a->pod_ips[l] <= hi)
		return a->pod_ips[l];
	if (a->route_starts) {
		for (size_t i = 0; i < a->n_route_starts; i++) {
			np_u128 x = a->route_starts[i] + 1;
			if (x >= lo && x <= hi)
				return x;
		}
	}
	if (lo < v4_ordinary && hi >= v4_ordinary && lo >= NP_V4_BASE)
		return v4_ordinary + 1;
	if (hi - lo >= 2)
		return lo + 1;
	return lo;
}

/* A container port of pod p (of protocol proto) in [lo, hi], else 0. */
static uint16_t declared_port(const struct model_pod *p, uint8_t proto, np_u128 lo, np_u128 hi)
{
	if (!p)
		return 0;
	for (uint16_t i = 0; i < p->n_ports; i++)
		if (p->ports[i].proto == proto && p->ports[i].port >= lo && p->ports[i].port <= hi)
			return p->ports[i].port;
	return 0;
}

/* How good an example a packet makes: real peers and declared ports read best. */
static int example_score(const struct audit *a, const struct audit_packet *p, np_u128 peer,
			 const struct model_pod *dst)
{
	int s = 0;

	if (is_pod_ip(a, peer))
		s += 8;
	if (declared_port(dst, p->proto, p->dport, p->dport))
		s += 4;
	if (p->dport > 1)
		s += 1;
	if (np_addr_family(peer) == AF_INET) {
		uint32_t v = (uint32_t)peer;
		if ((v >> 24) != 0 && (v >> 24) != 127 && (v >> 28) < 14 && (v >> 16) != 0xa9fe)
			s += 2;
	}
	return s;
}

static uint16_t pick_port(np_u128 lo, np_u128 hi, bool source)
{
	/* Sources prefer an ephemeral port; destinations the first port of the class (but never
	 * 0, which real traffic cannot use). */
	if (source) {
		if (lo <= 40000 && hi >= 40000)
			return 40000;
		if (lo >= 1024)
			return (uint16_t)lo;
		if (hi >= 1024)
			return 1024;
	}
	if (lo == 0 && hi >= 1)
		return 1;
	return (uint16_t)lo;
}

static uint8_t proto_bit(uint8_t proto)
{
	return proto == IPPROTO_TCP    ? AUDIT_PROTO_TCP
	       : proto == IPPROTO_UDP  ? AUDIT_PROTO_UDP
	       : proto == IPPROTO_SCTP ? AUDIT_PROTO_SCTP
				       : 0;
}

/* Adds the classes ports x peers (a port atom and an address atom) to the group of drift they
 * belong to: same kind, pod, direction, peer pod, protocol, reason and port set. */
static int add_group(struct audit *a, enum audit_kind kind, const struct model_pod *pod,
		     enum np_dir dir, const struct model_pod *peer_pod, const char *iface,
		     uint8_t proto, const char *reason, const struct np_iset *ports,
		     const struct np_iset *peers, const struct audit_packet *ex, bool expected,
		     enum eval_verdict actual, const struct model_pod *dst_pod)
{
	struct group *g = NULL;
	int sc = example_score(a, ex, dir == NP_INGRESS ? ex->src : ex->dst, dst_pod);

	for (size_t i = a->groups.n; i-- > 0;) {
		struct group *x = &a->groups.items[i];
		if (x->kind == kind && x->pod == pod && x->dir == dir && x->peer_pod == peer_pod &&
		    x->proto == proto && np_iset_equal(&x->ports, ports) &&
		    ((!x->reason && !reason) ||
		     (x->reason && reason && streq(x->reason, reason)))) {
			g = x;
			break;
		}
	}
	if (!g) {
		struct group ng = { .protos = proto_bit(proto),
				    .kind = kind,
				    .pod = pod,
				    .dir = dir,
				    .peer_pod = peer_pod,
				    .proto = proto,
				    .example = *ex,
				    .score = sc,
				    .expected_allow = expected,
				    .actual = actual };
		if (reason && !(ng.reason = strdup(reason)))
			return -ENOMEM;
		snprintf(ng.iface, sizeof(ng.iface), "%s", iface ? iface : "");
		if (np_iset_copy(ports, &ng.ports) < 0 || VEC_PUSH(&a->groups, ng) < 0) {
			free(ng.reason);
			np_iset_done(&ng.ports);
			return -ENOMEM;
		}
		g = &a->groups.items[a->groups.n - 1];
	} else if (sc > g->score) {
		g->example = *ex;
		g->score = sc;
	}
	g->classes++;
	for (size_t i = 0; i < peers->n; i++)
		if (np_iset_add(&g->peers, peers->r[i].lo, peers->r[i].hi) < 0)
			return -ENOMEM;
	return 0;
}

/* ---- atoms: classes grouped by what every test says of them ---- */

static void atoms_done(struct atoms *at)
{
	for (size_t i = 0; i < at->n; i++)
		np_iset_done(&at->v[i]);
	free(at->v);
	*at = (struct atoms){ 0 };
}

struct sig {
	uint64_t h1, h2;
	uint32_t last; /* last test recorded + 1 (0: none) */
};

/* Marks every interval of iv that [lo, hi] covers as a member of test t. */
static void sig_mark(const struct np_iset *iv, struct sig *sig, np_u128 lo, np_u128 hi, uint32_t t)
{
	size_t l = 0, h = iv->n;

	while (l < h) {
		size_t mid = l + (h - l) / 2;
		if (iv->r[mid].hi < lo)
			l = mid + 1;
		else
			h = mid;
	}
	for (; l < iv->n && iv->r[l].lo <= hi; l++) {
		struct sig *x = &sig[l];
		if (x->last == t + 1)
			continue; /* overlapping elements of one test */
		x->last = t + 1;
		x->h1 = (x->h1 ^ (t + 0x9e3779b97f4a7c15ull)) * 0x100000001b3ull;
		x->h2 = (x->h2 + (t + 1) * 0xc2b2ae3d27d4eb4full) * 0x94d049bb133111ebull;
	}
}

/*
 * The atoms of the values in `universe` (canonical) cut at `cuts`: intervals between cuts are
 * grouped when every test (the evaluator's, then each of the `extra` sets) contains them alike.
 * One representative per atom decides for all of its values.
 */
static int atoms_build(const struct cuts *cuts, const struct np_iset *universe,
		       const struct eval_tests *tests, const struct np_iset *const *extra,
		       size_t n_extra, struct atoms *ret)
{
	struct np_iset iv = { 0 };
	struct sig *sig = NULL;
	struct sig_slot {
		uint64_t h1, h2;
		uint32_t atom;
		bool used;
	} *tab = NULL;
	uint32_t base = tests ? tests->n_tests : 0;
	int r = -ENOMEM;

	*ret = (struct atoms){ 0 };
	for (size_t u = 0; u < universe->n; u++)
		if (classes_of(cuts, universe->r[u].lo, universe->r[u].hi, &iv) < 0)
			goto out;
	if (iv.n == 0) {
		r = 0;
		goto out;
	}
	sig = calloc(iv.n, sizeof(*sig));
	if (!sig)
		goto out;
	for (size_t i = 0; tests && i < tests->n; i++)
		sig_mark(&iv, sig, tests->items[i].lo, tests->items[i].hi, tests->items[i].test);
	for (size_t k = 0; k < n_extra; k++)
		for (size_t i = 0; extra[k] && i < extra[k]->n; i++)
			sig_mark(&iv, sig, extra[k]->r[i].lo, extra[k]->r[i].hi,
				 base + (uint32_t)k);
	/* Group the intervals by signature through a hash table, in interval order: each atom
	 * gets its intervals ascending, so it is canonical once adjacent ones are joined. */
	{
		size_t cap = 16;

		while (cap < 2 * iv.n)
			cap *= 2;
		tab = calloc(cap, sizeof(*tab));
		ret->v = calloc(iv.n, sizeof(*ret->v));
		if (!tab || !ret->v)
			goto out;
		for (size_t i = 0; i < iv.n; i++) {
			size_t h = (size_t)(sig[i].h1 ^ (sig[i].h2 * 0x9e3779b97f4a7c15ull)) &
				   (cap - 1);
			struct np_iset *at;

			while (tab[h].used && (tab[h].h1 != sig[i].h1 || tab[h].h2 != sig[i].h2))
				h = (h + 1) & (cap - 1);
			if (!tab[h].used)
				tab[h] = (struct sig_slot){ .h1 = sig[i].h1,
							    .h2 = sig[i].h2,
							    .atom = (uint32_t)ret->n++,
							    .used = true };
			at = &ret->v[tab[h].atom];
			if (at->n > 0 && at->r[at->n - 1].hi + 1 == iv.r[i].lo)
				at->r[at->n - 1].hi = iv.r[i].hi;
			else if (np_iset_add(at, iv.r[i].lo, iv.r[i].hi) < 0)
				goto out;
		}
	}
	r = 0;
out:
	if (r < 0)
		atoms_done(ret);
	free(sig);
	free(tab);
	np_iset_done(&iv);
	return r;
}

/* Makes the evaluations of family index fi share their walks from here on: the audit's packets
 * differ in addresses, interfaces, protocol and ports only. Without memory for it, they do not
 * share. */
static void memo_use(struct audit *a, int fi)
{
	struct eval_memo **m = &a->memo[fi];

	a->memo_cur = NULL;
	if (a->full_walks)
		return;
	if (!*m &&
	    eval_memo_new(EVAL_VARY_SADDR | EVAL_VARY_IIF | EVAL_VARY_DADDR | EVAL_VARY_OIF, m) < 0)
		return;
	a->memo_cur = *m;
}

static int evaluate(struct audit *a, const struct audit_packet *p, struct eval_result *res,
		    bool trace)
{
	struct eval_packet pk;
	int r;

	eval_packet_init(&pk, p->family, EVAL_PATH_FORWARD);
	pk.saddr = p->src;
	pk.daddr = p->dst;
	pk.l4proto = p->proto;
	pk.sport = p->sport;
	pk.dport = p->dport;
	pk.ct_state = IR_CT_NEW;
	memcpy(pk.iif, p->iif, IFNAMSIZ);
	memcpy(pk.oif, p->oif, IFNAMSIZ);
	pk.iif[IFNAMSIZ - 1] = pk.oif[IFNAMSIZ - 1] = 0;
	pk.iif_index = p->iif_index ? p->iif_index : fw_rtable_ifindex(a->env->routes, p->iif);
	pk.oif_index = p->oif_index ? p->oif_index : fw_rtable_ifindex(a->env->routes, p->oif);
	/* The audit's packets are between pods and off-node peers: the node's own addresses are
	 * excluded from its classes, so both ends are unicast. */
	pk.saddr_type = RTN_UNICAST;
	pk.daddr_type = RTN_UNICAST;
	pk.rpf_ok = 1; /* iif is the interface the route to the source names */
	if (a->memo_cur && !trace)
		r = eval_packet_memo(a->env->eval, a->memo_cur, &pk, res);
	else
		r = eval_packet(a->env->eval, &pk, trace, res);
	if (r >= 0 && !trace)
		a->report->classes_evaluated++;
	return r;
}

static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP };

static void known_reset(struct known *k)
{
	k->n = 0;
}

static void known_done(struct known *k)
{
	for (size_t i = 0; i < k->cap; i++)
		np_iset_done(&k->v[i].dports);
	free(k->v);
	*k = (struct known){ 0 };
}

/* Whether rg holds for every source (sport) or destination port. */
static bool region_all_ports(const struct eval_region *rg, bool sport)
{
	if (sport ? rg->sport_lo > 0 || rg->sport_hi < 65535
		  : rg->dport_lo > 0 || rg->dport_hi < 65535)
		return false;
	for (unsigned i = 0; i < rg->ntests; i++)
		if (rg->tests[i].field == (sport ? EVAL_REGION_SPORT : EVAL_REGION_DPORT))
			return false;
	return true;
}

/* The live verdict of p: from k when a region there holds p, else by evaluation (a->res then
 * holds the result, reason included); *ret_e (when not NULL) is set to the entry of k, or of
 * a->res for an unknown verdict (*scratch then), valid until k or a->res change. Returns 0 or
 * -errno. */
static int evaluate_known(struct audit *a, struct known *k, const struct audit_packet *p,
			  enum eval_verdict *ret, struct known_verdict **ret_e,
			  struct known_verdict *scratch)
{
	struct known_verdict *e;
	int r;

	for (size_t i = k->n; i-- > 0;) {
		e = &k->v[i];
		if (eval_region_holds(&e->rg, p->proto, p->sport, p->dport)) {
			a->report->classes_evaluated++;
			*ret = e->v;
			if (ret_e)
				*ret_e = e;
			return 0;
		}
	}
	r = evaluate(a, p, &a->res, false);
	if (r < 0)
		return r;
	a->report->packets_evaluated++;
	*ret = a->res.verdict;
	if (a->res.verdict == EVAL_UNKNOWN) {
		/* its reason is its own: evaluated again when met */
		e = scratch;
	} else {
		if (k->n == k->cap) {
			size_t cap = k->cap ? 2 * k->cap : 8;
			struct known_verdict *v = reallocarray(k->v, cap, sizeof(*v));

			if (!v)
				return -ENOMEM;
			memset(v + k->cap, 0, (cap - k->cap) * sizeof(*v));
			k->v = v;
			k->cap = cap;
		}
		e = &k->v[k->n++];
	}
	if (!e)
		return 0;
	e->rg = a->res.region;
	e->v = a->res.verdict;
	e->all_dports = region_all_ports(&e->rg, false);
	e->all_sports = region_all_ports(&e->rg, true);
	e->have_dports = false;
	if (ret_e)
		*ret_e = e;
	return 0;
}

/* Returns whether a class whose expected verdict is `expected` and whose live verdict is v is a
 * finding, and of which kind. */
static bool classify(bool expected, enum eval_verdict v, enum audit_kind *ret)
{
	if (v == EVAL_UNKNOWN)
		*ret = AUDIT_UNVERIFIABLE;
	else if (expected && v == EVAL_DROP)
		*ret = AUDIT_BLOCKED_DRIFT;
	else if (!expected && v == EVAL_ACCEPT)
		*ret = AUDIT_ALLOWED_DRIFT;
	else
		return false;
	return true;
}

static int port_cuts(struct cuts *c, const struct policy_dir *d, int pi)
{
	_cleanup_(freep) uint32_t *v = NULL;
	size_t n;
	int r = policy_dir_port_cuts(d, (enum policy_proto)pi, &v, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (cuts_add(c, v[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* The expected side's tests of a direction on protocol index pi: each segment's port range and
 * each segment's address set. Appends to *ports (owned isets, free with np_iset_done) and to
 * *addrs (borrowed pointers into d). */
struct expect_tests {
	struct np_iset *ports; /* owned */
	size_t n_ports;
	const struct np_iset **addrs; /* borrowed */
	size_t n_addrs;
};

static void expect_tests_done(struct expect_tests *x)
{
	for (size_t i = 0; i < x->n_ports; i++)
		np_iset_done(&x->ports[i]);
	free(x->ports);
	free(x->addrs);
	*x = (struct expect_tests){ 0 };
}

static int expect_tests_add(struct expect_tests *x, const struct policy_dir *d, int pi)
{
	size_t n = d->n_segs[pi];
	struct np_iset *p;
	const struct np_iset **q;

	if (n == 0)
		return 0;
	p = reallocarray(x->ports, x->n_ports + n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	x->ports = p;
	q = reallocarray(x->addrs, x->n_addrs + n, sizeof(*q));
	if (!q)
		return -ENOMEM;
	x->addrs = q;
	for (size_t i = 0; i < n; i++) {
		struct np_iset one = { 0 };
		if (np_iset_add(&one, d->segs[pi][i].lo, d->segs[pi][i].hi) < 0)
			return -ENOMEM;
		x->ports[x->n_ports++] = one;
		x->addrs[x->n_addrs++] = &d->segs[pi][i].addrs;
	}
	return 0;
}

/* Pointers to the owned port sets of x, for atoms_build(); caller frees the array. */
static const struct np_iset **expect_port_ptrs(const struct expect_tests *x)
{
	const struct np_iset **v = calloc(x->n_ports + 1, sizeof(*v));

	for (size_t i = 0; v && i < x->n_ports; i++)
		v[i] = &x->ports[i];
	return v;
}

/* A representative of an address atom that is not excluded, is routed out of an uplink (not
 * into the pod's own interface) and reads best; returns false when the atom has none. */
static bool atom_rep(const struct audit *a, const struct np_iset *atom, int fi, const char *veth,
		     np_u128 *ret, const struct fw_route **ret_rt)
{
	bool found = false;
	int best = -1;

	for (size_t i = 0; i < atom->n; i++) {
		/* Candidates: the interval's preferred member, and the first members left of the
		 * excluded addresses (local pods, the node) when that one is excluded. */
		np_u128 lo = atom->r[i].lo, hi = atom->r[i].hi, c = pick_rep(a, lo, hi);
		int tries = 0;

		while (tries++ < 4) {
			const struct fw_route *rt;
			int sc;

			if (np_iset_contains(&a->excluded[fi], c)) {
				/* the next value after the excluded range that holds c */
				size_t l = 0, h = a->excluded[fi].n;
				while (l < h) {
					size_t mid = l + (h - l) / 2;
					if (a->excluded[fi].r[mid].hi < c)
						l = mid + 1;
					else
						h = mid;
				}
				if (a->excluded[fi].r[l].hi >= hi)
					break;
				c = a->excluded[fi].r[l].hi + 1;
				continue;
			}
			rt = fw_rtable_lookup(a->env->routes, c);
			if (!rt || rt->type != FW_ROUTE_UNICAST || !rt->oifname[0] ||
			    streq(rt->oifname, veth))
				break; /* the atom is alike for routes: no member of it will do */
			sc = (is_pod_ip(a, c) ? 8 : 0) +
			     (np_addr_family(c) == AF_INET && ((uint32_t)c >> 24) != 0 ? 2 : 0);
			if (sc > best) {
				best = sc;
				*ret = c;
				*ret_rt = rt;
				found = true;
			}
			break;
		}
		if (best >= 8)
			break;
	}
	return found;
}

/* A representative of a port atom: a port the destination pod declares, else a realistic one. */
static uint16_t atom_port(const struct np_iset *atom, const struct model_pod *dst, uint8_t proto,
			  bool source)
{
	for (size_t i = 0; dst && !source && i < atom->n; i++) {
		uint16_t p = declared_port(dst, proto, atom->r[i].lo, atom->r[i].hi);
		if (p)
			return p;
	}
	for (size_t i = 0; i < atom->n; i++)
		if (atom->r[i].hi >= 1 && (!source || atom->r[i].hi >= 1024))
			return pick_port(atom->r[i].lo, atom->r[i].hi, source);
	return pick_port(atom->r[0].lo, atom->r[0].hi, source);
}

/* Copies interface name src (NUL-terminated, cut to IFNAMSIZ - 1) to dst. */
static void ifname_copy(char dst[IFNAMSIZ], const char *src)
{
	size_t n = strnlen(src, IFNAMSIZ - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

/*
 * Traffic between pod ps and off-node peers in direction dir, in one family.
 */
struct atom_rep {
	np_u128 peer;
	const struct fw_route *rt;
	bool ok;
};

static int check_offnode(struct audit *a, struct pod_state *ps, enum np_dir dir, int family)
{
	const struct policy_dir *d = ps->exp->dir[dir];
	int fi = fam_index(family);
	struct np_iset universe = { 0 }, ports = { 0 };
	_cleanup_(freep) np_u128 *exp_cuts = NULL; /* the expected peer sets' cut points */
	size_t n_exp_cuts;
	int r = -ENOMEM;

	/* the same for every protocol */
	if ((r = policy_dir_addr_cuts(d, &exp_cuts, &n_exp_cuts)) < 0)
		return r;
	r = -ENOMEM;

	if (family == AF_INET) {
		if (np_iset_add(&universe, NP_V4_BASE, NP_V4_LAST) < 0)
			return -ENOMEM;
	} else if (np_iset_add(&universe, 0, NP_V4_BASE - 1) < 0 ||
		   np_iset_add(&universe, NP_V4_LAST + 1, NP_U128_MAX) < 0) {
		np_iset_done(&universe);
		return -ENOMEM;
	}
	if (np_iset_add(&ports, 0, 65535) < 0) {
		np_iset_done(&universe);
		return -ENOMEM;
	}

	for (size_t pi = 0; pi < ELEMENTSOF(protos); pi++) {
		struct eval_template t = {
			.family = family,
			.path = EVAL_PATH_FORWARD,
			.iif = dir == NP_EGRESS ? ps->veth[fi] : NULL,
			.oif = dir == NP_INGRESS ? ps->veth[fi] : NULL,
			.l4proto = protos[pi],
			.ct_state = IR_CT_NEW,
			/* Off-node peers are behind the uplinks: rules for other pods' interfaces
			 * need not be visited. */
			.iifs = dir == NP_INGRESS ? a->uplinks : NULL,
			.n_iifs = dir == NP_INGRESS ? a->n_uplinks : 0,
			.oifs = dir == NP_EGRESS ? a->uplinks : NULL,
			.n_oifs = dir == NP_EGRESS ? a->n_uplinks : 0,
		};
		struct cuts ac = { 0 }, pc = { 0 }, sc = { 0 };
		struct atoms aat = { 0 }, pat = { 0 }, sat = { 0 };
		struct expect_tests ex = { 0 };
		_cleanup_(freep) const struct np_iset **extra = NULL;
		_cleanup_(freep) const struct np_iset **pextra = NULL;
		size_t n_extra;
		_cleanup_(freep) struct known *known = NULL;
		_cleanup_(freep) struct atom_rep *reps = NULL;

		a->bounds.want_tests = true;
		r = eval_collect_boundaries(a->env->eval, &t, &a->bounds);
		if (r < 0)
			goto fail;
		{
			const struct eval_cuts *peer =
				dir == NP_INGRESS ? &a->bounds.saddr : &a->bounds.daddr;
			if ((r = cuts_add_all(&ac, peer->items, peer->n)) < 0 ||
			    (r = cuts_add_all(&pc, a->bounds.dport.items, a->bounds.dport.n)) < 0 ||
			    (r = cuts_add_all(&sc, a->bounds.sport.items, a->bounds.sport.n)) < 0)
				goto fail;
		}
		if ((r = cuts_add_all(&ac, exp_cuts, n_exp_cuts)) < 0 ||
		    (r = port_cuts(&pc, d, (int)pi)) < 0 ||
		    (r = cuts_add_all(&ac, a->route_cuts[fi], a->n_route_cuts[fi])) < 0 ||
		    (r = expect_tests_add(&ex, d, (int)pi)) < 0)
			goto fail;
		cuts_sort(&ac);
		cuts_sort(&pc);
		cuts_sort(&sc);
		/* Address atoms: the live tests, the expected peer sets, the uplink routes. */
		n_extra = ex.n_addrs + a->n_route_sets[fi];
		extra = calloc(n_extra + 1, sizeof(*extra));
		pextra = expect_port_ptrs(&ex);
		r = -ENOMEM;
		if (!extra || !pextra)
			goto fail;
		for (size_t i = 0; i < ex.n_addrs; i++)
			extra[i] = ex.addrs[i];
		for (size_t i = 0; i < a->n_route_sets[fi]; i++)
			extra[ex.n_addrs + i] = &a->route_sets[fi][i];
		if ((r = atoms_build(&ac, &universe,
				     dir == NP_INGRESS ? &a->bounds.saddr_tests
						       : &a->bounds.daddr_tests,
				     extra, n_extra, &aat)) < 0 ||
		    (r = atoms_build(&pc, &ports, &a->bounds.dport_tests, pextra, ex.n_ports,
				     &pat)) < 0 ||
		    (r = atoms_build(&sc, &ports, &a->bounds.sport_tests, NULL, 0, &sat)) < 0)
			goto fail;
		/* What is known of one peer atom's packets holds for its other port classes. */
		known = calloc(aat.n ? aat.n : 1, sizeof(*known));
		reps = calloc(aat.n ? aat.n : 1, sizeof(*reps));
		if (!known || !reps) {
			r = -ENOMEM;
			goto fail;
		}
		memo_use(a, fi);
		/* Each address atom's representative peer and route, once for all its ports. */
		for (size_t ak = 0; ak < aat.n; ak++)
			reps[ak].ok = atom_rep(a, &aat.v[ak], fi, ps->veth[fi], &reps[ak].peer,
					       &reps[ak].rt);

		for (size_t pk = 0; pk < pat.n; pk++) {
			uint16_t dport = atom_port(&pat.v[pk], dir == NP_INGRESS ? ps->pod : NULL,
						   protos[pi], false);
			for (size_t sk = 0; sk < sat.n; sk++) {
				uint16_t sport = atom_port(&sat.v[sk], NULL, protos[pi], true);
				for (size_t ak = 0; ak < aat.n; ak++) {
					const struct fw_route *rt;
					struct audit_packet p = { .family = family,
								  .proto = protos[pi] };
					np_u128 peer;
					bool expected;
					enum audit_kind kind;
					enum eval_verdict v;

					if (!reps[ak].ok)
						continue; /* only local or unroutable addresses */
					peer = reps[ak].peer;
					rt = reps[ak].rt;
					p.sport = sport;
					p.dport = dport;
					if (dir == NP_INGRESS) {
						p.src = peer;
						p.dst = ps->ip[fi];
						ifname_copy(p.iif, rt->oifname);
						ifname_copy(p.oif, ps->veth[fi]);
						p.iif_index = rt->oif;
						p.oif_index = ps->veth_index[fi];
					} else {
						p.src = ps->ip[fi];
						p.dst = peer;
						ifname_copy(p.iif, ps->veth[fi]);
						ifname_copy(p.oif, rt->oifname);
						p.iif_index = ps->veth_index[fi];
						p.oif_index = rt->oif;
					}
					r = evaluate_known(a, &known[ak], &p, &v, NULL, NULL);
					if (r < 0)
						goto fail;
					expected = policy_dir_allows(d, peer, protos[pi], dport);
					if (v == EVAL_DROP && !ps->saw_drop[dir])
						ps->saw_drop[dir] = true; /* once: threads share the
									     cache line */
					if (!classify(expected, v, &kind))
						continue;
					{
						/* The peers this class covers: the atom less local
						 * addresses. */
						struct np_iset peers = { 0 };
						r = np_iset_subtract(&aat.v[ak], &a->excluded[fi],
								     &peers);
						if (r >= 0)
							r = add_group(
								a, kind, ps->pod, dir, NULL,
								ps->veth[fi], protos[pi],
								kind == AUDIT_UNVERIFIABLE
									? eval_result_reason(
										  &a->res)
									: NULL,
								&pat.v[pk], &peers, &p, expected, v,
								dir == NP_INGRESS
									? ps->pod
									: model_pod_by_ip(
										  a->env->model,
										  peer));
						np_iset_done(&peers);
						if (r < 0)
							goto fail;
					}
				}
			}
		}
		r = 0;
	fail:
		for (size_t i = 0; known && i < aat.n; i++)
			known_done(&known[i]);
		cuts_done(&ac);
		cuts_done(&pc);
		cuts_done(&sc);
		atoms_done(&aat);
		atoms_done(&pat);
		atoms_done(&sat);
		expect_tests_done(&ex);
		if (r < 0)
			break;
	}
	a->memo_cur = NULL;
	np_iset_done(&universe);
	np_iset_done(&ports);
	return r;
}

/* *s = *s op v (op: intersection or difference), through a->scratch (no allocation once the
 * sets have grown); returns 0 or -ENOMEM. */
static int iset_apply(struct audit *a, struct np_iset *s, const struct np_iset *v, bool subtract)
{
	struct np_iset t;
	int r = subtract ? np_iset_subtract(s, v, &a->scratch)
			 : np_iset_intersect(s, v, &a->scratch);

	if (r < 0)
		return r;
	t = *s;
	*s = a->scratch;
	a->scratch = t;
	return 0;
}

/* Sets *ret (cleared first) to the ports d allows to or from addr for protocol index pi. Returns
 * 0 or -ENOMEM. */
static int allowed_ports(const struct policy_dir *d, np_u128 addr, int pi, struct np_iset *ret)
{
	np_iset_clear(ret);
	/* the segments are sorted and disjoint: append, joining adjacent ones */
	for (size_t i = 0; i < d->n_segs[pi]; i++) {
		const struct policy_seg *g = &d->segs[pi][i];

		if (!np_iset_contains(&g->addrs, addr))
			continue;
		if (ret->n > 0 && ret->r[ret->n - 1].hi + 1 == g->lo)
			ret->r[ret->n - 1].hi = g->hi;
		else if (np_iset_add(ret, g->lo, g->hi) < 0)
			return -ENOMEM;
	}
	return 0;
}

static bool iset_full_ports(const struct np_iset *s)
{
	return s->n == 1 && s->r[0].lo == 0 && s->r[0].hi == 65535;
}

/* Sets left to the expected atom `atom` of a pair: the ports both sides allow (0), only the
 * egress (1), only the ingress (2), neither (3). Returns 0 or -ENOMEM. */
static int pair_atom(struct audit *a, int atom, const struct np_iset *egp,
		     const struct np_iset *inp, struct np_iset *left)
{
	bool e_ok = atom == 0 || atom == 1, i_ok = atom == 0 || atom == 2;
	int r;

	np_iset_clear(left);
	/* the usual cases without set operations: a side allowing every port or none */
	if ((iset_full_ports(egp) && !e_ok) || (egp->n == 0 && e_ok) ||
	    (iset_full_ports(inp) && !i_ok) || (inp->n == 0 && i_ok))
		return 0;
	if (iset_full_ports(egp) || egp->n == 0) {
		if (i_ok)
			return np_iset_copy(inp, left);
		if ((r = np_iset_copy(&a->all_ports, left)) < 0)
			return r;
		return iset_apply(a, left, inp, true);
	}
	if (iset_full_ports(inp) || inp->n == 0) {
		if (e_ok)
			return np_iset_copy(egp, left);
		if ((r = np_iset_copy(&a->all_ports, left)) < 0)
			return r;
		return iset_apply(a, left, egp, true);
	}
	if ((r = np_iset_copy(&a->all_ports, left)) < 0 ||
	    (r = iset_apply(a, left, egp, !e_ok)) < 0)
		return r;
	return iset_apply(a, left, inp, !i_ok);
}

/* Adds the classes of one piece of destination ports (sub: one per source port region) of the
 * pair src -> dst to the findings. */
static int pair_classes(struct audit *a, struct pod_state *src, struct pod_state *dst, int fi,
			const struct np_iset *piece, struct pair_class *sub, size_t nsub, bool e_ok,
			bool i_ok)
{
	bool expected = e_ok && i_ok;

	for (size_t i = 0; i < nsub; i++) {
		struct np_iset one = { 0 };
		enum audit_kind kind;
		struct pod_state *who, *other;
		enum np_dir dir;
		int r;

		/* A drop shows the source's egress rules at work only when the destination's
		 * ingress allows the packet (else the destination's rules may be the only ones
		 * that dropped it), and the other way round. */
		if (sub[i].v == EVAL_DROP) {
			if (i_ok)
				a->pair_saw[0] = true;
			if (e_ok)
				a->pair_saw[1] = true;
		}
		if (!classify(expected, sub[i].v, &kind))
			continue;
		/* Name the side whose policy the node contradicts: the destination's ingress
		 * unless only the source's egress denies. */
		if (kind == AUDIT_ALLOWED_DRIFT && i_ok && !e_ok) {
			who = src;
			other = dst;
			dir = NP_EGRESS;
		} else {
			who = dst;
			other = src;
			dir = NP_INGRESS;
		}
		if (np_iset_add(&one, other->ip[fi], other->ip[fi]) < 0)
			return -ENOMEM;
		r = add_group(a, kind, who->pod, dir, other->pod, who->veth[fi], sub[i].p.proto,
			      sub[i].reason, piece, &one, &sub[i].p, expected, sub[i].v, dst->pod);
		np_iset_done(&one);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Traffic from local pod src to local pod dst in one family. Both addresses and interfaces are
 * fixed, so the classes are sets of ports: the expected side's port atoms (ports that every
 * policy port range contains alike), each covered by the regions of live evaluations (struct
 * eval_region: the ports and protocols for which an evaluation's path is the same). A piece of
 * an atom inside one region is a class with one expected and one live verdict. The regions say
 * themselves which ports the live rules tell apart: no walk of the reachable rules is needed.
 */
static int check_pair(struct audit *a, struct pod_state *src, struct pod_state *dst, int family)
{
	int fi = fam_index(family);
	const struct policy_dir *eg = src->exp->dir[NP_EGRESS], *in = dst->exp->dir[NP_INGRESS];
	struct known *known = &a->pair_known;
	struct np_iset *left = &a->pair_sets[0], *piece = &a->pair_sets[1],
		       *sleft = &a->pair_sets[2], *v = &a->pair_sets[3], *egp = &a->pair_sets[4],
		       *inp = &a->pair_sets[5];
	struct known_verdict scratch = { 0 };
	struct pair_classes *subv = &a->pair_sub;
	int r = 0;

	known_reset(known); /* same addresses and interfaces for every protocol of the pair */
	memo_use(a, fi);
	for (size_t pi = 0; pi < ELEMENTSOF(protos) && r >= 0; pi++) {
		/* The expected side's classes: the ports the source's egress allows to the
		 * destination and the destination's ingress allows from the source, both, one
		 * or neither. */
		if ((r = allowed_ports(eg, dst->ip[fi], (int)pi, egp)) < 0 ||
		    (r = allowed_ports(in, src->ip[fi], (int)pi, inp)) < 0)
			break;
		for (int atom = 0; atom < 4 && r >= 0; atom++) {
			bool e_ok = atom == 0 || atom == 1, i_ok = atom == 0 || atom == 2;

			if ((r = pair_atom(a, atom, egp, inp, left)) < 0)
				break;
			while (left->n > 0) {
				uint16_t dport = atom_port(left, dst->pod, protos[pi], false);
				bool narrowed = false;

				np_iset_clear(sleft);
				if ((r = np_iset_add(sleft, 0, 65535)) < 0)
					goto fail;
				/* The source ports: one region holds them all, unless a rule tests
				 * them. */
				while (sleft->n > 0) {
					struct pair_class c = {
						.p = { .family = family,
						       .proto = protos[pi],
						       .src = src->ip[fi],
						       .dst = dst->ip[fi],
						       .dport = dport,
						       .iif_index = src->veth_index[fi],
						       .oif_index = dst->veth_index[fi] },
					};
					struct known_verdict *e;

					c.p.sport = atom_port(sleft, NULL, protos[pi], true);
					memcpy(c.p.iif, src->veth[fi], IFNAMSIZ);
					memcpy(c.p.oif, dst->veth[fi], IFNAMSIZ);
					if ((r = evaluate_known(a, known, &c.p, &c.v, &e,
								&scratch)) < 0)
						goto fail;
					if (c.v == EVAL_UNKNOWN &&
					    !(c.reason = strdup(eval_result_reason(&a->res)))) {
						r = -ENOMEM;
						goto fail;
					}
					if (VEC_PUSH(subv, c) < 0) {
						free(c.reason);
						r = -ENOMEM;
						goto fail;
					}
					if (!e->all_dports) {
						if (!e->have_dports) {
							if ((r = eval_region_ports(&e->rg, false,
										   &e->dports)) < 0)
								goto fail;
							e->have_dports = true;
						}
						if (!narrowed &&
						    (r = np_iset_copy(left, piece)) < 0)
							goto fail;
						if ((r = iset_apply(a, piece, &e->dports, false)) <
						    0)
							goto fail;
						narrowed = true;
					}
					if (e->all_sports)
						np_iset_clear(sleft);
					else if ((r = eval_region_ports(&e->rg, true, v)) < 0 ||
						 (r = iset_apply(a, sleft, v, true)) < 0)
						goto fail;
				}
				r = pair_classes(a, src, dst, fi, narrowed ? piece : left,
						 subv->items, subv->n, e_ok, i_ok);
				VEC_FOREACH (c, subv)
					free(c->reason);
				subv->n = 0;
				if (r < 0)
					goto fail;
				if (!narrowed)
					np_iset_clear(left);
				else if ((r = iset_apply(a, left, piece, true)) < 0)
					goto fail;
			}
		}
	}
fail:
	a->memo_cur = NULL;
	VEC_FOREACH (c, subv)
		free(c->reason);
	subv->n = 0;
	np_iset_done(&scratch.dports);
	return r;
}

/* ---- findings ---- */

static char *pod_ref(const struct model_pod *p)
{
	char *s;

	if (!p)
		return NULL;
	return asprintf(&s, "%s/%s", p->ns, p->name) < 0 ? NULL : s;
}

static int add_policy(struct audit_finding *f, const struct model_policy *p)
{
	char *s;

	VEC_FOREACH (x, &f->policies) {
		char buf[512];
		snprintf(buf, sizeof(buf), "%s/%s", p->ns, p->name);
		if (streq(*x, buf))
			return 0;
	}
	if (asprintf(&s, "%s/%s", p->ns, p->name) < 0)
		return -ENOMEM;
	if (VEC_PUSH(&f->policies, s) < 0) {
		free(s);
		return -ENOMEM;
	}
	return 0;
}

static int add_why(struct audit_finding *f, const struct policy_dir *d, np_u128 peer, uint8_t proto,
		   uint16_t port)
{
	_cleanup_(freep) const struct policy_term **terms = NULL;
	int n = policy_dir_why(d, peer, proto, port, &terms);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		if (add_policy(f, terms[i]->policy) < 0)
			return -ENOMEM;
	return 0;
}

static const char *proto_name(uint8_t proto)
{
	return np_proto_name(proto) ?: "?";
}

static int finding_from_group(struct audit *a, struct group *g, struct audit_finding **ret)
{
	struct audit_finding *f = calloc(1, sizeof(*f));
	_cleanup_(strbuf_done) struct strbuf sb = { 0 }, peers = { 0 }, ports = { 0 };
	const struct pod_state *ps = state_of(a, g->pod), *pp = state_of(a, g->peer_pod);
	char src[64], dst[64];
	int r = -ENOMEM;

	if (!f)
		return -ENOMEM;
	f->kind = g->kind;
	f->severity = audit_kind_severity(g->kind);
	f->dir = g->dir;
	f->proto = g->kind == AUDIT_UNENFORCED ? g->example.proto : g->proto;
	f->protos = g->protos;
	f->expected_allow = g->expected_allow;
	f->actual = g->actual;
	f->example = g->example;
	f->classes = g->classes;
	f->pod = pod_ref(g->pod);
	f->peer_pod = pod_ref(g->peer_pod);
	f->iface = g->iface[0] ? strdup(g->iface) : NULL;
	if (!f->pod || (g->peer_pod && !f->peer_pod) || (g->iface[0] && !f->iface))
		goto fail;
	if (g->reason && !(f->reason = strdup(g->reason)))
		goto fail;
	np_iset_normalize(&g->peers);
	np_iset_normalize(&g->ports);
	if (np_iset_copy(&g->peers, &f->peers) < 0 || np_iset_copy(&g->ports, &f->ports) < 0)
		goto fail;
	if (policy_addrs_format(&f->peers, &peers) < 0 ||
	    np_iset_format_numbers(&f->ports, &ports) < 0)
		goto fail;

	/* Policies involved. */
	if (ps && f->kind != AUDIT_NO_ROUTE) {
		const struct policy_dir *d = ps->exp->dir[f->dir];
		np_u128 peer = f->dir == NP_INGRESS ? f->example.src : f->example.dst;

		if (f->expected_allow) {
			if (add_why(f, d, peer, f->proto, f->example.dport) < 0)
				goto fail;
			/* A pair needs the other side's allowance too. */
			if (pp && add_why(f, pp->exp->dir[!f->dir],
					  f->dir == NP_INGRESS ? f->example.dst : f->example.src,
					  f->proto, f->example.dport) < 0)
				goto fail;
		} else
			for (size_t i = 0; i < d->n_policies; i++)
				if (add_policy(f, d->policies[i]) < 0)
					goto fail;
	}

	/* The rule that decided, from a traced evaluation of the example. */
	if (f->kind != AUDIT_NO_ROUTE) {
		struct eval_result res = { 0 };

		r = evaluate(a, &f->example, &res, true) < 0 ? -ENOMEM : 0;
		if (r == 0 && res.decided_by >= 0 && (size_t)res.decided_by < res.trace.n) {
			const struct eval_trace_entry *e = &res.trace.items[res.decided_by];
			struct strbuf j = { 0 }, t = { 0 };

			if (eval_trace_entry_json(e, &j) < 0)
				r = -ENOMEM;
			f->rule_json = strbuf_steal(&j);
			if (e->rule) {
				const char *txt = ir_rule_text((struct ir_rule *)e->rule);
				if (strbuf_printf(&t, "%s %s/%s: %s",
						  ir_source_to_string(e->chain->table->source),
						  e->chain->table->name, e->chain->name,
						  txt ? txt : "?") < 0)
					r = -ENOMEM;
			} else if (strbuf_printf(&t, "%s %s/%s: policy %s",
						 ir_source_to_string(e->chain->table->source),
						 e->chain->table->name, e->chain->name,
						 ir_verdict_kind_to_string(e->chain->policy)) < 0)
				r = -ENOMEM;
			f->rule_text = strbuf_steal(&t);
			if (!f->rule_json || !f->rule_text)
				r = -ENOMEM;
		} else if (r == 0 && f->actual == EVAL_ACCEPT) {
			f->rule_text =
				strdup("no rule: every hook's base chains accepted or none exist");
			if (!f->rule_text)
				r = -ENOMEM;
		}
		eval_result_done(&res);
		if (r < 0)
			goto fail;
	}

	np_addr_format(f->example.src, src, sizeof(src));
	np_addr_format(f->example.dst, dst, sizeof(dst));
	switch (f->kind) {
	case AUDIT_ALLOWED_DRIFT:
		r = strbuf_printf(&sb,
				  "The policies deny %s port %s %s %s%s%s, but the node accepts it",
				  proto_name(f->proto), strbuf_str(&ports),
				  f->dir == NP_INGRESS ? "from" : "to",
				  f->peer_pod ? f->peer_pod : strbuf_str(&peers),
				  f->dir == NP_INGRESS ? " into this pod" : " from this pod", "");
		break;
	case AUDIT_BLOCKED_DRIFT:
		r = strbuf_printf(&sb, "The policies allow %s port %s %s %s, but the node drops it",
				  proto_name(f->proto), strbuf_str(&ports),
				  f->dir == NP_INGRESS ? "from" : "to",
				  f->peer_pod ? f->peer_pod : strbuf_str(&peers));
		break;
	case AUDIT_UNENFORCED:
		r = strbuf_printf(
			&sb,
			"The pod is isolated for %s, but no live rule drops any of its %s%s%s%s%s "
			"traffic: the CNI does not enforce NetworkPolicy on this node, or "
			"its rules are gone",
			f->dir == NP_INGRESS ? "ingress" : "egress",
			f->protos & AUDIT_PROTO_TCP ? "TCP" : "",
			(f->protos & AUDIT_PROTO_TCP) && (f->protos & ~AUDIT_PROTO_TCP) ? "/" : "",
			f->protos & AUDIT_PROTO_UDP ? "UDP" : "",
			(f->protos & AUDIT_PROTO_SCTP) &&
					(f->protos & (AUDIT_PROTO_TCP | AUDIT_PROTO_UDP))
				? "/"
				: "",
			f->protos & AUDIT_PROTO_SCTP ? "SCTP" : "");
		break;
	case AUDIT_UNVERIFIABLE:
		r = strbuf_printf(&sb,
				  "The node's verdict for %s port %s %s %s cannot be known: %s",
				  proto_name(f->proto), strbuf_str(&ports),
				  f->dir == NP_INGRESS ? "from" : "to",
				  f->peer_pod ? f->peer_pod : strbuf_str(&peers),
				  f->reason ? f->reason : "unknown");
		break;
	case AUDIT_NO_ROUTE:
	default:
		r = strbuf_printf(&sb, "%s", g->reason ? g->reason : "no usable route");
		break;
	}
	if (r < 0 || !(f->message = strbuf_steal(&sb)))
		goto fail;

	strbuf_reset(&sb);
	/* Unverifiable findings that differ only in their reason (the same queue rule in the
	 * IPv4 and the IPv6 table, say) stay apart: the reason is part of their identity. */
	if (strbuf_printf(
		    &sb, "%s|%s|%s|%s|%u|%s%s%s", audit_kind_to_string(f->kind), f->pod,
		    f->dir == NP_INGRESS ? "ingress" : "egress", f->peer_pod ? f->peer_pod : "",
		    f->kind == AUDIT_UNENFORCED ? 0u : (unsigned)f->proto,
		    f->kind == AUDIT_NO_ROUTE || f->kind == AUDIT_UNENFORCED ? src
									     : strbuf_str(&ports),
		    f->kind == AUDIT_UNVERIFIABLE && f->reason ? "|" : "",
		    f->kind == AUDIT_UNVERIFIABLE && f->reason ? f->reason : "") < 0)
		goto fail;
	snprintf(f->id, sizeof(f->id), "%016llx",
		 (unsigned long long)np_hash64_bytes(NP_HASH64_INIT, strbuf_str(&sb), sb.len));
	*ret = f;
	return 0;
fail:
	audit_finding_free(f);
	return -ENOMEM;
}

static int finding_cmp(const void *x, const void *y)
{
	const struct audit_finding *a = *(struct audit_finding *const *)x;
	const struct audit_finding *b = *(struct audit_finding *const *)y;
	int c = strcmp(a->pod, b->pod);

	if (c)
		return c;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->dir != b->dir)
		return a->dir < b->dir ? -1 : 1;
	return strcmp(a->id, b->id);
}

static bool same_reason(const char *a, const char *b)
{
	return (!a && !b) || (a && b && streq(a, b));
}

static int finalize(struct audit *a)
{
	/* A pod isolated in a direction none of whose traffic is dropped: the isolation is not
	 * implemented at all, which says more than a list of allowed drifts. */
	VEC_FOREACH (g, &a->groups) {
		const struct pod_state *ps = state_of(a, g->pod);
		if (g->kind == AUDIT_ALLOWED_DRIFT && ps && ps->exp->dir[g->dir]->isolated &&
		    !ps->saw_drop[g->dir]) {
			g->kind = AUDIT_UNENFORCED;
			/* About the pod, not a peer: the pair checks' groups merge with the
			 * off-node ones into one finding per protocol. */
			g->peer_pod = NULL;
		}
	}
	/* Merge groups that differ only in their port range. */
	for (size_t i = 0; i < a->groups.n; i++) {
		struct group *g = &a->groups.items[i];
		if (g->merged)
			continue;
		np_iset_normalize(&g->peers);
		for (size_t j = i + 1; j < a->groups.n; j++) {
			struct group *h = &a->groups.items[j];
			if (h->merged || h->kind != g->kind || h->pod != g->pod ||
			    h->dir != g->dir || h->peer_pod != g->peer_pod ||
			    (h->proto != g->proto && g->kind != AUDIT_UNENFORCED) ||
			    !same_reason(h->reason, g->reason))
				continue;
			np_iset_normalize(&h->peers);
			/* Unenforced pods read as one finding per protocol, whatever the peers. */
			if (g->kind != AUDIT_UNENFORCED && !np_iset_equal(&g->peers, &h->peers))
				continue;
			if (np_iset_merge(&g->ports, &h->ports) < 0 ||
			    np_iset_merge(&g->peers, &h->peers) < 0)
				return -ENOMEM;
			g->classes += h->classes;
			g->protos |= h->protos;
			if (h->score > g->score) {
				g->example = h->example;
				g->score = h->score;
			}
			h->merged = true;
		}
	}
	VEC_FOREACH (g, &a->groups) {
		struct audit_finding *f;
		int r;

		if (g->merged)
			continue;
		r = finding_from_group(a, g, &f);
		if (r < 0)
			return r;
		if (VEC_PUSH(&a->report->findings, f) < 0) {
			audit_finding_free(f);
			return -ENOMEM;
		}
	}
	if (a->report->findings.n > 1)
		np_qsort(a->report->findings.items, a->report->findings.n,
			 sizeof(struct audit_finding *), finding_cmp);
	return 0;
}

static int note(struct audit *a, const char *fmt, ...) _printf_(2, 3);
static int note(struct audit *a, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	if (VEC_PUSH(&a->report->notes, s) < 0) {
		free(s);
		return -ENOMEM;
	}
	return 0;
}

/* Finds the pod's host-side interface from its route; a pod without a usable one is a
 * finding. Returns 1 when usable, 0 when not (finding added), or -ENOMEM. */
static int pod_route(struct audit *a, struct pod_state *ps, int family)
{
	int fi = fam_index(family);
	const struct fw_route *rt = fw_rtable_lookup(a->env->routes, ps->ip[fi]);
	char ip[64], why[512];
	struct audit_packet ex = { .family = family, .dst = ps->ip[fi] };

	np_addr_format(ps->ip[fi], ip, sizeof(ip));
	if (!rt)
		snprintf(why, sizeof(why), "Pod address %s has no route on this node", ip);
	else if (rt->type != FW_ROUTE_UNICAST)
		snprintf(why, sizeof(why), "Pod address %s routes as %s, not to a pod interface",
			 ip,
			 rt->type == FW_ROUTE_LOCAL ? "a local address of the node"
						    : "unreachable/blackhole");
	else if (!rt->oifname[0])
		snprintf(why, sizeof(why), "Pod address %s has a route without an interface", ip);
	else if (rt->prefix == 0)
		snprintf(why, sizeof(why),
			 "Pod address %s has no route of its own: it follows the default route out "
			 "of %s, where no pod interface can be",
			 ip, rt->oifname);
	else {
		snprintf(ps->veth[fi], IFNAMSIZ, "%s", rt->oifname);
		ps->veth_index[fi] = rt->oif;
		return 1;
	}
	{
		struct group g = {
			.kind = AUDIT_NO_ROUTE, .pod = ps->pod, .example = ex, .reason = why
		};
		struct audit_finding *f;
		int r;

		if (rt && rt->oifname[0])
			snprintf(g.iface, sizeof(g.iface), "%s", rt->oifname);
		r = finding_from_group(a, &g, &f);
		np_iset_done(&g.peers);
		np_iset_done(&g.ports);
		if (r < 0)
			return r;
		if (VEC_PUSH(&a->report->findings, f) < 0) {
			audit_finding_free(f);
			return -ENOMEM;
		}
	}
	return 0;
}

/* The fingerprint of what the checks depend on besides the ruleset: the model (its
 * generation), the node, the local pods with their addresses and interfaces, the uplinks and
 * their routes, the addresses that are no off-node peers. */
static uint64_t audit_fingerprint(const struct audit *a)
{
	uint64_t h = NP_HASH64_INIT;

	h = np_hash64_bytes(h, &a->env->model, sizeof(a->env->model));
	h = np_hash64_bytes(h, &a->env->engine, sizeof(a->env->engine));
	h = np_hash64_bytes(h, a->env->node, strlen(a->env->node) + 1);
	h = np_hash64_bytes(h, &a->n_pods, sizeof(a->n_pods));
	for (size_t i = 0; i < a->n_pods; i++) {
		const struct pod_state *ps = &a->pods[i];

		h = np_hash64_bytes(h, &ps->pod, sizeof(ps->pod));
		h = np_hash64_bytes(h, ps->pod->ns, strlen(ps->pod->ns) + 1);
		h = np_hash64_bytes(h, ps->pod->name, strlen(ps->pod->name) + 1);
		h = np_hash64_bytes(h, ps->veth, sizeof(ps->veth));
		h = np_hash64_bytes(h, ps->veth_index, sizeof(ps->veth_index));
		h = np_hash64_bytes(h, ps->ip, sizeof(ps->ip));
		h = np_hash64_bytes(h, ps->has, sizeof(ps->has));
	}
	for (size_t i = 0; i < a->n_uplinks; i++)
		h = np_hash64_bytes(h, a->uplinks[i], strlen(a->uplinks[i]) + 1);
	for (int fi = 0; fi < 2; fi++) {
		for (size_t i = 0; i < a->n_route_sets[fi]; i++)
			h = np_hash64_bytes(h, a->route_sets[fi][i].r,
					    a->route_sets[fi][i].n *
						    sizeof(*a->route_sets[fi][i].r));
		h = np_hash64_bytes(h, a->excluded[fi].r,
				    a->excluded[fi].n * sizeof(*a->excluded[fi].r));
	}
	return h;
}

static uint64_t iset_hash(uint64_t h, const struct np_iset *s)
{
	return np_hash64_bytes(np_hash64_bytes(h, &s->n, sizeof(s->n)), s->r, s->n * sizeof(*s->r));
}

/* The hash of what a pod's checks take from its compiled expectation: per direction whether
 * it is isolated, the node addresses always allowed in, and the allowed ports and peers. */
static uint64_t expect_hash(const struct policy_expect *e)
{
	uint64_t h = NP_HASH64_INIT;

	for (int dir = 0; dir < 2; dir++) {
		const struct policy_dir *d = e->dir[dir];

		h = np_hash64_bytes(h, &d->isolated, sizeof(d->isolated));
		h = iset_hash(h, &d->local_node);
		for (int pi = 0; pi < _POLICY_PROTO_MAX; pi++) {
			h = np_hash64_bytes(h, &d->n_segs[pi], sizeof(d->n_segs[pi]));
			for (size_t i = 0; i < d->n_segs[pi]; i++) {
				h = np_hash64_bytes(h, &d->segs[pi][i].lo,
						    sizeof(d->segs[pi][i].lo));
				h = np_hash64_bytes(h, &d->segs[pi][i].hi,
						    sizeof(d->segs[pi][i].hi));
				h = iset_hash(h, &d->segs[pi][i].addrs);
			}
		}
	}
	return h;
}

/* Keeps a copy of the groups from n0 on (what one check found) in m. Returns 0 or -ENOMEM. */
static int memo_take(struct audit *a, size_t n0, struct check_memo *m)
{
	memo_done(m);
	if (a->groups.n == n0)
		return 0;
	m->g = calloc(a->groups.n - n0, sizeof(*m->g));
	if (!m->g)
		return -ENOMEM;
	for (size_t i = n0; i < a->groups.n; i++) {
		if (group_copy(&a->groups.items[i], &m->g[m->n]) < 0)
			return -ENOMEM;
		m->n++;
	}
	return 0;
}

/* Adds copies of what a check found in an earlier audit. Returns 0 or -ENOMEM. */
static int memo_replay(struct audit *a, const struct check_memo *m)
{
	for (size_t i = 0; i < m->n; i++) {
		struct group g;

		if (group_copy(&m->g[i], &g) < 0)
			return -ENOMEM;
		if (VEC_PUSH(&a->groups, g) < 0) {
			group_done(&g);
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- the checks, on one thread or several ---- */

/* What one round of checks (the off-node ones, or the pairs) shares. */
struct phase {
	struct audit *a;
	bool pairs;
	struct pod_state *target; /* only this pod's checks, or NULL */
	struct audit_cache *cache;
	bool replay;
	const bool *dirty; /* with replay: the pods whose checks run again */
	unsigned threads; /* audit_options.threads */
};

/* One thread's share: the pods i with i % nt == t, checked with a copy of the audit that has
 * its own working state, groups and counters. Workers are cache-line aligned: one's counters
 * next to the next one's hot fields would bounce between the CPUs at every class. */
struct __attribute__((aligned(64))) worker {
	const struct phase *ph;
	struct audit w;
	struct audit_report rep;
	unsigned t, nt;
	size_t *end; /* [i]: w.groups.n after pod i's checks */
	bool *saw; /* [2 * i + dir]: a drop its pair checks saw in pod i's traffic */
	int r;
};

/* Pod i's off-node checks, both directions. Returns 0 or -ENOMEM. */
static int offnode_item(struct audit *a, const struct phase *ph, size_t i)
{
	struct pod_state *ps = &a->pods[i];
	bool run = !ph->replay || ph->dirty[i];
	int r;

	if (ph->target && ps != ph->target)
		return 0;
	if (run)
		a->report->pods_audited++;
	for (int dir = 0; dir < 2; dir++) {
		struct check_memo *m = ph->cache ? &ph->cache->off[2 * i + dir] : NULL;
		size_t n0 = a->groups.n;

		if (!run) {
			if ((r = memo_replay(a, m)) < 0)
				return r;
			ps->saw_drop[dir] |= m->saw_a;
			a->report->checks_reused++;
			continue;
		}
		for (int fi = 0; fi < 2; fi++)
			if (ps->has[fi] && (r = check_offnode(a, ps, (enum np_dir)dir,
							      fi ? AF_INET6 : AF_INET)) < 0)
				return r;
		a->report->checks_run++;
		/* the pairs come after every off-node check: the drops are this one's */
		if (m && (r = memo_take(a, n0, m)) < 0)
			return r;
		if (m)
			m->saw_a = ps->saw_drop[dir];
	}
	return 0;
}

/* The pairs from pod i to every other. Returns 0 or -ENOMEM. */
static int pairs_item(struct audit *a, const struct phase *ph, size_t i, bool *saw)
{
	for (size_t j = 0; j < a->n_pods; j++) {
		struct pod_state *src = &a->pods[i], *dst = &a->pods[j];
		struct check_memo *m = ph->cache ? &ph->cache->pair[i * a->n_pods + j] : NULL;
		size_t n0 = a->groups.n;
		int r;

		if (i == j || (ph->target && src != ph->target && dst != ph->target))
			continue;
		if (ph->replay && !ph->dirty[i] && !ph->dirty[j]) {
			if ((r = memo_replay(a, m)) < 0)
				return r;
			saw[2 * i + NP_EGRESS] |= m->saw_a;
			saw[2 * j + NP_INGRESS] |= m->saw_b;
			a->report->checks_reused++;
			continue;
		}
		a->pair_saw[0] = a->pair_saw[1] = false;
		for (int fi = 0; fi < 2; fi++) {
			if (!src->has[fi] || !dst->has[fi])
				continue;
			r = check_pair(a, src, dst, fi ? AF_INET6 : AF_INET);
			if (r < 0)
				return r;
		}
		a->report->checks_run++;
		if (m && (r = memo_take(a, n0, m)) < 0)
			return r;
		if (m) {
			m->saw_a = a->pair_saw[0];
			m->saw_b = a->pair_saw[1];
		}
		saw[2 * i + NP_EGRESS] |= a->pair_saw[0];
		saw[2 * j + NP_INGRESS] |= a->pair_saw[1];
	}
	return 0;
}

static void *worker_main(void *p)
{
	struct worker *k = p;

	for (size_t i = k->t; i < k->w.n_pods; i += k->nt) {
		k->r = k->ph->pairs ? pairs_item(&k->w, k->ph, i, k->saw)
				    : offnode_item(&k->w, k->ph, i);
		if (k->r < 0)
			break;
		k->end[i] = k->w.groups.n;
	}
	/* the shared verdicts, counted before the report is merged (work_done() frees the memos) */
	for (int fi = 0; fi < 2; fi++) {
		struct eval_memo_stats st;

		if (!k->w.memo[fi])
			continue;
		eval_memo_get_stats(k->w.memo[fi], &st);
		k->w.report->walks_shared += st.shared;
	}
	return NULL;
}

/* Frees what a copy of the audit made for a worker owns: the groups and the working state. */
static void work_done(struct audit *a)
{
	VEC_FOREACH (g, &a->groups)
		group_done(g);
	VEC_DONE(&a->groups);
	eval_result_done(&a->res);
	known_done(&a->pair_known);
	free(a->pair_sub.items);
	for (size_t i = 0; i < ELEMENTSOF(a->pair_sets); i++)
		np_iset_done(&a->pair_sets[i]);
	np_iset_done(&a->scratch);
	eval_boundaries_done(&a->bounds);
	for (int fi = 0; fi < 2; fi++)
		a->memo[fi] = eval_memo_free(a->memo[fi]);
	a->memo_cur = NULL;
}

/* Frees what a worker owns (not what its copy shares with the audit). */
static void worker_done(struct worker *k)
{
	work_done(&k->w);
	free(k->end);
	free(k->saw);
}

unsigned audit_cgroup_cpus(const char *proc_cgroup, const char *root)
{
	char line[4096], path[4200];
	unsigned best = 0;
	FILE *f = fopen(proc_cgroup, "re");
	char *p = NULL;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = 0;
			p = line + 3;
			break;
		}
	fclose(f);
	while (p) {
		unsigned long long quota, period;
		char *slash;
		int n;

		snprintf(path, sizeof(path), "%s%s%scpu.max", root, p,
			 !*p || p[strlen(p) - 1] != '/' ? "/" : "");
		if ((f = fopen(path, "re"))) {
			n = fscanf(f, "%llu %llu", &quota, &period);
			fclose(f);
			if (n == 2 && period > 0) { /* else "max": no quota here */
				unsigned c = (unsigned)MIN((quota + period - 1) / period,
							   (unsigned long long)AUDIT_THREADS_MAX);

				best = best ? MIN(best, MAX(c, 1u)) : MAX(c, 1u);
			}
		}
		slash = strrchr(p, '/');
		if (!slash || !*p)
			break;
		*slash = 0; /* the parent; "" is the root */
	}
	return best;
}

/* The number of threads for a round whose checks start from `busy` of the node's n pods:
 * `want`, or (0) one per CPU this process may run on and its cgroup's CPU quota allows, and
 * one for a node of fewer than 16 pods or a round of fewer than 4 busy pods (an incremental
 * audit of a few pods). At most AUDIT_THREADS_MAX, and no more than busy pods. */
static unsigned threads_for(unsigned want, size_t n, size_t busy)
{
	cpu_set_t set;
	unsigned t = want, q;

	if (t == 0) {
		t = sched_getaffinity(0, sizeof(set), &set) == 0 ? (unsigned)CPU_COUNT(&set) : 1;
		if ((q = audit_cgroup_cpus("/proc/self/cgroup", "/sys/fs/cgroup")) > 0)
			t = MIN(t, q);
		if (n < 16 || busy < 4)
			t = 1;
	}
	t = MIN(t, AUDIT_THREADS_MAX);
	return MAX(1u, MIN(t, (unsigned)MAX(n, (size_t)1)));
}

/*
 * Runs one round of checks over every pod, on ph->threads threads. Each thread works on its
 * own copy of the audit's working state; the groups they found are then put together in pod
 * order, as one thread would have found them, and so are the drops and counters. Returns 0 or
 * -ENOMEM.
 */
static int phase_run(const struct phase *ph)
{
	struct audit *a = ph->a;
	size_t busy = 0;
	unsigned nt;
	_cleanup_(freep) struct worker *k = NULL;
	_cleanup_(freep) size_t *cursor = NULL;
	unsigned started = 0;
	int r = 0;

	/* the pods whose checks run (not replayed from the cache) */
	for (size_t i = 0; i < a->n_pods; i++)
		busy += (!ph->target || &a->pods[i] == ph->target) && (!ph->replay || ph->dirty[i]);
	nt = threads_for(ph->threads, a->n_pods, busy);
	if (!(k = aligned_alloc(_Alignof(struct worker), nt * sizeof(*k))) ||
	    !(cursor = calloc(nt, sizeof(*cursor))))
		return -ENOMEM;
	memset(k, 0, nt * sizeof(*k));
	for (unsigned t = 0; t < nt; t++) {
		struct audit *w = &k[t].w;

		k[t].ph = ph;
		k[t].t = t;
		k[t].nt = nt;
		*w = *a; /* shares what the checks only read */
		w->groups = (typeof(w->groups)){ 0 };
		w->res = (struct eval_result){ 0 };
		w->pair_known = (struct known){ 0 };
		w->pair_sub = (struct pair_classes){ 0 };
		memset(w->pair_sets, 0, sizeof(w->pair_sets));
		w->scratch = (struct np_iset){ 0 };
		w->bounds = (struct eval_boundaries){ 0 };
		memset(w->memo, 0, sizeof(w->memo));
		w->memo_cur = NULL;
		w->report = &k[t].rep;
		k[t].end = calloc(a->n_pods + 1, sizeof(*k[t].end));
		k[t].saw = calloc(2 * a->n_pods + 1, sizeof(*k[t].saw));
		if (!k[t].end || !k[t].saw)
			r = -ENOMEM;
	}
	if (r < 0)
		goto out;
	{
		/* The first share runs on this thread. A thread that cannot be started (no
		 * memory, a limit on tasks, a seccomp filter) leaves its share, and the ones
		 * after it, to this thread too: the result is the same, only later. */
		pthread_t th[AUDIT_THREADS_MAX];

		for (started = 1; started < nt; started++)
			if (pthread_create(&th[started], NULL, worker_main, &k[started]) != 0)
				break;
		worker_main(&k[0]);
		for (unsigned t = started; t < nt; t++)
			worker_main(&k[t]);
		for (unsigned t = 1; t < started; t++)
			pthread_join(th[t], NULL);
	}
	for (unsigned t = 0; t < nt; t++)
		if (k[t].r < 0) {
			r = k[t].r;
			goto out;
		}
	/* the groups in pod order, moved from the threads */
	for (size_t i = 0; i < a->n_pods; i++) {
		struct worker *x = &k[i % nt];

		for (size_t g = cursor[i % nt]; g < x->end[i]; g++)
			if (VEC_PUSH(&a->groups, x->w.groups.items[g]) < 0) {
				r = -ENOMEM;
				goto out;
			} else
				x->w.groups.items[g] = (struct group){ 0 };
		cursor[i % nt] = x->end[i];
	}
	for (unsigned t = 0; t < nt; t++) {
		struct audit_report *rp = &k[t].rep;

		a->report->pods_audited += rp->pods_audited;
		a->report->classes_evaluated += rp->classes_evaluated;
		a->report->packets_evaluated += rp->packets_evaluated;
		a->report->walks_shared += rp->walks_shared;
		a->report->checks_run += rp->checks_run;
		a->report->checks_reused += rp->checks_reused;
		for (size_t i = 0; ph->pairs && i < a->n_pods; i++)
			for (int d = 0; d < 2; d++)
				a->pods[i].saw_drop[d] |= k[t].saw[2 * i + d];
	}
out:
	for (unsigned t = 0; t < nt; t++)
		worker_done(&k[t]);
	return r;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void audit_done(struct audit *a)
{
	work_done(a);
	np_iset_done(&a->excluded[0]);
	np_iset_done(&a->excluded[1]);
	free(a->pod_ips);
	free(a->route_starts);
	free(a->uplinks);
	for (int fi = 0; fi < 2; fi++) {
		for (size_t i = 0; i < a->n_route_sets[fi]; i++)
			np_iset_done(&a->route_sets[fi][i]);
		free(a->route_sets[fi]);
		free(a->route_cuts[fi]);
	}
	free(a->pods);
	np_iset_done(&a->all_ports);
}

static const char *const not_peers[] = {
	"224.0.0.0/4", "255.255.255.255/32", "127.0.0.0/8", "::/128",
	"::1/128",     "fe80::/10",	     "ff00::/8",
};

int audit_run(const struct audit_env *env, const struct audit_options *opts,
	      struct audit_report **ret)
{
	_cleanup_(audit_report_freep) struct audit_report *rep = NULL;
	struct audit a = { .env = env };
	const struct model_pod *const *pods;
	struct audit_options none = { 0 };
	struct pod_state *target = NULL;
	struct np_iset local = { 0 };
	struct audit_cache *cache = opts && !opts->pod && !opts->skip_pairs ? opts->cache : NULL;
	_cleanup_(freep) bool *dirty = NULL;
	bool replay = false;
	double t0 = now_ms();
	size_t n;
	int r = -ENOMEM;

	if (!opts)
		opts = &none;
	a.full_walks = opts->full_walks;
	rep = calloc(1, sizeof(*rep));
	if (!rep || !(rep->node = strdup(env->node)))
		return -ENOMEM;
	a.report = rep;
	if (np_iset_add(&a.all_ports, 0, 65535) < 0)
		goto out;

	/* The model's lookups build their indexes on first use: build them here, before the
	 * checks' threads look pods up by address. */
	(void)model_pod_by_ip(env->model, 0);

	/* Every cluster pod address, for examples that name real peers. */
	n = model_pods(env->model, &pods);
	a.pod_ips = calloc(n * 2 + 1, sizeof(*a.pod_ips));
	if (!a.pod_ips)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (policy_pod_exempt(pods[i]) == POLICY_APPLIES)
			for (unsigned k = 0; k < pods[i]->n_ips; k++)
				a.pod_ips[a.n_pod_ips++] = pods[i]->ips[k];
	if (a.n_pod_ips > 1)
		np_qsort(a.pod_ips, a.n_pod_ips, sizeof(*a.pod_ips), np_u128_cmp);

	/* First hosts of the route prefixes: ordinary examples for classes without a pod. */
	{
		const struct fw_route *routes;
		size_t nr = fw_rtable_routes(env->routes, &routes);

		a.route_starts = calloc(nr + 1, sizeof(*a.route_starts));
		if (!a.route_starts)
			goto out;
		for (size_t i = 0; i < nr; i++)
			if (routes[i].type == FW_ROUTE_UNICAST && routes[i].prefix > 0)
				a.route_starts[a.n_route_starts++] = routes[i].lo;
	}

	/* The node's own addresses and its pods' addresses are not off-node peers. */
	if (fw_rtable_local_addrs(env->routes, &local) < 0)
		goto out;
	n = model_pods_on_node(env->model, env->node, &pods);
	a.pods = calloc(n + 1, sizeof(*a.pods));
	if (!a.pods)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct pod_state *ps = &a.pods[a.n_pods];

		if (policy_pod_exempt(pods[i]) != POLICY_APPLIES)
			continue;
		ps->pod = pods[i];
		r = policy_engine_expect(env->engine, pods[i], &ps->exp);
		if (r < 0)
			goto out;
		for (unsigned k = 0; k < pods[i]->n_ips; k++) {
			int fi = fam_index(np_addr_family(pods[i]->ips[k]));
			ps->ip[fi] = pods[i]->ips[k];
			ps->has[fi] = true;
			if (np_iset_add(&a.excluded[fi], ps->ip[fi], ps->ip[fi]) < 0)
				goto out;
		}
		a.n_pods++;
	}
	for (size_t i = 0; i < local.n; i++) {
		int fi = fam_index(np_addr_family(local.r[i].lo));
		if (np_iset_add(&a.excluded[fi], local.r[i].lo, local.r[i].hi) < 0)
			goto out;
	}
	/* Nor are addresses the kernel never forwards to or from as unicast: multicast, the
	 * limited broadcast, loopback, and IPv6's unspecified and link-local addresses. A rule
	 * that accepts them is no drift, since no such packet reaches it. */
	for (size_t i = 0; i < ELEMENTSOF(not_peers); i++) {
		np_u128 lo, hi;
		int fi;

		r = np_cidr_parse(not_peers[i], &lo, &hi);
		assert(r >= 0);
		fi = fam_index(np_addr_family(lo));
		r = -ENOMEM;
		if (np_iset_add(&a.excluded[fi], lo, hi) < 0)
			goto out;
	}
	np_iset_normalize(&a.excluded[0]);
	np_iset_normalize(&a.excluded[1]);

	if (opts->pod) {
		for (size_t i = 0; i < a.n_pods; i++) {
			char ref[512];
			snprintf(ref, sizeof(ref), "%s/%s", a.pods[i].pod->ns, a.pods[i].pod->name);
			if (streq(ref, opts->pod))
				target = &a.pods[i];
		}
		if (!target) {
			r = -ENOENT;
			goto out;
		}
	}
	if (fw_rtable_has_policy_rules(env->routes) &&
	    note(&a, "policy routing rules exist; interfaces come from the main table") < 0)
		goto out;

	for (size_t i = 0; i < a.n_pods; i++) {
		struct pod_state *ps = &a.pods[i];
		for (int fi = 0; fi < 2; fi++) {
			if (!ps->has[fi])
				continue;
			r = pod_route(&a, ps, fi ? AF_INET6 : AF_INET);
			if (r < 0)
				goto out;
			if (r == 0)
				ps->has[fi] = false; /* reported; nothing to test through */
		}
	}
	/* The uplinks: every interface a unicast route uses that is no local pod's. */
	{
		const struct fw_route *routes;
		size_t nr = fw_rtable_routes(env->routes, &routes);

		a.uplinks = calloc(nr + 1, sizeof(*a.uplinks));
		if (!a.uplinks)
			goto out;
		for (size_t i = 0; i < nr; i++) {
			const char *ifn = routes[i].oifname;
			bool skip = routes[i].type != FW_ROUTE_UNICAST || !ifn[0];

			for (size_t k = 0; !skip && k < a.n_pods; k++)
				for (int fi = 0; fi < 2; fi++)
					if (a.pods[k].has[fi] && streq(a.pods[k].veth[fi], ifn))
						skip = true;
			for (size_t k = 0; !skip && k < a.n_uplinks; k++)
				if (streq(a.uplinks[k], ifn))
					skip = true;
			if (!skip)
				a.uplinks[a.n_uplinks++] = ifn;
		}
		for (int fi = 0; fi < 2; fi++) {
			a.route_sets[fi] = calloc(nr + 1, sizeof(*a.route_sets[fi]));
			a.route_cuts[fi] = calloc(2 * nr + 1, sizeof(*a.route_cuts[fi]));
			if (!a.route_sets[fi] || !a.route_cuts[fi])
				goto out;
		}
		for (size_t i = 0; i < nr; i++) {
			int fi = fam_index(routes[i].family);
			bool uplink = false;

			for (size_t k = 0; k < a.n_uplinks; k++)
				if (streq(a.uplinks[k], routes[i].oifname))
					uplink = true;
			if (!uplink && routes[i].type == FW_ROUTE_UNICAST)
				continue; /* a route into a local pod: its addresses are excluded */
			if (np_iset_add(&a.route_sets[fi][a.n_route_sets[fi]++], routes[i].lo,
					routes[i].hi) < 0)
				goto out;
			a.route_cuts[fi][a.n_route_cuts[fi]++] = routes[i].lo;
			if (routes[i].hi != NP_U128_MAX)
				a.route_cuts[fi][a.n_route_cuts[fi]++] = routes[i].hi + 1;
		}
	}
	/* What the last audit left: usable when the node's pods, addresses and routes are the
	 * same; the pods whose expectation changed, or whose interface the ruleset change can
	 * touch, are audited again. */
	if (cache) {
		uint64_t fp = audit_fingerprint(&a);

		replay = opts->incremental && cache->valid && cache->fp == fp &&
			 cache->n_pods == a.n_pods;
		if (!replay) {
			cache_clear(cache);
			cache->off = calloc(2 * a.n_pods + 1, sizeof(*cache->off));
			cache->pair = calloc(a.n_pods * a.n_pods + 1, sizeof(*cache->pair));
			cache->exp_hash = calloc(a.n_pods + 1, sizeof(*cache->exp_hash));
			if (!cache->off || !cache->pair || !cache->exp_hash)
				goto out;
			cache->n_pods = a.n_pods;
			cache->fp = fp;
		} else {
			dirty = calloc(a.n_pods + 1, sizeof(*dirty));
			if (!dirty)
				goto out;
			for (size_t i = 0; i < a.n_pods; i++)
				for (int fi = 0; fi < 2; fi++)
					for (size_t k = 0;
					     a.pods[i].has[fi] && k < opts->n_changed_ifaces; k++)
						if (streq(a.pods[i].veth[fi],
							  opts->changed_ifaces[k]))
							dirty[i] = true;
		}
		for (size_t i = 0; i < a.n_pods; i++) {
			uint64_t h = expect_hash(a.pods[i].exp);

			if (replay && h != cache->exp_hash[i])
				dirty[i] = true;
			cache->exp_hash[i] = h;
		}
		cache->valid = false; /* until this audit completes */
	}
	rep->incremental = replay;

	{
		struct phase ph = { .a = &a,
				    .target = target,
				    .cache = cache,
				    .replay = replay,
				    .dirty = dirty,
				    .threads = opts->threads };

		/* every pod's off-node checks, then the pairs: a pair's drops add to those */
		if ((r = phase_run(&ph)) < 0)
			goto out;
		ph.pairs = true;
		if (!opts->skip_pairs && (r = phase_run(&ph)) < 0)
			goto out;
	}
	if (cache)
		cache->valid = true;
	r = finalize(&a);
	if (r < 0)
		goto out;
	rep->duration_ms = now_ms() - t0;
	*ret = TAKE_PTR(rep);
	r = 0;
out:
	np_iset_done(&local);
	audit_done(&a);
	return r;
}
