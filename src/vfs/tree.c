/* tree.c - names, nodes and computed inode numbers of the virtual tree (see tree.h). */
#include "patchfs/tree.h"

#include <stdio.h>
#include <string.h>

#include "options.h"
#include "order.h"

/* ino layout (64 bits):
 *   63..60 kind   59 split   58..57 slot (low bits)   56..37 epoch (20)   36..15 step (22)
 *   14..3 sample (12)   2..0 slot (high bits)
 * Case nodes keep their index in bits 42..15 and, under tiles/, the tile's in bits 56..43
 * (high 14) and 14..3 (low 12); bit 59 tells test/ from cases/. The root is 1 as FUSE
 * requires; every other
 * kind is >= 2, so no other node maps to 0 or 1. Only the fields a kind uses enter its
 * number, so each node has exactly one inode number and pf_node_from_ino rejects the rest. */
#define EPOCH_SHIFT 37
#define STEP_SHIFT 15
#define SAMPLE_SHIFT 3
#define CASE_SHIFT 15
#define TILE_LOW_BITS 12
#define TILE_HIGH_SHIFT 43

static int uses_case(pf_node_kind k)
{
    return k == PF_NODE_CASE_DIR || k == PF_NODE_CASE_FILE || k == PF_NODE_TILES_DIR ||
           k == PF_NODE_TILE_DIR || k == PF_NODE_TILE_FILE;
}

static int uses_tile(pf_node_kind k)
{
    return k == PF_NODE_TILE_DIR || k == PF_NODE_TILE_FILE;
}

static int uses_split(pf_node_kind k)
{
    return k == PF_NODE_SPLIT_DIR || k == PF_NODE_EPOCH_DIR || k == PF_NODE_STEP_DIR ||
           k == PF_NODE_STEP_FILE || k == PF_NODE_SAMPLE_DIR || k == PF_NODE_SAMPLE_FILE ||
           k == PF_NODE_SUMMARY || k == PF_NODE_CASES_DIR || uses_case(k);
}

static int uses_epoch(pf_node_kind k)
{
    return k == PF_NODE_EPOCH_DIR || k == PF_NODE_STEP_DIR || k == PF_NODE_STEP_FILE ||
           k == PF_NODE_SAMPLE_DIR || k == PF_NODE_SAMPLE_FILE || k == PF_NODE_SUMMARY;
}

static int uses_step(pf_node_kind k)
{
    return uses_epoch(k) && k != PF_NODE_EPOCH_DIR && k != PF_NODE_SUMMARY;
}

static int uses_sample(pf_node_kind k)
{
    return k == PF_NODE_SAMPLE_DIR || k == PF_NODE_SAMPLE_FILE;
}

static int uses_file(pf_node_kind k)
{
    return k == PF_NODE_ROOT_FILE || k == PF_NODE_STEP_FILE || k == PF_NODE_CASE_FILE ||
           k == PF_NODE_SAMPLE_FILE || k == PF_NODE_TILE_FILE;
}

/* The node with every field its kind does not use cleared. */
static pf_node canonical(const pf_node *n)
{
    pf_node c = {0};
    c.kind = n->kind;
    if (uses_split(n->kind)) c.split = n->split & 1;
    if (uses_epoch(n->kind)) c.epoch = n->epoch;
    if (uses_step(n->kind)) c.step = n->step;
    if (uses_sample(n->kind)) c.sample = n->sample;
    if (uses_case(n->kind)) c.case_idx = n->case_idx;
    if (uses_tile(n->kind)) c.tile = n->tile & PF_MAX_TILES;
    if (uses_file(n->kind)) c.slot = n->slot;
    return c;
}

uint64_t pf_node_ino(const pf_node *node)
{
    pf_node n = canonical(node);
    if (n.kind == PF_NODE_ROOT)
        return PF_ROOT_INO;
    return ((uint64_t)n.kind << 60) | ((uint64_t)n.split << 59) | ((uint64_t)(n.slot & 3) << 57) |
           ((uint64_t)(n.slot >> 2) & 7) |
           ((uint64_t)(n.epoch & PF_MAX_EPOCHS) << EPOCH_SHIFT) |
           ((uint64_t)(n.step & PF_MAX_STEPS) << STEP_SHIFT) |
           ((uint64_t)(n.sample & (PF_MAX_BATCH - 1)) << SAMPLE_SHIFT) |
           ((uint64_t)(n.case_idx & PF_MAX_CASES) << CASE_SHIFT) |
           ((uint64_t)(n.tile & ((1u << TILE_LOW_BITS) - 1)) << SAMPLE_SHIFT) |
           ((uint64_t)(n.tile >> TILE_LOW_BITS) << TILE_HIGH_SHIFT);
}

