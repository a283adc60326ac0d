"""Which users and items a model learned, in its index order: recorded, checked, mapped.

A model's tables are indexed by number; the dataset's files name users and
items by id. `DataIdentity` is the bridge a run records when training starts
(`RunDirectory.write_identity`, the file `RUN/ids.json`): every later reader
of the dataset (evaluation, export, resuming) numbers users and items as the
model does, whatever the order of the rows in the files now, and refuses
data whose ids are not the ones the model learned.

The format, owned here: `{"user_ids": [...], "item_ids": [...],
"user_ids_sha256": "...", "item_ids_sha256": "..."}`; each checksum is the
SHA-256 of its list as compact JSON, so a damaged file is caught.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np

from mmrec_tf.data.dataset import INTERACTIONS_FILE, ITEMS_FILE, MultimodalDataset

# What to do about a mismatch, whichever side has the id the other lacks.
_REMEDY = "a run reads the ids it was trained on; use that dataset, or train a new run on this one"


class IdentityMismatch(ValueError):
    """A dataset whose ids are not the ones a model learned; the message names the
    first mismatching id, the dataset's file and the recorded identity."""


@dataclasses.dataclass(frozen=True)
class DataIdentity:
    """The user and item ids of a dataset, in index order.

    Example:
    >>> import tempfile
    >>> from mmrec_tf.data import generate_demo_dataset, load_dataset
    >>> dataset = load_dataset(generate_demo_dataset(tempfile.mkdtemp() + "/demo"))
    >>> identity = DataIdentity.of(dataset)
    >>> aligned = identity.align(dataset, "RUN/ids.json")
    >>> aligned.item_ids == dataset.item_ids
    True
    """

    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]

    @classmethod
    def of(cls, dataset: MultimodalDataset) -> DataIdentity:
        return cls(tuple(dataset.user_ids), tuple(dataset.item_ids))

    def to_json(self) -> str:
        return json.dumps(
            {
                "user_ids": list(self.user_ids),
                "item_ids": list(self.item_ids),
                "user_ids_sha256": _sha256(self.user_ids),
                "item_ids_sha256": _sha256(self.item_ids),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str, where: str) -> DataIdentity:
        """Reads `to_json`'s text; `where` (the file) is named when it is damaged."""
        try:
            recorded = json.loads(text)
            identity = cls(tuple(recorded["user_ids"]), tuple(recorded["item_ids"]))
            checks = (
                (identity.user_ids, recorded["user_ids_sha256"]),
                (identity.item_ids, recorded["item_ids_sha256"]),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"{where} is damaged: {type(e).__name__}: {e}") from None
        if any(_sha256(ids) != checksum for ids, checksum in checks):
            raise ValueError(f"{where} is damaged: its ids do not match their checksum")
        return identity

    def align(self, dataset: MultimodalDataset, where: str) -> MultimodalDataset:
        """`dataset` numbered as this identity numbers it (`MultimodalDataset.renumbered`).

        Raises:
            IdentityMismatch: an id of one side the other lacks; the first such
                id (in the identity's order, then the dataset's) is named with
                the dataset's file and `where`, the file the identity came from.
        """
        item_order = _order(self.item_ids, dataset.item_index, "item", where, dataset, ITEMS_FILE)
        user_order = _order(
            self.user_ids, dataset.user_index, "user", where, dataset, INTERACTIONS_FILE
        )
        return dataset.renumbered(user_order, item_order)

    def grown(self, dataset: MultimodalDataset, where: str) -> MultimodalDataset:
        """`dataset`, which holds this identity's users and items and new ones, numbered
        so that the known keep their indices and the new come after them (new items
        in items.csv's order, new users in the dataset's): what a model whose tables
        grow (`mmrec_tf.models.growth`) reads.

        Raises:
            IdentityMismatch: a known id is missing, or items.csv's first rows are
                not the known items in their order (new items go at the end).
        """
        known = len(self.item_ids)
        for row, (recorded, found) in enumerate(zip(self.item_ids, dataset.item_ids, strict=False)):
            if recorded != found:
                raise IdentityMismatch(
                    f"{dataset.root / ITEMS_FILE} row {row + 1} is item {found!r} where the "
                    f"model's item {recorded!r} was ({where}): new items go at the end of "
                    f"{ITEMS_FILE}, its existing rows keep their order"
                )
        if dataset.num_items < known:
            missing = self.item_ids[dataset.num_items]
            raise IdentityMismatch(
                f"{dataset.root / ITEMS_FILE} has no item {missing!r}, which the model learned "
                f"({where})"
            )
        missing = next((u for u in self.user_ids if u not in dataset.user_index), None)
        if missing is not None:
            raise IdentityMismatch(
                f"{dataset.root / INTERACTIONS_FILE} has no user {missing!r}, which the model "
                f"learned ({where}): a grown dataset keeps every interaction it had"
            )
        recorded = set(self.user_ids)
        new_users = [u for u in dataset.user_ids if u not in recorded]
        user_order = [dataset.user_index[u] for u in (*self.user_ids, *new_users)]
        return dataset.renumbered(user_order, np.arange(dataset.num_items))


def _order(recorded, index, kind, where, dataset, file_name) -> np.ndarray:
    """The dataset's index of each recorded id, or IdentityMismatch."""
    path = dataset.root / file_name
    order = np.fromiter((index.get(i, -1) for i in recorded), np.int64, len(recorded))
    if (order < 0).any():
        missing = recorded[int(np.argmax(order < 0))]
        raise IdentityMismatch(
            f"{path} has no {kind} {missing!r}, which the model learned ({where}): {_REMEDY}"
        )
    if len(recorded) != len(index):
        ids = dataset.item_ids if kind == "item" else dataset.user_ids
        known = set(recorded)
        extra = next(i for i in ids if i not in known)
        raise IdentityMismatch(
            f"{path} has {kind} {extra!r}, which the model never learned ({where}): {_REMEDY}"
        )
    return order


def _sha256(ids) -> str:
    return hashlib.sha256(json.dumps(list(ids), ensure_ascii=False).encode()).hexdigest()
