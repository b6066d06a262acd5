#!/usr/bin/env python3
"""train_unet.py - train a small 3D U-Net from patchfs with nnU-Net's loss and loop.

    python3 train_unet.py ../shared/data/real/Dataset004_Hippocampus -o seed=7,patch=32x48x32,batch=2
    python3 train_unet.py /mnt/p                        # a mount made by hand (or a copy of one)
    python3 train_unet.py /mnt/p --epochs 4 --checkpoint run.pt --stop-after 300
    python3 train_unet.py /mnt/p --epochs 4 --checkpoint run.pt --resume run.pt   # continues at (1, 50)
    python3 train_unet.py /mnt/p --validate-only run.pt                          # the final validation alone

Given a dataset folder, it mounts it with the patchfs package (patchfs.Mount, on a temporary
folder, unmounted at the end, also on Ctrl-C or an error); given a mount, it reads it. Batches
come from patchfs.torch.StepDataset: one item per step, the DataLoader does not collate.

The loop is nnU-Net's: an epoch is `steps` training steps (train/epoch_E/step_0..) followed by
`val-steps` validation steps (val/epoch_E/step_0..) with the loss and a pseudo Dice per class;
SGD (lr 1e-2, Nesterov momentum 0.99, weight decay 3e-5), gradient norm clipped at 12, poly
learning rate per epoch; loss = cross-entropy + soft Dice (foreground classes, whole batch),
with label -1 (outside the case) ignored by both (--outside background trains it as class 0,
as nnU-Net itself does). The batches are files: which batch step S of epoch E trains on is
fixed by the mount, so a resumed run sees exactly the batches the uninterrupted run would have
seen; --resume refuses a checkpoint made on a mount whose batches differ (the package compares
the fingerprints of the two mounts and names the options that differ).

--log FILE writes one JSON line per batch consumed: split, epoch, step, loss and the SHA-256
digest of the batch (data bytes + seg bytes) as the model received it.

After the last epoch comes nnU-Net's final validation (final_validation.py): every validation
case of the fold predicted whole from the mount's sliding-window tiles, Gaussian-weighted,
with mirroring; VAL_DIR/pred/ID.npy exported to the source geometry (VAL_DIR/out/ID.nii.gz)
and scored (VAL_DIR/out/summary.json) by patchfs export and patchfs evaluate.
"""
import argparse
import contextlib
import hashlib
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    import patchfs
except ImportError:  # not installed: the package of this checkout
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    import patchfs
from patchfs.mount import find_binary  # noqa: E402
from patchfs.torch import DEFAULT_WORKERS, StepDataset  # noqa: E402

import final_validation  # noqa: E402  (beside this file: python puts its folder on sys.path)


# ---------------------------------------------------------------- model
def block(cin, cout, stride):
    """nnU-Net's stage: two (conv 3x3x3, instance norm, leaky ReLU); the first conv may stride."""
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, stride, 1), nn.InstanceNorm3d(cout, affine=True), nn.LeakyReLU(0.01, True),
        nn.Conv3d(cout, cout, 3, 1, 1), nn.InstanceNorm3d(cout, affine=True), nn.LeakyReLU(0.01, True))


class UNet3D(nn.Module):
    """A plain 3D U-Net: `levels` resolutions, strided-conv downsampling, transposed-conv
    upsampling, features doubling per level (capped at 320 as nnU-Net). Any input size works:
    the input is zero-padded to a multiple of 2^(levels-1) and the output cropped back."""

    def __init__(self, cin, classes, base=8, levels=4):
        super().__init__()
        f = [min(320, base * 2 ** i) for i in range(levels)]
        self.down = nn.ModuleList([block(cin, f[0], 1)] + [block(f[i - 1], f[i], 2) for i in range(1, levels)])
        self.up = nn.ModuleList([nn.ConvTranspose3d(f[i], f[i - 1], 2, 2) for i in range(levels - 1, 0, -1)])
        self.dec = nn.ModuleList([block(2 * f[i - 1], f[i - 1], 1) for i in range(levels - 1, 0, -1)])
        self.head = nn.Conv3d(f[0], classes, 1)
        self.multiple = 2 ** (levels - 1)

    def forward(self, x):
        size = x.shape[2:]
        pad = []
        for n in reversed(size):
            pad += [0, -n % self.multiple]
        x = F.pad(x, pad)
        skips = []
        for d in self.down:
            x = d(x)
            skips.append(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips[:-1])):
            x = dec(torch.cat([up(x), skip], 1))
        return self.head(x)[:, :, :size[0], :size[1], :size[2]]


