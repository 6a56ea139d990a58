// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Unit tests of the pcap writer: read the file back with libpcap and check
 * the handshake, per-direction sequence numbers, checksums and payloads.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <pcap/pcap.h>

#include "gadgets/ssl/pcap.h"
#include "../lib/csum.h"

struct pkt {
	int family;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	size_t len;
	uint8_t data[70000];
	bool ip_ok, tcp_ok;
};

static void parse(const uint8_t *p, size_t caplen, int l2, struct pkt *out)
{
	const uint8_t *ip = p + l2, *tcp;
	size_t tlen;
	uint32_t s;

	memset(out, 0, sizeof(*out));
	if ((ip[0] >> 4) == 4) {
		out->family = AF_INET;
		out->ip_ok = csum_ok(csum_words(0, ip, 20));
		tcp = ip + 20;
		tlen = (ip[2] << 8 | ip[3]) - 20;
		s = csum_words(0, ip + 12, 8);
	} else {
		out->family = AF_INET6;
		out->ip_ok = true;
		tcp = ip + 40;
		tlen = ip[4] << 8 | ip[5];
		s = csum_words(0, ip + 8, 32);
	}
	assert_int_equal(tcp - p + tlen, caplen);
	s += 6 + tlen;
	out->tcp_ok = csum_ok(csum_words(s, tcp, tlen));
	out->sport = tcp[0] << 8 | tcp[1];
	out->dport = tcp[2] << 8 | tcp[3];
	out->seq = (uint32_t)tcp[4] << 24 | tcp[5] << 16 | tcp[6] << 8 | tcp[7];
	out->ack = (uint32_t)tcp[8] << 24 | tcp[9] << 16 | tcp[10] << 8 | tcp[11];
	out->flags = tcp[13];
	out->len = tlen - 20;
	memcpy(out->data, tcp + 20, out->len);
}

