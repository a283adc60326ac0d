"""A stack of graph layers with a readout."""

from __future__ import annotations

import keras
from keras import ops

from mmrec_tf.layers.graph_network_layer import GraphNetworkLayer
from mmrec_tf.layers.initializers import clone_initializer

READOUTS = ("sum", "mean", "max")
LAYER_COMBINATIONS = ("last", "mean")


@keras.saving.register_keras_serializable(package="mmrec_tf")
class GraphNetwork(keras.layers.Layer):
    """T stacked `GraphNetworkLayer`s, combined per node and optionally read out.

    Node outputs are X⁽ᵀ⁾ (`layer_combination="last"`) or the mean of
    X⁽⁰⁾, ..., X⁽ᵀ⁾ (`"mean"`, as LightGCN combines its layers; the input
    size must then equal `units`). With a `readout`, node outputs are reduced
    over the node axis: `"sum"` is the document's Σ_i X_i⁽ᵀ⁾; `"mean"` and
    `"max"` are also offered. Masked nodes (batched form) are left out of
    the readout; a graph with no node reads out zeros.

    Takes the same inputs as `GraphNetworkLayer`: one graph ([N, d] with a
    sparse or dense [N, N] adjacency; the readout gives [units]) or a batch
    of small dense graphs ([batch, n, d] with [batch, n, n] or None for
    fully connected, and a [batch, n] mask; the readout gives [batch, units]).

    Args:
        units: int. Size of every layer's output.
        num_layers: int. T, the number of propagation steps.
        readout: `"sum"`, `"mean"`, `"max"` or None (node outputs). Defaults to `"sum"`.
        layer_combination: `"last"` or `"mean"`. Defaults to `"last"`.
        attention, activation, use_bias, add_self_loops, dropout,
            kernel_initializer, bias_initializer: passed to each layer.
        **kwargs: standard layer arguments.

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.layers import GraphNetwork
    >>> modalities = np.random.rand(2, 4, 8).astype("float32")  # 2 items, 4 modalities
    >>> GraphNetwork(8, num_layers=2)(modalities).shape
    TensorShape([2, 8])
    """

    def __init__(
        self,
        units,
        num_layers,
        readout="sum",
        layer_combination="last",
        attention=True,
        activation="relu",
        use_bias=True,
        add_self_loops=True,
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_layers < 1:
            raise ValueError(f"num_layers must be positive. Received: num_layers={num_layers}")
        if readout is not None and readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS} or None. Received: {readout!r}")
        if layer_combination not in LAYER_COMBINATIONS:
            raise ValueError(
                f"layer_combination must be one of {LAYER_COMBINATIONS}. "
                f"Received: {layer_combination!r}"
            )
        self.units = units
        self.num_layers = num_layers
        self.readout = readout
        self.layer_combination = layer_combination
        self.layer_arguments = {
            "units": units,
            "attention": attention,
            "activation": keras.activations.serialize(keras.activations.get(activation)),
            "use_bias": use_bias,
            "add_self_loops": add_self_loops,
            "dropout": dropout,
            "kernel_initializer": keras.initializers.serialize(
                keras.initializers.get(kernel_initializer)
            ),
            "bias_initializer": keras.initializers.serialize(
                keras.initializers.get(bias_initializer)
            ),
        }
        self.supports_masking = True

    def build(self, node_features_shape, adjacency_shape=None):
        if self.layer_combination == "mean" and node_features_shape[-1] != self.units:
            raise ValueError(
                "layer_combination='mean' averages the input with the layers' outputs, so the "
                f"input size must equal units. Received: {node_features_shape[-1]} != {self.units}"
            )
        self.graph_layers = []
        shape = node_features_shape
        for t in range(self.num_layers):
            arguments = {
                **self.layer_arguments,
                "kernel_initializer": clone_initializer(
                    self.layer_arguments["kernel_initializer"], t
                ),
            }
            layer = GraphNetworkLayer(**arguments, name=f"graph_layer_{t}", dtype=self.dtype_policy)
            layer.build(shape, adjacency_shape)
            shape = (*shape[:-1], self.units)
            self.graph_layers.append(layer)

    def call(self, node_features, adjacency=None, mask=None, training=None):
        x = node_features
        outputs = [x] if self.layer_combination == "mean" else []
        for layer in self.graph_layers:
            x = layer(x, adjacency, mask=mask, training=training)
            outputs.append(x)
        nodes = x if self.layer_combination == "last" else ops.mean(ops.stack(outputs), axis=0)
        if self.readout is None:
            return nodes
        return _read_out(nodes, mask, self.readout)

    def compute_mask(self, node_features, adjacency=None, mask=None):
        return mask if self.readout is None else None

    def get_config(self):
        config = super().get_config()
        config.update(self.layer_arguments)
        config.update(
            {
                "num_layers": self.num_layers,
                "readout": self.readout,
                "layer_combination": self.layer_combination,
            }
        )
        return config

    def compute_output_shape(self, node_features_shape, adjacency_shape=None):
        nodes = (*node_features_shape[:-1], self.units)
        return nodes if self.readout is None else (*nodes[:-2], self.units)


def _read_out(nodes, mask, readout):
    if mask is None:
        present = ops.ones_like(nodes[..., :1], dtype="bool")
    else:
        present = ops.cast(mask, "bool")[..., None]
    if readout == "max":
        lowest = ops.full_like(nodes, float("-inf"))
        largest = ops.max(ops.where(present, nodes, lowest), axis=-2)
        return ops.where(ops.any(present, axis=-2), largest, ops.zeros_like(largest))
    total = ops.sum(ops.where(present, nodes, ops.zeros_like(nodes)), axis=-2)
    if readout == "sum":
        return total
    count = ops.sum(ops.cast(present, nodes.dtype), axis=-2)
    return total / ops.maximum(count, ops.ones_like(count))
