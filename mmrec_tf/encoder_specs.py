"""Every encoder a user can name, in one table (importable without TensorFlow).

`mmrec-tf extract-features --encoder` (`mmrec_tf.encoders.extract`) and an
`end_to_end` configuration's `"encoders"` (`mmrec_tf.encoders.trainable`,
checked by `mmrec_tf.training.config`) both read their names here, and the
command line's help lists them from it. The code that builds each one sits
with its use: extraction runs frozen encoders at the sizes a spec fixes (I3D
on 16 frames of 224 × 224), a model holds them at its configuration's sizes.
"""

from __future__ import annotations

import dataclasses

from mmrec_tf.names import MODALITIES


@dataclasses.dataclass(frozen=True)
class EncoderName:
    """An encoder as a user writes it.

    Attributes:
        spec: its name, with the form of its argument after a colon when it takes
            one (`keras_hub:<preset or directory>`).
        modalities: what it encodes.
        summary: one line for the command line's help.
        extracts: `extract-features --encoder` takes it.
        end_to_end: an `end_to_end` configuration's `"encoders"` takes it.
        pretrained: it starts from pretrained weights, which stay frozen inside a
            model (their outputs are computed once, not in every training step).
    """

    spec: str
    modalities: tuple[str, ...]
    summary: str
    extracts: bool = True
    end_to_end: bool = False
    pretrained: bool = False

    @property
    def name(self) -> str:
        """The part before any argument: `keras_hub`, or `i3d:kinetics400` whole."""
        return self.spec.split(":<")[0].split(":[")[0]


ENCODERS = (
    EncoderName("builtin", MODALITIES, "small untrained encoder (seed 0)", end_to_end=True),
    EncoderName("minilm", ("text",), "all-MiniLM-L6-v2", end_to_end=True, pretrained=True),
    EncoderName("mobilenet_v2:imagenet", ("image",), "torchvision's ImageNet MobileNetV2"),
    EncoderName(
        "i3d:kinetics400",
        ("video",),
        "DeepMind's Kinetics-400 I3D (extracting: 16 frames of 224x224)",
        end_to_end=True,
        pretrained=True,
    ),
    EncoderName("aisfx", ("audio",), "aiSFX's sound-effects CNN"),
    EncoderName(
        "keras_hub:<preset or directory>", ("text",), "a BERT-family keras-hub preset or directory"
    ),
    EncoderName(
        "keras_applications:<Name>[:<w>]",
        ("image",),
        "VGG16, MobileNetV2, ResNet50, ... with weights <w> (imagenet, a file, none)",
    ),
    EncoderName(
        "tfhub:<handle or directory>",
        MODALITIES,
        "any TF Hub model or SavedModel (raw text, [0, 1] images, 16 kHz waveforms)",
    ),
    EncoderName(
        "vgg16", ("image",), "keras.applications' VGG16, trained with the model", False, True
    ),
    EncoderName(
        "lstm", ("audio",), "an LSTM over log-mel frames, trained with the model", False, True
    ),
    EncoderName("i3d", ("video",), "I3D from random weights, trained with the model", False, True),
)


def end_to_end_names(modality: str) -> tuple[str, ...]:
    """The names an `end_to_end` configuration may give `modality`'s encoder."""
    return tuple(e.name for e in ENCODERS if e.end_to_end and modality in e.modalities)


def extraction_names() -> list[str]:
    """The names `extract-features --encoder` takes (before any argument)."""
    return [e.name for e in ENCODERS if e.extracts]


def extraction_entry(spec: str) -> EncoderName | None:
    """The entry `extract-features --encoder SPEC` names, or None."""
    for entry in ENCODERS:
        takes_argument = entry.spec != entry.name
        if entry.extracts and (
            spec == entry.name or (takes_argument and spec.startswith(entry.name + ":"))
        ):
            return entry
    return None


def _help(entries) -> str:
    lines = []
    for entry in entries:
        kinds = "any modality" if entry.modalities == MODALITIES else ", ".join(entry.modalities)
        lines.append(f"{entry.spec:<34}{entry.summary} ({kinds})")
    return "\n".join(lines)


# `extract-features --help`'s list of encoders.
SPEC_HELP = _help(e for e in ENCODERS if e.extracts)
# The `end_to_end` encoders, for the README and errors.
END_TO_END_HELP = _help(e for e in ENCODERS if e.end_to_end)
