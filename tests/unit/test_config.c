/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* keyturn.conf: parsing, diagnostics, expansion, loading, services. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define FILE_NAME "t.conf"

static struct kt_config *parse_ok(const char *text)
{
	struct kt_config *c = NULL;
	struct kt_diag diag = { "" };
	int r = kt_config_parse(text, strlen(text), FILE_NAME, &c, &diag);

	if (r != 0)
		print_error("unexpected error %d: %s\n", r, diag.message);
	assert_int_equal(r, 0);
	assert_non_null(c);
	return c;
}

static const struct kt_volume *find_volume(const struct kt_config *c,
					   const char *name)
{
	for (size_t i = 0; i < c->n_volumes; i++)
		if (strcmp(c->volumes[i].name, name) == 0)
			return &c->volumes[i];
	fail_msg("no volume %s", name);
	return NULL;
}

/* ---- a config with every key ------------------------------------------- */

static const char full_config[] =
	"# keyturn test config\n"                                 /* 1 */
	"; another comment style\n"                               /* 2 */
	"\n"                                                      /* 3 */
	"[defaults]\n"                                            /* 4 */
	"key_timeout = 120\n"                                     /* 5 */
	"unlock_timeout=45   # inline comment\n"                  /* 6 */
	"\tkey_prefix = kt.test:\n"                               /* 7 */
	"services = login sshd  gdm-password\n"                   /* 8 */
	"skip_services = cron\n"                                  /* 9 */
	"\n"                                                      /* 10 */
	"[volume home]\n"                                         /* 11 */
	"user = *\n"                                              /* 12 */
	"type = luks2\n"                                          /* 13 */
	"device = /dev/disk/by-partlabel/home-%u\n"               /* 14 */
	"name = home-%u\n"                                        /* 15 */
	"fstype = xfs\n"                                          /* 16 */
	"mountpoint = %h\n"                                       /* 17 */
	"options = nosuid, nodev,noatime , exec\n"                /* 18 */
	"required = yes\n"                                        /* 19 */
	"busy = kill\n"                                           /* 20 */
	"busy_timeout = 0\n"                                      /* 21 */
	"\n"                                                      /* 22 */
	"[ volume   private ]\n"                                  /* 23 */
	"user = alice  bob\n"                                     /* 24 */
	"type = ecryptfs\n"                                       /* 25 */
	"source = %h/.Private\n"                                  /* 26 */
	"mountpoint = %h/Private#not-a-comment\n"                 /* 27 */
	"wrapped = %h/.ecryptfs/keyturn-wrapped\n"                /* 28 */
	"fnek = off\n"                                            /* 29 */
	"busy = keep\n"                                           /* 30 */
	"\r\n"                                                    /* 31 */
	"[volume data.2]\n"                                       /* 32 */
	"user = carol\n"                                          /* 33 */
	"type = luks2\n"                                          /* 34 */
	"device = /srv/images/%U.img\n"                           /* 35 */
	"name = data_%U\n"                                        /* 36 */
	"mountpoint = /srv/data/%u\n";                            /* 37, no NL */

static void test_full_config(void **state)
{
	_cleanup_config_ struct kt_config *c = parse_ok(full_config);
	const struct kt_volume *v;

	assert_string_equal(c->path, FILE_NAME);
	assert_int_equal(c->key_timeout, 120);
	assert_int_equal(c->unlock_timeout, 45);
	assert_string_equal(c->key_prefix, "kt.test:");
	assert_non_null(c->services);
	assert_string_equal(c->services[0], "login");
	assert_string_equal(c->services[1], "sshd");
	assert_string_equal(c->services[2], "gdm-password");
	assert_null(c->services[3]);
	assert_string_equal(c->skip_services[0], "cron");
	assert_null(c->skip_services[1]);
	assert_int_equal(c->n_volumes, 3);

	v = find_volume(c, "home");
	assert_string_equal(v->file, FILE_NAME);
	assert_int_equal(v->line, 11);
	assert_true(v->any_user);
	assert_string_equal(v->users, "*");
	assert_int_equal(v->type, KT_VOLUME_LUKS2);
	assert_string_equal(v->device, "/dev/disk/by-partlabel/home-%u");
	assert_string_equal(v->dm_name, "home-%u");
	assert_string_equal(v->fstype, "xfs");
	assert_string_equal(v->mountpoint, "%h");
	assert_string_equal(v->options, "nosuid,nodev,noatime,exec");
	assert_true(v->required);
	assert_int_equal(v->busy, KT_BUSY_KILL);
	assert_int_equal(v->busy_timeout, 0);
	assert_null(v->source);
	assert_null(v->wrapped);

	v = find_volume(c, "private");
	assert_int_equal(v->line, 23);
	assert_false(v->any_user);
	assert_string_equal(v->users, "alice  bob");
	assert_int_equal(v->type, KT_VOLUME_ECRYPTFS);
	assert_string_equal(v->source, "%h/.Private");
	/* '#' not after a blank is part of the value */
	assert_string_equal(v->mountpoint, "%h/Private#not-a-comment");
	assert_string_equal(v->wrapped, "%h/.ecryptfs/keyturn-wrapped");
	assert_false(v->fnek);
	assert_false(v->required);
	assert_int_equal(v->busy, KT_BUSY_KEEP);
	assert_int_equal(v->busy_timeout, 5);
	assert_null(v->device);
	assert_null(v->dm_name);
	assert_null(v->fstype);
	assert_null(v->options);

	v = find_volume(c, "data.2");
	assert_int_equal(v->line, 32);
	assert_string_equal(v->fstype, "ext4"); /* default for luks2 */
	assert_string_equal(v->dm_name, "data_%U");
	assert_int_equal(v->busy, KT_BUSY_LAZY);
	assert_false(v->required);

	assert_string_equal(kt_volume_type_name(KT_VOLUME_LUKS2), "luks2");
	assert_string_equal(kt_volume_type_name(KT_VOLUME_ECRYPTFS),
			    "ecryptfs");
	assert_string_equal(kt_busy_policy_name(KT_BUSY_LAZY), "lazy");
	assert_string_equal(kt_busy_policy_name(KT_BUSY_KEEP), "keep");
	assert_string_equal(kt_busy_policy_name(KT_BUSY_KILL), "kill");
}

