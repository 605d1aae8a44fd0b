""""Unknown artist": how far a painting is from every artist a model knows, and where to draw the line.

A classifier always names one of its artists. An open-set score says how confident that naming is;
below a threshold the answer is "unknown artist (closest: X, p)". The threshold is calibrated on
the validation part at the end of each training stage (`callbacks.OpenSetCalibration`) so that a
chosen share of known-artist paintings (95% by default) stays above it, separately for each set of
test-time views (averaging views changes the scores), and is stored in the checkpoint's metadata.

Scores (higher = more like a known artist), from the per-view logits (V, N, K):
- `max_softmax`: the top probability of the view-averaged softmax (Hendrycks & Gimpel 2017);
- `max_logit`: the top view-averaged logit (Hendrycks et al. 2022);
- `energy`: log-sum-exp of the view-averaged logits, the negative free energy (Liu et al. 2020).
Which one the project calibrates is chosen by measurement (docs/experiments.md, "Unknown artists").
"""
from __future__ import annotations

import torch
from torchmetrics.functional.classification import binary_auroc

SCORES = {
    "max_softmax": lambda logits: logits.softmax(dim=2).mean(dim=0).max(dim=1).values,
    "max_logit": lambda logits: logits.mean(dim=0).max(dim=1).values,
    "energy": lambda logits: torch.logsumexp(logits.mean(dim=0), dim=1),
}
META_KEY = "open_set"


def open_set_score(name: str, logits: torch.Tensor) -> torch.Tensor:
    """(N,) scores from (V, N, K) per-view logits (or (N, K) logits of one pass)."""
    if name not in SCORES:
        raise ValueError(f"unknown open-set score {name!r}; choose from {', '.join(SCORES)}")
    return SCORES[name](logits if logits.dim() == 3 else logits[None])


def threshold_keeping(scores: torch.Tensor, keep: float = 0.95) -> float:
    """The score above which a share `keep` of these (known-artist) scores lies."""
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must lie in (0, 1], got {keep}")
    if scores.numel() == 0:
        raise ValueError("no known-artist scores to calibrate a threshold on")
    return float(torch.quantile(scores.double(), 1.0 - keep))


def views_key(views) -> str:
    return ",".join(views)


def threshold_for(open_set: dict | None, views) -> float | None:
    """The checkpoint's threshold for these views; None when it has none (rejection then stays off)."""
    if not open_set:
        return None
    return open_set.get("thresholds", {}).get(views_key(views))


def fpr_at_tpr(known: torch.Tensor, unknown: torch.Tensor, tpr: float = 0.95) -> float:
    """Share of unknown-artist paintings accepted when the threshold keeps `tpr` of the known ones."""
    return float((unknown >= threshold_keeping(known, tpr)).double().mean())


def open_set_report(known: torch.Tensor, unknown: torch.Tensor, threshold: float | None) -> dict:
    """AUROC of known against unknown, FPR at 95% TPR and, at `threshold`, the shares rejected."""
    if known.numel() == 0 or unknown.numel() == 0:
        raise ValueError("an open-set report needs paintings by known and by unknown artists")
    scores = torch.cat([known, unknown]).double()
    # Rescaled into [0, 1] (order kept): torchmetrics squashes scores outside it with a sigmoid,
    # which would tie large energies.
    scores = (scores - scores.min()) / (scores.max() - scores.min()).clamp_min(1e-12)
    is_known = torch.cat([torch.ones(len(known)), torch.zeros(len(unknown))]).long()
    report = {"auroc": float(binary_auroc(scores, is_known)), "fpr_at_95_tpr": fpr_at_tpr(known, unknown),
              "n_known": int(len(known)), "n_unknown": int(len(unknown))}
    if threshold is not None:
        report.update(threshold=threshold, unknown_rejected=float((unknown < threshold).double().mean()),
                      known_rejected=float((known < threshold).double().mean()))
    return report
