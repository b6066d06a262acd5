#!/usr/bin/env bash
# run.sh - integration tests: mount real and generated datasets for real (FUSE, as root),
# compare every byte the mount serves with `patchfs get` (no FUSE), check the content against
# an independent numpy/scipy reference (verify.py), pin golden digests, and check errors for
# broken datasets. Ends with the line "N passed, M failed".
#
#   PYTHON=/usr/bin/python3 bash tests/integration/run.sh [filter]
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
PF=$ROOT/patchfs
PY=${PYTHON:-/usr/bin/python3}
REAL=${PATCHFS_REAL_DATA:-$ROOT/../shared/data/real}
FILTER=${1:-}
T=$(mktemp -d /tmp/patchfs-it.XXXXXX)
export XDG_CACHE_HOME=$T/xdg
PASS=0 FAIL=0 SKIP=0
MOUNTS=()

cleanup() {
    for m in "${MOUNTS[@]}"; do
        mountpoint -q "$m" 2>/dev/null && fusermount3 -uz "$m" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT

SUITE=""
. tests/integration/lib.sh
pf_umount() { fusermount3 -u "$1"; }

want() { case "$1" in *"$FILTER"*) return 0 ;; *) return 1 ;; esac; }

# ---------------------------------------------------------------- command line
if want cli; then
    check "cli: --help exits 0 and shows usage" bash -c "'$PF' --help | grep -q 'patchfs get'"
    check "cli: --version" bash -c "'$PF' --version | grep -q '^patchfs [0-9]'"
    check "cli: --version names the vector path, PATCHFS_SIMD caps it" bash -c "'$PF' --version | grep -Eq '^simd (scalar|sse2|neon|avx2) \(cpu: ' && PATCHFS_SIMD=scalar '$PF' --version | grep -q '^simd scalar '"
    check "cli: unknown option is named" bash -c "'$PF' check /x -o bogus=1 2>&1 | grep -q \"unknown option 'bogus'\""
    check "cli: bad value is named" bash -c "'$PF' check /x --patch=0x1x1 2>&1 | grep -q \"option 'patch'\""
    check "cli: bad value exits non-zero" bash -c "! '$PF' check /x --batch=0 2>/dev/null"
    check "cli: missing dataset names it" bash -c "'$PF' check /nonexistent/ds 2>&1 | grep -q '/nonexistent/ds'"
fi

# ---------------------------------------------------------------- generated datasets
GEN_OPTS="seed=7,batch=5,cache=$T/cache"
if want gen; then
    gen "$T/gen_nnunet" --channels 2 --dtype int16 --cases 6
    gen "$T/gen_msd" --layout msd --channels 3 --dtype float32 --cases 5 --seed 2
    gen "$T/gen_ct" --ct --dtype float64 --cases 5 --classes 3 --seed 3
    gen "$T/gen_u8" --dtype uint8 --cases 7 --classes 1 --shape 12,20,16 --seed 4
    for ds in gen_nnunet gen_msd gen_ct gen_u8; do
        M=$T/mnt_$ds
        if ! pf_mount "$T/$ds" "$M" "$GEN_OPTS"; then bad "gen $ds: mounts"; sed 's/^/    /' "$T/mount.err"; continue; fi
        ok "gen $ds: mounts"
        check "gen $ds: content equals the numpy/scipy reference" \
            "$PY" tests/integration/verify.py "$T/$ds" "$M" --steps 4 --cases
        check "gen $ds: README.txt names every content option set and every file of a step" \
            bash -c "grep -q 'content options set: seed=7 .*batch=5' '$M/README.txt' &&
                     grep -q 'preview.png' '$M/README.txt' && grep -q 'plans.json' '$M/README.txt' &&
                     grep -q 'summary.json' '$M/README.txt'"
        check "gen $ds: mount bytes equal patchfs get" same_as_get "$T/$ds" "$M" "$GEN_OPTS" \
            train/epoch_0/step_0/data.npy train/epoch_0/step_0/seg.npy \
            train/epoch_0/step_0/meta.json val/epoch_3/step_7/data.npy val/epoch_3/step_7/meta.json \
            train/epoch_999/step_249/seg.npy README.txt patchfs.json splits.json \
            cases/case_001/data.npy cases/case_001/properties.json
        pf_umount "$M"
    done
fi

# ---------------------------------------------------------------- labels beyond int8
# A label above 127 makes the cache entries hold the segmentation as int16 (int8 otherwise):
# the same dataset with label 2 renamed 300 serves, through a mount and `patchfs get`, what
# the independent numpy reference (verify.py) computes, and its entries are one byte per
# voxel larger than the int8 ones
if want seg16; then
    gen "$T/gen_s8" --channels 1 --cases 5 --classes 2 --seed 6
    rm -rf "$T/gen_s16"
    cp -r "$T/gen_s8" "$T/gen_s16"
    "$PY" - "$T/gen_s16" <<'EOF'
import glob, json, os, sys
import nibabel as nib, numpy as np
ds = sys.argv[1]
for p in glob.glob(os.path.join(ds, "labelsTr", "*.nii.gz")):
    i = nib.load(p)
    d = np.asarray(i.dataobj).astype(np.int16)
    assert (d == 2).any(), p
    d[d == 2] = 300
    nib.save(nib.Nifti1Image(d, i.affine), p)
j = json.load(open(os.path.join(ds, "dataset.json")))
j["labels"] = {k: (300 if v == 2 else v) for k, v in j["labels"].items()}
json.dump(j, open(os.path.join(ds, "dataset.json"), "w"))
EOF
    S16_OPTS="seed=4,batch=3,cache=$T/cache_s16"
    M=$T/mnt_s16
    "$PF" prepare "$T/gen_s8" -o "seed=4,cache=$T/cache_s8" >/dev/null 2>&1
    if pf_mount "$T/gen_s16" "$M" "$S16_OPTS"; then
        check "seg16: labels up to 300 served as the numpy reference computes (steps, cases)" \
            "$PY" tests/integration/verify.py "$T/gen_s16" "$M" --steps 6 --cases
        check "seg16: mount bytes equal patchfs get" same_as_get "$T/gen_s16" "$M" "$S16_OPTS" \
            train/epoch_0/step_0/seg.npy train/epoch_3/step_5/seg.npy train/epoch_3/step_5/data.npy \
            val/epoch_1/step_2/seg.npy cases/case_001/seg.npy cases/case_004/seg.npy
        check "seg16: the entries hold int16 labels (one byte per voxel more than int8's), 300 served" "$PY" - "$T" "$M" <<'EOF'
