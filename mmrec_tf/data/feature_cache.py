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
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from mmrec_tf.data.writing import save_array_atomically, write_atomically


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

    def features_path(self, modality: str) -> Path:
        return self.folder / f"{modality}.npy"

    def metadata_path(self, modality: str) -> Path:
        return self.folder / f"{modality}.json"

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
        checked against its item order; every modality in the folder by default."""
        if not self.folder.is_dir():
            raise FileNotFoundError(f"{self.folder}: no such features directory")
        names = modalities or self.modalities()
        if not names:
            raise FileNotFoundError(
                f"{self.folder} holds no features: run `mmrec-tf extract-features` first"
            )
        features, present = {}, {}
        for modality in names:
            if self.metadata(modality)["item_ids"] != dataset.item_ids:
                raise ValueError(
                    f"{self.metadata_path(modality)} was extracted for other items than "
                    f"{dataset.root}"
                )
            features[modality] = np.load(self.features_path(modality))
            present[modality] = self.present(modality, dataset.item_ids)
        return features, present

    def write(self, modality: str, features: np.ndarray, metadata: dict) -> Path:
        """Writes the modality's features and metadata, each atomically (the array first:
        a `.json` is only ever beside its finished array). Returns the `.npy` path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        save_array_atomically(self.features_path(modality), np.asarray(features, np.float32))
        write_atomically(self.metadata_path(modality), json.dumps(metadata, indent=1))
        return self.features_path(modality)

    def partial(self, modality: str, manifest: dict, overwrite: bool = False) -> PartialFeatures:
        """The in-progress extraction of `modality` made as `manifest` describes: the
        one left by an interrupted run with the same manifest, or a new one.

        Raises:
            FileExistsError: another extraction (other manifest) is in progress and
                `overwrite` is False.
        """
        partial = PartialFeatures(self.folder / f".{modality}.partial")
        if partial.folder.exists():
            if partial.manifest() == manifest:
                return partial
            if not overwrite:
                raise FileExistsError(
                    f"{partial.folder} holds an interrupted extraction with another "
                    "encoder or dataset; pass --overwrite to start again"
                )
            shutil.rmtree(partial.folder)
        partial.folder.mkdir(parents=True)
        write_atomically(partial.manifest_path, json.dumps(manifest, indent=1))
        return partial


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
