"""DataIdentity: a run's users and items in its index order, recorded and mapped."""

import json

import numpy as np
import pytest
from conftest import write_dataset

from mmrec_tf.data import load_dataset
from mmrec_tf.data.feature_cache import FeatureCache
from mmrec_tf.data.histories import Sequences
from mmrec_tf.data.identity import DataIdentity, IdentityMismatch

ITEMS = [{"item_id": f"i{n}", "text": f"item {n}", "title": f"Title {n}"} for n in range(5)]
# Two users; u1 has two interactions at the same second (a tie the order must break).
INTERACTIONS = [
    {"user_id": "u1", "item_id": "i3", "rating": 4, "timestamp": 10, "split": "train"},
    {"user_id": "u2", "item_id": "i0", "rating": 5, "timestamp": 11, "split": "train"},
    {"user_id": "u1", "item_id": "i1", "rating": 3, "timestamp": 10, "split": "train"},
    {"user_id": "u2", "item_id": "i4", "rating": 2, "timestamp": 12, "split": "train"},
    {"user_id": "u1", "item_id": "i2", "rating": 1, "timestamp": 20, "split": "valid"},
    {"user_id": "u2", "item_id": "i2", "rating": 1, "timestamp": 30, "split": "test"},
]


def _datasets(tmp_path, items=ITEMS, interactions=INTERACTIONS):
    """The rows as given, and the same rows reversed in both files."""
    first = load_dataset(write_dataset(tmp_path / "first", ITEMS, INTERACTIONS))
    reordered = load_dataset(write_dataset(tmp_path / "other", items[::-1], interactions[::-1]))
    return first, reordered


def test_reordered_rows_are_numbered_and_ordered_as_the_run_learned(tmp_path):
    first, reordered = _datasets(tmp_path)
    assert reordered.item_ids != first.item_ids  # the files really differ in order
    assert reordered.user_ids != first.user_ids
    identity = DataIdentity.of(first)
    a, b = identity.align(first, "ids.json"), identity.align(reordered, "ids.json")
    assert a.item_ids == b.item_ids == first.item_ids
    assert a.user_ids == b.user_ids == first.user_ids
    assert a.text == b.text and a.metadata == b.metadata and a.media == b.media
    for name in ("interaction_users", "interaction_items", "ratings", "timestamps", "splits"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # Histories (ties at one timestamp included) are the same in both.
    np.testing.assert_array_equal(
        Sequences.from_dataset(a, ["train"]).latest(3),
        Sequences.from_dataset(b, ["train"]).latest(3),
    )
    # The rows themselves: u1 (index 0) read i1 then i3 at second 10 (item order breaks
    # the tie), then i2.
    users, items = a.interaction_users.tolist(), a.interaction_items.tolist()
    assert [(a.user_ids[u], a.item_ids[i]) for u, i in zip(users, items, strict=True)][:3] == [
        ("u1", "i1"),
        ("u1", "i3"),
        ("u1", "i2"),
    ]


def test_without_timestamps_each_users_rows_keep_the_files_order(tmp_path):
    rows = [{k: v for k, v in row.items() if k != "timestamp"} for row in INTERACTIONS]
    dataset = load_dataset(write_dataset(tmp_path / "d", ITEMS, rows))
    aligned = DataIdentity.of(dataset).align(dataset, "ids.json")
    u1 = aligned.interaction_items[aligned.interaction_users == 0]
    assert [aligned.item_ids[i] for i in u1] == ["i3", "i1", "i2"]  # the file's time order


@pytest.mark.parametrize(
    "change, expected",
    [
        ("rename item", "items.csv has no item 'i4', which the model learned (RUN/ids.json)"),
        ("add item", "items.csv has item 'i9', which the model never learned (RUN/ids.json)"),
        ("rename user", "interactions.csv has no user 'u2', which the model learned"),
    ],
)
def test_other_ids_are_refused_naming_the_first_one_and_the_file(tmp_path, change, expected):
    first = load_dataset(write_dataset(tmp_path / "first", ITEMS, INTERACTIONS))
    items, interactions = [dict(r) for r in ITEMS], [dict(r) for r in INTERACTIONS]
    if change == "rename item":
        items[4]["item_id"] = interactions[3]["item_id"] = "i4b"
    elif change == "add item":
        items.append({"item_id": "i9", "text": "new", "title": "New"})
    else:
        for row in interactions:
            row["user_id"] = "u2b" if row["user_id"] == "u2" else row["user_id"]
    changed = load_dataset(write_dataset(tmp_path / "changed", items, interactions))
    with pytest.raises(IdentityMismatch) as error:
        DataIdentity.of(first).align(changed, "RUN/ids.json")
    message = str(error.value)
    assert expected in message and "\n" not in message
    assert str(tmp_path / "changed") in message


def test_the_recorded_file_round_trips_and_damage_is_named(tmp_path):
    first, _ = _datasets(tmp_path)
    identity = DataIdentity.of(first)
    text = identity.to_json()
    assert DataIdentity.from_json(text, "ids.json") == identity
    recorded = json.loads(text)
    assert recorded["item_ids"] == ["i0", "i1", "i2", "i3", "i4"]
    recorded["item_ids"][0] = "i0-edited"
    with pytest.raises(ValueError, match="RUN/ids.json is damaged: its ids do not match"):
        DataIdentity.from_json(json.dumps(recorded), "RUN/ids.json")
    with pytest.raises(ValueError, match="RUN/ids.json is damaged"):
        DataIdentity.from_json(text[:-10], "RUN/ids.json")


def test_features_of_reordered_items_are_mapped_by_id(tmp_path):
    first, reordered = _datasets(tmp_path)
    cache = FeatureCache(tmp_path / "features")
    rows = np.arange(15, dtype=np.float32).reshape(5, 3)  # item i's row: 3i, 3i+1, 3i+2
    metadata = {"item_ids": first.item_ids, "missing_item_ids": ["i2"], "failed_item_ids": []}
    cache.write("text", rows, metadata)
    features, present = cache.load(reordered, ["text"])
    expected = [int(i[1:]) for i in reordered.item_ids]
    np.testing.assert_array_equal(features["text"][:, 0], 3 * np.array(expected))
    assert present["text"].tolist() == [i != "i2" for i in reordered.item_ids]
    other = load_dataset(write_dataset(tmp_path / "fewer", ITEMS[:4], INTERACTIONS[:3]))
    with pytest.raises(ValueError, match="text.json holds items not in .*fewer"):
        cache.load(other, ["text"])
