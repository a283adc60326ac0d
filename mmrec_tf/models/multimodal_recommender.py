"""The multimodal recommender: a content tower, an item side, a user side and a propagation."""

from __future__ import annotations

import functools

import keras
import numpy as np
from keras import ops

from mmrec_tf.data.graphs import recommender_graphs
from mmrec_tf.layers.content_tower import FUSIONS, ContentTower
from mmrec_tf.layers.item_side import ItemSide, encode_all
from mmrec_tf.layers.propagations import PROPAGATIONS
from mmrec_tf.layers.user_ids import UserIds
from mmrec_tf.models.recommender import Recommender, rows_of

# Items whose vectors `inference_vectors` computes at once when items stand alone.
ITEMS_PER_CHUNK = 1 << 16


@keras.saving.register_keras_serializable(package="mmrec_tf")
class MultimodalRecommender(Recommender):
    """Recommends from item content (any modalities), user-item graphs and IDs.

    Four parts, each a layer: a `ContentTower` (per-modality projection,
    cross-modal `SelfAttentionLayer`, `fusion`) gives an item's content vector
    c_i; the `ItemSide` makes its vector v_i = c_i + e_i (e_i its ID embedding,
    with `use_ids`); the user side is `UserIds` (`HistoryRecommender`:
    `HistoryUsers`); a propagation strategy (`PROPAGATIONS[graph]`:
    `LightGCNPropagation` or the design document's `AttentionPropagation`)
    passes them over the user-item graph (`num_graph_layers` steps) and the
    item-item graph of content neighbours.

    Scores are dot products; training is BPR or the catalogue softmax (see
    `Recommender`). With `content_loss_weight` λ > 0 the loss also ranks the
    batch's items by their content vectors alone, with the same users:

        L = L_rank(u · v) + λ L_rank(u · c)

    so that c_i, all a new item has (the exported `embed_items`), carries the
    collaborative signal, as DropoutNet's dropped ID input and CLCRec's
    alignment intend.

    Cached mode: `from_dataset(dataset, features)`, features extracted by frozen
    encoders (`mmrec-tf extract-features`). End-to-end mode: `end_to_end(dataset,
    encoders, content)`, the encoders in the item side (see `ItemSide`;
    `refresh_content` re-encodes the catalogue before serving).

    Args:
        num_users, num_items: int.
        feature_dims: dict of modality name to feature size ({} for IDs only).
        embedding_dim: int. Defaults to 64.
        fusion: a key of `mmrec_tf.layers.content_tower.FUSIONS`. Defaults to `"attention"`.
        use_self_attention, num_heads: cross-modal attention, its heads. Defaults to True, 1.
        use_ids: bool. Item and user ID embeddings. Defaults to True.
        num_graph_layers: int. User-item propagation steps; 0 for none. Defaults to 2.
        graph: a key of `mmrec_tf.layers.propagations.PROPAGATIONS`. Defaults to `"lightgcn"`.
        num_graph_edges, num_item_graph_edges: int. The graphs' edges (set by `from_dataset`).
        l2_regularization: float. Defaults to 1e-4.
        encoders: dict of modality name to an encoder layer (end-to-end mode).
        standardize_features: bool. `ContentTower`'s `standardize` (not with encoders
            that train: the statistics are measured once). Defaults to False.
        content_loss_weight: float. λ above. Defaults to 0.
        feature_dropout: float. `ContentTower`'s. Defaults to 0.

    Example (cached mode, random features):
    ```python
    dataset = mmrec_tf.data.load_dataset(mmrec_tf.data.generate_demo_dataset("demo"))
    features = {"text": np.random.rand(dataset.num_items, 8)}
    model = MultimodalRecommender.from_dataset(dataset, features, embedding_dim=16)
    model.compile(optimizer="adam", jit_compile=True)
    model.fit(mmrec_tf.data.bpr_triples(dataset, 256, seed=0), epochs=1, verbose=0)
    model.score_users([0, 1]).shape  # (2, 200)
    ```
    """

    OPTION_CHOICES = {
        **Recommender.OPTION_CHOICES,
        "fusion": tuple(FUSIONS),
        "graph": tuple(PROPAGATIONS),
    }

    def __init__(
        self,
        num_users,
        num_items,
        feature_dims,
        embedding_dim=64,
        fusion="attention",
        use_self_attention=True,
        num_heads=1,
        use_ids=True,
        num_graph_layers=2,
        graph="lightgcn",
        num_graph_edges=0,
        num_item_graph_edges=0,
        l2_regularization=1e-4,
        encoders=None,
        standardize_features=False,
        content_loss_weight=0.0,
        feature_dropout=0.0,
        **kwargs,
    ):
        super().__init__(num_users, num_items, l2_regularization, **kwargs)
        _check_options(graph, feature_dims, encoders, standardize_features, content_loss_weight)
        # The constructor's options as get_config returns them; the parts own the facts.
        self.options = dict(
            feature_dims=dict(feature_dims), embedding_dim=embedding_dim, fusion=fusion,
            use_self_attention=use_self_attention, num_heads=num_heads, use_ids=use_ids,
            num_graph_layers=num_graph_layers, graph=graph, num_graph_edges=num_graph_edges,
            num_item_graph_edges=num_item_graph_edges, standardize_features=standardize_features,
            content_loss_weight=content_loss_weight, feature_dropout=feature_dropout,
        )  # fmt: skip
        self.embedding_dim = embedding_dim
        self.content_loss_weight = content_loss_weight
        tower = None
        if feature_dims:
            tower = ContentTower(
                feature_dims, embedding_dim, fusion, use_self_attention, num_heads,
                standardize_features, feature_dropout, name="content_tower",
            )  # fmt: skip
        self.item_side = ItemSide(
            num_items, embedding_dim, tower, use_ids, encoders, name="item_side"
        )
        self.user_side = self.make_user_side()
        self.propagation = PROPAGATIONS[graph](
            embedding_dim,
            num_users=num_users,
            num_items=num_items,
            num_layers=num_graph_layers,
            num_edges=num_graph_edges,
            num_item_edges=num_item_graph_edges,
        )
        self.built = True

    def make_user_side(self):
        """The user side (`UserIds`); `HistoryRecommender` makes `HistoryUsers`."""
        return UserIds(self.num_users, self.embedding_dim, name="user_side")

    @property
    def modalities(self) -> list[str]:
        return self.item_side.modalities

    @classmethod
    def from_dataset(
        cls, dataset, features=None, present=None, *, item_graph_k=0, split="train", **kwargs
    ):
        """Builds the model with `features` (rows in item order), `present[m]` (items
        that have modality m; default: rows not all zero) and the dataset's graphs
        (`mmrec_tf.data.graphs.recommender_graphs`)."""
        features = features or {}
        present = present or {m: np.abs(f).sum(axis=1) > 0 for m, f in features.items()}
        num_graph_layers = kwargs.pop("num_graph_layers", 2)
        graph, item_graph = recommender_graphs(
            dataset, features, present, num_graph_layers, item_graph_k, split
        )
        model = cls(
            dataset.num_users,
            dataset.num_items,
            {m: f.shape[1] for m, f in features.items()},
            num_graph_layers=num_graph_layers,
            num_graph_edges=0 if graph is None else int(graph.values.shape[0]),
            num_item_graph_edges=0 if item_graph is None else int(item_graph.values.shape[0]),
            **kwargs,
        )
        model.item_side.set_content(features, present)
        model.propagation.assign_graphs(graph, item_graph)
        return model

    @classmethod
    def end_to_end(cls, dataset, encoders: dict, content, *, batch_size: int = 256, **kwargs):
        """The model with `encoders` inside, for training on raw content: their first
        outputs over `content` (`ItemContent`, every item's decoded content) fill
        the table of encoder outputs (and build the item-item graph)."""
        missing = sorted(set(encoders) - set(content.modalities))
        if missing:
            raise ValueError(f"no content for the encoders of {missing}: {content.modalities} only")
        if content.num_items != dataset.num_items:
            raise ValueError(
                f"content has {content.num_items} items, the dataset {dataset.num_items}"
            )
        features = encode_all(encoders, content, batch_size)
        present = {m: flags for m, flags in content.present().items() if m in encoders}
        return cls.from_dataset(dataset, features, present, encoders=encoders, **kwargs)

    def refresh_content(self, content, batch_size: int = 256, include_frozen: bool = True):
        """`ItemSide.refresh`: re-encodes every item's content (end-to-end mode)."""
        self.item_side.refresh(content, batch_size, include_frozen)

    def content_encoders(self) -> dict:
        return dict(self.item_side.encoders)

    @property
    def example_coupling(self) -> str | None:
        if self.user_side.example_coupling or self.propagation.graph is None:
            return self.user_side.example_coupling
        return "its user-item graph (num_graph_layers > 0) holds every training interaction"

    def growth_roles(self) -> list:
        parts = (self.item_side, self.user_side, self.propagation)
        return [role for part in parts for role in part.growth_roles()]

    def sampler_options(self) -> dict:
        return self.user_side.sampler_options()

    @property
    def items_stand_alone(self) -> bool:
        """Whether an item's vector depends on that item alone (its ID and stored
        content): no graph mixes items, no encoder runs in the step."""
        return not (self.propagation.couples_items or self.item_side.encoders)

    def batch_parts(self, inputs, training=None):
        if self.items_stand_alone:
            # Only the batch's items: a step's cost does not grow with the catalogue.
            item_rows = functools.partial(self.item_vectors_at, training=training)
            content_rows = functools.partial(self.item_side.content_at, training=training)
            return rows_of(self.user_side.table()), item_rows, content_rows
        fresh = None
        if "content" in inputs:  # end-to-end: the batch's raw content
            fresh = self.item_side.fresh_features(inputs["content"], training)
        users, items, content = self._tables(training, fresh)
        return rows_of(users), rows_of(items), None if content is None else rows_of(content)

    def batch_users(self, user_rows, item_rows, inputs, training=None):
        return self.user_side.batch(user_rows, item_rows, inputs, training=training)

    def item_vectors_at(self, indices, training=None):
        """The vectors [..., embedding_dim] of the items `indices` (int, any shape)
        when `items_stand_alone`: the same rows as `user_item_vectors`' item table."""
        if not self.items_stand_alone:
            raise ValueError("the model's items depend on each other (graphs or encoders)")
        return self.item_side.vectors_at(indices, training)[0]

    def inference_vectors(self):
        if not self.items_stand_alone:
            return super().inference_vectors()
        # The content tower over a whole catalogue at once holds several
        # [num_items, modalities, d] activations (GBs for a million items): in
        # chunks, only the result is whole.
        rows = self._compiled("_item_rows_function", self.item_vectors_at)
        chunks = [rows(indices) for indices in self._item_chunks()]
        return ops.convert_to_tensor(self.user_side.table()), ops.concatenate(chunks, axis=0)

    def explanation_parts(self):
        if self.item_side.content_tower is None:
            return None
        parts = self._compiled("_explanation_parts_function", self.item_side.content_parts_at)
        chunks = [parts(indices) for indices in self._item_chunks()]
        content, modality_parts = (
            np.concatenate([ops.convert_to_numpy(chunk[j]) for chunk in chunks]) for j in (0, 1)
        )
        present = [ops.convert_to_numpy(self.item_side.present[m]) > 0 for m in self.modalities]
        return content, modality_parts, np.stack(present, axis=1)

    def _item_chunks(self):
        """Item indices in chunks of `ITEMS_PER_CHUNK`."""
        for start in range(0, self.num_items, ITEMS_PER_CHUNK):
            yield np.arange(start, min(start + ITEMS_PER_CHUNK, self.num_items), dtype=np.int32)

    def content_vectors(self, training=None, features=None):
        """[num_items, embedding_dim] from the items' modalities (`features` replaces
        the stored features of the modalities it has)."""
        return self.item_side.content(training, features)

    def fuse_content(self, features: dict, present: dict, training=None):
        """Item vectors [n, embedding_dim] from content alone (`ContentTower`): what
        an item that has no interactions yet (cold start) has."""
        return self.item_side.content_tower(features, present, training=training)

    def user_item_vectors(self, training=None, features=None):
        return self._tables(training, features)[:2]

    def _tables(self, training, features):
        """(users [U, d], items [N, d], content [N, d] or None) after propagation."""
        items, content = self.item_side.vectors(training, features)
        users, items = self.propagation(
            self.user_side.table(), items, self.item_side.item_embedding, content, training=training
        )
        return users, items, content

    def _rank(self, tables, user_indices):
        users, items = tables
        return ops.matmul(self.user_side.ranked(users, items, user_indices), ops.transpose(items))

    def get_config(self):
        encoders = self.item_side.encoders
        return {
            **self.options,
            "encoders": {m: keras.saving.serialize_keras_object(e) for m, e in encoders.items()},
            **super().get_config(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoders"] = {
            m: keras.saving.deserialize_keras_object(e)
            for m, e in config.get("encoders", {}).items()
        }
        return cls(**config)


def _check_options(graph, feature_dims, encoders, standardize_features, content_loss_weight):
    """Every combination of options the model refuses, in one place."""
    if graph not in PROPAGATIONS:
        raise ValueError(f"graph must be one of {tuple(PROPAGATIONS)}. Received: graph={graph!r}")
    trained = sorted(m for m, e in (encoders or {}).items() if e.trainable)
    if standardize_features and trained:
        # Measured once: a training encoder's outputs move away and, scaled by 1e6, overflow.
        raise ValueError(
            f"standardize_features needs frozen encoders; the {', '.join(trained)} encoder(s) train"
        )
    if content_loss_weight < 0:
        raise ValueError(f"content_loss_weight must be ≥ 0. Received: {content_loss_weight}")
    if content_loss_weight and not feature_dims:
        raise ValueError("content_loss_weight > 0 needs content (a model without modalities)")
