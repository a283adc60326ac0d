import numpy as np
import pytest
import tensorflow as tf
from media_files import write_mp4

from mmrec_tf.data import (
    VideoOptions,
    decode_frame_folder,
    decode_frames,
    decode_video_file,
    sample_frame_indices,
)


def _frames(count, size=16):
    """Frames whose grey level encodes their index: 10 * (index + 1)."""
    return np.stack([np.full((size, size, 3), 10 * (i + 1), np.uint8) for i in range(count)])


def _levels(video):
    return np.round(video.mean(axis=(1, 2, 3)) * 255 / 10 - 1).astype(int).tolist()


@pytest.mark.parametrize(
    "total, wanted, expected",
    [
        (10, 4, [1, 3, 6, 8]),
        (4, 4, [0, 1, 2, 3]),
        (2, 5, [0, 0, 1, 1, 1]),
        (1, 3, [0, 0, 0]),
    ],
)
def test_frame_indices_are_segment_centres(total, wanted, expected):
    assert sample_frame_indices(total, wanted).tolist() == expected


def test_frame_folder_is_read_in_natural_order(tmp_path):
    for i, frame in enumerate(_frames(12)):
        (tmp_path / f"frame{i}.png").write_bytes(tf.io.encode_png(frame).numpy())
    (tmp_path / "notes.txt").write_text("not a frame")
    video = decode_frame_folder(tmp_path, VideoOptions(num_frames=4, size=(8, 8)))
    assert video.shape == (4, 8, 8, 3)
    assert _levels(video) == [1, 4, 7, 10]  # frame10 sorts after frame9, not after frame1


def test_empty_frame_folder_raises(tmp_path):
    (tmp_path / "readme.md").write_text("no frames here")
    with pytest.raises(ValueError, match="no frame images"):
        decode_frame_folder(tmp_path)


def test_video_file_samples_uniformly(tmp_path):
    path = tmp_path / "clip.mp4"
    write_mp4(path, _frames(20, size=32))
    video = decode_video_file(path, VideoOptions(num_frames=5, size=(16, 16)))
    assert video.shape == (5, 16, 16, 3) and video.dtype == np.float32
    assert _levels(video) == sample_frame_indices(20, 5).tolist()


def test_garbage_and_truncated_video_files_raise(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="FFmpeg cannot read it: Invalid data"):
        decode_video_file(path)
    write_mp4(path, _frames(20, size=32))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError):
        decode_video_file(path)


def test_encoded_frames_decode_in_graph_mode():
    encoded = tf.constant([tf.io.encode_png(f).numpy() for f in _frames(6)])
    fn = tf.function(lambda x: decode_frames(x, VideoOptions(num_frames=3, size=(4, 4))))
    video = fn(encoded).numpy()
    assert _levels(video) == [1, 3, 5]
