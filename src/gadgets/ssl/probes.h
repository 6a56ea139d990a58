/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Every function the ssl gadget probes, one row each, grouped by backend.
 * This table is the one source of the operation enum and names (ssl.h), the
 * BPF programs (ssl.bpf.c) and each backend's attach list (backend.c):
 * adding a function is adding a row.
 *
 * Columns of X(lib, func, kind, dir, flags):
 *   lib    the programs' name part: trace_uprobe_<lib>_<func>, trace_uretprobe_...
 *   func   the symbol probed
 *   kind   what the probes do with the call (SSL_KIND_*, below): it chooses
 *          the programs, so calls alike share their code
 *   dir    SSL_DIR_* of the events it makes
 *   flags  PROBE_* (below)
 */
#ifndef LOUPE_SSL_PROBES_H
#define LOUPE_SSL_PROBES_H

/*
 * What the probes of a function do.  Data kinds copy the buffer at return:
 *   RW         int f(handle, buf, num): bytes moved = return value
 *   RW_EX      int f(handle, buf, num, size_t *bytes): 1 and *bytes on success
 *   RECORD     ssize_t f(session, buf, size): bytes moved = return value
 *   NSPR       PRInt32 f(PRFileDesc *, buf, amount, ...): kept only when the
 *              descriptor has NSS's SSL layer
 * Others:
 *   HANDSHAKE  int f(handle): an event with latency, 1 when done
 *   HS_CLIENT, HS_SERVER, HS_ANY
 *              a handshake that makes no event: the system calls inside it
 *              tell the connection's endpoints early (and its role)
 *   CRYPTO     latency of a libcrypto call (--crypto), no data
 *   IMAGE      entry only: where the library's image lies in this process
 *   VERIFY_MODE    entry only: f(ctx_or_ssl, mode, ...) with mode 0 (--verify)
 *   VERIFY_RESULT  long f(ssl): a non-zero result (--verify)
 *   VERIFY_PEERS2  int f(session, unsigned *status): a non-zero *status
 *   VERIFY_PEERS3  int f(session, const char *host, unsigned *status)
 *   VERIFY_PEERS   int f(session, typed data, elements, unsigned *status); the
 *                  two above call it inside GnuTLS: the outer call is reported
 * Go (go.bpf.h: no return probes, the "return" program runs on each RET):
 *   GO_RW      func (c *Conn) Read/Write(b []byte) (int, error)
 *   GO_HS_CLIENT, GO_HS_SERVER
 *              func (c *Conn) clientHandshake/serverHandshake(ctx) error: an
 *              event with latency (Handshake and HandshakeContext run on
 *              every Read and Write and return at once once it is done)
 * Certificates (--certs, certs.bpf.h):
 *   CERT_DER   X509 *f(X509 **, const unsigned char **der, long len): entry only;
 *              a certificate of the connection whose TLS call the thread is in
 *   CERT_NEST  entry and return: what CERT_DER decodes inside it is not the
 *              peer's (a trusted certificate loaded from a CA directory)
 *   CERT_ITEM  f(handle, SECItem *der, ...): entry only; kept when the caller
 *              is NSS's SSL layer (libssl3.so) inside a TLS call
 *   CERT_LIST  const gnutls_datum_t *f(session, unsigned int *n): the n
 *              certificates returned
 *   SNI_CTRL   long f(ssl, int cmd, long larg, void *name): the server name
 *              when cmd is SSL_CTRL_SET_TLSEXT_HOSTNAME
 *   SNI_LEN    int f(session, int type, const void *name, size_t len): a DNS name
 *   SNI_STR    f(handle, const char *name): entry only
 *   CONN_NEW   handle f(parent): the context a new connection inherits from;
 *              with an image cookie, where the library lies (CERT_DER's callers)
 * Connection identity (ssl_conns in ssl.bpf.c):
 *   CONN_END   f(handle, ...): entry only; the handle's connection is over (the
 *              library frees or resets it): its id is retired, user space told
 *   GO_CONN_END    func (c *Conn) Close() error: the same, for Go
 *   CONN_RESET f(handle): entry only; ends the connection if it made a call or
 *              used its socket (OpenSSL calls SSL_clear itself when the first
 *              handshake starts: that is no new connection)
 */
#define SSL_KIND_RW 0
#define SSL_KIND_RW_EX 1
#define SSL_KIND_RECORD 2
#define SSL_KIND_NSPR 3
#define SSL_KIND_HANDSHAKE 4
#define SSL_KIND_HS_CLIENT 5
#define SSL_KIND_HS_SERVER 6
#define SSL_KIND_HS_ANY 7
#define SSL_KIND_CRYPTO 8
#define SSL_KIND_IMAGE 9
#define SSL_KIND_VERIFY_MODE 10
#define SSL_KIND_VERIFY_RESULT 11
#define SSL_KIND_VERIFY_PEERS2 12
#define SSL_KIND_VERIFY_PEERS3 13
#define SSL_KIND_VERIFY_PEERS 14
#define SSL_KIND_GO_RW 15
#define SSL_KIND_GO_HS_CLIENT 16
#define SSL_KIND_GO_HS_SERVER 17
#define SSL_KIND_CERT_DER 18
#define SSL_KIND_CERT_NEST 19
#define SSL_KIND_CERT_ITEM 20
#define SSL_KIND_CERT_LIST 21
#define SSL_KIND_SNI_CTRL 22
#define SSL_KIND_SNI_LEN 23
#define SSL_KIND_SNI_STR 24
#define SSL_KIND_CONN_NEW 25
#define SSL_KIND_CONN_END 26
#define SSL_KIND_GO_CONN_END 27
#define SSL_KIND_CONN_RESET 28

