"""Evaluation: top-K metrics, the full-ranking protocol, metrics by item popularity."""

from mmrec_tf.evaluation.callback import RankingEvaluation
from mmrec_tf.evaluation.metrics import (
    catalogue_coverage,
    hit_rate_at_k,
    intra_list_diversity,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
)
from mmrec_tf.evaluation.popularity_groups import (
    POPULARITY_GROUPS,
    item_popularity_groups,
    metrics_by_popularity,
)
from mmrec_tf.evaluation.protocol import (
    DEFAULT_KS,
    HISTORIES,
    MASKS,
    evaluate_ranking,
    history_scorer,
)

__all__ = [
    "DEFAULT_KS",
    "HISTORIES",
    "MASKS",
    "POPULARITY_GROUPS",
    "RankingEvaluation",
    "catalogue_coverage",
    "evaluate_ranking",
    "history_scorer",
    "hit_rate_at_k",
    "intra_list_diversity",
    "item_popularity_groups",
    "metrics_by_popularity",
    "ndcg_at_k",
    "novelty",
    "precision_at_k",
    "recall_at_k",
]
