/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef KT_RLIMIT_H
#define KT_RLIMIT_H

#include "macro.h"

/*
 * The resource limits an agent needs, whatever its caller (a login's host,
 * passwd's user) set: CPU time, file size, data, address space and locked
 * memory unlimited (low ones would stop it in the middle of a LUKS2 header
 * write, a re-key, an Argon2 derivation), stack and open files at least
 * the kernel's defaults. Only system calls: safe between fork and exec.
 * Without CAP_SYS_RESOURCE a hard limit cannot go up; the soft one then
 * goes as far as the hard one. Returns a bit (1 << i) for each limit i
 * that stayed below what is needed; kt_limits_name(i) names it.
 */
unsigned kt_limits_reset(void);
const char *kt_limits_name(unsigned i);

#endif
