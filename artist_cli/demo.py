"""A local web page: drop, upload or paste a painting and see who painted it, and where the model looked.

    python -m artist_cli.demo [--ckpt runs/<run>/stage3/best.ckpt] [--port 7860]
    make demo [CKPT=...]

Serves on 127.0.0.1 only, with Gradio's analytics off and no fonts, scripts or images from outside
127.0.0.1. Without --ckpt it serves the newest run's stage 3 (runs/*/stage3/best.ckpt). The page
itself is `artist_inference.web_page`; on a Hugging Face Space, `app.py` calls it with the Space's checkpoint.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported anywhere


def newest_stage3(runs_dir: Path) -> Path | None:
    found = sorted(runs_dir.glob("*/stage3/best.ckpt"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", type=Path, help="checkpoint (default: the newest runs/*/stage3/best.ckpt)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    args = parser.parse_args(argv)
    ckpt = args.ckpt or newest_stage3(args.runs_dir)
    if ckpt is None:
        sys.exit(f"error: no trained stage 3 under {args.runs_dir}/: train one (make stage1 stage2 stage3) or give CKPT=")
    from artist_inference.predictor import Predictor
    from artist_inference.web_page import build_page, sample_paintings, serve
    try:
        predictor = Predictor.load(ckpt)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    page = build_page(predictor, sample_paintings(), title=str(ckpt))
    print(f"serving {ckpt} on http://{args.host}:{args.port}", flush=True)
    serve(page, args.host, args.port)


if __name__ == "__main__":
    main()
