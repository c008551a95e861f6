"""IndRNN: independently recurrent units, as a Keras cell and as a fast Keras RNN layer."""

import keras
from keras import ops

from keras_rnninit import recurrence
from keras_rnninit._validation import PACKAGE, check_bool, check_choice, check_fraction, check_int
from keras_rnninit.constraints import MagnitudeBound, indrnn_bounds
from keras_rnninit.initializers import IndRNNRecurrentInitializer

_METHODS = ("auto",) + recurrence.METHODS


class _DropoutMasks:
    """Fallback for Keras' dropout-mask protocol: one input mask per batch, reused every step."""

    def get_dropout_mask(self, step_input):
        if getattr(self, "_dropout_mask", None) is None and self.dropout > 0:
            self._dropout_mask = keras.random.dropout(
                ops.ones_like(step_input), rate=self.dropout, seed=self.seed_generator
            )
        return getattr(self, "_dropout_mask", None)

    def get_recurrent_dropout_mask(self, step_input):
        return None

    def reset_dropout_mask(self):
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        pass


def _keras_dropout_mixin():
    """Keras' own dropout mixin for RNN cells, found through the public `SimpleRNNCell`.

    `keras.layers.RNN` draws a cell's dropout mask once per batch, outside its loop, only for
    cells that inherit this (unexported) mixin; a mask drawn inside the loop would change every
    step, and on JAX random numbers cannot be drawn inside `lax.scan` at all. Nothing is imported
    from Keras internals: if a Keras release renames the mixin, `_DropoutMasks` takes over and
    `IndRNN` still draws its mask outside the loop.
    """
    for klass in keras.layers.SimpleRNNCell.__mro__:
        if klass.__name__ == "DropoutRNNCell" and hasattr(klass, "get_dropout_mask"):
            return klass
    return _DropoutMasks