# ---------------------------------------------------------------- nnU-Net's loss
def dice_ce_loss(logits, seg, smooth=1e-5, batch_dice=True):
    """nnU-Net's DC_and_CE_loss with an ignore label: CE (mean over voxels with seg >= 0) plus
    soft Dice of the foreground classes (softmax probabilities, voxels with seg < 0 masked out),
    returned as ce - dice, so it runs from about 1 down to about -1."""
    target = seg[:, 0].long()
    valid = target >= 0
    if not valid.any():
        return logits.sum() * 0.0
    ce = F.cross_entropy(logits, target, ignore_index=-1)
    probs = torch.softmax(logits, 1)[:, 1:]
    mask = valid.unsqueeze(1).to(probs.dtype)
    with torch.no_grad():
        onehot = F.one_hot(target.clamp(min=0), logits.shape[1]).permute(0, 4, 1, 2, 3)[:, 1:]
        onehot = onehot.to(probs.dtype) * mask
    axes = (0, 2, 3, 4) if batch_dice else (2, 3, 4)
    intersect = (probs * onehot).sum(axes)
    sum_pred = (probs * mask).sum(axes)
    sum_gt = onehot.sum(axes)
    dice = (2 * intersect + smooth) / (sum_gt + sum_pred + smooth).clamp(min=1e-8)
    return ce - dice.mean()


def loss_target(seg, outside):
    """seg as the loss sees it: -1 kept (ignored) or mapped to background 0."""
    return seg.clamp(min=0) if outside == "background" else seg


