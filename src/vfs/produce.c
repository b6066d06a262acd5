/* produce.c - context setup (normalisation decisions, default patch, small files) and the
 * generation of every virtual file (see produce.h). */
#include "patchfs/produce.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <xxhash.h>

#include "augment.h"
#include "bufpool.h"
#include "export.h"
#include "npy.h"
#include "parallel.h"
#include "preview.h"
#include "rng.h"
#include "summary.h"

const char *pf_scheme_name(pf_scheme s)
{
    switch (s) {
    case PF_SCHEME_CT: return "ct";
    case PF_SCHEME_NONE: return "none";
    case PF_SCHEME_RESCALE01: return "rescale_to_0_1";
    case PF_SCHEME_RGB01: return "rgb_to_0_1";
    default: return "zscore";
    }
}

/* nnU-Net picks a scheme by channel name, case-insensitively; anything else is z-score. */
static pf_scheme scheme_for(const pf_options *o, const char *channel_name)
{
    char low[64];
    size_t i;
    switch (o->normalize) {
    case PF_NORM_ZSCORE: return PF_SCHEME_ZSCORE;
    case PF_NORM_CT: return PF_SCHEME_CT;
    case PF_NORM_NONE: return PF_SCHEME_NONE;
    default: break;
    }
    for (i = 0; channel_name[i] && i < sizeof low - 1; i++)
        low[i] = (char)tolower((unsigned char)channel_name[i]);
    low[i] = '\0';
    if (!strcmp(low, "ct")) return PF_SCHEME_CT;
    if (!strcmp(low, "nonorm")) return PF_SCHEME_NONE;
    if (!strcmp(low, "rescale_to_0_1")) return PF_SCHEME_RESCALE01;
    if (!strcmp(low, "rgb_to_0_1")) return PF_SCHEME_RGB01;
    return PF_SCHEME_ZSCORE;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* numpy.percentile's default linear interpolation on a sorted array. */
static double percentile(const float *sorted, size_t n, double q)
{
    double pos = q / 100.0 * (double)(n - 1);
    size_t lo = (size_t)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
    double frac = pos - (double)lo;
    return (double)sorted[lo] + ((double)sorted[hi] - (double)sorted[lo]) * frac;
}

static int ct_statistics(pf_ctx *ctx, int ch, pf_channel_norm *cn, pf_error *err)
{
    size_t total = 0, k = 0;
    float *all;
    double sum = 0, var = 0, mean;
    for (int i = 0; i < ctx->ds.n_cases; i++)
        total += ctx->cache.cases[i].hdr.n_fg;
    if (total == 0) {
        cn->ct_mean = 0;
        cn->ct_std = 1;
        cn->ct_lo = -INFINITY;
        cn->ct_hi = INFINITY;
        return 0;
    }
    all = malloc(total * sizeof *all);
    if (!all)
        return pf_fail(err, ENOMEM, "out of memory for CT statistics");
    for (int i = 0; i < ctx->ds.n_cases; i++) {
        const pf_case *c = &ctx->cache.cases[i];
        memcpy(all + k, c->fg + (size_t)ch * c->hdr.n_fg, c->hdr.n_fg * sizeof *all);
        k += c->hdr.n_fg;
    }
    for (size_t i = 0; i < total; i++)
        sum += all[i];
    mean = sum / (double)total;
    for (size_t i = 0; i < total; i++)
        var += ((double)all[i] - mean) * ((double)all[i] - mean);
    qsort(all, total, sizeof *all, cmp_float);
    cn->ct_mean = mean;
    cn->ct_std = sqrt(var / (double)total);
    cn->ct_lo = percentile(all, total, 0.5);
    cn->ct_hi = percentile(all, total, 99.5);
    free(all);
    return 0;
}

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static int decide_normalisation(pf_ctx *ctx, pf_error *err)
{
    const int nch = ctx->ds.n_channels, nc = ctx->ds.n_cases;
    double *rel = calloc((size_t)nc, sizeof *rel);
    ctx->channel_norm = calloc((size_t)nch, sizeof *ctx->channel_norm);
    ctx->norms = calloc((size_t)(nc * nch), sizeof *ctx->norms);
    if (!rel || !ctx->channel_norm || !ctx->norms) {
        free(rel);
        return pf_fail(err, ENOMEM, "out of memory");
    }
    /* nnU-Net normalises z-score channels inside the nonzero mask only when cropping shrank
     * the median case below 3/4 of its size. */
    for (int i = 0; i < nc; i++) {
        const pf_case_header *h = &ctx->cache.cases[i].hdr;
        rel[i] = (double)(h->shape[0] * h->shape[1] * h->shape[2]) /
                 (double)(h->orig_shape[0] * h->orig_shape[1] * h->orig_shape[2]);
    }
    ctx->median_relative_size = median_of(rel, nc);
    free(rel);
    for (int ch = 0; ch < nch; ch++) {
        pf_channel_norm *cn = &ctx->channel_norm[ch];
        cn->scheme = scheme_for(&ctx->opt, ctx->ds.channel_names[ch]);
        cn->use_mask = cn->scheme == PF_SCHEME_ZSCORE && ctx->opt.crop == PF_CROP_NONZERO &&
                       ctx->median_relative_size < 0.75;
        if (cn->scheme == PF_SCHEME_CT && ct_statistics(ctx, ch, cn, err))
            return -1;
    }
    for (int i = 0; i < nc; i++)
        for (int ch = 0; ch < nch; ch++) {
            const pf_chan_stats *st = &ctx->cache.cases[i].hdr.stats[ch];
            const pf_channel_norm *cn = &ctx->channel_norm[ch];
            pf_norm *nm = &ctx->norms[i * nch + ch];
            double lo = -INFINITY, hi = INFINITY, shift = 0, scale = 1;
            switch (cn->scheme) {
            case PF_SCHEME_CT:
                lo = cn->ct_lo;
                hi = cn->ct_hi;
                shift = cn->ct_mean;
                scale = fmax(cn->ct_std, 1e-8);
                break;
            case PF_SCHEME_ZSCORE:
                shift = cn->use_mask ? st->mean_mask : st->mean;
                scale = fmax(cn->use_mask ? st->std_mask : st->std, 1e-8);
                break;
            case PF_SCHEME_RESCALE01:
                shift = st->min;
                scale = fmax(st->max - st->min, 1e-8);
                break;
            case PF_SCHEME_RGB01:
                scale = 255.0;
                break;
            case PF_SCHEME_NONE:
                break;
            }
            nm->lo = (float)lo;
            nm->hi = (float)hi;
            nm->shift = (float)shift;
            nm->scale = (float)scale;
            nm->masked = cn->use_mask;
        }
    return 0;
}

/* patch default: per axis min(128, median cropped case shape) (median of an even count is the
 * mean of the middle two, rounded down). */
static void default_patch(pf_ctx *ctx)
{
    int nc = ctx->ds.n_cases;
    double *v = malloc((size_t)nc * sizeof *v);
    for (int d = 0; d < 3; d++) {
        double m;
        for (int i = 0; i < nc; i++)
            v[i] = (double)ctx->cache.cases[i].hdr.shape[d];
        m = floor(median_of(v, nc));
        ctx->patch[d] = m < 128 ? (int)m : 128;
        if (ctx->patch[d] < 1)
            ctx->patch[d] = 1;
    }
    free(v);
}

/* ---- small files ---- */

static json_t *int_array(const int64_t *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

/* [Z, Y, X], or [Y, X] for a 2D configuration */
static json_t *patch_json(const pf_ctx *ctx)
{
    int64_t v[3] = {ctx->patch[0], ctx->patch[1], ctx->patch[2]};
    return ctx->opt.patch_2d ? int_array(v + 1, 2) : int_array(v, 3);
}

static json_t *seed_value(uint64_t seed)
{
    char buf[32];
    if (seed <= INT64_MAX)
        return json_integer((json_int_t)seed);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)seed);
    return json_string(buf);
}

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)), *out;
    json_decref(j);
    if (!s)
        return NULL;
    if (asprintf(&out, "%s\n", s) < 0)
        out = NULL;
    free(s);
    return out;
}

