"""Using a trained model from Python: load a checkpoint once, then ask who painted a picture.

    from artist_inference import Predictor
    predictor = Predictor.load("runs/default/stage3/best.ckpt")
    predictor.predict("painting.jpg", top_k=3)   # [(artist, probability), ...], best first
"""
from artist_inference.predictor import Predictor
from artist_inference.scoring import evaluate
from lightning_modules.checkpoints import load_model

__all__ = ["Predictor", "evaluate", "load_model"]
