// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A minimal kernel BTF for one BPF object's CO-RE relocations.
 *
 * libbpf relocates CO-RE accesses against the whole vmlinux BTF, which it
 * reads twice into memory: about 11 MB of peak RSS for a 5.5 MB file, for a
 * handful of field offsets.  Here a short-lived child process loads it,
 * keeps only the structs, members and enums the object's relocations touch
 * (what `bpftool gen min_core_btf` does), and hands the result back through
 * a memfd that libbpf reads as btf_custom_path.  Any failure falls back to
 * the full BTF: slower to load, never wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "minbtf.h"

/* .BTF.ext layout (include/uapi/linux/btf.h has no copy of it). */
struct btf_ext_hdr {
	__u16 magic;
	__u8 version;
	__u8 flags;
	__u32 hdr_len;
	__u32 func_info_off, func_info_len;
	__u32 line_info_off, line_info_len;
	__u32 core_relo_off, core_relo_len;
};

struct core_relo {
	__u32 insn_off;
	__u32 type_id;
	__u32 access_str_off;
	__u32 kind;
};

enum {
	RELO_FIELD_MAX = 5,		/* byte_off .. rshift_u64: field relocations */
	RELO_TYPE_ID_LOCAL = 6,
	RELO_TYPE_MATCHES = 12,
	RELO_ENUMVAL_EXISTS = 10,
	RELO_ENUMVAL_VALUE = 11,
};

#define MAX_WANT 64
#define MAX_MEMBERS 64

/* A target struct/union and the members of it that relocations reach. */
struct want {
	int targ_id;
	int nr;
	int members[MAX_MEMBERS];	/* indices into the target's member list */
	int out_id;			/* id in the new BTF, 0 until emitted */
};

struct builder {
	const struct btf *local, *vml;
	struct btf *out;
	struct want want[MAX_WANT];
	int nr_want;
	int enums[MAX_WANT];		/* target enum ids to copy whole */
	int nr_enums;
	int void_ptr;
};

static const struct btf_type *skip_mods(const struct btf *btf, __u32 id, __u32 *res_id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	while (t && (btf_is_mod(t) || btf_is_typedef(t))) {
		id = t->type;
		t = btf__type_by_id(btf, id);
	}
	if (res_id)
		*res_id = id;
	return t;
}

static struct want *want_of(struct builder *b, int targ_id)
{
	for (int i = 0; i < b->nr_want; i++)
		if (b->want[i].targ_id == targ_id)
			return &b->want[i];
	if (b->nr_want == MAX_WANT)
		return NULL;
	b->want[b->nr_want] = (struct want){ .targ_id = targ_id };
	return &b->want[b->nr_want++];
}

static int want_member(struct builder *b, int targ_id, int idx)
{
	struct want *w = want_of(b, targ_id);

	if (!w)
		return -E2BIG;
	for (int i = 0; i < w->nr; i++)
		if (w->members[i] == idx)
			return 0;
	if (w->nr == MAX_MEMBERS)
		return -E2BIG;
	w->members[w->nr++] = idx;
	return 0;
}

/* The target type with the local type's name and kind. */
static int find_target(struct builder *b, const struct btf_type *lt)
{
	const char *name = btf__name_by_offset(b->local, lt->name_off);

	if (!name || !*name)
		return -ENOENT;
	return btf__find_by_name_kind(b->vml, name, btf_kind(lt));
}

/*
 * Find member `name` of target struct `id`, looking through anonymous
 * members as libbpf does; record every member on the way.  Returns the
 * member's type id, or -ENOENT.
 */
