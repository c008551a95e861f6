"""One `.keras` file holding every public object that a model can hold, loaded in a fresh process.

The per-object `get_config` / `from_config` round trips live with each module's tests; this is
DESIGN's drop-in promise end to end: `model.save` here, `keras.models.load_model` in a new
interpreter that only imports the package, the same predictions and the same configs there.
"""

import json

import keras
import numpy as np
import pytest

import keras_rnninit
from keras_rnninit import (
    IdentityInitializer,
    IndRNN,
    IndRNNCell,
    IndRNNRecurrentInitializer,
    IndRNNStack,
    MagnitudeBound,
    NPInitializer,
    ResidualIndRNNBlock,
    SpectralNormBound,
)

TIMESTEPS = 10


def _model():
    inputs = keras.Input((TIMESTEPS, 4))
    # IndRNN (parallel method, masked, both directions) and Keras' loop over an IndRNNCell.
    masked = keras.layers.Masking()(inputs)
    first = keras.layers.Bidirectional(
        IndRNN(5, timesteps=TIMESTEPS, return_sequences=True, method="parallel"), name="bi"
    )(masked)
    first = keras.layers.RNN(
        IndRNNCell(
            5,
            recurrent_initializer=IndRNNRecurrentInitializer(0.2, 0.8),
            recurrent_constraint=MagnitudeBound(0.1, 1.5),
        ),
        name="cell_loop",
    )(first)
    # The initializers and SpectralNormBound in Keras' own layers, then the deep blocks.
    second = keras.layers.SimpleRNN(
        5,
        activation="relu",
        recurrent_initializer=NPInitializer(seed=1),
        return_sequences=True,
        name="np_rnn",
    )(inputs)
    second = keras.layers.LSTM(
        4,
        recurrent_initializer=IdentityInitializer(gain=0.5),
        recurrent_constraint=SpectralNormBound(0.9),
        return_sequences=True,
        name="lstm",
    )(second)
    second = IndRNNStack(
        4, num_layers=2, timesteps=TIMESTEPS, return_sequences=True, seed=3, name="stack"
    )(second)
    second = ResidualIndRNNBlock(
        4, timesteps=TIMESTEPS, return_sequences=False, seed=4, name="residual"
    )(second)
    outputs = keras.layers.Dense(1)(keras.layers.Concatenate()([first, second]))
    return keras.Model(inputs, outputs)


def test_every_public_object_saves_and_loads_in_a_fresh_process(tmp_path, run_in_fresh_process):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, TIMESTEPS, 4)).astype("float32")
    mask = rng.uniform(size=(8, TIMESTEPS)) > 0.3
    x = x * mask[..., None]
    model = _model()
    # Compiled, so that the file holds a compile config that load_model reads back.
    model.compile(optimizer="adam", loss="mse")
    # Every weight, trainable or not (the moving statistics too), moved off its initial value,
    # so that a weight left at its initializer's value after loading cannot pass. (A training
    # step did this before, at two thirds of the test's time for tracing the train step:
    # training through each object has its own tests.)
    for weight in model.weights:
        value = keras.ops.convert_to_numpy(weight.value)
        weight.assign(value + rng.uniform(0.05, 0.2, size=value.shape).astype(value.dtype))
    expected = model.predict(x, verbose=0)
    path = tmp_path / "every_object.keras"
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "weights.npz", *[keras.ops.convert_to_numpy(w) for w in model.weights])
    output = run_in_fresh_process(
        f"""
        import json, numpy as np, keras
        import keras_rnninit  # registers every public object
        model = keras.models.load_model({str(path)!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        saved = np.load({str(tmp_path / "weights.npz")!r})
        same = all(np.array_equal(np.asarray(w), saved[f"arr_{{i}}"])
                   for i, w in enumerate(model.weights))
        layers = {{layer.name: layer for layer in model.layers}}
        indrnn = layers["bi"].forward_layer
        cell = layers["cell_loop"].cell
        np_rnn = layers["np_rnn"].cell
        lstm = layers["lstm"].cell
        print(json.dumps({{
            "y": np.asarray(model.predict(x, verbose=0)).tolist(),
            "weights_equal": same,
            "types": sorted({{type(layer).__name__ for layer in model.layers}}),
            "indrnn": [type(indrnn).__name__, indrnn.method,
                       indrnn.cell.recurrent_constraint.max_abs],
            "cell": [type(cell).__name__, type(cell.recurrent_initializer).__name__,
                     cell.recurrent_initializer.get_config()["max_value"],
                     cell.recurrent_constraint.get_config()],
            "np_rnn": [type(np_rnn.recurrent_initializer).__name__,
                       np_rnn.recurrent_initializer.get_config()["seed"]],
            "lstm": [type(lstm.recurrent_initializer).__name__,
                     lstm.recurrent_initializer.gain,
                     type(lstm.recurrent_constraint).__name__,
                     lstm.recurrent_constraint.max_value],
        }}))
        """
    )
    result = json.loads(output.strip().splitlines()[-1])
    np.testing.assert_allclose(np.array(result["y"]), expected, rtol=1e-5, atol=1e-6)
    assert result["weights_equal"] is True
    assert {"IndRNNStack", "ResidualIndRNNBlock", "Bidirectional", "RNN"} <= set(result["types"])
    assert result["indrnn"][:2] == ["IndRNN", "parallel"]
    assert result["indrnn"][2] == pytest.approx(2.0 ** (1 / TIMESTEPS))
    assert result["cell"][:3] == ["IndRNNCell", "IndRNNRecurrentInitializer", 0.8]
    assert result["cell"][3] == {"min_abs": 0.1, "max_abs": 1.5}
    assert result["np_rnn"] == ["NPInitializer", 1]
    assert result["lstm"] == ["IdentityInitializer", 0.5, "SpectralNormBound", 0.9]


def test_every_registered_name_is_the_package_and_the_class():
    # `.keras` files saved by earlier versions name objects `keras_rnninit>ClassName`: never
    # change either part.
    for name in (
        "IdentityInitializer",
        "IndRNNRecurrentInitializer",
        "NPInitializer",
        "IndRNN",
        "IndRNNCell",
        "IndRNNStack",
        "ResidualIndRNNBlock",
        "MagnitudeBound",
        "SpectralNormBound",
        "GradientClipping",
        "GradientFlowMonitor",
        "RecurrentWeightClipping",
    ):
        cls = getattr(keras_rnninit, name)
        assert keras.saving.get_registered_name(cls) == f"keras_rnninit>{name}"
        assert keras.saving.get_registered_object(f"keras_rnninit>{name}") is cls