/* The options in effect. meta.json (full = 0) lists only those that shape a step's content,
 * so changing steps or epochs does not change the bytes of existing steps. */
static json_t *options_json(const pf_ctx *ctx, int full)
{
    json_t *o = json_object();
    json_object_set_new(o, "seed", seed_value(ctx->opt.seed));
    json_object_set_new(o, "patch", patch_json(ctx));
    json_object_set_new(o, "batch", json_integer(ctx->opt.batch));
    json_object_set_new(o, "oversample", json_real(ctx->opt.oversample));
    /* fields of later options appear only when set, so default bytes never change */
    if (ctx->opt.probabilistic)
        json_object_set_new(o, "oversample_mode", json_string("probabilistic"));
    else if (ctx->opt.policy != PF_POLICY_UNIFORM)
        json_object_set_new(o, "forced_from", json_integer(pf_forced_from(ctx->opt.batch,
                                                                          ctx->opt.oversample)));
    if (full) {
        json_object_set_new(o, "steps", json_integer(ctx->opt.steps));
        json_object_set_new(o, "val_steps", json_integer(ctx->opt.val_steps));
        json_object_set_new(o, "epochs", json_integer(ctx->opt.epochs));
    }
    if (ctx->opt.fold == PF_FOLD_ALL)
        json_object_set_new(o, "fold", json_string("all"));
    else
        json_object_set_new(o, "fold", json_integer(ctx->opt.fold));
    json_object_set_new(o, "normalize", json_string(pf_norm_mode_name(ctx->opt.normalize)));
    json_object_set_new(o, "crop", json_string(pf_crop_mode_name(ctx->opt.crop)));
    json_object_set_new(o, "sampler", json_string(pf_policy_name(ctx->opt.policy)));
    if (ctx->opt.n_class_weights) {
        json_t *w = json_object();
        for (int i = 0; i < ctx->opt.n_class_weights; i++) {
            char key[16];
            snprintf(key, sizeof key, "%d", ctx->opt.class_weights[i].label);
            json_object_set_new(w, key, json_real((double)ctx->opt.class_weights[i].weight / 1e6));
        }
        json_object_set_new(o, "class_weights", w);
    }
    if (ctx->opt.aug) {
        json_t *a = json_object(), *pr = json_object();
        json_object_set_new(a, "policy", json_string("nnunet"));
        json_object_set_new(a, "initial_patch", int_array((int64_t[3]){ctx->sampler.aug_patch[0],
                                ctx->sampler.aug_patch[1], ctx->sampler.aug_patch[2]}, 3));
        for (int i = 0; i < PF_AUG_N; i++)
            json_object_set_new(pr, pf_aug_prob_names[i], json_real(ctx->opt.aug_p[i]));
        json_object_set_new(a, "p", pr);
        json_object_set_new(a, "seg_interp", json_string(ctx->opt.seg_nearest ? "nearest" : "linear"));
        if (ctx->opt.aug_rot_set)
            json_object_set_new(a, "rotation_deg", json_pack("[ff]", ctx->opt.aug_rot_lo, ctx->opt.aug_rot_hi));
        json_object_set_new(a, "scaling", json_pack("[ff]", ctx->opt.aug_scale_lo, ctx->opt.aug_scale_hi));
        json_object_set_new(o, "aug", a);
    }
    if (ctx->opt.n_ds) {
        json_t *d = json_array();
        for (int i = 0; i < ctx->opt.n_ds; i++)
            json_array_append_new(d, json_real(ctx->opt.ds_scales[i]));
        json_object_set_new(o, "ds_scales", d);
    }
    if (ctx->opt.shard_world) {
        json_t *sh = json_object();
        json_object_set_new(sh, "rank", json_integer(ctx->opt.shard_rank));
        json_object_set_new(sh, "world", json_integer(ctx->opt.shard_world));
        json_object_set_new(sh, "positions", json_pack("[ii]", ctx->shard_lo, ctx->shard_hi));
        json_object_set_new(o, "shard", sh);
    }
    return o;
}

static json_t *id_list(const pf_ctx *ctx, const int *idx, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(ctx->ds.cases[idx[i]].id));
    return a;
}

static char *make_patchfs_json(const pf_ctx *ctx)
{
    json_t *j = json_object(), *ds = json_object(), *ch = json_array(), *labels = json_object();
    json_t *cases = json_array(), *split = json_object();
    char fp[17];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)ctx->cache.fingerprint);
    json_object_set_new(j, "format", json_integer(PF_FORMAT_VERSION));
    json_object_set_new(j, "patchfs_version", json_string(PATCHFS_VERSION));
    json_object_set_new(ds, "name", json_string(ctx->ds.name));
    json_object_set_new(ds, "path", json_string(ctx->ds.root));
    json_object_set_new(ds, "layout", json_string(ctx->ds.layout == PF_LAYOUT_MSD
                                                      ? "decathlon" : "nnunet"));
    json_object_set_new(ds, "fingerprint", json_string(fp));
    for (int c = 0; c < ctx->ds.n_channels; c++) {
        const pf_channel_norm *cn = &ctx->channel_norm[c];
        json_t *e = json_object();
        json_object_set_new(e, "name", json_string(ctx->ds.channel_names[c]));
        json_object_set_new(e, "normalization", json_string(pf_scheme_name(cn->scheme)));
        if (cn->scheme == PF_SCHEME_ZSCORE)
            json_object_set_new(e, "use_mask", json_boolean(cn->use_mask));
        if (cn->scheme == PF_SCHEME_CT) {
            json_object_set_new(e, "foreground_mean", json_real(cn->ct_mean));
            json_object_set_new(e, "foreground_std", json_real(cn->ct_std));
            json_object_set_new(e, "percentile_00_5", json_real(cn->ct_lo));
            json_object_set_new(e, "percentile_99_5", json_real(cn->ct_hi));
        }
        json_array_append_new(ch, e);
    }
    json_object_set_new(ds, "channels", ch);
    for (int l = 0; l < ctx->ds.n_labels; l++)
        json_object_set_new(labels, ctx->ds.label_names[l], json_integer(ctx->ds.label_values[l]));
    json_object_set_new(ds, "labels", labels);
    json_object_set_new(ds, "median_relative_size_after_cropping",
                        json_real(ctx->median_relative_size));
    json_object_set_new(j, "dataset", ds);
    json_object_set_new(j, "options", options_json(ctx, 1));
    json_object_set_new(split, "source", json_string(ctx->split.source));
    json_object_set_new(split, "train", json_integer(ctx->split.n_train));
    json_object_set_new(split, "val", json_integer(ctx->split.n_val));
    json_object_set_new(j, "split", split);
    for (int i = 0; i < ctx->ds.n_cases; i++)
        json_array_append_new(cases, json_string(ctx->ds.cases[i].id));
    json_object_set_new(j, "cases", cases);
    if (ctx->n_skipped) {
        json_t *sk = json_array();
        for (int i = 0; i < ctx->n_skipped; i++)
            json_array_append_new(sk, json_pack("{ssss}", "id", ctx->skipped[i].id, "reason",
                                                ctx->skipped[i].reason));
        json_object_set_new(j, "skipped", sk);
    }
    return dump(j);
}

static char *make_splits_json(const pf_ctx *ctx)
{
    json_t *j = json_object();
    json_object_set_new(j, "train", id_list(ctx, ctx->split.train, ctx->split.n_train));
    json_object_set_new(j, "val", id_list(ctx, ctx->split.val, ctx->split.n_val));
    return dump(j);
}

static int step_shape(const pf_ctx *ctx, const pf_node *n, int64_t shape[5]);