static void test_defaults(void **state)
{
	_cleanup_config_ struct kt_config *c = parse_ok("");

	assert_int_equal(c->key_timeout, 60);
	assert_int_equal(c->unlock_timeout, 30);
	assert_string_equal(c->key_prefix, "keyturn:");
	assert_null(c->services);
	assert_string_equal(c->skip_services[0], "systemd-user");
	assert_string_equal(c->skip_services[1], "cron");
	assert_null(c->skip_services[2]);
	assert_int_equal(c->n_volumes, 0);
}

static void test_booleans(void **state)
{
	static const struct {
		const char *text;
		bool value;
	} cases[] = {
		{ "yes", true }, { "true", true },  { "on", true },
		{ "1", true },	 { "no", false },   { "false", false },
		{ "off", false }, { "0", false },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_config_ struct kt_config *c = NULL;
		char text[256];

		snprintf(text, sizeof(text),
			 "[volume v]\nuser = a\ntype = luks2\ndevice = /d\n"
			 "name = n\nmountpoint = /m\nrequired = %s\n",
			 cases[i].text);
		c = parse_ok(text);
		assert_int_equal(c->volumes[0].required, cases[i].value);
	}
}

/* The example installed to /etc/security must parse. */
static void test_example_config(void **state)
{
	_cleanup_config_ struct kt_config *c = NULL;
	_cleanup_free_ char *text = malloc(65536);
	struct kt_diag diag = { "" };
	FILE *f = fopen(KT_BUILDDIR "/conf/keyturn.conf", "re");
	size_t len;
	int r;

	assert_non_null(f);
	assert_non_null(text);
	len = fread(text, 1, 65536, f);
	fclose(f);
	r = kt_config_parse(text, len, "keyturn.conf", &c, &diag);
	if (r < 0)
		print_error("%s\n", diag.message);
	assert_int_equal(r, 0);
	assert_true(c->n_volumes >= 1);
}

/* ---- every error: exact FILE:LINE prefix and what is wrong -------------- */

#define LUKS "[volume v]\nuser = alice\ntype = luks2\n"
#define LUKS_FULL LUKS "device = /dev/x\nname = x\nmountpoint = /m\n"
#define ECR "[volume e]\nuser = alice\ntype = ecryptfs\n"
#define ECR_FULL ECR "source = /s\nwrapped = /w\nmountpoint = /m\n"
#define FSC "[volume f]\nuser = alice\ntype = fscrypt\n"
#define FSC_FULL FSC "directory = /d\nwrapped = /w\n"

