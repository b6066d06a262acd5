/* test_planner.c - nnU-Net's default experiment planner (planner.h) and nnUNetPlans.json
 * (plans_json.h): plans equal to nnU-Net's own, field by field and byte for byte as JSON.
 *
 * The vectors below were produced by nnU-Net v2's planner itself (ExperimentPlanner,
 * gpu_memory_target_in_gb=8, from source at MIC-DKFZ/nnUNet commit 0e495086, numpy 1.24.2,
 * run by /work/shared/tools/nnunet-oracle/plan.py): the inputs are the numbers of each
 * dataset_fingerprint.json (spacings, shapes after cropping, intensity statistics) and of
 * dataset.json (channel names, number of labels, numTraining); the expected values are those of
 * the nnUNetPlans.json nnU-Net wrote, whose length and FNV-1a 64 hash are kept so that the
 * whole file is compared, not only the fields spelled out here.
 *   Datasets 004, 101-104: the five real datasets of ../shared/data/real.
 *   Dataset901_LargeCT: 20 CT cases of about 370x512x512 at 1.25x0.77x0.77 mm (3d_lowres and
 *     3d_cascade_fullres). Dataset902_Aniso: the coarse axis' 10th percentile (2.95 mm) as
 *     target. Dataset903_Clamp: that percentile (0.5 mm) finer than in-plane, clamped to
 *     0.7 + 1e-5; two channels, mask for z-scoring. Dataset904_Sagittal: the coarse axis last
 *     (transpose [2, 0, 1]). Dataset905_Flat: one-slice cases (2d only).
 * The synthetic fingerprints were planned by nnU-Net through the same ExperimentPlanner with its
 * file reads replaced by these numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "plans_json.h"
#include "planner.h"

#define MAXC 4
#define MAXS 9

typedef struct exp_config {
    const char *name;
    int ndim;
    int64_t patch[3];
    int batch;
    double spacing[3], median[3];
    int median_is_integer;
    int n_stages;
    int strides[MAXS][3], kernels[MAXS][3];
    int batch_dice;
    const char *next_stage, *inherits_from, *previous_stage;
} exp_config;

typedef struct vector {
    const char *name;
    int n_cases;
    const double *spacings;
    const int64_t *shapes;
    int n_channels;
    const char *channels[MAXC];
    pf_intensity_props intensity[MAXC];
    double median_relative_size;
    int n_labels, num_training;
    int transpose_forward[3];
    double original_spacing[3];
    int64_t original_shape[3];
    const char *schemes[MAXC];
    int use_mask[MAXC];
    int n_configs;
    exp_config configs[4];
    size_t json_len;       /* nnU-Net's nnUNetPlans.json: length and FNV-1a 64 */
    uint64_t json_fnv;
} vector;

/* Dataset004_Hippocampus: 10 cases */
static const double hippocampus_spacings[] = {
    1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
    1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
static const int64_t hippocampus_shapes[] = {
    35, 51, 35, 35, 52, 34, 38, 52, 36, 34, 52, 35, 40, 47, 34, 40, 48, 36, 31, 50, 36,
    38, 48, 33, 40, 49, 36, 33, 48, 38};
static const vector hippocampus = {
    "Dataset004_Hippocampus", 10, hippocampus_spacings, hippocampus_shapes,
    1, {"MRI"},
    {{289225.15625, 12975.04296875, 341.8551025390625, 11.0, 30.0, 196354.703125, 39761.453125}},
    1.0, 3, 10,
    {0, 1, 2}, {1.0, 1.0, 1.0}, {36, 50, 36},
    {"ZScoreNormalization"}, {0},
    2,
    {
        {"2d", 2, {56, 40}, 14,
         {1.0, 1.0}, {49.5, 35.5}, 0,
         4, {{1, 1}, {2, 2}, {2, 2}, {2, 2}},
         {{3, 3}, {3, 3}, {3, 3}, {3, 3}},
         1, NULL, NULL, NULL},
        {"3d_fullres", 3, {40, 56, 40}, 2,
         {1.0, 1.0, 1.0}, {36.5, 49.5, 35.5}, 0,
         4, {{1, 1, 1}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}},
         {{3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}},
         0, NULL, NULL, NULL},
    },
    9058, 0x25d8545513689b1eu,
};

/* Dataset101_BraTS2013DeepMedic: 4 cases */
static const double brats2013deepmedic_spacings[] = {
    1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
static const int64_t brats2013deepmedic_shapes[] = {
    155, 240, 240, 155, 240, 240, 155, 240, 240, 155, 240, 240};
static const vector brats2013deepmedic = {
    "Dataset101_BraTS2013DeepMedic", 4, brats2013deepmedic_spacings, brats2013deepmedic_shapes,
    2, {"FLAIR", "T1c"},
    {{11.436814308166504, 2.6010019779205322, 2.4901700019836426, -5.342541217803955,
      -1.1446518898010254, 7.7901482582092285, 1.408263087272644},
     {9.259751319885254, 0.03271479904651642, -0.14873197674751282, -6.152362823486328,
      -3.173002004623413, 5.87432336807251, 1.5777268409729004}},
    1.0, 5, 4,
    {0, 1, 2}, {1.0, 1.0, 1.0}, {155, 240, 240},
    {"ZScoreNormalization", "ZScoreNormalization"}, {0, 0},
    2,
    {
        {"2d", 2, {256, 256}, 27,
         {1.0, 1.0}, {240.0, 240.0}, 0,
         7, {{1, 1}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}},
         {{3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}},
         1, NULL, NULL, NULL},
        {"3d_fullres", 3, {96, 160, 160}, 2,
         {1.0, 1.0, 1.0}, {155.0, 240.0, 240.0}, 0,
         6, {{1, 1, 1}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {1, 2, 2}},
         {{3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}},
         0, NULL, NULL, NULL},
    },
    11256, 0x8aec85fe5af6d917u,
};

/* Dataset102_SpinalCordMixed: 5 cases */
static const double spinalcordmixed_spacings[] = {
    0.9999998807907104, 1.0, 1.0, 17.0, 0.84375, 0.84375, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0,
    7.499999046325684, 0.5, 0.5};
static const int64_t spinalcordmixed_shapes[] = {
    16, 141, 52, 5, 40, 40, 77, 76, 42, 52, 55, 60, 9, 54, 49};
static const vector spinalcordmixed = {
    "Dataset102_SpinalCordMixed", 5, spinalcordmixed_spacings, spinalcordmixed_shapes,
    1, {"MRI"},
    {{1477.41552734375, 426.2866516113281, 391.32965087890625, 87.0,
      147.0, 960.1469116210938, 169.97299194335938}},
    1.0, 2, 5,
    {0, 1, 2}, {1.0, 1.0, 1.0}, {16, 55, 49},
    {"ZScoreNormalization"}, {0},
    2,
    {
        {"2d", 2, {56, 48}, 14,
         {1.0, 1.0}, {55.0, 42.0}, 0,
         4, {{1, 1}, {2, 2}, {2, 2}, {2, 2}},
         {{3, 3}, {3, 3}, {3, 3}, {3, 3}},
         1, NULL, NULL, NULL},
        {"3d_fullres", 3, {72, 56, 48}, 2,
         {1.0, 1.0, 1.0}, {67.0, 55.0, 42.0}, 0,
         4, {{1, 1, 1}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}},
         {{3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}},
         0, NULL, NULL, NULL},
    },
    9081, 0x2ba829ca59cd6b65u,
};

/* Dataset103_SpleenCropCT: 1 case */
static const double spleencropct_spacings[] = {
    5.0, 0.7949219942092896, 0.7949219942092896};
static const int64_t spleencropct_shapes[] = {
    26, 166, 164};