static uint32_t split_steps(const pf_tree *t, uint32_t split)
{
    return split ? t->val_steps : t->steps;
}

/* cases/ (split 0) or test/ (split 1) */
static int split_cases(const pf_tree *t, uint32_t split)
{
    return split ? t->n_test : t->n_cases;
}

static uint32_t case_tiles(const pf_tree *t, const pf_node *n)
{
    return t->tiles[n->split] ? t->tiles[n->split][n->case_idx] : 0;
}

int pf_node_from_ino(const pf_tree *t, uint64_t ino, pf_node *out)
{
    pf_node n = {0};
    if (ino == PF_ROOT_INO) {
        *out = pf_node_root();
        return 0;
    }
    n.kind = (pf_node_kind)(ino >> 60);
    if (n.kind < PF_NODE_ROOT_FILE || n.kind > PF_NODE_SUMMARY)
        return -1;
    n.split = (uint32_t)(ino >> 59) & 1;
    n.slot = (uint32_t)(((ino >> 57) & 3) | ((ino & 7) << 2));
    n.epoch = (uint32_t)(ino >> EPOCH_SHIFT) & PF_MAX_EPOCHS;
    n.step = (uint32_t)(ino >> STEP_SHIFT) & PF_MAX_STEPS;
    n.sample = (uint32_t)(ino >> SAMPLE_SHIFT) & (PF_MAX_BATCH - 1);
    n.case_idx = (uint32_t)(ino >> CASE_SHIFT) & PF_MAX_CASES;
    n.tile = (uint32_t)((ino >> SAMPLE_SHIFT) & ((1u << TILE_LOW_BITS) - 1)) |
             (uint32_t)(((ino >> TILE_HIGH_SHIFT) & 0x3fff) << TILE_LOW_BITS);
    n = canonical(&n);
    if (pf_node_ino(&n) != ino)
        return -1;
    if (uses_epoch(n.kind) && n.epoch >= t->epochs)
        return -1;
    if (uses_step(n.kind) && n.step >= split_steps(t, n.split))
        return -1;
    if (uses_sample(n.kind) && n.sample >= t->samples)
        return -1;
    if ((uses_case(n.kind) || n.kind == PF_NODE_CASES_DIR) && n.split && t->n_test <= 0)
        return -1; /* no test/ folder */
    if (uses_case(n.kind) && n.case_idx >= (uint32_t)split_cases(t, n.split))
        return -1;
    if (uses_tile(n.kind) && n.tile >= case_tiles(t, &n))
        return -1;
    if (n.kind == PF_NODE_CASE_FILE && (n.slot >= PF_CASE_FILES || (n.split && n.slot == 1)))
        return -1; /* a test case has no seg.npy */
    if (n.kind == PF_NODE_TILE_FILE && n.slot != 0)
        return -1;
    if (n.kind == PF_NODE_ROOT_FILE && n.slot >= PF_ROOT_FILES)
        return -1;
    if ((n.kind == PF_NODE_STEP_FILE || n.kind == PF_NODE_SAMPLE_FILE) &&
        n.slot >= PF_FOLDER_FILES &&
        !(n.kind == PF_NODE_STEP_FILE &&
          (n.slot < PF_FOLDER_FILES + t->ds_files || n.slot == PF_STEP_BATCH_SLOT)))
        return -1;
    *out = n;
    return 0;
}

int pf_node_is_dir(const pf_node *n)
{
    switch (n->kind) {
    case PF_NODE_ROOT: case PF_NODE_SPLIT_DIR: case PF_NODE_EPOCH_DIR: case PF_NODE_STEP_DIR:
    case PF_NODE_CASES_DIR: case PF_NODE_CASE_DIR: case PF_NODE_SAMPLE_DIR:
    case PF_NODE_TILES_DIR: case PF_NODE_TILE_DIR:
        return 1;
    default:
        return 0;
    }
}

