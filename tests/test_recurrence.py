"""keras_rnninit.recurrence, the IndRNN recurrence: forward against NumPy, hand-written backward
against autodiff and finite differences, the clamp-affine composition, the "auto" rule."""

import itertools

import keras
import numpy as np
import pytest
from helpers import value_and_gradients
from keras import ops

from keras_rnninit import recurrence
from keras_rnninit.recurrence import indrnn as recurrence_math

BACKEND = keras.backend.backend()
ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "relu6": lambda z: np.clip(z, 0.0, 6.0),
    "hard_tanh": lambda z: np.clip(z, -1.0, 1.0),
    "hard_sigmoid": lambda z: np.clip(z / 6.0 + 0.5, 0.0, 1.0),
    "linear": lambda z: z,
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
}
CLIP = ("relu", "relu6", "hard_tanh", "hard_sigmoid", "linear")


def _problem(timesteps=9, batch=3, units=4, seed=0, masked=True, dtype="float32"):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(timesteps, batch, units)) * 2.0
    # Slopes of both signs and near 1: the case the composition must get right.
    u = rng.uniform(-1.2, 1.2, size=(units,))
    h0 = rng.normal(size=(batch, units))
    mask = rng.uniform(size=(timesteps, batch)) > 0.3 if masked else None
    return a.astype(dtype), u.astype(dtype), h0.astype(dtype), mask


def _numpy_states(a, u, h0, mask, activation):
    f = ACTIVATIONS[activation]
    h = h0.astype(np.float64)
    states = []
    for t in range(a.shape[0]):
        new = f(a[t] + u * h)
        if mask is not None:
            new = np.where(mask[t][:, None], new, h)
        h = new
        states.append(h)
    return np.stack(states)


def _run(a, u, h0, mask, activation, method, chunk_size=None):
    return recurrence.compute_states(
        ops.convert_to_tensor(a),
        ops.convert_to_tensor(u),
        ops.convert_to_tensor(h0),
        None if mask is None else ops.convert_to_tensor(mask),
        activation=keras.activations.get(activation),
        method=method,
        chunk_size=chunk_size,
    )


def _value_and_grads(fn, args, jit):
    """fn(*args) -> scalar; returns (value, [d fn / d arg]) on the current backend."""
    value, _, grads, _ = value_and_gradients(lambda args: (fn(*args), ()), args, jit=jit)
    return ops.convert_to_numpy(value), [ops.convert_to_numpy(g) for g in grads]


def _reference_states(a, u, h0, mask, activation):
    """The recurrence as plain Keras ops, unrolled in Python: autodiff gives its gradient."""
    f = keras.activations.get(activation)
    h, states = h0, []
    for t in range(a.shape[0]):
        new = f(a[t] + u * h)
        if mask is not None:
            new = ops.where(ops.expand_dims(mask[t], -1), new, h)
        h = new
        states.append(h)
    return ops.stack(states)


JIT = [True, False] if BACKEND == "tensorflow" else [True]


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_forward_matches_numpy(activation, masked):
    a, u, h0, mask = _problem(masked=masked)
    expected = _numpy_states(a, u, h0, mask, activation)
    for method in recurrence.supported_methods(
        recurrence.activation_spec(keras.activations.get(activation))
    ):
        # chunk_size 4 does not divide T = 9: the last chunk is padded.
        states = _run(a, u, h0, mask, activation, method, chunk_size=4)
        np.testing.assert_allclose(
            ops.convert_to_numpy(states), expected, rtol=1e-5, atol=1e-5, err_msg=method
        )


