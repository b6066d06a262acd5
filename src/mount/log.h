/* log.h - the mount's log: where its messages and errors go once nobody watches stderr.
 *
 * A mount daemonizes once it serves, and libfuse's daemonize points stderr at /dev/null, so
 * an error met while serving would vanish. Messages go:
 *   * to stderr ("patchfs: MESSAGE") while the process has one: before daemonizing, or
 *     always in the foreground (-f);
 *   * with log=FILE, to that file as well, from the start (it is opened before daemonizing,
 *     with O_APPEND, so several mounts may share it), one line each:
 *     "2026-01-02T03:04:05.678Z patchfs[PID]: error: MESSAGE";
 *   * without a file, to syslog once daemonized (identifier "patchfs", facility daemon:
 *     `journalctl -t patchfs` on a systemd machine).
 * libfuse's own messages (fuse_set_log_func) take the same way. The log is process-wide, as
 * libfuse's log function is; pf_log is safe from any thread once the log is open. */
#ifndef PATCHFS_LOG_H
#define PATCHFS_LOG_H

#include <syslog.h> /* the priorities: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG */

#include "error.h"

/* Opens the log: file (absolute, or NULL / "" for stderr, then syslog) is opened for appending
 * now, before daemonizing, so a path that cannot be written fails the mount at once. Installs
 * the log function of libfuse. 0, or -1 with a message naming the file and its errno. */
int pf_log_open(const char *file, pf_error *err);

/* The process has daemonized (stderr is /dev/null): without a file, syslog from now on. */
void pf_log_daemonized(void);

/* One message (no trailing newline needed) at a syslog priority. */
void pf_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Closes the file or syslog; messages go to stderr again, libfuse's too. */
void pf_log_close(void);

#endif
