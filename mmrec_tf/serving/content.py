"""Raw item content to the recommender's item vector, in TensorFlow ops a SavedModel can hold."""

from __future__ import annotations

import tensorflow as tf

from mmrec_tf.data.audio import AudioOptions, decode_audio
from mmrec_tf.data.image import ImageOptions, decode_image
from mmrec_tf.data.text import TextOptions, TextTokenizer
from mmrec_tf.data.video import VideoOptions, decode_frames

DEFAULT_OPTIONS = {
    "text": TextOptions,
    "image": ImageOptions,
    "audio": AudioOptions,
    "video": VideoOptions,
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
