/* texts.c - the small text files of the tree: README.txt, patchfs.json, splits.json, a step's
 * meta.json, a case's properties.json, status.json, and `patchfs check`'s report (see texts.h).
 * JSON is written with jansson in a fixed key order, so the bytes are a function of the
 * context alone. */
#include "texts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "render.h"
#include "rng.h"
#include "simd.h"
#include "patchfs/files.h"

static json_t *int_array(const int64_t *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static json_t *seed_value(uint64_t seed)
{
    char buf[32];
    if (seed <= INT64_MAX)
        return json_integer((json_int_t)seed);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)seed);
    return json_string(buf);
}

char *pf_text_dump(json_t *j)
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

/* The options in effect, written by the options table. meta.json (full = 0) lists only those
 * that shape a step's content, so changing steps or epochs does not change the bytes of
 * existing steps. */
static json_t *options_json(const pf_ctx *ctx, int full)
{
    pf_options_derived dv;
    memcpy(dv.patch, ctx->patch, sizeof dv.patch);
    memcpy(dv.aug_patch, ctx->sampler.aug_patch, sizeof dv.aug_patch);
    return pf_options_json(&ctx->opt, full ? PF_OPT_CONTENT | PF_OPT_TREE : PF_OPT_CONTENT, &dv);
}

/* The names of the keys of options_json(ctx, 1) that shape the bytes of served files (those of
 * options_json(ctx, 0), which meta.json repeats): a client that checks it resumes on the same
 * content (python/patchfs) reads the list from the mount instead of keeping one of its own. */
static json_t *content_option_names(const pf_ctx *ctx)
{
    json_t *content = options_json(ctx, 0), *names = json_array(), *v;
    const char *key;
    if (!content || !names) {
        json_decref(content);
        json_decref(names);
        return NULL;
    }
    json_object_foreach(content, key, v) {
        if (json_array_append_new(names, json_string(key)) != 0) {
            json_decref(names);
            names = NULL;
            break;
        }
    }
    json_decref(content);
    return names;
}

static json_t *id_list(const pf_ctx *ctx, const int *idx, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(ctx->ds.cases[idx[i]].id));
    return a;
}

/* [{"name": "whole_tumor", "labels": [1, 2, 3], "class_order": 1}, ...] */
static json_t *regions_json(const pf_dataset *ds)
{
    json_t *a = json_array();
    for (int r = 0; r < ds->n_regions; r++) {
        json_t *e = json_object(), *l = json_array();
        for (int k = 0; k < ds->region_n[r]; k++)
            json_array_append_new(l, json_integer(ds->region_labels[r][k]));
        json_object_set_new(e, "name", json_string(ds->region_names[r]));
        json_object_set_new(e, "labels", l);
        json_object_set_new(e, "class_order", json_integer(ds->regions_class_order[r]));
        json_array_append_new(a, e);
    }
    return a;
}

char *pf_text_patchfs_json(const pf_ctx *ctx)
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
        const pf_channel_norm *cn = &ctx->norm.channel[c];
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
    if (ctx->ds.n_regions) /* nnU-Net's region training: the seg channels, in order */
        json_object_set_new(ds, "regions", regions_json(&ctx->ds));
    if (ctx->ds.ignore_label >= 0)
        json_object_set_new(ds, "ignore_label", json_integer(ctx->ds.ignore_label));
    json_object_set_new(ds, "median_relative_size_after_cropping",
                        json_real(ctx->norm.median_relative_size));
    json_object_set_new(j, "dataset", ds);
    json_object_set_new(j, "options", options_json(ctx, 1));
    json_object_set_new(j, "content_options", content_option_names(ctx));
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
    return pf_text_dump(j);
}

char *pf_text_splits_json(const pf_ctx *ctx)
{
    json_t *j = json_object();
    json_object_set_new(j, "train", id_list(ctx, ctx->split.train, ctx->split.n_train));
    json_object_set_new(j, "val", id_list(ctx, ctx->split.val, ctx->split.n_val));
    return pf_text_dump(j);
}

/* "(4, 2, 32, 48, 32)" for a step file node */
static void shape_text(const pf_ctx *ctx, uint32_t slot, char *buf, size_t cap)
{
    pf_node n = {.kind = PF_NODE_STEP_FILE, .slot = slot};
    int64_t shape[5];
    int nd = pf_render_step_shape(ctx, &n, shape);
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < nd && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, ")");
}

