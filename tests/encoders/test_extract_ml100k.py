import csv
import json
import shutil

import numpy as np
import pytest
from pretrained import load_or_skip

from mmrec_tf.encoders.extract import extract_features

SAMPLE = 400  # posters: the first items of ml-100k-mm (all 1,623 take a minute on 2 cores)


def _first_items(ml100k_dir, out, count):
    """A dataset of ml-100k-mm's first `count` items with posters, their files copied."""
    with open(ml100k_dir / "items.csv", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns, rows = reader.fieldnames, [r for r in reader if r["image"]][:count]
    (out / "posters").mkdir(parents=True)
    for row in rows:
        shutil.copy(ml100k_dir / row["image"], out / row["image"])
    with open(out / "items.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    with open(out / "interactions.csv", "w", newline="", encoding="utf-8") as f:
        f.write("user_id,item_id,split\n")
        f.writelines(f"u,{row['item_id']},train\n" for row in rows)
    return out


@pytest.mark.large
def test_poster_features_agree_with_the_reference_features(ml100k_dir, ml100k_mm_source, tmp_path):
    """Our MobileNetV2 extraction against the features the anchor models used."""
    from mmrec_tf.encoders import mobilenet_v2_weights_path

    load_or_skip(mobilenet_v2_weights_path)
    data = _first_items(ml100k_dir, tmp_path / "data", SAMPLE)
    features = tmp_path / "features"
    path = extract_features(
        data, "image", "mobilenet_v2:imagenet", features, batch_size=64, progress=False
    )
    ours = np.load(path)
    item_ids = json.loads((features / "image.json").read_text())["item_ids"]
    reference = np.load(ml100k_mm_source / "features" / "image_mobilenet_v2.npy")
    theirs = reference[[int(item) - 1 for item in item_ids]]
    assert ours.shape == (SAMPLE, 1280) and reference.shape == (1682, 1280)
    cosine = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    # Not identical: the reference resized posters with PIL, we resize with TensorFlow.
    assert cosine.mean() > 0.998 and cosine.min() > 0.98
