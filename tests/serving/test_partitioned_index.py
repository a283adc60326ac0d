"""The partitioned index: a SavedModel served without mmrec_tf, against a NumPy reference."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmrec_tf.data import bpr_triples, load_dataset
from mmrec_tf.data.histories import latest_known
from mmrec_tf.models import HistoryRecommender
from mmrec_tf.serving import export_recommender
from mmrec_tf.serving.catalogue_search import PartitionedSearch
from mmrec_tf.serving.partitioned_index import kmeans_partitions
from mmrec_tf.serving.vector_table import VectorTable

PARTITIONS, PROBE, K = 8, 2, 5

# A fresh interpreter with TensorFlow only: the index's variables and its answers.
SERVE = """
import json, sys
import numpy as np
import tensorflow as tf

request = json.loads(sys.argv[2])
served = tf.saved_model.load(sys.argv[1])
users, k = tf.constant(request["users"]), tf.constant(request["k"])
out = {}
for name, result in (
    ("default", served.recommend(users, k)),
    ("probe_all", served.recommend(users, k, tf.constant(10**6))),
    ("named", served.signatures["recommend_probing"](user_id=users, k=k, probe=tf.constant(3))),
    ("large", served.recommend(users, tf.constant(request["large_k"]))),
    ("history", served.recommend_from_history(tf.constant(request["histories"]), k)),
):
    out[name + "_items"] = result["item_id"].numpy().astype(str)
    out[name + "_scores"] = result["score"].numpy()