char *pf_text_readme(const pf_ctx *ctx)
{
    char *s, fold[16], patch[64], shard[64] = "", dshape[96], sshape[96], given[1024], ds[64] = "";
    char geometry[256], segdesc[160], test[128] = "";
    const char *axes = ctx->opt.patch_2d ? "(B, C, Y, X)" : "(B, C, Z, Y, X)";
    const pf_geometry *g = &ctx->geom;
    int r;
    if (ctx->opt.fold == PF_FOLD_ALL)
        snprintf(fold, sizeof fold, "all");
    else
        snprintf(fold, sizeof fold, "%d", ctx->opt.fold);
    if (ctx->opt.patch_2d)
        snprintf(patch, sizeof patch, "%dx%d (2D: slices along the first axis)", ctx->patch[1],
                 ctx->patch[2]);
    else
        snprintf(patch, sizeof patch, "%dx%dx%d", ctx->patch[0], ctx->patch[1], ctx->patch[2]);
    if (ctx->opt.shard_world)
        snprintf(shard, sizeof shard, " shard=%d/%d (positions %d..%d of each batch)",
                 ctx->opt.shard_rank, ctx->opt.shard_world, ctx->shard_lo, ctx->shard_hi - 1);
    if (!g->spec.resample)
        snprintf(geometry, sizeof geometry, "the cases' own grids (spacing=native)");
    else
        snprintf(geometry, sizeof geometry, "nnU-Net's %s: spacing %gx%gx%g mm%s, axis order "
                 "[%d, %d, %d] (plans.json)", g->config->name, g->spec.target[0],
                 g->spec.target[1], g->spec.target[2],
                 g->spec.target[0] <= 0 ? " (slices keep their own)" : "", g->spec.transpose[0],
                 g->spec.transpose[1], g->spec.transpose[2]);
    /* every content option away from its default (the plan's patch and batch included), so the
     * line names all that shapes the bytes */
    if (pf_options_format_changed(&ctx->opt, PF_OPT_CONTENT, given, sizeof given) <= 0)
        snprintf(given, sizeof given, "none (the defaults)");
    if (ctx->n_ds > 1)
        snprintf(ds, sizeof ds, ", seg_ds1..%d.npy (deep supervision)", ctx->n_ds - 1);
    if (ctx->test_ds.n_cases)
        snprintf(test, sizeof test, "  test/ID/{data.npy,properties.json,preview.png,tiles.json,"
                 "tiles/}  images to predict (%d)\n", ctx->test_ds.n_cases);
    shape_text(ctx, 0, dshape, sizeof dshape);
    shape_text(ctx, 1, sshape, sizeof sshape);
    if (ctx->ds.n_regions)
        snprintf(segdesc, sizeof segdesc, "regions, a channel each (dataset.json order%s): 1 "
                 "in the region, else 0; %d outside the case",
                 ctx->ds.ignore_label >= 0 ? ", the last the ignore label" : "",
                 ctx->opt.seg_outside_zero ? 0 : -1);
    else
        snprintf(segdesc, sizeof segdesc, "labels, %d = outside the case",
                 ctx->opt.seg_outside_zero ? 0 : -1);
    r = asprintf(&s,
        "patchfs %s - deterministic nnU-Net training batches of %s (format %d)\n"
        "\n"
        "Every file here is generated on read from the dataset and the options below; the same\n"
        "options and path give the same bytes on any machine, in any read order.\n"
        "\n"
        "  grid:    %s\n"
        "  batches: seed=%llu patch=%s batch=%d oversample=%s fold=%s sampler=%s%s\n"
        "  content options set: %s\n"
        "  tree:    steps=%u val_steps=%u epochs=%u\n"
        "\n"
        "  train/epoch_E/step_S/data.npy   %s %s  image patches %s\n"
        "  train/epoch_E/step_S/seg.npy    int16   %s  %s\n"
        "  train/epoch_E/step_S/           also meta.json (case, forced flag, class, voxel, box and\n"
        "                                  augmentation per position), preview.png%s,\n"
        "                                  batch.npz (the step's arrays in one stored zip)\n"
        "  train/epoch_E/step_S/sample_K/  data.npy, seg.npy, image.nii.gz, label.nii.gz of one\n"
        "                                  position\n"
        "  train/epoch_E/summary.json      draws per case and class over the epoch\n"
        "  val/epoch_E/step_S/...          the same over the fold's %d validation cases\n"
        "  cases/ID/{data.npy,seg.npy,properties.json,preview.png}  whole preprocessed cases (%d)\n"
        "  cases/ID/tiles.json, tiles/T/data.npy  nnU-Net's sliding-window tiles of a case\n"
        "%s"
        "  gaussian.npy                    the tiles' importance map (nnU-Net's Gaussian)\n"
        "  plans.json                      nnU-Net's plan (nnUNetPlans.json)\n"
        "  splits.json                     train/val case lists of the fold (%s)\n"
        "  patchfs.json                    options, normalisation, dataset fingerprint\n"
        "  status.json                     live counters of this mount\n"
        "\n"
        "Read a batch:\n"
        "  python3 -c \"import numpy as np; print(np.load('train/epoch_0/step_0/data.npy').shape)\"\n"
        "  head -c 128 train/epoch_0/step_0/data.npy     # .npy header: dtype and shape\n"
        "\n"
        "The mount is read-only. Unmount with: fusermount3 -u MOUNTPOINT\n",
        PATCHFS_VERSION, ctx->ds.name, PF_FORMAT_VERSION, geometry,
        (unsigned long long)ctx->opt.seed, patch, ctx->opt.batch, ctx->opt.oversample_text, fold,
        pf_policy_name(ctx->opt.policy), shard, given, ctx->opt.steps, ctx->opt.val_steps,
        ctx->opt.epochs, ctx->opt.data_f16 ? "float16" : "float32", dshape, axes, sshape,
        segdesc, ds, ctx->split.n_val, ctx->ds.n_cases, test, ctx->split.source);
    return r < 0 ? NULL : s;
}

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
    /* augmented as nnU-Net's "dummy 2D": in-plane rotation and scaling, mirroring and blur 3D */
    json_object_set_new(j, "dummy_2d", json_boolean(p->dummy_2d));
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
/* floor(a / b) for b > 0, a of either sign */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

