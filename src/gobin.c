// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go executables: build info, functions and their returns (see gobin.h).
 *
 * Formats, from the Go sources (debug/buildinfo, debug/gosym/pclntab.go,
 * runtime/symtab.go):
 *   .go.buildinfo  "\xff Go buildinf:", pointer size, flags; with flag 2
 *                  (Go 1.18+) varint-prefixed version and module strings at
 *                  offset 32, before that two pointers to Go strings.
 *   .gopclntab     magic, 2 zero bytes, PC quantum, pointer size, then words:
 *                  1.18+ (magic 0xfffffff0, 1.20+ 0xfffffff1): nfunc, nfiles,
 *                  textStart, funcname, cu, filetab, pctab, pcln offsets;
 *                  1.16 (0xfffffffa): nfunc, nfiles, funcname, cu, filetab,
 *                  pctab, pcln; 1.2 (0xfffffffb): nfunc, then the table.
 *                  The table: nfunc (entry, funcoff) pairs and the end PC;
 *                  entry is a uint32 offset from textStart in 1.18+, a
 *                  pointer before.  At funcoff: _func, whose second field is
 *                  the name's offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gobin.h"
#include "uprobe.h"
#include "x86len.h"

#define BUILDINFO_MAGIC "\xff Go buildinf:"

bool go_version_parse(const char *v, int *major, int *minor)
{
	const char *p = strstr(v, "go");

	while (p && (p[2] < '0' || p[2] > '9'))
		p = strstr(p + 2, "go");
	return p && sscanf(p + 2, "%d.%d", major, minor) == 2;
}

/* A section's bytes, by name (or by name suffix when suffix is set). */
static Elf_Data *section_data(Elf *elf, const char *name, bool suffix, GElf_Shdr *out)
{
	size_t shstrndx, len = strlen(name);
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *sname;
		size_t slen;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		sname = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!sname)
			continue;
		slen = strlen(sname);
		if (suffix ? slen >= len && !strcmp(sname + slen - len, name)
			   : !strcmp(sname, name)) {
			if (out)
				*out = sh;
			return elf_getdata(scn, NULL);
		}
	}
	return NULL;
}

/* Bytes at a virtual address, through the loadable segments; NULL if not in the file. */
static const uint8_t *vaddr_bytes(Elf *elf, const uint8_t *file, size_t fsize, uint64_t vaddr,
				  size_t len, unsigned long *offset)
{
	unsigned long off;

	if (!elf_vaddr_offset(elf, vaddr, len, &off) || off > fsize || fsize - off < len)
		return NULL;
	if (offset)
		*offset = off;
	return file + off;
}

static uint64_t get_le(const uint8_t *p, int size)
{
	uint64_t v = 0;

	for (int i = size - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static size_t uvarint(const uint8_t *p, size_t n, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < n && i < 10; i++) {
		*v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80))
			return i + 1;
	}
	return 0;
}

struct gofile {
	Elf *elf;
	const uint8_t *map;
	size_t size;
};

/* The version string, and whether the build turned the register ABI off. */
static int read_buildinfo(struct gofile *f, struct go_info *info, bool *noregabi)
{
	GElf_Shdr sh;
	Elf_Data *d = section_data(f->elf, ".go.buildinfo", false, &sh);
	const uint8_t *p;
	uint64_t len, mlen;
	size_t k, n;

	if (!d || d->d_size < 32 || memcmp(d->d_buf, BUILDINFO_MAGIC, 14))
		return -ENODATA;
	p = d->d_buf;
	n = d->d_size;
	if (p[15] & 2) {
		k = uvarint(p + 32, n - 32, &len);
		if (!k || len >= n - 32 - k)
			return -ENODATA;
		snprintf(info->version, sizeof(info->version), "%.*s", (int)len, p + 32 + k);
		/* The module info: "build\tGOEXPERIMENT=noregabi..." lines (1.18+). */
		p += 32 + k + len;
		n -= 32 + k + len;
		k = uvarint(p, n, &mlen);
		if (k && mlen <= n - k) {
			const char *m = memmem(p + k, mlen, "GOEXPERIMENT=", 13);

			*noregabi = m &&
				    memmem(m, mlen - ((const uint8_t *)m - (p + k)), "noregabi", 8);
		}
	} else {
		/* Before 1.18: a pointer to a Go string header (pointer, length). */
		int ps = p[14];
		const uint8_t *hdr, *s;

		if (ps != 4 && ps != 8)
			return -ENODATA;
		hdr = vaddr_bytes(f->elf, f->map, f->size, get_le(p + 16, ps), 2 * ps, NULL);
		if (!hdr)
			return -ENODATA;
		len = get_le(hdr + ps, ps);
		s = len < sizeof(info->version)
			    ? vaddr_bytes(f->elf, f->map, f->size, get_le(hdr, ps), len, NULL)
			    : NULL;
		if (!s)
			return -ENODATA;
		snprintf(info->version, sizeof(info->version), "%.*s", (int)len, s);
	}
	return info->version[0] ? 0 : -ENODATA;
}

