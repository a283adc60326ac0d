"""Turning item text into token ids."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import tensorflow as tf

# Ids of the built-in tokenizer's special tokens, laid out as in BERT vocabularies.
PAD_ID, UNKNOWN_ID, START_ID, END_ID = 0, 1, 2, 3
_NUM_SPECIAL_IDS = 4


@dataclasses.dataclass(frozen=True)
class TextOptions:
    """How text is tokenised.

    Args:
        sequence_length: int. Token ids per item, `[CLS]` and `[SEP]`
            included; longer texts are cut, shorter ones padded. Defaults to 64.
        vocabulary: path of a BERT WordPiece `vocab.txt`, or None. With a
            vocabulary, keras-hub's `BertTokenizer` is used (as the matching
            BERT encoder expects); without, the built-in tokenizer. Defaults to None.
        lowercase: bool. Lower-case before tokenising (uncased models). Defaults to True.
        strip_accents: bool or None. Remove accents (WordPiece only); None
            follows `lowercase`, as BERT's uncased vocabularies expect.
            Defaults to None.
        hash_buckets: int. Vocabulary size of the built-in tokenizer. Defaults to 30522.
        output: `"token_ids"`, or `"string"` for the raw text (for encoders
            that tokenise themselves, such as TF Hub text models). Defaults to
            `"token_ids"`.
    """

    sequence_length: int = 64
    vocabulary: str | None = None
    lowercase: bool = True
    strip_accents: bool | None = None
    hash_buckets: int = 30522
    output: str = "token_ids"

    def __post_init__(self):
        if self.sequence_length < 3:
            raise ValueError(
                "sequence_length must be at least 3 ([CLS], a token, [SEP]). "
                f"Received: sequence_length={self.sequence_length}"
            )
        if self.hash_buckets <= _NUM_SPECIAL_IDS:
            raise ValueError(
                f"hash_buckets must exceed {_NUM_SPECIAL_IDS}. "
                f"Received: hash_buckets={self.hash_buckets}"
            )
        if self.output not in ("token_ids", "string"):
            raise ValueError(f"output must be 'token_ids' or 'string'. Received: {self.output!r}")
        if self.vocabulary is not None and not Path(self.vocabulary).is_file():
            raise FileNotFoundError(f"vocabulary file {self.vocabulary!r} does not exist")


class TextTokenizer:
    """Maps strings to fixed-length token ids and a padding mask.

    With `options.vocabulary`, text goes through keras-hub's `BertTokenizer`
    (WordPiece, the vocabulary's `[CLS]`, `[SEP]` and `[PAD]`). Without one, a
    built-in tokenizer needs no file: words (runs of Unicode letters and
    digits) are hashed into `hash_buckets - 4` ids after the four special
    ones ([PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3). Its ids are stable across runs
    and machines. Both work inside `tf.data` and in graph mode.

    Example:
    >>> tokenizer = TextTokenizer(TextOptions(sequence_length=6))
    >>> out = tokenizer(tf.constant(["A red bicycle", "Red"]))
    >>> out["token_ids"].shape, out["padding_mask"].numpy().sum(axis=1).tolist()
    (TensorShape([2, 6]), [5, 3])
    """

    def __init__(self, options: TextOptions | None = None):
        import keras_hub  # Imported here: it is slow to import and text needs it alone.

        self.options = options or TextOptions()
        if self.options.vocabulary is not None:
            strip_accents = self.options.strip_accents
            self._wordpiece = keras_hub.tokenizers.BertTokenizer(
                vocabulary=self.options.vocabulary,
                lowercase=self.options.lowercase,
                strip_accents=self.options.lowercase if strip_accents is None else strip_accents,
            )
            start, end, pad = (self._wordpiece.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]"))
        else:
            self._wordpiece = None
            start, end, pad = START_ID, END_ID, PAD_ID
        self._packer = keras_hub.layers.StartEndPacker(
            sequence_length=self.options.sequence_length,
            start_value=start,
            end_value=end,
            pad_value=pad,
            return_padding_mask=True,
        )

    @property
    def vocabulary_size(self) -> int:
        if self._wordpiece is not None:
            return self._wordpiece.vocabulary_size()
        return self.options.hash_buckets

    def __call__(self, texts) -> dict[str, tf.Tensor]:
        """Tokenises a string or a [batch] of strings.

        Returns:
            `token_ids` int32 and `padding_mask` bool, each [sequence_length]
            or [batch, sequence_length].
        """
        texts = tf.convert_to_tensor(texts, dtype=tf.string)
        scalar = texts.shape.rank == 0
        batch = tf.reshape(texts, [-1])
        pieces = self._wordpiece(batch) if self._wordpiece is not None else self._hash(batch)
        token_ids, padding_mask = self._packer(pieces)
        token_ids = tf.cast(token_ids, tf.int32)
        padding_mask = tf.cast(padding_mask, tf.bool)
        if scalar:
            token_ids, padding_mask = token_ids[0], padding_mask[0]
        return {"token_ids": token_ids, "padding_mask": padding_mask}

    def _hash(self, texts: tf.Tensor) -> tf.RaggedTensor:
        if self.options.lowercase:
            texts = tf.strings.lower(texts, encoding="utf-8")
        words = tf.strings.split(tf.strings.regex_replace(texts, r"[^\pL\pN]+", " "))
        buckets = tf.strings.to_hash_bucket_fast(
            words, self.options.hash_buckets - _NUM_SPECIAL_IDS
        )
        return tf.cast(buckets, tf.int32) + _NUM_SPECIAL_IDS
