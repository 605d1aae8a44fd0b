"""Callbacks that drive the stages: backbone freezing and the per-stage summary."""
from callbacks.freeze import BackboneFreeze
from callbacks.stage_summary import StageSummary

__all__ = ["BackboneFreeze", "StageSummary"]
