/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What "enroll ecryptfs" and "enroll fscrypt" share: both keep a secret
 * (a mount passphrase, a raw key) in keyturn's wrapped file under the
 * login password, so they take the same options and seal the same way.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "wrapped.h"

#define ARGON2_MS_MAX 60000

int ctl_wrapped_parse_args(int argc, char **argv, const char *type,
			   bool directory, const char *usage,
			   struct ctl_wrapped_args *a)
{
	enum { OPT_ARGON2_MS = 0x100, OPT_ARGON2_MEMORY };
	static const struct option options[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "stdin", no_argument, NULL, 's' },
		{ "import", no_argument, NULL, 'i' },
		{ "config", required_argument, NULL, 'c' },
		{ "argon2-ms", required_argument, NULL, OPT_ARGON2_MS },
		{ "argon2-memory", required_argument, NULL, OPT_ARGON2_MEMORY },
		{}
	};
	int c, operands = directory ? 1 : 0;

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
		case 'i':
			a->import = true;
			break;
		case 'c':
			a->config = optarg;
			a->config_given = true;
			break;
		case OPT_ARGON2_MS:
			if (ctl_parse_uint(optarg, ARGON2_MS_MAX,
					   &a->argon2_ms) < 0)
				return ctl_usage_error(
					"--argon2-ms wants milliseconds, 1 to "
					"%u: '%s'", ARGON2_MS_MAX, optarg);
			break;
		case OPT_ARGON2_MEMORY:
			if (ctl_parse_uint(optarg, KT_WRAPPED_M_COST_MAX,
					   &a->argon2_memory) < 0 ||
			    a->argon2_memory < KT_WRAPPED_M_COST_MIN(1))
				return ctl_usage_error(
					"--argon2-memory wants KiB, %u to %u: "
					"'%s'", KT_WRAPPED_M_COST_MIN(1),
					KT_WRAPPED_M_COST_MAX, optarg);
			break;
		case ':':
			return ctl_usage_error("enroll: option %s needs a "
					       "value", argv[optind - 1]);
		default:
			return ctl_usage_error("enroll %s: unknown option %s",
					       type, argv[optind - 1]);
		}
	}
	/* argv[0] is "enroll", then the type and its operands. */
	if (optind + 1 + operands != argc || strcmp(argv[optind], type) != 0)
		return ctl_usage_error("enroll %s takes %s: %s", type,
				       operands ? "one directory"
						: "no other argument",
				       usage);
	a->directory = operands ? argv[optind + 1] : NULL;
	if (!a->user)
		return ctl_usage_error("enroll needs --user USER");
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The memory bound (KiB) to calibrate with: --argon2-memory or the
 * default, within the config's bound; 0 leaves calibrate its default (and
 * its half-the-RAM cap). */
static uint32_t memory_bound(const struct ctl_wrapped_args *a,
			     uint32_t max_kib)
{
	if (a->argon2_memory)
		return a->argon2_memory;
	return max_kib >= KT_WRAPPED_M_COST_DEFAULT ? 0 : max_kib;
}

int ctl_wrapped_seal(const struct ctl_wrapped_args *a,
		     const struct kt_config *c, const char *what,
		     const struct kt_secret *login,
		     const struct kt_secret *secret,
		     struct kt_wrapped_params *ret_p, uint8_t **ret_buf,
		     size_t *ret_len, double *ret_unwrap_s)
{
	_cleanup_secret_ struct kt_secret *back = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	unsigned max_mib = c ? c->wrapped_max_memory
			     : KT_WRAPPED_MAX_MEMORY_DEFAULT;
	unsigned max_t = c ? c->wrapped_max_iterations
			   : KT_WRAPPED_MAX_ITERATIONS_DEFAULT;
	unsigned target = a->argon2_ms ? a->argon2_ms
				       : KT_WRAPPED_TARGET_MS_DEFAULT;
	struct kt_wrapped_params p = {};
	size_t len = 0;
	double t0, took;
	int r;

	if ((uint64_t)a->argon2_memory > (uint64_t)max_mib * 1024) {
		ctl_error("--argon2-memory %u KiB is above wrapped_max_memory "
			  "= %u (MiB) of %s: every login would refuse the "
			  "file; raise the bound there first",
			  a->argon2_memory, max_mib, a->config);
		return -E2BIG;
	}
	fprintf(stderr,
		"keyturnctl: measuring Argon2id here: about %u ms per unwrap, "
		"at most %u MiB...\n",
		a->argon2_ms ? a->argon2_ms : KT_WRAPPED_TARGET_MS_DEFAULT,
		(a->argon2_memory ? a->argon2_memory
				  : KT_WRAPPED_M_COST_DEFAULT) / 1024);
	r = kt_wrapped_calibrate(a->argon2_ms,
				 memory_bound(a, max_mib * 1024u), max_t, &p);
	if (r < 0) {
		ctl_fail(r, "measure the Argon2id cost");
		return r;
	}
	r = kt_wrapped_seal(login, secret, &p, &buf, &len);
	if (r < 0) {
		ctl_fail(r, "wrap the %s", what);
		return r;
	}
	t0 = now_s();
	r = kt_wrapped_open(buf, len, login, &back);
	took = now_s() - t0;
	if (ret_unwrap_s)
		*ret_unwrap_s = took;
	if (r == 0 && p.t_cost == max_t && took * 1000 < target * 0.8)
		fprintf(stderr,
			"keyturnctl: the cost stops at wrapped_max_iterations "
			"= %u of %s: one unwrap takes %.0f ms, not about %u "
			"ms; raise the bound there for a slower one\n",
			max_t, a->config, took * 1000, target);
	if (r < 0 || !kt_secret_equal(back, secret)) {
		ctl_error("The wrapped %s does not unwrap again; nothing "
			  "written", what);
		return r < 0 ? r : -EBADMSG;
	}
	*ret_p = p;
	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}
