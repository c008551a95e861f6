"""The speed ladder's PyTorch rungs: what a PyTorch user would train on the same machine.

`python -m keras_rnninit.benchmark` runs this file as a script, in its own process, when torch
is installed (`pip install torch`; never required by this package). It imports no Keras, so
torch's timings do not share a process with TensorFlow's or JAX's thread pools, and it reads
the very batches the Keras rungs train on from `.npy` files the parent writes.

The network is the ladder's: `layers` recurrent layers of `units` units (all but the last
return sequences), a linear layer on the last step, mean squared error, Adam (2e-4), one
`optimizer.step()` per timed step, run eagerly (PyTorch's default):

- `torch_twin`: `nn.Linear` and ReLU at every step, no recurrence (PyTorch's floor).
- `torch_indrnn_loop`: the usual hand-written PyTorch IndRNN: one `nn.Linear` projects every
  step at once, then a Python loop runs `h = relu(a_t + u * h)` and autograd differentiates
  it; `u` starts in `U[0, 2^(1/T)]` and is clipped to `|u| <= 2^(1/T)` after every update (the
  last layer also `|u| >= (1/2)^(1/T)`), as the Keras rungs' constraint does.
- `torch_rnn_relu`: `torch.nn.RNN(nonlinearity="relu")`.
- `torch_lstm`: `torch.nn.LSTM`.

Rows have the Keras rows' keys, with `backend: "torch"` and `jit_compile: false`.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

MODELS = ("torch_twin", "torch_indrnn_loop", "torch_rnn_relu", "torch_lstm")


def time_steps(step, repeats=5, warmup=1, max_seconds=None):
    """Times `step()` (one training step that returns its loss once the step has finished):
    one first (compiling) call, `warmup` untimed calls, then `repeats` timed ones, stopping
    early once `max_seconds` have passed (at least one timed call always runs). Shared by the
    Keras and the PyTorch harness, so both report the same dict: `ms_per_step` (median),
    `ms_min`, `ms_max`, `repeats` (timed calls run), `first_step_s`, `loss` (the last)."""
    start = time.perf_counter()
    loss = step()
    first_step = time.perf_counter() - start
    for _ in range(warmup):
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
        loss = step()
    times = []
    for _ in range(repeats):
        step_start = time.perf_counter()
        loss = step()
        times.append(1000.0 * (time.perf_counter() - step_start))
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
    return {
        "ms_per_step": statistics.median(times),
        "ms_min": min(times),
        "ms_max": max(times),
        "repeats": len(times),
        "first_step_s": first_step,
        "loss": float(loss),
    }


def max_rss_mib():
    """Peak resident memory of this process, MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / (1024.0 * 1024.0) if sys.platform == "darwin" else usage / 1024.0


def build_network(model, timesteps, input_dim=2, units=128, layers=2, seed=0):
    """The PyTorch network of one rung, as a `torch.nn.Module` mapping `(batch, T, input_dim)`
    to `(batch, 1)`.

    Args:
        model: One of `MODELS`.
        timesteps: Sequence length T (the IndRNN loop's bound on `u` derives from it).
        input_dim: Features per step. Defaults to `2`.
        units: Units per layer. Defaults to `128`.
        layers: Stacked layers. Defaults to `2`.
        seed: `torch.manual_seed` before the weights are drawn. Defaults to `0`.
    """
    import torch
    from torch import nn

    if model not in MODELS:
        raise ValueError(f"`model` must be one of {MODELS}. Received: model={model!r}")
    torch.manual_seed(seed)

    class IndRNNLoop(nn.Module):
        def __init__(self, features, last):
            super().__init__()
            self.projection = nn.Linear(features, units)
            self.high = 2.0 ** (1.0 / timesteps)
            self.low = 0.5 ** (1.0 / timesteps) if last else 0.0
            self.recurrent = nn.Parameter(torch.empty(units).uniform_(self.low, self.high))

        def forward(self, x):
            projected = self.projection(x)
            state = projected.new_zeros(projected.shape[0], units)
            states = []
            # unbind, not projected[:, step]: the backward of each indexing op writes a
            # full-size (batch, T, units) zero tensor, which makes the loop quadratic in T.
            for step_input in projected.unbind(1):
                state = torch.relu(step_input + self.recurrent * state)
                states.append(state)
            return torch.stack(states, 1)

        @torch.no_grad()
        def constrain(self):
            magnitude = self.recurrent.abs().clamp(self.low, self.high)
            self.recurrent.copy_(torch.where(self.recurrent < 0, -magnitude, magnitude))

    class Network(nn.Module):
        def __init__(self):
            super().__init__()
            if model == "torch_rnn_relu":
                self.body = nn.RNN(input_dim, units, layers, nonlinearity="relu", batch_first=True)
            elif model == "torch_lstm":
                self.body = nn.LSTM(input_dim, units, layers, batch_first=True)
            elif model == "torch_indrnn_loop":
                self.body = nn.ModuleList(
                    IndRNNLoop(input_dim if i == 0 else units, last=i == layers - 1)
                    for i in range(layers)
                )
            else:
                self.body = nn.ModuleList(
                    nn.Linear(input_dim if i == 0 else units, units) for i in range(layers)
                )
            self.head = nn.Linear(units, 1)

        def forward(self, x):
            if isinstance(self.body, nn.ModuleList):
                for layer in self.body:
                    x = layer(x)
                    if model == "torch_twin":
                        x = torch.relu(x)
            else:
                x, _ = self.body(x)
            return self.head(x[:, -1])

        def constrain(self):
            if model == "torch_indrnn_loop":
                for layer in self.body:
                    layer.constrain()

    return Network()


