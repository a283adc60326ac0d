import os

import numpy as np
import pytest

from mmrec_tf.data import DatasetError, load_dataset, parse_dataset


def _items(n=3, **columns):
    return [
        {"item_id": f"i{k}", "text": f"text {k}", **{c: v[k] for c, v in columns.items()}}
        for k in range(n)
    ]


def test_ids_map_to_contiguous_indices_and_metadata_is_kept(make_dataset):
    items = [
        {"item_id": "b", "text": "x", "title": "B"},
        {"item_id": "a", "text": "", "title": "A"},
    ]
    interactions = [
        {"user_id": "u9", "item_id": "a", "rating": "4.5", "timestamp": "10", "split": "train"},
        {"user_id": "u2", "item_id": "b", "rating": "3", "timestamp": "11", "split": "test"},
        {"user_id": "u9", "item_id": "b", "rating": "1", "timestamp": "12", "split": "valid"},
    ]
    ds = load_dataset(make_dataset(items, interactions))
    assert ds.item_ids == ["b", "a"] and ds.item_index == {"b": 0, "a": 1}
    assert ds.user_ids == ["u9", "u2"]
    np.testing.assert_array_equal(ds.interaction_users, [0, 1, 0])
    np.testing.assert_array_equal(ds.interaction_items, [1, 0, 0])
    np.testing.assert_allclose(ds.ratings, [4.5, 3, 1])
    np.testing.assert_array_equal(ds.timestamps, [10, 11, 12])
    assert ds.split_counts() == {"train": 1, "valid": 1, "test": 1}
    assert ds.text == ["x", None]
    assert ds.metadata == {"title": ["B", "A"]}
    users, items_ = ds.interactions("test")
    assert users.tolist() == [1] and items_.tolist() == [0]


def test_interaction_with_unknown_item_names_the_item_and_line(make_dataset):
    interactions = [{"user_id": "u", "item_id": "i0"}, {"user_id": "u", "item_id": "ghost"}]
    with pytest.raises(DatasetError, match=r"interactions.csv:3: item_id 'ghost' is not in items"):
        load_dataset(make_dataset(_items(), interactions))


