/* main.c - the patchfs command line: parse options once, then mount | get | check | prepare |
 * plan | gc | export | evaluate.
 * Errors from the core arrive as messages naming the file and problem; here they become
 * "patchfs: message" on stderr and a non-zero exit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "mountpoint.h"
#include "options.h"
#include "rng.h"
#include "simd.h"
#include "patchfs/context.h"
#include "patchfs/files.h"
#include "patchfs/infer.h"
#include "patchfs/tree.h"

static const char usage_head[] =
    "usage: patchfs [options] DATASET MOUNTPOINT     mount (daemonizes once ready)\n"
    "       patchfs get [options] DATASET VPATH      write one virtual file to stdout\n"
    "       patchfs check [options] DATASET          validate every case, list every problem;\n"
    "                                                per-case table (-o prepare: build the cache)\n"
    "       patchfs prepare [options] DATASET        build the preprocessing cache\n"
    "                                                (-o shard=R/W: share R of W of the cases,\n"
    "                                                after a first 'patchfs plan' pass)\n"
    "       patchfs plan [options] DATASET           nnU-Net's plan (nnUNetPlans.json) to stdout\n"
    "       patchfs gc [options] DATASET             remove cache entries the sources no longer\n"
    "                                                reach (--dry-run: list them; -o all: also\n"
    "                                                those of other options)\n"
    "       patchfs export [options] DATASET CASE PREDICTION OUT.nii.gz\n"
    "                                                a prediction (.npy on the served grid) back\n"
    "                                                to the case's source geometry, as NIfTI\n"
    "       patchfs export [options] DATASET PRED_DIR OUT_DIR\n"
    "                                                every ID.npy of the fold's validation cases\n"
    "                                                (cases=all: every case)\n"
    "       patchfs evaluate [options] DATASET PRED_DIR [OUT.json]\n"
    "                                                nnU-Net's metrics of PRED_DIR/ID.nii.gz\n"
    "                                                (summary.json, default PRED_DIR/summary.json)\n"
    "\n"
    "Options, as -o k=v,k=v or --k=v or --k v, before or after the arguments (defaults in\n"
    "parentheses; flags take no value):\n";
static const char usage_tail[] =
    "  -f                  foreground              -d  debug (implies -f)\n"
    "  -h, --help          this text               -V, --version\n"
    "\n"
    "Example:\n"
    "  patchfs /data/Dataset004_Hippocampus /mnt/p -o seed=7,patch=32x48x32,batch=4\n"
    "  python3 -c \"import numpy as np; print(np.load('/mnt/p/train/epoch_0/step_0/data.npy').shape)\"\n"
    "  fusermount3 -u /mnt/p\n";

/* the option list comes from the option table, so it names every option the parser takes */
static void print_usage(FILE *f)
{
    fputs(usage_head, f);
    pf_options_help(f);
    fputs(usage_tail, f);
}

/* pf_options_notes: what works but may surprise */
static void print_note(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "patchfs: note: %s\n", msg);
}

typedef struct progress_state {
    int tty;
    const char *name;
} progress_state;

static void progress(void *arg, int done, int total, const char *id)
{
    progress_state *p = arg;
    if (p->tty) {
        fprintf(stderr, "\rpatchfs: preparing %s: %d/%d cases (%s)\033[K", p->name, done, total,
                id);
        if (done == total)
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "patchfs: preparing %s: %d/%d cases (%s)\n", p->name, done, total, id);
    }
}

static int die(const char *msg)
{
    fprintf(stderr, "patchfs: %s\n", msg);
    return 1;
}

static int open_ctx(pf_ctx **ctx, const char *dataset, const pf_options *o, unsigned flags)
{
    pf_error err = {0};
    progress_state ps = {.tty = isatty(2), .name = dataset};
    /* the dataset by its absolute path, as every path option (pf_options_resolve_paths): a
     * daemon runs in /. One that does not resolve is passed as given, for the core to name */
    char *abs = realpath(dataset, NULL);
    int skipped, rc = pf_ctx_open(ctx, abs ? abs : dataset, o, flags, progress, &ps, &err);
    free(abs);
    if (rc != 0)
        return die(err.msg);
    skipped = pf_ctx_n_skipped(*ctx);
    if (skipped) {
        fprintf(stderr, "patchfs: skip_bad: %d case%s set aside, %d serve:\n", skipped,
                skipped == 1 ? "" : "s", pf_ctx_n_cases(*ctx));
        for (int i = 0; i < skipped; i++) {
            const char *id, *reason;
            pf_ctx_skipped(*ctx, i, &id, &reason);
            fprintf(stderr, "  %s: %s\n", id, reason);
        }
    }
    return 0;
}