@pytest.mark.parametrize("jit", JIT)
@pytest.mark.parametrize(
    "activation,method,masked,timesteps",
    [
        ("relu", "sequential", True, 9),
        ("relu", "chunked", True, 9),
        ("relu", "parallel", True, 9),
        ("relu", "chunked", False, 1),
        ("relu", "parallel", False, 1),
        ("hard_tanh", "chunked", False, 10),
        ("hard_sigmoid", "parallel", True, 7),
        ("linear", "chunked", True, 5),
        ("tanh", "sequential", True, 9),
        ("sigmoid", "sequential", False, 4),
    ],
)
def test_gradient_matches_autodiff(activation, method, masked, timesteps, jit):
    a, u, h0, mask = _problem(timesteps=timesteps, masked=masked, seed=timesteps)
    weights = np.random.default_rng(1).normal(size=a.shape).astype("float32")
    m = None if mask is None else ops.convert_to_tensor(mask)
    w = ops.convert_to_tensor(weights)

    def kernel_loss(a, u, h0):
        states = recurrence.compute_states(
            a, u, h0, m, activation=keras.activations.get(activation), method=method, chunk_size=3
        )
        # Weight every state and the last one again: gradients reach both the sequence and
        # the final state, as in a layer returning sequences and state.
        return ops.sum(states * w) + ops.sum(states[-1] * w[0])

    def reference_loss(a, u, h0):
        states = _reference_states(a, u, h0, m, activation)
        return ops.sum(states * w) + ops.sum(states[-1] * w[0])

    value, grads = _value_and_grads(kernel_loss, (a, u, h0), jit)
    expected_value, expected = _value_and_grads(reference_loss, (a, u, h0), jit)
    np.testing.assert_allclose(value, expected_value, rtol=1e-5)
    for name, got, want in zip(("inputs", "recurrent_kernel", "initial_state"), grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)


def _numpy_loss(a, u, h0, mask, activation, weights):
    return float(np.sum(_numpy_states(a, u, h0, mask, activation) * weights))


@pytest.mark.parametrize(
    "activation,method",
    [
        ("relu", "sequential"),
        ("relu", "parallel"),
        ("hard_tanh", "chunked"),
        ("tanh", "sequential"),
    ],
)
def test_gradient_matches_finite_differences(activation, method):
    """Central differences of a float64 NumPy recurrence; the kernel runs in float64 where the
    backend has it (TensorFlow) and in float32 otherwise (JAX without x64)."""
    dtype = "float64" if BACKEND == "tensorflow" else "float32"
    tolerance = 1e-7 if dtype == "float64" else 2e-4
    a, u, h0, mask = _problem(timesteps=6, batch=2, units=3, seed=3, dtype="float64")
    weights = np.random.default_rng(2).normal(size=a.shape)
    m = ops.convert_to_tensor(mask)
    w = ops.convert_to_tensor(weights.astype(dtype))

    def loss(a_, u_, h0_):
        states = recurrence.compute_states(
            a_,
            u_,
            h0_,
            m,
            activation=keras.activations.get(activation),
            method=method,
            chunk_size=4,
        )
        return ops.sum(states * w)

    _, grads = _value_and_grads(
        loss, (a.astype(dtype), u.astype(dtype), h0.astype(dtype)), jit=False
    )
    step = 1e-6
    for index, (arg, grad) in enumerate(zip((a, u, h0), grads)):
        numeric = np.zeros_like(arg)
        for position in itertools.product(*map(range, arg.shape)):
            shifted = [x.copy() for x in (a, u, h0)]
            shifted[index][position] += step
            up = _numpy_loss(*shifted, mask, activation, weights)
            shifted[index][position] -= 2 * step
            down = _numpy_loss(*shifted, mask, activation, weights)
            numeric[position] = (up - down) / (2 * step)
        np.testing.assert_allclose(grad, numeric, rtol=tolerance, atol=tolerance)


def test_masked_step_keeps_an_out_of_range_state():
    """A masked first step keeps a negative initial state under relu (no clip applied)."""
    a, u, h0, _ = _problem(timesteps=5, masked=False)
    h0 = -np.abs(h0) - 1.0
    mask = np.ones((5, a.shape[1]), bool)
    mask[:2] = False
    for method in recurrence.METHODS:
        states = ops.convert_to_numpy(_run(a, u, h0, mask, "relu", method, chunk_size=2))
        np.testing.assert_allclose(states[0], h0, rtol=0, atol=0, err_msg=method)
        np.testing.assert_allclose(states[1], h0, rtol=0, atol=0, err_msg=method)
        assert np.all(states[2:] >= 0), method


def _apply_numpy(maps, h):
    m, d, lo, hi = maps
    return np.minimum(np.maximum(m * h + d, lo), hi)


