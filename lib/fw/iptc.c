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
	struct ir_rule *r;
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

static int entry_matches(struct iptc_reader *rd, const struct entry *e)
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
		k = fw_xt_match_to_ir(&rd->ctx, name, m->u.user.revision, m->data,
				      size - sizeof(*m), rd->r);
		if (k < 0)
			return k;
		off += size;
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

static int ip4_rule(struct iptc_reader *rd, const struct ipt_entry *ie, struct xtc_handle *h)
{
	const struct ipt_ip *ip = &ie->ip;
	struct entry e = {
		.elems = ie->elems,
		.matches_size = ie->target_offset - sizeof(*ie),
		.target = (const struct xt_entry_target *)((const uint8_t *)ie + ie->target_offset),
		.target_size = ie->next_offset - ie->target_offset,
		.is_goto = ip->flags & IPT_F_GOTO,
	};
	const char *label;
	int k;

	if (ie->target_offset < sizeof(*ie) || ie->next_offset < ie->target_offset)
		return ir_rule_add_opaque(rd->r, "malformed entry");
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
	if (k >= 0)
		k = entry_matches(rd, &e);
	if (k < 0)
		return k;
	label = iptc_get_target(ie, h);
	return entry_target(rd, &e, label);
}

static int ip6_rule(struct iptc_reader *rd, const struct ip6t_entry *ie, struct xtc_handle *h)
{
	const struct ip6t_ip6 *ip = &ie->ipv6;
	struct entry e = {
		.elems = ie->elems,
		.matches_size = ie->target_offset - sizeof(*ie),
		.target = (const struct xt_entry_target *)((const uint8_t *)ie + ie->target_offset),
		.target_size = ie->next_offset - ie->target_offset,
		.is_goto = ip->flags & IP6T_F_GOTO,
	};
	const char *label;
	int k;

	if (ie->target_offset < sizeof(*ie) || ie->next_offset < ie->target_offset)
		return ir_rule_add_opaque(rd->r, "malformed entry");
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
	if (k >= 0)
		k = entry_matches(rd, &e);
	if (k < 0)
		return k;
	label = ip6tc_get_target(ie, h);
	return entry_target(rd, &e, label);
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

static int read_table4(struct iptc_reader *rd, size_t ti)
{
	struct xtc_handle *h;
	int k = 0;

	h = iptc_init(legacy_tables[ti].name);
	if (!h)
		return negative_errno();
	for (const char *chain = iptc_first_chain(h); chain && k >= 0; chain = iptc_next_chain(h)) {
		struct xt_counters cnt;
		bool builtin = iptc_builtin(chain, h);
		const char *pol = builtin ? iptc_get_policy(chain, &cnt, h) : NULL;
		struct ir_chain *c;

		k = table_chain(rd, ti, chain, builtin, pol, &c);
		for (const struct ipt_entry *e = iptc_first_rule(chain, h); e && k >= 0;
		     e = iptc_next_rule(e, h)) {
			k = ip4_rule(rd, e, h);
			if (k >= 0)
				k = ir_chain_append_packed(c, rd->r);
		}
	}
	iptc_free(h);
	return k;
}

static int read_table6(struct iptc_reader *rd, size_t ti)
{
	struct xtc_handle *h;
	int k = 0;

	h = ip6tc_init(legacy_tables[ti].name);
	if (!h)
		return negative_errno();
	for (const char *chain = ip6tc_first_chain(h); chain && k >= 0;
	     chain = ip6tc_next_chain(h)) {
		struct xt_counters cnt;
		bool builtin = ip6tc_builtin(chain, h);
		const char *pol = builtin ? ip6tc_get_policy(chain, &cnt, h) : NULL;
		struct ir_chain *c;

		k = table_chain(rd, ti, chain, builtin, pol, &c);
		for (const struct ip6t_entry *e = ip6tc_first_rule(chain, h); e && k >= 0;
		     e = ip6tc_next_rule(e, h)) {
			k = ip6_rule(rd, e, h);
			if (k >= 0)
				k = ir_chain_append_packed(c, rd->r);
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

int fw_iptc_read(struct ir_ruleset *rs, int family, const struct fw_ipsets *ipsets,
		 struct strbuf *note)
{
	char **names = NULL;
	int n, k, read = 0;

	n = fw_iptc_tables(family, &names);
	if (n < 0)
		return n;
	for (size_t ti = 0; ti < ELEMENTSOF(legacy_tables); ti++) {
		struct iptc_reader rd = {
			.rs = rs,
			.ctx = {
				.family = family == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4,
				.set_name = ipsets ? fw_ipsets_xt_name : NULL,
				.userdata = (void *)ipsets,
				.ipsets = ipsets,
			},
		};
		bool present = false;

		for (char **p = names; p && *p; p++)
			if (streq(*p, legacy_tables[ti].name))
				present = true;
		if (!present)
			continue;
		k = ir_ruleset_new_table(rs, IR_SRC_IPTABLES_LEGACY,
					 family == AF_INET6 ? IR_FAMILY_IP6 : IR_FAMILY_IP,
					 legacy_tables[ti].name, &rd.t);
		if (k < 0)
			goto out;
		k = ir_rule_new(&rd.r);
		if (k < 0)
			goto out;
		k = family == AF_INET6 ? read_table6(&rd, ti) : read_table4(&rd, ti);
		ir_rule_free(rd.r);
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
