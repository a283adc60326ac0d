"""The dataset format users bring, parsed and checked.

A dataset is a directory with two UTF-8 CSV files:

* `items.csv`: `item_id`, plus optional `text` (the text itself), `image`,
  `audio` and `video` (paths relative to the directory; `video` is a video
  file or a folder of frame images). An empty cell means the item lacks that
  modality. Every other column is kept as metadata.
* `interactions.csv`: `user_id`, `item_id`, optional `rating` (a number),
  `timestamp` (an integer) and `split` (`train`, `valid` or `test`).

Ids are strings in the files and contiguous integers inside: items are
numbered in the order of `items.csv`, users in order of first appearance in
`interactions.csv`.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from array import array
from collections import Counter
from pathlib import Path

import numpy as np

from mmrec_tf.data.errors import DatasetError, Problem
from mmrec_tf.data.paths import UnsafePathError, resolve_inside
from mmrec_tf.names import MEDIA_MODALITIES, MODALITIES, SPLITS

ITEMS_FILE = "items.csv"
INTERACTIONS_FILE = "interactions.csv"
_SPLIT_NAMES = {split: split for split in SPLITS}


@dataclasses.dataclass(eq=False)
class MultimodalDataset:
    """Items with their content and the users' interactions with them.

    Build it with `load_dataset(path)`. Item `i` has id `item_ids[i]`; its
    text is `text[i]` and its media paths (relative to `root`) are
    `media[modality][i]`, None where the item lacks the modality.

    Attributes:
        root: the dataset directory.
        item_ids: item id strings, in internal index order.
        user_ids: user id strings, in internal index order.
        text: the text of each item or None.
        media: for `image`, `audio`, `video`: the relative path of each item's
            file or None.
        metadata: the other columns of `items.csv`, by name.
        interaction_users: int32 user index per interaction.
        interaction_items: int32 item index per interaction.
        ratings: float32 per interaction, or None when the file has none.
        timestamps: int64 per interaction, or None.
        splits: per-interaction split names, or None when the file has no
            `split` column.
    """

    root: Path
    item_ids: list[str]
    user_ids: list[str]
    text: list[str | None]
    media: dict[str, list[str | None]]
    metadata: dict[str, list[str]]
    interaction_users: np.ndarray
    interaction_items: np.ndarray
    ratings: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    splits: np.ndarray | None = None

    def __post_init__(self):
        self.item_index = {item_id: i for i, item_id in enumerate(self.item_ids)}
        self.user_index = {user_id: u for u, user_id in enumerate(self.user_ids)}

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    @property
    def num_interactions(self) -> int:
        return len(self.interaction_users)

    def modality_available(self, modality: str) -> np.ndarray:
        """A boolean per item: whether it has `modality`."""
        values = self.text if modality == "text" else self.media[_check_modality(modality)]
        return np.array([value is not None for value in values], dtype=bool)

    def modality_counts(self) -> dict[str, int]:
        """How many items have each modality."""
        return {m: int(self.modality_available(m).sum()) for m in MODALITIES}

    def split_counts(self) -> dict[str, int]:
        """Interactions per split (empty when the dataset has no splits)."""
        if self.splits is None:
            return {}
        counts = Counter(self.splits.tolist())
        return {split: counts.get(split, 0) for split in SPLITS}

    def interactions(self, split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(user indices, item indices) of the interactions in `split` (all if None)."""
        if split is None:
            return self.interaction_users, self.interaction_items
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}. Received: split={split!r}")
        if self.splits is None:
            raise ValueError(
                f"{self.root / INTERACTIONS_FILE} has no 'split' column; add one, or "
                "assign splits with mmrec_tf.data.temporal_split"
            )
        keep = self.splits == split
        return self.interaction_users[keep], self.interaction_items[keep]

    def interaction_pairs(self, splits) -> tuple[np.ndarray, np.ndarray]:
        """(users, items) of the interactions in `splits`, without repeats, sorted by user
        then item (what evaluation masks and serving never recommends)."""
        # One int64 key per pair, sorted, repeats dropped: much faster than unique(axis=1).
        keys = np.sort(
            np.concatenate(
                [
                    users.astype(np.int64) * self.num_items + items
                    for users, items in map(self.interactions, splits)
                ]
            )
        )
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
        return keys // self.num_items, keys % self.num_items

    def item_popularity(self) -> np.ndarray:
        """Share of users who interacted with each item in training (at least 1/num_users)."""
        _, items = self.interaction_pairs(["train"])
        counts = np.bincount(items, minlength=self.num_items)
        return np.maximum(counts, 1) / self.num_users

    def media_path(self, modality: str, item: int) -> Path | None:
        """The absolute path of an item's media file (None when it has none)."""
        relative = self.media[_check_modality(modality, MEDIA_MODALITIES)][item]
        return None if relative is None else resolve_inside(self.root, relative)

    def renumbered(self, user_order, item_order) -> MultimodalDataset:
        """This dataset with user `u` being this one's user `user_order[u]` and item `i`
        its item `item_order[i]` (both permutations), and the interactions in a
        canonical order: by user, then timestamp, item, split and rating. A run
        reads its dataset so (`DataIdentity.align`): the same rows in another order
        give the same numbering, batches and histories. Without timestamps the
        file's order is the time, so each user's rows keep their order.
        """
        user_order, item_order = np.asarray(user_order), np.asarray(item_order)
        new_user = np.empty(self.num_users, np.int32)
        new_user[user_order] = np.arange(self.num_users, dtype=np.int32)
        new_item = np.empty(self.num_items, np.int32)
        new_item[item_order] = np.arange(self.num_items, dtype=np.int32)
        users, items = new_user[self.interaction_users], new_item[self.interaction_items]
        if self.timestamps is None:
            order = np.argsort(users, kind="stable")
        else:
            keys = [items, self.timestamps, users]
            if self.splits is not None:
                keys.insert(0, sum(i * (self.splits == name) for i, name in enumerate(SPLITS)))
            if self.ratings is not None:
                keys.insert(0, self.ratings)
            order = np.lexsort(keys)

        def in_order(values):
            return None if values is None else values[order]

        return MultimodalDataset(
            root=self.root,
            item_ids=[self.item_ids[i] for i in item_order],
            user_ids=[self.user_ids[u] for u in user_order],
            text=[self.text[i] for i in item_order],
            media={m: [paths[i] for i in item_order] for m, paths in self.media.items()},
            metadata={c: [values[i] for i in item_order] for c, values in self.metadata.items()},
            interaction_users=users[order],
            interaction_items=items[order],
            ratings=in_order(self.ratings),
            timestamps=in_order(self.timestamps),
            splits=in_order(self.splits),
        )

    def summary(self) -> dict:
        """Counts for people: items, users, interactions, splits, modalities."""
        return {
            "items": self.num_items,
            "users": self.num_users,
            "interactions": self.num_interactions,
            "splits": self.split_counts(),
            "items_with": self.modality_counts(),
        }


