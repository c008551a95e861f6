"""Projections of recurrent weights, applied by the optimizer after every update.

A Keras constraint runs inside the compiled train step, so the bound holds after every step under
`jit_compile=True` without any Python-side weight writes.
"""

import keras
from keras import ops

from keras_rnninit._gates import count_gate_blocks, split_gate_blocks
from keras_rnninit._validation import PACKAGE, check_int, check_number


@keras.saving.register_keras_serializable(package=PACKAGE)
class MagnitudeBound(keras.constraints.Constraint):
    """Keeps every weight's magnitude in `[min_abs, max_abs]`, keeping its sign.

    This is IndRNN's recurrent-weight bound: each unit's scalar recurrent weight `u` is projected
    after every optimizer update,

    ```
    u <- sign(u) * clip(|u|, min_abs, max_abs)       (a zero weight goes to +min_abs)
    ```

    so a gradient step can never push `|u|` past `max_abs` (exploding gradients over time) or, when
    `min_abs > 0`, below `min_abs` (a unit that forgets). `indrnn_bounds` derives both numbers from
    the sequence length as in the IndRNN paper.

    Args:
        min_abs: Smallest allowed magnitude, `>= 0`. Defaults to `0.0` (no lower bound).
        max_abs: Largest allowed magnitude, `>= min_abs`, or `None` for no upper bound. Defaults
            to `None`.

    Example:

    ```python
    min_abs, max_abs = keras_rnninit.constraints.indrnn_bounds(timesteps=1000)
    layer = keras_rnninit.IndRNN(
        128,
        recurrent_constraint=keras_rnninit.constraints.MagnitudeBound(min_abs, max_abs),
    )
    ```

    Reference:
        - [Li et al., 2018](https://arxiv.org/abs/1803.04831)
    """

    def __init__(self, min_abs=0.0, max_abs=None):
        owner = "MagnitudeBound"
        self.min_abs = check_number("min_abs", min_abs, minimum=0.0, owner=owner)
        self.max_abs = check_number("max_abs", max_abs, minimum=0.0, allow_none=True, owner=owner)
        if self.max_abs is not None and self.max_abs < self.min_abs:
            raise ValueError(
                "MagnitudeBound expects `max_abs >= min_abs`. "
                f"Received: min_abs={min_abs!r}, max_abs={max_abs!r}"
            )

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        magnitude = ops.abs(w)
        if self.min_abs > 0:
            magnitude = ops.maximum(magnitude, ops.cast(self.min_abs, w.dtype))
        if self.max_abs is not None:
            magnitude = ops.minimum(magnitude, ops.cast(self.max_abs, w.dtype))
        sign = ops.where(w < 0, ops.cast(-1, w.dtype), ops.cast(1, w.dtype))
        return sign * magnitude

    def get_config(self):
        return {"min_abs": self.min_abs, "max_abs": self.max_abs}


def indrnn_bounds(timesteps, gamma=2.0, epsilon=None, last_layer=False):
    """The IndRNN paper's bounds on `|u|` for sequences of `timesteps` steps.

    A ReLU IndRNN unit with recurrent weight `u` scales the gradient reaching `T` steps back by
    about `u^T`. Keeping `|u| <= gamma^(1/T)` caps that growth at `gamma`; for units that must
    remember to the end of the sequence (the last layer of a classify-at-the-end model),
    `|u| >= epsilon^(1/T)` keeps it from shrinking below `epsilon`.

    Args:
        timesteps: Sequence length T, a positive int.
        gamma: Largest allowed gradient growth over T steps, `>= 1`. Defaults to `2.0`, the
            paper's value.
        epsilon: Smallest allowed gradient decay over T steps, in `(0, 1]`, used only when
            `last_layer=True`. Defaults to `1 / gamma`, as in the paper's code.
        last_layer: Whether to return a lower bound too. Defaults to `False`.

    Returns:
        `(min_abs, max_abs)`: `(0.0, gamma^(1/T))`, or `(epsilon^(1/T), gamma^(1/T))` for the last
        layer.

    Example:

    >>> keras_rnninit.constraints.indrnn_bounds(100, last_layer=True)
    (0.9930924954370359, 1.0069555500567189)
    """
    check_int("timesteps", timesteps, owner="indrnn_bounds")
    gamma = check_number("gamma", gamma, minimum=1.0, owner="indrnn_bounds")
    if epsilon is None:
        epsilon = 1.0 / gamma
    epsilon = check_number("epsilon", epsilon, owner="indrnn_bounds")
    if not 0.0 < epsilon <= 1.0:
        raise ValueError(
            f"indrnn_bounds expects `epsilon` in (0, 1]. Received: epsilon={epsilon!r}"
        )
    max_abs = gamma ** (1.0 / int(timesteps))
    min_abs = epsilon ** (1.0 / int(timesteps)) if last_layer else 0.0
    return min_abs, max_abs


def _split_blocks(w, blocks, owner):
    """`(rows, k * width)` -> `(k, rows, width)`: the gate blocks (see `keras_rnninit._gates`);
    a matrix with no such split is one block."""
    if len(w.shape) != 2:
        raise ValueError(
            f"{owner} bounds recurrent matrices: a 2-D weight (units, k * units). For a 1-D "
            "recurrent vector (IndRNN's u) use MagnitudeBound. "
            f"Received: weight of shape={tuple(w.shape)}"
        )
    k = count_gate_blocks(tuple(int(d) for d in w.shape), blocks)
    if k is None and blocks is not None:
        raise ValueError(
            f"{owner} cannot split a weight of shape {tuple(w.shape)} into {blocks} column "
            f"blocks. Received: blocks={blocks!r}"
        )
    return split_gate_blocks(w, k or 1)


