"""Checking a whole dataset: structure, ids, splits, and every media file decoded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from mmrec_tf.data.dataset import (
    INTERACTIONS_FILE,
    MEDIA_MODALITIES,
    MODALITIES,
    SPLITS,
    parse_dataset,
)
from mmrec_tf.data.errors import Problem
from mmrec_tf.data.loaders import ItemLoader


@dataclasses.dataclass
class ValidationReport:
    """What `validate_dataset` found.

    Attributes:
        summary: counts (`items`, `users`, `interactions`, `splits`,
            `items_with`), empty when the files could not be parsed.
        problems: every problem, each naming its file, line or id.
    """

    summary: dict
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(p.severity == "error" for p in self.problems)

    def format(self) -> str:
        """The summary, then one line per problem."""
        lines = []
        if self.summary:
            s = self.summary
            lines += [
                f"items: {s['items']:,}",
                f"users: {s['users']:,}",
                f"interactions: {s['interactions']:,}",
            ]
            if s["splits"]:
                lines.append("splits: " + ", ".join(f"{k} {s['splits'][k]:,}" for k in SPLITS))
            lines.append(
                "items with: " + ", ".join(f"{m} {s['items_with'][m]:,}" for m in MODALITIES)
            )
        errors = sum(p.severity == "error" for p in self.problems)
        warnings = len(self.problems) - errors
        lines.append(f"{errors} error(s), {warnings} warning(s)")
        lines += [str(p) for p in self.problems]
        return "\n".join(lines)


def validate_dataset(
    root: str | Path, *, decode_media: bool = True, **loader_options
) -> ValidationReport:
    """Checks a dataset directory completely, collecting every problem.

    Parses both CSV files (ids, splits, paths that leave the directory), then
    decodes every referenced media file exactly as the loaders do, with the
    same options (`loader_options` are `ItemLoader`'s `image`, `audio`,
    `video`). Never raises for bad data: every problem is in the report.

    The summary counts an item as having a modality only when its file decodes.
    Warnings name what parses but spoils training or evaluation: held-out
    (user, item) pairs also in train (masked, so never hit), rows repeated in
    every column, users and items with no train interaction, items without
    content, a missing `split` column.
    """
    dataset, problems = parse_dataset(root)
    if dataset is None:
        return ValidationReport({}, problems)
    summary = dataset.summary()
    media = [m for m in MEDIA_MODALITIES if summary["items_with"][m]]
    if decode_media and media:
        loader = ItemLoader(dataset, media, on_error="mask", **loader_options)
        for _ in loader.as_dataset():
            pass
        for error in loader.errors:
            problems.append(
                Problem(error.path, f"{error.modality} of item {error.item_id!r}: {error.reason}")
            )
            summary["items_with"][error.modality] -= 1
    problems += _warnings(dataset)
    return ValidationReport(summary, problems)


def _warnings(dataset) -> list[Problem]:
    """What parses but silently spoils training or evaluation, vectorised over
    the interactions (fast at 10⁷ of them)."""
    problems = []
    if dataset.splits is None:
        problems.append(
            Problem(
                INTERACTIONS_FILE,
                "has no 'split' column; assign one with "
                "mmrec_tf.data.temporal_split before training",
                "warning",
            )
        )
    available = np.stack([dataset.modality_available(m) for m in MODALITIES])
    no_content = np.flatnonzero(~available.any(axis=0))
    if no_content.size:
        shown = ", ".join(repr(dataset.item_ids[i]) for i in no_content[:5])
        problems.append(
            Problem(
                "items.csv",
                f"{no_content.size} item(s) have no content at "
                f"all (e.g. {shown}); only their ids can be learned",
                "warning",
            )
        )
    if dataset.num_interactions:
        interactions = _Interactions(dataset)
        problems += interactions.duplicate_rows()
        if dataset.splits is not None:
            problems += interactions.held_out_repeats()
            problems += interactions.missing_from_train()
    return problems


class _Interactions:
    """The interactions sorted once by (user, item) pair, for the checks that
    compare rows sharing a pair."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.pairs = dataset.interaction_users.astype(np.int64) * dataset.num_items
        self.pairs += dataset.interaction_items
        self.split = None
        if dataset.splits is not None:
            self.split = np.full(dataset.num_interactions, -1, np.int8)
            for code, name in enumerate(SPLITS):
                self.split[dataset.splits == name] = code
        self.order = np.argsort(self.pairs, kind="stable")
        sorted_pairs = self.pairs[self.order]
        starts = np.concatenate([[True], sorted_pairs[1:] != sorted_pairs[:-1]])
        # group[r]: which pair the r-th sorted row has; file order is kept within a pair.
        self.group = np.cumsum(starts) - 1
        self.group_of_row = np.empty_like(self.group)
        self.group_of_row[self.order] = self.group

    def _example(self, row: int) -> str:
        d = self.dataset
        return (
            f"user {d.user_ids[d.interaction_users[row]]!r}, "
            f"item {d.item_ids[d.interaction_items[row]]!r}"
        )

    def duplicate_rows(self) -> list[Problem]:
        """Rows equal in every field to an earlier row."""
        d = self.dataset
        size = np.bincount(self.group)
        shared = self.order[size[self.group] > 1]  # rows whose pair repeats
        if not shared.size:
            return []
        fields = [shared]  # the least significant key: file order within equal rows
        for column in (d.ratings, d.timestamps, self.split):
            if column is not None:
                fields.append(column[shared])
        fields.append(self.pairs[shared])
        rows = shared[np.lexsort(fields)]
        same = np.ones(rows.size - 1, bool)
        for column in (self.pairs, d.ratings, d.timestamps, self.split):
            if column is not None:
                same &= column[rows[1:]] == column[rows[:-1]]
        repeats = rows[1:][same]
        if not repeats.size:
            return []
        columns = ["user_id", "item_id"] + [
            name
            for name, column in (
                ("rating", d.ratings),
                ("timestamp", d.timestamps),
                ("split", d.splits),
            )
            if column is not None
        ]
        return [
            Problem(
                INTERACTIONS_FILE,
                f"{repeats.size:,} row(s) repeat an earlier row in every column "
                f"({', '.join(columns)}) (e.g. {self._example(repeats.min())}): "
                "probably written twice: each copy counts again in training "
                "(evaluation counts a pair once); drop the copies",
                "warning",
            )
        ]

    def held_out_repeats(self) -> list[Problem]:
        """Valid and test rows whose pair is also in train (and test rows whose
        pair is in valid): evaluation masks those pairs, so they are never hit."""
        groups = self.group[-1] + 1
        pair_in = {
            name: (np.bincount(self.group_of_row[self.split == code], minlength=groups) > 0)[
                self.group_of_row
            ]
            for code, name in enumerate(SPLITS)
        }
        repeats = {
            name: (self.split == SPLITS.index(name)) & pair_in["train"] for name in SPLITS[1:]
        }
        counts = {name: int(rows.sum()) for name, rows in repeats.items()}
        problems = []
        if any(counts.values()):
            counted = " and ".join(f"{n:,} {name}" for name, n in counts.items() if n)
            example = np.flatnonzero(repeats["valid"] | repeats["test"])[0]
            problems.append(
                Problem(
                    INTERACTIONS_FILE,
                    f"{counted} interaction(s) repeat a (user, item) pair of train "
                    f"(e.g. {self._example(example)}): evaluation masks training items, "
                    "so they can never be hit and lower recall; drop them from "
                    "valid/test to measure new items only",
                    "warning",
                )
            )
        after_valid = (self.split == SPLITS.index("test")) & pair_in["valid"] & ~pair_in["train"]
        if after_valid.any():
            problems.append(
                Problem(
                    INTERACTIONS_FILE,
                    f"{int(after_valid.sum()):,} test interaction(s) repeat a (user, item) "
                    f"pair of valid, not of train (e.g. "
                    f"{self._example(np.flatnonzero(after_valid)[0])}): evaluating test "
                    "with the default mask train+valid masks validation items too, so "
                    "they can never be hit and lower recall; drop them from test",
                    "warning",
                )
            )
        return problems

    def missing_from_train(self) -> list[Problem]:
        """Users and items that have interactions, none of them in train."""
        d = self.dataset
        train = self.split == SPLITS.index("train")
        problems = []
        users = np.flatnonzero(np.bincount(d.interaction_users[train], minlength=d.num_users) == 0)
        if users.size:
            problems.append(
                Problem(
                    INTERACTIONS_FILE,
                    f"{users.size:,} user(s) have no train interaction (e.g. user "
                    f"{d.user_ids[users[0]]!r}): nothing is learned about them, so they "
                    "cannot be served as known users: evaluation and recommend give them "
                    "the popular items, as to an unknown user",
                    "warning",
                )
            )
        seen = np.bincount(d.interaction_items, minlength=d.num_items) > 0
        trained = np.bincount(d.interaction_items[train], minlength=d.num_items) > 0
        items = np.flatnonzero(seen & ~trained)
        if items.size:
            problems.append(
                Problem(
                    INTERACTIONS_FILE,
                    f"{items.size:,} item(s) have interactions, none of them in train "
                    f"(e.g. item {d.item_ids[items[0]]!r}): their id vectors are never "
                    "trained; only their content can place them",
                    "warning",
                )
            )
        return problems