static const vector spleencropct = {
    "Dataset103_SpleenCropCT", 1, spleencropct_spacings, spleencropct_shapes,
    1, {"CT"},
    {{606.0, 85.59756469726562, 89.0, -155.0, -21.0, 134.0, 24.722454071044922}},
    1.0, 2, 1,
    {0, 1, 2}, {5.0, 0.7949219942092896, 0.7949219942092896}, {26, 166, 164},
    {"CTNormalization"}, {0},
    2,
    {
        {"2d", 2, {192, 192}, 2,
         {0.7949219942092896, 0.7949219942092896}, {166.0, 164.0}, 0,
         6, {{1, 1}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}},
         {{3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}},
         1, NULL, NULL, NULL},
        {"3d_fullres", 3, {28, 192, 192}, 2,
         {5.0, 0.7949219942092896, 0.7949219942092896}, {26.0, 166.0, 164.0}, 0,
         6, {{1, 1, 1}, {1, 2, 2}, {1, 2, 2}, {2, 2, 2}, {2, 2, 2}, {1, 2, 2}},
         {{1, 3, 3}, {1, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}},
         0, NULL, NULL, NULL},
    },
    10502, 0x86b1fa721d1da776u,
};

/* Dataset104_TotalSegExampleCT: 1 case */
static const double totalsegexamplect_spacings[] = {
    3.0, 3.0, 3.0};
static const int64_t totalsegexamplect_shapes[] = {
    30, 101, 122};
static const vector totalsegexamplect = {
    "Dataset104_TotalSegExampleCT", 1, totalsegexamplect_spacings, totalsegexamplect_shapes,
    1, {"CT"},
    {{1207.0, -48.089115142822266, 35.0, -1100.0, -995.0, 390.0, 278.28411865234375}},
    1.0, 118, 1,
    {0, 1, 2}, {3.0, 3.0, 3.0}, {30, 101, 122},
    {"CTNormalization"}, {0},
    2,
    {
        {"2d", 2, {112, 128}, 2,
         {3.0, 3.0}, {101.0, 122.0}, 0,
         5, {{1, 1}, {2, 2}, {2, 2}, {2, 2}, {2, 2}},
         {{3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}},
         1, NULL, NULL, NULL},
        {"3d_fullres", 3, {32, 112, 128}, 2,
         {3.0, 3.0, 3.0}, {30.0, 101.0, 122.0}, 0,
         5, {{1, 1, 1}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {1, 2, 2}},
         {{3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}},
         0, NULL, NULL, NULL},
    },
    9738, 0xa16ac339a6c6c87cu,
};

/* Dataset901_LargeCT: 20 cases */
static const double largect_spacings[] = {
    1.25, 0.78125, 0.78125, 1.25, 0.77, 0.77, 1.25, 0.77, 0.77, 1.25, 0.77, 0.77,
    1.25, 0.78125, 0.78125, 1.25, 0.77, 0.77, 1.25, 0.77, 0.77, 1.25, 0.77, 0.77,
    1.25, 0.78125, 0.78125, 1.25, 0.77, 0.77, 1.25, 0.77, 0.77, 1.25, 0.77, 0.77,
    1.25, 0.78125, 0.78125, 1.25, 0.77, 0.77, 1.25, 0.77, 0.77, 1.25, 0.77, 0.77,
    1.25, 0.78125, 0.78125, 1.25, 0.77, 0.77, 1.25, 0.77, 0.77, 1.25, 0.77, 0.77};
static const int64_t largect_shapes[] = {
    350, 512, 512, 357, 512, 512, 364, 512, 512, 371, 512, 512, 378, 512, 512, 385, 512, 512,
    351, 512, 512, 358, 512, 512, 365, 512, 512, 372, 512, 512, 379, 512, 512, 386, 512, 512,
    352, 512, 512, 359, 512, 512, 366, 512, 512, 373, 512, 512, 380, 512, 512, 387, 512, 512,
    353, 512, 512, 360, 512, 512};
static const vector largect = {
    "Dataset901_LargeCT", 20, largect_spacings, largect_shapes,
    1, {"CT"},
    {{3071.0, 100.5, 80.0, -1024.0, -990.0, 1500.75, 250.25}},
    1.0, 3, 20,
    {0, 1, 2}, {1.25, 0.77, 0.77}, {366, 512, 512},
    {"CTNormalization"}, {0},
    4,
    {
        {"2d", 2, {512, 512}, 12,
         {0.77, 0.77}, {512.0, 512.0}, 0,
         8, {{1, 1}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}},
         {{3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}},
         1, NULL, NULL, NULL},
        {"3d_lowres", 3, {112, 160, 128}, 2,
         {2.776611256962697, 1.7103925342890212, 1.7103925342890212}, {165.0, 230.0, 230.0}, 1,
         6, {{1, 1, 1}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {1, 2, 2}},
         {{3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}},
         0, "3d_cascade_fullres", NULL, NULL},
        {"3d_fullres", 3, {112, 160, 128}, 2,
         {1.25, 0.77, 0.77}, {365.5, 512.0, 512.0}, 0,
         6, {{1, 1, 1}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {1, 2, 2}},
         {{3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}},
         1, NULL, NULL, NULL},
        {"3d_cascade_fullres", .inherits_from = "3d_fullres", .previous_stage = "3d_lowres"},
    },
    16230, 0x2bce3acecd149bc2u,
};

/* Dataset902_Aniso: 10 cases */
static const double aniso_spacings[] = {
    5.0, 0.7, 0.7, 5.0, 0.7, 0.7, 5.0, 0.7, 0.7, 5.0, 0.7, 0.7, 3.0, 0.7, 0.7, 3.0, 0.7, 0.7,
    4.0, 0.7, 0.7, 5.0, 0.7, 0.7, 6.0, 0.7, 0.7, 2.5, 0.7, 0.7};
static const int64_t aniso_shapes[] = {
    20, 300, 310, 22, 299, 311, 24, 298, 312, 26, 297, 313, 28, 296, 314, 30, 295, 315,
    32, 294, 316, 34, 293, 317, 36, 292, 318, 38, 291, 319};
static const vector aniso = {
    "Dataset902_Aniso", 10, aniso_spacings, aniso_shapes,
    1, {"MRI"},
    {{3071.0, 100.5, 80.0, -1024.0, -990.0, 1500.75, 250.25}},
    1.0, 2, 10,
    {0, 1, 2}, {5.0, 0.7, 0.7}, {29, 296, 314},
    {"ZScoreNormalization"}, {0},
    2,
    {
        {"2d", 2, {320, 320}, 18,
         {0.7, 0.7}, {295.5, 314.5}, 0,
         7, {{1, 1}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}},
         {{3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}},
         1, NULL, NULL, NULL},
        {"3d_fullres", 3, {32, 224, 256}, 2,
         {2.95, 0.7, 0.7}, {39.0, 295.5, 314.5}, 0,
         6, {{1, 1, 1}, {1, 2, 2}, {1, 2, 2}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}},
         {{1, 3, 3}, {1, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}},
         0, NULL, NULL, NULL},
    },
    10707, 0xf8fb44567de2cd7fu,
};

/* Dataset903_Clamp: 10 cases */
static const double clamp_spacings[] = {
    0.5, 0.7, 0.7, 0.5, 0.7, 0.7, 5.0, 0.7, 0.7, 5.0, 0.7, 0.7, 5.0, 0.7, 0.7, 5.0, 0.7, 0.7,
    5.0, 0.7, 0.7, 5.0, 0.7, 0.7, 5.0, 0.7, 0.7, 5.0, 0.7, 0.7};