def batch_digest(data, seg):
    h = hashlib.sha256()
    h.update(data.numpy().tobytes())
    h.update(seg.numpy().tobytes())
    return h.hexdigest()[:32]


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------- the loop
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="a dataset folder (mounted for the run) or a patchfs mount point")
    ap.add_argument("-o", dest="options", default="",
                    help="patchfs options when SOURCE is a dataset: seed=7,patch=32x48x32,batch=2,...")
    ap.add_argument("--epochs", type=int, default=2, help="train up to epoch N-1 (default 2: epochs 0 and 1)")
    ap.add_argument("--steps", type=int, help="training steps per epoch (default: the mount's, 250)")
    ap.add_argument("--val-steps", type=int, help="validation steps per epoch (default: the mount's, 50; 0: none)")
    ap.add_argument("--start-epoch", type=int, default=0, help="first epoch (fresh weights unless --resume)")
    ap.add_argument("--start-step", type=int, default=0, help="first step of the first epoch")
    ap.add_argument("--resume", metavar="CKPT", help="load model, optimizer and position from a checkpoint")
    ap.add_argument("--checkpoint", metavar="CKPT", help="save a checkpoint after each epoch and when stopping")
    ap.add_argument("--stop-after", type=int, metavar="N", help="stop after N training steps (then save)")
    ap.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                    help="DataLoader worker processes (default %d: python/README.md says when more help)"
                         % DEFAULT_WORKERS)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                    help="torch device (default: cuda if available, else cpu)")
    ap.add_argument("--base", type=int, default=8, help="features of the first level (default 8; nnU-Net: 32)")
    ap.add_argument("--levels", type=int, default=4, help="U-Net resolutions (default 4)")
    ap.add_argument("--lr", type=float, default=1e-2, help="initial learning rate (default 1e-2, nnU-Net's)")
    ap.add_argument("--torch-seed", type=int, default=0, help="seed of the weight initialisation")
    ap.add_argument("--outside", choices=("ignore", "background"), default="ignore",
                    help="label -1 (outside the case): ignored by the loss (default), or trained as "
                         "background as nnU-Net's RemoveLabelTransform(-1, 0) does")
    ap.add_argument("--log", metavar="FILE", help="JSON lines: split, epoch, step, loss, digest per batch")
    ap.add_argument("--print-every", type=int, default=25, help="print the mean loss every N steps")
    v = ap.add_argument_group("final validation (after the last epoch, as nnU-Net)")
    v.add_argument("--no-final-validation", action="store_true", help="skip it")
    v.add_argument("--validate-only", metavar="CKPT", help="no training: the final validation of a checkpoint")
    v.add_argument("--val-dir", default="validation",
                   help="its output: VAL_DIR/pred/ID.npy, VAL_DIR/out/ID.nii.gz and summary.json (default ./validation)")
    v.add_argument("--mirror", choices=("auto", "on", "off"), default="auto",
                   help="mirroring test-time augmentation (8 flips per tile); auto (default): on when "
                        "the training batches were mirrored (aug=nnunet), as nnU-Net")
    v.add_argument("--no-mirror", dest="mirror", action="store_const", const="off", help="--mirror off")
    v.add_argument("--mirror-batch", type=int, default=8, metavar="N",
                   help="mirrored copies of a tile per forward pass (default 8: all, one batch; "
                        "1: one by one as nnU-Net, less memory)")
    v.add_argument("--tile-source", choices=("files", "slice"), default="files",
                   help="tiles read from cases/ID/tiles/T/data.npy (default) or cut from cases/ID/data.npy")
    v.add_argument("--dump-tiles", metavar="DIR", help="also save each tile's logits as DIR/ID/T.npy")
    v.add_argument("--cache", metavar="DIR",
                   help="the cache= of a mount made by hand, for patchfs export and evaluate "
                        "(a mount the script makes: its -o cache=)")
    a = ap.parse_args()

    torch.set_num_threads(max(1, a.threads))
    torch.manual_seed(a.torch_seed)
    with contextlib.ExitStack() as stack:
        if os.path.exists(os.path.join(a.source, "patchfs.json")):
            if a.options:
                sys.exit("-o is for a dataset folder: %s is a mount already" % a.source)
            tree, given, binary = patchfs.Tree(a.source), {"cache": a.cache}, None
        else:
            given = parse_options(a.options)
            if a.cache:
                given["cache"] = a.cache
            try:
                tree = stack.enter_context(patchfs.Mount(a.source, **given))
            except patchfs.Error as e:
                sys.exit(str(e))
            binary = tree.argv[0]
        if a.validate_only:
            model, classes, trained_on = load_for_validation(a, tree)
        else:
            (model, classes), trained_on = train(a, tree), tree.options
            if model is None or a.no_final_validation:
                return
        try:
            binary = binary or find_binary()
        except patchfs.Error as e:
            sys.exit("final validation: %s" % e)
        model.eval()
        mirror, why = a.mirror == "on", "--mirror %s" % a.mirror
        if a.mirror == "auto":
            mirror = final_validation.trained_with_mirroring(trained_on)
            why = "trained on mirrored batches, aug=nnunet" if mirror else \
                "trained without mirroring: no aug=nnunet; --mirror on forces it"
        final_validation.validate_fold(tree, model, classes, a.val_dir, binary,
                                       final_validation.export_options(tree, given),
                                       mirror=mirror, mirror_why=why, source=a.tile_source,
                                       device=a.device, dump_tiles=a.dump_tiles,
                                       per_forward=max(1, a.mirror_batch))


def dataset_shape(tree):
    """(input channels, classes) of the mount's dataset: one class per label value."""
    info = tree.info
    labels = [v for k, v in info["dataset"]["labels"].items() if isinstance(v, int) and k != "ignore"]
    return len(info["dataset"]["channels"]), max(labels) + 1


