"""Files that are either complete or absent: write to a temporary file beside the target, then rename.

`os.replace` within one folder is atomic on POSIX, so a reader (or a resumed run after a kill)
never sees half a file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path


def atomic_write_bytes(path, data: bytes, fsync: bool = False, shared_tmp: bool = False) -> None:
    """Write `data` to `path` via a temporary file and a rename; `fsync` also survives a power cut.

    The temporary file is `.<name>.<pid>.tmp`, so concurrent writers never share one; with
    `shared_tmp` (a single writer, e.g. checkpoints) it is `.<name>.tmp`, so a stray left by a
    kill is overwritten by the next save instead of piling up.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp" if shared_tmp else f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        if fsync:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp, path)


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, payload: dict) -> None:
    """Indented JSON, except that each `history` record (with its confusion matrix) is one line:
    a 49-artist stage's file is a fifth of the fully indented size and reads one epoch per line."""
    history = payload.get("history")
    if not isinstance(history, list) or not history or len(payload) == 1:
        atomic_write_text(path, json.dumps(payload, indent=2))
        return
    head = json.dumps({k: v for k, v in payload.items() if k != "history"}, indent=2)
    rows = ",\n".join("    " + json.dumps(record) for record in history)
    atomic_write_text(path, head[:-2] + ',\n  "history": [\n' + rows + "\n  ]\n}")
