/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iptables-legacy (x_tables) through libiptc (IPv4) and libip6tc (IPv6).
 *
 * Only tables that already exist in this network namespace are read. Opening a table with
 * iptc_init() makes the kernel instantiate it (and may load its module): `iptables-legacy -L`
 * in a fresh namespace creates the filter table with ACCEPT policies, which would then show up
 * in `iptables-legacy-save`, hook into the packet path and make the node look as if it used
 * iptables-legacy. The readers therefore take the table list from /proc/net/ip_tables_names
 * and /proc/net/ip6_tables_names (which list the instantiated tables of the reading process's
 * namespace and create nothing), and read only the raw, mangle, filter, nat and security
 * tables found there. A missing file means x_tables for that family is not loaded: nothing to
 * read, and nothing is loaded.
 *
 * Consistency: libiptc copies each table with one getsockopt(IPT_SO_GET_ENTRIES), which the
 * kernel answers atomically (and libiptc retries when the table changed size in between), so
 * each table is a snapshot; different tables are read one after the other.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>

#include "ir/ir.h"
#include "fw.h"
#include "rcache.h"
#include "xt.h"

static const struct {
	const char *name;
	int priority[_IR_HOOK_MAX];
} legacy_tables[] = {
	/* NF_IP_PRI_* of each table's hooks (include/uapi/linux/netfilter_ipv4.h) */
	{ "raw", { [IR_HOOK_PREROUTING] = IR_PRIO_RAW, [IR_HOOK_OUTPUT] = IR_PRIO_RAW } },
	{ "mangle",
	  { [IR_HOOK_PREROUTING] = IR_PRIO_MANGLE,
	    [IR_HOOK_INPUT] = IR_PRIO_MANGLE,
	    [IR_HOOK_FORWARD] = IR_PRIO_MANGLE,
	    [IR_HOOK_OUTPUT] = IR_PRIO_MANGLE,
	    [IR_HOOK_POSTROUTING] = IR_PRIO_MANGLE } },
	{ "nat",
	  { [IR_HOOK_PREROUTING] = IR_PRIO_DSTNAT,
	    [IR_HOOK_INPUT] = IR_PRIO_SRCNAT,
	    [IR_HOOK_OUTPUT] = IR_PRIO_DSTNAT,
	    [IR_HOOK_POSTROUTING] = IR_PRIO_SRCNAT } },
	{ "filter",
	  { [IR_HOOK_INPUT] = IR_PRIO_FILTER,
	    [IR_HOOK_FORWARD] = IR_PRIO_FILTER,
	    [IR_HOOK_OUTPUT] = IR_PRIO_FILTER } },
	{ "security",
	  { [IR_HOOK_INPUT] = IR_PRIO_SECURITY,
	    [IR_HOOK_FORWARD] = IR_PRIO_SECURITY,
	    [IR_HOOK_OUTPUT] = IR_PRIO_SECURITY } },
};

static int hook_from_chain(const char *name)
{
	static const char *const names[] = {
		[IR_HOOK_PREROUTING] = "PREROUTING",   [IR_HOOK_INPUT] = "INPUT",
		[IR_HOOK_FORWARD] = "FORWARD",	       [IR_HOOK_OUTPUT] = "OUTPUT",
		[IR_HOOK_POSTROUTING] = "POSTROUTING",
	};

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (names[i] && streq(name, names[i]))
			return (int)i;
	return -EINVAL;
}

int fw_iptc_tables(int family, char ***ret)
{
	_cleanup_(fclosep) FILE *f = NULL;
	VEC(char *) v = { 0 };
	char line[64];

	f = fopen(family == AF_INET6 ? "/proc/net/ip6_tables_names" : "/proc/net/ip_tables_names",
		  "re");
	if (!f) {
		if (errno == ENOENT) {
			*ret = NULL;
			return 0;
		}
		return negative_errno();
	}
	while (fgets(line, sizeof(line), f)) {
		char *s;

		line[strcspn(line, "\n")] = 0;
		if (!*line)
			continue;
		s = strdup(line);
		if (!s || VEC_PUSH(&v, s) < 0) {
			free(s);
			goto oom;
		}
	}
	if (ferror(f))
		goto fail;
	if (VEC_PUSH(&v, NULL) < 0)
		goto oom;
	*ret = v.items;
	return (int)v.n - 1;
oom:
	errno = ENOMEM;
fail:;
	int r = negative_errno();
	VEC_FOREACH (p, &v)
		free(*p);
	VEC_DONE(&v);
	return r;
}