static const int64_t clamp_shapes[] = {
    24, 256, 256, 24, 256, 255, 24, 256, 254, 24, 256, 253, 24, 256, 252, 24, 256, 251,
    24, 256, 250, 24, 256, 249, 24, 256, 248, 24, 256, 247};
static const vector clamp = {
    "Dataset903_Clamp", 10, clamp_spacings, clamp_shapes,
    2, {"T2", "noNorm"},
    {{3071.0, 100.5, 80.0, -1024.0, -990.0, 1500.75, 250.25},
     {3071.0, 101.5, 80.0, -1024.0, -990.0, 1500.75, 250.25}},
    0.6, 4, 10,
    {0, 1, 2}, {5.0, 0.7, 0.7}, {24, 256, 252},
    {"ZScoreNormalization", "NoNormalization"}, {1, 0},
    2,
    {
        {"2d", 2, {256, 256}, 49,
         {0.7, 0.7}, {256.0, 251.5}, 0,
         7, {{1, 1}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}},
         {{3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}},
         1, NULL, NULL, NULL},
        {"3d_fullres", 3, {96, 160, 160}, 2,
         {0.7000099999999999, 0.7, 0.7}, {171.0, 256.0, 251.5}, 0,
         6, {{1, 1, 1}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}, {1, 2, 2}},
         {{3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}},
         0, NULL, NULL, NULL},
    },
    11077, 0x435e655bb5e7b39cu,
};

/* Dataset904_Sagittal: 6 cases */
static const double sagittal_spacings[] = {
    0.8, 0.8, 4.0, 0.8, 0.8, 4.0, 0.8, 0.8, 4.0, 0.8, 0.8, 4.0, 0.8, 0.8, 4.0, 0.8, 0.8, 4.0};
static const int64_t sagittal_shapes[] = {
    220, 200, 30, 221, 200, 31, 222, 200, 32, 223, 200, 33, 224, 200, 34, 225, 200, 35};
static const vector sagittal = {
    "Dataset904_Sagittal", 6, sagittal_spacings, sagittal_shapes,
    1, {"MRI"},
    {{3071.0, 100.5, 80.0, -1024.0, -990.0, 1500.75, 250.25}},
    0.7, 2, 6,
    {2, 0, 1}, {4.0, 0.8, 0.8}, {32, 222, 200},
    {"ZScoreNormalization"}, {1},
    2,
    {
        {"2d", 2, {224, 224}, 9,
         {0.8, 0.8}, {222.5, 200.0}, 0,
         6, {{1, 1}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}},
         {{3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}},
         1, NULL, NULL, NULL},
        {"3d_fullres", 3, {32, 224, 224}, 2,
         {4.0, 0.8, 0.8}, {32.5, 222.5, 200.0}, 0,
         6, {{1, 1, 1}, {1, 2, 2}, {1, 2, 2}, {2, 2, 2}, {2, 2, 2}, {2, 2, 2}},
         {{1, 3, 3}, {1, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}, {3, 3, 3}},
         0, NULL, NULL, NULL},
    },
    10395, 0xf398619840b136a6u,
};

/* Dataset905_Flat: 4 cases */
static const double flat_spacings[] = {
    1.0, 0.5, 0.5, 1.0, 0.5, 0.5, 1.0, 0.5, 0.5, 1.0, 0.5, 0.5};
static const int64_t flat_shapes[] = {
    1, 512, 500, 1, 512, 504, 1, 512, 508, 1, 512, 512};
static const vector flat = {
    "Dataset905_Flat", 4, flat_spacings, flat_shapes,
    1, {"rgb_to_0_1"},
    {{3071.0, 100.5, 80.0, -1024.0, -990.0, 1500.75, 250.25}},
    1.0, 2, 4,
    {0, 1, 2}, {1.0, 0.5, 0.5}, {1, 512, 506},
    {"RGBTo01Normalization"}, {0},
    1,
    {
        {"2d", 2, {512, 512}, 2,
         {0.5, 0.5}, {512.0, 506.0}, 0,
         8, {{1, 1}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}, {2, 2}},
         {{3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}, {3, 3}},
         1, NULL, NULL, NULL},
    },
    6016, 0x3ded36cd27218e57u,
};

static const vector *const real_vectors[] = {
    &hippocampus, &brats2013deepmedic, &spinalcordmixed, &spleencropct, &totalsegexamplect,
};
static const vector *const synthetic_vectors[] = {&largect, &aniso, &clamp, &sagittal, &flat};

/* ---- helpers ---- */

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static pf_fingerprint fingerprint_of(const vector *v)
{
    pf_fingerprint fp = {
        .dataset_name = v->name,
        .n_channels = v->n_channels,
        .channel_names = v->channels,
        .intensity = v->intensity,
        .n_cases = v->n_cases,
        .spacings = v->spacings,
        .shapes = v->shapes,
        .median_relative_size_after_cropping = v->median_relative_size,
        .n_labels = v->n_labels,
        .num_training = v->num_training,
    };
    return fp;
}

static void plan_vector(const vector *v, pf_plan *plan)
{
    pf_error err = {0};
    pf_fingerprint fp = fingerprint_of(v);
    if (pf_plan_experiment(&fp, plan, &err))
        fail_msg("%s: %s", v->name, err.msg);
}

/* Fields of two configurations that a plan defines (padding and unused entries aside). */
static void assert_config_equal(const pf_plan_config *a, const pf_plan_config *b)
{
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->inherits_from, b->inherits_from);
    assert_true(a->keys == b->keys);
    assert_true(a->own_keys == b->own_keys);
    assert_string_equal(a->data_identifier, b->data_identifier);
    assert_string_equal(a->preprocessor_name, b->preprocessor_name);
    assert_int_equal(a->ndim, b->ndim);
    assert_int_equal(a->batch_size, b->batch_size);
    assert_memory_equal(a->patch_size, b->patch_size, (size_t)a->ndim * sizeof(int64_t));
    assert_memory_equal(a->median_image_size, b->median_image_size,
                        (size_t)a->ndim * sizeof(double));
    assert_int_equal(a->median_is_integer, b->median_is_integer);
    assert_memory_equal(a->spacing, b->spacing, (size_t)a->ndim * sizeof(double));
    assert_int_equal(a->n_norm, b->n_norm);
    for (int i = 0; i < a->n_norm; i++)
        assert_string_equal(a->normalization_schemes[i], b->normalization_schemes[i]);
    assert_int_equal(a->n_use_mask, b->n_use_mask);
    assert_memory_equal(a->use_mask_for_norm, b->use_mask_for_norm, (size_t)a->n_use_mask);
    assert_string_equal(a->resampling_fn_data, b->resampling_fn_data);
    assert_string_equal(a->resampling_fn_seg, b->resampling_fn_seg);
    assert_string_equal(a->resampling_fn_probabilities, b->resampling_fn_probabilities);
    assert_memory_equal(&a->resampling_data, &b->resampling_data, sizeof a->resampling_data);
    assert_memory_equal(&a->resampling_seg, &b->resampling_seg, sizeof a->resampling_seg);
    assert_memory_equal(&a->resampling_probabilities, &b->resampling_probabilities,
                        sizeof a->resampling_probabilities);
    assert_string_equal(a->network_class_name, b->network_class_name);
    assert_int_equal(a->n_imports, b->n_imports);
    for (int i = 0; i < a->n_imports; i++)
        assert_string_equal(a->kw_requires_import[i], b->kw_requires_import[i]);
    assert_int_equal(a->n_stages, b->n_stages);
    for (int s = 0; s < a->n_stages; s++) {
        assert_int_equal(a->features_per_stage[s], b->features_per_stage[s]);
        assert_int_equal(a->n_conv_per_stage[s], b->n_conv_per_stage[s]);
        assert_int_equal(a->n_blocks_per_stage[s], b->n_blocks_per_stage[s]);
        if (s < a->n_stages - 1)
            assert_int_equal(a->n_conv_per_stage_decoder[s], b->n_conv_per_stage_decoder[s]);
        assert_memory_equal(a->strides[s], b->strides[s], (size_t)a->ndim * sizeof(int));
        assert_memory_equal(a->kernel_sizes[s], b->kernel_sizes[s], (size_t)a->ndim * sizeof(int));
    }
    assert_int_equal(a->conv_bias, b->conv_bias);
    assert_string_equal(a->conv_op, b->conv_op);
    assert_string_equal(a->norm_op, b->norm_op);
    assert_string_equal(a->nonlin, b->nonlin);
    assert_string_equal(a->dropout_op, b->dropout_op);
    assert_string_equal(a->norm_op_kwargs, b->norm_op_kwargs);
    assert_string_equal(a->dropout_op_kwargs, b->dropout_op_kwargs);
    assert_string_equal(a->nonlin_kwargs, b->nonlin_kwargs);
    assert_int_equal(a->batch_dice, b->batch_dice);
    assert_string_equal(a->next_stage, b->next_stage);
    assert_string_equal(a->previous_stage, b->previous_stage);
}

