/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * npaudit rules / npaudit trace: the live packet filter of the current network namespace as the
 * IR sees it, and one packet executed through it (`ip netns exec NAME npaudit ...` for another
 * namespace).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli-util.h"
#include "eval/eval.h"
#include "fw/fw.h"
#include "ir/ir.h"
#include "util/util.h"

static void strbuf_donep(struct strbuf *sb)
{
	strbuf_done(sb);
}

static void eval_result_donep(struct eval_result *r)
{
	eval_result_done(r);
}

static int read_ruleset(struct ir_ruleset **ret)
{
	int r;

	r = fw_read_all(NULL, ret, NULL);
	if (r < 0)
		return cli_fail("cannot read the packet filter of this network namespace: %s%s",
				np_strerror(r),
				r == -EPERM ? " (run as root, or with CAP_NET_ADMIN)" : "");
	return EXIT_OK;
}

/* --- npaudit rules --- */

static json_t *counts_json(const struct ir_counts *c)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "tables", (json_int_t)c->tables,
			 "chains", (json_int_t)c->chains, "base_chains", (json_int_t)c->base_chains,
			 "rules", (json_int_t)c->rules, "sets", (json_int_t)c->sets, "elements",
			 (json_int_t)c->elements, "opaque_predicates", (json_int_t)c->opaque_preds,
			 "opaque_statements", (json_int_t)c->opaque_stmts, "opaque_rules",
			 (json_int_t)c->opaque_rules);
}

static int rules_json(const struct ir_ruleset *rs)
{
	_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
	_cleanup_(json_decrefp) json_t *ruleset = NULL, *out = NULL, *summary = NULL;
	struct ir_stats st;
	json_error_t jerr;

	if (ir_ruleset_render_json(rs, &sb) < 0)
		return cli_fail("out of memory");
	ruleset = json_loads(strbuf_str(&sb), 0, &jerr);
	if (!ruleset)
		return cli_fail("internal error: ruleset JSON does not parse: %s", jerr.text);

	ir_ruleset_stats(rs, &st);
	summary = json_object();
	if (!summary)
		return cli_fail("out of memory");
	for (int s = 0; s < _IR_SRC_MAX; s++) {
		json_t *o = counts_json(&st.src[s]);

		if (!o)
			return cli_fail("out of memory");
		json_object_set_new(o, "read", json_boolean(rs->sources[s].read));
		json_object_set_new(o, "note",
				    rs->sources[s].note ? json_string(rs->sources[s].note)
							: json_null());
		json_object_set_new(summary, ir_source_to_string(s), o);
	}
	json_object_set_new(
		summary, "ipsets",
		json_pack("{s:b,s:o,s:I,s:I}", "read", rs->ipset_info.read, "note",
			  rs->ipset_info.note ? json_string(rs->ipset_info.note) : json_null(),
			  "sets", (json_int_t)st.ipsets, "elements",
			  (json_int_t)st.ipset_elements));
	out = json_pack("{s:O,s:O}", "summary", summary, "ruleset", ruleset);
	if (!out || json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
		return cli_fail("cannot write JSON");
	putchar('\n');
	return EXIT_OK;
}

static int rules_text(const struct ir_ruleset *rs)
{
	_cleanup_(strbuf_donep) struct strbuf sb = { 0 };
	struct ir_stats st;
	unsigned opaque = 0;

	ir_ruleset_stats(rs, &st);
	printf("%-16s %6s %6s %6s %6s %8s %7s\n", "source", "tables", "chains", "rules", "sets",
	       "elements", "opaque");
	for (int s = 0; s < _IR_SRC_MAX; s++) {
		const struct ir_counts *c = &st.src[s];

		printf("%-16s %6u %6u %6u %6u %8u %7u\n", ir_source_to_string(s), c->tables,
		       c->chains, c->rules, c->sets, c->elements,
		       c->opaque_preds + c->opaque_stmts);
		opaque += c->opaque_rules;
	}
	printf("%-16s %6s %6s %6s %6u %8u\n", "ipset", "", "", "", st.ipsets, st.ipset_elements);
	for (int s = 0; s < _IR_SRC_MAX; s++)
		if (!rs->sources[s].read || rs->sources[s].note)
			printf("%s: %s%s%s\n", ir_source_to_string(s),
			       rs->sources[s].read ? "" : "not read",
			       !rs->sources[s].read && rs->sources[s].note ? ": " : "",
			       rs->sources[s].note ? rs->sources[s].note : "");
	if (!rs->ipset_info.read || rs->ipset_info.note)
		printf("ipset: %s%s%s\n", rs->ipset_info.read ? "" : "not read",
		       !rs->ipset_info.read && rs->ipset_info.note ? ": " : "",
		       rs->ipset_info.note ? rs->ipset_info.note : "");
	if (opaque > 0)
		printf("\n%u rule(s) contain something npaudit does not understand (opaque below); "
		       "packets reaching them get the verdict 'unknown'.\n",
		       opaque);
	putchar('\n');
	if (ir_ruleset_render(rs, &sb) < 0)
		return cli_fail("out of memory");
	fputs(strbuf_str(&sb), stdout);
	return EXIT_OK;
}

static int cmd_rules(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	bool json = false;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) >= 0) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			printf("Usage: npaudit rules [--json]\n\n"
			       "Prints the live packet filter of the current network namespace as "
			       "npaudit reads it:\nnative nftables, iptables-nft, iptables-legacy "
			       "and "
			       "ipsets side by side, with the\nnumber of items it could not decode "
			       "(opaque).\n");
			return EXIT_OK;
		default:
			return cli_fail("rules: unknown option or missing argument '%s'",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_fail("rules: unexpected argument '%s'", argv[optind]);

	r = read_ruleset(&rs);
	if (r != EXIT_OK)
		return r;
	return json ? rules_json(rs) : rules_text(rs);
}