/* "(4, 2, 32, 48, 32)" for a step file node */
static void shape_text(const pf_ctx *ctx, pf_file_kind f, char *buf, size_t cap)
{
    pf_node n = {.kind = PF_NODE_STEP_FILE, .file = f};
    int64_t shape[5];
    int nd = step_shape(ctx, &n, shape);
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < nd && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, ")");
}

static char *make_readme(const pf_ctx *ctx)
{
    char *s, fold[16], patch[48], shard[64] = "", dshape[96], sshape[96];
    const char *axes = ctx->opt.patch_2d ? "(B, C, Y, X)" : "(B, C, Z, Y, X)";
    int r;
    if (ctx->opt.fold == PF_FOLD_ALL)
        snprintf(fold, sizeof fold, "all");
    else
        snprintf(fold, sizeof fold, "%d", ctx->opt.fold);
    if (ctx->opt.patch_2d)
        snprintf(patch, sizeof patch, "%dx%d (2D: axial slices)", ctx->patch[1], ctx->patch[2]);
    else
        snprintf(patch, sizeof patch, "%dx%dx%d", ctx->patch[0], ctx->patch[1], ctx->patch[2]);
    if (ctx->opt.shard_world)
        snprintf(shard, sizeof shard, " shard=%d/%d (positions %d..%d of each batch)",
                 ctx->opt.shard_rank, ctx->opt.shard_world, ctx->shard_lo, ctx->shard_hi - 1);
    shape_text(ctx, PF_FILE_DATA, dshape, sizeof dshape);
    shape_text(ctx, PF_FILE_SEG, sshape, sizeof sshape);
    r = asprintf(&s,
        "patchfs %s - deterministic nnU-Net training batches of %s\n"
        "\n"
        "Every file here is generated on read from the dataset and the options below; the same\n"
        "options and path give the same bytes on any machine, in any read order.\n"
        "\n"
        "  seed=%llu patch=%s batch=%d oversample=%s fold=%s sampler=%s%s\n"
        "  steps=%u val_steps=%u epochs=%u normalize=%s crop=%s\n"
        "\n"
        "  train/epoch_E/step_S/data.npy   float32 %s  image patches %s\n"
        "  train/epoch_E/step_S/seg.npy    int16   %s  labels, -1 = outside the case\n"
        "  train/epoch_E/step_S/meta.json  case, forced flag, class, voxel and box per position\n"
        "  train/epoch_E/step_S/sample_K/  data.npy and seg.npy of one position\n"
        "  val/epoch_E/step_S/...          the same over the fold's %d validation cases\n"
        "  cases/ID/{data.npy,seg.npy,properties.json}   whole preprocessed cases (%d)\n"
        "  splits.json                     train/val case lists of the fold (%s)\n"
        "  patchfs.json                    options, normalisation, dataset fingerprint\n"
        "\n"
        "Read a batch:\n"
        "  python3 -c \"import numpy as np; print(np.load('train/epoch_0/step_0/data.npy').shape)\"\n"
        "  head -c 128 train/epoch_0/step_0/data.npy     # .npy header: dtype and shape\n"
        "\n"
        "The mount is read-only. Unmount with: fusermount3 -u MOUNTPOINT\n",
        PATCHFS_VERSION, ctx->ds.name, (unsigned long long)ctx->opt.seed, patch, ctx->opt.batch,
        ctx->opt.oversample_text, fold, pf_policy_name(ctx->opt.policy), shard, ctx->opt.steps,
        ctx->opt.val_steps, ctx->opt.epochs, pf_norm_mode_name(ctx->opt.normalize),
        pf_crop_mode_name(ctx->opt.crop), dshape, axes, sshape, ctx->split.n_val,
        ctx->ds.n_cases, ctx->split.source);
    return r < 0 ? NULL : s;
}

/* skip_bad: the cases that failed to build leave the dataset (listed in ctx->skipped and in
 * patchfs.json); the rest serves. Keys are compacted along with the case list. */
static int set_aside_bad_cases(pf_ctx *ctx, pf_error *err)
{
    unsigned char *drop = calloc((size_t)ctx->ds.n_cases, 1);
    int k = 0;
    if (!drop)
        return pf_fail(err, ENOMEM, "out of memory");
    ctx->skipped = calloc((size_t)ctx->cache.n_bad, sizeof *ctx->skipped);
    if (!ctx->skipped) {
        free(drop);
        return pf_fail(err, ENOMEM, "out of memory");
    }
    for (int i = 0; i < ctx->cache.n_bad; i++) {
        int idx = ctx->cache.bad[i].idx;
        drop[idx] = 1;
        snprintf(ctx->skipped[i].id, sizeof ctx->skipped[i].id, "%s", ctx->ds.cases[idx].id);
        snprintf(ctx->skipped[i].reason, sizeof ctx->skipped[i].reason, "%s",
                 ctx->cache.bad[i].err.msg);
    }
    ctx->n_skipped = ctx->cache.n_bad;
    for (int i = 0; i < ctx->ds.n_cases; i++)
        if (!drop[i])
            ctx->cache.keys[k++] = ctx->cache.keys[i];
    pf_dataset_drop_cases(&ctx->ds, drop);
    ctx->cache.n_cases = ctx->ds.n_cases;
    ctx->cache.fingerprint = XXH3_64bits(ctx->cache.keys,
                                         (size_t)ctx->ds.n_cases * sizeof *ctx->cache.keys);
    free(drop);
    if (ctx->ds.n_cases == 0)
        return pf_fail(err, EINVAL, "%s: no usable case left (all %d were set aside by skip_bad; "
                       "first: %s)", ctx->ds.root, ctx->n_skipped, ctx->skipped[0].reason);
    return 0;
}