char *pf_text_meta_json(const pf_ctx *ctx, const pf_node *n, const pf_sample *s,
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
            /* in voxels of the (transposed) source volume: scaled back when resampled */
            src_start[d] = h->crop_lo[d] + floor_div(p->start[d] * h->crop_shape[d], S[d]);
            src_end[d] = h->crop_lo[d] + floor_div(p->end[d] * h->crop_shape[d], S[d]);
        }
        for (int k = 0; k < 2; k++)
            snprintf(hex[k], sizeof hex[k], "%016llx",
                     digests ? (unsigned long long)digests[b - ctx->shard_lo][k] : 0ULL);
        json_object_set_new(e, "position", json_integer(b));
        json_object_set_new(e, "case", json_string(ctx->ds.cases[p->case_idx].id));
        json_object_set_new(e, "forced", json_boolean(p->forced));
        json_object_set_new(e, "class", p->label >= 0 ? json_integer(p->label) : json_null());
        if (ctx->ds.n_regions || ctx->ds.ignore_label >= 0) /* a region's or "annotated" */
            json_object_set_new(e, "class_name", p->label >= 0
                                ? json_string(pf_dataset_class_name(&ctx->ds, p->label))
                                : json_null());
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
            if (pf_render_aug_params(ctx, n, b, &ap))
                json_object_set_new(e, "augmentation", aug_json(ctx, &ap));
        }
        json_array_append_new(pos, e);
    }
    json_object_set_new(j, "positions", pos);
    return pf_text_dump(j);
}

int pf_make_meta(pf_ctx *ctx, const pf_node *n, int with_digests, char **out, pf_error *err)
{
    const int nb = ctx->shard_hi - ctx->shard_lo;
    uint64_t (*dg)[2] = NULL;
    pf_sample *smp = pf_render_batch(ctx, n, err);
    int rc = -1;
    if (!smp)
        return -1;
    if (with_digests && (!(dg = pf_calloc((size_t)nb, sizeof *dg, err)) ||
                         pf_render_digests(ctx, n, smp, dg, err) != 0))
        goto out;
    *out = pf_text_meta_json(ctx, n, smp, (const uint64_t(*)[2])dg);
    rc = *out ? 0 : pf_fail(err, ENOMEM, "out of memory");
out:
    free(smp);
    free(dg);
    return rc;
}

