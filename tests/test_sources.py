"""WikiArt's own layout, several sources in one run, and the painters that are not classes."""
import json

import pandas as pd
import pytest

from artist_inference.scoring import evaluate
from datamodules import PaintingsDataModule
from datamodules.artist_names import match_key, name_from_slug, repair_encoding
from datamodules.discovery import NO_ARTIST_IN_NAME, discover
from datamodules.sources import discover_sources
from tests.helpers.paintings import PALETTE, make_collection, write_painting
from tests.helpers.runs import make, tiny_args, tiny_datamodule_kwargs

# Slugs as the WikiArt copy on hand spells them, mangled two or three times over by earlier copies.
MANGLED = {"joaquΓö£╨│Γö¼╨╜n-sorolla": "joaquín-sorolla", "andrΓö£╨│Γö¼╨╣-lhote": "andré-lhote",
           "georges-lacombeΓö£╨▓Γö¼╨░": "georges-lacombe", "roger-bissiΓö£╨│Γö¼╨╕re": "roger-bissière"}


def make_wikiart(root, counts: dict[str, int], styles=("Impressionism", "Baroque")):
    """WikiArt's layout: <Style>/<artist-slug>_<title>.jpg, each painter's files spread over the styles."""
    for a, (slug, n) in enumerate(counts.items()):
        for i in range(n):
            write_painting(root / styles[i % len(styles)] / f"{slug}_painting-{i}-{1850 + i}.jpg",
                           seed=5000 + a * 100 + i, colour=PALETTE[a % len(PALETTE)])
    return root


@pytest.mark.parametrize(("mangled", "repaired"), MANGLED.items())
def test_slugs_mangled_several_times_over_are_repaired(mangled, repaired):
    assert repair_encoding(mangled) == repaired
    assert repair_encoding(repaired) == repaired  # a correct name stays as it is


def test_one_painter_one_key_across_spellings():
    assert match_key("claude-monet") == match_key("Claude_Monet") == match_key("Claude Monet")
    assert match_key("pierre-auguste-renoir") == match_key("Pierre-Auguste_Renoir")
    assert match_key("albrecht-durer") == match_key("Albrecht_Du╠êrer")
    assert match_key("claude-monet") != match_key("claude-lorrain")
    assert name_from_slug("henri-de-toulouse-lautrec") == "Henri de Toulouse Lautrec"
    assert name_from_slug("william-h.-johnson") == "William H. Johnson"


def test_wikiart_layout_takes_the_artist_from_the_file_name(tmp_path):
    root = make_wikiart(tmp_path / "wikiart", {"claude-monet": 3, "joaquΓö£╨│Γö¼╨╜n-sorolla": 2})
    write_painting(root / "Baroque" / "untitled.jpg", seed=1)  # no artist part in its name
    found = discover(root)
    assert found.layout == "wikiart"
    assert found.index["artist"].value_counts().to_dict() == {"Claude Monet": 3, "Joaquín Sorolla": 2}
    assert [(row["reason"], row["path"].endswith("untitled.jpg")) for row in found.skipped] == [(NO_ARTIST_IN_NAME, True)]


def test_a_kaggle_collection_is_not_taken_for_wikiart(tmp_path):
    found = discover(make_collection(tmp_path, {"Claude_Monet": 3, "Edgar_Degas": 3}))
    assert found.layout == "kaggle" and set(found.index["artist"]) == {"Claude Monet", "Edgar Degas"}


@pytest.fixture
def two_sources(tmp_path):
    kaggle = make_collection(tmp_path / "kaggle", {"Claude_Monet": 10, "Edgar_Degas": 10, "Rembrandt": 10})
    wikiart = make_wikiart(tmp_path / "wikiart", {"claude-monet": 10, "rembrandt-van-rijn": 10,
                                                  **{f"painter-{n}": 4 for n in "abcdefghij"}})
    return kaggle, wikiart


def test_sources_keep_their_paintings_under_one_name(two_sources):
    kaggle, wikiart = two_sources
    found = discover_sources(f"{kaggle},{wikiart}")
    counts = found.index.groupby(["artist", "source"]).size().to_dict()
    # the alias table joins rembrandt-van-rijn to Rembrandt; the first source's spelling is shown
    assert counts[("Claude Monet", "kaggle")] == counts[("Claude Monet", "wikiart")] == 10
    assert counts[("Rembrandt", "wikiart")] == 10 and "Rembrandt van Rijn" not in set(found.index["artist"])