static const struct error_case {
	const char *text;
	unsigned line;
	const char *what;
} error_cases[] = {
	/* structure */
	{ "key_timeout = 5\n", 1, "key 'key_timeout' outside of a section" },
	{ "# c\n\nuser = x\n", 3, "key 'user' outside of a section" },
	{ "[bar]\n", 1, "unknown section '[bar]'" },
	{ "[defaults\n", 1, "missing ']' in section header" },
	{ "[defaults] x\n", 1, "unexpected text after ']'" },
	{ "[volume]\n", 1, "missing volume name" },
	{ "[volume .x]\n", 1, "invalid volume name '.x'" },
	{ "[volume -x]\n", 1, "invalid volume name '-x'" },
	{ "[volume a/b]\n", 1, "invalid volume name 'a/b'" },
	{ "[volume aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n", 1,
	  "invalid volume name" },
	{ "[defaults]\n[defaults]\n", 2,
	  "duplicate section [defaults] (first on line 1)" },
	{ "[defaults]\ngarbage\n", 2, "expected 'key = value'" },
	{ "[defaults]\n= 5\n", 2, "missing key before '='" },
	{ "[defaults]\nkey timeout = 5\n", 2, "bad key name 'key timeout'" },
	{ "[defaults]\nfoo = 1\n", 2, "unknown key 'foo' in [defaults]" },
	{ "[defaults]\ndevice = /x\n", 2, "unknown key 'device' in [defaults]" },
	{ LUKS "key_timeout = 5\n", 4, "unknown key 'key_timeout' in [volume]" },
	{ LUKS "colour = red\n", 4, "unknown key 'colour' in [volume]" },
	{ "[defaults]\nkey_timeout = 5\n\nkey_timeout = 6\n", 4,
	  "duplicate key 'key_timeout' in [defaults] (first on line 2)" },
	{ LUKS "type = luks2\n", 4, "duplicate key 'type'" },
	{ LUKS_FULL LUKS_FULL, 7, "duplicate volume name 'v' (first on line 1)" },
	{ "[defaults]\nkey_timeout =\n", 2, "empty value for 'key_timeout'" },
	{ "[defaults]\nkey_timeout = # nothing\n", 2, "empty value" },
	{ "[defaults]\nkey_\001timeout = 5\n", 2, "control character 0x01" },
	{ "[defaults]\nkey_timeout = 5\x7f\n", 2, "control character 0x7f" },
	{ "[defaults]\r\nkey_timeout = 5\r\r\n", 2, "control character 0x0d" },
	/* required keys, reported at the section */
	{ "[volume v]\nuser = a\n", 1, "[volume v] has no 'type'" },
	{ "[volume v]\ntype = luks2\nname = n\ndevice = /d\nmountpoint = /m\n",
	  1, "[volume v] has no 'user'" },
	{ "\n" LUKS "name = x\nmountpoint = /m\n", 2,
	  "[volume v] has no 'device' (required for type luks2)" },
	{ LUKS "device = /d\nmountpoint = /m\n", 1, "has no 'name'" },
	{ LUKS "device = /d\nname = n\n", 1, "has no 'mountpoint'" },
	{ ECR "wrapped = /w\nmountpoint = /m\n[defaults]\n", 1,
	  "[volume e] has no 'source' (required for type ecryptfs)" },
	{ ECR "source = /s\nmountpoint = /m\n", 1, "has no 'wrapped'" },
	/* keys of the other type */
	{ LUKS_FULL "source = /s\n", 7, "key 'source' is not valid for type luks2" },
	{ LUKS_FULL "fnek = yes\n", 7, "key 'fnek' is not valid for type luks2" },
	{ ECR_FULL "fstype = ext4\n", 7,
	  "key 'fstype' is not valid for type ecryptfs" },
	{ "[volume e]\ndevice = /d\nuser = a\ntype = ecryptfs\n", 2,
	  "key 'device' is not valid for type ecryptfs" },
	{ "[volume e]\nuser = a\nname = n\ntype = ecryptfs\ndevice = /d\n", 3,
	  "key 'name' is not valid for type ecryptfs" },
	/* integers */
	{ "[defaults]\nkey_timeout = 0\n", 2,
	  "bad value '0' for 'key_timeout': expected a number of seconds from "
	  "1 to 3600" },
	{ "[defaults]\nkey_timeout = 3601\n", 2, "bad value '3601'" },
	{ "[defaults]\nkey_timeout = 10s\n", 2, "bad value '10s'" },
	{ "[defaults]\nkey_timeout = -1\n", 2, "bad value '-1'" },
	{ "[defaults]\nkey_timeout = +5\n", 2, "bad value '+5'" },
	{ "[defaults]\nkey_timeout = 0x10\n", 2, "bad value '0x10'" },
	{ "[defaults]\nkey_timeout = 99999999999999999999999\n", 2,
	  "bad value '99999999999999999999999'" },
	{ "[defaults]\nunlock_timeout = 601\n", 2,
	  "for 'unlock_timeout': expected a number of seconds from 1 to 600" },
	{ "[defaults]\nunlock_timeout = 0\n", 2, "bad value '0'" },
	{ LUKS_FULL "busy_timeout = 121\n", 7,
	  "for 'busy_timeout': expected a number of seconds from 0 to 120" },
	{ LUKS_FULL "busy_timeout = 1 2\n", 7, "bad value '1 2'" },
	/* enumerations and booleans */
	{ LUKS_FULL "busy = maybe\n", 7,
	  "bad value 'maybe' for 'busy': expected lazy, keep or kill" },
	{ "[volume v]\ntype = luks1\n", 2,
	  "bad value 'luks1' for 'type': expected luks2, ecryptfs or "
	  "fscrypt" },
	/* fscrypt: a directory and its wrapped key, no mount */
	{ FSC "wrapped = /w\n", 1,
	  "[volume f] has no 'directory' (required for type fscrypt)" },
	{ FSC "directory = /d\n", 1,
	  "[volume f] has no 'wrapped' (required for type fscrypt)" },
	{ FSC_FULL "mountpoint = /m\n", 6,
	  "key 'mountpoint' is not valid for type fscrypt" },
	{ FSC_FULL "options = noatime\n", 6,
	  "key 'options' is not valid for type fscrypt" },
	{ FSC_FULL "source = /s\n", 6,
	  "key 'source' is not valid for type fscrypt" },
	{ ECR_FULL "directory = /d\n", 7,
	  "key 'directory' is not valid for type ecryptfs" },
	{ FSC "directory = Secret\nwrapped = /w\n", 4,
	  "'directory'" },
	{ LUKS_FULL "required = 2\n", 7, "bad value '2' for 'required'" },
	{ ECR_FULL "fnek = Yes\n", 7, "bad value 'Yes' for 'fnek'" },
	/* strings */
	{ "[defaults]\nkey_prefix = a b\n", 2,
	  "bad value 'a b' for 'key_prefix'" },
	{ "[defaults]\nkey_prefix = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 2,
	  "for 'key_prefix': expected 1 to 32" },
	{ "[defaults]\nservices = login ss/hd\n", 2,
	  "invalid PAM service name 'ss/hd' in 'services'" },
	{ "[defaults]\nskip_services = .hidden\n", 2,
	  "invalid PAM service name '.hidden' in 'skip_services'" },
	{ LUKS_FULL "fstype = ext4;x\n", 7, "bad value 'ext4;x' for 'fstype'" },
	/* mount options */
	{ LUKS_FULL "options = noatime,suid\n", 7,
	  "mount option 'suid' is refused" },
	{ LUKS_FULL "options = dev\n", 7, "mount option 'dev' is refused" },
	{ LUKS_FULL "options = defaults\n", 7,
	  "mount option 'defaults' is refused" },
	{ LUKS_FULL "options = bind\n", 7, "mount option 'bind' is refused" },
	{ LUKS_FULL "options = nosuid,,nodev\n", 7,
	  "empty mount option in 'options'" },
	{ LUKS_FULL "options = nosuid,\n", 7, "empty mount option" },
	{ LUKS_FULL "options = a;b\n", 7, "bad mount option 'a;b'" },
	{ LUKS_FULL "options = a b\n", 7, "bad mount option 'a b'" },
	{ LUKS_FULL "options = uid=%U\n", 7, "bad mount option 'uid=%U'" },
	/* paths and templates */
	{ LUKS "device = dev/x\n", 4,
	  "bad value 'dev/x' for 'device': is not an absolute path" },
	{ LUKS "device = u%u\n", 4, "is not an absolute path" },
	{ LUKS "mountpoint = /a/../b\n", 4,
	  "bad value '/a/../b' for 'mountpoint': has a '.' or '..' component" },
	{ LUKS "mountpoint = %h/.\n", 4, "has a '.' or '..' component" },
	{ LUKS "mountpoint = /%u/..\n", 4, "'..' component" },
	{ ECR "source = %h/%x\n", 4,
	  "bad value '%h/%x' for 'source': unknown % escape" },
	{ ECR "wrapped = %h/w%\n", 4, "for 'wrapped': unknown % escape" },
	{ LUKS "name = a/b\n", 4,
	  "bad value 'a/b' for 'name': a device-mapper name may hold only" },
	{ LUKS "name = home-%h\n", 4,
	  "only %u and %U expand in a device-mapper name" },
	{ LUKS "name = %%x\n", 4, "only %u and %U expand" },
	{ LUKS "name = ..\n", 4, "must not be '.', '..' or start with '-'" },
	{ LUKS "name = -x\n", 4, "must not be '.', '..' or start with '-'" },
	{ LUKS "name = "
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	       "\n",
	  4, "must be 1 to 127 bytes long" },
	/* user names */
	{ "[volume v]\nuser = alice a/b\n", 2,
	  "invalid user name 'a/b' in 'user': contains '/'" },
	{ "[volume v]\nuser = ..\n", 2,
	  "invalid user name '..' in 'user': is a path component" },
	{ "[volume v]\nuser = .alice\n", 2, "starts with '.'" },
	{ "[volume v]\nuser = -alice\n", 2, "starts with '-'" },
	{ "[volume v]\nuser = al:ice\n", 2,
	  "invalid user name 'al:ice' in 'user': contains a character outside" },
	{ "[volume v]\nuser = 'a b'\n", 2, "invalid user name ''a'" },
	{ "[volume v]\nuser = al\033ice\n", 2, "control character 0x1b" },
	{ "[volume v]\nuser = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 2,
	  "is longer than 32 bytes" },
	{ "[volume v]\nuser = alice *\n", 2, "'*' must be the only entry" },
	{ "[volume v]\nuser =\n", 2, "empty value for 'user'" },
};

