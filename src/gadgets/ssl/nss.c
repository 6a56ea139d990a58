// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * NSS: its reads and writes are NSPR's PR_Read/PR_Write & co. (libnspr4),
 * kept in the kernel only on descriptors with NSS's SSL layer, whose methods
 * live in libssl3.so (see nss.bpf.h).  This file tells the kernel where
 * libssl3.so lies in each process that maps it.
 */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"

/* The first mapping of libssl3.so (offset 0) is where its image starts. */
static void nss_mapped(struct session *s, int pid, const struct proc_map *m,
		       const struct lib_entry *e)
{
	struct bpf_map *map = bpf_object__find_map_by_name(s->obj, "nss_ranges");
	struct nss_range r = { .lo = m->start, .hi = m->start + e->image_end };
	__u32 key = pid;

	if (!(e->kind & SEEN_IMAGE) || m->offset || !map)
		return;
	if (bpf_map_update_elem(bpf_map__fd(map), &key, &r, BPF_ANY))
		loupe_info(s, "cannot record libssl3.so of pid %d: %s", pid, strerror(errno));
}

const struct ssl_backend ssl_backend_nss = {
	.name = "nss",
	/* libnss3: where libssl3 makes the peer's certificates (--certs). */
	.sonames = (const char *const[]){ "libnspr4.so", "libssl3.so", "libnss3.so", NULL },
	SSL_BACKEND_OPS(SSL_NSS_PROBES),
	.mapped = nss_mapped,
};
