"""Selection and the stratified, recorded split."""
import pandas as pd
import pytest

from datamodules import PaintingsDataModule
from datamodules.selection import select_artists
from datamodules.split import stratified_split
from tests.helpers.paintings import make_collection
from tests.helpers.runs import tiny_datamodule_kwargs


def index_of(counts: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame([{"path": f"/d/{a}/{i}.jpg", "artist": a} for a, n in counts.items() for i in range(n)])


def test_top_k_by_count_ties_broken_by_name():
    index = index_of({"Degas": 5, "Monet": 7, "Bosch": 5, "Titian": 3})
    kept, _ = select_artists(index, top_k_artists=2)
    assert sorted(kept["artist"].unique()) == ["Bosch", "Monet"]


def test_min_images_drops_and_reports():
    index = index_of({"Degas": 5, "Monet": 1, "Bosch": 3})
    kept, report = select_artists(index, min_images_per_artist=3)
    assert sorted(kept["artist"].unique()) == ["Bosch", "Degas"]
    assert {r["artist"] for r in report} == {"Monet"}
    assert all(r["reason"] == "artist_below_min_images" for r in report)


def test_single_image_artist_is_left_out_even_with_min_1():
    kept, report = select_artists(index_of({"Degas": 4, "Monet": 1}), min_images_per_artist=1)
    assert kept["artist"].unique().tolist() == ["Degas"] and len(report) == 1


def test_excluded_artists_are_left_out_under_any_spelling_and_reported():
    index = index_of({"Vincent van Gogh": 4, "Salvador Dalí": 3, "Titian": 5})
    kept, report = select_artists(index, exclude_artists=["vincent_van_gogh", "Salvador Dali"], top_k_artists=1)
    assert kept["artist"].unique().tolist() == ["Titian"]  # top-k counts only the artists still in
    assert len(report) == 7 and {r["reason"] for r in report} == {"artist_excluded"}
    with pytest.raises(ValueError, match="not in the data: Monet"):
        select_artists(index, exclude_artists=["Titian", "Monet"])
    with pytest.raises(ValueError, match="a list of artist names, got the string 'Titian'"):
        select_artists(index, exclude_artists="Titian")


def test_max_images_is_a_seeded_subsample():
    index = index_of({"Degas": 50, "Monet": 4})
    a, _ = select_artists(index, max_images_per_artist=10, seed=1)
    b, _ = select_artists(index, max_images_per_artist=10, seed=1)
    c, _ = select_artists(index, max_images_per_artist=10, seed=2)
    assert a["artist"].value_counts().to_dict() == {"Degas": 10, "Monet": 4}
    assert a.equals(b) and not a.equals(c)


def test_split_is_stratified_and_deterministic():
    index = index_of({"Degas": 37, "Monet": 10, "Bosch": 2, "Titian": 123})
    split = stratified_split(index, 0.2, seed=7)
    for artist, group in split.groupby("artist"):
        n_val = (group["split"] == "val").sum()
        assert 1 <= n_val < len(group)
        assert abs(n_val - 0.2 * len(group)) <= 1
    assert split.equals(stratified_split(index, 0.2, seed=7))
    assert not split["split"].equals(stratified_split(index, 0.2, seed=8)["split"])
    # labels follow sorted artist names
    assert dict(zip(split["artist"], split["label"])) == {"Bosch": 0, "Degas": 1, "Monet": 2, "Titian": 3}


def test_test_part_is_stratified_disjoint_and_leaves_validation_as_it_was():
    index = index_of({"Degas": 37, "Monet": 22, "Bosch": 3, "Titian": 123})
    without = stratified_split(index, 0.2, seed=7)
    split = stratified_split(index, 0.2, seed=7, test_fraction=0.1)
    sizes = split.groupby(["artist", "split"]).size().unstack(fill_value=0)
    assert sizes.loc["Monet"].to_dict() == {"test": 2, "train": 16, "val": 4}
    assert sizes.loc["Titian", "test"] == 12 and sizes.loc["Degas", "test"] == 4
    assert sizes.loc["Bosch"].to_dict() == {"test": 1, "train": 1, "val": 1}  # one left to train on
    assert split["path"].is_unique and len(split) == len(index)
    # The same validation paintings with or without a test part: the test part comes out of training.
    assert set(split.loc[split["split"] == "val", "path"]) == set(without.loc[without["split"] == "val", "path"])
    assert set(split.loc[split["split"] == "test", "path"]) <= set(without.loc[without["split"] == "train", "path"])


def test_without_groups_or_test_part_the_split_is_the_one_earlier_versions_recorded():
    import numpy as np
    index = index_of({"Degas": 37, "Monet": 10, "Bosch": 2, "Titian": 123})
    rng, earlier = np.random.default_rng(5), {}
    for artist in sorted(index["artist"].unique()):  # the algorithm before the test part existed
        paths = sorted(index.loc[index["artist"] == artist, "path"])
        n_val = min(max(int(round(len(paths) * 0.2)), 1), len(paths) - 1)
        earlier.update({paths[i]: "val" for i in rng.permutation(len(paths))[:n_val]})
    split = stratified_split(index, 0.2, seed=5)
    assert dict(zip(split["path"], split["split"])) == {p: earlier.get(p, "train") for p in index["path"]}


def test_a_group_of_near_duplicates_goes_whole_into_one_part():
    index = index_of({"Degas": 40})
    groups = list(range(40))
    for member in (5, 9, 17, 30):  # one painting five times
        groups[member] = 3
    for seed in range(20):
        split = stratified_split(index, 0.2, seed=seed, test_fraction=0.1, groups=groups)
        assert split.loc[split["group"] == 3, "split"].nunique() == 1


def test_near_duplicates_are_found_within_an_artist_and_not_across(tmp_path, monkeypatch):
    from pathlib import Path

    from PIL import Image

    import numpy as np

    from datamodules.near_duplicates import difference_hashes, group_near_duplicates

    def composition(seed: int) -> Path:
        """Large shapes, as a painting has (pure noise has no gradient a 9x8 hash could keep)."""
        blocks = np.random.default_rng(seed).integers(0, 256, (5, 6, 3), dtype=np.uint8)
        path = tmp_path / f"{seed}.png"
        Image.fromarray(blocks).resize((120, 90), Image.Resampling.BICUBIC).save(path)
        return path

    paths = [composition(seed) for seed in range(4)]
    # The first painting again: smaller, JPEG-compressed (as a second copy in a collection would be).
    Image.open(paths[0]).resize((60, 45), Image.Resampling.LANCZOS).save(tmp_path / "copy.jpg", quality=70)
    # ... and once more, filed under another artist.
    Image.open(paths[0]).save(tmp_path / "other.png")
    files = [str(p) for p in paths] + [str(tmp_path / "copy.jpg"), str(tmp_path / "other.png")]
    artists = pd.Series(["A", "A", "A", "A", "A", "B"]).to_numpy()
    hashes = difference_hashes(files)
    assert len(set(hashes[:4].tolist())) == 4
    assert group_near_duplicates(hashes, artists, max_bits=3).tolist() == [0, 1, 2, 3, 0, 5]
    assert group_near_duplicates(hashes, artists, max_bits=-1).tolist() == list(range(6))
    from datamodules import near_duplicates
    assert near_duplicates.near_duplicate_groups(files, artists, 3).tolist() == [0, 1, 2, 3, 0, 5]
    # No grouping asked: no painting is opened to hash it.
    monkeypatch.setattr(near_duplicates, "difference_hashes", lambda paths: pytest.fail("hashed"))
    assert near_duplicates.near_duplicate_groups(files, artists, -1).tolist() == list(range(6))


def test_datamodule_writes_split_once_and_reads_it_back(tmp_path, collection):
    kwargs = tiny_datamodule_kwargs(tmp_path, root=str(collection))
    first = PaintingsDataModule(**kwargs)
    assert first.artists == ["Claude Monet", "Edgar Degas", "Paul Gauguin"]
    manifest = pd.read_csv(tmp_path / "run" / "split.csv")
    assert list(manifest.columns) == ["path", "artist", "label", "split", "group", "source"]
    # A new painting added later must not change the recorded split of this run.
    make_collection(collection, {"Claude_Monet": 12, "Edgar_Degas": 10, "Paul_Gauguin": 10})
    again = PaintingsDataModule(**kwargs)
    assert again.split.equals(manifest)
    with pytest.raises(ValueError, match="other settings"):
        PaintingsDataModule(**{**kwargs, "seed": 3}).split
    with pytest.raises(ValueError, match="test_fraction"):
        PaintingsDataModule(**{**kwargs, "test_fraction": 0.0}).split


def test_a_split_recorded_before_the_test_part_existed_still_reads_as_what_it_was(tmp_path, collection):
    import json
    kwargs = tiny_datamodule_kwargs(tmp_path, root=str(collection), test_fraction=0.0, near_duplicate_bits=-1)
    PaintingsDataModule(**kwargs).split
    params_path = tmp_path / "run" / "split.json"
    params = json.loads(params_path.read_text())
    params_path.write_text(json.dumps({k: v for k, v in params.items()
                                       if k not in ("test_fraction", "near_duplicate_bits")}))
    assert len(PaintingsDataModule(**kwargs).split) == 30
    with pytest.raises(ValueError, match="test_fraction: run has 0.0, asked for 0.1"):
        PaintingsDataModule(**{**kwargs, "test_fraction": 0.1}).split


def test_a_run_without_some_artists_records_them_and_older_runs_read_as_none_left_out(tmp_path, collection):
    import json
    kwargs = tiny_datamodule_kwargs(tmp_path, root=str(collection))
    dm = PaintingsDataModule(**kwargs, exclude_artists=["Edgar_Degas"])
    assert dm.artists == ["Claude Monet", "Paul Gauguin"]
    dm.prepare_data()
    dm.setup("fit")
    report = pd.read_csv(tmp_path / "run" / "data_report.csv")
    assert (report.loc[report["artist"] == "Edgar Degas", "reason"] == "artist_excluded").sum() == 10
    with pytest.raises(ValueError, match="exclude_artists: run has \\['edgardegas'\\], asked for \\[\\]"):
        PaintingsDataModule(**kwargs).split
    # A split.json from before the option existed left nobody out.
    other = tiny_datamodule_kwargs(tmp_path / "older", root=str(collection))
    PaintingsDataModule(**other).split
    params_path = tmp_path / "older" / "run" / "split.json"
    params_path.write_text(json.dumps({k: v for k, v in json.loads(params_path.read_text()).items()
                                       if k != "exclude_artists"}))
    assert PaintingsDataModule(**other).artists == ["Claude Monet", "Edgar Degas", "Paul Gauguin"]


def test_near_duplicate_groups_are_listed_in_the_data_report(tmp_path, collection):
    import shutil
    monet = collection / "images" / "Claude_Monet"
    shutil.copy(monet / "Claude_Monet_1.jpg", monet / "Claude_Monet_11.jpg")
    dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection)))
    dm.prepare_data()
    dm.setup("fit")
    split = dm.split.set_index(dm.split["path"].map(lambda p: p.rsplit("/", 1)[-1]))
    assert split.at["Claude_Monet_1.jpg", "split"] == split.at["Claude_Monet_11.jpg", "split"]
    report = pd.read_csv(tmp_path / "run" / "data_report.csv")
    grouped = report[report["reason"] == "near_duplicate"]
    assert sorted(grouped["path"].map(lambda p: p.rsplit("/", 1)[-1])) == ["Claude_Monet_1.jpg", "Claude_Monet_11.jpg"]
    assert grouped["detail"].str.contains("near-duplicate of Claude_Monet_1").any()


