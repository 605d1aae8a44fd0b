"""What a newcomer touches first: `make` lists the targets, predict's CSV is clean, the Python API works."""
import csv
import io
import re
import subprocess
import sys

from PIL import Image

from tests.helpers.runs import REPO, make, subprocess_env


def test_plain_make_lists_every_target_and_variable():
    result = make()
    assert result.returncode == 0 and result.stdout == make("help").stdout
    targets = re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), re.M)
    for target in targets:
        assert f"  {target} " in result.stdout, target
    assert "stage1-3" in result.stdout  # the pattern rule
    for variable in ("DATA", "RUN", "PRESET", "ARGS", "FORCE", "CKPT", "INPUT", "SPLIT", "VIEWS", "SIZES", "OUT", "HEAD"):
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
    assert rows[0] == ["path", "artist_1", "p_1", "artist_2", "p_2", "artist_3", "p_3"]
    assert len(rows) == 2 and rows[1][0] == str(image)


def test_python_api_from_outside_the_repository(three_stage_run, tmp_path):
    tmp, data, _ = three_stage_run
    painting = next((data / "images" / "Edgar_Degas").glob("*.jpg"))
    script = f"""
from PIL import Image
from inference import Predictor
predictor = Predictor.load({str(tmp / 'runs' / 't' / 'stage3' / 'best.ckpt')!r})
by_path = predictor.predict({str(painting)!r}, top_k=3)
by_image = predictor.predict(Image.open({str(painting)!r}), top_k=3)
one_pass = predictor.predict({str(painting)!r}, top_k=2, views=["plain"])
print(repr((by_path, by_image, one_pass, predictor.artists)))
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            env=subprocess_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    by_path, by_image, one_pass, artists = eval(result.stdout.strip().splitlines()[-1])
    assert by_path == by_image  # a path and the same image decode to the same pixels
    assert [a for a, _ in by_path] and {a for a, _ in by_path} == set(artists)
    probabilities = [p for _, p in by_path]
    assert probabilities == sorted(probabilities, reverse=True) and abs(sum(probabilities) - 1) < 1e-4
    assert len(one_pass) == 2


def test_predictor_refuses_what_is_not_a_painting(three_stage_run):
    import pytest

    from inference import Predictor
    tmp, _, _ = three_stage_run
    from inference.input_checks import PaintingInputWarning
    predictor = Predictor.load(tmp / "runs" / "t" / "stage3" / "best.ckpt")
    with pytest.warns(PaintingInputWarning, match="no detail finer than 4 pixels"):  # a flat grey canvas
        assert predictor.pixels(Image.new("L", (50, 70))).shape == (predictor.image_size, predictor.image_size, 3)
    with pytest.raises(TypeError, match="a path, a PIL image"):
        predictor.predict(42)


def test_small_paintings_and_upscales_are_warned_about(three_stage_run, tmp_path):
    import numpy as np
    import pytest

    from inference import Predictor
    from inference.input_checks import PaintingInputWarning
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
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", PaintingInputWarning)
        predictor.predict(detailed)  # a detailed painting at 3x the model's size: no warning
    small.save(tmp_path / "small.png")
    result = make("predict", f"CKPT={tmp / 'runs' / 't' / 'stage3' / 'best.ckpt'}", f"INPUT={tmp_path / 'small.png'}")
    assert result.returncode == 0 and "warning:" in result.stderr and "small.png: 20x30 px" in result.stderr
    assert result.stdout.count("\n") == 2  # the painting is still answered
