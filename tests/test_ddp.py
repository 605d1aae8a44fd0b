"""DDP on CPU (gloo): metrics synced across processes, the frozen stage frozen on every rank."""
import json
import subprocess
import sys

import pytest

from tests.helpers.paintings import make_collection
from tests.helpers.runs import REPO, subprocess_env


def run_worker(data, out, devices: int, lr: float, dense: str, tmp_path) -> list[dict]:
    result = subprocess.run([sys.executable, str(REPO / "tests" / "ddp_worker.py"), str(data), str(out),
                             str(devices), str(lr), dense], cwd=REPO, capture_output=True, text=True,
                            env=subprocess_env(), timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(devices)]


@pytest.mark.slow
def test_one_and_two_processes_agree_and_stay_frozen(tmp_path):
    # 3 artists x 10 paintings: 6 validation images, an even split over 2 ranks (no padded duplicates).
    data = make_collection(tmp_path / "data", {"Claude_Monet": 10, "Edgar_Degas": 10, "Paul_Gauguin": 10})
    # lr=0 and no BatchNorm in the head: one real epoch through each strategy leaves the model as
    # it was, so both runs validate the same model and the synced metrics must match.
    single = run_worker(data, tmp_path / "one", 1, 0.0, "", tmp_path)
    double = run_worker(data, tmp_path / "two", 2, 0.0, "", tmp_path)
    assert double[0]["world_size"] == 2
    for rank in double:
        assert rank["metrics"].keys() == single[0]["metrics"].keys()
        for key, value in single[0]["metrics"].items():
            # Counts-based metrics must match exactly; the loss only up to float noise, since
            # batches of 3 (per rank) and of 4+2 (one process) round differently in the kernels.
            tolerance = dict(rel=1e-4) if key == "val/loss" else dict(abs=1e-7)
            assert rank["metrics"][key] == pytest.approx(value, **tolerance), key
    # lr>0: the head trains, the backbone stays frozen on both ranks, replicas stay identical.
    trained = run_worker(data, tmp_path / "train", 2, 1e-2, "8", tmp_path)
    for rank in trained:
        assert rank["backbone_unchanged"] and not rank["backbone_requires_grad"] and rank["backbone_in_eval"]
    assert trained[0]["head"] == trained[1]["head"]
