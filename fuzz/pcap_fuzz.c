// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
// FUZZ_SRCS: src/gadgets/ssl/pcap.c src/sink.c
// FUZZ_LIBS: -lpcap -lcrypto
// FUZZ_CFLAGS: -DMAX_FLOWS=8
/*
 * pcap synthesis (src/gadgets/ssl/pcap.c): calls of up to 16 connections
 * (twice the flows it keeps here: old ones are closed to make room),
 * endpoints known or not, IPv4 or IPv6, directions and closes as the input
 * says, written to a file in memory and read back with libpcap.  Checked:
 * every packet is well formed (lengths, IP and TCP checksums), every stream
 * starts with a SYN and its sequence numbers follow its bytes, the payloads
 * in file order are exactly the bytes given, and every stream is closed.
 *
 * First byte: bit 0 the link type (raw IP or Ethernet).  Then operations:
 * a byte op (bits 0-1: 3 closes connection op >> 2 & 15, else data for it;
 * bits 6-7: time since the previous operation in microseconds)
 * and, for data, a flags byte (bit 0 outgoing; bits 1-2 local_is_client 0,
 * 1 or -1; bits 3-4 endpoints unknown, IPv4, IPv6, or of two families;
 * bits 5-6 which of four endpoint pairs), a 16-bit little-endian length and
 * the bytes.  Seeds: captured calls (fuzz/make-corpus.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include <pcap/pcap.h>

#include "gadgets/ssl/pcap.h"
#include "sink.h"
#include "lib/expect.h"
#include "../tests/lib/csum.h"

#define MAX_DIRS 256

/* A stream's direction, by its addresses and ports, and the next sequence number. */
struct sdir {
	uint8_t key[36]; /* src, dst (16 each), ports */
	enum { S_NONE, S_OPEN, S_FIN } state;
	uint32_t next;
};

struct check {
	uint8_t *payload; /* every payload byte read back, in file order */
	size_t len, cap;
	struct sdir dirs[MAX_DIRS];
	int ndirs;
};

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static struct sdir *sdir_get(struct check *ck, const uint8_t *src, const uint8_t *dst, size_t alen,
			     const uint8_t *ports)
{
	uint8_t key[36] = {};

	memcpy(key, src, alen);
	memcpy(key + 16, dst, alen);
	memcpy(key + 32, ports, 4);
	for (int i = 0; i < ck->ndirs; i++)
		if (!memcmp(ck->dirs[i].key, key, sizeof(key)))
			return &ck->dirs[i];
	expect(ck->ndirs < MAX_DIRS);
	memcpy(ck->dirs[ck->ndirs].key, key, sizeof(key));
	return &ck->dirs[ck->ndirs++];
}

/* One packet: well formed, in sequence; its payload appended. */
static void check_packet(struct check *ck, const struct pcap_pkthdr *h, const uint8_t *pkt,
			 bool raw)
{
	size_t l2 = raw ? 0 : 14, l3, tcplen;
	const uint8_t *ip = pkt + l2, *tcp;
	uint32_t sum, seq;
	uint8_t flags;
	bool v6;
	struct sdir *d;

	expect(h->caplen == h->len && h->caplen >= l2 + 40);
	v6 = (ip[0] >> 4) == 6;
	if (!raw)
		expect(pkt[12] == (v6 ? 0x86 : 0x08) && pkt[13] == (v6 ? 0xdd : 0x00));
	if (v6) {
		l3 = 40;
		expect(h->caplen >= l2 + 60);
		expect(((size_t)ip[4] << 8 | ip[5]) == h->caplen - l2 - 40 && ip[6] == IPPROTO_TCP);
	} else {
		l3 = 20;
		expect(ip[0] == 0x45 && ip[9] == IPPROTO_TCP);
		expect(((size_t)ip[2] << 8 | ip[3]) == h->caplen - l2);
		expect(csum_ok(csum_words(0, ip, 20)));
	}
	tcp = ip + l3;
	tcplen = h->caplen - l2 - l3;
	expect(tcp[12] == 5 << 4);
	sum = csum_words(0, v6 ? ip + 8 : ip + 12, v6 ? 32 : 8) + IPPROTO_TCP + tcplen;
	expect(csum_ok(csum_words(sum, tcp, tcplen)));

	d = sdir_get(ck, v6 ? ip + 8 : ip + 12, v6 ? ip + 24 : ip + 16, v6 ? 16 : 4, tcp);
	seq = get32(tcp + 4);
	flags = tcp[13];
	if (flags & 0x02) { /* SYN: a new stream, never over an open one */
		expect(d->state != S_OPEN && tcplen == 20);
		d->state = S_OPEN;
		d->next = seq + 1;
		return;
	}
	/* Data and FIN in an open stream; after the FIN, the last ACK only. */
	expect(seq == d->next && (d->state == S_OPEN || (d->state == S_FIN && tcplen == 20)));
	d->next += tcplen - 20 + (flags & 0x01);
	if (flags & 0x01)
		d->state = S_FIN;
	if (tcplen == 20)
		return;
	if (ck->len + tcplen - 20 > ck->cap) {
		ck->cap = (ck->len + tcplen) * 2;
		ck->payload = realloc(ck->payload, ck->cap);
		expect(ck->payload);
	}
	memcpy(ck->payload + ck->len, tcp + 20, tcplen - 20);
	ck->len += tcplen - 20;
}

