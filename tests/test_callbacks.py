"""Tests for keras_rnninit.callbacks: the invariants, on the active backend."""

import contextlib
import csv
import os

import keras
import numpy as np
import pytest
from helpers import block_singular_values, value_and_gradients

import keras_rnninit
from keras_rnninit.callbacks import (
    GradientClipping,
    GradientFlowError,
    GradientFlowMonitor,
    RecurrentWeightClipping,
)
from keras_rnninit.constraints import SpectralNormBound

BACKEND = keras.backend.backend()


def _weights(model):
    return [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]


def _exploding_rnn(steps=40, units=6, gain=1.3, jit_compile=True):
    """A ReLU RNN with W_hh = gain * I: the gradient grows like gain^T.

    `jit_compile=True` (XLA on TensorFlow) where the test's subject is what the compiled train
    step does (the clipping bounds); `"auto"` where it is a callback's control logic (no XLA on
    TensorFlow's CPU: about 40% less tracing time). JAX compiles either way.
    """
    model = keras.Sequential(
        [
            keras.Input((steps, 2)),
            keras.layers.SimpleRNN(
                units,
                activation="relu",
                kernel_initializer=keras.initializers.RandomUniform(0.1, 0.5, seed=1),
                recurrent_initializer=keras_rnninit.IdentityInitializer(gain=gain),
            ),
            keras.layers.Dense(1, kernel_initializer="ones"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", jit_compile=jit_compile)
    rng = np.random.RandomState(0)
    x = rng.uniform(0, 1, size=(8, steps, 2)).astype("float32")
    y = np.zeros((8, 1), "float32")
    return model, x, y


@contextlib.contextmanager
def _case(name):
    """Names the case in any failure inside: for cases run in a loop on one model (one trace
    shared) that would otherwise be parametrized."""
    try:
        yield
    except (Exception, pytest.fail.Exception) as error:
        raise AssertionError(f"case {name}: {type(error).__name__}: {error}") from error


def _direct_gradients(loss_fn, variables, tensors, model):
    """The reference: d loss_fn(tensors) / d (variables, tensors) by GradientTape or jax.grad.

    On JAX as one jitted program: op by op, JAX compiles every operation for its shape (most of
    test_gradient_flow_monitor_matches_direct_gradients' time); TensorFlow runs it eagerly."""
    _, _, tensor_grads, variable_grads = value_and_gradients(
        lambda tensors: (loss_fn(tensors), ()),
        tensors,
        variables,
        model.variables,
        jit=BACKEND == "jax",
    )
    return variable_grads, tensor_grads


# ---------------------------------------------------------------------------------------------
# GradientClipping


@pytest.mark.parametrize("mode", ["global_norm", "norm", "value"])
def test_gradient_clipping_bounds_the_sgd_update(mode):
    threshold, lr = 0.5, 0.01
    model, x, y = _exploding_rnn()
    before = _weights(model)
    model.fit(
        x, y, batch_size=8, epochs=1, verbose=0, callbacks=[GradientClipping(threshold, mode=mode)]
    )
    deltas = [a - b for a, b in zip(_weights(model), before)]
    if mode == "global_norm":
        norm = np.sqrt(sum(np.sum(d * d) for d in deltas))
        # The raw gradient is huge, so the clipped update sits exactly on the bound.
        np.testing.assert_allclose(norm, lr * threshold, rtol=1e-3)
    elif mode == "norm":
        for d in deltas:
            assert np.sqrt(np.sum(d * d)) <= lr * threshold * (1 + 1e-4)
        assert max(np.sqrt(np.sum(d * d)) for d in deltas) == pytest.approx(
            lr * threshold, rel=1e-3
        )
    else:
        assert max(np.abs(d).max() for d in deltas) == pytest.approx(lr * threshold, rel=1e-3)
    assert model.optimizer.global_clipnorm is None and model.optimizer.clipnorm is None
    assert model.optimizer.clipvalue is None  # restored after fit


def test_gradient_clipping_without_callback_explodes():
    # The premise of the test above: unclipped, the same step is orders of magnitude larger.
    model, x, y = _exploding_rnn()
    before = _weights(model)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    norm = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(_weights(model), before)))
    assert not np.isfinite(norm) or norm > 100 * 0.01 * 0.5


def test_gradient_clipping_takes_effect_after_an_earlier_fit_and_follows_schedule():
    lr = 0.01
    model, x, y = _exploding_rnn(gain=1.2)
    # An earlier fit traces the train step without clipping.
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[GradientClipping(1.0)])
    norms = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.before = _weights(self.model)

        def on_epoch_end(self, epoch, logs=None):
            after = _weights(self.model)
            norms.append(np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(after, self.before))))

    clip = GradientClipping(1.0, schedule={1: 0.1})
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[clip, Record()])
    np.testing.assert_allclose(norms, [lr * 1.0, lr * 0.1], rtol=1e-3)
    assert history.history["clip_threshold"] == [1.0, 0.1]


