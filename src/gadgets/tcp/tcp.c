// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcp gadget, user-space half: which state-change hook this kernel offers,
 * the filter knobs, and rendering addresses and errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/libbpf.h>

#include "gadget.h"
#include "kfeatures.h"
#include "tcp.h"
#include "tcp.skel.h"

struct tcp_state {
	struct tcp_bpf *skel;
	bool connect_only, accept_only, failure_only;
	uint16_t family; /* AF_INET, AF_INET6 or 0 */
	uint16_t port;
	const char *hook;	/* --hook: NULL for the best available */
};

static const char *const type_names[TCP_EV_MAX] = {
	[TCP_EV_CONNECT] = "connect",
	[TCP_EV_ACCEPT] = "accept",
	[TCP_EV_CLOSE] = "close",
};

enum {
	F_TYPE = LOUPE_PROC_NR_FIELDS,
	F_NETNS,
	F_SRC,
	F_DST,
	F_FD,
	F_ACCEPT_FD,
	F_ERROR,
	F_DURATION,
	F_BYTES_SENT,
	F_BYTES_RECEIVED,
	F_MAX,
};

static const struct field tcp_fields[] = {
	LOUPE_PROC_FIELDS,
	[F_TYPE] = { "type", FT_STR, 0, 7, "connect, accept or close" },
	[F_NETNS] = { "netns", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 10,
		      "network namespace inode number" },
	[F_SRC] = { "src", FT_STR, 0, 21, "local ip:port ([ip]:port for IPv6)" },
	[F_DST] = { "dst", FT_STR, 0, 21, "remote ip:port ([ip]:port for IPv6)" },
	[F_FD] = { "fd", FT_S64, FIELD_HIDDEN | FIELD_RIGHT, 4,
		   "connect: the socket's fd; accept: the listening fd" },
	[F_ACCEPT_FD] = { "accept_fd", FT_S64, FIELD_HIDDEN | FIELD_RIGHT, 4,
			  "accept: the new connection's fd" },
	[F_ERROR] = { "error", FT_STR, 0, 12, "connect: errno name on failure; empty on success" },
	[F_DURATION] = { "duration", FT_DURATION, FIELD_RIGHT, 9,
			 "close: time since established (ns in JSON)" },
	[F_BYTES_SENT] = { "bytes_sent", FT_U64, FIELD_RIGHT, 10,
			   "close: bytes sent and acknowledged by the peer" },
	[F_BYTES_RECEIVED] = { "bytes_received", FT_U64, FIELD_RIGHT, 10,
			       "close: bytes received in order" },
	{},
};

static const struct gadget_option tcp_options[] = {
	{ "connect-only", 0, NULL, "only connect events" },
	{ "accept-only", 0, NULL, "only accept events" },
	{ "failure-only", 0, NULL, "only failed connects" },
	{ "family", 0, "4|6", "only IPv4 or only IPv6" },
	{ "port", 0, "PORT", "only connections with this port at either end" },
	{ "hook", 0, "NAME", "force tp_btf or tracepoint for state changes (default: best)" },
	{},
};

char *tcp_format_endpoint(char *buf, size_t len, unsigned int family, const void *addr,
			  unsigned int port)
{
	char ip[INET6_ADDRSTRLEN];

	if (family == AF_INET && inet_ntop(AF_INET, addr, ip, sizeof(ip)))
		snprintf(buf, len, "%s:%u", ip, port);
	else if (family == AF_INET6 && inet_ntop(AF_INET6, addr, ip, sizeof(ip)))
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "?:%u", port);
	return buf;
}

const char *tcp_error_text(char *buf, size_t len, int err)
{
	const char *name;

	if (!err)
		return "";
	name = errno_name(err);
	if (name)
		return name;
	snprintf(buf, len, "E%d", err < 0 ? -err : err);
	return buf;
}

static int tcp_parse_option(struct session *s, const struct gadget_option *opt, const char *arg)
{
	struct tcp_state *st = s->state;
	uint64_t v;
	int err;

	if (!strcmp(opt->name, "connect-only")) {
		st->connect_only = true;
	} else if (!strcmp(opt->name, "accept-only")) {
		st->accept_only = true;
	} else if (!strcmp(opt->name, "failure-only")) {
		st->failure_only = true;
	} else if (!strcmp(opt->name, "family")) {
		if (!strcmp(arg, "4") || !strcmp(arg, "inet") || !strcmp(arg, "ipv4")) {
			st->family = AF_INET;
		} else if (!strcmp(arg, "6") || !strcmp(arg, "inet6") || !strcmp(arg, "ipv6")) {
			st->family = AF_INET6;
		} else {
			loupe_err("--family needs 4 or 6, not '%s'", arg);
			return EXIT_USAGE;
		}
	} else if (!strcmp(opt->name, "port")) {
		if ((err = parse_u64("--port", arg, 1, 65535, &v)))
			return err;
		st->port = v;
	} else if (!strcmp(opt->name, "hook")) {
		if (strcmp(arg, "tp_btf") && strcmp(arg, "tracepoint")) {
			loupe_err("--hook: '%s' is not one of tp_btf, tracepoint", arg);
			return EXIT_USAGE;
		}
		st->hook = arg;
	}
	if (st->accept_only && (st->connect_only || st->failure_only)) {
		loupe_err("--accept-only cannot be combined with --connect-only or --failure-only "
			  "(failures are connect events)");
		return EXIT_USAGE;
	}
	return 0;
}

