"""The feature cache: every item's features per modality, as frozen encoders extracted them.

The one module that reads and writes its files. `mmrec-tf extract-features`
writes it; training, export and serving read it. In a folder FEATS:

* `FEATS/<modality>.npy`: float32 [num_items, d], rows in the dataset's item
  order; an item without the modality (or whose file failed) has zeros.
* `FEATS/<modality>.json`: how it was made and for which items: `spec` (the
  encoder), `weights_sha256`, `item_ids` (the row order), `item_ids_sha256`,
  `options` (decoding), `dim`, `missing_item_ids`, `failed_item_ids`.
* `FEATS/.<modality>.partial/`: an extraction in progress, `manifest.json`
  and `chunk_NNNNN.npy` files, each written whole; removed when it finishes.
* `FEATS/<modality>.shards/IIIII-of-NNNNN.npy` and `.json`: shard I of N
  (`extract-features --shard I/N`, see `FeatureShard`), the same files for
  the shard's items, its JSON adding `shard_index`, `shard_count` and
  `num_items` (of the whole dataset; `item_ids_sha256` too is the whole
  dataset's). `merge_shards` joins all N into `FEATS/<modality>.npy` and
  `.json`. A shard in progress is in `FEATS/<modality>.shards/.IIIII-of-NNNNN.partial/`.

Items added at the end of a dataset's items.csv are encoded alone
(`extract-features --append`, in `FEATS/.<modality>.partial/` too) and their
rows appended to the files (`check_append`, then `append`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from mmrec_tf.data.writing import save_array_atomically, write_atomically

# What a JSON lists of its rows' items: shards and appended rows add to these lists.
_PER_ITEM_KEYS = ("item_ids", "missing_item_ids", "failed_item_ids")
# What one shard's JSON says of its own items; everything else in it must be
# the same in every shard of a modality (encoder, weights, dataset, N, ...).
_PER_SHARD_KEYS = ("shard_index", *_PER_ITEM_KEYS)
# What a shard's JSON has that the merged one does not.
_SHARD_KEYS = ("shard_index", "shard_count", "num_items")


def item_ids_sha256(item_ids: list[str]) -> str:
    """The checksum of an item order that the files record (`item_ids_sha256`)."""
    return hashlib.sha256("\n".join(item_ids).encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class FeatureShard:
    """Shard `index` of `count`: the slice of the items one machine extracts.

    Shard I of N holds a contiguous range of the dataset's item order (the
    rows of `<modality>.npy`): of n items, those from ⌊I·n/N⌋ to
    ⌊(I+1)·n/N⌋ − 1. So the shards, in order, are the whole item list, their
    sizes differ by at most one, and which items a shard holds depends on
    nothing but the item ids, I and N.

    Args:
        index: int. I, from 0 to `count` − 1.
        count: int. N, the number of shards.

    Example:
    >>> shard = FeatureShard.parse("1/3")
    >>> shard.items(10), shard.name
    (range(3, 6), '00001-of-00003')
    >>> [len(FeatureShard(i, 3).items(10)) for i in range(3)]
    [3, 3, 4]
    """

    index: int
    count: int

    def __post_init__(self):
        if not 0 <= self.index < self.count:
            raise ValueError(
                "a shard I/N needs 0 ≤ I < N: the first of N is 0/N, the last (N-1)/N. "
                f"Received: {self.index}/{self.count}"
            )

    @classmethod
    def parse(cls, text: str) -> FeatureShard:
        """The shard `"I/N"` names."""
        index, slash, count = text.partition("/")
        if not (slash and index.isdigit() and count.isdigit()):
            raise ValueError(f"a shard is I/N, e.g. 0/4 (the first of 4). Received: {text!r}")
        return cls(int(index), int(count))

    @property
    def name(self) -> str:
        """Its files' name: `IIIII-of-NNNNN`."""
        return f"{self.index:05d}-of-{self.count:05d}"

    def items(self, num_items: int) -> range:
        """The indices, in the dataset's item order, of the shard's items."""
        if self.count > num_items:
            raise ValueError(
                f"{self.count} shards for {num_items} items: use at most one shard per item"
            )
        return range(
            self.index * num_items // self.count, (self.index + 1) * num_items // self.count
        )


