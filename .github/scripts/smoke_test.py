"""Smoke test of an installed keras-rnninit, as a user gets it from PyPI.

    KERAS_BACKEND=jax python .github/scripts/smoke_test.py [EXPECTED_VERSION]

Run it outside the checkout, after `pip install "dist/keras_rnninit-X-py3-none-any.whl[jax]"` in
a fresh environment: it fails if the package comes from a source tree instead of the install.
It trains a small np-RNN + IndRNN model for two XLA-compiled steps with gradient clipping,
checks the IndRNN bound held, saves it to `.keras` and loads it back.
"""

import importlib.util
import os
import sys
import tempfile


def main(argv):
    expected = argv[0] if argv else None
    # Where the package would be imported from, found before importing it (and Keras).
    location = os.path.dirname(os.path.abspath(importlib.util.find_spec("keras_rnninit").origin))
    if os.path.exists(os.path.join(location, "..", "pyproject.toml")):
        raise SystemExit(
            f"keras_rnninit would be imported from a source tree ({location}), not the install"
        )

    import keras
    import numpy as np

    import keras_rnninit

    if expected is not None and keras_rnninit.__version__ != expected:
        raise SystemExit(f"installed version {keras_rnninit.__version__}, expected {expected}")

    keras.utils.set_random_seed(0)
    timesteps = 16
    model = keras.Sequential(
        [
            keras.Input((timesteps, 2)),
            keras.layers.SimpleRNN(
                8,
                activation="relu",
                return_sequences=True,
                recurrent_initializer=keras_rnninit.NPInitializer(seed=1),
            ),
            keras_rnninit.IndRNN(8, timesteps=timesteps, last_layer=True),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-2), "mse", jit_compile=True)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(16, timesteps, 2)).astype("float32")
    y = rng.uniform(size=(16, 1)).astype("float32")
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=1,
        verbose=0,
        callbacks=[keras_rnninit.GradientClipping(threshold=1.0)],
    )
    loss = history.history["loss"][-1]
    if not np.isfinite(loss):
        raise SystemExit(f"training loss is not finite: {loss}")
    u = keras.ops.convert_to_numpy(model.layers[1].cell.recurrent_kernel)
    _, max_abs = keras_rnninit.indrnn_bounds(timesteps, last_layer=True)
    if np.max(np.abs(u)) > max_abs * (1 + 1e-6):
        raise SystemExit(f"IndRNN bound broken: max |u| = {np.max(np.abs(u))} > {max_abs}")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        restored = keras.models.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(x)),
        keras.ops.convert_to_numpy(model(x)),
        rtol=1e-5,
        atol=1e-6,
    )
    print(
        f"smoke test passed: keras-rnninit {keras_rnninit.__version__} from {location}, "
        f"backend {keras.backend.backend()}, loss {loss:.4f}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