def test_clamp_affine_composition_is_exact_and_associative():
    rng = np.random.default_rng(5)
    n = 2000

    def random_maps():
        lo = rng.uniform(-2, 1, n)
        hi = lo + rng.uniform(0, 3, n)
        lo[rng.uniform(size=n) < 0.2] = -np.inf
        hi[rng.uniform(size=n) < 0.2] = np.inf
        slope = rng.uniform(-2, 2, n)
        slope[rng.uniform(size=n) < 0.05] = 0.0
        return slope, rng.normal(size=n), lo, hi

    f, g, k = random_maps(), random_maps(), random_maps()
    h = rng.normal(size=n) * 3
    # float32 on every backend (JAX has no float64 by default); exact maths would give 0.
    f, g, k = (tuple(v.astype("float32") for v in x) for x in (f, g, k))

    def compose(p, q):
        composed = recurrence_math._compose_clamped(p, q)
        return tuple(ops.convert_to_numpy(v).astype(np.float64) for v in composed)

    close = dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        _apply_numpy(compose(f, g), h), _apply_numpy(g, _apply_numpy(f, h)), **close
    )
    left = compose(compose(f, g), k)
    right = compose(f, compose(g, k))
    np.testing.assert_allclose(_apply_numpy(left, h), _apply_numpy(right, h), **close)
    np.testing.assert_allclose(
        _apply_numpy(left, h), _apply_numpy(k, _apply_numpy(g, _apply_numpy(f, h))), **close
    )


# Extreme slopes: |u|^T past float32's range. The closed-form compositions hold u^T itself, so
# before the guard chunked and parallel gave inf * 0 and inf - inf (NaN) where the loop was finite.


_RUNNERS = {}


def _states_and_grads(a, u, h0, mask, activation, method, weights):
    """The states and the gradients of sum(w * finite states) w.r.t. (a, u, h0), in a graph.

    One traced function per (activation, method) serves every case of the same shapes, so the
    property test below compiles a handful of graphs, not one per case. (No XLA on TensorFlow:
    its compile time would dominate; the guard's `cond` under XLA is covered by the layer tests.)
    """
    mask = np.ones(a.shape[:2], bool) if mask is None else mask
    key = (activation, method)
    if key not in _RUNNERS:

        def states_of(a_, u_, h0_, m_):
            return recurrence.compute_states(
                a_, u_, h0_, m_, activation=keras.activations.get(activation), method=method
            )

        def loss(states, w):
            # A finite loss wherever the states are: overflowed states are left out of it.
            return ops.sum(ops.where(ops.isinf(states), 0.0, states) * w)

        if BACKEND == "tensorflow":
            import tensorflow as tf

            @tf.function
            def run(a_, u_, h0_, m_, w):
                with tf.GradientTape() as tape:
                    tape.watch([a_, u_, h0_])
                    states = states_of(a_, u_, h0_, m_)
                    value = loss(states, w)
                return states, tape.gradient(value, [a_, u_, h0_])

        elif BACKEND == "jax":
            import jax

            @jax.jit
            def run(a_, u_, h0_, m_, w):
                states, pullback = jax.vjp(lambda *x: states_of(*x, m_), a_, u_, h0_)
                return states, pullback(jax.grad(loss)(states, w))

        else:
            pytest.skip(f"no gradient helper for backend {BACKEND}")
        _RUNNERS[key] = run
    states, grads = _RUNNERS[key](*(ops.convert_to_tensor(x) for x in (a, u, h0, mask, weights)))
    return ops.convert_to_numpy(states), [ops.convert_to_numpy(g) for g in grads]


def _assert_agrees_with_sequential(got, want, what):
    """Equal wherever `want` is finite (to a tolerance relative to its scale); NaN exactly where
    it is NaN; +-inf only where it is the same inf."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    finite = np.isfinite(want)
    assert np.all(np.isfinite(got[finite])), f"{what}: non-finite where sequential is finite"
    np.testing.assert_array_equal(got[~finite], want[~finite], err_msg=what)
    if finite.any():
        scale = 1.0 + np.max(np.abs(want[finite]))
        np.testing.assert_allclose(
            got[finite], want[finite], rtol=1e-3, atol=1e-3 * scale, err_msg=what
        )


def _case_length(activation):
    """The one length per activation that the scan tests below share: on JAX each new shape is a
    new compile of every method, which was most of these tests' time. T = 2000 for ReLU,
    IndRNN's activation, and T = 300 (17 chunks of 18 steps) for the clipping activations."""
    return 2000 if activation == "relu" else 300


