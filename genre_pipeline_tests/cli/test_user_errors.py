"""Ordinary user mistakes: one line on stderr naming what is wrong, exit 2, no traceback.

Each case runs the real command in a subprocess, as a user would.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from genre_pipeline_tests.support.snapshots import movie, write_snapshot

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("GENRE_PIPELINE_", "TMDB_"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "genre_pipeline.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env=full_env, input=stdin, timeout=300)


def assert_user_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def snapshot(tmp_path) -> Path:
    return write_snapshot(tmp_path / "snapshot", [movie(1, "One", "2001-01-01", [28])])


@pytest.mark.parametrize(
    ("variable", "value", "needles"),
    [
        ("GENRE_PIPELINE_SOURCE", "bogus", ("GENRE_PIPELINE_SOURCE must be one of demo, snapshot, tmdb", "'bogus'")),
        ("TMDB_RATE_LIMIT", "fast", ("TMDB_RATE_LIMIT must be a number", "'fast'")),
        ("GENRE_PIPELINE_DEMO_MOVIES", "abc", ("GENRE_PIPELINE_DEMO_MOVIES must be a whole number", "'abc'")),
        ("GENRE_PIPELINE_SCHEDULES", "maybe", ("GENRE_PIPELINE_SCHEDULES must be 'on' or 'off'",)),
        ("GENRE_PIPELINE_SENTENCE_ENCODER", "bert", ("GENRE_PIPELINE_SENTENCE_ENCODER must be one of minilm, none",)),
        ("GENRE_PIPELINE_VGG16_IMAGE_SIZE", "8", ("GENRE_PIPELINE_VGG16_IMAGE_SIZE must be at least 32",)),
    ],
)
def test_bad_environment_values_even_with_a_snapshot(tmp_path, snapshot, variable, value, needles):
    done = run_cli("run", "--snapshot", str(snapshot), "--home", str(tmp_path / "home"), env={variable: value})
    assert_user_error(done, *needles)


def test_bad_selections_list_the_assets_or_the_syntax(tmp_path, snapshot):
    done = run_cli("run", "--snapshot", str(snapshot), "--home", str(tmp_path / "home"), "--select", "key:no_such_asset")
    assert_user_error(done, "bad --select 'key:no_such_asset'", "assets:", "raw_movie_records", "model_evaluation")
    done = run_cli("run", "--snapshot", str(snapshot), "--home", str(tmp_path / "home"), "--select", "movies+ and (((")
    assert_user_error(done, "bad --select")


def test_a_home_that_is_a_file(tmp_path, snapshot):
    home = tmp_path / "a_file"
    home.write_text("not a directory")
    for args in (("run", "--snapshot", str(snapshot)), ("report",), ("predict", "--overview", "A heist.")):
        assert_user_error(run_cli(*args, "--home", str(home)), f"home {home} is a file, not a directory")


def test_bad_arguments(tmp_path, snapshot):
    assert_user_error(run_cli("run", "--snapshot", str(tmp_path / "missing"), "--home", str(tmp_path / "h")),
                      "snapshot directory", "does not exist")
    assert_user_error(run_cli("run", "--years", "2015-19x", "--home", str(tmp_path / "h")), "--years expects A-B")
    assert_user_error(run_cli("run", "--years", "1700-1701", "--home", str(tmp_path / "h")), "outside 1874-2030")
    assert_user_error(run_cli("predict", "--home", str(tmp_path / "h")), "give --overview TEXT")
    assert_user_error(run_cli("predict", "--overview-file", "-", "--home", str(tmp_path / "h"), stdin="  \n"),
                      "standard input is blank")
    assert_user_error(run_cli("demo-catalog", str(tmp_path / "d"), "--movies", "0"), "--movies must be at least 1")
