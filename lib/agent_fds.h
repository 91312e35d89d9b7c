/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the programs that start keyturn-agent (pam_keyturn.so,
 * keyturnctl), the agent and keyturn-hold agree on: its modes and the
 * descriptors it is handed at fixed numbers. libc only and no code:
 * keyturn-hold includes it.
 *
 * The session agent (no mode): fd 3 the socket to the module, fd 4 the
 * login passphrase pipe (or none), read and closed at once; from then on
 * 3 to 7 are the hand-over to keyturn-hold (agent/handover.c), which
 * passes them across execve() and back.
 * --rekey: fd 3 the report socket, fd 4 the pipe of the old and the new
 * passphrase. --lock: stdout for the reports, nothing else.
 */
#ifndef KT_AGENT_FDS_H
#define KT_AGENT_FDS_H

#define KT_AGENT_FD_MODULE 3	 /* socket to the starter (agent-contract;
				  * --rekey: its reports) */
#define KT_AGENT_FD_PASSPHRASE 4 /* at start: the login passphrase pipe;
				  * --rekey: the old and new passphrase */
#define KT_AGENT_FD_SESSIONS 4	 /* shared flock: this session counts;
				  * absent when joining failed */
#define KT_AGENT_FD_CONTROL 5	 /* listening: keyturnctl unlock; may be
				  * absent */
#define KT_AGENT_FD_STATE 6	 /* memfd: what the agent must know again
				  * (KT_STATE_MAGIC, lib/protocol.h) */
#define KT_AGENT_FD_AGENT 7	 /* O_PATH: the very agent image to resume */
#define KT_AGENT_FD_END 8	 /* first descriptor that is not passed */

/* argv[1] of keyturn-agent, before --user, --service, --config. */
#define KT_AGENT_MODE_REKEY "--rekey"	/* the password change */
#define KT_AGENT_MODE_LOCK "--lock"	/* keyturnctl lock: by hand */
#define KT_AGENT_MODE_RESUME "--resume" /* given back by keyturn-hold */

#endif
