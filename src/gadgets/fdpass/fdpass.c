// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fdpass gadget, user-space half: file names as readlink shows them, and
 * send events held for a short while to learn who received the file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gadget.h"
#include "kfeatures.h"
#include "fdpass.h"
#include "fdpass.skel.h"

#define DEFAULT_PEER_WAIT_MS 500
#define MAX_HELD 4096 /* events waiting in order; a full queue prints its head */

/* An event waiting for its receiver, or behind one that is. */
struct held {
	struct fdpass_event hdr;
	char *file;
	size_t file_len;
	double since; /* CLOCK_MONOTONIC seconds when it arrived */
	bool ready;
};

struct fdpass_state {
	bool send_only, receive_only;
	uint64_t peer_wait_ms;
	bool peer_wait_set;
	struct held q[MAX_HELD]; /* a ring */
	size_t head, n;
};

LOUPE_SKELETON(fdpass_skeleton, fdpass_bpf);

enum {
	F_TYPE = LOUPE_PROC_NR_FIELDS,
	F_SOCKFD,
	F_SOCKET_INO,
	F_FD,
	F_PEER_PID,
	F_PEER_COMM,
	F_FILE,
	F_PEER_TID,
	F_INO,
	F_MSG,
	F_MORE,
	F_MAX,
};

static const struct field fdpass_fields[] = {
	LOUPE_PROC_FIELDS,
	[F_TYPE] = { "type", FT_STR, 0, 7, "send or receive" },
	[F_SOCKFD] = { "sockfd", FT_S64, FIELD_RIGHT, 6, "descriptor of the unix socket used" },
	[F_SOCKET_INO] = { "socket_ino", FT_U64, FIELD_RIGHT, 10,
			   "inode of that socket, as in socket:[ino]" },
	[F_FD] = { "fd", FT_S64, FIELD_RIGHT, 4,
		   "descriptor passed: the sender's number, or the new one of the receiver" },
	[F_PEER_PID] = { "peer_pid", FT_U64, FIELD_RIGHT, 7,
			 "the other end: receiver of a send, sender of a receive" },
	[F_PEER_COMM] = { "peer_comm", FT_STR, 0, 16, "command name of the other end" },
	[F_FILE] = { "file", FT_STR, 0, 0, "the file passed, as readlink /proc/PID/fd/N shows it" },
	[F_PEER_TID] = { "peer_tid", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 7,
			 "thread of the other end" },
	[F_INO] = { "ino", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 10, "inode of the file passed" },
	[F_MSG] = { "msg_index", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 3,
		    "message of a sendmmsg/recvmmsg call that carried it (0 for *msg)" },
	[F_MORE] = { "more", FT_U64, FIELD_HIDDEN | FIELD_RIGHT, 4,
		     "descriptors of the same call beyond the kernel's walk, not reported" },
	{},
};

static const struct gadget_counter fdpass_counters[] = {
	{ "fds_not_walked", true },
	{ "msgs_not_walked", true },
	{ "failed_sends", false },
	{ "bad_fds", false },
	{},
};

static const struct gadget_option fdpass_options[] = {
	OPT_FLAG_KNOB_OFF("send-only", "only report sends", struct fdpass_state, send_only,
			  "trace_receive"),
	OPT_FLAG_KNOB_OFF("receive-only", "only report receives", struct fdpass_state, receive_only,
			  "trace_send"),
	OPT_OWN("peer-wait", "MS",
		"hold send events up to MS milliseconds to learn their receiver (default 500, 0: "
		"never)"),
	{},
};

/* --- file names ------------------------------------------------------------------ */

static void put(char *dst, size_t dstlen, size_t *pos, const char *src, size_t len)
{
	if (*pos >= dstlen)
		return;
	if (len > dstlen - 1 - *pos)
		len = dstlen - 1 - *pos;
	memcpy(dst + *pos, src, len);
	*pos += len;
	dst[*pos] = '\0';
}

static void puts_(char *dst, size_t dstlen, size_t *pos, const char *src)
{
	put(dst, dstlen, pos, src, strlen(src));
}