static int cmd_get(const pf_options *o, const char *dataset, const char *vpath)
{
    pf_ctx *ctx;
    pf_node n;
    pf_error err = {0};
    char *buf;
    size_t len;
    int rc = 0;
    if (open_ctx(&ctx, dataset, o, 0))
        return 1;
    if (pf_tree_resolve(pf_ctx_tree(ctx), vpath, &n) != 0) {
        fprintf(stderr, "patchfs: %s: no such file in the tree (see README.txt of a mount)\n",
                vpath);
        pf_ctx_close(ctx);
        return 1;
    }
    if (pf_node_is_dir(&n)) {
        fprintf(stderr, "patchfs: %s: is a folder\n", vpath);
        pf_ctx_close(ctx);
        return 1;
    }
    if (pf_produce(ctx, &n, &buf, &len, &err) != 0) {
        pf_ctx_close(ctx);
        return die(err.msg);
    }
    if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
        fprintf(stderr, "patchfs: writing %s to stdout: %s\n", vpath, strerror(errno));
        rc = 1;
    }
    pf_file_release(buf);
    pf_ctx_close(ctx);
    return rc;
}

/* check: every problem on stderr, one line each naming the case and file */
static void print_problem(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "patchfs: %s\n", msg);
}

static void check_progress(void *arg, int done, int total, const char *id)
{
    progress_state *p = arg;
    if (!p->tty)
        return; /* the problems are the log; a pipe gets no progress lines */
    fprintf(stderr, "\rpatchfs: checking %s: %d/%d cases (%s)\033[K", p->name, done, total, id);
    if (done == total)
        fputc('\n', stderr);
}

/* Validates without building (pf_check). The table is the cache's (pf_ctx_check_report) when
 * every usable case has an entry, or after building them with -o prepare; else the one made
 * from the sources. Exit 0 only if the options can serve the dataset. */
static int cmd_check(const pf_options *o, const char *dataset)
{
    pf_check_result r;
    pf_error err = {0};
    progress_state ps = {.tty = isatty(2), .name = dataset};
    char *report;
    if (pf_check(dataset, o, print_problem, NULL, check_progress, &ps, &r, &err))
        return die(err.msg);
    report = r.report;
    if (r.usable && (r.cache_complete || o->prepare)) {
        pf_ctx *ctx;
        free(r.report);
        if (open_ctx(&ctx, dataset, o, 0))
            return 1;
        report = pf_ctx_check_report(ctx);
        pf_ctx_close(ctx);
        if (!report)
            return die("out of memory");
    }
    fputs(report, stdout);
    free(report);
    if (r.problems)
        fprintf(stderr, "patchfs: check: %d problem%s%s\n", r.problems,
                r.problems == 1 ? "" : "s",
                r.usable ? "; skip_bad sets those cases aside" : "; the dataset is not usable");
    return r.usable ? 0 : 1;
}

static void print_freed(void *arg, const char *path, uint64_t bytes, const char *why)
{
    const pf_options *o = arg;
    printf("%s %s (%llu bytes): %s\n", o->dry_run ? "would free" : "freed", path,
           (unsigned long long)bytes, why);
}

/* gc: the files of the dataset's cache folder its sources no longer reach */
static int cmd_gc(const pf_options *o, const char *dataset)
{
    pf_gc_result r;
    pf_error err = {0};
    if (pf_gc(dataset, o, print_freed, (void *)o, &r, &err))
        return die(err.msg);
    if (r.no_folder) {
        printf("no cache folder for this dataset (%s): nothing to free\n", r.dir);
        return 0;
    }
    printf("%s %d file%s, %.1f MiB; kept %d file%s, %.1f MiB, in %s\n",
           o->dry_run ? "would free" : "freed", r.freed, r.freed == 1 ? "" : "s",
           (double)r.bytes_freed / 1048576.0, r.kept, r.kept == 1 ? "" : "s",
           (double)r.bytes_kept / 1048576.0, r.dir);
    return 0;
}

static int cmd_plan(const pf_options *o, const char *dataset)
{
    pf_error err = {0};
    progress_state ps = {.tty = isatty(2), .name = dataset};
    char *json;
    int rc = 0;
    if (pf_plan_dataset(dataset, o, progress, &ps, &json, &err) != 0)
        return die(err.msg);
    if (fputs(json, stdout) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, "patchfs: writing the plan to stdout: %s\n", strerror(errno));
        rc = 1;
    }
    free(json);
    return rc;
}

/* prepare -o shard=R/W: this builder's share of the cases, into a shared cache folder */
static int cmd_prepare_shard(const pf_options *o, const char *dataset, int rank, int world)
{
    pf_error err = {0};
    progress_state ps = {.tty = isatty(2), .name = dataset};
    pf_shard_result r;
    char *abs = realpath(dataset, NULL);
    int rc = pf_prepare_shard(abs ? abs : dataset, o, rank, world, progress, &ps, &r, &err);
    free(abs);
    if (rc != 0)
        return die(err.msg);
    fprintf(stderr, "patchfs: shard %d/%d ready: %d of %d cases are this shard's, %d built%s "
            "in %s\n", rank, world, r.share, r.n_cases, r.built,
            r.set_aside ? " (skip_bad set some aside)" : "", r.dir);
    return 0;
}

