"""Every propagation strategy by name, as configurations name them (`graph`)."""

from __future__ import annotations

from mmrec_tf.layers.attention_propagation import AttentionPropagation
from mmrec_tf.layers.lightgcn_propagation import LightGCNPropagation

# A function of (embedding_dim, **`Propagation` sizes) giving the strategy layer.
PROPAGATIONS = {
    "lightgcn": lambda dim, **sizes: LightGCNPropagation(name="propagation", **sizes),
    "attention": lambda dim, **sizes: AttentionPropagation(dim, name="propagation", **sizes),
}
