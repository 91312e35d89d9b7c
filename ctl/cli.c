/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "ctl.h"
#include "user.h"

bool ctl_verbose;

static void vmessage(const char *prefix, const char *fmt, va_list ap)
	_printf_(2, 0);
static void vmessage(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "keyturnctl: %s", prefix);
	vfprintf(stderr, fmt, ap);
}

void ctl_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ctl_fail(int r, const char *what_fmt, ...)
{
	va_list ap;

	va_start(ap, what_fmt);
	vmessage("Failed to ", what_fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(r < 0 ? -r : r));
	return CTL_EXIT_FAILURE;
}

const char *ctl_dir_refusal(int r)
{
	switch (r) {
	case -ELOOP:
		return "a symbolic link (on the way or at the end)";
	case -ENOTDIR:
		return "not a directory";
	case -EPERM:
		return "not owned by the user, or a directory on the way "
		       "others can write to";
	case -EXDEV:
		return "on a kernel file system";
	case -EINVAL:
		return "not a plain absolute path";
	default:
		return strerror(-r);
	}
}

int ctl_user_lookup(const char *name, struct kt_user **ret)
{
	int r = kt_user_lookup(name, ret);

	if (r == -ENOENT) {
		ctl_error("No such user: %s", name);
		return CTL_EXIT_FAILURE;
	}
	if (r < 0)
		return ctl_fail(r, "look up user %s", name);
	return 0;
}

int ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage("", fmt, ap);
	va_end(ap);
	fputs("\nTry 'keyturnctl --help'.\n", stderr);
	return CTL_EXIT_USAGE;
}

void ctl_luks_log(int priority, const char *message, void *userdata)
{
	if (ctl_verbose && priority <= LOG_INFO)
		fprintf(stderr, "keyturnctl: libcryptsetup: %s\n", message);
}

int ctl_config_load(const char *path, bool missing_ok, struct kt_config **ret)
{
	struct kt_diag diag = { .message = "" };
	struct kt_config *c = NULL;
	int r;

	r = kt_config_load(path, &c, &diag);
	if (r == -ENOENT && missing_ok) {
		*ret = NULL;
		return 0;
	}
	if (r < 0) {
		if (diag.message[0])
			ctl_error("%s", diag.message);
		else
			ctl_fail(r, "load config %s", path);
		return r;
	}
	*ret = c;
	return 0;
}

int ctl_parse_uint(const char *s, unsigned max, unsigned *ret)
{
	unsigned long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > max)
		return -ERANGE;
	*ret = (unsigned)v;
	return 0;
}

int ctl_parse_user_config(const char *command, int argc, char **argv,
			  const char **ret_user, const char **ret_config)
{
	static const struct option options[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "config", required_argument, NULL, 'c' },
		{}
	};
	const char *user = *ret_user, *config = *ret_config;
	int o;

	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":u:c:", options, NULL)) >= 0) {
		switch (o) {
		case 'u':
			user = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case ':':
			return ctl_usage_error("%s: option %s needs a value",
					       command, argv[optind - 1]);
		default:
			return ctl_usage_error("%s: unknown option %s",
					       command, argv[optind - 1]);
		}
	}
	if (optind != argc)
		return ctl_usage_error("%s: unexpected argument '%s'", command,
				       argv[optind]);
	*ret_user = user;
	*ret_config = config;
	return 0;
}

const char *ctl_yes_no(bool b)
{
	return b ? "yes" : "no";
}

void ctl_print_field(const char *key, const char *value)
{
	if (value)
		printf("  %-12s = %s\n", key, value);
}
