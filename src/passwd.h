/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * User and group names from the passwd(5) and group(5) files, read directly.
 * glibc's getpwuid() and friends load NSS modules at run time, which a
 * static loupe cannot do; these files are what those modules read on a host
 * without a directory service (users of LDAP or sssd show as numbers).
 *
 * The files are the host's: the first of $LOUPE_HOST_ROOT, our own root and
 * /proc/1/root that has one (see host_roots() in containers.h), so that loupe
 * in a container with the host's pid namespace names the host's users.
 */
#ifndef LOUPE_PASSWD_H
#define LOUPE_PASSWD_H

#include <stddef.h>
#include <stdint.h>

enum id_db {
	ID_USER,  /* /etc/passwd */
	ID_GROUP, /* /etc/group */
};

/* The name of id, copied into name: 0, -ENOENT (no such id or no file), or -errno. */
int id_name(enum id_db db, uint32_t id, char *name, size_t len);

/* The id of name: 0, -ENOENT, or -errno. */
int id_lookup(enum id_db db, const char *name, uint32_t *id);

/*
 * The same in one file of either format: the name is the first field and the
 * id the third in both.  The first matching line wins, as in glibc.
 */
int idfile_name(const char *path, uint32_t id, char *name, size_t len);
int idfile_id(const char *path, const char *name, uint32_t *id);

#endif /* LOUPE_PASSWD_H */