/* Functions by name from .symtab (absent in stripped binaries); true if any was there. */
static bool find_in_symtab(struct gofile *f, struct go_func *funcs, int n)
{
	Elf_Scn *scn = NULL;
	bool any = false;

	while ((scn = elf_nextscn(f->elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		if (!(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t k = 0; k < sh.sh_size / sh.sh_entsize; k++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, k, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF)
				continue;
			if (!(name = elf_strptr(f->elf, sh.sh_link, sym.st_name)))
				continue;
			for (int i = 0; i < n; i++) {
				if (funcs[i].found || strcmp(name, funcs[i].name))
					continue;
				funcs[i].found = any = true;
				funcs[i].vaddr = sym.st_value;
				funcs[i].size = sym.st_size;
			}
		}
	}
	return any;
}

static bool pclntab_magic(uint32_t magic)
{
	return magic == 0xfffffff0 || magic == 0xfffffff1 || magic == 0xfffffffa ||
	       magic == 0xfffffffb;
}

/*
 * The function table: .gopclntab, or in a position-independent executable
 * (no such section) somewhere in .data.rel.ro: its header, aligned, with
 * PC quantum 1 and 8-byte pointers.
 */
static const uint8_t *find_pclntab(struct gofile *f, size_t *size)
{
	Elf_Data *d = section_data(f->elf, "gopclntab", true, NULL);
	const uint8_t *p;

	if (d && d->d_size >= 64) {
		*size = d->d_size;
		return d->d_buf;
	}
	d = section_data(f->elf, ".data.rel.ro", false, NULL);
	if (!d)
		return NULL;
	p = d->d_buf;
	for (size_t i = 0; i + 64 <= d->d_size; i += 8) {
		if (!pclntab_magic(get_le(p + i, 4)) || p[i + 4] || p[i + 5] || p[i + 6] != 1 ||
		    p[i + 7] != 8 || get_le(p + i + 8, 8) > (d->d_size - i) / 8)
			continue;
		*size = d->d_size - i;
		return p + i;
	}
	return NULL;
}

/* Functions by name from .gopclntab: what the runtime itself uses for tracebacks. */
static int find_in_pclntab(struct gofile *f, struct go_func *funcs, int n)
{
	GElf_Shdr text;
	const uint8_t *p, *pairs, *base, *names;
	uint64_t nfunc, textstart = 0, word[8];
	size_t size = 0, fsz, names_size, base_size;
	uint32_t magic;
	int ps;

	p = find_pclntab(f, &size);
	if (!p)
		return -EPROTO;
	magic = get_le(p, 4);
	ps = p[7];
	if (p[4] || p[5] || ps != 8)
		return -EPROTO;
	for (int i = 0; i < 8; i++)
		word[i] = get_le(p + 8 + i * ps, ps);
	nfunc = word[0];
	switch (magic) {
	case 0xfffffff0: /* 1.18, 1.19 */
	case 0xfffffff1: /* 1.20+ */
		/*
		 * runtime.text: after the C start-up code when the system linker
		 * linked (cgo).  Zero where left to a relocation: .text then.
		 */
		textstart = word[2];
		if (!textstart && section_data(f->elf, ".text", false, &text))
			textstart = text.sh_addr;
		names = word[3] < size ? p + word[3] : NULL;
		pairs = base = word[7] < size ? p + word[7] : NULL;
		fsz = 4;
		break;
	case 0xfffffffa: /* 1.16, 1.17 */
		names = word[2] < size ? p + word[2] : NULL;
		pairs = base = word[6] < size ? p + word[6] : NULL;
		fsz = ps;
		break;
	case 0xfffffffb: /* 1.2 to 1.15: offsets from the table's start */
		names = base = p;
		pairs = p + 8 + ps;
		fsz = ps;
		break;
	default:
		return -EPROTO;
	}
	if (!names || !pairs || nfunc > size || (size_t)(pairs - p) + (nfunc * 2 + 1) * fsz > size)
		return -EPROTO;
	names_size = size - (names - p);
	base_size = size - (base - p);
	for (uint64_t k = 0; k < nfunc; k++) {
		const uint8_t *e = pairs + k * 2 * fsz;
		uint64_t entry = get_le(e, fsz), next = get_le(e + 2 * fsz, fsz);
		uint64_t foff = get_le(e + fsz, fsz), nameoff;
		const char *name;

		/* _func: the entry (fsz bytes), then the name's offset (4 bytes). */
		if (foff > base_size || base_size - foff < fsz + 4)
			continue;
		nameoff = (uint32_t)get_le(base + foff + fsz, 4);
		if (nameoff >= names_size || !memchr(names + nameoff, 0, names_size - nameoff))
			continue;
		name = (const char *)names + nameoff;
		for (int i = 0; i < n; i++) {
			if (funcs[i].found || strcmp(name, funcs[i].name))
				continue;
			funcs[i].found = true;
			funcs[i].vaddr = textstart + entry;
			funcs[i].size = next > entry ? next - entry : 0;
		}
	}
	return 0;
}

/* Walk the function from entry to end, noting every RET; any unknown byte stops us. */
static void find_rets(struct gofile *f, struct go_func *fn)
{
	const uint8_t *code;
	struct x86_insn insn;
	size_t i = 0;

	code = vaddr_bytes(f->elf, f->map, f->size, fn->vaddr, fn->size, &fn->offset);
	if (!code || !fn->size) {
		fn->err = -EILSEQ;
		return;
	}
	while (i < fn->size) {
		int len = x86_insn_decode(code + i, fn->size - i, &insn);

		if (len < 0) {
			/* Go pads functions with INT3: an undecodable tail there is harmless. */
			while (i < fn->size && code[i] == 0xcc)
				i++;
			if (i < fn->size)
				fn->err = -EILSEQ;
			return;
		}
		if (x86_insn_is_ret(&insn)) {
			if (fn->nr_rets == GO_MAX_RETS) {
				fn->err = -E2BIG;
				return;
			}
			fn->rets[fn->nr_rets++] = fn->offset + i;
		}
		i += len;
	}
}

/*
 * The runtime keeps g in the executable's first thread-local slot: FS - 8
 * when the Go linker links (no PT_TLS), below the executable's TLS block
 * (x86-64 variant II) when the system linker does (cgo).
 */
static long g_tls_offset(Elf *elf)
{
	size_t nph;

	if (elf_getphdrnum(elf, &nph))
		return -8;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_TLS) {
			uint64_t align = ph.p_align ? ph.p_align : 1;

			return -(long)((ph.p_memsz + align - 1) / align * align);
		}
	}
	return -8;
}

