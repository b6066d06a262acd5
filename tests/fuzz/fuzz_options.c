/* fuzz_options.c - libFuzzer target for the option parser and the option table (options.h).
 *
 * The input is used four ways:
 *  1. as a whole `-o` list for pf_options_parse_list;
 *  2. split at the first '=' (or not) into key and value for pf_options_set, with the value
 *     also passed as NULL (a bare flag);
 *  3. its first byte picks a row of the option table and the rest is that option's value,
 *     so every option is reached without the fuzzer first finding its name;
 *  4. as a string for pf_parse_u64, compared with an independent reference parser.
 * What 1 leaves is then printed, checked across options and written as JSON; what 3 leaves
 * is printed back.
 *
 * Properties checked (a violation aborts):
 *  - no out-of-bounds access, leak (LeakSanitizer) or undefined behaviour on any input;
 *  - whatever is accepted leaves every option inside the range, names or syntax its table
 *    row declares (or at its default), and the oversample text kept for provenance parses
 *    back to the oversample value;
 *  - a failing call leaves an error message naming the problem (non-empty) and an errno;
 *  - every option prints back (pf_options_format) to text that parses to the same option;
 *  - pf_options_validate answers 0 or -1 with a message; notes are non-empty single lines;
 *    pf_options_json gives an object for every `which`;
 *  - pf_parse_u64 accepts exactly canonical decimals ("0" or no leading zero) <= max, with
 *    the right value.
 *
 * Fixed bugs keep their reproducers in tests/fuzz/regressions/fuzz_options/. With
 * PF_FUZZ_SKIP_KNOWN=1 in the environment the checks of known open bugs are skipped (none is
 * open now), so a campaign can look for other bugs while one is. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *input)
{
    fprintf(stderr, "fuzz_options: %s (input \"%s\")\n", what, input);
    abort();
}

static int skip_known(void)
{
    const char *v = getenv("PF_FUZZ_SKIP_KNOWN");
    return v && !strcmp(v, "1");
}

/* the field of a regular row, widened */
static uint64_t row_uint(const pf_options *o, const pf_option_desc *d)
{
    if (d->size == sizeof(uint64_t)) {
        uint64_t v;
        memcpy(&v, (const char *)o + d->offset, sizeof v);
        return v;
    } else {
        uint32_t v;
        memcpy(&v, (const char *)o + d->offset, sizeof v);
        return v;
    }
}

static double row_double(const pf_options *o, const pf_option_desc *d)
{
    double v;
    memcpy(&v, (const char *)o + d->offset, sizeof v);
    return v;
}

/* Every regular row from the table: in its range or names, or at its default. */
static void check_rows(const pf_options *o, const char *input)
{
    size_t n;
    const pf_option_desc *t = pf_options_table(&n);
    pf_options def;
    pf_options_init(&def);
    for (size_t i = 0; i < n; i++) {
        const pf_option_desc *d = &t[i];
        if (!d->size)
            continue; /* irregular: check_ranges below */
        switch (d->type) {
        case PF_OT_UINT:
        case PF_OT_SIZE: {
            uint64_t v = row_uint(o, d);
            if ((v < d->umin || v > d->umax) && v != row_uint(&def, d))
                die(d->name, input);
            break;
        }
        case PF_OT_DOUBLE: {
            double v = row_double(o, d);
            if (!(v >= d->dmin && v <= d->dmax) && v != row_double(&def, d))
                die(d->name, input);
            break;
        }
        case PF_OT_ENUM: {
            uint64_t v = row_uint(o, d), k = 0;
            while (d->names[k])
                k++;
            if (v >= k)
                die(d->name, input);
            break;
        }
        case PF_OT_FLAG:
            if (row_uint(o, d) > 1)
                die(d->name, input);
            break;
        default:
            break;
        }
    }
}

