"""Two nodes on one host: `torchrun --nnodes=2` (gloo, CPU) runs the three stages, and the ranks agree."""
import json
import socket
import subprocess
import sys

import pytest
import torch.distributed as dist

from artist_cli import train
from artist_cli.train import close_process_group
from tests.helpers.paintings import make_collection
from tests.helpers.runs import REPO, TINY, subprocess_env

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_nodes(tmp_path, stage: int, extra: list[str]) -> list[subprocess.CompletedProcess]:
    """One torchrun per node, only --node_rank differs; both must exit within the time limit."""
    # torchrun's own options claim `--run`: the run's name comes in a config file instead.
    (tmp_path / "run.yaml").write_text("run: two\n")
    port = free_port()
    args = [*TINY, f"--runs_dir={tmp_path / 'runs'}", f"--data.cache_dir={tmp_path / 'cache'}",
            "--trainer.num_nodes=2", "--trainer.devices=1", "--trainer.strategy=ddp", *extra]
    env = {**subprocess_env(), "OMP_NUM_THREADS": "1"}
    nodes = [subprocess.Popen([*TORCHRUN, "--nnodes=2", "--nproc_per_node=1", f"--node_rank={rank}",
                               "--master_addr=127.0.0.1", f"--master_port={port}", "-m", "artist_cli.train", "fit",
                               "--preset", "default", "--config", f"configs/stage{stage}.yaml",
                               "--config", str(tmp_path / "run.yaml"), "--data.root", str(tmp_path / "data"), *args],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for rank in (0, 1)]
    results = []
    for node in nodes:
        try:
            out, _ = node.communicate(timeout=420)
        except subprocess.TimeoutExpired:
            for other in nodes:
                other.kill()
            pytest.fail(f"stage {stage} did not finish on two nodes within the time limit")
        results.append(subprocess.CompletedProcess(node.args, node.returncode, out, ""))
    return results


def test_the_cli_closes_its_process_group_before_exit(tmp_path):
    # A gloo group left open at exit can abort a finished rank (pytorch/pytorch#190489).
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        close_process_group(wait_for_peers=True)
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    close_process_group(wait_for_peers=True)  # no group: nothing to do, no error


@pytest.mark.parametrize("outcome, waits", [("finishes", True), ("data error", False), ("exits", False)])
def test_main_waits_for_the_other_ranks_only_after_a_clean_run(monkeypatch, outcome, waits):
    def cli(*args, **kwargs):
        if outcome == "data error":
            raise train.DataError("no paintings")
        if outcome == "exits":
            sys.exit(0)  # e.g. a stage that is already complete

    calls = []
    monkeypatch.setattr(train, "ArtistCLI", cli)
    monkeypatch.setattr(train, "close_process_group", lambda wait_for_peers: calls.append(wait_for_peers))
    if outcome == "finishes":
        train.main([])
    else:
        with pytest.raises(SystemExit):
            train.main([])
    assert calls == [waits]


PEER_FAILS = """
import sys, torch, torch.distributed as dist
from artist_cli import train
from artist_cli.train import close_process_group
rank = int(sys.argv[1])
dist.init_process_group("gloo", init_method=sys.argv[2], rank=rank, world_size=2)
dist.all_reduce(torch.ones(1))
finished = False
try:  # as artist_cli.train.main does
    if rank == 0:
        raise SystemExit("rank 0 failed after the last collective")
    finished = True
finally:
    close_process_group(wait_for_peers=finished)
print("rank 1 closed its group", flush=True)
"""


@pytest.mark.slow
def test_a_finished_rank_does_not_hang_when_its_peer_failed(tmp_path):
    script = tmp_path / "peer_fails.py"
    script.write_text(PEER_FAILS)
    store = f"tcp://127.0.0.1:{free_port()}"
    ranks = [subprocess.Popen([sys.executable, str(script), str(rank), store], cwd=REPO, env=subprocess_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for rank in (0, 1)]
    try:
        out = [rank.communicate(timeout=120)[0] for rank in ranks]
    finally:
        for rank in ranks:
            rank.kill()
    assert ranks[0].returncode == 1
    assert ranks[1].returncode == 0, out[1]
    assert "rank 1 closed its group" in out[1] and "did not finish" in out[1]


def evaluate_in_one_process(tmp_path, ckpt, split) -> dict:
    out = tmp_path / "single.json"
    result = subprocess.run(["make", "evaluate", f"CKPT={ckpt}", f"SPLIT={split}", "VIEWS=plain", f"OUT={out}"],
                            cwd=REPO, capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_three_stages_on_two_nodes_agree_and_write_one_set_of_outputs(tmp_path):
    # 7 validation paintings: ranks get 4 and 3, none repeated (a padded sampler would score one twice).
    make_collection(tmp_path / "data", {"Claude_Monet": 12, "Edgar_Degas": 12, "Paul_Gauguin": 13})
    run = tmp_path / "runs" / "two"
    # The plateau schedule with a patience of one epoch: it must act, on the synced metric, the same
    # on both ranks (the default's stage-1 cosine would drop the LR whatever the metric said).
    stage_args = {1: ["--trainer.max_epochs=4", "--model.lr_patience=1", "--model.schedule=plateau"], 2: [], 3: []}
    for stage, extra in stage_args.items():
        results = two_nodes(tmp_path, stage, extra)
        for rank, result in enumerate(results):
            assert result.returncode == 0, f"stage {stage}, node {rank}:\n{result.stdout[-3000:]}"
        metrics = json.loads((run / f"stage{stage}" / "metrics.json").read_text())
        assert metrics["world_size"] == 2 and len(metrics["ranks"]) == 2
        assert metrics["ranks_agree"], metrics["ranks"]  # same epoch, learning rate and weights everywhere
        assert sorted(p.name for p in (run / f"stage{stage}").glob("*.ckpt")) == ["best.ckpt", "last.ckpt"]
        # The metrics the two ranks synced (and picked best.ckpt by) are those of one process
        # scoring best.ckpt on the same validation paintings (the report rounds to 4 digits).
        single = evaluate_in_one_process(tmp_path, run / f"stage{stage}" / "best.ckpt", run / "split.csv")
        assert single["n_images"] == 7
        for metric in ("top1", "top2", "macro_f1"):
            assert metrics[metric] == pytest.approx(single[metric], abs=6e-5), (stage, metric)
    history = json.loads((run / "stage1" / "metrics.json").read_text())["history"]
    assert history[-1]["lr"][0] < history[0]["lr"][0], "the LR never dropped"
    # One set of outputs: one split, one report, no second logger version, no half-written file.
    assert sorted(p.name for p in run.iterdir() if p.is_file()) == sorted(
        ["split.csv", "split.json", "artists.csv", "data_report.csv", "summary.json", "report.md",
         "data_overview.png", "augmentation_preview.png"])
    assert not list(run.rglob("*.tmp")) and not list(run.rglob("version_1"))
    assert sorted(json.loads((run / "summary.json").read_text())) == ["stage1", "stage2", "stage3"]
