"""LightningCLI entry point for one training stage.

    python -m artist_cli.train fit --preset default,all --config configs/stage1.yaml --run NAME

Configs combine in this order: configs/base.yaml (applied by the CLI itself), the presets named by
`--preset a,b` (configs/presets/a.yaml, then b.yaml, where the option stands), the stage file, and
every later option on the command line.

Everything a stage writes goes under `<runs_dir>/<run>/<stage>/`; the run's split manifest
sits in `<runs_dir>/<run>/`. A stage with `init_from` starts from that earlier stage's best
weights (weights only: new optimiser, scheduler and early-stopping state).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import torch
import yaml

from pytorch_lightning.callbacks import EarlyStopping, LearningRateMonitor, ModelCheckpoint
from pytorch_lightning.cli import LightningCLI, SaveConfigCallback

from artist_cli.wandb_mode import wandb_mode
from callbacks import BackboneFreeze, FeatureCache, OpenSetCalibration, StageHistory, StageReport
from datamodules import PaintingsDataModule
from datamodules.discovery import DataError
from datamodules.split import PARAMS_NAME
from lightning_modules import ArtistClassifier
from lightning_modules.backbones import WeightsNotFoundError
from fileio import atomic_write_json, atomic_write_text
from artist_inference.predictor import Predictor
from lightning_modules.checkpoints import (CheckpointMismatchError, NotACheckpointError, init_weights_from, read_checkpoint,
                                          removed_option_in)
from lightning_modules.classifier import CHECKPOINT_KEY

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
BASE_CONFIG = CONFIGS / "base.yaml"
SUBCOMMANDS = ("fit", "validate", "test", "predict")


def keep_logged_metrics(log_dir: Path) -> None:
    """Lightning's CSVLogger deletes an existing metrics.csv when it starts: before a resume, the
    epochs logged so far move to metrics_before_resume_N.csv (N counts the resumes)."""
    logged = log_dir / "metrics.csv"
    n = len(list(log_dir.glob("metrics_before_resume_*.csv"))) + 1
    with contextlib.suppress(FileNotFoundError):  # another DDP rank on this filesystem moved it first
        os.replace(logged, log_dir / f"metrics_before_resume_{n}.csv")


def preset_names() -> list[str]:
    return sorted(p.stem for p in (CONFIGS / "presets").glob("*.yaml"))


def expand_presets(args: list[str]) -> list[str]:
    """Each `--preset a,b` is followed by `--config configs/presets/a.yaml --config .../b.yaml`, so the
    presets apply where the option stands; the option itself stays and is recorded in config.yaml."""
    expanded: list[str] = []
    items = iter(args)
    for arg in items:
        expanded.append(arg)
        if arg != "--preset" and not arg.startswith("--preset="):
            continue
        value = arg.split("=", 1)[1] if "=" in arg else next(items, "")
        if "=" not in arg:
            expanded.append(value)
        for name in (n.strip() for n in value.split(",") if n.strip()):
            path = CONFIGS / "presets" / f"{name}.yaml"
            if not path.is_file():
                sys.exit(f"error: no preset {name!r}; choose from {', '.join(preset_names())} (configs/presets/)")
            expanded += ["--config", str(path)]
    return expanded


# Not a difference between two runs of a stage: what the CLI fills in itself (folders, links from the
# data, bookkeeping) and what only changes the display.
NOT_SETTINGS = ("force", "ckpt_path", "config", "preset", "__path__", "__default_config__", "trainer.logger",
                "trainer.default_root_dir", "checkpoint.dirpath", "last_checkpoint.dirpath", "data.run_dir",
                "model.image_size", "model.resize_filter", "model.num_classes", "model.artists",
                "model.class_counts", "trainer.enable_progress_bar", "trainer.enable_model_summary")


def flat_settings(tree, prefix: str = "") -> dict:
    """{'model.lr': 0.0001, ...} from a nested config, without the entries of NOT_SETTINGS."""
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if not any(name == n or name.startswith(n + ".") for n in NOT_SETTINGS):
                out.update(flat_settings(value, name))
        return out
    return {prefix: json.loads(json.dumps(tree, default=str))}


def settings_differences(saved_config: Path, asked: dict) -> list[str]:
    """'  model.lr: 0.0001 in the finished stage, 0.001 asked' for each setting that differs (settings
    that only one side has came or went with a change of the code, and are left out)."""
    if not saved_config.is_file():
        return []
    saved, asked = flat_settings(yaml.safe_load(saved_config.read_text())), flat_settings(asked)
    return [f"  {key}: {saved[key]!r} in the finished stage, {asked[key]!r} asked"
            for key in sorted(set(saved) & set(asked)) if saved[key] != asked[key]]


def prediction_table(split: pd.DataFrame, rows: torch.Tensor, logits: torch.Tensor, predictor: Predictor,
                     k: int = 3) -> pd.DataFrame:
    """path, artist, answer (the top artist, or "unknown artist" below the one-pass open-set
    threshold), artist_1, p_1, ... for the split's `rows`: the API's answers to one-pass logits."""
    answers = predictor.answers(logits[None], ["plain"], top_k=k)
    table = split.loc[rows.tolist(), ["path", "artist"]].reset_index(drop=True)
    table["answer"] = [answer.artist or "unknown artist" for answer in answers]
    for rank in range(min(k, len(predictor.artists))):
        table[f"artist_{rank + 1}"] = [answer.ranked[rank][0] for answer in answers]
        table[f"p_{rank + 1}"] = [round(answer.ranked[rank][1], 6) for answer in answers]
    return table


def run_dir_of(runs_dir: str, run: str) -> str:
    return str(Path(runs_dir) / run)


def is_positive(weight: float) -> bool:
    return weight > 0


class SaveAndLogConfig(SaveConfigCallback):
    """Write config.yaml to the stage folder and give every logger the full resolved config."""

    def save_config(self, trainer, pl_module, stage: str) -> None:
        resolved = self.config.as_dict()
        for logger in trainer.loggers:
            logger.log_hyperparams(resolved)


class ArtistCLI(LightningCLI):
    """LightningCLI with run folders, presets, stage chaining and the stage callbacks."""

    def __init__(self, *args, parser_kwargs: dict | None = None, **kwargs):
        # base.yaml is every subcommand's default config file: plain `python -m artist_cli.train fit`
        # gets the same settings as make.
        parser_kwargs = dict(parser_kwargs or {})
        if kwargs.get("run", True):
            for subcommand in SUBCOMMANDS:
                parser_kwargs.setdefault(subcommand, {}).setdefault("default_config_files", [str(BASE_CONFIG)])
        else:  # no subcommands: one parser
            parser_kwargs.setdefault("default_config_files", [str(BASE_CONFIG)])
        super().__init__(*args, parser_kwargs=parser_kwargs, **kwargs)

    def parse_arguments(self, parser, args) -> None:
        """LightningCLI's parsing, with each `--preset` expanded into the config files it names."""
        if args is None or isinstance(args, (list, tuple)):
            self.config = parser.parse_args(expand_presets(list(sys.argv[1:] if args is None else args)))
        else:
            super().parse_arguments(parser, args)

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--preset", type=str | None, default=None,
                            help=f"comma-separated presets from configs/presets/, applied in order where this "
                                 f"option stands: {', '.join(preset_names())}")
        parser.add_argument("--run", default="default", help="Run name: outputs go to <runs_dir>/<run>/")
        parser.add_argument("--runs_dir", default="runs", help="Folder holding all runs")
        parser.add_argument("--stage", default="stage1", help="Stage name: its outputs go to <run>/<stage>/")
        parser.add_argument("--init_from", type=str | None, default=None,
                            help="Earlier stage whose best.ckpt gives the starting weights (weights only)")
        parser.add_argument("--force", type=bool, default=False,
                            help="Rerun a stage that already finished (its old outputs are deleted)")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        # A second ModelCheckpoint without a monitor writes last.ckpt after every epoch: in
        # pytorch-lightning 2.6 the monitored one's save_last only writes when a new best was saved, so a
        # resume would have lost every epoch since the last improvement.
        parser.add_lightning_class_args(ModelCheckpoint, "last_checkpoint")
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        parser.add_lightning_class_args(LearningRateMonitor, "lr_monitor")
        # StageHistory before StageReport: the report reads the metrics.json that the history writes.
        parser.add_lightning_class_args(StageHistory, "stage_history")
        parser.add_lightning_class_args(StageReport, "stage_report")
        parser.add_lightning_class_args(BackboneFreeze, "backbone_freeze")
        parser.add_lightning_class_args(FeatureCache, "feature_cache")
        parser.add_lightning_class_args(OpenSetCalibration, "open_set")
        parser.link_arguments(("runs_dir", "run"), "data.run_dir", compute_fn=run_dir_of)
        parser.link_arguments("data.image_size", "model.image_size")
        parser.link_arguments("data.resize_filter", "model.resize_filter")
        parser.link_arguments("model.consistency_weight", "data.paired_views", compute_fn=is_positive)
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
        parser.link_arguments("data.artists", "model.artists", apply_on="instantiate")
        parser.link_arguments("data.class_counts", "model.class_counts", apply_on="instantiate")

    @property
    def _config(self):
        return self.config[self.subcommand] if self.subcommand else self.config

    @property
    def stage_dir(self) -> Path:
        config = self._config
        return Path(config.runs_dir) / config.run / config.stage

    def _finished_resumed_or_fresh(self) -> None:
        """A finished stage is not silently redone (nor reported when other settings were asked for);
        an interrupted one resumes from last.ckpt; --force replaces it once the new settings hold."""
        config, stage_dir = self._config, self.stage_dir
        self.resuming, self.replace_outputs = False, False
        if self.subcommand != "fit":
            return
        if config.force and stage_dir.exists():
            self.replace_outputs = True  # deleted in before_fit, once data, split and network are checked
        elif (stage_dir / "metrics.json").is_file():
            done = json.loads((stage_dir / "metrics.json").read_text())
            differences = settings_differences(stage_dir / "logs" / "config.yaml", config.as_dict())
            if differences:
                sys.exit(f"error: [{config.stage}] already finished in {stage_dir}, with other settings than asked:\n"
                         + "\n".join(differences) + f"\nTo train it again with these settings: make {config.stage} "
                         f"RUN={config.run} FORCE=1 (deletes it), or give another RUN=<name>.")
            print(f"[{config.stage}] already complete in {stage_dir} (best epoch {done.get('best_epoch')}, "
                  f"validation macro-F1 {done.get('macro_f1', float('nan')):.3f}); nothing to do.\n"
                  f"To train it again: make {config.stage} RUN={config.run} FORCE=1", flush=True)
            sys.exit(0)
        elif (stage_dir / "last.ckpt").is_file() and not config.get("ckpt_path"):
            config.ckpt_path = str(stage_dir / "last.ckpt")
            self.resuming = True
            print(f"[{config.stage}] resuming the interrupted stage from {config.ckpt_path}", flush=True)
            keep_logged_metrics(stage_dir / "logs")

    def before_instantiate_classes(self) -> None:
        config, stage_dir = self._config, self.stage_dir
        if self.subcommand in ("validate", "test", "predict"):
            self._score_a_finished_stage()
            return
        self._finished_resumed_or_fresh()
        config.checkpoint.dirpath = str(stage_dir)
        config.last_checkpoint.dirpath = str(stage_dir)
        config.trainer.default_root_dir = str(stage_dir)
        loggers = config.trainer.logger
        loggers = loggers if isinstance(loggers, list) else [loggers]
        mode = wandb_mode()
        kept = []
        for logger in loggers:
            init_args = getattr(logger, "init_args", None)
            if init_args is not None and "save_dir" in init_args:
                init_args.save_dir = str(stage_dir)
            if str(getattr(logger, "class_path", "")).endswith("WandbLogger"):
                if mode == "disabled":
                    continue
                # The three stages of one run form one W&B group; the stage names the run.
                init_args.group = config.run
                init_args.job_type = config.stage
                init_args.name = f"{config.run}/{config.stage}"
                init_args.offline = mode != "online"
                init_args.log_model = mode == "online"  # artifacts need a server
            kept.append(logger)
        config.trainer.logger = kept if isinstance(config.trainer.logger, list) else (kept[0] if kept else False)

    def _score_a_finished_stage(self) -> None:
        """validate / test / predict: the stage's best.ckpt unless --ckpt_path says otherwise, on the
        run's own split; no ImageNet download, and no logger (the stage's training logs stay as they are)."""
        config = self._config
        if not config.get("ckpt_path"):
            config.ckpt_path = str(self.stage_dir / "best.ckpt")
        if not Path(config.ckpt_path).is_file():
            sys.exit(f"error: {config.ckpt_path} does not exist: train the stage first "
                     f"(make {config.stage} RUN={config.run}) or give --ckpt_path")
        try:
            checkpoint = read_checkpoint(config.ckpt_path)
        except NotACheckpointError as error:
            sys.exit(f"error: {error}")
        removed = removed_option_in(checkpoint.get("hyper_parameters", {}))
        if removed:  # its weights expect pictures prepared as this version no longer can
            sys.exit(f"error: {config.ckpt_path} {removed}")
        recorded = Path(config.runs_dir) / config.run / PARAMS_NAME
        if recorded.is_file():  # the run's own paintings, wherever --data.root points
            config.data.root = json.loads(recorded.read_text())["root"]
        config.model.pretrained = False
        config.trainer.logger = False
        config.trainer.default_root_dir = str(self.stage_dir)
        config.checkpoint.dirpath = config.last_checkpoint.dirpath = str(self.stage_dir)

    def after_test(self) -> None:
        """test.json beside the checkpoint: the held-out part's metrics (synced across processes)."""
        config, datamodule = self._config, self.datamodule
        result = {"checkpoint": config.ckpt_path, "part": datamodule.held_out_part,
                  "n_images": len(datamodule.datasets[datamodule.held_out_part]),
                  **{k.split("/", 1)[1]: round(float(v), 4) for k, v in self.trainer.callback_metrics.items()
                     if k.startswith("test/")}}
        if self.trainer.is_global_zero:
            out = Path(config.ckpt_path).with_name("test.json")
            atomic_write_json(out, result)
            print(f"[{config.stage}] {datamodule.held_out_part} part: " + "  ".join(
                f"{k} {result[k]:.3f}" for k in ("top1", "top2", "macro_f1") if k in result) + f" -> {out}", flush=True)

    def after_predict(self) -> None:
        """predictions.csv beside the checkpoint: each held-out painting's top-3 and the answer."""
        if not self.trainer.is_global_zero:
            return
        config, datamodule = self._config, self.datamodule
        outputs = self.trainer.predict_loop.predictions
        meta = read_checkpoint(config.ckpt_path)[CHECKPOINT_KEY]
        table = prediction_table(datamodule.split, torch.cat([o["rows"] for o in outputs]),
                                 torch.cat([o["logits"] for o in outputs]), Predictor(self.model, meta))
        out = Path(config.ckpt_path).with_name("predictions.csv")
        atomic_write_text(out, table.assign(part=datamodule.held_out_part).to_csv(index=False))
        print(f"[{config.stage}] {len(table)} predictions of the {datamodule.held_out_part} part -> {out}", flush=True)

    def before_fit(self) -> None:
        self._start_from_earlier_stage()
        if getattr(self, "replace_outputs", False):
            # Only now: the data, the split and the network of the new settings have been checked.
            shutil.rmtree(self.stage_dir)
            print(f"[{self._config.stage}] --force: removed the previous outputs in {self.stage_dir}", flush=True)

    def _start_from_earlier_stage(self) -> None:
        config = self._config
        if not config.init_from or getattr(self, "resuming", False):
            return  # a resumed stage gets everything, weights included, from its last.ckpt
        source = Path(config.runs_dir) / config.run / config.init_from / "best.ckpt"
        if not source.is_file():
            sys.exit(f"error: {config.stage} starts from {config.init_from}'s best weights, but "
                     f"{source} does not exist.\nRun `make {config.init_from} RUN={config.run}` first.")
        try:
            init_weights_from(self.model, source, artists=self.datamodule.artists,
                              image_size=self.datamodule.hparams.image_size)
        except CheckpointMismatchError as error:
            sys.exit(f"error: {error}")
        print(f"[{config.stage}] starting from the weights of {source}", flush=True)


