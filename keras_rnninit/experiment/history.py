"""The run's files: the history CSV (trimmed on resume), the learning curve, JSON."""

import csv
import json
import math
import os
import sys


def backed_up_epochs(backup_dir):
    """The number of epochs `BackupAndRestore` saved in `backup_dir`, or None without a backup."""
    path = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return int(json.load(f)["epoch"])


def trim_history(history_path, completed):
    """Keeps the rows of `history.csv` for epochs `0 .. completed - 1` (each once)."""
    if not os.path.exists(history_path):
        return
    with open(history_path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, kept, seen = rows[0], [], set()
    column = header.index("epoch") if "epoch" in header else None
    for row in rows[1:]:
        if column is None or not row:
            continue
        epoch = int(float(row[column]))
        if epoch < completed and epoch not in seen:
            seen.add(epoch)
            kept.append(row)
    with open(history_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(kept)


def read_history(path):
    """Reads `history.csv` into a dict of column name to list of floats."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: [float(row[key]) for row in rows] for key in (rows[0] if rows else {})}


def plot_history(history_path, png_path, title=None):
    """Draws every metric in `history.csv` against the epoch, training and validation together.

    Returns the PNG path, or None when matplotlib is not installed (it is an optional
    dependency: `pip install keras-rnninit[examples]`).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        print("matplotlib is not installed; no learning-curve PNG.", file=sys.stderr)
        return None
    history = read_history(history_path)
    epochs = [int(e) + 1 for e in history.get("epoch", [])]
    names = [
        k for k in history if k != "epoch" and not k.startswith("val_") and k != "learning_rate"
    ]
    figure, axes = pyplot.subplots(
        1, max(len(names), 1), figsize=(5 * max(len(names), 1), 3.5), squeeze=False
    )
    for axis, name in zip(axes[0], names):
        axis.plot(epochs, history[name], marker=".", label="train")
        if f"val_{name}" in history:
            axis.plot(epochs, history[f"val_{name}"], marker=".", label="validation")
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    pyplot.close(figure)
    return png_path


def write_json(path, data):
    """Writes `data` as indented JSON with sorted keys; arrays become lists."""
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=_jsonable)
        f.write("\n")


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def finite_or_none(value):
    """`value` as a float, or None when it is NaN or infinite (JSON has neither)."""
    value = float(value)
    return value if math.isfinite(value) else None
