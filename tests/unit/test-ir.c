/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The IR: construction, ownership, linking, rendering and counts. */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "ir/ir.h"

static np_u128 ip(const char *s)
{
	np_u128 v;

	ck_assert_int_gt(np_addr_parse(s, &v), 0);
	return v;
}

static const char *render(struct ir_rule *r, struct strbuf *sb)
{
	strbuf_reset(sb);
	ck_assert_int_eq(ir_rule_render(r, sb), 0);
	return strbuf_str(sb);
}

START_TEST(names_round_trip)
{
	ck_assert_str_eq(ir_source_to_string(IR_SRC_IPTABLES_NFT), "iptables-nft");
	ck_assert_int_eq(ir_source_from_string("iptables-legacy"), IR_SRC_IPTABLES_LEGACY);
	ck_assert_int_eq(ir_source_from_string("pf"), -EINVAL);
	ck_assert_str_eq(ir_family_to_string(IR_FAMILY_IP6), "ip6");
	ck_assert_int_eq(ir_family_from_string("inet"), IR_FAMILY_INET);
	ck_assert_int_eq(ir_family_from_string("bridge"), IR_FAMILY_BRIDGE);
	ck_assert_int_eq(ir_hook_from_string("postrouting"), IR_HOOK_POSTROUTING);
	ck_assert_str_eq(ir_hook_to_string(IR_HOOK_FORWARD), "forward");
	ck_assert_str_eq(ir_hook_to_string((enum ir_hook)99), "?");
	ck_assert_int_eq(ir_chain_type_from_string("nat"), IR_CHAIN_NAT);
	ck_assert_str_eq(ir_verdict_kind_to_string(IR_VERDICT_QUEUE), "queue");
	ck_assert_int_eq(ir_field_keytype(IR_FIELD_DADDR), IR_KEY_ADDR);
	ck_assert_int_eq(ir_field_keytype(IR_FIELD_OIFNAME), IR_KEY_IFNAME);
	ck_assert_int_eq(ir_field_keytype(IR_FIELD_DPORT), IR_KEY_NUM);
	for (int f = 0; f < _IR_FIELD_MAX; f++)
		ck_assert_str_ne(ir_field_to_string(f), "?");
}
END_TEST

