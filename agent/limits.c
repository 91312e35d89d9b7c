/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resource limits: an agent started from a set-uid program (passwd) or a
 * user's session inherits limits the user chose. Low ones would make it
 * fail half-way or, worse, stop where the user wants: RLIMIT_FSIZE sends
 * SIGXFSZ in the middle of a LUKS2 header write, RLIMIT_CPU SIGXCPU in
 * the middle of a re-key, RLIMIT_AS makes Argon2 fail. As root the agent
 * may raise them; it sets what it needs, whatever came in.
 */
#include <syslog.h>

#include "agent.h"
#include "rlimit.h"

void agent_reset_limits(void)
{
	unsigned short_of = kt_limits_reset();

	for (unsigned i = 0; short_of; i++, short_of >>= 1)
		if (short_of & 1)
			agent_log(LOG_WARNING, "Failed to reset %s to what the "
				  "agent needs, ignoring", kt_limits_name(i));
}
