/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cheap change detection for the sources that send no events: the iptables-legacy tables of
 * both families as the kernel hands them out (each rule's bytes without its packet and byte
 * counters, which move with traffic) and the ipset dump, hashed without decoding. Equal
 * fingerprints mean the sources did not change; a full read is only needed when they differ.
 */
#include <errno.h>
#include <netinet/in.h> /* before the kernel's headers, which defer to it */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter_ipv6/ip6_tables.h>

#include "fw.h"
#include "util/hashmap.h"

/* Hashes one table of family into *h: its layout (hooks, size) and every entry without its
 * counters. Returns 0, -ENOENT (no such table), -EAGAIN (it changed while read) or -errno. */
static int table_fingerprint(int fd, int family, const char *name, uint64_t *h)
{
	bool v6 = family == AF_INET6;
	int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
	struct ipt_getinfo info = { 0 }; /* the same layout as struct ip6t_getinfo */
	struct ipt_get_entries *e; /* likewise */
	socklen_t len = sizeof(info);
	size_t cut =
		v6 ? offsetof(struct ip6t_entry, counters) : offsetof(struct ipt_entry, counters);
	size_t after = cut + sizeof(struct xt_counters);
	unsigned char *p;
	int r = 0;

	snprintf(info.name, sizeof(info.name), "%s", name);
	if (getsockopt(fd, level, v6 ? IP6T_SO_GET_INFO : IPT_SO_GET_INFO, &info, &len) < 0)
		return -errno;
	len = (socklen_t)(sizeof(*e) + info.size);
	e = calloc(1, len);
	if (!e)
		return -ENOMEM;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->size = info.size;
	if (getsockopt(fd, level, v6 ? IP6T_SO_GET_ENTRIES : IPT_SO_GET_ENTRIES, e, &len) < 0) {
		r = -errno;
		goto out;
	}
	*h = np_hash64_bytes(*h, name, strlen(name) + 1);
	*h = np_hash64_bytes(*h, &info.valid_hooks, sizeof(info.valid_hooks));
	*h = np_hash64_bytes(*h, info.hook_entry, sizeof(info.hook_entry));
	*h = np_hash64_bytes(*h, info.underflow, sizeof(info.underflow));
	*h = np_hash64_bytes(*h, &info.num_entries, sizeof(info.num_entries));
	*h = np_hash64_bytes(*h, &info.size, sizeof(info.size));
	p = (unsigned char *)e->entrytable;
	for (size_t off = 0; off < info.size;) {
		/* target_offset and next_offset are at the same place in both entry types */
		const struct ipt_entry *x = (const struct ipt_entry *)(p + off);
		size_t next =
			v6 ? ((const struct ip6t_entry *)(p + off))->next_offset : x->next_offset;

		if (next < after || off + next > info.size) {
			r = -EAGAIN; /* not a table we can walk: changed under us */
			goto out;
		}
		*h = np_hash64_block(*h, p + off, cut);
		*h = np_hash64_block(*h, p + off + after, next - after);
		off += next;
	}
out:
	free(e);
	return r;
}

static void names_free(char **v)
{
	for (char **n = v; n && *n; n++)
		free(*n);
	free(v);
}

/* Hashes the iptables-legacy tables of family into *h. Returns 0 or -errno. */
static int family_fingerprint(int family, uint64_t *h)
{
	char **names = NULL;
	int fd, r;

	r = fw_iptc_tables(family, &names);
	if (r < 0)
		return r;
	if (!names || !names[0]) {
		*h = np_hash64_bytes(*h, "-", 1); /* no table (or no module): nothing to hash */
		names_free(names);
		return 0;
	}
	fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (fd < 0) {
		r = -errno;
		names_free(names);
		return r;
	}
	for (char **n = names; *n; n++) {
		for (int attempt = 0;; attempt++) {
			uint64_t t = *h;

			r = table_fingerprint(fd, family, *n, &t);
			if (r == -EAGAIN && attempt < 8)
				continue;
			if (r == -ENOENT) { /* gone since the list was read */
				r = 0;
				break;
			}
			if (r >= 0)
				*h = t;
			break;
		}
		if (r < 0)
			break;
	}
	close(fd);
	names_free(names);
	return r;
}

int fw_legacy_fingerprint(uint64_t *ret)
{
	uint64_t h = NP_HASH64_INIT, sets = 0;
	int r;

	if ((r = family_fingerprint(AF_INET, &h)) < 0 || (r = family_fingerprint(AF_INET6, &h)) < 0)
		return r;
	r = fw_ipsets_fingerprint(&sets);
	if (r == -EPROTONOSUPPORT || r == -ENOENT || r == -EAFNOSUPPORT)
		sets = 1; /* no ipset support: nothing to hash, like the reader says */
	else if (r < 0)
		return r;
	h = np_hash64_bytes(h, &sets, sizeof(sets));
	*ret = h ? h : 1;
	return 0;
}