static int find_member(struct builder *b, __u32 id, const char *name, int depth)
{
	const struct btf_type *t = btf__type_by_id(b->vml, id);

	if (depth > 8 || !t || !btf_is_composite(t))
		return -ENOENT;
	for (int i = 0; i < btf_vlen(t); i++) {
		const struct btf_member *m = btf_members(t) + i;
		const char *mn = btf__name_by_offset(b->vml, m->name_off);
		__u32 sub;
		int type;

		if (mn && *mn) {
			if (strcmp(mn, name))
				continue;
			return want_member(b, id, i) ?: (int)m->type;
		}
		skip_mods(b->vml, m->type, &sub);
		type = find_member(b, sub, name, depth + 1);
		if (type >= 0)
			return want_member(b, id, i) ?: type;
	}
	return -ENOENT;
}

/* Follow one field relocation's access string, recording every member it crosses. */
static int walk_field(struct builder *b, __u32 local_id, const char *spec)
{
	__u32 lid, tid;
	const struct btf_type *lt = skip_mods(b->local, local_id, &lid), *tt;
	int targ;
	char *end;

	if (!lt || !btf_is_composite(lt))
		return -EINVAL;
	targ = find_target(b, lt);
	if (targ < 0)
		return 0;	/* missing in this kernel: libbpf's answer must stay "missing" */
	tt = skip_mods(b->vml, targ, &tid);
	if (!want_of(b, tid))
		return -E2BIG;
	strtoul(spec, &end, 10);	/* the first index addresses the root pointer */
	while (*end == ':') {
		unsigned long idx = strtoul(end + 1, &end, 10);
		const struct btf_member *lm;
		const char *mname;
		int found = -1;

		if (btf_is_array(lt)) {
			/* An index into an array member: step to the element types. */
			if (!btf_is_array(tt))
				return -EINVAL;
			lt = skip_mods(b->local, btf_array(lt)->type, &lid);
			tt = skip_mods(b->vml, btf_array(tt)->type, &tid);
			if (btf_is_composite(tt) && !want_of(b, tid))
				return -E2BIG;
			continue;
		}
		if (!btf_is_composite(lt) || idx >= btf_vlen(lt))
			return -EINVAL;
		lm = btf_members(lt) + idx;
		mname = btf__name_by_offset(b->local, lm->name_off);
		if (!mname || !*mname) {
			/* Anonymous locally: the next named member is searched in the target. */
			lt = skip_mods(b->local, lm->type, &lid);
			continue;
		}
		if (!btf_is_composite(tt))
			return -EINVAL;
		found = find_member(b, tid, mname, 0);
		if (found == -ENOENT)
			return 0;	/* field missing in this kernel */
		if (found < 0)
			return found;
		lt = skip_mods(b->local, lm->type, &lid);
		tt = skip_mods(b->vml, found, &tid);
		if (btf_is_composite(tt) && !want_of(b, tid))
			return -E2BIG;
	}
	return 0;
}

static int want_enum(struct builder *b, __u32 local_id)
{
	const struct btf_type *lt = skip_mods(b->local, local_id, NULL);
	int targ;

	if (!lt || !btf_is_any_enum(lt))
		return -EINVAL;
	targ = find_target(b, lt);
	if (targ < 0)
		return 0;
	for (int i = 0; i < b->nr_enums; i++)
		if (b->enums[i] == targ)
			return 0;
	if (b->nr_enums == MAX_WANT)
		return -E2BIG;
	b->enums[b->nr_enums++] = targ;
	return 0;
}

static int emit_type(struct builder *b, __u32 tid);

static int emit_enum(struct builder *b, int tid)
{
	const struct btf_type *t = btf__type_by_id(b->vml, tid);
	int id;

	if (btf_is_enum64(t))
		return -EOPNOTSUPP;
	id = btf__add_enum(b->out, btf__name_by_offset(b->vml, t->name_off), t->size);
	if (id < 0)
		return id;
	for (int i = 0; i < btf_vlen(t); i++) {
		const struct btf_enum *e = btf_enum(t) + i;
		int err = btf__add_enum_value(b->out, btf__name_by_offset(b->vml, e->name_off),
					      e->val);

		if (err)
			return err;
	}
	return id;
}

