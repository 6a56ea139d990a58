// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The operations of the ssl gadget, made from probes.h, and the backends
 * they belong to.
 */
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "internal.h"

/* clang-format off: a table made by a macro */
const struct ssl_op_info ssl_ops[SSL_OP_MAX] = {
#define SSL_OP_INFO(l, func, k, d, f)                                                       \
	[SSL_OP_##func] = { .name = #func, .lib = #l, .dir = SSL_DIR_##d, .kind = SSL_KIND_##k, \
			    .flags = f },
	SSL_ALL_PROBES(SSL_OP_INFO)
#undef SSL_OP_INFO
	/* Symbols that are not C identifiers (Go): the rows name them. */
#define SSL_OP_SYMBOL(X, l, func, sym, k, d, f) [SSL_OP_##func].symbol = sym,
	SSL_GO_ROWS(SSL_OP_SYMBOL, _)
#undef SSL_OP_SYMBOL
	[SSL_OP_EXEC] = { .name = "exec", .dir = SSL_DIR_NONE, .kind = -1 },
	[SSL_OP_PROC_EXIT] = { .name = "exit", .dir = SSL_DIR_NONE, .kind = -1 },
};
/* clang-format on */

const struct ssl_backend *const ssl_backends[] = {
	&ssl_backend_openssl, &ssl_backend_gnutls, &ssl_backend_nss, &ssl_backend_libcrypto,
	&ssl_backend_go, NULL,
};

bool ssl_kind_has_data(int kind)
{
	return kind == SSL_KIND_RW || kind == SSL_KIND_RW_EX || kind == SSL_KIND_RECORD ||
	       kind == SSL_KIND_NSPR || kind == SSL_KIND_GO_RW;
}

bool ssl_kind_has_return(int kind)
{
	switch (kind) {
	case SSL_KIND_IMAGE:
	case SSL_KIND_VERIFY_MODE:
	case SSL_KIND_CERT_DER:
	case SSL_KIND_CERT_ITEM:
	case SSL_KIND_SNI_CTRL:
	case SSL_KIND_SNI_LEN:
	case SSL_KIND_SNI_STR:
	case SSL_KIND_CONN_END:
	case SSL_KIND_GO_CONN_END:
	case SSL_KIND_CONN_RESET:
		return false;
	default:
		return true;
	}
}

const char *ssl_op_name(const struct ssl_op_info *op)
{
	const char *slash = op->symbol ? strrchr(op->symbol, '/') : NULL;

	return slash ? slash + 1 : op->symbol ? op->symbol : op->name;
}

const struct ssl_op_info *ssl_op(unsigned int op)
{
	return op < SSL_OP_MAX && ssl_ops[op].name ? &ssl_ops[op] : NULL;
}

const struct ssl_backend *ssl_op_backend(unsigned int op)
{
	static const struct ssl_backend *by_op[SSL_OP_MAX];
	static bool done;
	const struct ssl_backend *b;

	if (!done) {
		for_each_backend (b, i)
			for (size_t k = 0; k < b->nr_ops; k++)
				by_op[b->ops[k]] = b;
		done = true;
	}
	return op < SSL_OP_MAX ? by_op[op] : NULL;
}

struct bpf_program *ssl_prog(struct bpf_object *obj, unsigned int op, bool ret)
{
	char name[128];

	if (op >= SSL_OP_EXEC || (ret && !ssl_kind_has_return(ssl_ops[op].kind)))
		return NULL;
	snprintf(name, sizeof(name), "trace_%s_%s_%s", ret ? "uretprobe" : "uprobe",
		 ssl_ops[op].lib, ssl_ops[op].name);
	return bpf_object__find_program_by_name(obj, name);
}