size_t fdpass_format_file(char *dst, size_t dstlen, const struct fdpass_event *e)
{
	size_t pos = 0, n = e->file_len;
	const char *name = e->file;
	char num[40];

	if (!dstlen)
		return 0;
	dst[0] = '\0';
	if (n > FDPASS_PATH_MAX)
		n = FDPASS_PATH_MAX;
	switch (e->kind) {
	case FDPASS_KIND_DNAME:
		/* What the file system's d_dname() makes of the dentry. */
		switch (e->magic) {
		case FDPASS_PIPEFS_MAGIC:
		case FDPASS_SOCKFS_MAGIC:
			snprintf(num, sizeof(num), "%s:[%llu]",
				 e->magic == FDPASS_PIPEFS_MAGIC ? "pipe" : "socket",
				 (unsigned long long)e->ino);
			puts_(dst, dstlen, &pos, num);
			break;
		case FDPASS_ANON_INODE_MAGIC:
			puts_(dst, dstlen, &pos, "anon_inode:");
			put(dst, dstlen, &pos, name, n);
			break;
		case FDPASS_PIDFS_MAGIC:
			puts_(dst, dstlen, &pos, "anon_inode:[pidfd]");
			break;
		case FDPASS_TMPFS_MAGIC:
		case FDPASS_HUGETLBFS_MAGIC:
			/* simple_dname(): memfd, SysV shared memory, MAP_SHARED|MAP_ANONYMOUS. */
			puts_(dst, dstlen, &pos, "/");
			put(dst, dstlen, &pos, name, n);
			puts_(dst, dstlen, &pos, " (deleted)");
			break;
		default:
			put(dst, dstlen, &pos, name, n);
			break;
		}
		break;
	case FDPASS_KIND_PATH:
		if (e->flags & FDPASS_F_TRUNCATED)
			puts_(dst, dstlen, &pos, "...");
		if (n)
			put(dst, dstlen, &pos, name, n);
		else
			puts_(dst, dstlen, &pos, "/");
		if (e->flags & FDPASS_F_DELETED)
			puts_(dst, dstlen, &pos, " (deleted)");
		break;
	default:
		break;
	}
	return pos;
}

/* --- options and setup ------------------------------------------------------------ */

static int fdpass_parse_option(struct session *s, const struct gadget_option *opt, const char *arg)
{
	struct fdpass_state *st = s->state;

	st->peer_wait_set = true; /* --peer-wait: 0 is a value, not "unset" */
	return parse_u64("--peer-wait", arg, 0, 60000, &st->peer_wait_ms);
}

static int fdpass_check(struct session *s)
{
	struct fdpass_state *st = s->state;

	if (st->send_only && st->receive_only) {
		loupe_err("--send-only and --receive-only together leave nothing to trace");
		return -EINVAL;
	}
	return 0;
}

static int fdpass_configure(struct session *s)
{
	struct fdpass_state *st = s->state;

	if (!feature_tracepoint("syscalls", "sys_enter_sendmsg")) {
		loupe_err("this kernel has no system call tracepoints (CONFIG_FTRACE_SYSCALLS): "
			  "fdpass cannot run here");
		return -ENOTSUP;
	}
	if (!st->peer_wait_set)
		st->peer_wait_ms = DEFAULT_PEER_WAIT_MS;
	return 0;
}

/* --- events ------------------------------------------------------------------------- */

static void emit(struct session *s, const struct fdpass_event *e, const char *file, size_t len)
{
	struct value v[F_MAX] = {};

	values_set_proc(v, &e->proc);
	v[F_TYPE] = val_str(e->type == FDPASS_SEND ? "send" : "receive");
	v[F_SOCKFD] = val_s64(e->sockfd);
	if (e->socket_ino)
		v[F_SOCKET_INO] = val_u64(e->socket_ino);
	v[F_FD] = val_s64(e->fd);
	if (e->flags & FDPASS_F_PEER) {
		v[F_PEER_PID] = val_u64(e->peer_pid);
		v[F_PEER_TID] = val_u64(e->peer_tid);
		v[F_PEER_COMM] = (struct value){
			.set = true, .s = { e->peer_comm, strnlen(e->peer_comm, LOUPE_COMM_LEN) }
		};
	}
	if (e->kind != FDPASS_KIND_NONE) {
		v[F_FILE] = (struct value){ .set = true, .s = { file, len } };
		v[F_INO] = val_u64(e->ino);
	}
	v[F_MSG] = val_u64(e->msg);
	v[F_MORE] = val_u64(e->more);
	session_emit(s, v);
}

static void held_emit_head(struct session *s)
{
	struct fdpass_state *st = s->state;
	struct held *h = &st->q[st->head];

	emit(s, &h->hdr, h->file, h->file_len);
	free(h->file);
	h->file = NULL;
	st->head = (st->head + 1) % MAX_HELD;
	st->n--;
}

/* The receiver of a held send, from the kernel's map (the receiver may be filtered out). */
static bool held_lookup_peer(struct session *s, struct held *h)
{
	struct fdpass_bpf *skel = s->skel;
	struct fdpass_peer p;
	__u64 key = h->hdr.file_ptr;

	if (!key || bpf_map_lookup_elem(bpf_map__fd(skel->maps.fdpass_peers), &key, &p))
		return false;
	if (!p.recv_ns || p.sender_tid != h->hdr.proc.tid || p.recv_ns < p.send_ns)
		return false;
	h->hdr.peer_pid = p.receiver_pid;
	h->hdr.peer_tid = p.receiver_tid;
	memcpy(h->hdr.peer_comm, p.receiver_comm, LOUPE_COMM_LEN);
	h->hdr.flags |= FDPASS_F_PEER;
	return true;
}

