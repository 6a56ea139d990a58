// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Library discovery (ld.so.cache, standard directories) and ELF symbol lookup. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "gadget.h"
#include "grow.h"
#include "uprobe.h"

int lib_list_add(struct lib_list *l, const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	for (int i = 0; i < l->n; i++)
		if (l->v[i].dev == st.st_dev && l->v[i].ino == st.st_ino)
			return 1;
	if (grow(&l->v, &l->cap, l->n + 1, sizeof(*l->v), 8))
		return -ENOMEM;
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	snprintf(l->v[l->n].path, sizeof(l->v[l->n].path), "%s", path);
	l->v[l->n].dev = st.st_dev;
	l->v[l->n].ino = st.st_ino;
	l->n++;
	return 0;
}

struct lib_entry *lib_list_get(struct lib_list *l, const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return NULL;
	for (int i = 0; i < l->n; i++)
		if (l->v[i].dev == st.st_dev && l->v[i].ino == st.st_ino)
			return &l->v[i];
	return NULL;
}

void lib_list_free(struct lib_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/*
 * glibc's cache: "glibc-ld.so.cache1.1", then nlibs entries of
 * {int32 flags; u32 key; u32 value; u32 osversion; u64 hwcap}; key and value
 * are offsets of strings from the start of that header.
 */
#define LDCACHE_MAGIC "glibc-ld.so.cache1.1"

static void scan_ld_cache(const char *root, const char *prefix, struct lib_list *out)
{
	char cache[PATH_MAX], path[PATH_MAX];
	int fd;

	snprintf(cache, sizeof(cache), "%s/etc/ld.so.cache", root);
	fd = open(cache, O_RDONLY | O_CLOEXEC);
	size_t plen = strlen(prefix);
	struct stat st;
	const char *map, *hdr;
	uint32_t nlibs;
	size_t avail;

	if (fd < 0)
		return;
	if (fstat(fd, &st) || st.st_size < 48 || st.st_size > (64 << 20)) {
		close(fd);
		return;
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return;
	hdr = memmem(map, st.st_size, LDCACHE_MAGIC, strlen(LDCACHE_MAGIC));
	if (!hdr || (size_t)(hdr - map) + 48 > (size_t)st.st_size)
		goto out;
	avail = st.st_size - (hdr - map);
	memcpy(&nlibs, hdr + 20, 4);
	if ((uint64_t)nlibs * 24 + 48 > avail)
		goto out;
	for (uint32_t i = 0; i < nlibs; i++) {
		const char *e = hdr + 48 + (size_t)i * 24;
		uint32_t key, value;

		memcpy(&key, e + 4, 4);
		memcpy(&value, e + 8, 4);
		if (key >= avail || value >= avail || !memchr(hdr + key, 0, avail - key) ||
		    !memchr(hdr + value, 0, avail - value))
			continue;
		if (!strncmp(hdr + key, prefix, plen)) {
			snprintf(path, sizeof(path), "%s%s", root, hdr + value);
			lib_list_add(out, path);
		}
	}
out:
	munmap((void *)map, st.st_size);
}

static const char *const lib_dirs[] = {
	"/lib/x86_64-linux-gnu",
	"/usr/lib/x86_64-linux-gnu",
	"/lib/aarch64-linux-gnu",
	"/usr/lib/aarch64-linux-gnu",
	"/lib64",
	"/usr/lib64",
	"/lib",
	"/usr/lib",
	"/usr/local/lib",
	"/usr/local/lib64",
};

int find_libraries(const char *root, const char *prefix, struct lib_list *out)
{
	size_t plen = strlen(prefix);

	scan_ld_cache(root, prefix, out);
	for (size_t i = 0; i < sizeof(lib_dirs) / sizeof(lib_dirs[0]); i++) {
		char dir[PATH_MAX];
		struct dirent *de;
		DIR *d;

		snprintf(dir, sizeof(dir), "%s%s", root, lib_dirs[i]);
		if (!(d = opendir(dir)))
			continue;
		while ((de = readdir(d))) {
			char path[PATH_MAX + 256];

			if (strncmp(de->d_name, prefix, plen))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			lib_list_add(out, path);
		}
		closedir(d);
	}
	return out->n;
}

bool elf_vaddr_offset(Elf *elf, unsigned long vaddr, unsigned long len, unsigned long *off)
{
	size_t nph;

	if (elf_getphdrnum(elf, &nph))
		return false;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr - ph.p_vaddr + len <= ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return true;
		}
	}
	return false;
}

