"""UCF101 frame features as sequence classification (np-RNN's action-recognition setup).

`ucf101_features`: video clips from TFDS `ucf101`, a fixed number of frames per clip, each frame
turned into a feature vector by a frozen image CNN; the features are computed once and can be
cached to disk.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_rnninit._task_info import TaskInfo
from keras_rnninit._validation import check_int
from keras_rnninit.tasks.clips import check_split_arguments, segment_indices, validation_mask
from keras_rnninit.tasks.common import (
    AUTOTUNE,
    DatasetUnavailableError,
    TaskData,
    check_reachable,
    finish,
    steps_per_split,
)

UCF101_CLASSES = 101


_UCF101_URL = "https://storage.googleapis.com/thumos14_files/UCF101_videos.zip"


def _load_ucf101(name, split, data_dir, download):
    """`tfds.load`, first without downloading; offline, a clear error at once instead of
    minutes of retries and a partial folder in the TFDS data directory."""
    import tensorflow_datasets as tfds  # Imported here: slow, only needed for TFDS data.

    try:
        return tfds.load(name, split=split, data_dir=data_dir, download=False, shuffle_files=False)
    except Exception as error:  # tfds raises its own (not exported) not-found errors.
        if not download:
            raise
        missing = error
    instructions = (
        f'On a machine with network run `python -c "import tensorflow_datasets as tfds; '
        f"tfds.load('{name}', data_dir='DIR')\"` (about 6.5 GB), copy DIR here and pass it as "
        f"data_dir (examples/action_recognition.py --dataset ucf101 --data-dir DIR). "
        f"({type(missing).__name__}: not prepared in data_dir={data_dir!r}.)"
    )
    check_reachable(_UCF101_URL, "UCF101", instructions)
    try:
        return tfds.load(name, split=split, data_dir=data_dir, download=True, shuffle_files=False)
    except Exception as error:
        raise DatasetUnavailableError(
            f"Downloading UCF101 failed ({error}). {instructions}"
        ) from error


def _application(name):
    """The keras.applications constructor and preprocessing function called `name`."""
    import keras

    table = {
        "MobileNetV2": (keras.applications.MobileNetV2, keras.applications.mobilenet_v2),
        "ResNet50": (keras.applications.ResNet50, keras.applications.resnet50),
        "InceptionV3": (keras.applications.InceptionV3, keras.applications.inception_v3),
        "EfficientNetB0": (keras.applications.EfficientNetB0, keras.applications.efficientnet),
        "VGG16": (keras.applications.VGG16, keras.applications.vgg16),
    }
    if name not in table:
        raise ValueError(
            f"ucf101_features expects `feature_extractor` to be a keras.Model or one of "
            f"{sorted(table)}. Received: feature_extractor={name!r}"
        )
    constructor, module = table[name]
    return constructor, module.preprocess_input


def _extract_features(dataset, model, preprocess, frames, image_size, extract_batch_size):
    """Runs the frozen CNN over every sampled frame; returns (clips, frames, features), labels."""
    features, labels = [], []
    for videos, batch_labels in dataset.batch(extract_batch_size).as_numpy_iterator():
        images = videos.reshape(-1, image_size, image_size, 3)
        if preprocess is not None:
            # keras.applications preprocessing works in place; the iterator's arrays are read-only.
            images = preprocess(images.copy())
        # predict_on_batch works on every backend and never builds a tf.data graph of the model.
        output = np.asarray(model.predict_on_batch(images))
        features.append(output.reshape(len(videos), frames, -1).astype(np.float32))
        labels.append(batch_labels.astype(np.int32))
    return np.concatenate(features), np.concatenate(labels)


def ucf101_features(
    *,
    config="ucf101_1_256",
    frames=16,
    image_size=224,
    feature_extractor="MobileNetV2",
    weights="imagenet",
    batch_size=32,
    validation_fraction=0.1,
    extract_batch_size=8,
    shuffle_buffer=10_000,
    seed=0,
    data_dir=None,
    cache_dir=None,
    download=True,
):
    """UCF101 action recognition from per-frame CNN features (np-RNN's video task).

    Clips come from the TFDS `ucf101` dataset (`config` chooses the official train/test split
    1, 2 or 3; `"ucf101_1_256"` is split 1 with frames resized to 256 x 256). From each clip
    `frames` frames are taken, the middle of `frames` equal segments, resized to `image_size`,
    and passed through a frozen image CNN (`include_top=False`, global average pooling), so every
    clip becomes a `(frames, features)` sequence for a recurrent classifier. The features are
    computed once, in Python batches with `predict_on_batch` (any Keras backend), and written to
    `cache_dir` when given. The validation split is a seeded random `validation_fraction` of the
    training clips (TFDS does not expose UCF101's group ids, so clips of one group can fall on
    both sides; the official test split has no such overlap).

    Downloads: `tfds.load` fetches UCF101 (6.5 GB) and `weights="imagenet"` fetches the CNN's
    ImageNet weights on first use; without network access prepare both beforehand.

    Chance level: 1/101 ~ 1 % accuracy.

    Args:
        config: TFDS builder config, e.g. `"ucf101_1_256"`, `"ucf101_2"`. Defaults to
            `"ucf101_1_256"`.
        frames: Frames per clip, `>= 1`. Defaults to `16`.
        image_size: Side of the square CNN input, `>= 32`. Defaults to `224`.
        feature_extractor: A `keras.applications` name (`"MobileNetV2"`, `"ResNet50"`,
            `"InceptionV3"`, `"EfficientNetB0"`, `"VGG16"`) or a `keras.Model` mapping float32
            images in [0, 255] of shape `(image_size, image_size, 3)` to feature vectors (its
            `name` then goes into the cache file name). Defaults to `"MobileNetV2"`.
        weights: Weights of a named extractor: `"imagenet"`, `None` (random, for tests) or a
            file path. Defaults to `"imagenet"`.
        batch_size: Clips per training batch, `>= 1`. Defaults to `32`.
        validation_fraction: Share of training clips held out, in (0, 1). Defaults to `0.1`.
        extract_batch_size: Clips per CNN call while extracting, `>= 1`. Defaults to `8`.
        shuffle_buffer: Shuffle buffer of the training split, `>= 1`. Defaults to `10_000`.
        seed: Non-negative integer for the validation subset and shuffling. Defaults to `0`.
        data_dir: TFDS data directory. Defaults to `None` (TFDS's default).
        cache_dir: Folder for `.npz` feature caches, or `None` to recompute. Defaults to `None`.
        download: Let TFDS download and prepare the data if missing. Defaults to `True`.

    Returns:
        A `keras_rnninit.tasks.TaskData`; batches are `(inputs (B, frames, features) float32,
        labels (B,) int32)`.

    Example:

    ```python
    data = keras_rnninit.tasks.ucf101_features(frames=16, cache_dir="features")
    ```

    Reference:
        - [Talathi & Vartak, 2015 (np-RNN)](https://arxiv.org/abs/1511.03771)
        - [Soomro et al., 2012 (UCF101)](https://arxiv.org/abs/1212.0402)
    """
    import keras

    owner = "ucf101_features"
    if not isinstance(config, str) or not config.startswith("ucf101"):
        raise ValueError(f"{owner} expects a ucf101 TFDS config name. Received: config={config!r}")
    frames = check_int("frames", frames, minimum=1, owner=owner)
    image_size = check_int("image_size", image_size, minimum=32, owner=owner)
    extract_batch_size = check_int("extract_batch_size", extract_batch_size, minimum=1, owner=owner)
    batch_size, shuffle_buffer, seed, validation_fraction = check_split_arguments(
        owner, batch_size, shuffle_buffer, seed, validation_fraction
    )

    if isinstance(feature_extractor, keras.Model):
        model, preprocess, extractor_name = feature_extractor, None, feature_extractor.name
    else:
        constructor, preprocess = _application(feature_extractor)
        model, extractor_name = None, feature_extractor

    def clip_to_frames(example):
        video = example["video"]
        index = segment_indices(tf.shape(video)[0], frames)
        chosen = tf.cast(tf.gather(video, index), tf.float32)
        label = tf.cast(example["label"], tf.int32)
        return tf.image.resize(chosen, [image_size, image_size]), label

    arrays = {}
    for split in ("train", "test"):
        cache_file = None
        if cache_dir is not None:
            weights_tag = "none" if weights is None else Path(str(weights)).stem
            cache_file = Path(cache_dir) / (
                f"{config}_{split}_{extractor_name}_{weights_tag}_{frames}f_{image_size}px.npz"
            )
            if cache_file.is_file():
                with np.load(cache_file) as cached:
                    arrays[split] = (cached["features"], cached["labels"])
                continue
        if model is None:
            try:
                model = constructor(
                    include_top=False,
                    weights=weights,
                    input_shape=(image_size, image_size, 3),
                    pooling="avg",
                )
            except Exception as error:  # get_file raises bare Exceptions for URL failures.
                if weights is None or Path(str(weights)).is_file():
                    raise
                raise DatasetUnavailableError(
                    f"The {weights!r} weights of {feature_extractor} could not be loaded "
                    f"({error}). Run keras.applications.{feature_extractor}(include_top=False) "
                    "once on a machine with network and copy ~/.keras/models/ here, or pass "
                    "a cache_dir (--cache-dir) that already holds the features."
                ) from error
            model.trainable = False
        clips = _load_ucf101(f"ucf101/{config}", split, data_dir, download).map(
            clip_to_frames, num_parallel_calls=AUTOTUNE
        )
        arrays[split] = _extract_features(
            clips, model, preprocess, frames, image_size, extract_batch_size
        )
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache_file, features=arrays[split][0], labels=arrays[split][1])

    train_features, train_labels = arrays["train"]
    if len(train_labels) < 2:
        raise ValueError(f"{owner} needs at least 2 training clips. Received: {len(train_labels)}")
    held_out = validation_mask(len(train_labels), validation_fraction, seed)
    split_arrays = {
        "train": (train_features[~held_out], train_labels[~held_out]),
        "validation": (train_features[held_out], train_labels[held_out]),
        "test": arrays["test"],
    }
    if len(split_arrays["train"][1]) < batch_size:
        raise ValueError(
            f"{owner} has {len(split_arrays['train'][1])} training clips, fewer than one batch. "
            f"Received: batch_size={batch_size}"
        )
    datasets = {
        split: finish(
            tf.data.Dataset.from_tensor_slices(split_arrays[split]),
            batch_size=batch_size,
            shuffle=split == "train",
            seed=seed,
            shuffle_buffer=shuffle_buffer,
            drop_remainder=split == "train",
        )
        for split in ("train", "validation", "test")
    }
    sizes = {split: int(len(labels)) for split, (_, labels) in split_arrays.items()}
    feature_size = int(train_features.shape[-1])
    info = {
        "name": "ucf101_features",
        "input_shape": (frames, feature_size),
        "input_dtype": "float32",
        "target_shape": (),
        "target_dtype": "int32",
        "output_kind": "classification",
        "num_classes": UCF101_CLASSES,
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["sparse_categorical_accuracy"],
        "baseline": {"accuracy": 1.0 / UCF101_CLASSES},
        "config": config,
        "timesteps": frames,
        "image_size": image_size,
        "feature_extractor": extractor_name,
        "weights": None if weights is None else str(weights),
        "batch_size": batch_size,
        "sizes": sizes,
        "steps": steps_per_split(sizes, batch_size),
        "seed": seed,
        "reference": "Talathi & Vartak 2015 (np-RNN): UCF101 action recognition",
    }
    return TaskData(datasets["train"], datasets["validation"], datasets["test"], TaskInfo(**info))
