"""What a newcomer touches first: `make` lists the targets, predict's CSV is clean, the Python API works."""
import csv
import io
import re
import subprocess
import sys

from PIL import Image, ImageFilter

from tests.helpers.runs import REPO, make, subprocess_env


def test_plain_make_lists_every_target_and_variable():
    result = make()
    assert result.returncode == 0 and result.stdout == make("help").stdout
    targets = re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), re.M)
    for target in targets:
        assert f"  {target} " in result.stdout, target
    assert "stage1-3" in result.stdout  # the pattern rule
    for variable in ("DATA", "RUN", "PRESET", "ARGS", "FORCE", "CKPT", "INPUT", "SPLIT", "VIEWS", "SIZES", "REJECT", "PORT",
                     "OUT", "HEAD"):
        assert f"  {variable}=" in result.stdout, variable


def test_every_stage_config_is_a_make_target_and_others_are_not():
    assert make("-n", "stage2").returncode == 0
    missing = make("stage4")
    assert missing.returncode != 0 and "stage4" in missing.stderr


def test_make_predict_to_stdout_writes_only_the_csv(three_stage_run):
    tmp, data, _ = three_stage_run
    image = next((data / "images" / "Claude_Monet").glob("*.jpg"))
    result = make("predict", f"CKPT={tmp / 'runs' / 't' / 'stage3' / 'best.ckpt'}", f"INPUT={image}")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["path", "answer", "artist_1", "p_1", "artist_2", "p_2", "artist_3", "p_3"]
    assert len(rows) == 2 and rows[1][0] == str(image)
    assert rows[1][1] in ("unknown artist", rows[1][2])


