"""Encoders to put inside a model and train on raw content (end-to-end mode), by name."""

from __future__ import annotations

import keras

from mmrec_tf.data import AudioOptions, ImageOptions, TextOptions, VideoOptions
from mmrec_tf.encoder_specs import ENCODERS, end_to_end_names
from mmrec_tf.names import MODALITIES

# The encoders an end-to-end model can hold, per modality (`mmrec_tf.encoder_specs`):
# "builtin" is `builtin_encoder`; the pretrained ones stay frozen.
END_TO_END_ENCODERS = {modality: end_to_end_names(modality) for modality in MODALITIES}
FROZEN = tuple(e.name for e in ENCODERS if e.end_to_end and e.pretrained)


def loader_options(
    modality: str, name: str, *, image_size, video_frames, video_size, text_length
) -> dict:
    """The `ItemLoader` options (`{modality: options}`) that encoder `name` reads."""
    if modality == "text":
        if name == "minilm":
            from mmrec_tf.encoders.pretrained import minilm_directory

            vocabulary = str(minilm_directory() / "vocab.txt")
            return {"text": TextOptions(sequence_length=text_length, vocabulary=vocabulary)}
        return {"text": TextOptions(sequence_length=text_length)}
    if modality == "image":
        return {"image": ImageOptions(size=tuple(image_size))}
    if modality == "video":
        return {"video": VideoOptions(num_frames=video_frames, size=tuple(video_size))}
    return {}


def end_to_end_encoder(
    modality: str, name: str, *, image_size, video_frames, video_size, text_length
) -> keras.layers.Layer:
    """The encoder `name` (one of `END_TO_END_ENCODERS[modality]`) for inputs of these sizes.

    Architectures start from random weights drawn from the caller's seed and
    train with the model: `"vgg16"` (keras.applications' VGG16 without its
    classifier, average-pooled), `"lstm"` (an LSTM over the log-mel frames),
    `"i3d"` (DeepMind's I3D). `"minilm"` and `"i3d:kinetics400"` are
    pretrained and frozen. `"builtin"` is `builtin_encoder(modality)`.
    """
    from mmrec_tf import encoders
    from mmrec_tf.encoders.extract import builtin_encoder

    if name not in END_TO_END_ENCODERS.get(modality, ()):
        raise ValueError(
            f"no end-to-end {modality} encoder {name!r}; choose one of "
            f"{', '.join(END_TO_END_ENCODERS.get(modality, ()))}"
        )
    if name == "builtin":
        return builtin_encoder(modality)
    if name == "minilm":
        encoder, _ = encoders.minilm(text_length)
    elif name == "vgg16":
        encoder = encoders.ImageEncoder.from_keras_applications(
            "VGG16", weights=None, input_shape=(*image_size, 3)
        )
    elif name == "lstm":
        encoder = encoders.AudioEncoder.lstm(num_mel_bins=AudioOptions().num_mel_bins)
    elif name == "i3d":
        if video_size[0] != video_size[1]:
            raise ValueError(f"i3d takes square frames. Received: video_size={video_size}")
        encoder = encoders.VideoEncoder.i3d(num_frames=video_frames, size=video_size[0])
    else:
        encoder = encoders.i3d_kinetics400(num_frames=video_frames, size=video_size[0])
    encoder.trainable = name not in FROZEN
    return encoder