class FeatureCache:
    """A features folder (see the module docstring for its files).

    Example:
    >>> import tempfile, numpy as np
    >>> cache = FeatureCache(tempfile.mkdtemp())
    >>> path = cache.write("text", np.ones((2, 3), "float32"), {"item_ids": ["a", "b"],
    ...     "missing_item_ids": [], "failed_item_ids": ["b"]})
    >>> cache.modalities(), cache.present("text", ["a", "b"]).tolist()
    (['text'], [True, False])
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def features_path(self, modality: str, shard: FeatureShard | None = None) -> Path:
        if shard is not None:
            return self.shards_folder(modality) / f"{shard.name}.npy"
        return self.folder / f"{modality}.npy"

    def metadata_path(self, modality: str, shard: FeatureShard | None = None) -> Path:
        return self.features_path(modality, shard).with_suffix(".json")

    def shards_folder(self, modality: str) -> Path:
        # A folder, so that no shard's `.npy` is taken for a modality's.
        return self.folder / f"{modality}.shards"

    def has(self, modality: str) -> bool:
        return self.features_path(modality).is_file() and self.metadata_path(modality).is_file()

    def modalities(self) -> list[str]:
        """The modalities with features, sorted."""
        return sorted(p.stem for p in self.folder.glob("*.npy") if self.has(p.stem))

    def metadata(self, modality: str) -> dict:
        path = self.metadata_path(modality)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: run `mmrec-tf extract-features --modality {modality}` first"
            )
        return json.loads(path.read_text(encoding="utf-8"))

    def present(self, modality: str, item_ids) -> np.ndarray:
        """bool [len(item_ids)]: which items really have the modality's features."""
        metadata = self.metadata(modality)
        absent = set(metadata["missing_item_ids"]) | set(metadata.get("failed_item_ids", []))
        return np.array([item not in absent for item in item_ids])

    def load(self, dataset, modalities=None) -> tuple[dict, dict]:
        """({modality: [num_items, d]}, {modality: presence flags}) for `dataset`,
        checked against its item order; every modality in the folder by default
        (None), none for [] (a model of IDs alone)."""
        if not self.folder.is_dir():
            raise FileNotFoundError(f"{self.folder}: no such features directory")
        if modalities is not None and not modalities:
            return {}, {}
        names = modalities or self.modalities()
        if not names:
            raise FileNotFoundError(
                f"{self.folder} holds no features: run `mmrec-tf extract-features` first"
            )
        features, present = {}, {}
        for modality in names:
            rows = self._rows_of(modality, dataset)
            array = np.load(self.features_path(modality))
            features[modality] = array if rows is None else array[rows]
            present[modality] = self.present(modality, dataset.item_ids)
            if not present[modality].any():
                # Written by a version that extracted a modality no item has.
                raise ValueError(
                    f"{self.features_path(modality)} holds no item's {modality} (every item "
                    'is missing it): extract another modality or leave it out of "modalities"'
                )
        return features, present

    def _rows_of(self, modality: str, dataset) -> np.ndarray | None:
        """The feature rows of `dataset`'s items, in its order (None: already so);
        features of the same items in another order are mapped by id."""
        extracted = self.metadata(modality)["item_ids"]
        if extracted == dataset.item_ids:
            return None
        row = {item_id: i for i, item_id in enumerate(extracted)}
        missing = next((i for i in dataset.item_ids if i not in row), None)
        if missing is not None or len(extracted) != dataset.num_items:
            shown = f"has no item {missing!r} of" if missing else "holds items not in"
            raise ValueError(
                f"{self.metadata_path(modality)} {shown} {dataset.root}: it was extracted for "
                "other items (run `mmrec-tf extract-features` on this dataset)"
            )
        return np.array([row[item_id] for item_id in dataset.item_ids])

    def write(
        self,
        modality: str,
        features: np.ndarray,
        metadata: dict,
        shard: FeatureShard | None = None,
    ) -> Path:
        """Writes the modality's features and metadata (or one shard's), each atomically
        (the array first: a `.json` is only ever beside its finished array). Returns the
        `.npy` path."""
        path = self.features_path(modality, shard)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_array_atomically(path, np.asarray(features, np.float32))
        write_atomically(self.metadata_path(modality, shard), json.dumps(metadata, indent=1))
        return path

    def check_append(self, modality: str, item_ids: list[str], made_as: dict) -> int:
        """How many of `item_ids` (in order) the modality's features hold: their first
        ones, once checked that the features hold nothing else and were made as
        `made_as` says (e.g. `spec`, `weights_sha256`, `options`). `append` adds the rest.

        Raises:
            FileNotFoundError: no features to append to.
            ValueError: another encoder, or other items (naming the JSON file and
                the first row that differs).
        """
        path = self.metadata_path(modality)
        if not self.has(modality):
            raise FileNotFoundError(
                f"{self.features_path(modality)} not found: nothing to append to (run "
                "`mmrec-tf extract-features` without --append first)"
            )
        metadata = self.metadata(modality)
        for key, value in made_as.items():
            if metadata.get(key) != value:
                raise ValueError(
                    f"{path} was made with {key} {metadata.get(key)!r}, not {value!r}: "
                    "--append needs the encoder that made it (or --overwrite, without "
                    "--append, to encode every item again)"
                )
        held = metadata["item_ids"]
        common = min(len(held), len(item_ids))
        differs = next((i for i in range(common) if held[i] != item_ids[i]), common)
        if differs < len(held):
            found = repr(item_ids[differs]) if differs < len(item_ids) else "no item"
            raise ValueError(
                f"{path} has item {held[differs]!r} at row {differs}, where the dataset has "
                f"{found}: --append only adds items at the end of items.csv, the others kept "
                "in order (use --overwrite, without --append, to encode every item again)"
            )
        return len(held)

    def append(self, modality: str, rows: np.ndarray, items: dict) -> Path:
        """Appends the rows of new items to the modality's features, rewriting its
        `.npy` and `.json` as `write` does. `items` lists the new items as the JSON
        does (`item_ids`, and those of them in `missing_item_ids`, `failed_item_ids`);
        the JSON's lists grow by them and `item_ids_sha256` follows. Returns the
        `.npy` path.

        Example:
        >>> import tempfile, numpy as np
        >>> cache = FeatureCache(tempfile.mkdtemp())
        >>> _ = cache.write("text", np.ones((1, 2), "float32"), {"dim": 2, "item_ids": ["a"],
        ...     "missing_item_ids": [], "failed_item_ids": [], "item_ids_sha256": "..."})
        >>> _ = cache.append("text", np.zeros((1, 2), "float32"), {"item_ids": ["b"],
        ...     "missing_item_ids": ["b"], "failed_item_ids": []})
        >>> np.load(cache.features_path("text")).tolist(), cache.metadata("text")["item_ids"]
        ([[1.0, 1.0], [0.0, 0.0]], ['a', 'b'])
        """
        metadata = self.metadata(modality)
        held = np.load(self.features_path(modality), mmap_mode="r")
        count, dim = len(metadata["item_ids"]), metadata["dim"]
        # Rows past the JSON's items are those of an append stopped between writing
        # the array and its JSON: they are written again.
        if held.shape[0] < count or held.shape[1:] != (dim,) or rows.shape[1:] != (dim,):
            raise ValueError(
                f"{self.features_path(modality)} has shape {held.shape}, rows to append "
                f"{rows.shape}, but {self.metadata_path(modality).name} says {count} × {dim}"
            )
        for key in _PER_ITEM_KEYS:
            metadata[key] = metadata[key] + items[key]
        metadata["failed_item_ids"].sort()  # as an extraction of all the items lists them
        metadata["item_ids_sha256"] = item_ids_sha256(metadata["item_ids"])
        return self.write(modality, np.concatenate([held[:count], rows]), metadata)

    def merge_shards(self, modality: str, overwrite: bool = False) -> Path:
        """Joins the N shards of `modality` into `<modality>.npy` and `.json`, the files
        an unsharded extraction writes. Returns the `.npy` path.

        The shards must agree (encoder, weights checksum, options, dataset, N) and
        be shards 0 … N − 1, once each, whose items are disjoint and, in shard order,
        the dataset's. Nothing is written unless they are.

        Raises:
            FileNotFoundError: no shards, or some missing.
            FileExistsError: `<modality>.npy` exists and `overwrite` is False.
            ValueError: shards that disagree, or one shard twice (naming the files).
        """
        if self.features_path(modality).exists() and not overwrite:
            raise FileExistsError(
                f"{self.features_path(modality)} exists; pass --overwrite to replace it"
            )
        common, shards = self._agreeing_shards(modality)
        merged = {key: [] for key in _PER_ITEM_KEYS}
        covered_by: dict[str, Path] = {}
        rows = []
        for index, (path, metadata) in enumerate(shards):
            expected = FeatureShard(index, len(shards)).items(common["num_items"])
            if len(metadata["item_ids"]) != len(expected):
                raise ValueError(
                    f"{path} covers {len(metadata['item_ids'])} items, but shard {index}/"
                    f"{len(shards)} of {common['num_items']} items is items {expected.start} "
                    f"to {expected.stop - 1}"
                )
            for item_id in metadata["item_ids"]:
                if item_id in covered_by:
                    raise ValueError(f"{path} and {covered_by[item_id]} both cover {item_id!r}")
                covered_by[item_id] = path
            shard_rows = np.load(path.with_suffix(".npy"), mmap_mode="r")
            if shard_rows.shape != (len(metadata["item_ids"]), common["dim"]):
                raise ValueError(
                    f"{path.with_suffix('.npy')} has shape {shard_rows.shape}, but "
                    f"{path.name} says {len(metadata['item_ids'])} × {common['dim']}"
                )
            rows.append(shard_rows)
            for key in merged:
                merged[key] += metadata[key]
        merged["failed_item_ids"].sort()  # as an unsharded extraction lists them
        if item_ids_sha256(merged["item_ids"]) != common["item_ids_sha256"]:
            raise ValueError(
                f"the items of the shards in {self.shards_folder(modality)}, in shard order, "
                "are not those of the dataset they were extracted from (item_ids_sha256)"
            )
        description = {k: v for k, v in common.items() if k not in _SHARD_KEYS}
        return self.write(modality, np.concatenate(rows), description | merged)

    def _agreeing_shards(self, modality: str) -> tuple[dict, list[tuple[Path, dict]]]:
        """(what all shards of `modality` share, [(JSON path, metadata)] of shards
        0 … N − 1), once checked that they agree and that each is there once."""
        folder = self.shards_folder(modality)
        paths = sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))
        if not paths:
            raise FileNotFoundError(
                f"{folder} holds no shards: run `mmrec-tf extract-features --modality "
                f"{modality} --shard I/N` first"
            )
        metadata = {path: json.loads(path.read_text(encoding="utf-8")) for path in paths}
        first = paths[0]
        common = {k: v for k, v in metadata[first].items() if k not in _PER_SHARD_KEYS}
        if "shard_count" not in common:
            raise ValueError(f"{first} is not a shard written by `extract-features --shard`")
        if common.get("modality") != modality:
            raise ValueError(f"{first} holds {common.get('modality')} features, not {modality}")
        count = common["shard_count"]
        by_index: dict[int, Path] = {}
        for path in paths:
            keys = [k for k in {**common, **metadata[path]} if k not in _PER_SHARD_KEYS]
            for key in keys:  # in the files' order: the encoder first
                if metadata[path].get(key) != common.get(key):
                    raise ValueError(
                        f"{path} has {key} {metadata[path].get(key)!r}, unlike {first} "
                        f"({common.get(key)!r}): all shards must come from the same encoder, "
                        "weights, dataset and number of shards"
                    )
            index = metadata[path]["shard_index"]
            if index in by_index:
                raise ValueError(f"{path} and {by_index[index]} are both shard {index}/{count}")
            if not 0 <= index < count:
                raise ValueError(f"{path} has shard_index {index}, outside 0 to {count - 1}")
            by_index[index] = path
        missing = [f"{i}/{count}" for i in range(count) if i not in by_index]
        if missing:
            raise FileNotFoundError(
                f"{folder} lacks shard(s) {', '.join(missing)}: run `mmrec-tf extract-features "
                f"--modality {modality} --shard I/N` for each"
            )
        return common, [(by_index[i], metadata[by_index[i]]) for i in range(count)]

    def partial(
        self,
        modality: str,
        manifest: dict,
        overwrite: bool = False,
        shard: FeatureShard | None = None,
    ) -> PartialFeatures:
        """The in-progress extraction of `modality` (or of one shard) made as `manifest`
        describes: the one left by an interrupted run with the same manifest, or a new one.

        Raises:
            FileExistsError: another extraction (other manifest) is in progress and
                `overwrite` is False.
        """
        partial = PartialFeatures(self.partial_folder(modality, shard))
        if partial.folder.exists():
            if partial.manifest() == manifest:
                return partial
            if not overwrite:
                raise FileExistsError(
                    f"{partial.folder} holds an interrupted extraction with another "
                    "encoder or dataset; pass --overwrite to start again (with --append: "
                    "remove that folder)"
                )
            shutil.rmtree(partial.folder)
        partial.folder.mkdir(parents=True)
        write_atomically(partial.manifest_path, json.dumps(manifest, indent=1))
        return partial

    def partial_folder(self, modality: str, shard: FeatureShard | None = None) -> Path:
        if shard is not None:
            return self.shards_folder(modality) / f".{shard.name}.partial"
        return self.folder / f".{modality}.partial"


class PartialFeatures:
    """An extraction in progress: numbered chunks of rows, each saved whole."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.manifest_path = folder / "manifest.json"

    def manifest(self) -> dict | None:
        if not self.manifest_path.is_file():
            return None
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def chunk_path(self, number: int) -> Path:
        return self.folder / f"chunk_{number:05d}.npy"

    def has_chunk(self, number: int) -> bool:
        return self.chunk_path(number).exists()

    def save_chunk(self, number: int, rows: np.ndarray) -> None:
        save_array_atomically(self.chunk_path(number), np.asarray(rows, np.float32))

    def has_any_chunk(self) -> bool:
        return any(self.folder.glob("chunk_*.npy"))

    def assemble(self, num_chunks: int) -> np.ndarray:
        """Chunks 0 … num_chunks − 1, stacked."""
        return np.concatenate([np.load(self.chunk_path(n)) for n in range(num_chunks)])

    def remove(self) -> None:
        shutil.rmtree(self.folder)
