/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keyturnctl enroll luks: pinning the volume. The device path of a
 * volume (/dev/disk/by-partlabel/...) is a name any removable disk or
 * loop device can take; the LUKS2 UUID in the volume's section of
 * keyturn.conf is what the agent checks. Enrollment writes it there, or
 * says what to add when it cannot.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "luks.h"

/* Whether paths a and b name the same device or image file. */
static bool same_device(const char *a, const char *b)
{
	struct stat sa, sb;

	if (strcmp(a, b) == 0)
		return true;
	if (stat(a, &sa) < 0 || stat(b, &sb) < 0)
		return false;
	if (S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode))
		return sa.st_rdev == sb.st_rdev;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static const struct kt_volume *template_of(const struct kt_config *c,
					   const char *name)
{
	for (size_t i = 0; i < c->n_volumes; i++)
		if (strcmp(c->volumes[i].name, name) == 0)
			return &c->volumes[i];
	return NULL;
}

int ctl_pin_plan(const struct kt_config *c, const struct kt_user *u,
		 const char *device, struct ctl_pin *ret)
{
	struct kt_diag diag = { .message = "" };
	struct kt_volume *v = NULL;
	struct ctl_pin pin = { .state = CTL_PIN_NO_VOLUME };
	size_t n = 0;
	int r;

	r = kt_luks_uuid(device, pin.uuid, sizeof(pin.uuid));
	if (r < 0)
		return r;
	if (c) {
		snprintf(pin.config, sizeof(pin.config), "%s", c->path);
		r = kt_config_volumes_for(c, u, &v, &n, &diag);
		if (r < 0) {
			ctl_error("%s", diag.message[0] ? diag.message
							: strerror(-r));
			return r;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct kt_volume *t;

		if (v[i].type != KT_VOLUME_LUKS2 ||
		    !same_device(v[i].device, device))
			continue;
		snprintf(pin.volume, sizeof(pin.volume), "%s", v[i].name);
		if (v[i].uuid && strcasecmp(v[i].uuid, pin.uuid) != 0) {
			ctl_error("[volume %s] in %s (line %u) pins LUKS2 UUID "
				  "%s, but %s has %s: another device at that "
				  "path? Refused, nothing changed",
				  v[i].name, v[i].file, v[i].line, v[i].uuid,
				  device, pin.uuid);
			kt_volumes_free(v, n);
			return -EEXIST;
		}
		t = template_of(c, v[i].name);
		if (v[i].uuid)
			pin.state = CTL_PIN_ALREADY;
		else if (t && (t->any_user || strpbrk(t->users, " \t")) &&
			 strchr(t->device, '%'))
			pin.state = CTL_PIN_SHARED;
		else
			pin.state = CTL_PIN_WRITE;
		break;
	}
	kt_volumes_free(v, n);
	*ret = pin;
	return 0;
}

/* Reads the whole config (checked as the agent checks it: the caller
 * loaded it with kt_config_load() a moment ago) through fd. */
static int read_all(int fd, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, size = 0;

	for (;;) {
		ssize_t k;

		if (len == size) {
			char *grown;

			size = size ? size * 2 : 8192;
			if (size > 2 * 1024 * 1024)
				return -EFBIG;
			grown = realloc(buf, size);
			if (!grown)
				return -ENOMEM;
			buf = grown;
		}
		k = read(fd, buf + len, size - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return kt_negerrno();
		if (k == 0)
			break;
		len += (size_t)k;
	}
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t k = write(fd, buf, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return kt_negerrno();
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

/*
 * The config with the pin, replacing the old one atomically: a new file
 * in the same directory with the same owner and mode, written, fsynced,
 * renamed over the old one, the directory fsynced. A reader sees the old
 * file or the new one, never half of it.
 */
static int write_pin(const char *path, const char *volume, const char *uuid)
{
	_cleanup_free_ char *text = NULL, *out = NULL, *tmp = NULL,
			    *dir_copy = NULL;
	_cleanup_close_ int fd = -1, tmp_fd = -1, dir_fd = -1;
	size_t len = 0, out_len = 0;
	struct stat st;
	int r;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0)
		return kt_negerrno();
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	r = read_all(fd, &text, &len);
	if (r < 0)
		return r;
	r = kt_config_pin_uuid(text, len, volume, uuid, &out, &out_len);
	if (r != 0)
		return r;

	dir_copy = strdup(path);
	if (!dir_copy || asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	dir_fd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return kt_negerrno();
	tmp_fd = mkostemp(tmp, O_CLOEXEC);
	if (tmp_fd < 0)
		return kt_negerrno();
	if (fchown(tmp_fd, st.st_uid, st.st_gid) < 0 ||
	    fchmod(tmp_fd, st.st_mode & 07777) < 0) {
		r = kt_negerrno();
		goto fail;
	}
	r = write_all(tmp_fd, out, out_len);
	if (r < 0)
		goto fail;
	if (fsync(tmp_fd) < 0 || rename(tmp, path) < 0) {
		r = kt_negerrno();
		goto fail;
	}
	(void)fsync(dir_fd);
	return 0;
fail:
	(void)unlink(tmp);
	return r;
}

int ctl_pin_apply(const struct ctl_pin *pin, const char *device,
		  const char *user)
{
	int r;

	switch (pin->state) {
	case CTL_PIN_ALREADY:
		printf("[volume %s] in %s pins %s already (uuid = %s)\n",
		       pin->volume, pin->config, device, pin->uuid);
		return CTL_EXIT_OK;
	case CTL_PIN_NO_VOLUME:
		printf("%s is in no volume of %s%s%s; pin it in the [volume] "
		       "section you add for it:\n  uuid = %s\n",
		       device, user, pin->config[0] ? " in " : "",
		       pin->config, pin->uuid);
		return CTL_EXIT_OK;
	case CTL_PIN_SHARED:
		printf("[volume %s] in %s applies to several users with a "
		       "device that depends on the user, so it cannot pin "
		       "one; to pin %s, give %s a [volume] section of their "
		       "own with:\n  uuid = %s\n",
		       pin->volume, pin->config, device, user, pin->uuid);
		return CTL_EXIT_OK;
	case CTL_PIN_WRITE:
		break;
	}
	r = write_pin(pin->config, pin->volume, pin->uuid);
	if (r == 1) {
		printf("[volume %s] in %s pins %s already (uuid = %s)\n",
		       pin->volume, pin->config, device, pin->uuid);
		return CTL_EXIT_OK;
	}
	if (r == -EEXIST) {
		ctl_error("[volume %s] in %s was given another uuid meanwhile; "
			  "left as it is: check it (%s has uuid %s)",
			  pin->volume, pin->config, device, pin->uuid);
		return CTL_EXIT_FAILURE;
	}
	if (r < 0) {
		ctl_error("Failed to pin [volume %s] in %s: %s; add this line "
			  "to it by hand:\n  uuid = %s",
			  pin->volume, pin->config, strerror(-r), pin->uuid);
		return CTL_EXIT_FAILURE;
	}
	printf("Pinned [volume %s] in %s to %s: uuid = %s\n", pin->volume,
	       pin->config, device, pin->uuid);
	return CTL_EXIT_OK;
}
