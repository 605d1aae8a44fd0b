"""Decide how Weights & Biases runs: online when logged in, offline otherwise, off on request."""
from __future__ import annotations

import netrc
import os
from pathlib import Path

WANDB_HOST = "api.wandb.ai"


def has_wandb_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc(os.environ.get("NETRC", Path.home() / ".netrc")).authenticators(WANDB_HOST) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def wandb_mode() -> str:
    """`online`, `offline` or `disabled`.

    WANDB_MODE wins when set (`disabled` turns W&B off, `online` forces uploads). Otherwise runs
    go online only for a logged-in user; everyone else gets offline runs on disk that
    `make sync` can upload later, so no account and no network are ever required.
    """
    mode = os.environ.get("WANDB_MODE", "").strip().lower()
    if mode in ("disabled", "off"):
        return "disabled"
    if mode in ("offline", "dryrun"):
        return "offline"
    if mode in ("online", "run"):
        return "online"
    return "online" if has_wandb_credentials() else "offline"