/* The state-change hook: the BTF tracepoint hands us the socket without a copy. */
static bool use_tp_btf(void)
{
	return feature_tp_btf("inet_sock_set_state") && feature_tp_btf("tcp_destroy_sock");
}

static const char *tcp_variant(void)
{
	if (use_tp_btf())
		return "tp_btf";
	if (feature_tracepoint("sock", "inet_sock_set_state"))
		return "tracepoint";
	return "unsupported";
}

static struct bpf_object *tcp_open(struct session *s)
{
	struct tcp_state *st = s->state;
	struct tcp_bpf *skel;
	bool btf;

	btf = st->hook ? !strcmp(st->hook, "tp_btf") : use_tp_btf();
	if (btf && !use_tp_btf()) {
		loupe_err("--hook tp_btf: this kernel has no BTF for inet_sock_set_state");
		return NULL;
	}
	if (!btf && !feature_tracepoint("sock", "inet_sock_set_state")) {
		loupe_err("this kernel has no sock/inet_sock_set_state tracepoint (Linux 4.16 or "
			  "later is needed)");
		return NULL;
	}
	skel = tcp_bpf__open_opts(s->open_opts);
	if (!skel) {
		loupe_err("cannot open the tcp BPF object: %s", strerror(errno));
		return NULL;
	}
	st->skel = skel;
	bpf_program__set_autoload(skel->progs.tcp_state_btf, btf);
	bpf_program__set_autoload(skel->progs.tcp_destroy_btf, btf);
	bpf_program__set_autoload(skel->progs.tcp_state_tp, !btf);
	bpf_program__set_autoload(skel->progs.tcp_destroy_tp,
				  !btf && feature_tracepoint("tcp", "tcp_destroy_sock"));
	if (st->accept_only || st->connect_only || st->failure_only) {
		bool accepts = st->accept_only;

		bpf_program__set_autoload(skel->progs.sys_connect_e, !accepts);
		bpf_program__set_autoload(skel->progs.sys_connect_x, !accepts);
		bpf_program__set_autoload(skel->progs.sys_accept_e, accepts);
		bpf_program__set_autoload(skel->progs.sys_accept_x, accepts);
		bpf_program__set_autoload(skel->progs.sys_accept4_e, accepts);
		bpf_program__set_autoload(skel->progs.sys_accept4_x, accepts);
	}
	loupe_info(s, "state changes from %s/inet_sock_set_state", btf ? "tp_btf" : "tracepoint");
	skel->rodata->connect_only = st->connect_only;
	skel->rodata->accept_only = st->accept_only;
	skel->rodata->failure_only = st->failure_only;
	skel->rodata->filter_family = st->family;
	skel->rodata->filter_port = st->port;
	return skel->obj;
}

static int tcp_attach(struct session *s)
{
	return session_attach_programs(s);
}

static int tcp_handle(struct session *s, const void *data, size_t size)
{
	const struct tcp_event *e = data;
	struct value v[F_MAX] = {};
	char src[64], dst[64], errbuf[16];

	if (size < sizeof(*e)) 
		return LOUPE_REC_BAD;
	values_set_proc(v, &e->proc);
	v[F_TYPE] = val_str(e->type < TCP_EV_MAX ? type_names[e->type] : "unknown");
	v[F_NETNS] = val_u64(e->netns);
	v[F_SRC] = val_str(tcp_format_endpoint(src, sizeof(src), e->family, e->saddr, e->sport));
	v[F_DST] = val_str(tcp_format_endpoint(dst, sizeof(dst), e->family, e->daddr, e->dport));
	if (e->fd >= 0)
		v[F_FD] = val_s64(e->fd);
	if (e->accept_fd >= 0)
		v[F_ACCEPT_FD] = val_s64(e->accept_fd);
	v[F_ERROR] = val_str(tcp_error_text(errbuf, sizeof(errbuf), e->error));
	if (e->type == TCP_EV_CLOSE) {
		v[F_DURATION] = val_u64(e->duration_ns);
		v[F_BYTES_SENT] = val_u64(e->bytes_sent);
		v[F_BYTES_RECEIVED] = val_u64(e->bytes_received);
	}
	session_emit(s, v);
	return 0;
}

static void tcp_close(struct session *s)
{
	struct tcp_state *st = s->state;

	tcp_bpf__destroy(st->skel);
}

static const void *tcp_elf_bytes(size_t *size)
{
	return tcp_bpf__elf_bytes(size);
}

static const struct gadget tcp_gadget = {
	.name = "tcp",
	.summary = "TCP connect, accept and close, with errors, duration and bytes",
	.examples = "  loupe trace tcp                          every connect, accept and close\n"
		    "  loupe trace tcp --comm curl              curl's connections\n"
		    "  loupe trace tcp --failure-only           failed connects (ECONNREFUSED...)\n"
		    "  loupe trace tcp --port 443 --family 6    IPv6 connections to or from :443\n"
		    "  loupe trace tcp --fields comm,pid,type,src,dst,fd,accept_fd,error\n",
	.options = tcp_options,
	.fields = tcp_fields,
	.state_size = sizeof(struct tcp_state),
	.parse_option = tcp_parse_option,
	.open = tcp_open,
	.attach = tcp_attach,
	.handle = tcp_handle,
	.close = tcp_close,
	.variant = tcp_variant,
	.elf_bytes = tcp_elf_bytes,
};
LOUPE_GADGET(tcp_gadget);
