"""Tests for the demo catalog's data files and their loader (synthetic test/demo data)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest

from genre_pipeline.demo.datafile import DataFile, DemoDataError
from genre_pipeline.demo.posters import PATTERNS, STAMPS, PosterPainter
from genre_pipeline.demo.records import build_records
from genre_pipeline.demo.vocabulary import QUIRKS, load_vocabulary

DATA_FILES = {"catalog.json", "genres.json", "posters.json", "text.json", "synthetic_md.template"}


def package_data() -> Path:
    return Path(str(resources.files("genre_pipeline.demo").joinpath("data")))


def test_package_data_files_are_the_vocabulary_and_say_they_are_synthetic():
    found = {p.name for p in package_data().iterdir() if p.is_file()}
    assert found == DATA_FILES
    for name in sorted(DATA_FILES - {"synthetic_md.template"}):
        about = json.loads((package_data() / name).read_text(encoding="utf-8"))["about"]
        assert "Synthetic demo data" in about and "Not a source of real movies" in about


def test_package_vocabulary_loads_and_covers_every_genre():
    vocab = load_vocabulary()
    names = vocab.genres.names
    assert len(names) == 19 and vocab.genres.legacy == (10769, "Foreign")
    assert [n for n, _ in vocab.genres.primary_weights][:2] == ["Drama", "Comedy"]
    for table in (vocab.genres.companions, vocab.genres.text_strength,
                  vocab.genres.poster_strength, vocab.genres.runtime_means,
                  vocab.text.genre_words, vocab.posters.palettes, vocab.posters.motifs):
        assert set(table) == set(names)
    assert all(all(part) for part in vocab.text.genre_words.values())
    assert vocab.text.languages.count("en") == 16 and len(vocab.text.languages) == 24
    assert vocab.text.titles.prefix == "Synthetic: "
    assert set(vocab.catalog.quirks) == set(QUIRKS)
    assert vocab.posters.size == (96, 144)
    # "w-10" / "h-20" bounds are resolved against the poster size.
    assert vocab.posters.motifs["Romance"].draws == (("cx", 10, 86), ("cy", 10, 124),
                                                     ("size", 6, 12))
    assert vocab.posters.motifs["Action"].params["start"] == (-144, 0)
    # Every motif names a known pattern / stamp with the parameters it takes.
    PosterPainter(vocab.posters, vocab.genres)
    used = {spec.pattern for spec in vocab.posters.motifs.values()}
    stamps = {spec.stamp for spec in vocab.posters.motifs.values()} - {None}
    assert used == set(PATTERNS) and stamps == set(STAMPS)
    assert load_vocabulary() is vocab  # cached


def test_a_copied_data_directory_loads_the_same(tmp_path):
    shutil.copytree(package_data(), tmp_path / "data")
    assert load_vocabulary(tmp_path / "data") == load_vocabulary()


# ---- bad data: every error names the file and the field --------------------------------


def edit_json(name: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(data_dir: Path) -> None:
        path = data_dir / name
        payload = json.loads(path.read_text(encoding="utf-8"))
        change(payload)
        path.write_text(json.dumps(payload), encoding="utf-8")
    return apply


def set_path(keys: tuple, value) -> Callable[[dict], None]:
    def change(payload: dict) -> None:
        node = payload
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return change


def broken_json(data_dir: Path) -> None:
    (data_dir / "text.json").write_text('{\n  "about": "x",\n  "names": [1,\n', encoding="utf-8")


def drop_file(data_dir: Path) -> None:
    (data_dir / "posters.json").unlink()


BAD_DATA = {
    "not json": (broken_json, r"text\.json:4: not valid JSON"),
    "missing file": (drop_file, r"posters\.json: cannot read demo data file"),
    "missing field": (edit_json("genres.json", lambda p: p.pop("max_genres")),
                      r"genres\.json: max_genres: missing"),
    "wrong type": (edit_json("genres.json", set_path(("genres", 2, "id"), "16")),
                   r"genres\.json: genres\.2\.id: expected an integer, got \"16\""),
    "unknown signal": (edit_json("genres.json", set_path(("genres", 0, "signal"), "smell")),
                       r"genres\.json: genres\.0\.signal: 'smell' is none of"),
    "unknown companion": (
        edit_json("genres.json", set_path(("companions", "Romance"), [["Opera", 0.5]])),
        r"genres\.json: companions\.Romance: .*wrong: \['Opera'\]",
    ),
    "genre without words": (
        edit_json("text.json", lambda p: p["genre_words"].pop("Western")),
        r"text\.json: genre_words: genres missing \['Western'\]",
    ),
    "unknown slot": (
        edit_json("text.json", set_path(("sentences", 0), "{name} meets {villain}.")),
        r"text\.json: sentences: '\{name\} meets \{villain\}\.': unknown slots \['villain'\]",
    ),
    "bad colour": (edit_json("posters.json", set_path(("palettes", "Drama", "top"), [1, 2])),
                   r"posters\.json: palettes\.Drama\.top: expected an \[r, g, b\] colour"),
    "bad bound": (
        edit_json("posters.json", set_path(("motifs", "Music", "cx"), [10, "width-10"])),
        r"posters\.json: motifs\.Music\.cx: expected a number or a w/h bound",
    ),
    "inverted range": (
        edit_json("posters.json", set_path(("motifs", "Comedy", "count"), [22, 10])),
        r"posters\.json: motifs\.Comedy\.count: expected a \[low, high\] range",
    ),
    "quirk rate": (edit_json("catalog.json", set_path(("quirks", "undated", "rate"), 2)),
                   r"catalog\.json: quirks\.undated\.rate: expected a rate in \[0, 1\], got 2"),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_data_files_are_rejected_naming_file_and_field(tmp_path, case):
    spoil, message = BAD_DATA[case]
    shutil.copytree(package_data(), tmp_path / "data")
    spoil(tmp_path / "data")
    with pytest.raises(DemoDataError, match=message):
        load_vocabulary(tmp_path / "data")


BAD_MOTIFS = {
    "unknown pattern": (("motifs", "Drama", "pattern"), "plaid",
                        r"posters\.json: motifs\.Drama\.pattern: unknown pattern 'plaid'"),
    "unknown stamp": (("motifs", "Fantasy", "stamp"), "star",
                      r"posters\.json: motifs\.Fantasy\.stamp: unknown stamp 'star'"),
    "stamp params": (("motifs", "Fantasy", "draws"), [["cx", [0, "w"]], ["cy", [0, "h"]]],
                     r"posters\.json: motifs\.Fantasy\.draws: stamp 'diamond' takes"),
    "pattern params": (("motifs", "Documentary", "spacing"), [10, 16],
                       r"posters\.json: motifs\.Documentary: pattern 'grid' takes \['step'\]"),
}


@pytest.mark.parametrize("case", sorted(BAD_MOTIFS))
def test_motifs_that_fit_no_routine_are_rejected(tmp_path, case):
    keys, value, message = BAD_MOTIFS[case]
    shutil.copytree(package_data(), tmp_path / "data")
    edit_json("posters.json", set_path(keys, value))(tmp_path / "data")
    vocab = load_vocabulary(tmp_path / "data")
    with pytest.raises(DemoDataError, match=message):
        PosterPainter(vocab.posters, vocab.genres)


def test_record_layout_must_name_every_field_once(tmp_path):
    shutil.copytree(package_data(), tmp_path / "data")
    edit_json("catalog.json", lambda p: p["tmdb_movie_fields"].remove("runtime"))(tmp_path / "data")
    vocab = load_vocabulary(tmp_path / "data")
    with pytest.raises(DemoDataError, match=r"catalog\.json: tmdb_movie_fields: expected each of"):
        build_records(5, 0, 2000, 2001, vocab)


def test_data_drives_the_output(tmp_path):
    """A changed word list shows up in the records: the vocabulary really is the data."""
    shutil.copytree(package_data(), tmp_path / "data")
    edit_json("text.json", set_path(("titles", "nouns"), ["Teapot", "Kettle"]))(tmp_path / "data")
    edit_json("catalog.json", set_path(("status",), "Rumored"))(tmp_path / "data")
    records = build_records(30, 0, 2000, 2010, load_vocabulary(tmp_path / "data")).records
    titles = " ".join(r["title"] for r in records)
    assert "Teapot" in titles and "Kettle" in titles
    assert {r["status"] for r in records} == {"Rumored"}


@pytest.mark.parametrize(
    ("bound", "expected"),
    [(7, 7), (2.5, 2.5), ("w", 96), ("h", 144), ("-h", -144), ("w-10", 86), ("h+3", 147)],
)
def test_bounds_resolve_against_the_poster_size(tmp_path, bound, expected):
    path = tmp_path / "x.json"
    path.write_text("{}", encoding="utf-8")
    assert DataFile(path).bound(bound, ("k",), (96, 144)) == expected


def test_loaded_vocabulary_is_read_only():
    vocab = load_vocabulary()
    with pytest.raises(TypeError, match="does not support item assignment"):
        vocab.genres.companions["Drama"] = ()  # type: ignore[index]
    assert vocab.genres.companions["Drama"][0] == ("Romance", 0.25)
