"""The IndRNN recurrence `h_t = f(a_t + u * h_{t-1})`, forward and backward, written once.

`a_t = x_t W + b` is computed for all steps beforehand (one matmul, outside this module), so what
runs over time is element-wise. Three ways to run it:

- "sequential": one loop of T steps.
- "parallel": for activations that are clips of a line, each step `h -> clip(a + u*h, lo, hi)`
  is a clamp-affine map `(slope, offset, low, high)`; these compose in closed form (see
  `_compose_clamped`), so the states are an associative scan of the step maps (log T depth).
- "chunked" (clip activations too): a C-step loop run for all T/C chunks at once composes each
  chunk's step maps, an associative scan over these chunk maps gives every chunk's start
  state, and a second C-step loop over all chunks computes the states: 2C ~ 2 sqrt(T) loop
  iterations instead of T, for several times more element-wise work.

The backward pass is written by hand (`keras.ops.custom_gradient`) and keeps only the states:
with `D_t = f'(z_t)` (recovered from the state `h_t`, zero at masked steps) and
`J_t = u * D_t` (1 at masked steps, which copy the state),

```
delta_t = g_t + J_{t+1} * delta_{t+1}        (a reverse linear recurrence, delta_{T+1} = 0)
da_t    = delta_t * D_t
du      = sum over t, batch of da_t * h_{t-1}
dh_0    = J_1 * delta_1
```

and the reverse recurrence runs by the same method as the forward pass (`g_t` is the gradient
reaching the state h_t from outside). Autodiff through a loop
would instead make XLA's TensorFlow training time grow as T^2 in stacks returning sequences.
"""

import collections
import math

import keras
from keras import ops

from keras_rnninit.recurrence import _loops

METHODS = ("sequential", "chunked", "parallel")

# How an activation is run: "clip" activations are `clip(scale * z + offset, lo, hi)`
# (infinite bounds mean no clip); "tanh" and "sigmoid" run sequentially only.
ActivationSpec = collections.namedtuple("ActivationSpec", ["kind", "scale", "offset", "lo", "hi"])

_INF = float("inf")


def activation_spec(activation):
    """The `ActivationSpec` of a Keras activation function, or None if no kernel handles it."""
    table = (
        ((keras.activations.relu, keras.ops.relu), ActivationSpec("clip", 1.0, 0.0, 0.0, _INF)),
        ((keras.activations.relu6, keras.ops.relu6), ActivationSpec("clip", 1.0, 0.0, 0.0, 6.0)),
        (
            (keras.activations.hard_tanh, keras.ops.hard_tanh),
            ActivationSpec("clip", 1.0, 0.0, -1.0, 1.0),
        ),
        (
            (keras.activations.hard_sigmoid, keras.ops.hard_sigmoid),
            ActivationSpec("clip", 1.0 / 6.0, 0.5, 0.0, 1.0),
        ),
        ((keras.activations.linear,), ActivationSpec("clip", 1.0, 0.0, -_INF, _INF)),
        ((keras.activations.tanh, keras.ops.tanh), ActivationSpec("tanh", 1.0, 0.0, -1.0, 1.0)),
        (
            (keras.activations.sigmoid, keras.ops.sigmoid),
            ActivationSpec("sigmoid", 1.0, 0.0, 0.0, 1.0),
        ),
    )
    if activation is None:
        return table[4][1]
    for functions, spec in table:
        if any(activation is f for f in functions):
            return spec
    return None


def supported_methods(spec):
    """The methods that can run an activation with this spec (empty for None)."""
    if spec is None:
        return ()
    if spec.kind == "clip":
        return METHODS
    return ("sequential",)


def select_method(spec, timesteps, device=None):
    """The "auto" rule: which method runs an activation for sequences of `timesteps` steps.

    - an activation no kernel handles: None (the layer then loops over the cell);
    - tanh, sigmoid, or an unknown (dynamic) length: "sequential";
    - on a CPU: "sequential". Measured on a 2-core CPU (B=32, H=128, T=1000, XLA): the loop's
      per-step overhead is small next to the element-wise work, and the chunked and parallel
      scans do several times more of that work (chunked 3-8x, parallel 15-30x slower there);
    - on any other device (GPU, TPU), T >= 32: "parallel" (log T depth instead of T dependent
      steps; not measured in this project, as no accelerator was at hand).
    """
    if spec is None:
        return None
    if spec.kind != "clip" or timesteps is None or timesteps < 32:
        return "sequential"
    if device is None:
        device = _loops.device_kind()
    return "sequential" if device == "cpu" else "parallel"


