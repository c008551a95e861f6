"""Copies a running example's resume state (backup/, history.csv, config.json) to a folder git
tracks, only at a moment no file is being written, and checks the copy opens.

    python resume/snapshot.py RUN_DIR SNAPSHOT_DIR

BackupAndRestore rewrites backup/ at the end of every epoch (about 2 minutes apart at T = 5000),
so the copy is taken 2 to 60 s after the last write, and taken again if the backup changed while
it was copied. The weights file must open in h5py and the metadata parse; history.csv keeps the
rows of the backed-up epochs only. This folder is deleted when its run has finished.
"""

import csv
import json
import os
import shutil
import sys
import tempfile
import time

import h5py


def _stamp(run_dir):
    paths = [
        os.path.join(run_dir, "backup", n) for n in ("latest.weights.h5", "training_metadata.json")
    ]
    return tuple(os.stat(p).st_mtime_ns for p in paths)


def snapshot(run_dir, target, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        before = _stamp(run_dir)
        age = time.time() - max(before) / 1e9
        if not 2 < age < 60:
            time.sleep(1)
            continue
        work = tempfile.mkdtemp()
        shutil.copytree(os.path.join(run_dir, "backup"), os.path.join(work, "backup"))
        for name in ("history.csv", "config.json"):
            shutil.copy2(os.path.join(run_dir, name), work)
        if _stamp(run_dir) != before:
            shutil.rmtree(work)
            continue
        with open(os.path.join(work, "backup", "training_metadata.json")) as f:
            epochs = int(json.load(f)["epoch"])
        with h5py.File(os.path.join(work, "backup", "latest.weights.h5"), "r") as f:
            if not f.keys():
                raise SystemExit(f"{run_dir}/backup/latest.weights.h5 holds no weights")
        with open(os.path.join(work, "history.csv"), newline="") as f:
            rows = list(csv.reader(f))
        rows = [rows[0]] + [r for r in rows[1:] if r and int(float(r[0])) < epochs]
        if len(rows) - 1 != epochs:
            raise SystemExit(f"history.csv has {len(rows) - 1} of the {epochs} backed-up epochs")
        with open(os.path.join(work, "history.csv"), "w", newline="") as f:
            csv.writer(f).writerows(rows)
        os.makedirs(target, exist_ok=True)
        shutil.rmtree(os.path.join(target, "backup"), ignore_errors=True)
        shutil.copytree(os.path.join(work, "backup"), os.path.join(target, "backup"))
        for name in ("history.csv", "config.json"):
            shutil.copy2(os.path.join(work, name), target)
        shutil.rmtree(work)
        print(f"{target}: {epochs} epochs backed up")
        return epochs
    raise SystemExit(f"no quiet moment in {timeout} s to copy {run_dir}")


if __name__ == "__main__":
    snapshot(sys.argv[1], sys.argv[2])
