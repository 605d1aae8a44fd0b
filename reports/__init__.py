"""What a person reads of a run: figures, the per-stage validation analysis, W&B media and report.md.
Called by `callbacks.StageReport`; nothing here drives training."""
