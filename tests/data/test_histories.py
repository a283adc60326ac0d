import numpy as np
import pytest

from mmrec_tf.data import bpr_triples, load_dataset
from mmrec_tf.data.histories import Sequences, chronological_order


@pytest.fixture
def timed_dataset(make_dataset):
    """Builds a dataset from (user, item, timestamp, split) rows."""

    def make(rows):
        items = [{"item_id": f"i{n}", "text": f"item {n}"} for n in range(1, 5)]
        interactions = [
            {"user_id": u, "item_id": i, "timestamp": t, "split": s} for u, i, t, s in rows
        ]
        return load_dataset(make_dataset(items, interactions))

    return make


def _history_reference(dataset, split, interaction, length):
    """The items of the user's `split` interactions strictly before `interaction`
    (timestamp, then file order), the last `length`, left-padded with -1."""
    user = dataset.interaction_users[interaction]
    before = [
        j
        for j in range(len(dataset.interaction_users))
        if dataset.interaction_users[j] == user
        and dataset.splits[j] == split
        and (dataset.timestamps[j], j) < (dataset.timestamps[interaction], interaction)
    ]
    before.sort(key=lambda j: (dataset.timestamps[j], j))
    items = [int(dataset.interaction_items[j]) for j in before][-length:]
    return [-1] * (length - len(items)) + items


def _batch_interactions(dataset, batch):
    """(user, the positive's train interaction row, history) for each triple of `batch`
    (the demo has no repeated user-item pairs)."""
    train_rows = np.flatnonzero(dataset.splits == "train")
    for user, positive, history in zip(
        batch["user_index"].numpy(),
        batch["positive_item"].numpy(),
        batch["history"].numpy(),
        strict=True,
    ):
        rows = train_rows[
            (dataset.interaction_users[train_rows] == user)
            & (dataset.interaction_items[train_rows] == positive)
        ]
        assert len(rows) == 1
        yield user, rows[0], history.tolist()


def test_chronological_order_breaks_timestamp_ties_by_file_order(timed_dataset):
    dataset = timed_dataset(
        [
            ("u1", "i1", 30, "train"),
            ("u2", "i2", 10, "train"),
            ("u1", "i3", 20, "train"),
            ("u1", "i2", 20, "valid"),
            ("u1", "i4", 20, "train"),
        ]
    )
    order = chronological_order(dataset)
    users = [dataset.user_ids[u] for u in dataset.interaction_users[order]]
    assert users == ["u1", "u1", "u1", "u1", "u2"]
    assert order.tolist()[:4] == [2, 3, 4, 0]  # time 20 three times in file order, then 30
    assert chronological_order(dataset, ["train"]).tolist() == [2, 4, 0, 1]


def test_latest_histories_and_windows(timed_dataset):
    dataset = timed_dataset(
        [
            ("u1", "i1", 1, "train"),
            ("u1", "i2", 2, "train"),
            ("u1", "i3", 3, "valid"),
            ("u2", "i4", 5, "train"),
        ]
    )
    index = {item_id: i for i, item_id in enumerate(dataset.item_ids)}
    train = Sequences.from_dataset(dataset, ["train"])
    both = Sequences.from_dataset(dataset, ["train", "valid"])
    u1, u2 = dataset.user_index["u1"], dataset.user_index["u2"]
    assert train.latest(3, [u1, u2]).tolist() == [
        [-1, index["i1"], index["i2"]],
        [-1, -1, index["i4"]],
    ]
    assert both.latest(2, [u1]).tolist() == [[index["i2"], index["i3"]]]
    assert train.position[2] == -1  # the valid interaction is outside the train sequences


def test_training_batches_carry_each_positives_history(demo_dir):
    dataset = load_dataset(demo_dir)
    batch = next(iter(bpr_triples(dataset, 64, seed=3, history_length=6)))
    for _, row, history in _batch_interactions(dataset, batch):
        assert history == _history_reference(dataset, "train", row, 6)


def test_a_user_without_interactions_has_only_padding():
    sequences = Sequences(np.array([1, 1]), np.array([4, 2]), num_users=2)
    assert sequences.latest(3).tolist() == [[-1, -1, -1], [-1, 4, 2]]


def test_a_horizon_ends_histories_up_to_h_steps_before_the_positive(demo_dir):
    dataset = load_dataset(demo_dir)
    length, horizon = 5, 4
    batch = next(
        iter(bpr_triples(dataset, 128, seed=1, history_length=length, history_horizon=horizon))
    )
    sequences = Sequences.from_dataset(dataset, ["train"])
    gaps = []
    for user, row, history in _batch_interactions(dataset, batch):
        end = sequences.position[row]
        windows = [
            sequences.windows([max(end - gap, sequences.starts[user])], [user], length)[0].tolist()
            for gap in range(horizon)
        ]
        assert history in windows
        gaps.append(windows.index(history))
    assert len(set(gaps)) > 1  # the gap is drawn, not fixed
