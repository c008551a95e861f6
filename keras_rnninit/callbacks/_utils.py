"""Helpers shared by the callbacks: layer selection, and train-step-scoped settings."""

import weakref

import keras


def check_selection(layers, owner):
    """`None`, or a list of layer names / class names (str) and layer classes."""
    if layers is None:
        return None
    if isinstance(layers, (str, type)):
        layers = [layers]
    layers = list(layers)
    for item in layers:
        if not (
            isinstance(item, str)
            or (isinstance(item, type) and issubclass(item, keras.layers.Layer))
        ):
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


def _sublayers(layer):
    """The layers a layer holds: a model's `layers`, a wrapper's `layer` / `forward_layer` /
    `backward_layer`, and any Layer kept in an attribute or in a list, tuple or dict attribute
    (how custom layers such as `IndRNNStack` keep theirs)."""
    children = list(getattr(layer, "layers", None) or [])
    for attribute in ("forward_layer", "backward_layer", "layer"):
        child = getattr(layer, attribute, None)
        if isinstance(child, keras.layers.Layer):
            children.append(child)
    for value in vars(layer).values():
        if isinstance(value, keras.layers.Layer):
            children.append(value)
        elif isinstance(value, (list, tuple)):
            children.extend(v for v in value if isinstance(v, keras.layers.Layer))
        elif isinstance(value, dict):
            children.extend(v for v in value.values() if isinstance(v, keras.layers.Layer))
    return children


def walk_layers(model, with_parents=False):
    """Every layer inside `model`, depth first, nested models, wrappers and the sub-layers of
    custom layers included. With `with_parents`, yields `(layer, parents)`, `parents` the
    enclosing layers from the outermost."""
    seen = {id(model)}

    def visit(layer, parents):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        yield (layer, parents) if with_parents else layer
        for child in _sublayers(layer):
            yield from visit(child, parents + (layer,))

    for layer in model.layers:
        yield from visit(layer, ())


def unmatched(selection, layers):
    """The items of a selection that match none of `layers` (empty when `selection` is None)."""
    if selection is None:
        return []
    return [item for item in selection if not any(matches(layer, [item]) for layer in layers)]


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


# Temporary train-step settings (optimizer clipping, variable constraints), per model.
#
# Keras reads these settings when it traces the train step and keeps no copy of them, and it
# calls `on_train_end` only when `fit` finishes normally (not on an exception or Ctrl-C). So
# rather than set them at the start of `fit` and undo them at the end, a callback registers
# `apply` / `undo` functions here, and the model gets a second train function, traced with
# every registered setting on:
#
# - `install` (from `on_train_batch_begin`) makes it `model.train_function` for one step;
# - each call of it turns the settings on for the call only (a trace or re-trace, e.g. for a
#   partial last batch, sees them), and in a `finally` turns them off again and puts the
#   model's own train function back, whether the step returned or raised.
#
# So between steps, where a `ModelCheckpoint`, a `BackupAndRestore`, an exception or Ctrl-C may
# land, the model and its optimizer are exactly as the user made them, and a saved model
# carries none of the callbacks' temporary state. One window is left: if a callback placed
# after ours raises in its own `on_train_batch_begin`, the installed function stays the
# model's, and a later `fit` (which reuses `model.train_function`) runs its first step with
# the settings on (and leaves none behind). Settings registered during an earlier `fit`
# that ended without `on_train_end` are dropped at the next registration: entries remember the
# `params` dict that Keras gives all callbacks of one `fit`.


class _Scope:
    def __init__(self, original):
        self.original = original
        self.entries = {}
        self.function = None


_SCOPES = weakref.WeakKeyDictionary()


def _apply_all(scope):
    applied = []
    try:
        for entry in scope.entries.values():
            entry[1]()
            applied.append(entry)
    except BaseException:
        _undo_all(applied)
        raise
    return applied


def _undo_all(entries):
    for entry in reversed(list(entries)):
        entry[2]()


def _rebuild(model, scope):
    model.train_function = scope.original
    if not scope.entries:
        scope.function = None
        return
    applied = _apply_all(scope)
    try:
        # A fresh function for Keras to compile: JAX keys its trace cache on the function, and
        # `jax.jit(model.train_step)` made twice shares one cache (bound methods compare
        # equal), so the model's own train function and this one would share whichever trace
        # came first, settings and all. A new closure per rebuild gets its own traces.
        model.train_step = _fresh_train_step(model)
        model.make_train_function(force=True)
        inner = model.train_function
    finally:
        del model.train_step
        _undo_all(applied)
        model.train_function = scope.original

    def scoped(*args, **kwargs):
        applied = _apply_all(scope)
        try:
            return inner(*args, **kwargs)
        finally:
            _undo_all(applied)
            # One step per install: the next step needs the next `on_train_batch_begin`.
            if model.train_function is scoped:
                model.train_function = scope.original

    scope.function = scoped


def _fresh_train_step(model):
    method = type(model).train_step

    def train_step(*args, **kwargs):
        return method(model, *args, **kwargs)

    return train_step


def activate_step_settings(model, owner, params, apply, undo):
    """Registers `owner`'s temporary settings for the train steps of the current `fit`.

    Args:
        model: The model being fitted.
        owner: The callback (one entry per callback; a new call replaces its entry).
        params: The callback's `self.params` (one dict per `fit`, shared by its callbacks).
        apply: Function that turns the settings on (on the optimizer or variables).
        undo: Function that turns them off again, restoring what `apply` replaced.
    """
    scope = _SCOPES.get(model)
    if scope is None or model.train_function not in (scope.original, scope.function):
        # First use, or Keras made a new train function since (e.g. a re-compile).
        scope = _Scope(model.train_function)
        _SCOPES[model] = scope
    scope.entries = {key: entry for key, entry in scope.entries.items() if entry[0] is params}
    scope.entries[id(owner)] = (params, apply, undo)
    _rebuild(model, scope)


def deactivate_step_settings(model, owner):
    """Removes `owner`'s settings; the model's own train function is back in place."""
    scope = _SCOPES.get(model)
    if scope is None:
        return
    scope.entries.pop(id(owner), None)
    _rebuild(model, scope)


def install_step_settings(model):
    """Makes the train function with the registered settings the model's, for one step."""
    scope = _SCOPES.get(model)
    if scope is not None and scope.function is not None:
        model.train_function = scope.function


def uninstall_step_settings(model):
    """Puts the model's own train function back (after a step)."""
    scope = _SCOPES.get(model)
    if scope is not None and model.train_function is scope.function:
        model.train_function = scope.original