static void assert_plan_equal(const pf_plan *a, const pf_plan *b)
{
    assert_int_equal(a->keys, b->keys);
    assert_string_equal(a->dataset_name, b->dataset_name);
    assert_string_equal(a->plans_name, b->plans_name);
    assert_memory_equal(a->original_median_spacing, b->original_median_spacing,
                        sizeof a->original_median_spacing);
    assert_memory_equal(a->original_median_shape, b->original_median_shape,
                        sizeof a->original_median_shape);
    assert_string_equal(a->image_reader_writer, b->image_reader_writer);
    assert_memory_equal(a->transpose_forward, b->transpose_forward, sizeof a->transpose_forward);
    assert_memory_equal(a->transpose_backward, b->transpose_backward,
                        sizeof a->transpose_backward);
    assert_string_equal(a->experiment_planner_used, b->experiment_planner_used);
    assert_string_equal(a->label_manager, b->label_manager);
    assert_int_equal(a->n_intensity, b->n_intensity);
    assert_memory_equal(a->intensity, b->intensity, (size_t)a->n_intensity * sizeof *a->intensity);
    assert_int_equal(a->n_configs, b->n_configs);
    for (int i = 0; i < a->n_configs; i++)
        assert_config_equal(&a->configs[i], &b->configs[i]);
}

/* The plan of v against nnU-Net's, field by field, then its JSON against nnU-Net's file. */
static void check_vector(const vector *v)
{
    pf_plan plan;
    pf_error err = {0};
    char *text;

    plan_vector(v, &plan);
    assert_string_equal(plan.dataset_name, v->name);
    assert_memory_equal(plan.transpose_forward, v->transpose_forward, sizeof(int) * 3);
    for (int a = 0; a < 3; a++) {
        assert_int_equal(plan.transpose_backward[plan.transpose_forward[a]], a);
        assert_true(plan.original_median_spacing[a] == v->original_spacing[a]);
        assert_int_equal(plan.original_median_shape[a], v->original_shape[a]);
    }
    assert_int_equal(plan.n_configs, v->n_configs);
    for (int i = 0; i < v->n_configs; i++) {
        const exp_config *e = &v->configs[i];
        const pf_plan_config *c = &plan.configs[i];
        assert_string_equal(c->name, e->name);
        if (e->inherits_from) {
            const pf_plan_config *parent = pf_plan_find_config(&plan, e->inherits_from);
            assert_non_null(parent);
            assert_string_equal(c->inherits_from, e->inherits_from);
            assert_string_equal(c->previous_stage, e->previous_stage);
            assert_true(c->own_keys == PF_PK_BIT(PF_PK_PREVIOUS_STAGE));
            /* resolved: the parent's values */
            assert_memory_equal(c->patch_size, parent->patch_size, sizeof c->patch_size);
            assert_int_equal(c->batch_size, parent->batch_size);
            continue;
        }
        assert_int_equal(c->ndim, e->ndim);
        assert_memory_equal(c->patch_size, e->patch, (size_t)e->ndim * sizeof(int64_t));
        assert_int_equal(c->batch_size, e->batch);
        for (int d = 0; d < e->ndim; d++) {
            assert_true(c->spacing[d] == e->spacing[d]);
            assert_true(c->median_image_size[d] == e->median[d]);
        }
        assert_int_equal(c->median_is_integer, e->median_is_integer);
        assert_int_equal(c->n_stages, e->n_stages);
        for (int s = 0; s < e->n_stages; s++) {
            assert_memory_equal(c->strides[s], e->strides[s], (size_t)e->ndim * sizeof(int));
            assert_memory_equal(c->kernel_sizes[s], e->kernels[s], (size_t)e->ndim * sizeof(int));
        }
        assert_int_equal(c->batch_dice, e->batch_dice);
        assert_string_equal(c->next_stage, e->next_stage ? e->next_stage : "");
        assert_int_equal(c->n_norm, v->n_channels);
        assert_int_equal(c->n_use_mask, v->n_channels);
        for (int ch = 0; ch < v->n_channels; ch++) {
            assert_string_equal(c->normalization_schemes[ch], v->schemes[ch]);
            assert_int_equal(c->use_mask_for_norm[ch], v->use_mask[ch]);
        }
        assert_int_equal(c->resampling_data.order, 3);
        assert_int_equal(c->resampling_data.order_z, 0);
        assert_int_equal(c->resampling_seg.order, 1);
        assert_int_equal(c->resampling_seg.order_z, 0);
        assert_int_equal(c->resampling_probabilities.order, 1);
        assert_int_equal(c->resampling_probabilities.order_z, 0);
    }

    /* the whole file, as nnU-Net wrote it */
    if (pf_plans_to_json(&plan, &text, &err))
        fail_msg("%s: %s", v->name, err.msg);
    if (strlen(text) != v->json_len || fnv1a(text, strlen(text)) != v->json_fnv) {
        fprintf(stderr, "%s\n", text);
        fail_msg("%s: the nnUNetPlans.json above differs from nnU-Net's (%zu bytes, want %zu)",
                 v->name, strlen(text), v->json_len);
    }
    free(text);
    pf_plan_free(&plan);
}

/* ---- tests ---- */

static void test_real_datasets_plan_as_nnunet(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof real_vectors / sizeof real_vectors[0]; i++)
        check_vector(real_vectors[i]);
}

static void test_synthetic_datasets_plan_as_nnunet(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof synthetic_vectors / sizeof synthetic_vectors[0]; i++)
        check_vector(synthetic_vectors[i]);
}

static void test_lowres_and_cascade(void **state)
{
    pf_plan plan;
    const pf_plan_config *lo, *full, *casc;
    (void)state;
    plan_vector(&largect, &plan);
    lo = pf_plan_find_config(&plan, "3d_lowres");
    full = pf_plan_find_config(&plan, "3d_fullres");
    casc = pf_plan_find_config(&plan, "3d_cascade_fullres");
    assert_non_null(lo);
    assert_non_null(full);
    assert_non_null(casc);
    assert_string_equal(lo->next_stage, "3d_cascade_fullres");
    assert_string_equal(lo->data_identifier, "nnUNetPlans_3d_lowres");
    assert_int_equal(lo->batch_dice, 0);
    assert_int_equal(full->batch_dice, 1);
    /* Python round()s the lowres median shape: integers in the JSON */
    assert_int_equal(lo->median_is_integer, 1);
    assert_string_equal(casc->inherits_from, "3d_fullres");
    assert_string_equal(casc->previous_stage, "3d_lowres");
    assert_string_equal(casc->data_identifier, "nnUNetPlans_3d_fullres");
    pf_plan_free(&plan);

    /* none of the real datasets gets one */
    for (size_t i = 0; i < sizeof real_vectors / sizeof real_vectors[0]; i++) {
        plan_vector(real_vectors[i], &plan);
        assert_null(pf_plan_find_config(&plan, "3d_lowres"));
        assert_null(pf_plan_find_config(&plan, "3d_cascade_fullres"));
        pf_plan_free(&plan);
    }
}

