/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A user's volumes as the module, the agent and keyturnctl see them: the
 * config's volumes expanded for the user, those of "user = *" kept only
 * where the user has one.
 */
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
