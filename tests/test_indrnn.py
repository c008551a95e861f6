"""IndRNNCell and the fast IndRNN layer: every method equals Keras' loop over the cell, in
outputs and gradients, under jit; Keras conventions (masking, state, dropout, saving)."""

import math
import re

import keras
import numpy as np
import pytest
from helpers import value_and_gradients
from keras import ops

import keras_rnninit
from keras_rnninit import IndRNN, IndRNNCell, recurrence
from keras_rnninit.constraints import MagnitudeBound
from keras_rnninit.recurrence import _loops as recurrence_loops

BACKEND = keras.backend.backend()
JIT = [True, False] if BACKEND == "tensorflow" else [True]
INITIALIZERS = dict(
    kernel_initializer=keras.initializers.RandomNormal(stddev=0.7, seed=1),
    recurrent_initializer=keras.initializers.RandomUniform(-1.1, 1.1, seed=2),
    bias_initializer=keras.initializers.RandomNormal(stddev=0.3, seed=3),
)


def _loss_weights(shape):
    size = int(np.prod(shape))
    return ops.reshape(ops.cos(ops.arange(size, dtype="float32") * 0.37), shape)


def _outputs_and_grads(layer, x, jit, initial_state=None, plain_sum=False, **call_kwargs):
    """Outputs of `layer(x)` and the gradients of a fixed weighted sum of all of them (a plain
    sum if `plain_sum`) w.r.t. x, the initial state (if given) and the trainable weights."""
    x = ops.convert_to_tensor(x)
    inputs = [x] if initial_state is None else [x, ops.convert_to_tensor(initial_state)]

    def loss_of(outputs):
        flat = keras.tree.flatten(outputs)
        if plain_sum:
            return sum(ops.sum(o) for o in flat), flat
        return sum(ops.sum(o * _loss_weights(o.shape)) for o in flat), flat

    def with_state(inputs):
        kwargs = dict(call_kwargs)
        if len(inputs) > 1:
            kwargs["initial_state"] = inputs[1]
        return kwargs

    _, flat, input_grads, weight_grads = value_and_gradients(
        lambda inputs: loss_of(layer(inputs[0], **with_state(inputs))),
        inputs,
        layer.trainable_variables,
        layer.variables,
        jit=jit,
    )
    grads = input_grads + weight_grads
    return [ops.convert_to_numpy(o) for o in flat], [ops.convert_to_numpy(g) for g in grads]


def _pair(method, activation="relu", **layer_kwargs):
    """A fast IndRNN and Keras' RNN over an IndRNNCell with the same weights."""
    fast = IndRNN(5, activation=activation, method=method, **INITIALIZERS, **layer_kwargs)
    cell = IndRNNCell(5, activation=activation, **INITIALIZERS)
    reference = keras.layers.RNN(cell, **layer_kwargs)
    return fast, reference


def _data(timesteps, batch=3, dim=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, timesteps, dim)).astype("float32")
    mask = rng.uniform(size=(batch, timesteps)) > 0.35
    mask[0, 0] = mask[1, -1] = False
    h0 = rng.normal(size=(batch, 5)).astype("float32")
    return x, mask, h0


CASES = {
    # name: (activation, timesteps, layer kwargs, use mask, use initial state)
    "sequences_state_mask_initial": (
        "relu",
        7,
        dict(return_sequences=True, return_state=True),
        True,
        True,
    ),
    "backwards_mask_zero_output": (
        "relu",
        7,
        dict(return_sequences=True, go_backwards=True, zero_output_for_mask=True),
        True,
        False,
    ),
    "one_step": ("relu", 1, dict(return_state=True), False, True),
    "odd_length_last_output": ("relu", 9, dict(return_state=True, go_backwards=True), False, False),
    "tanh_mask_backwards": (
        "tanh",
        6,
        dict(return_sequences=True, go_backwards=True, return_state=True),
        True,
        True,
    ),
}
PAIRS = [
    (name, method)
    for name, case in CASES.items()
    for method in (("sequential",) if case[0] == "tanh" else ("sequential", "chunked", "parallel"))
]


