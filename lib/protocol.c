/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The module <-> agent line protocol. Pure except for the two I/O helpers
 * at the end; the parser takes untrusted bytes and is strict: a line is
 * either exactly well formed or -EBADMSG.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"
#include "secret.h"

/* Kernel errnos stop at 4095 (MAX_ERRNO). */
#define KT_ERRNO_MAX 4095

static const char *const status_names[_KT_REPORT_MAX] = {
	[KT_REPORT_OPENED] = "opened",
	[KT_REPORT_REUSED] = "reused",
	[KT_REPORT_LOCKED] = "locked",
	[KT_REPORT_FAILED] = "failed",
	[KT_REPORT_CLOSED] = "closed",
	[KT_REPORT_KEPT] = "kept",
	[KT_REPORT_REKEYED] = "rekeyed",
	[KT_REPORT_UNCHANGED] = "unchanged",
};

const char *kt_report_status_name(enum kt_report_status s)
{
	if ((unsigned)s >= _KT_REPORT_MAX)
		return NULL;
	return status_names[s];
}

static bool volume_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* Volume names as the config allows them: [A-Za-z0-9_.-]{1,32}, not
 * starting with '.' or '-'. */
static bool volume_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > sizeof(((struct kt_report *)0)->volume) - 1)
		return false;
	if (s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!volume_char(s[i]))
			return false;
	return true;
}

static bool control_byte(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

int kt_report_format(const struct kt_report *r, char *buf, size_t size)
{
	size_t vlen = strnlen(r->volume, sizeof(r->volume));
	/* At most what the parser takes back: the array less its NUL. A
	 * message that fills the array unterminated is cut, not overrun
	 * (found by the protocol fuzz target). */
	size_t mlen = strnlen(r->message, sizeof(r->message) - 1);
	const char *status = kt_report_status_name(r->status);
	size_t n;
	int k;

	if (!status || !volume_name_valid(r->volume, vlen) ||
	    r->error < 0 || r->error > KT_ERRNO_MAX)
		return -EINVAL;
	if (!buf || size == 0)
		return -ENOBUFS;

	k = snprintf(buf, size, "volume %.*s %s %d ", (int)vlen, r->volume,
		     status, r->error);
	if (k < 0)
		return -EINVAL;
	n = (size_t)k;
	/* The message, its newline and the NUL must fit too. */
	if (n >= size || mlen + 2 > size - n)
		return -ENOBUFS;
	for (size_t i = 0; i < mlen; i++) {
		unsigned char c = (unsigned char)r->message[i];

		buf[n++] = control_byte(c) ? '?' : (char)c;
	}
	buf[n++] = '\n';
	buf[n] = '\0';
	return (int)n;
}

/* The next space-delimited field of [*p, end): its start and length;
 * false when there is none. A field never contains control bytes. */
static bool next_field(const char **p, const char *end, const char **ret,
		       size_t *ret_len)
{
	const char *s = *p, *e;

	if (s >= end)
		return false;
	for (e = s; e < end && *e != ' '; e++)
		if (control_byte((unsigned char)*e))
			return false;
	if (e == s)
		return false; /* empty field: two spaces in a row */
	*ret = s;
	*ret_len = (size_t)(e - s);
	/* Step over exactly one separator. */
	*p = e < end ? e + 1 : e;
	return true;
}

static bool field_is(const char *f, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(f, word, len) == 0;
}

static int parse_errno(const char *f, size_t len, int *ret)
{
	int v = 0;

	/* Decimal, no sign, no leading zero, at most 4 digits. */
	if (len == 0 || len > 4 || (len > 1 && f[0] == '0'))
		return -EBADMSG;
	for (size_t i = 0; i < len; i++) {
		if (f[i] < '0' || f[i] > '9')
			return -EBADMSG;
		v = v * 10 + (f[i] - '0');
	}
	if (v > KT_ERRNO_MAX)
		return -EBADMSG;
	*ret = v;
	return 0;
}

int kt_report_parse(const char *line, struct kt_report *ret)
{
	struct kt_report r = { .status = _KT_REPORT_MAX };
	const char *p = line, *end, *f;
	size_t len, flen;
	int s;

	if (!line)
		return -EBADMSG;
	len = strnlen(line, KT_LINE_MAX);
	if (len >= KT_LINE_MAX)
		return -EBADMSG;
	end = line + len;
	if (len > 0 && end[-1] == '\n')
		end--;

	if (!next_field(&p, end, &f, &flen) || !field_is(f, flen, "volume"))
		return -EBADMSG;

	if (!next_field(&p, end, &f, &flen) || !volume_name_valid(f, flen))
		return -EBADMSG;
	memcpy(r.volume, f, flen);
	r.volume[flen] = '\0';

	if (!next_field(&p, end, &f, &flen))
		return -EBADMSG;
	for (s = 0; s < _KT_REPORT_MAX; s++)
		if (field_is(f, flen, status_names[s]))
			break;
	if (s == _KT_REPORT_MAX)
		return -EBADMSG;
	r.status = (enum kt_report_status)s;

	if (!next_field(&p, end, &f, &flen) ||
	    parse_errno(f, flen, &r.error) < 0)
		return -EBADMSG;
	/* The errno field is the last one when there is no message; a
	 * separator after it starts the message (which may be empty). */

	/* The rest, spaces included, is the message. */
	flen = (size_t)(end - p);
	if (flen > sizeof(r.message) - 1)
		return -EBADMSG;
	for (size_t i = 0; i < flen; i++)
		if (control_byte((unsigned char)p[i]))
			return -EBADMSG;
	memcpy(r.message, p, flen);
	r.message[flen] = '\0';

	*ret = r;
	return 0;
}

/* ---- the record of what a session opened -------------------------- */

static const char *const busy_names[] = {
	[KT_BUSY_LAZY] = "lazy",
	[KT_BUSY_KEEP] = "keep",
	[KT_BUSY_KILL] = "kill",
};

static int name_index(const char *const *names, size_t n, const char *f,
		      size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (field_is(f, len, names[i]))
			return (int)i;
	return -1;
}

/* Decimal, no sign, no leading zero, at most max. */
static int parse_u64(const char *f, size_t len, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;

	if (len == 0 || len > 20 || (len > 1 && f[0] == '0'))
		return -EBADMSG;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (f[i] < '0' || f[i] > '9')
			return -EBADMSG;
		d = (unsigned)(f[i] - '0');
		if (v > (max - d) / 10)
			return -EBADMSG;
		v = v * 10 + d;
	}
	*ret = v;
	return 0;
}

