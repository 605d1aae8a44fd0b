"""Lightning callbacks that drive the stages, one job each."""
from callbacks.atomic_checkpoint_io import AtomicCheckpointIO
from callbacks.feature_cache import FeatureCache
from callbacks.freeze import BackboneFreeze
from callbacks.open_set import OpenSetCalibration
from callbacks.stage_history import StageHistory
from callbacks.stage_report import StageReport

__all__ = ["AtomicCheckpointIO", "BackboneFreeze", "FeatureCache", "OpenSetCalibration", "StageHistory", "StageReport"]
