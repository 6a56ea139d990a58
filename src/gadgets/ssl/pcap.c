// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Synthesized TCP streams in a pcap file (see pcap.h).  The packets are
 * built here (Ethernet, IPv4/IPv6, TCP with correct checksums), and so is
 * the file: a 24-byte header and a 16-byte header per packet, in our byte
 * order, as libpcap writes them (pcap-savefile(5)).  No libpcap: writing is
 * all we need of it, and its static archive would pull in dbus.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>

#include "pcap.h"
#include "privfile.h"

#define SEG_MAX 32768 /* payload per segment: fits IPv4's 16-bit length */
#define SNAPLEN 65535
#ifndef MAX_FLOWS /* fuzz/pcap_fuzz.c makes it small, to reach the eviction of old flows */
#define MAX_FLOWS 4096
#endif

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_PSH 0x08
#define TH_ACK 0x10

#define PCAP_MAGIC_NSEC 0xa1b23c4d /* timestamps in nanoseconds */
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101 /* the file's value; libpcap's DLT_RAW is 12 on Linux */

struct flow {
	bool used;
	uint64_t key;
	struct pcap_endpoint cli, srv;
	uint32_t seq[2]; /* next sequence number: [0] client->server, [1] back */
	uint64_t last_ns;
};

/* The file's header and each packet's, in host byte order (readers swap). */
struct pcap_file_hdr {
	uint32_t magic;
	uint16_t version_major, version_minor;
	int32_t thiszone;
	uint32_t sigfigs, snaplen, linktype;
};

struct pcap_rec_hdr {
	uint32_t ts_sec, ts_nsec, caplen, len;
};

_Static_assert(sizeof(struct pcap_file_hdr) == 24, "pcap file header");
_Static_assert(sizeof(struct pcap_rec_hdr) == 16, "pcap record header");

struct pcap_out {
	FILE *fp;
	enum pcap_link link;
	uint64_t packets;
	struct flow *flows;
	uint8_t pkt[14 + 40 + 20 + SEG_MAX];
};

struct pcap_out *pcap_out_open(const char *path, enum pcap_link link, char *err, size_t errlen)
{
	struct pcap_out *p = calloc(1, sizeof(*p));
	struct pcap_file_hdr fh = {
		.magic = PCAP_MAGIC_NSEC,
		.version_major = 2,
		.version_minor = 4,
		.snaplen = SNAPLEN,
		.linktype = link == PCAP_LINK_RAW ? LINKTYPE_RAW : LINKTYPE_ETHERNET,
	};
	int fd = -1;

	if (!p || !(p->flows = calloc(MAX_FLOWS, sizeof(*p->flows)))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	p->link = link;
	/* Plaintext is private: 0600, whatever the umask or an existing file's mode. */
	fd = open_private(path);
	if (fd < 0 || !(p->fp = fdopen(fd, "wb"))) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	if (fwrite(&fh, sizeof(fh), 1, p->fp) != 1) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	return p;
fail:
	if (p && p->fp)
		fclose(p->fp);
	else if (fd >= 0)
		close(fd);
	if (p) {
		free(p->flows);
		free(p);
	}
	return NULL;
}

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *b = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		sum += (uint32_t)b[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* One TCP segment from src to dst. */
static int emit(struct pcap_out *p, const struct pcap_endpoint *src,
		const struct pcap_endpoint *dst, uint32_t seq, uint32_t ack, uint8_t flags,
		const void *data, size_t len, uint64_t real_ns)
{
	bool v6 = src->family == AF_INET6;
	size_t l2 = p->link == PCAP_LINK_ETHERNET ? 14 : 0, l3 = v6 ? 40 : 20;
	uint8_t *pkt = p->pkt, *ip = pkt + l2, *tcp = ip + l3;
	struct pcap_rec_hdr h;
	uint32_t sum;

	memset(pkt, 0, l2 + l3 + 20);
	if (l2) {
		/* Locally administered MACs, made up; only the IP layer is real. */
		static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };

		memcpy(pkt, mac, 6);
		memcpy(pkt + 6, mac, 6);
		pkt[11] = 2;
		put16(pkt + 12, v6 ? 0x86dd : 0x0800);
	}
	if (v6) {
		ip[0] = 0x60;
		put16(ip + 4, 20 + len);
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		memcpy(ip + 8, src->addr, 16);
		memcpy(ip + 24, dst->addr, 16);
	} else {
		ip[0] = 0x45;
		put16(ip + 2, 20 + 20 + len);
		put16(ip + 6, 0x4000); /* DF */
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		memcpy(ip + 12, src->addr, 4);
		memcpy(ip + 16, dst->addr, 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	}
	put16(tcp, src->port);
	put16(tcp + 2, dst->port);
	put32(tcp + 4, seq);
	put32(tcp + 8, flags & TH_ACK ? ack : 0);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 65535);
	if (len)
		memcpy(tcp + 20, data, len);
	/* Pseudo-header, then the segment. */
	sum = csum_add(0, v6 ? ip + 8 : ip + 12, v6 ? 32 : 8);
	sum += IPPROTO_TCP + 20 + len;
	sum = csum_add(sum, tcp, 20 + len);
	put16(tcp + 16, csum_fold(sum));

	h.ts_sec = real_ns / 1000000000ull;
	h.ts_nsec = real_ns % 1000000000ull;
	h.caplen = h.len = l2 + l3 + 20 + len;
	/* A write error sticks to the stream; pcap_out_close() reports it. */
	fwrite(&h, sizeof(h), 1, p->fp);
	fwrite(pkt, h.caplen, 1, p->fp);
	p->packets++;
	return 0;
}

static void fake_endpoint(struct pcap_endpoint *e, uint64_t key, bool server)
{
	uint32_t h = (uint32_t)(key ^ key >> 32) * 2654435761u;

	e->family = AF_INET;
	e->addr[0] = 127;
	e->addr[1] = server ? 0 : 1;
	e->addr[2] = server ? 0 : h >> 8;
	e->addr[3] = server ? 1 : (h & 0xff) | 1;
	e->port = server ? 8443 : 32768 + (h >> 16) % 28000;
}

static bool same_endpoint(const struct pcap_endpoint *a, const struct pcap_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr, b->addr, a->family == AF_INET6 ? 16 : 4);
}