def load_for_validation(a, tree):
    """The network of a checkpoint, for --validate-only; a checkpoint from a mount serving
    other cases (another fold, plan or preprocessing) is validated with a warning naming it."""
    try:
        ck = torch.load(a.validate_only, map_location=a.device)
    except Exception as e:  # a missing file, or anything torch.load fails to unpickle
        sys.exit(f"{a.validate_only}: cannot load the checkpoint: {type(e).__name__}: {e}")
    if not isinstance(ck, dict) or "model" not in ck:
        sys.exit(f"{a.validate_only}: not a checkpoint of this script (no 'model')")
    channels, classes = dataset_shape(tree)
    net = ck.get("net", {"base": a.base, "levels": a.levels})
    model = UNet3D(channels, classes, net["base"], net["levels"]).to(a.device)
    try:
        model.load_state_dict(ck["model"])
    except RuntimeError as e:
        sys.exit(f"{a.validate_only}: not a network for this dataset's {channels} channel(s) and "
                 f"{classes} classes with --base {net['base']} --levels {net['levels']}: {e}")
    saved = ck.get("data", {}).get("content")
    if saved:
        cases = tuple("option %s:" % k for k in final_validation.CASE_OPTIONS) + (
            "dataset fingerprint", "plans.json", "splits.json")
        diffs = [d for d in patchfs.tree.content_differences(saved, tree.content) if d.startswith(cases)]
        for d in diffs:
            print(f"warning: {a.validate_only} was trained on other cases: {d}", flush=True)
    print(f"{a.validate_only}: U-Net (--base {net['base']} --levels {net['levels']}) trained to "
          f"epoch {ck.get('data', {}).get('epoch', '?')} step {ck.get('data', {}).get('step', '?')}", flush=True)
    # the options of the mount it was trained on (its aug decides the mirroring)
    trained_on = saved["options"] if saved else tree.options
    return model, classes, trained_on


def parse_options(text):
    """-o seed=7,patch=32x48x32,aug=nnunet,skip_bad -> {"seed": "7", ..., "skip_bad": True};
    a comma inside a value (ds_scales=1,0.5) continues it"""
    out, key = {}, None
    for item in filter(None, text.split(",")):
        if "=" in item:
            key, value = item.split("=", 1)
            out[key] = value
        elif key and not item.isidentifier():
            out[key] += "," + item
        else:
            key = None
            out[item] = True
    return out


