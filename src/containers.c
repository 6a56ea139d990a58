// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Containers, for every gadget (see containers.h).  The id comes from the
 * cgroup path; name, image, pod and namespace from the files the runtime
 * keeps for it.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <jansson.h>

#include "containers.h"

/*
 * Where the runtimes' files are: $LOUPE_HOST_ROOT if set, our own root, then
 * the host's seen through pid 1 (loupe in a container with the host's pid
 * namespace and the runtimes' directories not mounted).
 */
const char *const *host_roots(void)
{
	static const char *roots[4];

	if (!roots[1]) {
		roots[0] = getenv("LOUPE_HOST_ROOT") ?: "";
		roots[1] = roots[0][0] ? "" : "/proc/1/root";
		roots[2] = roots[0][0] ? "/proc/1/root" : NULL;
	}
	return roots;
}

/* --- the id from a cgroup path ------------------------------------------------------ */

/*
 * The runtimes' cgroup names: systemd scopes ("libpod-<id>.scope",
 * "docker-<id>.scope", "cri-containerd-<id>.scope", "crio-<id>.scope") and
 * cgroupfs paths ("/libpod_parent/libpod-<id>", "/docker/<id>",
 * "/kubepods/.../<id>").  Conmon's own cgroup is not the container's.
 */
static const struct {
	const char *before; /* text just before the id */
	const char *runtime;
} id_prefixes[] = {
	{ "libpod-", "podman" },  { "docker-", "docker" },
	{ "/docker/", "docker" }, { "cri-containerd-", "containerd" },
	{ "crio-", "cri-o" },	  { "/crio/", "cri-o" },
};

static bool hex64_at(const char *p)
{
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)p[i]) || isupper((unsigned char)p[i]))
			return false;
	return !isxdigit((unsigned char)p[64]);
}

bool container_id_from_cgroup(const char *line, char id[65], const char **runtime)
{
	const char *path = strchr(line, ':'), *found = NULL, *kind = NULL;

	/* "hierarchy:controllers:path"; the path is after the second colon. */
	if (!path || !(path = strchr(path + 1, ':')))
		return false;
	for (const char *p = path + 1; *p; p++) {
		if (!hex64_at(p))
			continue;
		found = p; /* the last one: a container's cgroup is under its pod's */
		kind = NULL;
		for (size_t i = 0; i < sizeof(id_prefixes) / sizeof(id_prefixes[0]); i++) {
			size_t n = strlen(id_prefixes[i].before);

			if (p - path - 1 >= (long)n && !strncmp(p - n, id_prefixes[i].before, n))
				kind = id_prefixes[i].runtime;
		}
		if (p - path >= 8 && !strncmp(p - 7, "conmon-", 7))
			found = NULL; /* podman's and CRI-O's monitor, not the container */
		p += 63;
	}
	if (!found)
		return false;
	memcpy(id, found, 64);
	id[64] = '\0';
	*runtime = kind; /* NULL: a bare id (kubepods on cgroupfs): the files tell */
	return true;
}

/* --- what the runtime says --------------------------------------------------------------- */

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static const char *json_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

/* Kubernetes names from an OCI spec's annotations (CRI-O's and containerd's keys). */
static void read_annotations(struct container *c, json_t *ann)
{
	static const struct {
		const char *key;
		size_t off, len;
	} keys[] = {
#define K(k, f) { k, offsetof(struct container, f), sizeof(((struct container *)0)->f) }
		K("io.kubernetes.pod.name", pod),
		K("io.kubernetes.cri.sandbox-name", pod),
		K("io.kubernetes.pod.namespace", namespace),
		K("io.kubernetes.cri.sandbox-namespace", namespace),
		K("io.kubernetes.container.name", name),
		K("io.kubernetes.cri.container-name", name),
		K("io.kubernetes.cri.image-name", image),
		K("io.kubernetes.cri-o.ImageName", image),
#undef K
	};

	for (size_t i = 0; json_is_object(ann) && i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = json_str(ann, keys[i].key);

		if (v && *v)
			copy((char *)c + keys[i].off, keys[i].len, v);
	}
}

