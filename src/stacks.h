/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Stack symbolization for every gadget: kernel addresses from /proc/kallsyms,
 * user addresses through /proc/PID/maps and the ELF symbols (.symtab and
 * .dynsym) of the mapped files, so PIE executables and shared libraries
 * resolve through their load bias.  Files are parsed once and cached by
 * device and inode; processes' maps are cached briefly.
 */
#ifndef LOUPE_STACKS_H
#define LOUPE_STACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* --- kernel ----------------------------------------------------------------- */

struct ksyms;

struct ksym {
	uint64_t addr;
	const char *name;
	const char *module; /* NULL for the kernel image */
};

/* /proc/kallsyms; NULL with errno set when unreadable or all addresses are hidden. */
struct ksyms *ksyms_load(void);
/* The same from another file in kallsyms format (tests). */
struct ksyms *ksyms_load_file(const char *path);
void ksyms_free(struct ksyms *ks);
size_t ksyms_count(const struct ksyms *ks);
/* The symbol that contains addr (the nearest one below it), or NULL. */
const struct ksym *ksyms_find(const struct ksyms *ks, uint64_t addr);
/* "name+0xoff", or "0xaddr" when unknown; returns buf. */
const char *ksym_name(const struct ksyms *ks, uint64_t addr, char *buf, size_t len);

/* --- user ------------------------------------------------------------------- */

struct usyms;

/* A cache of processes' mappings and of ELF files' symbols. */
struct usyms *usyms_new(void);
void usyms_free(struct usyms *us);
/*
 * "name+0xoff (file)", "file+0xoff" when the file has no symbol for it, or
 * "0xaddr" when no file maps it (JIT, gone process).  Returns buf.
 */
const char *usym_name(struct usyms *us, pid_t pid, uint64_t addr, char *buf, size_t len);
/* The symbol alone, without offset or file; false when unknown. */
bool usym_lookup(struct usyms *us, pid_t pid, uint64_t addr, char *name, size_t len);

/* --- whole stacks ------------------------------------------------------------ */

/*
 * Frames innermost first from ips[skip] on, separated by "; ", up to the
 * first zero.  Frames after ips[0] are return addresses: they are looked up
 * one byte earlier, inside the call.  Returns the length written (ending in
 * "..." when buf is too short).
 */
size_t stack_format_kernel(const struct ksyms *ks, const uint64_t *ips, size_t n, size_t skip,
			   char *buf, size_t len);
size_t stack_format_user(struct usyms *us, pid_t pid, const uint64_t *ips, size_t n, size_t skip,
			 char *buf, size_t len);

#endif /* LOUPE_STACKS_H */
