"""Converting MovieLens 100K (optionally with IMDb plots and posters) to the dataset format."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from mmrec_tf.data.splits import temporal_split
from mmrec_tf.data.writing import new_output_dir, write_csv

ML_100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
# md5 of u.data as GroupLens publishes it: checked after every download.
U_DATA_MD5 = "6e47046882bad158b0efbb84cd5cb987"
PLOT_PLACEHOLDER = "It looks like we don't have any Plot Summaries"
GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
ITEM_COLUMNS = (
    "item_id",
    "title",
    "text",
    "image",
    "genres",
    "release_date",
    "director",
    "cast",
    "plot",
    "imdb_url",
)


def prepare_movielens_100k(
    out: str | Path,
    source: str | Path | None = None,
    *,
    url: str = ML_100K_URL,
    cache_dir: str | Path | None = None,
) -> Path:
    """Writes MovieLens 100K in mmrec-tf's dataset format to `out`.

    With `source`, a directory holding the GroupLens files (`u.item`,
    `u.data`) and, when present, `split.tsv`, `imdb_details.json` and
    `posters/` (the layout of ml-100k-mm): item text is made of the title,
    genres, directors, the IMDb plot (IMDb's "no plot summary" placeholder is
    dropped) and the cast; the image is the poster. Columns `title`, `genres`,
    `director`, `cast` and `plot` keep each part as metadata.

    Without `source`, the official archive is downloaded from GroupLens (once:
    it is cached in `cache_dir`, by default `$MMREC_CACHE_DIR` or
    `~/.cache/mmrec_tf`) and checked against the published md5 of `u.data`;
    item text is then the title and genres only.

    The split is `split.tsv`'s when present; otherwise the same canonical
    split is computed (`temporal_split`, 10% valid, 10% test per user).

    Returns:
        `out`.
    """
    if source is None:
        source = _download_and_extract(url, Path(cache_dir or _default_cache_dir()))
    source = Path(source)
    for required in ("u.item", "u.data"):
        if not (source / required).is_file():
            raise FileNotFoundError(
                f"{source / required} not found: --source must be a "
                "MovieLens 100K directory (with u.item and u.data)"
            )
    items = _read_items(source / "u.item")
    details = _read_imdb_details(source / "imdb_details.json")
    interactions = _read_interactions(source)
    posters = source / "posters"
    with new_output_dir(out) as staging:
        if posters.is_dir():
            (staging / "posters").mkdir()
        rows = []
        for item in items:
            record = details.get(item["item_id"], {})
            row = {**item, **_imdb_columns(record)}
            row["text"] = _item_text(row)
            poster = posters / f"{item['item_id']}.jpg"
            if poster.is_file():
                row["image"] = _copy_image(poster, staging / "posters", item["item_id"])
            rows.append(row)
        write_csv(staging / "items.csv", ITEM_COLUMNS, rows)
        write_csv(
            staging / "interactions.csv",
            ("user_id", "item_id", "rating", "timestamp", "split"),
            interactions,
        )
    return Path(out)


def _read_items(path: Path) -> list[dict]:
    # u.item is Latin-1 (accented titles), pipe-separated.
    items = []
    for line in path.read_bytes().decode("latin-1").splitlines():
        if not line.strip():
            continue
        fields = line.split("|")
        flags = fields[5 : 5 + len(GENRES)]
        genres = [
            g for g, flag in zip(GENRES, flags, strict=True) if flag == "1" and g != "unknown"
        ]
        items.append(
            {
                "item_id": fields[0],
                "title": fields[1].strip(),
                "release_date": fields[2],
                "imdb_url": fields[4],
                "genres": "|".join(genres),
            }
        )
    return items


def _read_imdb_details(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    return {str(record["movie_id"]): record for record in json.loads(path.read_text("utf-8"))}


def _imdb_columns(record: dict) -> dict:
    plot = (record.get("description") or "").strip()
    if plot.startswith(PLOT_PLACEHOLDER):
        plot = ""
    return {
        "director": "|".join(record.get("director") or []),
        "cast": "|".join(record.get("cast") or []),
        "plot": plot,
    }


def _item_text(row: dict) -> str:
    parts = [row["title"] + "."]
    if row["genres"]:
        parts.append(row["genres"].replace("|", ", ") + ".")
    if row["director"]:
        parts.append("Directed by " + row["director"].replace("|", ", ") + ".")
    if row["plot"]:
        parts.append(row["plot"])
    if row["cast"]:
        parts.append("Starring " + row["cast"].replace("|", ", ") + ".")
    return " ".join(parts)


def _copy_image(poster: Path, folder: Path, item_id: str) -> str:
    # Files are named by what they hold, whatever their source extension says.
    with open(poster, "rb") as f:
        head = f.read(8)
    extension = ".png" if head.startswith(b"\x89PNG") else ".jpg"
    shutil.copyfile(poster, folder / f"{item_id}{extension}")
    return f"{folder.name}/{item_id}{extension}"


def _read_interactions(source: Path) -> list[dict]:
    split_file = source / "split.tsv"
    if split_file.is_file():
        with open(split_file, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f, delimiter="\t"))
    data = np.loadtxt(source / "u.data", dtype=np.int64, ndmin=2)
    users, items, ratings, timestamps = data.T
    splits = temporal_split(users, items, timestamps)
    return [
        {"user_id": u, "item_id": i, "rating": r, "timestamp": t, "split": s}
        for u, i, r, t, s in zip(users, items, ratings, timestamps, splits, strict=True)
    ]


def _default_cache_dir() -> Path:
    return Path(os.environ.get("MMREC_CACHE_DIR") or Path.home() / ".cache" / "mmrec_tf")


def _download_and_extract(url: str, cache_dir: Path) -> Path:
    """Downloads the archive once, checks u.data's md5, and returns the extracted folder."""
    extracted = cache_dir / "ml-100k"
    if (extracted / "u.data").is_file() and _md5(extracted / "u.data") == U_DATA_MD5:
        return extracted
    cache_dir.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=60) as response:
        archive = response.read()
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        names = {Path(n).name: n for n in zf.namelist() if Path(n).name in ("u.data", "u.item")}
        if set(names) != {"u.data", "u.item"}:
            raise ValueError(f"{url} is not the MovieLens 100K archive: no u.data and u.item")
        contents = {name: zf.read(member) for name, member in names.items()}
    digest = hashlib.md5(contents["u.data"]).hexdigest()
    if digest != U_DATA_MD5:
        raise ValueError(
            f"u.data downloaded from {url} has md5 {digest}, expected "
            f"{U_DATA_MD5}: the download is corrupt or not MovieLens 100K"
        )
    staging = cache_dir / "ml-100k.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name, content in contents.items():
        (staging / name).write_bytes(content)
    shutil.rmtree(extracted, ignore_errors=True)
    staging.rename(extracted)
    return extracted


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()
