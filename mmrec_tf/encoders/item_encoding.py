"""Encoding a range of a dataset's items chunk by chunk, each chunk saved whole: the loop
that a whole extraction, a shard and an append (`extract-features --append`) share."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import numpy as np

from mmrec_tf.data import ItemLoader, MultimodalDataset
from mmrec_tf.data.feature_cache import PartialFeatures

if TYPE_CHECKING:
    from mmrec_tf.encoders.extract import FeatureExtractor


def encode_items(
    extractor: FeatureExtractor,
    dataset: MultimodalDataset,
    items: range,
    partial: PartialFeatures,
    *,
    batch_size: int,
    chunk_size: int,
    on_error: str,
    progress: bool,
) -> tuple[np.ndarray, dict]:
    """Encodes the items at `items` (positions in the dataset's item order) with
    `extractor`, `batch_size` at a time, saving each `chunk_size` of them to `partial`
    as soon as they are done; chunks that `partial` holds already (from an interrupted
    run) are not encoded again.

    Returns:
        (float32 [len(items), d]: the items' rows, zeros where an item lacks the
        modality or its file failed under `on_error="mask"`; what the feature
        cache's JSON lists of these items: `item_ids`, `missing_item_ids`,
        `failed_item_ids`).

    Raises:
        MediaError: a bad file under `on_error="raise"`; the chunks finished before
            its chunk stay in `partial`.

    Example:
    >>> import pathlib, tempfile
    >>> from mmrec_tf.data import generate_demo_dataset, load_dataset
    >>> from mmrec_tf.encoders.extract import build_extractor
    >>> demo = generate_demo_dataset(tempfile.mkdtemp() + "/demo", num_items=30, num_users=3)
    >>> dataset = load_dataset(demo)
    >>> partial = PartialFeatures(pathlib.Path(tempfile.mkdtemp()))
    >>> rows, listed = encode_items(build_extractor("builtin", "text"), dataset, range(4, 10),
    ...     partial, batch_size=4, chunk_size=4, on_error="raise", progress=False)
    >>> rows.shape, listed["item_ids"] == dataset.item_ids[4:10]
    ((6, 64), True)
    >>> sorted(path.name for path in partial.folder.iterdir())
    ['chunk_00000.npy', 'chunk_00001.npy']
    """
    loader = ItemLoader(dataset, [extractor.modality], on_error=on_error, **extractor.options)
    chunks = range(items.start, items.stop, chunk_size)
    bar = keras.utils.Progbar(len(items), unit_name="item", verbose=1 if progress else 0)
    for number, start in enumerate(chunks):
        chunk = np.arange(start, min(start + chunk_size, items.stop))
        if not partial.has_chunk(number):
            with loader.deferred_errors():
                rows = [
                    np.asarray(extractor.encoder(extractor.inputs(batch), training=False))
                    for batch in loader.as_dataset(chunk, batch_size=batch_size)
                ]
            partial.save_chunk(number, np.concatenate(rows))
        bar.add(len(chunk))
    features = partial.assemble(len(chunks))
    item_ids = dataset.item_ids[items.start : items.stop]
    present = dataset.modality_available(extractor.modality)[items.start : items.stop]
    failed = sorted(e.item_id for e in loader.errors)
    features[~present] = 0
    features[[dataset.item_index[item_id] - items.start for item_id in failed]] = 0
    return features, {
        "item_ids": item_ids,
        "missing_item_ids": [item_ids[i] for i in np.flatnonzero(~present)],
        "failed_item_ids": failed,
    }
