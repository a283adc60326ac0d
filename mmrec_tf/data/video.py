"""Decoding video, from a video file (PyAV) or a folder of frame images."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from mmrec_tf.data.image import ImageOptions, check_normalization, resize_and_normalize

FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


@dataclasses.dataclass(frozen=True)
class VideoOptions:
    """How videos are decoded: `num_frames` frames sampled uniformly over the clip.

    Args:
        num_frames: int. Frames kept per video. Defaults to 8.
        size: (height, width) of each frame. Defaults to (112, 112).
        normalization: as for images (`"unit"`, `"symmetric"`, `"imagenet"`,
            `"raw"`). Defaults to `"unit"`.
    """

    num_frames: int = 8
    size: tuple[int, int] = (112, 112)
    normalization: str = "unit"

    def __post_init__(self):
        if self.num_frames < 1:
            raise ValueError(f"num_frames must be positive. Received: num_frames={self.num_frames}")
        check_normalization(self.normalization)
        ImageOptions(size=self.size)  # validates size

    @property
    def frame_options(self) -> ImageOptions:
        return ImageOptions(size=self.size, normalization=self.normalization)


def sample_frame_indices(total: int, num_frames: int) -> np.ndarray:
    """Indices of `num_frames` frames spread uniformly over `total` frames.

    Frame i is taken from the middle of the i-th of `num_frames` equal segments;
    a clip shorter than `num_frames` repeats frames.

    Example:
    >>> sample_frame_indices(10, 4).tolist()
    [1, 3, 6, 8]
    """
    if total < 1:
        raise ValueError(f"a video needs at least one frame. Received: total={total}")
    return np.floor((np.arange(num_frames) + 0.5) * total / num_frames).astype(np.int64)


def list_frame_files(folder: Path) -> list[Path]:
    """Frame images of a folder in natural order (`frame2` before `frame10`)."""

    def natural_key(path: Path):
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]

    frames = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_EXTENSIONS]
    return sorted(frames, key=natural_key)


def decode_frames(encoded_frames: tf.Tensor, options: VideoOptions | None = None) -> tf.Tensor:
    """Decodes [T] encoded frame images to [num_frames, h, w, 3], sampling uniformly.

    Works in graph mode, so a SavedModel can take a video as frame images.

    Example:
    >>> png = tf.io.encode_png(tf.zeros([4, 4, 3], tf.uint8))
    >>> decode_frames(tf.stack([png] * 3), VideoOptions(num_frames=2, size=(2, 2))).shape
    TensorShape([2, 2, 2, 3])
    """
    options = options or VideoOptions()
    total = tf.shape(encoded_frames)[0]
    tf.debugging.assert_positive(total, message="a video needs at least one frame")
    positions = (
        (tf.range(options.num_frames, dtype=tf.float64) + 0.5)
        * tf.cast(total, tf.float64)
        / options.num_frames
    )
    chosen = tf.gather(encoded_frames, tf.cast(tf.floor(positions), tf.int32))
    frame_options = options.frame_options
    # Each frame may have its own size before resizing, so decode them one by one.
    return tf.map_fn(
        lambda contents: resize_and_normalize(
            tf.ensure_shape(
                tf.io.decode_image(contents, channels=3, expand_animations=False), [None, None, 3]
            ),
            frame_options,
        ),
        chosen,
        fn_output_signature=tf.TensorSpec([*options.size, 3], tf.float32),
    )


def decode_frame_folder(folder: Path, options: VideoOptions | None = None) -> np.ndarray:
    """Reads a folder of frame images into [num_frames, h, w, 3] float32.

    Raises:
        ValueError: when the folder holds no frame image.
        tf.errors.InvalidArgumentError: when a sampled frame cannot be decoded.
    """
    options = options or VideoOptions()
    frames = list_frame_files(folder)
    if not frames:
        raise ValueError(f"no frame images ({', '.join(FRAME_EXTENSIONS)}) in the folder")
    indices = sample_frame_indices(len(frames), options.num_frames)
    # Only the sampled frames are read and decoded.
    encoded = tf.constant([frames[i].read_bytes() for i in indices])
    return decode_frames(encoded, dataclasses.replace(options, num_frames=len(indices))).numpy()


def decode_video_file(path: Path, options: VideoOptions | None = None) -> np.ndarray:
    """Decodes a video file (any format FFmpeg reads) into [num_frames, h, w, 3] float32.

    Raises:
        ValueError: when FFmpeg cannot read the file, or it has no video
            stream or no decodable frame.
    """
    import av  # Only video files need PyAV.

    try:
        return _decode_video_file(path, options or VideoOptions())
    except av.FFmpegError as e:
        raise ValueError(f"FFmpeg cannot read it: {e.strerror or e}") from e


def _decode_video_file(path: Path, options: VideoOptions) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("the file has no video stream")
        stream = container.streams.video[0]
        total = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
    if total < 1:
        raise ValueError("the video has no frames")
    frames, decoded = _decode_selected(path, sample_frame_indices(total, options.num_frames))
    if frames is None:
        # The container promised more frames than it holds (a cut file, say):
        # sample again over the frames that really decode.
        if decoded == 0:
            raise ValueError("no frame of the video could be decoded")
        frames, _ = _decode_selected(path, sample_frame_indices(decoded, options.num_frames))
    pixels = tf.constant(np.stack(frames))
    return resize_and_normalize(pixels, options.frame_options).numpy()


def _decode_selected(path: Path, indices: np.ndarray) -> tuple[list[np.ndarray] | None, int]:
    """The RGB frames at `indices`, in that order, and how many frames were decoded.

    The frames are None when the video ends before the last index; the count
    is then the video's real length.
    """
    import av

    wanted = set(indices.tolist())
    last = int(indices.max())
    by_index = {}
    decoded = 0
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                by_index[index] = frame.to_ndarray(format="rgb24")
            decoded = index + 1
            if index >= last:
                break
    if decoded <= last:
        return None, decoded
    return [by_index[i] for i in indices.tolist()], decoded
