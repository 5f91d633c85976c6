"""`genre-pipeline demo-catalog`: writes the synthetic snapshot, once with --if-missing, inside the home by default."""

import gzip
import json

from genre_pipeline.cli.main import main
from genre_pipeline.storage.home import Home


def test_writes_a_synthetic_snapshot_and_if_missing_leaves_it_alone(tmp_path, capsys):
    target = tmp_path / "catalog"
    assert main(["demo-catalog", str(target), "--movies", "40", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote SYNTHETIC demo catalog to {target}: 40 movies")
    records = [json.loads(line) for line in gzip.open(target / "movies.jsonl.gz", "rt", encoding="utf-8")]
    assert len({r["id"] for r in records}) == 40 and all(r["title"].startswith("Synthetic:") for r in records)
    assert (target / "SYNTHETIC.md").is_file() and (target / "genres.json").is_file()
    written = (target / "movies.jsonl.gz").stat().st_mtime_ns
    assert main(["demo-catalog", str(target), "--movies", "99", "--if-missing"]) == 0
    assert capsys.readouterr().out.strip() == f"demo catalog already at {target}"
    assert (target / "movies.jsonl.gz").stat().st_mtime_ns == written
    assert main(["demo-catalog", str(target), "--movies", "12", "--seed", "7"]) == 0  # without it: rewritten
    assert sum(1 for _ in gzip.open(target / "movies.jsonl.gz", "rt", encoding="utf-8")) < len(records)


def test_default_target_is_the_homes_demo_catalog(tmp_path, capsys):
    home = Home(tmp_path / "home")
    assert main(["demo-catalog", "--home", str(home.root), "--movies", "10"]) == 0
    assert (home.demo_catalog_dir / "movies.jsonl.gz").is_file()
    assert str(home.demo_catalog_dir) in capsys.readouterr().out