def default_chunk_size(timesteps):
    """C = ceil(sqrt(T)): C loop iterations, then a scan over about sqrt(T) chunk summaries."""
    return max(1, int(math.ceil(math.sqrt(timesteps))))


def compute_states(
    inputs,
    recurrent_kernel,
    initial_state,
    mask=None,
    activation=keras.activations.relu,
    method="sequential",
    chunk_size=None,
):
    """All states of `h_t = activation(a_t + u * h_{t-1})`, masked steps keeping the state.

    Args:
        inputs: `a`, the input projections, shape `(T, batch, units)` (time-major).
        recurrent_kernel: `u`, shape `(units,)`.
        initial_state: `h_0`, shape `(batch, units)`.
        mask: None or a boolean tensor `(T, batch)`; where False the step keeps the state.
        activation: A Keras activation `activation_spec` knows. Defaults to relu.
        method: One of "sequential", "chunked", "parallel" (no "auto" here). Defaults to
            "sequential".
        chunk_size: Steps per chunk for "chunked"; None gives ceil(sqrt(T)).

    Returns:
        The states `h_1 .. h_T`, shape `(T, batch, units)`, in the dtype of `inputs`.
        Differentiable w.r.t. `inputs`, `recurrent_kernel` and `initial_state` by a hand-written
        backward pass. float16 and bfloat16 inputs are computed in float32.
    """
    spec = activation_spec(activation)
    if spec is None:
        raise ValueError(
            "The IndRNN recurrence handles relu, relu6, hard_tanh, hard_sigmoid, linear, tanh and "
            f"sigmoid. Received: activation={activation!r}"
        )
    if method not in supported_methods(spec):
        raise ValueError(
            f"method={method!r} cannot run activation {spec.kind!r}; it supports "
            f"{supported_methods(spec)}. Received: method={method!r}"
        )
    if method != "sequential" and inputs.shape[0] is None:
        raise ValueError(
            f"method={method!r} needs a static number of timesteps. Received: inputs with "
            f"shape={tuple(inputs.shape)}"
        )
    dtype = keras.backend.standardize_dtype(inputs.dtype)
    compute_dtype = "float64" if dtype == "float64" else "float32"
    a = ops.cast(inputs, compute_dtype)
    u = ops.cast(recurrent_kernel, compute_dtype)
    h0 = ops.cast(initial_state, compute_dtype)
    # clip(scale * (a + u*h) + offset) = clip(a' + u'*h): fold the affine part into the inputs
    # (outside the custom gradient, so autodiff carries it).
    if spec.scale != 1.0:
        a = a * spec.scale
        u = u * spec.scale
    if spec.offset != 0.0:
        a = a + spec.offset
    if chunk_size is None and method == "chunked":
        chunk_size = default_chunk_size(inputs.shape[0])
    kernel = _make_kernel(spec, method, chunk_size, mask is not None)
    if mask is None:
        states = kernel(a, u, h0)
    else:
        step_mask = ops.cast(ops.expand_dims(mask, -1), compute_dtype)
        states = kernel(a, u, h0, step_mask)
    return ops.cast(states, dtype)


def _scan_is_exact(values, u, h0=None):
    """Whether a chunked or parallel run of a recurrence with slopes bounded by max|u| and
    offsets `values` agrees with the sequential loop (a boolean scalar tensor).

    The closed-form compositions hold products of up to T slopes and sums of up to T offsets
    weighted by them. With s = max(1, max|u|), every such number is at most
    `B = (1 + max|h0| + T * max|values|) * s^T`, and a rounding error made in one is amplified
    by up to s^T. So the scan is run only where
    - s^T <= 1e-4 / eps (rounding errors, amplified, stay below 1e-4 relative), and
    - B stays 4x below the dtype's largest number (no inf, so no inf * 0 or inf - inf).
    Elsewhere, e.g. u = 1.6 at T = 200, the composed slope u^T leaves float32's range while the
    states may stay finite (or even zero); the sequential loop is then run instead. NaN in any
    input also selects the loop, which propagates it as the reference does.
    """
    dtype = keras.backend.standardize_dtype(values.dtype)
    info = _finfo(dtype)
    length = values.shape[0]
    slope = ops.maximum(ops.max(ops.abs(u)), ops.cast(1.0, dtype))
    growth = length * ops.log(slope)
    size = 1.0 + length * ops.max(ops.abs(values))
    if h0 is not None:
        size = size + ops.max(ops.abs(h0))
    bound = growth + ops.log(size)
    return ops.logical_and(
        ops.less_equal(growth, math.log(1e-4 / info[0])),
        ops.less(bound, math.log(info[1] / 4.0)),
    )