def _scans_case(activation, *values):
    """A parameter set of the scan tests below, on the one worker that runs `activation`'s cases,
    so that its compiled runners (one length per activation) are shared; one group per
    activation, not one for all, so that the two workers share the groups."""
    return pytest.param(
        activation, *values, marks=pytest.mark.xdist_group(f"recurrence_scans_{activation}")
    )


@pytest.mark.parametrize(
    "activation,slope,timesteps",
    [
        _scans_case("relu", 1.6, 200),
        _scans_case("relu", 1.1, 1000),
        _scans_case("relu", -2.0, 200),
        _scans_case("hard_tanh", 1.6, 200),
        _scans_case("relu6", -2.0, 300),
    ],
)
def test_issue_9_reproducers_agree_with_sequential(activation, slope, timesteps):
    """Issue 9, item 1: a = 0, h0 = 0 keeps every state at 0, yet u^T overflowed to inf and
    chunked / parallel gave NaN states and gradients.

    The reported case ran `timesteps` steps with a drive half way. Here it runs in the shared
    length: the zeros go on for longer (so u^t overflows sooner in the scans) and the drive
    comes `timesteps - timesteps // 2` steps before the end, so the states after it are the
    reported run's, finite."""
    length = _case_length(activation)
    a = np.zeros((length, 2, 4), "float32")
    a[length - (timesteps - timesteps // 2)] = 0.5
    u = np.full(4, slope, "float32")
    h0 = np.zeros((2, 4), "float32")
    weights = np.ones(a.shape, "float32")
    want_states, want_grads = _states_and_grads(a, u, h0, None, activation, "sequential", weights)
    assert np.all(np.isfinite(want_states)) and np.any(want_states != 0)
    for method in ("chunked", "parallel"):
        states, grads = _states_and_grads(a, u, h0, None, activation, method, weights)
        _assert_agrees_with_sequential(states, want_states, f"{method} states")
        for name, got, want in zip(
            ("inputs", "recurrent_kernel", "initial_state"), grads, want_grads
        ):
            _assert_agrees_with_sequential(got, want, f"{method} d/d{name}")


def _extreme_cases(activation):
    """Random (a, u, h0, mask): u drawn from [-3, 3] (the composed slopes leave float32's range),
    and u scaled so that max|u|^T = e^c, c in [-1, 7], just inside or just outside the scans'
    bound, so both the scans and the fallback loop are exercised.

    One length per activation (`_case_length`), so that each method compiles once per
    activation; c and the overflow of 3^T do not depend on T."""
    rng = np.random.default_rng(sum(map(ord, activation)))
    timesteps = _case_length(activation)
    for wide in (True, False, True, False, True, False):
        units = 4
        u = rng.uniform(-3, 3, units)
        if not wide:
            u = u / np.max(np.abs(u)) * np.exp(rng.uniform(-1, 7) / timesteps)
        a = rng.normal(size=(timesteps, 2, units)) * rng.choice([0.1, 1.0, 10.0])
        h0 = rng.normal(size=(2, units))
        mask = rng.uniform(size=(timesteps, 2)) > 0.2 if rng.uniform() < 0.5 else None
        yield tuple(x.astype("float32") for x in (a, u, h0)) + (mask,)


@pytest.mark.parametrize("activation", [_scans_case(activation) for activation in CLIP])
def test_every_method_agrees_with_sequential_on_extreme_slopes(activation):
    """Property: wherever `sequential` is finite, chunked and parallel give the same states and
    gradients; an overflow (inf) only where sequential overflows too."""
    for case, (a, u, h0, mask) in enumerate(_extreme_cases(activation)):
        weights = np.random.default_rng(case).normal(size=a.shape).astype("float32")
        want_states, want_grads = _states_and_grads(
            a, u, h0, mask, activation, "sequential", weights
        )
        for method in ("chunked", "parallel"):
            what = f"case {case} (T={a.shape[0]}, u={u}) {method}"
            states, grads = _states_and_grads(a, u, h0, mask, activation, method, weights)
            _assert_agrees_with_sequential(states, want_states, f"{what} states")
            for name, got, want in zip(
                ("inputs", "recurrent_kernel", "initial_state"), grads, want_grads
            ):
                _assert_agrees_with_sequential(got, want, f"{what} d/d{name}")
