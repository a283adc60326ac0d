"""The item side of a recommender: every item's content and ID, combined."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from mmrec_tf.encoders.inputs import encoder_inputs


@keras.saving.register_keras_serializable(package="mmrec_tf")
class ItemSide(keras.layers.Layer):
    """Item vectors v_i = c_i + e_i: the content vector c_i (`content_tower` over the
    item's stored features) plus its ID embedding e_i (with `use_ids`).

    The residual form keeps c_i a vector of its own: it is what an item nobody
    has interacted with has, and a content loss (`MultimodalRecommender`'s
    `content_loss_weight`) trains it to be scored alone; e_i holds what the
    item's interactions say beyond its content.

    The features of every item (`features[m]` [num_items, d_m], `present[m]`
    [num_items]) are stored here, not trained: frozen encoders' outputs
    (`set_content`), or the outputs of `encoders` (end-to-end), which
    `refresh` re-encodes over the whole catalogue and `fresh_features` over a
    training batch's items.

    Args:
        num_items: int.
        embedding_dim: int.
        content_tower: a `ContentTower`, or None for items without content.
        use_ids: bool. Item ID embeddings. Defaults to True.
        encoders: dict of modality name to an encoder layer (end-to-end), or None.
        embeddings_initializer: the ID table's. Defaults to `"glorot_uniform"`.

    Example:
    >>> from mmrec_tf.layers import ContentTower
    >>> side = ItemSide(5, 4, ContentTower({"text": 3}, 4))
    >>> side.set_content({"text": np.ones((5, 3))}, {"text": np.ones(5, bool)})
    >>> items, content = side.vectors()
    >>> items.shape, content.shape
    (TensorShape([5, 4]), TensorShape([5, 4]))
    """

    def __init__(
        self,
        num_items,
        embedding_dim,
        content_tower=None,
        use_ids=True,
        encoders=None,
        embeddings_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if content_tower is None and not use_ids:
            raise ValueError(
                "items need content or IDs: a model without content needs use_ids=True"
            )
        modalities = [] if content_tower is None else content_tower.modalities
        if set(encoders or {}) - set(modalities):
            raise ValueError(
                f"encoders {sorted(encoders)} must be for modalities of feature_dims {modalities}"
            )
        self.encoders = dict(encoders or {})
        self.num_items = num_items
        self.embedding_dim = embedding_dim
        self.content_tower = content_tower
        self.use_ids = use_ids
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.modalities = modalities
        self.features, self.present = {}, {}
        for m in self.modalities:
            self.features[m] = self.add_weight(
                shape=(num_items, content_tower.feature_dims[m]),
                trainable=False,
                initializer="zeros",
                name=f"{m}_features",
            )
            self.present[m] = self.add_weight(
                shape=(num_items,), trainable=False, initializer="ones", name=f"{m}_present"
            )
        self.item_embedding = None
        if use_ids:
            self.item_embedding = self.add_weight(
                shape=(num_items, embedding_dim),
                initializer=self.embeddings_initializer,
                name="item_embedding",
            )
        self.built = True

    def set_content(self, features: dict, present: dict):
        """Stores every item's features (`features[m]` [num_items, d_m], `present[m]`
        [num_items]) and measures the tower's standardisation on them."""
        for m in self.modalities:
            self.features[m].assign(np.asarray(features[m], np.float32))
            self.present[m].assign(np.asarray(present[m], np.float32))
        if self.content_tower is not None:
            self.content_tower.adapt(features, present)

    def refresh(self, content, batch_size: int = 256, include_frozen: bool = True):
        """Re-encodes every item's content (`mmrec_tf.data.ItemContent`) into the table
        of encoder outputs (`include_frozen=False`: only the encoders that train)."""
        encoders = {m: e for m, e in self.encoders.items() if include_frozen or e.trainable}
        for modality, values in encode_all(encoders, content, batch_size).items():
            self.features[modality].assign(values)

    def fresh_features(self, content, training=None):
        """{modality: [num_items, d_m]} with the items of a batch's `content` (its
        `item_index` and raw inputs) re-encoded by the encoders that train, their
        gradients reaching the encoders through these rows; in training the stored
        table follows. None when no encoder trains."""
        index = ops.expand_dims(ops.cast(content["item_index"], "int32"), -1)
        tables = {}
        for modality, encoder in self.encoders.items():
            if not encoder.trainable:
                continue  # a frozen encoder's outputs in the table are already final
            fresh = encoder(encoder_inputs(modality, content), training=training)
            fresh = ops.cast(fresh, "float32")
            stored = ops.convert_to_tensor(self.features[modality])
            if training:
                self.features[modality].assign(
                    ops.scatter_update(stored, index, ops.stop_gradient(fresh))
                )
            tables[modality] = ops.scatter_update(ops.stop_gradient(stored), index, fresh)
        return tables or None

    def content(self, training=None, features=None):
        """Content vectors [num_items, d] (None without content); `features` replaces
        the stored features of the modalities it has."""
        if self.content_tower is None:
            return None
        features = {m: self.features[m] for m in self.modalities} | (features or {})
        present = {m: self.present[m] for m in self.modalities}
        return self.content_tower(features, present, training=training)

    def vectors(self, training=None, features=None):
        """(item vectors [num_items, d], content vectors [num_items, d] or None)."""
        content = self.content(training, features)
        return self._combined(content, self.item_embedding), content

    def vectors_at(self, indices, training=None):
        """(item vectors, content vectors or None) [..., d] of the items `indices` (int,
        any shape), computed for these items only."""
        flat = ops.reshape(indices, (-1,))
        content = None
        if self.content_tower is not None:
            features = {m: ops.take(self.features[m], flat, axis=0) for m in self.modalities}
            present = {m: ops.take(self.present[m], flat, axis=0) for m in self.modalities}
            content = self.content_tower(features, present, training=training)
        ids = None if self.item_embedding is None else ops.take(self.item_embedding, flat, 0)
        shape = (*ops.shape(indices), self.embedding_dim)
        vectors = ops.reshape(self._combined(content, ids), shape)
        return vectors, None if content is None else ops.reshape(content, shape)

    def content_parts_at(self, indices):
        """`ContentTower.modality_parts` of the items `indices` (int [n]): (content
        vectors [n, d], modality parts [n, M, d]); None without content."""
        if self.content_tower is None:
            return None
        features = {m: ops.take(self.features[m], indices, axis=0) for m in self.modalities}
        present = {m: ops.take(self.present[m], indices, axis=0) for m in self.modalities}
        return self.content_tower.modality_parts(features, present, training=False)

    def content_at(self, indices, training=None):
        """The content vectors [..., d] of the items `indices` (None without content)."""
        return self.vectors_at(indices, training)[1]

    @staticmethod
    def _combined(content, ids):
        if content is None:
            return ids
        return content if ids is None else content + ids

    def growth_roles(self) -> list:
        """See `Recommender.growth_roles`: the ID rows grow, the features are data."""
        stored = [*self.features.values(), *self.present.values()]
        ids = [] if self.item_embedding is None else [(self.item_embedding, "items")]
        return ids + [(weight, "data") for weight in stored]

    def get_config(self):
        return {
            **super().get_config(),
            "num_items": self.num_items,
            "embedding_dim": self.embedding_dim,
            "content_tower": keras.saving.serialize_keras_object(self.content_tower),
            "use_ids": self.use_ids,
            "encoders": {
                m: keras.saving.serialize_keras_object(e) for m, e in self.encoders.items()
            },
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["content_tower"] = keras.saving.deserialize_keras_object(config["content_tower"])
        config["encoders"] = {
            m: keras.saving.deserialize_keras_object(e)
            for m, e in config.get("encoders", {}).items()
        }
        return cls(**config)


def encode_all(encoders: dict, content, batch_size: int) -> dict[str, np.ndarray]:
    """Each encoder's output for every item of `content`, in item order (inference mode)."""
    outputs = {m: [] for m in encoders}
    for batch in content.batches(batch_size):
        for modality, encoder in encoders.items():
            vectors = encoder(encoder_inputs(modality, batch), training=False)
            outputs[modality].append(ops.convert_to_numpy(ops.cast(vectors, "float32")))
    return {m: np.concatenate(parts) for m, parts in outputs.items()}
