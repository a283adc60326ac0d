"""Keras 3 layers: cross-modal self-attention, graph propagation, fusion."""

from mmrec_tf.layers.concat_fusion import ConcatFusion
from mmrec_tf.layers.graph_network import GraphNetwork
from mmrec_tf.layers.graph_network_layer import GraphNetworkLayer
from mmrec_tf.layers.history_encoder import HistoryEncoder
from mmrec_tf.layers.masked_mean_fusion import MaskedMeanFusion
from mmrec_tf.layers.masked_softmax import masked_softmax
from mmrec_tf.layers.philox_dropout import PhiloxDropout
from mmrec_tf.layers.self_attention_layer import SelfAttentionLayer
from mmrec_tf.layers.stored_graph import StoredGraph
from mmrec_tf.layers.weighted_average_fusion import WeightedAverageFusion

__all__ = [
    "ConcatFusion",
    "GraphNetwork",
    "GraphNetworkLayer",
    "HistoryEncoder",
    "MaskedMeanFusion",
    "PhiloxDropout",
    "SelfAttentionLayer",
    "StoredGraph",
    "WeightedAverageFusion",
    "masked_softmax",
]
