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


def test_datamodule_writes_split_once_and_reads_it_back(tmp_path, collection):
    kwargs = tiny_datamodule_kwargs(tmp_path, root=str(collection))
    first = PaintingsDataModule(**kwargs)
    assert first.artists == ["Claude Monet", "Edgar Degas", "Paul Gauguin"]
    manifest = pd.read_csv(tmp_path / "run" / "split.csv")
    assert list(manifest.columns) == ["path", "artist", "label", "split"]
    # A new painting added later must not change the recorded split of this run.
    make_collection(collection, {"Claude_Monet": 12, "Edgar_Degas": 10, "Paul_Gauguin": 10})
    again = PaintingsDataModule(**kwargs)
    assert again.split.equals(manifest)
    with pytest.raises(ValueError, match="other settings"):
        PaintingsDataModule(**{**kwargs, "seed": 3}).split


def test_datamodule_setup_and_batches(tmp_path, collection):
    dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection)))
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.datasets["train"]) == 24 and len(dm.datasets["val"]) == 6
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
    assert len(dm.datasets["train"]) + len(dm.datasets["val"]) == 29
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