static json_t *real_array(const double *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

/* properties.json of a case: its preprocessed grid and everything needed to go back to the
 * source grid (nnU-Net's properties: shape_before_cropping, bbox_used_for_cropping,
 * shape_after_cropping_and_before_resampling, spacings, transposes), in transposed order. */
char *pf_text_properties_json(const pf_ctx *ctx, uint32_t split, uint32_t idx)
{
    const pf_case *c = &pf_ctx_cache_of_c(ctx, split)->cases[idx];
    const pf_case_header *h = &c->hdr;
    json_t *j = json_object(), *aff = json_array(), *box = json_array(), *cls = json_object();
    json_t *norm = json_array();
    int64_t tf[3], tb[3];
    for (int d = 0; d < 3; d++) {
        tf[d] = h->transpose[d];
        tb[h->transpose[d]] = d;
    }
    json_object_set_new(j, "id", json_string(h->id));
    json_object_set_new(j, "shape", int_array(h->shape, 3));
    json_object_set_new(j, "spacing", real_array(h->spacing, 3));
    json_object_set_new(j, "shape_before_cropping", int_array(h->orig_shape, 3));
    for (int d = 0; d < 3; d++) {
        int64_t b[2] = {h->crop_lo[d], h->crop_lo[d] + h->crop_shape[d]};
        json_array_append_new(box, int_array(b, 2));
    }
    json_object_set_new(j, "bbox_used_for_cropping", box);
    json_object_set_new(j, "shape_after_cropping_and_before_resampling",
                        int_array(h->crop_shape, 3));
    json_object_set_new(j, "source_spacing", real_array(h->src_spacing, 3));
    json_object_set_new(j, "transpose_forward", int_array(tf, 3));
    json_object_set_new(j, "transpose_backward", int_array(tb, 3));
    json_object_set_new(j, "separate_z_axis", h->separate_z ? json_integer(h->z_axis)
                                                            : json_null());
    for (int r = 0; r < 4; r++) {
        json_t *row = json_array();
        for (int k = 0; k < 4; k++)
            json_array_append_new(row, json_real(h->affine[r * 4 + k]));
        json_array_append_new(aff, row);
    }
    json_object_set_new(j, "source_affine", aff);
    for (uint32_t k = 0; k < h->n_classes; k++) {
        char key[256];
        if (ctx->ds.n_regions || c->classes[k].label == PF_CLASS_ANNOTATED)
            snprintf(key, sizeof key, "%s", pf_dataset_class_name(&ctx->ds, c->classes[k].label));
        else
            snprintf(key, sizeof key, "%d", c->classes[k].label);
        json_object_set_new(cls, key, json_integer((json_int_t)c->classes[k].voxels));
    }
    json_object_set_new(j, "class_voxels", cls);
    for (uint32_t ch = 0; ch < h->n_channels; ch++) {
        const pf_channel_norm *cn = &ctx->norm.channel[ch];
        json_t *e = json_object();
        json_object_set_new(e, "channel", json_string(ctx->ds.channel_names[ch]));
        json_object_set_new(e, "scheme", json_string(pf_scheme_name(cn->scheme)));
        json_object_set_new(e, "shift", json_real(h->norm_shift[ch]));
        json_object_set_new(e, "scale", json_real(h->norm_scale[ch]));
        json_object_set_new(e, "masked", json_boolean(cn->use_mask));
        json_array_append_new(norm, e);
    }
    json_object_set_new(j, "normalization", norm);
    return pf_text_dump(j);
}

/* status.json (files.h): numbers padded to 20 characters, so the size is constant; "simd" is
 * the vector path the sampling kernels take. */
char *pf_status_json(const pf_status *s_in)
{
    const pf_status st = *s_in;
    char *s, simd[16];
    /* the kernels' vector path (base/simd.h), quoted, padded to the widest name ("scalar") */
    snprintf(simd, sizeof simd, "\"%s\"", pf_simd_name(pf_simd_active()));
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
                 "  \"errors_io\": " F ",\n"
                 "  \"errors_nomem\": " F ",\n"
                 "  \"errors_other\": " F ",\n"
                 "  \"generate_us_p50\": " F ",\n"
                 "  \"generate_us_p90\": " F ",\n"
                 "  \"generate_us_p99\": " F ",\n"
                 "  \"generate_us_max\": " F ",\n"
                 "  \"simd\": %-8s\n"
                 "}\n",
                 (unsigned long long)st.mounted_at_unix_ms, (unsigned long long)st.uptime_ms,
                 (unsigned long long)st.files_opened, (unsigned long long)st.files_generated,
                 (unsigned long long)st.cache_hits, (unsigned long long)st.memory_cache_bytes,
                 (unsigned long long)st.bytes_served, (unsigned long long)st.read_requests,
                 (unsigned long long)st.errors, (unsigned long long)st.errors_io,
                 (unsigned long long)st.errors_nomem, (unsigned long long)st.errors_other,
                 (unsigned long long)st.generate_p50_us,
                 (unsigned long long)st.generate_p90_us, (unsigned long long)st.generate_p99_us,
                 (unsigned long long)st.generate_max_us, simd) < 0)
        return NULL;
