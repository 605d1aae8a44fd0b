"""Checkpoints that are either complete or absent, even if the process is killed mid-write."""
from __future__ import annotations

import io
import os
from pathlib import Path

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """Serialise to memory, write a temporary file in the same folder, fsync, then rename.

    `os.replace` within one folder is atomic on POSIX, so `best.ckpt` and `last.ckpt` always hold
    the previous complete checkpoint or the new complete one (a SIGKILL leaves at most a stray
    `.tmp` file, removed on the next save).
    """

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
