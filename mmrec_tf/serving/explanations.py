"""What a SavedModel explains of a score: the share of each past item, modality and part.

Every explanation splits a score s = u · v_i (user vector u, item vector v_i)
into contributions φ and reports each as a share, φ / Σ|φ| over its group: the
shares' absolute values sum to 1, and a negative share is a contribution that
lowered the score.

* Past items, for a model that reads histories: φ_j = (u − u⁽⁻ʲ⁾) · (v_i − E_p[v]),
  u⁽⁻ʲ⁾ the user's vector without past item j (leave-one-out: the items
  before it move up, and one older item enters a full window) and E_p[v] the
  item the model expects of the user, the mean item vector under its
  catalogue softmax p(c | u) ∝ exp(u · v_c / T). v_i − E_p[v] is the gradient
  of log p(i | u) in u, so φ_j is, to first order, how much less likely the
  model finds item i without j: the score i loses, less what the items it
  competes with lose (a change every item shares moves no rank).
  bench/explanations.py measures it against the plain score loss
  (u − u⁽⁻ʲ⁾) · v_i, the encoder's attention weights and item similarity.
  It is the model's own answer to "what if the user had not done j", which
  attention weights are not: the value each attended item carries, the
  feed-forward block and the layer norms all stand between an attention
  weight and the score. For a model whose users are fitted rows, the past
  items are no input of the score: φ_j = v_j · (v_i − E_p[v]), how much more
  the model relates item j to item i than to the item it expects of the user.
* Modalities: φ_m = u · (c_i − c_i⁽⁻ᵐ⁾), c_i the item's content vector and
  c_i⁽⁻ᵐ⁾ that vector with modality m blanked (`ContentTower.modality_parts`).
* Content against collaboration: φ_content = u · c_i (the score the item would
  have as a new item, from its content alone) and φ_collab = s − u · c_i
  (what its ID and the graphs add); `content_share` = φ_content / (|φ_content|
  + |φ_collab|).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mmrec_tf.layers.history_encoder import deletions
from mmrec_tf.serving.vector_table import VectorTable


def shares(contributions, present):
    """φ / Σ|φ| over the last axis, counting only `present` entries (0 elsewhere); all
    0 where every contribution is 0.

    Example:
    >>> shares(tf.constant([[3.0, -1.0, 9.0]]), tf.constant([[True, True, False]])).numpy()
    array([[ 0.75, -0.25,  0.  ]], dtype=float32)
    """
    contributions = tf.where(present, contributions, tf.zeros_like(contributions))
    total = tf.reduce_sum(tf.abs(contributions), axis=-1, keepdims=True)
    return tf.math.divide_no_nan(contributions, total)


def removal_losses(encoder, item_rows, packed):
    """Δu [n, L + 1, d]: what each entry j of `packed` (int [n, L + 1], histories in
    `latest_known` form) gives the user vector, enc(window) − enc(window without
    j), the window being the latest L entries (one older entry enters when j is
    removed; `HistoryEncoder.without_each`). Exactly 0 where removing j leaves the
    window as it was (padding, the entry before the window). `item_rows` maps
    item rows to their vectors."""
    without = encoder.without_each(item_rows(tf.maximum(packed, 0)), packed >= 0)
    removed = tf.gather(packed, deletions(encoder.length), axis=1)
    unchanged = tf.reduce_all(removed == packed[:, None, 1:], axis=-1)
    # Row 0 (the entry before the window removed) is the window's own encoding.
    return tf.where(unchanged[..., None], 0.0, without[:, :1] - without)


def leave_one_out(losses, packed, contrast):
    """φ [B, L + 1] = Δu_j · (v_i − E_p[v]) for the packed histories `packed` [B, L + 1]
    and `contrast` [B, d] (each item's vector less the user's expected item); `losses` is
    `removal_losses` bound to an encoder. A history repeated in the batch (one
    user's k recommendations) is encoded once."""
    distinct, row = tf.raw_ops.UniqueV2(x=packed, axis=[0])
    return tf.einsum("bpd,bd->bp", tf.gather(losses(distinct), row), contrast)


class ItemParts(tf.Module):
    """Each item's content vector, modality parts and modalities present
    (`Recommender.explanation_parts`) in a SavedModel, the vectors stored like the
    item vectors (`VectorTable`, `quantize`), and the item side of an
    explanation: `modality_share`, `modality_present` and `content_share`.

    Example:
    >>> content, parts = np.ones((2, 3), "float32"), np.ones((2, 1, 3), "float32")
    >>> item_parts = ItemParts(content, parts, np.ones((2, 1), bool), ["text"])
    >>> out = item_parts.shares(tf.ones((1, 3)), tf.constant([4.0]), tf.constant([1]))
    >>> out["content_share"].numpy(), out["modality_share"].numpy()
    (array([0.75], dtype=float32), array([[1.]], dtype=float32))
    """

    def __init__(
        self, content, modality_parts, present, modalities, quantize=None, name="item_parts"
    ):
        super().__init__(name=name)
        content = np.asarray(content, np.float32)
        modality_parts = np.asarray(modality_parts, np.float32)
        self.num_modalities = len(modalities)
        self.dim = content.shape[1]
        self.content = VectorTable(content, quantize, name="content")
        self.parts = None
        if self.num_modalities:
            flat = modality_parts.reshape(len(modality_parts), -1)
            self.parts = VectorTable(flat, quantize, name="modality_parts")
        self.modalities = tf.constant(list(modalities), tf.string, shape=[self.num_modalities])
        self.present = tf.Variable(np.asarray(present, bool), trainable=False, name="present")

    def shares(self, users, scores, items):
        """`modality_share` [B, M], `modality_present` bool [B, M] and `content_share`
        [B] of the scores `scores` [B] of the items `items` (rows, int [B]) for the
        users `users` [B, d]."""
        content = tf.reduce_sum(users * self.content.rows(items), axis=-1)
        content_share = shares(tf.stack([content, scores - content], 1), tf.ones([1, 2], bool))
        modality = tf.zeros([tf.shape(items)[0], 0])
        if self.parts is not None:
            shape = [tf.shape(items)[0], self.num_modalities, self.dim]
            parts = tf.reshape(self.parts.rows(items), shape)
            modality = shares(tf.einsum("bd,bmd->bm", users, parts), tf.ones([1, 1], bool))
        return {
            "modality_share": modality,
            "modality_present": tf.gather(self.present, items),
            "content_share": content_share[:, 0],
        }

    @classmethod
    def of(cls, model, quantize=None):
        """The parts of `model`'s items; None for a model whose items have no content."""
        parts = model.explanation_parts()
        return None if parts is None else cls(*parts, model.modalities, quantize)
