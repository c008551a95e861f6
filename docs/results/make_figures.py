"""Draws the comparison figures of docs/results.md from the runs' committed history files.

    python docs/results/make_figures.py

Reads `docs/results/<run>/history.csv` (copied from each run's output folder) and writes the
PNGs next to them. Needs matplotlib (`pip install "keras-rnninit[examples]"`).
"""

import csv
import glob
import json
import os

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# The authors' logged validation accuracy (%) of the 6-layer, 128-unit IndRNN by epoch
# (shared/SPEC.md, section 1.3).
AUTHORS_PIXEL = {1: 77.7, 2: 85.1, 3: 89.7, 5: 94.0, 10: 96.2, 20: 97.4, 40: 97.9}
AUTHORS_PERMUTED = {1: 63.1, 2: 70.0, 3: 69.8, 5: 66.0, 10: 41.9, 20: 78.2, 40: 91.7}


def read_history(run):
    path = os.path.join(HERE, run, "history.csv")
    if not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: [float(row[key]) for row in rows] for key in rows[0]} if rows else None


def mnist_figure():
    figure, axis = pyplot.subplots(figsize=(6, 4))
    drawn = False
    for run, authors, label, other_seeds in (
        ("pixel_mnist_bn_indrnn", AUTHORS_PIXEL, "pixel", ()),
        ("permuted_mnist_bn_indrnn", AUTHORS_PERMUTED, "permuted", (2,)),
    ):
        history = read_history(run)
        if history is None:
            continue
        drawn = True
        epochs = [int(e) + 1 for e in history["epoch"]]
        shown = {e: v for e, v in authors.items() if e <= max(epochs) + 2}
        (line,) = axis.plot(
            epochs,
            [100 * v for v in history["val_sparse_categorical_accuracy"]],
            marker="o",
            label=f"{label}: this package (validation)",
        )
        axis.plot(
            list(shown),
            list(shown.values()),
            marker="x",
            linestyle="--",
            color=line.get_color(),
            label=f"{label}: authors' log (validation)",
        )
        # Runs of the same recipe from another seed (another permutation too): same colour.
        for seed in other_seeds:
            again = read_history(f"{run}_seed{seed}")
            if again is not None:
                axis.plot(
                    [int(e) + 1 for e in again["epoch"]],
                    [100 * v for v in again["val_sparse_categorical_accuracy"]],
                    marker="s",
                    linestyle=":",
                    color=line.get_color(),
                    label=f"{label}: this package, seed {seed}",
                )
    if not drawn:
        pyplot.close(figure)
        return
    axis.set_xlabel("epoch (57 000 images)")
    axis.set_ylabel("validation accuracy %")
    axis.set_title("6-layer BN-IndRNN on sequential MNIST (784 steps)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(os.path.join(HERE, "sequential_mnist.png"), dpi=100)
    pyplot.close(figure)


def _run_config(run):
    with open(os.path.join(HERE, run, "config.json")) as f:
        return json.load(f)


def _label(config):
    """A run's legend label: the model and the settings that differ between runs."""
    arguments = config["arguments"]
    label = f"{arguments['model']}, Adam {arguments['learning_rate']:g}"
    if arguments.get("lr_decay") == "cosine":
        label += f" cosine over {arguments['epochs'] * arguments['steps_per_epoch']} steps"
    if arguments.get("input_stddev") is not None:
        label += f", inputs N(0, {arguments['input_stddev']:g}^2)"
    return label


def regression_figure(task, title, baseline, baseline_label, filename):
    """Validation MSE against training steps, one panel per sequence length T."""
    runs = sorted(os.path.basename(p) for p in glob.glob(os.path.join(HERE, f"{task}_T*")))
    lengths = sorted({_run_config(run)["arguments"]["timesteps"] for run in runs})
    if not lengths:
        return
    figure, axes = pyplot.subplots(1, len(lengths), figsize=(4.5 * len(lengths), 4), squeeze=False)
    for axis, length in zip(axes[0], lengths):
        for run in runs:
            config = _run_config(run)
            history = read_history(run)
            if history is None or config["arguments"]["timesteps"] != length:
                continue
            steps = config["arguments"]["steps_per_epoch"]
            seen = [(int(e) + 1) * steps for e in history["epoch"]]
            axis.plot(seen, history["val_loss"], marker=".", label=_label(config))
        axis.axhline(baseline, color="black", linestyle=":", label=baseline_label)
        axis.set_yscale("log")
        axis.set_xlabel(f"training steps (batches of {config['arguments']['batch_size']})")
        axis.set_ylabel("validation MSE")
        axis.set_title(f"{title}, T = {length}")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(os.path.join(HERE, filename), dpi=100)
    pyplot.close(figure)


def parity_figure():
    """Per-step validation accuracy against training steps, one panel per T."""
    runs = sorted(os.path.basename(p) for p in glob.glob(os.path.join(HERE, "parity_T*")))
    lengths = sorted({_run_config(run)["arguments"]["timesteps"] for run in runs})
    if not lengths:
        return
    figure, axes = pyplot.subplots(1, len(lengths), figsize=(4.5 * len(lengths), 4), squeeze=False)
    for axis, length in zip(axes[0], lengths):
        for run in runs:
            config = _run_config(run)
            history = read_history(run)
            if history is None or config["arguments"]["timesteps"] != length:
                continue
            steps = config["arguments"]["steps_per_epoch"]
            seen = [(int(e) + 1) * steps for e in history["epoch"]]
            axis.plot(seen, history["val_binary_accuracy"], marker=".", label=_label(config))
        axis.axhline(0.5, color="black", linestyle=":", label="chance 0.5")
        axis.set_xlabel(f"training steps (batches of {config['arguments']['batch_size']})")
        axis.set_ylabel("per-step validation accuracy")
        axis.set_title(f"Streaming parity, T = {length}")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(os.path.join(HERE, "parity.png"), dpi=100)
    pyplot.close(figure)


if __name__ == "__main__":
    mnist_figure()
    regression_figure("adding", "Adding problem", 1 / 6, "baseline 0.167", "adding_problem.png")
    regression_figure(
        "multiplication",
        "Multiplication problem",
        7 / 144,
        "baseline 0.049",
        "multiplication_problem.png",
    )
    parity_figure()
