"""Callbacks that drive the stages: backbone freezing and the per-stage summary."""
from callbacks.atomic_checkpoint_io import AtomicCheckpointIO
from callbacks.freeze import BackboneFreeze
from callbacks.stage_summary import StageSummary

__all__ = ["AtomicCheckpointIO", "BackboneFreeze", "StageSummary"]
