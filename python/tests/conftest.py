"""Fixtures of the package's tests: a small generated dataset (tests/tools/make_dataset.py), a
cache of its own, the patchfs binary of this checkout ($PATCHFS or ./patchfs), and after every
test a look at /proc/mounts: a test that leaves one of its patchfs mounts behind fails.

Run from the checkout (the integration suite tests/integration/python.sh does, also against
the package installed offline into a venv):

    PATCHFS=$PWD/patchfs PYTHONPATH=python python3 -m pytest python/tests
"""
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PATCHFS = os.path.abspath(os.environ.get("PATCHFS") or os.path.join(ROOT, "patchfs"))
os.environ["PATCHFS"] = PATCHFS


def patchfs_mounts():
    """Mount points of every patchfs mount, from /proc/mounts."""
    with open("/proc/mounts") as f:
        return {line.split()[1] for line in f if line.split()[2] == "fuse.patchfs"}


# Every mount point a Mount of these tests started patchfs on. Only those are checked (and
# cleaned up): other programs on the machine may mount and unmount patchfs meanwhile.
STARTED = []


@pytest.fixture(scope="session", autouse=True)
def record_mountpoints():
    from patchfs import mount
    start = mount._Life.start

    def recording_start(life, argv, progress):
        STARTED.append(life.path)
        return start(life, argv, progress)
    mount._Life.start = recording_start
    yield
    mount._Life.start = start


@pytest.fixture(autouse=True)
def no_mount_left_behind():
    first = len(STARTED)
    yield
    left = set(STARTED[first:]) & patchfs_mounts()
    for m in left:  # clean up, then fail the test that left them
        subprocess.run(["fusermount3", "-uz", m], stderr=subprocess.DEVNULL)
    assert not left, "patchfs mounts left behind: %s" % sorted(left)


def pytest_sessionstart(session):
    if not os.access(PATCHFS, os.X_OK):
        pytest.exit("the patchfs binary %s is missing: run make (or set $PATCHFS)" % PATCHFS, 2)


def make_dataset(path, *args):
    subprocess.run([sys.executable, os.path.join(ROOT, "tests", "tools", "make_dataset.py"),
                    str(path)] + list(args), check=True, stdout=subprocess.DEVNULL)
    return str(path)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """6 small 2-channel cases, 3 labels"""
    return make_dataset(tmp_path_factory.mktemp("data") / "Dataset900_Small", "--cases", "6",
                        "--channels", "2", "--shape", "14,22,18", "--seed", "5")


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def opts(cache):
    """options of a small mount: 6 steps and 2 validation steps per epoch, 3 epochs"""
    return dict(seed=5, batch=3, patch=(12, 16, 16), steps=6, val_steps=2, epochs=3, cache=cache)


def patchfs_get(dataset, vpath, options):
    """the bytes `patchfs get` writes for one virtual file (no FUSE), the options given as
    the same --key=value arguments Mount passes"""
    from patchfs.mount import option_args
    r = subprocess.run([PATCHFS, "get", dataset, vpath] + option_args(options),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return r.stdout


def get_array(dataset, vpath, options):
    return np.load(io.BytesIO(patchfs_get(dataset, vpath, options)))


def get_json(dataset, vpath, options):
    return json.loads(patchfs_get(dataset, vpath, options))
