"""Measuring sample quality: FID, KID, precision and recall in Inception or domain feature space.

What training uses, its one way in: `TrainingEvaluator` (the measurements every --eval-every steps) and
`metric_name` (how a metric is written in the logs).
"""

from .evaluate import TrainingEvaluator, metric_name

__all__ = ["TrainingEvaluator", "metric_name"]
