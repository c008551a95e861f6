"""Rows, their ratios to the twin and to IndRNN(auto), and the table printed from them."""

import importlib.metadata
import math
import os
import platform

from keras_rnninit.benchmark.ladder import (
    DEEP_MODELS,
    DEEP_TWINS,
    METHODS,
    MODELS,
    TORCH_MODELS,
    TWIN_OF,
)

ROW_KEYS = (
    "backend",
    "model",
    "method",
    "timesteps",
    "batch_size",
    "input_dim",
    "units",
    "layers",
    "jit_compile",
    "dropout",
    "ms_per_step",
    "repeats",
    "vs_twin",
    "vs_indrnn_auto",
    "note",
)


def progress_line(row):
    """One line of progress for a finished or skipped row."""
    name = row["model"] + (f"[{row['method']}]" if row["method"] else "")
    if row["ms_per_step"] is None:
        return f"{row['backend']} T={row['timesteps']} {name}: {row['note']}"
    return (
        f"{row['backend']} T={row['timesteps']} {name}: {row['ms_per_step']:.1f} ms/step "
        f"(compile step {row['first_step_s']:.1f} s, {row['repeats']} repeats)"
    )


def add_ratios(rows):
    """Fills `vs_twin` (time / its twin's time) and `vs_indrnn_auto` (time / IndRNN auto's).

    Rows are matched on backend, length, batch size, input size, units, layers, `jit_compile`
    and dropout; a ratio is `None` where its reference was not measured. A rung's twin is
    `TWIN_OF[model]` (`"twin"` for the two-layer ladder's rungs). The PyTorch rungs' IndRNN
    reference is the fastest `IndRNN(method="auto")` row of any Keras backend at the same
    length and sizes: how many times slower than this package the PyTorch network is.

    Args:
        rows: Row dicts, updated in place.

    Returns:
        The same list.
    """
    sizes = ("timesteps", "batch_size", "input_dim", "units", "layers")

    def setting(row):
        return (row["backend"], row["jit_compile"], row.get("dropout")) + tuple(
            row[k] for k in sizes
        )

    twin = {}
    auto = {}
    fastest_auto = {}
    for row in rows:
        if row["ms_per_step"] is None:
            continue
        twin[(row["model"], setting(row))] = row["ms_per_step"]
        if row["model"] == "indrnn" and row["method"] == "auto":
            auto[setting(row)] = row["ms_per_step"]
            key = tuple(row[k] for k in sizes)
            fastest_auto[key] = min(fastest_auto.get(key, math.inf), row["ms_per_step"])
    for row in rows:
        ms = row["ms_per_step"]
        reference = twin.get((TWIN_OF.get(row["model"], "twin"), _twin_setting(row, setting)))
        if row["model"] in TORCH_MODELS:
            ref_auto = fastest_auto.get(tuple(row[k] for k in sizes))
        else:
            ref_auto = auto.get(_twin_setting(row, setting, dropout=False))
        row["vs_twin"] = None if ms is None or reference is None else ms / reference
        row["vs_indrnn_auto"] = None if ms is None or ref_auto is None else ms / ref_auto
    return rows


def _twin_setting(row, setting, dropout=True):
    # The two-layer ladder's rungs have no dropout; a deep recipe with dropout compares with
    # its twin at the same dropout, and with IndRNN(auto), which has none.
    if dropout and row["model"] in DEEP_MODELS + DEEP_TWINS:
        return setting(row)
    return setting({**row, "dropout": None})


def format_table(rows):
    """The rows as a Markdown table (readable in a terminal too), median and fastest step.

    Args:
        rows: Row dicts from `run_benchmark`.

    Returns:
        A string: one line per row, sorted by backend, length and ladder order.
    """
    order = {model: i for i, model in enumerate(MODELS)}
    method_order = {method: i for i, method in enumerate(METHODS)}

    def key(row):
        return (
            row["backend"],
            row["batch_size"],
            row["input_dim"],
            row["units"],
            row["layers"],
            row["jit_compile"],
            row["timesteps"],
            order.get(row["model"], len(order)),
            method_order.get(row["method"], -1),
        )

    def ratio(value):
        return "" if value is None else f"{value:.2f}"

    lines = [
        "| backend | T | model | ms/step | min ms | x twin | x IndRNN(auto) | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=key):
        name = row["model"] + (f" ({row['method']})" if row["method"] else "")
        ms = "" if row["ms_per_step"] is None else f"{row['ms_per_step']:.1f}"
        # The fastest step, next to the median: a wide gap says the machine was busy.
        fastest = "" if row.get("ms_min") is None else f"{row['ms_min']:.1f}"
        lines.append(
            f"| {row['backend']} | {row['timesteps']} | {name} | {ms} | {fastest} | "
            f"{ratio(row['vs_twin'])} | {ratio(row['vs_indrnn_auto'])} | {row['note'] or ''} |"
        )
    return "\n".join(lines)


def describe_machine():
    """One line: CPU model and count, Python, Keras and the installed backends' versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    parts = [f"CPU: {cpu} x {os.cpu_count()}", f"Python {platform.python_version()}"]
    for name in ("keras", "tensorflow", "jax", "jaxlib", "torch"):
        # Package metadata, not an import: importing every framework would take seconds.
        try:
            parts.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join(parts)
