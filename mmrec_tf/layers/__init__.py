"""Keras 3 layers: cross-modal self-attention, graph propagation, fusion."""

from mmrec_tf.layers.attention_propagation import AttentionPropagation
from mmrec_tf.layers.concat_fusion import ConcatFusion
from mmrec_tf.layers.content_tower import ContentTower
from mmrec_tf.layers.feature_dropout_dense import FeatureDropoutDense
from mmrec_tf.layers.graph_network import GraphNetwork
from mmrec_tf.layers.graph_network_layer import GraphNetworkLayer
from mmrec_tf.layers.history_encoder import HistoryEncoder
from mmrec_tf.layers.history_users import HistoryUsers
from mmrec_tf.layers.item_side import ItemSide
from mmrec_tf.layers.lightgcn_propagation import LightGCNPropagation
from mmrec_tf.layers.masked_mean_fusion import MaskedMeanFusion
from mmrec_tf.layers.masked_softmax import masked_softmax
from mmrec_tf.layers.philox_dropout import PhiloxDropout
from mmrec_tf.layers.propagation import Propagation
from mmrec_tf.layers.self_attention_layer import SelfAttentionLayer
from mmrec_tf.layers.stored_graph import StoredGraph
from mmrec_tf.layers.user_ids import UserIds
from mmrec_tf.layers.weighted_average_fusion import WeightedAverageFusion

__all__ = [
    "AttentionPropagation",
    "ConcatFusion",
    "ContentTower",
    "FeatureDropoutDense",
    "GraphNetwork",
    "GraphNetworkLayer",
    "HistoryEncoder",
    "HistoryUsers",
    "ItemSide",
    "LightGCNPropagation",
    "MaskedMeanFusion",
    "PhiloxDropout",
    "Propagation",
    "SelfAttentionLayer",
    "StoredGraph",
    "UserIds",
    "WeightedAverageFusion",
    "masked_softmax",
]
