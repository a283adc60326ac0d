import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_process import assert_clean_success, run_cli
from quantization_reference import dequantized

from mmrec_tf.cli import main
from mmrec_tf.data import bpr_triples, load_dataset
from mmrec_tf.models import MultimodalRecommender
from mmrec_tf.serving import export_recommender

# Runs in a fresh interpreter: TensorFlow only, and proves mmrec_tf was never imported.
# Its arguments: SAVED_MODEL REQUEST OUT, for each SavedModel it serves in turn.
SERVE = """
import json, sys
import numpy as np
import tensorflow as tf

for saved_model, request, saved in zip(*[iter(sys.argv[1:])] * 3, strict=True):
    request = json.loads(request)
    served = tf.saved_model.load(saved_model)
    out = served.signatures["serving_default"](
        user_id=tf.constant(request["users"]), k=tf.constant(request["k"], tf.int32)
    )
    large = served.recommend(tf.constant(request["users"][:1]), tf.constant(10**6, tf.int32))
    unknown = served.recommend(tf.constant(["no-such-user"]), tf.constant(10**6, tf.int32))
    pairs = request["pairs"]
    scores = served.score(tf.constant(pairs[0]), tf.constant(pairs[1]))["score"]
    np.savez(
        saved,
        item_id=out["item_id"].numpy().astype(str),
        score=out["score"].numpy(),
        large_items=large["item_id"].numpy().astype(str),
        large_scores=large["score"].numpy(),
        unknown_k=unknown["item_id"].shape[1],
        known_user=out["known_user"].numpy(),
        pair_scores=scores.numpy(),
        signatures=np.array(sorted(served.signatures)),
    )
assert "mmrec_tf" not in sys.modules
"""


@pytest.fixture(scope="module")
def trained(demo_dir):
    dataset = load_dataset(demo_dir)
    keras.utils.set_random_seed(0)
    features = {"text": np.random.default_rng(0).normal(size=(dataset.num_items, 8))}
    model = MultimodalRecommender.from_dataset(dataset, features, embedding_dim=8, item_graph_k=3)
    model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=True)
    model.fit(bpr_triples(dataset, 256, seed=0), epochs=3, verbose=0)
    return dataset, model


# The users whose top 10 the tests below ask each SavedModel for.
USERS = [0, 5, 17]


def _requests(dataset):
    """What each export is asked, by its quantization: the float32 one also for an
    unknown user and pairs with an unknown user or item."""
    users = [dataset.user_ids[u] for u in USERS]
    exact = {
        "users": users + ["no-such-user"],
        "k": 10,
        "pairs": (
            [dataset.user_ids[0], "no-such-user", dataset.user_ids[3]],
            [dataset.item_ids[4], dataset.item_ids[4], "no-such-item"],
        ),
    }
    quantized = {"users": users, "k": 10, "pairs": ([dataset.user_ids[0]], [dataset.item_ids[4]])}
    return {None: exact, "float16": quantized, "int8": quantized}


@pytest.fixture(scope="module")
def exports(trained, tmp_path_factory):
    """The trained model exported with its vectors in float32, float16 and int8, all
    served by one fresh interpreter that imports TensorFlow alone (tests must not modify
    the exports): {quantize: (SavedModel path, what it served)}."""
    dataset, model = trained
    root = tmp_path_factory.mktemp("exports")
    args, paths = [sys.executable, "-c", SERVE], {}
    for quantize, request in _requests(dataset).items():
        paths[quantize] = export_recommender(
            model, dataset, root / (quantize or "float32"), quantize=quantize
        )
        args += [paths[quantize], json.dumps(request), root / f"{quantize}.npz"]
    subprocess.run(list(map(str, args)), check=True, capture_output=True)
    return {q: (path, np.load(root / f"{q}.npz")) for q, path in paths.items()}