/*
 * Flags:
 *   PROBE_CORE    the backend's own calls: a file has the backend when it
 *                 has these, and a missing one is a warning naming it
 *   PROBE_HELPER  probed where the backend is, silently absent elsewhere
 *   PROBE_MARKER  probed wherever it is found, on its own (NSS's
 *                 SSL_ImportFD lives in libssl3.so, its I/O in libnspr4.so)
 *   PROBE_VERIFY  only with --verify
 *   PROBE_IMAGE_COOKIE  the attach cookie holds the function's address in
 *                 the file (low 32 bits) and the image size (high 32 bits)
 *   PROBE_CERTS   only with --certs
 */
#define PROBE_CORE 0x1
#define PROBE_HELPER 0x2
#define PROBE_MARKER 0x4
#define PROBE_VERIFY 0x8
#define PROBE_IMAGE_COOKIE 0x10
#define PROBE_CERTS 0x20

/* OpenSSL, and BoringSSL or OpenSSL linked into an executable (node). */
#define SSL_OPENSSL_PROBES(X)                                                              \
	X(libssl, SSL_read, RW, READ, PROBE_CORE)                                          \
	X(libssl, SSL_write, RW, WRITE, PROBE_CORE)                                        \
	X(libssl, SSL_read_ex, RW_EX, READ, PROBE_CORE)                                    \
	X(libssl, SSL_write_ex, RW_EX, WRITE, PROBE_CORE)                                  \
	X(libssl, SSL_do_handshake, HANDSHAKE, HANDSHAKE, PROBE_CORE)                      \
	X(libssl, SSL_connect, HS_CLIENT, NONE, PROBE_HELPER)                              \
	X(libssl, SSL_accept, HS_SERVER, NONE, PROBE_HELPER)                               \
	X(libssl, SSL_CTX_set_verify, VERIFY_MODE, VERIFY, PROBE_HELPER | PROBE_VERIFY)    \
	X(libssl, SSL_set_verify, VERIFY_MODE, VERIFY, PROBE_HELPER | PROBE_VERIFY)        \
	X(libssl, SSL_get_verify_result, VERIFY_RESULT, VERIFY, PROBE_HELPER | PROBE_VERIFY) \
	X(libssl, SSL_new, CONN_NEW, CERT, PROBE_HELPER | PROBE_CERTS | PROBE_IMAGE_COOKIE) \
	X(libssl, SSL_ctrl, SNI_CTRL, CERT, PROBE_HELPER | PROBE_CERTS)                    \
	X(libcrypto, d2i_X509, CERT_DER, CERT, PROBE_MARKER | PROBE_CERTS)                 \
	X(libcrypto, d2i_X509_AUX, CERT_NEST, NONE, PROBE_MARKER | PROBE_CERTS)             \
	X(libssl, SSL_free, CONN_END, NONE, PROBE_HELPER)                                  \
	X(libssl, SSL_clear, CONN_RESET, NONE, PROBE_HELPER)

#define SSL_GNUTLS_PROBES(X)                                                               \
	X(libgnutls, gnutls_record_send, RECORD, WRITE, PROBE_CORE)                        \
	X(libgnutls, gnutls_record_recv, RECORD, READ, PROBE_CORE)                         \
	X(libgnutls, gnutls_handshake, HS_ANY, NONE, PROBE_HELPER)                         \
	X(libgnutls, gnutls_certificate_verify_peers2, VERIFY_PEERS2, VERIFY,               \
	  PROBE_HELPER | PROBE_VERIFY)                                                     \
	X(libgnutls, gnutls_certificate_verify_peers3, VERIFY_PEERS3, VERIFY,               \
	  PROBE_HELPER | PROBE_VERIFY)                                                     \
	X(libgnutls, gnutls_certificate_verify_peers, VERIFY_PEERS, VERIFY,                 \
	  PROBE_HELPER | PROBE_VERIFY)                                                     \
	X(libgnutls, gnutls_server_name_set, SNI_LEN, CERT, PROBE_HELPER | PROBE_CERTS)    \
	X(libgnutls, gnutls_certificate_get_peers, CERT_LIST, CERT, PROBE_HELPER | PROBE_CERTS) \
	X(libgnutls, gnutls_deinit, CONN_END, NONE, PROBE_HELPER)

