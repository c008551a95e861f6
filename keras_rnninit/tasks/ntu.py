"""NTU RGB+D skeletons as sequence classification (IndRNN's action-recognition setup).

`ntu_skeletons`: 3-D skeletons of NTU RGB+D from the user's `.skeleton` files (or `.npy`
arrays), cross-subject and cross-view splits, 20 frames sampled per clip.
"""

import hashlib
import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_rnninit._task_info import TaskInfo
from keras_rnninit._validation import check_choice, check_int
from keras_rnninit.tasks.clips import check_split_arguments, segment_indices, validation_mask
from keras_rnninit.tasks.common import AUTOTUNE, TaskData, finish, steps_per_split

NTU_JOINTS = 25
# Standard NTU RGB+D protocols (Shahroudy et al., CVPR 2016).
NTU_CROSS_SUBJECT_TRAINING_SUBJECTS = (
    1,
    2,
    4,
    5,
    8,
    9,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    25,
    27,
    28,
    31,
    34,
    35,
    38,
)
NTU_CROSS_VIEW_TRAINING_CAMERAS = (2, 3)
NTU_BENCHMARKS = ("cross_subject", "cross_view")
# Zero-based index of the "middle of the spine" joint (joint 2 in the dataset's 1-based list).
_NTU_SPINE_MIDDLE = 1
_NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


def parse_ntu_name(name):
    """Reads setup, camera, performer, replication and action from an NTU RGB+D file name.

    Args:
        name: A file name or path containing `SsssCcccPpppRrrrAaaa`, e.g.
            `"S001C002P003R002A013.skeleton"`.

    Returns:
        A dict with integer `setup`, `camera`, `performer`, `replication` and `action`
        (1-based, as in the name).

    Example:

    ```python
    keras_rnninit.tasks.parse_ntu_name("S001C002P003R002A013.skeleton")["action"]  # 13
    ```
    """
    match = _NTU_NAME.search(Path(str(name)).name)
    if match is None:
        raise ValueError(
            f"parse_ntu_name expects a name like S001C002P003R002A013. Received: name={str(name)!r}"
        )
    keys = ("setup", "camera", "performer", "replication", "action")
    return dict(zip(keys, (int(group) for group in match.groups())))


def read_ntu_skeleton(path, max_bodies=2):
    """Parses one NTU RGB+D `.skeleton` text file into joint coordinates.

    The format (from the dataset's release): the frame count, then for every frame the body
    count and, per body, a line of 10 body values starting with the tracking `bodyID`, the joint
    count (25) and one line per joint of 12 values starting with the camera-space `x y z` in
    metres. Bodies are followed by `bodyID` across frames (their order inside a frame may
    change). When more than `max_bodies` bodies appear (the sensor sometimes tracks furniture or
    noise as a body), the ones with the largest motion (variance of their joints over the frames
    they appear in) are kept, in order of first appearance.

    Args:
        path: Path of a `.skeleton` file.
        max_bodies: Bodies kept, `>= 1`. Defaults to `2` (NTU's actions have one or two people).

    Returns:
        A float32 array `(frames, max_bodies, 25, 3)`; a body absent from a frame is zeros.
    """
    max_bodies = check_int("max_bodies", max_bodies, minimum=1, owner="read_ntu_skeleton")
    lines = iter(Path(path).read_text().split("\n"))
    try:
        frame_count = int(next(lines))
        bodies = {}  # bodyID -> {frame: (25, 3) array}
        for frame in range(frame_count):
            for _ in range(int(next(lines))):
                body_id = next(lines).split()[0]
                joint_count = int(next(lines))
                joints = np.array(
                    [next(lines).split()[:3] for _ in range(joint_count)], dtype=np.float32
                )
                if joints.shape != (NTU_JOINTS, 3):
                    raise ValueError(f"{joint_count} joints in frame {frame}")
                bodies.setdefault(body_id, {})[frame] = joints
    except (StopIteration, ValueError, IndexError) as error:
        raise ValueError(
            f"read_ntu_skeleton could not parse an NTU .skeleton file ({error}). "
            f"Received: path={str(path)!r}"
        ) from None

    def motion(track):
        stacked = np.stack(list(track.values()))
        return float(stacked.var(axis=0).sum()) if len(stacked) > 1 else 0.0

    ranked = sorted(bodies, key=lambda body: -motion(bodies[body]))[:max_bodies]
    kept = sorted(ranked, key=lambda body: min(bodies[body]))
    out = np.zeros((frame_count, max_bodies, NTU_JOINTS, 3), dtype=np.float32)
    for slot, body in enumerate(kept):
        for frame, joints in bodies[body].items():
            out[frame, slot] = joints
    return out


