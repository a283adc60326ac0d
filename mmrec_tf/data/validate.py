"""Checking a whole dataset: structure, ids, splits, and every media file decoded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mmrec_tf.data.dataset import MEDIA_MODALITIES, MODALITIES, SPLITS, parse_dataset
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
    problems = []
    if dataset.splits is None:
        problems.append(
            Problem(
                "interactions.csv",
                "has no 'split' column; assign one with "
                "mmrec_tf.data.temporal_split before training",
                "warning",
            )
        )
    no_content = [
        dataset.item_ids[i]
        for i in range(dataset.num_items)
        if all(not dataset.modality_available(m)[i] for m in MODALITIES)
    ]
    if no_content:
        shown = ", ".join(repr(i) for i in no_content[:5])
        problems.append(
            Problem(
                "items.csv",
                f"{len(no_content)} item(s) have no content at "
                f"all (e.g. {shown}); only their ids can be learned",
                "warning",
            )
        )
    return problems