START_TEST(build_link_and_find)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct ir_table *t, *dup = NULL;
	struct ir_chain *fwd, *a;
	struct ir_rule *r;
	struct ir_set *s;
	static const enum ir_field key[] = { IR_FIELD_SADDR };

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	ck_assert_int_eq(ir_ruleset_new_table(rs, IR_SRC_NFT, IR_FAMILY_INET, "t", &t), 0);
	ck_assert_ptr_eq(t->ruleset, rs);
	ck_assert_int_eq(ir_table_new(IR_SRC_NFT, IR_FAMILY_INET, "t", &dup), 0);
	ck_assert_int_eq(ir_ruleset_add_table(rs, &dup), -EEXIST);
	ck_assert_ptr_null(dup); /* ownership taken, freed */
	/* same name, another source: a different table */
	ck_assert_int_eq(ir_ruleset_new_table(rs, IR_SRC_IPTABLES_NFT, IR_FAMILY_INET, "t", &dup),
			 0);
	ck_assert_ptr_eq(ir_ruleset_find_table(rs, IR_SRC_NFT, IR_FAMILY_INET, "t"), t);
	ck_assert_ptr_eq(ir_ruleset_find_table(rs, IR_SRC_IPTABLES_NFT, IR_FAMILY_INET, "t"), dup);
	ck_assert_ptr_null(ir_ruleset_find_table(rs, IR_SRC_NFT, IR_FAMILY_IP, "t"));

	ck_assert_int_eq(ir_table_new_chain(t, "fwd", &fwd), 0);
	ck_assert_int_eq(
		ir_chain_set_base(fwd, IR_CHAIN_FILTER, IR_HOOK_FORWARD, 0, IR_VERDICT_DROP, NULL),
		0);
	ck_assert_int_eq(ir_table_new_chain(t, "a", &a), 0);
	ck_assert_int_eq(ir_table_new_chain(t, "a", &a), -EEXIST);
	a = ir_table_find_chain(t, "a");
	ck_assert_ptr_nonnull(a);
	ck_assert(!a->base);
	ck_assert_int_eq(a->hook, IR_HOOK_NONE);

	ck_assert_int_eq(ir_set_new("s", "ipv4_addr", &s), 0);
	ck_assert_int_eq(ir_set_add_key(s, IR_KEY_ADDR), 0);
	ck_assert_int_eq(ir_set_add_range(s, ip("10.0.0.0"), ip("10.0.0.255")), 0);
	ck_assert_int_eq(ir_set_add_key(s, IR_KEY_NUM), -EINVAL); /* elements exist */
	ck_assert_int_eq(ir_table_add_set(t, &s), 0);
	ck_assert_ptr_null(s);

	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(ir_rule_add_lookup(r, key, 1, "s", false, false), 0);
	ck_assert_int_eq(ir_rule_add_lookup(r, key, 0, "s", false, false), -EINVAL);
	ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_JUMP, NULL), -EINVAL);
	ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_JUMP, "a"), 0);
	ck_assert_int_eq(ir_chain_append(fwd, &r), 0);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_GOTO, "nowhere"), 0);
	ck_assert_int_eq(ir_chain_append(fwd, &r), 0);
	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(ir_rule_add_lookup(r, key, 1, "no-such-ipset", true, true), 0);
	ck_assert_int_eq(ir_chain_append(a, &r), 0);

	ck_assert_uint_eq(fwd->rules.n, 2);
	ck_assert_uint_eq(fwd->rules.items[1]->position, 2);
	ck_assert_ptr_eq(fwd->rules.items[1]->chain, fwd);

	ck_assert_int_eq(ir_ruleset_link(rs), 2);
	ck_assert_ptr_eq(fwd->rules.items[0]->verdict.target, a);
	ck_assert_ptr_eq(fwd->rules.items[0]->preds.items[0].ref.set, ir_table_find_set(t, "s"));
	ck_assert_ptr_null(fwd->rules.items[1]->verdict.target);
	ck_assert_uint_eq(rs->n_rules, 3);
	ck_assert_uint_eq(rs->n_chains, 2);
	ck_assert_uint_eq(rs->n_sets, 1);

	/* an ipset appearing later resolves on the next link */
	ck_assert_int_eq(ir_set_new("no-such-ipset", "hash:ip", &s), 0);
	ck_assert_int_eq(ir_set_add_key(s, IR_KEY_ADDR), 0);
	ck_assert_int_eq(ir_ruleset_add_ipset(rs, &s), 0);
	ck_assert_int_eq(ir_ruleset_link(rs), 1);
	ck_assert_ptr_eq(a->rules.items[0]->preds.items[0].ref.set,
			 ir_ruleset_find_ipset(rs, "no-such-ipset"));
	ck_assert_uint_eq(rs->n_sets, 2);
}
END_TEST

START_TEST(statements_keep_their_place)
{
	_cleanup_(ir_rule_freep) struct ir_rule *r = NULL;
	struct strbuf sb = { 0 };

	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(ir_rule_add_note(r, IR_STMT_COUNTER, "counter"), 0);
	ck_assert_int_eq(
		ir_rule_add_match_range(r, IR_FIELD_SADDR, false, ip("10.0.0.1"), ip("10.0.0.1")),
		0);
	ck_assert_int_eq(ir_rule_add_mark(r, IR_FIELD_META_MARK, UINT32_MAX, 0x10), 0);
	ck_assert_int_eq(ir_rule_add_note(r, IR_STMT_MARK, "x"), -EINVAL);
	ck_assert_int_eq(ir_rule_add_match_range(r, IR_FIELD_CT_STATE, false, IR_CT_NEW, IR_CT_NEW),
			 0);
	ck_assert_uint_eq(r->stmts.items[0].after, 0);
	ck_assert_uint_eq(r->stmts.items[1].after, 1);
	ck_assert_str_eq(render(r, &sb),
			 "counter ip saddr 10.0.0.1 meta mark set 0x00000010 ct state new");
	strbuf_done(&sb);
}
END_TEST