/* --- npaudit trace --- */

struct trace_opts {
	const char *src, *dst, *iif, *oif;
	int proto;
	long sport, dport;
	uint32_t ct_state;
	uint32_t mark;
	int path; /* -1: from the addresses */
	bool json;
	bool help; /* --help was printed */
	const char *socket; /* ask the agent on this socket instead of reading the rules here */
	const char *raw[10]; /* the options as given, by their index in the option table */
};

/* Route lookup callback for eval_packet_fill_interfaces(). */
static int route_cb(void *userdata, int family, np_u128 addr, char ret_ifname[IFNAMSIZ])
{
	_cleanup_(freep) char *name = NULL;
	int r;

	r = fw_route_get(family, addr, &name);
	if (r < 0)
		return r;
	if (!name || strlen(name) >= IFNAMSIZ)
		return -ENODEV;
	strcpy(ret_ifname, name);
	return 0;
}

/* Returns the RTN_* type of addr as this namespace sees it: local when the kernel would deliver
 * it here (the route lookup leads to the loopback device, as for `ip route get`), multicast,
 * broadcast, else unicast. */
static int addr_type(int family, np_u128 addr)
{
	_cleanup_(freep) char *name = NULL;
	uint32_t v4 = (uint32_t)addr;

	if (family == AF_INET && (v4 >> 28) == 0xe)
		return RTN_MULTICAST;
	if (family == AF_INET && v4 == 0xffffffffu)
		return RTN_BROADCAST;
	if (family == AF_INET6 && (addr >> 120) == 0xff)
		return RTN_MULTICAST;
	if (fw_route_get(family, addr, &name) >= 0 && name && streq(name, "lo"))
		return RTN_LOCAL;
	return RTN_UNICAST;
}

static int parse_port(const char *s, const char *what, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 65535)
		return cli_fail("trace: %s '%s' is not a port (0-65535)", what, s);
	*ret = v;
	return EXIT_OK;
}

