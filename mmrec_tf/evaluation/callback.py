"""Validation ranking metrics during `fit`, for model selection and early stopping."""

from __future__ import annotations

import keras

from mmrec_tf.evaluation.protocol import evaluate_ranking, history_scorer


class RankingEvaluation(keras.callbacks.Callback):
    """Evaluates full ranking on a split after every `every` epochs and logs `val_<metric>`.

    Put it before `keras.callbacks.EarlyStopping(monitor="val_recall@20",
    mode="max", restore_best_weights=True)` in the callbacks list: the logs it
    writes are what early stopping reads. `history` keeps every evaluation.

    Args:
        dataset: `MultimodalDataset`.
        split: `"valid"` (default) or `"test"`.
        ks: cut-offs. Defaults to (20,).
        every: int. Evaluate every this many epochs. Defaults to 1.
        mask: as in `evaluate_ranking`. Defaults to `"train+valid"`.
        content: `ItemContent` of an end-to-end model: the whole catalogue is
            re-encoded (`model.refresh_content`) before each evaluation.
        sample_users: int. Rank for this many of the split's users, the same
            sample every epoch (`evaluate_ranking`'s `sample_users`, seed 0).
            Defaults to None (all).
    """

    def __init__(
        self,
        dataset,
        split="valid",
        ks=(20,),
        every=1,
        mask="train+valid",
        content=None,
        sample_users=None,
    ):
        super().__init__()
        self.sample_users = sample_users
        self.dataset = dataset
        self.split = split
        self.ks = tuple(ks)
        self.every = every
        self.mask = mask
        self.content = content
        self.history: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        if self.content is not None:
            # Frozen encoders' rows are as they were: only the training ones move.
            self.model.refresh_content(self.content, include_frozen=False)
        results = evaluate_ranking(
            history_scorer(self.model, self.dataset),
            self.dataset,
            self.split,
            ks=self.ks,
            mask=self.mask,
            beyond_accuracy_k=max(self.ks),
            sample_users=self.sample_users,
        )
        self.history.append({"epoch": epoch + 1, **results})
        if logs is not None:
            prefix = "val_" if self.split == "valid" else f"{self.split}_"
            logs.update({f"{prefix}{name}": value for name, value in results.items()})
