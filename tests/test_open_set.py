"""The unknown-artist answer: scores, the calibrated threshold stored at the end of training, evaluate's report."""
import json
import math

import pandas as pd
import pytest
import torch

from lightning_modules.open_set import open_set_report, open_set_score, threshold_keeping
from tests.helpers.paintings import make_collection
from tests.helpers.runs import make


def test_scores_by_hand():
    logits = torch.tensor([[[2.0, 0.0, 0.0]], [[0.0, 2.0, 0.0]]])  # two views of one painting
    probs = logits.softmax(dim=2).mean(dim=0)[0]
    assert open_set_score("max_softmax", logits).item() == pytest.approx(float(probs.max()))
    assert open_set_score("max_logit", logits).item() == pytest.approx(1.0)  # mean logits [1, 1, 0]
    assert open_set_score("energy", logits).item() == pytest.approx(math.log(2 * math.e + 1))
    with pytest.raises(ValueError, match="max_softmax, max_logit, energy"):
        open_set_score("entropy", logits)


def test_threshold_keeps_the_share_asked_for():
    scores = torch.arange(100, dtype=torch.float32)  # 0..99
    threshold = threshold_keeping(scores, 0.95)
    assert (scores >= threshold).float().mean().item() == pytest.approx(0.95, abs=0.011)
    assert threshold_keeping(scores, 1.0) == 0.0


def test_open_set_report_by_hand():
    known = torch.tensor([5.0, 6.0, 7.0, 8.0])
    unknown = torch.tensor([1.0, 6.5, 2.0])
    report = open_set_report(known, unknown, threshold=5.5)
    # pairs (known, unknown) ranked right: 5>1,5>2, 6>1,6>2, 7>all, 8>all = 2+2+3+3 = 10 of 12
    assert report["auroc"] == pytest.approx(10 / 12)
    assert report["unknown_rejected"] == pytest.approx(2 / 3) and report["known_rejected"] == pytest.approx(1 / 4)
    # energies this large would all squash to 1.0 under a sigmoid: the order must survive
    assert open_set_report(known * 1000, unknown * 1000, None)["auroc"] == pytest.approx(10 / 12)


def test_training_stores_a_threshold_that_keeps_95_percent_of_validation(three_stage_run):
    from datamodules.artist_names import artist_labels
    from datamodules.image_store import known_paintings
    from datamodules.split import validation_part
    from transforms.views import predict_logits
    from lightning_modules.checkpoints import load_model
    from transforms.views import default_views
    tmp, _, _ = three_stage_run
    run = tmp / "runs" / "t"
    for stage in ("stage1", "stage2", "stage3"):
        model, meta = load_model(run / stage / "best.ckpt")
        calibration = meta["open_set"]
        assert calibration["score"] == "max_softmax" and calibration["keep_known"] == 0.95
        assert set(calibration["thresholds"]) == {"plain", ",".join(default_views())}
    val = validation_part(run / "split.csv")
    store, _ = known_paintings(meta, val, artist_labels(val.index["artist"], meta["artists"]), tmp / "cache")
    scores = open_set_score("max_softmax", predict_logits(model, store.pixels[store.ok], views=["plain"]))
    assert calibration["thresholds"]["plain"] == pytest.approx(threshold_keeping(scores, 0.95), abs=1e-5)
    assert calibration["n_validation"] == len(scores)


def test_evaluate_reports_unknown_artists_against_known_ones(three_stage_run, tmp_path):
    tmp, _, _ = three_stage_run
    other = make_collection(tmp_path / "eval", {"Claude_Monet": 3, "Edgar_Degas": 2, "Jan_van_Eyck": 4})
    out = tmp_path / "eval.json"
    result = make("evaluate", f"CKPT={tmp / 'runs' / 't' / 'stage3' / 'best.ckpt'}", f"DATA={other}", f"OUT={out}")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()
    assert len(summary) == 1 and "macro-F1" in summary[0] and "unknown artists: AUROC" in summary[0]
    report = json.loads(out.read_text())
    open_set = report["open_set"]
    assert open_set["n_known"] == 5 and open_set["n_unknown"] == 4
    assert 0 <= open_set["auroc"] <= 1 and 0 <= open_set["unknown_rejected"] <= 1
    assert open_set["known_top1_with_rejection"] <= open_set["known_top1"] == pytest.approx(report["top1"], abs=1e-4)
    text = out.read_text()
    assert all(len(str(v)) <= 6 for v in (report["top1"], report["macro_f1"]))  # rounded
    for row in report["confusion"]["matrix"]:  # one confusion row per line
        assert "[" + ", ".join(map(str, row)) + "]" in text


def test_evaluate_adds_the_left_out_artists_of_a_folder_to_a_split_part(three_stage_run, tmp_path):
    tmp, data, _ = three_stage_run
    run = tmp / "runs" / "t"
    other = make_collection(tmp_path / "eval", {"Claude_Monet": 3, "Jan_van_Eyck": 4})
    (other / "images" / "Claude_Monet" / "broken.jpg").write_bytes(b"not a jpeg")  # a known artist's: not scored
    (other / "images" / "Jan_van_Eyck" / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "eval.json"
    args = [f"CKPT={run / 'stage3' / 'best.ckpt'}", f"SPLIT={run / 'split.csv'}", "PART=test", f"OUT={out}"]
    result = make("evaluate", *args, f"UNKNOWN={other}")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    n_test = (pd.read_csv(run / "split.csv")["split"] == "test").sum()
    # Known: the test part only (not the folder's Monets); unknown: the folder's 4 van Eycks.
    assert report["n_images"] == n_test and report["n_unknown_artist"] == 4
    assert report["unknown_artists"] == ["Jan van Eyck"] and report["open_set"]["n_unknown"] == 4
    assert report["n_skipped"] == 1 and report["unknown_data"] == str(other)
    result = make("evaluate", *args, f"UNKNOWN={data}")
    assert result.returncode != 0 and "holds no painting by an artist the checkpoint does not know" in result.stderr
