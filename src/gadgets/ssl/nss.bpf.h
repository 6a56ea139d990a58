/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * NSS, kernel side: PR_Read/PR_Write & co. are NSPR's, and carry files,
 * pipes and plain sockets as well as TLS; a call is kept only when the
 * descriptor has NSS's SSL layer.  Included by ssl.bpf.c.
 *
 * libssl3.so's image in each NSS process, by tgid: NSS's SSL layer has a
 * methods table inside libssl3.so (its static ssl I/O methods); NSPR's own
 * files, pipes and sockets have theirs in libnspr4.so.  User space fills this
 * from /proc/PID/maps; the SSL_ImportFD probe fills it for processes that
 * make an SSL socket later.
 */
#ifndef LOUPE_SSL_NSS_BPF_H
#define LOUPE_SSL_NSS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct nss_range);
} nss_ranges SEC(".maps");

/* Layers looked at below the descriptor given (SSL is usually the top one). */
#define NSS_MAX_LAYERS 4

/*
 * struct PRFileDesc { const PRIOMethods *methods; PRFilePrivate *secret;
 * PRFileDesc *lower, *higher; ... }: walk `lower` from the descriptor the
 * application passed and look for the SSL layer.
 */
static __always_inline bool nss_is_tls(const void *fd)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct nss_range *r = bpf_map_lookup_elem(&nss_ranges, &tgid);

	if (!r) {
		loupe_count(SSL_CNT_NSS_UNKNOWN);
		return false;
	}
	for (int i = 0; i < NSS_MAX_LAYERS; i++) {
		__u64 layer[3];

		if (!fd || bpf_probe_read_user(layer, sizeof(layer), fd))
			break;
		if (layer[0] >= r->lo && layer[0] < r->hi)
			return true;
		fd = (const void *)layer[2];
	}
	loupe_count(SSL_CNT_NSS_PLAIN);
	return false;
}

static __always_inline int nss_enter(__u32 op, __u32 dir, const void *fd, const void *buf)
{
	/* NSPR I/O on a plain descriptor is not a TLS call: not counted as one. */
	if (!nss_is_tls(fd))
		return 0;
	return ssl_enter(op, dir, fd, buf, NULL, 0);
}

/*
 * Every NSS SSL socket is made by SSL_ImportFD in libssl3.so: learn where
 * libssl3.so lies in this process.  The attach cookie holds the function's
 * address in the file (low 32 bits) and the image size (high 32 bits).
 */
static __always_inline int nss_note_image(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct nss_range r;

	probe_image(ctx, &r);
	loupe_map_insert(&nss_ranges, &tgid, &r);
	return 0;
}

#endif /* LOUPE_SSL_NSS_BPF_H */
