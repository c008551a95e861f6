"""Recurrent-weight initializers for plain ReLU recurrent networks.

`NPInitializer` (np-RNN) and `IdentityInitializer` (IRNN and the scaled-identity iRNN) drop into
the `recurrent_initializer` of any Keras recurrent layer. A square shape `(N, N)` gets one matrix;
the gate-stacked recurrent kernels of `GRU` `(N, 3N)` and `LSTM` `(N, 4N)` get one independent
block per gate, laid side by side in Keras' gate order.
"""

import functools
import random as python_random

import keras
from keras import ops

from keras_rnninit._gates import count_gate_blocks, stack_gate_blocks
from keras_rnninit._validation import PACKAGE, check_bool, check_number, check_positive
from keras_rnninit.constraints import indrnn_bounds


def _block_count(shape, name):
    """Returns `(units, blocks)` for a recurrent-kernel shape of square gate blocks, or raises."""
    shape = tuple(shape)
    blocks = count_gate_blocks(shape)
    if blocks is None:
        raise ValueError(
            f"{name} builds recurrent kernels: a square shape (units, units), or a gate-stacked "
            "shape (units, k * units) such as GRU's (units, 3 * units) or LSTM's "
            f"(units, 4 * units), which gets k independent blocks. Received: shape={shape}"
        )
    return shape[0], blocks


def _float_dtype(dtype, name):
    dtype = keras.backend.standardize_dtype(dtype or keras.config.floatx())
    if not keras.backend.is_float_dtype(dtype):
        raise ValueError(f"{name} makes floating-point weights only. Received: dtype={dtype}")
    return dtype


def _compute_dtype(dtype):
    """The dtype the linear algebra runs in: float64 stays, anything narrower uses float32."""
    return "float64" if dtype == "float64" else "float32"


def _np_blocks(r, identity_shift):
    """`(k, N, N)` normal draws -> the k normalized positive-definite blocks of np-RNN."""
    units = r.shape[-1]
    a = ops.matmul(ops.transpose(r, (0, 2, 1)), r) / units
    if identity_shift:
        a = a + ops.eye(units, dtype=r.dtype)
    # Symmetrize so the eigen-solver and the result agree to the last bit.
    a = (a + ops.transpose(a, (0, 2, 1))) / 2
    # eigh returns eigenvalues in ascending order. Its float32 eigenvalues can be off by
    # about 1e-5 on some backends; the Rayleigh quotient of the returned eigenvector is
    # accurate to the square of the eigenvector's error, so it normalizes to 1 much more
    # tightly.
    _, eigenvectors = ops.eigh(a)
    top = eigenvectors[:, :, -1:]
    top = top / ops.norm(top, axis=1, keepdims=True)
    largest = ops.matmul(ops.transpose(top, (0, 2, 1)), ops.matmul(a, top))
    return a / largest


@functools.cache
def _jitted_np_blocks():
    import jax

    return jax.jit(_np_blocks, static_argnums=1)


def _normalized_np_blocks(r, identity_shift):
    """`_np_blocks`, as one compiled program on JAX: run op by op, JAX compiles each of its
    dozen operations for every new shape (about 0.8 s for one (N, N) shape on a 2-core CPU,
    against about 0.2 s for the whole as one program). TensorFlow runs it op by op."""
    if keras.backend.backend() == "jax":
        return _jitted_np_blocks()(r, identity_shift)
    return _np_blocks(r, identity_shift)


class _SeededInitializer(keras.initializers.Initializer):
    """Keras' seed semantics: None or an int give the same values on every call (None draws its
    int once, from Python's `random`, so `keras.utils.set_random_seed` fixes it), and a
    `keras.random.SeedGenerator` gives fresh values on every call."""

    def __init__(self, seed=None):
        self._init_seed = seed
        if seed is None:
            seed = python_random.randint(1, int(1e9))
        elif isinstance(seed, dict):
            seed = keras.saving.deserialize_keras_object(seed)
        elif (
            isinstance(seed, bool)
            or not isinstance(seed, (int, keras.random.SeedGenerator))
            or (isinstance(seed, int) and seed < 0)
        ):
            # A negative int worked on TensorFlow but raised OverflowError on JAX (uint32 keys).
            raise ValueError(
                f"{type(self).__name__} expects `seed` to be None, an int >= 0 or a "
                f"keras.random.SeedGenerator. Received: seed={seed!r}"
            )
        self.seed = seed

    def get_config(self):
        return {"seed": keras.saving.serialize_keras_object(self._init_seed)}


