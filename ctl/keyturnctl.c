/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* keyturnctl: enroll volumes, show their state, check the config. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static const char usage_text[] =
	"Usage: keyturnctl [-v] COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  enroll luks DEVICE --user USER [--stdin] [--config PATH]\n"
	"         [--pbkdf-memory KIB] [--pbkdf-iterations N]\n"
	"                  add a keyslot for USER's login password to the\n"
	"                  LUKS2 volume DEVICE and a luks2-keyring token for it\n"
	"  enroll ecryptfs --user USER [--import] [--stdin] [--config PATH]\n"
	"         [--argon2-ms MS] [--argon2-memory KIB]\n"
	"                  create an eCryptfs private directory for USER,\n"
	"                  or import an ecryptfs-utils one (its mount\n"
	"                  passphrase on stdin); the mount passphrase is\n"
	"                  kept wrapped with the login password\n"
	"  enroll fscrypt DIRECTORY --user USER [--import] [--stdin]\n"
	"         [--config PATH] [--argon2-ms MS] [--argon2-memory KIB]\n"
	"                  encrypt USER's empty DIRECTORY with fscrypt (v2),\n"
	"                  or import one the fscrypt tool set up with a\n"
	"                  login protector; the key is kept wrapped with the\n"
	"                  login password\n"
	"  enroll luks DEVICE --recovery [--stdin] [--pbkdf-memory KIB]\n"
	"         [--pbkdf-iterations N]\n"
	"                  add a recovery passphrase to DEVICE: a keyslot of\n"
	"                  its own that no token leads to\n"
	"  rekey --user USER [--stdin] [--config PATH]\n"
	"                  re-key USER's volumes to the current login password\n"
	"                  with the old one (or a LUKS2 recovery passphrase)\n"
	"  status [--user USER] [--config PATH]\n"
	"                  show the configured volumes: open or locked,\n"
	"                  mounted, sessions\n"
	"  check [--user USER] [--config PATH]\n"
	"                  check the config; with --user, show that user's\n"
	"                  volumes expanded\n"
	"  unlock [--user USER] [--stdin]\n"
	"                  hand the login password to one's own session\n"
	"                  agent, for a login that brought none\n"
	"  lock --user USER [--force] [--config PATH]\n"
	"                  lock a user's volumes by hand\n"
	"\n"
	"Options:\n"
	"  -h, --help      show this help\n"
	"  -V, --version   show the version\n"
	"  -v, --verbose   show libcryptsetup's messages\n"
	"\n"
	"Exit status: 0 success, 1 failure, 2 usage error.\n";

/*
 * enroll: the volume type, the first operand, picks the backend, whose
 * options are its own. getopt_long() with the options of both finds it
 * as they will (a value is never taken for the type).
 */
static int enroll(int argc, char **argv)
{
	static const struct option options[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "config", required_argument, NULL, 'c' },
		{ "stdin", no_argument, NULL, 0 },
		{ "import", no_argument, NULL, 0 },
		{ "pbkdf-memory", required_argument, NULL, 0 },
		{ "pbkdf-iterations", required_argument, NULL, 0 },
		{ "argon2-ms", required_argument, NULL, 0 },
		{ "argon2-memory", required_argument, NULL, 0 },
		{}
	};
	bool ecryptfs;

	optind = 0;
	opterr = 0;
	while (getopt_long(argc, argv, ":u:c:", options, NULL) >= 0)
		;
	if (optind < argc && !strcmp(argv[optind], "fscrypt"))
		return ctl_enroll_fscrypt(argc, argv);
	ecryptfs = optind < argc && !strcmp(argv[optind], "ecryptfs");
	return ecryptfs ? ctl_enroll_ecryptfs(argc, argv)
			: ctl_enroll(argc, argv);
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "enroll", enroll },
	{ "status", ctl_status },
	{ "check", ctl_check },
	{ "rekey", ctl_rekey },
	{ "unlock", ctl_unlock },
	{ "lock", ctl_lock },
};

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{}
	};
	int o;

	opterr = 0;
	/* "+": stop at the command, whose options are its own. */
	while ((o = getopt_long(argc, argv, "+hVv", options, NULL)) >= 0) {
		switch (o) {
		case 'h':
			fputs(usage_text, stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("keyturnctl %s\n", KT_VERSION);
			return CTL_EXIT_OK;
		case 'v':
			ctl_verbose = true;
			break;
		default:
			return ctl_usage_error("unknown option %s",
					       argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return ctl_usage_error("no command given");

	for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
		if (strcmp(argv[optind], commands[i].name) != 0)
			continue;
		if (fflush(stdout) != 0)
			return CTL_EXIT_FAILURE;
		o = commands[i].run(argc - optind, argv + optind);
		if (fflush(stdout) != 0 && o == CTL_EXIT_OK)
			return CTL_EXIT_FAILURE;
		return o;
	}
	return ctl_usage_error("unknown command '%s'", argv[optind]);
}