@keras.saving.register_keras_serializable(package=PACKAGE)
class IndRNNCell(keras.layers.Layer, _keras_dropout_mixin()):
    """Cell of an independently recurrent network (IndRNN): one recurrent weight per unit.

    ```
    h_t = activation(x_t @ kernel + recurrent_kernel * h_{t-1} + bias)
    ```

    `recurrent_kernel` is a vector `u` of shape `(units,)`: every unit feeds back only its own
    state, so units in a layer are independent and layers are connected by `kernel`. With relu,
    the gradient reaching `T` steps back scales as `u^T`, so the paper bounds
    `|u| <= gamma^(1/T)` (and, for a classify-at-the-end model's last layer, `|u| >=
    epsilon^(1/T)`). Pass `timesteps=T` to get the paper's defaults: the recurrent initializer
    `U[0, gamma^(1/T)]` (last layer: `U[epsilon^(1/T), gamma^(1/T)]`) and the constraint
    `MagnitudeBound` with those bounds, projected after every optimizer update. Without
    `timesteps`, `u` starts in `U[0, 1]` and is unconstrained. Weight decay on `u` is off by
    default (`recurrent_regularizer=None`), as in the paper, which decays only the other
    weights.

    Use it in `keras.layers.RNN` (also in a list of cells or under `keras.layers.Bidirectional`);
    `keras_rnninit.IndRNN` runs the same cell much faster.

    Args:
        units: Positive int, number of units.
        activation: Activation. Defaults to `"relu"`.
        use_bias: Whether to add `bias`. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`, `(input_dim, units)`. Defaults to
            `"glorot_uniform"`.
        recurrent_initializer: Initializer of `recurrent_kernel`, `(units,)`. Defaults to
            `None`: the paper's `IndRNNRecurrentInitializer` for `timesteps` (`U[0, 1]` without).
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        kernel_regularizer: Regularizer of `kernel`. Defaults to `None`.
        recurrent_regularizer: Regularizer of `recurrent_kernel`. Defaults to `None`.
        bias_regularizer: Regularizer of `bias`. Defaults to `None`.
        kernel_constraint: Constraint of `kernel`. Defaults to `None`.
        recurrent_constraint: Constraint of `recurrent_kernel`. Defaults to `None`: the paper's
            `MagnitudeBound` for `timesteps` (none without).
        bias_constraint: Constraint of `bias`. Defaults to `None`.
        dropout: Fraction of the inputs to drop, in `[0, 1)`; one mask per sequence, shared
            by all its steps. Defaults to `0.0`.
        timesteps: Sequence length T the defaults are derived for, a positive int, or `None`.
            Defaults to `None`.
        last_layer: Whether this is the last layer of a classify-at-the-end model (adds the
            lower bound). Needs `timesteps`. Defaults to `False`.
        gamma: Largest gradient growth over T steps, `>= 1`. Needs `timesteps` unless left at
            the default. Defaults to `2.0`.
        epsilon: Smallest gradient decay over T steps for `last_layer`, in `(0, 1]`. Needs
            `timesteps`. Defaults to `None` (`1 / gamma`).
        seed: Seed of the dropout masks and of the default recurrent initializer: None or an
            int. Defaults to `None`.
        **kwargs: Base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        sequence: A 2D tensor `(batch, input_dim)`, one step.
        states: A list with the previous state `(batch, units)`.
        training: Whether dropout is active. Defaults to `False`.

    Example:

    ```python
    cell = keras_rnninit.IndRNNCell(128, timesteps=1000)
    layer = keras.layers.RNN(cell, return_sequences=True)
    ```

    Reference:
        - [Li et al., 2018](https://arxiv.org/abs/1803.04831)
    """

    def __init__(
        self,
        units,
        activation="relu",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer=None,
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        timesteps=None,
        last_layer=False,
        gamma=2.0,
        epsilon=None,
        seed=None,
        **kwargs,
    ):
        owner = type(self).__name__
        units = check_int("units", units, owner=owner)
        timesteps = check_int("timesteps", timesteps, owner=owner, allow_none=True)
        check_bool("last_layer", last_layer, owner=owner)
        check_fraction("dropout", dropout, owner=owner)
        # A negative int seed worked on TensorFlow but raised OverflowError on JAX (uint32 keys).
        check_int("seed", seed, minimum=0, owner=owner, allow_none=True)
        # Validates gamma and epsilon whether or not they are used.
        indrnn_bounds(1, gamma=gamma, epsilon=epsilon, last_layer=last_layer)
        if timesteps is None:
            unused = {
                "last_layer": (last_layer, False),
                "gamma": (gamma, 2.0),
                "epsilon": (epsilon, None),
            }
            for name, (value, default) in unused.items():
                if value != default:
                    raise ValueError(
                        f"{owner} derives its `{name}` bound from the sequence length: pass "
                        f"`timesteps` too. Received: {name}={value!r}, timesteps=None"
                    )
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.timesteps = timesteps
        self.last_layer = last_layer
        self.gamma = float(gamma)
        self.epsilon = None if epsilon is None else float(epsilon)
        self.dropout = float(dropout)
        # Keras' dropout mixin also asks for a recurrent dropout rate; IndRNN has none.
        self.recurrent_dropout = 0.0
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

        # The user's arguments, kept for get_config: the derived defaults are re-derived.
        self._recurrent_initializer_arg = recurrent_initializer
        self._recurrent_constraint_arg = recurrent_constraint
        if recurrent_initializer is None:
            if timesteps is None:
                recurrent_initializer = IndRNNRecurrentInitializer(0.0, 1.0, seed=self.seed)
            else:
                recurrent_initializer = IndRNNRecurrentInitializer.from_timesteps(
                    timesteps, gamma=gamma, epsilon=epsilon, last_layer=last_layer, seed=self.seed
                )
        if recurrent_constraint is None and timesteps is not None:
            recurrent_constraint = MagnitudeBound(
                *indrnn_bounds(timesteps, gamma=gamma, epsilon=epsilon, last_layer=last_layer)
            )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(recurrent_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.state_size = units
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units,),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                name="bias",
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None

    def call(self, sequence, states, training=False):
        previous = states[0] if isinstance(states, (list, tuple)) else states
        dropout_mask = self.get_dropout_mask(sequence)
        if training and dropout_mask is not None:
            sequence = sequence * dropout_mask
        # Same operation order as the fast layer: a = x W + b first, then a + u * h.
        projected = ops.matmul(sequence, self.kernel)
        if self.bias is not None:
            projected = projected + self.bias
        output = self.activation(projected + self.recurrent_kernel * previous)
        new_state = [output] if isinstance(states, (list, tuple)) else output
        return output, new_state

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)]

    def _arguments(self):
        serialize = keras.saving.serialize_keras_object
        return {
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": serialize(self._recurrent_initializer_arg),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": keras.regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": keras.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": serialize(self._recurrent_constraint_arg),
            "bias_constraint": keras.constraints.serialize(self.bias_constraint),
            "dropout": self.dropout,
            "timesteps": self.timesteps,
            "last_layer": self.last_layer,
            "gamma": self.gamma,
            "epsilon": self.epsilon,
            "seed": self.seed,
        }

    def get_config(self):
        return {**super().get_config(), **self._arguments()}


