"""The two loop primitives the recurrence needs, one implementation per backend.

The recurrence's only backend imports: the rest of `keras_rnninit.recurrence` is written
in `keras.ops` and calls `scan` and `associative_scan` below. (Outside the recurrence, the
tf.data pipelines of `keras_rnninit.tasks` use TensorFlow, the benchmark's subprocesses and
torch rungs their own frameworks, and `NPInitializer` and `GradientFlowMonitor` compile one
program per backend.)

Why not `keras.ops.scan` / `keras.ops.associative_scan`: under `jit_compile=True` on TensorFlow
they do not compile (measured with Keras 3.15 / TF 2.21: "XLA compilation requires a fixed tensor
list size", "Cannot concatenate arrays ..."). `tf.while_loop` with `maximum_iterations` and
fixed-size TensorArrays compiles, and JAX has `lax.scan` / `lax.associative_scan`.
"""

import keras
from keras import ops


def _backend():
    return keras.backend.backend()


def device_kind():
    """`"cpu"` or the accelerator's platform name (`"gpu"`, `"tpu"`, ...): where the current
    backend places computations by default."""
    backend = _backend()
    if backend == "jax":
        import jax

        return jax.default_backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return "gpu" if tf.config.list_logical_devices("GPU") else "cpu"
    if backend == "torch":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "cpu"


def scan(step, init, xs, reverse=False):
    """`lax.scan` semantics: `carry, y = step(carry, x_t)` over the leading axis of `xs`.

    Args:
        step: Function `(carry, x) -> (carry, y)`; `carry`, `x` and `y` are tuples of tensors
            (`y` may be the empty tuple).
        init: Tuple of tensors, the carry before the first step.
        xs: Tuple of tensors sharing a leading (time) axis of length T.
        reverse: Whether to run from the last element to the first. The stacked `y` is indexed
            like `xs` either way.

    Returns:
        `(carry, ys)`: the final carry and a tuple of tensors `(T,) + y.shape`, one per `y`.
    """
    backend = _backend()
    if backend == "jax":
        import jax

        carry, ys = jax.lax.scan(
            lambda c, x: tuple(tuple(v) for v in step(c, x)),
            tuple(init),
            tuple(xs),
            reverse=reverse,
        )
        return carry, ys
    if backend == "tensorflow":
        return _tf_scan(step, init, xs, reverse)
    return _eager_scan(step, init, xs, reverse)


def _tf_scan(step, init, xs, reverse):
    import tensorflow as tf

    length = xs[0].shape[0]
    if length is None:
        length = tf.shape(xs[0])[0]
    inputs = tuple(
        tf.TensorArray(x.dtype, size=length, element_shape=x.shape[1:]).unstack(x) for x in xs
    )

    def read(index):
        return tuple(ta.read(index) for ta in inputs)

    # One step outside the loop tells the outputs' dtypes and shapes (as Keras' own rnn does);
    # its value is unused and the graph optimizer drops it. It slices `xs` directly because a
    # TensorArray element can be read only once.
    _, first = step(tuple(init), tuple(x[0] for x in xs))
    output_specs = tuple((y.dtype, y.shape) for y in first)
    outputs = tuple(
        tf.TensorArray(dtype, size=length, element_shape=shape) for dtype, shape in output_specs
    )

    def body(t, carry, outputs):
        index = length - 1 - t if reverse else t
        carry, ys = step(carry, read(index))
        outputs = tuple(ta.write(index, y) for ta, y in zip(outputs, ys))
        return t + 1, tuple(carry), outputs

    # maximum_iterations gives XLA a static trip count; the loop has no other exit.
    _, carry, outputs = tf.while_loop(
        lambda t, carry, outputs: t < length,
        body,
        (tf.constant(0), tuple(init), outputs),
        maximum_iterations=length,
    )
    return carry, tuple(ta.stack() for ta in outputs)


def _eager_scan(step, init, xs, reverse):
    # torch and numpy run eagerly, so a Python loop is the loop.
    length = xs[0].shape[0]
    order = range(length - 1, -1, -1) if reverse else range(length)
    carry = tuple(init)
    stacked = [None] * length
    for t in order:
        carry, ys = step(carry, tuple(x[t] for x in xs))
        carry = tuple(carry)
        stacked[t] = tuple(ys)
    count = len(stacked[0]) if length else 0
    return carry, tuple(ops.stack([s[i] for s in stacked]) for i in range(count))


def associative_scan(combine, elems):
    """Inclusive scan of an associative operator over the leading axis (static length).

    Args:
        combine: Function `(earlier, later) -> combined` on tuples of tensors, elementwise over
            any leading axes; `combine(a, combine(b, c)) == combine(combine(a, b), c)`.
        elems: Tuple of tensors sharing a leading axis of static length T.

    Returns:
        Tuple like `elems` whose element `t` is `elems[0] (+) elems[1] (+) ... (+) elems[t]`.
    """
    if _backend() == "jax":
        import jax

        return tuple(jax.lax.associative_scan(combine, tuple(elems), axis=0))
    return _doubling_scan(combine, elems)


def _doubling_scan(combine, elems):
    # Hillis-Steele: ceil(log2 T) rounds of static slices and concatenations, no loop
    # construct at all, so it compiles under XLA on TensorFlow. T log T work, log T depth.
    elems = tuple(elems)
    length = elems[0].shape[0]
    offset = 1
    while offset < length:
        earlier = tuple(e[:-offset] for e in elems)
        later = tuple(e[offset:] for e in elems)
        combined = combine(earlier, later)
        elems = tuple(ops.concatenate([e[:offset], c], axis=0) for e, c in zip(elems, combined))
        offset *= 2
    return elems
