"""Hugging Face Space entry point: the same page as `make demo`, for the checkpoint in $CKPT
(default: model/best.ckpt beside this file). Locally, use `make demo` instead."""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from artist_inference.predictor import Predictor  # noqa: E402
from artist_inference.web_page import build_page, sample_paintings, serve  # noqa: E402

checkpoint = os.environ.get("CKPT", "model/best.ckpt")
serve(build_page(Predictor.load(checkpoint), sample_paintings(), title=checkpoint), host="0.0.0.0",
      port=int(os.environ.get("PORT", 7860)))