import glob, os, sys
import numpy as np
T, m = sys.argv[1:3]
seen = set()
for cid in sorted(os.listdir(os.path.join(m, "cases"))):
    seg = np.load(os.path.join(m, "cases", cid, "seg.npy"))
    seen |= set(np.unique(seg).tolist())
    (e16,) = glob.glob(os.path.join(T, "cache_s16", "*", cid + ".*.pfcase"))
    (e8,) = glob.glob(os.path.join(T, "cache_s8", "*", cid + ".*.pfcase"))
    extra = os.path.getsize(e16) - os.path.getsize(e8)
    assert abs(extra - seg.size) <= 128, (cid, extra, seg.size)
assert 300 in seen and 2 not in seen, seen
EOF
        pf_umount "$M"
    else
        bad "seg16: mounts"
    fi
fi

# ---------------------------------------------------------------- the tree behaves like files
if want tree; then
    [ -d "$T/gen_nnunet" ] || gen "$T/gen_nnunet" --channels 2 --dtype int16 --cases 6
    M=$T/mnt_tree
    OPTS="seed=1,batch=2,epochs=3,steps=4,val_steps=2,cache=$T/cache"
    if pf_mount "$T/gen_nnunet" "$M" "$OPTS"; then
        check "tree: root listing" bash -c "[ \"\$(ls '$M' | tr '\n' ' ')\" = 'README.txt cases gaussian.npy patchfs.json plans.json splits.json status.json train val ' ]"
        check "tree: epochs and steps listed" bash -c "[ \$(ls '$M/train' | wc -l) = 3 ] && [ \$(ls '$M/train/epoch_2' | wc -l) = 5 ] && [ \$(ls '$M/val/epoch_0' | wc -l) = 3 ] && [ \$(ls '$M/train/epoch_2/step_0' | wc -l) = 7 ]"
        check "tree: non-canonical names do not exist" bash -c "! ls '$M/train/epoch_01' && ! ls '$M/train/epoch_3' && ! ls '$M/train/epoch_0/step_4' && ! ls '$M/val/epoch_0/step_2' && ! ls '$M/train/epoch_-1' && ! ls '$M/train/epoch_99999999999999999999' && ! ls '$M/cases/nope'"
        # a case folder: 5 files and tiles/T/data.npy for each tile its tiles.json lists
        check "tree: find lists every file" bash -c "tiles=\$('$PY' -c \"import glob, json; print(sum(len(json.load(open(f))['tiles']) for f in glob.glob('$M/cases/*/tiles.json')))\") &&
            [ \$(find '$M' -type f | wc -l) = \$((6 + 3*(1 + 4*(5+2*4)) + 3*(1 + 2*(5+2*4)) + 6*5 + tiles)) ]"
        check "tree: stat sizes equal bytes read (all files)" bash -c "find '$M' -type f | while read f; do [ \$(stat -c %s \"\$f\") = \$(wc -c < \"\$f\") ] || { echo \$f; exit 1; }; done"
        check "tree: cp -r and md5sum of a step" bash -c "cp -r '$M/train/epoch_1/step_2' '$T/copied' && (cd '$M/train/epoch_1/step_2' && find . -type f | sort | xargs md5sum) > '$T/sums' && [ \$(wc -l < '$T/sums') = 13 ] && (cd '$T/copied' && md5sum -c --quiet '$T/sums')"
        check "tree: writes fail with EROFS" bash -c "! touch '$M/x' 2>'$T/e1'; grep -q 'Read-only' '$T/e1' && ! mkdir '$M/train/d' 2>/dev/null && ! rm -f '$M/README.txt' 2>/dev/null && ! sh -c \"echo x > '$M/README.txt'\" 2>/dev/null && ! mv '$M/splits.json' '$M/s2' 2>/dev/null && [ -f '$M/README.txt' ]"
        check "tree: numpy mmap works (exact st_size, page cache)" "$PY" -c "import numpy as np; a=np.load('$M/train/epoch_0/step_0/data.npy', mmap_mode='r'); b=np.load('$M/train/epoch_0/step_0/data.npy'); assert (a==b).all() and a.shape==(2,2)+tuple(a.shape[2:])"
        check "tree: np.save of what np.load read gives the served bytes" "$PY" -c "
import io, numpy as np
for f in ('train/epoch_0/step_1/data.npy', 'train/epoch_0/step_1/seg.npy', 'cases/case_002/data.npy', 'train/epoch_0/step_1/sample_1/seg.npy'):
    raw = open('$M/' + f, 'rb').read(); b = io.BytesIO(); np.save(b, np.load(io.BytesIO(raw)))
    assert b.getvalue() == raw, f"
        check "tree: 16 parallel readers of one new file get identical bytes" bash -c "for i in \$(seq 16); do (md5sum < '$M/train/epoch_2/step_3/data.npy' > \"$T/par.\$i\") & done; wait; [ \$(cat '$T'/par.* | sort -u | wc -l) = 1 ] && [ \"\$(cat '$T/par.1')\" = \"\$('$PF' get '$T/gen_nnunet' train/epoch_2/step_3/data.npy -o '$OPTS' | md5sum)\" ]"
        pf_umount "$M"
        check "tree: unmounted cleanly" bash -c "! mountpoint -q '$M'"
    else
        bad "tree: mounts"
    fi
fi

