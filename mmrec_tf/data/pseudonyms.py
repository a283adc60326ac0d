"""Pseudonymised datasets: user ids replaced by keyed hashes, with a secret key the owner keeps.

`Pseudonymizer(key).user_id("alice")` is HMAC-SHA-256(key, "alice"), the first
128 bits in hex: the same key maps the same id the same way (new interactions
join the old ones, a served model is asked with the same pseudonyms), while
without the key the ids can be neither reversed nor recomputed from a list
of candidate names. docs/privacy.md says what this protects and what it does
not.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import secrets
import shutil
from pathlib import Path

from mmrec_tf.data.dataset import INTERACTIONS_FILE, load_dataset
from mmrec_tf.data.writing import new_output_dir

KEY_BYTES = 32
# Pseudonyms keep 128 of HMAC-SHA-256's 256 bits: collisions among even 10⁹
# users have probability ~10⁻²¹, and ids stay short.
PSEUDONYM_HEX_DIGITS = 32


class PseudonymKeyError(ValueError):
    """A key file that cannot be used (missing, unreadable, too short)."""


class Pseudonymizer:
    """Maps user ids to pseudonyms with a secret key (at least 16 bytes).

    Example:
    >>> p = Pseudonymizer(bytes(range(32)))
    >>> p.user_id("user0001") == p.user_id("user0001") != p.user_id("user0002")
    True
    >>> len(p.user_id("user0001"))
    32
    """

    def __init__(self, key: bytes):
        if len(key) < 16:
            raise PseudonymKeyError(f"a key must have at least 16 bytes, this one has {len(key)}")
        self._key = bytes(key)

    @classmethod
    def from_key_file(
        cls,
        path: str | os.PathLike,
        if_missing: str = "create one with `mmrec-tf pseudonymize ... --new-key`",
    ) -> Pseudonymizer:
        """The pseudonymizer of the key in `path` (hex, as `write_key` writes it; `~`
        is the home folder). A missing file is a `PseudonymKeyError` whose message
        ends with `if_missing`: what to do about it, which depends on the caller (a
        new key pseudonymises new data, but finds no one in a trained model)."""
        path = Path(path).expanduser()
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise PseudonymKeyError(f"{path}: no key file; {if_missing}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise PseudonymKeyError(f"{path}: cannot read the key: {e}") from None
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise PseudonymKeyError(f"{path}: not a key (expected hexadecimal digits)") from None
        try:
            return cls(key)
        except PseudonymKeyError as e:
            raise PseudonymKeyError(f"{path}: {e}") from None

    def user_id(self, user_id: str) -> str:
        """The pseudonym of `user_id`."""
        digest = hmac.new(self._key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX_DIGITS]

    def __repr__(self) -> str:  # never the key
        return "Pseudonymizer(<secret key>)"


def new_key() -> bytes:
    """A new random key (32 bytes from the operating system's secure source)."""
    return secrets.token_bytes(KEY_BYTES)


def check_new_key_file(path: str | os.PathLike) -> None:
    """Raises unless `path` is free for a new key: a key is never replaced."""
    if Path(path).expanduser().exists():
        raise PseudonymKeyError(
            f"{path} exists: a key is never replaced (its pseudonyms would change); "
            "leave out --new-key to use it"
        )


def write_key(path: str | os.PathLike, key: bytes) -> Path:
    """Writes `key` (hex) to `path`, readable by its owner only (a folder it creates
    too); never over a file."""
    path = Path(path).expanduser()
    check_new_key_file(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as f:
        f.write(key.hex() + "\n")
    return path


def pseudonymize_dataset(
    data: str | os.PathLike,
    pseudonymizer: Pseudonymizer,
    out: str | os.PathLike,
    *,
    timestamp_resolution: int | None = None,
) -> Path:
    """Writes `out`: a copy of the dataset `data` whose `interactions.csv` has every
    `user_id` replaced by its pseudonym and, with `timestamp_resolution` (seconds),
    every timestamp rounded down to a multiple of it. Every other file, column and
    row order is copied as it is (item ids, media, splits). `out` must not exist
    or be empty; it is written all at once.
    """
    data, out = Path(data), Path(out)
    dataset = load_dataset(data)  # a dataset with problems is refused, naming them
    if timestamp_resolution is not None:
        if timestamp_resolution < 1:
            raise ValueError(
                f"the timestamp resolution must be ≥ 1 second, not {timestamp_resolution}"
            )
        if dataset.timestamps is None:
            raise ValueError(f"{data / INTERACTIONS_FILE} has no timestamp column to coarsen")
    pseudonyms = {user: pseudonymizer.user_id(user) for user in dataset.user_ids}
    if len(set(pseudonyms.values())) != len(pseudonyms):
        raise ValueError("two user ids share a pseudonym: use another key")
    with new_output_dir(out) as staging:
        shutil.copytree(data, staging, symlinks=True, dirs_exist_ok=True)
        with open(data / INTERACTIONS_FILE, encoding="utf-8-sig", newline="") as source:
            rows = csv.reader(source)
            header = next(rows)
            columns = [cell.strip() for cell in header]
            user_column = columns.index("user_id")
            time_column = columns.index("timestamp") if timestamp_resolution else None
            with open(staging / INTERACTIONS_FILE, "w", encoding="utf-8", newline="") as target:
                writer = csv.writer(target, lineterminator="\n")
                writer.writerow(header)
                for row in rows:
                    if not any(cell.strip() for cell in row):
                        continue  # a blank line, as load_dataset skips it
                    # (load_dataset checked every other row: its fields, id, timestamp.)
                    row[user_column] = pseudonyms[row[user_column].strip()]
                    if time_column is not None:
                        timestamp = int(row[time_column])
                        row[time_column] = str(timestamp - timestamp % timestamp_resolution)
                    writer.writerow(row)
    return out
