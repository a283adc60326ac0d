import keras
import numpy as np
import pytest
import tensorflow as tf

from mmrec_tf.data import load_dataset, poisson_triples
from mmrec_tf.models import (
    HistoryRecommender,
    LightGCN,
    MatrixFactorization,
    MultimodalRecommender,
    PrivateGradients,
)
from mmrec_tf.models.private_gradients import squared_norm
from mmrec_tf.training.inputs import load_features


def _batch(dataset, expected=32, seed=0):
    return next(iter(poisson_triples(dataset, expected, epochs=range(1), seed=seed)))


def _models(demo_dir, demo_features):
    dataset = load_dataset(demo_dir)
    features, present = load_features(dataset, demo_features, ["text", "image"])
    keras.utils.set_random_seed(0)
    return dataset, {
        "mf": MatrixFactorization.from_dataset(dataset, embedding_dim=8),
        # Dense layers and an item-item graph: gradients that are not rows of a table.
        "multimodal": MultimodalRecommender.from_dataset(
            dataset, features, present, embedding_dim=8, num_graph_layers=0, item_graph_k=3
        ),
    }


def _reference_sum(model, batch, clip):
    """Σ over real examples of each one's gradient clipped to `clip`, one at a time."""
    total = [np.zeros(v.shape, np.float32) for v in model.trainable_variables]
    real = batch["example_weight"].numpy() > 0
    for i in np.flatnonzero(real):
        one = {k: v[i : i + 1] for k, v in batch.items() if k != "example_weight"}
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model.example_losses(one, model(one, training=True)))
        gradients = [
            tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, model.trainable_variables)
        ]
        norm = np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in gradients))
        for t, g in zip(total, gradients, strict=True):
            t += g * min(1.0, clip / norm)
    return total


@pytest.mark.parametrize("name", ["mf", "multimodal"])
def test_the_gradient_is_the_clipped_sum_over_the_expected_batch(demo_dir, demo_features, name):
    dataset, models = _models(demo_dir, demo_features)
    model = models[name]
    batch = _batch(dataset)
    model(batch)
    # A clip between the examples' norms: some are clipped, some not.
    private = PrivateGradients(l2_clip=1.0, noise_multiplier=0.0, expected_batch_size=32)
    _, _, norms = private.gradients(model, batch, 0)
    real = batch["example_weight"].numpy() > 0
    clip = float(np.median(norms.numpy()[real]))
    private = PrivateGradients(l2_clip=clip, noise_multiplier=0.0, expected_batch_size=32)
    compiled = tf.function(lambda b: private.gradients(model, b, 0), jit_compile=True)
    gradients, losses, norms = compiled(batch)
    reference = _reference_sum(model, batch, clip)
    for got, want in zip(gradients, reference, strict=True):
        np.testing.assert_allclose(got.numpy() * 32, want, atol=2e-5, rtol=1e-4)
    assert 0 < np.mean(norms.numpy()[real] > clip) < 1


def test_one_example_moves_the_gradient_by_at_most_the_clip(demo_dir):
    dataset = load_dataset(demo_dir)
    model = MatrixFactorization.from_dataset(dataset, embedding_dim=8)
    batch = _batch(dataset)
    model(batch)
    for variable in model.trainable_variables:
        variable.assign(variable * 50.0)  # gradients far beyond the clip
    private = PrivateGradients(l2_clip=0.5, noise_multiplier=0.0, expected_batch_size=32)
    weights = batch["example_weight"].numpy()
    _, _, norms = private.gradients(model, batch, 0)
    lone = np.zeros_like(weights)
    # The example whose gradient is largest: a saturated BPR pair has almost none.
    lone[np.argmax(np.where(weights > 0, norms.numpy(), 0.0))] = 1.0
    for kept, norm in ((lone, 0.5), (np.zeros_like(weights), 0.0)):
        gradients, _, _ = private.gradients(model, {**batch, "example_weight": kept}, 0)
        total = np.sqrt(sum(np.sum(g.numpy() ** 2) for g in gradients)) * 32
        assert total == pytest.approx(norm, abs=1e-5)