def time_training_step(network, inputs, targets, repeats=5, warmup=1, max_seconds=None):
    """Median milliseconds of one Adam step on fixed tensors; the same dict as the Keras
    harness' `time_training_step` (`ms_per_step`, `ms_min`, `ms_max`, `repeats`,
    `first_step_s`, `loss`)."""
    import torch

    optimizer = torch.optim.Adam(network.parameters(), lr=2e-4)
    loss_function = torch.nn.MSELoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_function(network(inputs), targets)
        loss.backward()
        optimizer.step()
        network.constrain()
        # .item() waits for the step, as the Keras harness' NumPy loss does.
        return loss.item()

    return time_steps(step, repeats=repeats, warmup=warmup, max_seconds=max_seconds)


def run(data, models=MODELS, units=128, layers=2, repeats=5, warmup=1, max_seconds=None, log=None):
    """Times every rung on every `(inputs, targets)` NumPy batch in `data`, in length order.

    Args:
        data: A list of `(inputs, targets)` float32 arrays, `(batch, T, input_dim)` and
            `(batch, 1)`.
        models: Rungs, from `MODELS`. Defaults to all.
        units, layers, repeats, warmup: As in `keras_rnninit.benchmark.run_benchmark`.
        max_seconds: Stop repeating a row once past this many seconds. Defaults to `None`.
        log: Called with one progress line per row, or `None`.

    Returns:
        A list of row dicts with the Keras rows' keys (`backend: "torch"`).
    """
    import torch

    rows = []
    for inputs, targets in sorted(data, key=lambda pair: pair[0].shape[1]):
        batch_size, timesteps, input_dim = inputs.shape
        x = torch.from_numpy(inputs)
        y = torch.from_numpy(targets)
        for model in models:
            row = {
                "backend": "torch",
                "model": model,
                "method": None,
                "timesteps": timesteps,
                "batch_size": batch_size,
                "input_dim": input_dim,
                "units": units,
                "layers": layers,
                "jit_compile": False,
                "dropout": None,
                "ms_per_step": None,
                "repeats": 0,
                "note": f"torch {torch.__version__}, {torch.get_num_threads()} threads",
            }
            rss_before = max_rss_mib()
            try:
                network = build_network(model, timesteps, input_dim, units, layers)
                row.update(time_training_step(network, x, y, repeats, warmup, max_seconds))
                if row["repeats"] < repeats:
                    row["note"] += f"; stopped after {row['repeats']} of {repeats} repeats (budget)"
            except Exception as error:  # A rung that cannot run is a row that says why.
                row["note"] = (
                    f"failed: {type(error).__name__}: {' '.join(str(error).split())[:300]}"
                )
            row["max_rss_mib"] = round(max_rss_mib(), 1)
            row["max_rss_increase_mib"] = round(max_rss_mib() - rss_before, 1)
            rows.append(row)
            if log is not None:
                ms = row["ms_per_step"]
                log(f"torch T={timesteps} {model}: " + (f"{ms:.1f} ms/step" if ms else row["note"]))
    return rows


def main(argv=None):
    """Script entry point: `torch_rungs.py --data DIR --output FILE [options]`, where DIR
    holds `inputs_T.npy` and `targets_T.npy` per length T."""
    import numpy as np

    parser = argparse.ArgumentParser(description="The speed ladder's PyTorch rungs.")
    parser.add_argument("--data", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--max-seconds-per-row", type=float, default=0.0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        parser.error(f"--models must be taken from {', '.join(MODELS)}. Received: {args.models}")
    data = []
    for name in sorted(os.listdir(args.data)):
        if name.startswith("inputs_") and name.endswith(".npy"):
            suffix = name[len("inputs_") :]
            data.append(
                (
                    np.load(os.path.join(args.data, name)),
                    np.load(os.path.join(args.data, "targets_" + suffix)),
                )
            )

    def log(line):
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    rows = run(
        data,
        models,
        args.units,
        args.layers,
        args.repeats,
        args.warmup,
        args.max_seconds_per_row or None,
        log,
    )
    with open(args.output, "w") as handle:
        json.dump(rows, handle, indent=1)
    return 0


if __name__ == "__main__":
    # Run as a script, this file's folder (the package's) heads sys.path; drop it, so that
    # none of the package's module names can shadow what torch imports.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)
    sys.exit(main())
