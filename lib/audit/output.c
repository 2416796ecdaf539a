/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Audit reports as JSON (the CLI's --json, the agent's API) and as a human diagnosis. */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "audit.h"

static const char *proto_name(uint8_t proto)
{
	return np_proto_name(proto); /* the IP protocol numbers are the model's enum np_proto */
}

static int json_kv(struct strbuf *out, bool *first, const char *key, const char *value)
{
	int r = strbuf_printf(out, "%s\"%s\":", *first ? "" : ",", key);

	*first = false;
	if (r < 0)
		return r;
	return value ? strbuf_json_string(out, value) : strbuf_puts(out, "null");
}

static int json_cidrs(struct strbuf *out, const struct np_iset *s)
{
	struct strbuf tmp = { 0 };
	int r = policy_addrs_format(s, &tmp);
	const char *p = strbuf_str(&tmp);
	bool first = true;

	if (r >= 0)
		r = strbuf_puts(out, "[");
	while (r >= 0 && *p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char *one = strndup(p, n);

		if (!one) {
			r = -ENOMEM;
			break;
		}
		r = strbuf_puts(out, first ? "" : ",");
		if (r >= 0)
			r = strbuf_json_string(out, one);
		free(one);
		first = false;
		p += n + (e ? 1 : 0);
	}
	if (r >= 0)
		r = strbuf_puts(out, "]");
	strbuf_done(&tmp);
	return r;
}

int audit_finding_json(const struct audit_finding *f, struct strbuf *out)
{
	_cleanup_(strbuf_done) struct strbuf ports = { 0 };
	char src[64], dst[64];
	bool first = true;
	int r;

	if ((r = strbuf_puts(out, "{")) < 0 || (r = json_kv(out, &first, "id", f->id)) < 0 ||
	    (r = json_kv(out, &first, "kind", audit_kind_to_string(f->kind))) < 0 ||
	    (r = json_kv(out, &first, "severity", audit_severity_to_string(f->severity))) < 0 ||
	    (r = json_kv(out, &first, "pod", f->pod)) < 0 ||
	    (r = json_kv(out, &first, "direction", f->dir == NP_INGRESS ? "ingress" : "egress")) <
		    0 ||
	    (r = json_kv(out, &first, "peer_pod", f->peer_pod)) < 0 ||
	    (r = json_kv(out, &first, "interface", f->iface)) < 0)
		return r;
	if (f->kind != AUDIT_NO_ROUTE) {
		if ((r = json_kv(out, &first, "expected", f->expected_allow ? "allow" : "deny")) <
			    0 ||
		    (r = json_kv(out, &first, "actual", eval_verdict_to_string(f->actual))) < 0)
			return r;
	}
	np_addr_format(f->example.src, src, sizeof(src));
	np_addr_format(f->example.dst, dst, sizeof(dst));
	if (f->kind == AUDIT_NO_ROUTE)
		r = strbuf_printf(out, ",\"example\":{\"family\":\"%s\",\"dst\":\"%s\"}",
				  f->example.family == AF_INET ? "ipv4" : "ipv6", dst);
	else
		r = strbuf_printf(out,
				  ",\"example\":{\"family\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\","
				  "\"protocol\":\"%s\",\"sport\":%u,\"dport\":%u,\"iif\":",
				  f->example.family == AF_INET ? "ipv4" : "ipv6", src, dst,
				  proto_name(f->example.proto) ? proto_name(f->example.proto) : "?",
				  f->example.sport, f->example.dport);
	if (r < 0)
		return r;
	if (f->kind != AUDIT_NO_ROUTE) {
		if ((r = strbuf_json_string(out, f->example.iif)) < 0 ||
		    (r = strbuf_puts(out, ",\"oif\":")) < 0 ||
		    (r = strbuf_json_string(out, f->example.oif)) < 0 ||
		    (r = strbuf_puts(out, "}")) < 0)
			return r;
		if ((r = strbuf_puts(out, ",\"peers\":")) < 0 ||
		    (r = json_cidrs(out, &f->peers)) < 0)
			return r;
		if ((r = np_iset_format_numbers(&f->ports, &ports)) < 0 ||
		    (r = strbuf_puts(out, ",")) < 0)
			return r;
		first = true;
		if ((r = json_kv(out, &first, "protocol", proto_name(f->proto))) < 0 ||
		    (r = strbuf_printf(
			     out, ",\"protocols\":[%s%s%s%s%s],",
			     f->protos & AUDIT_PROTO_TCP ? "\"TCP\"" : "",
			     (f->protos & AUDIT_PROTO_TCP) && (f->protos & ~AUDIT_PROTO_TCP) ? ","
											     : "",
			     f->protos & AUDIT_PROTO_UDP ? "\"UDP\"" : "",
			     (f->protos & AUDIT_PROTO_SCTP) &&
					     (f->protos & (AUDIT_PROTO_TCP | AUDIT_PROTO_UDP))
				     ? ","
				     : "",
			     f->protos & AUDIT_PROTO_SCTP ? "\"SCTP\"" : "")) < 0)
			return r;
		first = true;
		if ((r = json_kv(out, &first, "ports", strbuf_str(&ports))) < 0 ||
		    (r = strbuf_printf(out, ",\"classes\":%u", f->classes)) < 0)
			return r;
	}
	if ((r = strbuf_puts(out, ",\"policies\":[")) < 0)
		return r;
	for (size_t i = 0; i < f->policies.n; i++)
		if ((r = strbuf_puts(out, i ? "," : "")) < 0 ||
		    (r = strbuf_json_string(out, f->policies.items[i])) < 0)
			return r;
	if ((r = strbuf_printf(out, "],\"rule\":%s", f->rule_json ? f->rule_json : "null")) < 0 ||
	    (r = strbuf_puts(out, ",")) < 0)
		return r;
	first = true;
	if ((r = json_kv(out, &first, "rule_text", f->rule_text)) < 0 ||
	    (r = strbuf_puts(out, ",")) < 0)
		return r;
	first = true;
	if ((r = json_kv(out, &first, "reason", f->reason)) < 0 || (r = strbuf_puts(out, ",")) < 0)
		return r;
	first = true;
	if ((r = json_kv(out, &first, "message", f->message)) < 0)
		return r;
	return strbuf_puts(out, "}");
}

