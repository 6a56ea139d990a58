// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Stack symbolization: kallsyms for the kernel, /proc/PID/maps + ELF for user space. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"
#include "output.h"
#include "stacks.h"

/* --- a string pool: one allocation for thousands of names ------------------ */

struct pool {
	char *buf;
	size_t len, cap;
};

/* Returns the offset of the copy, or (size_t)-1. */
static size_t pool_add(struct pool *p, const char *s, size_t n)
{
	size_t off = p->len;

	if (grow(&p->buf, &p->cap, p->len + n + 1, 1, 65536))
		return (size_t)-1;
	memcpy(p->buf + off, s, n);
	p->buf[off + n] = '\0';
	p->len += n + 1;
	return off;
}

/* --- kernel ----------------------------------------------------------------- */

/* No kernel function is this long: a larger offset means the symbol is not known. */
#define KSYM_MAX_SIZE (1 << 20)

struct ksyms {
	struct ksym *syms;
	size_t n;
	struct pool names;
};

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

void ksyms_free(struct ksyms *ks)
{
	if (!ks)
		return;
	free(ks->syms);
	free(ks->names.buf);
	free(ks);
}

size_t ksyms_count(const struct ksyms *ks)
{
	return ks ? ks->n : 0;
}

struct ksyms *ksyms_load_file(const char *path)
{
	struct ksyms *ks;
	size_t cap = 0, linecap = 0;
	char *line = NULL;
	ssize_t linelen;
	FILE *fp;

	fp = fopen(path, "re");
	if (!fp)
		return NULL;
	ks = calloc(1, sizeof(*ks));
	if (!ks)
		goto fail;
	while ((linelen = getline(&line, &linecap, fp)) > 0) {
		char *name, *mod, *end;
		size_t noff, moff = (size_t)-1;
		uint64_t addr;

		addr = strtoull(line, &end, 16);
		/* "addr type name [module]"; zero addresses: kptr_restrict hides them. */
		if (end == line || !addr || end[0] != ' ' || !end[1] || end[2] != ' ')
			continue;
		name = end + 3;
		name[strcspn(name, "\t\n")] = '\0';
		mod = name + strlen(name) + 1;
		if (mod < line + linelen && *mod == '[') {
			mod++;
			mod[strcspn(mod, "]\n")] = '\0';
			moff = pool_add(&ks->names, mod, strlen(mod));
		}
		noff = pool_add(&ks->names, name, strlen(name));
		if (noff == (size_t)-1)
			goto fail;
		if (ks->n == cap) {
			struct ksym *s;

			cap = cap ? cap * 2 : 65536;
			s = realloc(ks->syms, cap * sizeof(*s));
			if (!s)
				goto fail;
			ks->syms = s;
		}
		/* Offsets now, pointers once the pool stops moving. */
		ks->syms[ks->n++] = (struct ksym){ addr, (const char *)(uintptr_t)noff,
						   (const char *)(uintptr_t)moff };
	}
	free(line);
	fclose(fp);
	if (!ks->n) {
		ksyms_free(ks);
		errno = EPERM;
		return NULL;
	}
	for (size_t i = 0; i < ks->n; i++) {
		size_t moff = (uintptr_t)ks->syms[i].module;

		ks->syms[i].name = ks->names.buf + (uintptr_t)ks->syms[i].name;
		ks->syms[i].module = moff == (size_t)-1 ? NULL : ks->names.buf + moff;
	}
	qsort(ks->syms, ks->n, sizeof(*ks->syms), ksym_cmp);
	return ks;
fail:
	free(line);
	fclose(fp);
	ksyms_free(ks);
	errno = ENOMEM;
	return NULL;
}

struct ksyms *ksyms_load(void)
{
	return ksyms_load_file("/proc/kallsyms");
}

const struct ksym *ksyms_find(const struct ksyms *ks, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!ks || !ks->n || addr < ks->syms[0].addr)
		return NULL;
	hi = ks->n;
	/* The last symbol whose address is <= addr. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (ks->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	/* Past the end of the last symbol of a region (JIT code loaded since): unknown. */
	if (addr - ks->syms[lo].addr >= KSYM_MAX_SIZE)
		return NULL;
	return &ks->syms[lo];
}