def train(a, tree):
    info, opts = tree.info, tree.options
    steps = a.steps or opts["steps"]
    val_steps = opts["val_steps"] if a.val_steps is None else a.val_steps
    channels, classes = dataset_shape(tree)

    model = UNet3D(channels, classes, a.base, a.levels).to(a.device)
    optim = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.99, nesterov=True, weight_decay=3e-5)
    if a.start_epoch >= a.epochs:
        print(f"nothing to train: epoch {a.start_epoch} is not below --epochs {a.epochs} (epochs are "
              f"numbered from 0; --epochs is one past the last)", flush=True)
        return None, classes
    batches = StepDataset(tree, "train", epochs=a.epochs, start=(a.start_epoch, a.start_step), steps=steps)
    if a.resume:
        ck = torch.load(a.resume, map_location=a.device)
        try:
            batches.load_state_dict(ck["data"])
        except ValueError as e:  # patchfs.FingerprintMismatch too: it names what differs
            sys.exit(f"{a.resume}: {e}")
        model.load_state_dict(ck["model"])
        optim.load_state_dict(ck["optimizer"])
    epoch, step = batches.start

    def save():
        if a.checkpoint:
            torch.save({"model": model.state_dict(), "optimizer": optim.state_dict(),
                        "data": batches.state_dict(), "net": {"base": a.base, "levels": a.levels}},
                       a.checkpoint + ".tmp")
            os.replace(a.checkpoint + ".tmp", a.checkpoint)

    log = open(a.log, "a") if a.log else None

    def record(split, e, s, loss, digest):
        if log:
            log.write(json.dumps({"split": split, "epoch": e, "step": s, "loss": round(loss, 6),
                                  "digest": digest}) + "\n")
            log.flush()

    nparams = sum(p.numel() for p in model.parameters())
    print(f"{info['dataset']['name']}: {channels} channel(s), {classes} classes, patch {opts['patch']}, "
          f"batch {opts['batch']}, seed {opts['seed']}; U-Net {nparams / 1e6:.2f}M parameters; "
          f"epochs {epoch}..{a.epochs - 1} from step {step}, {steps} train + {val_steps} val steps each; "
          f"{a.workers} workers, {a.threads} threads, {a.device}", flush=True)

    if len(batches) == 0:
        print(f"nothing to train: the checkpoint is at epoch {epoch} step {step}, --epochs is {a.epochs}",
              flush=True)
        return model, classes      # trained to the end: what is left is the final validation
    done, window, t0, stopped = 0, [], time.time(), False
    lr_epoch = None
    for b in batches.loader(workers=a.workers):
        e, s = b["epoch"], b["step"]
        if lr_epoch != e:  # nnU-Net's poly schedule, set at the start of each epoch
            lr_epoch = e
            for g in optim.param_groups:
                g["lr"] = a.lr * (1 - e / a.epochs) ** 0.9
        digest = batch_digest(b["data"], b["seg"])
        model.train()
        optim.zero_grad(set_to_none=True)
        data, seg = b["data"].to(a.device), loss_target(b["seg"], a.outside).to(a.device)
        loss = dice_ce_loss(model(data), seg)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 12)
        optim.step()
        value = loss.item()
        if not math.isfinite(value):
            sys.exit(f"loss is {value} at epoch {e} step {s}")
        record("train", e, s, value, digest)
        window.append(value)
        done += 1
        if len(window) == a.print_every or s == steps - 1:
            print(f"epoch {e} step {s}: train loss {sum(window) / len(window):.4f} "
                  f"({done / (time.time() - t0):.2f} steps/s)", flush=True)
            window = []
        if s == steps - 1:
            validate(model, a, tree, e, val_steps, classes, record)
            save()
        if a.stop_after and done >= a.stop_after:
            save()
            nxt = batches.state_dict()
            print(f"stopped after {done} steps; next: epoch {nxt['epoch']} step {nxt['step']}", flush=True)
            stopped = True
            break
    took = time.time() - t0
    print(f"done: {done} training steps in {took:.1f} s ({done / max(took, 1e-9):.2f} steps/s); "
          f"peak RSS {peak_rss_mb():.0f} MB (training process)", flush=True)
    return (None if stopped else model), classes


@torch.no_grad()
def validate(model, a, tree, epoch, val_steps, classes, record):
    """nnU-Net's validation: the loss and a pseudo Dice per foreground class, accumulated over
    the epoch's validation steps (true/false positives/negatives of argmax, seg -1 ignored)."""
    if val_steps == 0:
        return
    model.eval()
    tp, fp, fn = (torch.zeros(classes - 1, dtype=torch.float64) for _ in range(3))
    losses = []
    val = StepDataset(tree, "val", epochs=epoch + 1, start=(epoch, 0), steps=val_steps)
    for b in val.loader(workers=min(a.workers, 1)):
        truth = loss_target(b["seg"], a.outside).to(a.device)
        logits = model(b["data"].to(a.device))
        loss = dice_ce_loss(logits, truth).item()
        losses.append(loss)
        record("val", b["epoch"], b["step"], loss, batch_digest(b["data"], b["seg"]))
        truth = truth[:, 0].long()
        valid = truth >= 0
        pred = logits.argmax(1)
        for c in range(1, classes):
            p, t = (pred == c) & valid, (truth == c)
            tp[c - 1] += (p & t).sum().item()
            fp[c - 1] += (p & ~t).sum().item()
            fn[c - 1] += (~p & t & valid).sum().item()
    dice = [round(float(x), 4) for x in (2 * tp / (2 * tp + fp + fn).clamp(min=1))]
    print(f"epoch {epoch} validation ({val_steps} steps): loss {sum(losses) / len(losses):.4f}, "
          f"pseudo Dice per class {dice}", flush=True)


if __name__ == "__main__":
    main()
