"""Running a frozen encoder over every item and caching what it computes."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import random
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from mmrec_tf.data import (
    MODALITIES,
    AudioOptions,
    ImageOptions,
    MediaError,
    TextOptions,
    VideoOptions,
    load_dataset,
)
from mmrec_tf.data.feature_cache import FeatureCache, FeatureShard, item_ids_sha256
from mmrec_tf.encoder_specs import ENCODERS, extraction_entry, extraction_names
from mmrec_tf.encoders.inputs import encoder_inputs
from mmrec_tf.encoders.item_encoding import encode_items


@dataclasses.dataclass
class FeatureExtractor:
    """A frozen encoder with the loader options its input needs."""

    spec: str
    modality: str
    encoder: keras.layers.Layer
    options: dict = dataclasses.field(default_factory=dict)

    def inputs(self, batch: dict):
        inputs = encoder_inputs(self.modality, batch)
        if not isinstance(inputs, dict):
            return inputs
        # Trailing padding changes nothing (masked attention, mean over real tokens):
        # cut it to the batch's longest text, which makes short texts much cheaper.
        mask = inputs["padding_mask"]
        length = max(1, int(keras.ops.max(keras.ops.sum(keras.ops.cast(mask, "int32"), axis=1))))
        return {name: value[:, :length] for name, value in inputs.items()}

    def weights_sha256(self) -> str:
        digest = hashlib.sha256()
        for weight in self.encoder.weights:
            digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
        return digest.hexdigest()


def build_extractor(spec: str, modality: str) -> FeatureExtractor:
    """The encoder an `--encoder` spec names, for `modality` (`mmrec_tf.encoder_specs`)."""
    from mmrec_tf import encoders

    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}. Received: {modality!r}")
    kind, _, argument = spec.partition(":")
    # Keyed by `EncoderName.name`: which spec each builds, its modalities from the table.
    builders: dict[str, Callable] = {
        "builtin": lambda: (builtin_encoder(modality), {}),
        "minilm": lambda: _minilm(),
        "mobilenet_v2:imagenet": lambda: (encoders.mobilenet_v2_imagenet(), {}),
        "i3d:kinetics400": lambda: (
            encoders.i3d_kinetics400(),
            {"video": VideoOptions(num_frames=16, size=(224, 224))},
        ),
        "aisfx": lambda: (
            encoders.aisfx_sound_effects(),
            {"audio": encoders.aisfx_audio_options()},
        ),
        "keras_hub": lambda: _keras_hub(argument),
        "keras_applications": lambda: _keras_applications(argument),
        "tfhub": lambda: _tfhub(argument, modality),
    }
    # Names that fix their argument (`mobilenet_v2:imagenet`) are misspelt when it differs.
    fixed = {e.name.partition(":")[0]: e.name for e in ENCODERS if e.extracts and ":" in e.name}
    if kind in fixed and spec != fixed[kind]:
        raise ValueError(f"unknown encoder {spec!r}; did you mean {fixed[kind]!r}?")
    entry = extraction_entry(spec)
    if entry is None or modality not in entry.modalities:
        close = difflib.get_close_matches(spec, extraction_names(), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"encoder {spec!r} does not encode {modality}{hint} "
            "(`mmrec-tf extract-features --help` lists the encoders)"
        )
    builder = builders[entry.name]
    encoder, options = builder()
    encoder.trainable = False
    return FeatureExtractor(spec, modality, encoder, options)


def builtin_encoder(modality: str) -> keras.layers.Layer:
    """The small default encoder of `modality` (seeded: the same weights every time,
    so `export` can rebuild the encoder that extracted a run's features).

    The seed is local: whatever the program seeded before (a training
    configuration's `seed`) goes on unchanged after.
    """
    from mmrec_tf import encoders

    # Keras draws an unseeded initializer's seed from Python's `random`.
    outside = random.getstate()
    random.seed(0)
    try:
        if modality == "text":
            return encoders.TextEncoder.small()
        if modality == "image":
            return encoders.ImageEncoder.small()
        if modality == "audio":
            return encoders.AudioEncoder.small_cnn(num_mel_bins=AudioOptions().num_mel_bins)
        # Frames: a small summary of what they show (16-d), and the clip's motion (49 values).
        return encoders.FramePoolingVideoEncoder(
            encoders.ImageEncoder.small(output_dim=16), max_displacement=3
        )
    finally:
        random.setstate(outside)


def _minilm():
    from mmrec_tf import encoders

    encoder, text_options = encoders.minilm()
    return encoder, {"text": text_options}


def _keras_hub(preset):
    from mmrec_tf.encoders import TextEncoder

    if not preset:
        raise ValueError("keras_hub needs a preset name or directory: keras_hub:<preset>")
    encoder = TextEncoder.from_preset(preset)
    vocabulary = Path(preset) / "vocab.txt"
    if not vocabulary.is_file():
        vocabulary = _preset_vocabulary(preset)
    return encoder, {"text": TextOptions(sequence_length=256, vocabulary=str(vocabulary))}


def _preset_vocabulary(preset) -> Path:
    import keras_hub

    from mmrec_tf.encoders.pretrained import converted_weights_dir

    tokenizer = keras_hub.tokenizers.BertTokenizer.from_preset(preset)
    path = converted_weights_dir() / f"{str(preset).replace('/', '_')}.vocab.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(tokenizer.get_vocabulary()) + "\n", encoding="utf-8")
    return path


def _keras_applications(argument):
    from mmrec_tf.encoders import ImageEncoder

    name, _, weights = argument.partition(":")
    weights = {"": "imagenet", "none": None}.get(weights, weights)
    return ImageEncoder.from_keras_applications(name, weights=weights), {}


def _tfhub(handle, modality):
    from mmrec_tf.encoders import HubEncoder

    if not handle:
        raise ValueError("tfhub needs a handle or SavedModel directory: tfhub:<handle>")
    options = {
        "text": {"text": TextOptions(output="string")},
        "audio": {"audio": AudioOptions(output="waveform")},
        "image": {"image": ImageOptions()},
        "video": {"video": VideoOptions()},
    }
    return HubEncoder(handle), options[modality]


def extract_features(
    data: str | Path,
    modality: str,
    spec: str,
    out: str | Path,
    *,
    shard: FeatureShard | None = None,
    append: bool = False,
    batch_size: int = 32,
    chunk_size: int = 512,
    overwrite: bool = False,
    on_error: str = "raise",
    progress: bool = True,
) -> Path:
    """Encodes every item's `modality` and writes `out/<modality>.npy` and `.json`.

    Rows follow the dataset's item order; an item lacking the modality gets a
    row of zeros and is listed in the JSON (`missing_item_ids`). Items are
    encoded in batches of `batch_size` (memory is bounded by one batch) and
    saved in chunks of `chunk_size` items, each written atomically to
    `out/.<modality>.partial/`: an interrupted run resumes from its finished
    chunks when run again with the same encoder. Existing features are never
    replaced unless `overwrite`. A dataset where no item has `modality` is
    refused (`ValueError`): its features would all be missing.

    With `shard`, only that shard's items are encoded (see `FeatureShard`),
    into `out/<modality>.shards/`, resumable in the same way; once all N are
    there, `FeatureCache(out).merge_shards(modality)` (`mmrec-tf
    merge-features`) writes `out/<modality>.npy` and `.json`.

    With `append`, only the items that `out/<modality>.npy` lacks are encoded,
    resumably, and their rows appended: items added at the end of items.csv
    since, with the same encoder (`FeatureCache.check_append` refuses anything
    else). With no new item, nothing is written.

    Returns:
        The path of the `.npy` file (the shard's, with `shard`).
    """
    if append and (overwrite or shard is not None):
        raise ValueError(
            "--append adds the rows of new items to existing features: it goes with "
            "neither --overwrite nor --shard"
        )
    dataset = load_dataset(data)
    if not dataset.modality_available(modality).any():
        # All-zero features would only fail later, in training, and less clearly.
        raise ValueError(
            f"no item of {data} has {modality} (items.csv has no '{modality}' column or every "
            "cell is empty); nothing to extract"
        )
    out = Path(out)
    cache = FeatureCache(out)
    if cache.features_path(modality, shard).exists() and not (overwrite or append):
        raise FileExistsError(
            f"{cache.features_path(modality, shard)} exists; pass --overwrite to replace it"
            + ("" if shard else " (or --append to encode only the items it lacks)")
        )
    extractor = build_extractor(spec, modality)
    made_as = {
        "spec": spec,
        "modality": modality,
        "weights_sha256": extractor.weights_sha256(),
        "options": _describe(extractor.options),
    }
    first = cache.check_append(modality, dataset.item_ids, made_as) if append else 0
    items = shard.items(dataset.num_items) if shard else range(first, dataset.num_items)
    if not items:
        return cache.features_path(modality)  # an append with nothing new
    manifest = {**made_as, "item_ids_sha256": item_ids_sha256(dataset.item_ids)}
    if shard is not None:
        manifest |= {
            "shard_index": shard.index,
            "shard_count": shard.count,
            "num_items": dataset.num_items,
        }
    # The chunk size and where an append starts only say which rows the partial's files hold.
    chunking = {"chunk_size": chunk_size} | ({"first_item": first} if append else {})
    # Folders this run makes, deepest first: removed again if it leaves nothing in them.
    new_folders = [
        folder
        for folder in (cache.partial_folder(modality, shard).parent, out)
        if not folder.exists()
    ]
    partial = cache.partial(modality, manifest | chunking, overwrite, shard)
    try:
        features, listed = encode_items(
            extractor,
            dataset,
            items,
            partial,
            batch_size=batch_size,
            chunk_size=chunk_size,
            on_error=on_error,
            progress=progress,
        )
    except MediaError:
        # Finished chunks are kept for a rerun once the file is fixed; a run that
        # finished none leaves nothing behind.
        if not partial.has_any_chunk():
            partial.remove()
            for folder in new_folders:
                if folder.exists() and not any(folder.iterdir()):
                    folder.rmdir()
        raise
    if append:
        final = cache.append(modality, features, listed)
    else:
        final = cache.write(
            modality, features, manifest | {"dim": features.shape[1]} | listed, shard
        )
    partial.remove()
    return final


def _describe(options: dict) -> dict:
    return {name: dataclasses.asdict(value) for name, value in options.items()}