# ---------------------------------------------------------------- determinism
if want determinism; then
    [ -d "$T/gen_nnunet" ] || gen "$T/gen_nnunet" --channels 2 --dtype int16 --cases 6
    FILES="train/epoch_0/step_0/data.npy train/epoch_5/step_9/seg.npy val/epoch_2/step_1/data.npy train/epoch_5/step_9/meta.json"
    digest_files() { (cd "$1" && sha256sum $FILES); }
    M1=$T/mnt_d1 M2=$T/mnt_d2
    if pf_mount "$T/gen_nnunet" "$M1" "seed=11,cache=$T/cacheA"; then
        # forward order in one mount, reverse order in a second mount with a fresh cache
        digest_files "$M1" > "$T/d1"
        pf_umount "$M1"
        pf_mount "$T/gen_nnunet" "$M2" "seed=11,cache=$T/cacheB,threads=1,sample_threads=1"
        (cd "$M2" && for f in $(echo $FILES | tr ' ' '\n' | tac); do sha256sum $f; done | tac) > "$T/d2"
        check "determinism: fresh cache + other read order + other thread counts give the same bytes" cmp "$T/d1" "$T/d2"
        pf_umount "$M2"
        # augmented steps rendered serially through the mount equal those rendered on 5 threads
        if pf_mount "$T/gen_nnunet" "$M2" "seed=11,cache=$T/cacheB,aug=nnunet,batch=4,sample_threads=1"; then
            (cd "$M2" && sha256sum $FILES) > "$T/d4"
            (for f in $FILES; do printf '%s  %s\n' "$("$PF" get "$T/gen_nnunet" "$f" -o "seed=11,cache=$T/cacheB,aug=nnunet,batch=4,sample_threads=5" | sha256sum | cut -d' ' -f1)" "$f"; done) > "$T/d5"
            check "determinism: augmented steps, 1 rendering thread (mount) = 5 threads (get)" cmp "$T/d4" "$T/d5"
            pf_umount "$M2"
        else
            bad "determinism: augmented mount"
        fi
        pf_mount "$T/gen_nnunet" "$M2" "seed=12,cache=$T/cacheB"
        digest_files "$M2" > "$T/d3"
        check "determinism: another seed gives other bytes" bash -c "! cmp -s '$T/d1' '$T/d3'"
        pf_umount "$M2"
    else
        bad "determinism: mounts"
    fi
    # golden digests: bytes pinned forever for format 1 (tests/integration/golden.sha256)
    gen "$T/golden_ds" --channels 2 --dtype int16 --cases 6 --seed 1
    # once per vector path of the sampling kernels (base/simd.h): every path serves the same
    # bytes, so each must match the same digests; PATCHFS_SIMD takes the path
    cpu_simd=$("$PF" --version | sed -n 's/^simd .*(cpu: \(.*\))$/\1/p')
    simd_rank() { case $1 in scalar) echo 0 ;; sse2 | neon) echo 1 ;; avx2) echo 2 ;; *) echo -1 ;; esac; }
    base_simd=sse2
    [ "$(uname -m)" = aarch64 ] && base_simd=neon
    for path in scalar $base_simd avx2; do
        if [ "$(simd_rank "$path")" -le "$(simd_rank "$cpu_simd")" ] && [ "$(simd_rank "$cpu_simd")" -ge 0 ]; then
            check "determinism: golden digests (generated dataset), PATCHFS_SIMD=$path" \
                env PATCHFS_SIMD=$path bash tests/integration/golden.sh check "$T/golden_ds" "$REAL" "$T/golden_cache_$path"
        else
            skip "determinism: golden digests with PATCHFS_SIMD=$path: this CPU's best vector path is ${cpu_simd:-unknown}"
        fi
    done
fi

# ---------------------------------------------------------------- real datasets
if want real; then
    if [ ! -d "$REAL" ]; then
        skip "real datasets: $REAL is absent (set PATCHFS_REAL_DATA)"
    else
        for ds in "$REAL"/Dataset*; do
            name=$(basename "$ds")
            M=$T/mnt_$name
            OPTS="seed=5,cache=$T/cache"
            if ! pf_mount "$ds" "$M" "$OPTS"; then bad "real $name: mounts"; continue; fi
            ok "real $name: mounts"
            check "real $name: numpy loads a batch of the right shape" "$PY" -c "
import json, numpy as np
pf = json.load(open('$M/patchfs.json'))
a = np.load('$M/train/epoch_0/step_0/data.npy'); s = np.load('$M/train/epoch_0/step_0/seg.npy')
B, P, C = pf['options']['batch'], pf['options']['patch'], len(pf['dataset']['channels'])
assert a.shape == (B, C, *P) and a.dtype == np.float32, a.shape
assert s.shape == (B, 1, *P) and s.dtype == np.int16, s.shape
assert np.isfinite(a).all()"
            check "real $name: mount bytes equal patchfs get" same_as_get "$ds" "$M" "$OPTS" \
                train/epoch_0/step_0/data.npy train/epoch_0/step_0/seg.npy \
                val/epoch_1/step_2/data.npy val/epoch_1/step_2/meta.json plans.json \
                cases/$(ls "$M/cases" | head -1)/properties.json
            pf_umount "$M"
            # the sampling arithmetic on the cases' own grids (verify.py models the source
            # volumes; the plan's resampled grids are checked by the geometry suite)
            if pf_mount "$ds" "$M" "$OPTS,spacing=native"; then
                check "real $name: content equals the numpy/scipy reference (spacing=native)" \
                    "$PY" tests/integration/verify.py "$ds" "$M" --steps 2 --epochs 1
                pf_umount "$M"
            else
                bad "real $name: mounts with spacing=native"
            fi
        done
    fi
fi

# ---------------------------------------------------------------- sampling statistics
if want stats; then
    [ -d "$T/gen_ct" ] || gen "$T/gen_ct" --ct --dtype float64 --cases 5 --classes 3 --seed 3
    M=$T/mnt_stats
    if pf_mount "$T/gen_ct" "$M" "seed=3,batch=3,steps=250,cache=$T/cache"; then
        check "stats: 250 steps: forced positions contain their class, boxes follow nnU-Net" \
            "$PY" tests/integration/verify.py "$T/gen_ct" "$M" --steps 250 --epochs 1
        check "stats: cases drawn uniformly, classes uniform among present" "$PY" tests/integration/sampling_stats.py "$M" 250
        pf_umount "$M"
    else
        bad "stats: mounts"
    fi
