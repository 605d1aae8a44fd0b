"""`report.md`: the three stages of a run side by side, readable on its own."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def _table(summary: dict) -> list[str]:
    lines = ["| stage | top-1 | top-2 | macro-F1 | best epoch | epochs |", "|---|---|---|---|---|---|"]
    for stage, m in summary.items():
        cell = lambda k: f"{m[k]:.3f}" if isinstance(m.get(k), float) else "-"  # noqa: E731
        lines.append(f"| {stage} | {cell('top1')} | {cell('top2')} | {cell('macro_f1')} | "
                     f"{m.get('best_epoch', '-')} | {m.get('epochs', '-')} |")
    return lines


def write_run_report(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    split_path = run_dir / "split.csv"
    lines = [f"# Run `{run_dir.name}`", ""]
    if split_path.is_file():
        split = pd.read_csv(split_path)
        counts = split["split"].value_counts()
        test = (f", and {counts['test']} test paintings that nothing in training looks at "
                f"(`make evaluate SPLIT={split_path} PART=test`)" if counts.get("test", 0) else "")
        lines += [f"{split['artist'].nunique()} artists, {counts.get('train', 0)} training and "
                  f"{counts.get('val', 0)} validation paintings (the same validation set in every stage){test}. "
                  "Skipped files, near-duplicate groups and left-out artists, if any, are listed in `data_report.csv`.", ""]
    lines += ["## Validation results per stage", "", *_table(summary), "",
              "Macro-F1 weighs every artist equally; top-k counts a painting right when its artist is "
              "among the k most probable.", ""]
    for name, caption in (("data_overview.png", "Data overview"), ("augmentation_preview.png", "Augmentations")):
        if (run_dir / name).is_file():
            lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    for stage in summary:
        stage_dir = run_dir / stage
        lines += [f"## {stage}", ""]
        if (stage_dir / "curves.png").is_file():
            lines += [f"![{stage} curves]({stage}/curves.png)", "",
                      "Red lines: the learning rate dropped; dashed black line: best epoch.", ""]
        if (stage_dir / "confusion.png").is_file():
            lines += [f"![{stage} confusion]({stage}/confusion.png)", ""]
        confusions = stage_dir / "confusions.csv"
        if confusions.is_file():
            top = pd.read_csv(confusions).head(5)
            if len(top):
                lines += ["Most confused (true -> predicted, count):", ""]
                lines += [f"- {r.true_artist} -> {r.predicted_artist}: {r.count}" for r in top.itertuples()]
                lines.append("")
        if (stage_dir / "gradcam.png").is_file():
            lines += [f"![{stage} Grad-CAM]({stage}/gradcam.png)", ""]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
