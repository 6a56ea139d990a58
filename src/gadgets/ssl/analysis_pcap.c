// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --pcap FILE: the plaintext as TCP streams between the connection's real
 * endpoints (pcap.c synthesizes the packets), for Wireshark and tshark.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"
#include "pcap.h"
#include "sink.h"

struct pcap_state {
	struct pcap_out *out;
	const char *path;
	unsigned int eph_lo, eph_hi; /* ip_local_port_range */
};

static bool pcap_wanted(const struct ssl_state *st)
{
	return st->pcap_path != NULL;
}

static int pcap_open(struct session *s)
{
	struct ssl_state *st = s->state;
	struct pcap_state *ps = calloc(1, sizeof(*ps));
	char err[256];
	struct sink *sk;
	FILE *fp;

	if (!ps)
		return -ENOMEM;
	st->an->priv[AN_PCAP] = ps;
	ps->path = st->pcap_path;
	ps->eph_lo = 32768;
	ps->eph_hi = 60999;
	fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	if (fp) {
		if (fscanf(fp, "%u %u", &ps->eph_lo, &ps->eph_hi) != 2)
			ps->eph_lo = ps->eph_hi = 0;
		fclose(fp);
	}
	if (sink_open(&sk, ps->path, "pcap", s->sink_opts, err, sizeof(err))) {
		loupe_err("cannot write --pcap %s: %s", ps->path, err);
		return -EIO;
	}
	if (!(ps->out = pcap_out_new(sk, PCAP_LINK_ETHERNET)))
		return -ENOMEM;
	return 0;
}

/*
 * Which side opened the connection, for the pcap's SYN: what the library
 * said (SSL_connect/SSL_accept), else where the HTTP client spoke, else the
 * side with an ephemeral port; -1: the pcap writer guesses (higher port).
 */
static int local_is_client(const struct pcap_state *ps, const struct ssl_call *c)
{
	const struct ssl_sock *k = &c->r->sock;
	bool le, re;

	if (k->role == SSL_ROLE_CLIENT || k->role == SSL_ROLE_SERVER)
		return k->role == SSL_ROLE_CLIENT;
	if (c->conn && c->conn->client_dir >= 0)
		return c->conn->client_dir;
	le = k->tuple.lport >= ps->eph_lo && k->tuple.lport <= ps->eph_hi;
	re = k->tuple.rport >= ps->eph_lo && k->tuple.rport <= ps->eph_hi;
	return le != re ? le : -1;
}

static int pcap_feed(struct session *s, struct ssl_call *c)
{
	struct ssl_state *st = s->state;
	struct pcap_state *ps = st->an->priv[AN_PCAP];
	const struct ssl_sock *k = &c->r->sock;
	struct pcap_endpoint l = {}, rm = {};

	if (!ssl_kind_has_data(c->op->kind) || !c->len)
		return 0;
	if (k->fd >= 0 && (k->tuple.family == AF_INET || k->tuple.family == AF_INET6)) {
		l.family = rm.family = k->tuple.family;
		memcpy(l.addr, k->tuple.laddr, 16);
		memcpy(rm.addr, k->tuple.raddr, 16);
		l.port = k->tuple.lport;
		rm.port = k->tuple.rport;
	}
	pcap_out_data(ps->out, c->r->conn ^ (uint64_t)c->r->proc.pid << 48, &l, &rm,
		      local_is_client(ps, c), c->write, c->data, c->len,
		      boot_to_wall_ns(c->r->proc.ts_ns));
	return 0;
}

static void pcap_close(struct session *s)
{
	struct ssl_state *st = s->state;
	struct pcap_state *ps = st->an->priv[AN_PCAP];

	if (!ps)
		return;
	if (ps->out && pcap_out_close(ps->out, loupe_clock_ns(CLOCK_REALTIME)))
		loupe_warn("writing --pcap %s failed: its last file may be cut", ps->path);
	free(ps);
}

const struct ssl_analysis ssl_analysis_pcap = {
	.name = "pcap",
	.wanted = pcap_wanted,
	.open = pcap_open,
	.feed = pcap_feed,
	.close = pcap_close,
};
