"""Argument checks shared by every public object, with one message form.

Each check takes `(name, value, ...)` and, by keyword, `owner` (the class or function being
built, for the message), returns the value in its plain Python type, and raises

    ValueError: "<owner>: `name` must be <what>. Received: name=<value!r>"

(no owner prefix when `owner` is empty), the form Keras itself uses.
"""

import math
import numbers

# The name every public object is registered under (`keras.saving.register_keras_serializable`):
# part of each `.keras` file's class names, so it never changes.
PACKAGE = "keras_rnninit"


def fail(name, value, what, owner=""):
    """Raises the `ValueError` of every check: `name` must be `what`."""
    prefix = f"{owner}: " if owner else ""
    raise ValueError(f"{prefix}`{name}` must be {what}. Received: {name}={value!r}")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name, value, minimum=1, owner="", allow_none=False):
    """`int(value)` for an integer `>= minimum` (bools refused), or None when allowed."""
    if value is None and allow_none:
        return None
    if not _is_int(value) or value < minimum:
        what = "a positive int" if minimum == 1 else f"an int >= {minimum}"
        fail(name, value, f"None or {what}" if allow_none else what, owner)
    return int(value)


def check_number(
    name,
    value,
    minimum=None,
    maximum=None,
    owner="",
    allow_none=False,
    open_minimum=False,
    open_maximum=False,
):
    """`float(value)` for a finite real number in the given (closed unless open) bounds."""
    if value is None and allow_none:
        return None
    valid = _is_real(value) and math.isfinite(value)
    if valid and minimum is not None:
        valid = value > minimum if open_minimum else value >= minimum
    if valid and maximum is not None:
        valid = value < maximum if open_maximum else value <= maximum
    if not valid:
        fail(name, value, _describe(minimum, maximum, open_minimum, open_maximum), owner)
    return float(value)


def _describe(minimum, maximum, open_minimum, open_maximum):
    if minimum is not None and maximum is not None:
        left = "(" if open_minimum else "["
        right = ")" if open_maximum else "]"
        return f"a number in {left}{minimum:g}, {maximum:g}{right}"
    if minimum is not None:
        return f"a finite number {'>' if open_minimum else '>='} {minimum:g}"
    if maximum is not None:
        return f"a finite number {'<' if open_maximum else '<='} {maximum:g}"
    return "a finite number"


def check_positive(name, value, owner="", allow_none=False):
    """`float(value)` for a finite number `> 0`."""
    return check_number(
        name, value, minimum=0, open_minimum=True, owner=owner, allow_none=allow_none
    )


def check_fraction(name, value, owner="", open_maximum=True, open_minimum=False):
    """`float(value)` for a rate in `[0, 1)` (a dropout), or `[0, 1]`/`(0, 1)` as asked."""
    return check_number(
        name,
        value,
        minimum=0,
        maximum=1,
        owner=owner,
        open_minimum=open_minimum,
        open_maximum=open_maximum,
    )


def check_bool(name, value, owner=""):
    """`value` for `True` or `False` only: `bool("False")` is True, so strings are refused."""
    if not isinstance(value, bool):
        fail(name, value, "True or False", owner)
    return value


def check_choice(name, value, choices, owner=""):
    """`value` when it is one of `choices`."""
    if value not in choices:
        # A set has no order of its own: sorted, the message is the same on every run.
        listed = sorted(choices) if isinstance(choices, (set, frozenset)) else list(choices)
        fail(name, value, f"one of {listed}", owner)
    return value