def close_process_group(wait_for_peers: bool) -> None:
    """Close a CPU (gloo) DDP process group before the interpreter shuts down.

    Lightning closes only NCCL groups at exit; a gloo group left open keeps worker threads that, torn down
    with the interpreter, can abort a finished process ("terminate called without an active exception",
    pytorch/pytorch#190489). After a clean run the ranks first wait for each other, so no rank closes its
    sockets while a peer still reads from them; a peer that failed instead ends the wait with an error
    (gloo notices closed sockets), reported here. NCCL groups stay Lightning's: a barrier there would wait
    out the 30-minute timeout for a rank that failed after the last collective."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    if torch.distributed.get_backend() != "gloo":
        return
    try:
        if wait_for_peers:
            torch.distributed.barrier()
    except RuntimeError as error:
        print(f"warning: another process of this run did not finish: {error}", file=sys.stderr, flush=True)
    finally:
        torch.distributed.destroy_process_group()


def main(args=None) -> None:
    finished = False
    try:
        ArtistCLI(ArtistClassifier, PaintingsDataModule, subclass_mode_model=False,
                  subclass_mode_data=False, save_config_callback=SaveAndLogConfig,
                  save_config_kwargs={"overwrite": True}, args=args)
        finished = True
    except (WeightsNotFoundError, FileNotFoundError, DataError, CheckpointMismatchError) as error:
        sys.exit(f"error: {error}")
    finally:
        close_process_group(wait_for_peers=finished)


if __name__ == "__main__":
    main()