def _finfo(dtype):
    """(eps, max) of a float dtype, without NumPy's dtype objects in the graph."""
    if dtype == "float64":
        return 2.0**-52, 1.7976931348623157e308
    return 2.0**-23, 3.4028234663852886e38


def _make_kernel(spec, method, chunk_size, masked):
    def forward(a, u, h0, step_mask):
        if method == "sequential":
            return _forward_sequential(spec, a, u, h0, step_mask)

        def scan():
            if method == "chunked":
                return _forward_chunked(spec, a, u, h0, step_mask, chunk_size)
            prefix = _loops.associative_scan(_compose_clamped, _step_maps(spec, a, u, step_mask))
            return _apply_clamped(prefix, ops.expand_dims(h0, 0))

        return ops.cond(
            _scan_is_exact(a, u, h0), scan, lambda: _forward_sequential(spec, a, u, h0, step_mask)
        )

    def backward(states, upstream, u, h0, step_mask):
        # du = sum over t, batch of da_t * h_{t-1}, with h_0 the initial state; `later` is
        # the part t >= 2, which pairs the states with themselves shifted by one step.
        if method == "sequential":
            d_inputs, d_initial, later = _backward_sequential(spec, states, upstream, u, step_mask)
        else:
            # The reverse recurrence's slopes J are bounded by max(1, max|u|) too.
            d_inputs, d_initial, later = ops.cond(
                _scan_is_exact(upstream, u),
                lambda: scan_backward(states, upstream, u, step_mask),
                lambda: _backward_sequential(spec, states, upstream, u, step_mask),
            )
        d_recurrent = later + ops.sum(d_inputs[0] * h0, axis=0)
        return d_inputs, d_recurrent, d_initial

    def scan_backward(states, upstream, u, step_mask):
        derivative = _derivative(spec, states)
        if step_mask is not None:
            derivative = derivative * step_mask
        jacobian = u * derivative
        if step_mask is not None:
            jacobian = jacobian + (1 - step_mask)
        # delta_t = g_t + J_{t+1} * delta_{t+1}: J shifted one step earlier, 0 at the end.
        next_jacobian = ops.concatenate([jacobian[1:], ops.zeros_like(jacobian[:1])], 0)
        if method == "chunked":
            delta = _reverse_linear_chunked(next_jacobian, upstream, chunk_size)
        else:
            delta = _reverse_linear_parallel(next_jacobian, upstream)
        d_inputs = delta * derivative
        d_initial = jacobian[0] * delta[0]
        return d_inputs, d_initial, ops.sum(d_inputs[1:] * states[:-1], axis=(0, 1))

    def _upstream(args, upstream):
        # TF and JAX pass the output gradient positionally; torch passes `upstream=`.
        return args[-1] if upstream is None else upstream

    if keras.backend.backend() == "numpy":
        # The NumPy backend has no gradients (its custom_gradient only warns): forward only.
        return lambda a, u, h0, step_mask=None: forward(a, u, h0, step_mask)

    if masked:

        @ops.custom_gradient
        def kernel(a, u, h0, step_mask):
            states = forward(a, u, h0, step_mask)

            def grad(*args, upstream=None):
                d = backward(states, _upstream(args, upstream), u, h0, step_mask)
                return (*d, ops.zeros_like(step_mask))

            return states, grad

    else:

        @ops.custom_gradient
        def kernel(a, u, h0):
            states = forward(a, u, h0, None)

            def grad(*args, upstream=None):
                return backward(states, _upstream(args, upstream), u, h0, None)

            return states, grad

    return kernel


def _activate(spec, z):
    if spec.kind == "tanh":
        return ops.tanh(z)
    if spec.kind == "sigmoid":
        return ops.sigmoid(z)
    return _clip(z, spec.lo, spec.hi)


def _clip(z, lo, hi):
    if lo != -_INF:
        z = ops.maximum(z, lo)
    if hi != _INF:
        z = ops.minimum(z, hi)
    return z


def _derivative(spec, states):
    """f'(z_t) from h_t = f(z_t): exact for these activations, so z is never stored."""
    if spec.kind == "tanh":
        return 1 - ops.square(states)
    if spec.kind == "sigmoid":
        return states * (1 - states)
    inside = None
    if spec.lo != -_INF:
        inside = ops.greater(states, spec.lo)
    if spec.hi != _INF:
        below = ops.less(states, spec.hi)
        inside = below if inside is None else ops.logical_and(inside, below)
    if inside is None:
        return ops.ones_like(states)
    return ops.cast(inside, states.dtype)


# Sequential: one loop over T.