static void test_errors(void **state)
{
	for (size_t i = 0; i < ELEMENTSOF(error_cases); i++) {
		const struct error_case *e = &error_cases[i];
		struct kt_config *c = (struct kt_config *)0x1;
		struct kt_diag diag = { "" };
		char prefix[64];
		int r;

		r = kt_config_parse(e->text, strlen(e->text), FILE_NAME, &c,
				    &diag);
		snprintf(prefix, sizeof(prefix), FILE_NAME ":%u: ", e->line);
		if (r != -EINVAL ||
		    strncmp(diag.message, prefix, strlen(prefix)) != 0 ||
		    !strstr(diag.message, e->what))
			fail_msg("case %zu: r=%d message '%s', want '%s' and "
				 "'%s'",
				 i, r, diag.message, prefix, e->what);
		/* ret_ untouched on failure */
		assert_ptr_equal(c, (struct kt_config *)0x1);
	}
}

static void test_nul_and_size(void **state)
{
	static const char text[] = "[defaults]\nkey_timeout = 5\0\n";
	struct kt_config *c = NULL;
	struct kt_diag diag = { "" };
	_cleanup_free_ char *big = NULL;
	size_t big_len = 1024 * 1024 + 1;

	assert_int_equal(kt_config_parse(text, sizeof(text) - 1, FILE_NAME, &c,
					 &diag),
			 -EINVAL);
	assert_string_equal(diag.message, FILE_NAME ":2: NUL byte in the text");
	assert_null(c);

	big = malloc(big_len);
	assert_non_null(big);
	memset(big, '\n', big_len);
	assert_int_equal(kt_config_parse(big, big_len, FILE_NAME, &c, &diag),
			 -EINVAL);
	assert_non_null(strstr(diag.message, FILE_NAME ": larger than 1 MiB"));
	assert_null(c);

	/* exactly 1 MiB of blank lines is fine */
	assert_int_equal(kt_config_parse(big, big_len - 1, FILE_NAME, &c,
					 &diag),
			 0);
	c = kt_config_free(c);
	assert_null(c);
}

/* ---- services ---------------------------------------------------------- */

static void test_services(void **state)
{
	_cleanup_config_ struct kt_config *def = parse_ok("");
	_cleanup_config_ struct kt_config *allow =
		parse_ok("[defaults]\nservices = login sshd cron\n");
	_cleanup_config_ struct kt_config *deny =
		parse_ok("[defaults]\nskip_services = sshd\n");
	_cleanup_config_ struct kt_config *none =
		parse_ok("[defaults]\nskip_services =\n");

	/* default: all but systemd-user and cron */
	assert_false(kt_config_skips_service(def, "login"));
	assert_false(kt_config_skips_service(def, "sshd"));
	assert_true(kt_config_skips_service(def, "systemd-user"));
	assert_true(kt_config_skips_service(def, "cron"));
	assert_false(kt_config_skips_service(def, "cronx"));
	assert_false(kt_config_skips_service(def, NULL));

	/* allow list, and the default deny list still applies */
	assert_false(kt_config_skips_service(allow, "login"));
	assert_false(kt_config_skips_service(allow, "sshd"));
	assert_true(kt_config_skips_service(allow, "su"));
	assert_true(kt_config_skips_service(allow, "cron"));
	assert_true(kt_config_skips_service(allow, NULL));

	/* setting the deny list replaces the default */
	assert_true(kt_config_skips_service(deny, "sshd"));
	assert_false(kt_config_skips_service(deny, "cron"));
	assert_false(kt_config_skips_service(deny, "systemd-user"));

	/* an empty deny list skips nothing */
	assert_non_null(none->skip_services);
	assert_null(none->skip_services[0]);
	assert_false(kt_config_skips_service(none, "cron"));
	assert_false(kt_config_skips_service(none, "systemd-user"));
}

/* ---- expansion for a user ---------------------------------------------- */

static const char expand_config[] =
	"[volume home]\n"                                     /* 1 */
	"user = *\n"                                          /* 2 */
	"type = luks2\n"                                      /* 3 */
	"device = /dev/disk/by-partlabel/home-%u\n"           /* 4 */
	"name = home-%u-%U\n"                                 /* 5 */
	"mountpoint = %h\n"                                   /* 6 */
	"options = noatime\n"                                 /* 7 */
	"\n"                                                  /* 8 */
	"[volume private]\n"                                  /* 9 */
	"user = bob alice\n"                                  /* 10 */
	"type = ecryptfs\n"                                   /* 11 */
	"source = %h/.Private\n"                              /* 12 */
	"mountpoint = %h/Private\n"                           /* 13 */
	"wrapped = %h/.ecryptfs/100%%-%u\n"                   /* 14 */
	"required = yes\n"                                    /* 15 */
	"\n"                                                  /* 16 */
	"[volume bobs]\n"                                     /* 17 */
	"user = bob\n"                                        /* 18 */
	"type = luks2\n"                                      /* 19 */
	"device = /srv/bob.img\n"                             /* 20 */
	"name = bob\n"                                        /* 21 */
	"mountpoint = /srv/bob\n"                             /* 22 */
	"\n"                                                  /* 23 */
	"[volume secret]\n"                                   /* 24 */
	"user = alice\n"                                      /* 25 */
	"type = fscrypt\n"                                    /* 26 */
	"directory = %h/Secret\n"                             /* 27 */
	"wrapped = %h/.keyturn/secret\n"                      /* 28 */
	"busy = kill\n";                                      /* 29 */

