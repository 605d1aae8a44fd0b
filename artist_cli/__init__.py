"""Command-line entry points: training stages, evaluation, the embedded sample."""
