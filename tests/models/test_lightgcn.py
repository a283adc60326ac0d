import keras
import numpy as np
import tensorflow as tf

from mmrec_tf.data import bpr_triples, interaction_graph, load_dataset, normalize_adjacency
from mmrec_tf.evaluation import evaluate_ranking
from mmrec_tf.models import LightGCN, MostPopular


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


def test_trains_beats_most_popular_and_serves_after_reload(demo_dir, tmp_path):
    keras.utils.set_random_seed(0)
    dataset = load_dataset(demo_dir)
    users, items = dataset.interactions("train")
    model = LightGCN.from_interactions(
        users, items, dataset.num_users, dataset.num_items, embedding_dim=16
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=True)
    model.fit(bpr_triples(dataset, 256, seed=0), epochs=15, verbose=0)
    ours = evaluate_ranking(model.score_users, dataset, "valid")["recall@20"]
    popular = evaluate_ranking(MostPopular.from_dataset(dataset).score_users, dataset, "valid")[
        "recall@20"
    ]
    assert ours > popular
    model.save(tmp_path / "lightgcn.keras")
    reloaded = keras.models.load_model(tmp_path / "lightgcn.keras")
    np.testing.assert_allclose(
        reloaded.score_users(np.arange(4)), model.score_users(np.arange(4)), atol=1e-5
    )