#undef F
    return s;
}

char *pf_ctx_check_report(const pf_ctx *ctx)
{
    char *text = NULL, fold[16];
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (!f)
        return NULL;
    if (ctx->opt.fold == PF_FOLD_ALL)
        snprintf(fold, sizeof fold, "all");
    else
        snprintf(fold, sizeof fold, "%d", ctx->opt.fold);
    fprintf(f, "dataset %s (%s layout): %d cases, %d channel%s, ", ctx->ds.name,
            ctx->ds.layout == PF_LAYOUT_MSD ? "Decathlon" : "nnU-Net", ctx->ds.n_cases,
            ctx->ds.n_channels, ctx->ds.n_channels == 1 ? "" : "s");
    pf_dataset_print_labels(&ctx->ds, f);
    fprintf(f, "\nchannels:");
    for (int c = 0; c < ctx->ds.n_channels; c++)
        fprintf(f, " %s (%s%s)", ctx->ds.channel_names[c],
                pf_scheme_name(ctx->norm.channel[c].scheme),
                ctx->norm.channel[c].use_mask ? ", masked" : "");
    fprintf(f, "\nfold %s: %d train, %d val (%s); patch %dx%dx%d\n\n", fold, ctx->split.n_train,
            ctx->split.n_val, ctx->split.source, ctx->patch[0], ctx->patch[1], ctx->patch[2]);
    fprintf(f, "%-28s %-15s %-15s %-20s %s\n", "case", "shape (ZYX)", "cropped",
            "spacing (ZYX mm)", "classes (label:voxels)");
    for (int i = 0; i < ctx->ds.n_cases; i++) {
        const pf_case *c = &ctx->cache.cases[i];
        const pf_case_header *h = &c->hdr;
        char shape[32], crop[32], sp[48];
        snprintf(shape, sizeof shape, "%lldx%lldx%lld", (long long)h->orig_shape[0],
                 (long long)h->orig_shape[1], (long long)h->orig_shape[2]);
        snprintf(crop, sizeof crop, "%lldx%lldx%lld", (long long)h->shape[0],
                 (long long)h->shape[1], (long long)h->shape[2]);
        snprintf(sp, sizeof sp, "%.3gx%.3gx%.3g", h->spacing[0], h->spacing[1], h->spacing[2]);
        fprintf(f, "%-28s %-15s %-15s %-20s", h->id, shape, crop, sp);
        if (h->n_classes == 0)
            fprintf(f, " (no foreground)");
        for (uint32_t k = 0; k < h->n_classes; k++)
            pf_dataset_print_class(&ctx->ds, f, c->classes[k].label, c->classes[k].voxels);
        fprintf(f, "\n");
    }
    for (int i = 0; i < ctx->n_skipped; i++)
        fprintf(f, "%-28s SKIPPED: %s\n", ctx->skipped[i].id, ctx->skipped[i].reason);
    fprintf(f, "\nOK: %d cases usable%s\n", ctx->ds.n_cases, ctx->n_skipped ? " (skip_bad)" : "");
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
