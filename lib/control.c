/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agents' control sockets: keyturnctl unlock hands a passphrase to the
 * user's own agent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "session.h"

int kt_peer_uid(int fd, uid_t *ret)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return kt_negerrno();
	*ret = cred.uid;
	return 0;
}

static int socket_path(uid_t uid, const char *name, struct sockaddr_un *sa)
{
	int n;

	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%u/%s",
		     KT_RUNDIR, (unsigned)uid, name);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int kt_control_listen(uid_t uid, gid_t gid, char *ret_path, size_t size)
{
	_cleanup_close_ int dir = -1, fd = -1;
	struct sockaddr_un sa;
	char name[32];
	int r;

	/* Checks the directory: root's, not writable by others. */
	dir = kt_session_dir(uid, true);
	if (dir < 0)
		return dir;
	snprintf(name, sizeof(name), KT_CONTROL_PREFIX "%d", (int)getpid());
	r = socket_path(uid, name, &sa);
	if (r < 0)
		return r;
	if ((size_t)snprintf(ret_path, size, "%s", sa.sun_path) >= size)
		return -ENAMETOOLONG;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return kt_negerrno();
	/* A stale socket of a dead agent with our pid. */
	(void)unlinkat(dir, name, 0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return kt_negerrno();
	/* The directory is root's alone to write: the name cannot have
	 * been swapped between bind and these. */
	if (fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(dir, name, 0600, 0) < 0) {
		r = kt_negerrno();
		(void)unlinkat(dir, name, 0);
		return r;
	}
	if (listen(fd, 4) < 0) {
		r = kt_negerrno();
		(void)unlinkat(dir, name, 0);
		return r;
	}
	return TAKE_FD(fd);
}

int kt_control_connect(uid_t uid)
{
	_cleanup_close_ int dirfd = -1;
	struct dirent *de;
	int r = -ENOENT;
	DIR *d;

	dirfd = kt_session_dir(uid, false);
	if (dirfd < 0)
		return dirfd == -ENOENT ? -ENOENT : dirfd;
	{
		char path[64];

		snprintf(path, sizeof(path), "%s/%u", KT_RUNDIR,
			 (unsigned)uid);
		d = opendir(path);
	}
	if (!d)
		return kt_negerrno();
	while ((de = readdir(d))) {
		struct sockaddr_un sa;
		uid_t peer;
		int fd;

		if (strncmp(de->d_name, KT_CONTROL_PREFIX,
			    strlen(KT_CONTROL_PREFIX)))
			continue;
		if (socket_path(uid, de->d_name, &sa) < 0)
			continue;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			r = kt_negerrno();
			break;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    kt_peer_uid(fd, &peer) < 0 || peer != 0) {
			close(fd);
			continue;
		}
		closedir(d);
		return fd;
	}
	closedir(d);
	return r;
}
