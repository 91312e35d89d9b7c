/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The agent's log (syslog, never a terminal) and its reports: to the
 * module as agent-contract lines, to a person (keyturnctl lock) as text. */
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"

void agent_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsyslog(priority, fmt, ap);
	va_end(ap);
}

void report_set(struct kt_report *r, enum kt_report_status status, int error,
		const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	r->error = error < 0 ? -error : error;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

bool report_no_passphrase(const struct agent *a, struct kt_report *r)
{
	if (a->passphrase_key > 0)
		return false;
	report_set(r, KT_REPORT_LOCKED, ENOKEY,
		   "no passphrase in this session (key %s not found): left "
		   "locked",
		   a->key_desc);
	return true;
}

void agent_cryptsetup_log(int priority, const char *message, void *userdata)
{
	/* libcryptsetup's own words, to the log only: never the terminal. */
	agent_log(priority, "libcryptsetup: %s", message);
}

void agent_send_line(int fd, const char *line)
{
	/* The module may have gone (timeout, crash): its absence is not
	 * ours to fail on; teardown still happens at EOF. */
	if (kt_line_write(fd, line) < 0)
		agent_log(LOG_DEBUG, "Failed to send \"%s\" to the module, "
				     "ignoring", line);
}

void agent_send_report(struct agent *a, int fd, const struct kt_report *r)
{
	char line[KT_LINE_MAX];
	int prio = r->status == KT_REPORT_FAILED ? LOG_ERR : LOG_INFO;

	agent_log(prio, "%s: volume %s %s: %s", a->user->name, r->volume,
		  kt_report_status_name(r->status), r->message);
	if (a->human) {
		dprintf(fd, "%s: %s: %s\n", r->volume,
			kt_report_status_name(r->status), r->message);
		return;
	}
	if (kt_report_format(r, line, sizeof(line)) < 0)
		return;
	agent_send_line(fd, line);
}
