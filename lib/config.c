/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /etc/security/keyturn.conf: parsing, checking, loading, and expanding
 * the volumes of one user. Everything but kt_config_load() is pure.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"

#define KT_CONFIG_MAX (1024 * 1024)
#define KT_VOLUME_NAME_MAX 32
#define KT_KEY_PREFIX_MAX 32
#define KT_SERVICE_MAX 64
#define KT_DM_NAME_MAX 127
#define KT_FSTYPE_MAX 32

/* How much of a value a message quotes. */
#define Q 64

enum section { SEC_NONE, SEC_DEFAULTS, SEC_VOLUME };

/* Volume types as bits, for the key table. */
#define T_LUKS2 (1u << KT_VOLUME_LUKS2)
#define T_ECRYPTFS (1u << KT_VOLUME_ECRYPTFS)
#define T_FSCRYPT (1u << KT_VOLUME_FSCRYPT)
#define T_MOUNTED (T_LUKS2 | T_ECRYPTFS)
#define T_ANY (T_MOUNTED | T_FSCRYPT)

enum key_id {
	K_KEY_TIMEOUT,
	K_UNLOCK_TIMEOUT,
	K_KEY_PREFIX,
	K_SERVICES,
	K_SKIP_SERVICES,
	K_WRAPPED_MAX_MEMORY,
	K_WRAPPED_MAX_ITERATIONS,
	K_USER,
	K_TYPE,
	K_DEVICE,
	K_NAME,
	K_FSTYPE,
	K_SOURCE,
	K_WRAPPED,
	K_FNEK,
	K_MOUNTPOINT,
	K_OPTIONS,
	K_REQUIRED,
	K_BUSY,
	K_BUSY_TIMEOUT,
	K_UUID,
	K_DIRECTORY,
	K_MAX
};

struct key_desc {
	const char *name;
	enum section section;
	unsigned types;    /* volume types the key is valid for */
	unsigned required; /* volume types that need it */
};

static const struct key_desc keys[K_MAX] = {
	[K_KEY_TIMEOUT] = { "key_timeout", SEC_DEFAULTS, 0, 0 },
	[K_UNLOCK_TIMEOUT] = { "unlock_timeout", SEC_DEFAULTS, 0, 0 },
	[K_KEY_PREFIX] = { "key_prefix", SEC_DEFAULTS, 0, 0 },
	[K_SERVICES] = { "services", SEC_DEFAULTS, 0, 0 },
	[K_SKIP_SERVICES] = { "skip_services", SEC_DEFAULTS, 0, 0 },
	[K_WRAPPED_MAX_MEMORY] = { "wrapped_max_memory", SEC_DEFAULTS, 0, 0 },
	[K_WRAPPED_MAX_ITERATIONS] = { "wrapped_max_iterations", SEC_DEFAULTS,
				       0, 0 },
	[K_USER] = { "user", SEC_VOLUME, T_ANY, T_ANY },
	[K_TYPE] = { "type", SEC_VOLUME, T_ANY, T_ANY },
	[K_DEVICE] = { "device", SEC_VOLUME, T_LUKS2, T_LUKS2 },
	[K_NAME] = { "name", SEC_VOLUME, T_LUKS2, T_LUKS2 },
	[K_FSTYPE] = { "fstype", SEC_VOLUME, T_LUKS2, 0 },
	[K_SOURCE] = { "source", SEC_VOLUME, T_ECRYPTFS, T_ECRYPTFS },
	[K_WRAPPED] = { "wrapped", SEC_VOLUME, T_ECRYPTFS | T_FSCRYPT,
			T_ECRYPTFS | T_FSCRYPT },
	[K_FNEK] = { "fnek", SEC_VOLUME, T_ECRYPTFS, 0 },
	[K_MOUNTPOINT] = { "mountpoint", SEC_VOLUME, T_MOUNTED, T_MOUNTED },
	[K_OPTIONS] = { "options", SEC_VOLUME, T_MOUNTED, 0 },
	[K_REQUIRED] = { "required", SEC_VOLUME, T_ANY, 0 },
	[K_BUSY] = { "busy", SEC_VOLUME, T_ANY, 0 },
	[K_BUSY_TIMEOUT] = { "busy_timeout", SEC_VOLUME, T_ANY, 0 },
	[K_UUID] = { "uuid", SEC_VOLUME, T_LUKS2, 0 },
	[K_DIRECTORY] = { "directory", SEC_VOLUME, T_FSCRYPT, T_FSCRYPT },
};

struct parser {
	const char *file;
	struct kt_diag *diag;
	struct kt_config *config;
	enum section section;
	unsigned section_line;
	unsigned defaults_line;  /* first [defaults], 0 if none yet */
	unsigned key_line[K_MAX]; /* where each key of the section was set */
	bool type_set;
};

/* Mount options that would give back what nosuid,nodev take away, or that
 * are mount(8) operations rather than options. */
static const char *const refused_options[] = {
	"suid", "dev", "defaults", "bind", "rbind", "move", "remount",
};

static const char *const default_skip_services[] = { "systemd-user", "cron" };

