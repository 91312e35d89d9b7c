/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* keyturnctl enroll luks DEVICE --user USER */
#include <errno.h>
#include <getopt.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "keyring.h"
#include "luks.h"
#include "user.h"

/* Argon2 bounds libcryptsetup accepts: at least 4 iterations, memory up
 * to 4 GiB. */
#define PBKDF_MEMORY_MAX (4U * 1024 * 1024)
#define PBKDF_ITERATIONS_MIN 4U
#define PBKDF_ITERATIONS_MAX (1U << 24)

struct enroll_args {
	const char *device;
	const char *user;
	const char *config;
	bool config_given;
	bool from_stdin;
	bool recovery;             /* --recovery: a keyslot, no token */
	unsigned pbkdf_memory;     /* KiB, 0: default */
	unsigned pbkdf_iterations; /* 0: benchmark */
};

static int parse_args(int argc, char **argv, struct enroll_args *a)
{
	enum { OPT_PBKDF_MEMORY = 0x100, OPT_PBKDF_ITERATIONS, OPT_RECOVERY };
	static const struct option options[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "stdin", no_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "pbkdf-memory", required_argument, NULL, OPT_PBKDF_MEMORY },
		{ "pbkdf-iterations", required_argument, NULL,
		  OPT_PBKDF_ITERATIONS },
		{ "recovery", no_argument, NULL, OPT_RECOVERY },
		{}
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":u:c:", options, NULL)) >= 0) {
		switch (c) {
		case 'u':
			a->user = optarg;
			break;
		case 's':
			a->from_stdin = true;
			break;
		case 'c':
			a->config = optarg;
			a->config_given = true;
			break;
		case OPT_PBKDF_MEMORY:
			if (ctl_parse_uint(optarg, PBKDF_MEMORY_MAX,
					   &a->pbkdf_memory) < 0 ||
			    a->pbkdf_memory < 32)
				return ctl_usage_error(
					"--pbkdf-memory wants KiB, 32 to %u: "
					"'%s'", PBKDF_MEMORY_MAX, optarg);
			break;
		case OPT_PBKDF_ITERATIONS:
			if (ctl_parse_uint(optarg, PBKDF_ITERATIONS_MAX,
					   &a->pbkdf_iterations) < 0 ||
			    a->pbkdf_iterations < PBKDF_ITERATIONS_MIN)
				return ctl_usage_error(
					"--pbkdf-iterations wants %u to %u: "
					"'%s'", PBKDF_ITERATIONS_MIN,
					PBKDF_ITERATIONS_MAX, optarg);
			break;
		case OPT_RECOVERY:
			a->recovery = true;
			break;
		case ':':
			return ctl_usage_error("enroll: option %s needs a "
					       "value", argv[optind - 1]);
		default:
			return ctl_usage_error("enroll: unknown option %s",
					       argv[optind - 1]);
		}
	}
	/* argv[0] is "enroll". */
	if (optind + 2 != argc)
		return ctl_usage_error("enroll wants a volume type and a "
				       "device: enroll luks DEVICE --user USER");
	if (strcmp(argv[optind], "luks") != 0 &&
	    strcmp(argv[optind], "luks2") != 0)
		return ctl_usage_error("enroll: unknown volume type '%s' "
				       "(known: luks)", argv[optind]);
	a->device = argv[optind + 1];
	if (!a->user && !a->recovery)
		return ctl_usage_error("enroll needs --user USER");
	return 0;
}

/* The new keyslot's PBKDF: NULL keeps libcryptsetup's LUKS2 default
 * (Argon2id, benchmarked to 2 s, at most 1 GiB). */
static const struct crypt_pbkdf_type *
pick_pbkdf(const struct enroll_args *a, struct crypt_pbkdf_type *buf)
{
	const struct crypt_pbkdf_type *def;

	if (!a->pbkdf_memory && !a->pbkdf_iterations)
		return NULL;
	def = crypt_get_pbkdf_default(CRYPT_LUKS2);
	*buf = (struct crypt_pbkdf_type){
		.type = CRYPT_KDF_ARGON2ID,
		.hash = def ? def->hash : "sha256",
		.time_ms = def ? def->time_ms : 2000,
		.max_memory_kb = def ? def->max_memory_kb : 1024 * 1024,
		.parallel_threads = def ? def->parallel_threads : 4,
	};
	if (a->pbkdf_memory)
		buf->max_memory_kb = a->pbkdf_memory;
	if (a->pbkdf_iterations) {
		/* Given cost, no benchmark: the memory is then used as is. */
		buf->iterations = a->pbkdf_iterations;
		buf->flags = CRYPT_PBKDF_NO_BENCHMARK;
	}
	return buf;
}

static int read_passphrases(const struct enroll_args *a,
			    struct kt_secret **ret_existing,
			    struct kt_secret **ret_login)
{
	_cleanup_secret_ struct kt_secret *existing = NULL, *login = NULL;
	char prompt[512];
	int r;

	snprintf(prompt, sizeof(prompt), "Existing passphrase for %s: ",
		 a->device);
	r = ctl_read_secret(a->from_stdin, 1, prompt, "existing passphrase",
			    &existing);
	if (r < 0)
		return r;
	snprintf(prompt, sizeof(prompt), "Login password of %s: ", a->user);
	r = ctl_read_new_secret(a->from_stdin, 2, prompt,
				"Login password again: ", "login password",
				&login);
	if (r < 0)
		return r;
	*ret_existing = TAKE_PTR(existing);
	*ret_login = TAKE_PTR(login);
	return 0;
}

static int explain_header_error(int r, const char *device)
{
	if (r == -EINVAL)
		ctl_error("%s is not a LUKS2 volume", device);
	else
		ctl_fail(r, "read the LUKS2 header of %s", device);
	return CTL_EXIT_FAILURE;
}

