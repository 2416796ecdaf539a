/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * xtables match and target decoders, shared by the iptables-legacy reader (iptc.c, blobs from
 * struct xt_entry_match/xt_entry_target) and the iptables-nft reader (nft.c, blobs from the
 * compat `match`/`target` expressions: NFTNL_EXPR_MT_NAME/_REV/_INFO and NFTNL_EXPR_TG_*).
 *
 * A blob is the payload after the xt_entry_{match,target} header: `data`/`len` are exactly
 * m->data and m->u.match_size - sizeof(*m) (legacy), or the NFTNL_EXPR_MT_INFO bytes (nft).
 * The length may exceed the userspace struct (XT_ALIGN padding, kernel-private tails); it must
 * not be shorter than the fields read, else the item is opaque.
 *
 * Every name or revision not decoded here, and every option of a known match whose semantics
 * the IR cannot express, becomes an explicit opaque predicate (match) or opaque action
 * (target) whose text names the extension, its revision and the blob size: never a silent
 * "matches" or "does not match".
 */

struct ir_rule;
struct ir_ifname;
struct fw_ipsets;

/* Resolves an ipset index (the kernel's ip_set_id_t carried by the `set` match and `SET`
 * target) to the set's name. Returns 0 and a name owned by the resolver (valid as long as the
 * context), -ENOENT if no set has that index, or another -errno. */
typedef int (*fw_xt_set_name_fn)(void *userdata, uint16_t index, const char **ret_name);

/*
 * The `set` match needs the set's type to know which packet fields form the key (hash:ip,port:
 * address . protocol . port). The type comes from the ipset dump: ctx->ipsets, or, when
 * set_name is fw_ipsets_xt_name() (fw.h), its userdata. With a resolver that gives names only,
 * set matches are opaque with the set's name.
 */
struct fw_xt_ctx {
	uint8_t family; /* NFPROTO_IPV4 or NFPROTO_IPV6: the table's family */
	fw_xt_set_name_fn set_name; /* NULL: every set match becomes opaque */
	void *userdata;
	const struct fw_ipsets *ipsets; /* optional: the ipsets with their types */
};

/* Decodes the match `name` revision `rev` (blob data/len) and appends its predicates (and, for
 * comment, the rule's comment; for limit, a LIMIT statement) to rule; an unknown or
 * undecodable match appends one opaque predicate. Returns 0, or -ENOMEM (the rule may then hold
 * part of the match's predicates: discard it). */
int fw_xt_match_to_ir(const struct fw_xt_ctx *ctx, const char *name, uint8_t rev, const void *data,
		      size_t len, struct ir_rule *rule);

/* Longest rule comment assembled from comment matches (bytes, with the NUL). */
#define FW_XT_COMMENT_MAX 600

/* Adds the text of a `comment` match blob (revision 0) to the rule comment being assembled in
 * buf (size bytes, "" when none yet) the way fw_xt_match_to_ir() does: the first comment names
 * the rule, later ones follow after "; " (truncated to FW_XT_COMMENT_MAX - 1 bytes). */
void fw_xt_comment_append(const void *data, size_t len, char *buf, size_t size);

/* Decodes the target `name` revision `rev` (blob data/len) into the rule's action (REJECT, LOG,
 * NFQUEUE, MARK, CONNMARK, CT, SNAT/DNAT/MASQUERADE/REDIRECT, SET, ...; the labels ACCEPT, DROP,
 * RETURN and QUEUE as libiptc names them; unknown: an opaque statement). The standard target
 * blob (verdict number) is not handled here: use fw_xt_verdict_to_ir(). Returns 0 or -ENOMEM. */
int fw_xt_target_to_ir(const struct fw_xt_ctx *ctx, const char *name, uint8_t rev, const void *data,
		       size_t len, struct ir_rule *rule);

/* Converts an x_tables interface name and byte mask (struct ipt_ip iniface/iniface_mask,
 * physdev) of size bytes into an IR pattern. Returns 1 and the pattern in *ret (ret->name
 * allocated), 0 when it matches any interface (empty mask), -EINVAL when the mask is not a run
 * of 0xff bytes, or -ENOMEM. */
int fw_xt_ifname_from_mask(const char *via, const unsigned char *mask, size_t size,
			   struct ir_ifname *ret);

/* Sets the rule's verdict from an xtables standard verdict: a negative verdict is
 * -NF_<VERDICT>-1 (XT_RETURN for return); jump_chain (not NULL) makes it a jump to that chain
 * instead, or a goto when is_goto (IPT_F_GOTO). Returns 0, -EINVAL for a verdict that is none of
 * those, or -ENOMEM. */
int fw_xt_verdict_to_ir(int verdict, const char *jump_chain, int is_goto, struct ir_rule *rule);