@pytest.mark.parametrize("jit", JIT)
@pytest.mark.parametrize("case,method", PAIRS)
def test_every_method_equals_the_cell_loop(case, method, jit):
    activation, timesteps, layer_kwargs, use_mask, use_state = CASES[case]
    x, mask, h0 = _data(timesteps)
    fast, reference = _pair(method, activation, **layer_kwargs)
    fast.build(x.shape)
    reference.build(x.shape)
    reference.set_weights(fast.get_weights())
    assert fast.resolve_method(timesteps) == method
    kwargs = dict(initial_state=h0 if use_state else None)
    if use_mask and use_state and BACKEND == "tensorflow":
        # Keras' TensorFlow loop outputs zeros (not the kept initial state) at masked steps
        # before the first unmasked one; its JAX loop and IndRNN output the kept state. Only
        # compare where the two Keras backends agree.
        mask[:, -1 if layer_kwargs.get("go_backwards") else 0] = True
    if use_mask:
        kwargs["mask"] = ops.convert_to_tensor(mask)
    fast_out, fast_grads = _outputs_and_grads(fast, x, jit, **kwargs)
    ref_out, ref_grads = _outputs_and_grads(reference, x, jit, **kwargs)
    assert len(fast_out) == len(ref_out) and len(fast_grads) == len(ref_grads)
    for got, want in zip(fast_out, ref_out):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    names = (
        ["inputs"]
        + (["initial_state"] if use_state else [])
        + ["kernel", "recurrent_kernel", "bias"]
    )
    for name, got, want in zip(names, fast_grads, ref_grads):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("method", ["sequential", "chunked", "parallel", "cell"])
