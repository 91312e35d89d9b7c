/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who keeps a volume busy at its close: found, logged, signalled under
 * busy = kill, for mounts (mount_volume.c) and fscrypt directories
 * (backend_fscrypt.c) alike. */
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "agent.h"
#include "holders.h"

int holders_find(struct holders *h, const struct kt_opened *o,
		 const char *dir)
{
	size_t used = 0;
	int n;

	n = kt_holders(o->mnt_dev, dir, h->pids, MAX_HOLDERS);
	h->n = n < 0 ? 0 : n;
	h->list[0] = '\0';
	for (int i = 0; i < h->n && used + 16 < sizeof(h->list); i++)
		used += (size_t)snprintf(h->list + used,
					 sizeof(h->list) - used, "%s%d",
					 i ? " " : "", (int)h->pids[i]);
	if (h->n == 0)
		snprintf(h->list, sizeof(h->list), "(none found)");
	return h->n;
}

void holders_signal(struct agent *a, const struct holders *h,
		    const struct kt_opened *o, const char *dir, int sig)
{
	for (int i = 0; i < h->n; i++) {
		int r = kt_holder_signal(h->pids[i], a->user->uid, o->mnt_dev,
					 dir, sig);

		if (r < 0)
			agent_log(LOG_WARNING, "Failed to signal pid %d: %s, "
					       "ignoring",
				  (int)h->pids[i], strerror(-r));
	}
}
