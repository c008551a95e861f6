"""Title: Gradient flow over time: tanh RNN vs IRNN on the adding problem
Description: Measures ||dL/dx_t|| at every step of a T = 200 adding-problem sequence with
`keras_rnninit.callbacks.GradientFlowMonitor`, for a tanh SimpleRNN and an IRNN (ReLU SimpleRNN,
identity recurrent weights, Le et al. 2015), and plots how far back the gradient reaches.

The adding problem (Hochreiter & Schmidhuber 1997; IRNN and IndRNN papers): input (T, 2), row 0
uniform in [0, 1], row 1 a marker with exactly two 1s, one in each half; target = sum of the two
marked values. The loss depends on the first marked value, anywhere in the first half, so a model
must carry gradient back ~T steps.

Command (writes docs/images/gradient_flow_adding_T200.png):

    KERAS_BACKEND=jax python examples/gradient_flow_plot.py

`--quick` trains on fewer samples for a smoke run. `--tensorboard` also logs each model's
training to TensorBoard, with the monitor's per-step gradient figure after every epoch as an
image (`tensorboard --logdir runs/gradient_flow_plot/tensorboard`).
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras

import keras_rnninit
from keras_rnninit import experiment
from keras_rnninit.arrays import adding_problem_arrays
from keras_rnninit.callbacks import GradientClipping, GradientFlowMonitor, plot_gradient_flow


def build(kind, timesteps, units, seed):
    if kind == "tanh":
        recurrent = keras.layers.SimpleRNN(units, activation="tanh", name="tanh_rnn", seed=seed)
    else:
        recurrent = keras.layers.SimpleRNN(
            units,
            activation="relu",
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.001, seed=seed),
            recurrent_initializer=keras_rnninit.IdentityInitializer(),
            name="irnn",
        )
    model = keras.Sequential([keras.Input((timesteps, 2)), recurrent, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse", jit_compile=True)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=experiment.positive_int, default=200)
    parser.add_argument("--units", type=experiment.positive_int, default=64)
    parser.add_argument("--samples", type=experiment.positive_int, default=12800)
    parser.add_argument("--epochs", type=experiment.positive_int, default=6)
    parser.add_argument("--quick", action="store_true", help="512 samples, 2 epochs")
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="log each model to OUTPUT_DIR/tensorboard/<layer name>/",
    )
    parser.add_argument(
        "--output-dir",
        default=os.path.join("runs", "gradient_flow_plot"),
        help="where --tensorboard writes (default: runs/gradient_flow_plot)",
    )
    parser.add_argument(
        "--output",
        default=os.path.join(
            os.path.dirname(__file__), "..", "docs", "images", "gradient_flow_adding_T200.png"
        ),
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.epochs = 512, 2
    keras.utils.set_random_seed(0)
    x, y = adding_problem_arrays(args.samples, args.timesteps, marker="one_per_half", seed=0)
    x_held, y_held = adding_problem_arrays(128, args.timesteps, marker="one_per_half", seed=1)

    runs = {}
    for kind, label in (("tanh", "tanh SimpleRNN"), ("irnn", "IRNN (ReLU, identity)")):
        model = build(kind, args.timesteps, args.units, seed=0)
        monitor = GradientFlowMonitor(data=(x_held, y_held))
        # One measurement before training: the gradient profile the initializer gives.
        monitor.set_model(model)
        initial = dict(monitor.measure(), epoch=None, batch=None)
        callbacks = [GradientClipping(1.0), monitor]
        if args.tensorboard:
            log_dir = os.path.join(args.output_dir, "tensorboard", model.layers[0].name)
            callbacks += experiment.tensorboard_callbacks(log_dir, callbacks)
        history = model.fit(
            x,
            y,
            batch_size=64,
            epochs=args.epochs,
            verbose=2,
            callbacks=callbacks,
        )
        runs[label] = [initial] + monitor.records
        name = model.layers[0].name
        for record in runs[label]:
            norms = record["timestep_norms"][name]
            when = "init" if record["epoch"] is None else f"epoch {record['epoch']}"
            print(
                f"{label:24s} {when:8s} loss {record['loss']:.4f}  ||dL/dx_0|| {norms[0]:.3e}  "
                f"||dL/dx_{args.timesteps // 2}|| {norms[args.timesteps // 2]:.3e}  "
                f"||dL/dx_T-1|| {norms[-1]:.3e}  ratio first/last {norms[0] / norms[-1]:.3e}"
            )
        print(f"{label}: final training loss {history.history['loss'][-1]:.4f}")

    title = (
        f"Adding problem, T = {args.timesteps}: gradient reaching each input step "
        f"(held-out batch of 128, {keras.backend.backend()} backend)"
    )
    plot_gradient_flow(runs, path=args.output, title=title)
    print(f"wrote {os.path.abspath(args.output)}")


if __name__ == "__main__":
    main()