/* The family-independent view of one entry. */
struct entry {
	const void *elems; /* first match */
	size_t matches_size; /* bytes of matches (target_offset - sizeof(entry)) */
	const struct xt_entry_target *target;
	size_t target_size;
	bool is_goto;
};

struct iptc_reader {
	struct ir_ruleset *rs;
	struct fw_xt_ctx ctx;
	struct ir_table *t;
	struct ir_rule *r; /* the rule being read: a scratch rule, appended packed */
	struct fw_rcache *cache; /* rules read so far (of every table of the family) */
	VEC(uint8_t) key; /* the cache key of the entry being read */
	bool has_comment; /* the entry has comment matches, assembled in comment */
	char comment[FW_XT_COMMENT_MAX];
};

/* Adds saddr/daddr ∈ addr/mask; a mask that is not a prefix is opaque. */
static int add_addr(struct iptc_reader *rd, enum ir_field f, const uint8_t *addr,
		    const uint8_t *mask, size_t n, bool inv)
{
	np_u128 a = 0, m = 0, host;
	unsigned prefix = 0;
	struct np_iset s = { 0 };
	int k;

	for (size_t i = 0; i < n; i++) {
		a = (a << 8) | addr[i];
		m = (m << 8) | mask[i];
	}
	if (m == 0)
		return inv ? ir_rule_add_match(rd->r, IR_FIELD_NFPROTO, false, &s) : 0;
	host = ~m;
	if (n == 4)
		host &= 0xffffffffu;
	if (host & (host + 1)) {
		char buf[200];

		snprintf(buf, sizeof(buf), "%s%s with a non-prefix mask", inv ? "! " : "",
			 f == IR_FIELD_SADDR ? "-s" : "-d");
		return ir_rule_add_opaque(rd->r, "%s", buf);
	}
	for (np_u128 h = host; h; h >>= 1)
		prefix++;
	prefix = (unsigned)n * 8 - prefix;
	k = np_iset_add_cidr(&s, n == 4 ? AF_INET : AF_INET6, a & m, prefix);
	if (k < 0) {
		np_iset_done(&s);
		return k;
	}
	np_iset_normalize(&s);
	return ir_rule_add_match(rd->r, f, inv, &s);
}

static int add_iface(struct iptc_reader *rd, enum ir_field f, const char *via,
		     const unsigned char *mask, bool inv)
{
	struct ir_pred p = { .kind = IR_PRED_MATCH, .field = f, .negate = inv };
	struct ir_ifname n = { 0 };
	int k;

	static const unsigned char no_mask[IFNAMSIZ];

	if (!inv && memcmp(mask, no_mask, IFNAMSIZ) == 0) /* no -i/-o: the common case */
		return 0;
	k = fw_xt_ifname_from_mask(via, mask, IFNAMSIZ, &n);
	if (k == -EINVAL)
		return ir_rule_add_opaque(rd->r, "%s%s %.*s with a non-prefix mask",
					  inv ? "! " : "", f == IR_FIELD_IIFNAME ? "-i" : "-o",
					  IFNAMSIZ, via);
	if (k < 0)
		return k;
	if (k == 0) {
		struct np_iset none = { 0 };

		/* "! -i +": no interface matches */
		return inv ? ir_rule_add_match(rd->r, IR_FIELD_NFPROTO, false, &none) : 0;
	}
	if (VEC_PUSH(&p.ifnames, n) < 0) {
		free(n.name);
		return -ENOMEM;
	}
	return ir_rule_add_pred(rd->r, &p);
}

/* Decodes the matches into rd->r; with skip_comments, comment matches (revision 0) are left
 * out (the caller took them from entry_key()). */
