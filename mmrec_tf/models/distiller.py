"""Distillation: a small recommender trained to rank as a large one does."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from mmrec_tf.models.losses import per_replica


class Distiller(keras.Model):
    """Trains `student` (any `Recommender`) to reproduce `teacher`'s rankings.

    For a batch of BPR triples, the candidates are the batch's positive and
    negative items (2B items, shared by the batch's users). With teacher
    scores t and student scores s of each user over the candidates, the loss
    is

        (1 − α) τ² KL(softmax(t / τ) ‖ softmax(s / τ)) + α L_student

    (Hinton et al.'s distillation over the candidates; L_student is the
    student's own loss on the triples, its regulariser included). The
    teacher's user and item vectors are computed once (`inference_vectors`)
    and kept fixed, so the teacher costs a dot product per step whatever its
    size. Train with `fit` on `bpr_triples`; `RankingEvaluation` evaluates the
    student; then export `distiller.student` like any model.

    Example:
    >>> import tempfile
    >>> from mmrec_tf.data import bpr_triples, generate_demo_dataset, load_dataset
    >>> from mmrec_tf.models import MatrixFactorization
    >>> dataset = load_dataset(generate_demo_dataset(tempfile.mkdtemp() + "/demo"))
    >>> teacher = MatrixFactorization.from_dataset(dataset, embedding_dim=32)
    >>> student = MatrixFactorization.from_dataset(dataset, embedding_dim=4)
    >>> distiller = Distiller(student, teacher)
    >>> distiller.compile(optimizer="adam", jit_compile=True)
    >>> _ = distiller.fit(bpr_triples(dataset, 256, seed=0), epochs=1, verbose=0)
    >>> distiller.student.score_users([0]).shape
    (1, 200)
    """

    def __init__(self, student, teacher, temperature=1.0, alpha=0.5, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1]. Received: {alpha}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0. Received: {temperature}")
        if (student.num_users, student.num_items) != (teacher.num_users, teacher.num_items):
            raise ValueError(
                f"the student has {student.num_users} users and {student.num_items} items, "
                f"the teacher {teacher.num_users} and {teacher.num_items}"
            )
        self.student = student
        self.temperature = temperature
        self.alpha = alpha
        users, items = (np.asarray(ops.convert_to_numpy(v)) for v in teacher.inference_vectors())
        self.teacher_users = self.add_weight(
            shape=users.shape, trainable=False, initializer="zeros", name="teacher_users"
        )
        self.teacher_items = self.add_weight(
            shape=items.shape, trainable=False, initializer="zeros", name="teacher_items"
        )
        self.teacher_users.assign(users)
        self.teacher_items.assign(items)

    def call(self, inputs, training=None):
        student = self.student
        user_rows, item_rows = student.batch_vectors(inputs, training=training)
        user = student.batch_users(user_rows, item_rows, inputs, training=training)
        candidates = ops.concatenate([inputs["positive_item"], inputs["negative_item"]], axis=0)
        teacher_user = ops.take(self.teacher_users, inputs["user_index"], axis=0)
        teacher_items = ops.take(self.teacher_items, candidates, axis=0)
        return {
            # One pass of the student: its own scores from the same vectors.
            "student": student.batch_scores(user, item_rows, inputs, training=training),
            "student_candidates": ops.matmul(user, ops.transpose(item_rows(candidates))),
            "teacher_candidates": ops.matmul(teacher_user, ops.transpose(teacher_items)),
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        tau = self.temperature
        teacher = ops.softmax(y_pred["teacher_candidates"] / tau, axis=-1)
        log_student = ops.log_softmax(y_pred["student_candidates"] / tau, axis=-1)
        log_teacher = ops.log(ops.maximum(teacher, 1e-12))
        divergence = ops.mean(ops.sum(teacher * (log_teacher - log_student), axis=-1))
        divergence = per_replica(divergence)  # the student's loss is already per replica
        own = self.student.compute_loss(x=x, y_pred=y_pred["student"], training=training)
        return (1.0 - self.alpha) * tau**2 * divergence + self.alpha * own

    # Evaluation during training (RankingEvaluation) ranks with the student.
    def ranking_scorer(self):
        return self.student.ranking_scorer()

    def score_users(self, user_indices):
        return self.student.score_users(user_indices)

    def history_window(self):
        return self.student.history_window()
