"""Quickstart: an np-RNN and an IRNN on a short adding problem, in a minute on a laptop CPU.

Trains `keras.layers.SimpleRNN(activation="relu")` twice on the adding problem (T = 50), once with
`keras_rnninit.NPInitializer` and once with `keras_rnninit.IdentityInitializer`, and prints each
model's test MSE next to the 0.167 of always predicting 1.0. The full benchmark scripts, one per
paper experiment, are the other files in this folder.

    python examples/quickstart.py            # about a minute on 2 CPU cores
    python examples/quickstart.py --tensorboard   # also log to runs/quickstart/tensorboard/

`--quick` trains on 500 sequences for one epoch (a smoke run of seconds; it does not learn).
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras
import numpy as np

import keras_rnninit
from keras_rnninit import experiment

TIMESTEPS = 50


def adding_data(samples, rng):
    values = rng.uniform(size=(samples, TIMESTEPS))
    markers = np.zeros((samples, TIMESTEPS))
    half = TIMESTEPS // 2
    rows = np.arange(samples)
    markers[rows, rng.integers(0, half, samples)] = 1.0
    markers[rows, rng.integers(half, TIMESTEPS, samples)] = 1.0
    inputs = np.stack([values, markers], axis=-1).astype("float32")
    targets = (values * markers).sum(axis=1, keepdims=True).astype("float32")
    return inputs, targets


def build(recurrent_initializer):
    inputs = keras.Input((TIMESTEPS, 2))
    hidden = keras.layers.SimpleRNN(
        64,
        activation="relu",
        recurrent_initializer=recurrent_initializer,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
    )(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3, global_clipnorm=1.0),
        loss="mse",
        jit_compile=True,
    )
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="500 sequences and 1 epoch: a smoke run that does not learn",
    )
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="log each model to OUTPUT_DIR/tensorboard/<model>/",
    )
    parser.add_argument(
        "--output-dir",
        default=os.path.join("runs", "quickstart"),
        help="where --tensorboard writes (default: runs/quickstart)",
    )
    args = parser.parse_args(argv)
    samples, epochs = (500, 1) if args.quick else (20000, 5)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = adding_data(samples, rng)
    x_test, y_test = adding_data(samples // 10, rng)
    for name, initializer in [
        ("np-RNN", keras_rnninit.NPInitializer(seed=1)),
        ("IRNN", keras_rnninit.IdentityInitializer(gain=1.0)),
    ]:
        model = build(initializer)
        callbacks = []
        if args.tensorboard:
            log_dir = os.path.join(args.output_dir, "tensorboard", name.lower().replace("-", "_"))
            callbacks = experiment.tensorboard_callbacks(log_dir)
        model.fit(
            x_train,
            y_train,
            batch_size=50,
            epochs=epochs,
            validation_split=0.1,
            verbose=2,
            callbacks=callbacks,
        )
        mse = model.evaluate(x_test, y_test, verbose=0)
        print(f"{name}: test MSE {mse:.4f} (predicting 1.0 gives 0.167)")


if __name__ == "__main__":
    main()