int elf_find_funcs(const char *path, struct elf_func *funcs, int n, unsigned long *image_end)
{
	int fd, err = 0;
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t nph;

	for (int i = 0; i < n; i++)
		funcs[i].found = false;
	if (image_end)
		*image_end = 0;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err = -ENOEXEC;
		goto out;
	}
	if (image_end && !elf_getphdrnum(elf, &nph)) {
		for (size_t i = 0; i < nph; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD &&
			    ph.p_vaddr + ph.p_memsz > *image_end)
				*image_end = ph.p_vaddr + ph.p_memsz;
		}
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t count;

		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !sh.sh_entsize)
			continue;
		count = sh.sh_size / sh.sh_entsize;
		for (size_t k = 0; k < count; k++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, k, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name)
				continue;
			for (int i = 0; i < n; i++) {
				size_t len = strlen(funcs[i].name);

				/* "SSL_write@@OPENSSL_3.0.0" is SSL_write too. */
				if (funcs[i].found || strncmp(name, funcs[i].name, len) ||
				    (name[len] != '\0' && name[len] != '@'))
					continue;
				if (!elf_vaddr_offset(elf, sym.st_value, 1, &funcs[i].offset))
					continue;
				funcs[i].vaddr = sym.st_value;
				funcs[i].found = true;
			}
		}
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return err;
}

int proc_maps_foreach(int pid, int (*cb)(const struct proc_map *m, void *ctx), void *ctx)
{
	char path[64], line[PATH_MAX + 256];
	FILE *fp;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	while (!ret && fgets(line, sizeof(line), fp)) {
		struct proc_map m = {};
		char perms[8];
		int pos = 0;
		size_t len;

		/* start-end perms offset dev inode path */
		if (sscanf(line, "%lx-%lx %7s %lx %*x:%*x %lu %n", &m.start, &m.end, perms,
			   &m.offset, &m.ino, &pos) < 5 ||
		    !pos || line[pos] != '/')
			continue;
		len = strlen(line + pos);
		if (len && line[pos + len - 1] == '\n')
			line[pos + len - 1] = '\0';
		m.exec = strchr(perms, 'x') != NULL;
		m.path = line + pos;
		ret = cb(&m, ctx);
	}
	fclose(fp);
	return ret < 0 ? ret : 0;
}

/* BPF_LINK_CREATE's uprobe_multi form, as the kernel's UAPI lays it out. */
struct uprobe_multi_attr {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__u64 path;
	__u64 offsets;
	__u64 ref_ctr_offsets;
	__u64 cookies;
	__u32 cnt;
	__u32 multi_flags;
	__u32 pid;
	__u32 pad;
};

#define LOUPE_BPF_F_UPROBE_MULTI_RETURN 1

int uprobe_multi_link(int prog_fd, const char *path, const unsigned long *offsets,
		      const __u64 *cookies, unsigned int cnt, bool retprobe)
{
	struct uprobe_multi_attr attr = {
		.prog_fd = prog_fd,
		.attach_type = LOUPE_BPF_TRACE_UPROBE_MULTI,
		.path = (uintptr_t)path,
		.offsets = (uintptr_t)offsets,
		.cookies = (uintptr_t)cookies,
		.cnt = cnt,
		.multi_flags = retprobe ? LOUPE_BPF_F_UPROBE_MULTI_RETURN : 0,
	};
	int fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));

	return fd < 0 ? -errno : fd;
}

int uprobe_attach(struct session *s, struct bpf_program *prog, const char *path, const char *func,
		  unsigned long offset, bool retprobe)
{
	return uprobe_attach_cookie(s, prog, path, func, offset, retprobe, 0);
}

int uprobe_attach_cookie(struct session *s, struct bpf_program *prog, const char *path,
			 const char *func, unsigned long offset, bool retprobe, __u64 cookie)
{
	/* By offset: libbpf would otherwise parse the ELF again for every probe. */
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe, .bpf_cookie = cookie);
	struct bpf_link *link;
	int err;

	if (s->uprobe_multi) {
		int fd = uprobe_multi_link(bpf_program__fd(prog), path, &offset, &cookie, 1,
					   retprobe);

		if (fd < 0) {
			loupe_info(s, "cannot attach %s to %s:%s: %s", bpf_program__name(prog),
				   path, func, strerror(-fd));
			return fd;
		}
		loupe_info(s, "attached %s to %s:%s", bpf_program__name(prog), path, func);
		return session_add_link_fd(s, fd);
	}
	link = bpf_program__attach_uprobe_opts(prog, -1, path, offset, &opts);
	if (!link) {
		err = -errno;
		loupe_info(s, "cannot attach %s to %s:%s: %s", bpf_program__name(prog), path, func,
			   strerror(-err));
		return err;
	}
	loupe_info(s, "attached %s to %s:%s", bpf_program__name(prog), path, func);
	return session_add_link(s, link);
}