/* Connection i's endpoints of kind 1 (IPv4), 2 (IPv6) or 3 (of both); pair chooses one of four. */
static void endpoints(int i, int kind, int pair, struct pcap_endpoint *l, struct pcap_endpoint *r)
{
	memset(l, 0, sizeof(*l));
	memset(r, 0, sizeof(*r));
	l->family = kind == 2 ? AF_INET6 : AF_INET;
	r->family = kind == 1 ? AF_INET : AF_INET6;
	/* Distinct per connection and pair: no two streams share their addresses and ports. */
	l->addr[0] = r->addr[0] = 10;
	l->addr[1] = i;
	l->addr[2] = pair;
	l->addr[15] = 1;
	r->addr[15] = 2;
	l->port = 10000 + i * 4 + pair;
	r->port = 443;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct check ck = {};
	struct pcap_out *p;
	struct sink *sk;
	char err[PCAP_ERRBUF_SIZE];
	uint8_t *fed = malloc(size + 1);
	size_t nfed = 0, pos = 1;
	uint64_t ns = 1700000000000000000ull, packets, nread = 0;
	bool raw;
	pcap_t *in;
	struct pcap_pkthdr *h;
	const uint8_t *pkt;

	if (fd < 0) {
		fd = memfd_create("pcap_fuzz", 0);
		expect(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (!size || !fed) {
		free(fed);
		return 0;
	}
	raw = data[0] & 1;
	/* The same memory file each run, emptied; the sink closes its own descriptor. */
	expect(!ftruncate(fd, 0) && lseek(fd, 0, SEEK_SET) == 0);
	sk = sink_fdopen(dup(fd));
	expect(sk);
	p = pcap_out_new(sk, raw ? PCAP_LINK_RAW : PCAP_LINK_ETHERNET);
	expect(p);
	while (pos < size) {
		uint8_t op = data[pos++], f;
		int i = op >> 2 & 15, kind, lic;
		/* Like SSL * addresses; their made-up endpoints (pcap.c) all differ. */
		uint64_t key = 0x55d0c0ffee00ull + i * 0x1040ull + ((uint64_t)i << 40);
		struct pcap_endpoint l, r;
		size_t len;

		ns += 1000 * (op >> 6);
		if ((op & 3) == 3) {
			pcap_out_close_conn(p, key, ns);
			continue;
		}
		if (pos + 3 > size)
			break;
		f = data[pos];
		len = data[pos + 1] | (size_t)data[pos + 2] << 8;
		pos += 3;
		if (len > size - pos)
			len = size - pos;
		kind = f >> 3 & 3;
		lic = (f >> 1 & 3) > 1 ? -1 : f >> 1 & 1;
		endpoints(i, kind, f >> 5 & 3, &l, &r);
		expect(!pcap_out_data(p, key, kind ? &l : NULL, kind ? &r : NULL, lic, f & 1,
				      data + pos, len, ns));
		memcpy(fed + nfed, data + pos, len);
		nfed += len;
		pos += len;
	}
	packets = pcap_out_packets(p);
	expect(!pcap_out_close(p, ns));

	in = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	expect(in);
	expect(pcap_datalink(in) == (raw ? DLT_RAW : DLT_EN10MB));
	while (pcap_next_ex(in, &h, &pkt) == 1) {
		check_packet(&ck, h, pkt, raw);
		nread++;
	}
	pcap_close(in);
	/* pcap_out_close() closed every stream, with packets of its own. */
	expect(nread >= packets);
	for (int k = 0; k < ck.ndirs; k++)
		expect(ck.dirs[k].state != S_OPEN);
	expect(ck.len == nfed && (!nfed || !memcmp(ck.payload, fed, nfed)));
	free(ck.payload);
	free(fed);
	return 0;
}
