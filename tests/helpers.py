"""Helpers several test modules share: the one backend-dispatching gradient helper
(TensorFlow's tape, JAX's grad) and the exact singular values of gate blocks."""

import keras
import numpy as np
import pytest
from keras import ops

BACKEND = keras.backend.backend()

# `jit_compile` for tests whose subject is not XLA (resumption, divergence, benchmark rows): on
# TensorFlow's CPU, XLA-compiling each new model's steps was about 40 % of such a test, so
# TensorFlow runs plain graphs; JAX keeps compiling (without it Keras would run the step op by
# op). The tests of the same code's XLA default stay as they were. `NO_XLA_ON_TF` is the same
# as the examples' and the harness's command-line flag.
JIT_COMPILE_UNLESS_TF = BACKEND != "tensorflow"
NO_XLA_ON_TF = [] if JIT_COMPILE_UNLESS_TF else ["--no-jit"]


def value_and_gradients(fn, tensors, variables=(), context_variables=(), jit=False):
    """Differentiates `fn(tensors) -> (value, aux)` w.r.t. `tensors` and `variables`.

    Args:
        fn: Takes the list of tensors, returns a scalar value and anything else (`aux`).
        tensors: Arrays or tensors to differentiate with respect to.
        variables: Keras variables to differentiate with respect to (a layer's or model's
            trainable weights); `fn` reads them as usual.
        context_variables: Every other variable `fn` reads (a model's `variables`); on JAX
            each is mapped to its value, because a `StatelessScope` reads unmapped ones as None.
        jit: Compile the whole computation (`tf.function(jit_compile=True)`, `jax.jit`).

    Returns:
        `(value, aux, tensor_gradients, variable_gradients)`, backend tensors.
    """
    tensors = [ops.convert_to_tensor(t) for t in tensors]
    variables = list(variables)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        def run(*tensors):
            with tf.GradientTape() as tape:
                for tensor in tensors:
                    tape.watch(tensor)
                value, aux = fn(list(tensors))
            return value, aux, tape.gradient(value, (list(tensors), variables))

        if jit:
            run = tf.function(run, jit_compile=True)
        value, aux, (tensor_gradients, variable_gradients) = run(*tensors)
    elif BACKEND == "jax":
        import jax

        ids = {id(v) for v in variables}
        others = [v for v in context_variables if id(v) not in ids]

        def pure(values, tensors):
            mapping = list(zip(variables, values)) + [(v, v.value) for v in others]
            with keras.StatelessScope(state_mapping=mapping):
                return fn(list(tensors))

        run = jax.value_and_grad(pure, argnums=(0, 1), has_aux=True)
        if jit:
            run = jax.jit(run)
        (value, aux), (variable_gradients, tensor_gradients) = run(
            [v.value for v in variables], tensors
        )
    else:
        pytest.skip(f"no gradient helper for backend {BACKEND}")
    return value, aux, list(tensor_gradients), list(variable_gradients)


def block_singular_values(w):
    """The largest singular value of each square `(N, N)` gate block of an `(N, k*N)` matrix."""
    n = w.shape[0]
    k = w.shape[1] // n
    return np.array(
        [np.linalg.svd(w[:, i * n : (i + 1) * n], compute_uv=False)[0] for i in range(k)]
    )