@keras.saving.register_keras_serializable(package=PACKAGE)
class NPInitializer(_SeededInitializer):
    """Normalized positive-definite recurrent matrix (np-RNN).

    Draws a standard normal matrix `R` of shape `(N, N)` and returns

    ```
    A = R^T R / N                         # symmetric positive semi-definite
    W = (A + I) / lambda_max(A + I)       # identity_shift=True (the default)
    W = A / lambda_max(A)                 # identity_shift=False
    ```

    With the default, `W` is symmetric positive definite, its largest eigenvalue is exactly 1 and
    every other eigenvalue lies in (0, 1): with zero input, a ReLU RNN using `W` neither explodes
    nor forgets along its leading direction, and contracts along the others. Adding `I` also keeps
    the smallest eigenvalue at least `1 / lambda_max(A + I)` (about 1/5 for large N), away from 0.

    `identity_shift=False` gives the form written in some reviews of the paper, `A / lambda_max(A)`.
    Its largest eigenvalue is still 1, but for a square `R` the smallest eigenvalues of `A` sit
    near 0 (about `1 / N^2`), so `W` is only positive semi-definite in floating point and has
    directions the network forgets almost at once.

    A square shape `(N, N)` gets one such matrix. A gate-stacked shape `(N, k * N)`, the recurrent
    kernel of `keras.layers.GRU` (k = 3) or `keras.layers.LSTM` (k = 4), gets k independent
    matrices side by side, one per gate in Keras' gate order. Any other shape raises `ValueError`.

    The linear algebra runs in float32 (float64 for a float64 dtype) and the result is cast to
    the requested dtype, so any floating-point dtype works.

    Args:
        identity_shift: Whether to add the identity before normalizing (the np-RNN paper's
            form). Defaults to `True`.
        seed: None, an int or a `keras.random.SeedGenerator`. None and an int give the same
            matrix on every call; a `SeedGenerator` gives a fresh one on every call. Defaults to
            `None`.

    Example:

    ```python
    layer = keras.layers.SimpleRNN(
        100,
        activation="relu",
        recurrent_initializer=keras_rnninit.NPInitializer(seed=1),
    )
    ```

    Reference:
        - [Talathi and Vartak, 2015](https://arxiv.org/abs/1511.03771)
    """

    def __init__(self, identity_shift=True, seed=None):
        check_bool("identity_shift", identity_shift, owner="NPInitializer")
        self.identity_shift = identity_shift
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None):
        units, blocks = _block_count(shape, "NPInitializer")
        dtype = _float_dtype(dtype, "NPInitializer")
        compute_dtype = _compute_dtype(dtype)
        r = keras.random.normal((blocks, units, units), seed=self.seed, dtype=compute_dtype)
        return ops.cast(stack_gate_blocks(_normalized_np_blocks(r, self.identity_shift)), dtype)

    def get_config(self):
        return {**super().get_config(), "identity_shift": self.identity_shift}


@keras.saving.register_keras_serializable(package=PACKAGE)
class IdentityInitializer(keras.initializers.Initializer):
    """Scaled identity recurrent matrix: IRNN (`gain=1`) and iRNN (`gain < 1`).

    Returns `gain * I` for a square shape `(N, N)`. For a gate-stacked shape `(N, k * N)`, the
    recurrent kernel of `keras.layers.GRU` (k = 3) or `keras.layers.LSTM` (k = 4), every gate's
    block is `gain * I`, where `keras.initializers.Identity` would fill only the first block. Any
    other shape raises `ValueError`.

    With ReLU and a zero recurrent bias, `W = I` copies the hidden state forward unchanged when the
    input is zero (Le et al.'s IRNN); a gain a little below 1 (their iRNN) makes the state decay
    slowly instead, which trades some memory for stability.

    Args:
        gain: Positive, finite scale of the identity. Defaults to `1.0`.

    Example:

    ```python
    layer = keras.layers.SimpleRNN(
        100,
        activation="relu",
        recurrent_initializer=keras_rnninit.IdentityInitializer(gain=1.0),
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
    )
    ```

    Reference:
        - [Le, Jaitly and Hinton, 2015](https://arxiv.org/abs/1504.00941)
    """

    def __init__(self, gain=1.0):
        self.gain = check_positive("gain", gain, owner="IdentityInitializer")

    def __call__(self, shape, dtype=None):
        units, blocks = _block_count(shape, "IdentityInitializer")
        dtype = _float_dtype(dtype, "IdentityInitializer")
        eye = self.gain * ops.eye(units, dtype=_compute_dtype(dtype))
        return ops.cast(ops.tile(eye, (1, blocks)), dtype)

    def get_config(self):
        return {"gain": self.gain}


