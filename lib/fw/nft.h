/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The nftables reader: the live ruleset of the current network namespace over netlink
 * (libmnl + libnftnl) into the IR, every family, with sets, maps and their elements, and the
 * rules iptables-nft writes (compat `match`/`target` expressions decoded by lib/fw/xt).
 *
 * fw_nft_read() dumps, with the ruleset generation taken before and checked after (from the
 *   generation every dump message carries; with one more query when the last dump is empty):
 *   tables, chains, sets (one dump each, all families), the elements of each set (one dump per
 *   set), rules (one dump, all families). A dump flagged NLM_F_DUMP_INTR, a generation that
 *   moved, or dumps that contradict each other (an object twice, a rule in a chain or an element
 *   in a set that was not dumped: what a read during a commit can see) make it read everything
 *   again, backing off from 1 ms to 100 ms, up to FW_NFT_READ_ATTEMPTS times; then it returns
 *   the last inconsistency (-EBADMSG/-ENOENT) or -EAGAIN.
 *
 * Every message is parsed straight from its attributes with libmnl: a libnftnl object per
 * message copies every attribute, and libnftnl exits the process on malformed attributes. An
 * attribute of the wrong size is -EBADMSG. Rules with equal expressions in one table are
 * translated once (lib/fw/rcache.h).
 *
 * The parser is separate from the socket so that tests and fuzzers can feed it messages built
 * in memory: fw_nft_parser_feed() takes one nf_tables message (NFT_MSG_NEWTABLE, NEWCHAIN,
 * NEWSET, NEWSETELEM, NEWRULE; NEWGEN is accepted and ignored). Feed in dump order: a table
 * before its chains and sets, a set before its elements, chains and sets before the rules that
 * use them (a rule may jump to a chain fed later). fw_nft_parser_finish() then decides each
 * table's source and moves the tables into an IR ruleset.
 *
 * Source of a table (enum ir_source): IR_SRC_IPTABLES_NFT when it is one xtables-nft creates
 * (family ip/ip6/arp/bridge; name filter, nat, mangle, raw, security, or broute for bridge) and
 * either one of its rules carries a compat match/target expression or iptables-nft's compat
 * rule userdata (UDATA type 2), or it has base chains and every one is named after its hook the
 * way iptables names built-in chains (INPUT on input, PREROUTING on prerouting, ...). Every
 * other table is IR_SRC_NFT. A hand-written `table ip filter` with upper-case built-in chain
 * names is indistinguishable from iptables-nft's and is reported as such.
 *
 * Nothing is dropped: an expression sequence that does not translate becomes an opaque
 * predicate (or statement, for expressions with side effects) in its place, with the raw
 * expressions in its text; a set whose elements cannot be decoded makes every lookup into it
 * opaque.
 */

#include <stdint.h>

#include "fw/xt.h"
#include "ir/ir.h"

struct nlmsghdr;

#define FW_NFT_READ_ATTEMPTS 16

struct fw_nft_opts {
	/* Resolves ipset indexes of xtables `set` matches / `SET` targets (iptables-nft rules
	 * using ipsets); NULL makes those opaque. */
	fw_xt_set_name_fn set_name;
	void *set_name_userdata;
};

struct fw_nft_stats {
	unsigned attempts; /* full reads done (1 when nothing changed during the read) */
	uint32_t generation; /* ruleset generation the result belongs to */
	unsigned messages; /* netlink messages parsed in the last attempt */
	unsigned tables, chains, sets, elements, rules;
};

struct fw_nft_parser;

/* Returns 0 and a new parser in *ret (free with fw_nft_parser_free()), or -ENOMEM. opts may be
 * NULL; it is copied. */
int fw_nft_parser_new(const struct fw_nft_opts *opts, struct fw_nft_parser **ret);
/* Frees p and every table it still holds; accepts NULL; returns NULL. */
struct fw_nft_parser *fw_nft_parser_free(struct fw_nft_parser *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fw_nft_parser *, fw_nft_parser_free);
/* Parses one nf_tables message into p (nlh->nlmsg_len bytes must be readable). Returns 0; -EBADMSG
 * for a malformed message, an object of an unknown family or a duplicate; -ENOENT when the table,
 * chain or set it belongs to was not fed; -EOPNOTSUPP for another message type; -ENOMEM. After an
 * error p stays usable. */
int fw_nft_parser_feed(struct fw_nft_parser *p, const struct nlmsghdr *nlh);
/* Feeds every message of a buffer as received from the socket (NLMSG_DONE ends, NLMSG_ERROR
 * with an error returns it). Returns 0 or the first error of fw_nft_parser_feed(). */
int fw_nft_parser_feed_buf(struct fw_nft_parser *p, const void *buf, size_t len);
/* Decides table sources, builds interval sets and moves every table into rs (p is empty
 * after). Returns 0, -EEXIST (rs already has such a table) or -ENOMEM. */
int fw_nft_parser_finish(struct fw_nft_parser *p, struct ir_ruleset *rs);
/* Fills *ret with the counts of what was fed so far. */
void fw_nft_parser_stats(const struct fw_nft_parser *p, struct fw_nft_stats *ret);

/* Reads the nftables ruleset of the current network namespace into rs (tables added with source
 * IR_SRC_NFT or IR_SRC_IPTABLES_NFT) and records the source info. opts and ret_stats may be
 * NULL. Returns 0, or -errno (-EPERM without CAP_NET_ADMIN, -EAGAIN when the ruleset kept
 * changing); on failure rs is unchanged. */
int fw_nft_read(struct ir_ruleset *rs, const struct fw_nft_opts *opts,
		struct fw_nft_stats *ret_stats);
