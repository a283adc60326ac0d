"""What a careless user types, one row each: every row must end with a non-zero status,
one line on standard error naming the problem, no traceback, and every file as it was.

Each row runs `mmrec-tf` in its own process, as a shell would.
"""

import concurrent.futures
import hashlib
import json
import shutil

import pytest
from cli_process import TENSORFLOW_NOISE, run_cli

pytestmark = pytest.mark.large


@pytest.fixture(scope="module")
def workspace(demo_run):
    """A trained run and its features (the session's); rows must leave them as they are."""
    return {
        "demo": demo_run["data"],
        "features": demo_run["features"],
        "config": demo_run["config"],
        "run": demo_run["run"],
    }


def _config(tmp_path, text):
    path = tmp_path / "config.json"
    path.write_text(text)
    return path


def _train(w, tmp_path, config_text, *extra, out=None, features=None):
    config = _config(tmp_path, config_text)
    out = out or tmp_path / "new-run"
    features = features or w["features"]
    return ["train", "--data", w["demo"], "--features", features, "--config", config] + [
        "--out",
        out,
        *extra,
    ]


def _with_file(tmp_path, name="notes.txt"):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / name).write_text("my notes")
    return folder


def _bad_image_dataset(w, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(w["demo"], data)
    image = sorted((data / "images").iterdir())[5]
    image.unlink()
    image.mkdir()
    return data, f"images/{image.name}"


# Configurations a user may write: (file text, what the one line must say).
BAD_CONFIGS = {
    "config key with a typo": (
        '{"learnign_rate": 0.01}',
        '"learnign_rate" is not a configuration key (did you mean "learning_rate"?)',
    ),
    "epochs as a word": ('{"epochs": "ten"}', '"epochs" must be an integer ≥ 1, found "ten"'),
    "modalities as one string": (
        '{"modalities": "text"}',
        '"modalities" must be null or a list of distinct modalities',
    ),
    "option the model does not take": (
        '{"options": {"embeding_dim": 8}}',
        '"options.embeding_dim" is not an option of MultimodalRecommender '
        '(did you mean "options.embedding_dim"?)',
    ),
    "option the data sets": (
        '{"options": {"present": null}}',
        '"options.present" is not an option of MultimodalRecommender',
    ),
    "configuration that is not JSON": ('{"epochs": 3,}', "config.json: not valid JSON"),
    "end-to-end encoder that does not exist": (
        '{"end_to_end": {"encoders": {"image": "vgg19"}}}',
        '"end_to_end.encoders.image" must be one of builtin, vgg16, found "vgg19"',
    ),
    "graph that does not exist": (
        '{"options": {"graph": "gat"}}',
        '"options.graph" must be one of lightgcn, attention, found "gat"',
    ),
    "embeddings of no dimension": (
        '{"options": {"embedding_dim": 0}}',
        '"options.embedding_dim" must be an integer ≥ 1, found 0',
    ),
    "histories of no item": (
        '{"model": "HistoryRecommender", "options": {"history_length": 0}}',
        '"options.history_length" must be an integer ≥ 1, found 0',
    ),
    "heads that do not divide the vector": (
        '{"options": {"num_heads": 3}}',
        '"options.embedding_dim" (64) must be a multiple of "options.num_heads" (3)',
    ),
}

ROWS = {
    **{
        name: lambda w, t, text=text, expected=expected: (_train(w, t, text), expected)
        for name, (text, expected) in BAD_CONFIGS.items()
    },
    "train into a folder of other files": lambda w, t: (
        _train(w, t, "{}", out=_with_file(t)),
        "is not empty and holds no run",
    ),
    "resume a folder of other files": lambda w, t: (
        _train(w, t, "{}", "--resume", out=_with_file(t)),
        "is not a run directory",
    ),
    "train over an existing run": lambda w, t: (
        _train(w, t, w["config"].read_text(), out=w["run"]),
        "already holds a finished run (1 epoch(s)); choose another --out",
    ),
    "resume with another learning rate": lambda w, t: (
        _train(
            w,
            t,
            '{"options": {"embedding_dim": 8}, "epochs": 2, "learning_rate": 0.1}',
            "--resume",
            out=w["run"],
        ),
        "differs from the run's configuration in learning_rate",
    ),
    "train on a dataset that is not there": lambda w, t: (
        ["train", "--data", t / "nowhere", "--config", _config(t, "{}"), "--out", t / "r"],
        "nowhere",
    ),
    "train on interactions without splits": lambda w, t: (
        [
            *("train", "--data", _unsplit_dataset(t), "--config", _config(t, "{}")),
            *("--out", t / "r"),
        ],
        "interactions.csv has no 'split' column; add one",
    ),
    "quickstart into a folder of other files": lambda w, t: (
        ["quickstart", "--out", _with_file(t)],
        "holds files the quickstart did not write (notes.txt); choose another --out",
    ),
    "evaluate a folder that is not a run": lambda w, t: (
        ["evaluate", "--run", _with_file(t)],
        "is not a run directory",
    ),
    "export a model that is not there": lambda w, t: (
        ["export", "--model", t / "run" / "model.keras", "--out", t / "saved"],
        "no such run directory or model file",
    ),
    "export a file that is not a model": lambda w, t: (
        ["export", "--model", _with_file(t) / "notes.txt", "--data", w["demo"], "--out", t / "s"],
        "not a saved Keras model",
    ),
    "export into a folder of other files": lambda w, t: (
        ["export", "--model", w["run"], "--out", _with_file(t)],
        "already exists and is not empty",
    ),
    "recommend zero items": lambda w, t: (
        ["recommend", "--model", t, "--user", "user0001", "-k", "0"],
        "-k must be at least 1",
    ),
    "recommend from a run, not a SavedModel": lambda w, t: (
        ["recommend", "--model", w["run"], "--user", "user0001"],
        "is not a SavedModel: run `mmrec-tf export` first",
    ),
    "features of another dataset": lambda w, t: (
        [
            *("train", "--data", _other_dataset(t), "--features", w["features"]),
            *("--config", _config(t, "{}"), "--out", t / "r"),
        ],
        "was extracted for other items",
    ),
    "pseudonymize without a key": lambda w, t: (
        ["pseudonymize", "--data", w["demo"], "--key-file", t / "key", "--out", t / "p"],
        "no key file; create one with `mmrec-tf pseudonymize ... --new-key`",
    ),
    "pseudonymize with --new-key over a key": lambda w, t: (
        [
            *("pseudonymize", "--data", w["demo"], "--key-file", _with_file(t) / "notes.txt"),
            *("--new-key", "--out", t / "p"),
        ],
        "a key is never replaced",
    ),
    "pseudonymize into a folder of other files": lambda w, t: (
        [
            *("pseudonymize", "--data", w["demo"], "--key-file", t / "key", "--new-key"),
            *("--out", _with_file(t)),
        ],
        "already exists and is not empty",
    ),
    "extract with an unknown encoder": lambda w, t: (
        [
            *("extract-features", "--data", w["demo"], "--modality", "image"),
            *("--encoder", "mobilenet", "--out", t / "f"),
        ],
        "encoder 'mobilenet' does not encode image",
    ),
    "extract a modality no item has": lambda w, t: (
        [
            *("extract-features", "--data", _other_dataset(t), "--modality", "audio"),
            *("--encoder", "builtin", "--out", t / "f"),
        ],
        "has audio (items.csv has no 'audio' column or every cell is empty); nothing to extract",
    ),
    "extract into a file": lambda w, t: (
        [
            *("extract-features", "--data", w["demo"], "--modality", "text"),
            *("--encoder", "builtin", "--out", _with_file(t) / "notes.txt"),
        ],
        "notes.txt is a file, not a features directory",
    ),
    "extract into a folder under a file": lambda w, t: (
        [
            *("extract-features", "--data", w["demo"], "--modality", "text"),
            *("--encoder", "builtin", "--out", _with_file(t) / "notes.txt" / "features"),
        ],
        "features cannot be a features directory: ",
    ),
    "train on features of a modality no item has": lambda w, t: (
        _train(w, t, "{}", features=_features_without_audio(w, t)),
        "audio.npy holds no item's audio (every item is missing it): extract another "
        'modality or leave it out of "modalities"',
    ),
    "recommend with a key file that is not there": lambda w, t: (
        ["recommend", "--model", t, "--user", "user0001", "--key-file", t / "key"],
        "key: no key file; it must be the key that pseudonymised the training data",
    ),
}


def _features_without_audio(w, tmp_path):
    """The workspace's features and an audio.npy of an older version: no item has it."""
    from mmrec_tf.data.feature_cache import FeatureCache

    features = tmp_path / "features"
    shutil.copytree(w["features"], features)
    item_ids = json.loads((features / "text.json").read_text())["item_ids"]
    metadata = {"item_ids": item_ids, "missing_item_ids": item_ids, "failed_item_ids": []}
    FeatureCache(features).write("audio", [[0.0, 0.0]] * len(item_ids), metadata)
    return features


def _other_dataset(tmp_path):
    from conftest import write_dataset

    return write_dataset(
        tmp_path / "other",
        [{"item_id": "x", "text": "t"}],
        [{"user_id": "u", "item_id": "x", "split": "train"}],
    )


def _unsplit_dataset(tmp_path):
    from conftest import write_dataset

    return write_dataset(
        tmp_path / "unsplit",
        [{"item_id": "a", "text": "t"}, {"item_id": "b", "text": "u"}],
        [{"user_id": "u", "item_id": "a"}, {"user_id": "u", "item_id": "b"}],
    )


def _snapshot(*roots):
    """Every file and folder under `roots`, with a hash of each file's bytes."""
    state = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            state[str(path)] = (
                hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            )
    return state


def _assert_one_line_error(result, expected):
    described = f"{result.args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode != 0, described
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mmrec-tf: error: "), described
    assert expected in lines[0], described
    for noise in (*TENSORFLOW_NOISE, "Traceback"):
        assert noise not in result.stdout + result.stderr, described


@pytest.fixture(scope="module")
def outcomes(workspace, tmp_path_factory):
    """Every row run once, two processes at a time (the machine's two cores):
    {row: (result, expected message, whether its folder is unchanged)}."""

    def run_row(row):
        folder = tmp_path_factory.mktemp("row")
        args, expected = ROWS[row](workspace, folder)
        before = _snapshot(folder)
        result = run_cli(*args)
        return result, expected, _snapshot(folder) == before

    shared = _snapshot(workspace["run"], workspace["features"])
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(ROWS, pool.map(run_row, ROWS), strict=True))
    assert _snapshot(workspace["run"], workspace["features"]) == shared
    return results


@pytest.mark.parametrize("row", list(ROWS))
def test_careless_input_is_one_clear_line_and_changes_nothing(row, outcomes):
    result, expected, unchanged = outcomes[row]
    _assert_one_line_error(result, expected)
    assert unchanged


def test_a_bad_media_file_stops_extraction_cleanly(workspace, tmp_path):
    """A directory where an image should be: one line naming the file, a process that
    exits (it used to hang in tf.data's teardown), and no features folder left."""
    data, image = _bad_image_dataset(workspace, tmp_path)
    before = _snapshot(tmp_path)
    for _ in range(3):  # the hang came 3 times in 5
        result = run_cli(
            *("extract-features", "--data", data, "--modality", "image"),
            *("--encoder", "builtin", "--out", tmp_path / "features"),
            timeout=120,
        )
        _assert_one_line_error(result, f"image file '{image}' of item")
        assert "is a directory, expected a file" in result.stderr
        assert _snapshot(tmp_path) == before
