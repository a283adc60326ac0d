"""Recommenders and baselines."""

from mmrec_tf.models.content_knn import ContentKNN
from mmrec_tf.models.distiller import Distiller
from mmrec_tf.models.ease import EASE
from mmrec_tf.models.history_recommender import HistoryRecommender
from mmrec_tf.models.item_knn import ItemKNN
from mmrec_tf.models.item_to_item import ItemToItemRecommender
from mmrec_tf.models.lightgcn import LightGCN
from mmrec_tf.models.losses import BPRLoss, CatalogueSoftmaxLoss
from mmrec_tf.models.matrix_factorization import MatrixFactorization
from mmrec_tf.models.most_popular import MostPopular
from mmrec_tf.models.multimodal_recommender import MultimodalRecommender
from mmrec_tf.models.private_gradients import PrivateGradients
from mmrec_tf.models.recommender import Recommender
from mmrec_tf.models.saving import load_recommender
from mmrec_tf.models.vbpr import VBPR

# Every trainable recommender by name, as configuration files name them.
RECOMMENDERS = {
    model.__name__: model
    for model in (MatrixFactorization, LightGCN, VBPR, MultimodalRecommender, HistoryRecommender)
}

__all__ = [
    "RECOMMENDERS",
    "BPRLoss",
    "CatalogueSoftmaxLoss",
    "ContentKNN",
    "Distiller",
    "EASE",
    "HistoryRecommender",
    "ItemKNN",
    "ItemToItemRecommender",
    "LightGCN",
    "MatrixFactorization",
    "MostPopular",
    "MultimodalRecommender",
    "PrivateGradients",
    "Recommender",
    "VBPR",
    "load_recommender",
]
