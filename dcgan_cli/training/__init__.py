"""Training: plan a run (settings, data, run folder), then fit it, resumable to the bit."""

from .loop import fit
from .plan import RunPlan, plan_run, train
from .request import TrainRequest
from .result import NonFiniteLossError, TrainResult

__all__ = ["NonFiniteLossError", "RunPlan", "TrainRequest", "TrainResult", "fit", "plan_run", "train"]