static void test_streams(void **state)
{
	char path[] = "/tmp/loupe-test-pcap-XXXXXX", err[256];
	int fd = mkstemp(path);
	struct pcap_endpoint l4 = { AF_INET, { 10, 0, 0, 1 }, 51000 },
			     r4 = { AF_INET, { 10, 0, 0, 2 }, 443 }, l6 = { AF_INET6 },
			     r6 = { AF_INET6 };
	static uint8_t big[40000];
	struct pcap_out *p;
	pcap_t *in;
	struct pcap_pkthdr *h;
	const u_char *bytes;
	static struct pkt pk[32];
	int n = 0;
	struct stat st;

	close(fd);
	inet_pton(AF_INET6, "2001:db8::1", l6.addr);
	inet_pton(AF_INET6, "2001:db8::2", r6.addr);
	l6.port = 8443; /* a server: the remote side is the client */
	r6.port = 40000;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = i;

	p = pcap_out_open(path, PCAP_LINK_ETHERNET, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	pcap_out_data(p, 1, &l4, &r4, -1, true, "GET / HTTP/1.1\r\n\r\n", 18, 1000000000ull);
	pcap_out_data(p, 2, &l6, &r6, 0, false, "hello", 5, 1000000500ull);
	pcap_out_data(p, 1, &l4, &r4, -1, false, big, sizeof(big), 1000001000ull);
	pcap_out_data(p, 1, &l4, &r4, -1, true, "x", 1, 1000002000ull);
	assert_int_equal(pcap_out_close(p, 1000003000ull), 0);

	in = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	assert_non_null(in);
	assert_int_equal(pcap_datalink(in), DLT_EN10MB);
	while (pcap_next_ex(in, &h, &bytes) == 1 && n < 32) {
		if (n == 0)
			assert_int_equal(h->ts.tv_usec, 0);
		parse(bytes, h->caplen, 14, &pk[n]);
		assert_true(pk[n].ip_ok);
		assert_true(pk[n].tcp_ok);
		n++;
	}
	pcap_close(in);
	unlink(path);

	/* 3 handshake + 1 + (3 + 1) + 2 segments + 1 + 3 + 3 closing. */
	assert_int_equal(n, 17);
	/* Flow 1: local 51000 is the client (the higher port). */
	assert_int_equal(pk[0].flags, 0x02);
	assert_int_equal(pk[0].sport, 51000);
	assert_int_equal(pk[1].flags, 0x12);
	assert_int_equal(pk[1].ack, pk[0].seq + 1);
	assert_int_equal(pk[2].flags, 0x10);
	assert_int_equal(pk[3].seq, pk[0].seq + 1);
	assert_int_equal(pk[3].len, 18);
	assert_memory_equal(pk[3].data, "GET / HTTP/1.1\r\n\r\n", 18);
	/* Flow 2: IPv6, the remote side opened it. */
	assert_int_equal(pk[4].family, AF_INET6);
	assert_int_equal(pk[4].sport, 40000);
	assert_int_equal(pk[4].flags, 0x02);
	assert_int_equal(pk[7].sport, 40000); /* "hello" came in: client -> local server */
	assert_int_equal(pk[7].dport, 8443);
	assert_int_equal(pk[7].len, 5);
	/* The big reply: two segments, sequence numbers follow the bytes. */
	assert_int_equal(pk[8].sport, 443);
	assert_int_equal(pk[8].seq, pk[1].seq + 1);
	assert_int_equal(pk[8].ack, pk[3].seq + 18);
	assert_int_equal(pk[8].len + pk[9].len, sizeof(big));
	assert_int_equal(pk[9].seq, pk[8].seq + pk[8].len);
	assert_memory_equal(pk[9].data, big + pk[8].len, pk[9].len);
	assert_int_equal(pk[10].seq, pk[3].seq + 18);
	assert_int_equal(pk[10].ack, pk[9].seq + pk[9].len);
	/* FINs close both directions. */
	assert_int_equal(pk[11].flags, 0x11);
	assert_int_equal(pk[12].flags, 0x11);
}

static void test_unknown_endpoints_and_raw(void **state)
{
	char path[] = "/tmp/loupe-test-pcap-XXXXXX", err[256];
	int fd = mkstemp(path);
	struct pcap_out *p;
	pcap_t *in;
	struct pcap_pkthdr *h;
	const u_char *bytes;
	struct pcap_endpoint none = {};
	static struct pkt pk;
	int n = 0;

	close(fd);
	p = pcap_out_open(path, PCAP_LINK_RAW, err, sizeof(err));
	assert_non_null(p);
	pcap_out_data(p, 0xffff8880deadbeefull, &none, &none, -1, true, "abc", 3, 5);
	assert_int_equal(pcap_out_packets(p), 4);
	pcap_out_close(p, 6);
	in = pcap_open_offline(path, err);
	assert_non_null(in);
	assert_int_equal(pcap_datalink(in), DLT_RAW);
	while (pcap_next_ex(in, &h, &bytes) == 1) {
		parse(bytes, h->caplen, 0, &pk);
		assert_int_equal(pk.family, AF_INET);
		assert_true(pk.tcp_ok);
		if (n == 0)
			assert_int_equal(pk.dport, 8443);
		n++;
	}
	assert_int_equal(n, 7);
	pcap_close(in);
	unlink(path);
	/* An unwritable path is an error with a reason. */
	assert_null(pcap_out_open("/nonexistent/dir/x.pcap", PCAP_LINK_RAW, err, sizeof(err)));
	assert_string_equal(err, "No such file or directory");
}

/* A file that stops growing (a full disk, a size limit) is an error at close. */
static void test_write_error(void **state)
{
	char path[] = "/tmp/loupe-test-pcap-XXXXXX", err[256];
	int fd = mkstemp(path);
	struct pcap_endpoint none = {};
	struct rlimit old, lim = { 65536, 65536 }; /* far above a test log */
	static uint8_t big[100000];
	struct pcap_out *p;

	close(fd);
	signal(SIGXFSZ, SIG_IGN); /* EFBIG from write() instead of the signal */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	p = pcap_out_open(path, PCAP_LINK_RAW, err, sizeof(err));
	assert_non_null(p);
	pcap_out_data(p, 1, &none, &none, -1, true, big, sizeof(big), 5);
	assert_int_equal(pcap_out_close(p, 6), -EFBIG); /* the write's own error */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_unknown_endpoints_and_raw),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
