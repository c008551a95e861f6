"""Gradient-flow monitor: how large the gradient is, per layer and per time step, during `fit`."""

import csv
import logging
import math
import numbers
import os

import keras
import numpy as np

from keras_rnninit import _optional
from keras_rnninit._validation import PACKAGE, check_choice, check_positive
from keras_rnninit.callbacks import _tensorboard, _utils
from keras_rnninit.callbacks.figures import plot_gradient_flow

_LOGGER = logging.getLogger("keras_rnninit")


class GradientFlowError(RuntimeError):
    """Raised by `GradientFlowMonitor(on_failure="raise")` on a NaN/Inf or too-large gradient."""


def _make_measure_function(model, trainable, others, probe, suffixes, sample_weight):
    """Compiles `measure(x, y) -> (loss, trainable grads, [dL/d input of each layer])`.

    The only backend-specific code of the package's callbacks: TensorFlow differentiates with
    `tf.GradientTape` inside a `tf.function` (variables are read live at every call); JAX with
    `jax.value_and_grad` inside `jax.jit`, the model's variable values passed in explicitly and
    bound through `keras.StatelessScope`, so a measurement never sees stale weights.
    """
    backend = keras.backend.backend()

    def loss_of(x, y, y_pred):
        return model.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False
        )

    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def measure(x, y):
            with tf.GradientTape() as tape:
                loss = loss_of(x, y, model(x, training=False))
            grads = tape.gradient(loss, trainable)
            inputs = _as_list(probe(x, training=False)) if probe is not None else []
            input_grads = []
            for h, suffix in zip(inputs, suffixes):
                with tf.GradientTape() as tape:
                    tape.watch(h)
                    suffix_loss = loss_of(x, y, suffix(h, training=False))
                input_grads.append(tape.gradient(suffix_loss, h))
            return loss, grads, input_grads

        return measure

    if backend == "jax":
        import jax

        def bound(trainable_values, other_values, function, *args):
            mapping = list(zip(trainable, trainable_values)) + list(zip(others, other_values))
            with keras.StatelessScope(state_mapping=mapping):
                return function(*args)

        def pure(trainable_values, other_values, x, y):
            def full_loss(values):
                return bound(values, other_values, lambda: loss_of(x, y, model(x, training=False)))

            loss, grads = jax.value_and_grad(full_loss)(trainable_values)
            input_grads = []
            if probe is not None:
                inputs = _as_list(
                    bound(trainable_values, other_values, lambda: probe(x, training=False))
                )
                for h, suffix in zip(inputs, suffixes):

                    def suffix_loss(h, suffix=suffix):
                        return bound(
                            trainable_values,
                            other_values,
                            lambda: loss_of(x, y, suffix(h, training=False)),
                        )

                    input_grads.append(jax.grad(suffix_loss)(h))
            return loss, grads, input_grads

        compiled = jax.jit(pure)

        def measure(x, y):
            return compiled([v.value for v in trainable], [v.value for v in others], x, y)

        return measure

    raise ValueError(
        "GradientFlowMonitor supports the tensorflow and jax backends. "
        f"Received: backend={backend!r}"
    )


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