fi

# ---------------------------------------------------------------- policies, 2D, shards
if want policies; then
    [ -d "$T/gen_ct" ] || gen "$T/gen_ct" --ct --dtype float64 --cases 5 --classes 3 --seed 3
    D=$T/gen_ct
    pol() { # NAME OPTS STEPS: mount, check content against the reference, then the rates
        local M=$T/mnt_pol_$1
        if ! pf_mount "$D" "$M" "$2,cache=$T/cache"; then bad "policies $1: mounts"; return; fi
        check "policies $1: content equals the reference" "$PY" tests/integration/verify.py "$D" "$M" --steps 3 --epochs 1
        check "policies $1: rates over $3 steps" "$PY" tests/integration/policies.py rates "$M" "$3"
        pf_umount "$M"
    }
    pol class "seed=4,batch=4,sampler=class,class_weights=1:1,2:1,3:2" 250
    pol class_unweighted "seed=5,batch=3,sampler=class" 250
    pol probabilistic "seed=6,batch=4,oversample_mode=probabilistic,oversample=0.4" 250
    pol uniform "seed=7,batch=3,sampler=uniform" 60
    M=$T/mnt_2d
    OPTS2="seed=8,batch=3,patch=24x20,cache=$T/cache"
    if pf_mount "$D" "$M" "$OPTS2"; then
        check "2d: arrays are (B, C, Y, X) and equal the reference slices" "$PY" tests/integration/verify.py "$D" "$M" --steps 6 --epochs 1
        check "2d: forced slices contain their class" "$PY" tests/integration/policies.py rates "$M" 100
        check "2d: mount bytes equal patchfs get" same_as_get "$D" "$M" "$OPTS2" \
            train/epoch_0/step_1/data.npy train/epoch_0/step_1/seg.npy train/epoch_0/step_1/sample_2/data.npy
        check "2d: sample_K files equal the step arrays" "$PY" tests/integration/policies.py samples "$M" 3
        pf_umount "$M"
    else
        bad "2d: mounts"
    fi
    # shards: W mounts side by side; their files concatenate to the unsharded ones
    for W in 2 3; do
        full=$T/mnt_sh_full
        pf_mount "$D" "$full" "seed=9,batch=5,cache=$T/cache" || bad "shards: full mount"
        parts=()
        for R in $(seq 0 $((W - 1))); do
            pf_mount "$D" "$T/mnt_sh_$R" "seed=9,batch=5,shard=$R/$W,cache=$T/cache" || bad "shards: mount $R/$W"
            parts+=("$T/mnt_sh_$R")
        done
        check "shards: $W ranks concatenate to the unsharded batch (data, seg, meta)" "$PY" tests/integration/policies.py shards "$full" "${parts[@]}"
        check "shards: $W ranks: sample_K files equal the step arrays" "$PY" tests/integration/policies.py samples "${parts[0]}" 2
        check "shards: $W ranks: content equals the reference" "$PY" tests/integration/verify.py "$D" "${parts[$((W - 1))]}" --steps 2 --epochs 1
        for m in "$full" "${parts[@]}"; do pf_umount "$m"; done
    done
    # the DDP helper and the per-rank example, as torchrun would start them (RANK, WORLD_SIZE)
    export PATCHFS_DDP_DIR=$T/ddp
    PATH="$ROOT:$PATH" RANK=0 WORLD_SIZE=2 "$PY" mount-scripts/ddp_rank_example.py "$D" 5 "seed=9,cache=$T/cache" --epochs 1 --steps 3 --val-steps 1 >/dev/null 2>"$T/ddp.err" \
        && check "shards: ddp_rank_example.py (torchrun-style) runs and unmounts" bash -c "grep -q 'rank 0: epoch 0 done (local batch 3)' '$T/ddp.err' && ! mountpoint -q '$T/ddp/rank0'" \
        || bad "shards: ddp_rank_example.py runs"
    mkdir -p "$T/mnt_sh_full"
    MOUNTS+=("$T/ddp/rank0" "$T/ddp/rank1")
    if pf_mount "$D" "$T/mnt_sh_full" "seed=9,batch=5,cache=$T/cache" &&
       m0=$(PATH="$ROOT:$PATH" RANK=0 WORLD_SIZE=2 sh mount-scripts/patchfs-ddp-mount "$D" 5 -o "seed=9,cache=$T/cache" 2>/dev/null) &&
       m1=$(PATH="$ROOT:$PATH" SLURM_PROCID=1 SLURM_NTASKS=2 sh mount-scripts/patchfs-ddp-mount "$D" 5 -o "seed=9,cache=$T/cache" 2>/dev/null); then
        check "shards: patchfs-ddp-mount (torchrun and Slurm variables) gives concatenating shards" "$PY" tests/integration/policies.py shards "$T/mnt_sh_full" "$m0" "$m1"
        pf_umount "$m0"; pf_umount "$m1"; pf_umount "$T/mnt_sh_full"
    else
        bad "shards: patchfs-ddp-mount mounts"
    fi
    check "shards: a batch too small for the world is an error naming shard" bash -c "'$PF' check '$D' -o batch=1,shard=0/2,cache='$T/cache' 2>&1 | grep -q \"option 'shard'\""
fi