def _forward_sequential(spec, a, u, h0, step_mask):
    def step(carry, x):
        new = _activate(spec, x[0] + u * carry[0])
        if len(x) > 1:
            new = ops.where(x[1] > 0, new, carry[0])
        return (new,), (new,)

    _, (states,) = _loops.scan(step, (h0,), (a,) if step_mask is None else (a, step_mask))
    return states


def _backward_sequential(spec, states, upstream, u, step_mask):
    """`(da, dh_0, sum over t >= 2 and the batch of da_t * h_{t-1})` in one reverse loop."""

    # The carry is (J_{t+1} * delta_{t+1}, da_{t+1}, the du sum so far per batch row), the
    # output da_t. Step t meets h_t (its input) while it still holds da_{t+1}, so it adds their
    # product: du needs no shifted copy of the states, and no (T, batch, units) product is
    # stored to be reduced afterwards (both were copies as large as the states, measured as
    # the layer's costliest memory traffic outside the loops on a CPU).
    def step(carry, x):
        carried, later_input, partial = carry
        partial = partial + later_input * x[0]
        delta = x[1] + carried
        derivative = _derivative(spec, x[0])
        if len(x) > 2:
            derivative = derivative * x[2]
        d_input = delta * derivative
        carried = u * d_input
        if len(x) > 2:
            carried = carried + (1 - x[2]) * delta
        return (carried, d_input, partial), (d_input,)

    xs = (states, upstream) if step_mask is None else (states, upstream, step_mask)
    zeros = ops.zeros_like(upstream[0])
    (d_initial, _, partial), (d_inputs,) = _loops.scan(
        step, (zeros, zeros, zeros), xs, reverse=True
    )
    return d_inputs, d_initial, ops.sum(partial, axis=0)


# Clamp-affine maps h -> clip(slope*h + offset, low, high), stored as tuples
# (slope, offset, low, high) of tensors.

_CLAMPED_IDENTITY = (1.0, 0.0, -_INF, _INF)
_LINEAR_IDENTITY = (1.0, 0.0)


def _step_maps(spec, a, u, step_mask):
    slope = ops.broadcast_to(u, ops.shape(a))
    lo = ops.full_like(a, spec.lo)
    hi = ops.full_like(a, spec.hi)
    if step_mask is None:
        return slope, a, lo, hi
    # A masked step is the identity map: slope 1, offset 0, no clip (the state may lie outside
    # [lo, hi], e.g. a user's negative initial state under relu).
    keep = step_mask > 0
    return (
        ops.where(keep, slope, ops.ones_like(a)),
        ops.where(keep, a, ops.zeros_like(a)),
        ops.where(keep, lo, ops.full_like(a, -_INF)),
        ops.where(keep, hi, ops.full_like(a, _INF)),
    )


def _image(slope, offset, low, high):
    """The sorted image [image_low, image_high] of [low, high] under h -> slope*h + offset
    (just offset when slope == 0, where slope * inf would be nan)."""
    flat = ops.equal(slope, 0)
    at_low = offset + slope * ops.where(flat, 0.0, low)
    at_high = offset + slope * ops.where(flat, 0.0, high)
    return ops.minimum(at_low, at_high), ops.maximum(at_low, at_high)


def _compose_clamped(first, second):
    """The map `second(first(h))`, in closed form (checked for slopes of either sign)."""
    slope1, offset1, low1, high1 = first
    slope2, offset2, low2, high2 = second
    image_low, image_high = _image(slope2, offset2, low1, high1)
    return (
        slope2 * slope1,
        offset2 + slope2 * offset1,
        ops.maximum(low2, ops.minimum(image_low, high2)),
        ops.minimum(high2, ops.maximum(image_high, low2)),
    )


def _apply_clamped(maps, h):
    slope, offset, low, high = maps
    return ops.minimum(ops.maximum(slope * h + offset, low), high)


def _compose_linear(first, second):
    slope1, offset1 = first
    slope2, offset2 = second
    return slope2 * slope1, offset2 + slope2 * offset1


def _apply_linear(maps, h):
    return maps[0] * h + maps[1]


# Parallel: associative scans over all T steps.


def _reverse_linear_parallel(slopes, offsets):
    """delta_t = offsets_t + slopes_t * delta_{t+1} for t = T-1 .. 0, with delta_T = 0."""
    # Flip time so the reverse recurrence becomes a forward one from 0, whose value is the
    # offset part of the composed map.
    maps = (ops.flip(slopes, 0), ops.flip(offsets, 0))
    return ops.flip(_loops.associative_scan(_compose_linear, maps)[1], 0)


# Chunked: loops over the C positions of a chunk, run for all chunks at once.