/* The irregular options (the regular ones: check_rows). */
static void check_ranges(const pf_options *o, const char *input)
{
    int auto_patch = o->patch[0] == 0 && o->patch[1] == 0 && o->patch[2] == 0;
    check_rows(o, input);
    if (!auto_patch)
        for (int i = 0; i < 3; i++)
            if (o->patch[i] < 1 || o->patch[i] > PF_MAX_PATCH)
                die("patch side out of range", input);
    if (o->patch_2d && o->patch[0] != 1)
        die("2D patch with a Z side other than 1", input);
    if (o->fold < PF_FOLD_ALL || o->fold > 1000000)
        die("fold out of range", input);
    if (o->n_class_weights < 0 || o->n_class_weights > PF_MAX_CLASS_WEIGHTS)
        die("class weight count out of range", input);
    for (int i = 0; i < o->n_class_weights; i++) {
        if (o->class_weights[i].label < 1 || o->class_weights[i].label > 32767)
            die("class weight label out of 1..32767", input);
        if (o->class_weights[i].weight > UINT64_C(1000000) * 1000000 + 999999)
            die("class weight above 1000000", input);
        for (int k = 0; k < i; k++)
            if (o->class_weights[k].label == o->class_weights[i].label)
                die("class weight label given twice", input);
    }
    if (o->n_ds < 0 || o->n_ds > PF_MAX_DS || (o->n_ds && o->ds_scales[0] != 1.0))
        die("ds_scales count or first scale", input);
    for (int i = 0; i < o->n_ds; i++)
        if (!(o->ds_scales[i] >= 1e-3 && o->ds_scales[i] <= 1.0))
            die("ds scale out of range", input);
    if (o->shard_world == 0 ? o->shard_rank != 0
                            : (o->shard_world < 0 || o->shard_world > PF_MAX_BATCH ||
                               o->shard_rank < 0 || o->shard_rank >= o->shard_world))
        die("shard out of range", input);
    if (!(o->aug_rot_lo <= o->aug_rot_hi) && o->aug_rot_set)
        die("aug_rotation LO > HI", input);
    if (!(o->aug_scale_lo <= o->aug_scale_hi && o->aug_scale_lo >= 0.05))
        die("aug_scaling out of range", input);
    if (o->debug && !o->foreground)
        die("debug without foreground", input);
    /* the oversample text is kept "as given, for provenance": it must still name the value */
    if (!memchr(o->oversample_text, '\0', sizeof o->oversample_text))
        die("oversample_text not terminated", input);
    if (!skip_known()) {
        char *end;
        double back = strtod(o->oversample_text, &end);
        if (*end || back != o->oversample)
            die("oversample_text does not parse back to the oversample value", input);
    }
    if (o->cache_dir && !o->cache_dir[0])
        die("empty cache directory accepted", input);
}

static void check_error(int rc, const pf_error *err, const char *input)
{
    if (rc != 0 && rc != -1)
        die("return value is neither 0 nor -1", input);
    if (rc == -1 && (!err->msg[0] || err->errnum == 0))
        die("failure without a message or errno", input);
}

static void check_note(void *arg, const char *msg)
{
    if (!msg[0] || strchr(msg, '\n'))
        die("empty or multi-line note", arg);
}

/* One option printed back (pf_options_format) must parse to the same option. */
static void check_round_trip(const pf_options *o, const pf_option_desc *d, const char *input)
{
    char text[4096], again[4096];
    pf_options back;
    pf_error err = {0};
    int r = pf_options_format(o, d, text, sizeof text);
    if (r < 0 && d->type != PF_OT_PATH) /* only a path can be that long */
        die("an option does not fit 4096 characters of text", input);
    if (r <= 0 || d->type == PF_OT_WORD)
        return;
    pf_options_init(&back);
    if (pf_options_set(&back, d->name, d->type == PF_OT_FLAG ? NULL : text, &err) != 0)
        die("an option's printed value does not parse back", input);
    if (pf_options_format(&back, d, again, sizeof again) != 1 || strcmp(text, again))
        die("an option's printed value parses to another value", input);
    pf_options_free(&back);
}

/* Everything the rest of patchfs does with accepted options: print each one back and parse
 * it again, check them together, write them as JSON (one `which` per input, by `pick`, to
 * keep the target fast). */
