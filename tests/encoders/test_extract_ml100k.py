import json

import numpy as np
import pytest
from pretrained import load_or_skip

from mmrec_tf.encoders.extract import extract_features


@pytest.mark.large
def test_poster_features_agree_with_the_reference_features(ml100k_dir, ml100k_mm_source, tmp_path):
    """Our MobileNetV2 extraction against the features the anchor models used (60 s on 2 cores)."""
    from mmrec_tf.encoders import mobilenet_v2_weights_path

    load_or_skip(mobilenet_v2_weights_path)
    path = extract_features(
        ml100k_dir, "image", "mobilenet_v2:imagenet", tmp_path, batch_size=64, progress=False
    )
    ours = np.load(path)
    metadata = json.loads((tmp_path / "image.json").read_text())
    reference = np.load(ml100k_mm_source / "features" / "image_mobilenet_v2.npy")
    assert ours.shape == reference.shape == (1682, 1280)
    missing = set(metadata["missing_item_ids"])
    rows = [i for i, item in enumerate(metadata["item_ids"]) if item not in missing]
    a, b = ours[rows], reference[[int(metadata["item_ids"][i]) - 1 for i in rows]]
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    # Not identical: the reference resized posters with PIL, we resize with TensorFlow.
    assert len(rows) == 1623 and cosine.mean() > 0.998 and cosine.min() > 0.98
