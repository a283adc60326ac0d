import numpy as np
import pytest
import scipy.signal
import tensorflow as tf
from media_files import wav_bytes

from mmrec_tf.data import AudioOptions, decode_audio, decode_wav, log_mel_spectrogram, resample


def test_stereo_44k_is_mixed_to_mono_and_resampled():
    t = np.arange(44100) / 44100
    left, right = 0.6 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 440 * t)
    contents = wav_bytes(np.stack([left, right], axis=1), 44100)
    options = AudioOptions(sample_rate=16000, duration=1.0)
    waveform = decode_wav(contents, options).numpy()
    assert waveform.shape == (16000,)
    expected = 0.4 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    np.testing.assert_allclose(waveform, expected, atol=2e-3)


def test_resample_matches_scipy():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=4410).astype(np.float32)
    ours = resample(tf.constant(signal), 44100, 16000).numpy()
    np.testing.assert_allclose(ours, scipy.signal.resample(signal, 1600), atol=1e-4)
    odd = resample(tf.constant(signal[:4411]), 44100, 16000).numpy()  # 4411 -> 1600 samples
    np.testing.assert_allclose(odd, scipy.signal.resample(signal[:4411], 1600), atol=1e-4)
    for length in (800, 799):
        up = resample(tf.constant(signal[:length]), 8000, 16000).numpy()
        np.testing.assert_allclose(
            up, scipy.signal.resample(signal[:length], 2 * length), atol=1e-4
        )


def test_short_clips_are_zero_padded_long_ones_cut():
    options = AudioOptions(sample_rate=8000, duration=0.5)
    short = decode_wav(wav_bytes(np.full(1000, 0.5), 8000), options).numpy()
    np.testing.assert_allclose(short[:1000], 0.5, atol=1e-4)
    np.testing.assert_array_equal(short[1000:], 0)
    long = decode_wav(wav_bytes(np.linspace(-1, 1, 20000), 8000), options).numpy()
    np.testing.assert_allclose(long, np.linspace(-1, 1, 20000)[:4000], atol=1e-4)


def _numpy_log_mel(waveform, options):
    """Reference: Hann-windowed STFT power through HTK-scale triangular mel filters."""
    n, hop, nfft = options.frame_length, options.frame_step, options.fft_length
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)  # periodic Hann
    frames = np.stack([waveform[s : s + n] * window for s in range(0, len(waveform) - n + 1, hop)])
    power = np.abs(np.fft.rfft(frames, nfft)) ** 2

    def mel(f):
        return 1127.0 * np.log1p(f / 700.0)

    bins = mel(np.linspace(0, options.sample_rate / 2, nfft // 2 + 1))[1:]
    upper = options.upper_edge_hertz or options.sample_rate / 2
    edges = np.linspace(mel(options.lower_edge_hertz), mel(upper), options.num_mel_bins + 2)
    lower, center, top = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(
        0,
        np.minimum(
            (bins[:, None] - lower) / (center - lower), (top - bins[:, None]) / (top - center)
        ),
    )
    weights = np.vstack([np.zeros((1, options.num_mel_bins)), weights])
    return np.log(power @ weights + options.log_offset)


def test_log_mel_matches_numpy_reference():
    options = AudioOptions(sample_rate=16000, duration=0.25, num_mel_bins=20)
    rng = np.random.default_rng(1)
    waveform = rng.normal(scale=0.3, size=options.num_samples).astype(np.float32)
    ours = log_mel_spectrogram(tf.constant(waveform), options).numpy()
    assert ours.shape == (options.num_frames, 20)
    np.testing.assert_allclose(
        ours, _numpy_log_mel(waveform.astype(np.float64), options), rtol=1e-4, atol=1e-3
    )


def test_silence_stays_finite_and_tone_peaks_in_its_band():
    options = AudioOptions(duration=1.0)
    silence = decode_audio(wav_bytes(np.zeros(16000), 16000), options).numpy()
    np.testing.assert_allclose(silence, np.log(options.log_offset), rtol=1e-5)
    t = np.arange(16000) / 16000
    low = decode_audio(wav_bytes(0.5 * np.sin(2 * np.pi * 300 * t), 16000), options).numpy()
    high = decode_audio(wav_bytes(0.5 * np.sin(2 * np.pi * 3000 * t), 16000), options).numpy()
    assert low.mean(axis=0).argmax() < high.mean(axis=0).argmax()


def test_truncated_wav_raises():
    contents = wav_bytes(np.zeros(16000), 16000)
    with pytest.raises(tf.errors.InvalidArgumentError, match="too short"):
        decode_wav(contents[: len(contents) // 2])


def test_options_are_validated():
    with pytest.raises(ValueError, match="fft_length must be at least frame_length"):
        AudioOptions(fft_length=256, frame_length=400)
    with pytest.raises(ValueError, match="shorter than one frame"):
        AudioOptions(duration=0.01)
    with pytest.raises(ValueError, match="upper_edge_hertz"):
        AudioOptions(sample_rate=8000, upper_edge_hertz=6000)