def test_exported_model_serves_what_the_model_ranks(trained, exports):
    dataset, model = trained
    _, served = exports[None]
    users = USERS
    assert set(served["signatures"]) == {
        "recommend",
        "score",
        "title",
        "embed_users",
        "explain",
        "serving_default",
    }

    # In memory: the model's scores with the users' training items left out.
    scores = model.score_users(users)
    train_users, train_items = dataset.interactions("train")
    for row, user in enumerate(users):
        scores[row, train_items[train_users == user]] = -np.inf
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(served["item_id"][:3], np.array(dataset.item_ids)[expected])
    np.testing.assert_allclose(
        served["score"][:3], np.take_along_axis(scores, expected, axis=1), atol=1e-5
    )
    # The unknown user gets the most popular training items, best first.
    popularity = dataset.item_popularity()
    popular = np.argsort(-popularity, kind="stable")[:10]
    np.testing.assert_allclose(served["score"][3], popularity[popular], atol=1e-7)
    assert set(served["item_id"][3]) <= {
        dataset.item_ids[i] for i in np.flatnonzero(popularity >= popularity[popular[-1]])
    }
    assert served["known_user"].tolist() == [True, True, True, False]
    # k beyond what a user has left gives exactly the items they have not seen, none
    # seen (no -inf score); an unknown user has the whole catalogue.
    seen = {dataset.item_ids[i] for i in train_items[train_users == users[0]]}
    assert set(served["large_items"][0]) == set(dataset.item_ids) - seen
    assert np.isfinite(served["large_scores"]).all()
    assert served["unknown_k"] == dataset.num_items
    # score: the model's score; NaN for an unknown user or item.
    full = model.score_users([0])[0, 4]
    assert served["pair_scores"][0] == pytest.approx(full, abs=1e-5)
    assert np.isnan(served["pair_scores"][1]) and np.isnan(served["pair_scores"][2])


def test_export_refuses_a_used_directory_and_a_mismatched_dataset(trained, tmp_path, make_dataset):
    dataset, model = trained
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        export_recommender(model, dataset, used)
    assert (used / "keep.txt").read_text() == "mine"
    other = load_dataset(make_dataset([{"item_id": "x", "text": "t"}]))
    with pytest.raises(ValueError, match="export with the dataset it was trained on"):
        export_recommender(model, other, tmp_path / "other")


# Its arguments: REQUEST, then SAVED_MODEL OUT for each SavedModel it embeds with.
EMBED = """
import json, sys
import numpy as np
import tensorflow as tf

request = json.loads(sys.argv[1])
for saved_model, saved in zip(*[iter(sys.argv[2:])] * 2, strict=True):
    served = tf.saved_model.load(saved_model)
    tower = tf.saved_model.load(saved_model + "/embed_items")
    texts = tf.constant(request["text"])
    images = tf.constant([open(p, "rb").read() if p else b"" for p in request["image"]])
    items = tower.signatures["serving_default"](text=texts, image=images)["item_vector"]
    users = served.embed_users(tf.constant(request["users"]))["user_vector"]
    np.savez(saved, items=items.numpy(), users=users.numpy())
assert "mmrec_tf" not in sys.modules
"""


@pytest.fixture(scope="module")
def content_exports(demo_dir, tmp_path_factory):
    """An end-to-end model of frozen encoders, exported with its content tower's
    encoders stored in float32 and in float16, and what one fresh interpreter importing
    TensorFlow alone embeds through each, raw files in (tests must not modify them):
    (model, encoders, items embedded, {content_dtype: (SavedModel path, vectors)})."""
    from mmrec_tf.data import ImageOptions, ItemContent, ItemLoader, TextOptions
    from mmrec_tf.encoders import ImageEncoder, TextEncoder

    dataset = load_dataset(demo_dir)
    options = {
        "image": ImageOptions(size=(16, 16)),
        "text": TextOptions(sequence_length=16, hash_buckets=1000),
    }
    content = ItemContent.from_loader(ItemLoader(dataset, ["text", "image"], **options))
    keras.utils.set_random_seed(0)
    encoders = {
        "image": ImageEncoder.small(output_dim=8, widths=(4, 8)),
        "text": TextEncoder.small(
            vocabulary_size=1000, sequence_length=16, hidden_dim=16, num_layers=1
        ),
    }
    for encoder in encoders.values():
        encoder.trainable = False  # standardize_features measures frozen encoders' outputs
    model = MultimodalRecommender.end_to_end(
        dataset, encoders, content, embedding_dim=8, standardize_features=True
    )
    # Items with and without text or image: their raw files in, as if new.
    items = [
        i
        for i in range(dataset.num_items)
        if dataset.media["image"][i] is None or dataset.text[i] is None
    ][:3] + [0, 1, 2]
    request = {
        "text": [dataset.text[i] or "" for i in items],
        "image": [
            str(dataset.root / dataset.media["image"][i]) if dataset.media["image"][i] else ""
            for i in items
        ],
        "users": [dataset.user_ids[0], "no-such-user"],
    }
    root = tmp_path_factory.mktemp("content_exports")
    args, paths = [sys.executable, "-c", EMBED, json.dumps(request)], {}
    for dtype in ("float32", "float16"):
        paths[dtype] = export_recommender(
            model, dataset, root / dtype, content_options=options, content_dtype=dtype
        )
        args += [paths[dtype], root / f"{dtype}.npz"]
    subprocess.run(list(map(str, args)), check=True, capture_output=True)
    return (
        model,
        encoders,
        items,
        {d: (path, np.load(root / f"{d}.npz")) for d, path in paths.items()},
    )


