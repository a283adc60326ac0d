import numpy as np
import pytest
import tensorflow as tf
from recommender_testing import run_recommender_test

from mmrec_tf.data import interaction_graph, load_dataset, normalize_adjacency
from mmrec_tf.models import LightGCN


def test_vectors_are_the_layer_mean_of_normalised_propagation():
    users, items = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2])
    model = LightGCN.from_interactions(users, items, 3, 3, embedding_dim=4, num_layers=2)
    graph = tf.sparse.to_dense(normalize_adjacency(interaction_graph(users, items, 3, 3)))
    e0 = model.embedding.numpy()
    e1 = graph.numpy() @ e0
    e2 = graph.numpy() @ e1
    expected = (e0 + e1 + e2) / 3
    user_vectors, item_vectors = model.user_item_vectors()
    np.testing.assert_allclose(user_vectors, expected[:3], atol=1e-6)
    np.testing.assert_allclose(item_vectors, expected[3:], atol=1e-6)


@pytest.mark.large  # 15 epochs of graph propagation, to beat MostPopular
def test_trains_beats_most_popular_and_serves_after_reload(demo_dir, tmp_path):
    dataset = load_dataset(demo_dir)
    run_recommender_test(LightGCN, dataset, tmp_path=tmp_path, embedding_dim=16)