int audit_report_json(const struct audit_report *r, struct strbuf *out)
{
	int k = strbuf_puts(out, "{\"node\":");

	if (k >= 0)
		k = strbuf_json_string(out, r->node);
	if (k >= 0)
		k = strbuf_printf(
			out,
			",\"pods_audited\":%u,\"classes_evaluated\":%lu,\"duration_ms\":%.3f,"
			"\"findings\":[",
			r->pods_audited, r->classes_evaluated, r->duration_ms);
	for (size_t i = 0; k >= 0 && i < r->findings.n; i++) {
		k = strbuf_puts(out, i ? "," : "");
		if (k >= 0)
			k = audit_finding_json(r->findings.items[i], out);
	}
	if (k >= 0)
		k = strbuf_puts(out, "],\"notes\":[");
	for (size_t i = 0; k >= 0 && i < r->notes.n; i++) {
		k = strbuf_puts(out, i ? "," : "");
		if (k >= 0)
			k = strbuf_json_string(out, r->notes.items[i]);
	}
	if (k >= 0)
		k = strbuf_puts(out, "]}");
	return k;
}

static const char *what_to_check(enum audit_kind k)
{
	switch (k) {
	case AUDIT_ALLOWED_DRIFT:
		return "Check that the CNI agent on this node is running and has programmed the "
		       "policy; look for a rule another tool inserted ahead of the CNI's chains "
		       "(the "
		       "rule above decided).";
	case AUDIT_BLOCKED_DRIFT:
		return "The CNI's rules are older or stricter than the policies: check the CNI "
		       "agent's logs and whether its sets hold the peers' current addresses.";
	case AUDIT_UNENFORCED:
		return "Check that the CNI enforces NetworkPolicy at all (flannel and the bridge "
		       "plugin do not) and that its agent on this node is Ready (npaudit lint, "
		       "npaudit cni).";
	case AUDIT_UNVERIFIABLE:
		return "The verdict is made outside netfilter's rules (a userspace queue, an eBPF "
		       "program, or a match npaudit does not decode); verify this path by other "
		       "means.";
	case AUDIT_NO_ROUTE:
		return "Check the pod's network setup on this node (ip route get POD_IP): the CNI "
		       "may have failed to wire the pod, or the pod runs elsewhere.";
	default:
		return "";
	}
}

