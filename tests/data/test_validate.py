"""`validate_dataset`'s warnings about what parses but spoils an evaluation."""

from mmrec_tf.cli import main
from mmrec_tf.data import validate_dataset

ITEMS = [{"item_id": f"i{k}", "text": f"text {k}"} for k in range(4)]


def _rows(*rows, columns=("user_id", "item_id", "split")):
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _warning_lines(root) -> list[str]:
    report = validate_dataset(root, decode_media=False)
    assert report.ok, report.format()
    return [str(p) for p in report.problems]


def test_a_clean_split_has_no_warning(make_dataset):
    rows = _rows(
        ("u1", "i0", "train"),
        ("u1", "i1", "train"),
        ("u2", "i2", "train"),
        ("u2", "i3", "train"),
        ("u1", "i2", "valid"),
        ("u2", "i0", "test"),
        ("u1", "i3", "test"),
    )
    assert _warning_lines(make_dataset(ITEMS, rows)) == []


def test_held_out_pairs_seen_in_train_or_valid_are_counted_per_split(make_dataset):
    rows = _rows(
        ("u1", "i0", "train"),
        ("u1", "i1", "train"),
        ("u2", "i0", "train"),
        ("u2", "i3", "train"),
        ("u1", "i2", "train"),
        ("u2", "i1", "valid"),
        ("u1", "i1", "valid"),  # repeats train
        ("u2", "i0", "test"),  # repeats train
        ("u1", "i0", "test"),  # repeats train
        ("u2", "i1", "test"),  # repeats valid only
        ("u1", "i3", "test"),
    )
    assert _warning_lines(make_dataset(ITEMS, rows)) == [
        "warning: interactions.csv: 1 valid and 2 test interaction(s) repeat a (user, item) "
        "pair of train (e.g. user 'u1', item 'i1'): evaluation masks training items, so "
        "they can never be hit and lower recall; drop them from valid/test to measure new "
        "items only",
        "warning: interactions.csv: 1 test interaction(s) repeat a (user, item) pair of "
        "valid, not of train (e.g. user 'u2', item 'i1'): evaluating test with the default "
        "mask train+valid masks validation items too, so they can never be hit and lower "
        "recall; drop them from test",
    ]


def test_only_test_repeats_name_only_test(make_dataset):
    rows = _rows(
        ("u1", "i0", "train"),
        ("u1", "i1", "train"),
        ("u1", "i2", "train"),
        ("u1", "i3", "train"),
        ("u2", "i0", "train"),
        ("u1", "i2", "test"),
        ("u2", "i0", "test"),
    )
    (line,) = _warning_lines(make_dataset(ITEMS, rows))
    assert line.startswith(
        "warning: interactions.csv: 2 test interaction(s) repeat a (user, item) pair of "
        "train (e.g. user 'u1', item 'i2')"
    )


def test_exact_duplicate_rows_are_counted_not_rows_that_differ_in_a_field(make_dataset):
    columns = ("user_id", "item_id", "rating", "timestamp", "split")
    rows = _rows(
        ("u1", "i0", "5", "100", "train"),
        ("u2", "i1", "3", "5", "train"),
        ("u2", "i1", "3", "5", "train"),  # a copy
        ("u1", "i0", "4", "100", "train"),  # another rating
        ("u1", "i0", "5", "101", "train"),  # another time
        ("u1", "i0", "5", "100", "train"),  # a copy
        ("u2", "i1", "3", "5", "train"),  # a copy
        ("u1", "i2", "5", "100", "train"),
        ("u2", "i3", "5", "100", "train"),
        columns=columns,
    )
    assert _warning_lines(make_dataset(ITEMS, rows)) == [
        "warning: interactions.csv: 3 row(s) repeat an earlier row in every column "
        "(user_id, item_id, rating, timestamp, split) (e.g. user 'u2', item 'i1'): probably "
        "written twice: each copy counts again in training (evaluation counts a pair once); "
        "drop the copies"
    ]


def test_duplicates_without_optional_columns_compare_user_and_item(make_dataset):
    rows = _rows(("u1", "i0"), ("u1", "i1"), ("u1", "i0"), columns=("user_id", "item_id"))
    lines = _warning_lines(make_dataset(ITEMS, rows))
    assert len(lines) == 2
    assert lines[0].startswith("warning: interactions.csv: has no 'split' column")
    assert lines[1].startswith(
        "warning: interactions.csv: 1 row(s) repeat an earlier row in every column "
        "(user_id, item_id) (e.g. user 'u1', item 'i0')"
    )


def test_users_and_items_without_a_train_interaction(make_dataset):
    rows = _rows(
        ("u1", "i0", "train"),
        ("u1", "i1", "train"),
        ("u2", "i2", "valid"),
        ("u3", "i0", "test"),
        ("u3", "i3", "valid"),
    )
    assert _warning_lines(make_dataset(ITEMS, rows)) == [
        "warning: interactions.csv: 2 user(s) have no train interaction (e.g. user 'u2'): "
        "nothing is learned about them, so they cannot be served as known users: evaluation "
        "and recommend give them the popular items, as to an unknown user",
        "warning: interactions.csv: 2 item(s) have interactions, none of them in train "
        "(e.g. item 'i2'): their id vectors are never trained; only their content can place "
        "them",
    ]


def test_the_command_prints_the_warnings_and_exits_zero(make_dataset, capsys):
    rows = _rows(("u1", "i0", "train"), ("u1", "i0", "test"), ("u1", "i1", "train"))
    root = make_dataset(ITEMS[:2], rows)
    assert main(["validate", "--data", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "0 error(s), 1 warning(s)" in out
    assert out[-1].startswith("warning: interactions.csv: 1 test interaction(s) repeat")


def test_items_without_any_content_are_named(make_dataset):
    items = [{"item_id": "a", "text": "t", "image": ""}, {"item_id": "b", "text": "", "image": ""}]
    rows = _rows(("u1", "a", "train"), ("u1", "b", "train"))
    assert _warning_lines(make_dataset(items, rows)) == [
        "warning: items.csv: 1 item(s) have no content at all (e.g. 'b'); only their ids "
        "can be learned"
    ]