pf_node pf_node_root(void)
{
    pf_node n = {0};
    n.kind = PF_NODE_ROOT;
    return n;
}

pf_node pf_node_parent(const pf_node *n)
{
    pf_node p = *n;
    switch (n->kind) {
    case PF_NODE_EPOCH_DIR: p.kind = PF_NODE_SPLIT_DIR; break;
    case PF_NODE_STEP_DIR: p.kind = PF_NODE_EPOCH_DIR; break;
    case PF_NODE_STEP_FILE: case PF_NODE_SAMPLE_DIR: p.kind = PF_NODE_STEP_DIR; break;
    case PF_NODE_SUMMARY: p.kind = PF_NODE_EPOCH_DIR; break;
    case PF_NODE_SAMPLE_FILE: p.kind = PF_NODE_SAMPLE_DIR; break;
    case PF_NODE_CASE_DIR: p.kind = PF_NODE_CASES_DIR; break;
    case PF_NODE_CASE_FILE: case PF_NODE_TILES_DIR: p.kind = PF_NODE_CASE_DIR; break;
    case PF_NODE_TILE_DIR: p.kind = PF_NODE_TILES_DIR; break;
    case PF_NODE_TILE_FILE: p.kind = PF_NODE_TILE_DIR; break;
    default: p = pf_node_root(); break;
    }
    return canonical(&p);
}

/* the root's entries; "test" (the last) only when there are test images */
#define N_ROOT (PF_ROOT_FILES + 4)
static const char *const root_names[N_ROOT] = {"README.txt", "patchfs.json", "splits.json",
                                               "status.json", "plans.json", "gaussian.npy",
                                               "train", "val", "cases", "test"};
static const pf_file_kind root_kinds[PF_ROOT_FILES] = {
    PF_FILE_README, PF_FILE_PATCHFS_JSON, PF_FILE_SPLITS_JSON, PF_FILE_STATUS, PF_FILE_PLANS_JSON,
    PF_FILE_GAUSSIAN};
static const char *const step_files[PF_FOLDER_FILES] = {"data.npy", "seg.npy", "meta.json",
                                                        "preview.png"};
static const char *const case_files[PF_CASE_FILES] = {"data.npy", "seg.npy", "properties.json",
                                                      "preview.png", "tiles.json"};
/* a test case's file slots in listing order (no seg.npy) */
static const uint32_t test_case_slots[PF_CASE_FILES - 1] = {0, 2, 3, 4};
static const char *const sample_files[PF_FOLDER_FILES] = {"data.npy", "seg.npy", "image.nii.gz",
                                                          "label.nii.gz"};
/* file kinds by folder and slot (step slots from PF_FOLDER_FILES on are seg_dsK.npy) */
static const pf_file_kind step_kinds[PF_FOLDER_FILES] = {
    PF_FILE_STEP_DATA, PF_FILE_STEP_SEG, PF_FILE_STEP_META, PF_FILE_STEP_PREVIEW};
static const pf_file_kind case_kinds[PF_CASE_FILES] = {
    PF_FILE_CASE_DATA, PF_FILE_CASE_SEG, PF_FILE_CASE_PROPERTIES, PF_FILE_CASE_PREVIEW,
    PF_FILE_CASE_TILES_JSON};
static const pf_file_kind sample_kinds[PF_FOLDER_FILES] = {
    PF_FILE_SAMPLE_DATA, PF_FILE_SAMPLE_SEG, PF_FILE_SAMPLE_IMAGE_NII, PF_FILE_SAMPLE_LABEL_NII};

pf_file_kind pf_node_file(const pf_node *n)
{
    switch (n->kind) {
    case PF_NODE_ROOT_FILE: return n->slot < PF_ROOT_FILES ? root_kinds[n->slot] : PF_FILE_NONE;
    case PF_NODE_SUMMARY: return PF_FILE_SUMMARY;
    case PF_NODE_STEP_FILE:
        return n->slot < PF_FOLDER_FILES       ? step_kinds[n->slot]
             : n->slot == PF_STEP_BATCH_SLOT ? PF_FILE_STEP_BATCH : PF_FILE_STEP_SEG_DS;
    case PF_NODE_CASE_FILE: return n->slot < PF_CASE_FILES ? case_kinds[n->slot] : PF_FILE_NONE;
    case PF_NODE_TILE_FILE: return PF_FILE_TILE_DATA;
    case PF_NODE_SAMPLE_FILE:
        return n->slot < PF_FOLDER_FILES ? sample_kinds[n->slot] : PF_FILE_NONE;
    default: return PF_FILE_NONE;
    }
}