START_TEST(render_rules)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct ir_table *t;
	struct ir_chain *c;
	struct ir_rule *r;
	struct strbuf sb = { 0 };
	struct np_iset v = { 0 };
	static const char *const ifs[] = { "veth+", "eth0" };
	static const enum ir_field key[] = { IR_FIELD_SADDR, IR_FIELD_DPORT };

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	ck_assert_int_eq(
		ir_ruleset_new_table(rs, IR_SRC_IPTABLES_LEGACY, IR_FAMILY_IP, "filter", &t), 0);
	ck_assert_int_eq(ir_table_new_chain(t, "FORWARD", &c), 0);

	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(ir_chain_append(c, &(struct ir_rule *){ r }), 0);
	ck_assert_int_eq(
		ir_rule_add_match_range(r, IR_FIELD_L4PROTO, false, IPPROTO_TCP, IPPROTO_TCP), 0);
	np_iset_add(&v, ip("10.0.0.0"), ip("10.0.255.255"));
	np_iset_add(&v, ip("192.168.1.1"), ip("192.168.1.1"));
	ck_assert_int_eq(ir_rule_add_match(r, IR_FIELD_DADDR, true, &v), 0);
	ck_assert_uint_eq(v.n, 0); /* moved */
	np_iset_add(&v, 80, 80);
	np_iset_add(&v, 8000, 8080);
	ck_assert_int_eq(ir_rule_add_match(r, IR_FIELD_DPORT, false, &v), 0);
	ck_assert_int_eq(ir_rule_add_ifnames(r, IR_FIELD_IIFNAME, false, ifs, 2), 0);
	ck_assert_int_eq(ir_rule_add_bits(r, IR_FIELD_CT_STATE, IR_CT_NEW | IR_CT_RELATED, false),
			 0);
	ck_assert_int_eq(ir_rule_set_comment(r, "cali:abc"), 0);
	ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_ACCEPT, NULL), 0);
	ck_assert_str_eq(render(r, &sb),
			 "ip daddr != { 10.0.0.0/16, 192.168.1.1 } tcp dport { 80, 8000-8080 } "
			 "iifname { \"veth*\", \"eth0\" } ct state related,new accept comment "
			 "\"cali:abc\"");
	ck_assert_str_eq(ir_rule_text(r), strbuf_str(&sb));
	ck_assert(r->preds.items[3].ifnames.items[0].prefix);
	ck_assert_str_eq(r->preds.items[3].ifnames.items[0].name, "veth");

	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(ir_chain_append(c, &(struct ir_rule *){ r }), 0);
	np_iset_add(&v, 0x4000, 0x4000);
	ck_assert_int_eq(ir_rule_add_match_masked(r, IR_FIELD_META_MARK, 0x4000, false, &v), 0);
	ck_assert_int_eq(ir_rule_add_lookup(r, key, 2, "KUBE-SVC", true, true), 0);
	ck_assert_int_eq(ir_rule_add_opaque(r, "xt match %s rev %u", "policy", 0), 0);
	ck_assert_int_eq(ir_rule_set_queue(r, 3, 5, true, false), 0);
	ck_assert_str_eq(
		render(r, &sb),
		"meta mark and 0x00004000 == 0x00004000 ip saddr . th dport != @ipset:KUBE-SVC "
		"opaque(xt match policy rev 0) queue num 3-5 flags bypass");
	ck_assert(ir_rule_is_opaque(r));

	/* dependencies nft adds itself are not printed, IPv4 in inet spelled "ip" */
	{
		struct ir_table *inet;
		struct ir_chain *ic;
		static const enum ir_field k2[] = { IR_FIELD_SADDR, IR_FIELD_DPORT };

		ck_assert_int_eq(ir_ruleset_new_table(rs, IR_SRC_NFT, IR_FAMILY_INET, "i", &inet),
				 0);
		ck_assert_int_eq(ir_table_new_chain(inet, "c", &ic), 0);
		ck_assert_int_eq(ir_rule_new(&r), 0);
		ck_assert_int_eq(ir_chain_append(ic, &(struct ir_rule *){ r }), 0);
		ck_assert_int_eq(ir_rule_add_match_range(r, IR_FIELD_NFPROTO, false, 2, 2), 0);
		ck_assert_int_eq(ir_rule_add_match_range(r, IR_FIELD_L4PROTO, false, IPPROTO_TCP,
							 IPPROTO_TCP),
				 0);
		ck_assert_int_eq(ir_rule_add_lookup(r, k2, 2, "web", false, false), 0);
		ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_ACCEPT, NULL), 0);
		ck_assert_str_eq(render(r, &sb), "ip saddr . tcp dport @web accept");
		ck_assert_int_eq(ir_rule_new(&r), 0);
		ck_assert_int_eq(ir_chain_append(ic, &(struct ir_rule *){ r }), 0);
		ck_assert_int_eq(ir_rule_add_match_range(r, IR_FIELD_NFPROTO, false, 10, 10), 0);
		ck_assert_int_eq(ir_rule_set_verdict(r, IR_VERDICT_DROP, NULL), 0);
		ck_assert_str_eq(render(r, &sb), "meta nfproto ipv6 drop");
		r = ir_table_find_chain(t, "FORWARD")->rules.items[1];
	}

	/* a reader's own rendering wins */
	ck_assert_int_eq(ir_rule_set_text(r, "-A FORWARD -m policy -j NFQUEUE"), 0);
	ck_assert_str_eq(ir_rule_text(r), "-A FORWARD -m policy -j NFQUEUE");
	strbuf_done(&sb);
}
END_TEST