/* root/dir/id/tail as JSON (id may be ""), the first root that has it; or NULL. */
static json_t *load(const char *dir, const char *id, const char *tail)
{
	char path[1024];
	const char *const *roots = host_roots();
	json_t *j = NULL;

	for (int r = 0; roots[r] && !j; r++) {
		snprintf(path, sizeof(path), "%s%s/%s%s%s", roots[r], dir, id, *id ? "/" : "",
			 tail);
		j = json_load_file(path, 0, NULL);
	}
	return j;
}

/* podman: containers.json has the names and image; the OCI spec the annotations. */
static bool read_podman(struct container *c)
{
	static const char *const stores[] = {
		"/var/lib/containers/storage/overlay-containers",
		"/run/containers/storage/overlay-containers",
	};
	bool found = false;

	for (size_t s = 0; s < sizeof(stores) / sizeof(stores[0]) && !found; s++) {
		json_t *all = load(stores[s], "", "containers.json"), *e;
		size_t i;

		json_array_foreach(all, i, e)
		{
			json_t *meta;

			if (!json_str(e, "id") || strcmp(json_str(e, "id"), c->id))
				continue;
			copy(c->name, sizeof(c->name),
			     json_string_value(json_array_get(json_object_get(e, "names"), 0)));
			meta = json_loads(json_str(e, "metadata") ?: "", 0, NULL);
			copy(c->image, sizeof(c->image), json_str(meta, "image-name"));
			json_decref(meta);
			found = true;
		}
		json_decref(all);
		if (found) {
			json_t *spec = load(stores[s], c->id, "userdata/config.json");

			read_annotations(c, json_object_get(spec, "annotations"));
			json_decref(spec);
		}
	}
	return found;
}

static bool read_docker(struct container *c)
{
	json_t *cfg = load("/var/lib/docker/containers", c->id, "config.v2.json");
	json_t *conf = json_object_get(cfg, "Config");
	const char *name = json_str(cfg, "Name");

	if (!cfg)
		return false;
	copy(c->name, sizeof(c->name), name && *name == '/' ? name + 1 : name);
	copy(c->image, sizeof(c->image), json_str(conf, "Image"));
	read_annotations(c, json_object_get(conf, "Labels"));
	json_decref(cfg);
	return true;
}

/* containerd keeps each task's OCI spec in its namespace's directory (k8s.io, moby...). */
static bool read_containerd(struct container *c)
{
	const char *base = "/run/containerd/io.containerd.runtime.v2.task";
	const char *const *roots = host_roots();
	bool found = false;

	for (int r = 0; roots[r] && !found; r++) {
		char top[512];
		struct dirent *de;
		DIR *d;

		snprintf(top, sizeof(top), "%s%s", roots[r], base);
		if (!(d = opendir(top)))
			continue;
		while (!found && (de = readdir(d))) {
			char dir[768];
			json_t *spec;

			if (de->d_name[0] == '.')
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", base, de->d_name);
			spec = load(dir, c->id, "config.json");
			if (spec) {
				read_annotations(c, json_object_get(spec, "annotations"));
				found = true;
			}
			json_decref(spec);
		}
		closedir(d);
	}
	return found;
}

static bool read_crio(struct container *c)
{
	static const char *const stores[] = {
		"/run/containers/storage/overlay-containers",
		"/var/lib/containers/storage/overlay-containers",
	};

	for (size_t s = 0; s < sizeof(stores) / sizeof(stores[0]); s++) {
		json_t *spec = load(stores[s], c->id, "userdata/config.json");

		if (spec) {
			read_annotations(c, json_object_get(spec, "annotations"));
			json_decref(spec);
			return true;
		}
	}
	return false;
}

static const struct {
	const char *runtime;
	bool (*read)(struct container *c);
} readers[] = {
	{ "podman", read_podman },
	{ "docker", read_docker },
	{ "containerd", read_containerd },
	{ "cri-o", read_crio },
};

int container_read(uint32_t pid, struct container *c)
{
	char path[64], line[1024];
	const char *runtime = NULL;
	bool have = false;
	FILE *fp;

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	fp = fopen(path, "re");
	if (!fp)
		return -ESRCH; /* gone: nothing to tell */
	while (!have && fgets(line, sizeof(line), fp))
		have = container_id_from_cgroup(line, c->id, &runtime);
	fclose(fp);
	if (!have)
		return -ENOENT;
	/* The runtime the path names, or the first whose files know the id. */
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		if (runtime && strcmp(runtime, readers[i].runtime))
			continue;
		if (readers[i].read(c) || runtime) {
			c->runtime = readers[i].runtime;
			break;
		}
	}
	if (!c->runtime)
		c->runtime = "unknown";
	return 0;
}