def load_dataset(root: str | Path) -> MultimodalDataset:
    """Reads and checks a dataset directory.

    Checks the structure of both files, the ids, the splits and that no media
    path leaves the directory; media files are decoded later, by the loaders
    (or all at once by `validate_dataset`).

    Raises:
        DatasetError: listing every problem found, each naming its file and
            line or id.
    """
    dataset, problems = parse_dataset(root)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise DatasetError(errors)
    return dataset


def parse_dataset(root: str | Path) -> tuple[MultimodalDataset | None, list[Problem]]:
    """Parses a dataset, collecting problems instead of raising.

    Returns the dataset and every problem found. The dataset holds the rows
    that are fine (a bad media path is dropped, its item kept); it is None
    only when a file cannot be read as a table at all.
    """
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        return None, [Problem(str(root), "is not a directory")]
    items = _parse_items(root, problems)
    interactions = _parse_interactions(root, items, problems)
    if items is None or interactions is None:
        return None, problems
    item_ids, text, media, metadata = items
    return MultimodalDataset(
        root=root, item_ids=item_ids, text=text, media=media, metadata=metadata, **interactions
    ), problems


def _read_csv(path: Path, problems: list[Problem]):
    """Header and rows (an iterator, read as it goes: a file of ten million rows never
    sits in memory as lists) of a strict UTF-8 CSV file, or None with a problem
    recorded. A decoding or CSV error further down ends the rows with its problem."""
    name = path.name
    if not path.is_file():
        problems.append(Problem(name, "file not found"))
        return None
    known = len(problems)
    rows = _csv_rows(path, problems)
    first = next(rows, None)
    if len(problems) > known:  # the first line did not decode or parse
        return None
    if first is None or not any(cell.strip() for cell in first):
        problems.append(Problem(name, "is empty: expected a header line and rows"))
        return None
    header = [cell.strip() for cell in first]
    duplicated = sorted(c for c, n in Counter(header).items() if n > 1)
    if duplicated:
        problems.append(Problem(f"{name}:1", f"duplicated column(s) {duplicated}"))
        return None
    return header, rows