static void test_target_spacing_rules(void **state)
{
    double t[3];
    int tf[3], tb[3];
    pf_error err = {0};
    pf_fingerprint fp;
    (void)state;

    /* 10th percentile of the coarse axis: sorted 2.5, 3, 3, 4, 5 ... at index 0.9 */
    fp = fingerprint_of(&aniso);
    assert_int_equal(pf_plan_target_spacing(&fp, t, tf, tb, &err), 0);
    assert_true(t[0] == 2.95 && t[1] == 0.7 && t[2] == 0.7);
    /* that percentile (0.5) below in-plane: max(other) + 1e-5 */
    fp = fingerprint_of(&clamp);
    assert_int_equal(pf_plan_target_spacing(&fp, t, tf, tb, &err), 0);
    assert_true(t[0] == 0.7 + 1e-5);
    assert_true(t[0] == 0.7000099999999999);
    /* isotropic enough: the median; Spleen's single case keeps its 5 mm */
    fp = fingerprint_of(&spleencropct);
    assert_int_equal(pf_plan_target_spacing(&fp, t, tf, tb, &err), 0);
    assert_true(t[0] == 5.0 && t[1] == 0.7949219942092896);
    /* coarse axis last: it goes first */
    fp = fingerprint_of(&sagittal);
    assert_int_equal(pf_plan_target_spacing(&fp, t, tf, tb, &err), 0);
    assert_int_equal(tf[0], 2);
    assert_int_equal(tf[1], 0);
    assert_int_equal(tf[2], 1);
    assert_int_equal(tb[0], 1);
    assert_int_equal(tb[1], 2);
    assert_int_equal(tb[2], 0);
}

static void test_numpy_arithmetic(void **state)
{
    /* np.percentile(linear) values from numpy 1.24.2 */
    double a[] = {3.0, 2.5, 5.0, 4.0, 5.0, 5.0, 6.0, 5.0, 3.0, 5.0};
    double b[] = {0.1, 0.7, 0.3};
    double c[] = {7.0};
    double d[] = {1.0, 2.0};
    (void)state;
    assert_true(pf_plan_percentile(a, 10, 10) == 2.95);
    assert_true(pf_plan_percentile(a, 10, 50) == 5.0);
    assert_true(pf_plan_percentile(b, 3, 10) == 0.14);
    assert_true(pf_plan_percentile(b, 3, 50) == 0.3);
    assert_true(pf_plan_percentile(c, 1, 10) == 7.0);
    assert_true(pf_plan_percentile(d, 2, 50) == 1.5);
    assert_true(pf_plan_percentile(d, 2, 10) == 1.1);
    /* Python round(): half to even */
    assert_true(pf_plan_round_half_even(0.5) == 0.0);
    assert_true(pf_plan_round_half_even(1.5) == 2.0);
    assert_true(pf_plan_round_half_even(2.5) == 2.0);
    assert_true(pf_plan_round_half_even(36.5) == 36.0);
    assert_true(pf_plan_round_half_even(49.5) == 50.0);
    assert_true(pf_plan_round_half_even(2.5000000000000004) == 3.0);
    assert_true(pf_plan_round_half_even(-1.5) == -2.0);
    assert_true(pf_plan_round_half_even(-0.4) == 0.0);
}

static void test_topology_and_vram_estimate(void **state)
{
    pf_topology t;
    pf_plan_config c;
    pf_error err = {0};
    /* Hippocampus' initial patch is its median shape, 36.5 x 49.5 x 35.5: padded up */
    const double sp[3] = {1.0, 1.0, 1.0}, patch[3] = {36.5, 49.5, 35.5};
    const double spleen_sp[3] = {5.0, 0.7949219942092896, 0.7949219942092896};
    const double spleen_patch[3] = {26.0, 166.0, 164.0};
    (void)state;

    assert_int_equal(pf_plan_pool_and_conv_props(3, sp, patch, &t, &err), 0);
    assert_int_equal(t.n_stages, 4);
    assert_int_equal(t.patch_size[0], 40);
    assert_int_equal(t.patch_size[1], 56);
    assert_int_equal(t.patch_size[2], 40);
    assert_int_equal(t.must_be_divisible_by[1], 8);

    /* anisotropic: z pools only once the in-plane spacing has caught up, kernels 1 until then */
    assert_int_equal(pf_plan_pool_and_conv_props(3, spleen_sp, spleen_patch, &t, &err), 0);
    assert_int_equal(t.n_stages, 6);
    assert_int_equal(t.strides[1][0], 1);
    assert_int_equal(t.strides[3][0], 2);
    assert_int_equal(t.kernel_sizes[0][0], 1);
    assert_int_equal(t.kernel_sizes[2][0], 3);
    assert_int_equal(t.n_pool[0], 2);
    assert_int_equal(t.n_pool[1], 5);
    assert_int_equal(t.patch_size[0], 28);
    assert_int_equal(t.patch_size[1], 192);

    /* PlainConvUNet.compute_conv_feature_map_size, values from dynamic_network_architectures */
    {
        pf_plan plan;
        const int64_t p1[3] = {40, 56, 40}, p2[3] = {37, 51, 33}, p3[3] = {5, 6, 7};
        const int64_t p4[2] = {56, 40}, p5[3] = {28, 192, 192};
        plan_vector(&hippocampus, &plan);
        c = *pf_plan_find_config(&plan, "3d_fullres");
        assert_int_equal(pf_plan_feature_map_size(&c, p1, 3), 19174400);
        assert_int_equal(pf_plan_feature_map_size(&c, p2, 7), 13305369);
        c.n_stages = 1;
        assert_int_equal(pf_plan_feature_map_size(&c, p3, 2), 13440);
        c = *pf_plan_find_config(&plan, "2d");
        assert_int_equal(pf_plan_feature_map_size(&c, p4, 3), 651840);
        pf_plan_free(&plan);
        plan_vector(&spleencropct, &plan);
        c = *pf_plan_find_config(&plan, "3d_fullres");
        assert_int_equal(pf_plan_feature_map_size(&c, p5, 2), 303174144);
        pf_plan_free(&plan);
    }
}

static void test_gpu_memory_target(void **state)
{
    /* nnU-Net's planner on BraTS with gpu_memory_target_in_gb 24 and 2 */
    pf_plan plan;
    pf_error err = {0};
    pf_fingerprint fp = fingerprint_of(&brats2013deepmedic);
    const pf_plan_config *c;
    (void)state;

    fp.gpu_memory_gb = 24;
    assert_int_equal(pf_plan_experiment(&fp, &plan, &err), 0);
    c = pf_plan_find_config(&plan, "3d_fullres");
    assert_int_equal(c->patch_size[0], 128);
    assert_int_equal(c->patch_size[1], 224);
    assert_int_equal(c->patch_size[2], 224);
    assert_int_equal(c->batch_size, 2);
    assert_int_equal(pf_plan_find_config(&plan, "2d")->batch_size, 27);
    pf_plan_free(&plan);

    fp.gpu_memory_gb = 2;
    assert_int_equal(pf_plan_experiment(&fp, &plan, &err), 0);
    c = pf_plan_find_config(&plan, "3d_fullres");
    assert_int_equal(c->patch_size[0], 64);
    assert_int_equal(c->patch_size[1], 96);
    assert_int_equal(c->patch_size[2], 96);
    assert_non_null(pf_plan_find_config(&plan, "3d_lowres"));
    assert_int_equal(pf_plan_find_config(&plan, "2d")->batch_size, 12);
    pf_plan_free(&plan);
}