bool container_matches(const struct container *c, const char *name_or_id)
{
	size_t n = strlen(name_or_id);

	if (!strcmp(c->name, name_or_id) || !strcmp(c->id, name_or_id))
		return true;
	return n >= 4 && n < sizeof(c->id) && !strncmp(c->id, name_or_id, n);
}

/* --- the cache, by mount namespace ---------------------------------------------------------- */

#define CACHE_SIZE 4096 /* a power of two; far more namespaces than a host runs */

/*
 * Keyed by the namespace's key (loupe.bpf.h: never reused), not its inode
 * number, which a new container gets again as soon as another one exits.
 */
struct slot {
	uint64_t key;	     /* 0: free */
	uint64_t mntns;	     /* its inode number, to tell whether it still lives */
	struct container *c; /* NULL: the host, or not a container */
};

static struct slot cache[CACHE_SIZE];

static struct slot *slot_of(uint64_t key, bool insert)
{
	size_t i = (key * 0x9e3779b97f4a7c15ULL) >> 52; /* 12 bits: CACHE_SIZE */

	for (size_t n = 0; n < CACHE_SIZE; n++, i = (i + 1) & (CACHE_SIZE - 1)) {
		if (cache[i].key == key)
			return &cache[i];
		if (!cache[i].key)
			return insert ? &cache[i] : NULL;
	}
	return NULL; /* full: no caching, the answer is still right */
}

const struct container *container_of(uint64_t key, uint64_t mntns, uint32_t pid)
{
	struct slot *s;
	struct container c;
	int err;

	key = key ?: mntns; /* kernels without a key: the inode number, reuse and all */
	s = key ? slot_of(key, true) : NULL;
	if (s && s->key == key)
		return s->c;
	err = container_read(pid, &c);
	/* The process is gone before we looked: ask again with the next event. */
	if ((err && err != -ENOENT) || !s)
		return NULL;
	*s = (struct slot){ key, mntns, NULL };
	if (err) /* a host process */
		return NULL;
	s->c = malloc(sizeof(*s->c));
	if (s->c)
		*s->c = c;
	return s->c;
}

/* NS_GET_MNTNS_ID (Linux 6.11+): the key the kernel side reads, from user space. */
#define LOUPE_NS_GET_MNTNS_ID _IOR(0xb7, 0x5, uint64_t)

uint64_t mntns_key_of(uint32_t pid)
{
	char path[64];
	uint64_t id = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/ns/mnt", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (ioctl(fd, LOUPE_NS_GET_MNTNS_ID, &id))
		id = 0;
	close(fd);
	return id;
}

int mntns_foreach(int (*cb)(uint64_t mntns, uint32_t pid, void *ctx), void *ctx)
{
	uint64_t seen[1024];
	size_t nseen = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;
	int ret = 0;

	if (!d)
		return -errno;
	while (!ret && (de = readdir(d))) {
		char path[64], *end;
		long pid = strtol(de->d_name, &end, 10);
		struct stat st;
		bool dup = false;

		if (pid <= 0 || *end)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/ns/mnt", pid);
		if (stat(path, &st))
			continue;
		for (size_t i = 0; i < nseen && !dup; i++)
			dup = seen[i] == st.st_ino;
		if (dup)
			continue;
		if (nseen < sizeof(seen) / sizeof(seen[0]))
			seen[nseen++] = st.st_ino;
		ret = cb(st.st_ino, pid, ctx);
	}
	closedir(d);
	return ret;
}

struct live {
	uint8_t by_slot[CACHE_SIZE];
};

/* A slot lives if a process has its key (where the kernel tells keys) or its inode number. */
static int mark_live(uint64_t mntns, uint32_t pid, void *ctx)
{
	struct live *live = ctx;
	uint64_t key = mntns_key_of(pid);

	for (size_t i = 0; i < CACHE_SIZE; i++)
		if (cache[i].key && (key ? cache[i].key == key : cache[i].mntns == mntns))
			live->by_slot[i] = 1;
	return 0;
}

