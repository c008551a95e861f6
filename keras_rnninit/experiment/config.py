"""The typed configuration of one training run, which the harness' functions read."""

import dataclasses


@dataclasses.dataclass
class RunConfig:
    """What one run of an example trains, for how long, and where its files go.

    `parse_args` fills every field from the command line; `RunConfig.from_namespace` turns its
    `argparse.Namespace` into this object, and `train_and_evaluate`, `make_optimizer` and
    `model_builder` read only this. The options an example adds of its own (`--embedding-dim`)
    are kept in `options`, so that `config.json` records the whole command line.

    Args:
        model: Network family, one of `keras_rnninit.models.MODEL_NAMES`. Defaults to `"indrnn"`.
        units: Units per layer, or `None` for the family's default. Defaults to `None`.
        layers: Recurrent layers, or `None` for the family's default. Defaults to `None`.
        timesteps: Sequence length T, or `None` where the task has none. Defaults to `None`.
        epochs: Training epochs. Defaults to `10`.
        steps_per_epoch: Batches per epoch, `None` for the whole training split. Defaults to
            `100`.
        validation_steps: Validation batches per epoch, `None` for all. Defaults to `10`.
        test_steps: Test batches at the end, `None` for all. Defaults to `20`.
        batch_size: Global batch size. Defaults to `32`.
        learning_rate: Adam's learning rate. Defaults to `1e-3`.
        lr_decay: `"none"` (constant) or `"cosine"`. Defaults to `"none"`.
        clip_value: Clip every gradient element to `[-v, v]`, or `None`. Defaults to `None`.
        clip_norm: Clip the global gradient norm, or `None`. Defaults to `None`.
        jit: Compile the training step with XLA. Defaults to `True`.
        quick: Whether `--quick` sizes were asked for. Defaults to `False`.
        tensorboard: Also log for TensorBoard under `output_dir/tensorboard`. Defaults to
            `False`.
        output_dir: Where every file goes. Defaults to `"runs/run"`.
        distribute: `"none"`, `"mirrored"` or `"multi-worker"`. Defaults to `"none"`.
        seed: Seed of every random draw. Defaults to `1337`.
        program: The example's name, for titles. Defaults to `"run"`.
        options: Dict of the example's own options. Defaults to `{}`.

    Example:

    ```python
    config = keras_rnninit.experiment.RunConfig(model="lstm", epochs=1, output_dir="runs/demo")
    ```
    """

    model: str = "indrnn"
    units: int | None = None
    layers: int | None = None
    timesteps: int | None = None
    epochs: int = 10
    steps_per_epoch: int | None = 100
    validation_steps: int | None = 10
    test_steps: int | None = 20
    batch_size: int = 32
    learning_rate: float = 1e-3
    lr_decay: str = "none"
    clip_value: float | None = None
    clip_norm: float | None = None
    jit: bool = True
    quick: bool = False
    tensorboard: bool = False
    output_dir: str = "runs/run"
    distribute: str = "none"
    seed: int = 1337
    program: str = "run"
    options: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_namespace(cls, namespace):
        """The configuration of an `argparse.Namespace` from `parse_args`.

        Args:
            namespace: The parsed command line. Attributes that are not fields go to `options`;
                fields it lacks keep their defaults.

        Returns:
            A `RunConfig`.
        """
        values = dict(vars(namespace))
        names = {field.name for field in dataclasses.fields(cls)} - {"options"}
        known = {name: values.pop(name) for name in names if name in values}
        return cls(**known, options=values)

    def arguments(self):
        """Every option of the run, the example's own included, as `config.json` records them."""
        fields = dataclasses.asdict(self)
        options = fields.pop("options")
        return dict(sorted({**fields, **options}.items()))


def as_run_config(config):
    """`config` itself when it is a `RunConfig`; otherwise the namespace converted."""
    if isinstance(config, RunConfig):
        return config
    return RunConfig.from_namespace(config)