static int emit_struct(struct builder *b, struct want *w)
{
	const struct btf_type *t = btf__type_by_id(b->vml, w->targ_id);
	int types[MAX_MEMBERS], id;

	if (w->out_id)
		return w->out_id;
	/* Member types first: btf__add_field appends to the last struct added. */
	for (int i = 0; i < w->nr; i++) {
		types[i] = emit_type(b, btf_members(t)[w->members[i]].type);
		if (types[i] < 0)
			return types[i];
	}
	id = btf_is_struct(t) ? btf__add_struct(b->out, btf__name_by_offset(b->vml, t->name_off),
						 t->size) :
				btf__add_union(b->out, btf__name_by_offset(b->vml, t->name_off),
					       t->size);
	if (id < 0)
		return id;
	for (int i = 0; i < w->nr; i++) {
		const struct btf_member *m = btf_members(t) + w->members[i];
		int err = btf__add_field(b->out, btf__name_by_offset(b->vml, m->name_off), types[i],
					 btf_member_bit_offset(t, w->members[i]),
					 btf_member_bitfield_size(t, w->members[i]));

		if (err)
			return err;
	}
	w->out_id = id;
	return id;
}

/* A member's type in the new BTF: ints copied, pointers to void, structs trimmed. */
static int emit_type(struct builder *b, __u32 id)
{
	__u32 tid;
	const struct btf_type *t = skip_mods(b->vml, id, &tid);

	if (!t)
		return -EINVAL;
	if (btf_is_int(t))
		return btf__add_int(b->out, btf__name_by_offset(b->vml, t->name_off), t->size,
				    btf_int_encoding(t));
	if (btf_is_ptr(t)) {
		/* CO-RE only checks that a pointer is a pointer. */
		if (!b->void_ptr)
			b->void_ptr = btf__add_ptr(b->out, 0);
		return b->void_ptr;
	}
	if (btf_is_enum(t))
		return emit_enum(b, tid);
	if (btf_is_composite(t))
		return emit_struct(b, want_of(b, tid));
	if (btf_is_array(t)) {
		const struct btf_array *a = btf_array(t);
		int elem = emit_type(b, a->type), idx;

		if (elem < 0)
			return elem;
		idx = btf__add_int(b->out, "unsigned int", 4, 0);
		return idx < 0 ? idx : btf__add_array(b->out, idx, elem, a->nelems);
	}
	return -EOPNOTSUPP;
}

static int collect(struct builder *b, const Elf_Data *ext)
{
	const struct btf_ext_hdr *h = ext->d_buf;
	const char *base;
	__u32 rec_size, left;
	const char *p;

	if (ext->d_size < sizeof(*h) || h->magic != 0xeB9F || h->hdr_len < sizeof(*h) ||
	    h->hdr_len > ext->d_size)
		return -EINVAL;
	base = (const char *)ext->d_buf + h->hdr_len;
	if ((size_t)h->hdr_len + h->core_relo_off + h->core_relo_len > ext->d_size ||
	    h->core_relo_len < 4)
		return h->core_relo_len ? -EINVAL : 0;
	p = base + h->core_relo_off;
	left = h->core_relo_len;
	memcpy(&rec_size, p, 4);
	p += 4;
	left -= 4;
	if (rec_size < sizeof(struct core_relo))
		return -EINVAL;
	while (left >= 8) {
		__u32 num;

		memcpy(&num, p + 4, 4);
		p += 8;
		left -= 8;
		if ((__u64)num * rec_size > left)
			return -EINVAL;
		for (__u32 i = 0; i < num; i++, p += rec_size, left -= rec_size) {
			struct core_relo r;
			const char *spec;
			int err = 0;

			memcpy(&r, p, sizeof(r));
			spec = btf__name_by_offset(b->local, r.access_str_off);
			if (!spec)
				return -EINVAL;
			if (r.kind <= RELO_FIELD_MAX)
				err = walk_field(b, r.type_id, spec);
			else if (r.kind == RELO_ENUMVAL_EXISTS || r.kind == RELO_ENUMVAL_VALUE)
				err = want_enum(b, r.type_id);
			else
				err = -EOPNOTSUPP;	/* type relocations: full BTF */
			if (err) {
				/* Say which relocation the minimal BTF cannot serve (with -v). */
				if (getenv("LOUPE_DEBUG_MINBTF"))
					fprintf(stderr, "minbtf: relocation kind %u, type %u, access %s: %s\n",
						r.kind, r.type_id, spec, strerror(-err));
				return err;
			}
		}
	}
	return 0;
}