def _cell_property(name):
    """A read-only attribute of the layer that is its cell's attribute `name`."""
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's `{name}`.")


@keras.saving.register_keras_serializable(package=PACKAGE)
class IndRNN(keras.layers.RNN):
    """Fast IndRNN layer: one matmul for all steps, then only the element-wise recurrence.

    Computes exactly what `keras.layers.RNN(keras_rnninit.IndRNNCell(...))` computes, but the
    input projection `x_t @ kernel + bias` of every step is one matmul over `(batch, T,
    input_dim)`, and only `h_t = activation(a_t + u * h_{t-1})` runs over time, with a
    hand-written backward pass (so XLA training time stays linear in T). `method` picks how the
    recurrence runs:

    - `"sequential"`: one loop of T steps.
    - `"chunked"`: loops of about sqrt(T) steps over all chunks at once, then a scan over the
      chunk summaries (clip activations only).
    - `"parallel"`: an associative scan over the steps, log T depth (clip activations only).
    - `"auto"` (default): an activation the fast path does not know -> Keras' loop over the cell;
      tanh, sigmoid, an unknown sequence length, T < 32, or a CPU -> `"sequential"`; a GPU
      or TPU -> `"parallel"`. `unroll=True` also selects Keras' loop. (On a CPU the
      element-wise work, not the loop, dominates, and the scans do more of it.)

    "Clip activations" are clips of a line: relu, relu6, hard_tanh, hard_sigmoid and linear.
    Each step `h -> clip(a + u*h, lo, hi)` is then a clamp-affine map, and these compose in
    closed form. tanh and sigmoid run `"sequential"` only; any other activation runs Keras'
    loop over the cell. Forcing a method that cannot run the configuration raises `ValueError`.
    Masking (a masked step keeps the state and outputs it, as Keras' loop does on JAX; Keras'
    TensorFlow loop outputs zeros instead at masked steps before the first unmasked one),
    `go_backwards`, `initial_state`, `stateful`,
    `return_state`, dropout and mixed precision work with every method (float16 and bfloat16
    recurrences are computed in float32).

    The layer's cell is a `keras_rnninit.IndRNNCell` made from the same arguments; each of them
    reads back as an attribute of the layer (`layer.timesteps`, `layer.recurrent_constraint`).

    Args:
        units: Positive int, number of units.
        activation: Activation. Defaults to `"relu"`.
        use_bias: Whether to add `bias`. Defaults to `True`.
        kernel_initializer: Initializer of `kernel`, `(input_dim, units)`. Defaults to
            `"glorot_uniform"`.
        recurrent_initializer: Initializer of the recurrent vector `u`, `(units,)`. Defaults
            to `None`: `U[0, gamma^(1/T)]` for `timesteps=T` (`U[0, 1]` without).
        bias_initializer: Initializer of `bias`. Defaults to `"zeros"`.
        kernel_regularizer: Regularizer of `kernel`. Defaults to `None`.
        recurrent_regularizer: Regularizer of `u`. Defaults to `None`.
        bias_regularizer: Regularizer of `bias`. Defaults to `None`.
        kernel_constraint: Constraint of `kernel`. Defaults to `None`.
        recurrent_constraint: Constraint of `u`. Defaults to `None`: the paper's bound
            `|u| <= gamma^(1/T)` for `timesteps=T` (no constraint without).
        bias_constraint: Constraint of `bias`. Defaults to `None`.
        dropout: Fraction of the inputs to drop, in `[0, 1)`, one mask per sequence.
            Defaults to `0.0`.
        timesteps: Sequence length T the bound and the recurrent initializer are derived for,
            a positive int, or `None`. Defaults to `None`.
        last_layer: Whether this is the last layer of a classify-at-the-end model: adds the
            lower bound `|u| >= epsilon^(1/T)`. Needs `timesteps`. Defaults to `False`.
        gamma: Largest gradient growth over T steps, `>= 1`. Defaults to `2.0`.
        epsilon: Smallest gradient decay over T steps for `last_layer`, in `(0, 1]`.
            Defaults to `None` (`1 / gamma`).
        seed: Seed of the dropout masks and of the default recurrent initializer, None or an
            int. Defaults to `None`.
        method: `"auto"`, `"sequential"`, `"chunked"` or `"parallel"`. Defaults to `"auto"`.
        return_sequences: Whether to return every step's output. Defaults to `False`.
        return_state: Whether to return the last state too. Defaults to `False`.
        go_backwards: Whether to process the sequence in reverse (the output sequence is then
            in reverse order, as in Keras). Defaults to `False`.
        stateful: Whether the last state of a batch is the initial state of the next.
            Defaults to `False`.
        unroll: Whether Keras' loop over the cell is unrolled (selects that loop under
            `"auto"`). Defaults to `False`.
        **kwargs: Base layer arguments (`name`, `dtype`, `zero_output_for_mask`, ...).

    Call arguments:
        sequences: A 3D tensor `(batch, timesteps, input_dim)`.
        initial_state: Optional initial state `(batch, units)`, or a list of one.
        mask: Optional boolean `(batch, timesteps)`.
        training: Whether dropout is active.

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((1000, 2)),
        keras_rnninit.IndRNN(128, timesteps=1000, return_sequences=True),
        keras_rnninit.IndRNN(128, timesteps=1000, last_layer=True),
        keras.layers.Dense(1),
    ])
    ```

    Reference:
        - [Li et al., 2018](https://arxiv.org/abs/1803.04831)
        - [Li et al., 2019, Deep IndRNN](https://arxiv.org/abs/1910.06251)
    """

    def __init__(
        self,
        units,
        activation="relu",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer=None,
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        timesteps=None,
        last_layer=False,
        gamma=2.0,
        epsilon=None,
        seed=None,
        method="auto",
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        **kwargs,
    ):
        check_choice("method", method, _METHODS, owner="IndRNN")
        check_bool("return_sequences", return_sequences, owner="IndRNN")
        check_bool("return_state", return_state, owner="IndRNN")
        check_bool("go_backwards", go_backwards, owner="IndRNN")
        check_bool("stateful", stateful, owner="IndRNN")
        check_bool("unroll", unroll, owner="IndRNN")
        cell = IndRNNCell(
            units=units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            timesteps=timesteps,
            last_layer=last_layer,
            gamma=gamma,
            epsilon=epsilon,
            seed=seed,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="indrnn_cell",
        )
        spec = recurrence.activation_spec(cell.activation)
        if method != "auto":
            supported = recurrence.supported_methods(spec)
            if method not in supported:
                activation = keras.activations.serialize(cell.activation)
                raise ValueError(
                    f"IndRNN cannot run activation {activation!r} "
                    f"with method={method!r} (methods for it: {supported or 'none; use auto'}). "
                    f"Received: method={method!r}"
                )
            if unroll:
                raise ValueError(
                    "`unroll=True` unrolls Keras' loop over the cell, which only "
                    f"method='auto' uses. Received: method={method!r}, unroll=True"
                )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)
        self.method = method
        self._activation_spec = spec

    def resolve_method(self, timesteps):
        """The method that runs sequences of `timesteps` steps (None: Keras' loop over the cell).

        Args:
            timesteps: The static sequence length, or None if unknown.

        Returns:
            `"sequential"`, `"chunked"`, `"parallel"` or `None`.
        """
        if self.method == "auto":
            return (
                None if self.unroll else recurrence.select_method(self._activation_spec, timesteps)
            )
        if self.method != "sequential" and timesteps is None:
            raise ValueError(
                f"IndRNN method={self.method!r} needs a static number of timesteps; give the "
                "model a fixed-length Input or use method='auto'. Received: timesteps=None"
            )
        return self.method

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        method = self.resolve_method(sequences.shape[1])
        if method is None:
            return super().inner_loop(sequences, initial_state, mask=mask, training=training)
        cell = self.cell
        if training and cell.dropout > 0:
            # The mask RNN.call drew for this batch: shared by every step.
            dropout_mask = cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.expand_dims(dropout_mask, 1)
        # Time-major before the projection: moving (batch, T, input_dim) costs less than moving
        # (batch, T, units) when input_dim is small, and the loops run over the leading axis.
        sequences = ops.transpose(sequences, (1, 0, 2))
        projected = ops.matmul(sequences, ops.cast(cell.kernel, sequences.dtype))
        if cell.bias is not None:
            projected = projected + ops.cast(cell.bias, sequences.dtype)
        if mask is not None:
            mask = ops.transpose(ops.cast(mask, "bool"), (1, 0))
        if self.go_backwards:
            projected = ops.flip(projected, 0)
            mask = None if mask is None else ops.flip(mask, 0)
        initial = initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state
        states = recurrence.compute_states(
            projected,
            cell.recurrent_kernel,
            initial,
            mask=mask,
            activation=cell.activation,
            method=method,
        )
        outputs = states
        if mask is not None and self.zero_output_for_mask:
            outputs = ops.where(ops.expand_dims(mask, -1), states, ops.zeros_like(states))
        last_output = outputs[-1]
        if self.return_sequences:
            outputs = ops.transpose(outputs, (1, 0, 2))
        else:
            outputs = ops.expand_dims(last_output, 1)
        return last_output, outputs, [states[-1]]

    def call(self, sequences, initial_state=None, mask=None, training=False):
        try:
            return super().call(
                sequences, initial_state=initial_state, mask=mask, training=training
            )
        finally:
            # Keras resets masks of its own mixin; this also covers the fallback mixin.
            self.cell.reset_dropout_mask()

    # The cell's settings, read through the layer as on Keras' SimpleRNN (`layer.units`).
    units = _cell_property("units")
    activation = _cell_property("activation")
    use_bias = _cell_property("use_bias")
    kernel_initializer = _cell_property("kernel_initializer")
    recurrent_initializer = _cell_property("recurrent_initializer")
    bias_initializer = _cell_property("bias_initializer")
    kernel_regularizer = _cell_property("kernel_regularizer")
    recurrent_regularizer = _cell_property("recurrent_regularizer")
    bias_regularizer = _cell_property("bias_regularizer")
    kernel_constraint = _cell_property("kernel_constraint")
    recurrent_constraint = _cell_property("recurrent_constraint")
    bias_constraint = _cell_property("bias_constraint")
    dropout = _cell_property("dropout")
    timesteps = _cell_property("timesteps")
    last_layer = _cell_property("last_layer")
    gamma = _cell_property("gamma")
    epsilon = _cell_property("epsilon")
    seed = _cell_property("seed")

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        return {**config, **self.cell._arguments(), "method": self.method}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
