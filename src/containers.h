/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Which container a process belongs to, for every gadget: the container id
 * from its cgroup path (podman, docker, containerd/CRI, CRI-O), and what the
 * runtime that made it says of it (name, image, Kubernetes pod and
 * namespace).  Events carry their mount namespace; containers are cached by
 * it, so an event costs a hash lookup, and forgotten when their last process
 * is gone.
 */
#ifndef LOUPE_CONTAINERS_H
#define LOUPE_CONTAINERS_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

struct container {
	char id[65];	     /* the runtime's full id */
	const char *runtime; /* "podman", "docker", "containerd", "cri-o" */
	char name[128];
	char image[256];
	char pod[128]; /* Kubernetes, from the CRI annotations */
	char namespace[64];
};

/*
 * The container of a mount namespace (key: its never-reused identity, see
 * loupe.bpf.h; mntns: its inode number), pid being a process in it (read
 * when the namespace is new); NULL for a host process or one whose container
 * cannot be told.  Cached: a hash lookup per call.
 */
const struct container *container_of(uint64_t key, uint64_t mntns, uint32_t pid);

/* The key of pid's mount namespace as the kernel side reads it, or 0 where it cannot tell. */
uint64_t mntns_key_of(uint32_t pid);

/*
 * What a process's cgroup and the runtime's files say: 0, -ENOENT (not in a
 * container) or -ESRCH (the process is gone).
 */
int container_read(uint32_t pid, struct container *c);

/* The container id in one /proc/PID/cgroup line, and its runtime; false if none. */
bool container_id_from_cgroup(const char *line, char id[65], const char **runtime);

/* NAME, full id or id prefix (at least 4 characters). */
bool container_matches(const struct container *c, const char *name_or_id);

/* Every mount namespace with a process now: cb(mntns, pid) once each. */
int mntns_foreach(int (*cb)(uint64_t mntns, uint32_t pid, void *ctx), void *ctx);

/*
 * Forget the mount namespaces no process lives in any more (containers that
 * exited); gone(key) is called for each.  Returns how many were forgotten.
 */
int containers_sweep(void (*gone)(uint64_t key, void *ctx), void *ctx);

/*
 * Where the host's files are seen from here, in order: $LOUPE_HOST_ROOT if
 * set, our own root (""), /proc/1/root (loupe in a container with the host's
 * pid namespace).  NULL-terminated; prefixes of absolute paths.
 */
const char *const *host_roots(void);

/* Namespaces in the cache: what a test looks at after containers exit. */
size_t containers_cached(void);

void containers_free(void);

/* `loupe list containers`: a table, or JSON (strings written by write_str). */
int containers_list(FILE *fp, bool json, void (*write_str)(FILE *, const void *, size_t));

#endif /* LOUPE_CONTAINERS_H */
