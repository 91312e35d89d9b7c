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
#include "config_internal.h"
#include "mount.h"

/* Volume types as bits, for the key table. */
#define T_LUKS2 (1u << KT_VOLUME_LUKS2)
#define T_ECRYPTFS (1u << KT_VOLUME_ECRYPTFS)
#define T_FSCRYPT (1u << KT_VOLUME_FSCRYPT)
#define T_MOUNTED (T_LUKS2 | T_ECRYPTFS)
#define T_ANY (T_MOUNTED | T_FSCRYPT)

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

static const char *const default_skip_services[] = { "systemd-user", "cron" };

void kt_config_diag_set(struct kt_diag *diag, const char *fmt, ...)
{
	va_list ap;

	if (!diag)
		return;
	va_start(ap, fmt);
	vsnprintf(diag->message, sizeof(diag->message), fmt, ap);
	va_end(ap);
}

/* "FILE:LINE: what", returns -EINVAL. */
int kt_config_fail(struct parser *p, unsigned line,
		   const char *fmt, ...)
{
	char what[KT_DIAG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	kt_config_diag_set(p->diag, "%s:%u: %s", p->file, line, what);
	return -EINVAL;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* Every byte of s[0..len) is alphanumeric or in extra. */
bool kt_config_chars_ok(const char *s, size_t len, const char *extra)
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

void kt_config_strv_free(char **v)
{
	if (!v)
		return;
	for (char **i = v; *i; i++)
		free(*i);
	free(v);
}

void kt_config_volume_done(struct kt_volume *v)
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
		kt_config_volume_done(&v[i]);
	free(v);
}

struct kt_config *kt_config_free(struct kt_config *c)
{
	if (!c)
		return NULL;
	free(c->path);
	free(c->key_prefix);
	kt_config_strv_free(c->services);
	kt_config_strv_free(c->skip_services);
	kt_volumes_free(c->volumes, c->n_volumes);
	free(c);
	return NULL;
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

static int set_defaults_key(struct parser *p, unsigned line, enum key_id id,
			    const char *value)
{
	struct kt_config *c = p->config;
	char **v = NULL;
	int r;

	switch (id) {
	case K_KEY_TIMEOUT:
		return kt_config_uint(p, line, keys[id].name, value, 1, 3600,
				      &c->key_timeout);
	case K_UNLOCK_TIMEOUT:
		return kt_config_uint(p, line, keys[id].name, value, 1, 600,
				      &c->unlock_timeout);
	case K_WRAPPED_MAX_MEMORY:
		return kt_config_uint_unit(p, line, keys[id].name, value, 1,
					   KT_WRAPPED_MAX_MEMORY_LIMIT, "MiB",
					   &c->wrapped_max_memory);
	case K_WRAPPED_MAX_ITERATIONS:
		return kt_config_uint_unit(p, line, keys[id].name, value, 1,
					   KT_WRAPPED_MAX_ITERATIONS_LIMIT,
					   "Argon2 iterations",
					   &c->wrapped_max_iterations);
	case K_KEY_PREFIX:
		if (strlen(value) > KT_KEY_PREFIX_MAX ||
		    !kt_config_chars_ok(value, strlen(value), "_.:-"))
			return kt_config_fail(p, line,
				"bad value '%.*s' for 'key_prefix': "
				"expected 1 to 32 of [A-Za-z0-9_.:-]",
				Q, value);
		return kt_config_set_string(&c->key_prefix, value);
	case K_SERVICES:
	case K_SKIP_SERVICES:
		r = kt_config_words(p, line, keys[id].name, value, &v,
				    kt_config_check_service);
		if (r < 0)
			return r;
		if (id == K_SERVICES) {
			kt_config_strv_free(c->services);
			c->services = v;
		} else {
			kt_config_strv_free(c->skip_services);
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
			return kt_config_set_string(&v->users, value);
		}
		r = kt_config_words(p, line, key, value, &words,
				    kt_config_check_user);
		if (r < 0)
			return r;
		kt_config_strv_free(words);
		return kt_config_set_string(&v->users, value);
	case K_TYPE:
		if (kt_volume_type_parse(value, strlen(value), &v->type) < 0)
			return kt_config_fail(p, line,
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
		r = kt_config_path_template(p, line, key, value);
		if (r < 0)
			return r;
		return kt_config_set_string(id == K_DEVICE      ? &v->device
					    : id == K_SOURCE    ? &v->source
					    : id == K_WRAPPED   ? &v->wrapped
					    : id == K_DIRECTORY ? &v->directory
					    : &v->mountpoint,
					    value);
	case K_NAME:
		r = kt_config_dm_name_template(p, line, value);
		if (r < 0)
			return r;
		return kt_config_set_string(&v->dm_name, value);
	case K_FSTYPE:
		if (strlen(value) > KT_FSTYPE_MAX ||
		    !kt_config_chars_ok(value, strlen(value), "_.+-"))
			return kt_config_fail(p, line,
				"bad value '%.*s' for 'fstype': expected "
				"a file system type such as ext4",
				Q, value);
		return kt_config_set_string(&v->fstype, value);
	case K_FNEK:
		return kt_config_bool(p, line, key, value, &v->fnek);
	case K_REQUIRED:
		return kt_config_bool(p, line, key, value, &v->required);
	case K_OPTIONS:
		return kt_config_options(p, line, value, &v->options);
	case K_BUSY:
		if (strcmp(value, "lazy") == 0)
			v->busy = KT_BUSY_LAZY;
		else if (strcmp(value, "keep") == 0)
			v->busy = KT_BUSY_KEEP;
		else if (strcmp(value, "kill") == 0)
			v->busy = KT_BUSY_KILL;
		else
			return kt_config_fail(p, line,
				"bad value '%.*s' for 'busy': expected "
				"lazy, keep or kill",
				Q, value);
		return 0;
	case K_BUSY_TIMEOUT:
		return kt_config_uint(p, line, key, value, 0, 120,
				      &v->busy_timeout);
	case K_UUID:
		if (!kt_uuid_valid(value))
			return kt_config_fail(p, line,
				"bad value '%.*s' for 'uuid': expected a "
				"LUKS2 UUID such as "
				"12345678-9abc-4def-8123-456789abcdef "
				"(cryptsetup luksUUID DEVICE)",
				Q, value);
		return kt_config_set_string(&v->uuid, value);
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
		return kt_config_fail(p, p->section_line,
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
		return kt_config_fail(p, p->key_line[wrong],
			"key '%s' is not valid for type %s",
			keys[wrong].name, kt_volume_type_name(v->type));
	for (int id = 0; id < K_MAX; id++)
		if (!p->key_line[id] && (keys[id].required & type_bit))
			return kt_config_fail(p, p->section_line,
				"[volume %s] has no '%s' (required for "
				"type %s)",
				v->name, keys[id].name,
				kt_volume_type_name(v->type));
	/* One UUID pins one device: a device path that changes with the
	 * user, for several users, is several devices. */
	if (v->uuid && template_per_user(v->device) && several_users(v))
		return kt_config_fail(p, p->key_line[K_UUID],
			"[volume %s]: 'uuid' pins one device, but "
			"'device' (%.*s) depends on the user and the "
			"volume applies to several users: give each "
			"user a [volume] section of their own to pin it",
			v->name, Q, v->device);
	if (v->type == KT_VOLUME_LUKS2 && !v->fstype)
		return kt_config_set_string(&v->fstype, "ext4");
	return 0;
}

static int begin_volume(struct parser *p, unsigned line, const char *name)
{
	struct kt_config *c = p->config;
	size_t len = strlen(name);
	struct kt_volume *grown, *v;

	if (len == 0)
		return kt_config_fail(p, line,
				      "missing volume name in '[volume NAME]'");
	if (len > KT_VOLUME_NAME_MAX || name[0] == '.' || name[0] == '-' ||
	    !kt_config_chars_ok(name, len, "_.-"))
		return kt_config_fail(p, line,
			"invalid volume name '%.*s': expected 1 to 32 of "
			"[A-Za-z0-9_.-], not starting with '.' or '-'",
			Q, name);
	for (size_t i = 0; i < c->n_volumes; i++)
		if (strcmp(c->volumes[i].name, name) == 0)
			return kt_config_fail(p, line,
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
		return kt_config_fail(p, line, "missing ']' in section header");
	rest = close + 1;
	while (is_blank(*rest))
		rest++;
	if (*rest && *rest != '#' && *rest != ';')
		return kt_config_fail(p, line, "unexpected text after ']'");
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
			return kt_config_fail(p, line,
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
	return kt_config_fail(p, line,
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
		return kt_config_fail(p, line,
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
		return kt_config_fail(p, line, "missing key before '='");
	if (!kt_config_chars_ok(key, strlen(key), "_"))
		return kt_config_fail(p, line, "bad key name '%.*s'", Q, key);
	if (p->section == SEC_NONE)
		return kt_config_fail(p, line,
			"key '%.*s' outside of a section ([defaults] or "
			"[volume NAME] must come first)",
			Q, key);

	for (id = 0; id < K_MAX; id++)
		if (strcmp(keys[id].name, key) == 0)
			break;
	if (id == K_MAX)
		return kt_config_fail(p, line, "unknown key '%.*s' in %s", Q,
				      key,
				      section_label(p));
	if (keys[id].section != p->section)
		return kt_config_fail(p, line,
			"unknown key '%s' in %s (it belongs in %s)",
			key, section_label(p),
			keys[id].section == SEC_DEFAULTS ? "[defaults]"
			: "a [volume]");
	if (p->key_line[id])
		return kt_config_fail(p, line,
			"duplicate key '%s' in %s (first on line %u)", key,
			section_label(p), p->key_line[id]);
	p->key_line[id] = line;
	if (!*value && id != K_SKIP_SERVICES)
		return kt_config_fail(p, line, "empty value for '%s'", key);

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
			return kt_config_fail(p, line,
				"control character 0x%02x in line",
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
		kt_config_diag_set(diag,
				   "%s: larger than 1 MiB (%zu bytes), "
				   "refusing it",
				   p.file, len);
		return -EINVAL;
	}
	nul = len ? memchr(text, '\0', len) : NULL;
	if (nul) {
		for (const char *s = text; s < nul; s++)
			line += *s == '\n';
		return kt_config_fail(&p, line, "NUL byte in the text");
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
		kt_config_diag_set(diag, "%s: out of memory", p.file);
	return r;
}
