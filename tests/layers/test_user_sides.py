import numpy as np
import pytest

from mmrec_tf.layers import HistoryUsers, UserIds

NUM_USERS, NUM_ITEMS, DIM, LENGTH = 5, 9, 4, 3


@pytest.fixture
def items():
    return np.random.default_rng(0).normal(size=(NUM_ITEMS, DIM)).astype("float32")


@pytest.fixture
def histories():
    # Full, padded, a single item, and empty (−1 pads on the left).
    return np.array([[4, 0, 8], [-1, 2, 2], [-1, -1, 7], [-1, -1, -1]], np.int32)


def rows_of(table):
    return lambda indices: np.asarray(table)[np.asarray(indices)]


def test_user_ids(items):
    users = UserIds(NUM_USERS, DIM)
    table = users.table().numpy()
    assert table.shape == (NUM_USERS, DIM)
    indices = np.array([4, 0, 4], np.int32)
    np.testing.assert_array_equal(users.ranked(table, items, indices).numpy(), table[indices])
    batch = users.batch(rows_of(table), rows_of(items), {"user_index": indices})
    np.testing.assert_array_equal(batch, table[indices])
    assert users.sampler_options() == {} and users.example_coupling is None
    config = users.get_config()
    assert UserIds.from_config(config).get_config() == config


def _encoded(users, histories, items):
    """The history encoder called directly on the gathered item rows and the padding mask."""
    tokens = items[np.maximum(histories, 0)]
    return users.history_encoder(tokens, mask=histories != -1).numpy()


def test_history_users_encode(items, histories):
    users = HistoryUsers(NUM_USERS, DIM, history_length=LENGTH)
    expected = _encoded(users, histories, items)
    np.testing.assert_allclose(users.encode(histories, items).numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(  # items as a function of indices
        users.encode(histories, rows_of(items)).numpy(), expected, atol=1e-6
    )
    np.testing.assert_array_equal(expected[3], np.zeros(DIM))  # empty history: zeros
    # Padding never reads item 0 (the gather's stand-in): changing it changes full histories only.
    moved = items.copy()
    moved[0] += 5.0
    changed = users.encode(histories, moved).numpy()
    np.testing.assert_allclose(changed[1:], expected[1:], atol=1e-6)
    assert not np.allclose(changed[0], expected[0])
    # Without use_user_ids the user indices are not read.
    with_indices = users.encode(histories, items, np.array([0, 1, 2, 3])).numpy()
    np.testing.assert_allclose(with_indices, expected, atol=1e-6)


def test_history_users_add_their_id_with_use_user_ids(items, histories):
    users = HistoryUsers(NUM_USERS, DIM, history_length=LENGTH, use_user_ids=True)
    expected = _encoded(users, histories, items)
    indices = np.array([3, 0, 4, 1], np.int32)
    ids = users.table().numpy()[indices]
    np.testing.assert_allclose(
        users.encode(histories, items, indices).numpy(), expected + ids, atol=1e-6
    )
    # Without user indices (a new user's history), the history alone.
    np.testing.assert_allclose(users.encode(histories, items).numpy(), expected, atol=1e-6)


def test_history_users_batch_and_ranked_read_histories(items, histories):
    users = HistoryUsers(NUM_USERS, DIM, history_length=LENGTH, use_user_ids=True)
    stored = np.full((NUM_USERS, LENGTH), -1, np.int32)
    stored[[1, 3, 4]] = histories[:3]
    users.stored_histories.assign(stored)
    indices = np.array([4, 1, 3], np.int32)
    ids = users.table().numpy()[indices]
    from_stored = _encoded(users, stored[indices], items) + ids
    np.testing.assert_allclose(
        users.ranked(users.table(), items, indices).numpy(), from_stored, atol=1e-6
    )
    # A batch without histories reads the stored ones; with them, its own.
    batch = {"user_index": indices}
    np.testing.assert_allclose(
        users.batch(None, rows_of(items), batch).numpy(), from_stored, atol=1e-6
    )
    own = histories[[3, 2, 0]]
    np.testing.assert_allclose(
        users.batch(None, rows_of(items), {**batch, "history": own}).numpy(),
        _encoded(users, own, items) + ids,
        atol=1e-6,
    )


def test_history_users_options_and_config():
    users = HistoryUsers(NUM_USERS, DIM, history_length=LENGTH, history_horizon=2)
    assert users.sampler_options() == {"history_length": LENGTH, "history_horizon": 2}
    assert "history" in users.example_coupling
    np.testing.assert_array_equal(users.stored_histories.numpy(), -np.ones((NUM_USERS, LENGTH)))
    assert not users.stored_histories.trainable
    config = users.get_config()
    assert config["history_horizon"] == 2 and config["history_length"] == LENGTH
    assert HistoryUsers.from_config(config).get_config() == config
    for horizon in (0, -1):
        with pytest.raises(ValueError, match=f"history_horizon must be ≥ 1. Received: {horizon}"):
            HistoryUsers(NUM_USERS, DIM, history_horizon=horizon)
