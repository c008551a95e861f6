"""The description of a task that every pipeline returns and the model builders read.

It lives outside `keras_rnninit.tasks` (which needs TensorFlow) so that `keras_rnninit.models`
and the example harness can share its vocabulary of output kinds on any install.
"""

from keras_rnninit._validation import check_choice, fail

# What a model predicts, in the words the tasks and the model builders share.
OUTPUT_KINDS = (
    "regression",
    "binary",
    "binary_per_step",
    "classification",
    "classification_per_step",
)
PER_STEP_OUTPUT_KINDS = ("binary_per_step", "classification_per_step")


class TaskInfo(dict):
    """A task's description: shapes, output kind, suggested loss and metrics, sizes and seeds.

    A `dict` of plain Python values (JSON-serialisable, so a run stores it in its
    `config.json`, and `info["num_classes"]` works as it always has) whose keys every task
    has are named, and checked, by the constructor, and read as attributes too
    (`info.num_classes`). A task adds its own keys (`timesteps`, `permutation`, `vocabulary`)
    as further keyword arguments.

    Args:
        name: The task's name (`"adding_problem"`).
        input_shape: One example's input shape, no batch axis, a tuple.
        input_dtype: `"float32"`, or `"int32"` for token ids.
        target_shape: One example's target shape, a tuple.
        target_dtype: The targets' dtype.
        output_kind: What a model predicts, one of `OUTPUT_KINDS`: `"regression"`, `"binary"`,
            `"binary_per_step"`, `"classification"` or `"classification_per_step"`.
        num_classes: Classes, or `None` for regression.
        loss: The suggested Keras loss, for a model whose last layer applies the matching
            activation (none for regression, sigmoid for binary, softmax for classification).
        metrics: The suggested Keras metrics, a list.
        batch_size: Examples per training batch.
        sizes: Dict of examples per split.
        steps: Dict of batches per split.
        seed: The seed the splits were drawn with, or `None`.
        baseline: What a trivial predictor scores (`{"mse": 1/6}`), or `None`. Defaults to
            `None`.
        reference: The paper the task comes from, or `None`. Defaults to `None`.
        **extra: The task's own keys.

    Example:

    ```python
    info = keras_rnninit.tasks.TaskInfo(
        name="demo", input_shape=(10, 2), input_dtype="float32", target_shape=(1,),
        target_dtype="float32", output_kind="regression", num_classes=None, loss="mse",
        metrics=["mse"], batch_size=8, sizes={"train": 8}, steps={"train": 1}, seed=0,
    )
    ```
    """

    _OPTIONAL = ("baseline", "reference", "vocabulary_size")

    def __init__(
        self,
        *,
        name,
        input_shape,
        input_dtype,
        target_shape,
        target_dtype,
        output_kind,
        num_classes,
        loss,
        metrics,
        batch_size,
        sizes,
        steps,
        seed,
        baseline=None,
        reference=None,
        **extra,
    ):
        check_choice("output_kind", output_kind, OUTPUT_KINDS, owner="TaskInfo")
        if output_kind != "regression" and num_classes is None:
            fail(
                "num_classes",
                num_classes,
                f"an int >= 2 for output_kind={output_kind!r}",
                owner="TaskInfo",
            )
        super().__init__(
            name=name,
            input_shape=tuple(input_shape),
            input_dtype=input_dtype,
            target_shape=tuple(target_shape),
            target_dtype=target_dtype,
            output_kind=output_kind,
            num_classes=num_classes,
            loss=loss,
            metrics=list(metrics),
            batch_size=batch_size,
            sizes=sizes,
            steps=steps,
            seed=seed,
        )
        # Left out rather than stored as None, so that each task's dict is what it always was.
        for key, value in (("baseline", baseline), ("reference", reference)):
            if value is not None:
                self[key] = value
        self.update(extra)

    def __getattr__(self, name):
        if name in self:
            return self[name]
        if name in self._OPTIONAL:
            return None
        raise AttributeError(f"TaskInfo has no key {name!r}")

    @property
    def per_step(self):
        """Whether the task predicts at every step rather than once per sequence."""
        return self["output_kind"] in PER_STEP_OUTPUT_KINDS