int containers_sweep(void (*gone)(uint64_t key, void *ctx), void *ctx)
{
	static struct live live;
	static struct slot keep[CACHE_SIZE];
	size_t nkeep = 0;
	int forgotten = 0;

	memset(&live, 0, sizeof(live));
	if (mntns_foreach(mark_live, &live))
		return 0;
	for (size_t i = 0; i < CACHE_SIZE; i++) {
		if (!cache[i].key)
			continue;
		if (live.by_slot[i]) {
			keep[nkeep++] = cache[i];
			continue;
		}
		if (gone)
			gone(cache[i].key, ctx);
		free(cache[i].c);
		forgotten++;
	}
	/* Rebuilt: open addressing has no cheap removal. */
	memset(cache, 0, sizeof(cache));
	for (size_t i = 0; i < nkeep; i++)
		*slot_of(keep[i].key, true) = keep[i];
	return forgotten;
}

size_t containers_cached(void)
{
	size_t n = 0;

	for (size_t i = 0; i < CACHE_SIZE; i++)
		n += cache[i].key != 0;
	return n;
}

void containers_free(void)
{
	for (size_t i = 0; i < CACHE_SIZE; i++)
		free(cache[i].c);
	memset(cache, 0, sizeof(cache));
}

/* --- loupe list containers ---------------------------------------------------------------- */

struct listing {
	struct row {
		struct container c;
		uint64_t mntns;
		unsigned int procs;
	} rows[256];
	size_t n;
};

/* src with every byte that is not printable ASCII as '?', into dst (as large as src). */
static const char *printable(char *dst, const char *src)
{
	size_t i;

	for (i = 0; src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
	return dst;
}

static int list_one(uint64_t mntns, uint32_t pid, void *ctx)
{
	struct listing *l = ctx;
	struct container c;

	if (container_read(pid, &c) || l->n == sizeof(l->rows) / sizeof(l->rows[0]))
		return 0;
	for (size_t i = 0; i < l->n; i++) {
		if (!strcmp(l->rows[i].c.id, c.id)) {
			l->rows[i].procs++;
			return 0;
		}
	}
	l->rows[l->n++] = (struct row){ c, mntns, 1 };
	return 0;
}

/* Every container with a process running, as loupe names it in events. */
int containers_list(FILE *fp, bool json, void (*write_str)(FILE *, const void *, size_t))
{
	struct listing *l = calloc(1, sizeof(*l));
	int err;

	if (!l)
		return -ENOMEM;
	err = mntns_foreach(list_one, l);
	if (json)
		fputc('[', fp);
	else
		fprintf(fp, "%-12s  %-10s  %-20s  %-24s  %-16s  %-12s %s\n", "CONTAINER", "RUNTIME",
			"NAME", "IMAGE", "POD", "NAMESPACE", "MNTNS");
	for (size_t i = 0; i < l->n; i++) {
		const struct container *c = &l->rows[i].c;

		if (json) {
			const char *vals[] = { c->id,	 c->runtime, c->name,
					       c->image, c->pod,     c->namespace };
			const char *keys[] = { "container_id", "runtime", "container_name",
					       "image",	       "pod",	  "namespace" };

			fputs(i ? ",{" : "{", fp);
			for (size_t k = 0; k < 6; k++) {
				fprintf(fp, "%s\"%s\":", k ? "," : "", keys[k]);
				write_str(fp, vals[k], strlen(vals[k]));
			}
			fprintf(fp, ",\"mntns_id\":%llu}", (unsigned long long)l->rows[i].mntns);
		} else {
			/* What the runtime's files say is not ours to trust: printable only. */
			char name[sizeof(c->name)], image[sizeof(c->image)], pod[sizeof(c->pod)],
				ns[sizeof(c->namespace)];

			fprintf(fp, "%-12.12s  %-10s  %-20s  %-24s  %-16s  %-12s %llu\n", c->id,
				c->runtime, printable(name, c->name), printable(image, c->image),
				printable(pod, c->pod), printable(ns, c->namespace),
				(unsigned long long)l->rows[i].mntns);
		}
	}
	if (json)
		fputs("]\n", fp);
	free(l);
	return err;
}
