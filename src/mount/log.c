/* log.c - the mount's log (see log.h): a file opened before daemonizing, stderr while in the
 * foreground, syslog once daemonized; libfuse's messages routed through it.
 *
 * The destination is set before the FUSE loop starts its threads and not changed while they
 * run, so reading it needs no lock; a file line is written with one write(2) on an O_APPEND
 * descriptor, so lines of concurrent threads (and of other mounts sharing the file) never
 * interleave. */
#define FUSE_USE_VERSION 312

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_log.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;   /* log=FILE */
static int log_detached;  /* daemonized: stderr is /dev/null */
static int log_syslog;    /* daemonized without a file */

static const char *prio_name(int prio)
{
    switch (prio) {
    case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: return "critical";
    case LOG_ERR: return "error";
    case LOG_WARNING: return "warning";
    case LOG_NOTICE: return "notice";
    case LOG_INFO: return "info";
    default: return "debug";
    }
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return; /* a log that cannot be written has nowhere to say so */
        p += k;
        n -= (size_t)k;
    }
}

/* One message, without its trailing newline, to the file or syslog (stderr is the caller's). */
static void emit_logged(int prio, const char *msg)
{
    if (log_fd >= 0) {
        char line[2048], when[32];
        struct timespec ts;
        struct tm tm;
        int n;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        n = snprintf(line, sizeof line, "%s.%03ldZ patchfs[%ld]: %s: %s\n", when,
                     ts.tv_nsec / 1000000, (long)getpid(), prio_name(prio), msg);
        if (n < 0)
            n = 0;
        if ((size_t)n >= sizeof line) { /* cut, but still one line */
            memcpy(line + sizeof line - 5, "...\n", 5);
            n = (int)sizeof line - 1;
        }
        write_all(log_fd, line, (size_t)n);
    } else if (log_syslog) {
        syslog(prio, "%s", msg);
    }
}

/* While attached, stderr too: someone started the mount and watches it. */
static void emit(int prio, const char *msg)
{
    int saved = errno; /* logging must not disturb the caller's errno */
    if (!log_detached)
        fprintf(stderr, "patchfs: %s\n", msg);
    emit_logged(prio, msg);
    errno = saved;
}

void pf_log(int prio, const char *fmt, ...)
{
    char msg[1536];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof msg) /* cut, and say so */
        memcpy(msg + sizeof msg - 4, "...", 4);
    emit(prio, msg);
}

/* libfuse's messages: the same destinations. In the foreground without a file they stay
 * exactly as libfuse prints them (-d's request trace among them). */
static void fuse_log_fn(enum fuse_log_level level, const char *fmt, va_list ap)
{
    char msg[1536];
    size_t n;
    int saved = errno;
    va_list copy;
    va_copy(copy, ap);
    if (!log_detached)
        vfprintf(stderr, fmt, copy);
    va_end(copy);
    if (log_fd >= 0 || log_syslog) {
        vsnprintf(msg, sizeof msg, fmt, ap);
        n = strlen(msg);
        while (n && msg[n - 1] == '\n')
            msg[--n] = '\0';
        if (n) /* the fuse_log_level values are syslog's priorities */
            emit_logged((int)level, msg);
    }
    errno = saved;
}

int pf_log_open(const char *file, pf_error *err)
{
    pf_log_close();
    if (file && file[0]) {
        /* 0640: the log names datasets and cases, not their content */
        int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
        if (fd < 0)
            return pf_fail(err, errno, "%s: cannot open the log (log=): %s", file,
                           strerror(errno));
        log_fd = fd;
    }
    fuse_set_log_func(fuse_log_fn);
    return 0;
}

void pf_log_daemonized(void)
{
    log_detached = 1;
    if (log_fd >= 0 || log_syslog)
        return;
    openlog("patchfs", LOG_PID, LOG_DAEMON);
    log_syslog = 1;
}

void pf_log_close(void)
{
    fuse_set_log_func(NULL);
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
    if (log_syslog)
        closelog();
    log_syslog = log_detached = 0;
}