int pf_node_ds_level(const pf_node *n)
{
    return n->kind == PF_NODE_STEP_FILE && n->slot >= PF_FOLDER_FILES &&
                   n->slot != PF_STEP_BATCH_SLOT
               ? (int)(n->slot - PF_FOLDER_FILES) + 1 : 0;
}

static int slot_of(const pf_file_kind *kinds, int n, pf_file_kind f)
{
    for (int i = 0; i < n; i++)
        if (kinds[i] == f)
            return i;
    return -1;
}

int pf_node_sibling(const pf_node *n, pf_file_kind f, pf_node *out)
{
    const pf_file_kind *kinds = n->kind == PF_NODE_STEP_FILE ? step_kinds
                              : n->kind == PF_NODE_CASE_FILE ? case_kinds
                              : n->kind == PF_NODE_SAMPLE_FILE ? sample_kinds : NULL;
    int i = kinds ? slot_of(kinds, n->kind == PF_NODE_CASE_FILE ? PF_CASE_FILES
                                                                 : PF_FOLDER_FILES, f) : -1;
    if (n->kind == PF_NODE_STEP_FILE && f == PF_FILE_STEP_BATCH)
        i = PF_STEP_BATCH_SLOT;
    if (i < 0 || (n->kind == PF_NODE_CASE_FILE && n->split && i == 1))
        return -1; /* a test case has no seg.npy */
    *out = *n;
    out->slot = (uint32_t)i;
    return 0;
}

static pf_node root_child(int i)
{
    pf_node n = {0};
    if (i < PF_ROOT_FILES) {
        n.kind = PF_NODE_ROOT_FILE;
        n.slot = (uint32_t)i;
    } else if (i < PF_ROOT_FILES + 2) {
        n.kind = PF_NODE_SPLIT_DIR;
        n.split = (uint32_t)(i - PF_ROOT_FILES);
    } else {
        n.kind = PF_NODE_CASES_DIR;
        n.split = i == N_ROOT - 1; /* test/ */
    }
    return n;
}