static const char *ksym_name_at(const struct ksyms *ks, uint64_t addr, uint64_t lookup, char *buf,
				size_t len)
{
	const struct ksym *s = ksyms_find(ks, lookup);

	if (!s)
		snprintf(buf, len, "0x%" PRIx64, addr);
	else if (s->module)
		snprintf(buf, len, "%s+0x%" PRIx64 " [%s]", s->name, addr - s->addr, s->module);
	else
		snprintf(buf, len, "%s+0x%" PRIx64, s->name, addr - s->addr);
	return buf;
}

const char *ksym_name(const struct ksyms *ks, uint64_t addr, char *buf, size_t len)
{
	return ksym_name_at(ks, addr, addr, buf, len);
}

/* --- ELF files ----------------------------------------------------------------- */

struct esym {
	uint64_t addr, size;
	size_t name; /* offset in the pool */
};

struct segment {
	uint64_t offset, vaddr, filesz;
};

struct elf_file {
	dev_t dev;
	ino_t ino;
	bool ok; /* parsed; false: unreadable, remembered so we do not retry */
	struct esym *syms;
	size_t n;
	struct segment *segs;
	size_t nsegs;
	struct pool names;
	struct elf_file *next;
};

static int esym_cmp(const void *a, const void *b)
{
	const struct esym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Sized symbols first among aliases: they carry a bound. */
	return (y->size != 0) - (x->size != 0);
}

static int elf_add_symbols(struct elf_file *f, Elf *elf, Elf_Scn *scn, GElf_Shdr *sh)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t cap = f->n, count;

	if (!data || !sh->sh_entsize)
		return 0;
	count = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < count; i++) {
		GElf_Sym sym;
		const char *name;
		int type;

		if (!gelf_getsym(data, i, &sym))
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || !sym.st_value ||
		    sym.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		if (f->n == cap) {
			struct esym *s;

			cap = cap ? cap * 2 : 256;
			s = realloc(f->syms, cap * sizeof(*s));
			if (!s)
				return -ENOMEM;
			f->syms = s;
		}
		f->syms[f->n].addr = sym.st_value;
		f->syms[f->n].size = sym.st_size;
		f->syms[f->n].name = pool_add(&f->names, name, strlen(name));
		if (f->syms[f->n].name == (size_t)-1)
			return -ENOMEM;
		f->n++;
	}
	return 0;
}

static void elf_file_load(struct elf_file *f, int fd)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t phnum;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return;
	if (elf_kind(elf) != ELF_K_ELF || elf_getphdrnum(elf, &phnum))
		goto out;
	f->segs = calloc(phnum ? phnum : 1, sizeof(*f->segs));
	if (!f->segs)
		goto out;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD)
			f->segs[f->nsegs++] =
				(struct segment){ ph.p_offset, ph.p_vaddr, ph.p_filesz };
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM)
			if (elf_add_symbols(f, elf, scn, &sh))
				goto out;
	}
	qsort(f->syms, f->n, sizeof(*f->syms), esym_cmp);
	f->ok = true;
out:
	elf_end(elf);
}

/* File offset to the address the ELF symbols use (p_vaddr space). */
static uint64_t elf_offset_to_vaddr(const struct elf_file *f, uint64_t off)
{
	for (size_t i = 0; i < f->nsegs; i++) {
		const struct segment *s = &f->segs[i];

		if (off >= s->offset && off < s->offset + s->filesz)
			return off - s->offset + s->vaddr;
	}
	return off;
}

static const struct esym *elf_find(const struct elf_file *f, uint64_t vaddr)
{
	size_t lo = 0, hi = f->n;

	if (!f->n || vaddr < f->syms[0].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->syms[mid].addr <= vaddr)
			lo = mid;
		else
			hi = mid;
	}
	/* Step back over aliases at the same address to the sized one. */
	while (lo > 0 && f->syms[lo - 1].addr == f->syms[lo].addr)
		lo--;
	if (f->syms[lo].size && vaddr >= f->syms[lo].addr + f->syms[lo].size)
		return NULL; /* in a gap between functions (stripped local) */
	return &f->syms[lo];
}

