// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* User and group names from /etc/passwd and /etc/group (see passwd.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "containers.h"
#include "passwd.h"

/*
 * One line of either file: "name:password:id:...".  False for lines that
 * name no one: comments, NIS "+"/"-" entries, an id that is not a number.
 */
static bool parse_line(char *line, const char **name, uint32_t *id)
{
	char *f[3], *p = line, *end;
	unsigned long long v;

	if (*line == '#' || *line == '+' || *line == '-')
		return false;
	for (int i = 0; i < 3; i++) {
		f[i] = p;
		p = strpbrk(p, i < 2 ? ":" : ":\n");
		if (!p) {
			if (i < 2)
				return false;
		} else {
			*p++ = '\0';
		}
	}
	if (!*f[0] || *f[2] < '0' || *f[2] > '9')
		return false;
	errno = 0;
	v = strtoull(f[2], &end, 10);
	if (*end || errno || v > UINT32_MAX)
		return false;
	*name = f[0];
	*id = v;
	return true;
}

/* The first line of path matching want_name (or want_id if want_name is NULL). */
static int scan(const char *path, const char *want_name, uint32_t want_id, char *name, size_t len,
		uint32_t *id)
{
	char *line = NULL;
	size_t cap = 0;
	int err = -ENOENT;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	errno = 0;
	while (getline(&line, &cap, f) > 0) {
		const char *n;
		uint32_t i;

		if (!parse_line(line, &n, &i))
			continue;
		if (want_name ? strcmp(n, want_name) : i != want_id)
			continue;
		if (name)
			snprintf(name, len, "%s", n);
		if (id)
			*id = i;
		err = 0;
		break;
	}
	if (err && ferror(f))
		err = errno ? -errno : -EIO;
	free(line);
	fclose(f);
	return err;
}

int idfile_name(const char *path, uint32_t id, char *name, size_t len)
{
	return scan(path, NULL, id, name, len, NULL);
}

int idfile_id(const char *path, const char *name, uint32_t *id)
{
	return scan(path, name, 0, NULL, 0, id);
}

static const char *id_db_file(enum id_db db)
{
	return db == ID_GROUP ? "/etc/group" : "/etc/passwd";
}

/* The first root that has the file answers, found or not. */
static int lookup(enum id_db db, const char *want_name, uint32_t want_id, char *name, size_t len,
		  uint32_t *id)
{
	const char *const *roots = host_roots();
	char path[4096];
	int err = -ENOENT;

	for (int r = 0; roots[r]; r++) {
		snprintf(path, sizeof(path), "%s%s", roots[r], id_db_file(db));
		err = scan(path, want_name, want_id, name, len, id);
		if (err != -ENOENT || !access(path, F_OK))
			break;
	}
	return err;
}

int id_name(enum id_db db, uint32_t id, char *name, size_t len)
{
	return lookup(db, NULL, id, name, len, NULL);
}

int id_lookup(enum id_db db, const char *name, uint32_t *id)
{
	return lookup(db, name, 0, NULL, 0, id);
}
