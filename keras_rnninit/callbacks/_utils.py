"""Helpers shared by the callbacks: layer selection and re-tracing the train function."""

import math
import numbers

import keras


def check_positive(name, value, owner, allow_none=False):
    if value is None and allow_none:
        return None
    valid = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )
    if not valid:
        raise ValueError(f"{owner} expects `{name}` to be a number > 0. Received: {name}={value!r}")
    return float(value)


def check_choice(name, value, choices, owner):
    if value not in choices:
        raise ValueError(
            f"{owner} expects `{name}` to be one of {sorted(choices)}. Received: {name}={value!r}"
        )
    return value


def check_selection(layers, owner):
    """`None`, or a list of layer names / class names (str) and layer classes."""
    if layers is None:
        return None
    if isinstance(layers, (str, type)):
        layers = [layers]
    layers = list(layers)
    for item in layers:
        if not (isinstance(item, str) or (isinstance(item, type) and issubclass(item, keras.layers.Layer))):
            raise ValueError(
                f"{owner} expects `layers` to hold layer names, class names or Layer classes. "
                f"Received: layers={layers!r}"
            )
    return layers


def selection_config(layers):
    """JSON-able form of a selection: classes become their class names."""
    if layers is None:
        return None
    return [item if isinstance(item, str) else item.__name__ for item in layers]


def walk_layers(model):
    """Every layer inside `model`, depth first, nested models and wrappers included."""
    seen = set()

    def visit(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        yield layer
        children = list(getattr(layer, "layers", None) or [])
        for attribute in ("forward_layer", "backward_layer", "layer"):
            child = getattr(layer, attribute, None)
            if isinstance(child, keras.layers.Layer):
                children.append(child)
        for child in children:
            yield from visit(child)

    for layer in model.layers:
        yield from visit(layer)


def matches(layer, selection):
    """Whether `layer` is selected: `selection` None selects everything."""
    if selection is None:
        return True
    for item in selection:
        if isinstance(item, str):
            if item in (layer.name, type(layer).__name__):
                return True
        elif isinstance(layer, item):
            return True
    return False


def recurrent_kernel_of(layer):
    """The recurrent weight of a Keras RNN layer (`layer.cell.recurrent_kernel`), or None."""
    cell = getattr(layer, "cell", None)
    kernel = getattr(cell, "recurrent_kernel", None)
    return kernel if isinstance(kernel, keras.Variable) else None


def rebuild_train_function(model):
    """Drops the traced train step so the next step is traced with the current configuration.

    Keras bakes optimizer clipping settings and variable constraints into the train step when it
    is first traced (first batch of the first `fit`); a later change is ignored until the step is
    re-made. `fit` reads `model.train_function` at every step, so re-making it from a callback
    takes effect from the next batch, on TensorFlow and JAX alike.
    """
    model.make_train_function(force=True)
