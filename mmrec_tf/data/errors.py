"""Errors raised for bad datasets and bad media files.

Every error names the file, line or id it concerns, so that a user can fix the
data without reading a traceback.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Problem:
    """One thing wrong with a dataset.

    Attributes:
        where: the file (relative to the dataset directory), optionally with
            `:line`, or the id the problem concerns.
        message: what is wrong, in one line.
        severity: `"error"` (the dataset cannot be used as it is) or
            `"warning"` (it can, but the user probably did not mean it).
    """

    where: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.where}: {self.message}"


class DatasetError(ValueError):
    """A dataset directory that does not follow the format.

    `problems` holds every problem found, not only the first.
    """

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        if len(self.problems) == 1:
            super().__init__(f"in the dataset: {self.problems[0]}")
            return
        shown = "\n".join(f"  {p}" for p in self.problems[:20])
        more = len(self.problems) - 20
        if more > 0:
            shown += f"\n  ... and {more} more (run `mmrec-tf validate` for all)"
        super().__init__(f"{len(self.problems)} problem(s) in the dataset:\n{shown}")


class MediaError(ValueError):
    """A media file that is missing or cannot be decoded.

    Attributes:
        path: the file, as written in `items.csv` (relative to the dataset).
        item_id: the item it belongs to, or None when decoded on its own.
        modality: `"image"`, `"audio"` or `"video"`.
        reason: what went wrong.
    """

    def __init__(self, path: str, reason: str, *, modality: str, item_id: str | None = None):
        self.path = path
        self.reason = reason
        self.modality = modality
        self.item_id = item_id
        owner = f" of item {item_id!r}" if item_id is not None else ""
        super().__init__(f"{modality} file {path!r}{owner}: {reason}")
