"""Raw item content to the recommender's item vector, in TensorFlow ops a SavedModel can hold."""

from __future__ import annotations

import tensorflow as tf

from mmrec_tf.data.audio import AudioOptions, decode_audio
from mmrec_tf.data.image import ImageOptions, decode_image
from mmrec_tf.data.text import TextOptions, TextTokenizer
from mmrec_tf.data.video import VideoOptions, decode_frames
from mmrec_tf.names import ENCODER_DTYPES

DEFAULT_OPTIONS = {
    "text": TextOptions,
    "image": ImageOptions,
    "audio": AudioOptions,
    "video": VideoOptions,
}


def in_dtype(encoder, dtype: str):
    """A copy of `encoder` whose weights are stored, and which computes, in `dtype`.

    The encoder is rebuilt from its config with every layer's dtype policy set to
    `dtype` (sublayers name their own policy, so a global policy would not reach
    them), and its weights are copied across, rounded. Item vectors stay float32:
    `ContentEmbedding` casts each encoder's output before fusing. An encoder whose
    weights are not its own (a `HubEncoder` holds those of its SavedModel) is refused.

    Example:
    ```python
    half = in_dtype(ImageEncoder.small(output_dim=8), "float16")
    ```
    """
    import keras

    if dtype not in ENCODER_DTYPES:
        raise ValueError(f"no encoder dtype {dtype!r}; choose one of {list(ENCODER_DTYPES)}")
    if dtype == encoder.dtype_policy.name:
        return encoder
    config = _with_dtype(keras.saving.serialize_keras_object(encoder), dtype)
    rebuilt = keras.saving.deserialize_keras_object(config)
    if encoder.built and not rebuilt.built:
        rebuilt.build_from_config(encoder.get_build_config())
    kept = sorted({w.path for w in rebuilt.weights if w.dtype not in (dtype, *_NOT_FLOAT)})
    if kept:
        raise ValueError(
            f"the {encoder.name} encoder ({type(encoder).__name__}) cannot be stored in "
            f"{dtype}: its weights {kept[:3]} keep their dtype; export its content tower "
            "in float32"
        )
    rebuilt.set_weights(encoder.get_weights())
    return rebuilt


_NOT_FLOAT = ("int32", "int64", "bool", "string")


def _with_dtype(config, dtype):
    """`config` (a serialized layer) with every float dtype policy set to `dtype`."""
    if isinstance(config, list):
        return [_with_dtype(entry, dtype) for entry in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "DTypePolicy":
        return {**config, "config": {**config["config"], "name": dtype}}
    return {
        key: dtype if key == "dtype" and value in ENCODER_DTYPES else _with_dtype(value, dtype)
        for key, value in config.items()
    }


def raw_content_signature(modalities, num_frames: int | None = None) -> dict:
    """The `embed_items` inputs: `text` string [B]; `image` encoded image bytes [B];
    `audio` WAV bytes [B]; `video` encoded frame images [B, T]. An empty string
    (every frame empty, for video) means the item lacks the modality."""
    shapes = {"text": [None], "image": [None], "audio": [None], "video": [None, num_frames]}
    return {m: tf.TensorSpec(shapes[m], tf.string, name=m) for m in sorted(modalities)}


class ContentEmbedding(tf.Module):
    """Decodes raw content, runs each modality's encoder, and fuses as `model` does.

    Args:
        model: a `MultimodalRecommender` (its projections, attention and fusion).
        encoders: {modality: encoder layer} for every modality of the model: the
            frozen encoders its features were extracted with (cached mode) or
            the model's own (end-to-end mode).
        options: {modality: TextOptions | ImageOptions | AudioOptions |
            VideoOptions}, as the features were decoded; defaults per modality.
    """

    def __init__(self, model, encoders: dict, options: dict | None = None):
        super().__init__(name="content_embedding")
        missing = sorted(set(model.modalities) - set(encoders))
        if missing:
            raise ValueError(
                f"embedding items from content needs an encoder for each modality of the model; "
                f"missing: {missing}"
            )
        self.model = model
        self.encoders = {m: encoders[m] for m in model.modalities}
        self.options = {m: (options or {}).get(m) or DEFAULT_OPTIONS[m]() for m in self.encoders}
        if "text" in self.options:
            self.tokenizer = TextTokenizer(self.options["text"])

    def embed(self, inputs: dict) -> tf.Tensor:
        """Item vectors [B, embedding_dim] from `inputs` (see `raw_content_signature`)."""
        features, present = {}, {}
        for modality, encoder in self.encoders.items():
            raw = inputs[modality]
            if modality == "video":
                present[modality] = tf.reduce_any(tf.strings.length(raw) > 0, axis=1)
            else:
                present[modality] = tf.strings.length(raw) > 0
            encoded = encoder(self._decode(modality, raw, present[modality]), training=False)
            features[modality] = tf.cast(encoded, tf.float32)
        return self.model.fuse_content(features, present, training=False)

    def _decode(self, modality, raw, present):
        options = self.options[modality]
        if modality == "text":
            if options.output == "string":
                return raw
            tokens = self.tokenizer(raw)
            return {"token_ids": tokens["token_ids"], "padding_mask": tokens["padding_mask"]}
        decode = {"image": decode_image, "audio": decode_audio, "video": decode_frames}[modality]
        shape = _decoded_shape(modality, options)

        def one(args):
            contents, available = args
            return tf.cond(
                available,
                lambda: tf.ensure_shape(decode(contents, options), shape),
                lambda: tf.zeros(shape, tf.float32),
            )

        return tf.map_fn(one, (raw, present), fn_output_signature=tf.TensorSpec(shape, tf.float32))


def _decoded_shape(modality, options) -> list[int]:
    if modality == "image":
        return [*options.size, 3]
    if modality == "video":
        return [options.num_frames, *options.size, 3]
    if options.output == "waveform":
        return [options.num_samples]
    return [options.num_frames, options.num_mel_bins]