START_TEST(sets_render_and_counts)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	struct ir_table *t;
	struct ir_chain *c;
	struct ir_rule *r;
	struct ir_set *s;
	struct ir_key_part k[3] = { 0 };
	struct ir_verdict v = { .kind = IR_VERDICT_JUMP, .chain = (char *)"pod" };
	struct ir_stats st;
	struct strbuf sb = { 0 };

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	ck_assert_int_eq(ir_ruleset_new_table(rs, IR_SRC_NFT, IR_FAMILY_INET, "np", &t), 0);
	ck_assert_int_eq(ir_set_new("m", "ifname . ipv4_addr . inet_service : verdict", &s), 0);
	s->flags = IR_SET_VMAP | IR_SET_INTERVAL;
	ck_assert_int_eq(ir_set_add_key(s, IR_KEY_IFNAME), 0);
	ck_assert_int_eq(ir_set_add_key(s, IR_KEY_ADDR), 0);
	ck_assert_int_eq(ir_set_add_key(s, IR_KEY_NUM), 0);
	k[0].ifname = (char *)"veth1";
	k[1].lo = ip("10.0.0.0");
	k[1].hi = ip("10.0.0.255");
	k[2].lo = 80;
	k[2].hi = 80;
	ck_assert_int_eq(ir_set_add_elem(s, k, &v, 0, false), 0);
	k[0].ifname = (char *)"cali";
	k[0].prefix = true;
	k[1].lo = ip("10.0.0.3");
	k[1].hi = ip("10.0.0.9");
	k[2].hi = 90;
	v = (struct ir_verdict){ .kind = IR_VERDICT_DROP };
	ck_assert_int_eq(ir_set_add_elem(s, k, &v, 0, false), 0);
	ck_assert_int_eq(ir_set_render_elems(s, &sb), 0);
	ck_assert_str_eq(strbuf_str(&sb), "{ \"veth1\" . 10.0.0.0/24 . 80 : jump pod, "
					  "\"cali*\" . 10.0.0.3-10.0.0.9 . 80-90 : drop }");
	ck_assert_int_eq(ir_table_add_set(t, &s), 0);

	ck_assert_int_eq(ir_table_new_chain(t, "fwd", &c), 0);
	ck_assert_int_eq(
		ir_chain_set_base(c, IR_CHAIN_FILTER, IR_HOOK_FORWARD, -5, IR_VERDICT_ACCEPT, NULL),
		0);
	ck_assert_int_eq(ir_table_new_chain(t, "pod", &c), 0);
	ck_assert_int_eq(ir_rule_new(&r), 0);
	ck_assert_int_eq(ir_rule_add_opaque(r, "socket transparent"), 0);
	ck_assert_int_eq(ir_rule_add_opaque(r, "osf"), 0);
	ck_assert_int_eq(ir_rule_add_note(r, IR_STMT_OPAQUE, "synproxy"), 0);
	ck_assert_int_eq(ir_chain_append(c, &r), 0);

	ck_assert_int_eq(ir_set_new("KUBE-CLUSTER-IP", "hash:ip,port", &s), 0);
	ck_assert_int_eq(ir_set_add_key(s, IR_KEY_ADDR), 0);
	ck_assert_int_eq(ir_set_add_range(s, ip("10.96.0.1"), ip("10.96.0.1")), 0);
	ck_assert_int_eq(ir_set_add_key(s, IR_KEY_NUM), -EINVAL); /* after elements */
	ck_assert_int_eq(ir_ruleset_add_ipset(rs, &s), 0);
	ck_assert_int_eq(ir_set_new("KUBE-CLUSTER-IP", "hash:ip", &s), 0);
	ck_assert_int_eq(ir_ruleset_add_ipset(rs, &s), -EEXIST);

	ir_ruleset_stats(rs, &st);
	ck_assert_uint_eq(st.src[IR_SRC_NFT].tables, 1);
	ck_assert_uint_eq(st.src[IR_SRC_NFT].chains, 2);
	ck_assert_uint_eq(st.src[IR_SRC_NFT].base_chains, 1);
	ck_assert_uint_eq(st.src[IR_SRC_NFT].rules, 1);
	ck_assert_uint_eq(st.src[IR_SRC_NFT].sets, 1);
	ck_assert_uint_eq(st.src[IR_SRC_NFT].elements, 2);
	ck_assert_uint_eq(st.src[IR_SRC_NFT].opaque_preds, 2);
	ck_assert_uint_eq(st.src[IR_SRC_NFT].opaque_stmts, 1);
	ck_assert_uint_eq(st.src[IR_SRC_NFT].opaque_rules, 1);
	ck_assert_uint_eq(st.src[IR_SRC_IPTABLES_LEGACY].rules, 0);
	ck_assert_uint_eq(st.ipsets, 1);
	ck_assert_uint_eq(st.ipset_elements, 1);

	ck_assert_int_eq(ir_ruleset_set_source_info(rs, IR_SRC_NFT, true, NULL), 0);
	ck_assert_int_eq(ir_ruleset_set_source_info(rs, IR_SRC_IPTABLES_LEGACY, false,
						    "ip_tables not loaded"),
			 0);
	strbuf_reset(&sb);
	ck_assert_int_eq(ir_ruleset_render(rs, &sb), 0);
	ck_assert_ptr_nonnull(
		strstr(strbuf_str(&sb), "# iptables-legacy: not read, ip_tables not loaded"));
	ck_assert_ptr_nonnull(strstr(strbuf_str(&sb), "2 opaque predicates, 1 opaque statements"));
	ck_assert_ptr_nonnull(strstr(strbuf_str(&sb), "table inet np { # nft"));
	ck_assert_ptr_nonnull(
		strstr(strbuf_str(&sb), "type filter hook forward priority -5; policy accept;"));
	ck_assert_ptr_nonnull(strstr(strbuf_str(&sb), "(contains opaque items)"));
	strbuf_reset(&sb);
	ck_assert_int_eq(ir_ruleset_render_json(rs, &sb), 0);
	ck_assert_ptr_nonnull(strstr(strbuf_str(&sb),
				     "{\"source\":\"iptables-legacy\",\"read\":false,"
				     "\"note\":\"ip_tables not loaded\""));
	ck_assert_ptr_nonnull(strstr(strbuf_str(&sb), "\"opaque_predicates\":2"));
	ck_assert_ptr_nonnull(strstr(strbuf_str(&sb), "\"rule\":\"opaque(socket transparent) "
						      "opaque(osf) opaque-statement(synproxy)\""));
	strbuf_done(&sb);
}
END_TEST