/* Print, in order, every event at the head that is ready or has waited long enough. */
static void held_drain(struct session *s, bool all)
{
	struct fdpass_state *st = s->state;
	double now = loupe_now_s(), wait = st->peer_wait_ms / 1000.0;

	while (st->n) {
		struct held *h = &st->q[st->head];

		if (!h->ready && !held_lookup_peer(s, h) && !all && now - h->since < wait)
			break;
		held_emit_head(s);
	}
}

static void held_push(struct session *s, const struct fdpass_event *e, const char *file, size_t len,
		      bool ready)
{
	struct fdpass_state *st = s->state;
	struct held *h;

	if (st->n == MAX_HELD)
		held_emit_head(s);
	h = &st->q[(st->head + st->n) % MAX_HELD];
	h->hdr = *e;
	h->file = malloc(len + 1);
	if (h->file) {
		memcpy(h->file, file, len);
		h->file[len] = '\0';
	}
	h->file_len = h->file ? len : 0;
	h->since = loupe_now_s();
	h->ready = ready;
	st->n++;
}

/* A receive tells its send (same struct file, same sender) who got the file. */
static void held_match(struct session *s, const struct fdpass_event *r)
{
	struct fdpass_state *st = s->state;

	if (!(r->flags & FDPASS_F_PEER))
		return;
	for (size_t i = 0; i < st->n; i++) {
		struct held *h = &st->q[(st->head + i) % MAX_HELD];

		if (h->ready || h->hdr.type != FDPASS_SEND || h->hdr.file_ptr != r->file_ptr ||
		    h->hdr.proc.tid != r->peer_tid)
			continue;
		h->hdr.peer_pid = r->proc.pid;
		h->hdr.peer_tid = r->proc.tid;
		memcpy(h->hdr.peer_comm, r->proc.comm, LOUPE_COMM_LEN);
		h->hdr.flags |= FDPASS_F_PEER;
		h->ready = true;
		return;
	}
}

static int fdpass_handle(struct session *s, const void *data, size_t size)
{
	struct fdpass_state *st = s->state;
	const struct fdpass_event *e = data;
	static char file[FDPASS_PATH_MAX + 64];
	size_t len;

	if (size < sizeof(*e) || size < sizeof(*e) + e->file_len)
		return LOUPE_REC_BAD;
	if (!session_keep(s, &e->proc))
		return LOUPE_REC_FILTERED;
	len = fdpass_format_file(file, sizeof(file), e);
	if (e->type == FDPASS_RECEIVE) {
		held_match(s, e);
		if (!st->n) {
			emit(s, e, file, len);
			return 0;
		}
		held_push(s, e, file, len, true);
	} else if (!st->peer_wait_ms && !st->n) {
		emit(s, e, file, len);
		return 0;
	} else {
		held_push(s, e, file, len, !st->peer_wait_ms);
	}
	held_drain(s, false);
	return 0;
}

static void fdpass_tick(struct session *s)
{
	held_drain(s, false);
}

static void fdpass_flush(struct session *s)
{
	held_drain(s, true);
}

static void fdpass_close(struct session *s)
{
	struct fdpass_state *st = s->state;

	for (size_t i = 0; i < MAX_HELD; i++)
		free(st->q[i].file);
}

static const char *fdpass_variant(void)
{
	return feature_tracepoint("syscalls", "sys_enter_sendmsg") ? "tracepoint" : "unavailable";
}

static const struct gadget fdpass_gadget = {
	.name = "fdpass",
	.summary = "file descriptors passed over unix sockets (SCM_RIGHTS), both ends",
	.examples =
		"  loupe trace fdpass                           every descriptor passed, both ends\n"
		"  loupe trace fdpass --comm 'runc:[2:INIT]'    what runc hands over (the pty)\n"
		"  loupe trace fdpass --pid 1234 -o json        one JSON object per descriptor\n"
		"  loupe trace fdpass --send-only --peer-wait 0 sends at once, no receiver\n",
	.options = fdpass_options,
	.fields = fdpass_fields,
	.counters = fdpass_counters,
	.state_size = sizeof(struct fdpass_state),
	.skeleton = &fdpass_skeleton,
	.parse_option = fdpass_parse_option,
	.check = fdpass_check,
	.configure = fdpass_configure,
	.handle = fdpass_handle,
	.tick = fdpass_tick,
	.flush = fdpass_flush,
	.close = fdpass_close,
	.variant = fdpass_variant,
};
LOUPE_GADGET(fdpass_gadget);
