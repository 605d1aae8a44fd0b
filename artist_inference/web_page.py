"""The web page of a trained model (Gradio): a painting in; top-5 artists, the unknown-artist answer
and a Grad-CAM overlay out. The model is loaded once by the caller; each answer pays inference only.

Nothing is fetched from outside the server: system fonts instead of the theme's web fonts, and
analytics off (GRADIO_ANALYTICS_ENABLED=False, set by `artist_cli.demo` and `app.py` before import).
"""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from artist_inference.explain import answer_with_gradcam  # noqa: E402

SAMPLE_ROOT = Path(__file__).resolve().parents[1] / "data" / "sample" / "images"
SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Helvetica", "Arial", "sans-serif"]


def sample_paintings(root: Path = SAMPLE_ROOT, n: int = 6) -> list[str]:
    """One public-domain painting from each of the first `n` artists of the embedded sample."""
    firsts = [sorted(folder.glob("*.jpg"))[0] for folder in sorted(root.iterdir()) if folder.is_dir()
              and any(folder.glob("*.jpg"))] if root.is_dir() else []
    return [str(p) for p in firsts[:n]]


def answer_text(prediction) -> str:
    if prediction.unknown:
        name, p = prediction.closest
        return f"### Unknown artist\nClosest: **{name}** ({p:.0%}). The painting is far from every artist this model knows."
    name, p = prediction.closest
    return f"### {name}\n{p:.0%} probability"


def build_page(predictor, samples: list[str], title: str = "") -> gr.Blocks:
    def answer(image):
        if image is None:
            return None, "Drop, upload or paste a painting, or click one of the examples.", None
        prediction, heat_map = answer_with_gradcam(predictor, image, top_k=5)
        return dict(prediction.ranked), answer_text(prediction), heat_map

    with gr.Blocks(title="Who painted this?", analytics_enabled=False) as page:
        gr.Markdown(f"## Who painted this?\nA model of {len(predictor.artists)} artists (`{title}`). Drop, upload "
                    "or paste a painting: a scan or a photo of the whole painting, at least "
                    f"{predictor.image_size} px on its short side, works best.")
        with gr.Row():
            with gr.Column():
                image = gr.Image(type="pil", sources=["upload", "clipboard"], label="Painting", height=360)
                submit = gr.Button("Who painted this?", variant="primary")
                if samples:
                    gr.Examples(samples, inputs=image, label="Paintings from the embedded sample (public domain)")
            with gr.Column():
                verdict = gr.Markdown(elem_id="answer")
                top5 = gr.Label(num_top_classes=5, label="Top 5 artists", elem_id="top5", show_heading=False)
                cam = gr.Image(label="Where the model looked (Grad-CAM)", interactive=False, height=300)
        outputs = [top5, verdict, cam]
        submit.click(answer, inputs=image, outputs=outputs)
        image.change(answer, inputs=image, outputs=outputs)  # an upload, a paste or a clicked example
    return page


def serve(page: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, **launch_kwargs):
    """Launch the page on `host`:`port` with system fonts (no web fonts), never through a share link."""
    theme = gr.themes.Soft(font=SYSTEM_FONTS, font_mono=["ui-monospace", "monospace"])
    return page.launch(server_name=host, server_port=port, share=False, show_error=True, theme=theme,
                       allowed_paths=[str(SAMPLE_ROOT)], footer_links=[], **launch_kwargs)