def test_gradient_clipping_callable_schedule():
    clip = GradientClipping(1.0, schedule=lambda epoch: 2.0**-epoch)
    assert [clip.threshold_at(e) for e in range(3)] == [1.0, 0.5, 0.25]


def test_gradient_clipping_refuses_double_clipping_and_override_replaces():
    model, x, y = _exploding_rnn()
    model.optimizer.clipvalue = 1e-6
    with pytest.raises(ValueError, match="already clips"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[GradientClipping(0.5)])
    before = _weights(model)
    model.fit(
        x, y, epochs=1, batch_size=8, verbose=0, callbacks=[GradientClipping(0.5, override=True)]
    )
    norm = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(_weights(model), before)))
    # Only the callback's global clip acted: clipvalue=1e-6 would give an update of ~1e-8.
    np.testing.assert_allclose(norm, 0.01 * 0.5, rtol=1e-3)
    assert model.optimizer.clipvalue == 1e-6


# ---------------------------------------------------------------------------------------------
# RecurrentWeightClipping (SpectralNormBound itself: test_constraints.py)


def _rnn_stack(steps=15, units=8, gru=True, jit_compile=True):
    orthogonal = keras.initializers.Orthogonal(gain=1.2, seed=2)
    recurrent = [
        keras.layers.SimpleRNN(
            units, activation="relu", recurrent_initializer=orthogonal, return_sequences=True
        ),
        keras.layers.GRU(units, recurrent_initializer=orthogonal, return_sequences=True),
        keras.layers.LSTM(units, recurrent_initializer=orthogonal),
    ]
    if not gru:
        del recurrent[1]
    model = keras.Sequential([keras.Input((steps, 3)), *recurrent, keras.layers.Dense(1)])
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, clipnorm=1.0), loss="mse", jit_compile=jit_compile
    )
    rng = np.random.RandomState(1)
    x = rng.normal(size=(16, steps, 3)).astype("float32")
    y = (3 * rng.normal(size=(16, 1))).astype("float32")
    return model, x, y


def test_recurrent_weight_clipping_bounds_singular_values_after_steps():
    model, x, y = _rnn_stack(gru=False)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)  # traced without constraints
    kernels = [layer.cell.recurrent_kernel for layer in model.layers[:2]]
    assert max(block_singular_values(keras.ops.convert_to_numpy(k)).max() for k in kernels) > 1.05
    clip = RecurrentWeightClipping(max_singular_value=1.0)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[clip])
    assert sorted(clip.attached) == sorted(layer.name for layer in model.layers[:2])
    for kernel in kernels:
        assert block_singular_values(keras.ops.convert_to_numpy(kernel)).max() <= 1.0 + 1e-3
        assert kernel.constraint is None  # detached again after fit


def test_recurrent_weight_clipping_selects_by_class_name_and_keeps_existing():
    # The selection is the subject (the bound inside an XLA step: the test above): no XLA.
    model, x, y = _rnn_stack(jit_compile="auto")
    rnn, gru, lstm = model.layers[:3]
    own = keras.constraints.MaxNorm(5.0)
    gru.cell.recurrent_kernel.constraint = own
    clip = RecurrentWeightClipping(layers=["LSTM", "GRU"], max_singular_value=0.5)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[clip])
    assert list(clip.attached) == [lstm.name]
    assert (
        block_singular_values(keras.ops.convert_to_numpy(lstm.cell.recurrent_kernel)).max()
        <= 0.5 + 1e-3
    )
    assert gru.cell.recurrent_kernel.constraint is own
    with pytest.raises(ValueError, match="already has a constraint"):
        model.fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[RecurrentWeightClipping(layers=[keras.layers.GRU], on_existing="raise")],
        )


