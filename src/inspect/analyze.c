// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The analyzer: ELF sections, symbols and relocations through libelf, then a
 * linear scan of each program's instructions.  Everything read from the file
 * is bounds-checked; the input may be anything.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gelf.h>
#include <libelf.h>

#include "inspect/inspect.h"

#ifndef EM_BPF
#define EM_BPF 247
#endif

#define INSN_SZ 8
#define NR_REGS 16 /* 4-bit register fields; only r0-r10 are valid */

/* The raw instruction, decoded by hand to stay independent of host headers. */
struct insn {
	uint8_t code;
	uint8_t dst;
	uint8_t src;
	int16_t off;
	int32_t imm;
};

struct sec {
	const char *name;
	GElf_Shdr shdr;
	const uint8_t *data; /* NULL for NOBITS or empty sections */
	size_t size;
	int32_t *rel; /* per instruction slot: symbol index or -1 (exec sections) */
	size_t nr_insns;
	bool exec, maps;
};

struct elfctx {
	Elf *elf;
	struct sec *secs;
	size_t nr_secs;
	Elf_Data *symdata;
	size_t nr_syms;
	size_t strtab;
	struct inspect_result *res;
	const struct inspect_opts *opts;
};

/* Helper ids (enum bpf_func_id) and the verb each becomes. */
struct helper {
	int32_t id;
	const char *verb;
	int reg;  /* register holding the map */
	bool ext; /* our extension, not in Inspektor Gadget */
};

static const struct helper helpers[] = {
	{ 1, "Lookup", 1, false },	   /* bpf_map_lookup_elem */
	{ 2, "Update", 1, false },	   /* bpf_map_update_elem */
	{ 3, "Delete", 1, false },	   /* bpf_map_delete_elem */
	{ 25, "EventOutput", 2, false },   /* bpf_perf_event_output */
	{ 87, "Push", 1, false },	   /* bpf_map_push_elem */
	{ 88, "Pop", 1, false },	   /* bpf_map_pop_elem */
	{ 89, "Peek", 1, false },	   /* bpf_map_peek_elem */
	{ 195, "LookupPercpu", 1, false }, /* bpf_map_lookup_percpu_elem */
	{ 27, "GetStackId", 2, true },	   /* bpf_get_stackid */
	{ 130, "EventOutput", 1, true },   /* bpf_ringbuf_output */
	{ 131, "EventOutput", 1, true },   /* bpf_ringbuf_reserve */
};

static int fail(struct inspect_result *res, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct inspect_result *res, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->err, sizeof(res->err), fmt, ap);
	va_end(ap);
	return -1;
}

bool inspect_internal_map(const char *name)
{
	static const char *const prefixes[] = { ".rodata", ".bss", ".data", ".kconfig" };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);

		if (!strncmp(name, prefixes[i], n) && (name[n] == '\0' || name[n] == '.'))
			return true;
	}
	return false;
}

static const char *machine_name(unsigned int m)
{
	static char buf[32];

	switch (m) {
	case EM_386:
		return "an i386";
	case EM_ARM:
		return "an ARM";
	case EM_X86_64:
		return "an x86-64";
	case EM_AARCH64:
		return "an AArch64";
	case 243: /* EM_RISCV */
		return "a RISC-V";
	default:
		snprintf(buf, sizeof(buf), "a machine %u", m);
		return buf;
	}
}

static void decode(const uint8_t *p, struct insn *in)
{
	uint16_t off;
	uint32_t imm;

	in->code = p[0];
	/* Little endian only (checked at open): dst is the low nibble. */
	in->dst = p[1] & 0xf;
	in->src = p[1] >> 4;
	off = (uint16_t)(p[2] | p[3] << 8);
	imm = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
	memcpy(&in->off, &off, sizeof(off));
	memcpy(&in->imm, &imm, sizeof(imm));
}

static bool get_sym(struct elfctx *c, size_t idx, GElf_Sym *sym)
{
	if (idx >= c->nr_syms)
		return false;
	return gelf_getsym(c->symdata, (int)idx, sym) != NULL;
}

