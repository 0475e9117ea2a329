"""Training: plan a run (settings, data, run folder), then fit it, resumable to the bit."""

from .loop import NonFiniteLossError, TrainResult, fit
from .plan import RunPlan, plan_run, train
from .request import TrainRequest

__all__ = ["NonFiniteLossError", "RunPlan", "TrainRequest", "TrainResult", "fit", "plan_run", "train"]