# ---------------------------------------------------------------- seeing a batch
if want debug; then
    [ -d "$T/gen_nnunet" ] || gen "$T/gen_nnunet" --channels 2 --dtype int16 --cases 6
    [ -d "$T/gen_ct" ] || gen "$T/gen_ct" --ct --dtype float64 --cases 5 --classes 3 --seed 3
    dbg() { # NAME DATASET OPTS
        local M=$T/mnt_dbg_$1
        if ! pf_mount "$2" "$M" "$3,steps=30,val_steps=10,cache=$T/cache"; then bad "debug $1: mounts"; return; fi
        check "debug $1: meta.json digests, source boxes and stream keys" "$PY" tests/integration/provenance.py meta "$2" "$M" 4
        check "debug $1: preview.png shows the slice, labels and padding" "$PY" tests/integration/provenance.py preview "$M" 3
        check "debug $1: sample NIfTI patches overlay the source case" "$PY" tests/integration/provenance.py nifti "$2" "$M" 3
        check "debug $1: summary.json agrees with meta.json and seg.npy" "$PY" tests/integration/provenance.py summary "$M" 1
        check "debug $1: mount bytes equal patchfs get" same_as_get "$2" "$M" "$3,steps=30,val_steps=10,cache=$T/cache" \
            train/epoch_0/step_2/meta.json train/epoch_0/step_2/preview.png train/epoch_0/summary.json \
            train/epoch_0/step_2/sample_1/image.nii.gz train/epoch_0/step_2/sample_0/label.nii.gz cases/case_001/preview.png
        pf_umount "$M"
    }
    dbg multichannel "$T/gen_nnunet" "seed=2,batch=3"
    dbg 2d "$T/gen_ct" "seed=3,batch=2,patch=20x24"
    if [ -d "$REAL/Dataset102_SpinalCordMixed" ]; then
        # oblique affines and anisotropic spacing: the NIfTI overlay must still hold
        M=$T/mnt_dbg_real
        # (spacing=native: the source's own voxels, so the test can place each one exactly)
        if pf_mount "$REAL/Dataset102_SpinalCordMixed" "$M" "seed=4,batch=3,spacing=native,cache=$T/cache"; then
            check "debug real: NIfTI patches overlay oblique, anisotropic source cases" "$PY" tests/integration/provenance.py nifti "$REAL/Dataset102_SpinalCordMixed" "$M" 4
            check "debug real: preview.png" "$PY" tests/integration/provenance.py preview "$M" 2
            pf_umount "$M"
        fi
    fi
    # status.json: live counters; ls -l never generates; one generation for many readers
    M=$T/mnt_status
    if pf_mount "$T/gen_ct" "$M" "seed=5,cache=$T/cache"; then
        st() { "$PY" -c "import json,sys; print(json.load(open('$M/status.json'))[sys.argv[1]])" "$1"; }
        size0=$(stat -c %s "$M/status.json")
        g0=$(st files_generated)
        ls -l "$M/train/epoch_0/step_0" "$M/train/epoch_0/step_1" "$M/train/epoch_0/step_1/sample_0" > /dev/null
        g1=$(st files_generated)
        check "status: ls -l of step folders generates nothing ($g0 -> $g1)" test "$g1" = "$g0"
        for i in $(seq 16); do cat "$M/train/epoch_0/step_7/data.npy" > /dev/null & done
        wait
        g2=$(st files_generated)
        check "status: 16 readers opening one new file cause one generation ($g1 -> $g2)" test "$g2" = $((g1 + 1))
        b=$(st bytes_served)
        check "status: bytes_served counts what was read" test "$b" -ge "$(stat -c %s "$M/train/epoch_0/step_7/data.npy")"
        check "status: its size stays exact while it changes" test "$(stat -c %s "$M/status.json")" = "$size0" -a "$(wc -c < "$M/status.json")" = "$size0"
        check "status: percentiles and uptime present" "$PY" -c "
import json; s = json.load(open('$M/status.json'))
assert s['generate_us_max'] >= s['generate_us_p99'] >= s['generate_us_p50'] > 0 and s['uptime_ms'] >= 0 and s['errors'] == 0 and s['simd'] in ('scalar', 'sse2', 'neon', 'avx2'), s"
        pf_umount "$M"
    else
        bad "status: mounts"
    fi
fi

