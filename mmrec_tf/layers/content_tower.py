"""An item's vector from its content: per-modality projection, cross-modal attention, fusion."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from mmrec_tf.layers.concat_fusion import ConcatFusion
from mmrec_tf.layers.feature_dropout_dense import FeatureDropoutDense
from mmrec_tf.layers.initializers import clone_initializer
from mmrec_tf.layers.masked_mean_fusion import MaskedMeanFusion
from mmrec_tf.layers.self_attention_layer import SelfAttentionLayer
from mmrec_tf.layers.weighted_average_fusion import WeightedAverageFusion

# Each fusion by name, as configurations name them: a function of (embedding_dim,
# initializer) giving a layer from tokens [n, modalities, d] and their mask to [n, d].
FUSIONS = {
    "attention": lambda dim, initializer: MaskedMeanFusion(name="masked_mean"),
    "concat": lambda dim, initializer: ConcatFusion(dim, initializer, name="concat"),
    "weighted_average": lambda dim, initializer: WeightedAverageFusion(name="weighted_average"),
}


@keras.saving.register_keras_serializable(package="mmrec_tf")
class ContentTower(keras.layers.Layer):
    """Item vectors [n, embedding_dim] from each modality's features.

    For an item with features x_m [d_m] of modality m (present flags p_m):

        t_m = W_m dropout(z_m) + b_m,   z_m = (x_m − μ_m) ⊙ s_m with `standardize`, else x_m
        T' = SelfAttentionLayer([t_1; …; t_M], mask p)      (with `use_self_attention`)
        c = fusion(T', mask p)

    `fusion` is one of `FUSIONS`: `"attention"` (the mean of the present
    attended tokens), `"concat"` (their concatenation, projected to
    `embedding_dim`) or `"weighted_average"` (learned modality weights). A
    missing modality is masked everywhere; an item without content gets
    zeros. μ_m and s_m = 1/σ_m are measured once (`adapt`) over the items
    that have modality m: untrained encoders give features that differ by a
    fraction of a percent, and standardising lets the projection see that.
    `feature_dropout` drops feature entries while training (`FeatureDropoutDense`:
    the mask is drawn per group of items and multiplies the kernel): with a few thousand
    items a projection from hundreds of dimensions can learn each training
    item's place by heart, and then says little about a new item's.

    This is the content part of an item's vector, and all an item that nobody
    has interacted with yet has: the exported `embed_items` runs it after the
    encoders.

    Args:
        feature_dims: dict of modality name to feature size.
        embedding_dim: int.
        fusion: a key of `FUSIONS`. Defaults to `"attention"`.
        use_self_attention: bool. Defaults to True.
        num_heads: int. Attention heads. Defaults to 1.
        standardize: bool. Defaults to False.
        feature_dropout: float in [0, 1). Defaults to 0.
        kernel_initializer: each projection's own copy of it. Defaults to `"glorot_uniform"`.

    Example:
    >>> import numpy as np
    >>> tower = ContentTower({"text": 3, "image": 2}, 4)
    >>> features = {"text": np.ones((5, 3), "float32"), "image": np.ones((5, 2), "float32")}
    >>> present = {"text": np.ones(5, bool), "image": np.array([1, 0, 1, 0, 1], bool)}
    >>> tower(features, present).shape
    TensorShape([5, 4])
    """

    def __init__(
        self,
        feature_dims,
        embedding_dim,
        fusion="attention",
        use_self_attention=True,
        num_heads=1,
        standardize=False,
        feature_dropout=0.0,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not feature_dims:
            raise ValueError("a content tower needs at least one modality (feature_dims is empty)")
        if not 0 <= feature_dropout < 1:
            raise ValueError(f"feature_dropout must be in [0, 1). Received: {feature_dropout}")
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {tuple(FUSIONS)}. Received: fusion={fusion!r}")
        self.feature_dims = dict(feature_dims)
        self.modalities = sorted(self.feature_dims)
        self.embedding_dim = embedding_dim
        self.fusion = fusion
        self.use_self_attention = use_self_attention
        self.num_heads = num_heads
        self.standardize = standardize
        self.feature_dropout = feature_dropout
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.projections = {
            m: FeatureDropoutDense(
                embedding_dim,
                feature_dropout,
                kernel_initializer=clone_initializer(self.kernel_initializer, index),
                name=f"{m}_projection",
            )
            for index, m in enumerate(self.modalities)
        }
        self.attention = None
        if use_self_attention:
            self.attention = SelfAttentionLayer(
                embedding_dim,
                num_heads,
                kernel_initializer=clone_initializer(self.kernel_initializer, len(self.modalities)),
                name="attention",
            )
        self.fusion_layer = FUSIONS[fusion](
            embedding_dim, clone_initializer(self.kernel_initializer, len(self.modalities) + 1)
        )
        self.feature_mean, self.feature_scale = {}, {}
        for m in self.modalities if standardize else ():
            dims = (self.feature_dims[m],)
            self.feature_mean[m] = self.add_weight(
                shape=dims, trainable=False, initializer="zeros", name=f"{m}_feature_mean"
            )
            self.feature_scale[m] = self.add_weight(
                shape=dims, trainable=False, initializer="ones", name=f"{m}_feature_scale"
            )
        # Built here, so that a saved tower's weights have somewhere to load.
        for m in self.modalities:
            self.projections[m].build((None, self.feature_dims[m]))
        tokens = (None, len(self.modalities), embedding_dim)
        if self.attention is not None:
            self.attention.build(tokens)
        self.fusion_layer.build(tokens)
        self.built = True

    def adapt(self, features: dict, present: dict):
        """Measures the standardisation (μ_m, 1/σ_m) over the items that have each
        modality: `features[m]` [n, d_m], `present[m]` bool [n]. Nothing to do
        without `standardize`."""
        for m in self.feature_mean:
            observed = np.asarray(features[m], np.float64)[np.asarray(present[m], bool)]
            if len(observed):
                self.feature_mean[m].assign(observed.mean(axis=0).astype(np.float32))
                scale = 1.0 / np.maximum(observed.std(axis=0), 1e-6)
                self.feature_scale[m].assign(scale.astype(np.float32))

    def call(self, features, present, training=None):
        """`features[m]` [n, d_m] and `present[m]` [n] (bool or 0/1) for every modality."""
        tokens = []
        for m in self.modalities:
            x = features[m]
            if self.standardize:
                x = (x - self.feature_mean[m]) * self.feature_scale[m]
            tokens.append(self.projections[m](x, training=training))
        tokens = ops.stack(tokens, axis=1)
        mask = ops.stack([ops.cast(present[m], "bool") for m in self.modalities], axis=1)
        if self.attention is not None:
            tokens = self.attention(tokens, mask=mask, training=training)
        fused = self.fusion_layer(tokens, mask=mask)
        # An item with no modality has no content vector, whatever a fusion's bias says.
        has_content = ops.any(mask, axis=1, keepdims=True)
        return ops.where(has_content, fused, ops.zeros_like(fused))

    def modality_parts(self, features, present, training=None):
        """(c [n, d], parts [n, M, d]): the content vectors (`call`) and, for each
        modality m (in `modalities` order), what it brings to them,

            parts[:, m] = c − c⁽⁻ᵐ⁾,   c⁽⁻ᵐ⁾ the vector with m blanked (present 0),

        so 0 for an item without m, and c itself for an item whose only modality
        is m. What explanations read (`Recommender.explanation_parts`)."""
        content = self(features, present, training=training)
        parts = [
            content - self(features, {**present, m: ops.zeros_like(present[m])}, training=training)
            for m in self.modalities
        ]
        return content, ops.stack(parts, axis=1)

    def get_config(self):
        return {
            **super().get_config(),
            "feature_dims": self.feature_dims,
            "embedding_dim": self.embedding_dim,
            "fusion": self.fusion,
            "use_self_attention": self.use_self_attention,
            "num_heads": self.num_heads,
            "standardize": self.standardize,
            "feature_dropout": self.feature_dropout,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