static int entry_matches(struct iptc_reader *rd, const struct entry *e, bool skip_comments)
{
	const uint8_t *p = e->elems;
	size_t off = 0;
	int k;

	while (off < e->matches_size) {
		const struct xt_entry_match *m = (const struct xt_entry_match *)(p + off);
		size_t size;
		char name[XT_EXTENSION_MAXNAMELEN];

		if (e->matches_size - off < sizeof(*m))
			return ir_rule_add_opaque(rd->r, "truncated match list");
		size = m->u.match_size;
		if (size < sizeof(*m) || size > e->matches_size - off)
			return ir_rule_add_opaque(rd->r, "match with bad size %zu", size);
		memcpy(name, m->u.user.name, sizeof(name));
		name[sizeof(name) - 1] = 0;
		off += size;
		if (skip_comments && m->u.user.revision == 0 && streq(name, "comment"))
			continue;
		k = fw_xt_match_to_ir(&rd->ctx, name, m->u.user.revision, m->data,
				      size - sizeof(*m), rd->r);
		if (k < 0)
			return k;
	}
	return 0;
}

/* The standard target's verdict is negative for ACCEPT/DROP/QUEUE/RETURN and a byte offset
 * for a jump or goto, whose target libiptc names in label ("" for a fall-through rule). */
static int entry_target(struct iptc_reader *rd, const struct entry *e, const char *label)
{
	const struct xt_entry_target *t = e->target;
	char name[XT_EXTENSION_MAXNAMELEN];

	if (e->target_size < sizeof(*t))
		return ir_rule_add_note(rd->r, IR_STMT_OPAQUE, "truncated target");
	memcpy(name, t->u.user.name, sizeof(name));
	name[sizeof(name) - 1] = 0;
	if (streq(name, XT_STANDARD_TARGET)) {
		int verdict;

		if (e->target_size < sizeof(*t) + sizeof(int))
			return ir_rule_add_note(rd->r, IR_STMT_OPAQUE, "truncated standard target");
		memcpy(&verdict, t->data, sizeof(verdict));
		if (verdict >= 0)
			return label && *label ? fw_xt_verdict_to_ir(0, label, e->is_goto, rd->r)
					       : 0;
		if (fw_xt_verdict_to_ir(verdict, NULL, false, rd->r) < 0)
			return ir_rule_add_note(rd->r, IR_STMT_OPAQUE, "standard verdict %d",
						verdict);
		return 0;
	}
	return fw_xt_target_to_ir(&rd->ctx, name, t->u.user.revision, t->data,
				  e->target_size - sizeof(*t), rd->r);
}

/* An extension (match or target) in the key at w: size, name (NUL-padded: the kernel copies
 * only the name's bytes, what follows is left from before), revision and blob (unless with_data
 * is false). Takes at most as many bytes as the extension has in the entry. Returns the end. */
static uint8_t *key_put_ext(uint8_t *w, uint16_t size, const char *uname, uint8_t rev,
			    const void *data, size_t len, bool with_data)
{
	size_t nl = strnlen(uname, XT_EXTENSION_MAXNAMELEN - 1);

	memcpy(w, &size, sizeof(size));
	w += sizeof(size);
	memcpy(w, uname, nl);
	memset(w + nl, 0, XT_EXTENSION_MAXNAMELEN - nl);
	w += XT_EXTENSION_MAXNAMELEN;
	*w++ = rev;
	if (with_data) {
		memcpy(w, data, len);
		w += len;
	}
	return w;
}

/*
 * Makes rd->key from what decides the entry's translation: the header hdr (struct ipt_ip or
 * ip6t_ip6), every match but comments (revision 0), which are assembled into rd->comment, the
 * target (for a jump, its label instead of the offset) and the label. Counters are left out.
 * Returns 1, 0 when the entry is malformed (decode it as it is, uncached), or -ENOMEM.
 */