static void elf_file_free(struct elf_file *f)
{
	free(f->syms);
	free(f->segs);
	free(f->names.buf);
	free(f);
}

/* --- processes ----------------------------------------------------------------- */

struct mapping {
	uint64_t start, end, offset;
	dev_t dev;
	ino_t ino;
	char *path;
};

struct proc_maps {
	pid_t pid;
	double loaded; /* monotonic seconds */
	struct mapping *maps;
	size_t n;
};

#define PROC_CACHE 64
#define PROC_MAX_AGE 2.0 /* seconds: exec and dlopen change a process's maps */

struct usyms {
	struct proc_maps procs[PROC_CACHE];
	size_t next; /* round-robin victim */
	struct elf_file *files;
};


struct usyms *usyms_new(void)
{
	return calloc(1, sizeof(struct usyms));
}

static void proc_maps_clear(struct proc_maps *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->maps[i].path);
	free(p->maps);
	memset(p, 0, sizeof(*p));
}

void usyms_free(struct usyms *us)
{
	if (!us)
		return;
	for (size_t i = 0; i < PROC_CACHE; i++)
		proc_maps_clear(&us->procs[i]);
	while (us->files) {
		struct elf_file *f = us->files;

		us->files = f->next;
		elf_file_free(f);
	}
	free(us);
}

static int proc_maps_read(struct proc_maps *p, pid_t pid)
{
	char path[64], *line = NULL;
	size_t linecap = 0, cap = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fp = fopen(path, "re");
	if (!fp)
		return -errno;
	p->pid = pid;
	p->loaded = loupe_now_s();
	while (getline(&line, &linecap, fp) > 0) {
		unsigned long long start, end, off, ino;
		unsigned int maj, min;
		char perms[8];
		int pos = 0;
		struct mapping *m;

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off,
			   &maj, &min, &ino, &pos) < 7)
			continue;
		/* Only executable file mappings hold code we can name. */
		if (perms[2] != 'x' || !ino)
			continue;
		if (p->n == cap) {
			cap = cap ? cap * 2 : 32;
			m = realloc(p->maps, cap * sizeof(*m));
			if (!m)
				break;
			p->maps = m;
		}
		m = &p->maps[p->n];
		line[strcspn(line, "\n")] = '\0';
		*m = (struct mapping){ start, end,
				       off,   makedev(maj, min),
				       ino,   strdup(pos ? line + pos : "") };
		if (!m->path)
			break;
		p->n++;
	}
	free(line);
	fclose(fp);
	return 0;
}

static struct proc_maps *proc_get(struct usyms *us, pid_t pid, bool reload)
{
	double now = loupe_now_s();
	struct proc_maps *p;

	for (size_t i = 0; i < PROC_CACHE; i++) {
		p = &us->procs[i];
		if (p->pid != pid || !p->loaded)
			continue;
		if (!reload && now - p->loaded < PROC_MAX_AGE)
			return p;
		proc_maps_clear(p);
		return proc_maps_read(p, pid) ? NULL : p;
	}
	p = &us->procs[us->next++ % PROC_CACHE];
	proc_maps_clear(p);
	if (proc_maps_read(p, pid)) {
		proc_maps_clear(p);
		return NULL;
	}
	return p;
}

static const struct mapping *maps_find(const struct proc_maps *p, uint64_t addr)
{
	for (size_t i = 0; p && i < p->n; i++)
		if (addr >= p->maps[i].start && addr < p->maps[i].end)
			return &p->maps[i];
	return NULL;
}

/*
 * Open the file as the process sees it: map_files works for deleted files and
 * other mount namespaces (containers); then its root; then our own view.
 */
static int open_mapped(pid_t pid, const struct mapping *m)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, m->start,
		 m->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (m->path[0] == '/') {
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, m->path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		return open(m->path, O_RDONLY | O_CLOEXEC);
	}
	return -1;
}

