"""`tf.data` pipelines over a dataset's items and interactions."""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from mmrec_tf.data.audio import AudioOptions, decode_audio
from mmrec_tf.data.dataset import MEDIA_MODALITIES, MODALITIES, MultimodalDataset
from mmrec_tf.data.errors import MediaError
from mmrec_tf.data.image import ImageOptions, decode_image
from mmrec_tf.data.paths import UnsafePathError
from mmrec_tf.data.text import TextOptions, TextTokenizer
from mmrec_tf.data.video import VideoOptions, decode_frame_folder, decode_video_file

ON_ERROR_POLICIES = ("raise", "mask")
_TOKENIZE_CHUNK = 4096


class ItemLoader:
    """Decodes the content of a dataset's items as a `tf.data.Dataset`.

    Each element is a dict with `item_index` (int32) and, per modality asked for:

    * text: `text_token_ids` [sequence_length] int32 and `text_padding_mask` bool
      (or `text`, the string itself, with `TextOptions(output="string")`);
    * image: `image` [height, width, 3] float32;
    * audio: `audio` [num_frames, num_mel_bins] float32, a log-mel spectrogram
      (or [num_samples], the waveform, with `AudioOptions(output="waveform")`);
    * video: `video` [num_frames, height, width, 3] float32;

    and `<modality>_mask`, a bool that is False when the item lacks the
    modality, whose tensors are then zeros.

    A media file that is missing or cannot be decoded raises a `MediaError`
    naming the file and the item (`on_error="raise"`, the default; inside a
    `tf.data` iteration it arrives as a `tf.errors.OpError` whose message
    says the same). With `on_error="mask"` the item's modality is masked
    instead, as if missing, and the error is kept in `errors`.

    Args:
        dataset: `MultimodalDataset`. The items.
        modalities: the modalities to decode. Defaults to those that at least
            one item has.
        text, image, audio, video: options of each modality's decoding.
        on_error: `"raise"` or `"mask"`. Defaults to `"raise"`.

    Example:
    ```python
    dataset = mmrec_tf.data.load_dataset("demo")
    loader = ItemLoader(dataset, modalities=["text", "image"])
    for batch in loader.as_dataset(batch_size=32):
        batch["image"].shape  # [32, 224, 224, 3]
    ```
    """

    def __init__(
        self,
        dataset: MultimodalDataset,
        modalities: Sequence[str] | None = None,
        *,
        text: TextOptions | None = None,
        image: ImageOptions | None = None,
        audio: AudioOptions | None = None,
        video: VideoOptions | None = None,
        on_error: str = "raise",
    ):
        if on_error not in ON_ERROR_POLICIES:
            raise ValueError(
                f"on_error must be one of {ON_ERROR_POLICIES}. Received: on_error={on_error!r}"
            )
        if modalities is None:
            counts = dataset.modality_counts()
            modalities = [m for m in MODALITIES if counts[m]]
        unknown = sorted(set(modalities) - set(MODALITIES))
        if unknown:
            raise ValueError(f"unknown modalities {unknown}; choose from {MODALITIES}")
        self.dataset = dataset
        self.modalities = tuple(m for m in MODALITIES if m in modalities)
        self.text_options = text or TextOptions()
        self.image_options = image or ImageOptions()
        self.audio_options = audio or AudioOptions()
        self.video_options = video or VideoOptions()
        self.on_error = on_error
        self._errors: dict[tuple[int, str], MediaError] = {}
        self._errors_lock = threading.Lock()
        self._deferred: dict[tuple[int, str], MediaError] | None = None
        if "text" in self.modalities:
            self._tokenizer = TextTokenizer(self.text_options)
            # Kept as NumPy: a tf.constant made here would belong to the first
            # tf.data graph that captured it.
            self._texts = np.array([t or "" for t in dataset.text], dtype=object)
            self._has_text = dataset.modality_available("text")
        self._decode_bytes = {
            "image": _bytes_decoder(decode_image, self.image_options),
            "audio": _bytes_decoder(decode_audio, self.audio_options),
        }

    @contextlib.contextmanager
    def deferred_errors(self):
        """Iterate `as_dataset` inside this block to get a bad file's `MediaError` as a
        Python exception when the block ends, instead of a `tf.errors.OpError` in the
        middle of the iteration (which can leave the pipeline's threads hung when the
        process exits). Under `on_error="raise"` the first bad file (in item order)
        is raised at the end of the block; under `"mask"` nothing changes.

        ```python
        with loader.deferred_errors():
            for batch in loader.as_dataset(batch_size=32):
                ...  # items with bad files come masked here
        ```
        """
        self._deferred = {}
        try:
            yield
        finally:
            deferred, self._deferred = self._deferred, None
        if deferred:
            raise deferred[min(deferred)]

    @property
    def errors(self) -> list[MediaError]:
        """Media errors met so far under `on_error="mask"`, in item order."""
        with self._errors_lock:
            return [self._errors[key] for key in sorted(self._errors)]

    def output_shape(self, modality: str) -> tuple[int, ...]:
        """Shape of one item's tensor for a media modality."""
        if modality == "image":
            return (*self.image_options.size, 3)
        if modality == "audio":
            if self.audio_options.output == "waveform":
                return (self.audio_options.num_samples,)
            return (self.audio_options.num_frames, self.audio_options.num_mel_bins)
        if modality == "video":
            return (self.video_options.num_frames, *self.video_options.size, 3)
        raise ValueError(f"modality must be one of {MEDIA_MODALITIES}. Received: {modality!r}")

    def load(self, modality: str, item: int) -> tuple[np.ndarray, bool]:
        """Decodes one item's media file eagerly: (array, present).

        A missing modality gives zeros and False. A bad file raises
        `MediaError`, or with `on_error="mask"` gives zeros and False and is
        recorded in `errors`.
        """
        zeros = np.zeros(self.output_shape(modality), np.float32)
        relative = self.dataset.media[modality][item]
        if relative is None:
            return zeros, False
        try:
            return self._decode_file(modality, item).astype(np.float32, copy=False), True
        except MediaError as error:
            if self.on_error == "raise" and self._deferred is None:
                raise
            with self._errors_lock:
                errors = self._errors if self.on_error == "mask" else self._deferred
                errors[(item, modality)] = error
            return zeros, False

    def as_dataset(
        self,
        items: Sequence[int] | np.ndarray | None = None,
        *,
        batch_size: int | None = None,
        shuffle: bool = False,
        seed: int | None = None,
        cache: bool | str = False,
        drop_remainder: bool = False,
        num_parallel_calls: int = tf.data.AUTOTUNE,
    ) -> tf.data.Dataset:
        """The items' content as a `tf.data.Dataset`.

        Args:
            items: item indices to load, in this order. Defaults to all items.
            batch_size: batch the elements when given. Defaults to None.
            shuffle: shuffle the items, anew each epoch. Defaults to False.
            seed: makes the shuffle order reproducible. Defaults to None.
            cache: keep decoded items in memory (True) or in files with this
                path prefix (a string), so later epochs skip decoding.
                Defaults to False.
            drop_remainder: drop a last, smaller batch. Defaults to False.
            num_parallel_calls: decoding parallelism. Defaults to AUTOTUNE.

        Elements come in a deterministic order (the order of `items`, or the
        seeded shuffle).
        """
        indices = np.arange(self.dataset.num_items) if items is None else np.asarray(items)
        if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
            raise ValueError("items must be a 1-D sequence of item indices")
        if indices.size and (indices.min() < 0 or indices.max() >= self.dataset.num_items):
            bad = indices[(indices < 0) | (indices >= self.dataset.num_items)][0]
            raise ValueError(f"item index {bad} is out of range for {self.dataset.num_items} items")
        columns = {"item_index": indices.astype(np.int32)}
        if "text" in self.modalities:
            columns.update(self._text_columns(indices))
        ds = tf.data.Dataset.from_tensor_slices(columns)
        if shuffle and not cache:
            ds = ds.shuffle(max(len(indices), 1), seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(self._load_element, num_parallel_calls=num_parallel_calls, deterministic=True)
        if cache:
            ds = ds.cache("" if cache is True else cache)
            if shuffle:
                ds = ds.shuffle(max(len(indices), 1), seed=seed, reshuffle_each_iteration=True)
        if batch_size:
            ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        return ds.prefetch(tf.data.AUTOTUNE)

    def _load_element(self, element: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        element = dict(element)
        index = element["item_index"]
        for modality in MEDIA_MODALITIES:
            if modality not in self.modalities:
                continue
            value, present = tf.py_function(
                lambda i, m=modality: self.load(m, int(i)), [index], [tf.float32, tf.bool]
            )
            element[modality] = tf.ensure_shape(value, self.output_shape(modality))
            element[f"{modality}_mask"] = tf.ensure_shape(present, [])
        return element

    def _text_columns(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """Token ids of the items' texts, tokenised in batches (much faster than one by one)."""
        present = self._has_text[indices]
        if self.text_options.output == "string":
            return {"text": self._texts[indices].astype(str), "text_mask": present}
        token_ids = np.zeros((len(indices), self.text_options.sequence_length), np.int32)
        padding_mask = np.zeros(token_ids.shape, bool)
        for start in range(0, len(indices), _TOKENIZE_CHUNK):
            chunk = slice(start, start + _TOKENIZE_CHUNK)
            tokens = self._tokenizer(self._texts[indices[chunk]].tolist() or [""])
            token_ids[chunk] = tokens["token_ids"].numpy()[: len(indices[chunk])]
            padding_mask[chunk] = tokens["padding_mask"].numpy()[: len(indices[chunk])]
        token_ids[~present] = 0
        padding_mask[~present] = False
        return {
            "text_token_ids": token_ids,
            "text_padding_mask": padding_mask,
            "text_mask": present,
        }

    def _decode_file(self, modality: str, item: int) -> np.ndarray:
        """Decodes an item's file, turning every failure into a MediaError."""
        relative = self.dataset.media[modality][item]
        item_id = self.dataset.item_ids[item]
        try:
            path = self.dataset.media_path(modality, item)
            if modality == "video":
                if path.is_dir():
                    return decode_frame_folder(path, self.video_options)
                if not path.exists():
                    raise FileNotFoundError(path)
                return decode_video_file(path, self.video_options)
            return self._decode_bytes[modality](tf.constant(path.read_bytes())).numpy()
        except FileNotFoundError:
            reason = "file not found"
        except IsADirectoryError:
            reason = "is a directory, expected a file"
        except UnsafePathError as e:
            reason = str(e)
        except tf.errors.OpError as e:
            reason = _clean_tf_message(e.message)
        except (OSError, ValueError) as e:
            reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise MediaError(relative, reason, modality=modality, item_id=item_id)


def interactions_dataset(
    dataset: MultimodalDataset,
    split: str | None = "train",
    *,
    batch_size: int | None = None,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """A split's interactions as `{"user_index", "item_index"[, "rating"]}` int32/float32.

    Args:
        dataset: `MultimodalDataset`.
        split: `"train"`, `"valid"`, `"test"`, or None for all interactions.
        batch_size: batch the elements when given.
        shuffle: shuffle anew each epoch. Defaults to False.
        seed: makes the shuffle reproducible.
    """
    users, items = dataset.interactions(split)
    if len(users) == 0:
        raise ValueError(f"the dataset has no interactions in split {split!r}")
    columns = {"user_index": users, "item_index": items}
    if dataset.ratings is not None:
        keep = slice(None) if split is None else dataset.splits == split
        columns["rating"] = dataset.ratings[keep]
    ds = tf.data.Dataset.from_tensor_slices(columns)
    if shuffle:
        ds = ds.shuffle(len(users), seed=seed, reshuffle_each_iteration=True)
    if batch_size:
        ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


@functools.lru_cache(maxsize=32)
def _bytes_decoder(decode, options):
    """A traced function decoding one file's bytes with fixed options (shared by loaders)."""
    return tf.function(
        lambda contents: decode(contents, options), input_signature=[tf.TensorSpec([], tf.string)]
    )


def _clean_tf_message(message: str) -> str:
    """TensorFlow's error text without its op and device decorations."""
    message = re.sub(r"\{\{[^}]*\}\}\s*", "", message)
    message = re.sub(r"\s*\[Op:\w+\].*$", "", message, flags=re.S)
    return message.strip().split("\n")[0] or "cannot be decoded"
