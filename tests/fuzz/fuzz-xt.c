/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The xtables blob decoders (lib/fw/xt.c) and the ipset dump parser on arbitrary input.
 *
 * Input: byte 0 selects the mode (bit 0: target instead of match, bit 1: IPv6 table, bit 2:
 * parse the rest as IPSET_CMD_LIST netlink messages instead), byte 1 is the revision, then a
 * NUL-terminated extension name (at most 28 characters), then the blob. Set matches resolve
 * indexes 0..3 against a fixed dump of four sets of different types.
 */
#include <stdint.h>
#include <string.h>

#include <linux/netfilter.h>

#include "fw/fw.h"
#include "fw/xt.h"
#include "ir/ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fw_ipsets *fixed_sets(void)
{
	static struct fw_ipsets l;
	static struct fw_ipset sets[4];
	static struct fw_ipset *byidx[4];
	static struct fw_ipset_elem member = { .member = (char *)"s0" };
	static bool done;
	static const struct {
		const char *name, *type;
		enum fw_ipset_kind kind;
		uint8_t family;
	} def[4] = {
		{ "s0", "hash:net", FW_IPSET_HASH_NET, NFPROTO_IPV4 },
		{ "s1", "hash:ip,port", FW_IPSET_HASH_IP_PORT, NFPROTO_IPV6 },
		{ "s2", "hash:net,iface", FW_IPSET_HASH_NET_IFACE, NFPROTO_IPV4 },
		{ "s3", "list:set", FW_IPSET_LIST_SET, NFPROTO_UNSPEC },
	};

	if (done)
		return &l;
	for (int i = 0; i < 4; i++) {
		sets[i].name = (char *)def[i].name;
		sets[i].type = (char *)def[i].type;
		sets[i].kind = def[i].kind;
		sets[i].family = def[i].family;
		sets[i].index = i;
		byidx[i] = &sets[i];
		if (hashmap_put(&l.by_name, sets[i].name, &sets[i]) < 0)
			abort();
	}
	sets[3].elems.items = &member;
	sets[3].elems.n = sets[3].elems.cap = 1;
	l.by_index = byidx;
	l.n_index = 4;
	done = true;
	return &l;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fw_xt_ctx ctx = { 0 };
	struct ir_rule *r = NULL;
	struct strbuf sb = { 0 };
	char name[29];
	size_t n;
	uint8_t mode, rev;

	if (size < 2)
		return 0;
	mode = data[0];
	rev = data[1];
	data += 2, size -= 2;

	if (mode & 4) {
		struct fw_ipsets *l = NULL;
		struct ir_ruleset *rs = NULL;
		/* netlink buffers are aligned (NLMSG_ALIGNTO); malloc gives that */
		void *msgs = malloc(size ? size : 1);

		if (!msgs)
			return 0;
		memcpy(msgs, data, size);
		if (fw_ipsets_parse_dump(msgs, size, &l) == 0) {
			if (ir_ruleset_new(&rs) == 0) {
				(void)fw_ipsets_to_ir(l, rs);
				(void)ir_ruleset_render(rs, &sb);
				ir_ruleset_free(rs);
			}
			fw_ipsets_free(l);
		}
		free(msgs);
		strbuf_done(&sb);
		return 0;
	}

	n = strnlen((const char *)data, MIN(size, sizeof(name) - 1));
	memcpy(name, data, n);
	name[n] = 0;
	if (n < size)
		n++; /* the NUL */
	data += n, size -= n;

	ctx.family = mode & 2 ? NFPROTO_IPV6 : NFPROTO_IPV4;
	ctx.set_name = fw_ipsets_xt_name;
	ctx.userdata = fixed_sets();
	if (ir_rule_new(&r) < 0)
		return 0;
	/* Copy into an exactly sized buffer so that ASan sees reads past the blob. */
	{
		uint8_t *blob = size ? malloc(size) : NULL;

		if (size && !blob) {
			ir_rule_free(r);
			return 0;
		}
		if (size)
			memcpy(blob, data, size);
		if (mode & 1)
			(void)fw_xt_target_to_ir(&ctx, name, rev, blob, size, r);
		else
			(void)fw_xt_match_to_ir(&ctx, name, rev, blob, size, r);
		free(blob);
	}
	(void)ir_rule_render(r, &sb);
	strbuf_done(&sb);
	ir_rule_free(r);
	return 0;
}