out["user_vectors"] = served.embed_users(users)["user_vector"].numpy()
assert "mmrec_tf" not in sys.modules
np.savez(sys.argv[3], **out)
"""


@pytest.fixture(scope="module")
def served(demo_dir, tmp_path_factory):
    """A history model over the demo, exported with a partitioned index, served by TF alone."""
    dataset = load_dataset(demo_dir)
    keras.utils.set_random_seed(0)
    model = HistoryRecommender.from_dataset(dataset, {}, {}, embedding_dim=8, history_length=5)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    model.fit(bpr_triples(dataset, 256, seed=0, **model.sampler_options()), epochs=2, verbose=0)
    path = tmp_path_factory.mktemp("index") / "served"
    export_recommender(
        model, dataset, path, index="partitioned", partitions=PARTITIONS, probe=PROBE
    )
    users = list(dataset.user_ids[:6])
    histories = [list(np.asarray(dataset.item_ids)[[1, 5, 5]]), [""] * 3]
    request = {"users": users, "k": K, "large_k": dataset.num_items, "histories": histories}
    out = path.parent / "served.npz"
    args = [sys.executable, "-c", SERVE, str(path), json.dumps(request), str(out)]
    subprocess.run(args, check=True, capture_output=True)
    out = np.load(out)
    items = keras.ops.convert_to_numpy(model.inference_vectors()[1])
    return dataset, model, out, users, out["user_vectors"], items


def partitions_of(items):
    """The index export builds (k-means with seed 0), in NumPy."""
    centroids, partition = kmeans_partitions(items, PARTITIONS, seed=0)
    counts = np.bincount(partition, minlength=len(centroids))
    return {
        "centroids": centroids,
        "row_splits": np.concatenate([[0], np.cumsum(counts)]),
        "items": np.argsort(partition, kind="stable"),
    }


def reference(index, queries, items, seen, k, probe):
    """The index's answer in NumPy: probed partitions' unseen items, scored, top k."""
    rows, scores = [], []
    for query, excluded in zip(queries, seen, strict=True):
        best = np.argsort(-(index["centroids"] @ query), kind="stable")[:probe]
        splits = index["row_splits"]
        candidates = np.concatenate([index["items"][splits[p] : splits[p + 1]] for p in best])
        candidates = candidates[~np.isin(candidates, list(excluded))]
        candidate_scores = items[candidates] @ query
        order = np.argsort(-candidate_scores, kind="stable")[:k]
        rows.append(candidates[order])
        scores.append(candidate_scores[order])
    return np.array(rows), np.array(scores)


def seen_items(dataset, users):
    pairs = dataset.interaction_pairs(["train"])
    rows = [list(dataset.user_ids).index(u) for u in users]
    return rows, [set(pairs[1][pairs[0] == r]) for r in rows]


def test_recommend_equals_the_numpy_reference_and_never_a_seen_item(served):
    dataset, _, out, users, user_vectors, items = served
    rows, seen = seen_items(dataset, users)
    expected_rows, expected_scores = reference(
        partitions_of(items), user_vectors, items, seen, K, PROBE
    )
    np.testing.assert_array_equal(out["default_items"], np.asarray(dataset.item_ids)[expected_rows])
    np.testing.assert_allclose(out["default_scores"], expected_scores, rtol=1e-5, atol=1e-6)
    for user_seen, served_items in zip(seen, out["default_items"], strict=True):
        assert not set(np.asarray(dataset.item_ids)[list(user_seen)]) & set(served_items)
    named, _ = reference(partitions_of(items), user_vectors, items, seen, K, 3)
    np.testing.assert_array_equal(out["named_items"], np.asarray(dataset.item_ids)[named])


def test_probing_every_partition_is_exact(served):
    dataset, _, out, users, user_vectors, items = served
    rows, seen = seen_items(dataset, users)
    scores = user_vectors @ items.T
    for row, excluded in enumerate(seen):
        scores[row, list(excluded)] = -np.inf
    exact = np.argsort(-scores, axis=1, kind="stable")[:, :K]
    np.testing.assert_array_equal(out["probe_all_items"], np.asarray(dataset.item_ids)[exact])


def test_k_beyond_the_probed_items_is_served_exactly(served):
    # Asking for the whole catalogue: the probed partitions hold too few items, so
    # the batch is served over every item, each user getting all they have not seen.
    dataset, _, out, users, user_vectors, items = served
    rows, seen = seen_items(dataset, users)
    assert out["large_items"].shape[1] == dataset.num_items - max(map(len, seen))
    scores = user_vectors @ items.T
    for row, excluded in enumerate(seen):
        scores[row, list(excluded)] = -np.inf
    exact = np.argsort(-scores, axis=1, kind="stable")[:, : out["large_items"].shape[1]]
    np.testing.assert_array_equal(out["large_items"], np.asarray(dataset.item_ids)[exact])


def test_recommend_from_history_uses_the_index(served):
    dataset, model, out, *_, items = served
    history = latest_known(tf.constant([[1, 5, 5]]), model.user_side.history_length)
    user = keras.ops.convert_to_numpy(model.encode_histories(history.numpy(), items))
    expected, _ = reference(partitions_of(items), user, items, [{1, 5}], K, PROBE)
    np.testing.assert_array_equal(out["history_items"][:1], np.asarray(dataset.item_ids)[expected])
    popular = np.argsort(-dataset.item_popularity(), kind="stable")[:K]
    np.testing.assert_array_equal(out["history_items"][1], np.asarray(dataset.item_ids)[popular])


def test_kmeans_finds_separated_clusters():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(5, 16)) * 10
    vectors = (np.repeat(centres, 40, axis=0) + rng.normal(size=(200, 16))).astype("float32")
    centroids, partition = kmeans_partitions(vectors, 5, seed=1)
    truth = np.repeat(np.arange(5), 40)
    # The same grouping up to the partitions' names: each true cluster in one partition.
    assert all(len(set(partition[truth == c])) == 1 for c in range(5))
    assert len(set(partition)) == 5
    for p in range(5):
        np.testing.assert_allclose(centroids[p], vectors[partition == p].mean(0), atol=1e-4)


def test_more_partitions_than_items_and_an_unknown_index():
    centroids, partition = kmeans_partitions(np.eye(3, dtype="float32"), 10)
    assert len(centroids) == 3 and sorted(partition) == [0, 1, 2]
    from mmrec_tf.serving.serving_tables import ServingTables

    tables = (["u"], ["i"], np.ones((1, 2)), np.ones((1, 2)), ([0, 0], []), [1.0], ["i"])
    with pytest.raises(ValueError, match="must be one of exact, partitioned"):
        ServingTables(*tables, search="ivf")
    with pytest.raises(ValueError, match="settings of a partitioned index"):
        ServingTables(*tables, search="exact", probe=3)


def test_only_the_query_with_too_few_probed_items_is_served_exactly():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(60, 4)).astype("float32")
    search = PartitionedSearch(VectorTable(vectors), vectors, partitions=4, probe=1)
    splits, members = search.index.row_splits.numpy(), search.index.items.numpy()
    queries = rng.normal(size=(2, 4)).astype("float32")
    probed = [
        members[splits[p] : splits[p + 1]]
        for p in (search.index.centroids.numpy() @ queries.T).argmax(0)
    ]
    assert len(probed[1]) >= 3
    # Query 0 has seen all but one item of its probed partition; query 1 nothing.
    seen = np.full((2, len(probed[0]) - 1), 60, np.int32)
    seen[0] = np.sort(probed[0][:-1])
    rows, scores = search.top_k(tf.constant(queries), tf.constant(seen), 3)
    exact = vectors @ queries[0]
    exact[seen[0]] = -np.inf
    np.testing.assert_array_equal(rows[0], np.argsort(-exact, kind="stable")[:3])
    # Query 1 keeps the index's answer: its partition's best three.
    expected = probed[1][np.argsort(-(vectors[probed[1]] @ queries[1]), kind="stable")[:3]]
    np.testing.assert_array_equal(rows[1], expected)
    np.testing.assert_allclose(scores[1], vectors[expected] @ queries[1], rtol=1e-6)
    # ... which is not the exact one: a batch served exactly as a whole would fail here.
    assert not np.array_equal(expected, np.argsort(-(vectors @ queries[1]))[:3])


def test_exact_search_scores_a_large_batch_a_few_queries_at_a_time(monkeypatch):
    from mmrec_tf.serving import catalogue_search
    from mmrec_tf.serving.catalogue_search import ExactSearch

    # 50 items and room for 100 scores: two queries at a time, five in the batch.
    monkeypatch.setattr(catalogue_search, "SCORES_AT_ONCE", 100)
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(50, 4)).astype("float32")
    queries = rng.normal(size=(5, 4)).astype("float32")
    seen = np.sort(rng.choice(50, (5, 3)), axis=1).astype("int32")
    search = tf.function(ExactSearch(VectorTable(vectors)).top_k)
    rows, scores = search(tf.constant(queries), tf.constant(seen), tf.constant(4))
    expected = queries @ vectors.T
    np.put_along_axis(expected, seen, -np.inf, axis=1)
    best = np.argsort(-expected, axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(rows, best)
    np.testing.assert_allclose(scores, np.take_along_axis(expected, best, 1), rtol=1e-5)


def test_probe_is_clipped_to_the_partitions_and_partitions_to_the_items():
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(30, 4)).astype("float32")
    search = PartitionedSearch(VectorTable(vectors), vectors, partitions=100, probe=50)
    assert search.describe() == {"index": "partitioned", "partitions": 30, "probe": 30}
    search = PartitionedSearch(VectorTable(vectors), vectors, partitions=6, probe=2)
    queries, seen = tf.constant(vectors[:3]), tf.fill([3, 1], 30)
    one = search.top_k(queries, seen, 1, probe=1)
    for probe in (0, -5):
        np.testing.assert_array_equal(search.top_k(queries, seen, 1, probe=probe)[0], one[0])
    every = search.top_k(queries, seen, 3, probe=10**6)[0]
    np.testing.assert_array_equal(every, np.argsort(-(vectors[:3] @ vectors.T), 1)[:, :3])
