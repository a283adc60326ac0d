"""Audio encoders over log-mel spectrograms: an LSTM, a small CNN, and aiSFX's sound-effects CNN."""

from __future__ import annotations

import keras
from keras import ops

from mmrec_tf.data.audio import AudioOptions
from mmrec_tf.encoders.backbone_encoder import BackboneEncoder

# aiSFX's front end (Guo et al., ISMIR 2020): 44.1 kHz, 2048-sample windows, hop 1024,
# 96 HTK mel bands over 0-22050 Hz, log10(10^4·mel + 1) scaled by its training maximum.
AISFX_MAXIMUM = 9.457798957824707
AISFX_FRAMES = 100


def aisfx_audio_options() -> AudioOptions:
    """Loader options giving aiSFX's input: 100 frames (2.35 s) of 96 mel bands at 44.1 kHz."""
    return AudioOptions(
        sample_rate=44100,
        duration=((AISFX_FRAMES - 1) * 1024 + 2048) / 44100,
        num_mel_bins=96,
        frame_length=2048,
        frame_step=1024,
        fft_length=2048,
        lower_edge_hertz=0.0,
        upper_edge_hertz=22050.0,
    )


@keras.saving.register_keras_serializable(package="mmrec_tf")
class AudioEncoder(BackboneEncoder):
    """Encodes log-mel spectrograms ([batch, frames, mel bins]) to vectors.

    Build one with `AudioEncoder.lstm()` (the design document's LSTM over
    frames), `AudioEncoder.small_cnn()`, or `mmrec_tf.encoders.aisfx_sound_effects()`
    (a CNN pretrained on sound effects). Any TF Hub audio model (YAMNet,
    VGGish) works through `HubEncoder` on waveforms instead.

    Args:
        backbone: a Keras model from spectrograms to vectors.
        **kwargs: standard layer arguments (`trainable=False` freezes the backbone).

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.encoders import AudioEncoder
    >>> AudioEncoder.lstm(units=16)(np.random.rand(2, 98, 64)).shape
    TensorShape([2, 16])
    """

    @classmethod
    def lstm(cls, units=64, num_mel_bins=64, **kwargs):
        """An LSTM reading the spectrogram frame by frame; its last state is the vector."""
        backbone = keras.Sequential(
            [keras.Input((None, num_mel_bins)), keras.layers.LSTM(units)], name="audio_lstm"
        )
        return cls(backbone, **kwargs)

    @classmethod
    def small_cnn(cls, output_dim=64, num_mel_bins=64, widths=(16, 32, 64), **kwargs):
        """A small 2-D CNN over (frames, mel bins), average-pooled."""
        inputs = keras.Input((None, num_mel_bins))
        x = keras.layers.Reshape((-1, num_mel_bins, 1))(inputs)
        for width in widths:
            x = keras.layers.Conv2D(width, 3, strides=2, padding="same", use_bias=False)(x)
            x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
        x = keras.layers.GlobalAveragePooling2D()(x)
        backbone = keras.Model(inputs, keras.layers.Dense(output_dim)(x), name="audio_cnn")
        return cls(backbone, **kwargs)

    def call(self, spectrograms, training=None):
        return self.backbone(ops.cast(spectrograms, self.compute_dtype), training=training)