/* MAJ:MIN as the kernel's dev_t allows (12 and 20 bits). */
static int parse_dev(const char *f, size_t len, dev_t *ret)
{
	const char *colon = memchr(f, ':', len);
	uint64_t maj, min;

	if (!colon ||
	    parse_u64(f, (size_t)(colon - f), 4095, &maj) < 0 ||
	    parse_u64(colon + 1, len - (size_t)(colon - f) - 1, 1048575,
		      &min) < 0)
		return -EBADMSG;
	*ret = makedev((unsigned)maj, (unsigned)min);
	return 0;
}

static bool dev_valid(dev_t d)
{
	return major(d) <= 4095 && minor(d) <= 1048575;
}

static bool dm_char(char c)
{
	return volume_char(c) || c == '+';
}

/* As keyturn.conf(5) allows a dm name: [A-Za-z0-9_.+-]{1,127}, not ".",
 * ".." or starting with '-'. */
static bool dm_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > 127 || s[0] == '-' ||
	    (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!dm_char(s[i]))
			return false;
	return true;
}

/* CRYPT-LUKS2-<32 lowercase hex>-<name>, the dm UUID libcryptsetup gives
 * a LUKS2 mapping named name. */
static bool dm_uuid_valid(const char *s, size_t len, const char *name)
{
	size_t plen = strlen(KT_DM_UUID_PREFIX), nlen = strlen(name);

	if (len != plen + 32 + 1 + nlen ||
	    memcmp(s, KT_DM_UUID_PREFIX, plen) != 0)
		return false;
	for (size_t i = plen; i < plen + 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[plen + 32] == '-' &&
	       memcmp(s + plen + 33, name, nlen) == 0;
}

/* An fscrypt key identifier: 32 lower-case hex. */
static bool fscrypt_id_valid(const char *s, size_t len)
{
	if (len != 32)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* An absolute path without control bytes, "." or ".." components or
 * empty ones (but "/" itself). */
static bool state_path_valid(const char *s, size_t len)
{
	if (len == 0 || len >= KT_STATE_PATH_MAX || s[0] != '/')
		return false;
	for (size_t i = 0; i < len; i++)
		if (control_byte((unsigned char)s[i]))
			return false;
	for (size_t i = 1; i <= len; i++) {
		size_t start = i, clen;

		while (i < len && s[i] != '/')
			i++;
		clen = i - start;
		if (clen == 0 && len > 1)
			return false;
		if ((clen == 1 && s[start] == '.') ||
		    (clen == 2 && s[start] == '.' && s[start + 1] == '.'))
			return false;
	}
	return true;
}

static bool opened_valid(const struct kt_opened *o)
{
	size_t vlen = strnlen(o->volume, sizeof(o->volume));
	size_t plen = strnlen(o->mountpoint, sizeof(o->mountpoint));
	size_t dlen = strnlen(o->dm_name, sizeof(o->dm_name));
	size_t ulen = strnlen(o->dm_uuid, sizeof(o->dm_uuid));

	if (!volume_name_valid(o->volume, vlen) ||
	    !kt_volume_type_info(o->type) ||
	    (unsigned)o->busy >= ELEMENTSOF(busy_names) ||
	    o->busy_timeout > 86400 || plen >= sizeof(o->mountpoint) ||
	    dlen >= sizeof(o->dm_name) || ulen >= sizeof(o->dm_uuid) ||
	    !dev_valid(o->mnt_dev) || !dev_valid(o->dm_dev) ||
	    o->keys[0] < 0 || o->keys[1] < 0)
		return false;
	if (o->mnt_id == 0
		    ? o->mnt_dev != 0 || o->mnt_ino != 0 || plen != 0 ||
			      o->mnt_unique != 0
		    : !state_path_valid(o->mountpoint, plen))
		return false;
	if (o->type == KT_VOLUME_FSCRYPT)
		return o->mnt_id != 0 && dlen == 0 && ulen == 0 &&
		       o->dm_dev == 0 && o->keys[0] == 0 && o->keys[1] == 0 &&
		       fscrypt_id_valid(o->fscrypt_id,
					strnlen(o->fscrypt_id,
						sizeof(o->fscrypt_id)));
	if (strnlen(o->fscrypt_id, sizeof(o->fscrypt_id)) != 0)
		return false;
	if (kt_volume_type_info(o->type)->dm)
		return dm_name_valid(o->dm_name, dlen) &&
		       dm_uuid_valid(o->dm_uuid, ulen, o->dm_name) &&
		       o->dm_dev != 0 && o->keys[0] == 0 && o->keys[1] == 0;
	return dlen == 0 && ulen == 0 && o->dm_dev == 0;
}

int kt_opened_format(const struct kt_opened *o, char *buf, size_t size)
{
	int n;

	if (!opened_valid(o))
		return -EINVAL;
	if (!buf || size == 0)
		return -ENOBUFS;
	n = snprintf(buf, size,
		     "volume %s %s %s %s %u %" PRIu64 " %" PRIu64
		     " %u:%u %" PRIu64
		     " %s %s %u:%u %" PRId32 " %" PRId32 " %s\n",
		     o->volume, kt_volume_type_name(o->type),
		     o->own ? "own" : "reused", busy_names[o->busy],
		     o->busy_timeout, o->mnt_id, o->mnt_unique,
		     major(o->mnt_dev),
		     minor(o->mnt_dev), o->mnt_ino,
		     o->dm_name[0] ? o->dm_name : "-",
		     o->type == KT_VOLUME_FSCRYPT ? o->fscrypt_id
		     : o->dm_uuid[0]		  ? o->dm_uuid
						  : "-",
		     major(o->dm_dev),
		     minor(o->dm_dev), o->keys[0], o->keys[1],
		     o->mnt_id ? o->mountpoint : "-");
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENOBUFS;
	return n;
}

/* A string field into a buffer: "-" is empty. */
static int copy_field(const char *f, size_t len, char *dst, size_t size)
{
	if (field_is(f, len, "-")) {
		dst[0] = '\0';
		return 0;
	}
	if (len >= size)
		return -EBADMSG;
	memcpy(dst, f, len);
	dst[len] = '\0';
	return 0;
}

static int parse_key(const char *f, size_t len, int32_t *ret)
{
	uint64_t v;

	if (parse_u64(f, len, INT32_MAX, &v) < 0)
		return -EBADMSG;
	*ret = (int32_t)v;
	return 0;
}

int kt_opened_parse(const char *line, size_t len, struct kt_opened *ret)
{
	struct kt_opened o;
	const char *p = line, *end, *f;
	size_t flen;
	uint64_t v;
	int i;

	memset(&o, 0, sizeof(o));
	if (!line || memchr(line, '\0', len))
		return -EBADMSG;
	end = line + len;
	if (len > 0 && end[-1] == '\n')
		end--;
	if (memchr(line, '\n', (size_t)(end - line)))
		return -EBADMSG;

	if (!next_field(&p, end, &f, &flen) || !field_is(f, flen, "volume"))
		return -EBADMSG;
	if (!next_field(&p, end, &f, &flen) || !volume_name_valid(f, flen))
		return -EBADMSG;
	memcpy(o.volume, f, flen);
	if (!next_field(&p, end, &f, &flen) ||
	    kt_volume_type_parse(f, flen, &o.type) < 0)
		return -EBADMSG;
	if (!next_field(&p, end, &f, &flen))
		return -EBADMSG;
	if (field_is(f, flen, "own"))
		o.own = true;
	else if (!field_is(f, flen, "reused"))
		return -EBADMSG;
	if (!next_field(&p, end, &f, &flen) ||
	    (i = name_index(busy_names, ELEMENTSOF(busy_names), f, flen)) < 0)
		return -EBADMSG;
	o.busy = (enum kt_busy_policy)i;
	if (!next_field(&p, end, &f, &flen) ||
	    parse_u64(f, flen, 86400, &v) < 0)
		return -EBADMSG;
	o.busy_timeout = (unsigned)v;
	if (!next_field(&p, end, &f, &flen) ||
	    parse_u64(f, flen, UINT64_MAX, &o.mnt_id) < 0)
		return -EBADMSG;
	if (!next_field(&p, end, &f, &flen) ||
	    parse_u64(f, flen, UINT64_MAX, &o.mnt_unique) < 0)
		return -EBADMSG;
	if (!next_field(&p, end, &f, &flen) ||
	    parse_dev(f, flen, &o.mnt_dev) < 0)
		return -EBADMSG;
	if (!next_field(&p, end, &f, &flen) ||
	    parse_u64(f, flen, UINT64_MAX, &o.mnt_ino) < 0)
		return -EBADMSG;
	if (!next_field(&p, end, &f, &flen) ||
	    copy_field(f, flen, o.dm_name, sizeof(o.dm_name)) < 0)
		return -EBADMSG;
	if (!next_field(&p, end, &f, &flen) ||
	    copy_field(f, flen, o.dm_uuid, sizeof(o.dm_uuid)) < 0)
		return -EBADMSG;
	if (o.type == KT_VOLUME_FSCRYPT) {
		/* That field is the key identifier here. */
		if (strlen(o.dm_uuid) >= sizeof(o.fscrypt_id))
			return -EBADMSG;
		strcpy(o.fscrypt_id, o.dm_uuid);
		o.dm_uuid[0] = '\0';
	}
	if (!next_field(&p, end, &f, &flen) ||
	    parse_dev(f, flen, &o.dm_dev) < 0)
		return -EBADMSG;
	if (!next_field(&p, end, &f, &flen) ||
	    parse_key(f, flen, &o.keys[0]) < 0)
		return -EBADMSG;
	if (!next_field(&p, end, &f, &flen) ||
	    parse_key(f, flen, &o.keys[1]) < 0)
		return -EBADMSG;
	/* The rest is the path, spaces and all, or "-". */
	flen = (size_t)(end - p);
	if (p >= end || p[-1] != ' ')
		return -EBADMSG;
	if (flen == 1 && p[0] == '-') {
		if (o.mnt_id != 0)
			return -EBADMSG;
	} else {
		if (o.mnt_id == 0 || !state_path_valid(p, flen))
			return -EBADMSG;
		memcpy(o.mountpoint, p, flen);
		o.mountpoint[flen] = '\0';
	}
	if (!opened_valid(&o))
		return -EBADMSG;
	*ret = o;
	return 0;
}

static bool user_name_valid(const char *s, size_t len)
{
	/* As lib/user.c: [A-Za-z0-9_.-]{1,32}, not starting with '-' or
	 * '.'. */
	return volume_name_valid(s, len);
}

static bool control_path_valid(const char *s, size_t len)
{
	return len < sizeof(((struct kt_state *)0)->control) &&
	       state_path_valid(s, len);
}

int kt_state_format(const struct kt_state *s, char *buf, size_t size)
{
	size_t used = 0, ulen = strnlen(s->user, sizeof(s->user));
	size_t clen = strnlen(s->control, sizeof(s->control));
	int n;

	if (!user_name_valid(s->user, ulen) || ulen >= sizeof(s->user) ||
	    clen >= sizeof(s->control) ||
	    (clen && !control_path_valid(s->control, clen)) ||
	    s->n_volumes > KT_STATE_VOLUMES_MAX ||
	    s->uid == (uid_t)-1 || s->gid == (gid_t)-1)
		return -EINVAL;
	if (!buf || size == 0)
		return -ENOBUFS;
	n = snprintf(buf, size, "%s\nuser %u %u %s\n", KT_STATE_MAGIC,
		     (unsigned)s->uid, (unsigned)s->gid, s->user);
	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	used = (size_t)n;
	if (clen) {
		n = snprintf(buf + used, size - used, "control %s\n",
			     s->control);
		if (n < 0 || (size_t)n >= size - used)
			return -ENOBUFS;
		used += (size_t)n;
	}
	for (size_t i = 0; i < s->n_volumes; i++) {
		n = kt_opened_format(&s->volumes[i], buf + used, size - used);
		if (n < 0)
			return n;
		used += (size_t)n;
	}
	if (used > INT32_MAX)
		return -ENOBUFS;
	return (int)used;
}

int kt_state_parse(const char *text, size_t len, struct kt_state *ret)
{
	struct kt_state *s;
	const char *p = text, *end = text + len;
	size_t line_no = 0;
	bool have_control = false;
	int r = -EBADMSG;

	if (!text || len == 0 || len > KT_STATE_MAX || end[-1] != '\n' ||
	    memchr(text, '\0', len))
		return -EBADMSG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *q = p, *f;
		size_t llen = (size_t)(nl - p), flen;
		uint64_t v;

		if (line_no == 0) {
			if (!field_is(p, llen, KT_STATE_MAGIC))
				goto out;
		} else if (line_no == 1) {
			/* user UID GID NAME */
			if (!next_field(&q, nl, &f, &flen) ||
			    !field_is(f, flen, "user") ||
			    !next_field(&q, nl, &f, &flen) ||
			    parse_u64(f, flen, UINT32_MAX - 1, &v) < 0)
				goto out;
			s->uid = (uid_t)v;
			if (!next_field(&q, nl, &f, &flen) ||
			    parse_u64(f, flen, UINT32_MAX - 1, &v) < 0)
				goto out;
			s->gid = (gid_t)v;
			if (!next_field(&q, nl, &f, &flen) || q != nl ||
			    nl[-1] == ' ' || !user_name_valid(f, flen))
				goto out;
			memcpy(s->user, f, flen);
		} else if (llen > 8 && !memcmp(p, "control ", 8)) {
			if (have_control || s->n_volumes ||
			    !control_path_valid(p + 8, llen - 8))
				goto out;
			memcpy(s->control, p + 8, llen - 8);
			have_control = true;
		} else {
			if (s->n_volumes >= KT_STATE_VOLUMES_MAX ||
			    kt_opened_parse(p, llen,
					    &s->volumes[s->n_volumes]) < 0)
				goto out;
			/* One record per volume name. */
			for (size_t i = 0; i < s->n_volumes; i++)
				if (!strcmp(s->volumes[i].volume,
					    s->volumes[s->n_volumes].volume))
					goto out;
			s->n_volumes++;
		}
		line_no++;
		p = nl + 1;
	}
	if (line_no < 2)
		goto out;
	memcpy(ret, s, sizeof(*s));
	r = 0;
out:
	free(s);
	return r;
}

int kt_control_format_unlock(size_t len, char *buf, size_t size)
{
	int n;

	if (len == 0)
		return -EINVAL;
	n = snprintf(buf, size, "unlock %zu", len);
	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	return n;
}

int kt_control_parse_unlock(const char *line, size_t max, size_t *ret_len)
{
	static const char verb[] = "unlock ";
	const char *p = line;
	size_t len = 0;

	if (strncmp(p, verb, sizeof(verb) - 1) != 0)
		return -EBADMSG;
	p += sizeof(verb) - 1;
	/* 1..9 first: no sign, no leading zero, no empty number. */
	if (*p < '1' || *p > '9')
		return -EBADMSG;
	for (; *p >= '0' && *p <= '9'; p++) {
		len = len * 10 + (size_t)(*p - '0');
		if (len > max)
			return -E2BIG;
	}
	if (*p != '\0')
		return -EBADMSG;
	*ret_len = len;
	return 0;
}
