"""Projections of recurrent weights, applied by the optimizer after every update.

A Keras constraint runs inside the compiled train step, so the bound holds after every step under
`jit_compile=True` without any Python-side weight writes.
"""

import math
import numbers

import keras
from keras import ops

_PACKAGE = "keras_rnninit"


def _check_number(name, value, minimum=None, allow_none=False, owner=""):
    if value is None and allow_none:
        return None
    valid = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (minimum is None or value >= minimum)
    )
    if not valid:
        need = "a finite number" if minimum is None else f"a finite number >= {minimum}"
        raise ValueError(f"{owner} expects `{name}` to be {need}. Received: {name}={value!r}")
    return float(value)


@keras.saving.register_keras_serializable(package=_PACKAGE)
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
        self.min_abs = _check_number("min_abs", min_abs, minimum=0.0, owner=owner)
        self.max_abs = _check_number(
            "max_abs", max_abs, minimum=0.0, allow_none=True, owner=owner
        )
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
    if isinstance(timesteps, bool) or not isinstance(timesteps, numbers.Integral) or timesteps < 1:
        raise ValueError(
            f"indrnn_bounds expects `timesteps` to be a positive int. Received: timesteps={timesteps!r}"
        )
    gamma = _check_number("gamma", gamma, minimum=1.0, owner="indrnn_bounds")
    if epsilon is None:
        epsilon = 1.0 / gamma
    epsilon = _check_number("epsilon", epsilon, owner="indrnn_bounds")
    if not 0.0 < epsilon <= 1.0:
        raise ValueError(
            f"indrnn_bounds expects `epsilon` in (0, 1]. Received: epsilon={epsilon!r}"
        )
    max_abs = gamma ** (1.0 / int(timesteps))
    min_abs = epsilon ** (1.0 / int(timesteps)) if last_layer else 0.0
    return min_abs, max_abs
