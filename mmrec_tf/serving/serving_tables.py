"""What a SavedModel serves from: ids, vectors, seen items, popularity, and how it searches."""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from mmrec_tf.data.histories import latest_columns, latest_known
from mmrec_tf.serving.catalogue_search import SEARCHES, is_seen
from mmrec_tf.serving.explanations import leave_one_out, removal_losses, shares
from mmrec_tf.serving.seen_items import SeenItems
from mmrec_tf.serving.vector_table import VectorTable


class ServingTables(tf.Module):
    """What serving needs, as variables and lookup tables of the SavedModel.

    User and item vectors are computed once at export (graph propagation,
    cross-modal attention and fusion are done by then), so `recommend` is a
    search of the item vectors for the user's (`search`, one of
    `catalogue_search.SEARCHES`: every item scored, or a partitioned index).
    Seen items are a `SeenItems` table. `titles` None keeps no titles: `title`
    then gives the item id. `item_parts` (an `explanations.ItemParts`, None for
    items without content) is what `explain` reads of the items, `temperature`
    the model's (its catalogue softmax, p(i | u) ∝ exp(u · v_i / T)).
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
        search="exact",
        partitions=None,
        probe=None,
        item_parts=None,
        temperature=1.0,
    ):
        super().__init__(name="serving_tables")
        self.item_parts = item_parts
        self.user_lookup = _id_lookup(user_ids)
        # Users of the dataset the model has nothing of (no trained row, no history) are
        # unknown users, served the popular items (less the ones they have seen).
        known_users = np.ones(len(user_ids), bool) if known_users is None else known_users
        self.known_users = tf.Variable(known_users, trainable=False, name="known_users")
        self.item_lookup = _id_lookup(item_ids)
        self.item_ids = tf.Variable(np.asarray(item_ids, object), trainable=False, name="item_ids")
        self.user_vectors = VectorTable(user_vectors, quantize, name="user_vectors")
        self.item_vectors = VectorTable(item_vectors, quantize, name="item_vectors")
        # The scores' softmax temperature, of the item a user is expected to choose.
        self.temperature = tf.constant(temperature, tf.float32)
        if search not in SEARCHES:
            choices = ", ".join(sorted(SEARCHES))
            raise ValueError(f"the index (--index) must be one of {choices}; received {search!r}")
        self.search = SEARCHES[search](self.item_vectors, item_vectors, partitions, probe)
        self.seen = SeenItems(*seen)
        popularity = np.asarray(popularity, np.float32)
        self.popularity = tf.Variable(popularity, trainable=False, name="popularity")
        order = np.argsort(-popularity, kind="stable").astype(np.int32)
        self.popular_order = tf.Variable(order, trainable=False, name="popular_order")
        self.item_titles = None
        if titles is not None:
            titles = np.asarray(titles, object)
            self.item_titles = tf.Variable(titles, trainable=False, name="titles")

    def _users(self, user_id):
        """(row of each user, 0 for an id not in the dataset; whether the id is in the
        dataset; whether the model knows the user)."""
        index = self.user_lookup.lookup(user_id)
        in_dataset = index >= 0
        row = tf.maximum(index, 0)
        return row, in_dataset, in_dataset & tf.gather(self.known_users, row)

    def _seen(self, index, in_dataset):
        """Each user's seen item rows, ascending, padded with the number of items:
        int32 [B, S]."""
        return self.seen.rows(index, in_dataset, self.item_vectors.num_rows())

    def _top_k(self, users, known, seen, k, probe=None):
        """(item rows, scores) [B, k']: the search's for known users, the most popular
        unseen items for the others; k' = k cut to what every query has not seen."""
        distinct = tf.reduce_sum(tf.cast(seen < self.item_vectors.num_rows(), tf.int32), axis=1)
        most_seen = tf.reduce_max(tf.concat([distinct, [0]], axis=0))
        k = tf.clip_by_value(k, 0, self.item_vectors.num_rows() - most_seen)
        rows, scores = self.search.top_k(users, seen, k, probe)
        popular_rows, popular_scores = self._popular(seen, k)
        return (
            tf.where(known[:, None], rows, popular_rows),
            tf.where(known[:, None], scores, popular_scores),
        )

    def _popular(self, seen, k):
        """The k most popular items each query has not seen, and their popularity: the
        first k + S items of the popularity order hold them."""
        count = tf.minimum(k + tf.shape(seen)[1], self.item_vectors.num_rows())
        candidates = tf.tile(self.popular_order[None, :count], [tf.shape(seen)[0], 1])
        scores = tf.gather(self.popularity, candidates)
        scores = tf.where(is_seen(candidates, seen), tf.constant(-np.inf), scores)
        top = tf.math.top_k(scores, k)
        return tf.gather(candidates, top.indices, batch_dims=1), top.values

    def recommend(self, user_id, k, probe=None):
        index, in_dataset, known = self._users(user_id)
        users = self.user_vectors.rows(index)
        rows, scores = self._top_k(users, known, self._seen(index, in_dataset), k, probe)
        return {"item_id": tf.gather(self.item_ids, rows), "score": scores, "known_user": known}

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

    def explain(self, user_id, item_id):
        """Why the users `user_id` [B] get the items `item_id` [B] (see
        `mmrec_tf.serving.explanations`): `past_item_id` string [B, P] and
        `past_share` [B, P] (the user's items: for a model that reads histories
        their latest P, oldest first, "" and 0 before the first; otherwise every
        seen item in catalogue order, "" and 0 after the last),
        `modality_share` [B, M] (M = len(`modalities`)), `modality_present` bool
        [B, M] (which modalities the item has), `content_share` [B] and
        `score` [B]; shares 0 and score NaN for an unknown user or item."""
        index, in_dataset, known = self._users(user_id)
        past = self._past_items(index, in_dataset)
        explained = self._explanation(
            self.user_vectors.rows(index), known, item_id, past, self._past_contributions(past)
        )
        present = (past >= 0) & tf.math.is_finite(explained["score"])[:, None]
        past_ids = tf.gather(self.item_ids, tf.maximum(past, 0))
        return {"past_item_id": tf.where(present, past_ids, ""), **explained}

    def _past_items(self, index, in_dataset):
        """The items an explanation weighs: the user's seen items, int32 [B, S], −1 pads."""
        seen = self._seen(index, in_dataset)
        return tf.where(seen < self.item_vectors.num_rows(), seen, -1)

    def _past_contributions(self, past):
        """A function from the items' vectors less the users' expected items [B, d] to
        φ [B, P] of the items `past`: for users who are fitted rows, how much more the
        model relates each past item to the item than to the one it expects, vⱼ ·
        (vᵢ − E_p[v])."""
        return lambda contrast: tf.einsum(
            "bpd,bd->bp", self.item_vectors.rows(tf.maximum(past, 0)), contrast
        )

    def _explanation(self, users, known, item_id, past, contributions):
        """`explain`'s outputs but the past items' ids, for users [B, d] (`known` [B])
        whose past items are `past` (int [B, P], −1 pads)."""
        rows = self.item_lookup.lookup(item_id)
        valid = known & (rows >= 0)
        rows = tf.maximum(rows, 0)
        items = self.item_vectors.rows(rows)
        scores = tf.reduce_sum(users * items, axis=-1)
        contrast = items - self._expected_item(users)
        past_share = shares(contributions(contrast), (past >= 0) & valid[:, None])
        if self.item_parts is None:
            batch = tf.shape(rows)[0]
            modalities = tf.constant([], tf.string)
            item = {
                "modality_share": tf.zeros([batch, 0]),
                "modality_present": tf.zeros([batch, 0], tf.bool),
                "content_share": tf.zeros([batch]),
            }
        else:
            modalities = self.item_parts.modalities
            item = self.item_parts.shares(users, scores, rows)
        return {
            "past_share": past_share,
            "modality_share": tf.where(valid[:, None], item["modality_share"], 0.0),
            "modality_present": item["modality_present"] & valid[:, None],
            "modalities": modalities,
            "content_share": tf.where(valid, item["content_share"], 0.0),
            "score": tf.where(valid, scores, tf.constant(np.nan, tf.float32)),
        }

    def _expected_item(self, users):
        """E_{c∼p}[v_c] [B, d] for users [B, d], p = softmax(u · v / T) over the
        catalogue: v_i − E_p[v] is the gradient of log p(i | u) in u. One scan of the
        catalogue per distinct user."""
        distinct, row = tf.raw_ops.UniqueV2(x=users, axis=[0])
        weights = tf.nn.softmax(self.item_vectors.dot(distinct) / self.temperature)
        return tf.gather(self.item_vectors.combine(weights), row)

    def title(self, item_id):
        items = self.item_lookup.lookup(item_id)
        titles = self.item_ids if self.item_titles is None else self.item_titles
        return {"title": tf.where(items >= 0, tf.gather(titles, tf.maximum(items, 0)), "")}


class HistoryServingTables(ServingTables):
    """`ServingTables` of a model that reads histories, with `recommend_from_history`
    and `explain_from_history`: its history encoder and the item vectors encode any
    history in the SavedModel. `histories` (int [num_users, history_length + 1],
    −1 pads) are the users' latest items in the seen splits, which `explain`
    weighs (one more than the window: removing an item lets the next older in)."""

    def __init__(self, history_encoder, history_length, histories, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.history_encoder = history_encoder
        self.history_length = history_length
        self.histories = tf.Variable(
            np.asarray(histories, np.int32), trainable=False, name="histories"
        )
        # Leave-one-out's L + 1 histories per user, fused by XLA.
        self._removal_losses = tf.function(
            functools.partial(removal_losses, history_encoder, self.item_vectors.rows),
            jit_compile=True,
        )

    def _encode(self, history):
        """User vectors [n, d] of histories (item rows [n, history_length], −1 pads)."""
        tokens = self.item_vectors.rows(tf.maximum(history, 0))
        return self.history_encoder(tokens, mask=history >= 0, training=False)

    def _past_items(self, index, in_dataset):
        histories = tf.gather(self.histories, index)
        return tf.where(in_dataset[:, None], histories, -1)

    def _past_contributions(self, past):
        return functools.partial(leave_one_out, self._removal_losses, past)

    def explain(self, user_id, item_id):
        # The oldest of the stored items lies outside the window: weighed, not shown.
        return {
            key: value[:, 1:] if key.startswith("past_") else value
            for key, value in super().explain(user_id, item_id).items()
        }

    def explain_from_history(self, item_ids, item_id):
        """Why a history (`item_ids` string [B, L], as `recommend_from_history` takes it)
        gets the items `item_id` [B]: `past_share` [B, L], aligned with the history's
        positions (0 for padding, unknown ids and items older than the window), and
        `modality_share`, `modalities`, `content_share`, `score` as `explain`'s."""
        index = self.item_lookup.lookup(item_ids)
        # Packed as `explain`'s stored histories: the latest L + 1 known items.
        packed = latest_known(index, self.history_length + 1)
        known = tf.reduce_any(packed >= 0, axis=1)
        explained = self._explanation(
            self._encode(packed[:, 1:]), known, item_id, packed, self._past_contributions(packed)
        )
        columns = latest_columns(index, self.history_length + 1)
        packed_share = tf.gather(explained["past_share"], tf.maximum(columns, 0), batch_dims=1)
        explained["past_share"] = tf.where(columns >= 0, packed_share, 0.0)
        return explained

    def recommend_from_history(self, item_ids, k, probe=None):
        index = self.item_lookup.lookup(item_ids)
        ignored = tf.reduce_sum(tf.cast((index < 0) & (item_ids != ""), tf.int32), axis=1)
        history = latest_known(index, self.history_length)
        known = history >= 0
        user = self._encode(history)
        # The history's items are seen: never recommended. Sorted, repeats as padding.
        seen = tf.sort(tf.where(known, history, self.item_vectors.num_rows()), axis=1)
        repeated = tf.concat([tf.zeros_like(seen[:, :1], bool), seen[:, 1:] == seen[:, :-1]], 1)
        seen = tf.sort(tf.where(repeated, self.item_vectors.num_rows(), seen), axis=1)
        # An empty history (or one of unknown items only) gets the most popular items.
        empty = ~tf.reduce_any(known, axis=1)
        rows, scores = self._top_k(user, ~empty, seen, k, probe)
        return {
            "item_id": tf.gather(self.item_ids, rows),
            "score": scores,
            "empty_history": empty,
            "ignored_items": ignored,
        }


def _id_lookup(ids) -> tf.lookup.StaticHashTable:
    """String id → row index; -1 for an id not in `ids`."""
    keys = tf.constant(list(ids), tf.string)
    values = tf.range(len(ids), dtype=tf.int32)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), -1)
