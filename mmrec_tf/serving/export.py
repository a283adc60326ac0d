"""A trained recommender as a SavedModel: `recommend`, `score`, string ids, seen items inside."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from mmrec_tf.data.dataset import MultimodalDataset
from mmrec_tf.data.histories import Sequences
from mmrec_tf.serving.catalogue_search import default_search
from mmrec_tf.serving.explanations import ItemParts
from mmrec_tf.serving.serving_tables import HistoryServingTables, ServingTables


def export_recommender(
    model,
    dataset: MultimodalDataset,
    path: str | os.PathLike,
    *,
    seen_splits: Sequence[str] = ("train",),
    content_encoders: dict | None = None,
    content_options: dict | None = None,
    quantize: str | None = None,
    index: str | None = None,
    partitions: int | None = None,
    probe: int | None = None,
    titles: bool = True,
    content_dtype: str = "float32",
) -> Path:
    """Writes `model` (a trained `Recommender`) as a SavedModel at `path`.

    Signatures (`serving_default` is `recommend`):

    * `recommend(user_id: string [B], k: int32 scalar)` → `item_id` string
      [B, k'], `score` float32 [B, k'] and `known_user` bool [B]: the best
      items over the whole catalogue, never one the user interacted with in
      `seen_splits`; k' = min(k, the fewest items a user of the batch has not
      seen), so one user asking for more than they have left gets exactly
      what is left, and k ≤ 0 gives k' = 0: empty results ([B, 0]). A user
      the model has nothing of (`known_user` False): an id the dataset does
      not have, or a user with no training interaction
      (no history in `seen_splits`, for a model that reads histories), gets
      the most popular items of the training split, `score` being their
      share of training users (less any item a user of the dataset has seen).
    * `score(user_id: string [B], item_id: string [B])` → `score` float32
      [B]: the model's score; NaN where the user (as for `recommend`) or the
      item is unknown.
    * `title(item_id: string [B])` → `title` string [B]: the item's `title` metadata
      column (the item id when the dataset has none, or with `titles=False`, which
      keeps the titles out of the SavedModel); "" for an unknown id.
    * `embed_users(user_id: string [B])` → `user_vector` float32 [B, d]: user vectors
      (zeros for an unknown user).
    * `explain(user_id: string [B], item_id: string [B])` → `past_item_id` string
      [B, P], `past_share` float32 [B, P], `modality_share` float32 [B, M],
      `modality_present` bool [B, M], `modalities` string [M], `content_share`
      float32 [B], `score` float32 [B]:
      why the model scores the item for the user (`mmrec_tf.serving.explanations`
      says what each share means; docs/explanations.md).

    `quantize` (`"float16"` or `"int8"`, see `VectorTable`) stores the user
    and item vectors in 16 or 8 bits (int8 with one scale per row), read back
    as float32 inside the signatures, which stay the same.

    `index` (a key of `catalogue_search.SEARCHES`; by default `"exact"` below
    `PARTITIONED_FROM` = 100,000 items, `"partitioned"` from there) is how
    `recommend` and `recommend_from_history` search the catalogue: `"exact"`
    scores every item; `"partitioned"` groups the items into `partitions`
    k-means partitions of their vectors (4 √n by default) and scores exactly
    the items of the `probe` partitions whose centroids score highest for the
    query (1% of them, at least 16, by default), serving exactly, alone, a query
    whose probed partitions hold fewer than k unseen items. With it, both
    signatures take an optional third input, `probe` (int32 scalar), from
    Python (`served.recommend(user_id, k, probe)`), and `recommend_probing` /
    `recommend_from_history_probing` are the named signatures with it.

    For a model that reads histories (`HistoryRecommender`), a known user's
    vector encodes their latest interactions in `seen_splits`, and:

    * `recommend_from_history(item_ids: string [B, L], k: int32 scalar)` →
      `item_id` [B, k'], `score` [B, k'], `empty_history` bool [B],
      `ignored_items` int32 [B]: recommendations from a history alone (oldest
      first; "" pads), for a user the model never saw or whose latest actions
      are newer than it. Ids the model does not know are ignored and counted in
      `ignored_items`; the latest `history_length` known items are read; the
      history's items are never recommended (k' as for `recommend`); a history
      with no known item gets the most popular items.
    * `explain_from_history(item_ids: string [B, L], item_id: string [B])` →
      `past_share` [B, L] (aligned with the history's positions; 0 for padding,
      unknown ids and items older than the window), `modality_share`,
      `modality_present`, `modalities`, `content_share` and `score` as `explain`'s.

    For a `MultimodalRecommender` given `content_encoders` (the encoders its
    features were extracted with; an end-to-end model's own by default) and
    `content_options` (their decoding options), a second SavedModel,
    `path/embed_items/`, holds the content tower:

    * `embed_items(<modality>: string ...)` (its `serving_default`) →
      `item_vector` float32 [B, d]: an item's vector from its raw content
      alone (see `mmrec_tf.serving.content.raw_content_signature`), so that
      a new item can be scored (`embed_users(u) · embed_items(x)`) before
      anyone has interacted with it.

    `content_dtype="float16"` stores the content tower's encoders in float16
    (`mmrec_tf.serving.content.in_dtype`; they compute in it too), about half
    their size; `item_vector` stays float32.

    It is separate because its encoders may need ops outside core TensorFlow
    (keras-hub's WordPiece tokenizer runs tensorflow-text ops, which a
    process must `import tensorflow_text` to load): `path` itself loads in
    any TensorFlow runtime, whatever the encoders. Ids, user and item
    vectors and the seen-items table live in the SavedModel: serving reads
    nothing else, and needs no mmrec_tf. `path` must not exist or be empty;
    everything is written beside it and renamed into place.
    """
    tables = serving_tables(
        model,
        dataset,
        seen_splits=seen_splits,
        quantize=quantize,
        search=index or default_search(dataset.num_items),
        partitions=partitions,
        probe=probe,
        titles=titles,
    )
    content = None
    encoders = content_encoders or model.content_encoders()
    if encoders:
        from mmrec_tf.serving.content import ContentEmbedding, in_dtype

        encoders = {m: in_dtype(encoder, content_dtype) for m, encoder in encoders.items()}
        content = ContentEmbedding(model, encoders, content_options)
    elif content_dtype != "float32":
        raise ValueError(f"content_dtype={content_dtype!r}: the model has no content tower")
    return write_saved_model(tables, path, content)


def serving_tables(
    model,
    dataset: MultimodalDataset,
    *,
    seen_splits: Sequence[str] = ("train",),
    quantize: str | None = None,
    search: str = "exact",
    partitions: int | None = None,
    probe: int | None = None,
    titles: bool = True,
) -> ServingTables:
    """What the SavedModel of `model` serves from (`export_recommender`'s arguments),
    in memory: `mmrec_tf.serving.Explainer` explains with the same tables."""
    import keras

    users, items = model.inference_vectors()
    users, items = keras.ops.convert_to_numpy(users), keras.ops.convert_to_numpy(items)
    if users.shape[0] != dataset.num_users or items.shape[0] != dataset.num_items:
        raise ValueError(
            f"the model has {users.shape[0]} users and {items.shape[0]} items, the dataset "
            f"{dataset.num_users} and {dataset.num_items}: export with the dataset it was "
            "trained on"
        )
    seen_users, seen_items = dataset.interaction_pairs(list(seen_splits))
    row_splits = np.searchsorted(seen_users, np.arange(dataset.num_users + 1)).astype(np.int64)
    # A user is known when the model has something of theirs: a row trained on their
    # training interactions, or a history in the seen splits (a model that reads them).
    users, known_users = model.serving_users(dataset, seen_splits, users, items)
    history = model.history_reader()
    reading = ()
    if history is not None:
        encoder, length = history
        latest = Sequences.from_dataset(dataset, list(seen_splits)).latest(length + 1)
        reading = (encoder, length, latest)
    tables_class = ServingTables if history is None else HistoryServingTables
    return tables_class(
        *reading,
        dataset.user_ids,
        dataset.item_ids,
        users.astype(np.float32),
        items.astype(np.float32),
        (row_splits, seen_items),
        dataset.item_popularity().astype(np.float32),
        dataset.metadata.get("title") if titles else None,
        quantize=quantize,
        known_users=known_users,
        search=search,
        partitions=partitions,
        probe=probe,
        item_parts=ItemParts.of(model, quantize),
        temperature=model.temperature,
    )


CONTENT_TOWER = "embed_items"
# How `recommend` searches (`ExactSearch.describe`), beside the signatures: SavedModel
# readers ignore `assets.extra`.
SEARCH_FILE = Path("assets.extra") / "search.json"


def read_search_options(path: str | os.PathLike) -> dict:
    """The search a SavedModel written by `export_recommender` was given."""
    return json.loads((Path(path) / SEARCH_FILE).read_text())


def write_saved_model(tables: ServingTables, path: str | os.PathLike, content=None) -> Path:
    """Writes the signatures of `tables` at `path` and those of `content` (a
    `ContentEmbedding`) at `path/embed_items`, through Keras' `ExportArchive`;
    `path` must be new or empty."""
    import keras

    from mmrec_tf.data.writing import new_output_dir

    archive = keras.export.ExportArchive()
    archive.track(tables)
    endpoints = {
        "recommend": [
            tf.TensorSpec([None], tf.string, name="user_id"),
            tf.TensorSpec([], tf.int32, name="k"),
        ],
        "score": [
            tf.TensorSpec([None], tf.string, name="user_id"),
            tf.TensorSpec([None], tf.string, name="item_id"),
        ],
        "title": [tf.TensorSpec([None], tf.string, name="item_id")],
        "embed_users": [tf.TensorSpec([None], tf.string, name="user_id")],
        "explain": [
            tf.TensorSpec([None], tf.string, name="user_id"),
            tf.TensorSpec([None], tf.string, name="item_id"),
        ],
    }
    if isinstance(tables, HistoryServingTables):
        archive.track(tables.history_encoder)
        endpoints["recommend_from_history"] = [
            tf.TensorSpec([None, None], tf.string, name="item_ids"),
            tf.TensorSpec([], tf.int32, name="k"),
        ]
        endpoints["explain_from_history"] = [
            tf.TensorSpec([None, None], tf.string, name="item_ids"),
            tf.TensorSpec([None], tf.string, name="item_id"),
        ]
    # A search that probes takes `probe` too: an optional input from Python (a second
    # trace of the same function) and a named signature of its own.
    probing = {"recommend", "recommend_from_history"} if tables.search.probes() else set()
    for name, signature in endpoints.items():
        if name not in probing:
            archive.add_endpoint(name, getattr(tables, name), input_signature=signature)
            continue
        with_probe = [*signature, tf.TensorSpec([], tf.int32, name="probe")]
        function = tf.function(getattr(tables, name))
        function.get_concrete_function(*signature)
        function.get_concrete_function(*with_probe)
        archive.add_endpoint(name, function)
        archive.add_endpoint(f"{name}_probing", getattr(tables, name), with_probe)
    with new_output_dir(path) as staging:
        archive.write_out(str(staging), verbose=False)
        (staging / SEARCH_FILE).parent.mkdir(exist_ok=True)
        (staging / SEARCH_FILE).write_text(json.dumps(tables.search.describe()))
        if content is not None:
            from mmrec_tf.serving.content import raw_content_signature

            tower = keras.export.ExportArchive()
            tower.track(content)
            tower.add_endpoint(
                "embed_items",
                lambda inputs: {"item_vector": content.embed(inputs)},
                input_signature=[raw_content_signature(content.encoders)],
            )
            tower.write_out(str(staging / CONTENT_TOWER), verbose=False)
    return Path(path)
