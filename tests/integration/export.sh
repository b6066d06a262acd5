#!/usr/bin/env bash
# export.sh - `patchfs export` (predictions back to the source geometry, as NIfTI) and
# `patchfs evaluate` (nnU-Net's summary.json), run by tests/integration/run.sh or alone:
#
#   PF=./patchfs PY=/usr/bin/python3 REAL=../shared/data/real T=$(mktemp -d) \
#       bash tests/integration/export.sh
#
# The assertions are in export_check.py (one "ok - export: ..." line each): round trips of
# the one-hot of cases/ID/seg.npy on the real datasets (exact where nothing was resampled,
# Dice >= 0.95 where it was), the NIfTI geometry against nibabel's reading of the source,
# float16 and label-map inputs, --probabilities, evaluate against numpy byte for byte, and
# every bad input of issue 16; export_regions.py: region datasets (the BraTS region copy's
# round trip, evaluate per region) and the ignore label; export_stream.py: the streaming path
# (logits without --probabilities) against numpy/scipy and the core resampler's path on
# generated cases resampled each way. Needs no FUSE.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
suite_init export
"$PY" tests/integration/export_check.py --patchfs "$PF" --real "$REAL" --tmp "$T"
rc=$?
# region datasets (BraTS region copies linked with ln -sfn) and the ignore label
"$PY" tests/integration/export_regions.py --patchfs "$PF" --real "$REAL" --tmp "$T" || rc=1
# the streaming path on generated cases resampled every way it distinguishes (no real data)
"$PY" tests/integration/export_stream.py --patchfs "$PF" --tmp "$T" || rc=1
exit $rc
