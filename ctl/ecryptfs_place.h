/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_ECRYPTFS_PLACE_H
#define KT_ECRYPTFS_PLACE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

/*
 * One path of an eCryptfs private directory (ctl/ecryptfs_place.c): its
 * parent directory, opened and checked, and its name there.
 * clear: closes the parent. refusal: why r refused a path, for a person.
 * open: opens the parent of p->path (the user's or root's) and looks at
 * what is there: nothing, or a directory of the user; prints the
 * refusal. dir: a descriptor of the directory, for reading, never
 * through a symlink. empty: 1 when the existing directory has no entry.
 * make: creates the directory if it is not there, the user's, mode
 * 0700. undo: removes what make created.
 */
struct place {
	const char *what;
	const char *path;
	int parent;
	char name[NAME_MAX + 1];
	bool existed;
	bool created;
};

void ctl_place_clear(struct place *p);
int ctl_place_open(struct place *p, uid_t uid);
int ctl_place_dir(const struct place *p, uid_t uid);
int ctl_place_empty(const struct place *p, uid_t uid);
int ctl_place_make(struct place *p, uid_t uid, gid_t gid);
void ctl_place_undo(struct place *p);

#endif
