"""Pseudonymised datasets: keyed hashes of user ids, nothing else changed, the key never written."""

import csv
import hashlib
import hmac

import pytest
from cli_process import assert_clean_success, run_cli

from mmrec_tf.data import load_dataset
from mmrec_tf.data.pseudonyms import (
    Pseudonymizer,
    PseudonymKeyError,
    pseudonymize_dataset,
    write_key,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_pseudonyms_are_hmac_sha256_of_the_id():
    expected = hmac.new(KEY, b"user0001", hashlib.sha256).hexdigest()[:32]
    assert Pseudonymizer(KEY).user_id("user0001") == expected
    assert Pseudonymizer(KEY).user_id("user0001") != Pseudonymizer(OTHER_KEY).user_id("user0001")
    assert "KEY" not in repr(Pseudonymizer(KEY)) and KEY.hex() not in repr(Pseudonymizer(KEY))
    with pytest.raises(PseudonymKeyError, match="at least 16 bytes"):
        Pseudonymizer(b"short")


def test_a_copy_with_pseudonyms_and_nothing_else_changed(demo_dir, tmp_path):
    out = pseudonymize_dataset(demo_dir, Pseudonymizer(KEY), tmp_path / "p")
    before, after = _files(demo_dir), _files(out)
    assert before.keys() == after.keys()
    changed = [name for name in before if before[name] != after[name]]
    assert [str(name) for name in changed] == ["interactions.csv"]
    original, pseudonymised = _rows(demo_dir / "interactions.csv"), _rows(out / "interactions.csv")
    assert len(original) == len(pseudonymised)
    mapping = {}
    for old, new in zip(original, pseudonymised, strict=True):
        assert new["user_id"] == Pseudonymizer(KEY).user_id(old["user_id"])
        assert {k: v for k, v in new.items() if k != "user_id"} == {
            k: v for k, v in old.items() if k != "user_id"
        }
        mapping.setdefault(old["user_id"], set()).add(new["user_id"])
    assert all(len(p) == 1 for p in mapping.values())  # one pseudonym per user...
    assert len({next(iter(p)) for p in mapping.values()}) == len(mapping)  # ...none shared
    # The key is in no file, as bytes or as hex.
    for content in after.values():
        assert KEY not in content and KEY.hex().encode() not in content
    # It loads as a dataset: the same items and splits, users renamed.
    loaded, source = load_dataset(out), load_dataset(demo_dir)
    assert loaded.item_ids == source.item_ids and loaded.num_users == source.num_users
    assert (loaded.splits == source.splits).all()


def test_the_same_key_maps_the_same_way_and_another_key_does_not(demo_dir, tmp_path):
    first = pseudonymize_dataset(demo_dir, Pseudonymizer(KEY), tmp_path / "a")
    again = pseudonymize_dataset(demo_dir, Pseudonymizer(KEY), tmp_path / "b")
    other = pseudonymize_dataset(demo_dir, Pseudonymizer(OTHER_KEY), tmp_path / "c")
    assert (first / "interactions.csv").read_bytes() == (again / "interactions.csv").read_bytes()
    users = {row["user_id"] for row in _rows(first / "interactions.csv")}
    assert users.isdisjoint(row["user_id"] for row in _rows(other / "interactions.csv"))


def test_timestamps_are_rounded_down_to_the_resolution(demo_dir, tmp_path):
    out = pseudonymize_dataset(
        demo_dir, Pseudonymizer(KEY), tmp_path / "p", timestamp_resolution=86400
    )
    original = _rows(demo_dir / "interactions.csv")
    coarse = _rows(out / "interactions.csv")
    for old, new in zip(original, coarse, strict=True):
        assert int(new["timestamp"]) == int(old["timestamp"]) // 86400 * 86400
    with pytest.raises(ValueError, match="≥ 1 second"):
        pseudonymize_dataset(demo_dir, Pseudonymizer(KEY), tmp_path / "q", timestamp_resolution=0)
    assert not (tmp_path / "q").exists()


def test_key_files_are_private_and_never_replaced(tmp_path, monkeypatch):
    path = write_key(tmp_path / "keys" / "key", KEY)
    assert path.stat().st_mode & 0o777 == 0o600
    assert Pseudonymizer.from_key_file(path).user_id("u") == Pseudonymizer(KEY).user_id("u")
    with pytest.raises(PseudonymKeyError, match="never replaced"):
        write_key(path, OTHER_KEY)
    assert Pseudonymizer.from_key_file(path).user_id("u") == Pseudonymizer(KEY).user_id("u")
    (tmp_path / "bad").write_text("not hex")
    with pytest.raises(PseudonymKeyError, match="expected hexadecimal"):
        Pseudonymizer.from_key_file(tmp_path / "bad")
    with pytest.raises(PseudonymKeyError, match="no key file"):
        Pseudonymizer.from_key_file(tmp_path / "missing")
    # "~" is the home folder, as a shell would have it.
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Pseudonymizer.from_key_file("~/keys/key").user_id("u") == Pseudonymizer(KEY).user_id("u")
    write_key("~/private/key", OTHER_KEY)
    assert (tmp_path / "private").stat().st_mode & 0o777 == 0o700


@pytest.mark.large
def test_pseudonymize_train_and_serve_with_the_key_one_process_per_command(demo_dir, tmp_path):
    import json

    key, data = tmp_path / "secret" / "key", tmp_path / "pseudonymised"
    printed = assert_clean_success(
        run_cli("pseudonymize", "--data", demo_dir, "--key-file", key, "--new-key", "--out", data)
    )
    assert "wrote a new key" in printed and key.stat().st_mode & 0o777 == 0o600
    # Asked again with --new-key: refused, the key and the output as they were.
    kept = key.read_bytes()
    again = run_cli(
        "pseudonymize", "--data", demo_dir, "--key-file", key, "--new-key", "--out", tmp_path / "x"
    )
    assert again.returncode == 2 and "never replaced" in again.stderr
    assert key.read_bytes() == kept and not (tmp_path / "x").exists()

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": "MatrixFactorization", "epochs": 2, "batch_size": 256}))
    run, served = tmp_path / "run", tmp_path / "served"
    assert_clean_success(run_cli("train", "--data", data, "--config", config, "--out", run))
    assert_clean_success(run_cli("export", "--model", run, "--out", served))
    pseudonym = Pseudonymizer.from_key_file(key).user_id("user0001")
    by_key = run_cli("recommend", "--model", served, "--user", "user0001", "--key-file", key)
    by_pseudonym = run_cli("recommend", "--model", served, "--user", pseudonym)
    assert assert_clean_success(by_key) == assert_clean_success(by_pseudonym)
    # Without the key the real id is unknown to the model.
    plain = run_cli("recommend", "--model", served, "--user", "user0001")
    assert "'user0001' is not in the training data" in plain.stderr
    assert "pseudonymised data, pass the --key-file that pseudonymised it" in plain.stderr