def test_datamodule_setup_and_batches(tmp_path, collection):
    dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection)))
    dm.prepare_data()
    dm.setup("fit")
    # 10 paintings per artist: 2 validation, 1 test, 7 training.
    assert [len(dm.datasets[part]) for part in ("train", "val", "test")] == [21, 6, 3]
    assert dm.held_out_part == "test"
    images, labels, rows = next(iter(dm.val_dataloader()))
    assert images.dtype.is_floating_point is False and images.shape[1:] == (3, 32, 32)
    assert (tmp_path / "run" / "data_report.csv").is_file()


def test_corrupt_file_is_skipped_and_reported(tmp_path, collection):
    # A JPEG cut in half passes the header check and fails at decoding.
    victim = collection / "images" / "Claude_Monet" / "Claude_Monet_1.jpg"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) * 2 // 3])
    dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection)))
    dm.prepare_data()
    dm.setup("fit")
    assert sum(len(dataset) for dataset in dm.datasets.values()) == 29
    report = pd.read_csv(tmp_path / "run" / "data_report.csv")
    assert report["path"].str.endswith("Claude_Monet_1.jpg").any()
    assert set(report["reason"]) == {"decode_failed"}


def test_decoded_cache_notices_changed_files(tmp_path, collection):
    from datamodules.image_store import store_key
    paths = sorted(str(p) for p in collection.rglob("*.jpg"))
    before = store_key(paths, 32)
    assert store_key(paths, 32) == before and store_key(paths, 64) != before
    import os
    os.utime(paths[0], ns=(1, 1))
    assert store_key(paths, 32) != before
