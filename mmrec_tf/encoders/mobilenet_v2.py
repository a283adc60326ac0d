"""MobileNetV2 with torchvision's arithmetic, so that its ImageNet weights import exactly."""

from __future__ import annotations

import keras
import numpy as np

# (expansion t, output channels c, repeats n, first stride s), torchvision's table.
_SETTINGS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
_BATCH_NORM_EPSILON = 1e-5  # PyTorch's default
FEATURE_DIM = 1280


def torchvision_mobilenet_v2(
    include_top: bool = False, num_classes: int = 1000, name: str = "mobilenet_v2"
) -> keras.Model:
    """MobileNetV2 as torchvision builds it, as a Keras functional model.

    Unlike `keras.applications.MobileNetV2`, every 3×3 convolution pads one
    pixel on each side (PyTorch's symmetric padding; Keras pads stride-2
    convolutions asymmetrically), and batch normalisation uses PyTorch's
    epsilon, so torchvision's ImageNet weights give torchvision's outputs.
    Layers are named after torchvision's modules (`features.3.conv.1.0` is
    `features_3_conv_1_0`).

    Input: [batch, height, width, 3] normalised with ImageNet's mean and
    standard deviation. Output: the 1280-d global-average-pooled features, or
    with `include_top` the class logits.
    """
    inputs = keras.Input((None, None, 3), name="images")
    x = _conv_bn(inputs, 32, 3, 2, "features_0")
    channels, index = 32, 1
    for expansion, out_channels, repeats, first_stride in _SETTINGS:
        for r in range(repeats):
            x = _inverted_residual(
                x,
                channels,
                out_channels,
                first_stride if r == 0 else 1,
                expansion,
                f"features_{index}",
            )
            channels, index = out_channels, index + 1
    x = _conv_bn(x, FEATURE_DIM, 1, 1, f"features_{index}")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if include_top:
        x = keras.layers.Dense(num_classes, name="classifier_1")(x)
    return keras.Model(inputs, x, name=name)


def _conv_bn(x, filters, kernel, stride, prefix, depthwise=False, activation=True):
    if kernel == 3:
        x = keras.layers.ZeroPadding2D(1, name=f"{prefix}_pad")(x)
    if depthwise:
        x = keras.layers.DepthwiseConv2D(kernel, stride, use_bias=False, name=f"{prefix}_0")(x)
    else:
        x = keras.layers.Conv2D(filters, kernel, stride, use_bias=False, name=f"{prefix}_0")(x)
    x = keras.layers.BatchNormalization(
        epsilon=_BATCH_NORM_EPSILON, momentum=0.9, name=f"{prefix}_1"
    )(x)
    return keras.layers.ReLU(6.0, name=f"{prefix}_relu6")(x) if activation else x


def _inverted_residual(x, in_channels, out_channels, stride, expansion, prefix):
    inputs = x
    hidden = in_channels * expansion
    step = 0
    if expansion != 1:
        x = _conv_bn(x, hidden, 1, 1, f"{prefix}_conv_{step}")
        step += 1
    x = _conv_bn(x, hidden, 3, stride, f"{prefix}_conv_{step}", depthwise=True)
    x = keras.layers.Conv2D(out_channels, 1, use_bias=False, name=f"{prefix}_conv_{step + 1}")(x)
    x = keras.layers.BatchNormalization(
        epsilon=_BATCH_NORM_EPSILON, momentum=0.9, name=f"{prefix}_conv_{step + 2}"
    )(x)
    if stride == 1 and in_channels == out_channels:
        x = keras.layers.Add(name=f"{prefix}_add")([inputs, x])
    return x


def load_torchvision_weights(model: keras.Model, state_dict: dict) -> None:
    """Copies a torchvision MobileNetV2 state dict into `torchvision_mobilenet_v2()`.

    Raises:
        ValueError: when a layer has no matching weights or shapes differ.
    """
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        key = layer.name.replace("_", ".")
        if isinstance(layer, keras.layers.BatchNormalization):
            names = ("weight", "bias", "running_mean", "running_var")
            values = [state_dict[f"{key}.{n}"] for n in names]
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            names = ("weight",)
            values = [state_dict[f"{key}.weight"].transpose(2, 3, 0, 1)]
        elif isinstance(layer, keras.layers.Conv2D):
            names = ("weight",)
            values = [state_dict[f"{key}.weight"].transpose(2, 3, 1, 0)]
        elif isinstance(layer, keras.layers.Dense):
            names = ("weight", "bias")
            values = [state_dict[f"{key}.weight"].T, state_dict[f"{key}.bias"]]
        else:
            raise ValueError(f"no weight mapping for layer {layer.name}")
        for weight, value in zip(layer.weights, values, strict=True):
            if tuple(weight.shape) != value.shape:
                raise ValueError(f"{layer.name}: shape {tuple(weight.shape)} != {value.shape}")
        layer.set_weights([np.asarray(v, np.float32) for v in values])
        used.update(f"{key}.{n}" for n in names)
    has_top = any(layer.name == "classifier_1" for layer in model.layers)
    unused = [
        k
        for k in state_dict
        if k not in used
        and not k.endswith("num_batches_tracked")
        and (has_top or not k.startswith("classifier."))
    ]
    if unused:
        raise ValueError(f"weights not used: {unused[:5]}")