def _to_chunks(x, chunk_size):
    """(T, batch, units) -> (C, n, batch, units), zero-padding T up to n*C; element [c, k] is
    step k*C + c."""
    length, units = x.shape[0], x.shape[-1]
    chunks = -(-length // chunk_size)
    pad = chunks * chunk_size - length
    if pad:
        # pad < chunk_size <= length, so x[:pad] exists; it carries a dynamic batch size.
        x = ops.concatenate([x, ops.zeros_like(x[:pad])], axis=0)
    x = ops.reshape(x, (chunks, chunk_size, -1, units))
    return ops.swapaxes(x, 0, 1)


def _from_chunks(x, length):
    """(C, n, batch, units) -> (T, batch, units), the inverse of `_to_chunks`."""
    chunk_size, chunks, units = x.shape[0], x.shape[1], x.shape[-1]
    x = ops.reshape(ops.swapaxes(x, 0, 1), (chunks * chunk_size, -1, units))
    return x[:length]


def _chunked(xs, h0, chunk_size, compose_step, apply_step, compose, apply, identity, reverse):
    """States of a recurrence `h <- apply_step(h, x_t)` in chunks of C steps.

    1. A C-step loop over all n chunks at once composes each chunk's step maps (`compose_step`
       folds step t's map, given by its data x_t, into the carried map; nothing is stacked).
    2. An associative scan over the n chunk maps gives every chunk's start state.
    3. A second C-step loop over all chunks runs the recurrence from those start states.

    Zero padding of the last chunk is harmless: forward, the padded steps come after every
    real one; in reverse, a padded step's data (0, 0) maps a zero start state to zero.
    """
    length = xs[0].shape[0]
    chunk_size = max(1, min(chunk_size, length))
    chunked = tuple(_to_chunks(x, chunk_size) for x in xs)
    start = tuple(ops.full_like(chunked[0][0], v) for v in identity)
    summaries, _ = _loops.scan(
        lambda carry, x: (compose_step(carry, x), ()), start, chunked, reverse=reverse
    )
    if reverse:
        # Chunk k's state enters from chunk k+1: compose the chunk maps from the last one.
        composed = _loops.associative_scan(compose, tuple(ops.flip(s, 0) for s in summaries))
        ends = ops.flip(apply(composed, ops.expand_dims(h0, 0)), 0)
        starts = ops.concatenate([ends[1:], ops.expand_dims(h0, 0)], axis=0)
    else:
        composed = _loops.associative_scan(compose, summaries)
        ends = apply(composed, ops.expand_dims(h0, 0))
        starts = ops.concatenate([ops.expand_dims(h0, 0), ends[:-1]], axis=0)

    def step(carry, x):
        new = apply_step(carry[0], x)
        return (new,), (new,)

    _, (states,) = _loops.scan(step, (starts,), chunked, reverse=reverse)
    return _from_chunks(states, length)


def _forward_chunked(spec, a, u, h0, step_mask, chunk_size):
    lo, hi = spec.lo, spec.hi

    def compose_step(carry, x):
        # carry then the step h -> clip(a_t + u*h, lo, hi), without materialising the step map.
        slope, offset, low, high = carry
        image_low, image_high = _image(u, x[0], low, high)
        composed = (
            u * slope,
            x[0] + u * offset,
            _clip(image_low, lo, hi),
            _clip(image_high, lo, hi),
        )
        if len(x) > 1:
            keep = x[1] > 0
            composed = tuple(ops.where(keep, c, p) for c, p in zip(composed, carry))
        return composed

    def apply_step(h, x):
        new = _clip(x[0] + u * h, lo, hi)
        return new if len(x) == 1 else ops.where(x[1] > 0, new, h)

    xs = (a,) if step_mask is None else (a, step_mask)
    return _chunked(
        xs,
        h0,
        chunk_size,
        compose_step,
        apply_step,
        _compose_clamped,
        _apply_clamped,
        _CLAMPED_IDENTITY,
        reverse=False,
    )


def _reverse_linear_chunked(slopes, offsets, chunk_size):
    """delta_t = offsets_t + slopes_t * delta_{t+1} for t = T-1 .. 0, with delta_T = 0."""

    def compose_step(carry, x):
        return x[0] * carry[0], x[1] + x[0] * carry[1]

    def apply_step(h, x):
        return x[1] + x[0] * h

    return _chunked(
        (slopes, offsets),
        ops.zeros_like(offsets[0]),
        chunk_size,
        compose_step,
        apply_step,
        _compose_linear,
        _apply_linear,
        _LINEAR_IDENTITY,
        reverse=True,
    )