def _largest_singular_value_upper_bound(blocks, squarings):
    """An upper bound on each block's largest singular value, tight to `n^(1/2^(squarings+2))`.

    With `A = B^T B` (eigenvalues `s_i^2`) and `p = 2^squarings`,
    `s_max^(2p) <= ||A^p||_F <= sqrt(n) * s_max^(2p)`. `A^p` is formed by repeated squaring, each
    factor divided by its Frobenius norm so nothing overflows; the norms are kept as logarithms.
    """
    tiny = 1e-30
    a = ops.einsum("kij,kil->kjl", blocks, blocks)
    log_lambda = ops.zeros((blocks.shape[0],), dtype=blocks.dtype)
    for j in range(squarings):
        norm = ops.maximum(ops.sqrt(ops.sum(ops.square(a), axis=(1, 2))), tiny)
        log_lambda = log_lambda + ops.log(norm) / (2.0**j)
        a = a / norm[:, None, None]
        a = ops.einsum("kij,kjl->kil", a, a)
    norm = ops.maximum(ops.sqrt(ops.sum(ops.square(a), axis=(1, 2))), tiny)
    log_lambda = log_lambda + ops.log(norm) / (2.0**squarings)
    return ops.exp(log_lambda / 2.0)


@keras.saving.register_keras_serializable(package=PACKAGE)
class SpectralNormBound(keras.constraints.Constraint):
    """Caps the largest singular value of a recurrent kernel (of each gate block) at `max_value`.

    A recurrent map whose largest singular value is at most 1 cannot stretch the hidden state, so
    an IRNN or np-RNN (ReLU, identity-like `W_hh`) trained with a large step cannot explode. After
    every optimizer update each block `B` (the kernel itself, or the `k` `(N, N)` gate blocks of an
    `(N, k*N)` LSTM/GRU kernel) is rescaled,

    ```
    sigma = upper bound on the largest singular value of B
    B <- B * min(1, max_value / sigma)
    ```

    `sigma` comes from `squarings` repeated squarings of `B^T B` (about `2 * squarings * N^3`
    flops per block, small next to a training step's `T * batch * N^2` products for typical
    sizes). It never underestimates, so the bound always holds (up to float rounding), and it
    overestimates by at most a factor `N^(1/2^(squarings + 2))` (`1.0003` for `N = 128` and the
    default 12), which is reached only when all singular values are equal, e.g. an exact identity,
    which therefore settles at about `max_value / 1.0003`.

    Power iteration (a few matrix-vector products from a persistent vector) would be cheaper but
    approaches `sigma` from below, and near-isometries (IRNN, np-RNN, orthogonal kernels) have
    nearly equal top singular values, where it converges slowly: in our measurement it let the
    bound be exceeded by up to 17 %. Exact SVD under XLA on CPU took seconds per call.

    Args:
        max_value: Largest allowed singular value, `> 0`. Defaults to `1.0`.
        squarings: Repeated squarings for the estimate, a positive int. Defaults to `12`.
        blocks: Number of column blocks to bound separately, or `None` to infer it: an `(N, k*N)`
            kernel (LSTM `k = 4`, GRU `k = 3`) has `k` blocks, any other matrix one. Defaults to
            `None`.

    Example:

    ```python
    layer = keras.layers.SimpleRNN(
        128,
        activation="relu",
        recurrent_initializer=keras_rnninit.IdentityInitializer(),
        recurrent_constraint=keras_rnninit.constraints.SpectralNormBound(1.0),
    )
    ```
    """

    def __init__(self, max_value=1.0, squarings=12, blocks=None):
        owner = "SpectralNormBound"
        self.max_value = check_number("max_value", max_value, minimum=0.0, owner=owner)
        if self.max_value <= 0:
            raise ValueError(f"{owner} expects `max_value > 0`. Received: max_value={max_value!r}")
        for name, value in (("squarings", squarings), ("blocks", blocks)):
            if value is None and name == "blocks":
                continue
            check_int(name, value, owner=owner)
        self.squarings = int(squarings)
        self.blocks = None if blocks is None else int(blocks)

    def largest_singular_values(self, w):
        """The upper bounds `sigma` on each block's largest singular value, shape `(k,)`."""
        w = ops.convert_to_tensor(w)
        blocks = _split_blocks(ops.cast(w, "float32"), self.blocks, "SpectralNormBound")
        return _largest_singular_value_upper_bound(blocks, self.squarings)

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        blocks = _split_blocks(w, self.blocks, "SpectralNormBound")
        sigma = _largest_singular_value_upper_bound(ops.cast(blocks, "float32"), self.squarings)
        scale = ops.minimum(1.0, self.max_value / ops.maximum(sigma, 1e-30))
        blocks = blocks * ops.cast(scale, w.dtype)[:, None, None]
        return ops.reshape(ops.transpose(blocks, (1, 0, 2)), w.shape)

    def get_config(self):
        return {"max_value": self.max_value, "squarings": self.squarings, "blocks": self.blocks}