static int parse_trace_opts(int argc, char **argv, struct trace_opts *o)
{
	static const struct option opts[] = {
		{ "src", required_argument, NULL, 's' },
		{ "dst", required_argument, NULL, 'd' },
		{ "proto", required_argument, NULL, 'p' },
		{ "sport", required_argument, NULL, 'S' },
		{ "dport", required_argument, NULL, 'D' },
		{ "iif", required_argument, NULL, 'i' },
		{ "oif", required_argument, NULL, 'o' },
		{ "ct", required_argument, NULL, 'c' },
		{ "mark", required_argument, NULL, 'm' },
		{ "path", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "socket", required_argument, NULL, 'A' },
		{},
	};
	int c, r, idx = -1;

	*o = (struct trace_opts){
		.proto = IPPROTO_TCP, .sport = -1, .dport = -1, .ct_state = IR_CT_NEW, .path = -1
	};
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "s:d:p:S:D:i:o:c:m:P:jh", opts, &idx)) >= 0) {
		/* Keep what was given, for asking the agent. */
		if (optarg) {
			for (int k = 0; k < 10; k++)
				if (opts[k].val == c)
					o->raw[k] = optarg;
		}
		switch (c) {
		case 'A':
			o->socket = optarg;
			break;
		case 's':
			o->src = optarg;
			break;
		case 'd':
			o->dst = optarg;
			break;
		case 'p':
			if (streq(optarg, "tcp"))
				o->proto = IPPROTO_TCP;
			else if (streq(optarg, "udp"))
				o->proto = IPPROTO_UDP;
			else if (streq(optarg, "sctp"))
				o->proto = IPPROTO_SCTP;
			else if (streq(optarg, "icmp") || streq(optarg, "icmpv6"))
				o->proto = IPPROTO_ICMP; /* ICMPv6 for IPv6 addresses */
			else
				return cli_fail(
					"trace: --proto must be tcp, udp, sctp or icmp, not "
					"'%s'",
					optarg);
			break;
		case 'S':
			r = parse_port(optarg, "--sport", &o->sport);
			if (r != EXIT_OK)
				return r;
			break;
		case 'D':
			r = parse_port(optarg, "--dport", &o->dport);
			if (r != EXIT_OK)
				return r;
			break;
		case 'i':
			o->iif = optarg;
			break;
		case 'o':
			o->oif = optarg;
			break;
		case 'c':
			if (streq(optarg, "new"))
				o->ct_state = IR_CT_NEW;
			else if (streq(optarg, "established"))
				o->ct_state = IR_CT_ESTABLISHED;
			else if (streq(optarg, "related"))
				o->ct_state = IR_CT_RELATED;
			else if (streq(optarg, "invalid"))
				o->ct_state = IR_CT_INVALID;
			else if (streq(optarg, "untracked"))
				o->ct_state = IR_CT_UNTRACKED;
			else
				return cli_fail("trace: --ct must be new, established, related, "
						"invalid or untracked, not '%s'",
						optarg);
			break;
		case 'm': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 0);
			if (errno || *end || end == optarg || v > UINT32_MAX)
				return cli_fail("trace: --mark '%s' is not a 32-bit number",
						optarg);
			o->mark = (uint32_t)v;
			break;
		}
		case 'P':
			o->path = eval_path_from_string(optarg);
			if (o->path < 0)
				return cli_fail(
					"trace: --path must be forward, input or output, not "
					"'%s'",
					optarg);
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			printf("Usage: npaudit trace --src ADDR --dst ADDR [--proto "
			       "tcp|udp|sctp|icmp] "
			       "[--sport N] [--dport N]\n"
			       "                     [--iif IF] [--oif IF] "
			       "[--ct new|established|related] [--mark N]\n"
			       "                     [--path forward|input|output] [--json]\n"
			       "                     [--socket PATH]  (ask npauditd instead)\n\n"
			       "Runs one packet through the live rules of the current network "
			       "namespace and prints\nthe verdict (accept, drop or unknown), why, "
			       "and "
			       "every rule it met.\n\n"
			       "Defaults: --proto tcp, ports 0, --ct new, mark 0; the path is "
			       "input "
			       "when --dst is\nlocal to this namespace, output when --src is, "
			       "forward "
			       "otherwise; missing interfaces\ncome from route lookups (iif: "
			       "toward "
			       "the source, oif: toward the destination).\n");
			o->help = true;
			return EXIT_OK;
		default:
			return cli_fail("trace: unknown option or missing argument '%s'",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_fail("trace: unexpected argument '%s'", argv[optind]);
	if (!o->src || !o->dst)
		return cli_fail("trace: --src and --dst are required");
	return EXIT_OK;
}

static int copy_ifname(char dst[IFNAMSIZ], const char *name, const char *what)
{
	if (strlen(name) >= IFNAMSIZ)
		return cli_fail("trace: %s '%s' is longer than an interface name", what, name);
	strcpy(dst, name);
	return EXIT_OK;
}

static json_t *trace_entry_json(const struct eval_trace_entry *e)
{
	_cleanup_(strbuf_donep) struct strbuf action = { 0 };
	const struct ir_chain *c = e->chain;
	const struct ir_table *t = c ? c->table : NULL;
	const char *text = "";

	if (e->rule) {
		text = ir_rule_text((struct ir_rule *)e->rule);
		if (!text)
			return NULL;
	}
	if (eval_trace_entry_action(e, &action) < 0)
		return NULL;
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:s,s:s}", "source",
			 t ? ir_source_to_string(t->source) : "?", "family",
			 t ? ir_family_to_string(t->family) : "?", "table", t ? t->name : "?",
			 "chain", c ? c->name : "?", "hook", ir_hook_to_string(e->hook), "priority",
			 e->base ? e->base->priority : 0, "handle",
			 (json_int_t)(e->rule ? e->rule->handle : 0), "rule", text, "action",
			 strbuf_str(&action));
}

