"""The two loop primitives the recurrence needs, one implementation per backend.

This is the only module of the package that imports a backend directly. Everything else is
written in `keras.ops` and calls `scan` and `associative_scan` below.

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
    """`"cpu"`, `"gpu"` or `"tpu"`: where the current backend places computations by default."""
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
    """Runs `carry = step(carry, x_t)` over the leading axis of `xs` and stacks every carry.

    Args:
        step: Function `(carry, x) -> carry`; `carry` and `x` are tuples of tensors.
        init: Tuple of tensors, the carry before the first step.
        xs: Tuple of tensors sharing a leading (time) axis of length T.
        reverse: Whether to run from the last element to the first. The result is indexed like
            `xs` either way: `result[t]` is the carry right after element `t` was consumed.

    Returns:
        Tuple of tensors of shape `(T,) + carry.shape`, one per carry element.
    """
    backend = _backend()
    if backend == "jax":
        return _jax_scan(step, init, xs, reverse)
    if backend == "tensorflow":
        return _tf_scan(step, init, xs, reverse)
    return _eager_scan(step, init, xs, reverse)


def _jax_scan(step, init, xs, reverse):
    import jax

    def body(carry, x):
        new = tuple(step(carry, x))
        return new, new

    _, stacked = jax.lax.scan(body, tuple(init), tuple(xs), reverse=reverse)
    return stacked


def _tf_scan(step, init, xs, reverse):
    import tensorflow as tf

    length = xs[0].shape[0]
    if length is None:
        length = tf.shape(xs[0])[0]
    inputs = tuple(
        tf.TensorArray(x.dtype, size=length, element_shape=x.shape[1:]).unstack(x) for x in xs
    )
    outputs = tuple(
        tf.TensorArray(c.dtype, size=length, element_shape=c.shape) for c in init
    )

    def body(t, carry, outputs):
        index = length - 1 - t if reverse else t
        carry = tuple(step(carry, tuple(ta.read(index) for ta in inputs)))
        outputs = tuple(ta.write(index, c) for ta, c in zip(outputs, carry))
        return t + 1, carry, outputs

    # maximum_iterations gives XLA a static trip count; the loop has no other exit.
    _, _, outputs = tf.while_loop(
        lambda t, carry, outputs: t < length,
        body,
        (tf.constant(0), tuple(init), outputs),
        maximum_iterations=length,
    )
    return tuple(ta.stack() for ta in outputs)


def _eager_scan(step, init, xs, reverse):
    # torch and numpy run eagerly, so a Python loop is the loop.
    length = xs[0].shape[0]
    order = range(length - 1, -1, -1) if reverse else range(length)
    carry = tuple(init)
    stacked = [None] * length
    for t in order:
        carry = tuple(step(carry, tuple(x[t] for x in xs)))
        stacked[t] = carry
    return tuple(ops.stack([s[i] for s in stacked]) for i in range(len(carry)))


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
        elems = tuple(
            ops.concatenate([e[:offset], c], axis=0) for e, c in zip(elems, combined)
        )
        offset *= 2
    return elems