@pytest.mark.parametrize("content_dtype, atol", [("float32", 1e-5), ("float16", 2e-2)])
def test_embed_items_gives_an_end_to_end_models_content_vectors(
    content_exports, content_dtype, atol
):
    model, encoders, items, exported = content_exports
    path, served = exported[content_dtype]
    # The encoders' weights are stored in content_dtype (the fusion's stay float32).
    stored = tf.train.load_checkpoint(str(path / "embed_items" / "variables" / "variables"))
    halves = sum(d == tf.float16 for d in stored.get_variable_to_dtype_map().values())
    encoder_weights = sum(len(encoder.weights) for encoder in encoders.values())
    assert halves == (encoder_weights if content_dtype == "float16" else 0)
    expected = model.content_vectors().numpy()[items]
    np.testing.assert_allclose(served["items"], expected, atol=atol * np.abs(expected).max())
    users, _ = model.user_item_vectors()
    np.testing.assert_allclose(served["users"][0], users.numpy()[0], atol=1e-6)
    np.testing.assert_array_equal(served["users"][1], 0)


def _size(folder):
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


@pytest.mark.parametrize("quantize", ["float16", "int8"])
def test_quantized_export_serves_the_dequantized_vectors(trained, exports, quantize):
    dataset, model = trained
    full, _ = exports[None]
    path, served = exports[quantize]  # served by TensorFlow alone, no mmrec_tf
    users = USERS
    user_vectors, item_vectors = (v.numpy() for v in model.inference_vectors())
    users_q = dequantized(user_vectors, quantize)[users]
    items_q = dequantized(item_vectors, quantize)
    scores = users_q @ items_q.T
    train_users, train_items = dataset.interactions("train")
    for row, user in enumerate(users):
        scores[row, train_items[train_users == user]] = -np.inf
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(served["item_id"], np.array(dataset.item_ids)[expected])
    np.testing.assert_allclose(
        served["score"], np.take_along_axis(scores, expected, axis=1), rtol=1e-5, atol=1e-5
    )
    # The vectors, and the items' content and modality parts that explanations read,
    # take 2 or 4 times less room (int8 adds a float32 scale per row).
    tables = [user_vectors, item_vectors, *model.explanation_parts()[:2]]
    vector_bytes = sum(table.size for table in tables) * 4
    rows = sum(len(table) for table in tables)
    stored = vector_bytes / 2 if quantize == "float16" else vector_bytes / 4 + rows * 4
    saved = (_size(full / "variables") - _size(path / "variables")) / (vector_bytes - stored)
    assert saved == pytest.approx(1.0, abs=0.05)


def test_recommend_with_k_of_zero_or_less_gives_empty_results(trained, exports):
    import tensorflow as tf

    dataset, _ = trained
    served = tf.saved_model.load(str(exports[None][0]))
    users = tf.constant([dataset.user_ids[0], "no-such-user"])
    for k in (0, -3):
        out = served.recommend(users, tf.constant(k, tf.int32))
        assert out["item_id"].shape == (2, 0) and out["score"].shape == (2, 0)
    assert served.recommend(users, tf.constant(1, tf.int32))["item_id"].shape == (2, 1)