@keras.saving.register_keras_serializable(package=PACKAGE)
class GradientFlowMonitor(keras.callbacks.Callback):
    """Measures gradient norms on a fixed batch during `fit`: overall, per layer, per time step.

        Every epoch (or every `frequency` batches) it computes, on the held-out batch `data` with
        the model in inference mode (`training=False`, so dropout is off):

        - the global gradient norm `||dL/dw||` over all trainable weights,
        - the gradient norm of each top-level layer's weights,
        - for each selected recurrent layer, `||dL/dx_t||` for every step `t` of the layer's input
          sequence (norm over batch and features): the gradient that reaches step `t`. For a
          layer fed by another recurrent layer this is `dL/dh_t` of that layer. It is read by
          splitting the model at the layer's input, so it needs a Functional or Sequential model.

        Scalars go into `logs` (so `History`, `CSVLogger` and `TensorBoard` placed AFTER this
        callback in the list see them), named with `log_prefix` (default `"grad"`):

        ```
        grad_norm                     global norm
        grad_norm/<layer>             per layer
        grad_first_step/<layer>       ||dL/dx_0||
        grad_last_step/<layer>        ||dL/dx_{T-1}||
        grad_reach/<layer>            number of final steps whose norm is >= reach_fraction * max
        ```

        The per-step norms are kept in `self.records`, optionally appended to a CSV file
        (`epoch,batch,layer,timestep,norm`; a later `fit` appends) and plotted to a PNG at the
        end of `fit` (matplotlib is imported only then; a missing matplotlib raises an
        `ImportError` at the start of `fit`).
    With `tensorboard_dir`, every measurement also writes that plot, of the measurements so far, as
    the image `gradient_flow` to TensorBoard event files in that folder (at step `epoch` with
    `frequency="epoch"`, else at the optimizer's iteration count); this needs matplotlib and
    TensorFlow (as the event-file writer, on any Keras backend).

        A NaN/Inf gradient, or a norm above `max_norm`, stops training (`on_failure="stop"`: the
        weights of the last measurement that passed, or of the start of `fit`, are restored and
        `model.stop_training` is set) or raises `GradientFlowError` (`"raise"`); the message names
        the layer. With `frequency="epoch"` the measurement is taken after the epoch's last step,
        before any callback's `on_epoch_end` (when the number of steps is known), so a
        `ModelCheckpoint` anywhere in the list never saves the failed weights over the last good
        file: with `"raise"` it does not run, with `"stop"` it saves the restored good weights.

        Args:
            data: The held-out batch, `(x, y)` or `(x, y, sample_weight)` of arrays. Not part of the
                config; pass it again after `from_config`. Defaults to `None` (an error at `fit`).
            layers: Recurrent layers to measure over time: `None` (every layer with
                `layer.cell.recurrent_kernel` among the model's top-level layers), or a list of
                layer names, class names and Layer classes. Defaults to `None`.
            frequency: `"epoch"`, or an int `N` to measure every `N` training batches. Defaults to
                `"epoch"`.
            max_norm: Failure threshold on the global and per-layer norms, or `None` for NaN/Inf
                only. Defaults to `None`.
            on_failure: `"stop"` or `"raise"`. Defaults to `"stop"`.
            csv_path: File to write the per-step norms to, or `None`. Defaults to `None`.
            plot_path: PNG file for a gradient-over-time plot at the end of `fit`, or `None`.
                Defaults to `None`.
            reach_fraction: Threshold for `grad_reach`, relative to the largest per-step norm.
                Defaults to `1e-3`.
            log_prefix: Prefix of the names written into `logs`. Defaults to `"grad"`.
            tensorboard_dir: Folder for TensorBoard event files with the gradient-flow image, or
                `None`. Defaults to `None`.

        Example:

        ```python
        monitor = keras_rnninit.callbacks.GradientFlowMonitor(
            data=(x_val[:64], y_val[:64]), plot_path="gradient_flow.png"
        )
        history = model.fit(x, y, epochs=10, callbacks=[monitor])
        history.history["grad_reach/simple_rnn"]
        ```
    """

    def __init__(
        self,
        data=None,
        layers=None,
        frequency="epoch",
        max_norm=None,
        on_failure="stop",
        csv_path=None,
        plot_path=None,
        reach_fraction=1e-3,
        log_prefix="grad",
        tensorboard_dir=None,
    ):
        super().__init__()
        owner = "GradientFlowMonitor"
        if data is not None and (not isinstance(data, (tuple, list)) or len(data) not in (2, 3)):
            raise ValueError(
                f"{owner} expects `data` to be (x, y) or (x, y, sample_weight). "
                f"Received: data={type(data).__name__}"
            )
        self.data = None if data is None else tuple(data)
        self.layers = _utils.check_selection(layers, owner)
        if frequency != "epoch" and (
            isinstance(frequency, bool)
            or not isinstance(frequency, numbers.Integral)
            or frequency < 1
        ):
            raise ValueError(
                f"{owner} expects `frequency` to be 'epoch' or a positive int. "
                f"Received: frequency={frequency!r}"
            )
        self.frequency = frequency
        self.max_norm = check_positive("max_norm", max_norm, owner, allow_none=True)
        self.on_failure = check_choice("on_failure", on_failure, {"stop", "raise"}, owner)
        self.csv_path = None if csv_path is None else str(csv_path)
        self.plot_path = None if plot_path is None else str(plot_path)
        reach_fraction = check_positive("reach_fraction", reach_fraction, owner)
        if reach_fraction >= 1:
            raise ValueError(
                f"{owner} expects `reach_fraction` < 1. Received: reach_fraction={reach_fraction!r}"
            )
        self.reach_fraction = reach_fraction
        if not isinstance(log_prefix, str) or not log_prefix:
            raise ValueError(
                f"{owner} expects `log_prefix` to be a non-empty str. "
                f"Received: log_prefix={log_prefix!r}"
            )
        self.log_prefix = log_prefix
        self.tensorboard_dir = None if tensorboard_dir is None else str(tensorboard_dir)
        self._image_writer = None
        self.records = []
        self.failure = None
        self._measure = None
        self._epoch = 0
        self._batches = 0
        self._epoch_scalars = None
        self._good_weights = None

    # -- setup -------------------------------------------------------------------------------

    def _recurrent_layers(self):
        recurrent = [
            layer for layer in self.model.layers if _utils.recurrent_kernel_of(layer) is not None
        ]
        missing = _utils.unmatched(self.layers, recurrent)
        if missing:
            raise ValueError(
                f"GradientFlowMonitor: no top-level recurrent layer matches {missing}; the "
                f"model's are {[layer.name for layer in recurrent]}. "
                f"Received: layers={_utils.selection_config(self.layers)!r}"
            )
        return [layer for layer in recurrent if _utils.matches(layer, self.layers)]

    def _build(self):
        model = self.model
        if self.data is None:
            raise ValueError("GradientFlowMonitor needs a held-out batch. Received: data=None")
        if self.plot_path is not None or self.tensorboard_dir is not None:
            _optional.import_figure()
        if self.tensorboard_dir is not None:
            _optional.import_summary()
        x, y = self.data[0], self.data[1]
        sample_weight = self.data[2] if len(self.data) == 3 else None
        trainable = list(model.trainable_variables)
        trainable_ids = {id(v) for v in trainable}
        others = [v for v in model.variables if id(v) not in trainable_ids]
        self._layer_of = []
        owner = {}
        for layer in model.layers:
            for v in layer.trainable_variables:
                owner.setdefault(id(v), layer.name)
        self._layer_of = [owner.get(id(v), "other") for v in trainable]

        self._timed_layers = self._recurrent_layers()
        probe, suffixes = None, []
        if self._timed_layers:
            model_inputs = getattr(model, "inputs", None)
            if not model_inputs:
                raise ValueError(
                    "GradientFlowMonitor measures per-step gradients by splitting the model at "
                    "each recurrent layer's input, which needs a Functional or Sequential model "
                    f"built with an Input. Received: model of type {type(model).__name__}; pass "
                    "layers=[] to measure only weight gradients."
                )
            try:
                # Sequential exposes its input layer's tensor structure as a list of one.
                model_input = model_inputs[0] if len(model_inputs) == 1 else model_inputs
                probe = keras.Model(model_input, [layer.input for layer in self._timed_layers])
                outputs = model.outputs[0] if len(model.outputs) == 1 else model.outputs
                suffixes = [keras.Model(layer.input, outputs) for layer in self._timed_layers]
            except (ValueError, AttributeError) as error:
                raise ValueError(
                    "GradientFlowMonitor could not split the model at the inputs of layers "
                    f"{[layer.name for layer in self._timed_layers]}: {error}"
                ) from error
        self._x = keras.ops.convert_to_tensor(x) if not isinstance(x, (list, tuple, dict)) else x
        self._y = keras.ops.convert_to_tensor(y) if not isinstance(y, (list, tuple, dict)) else y
        sample_weight = (
            None if sample_weight is None else keras.ops.convert_to_tensor(sample_weight)
        )
        self._measure = _make_measure_function(
            model, trainable, others, probe, suffixes, sample_weight
        )

    # -- measuring ---------------------------------------------------------------------------

    def measure(self):
        """Measures once on `data` with the model's current weights and returns the record.

        Returns:
            A dict with `loss`, `global_norm`, `layer_norms` (`{layer name: norm}`) and
            `timestep_norms` (`{layer name: numpy array of shape (T,)}`).
        """
        if self._measure is None:
            self._build()
        loss, grads, input_grads = self._measure(self._x, self._y)
        squares = {}
        for name, g in zip(self._layer_of, grads):
            if g is None:
                continue
            squares[name] = squares.get(name, 0.0) + float(
                np.sum(np.square(keras.ops.convert_to_numpy(g).astype("float64")))
            )
        timestep_norms = {}
        for layer, g in zip(self._timed_layers, input_grads):
            g = keras.ops.convert_to_numpy(g).astype("float64")
            if g.ndim == 3:
                timestep_norms[layer.name] = np.sqrt(np.sum(np.square(g), axis=(0, 2)))
        return {
            "loss": float(loss),
            "global_norm": math.sqrt(sum(squares.values())),
            "layer_norms": {name: math.sqrt(value) for name, value in squares.items()},
            "timestep_norms": timestep_norms,
        }

    def _reach(self, norms):
        if not np.all(np.isfinite(norms)) or norms.max() <= 0:
            return 0
        reached = np.nonzero(norms >= self.reach_fraction * norms.max())[0]
        return int(len(norms) - reached[0])

    def _record(self, epoch, batch, logs):
        """Measures, appends the record and the CSV rows, checks; returns the log scalars."""
        record = self.measure()
        record.update(epoch=epoch, batch=batch)
        self.records.append(record)
        prefix = self.log_prefix
        scalars = {f"{prefix}_norm": record["global_norm"]}
        for name, value in record["layer_norms"].items():
            scalars[f"{prefix}_norm/{name}"] = value
        for name, norms in record["timestep_norms"].items():
            scalars[f"{prefix}_first_step/{name}"] = float(norms[0])
            scalars[f"{prefix}_last_step/{name}"] = float(norms[-1])
            scalars[f"{prefix}_reach/{name}"] = self._reach(norms)
        if logs is not None:
            logs.update(scalars)
        if self.csv_path is not None:
            with open(self.csv_path, "a", newline="") as handle:
                writer = csv.writer(handle)
                for name, norms in record["timestep_norms"].items():
                    for t, value in enumerate(norms):
                        writer.writerow([epoch, batch, name, t, repr(float(value))])
        if self._image_writer is not None and record["timestep_norms"]:
            # Written before the check, so the image of a failing gradient is there to see.
            self._image_writer.write(self.records, self._tensorboard_step(epoch, batch))
        self._check(record, epoch, batch)
        # Weights whose gradient passed the check: what a failure later restores.
        self._good_weights = self.model.get_weights()
        return scalars

    def _tensorboard_step(self, epoch, batch):
        # Keras' TensorBoard callback logs epoch scalars at step `epoch`; a per-batch
        # measurement goes at the optimizer's step count, which continues across fits.
        optimizer = getattr(self.model, "optimizer", None)
        if batch is None or optimizer is None:
            return epoch
        # The variable's tensor, not the variable: Keras 3.15's Variable.__array__ takes no
        # `copy` argument, so NumPy 2 warns on converting the variable itself.
        return int(keras.ops.convert_to_numpy(optimizer.iterations.value))

    def _check(self, record, epoch, batch):
        where = f"epoch {epoch}" + ("" if batch is None else f", batch {batch}")
        problem = None
        for name, value in list(record["layer_norms"].items()) + [
            (name, float(np.max(norms))) if np.all(np.isfinite(norms)) else (name, float("nan"))
            for name, norms in record["timestep_norms"].items()
        ]:
            if not math.isfinite(value):
                problem = f"the gradient of layer '{name}' is not finite ({value}) at {where}"
                break
            if self.max_norm is not None and value > self.max_norm:
                problem = (
                    f"the gradient norm of layer '{name}' is {value:.4g} > max_norm="
                    f"{self.max_norm:.4g} at {where}"
                )
                break
        if problem is None:
            return
        self.failure = f"GradientFlowMonitor: {problem}."
        if self.on_failure == "raise":
            raise GradientFlowError(self.failure)
        # Keras still calls every callback's on_epoch_end after a stop: put the last weights
        # that passed back first, so a ModelCheckpoint (before or after this callback) cannot
        # save the bad ones over the last good file.
        if self._good_weights is not None:
            self.model.set_weights(self._good_weights)
        _LOGGER.warning(
            "%s Stopping training; the weights of the last good measurement are restored.",
            self.failure,
        )
        self.model.stop_training = True

    # -- callback hooks ----------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self.records = []
        self.failure = None
        self._batches = 0
        self._build()
        self._good_weights = self.model.get_weights()
        if self.tensorboard_dir is not None:
            self._image_writer = _tensorboard.GradientFlowImageWriter(self.tensorboard_dir)
        if self.csv_path is not None and (
            not os.path.exists(self.csv_path) or os.path.getsize(self.csv_path) == 0
        ):
            # A second fit appends to the same file (its epochs continue with initial_epoch).
            with open(self.csv_path, "w", newline="") as handle:
                csv.writer(handle).writerow(["epoch", "batch", "layer", "timestep", "norm"])

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_scalars = None

    def _sync(self):
        # JAX keeps the weights outside the variables during an epoch; bring them back.
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()

    def on_train_batch_end(self, batch, logs=None):
        if self.frequency == "epoch":
            # The epoch's measurement is taken after its last step, before any callback's
            # on_epoch_end: a failure then stops (and restores) before a ModelCheckpoint,
            # wherever it sits in the list, sees the step. With an unknown number of steps
            # it falls back to on_epoch_end.
            steps = (self.params or {}).get("steps")
            if steps and batch + 1 >= steps and self._epoch_scalars is None:
                self._sync()
                self._epoch_scalars = self._record(self._epoch, None, None)
            return
        self._batches += 1
        if self._batches % self.frequency == 0:
            self._sync()
            self._record(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.frequency != "epoch":
            return
        if self._epoch_scalars is None:
            self._epoch_scalars = self._record(epoch, None, None)
        if logs is not None:
            logs.update(self._epoch_scalars)

    def on_train_end(self, logs=None):
        if self.plot_path is not None and self.records:
            self.plot(self.plot_path)
        if self._image_writer is not None:
            self._image_writer.close()
            self._image_writer = None

    # -- reporting ---------------------------------------------------------------------------

    def plot(self, path=None, title=None):
        """Plots `||dL/dx_t||` against `t` for every measured layer, one line per measurement.

        Args:
            path: PNG file to write, or `None` to only return the figure. Defaults to `None`.
            title: Figure title. Defaults to `None`.

        Returns:
            The `matplotlib.figure.Figure`.
        """
        return plot_gradient_flow({"": self.records}, path=path, title=title)

    def get_config(self):
        return {
            "layers": _utils.selection_config(self.layers),
            "frequency": self.frequency,
            "max_norm": self.max_norm,
            "on_failure": self.on_failure,
            "csv_path": self.csv_path,
            "plot_path": self.plot_path,
            "reach_fraction": self.reach_fraction,
            "log_prefix": self.log_prefix,
            "tensorboard_dir": self.tensorboard_dir,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