static const char *sym_name(struct elfctx *c, const GElf_Sym *sym)
{
	const char *n = elf_strptr(c->elf, c->strtab, sym->st_name);

	return n ? n : "";
}

static struct sec *sym_sec(struct elfctx *c, const GElf_Sym *sym)
{
	if (sym->st_shndx == SHN_UNDEF || sym->st_shndx >= c->nr_secs)
		return NULL;
	return &c->secs[sym->st_shndx];
}

static bool is_data_sec(const char *name)
{
	return inspect_internal_map(name);
}

/* A map symbol at byte offset @off of maps section @shndx, for section-relative relocations. */
static const char *map_at(struct elfctx *c, size_t shndx, uint64_t off)
{
	GElf_Sym s;

	for (size_t i = 1; i < c->nr_syms; i++) {
		if (!get_sym(c, i, &s) || s.st_shndx != shndx)
			continue;
		if (GELF_ST_TYPE(s.st_info) == STT_SECTION)
			continue;
		if (s.st_value == off && *sym_name(c, &s))
			return sym_name(c, &s);
	}
	return NULL;
}

/*
 * What a relocated instruction refers to, named as cilium/ebpf names it:
 * the map's name, the section for global variables, else the symbol.
 */
static const char *reloc_name(struct elfctx *c, int32_t symidx, const struct insn *in)
{
	GElf_Sym sym;
	struct sec *s;
	const char *n;

	if (symidx < 0 || !get_sym(c, (size_t)symidx, &sym))
		return NULL;
	s = sym_sec(c, &sym);
	n = sym_name(c, &sym);
	if (s && s->maps && GELF_ST_TYPE(sym.st_info) == STT_SECTION) {
		/* REL: the addend is in the instruction's imm. */
		const char *m = map_at(c, sym.st_shndx, sym.st_value + (uint32_t)in->imm);

		return m ? m : s->name;
	}
	if (s && (is_data_sec(s->name) || GELF_ST_TYPE(sym.st_info) == STT_SECTION || !*n))
		return s->name;
	return *n ? n : NULL;
}

static const struct helper *find_helper(int32_t id, bool ig_compat)
{
	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		if (helpers[i].id == id && !(ig_compat && helpers[i].ext))
			return &helpers[i];
	}
	return NULL;
}

static int add_edge(struct inspect_prog *p, const char *map, const char *verb)
{
	struct inspect_edge *e;

	/* Deduplicated, first occurrence wins. */
	for (size_t i = 0; i < p->nr_edges; i++) {
		if (p->edges[i].verb == verb && !strcmp(p->edges[i].map, map))
			return 0;
	}
	e = realloc(p->edges, (p->nr_edges + 1) * sizeof(*e));
	if (!e)
		return -1;
	p->edges = e;
	e[p->nr_edges].map = strdup(map);
	if (!e[p->nr_edges].map)
		return -1;
	e[p->nr_edges].verb = verb;
	p->nr_edges++;
	return 0;
}

/* A function body: instruction slots [start, end) of section sec. */
struct body {
	size_t sec, start, end;
	size_t sym;
};

/* The STT_FUNC symbol whose body starts at slot @idx of section @shndx. */
static bool func_at(struct elfctx *c, size_t shndx, size_t idx, struct body *b);

