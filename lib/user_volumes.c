/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A user's volumes as the module, the agent and keyturnctl see them: the
 * config's volumes expanded for the user, those of "user = *" kept only
 * where the user has one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

int kt_user_volumes(const struct kt_config *c, const struct kt_user *u,
		    struct kt_volume **ret, size_t *ret_n, size_t *ret_alloc,
		    struct kt_diag *diag)
{
	struct kt_volume *v = NULL;
	size_t n_all = 0, n = 0;
	int r;

	r = kt_config_volumes_for(c, u, &v, &n_all, diag);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_all; i++) {
		struct kt_volume keep;

		if (v[i].any_user && !kt_volume_present(&v[i]))
			continue;
		keep = v[n];
		v[n] = v[i];
		v[i] = keep;
		n++;
	}
	*ret = v;
	*ret_n = n;
	*ret_alloc = n_all;
	return 0;
}

int kt_user_plan_load(const char *path, const char *name,
		      const char *service, struct kt_user_plan *ret,
		      enum kt_plan_step *ret_step, struct kt_diag *diag)
{
	const char *problem;
	int r;

	*ret = (struct kt_user_plan){ 0 };
	*ret_step = KT_STEP_CONFIG;
	r = kt_config_load(path, &ret->config, diag);
	if (r < 0)
		return r;
	*ret_step = KT_STEP_SERVICE;
	if (service && kt_config_skips_service(ret->config, service))
		return -ECANCELED;
	/* A name keyturn cannot act for safely is not one it manages. */
	*ret_step = KT_STEP_NAME;
	problem = kt_user_name_problem(name);
	if (problem) {
		snprintf(diag->message, sizeof(diag->message), "%s", problem);
		return -EINVAL;
	}
	*ret_step = KT_STEP_USER;
	r = kt_user_lookup(name, &ret->user);
	if (r < 0)
		return r;
	*ret_step = KT_STEP_VOLUMES;
	r = kt_user_volumes(ret->config, ret->user, &ret->volumes, &ret->n,
			    &ret->n_alloc, diag);
	if (r < 0)
		return r;
	*ret_step = KT_STEP_NONE;
	return 0;
}

void kt_user_plan_free(struct kt_user_plan *p)
{
	kt_volumes_free(p->volumes, p->n_alloc);
	kt_user_free(p->user);
	kt_config_free(p->config);
	*p = (struct kt_user_plan){ 0 };
}
