import json
import math
import shutil

import numpy as np
import pytest

from mmrec_tf.data import load_dataset
from mmrec_tf.evaluation import evaluate_ranking, item_popularity_groups

# Training users per item: i0 11 (warm), i1 1 (sparse), i2 10, one of them twice
# (sparse: a user counts once), i3 and i4 none (cold), i5 11 (warm).
GROUP_OF = {"i0": "warm", "i1": "sparse", "i2": "sparse", "i3": "cold", "i4": "cold", "i5": "warm"}
TRAIN = (
    [(f"u{n}", "i0") for n in range(11)]
    + [("u11", "i1")]
    + [(f"u{n}", "i2") for n in range(10)]
    + [("u0", "i2")]
    + [(f"u{n}", "i5") for n in range(1, 12)]
)
VALID = [("u0", "i4")]
# u0's i4 is masked by its valid pair, u1's i0 by its train pair: relevant, never hit.
TEST = [
    ("u0", "i3"),
    ("u0", "i4"),
    ("u0", "i1"),
    ("u1", "i0"),
    ("u1", "i3"),
    ("u10", "i2"),
    ("u10", "i4"),
    ("u11", "i0"),
    ("u11", "i3"),
    ("z0", "i1"),
    ("z0", "i5"),
]


@pytest.fixture
def dataset(make_dataset):
    items = [{"item_id": item, "text": "x"} for item in GROUP_OF]
    rows = [
        {"user_id": user, "item_id": item, "split": split}
        for split, pairs in (("train", TRAIN), ("valid", VALID), ("test", TEST))
        for user, item in pairs
    ]
    return load_dataset(make_dataset(items, rows))


def _reference(dataset, scores, k):
    """{group: (mean Recall@k, mean NDCG@k)} by plain loops over users and ranks."""
    user_of = {name: u for u, name in enumerate(dataset.user_ids)}
    item_of = {name: i for i, name in enumerate(dataset.item_ids)}
    group = {item_of[name]: g for name, g in GROUP_OF.items()}
    seen = {u: set() for u in range(dataset.num_users)}
    for user, item in TRAIN + VALID:
        seen[user_of[user]].add(item_of[item])
    held = {}
    for user, item in TEST:
        held.setdefault(user_of[user], set()).add(item_of[item])
    per_group = {"cold": [], "sparse": [], "warm": []}
    for user, relevant in held.items():
        unseen = [i for i in range(dataset.num_items) if i not in seen[user]]
        top = sorted(unseen, key=lambda i: (-scores[user, i], i))[:k]
        for name, values in per_group.items():
            in_group = {i for i in relevant if group[i] == name}
            if not in_group:
                continue
            dcg = sum(1 / math.log2(r + 2) for r, i in enumerate(top) if i in in_group)
            ideal = sum(1 / math.log2(r + 2) for r in range(min(len(in_group), k)))
            values.append((len(in_group & set(top)) / len(in_group), dcg / ideal))
    return {name: tuple(np.mean(values, axis=0)) for name, values in per_group.items() if values}


def test_item_groups_follow_the_training_counts(dataset):
    names = ("cold", "sparse", "warm")
    groups = item_popularity_groups(dataset)
    assert {item: names[g] for item, g in zip(dataset.item_ids, groups, strict=True)} == GROUP_OF


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_group_metrics_match_a_loop_over_users(dataset, seed):
    table = np.random.default_rng(seed).normal(size=(dataset.num_users, dataset.num_items))
    score = lambda users: table[users]  # noqa: E731
    results = evaluate_ranking(score, dataset, "test", ks=(2,), beyond_accuracy_k=2, popularity_k=2)
    expected = _reference(dataset, table.astype(np.float32), k=2)
    assert set(expected) == {"cold", "sparse", "warm"}
    for name, (recall, ndcg) in expected.items():
        assert results[f"recall@2/{name}"] == pytest.approx(recall, abs=1e-12)
        assert results[f"ndcg@2/{name}"] == pytest.approx(ndcg, abs=1e-12)
    # The same ranking: the other metrics are those of an evaluation without groups.
    plain = evaluate_ranking(score, dataset, "test", ks=(2,), beyond_accuracy_k=2)
    assert {key: results[key] for key in plain} == plain
    assert not any("/" in key for key in plain)


def test_a_group_without_held_out_items_has_no_keys(dataset):
    # The one valid item, i4, is cold: no user has a sparse or warm valid item.
    score = lambda users: np.zeros((len(users), dataset.num_items))  # noqa: E731
    results = evaluate_ranking(
        score, dataset, "valid", ks=(2,), beyond_accuracy_k=2, popularity_k=5
    )
    assert results["recall@5/cold"] == 1.0  # u0's top 5: every item but i0 and i2 (train)
    assert not [key for key in results if "sparse" in key or "warm" in key]


@pytest.mark.large
def test_evaluate_writes_the_groups(demo_run, tmp_path):
    from mmrec_tf.training import evaluate

    run = tmp_path / "run"
    shutil.copytree(demo_run["run"], run)
    results = evaluate(run)
    written = json.loads((run / "eval_test.json").read_text())
    assert {key: written[key] for key in results} == results
    dataset = load_dataset(demo_run["data"])
    _, test_items = dataset.interaction_pairs(["test"])
    names = np.array(["cold", "sparse", "warm"])[item_popularity_groups(dataset)[test_items]]
    # The demo's test items all have training interactions: no cold group, no cold keys.
    assert set(names) == {"sparse", "warm"}
    assert not [key for key in written if key.endswith("/cold")]
    for key in ("recall@20/sparse", "ndcg@20/sparse", "recall@20/warm", "ndcg@20/warm"):
        assert 0 <= written[key] <= 1
