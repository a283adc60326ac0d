"""The shared shape of every encoder: a Keras backbone wrapped as a freezable, saveable layer."""

from __future__ import annotations

import keras


class BackboneEncoder(keras.layers.Layer):
    """A layer around a backbone model, saved and reloaded with it.

    `trainable=False` freezes the backbone (it is set after the backbone is
    attached, so that it reaches the backbone's layers). Subclasses add their
    own arguments to `get_config` and implement `call` and `output_dim`.
    """

    def __init__(self, backbone, trainable=True, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.trainable = trainable

    @property
    def output_dim(self) -> int:
        return int(self.backbone.outputs[0].shape[-1])

    def get_config(self):
        config = super().get_config()
        config["backbone"] = keras.saving.serialize_keras_object(self.backbone)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)

    def compute_output_shape(self, input_shape):
        return (None, self.output_dim)
