"""Finding paintings in every accepted layout, with one identity per artist."""
import pandas as pd
import pytest

from datamodules.artist_names import display_name, match_key, repair_encoding
from datamodules.discovery import discover
from tests.helpers.paintings import make_collection, write_painting
from tests.helpers.runs import SHARED_DATA


@pytest.mark.parametrize("nested", [False, True])
def test_kaggle_single_and_double_nesting(tmp_path, nested):
    root = make_collection(tmp_path, {"Claude_Monet": 3, "Edgar_Degas": 2}, nested=nested)
    found = discover(root)
    assert found.layout == ("kaggle-nested" if nested else "kaggle")
    assert found.index["artist"].value_counts().to_dict() == {"Claude Monet": 3, "Edgar Degas": 2}


def test_folder_per_artist_layout(tmp_path):
    for i in range(2):
        write_painting(tmp_path / "Titian" / f"t{i}.png", seed=i)
    found = discover(tmp_path)
    assert found.layout == "folder-per-artist"
    assert found.index["artist"].tolist() == ["Titian", "Titian"]


def test_csv_names_with_spaces_match_folders_with_underscores(tmp_path):
    root = make_collection(tmp_path, {"Pierre-Auguste_Renoir": 2, "Albrecht_Du╠êrer": 2},
                           artists_csv=["Pierre-Auguste Renoir", "Albrecht Dürer", "Jan van Eyck"])
    found = discover(root)
    # the broken zip spelling of Dürer is matched to artists.csv, not a new artist
    assert sorted(found.index["artist"].unique()) == ["Albrecht Dürer", "Pierre-Auguste Renoir"]


def test_artist_in_csv_without_images_is_reported_not_fatal(tmp_path, caplog):
    root = make_collection(tmp_path, {"Claude_Monet": 2}, artists_csv=["Claude Monet", "Jan van Eyck"])
    with caplog.at_level("WARNING"):
        found = discover(root)
    assert found.index["artist"].unique().tolist() == ["Claude Monet"]
    assert "Jan van Eyck" in caplog.text


def test_name_helpers():
    assert repair_encoding("Du╠êrer") == "Dürer"
    assert display_name("Henri_de_Toulouse-Lautrec") == "Henri de Toulouse-Lautrec"
    assert match_key("Albrecht_Du╠êrer") == match_key("Albrecht Dürer") == match_key("albrecht durer")
    assert repair_encoding("Renoir") == "Renoir"


def test_csv_manifest(tmp_path):
    a = write_painting(tmp_path / "x" / "a.jpg", 1)
    b = write_painting(tmp_path / "x" / "b.jpg", 2)
    (tmp_path / "m.csv").write_text(f"path,artist\nx/a.jpg,Claude Monet\n{b},Edgar_Degas\nx/a.jpg,Claude Monet\n")
    found = discover(tmp_path / "m.csv")
    assert sorted(found.index["artist"]) == ["Claude Monet", "Edgar Degas"]
    assert found.skipped_frame()["reason"].tolist() == ["duplicate_manifest_row"]
    assert set(found.index["path"]) == {str(a.resolve()), str(b.resolve())}


def test_manifest_missing_column_is_a_clear_error(tmp_path):
    (tmp_path / "m.csv").write_text("file,artist\na.jpg,X\n")
    with pytest.raises(ValueError, match="lacks column.*path"):
        discover(tmp_path / "m.csv")


def test_missing_data_folder_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        discover(tmp_path / "nowhere")


def test_unreadable_files_are_skipped_with_a_reason(tmp_path):
    root = make_collection(tmp_path, {"Claude_Monet": 2})
    folder = root / "images" / "Claude_Monet"
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "page.jpg").write_text("<html>not a painting</html>")
    (folder / ".DS_Store").write_bytes(b"junk")
    found = discover(root)
    assert len(found.index) == 2
    reasons = dict(zip(found.skipped_frame()["path"].map(lambda p: p.rsplit("/", 1)[-1]),
                       found.skipped_frame()["reason"]))
    assert reasons == {"empty.jpg": "empty_file", "page.jpg": "not_an_image", ".DS_Store": "os_junk_or_hidden"}


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data/best-artworks-128 not present")
def test_shared_best_artworks_128():
    found = discover(SHARED_DATA)
    assert found.index["artist"].nunique() == 49
    assert len(found.index) == 7304
    assert not found.skipped
    assert isinstance(found.index, pd.DataFrame)


def test_public_domain_sample_keeps_only_artists_dead_before_1955(tmp_path):
    from datamodules.public_domain_sample import build_sample
    source = make_collection(tmp_path / "src", {"Claude_Monet": 6, "Andy_Warhol": 9, "Paul_Klee": 8, "Titian": 4})
    (source / "artists.csv").write_text("id,name,years\n0,Claude Monet,1840 - 1926\n1,Andy Warhol,1928 – 1987\n"
                                        "2,Paul Klee,1879 - 1940\n3,Titian,1488 - 1576\n", encoding="utf-8")
    chosen = build_sample(source, tmp_path / "sample", n_artists=5, per_artist=3)
    assert chosen["name"].tolist() == ["Claude Monet", "Titian"]  # Warhol died in 1987; Klee is left out to be safe
    found = discover(tmp_path / "sample")
    assert found.index["artist"].value_counts().to_dict() == {"Claude Monet": 3, "Titian": 3}
