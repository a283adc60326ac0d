import numpy as np
import pytest
from layer_testing import run_layer_test

from mmrec_tf.encoders import MotionCorrelation


def numpy_motion_correlation(video, max_displacement, grid_size):
    """The formula of MotionCorrelation's docstring, with area averaging as block means."""
    batch, frames, height, width, channels = video.shape
    block = height // grid_size, width // grid_size
    grid = video.reshape(batch, frames, grid_size, block[0], grid_size, block[1], channels)
    grid = grid.mean(axis=(3, 5))
    z = grid - grid.mean(axis=(2, 3), keepdims=True)
    now, later = z[:, :-1], z[:, 1:]
    energy = (now * now).sum(axis=(1, 2, 3, 4))
    r = max_displacement
    values = [
        (now * np.roll(later, (-dy, -dx), axis=(2, 3))).sum(axis=(1, 2, 3, 4))
        for dy in range(-r, r + 1)
        for dx in range(-r, r + 1)
    ]
    return np.stack(values, -1) / energy[:, None]


def test_matches_the_numpy_formula(tmp_path):
    video = np.random.default_rng(0).random((3, 4, 16, 16, 3)).astype("float32")
    output = run_layer_test(
        MotionCorrelation,
        {"max_displacement": 2, "grid_size": 8},
        {"video": video},
        (3, 25),
        tmp_path=tmp_path,
        run_training=False,
    )
    np.testing.assert_allclose(output, numpy_motion_correlation(video, 2, 8), atol=1e-5)


@pytest.mark.parametrize("direction", [(0, 1), (0, -1), (1, 0), (-1, 0)])
def test_peaks_at_the_motion_of_a_square_whatever_its_shade(direction):
    rng = np.random.default_rng(1)
    clips = np.full((2, 6, 32, 32, 3), 0.5, np.float32)
    start = rng.integers(0, 32, size=2)
    for shade, clip in zip((0.05, 0.95), clips, strict=True):
        for t in range(6):
            rows = (start[0] + 2 * direction[0] * t + np.arange(8)) % 32
            cols = (start[1] + 2 * direction[1] * t + np.arange(8)) % 32
            clip[t][np.ix_(rows, cols)] = shade
    # 32 pixels on a 16-cell grid: 2 pixels per frame is one cell.
    correlation = MotionCorrelation(max_displacement=2, grid_size=16)(clips).numpy()
    for values in correlation:
        peak = np.unravel_index(values.reshape(5, 5).argmax(), (5, 5))
        assert (peak[0] - 2, peak[1] - 2) == direction


def test_still_or_single_frame_clips_give_no_motion_values():
    still = np.repeat(np.random.default_rng(2).random((1, 1, 16, 16, 3)), 3, axis=1)
    layer = MotionCorrelation(max_displacement=1, grid_size=8)
    peak = layer(still).numpy().reshape(3, 3)
    assert peak.argmax() == 4  # no motion: the clip matches itself unshifted
    np.testing.assert_array_equal(layer(still[:, :1]).numpy(), np.zeros((1, 9)))
    np.testing.assert_array_equal(layer(np.full((1, 3, 16, 16, 3), 0.3)).numpy(), np.zeros((1, 9)))


def test_rejects_a_grid_no_larger_than_the_displacement():
    with pytest.raises(ValueError, match="grid_size must exceed max_displacement"):
        MotionCorrelation(max_displacement=4, grid_size=4)
    with pytest.raises(ValueError, match="max_displacement must be ≥ 1"):
        MotionCorrelation(max_displacement=0)