static void test_normalization_schemes(void **state)
{
    (void)state;
    assert_string_equal(pf_plan_norm_scheme("CT"), "CTNormalization");
    assert_string_equal(pf_plan_norm_scheme("ct"), "CTNormalization");
    assert_string_equal(pf_plan_norm_scheme("cT"), "CTNormalization");
    assert_string_equal(pf_plan_norm_scheme("noNorm"), "NoNormalization");
    assert_string_equal(pf_plan_norm_scheme("NONORM"), "NoNormalization");
    assert_string_equal(pf_plan_norm_scheme("zscore"), "ZScoreNormalization");
    assert_string_equal(pf_plan_norm_scheme("Rescale_To_0_1"), "RescaleTo01Normalization");
    assert_string_equal(pf_plan_norm_scheme("rgb_to_0_1"), "RGBTo01Normalization");
    /* str.casefold() folds U+017F (long s) to s */
    assert_string_equal(pf_plan_norm_scheme("re\xc5\xbf" "cale_to_0_1"),
                        "RescaleTo01Normalization");
    assert_string_equal(pf_plan_norm_scheme("T1"), "ZScoreNormalization");
    assert_string_equal(pf_plan_norm_scheme("MRI"), "ZScoreNormalization");
    assert_string_equal(pf_plan_norm_scheme("CT "), "ZScoreNormalization");
    assert_string_equal(pf_plan_norm_scheme("\xc3\x87T"), "ZScoreNormalization");
    assert_string_equal(pf_plan_norm_scheme(""), "ZScoreNormalization");
    assert_true(pf_plan_norm_uses_mask("ZScoreNormalization"));
    assert_false(pf_plan_norm_uses_mask("CTNormalization"));
    assert_false(pf_plan_norm_uses_mask("NoNormalization"));
}

static void test_mask_for_norm_threshold(void **state)
{
    /* median_relative_size_after_cropping < 0.75: z-scored channels use the mask */
    static const char *const names[2] = {"T1", "CT"};
    pf_fingerprint fp = fingerprint_of(&brats2013deepmedic);
    pf_plan plan;
    pf_error err = {0};
    (void)state;
    fp.channel_names = names;
    fp.median_relative_size_after_cropping = 0.7499;
    assert_int_equal(pf_plan_experiment(&fp, &plan, &err), 0);
    for (int i = 0; i < plan.n_configs; i++) {
        assert_string_equal(plan.configs[i].normalization_schemes[0], "ZScoreNormalization");
        assert_string_equal(plan.configs[i].normalization_schemes[1], "CTNormalization");
        assert_int_equal(plan.configs[i].use_mask_for_norm[0], 1);
        assert_int_equal(plan.configs[i].use_mask_for_norm[1], 0);
    }
    pf_plan_free(&plan);
    fp.median_relative_size_after_cropping = 0.75;
    assert_int_equal(pf_plan_experiment(&fp, &plan, &err), 0);
    assert_int_equal(plan.configs[0].use_mask_for_norm[0], 0);
    pf_plan_free(&plan);
}

static void test_deep_supervision(void **state)
{
    pf_plan plan;
    const pf_plan_config *c;
    double s[PF_PLAN_MAX_STAGES][PF_PLAN_MAX_DIM];
    const double want[5][3] = {
        {1, 1, 1}, {1, .5, .5}, {1, .25, .25}, {.5, .125, .125}, {.25, .0625, .0625},
    };
    int64_t out[3];
    const int64_t odd[3] = {5, 7, 9};
    (void)state;

    plan_vector(&spleencropct, &plan);
    c = pf_plan_find_config(&plan, "3d_fullres");
    assert_int_equal(pf_plan_ds_scales(c, s), 5);
    for (int i = 0; i < 5; i++)
        for (int d = 0; d < 3; d++)
            assert_true(s[i][d] == want[i][d]);
    pf_plan_ds_shape(3, c->patch_size, s[3], out);
    assert_int_equal(out[0], 14);
    assert_int_equal(out[1], 24);
    assert_int_equal(out[2], 24);
    /* round half to even: 2.5 -> 2, 3.5 -> 4, 4.5 -> 4 */
    pf_plan_ds_shape(3, odd, s[3], out);
    assert_int_equal(out[0], 2);
    assert_int_equal(out[1], 1);
    assert_int_equal(out[2], 1);
    pf_plan_ds_shape(3, odd, (const double[3]){.5, .5, .5}, out);
    assert_int_equal(out[0], 2);
    assert_int_equal(out[1], 4);
    assert_int_equal(out[2], 4);
    pf_plan_free(&plan);

    /* one stage: no decoder output below full resolution */
    plan_vector(&hippocampus, &plan);
    plan.configs[0].n_stages = 1;
    assert_int_equal(pf_plan_ds_scales(&plan.configs[0], s), 0);
    pf_plan_free(&plan);
}

static void test_python_float_repr(void **state)
{
    /* repr() of CPython 3.11 */
    static const struct { double x; const char *want; } cases[] = {
        {1.0, "1.0"}, {0.0, "0.0"}, {-0.0, "-0.0"}, {100.0, "100.0"}, {36.5, "36.5"},
        {0.7949219942092896, "0.7949219942092896"}, {0.7 + 1e-5, "0.7000099999999999"},
        {0.1 + 0.2, "0.30000000000000004"}, {1e-05, "1e-05"}, {0.0001, "0.0001"},
        {1.5e-7, "1.5e-07"}, {1e16, "1e+16"}, {1234567890123456.0, "1234567890123456.0"},
        {123456789012345678.0, "1.2345678901234568e+17"}, {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"}, {-2.5, "-2.5"},
        {9.5367431640625e-07, "9.5367431640625e-07"}, {2.776611256962697, "2.776611256962697"},
        {289225.15625, "289225.15625"}, {1e22, "1e+22"}, {0.001, "0.001"},
    };
    char buf[32];
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_true(pf_json_format_double(cases[i].x, buf, sizeof buf) > 0);
        assert_string_equal(buf, cases[i].want);
    }
    assert_int_equal(pf_json_format_double(1.0, buf, 3), -1);
}

static void test_json_round_trip(void **state)
{
    const vector *all[10];
    (void)state;
    memcpy(all, real_vectors, sizeof real_vectors);
    memcpy(all + 5, synthetic_vectors, sizeof synthetic_vectors);
    for (int i = 0; i < 10; i++) {
        pf_plan plan, back;
        pf_error err = {0};
        char *t1, *t2;
        plan_vector(all[i], &plan);
        assert_int_equal(pf_plans_to_json(&plan, &t1, &err), 0);
        if (pf_plans_from_json(t1, strlen(t1), all[i]->name, &back, &err))
            fail_msg("%s", err.msg);
        assert_plan_equal(&plan, &back);
        assert_int_equal(pf_plans_to_json(&back, &t2, &err), 0);
        assert_string_equal(t1, t2);
        free(t1);
        free(t2);
        pf_plan_free(&plan);
        pf_plan_free(&back);
    }
}

static void test_json_file_write_read(void **state)
{
    char dir[] = "/tmp/pftest-plans.XXXXXX", path[64];
    pf_plan plan, back;
    pf_error err = {0};
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/nnUNetPlans.json", dir);
    plan_vector(&largect, &plan);
    assert_int_equal(pf_plans_write(&plan, path, &err), 0);
    assert_int_equal(pf_plans_read(path, &back, &err), 0);
    assert_plan_equal(&plan, &back);
    pf_plan_free(&back);
    pf_plan_free(&plan);
    unlink(path);
    /* a missing file: the error names it */
    assert_int_equal(pf_plans_read(path, &back, &err), -1);
    assert_non_null(strstr(err.msg, path));
    rmdir(dir);
}

