"""Score a checkpoint on labelled paintings: a folder, a manifest, or the validation part of a run's split.

Images of artists the checkpoint does not know are counted, left out of the artist metrics, and
scored as unknown artists against the known ones (`open_set` in the report).
"""
from __future__ import annotations

import json
import re

import pandas as pd
import torch
from torchmetrics.classification import (MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassF1Score,
                                         MulticlassPrecision, MulticlassRecall)

from datamodules.artist_names import artist_labels, match_key
from datamodules.discovery import Discovery, discover
from datamodules.sources import discover_sources
from datamodules.image_store import known_paintings, unknown_paintings
from datamodules.split import PART_NAMES, split_part
from lightning_modules.checkpoints import CheckpointMismatchError, describe_difference, load_model
from lightning_modules.metrics import macro_f1_of_confusions, macro_f1_sampling_error
from lightning_modules.open_set import META_KEY, open_set_report, open_set_score, threshold_for
from transforms.views import predict_logits


def evaluate(ckpt, data=None, cache_dir=".cache/artist-trainer", batch_size: int = 64, split=None,
             views=("plain",), part: str = "val", unknown_data=None) -> dict:
    """Score `ckpt` on every painting under `data`, or on the `part` (`val` or `test`) of `split`.

    `unknown_data` (a folder or manifest) adds its paintings by artists the checkpoint does not know
    as unknown ones, e.g. the artists a leave-artists-out run held back (`--data.exclude_artists`).

    Returns top1, top2, macro_f1, n_images, n_skipped, n_unknown_artist, unknown_artists,
    open_set (when paintings by unknown artists are present: `open_set_evaluation`), per_source (a run's split of
    several sources: `per_source_scores`), per_artist (precision, recall, f1, support) and confusion (artist names
    and matrix).
    """
    if (data is None) == (split is None):
        raise ValueError("give either data (a folder or manifest) or split (a run's split.csv)")
    model, meta = load_model(ckpt)
    artists = meta["artists"]
    found = discover_data(data) if split is None else split_part(split, part)
    if unknown_data is not None:
        found = with_unknown_artists(found, discover(unknown_data), artists)
    labels = artist_labels(found.index["artist"], artists)
    if not (labels >= 0).any():
        raise CheckpointMismatchError(
            f"None of the paintings in {data} is by an artist that {ckpt} knows:\n"
            + describe_difference(sorted(found.index["artist"].unique()), list(artists)))
    store, target = known_paintings(meta, found, labels, cache_dir)
    logits = predict_logits(model, store.pixels[store.ok], batch_size, views)
    probs = logits.softmax(dim=2).mean(dim=0)
    k = len(artists)
    per_class = dict(
        precision=MulticlassPrecision(k, average="none")(probs, target),
        recall=MulticlassRecall(k, average="none")(probs, target),
        f1=MulticlassF1Score(k, average="none")(probs, target),
    )
    support = torch.bincount(target, minlength=k)
    confusion = MulticlassConfusionMatrix(k)(probs, target)
    unknown_store = unknown_paintings(meta, found, labels, cache_dir)
    result = {
        "checkpoint": str(ckpt),
        "data": str(data if split is None else f"{split} ({PART_NAMES[part]} part)"),
        **({"unknown_data": str(unknown_data)} if unknown_data is not None else {}),
        "views": list(views),
        "top1": float(MulticlassAccuracy(k, top_k=1, average="micro")(probs, target)),
        "top2": float(MulticlassAccuracy(k, top_k=min(2, k), average="micro")(probs, target)),
        "macro_f1": float(MulticlassF1Score(k, average="macro")(probs, target)),
        # How far another draw of as many paintings could move it (a bootstrap over paintings).
        "macro_f1_sampling_error": macro_f1_sampling_error(confusion),
        "n_images": int(len(target)),
        "n_skipped": len(found.skipped) + len(store.failed) + (len(unknown_store.failed) if unknown_store else 0),
        "n_unknown_artist": int((labels < 0).sum()),
        "unknown_artists": sorted(found.index.loc[labels < 0, "artist"].unique().tolist()),
    }
    if unknown_store is not None and unknown_store.ok.any():
        unknown_logits = predict_logits(model, unknown_store.pixels[unknown_store.ok], batch_size, views)
        result["open_set"] = open_set_evaluation(meta, views, logits, target, unknown_logits)
    if "source" in found.index.columns:
        sources = found.index.loc[labels >= 0, "source"].to_numpy()[store.ok]
        unknown_sources = found.index.loc[labels < 0, "source"]
        result["per_source"] = per_source_scores(probs, target, sources, k, unknown_sources)
    result["per_artist"] = {
        name: {"precision": float(per_class["precision"][i]), "recall": float(per_class["recall"][i]),
               "f1": float(per_class["f1"][i]), "support": int(support[i])}
        for i, name in enumerate(artists)
    }
    result["confusion"] = {"artists": artists, "matrix": confusion.tolist()}
    return result


def discover_data(data) -> Discovery:
    """The paintings of a folder, a manifest or several of them (`a,b`: each keeps its source)."""
    found = discover_sources(data)
    if found.index["source"].nunique() == 1:
        found.index = found.index.drop(columns="source")
    return found


