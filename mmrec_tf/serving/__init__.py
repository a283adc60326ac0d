"""Exporting a trained recommender as a self-contained SavedModel that serves recommendations."""

from mmrec_tf.serving.explainer import Explainer
from mmrec_tf.serving.export import export_recommender

__all__ = ["Explainer", "export_recommender"]
