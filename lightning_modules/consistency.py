"""Jensen-Shannon consistency between the predictions for views of the same painting (AugMix, Hendrycks et al. 2020).

Cross-entropy on the clean view teaches the artist; this term asks the degraded view (resampled,
recompressed, colour-cast...) to be predicted as the clean one is, without asking the model to
classify the degraded pixels as hard as the clean ones.
"""
from __future__ import annotations

import torch


def jensen_shannon(logits: torch.Tensor) -> torch.Tensor:
    """Generalised JS divergence of (B, V, K) logits over V views, averaged over the batch.

    JS = mean over views of KL(p_v || m), m the views' mean distribution; 0 when every view agrees,
    at most log(V).
    """
    if logits.dim() != 3 or logits.shape[1] < 2:
        raise ValueError(f"jensen_shannon wants (batch, views >= 2, classes) logits, got {tuple(logits.shape)}")
    log_p = torch.log_softmax(logits.float(), dim=-1)
    # Clamped like AugMix's mixture, so an over-confident pair cannot push log(m) to -inf.
    log_m = log_p.exp().mean(dim=1, keepdim=True).clamp(1e-7, 1.0).log()
    return (log_p.exp() * (log_p - log_m)).sum(dim=-1).mean()
