/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Captured plaintext as a pcap file of synthesized TCP segments, so that
 * Wireshark and tshark decode the HTTP inside.  Each connection becomes one
 * TCP stream between its real endpoints, opened with SYN, SYN-ACK, ACK, with
 * sequence numbers that follow the bytes of each direction.  The file is the
 * classic pcap format with nanosecond timestamps, written without libpcap.
 */
#ifndef LOUPE_SSL_PCAP_H
#define LOUPE_SSL_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An IPv4 or IPv6 endpoint; addr in network order (4 or 16 bytes), port in host order. */
struct pcap_endpoint {
	int family; /* AF_INET, AF_INET6, or 0: unknown */
	uint8_t addr[16];
	uint16_t port;
};

enum pcap_link {
	PCAP_LINK_ETHERNET, /* DLT_EN10MB, made-up MAC addresses */
	PCAP_LINK_RAW,	    /* DLT_RAW: bare IPv4/IPv6 */
};

struct pcap_out;
struct sink;

/* Packets into sk (rotated, encrypted as it was opened), which it owns now; NULL: no memory. */
struct pcap_out *pcap_out_new(struct sink *sk, enum pcap_link link);

/* One plain file (sink_open()'s rules); NULL on failure, with the reason in err. */
struct pcap_out *pcap_out_open(const char *path, enum pcap_link link, char *err, size_t errlen);

/*
 * Bytes of connection key moving from local to remote (outgoing) or back,
 * at wall-clock time real_ns.  Unknown endpoints (family 0) are replaced by
 * made-up ones derived from the key (127.1.x.y, port 443 for the remote).
 * local_is_client: 1, 0, or -1 to guess (the side with the higher port).
 */
int pcap_out_data(struct pcap_out *p, uint64_t key, const struct pcap_endpoint *local,
		  const struct pcap_endpoint *remote, int local_is_client, bool outgoing,
		  const void *data, size_t len, uint64_t real_ns);

/* FIN both ways for one connection (it is closed); a later write starts a new stream. */
void pcap_out_close_conn(struct pcap_out *p, uint64_t key, uint64_t real_ns);

/* Packets written so far. */
uint64_t pcap_out_packets(const struct pcap_out *p);

/* Close every open stream and the file; returns 0 or -errno. */
int pcap_out_close(struct pcap_out *p, uint64_t real_ns);

#endif /* LOUPE_SSL_PCAP_H */