static void test_expand(void **state)
{
	_cleanup_config_ struct kt_config *c = parse_ok(expand_config);
	struct kt_user alice = { "alice", 1000, 1000, "/home/alice" };
	struct kt_user weird_home = { "dave", 1003, 1003, "//home//dave/" };
	struct kt_diag diag = { "" };
	struct kt_volume *v = NULL;
	size_t n = 0;

	assert_int_equal(kt_config_volumes_for(c, &alice, &v, &n, &diag), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "home");
	assert_string_equal(v[0].file, FILE_NAME);
	assert_int_equal(v[0].line, 1);
	assert_true(v[0].any_user);
	assert_int_equal(v[0].type, KT_VOLUME_LUKS2);
	assert_string_equal(v[0].device, "/dev/disk/by-partlabel/home-alice");
	assert_string_equal(v[0].dm_name, "home-alice-1000");
	assert_string_equal(v[0].mountpoint, "/home/alice");
	assert_string_equal(v[0].fstype, "ext4");
	assert_string_equal(v[0].options, "noatime");
	assert_null(v[0].source);

	assert_string_equal(v[1].name, "private");
	assert_int_equal(v[1].line, 9);
	assert_false(v[1].any_user);
	assert_int_equal(v[1].type, KT_VOLUME_ECRYPTFS);
	assert_string_equal(v[1].source, "/home/alice/.Private");
	assert_string_equal(v[1].mountpoint, "/home/alice/Private");
	assert_string_equal(v[1].wrapped,
			    "/home/alice/.ecryptfs/100%-alice");
	assert_true(v[1].fnek);
	assert_true(v[1].required);
	assert_null(v[1].device);
	assert_null(v[1].directory);

	assert_string_equal(v[2].name, "secret");
	assert_int_equal(v[2].type, KT_VOLUME_FSCRYPT);
	assert_string_equal(v[2].directory, "/home/alice/Secret");
	assert_string_equal(v[2].wrapped, "/home/alice/.keyturn/secret");
	assert_null(v[2].mountpoint);
	assert_int_equal(v[2].busy, KT_BUSY_KILL);
	kt_volumes_free(v, n);

	/* carol is named nowhere: only the "*" volume */
	{
		struct kt_user carol = { "carol", 1002, 1002, "/home/carol" };

		assert_int_equal(
			kt_config_volumes_for(c, &carol, &v, &n, &diag), 0);
		assert_int_equal(n, 1);
		assert_string_equal(v[0].name, "home");
		kt_volumes_free(v, n);
	}

	/* repeated and trailing slashes of a home collapse */
	assert_int_equal(kt_config_volumes_for(c, &weird_home, &v, &n, &diag),
		         0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].mountpoint, "/home/dave");
	kt_volumes_free(v, n);

	/* a config without volumes */
	{
		_cleanup_config_ struct kt_config *empty = parse_ok("");

		v = (struct kt_volume *)0x1;
		assert_int_equal(
			kt_config_volumes_for(empty, &alice, &v, &n, &diag), 0);
		assert_int_equal(n, 0);
		kt_volumes_free(v, n);
	}
}

static const struct expand_error {
	struct kt_user user;
	const char *what;
} expand_errors[] = {
	{ { "root", 0, 0, "/" },
	  FILE_NAME ":1: [volume home] for user root: 'mountpoint' expands to "
		    "'/', which is the root directory" },
	{ { "eve", 1005, 1005, "/home/../etc" },
	  FILE_NAME ":1: [volume home] for user eve: 'mountpoint' expands to "
		    "'/home/../etc', which has a '.' or '..' component" },
	{ { "bob", 1001, 1001, "/home/./bob" },
	  FILE_NAME ":1: [volume home] for user bob: 'mountpoint'" },
	{ { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 4000000000u, 1,
	    "/home/long" },
	  FILE_NAME ":30: [volume long] for user aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: "
		    "'name' expands to" },
	{ { "a/b", 1, 1, "/home/x" }, FILE_NAME ": user name 'a/b' contains '/'" },
	{ { "..", 1, 1, "/home/x" },
	  FILE_NAME ": user name '..' is a path component" },
	{ { ".", 1, 1, "/home/x" },
	  FILE_NAME ": user name '.' is a path component" },
	{ { "a b", 1, 1, "/home/x" },
	  FILE_NAME ": user name 'a b' contains a blank" },
	{ { "a\nb", 1, 1, "/home/x" },
	  FILE_NAME ": user name 'a?b' contains a control character" },
	{ { "a\tb", 1, 1, "/home/x" },
	  FILE_NAME ": user name 'a?b' contains a blank" },
	{ { "", 1, 1, "/home/x" }, FILE_NAME ": user name '' is empty" },
	{ { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1, 1, "/home/x" },
	  "is longer than 32 bytes" },
	{ { "alice", 1, 1, "home/alice" },
	  FILE_NAME ": home of user alice is not an absolute path" },
};

static void test_expand_errors(void **state)
{
	/* "long" is 97 bytes + %u (32) + '-' + %U (10): over 127 */
	static const char text[] =
		"[volume home]\nuser = root eve bob\ntype = luks2\n"
		"device = /d/%u\nname = home-%u\nmountpoint = %h\n"
		"\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n" /* 7..29 */
		"[volume long]\nuser = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
		"type = luks2\ndevice = /d/%u\n"
		"name = "
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-%u-%U\n"
		"mountpoint = /srv/%u\n";
	_cleanup_config_ struct kt_config *c = parse_ok(text);

	assert_int_equal(c->volumes[1].line, 30);
	for (size_t i = 0; i < ELEMENTSOF(expand_errors); i++) {
		const struct expand_error *e = &expand_errors[i];
		struct kt_volume *v = (struct kt_volume *)0x1;
		size_t n = 42;
		struct kt_diag diag = { "" };
		int r = kt_config_volumes_for(c, &e->user, &v, &n, &diag);

		if (r != -EINVAL || !strstr(diag.message, e->what))
			fail_msg("case %zu: r=%d message '%s', want '%s'", i, r,
				 diag.message, e->what);
		assert_ptr_equal(v, (struct kt_volume *)0x1);
		assert_int_equal(n, 42);
	}
}

/*
 * "user = *" means every user that has the volume: an account for which it
 * does not expand safely (home "/", as systemd-network has) has none, and
 * its login must not fail because of it. Named users still get the error.
 */