static struct flow *flow_get(struct pcap_out *p, uint64_t key, const struct pcap_endpoint *local,
			     const struct pcap_endpoint *remote, int local_is_client,
			     uint64_t real_ns)
{
	struct flow *f = NULL, *oldest = NULL;
	struct pcap_endpoint l, r;
	uint32_t isn;

	for (int i = 0; i < MAX_FLOWS; i++) {
		struct flow *x = &p->flows[i];

		if (x->used && x->key == key) {
			/* A handle reused for another connection: a new stream. */
			if (!local || !local->family || !remote ||
			    remote->family != local->family ||
			    (same_endpoint(local, &x->cli) && same_endpoint(remote, &x->srv)) ||
			    (same_endpoint(local, &x->srv) && same_endpoint(remote, &x->cli)))
				return x;
			pcap_out_close_conn(p, key, real_ns);
			f = x;
			continue;
		}
		if (!x->used && !f)
			f = x;
		if (x->used && (!oldest || x->last_ns < oldest->last_ns))
			oldest = x;
	}
	if (!f) {
		pcap_out_close_conn(p, oldest->key, real_ns);
		f = oldest;
	}
	if (local && local->family && remote && remote->family == local->family) {
		l = *local;
		r = *remote;
	} else {
		fake_endpoint(&l, key, false);
		fake_endpoint(&r, key, true);
		local_is_client = 1;
	}
	if (local_is_client < 0)
		local_is_client = l.port >= r.port;
	memset(f, 0, sizeof(*f));
	f->used = true;
	f->key = key;
	f->cli = local_is_client ? l : r;
	f->srv = local_is_client ? r : l;
	isn = (uint32_t)(key * 0x9e3779b97f4a7c15ull >> 32);
	f->seq[0] = isn;
	f->seq[1] = ~isn;
	/* The handshake, so that dissectors see the stream from its start. */
	emit(p, &f->cli, &f->srv, f->seq[0]++, 0, TH_SYN, NULL, 0, real_ns);
	emit(p, &f->srv, &f->cli, f->seq[1]++, f->seq[0], TH_SYN | TH_ACK, NULL, 0, real_ns);
	emit(p, &f->cli, &f->srv, f->seq[0], f->seq[1], TH_ACK, NULL, 0, real_ns);
	return f;
}

int pcap_out_data(struct pcap_out *p, uint64_t key, const struct pcap_endpoint *local,
		  const struct pcap_endpoint *remote, int local_is_client, bool outgoing,
		  const void *data, size_t len, uint64_t real_ns)
{
	const uint8_t *b = data;
	struct flow *f = flow_get(p, key, local, remote, local_is_client, real_ns);
	bool from_cli;
	int d;

	/* Which side is local was fixed when the flow began. */
	from_cli = local && local->family ? same_endpoint(local, &f->cli) == outgoing : outgoing;
	d = from_cli ? 0 : 1;
	f->last_ns = real_ns;
	while (len) {
		size_t n = len < SEG_MAX ? len : SEG_MAX;

		emit(p, d ? &f->srv : &f->cli, d ? &f->cli : &f->srv, f->seq[d], f->seq[!d],
		     TH_ACK | TH_PSH, b, n, real_ns);
		f->seq[d] += n;
		b += n;
		len -= n;
	}
	return 0;
}

void pcap_out_close_conn(struct pcap_out *p, uint64_t key, uint64_t real_ns)
{
	for (int i = 0; i < MAX_FLOWS; i++) {
		struct flow *f = &p->flows[i];

		if (!f->used || f->key != key)
			continue;
		emit(p, &f->cli, &f->srv, f->seq[0]++, f->seq[1], TH_FIN | TH_ACK, NULL, 0,
		     real_ns);
		emit(p, &f->srv, &f->cli, f->seq[1]++, f->seq[0], TH_FIN | TH_ACK, NULL, 0,
		     real_ns);
		emit(p, &f->cli, &f->srv, f->seq[0], f->seq[1], TH_ACK, NULL, 0, real_ns);
		f->used = false;
	}
}

uint64_t pcap_out_packets(const struct pcap_out *p)
{
	return p->packets;
}

int pcap_out_close(struct pcap_out *p, uint64_t real_ns)
{
	int err = 0;

	if (!p)
		return 0;
	for (int i = 0; i < MAX_FLOWS; i++)
		if (p->flows[i].used)
			pcap_out_close_conn(p, p->flows[i].key, real_ns);
	if (fflush(p->fp) || ferror(p->fp))
		err = -EIO;
	if (fclose(p->fp) && !err)
		err = -EIO;
	free(p->flows);
	free(p);
	return err;
}