def test_non_utf8_items_file_is_reported_with_its_line(make_dataset):
    root = make_dataset(_items())
    (root / "items.csv").write_bytes("item_id,text\ni0,ok\ni1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"items.csv:3: is not UTF-8 \(byte 0xe9"):
        load_dataset(root)


def test_a_bad_byte_far_down_a_file_read_as_it_goes_names_its_line(make_dataset):
    # Past the reader's first chunks: the line is counted in the whole file.
    root = make_dataset(_items())
    rows = "".join(f"u{n},i{n % 3}\n" for n in range(20000))
    (root / "interactions.csv").write_bytes(
        ("user_id,item_id\n" + rows).encode() + b"u\xff,i0\n" + b"u,i1\n"
    )
    with pytest.raises(DatasetError, match=r"interactions.csv:20002: is not UTF-8 \(byte 0xff"):
        load_dataset(root)


def test_a_timestamp_beyond_64_bits_is_a_problem_of_its_line(make_dataset):
    interactions = [
        {"user_id": "u", "item_id": "i0", "timestamp": "1"},
        {"user_id": "u", "item_id": "i1", "timestamp": str(2**63)},
    ]
    with pytest.raises(DatasetError, match=r"interactions.csv:3: timestamp 9223372036854775808 "):
        load_dataset(make_dataset(_items(), interactions))


def test_utf8_with_byte_order_mark_is_accepted(make_dataset):
    root = make_dataset(_items())
    (root / "items.csv").write_bytes("\ufeffitem_id,text\ni0,café\n".encode())
    (root / "interactions.csv").write_text("user_id,item_id\nu,i0\n")
    assert load_dataset(root).text == ["café"]


@pytest.mark.parametrize("content", ["", "user_id,item_id\n", "\n\n"])
def test_empty_interactions_file_is_an_error(make_dataset, content):
    root = make_dataset(_items())
    (root / "interactions.csv").write_text(content)
    with pytest.raises(DatasetError, match=r"interactions.csv: (is empty|has a header but no)"):
        load_dataset(root)


def test_missing_files_and_columns(make_dataset, tmp_path):
    with pytest.raises(DatasetError, match="is not a directory"):
        load_dataset(tmp_path / "nowhere")
    root = make_dataset(_items())
    os.remove(root / "interactions.csv")
    with pytest.raises(DatasetError, match="interactions.csv: file not found"):
        load_dataset(root)
    root = make_dataset([{"id": "x"}], [{"user_id": "u", "item_id": "x"}], name="nocol")
    with pytest.raises(DatasetError, match="has no 'item_id' column"):
        load_dataset(root)


def test_every_problem_is_collected_not_only_the_first(make_dataset):
    items = _items() + [{"item_id": "i0", "text": "again"}]
    interactions = [
        {"user_id": "u", "item_id": "i1", "rating": "x", "timestamp": "1", "split": "train"},
        {"user_id": "u", "item_id": "i1", "rating": "1", "timestamp": "t", "split": "train"},
        {"user_id": "u", "item_id": "i1", "rating": "1", "timestamp": "1", "split": "dev"},
        {"user_id": "", "item_id": "i1", "rating": "1", "timestamp": "1", "split": "test"},
    ]
    dataset, problems = parse_dataset(make_dataset(items, interactions))
    assert dataset.item_ids == ["i0", "i1", "i2"] and dataset.num_interactions == 0
    messages = [str(p) for p in problems]
    assert messages == [
        "error: items.csv:5: item_id 'i0' already defined on line 2",
        "error: interactions.csv:2: rating 'x' is not a finite number",
        "error: interactions.csv:3: timestamp 't' is not an integer",
        "error: interactions.csv:4: split 'dev' is not one of ['train', 'valid', 'test']",
        "error: interactions.csv:5: empty user_id or item_id",
    ]


@pytest.mark.parametrize(
    "path, message",
    [
        ("/etc/passwd", "is an absolute path"),
        ("../outside.png", r"leads outside the dataset directory \(through '..'\)"),
        ("images/../../outside.png", "through '..'"),
        ("link/secret.png", "through a symbolic link"),
    ],
)
def test_media_paths_may_not_leave_the_dataset(make_dataset, tmp_path, path, message):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = make_dataset([{"item_id": "i0", "image": path}])
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(DatasetError, match=message):
        load_dataset(root)


def test_symbolic_link_inside_the_dataset_is_fine(make_dataset):
    root = make_dataset([{"item_id": "i0", "image": "alias/a.png"}])
    (root / "real").mkdir()
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    assert load_dataset(root).media_path("image", 0) == (root / "real" / "a.png").resolve()


def test_modality_counts_and_missing_cells(make_dataset):
    items = [
        {"item_id": "a", "text": "t", "image": "x.png", "audio": "", "video": "v"},
        {"item_id": "b", "text": "", "image": " ", "audio": "s.wav", "video": ""},
    ]
    ds = load_dataset(make_dataset(items))
    assert ds.modality_counts() == {"text": 1, "image": 1, "audio": 1, "video": 1}
    assert ds.media["image"] == ["x.png", None]
    assert ds.media_path("audio", 0) is None


def test_dataset_without_split_column_explains_how_to_add_one(make_dataset):
    ds = load_dataset(make_dataset(_items(), [{"user_id": "u", "item_id": "i0"}]))
    assert ds.split_counts() == {}
    with pytest.raises(ValueError, match="temporal_split"):
        ds.interactions("train")
    with pytest.raises(ValueError, match="split must be one of"):
        ds.interactions("training")


def test_interaction_pairs_and_popularity_come_from_the_splits(make_dataset):
    items = [{"item_id": f"i{n}", "title": f"Item {n}"} for n in range(4)]
    rows = [
        ("u2", "i1", "train"),
        ("u1", "i3", "train"),
        ("u1", "i1", "train"),
        ("u1", "i1", "train"),  # a repeat counts once
        ("u2", "i0", "valid"),
        ("u1", "i2", "test"),
    ]
    interactions = [{"user_id": u, "item_id": i, "split": s} for u, i, s in rows]
    dataset = load_dataset(make_dataset(items, interactions))
    u1, u2 = dataset.user_ids.index("u1"), dataset.user_ids.index("u2")
    users, items_ = dataset.interaction_pairs(["train", "valid"])
    pairs = sorted(zip(users.tolist(), items_.tolist(), strict=True))
    expected = sorted([(u2, 1), (u1, 3), (u1, 1), (u2, 0)])
    assert pairs == expected and list(users) == sorted(users)
    # Training shares of 2 users: i1 both, i3 one, i0 and i2 none (floored at 1/2).
    np.testing.assert_allclose(dataset.item_popularity(), [0.5, 1.0, 0.5, 0.5])