def _export_args(trained, tmp_path, *options, out="saved"):
    """The arguments of `mmrec-tf export` of the trained model (saved once) with
    `options`, into tmp_path/out."""
    dataset, model = trained
    if not (tmp_path / "model.keras").exists():
        model.save(tmp_path / "model.keras")
    common = ("export", "--model", tmp_path / "model.keras", "--data", dataset.root)
    return [str(arg) for arg in (*common, *options, "--out", tmp_path / out)]


def _cli_export(trained, tmp_path, *options, out="saved"):
    """`mmrec-tf export` of the trained model with `options`, into tmp_path/out, in its
    own process: the process's result."""
    return run_cli(*_export_args(trained, tmp_path, *options, out=out))


def _refused_export(trained, tmp_path, capsys, *options, out="saved"):
    """The one line of `mmrec-tf export` refusing `options`, run in this process (the
    refusal needs no fresh one): it exits with status 2 and writes nothing."""
    capsys.readouterr()
    assert main(_export_args(trained, tmp_path, *options, out=out)) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.count("\n") == 1, printed
    assert printed.err.startswith("mmrec-tf: error: ") and not (tmp_path / out).exists()
    return printed.err


def _assert_recommends_three(dataset, saved):
    printed = assert_clean_success(
        run_cli("recommend", "--model", saved, "--user", dataset.user_ids[0], "-k", "3")
    )
    assert len(printed.strip().splitlines()) == 3


@pytest.mark.large  # two processes: the export, then recommend
def test_a_float16_export_and_its_recommendations_print_no_tensorflow_logging(trained, tmp_path):
    """float16 vectors run operations that oneDNN lacks on CPUs without AVX-512 FP16,
    and TensorFlow logs an error line for each process that runs them."""
    exported = _cli_export(trained, tmp_path, "--quantize", "float16")
    assert "in float16" in assert_clean_success(exported)
    _assert_recommends_three(trained[0], tmp_path / "saved")


@pytest.mark.large  # three processes, two of them exporting a partitioned index
def test_export_with_a_partitioned_index_from_the_command_line(trained, tmp_path, capsys):
    index = ("--index", "partitioned", "--partitions", "6", "--probe", "2")
    exported = _cli_export(trained, tmp_path, *index)
    assert "partitioned index: 6 partitions, 2 probed" in assert_clean_success(exported)
    _assert_recommends_three(trained[0], tmp_path / "saved")
    refused = _refused_export(
        trained, tmp_path, capsys, "--index", "exact", "--probe", "2", out="exact"
    )
    assert "settings of a partitioned index (--index partitioned)" in refused
    # More partitions than the demo's 200 items: one per item, and said so.
    capped = _cli_export(
        trained, tmp_path, "--index", "partitioned", "--partitions", "500", out="c"
    )
    assert "200 partitions, 16 probed" in assert_clean_success(capped)


def test_an_unknown_index_is_refused_in_one_line(trained, tmp_path, capsys):
    refused = _refused_export(trained, tmp_path, capsys, "--index", "ivf")
    assert "the index (--index) must be one of exact, partitioned; received 'ivf'" in refused


def test_an_export_without_titles_names_items_by_id(trained, exports, tmp_path):
    import tensorflow as tf

    dataset, model = trained
    title = dataset.metadata["title"][2]  # the demo's items have titles
    assert title != dataset.item_ids[2]
    with_titles, _ = exports[None]  # the default export: with titles
    without = export_recommender(model, dataset, tmp_path / "ids", titles=False)
    asked = tf.constant([dataset.item_ids[2], "no-such-item"])
    loaded = [tf.saved_model.load(str(path)) for path in (with_titles, without)]
    titled, untitled = (m.title(asked)["title"].numpy().astype(str) for m in loaded)
    assert titled.tolist() == [title, ""]
    assert untitled.tolist() == [dataset.item_ids[2], ""]
    assert _size(without / "variables") < _size(with_titles / "variables")