/*
 * The kernel's BTF mapped rather than read (sysfs allows it since 6.16): the
 * mapped pages are the kernel's own, charged to no one, so libbpf's copy is
 * the only one a memory cgroup counts: the child peaks 5.5 MB lower.
 * Elsewhere libbpf reads it, as before.
 */
static struct btf *load_vmlinux_btf(void)
{
	const char *sysfs = "/sys/kernel/btf/vmlinux";
	int fd = open(sysfs, O_RDONLY | O_CLOEXEC);
	struct btf *btf = NULL;
	struct stat st;
	void *p = MAP_FAILED;

	if (fd >= 0 && !fstat(fd, &st) && st.st_size > 0)
		p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p != MAP_FAILED) {
		btf = btf__new(p, st.st_size);
		munmap(p, st.st_size);
		if (!btf)
			btf = NULL; /* libbpf 1.1 returns NULL with errno */
	}
	if (fd >= 0)
		close(fd);
	return btf ? btf : btf__load_vmlinux_btf();
}

/* In the child: build the minimal BTF and write it to fd. */
static int build(const void *obj, size_t obj_size, int fd)
{
	struct builder b = {};
	Elf *elf = NULL;
	Elf_Scn *scn = NULL;
	Elf_Data *btf_data = NULL, *ext_data = NULL;
	size_t shstrndx;
	const void *raw;
	__u32 raw_size;
	int err = -EINVAL;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	elf = elf_memory((char *)obj, obj_size);
	if (!elf || elf_getshdrstrndx(elf, &shstrndx))
		goto out;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".BTF"))
			btf_data = elf_getdata(scn, NULL);
		else if (name && !strcmp(name, ".BTF.ext"))
			ext_data = elf_getdata(scn, NULL);
	}
	if (!btf_data || !ext_data)
		goto out;
	b.local = btf__new(btf_data->d_buf, btf_data->d_size);
	b.vml = load_vmlinux_btf();
	b.out = btf__new_empty();
	if (!b.local || !b.vml || !b.out)
		goto out;
	err = collect(&b, ext_data);
	for (int i = 0; !err && i < b.nr_want; i++)
		if ((err = emit_struct(&b, &b.want[i])) > 0)
			err = 0;
	for (int i = 0; !err && i < b.nr_enums; i++)
		if ((err = emit_enum(&b, b.enums[i])) > 0)
			err = 0;
	if (err)
		goto out;
	raw = btf__raw_data(b.out, &raw_size);
	err = raw && write(fd, raw, raw_size) == (ssize_t)raw_size ? 0 : -EIO;
out:
	btf__free((struct btf *)b.local);
	btf__free((struct btf *)b.vml);
	btf__free(b.out);
	if (elf)
		elf_end(elf);
	return err;
}

int minbtf_create(const void *obj, size_t obj_size, char *path, size_t path_len)
{
	int fd = memfd_create("loupe-min-btf", MFD_CLOEXEC), status;
	pid_t pid;

	if (fd < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -errno;
	}
	if (pid == 0)
		_exit(build(obj, obj_size, fd) ? 1 : 0);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		close(fd);
		return -EINVAL;
	}
	snprintf(path, path_len, "/proc/self/fd/%d", fd);
	return fd;
}
