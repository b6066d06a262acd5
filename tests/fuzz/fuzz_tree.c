/* fuzz_tree.c - libFuzzer target for the virtual tree's grammar (tree.h).
 *
 * Input layout: 24 bytes of tree shape and inode: epochs, steps, val_steps (32 bits each,
 * brought into 1..PF_MAX_EPOCHS / 1..PF_MAX_STEPS as the option parser allows), samples per
 * step (16 bits, 0..PF_MAX_BATCH), number of cases (0..8), deep-supervision files per step
 * (0..PF_MAX_DS-1), a 64-bit inode number; then up to 8 case ids separated by '\n' until a
 * NUL byte; then the path to resolve.
 *
 * Properties checked (a violation aborts, which libFuzzer reports as a crash):
 *  - pf_tree_resolve never reads or writes out of bounds (ASan) on any path;
 *  - a resolved node round-trips: pf_node_from_ino(pf_node_ino(n)) == n, its name equals the
 *    last path component, its parent resolves to pf_node_parent(n), and looking its name up
 *    in the parent gives it back;
 *  - any inode number pf_node_from_ino accepts maps back to itself, and the path built from
 *    the node names resolves to the same inode;
 *  - a directory's child i (for a fuzzed i) has a name that looks up to the same child. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "patchfs/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CASES 8
#define MAX_ID 64

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void die(const char *what, const char *path)
{
    fprintf(stderr, "fuzz_tree: %s (path \"%s\")\n", what, path ? path : "");
    abort();
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int same_node(const pf_node *a, const pf_node *b)
{
    return pf_node_ino(a) == pf_node_ino(b) && a->kind == b->kind;
}

/* Full path of a node, built from the names of its ancestors. */
static void node_path(const pf_tree *t, const pf_node *n, char *buf, size_t cap)
{
    pf_node chain[8];
    int depth = 0;
    pf_node cur = *n;
    buf[0] = '\0';
    while (cur.kind != PF_NODE_ROOT) {
        if (depth == 8)
            die("pf_node_parent does not reach the root in 8 steps", NULL);
        chain[depth++] = cur;
        cur = pf_node_parent(&cur);
    }
    while (depth > 0) {
        char name[300];
        size_t len = strlen(buf);
        pf_node_name(t, &chain[--depth], name, sizeof name);
        snprintf(buf + len, cap - len, "%s%s", len ? "/" : "", name);
    }
}

static void check_node(const pf_tree *t, const pf_node *n, const char *path)
{
    pf_node back, parent, again;
    char name[300], full[4096];
    uint64_t ino = pf_node_ino(n);
    if (pf_node_from_ino(t, ino, &back) != 0)
        die("pf_node_from_ino rejects the inode of a resolved node", path);
    if (!same_node(&back, n) || pf_node_ino(&back) != ino)
        die("pf_node_from_ino(pf_node_ino(n)) != n", path);
    if (n->kind == PF_NODE_ROOT) {
        if (ino != PF_ROOT_INO)
            die("root inode is not PF_ROOT_INO", path);
        return;
    }
    if (ino == 0 || ino == PF_ROOT_INO)
        die("a non-root node has inode 0 or 1", path);
    parent = pf_node_parent(n);
    if (!pf_node_is_dir(&parent))
        die("parent is not a directory", path);
    pf_node_name(t, n, name, sizeof name);
    if (!name[0] || strchr(name, '/'))
        die("node name is empty or holds '/'", path);
    if (pf_tree_lookup(t, &parent, name, &again) != 0 || !same_node(&again, n))
        die("lookup(parent, name(n)) != n", path);
    node_path(t, n, full, sizeof full);
    if (pf_tree_resolve(t, full, &again) != 0 || !same_node(&again, n))
        die("resolve(path built from names) != n", path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *ids[MAX_CASES];
    char idbuf[MAX_CASES][MAX_ID + 1];
    int n_ids = 0, want_cases;
    pf_tree t;
    pf_node n;
    uint64_t ino;
    const uint8_t *p, *end = data + size;
    char *path;

    if (size < 24)
        return 0;
    memset(&t, 0, sizeof t);
    t.epochs = rd32(data) % PF_MAX_EPOCHS + 1;
    t.steps = rd32(data + 4) % PF_MAX_STEPS + 1;
    t.val_steps = rd32(data + 8) % PF_MAX_STEPS + 1;
    t.samples = (uint32_t)(data[12] | data[13] << 8) % (PF_MAX_BATCH + 1);
    want_cases = data[14] % (MAX_CASES + 1);
    t.ds_files = data[15] % PF_MAX_DS;
    ino = (uint64_t)rd32(data + 20) << 32 | rd32(data + 16);
    p = data + 24;

    /* case ids: '\n'-separated, up to the first NUL; kept as the dataset layer makes them
     * (non-empty, no '/', sorted, unique) */
    while (p < end && *p != 0 && n_ids < want_cases) {
        const uint8_t *q = p;
        size_t len;
        while (q < end && *q != '\n' && *q != 0)
            q++;
        len = (size_t)(q - p);
        if (len > 0 && len <= MAX_ID && !memchr(p, '/', len)) {
            memcpy(idbuf[n_ids], p, len);
            idbuf[n_ids][len] = '\0';
            ids[n_ids] = idbuf[n_ids];
            n_ids++;
        }
        p = q < end && *q == '\n' ? q + 1 : q;
    }
    while (p < end && *p != 0)
        p++;
    if (p < end)
        p++;
    qsort(ids, (size_t)n_ids, sizeof ids[0], cmp_str);
    {
        int k = 0;
        for (int i = 0; i < n_ids; i++)
            if (k == 0 || strcmp(ids[k - 1], ids[i]))
                ids[k++] = ids[i];
        n_ids = k;
    }
    t.n_cases = n_ids;
    t.case_ids = ids;

    /* the path: the rest of the input as a C string */
    path = malloc((size_t)(end - p) + 1);
    if (!path)
        return 0;
    memcpy(path, p, (size_t)(end - p));
    path[end - p] = '\0';

    if (pf_tree_resolve(&t, path, &n) == 0) {
        check_node(&t, &n, path);
        if (pf_node_is_dir(&n)) {
            uint64_t count = pf_tree_child_count(&t, &n), i;
            pf_node child, again;
            char name[300];
            if (count > 0) {
                i = ino % count;
                if (pf_tree_child_at(&t, &n, i, &child) != 0)
                    die("pf_tree_child_at fails below the child count", path);
                pf_node_name(&t, &child, name, sizeof name);
                if (pf_tree_lookup(&t, &n, name, &again) != 0 || !same_node(&again, &child))
                    die("lookup(name(child_at(i))) != child_at(i)", path);
                check_node(&t, &child, path);
            }
            if (pf_tree_child_at(&t, &n, count, &child) == 0)
                die("pf_tree_child_at accepts index == child count", path);
        }
    }
    free(path);

    /* a fuzzed inode number: accepted ones are canonical and reachable by path */
    if (pf_node_from_ino(&t, ino, &n) == 0) {
        char full[4096];
        pf_node again;
        if (pf_node_ino(&n) != ino)
            die("pf_node_from_ino accepts a non-canonical inode", NULL);
        node_path(&t, &n, full, sizeof full);
        if (pf_tree_resolve(&t, full, &again) != 0 || pf_node_ino(&again) != ino)
            die("an accepted inode's path does not resolve to it", full);
        check_node(&t, &n, full);
    }
    return 0;
}