static struct elf_file *elf_get(struct usyms *us, pid_t pid, const struct mapping *m)
{
	struct elf_file *f;
	int fd;

	for (f = us->files; f; f = f->next)
		if (f->dev == m->dev && f->ino == m->ino)
			return f->ok ? f : NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->dev = m->dev;
	f->ino = m->ino;
	fd = open_mapped(pid, m);
	if (fd >= 0) {
		elf_file_load(f, fd);
		close(fd);
	}
	f->next = us->files;
	us->files = f;
	return f->ok ? f : NULL;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Look up `lookup`, print offsets from `addr` (they differ for return addresses). */
static const char *usym_name_at(struct usyms *us, pid_t pid, uint64_t addr, uint64_t lookup,
				char *buf, size_t len, char *name, size_t namelen)
{
	struct proc_maps *p = proc_get(us, pid, false);
	const struct mapping *m = maps_find(p, lookup);
	const struct elf_file *f;
	const struct esym *s;
	uint64_t vaddr;

	if (!m && p) {
		/* Mapped since we read the maps (dlopen), or a reused pid. */
		p = proc_get(us, pid, true);
		m = maps_find(p, lookup);
	}
	if (!m) {
		if (buf)
			snprintf(buf, len, "0x%" PRIx64, addr);
		return NULL;
	}
	f = elf_get(us, pid, m);
	vaddr = f ? elf_offset_to_vaddr(f, lookup - m->start + m->offset) : 0;
	s = f ? elf_find(f, vaddr) : NULL;
	if (s) {
		const char *sname = f->names.buf + s->name;

		if (buf)
			snprintf(buf, len, "%s+0x%" PRIx64 " (%s)", sname,
				 vaddr - s->addr + (addr - lookup), base_name(m->path));
		if (name)
			snprintf(name, namelen, "%s", sname);
		return sname;
	}
	if (buf)
		snprintf(buf, len, "%s+0x%" PRIx64, base_name(m->path),
			 addr - m->start + m->offset);
	return NULL;
}

const char *usym_name(struct usyms *us, pid_t pid, uint64_t addr, char *buf, size_t len)
{
	usym_name_at(us, pid, addr, addr, buf, len, NULL, 0);
	return buf;
}

bool usym_lookup(struct usyms *us, pid_t pid, uint64_t addr, char *name, size_t len)
{
	return usym_name_at(us, pid, addr, addr, NULL, 0, name, len) != NULL;
}

/* --- whole stacks -------------------------------------------------------------- */

static size_t append_frame(char *buf, size_t len, size_t pos, const char *frame)
{
	int n;

	if (pos + 1 >= len)
		return pos;
	n = snprintf(buf + pos, len - pos, "%s%s", pos ? "; " : "", frame);
	if (n < 0)
		return pos;
	if (pos + n >= len) {
		/* Truncated: end with an ellipsis the reader cannot miss. */
		if (len >= 4)
			memcpy(buf + len - 4, "...", 4);
		return len - 1;
	}
	return pos + n;
}

size_t stack_format_kernel(const struct ksyms *ks, const uint64_t *ips, size_t n, size_t skip,
			   char *buf, size_t len)
{
	size_t pos = 0;
	char frame[256];

	if (len)
		buf[0] = '\0';
	for (size_t i = skip; i < n && ips[i]; i++) {
		ksym_name_at(ks, ips[i], i ? ips[i] - 1 : ips[i], frame, sizeof(frame));
		pos = append_frame(buf, len, pos, frame);
	}
	return pos;
}

size_t stack_format_user(struct usyms *us, pid_t pid, const uint64_t *ips, size_t n, size_t skip,
			 char *buf, size_t len)
{
	size_t pos = 0;
	char frame[512];

	if (len)
		buf[0] = '\0';
	for (size_t i = skip; i < n && ips[i]; i++) {
		usym_name_at(us, pid, ips[i], i ? ips[i] - 1 : ips[i], frame, sizeof(frame), NULL,
			     0);
		pos = append_frame(buf, len, pos, frame);
	}
	return pos;
}