def _csv_rows(path: Path, problems: list[Problem]):
    """The rows of `path`, decoded strictly as UTF-8 while they are read."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            yield from csv.reader(f)
    except UnicodeDecodeError:
        # Where, in the whole file (the error's offset is within a chunk).
        raw = path.read_bytes()
        try:
            raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            problems.append(
                Problem(
                    f"{path.name}:{line}",
                    f"is not UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start}); "
                    "re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`",
                )
            )
    except csv.Error as e:
        problems.append(Problem(path.name, f"is not valid CSV: {e}"))


def _rows_as_dicts(name: str, header: list[str], rows, problems: list[Problem]):
    """Yields (line number, row dict), skipping blank lines and ragged rows."""
    for offset, row in enumerate(rows):
        line = offset + 2
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(
                Problem(f"{name}:{line}", f"has {len(row)} fields, the header has {len(header)}")
            )
            continue
        yield line, dict(zip(header, row, strict=True))


def _parse_items(root: Path, problems: list[Problem]):
    table = _read_csv(root / ITEMS_FILE, problems)
    if table is None:
        return None
    header, rows = table
    if "item_id" not in header:
        problems.append(Problem(f"{ITEMS_FILE}:1", f"has no 'item_id' column (columns: {header})"))
        return None
    item_ids, text = [], []
    media = {m: [] for m in MEDIA_MODALITIES}
    metadata_columns = [c for c in header if c != "item_id" and c not in MODALITIES]
    metadata = {c: [] for c in metadata_columns}
    first_line = {}
    for line, row in _rows_as_dicts(ITEMS_FILE, header, rows, problems):
        where = f"{ITEMS_FILE}:{line}"
        item_id = row["item_id"].strip()
        if not item_id:
            problems.append(Problem(where, "empty item_id"))
            continue
        if item_id in first_line:
            problems.append(
                Problem(where, f"item_id {item_id!r} already defined on line {first_line[item_id]}")
            )
            continue
        first_line[item_id] = line
        item_ids.append(item_id)
        text.append(row.get("text") or None)
        for modality in MEDIA_MODALITIES:
            relative = (row.get(modality) or "").strip() or None
            if relative is not None:
                try:
                    resolve_inside(root, relative)
                except UnsafePathError as e:
                    problems.append(Problem(where, f"{modality} path {e}"))
                    relative = None
            media[modality].append(relative)
        for column in metadata_columns:
            metadata[column].append(row[column])
    if not item_ids and not any(p.where.startswith(ITEMS_FILE) for p in problems):
        problems.append(Problem(ITEMS_FILE, "has a header but no items"))
    return item_ids, text, media, metadata


def _parse_interactions(root: Path, items, problems: list[Problem]):
    table = _read_csv(root / INTERACTIONS_FILE, problems)
    if table is None:
        return None
    header, rows = table
    missing = [c for c in ("user_id", "item_id") if c not in header]
    if missing:
        problems.append(
            Problem(f"{INTERACTIONS_FILE}:1", f"missing column(s) {missing} (columns: {header})")
        )
        return None
    item_index = {} if items is None else {item_id: i for i, item_id in enumerate(items[0])}
    has = {c: c in header for c in ("rating", "timestamp", "split")}
    user_index: dict[str, int] = {}
    # Typed arrays, not lists of Python numbers: a tenth of the memory at 10⁷ rows.
    users, item_list = array("i"), array("i")
    ratings, timestamps, splits = array("f"), array("q"), []
    unknown_items = Counter()
    for line, row in _rows_as_dicts(INTERACTIONS_FILE, header, rows, problems):
        where = f"{INTERACTIONS_FILE}:{line}"
        user_id, item_id = row["user_id"].strip(), row["item_id"].strip()
        if not user_id or not item_id:
            problems.append(Problem(where, "empty user_id or item_id"))
            continue
        if items is not None and item_id not in item_index:
            if unknown_items[item_id] == 0:
                problems.append(Problem(where, f"item_id {item_id!r} is not in {ITEMS_FILE}"))
            unknown_items[item_id] += 1
            continue
        parsed = _parse_optional_fields(row, has, where, problems)
        if parsed is None:
            continue
        users.append(user_index.setdefault(user_id, len(user_index)))
        item_list.append(item_index.get(item_id, -1))
        rating, timestamp, split = parsed
        if has["rating"]:
            ratings.append(rating)
        if has["timestamp"]:
            timestamps.append(timestamp)
        if has["split"]:
            splits.append(split)
    for item_id, count in unknown_items.items():
        if count > 1:
            problems.append(
                Problem(f"item_id {item_id!r}", f"{count} interactions name this unknown item")
            )
    if not users and not any(p.where.startswith(INTERACTIONS_FILE) for p in problems):
        problems.append(Problem(INTERACTIONS_FILE, "has a header but no interactions"))
    return {
        "user_ids": list(user_index),
        "interaction_users": np.asarray(users, dtype=np.int32),
        "interaction_items": np.asarray(item_list, dtype=np.int32),
        "ratings": np.asarray(ratings, dtype=np.float32) if has["rating"] else None,
        "timestamps": np.asarray(timestamps, dtype=np.int64) if has["timestamp"] else None,
        "splits": np.asarray(splits, dtype=object) if has["split"] else None,
    }


def _parse_optional_fields(row, has, where, problems):
    """(rating, timestamp, split) of one interaction, or None with a problem recorded."""
    rating = timestamp = split = None
    if has["rating"]:
        try:
            rating = float(row["rating"])
            if not math.isfinite(rating):
                raise ValueError
        except ValueError:
            problems.append(Problem(where, f"rating {row['rating']!r} is not a finite number"))
            return None
    if has["timestamp"]:
        try:
            timestamp = int(row["timestamp"])
        except ValueError:
            problems.append(Problem(where, f"timestamp {row['timestamp']!r} is not an integer"))
            return None
        if not -(2**63) <= timestamp < 2**63:
            problems.append(Problem(where, f"timestamp {timestamp} does not fit in 64 bits"))
            return None
    if has["split"]:
        # The shared name, not the row's own copy of it (millions of rows).
        split = _SPLIT_NAMES.get(row["split"].strip())
        if split is None:
            problems.append(
                Problem(where, f"split {row['split'].strip()!r} is not one of {list(SPLITS)}")
            )
            return None
    return rating, timestamp, split


def _check_modality(modality: str, allowed=MODALITIES) -> str:
    if modality not in allowed:
        raise ValueError(f"modality must be one of {allowed}. Received: modality={modality!r}")
    return modality
