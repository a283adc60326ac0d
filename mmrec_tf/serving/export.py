"""A trained recommender as a SavedModel: `recommend`, `score`, string ids, seen items inside."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from mmrec_tf.data.dataset import MultimodalDataset
from mmrec_tf.data.histories import latest_known
from mmrec_tf.serving.vector_table import VectorTable


class ServingTables(tf.Module):
    """What serving needs, as variables and lookup tables of the SavedModel.

    User and item vectors are computed once at export (graph propagation,
    cross-modal attention and fusion are done by then), so `recommend` is one
    matrix product and a top-K. Seen items are a CSR table: user u's items are
    `seen_items[seen_row_splits[u]:seen_row_splits[u + 1]]`.
    """

    def __init__(
        self,
        user_ids,
        item_ids,
        user_vectors,
        item_vectors,
        seen,
        popularity,
        titles,
        quantize=None,
        known_users=None,
    ):
        super().__init__(name="serving_tables")
        self.user_lookup = _id_lookup(user_ids)
        # Users of the dataset the model has nothing of (no trained row, no history) are
        # unknown users, served the popular items (less the ones they have seen).
        known_users = np.ones(len(user_ids), bool) if known_users is None else known_users
        self.known_users = tf.Variable(known_users, trainable=False, name="known_users")
        self.item_lookup = _id_lookup(item_ids)
        self.item_ids = tf.Variable(np.asarray(item_ids, object), trainable=False, name="item_ids")
        self.user_vectors = VectorTable(user_vectors, quantize, name="user_vectors")
        self.item_vectors = VectorTable(item_vectors, quantize, name="item_vectors")
        row_splits, items = seen
        self.seen_row_splits = tf.Variable(row_splits, trainable=False, name="seen_row_splits")
        self.seen_items = tf.Variable(items, trainable=False, name="seen_items")
        self.popularity = tf.Variable(popularity, trainable=False, name="popularity")
        self.item_titles = tf.Variable(np.asarray(titles, object), trainable=False, name="titles")

    def _users(self, user_id):
        """(row of each user, 0 for an id not in the dataset; whether the id is in the
        dataset; whether the model knows the user)."""
        index = self.user_lookup.lookup(user_id)
        in_dataset = index >= 0
        row = tf.maximum(index, 0)
        return row, in_dataset, in_dataset & tf.gather(self.known_users, row)

    def recommend(self, user_id, k):
        index, in_dataset, known = self._users(user_id)
        users = self.user_vectors.rows(index)
        scores = self.item_vectors.dot(users)
        # An unknown user gets the most popular items, scored by their popularity.
        scores = tf.where(known[:, None], scores, self.popularity[None, :])
        # Never a seen item, for any user of the dataset.
        starts = tf.gather(self.seen_row_splits, index)
        ends = tf.where(in_dataset, tf.gather(self.seen_row_splits, index + 1), starts)
        positions = tf.ragged.range(starts, ends)
        rows = tf.cast(positions.value_rowids(), tf.int32)
        seen = tf.gather(self.seen_items, positions.flat_values)
        scores = tf.tensor_scatter_nd_update(
            scores,
            tf.stack([rows, seen], axis=1),
            tf.fill(tf.shape(rows), tf.constant(-np.inf, tf.float32)),
        )
        # k is cut to what every user of the batch has not seen.
        most_seen = tf.reduce_max(tf.concat([ends - starts, tf.zeros([1], tf.int64)], axis=0))
        unseen = tf.cast(self.item_vectors.num_rows(tf.int64) - most_seen, tf.int32)
        top = tf.math.top_k(scores, tf.clip_by_value(k, 0, unseen))
        return {
            "item_id": tf.gather(self.item_ids, top.indices),
            "score": top.values,
            "known_user": known,
        }

    def score(self, user_id, item_id):
        users, _, known = self._users(user_id)
        items = self.item_lookup.lookup(item_id)
        scores = tf.reduce_sum(
            self.user_vectors.rows(users) * self.item_vectors.rows(tf.maximum(items, 0)),
            axis=-1,
        )
        unknown = ~known | (items < 0)
        return {"score": tf.where(unknown, tf.constant(np.nan, tf.float32), scores)}

    def embed_users(self, user_id):
        users, _, known = self._users(user_id)
        vectors = self.user_vectors.rows(users)
        return {"user_vector": tf.where(known[:, None], vectors, tf.zeros_like(vectors))}

    def title(self, item_id):
        items = self.item_lookup.lookup(item_id)
        titles = tf.gather(self.item_titles, tf.maximum(items, 0))
        return {"title": tf.where(items >= 0, titles, "")}


class HistoryServingTables(ServingTables):
    """`ServingTables` of a model that reads histories, with `recommend_from_history`:
    its history encoder and the item vectors encode any history in the SavedModel."""

    def __init__(self, history_encoder, history_length, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.history_encoder = history_encoder
        self.history_length = history_length

    def recommend_from_history(self, item_ids, k):
        index = self.item_lookup.lookup(item_ids)
        ignored = tf.reduce_sum(tf.cast((index < 0) & (item_ids != ""), tf.int32), axis=1)
        history = latest_known(index, self.history_length)
        known = history >= 0
        tokens = self.item_vectors.rows(tf.maximum(history, 0))
        user = self.history_encoder(tokens, mask=known, training=False)
        scores = self.item_vectors.dot(user)
        # The history's items are seen: never recommended.
        rows = tf.cast(tf.where(known)[:, 0], tf.int32)
        scores = tf.tensor_scatter_nd_update(
            scores,
            tf.stack([rows, tf.boolean_mask(history, known)], axis=1),
            tf.fill(tf.shape(rows), tf.constant(-np.inf, tf.float32)),
        )
        # An empty history (or one of unknown items only) gets the most popular items.
        empty = ~tf.reduce_any(known, axis=1)
        scores = tf.where(empty[:, None], self.popularity[None, :], scores)
        distinct = tf.map_fn(
            lambda row: tf.size(tf.unique(tf.boolean_mask(row, row >= 0)).y),
            history,
            fn_output_signature=tf.int32,
        )
        most_seen = tf.reduce_max(tf.concat([distinct, tf.zeros([1], tf.int32)], axis=0))
        unseen = self.item_vectors.num_rows() - most_seen
        top = tf.math.top_k(scores, tf.clip_by_value(k, 0, unseen))
        return {
            "item_id": tf.gather(self.item_ids, top.indices),
            "score": top.values,
            "empty_history": empty,
            "ignored_items": ignored,
        }


def export_recommender(
    model,
    dataset: MultimodalDataset,
    path: str | os.PathLike,
    *,
    seen_splits: Sequence[str] = ("train",),
    content_encoders: dict | None = None,
    content_options: dict | None = None,
    quantize: str | None = None,
) -> Path:
    """Writes `model` (a trained `Recommender`) as a SavedModel at `path`.

    Signatures (`serving_default` is `recommend`):

    * `recommend(user_id: string [B], k: int32 scalar)` → `item_id` string
      [B, k'], `score` float32 [B, k'] and `known_user` bool [B]: the best
      items over the whole catalogue, never one the user interacted with in
      `seen_splits`; k' = min(k, the fewest items a user of the batch has not
      seen), so one user asking for more than they have left gets exactly
      what is left, and k ≤ 0 gives k' = 0: empty results ([B, 0]). A user
      the model has nothing of (`known_user` False): an id the dataset does
      not have, or a user with no training interaction
      (no history in `seen_splits`, for a model that reads histories), gets
      the most popular items of the training split, `score` being their
      share of training users (less any item a user of the dataset has seen).
    * `score(user_id: string [B], item_id: string [B])` → `score` float32
      [B]: the model's score; NaN where the user (as for `recommend`) or the
      item is unknown.
    * `title(item_id: string [B])` → `title` string [B]: the item's `title` metadata
      column (the item id when the dataset has none); "" for an unknown id.
    * `embed_users(user_id: string [B])` → `user_vector` float32 [B, d]: user vectors
      (zeros for an unknown user).

    `quantize` (`"float16"` or `"int8"`, see `VectorTable`) stores the user
    and item vectors in 16 or 8 bits (int8 with one scale per row), read back
    as float32 inside the signatures, which stay the same.

    For a model that reads histories (`HistoryRecommender`), a known user's
    vector encodes their latest interactions in `seen_splits`, and:

    * `recommend_from_history(item_ids: string [B, L], k: int32 scalar)` →
      `item_id` [B, k'], `score` [B, k'], `empty_history` bool [B],
      `ignored_items` int32 [B]: recommendations from a history alone (oldest
      first; "" pads), for a user the model never saw or whose latest actions
      are newer than it. Ids the model does not know are ignored and counted in
      `ignored_items`; the latest `history_length` known items are read; the
      history's items are never recommended (k' as for `recommend`); a history
      with no known item gets the most popular items.

    For a `MultimodalRecommender` given `content_encoders` (the encoders its
    features were extracted with; an end-to-end model's own by default) and
    `content_options` (their decoding options), a second SavedModel,
    `path/embed_items/`, holds the content tower:

    * `embed_items(<modality>: string ...)` (its `serving_default`) →
      `item_vector` float32 [B, d]: an item's vector from its raw content
      alone (see `mmrec_tf.serving.content.raw_content_signature`), so that
      a new item can be scored (`embed_users(u) · embed_items(x)`) before
      anyone has interacted with it.

    It is separate because its encoders may need ops outside core TensorFlow
    (keras-hub's WordPiece tokenizer runs tensorflow-text ops, which a
    process must `import tensorflow_text` to load): `path` itself loads in
    any TensorFlow runtime, whatever the encoders. Ids, user and item
    vectors and the seen-items table live in the SavedModel: serving reads
    nothing else, and needs no mmrec_tf. `path` must not exist or be empty;
    everything is written beside it and renamed into place.
    """
    import keras

    users, items = model.inference_vectors()
    users, items = keras.ops.convert_to_numpy(users), keras.ops.convert_to_numpy(items)
    if users.shape[0] != dataset.num_users or items.shape[0] != dataset.num_items:
        raise ValueError(
            f"the model has {users.shape[0]} users and {items.shape[0]} items, the dataset "
            f"{dataset.num_users} and {dataset.num_items}: export with the dataset it was "
            "trained on"
        )
    seen_users, seen_items = dataset.interaction_pairs(list(seen_splits))
    row_splits = np.searchsorted(seen_users, np.arange(dataset.num_users + 1)).astype(np.int64)
    # A user is known when the model has something of theirs: a row trained on their
    # training interactions, or a history in the seen splits (a model that reads them).
    users, known_users = model.serving_users(dataset, seen_splits, users, items)
    history = model.history_reader()
    tables_class = ServingTables if history is None else HistoryServingTables
    tables = tables_class(
        *(history or ()),
        dataset.user_ids,
        dataset.item_ids,
        users.astype(np.float32),
        items.astype(np.float32),
        (row_splits, seen_items.astype(np.int32)),
        dataset.item_popularity().astype(np.float32),
        dataset.metadata.get("title", dataset.item_ids),
        quantize=quantize,
        known_users=known_users,
    )
    content = None
    encoders = content_encoders or model.content_encoders()
    if encoders:
        from mmrec_tf.serving.content import ContentEmbedding

        content = ContentEmbedding(model, encoders, content_options)
    return write_saved_model(tables, path, content)


CONTENT_TOWER = "embed_items"


def write_saved_model(tables: ServingTables, path: str | os.PathLike, content=None) -> Path:
    """Writes the signatures of `tables` at `path` and those of `content` (a
    `ContentEmbedding`) at `path/embed_items`, through Keras' `ExportArchive`;
    `path` must be new or empty."""
    import keras

    from mmrec_tf.data.writing import new_output_dir

    archive = keras.export.ExportArchive()
    archive.track(tables)
    endpoints = {
        "recommend": [
            tf.TensorSpec([None], tf.string, name="user_id"),
            tf.TensorSpec([], tf.int32, name="k"),
        ],
        "score": [
            tf.TensorSpec([None], tf.string, name="user_id"),
            tf.TensorSpec([None], tf.string, name="item_id"),
        ],
        "title": [tf.TensorSpec([None], tf.string, name="item_id")],
        "embed_users": [tf.TensorSpec([None], tf.string, name="user_id")],
    }
    if isinstance(tables, HistoryServingTables):
        archive.track(tables.history_encoder)
        endpoints["recommend_from_history"] = [
            tf.TensorSpec([None, None], tf.string, name="item_ids"),
            tf.TensorSpec([], tf.int32, name="k"),
        ]
    for name, signature in endpoints.items():
        archive.add_endpoint(name, getattr(tables, name), input_signature=signature)
    with new_output_dir(path) as staging:
        archive.write_out(str(staging), verbose=False)
        if content is not None:
            from mmrec_tf.serving.content import raw_content_signature

            tower = keras.export.ExportArchive()
            tower.track(content)
            tower.add_endpoint(
                "embed_items",
                lambda inputs: {"item_vector": content.embed(inputs)},
                input_signature=[raw_content_signature(content.encoders)],
            )
            tower.write_out(str(staging / CONTENT_TOWER), verbose=False)
    return Path(path)


def _id_lookup(ids) -> tf.lookup.StaticHashTable:
    """String id → row index; -1 for an id not in `ids`."""
    keys = tf.constant(list(ids), tf.string)
    values = tf.range(len(ids), dtype=tf.int32)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), -1)