def _load_ntu_clip(path, max_bodies):
    if path.suffix == ".npy":
        array = np.asarray(np.load(path), dtype=np.float32)
        if array.ndim == 3:  # (frames, 25, 3): one body
            array = array[:, None]
        if array.ndim != 4 or array.shape[2:] != (NTU_JOINTS, 3):
            raise ValueError(
                "ntu_skeletons expects .npy arrays of shape (frames, bodies, 25, 3) or "
                f"(frames, 25, 3). Received: {path.name} with shape {array.shape}"
            )
        padded = np.zeros((len(array), max_bodies, NTU_JOINTS, 3), np.float32)
        padded[:, : min(max_bodies, array.shape[1])] = array[:, :max_bodies]
        return padded
    return read_ntu_skeleton(path, max_bodies=max_bodies)


def _center(clip):
    """Subtracts the first body's mean spine-middle position from every present joint."""
    present = np.any(clip != 0, axis=(2, 3))  # (frames, bodies)
    if not present[:, 0].any():
        return clip
    origin = clip[present[:, 0], 0, _NTU_SPINE_MIDDLE].mean(axis=0)
    return np.where(present[:, :, None, None], clip - origin, 0.0).astype(np.float32)


def _read_ntu_folder(data_dir, max_bodies, cache_dir):
    paths = sorted(
        p
        for p in Path(data_dir).rglob("*")
        if p.suffix in (".skeleton", ".npy") and _NTU_NAME.search(p.name)
    )
    if not paths:
        raise ValueError(
            "ntu_skeletons found no NTU .skeleton or .npy files (named like "
            f"S001C002P003R002A013.skeleton) under data_dir. Received: data_dir={str(data_dir)!r}"
        )
    cache_file = None
    if cache_dir is not None:
        # Keyed by the file list and settings, so a different folder never reads a stale cache.
        digest = hashlib.sha1(
            "\n".join([f"v1 bodies={max_bodies}"] + [p.name for p in paths]).encode()
        ).hexdigest()[:12]
        cache_file = Path(cache_dir) / f"ntu_skeletons_{len(paths)}_{digest}.npz"
        if cache_file.is_file():
            with np.load(cache_file) as cached:
                return (
                    [str(name) for name in cached["names"]],
                    cached["values"],
                    cached["lengths"],
                    [str(name) for name in cached["skipped"]],
                )
    names, clips, skipped = [], [], []
    for path in paths:
        clip = _load_ntu_clip(path, max_bodies)
        if len(clip) == 0 or not clip.any():
            # About 300 NTU clips have no skeleton at all; they cannot be classified.
            skipped.append(path.name)
            continue
        names.append(path.name)
        clips.append(clip)
    if not clips:
        raise ValueError(f"ntu_skeletons found only empty clips. Received: data_dir={data_dir!r}")
    lengths = np.array([len(clip) for clip in clips], dtype=np.int64)
    values = np.concatenate(clips)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            cache_file,
            names=np.array(names),
            values=values,
            lengths=lengths,
            skipped=np.array(skipped, dtype=str),
        )
    return names, values, lengths, skipped


