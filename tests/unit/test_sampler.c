/* test_sampler.c - nnU-Net's batch sampling arithmetic (sampler.h): the forced-foreground
 * count (Python round-half-even), get_bbox bounds worked by hand, and pf_sample_step on
 * in-memory cases: determinism, order independence, forced positions (class, stored voxel,
 * start = max(lb, v - P//2), no upper clamp), random crops within [lb, ub] with both ends
 * reached, the no-foreground fallback, and uniform case and class choice. */
#include "testutil.h"

#include "sampler.h"

/* ---- pf_forced_from ---- */

/* Expected values printed by /usr/bin/python3:
 *   [round(B * (1 - p)) for B in range(1, 13)]  for p in (0.33, 0.0, 1.0, 0.5, 0.25, 0.1)
 * Python's round() is round-half-even on the IEEE double product: e.g. p=0.5, B=5 -> 2.5 -> 2;
 * p=0.25, B=6 -> 4.5 -> 4; p=0.1, B=5 -> 4.5 -> 4; p=0.5, B=3 -> 1.5 -> 2. */
static void test_forced_from(void **state)
{
    static const struct { double p; int want[12]; } table[] = {
        {0.33, {1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8}},
        {0.0, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
        {1.0, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
        {0.5, {0, 1, 2, 2, 2, 3, 4, 4, 4, 5, 6, 6}},
        {0.25, {1, 2, 2, 3, 4, 4, 5, 6, 7, 8, 8, 9}},
        {0.1, {1, 2, 3, 4, 4, 5, 6, 7, 8, 9, 10, 11}},
    };
    (void)state;
    for (size_t t = 0; t < sizeof table / sizeof table[0]; t++)
        for (int b = 1; b <= 12; b++)
            if (pf_forced_from(b, table[t].p) != table[t].want[b - 1])
                fail_msg("pf_forced_from(%d, %g) = %d, Python round gives %d", b, table[t].p,
                         pf_forced_from(b, table[t].p), table[t].want[b - 1]);
    /* nnunet-behaviour.md section 1 in words: B=1 none forced, B=2 position 1, B=3,4 the
     * last one, B=5,6 the last two, B=12 positions 8..11 */
    assert_int_equal(pf_forced_from(1, 0.33), 1);
    assert_int_equal(pf_forced_from(2, 0.33), 1);
    assert_int_equal(3 - pf_forced_from(3, 0.33), 1);
    assert_int_equal(4 - pf_forced_from(4, 0.33), 1);
    assert_int_equal(5 - pf_forced_from(5, 0.33), 2);
    assert_int_equal(6 - pf_forced_from(6, 0.33), 2);
    assert_int_equal(pf_forced_from(12, 0.33), 8);
}

/* ---- pf_bbox_bounds ---- */

/* Worked by hand from nnunet-behaviour.md section 1:
 *   if need + S < P: need = P - S;  lb = -ceil(need/2);  ub = S - P + ceil(need/2) */
static void test_bbox_bounds_by_hand(void **state)
{
    static const struct { int64_t shape, patch, need, lb, ub; } cases[] = {
        {10, 4, 0, 0, 6},     /* fits: need stays 0, start in [0, 10 - 4] */
        {3, 8, 0, -3, -2},    /* need becomes 5: lb -ceil(2.5) = -3, ub 3 - 8 + 3 = -2 */
        {20, 8, 3, -2, 14},   /* 3 + 20 >= 8: lb -2, ub 20 - 8 + 2 = 14 */
        {20, 8, 4, -2, 14},   /* ceil(4/2) = 2 */
        {8, 8, 0, 0, 0},      /* exactly fits: one start */
        {7, 8, 0, -1, 0},     /* need 1: lb -1, ub 7 - 8 + 1 = 0 */
        {5, 8, 2, -2, -1},    /* 2 + 5 < 8: need 3, lb -2, ub 5 - 8 + 2 = -1 */
        {100, 1, 0, 0, 99},
        {1, 1, 0, 0, 0},
        {1, 4, 0, -2, -1},    /* need 3: lb -2, ub 1 - 4 + 2 = -1 */
        {50, 20, 9, -5, 35},  /* need 9: lb -5, ub 50 - 20 + 5 = 35 */
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t lb = 12345, ub = 12345;
        pf_bbox_bounds(cases[i].shape, cases[i].patch, cases[i].need, &lb, &ub);
        if (lb != cases[i].lb || ub != cases[i].ub)
            fail_msg("shape %lld patch %lld need %lld: got [%lld, %lld], want [%lld, %lld]",
                     (long long)cases[i].shape, (long long)cases[i].patch,
                     (long long)cases[i].need, (long long)lb, (long long)ub,
                     (long long)cases[i].lb, (long long)cases[i].ub);
    }
}

/* Python floor division, to evaluate upstream's expressions as written. */
static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The same bounds over a grid, from nnU-Net's get_bbox source as written:
 *   lbs = -need // 2  (Python: (-need) // 2);  ubs = S + need // 2 + need % 2 - P */
static void upstream_bounds(int64_t s, int64_t p, int64_t need, int64_t *lb, int64_t *ub)
{
    if (need + s < p)
        need = p - s;
    *lb = floordiv(-need, 2);
    *ub = s + floordiv(need, 2) + need % 2 - p;
}

static void test_bbox_bounds_grid(void **state)
{
    (void)state;
    for (int64_t s = 1; s <= 40; s++)
        for (int64_t p = 1; p <= 40; p++)
            for (int64_t need = 0; need <= 9; need++) {
                int64_t lb, ub, wlb, wub;
                pf_bbox_bounds(s, p, need, &lb, &ub);
                upstream_bounds(s, p, need, &wlb, &wub);
                assert_int_equal(lb, wlb);
                assert_int_equal(ub, wub);
                assert_true(lb <= ub);
            }
}

/* ---- pf_sample_step on in-memory cases ---- */

enum { N_CASES = 4, BATCH = 6, FORCED_FROM = 4 /* round(6 * 0.67) = round(4.02) */ };

typedef struct fixture {
    pf_case cases[N_CASES];
    int train[3], val[1];
    pf_sampler s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    /* case 0: two classes of very different sizes (class choice must not weight by size) */
    static const int labels0[] = {1, 3}, nlocs0[] = {5, 100};
    int32_t locs0[3 * 105];
    /* case 1: one class right at the far corner, shape smaller than the patch in z and y */
    static const int labels1[] = {2}, nlocs1[] = {3};
    static const int32_t locs1[] = {5, 4, 39, 0, 0, 0, 3, 2, 20};
    /* case 3: one class with two voxels */
    static const int labels3[] = {1}, nlocs3[] = {2};
    static const int32_t locs3[] = {0, 0, 0, 29, 9, 11};

    assert_non_null(f);
    for (int i = 0; i < 5; i++) { /* class 1: (i, 2i, 3i) */
        locs0[3 * i] = i;
        locs0[3 * i + 1] = 2 * i;
        locs0[3 * i + 2] = 3 * i;
    }
    for (int i = 0; i < 100; i++) { /* class 3: a 10x10 sheet at z = 10 */
        locs0[3 * (5 + i)] = 10;
        locs0[3 * (5 + i) + 1] = 2 + i / 10;
        locs0[3 * (5 + i) + 2] = 5 + i % 10;
    }
    tu_case_init(&f->cases[0], 20, 24, 28, 1, NULL, NULL);
    tu_case_set_classes(&f->cases[0], 2, labels0, nlocs0, locs0);
    tu_case_init(&f->cases[1], 6, 5, 40, 1, NULL, NULL);
    tu_case_set_classes(&f->cases[1], 1, labels1, nlocs1, locs1);
    tu_case_init(&f->cases[2], 16, 16, 16, 1, NULL, NULL);
    tu_case_set_classes(&f->cases[2], 0, NULL, NULL, NULL);
    tu_case_init(&f->cases[3], 30, 10, 12, 1, NULL, NULL);
    tu_case_set_classes(&f->cases[3], 1, labels3, nlocs3, locs3);
    f->train[0] = 0;
    f->train[1] = 2;
    f->train[2] = 3;
    f->val[0] = 1;
    f->s.seed = 7;
    f->s.batch = BATCH;
    f->s.oversample = 0.33;
    f->s.patch[0] = 8;
    f->s.patch[1] = 8;
    f->s.patch[2] = 11; /* odd: P // 2 rounds down */
    f->s.cases = f->cases;
    f->s.split_cases[PF_SPLIT_TRAIN] = f->train;
    f->s.n_split_cases[PF_SPLIT_TRAIN] = 3;
    f->s.split_cases[PF_SPLIT_VAL] = f->val;
    f->s.n_split_cases[PF_SPLIT_VAL] = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < N_CASES; i++)
        tu_case_free(&f->cases[i]);
    free(f);
    return 0;
}

static int sample_eq(const pf_sample *a, const pf_sample *b)
{
    if (a->case_idx != b->case_idx || a->forced != b->forced || a->label != b->label)
        return 0;
    for (int d = 0; d < 3; d++)
        if (a->start[d] != b->start[d] || a->end[d] != b->end[d] ||
            (a->label >= 0 && a->voxel[d] != b->voxel[d]))
            return 0;
    return 1;
}

static int batch_eq(const pf_sample *a, const pf_sample *b, int n)
{
    for (int j = 0; j < n; j++)
        if (!sample_eq(&a[j], &b[j]))
            return 0;
    return 1;
}

/* Checks one sampled batch against the rules of nnunet-behaviour.md section 1. */
static void check_batch(const fixture *f, const pf_sampler *s, pf_split split,
                        const pf_sample *out)
{
    const int forced_from = pf_forced_from(s->batch, s->oversample);
    for (int j = 0; j < s->batch; j++) {
        const pf_sample *o = &out[j];
        const pf_case *c;
        int in_split = 0;
        for (int k = 0; k < s->n_split_cases[split]; k++)
            in_split |= s->split_cases[split][k] == o->case_idx;
        assert_true(in_split);
        assert_int_equal(o->forced, j >= forced_from);
        c = &f->cases[o->case_idx];
        if (o->forced && c->hdr.n_classes > 0) {
            const pf_class_row *row = NULL;
            int found = 0;
            for (uint32_t k = 0; k < c->hdr.n_classes; k++)
                if (c->classes[k].label == o->label)
                    row = &c->classes[k];
            assert_non_null(row);
            for (uint64_t i = 0; i < row->n_locs && !found; i++) {
                const int32_t *v = c->locs + 3 * (row->locs_index + i);
                found = v[0] == o->voxel[0] && v[1] == o->voxel[1] && v[2] == o->voxel[2];
            }
            assert_true(found);
            for (int d = 0; d < 3; d++) {
                int64_t lb, ub, want;
                upstream_bounds(c->hdr.shape[d], s->patch[d], 0, &lb, &ub);
                want = o->voxel[d] - s->patch[d] / 2;
                if (want < lb)
                    want = lb;
                assert_int_equal(o->start[d], want);
            }
        } else {
            assert_int_equal(o->label, -1);
            for (int d = 0; d < 3; d++) {
                int64_t lb, ub;
                upstream_bounds(c->hdr.shape[d], s->patch[d], 0, &lb, &ub);
                assert_true(o->start[d] >= lb && o->start[d] <= ub);
            }
        }
        for (int d = 0; d < 3; d++)
            assert_int_equal(o->end[d], o->start[d] + s->patch[d]);
    }
}

static void test_rules_hold(void **state)
{
    fixture *f = *state;
    pf_sample out[BATCH];
    assert_int_equal(pf_forced_from(BATCH, 0.33), FORCED_FROM);
    for (uint32_t epoch = 0; epoch < 3; epoch++)
        for (uint32_t step = 0; step < 300; step++) {
            pf_sample_step(&f->s, PF_SPLIT_TRAIN, epoch, step, out);
            check_batch(f, &f->s, PF_SPLIT_TRAIN, out);
            pf_sample_step(&f->s, PF_SPLIT_VAL, epoch, step, out);
            check_batch(f, &f->s, PF_SPLIT_VAL, out);
        }
}

static void test_deterministic_and_order_independent(void **state)
{
    fixture *f = *state;
    static pf_sample fwd[10][BATCH], rev[10][BATCH], again[BATCH], other[BATCH];
    for (uint32_t st = 0; st < 10; st++)
        pf_sample_step(&f->s, PF_SPLIT_TRAIN, 2, st, fwd[st]);
    for (int st = 9; st >= 0; st--) {
        /* unrelated calls in between must not matter */
        pf_sample_step(&f->s, PF_SPLIT_VAL, 2, (uint32_t)st, other);
        pf_sample_step(&f->s, PF_SPLIT_TRAIN, 5, (uint32_t)st + 100, other);
        pf_sample_step(&f->s, PF_SPLIT_TRAIN, 2, (uint32_t)st, rev[st]);
    }
    for (int st = 0; st < 10; st++)
        assert_true(batch_eq(fwd[st], rev[st], BATCH));
    /* step 5 before step 3 gives what step 3 gave after step 5 */
    pf_sample_step(&f->s, PF_SPLIT_TRAIN, 2, 5, other);
    pf_sample_step(&f->s, PF_SPLIT_TRAIN, 2, 3, again);
    assert_true(batch_eq(again, fwd[3], BATCH));
    assert_true(batch_eq(other, fwd[5], BATCH));
    /* steps differ from each other, and another seed changes the batches */
    {
        int differ = 0;
        pf_sampler s2 = f->s;
        for (int st = 1; st < 10; st++)
            differ += !batch_eq(fwd[st], fwd[0], BATCH);
        assert_true(differ >= 8);
        s2.seed = 8;
        differ = 0;
        for (uint32_t st = 0; st < 10; st++) {
            pf_sample_step(&s2, PF_SPLIT_TRAIN, 2, st, other);
            differ += !batch_eq(other, fwd[st], BATCH);
        }
        assert_true(differ >= 8);
    }
}

/* Validation has one case whose only class sits at the far corner: forced positions start
 * at max(lb, v - P//2) and overhang the far border (upstream has no upper clamp). */
static void test_forced_overhang_no_clamp(void **state)
{
    fixture *f = *state;
    pf_sample out[BATCH];
    int corner = 0;
    for (uint32_t st = 0; st < 200; st++) {
        pf_sample_step(&f->s, PF_SPLIT_VAL, 0, st, out);
        for (int j = 0; j < BATCH; j++) {
            assert_int_equal(out[j].case_idx, 1);
            if (j < FORCED_FROM) {
                /* random crop, shape (6, 5, 40) patch (8, 8, 11): by hand z in [-1, -1],
                 * y in [-2, -1], x in [0, 29] */
                assert_int_equal(out[j].start[0], -1);
                assert_true(out[j].start[1] == -2 || out[j].start[1] == -1);
                assert_true(out[j].start[2] >= 0 && out[j].start[2] <= 29);
            } else if (out[j].voxel[0] == 5 && out[j].voxel[1] == 4 && out[j].voxel[2] == 39) {
                /* v = (5, 4, 39): z max(-1, 5-4) = 1, y max(-2, 4-4) = 0, x max(0, 39-5) = 34 */
                assert_int_equal(out[j].label, 2);
                assert_int_equal(out[j].start[0], 1);
                assert_int_equal(out[j].start[1], 0);
                assert_int_equal(out[j].start[2], 34);
                assert_int_equal(out[j].end[2], 45); /* past the 40 voxels: padded */
                corner++;
            }
        }
    }
    assert_true(corner > 0);
}

/* Case 2 has no foreground: its forced positions fall back to a random crop (label -1). */
static void test_no_foreground_fallback(void **state)
{
    fixture *f = *state;
    pf_sample out[BATCH];
    int fallback = 0;
    for (uint32_t st = 0; st < 300; st++) {
        pf_sample_step(&f->s, PF_SPLIT_TRAIN, 1, st, out);
        for (int j = FORCED_FROM; j < BATCH; j++)
            if (out[j].case_idx == 2) {
                assert_int_equal(out[j].forced, 1);
                assert_int_equal(out[j].label, -1);
                /* shape 16^3, patch (8, 8, 11): start in [0, 8] x [0, 8] x [0, 5] */
                assert_true(out[j].start[0] >= 0 && out[j].start[0] <= 8);
                assert_true(out[j].start[1] >= 0 && out[j].start[1] <= 8);
                assert_true(out[j].start[2] >= 0 && out[j].start[2] <= 5);
                fallback++;
            }
    }
    assert_true(fallback > 0);
}

/* Over 3000 steps: cases uniform over the train list (chi-square, 2 dof, generous bound 30),
 * random crops reach both ends of [lb, ub], forced classes are uniform whatever their size,
 * and every stored voxel of a class gets chosen. */
static void test_distributions(void **state)
{
    fixture *f = *state;
    pf_sample out[BATCH];
    long per_case[N_CASES] = {0}, label1 = 0, label3 = 0, n = 0;
    int hit_voxel[5] = {0}, hit3[100] = {0}, lo_end[3] = {0}, hi_end[3] = {0};
    double chi2 = 0;
    for (uint32_t st = 0; st < 3000; st++) {
        pf_sample_step(&f->s, PF_SPLIT_TRAIN, 0, st, out);
        for (int j = 0; j < BATCH; j++) {
            const pf_sample *o = &out[j];
            per_case[o->case_idx]++;
            n++;
            if (o->case_idx == 2 && j < FORCED_FROM)
                for (int d = 0; d < 3; d++) { /* bounds [0, 8], [0, 8], [0, 5] */
                    lo_end[d] |= o->start[d] == 0;
                    hi_end[d] |= o->start[d] == (d == 2 ? 5 : 8);
                }
            if (o->case_idx == 0 && o->label >= 0) {
                if (o->label == 1) {
                    label1++;
                    hit_voxel[o->voxel[0]] = 1; /* class 1 voxels are (i, 2i, 3i) */
                } else { /* class 3 voxel i is (10, 2 + i / 10, 5 + i % 10) */
                    label3++;
                    hit3[(o->voxel[1] - 2) * 10 + (o->voxel[2] - 5)] = 1;
                }
            }
        }
    }
    assert_int_equal(per_case[1], 0); /* the validation case is never drawn for training */
    for (int i = 0; i < 3; i++) {
        double e = (double)n / 3, d = (double)per_case[f->train[i]] - e;
        chi2 += d * d / e;
    }
    assert_true(chi2 < 30.0);
    for (int d = 0; d < 3; d++)
        assert_true(lo_end[d] && hi_end[d]);
    /* classes of 5 and 100 voxels are each chosen about half the time (~2000 draws) */
    assert_true(label1 + label3 > 1000);
    assert_true(label1 > 0.4 * (double)(label1 + label3) &&
                label1 < 0.6 * (double)(label1 + label3));
    for (int i = 0; i < 5; i++)
        assert_true(hit_voxel[i]);
    /* ~1000 draws over 100 voxels reach every one (the class and voxel draws are independent
     * streams: were they one, class 3 = odd words would only ever pick odd voxel indices) */
    for (int i = 0; i < 100; i++)
        assert_true(hit3[i]);
}

static void test_oversample_extremes(void **state)
{
    fixture *f = *state;
    pf_sampler s = f->s;
    pf_sample out[BATCH];
    s.oversample = 1.0;
    pf_sample_step(&s, PF_SPLIT_TRAIN, 0, 0, out);
    for (int j = 0; j < BATCH; j++)
        assert_int_equal(out[j].forced, 1);
    check_batch(f, &s, PF_SPLIT_TRAIN, out);
    s.oversample = 0.0;
    pf_sample_step(&s, PF_SPLIT_TRAIN, 0, 0, out);
    for (int j = 0; j < BATCH; j++) {
        assert_int_equal(out[j].forced, 0);
        assert_int_equal(out[j].label, -1);
    }
    check_batch(f, &s, PF_SPLIT_TRAIN, out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forced_from),
        cmocka_unit_test(test_bbox_bounds_by_hand),
        cmocka_unit_test(test_bbox_bounds_grid),
        cmocka_unit_test_setup_teardown(test_rules_hold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deterministic_and_order_independent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forced_overhang_no_clamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_foreground_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_distributions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversample_extremes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