static int entry_key(struct iptc_reader *rd, const void *hdr, size_t hdr_len, const struct entry *e,
		     const char *label)
{
	const uint8_t *p = e->elems;
	const struct xt_entry_target *t = e->target;
	size_t ll = label ? strlen(label) : 0;
	bool jump;
	int verdict;
	uint8_t *w;

	rd->key.n = 0;
	rd->has_comment = false;
	rd->comment[0] = 0;
	/* an extension's piece of the key is no longer than its bytes in the entry */
	if (VEC_RESERVE(&rd->key, hdr_len + e->matches_size + e->target_size + ll + 2) < 0)
		return -ENOMEM;
	w = rd->key.items;
	memcpy(w, hdr, hdr_len);
	w += hdr_len;
	for (size_t off = 0; off < e->matches_size;) {
		const struct xt_entry_match *m = (const struct xt_entry_match *)(p + off);
		size_t size;

		if (e->matches_size - off < sizeof(*m))
			return 0;
		size = m->u.match_size;
		if (size < sizeof(*m) || size > e->matches_size - off)
			return 0;
		off += size;
		if (m->u.user.revision == 0 && strncmp(m->u.user.name, "comment", 8) == 0) {
			fw_xt_comment_append(m->data, size - sizeof(*m), rd->comment,
					     sizeof(rd->comment));
			rd->has_comment = true;
			continue;
		}
		w = key_put_ext(w, (uint16_t)size, m->u.user.name, m->u.user.revision, m->data,
				size - sizeof(*m), true);
	}
	if (e->target_size < sizeof(*t) + sizeof(int))
		return 0;
	/* a jump's verdict is the offset of its target: the label names the chain instead */
	memcpy(&verdict, t->data, sizeof(verdict));
	jump = t->u.user.name[0] == 0 && verdict >= 0; /* XT_STANDARD_TARGET is "" */
	w = key_put_ext(w, (uint16_t)e->target_size, t->u.user.name, t->u.user.revision, t->data,
			e->target_size - sizeof(*t), !jump);
	memcpy(w, label ? label : "", ll + 1);
	w += ll + 1;
	*w++ = e->is_goto;
	rd->key.n = (size_t)(w - rd->key.items);
	return 1;
}

/*
 * Reads one entry into chain c: from the rule cache when an equal entry was read before, else
 * decoded (hdr_fn adds the header's predicates) into the scratch rule and remembered.
 */
static int entry_read(struct iptc_reader *rd, struct ir_chain *c, const void *hdr, size_t hdr_len,
		      const struct entry *e, const char *label,
		      int (*hdr_fn)(struct iptc_reader *rd, const void *hdr))
{
	const char *comment;
	struct ir_rule *tmpl;
	uint64_t h = 0;
	int k, cached;

	cached = entry_key(rd, hdr, hdr_len, e, label);
	if (cached < 0)
		return cached;
	comment = rd->has_comment ? rd->comment : NULL;
	if (cached) {
		const struct ir_rule *t;

		h = fw_rcache_hash(rd->t, rd->key.items, rd->key.n);
		t = fw_rcache_get(rd->cache, h, rd->t, rd->key.items, rd->key.n);
		if (t)
			return ir_chain_append_shared(c, t, comment, 0);
	}
	ir_rule_clear(rd->r);
	k = hdr_fn(rd, hdr);
	if (k >= 0)
		k = entry_matches(rd, e, cached);
	if (k >= 0)
		k = entry_target(rd, e, label);
	if (k < 0)
		return k;
	if (!cached)
		return ir_chain_append_packed(c, rd->r);
	/* the first of its kind: kept by the table as the body the next ones share */
	k = ir_table_take_template(rd->t, rd->r, &tmpl);
	if (k < 0)
		return k;
	k = fw_rcache_put(rd->cache, h, rd->t, rd->key.items, rd->key.n, tmpl);
	if (k < 0 && k != -E2BIG)
		return k;
	return ir_chain_append_shared(c, tmpl, comment, 0);
}

