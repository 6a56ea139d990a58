// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* User-space enrichment shared by every gadget: names for ids, errnos and endpoints. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "containers.h"
#include "output.h"
#include "passwd.h"

/*
 * A tiny direct-mapped cache: events come in bursts from few users, and
 * each lookup reads /etc/passwd or /etc/group.
 */
#define NAME_CACHE 64

struct name_slot {
	bool valid;
	uint32_t id;
	char name[32];
};

static struct name_slot user_cache[NAME_CACHE], group_cache[NAME_CACHE];

static const char *cached_name(struct name_slot *cache, uint32_t id, bool is_user)
{
	struct name_slot *s = &cache[id % NAME_CACHE];

	if (!s->valid || s->id != id) {
		if (id_name(is_user ? ID_USER : ID_GROUP, id, s->name, sizeof(s->name)))
			snprintf(s->name, sizeof(s->name), "%u", id);
		s->id = id;
		s->valid = true;
	}
	return s->name;
}

const char *uid_name(uint32_t uid)
{
	return cached_name(user_cache, uid, true);
}

const char *gid_name(uint32_t gid)
{
	return cached_name(group_cache, gid, false);
}

const char *errno_name(int err)
{
	if (err < 0)
		err = -err;
	if (!err)
		return NULL;
	return strerrorname_np(err);
}

/* The error column of every gadget: errno name, "E<n>" when unnamed, "" for 0. */
const char *errno_text(char *buf, size_t len, int err)
{
	const char *name;

	if (!err)
		return "";
	name = errno_name(err);
	if (name)
		return name;
	snprintf(buf, len, "E%d", err < 0 ? -err : err);
	return buf;
}

char *format_endpoint(char *buf, size_t len, unsigned int family, const void *addr,
		      unsigned int port)
{
	char ip[INET6_ADDRSTRLEN];

	if (family == AF_INET && inet_ntop(AF_INET, addr, ip, sizeof(ip)))
		snprintf(buf, len, "%s:%u", ip, port);
	else if (family == AF_INET6 && inet_ntop(AF_INET6, addr, ip, sizeof(ip)))
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "?:%u", port);
	return buf;
}

/* The container fields; unset (empty) for a host process. */
static void set_container(struct value *v, const struct container *c)
{
	if (!c)
		return;
	v[0] = val_str(c->id);
	v[1] = val_str(c->runtime);
	v[2] = val_str(c->name[0] ? c->name : NULL);
	v[3] = val_str(c->image[0] ? c->image : NULL);
	v[4] = val_str(c->pod[0] ? c->pod : NULL);
	v[5] = val_str(c->namespace[0] ? c->namespace : NULL);
}

void values_set_proc(struct value *v, const struct loupe_proc *p)
{
	v[0] = val_u64(p->ts_ns);
	v[1] = val_bytes(p->comm, strnlen(p->comm, sizeof(p->comm)));
	v[2] = val_u64(p->pid);
	v[3] = val_u64(p->tid);
	v[4] = val_u64(p->uid);
	v[5] = val_str(uid_name(p->uid));
	v[6] = val_u64(p->gid);
	v[7] = val_str(gid_name(p->gid));
	v[8] = val_u64(p->mntns_id);
	set_container(v + 9, container_of(p->mntns_key, p->mntns_id, p->pid));
}
