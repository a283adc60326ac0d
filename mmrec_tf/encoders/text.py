"""BERT-family text encoders (keras-hub)."""

from __future__ import annotations

import json
from pathlib import Path

import keras
from keras import ops

from mmrec_tf.encoders.backbone_encoder import BackboneEncoder

POOLINGS = ("mean", "cls")


@keras.saving.register_keras_serializable(package="mmrec_tf")
class TextEncoder(BackboneEncoder):
    """Encodes token ids with a keras-hub `BertBackbone` and pools them to one vector.

    Inputs are the text loader's output: a dict with `token_ids` and
    `padding_mask` ([batch, sequence_length]; the `text_` prefix of
    `ItemLoader`'s keys is accepted too). `pooling="mean"` averages the real
    tokens (as sentence-transformers does), `"cls"` takes the `[CLS]` state.
    With `normalize=True` the vector is L2-normalised. An input with no real
    token (a missing text) gives zeros.

    Build one with `TextEncoder.from_preset(...)` (a keras-hub preset name,
    downloaded when online, or a local keras-hub or Hugging Face directory),
    `TextEncoder.small(...)` (a small from-scratch BERT, the default for
    training on one's own data), or `mmrec_tf.encoders.minilm()`.

    Args:
        backbone: a `keras_hub.models.BertBackbone`.
        pooling: `"mean"` or `"cls"`. Defaults to `"mean"`.
        normalize: bool. L2-normalise the output. Defaults to False.
        exact_gelu: bool. Use the exact (erf) GELU in the feed-forward layers,
            as Hugging Face BERT checkpoints do, instead of keras-hub's tanh
            approximation. `from_preset` sets it for Hugging Face directories.
            Defaults to False.
        **kwargs: standard layer arguments (`trainable=False` freezes the backbone).

    Example:
    >>> import numpy as np
    >>> from mmrec_tf.encoders import TextEncoder
    >>> encoder = TextEncoder.small(vocabulary_size=100, sequence_length=8)
    >>> tokens = {"token_ids": np.array([[2, 5, 6, 3, 0, 0, 0, 0]]),
    ...           "padding_mask": np.array([[1, 1, 1, 1, 0, 0, 0, 0]], bool)}
    >>> encoder(tokens).shape
    TensorShape([1, 64])
    """

    def __init__(
        self, backbone, pooling="mean", normalize=False, exact_gelu=False, trainable=True, **kwargs
    ):
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}. Received: pooling={pooling!r}")
        super().__init__(backbone, trainable=trainable, **kwargs)
        self.pooling = pooling
        self.normalize = normalize
        self.exact_gelu = exact_gelu
        if exact_gelu:
            _use_exact_gelu(backbone)

    @classmethod
    def from_preset(cls, preset, pooling="mean", normalize=False, **kwargs):
        """A pretrained BERT-family encoder: keras-hub preset name or local directory."""
        import keras_hub

        backbone = keras_hub.models.BertBackbone.from_preset(preset)
        exact_gelu = _hugging_face_activation(preset) == "gelu"
        return cls(backbone, pooling=pooling, normalize=normalize, exact_gelu=exact_gelu, **kwargs)

    @classmethod
    def small(
        cls,
        vocabulary_size=30522,
        sequence_length=64,
        hidden_dim=64,
        num_layers=2,
        num_heads=2,
        **kwargs,
    ):
        """A small BERT trained from scratch (random initial weights)."""
        import keras_hub

        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=vocabulary_size,
            num_layers=num_layers,
            num_heads=num_heads,
            hidden_dim=hidden_dim,
            intermediate_dim=hidden_dim * 4,
            max_sequence_length=sequence_length,
        )
        return cls(backbone, **kwargs)

    @property
    def output_dim(self) -> int:
        return self.backbone.hidden_dim

    def call(self, inputs, training=None):
        token_ids = inputs.get("token_ids", inputs.get("text_token_ids"))
        padding_mask = inputs.get("padding_mask", inputs.get("text_padding_mask"))
        outputs = self.backbone(
            {
                "token_ids": token_ids,
                "segment_ids": ops.zeros_like(token_ids),
                "padding_mask": padding_mask,
            },
            training=training,
        )
        sequence = outputs["sequence_output"]
        real = ops.cast(padding_mask, sequence.dtype)[..., None]
        if self.pooling == "mean":
            pooled = ops.sum(sequence * real, axis=1) / ops.maximum(ops.sum(real, axis=1), 1.0)
        else:
            pooled = sequence[:, 0] * ops.max(real, axis=1)
        if self.normalize:
            norm = ops.sqrt(ops.sum(ops.square(pooled), axis=-1, keepdims=True))
            pooled = pooled / ops.maximum(norm, 1e-12)
        return pooled

    def get_config(self):
        config = super().get_config()
        config.update(
            {"pooling": self.pooling, "normalize": self.normalize, "exact_gelu": self.exact_gelu}
        )
        return config


def _hugging_face_activation(preset) -> str | None:
    """The `hidden_act` of a local Hugging Face directory, None for anything else."""
    config = Path(str(preset)) / "config.json"
    if not config.is_file():
        return None
    return json.loads(config.read_text()).get("hidden_act")


def _use_exact_gelu(backbone) -> None:
    """Switches keras-hub's BERT from tanh-approximated GELU to the exact (erf) GELU.

    keras-hub builds BERT with the approximation; Hugging Face checkpoints
    with `hidden_act: gelu` were trained with the exact function, and their
    outputs differ by up to ~3e-4 otherwise. The encoder layers' `activation`
    is changed too, so that the choice survives saving and reloading.
    """
    for layer in backbone.transformer_layers:
        layer.activation = keras.activations.gelu
        layer._feedforward_intermediate_dense.activation = keras.activations.gelu
