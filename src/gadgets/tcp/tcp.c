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
#include "metrics.h"
#include "tcp.h"
#include "tcp.skel.h"

struct tcp_state {
	bool connect_only, accept_only, failure_only;
	uint16_t family;  /* --family: AF_INET, AF_INET6 or 0 */
	const char *hook; /* --hook: NULL for the best available */
	/* --metrics */
	struct metric *m_attempts, *m_failures, *m_duration;
};

LOUPE_SKELETON(tcp_skeleton, tcp_bpf);

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
	OPT_FLAG("connect-only", "only connect events", struct tcp_state, connect_only,
		 "connect_only"),
	OPT_FLAG("accept-only", "only accept events", struct tcp_state, accept_only, "accept_only"),
	OPT_FLAG("failure-only", "only failed connects", struct tcp_state, failure_only,
		 "failure_only"),
	OPT_OWN("family", "4|6", "only IPv4 or only IPv6"),
	OPT_FILTER_KNOB("port", "PORT", "only connections with this port at either end",
			"filter_port", 1, 65535),
	OPT_OWN("hook", "NAME", "force tp_btf or tracepoint for state changes (default: best)"),
	{},
};

static int tcp_parse_option(struct session *s, const struct gadget_option *opt, const char *arg)
{
	struct tcp_state *st = s->state;

	if (!strcmp(opt->name, "family")) {
		if (!strcmp(arg, "4") || !strcmp(arg, "inet") || !strcmp(arg, "ipv4")) {
			st->family = AF_INET;
		} else if (!strcmp(arg, "6") || !strcmp(arg, "inet6") || !strcmp(arg, "ipv6")) {
			st->family = AF_INET6;
		} else {
			loupe_err("--family needs 4 or 6, not '%s'", arg);
			return -EINVAL;
		}
	} else if (!strcmp(opt->name, "hook")) {
		if (strcmp(arg, "tp_btf") && strcmp(arg, "tracepoint")) {
			loupe_err("--hook: '%s' is not one of tp_btf, tracepoint", arg);
			return -EINVAL;
		}
		st->hook = arg;
	}
	return 0;
}

static int tcp_check(struct session *s)
{
	struct tcp_state *st = s->state;

	if (st->accept_only && (st->connect_only || st->failure_only)) {
		loupe_err("--accept-only cannot be combined with --connect-only or --failure-only "
			  "(failures are connect events)");
		return -EINVAL;
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

/* --metrics: what operators alert on, attempts, failures by errno, how long connections live. */
static void tcp_metrics(struct session *s)
{
	struct tcp_state *st = s->state;

	st->m_attempts = metrics_counter(s->metrics, "loupe_tcp_connect_attempts_total",
					 "connect() calls seen", "");
	st->m_failures = metrics_counter(s->metrics, "loupe_tcp_connect_failures_total",
					 "failed connects, by errno", "errno");
	st->m_duration = metrics_histogram(s->metrics, "loupe_tcp_connection_duration_seconds",
					   "time from established to closed", "",
					   metric_latency_buckets, metric_latency_nbuckets);
}

static void tcp_count(struct tcp_state *st, const struct tcp_event *e, const char *error)
{
	if (!st->m_attempts)
		return;
	if (e->type == TCP_EV_CONNECT) {
		metric_add(st->m_attempts, NULL, 1);
		if (e->error)
			metric_add(st->m_failures, (const char *const[]){ error }, 1);
	} else if (e->type == TCP_EV_CLOSE && e->duration_ns) {
		metric_observe(st->m_duration, NULL, e->duration_ns / 1e9);
	}
}

static int tcp_configure(struct session *s)
{
	struct tcp_state *st = s->state;
	struct tcp_bpf *skel = s->skel;
	bool btf = st->hook ? !strcmp(st->hook, "tp_btf") : use_tp_btf();

	if (btf && !use_tp_btf()) {
		loupe_err("--hook tp_btf: this kernel has no BTF for inet_sock_set_state");
		return -ENOTSUP;
	}
	if (!btf && !feature_tracepoint("sock", "inet_sock_set_state")) {
		loupe_err("this kernel has no sock/inet_sock_set_state tracepoint (Linux 4.16 or "
			  "later is needed)");
		return -ENOTSUP;
	}
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
	skel->rodata->filter_family = st->family;
	if (s->metrics)
		tcp_metrics(s);
	return 0;
}

static int tcp_handle(struct session *s, const void *data, size_t size)
{
	const struct tcp_event *e = data;
	struct value v[F_MAX] = {};
	char src[64], dst[64], errbuf[16];
	const char *error;

	if (size < sizeof(*e))
		return LOUPE_REC_BAD;
	if (!session_keep(s, &e->proc))
		return LOUPE_REC_FILTERED;
	values_set_proc(v, &e->proc);
	v[F_TYPE] = val_str(e->type < TCP_EV_MAX ? type_names[e->type] : "unknown");
	v[F_NETNS] = val_u64(e->netns);
	v[F_SRC] = val_str(
		format_endpoint(src, sizeof(src), e->tuple.family, e->tuple.laddr, e->tuple.lport));
	v[F_DST] = val_str(
		format_endpoint(dst, sizeof(dst), e->tuple.family, e->tuple.raddr, e->tuple.rport));
	if (e->fd >= 0)
		v[F_FD] = val_s64(e->fd);
	if (e->accept_fd >= 0)
		v[F_ACCEPT_FD] = val_s64(e->accept_fd);
	error = errno_text(errbuf, sizeof(errbuf), e->error);
	v[F_ERROR] = val_str(error);
	if (e->type == TCP_EV_CLOSE) {
		v[F_DURATION] = val_u64(e->duration_ns);
		v[F_BYTES_SENT] = val_u64(e->bytes_sent);
		v[F_BYTES_RECEIVED] = val_u64(e->bytes_received);
	}
	tcp_count(s->state, e, error);
	session_emit(s, v);
	return 0;
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
	.skeleton = &tcp_skeleton,
	.state_size = sizeof(struct tcp_state),
	.parse_option = tcp_parse_option,
	.check = tcp_check,
	.configure = tcp_configure,
	.handle = tcp_handle,
	.variant = tcp_variant,
};
LOUPE_GADGET(tcp_gadget);
