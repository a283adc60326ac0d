"""aiSFX's sound-effects embedding CNN (Guo et al., ISMIR 2020) in Keras 3."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from mmrec_tf.data.audio import AudioOptions
from mmrec_tf.encoders.audio import AISFX_MAXIMUM

EMBEDDING_DIM = 512
_WIDTHS = (64, 128, 256, 512)


def aisfx_embedding_net(num_mel_bins: int = 96) -> keras.Model:
    """aiSFX's EmbeddingNet: four blocks of two 3×3 conv-BN-ReLU, 2×2 max pooling
    after the first three, the mean over mel bands, the maximum over time.

    Input: [batch, frames, num_mel_bins] spectrograms on aiSFX's scale (see
    `AisfxInput`). Output: 512-d embeddings. Layers are named after the
    PyTorch modules (`conv_block1.conv1` is `conv_block1_conv1`).
    """
    inputs = keras.Input((None, num_mel_bins), name="spectrogram")
    x = keras.layers.Reshape((-1, num_mel_bins, 1))(inputs)
    for block, width in enumerate(_WIDTHS, start=1):
        for conv in (1, 2):
            x = keras.layers.Conv2D(
                width, 3, padding="same", use_bias=False, name=f"conv_block{block}_conv{conv}"
            )(x)
            x = keras.layers.BatchNormalization(
                epsilon=1e-5, momentum=0.9, name=f"conv_block{block}_bn{conv}"
            )(x)
            x = keras.layers.ReLU()(x)
        if block < len(_WIDTHS):
            x = keras.layers.MaxPooling2D(2, name=f"conv_block{block}_pool")(x)
    x = keras.layers.Reshape((-1, x.shape[2], _WIDTHS[-1]))(x)
    outputs = _MeanOverBandsMaxOverTime(name="pool")(x)
    return keras.Model(inputs, outputs, name="aisfx_embedding_net")


@keras.saving.register_keras_serializable(package="mmrec_tf")
class _MeanOverBandsMaxOverTime(keras.layers.Layer):
    def call(self, x):
        return ops.max(ops.mean(x, axis=2), axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package="mmrec_tf")
class AisfxInput(keras.layers.Layer):
    """Maps mmrec-tf log-mel spectrograms onto aiSFX's input scale.

    mmrec-tf gives log(mel power + offset) with TensorFlow's unnormalised
    triangular filters; aiSFX was trained on log10(10⁴·mel + 1) / 9.4578 with
    filters of unit sum (librosa's `norm=1`). This layer divides each band by
    its filter's sum and rescales. The front end stays an approximation:
    TensorFlow interpolates the triangles on the mel scale, librosa in hertz,
    and aiSFX also peak-normalises each clip, which the loaders do not.

    Args:
        band_sums: the sum of each mel filter's weights (`num_mel_bins` floats).
        log_offset: the offset the loader added before the logarithm.
    """

    def __init__(self, band_sums, log_offset=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.band_sums = [float(b) for b in band_sums]
        self.log_offset = float(log_offset)

    @classmethod
    def for_options(cls, options: AudioOptions, **kwargs):
        matrix = tf.signal.linear_to_mel_weight_matrix(
            options.num_mel_bins,
            options.fft_length // 2 + 1,
            options.sample_rate,
            options.lower_edge_hertz,
            options.upper_edge_hertz or options.sample_rate / 2,
        )
        return cls(np.asarray(matrix).sum(axis=0), options.log_offset, **kwargs)

    def call(self, log_mel):
        power = ops.maximum(ops.exp(log_mel) - self.log_offset, 0.0)
        normalized = power / ops.convert_to_tensor(np.maximum(self.band_sums, 1e-12), power.dtype)
        return ops.log10(normalized * 1e4 + 1.0) / AISFX_MAXIMUM

    def get_config(self):
        config = super().get_config()
        config.update({"band_sums": self.band_sums, "log_offset": self.log_offset})
        return config


def load_aisfx_weights(model: keras.Model, state_dict: dict) -> None:
    """Copies aiSFX's `embedding_net.*` weights into `aisfx_embedding_net()`."""
    for layer in model.layers:
        if not layer.weights:
            continue
        key = "embedding_net." + layer.name.replace("_conv", ".conv").replace("_bn", ".bn")
        if isinstance(layer, keras.layers.BatchNormalization):
            values = [
                state_dict[f"{key}.{n}"] for n in ("weight", "bias", "running_mean", "running_var")
            ]
        else:
            values = [state_dict[f"{key}.weight"].transpose(2, 3, 1, 0)]
        for weight, value in zip(layer.weights, values, strict=True):
            if tuple(weight.shape) != value.shape:
                raise ValueError(f"{layer.name}: shape {tuple(weight.shape)} != {value.shape}")
        layer.set_weights([np.asarray(v, np.float32) for v in values])