static void test_expand_any_user_skips(void **state)
{
	static const char text[] =
		"[volume home]\nuser = *\ntype = luks2\ndevice = /d/%u\n"
		"name = home-%u\nmountpoint = %h\n"
		"[volume srv]\nuser = *\ntype = luks2\ndevice = /d/s-%u\n"
		"name = srv-%u\nmountpoint = /srv/%u\n"
		"[volume named]\nuser = nobody2\ntype = ecryptfs\n"
		"source = %h/.Private\nwrapped = %h/w\nmountpoint = %h/P\n";
	_cleanup_config_ struct kt_config *c = parse_ok(text);
	struct kt_user net = { "systemd-network", 998, 998, "/" };
	struct kt_user nobody2 = { "nobody2", 999, 999, "/home/../x" };
	struct kt_diag diag = { "" };
	struct kt_volume *v = NULL;
	size_t n = 0;

	assert_int_equal(kt_config_volumes_for(c, &net, &v, &n, &diag), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "srv");
	assert_string_equal(v[0].mountpoint, "/srv/systemd-network");
	assert_string_equal(diag.message, "");
	kt_volumes_free(v, n);

	v = (struct kt_volume *)0x1;
	n = 42;
	assert_int_equal(kt_config_volumes_for(c, &nobody2, &v, &n, &diag),
			 -EINVAL);
	assert_string_equal(diag.message,
			    FILE_NAME ":13: [volume named] for user nobody2: "
				      "'source' expands to '/home/../x/.Private', "
				      "which has a '.' or '..' component");
	assert_ptr_equal(v, (struct kt_volume *)0x1);
	assert_int_equal(n, 42);
}

/* ---- kt_config_load --------------------------------------------------- */

static const char small_config[] =
	"[defaults]\nkey_timeout = 7\n[volume v]\nuser = alice\n"
	"type = luks2\ndevice = /d\nname = n\nmountpoint = /m\n";

struct load_dir {
	char dir[64];
	char path[128];
};

static int load_setup(void **state)
{
	struct load_dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->dir, sizeof(d->dir), "/tmp/keyturn-test-config.XXXXXX");
	if (!mkdtemp(d->dir)) {
		free(d);
		return -1;
	}
	snprintf(d->path, sizeof(d->path), "%s/keyturn.conf", d->dir);
	*state = d;
	return 0;
}