static int cmd_prepare(const pf_options *o, const char *dataset)
{
    pf_ctx *ctx;
    if (open_ctx(&ctx, dataset, o, PF_CTX_VERIFY_ALL))
        return 1;
    fprintf(stderr, "patchfs: cache ready: %d cases in %s\n", pf_ctx_n_cases(ctx),
            pf_ctx_cache_dir(ctx));
    if (pf_ctx_n_test(ctx))
        fprintf(stderr, "patchfs: test images ready: %d in %s\n", pf_ctx_n_test(ctx),
                pf_ctx_test_cache_dir(ctx));
    pf_ctx_close(ctx);
    return 0;
}

/* folder commands: one line per case that could not be done */
static void report_case(void *arg, const char *id, const char *problem)
{
    (void)arg;
    if (problem)
        fprintf(stderr, "patchfs: case %s: %s\n", id, problem);
}

/* export: a case (DATASET CASE PREDICTION OUT) or a folder (DATASET PRED_DIR OUT_DIR). The
 * mount's options decide the geometry, so a prediction goes back the way its case came. */
static int cmd_export(const pf_options *o, int npos, const char **pos)
{
    pf_ctx *ctx;
    pf_error err = {0};
    const char *prob = o->probabilities[0] ? o->probabilities : NULL;
    int rc = 0;
    if (npos == 4) { /* the folder form; a PRED_DIR that is no folder is named as such */
        int exported, failed;
        if (open_ctx(&ctx, pos[1], o, 0))
            return 1;
        if (pf_export_folder(ctx, pos[2], pos[3], prob, o->cases_all, o->force, o->threads,
                             report_case, NULL, &exported, &failed, &err) != 0) {
            rc = die(err.msg);
        } else {
            fprintf(stderr, "patchfs: exported %d case%s to %s\n", exported,
                    exported == 1 ? "" : "s", pos[3]);
            if (failed) {
                fprintf(stderr, "patchfs: %d case%s not exported (listed above)\n", failed,
                        failed == 1 ? "" : "s");
                rc = 1;
            }
        }
    } else if (npos == 5) {
        if (open_ctx(&ctx, pos[1], o, 0))
            return 1;
        if (pf_export_case(ctx, pos[2], pos[3], pos[4], prob, o->force, o->threads, &err))
            rc = die(err.msg);
    } else {
        return die("usage: patchfs export [options] DATASET CASE PREDICTION OUT.nii.gz\n"
                   "       patchfs export [options] DATASET PRED_DIR OUT_DIR");
    }
    pf_ctx_close(ctx);
    return rc;
}

/* evaluate: nnU-Net's summary.json of a folder of exported predictions */
static int cmd_evaluate(const pf_options *o, int npos, const char **pos)
{
    pf_error err = {0};
    char *path = NULL;
    int evaluated, failed;
    if (npos != 3 && npos != 4)
        return die("usage: patchfs evaluate [options] DATASET PRED_DIR [OUT.json]");
    if (pf_evaluate(pos[1], o, pos[2], npos == 4 ? pos[3] : NULL, report_case, NULL,
                    &evaluated, &failed, &path, &err) != 0)
        return die(err.msg);
    fprintf(stderr, "patchfs: evaluated %d case%s: %s\n", evaluated, evaluated == 1 ? "" : "s",
            path);
    free(path);
    if (failed) {
        fprintf(stderr, "patchfs: %d case%s left out (listed above)\n", failed,
                failed == 1 ? "" : "s");
        return 1;
    }
    return 0;
}

/* Everything that can refuse the mount is checked before the cache is built: the mountpoint
 * (a folder, not a dead mount, not a live patchfs mount; made absolute, as the daemon
 * unmounts it from /) and the log file (opened now, before daemonizing). */
static int cmd_mount(const pf_options *o, const char *dataset, const char *mountpoint)
{
    pf_ctx *ctx;
    pf_error err = {0};
    char *abs;
    int rc;
    if (pf_mountpoint_prepare(mountpoint, &abs, &err) != 0)
        return die(err.msg);
    if (pf_log_open(o->log_file, &err) != 0) {
        free(abs);
        return die(err.msg);
    }
    if (open_ctx(&ctx, dataset, o, 0)) {
        pf_log_close();
        free(abs);
        return 1;
    }
    rc = pf_fs_serve(ctx, abs);
    pf_ctx_close(ctx);
    pf_log_close();
    free(abs);
    return rc;
}