def per_source_scores(probs: torch.Tensor, target: torch.Tensor, sources, k: int, unknown_sources: pd.Series) -> dict:
    """Top-1, top-2 and macro-F1 of each source's known-artist paintings; macro-F1 over the artists that
    source has (a source may hold a few of the classes only), with its sampling error."""
    scores = {}
    for source in dict.fromkeys(sources):
        mask = torch.from_numpy(sources == source)
        p, t = probs[mask], target[mask]
        present = torch.bincount(t, minlength=k) > 0
        confusion = MulticlassConfusionMatrix(k)(p, t)
        scores[str(source)] = {
            "n_images": int(len(t)), "n_artists": int(present.sum()),
            "top1": float(MulticlassAccuracy(k, top_k=1, average="micro")(p, t)),
            "top2": float(MulticlassAccuracy(k, top_k=min(2, k), average="micro")(p, t)),
            "macro_f1_over_artists_present": float(macro_f1_of_confusions(confusion, present)),
            "macro_f1_sampling_error": macro_f1_sampling_error(confusion, artists=present),
            "n_unknown_artist": int((unknown_sources == source).sum()),
        }
    return scores


def with_unknown_artists(found: Discovery, extra: Discovery, artists: list[str]) -> Discovery:
    """`found` plus the paintings of `extra` by artists not in `artists` (and `extra`'s skipped files)."""
    others = extra.index[artist_labels(extra.index["artist"], artists) < 0]
    if others.empty:
        raise ValueError(f"{extra.root} holds no painting by an artist the checkpoint does not know")
    index = pd.concat([found.index, others], ignore_index=True).drop_duplicates("path")
    # Only the unknown artists' unreadable files count as skipped: the known ones' are not scored from there.
    known_keys = {match_key(name) for name in artists}
    unknown_skipped = [row for row in extra.skipped
                       if not isinstance(row["artist"], str) or match_key(row["artist"]) not in known_keys]
    seen = {row["path"] for row in found.skipped}
    return Discovery(found.root, found.layout, index,
                     found.skipped + [row for row in unknown_skipped if row["path"] not in seen])


def open_set_evaluation(meta: dict, views, known_logits: torch.Tensor, target: torch.Tensor,
                        unknown_logits: torch.Tensor) -> dict:
    """How well the open-set score tells known from unknown artists, and what rejecting costs the
    known ones: AUROC, FPR at 95% TPR, shares rejected at the checkpoint's threshold, known top-1
    without and with rejection (a rejected known painting counts as wrong)."""
    calibration = meta.get(META_KEY) or {}
    score = calibration.get("score", "max_softmax")
    known, unknown = open_set_score(score, known_logits), open_set_score(score, unknown_logits)
    threshold = threshold_for(calibration, views)
    report = {"score": score, **open_set_report(known, unknown, threshold)}
    correct = known_logits.softmax(dim=2).mean(dim=0).argmax(dim=1) == target
    report["known_top1"] = float(correct.double().mean())
    if threshold is not None:
        report["known_top1_with_rejection"] = float((correct & (known >= threshold)).double().mean())
    return report


def rounded(value, digits: int = 4):
    """Floats rounded to `digits` everywhere in a report (float32 metrics carry noise digits)."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def report_json(report: dict) -> str:
    """The report as indented JSON, rounded, with every list of numbers (a confusion row) on one line."""
    text = json.dumps(rounded(report), indent=2)
    number_list = re.compile(r"\[\s*(-?[\d.eE+-]+(?:,\s*-?[\d.eE+-]+)*)\s*\]")
    return number_list.sub(lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)


def summary_line(report: dict) -> str:
    """One line for a terminal: the metrics, the counts and, with unknown artists, the open-set numbers."""
    error = report.get("macro_f1_sampling_error")
    spread = f" ±{error['std']:.3f}" if error else ""
    line = (f"top-1 {report['top1']:.3f}  top-2 {report['top2']:.3f}  macro-F1 {report['macro_f1']:.3f}{spread}  "
            f"n {report['n_images']}  skipped {report['n_skipped']}  unknown-artist paintings "
            f"{report['n_unknown_artist']}  (views {','.join(report['views'])})")
    open_set = report.get("open_set")
    if open_set:
        line += f"  | unknown artists: AUROC {open_set['auroc']:.3f}, FPR@95%TPR {open_set['fpr_at_95_tpr']:.3f}"
        if "unknown_rejected" in open_set:
            line += (f", rejected {open_set['unknown_rejected']:.3f}, known top-1 {open_set['known_top1']:.3f} -> "
                     f"{open_set['known_top1_with_rejection']:.3f} with rejection")
    for source, scores in report.get("per_source", {}).items():
        line += (f"\n  {source}: top-1 {scores['top1']:.3f}  top-2 {scores['top2']:.3f}  macro-F1 "
                 f"{scores['macro_f1_over_artists_present']:.3f} ±{scores['macro_f1_sampling_error']['std']:.3f} over its "
                 f"{scores['n_artists']} artists  n {scores['n_images']}  unknown-artist paintings {scores['n_unknown_artist']}")
    return line
