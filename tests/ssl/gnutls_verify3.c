// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * gnutls_verify3 HOST PORT: a GnuTLS client that checks the server's
 * certificate with gnutls_certificate_verify_peers3() (what a client that
 * names the host it expects calls), prints the status, and carries on with
 * a request whatever the verdict, as a client with checks turned "soft" does.
 * Nothing in Debian calls verify_peers3; this is the smallest program that does.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>

int main(int argc, char **argv)
{
	gnutls_certificate_credentials_t cred;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	gnutls_session_t session;
	unsigned int status = 0;
	char buf[256];
	int fd, ret;

	if (argc != 3 || getaddrinfo(argv[1], argv[2], &hints, &ai)) {
		fprintf(stderr, "usage: gnutls_verify3 HOST PORT\n");
		return 2;
	}
	fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen)) {
		perror("connect");
		return 1;
	}
	gnutls_global_init();
	gnutls_certificate_allocate_credentials(&cred);
	gnutls_certificate_set_x509_system_trust(cred);
	gnutls_init(&session, GNUTLS_CLIENT);
	gnutls_set_default_priority(session);
	gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_server_name_set(session, GNUTLS_NAME_DNS, argv[1], strlen(argv[1]));
	gnutls_transport_set_int(session, fd);
	do
		ret = gnutls_handshake(session);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0) {
		fprintf(stderr, "handshake: %s\n", gnutls_strerror(ret));
		return 1;
	}
	ret = gnutls_certificate_verify_peers3(session, argv[1], &status);
	printf("verify_peers3 %d status 0x%x\n", ret, status);
	snprintf(buf, sizeof(buf), "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", argv[1]);
	gnutls_record_send(session, buf, strlen(buf));
	while (gnutls_record_recv(session, buf, sizeof(buf)) > 0)
		;
	gnutls_bye(session, GNUTLS_SHUT_RDWR);
	close(fd);
	/* Freed, so that a LeakSanitizer build (make check SANITIZE=1) finds nothing. */
	gnutls_deinit(session);
	gnutls_certificate_free_credentials(cred);
	gnutls_global_deinit();
	freeaddrinfo(ai);
	return 0;
}