/* "prefix_N" with canonical N < limit. */
static int parse_numbered(const char *name, const char *prefix, uint32_t limit, uint32_t *out)
{
    size_t lp = strlen(prefix);
    uint64_t v;
    if (strncmp(name, prefix, lp) != 0 || pf_parse_u64(name + lp, PF_MAX_CASES, &v) != 0 ||
        v >= limit)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int cmp_id(const void *key, const void *elem)
{
    return strcmp(key, *(char *const *)elem);
}

static int find_case(const pf_tree *t, uint32_t split, const char *id)
{
    char *const *ids = split ? t->test_ids : t->case_ids;
    size_t n = (size_t)split_cases(t, split);
    size_t i = pf_lower_bound(id, ids, n, sizeof *ids, cmp_id);
    return i < n && strcmp(ids[i], id) == 0 ? (int)i : -1;
}

static uint32_t root_count(const pf_tree *t)
{
    return t->n_test > 0 ? N_ROOT : N_ROOT - 1;
}

static int file_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

int pf_tree_lookup(const pf_tree *t, const pf_node *dir, const char *name, pf_node *out)
{
    pf_node n = *dir;
    int i;
    switch (dir->kind) {
    case PF_NODE_ROOT:
        if ((i = file_index(root_names, (int)root_count(t), name)) < 0)
            return -1;
        n = root_child(i);
        break;
    case PF_NODE_SPLIT_DIR:
        if (parse_numbered(name, "epoch_", t->epochs, &n.epoch))
            return -1;
        n.kind = PF_NODE_EPOCH_DIR;
        break;
    case PF_NODE_EPOCH_DIR:
        if (!strcmp(name, "summary.json"))
            n.kind = PF_NODE_SUMMARY;
        else if (parse_numbered(name, "step_", split_steps(t, dir->split), &n.step) == 0)
            n.kind = PF_NODE_STEP_DIR;
        else
            return -1;
        break;
    case PF_NODE_STEP_DIR:
        if ((i = file_index(step_files, PF_FOLDER_FILES, name)) >= 0) {
            n.kind = PF_NODE_STEP_FILE;
            n.slot = (uint32_t)i;
        } else if (!strcmp(name, "batch.npz")) {
            n.kind = PF_NODE_STEP_FILE;
            n.slot = PF_STEP_BATCH_SLOT;
        } else if (!strncmp(name, "seg_ds", 6) && strlen(name) > 10 &&
                   !strcmp(name + strlen(name) - 4, ".npy")) {
            char num[16];
            size_t len = strlen(name) - 10;
            uint64_t k;
            if (len >= sizeof num)
                return -1;
            memcpy(num, name + 6, len);
            num[len] = '\0';
            if (pf_parse_u64(num, PF_MAX_FILES, &k) != 0 || k == 0 || k > t->ds_files)
                return -1;
            n.kind = PF_NODE_STEP_FILE;
            n.slot = PF_FOLDER_FILES + (uint32_t)k - 1;
        } else if (parse_numbered(name, "sample_", t->samples, &n.sample) == 0) {
            n.kind = PF_NODE_SAMPLE_DIR;
        } else {
            return -1;
        }
        break;
    case PF_NODE_SAMPLE_DIR:
        if ((i = file_index(sample_files, PF_FOLDER_FILES, name)) < 0)
            return -1;
        n.kind = PF_NODE_SAMPLE_FILE;
        n.slot = (uint32_t)i;
        break;
    case PF_NODE_CASE_DIR:
        if (!strcmp(name, "tiles")) {
            n.kind = PF_NODE_TILES_DIR;
            break;
        }
        if ((i = file_index(case_files, PF_CASE_FILES, name)) < 0 || (dir->split && i == 1))
            return -1;
        n.kind = PF_NODE_CASE_FILE;
        n.slot = (uint32_t)i;
        break;
    case PF_NODE_CASES_DIR:
        if ((i = find_case(t, dir->split, name)) < 0)
            return -1;
        n.kind = PF_NODE_CASE_DIR;
        n.case_idx = (uint32_t)i;
        break;
    case PF_NODE_TILES_DIR:
        if (parse_numbered(name, "", case_tiles(t, dir), &n.tile))
            return -1;
        n.kind = PF_NODE_TILE_DIR;
        break;
    case PF_NODE_TILE_DIR:
        if (strcmp(name, "data.npy"))
            return -1;
        n.kind = PF_NODE_TILE_FILE;
        n.slot = 0;
        break;
    default:
        return -1;
    }
    *out = canonical(&n);
    return 0;
}

uint64_t pf_tree_child_count(const pf_tree *t, const pf_node *dir)
{
    switch (dir->kind) {
    case PF_NODE_ROOT: return root_count(t);
    case PF_NODE_SPLIT_DIR: return t->epochs;
    case PF_NODE_EPOCH_DIR: return 1 + (uint64_t)split_steps(t, dir->split);
    case PF_NODE_STEP_DIR:
        return PF_FOLDER_FILES + (uint64_t)t->ds_files + 1 + (uint64_t)t->samples; /* + batch */
    case PF_NODE_SAMPLE_DIR: return PF_FOLDER_FILES;
    case PF_NODE_CASE_DIR: return dir->split ? PF_CASE_FILES : PF_CASE_FILES + 1;
    case PF_NODE_CASES_DIR: return (uint64_t)split_cases(t, dir->split);
    case PF_NODE_TILES_DIR: return case_tiles(t, dir);
    case PF_NODE_TILE_DIR: return 1;
    default: return 0;
    }
}

int pf_tree_child_at(const pf_tree *t, const pf_node *dir, uint64_t i, pf_node *out)
{
    pf_node n = *dir;
    if (i >= pf_tree_child_count(t, dir))
        return -1;
    switch (dir->kind) {
    case PF_NODE_ROOT: n = root_child((int)i); break;
    case PF_NODE_SPLIT_DIR: n.kind = PF_NODE_EPOCH_DIR; n.epoch = (uint32_t)i; break;
    case PF_NODE_EPOCH_DIR:
        if (i == 0) {
            n.kind = PF_NODE_SUMMARY;
        } else {
            n.kind = PF_NODE_STEP_DIR;
            n.step = (uint32_t)(i - 1);
        }
        break;
    case PF_NODE_STEP_DIR:
        if (i < PF_FOLDER_FILES + (uint64_t)t->ds_files) {
            n.kind = PF_NODE_STEP_FILE;
            n.slot = (uint32_t)i;
        } else if (i == PF_FOLDER_FILES + (uint64_t)t->ds_files) {
            n.kind = PF_NODE_STEP_FILE;
            n.slot = PF_STEP_BATCH_SLOT;
        } else {
            n.kind = PF_NODE_SAMPLE_DIR;
            n.sample = (uint32_t)(i - PF_FOLDER_FILES - t->ds_files - 1);
        }
        break;
    case PF_NODE_SAMPLE_DIR: n.kind = PF_NODE_SAMPLE_FILE; n.slot = (uint32_t)i; break;
    case PF_NODE_CASE_DIR:
        if (i + 1 == pf_tree_child_count(t, dir)) {
            n.kind = PF_NODE_TILES_DIR;
        } else {
            n.kind = PF_NODE_CASE_FILE;
            n.slot = dir->split ? test_case_slots[i] : (uint32_t)i;
        }
        break;
    case PF_NODE_CASES_DIR: n.kind = PF_NODE_CASE_DIR; n.case_idx = (uint32_t)i; break;
    case PF_NODE_TILES_DIR: n.kind = PF_NODE_TILE_DIR; n.tile = (uint32_t)i; break;
    case PF_NODE_TILE_DIR: n.kind = PF_NODE_TILE_FILE; n.slot = 0; break;
    default: return -1;
    }
    *out = canonical(&n);
    return 0;
}

void pf_node_name(const pf_tree *t, const pf_node *n, char *buf, size_t cap)
{
    switch (n->kind) {
    case PF_NODE_ROOT: snprintf(buf, cap, "%s", ""); break;
    case PF_NODE_ROOT_FILE: snprintf(buf, cap, "%s", root_names[n->slot % PF_ROOT_FILES]); break;
    case PF_NODE_SUMMARY: snprintf(buf, cap, "%s", "summary.json"); break;
    case PF_NODE_SPLIT_DIR: snprintf(buf, cap, "%s", n->split ? "val" : "train"); break;
    case PF_NODE_CASES_DIR: snprintf(buf, cap, "%s", n->split ? "test" : "cases"); break;
    case PF_NODE_TILES_DIR: snprintf(buf, cap, "%s", "tiles"); break;
    case PF_NODE_TILE_DIR: snprintf(buf, cap, "%u", n->tile); break;
    case PF_NODE_TILE_FILE: snprintf(buf, cap, "%s", "data.npy"); break;
    case PF_NODE_EPOCH_DIR: snprintf(buf, cap, "epoch_%u", n->epoch); break;
    case PF_NODE_STEP_DIR: snprintf(buf, cap, "step_%u", n->step); break;
    case PF_NODE_SAMPLE_DIR: snprintf(buf, cap, "sample_%u", n->sample); break;
    case PF_NODE_STEP_FILE:
        if (n->slot < PF_FOLDER_FILES)
            snprintf(buf, cap, "%s", step_files[n->slot]);
        else if (n->slot == PF_STEP_BATCH_SLOT)
            snprintf(buf, cap, "%s", "batch.npz");
        else
            snprintf(buf, cap, "seg_ds%d.npy", pf_node_ds_level(n));
        break;
    case PF_NODE_SAMPLE_FILE: snprintf(buf, cap, "%s", sample_files[n->slot % PF_FOLDER_FILES]); break;
    case PF_NODE_CASE_FILE: snprintf(buf, cap, "%s", case_files[n->slot % PF_CASE_FILES]); break;
    case PF_NODE_CASE_DIR:
        snprintf(buf, cap, "%s", (n->split ? t->test_ids : t->case_ids)[n->case_idx]);
        break;
    }
}

int pf_tree_resolve(const pf_tree *t, const char *path, pf_node *out)
{
    pf_node cur = pf_node_root();
    const char *p = path;
    while (*p) {
        char name[256];
        size_t len;
        while (*p == '/')
            p++;
        if (!*p)
            break;
        len = strcspn(p, "/");
        if (len >= sizeof name)
            return -1;
        memcpy(name, p, len);
        name[len] = '\0';
        p += len;
        if (!pf_node_is_dir(&cur) || pf_tree_lookup(t, &cur, name, &cur) != 0)
            return -1;
    }
    *out = cur;
    return 0;
}