def ntu_skeletons(
    *,
    data_dir,
    benchmark="cross_subject",
    frames=20,
    max_bodies=2,
    batch_size=128,
    validation_fraction=0.05,
    center=True,
    random_frames=True,
    shuffle_buffer=10_000,
    seed=0,
    cache_dir=None,
):
    """NTU RGB+D skeleton action recognition: 20 frames of 3-D joints -> one of 60 actions.

    Reads every file under `data_dir` (recursively) whose name holds the NTU code
    `SsssCcccPpppRrrrAaaa`: the dataset's `.skeleton` text files (see `read_ntu_skeleton`), or
    `.npy` arrays of shape `(frames, bodies, 25, 3)` (or `(frames, 25, 3)`) in metres, for data
    already converted. Each frame becomes a vector of `max_bodies * 25 * 3` coordinates (150 for
    two bodies, zeros for an absent body), optionally centred on the first body's mean
    spine-middle joint. Each clip is cut into `frames` equal segments and one frame is taken per
    segment: a random one in training (fresh every epoch, seeded), the middle one otherwise, as
    in the IndRNN paper.

    Splits (Shahroudy et al. 2016): `"cross_subject"` trains on performers
    `NTU_CROSS_SUBJECT_TRAINING_SUBJECTS` and tests on the others; `"cross_view"` trains on
    cameras 2 and 3 and tests on camera 1. The validation split is a seeded random
    `validation_fraction` of the training clips. Clips without any skeleton are skipped and
    listed in `info["skipped"]`.

    Chance level: 1/60 ~ 1.7 % accuracy (1/120 for NTU RGB+D 120 action codes above 60).
    Published (IndRNN): 4-layer IndRNN 78.58 % CS / 83.75 % CV, 6-layer 81.80 / 87.97.

    Args:
        data_dir: Folder with the `.skeleton` or `.npy` files. Required.
        benchmark: `"cross_subject"` or `"cross_view"`. Defaults to `"cross_subject"`.
        frames: Frames sampled per clip, `>= 1`. Defaults to `20`.
        max_bodies: Bodies kept per frame, `>= 1`. Defaults to `2`.
        batch_size: Clips per batch, `>= 1`. Defaults to `128`.
        validation_fraction: Share of training clips held out, in (0, 1). Defaults to `0.05`.
        center: Centre each clip on the first body's spine. Defaults to `True`.
        random_frames: Random frame per segment in training (else the middle one). Defaults
            to `True`.
        shuffle_buffer: Shuffle buffer of the training split, `>= 1`. Defaults to `10_000`.
        seed: Non-negative integer for the validation subset, shuffling and frame draws.
            Defaults to `0`.
        cache_dir: Folder for a `.npz` cache of the parsed files (parsing all 56 880 NTU files
            takes a long time), or `None`. Defaults to `None`.

    Returns:
        A `keras_rnninit.tasks.TaskData`; batches are `(inputs (B, frames, max_bodies * 75)
        float32, labels (B,) int32)` with labels `action - 1`. `info["names"]` lists each split's
        file names.

    Example:

    ```python
    data = keras_rnninit.tasks.ntu_skeletons(
        data_dir="nturgb+d_skeletons", benchmark="cross_view", cache_dir="cache")
    ```

    Reference:
        - [Li et al., 2018 (IndRNN)](https://arxiv.org/abs/1803.04831)
        - [Shahroudy et al., 2016 (NTU RGB+D)](https://arxiv.org/abs/1604.02808)
    """
    owner = "ntu_skeletons"
    if data_dir is None or not Path(data_dir).is_dir():
        raise ValueError(
            f"{owner} expects `data_dir` to be a folder. Received: data_dir={data_dir!r}"
        )
    check_choice("benchmark", benchmark, NTU_BENCHMARKS, owner=owner)
    frames = check_int("frames", frames, minimum=1, owner=owner)
    max_bodies = check_int("max_bodies", max_bodies, minimum=1, owner=owner)
    batch_size, shuffle_buffer, seed, validation_fraction = check_split_arguments(
        owner, batch_size, shuffle_buffer, seed, validation_fraction
    )
    for name, value in (("center", center), ("random_frames", random_frames)):
        if not isinstance(value, bool):
            raise ValueError(f"{owner} expects `{name}` to be a bool. Received: {name}={value!r}")

    names, values, lengths, skipped = _read_ntu_folder(data_dir, max_bodies, cache_dir)
    codes = [parse_ntu_name(name) for name in names]
    labels = np.array([code["action"] - 1 for code in codes], dtype=np.int32)
    if benchmark == "cross_subject":
        training = np.array([c["performer"] in NTU_CROSS_SUBJECT_TRAINING_SUBJECTS for c in codes])
    else:
        training = np.array([c["camera"] in NTU_CROSS_VIEW_TRAINING_CAMERAS for c in codes])
    if training.sum() < 2 or (~training).sum() < 1:
        raise ValueError(
            f"{owner} needs at least 2 training and 1 test clip for benchmark={benchmark!r}. "
            f"Received: {int(training.sum())} training and {int((~training).sum())} test clips"
        )
    train_positions = np.flatnonzero(training)
    held_out = validation_mask(len(train_positions), validation_fraction, seed)
    positions = {
        "train": train_positions[~held_out],
        "validation": train_positions[held_out],
        "test": np.flatnonzero(~training),
    }

    if len(positions["train"]) < batch_size:
        # The training split keeps full batches only.
        raise ValueError(
            f"{owner} has {len(positions['train'])} training clips, fewer than one batch. "
            f"Received: batch_size={batch_size}"
        )

    offsets = np.concatenate([[0], np.cumsum(lengths)])
    feature_size = max_bodies * NTU_JOINTS * 3

    def ragged(indices):
        clips = [values[offsets[i] : offsets[i + 1]] for i in indices]
        if center:
            clips = [_center(clip) for clip in clips]
        flat = np.concatenate(clips).reshape(-1, feature_size)
        return tf.RaggedTensor.from_row_lengths(flat, lengths[indices])

    def sample(clip, label, draw_seed=None):
        draws = None
        if draw_seed is not None:
            draws = tf.random.stateless_uniform([frames], tf.stack([draw_seed, seed]))
        index = segment_indices(tf.shape(clip)[0], frames, draws)
        return tf.gather(clip, index), label

    datasets = {}
    for split, indices in positions.items():
        dataset = tf.data.Dataset.from_tensor_slices((ragged(indices), labels[indices]))
        is_training = split == "train"
        if is_training:
            dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        if is_training and random_frames:
            # One int64 per clip from a seeded stream that is redrawn every epoch: fresh frame
            # choices each epoch, without stateful random ops inside a parallel map.
            draw_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
            dataset = tf.data.Dataset.zip(dataset, draw_seeds).map(
                lambda element, draw_seed: sample(*element, draw_seed),
                num_parallel_calls=AUTOTUNE,
                deterministic=True,
            )
        else:
            dataset = dataset.map(sample, num_parallel_calls=AUTOTUNE, deterministic=True)
        dataset = dataset.map(lambda x, y: (tf.reshape(x, [frames, feature_size]), y))
        datasets[split] = finish(
            dataset,
            batch_size=batch_size,
            shuffle=False,
            seed=seed,
            shuffle_buffer=shuffle_buffer,
            drop_remainder=is_training,
        )

    num_classes = 60 if labels.max() < 60 else 120
    sizes = {split: int(len(indices)) for split, indices in positions.items()}
    info = {
        "name": "ntu_skeletons",
        "input_shape": (frames, feature_size),
        "input_dtype": "float32",
        "target_shape": (),
        "target_dtype": "int32",
        "output_kind": "classification",
        "num_classes": num_classes,
        "loss": "sparse_categorical_crossentropy",
        "metrics": ["sparse_categorical_accuracy"],
        "baseline": {"accuracy": 1.0 / num_classes},
        "benchmark": benchmark,
        "timesteps": frames,
        "max_bodies": max_bodies,
        "center": center,
        "random_frames": random_frames,
        "names": {split: [names[i] for i in indices] for split, indices in positions.items()},
        "skipped": list(skipped),
        "batch_size": batch_size,
        "sizes": sizes,
        "steps": steps_per_split(sizes, batch_size),
        "seed": seed,
        "reference": "Li et al. 2018 (IndRNN): NTU RGB+D skeletons, 20 frames per clip",
    }
    return TaskData(datasets["train"], datasets["validation"], datasets["test"], TaskInfo(**info))
