import keras
import numpy as np
import pytest

from mmrec_tf.data import bpr_triples, load_dataset
from mmrec_tf.models import Distiller, MatrixFactorization


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _mf(dataset, dim, seed):
    keras.utils.set_random_seed(seed)
    return MatrixFactorization.from_dataset(dataset, embedding_dim=dim, l2_regularization=0.0)


def test_the_loss_is_the_formula(demo_dir):
    dataset = load_dataset(demo_dir)
    teacher, student = _mf(dataset, 8, 0), _mf(dataset, 4, 1)
    distiller = Distiller(student, teacher, temperature=2.0, alpha=0.25)
    batch = {k: v.numpy() for k, v in next(iter(bpr_triples(dataset, 32, seed=0))).items()}
    loss = float(distiller.compute_loss(x=batch, y_pred=distiller(batch, training=True)))
    # NumPy: KL over the batch's 64 candidate items, τ² scaled, plus α × BPR.
    candidates = np.concatenate([batch["positive_item"], batch["negative_item"]])
    t_users, t_items = (v.numpy() for v in teacher.inference_vectors())
    s_users, s_items = student.user_embedding.numpy(), student.item_embedding.numpy()
    users = batch["user_index"]
    t = _softmax(t_users[users] @ t_items[candidates].T / 2.0)
    s = _softmax(s_users[users] @ s_items[candidates].T / 2.0)
    divergence = np.mean(np.sum(t * (np.log(t) - np.log(s)), axis=-1))
    positive = np.sum(s_users[users] * s_items[batch["positive_item"]], axis=-1)
    negative = np.sum(s_users[users] * s_items[batch["negative_item"]], axis=-1)
    bpr = np.mean(np.log1p(np.exp(-(positive - negative))))
    assert loss == pytest.approx(0.75 * 4.0 * divergence + 0.25 * bpr, rel=1e-4)


@pytest.mark.large  # three models trained 20 epochs each, to a target
def test_a_distilled_student_ranks_closer_to_its_teacher(demo_dir):
    dataset = load_dataset(demo_dir)
    teacher = _mf(dataset, 32, 0)
    teacher.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=True)
    teacher.fit(bpr_triples(dataset, 256, seed=0), epochs=20, verbose=0)

    def overlap(student):
        users = np.arange(dataset.num_users)
        top = lambda scores: np.argsort(-scores, axis=1)[:, :20]  # noqa: E731
        a, b = top(student.score_users(users)), top(teacher.score_users(users))
        return np.mean([len(set(x) & set(y)) / 20 for x, y in zip(a, b, strict=True)])

    alone = _mf(dataset, 4, 1)
    alone.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=True)
    alone.fit(bpr_triples(dataset, 256, seed=1), epochs=20, verbose=0)
    distiller = Distiller(_mf(dataset, 4, 1), teacher, alpha=0.0)
    distiller.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=True)
    distiller.fit(bpr_triples(dataset, 256, seed=1), epochs=20, verbose=0)
    assert overlap(distiller.student) > overlap(alone) + 0.05


def test_bad_settings_are_refused(demo_dir):
    dataset = load_dataset(demo_dir)
    teacher = _mf(dataset, 8, 0)
    with pytest.raises(ValueError, match="alpha must be in"):
        Distiller(_mf(dataset, 4, 1), teacher, alpha=1.5)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        Distiller(_mf(dataset, 4, 1), teacher, temperature=0)
    other = MatrixFactorization(dataset.num_users, dataset.num_items + 1, embedding_dim=4)
    with pytest.raises(ValueError, match="the teacher"):
        Distiller(other, teacher)