class _VectorRecurrentCell(keras.layers.Layer):
    """A minimal IndRNN-like cell (1-D recurrent weight) so the test needs no IndRNN branch."""

    def __init__(self, units, recurrent_value, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.recurrent_value = recurrent_value

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units,),
            initializer=keras.initializers.Constant(self.recurrent_value),
            name="recurrent_kernel",
        )

    def call(self, inputs, states):
        h = keras.ops.relu(
            keras.ops.matmul(inputs, self.kernel) + self.recurrent_kernel * states[0]
        )
        return h, [h]


def test_recurrent_weight_clipping_applies_indrnn_bounds_to_vector_weights():
    steps = 20
    model = keras.Sequential(
        [
            keras.Input((steps, 2)),
            keras.layers.RNN(_VectorRecurrentCell(4, 1.5), return_sequences=True, name="first"),
            keras.layers.RNN(_VectorRecurrentCell(4, 0.0), name="last"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", jit_compile=True)
    x = np.random.RandomState(0).uniform(size=(8, steps, 2)).astype("float32")
    y = np.ones((8, 1), "float32")
    clip = RecurrentWeightClipping(last_layer=True)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[clip])
    _, upper = keras_rnninit.constraints.indrnn_bounds(steps)
    lower, _ = keras_rnninit.constraints.indrnn_bounds(steps, last_layer=True)
    first = np.abs(keras.ops.convert_to_numpy(model.layers[0].cell.recurrent_kernel))
    last = np.abs(keras.ops.convert_to_numpy(model.layers[1].cell.recurrent_kernel))
    assert np.all(first <= upper + 1e-6) and np.all(first > 1.0)  # started at 1.5: projected
    assert np.all(last >= lower - 1e-6) and np.all(last <= upper + 1e-6)  # started at 0
    assert clip.attached["first"].min_abs == 0.0 and clip.attached["last"].min_abs == lower


def test_recurrent_weight_clipping_on_the_real_indrnn_layer():
    """The callback finds keras_rnninit.IndRNN layers and bounds u inside the compiled step."""
    steps = 30
    model = keras.Sequential(
        [
            keras.Input((steps, 2)),
            keras_rnninit.IndRNN(
                6,
                recurrent_initializer=keras.initializers.Constant(1.5),
                return_sequences=True,
                name="first",
            ),
            keras_rnninit.IndRNN(
                6, recurrent_initializer=keras.initializers.Constant(0.0), name="last"
            ),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", jit_compile=True)
    rng = np.random.RandomState(3)
    x = rng.uniform(size=(16, steps, 2)).astype("float32")
    y = (10 * rng.uniform(size=(16, 1))).astype("float32")
    clip = RecurrentWeightClipping(last_layer=True)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[clip])
    assert sorted(clip.attached) == ["first", "last"]
    lower, upper = keras_rnninit.constraints.indrnn_bounds(steps, last_layer=True)
    first = np.abs(keras.ops.convert_to_numpy(model.layers[0].cell.recurrent_kernel))
    last = np.abs(keras.ops.convert_to_numpy(model.layers[1].cell.recurrent_kernel))
    assert np.all(first <= upper + 1e-6)
    assert np.all(last >= lower - 1e-6) and np.all(last <= upper + 1e-6)


# ---------------------------------------------------------------------------------------------
# GradientFlowMonitor


def _monitored_model(steps=12, lstm=True, jit_compile=True):
    """SimpleRNN 'rnn', LSTM 'lstm' (a second kind of recurrent layer), L2-regularized 'head'.

    `lstm=False` leaves the LSTM out, for the tests of the monitor's control logic, whose layers
    exist only to be measured: on TensorFlow each fit with a monitor traces its measurement
    again, several times faster without the LSTM. `jit_compile=True` (XLA on TensorFlow) where
    the measurement itself is the subject; `"auto"` (no XLA on TensorFlow's CPU) elsewhere.
    """
    recurrent = [keras.layers.SimpleRNN(5, return_sequences=lstm, name="rnn")]
    if lstm:
        recurrent.append(keras.layers.LSTM(4, name="lstm"))
    model = keras.Sequential(
        [
            keras.Input((steps, 2)),
            *recurrent,
            keras.layers.Dense(1, name="head", kernel_regularizer=keras.regularizers.L2(0.01)),
        ]
    )
    # SGD: the monitor reads gradients, whatever the optimizer does with them, and Adam's slots
    # and updates were most of the train step TensorFlow traced.
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", jit_compile=jit_compile)
    rng = np.random.RandomState(2)
    x = rng.normal(size=(32, steps, 2)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    return model, x, y


def _direct_measurement(model, x, y):
    recurrent = model.layers[:-1]  # the head is last

    def loss_from(start):
        def loss_fn(tensors):
            h = tensors[0]
            for layer in model.layers[start:]:
                h = layer(h)
            data_loss = keras.ops.mean(keras.ops.square(y - h))
            return data_loss + keras.ops.sum(model.losses)

        return loss_fn

    variables = list(model.trainable_variables)
    grads, (dx,) = _direct_gradients(loss_from(0), variables, [x], model)
    # dL/d(input of each recurrent layer): the model's input for the first, then h_{i-1}.
    input_grads = [dx]
    h = x
    for i in range(1, len(recurrent)):
        h = recurrent[i - 1](h)
        input_grads.append(_direct_gradients(loss_from(i), [], [h], model)[1][0])
    per_layer = {}
    for layer in model.layers:
        ids = {id(v) for v in layer.trainable_variables}
        per_layer[layer.name] = np.sqrt(
            sum(
                np.sum(np.square(keras.ops.convert_to_numpy(g)))
                for v, g in zip(variables, grads)
                if id(v) in ids
            )
        )
    return {
        "global_norm": np.sqrt(
            sum(np.sum(np.square(keras.ops.convert_to_numpy(g))) for g in grads)
        ),
        "layer_norms": per_layer,
        "timestep_norms": {
            layer.name: np.sqrt(np.sum(np.square(keras.ops.convert_to_numpy(g)), axis=(0, 2)))
            for layer, g in zip(recurrent, input_grads)
        },
    }


def test_gradient_flow_monitor_matches_direct_gradients(tmp_path):
    # The measurement is the subject: the LSTM, and XLA on TensorFlow.
    model, x, y = _monitored_model()
    held_out = (x[:8], y[:8])
    monitor = GradientFlowMonitor(
        data=held_out, csv_path=tmp_path / "flow.csv", plot_path=tmp_path / "flow.png"
    )
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[monitor])
    record = monitor.records[-1]
    direct = _direct_measurement(model, *held_out)
    np.testing.assert_allclose(record["global_norm"], direct["global_norm"], rtol=1e-4)
    for name in ("rnn", "lstm", "head"):
        np.testing.assert_allclose(
            record["layer_norms"][name], direct["layer_norms"][name], rtol=1e-4
        )
    for name in ("rnn", "lstm"):
        np.testing.assert_allclose(
            record["timestep_norms"][name], direct["timestep_norms"][name], rtol=1e-4, atol=1e-9
        )
    # Scalars reach History, one value per epoch.
    assert len(history.history["grad_norm"]) == 2
    assert history.history["grad_norm"][-1] == pytest.approx(direct["global_norm"], rel=1e-4)
    assert history.history["grad_last_step/lstm"][-1] == pytest.approx(
        direct["timestep_norms"]["lstm"][-1], rel=1e-4
    )
    assert 1 <= history.history["grad_reach/rnn"][-1] <= 12
    with open(tmp_path / "flow.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 2 * 12
    last_rnn = [float(r["norm"]) for r in rows if r["epoch"] == "1" and r["layer"] == "rnn"]
    np.testing.assert_allclose(last_rnn, direct["timestep_norms"]["rnn"], rtol=1e-4, atol=1e-9)
    assert os.path.getsize(tmp_path / "flow.png") > 1000


def test_gradient_flow_monitor_every_n_batches_sees_current_weights():
    model, x, y = _monitored_model(lstm=False, jit_compile="auto")
    monitor = GradientFlowMonitor(data=(x[:8], y[:8]), frequency=2)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[monitor])
    assert [r["batch"] for r in monitor.records] == [1, 3]
    # The last record was taken after the last update, so it equals the final weights' gradient.
    direct = _direct_measurement(model, x[:8], y[:8])
    np.testing.assert_allclose(monitor.records[-1]["global_norm"], direct["global_norm"], rtol=1e-4)
    assert monitor.records[0]["global_norm"] != pytest.approx(direct["global_norm"], rel=1e-4)


class _PoisonAtEpoch(keras.callbacks.Callback):
    """Writes NaN into the head's kernel at the start of one epoch (a test-only device)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch
        self.good = None

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.good = _weights(self.model)
            kernel = self.model.layers[-1].kernel
            kernel.assign(np.full(kernel.shape, np.nan, "float32"))


def _restorer(model):
    """A function that puts the model's weights and optimizer state back as they are now, so
    that cases run one after another on one model (its train step traced once) each start as
    on a fresh model."""
    model.optimizer.build(model.trainable_variables)
    saved = [
        (v, keras.ops.convert_to_numpy(v.value))
        for v in [*model.variables, *model.optimizer.variables]
    ]

    def restore():
        for variable, value in saved:
            variable.assign(value)

    return restore


def test_nan_gradient_stops_training_and_keeps_last_good_checkpoint(tmp_path):
    # The monitor's control logic: the one-layer model without XLA, both cases on it.
    model, x, y = _monitored_model(lstm=False, jit_compile="auto")
    restore = _restorer(model)
    for on_failure in ("raise", "stop"):
        with _case(f"on_failure={on_failure!r}"):
            restore()
            path = str(tmp_path / f"last_{on_failure}.keras")
            poison = _PoisonAtEpoch(1)
            monitor = GradientFlowMonitor(data=(x[:8], y[:8]), on_failure=on_failure)
            # With "stop", ModelCheckpoint keeps its last good file by saving only improvements
            # (NaN never improves); with "raise", it never sees the bad epoch at all.
            checkpoint = keras.callbacks.ModelCheckpoint(
                path, monitor="loss", save_best_only=on_failure == "stop"
            )
            callbacks = [poison, monitor, checkpoint]
            if on_failure == "raise":
                with pytest.raises(GradientFlowError, match="layer '.*' is not finite"):
                    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=callbacks)
            else:
                history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=callbacks)
                assert len(history.history["loss"]) == 2
                assert "not finite" in monitor.failure
            restored = keras.models.load_model(path)
            for saved, good in zip(_weights(restored), poison.good):
                assert np.all(np.isfinite(saved))
                np.testing.assert_allclose(saved, good, rtol=1e-6)


def test_gradient_flow_monitor_max_norm_names_the_layer():
    model, x, y = _exploding_rnn(gain=1.3, jit_compile="auto")
    monitor = GradientFlowMonitor(data=(x, y), max_norm=1e3, on_failure="raise")
    with pytest.raises(GradientFlowError, match="layer '"):
        model.fit(
            x, y, batch_size=8, epochs=1, verbose=0, callbacks=[monitor, GradientClipping(1.0)]
        )


def test_gradient_flow_monitor_needs_data():
    model, x, y = _monitored_model(lstm=False, jit_compile="auto")
    with pytest.raises(ValueError, match="data=None"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[GradientFlowMonitor()])


# ---------------------------------------------------------------------------------------------
# Construction and serialization


@pytest.mark.parametrize(
    "factory, message",
    [
        (lambda: GradientClipping(0.0), "threshold=0.0"),
        (lambda: GradientClipping(1.0, mode="l2"), "mode='l2'"),
        (lambda: GradientClipping(1.0, schedule={1: -1.0}), "schedule"),
        (lambda: GradientClipping(1.0, schedule=3), "schedule=3"),
        (lambda: RecurrentWeightClipping(max_singular_value=-1.0), "max_singular_value=-1.0"),
        (lambda: RecurrentWeightClipping(timesteps=0), "timesteps=0"),
        (lambda: RecurrentWeightClipping(gamma=0.5), "gamma"),
        (lambda: RecurrentWeightClipping(on_existing="skip"), "on_existing='skip'"),
        (lambda: RecurrentWeightClipping(layers=[3]), "layers="),
        (lambda: GradientFlowMonitor(frequency=0), "frequency=0"),
        (lambda: GradientFlowMonitor(on_failure="warn"), "on_failure='warn'"),
        (lambda: GradientFlowMonitor(data=(1,)), "data="),
        (lambda: GradientFlowMonitor(reach_fraction=2.0), "reach_fraction=2.0"),
    ],
)
def test_bad_arguments_raise_value_error(factory, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        factory()


@pytest.mark.parametrize(
    "instance",
    [
        GradientClipping(0.3, mode="value", schedule={2: 0.1}, override=True),
        RecurrentWeightClipping(
            layers=["lstm", keras.layers.GRU],
            max_singular_value=0.9,
            timesteps=100,
            last_layer=True,
        ),
        GradientFlowMonitor(
            layers=["rnn"],
            frequency=5,
            max_norm=1e4,
            on_failure="raise",
            csv_path="a.csv",
            tensorboard_dir="logs/gradient_flow",
        ),
        SpectralNormBound(0.9, squarings=10, blocks=4),
    ],
)
def test_config_round_trip(instance):
    config = instance.get_config()
    restored = type(instance).from_config(config)
    assert restored.get_config() == config
    serialized = keras.saving.serialize_keras_object(instance)
    assert serialized["registered_name"].startswith("keras_rnninit>")
    assert keras.saving.deserialize_keras_object(serialized).get_config() == config


def test_spectral_norm_bound_in_saved_model(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((5, 2)),
            keras.layers.LSTM(3, recurrent_constraint=SpectralNormBound(0.8)),
        ]
    )
    model.save(tmp_path / "m.keras")
    restored = keras.models.load_model(tmp_path / "m.keras")
    constraint = restored.layers[0].cell.recurrent_constraint
    assert isinstance(constraint, SpectralNormBound) and constraint.max_value == 0.8


def test_gradient_clipping_configures_the_inner_optimizer_of_a_loss_scale_optimizer():
    x = np.full((8, 4), 1000.0, "float32")
    y = np.zeros((8, 1), "float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, kernel_initializer="ones")])
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1))
    model.compile(optimizer=optimizer, loss="mse", jit_compile=True)
    before = _weights(model)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[GradientClipping(1.0)])
    norm = np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(_weights(model), before)))
    np.testing.assert_allclose(norm, 0.1 * 1.0, rtol=1e-4)


# ---------------------------------------------------------------------------------------------
# Issue 9: nested layers, no state left behind, last good checkpoint, argument checks


def _nested_indrnn_model(steps=10, jit_compile=True):
    model = keras.Sequential(
        [
            keras.Input((steps, 3)),
            keras_rnninit.IndRNNStack(4, num_layers=2, return_sequences=True, name="stack"),
            keras_rnninit.ResidualIndRNNBlock(4, name="residual"),
            keras.layers.Dense(1),
        ]
    )
    # Large steps with the gradient clipped: u is pushed far past the bound, nothing diverges.
    model.compile(
        optimizer=keras.optimizers.SGD(3.0, global_clipnorm=1.0),
        loss="mse",
        jit_compile=jit_compile,
    )
    rng = np.random.RandomState(3)
    return (
        model,
        rng.normal(size=(16, steps, 3)).astype("float32"),
        rng.normal(size=(16, 1)).astype("float32"),
    )


def _recurrent_vectors(model):
    return [
        keras.ops.convert_to_numpy(v) for v in model.trainable_variables if "recurrent" in v.path
    ]


def test_recurrent_weight_clipping_finds_indrnn_layers_nested_in_blocks():
    """Issue 9, item 2: `attached` was {} and u reached 4135 (TF) / NaN (JAX) with SGD(10)."""
    # Finding the nested layers is the subject (IndRNN bounds inside an XLA step:
    # test_recurrent_weight_clipping_on_the_real_indrnn_layer): no XLA.
    model, x, y = _nested_indrnn_model(jit_compile="auto")
    clip = RecurrentWeightClipping(gamma=2.0)
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[clip])
    assert sorted(clip.attached) == [
        "residual/indrnn_0",
        "residual/indrnn_1",
        "stack/indrnn_0",
        "stack/indrnn_1",
    ]
    vectors = _recurrent_vectors(model)
    assert len(vectors) == 4
    for u in vectors:
        assert np.all(np.isfinite(u)) and np.all(np.abs(u) <= 2.0 ** (1 / 10) + 1e-6)
    # Selecting the enclosing layer selects the layers inside it.
    clip = RecurrentWeightClipping(layers=["stack"])
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[clip])
    assert sorted(clip.attached) == ["stack/indrnn_0", "stack/indrnn_1"]


def test_recurrent_weight_clipping_raises_on_a_selection_that_matches_nothing():
    """Issue 9, item 11: layers=["nonexistent"] silently selected nothing."""
    model, x, y = _exploding_rnn()
    with pytest.raises(ValueError, match="nonexistent.*Received: layers"):
        model.fit(
            x, y, epochs=1, verbose=0, callbacks=[RecurrentWeightClipping(layers=["nonexistent"])]
        )
    monitor = GradientFlowMonitor(data=(x, y), layers=["nonexistent"])
    with pytest.raises(ValueError, match="nonexistent.*Received: layers"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[monitor])


class _Interrupt(Exception):
    pass


class _RaiseAtBatch(keras.callbacks.Callback):
    """Raises at one batch, in `hook`: a stand-in for Ctrl-C or a failing callback."""

    def __init__(self, batch, hook="on_train_batch_end"):
        super().__init__()
        setattr(self, hook, self._maybe_raise)
        self.batch = batch

    def _maybe_raise(self, batch, logs=None):
        if batch == self.batch:
            raise _Interrupt()


def _update_norm(model, x, y, **fit_args):
    before = _weights(model)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, **fit_args)
    return np.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(_weights(model), before)))


@pytest.mark.parametrize("position", ["first", "last"])
def test_interrupted_fit_leaves_no_clipping_behind(position):
    """Issue 9, item 4: after an exception the optimizer kept global_clipnorm, so a later plain
    fit clipped silently and a later fit with the callback raised "already clips"."""
    model, x, y = _exploding_rnn(jit_compile="auto")
    clip, raiser = GradientClipping(0.5), _RaiseAtBatch(0)
    callbacks = [clip, raiser] if position == "first" else [raiser, clip]
    with pytest.raises(_Interrupt):
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=callbacks)
    optimizer = model.optimizer
    assert (optimizer.clipnorm, optimizer.global_clipnorm, optimizer.clipvalue) == (
        None,
        None,
        None,
    )
    # A plain fit does not clip: SGD(0.01) on the exploding RNN moves far more than 0.01 * 0.5.
    assert _update_norm(model, x, y) > 0.1
    # The callback can be used again, and clips.
    # (float32 differences of the now large weights: a few percent.)
    np.testing.assert_allclose(
        _update_norm(model, x, y, callbacks=[GradientClipping(0.5)]), 0.005, rtol=0.05
    )


def test_interrupted_fit_leaves_no_constraint_behind():
    model, x, y = _exploding_rnn(jit_compile="auto")
    kernel = model.layers[0].cell.recurrent_kernel
    with pytest.raises(_Interrupt):
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=1,
            verbose=0,
            callbacks=[RecurrentWeightClipping(max_singular_value=0.5), _RaiseAtBatch(0)],
        )
    assert kernel.constraint is None
    # The projection made at the start of fit was kept; the constraint was in the train step.
    assert block_singular_values(keras.ops.convert_to_numpy(kernel)).max() <= 0.5 + 1e-4


def test_checkpoint_saved_during_fit_carries_no_callback_clipping(tmp_path):
    """Issue 9, item 4: a ModelCheckpoint saved the callback's clip in the optimizer config."""
    model, x, y = _exploding_rnn(jit_compile="auto")
    path = str(tmp_path / "m.keras")
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=1,
        verbose=0,
        callbacks=[
            GradientClipping(0.5),
            RecurrentWeightClipping(max_singular_value=0.9),
            keras.callbacks.ModelCheckpoint(path),
        ],
    )
    restored = keras.models.load_model(path)
    assert restored.optimizer.global_clipnorm is None
    assert restored.layers[0].cell.recurrent_kernel.constraint is None


def test_stop_restores_last_good_weights_whatever_the_callback_order(tmp_path):
    """Issue 9, item 7: with on_failure="stop", a ModelCheckpoint (save every epoch) overwrote
    the last good file with NaN weights."""
    # Control logic: the one-layer model without XLA, both orders on it.
    model, x, y = _monitored_model(lstm=False, jit_compile="auto")
    restore = _restorer(model)
    for checkpoint_first in (True, False):
        with _case(f"checkpoint_first={checkpoint_first}"):
            restore()
            path = str(tmp_path / f"last_{checkpoint_first}.keras")
            poison = _PoisonAtEpoch(1)
            monitor = GradientFlowMonitor(data=(x[:8], y[:8]), on_failure="stop")
            checkpoint = keras.callbacks.ModelCheckpoint(path)
            callbacks = (
                [poison, checkpoint, monitor] if checkpoint_first else [poison, monitor, checkpoint]
            )
            model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=callbacks)
            assert "not finite" in monitor.failure
            restored = keras.models.load_model(path)
            for saved, good, current in zip(_weights(restored), poison.good, _weights(model)):
                np.testing.assert_allclose(saved, good, rtol=1e-6)
                np.testing.assert_allclose(current, good, rtol=1e-6)


def test_gradient_flow_monitor_csv_appends_on_a_second_fit(tmp_path):
    """Issue 9, item 11: a second fit truncated the CSV."""
    model, x, y = _monitored_model(lstm=False, jit_compile="auto")
    path = str(tmp_path / "flow.csv")
    monitor = GradientFlowMonitor(data=(x[:8], y[:8]), csv_path=path)
    # batch_size=8, as in the other one-layer tests: on JAX the compiled train step is reused.
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[monitor])
    model.fit(x, y, batch_size=8, epochs=2, initial_epoch=1, verbose=0, callbacks=[monitor])
    with open(path) as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["epoch", "batch", "layer", "timestep", "norm"]
    assert sorted({row[0] for row in rows[1:]}) == ["0", "1"]
    assert sum(row == rows[0] for row in rows) == 1