def test_two_sources_split_each_and_other_painters_are_never_a_class(tmp_path, two_sources):
    kaggle, wikiart = two_sources
    both = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path / "both", root=f"{kaggle},{wikiart}"))
    alone = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path / "alone", root=str(kaggle)))
    split = both.split
    assert both.artists == alone.artists == ["Claude Monet", "Edgar Degas", "Rembrandt"]  # the first source's
    # the first source splits exactly as it does alone
    first = split[split["source"] == "kaggle"].set_index("path")["split"]
    assert first.sort_index().equals(alone.split.set_index("path")["split"].sort_index())
    # each source has its own test part, stratified by artist
    classes = split[split["label"] >= 0]
    assert set(classes.loc[classes["split"] == "test", "source"]) == {"kaggle", "wikiart"}
    # other painters: label -1, whole painters in one part, in every part, and not in the datasets
    others = split[split["label"] < 0]
    assert others["artist"].nunique() == 10 and (others.groupby("artist")["split"].nunique() == 1).all()
    assert set(others["split"]) == {"train", "val", "test"}
    both.setup("fit")
    rows = [row for part in both.datasets.values() for row in part.rows]
    assert len(rows) == len(classes) and set(split.loc[rows, "label"]) == {0, 1, 2}
    table = pd.read_csv(both.run_dir / "artists.csv").set_index("artist")
    assert table.loc["Claude Monet", "sources"] == 2 and table.loc["Edgar Degas", "sources"] == 1
    assert table.loc["Painter A", "role"] == "other artist" and table.loc["Rembrandt", "role"] == "class"
    recorded = json.loads((both.run_dir / "split.json").read_text())
    assert recorded["root"].count(",") == 1 and recorded["classes_from"] == "first"


def test_every_painter_a_class_when_asked(tmp_path, two_sources):
    kaggle, wikiart = two_sources
    dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=f"{kaggle},{wikiart}", classes_from="all"))
    assert dm.num_classes == 13 and (dm.split["label"] >= 0).all()


def test_evaluate_scores_each_source_and_other_painters_as_unknown(tmp_path, two_sources):
    """A run's split of two sources: per-source scores over the artists each has, others as unknown artists."""
    kaggle, wikiart = two_sources
    result = make("stage1", f"DATA={kaggle},{wikiart}", "RUN=s", f"ARGS={tiny_args(tmp_path)}")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    run = tmp_path / "runs" / "s"
    report = evaluate(run / "stage1" / "best.ckpt", split=run / "split.csv", part="test",
                      cache_dir=tmp_path / "cache")
    per_source = report["per_source"]
    assert set(per_source) == {"kaggle", "wikiart"}
    assert sum(s["n_images"] for s in per_source.values()) == report["n_images"]
    assert per_source["wikiart"]["n_artists"] == 2  # Monet and Rembrandt; Degas is not in WikiArt
    assert per_source["wikiart"]["n_unknown_artist"] == report["n_unknown_artist"] > 0
    assert "open_set" in report
    # folders given as DATA=a,b are scored by source as well, their other painters as unknown artists
    folders = evaluate(run / "stage1" / "best.ckpt", data=f"{kaggle},{wikiart}", cache_dir=tmp_path / "cache")
    assert folders["per_source"]["kaggle"]["n_images"] == 30 and folders["per_source"]["wikiart"]["n_artists"] == 2
    assert folders["n_unknown_artist"] == 40


def test_a_split_recorded_with_the_older_name_keys_reads_as_the_same_setting(tmp_path, two_sources):
    """Keys once kept separators ('edgar degas'); a run recorded then goes on under today's keys."""
    kaggle, _ = two_sources
    kwargs = tiny_datamodule_kwargs(tmp_path, root=str(kaggle), exclude_artists=["Edgar_Degas"])
    PaintingsDataModule(**kwargs).split
    params = tmp_path / "run" / "split.json"
    params.write_text(json.dumps({**json.loads(params.read_text()), "exclude_artists": ["edgar degas"]}))
    assert PaintingsDataModule(**kwargs).artists == ["Claude Monet", "Rembrandt"]