int audit_report_text(const struct audit_report *r, struct strbuf *out)
{
	const char *last_pod = NULL;
	int k;

	k = strbuf_printf(out,
			  "node %s: %u pods audited, %lu traffic classes evaluated in %.1f ms\n",
			  r->node, r->pods_audited, r->classes_evaluated, r->duration_ms);
	for (size_t i = 0; k >= 0 && i < r->notes.n; i++)
		k = strbuf_printf(out, "note: %s\n", r->notes.items[i]);
	if (k >= 0 && r->findings.n == 0)
		return strbuf_puts(out, "No drift: the live rules do what the policies say.\n");
	for (size_t i = 0; k >= 0 && i < r->findings.n; i++) {
		const struct audit_finding *f = r->findings.items[i];
		char src[64], dst[64];

		if (!last_pod || !streq(last_pod, f->pod)) {
			k = strbuf_printf(out, "\npod %s%s%s\n", f->pod, f->iface ? " on " : "",
					  f->iface ? f->iface : "");
			last_pod = f->pod;
		}
		if (k >= 0)
			k = strbuf_printf(out, "  [%s] %s %s: %s.\n",
					  audit_severity_to_string(f->severity),
					  audit_kind_to_string(f->kind),
					  f->dir == NP_INGRESS ? "ingress" : "egress", f->message);
		if (k < 0 || f->kind == AUDIT_NO_ROUTE) {
			if (k >= 0)
				k = strbuf_printf(out, "    what to check: %s\n",
						  what_to_check(f->kind));
			continue;
		}
		np_addr_format(f->example.src, src, sizeof(src));
		np_addr_format(f->example.dst, dst, sizeof(dst));
		k = strbuf_printf(
			out,
			"    example: %s %s:%u -> %s:%u (in %s, out %s): expected %s, node %s\n",
			proto_name(f->example.proto) ? proto_name(f->example.proto) : "?", src,
			f->example.sport, dst, f->example.dport, f->example.iif, f->example.oif,
			f->expected_allow ? "allow" : "deny", eval_verdict_to_string(f->actual));
		if (k >= 0) {
			struct strbuf peers = { 0 }, ports = { 0 };
			k = policy_addrs_format(&f->peers, &peers);
			if (k >= 0)
				k = np_iset_format_numbers(&f->ports, &ports);
			if (k >= 0)
				k = strbuf_printf(
					out, "    covers: peers %s, %s ports %s (%u classes)\n",
					strbuf_str(&peers), proto_name(f->proto),
					strbuf_str(&ports), f->classes);
			strbuf_done(&peers);
			strbuf_done(&ports);
		}
		if (k >= 0 && f->policies.n) {
			k = strbuf_puts(out, "    policies:");
			for (size_t j = 0; k >= 0 && j < f->policies.n; j++)
				k = strbuf_printf(out, " %s", f->policies.items[j]);
			if (k >= 0)
				k = strbuf_puts(out, "\n");
		}
		if (k >= 0 && f->rule_text)
			k = strbuf_printf(out, "    decided by: %s\n", f->rule_text);
		if (k >= 0)
			k = strbuf_printf(out, "    what to check: %s\n", what_to_check(f->kind));
	}
	return k;
}
