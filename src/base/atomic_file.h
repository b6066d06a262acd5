/* atomic_file.h - an output file that appears whole or not at all: written to a temporary
 * beside its final name, fsync'd, then renamed. A crash, a full disk or an error midway
 * leaves no partial file under the final name (the temporary is removed on abort; a crash can
 * leave NAME.tmp.PID.XXXXXX beside it, never a partial NAME).
 *
 * Without `force`, an existing final name is refused, both when the file is begun and at the
 * rename (no-replace rename), so two writers cannot silently overwrite each other. */
#ifndef PATCHFS_ATOMIC_FILE_H
#define PATCHFS_ATOMIC_FILE_H

#include "error.h"

typedef struct pf_atomic_file {
    int fd;                       /* the temporary, open for writing */
    int force;
    char path[4096];              /* the final name */
    char tmp[4096 + 32];
} pf_atomic_file;

/* Checks that path can be written (refused if it exists without force; its folder must exist
 * and be writable), without creating anything: for refusing before hours of work. */
int pf_output_check(const char *path, int force, pf_error *err);

/* Creates the temporary (mode 0644 less the umask). */
int pf_atomic_begin(pf_atomic_file *f, const char *path, int force, pf_error *err);
/* Writes all of buf, or fails naming the final file. */
int pf_atomic_write(pf_atomic_file *f, const void *buf, size_t len, pf_error *err);
/* fsync, close, rename to the final name. On failure the temporary is gone. */
int pf_atomic_commit(pf_atomic_file *f, pf_error *err);
/* Closes and removes the temporary (safe after a failed commit). */
void pf_atomic_abort(pf_atomic_file *f);

#endif
