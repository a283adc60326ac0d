"""One shared check for every recommender: build from the dataset, train with XLA,
beat MostPopular, save, reload through `load_recommender`, rank the same."""

from __future__ import annotations

import keras
import numpy as np

from mmrec_tf.data import bpr_triples
from mmrec_tf.evaluation import evaluate_ranking
from mmrec_tf.models import MostPopular, load_recommender


def run_recommender_test(
    model_class,
    dataset,
    features=None,
    present=None,
    *,
    tmp_path,
    epochs: int = 15,
    learning_rate: float = 0.01,
    beats_most_popular: bool = True,
    seed: int = 0,
    **options,
):
    """Trains `model_class.from_dataset(dataset, features, present, **options)` and checks
    what every recommender must do; returns the trained model."""
    keras.utils.set_random_seed(seed)
    model = model_class.from_dataset(dataset, features, present, **options)
    untrained = model.score_users(np.arange(6))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=True)
    # A model that reads histories trains on each positive's history.
    history_options = {
        "history_length": getattr(model, "history_length", 0),
        "history_horizon": getattr(model, "history_horizon", 1),
    }
    triples = bpr_triples(dataset, 256, seed=seed, **history_options)
    history = model.fit(triples, epochs=epochs, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    scores = model.score_users(np.arange(6))
    assert scores.shape == (6, dataset.num_items)
    assert np.abs(scores - untrained).max() > 1e-3, "training changed nothing"
    if beats_most_popular:
        ours = evaluate_ranking(model.score_users, dataset, "valid")["recall@20"]
        popular = MostPopular.from_dataset(dataset).score_users
        assert ours > evaluate_ranking(popular, dataset, "valid")["recall@20"]
    path = tmp_path / f"{model_class.__name__}.keras"
    model.save(path)
    reloaded = load_recommender(path)
    assert type(reloaded) is model_class
    assert reloaded.get_config() == model.get_config()
    np.testing.assert_allclose(reloaded.score_users(np.arange(6)), scores, atol=1e-5)
    return model