def test_hand_computed_three_steps(method):
    """x = 1, 2, 3; W = 1, b = -1.5, u = 0.5, relu: a = -0.5, 0.5, 1.5 and
    h = relu(-0.5) = 0, relu(0.5 + 0) = 0.5, relu(1.5 + 0.25) = 1.75. For loss = sum of h:
    delta = 1 + 0.5*1.5 = 1.75, 1 + 0.5*1 = 1.5, 1 and f' = 0, 1, 1, so da = 0, 1.5, 1;
    db = 2.5, dW = 2*1.5 + 3*1 = 6, du = 1.5*h_1 + 1*h_2 = 0.5, dx = 2 units * da = 0, 3, 2."""
    constants = dict(
        kernel_initializer=keras.initializers.Constant(1.0),
        recurrent_initializer=keras.initializers.Constant(0.5),
        bias_initializer=keras.initializers.Constant(-1.5),
    )
    if method == "cell":
        layer = keras.layers.RNN(IndRNNCell(2, **constants), return_sequences=True)
    else:
        layer = IndRNN(2, method=method, return_sequences=True, **constants)
    x = np.array([[[1.0], [2.0], [3.0]]], "float32")
    layer.build(x.shape)
    outputs, grads = _outputs_and_grads(layer, x, jit=True, plain_sum=True)
    d_inputs, d_kernel, d_recurrent, d_bias = grads
    np.testing.assert_allclose(outputs[0][0], [[0, 0], [0.5, 0.5], [1.75, 1.75]], atol=1e-6)
    np.testing.assert_allclose(d_inputs[0, :, 0], [0.0, 3.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(d_kernel, [[6.0, 6.0]], atol=1e-6)
    np.testing.assert_allclose(d_recurrent, [0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(d_bias, [2.5, 2.5], atol=1e-6)


def test_auto_falls_back_to_the_cell_loop_for_other_activations():
    x, mask, _ = _data(6)
    fast, reference = _pair("auto", "elu", return_sequences=True)
    fast.build(x.shape)
    reference.build(x.shape)
    reference.set_weights(fast.get_weights())
    assert fast.resolve_method(6) is None
    np.testing.assert_allclose(
        ops.convert_to_numpy(fast(x, mask=mask)),
        ops.convert_to_numpy(reference(x, mask=mask)),
        rtol=1e-6,
    )
    unrolled = IndRNN(5, unroll=True)
    assert unrolled.resolve_method(6) is None


def test_auto_rule_on_this_machine():
    layer = IndRNN(4)
    assert layer.resolve_method(None) == "sequential"
    assert layer.resolve_method(8) == "sequential"
    # Sequential on a CPU, parallel on an accelerator: the rule for the device found here.
    on_cpu = recurrence_loops.device_kind() == "cpu"
    assert layer.resolve_method(1000) == ("sequential" if on_cpu else "parallel")
    assert IndRNN(4, activation="tanh").resolve_method(1000) == "sequential"


@pytest.mark.parametrize(
    "device, expected", [("cpu", "sequential"), ("gpu", "parallel"), ("tpu", "parallel")]
)
def test_auto_rule_per_device(device, expected):
    relu = recurrence.activation_spec(keras.activations.relu)
    tanh = recurrence.activation_spec(keras.activations.tanh)
    assert recurrence.select_method(relu, 1000, device=device) == expected
    assert recurrence.select_method(relu, 31, device=device) == "sequential"
    assert recurrence.select_method(tanh, 1000, device=device) == "sequential"
    assert recurrence.select_method(relu, None, device=device) == "sequential"


@pytest.mark.parametrize("method", ["sequential", "parallel"])
def test_bidirectional_equals_the_cell_loop(method):
    x, mask, _ = _data(7)
    fast = keras.layers.Bidirectional(
        IndRNN(5, method=method, return_sequences=True, **INITIALIZERS)
    )
    reference = keras.layers.Bidirectional(
        keras.layers.RNN(IndRNNCell(5, **INITIALIZERS), return_sequences=True)
    )
    fast.build(x.shape)
    reference.build(x.shape)
    reference.set_weights(fast.get_weights())
    # Bidirectional zeroes masked outputs (zero_output_for_mask); both layers must agree.
    got = ops.convert_to_numpy(fast(x, mask=mask))
    want = ops.convert_to_numpy(reference(x, mask=mask))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.all(got[~mask] == 0)


def test_stacked_cells_equal_stacked_layers():
    x, _, _ = _data(6)
    stacked = keras.layers.RNN(
        [IndRNNCell(5, **INITIALIZERS), IndRNNCell(5, **INITIALIZERS)], return_sequences=True
    )
    model = keras.Sequential(
        [IndRNN(5, return_sequences=True), IndRNN(5, return_sequences=True, method="chunked")]
    )
    stacked.build(x.shape)
    model.build(x.shape)
    model.set_weights(stacked.get_weights())
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(x)), ops.convert_to_numpy(stacked(x)), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("layer_kind", ["fast", "cell"])
def test_dropout_mask_is_drawn_once_per_sequence(layer_kind):
    """Linear units with identity input weights and u = 0 output the dropped input itself:
    every step of a sequence of ones must show the same mask, scaled by 1 / (1 - rate)."""
    kwargs = dict(
        activation="linear",
        kernel_initializer="identity",
        recurrent_initializer="zeros",
        dropout=0.5,
        seed=3,
    )
    if layer_kind == "fast":
        layer = IndRNN(6, return_sequences=True, **kwargs)
    else:
        layer = keras.layers.RNN(IndRNNCell(6, **kwargs), return_sequences=True)
    x = np.ones((4, 5, 6), "float32")
    out = ops.convert_to_numpy(layer(x, training=True))
    np.testing.assert_allclose(out, np.broadcast_to(out[:, :1], out.shape))
    assert set(np.unique(out)) == {0.0, 2.0}
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x, training=False)), np.ones_like(out))