def test_python_api_from_outside_the_repository(three_stage_run, tmp_path):
    tmp, data, _ = three_stage_run
    paintings = sorted((data / "images" / "Edgar_Degas").glob("*.jpg"))[:3]
    painting = paintings[0]
    script = f"""
import torch
from PIL import Image
from torchvision.transforms.functional import pil_to_tensor
from artist_inference import Predictor
predictor = Predictor.load({str(tmp / 'runs' / 't' / 'stage3' / 'best.ckpt')!r})
by_path = predictor.predict({str(painting)!r}, top_k=3)
by_image = predictor.predict(Image.open({str(painting)!r}), top_k=3)
by_tensor = predictor.predict(pil_to_tensor(Image.open({str(painting)!r}).convert("RGB")), top_k=3)
batch = predictor.predict({[str(p) for p in paintings]!r}, top_k=3)
one = [predictor.predict(p, top_k=3) for p in {[str(p) for p in paintings]!r}]
one_pass = predictor.predict({str(painting)!r}, top_k=2, views="plain")
never_unknown = predictor.predict(torch.rand(3, 64, 64), reject=False)
print(repr((by_path.ranked, by_image.ranked, by_tensor.ranked, [b.ranked for b in batch], [o.ranked for o in one],
            one_pass.ranked, str(by_path), by_path.unknown, by_path.threshold, never_unknown.unknown,
            never_unknown.threshold, predictor.artists)))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            env=subprocess_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (by_path, by_image, by_tensor, batch, one, one_pass, text, unknown, threshold, never_unknown, no_threshold,
     artists) = eval(result.stdout.strip().splitlines()[-1])
    assert by_path == by_image == by_tensor  # a path, the image and its tensor decode to the same pixels
    assert [a for a, _ in by_path] and {a for a, _ in by_path} == set(artists)
    probabilities = [p for _, p in by_path]
    assert probabilities == sorted(probabilities, reverse=True) and abs(sum(probabilities) - 1) < 1e-4
    assert len(one_pass) == 2
    assert [[a for a, _ in r] for r in batch] == [[a for a, _ in r] for r in one]  # batched = one at a time
    assert all(abs(p - q) < 1e-5 for b, o in zip(batch, one) for (_, p), (_, q) in zip(b, o))
    assert isinstance(threshold, float)  # calibrated at the end of training
    assert text == (f"unknown artist (closest: {by_path[0][0]}, {by_path[0][1]:.2f})" if unknown
                    else f"{by_path[0][0]} ({by_path[0][1]:.2f})")
    assert never_unknown is False and no_threshold is None


def test_predictor_refuses_what_is_not_a_painting(three_stage_run):
    import pytest

    from artist_inference import Predictor
    tmp, _, _ = three_stage_run
    from artist_inference.input_checks import PaintingInputWarning
    predictor = Predictor.load(tmp / "runs" / "t" / "stage3" / "best.ckpt")
    with pytest.warns(PaintingInputWarning, match="no detail finer than 4 pixels"):  # a flat grey canvas
        assert predictor.pixels(Image.new("L", (50, 70))).shape == (predictor.image_size, predictor.image_size, 3)
    with pytest.raises(TypeError, match="a path, a PIL image"):
        predictor.predict(42)


def test_small_paintings_and_upscales_are_warned_about(three_stage_run, tmp_path):
    import numpy as np
    import pytest

    from artist_inference import Predictor
    from artist_inference.input_checks import PaintingInputWarning
    tmp, _, _ = three_stage_run
    predictor = Predictor.load(tmp / "runs" / "t" / "stage3" / "best.ckpt")  # trained at 32 px
    rng = np.random.default_rng(0)
    detailed = Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8))
    small = detailed.resize((20, 30))
    upscale = detailed.resize((16, 16)).resize((96, 96), Image.Resampling.BICUBIC)
    with pytest.warns(PaintingInputWarning, match="below the model's 32 px"):
        predictor.predict(small)
    with pytest.warns(PaintingInputWarning, match="looks like an upscale of an image about 24 px"):
        predictor.predict(upscale)
    ramp = np.linspace(0, 200, 96)[None, :, None] + rng.normal(0, 30, (96, 96, 3))  # a gradient with fine detail
    blurred = Image.fromarray(ramp.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(3))
    blurred = blurred.resize((32, 32), Image.Resampling.LANCZOS)  # sigma 1 at the model's size
    with pytest.warns(PaintingInputWarning, match="reaches the model soft"):
        predictor.predict(blurred)
    with pytest.warns(PaintingInputWarning, match="almost flat"):
        predictor.predict(Image.new("RGB", (400, 400), (120, 90, 60)))  # too large for the upscale check
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", PaintingInputWarning)
        predictor.predict(detailed)  # a detailed painting at 3x the model's size: no warning
        # nor a sharp picture at the model's size read 3x larger (make predict SIZES=), which that makes soft
        predictor.pixels(detailed.resize((32, 32)), size=96)
    small.save(tmp_path / "small.png")
    result = make("predict", f"CKPT={tmp / 'runs' / 't' / 'stage3' / 'best.ckpt'}", f"INPUT={tmp_path / 'small.png'}")
    assert result.returncode == 0 and "warning:" in result.stderr and "small.png: 20x30 px" in result.stderr
    assert result.stdout.count("\n") == 2  # the painting is still answered


def test_predict_exits_non_zero_with_a_reason_when_nothing_was_predicted(three_stage_run, tmp_path):
    tmp, _, _ = three_stage_run
    ckpt = tmp / "runs" / "t" / "stage3" / "best.ckpt"
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("not a painting")
    empty = make("predict", f"CKPT={ckpt}", f"INPUT={tmp_path / 'empty'}")
    assert empty.returncode != 0 and "nothing was predicted" in empty.stderr and "holds no image" in empty.stderr
    text = make("predict", f"CKPT={ckpt}", f"INPUT={tmp_path / 'notes.txt'}")
    assert text.returncode != 0 and "skipped" in text.stderr and "notes.txt" in text.stderr
    assert "all 1 image(s) were skipped" in text.stderr and text.stdout == ""


def test_a_ckpt_that_is_not_a_checkpoint_gets_one_line(three_stage_run, tmp_path):
    import torch
    tmp, data, _ = three_stage_run
    painting = next((data / "images" / "Edgar_Degas").glob("*.jpg"))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "preds.csv").write_text("path,artist_1\na.jpg,Claude Monet\n")
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07\x12\x07pytorch\x1a\x032.0")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    expected = {"notes.txt": "a text file", "preds.csv": "a CSV file", "model.onnx": "an ONNX model",
                "other.pt": "not a checkpoint of this project (no 'artist_trainer' metadata)"}
    for name, says in expected.items():
        result = make("predict", f"CKPT={tmp_path / name}", f"INPUT={painting}")
        assert result.returncode != 0, name
        lines = [line for line in result.stderr.splitlines() if not line.startswith("make")]
        assert len(lines) == 1 and says in lines[0], (name, result.stderr)
        assert "Traceback" not in result.stderr and "weights_only" not in result.stderr


def test_the_web_page_answer_is_the_apis_answer_with_a_heat_map(three_stage_run):
    from artist_inference import Predictor
    from artist_inference.explain import answer_with_gradcam
    tmp, data, _ = three_stage_run
    predictor = Predictor.load(tmp / "runs" / "t" / "stage3" / "best.ckpt")
    painting = sorted((data / "images" / "Paul_Gauguin").glob("*.jpg"))[0]
    answer, heat_map = answer_with_gradcam(predictor, painting, top_k=3)
    expected = predictor.predict(painting, top_k=3)
    assert [a for a, _ in answer.ranked] == [a for a, _ in expected.ranked] and answer.unknown == expected.unknown
    assert all(abs(p - q) < 1e-5 for (_, p), (_, q) in zip(answer.ranked, expected.ranked))
    assert heat_map.shape == (384, 384, 3) and heat_map.dtype.name == "uint8" and heat_map.std() > 0