static void trace_entry_print(const struct eval_trace_entry *e, const char *indent)
{
	_cleanup_(strbuf_donep) struct strbuf action = { 0 };
	const struct ir_chain *c = e->chain;
	const struct ir_table *t = c ? c->table : NULL;

	eval_trace_entry_action(e, &action);
	printf("%s%s %s %s %s (%s, priority %d)", indent, t ? ir_source_to_string(t->source) : "?",
	       t ? ir_family_to_string(t->family) : "?", t ? t->name : "?", c ? c->name : "?",
	       ir_hook_to_string(e->hook), e->base ? e->base->priority : 0);
	if (e->rule) {
		const char *text = ir_rule_text((struct ir_rule *)e->rule);

		if (e->rule->handle)
			printf(" handle %llu", (unsigned long long)e->rule->handle);
		else
			printf(" rule %u", e->rule->position);
		printf(": %s", text ? text : "?");
	}
	printf("  => %s", strbuf_str(&action));
	if (e->note)
		printf(" (%s)", e->note);
	putchar('\n');
}

static int cmd_trace(int argc, char **argv)
{
	_cleanup_(ir_ruleset_freep) struct ir_ruleset *rs = NULL;
	_cleanup_(eval_ctx_freep) struct eval_ctx *ctx = NULL;
	_cleanup_(eval_result_donep) struct eval_result res = { 0 };
	_cleanup_(fw_links_freep) struct fw_links *links = NULL;
	struct eval_packet p;
	struct trace_opts o;
	np_u128 saddr, daddr;
	int fs, fd, r, stype, dtype;
	enum eval_path path;

	r = parse_trace_opts(argc, argv, &o);
	if (r != EXIT_OK || o.help)
		return r;
	if (o.socket) {
		/* The agent evaluates against the rules it holds, in its network namespace. */
		static const char *const keys[10] = { "src", "dst", "proto", "sport", "dport",
						      "iif", "oif", "ct",    "mark",  "path" };
		return cli_agent_trace(o.socket, keys, o.raw, 10, o.json);
	}

	fs = np_addr_parse(o.src, &saddr);
	if (fs < 0)
		return cli_fail("trace: --src '%s' is not an IPv4 or IPv6 address", o.src);
	fd = np_addr_parse(o.dst, &daddr);
	if (fd < 0)
		return cli_fail("trace: --dst '%s' is not an IPv4 or IPv6 address", o.dst);
	if (fs != fd)
		return cli_fail("trace: --src and --dst are of different address families");

	/* Where the packet is from the namespace's point of view: input when the destination
	 * is local, output when the source is, else forwarded. */
	stype = addr_type(fs, saddr);
	dtype = addr_type(fs, daddr);
	if (o.path >= 0)
		path = o.path;
	else if (dtype == RTN_LOCAL)
		path = EVAL_PATH_INPUT;
	else if (stype == RTN_LOCAL)
		path = EVAL_PATH_OUTPUT;
	else
		path = EVAL_PATH_FORWARD;

	eval_packet_init(&p, fs, path);
	p.saddr = saddr;
	p.daddr = daddr;
	p.l4proto = o.proto == IPPROTO_ICMP && fs == AF_INET6 ? IPPROTO_ICMPV6 : o.proto;
	if (o.proto == IPPROTO_ICMP) {
		p.icmp_type = fs == AF_INET6 ? 128 : 8; /* echo request */
		p.icmp_code = 0;
	} else {
		p.sport = o.sport < 0 ? 0 : (uint16_t)o.sport;
		p.dport = o.dport < 0 ? 0 : (uint16_t)o.dport;
	}
	p.ct_state = o.ct_state;
	p.mark = o.mark;
	p.saddr_type = stype;
	p.daddr_type = dtype;

	if (o.iif && path != EVAL_PATH_OUTPUT) {
		r = copy_ifname(p.iif, o.iif, "--iif");
		if (r != EXIT_OK)
			return r;
	}
	if (o.oif && path != EVAL_PATH_INPUT) {
		r = copy_ifname(p.oif, o.oif, "--oif");
		if (r != EXIT_OK)
			return r;
	}
	r = eval_packet_fill_interfaces(&p, route_cb, NULL);
	if (r < 0)
		return cli_fail("trace: no route for the packet's %s (%s); give --iif/--oif",
				path == EVAL_PATH_OUTPUT ? "destination" : "addresses",
				np_strerror(r));

	/* Interface indexes for iif/oif matches, and the reverse-path check (rpfilter, fib
	 * saddr . iif): does the route back to the source leave through the input interface? */
	r = fw_links_read(&links);
	if (r < 0)
		return cli_fail("trace: cannot list the network interfaces: %s", np_strerror(r));
	if (p.iif[0]) {
		char back[IFNAMSIZ];

		r = fw_links_index(links, p.iif);
		p.iif_index = r > 0 ? r : 0;
		if (route_cb(NULL, fs, saddr, back) >= 0)
			p.rpf_ok = streq(back, p.iif) ? 1 : 0;
		else
			p.rpf_ok = 0;
	}
	if (p.oif[0]) {
		r = fw_links_index(links, p.oif);
		p.oif_index = r > 0 ? r : 0;
	}

	r = read_ruleset(&rs);
	if (r != EXIT_OK)
		return r;
	r = eval_prepare(rs, &ctx);
	if (r < 0)
		return cli_fail("trace: cannot prepare the ruleset: %s", np_strerror(r));
	r = eval_packet(ctx, &p, true, &res);
	if (r < 0)
		return cli_fail("trace: evaluation failed: %s", np_strerror(r));

	if (o.json) {
		_cleanup_(json_decrefp) json_t *out = NULL, *trace = NULL;
		json_t *decided = json_null();

		trace = json_array();
		if (!trace)
			return cli_fail("out of memory");
		for (size_t i = 0; i < res.trace.n; i++) {
			json_t *e = trace_entry_json(&res.trace.items[i]);

			if (!e || json_array_append_new(trace, e) < 0)
				return cli_fail("out of memory");
		}
		if (res.decided_by >= 0 && (size_t)res.decided_by < res.trace.n)
			decided = json_incref(json_array_get(trace, res.decided_by));
		out = json_pack("{s:s,s:s,s:s,s:s,s:O,s:o}", "verdict",
				eval_verdict_to_string(res.verdict), "reason", res.reason, "iif",
				p.iif, "oif", p.oif, "trace", trace, "decided_by", decided);
		if (!out || json_dumpf(out, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) < 0)
			return cli_fail("cannot write JSON");
		putchar('\n');
		return EXIT_OK;
	}

	{
		char sb[INET6_ADDRSTRLEN + 8], db[INET6_ADDRSTRLEN + 8];
		static const char *const ct[] = { [0] = "invalid",
						  [1] = "established",
						  [2] = "related",
						  [3] = "new",
						  [6] = "untracked" };
		unsigned bit = __builtin_ctz(p.ct_state);

		np_addr_format(saddr, sb, sizeof(sb));
		np_addr_format(daddr, db, sizeof(db));
		printf("packet:  %s %s",
		       o.proto == IPPROTO_TCP	 ? "tcp"
		       : o.proto == IPPROTO_UDP	 ? "udp"
		       : o.proto == IPPROTO_SCTP ? "sctp"
						 : (fs == AF_INET6 ? "icmpv6" : "icmp"),
		       sb);
		if (o.proto != IPPROTO_ICMP)
			printf(":%u", p.sport);
		printf(" -> %s", db);
		if (o.proto != IPPROTO_ICMP)
			printf(":%u", p.dport);
		printf(", ct %s, mark 0x%x\n", bit < ELEMENTSOF(ct) && ct[bit] ? ct[bit] : "?",
		       p.mark);
		printf("path:    %s, iif %s, oif %s\n", eval_path_to_string(path),
		       p.iif[0] ? p.iif : "-", p.oif[0] ? p.oif : "-");
		printf("verdict: %s\n", eval_verdict_to_string(res.verdict));
		if (res.reason[0])
			printf("reason:  %s\n", res.reason);
		if (res.trace.n > 0) {
			printf("trace:\n");
			for (size_t i = 0; i < res.trace.n; i++)
				trace_entry_print(&res.trace.items[i], "  ");
		}
		if (res.decided_by >= 0 && (size_t)res.decided_by < res.trace.n) {
			printf("decided by:\n");
			trace_entry_print(&res.trace.items[res.decided_by], "  ");
		}
	}
	return EXIT_OK;
}

const struct cli_command cli_fw_commands[] = {
	{ "rules", cmd_rules, "[--json]",
	  "show the live packet filter of this network namespace as npaudit reads it" },
	{ "trace", cmd_trace,
	  "--src ADDR --dst ADDR [--proto P] [--sport N] [--dport N] [--iif IF] [--oif IF] "
	  "[--ct STATE] [--mark N] [--path P] [--json]",
	  "run one packet through the live rules and show the verdict and every rule it met" },
	{},
};
