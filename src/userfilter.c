// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the kernel's filters cannot judge alone, and the runtime's notices.
 *
 * --container NAME|ID names containers, and a container is known only from
 * /proc and the runtime's files: user space judges each mount namespace once
 * and writes the verdict into gadget_container_filter_map (1 keep, 0 drop), after
 * which the kernel filters it.  A namespace the kernel has not been told
 * about passes (filter_by_container, loupe.bpf.h) and is judged here, so a
 * container started later loses none of its first events; the exec notice of
 * a new namespace (loupe_notice_exec) usually has it judged before its
 * process does anything else.
 *
 * Every session also learns each new namespace's container from the notice,
 * while its first process lives: short-lived processes' events carry their
 * container too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "containers.h"
#include "runtime_int.h"

#define VERDICTS 4096 /* a power of two */

/* Verdicts and the kernel's map are keyed by the namespace's key: never reused. */
struct userfilter {
	struct verdict {
		uint64_t key; /* 0: free */
		bool keep;
	} v[VERDICTS];
	int map_fd, known_fd;
	bool map_full_said;
};

static uint64_t key_of(uint64_t key, uint64_t mntns)
{
	return key ?: mntns; /* kernels without a key: the inode number */
}

static struct verdict *verdict_slot(struct userfilter *uf, uint64_t key, bool insert)
{
	size_t i = (key * 0x9e3779b97f4a7c15ULL) >> 52;

	for (size_t n = 0; n < VERDICTS; n++, i = (i + 1) & (VERDICTS - 1)) {
		if (uf->v[i].key == key)
			return &uf->v[i];
		if (!uf->v[i].key)
			return insert ? &uf->v[i] : NULL;
	}
	return NULL;
}

static bool wanted(struct session *s, uint64_t key, uint64_t mntns, uint32_t pid)
{
	const struct container *c = container_of(key, mntns, pid);

	for (int i = 0; i < s->filter.nr_mntns; i++)
		if (s->filter.mntns[i] == mntns)
			return true;
	for (int i = 0; c && i < s->filter.nr_containers; i++)
		if (container_matches(c, s->filter.containers[i]))
			return true;
	return false;
}

/* Judge a namespace once, and tell the kernel. */
static bool judge(struct session *s, uint64_t key, uint64_t mntns, uint32_t pid)
{
	struct userfilter *uf = s->userfilter;
	struct verdict *v = verdict_slot(uf, key_of(key, mntns), true);
	bool keep = wanted(s, key, mntns, pid);
	uint64_t k = key_of(key, mntns);
	__u8 val = keep;

	if (!v)
		return keep; /* a full table: judged again next time, still right */
	*v = (struct verdict){ k, keep };
	if (bpf_map_update_elem(uf->map_fd, &k, &val, BPF_ANY) && !uf->map_full_said) {
		loupe_warn("the container filter map is full: --container is judged in user space "
			   "from here on (%s)",
			   strerror(errno));
		uf->map_full_said = true;
	}
	return keep;
}

bool session_keep(struct session *s, const struct loupe_proc *p)
{
	struct verdict *v;

	if (!s->filter.nr_containers || !s->userfilter)
		return true;
	v = verdict_slot(s->userfilter, key_of(p->mntns_key, p->mntns_id), false);
	return v ? v->keep : judge(s, p->mntns_key, p->mntns_id, p->pid);
}

/* The notice of a new namespace: its container now, its verdict now. */
int userfilter_notice(void *ctx, void *data, size_t size)
{
	struct session *s = ctx;
	const struct loupe_notice *n = data;

	if (size < sizeof(*n))
		return 0;
	container_of(n->mntns_key, n->mntns_id, n->pid);
	if (s->filter.nr_containers && s->userfilter &&
	    !verdict_slot(s->userfilter, key_of(n->mntns_key, n->mntns_id), false))
		judge(s, n->mntns_key, n->mntns_id, n->pid);
	return 0;
}

/*
 * Running processes: their containers known and judged before any event, and
 * not noticed again, where the kernel tells user space the keys (6.11+); on
 * older kernels their first event is judged instead.
 */
static int judge_running(uint64_t mntns, uint32_t pid, void *ctx)
{
	struct session *s = ctx;
	struct userfilter *uf = s->userfilter;
	uint64_t key = mntns_key_of(pid);
	__u8 one = 1;

	if (!key)
		return 0;
	container_of(key, mntns, pid);
	if (uf->known_fd >= 0)
		bpf_map_update_elem(uf->known_fd, &key, &one, BPF_ANY);
	if (s->filter.nr_containers)
		judge(s, key, mntns, pid);
	return 0;
}

int userfilter_start(struct session *s)
{
	struct bpf_map *map = bpf_object__find_map_by_name(s->obj, "gadget_container_filter_map");
	struct bpf_map *known = bpf_object__find_map_by_name(s->obj, "loupe_known_mntns");

	s->userfilter = calloc(1, sizeof(*s->userfilter));
	if (!s->userfilter)
		return -ENOMEM;
	s->userfilter->map_fd = map ? bpf_map__fd(map) : -1;
	s->userfilter->known_fd = known ? bpf_map__fd(known) : -1;
	return mntns_foreach(judge_running, s);
}

/* --config changed the filters: every namespace is judged again. */
void userfilter_reset(struct session *s)
{
	struct userfilter *uf = s->userfilter;
	__u64 key, next;

	if (!uf)
		return;
	memset(uf->v, 0, sizeof(uf->v));
	while (uf->map_fd >= 0 && !bpf_map_get_next_key(uf->map_fd, NULL, &next)) {
		key = next;
		if (bpf_map_delete_elem(uf->map_fd, &key))
			break;
	}
	if (s->filter.nr_containers)
		mntns_foreach(judge_running, s);
}

/* A namespace no process lives in: forgotten everywhere. */
static void forget(uint64_t key, void *ctx)
{
	struct session *s = ctx;
	struct userfilter *uf = s->userfilter;
	struct verdict *v = verdict_slot(uf, key, false);

	if (uf->known_fd >= 0)
		bpf_map_delete_elem(uf->known_fd, &key);
	if (uf->map_fd >= 0)
		bpf_map_delete_elem(uf->map_fd, &key);
	if (v)
		v->keep = false, v->key = ~0ULL; /* dropped in the rebuild below */
}

/* Now and then: containers that exited leave nothing behind, cache nor map entry. */
void userfilter_sweep(struct session *s)
{
	struct userfilter *uf = s->userfilter;
	static struct verdict keep[VERDICTS];
	size_t n = 0;
	int forgotten;

	if (!uf || !(forgotten = containers_sweep(forget, s)))
		return;
	loupe_info(s, "forgot %d mount namespaces no process lives in (%zu still known)", forgotten,
		   containers_cached());
	for (size_t i = 0; i < VERDICTS; i++)
		if (uf->v[i].key && uf->v[i].key != ~0ULL)
			keep[n++] = uf->v[i];
	memset(uf->v, 0, sizeof(uf->v));
	for (size_t i = 0; i < n; i++)
		*verdict_slot(uf, keep[i].key, true) = keep[i];
}

void userfilter_free(struct session *s)
{
	free(s->userfilter);
	s->userfilter = NULL;
	containers_free();
}