_printf_(2, 3) static void diag_set(struct kt_diag *diag, const char *fmt, ...)
{
	va_list ap;

	if (!diag)
		return;
	va_start(ap, fmt);
	vsnprintf(diag->message, sizeof(diag->message), fmt, ap);
	va_end(ap);
}

/* "FILE:LINE: what", returns -EINVAL. */
_printf_(3, 4) static int fail(struct parser *p, unsigned line,
			       const char *fmt, ...)
{
	char what[KT_DIAG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	diag_set(p->diag, "%s:%u: %s", p->file, line, what);
	return -EINVAL;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* Every byte of s[0..len) is alphanumeric or in extra. */
static bool chars_ok(const char *s, size_t len, const char *extra)
{
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

static char *trim(char *s)
{
	char *end;

	while (is_blank(*s))
		s++;
	end = s + strlen(s);
	while (end > s && is_blank(end[-1]))
		end--;
	*end = '\0';
	return s;
}

static void strv_free(char **v)
{
	if (!v)
		return;
	for (char **i = v; *i; i++)
		free(*i);
	free(v);
}

static void volume_done(struct kt_volume *v)
{
	free(v->name);
	free(v->file);
	free(v->users);
	free(v->device);
	free(v->dm_name);
	free(v->fstype);
	free(v->source);
	free(v->wrapped);
	free(v->mountpoint);
	free(v->directory);
	free(v->options);
	free(v->uuid);
	memset(v, 0, sizeof(*v));
}

void kt_volumes_free(struct kt_volume *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		volume_done(&v[i]);
	free(v);
}

struct kt_config *kt_config_free(struct kt_config *c)
{
	if (!c)
		return NULL;
	free(c->path);
	free(c->key_prefix);
	strv_free(c->services);
	strv_free(c->skip_services);
	kt_volumes_free(c->volumes, c->n_volumes);
	free(c);
	return NULL;
}

const char *kt_volume_type_name(enum kt_volume_type t)
{
	switch (t) {
	case KT_VOLUME_LUKS2:
		return "luks2";
	case KT_VOLUME_ECRYPTFS:
		return "ecryptfs";
	case KT_VOLUME_FSCRYPT:
		return "fscrypt";
	}
	return "unknown";
}

const char *kt_busy_policy_name(enum kt_busy_policy p)
{
	switch (p) {
	case KT_BUSY_LAZY:
		return "lazy";
	case KT_BUSY_KEEP:
		return "keep";
	case KT_BUSY_KILL:
		return "kill";
	}
	return "unknown";
}

static const char *section_label(const struct parser *p)
{
	return p->section == SEC_DEFAULTS ? "[defaults]" : "[volume]";
}

static struct kt_volume *current_volume(struct parser *p)
{
	return &p->config->volumes[p->config->n_volumes - 1];
}

/* ---- values ------------------------------------------------------------ */

static int parse_uint_unit(struct parser *p, unsigned line,
			   const char *key, const char *value, unsigned min,
			   unsigned max, const char *unit, unsigned *ret)
{
	unsigned long long n = 0;
	const char *s;

	for (s = value; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (unsigned)(*s - '0');
		if (n > max)
			break;
	}
	if (s == value || *s || n < min || n > max)
		return fail(p, line,
			    "bad value '%.*s' for '%s': expected a number of "
			    "%s from %u to %u",
			    Q, value, key, unit, min, max);
	*ret = (unsigned)n;
	return 0;
}

static int parse_uint(struct parser *p, unsigned line, const char *key,
		      const char *value, unsigned min, unsigned max,
		      unsigned *ret)
{
	return parse_uint_unit(p, line, key, value, min, max, "seconds", ret);
}

static int parse_bool(struct parser *p, unsigned line, const char *key,
		      const char *value, bool *ret)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcmp(value, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(value, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return fail(p, line,
		    "bad value '%.*s' for '%s': expected yes/no, true/false, "
		    "on/off or 1/0",
		    Q, value, key);
}

static int set_string(char **field, const char *value)
{
	char *s = strdup(value);

	if (!s)
		return -ENOMEM;
	free(*field);
	*field = s;
	return 0;
}

/*
 * Splits a blank-separated list into a NULL-terminated vector, checking
 * each word with check (which writes the diagnostic).
 */
static int split_words(struct parser *p, unsigned line, const char *key,
		       const char *value, char ***ret,
		       int (*check)(struct parser *, unsigned, const char *,
				    const char *, size_t))
{
	char **v = NULL;
	size_t n = 0;
	int r;

	v = calloc(1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (const char *s = value; *s;) {
		size_t len;
		char **grown;

		while (is_blank(*s))
			s++;
		if (!*s)
			break;
		len = strcspn(s, " \t");
		r = check(p, line, key, s, len);
		if (r < 0)
			goto out;
		grown = realloc(v, (n + 2) * sizeof(char *));
		if (!grown) {
			r = -ENOMEM;
			goto out;
		}
		v = grown;
		v[n] = strndup(s, len);
		if (!v[n]) {
			r = -ENOMEM;
			goto out;
		}
		v[++n] = NULL;
		s += len;
	}
	*ret = v;
	return 0;
out:
	strv_free(v);
	return r;
}

static int check_service(struct parser *p, unsigned line, const char *key,
			 const char *s, size_t len)
{
	if (len > KT_SERVICE_MAX || s[0] == '.' ||
	    !chars_ok(s, len, "_.+@-"))
		return fail(p, line,
			    "invalid PAM service name '%.*s' in '%s'",
			    (int)(len < Q ? len : Q), s, key);
	return 0;
}

static int check_user(struct parser *p, unsigned line, const char *key,
		      const char *s, size_t len)
{
	char name[Q + 2];
	const char *problem;

	if (len == 1 && s[0] == '*')
		return fail(p, line,
			    "'*' must be the only entry of '%s'", key);
	if (len > sizeof(name) - 1)
		return fail(p, line,
			    "invalid user name '%.*s...' in '%s': is longer "
			    "than 32 bytes",
			    Q, s, key);
	memcpy(name, s, len);
	name[len] = '\0';
	problem = kt_user_name_problem(name);
	if (problem)
		return fail(p, line, "invalid user name '%s' in '%s': %s",
			    name, key, problem);
	return 0;
}

/* A user that exists only to check templates while parsing. */
static const struct kt_user template_user = {
	.name = "user",
	.uid = 1000,
	.gid = 1000,
	.home = "/home/user",
};

/*
 * Checks an expanded path: absolute, no "." or ".." component, bounded.
 * Collapses repeated slashes and drops a trailing one, so that what the
 * agent compares and mounts has one spelling. Returns a reason or NULL.
 */
static const char *path_problem(char *path)
{
	char *w = path;

	if (path[0] != '/')
		return "is not an absolute path";
	if (strlen(path) >= PATH_MAX)
		return "is too long";
	for (const char *r = path; *r;) {
		size_t len;

		while (*r == '/')
			r++;
		if (!*r)
			break;
		len = strcspn(r, "/");
		if ((len == 1 && r[0] == '.') ||
		    (len == 2 && r[0] == '.' && r[1] == '.'))
			return "has a '.' or '..' component";
		*w++ = '/';
		memmove(w, r, len);
		w += len;
		r += len;
	}
	if (w == path)
		*w++ = '/';
	*w = '\0';
	return NULL;
}

static const char *dm_name_problem(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > KT_DM_NAME_MAX)
		return "must be 1 to 127 bytes long";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    name[0] == '-')
		return "must not be '.', '..' or start with '-'";
	if (!chars_ok(name, len, "_.+-"))
		return "may hold only [A-Za-z0-9_.+-]";
	return NULL;
}

static int check_path_template(struct parser *p, unsigned line,
			       const char *key, const char *value)
{
	_cleanup_free_ char *expanded = NULL;
	const char *problem;
	int r;

	r = kt_user_expand(value, &template_user, &expanded);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return fail(p, line,
			    "bad value '%.*s' for '%s': unknown %% escape "
			    "(only %%u, %%h, %%U and %%%% expand)",
			    Q, value, key);
	problem = path_problem(expanded);
	if (problem)
		return fail(p, line, "bad value '%.*s' for '%s': %s", Q, value,
			    key, problem);
	return 0;
}

static int check_dm_name_template(struct parser *p, unsigned line,
				  const char *value)
{
	_cleanup_free_ char *expanded = NULL;
	const char *problem;
	int r;

	for (const char *s = value; *s; s++) {
		if (*s != '%')
			continue;
		if (s[1] != 'u' && s[1] != 'U')
			return fail(p, line,
				    "bad value '%.*s' for 'name': only %%u and "
				    "%%U expand in a device-mapper name",
				    Q, value);
		s++;
	}
	r = kt_user_expand(value, &template_user, &expanded);
	if (r < 0)
		return r;
	problem = dm_name_problem(expanded);
	if (problem)
		return fail(p, line,
			    "bad value '%.*s' for 'name': a device-mapper name "
			    "%s",
			    Q, value, problem);
	return 0;
}

static int parse_options(struct parser *p, unsigned line, const char *value,
			 char **field)
{
	_cleanup_free_ char *out = malloc(strlen(value) + 1);
	size_t n = 0;

	if (!out)
		return -ENOMEM;
	for (const char *s = value;; s++) {
		const char *end = s + strcspn(s, ",");
		size_t name_len;

		while (is_blank(*s))
			s++;
		while (end > s && is_blank(end[-1]))
			end--;
		if (end == s)
			return fail(p, line, "empty mount option in 'options'");
		if (!chars_ok(s, (size_t)(end - s), "_=.:/@+-"))
			return fail(p, line,
				    "bad mount option '%.*s' in 'options': "
				    "only [A-Za-z0-9_=.:/@+-] are allowed",
				    (int)(end - s < Q ? end - s : Q), s);
		name_len = strcspn(s, "=");
		if (name_len > (size_t)(end - s))
			name_len = (size_t)(end - s);
		for (size_t i = 0; i < ELEMENTSOF(refused_options); i++)
			if (strlen(refused_options[i]) == name_len &&
			    memcmp(s, refused_options[i], name_len) == 0)
				return fail(p, line,
					    "mount option '%s' is refused: "
					    "keyturn always mounts nosuid,nodev",
					    refused_options[i]);
		if (n)
			out[n++] = ',';
		memcpy(out + n, s, (size_t)(end - s));
		n += (size_t)(end - s);
		s = end + strcspn(end, ",");
		if (!*s)
			break;
	}
	out[n] = '\0';
	free(*field);
	*field = TAKE_PTR(out);
	return 0;
}

static int set_defaults_key(struct parser *p, unsigned line, enum key_id id,
			    const char *value)
{
	struct kt_config *c = p->config;
	char **v = NULL;
	int r;

	switch (id) {
	case K_KEY_TIMEOUT:
		return parse_uint(p, line, keys[id].name, value, 1, 3600,
				  &c->key_timeout);
	case K_UNLOCK_TIMEOUT:
		return parse_uint(p, line, keys[id].name, value, 1, 600,
				  &c->unlock_timeout);
	case K_WRAPPED_MAX_MEMORY:
		return parse_uint_unit(p, line, keys[id].name, value, 1,
				       KT_WRAPPED_MAX_MEMORY_LIMIT, "MiB",
				       &c->wrapped_max_memory);
	case K_WRAPPED_MAX_ITERATIONS:
		return parse_uint_unit(p, line, keys[id].name, value, 1,
				       KT_WRAPPED_MAX_ITERATIONS_LIMIT,
				       "Argon2 iterations",
				       &c->wrapped_max_iterations);
	case K_KEY_PREFIX:
		if (strlen(value) > KT_KEY_PREFIX_MAX ||
		    !chars_ok(value, strlen(value), "_.:-"))
			return fail(p, line,
				    "bad value '%.*s' for 'key_prefix': "
				    "expected 1 to 32 of [A-Za-z0-9_.:-]",
				    Q, value);
		return set_string(&c->key_prefix, value);
	case K_SERVICES:
	case K_SKIP_SERVICES:
		r = split_words(p, line, keys[id].name, value, &v,
				check_service);
		if (r < 0)
			return r;
		if (id == K_SERVICES) {
			strv_free(c->services);
			c->services = v;
		} else {
			strv_free(c->skip_services);
			c->skip_services = v;
		}
		return 0;
	default:
		return -EINVAL;
	}
}

static int set_volume_key(struct parser *p, unsigned line, enum key_id id,
			  const char *value)
{
	struct kt_volume *v = current_volume(p);
	const char *key = keys[id].name;
	char **words = NULL;
	int r;

	switch (id) {
	case K_USER:
		if (strcmp(value, "*") == 0) {
			v->any_user = true;
			return set_string(&v->users, value);
		}
		r = split_words(p, line, key, value, &words, check_user);
		if (r < 0)
			return r;
		strv_free(words);
		return set_string(&v->users, value);
	case K_TYPE:
		if (strcmp(value, "luks2") == 0)
			v->type = KT_VOLUME_LUKS2;
		else if (strcmp(value, "ecryptfs") == 0)
			v->type = KT_VOLUME_ECRYPTFS;
		else if (strcmp(value, "fscrypt") == 0)
			v->type = KT_VOLUME_FSCRYPT;
		else
			return fail(p, line,
				    "bad value '%.*s' for 'type': expected "
				    "luks2, ecryptfs or fscrypt",
				    Q, value);
		p->type_set = true;
		return 0;
	case K_DEVICE:
	case K_SOURCE:
	case K_WRAPPED:
	case K_MOUNTPOINT:
	case K_DIRECTORY:
		r = check_path_template(p, line, key, value);
		if (r < 0)
			return r;
		return set_string(id == K_DEVICE	 ? &v->device
				  : id == K_SOURCE	 ? &v->source
				  : id == K_WRAPPED	 ? &v->wrapped
				  : id == K_DIRECTORY ? &v->directory
							 : &v->mountpoint,
				  value);
	case K_NAME:
		r = check_dm_name_template(p, line, value);
		if (r < 0)
			return r;
		return set_string(&v->dm_name, value);
	case K_FSTYPE:
		if (strlen(value) > KT_FSTYPE_MAX ||
		    !chars_ok(value, strlen(value), "_.+-"))
			return fail(p, line,
				    "bad value '%.*s' for 'fstype': expected "
				    "a file system type such as ext4",
				    Q, value);
		return set_string(&v->fstype, value);
	case K_FNEK:
		return parse_bool(p, line, key, value, &v->fnek);
	case K_REQUIRED:
		return parse_bool(p, line, key, value, &v->required);
	case K_OPTIONS:
		return parse_options(p, line, value, &v->options);
	case K_BUSY:
		if (strcmp(value, "lazy") == 0)
			v->busy = KT_BUSY_LAZY;
		else if (strcmp(value, "keep") == 0)
			v->busy = KT_BUSY_KEEP;
		else if (strcmp(value, "kill") == 0)
			v->busy = KT_BUSY_KILL;
		else
			return fail(p, line,
				    "bad value '%.*s' for 'busy': expected "
				    "lazy, keep or kill",
				    Q, value);
		return 0;
	case K_BUSY_TIMEOUT:
		return parse_uint(p, line, key, value, 0, 120,
				  &v->busy_timeout);
	case K_UUID:
		if (!kt_uuid_valid(value))
			return fail(p, line,
				    "bad value '%.*s' for 'uuid': expected a "
				    "LUKS2 UUID such as "
				    "12345678-9abc-4def-8123-456789abcdef "
				    "(cryptsetup luksUUID DEVICE)",
				    Q, value);
		return set_string(&v->uuid, value);
	default:
		return -EINVAL;
	}
}

bool kt_uuid_valid(const char *s)
{
	static const int dash[] = { 8, 13, 18, 23 };

	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0, d = 0; i < 36; i++) {
		if (d < 4 && i == dash[d]) {
			if (s[i] != '-')
				return false;
			d++;
		} else if (!strchr("0123456789abcdefABCDEF", s[i])) {
			return false;
		}
	}
	return true;
}

/* Whether a device template names one device whatever the user: no
 * escape in it. */
static bool template_per_user(const char *t)
{
	return t && strchr(t, '%');
}

/* Whether a user list names more than one user ("*" included). */
static bool several_users(const struct kt_volume *v)
{
	const char *s = v->users;
	size_t words = 0;

	if (v->any_user)
		return true;
	while (s && *s) {
		while (is_blank(*s))
			s++;
		if (!*s)
			break;
		words++;
		s += strcspn(s, " \t");
	}
	return words > 1;
}

/* ---- sections ---------------------------------------------------------- */

/* Checks the section that ends: keys against the type, required keys. */
static int end_section(struct parser *p)
{
	struct kt_volume *v;
	unsigned type_bit;
	int wrong = -1;

	if (p->section != SEC_VOLUME)
		return 0;
	v = current_volume(p);
	if (!p->type_set)
		return fail(p, p->section_line,
			    "[volume %s] has no 'type' (luks2, ecryptfs or "
			    "fscrypt)",
			    v->name);
	type_bit = 1u << v->type;
	/* Of several keys that do not fit the type, name the first one. */
	for (int id = 0; id < K_MAX; id++)
		if (p->key_line[id] && !(keys[id].types & type_bit) &&
		    (wrong < 0 || p->key_line[id] < p->key_line[wrong]))
			wrong = id;
	if (wrong >= 0)
		return fail(p, p->key_line[wrong],
			    "key '%s' is not valid for type %s",
			    keys[wrong].name, kt_volume_type_name(v->type));
	for (int id = 0; id < K_MAX; id++)
		if (!p->key_line[id] && (keys[id].required & type_bit))
			return fail(p, p->section_line,
				    "[volume %s] has no '%s' (required for "
				    "type %s)",
				    v->name, keys[id].name,
				    kt_volume_type_name(v->type));
	/* One UUID pins one device: a device path that changes with the
	 * user, for several users, is several devices. */
	if (v->uuid && template_per_user(v->device) && several_users(v))
		return fail(p, p->key_line[K_UUID],
			    "[volume %s]: 'uuid' pins one device, but "
			    "'device' (%.*s) depends on the user and the "
			    "volume applies to several users: give each "
			    "user a [volume] section of their own to pin it",
			    v->name, Q, v->device);
	if (v->type == KT_VOLUME_LUKS2 && !v->fstype)
		return set_string(&v->fstype, "ext4");
	return 0;
}

static int begin_volume(struct parser *p, unsigned line, const char *name)
{
	struct kt_config *c = p->config;
	size_t len = strlen(name);
	struct kt_volume *grown, *v;

	if (len == 0)
		return fail(p, line, "missing volume name in '[volume NAME]'");
	if (len > KT_VOLUME_NAME_MAX || name[0] == '.' || name[0] == '-' ||
	    !chars_ok(name, len, "_.-"))
		return fail(p, line,
			    "invalid volume name '%.*s': expected 1 to 32 of "
			    "[A-Za-z0-9_.-], not starting with '.' or '-'",
			    Q, name);
	for (size_t i = 0; i < c->n_volumes; i++)
		if (strcmp(c->volumes[i].name, name) == 0)
			return fail(p, line,
				    "duplicate volume name '%s' (first on "
				    "line %u)",
				    name, c->volumes[i].line);

	grown = realloc(c->volumes, (c->n_volumes + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	c->volumes = grown;
	v = &c->volumes[c->n_volumes];
	memset(v, 0, sizeof(*v));
	c->n_volumes++;
	v->line = line;
	v->fnek = true;
	v->busy = KT_BUSY_LAZY;
	v->busy_timeout = 5;
	v->name = strdup(name);
	v->file = strdup(p->file);
	if (!v->name || !v->file)
		return -ENOMEM;
	p->section = SEC_VOLUME;
	return 0;
}

static int parse_section(struct parser *p, unsigned line, char *s)
{
	char *close = strchr(s, ']');
	char *rest, *inside;
	int r;

	if (!close)
		return fail(p, line, "missing ']' in section header");
	rest = close + 1;
	while (is_blank(*rest))
		rest++;
	if (*rest && *rest != '#' && *rest != ';')
		return fail(p, line, "unexpected text after ']'");
	*close = '\0';
	inside = trim(s + 1);

	r = end_section(p);
	if (r < 0)
		return r;
	memset(p->key_line, 0, sizeof(p->key_line));
	p->type_set = false;
	p->section_line = line;

	if (strcmp(inside, "defaults") == 0) {
		if (p->defaults_line)
			return fail(p, line,
				    "duplicate section [defaults] (first on "
				    "line %u)",
				    p->defaults_line);
		p->defaults_line = line;
		p->section = SEC_DEFAULTS;
		return 0;
	}
	if (strncmp(inside, "volume", 6) == 0 &&
	    (inside[6] == '\0' || is_blank(inside[6])))
		return begin_volume(p, line, trim(inside + 6));
	return fail(p, line,
		    "unknown section '[%.*s]' (expected [defaults] or "
		    "[volume NAME])",
		    Q, inside);
}

static int parse_assignment(struct parser *p, unsigned line, char *s)
{
	char *eq = strchr(s, '=');
	char *key, *value;
	int id;

	if (!eq)
		return fail(p, line,
			    "expected 'key = value', '[section]' or a comment");
	*eq = '\0';
	key = trim(s);
	value = eq + 1;
	/* An inline comment starts with '#' after a blank. */
	for (char *c = value; *c; c++)
		if (*c == '#' && c > value && is_blank(c[-1])) {
			*c = '\0';
			break;
		}
	value = trim(value);

	if (!*key)
		return fail(p, line, "missing key before '='");
	if (!chars_ok(key, strlen(key), "_"))
		return fail(p, line, "bad key name '%.*s'", Q, key);
	if (p->section == SEC_NONE)
		return fail(p, line,
			    "key '%.*s' outside of a section ([defaults] or "
			    "[volume NAME] must come first)",
			    Q, key);

	for (id = 0; id < K_MAX; id++)
		if (strcmp(keys[id].name, key) == 0)
			break;
	if (id == K_MAX)
		return fail(p, line, "unknown key '%.*s' in %s", Q, key,
			    section_label(p));
	if (keys[id].section != p->section)
		return fail(p, line, "unknown key '%s' in %s (it belongs in %s)",
			    key, section_label(p),
			    keys[id].section == SEC_DEFAULTS ? "[defaults]"
							     : "a [volume]");
	if (p->key_line[id])
		return fail(p, line,
			    "duplicate key '%s' in %s (first on line %u)", key,
			    section_label(p), p->key_line[id]);
	p->key_line[id] = line;
	if (!*value && id != K_SKIP_SERVICES)
		return fail(p, line, "empty value for '%s'", key);

	if (p->section == SEC_DEFAULTS)
		return set_defaults_key(p, line, id, value);
	return set_volume_key(p, line, id, value);
}

static int parse_line(struct parser *p, unsigned line, char *s)
{
	size_t len = strlen(s);

	/* Tolerate CRLF line ends; every other control byte is refused. */
	if (len > 0 && s[len - 1] == '\r')
		s[--len] = '\0';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(p, line, "control character 0x%02x in line",
				    c);
	}
	s = trim(s);
	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[')
		return parse_section(p, line, s);
	return parse_assignment(p, line, s);
}

static int config_defaults(struct kt_config *c, const char *file)
{
	c->key_timeout = 60;
	c->unlock_timeout = 30;
	c->wrapped_max_memory = KT_WRAPPED_MAX_MEMORY_DEFAULT;
	c->wrapped_max_iterations = KT_WRAPPED_MAX_ITERATIONS_DEFAULT;
	c->path = strdup(file);
	c->key_prefix = strdup("keyturn:");
	c->skip_services = calloc(ELEMENTSOF(default_skip_services) + 1,
				  sizeof(char *));
	if (!c->path || !c->key_prefix || !c->skip_services)
		return -ENOMEM;
	for (size_t i = 0; i < ELEMENTSOF(default_skip_services); i++) {
		c->skip_services[i] = strdup(default_skip_services[i]);
		if (!c->skip_services[i])
			return -ENOMEM;
	}
	return 0;
}

int kt_config_parse(const char *text, size_t len, const char *file,
		    struct kt_config **ret, struct kt_diag *diag)
{
	_cleanup_config_ struct kt_config *c = NULL;
	_cleanup_free_ char *buf = NULL;
	struct parser p = { .file = file ? file : "(config)", .diag = diag };
	const char *nul;
	unsigned line = 1;
	int r;

	if (!text && len > 0)
		return -EINVAL;
	if (len > KT_CONFIG_MAX) {
		diag_set(diag, "%s: larger than 1 MiB (%zu bytes), refusing it",
			 p.file, len);
		return -EINVAL;
	}
	nul = len ? memchr(text, '\0', len) : NULL;
	if (nul) {
		for (const char *s = text; s < nul; s++)
			line += *s == '\n';
		return fail(&p, line, "NUL byte in the text");
	}

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = config_defaults(c, p.file);
	if (r < 0)
		return r;
	p.config = c;

	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	if (len)
		memcpy(buf, text, len);
	buf[len] = '\0';

	for (char *s = buf; s < buf + len; line++) {
		char *nl = strchr(s, '\n');

		if (nl)
			*nl = '\0';
		r = parse_line(&p, line, s);
		if (r < 0)
			goto fail;
		if (!nl)
			break;
		s = nl + 1;
	}
	r = end_section(&p);
	if (r < 0)
		goto fail;
	*ret = TAKE_PTR(c);
	return 0;
fail:
	if (r == -ENOMEM)
		diag_set(diag, "%s: out of memory", p.file);
	return r;
}

/* ---- loading ----------------------------------------------------------- */

static const char *file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFLNK:
		return "a symbolic link";
	}
	return "not a regular file";
}

/* Owner root and no write bit for group or other (sticky dirs aside). */
static int check_owner_mode(const char *what, const struct stat *st,
			    bool directory, struct kt_diag *diag)
{
	const char *label = directory ? "directory " : "";
	mode_t mode = st->st_mode & 07777;

	if (st->st_uid != 0) {
		diag_set(diag, "%s: %sowned by uid %u, not root, refusing it",
			 what, label, (unsigned)st->st_uid);
		return -EPERM;
	}
	if (directory && (mode & S_ISVTX))
		return 0;
	if (mode & (S_IWGRP | S_IWOTH)) {
		diag_set(diag,
			 "%s: %swritable by %s (mode %04o), refusing it", what,
			 label,
			 (mode & S_IWGRP) && (mode & S_IWOTH) ? "group and other"
			 : (mode & S_IWGRP)		    ? "group"
							    : "other",
			 (unsigned)mode);
		return -EPERM;
	}
	return 0;
}

int kt_config_load(const char *path, struct kt_config **ret,
		   struct kt_diag *diag)
{
	_cleanup_close_ int dir_fd = -1, fd = -1;
	_cleanup_free_ char *dir = NULL, *text = NULL;
	const char *base, *slash;
	struct stat st;
	size_t len = 0;
	int r;

	if (!path)
		path = KT_CONFIG_PATH;
	slash = strrchr(path, '/');
	if (slash) {
		dir = slash == path ? strdup("/")
				    : strndup(path, (size_t)(slash - path));
		base = slash + 1;
	} else {
		dir = strdup(".");
		base = path;
	}
	if (!dir)
		return -ENOMEM;
	if (!*base) {
		diag_set(diag, "%s: not a file name", path);
		return -EINVAL;
	}

	/* Check the directory, then open the file relative to the very
	 * directory that was checked. */
	dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		r = kt_negerrno();
		diag_set(diag, "%s: cannot open directory %s: %s", path, dir,
			 strerror(-r));
		return r;
	}
	if (fstat(dir_fd, &st) < 0) {
		r = kt_negerrno();
		diag_set(diag, "%s: cannot stat directory %s: %s", path, dir,
			 strerror(-r));
		return r;
	}
	r = check_owner_mode(dir, &st, true, diag);
	if (r < 0)
		return r;

	fd = openat(dir_fd, base,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = kt_negerrno();
		if (r == -ELOOP)
			diag_set(diag,
				 "%s: is a symbolic link, refusing to follow it",
				 path);
		else if (r == -ENOENT)
			diag_set(diag, "%s: does not exist", path);
		else
			diag_set(diag, "%s: cannot open: %s", path,
				 strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = kt_negerrno();
		diag_set(diag, "%s: cannot stat: %s", path, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		diag_set(diag, "%s: is %s, not a regular file, refusing it",
			 path, file_type_name(st.st_mode));
		return -EPERM;
	}
	r = check_owner_mode(path, &st, false, diag);
	if (r < 0)
		return r;

	/* Read one byte past the limit so that the parser can refuse it;
	 * st_size is only a hint for a file that may still grow. */
	text = malloc(KT_CONFIG_MAX + 1);
	if (!text)
		return -ENOMEM;
	while (len < KT_CONFIG_MAX + 1) {
		ssize_t n = read(fd, text + len, KT_CONFIG_MAX + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = kt_negerrno();
			diag_set(diag, "%s: cannot read: %s", path,
				 strerror(-r));
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return kt_config_parse(text, len, path, ret, diag);
}

/* ---- services ---------------------------------------------------------- */

static bool strv_contains(char *const *v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

bool kt_config_skips_service(const struct kt_config *c, const char *service)
{
	if (!service)
		return c->services != NULL;
	if (c->services && !strv_contains(c->services, service))
		return true;
	return strv_contains(c->skip_services, service);
}

/* ---- volumes of a user ------------------------------------------------- */

static bool volume_names_user(const struct kt_volume *v, const char *name)
{
	size_t n = strlen(name);

	if (v->any_user)
		return true;
	for (const char *s = v->users; s && *s;) {
		size_t len;

		while (is_blank(*s))
			s++;
		len = strcspn(s, " \t");
		if (len == n && memcmp(s, name, n) == 0)
			return true;
		s += len;
	}
	return false;
}

/* Copies a user-supplied string for a message, control bytes as '?'. */
static const char *printable(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s && s[i] && i + 1 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?'
								   : s[i];
	buf[i] = '\0';
	return buf;
}

static int expand_field(const struct kt_volume *tmpl, const struct kt_user *u,
			const char *key, const char *template, bool dm_name,
			char **ret, struct kt_diag *diag)
{
	_cleanup_free_ char *s = NULL;
	const char *problem;
	char shown[Q + 1];
	int r;

	if (!template)
		return 0;
	r = kt_user_expand(template, u, &s);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		problem = "has an unknown % escape";
	else if (dm_name)
		problem = dm_name_problem(s);
	else {
		problem = path_problem(s);
		if (!problem &&
		    (!strcmp(key, "mountpoint") || !strcmp(key, "directory")) &&
		    strcmp(s, "/") == 0)
			problem = "is the root directory";
	}
	if (problem) {
		diag_set(diag,
			 "%s:%u: [volume %s] for user %s: '%s' expands to "
			 "'%s', which %s",
			 tmpl->file, tmpl->line, tmpl->name, u->name, key,
			 printable(s ? s : template, shown, sizeof(shown)),
			 problem);
		return -EINVAL;
	}
	*ret = TAKE_PTR(s);
	return 0;
}

static int volume_expand(const struct kt_volume *t, const struct kt_user *u,
			 struct kt_volume *v, struct kt_diag *diag)
{
	int r;

	memset(v, 0, sizeof(*v));
	v->line = t->line;
	v->type = t->type;
	v->fnek = t->fnek;
	v->required = t->required;
	v->any_user = t->any_user;
	v->busy = t->busy;
	v->busy_timeout = t->busy_timeout;
	v->name = strdup(t->name);
	v->file = strdup(t->file);
	v->users = strdup(t->users ? t->users : "");
	if (!v->name || !v->file || !v->users)
		return -ENOMEM;
	if (t->fstype && !(v->fstype = strdup(t->fstype)))
		return -ENOMEM;
	if (t->options && !(v->options = strdup(t->options)))
		return -ENOMEM;
	if (t->uuid && !(v->uuid = strdup(t->uuid)))
		return -ENOMEM;

	r = expand_field(t, u, "device", t->device, false, &v->device, diag);
	if (r < 0)
		return r;
	r = expand_field(t, u, "name", t->dm_name, true, &v->dm_name, diag);
	if (r < 0)
		return r;
	r = expand_field(t, u, "source", t->source, false, &v->source, diag);
	if (r < 0)
		return r;
	r = expand_field(t, u, "wrapped", t->wrapped, false, &v->wrapped,
			 diag);
	if (r < 0)
		return r;
	r = expand_field(t, u, "directory", t->directory, false,
			 &v->directory, diag);
	if (r < 0)
		return r;
	return expand_field(t, u, "mountpoint", t->mountpoint, false,
			    &v->mountpoint, diag);
}

int kt_config_volumes_for(const struct kt_config *c, const struct kt_user *u,
			  struct kt_volume **ret, size_t *ret_n,
			  struct kt_diag *diag)
{
	struct kt_volume *out = NULL;
	struct kt_diag local = { "" };
	const char *problem;
	char shown[Q + 1];
	size_t n = 0;
	int r = 0;

	if (!c || !u)
		return -EINVAL;
	problem = kt_user_name_problem(u->name);
	if (problem) {
		diag_set(diag, "%s: user name '%s' %s, refusing it", c->path,
			 printable(u->name, shown, sizeof(shown)), problem);
		return -EINVAL;
	}
	if (!u->home || u->home[0] != '/') {
		diag_set(diag,
			 "%s: home of user %s is not an absolute path, "
			 "refusing it",
			 c->path, u->name);
		return -EINVAL;
	}

	for (size_t i = 0; i < c->n_volumes; i++) {
		struct kt_volume *grown;

		if (!volume_names_user(&c->volumes[i], u->name))
			continue;
		grown = realloc(out, (n + 1) * sizeof(*out));
		if (!grown) {
			r = -ENOMEM;
			break;
		}
		out = grown;
		/* Counted before it is filled, so that a failure half-way
		 * frees what was set. */
		r = volume_expand(&c->volumes[i], u, &out[n++], &local);
		if (r == -EINVAL && c->volumes[i].any_user) {
			/* "*" means every user that has the volume; one
			 * whose home or name does not expand safely (a
			 * system account with home "/") has none. */
			volume_done(&out[--n]);
			r = 0;
			continue;
		}
		if (r < 0) {
			if (diag)
				*diag = local;
			break;
		}
	}
	if (r < 0) {
		if (r == -ENOMEM)
			diag_set(diag, "%s: out of memory", c->path);
		kt_volumes_free(out, n);
		return r;
	}
	*ret = out;
	*ret_n = n;
	return 0;
}