# ---------------------------------------------------------------- augmentation
if want augment; then
    [ -d "$T/gen_ct" ] || gen "$T/gen_ct" --ct --dtype float64 --cases 5 --classes 3 --seed 3
    [ -d "$T/gen_nnunet" ] || gen "$T/gen_nnunet" --channels 2 --dtype int16 --cases 6
    ZERO="aug_p_rotation=0,aug_p_scaling=0,aug_p_noise=0,aug_p_blur=0,aug_p_brightness=0,aug_p_contrast=0,aug_p_lowres=0,aug_p_gamma_invert=0,aug_p_gamma=0,aug_p_mirror=0"
    augt() { # NAME DATASET OPTS CHECK STEPS
        local M=$T/mnt_aug_$1
        if ! pf_mount "$2" "$M" "seed=3,batch=3,aug=nnunet,$3,cache=$T/cache"; then bad "augment $1: mounts"; return; fi
        if [ "$4" = nifti ]; then
            check "augment $1" "$PY" tests/integration/augment.py nifti "$2" "$M" "$5"
        else
            check "augment $1" "$PY" tests/integration/augment.py "$4" "$M" "$5"
        fi
        pf_umount "$M"
    }
    augt identity "$T/gen_nnunet" "$ZERO" identity 6
    augt "rotation 90 about Z (3D, in-plane) = np.rot90" "$T/gen_ct" "$ZERO,aug_p_rotation=1,aug_rotation=90:90,patch=4x14x14" rot90 6
    augt "rotation 90 (2D) = np.rot90" "$T/gen_nnunet" "$ZERO,aug_p_rotation=1,aug_rotation=90:90,patch=14x14" rot90 6
    augt "mirroring = np.flip" "$T/gen_nnunet" "$ZERO,aug_p_mirror=1" mirror 6
    augt "contrast stays in range" "$T/gen_nnunet" "$ZERO,aug_p_contrast=1" contrast 6
    augt "gamma keeps mean and std" "$T/gen_ct" "$ZERO,aug_p_gamma=1" gamma 6
    augt "gamma on the inverted image keeps mean and std" "$T/gen_ct" "$ZERO,aug_p_gamma_invert=1" gamma 6
    augt "no label absent from the case (linear seg)" "$T/gen_ct" "" labels 40
    augt "no label absent from the case (nearest seg)" "$T/gen_ct" "seg_interp=nearest,aug_p_rotation=0.6,aug_p_scaling=0.6" labels 30
    augt "transform rates over 1000 samples" "$T/gen_nnunet" "batch=4" rates 250
    augt "deep supervision targets" "$T/gen_ct" "ds_scales=1,0.5,0.25" ds 5
    # nnU-Net's trainer rule by rule (aug_parity.py): draws, dummy 2D, the grid, the masking
    augp() { # NAME DATASET OPTS CHECK STEPS
        local M=$T/mnt_augp
        if ! pf_mount "$2" "$M" "seed=3,batch=3,aug=nnunet,$3,cache=$T/cache"; then bad "augment $1: mounts"; return; fi
        check "augment $1" "$PY" tests/integration/aug_parity.py "$4" "$M" "$5"
        pf_umount "$M"
    }
    augp "brightness, contrast, gamma: BGContrast draws (KS)" "$T/gen_nnunet" "$ZERO,aug_p_brightness=1,aug_p_contrast=1,aug_p_gamma=1,aug_p_gamma_invert=1,patch=8x16x16,batch=4" draws 60
    augp "dummy 2D: one in-plane angle, mirroring and blur on Z too" "$T/gen_nnunet" "patch=4x24x24,batch=4,aug_p_rotation=1,aug_p_blur=1,aug_p_blur_channel=1" dummy2d 60
    augp "dummy-2D blur = batchgeneratorsv2's, along Z too" "$T/gen_ct" "$ZERO,aug_p_blur=1,aug_p_blur_channel=1,patch=5x18x17" blur 8
    augp "isotropic 3D: three angles U(-30, 30)" "$T/gen_nnunet" "patch=16x16x16,batch=4,aug_p_rotation=1" iso3d 40
    augp "3D grid = scipy at nnU-Net's centre, Rz Ry Rx S" "$T/gen_ct" "$ZERO,aug_p_rotation=1,aug_p_scaling=1,aug_rotation=-60:60,patch=12x17x9" grid 10
    augp "dummy-2D grid = scipy, in-plane rotation and scaling" "$T/gen_ct" "$ZERO,aug_p_rotation=1,aug_p_scaling=1,patch=4x20x22" grid 10
    augp "zero rotation, P and Pb of other parity: half a voxel off, as nnU-Net" "$T/gen_ct" "$ZERO,aug_p_rotation=1,aug_rotation=0:0,patch=12x17x9" grid 5
    augp "zero rotation, P and Pb of one parity (odd and even): the plain crop" "$T/gen_ct" "$ZERO,aug_p_rotation=1,aug_rotation=0:0,patch=13x16x15" identity 6
    [ -d "$T/gen_mask" ] || "$PY" tests/integration/aug_parity.py makemask "$T/gen_mask" >/dev/null
    augp "use_mask_for_norm: image 0 where seg < 0 after the intensity transforms" "$T/gen_mask" "aug_p_noise=1,aug_p_gamma=1,aug_p_rotation=0.5,patch=24x24x24" mask 10
    M1=$T/mnt_aug_v1 M2=$T/mnt_aug_v2
    if pf_mount "$T/gen_ct" "$M1" "seed=3,batch=3,aug=nnunet,cache=$T/cache" && pf_mount "$T/gen_ct" "$M2" "seed=3,batch=3,cache=$T/cache"; then
        check "augment: validation steps are never augmented" "$PY" tests/integration/augment.py val "$M1" "$M2"
        check "augment: content of augmented files equals patchfs get" same_as_get "$T/gen_ct" "$M1" "seed=3,batch=3,aug=nnunet,cache=$T/cache" \
            train/epoch_1/step_2/data.npy train/epoch_1/step_2/seg.npy train/epoch_1/step_2/meta.json \
            train/epoch_1/step_2/preview.png train/epoch_1/step_2/sample_1/image.nii.gz
        check "augment: the provenance of augmented steps holds (digests)" "$PY" tests/integration/provenance.py meta "$T/gen_ct" "$M1" 3
        pf_umount "$M1"; pf_umount "$M2"
    else
        bad "augment: mounts for the validation check"
    fi
    if [ -d "$REAL/Dataset102_SpinalCordMixed" ]; then
        augt "mirrored NIfTI patches land on the source labels (oblique real data)" "$REAL/Dataset102_SpinalCordMixed" "$ZERO,aug_p_mirror=1,spacing=native" nifti 4
    fi
fi