def test_the_noise_has_the_configured_deviation_and_a_secret_seed(demo_dir):
    dataset = load_dataset(demo_dir)
    model = MatrixFactorization.from_dataset(dataset, embedding_dim=8)
    batch = _batch(dataset)
    model(batch)
    silent = {**batch, "example_weight": tf.zeros_like(batch["example_weight"])}
    private = PrivateGradients(l2_clip=0.5, noise_multiplier=2.0, expected_batch_size=100)

    def noise(private, step):
        gradients, _, _ = private.gradients(model, silent, step)
        return np.concatenate([g.numpy().ravel() for g in gradients])

    first = noise(private, 0)
    # Pure noise N(0, (σC)²) over the expected batch: 0.01 for 2,800 values.
    assert np.std(first) == pytest.approx(2.0 * 0.5 / 100, rel=0.06)
    assert abs(np.mean(first)) < 0.001
    np.testing.assert_array_equal(first, noise(private, 0))
    assert not np.allclose(first, noise(private, 1))
    another = PrivateGradients(l2_clip=0.5, noise_multiplier=2.0, expected_batch_size=100)
    assert not np.allclose(first, noise(another, 0))


def test_squared_norm_adds_rows_with_the_same_index_before_squaring():
    slices = tf.IndexedSlices(
        tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), tf.constant([0, 2, 0]), [3, 2]
    )
    assert float(squared_norm(slices)) == pytest.approx(6**2 + 8**2 + 3**2 + 4**2)
    assert float(squared_norm(tf.constant([3.0, 4.0]))) == pytest.approx(25.0)


def test_models_whose_examples_read_other_interactions_are_refused(demo_dir, demo_features):
    dataset = load_dataset(demo_dir)
    features, present = load_features(dataset, demo_features, ["text"])
    private = PrivateGradients(l2_clip=1.0, noise_multiplier=1.0, expected_batch_size=32)
    coupled = {
        "user-item graph": MultimodalRecommender.from_dataset(dataset, features, present),
        "graph of every": LightGCN.from_dataset(dataset, embedding_dim=8),
        "history": HistoryRecommender.from_dataset(dataset, features, present, history_length=4),
    }
    for reason, model in coupled.items():
        with pytest.raises(ValueError, match=f"cannot train with private gradients: .*{reason}"):
            model.compile(optimizer="adam", private_gradients=private)


def test_settings_out_of_range_are_refused():
    for wrong in ({"l2_clip": 0.0}, {"noise_multiplier": -1.0}, {"expected_batch_size": 0}):
        settings = {"l2_clip": 1.0, "noise_multiplier": 1.0, "expected_batch_size": 8, **wrong}
        with pytest.raises(ValueError, match=next(iter(wrong))):
            PrivateGradients(**settings)


def test_private_training_needs_poisson_batches(demo_dir):
    from mmrec_tf.data import bpr_triples

    dataset = load_dataset(demo_dir)
    model = MatrixFactorization.from_dataset(dataset, embedding_dim=8)
    private = PrivateGradients(l2_clip=1.0, noise_multiplier=1.0, expected_batch_size=32)
    model.compile(optimizer="adam", private_gradients=private)
    with pytest.raises(ValueError, match="Poisson-sampled batches with an example_weight"):
        model.fit(bpr_triples(dataset, 32, seed=0), epochs=1, verbose=0)


def test_private_popularity_adds_laplace_noise_of_scale_one_over_epsilon():
    from mmrec_tf.models import MostPopular

    items = np.repeat(np.arange(4000), 50)  # every count 50
    exact = MostPopular(items, 4000).popularity
    noisy = MostPopular(items, 4000, epsilon=0.5, seed=1).popularity
    # Laplace(1/ε): mean 0, standard deviation √2/ε.
    assert np.mean(noisy - exact) == pytest.approx(0.0, abs=0.15)
    assert np.std(noisy - exact) == pytest.approx(np.sqrt(2) / 0.5, rel=0.05)
    same = MostPopular(items, 4000, epsilon=0.5, seed=1).popularity
    np.testing.assert_array_equal(noisy, same)
    assert not np.array_equal(MostPopular(items, 4000, epsilon=0.5).popularity, noisy)
    with pytest.raises(ValueError, match="epsilon must be > 0"):
        MostPopular(items, 4000, epsilon=0.0)