static int load_teardown(void **state)
{
	struct load_dir *d = *state;
	char cmd[256];

	/* The directory holds only what the tests made in it. */
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", d->dir);
	if (system(cmd) != 0)
		return -1;
	free(d);
	return 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

static void need_root(void)
{
	if (geteuid() != 0) {
		print_message("SKIP: needs root to create root-owned files\n");
		skip();
	}
}

static void expect_load(const char *path, int want, const char *what)
{
	struct kt_config *c = (struct kt_config *)0x1;
	struct kt_diag diag = { "" };
	int r;

	alarm(10); /* a FIFO must not hang the loader */
	r = kt_config_load(path, &c, &diag);
	alarm(0);
	if (r != want || !strstr(diag.message, what))
		fail_msg("%s: r=%d (want %d) message '%s', want '%s'", path, r,
			 want, diag.message, what);
	assert_ptr_equal(c, (struct kt_config *)0x1);
}

static void test_load_good(void **state)
{
	struct load_dir *d = *state;
	_cleanup_config_ struct kt_config *c = NULL;
	struct kt_diag diag = { "" };

	need_root();
	write_file(d->path, small_config, 0644);
	assert_int_equal(kt_config_load(d->path, &c, &diag), 0);
	assert_string_equal(c->path, d->path);
	assert_int_equal(c->key_timeout, 7);
	assert_int_equal(c->n_volumes, 1);
	assert_string_equal(c->volumes[0].file, d->path);
}

static void test_load_refusals(void **state)
{
	struct load_dir *d = *state;
	char msg[256], link[160], sub[160], subpath[200];

	need_root();

	expect_load(d->path, -ENOENT, "does not exist");

	write_file(d->path, small_config, 0644);
	assert_int_equal(chown(d->path, 1000, 1000), 0);
	snprintf(msg, sizeof(msg), "%s: owned by uid 1000, not root", d->path);
	expect_load(d->path, -EPERM, msg);
	assert_int_equal(chown(d->path, 0, 0), 0);

	assert_int_equal(chmod(d->path, 0664), 0);
	snprintf(msg, sizeof(msg), "%s: writable by group (mode 0664)",
		 d->path);
	expect_load(d->path, -EPERM, msg);

	assert_int_equal(chmod(d->path, 0646), 0);
	snprintf(msg, sizeof(msg), "%s: writable by other (mode 0646)",
		 d->path);
	expect_load(d->path, -EPERM, msg);

	assert_int_equal(chmod(d->path, 0666), 0);
	expect_load(d->path, -EPERM, "writable by group and other");
	assert_int_equal(chmod(d->path, 0600), 0);

	/* a syntax error through the loader: file name and line */
	write_file(d->path, "[defaults]\nfoo = 1\n", 0600);
	snprintf(msg, sizeof(msg), "%s:2: unknown key 'foo'", d->path);
	expect_load(d->path, -EINVAL, msg);
	assert_int_equal(unlink(d->path), 0);

	/* a symlink to a good file is still refused */
	snprintf(link, sizeof(link), "%s/good.conf", d->dir);
	write_file(link, small_config, 0600);
	assert_int_equal(symlink(link, d->path), 0);
	snprintf(msg, sizeof(msg), "%s: is a symbolic link", d->path);
	expect_load(d->path, -ELOOP, msg);
	assert_int_equal(unlink(d->path), 0);

	assert_int_equal(mkfifo(d->path, 0600), 0);
	snprintf(msg, sizeof(msg), "%s: is a FIFO, not a regular file",
		 d->path);
	expect_load(d->path, -EPERM, msg);
	assert_int_equal(unlink(d->path), 0);

	assert_int_equal(mkdir(d->path, 0700), 0);
	expect_load(d->path, -EPERM, "is a directory, not a regular file");
	assert_int_equal(rmdir(d->path), 0);

	expect_load("/dev/null", -EPERM, "is a character device");

	/* too big */
	{
		_cleanup_free_ char *big = malloc(1024 * 1024 + 2);

		assert_non_null(big);
		memset(big, '#', 1024 * 1024 + 1);
		big[1024 * 1024 + 1] = '\0';
		write_file(d->path, big, 0600);
		expect_load(d->path, -EINVAL, "larger than 1 MiB");
		assert_int_equal(unlink(d->path), 0);
	}

	/* the directory: group-writable, other-writable, not root's */
	snprintf(sub, sizeof(sub), "%s/etc", d->dir);
	snprintf(subpath, sizeof(subpath), "%s/keyturn.conf", sub);
	assert_int_equal(mkdir(sub, 0755), 0);
	write_file(subpath, small_config, 0600);

	assert_int_equal(chmod(sub, 0775), 0);
	snprintf(msg, sizeof(msg),
		 "%s: directory writable by group (mode 0775)", sub);
	expect_load(subpath, -EPERM, msg);

	assert_int_equal(chmod(sub, 0757), 0);
	expect_load(subpath, -EPERM, "directory writable by other");

	/* sticky, like /tmp: others cannot replace root's file */
	assert_int_equal(chmod(sub, 01777), 0);
	{
		_cleanup_config_ struct kt_config *c = NULL;
		struct kt_diag diag = { "" };

		assert_int_equal(kt_config_load(subpath, &c, &diag), 0);
	}

	assert_int_equal(chmod(sub, 0755), 0);
	assert_int_equal(chown(sub, 1000, 1000), 0);
	snprintf(msg, sizeof(msg), "%s: directory owned by uid 1000, not root",
		 sub);
	expect_load(subpath, -EPERM, msg);
}

/* ---- kt_volume_present ------------------------------------------------ */

static void test_volume_present(void **state)
{
	struct load_dir *d = *state;
	char file[160], dir[160], link[160], missing[160];
	struct kt_volume v = { 0 };

	snprintf(file, sizeof(file), "%s/image", d->dir);
	snprintf(dir, sizeof(dir), "%s/private", d->dir);
	snprintf(link, sizeof(link), "%s/link", d->dir);
	snprintf(missing, sizeof(missing), "%s/missing", d->dir);
	write_file(file, "x", 0600);
	assert_int_equal(mkdir(dir, 0700), 0);

	v.type = KT_VOLUME_LUKS2;
	v.device = file;
	assert_true(kt_volume_present(&v));
	v.device = missing;
	assert_false(kt_volume_present(&v));
	/* a link to the image counts, as /dev/disk/by-* links do */
	assert_int_equal(symlink(file, link), 0);
	v.device = link;
	assert_true(kt_volume_present(&v));
	v.device = dir;
	assert_false(kt_volume_present(&v));
	assert_int_equal(unlink(link), 0);

	memset(&v, 0, sizeof(v));
	v.type = KT_VOLUME_ECRYPTFS;
	v.source = dir;
	assert_true(kt_volume_present(&v));
	v.source = file;
	assert_false(kt_volume_present(&v));
	v.source = missing;
	assert_false(kt_volume_present(&v));
	/* never a link, under a home the user controls */
	assert_int_equal(symlink(dir, link), 0);
	v.source = link;
	assert_false(kt_volume_present(&v));

	memset(&v, 0, sizeof(v));
	v.type = KT_VOLUME_FSCRYPT;
	v.directory = dir;
	assert_true(kt_volume_present(&v));
	v.directory = file;
	assert_false(kt_volume_present(&v));
	v.directory = link;
	assert_false(kt_volume_present(&v));

	assert_false(kt_volume_present(NULL));
}

static int parse_diag(const char *text, struct kt_diag *diag)
{
	struct kt_config *c = NULL;
	int r = kt_config_parse(text, strlen(text), FILE_NAME, &c, diag);

	kt_config_free(c);
	return r;
}

/* ---- bounds of the wrapped file's Argon2 cost ----------------------- */

static void test_wrapped_bounds(void **state)
{
	static const struct {
		const char *text, *what;
	} bad[] = {
		{ "[defaults]\nwrapped_max_memory = 0\n",
		  FILE_NAME ":2: bad value '0' for 'wrapped_max_memory': "
		  "expected a number of MiB from 1 to 1024" },
		{ "[defaults]\nwrapped_max_memory = 2048\n",
		  FILE_NAME ":2: bad value '2048'" },
		{ "[defaults]\n\nwrapped_max_iterations = 1001\n",
		  FILE_NAME ":3: bad value '1001' for 'wrapped_max_iterations': "
		  "expected a number of Argon2 iterations from 1 to 1000" },
		{ "[volume v]\nwrapped_max_iterations = 3\n",
		  FILE_NAME ":2: unknown key 'wrapped_max_iterations' in "
		  "[volume] (it belongs in [defaults])" },
	};
	_cleanup_config_ struct kt_config *d = parse_ok("");
	_cleanup_config_ struct kt_config *c = parse_ok(
		"[defaults]\nwrapped_max_memory = 256\n"
		"wrapped_max_iterations = 4\n");

	assert_int_equal(d->wrapped_max_memory, 1024);
	assert_int_equal(d->wrapped_max_iterations, 10);
	assert_int_equal(c->wrapped_max_memory, 256);
	assert_int_equal(c->wrapped_max_iterations, 4);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct kt_diag diag = { "" };

		assert_int_equal(parse_diag(bad[i].text, &diag), -EINVAL);
		if (strncmp(diag.message, bad[i].what, strlen(bad[i].what)))
			fail_msg("case %zu: got '%s', want '%s...'", i,
				 diag.message, bad[i].what);
	}
}

/* ---- uuid: pinning a LUKS2 volume ------------------------------------ */

#define PIN "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

