"""The multimodal recommender: item content, cross-modal attention, fusion, graphs, IDs."""

from __future__ import annotations

import functools

import keras
import numpy as np
from keras import ops

from mmrec_tf.data.graphs import interaction_graph, knn_graph, normalize_adjacency
from mmrec_tf.encoders.inputs import encoder_inputs
from mmrec_tf.layers.concat_fusion import ConcatFusion
from mmrec_tf.layers.graph_network import GraphNetwork
from mmrec_tf.layers.masked_mean_fusion import MaskedMeanFusion
from mmrec_tf.layers.self_attention_layer import SelfAttentionLayer
from mmrec_tf.layers.stored_graph import StoredGraph
from mmrec_tf.layers.weighted_average_fusion import WeightedAverageFusion
from mmrec_tf.models.recommender import Recommender, rows_of

FUSIONS = ("attention", "concat", "weighted_average")
GRAPHS = ("lightgcn", "attention")
# Items whose vectors `inference_vectors` computes at once when items stand alone.
ITEMS_PER_CHUNK = 1 << 16


@keras.saving.register_keras_serializable(package="mmrec_tf")
class MultimodalRecommender(Recommender):
    """Recommends from item content (any modalities), user-item graphs and IDs.

    Item content (cached mode: per-modality feature vectors, kept in the model)
    is projected to `embedding_dim` per modality, giving one token per
    modality; missing modalities are masked. `SelfAttentionLayer` lets the
    modalities of an item attend to each other, then `fusion` combines them:
    `"attention"` (`MaskedMeanFusion` of the attended tokens), `"concat"`
    (`ConcatFusion` then a Dense layer) or `"weighted_average"` (learned
    `WeightedAverageFusion`). The item vector is its ID embedding plus its
    content vector; users have ID embeddings. With `num_graph_layers > 0`,
    both pass through the user-item graph, and items also through an
    item-item graph (k nearest neighbours in content, as LATTICE and FREEDOM
    build) when there is one. `graph` chooses how:

    * `"lightgcn"`: parameter-free smoothing over the normalised user-item
      graph, the mean of X, ÂX, …, Â^L X (LightGCN); item ID embeddings also
      take one step ÂE over the item-item graph.
    * `"attention"`: the design document's message passing,
      X⁽ᵗ⁺¹⁾ = ReLU(Σⱼ αᵢⱼ⁽ᵗ⁾ W⁽ᵗ⁾ X⁽ᵗ⁾ⱼ) with αᵢⱼ a softmax over i's neighbours of
      (W X_i)·(W X_j)/√d (`GraphNetwork`, `num_graph_layers` layers, sparse),
      over the user-item graph, each node's output the mean of X⁽⁰⁾…X⁽ᵀ⁾; and
      one such layer over the item-item graph whose nodes are the items'
      fused content vectors, added to the item vectors.

    Scores are dot products; training is BPR (see `Recommender`).

    Cached mode: `MultimodalRecommender.from_dataset(dataset, features)`, the
    features extracted earlier by frozen encoders (`mmrec-tf extract-features`).

    End-to-end mode: `MultimodalRecommender.end_to_end(dataset, encoders,
    content)`, the encoders (any Keras layers, frozen or trainable) inside the
    model and raw content in the training batches (`content.attach(triples)`,
    see `mmrec_tf.data.ItemContent`). Each step encodes the batch's positive
    and negative items, so gradients reach the encoders, and writes their
    vectors into the model's table of every item's encoder output; the rest
    of the catalogue (which the graph stage and the softmax loss need) comes
    from that table. A frozen encoder (`trainable=False`) is not run in
    training steps: its outputs in the table are final.
    `refresh_content(content)` re-encodes the whole catalogue:
    `RankingEvaluation(..., content=content)` does it before each evaluation,
    and it must be done before serving.

    Args:
        num_users, num_items: int.
        feature_dims: dict of modality name to feature size.
        embedding_dim: int. Defaults to 64.
        fusion: `"attention"`, `"concat"` or `"weighted_average"`. Defaults to `"attention"`.
        use_self_attention: bool. Defaults to True.
        num_heads: int. Defaults to 1.
        use_ids: bool. Item and user ID embeddings (False: items are their content only).
        num_graph_layers: int. User-item propagation steps; 0 for none. Defaults to 2.
        graph: `"lightgcn"` or `"attention"`: how the graphs propagate. Defaults to `"lightgcn"`.
        num_graph_edges: int. Edges of the user-item graph (set by `from_dataset`).
        num_item_graph_edges: int. Edges of the item-item graph; 0 for none.
        l2_regularization: float. Defaults to 1e-4.
        encoders: dict of modality name to an encoder layer (end-to-end mode).
            Defaults to None (cached mode).
        standardize_features: bool. Standardise each feature dimension (mean 0,
            variance 1 over the items that have the modality, as
            `from_dataset` measures them) before the projection. Untrained
            encoders give features that differ between items by a fraction of
            a percent; standardising lets the projection see those
            differences. Not with encoders that train (the statistics are
            measured once). Defaults to False.

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

    OPTION_CHOICES = {**Recommender.OPTION_CHOICES, "fusion": FUSIONS, "graph": GRAPHS}

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
        **kwargs,
    ):
        super().__init__(num_users, num_items, l2_regularization, **kwargs)
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}. Received: fusion={fusion!r}")
        if graph not in GRAPHS:
            raise ValueError(f"graph must be one of {GRAPHS}. Received: graph={graph!r}")
        if not feature_dims and not use_ids:
            raise ValueError("a model without content needs use_ids=True")
        if num_graph_layers and not num_graph_edges:
            raise ValueError("num_graph_layers > 0 needs the graph: build with from_dataset")
        self.feature_dims = dict(feature_dims)
        self.embedding_dim = embedding_dim
        self.fusion = fusion
        self.use_self_attention = use_self_attention
        self.num_heads = num_heads
        self.use_ids = use_ids
        self.num_graph_layers = num_graph_layers
        self.graph_kind = graph
        self.num_graph_edges = num_graph_edges
        self.num_item_graph_edges = num_item_graph_edges
        self.modalities = sorted(self.feature_dims)
        self.encoders = dict(encoders or {})
        if set(self.encoders) - set(self.modalities):
            raise ValueError(
                f"encoders {sorted(self.encoders)} must be for modalities of feature_dims "
                f"{self.modalities}"
            )
        self.standardize_features = standardize_features
        trained = sorted(m for m, e in self.encoders.items() if e.trainable)
        if standardize_features and trained:
            # The statistics are measured once; a training encoder's outputs move away
            # from them and, scaled by up to 1e6, overflow.
            raise ValueError(
                f"standardize_features needs frozen encoders; the {', '.join(trained)} "
                "encoder(s) train"
            )
        self.features, self.present, self.projections = {}, {}, {}
        self.feature_mean, self.feature_scale = {}, {}
        for m in self.modalities:
            self.features[m] = self.add_weight(
                shape=(num_items, self.feature_dims[m]),
                trainable=False,
                initializer="zeros",
                name=f"{m}_features",
            )
            self.present[m] = self.add_weight(
                shape=(num_items,), trainable=False, initializer="ones", name=f"{m}_present"
            )
            if standardize_features:
                self.feature_mean[m] = self.add_weight(
                    shape=(self.feature_dims[m],),
                    trainable=False,
                    initializer="zeros",
                    name=f"{m}_feature_mean",
                )
                self.feature_scale[m] = self.add_weight(
                    shape=(self.feature_dims[m],),
                    trainable=False,
                    initializer="ones",
                    name=f"{m}_feature_scale",
                )
            self.projections[m] = keras.layers.Dense(embedding_dim, name=f"{m}_projection")
            self.projections[m].build((None, self.feature_dims[m]))
        # Sublayers are built here, so that a saved model's weights have somewhere to load.
        tokens_shape = (None, len(self.modalities), embedding_dim)
        if self.modalities and use_self_attention:
            self.attention = SelfAttentionLayer(embedding_dim, num_heads, name="attention")
            self.attention.build(tokens_shape)
        if fusion == "attention":
            self.masked_mean = MaskedMeanFusion(name="masked_mean")
        elif fusion == "concat":
            self.concat = ConcatFusion(name="concat")
            self.concat_projection = keras.layers.Dense(embedding_dim, name="concat_projection")
            self.concat_projection.build((None, len(self.modalities) * embedding_dim))
        elif fusion == "weighted_average":
            self.weighted_average = WeightedAverageFusion(name="weighted_average")
            self.weighted_average.build(tokens_shape)
        # One initializer object per table: an unseeded Keras initializer draws its
        # seed once, so a shared one would start users and items alike.
        self.user_embedding = self.add_weight(
            shape=(num_users, embedding_dim),
            initializer=keras.initializers.GlorotUniform(),
            name="user_embedding",
        )
        if use_ids:
            self.item_embedding = self.add_weight(
                shape=(num_items, embedding_dim),
                initializer=keras.initializers.GlorotUniform(),
                name="item_embedding",
            )
        if num_graph_layers:
            self.graph = StoredGraph(num_users + num_items, num_graph_edges, name="graph")
        if num_item_graph_edges:
            self.item_graph = StoredGraph(num_items, num_item_graph_edges, name="item_graph")
        if graph == "attention":
            if num_graph_layers:
                self.graph_network = GraphNetwork(
                    embedding_dim,
                    num_graph_layers,
                    readout=None,
                    layer_combination="mean",
                    name="graph_network",
                )
                nodes = num_users + num_items
                self.graph_network.build((nodes, embedding_dim), (nodes, nodes))
            if num_item_graph_edges:
                self.item_graph_network = GraphNetwork(
                    embedding_dim, 1, readout=None, name="item_graph_network"
                )
                self.item_graph_network.build((num_items, embedding_dim), (num_items, num_items))
        self.built = True

    @classmethod
    def from_dataset(
        cls,
        dataset,
        features: dict[str, np.ndarray] | None = None,
        present: dict[str, np.ndarray] | None = None,
        *,
        item_graph_k: int = 0,
        split: str = "train",
        **kwargs,
    ):
        """Builds the model with `features` (rows in item order) and the dataset's graphs.

        `present[m]` flags items that really have modality m (default: rows
        that are not all zero). `item_graph_k > 0` adds the item-item graph:
        each modality's k-nearest-neighbour graph, symmetric-normalised and
        averaged over modalities.
        """
        features = features or {}
        present = present or {m: np.abs(f).sum(axis=1) > 0 for m, f in features.items()}
        num_graph_layers = kwargs.pop("num_graph_layers", 2)
        graph = None
        if num_graph_layers:
            users, items = dataset.interactions(split)
            graph = normalize_adjacency(
                interaction_graph(users, items, dataset.num_users, dataset.num_items)
            )
        item_graph = None
        if item_graph_k and not features:
            raise ValueError(
                "item_graph_k > 0 builds an item-item graph from content: no features "
                "(pass --features, or set item_graph_k to 0)"
            )
        if item_graph_k:
            import tensorflow as tf

            graphs = [
                normalize_adjacency(knn_graph(features[m], item_graph_k, valid=present[m]))
                for m in sorted(features)
            ]
            total = functools.reduce(tf.sparse.add, graphs)
            item_graph = tf.sparse.map_values(lambda v: v / len(graphs), total)
        model = cls(
            dataset.num_users,
            dataset.num_items,
            {m: f.shape[1] for m, f in features.items()},
            num_graph_layers=num_graph_layers,
            num_graph_edges=int(graph.values.shape[0]) if num_graph_layers else 0,
            num_item_graph_edges=0 if item_graph is None else int(item_graph.values.shape[0]),
            **kwargs,
        )
        for m, f in features.items():
            model.features[m].assign(np.asarray(f, np.float32))
            model.present[m].assign(np.asarray(present[m], np.float32))
            if model.standardize_features:
                observed = np.asarray(f, np.float64)[np.asarray(present[m], bool)]
                if len(observed):
                    model.feature_mean[m].assign(observed.mean(axis=0).astype(np.float32))
                    scale = 1.0 / np.maximum(observed.std(axis=0), 1e-6)
                    model.feature_scale[m].assign(scale.astype(np.float32))
        if num_graph_layers:
            model.graph = StoredGraph.from_sparse(graph, name="graph")
        if item_graph is not None:
            model.item_graph = StoredGraph.from_sparse(item_graph, name="item_graph")
        return model

    @classmethod
    def end_to_end(cls, dataset, encoders: dict, content, *, batch_size: int = 256, **kwargs):
        """The model with `encoders` inside, for training on raw content.

        `content` (`mmrec_tf.data.ItemContent`) is every item's decoded
        content; the encoders' first outputs over it fill the table of encoder
        outputs (and build the item-item graph when `item_graph_k > 0`).
        """
        missing = sorted(set(encoders) - set(content.modalities))
        if missing:
            raise ValueError(f"no content for the encoders of {missing}: {content.modalities} only")
        if content.num_items != dataset.num_items:
            raise ValueError(
                f"content has {content.num_items} items, the dataset {dataset.num_items}"
            )
        features = _encode_all(encoders, content, batch_size)
        present = {m: flags for m, flags in content.present().items() if m in encoders}
        return cls.from_dataset(dataset, features, present, encoders=encoders, **kwargs)

    def refresh_content(self, content, batch_size: int = 256, include_frozen: bool = True):
        """Re-encodes every item's content into the table of encoder outputs.

        `include_frozen=False` re-encodes only the encoders that train: enough
        during training, where a frozen encoder's rows cannot change.
        """
        encoders = {m: e for m, e in self.encoders.items() if include_frozen or e.trainable}
        if not encoders:
            return
        for modality, values in _encode_all(encoders, content, batch_size).items():
            self.features[modality].assign(values)

    def batch_vectors(self, inputs, training=None):
        if self.items_stand_alone:
            # Only the batch's items: a step's cost does not grow with the catalogue.
            return rows_of(self.user_embedding), functools.partial(
                self.item_vectors_at, training=training
            )
        if not self.encoders or "content" not in inputs:
            return super().batch_vectors(inputs, training=training)
        content = inputs["content"]
        index = ops.expand_dims(ops.cast(content["item_index"], "int32"), -1)
        tables = {}
        for modality, encoder in self.encoders.items():
            if not encoder.trainable:
                continue  # a frozen encoder's outputs in the table are already final
            fresh = encoder(encoder_inputs(modality, content), training=training)
            fresh = ops.cast(fresh, "float32")
            stored = ops.convert_to_tensor(self.features[modality])
            if training:
                # The table follows the encoder as it trains.
                self.features[modality].assign(
                    ops.scatter_update(stored, index, ops.stop_gradient(fresh))
                )
            # Gradients reach the encoder through this batch's items only.
            tables[modality] = ops.scatter_update(ops.stop_gradient(stored), index, fresh)
        users, items = self.user_item_vectors(training=training, features=tables)
        return rows_of(users), rows_of(items)

    @property
    def example_coupling(self) -> str | None:
        if self.num_graph_layers:
            return "its user-item graph (num_graph_layers > 0) holds every training interaction"
        return None

    @property
    def items_stand_alone(self) -> bool:
        """Whether an item's vector depends on that item alone (its ID and stored
        content): no graph mixes items, no encoder runs in the step."""
        return not (self.num_graph_layers or self.num_item_graph_edges or self.encoders)

    def item_vectors_at(self, indices, training=None):
        """The vectors [..., embedding_dim] of the items `indices` (int, any shape)
        when `items_stand_alone`: the same rows as `user_item_vectors`' item
        table, computed for these items only."""
        if not self.items_stand_alone:
            raise ValueError("the model's items depend on each other (graphs or encoders)")
        flat = ops.reshape(indices, (-1,))
        vectors = 0.0
        if self.modalities:
            features = {m: ops.take(self.features[m], flat, axis=0) for m in self.modalities}
            present = {m: ops.take(self.present[m], flat, axis=0) for m in self.modalities}
            vectors = self.fuse_content(features, present, training=training)
        if self.use_ids:
            vectors = vectors + ops.take(self.item_embedding, flat, axis=0)
        return ops.reshape(vectors, (*ops.shape(indices), self.embedding_dim))

    def inference_vectors(self):
        if not self.items_stand_alone:
            return super().inference_vectors()
        # The content tower over a whole catalogue at once holds several
        # [num_items, modalities, d] activations (GBs for a million items): in
        # chunks, only the result is whole.
        rows = self._compiled("_item_rows_function", self.item_vectors_at)
        chunks = [
            rows(np.arange(start, min(start + ITEMS_PER_CHUNK, self.num_items), dtype=np.int32))
            for start in range(0, self.num_items, ITEMS_PER_CHUNK)
        ]
        return ops.convert_to_tensor(self.user_embedding), ops.concatenate(chunks, axis=0)

    def content_vectors(self, training=None, features=None):
        """[num_items, embedding_dim] from the items' modalities (zeros without content).

        `features` replaces the stored features of the modalities it has.
        """
        features = {m: self.features[m] for m in self.modalities} | (features or {})
        present = {m: self.present[m] for m in self.modalities}
        return self.fuse_content(features, present, training=training)

    def fuse_content(self, features: dict, present: dict, training=None):
        """Item vectors [n, embedding_dim] from content alone: `features[m]` [n, d_m]
        and `present[m]` [n] (bool or 0/1) for every modality of the model.

        This is the content part of an item's vector; an item that has no
        interactions yet (cold start) has nothing else.
        """
        if self.standardize_features:
            features = {
                m: (features[m] - self.feature_mean[m]) * self.feature_scale[m]
                for m in self.modalities
            }
        tokens = ops.stack([self.projections[m](features[m]) for m in self.modalities], axis=1)
        mask = ops.stack([ops.cast(present[m], "bool") for m in self.modalities], axis=1)
        if self.use_self_attention:
            tokens = self.attention(tokens, mask=mask, training=training)
        if self.fusion == "concat":
            return self.concat_projection(self.concat(tokens, mask=mask))
        if self.fusion == "weighted_average":
            return self.weighted_average(tokens, mask=mask)
        return self.masked_mean(tokens, mask=mask)

    def user_item_vectors(self, training=None, features=None):
        content = self.content_vectors(training, features) if self.modalities else None
        items = 0.0 if content is None else content
        if self.use_ids:
            items = items + self.item_embedding
        users = self.user_embedding
        attention = self.graph_kind == "attention"
        if self.num_graph_layers:
            if attention:
                nodes = ops.concatenate([users, items], axis=0)
                nodes = self.graph_network(nodes, self.graph.sparse(), training=training)
            else:
                nodes = self.graph.propagate([users, items], self.num_graph_layers)
            users, items = nodes[: self.num_users], nodes[self.num_users :]
        if self.num_item_graph_edges:
            # The item-item graph's nodes: content vectors where there is content
            # (the document's multimodal nodes), else item ID embeddings.
            nodes = self.item_embedding if content is None else content
            if attention:
                items = items + self.item_graph_network(
                    nodes, self.item_graph.sparse(), training=training
                )
            elif self.use_ids:
                items = items + self.item_graph.step(self.item_embedding)
        return users, items

    def get_config(self):
        return {
            "feature_dims": self.feature_dims,
            "embedding_dim": self.embedding_dim,
            "fusion": self.fusion,
            "use_self_attention": self.use_self_attention,
            "num_heads": self.num_heads,
            "use_ids": self.use_ids,
            "num_graph_layers": self.num_graph_layers,
            "graph": self.graph_kind,
            "num_graph_edges": self.num_graph_edges,
            "num_item_graph_edges": self.num_item_graph_edges,
            "standardize_features": self.standardize_features,
            "encoders": {
                m: keras.saving.serialize_keras_object(e) for m, e in self.encoders.items()
            },
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


def _encode_all(encoders: dict, content, batch_size: int) -> dict[str, np.ndarray]:
    """Each encoder's output for every item, in item order (inference mode)."""
    outputs = {m: [] for m in encoders}
    for batch in content.batches(batch_size):
        for modality, encoder in encoders.items():
            vectors = encoder(encoder_inputs(modality, batch), training=False)
            outputs[modality].append(ops.convert_to_numpy(ops.cast(vectors, "float32")))
    return {m: np.concatenate(parts) for m, parts in outputs.items()}
