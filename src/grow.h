/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef LOUPE_GROW_H
#define LOUPE_GROW_H

#include <errno.h>
#include <stdlib.h>

/*
 * Make room for `need` elements of `size` bytes in *arr (capacity *cap),
 * doubling from `first`.  Returns 0 or -ENOMEM (the array is left as it was).
 */
static inline int grow(void *arr, size_t *cap, size_t need, size_t size, size_t first)
{
	void **p = arr, *n;
	size_t c = *cap ? *cap : first;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*p, c * size);
	if (!n)
		return -ENOMEM;
	*p = n;
	*cap = c;
	return 0;
}

#endif /* LOUPE_GROW_H */