static void use_options(const pf_options *o, const char *input, size_t pick)
{
    size_t n;
    const pf_option_desc *t = pf_options_table(&n);
    static const unsigned whichs[] = {PF_OPT_CONTENT, PF_OPT_CONTENT | PF_OPT_TREE,
                                      PF_OPT_CONTENT | PF_OPT_TREE | PF_OPT_SERVING};
    pf_options_derived dv = {{o->patch[0] ? o->patch[0] : 1, 64, 64}, {80, 80, 80}};
    pf_error err = {0};
    char text[4096];
    json_t *j;
    char *s;
    int rc;
    for (size_t i = 0; i < n; i++)
        if ((o->given[i / 32] >> (i % 32)) & 1) /* given (defaults: test_options.c) */
            check_round_trip(o, &t[i], input);
    rc = pf_options_validate(o, &err);
    check_error(rc, &err, input);
    pf_options_notes(o, check_note, (void *)input);
    if (pick % 8 == 0) { /* formats every option twice: slow under ASan */
        rc = pf_options_format_changed(o, PF_OPT_CONTENT | PF_OPT_TREE | PF_OPT_SERVING, text,
                                       sizeof text);
        if (rc < -1 || rc >= (int)sizeof text || (rc >= 0 && strlen(text) != (size_t)rc))
            die("pf_options_format_changed length", input);
    }
    j = pf_options_json(o, whichs[pick % 3], pick % 2 ? &dv : NULL);
    if (!j || !json_is_object(j))
        die("pf_options_json gave no object", input);
    s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (!s)
        die("pf_options_json's object does not dump", input);
    free(s);
    json_decref(j);
}

/* Reference: ^(0|[1-9][0-9]*)$ and value <= max, computed without overflow. */
static int ref_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    size_t len = strlen(s);
    uint64_t v = 0;
    if (len == 0 || (len > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9')
            return -1;
        d = (unsigned)(s[i] - '0');
        if (v > UINT64_MAX / 10 || v * 10 > UINT64_MAX - d)
            return -1;
        v = v * 10 + d;
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    pf_options o;
    pf_error err;
    int rc;
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0'; /* stops at an embedded NUL, as a C string from argv would */

    /* 1. a whole -o list */
    pf_options_init(&o);
    memset(&err, 0, sizeof err);
    rc = pf_options_parse_list(&o, s, &err);
    check_error(rc, &err, s);
    check_ranges(&o, s);
    use_options(&o, s, size);
    pf_options_free(&o);

    /* 2. one key=value, and the key as a bare flag */
    {
        char *eq = strchr(s, '=');
        char *key = strdup(s);
        if (key) {
            char *value = NULL;
            if (eq) {
                key[eq - s] = '\0';
                value = key + (eq - s) + 1;
            }
            pf_options_init(&o);
            memset(&err, 0, sizeof err);
            rc = pf_options_set(&o, key, value, &err);
            check_error(rc, &err, s);
            check_ranges(&o, s);
            memset(&err, 0, sizeof err);
            rc = pf_options_set(&o, key, NULL, &err);
            check_error(rc, &err, s);
            check_ranges(&o, s);
            pf_options_free(&o);
            free(key);
        }
    }

    /* 3. a row of the table and a value for it (no value if the rest is empty and the row is
     * a flag) */
    if (size > 0) {
        size_t n;
        const pf_option_desc *t = pf_options_table(&n);
        const pf_option_desc *d = &t[data[0] % n];
        const char *value = s[0] ? s + 1 : s; /* s is cut at the first NUL */
        if ((d->type == PF_OT_FLAG || d->type == PF_OT_WORD) && !*value)
            value = NULL;
        pf_options_init(&o);
        memset(&err, 0, sizeof err);
        rc = pf_options_set(&o, d->name, value, &err);
        check_error(rc, &err, s);
        if (rc == -1 && !strstr(err.msg, d->name))
            die("a refused value's message does not name its option", s);
        check_ranges(&o, s);
        check_round_trip(&o, d, s);
        pf_options_free(&o);
    }

    /* 4. the strict decimal parser against the reference, for a fuzzed max */
    {
        static const uint64_t maxes[] = {0, 1, 9, 10, 255, 4096, PF_MAX_STEPS, PF_MAX_CASES, 1000000,
                                         UINT64_MAX / 10, UINT64_MAX - 1, UINT64_MAX};
        uint64_t max = maxes[size % (sizeof maxes / sizeof maxes[0])];
        uint64_t got = 0, want = 0;
        int a, b;
        a = pf_parse_u64(s, max, &got);
        b = ref_parse_u64(s, max, &want);
        if ((a == 0) != (b == 0))
            die(a == 0 ? "pf_parse_u64 accepts what the reference rejects"
                       : "pf_parse_u64 rejects what the reference accepts", s);
        if (a == 0 && got != want)
            die("pf_parse_u64 returns the wrong value", s);
    }
    free(s);
    return 0;
}
