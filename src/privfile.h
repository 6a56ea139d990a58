/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Opening a file that will hold captured plaintext (--output-file, --pcap).
 */
#ifndef LOUPE_PRIVFILE_H
#define LOUPE_PRIVFILE_H

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Opens path for writing, truncated: a new file is made 0600, and so is an
 * existing regular file (O_CREAT keeps its mode: captures are private).  A
 * device or a FIFO keeps its mode: `--output-file /dev/null` run as root
 * must not make /dev/null 0600 for every other user of the host.
 * Returns the descriptor, or -1 with errno set.
 */
static inline int open_private(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct stat st;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || (S_ISREG(st.st_mode) && fchmod(fd, 0600))) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

#endif