int go_binary_read(const char *path, struct go_info *info, struct go_func *funcs, int n)
{
	struct gofile f = {};
	bool noregabi = false;
	GElf_Ehdr eh;
	int fd, err;

	memset(info, 0, sizeof(*info));
	for (int i = 0; i < n; i++) {
		const char *name = funcs[i].name;

		memset(&funcs[i], 0, sizeof(funcs[i]));
		funcs[i].name = name;
	}
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/*
	 * Read, not mapped: the kernel puts the breakpoints of every uprobe on
	 * the file (another loupe's, our own) into any new mapping of it that
	 * may execute, a read-only one too, and RETs would read as INT3.
	 */
	f.elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!f.elf || elf_kind(f.elf) != ELF_K_ELF || !gelf_getehdr(f.elf, &eh)) {
		err = -ENOEXEC;
		goto out;
	}
	f.map = (const uint8_t *)elf_rawfile(f.elf, &f.size);
	if (!f.map) {
		err = -ENOEXEC;
		goto out;
	}
	/* Before 1.13 no build info: still Go (its build id note), of no known version. */
	if ((err = read_buildinfo(&f, info, &noregabi)) &&
	    !section_data(f.elf, ".note.go.buildid", false, NULL))
		goto out;
	err = 0;
	if (eh.e_machine != EM_X86_64) {
		err = -EOPNOTSUPP;
		goto out;
	}
	go_version_parse(info->version, &info->major, &info->minor);
	info->regabi = (info->major > 1 || info->minor >= 17) && !noregabi;
	info->g_tls = g_tls_offset(f.elf);
	info->from_symtab = find_in_symtab(&f, funcs, n);
	/* Stripped (-s -w): .gopclntab has every function still. */
	if (!info->from_symtab && (err = find_in_pclntab(&f, funcs, n)))
		goto out;
	for (int i = 0; i < n; i++)
		if (funcs[i].found)
			find_rets(&f, &funcs[i]);
out:
	if (f.elf)
		elf_end(f.elf);
	close(fd);
	return err;
}