/* A rule appended packed renders and links like the rule it was built as; changing it through
 * the ir_rule_* functions works (it is unpacked first); the scratch rule is reusable. */
START_TEST(packed_rules)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	_cleanup_(ir_rule_freep) struct ir_rule *scratch = NULL, *plain = NULL;
	struct strbuf sb = { 0 }, want = { 0 };
	static const enum ir_field key[] = { IR_FIELD_SADDR, IR_FIELD_L4PROTO, IR_FIELD_DPORT };
	const char *const ifs[] = { "cali+", "eth0" };
	struct ir_table *t;
	struct ir_chain *c, *target;
	struct ir_rule *r;
	struct np_iset ports = { 0 };

	ck_assert_int_eq(ir_ruleset_new(&rs), 0);
	ck_assert_int_eq(ir_ruleset_new_table(rs, IR_SRC_NFT, IR_FAMILY_IP, "t", &t), 0);
	ck_assert_int_eq(ir_table_new_chain(t, "c", &c), 0);
	ck_assert_int_eq(ir_table_new_chain(t, "pod-policy", &target), 0);
	ck_assert_int_eq(ir_rule_new(&scratch), 0);
	ck_assert_int_eq(ir_rule_new(&plain), 0);
	for (int pass = 0; pass < 2; pass++) {
		struct ir_rule *b = pass ? scratch : plain;

		ck_assert_int_eq(ir_rule_add_ifnames(b, IR_FIELD_IIFNAME, false, ifs, 2), 0);
		ck_assert_int_eq(np_iset_add(&ports, 8080, 8090), 0);
		ck_assert_int_eq(np_iset_add(&ports, 80, 80), 0);
		ck_assert_int_eq(ir_rule_add_match(b, IR_FIELD_DPORT, true, &ports), 0);
		ck_assert_int_eq(ir_rule_add_lookup(b, key, 3, "allowed", true, false), 0);
		ck_assert_int_eq(ir_rule_add_mark(b, IR_FIELD_META_MARK, 0x10000, 0x10000), 0);
		ck_assert_int_eq(ir_rule_add_bits(b, IR_FIELD_CT_STATE, IR_CT_NEW, false), 0);
		ck_assert_int_eq(ir_rule_add_note(b, IR_STMT_LOG, "pfx"), 0);
		ck_assert_int_eq(ir_rule_add_opaque(b, "osf"), 0);
		ck_assert_int_eq(ir_rule_set_comment(b, "cali:abc"), 0);
		ck_assert_int_eq(ir_rule_set_verdict(b, IR_VERDICT_JUMP, "pod-policy"), 0);
		b->handle = 42;
	}
	ck_assert_int_eq(ir_table_new_chain(t, "c-plain", &target), 0);
	ck_assert_int_eq(ir_chain_append(target, &plain), 0);
	ck_assert_int_eq(ir_rule_render(target->rules.items[0], &want), 0);
	target = ir_table_find_chain(t, "pod-policy");

	ck_assert_int_eq(ir_chain_append_packed(c, scratch), 0);
	/* the scratch rule is empty and keeps its arrays */
	ck_assert_uint_eq(scratch->preds.n, 0);
	ck_assert_uint_eq(scratch->stmts.n, 0);
	ck_assert_uint_ge(scratch->preds.cap, 5);
	ck_assert_ptr_null(scratch->comment);
	ck_assert_int_eq(scratch->verdict.kind, IR_VERDICT_CONTINUE);
	ck_assert_uint_eq(scratch->handle, 0);

	r = c->rules.items[0];
	ck_assert(r->packed);
	ck_assert_ptr_eq(r->chain, c);
	ck_assert_uint_eq(r->position, 1);
	ck_assert_uint_eq(r->handle, 42);
	ck_assert_uint_eq(r->preds.n, 5);
	ck_assert_uint_eq(r->preds.items[1].values.n, 2);
	ck_assert_str_eq(r->preds.items[0].ifnames.items[0].name, "cali");
	ck_assert(r->preds.items[0].ifnames.items[0].prefix);
	ck_assert_ptr_eq(render(r, &sb), strbuf_str(&sb));
	ck_assert_str_eq(strbuf_str(&sb), strbuf_str(&want));
	ck_assert_int_eq(ir_ruleset_link(rs), 2); /* the ipset "allowed" does not exist */
	ck_assert_ptr_eq(r->verdict.target, target);
	ck_assert_str_eq(ir_rule_text(r), strbuf_str(&want));

	/* copies of a packed rule: another comment and handle, the rest alike */
	{
		_cleanup_(ir_rule_freep) struct ir_rule *tmpl = NULL;
		struct ir_rule *cp;

		ck_assert_int_eq(ir_rule_pack(r, NULL, 0, &tmpl), 0);
		ck_assert(tmpl->packed);
		ck_assert_ptr_null(tmpl->comment);
		ck_assert_int_eq(ir_chain_append_copy(c, tmpl, "second", 7), 0);
		ck_assert_int_eq(ir_chain_append_copy(c, r, NULL, 8), 0);
		cp = c->rules.items[1];
		ck_assert(cp->packed);
		ck_assert_uint_eq(cp->position, 2);
		ck_assert_uint_eq(cp->handle, 7);
		ck_assert_str_eq(cp->comment, "second");
		ck_assert_ptr_null(cp->text);
		ck_assert_str_eq(cp->preds.items[0].ifnames.items[1].name, "eth0");
		ck_assert_str_eq(cp->verdict.chain, "pod-policy");
		ck_assert_ptr_ne(cp->verdict.chain, r->verdict.chain);
		render(cp, &sb);
		ck_assert_ptr_nonnull(
			strstr(strbuf_str(&sb), "jump pod-policy comment \"second\""));
		cp = c->rules.items[2];
		ck_assert_ptr_null(cp->comment);
		ck_assert_uint_eq(cp->preds.n, 5);
		ck_assert_str_eq(cp->preds.items[2].ref.name, "allowed");
		ck_assert_ptr_ne(cp->preds.items[1].values.r, r->preds.items[1].values.r);
		ck_assert(cp->preds.items[1].values.r[1].lo == 8080);
	}

	/* rules sharing a template of their table: their own comment and handle */
	{
		struct ir_rule *tmpl, *sh;

		ck_assert_int_eq(ir_table_add_template(t, r, &tmpl), 0);
		ck_assert_int_eq(ir_chain_append_shared(c, r, "x", 1), -EINVAL); /* in a chain */
		ck_assert_int_eq(ir_chain_append_shared(c, tmpl, "third", 9), 0);
		sh = c->rules.items[3];
		ck_assert(sh->packed && sh->shared);
		ck_assert_uint_eq(sh->position, 4);
		ck_assert_ptr_eq(sh->chain, c);
		ck_assert_uint_eq(sh->handle, 9);
		ck_assert_str_eq(sh->comment, "third");
		ck_assert_ptr_eq(sh->preds.items, tmpl->preds.items);
		render(sh, &sb);
		ck_assert_ptr_nonnull(strstr(strbuf_str(&sb), "jump pod-policy comment \"third\""));
		/* a copy of a shared rule has its own body */
		ck_assert_int_eq(ir_chain_append_copy(c, sh, NULL, 10), 0);
		ck_assert(!c->rules.items[4]->shared);
		ck_assert_ptr_ne(c->rules.items[4]->preds.items, tmpl->preds.items);
		ck_assert_str_eq(c->rules.items[4]->preds.items[2].ref.name, "allowed");
		/* changing a shared rule leaves the template alone */
		ck_assert_int_eq(ir_rule_set_verdict(sh, IR_VERDICT_DROP, NULL), 0);
		ck_assert(!sh->packed && !sh->shared);
		ck_assert_int_eq(tmpl->verdict.kind, IR_VERDICT_JUMP);
		ck_assert_str_eq(sh->preds.items[0].ifnames.items[0].name, "cali");
		ck_assert_ptr_ne(sh->preds.items, tmpl->preds.items);
	}

	/* a template taken from a scratch rule: the scratch is emptied, shared rules render alike
	 */
	{
		_cleanup_(ir_rule_freep) struct ir_rule *sc = NULL;
		struct ir_rule *tmpl;
		size_t n = c->rules.n;

		ck_assert_int_eq(ir_rule_new(&sc), 0);
		ck_assert_int_eq(ir_rule_add_ifname(sc, IR_FIELD_OIFNAME, false, "veth+"), 0);
		ck_assert_int_eq(ir_rule_add_match_range(sc, IR_FIELD_DPORT, false, 53, 53), 0);
		ck_assert_int_eq(ir_rule_set_verdict(sc, IR_VERDICT_GOTO, "pod-policy"), 0);
		ck_assert_int_eq(ir_table_take_template(t, sc, &tmpl), 0);
		ck_assert_uint_eq(sc->preds.n, 0);
		ck_assert_uint_ge(sc->preds.cap, 2);
		ck_assert_int_eq(sc->verdict.kind, IR_VERDICT_CONTINUE);
		ck_assert_ptr_null(sc->verdict.chain);
		ck_assert_uint_eq(tmpl->preds.n, 2);
		ck_assert_uint_eq(tmpl->preds.cap, 2);
		ck_assert_int_eq(ir_chain_append_shared(c, tmpl, "dns", 11), 0);
		ck_assert_int_eq(ir_chain_append_shared(c, tmpl, NULL, 12), 0);
		ck_assert_str_eq(render(c->rules.items[n], &sb),
				 "oifname \"veth*\" th dport 53 goto pod-policy comment \"dns\"");
		ck_assert_str_eq(render(c->rules.items[n + 1], &sb),
				 "oifname \"veth*\" th dport 53 goto pod-policy");
		/* the scratch builds on */
		ck_assert_int_eq(ir_rule_add_bits(sc, IR_FIELD_CT_STATE, IR_CT_NEW, false), 0);
		ck_assert_uint_eq(sc->preds.n, 1);
		ck_assert_uint_eq(tmpl->preds.n, 2);
	}

	/* changed through the API: unpacked first, the rest intact */
	ck_assert_int_eq(ir_rule_set_comment(r, "other"), 0);
	ck_assert(!r->packed);
	ck_assert_str_eq(r->comment, "other");
	ck_assert_str_eq(r->preds.items[2].ref.name, "allowed");
	ck_assert_int_eq(ir_rule_add_match_range(r, IR_FIELD_SPORT, false, 1, 2), 0);
	ck_assert_uint_eq(r->preds.n, 6);
	ck_assert_str_eq(r->verdict.chain, "pod-policy");

	/* the scratch builds the next rule */
	ck_assert_int_eq(ir_rule_set_verdict(scratch, IR_VERDICT_DROP, NULL), 0);
	ck_assert_int_eq(ir_chain_append_packed(c, scratch), 0);
	ck_assert_str_eq(render(c->rules.items[7], &sb), "drop");
	ck_assert_uint_eq(c->rules.items[7]->position, 8);
	strbuf_done(&sb);
	strbuf_done(&want);
}
END_TEST