static bool func_body(struct elfctx *c, size_t symidx, struct body *b)
{
	GElf_Sym sym;
	struct sec *s;
	uint64_t start, end;

	if (!get_sym(c, symidx, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC)
		return false;
	s = sym_sec(c, &sym);
	if (!s || !s->exec || !s->data || sym.st_value % INSN_SZ)
		return false;
	start = sym.st_value / INSN_SZ;
	if (start >= s->nr_insns)
		return false;
	end = sym.st_size ? start + sym.st_size / INSN_SZ : s->nr_insns;
	if (end > s->nr_insns || end < start)
		end = s->nr_insns;
	if (!sym.st_size) {
		/* No size: up to the next function in the section. */
		GElf_Sym o;

		for (size_t i = 1; i < c->nr_syms; i++) {
			if (get_sym(c, i, &o) && GELF_ST_TYPE(o.st_info) == STT_FUNC &&
			    o.st_shndx == sym.st_shndx && o.st_value / INSN_SZ > start &&
			    o.st_value / INSN_SZ < end)
				end = o.st_value / INSN_SZ;
		}
	}
	b->sec = sym.st_shndx;
	b->start = start;
	b->end = end;
	b->sym = symidx;
	return true;
}

static bool func_at(struct elfctx *c, size_t shndx, size_t idx, struct body *b)
{
	GElf_Sym s;

	for (size_t i = 1; i < c->nr_syms; i++) {
		if (get_sym(c, i, &s) && GELF_ST_TYPE(s.st_info) == STT_FUNC &&
		    s.st_shndx == shndx && s.st_value == (uint64_t)idx * INSN_SZ)
			return func_body(c, i, b);
	}
	return false;
}

/* The function a bpf-to-bpf call or a function-pointer load at @idx targets. */
static bool call_target(struct elfctx *c, const struct body *from, size_t idx,
			const struct insn *in, struct body *to)
{
	struct sec *s = &c->secs[from->sec];
	int32_t r = s->rel[idx];
	bool ld = in->code == 0x18;
	int64_t target;

	if (r >= 0) {
		GElf_Sym sym;

		if (!get_sym(c, (size_t)r, &sym))
			return false;
		if (GELF_ST_TYPE(sym.st_info) == STT_FUNC)
			return func_body(c, (size_t)r, to);
		if (GELF_ST_TYPE(sym.st_info) != STT_SECTION || !sym_sec(c, &sym))
			return false;
		target = (int64_t)(sym.st_value / INSN_SZ) + (ld ? in->imm / INSN_SZ : in->imm + 1);
		if (target < 0)
			return false;
		return func_at(c, sym.st_shndx, (size_t)target, to);
	}
	if (ld)
		return false;
	/* Unrelocated call: pc-relative within the same section. */
	target = (int64_t)idx + in->imm + 1;
	if (target < 0 || (size_t)target >= s->nr_insns)
		return false;
	return func_at(c, from->sec, (size_t)target, to);
}

static bool is_func_ref(const struct insn *in)
{
	/* BPF_PSEUDO_CALL and BPF_PSEUDO_FUNC (callbacks such as bpf_loop's). */
	return (in->code == 0x85 && in->src == 1) || (in->code == 0x18 && in->src == 4);
}

static void clobber_args(const char **regs)
{
	for (int i = 0; i <= 5; i++)
		regs[i] = NULL;
}

/* One instruction of the linear scan; returns how many slots it used, 0 to stop. */
static size_t scan_insn(struct elfctx *c, struct inspect_prog *p, const struct body *b, size_t idx,
			const char **regs, int *err)
{
	struct sec *s = &c->secs[b->sec];
	bool precise = c->opts->precise;
	const char *ref = NULL;
	struct insn in;
	uint8_t cls;

	decode(s->data + idx * INSN_SZ, &in);
	cls = in.code & 7;
	if (in.code == 0x18 && idx + 1 >= b->end)
		return 0; /* a truncated ld_imm64 ends the body */
	if (s->rel[idx] >= 0)
		ref = reloc_name(c, s->rel[idx], &in);

	if (in.code == 0x85 && in.src == 0) {
		const struct helper *h = find_helper(in.imm, c->opts->ig_compat);

		if (h && regs[h->reg] && add_edge(p, regs[h->reg], h->verb))
			*err = -1;
	}

	if (!precise) {
		/* Inspektor Gadget: any relocated instruction names its dst register. */
		if (ref)
			regs[in.dst] = ref;
		return in.code == 0x18 ? 2 : 1;
	}

	switch (cls) {
	case 0: /* BPF_LD */
		if (in.code == 0x18)
			regs[in.dst] = (ref && in.src != 4) ? ref : NULL;
		else
			clobber_args(regs); /* legacy packet loads */
		break;
	case 1: /* BPF_LDX */
		regs[in.dst] = NULL;
		break;
	case 3: /* BPF_STX: atomics with BPF_FETCH write back */
		if ((in.code & 0xe0) == 0xc0) {
			if (in.imm & 1)
				regs[in.src] = NULL;
			if (in.imm == 0xf1)
				regs[0] = NULL;
		}
		break;
	case 4:			     /* BPF_ALU */
	case 7:			     /* BPF_ALU64 */
		if (in.code == 0xbf) /* 64-bit mov from a register keeps the pointer */
			regs[in.dst] = regs[in.src];
		else
			regs[in.dst] = NULL;
		break;
	case 5: /* BPF_JMP */
		if (in.code == 0x85)
			clobber_args(regs);
		break;
	default:
		break;
	}
	return in.code == 0x18 ? 2 : 1;
}

/*
 * Scan a program as cilium/ebpf lays it out: its own body, then every
 * function it reaches (breadth first, each once), appended after it.  The
 * register state runs on across those boundaries, as in Inspektor Gadget.
 */
static int scan_prog(struct elfctx *c, struct inspect_prog *p, const struct body *main)
{
	const char *regs[NR_REGS] = { 0 };
	struct body *bodies;
	size_t nr = 1, cap = 8;
	int err = 0;

	bodies = calloc(cap, sizeof(*bodies));
	if (!bodies)
		return -1;
	bodies[0] = *main;
	for (size_t bi = 0; bi < nr && !err; bi++) {
		struct body b = bodies[bi];
		struct sec *s = &c->secs[b.sec];

		/* Queue the functions this body refers to, in order. */
		for (size_t i = b.start; i < b.end; i++) {
			struct body to;
			struct insn in;
			bool seen = false;

			decode(s->data + i * INSN_SZ, &in);
			if (is_func_ref(&in) && call_target(c, &b, i, &in, &to)) {
				for (size_t k = 0; k < nr; k++)
					seen |= bodies[k].sym == to.sym;
				if (!seen) {
					if (nr == cap) {
						struct body *nb;

						cap *= 2;
						nb = realloc(bodies, cap * sizeof(*nb));
						if (!nb) {
							err = -1;
							break;
						}
						bodies = nb;
					}
					bodies[nr++] = to;
				}
			}
			if (in.code == 0x18)
				i++;
		}
		for (size_t i = b.start; i < b.end && !err;) {
			size_t n = scan_insn(c, p, &b, i, regs, &err);

			if (!n)
				break;
			i += n;
		}
	}
	free(bodies);
	return err;
}

static int cmp_prog(const void *a, const void *b)
{
	const struct inspect_prog *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int cmp_map(const void *a, const void *b)
{
	const struct inspect_map *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int load_sections(struct elfctx *c)
{
	struct inspect_result *res = c->res;
	size_t shstrndx, symtab = 0;

	if (elf_getshdrnum(c->elf, &c->nr_secs) || elf_getshdrstrndx(c->elf, &shstrndx))
		return fail(res, "truncated or corrupt ELF section table; rebuild the object");
	if (!c->nr_secs)
		return fail(res,
			    "truncated or corrupt ELF file (no section table); rebuild the object");
	c->secs = calloc(c->nr_secs, sizeof(*c->secs));
	if (!c->secs)
		return fail(res, "out of memory");

	for (size_t i = 1; i < c->nr_secs; i++) {
		struct sec *s = &c->secs[i];
		Elf_Scn *scn = elf_getscn(c->elf, i);
		const char *n;

		if (!scn || !gelf_getshdr(scn, &s->shdr))
			return fail(res, "truncated or corrupt ELF section header %zu", i);
		n = elf_strptr(c->elf, shstrndx, s->shdr.sh_name);
		s->name = n ? n : "";
		if (s->shdr.sh_type == SHT_SYMTAB) {
			if (symtab)
				return fail(res, "more than one symbol table");
			symtab = i;
		}
		s->exec = s->shdr.sh_type == SHT_PROGBITS && (s->shdr.sh_flags & SHF_EXECINSTR);
		s->maps = !strcmp(s->name, ".maps") || !strcmp(s->name, "maps") ||
			  !strncmp(s->name, "maps/", 5);
		if (s->exec) {
			Elf_Data *d = elf_getdata(scn, NULL);

			if (!d || (s->shdr.sh_size && (!d->d_buf || d->d_size != s->shdr.sh_size)))
				return fail(res, "truncated or corrupt ELF section %s", s->name);
			s->data = d->d_buf;
			s->size = d->d_size;
			s->nr_insns = s->size / INSN_SZ;
			s->rel = malloc((s->nr_insns ? s->nr_insns : 1) * sizeof(*s->rel));
			if (!s->rel)
				return fail(res, "out of memory");
			for (size_t k = 0; k < s->nr_insns; k++)
				s->rel[k] = -1;
		}
	}
	if (!symtab)
		return fail(res, "no symbol table, not a BPF object built by clang");

	{
		struct sec *s = &c->secs[symtab];
		Elf_Data *d = elf_getdata(elf_getscn(c->elf, symtab), NULL);

		if (!d || !s->shdr.sh_entsize || s->shdr.sh_link >= c->nr_secs)
			return fail(res, "truncated or corrupt symbol table");
		c->symdata = d;
		c->nr_syms = d->d_size / sizeof(Elf64_Sym);
		c->strtab = s->shdr.sh_link;
	}
	return 0;
}

static int load_relocs(struct elfctx *c)
{
	for (size_t i = 1; i < c->nr_secs; i++) {
		struct sec *r = &c->secs[i], *t;
		Elf_Data *d;
		size_t n;

		if (r->shdr.sh_type != SHT_REL && r->shdr.sh_type != SHT_RELA)
			continue;
		if (r->shdr.sh_info >= c->nr_secs || !c->secs[r->shdr.sh_info].exec)
			continue;
		t = &c->secs[r->shdr.sh_info];
		d = elf_getdata(elf_getscn(c->elf, i), NULL);
		if (!d)
			return fail(c->res, "truncated or corrupt relocation section %s", r->name);
		n = d->d_size /
		    (r->shdr.sh_type == SHT_REL ? sizeof(Elf64_Rel) : sizeof(Elf64_Rela));
		for (size_t k = 0; k < n; k++) {
			GElf_Rel rel;
			GElf_Rela rela;
			uint64_t off, sym;

			if (r->shdr.sh_type == SHT_REL) {
				if (!gelf_getrel(d, (int)k, &rel))
					return fail(c->res, "corrupt relocation in %s", r->name);
				off = rel.r_offset;
				sym = GELF_R_SYM(rel.r_info);
			} else {
				if (!gelf_getrela(d, (int)k, &rela))
					return fail(c->res, "corrupt relocation in %s", r->name);
				off = rela.r_offset;
				sym = GELF_R_SYM(rela.r_info);
			}
			/* Ignore what cannot be an instruction's relocation. */
			if (off % INSN_SZ || off / INSN_SZ >= t->nr_insns || sym >= c->nr_syms ||
			    sym > INT32_MAX)
				continue;
			t->rel[off / INSN_SZ] = (int32_t)sym;
		}
	}
	return 0;
}

static int collect(struct elfctx *c)
{
	struct inspect_result *res = c->res;
	size_t cap_p = 0, cap_m = 0;
	GElf_Sym sym;

	for (size_t i = 1; i < c->nr_syms; i++) {
		struct sec *s;
		const char *n;

		if (!get_sym(c, i, &sym))
			return fail(res, "corrupt symbol table");
		s = sym_sec(c, &sym);
		n = sym_name(c, &sym);
		if (!s || !*n)
			continue;
		if (s->maps && GELF_ST_TYPE(sym.st_info) == STT_OBJECT) {
			bool dup = false;

			for (size_t k = 0; k < res->nr_maps; k++)
				dup |= !strcmp(res->maps[k].name, n);
			if (dup || inspect_internal_map(n))
				continue;
			if (res->nr_maps == cap_m) {
				struct inspect_map *m;

				cap_m = cap_m ? cap_m * 2 : 8;
				m = realloc(res->maps, cap_m * sizeof(*m));
				if (!m)
					return fail(res, "out of memory");
				res->maps = m;
			}
			memset(&res->maps[res->nr_maps], 0, sizeof(res->maps[0]));
			res->maps[res->nr_maps].name = strdup(n);
			if (!res->maps[res->nr_maps++].name)
				return fail(res, "out of memory");
		} else if (s->exec && strcmp(s->name, ".text") &&
			   GELF_ST_TYPE(sym.st_info) == STT_FUNC) {
			struct inspect_prog *p;
			struct body b;

			if (!func_body(c, i, &b))
				continue;
			if (res->nr_progs == cap_p) {
				cap_p = cap_p ? cap_p * 2 : 8;
				p = realloc(res->progs, cap_p * sizeof(*p));
				if (!p)
					return fail(res, "out of memory");
				res->progs = p;
			}
			p = &res->progs[res->nr_progs++];
			memset(p, 0, sizeof(*p));
			p->name = strdup(n);
			p->section = strdup(s->name);
			if (!p->name || !p->section)
				return fail(res, "out of memory");
			if (scan_prog(c, p, &b))
				return fail(res, "out of memory");
		}
	}
	return 0;
}

int inspect_analyze(const void *buf, size_t size, const struct inspect_opts *opts,
		    struct inspect_result *res)
{
	static const struct inspect_opts defaults;
	struct elfctx c = { .res = res, .opts = opts ? opts : &defaults };
	unsigned char *copy = NULL;
	GElf_Ehdr eh;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	if (!buf || size < SELFMAG || memcmp(buf, ELFMAG, SELFMAG))
		return fail(res, "not an ELF file; give a BPF object built with clang -target bpf");
	if (elf_version(EV_CURRENT) == EV_NONE)
		return fail(res, "libelf is unusable: %s", elf_errmsg(-1));
	/* libelf wants a writable image; never hand it the caller's bytes. */
	copy = malloc(size);
	if (!copy)
		return fail(res, "out of memory");
	memcpy(copy, buf, size);
	c.elf = elf_memory((char *)copy, size);
	if (!c.elf || elf_kind(c.elf) != ELF_K_ELF || !gelf_getehdr(c.elf, &eh)) {
		fail(res, "truncated or corrupt ELF header; rebuild the object");
		goto out;
	}
	if (eh.e_machine != EM_BPF) {
		fail(res, "%s ELF file, not a BPF object; give one built with clang -target bpf",
		     machine_name(eh.e_machine));
		goto out;
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		fail(res, "only 64-bit little-endian BPF objects are supported");
		goto out;
	}
	if (eh.e_type != ET_REL) {
		fail(res, "not a relocatable BPF object (ELF type %u)", eh.e_type);
		goto out;
	}
	if (load_sections(&c) || load_relocs(&c) || collect(&c))
		goto out;
	if (!res->nr_progs) {
		fail(res, "no BPF programs (no functions in SEC() sections)");
		goto out;
	}
	qsort(res->progs, res->nr_progs, sizeof(*res->progs), cmp_prog);
	if (res->nr_maps)
		qsort(res->maps, res->nr_maps, sizeof(*res->maps), cmp_map);
	ret = 0;
out:
	if (c.secs) {
		for (size_t i = 0; i < c.nr_secs; i++)
			free(c.secs[i].rel);
		free(c.secs);
	}
	if (c.elf)
		elf_end(c.elf);
	free(copy);
	return ret;
}

void inspect_free(struct inspect_result *res)
{
	for (size_t i = 0; i < res->nr_progs; i++) {
		for (size_t k = 0; k < res->progs[i].nr_edges; k++)
			free(res->progs[i].edges[k].map);
		free(res->progs[i].edges);
		free(res->progs[i].name);
		free(res->progs[i].section);
	}
	for (size_t i = 0; i < res->nr_maps; i++)
		free(res->maps[i].name);
	free(res->progs);
	free(res->maps);
	res->progs = NULL;
	res->maps = NULL;
	res->nr_progs = res->nr_maps = 0;
}