static int ip4_hdr(struct iptc_reader *rd, const void *hdr)
{
	const struct ipt_ip *ip = hdr;
	int k;

	k = add_addr(rd, IR_FIELD_SADDR, (const uint8_t *)&ip->src, (const uint8_t *)&ip->smsk, 4,
		     ip->invflags & IPT_INV_SRCIP);
	if (k >= 0)
		k = add_addr(rd, IR_FIELD_DADDR, (const uint8_t *)&ip->dst,
			     (const uint8_t *)&ip->dmsk, 4, ip->invflags & IPT_INV_DSTIP);
	if (k >= 0)
		k = add_iface(rd, IR_FIELD_IIFNAME, ip->iniface, ip->iniface_mask,
			      ip->invflags & IPT_INV_VIA_IN);
	if (k >= 0)
		k = add_iface(rd, IR_FIELD_OIFNAME, ip->outiface, ip->outiface_mask,
			      ip->invflags & IPT_INV_VIA_OUT);
	/* ip_packet_match(): protocol 0 is "all", even inverted */
	if (k >= 0 && ip->proto)
		k = ir_rule_add_match_range(rd->r, IR_FIELD_L4PROTO, ip->invflags & IPT_INV_PROTO,
					    ip->proto, ip->proto);
	if (k >= 0 && (ip->flags & IPT_F_FRAG))
		k = ir_rule_add_opaque(rd->r, "%s-f (fragments)",
				       ip->invflags & IPT_INV_FRAG ? "! " : "");
	return k;
}

static int ip6_hdr(struct iptc_reader *rd, const void *hdr)
{
	const struct ip6t_ip6 *ip = hdr;
	int k;

	k = add_addr(rd, IR_FIELD_SADDR, ip->src.s6_addr, ip->smsk.s6_addr, 16,
		     ip->invflags & IP6T_INV_SRCIP);
	if (k >= 0)
		k = add_addr(rd, IR_FIELD_DADDR, ip->dst.s6_addr, ip->dmsk.s6_addr, 16,
			     ip->invflags & IP6T_INV_DSTIP);
	if (k >= 0)
		k = add_iface(rd, IR_FIELD_IIFNAME, ip->iniface, ip->iniface_mask,
			      ip->invflags & IP6T_INV_VIA_IN);
	if (k >= 0)
		k = add_iface(rd, IR_FIELD_OIFNAME, ip->outiface, ip->outiface_mask,
			      ip->invflags & IP6T_INV_VIA_OUT);
	/* ip6_packet_match(): the protocol after extension headers; 0 is "all" */
	if (k >= 0 && (ip->flags & IP6T_F_PROTO) && ip->proto)
		k = ir_rule_add_match_range(rd->r, IR_FIELD_L4PROTO, ip->invflags & IP6T_INV_PROTO,
					    ip->proto, ip->proto);
	if (k >= 0 && (ip->flags & IP6T_F_TOS))
		k = ir_rule_add_opaque(rd->r, "traffic class 0x%x", ip->tos);
	return k;
}

/* A malformed entry is one opaque rule. */
static int malformed_entry(struct iptc_reader *rd, struct ir_chain *c)
{
	int k;

	ir_rule_clear(rd->r);
	k = ir_rule_add_opaque(rd->r, "malformed entry");
	return k < 0 ? k : ir_chain_append_packed(c, rd->r);
}

static int ip4_rule(struct iptc_reader *rd, struct ir_chain *c, const struct ipt_entry *ie,
		    struct xtc_handle *h)
{
	struct entry e = {
		.elems = ie->elems,
		.matches_size = ie->target_offset - sizeof(*ie),
		.target = (const struct xt_entry_target *)((const uint8_t *)ie + ie->target_offset),
		.target_size = ie->next_offset - ie->target_offset,
		.is_goto = ie->ip.flags & IPT_F_GOTO,
	};

	if (ie->target_offset < sizeof(*ie) || ie->next_offset < ie->target_offset)
		return malformed_entry(rd, c);
	return entry_read(rd, c, &ie->ip, sizeof(ie->ip), &e, iptc_get_target(ie, h), ip4_hdr);
}

static int ip6_rule(struct iptc_reader *rd, struct ir_chain *c, const struct ip6t_entry *ie,
		    struct xtc_handle *h)
{
	struct entry e = {
		.elems = ie->elems,
		.matches_size = ie->target_offset - sizeof(*ie),
		.target = (const struct xt_entry_target *)((const uint8_t *)ie + ie->target_offset),
		.target_size = ie->next_offset - ie->target_offset,
		.is_goto = ie->ipv6.flags & IP6T_F_GOTO,
	};

