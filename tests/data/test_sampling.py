import numpy as np
import pytest

from mmrec_tf.data import bpr_triples, load_dataset


def _pairs(users, items):
    return list(zip(users.tolist(), items.tolist(), strict=True))


def _epoch(triples):
    batches = list(triples)
    return {k: np.concatenate([b[k].numpy() for b in batches]) for k in batches[0]}, batches


def test_each_interaction_once_per_epoch_with_a_true_negative(demo_dir):
    dataset = load_dataset(demo_dir)
    users, items = dataset.interactions("train")
    triples = bpr_triples(dataset, 100, seed=3)
    assert int(triples.cardinality()) == -(-len(users) // 100)
    epoch, batches = _epoch(triples)
    assert [len(b["user_index"]) for b in batches[:-1]] == [100] * (len(batches) - 1)
    seen = sorted(_pairs(users, items))
    assert sorted(_pairs(epoch["user_index"], epoch["positive_item"])) == seen
    positives = set(seen)
    negatives = _pairs(epoch["user_index"], epoch["negative_item"])
    # Five draws per negative: a collision survives with probability (share seen)^5.
    collisions = sum(pair in positives for pair in negatives)
    assert collisions <= 0.001 * len(negatives)
    assert epoch["negative_item"].min() >= 0
    assert epoch["negative_item"].max() < dataset.num_items


def test_seeded_epochs_differ_and_repeat_run_after_run(demo_dir):
    dataset = load_dataset(demo_dir)
    first, _ = _epoch(bpr_triples(dataset, 64, seed=7))
    triples = bpr_triples(dataset, 64, seed=7)
    again, _ = _epoch(triples)
    second, _ = _epoch(triples)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(again["user_index"], second["user_index"])
    other, _ = _epoch(bpr_triples(dataset, 64, seed=8))
    assert not np.array_equal(first["negative_item"], other["negative_item"])


def test_poisson_batches_draw_each_interaction_at_the_rate(demo_dir):
    from scipy import stats

    from mmrec_tf.data import poisson_batch_capacity, poisson_triples

    dataset = load_dataset(demo_dir)
    users, items = dataset.interactions("train")
    expected = 100
    rate = expected / len(users)
    capacity, overflow = poisson_batch_capacity(len(users), rate)
    # The bound holds against the exact binomial tail, and is not loose by orders.
    assert stats.binom.sf(capacity, len(users), rate) <= overflow <= 1e-12
    assert stats.binom.sf(capacity - 40, len(users), rate) > 1e-12
    batches = list(poisson_triples(dataset, expected, epochs=range(2, 5), seed=1))
    assert len(batches) == 3 * -(-len(users) // expected)
    counts = []
    truth = set(_pairs(users, items))
    for batch in batches:
        assert {k: v.shape[0] for k, v in batch.items()} == dict.fromkeys(batch, capacity)
        weight = batch["example_weight"].numpy()
        real = int(weight.sum())
        assert set(weight.tolist()) <= {0.0, 1.0} and weight[:real].all()
        chosen = _pairs(batch["user_index"].numpy()[:real], batch["positive_item"].numpy()[:real])
        assert set(chosen) <= truth and len(set(chosen)) == len(chosen)
        counts.append(real)
    # Binomial(N, q) counts: mean N q, variance N q (1 − q).
    assert np.mean(counts) == pytest.approx(expected, abs=4 * 10 / len(counts) ** 0.5)
    negatives = np.concatenate([b["negative_item"].numpy() for b in batches])
    assert negatives.min() >= 0 and negatives.max() < dataset.num_items
    # Negatives are uniform over the whole catalogue, a user's own items included.
    assert stats.chisquare(np.bincount(negatives, minlength=dataset.num_items)).pvalue > 1e-4
    again = list(poisson_triples(dataset, expected, epochs=range(2, 5), seed=1))
    np.testing.assert_array_equal(again[0]["user_index"], batches[0]["user_index"])
    fresh = list(poisson_triples(dataset, expected, epochs=range(2, 5)))
    assert not np.array_equal(fresh[0]["example_weight"], batches[0]["example_weight"]) or not (
        np.array_equal(fresh[0]["user_index"], batches[0]["user_index"])
    )


def test_rows_train_on_those_interactions_with_the_whole_splits_negatives_and_histories(
    demo_dir,
):
    dataset = load_dataset(demo_dir)
    users, items = dataset.interactions("train")
    rows = np.random.default_rng(0).choice(len(users), 150, replace=False)
    triples = bpr_triples(dataset, 64, seed=3, rows=rows, history_length=4)
    assert int(triples.cardinality()) == 3
    epoch, _ = _epoch(triples)
    assert sorted(_pairs(epoch["user_index"], epoch["positive_item"])) == sorted(
        _pairs(users[rows], items[rows])
    )
    # Negatives avoid every training item of the user, not only the chosen rows'.
    positives = set(_pairs(users, items))
    negatives = _pairs(epoch["user_index"], epoch["negative_item"])
    assert sum(pair in positives for pair in negatives) <= 0.001 * len(negatives) + 1
    # Histories are those the full sampler gives the same interactions.
    full, _ = _epoch(bpr_triples(dataset, 1 << 16, seed=3, history_length=4))
    history_of = {
        pair: history.tolist()
        for pair, history in zip(
            _pairs(full["user_index"], full["positive_item"]), full["history"], strict=True
        )
    }
    chosen = _pairs(epoch["user_index"], epoch["positive_item"])
    for pair, history in zip(chosen, epoch["history"], strict=True):
        assert history.tolist() == history_of[pair]
    with pytest.raises(ValueError, match="rows must be"):
        bpr_triples(dataset, 64, rows=[len(users)])