int pf_ctx_open(pf_ctx *ctx, const char *dataset_dir, const pf_options *o, unsigned flags,
                pf_progress_fn progress, void *arg, pf_error *err)
{
    int built, threads;
    memset(ctx, 0, sizeof *ctx);
    ctx->opt = *o;
    ctx->opt.cache_dir = o->cache_dir ? strdup(o->cache_dir) : NULL;
    if (pf_dataset_open(dataset_dir, &ctx->ds, err))
        goto fail;
    if (pf_cache_init(&ctx->cache, &ctx->ds, o, err))
        goto fail;
    threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (pf_cache_build(&ctx->cache, &ctx->ds, o, threads, (flags & PF_CTX_VERIFY_ALL) != 0,
                       progress, arg, &built, err))
        goto fail;
    if (ctx->cache.n_bad && set_aside_bad_cases(ctx, err))
        goto fail;
    if (pf_split_resolve_ex(&ctx->ds, o->fold, ctx->n_skipped > 0, &ctx->split, err))
        goto fail;
    if (pf_cache_open(&ctx->cache, &ctx->ds, err))
        goto fail;
    if (decide_normalisation(ctx, err))
        goto fail;
    if (o->patch[0])
        memcpy(ctx->patch, o->patch, sizeof ctx->patch);
    else
        default_patch(ctx);
    ctx->case_ids = calloc((size_t)ctx->ds.n_cases, sizeof(char *));
    if (!ctx->case_ids) {
        pf_fail(err, ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < ctx->ds.n_cases; i++)
        ctx->case_ids[i] = ctx->ds.cases[i].id;
    ctx->tree.epochs = o->epochs;
    ctx->tree.steps = o->steps;
    ctx->tree.val_steps = o->val_steps;
    ctx->tree.n_cases = ctx->ds.n_cases;
    ctx->tree.case_ids = ctx->case_ids;
    /* nnU-Net's DDP split: ranks get B / W positions, the first B % W one more */
    ctx->shard_lo = 0;
    ctx->shard_hi = o->batch;
    if (o->shard_world) {
        int base = o->batch / o->shard_world, extra = o->batch % o->shard_world;
        if (base == 0) {
            pf_fail(err, EINVAL, "option 'shard': a batch of %d cannot be split across %d ranks "
                    "(each rank needs at least one position)", o->batch, o->shard_world);
            goto fail;
        }
        ctx->shard_lo = o->shard_rank * base + (o->shard_rank < extra ? o->shard_rank : extra);
        ctx->shard_hi = ctx->shard_lo + base + (o->shard_rank < extra);
    }
    ctx->tree.samples = (uint32_t)(ctx->shard_hi - ctx->shard_lo);
    ctx->tree.ds_files = o->n_ds > 1 ? (uint32_t)(o->n_ds - 1) : 0;
    if (o->policy == PF_POLICY_CLASS)
        for (int sp = 0; sp < 2; sp++) {
            if (pf_class_pool_build(&ctx->pools[sp], ctx->cache.cases,
                                    sp ? ctx->split.val : ctx->split.train,
                                    sp ? ctx->split.n_val : ctx->split.n_train,
                                    o->class_weights, o->n_class_weights) != 0) {
                pf_fail(err, ENOMEM, "out of memory");
                goto fail;
            }
            ctx->sampler.pools[sp] = &ctx->pools[sp];
        }
    if (o->aug)
        pf_aug_initial_patch(o, ctx->patch, ctx->sampler.aug_patch);
    ctx->sampler.policy = o->policy;
    ctx->sampler.probabilistic = o->probabilistic;
    ctx->sampler.seed = o->seed;
    ctx->sampler.batch = o->batch;
    ctx->sampler.oversample = o->oversample;
    memcpy(ctx->sampler.patch, ctx->patch, sizeof ctx->patch);
    ctx->sampler.cases = ctx->cache.cases;
    ctx->sampler.split_cases[0] = ctx->split.train;
    ctx->sampler.n_split_cases[0] = ctx->split.n_train;
    ctx->sampler.split_cases[1] = ctx->split.val;
    ctx->sampler.n_split_cases[1] = ctx->split.n_val;
    ctx->readme = make_readme(ctx);
    ctx->patchfs_json = make_patchfs_json(ctx);
    ctx->splits_json = make_splits_json(ctx);
    if (!ctx->readme || !ctx->patchfs_json || !ctx->splits_json) {
        pf_fail(err, ENOMEM, "out of memory");
        goto fail;
    }
    return 0;
fail:
    pf_ctx_close(ctx);
    return -1;
}

void pf_ctx_close(pf_ctx *ctx)
{
    pf_class_pool_free(&ctx->pools[0]);
    pf_class_pool_free(&ctx->pools[1]);
    pf_cache_close(&ctx->cache);
    pf_split_free(&ctx->split);
    pf_dataset_free(&ctx->ds);
    pf_options_free(&ctx->opt);
    free(ctx->channel_norm);
    free(ctx->norms);
    free(ctx->case_ids);
    free(ctx->skipped);
    free(ctx->readme);
    free(ctx->patchfs_json);
    free(ctx->splits_json);
    memset(ctx, 0, sizeof *ctx);
}

/* ---- per-node generation ---- */

/* Shape of a step array (B, C, Z, Y, X) or of one sample (C, Z, Y, X); 2D configurations
 * drop Z. Returns the number of dimensions. */
static int step_shape(const pf_ctx *ctx, const pf_node *n, int64_t shape[5])
{
    int k = 0;
    if (n->kind == PF_NODE_STEP_FILE)
        shape[k++] = ctx->shard_hi - ctx->shard_lo;
    shape[k++] = n->file == PF_FILE_DATA ? ctx->ds.n_channels : 1;
    for (int d = ctx->opt.patch_2d ? 1 : 0; d < 3; d++)
        shape[k++] = ctx->patch[d];
    return k;
}

static void case_shape(const pf_ctx *ctx, uint32_t idx, pf_file_kind f, int64_t shape[4])
{
    const pf_case_header *h = &ctx->cache.cases[idx].hdr;
    shape[0] = f == PF_FILE_DATA ? h->n_channels : 1;
    for (int d = 0; d < 3; d++)
        shape[1 + d] = h->shape[d];
}

static int aug_params(const pf_ctx *ctx, const pf_node *n, int b, pf_aug_params *p);

/* Per channel values of the transforms applied to some channels: null where not applied. */
static json_t *per_channel(const pf_ctx *ctx, const int *on, const double *v, int all)
{
    json_t *a = json_array();
    for (int c = 0; c < ctx->ds.n_channels; c++)
        json_array_append_new(a, all || on[c] ? json_real(v[c]) : json_null());
    return a;
}

/* Every transform applied to a sample and its parameters (null: not applied). */
static json_t *aug_json(const pf_ctx *ctx, const pf_aug_params *p)
{
    json_t *j = json_object(), *blur = json_array(), *mir = json_array();
    int any_blur = 0, any_lowres = 0;
    if (p->rotate) {
        json_t *r = json_array();
        for (int d = 0; d < (p->dims == 2 ? 1 : 3); d++)
            json_array_append_new(r, json_real(p->angle[d] * 180.0 / 3.14159265358979323846));
        json_object_set_new(j, "rotation_deg", r);
    } else {
        json_object_set_new(j, "rotation_deg", json_null());
    }
    json_object_set_new(j, "scale", p->scale_on ? json_real(p->scale) : json_null());
    json_object_set_new(j, "noise_sigma", p->noise ? json_real(p->noise_sigma) : json_null());
    for (int c = 0; c < ctx->ds.n_channels; c++) {
        any_blur |= p->blur[c];
        any_lowres |= p->lowres[c];
        json_array_append_new(blur, p->blur[c] ? json_pack("[fff]", p->blur_sigma[c][0],
                                                            p->blur_sigma[c][1], p->blur_sigma[c][2])
                                               : json_null());
    }
    if (any_blur)
        json_object_set_new(j, "blur_sigma", blur);
    else {
        json_decref(blur);
        json_object_set_new(j, "blur_sigma", json_null());
    }
    json_object_set_new(j, "brightness", p->bright ? per_channel(ctx, NULL, p->bright_f, 1) : json_null());
    json_object_set_new(j, "contrast", p->contrast ? per_channel(ctx, NULL, p->contrast_f, 1) : json_null());
    json_object_set_new(j, "lowres_zoom", any_lowres ? per_channel(ctx, p->lowres, p->lowres_zoom, 0)
                                                     : json_null());
    json_object_set_new(j, "gamma_inverted", p->gamma_inv ? per_channel(ctx, NULL, p->gamma_inv_g, 1)
                                                          : json_null());
    json_object_set_new(j, "gamma", p->gamma ? per_channel(ctx, NULL, p->gamma_g, 1) : json_null());
    for (int d = 0; d < 3; d++)
        if (p->mirror[d])
            json_array_append_new(mir, json_integer(d));
    json_object_set_new(j, "mirror_axes", mir);
    return j;
}

/* meta.json of a step. digests: per served position, XXH3-64 of its image and seg bytes (as in
 * sample_K/data.npy and seg.npy); NULL writes zeros of the same width, which is how the size
 * is known without generating pixels. */
static char *make_meta_json(const pf_ctx *ctx, const pf_node *n, const pf_sample *s,
                            const uint64_t (*digests)[2])
{
    json_t *j = json_object(), *pos = json_array();
    json_object_set_new(j, "split", json_string(n->split ? "val" : "train"));
    json_object_set_new(j, "epoch", json_integer(n->epoch));
    json_object_set_new(j, "step", json_integer(n->step));
    json_object_set_new(j, "format", json_integer(PF_FORMAT_VERSION));
    json_object_set_new(j, "options", options_json(ctx, 0));
    for (int b = ctx->shard_lo; b < ctx->shard_hi; b++) {
        const pf_sample *p = &s[b];
        const pf_case_header *h = &ctx->cache.cases[p->case_idx].hdr;
        const int64_t *S = h->shape;
        json_t *e = json_object(), *key = json_object();
        int64_t before[3], after[3], src_start[3], src_end[3];
        char hex[2][17];
        for (int d = 0; d < 3; d++) {
            before[d] = p->start[d] < 0 ? -p->start[d] : 0;
            after[d] = p->end[d] > S[d] ? p->end[d] - S[d] : 0;
            src_start[d] = p->start[d] + h->crop_lo[d];
            src_end[d] = p->end[d] + h->crop_lo[d];
        }
        for (int k = 0; k < 2; k++)
            snprintf(hex[k], sizeof hex[k], "%016llx",
                     digests ? (unsigned long long)digests[b - ctx->shard_lo][k] : 0ULL);
        json_object_set_new(e, "position", json_integer(b));
        json_object_set_new(e, "case", json_string(ctx->ds.cases[p->case_idx].id));
        json_object_set_new(e, "forced", json_boolean(p->forced));
        json_object_set_new(e, "class", p->label >= 0 ? json_integer(p->label) : json_null());
        json_object_set_new(e, "voxel", p->label >= 0 ? int_array(p->voxel, 3) : json_null());
        json_object_set_new(e, "box_start", int_array(p->start, 3));
        json_object_set_new(e, "box_end", int_array(p->end, 3));
        json_object_set_new(e, "pad_before", int_array(before, 3));
        json_object_set_new(e, "pad_after", int_array(after, 3));
        json_object_set_new(e, "policy", json_string(pf_policy_name(ctx->opt.policy)));
        json_object_set_new(e, "source_box_start", int_array(src_start, 3));
        json_object_set_new(e, "source_box_end", int_array(src_end, 3));
        json_object_set_new(key, "seed", seed_value(ctx->opt.seed));
        json_object_set_new(key, "split", json_integer(n->split));
        json_object_set_new(key, "epoch", json_integer(n->epoch));
        json_object_set_new(key, "step", json_integer(n->step));
        json_object_set_new(key, "position", json_integer(b));
        json_object_set_new(e, "stream", key);
        json_object_set_new(e, "image_xxh3", json_string(hex[0]));
        json_object_set_new(e, "seg_xxh3", json_string(hex[1]));
        {
            pf_aug_params ap;
            if (aug_params(ctx, n, b, &ap))
                json_object_set_new(e, "augmentation", aug_json(ctx, &ap));
        }
        json_array_append_new(pos, e);
    }
    json_object_set_new(j, "positions", pos);
    return dump(j);
}

static char *make_properties_json(const pf_ctx *ctx, uint32_t idx)
{
    const pf_case *c = &ctx->cache.cases[idx];
    const pf_case_header *h = &c->hdr;
    json_t *j = json_object(), *aff = json_array(), *box = json_array(), *cls = json_object();
    json_t *sp = json_array(), *norm = json_array();
    json_object_set_new(j, "id", json_string(h->id));
    json_object_set_new(j, "shape", int_array(h->shape, 3));
    json_object_set_new(j, "original_shape", int_array(h->orig_shape, 3));
    for (int d = 0; d < 3; d++)
        json_array_append_new(sp, json_real(h->spacing[d]));
    json_object_set_new(j, "spacing", sp);
    for (int r = 0; r < 4; r++) {
        json_t *row = json_array();
        for (int k = 0; k < 4; k++)
            json_array_append_new(row, json_real(h->affine[r * 4 + k]));
        json_array_append_new(aff, row);
    }
    json_object_set_new(j, "affine", aff);
    for (int d = 0; d < 3; d++) {
        int64_t b[2] = {h->crop_lo[d], h->crop_lo[d] + h->shape[d]};
        json_array_append_new(box, int_array(b, 2));
    }
    json_object_set_new(j, "crop_box", box);
    for (uint32_t k = 0; k < h->n_classes; k++) {
        char key[16];
        snprintf(key, sizeof key, "%d", c->classes[k].label);
        json_object_set_new(cls, key, json_integer((json_int_t)c->classes[k].voxels));
    }
    json_object_set_new(j, "class_voxels", cls);
    for (uint32_t ch = 0; ch < h->n_channels; ch++) {
        const pf_norm *nm = &ctx->norms[idx * h->n_channels + ch];
        json_t *e = json_object();
        json_object_set_new(e, "channel", json_string(ctx->ds.channel_names[ch]));
        json_object_set_new(e, "scheme", json_string(pf_scheme_name(ctx->channel_norm[ch].scheme)));
        json_object_set_new(e, "shift", json_real(nm->shift));
        json_object_set_new(e, "scale", json_real(nm->scale));
        json_object_set_new(e, "masked", json_boolean(nm->masked));
        json_array_append_new(norm, e);
    }
    json_object_set_new(j, "normalization", norm);
    return dump(j);
}

static const char *small_file(const pf_ctx *ctx, const pf_node *n)
{
    switch (n->kind) {
    case PF_NODE_README: return ctx->readme;
    case PF_NODE_PATCHFS_JSON: return ctx->patchfs_json;
    case PF_NODE_SPLITS_JSON: return ctx->splits_json;
    default: return NULL;
    }
}

static char *alloc_npy(pf_dtype t, int ndim, const int64_t *shape, size_t *len, size_t *hdr,
                       pf_error *err)
{
    char *buf;
    *len = (size_t)pf_npy_file_size(t, ndim, shape);
    buf = pf_pool_alloc(*len);
    if (!buf) {
        pf_fail(err, ENOMEM, "out of memory for a %zu-byte file", *len);
        return NULL;
    }
    *hdr = pf_npy_header(buf, *len, t, ndim, shape);
    return buf;
}

static int use_case(pf_ctx *ctx, int idx, pf_error *err);

static int produce_case_array(pf_ctx *ctx, const pf_node *n, char **out, size_t *len,
                              pf_error *err)
{
    pf_case *c = &ctx->cache.cases[n->case_idx];
    const pf_dtype t = n->file == PF_FILE_DATA ? PF_DT_F4 : PF_DT_I2;
    int64_t shape[4], start[3] = {0, 0, 0};
    int whole[3];
    size_t hdr;
    char *buf;
    if (use_case(ctx, (int)n->case_idx, err))
        return -1;
    case_shape(ctx, n->case_idx, n->file, shape);
    buf = alloc_npy(t, 4, shape, len, &hdr, err);
    if (!buf)
        return -1;
    for (int d = 0; d < 3; d++)
        whole[d] = (int)c->hdr.shape[d];
    if (t == PF_DT_F4)
        pf_extract_image(c, &ctx->norms[n->case_idx * ctx->ds.n_channels], start, whole,
                         (float *)(buf + hdr));
    else
        pf_extract_seg(c, start, whole, (int16_t *)(buf + hdr));
    *out = buf;
    return 0;
}

/* The served positions of a step, and the global batch they belong to. */
static pf_sample *sample_served(pf_ctx *ctx, const pf_node *n, pf_error *err)
{
    pf_sample *smp = calloc((size_t)ctx->opt.batch, sizeof *smp);
    if (!smp) {
        pf_fail(err, ENOMEM, "out of memory");
        return NULL;
    }
    pf_sample_step(&ctx->sampler, (pf_split)n->split, n->epoch, n->step, smp);
    return smp;
}

static size_t patch_voxels(const pf_ctx *ctx)
{
    return (size_t)ctx->patch[0] * (size_t)ctx->patch[1] * (size_t)ctx->patch[2];
}

/* A case ready to read: its image digest checked once; a corrupt entry is rebuilt from the
 * sources on the spot (and never served). */
static int use_case(pf_ctx *ctx, int idx, pf_error *err)
{
    pf_case *c = &ctx->cache.cases[idx];
    pf_error first = {0};
    if (pf_case_check_bulk(c, &first) == 0)
        return 0;
    if (pf_cache_repair(&ctx->cache, &ctx->ds, &ctx->opt, idx, err) != 0)
        return pf_wrap(err, "%s; rebuilding it failed", first.msg);
    return pf_case_check_bulk(c, err);
}

/* Whether position b of this step is augmented, and with what (training steps only). */
static int aug_params(const pf_ctx *ctx, const pf_node *n, int b, pf_aug_params *p)
{
    if (!ctx->opt.aug || n->split != PF_SPLIT_TRAIN)
        return 0;
    pf_aug_draw(&ctx->opt, ctx->ds.n_channels, ctx->patch, ctx->opt.seed, n->epoch, n->step,
                (uint32_t)b, p);
    return 1;
}

/* The one place a sample's arrays are made: the plain padded crop, or nnU-Net's augmentation
 * of it. Each is made in two phases, each splittable into independent units so that a file
 * renders on several threads with the same bytes: the crop or resampled grid (by slabs of
 * output planes), then the per-channel intensity transforms and mirroring. */

/* Slab k of SLABS of a sample's image (C, P) or seg (P): planes [k P0 / SLABS, (k + 1) P0 /
 * SLABS) of a resampled grid; the whole plain crop in slab 0 (a copy, too cheap to split). */
#define SLABS 4

static int render_slab(pf_ctx *ctx, const pf_node *n, int b, const pf_sample *sm, int k,
                       int slabs, float *img, int16_t *seg, pf_error *err)
{
    pf_case *c = &ctx->cache.cases[sm->case_idx];
    const pf_norm *norms = &ctx->norms[sm->case_idx * ctx->ds.n_channels];
    const int z0 = k * ctx->patch[0] / slabs, z1 = (k + 1) * ctx->patch[0] / slabs;
    pf_aug_params p;
    if (use_case(ctx, sm->case_idx, err))
        return -1;
    if (aug_params(ctx, n, b, &p) && pf_aug_spatial(&p)) {
        if (img)
            pf_aug_sample_planes(c, norms, sm->start, ctx->patch, &p, z0, z1, img);
        if (seg)
            pf_aug_sample_seg_planes(c, sm->start, ctx->patch, &p, ctx->opt.seg_nearest, z0, z1,
                                     seg);
    } else if (k == 0) {
        if (img)
            pf_extract_image(c, norms, sm->start, ctx->patch, img);
        if (seg)
            pf_extract_seg(c, sm->start, ctx->patch, seg);
    }
    return 0;
}

/* Phase two for channels [ch0, ch1) of the image (img: channel ch0 first) and/or the seg. */
static int render_finish(pf_ctx *ctx, const pf_node *n, int b, int ch0, int ch1, float *img,
                         int16_t *seg, pf_error *err)
{
    pf_aug_params p;
    if (!aug_params(ctx, n, b, &p))
        return 0;
    if (img && pf_aug_intensity_channels(&p, ctx->patch, ch0, ch1, img) != 0)
        return pf_fail(err, ENOMEM, "out of memory augmenting a sample");
    pf_aug_mirror(&p, img ? ch1 - ch0 : 0, ctx->patch, img, seg);
    return 0;
}

/* img (C, P) and seg (P) of a sample; either may be NULL. */
static int render_sample(pf_ctx *ctx, const pf_node *n, int b, const pf_sample *sm, float *img,
                         int16_t *seg, pf_error *err)
{
    if (render_slab(ctx, n, b, sm, 0, 1, img, seg, err) != 0)
        return -1;
    return render_finish(ctx, n, b, 0, ctx->ds.n_channels, img, seg, err);
}

/* The samples of one file, slabs of each resampled grid and the channels of each image are
 * independent: they are rendered on up to sample_threads threads (one per usable core by
 * default), each into its own slice, so the bytes never depend on it. */
static int sample_threads(const pf_ctx *ctx)
{
    return ctx->opt.sample_threads > 0 ? ctx->opt.sample_threads : pf_usable_cores();
}

/* What the per-position callbacks below share: the step, its positions and where to write. */
typedef struct step_job {
    pf_ctx *ctx;
    const pf_node *n;
    const pf_sample *s;
    int lo;            /* first served position: slice b - lo */
    char *base;        /* first slice */
    size_t per;        /* bytes per slice */
    pf_dtype t;        /* data.npy (F4) or seg.npy (I2) */
    int ds[3];         /* seg_dsK.npy: the downsampled shape */
    uint64_t (*dg)[2]; /* meta.json: digests of image and seg */
} step_job;

/* data.npy and seg.npy in two parallel passes: unit u of the first is slab u % SLABS of
 * position lo + u / SLABS; of the second, channel u % C of position lo + u / C (data.npy) or
 * position lo + u (seg.npy). */
static int render_slab_unit(void *arg, int u, pf_error *err)
{
    step_job *j = arg;
    const int b = j->lo + u / SLABS;
    char *dst = j->base + j->per * (size_t)(b - j->lo);
    return render_slab(j->ctx, j->n, b, &j->s[b], u % SLABS, SLABS,
                       j->t == PF_DT_F4 ? (float *)dst : NULL,
                       j->t == PF_DT_I2 ? (int16_t *)dst : NULL, err);
}

static int render_finish_unit(void *arg, int u, pf_error *err)
{
    step_job *j = arg;
    if (j->t == PF_DT_F4) {
        const int C = j->ctx->ds.n_channels, b = j->lo + u / C, ch = u % C;
        float *dst = (float *)(j->base + j->per * (size_t)(b - j->lo)) +
                     (size_t)ch * patch_voxels(j->ctx);
        return render_finish(j->ctx, j->n, b, ch, ch + 1, dst, NULL, err);
    }
    return render_finish(j->ctx, j->n, j->lo + u, 0, 0, NULL,
                         (int16_t *)(j->base + j->per * (size_t)u), err);
}

/* data.npy / seg.npy of a step (the positions this mount serves) or of one sample_K. */
static int produce_step_array(pf_ctx *ctx, const pf_node *n, char **out, size_t *len,
                              pf_error *err)
{
    step_job j = {.ctx = ctx, .n = n, .t = n->file == PF_FILE_DATA ? PF_DT_F4 : PF_DT_I2};
    pf_sample *s = sample_served(ctx, n, err);
    int64_t shape[5];
    int lo = ctx->shard_lo, hi = ctx->shard_hi, nd;
    size_t hdr;
    char *buf;
    if (!s)
        return -1;
    if (n->kind == PF_NODE_SAMPLE_FILE) {
        lo += (int)n->sample;
        hi = lo + 1;
    }
    nd = step_shape(ctx, n, shape);
    buf = alloc_npy(j.t, nd, shape, len, &hdr, err);
    if (!buf) {
        free(s);
        return -1;
    }
    j.s = s;
    j.lo = lo;
    j.base = buf + hdr;
    j.per = (*len - hdr) / (size_t)(hi - lo);
    if (pf_parallel_for(0, (hi - lo) * SLABS, sample_threads(ctx), render_slab_unit, &j, err) != 0 ||
        pf_parallel_for(0, (hi - lo) * (j.t == PF_DT_F4 ? ctx->ds.n_channels : 1),
                        sample_threads(ctx), render_finish_unit, &j, err) != 0) {
        free(buf);
        free(s);
        return -1;
    }
    free(s);
    *out = buf;
    return 0;
}

/* seg_dsK.npy: every served position's seg downsampled (nearest) by the K-th scale after 1. */
static void ds_shape(const pf_ctx *ctx, const pf_node *n, int64_t shape[5], int *nd,
                     int ds[3])
{
    int k = 0;
    pf_ds_shape(ctx->patch, ctx->opt.ds_scales[(int)n->file - PF_FILE_SEG_DS1 + 1],
                ctx->opt.patch_2d, ds);
    shape[k++] = ctx->shard_hi - ctx->shard_lo;
    shape[k++] = 1;
    for (int d = ctx->opt.patch_2d ? 1 : 0; d < 3; d++)
        shape[k++] = ds[d];
    *nd = k;
}

static int render_ds_slice(void *arg, int b, pf_error *err)
{
    step_job *j = arg;
    int16_t *seg = pf_pool_alloc(patch_voxels(j->ctx) * sizeof *seg);
    int rc;
    if (!seg)
        return pf_fail(err, ENOMEM, "out of memory");
    rc = render_sample(j->ctx, j->n, b, &j->s[b], NULL, seg, err);
    if (rc == 0)
        pf_ds_seg(seg, j->ctx->patch, j->ds, (int16_t *)(j->base + j->per * (size_t)(b - j->lo)));
    pf_pool_release(seg);
    return rc;
}

static int produce_step_ds(pf_ctx *ctx, const pf_node *n, char **out, size_t *len,
                           pf_error *err)
{
    step_job j = {.ctx = ctx, .n = n, .lo = ctx->shard_lo};
    pf_sample *s = sample_served(ctx, n, err);
    int64_t shape[5];
    int nd;
    size_t hdr;
    char *buf;
    if (!s)
        return -1;
    ds_shape(ctx, n, shape, &nd, j.ds);
    buf = alloc_npy(PF_DT_I2, nd, shape, len, &hdr, err);
    if (!buf) {
        free(s);
        return -1;
    }
    j.s = s;
    j.base = buf + hdr;
    j.per = (size_t)j.ds[0] * (size_t)j.ds[1] * (size_t)j.ds[2] * sizeof(int16_t);
    if (pf_parallel_for(ctx->shard_lo, ctx->shard_hi, sample_threads(ctx), render_ds_slice, &j,
                        err) != 0) {
        free(buf);
        free(s);
        return -1;
    }
    free(s);
    *out = buf;
    return 0;
}

static int digest_sample(void *arg, int b, pf_error *err)
{
    step_job *j = arg;
    const size_t nv = patch_voxels(j->ctx), C = (size_t)j->ctx->ds.n_channels;
    float *img = pf_pool_alloc(nv * C * sizeof *img);
    int16_t *seg = pf_pool_alloc(nv * sizeof *seg);
    int rc = -1;
    if (!img || !seg)
        pf_fail(err, ENOMEM, "out of memory");
    else if (render_sample(j->ctx, j->n, b, &j->s[b], img, seg, err) == 0) {
        j->dg[b - j->lo][0] = XXH3_64bits(img, nv * C * sizeof *img);
        j->dg[b - j->lo][1] = XXH3_64bits(seg, nv * sizeof *seg);
        rc = 0;
    }
    pf_pool_release(img);
    pf_pool_release(seg);
    return rc;
}

/* meta.json with the digests of every served position's image and seg bytes. */
static int produce_meta(pf_ctx *ctx, const pf_node *n, int with_digests, char **out,
                        pf_error *err)
{
    const int nb = ctx->shard_hi - ctx->shard_lo;
    step_job j = {.ctx = ctx, .n = n, .lo = ctx->shard_lo};
    pf_sample *smp = sample_served(ctx, n, err);
    int rc = -1;
    if (!smp)
        return -1;
    j.s = smp;
    if (with_digests) {
        j.dg = calloc((size_t)nb, sizeof *j.dg);
        if (!j.dg) {
            pf_fail(err, ENOMEM, "out of memory");
            goto out;
        }
        if (pf_parallel_for(ctx->shard_lo, ctx->shard_hi, sample_threads(ctx), digest_sample, &j,
                            err) != 0)
            goto out;
    }
    *out = make_meta_json(ctx, n, smp, (const uint64_t(*)[2])j.dg);
    rc = *out ? 0 : pf_fail(err, ENOMEM, "out of memory");
out:
    free(smp);
    free(j.dg);
    return rc;
}

/* Marks voxels whose source position lies outside the case (padding). */
static void outside_mask(const pf_case *c, const double G[3][3], const double origin[3],
                         const int P[3], int z, unsigned char *mask)
{
    const int64_t *S = c->hdr.shape;
    for (int y = 0; y < P[1]; y++)
        for (int x = 0; x < P[2]; x++) {
            int out = 0;
            for (int d = 0; d < 3; d++) {
                double q = origin[d] + G[d][0] * z + G[d][1] * y + G[d][2] * x;
                out |= q < -0.5 || q > (double)S[d] - 0.5;
            }
            mask[(size_t)y * (size_t)P[2] + (size_t)x] = (unsigned char)out;
        }
}

/* preview.png of a step (one row per served position, the middle axial slice of its patch)
 * or of a case (one row, the middle slice of the whole case). */
static int produce_preview(pf_ctx *ctx, const pf_node *n, char **out, size_t *len,
                           pf_error *err)
{
    const int C = ctx->ds.n_channels;
    const int is_case = n->kind == PF_NODE_CASE_FILE;
    const pf_case_header *h0 = is_case ? &ctx->cache.cases[n->case_idx].hdr : NULL;
    const int rows = is_case ? 1 : ctx->shard_hi - ctx->shard_lo;
    const int H = is_case ? (int)h0->shape[1] : ctx->patch[1];
    const int W = is_case ? (int)h0->shape[2] : ctx->patch[2];
    const size_t plane = (size_t)H * (size_t)W, nv = is_case ? plane : patch_voxels(ctx);
    pf_sample *smp = is_case ? NULL : sample_served(ctx, n, err);
    float *img = malloc(plane * (size_t)C * (size_t)rows * sizeof *img);
    int16_t *seg = malloc(plane * (size_t)rows * sizeof *seg);
    unsigned char *pad = calloc(plane * (size_t)rows, 1);
    float *full = malloc(nv * (size_t)C * sizeof *full);
    int16_t *fseg = malloc(nv * sizeof *fseg);
    pf_preview_input in = {rows, C, H, W, img, seg, pad};
    int rc = -1;
    if ((!is_case && !smp) || !img || !seg || !pad || !full || !fseg) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    for (int r = 0; r < rows; r++) {
        double G[3][3], origin[3];
        int z;
        if (is_case) {
            pf_case *c = &ctx->cache.cases[n->case_idx];
            int64_t start[3] = {h0->shape[0] / 2, 0, 0};
            int slice[3] = {1, H, W};
            if (use_case(ctx, (int)n->case_idx, err))
                goto out;
            pf_extract_image(c, &ctx->norms[n->case_idx * C], start, slice, img);
            pf_extract_seg(c, start, slice, seg);
            continue; /* a whole case has no padding */
        }
        {
            const pf_sample *sm = &smp[ctx->shard_lo + r];
            pf_aug_params params;
            int b = ctx->shard_lo + r;
            if (render_sample(ctx, n, b, sm, full, fseg, err) != 0)
                goto out;
            z = ctx->patch[0] / 2;
            for (int ch = 0; ch < C; ch++)
                memcpy(img + plane * ((size_t)r * (size_t)C + (size_t)ch),
                       full + nv * (size_t)ch + plane * (size_t)z, plane * sizeof *img);
            memcpy(seg + plane * (size_t)r, fseg + plane * (size_t)z, plane * sizeof *seg);
            pf_aug_grid(aug_params(ctx, n, b, &params) ? &params : NULL, sm->start, ctx->patch,
                        G, origin);
            outside_mask(&ctx->cache.cases[sm->case_idx], (const double(*)[3])G, origin,
                         ctx->patch, z, pad + plane * (size_t)r);
        }
    }
    rc = pf_preview_png(&in, out, len, err);
out:
    free(smp);
    free(img);
    free(seg);
    free(pad);
    free(full);
    free(fseg);
    return rc;
}

/* sample_K/image.nii.gz or label.nii.gz: the sample's arrays with an affine that places every
 * voxel where it came from in the source volume (a shifted box for plain crops; rotated,
 * scaled and mirrored grids for augmented samples). */
static int produce_sample_nifti(pf_ctx *ctx, const pf_node *n, char **out, size_t *len,
                                pf_error *err)
{
    const int C = ctx->ds.n_channels, is_label = n->file == PF_FILE_NII_LABEL;
    const int b = ctx->shard_lo + (int)n->sample;
    const size_t nv = patch_voxels(ctx);
    pf_sample *smp = sample_served(ctx, n, err), *sm;
    pf_aug_params params;
    pf_nifti_patch p;
    pf_case *c;
    void *data = NULL;
    int rc = -1;
    if (!smp)
        return -1;
    sm = &smp[b];
    c = &ctx->cache.cases[sm->case_idx];
    data = malloc(nv * (is_label ? sizeof(int16_t) : (size_t)C * sizeof(float)));
    if (!data) {
        pf_fail(err, ENOMEM, "out of memory");
        goto out;
    }
    if (render_sample(ctx, n, b, sm, is_label ? NULL : data, is_label ? data : NULL, err) != 0)
        goto out;
    memset(&p, 0, sizeof p);
    p.channels = is_label ? 1 : C;
    p.is_label = is_label;
    pf_aug_grid(aug_params(ctx, n, b, &params) ? &params : NULL, sm->start, ctx->patch, p.grid,
                p.origin);
    for (int d = 0; d < 3; d++) {
        p.shape[d] = ctx->patch[d];
        p.spacing[d] = c->hdr.spacing[d];
        p.origin[d] += (double)c->hdr.crop_lo[d];
    }
    memcpy(p.affine, c->hdr.affine, sizeof p.affine);
    p.data = data;
    rc = pf_nifti_patch_gz(&p, out, len, err);
out:
    free(smp);
    free(data);
    return rc;
}

/* status.json: every number padded to 20 characters, so the size never changes while the
 * content does (the FUSE layer serves it uncached). */
static char *make_status(const pf_ctx *ctx)
{
    pf_status st;
    char *s;
    memset(&st, 0, sizeof st);
    if (ctx->status_fn)
        ctx->status_fn(ctx->status_arg, &st);
#define F "%20llu"
    if (asprintf(&s,
                 "{\n"
                 "  \"mounted_at_unix_ms\": " F ",\n"
                 "  \"uptime_ms\": " F ",\n"
                 "  \"files_opened\": " F ",\n"
                 "  \"files_generated\": " F ",\n"
                 "  \"memory_cache_hits\": " F ",\n"
                 "  \"memory_cache_bytes\": " F ",\n"
                 "  \"bytes_served\": " F ",\n"
                 "  \"read_requests\": " F ",\n"
                 "  \"errors\": " F ",\n"
                 "  \"generate_us_p50\": " F ",\n"
                 "  \"generate_us_p90\": " F ",\n"
                 "  \"generate_us_p99\": " F ",\n"
                 "  \"generate_us_max\": " F "\n"
                 "}\n",
                 (unsigned long long)st.mounted_at_unix_ms, (unsigned long long)st.uptime_ms,
                 (unsigned long long)st.files_opened, (unsigned long long)st.files_generated,
                 (unsigned long long)st.cache_hits, (unsigned long long)st.memory_cache_bytes,
                 (unsigned long long)st.bytes_served, (unsigned long long)st.read_requests,
                 (unsigned long long)st.errors, (unsigned long long)st.generate_p50_us,
                 (unsigned long long)st.generate_p90_us, (unsigned long long)st.generate_p99_us,
                 (unsigned long long)st.generate_max_us) < 0)
        return NULL;
#undef F
    return s;
}

int pf_file_size(pf_ctx *ctx, const pf_node *n, uint64_t *size, pf_error *err)
{
    const char *small = small_file(ctx, n);
    char *buf = NULL;
    int64_t shape[5];
    if (small) {
        *size = strlen(small);
        return 0;
    }
    switch (n->kind) {
    case PF_NODE_STATUS:
    case PF_NODE_SUMMARY:
        break; /* generated below: cheap, no pixel data */
    case PF_NODE_STEP_FILE:
    case PF_NODE_SAMPLE_FILE:
        if (n->kind == PF_NODE_STEP_FILE && n->file >= PF_FILE_SEG_DS1) {
            int nd, ds[3];
            ds_shape(ctx, n, shape, &nd, ds);
            *size = pf_npy_file_size(PF_DT_I2, nd, shape);
            return 0;
        }
        if (n->file == PF_FILE_DATA || n->file == PF_FILE_SEG) {
            int nd = step_shape(ctx, n, shape);
            *size = pf_npy_file_size(n->file == PF_FILE_DATA ? PF_DT_F4 : PF_DT_I2, nd, shape);
            return 0;
        }
        if (n->kind == PF_NODE_SAMPLE_FILE) {
            int64_t p3[3] = {ctx->patch[0], ctx->patch[1], ctx->patch[2]};
            *size = pf_nifti_patch_size(ctx->ds.n_channels, n->file == PF_FILE_NII_LABEL, p3);
            return 0;
        }
        if (n->file == PF_FILE_PREVIEW)
            return pf_preview_png_size(ctx->shard_hi - ctx->shard_lo, ctx->ds.n_channels,
                                       ctx->patch[1], ctx->patch[2], size, err);
        /* meta.json: digests are fixed width, so zeros give the size */
        if (produce_meta(ctx, n, 0, &buf, err))
            return -1;
        *size = strlen(buf);
        free(buf);
        return 0;
    case PF_NODE_CASE_FILE:
        if (n->file == PF_FILE_DATA || n->file == PF_FILE_SEG) {
            case_shape(ctx, n->case_idx, n->file, shape);
            *size = pf_npy_file_size(n->file == PF_FILE_DATA ? PF_DT_F4 : PF_DT_I2, 4, shape);
            return 0;
        }
        if (n->file == PF_FILE_PREVIEW) {
            const pf_case_header *h = &ctx->cache.cases[n->case_idx].hdr;
            return pf_preview_png_size(1, ctx->ds.n_channels, (int)h->shape[1], (int)h->shape[2],
                                       size, err);
        }
        break; /* properties.json */
    default:
        return pf_fail(err, EISDIR, "not a file");
    }
    {
        size_t len;
        if (pf_produce(ctx, n, &buf, &len, err))
            return -1;
        free(buf);
        *size = len;
        return 0;
    }
}

int pf_produce(pf_ctx *ctx, const pf_node *n, char **buf, size_t *len, pf_error *err)
{
    const char *small = small_file(ctx, n);
    char *s = NULL;
    if (small) {
        s = strdup(small);
    } else if (n->kind == PF_NODE_STATUS) {
        s = make_status(ctx);
    } else if (n->kind == PF_NODE_SUMMARY) {
        json_t *j = pf_epoch_summary(ctx, (pf_split)n->split, n->epoch);
        s = j ? dump(j) : NULL;
    } else if (n->kind == PF_NODE_STEP_FILE && n->file >= PF_FILE_SEG_DS1) {
        return produce_step_ds(ctx, n, buf, len, err);
    } else if (n->kind == PF_NODE_STEP_FILE && n->file == PF_FILE_META) {
        if (produce_meta(ctx, n, 1, &s, err))
            return -1;
    } else if ((n->kind == PF_NODE_STEP_FILE || n->kind == PF_NODE_CASE_FILE) &&
               n->file == PF_FILE_PREVIEW) {
        return produce_preview(ctx, n, buf, len, err);
    } else if (n->kind == PF_NODE_SAMPLE_FILE && n->file >= PF_FILE_NII_IMAGE) {
        return produce_sample_nifti(ctx, n, buf, len, err);
    } else if (n->kind == PF_NODE_CASE_FILE && n->file == PF_FILE_META) {
        s = make_properties_json(ctx, n->case_idx);
    } else if (n->kind == PF_NODE_STEP_FILE || n->kind == PF_NODE_SAMPLE_FILE) {
        return produce_step_array(ctx, n, buf, len, err);
    } else if (n->kind == PF_NODE_CASE_FILE) {
        return produce_case_array(ctx, n, buf, len, err);
    } else {
        return pf_fail(err, EISDIR, "not a file");
    }
    if (!s)
        return pf_fail(err, ENOMEM, "out of memory");
    *buf = s;
    *len = strlen(s);
    return 0;
}
