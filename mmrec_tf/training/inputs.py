"""What a run's model reads besides interactions: cached features, or raw content and the
encoders that turn it into them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from mmrec_tf.data.feature_cache import FeatureCache
from mmrec_tf.names import MODALITIES


@dataclasses.dataclass(frozen=True)
class ModelInputs:
    """A dataset's item content as a run's configuration reads it: `features`
    ({modality: [num_items, d]}) and `present` (their presence flags) in cached
    mode, or `content` (`ItemContent`, every item's decoded content) end to end."""

    features: dict
    present: dict
    content: object = None

    @classmethod
    def of(cls, config: Mapping, dataset) -> ModelInputs:
        """The inputs a resolved configuration (`resolve_config`) names, for `dataset`."""
        if config["end_to_end"] is not None:
            return cls({}, {}, load_item_content(dataset, config["end_to_end"]))
        if config["features"] is None:
            return cls({}, {})
        return cls(*load_features(dataset, config["features"], config["modalities"]))


def load_features(dataset, features_dir: str | Path, modalities=None):
    """`extract-features` output: {modality: [num_items, d]} and presence flags, checked
    against the dataset's item order (`FeatureCache.load`)."""
    return FeatureCache(features_dir).load(dataset, modalities)


def end_to_end_options(end_to_end: Mapping) -> dict:
    """The loader options (`{modality: options}`) a checked `end_to_end` object's
    encoders read."""
    from mmrec_tf.encoders.trainable import loader_options

    loaders = {}
    for modality in end_to_end["modalities"] or MODALITIES:
        name = end_to_end["encoders"].get(modality, "builtin")
        loaders.update(loader_options(modality, name, **_encoder_sizes(end_to_end)))
    return loaders


def end_to_end_encoders(end_to_end: Mapping, modalities) -> dict:
    """{modality: encoder} for a checked `end_to_end` object (untrained or pretrained)."""
    from mmrec_tf.encoders.trainable import end_to_end_encoder

    encoders = {}
    for m in modalities:
        name = end_to_end["encoders"].get(m, "builtin")
        encoders[m] = end_to_end_encoder(m, name, **_encoder_sizes(end_to_end))
        if m in end_to_end["frozen"]:
            encoders[m].trainable = False
    return encoders


def _encoder_sizes(end_to_end: Mapping) -> dict:
    keys = ("image_size", "video_frames", "video_size", "text_length")
    return {key: end_to_end[key] for key in keys}


def load_item_content(dataset, end_to_end: Mapping):
    """Every item's decoded content at the sizes a checked `end_to_end` object asks for."""
    from mmrec_tf.data import ItemContent, ItemLoader

    loader = ItemLoader(dataset, end_to_end["modalities"], **end_to_end_options(end_to_end))
    return ItemContent.from_loader(loader)


def content_encoders(run_config: Mapping, model) -> tuple[dict, dict]:
    """({modality: encoder}, {modality: decoding options}) that turn raw content into
    the features `model` was trained on: the extractors named in the features'
    metadata (cached mode, checked against the recorded weight checksums) or the
    model's own encoders (end-to-end). Empty when the model has no content."""
    from mmrec_tf.encoders.extract import build_extractor

    modalities = model.modalities
    if not modalities:
        return {}, {}
    if run_config.get("end_to_end") is not None:
        return model.content_encoders(), end_to_end_options(run_config["end_to_end"])
    encoders, options = {}, {}
    cache = FeatureCache(run_config["features"])
    for modality in modalities:
        metadata, metadata_path = cache.metadata(modality), cache.metadata_path(modality)
        extractor = build_extractor(metadata["spec"], modality)
        if extractor.weights_sha256() != metadata["weights_sha256"]:
            raise ValueError(
                f"the {metadata['spec']!r} encoder's weights differ from those that extracted "
                f"{metadata_path}: its features cannot be reproduced from raw content"
            )
        encoders[modality] = extractor.encoder
        options.update(extractor.options)
    return encoders, options
