"""A dataset as it was before its newest users, items and interactions arrived (shared by
the tests of growth, `update` and `extract-features --append`)."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path


def earlier_dataset(root, out, new_items=10, new_users=5, new_interactions=0.1) -> Path:
    """Writes at `out` the dataset at `root` without its last `new_items` rows of
    items.csv, its last `new_users` users (in id order), every interaction with
    them, and the latest `new_interactions` share of the remaining rows (by
    timestamp); the media files are hard links (copies across file systems): a
    dataset refuses symbolic links out of its folder. `root` is then the
    grown dataset: its new items at the end of items.csv, its other rows in order.
    """
    root, out = Path(root), Path(out)
    out.mkdir(parents=True)
    for entry in root.iterdir():
        if entry.is_dir():
            shutil.copytree(entry, out / entry.name, copy_function=_link)
        elif entry.name not in ("items.csv", "interactions.csv"):
            _link(entry, out / entry.name)
    header, items = _read(root / "items.csv")
    kept_items = items[: len(items) - new_items]
    _write(out / "items.csv", header, kept_items)
    header, rows = _read(root / "interactions.csv")
    users = sorted({row["user_id"] for row in rows})
    gone_users = set(users[len(users) - new_users :])
    known = {row["item_id"] for row in kept_items}
    rows = [r for r in rows if r["item_id"] in known and r["user_id"] not in gone_users]
    latest = sorted(range(len(rows)), key=lambda i: int(rows[i]["timestamp"]))
    dropped = set(latest[len(rows) - int(new_interactions * len(rows)) :])
    kept_rows = [r for i, r in enumerate(rows) if i not in dropped]
    _write(out / "interactions.csv", header, kept_rows)
    # What the tests build on: the earlier items are the grown dataset's first rows,
    # and the earlier dataset has none of the new users or items.
    assert [r["item_id"] for r in kept_items] == [r["item_id"] for r in items][: len(kept_items)]
    assert not gone_users & {r["user_id"] for r in kept_rows}
    assert {r["item_id"] for r in kept_rows} <= known
    assert len(kept_rows) == len(rows) - len(dropped)
    return out


def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def _write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, header)
        writer.writeheader()
        writer.writerows(rows)


def _link(source, target):
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