/* Element keys live in the set's pool, also past the room ir_set_reserve() made. */
START_TEST(set_pool)
{
	_cleanup_(ir_set_freep) struct ir_set *s = NULL;
	struct ir_verdict v = { .kind = IR_VERDICT_GOTO, .chain = (char *)"pod" };
	char name[16];

	ck_assert_int_eq(ir_set_new("m", NULL, &s), 0);
	ck_assert_int_eq(ir_set_reserve(s, 10), -EINVAL); /* no key yet */
	ck_assert_int_eq(ir_set_add_key(s, IR_KEY_IFNAME), 0);
	ck_assert_int_eq(ir_set_add_key(s, IR_KEY_NUM), 0);
	ck_assert_int_eq(ir_set_reserve(s, 10), 0);
	ck_assert_uint_ge(s->elems.cap, 10);
	for (unsigned i = 0; i < 5000; i++) {
		struct ir_key_part k[2] = { { .ifname = name }, { .lo = i, .hi = i + 1 } };

		snprintf(name, sizeof(name), "veth%u", i);
		ck_assert_int_eq(ir_set_add_elem(s, k, i % 2 ? &v : NULL, i, false), 0);
	}
	ck_assert_uint_eq(s->elems.n, 5000);
	for (unsigned i = 0; i < 5000; i++) {
		const struct ir_set_elem *e = &s->elems.items[i];

		snprintf(name, sizeof(name), "veth%u", i);
		ck_assert_str_eq(e->key[0].ifname, name);
		ck_assert(e->key[1].lo == i && e->key[1].hi == i + 1);
		ck_assert(e->data == i);
		ck_assert_int_eq(e->verdict.kind, i % 2 ? IR_VERDICT_GOTO : IR_VERDICT_CONTINUE);
		if (i % 2)
			ck_assert_str_eq(e->verdict.chain, "pod");
		ck_assert_uint_eq((uintptr_t)e->key % _Alignof(struct ir_key_part), 0);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ir");
	TCase *tc = tcase_create("ir");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, names_round_trip);
	tcase_add_test(tc, build_link_and_find);
	tcase_add_test(tc, statements_keep_their_place);
	tcase_add_test(tc, render_rules);
	tcase_add_test(tc, sets_render_and_counts);
	tcase_add_test(tc, packed_rules);
	tcase_add_test(tc, set_pool);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
