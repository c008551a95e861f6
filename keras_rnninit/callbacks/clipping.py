"""Callbacks that turn on gradient clipping and recurrent-weight projections for one `fit`.

Neither callback touches weights or gradients from Python during training: they configure the
optimizer (clipping) or attach `keras.constraints.Constraint`s to variables (projections), which
the optimizer applies inside the compiled train step, then re-make the train function so the
change is traced in.
"""

import numbers

import keras

from keras_rnninit._validation import PACKAGE, check_bool, check_choice, check_int, check_positive
from keras_rnninit.callbacks import _utils
from keras_rnninit.constraints import MagnitudeBound, SpectralNormBound, indrnn_bounds

# Keras optimizers clip with exactly one of these (checked in this order), inside `apply`.
_CLIP_ATTRIBUTES = {"norm": "clipnorm", "global_norm": "global_clipnorm", "value": "clipvalue"}


def _inner_optimizer(model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError("GradientClipping needs a compiled model with an optimizer.")
    # A LossScaleOptimizer delegates the update (and the clipping) to its inner optimizer.
    return getattr(optimizer, "inner_optimizer", optimizer)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GradientClipping(keras.callbacks.Callback):
    """Turns on gradient clipping for a model compiled without it, optionally on a schedule.

    Rescales the gradient when its norm passes `threshold` (Pascanu et al., 2013):

    ```
    mode="global_norm":  g <- g * threshold / max(||g||, threshold)    (all variables together)
    mode="norm":         the same for each variable's gradient separately
    mode="value":        g <- clip(g, -threshold, threshold)           (element-wise)
    ```

    The clipping is done by the optimizer (`global_clipnorm`, `clipnorm` or `clipvalue`) inside
    the compiled train step, so it costs no device sync and works with `jit_compile=True` on
    TensorFlow and JAX. Keras reads these settings when it traces the train step, so the callback
    gives `fit` a train function traced with them (once, and again whenever the scheduled
    threshold changes), and sets them on the optimizer only while that function runs: between
    steps, and whatever ends `fit` (an exception, Ctrl-C), the optimizer has its own settings, so
    a model saved during `fit` does not carry the callback's clipping.

    An optimizer may clip in only one way. If the model's optimizer already clips, the callback
    raises a `ValueError` at the start of `fit`, unless `override=True`, in which case its own
    clipping replaces the optimizer's for the duration of `fit` (never both).

    Args:
        threshold: Clipping threshold, `> 0`. Defaults to `1.0`.
        mode: `"global_norm"`, `"norm"` (per variable) or `"value"`. Defaults to `"global_norm"`.
        schedule: `None` (constant `threshold`), a dict `{epoch: threshold}` (each value holds from
            its epoch on; `threshold` before the first key), or a callable `epoch -> threshold`.
            Defaults to `None`.
        override: Whether to replace clipping the optimizer already does. Defaults to `False`.

    Example:

    ```python
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse", jit_compile=True)
    clip = keras_rnninit.callbacks.GradientClipping(1.0, schedule={10: 0.5})
    model.fit(x, y, epochs=20, callbacks=[clip])
    ```

    Reference:
        - [Pascanu et al., 2013](https://arxiv.org/abs/1211.5063)
    """

    def __init__(self, threshold=1.0, mode="global_norm", schedule=None, override=False):
        super().__init__()
        owner = "GradientClipping"
        self.threshold = check_positive("threshold", threshold, owner)
        self.mode = check_choice("mode", mode, set(_CLIP_ATTRIBUTES), owner)
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            # Such a schedule maps optimizer steps (not epochs) to learning rates and returns a
            # tensor: read as an epoch schedule of thresholds it would silently mean something
            # else.
            raise ValueError(
                f"{owner} expects `schedule` to map epochs to thresholds (a dict or a callable "
                "`epoch -> float`), not a Keras LearningRateSchedule, which maps optimizer "
                f"steps to learning rates. Received: schedule={schedule!r}"
            )
        if isinstance(schedule, dict):
            for epoch in schedule:
                # JSON turns int keys into strings: accept only strings that are ints.
                if isinstance(epoch, str) and epoch.strip().lstrip("+").isdigit():
                    continue
                if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
                    raise ValueError(
                        f"{owner} expects schedule keys to be epochs, ints >= 0. "
                        f"Received: schedule={schedule!r}"
                    )
            schedule = {int(epoch): value for epoch, value in schedule.items()}
            for epoch, value in schedule.items():
                check_positive(f"schedule[{epoch}]", value, owner)
        elif schedule is not None and not callable(schedule):
            raise ValueError(
                f"{owner} expects `schedule` to be None, a dict or a callable. "
                f"Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.override = check_bool("override", override, owner)
        self.current_threshold = None

    def threshold_at(self, epoch):
        """The clipping threshold used during `epoch` (0-based)."""
        if self.schedule is None:
            return self.threshold
        if isinstance(self.schedule, dict):
            started = [e for e in self.schedule if e <= epoch]
            return float(self.schedule[max(started)]) if started else self.threshold
        value = self.schedule(epoch)
        if hasattr(value, "shape") and not value.shape:
            value = float(keras.ops.convert_to_numpy(value))
        return check_positive(f"schedule({epoch})", value, "GradientClipping")

    def _set_threshold(self, value):
        optimizer = _inner_optimizer(self.model)
        attribute = _CLIP_ATTRIBUTES[self.mode]
        saved = {}

        def apply():
            saved.update(
                {name: getattr(optimizer, name, None) for name in _CLIP_ATTRIBUTES.values()}
            )
            for name in _CLIP_ATTRIBUTES.values():
                setattr(optimizer, name, None)
            setattr(optimizer, attribute, value)

        def undo():
            for name, previous in saved.items():
                setattr(optimizer, name, previous)
            saved.clear()

        _utils.activate_step_settings(self.model, self, self.params, apply, undo)
        self.current_threshold = value

    def on_train_begin(self, logs=None):
        optimizer = _inner_optimizer(self.model)
        existing = {
            name: getattr(optimizer, name, None)
            for name in _CLIP_ATTRIBUTES.values()
            if getattr(optimizer, name, None)
        }
        if existing and not self.override:
            setting = ", ".join(f"{name}={value}" for name, value in existing.items())
            raise ValueError(
                f"GradientClipping: the optimizer already clips gradients ({setting}). Keras "
                "optimizers apply only one of clipnorm, global_clipnorm, clipvalue, so a second "
                "clipping would be ignored or stacked. Remove it from the optimizer, or pass "
                "`override=True` to replace it during fit. "
                f"Received: override={self.override}"
            )
        self.current_threshold = None

    def on_epoch_begin(self, epoch, logs=None):
        value = self.threshold_at(epoch)
        if value != self.current_threshold:
            self._set_threshold(value)

    def on_train_batch_begin(self, batch, logs=None):
        _utils.install_step_settings(self.model)

    def on_train_batch_end(self, batch, logs=None):
        _utils.uninstall_step_settings(self.model)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.current_threshold is not None:
            logs["clip_threshold"] = self.current_threshold

    def on_train_end(self, logs=None):
        _utils.deactivate_step_settings(self.model, self)
        self.current_threshold = None

    def get_config(self):
        schedule = self.schedule
        if schedule is not None and not isinstance(schedule, dict):
            schedule = keras.saving.serialize_keras_object(schedule)
        return {
            "threshold": self.threshold,
            "mode": self.mode,
            "schedule": schedule,
            "override": self.override,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        schedule = config.get("schedule")
        if isinstance(schedule, dict) and "class_name" in schedule:
            config["schedule"] = keras.saving.deserialize_keras_object(schedule)
        return cls(**config)


@keras.saving.register_keras_serializable(package=PACKAGE)
class RecurrentWeightClipping(keras.callbacks.Callback):
    """Attaches projection constraints to the recurrent weights of selected layers during `fit`.

    For each selected recurrent layer (anything with `layer.cell.recurrent_kernel`):

    - IndRNN (a 1-D recurrent weight `u`): `MagnitudeBound(*indrnn_bounds(T, gamma, epsilon,
      last_layer))`, i.e. `|u| <= gamma^(1/T)`, and for the last selected IndRNN layer when
      `last_layer=True` also `|u| >= epsilon^(1/T)`. `T` is `timesteps`, or else the layer's input
      length, or else the cell's `timesteps` attribute.
    - a full recurrent matrix (SimpleRNN `(N, N)`, GRU `(N, 3N)`, LSTM `(N, 4N)`):
      `SpectralNormBound(max_singular_value)` on each `(N, N)` gate block, so an IRNN or np-RNN
      cannot blow up its hidden state. `max_singular_value=None` leaves matrices alone.

    Recurrent layers nested in other layers (`IndRNNStack`, `ResidualIndRNNBlock`, sub-models,
    wrappers) are found too; `attached` maps each one's path (`"stack/indrnn_0"`) to its
    constraint, and a selection naming an enclosing layer selects the layers inside it. A
    selection item that matches nothing raises a `ValueError` at the start of `fit`.

    The optimizer applies the constraints after each update inside the compiled train step (no
    Python-side weight writes per batch). At the start of `fit` the callback projects the
    current weights once and gives `fit` a train function traced with the constraints; they
    are attached to the variables only while that function runs, so whatever ends `fit` (an
    exception, Ctrl-C) the variables keep their own constraints, and a model saved during `fit`
    carries none of the callback's.

    A weight that already has a constraint (e.g. an IndRNN built with `timesteps`) keeps it when
    `on_existing="keep"`; `"replace"` swaps in the callback's for the duration of `fit`;
    `"raise"` raises a `ValueError`.

    Args:
        layers: Which layers to constrain: `None` (every recurrent layer), or a list of layer
            names, class names (e.g. `"LSTM"`) and Layer classes. Defaults to `None`.
        max_singular_value: Bound on the largest singular value of full recurrent matrices, or
            `None` to skip them. Defaults to `1.0`.
        timesteps: Sequence length `T` for the IndRNN bound, or `None` to infer it. Defaults to
            `None`.
        gamma: IndRNN's largest gradient growth over `T` steps. Defaults to `2.0`.
        epsilon: IndRNN's smallest gradient decay over `T` steps for the last layer. Defaults to
            `None` (`1 / gamma`).
        last_layer: Whether the last selected IndRNN layer also gets the lower bound. Defaults
            to `False`.
        squarings: Accuracy setting passed to `SpectralNormBound`. Defaults to `12`.
        on_existing: `"keep"`, `"replace"` or `"raise"`. Defaults to `"keep"`.

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((784, 1)),
        keras.layers.SimpleRNN(
            100, activation="relu", recurrent_initializer=keras_rnninit.IdentityInitializer()
        ),
        keras.layers.Dense(10),
    ])
    clip = keras_rnninit.callbacks.RecurrentWeightClipping(max_singular_value=1.0)
    model.fit(x, y, callbacks=[clip])
    ```

    Reference:
        - [Li et al., 2018](https://arxiv.org/abs/1803.04831)
    """

    def __init__(
        self,
        layers=None,
        max_singular_value=1.0,
        timesteps=None,
        gamma=2.0,
        epsilon=None,
        last_layer=False,
        squarings=12,
        on_existing="keep",
    ):
        super().__init__()
        owner = "RecurrentWeightClipping"
        self.layers = _utils.check_selection(layers, owner)
        self.max_singular_value = check_positive(
            "max_singular_value", max_singular_value, owner, allow_none=True
        )
        self.timesteps = check_int("timesteps", timesteps, owner=owner, allow_none=True)
        # Validate the IndRNN parameters now rather than at the start of fit.
        indrnn_bounds(1, gamma, epsilon, last_layer=True)
        self.gamma = float(gamma)
        self.epsilon = None if epsilon is None else float(epsilon)
        self.last_layer = check_bool("last_layer", last_layer, owner)
        # Validates squarings.
        SpectralNormBound(1.0, squarings=squarings)
        self.squarings = int(squarings)
        self.on_existing = check_choice(
            "on_existing", on_existing, {"keep", "replace", "raise"}, owner
        )
        self.attached = {}

    def _timesteps_for(self, layer, parents):
        if self.timesteps is not None:
            return self.timesteps
        length = None
        # A layer inside another (IndRNNStack, ResidualIndRNNBlock, a nested model) has no
        # symbolic input of its own; the enclosing layers keep the sequence length.
        for candidate in (layer,) + tuple(reversed(parents)):
            try:
                shape = candidate.input.shape
                length = shape[1] if len(shape) == 3 else None
            except (AttributeError, ValueError, IndexError, TypeError):
                length = None
            if length is not None:
                break
        if length is None:
            length = getattr(layer.cell, "timesteps", None)
        if length is None:
            raise ValueError(
                f"RecurrentWeightClipping cannot infer the sequence length of IndRNN layer "
                f"'{layer.name}' (variable-length input). Pass `timesteps=`. "
                f"Received: timesteps={self.timesteps!r}"
            )
        return int(length)

    def _targets(self):
        """(path, layer, parents, kernel) of every recurrent layer, nested ones included; a
        layer is selected when it or a layer enclosing it matches `layers`."""
        found = []
        for layer, parents in _utils.walk_layers(self.model, with_parents=True):
            kernel = _utils.recurrent_kernel_of(layer)
            if kernel is not None:
                path = "/".join(p.name for p in parents + (layer,))
                found.append((path, layer, parents, kernel))
        missing = _utils.unmatched(
            self.layers, [x for _, layer, parents, _ in found for x in parents + (layer,)]
        )
        if missing:
            raise ValueError(
                f"RecurrentWeightClipping: no recurrent layer (or layer holding one) matches "
                f"{missing}; the model's recurrent layers are {[path for path, *_ in found]}. "
                f"Received: layers={_utils.selection_config(self.layers)!r}"
            )
        return [
            target
            for target in found
            if any(_utils.matches(x, self.layers) for x in target[2] + (target[1],))
        ]

    def on_train_begin(self, logs=None):
        self.attached = {}
        targets = self._targets()
        indrnn = [layer for _, layer, _, kernel in targets if len(kernel.shape) == 1]
        changes = []
        for path, layer, parents, kernel in targets:
            if len(kernel.shape) == 1:
                is_last = self.last_layer and layer is indrnn[-1]
                bounds = indrnn_bounds(
                    self._timesteps_for(layer, parents),
                    self.gamma,
                    self.epsilon,
                    last_layer=is_last,
                )
                constraint = MagnitudeBound(*bounds)
            elif self.max_singular_value is not None:
                constraint = SpectralNormBound(self.max_singular_value, squarings=self.squarings)
            else:
                continue
            if kernel.constraint is not None:
                if self.on_existing == "keep":
                    continue
                if self.on_existing == "raise":
                    raise ValueError(
                        f"RecurrentWeightClipping: the recurrent weight of layer '{path}' "
                        f"already has a constraint ({kernel.constraint!r}). "
                        f"Received: on_existing={self.on_existing!r}"
                    )
            changes.append((kernel, constraint))
            self.attached[path] = constraint
        for kernel, constraint in changes:
            # One projection now, so the bound holds from the first step on (not per batch).
            # This is a change to the weights, meant to last; the constraints are not.
            kernel.assign(constraint(kernel))
        if not changes:
            return
        saved = []

        def apply():
            for kernel, constraint in changes:
                saved.append((kernel, kernel.constraint))
                kernel.constraint = constraint

        def undo():
            for kernel, previous in reversed(saved):
                kernel.constraint = previous
            saved.clear()

        _utils.activate_step_settings(self.model, self, self.params, apply, undo)

    def on_train_batch_begin(self, batch, logs=None):
        _utils.install_step_settings(self.model)

    def on_train_batch_end(self, batch, logs=None):
        _utils.uninstall_step_settings(self.model)

    def on_train_end(self, logs=None):
        _utils.deactivate_step_settings(self.model, self)

    def get_config(self):
        return {
            "layers": _utils.selection_config(self.layers),
            "max_singular_value": self.max_singular_value,
            "timesteps": self.timesteps,
            "gamma": self.gamma,
            "epsilon": self.epsilon,
            "last_layer": self.last_layer,
            "squarings": self.squarings,
            "on_existing": self.on_existing,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
