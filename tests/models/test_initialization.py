"""Every table and projection starts with values of its own, and the item graph is
the average over all modalities."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmrec_tf.data import knn_graph, load_dataset, normalize_adjacency
from mmrec_tf.models import VBPR, MatrixFactorization, MultimodalRecommender


def _correlation(a, b):
    """Correlation of the first rows two tables share (1.0 when they start alike)."""
    n, d = min(len(a), len(b)), min(a.shape[1], b.shape[1])
    return np.corrcoef(a[:n, :d].ravel(), b[:n, :d].ravel())[0, 1]


@pytest.mark.parametrize("model_class", ["MatrixFactorization", "VBPR", "MultimodalRecommender"])
def test_user_and_item_tables_start_different(model_class, demo_dir):
    keras.utils.set_random_seed(0)
    if model_class == "MatrixFactorization":
        model = MatrixFactorization(50, 50, embedding_dim=8)
    elif model_class == "VBPR":
        model = VBPR.from_features(50, np.ones((50, 4)), embedding_dim=8)
    else:
        dataset = load_dataset(demo_dir)
        features = {"text": np.random.default_rng(0).normal(size=(dataset.num_items, 4))}
        model = MultimodalRecommender.from_dataset(dataset, features, embedding_dim=8)
        model.user_embedding = model.user_side.user_embedding
        model.item_embedding = model.item_side.item_embedding
    users = keras.ops.convert_to_numpy(model.user_embedding)
    items = keras.ops.convert_to_numpy(model.item_embedding)
    assert abs(_correlation(users, items)) < 0.3


def test_item_graph_averages_every_modality(demo_dir):
    dataset = load_dataset(demo_dir)
    rng = np.random.default_rng(0)
    modalities = ["audio", "image", "text", "video"]
    features = {m: rng.normal(size=(dataset.num_items, 6)) for m in modalities}
    present = {m: rng.random(dataset.num_items) < 0.9 for m in modalities}
    model = MultimodalRecommender.from_dataset(
        dataset, features, present, embedding_dim=4, item_graph_k=3
    )
    expected = sum(
        tf.sparse.to_dense(normalize_adjacency(knn_graph(features[m], 3, valid=present[m])))
        for m in modalities
    ).numpy() / len(modalities)
    # The stored graph applied to the identity is its dense adjacency.
    stored = model.propagation.item_graph.step(np.eye(dataset.num_items, dtype="float32")).numpy()
    np.testing.assert_allclose(stored, expected, atol=1e-6)