/* A plans file written by hand: inheritance beyond the cascade, keys missing, extra keys. */
static const char custom_plans[] =
    "{\"dataset_name\": \"Dataset999_X\", \"unknown_top\": {\"a\": [1, 2]},\n"
    " \"transpose_forward\": [2, 0, 1], \"transpose_backward\": [1, 2, 0],\n"
    " \"configurations\": {\n"
    "  \"3d_fullres_bs4\": {\"batch_size\": 4, \"inherits_from\": \"3d_fullres\"},\n"
    "  \"3d_fullres\": {\"batch_size\": 2, \"patch_size\": [32, 64, 48],\n"
    "    \"spacing\": [3, 1.5, 1.5],\n"
    "    \"median_image_size_in_voxels\": [40.0, 100.5, 90.0], \"extra\": null,\n"
    "    \"normalization_schemes\": [\"CTNormalization\"], \"use_mask_for_norm\": [false],\n"
    "    \"resampling_fn_data_kwargs\": {\"order\": 1},\n"
    "    \"architecture\": {\"network_class_name\": \"X.ResidualEncoderUNet\",\n"
    "      \"arch_kwargs\": {\"n_stages\": 3, \"strides\": [[1, 1, 1], [1, 2, 2], [2, 2, 2]],\n"
    "        \"kernel_sizes\": [[1, 3, 3], [3, 3, 3], [3, 3, 3]],\n"
    "        \"n_blocks_per_stage\": [1, 3, 4],\n"
    "        \"norm_op_kwargs\": {\"eps\": 1e-05, \"affine\": true}}}},\n"
    "  \"shallow\": {\"inherits_from\": \"3d_fullres_bs4\",\n"
    "    \"architecture\": {\"arch_kwargs\": {\"strides\": [[1, 1, 1], [2, 2, 2]]}}}\n"
    " }}";

static void test_json_inheritance_and_tolerance(void **state)
{
    pf_plan plan, back;
    pf_error err = {0};
    const pf_plan_config *bs4, *full, *sh;
    char *t1, *t2;
    (void)state;

    if (pf_plans_from_json(custom_plans, strlen(custom_plans), "custom.json", &plan, &err))
        fail_msg("%s", err.msg);
    assert_true(plan.keys == (PF_PT_BIT(PF_PT_DATASET_NAME) | PF_PT_BIT(PF_PT_TRANSPOSE_FORWARD) |
                              PF_PT_BIT(PF_PT_TRANSPOSE_BACKWARD) |
                              PF_PT_BIT(PF_PT_CONFIGURATIONS)));
    assert_int_equal(plan.n_configs, 3);
    full = pf_plan_find_config(&plan, "3d_fullres");
    bs4 = pf_plan_find_config(&plan, "3d_fullres_bs4");
    sh = pf_plan_find_config(&plan, "shallow");
    assert_int_equal(full->ndim, 3);
    assert_true(full->spacing[0] == 3.0);
    assert_int_equal(full->median_is_integer, 0);
    assert_int_equal(full->n_stages, 3);
    assert_int_equal(full->strides[2][0], 2);
    assert_string_equal(full->norm_op_kwargs, "{\"eps\":1e-05,\"affine\":true}");
    /* ResidualEncoderUNet's per-stage block counts are kept too */
    assert_true(full->keys & PF_PK_BIT(PF_PK_N_BLOCKS_PER_STAGE));
    assert_int_equal(full->n_blocks_per_stage[2], 4);
    /* a kwargs object missing keys keeps the default planner's others */
    assert_int_equal(full->resampling_data.order, 1);
    assert_int_equal(full->resampling_data.order_z, 0);
    assert_int_equal(full->resampling_data.force_separate_z, -1);
    assert_false(full->keys & PF_PK_BIT(PF_PK_BATCH_DICE));

    /* the child's batch size over the parent's values */
    assert_int_equal(bs4->batch_size, 4);
    assert_int_equal(bs4->patch_size[1], 64);
    assert_string_equal(bs4->inherits_from, "3d_fullres");
    assert_true(bs4->own_keys == PF_PK_BIT(PF_PK_BATCH_SIZE));
    assert_true(bs4->keys == (full->keys | PF_PK_BIT(PF_PK_BATCH_SIZE)));

    /* two levels; "architecture" replaced as a whole (no network_class_name, no kernels) */
    assert_int_equal(sh->batch_size, 4);
    assert_int_equal(sh->n_stages, 2);
    assert_true(sh->keys & PF_PK_BIT(PF_PK_STRIDES));
    assert_false(sh->keys & PF_PK_BIT(PF_PK_KERNEL_SIZES));
    assert_false(sh->keys & PF_PK_BIT(PF_PK_NETWORK_CLASS_NAME));
    assert_true(sh->keys & PF_PK_BIT(PF_PK_PATCH_SIZE));

    /* written back: own keys only, unknown keys dropped; then stable */
    assert_int_equal(pf_plans_to_json(&plan, &t1, &err), 0);
    assert_null(strstr(t1, "unknown_top"));
    assert_null(strstr(t1, "extra"));
    assert_non_null(strstr(t1, "n_blocks_per_stage"));
    assert_non_null(strstr(t1, "\"3d_fullres_bs4\": {\n"
                               "            \"inherits_from\": \"3d_fullres\",\n"
                               "            \"batch_size\": 4\n"
                               "        }"));
    assert_int_equal(pf_plans_from_json(t1, strlen(t1), "t1", &back, &err), 0);
    assert_plan_equal(&plan, &back);
    assert_int_equal(pf_plans_to_json(&back, &t2, &err), 0);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    pf_plan_free(&back);
    pf_plan_free(&plan);
}

/* nnU-Net plans before 2.3 (no "architecture"): converted as ConfigurationManager does
 * (checked against nnU-Net's PlansManager on this text). */
static const char legacy_plans[] =
    "{\"transpose_forward\": [0, 1, 2], \"transpose_backward\": [0, 1, 2],\n"
    " \"configurations\": {\"3d_fullres\": {\"batch_size\": 2, \"patch_size\": [40, 56, 40],\n"
    "   \"spacing\": [1.0, 1.0, 1.0], \"UNet_class_name\": \"PlainConvUNet\",\n"
    "   \"UNet_base_num_features\": 32, \"n_conv_per_stage_encoder\": [2, 2, 2, 2, 2, 2, 2],\n"
    "   \"n_conv_per_stage_decoder\": [2, 2, 2, 2, 2, 2], \"num_pool_per_axis\": [3, 3, 3],\n"
    "   \"pool_op_kernel_sizes\": [[1, 1, 1], [2, 2, 2], [2, 2, 2], [2, 2, 2], [1, 2, 2],\n"
    "                            [1, 2, 2], [1, 1, 2]],\n"
    "   \"conv_kernel_sizes\": [[3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3],\n"
    "                         [3, 3, 3], [3, 3, 3]],\n"
    "   \"unet_max_num_features\": 320}}}";

