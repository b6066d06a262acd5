/* progress.h - the callback long operations (the cache build) report progress through, so the
 * core never prints: the CLI draws a progress line from it. */
#ifndef PATCHFS_PROGRESS_H
#define PATCHFS_PROGRESS_H

/* done of total units finished; id names the unit just finished (a case id). */
typedef void (*pf_progress_fn)(void *arg, int done, int total, const char *id);

#endif
