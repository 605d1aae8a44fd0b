"""Checkpoints that are either complete or absent, even if the process is killed mid-write."""
from __future__ import annotations

import io

import torch
from pytorch_lightning.plugins.io import TorchCheckpointIO

from fileio import atomic_write_bytes


class AtomicCheckpointIO(TorchCheckpointIO):
    """Serialise to memory, write a temporary file in the same folder, fsync, then rename.

    `best.ckpt` and `last.ckpt` always hold the previous complete checkpoint or the new complete
    one (a SIGKILL leaves at most a stray `.tmp` file, overwritten by the next save).
    """

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write_bytes(path, buffer.getvalue(), fsync=True, shared_tmp=True)
