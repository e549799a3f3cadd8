/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stap-rs: what a module and stpd say to each other.  The one definition: stpd's build
 * reads the #defines below (stpd/build.rs), so both sides use these very strings.
 *
 * A module publishes /proc/<STP_PROC_PREFIX><module>/ with files STP_PROC_OUT (the
 * script's output), STP_PROC_ERR (ERROR and WARNING lines) and STP_PROC_CTL: reading it
 * gives "<state> <readers>\n", the state one of the STP_STATE_* words; writing
 * STP_CTL_EXIT stops the session.  Addresses for stpd to name travel in the output as
 * STP_SYM_START KEY ";" ADDR STP_SYM_END, KEY and ADDR in hex, KEY the module parameter
 * STP_SYM_KEY_PARAM that stpd picks at random.  A command for system() travels the same
 * way as KEY ";cmd:" HEX(COMMAND); stpd runs it with /bin/sh -c.  procfs probes' files are
 * under /proc/<STP_PROCFS_ROOT>/<module>/; when STP_STDIN_FILE is there (input probes),
 * stpd writes its standard input into it, one character per write.
 */
#ifndef STP_PROTOCOL_H
#define STP_PROTOCOL_H

#define STP_PROC_PREFIX "stap_"
#define STP_PROC_OUT "out"
#define STP_PROC_ERR "err"
#define STP_PROC_CTL "ctl"
#define STP_CTL_EXIT "exit"
#define STP_STATE_RUNNING "running"
#define STP_STATE_STOPPING "stopping"
#define STP_STATE_DONE "done"
#define STP_SYM_START "\x1b]stp-sym;"
#define STP_SYM_END "\a"
#define STP_SYM_KEY_PARAM "stp_sym_key"
#define STP_PROCFS_ROOT "systemtap"
#define STP_STDIN_FILE "__stdin"

#endif /* STP_PROTOCOL_H */