	if (ie->target_offset < sizeof(*ie) || ie->next_offset < ie->target_offset)
		return malformed_entry(rd, c);
	return entry_read(rd, c, &ie->ipv6, sizeof(ie->ipv6), &e, ip6tc_get_target(ie, h), ip6_hdr);
}

static int table_chain(struct iptc_reader *rd, size_t ti, const char *chain, bool builtin,
		       const char *policy, struct ir_chain **ret)
{
	_cleanup_(ir_chain_freep) struct ir_chain *c = NULL;
	enum ir_chain_type type = IR_CHAIN_FILTER;
	int hook, k;

	if (!builtin)
		return ir_table_new_chain(rd->t, chain, ret);
	hook = hook_from_chain(chain);
	if (hook < 0)
		return -EBADMSG;
	if (streq(legacy_tables[ti].name, "nat"))
		type = IR_CHAIN_NAT;
	else if (streq(legacy_tables[ti].name, "mangle") && hook == IR_HOOK_OUTPUT)
		type = IR_CHAIN_ROUTE;
	k = ir_chain_new_base(chain, type, hook, legacy_tables[ti].priority[hook],
			      policy && streq(policy, "DROP") ? IR_VERDICT_DROP : IR_VERDICT_ACCEPT,
			      &c);
	if (k < 0)
		return k;
	*ret = c;
	return ir_table_add_chain(rd->t, &c);
}

/* Reads table ti from h (fetched ahead; taken), or from a fresh copy when h is NULL. */
static int read_table4(struct iptc_reader *rd, size_t ti, struct xtc_handle *h)
{
	int k = 0;

	if (!h && !(h = iptc_init(legacy_tables[ti].name)))
		return negative_errno();
	for (const char *chain = iptc_first_chain(h); chain && k >= 0; chain = iptc_next_chain(h)) {
		struct xt_counters cnt;
		/* only the chains named after a hook can be built-in (and cost a lookup) */
		bool builtin = hook_from_chain(chain) >= 0 && iptc_builtin(chain, h);
		const char *pol = builtin ? iptc_get_policy(chain, &cnt, h) : NULL;
		struct ir_chain *c;

		k = table_chain(rd, ti, chain, builtin, pol, &c);
		for (const struct ipt_entry *e = iptc_first_rule(chain, h); e && k >= 0;
		     e = iptc_next_rule(e, h)) {
			k = ip4_rule(rd, c, e, h);
		}
	}
	iptc_free(h);
	return k;
}

