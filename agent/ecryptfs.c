/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* eCryptfs private directories. */
#include <errno.h>

#include "agent.h"

int ecryptfs_open_volume(struct agent *a, const struct kt_volume *v,
			 struct kt_report *r)
{
	report_set(r, KT_REPORT_FAILED, ENOTSUP,
		   "eCryptfs volumes are not supported by this agent yet");
	return -ENOTSUP;
}

int ecryptfs_close_volume(struct agent *a, const struct kt_volume *v,
			  struct kt_report *r)
{
	report_set(r, KT_REPORT_CLOSED, 0, "nothing was mounted");
	return 0;
}
