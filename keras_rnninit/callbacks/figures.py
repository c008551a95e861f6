"""The gradient-flow figure: per-step gradient norms of monitored runs (matplotlib, imported when
a figure is drawn)."""

import numpy as np

from keras_rnninit._optional import import_figure


def plot_gradient_flow(runs, path=None, title=None):
    """Plots per-step gradient norms of one or more monitored runs on a log scale.

    Args:
        runs: `{label: records}`, records as in `GradientFlowMonitor.records`. Each measured layer
            of each run gets a panel; lines go from light (first measurement) to dark (last).
        path: PNG file to write, or `None`. Defaults to `None`.
        title: Figure title, or `None`. Defaults to `None`.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    Figure = import_figure()
    panels = []
    for label, records in runs.items():
        names = []
        for record in records:
            names.extend(n for n in record["timestep_norms"] if n not in names)
        panels.extend((label, name, records) for name in names)
    figure = Figure(figsize=(6.4 * max(1, len(panels)), 4.4), layout="constrained")
    axes = figure.subplots(1, max(1, len(panels)), squeeze=False, sharey=True)[0]
    for axis, (label, name, records) in zip(axes, panels):
        series = [r for r in records if name in r["timestep_norms"]]
        for i, record in enumerate(series):
            shade = 0.25 + 0.75 * (i + 1) / len(series)
            norms = record["timestep_norms"][name]
            if record.get("epoch") is None:
                when = "before training"
            else:
                when = f"epoch {record['epoch']}" + (
                    "" if record.get("batch") is None else f" batch {record['batch']}"
                )
            axis.semilogy(
                np.arange(len(norms)),
                np.maximum(norms, 1e-30),
                color=(0.1, 0.3, 0.8, shade),
                label=when,
            )
        axis.set_xlabel("time step t")
        axis.set_ylabel("||dL/dx_t||")
        axis.set_title(f"{label} {name}".strip())
        axis.grid(True, which="both", alpha=0.3)
        if len(series) <= 8:
            axis.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    if path is not None:
        figure.savefig(path, dpi=110)
    return figure