int main(int argc, char **argv)
{
    pf_options o;
    pf_error err = {0};
    const char *pos[8];
    int npos = 0, rc, prep_rank = 0, prep_world = 0;

    pf_options_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_usage(stdout);
            pf_options_free(&o);
            return 0;
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            /* the vector path the kernels take here (PATCHFS_SIMD caps it) and the CPU's best */
            printf("patchfs %s (format %d)\nsimd %s (cpu: %s)\n", PATCHFS_VERSION,
                   PF_FORMAT_VERSION, pf_simd_name(pf_simd_active()), pf_simd_name(pf_simd_detect()));
            pf_options_free(&o);
            return 0;
        } else if (!strcmp(a, "-f")) {
            o.foreground = 1;
        } else if (!strcmp(a, "-d")) {
            o.debug = o.foreground = 1;
        } else if (!strncmp(a, "-o", 2)) {
            const char *list = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (!list) {
                pf_options_free(&o);
                return die("-o needs an option list (e.g. -o seed=7,batch=4)");
            }
            if (pf_options_parse_list(&o, list, &err)) {
                pf_options_free(&o);
                return die(err.msg);
            }
        } else if (!strncmp(a, "--", 2) && a[2]) {
            char key[64];
            const char *eq = strchr(a + 2, '='), *value = eq ? eq + 1 : NULL;
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            if (len >= sizeof key) {
                pf_options_free(&o);
                return die("option name too long");
            }
            memcpy(key, a + 2, len);
            key[len] = '\0';
            for (char *c = key; *c; c++) /* --dry-run is dry_run */
                if (*c == '-')
                    *c = '_';
            /* --key value, as --key=value; a flag takes none: `--foreground DATASET` */
            if (!eq && pf_option_takes_value(key) && i + 1 < argc)
                value = argv[++i];
            if (pf_options_set(&o, key, value, &err)) {
                pf_options_free(&o);
                return die(err.msg);
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "patchfs: unknown option '%s' (see patchfs --help)\n", a);
            pf_options_free(&o);
            return 1;
        } else {
            if (npos == (int)(sizeof pos / sizeof pos[0])) {
                pf_options_free(&o);
                return die("too many arguments (see patchfs --help)");
            }
            pos[npos++] = a;
        }
    }
    if (o.debug)
        o.foreground = 1;
    /* prepare's shard=R/W shares out the cases among builders (not a batch among ranks) */
    if (npos >= 1 && !strcmp(pos[0], "prepare") && o.shard_world) {
        prep_rank = o.shard_rank;
        prep_world = o.shard_world;
        o.shard_rank = o.shard_world = 0;
    }
    /* checks across options before any I/O: a bad combination never builds a cache */
    if (pf_options_validate(&o, &err)) {
        pf_options_free(&o);
        return die(err.msg);
    }
    pf_options_notes(&o, print_note, NULL);
    /* cache= and log= as absolute paths, once, for every command: `get` and a mount (whose
     * daemon runs in /) given the same relative cache= use the same folder */
    if (pf_options_resolve_paths(&o, &err)) {
        pf_options_free(&o);
        return die(err.msg);
    }

    if (npos >= 1 && !strcmp(pos[0], "get")) {
        rc = npos == 3 ? cmd_get(&o, pos[1], pos[2])
                       : die("usage: patchfs get [options] DATASET VPATH");
    } else if (npos >= 1 && !strcmp(pos[0], "check")) {
        rc = npos == 2 ? cmd_check(&o, pos[1]) : die("usage: patchfs check [options] DATASET");
    } else if (npos >= 1 && !strcmp(pos[0], "gc")) {
        rc = npos == 2 ? cmd_gc(&o, pos[1]) : die("usage: patchfs gc [options] DATASET");
    } else if (npos >= 1 && !strcmp(pos[0], "plan")) {
        rc = npos == 2 ? cmd_plan(&o, pos[1]) : die("usage: patchfs plan [options] DATASET");
    } else if (npos >= 1 && !strcmp(pos[0], "prepare")) {
        rc = npos != 2 ? die("usage: patchfs prepare [options] DATASET")
             : prep_world ? cmd_prepare_shard(&o, pos[1], prep_rank, prep_world)
                          : cmd_prepare(&o, pos[1]);
    } else if (npos >= 1 && !strcmp(pos[0], "export")) {
        rc = cmd_export(&o, npos, pos);
    } else if (npos >= 1 && !strcmp(pos[0], "evaluate")) {
        rc = cmd_evaluate(&o, npos, pos);
    } else if (npos == 2) {
        rc = cmd_mount(&o, pos[0], pos[1]);
    } else {
        print_usage(stderr);
        rc = 2;
    }
    pf_options_free(&o);
    return rc;
}