/* enroll luks DEVICE --recovery: a passphrase the admin keeps, for when
 * the user's old password is lost (keyturnctl rekey takes it). */
static int enroll_recovery(const struct enroll_args *a,
			   const struct crypt_pbkdf_type *pbkdf)
{
	_cleanup_secret_ struct kt_secret *existing = NULL, *recovery = NULL;
	char prompt[512];
	int r;

	kt_luks_set_log(ctl_luks_log, NULL);
	snprintf(prompt, sizeof(prompt), "Existing passphrase for %s: ",
		 a->device);
	r = ctl_read_secret(a->from_stdin, 1, prompt, "existing passphrase",
			    &existing);
	if (r >= 0)
		r = ctl_read_new_secret(a->from_stdin, 2,
					"Recovery passphrase: ",
					"Recovery passphrase again: ",
					"recovery passphrase", &recovery);
	if (r < 0)
		return CTL_EXIT_FAILURE;
	r = kt_luks_add_recovery(a->device, existing, recovery, pbkdf);
	if (r == -EPERM) {
		ctl_error("Failed to unlock %s with the existing passphrase: "
			  "no keyslot opens with it, nothing changed",
			  a->device);
		return CTL_EXIT_FAILURE;
	}
	if (r == -EINVAL)
		return explain_header_error(r, a->device);
	if (r < 0)
		return ctl_fail(r, "add a recovery keyslot to %s", a->device);
	printf("Added recovery keyslot %d to %s (no token: logins never try "
	       "it)\n", r, a->device);
	return CTL_EXIT_OK;
}

int ctl_enroll(int argc, char **argv)
{
	struct enroll_args a = { .config = KT_CONFIG_PATH };
	_cleanup_secret_ struct kt_secret *existing = NULL, *login = NULL;
	_cleanup_config_ struct kt_config *config = NULL;
	_cleanup_user_ struct kt_user *user = NULL;
	struct crypt_pbkdf_type pbkdf_buf;
	const struct crypt_pbkdf_type *pbkdf;
	struct kt_luks_token tok;
	struct ctl_pin pin;
	const char *prefix;
	char desc[KT_KEY_DESC_MAX];
	int r;

	r = parse_args(argc, argv, &a);
	if (r != 0)
		return r;
	pbkdf = pick_pbkdf(&a, &pbkdf_buf);
	if (a.recovery)
		return enroll_recovery(&a, pbkdf);

	r = ctl_user_lookup(a.user, &user);
	if (r != 0)
		return r;

	/* The key prefix comes from the config; enrolling before the config
	 * is written is fine, with the default prefix. */
	r = ctl_config_load(a.config, !a.config_given, &config);
	if (r < 0)
		return CTL_EXIT_FAILURE;
	prefix = config && config->key_prefix ? config->key_prefix
					      : KT_KEY_PREFIX_DEFAULT;
	r = kt_key_description(prefix, user->name, desc, sizeof(desc));
	if (r < 0)
		return ctl_fail(r, "make the key description for %s",
				user->name);

	if (geteuid() != 0)
		ctl_error("Not root: opening %s may fail", a.device);
	kt_luks_set_log(ctl_luks_log, NULL);

	/* Before asking anything: is it a LUKS2 volume, is the user there
	 * already? */
	r = kt_luks_find_token(a.device, desc, &tok);
	if (r == 0 && tok.keyslot < 0) {
		/* Its keyslot was destroyed (cryptsetup luksKillSlot):
		 * the token opens nothing, and only its owner may drop
		 * it. */
		ctl_error("%s has a token for %s (%s, token %d) bound to no "
			  "keyslot; remove it with 'cryptsetup token remove "
			  "--token-id %d %s', then enroll again; nothing "
			  "changed",
			  a.device, user->name, desc, tok.token, tok.token,
			  a.device);
		return CTL_EXIT_FAILURE;
	}
	if (r == 0 || r == -ENOTUNIQ) {
		ctl_error("%s is already enrolled on %s (%s), nothing changed",
			  user->name, a.device, desc);
		return CTL_EXIT_FAILURE;
	}
	if (r != -ENOENT)
		return explain_header_error(r, a.device);
	/* Before anything changes: a volume of the config that pins another
	 * device is refused. */
	r = ctl_pin_plan(config, user, a.device, &pin);
	if (r == -EEXIST)
		return CTL_EXIT_FAILURE;
	if (r < 0)
		return explain_header_error(r, a.device);

	r = read_passphrases(&a, &existing, &login);
	if (r < 0)
		return CTL_EXIT_FAILURE;

	r = kt_luks_enroll_pbkdf(a.device, existing, login, desc, pbkdf, &tok);
	if (r == -EPERM) {
		ctl_error("Failed to unlock %s with the existing passphrase: "
			  "no keyslot of %s opens with it, nothing changed",
			  a.device, a.device);
		return CTL_EXIT_FAILURE;
	}
	if (r == -EEXIST) {
		ctl_error("%s is already enrolled on %s (%s), nothing changed",
			  user->name, a.device, desc);
		return CTL_EXIT_FAILURE;
	}
	if (r == -EKEYREJECTED) {
		ctl_error("%s is not encrypted (cipher_null): refused, nothing "
			  "changed", a.device);
		return CTL_EXIT_FAILURE;
	}
	if (r < 0)
		return ctl_fail(r, "enroll %s on %s", user->name, a.device);

	printf("Enrolled %s on %s: keyslot %d, token %d (%s)\n", user->name,
	       a.device, tok.keyslot, tok.token, desc);
	return ctl_pin_apply(&pin, a.device, user->name);
}
