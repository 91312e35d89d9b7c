/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which volume opens before which: pure. */
#include <errno.h>
#include <string.h>

#include "order.h"

/* dir is path or a directory above it, in whole components. */
static bool path_under(const char *path, const char *dir)
{
	size_t len;

	if (!path || !dir || dir[0] != '/')
		return false;
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (strncmp(path, dir, len))
		return false;
	return len == 1 || path[len] == '\0' || path[len] == '/';
}

bool kt_volume_inside(const struct kt_volume *child,
		      const struct kt_volume *parent)
{
	const char *where = parent->mountpoint;

	if (child == parent || !where)
		return false;
	return path_under(child->mountpoint, where) ||
	       path_under(child->source, where) ||
	       path_under(child->directory, where) ||
	       path_under(child->wrapped, where) ||
	       path_under(child->device, where);
}

int kt_volumes_open_waves(const struct kt_volume *v, size_t n,
			  unsigned *ret_wave)
{
	bool changed = true;
	size_t rounds = 0;

	for (size_t i = 0; i < n; i++)
		ret_wave[i] = 0;
	/* Longest chain first; more than n rounds means a cycle. */
	while (changed) {
		changed = false;
		if (rounds++ > n)
			return -ELOOP;
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < n; j++)
				if (kt_volume_inside(&v[i], &v[j]) &&
				    ret_wave[i] < ret_wave[j] + 1) {
					ret_wave[i] = ret_wave[j] + 1;
					changed = true;
				}
	}
	return 0;
}

static size_t depth(const char *path)
{
	size_t d = 0;

	for (; path && *path; path++)
		d += *path == '/' && path[1] && path[1] != '/';
	return d;
}

void kt_opened_close_order(const struct kt_opened *o, size_t n,
			   size_t *ret_order)
{
	/* Deeper mount points first: a mount inside another is deeper.
	 * Stable, so equal depths keep the order they were opened in,
	 * reversed. */
	for (size_t i = 0; i < n; i++)
		ret_order[i] = n - 1 - i;
	for (size_t i = 1; i < n; i++) {
		size_t cur = ret_order[i], j = i;

		while (j > 0 && depth(o[ret_order[j - 1]].mountpoint) <
					depth(o[cur].mountpoint)) {
			ret_order[j] = ret_order[j - 1];
			j--;
		}
		ret_order[j] = cur;
	}
}