static void test_uuid(void **state)
{
	static const char text[] =
		"[volume home]\nuser = alice\ntype = luks2\n"
		"device = /dev/disk/by-partlabel/home-%u\nname = home-%u\n"
		"mountpoint = %h\nuuid = " PIN "\n"
		"[volume shared]\nuser = *\ntype = luks2\n"
		"device = /dev/disk/by-partlabel/shared\nname = shared\n"
		"mountpoint = /srv/shared\nuuid = " PIN "\n"
		"[volume open]\nuser = bob\ntype = luks2\ndevice = /d/x\n"
		"name = x\nmountpoint = /srv/x\n";
	static const struct {
		const char *text, *what;
	} bad[] = {
		{ "[volume a]\nuser = alice\ntype = luks2\ndevice = /d/a\n"
		  "name = a\nmountpoint = /a\nuuid = not-a-uuid\n",
		  FILE_NAME ":7: bad value 'not-a-uuid' for 'uuid': expected a "
		  "LUKS2 UUID" },
		{ "[volume a]\nuser = alice\ntype = luks2\ndevice = /d/a\n"
		  "name = a\nmountpoint = /a\nuuid = " PIN "x\n",
		  FILE_NAME ":7: bad value" },
		{ "[volume a]\nuser = alice\ntype = luks2\ndevice = /d/a\n"
		  "name = a\nmountpoint = /a\n"
		  "uuid = 0f1e2d3c_4b5a-4978-8695-a4b3c2d1e0f9\n",
		  FILE_NAME ":7: bad value" },
		{ "[volume a]\nuser = alice\ntype = luks2\ndevice = /d/a\n"
		  "name = a\nmountpoint = /a\nuuid = " PIN "\nuuid = " PIN
		  "\n",
		  FILE_NAME ":8: duplicate key 'uuid'" },
		{ "[volume p]\nuser = alice\ntype = ecryptfs\nsource = %h/.P\n"
		  "mountpoint = %h/P\nwrapped = %h/w\nuuid = " PIN "\n",
		  FILE_NAME ":7: key 'uuid' is not valid for type ecryptfs" },
		{ "[volume h]\nuser = *\ntype = luks2\ndevice = /d/%u\n"
		  "uuid = " PIN "\nname = h-%u\nmountpoint = %h\n",
		  FILE_NAME ":5: [volume h]: 'uuid' pins one device, but "
		  "'device' (/d/%u) depends on the user" },
		{ "[volume h]\nuser = alice bob\ntype = luks2\n"
		  "device = /d/%U\nname = h-%u\nmountpoint = %h\nuuid = " PIN
		  "\n",
		  FILE_NAME ":7: [volume h]: 'uuid' pins one device" },
	};
	_cleanup_config_ struct kt_config *c = parse_ok(text);
	struct kt_user u = { .name = "alice", .uid = 1000, .gid = 1000,
			     .home = "/home/alice" };
	struct kt_volume *v = NULL;
	struct kt_diag diag = { "" };
	size_t n = 0;

	assert_string_equal(find_volume(c, "home")->uuid, PIN);
	assert_string_equal(find_volume(c, "shared")->uuid, PIN);
	assert_null(find_volume(c, "open")->uuid);
	assert_int_equal(kt_config_volumes_for(c, &u, &v, &n, &diag), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].uuid, PIN);
	kt_volumes_free(v, n);

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		memset(&diag, 0, sizeof(diag));
		assert_int_equal(parse_diag(bad[i].text, &diag), -EINVAL);
		if (strncmp(diag.message, bad[i].what, strlen(bad[i].what)))
			fail_msg("case %zu: got '%s', want '%s...'", i,
				 diag.message, bad[i].what);
	}
	assert_true(kt_uuid_valid(PIN));
	assert_true(kt_uuid_valid("0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9"));
	assert_false(kt_uuid_valid(NULL));
	assert_false(kt_uuid_valid(""));
	assert_false(kt_uuid_valid("0f1e2d3c4b5a-4978-8695-a4b3c2d1e0f9-"));
}

static void test_pin_uuid_edit(void **state)
{
	static const char text[] =
		"# site config\n"
		"[defaults]\nkey_timeout = 30\n\n"
		"[volume home]   # alice's disk\n"
		"user = alice\n"
		"  type = luks2 # inline\n"
		"device = /dev/disk/by-partlabel/home-alice\n"
		"name = home-alice\n"
		"mountpoint = /home/alice\n"
		"\n# the next one\n"
		"[volume other]\nuser = bob\ntype = luks2\ndevice = /d/b\n"
		"name = b\nmountpoint = /b";
	static const char want[] =
		"# site config\n"
		"[defaults]\nkey_timeout = 30\n\n"
		"[volume home]   # alice's disk\n"
		"user = alice\n"
		"  type = luks2 # inline\n"
		"device = /dev/disk/by-partlabel/home-alice\n"
		"name = home-alice\n"
		"mountpoint = /home/alice\n"
		"uuid = " PIN "\n"
		"\n# the next one\n"
		"[volume other]\nuser = bob\ntype = luks2\ndevice = /d/b\n"
		"name = b\nmountpoint = /b";
	char *out = NULL, *again = NULL;
	size_t len = 0, len2 = 0;

	assert_int_equal(kt_config_pin_uuid(text, strlen(text), "home", PIN,
					    &out, &len),
			 0);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	/* The result parses, pinned. */
	{
		_cleanup_config_ struct kt_config *c = parse_ok(out);

		assert_string_equal(find_volume(c, "home")->uuid, PIN);
		assert_null(find_volume(c, "other")->uuid);
	}
	/* Again: nothing to do. Another UUID: refused. */
	assert_int_equal(kt_config_pin_uuid(out, len, "home", PIN, &again,
					    &len2),
			 1);
	assert_null(again);
	assert_int_equal(kt_config_pin_uuid(
				 out, len, "home",
				 "11111111-2222-4333-8444-555555555555",
				 &again, &len2),
			 -EEXIST);
	assert_int_equal(kt_config_pin_uuid(out, len, "nosuch", PIN, &again,
					    &len2),
			 -ENOENT);
	assert_int_equal(kt_config_pin_uuid(out, len, "home", "bad", &again,
					    &len2),
			 -EINVAL);
	free(out);

	/* The last section, no newline at the end of the file. */
	assert_int_equal(kt_config_pin_uuid(text, strlen(text), "other", PIN,
					    &out, &len),
			 0);
	assert_non_null(strstr(out, "mountpoint = /b\nuuid = " PIN "\n"));
	{
		_cleanup_config_ struct kt_config *c = parse_ok(out);

		assert_string_equal(find_volume(c, "other")->uuid, PIN);
	}
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_example_config),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_nul_and_size),
		cmocka_unit_test(test_services),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_expand_errors),
		cmocka_unit_test(test_expand_any_user_skips),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_wrapped_bounds),
		cmocka_unit_test(test_pin_uuid_edit),
		cmocka_unit_test_setup_teardown(test_load_good, load_setup,
						load_teardown),
		cmocka_unit_test_setup_teardown(test_load_refusals, load_setup,
						load_teardown),
		cmocka_unit_test_setup_teardown(test_volume_present,
						load_setup, load_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