/* NSS: its I/O goes through NSPR's PR_* calls; its SSL layer is in libssl3.so. */
#define SSL_NSS_PROBES(X)                                                                  \
	X(libnss, PR_Write, NSPR, WRITE, PROBE_CORE)                                       \
	X(libnss, PR_Send, NSPR, WRITE, PROBE_CORE)                                        \
	X(libnss, PR_Read, NSPR, READ, PROBE_CORE)                                         \
	X(libnss, PR_Recv, NSPR, READ, PROBE_CORE)                                         \
	X(libnss, SSL_ImportFD, IMAGE, NONE, PROBE_MARKER | PROBE_IMAGE_COOKIE)            \
	X(libnss, SSL_SetURL, SNI_STR, CERT, PROBE_MARKER | PROBE_CERTS)                   \
	X(libnss, CERT_NewTempCertificate, CERT_ITEM, CERT, PROBE_MARKER | PROBE_CERTS)    \
	X(libnss, PR_Close, CONN_END, NONE, PROBE_HELPER)

/*
 * libcrypto's signing, verification and key agreement (--crypto): latency
 * only.  Markers: the internal functions are there in some builds only.
 */
#define SSL_LIBCRYPTO_PROBES(X)                                                            \
	X(libcrypto, RSA_sign, CRYPTO, CRYPTO, PROBE_MARKER)                                 \
	X(libcrypto, RSA_verify, CRYPTO, CRYPTO, PROBE_MARKER)                               \
	X(libcrypto, ossl_ecdsa_sign, CRYPTO, CRYPTO, PROBE_MARKER)                          \
	X(libcrypto, ossl_ecdsa_verify, CRYPTO, CRYPTO, PROBE_MARKER)                        \
	X(libcrypto, ossl_ecdh_compute_key, CRYPTO, CRYPTO, PROBE_MARKER)                    \
	X(libcrypto, rsa_ossl_public_encrypt, CRYPTO, CRYPTO, PROBE_MARKER)                  \
	X(libcrypto, rsa_ossl_public_decrypt, CRYPTO, CRYPTO, PROBE_MARKER)                  \
	X(libcrypto, rsa_ossl_private_encrypt, CRYPTO, CRYPTO, PROBE_MARKER)                 \
	X(libcrypto, rsa_ossl_private_decrypt, CRYPTO, CRYPTO, PROBE_MARKER)                 \
	X(libcrypto, EVP_PKEY_sign, CRYPTO, CRYPTO, PROBE_MARKER)                            \
	X(libcrypto, EVP_PKEY_verify, CRYPTO, CRYPTO, PROBE_MARKER)                          \
	X(libcrypto, EVP_PKEY_derive, CRYPTO, CRYPTO, PROBE_MARKER)                          \
	X(libcrypto, EVP_PKEY_encrypt, CRYPTO, CRYPTO, PROBE_MARKER)                         \
	X(libcrypto, EVP_PKEY_decrypt, CRYPTO, CRYPTO, PROBE_MARKER)                         \
	X(libcrypto, EVP_DigestSign, CRYPTO, CRYPTO, PROBE_MARKER)                           \
	X(libcrypto, EVP_DigestSignFinal, CRYPTO, CRYPTO, PROBE_MARKER)                      \
	X(libcrypto, EVP_DigestVerify, CRYPTO, CRYPTO, PROBE_MARKER)                         \
	X(libcrypto, EVP_DigestVerifyFinal, CRYPTO, CRYPTO, PROBE_MARKER)

/*
 * Go's crypto/tls (go.c, go.bpf.h).  Go symbols are not C identifiers, so
 * these rows have one column more, sym, after func: func names the
 * operation's enum and programs, sym is the symbol probed (the operation
 * field shows it from its last '/': tls.(*Conn).Write).  SSL_GO_PROBES(X)
 * gives them as every other row.  Handshakes: latency and role, no data.
 */
#define SSL_GO_ROWS(R, X)                                                                  \
	R(X, go, tls_conn_write, "crypto/tls.(*Conn).Write", GO_RW, WRITE, PROBE_CORE)       \
	R(X, go, tls_conn_read, "crypto/tls.(*Conn).Read", GO_RW, READ, PROBE_CORE)          \
	R(X, go, tls_client_handshake, "crypto/tls.(*Conn).clientHandshake", GO_HS_CLIENT, \
	  HANDSHAKE, PROBE_HELPER)                                                         \
	R(X, go, tls_server_handshake, "crypto/tls.(*Conn).serverHandshake", GO_HS_SERVER, \
	  HANDSHAKE, PROBE_HELPER)                                                         \
	R(X, go, tls_conn_close, "crypto/tls.(*Conn).Close", GO_CONN_END, NONE, PROBE_HELPER)
#define SSL_GO_ROW(X, lib, func, sym, kind, dir, flags) X(lib, func, kind, dir, flags)
#define SSL_GO_PROBES(X) SSL_GO_ROWS(SSL_GO_ROW, X)

/* Every backend's rows, in the order of enum ssl_op. */
#define SSL_ALL_PROBES(X)                                                                  \
	SSL_OPENSSL_PROBES(X)                                                              \
	SSL_GNUTLS_PROBES(X)                                                               \
	SSL_NSS_PROBES(X)                                                                  \
	SSL_LIBCRYPTO_PROBES(X)                                                            \
	SSL_GO_PROBES(X)

#endif /* LOUPE_SSL_PROBES_H */