static int read_table6(struct iptc_reader *rd, size_t ti, struct xtc_handle *h)
{
	int k = 0;

	if (!h && !(h = ip6tc_init(legacy_tables[ti].name)))
		return negative_errno();
	for (const char *chain = ip6tc_first_chain(h); chain && k >= 0;
	     chain = ip6tc_next_chain(h)) {
		struct xt_counters cnt;
		/* only the chains named after a hook can be built-in (and cost a lookup) */
		bool builtin = hook_from_chain(chain) >= 0 && ip6tc_builtin(chain, h);
		const char *pol = builtin ? ip6tc_get_policy(chain, &cnt, h) : NULL;
		struct ir_chain *c;

		k = table_chain(rd, ti, chain, builtin, pol, &c);
		for (const struct ip6t_entry *e = ip6tc_first_rule(chain, h); e && k >= 0;
		     e = ip6tc_next_rule(e, h)) {
			k = ip6_rule(rd, c, e, h);
		}
	}
	ip6tc_free(h);
	return k;
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/* Per family: the tables that exist and a copy of each, or why there is none. */
struct fw_iptc_fetched {
	struct {
		int r; /* fw_iptc_tables()'s */
		char **names;
		struct xtc_handle *h[ELEMENTSOF(legacy_tables)];
		int err[ELEMENTSOF(legacy_tables)]; /* -errno of a copy that failed */
	} fam[2];
};

struct fw_iptc_fetched *fw_iptc_fetched_free(struct fw_iptc_fetched *f)
{
	if (!f)
		return NULL;
	for (int fi = 0; fi < 2; fi++) {
		for (size_t ti = 0; ti < ELEMENTSOF(legacy_tables); ti++)
			if (f->fam[fi].h[ti])
				(fi ? ip6tc_free : iptc_free)(f->fam[fi].h[ti]);
		strv_free(f->fam[fi].names);
	}
	free(f);
	return NULL;
}

static bool has_table(char **names, size_t ti)
{
	for (char **p = names; p && *p; p++)
		if (streq(*p, legacy_tables[ti].name))
			return true;
	return false;
}

int fw_iptc_fetch(struct fw_iptc_fetched **ret)
{
	struct fw_iptc_fetched *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	for (int fi = 0; fi < 2; fi++) {
		f->fam[fi].r = fw_iptc_tables(fi ? AF_INET6 : AF_INET, &f->fam[fi].names);
		for (size_t ti = 0; f->fam[fi].r >= 0 && ti < ELEMENTSOF(legacy_tables); ti++) {
			if (!has_table(f->fam[fi].names, ti))
				continue;
			f->fam[fi].h[ti] = fi ? ip6tc_init(legacy_tables[ti].name)
					      : iptc_init(legacy_tables[ti].name);
			if (!f->fam[fi].h[ti])
				f->fam[fi].err[ti] = negative_errno();
		}
	}
	*ret = f;
	return 0;
}

int fw_iptc_read(struct ir_ruleset *rs, int family, const struct fw_ipsets *ipsets,
		 struct strbuf *note)
{
	return fw_iptc_read_fetched(rs, family, ipsets, note, NULL);
}

int fw_iptc_read_fetched(struct ir_ruleset *rs, int family, const struct fw_ipsets *ipsets,
			 struct strbuf *note, struct fw_iptc_fetched *f)
{
	_cleanup_(fw_rcache_freep) struct fw_rcache *cache = NULL;
	char **names = NULL;
	int fi = family == AF_INET6, n, k, read = 0;

	if (f) {
		/* the fetch's list and copies: taken from f */
		n = f->fam[fi].r;
		names = TAKE_PTR(f->fam[fi].names);
	} else
		n = fw_iptc_tables(family, &names);
	if (n < 0)
		return n;
	k = fw_rcache_new(&cache);
	if (k < 0)
		goto out;
	for (size_t ti = 0; ti < ELEMENTSOF(legacy_tables); ti++) {
		struct iptc_reader rd = {
			.rs = rs,
			.ctx = {
				.family = family == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4,
				.set_name = ipsets ? fw_ipsets_xt_name : NULL,
				.userdata = (void *)ipsets,
				.ipsets = ipsets,
			},
			.cache = cache,
		};
		struct xtc_handle *h = f ? TAKE_PTR(f->fam[fi].h[ti]) : NULL;

		if (!has_table(names, ti)) {
			if (h)
				(fi ? ip6tc_free : iptc_free)(h);
			continue;
		}
		if (f && !h) {
			k = f->fam[fi].err[ti];
			goto out;
		}
		k = ir_ruleset_new_table(rs, IR_SRC_IPTABLES_LEGACY,
					 family == AF_INET6 ? IR_FAMILY_IP6 : IR_FAMILY_IP,
					 legacy_tables[ti].name, &rd.t);
		if (k >= 0)
			k = ir_rule_new(&rd.r);
		if (k < 0) {
			if (h)
				(fi ? ip6tc_free : iptc_free)(h);
			goto out;
		}
		k = family == AF_INET6 ? read_table6(&rd, ti, h) : read_table4(&rd, ti, h);
		ir_rule_free(rd.r);
		VEC_DONE(&rd.key);
		if (k < 0)
			goto out;
		if (note)
			strbuf_printf(note, "%s%s %s", note->len ? ", " : "",
				      family == AF_INET6 ? "ip6" : "ip", legacy_tables[ti].name);
		read++;
	}
	k = read;
out:
	strv_free(names);
	return k;
}