@keras.saving.register_keras_serializable(package=PACKAGE)
class IndRNNRecurrentInitializer(_SeededInitializer):
    """IndRNN's recurrent weights: magnitudes drawn uniformly from `[min_value, max_value]`.

    An IndRNN unit has one scalar recurrent weight `u`, so the recurrent "kernel" is a vector
    of shape `(units,)`. The IndRNN paper draws every layer's `u ~ U[0, gamma^(1/T)]` for
    sequences of length `T`, and for the last layer of a classify-at-the-last-step model
    `u ~ U[epsilon^(1/T), gamma^(1/T)]`, so that no unit starts out exploding over `T` steps and
    the last layer's units start out remembering. `from_timesteps` builds exactly these
    ranges from `keras_rnninit.constraints.indrnn_bounds`. The values are non-negative; any
    shape is accepted (every entry is drawn independently).

    Args:
        min_value: Smallest value, a finite number `>= 0`. Defaults to `0.0`.
        max_value: Largest value, a finite number `>= min_value`. Defaults to `1.0`.
        seed: None, an int or a `keras.random.SeedGenerator`. None and an int give the same
            values on every call; a `SeedGenerator` gives fresh ones on every call. Defaults
            to `None`.

    Example:

    ```python
    init = keras_rnninit.IndRNNRecurrentInitializer.from_timesteps(784, gamma=5.0)
    cell = keras_rnninit.IndRNNCell(128, recurrent_initializer=init)
    ```

    Reference:
        - [Li et al., 2018](https://arxiv.org/abs/1803.04831)
    """

    def __init__(self, min_value=0.0, max_value=1.0, seed=None):
        owner = "IndRNNRecurrentInitializer"
        check_number("min_value", min_value, minimum=0, owner=owner)
        check_number("max_value", max_value, minimum=0, owner=owner)
        if max_value < min_value:
            raise ValueError(
                f"{owner} expects `max_value >= min_value`. "
                f"Received: min_value={min_value!r}, max_value={max_value!r}"
            )
        self.min_value = float(min_value)
        self.max_value = float(max_value)
        super().__init__(seed=seed)

    @classmethod
    def from_timesteps(cls, timesteps, gamma=2.0, epsilon=None, last_layer=False, seed=None):
        """The paper's initializer for sequences of `timesteps` steps.

        Args:
            timesteps: Sequence length T, a positive int.
            gamma: Largest gradient growth over T steps, `>= 1`. Defaults to `2.0`.
            epsilon: Smallest gradient decay over T steps, in `(0, 1]`, used only when
                `last_layer=True`. Defaults to `1 / gamma`.
            last_layer: Whether to draw from `[epsilon^(1/T), gamma^(1/T)]` instead of
                `[0, gamma^(1/T)]`. Defaults to `False`.
            seed: As in the constructor. Defaults to `None`.

        Returns:
            An `IndRNNRecurrentInitializer`.
        """
        # The bounds are on magnitudes (`min_abs`, `max_abs`, as `MagnitudeBound` names them),
        # which this initializer's `min_value` and `max_value` draw between.
        min_abs, max_abs = indrnn_bounds(
            timesteps, gamma=gamma, epsilon=epsilon, last_layer=last_layer
        )
        return cls(min_value=min_abs, max_value=max_abs, seed=seed)

    def __call__(self, shape, dtype=None):
        shape = tuple(shape)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
            raise ValueError(
                "IndRNNRecurrentInitializer needs a fully known shape of positive ints, e.g. "
                f"(units,). Received: shape={shape}"
            )
        dtype = _float_dtype(dtype, "IndRNNRecurrentInitializer")
        values = keras.random.uniform(
            tuple(shape),
            minval=self.min_value,
            maxval=self.max_value,
            seed=self.seed,
            dtype=_compute_dtype(dtype),
        )
        return ops.cast(values, dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "min_value": self.min_value,
            "max_value": self.max_value,
        }


def indrnn_input_initializer(seed=None):
    """The IndRNN authors' initializer of input kernels `W`: uniform, scaled by fan-in.

    `W ~ U[-b, b]` with `b = sqrt(6 / ((1 + 8^2) * fan_in)) = 0.304 / sqrt(fan_in)`: PyTorch's
    Kaiming-uniform with negative slope 8, which the authors' pixel-MNIST code uses. Returned
    as Keras' own `VarianceScaling(scale=2/65, mode="fan_in", distribution="uniform")`, so it
    serializes like any built-in initializer. Because the scale follows the fan-in, a unit's
    input `W x` has the same spread whether `x` is one pixel or the 128 outputs of a layer
    below.

    Args:
        seed: None or an int. Defaults to `None`.

    Returns:
        A `keras.initializers.VarianceScaling`.

    Example:

    ```python
    initializer = keras_rnninit.initializers.indrnn_input_initializer(seed=1)
    layer = keras_rnninit.IndRNN(128, timesteps=784, kernel_initializer=initializer)
    ```

    Reference:
        - [Li et al., 2019 (Deep IndRNN)](https://arxiv.org/abs/1910.06251)
    """
    return keras.initializers.VarianceScaling(
        scale=2.0 / (1.0 + 8.0**2), mode="fan_in", distribution="uniform", seed=seed
    )
