"""Quickstart: an np-RNN and an IRNN on a short adding problem, in a minute on a laptop CPU.

Trains `keras.layers.SimpleRNN(activation="relu")` twice on the adding problem (T = 50), once with
`keras_rnninit.NPInitializer` and once with `keras_rnninit.IdentityInitializer`, and prints each
model's test MSE next to the 0.167 of always predicting 1.0. The full benchmark scripts, one per
paper experiment, are the other files in this folder.

    python examples/quickstart.py            # about a minute on 2 CPU cores
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_rnninit  # noqa: E402

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


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train, y_train = adding_data(20000, rng)
    x_test, y_test = adding_data(2000, rng)
    for name, initializer in [
        ("np-RNN", keras_rnninit.NPInitializer(seed=1)),
        ("IRNN", keras_rnninit.IdentityInitializer(gain=1.0)),
    ]:
        model = build(initializer)
        model.fit(x_train, y_train, batch_size=50, epochs=5, validation_split=0.1, verbose=2)
        mse = model.evaluate(x_test, y_test, verbose=0)
        print(f"{name}: test MSE {mse:.4f} (predicting 1.0 gives 0.167)")


if __name__ == "__main__":
    main()