@pytest.mark.parametrize(
    "schedule,message",
    [
        ({"a": 0.5}, "schedule keys to be epochs"),
        ({1.5: 0.5}, "schedule keys to be epochs"),
        ({-1: 0.5}, "schedule keys to be epochs"),
        (keras.optimizers.schedules.ExponentialDecay(1.0, 10, 0.5), "LearningRateSchedule"),
    ],
)
def test_gradient_clipping_schedule_keys_must_be_epochs(schedule, message):
    """Issue 9, item 11: string and float keys were misread, a LearningRateSchedule unclear."""
    with pytest.raises(ValueError, match=message):
        GradientClipping(1.0, schedule=schedule)
    # JSON-style string keys that are ints still work (a config read back from JSON).
    assert GradientClipping(1.0, schedule={"2": 0.5}).threshold_at(3) == 0.5


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_gradient_flow_monitor_writes_its_figure_to_tensorboard(tmp_path, read_tensorboard):
    """One PNG per measurement, at the epoch (or the optimizer's step), of every layer's curve."""
    # Two measured layers (two panels), without XLA; both frequencies on one model, per batch
    # first: its steps are the optimizer's, which a fresh model starts at 0.
    model, x, y = _monitored_model(jit_compile="auto")
    for frequency, steps in ((2, [2, 4]), ("epoch", [0, 1])):
        with _case(f"frequency={frequency!r}"):
            folder = tmp_path / f"flow_{frequency}"
            monitor = GradientFlowMonitor(
                data=(x[:8], y[:8]), frequency=frequency, tensorboard_dir=folder
            )
            model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[monitor])
            events = read_tensorboard(folder)
            assert list(events) == ["gradient_flow"]
            image = events["gradient_flow"]
            assert image["plugin"] == "images" and image["steps"] == steps
            for width, height, png in image["values"]:
                assert png.startswith(PNG_MAGIC)
                # One panel per measured layer (rnn and lstm): two 6.4-inch panels at 100 dpi.
                assert (width, height) == (1280, 440)
            assert len(monitor.records) == 2


def test_gradient_flow_monitor_tensorboard_needs_tensorboard(tmp_path, monkeypatch):
    """Without the tensorboard package tf.summary fails at its first write; the monitor says
    what to install at the start of fit, before any step is trained."""
    model, x, y = _monitored_model(lstm=False, jit_compile="auto")
    monkeypatch.setitem(__import__("sys").modules, "tensorboard", None)
    monitor = GradientFlowMonitor(data=(x[:8], y[:8]), tensorboard_dir=tmp_path / "flow")
    with pytest.raises(ImportError, match="missing: tensorboard"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[monitor])
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0
    assert not (tmp_path / "flow").exists()
