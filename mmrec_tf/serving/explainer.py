"""Explanations of a trained recommender in Python, computed as its SavedModel computes them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from mmrec_tf.data.dataset import MultimodalDataset
from mmrec_tf.serving.export import serving_tables
from mmrec_tf.serving.serving_tables import HistoryServingTables


class Explainer:
    """Why `model` scores an item for a user (or a history): the share of each of the
    user's past items, of each modality of the item, and of its content against
    its ID and graphs (`mmrec_tf.serving.explanations` defines each number).

    It builds the tables `export_recommender` writes, in memory, and runs the
    SavedModel's own `explain` / `explain_from_history` on them: the library and
    a served model give the same explanation.

    Args:
        model: a trained `Recommender`.
        dataset: the `MultimodalDataset` it was trained on.
        seen_splits: the interactions that make a user's past items, as for export.
            Defaults to `("train",)`.

    Example:
    >>> import tempfile
    >>> from mmrec_tf.data import bpr_triples, generate_demo_dataset, load_dataset
    >>> from mmrec_tf.models import HistoryRecommender
    >>> dataset = load_dataset(generate_demo_dataset(tempfile.mkdtemp() + "/demo"))
    >>> features = {"text": np.random.default_rng(0).random((dataset.num_items, 8))}
    >>> model = HistoryRecommender.from_dataset(dataset, features, embedding_dim=8,
    ...     history_length=4, num_graph_layers=0)
    >>> why = Explainer(model, dataset).explain(["user0001"], ["item0007"])
    >>> why["past_item_id"].shape, why["modalities"].tolist()
    ((1, 4), ['text'])
    """

    def __init__(self, model, dataset: MultimodalDataset, seen_splits: Sequence[str] = ("train",)):
        self.tables = serving_tables(model, dataset, seen_splits=seen_splits)
        self._explain = tf.function(self.tables.explain)
        self._explain_from_history = None
        if isinstance(self.tables, HistoryServingTables):
            self._explain_from_history = tf.function(self.tables.explain_from_history)

    def explain(self, user_ids, item_ids) -> dict[str, np.ndarray]:
        """`explain`'s outputs (`export_recommender`) for the pairs (`user_ids[b]`,
        `item_ids[b]`), as NumPy arrays (ids as `str`)."""
        user_ids, item_ids = _strings(user_ids, 1), _strings(item_ids, 1)
        _same_batch(user_ids, item_ids, "user_ids")
        return _numpy(self._explain(user_ids, item_ids))

    def explain_from_history(self, histories, item_ids) -> dict[str, np.ndarray]:
        """`explain_from_history`'s outputs: `histories` [B, L] item ids (oldest
        first; "" pads), `item_ids` [B]."""
        if self._explain_from_history is None:
            raise ValueError(
                "the model does not read histories (only HistoryRecommender does): "
                "explain users by id with explain()"
            )
        histories, item_ids = _strings(histories, 2), _strings(item_ids, 1)
        _same_batch(histories, item_ids, "histories")
        return _numpy(self._explain_from_history(histories, item_ids))


def _strings(ids, rank: int) -> tf.Tensor:
    ids = np.asarray(ids, object)
    if ids.ndim != rank:
        raise ValueError(f"expected ids of rank {rank}, found shape {ids.shape}")
    return tf.constant(ids.astype(str).astype(object), tf.string, shape=ids.shape)


def _same_batch(who, item_ids, name: str):
    if who.shape[0] != item_ids.shape[0]:
        raise ValueError(
            f"{name} and item_ids pair up row by row: {who.shape[0]} {name} for "
            f"{item_ids.shape[0]} item_ids"
        )


def _numpy(outputs: dict) -> dict[str, np.ndarray]:
    arrays = {key: value.numpy() for key, value in outputs.items()}
    return {
        key: value.astype(str) if value.dtype == object else value for key, value in arrays.items()
    }