# ---------------------------------------------------------------- broken datasets
if want broken; then
    [ -d "$T/gen_u8" ] || gen "$T/gen_u8" --dtype uint8 --cases 7 --classes 1 --shape 12,20,16 --seed 4
    mkdir -p "$T/rgb"
    check "broken: rgb_to_0_1 serves v / 255; a value outside [0, 255] is refused naming its file" \
        "$PY" tests/integration/aug_parity.py rgb "$T/rgb" "$PF"
    # broken DIR EXPECTED-TEXT: check and mount fail with a message containing the text, the
    # mountpoint stays unmounted and the cache holds no entry of a failed case, nor temp files
    broken() {
        local d=$1 text=$2 c=$T/cache_broken_$(basename "$1")
        rm -rf "$c"
        "$PF" check "$d" -o cache="$c" >"$T/b.out" 2>"$T/b.err" && { echo "check succeeded"; return 1; }
        grep -qF -- "$text" "$T/b.err" || { echo "message lacks '$text':"; cat "$T/b.err"; return 1; }
        mkdir -p "$T/mnt_b"
        "$PF" "$d" "$T/mnt_b" -o cache="$c" 2>"$T/b2.err" && { fusermount3 -u "$T/mnt_b"; echo "mount succeeded"; return 1; }
        grep -qF -- "$text" "$T/b2.err" || { echo "mount message lacks '$text'"; return 1; }
        mountpoint -q "$T/mnt_b" && return 1
        ! find "$c" -name '*.tmp.*' | grep -q .
    }
    mk() { rm -rf "$T/$1"; cp -r "$T/gen_u8" "$T/$1"; }
    mk b_json; printf '{"channel_names": {"0": "T1"},\n "labels": {"background": 0,}\n' > "$T/b_json/dataset.json"
    check "broken: malformed dataset.json names file and line" broken "$T/b_json" "dataset.json:2:"
    mk b_nojson; rm "$T/b_nojson/dataset.json"
    check "broken: missing dataset.json" broken "$T/b_nojson" "dataset.json: missing"
    check "broken: rgb_to_0_1 value outside [0, 255] (check and mount name the file)" broken \
        "$T/rgb/rgb_bad" "rgb_bad/imagesTr/case_002_0000.nii.gz: channel 0 is normalised as RGB"
    mk b_nolabel; rm "$T/b_nolabel/labelsTr/case_003.nii.gz"
    check "broken: image without label" broken "$T/b_nolabel" "labelsTr/case_003.nii.gz: missing label"
    mk b_noimage; rm "$T/b_noimage/imagesTr/case_002_0000.nii.gz"
    check "broken: label without image" broken "$T/b_noimage" "case_002.nii.gz: label has no image"
    mk b_trunc; head -c 300 "$T/gen_u8/imagesTr/case_004_0000.nii.gz" > "$T/b_trunc/imagesTr/case_004_0000.nii.gz"
    check "broken: truncated .nii.gz names the file" broken "$T/b_trunc" "case_004_0000.nii.gz"
    check "broken: no cache entry of the truncated case" bash -c "! ls '$T'/cache_broken_b_trunc/*/case_004.* 2>/dev/null"
    mk b_text; echo "not a nifti" > "$T/b_text/imagesTr/case_001_0000.nii.gz"
    check "broken: a non-NIfTI file with a NIfTI name" broken "$T/b_text" "case_001_0000.nii.gz: not a readable NIfTI"
    mk b_shape; cp "$T/gen_u8/labelsTr/case_000.nii.gz" "$T/b_shape/labelsTr/case_001.nii.gz"
    check "broken: image/label shape mismatch" broken "$T/b_shape" "differs from image"
    mk b_labels; "$PY" -c "
