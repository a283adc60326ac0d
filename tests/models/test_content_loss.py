"""The content view's ranking loss: L = L_rank(u · v) + λ L_rank(u · c) + the L2 term."""

import json
import zipfile

import keras
import numpy as np
import pytest

from mmrec_tf.data import bpr_triples, load_dataset
from mmrec_tf.models import MultimodalRecommender, load_recommender

WEIGHT = 0.7  # λ
L2 = 0.01
TEMPERATURE = 0.5


@pytest.fixture(scope="module")
def demo(demo_dir):
    dataset = load_dataset(demo_dir)
    features = {"text": np.random.default_rng(0).normal(size=(dataset.num_items, 6))}
    batch = next(iter(bpr_triples(dataset, 32, seed=0)))
    return dataset, features, {k: v.numpy() for k, v in batch.items()}


def _model(demo, content_loss_weight=WEIGHT, **options):
    dataset, features, _ = demo
    keras.utils.set_random_seed(0)
    model = MultimodalRecommender.from_dataset(
        dataset,
        features,
        embedding_dim=8,
        num_graph_layers=0,
        use_self_attention=False,  # the content vector has a one-line NumPy reference
        l2_regularization=L2,
        content_loss_weight=content_loss_weight,
        **options,
    )
    projection = model.item_side.content_tower.projections["text"]
    rng = np.random.default_rng(1)
    projection.bias.assign(rng.normal(size=projection.bias.shape).astype("float32"))
    return model


def _numpy_tables(model, features):
    """(users, items v = c + e, content c) in float64: with one modality always present
    and no self-attention, c = x W + b."""
    projection = model.item_side.content_tower.projections["text"]
    content = features["text"] @ projection.kernel.numpy() + projection.bias.numpy()
    items = content + model.item_side.item_embedding.numpy()
    return model.user_side.user_embedding.numpy().astype(np.float64), items, content


def _bpr(users, items, batch):
    difference = np.sum(
        users * (items[batch["positive_item"]] - items[batch["negative_item"]]), axis=-1
    )
    return np.log1p(np.exp(-difference))  # −log σ(s⁺ − s⁻)


def _softmax(users, items, batch):
    logits = users @ items.T / TEMPERATURE
    peak = logits.max(axis=1, keepdims=True)
    log_total = np.log(np.exp(logits - peak).sum(axis=1)) + peak[:, 0]
    return log_total - logits[np.arange(len(logits)), batch["positive_item"]]


@pytest.mark.parametrize("loss", ["bpr", "softmax"])
def test_loss_adds_the_content_view(demo, loss):
    _, features, batch = demo
    model = _model(demo, loss=loss, temperature=TEMPERATURE)
    y_pred = model(batch, training=True)
    assert "content" in y_pred
    users, items, content = _numpy_tables(model, features)
    u = users[batch["user_index"]]
    for key in ("positive_item", "negative_item"):
        np.testing.assert_allclose(
            y_pred["content"][key], np.sum(u * content[batch[key]], axis=-1), rtol=1e-4, atol=1e-4
        )
        np.testing.assert_allclose(
            y_pred[key], np.sum(u * items[batch[key]], axis=-1), rtol=1e-4, atol=1e-4
        )
    ranking = _bpr if loss == "bpr" else _softmax
    if loss == "softmax":
        np.testing.assert_allclose(y_pred["content"]["catalogue"], u @ content.T, atol=1e-4)
    l2 = L2 * (
        np.sum(u**2, axis=-1)
        + np.sum(items[batch["positive_item"]] ** 2, axis=-1)
        + np.sum(items[batch["negative_item"]] ** 2, axis=-1)
    )
    per_example = ranking(u, items, batch) + WEIGHT * ranking(u, content, batch) + l2
    np.testing.assert_allclose(
        float(model.compute_loss(x=batch, y_pred=y_pred)), per_example.mean(), rtol=1e-5
    )
    # DP-SGD's per-example losses, of which compute_loss is the mean.
    np.testing.assert_allclose(model.example_losses(batch, y_pred), per_example, rtol=1e-4)
    # The content term is really there: without it the loss is smaller by λ L(u · c).
    content_term = WEIGHT * ranking(u, content, batch).mean()
    assert content_term > 0.05
    plain = _model(demo, content_loss_weight=0.0, loss=loss, temperature=TEMPERATURE)
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(
        float(plain.compute_loss(x=batch, y_pred=plain(batch, training=True))),
        per_example.mean() - content_term,
        rtol=1e-5,
    )


def test_no_content_view_without_weight_or_outside_training(demo):
    _, _, batch = demo
    assert "content" not in _model(demo, content_loss_weight=0.0)(batch, training=True)
    assert "content" not in _model(demo)(batch, training=False)


def test_invalid_weights(demo):
    dataset, features, _ = demo
    with pytest.raises(ValueError, match="content_loss_weight must be ≥ 0. Received: -0.1"):
        MultimodalRecommender.from_dataset(dataset, features, content_loss_weight=-0.1)
    with pytest.raises(ValueError, match="content_loss_weight > 0 needs content"):
        MultimodalRecommender.from_dataset(dataset, {}, content_loss_weight=0.5)


def test_trains_saves_and_reloads_with_its_weight(demo, tmp_path):
    dataset, _, _ = demo
    model = _model(demo)
    model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=True)
    before = model.score_users(np.arange(5))
    history = model.fit(bpr_triples(dataset, 512, seed=0), epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    scores = model.score_users(np.arange(5))
    assert np.abs(scores - before).max() > 1e-3
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = load_recommender(path)
    assert type(reloaded) is MultimodalRecommender
    assert reloaded.content_loss_weight == WEIGHT
    assert reloaded.get_config()["content_loss_weight"] == WEIGHT
    np.testing.assert_allclose(reloaded.score_users(np.arange(5)), scores, atol=1e-5)

    # A model saved before the refactor has no content_loss_weight in its config.
    old = tmp_path / "old.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(old, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename == "config.json":
                config = json.loads(data)
                del config["config"]["content_loss_weight"]
                data = json.dumps(config).encode()
            target.writestr(entry, data)
    with pytest.raises(ValueError) as refused:
        load_recommender(old)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"{old}: ") and message.endswith("train the run again")