def test_dropout_trains_under_jit():
    x, _, _ = _data(40, batch=8, dim=3)
    model = keras.Sequential(
        [keras.Input((40, 3)), IndRNN(5, dropout=0.3, seed=1), keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.SGD(0.01), "mse", jit_compile=True)
    history = model.fit(x, np.ones((8, 1)), epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


def test_stateful_carries_the_state_between_batches():
    x, _, _ = _data(8, batch=2)
    whole = IndRNN(5, **INITIALIZERS)
    stateful = IndRNN(5, stateful=True, **INITIALIZERS)
    whole.build(x.shape)
    stateful.build((2, 4, 4))
    stateful.set_weights(whole.get_weights())
    stateful(x[:, :4])
    np.testing.assert_allclose(
        ops.convert_to_numpy(stateful(x[:, 4:])),
        ops.convert_to_numpy(whole(x)),
        rtol=1e-5,
        atol=1e-6,
    )
    stateful.reset_state()
    np.testing.assert_allclose(
        ops.convert_to_numpy(stateful(x[:, :4])),
        ops.convert_to_numpy(whole(x[:, :4])),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("method", ["sequential", "parallel"])
def test_mixed_precision(policy, method):
    x, mask, _ = _data(12)
    full = IndRNN(5, method=method, return_sequences=True, **INITIALIZERS)
    full.build(x.shape)
    mixed = IndRNN(5, method=method, return_sequences=True, dtype=policy, **INITIALIZERS)
    mixed.build(x.shape)
    mixed.set_weights(full.get_weights())
    out = mixed(x, mask=mask)
    assert keras.backend.standardize_dtype(out.dtype) == policy.split("_")[1]
    assert mixed.cell.recurrent_kernel.dtype == "float32"
    tolerance = 3e-2 if policy == "mixed_bfloat16" else 5e-3
    np.testing.assert_allclose(
        ops.convert_to_numpy(ops.cast(out, "float32")),
        ops.convert_to_numpy(full(x, mask=mask)),
        rtol=tolerance,
        atol=tolerance,
    )


def test_timesteps_gives_the_papers_initializer_and_bound():
    cell = IndRNNCell(64, timesteps=100, seed=4)
    init = cell.recurrent_initializer
    assert isinstance(init, keras_rnninit.IndRNNRecurrentInitializer)
    assert (init.min_value, init.max_value) == (0.0, 2.0 ** (1 / 100))
    assert isinstance(cell.recurrent_constraint, MagnitudeBound)
    assert (cell.recurrent_constraint.min_abs, cell.recurrent_constraint.max_abs) == (
        0.0,
        2.0 ** (1 / 100),
    )
    last = IndRNNCell(64, timesteps=100, last_layer=True, gamma=5.0)
    assert last.recurrent_initializer.min_value == pytest.approx(0.2 ** (1 / 100))
    assert last.recurrent_constraint.max_abs == pytest.approx(5.0 ** (1 / 100))
    free = IndRNNCell(64)
    assert (free.recurrent_initializer.min_value, free.recurrent_initializer.max_value) == (
        0.0,
        1.0,
    )
    assert free.recurrent_constraint is None
    assert free.recurrent_regularizer is None
    layer = IndRNN(64, timesteps=100, last_layer=True)
    layer.build((2, 100, 3))
    u = ops.convert_to_numpy(layer.cell.recurrent_kernel)
    assert u.shape == (64,)
    assert np.all(u >= 0.5 ** (1 / 100)) and np.all(u <= 2.0 ** (1 / 100))


@pytest.mark.parametrize("method", ["sequential", "parallel"])
def test_bound_holds_after_training_steps(method):
    timesteps = 20
    min_abs, max_abs = keras_rnninit.constraints.indrnn_bounds(timesteps, last_layer=True)
    x, _, _ = _data(timesteps, batch=16, dim=3)
    model = keras.Sequential(
        [
            keras.Input((timesteps, 3)),
            IndRNN(8, timesteps=timesteps, method=method, return_sequences=True),
            IndRNN(8, timesteps=timesteps, last_layer=True, method=method),
            keras.layers.Dense(1),
        ]
    )
    # A huge learning rate pushes u far outside the bounds at every step.
    model.compile(keras.optimizers.SGD(20.0, clipvalue=10.0), "mse", jit_compile=True)
    before = [ops.convert_to_numpy(layer.cell.recurrent_kernel) for layer in model.layers[:2]]
    model.fit(x, np.full((16, 1), 50.0), epochs=3, batch_size=8, verbose=0)
    magnitudes = [
        np.abs(ops.convert_to_numpy(layer.cell.recurrent_kernel)) for layer in model.layers[:2]
    ]
    assert not np.allclose(magnitudes[0], before[0])
    assert np.all(magnitudes[0] <= max_abs + 1e-6)
    assert np.all(magnitudes[1] >= min_abs - 1e-6) and np.all(magnitudes[1] <= max_abs + 1e-6)
    # The projection was active: some weights sit exactly on a bound.
    assert np.any(np.isclose(np.concatenate(magnitudes), max_abs, rtol=0, atol=1e-6)) or np.any(
        np.isclose(magnitudes[1], min_abs, rtol=0, atol=1e-6)
    )


def test_config_round_trip():
    cell = IndRNNCell(
        7,
        activation="relu6",
        timesteps=50,
        last_layer=True,
        gamma=3.0,
        epsilon=0.1,
        dropout=0.2,
        seed=5,
        kernel_regularizer=keras.regularizers.L2(1e-4),
    )
    config = cell.get_config()
    assert config["recurrent_initializer"] is None and config["recurrent_constraint"] is None
    clone = IndRNNCell.from_config(config)
    assert clone.get_config() == config
    assert clone.recurrent_constraint.get_config() == cell.recurrent_constraint.get_config()
    assert clone.recurrent_initializer.get_config() == cell.recurrent_initializer.get_config()

    layer = IndRNN(
        7,
        method="chunked",
        return_sequences=True,
        go_backwards=True,
        timesteps=50,
        recurrent_initializer=keras_rnninit.IndRNNRecurrentInitializer(0.1, 0.9, seed=1),
        recurrent_constraint=MagnitudeBound(0.0, 1.0),
        name="ind",
    )
    config = layer.get_config()
    clone = IndRNN.from_config(config)
    assert clone.get_config() == config
    assert clone.method == "chunked" and clone.go_backwards and clone.name == "ind"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, IndRNN) and restored.get_config() == config


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(units=0), "units=0"),
        (dict(units=-3), "units=-3"),
        (dict(units=2.5), "units=2.5"),
        (dict(units=4, method="fast"), "method='fast'"),
        (dict(units=4, activation="tanh", method="parallel"), "method='parallel'"),
        (dict(units=4, activation="tanh", method="chunked"), "method='chunked'"),
        (dict(units=4, activation="elu", method="sequential"), "method='sequential'"),
        (dict(units=4, method="parallel", unroll=True), "unroll=True"),
        (dict(units=4, last_layer=True), "timesteps"),
        (dict(units=4, gamma=3.0), "timesteps"),
        (dict(units=4, timesteps=0), "timesteps=0"),
        (dict(units=4, timesteps=10, gamma=0.5), "gamma"),
        (dict(units=4, dropout=1.0), "dropout=1.0"),
        (dict(units=4, seed="a"), "seed='a'"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IndRNN(**kwargs)


def test_bad_cell_arguments_raise():
    with pytest.raises(ValueError, match="units=0"):
        IndRNNCell(0)
    with pytest.raises(ValueError, match="dropout=-0.1"):
        IndRNNCell(3, dropout=-0.1)


def test_forced_method_needs_a_static_length():
    with pytest.raises(ValueError, match="timesteps=None"):
        IndRNN(4, method="chunked").resolve_method(None)
    assert IndRNN(4, method="sequential").resolve_method(None) == "sequential"


@pytest.mark.skipif(BACKEND != "tensorflow", reason="only TensorFlow traces unknown dimensions")
@pytest.mark.parametrize("method", ["sequential", "chunked", "parallel"])
def test_unknown_batch_and_length_on_tensorflow(method):
    import tensorflow as tf

    x, _, _ = _data(7)
    layer = IndRNN(5, method=method, return_sequences=True, **INITIALIZERS)
    expected = ops.convert_to_numpy(layer(x))
    # The forced scans need a static length; the sequential loop also runs with an unknown one.
    length = None if method == "sequential" else 7
    run = tf.function(layer, input_signature=[tf.TensorSpec((None, length, 4))], jit_compile=True)
    np.testing.assert_allclose(run(x).numpy(), expected, rtol=1e-5, atol=1e-6)


def _compiled_training_hlo(model, x):
    """The optimized HLO text of the compiled gradient of a loss over every output step."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        def step(x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(model(x)))
            return tape.gradient(loss, model.trainable_variables)

        compiled = tf.function(step, jit_compile=True)
        return compiled.experimental_get_compiler_ir(tf.constant(x))(stage="optimized_hlo")
    if BACKEND == "jax":
        import jax

        non_trainable = [v.value for v in model.non_trainable_variables]

        def loss(trainable, x):
            outputs, _ = model.stateless_call(trainable, non_trainable, x)
            return ops.sum(ops.square(outputs))

        lowered = jax.jit(jax.grad(loss)).lower([v.value for v in model.trainable_variables], x)
        return lowered.compile().as_text()
    pytest.skip(f"no HLO for backend {BACKEND}")


def _while_trip_counts(hlo):
    """Each while loop's trip count: XLA's `known_trip_count` annotation where it wrote one,
    else the int constant its condition compares the counter with."""
    computations = {}
    for block in re.split(r"\n(?=%|ENTRY)", hlo):
        computations[block.split(" ", 1)[0].lstrip("%")] = block

    def constants(name, seen=()):
        block = computations.get(name, "")
        found = [int(c) for c in re.findall(r"s32\[\] constant\((\d+)\)", block)]
        for callee in re.findall(r"calls=%([\w.\-]+)", block):
            if callee not in seen:
                found += constants(callee, seen + (name,))
        return found

    counts = []
    for line in hlo.splitlines():
        if " while(" not in line:
            continue
        known = re.search(r"known_trip_count[^0-9]*(\d+)", line)
        if known:
            counts.append(int(known.group(1)))
        else:
            condition = re.search(r"condition=%([\w.\-]+)", line).group(1)
            counts.append(max(constants(condition), default=None))
    return counts


@pytest.mark.parametrize("method", ["sequential", "chunked"])
def test_compiled_training_step_grows_linearly_in_timesteps(method):
    """DESIGN's promise, checked on the compiled program rather than on a clock: the training
    step of a stack that returns sequences is the same program at every length (nothing is
    unrolled or copied per step), and its loops run T times (sequential) or sqrt(T) times
    (chunked), forward and backward in each layer. The chunked method also compiles the
    sequential loop as its fallback (taken only where a scan would lose precision)."""
    sizes = {}
    for timesteps in (64, 256):
        model = keras.Sequential(
            [
                keras.Input((timesteps, 3), batch_size=4),
                IndRNN(8, timesteps=timesteps, method=method, return_sequences=True),
                IndRNN(8, timesteps=timesteps, method=method, return_sequences=True),
            ]
        )
        x = np.random.default_rng(0).normal(size=(4, timesteps, 3)).astype("float32")
        hlo = _compiled_training_hlo(model, x)
        sizes[timesteps] = sum(1 for line in hlo.splitlines() if " = " in line)
        counts = _while_trip_counts(hlo)
        per_loop = timesteps if method == "sequential" else int(math.ceil(math.sqrt(timesteps)))
        # Forward and backward loops of both layers (chunked: two passes each way).
        assert sum(count == per_loop for count in counts) >= 4, (timesteps, counts)
        assert set(counts) <= {per_loop, timesteps}, (timesteps, counts)
    # A loop unrolled over time, or a per-step copy, would make the program grow with T; the
    # chunked method's scan over the T/C chunk maps has log2(T/C) levels, one more here.
    growth = sizes[256] / sizes[64]
    assert growth <= (1.05 if method == "sequential" else 1.5), sizes