import nibabel as nib, numpy as np
p='$T/b_labels/labelsTr/case_002.nii.gz'; i=nib.load(p); d=np.asarray(i.dataobj).copy(); d[0,0,0]=7
nib.save(nib.Nifti1Image(d, i.affine), p)"
    check "broken: label value missing from dataset.json" broken "$T/b_labels" "label value 7 is not named"
    mk b_empty; rm "$T/b_empty"/imagesTr/* "$T/b_empty"/labelsTr/*; sed -i 's/"numTraining": 7/"numTraining": 0/' "$T/b_empty/dataset.json"
    check "broken: empty dataset" broken "$T/b_empty" "no training cases"
    mk b_affine; "$PY" -c "
import nibabel as nib, numpy as np
p='$T/b_affine/labelsTr/case_004.nii.gz'; i=nib.load(p); a=i.affine.copy(); a[0,3]+=3.0
nib.save(nib.Nifti1Image(np.asarray(i.dataobj), a), p)"
    check "broken: label affine differs from the image" broken "$T/b_affine" "label and image are not aligned"
    mk b_skip; head -c 300 "$T/gen_u8/imagesTr/case_005_0000.nii.gz" > "$T/b_skip/imagesTr/case_005_0000.nii.gz"
    check "broken: skip_bad serves the rest and lists what was set aside" bash -c "
        '$PF' check '$T/b_skip' -o skip_bad,cache='$T/cache_skip' > '$T/skip.out' 2>'$T/skip.err' &&
        grep -q 'case_005 .*SKIPPED: .*case_005_0000.nii.gz' '$T/skip.out' && grep -q 'OK: 6 cases usable (skip_bad)' '$T/skip.out' &&
        mkdir -p '$T/mnt_skip' && '$PF' '$T/b_skip' '$T/mnt_skip' -o skip_bad,cache='$T/cache_skip' 2>/dev/null &&
        '$PY' -c \"import json; j = json.load(open('$T/mnt_skip/patchfs.json')); assert [s['id'] for s in j['skipped']] == ['case_005'] and 'case_005' not in j['cases'] and len(j['cases']) == 6\" &&
        ! ls '$T/mnt_skip/cases/case_005' 2>/dev/null; rc=\$?; fusermount3 -u '$T/mnt_skip'; exit \$rc"
    check "broken: mountpoint missing" bash -c "'$PF' '$T/gen_u8' '$T/no/such/dir' -o cache='$T/cache' 2>&1 | grep -q 'mountpoint unusable'"
fi

# ---------------------------------------------------------------- faults
if want faults; then
    [ -d "$T/gen_ct" ] || gen "$T/gen_ct" --ct --dtype float64 --cases 5 --classes 3 --seed 3
    C=$T/cache_faults
    M=$T/mnt_faults
    "$PF" get "$T/gen_ct" cases/case_002/data.npy -o cache="$C" > "$T/orig.npy" 2>/dev/null
    "$PF" get "$T/gen_ct" train/epoch_0/step_3/data.npy -o cache="$C" > "$T/orig_step.npy" 2>/dev/null
    entry=$(find "$C" -name 'case_002.*.pfcase')
    "$PY" -c "import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[6000] ^= 0xff; open(p, 'wb').write(bytes(b))" "$entry"
    if pf_mount "$T/gen_ct" "$M" "cache=$C"; then
        check "faults: a flipped byte in a cache entry is detected and rebuilt, never served" cmp "$T/orig.npy" "$M/cases/case_002/data.npy"
        check "faults: steps reading the repaired case are unchanged" cmp "$T/orig_step.npy" "$M/train/epoch_0/step_3/data.npy"
        pf_umount "$M"
    else
        bad "faults: mounts over a corrupt entry"
    fi
    check "faults: the rebuilt entry verifies (prepare rebuilds nothing)" bash -c "'$PF' prepare '$T/gen_ct' -o cache='$C' 2>&1 | grep -q 'cache ready' && ! '$PF' prepare '$T/gen_ct' -o cache='$C' 2>&1 | grep -q preparing"
    # kill -9 during a cache build: no half entry is used, the next run rebuilds cleanly
    gen "$T/gen_big" --cases 6 --shape 90,140,140 --channels 2 --seed 9
    C2=$T/cache_kill
    "$PF" prepare "$T/gen_big" -o cache="$C2",threads=1 > /dev/null 2>&1 &
    kpid=$!
    # (the fingerprint pass comes first: wait for an entry's temporary)
    for _ in $(seq 1500); do find "$C2" -maxdepth 2 -name '*.pfcase.tmp.*' 2>/dev/null | grep -q . && break; sleep 0.02; done
    kill -9 $kpid 2>/dev/null; wait $kpid 2>/dev/null
    check "faults: a build killed mid-entry left its temporary behind (setup)" bash -c "find '$C2' -name '*.tmp.*' | grep -q . || find '$C2' -name '*.pfcase' | grep -q ."
    check "faults: the next run removes the dead builder's temporaries and rebuilds" bash -c "'$PF' check '$T/gen_big' -o cache='$C2',prepare > /dev/null 2>&1 && ! find '$C2' -name '*.tmp.*' | grep -q . && [ \$(find '$C2' -name '*.pfcase' | wc -l) = 6 ]"
    check "faults: after the kill the served bytes equal a clean build" bash -c "cmp <('$PF' get '$T/gen_big' train/epoch_0/step_0/data.npy -o cache='$C2' 2>/dev/null) <('$PF' get '$T/gen_big' train/epoch_0/step_0/data.npy -o cache='$T/cache_clean' 2>/dev/null)"
fi

# ---------------------------------------------------------------- signals
if want signals; then
    [ -d "$T/gen_u8" ] || gen "$T/gen_u8" --dtype uint8 --cases 7 --classes 1 --shape 12,20,16 --seed 4
    M=$T/mnt_sig
    mkdir -p "$M"
    MOUNTS+=("$M")
    "$PF" "$T/gen_u8" "$M" -f -o cache="$T/cache" 2>/dev/null &
    pid=$!
    for _ in $(seq 100); do mountpoint -q "$M" && break; sleep 0.05; done
    cat "$M/train/epoch_0/step_0/data.npy" > /dev/null
    kill -TERM $pid
    wait $pid
    rc=$?
    check "signals: SIGTERM unmounts and exits 0" bash -c "[ $rc = 0 ] && ! mountpoint -q '$M'"
    # kill -9 leaves "Transport endpoint is not connected"; patchfs-mount clears it
    "$PF" "$T/gen_u8" "$M" -o cache="$T/cache" 2>/dev/null
    pkill -9 -f "patchfs $T/gen_u8 $M" || true
    sleep 0.2
    check "signals: after kill -9 the mountpoint is stale" bash -c "! ls '$M' 2>/dev/null"
    check "signals: patchfs-mount clears the stale mount and mounts again" bash -c "PATCHFS='$PF' sh mount-scripts/patchfs-mount '$T/gen_u8' '$M' -o cache='$T/cache' 2>/dev/null && cmp <('$PF' get '$T/gen_u8' train/epoch_0/step_1/seg.npy -o cache='$T/cache') '$M/train/epoch_0/step_1/seg.npy'"
    fusermount3 -u "$M" 2>/dev/null
fi

# ---------------------------------------------------------------- resampling
# nnU-Net's resampling (src/ingest/resample.c, through tests/tools/resample_driver) against an
# independent numpy/scipy implementation of nnU-Net's rules, on random arrays and real cases
if want resample; then
    if [ -d "$REAL" ]; then real_arg=(--real "$REAL"); else real_arg=(--no-real); fi
    check "resample: images and segmentations equal the numpy/scipy reference (random and real cases)" \
        "$PY" tests/integration/resample_check.py --driver "$ROOT/build/tests/resample_driver" "${real_arg[@]}"
fi

# ---------------------------------------------------------------- fingerprint
# nnU-Net's dataset fingerprint (src/ingest/fingerprint.c, through tests/tools/fingerprint_driver)
# against an independent numpy implementation: same crop, same RandomState draws, same stats
if want fingerprint; then
    if [ -d "$REAL" ]; then real_arg=(--real "$REAL"); else real_arg=(--no-real); fi
    check "fingerprint: spacings, crops, foreground samples and pooled statistics equal numpy's (generated and real)" \
        "$PY" tests/integration/fingerprint_check.py --driver "$ROOT/build/tests/fingerprint_driver" "${real_arg[@]}"
fi

# ---------------------------------------------------------------- geometry
# nnU-Net's plan and preprocessing on the real datasets: patch/batch as nnU-Net plans them,
# SpinalCordMixed's resampled shapes, every case against an independent numpy/scipy
# implementation, plans= round trip, spacing=native
if want geometry; then
    if [ -d "$REAL" ]; then
        check "geometry: plans, resampled cases and plans= round trip equal nnU-Net's rules (real datasets)" \
            "$PY" tests/integration/geometry_check.py --patchfs "$PF" --real "$REAL"
    else
        skip "geometry: $REAL is absent (set PATCHFS_REAL_DATA)"
    fi
fi

# ---------------------------------------------------------------- suites in their own files
# Each prints "ok - ..." / "not ok - ..." / "skip - ..." lines; counted here.
for suite in reliability concurrency perf_checks step_files examples check_gc regions export tiles python distributed; do
    f=tests/integration/$suite.sh
    want "$suite" && [ -f "$f" ] || continue
    mkdir -p "$T/$suite"
    PF="$PF" PY="$PY" REAL="$REAL" T="$T/$suite" bash "$f" > "$T/$suite.log" 2>&1
    rc=$?
    if [ $rc != 0 ] && ! grep -q '^not ok - ' "$T/$suite.log"; then
        echo "not ok - $suite suite exited with status $rc" >> "$T/$suite.log"
    fi
    cat "$T/$suite.log"
    PASS=$((PASS + $(grep -c '^ok - ' "$T/$suite.log")))
    FAIL=$((FAIL + $(grep -c '^not ok - ' "$T/$suite.log")))
    SKIP=$((SKIP + $(grep -c '^skip - ' "$T/$suite.log")))
done

echo
echo "integration: $PASS passed, $FAIL failed, $SKIP skipped"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
