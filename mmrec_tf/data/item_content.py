"""Every item's decoded content in memory, for training with the encoders in the model."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mmrec_tf.data.dataset import MODALITIES
from mmrec_tf.data.loaders import ItemLoader


class ItemContent:
    """The decoded content of every item of a catalogue, held in memory.

    End-to-end training encodes the content of each batch's items at every
    step, so decoding files then would dominate: `from_loader` decodes every
    item once (an `ItemLoader` pass) and keeps the arrays. Memory is the
    decoded size (a 64×64 RGB image is 48 KB as float32): choose the loader's
    sizes to fit, or train on extracted features (cached mode) for large
    catalogues.

    `arrays` holds what `ItemLoader` yields, item-major: e.g. `image`
    [num_items, height, width, 3], `image_mask` [num_items],
    `text_token_ids`, `text_padding_mask`.

    Example:
    ```python
    content = ItemContent.from_loader(ItemLoader(dataset, ["text", "image"]))
    triples = content.attach(bpr_triples(dataset, 256, seed=0))
    ```
    """

    def __init__(self, arrays: dict[str, np.ndarray]):
        if not arrays:
            raise ValueError("ItemContent needs at least one array")
        sizes = {name: len(array) for name, array in arrays.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"arrays must all have one row per item. Received lengths: {sizes}")
        self.arrays = dict(arrays)
        self.num_items = next(iter(sizes.values()))
        self._tensors = None

    @classmethod
    def from_loader(cls, loader: ItemLoader, batch_size: int = 64) -> ItemContent:
        """Decodes every item of `loader`'s dataset once, in item order."""
        parts: dict[str, list[np.ndarray]] = {}
        with loader.deferred_errors():
            for batch in loader.as_dataset(batch_size=batch_size).as_numpy_iterator():
                for name, value in batch.items():
                    if name != "item_index":
                        parts.setdefault(name, []).append(value)
        return cls({name: np.concatenate(values) for name, values in parts.items()})

    @property
    def modalities(self) -> list[str]:
        # `text_padding_mask` is the text's token mask, not a modality's presence flags.
        return sorted(m for m in MODALITIES if f"{m}_mask" in self.arrays)

    def present(self) -> dict[str, np.ndarray]:
        """{modality: bool [num_items]}: which items have each modality (and decoded)."""
        return {m: self.arrays[f"{m}_mask"].astype(bool) for m in self.modalities}

    def gather(self, item_indices) -> dict[str, tf.Tensor]:
        """The content of `item_indices` (a tensor), with `item_index` added."""
        if self._tensors is None:
            with tf.init_scope():  # eager tensors, shared by every function that gathers
                self._tensors = {name: tf.constant(a) for name, a in self.arrays.items()}
        item_indices = tf.cast(item_indices, tf.int32)
        gathered = {name: tf.gather(t, item_indices) for name, t in self._tensors.items()}
        return {"item_index": item_indices, **gathered}

    def batches(self, batch_size: int = 256) -> tf.data.Dataset:
        """Every item's content in item order, batched (with `item_index`)."""
        return (
            tf.data.Dataset.range(self.num_items)
            .batch(batch_size)
            .map(self.gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE)
        )

    def attach(self, triples: tf.data.Dataset) -> tf.data.Dataset:
        """Adds `content`, the positive then the negative items' content, to BPR triples."""

        def add(batch):
            items = tf.concat([batch["positive_item"], batch["negative_item"]], axis=0)
            return {**batch, "content": self.gather(items)}

        return triples.map(add, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