static void test_json_legacy_layout(void **state)
{
    pf_plan plan, back;
    pf_error err = {0};
    const pf_plan_config *c;
    char *t1, *t2;
    const int features[7] = {32, 64, 128, 256, 320, 320, 320};
    (void)state;
    if (pf_plans_from_json(legacy_plans, strlen(legacy_plans), "old.json", &plan, &err))
        fail_msg("%s", err.msg);
    c = &plan.configs[0];
    assert_string_equal(c->network_class_name,
                        "dynamic_network_architectures.architectures.unet.PlainConvUNet");
    assert_int_equal(c->n_stages, 7);
    assert_memory_equal(c->features_per_stage, features, sizeof features);
    assert_int_equal(c->strides[6][2], 2);
    assert_int_equal(c->strides[6][1], 1);
    assert_string_equal(c->conv_op, "torch.nn.modules.conv.Conv3d");
    assert_string_equal(c->norm_op, "torch.nn.modules.instancenorm.InstanceNorm3d");
    assert_true(c->keys & PF_PK_BIT(PF_PK_N_CONV_PER_STAGE));
    assert_false(c->keys & PF_PK_BIT(PF_PK_N_BLOCKS_PER_STAGE));
    /* written in the current layout, and stable from there */
    assert_int_equal(pf_plans_to_json(&plan, &t1, &err), 0);
    assert_null(strstr(t1, "UNet_class_name"));
    assert_int_equal(pf_plans_from_json(t1, strlen(t1), "t1", &back, &err), 0);
    assert_plan_equal(&plan, &back);
    assert_int_equal(pf_plans_to_json(&back, &t2, &err), 0);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    pf_plan_free(&back);
    pf_plan_free(&plan);
}

static void test_json_errors_name_file_and_key(void **state)
{
    static const struct { const char *json, *want; } cases[] = {
        {"{\"transpose_forward\": [0, 1, 2], \"transpose_backward\": [0, 1, 2], "
         "\"configurations\": {\"3d_fullres\": {\"patch_size\": [40, \"x\", 40], "
         "\"spacing\": [1, 1, 1]}}}",
         "bad.json: configurations.3d_fullres.patch_size[1]: expected an integer"},
        {"{\"transpose_backward\": [0, 1, 2], \"configurations\": {}}",
         "bad.json: transpose_forward: missing"},
        {"{\"transpose_forward\": [0, 1, 1], \"transpose_backward\": [0, 1, 2], "
         "\"configurations\": {}}",
         "bad.json: transpose_forward: not a permutation"},
        {"{\"transpose_forward\": [2, 0, 1], \"transpose_backward\": [2, 0, 1], "
         "\"configurations\": {}}",
         "bad.json: transpose_backward: not the inverse"},
        {"{\"transpose_forward\": [0, 1, 2], \"transpose_backward\": [0, 1, 2], "
         "\"configurations\": {\"a\": {\"inherits_from\": \"b\"}}}",
         "bad.json: configurations.a.inherits_from: no configuration named \"b\""},
        {"{\"transpose_forward\": [0, 1, 2], \"transpose_backward\": [0, 1, 2], "
         "\"configurations\": {\"a\": {\"inherits_from\": \"b\"}, "
         "\"b\": {\"inherits_from\": \"a\"}}}",
         "circular inheritance"},
        {"{\"transpose_forward\": [0, 1, 2], \"transpose_backward\": [0, 1, 2], "
         "\"configurations\": {\"2d\": {\"patch_size\": [40, 40], \"spacing\": [1, 1, 1]}}}",
         "bad.json: configurations.2d.spacing: 3 entries where other keys have 2"},
        {"{\"transpose_forward\": [0, 1, 2], \"transpose_backward\": [0, 1, 2], "
         "\"configurations\": {\"2d\": {\"patch_size\": [40, 40]}}}",
         "bad.json: configurations.2d: no spacing"},
        {"{\"transpose_forward\": [0, 1, 2], \"transpose_backward\": [0, 1, 2], "
         "\"configurations\": {\"2d\": {\"patch_size\": [40, 40], \"spacing\": [1, 1], "
         "\"architecture\": {\"arch_kwargs\": {\"n_stages\": 2, \"strides\": [[1, 1]]}}}}}",
         "bad.json: configurations.2d.architecture.arch_kwargs.strides: 1 entries for 2 stages"},
        {"{\"transpose_forward\": [0, 1, 2], \"transpose_backward\": [0, 1, 2], "
         "\"configurations\": {\"2d\": {\"patch_size\": [40, 40], \"spacing\": [1, 1], "
         "\"use_mask_for_norm\": [\"no\"]}}}",
         "bad.json: configurations.2d.use_mask_for_norm[0]: expected true or false"},
        {"{\"transpose_forward\": [0, 1, 2], \"transpose_backward\": [0, 1, 2], "
         "\"configurations\": {}, \"foreground_intensity_properties_per_channel\": "
         "{\"0\": {\"max\": 1}}}",
         "bad.json: foreground_intensity_properties_per_channel.0.mean: missing"},
        {"{\"transpose_forward\": [0, 1, 2],", "bad.json:1:"},
        {"[]", "bad.json: (top level): expected an object"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pf_plan plan;
        pf_error err = {0};
        assert_int_equal(pf_plans_from_json(cases[i].json, strlen(cases[i].json), "bad.json",
                                            &plan, &err), -1);
        if (!strstr(err.msg, cases[i].want))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i].want);
        assert_int_equal(plan.n_configs, 0);
        assert_null(plan.configs);
    }
}

static void test_rejects_bad_fingerprints(void **state)
{
    static const double sp_bad[3] = {1.0, 0.0, 1.0}, sp[3] = {1.0, 1.0, 1.0};
    static const int64_t sh[3] = {10, 10, 10}, sh_bad[3] = {10, 0, 10};
    static const char *const names[1] = {"CT"};
    pf_fingerprint base = {.n_channels = 1, .channel_names = names, .n_cases = 1, .spacings = sp,
                           .shapes = sh, .median_relative_size_after_cropping = 1, .n_labels = 2};
    pf_fingerprint fp;
    pf_plan plan;
    pf_error err = {0};
    (void)state;

    assert_int_equal(pf_plan_experiment(&base, &plan, &err), 0);
    assert_int_equal(plan.n_configs, 2);
    pf_plan_free(&plan);

    fp = base;
    fp.n_cases = 0;
    assert_int_equal(pf_plan_experiment(&fp, &plan, &err), -1);
    assert_non_null(strstr(err.msg, "no cases"));
    fp = base;
    fp.spacings = sp_bad;
    assert_int_equal(pf_plan_experiment(&fp, &plan, &err), -1);
    assert_non_null(strstr(err.msg, "case 0: spacing 0 on axis 1"));
    fp = base;
    fp.shapes = sh_bad;
    assert_int_equal(pf_plan_experiment(&fp, &plan, &err), -1);
    assert_non_null(strstr(err.msg, "case 0: shape 0 on axis 1"));
    fp = base;
    fp.n_labels = 0;
    assert_int_equal(pf_plan_experiment(&fp, &plan, &err), -1);
    fp = base;
    fp.n_channels = 0;
    assert_int_equal(pf_plan_experiment(&fp, &plan, &err), -1);
    assert_null(plan.configs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_datasets_plan_as_nnunet),
        cmocka_unit_test(test_synthetic_datasets_plan_as_nnunet),
        cmocka_unit_test(test_lowres_and_cascade),
        cmocka_unit_test(test_target_spacing_rules),
        cmocka_unit_test(test_numpy_arithmetic),
        cmocka_unit_test(test_topology_and_vram_estimate),
        cmocka_unit_test(test_gpu_memory_target),
        cmocka_unit_test(test_normalization_schemes),
        cmocka_unit_test(test_mask_for_norm_threshold),
        cmocka_unit_test(test_deep_supervision),
        cmocka_unit_test(test_python_float_repr),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_json_file_write_read),
        cmocka_unit_test(test_json_inheritance_and_tolerance),
        cmocka_unit_test(test_json_legacy_layout),
        cmocka_unit_test(test_json_errors_name_file_and_key),
        cmocka_unit_test(test_rejects_bad_fingerprints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
