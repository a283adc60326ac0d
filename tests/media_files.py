"""Writing small media files for tests."""

from __future__ import annotations

import io
import wave

import numpy as np


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """16-bit PCM WAV of [n] or [n, channels] samples in [-1, 1]."""
    samples = np.asarray(samples).reshape(len(samples), -1)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as f:
        f.setnchannels(samples.shape[1])
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((samples * 32767).round().astype("<i2").tobytes())
    return buffer.getvalue()


def write_mp4(path, frames: np.ndarray, rate: int = 10) -> None:
    """Writes uint8 [T, h, w, 3] frames as an MPEG-4 video at high quality."""
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"qscale": "1"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
