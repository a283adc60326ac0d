"""Decoding WAV audio to log-mel spectrograms with core TensorFlow."""

from __future__ import annotations

import dataclasses

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class AudioOptions:
    """How audio is decoded.

    A clip is mixed to mono, resampled to `sample_rate`, cut or zero-padded to
    `duration` seconds (from its start), and turned into a log-mel spectrogram
    of shape [num_frames, num_mel_bins].

    Args:
        sample_rate: int. Rate every clip is resampled to, in Hz. Defaults to 16000.
        duration: float. Seconds kept. Defaults to 3.0.
        num_mel_bins: int. Defaults to 64.
        frame_length: int. STFT window, in samples. Defaults to 400 (25 ms).
        frame_step: int. STFT hop, in samples. Defaults to 160 (10 ms).
        fft_length: int. Defaults to 512.
        lower_edge_hertz: float. Lowest mel band edge. Defaults to 60.
        upper_edge_hertz: float or None. Highest mel band edge; None means the
            Nyquist frequency. Defaults to None.
        log_offset: float. Added before the logarithm, so silence stays finite.
            Defaults to 1e-6.
        output: `"log_mel"`, or `"waveform"` for the mono waveform at
            `sample_rate` ([num_samples], for models such as YAMNet that
            compute their own spectrogram). Defaults to `"log_mel"`.
    """

    sample_rate: int = 16000
    duration: float = 3.0
    num_mel_bins: int = 64
    frame_length: int = 400
    frame_step: int = 160
    fft_length: int = 512
    lower_edge_hertz: float = 60.0
    upper_edge_hertz: float | None = None
    log_offset: float = 1e-6
    output: str = "log_mel"

    def __post_init__(self):
        if self.output not in ("log_mel", "waveform"):
            raise ValueError(f"output must be 'log_mel' or 'waveform'. Received: {self.output!r}")
        for name in ("sample_rate", "num_mel_bins", "frame_length", "frame_step", "fft_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive. Received: {name}={getattr(self, name)}")
        if self.fft_length < self.frame_length:
            raise ValueError(
                "fft_length must be at least frame_length. Received: "
                f"fft_length={self.fft_length}, frame_length={self.frame_length}"
            )
        if self.num_samples < self.frame_length:
            raise ValueError(f"duration={self.duration} s is shorter than one frame")
        upper = self.upper_edge_hertz or self.sample_rate / 2
        if not 0 <= self.lower_edge_hertz < upper <= self.sample_rate / 2:
            raise ValueError(
                "Need 0 <= lower_edge_hertz < upper_edge_hertz <= sample_rate / 2. "
                f"Received: {self.lower_edge_hertz}, {self.upper_edge_hertz}"
            )

    @property
    def num_samples(self) -> int:
        return int(round(self.duration * self.sample_rate))

    @property
    def num_frames(self) -> int:
        return 1 + (self.num_samples - self.frame_length) // self.frame_step


def decode_wav(contents: tf.Tensor, options: AudioOptions | None = None) -> tf.Tensor:
    """Decodes WAV bytes to a mono float32 waveform of `options.num_samples`.

    Channels are averaged; the clip is resampled to `options.sample_rate`
    (band-limited, see `resample`), then cut or zero-padded from its start.

    Raises:
        tf.errors.InvalidArgumentError: for bytes that are no PCM WAV, or a
            truncated one.
    """
    options = options or AudioOptions()
    samples, source_rate = tf.audio.decode_wav(contents)
    mono = tf.reduce_mean(samples, axis=-1)
    # Resample only what is kept: a few seconds of a long file, not all of it.
    needed = (
        tf.cast(
            tf.math.ceil(
                options.num_samples * tf.cast(source_rate, tf.float64) / options.sample_rate
            ),
            tf.int32,
        )
        + 1
    )
    mono = mono[:needed]
    mono = resample(mono, source_rate, options.sample_rate)
    return fit_length(mono, options.num_samples)


def resample(waveform: tf.Tensor, source_rate, target_rate) -> tf.Tensor:
    """Resamples a 1-D signal by Fourier interpolation (band-limited).

    The spectrum is truncated (or zero-padded) to the new length, as
    `scipy.signal.resample` does: no aliasing when downsampling, exact for
    periodic signals.
    """
    source_rate = tf.cast(source_rate, tf.int64)
    target_rate = tf.cast(target_rate, tf.int64)
    length = tf.cast(tf.shape(waveform)[0], tf.int64)
    new_length = (length * target_rate + source_rate // 2) // source_rate

    def _resample():
        spectrum = tf.signal.rfft(waveform)
        shorter = tf.minimum(length, new_length)
        bins = tf.cast(new_length // 2 + 1, tf.int32)
        spectrum = tf.pad(spectrum[:bins], [[0, bins - tf.minimum(bins, tf.shape(spectrum)[0])]])
        # The bin at half the shorter length stands for two conjugate bins when
        # downsampling (so it doubles) and is shared by two when upsampling
        # (so it halves), as in scipy.signal.resample.
        nyquist_weight = tf.where(new_length < length, 2.0, 0.5)
        weights = tf.where(
            tf.logical_and(
                tf.equal(tf.range(bins, dtype=tf.int64), shorter // 2), tf.equal(shorter % 2, 0)
            ),
            nyquist_weight,
            1.0,
        )
        spectrum *= tf.cast(weights, spectrum.dtype)
        scale = tf.cast(new_length, tf.float32) / tf.cast(length, tf.float32)
        return tf.signal.irfft(spectrum, fft_length=[tf.cast(new_length, tf.int32)]) * scale

    same_rate = tf.logical_or(tf.equal(source_rate, target_rate), tf.equal(length, 0))
    return tf.cond(same_rate, lambda: waveform, _resample)


def fit_length(waveform: tf.Tensor, num_samples: int) -> tf.Tensor:
    """Cuts a 1-D signal to `num_samples` or pads it with trailing zeros."""
    waveform = waveform[:num_samples]
    padded = tf.pad(waveform, [[0, num_samples - tf.shape(waveform)[0]]])
    return tf.ensure_shape(padded, [num_samples])


def log_mel_spectrogram(waveform: tf.Tensor, options: AudioOptions | None = None) -> tf.Tensor:
    """log(mel power + offset) of [..., samples] waveforms: [..., frames, mel bins]."""
    options = options or AudioOptions()
    stft = tf.signal.stft(
        waveform,
        frame_length=options.frame_length,
        frame_step=options.frame_step,
        fft_length=options.fft_length,
        window_fn=tf.signal.hann_window,
        pad_end=False,
    )
    power = tf.math.square(tf.abs(stft))
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=options.num_mel_bins,
        num_spectrogram_bins=options.fft_length // 2 + 1,
        sample_rate=options.sample_rate,
        lower_edge_hertz=options.lower_edge_hertz,
        upper_edge_hertz=options.upper_edge_hertz or options.sample_rate / 2,
    )
    return tf.math.log(tf.tensordot(power, mel_matrix, 1) + options.log_offset)


def decode_audio(contents: tf.Tensor, options: AudioOptions | None = None) -> tf.Tensor:
    """WAV bytes to a [num_frames, num_mel_bins] log-mel spectrogram.

    With `options.output == "waveform"`, the [num_samples] mono waveform instead.

    Example:
    >>> wav = tf.audio.encode_wav(tf.zeros([8000, 2]), 44100)
    >>> decode_audio(wav, AudioOptions(duration=1.0)).shape
    TensorShape([98, 64])
    """
    options = options or AudioOptions()
    waveform = decode_wav(contents, options)
    if options.output == "waveform":
        return waveform
    return log_mel_spectrogram(waveform, options)
