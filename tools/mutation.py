"""Mutation testing with mutmut over the modules pyproject.toml's [tool.mutmut] lists (`make mutation`).

mutmut writes its mutants next to the code it mutates, so this runner lays out a scratch
project under ``build/mutation/<scope>/`` (the package, the tests, a pyproject.toml holding
the pytest settings and the [tool.mutmut] entries of the scope), runs ``mutmut run`` there,
and prints per module: mutants total / killed / survived / timeout / no tests, the kill rate
and every surviving mutant. Each run starts over (``--reuse`` keeps earlier verdicts and re-tests
only mutants of functions whose code changed); ``mutmut show NAME`` run in the scratch folder
prints a mutant's diff.

    python tools/mutation.py [--scope catalog|models|all (default)] [--reuse] [--max-children N] [--fail-under PCT]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "genre_pipeline"
TESTS = "genre_pipeline_tests"
SCOPES = ("catalog", "models")
STATUS_COLUMNS = ("killed", "survived", "timeout", "no tests", "suspicious", "skipped", "not checked")


def scoped_settings(mutmut: dict, scope: str) -> dict:
    """The [tool.mutmut] table narrowed to one package's modules and tests (``all``: unchanged)."""
    if scope == "all":
        return dict(mutmut)
    settings = dict(mutmut)
    settings["only_mutate"] = [p for p in mutmut["only_mutate"] if p.startswith(f"{PACKAGE}/{scope}/")]
    settings["pytest_add_cli_args_test_selection"] = [
        p for p in mutmut["pytest_add_cli_args_test_selection"] if p.startswith(f"{TESTS}/{scope}/")
    ]
    if not settings["only_mutate"]:
        raise SystemExit(f"pyproject.toml [tool.mutmut] only_mutate lists no module under {PACKAGE}/{scope}/")
    return settings


def existing_test_paths(settings: dict) -> dict:
    """Drop test paths that do not exist yet (pytest would refuse the whole run), saying which."""
    kept = []
    for path in settings["pytest_add_cli_args_test_selection"]:
        if (ROOT / path).exists():
            kept.append(path)
        else:
            print(f"mutation: {path} (pyproject.toml [tool.mutmut]) does not exist: left out of the test selection")
    if not kept:
        raise SystemExit("mutation: no test path of the scope exists")
    return settings | {"pytest_add_cli_args_test_selection": kept}


def toml_table(name: str, table: dict) -> str:
    """A flat TOML table (strings, numbers, booleans, lists of those): JSON spells each value validly."""
    return f"[{name}]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in table.items())


def sync_tree(source: Path, target: Path) -> None:
    """Make ``target`` a copy of ``source`` (mtimes kept, so mutmut re-mutates only changed files)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True, copy_function=shutil.copy2)
    for path in sorted(target.rglob("*"), reverse=True):
        if "__pycache__" not in path.parts and not (source / path.relative_to(target)).exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def drop_stale_mutants(work: Path) -> None:
    """Mutated copies (and their results) of source files that no longer exist."""
    mutants = work / "mutants" / PACKAGE
    if not mutants.exists():
        return
    for path in mutants.rglob("*.py"):
        if not (work / path.relative_to(work / "mutants")).exists():
            for leftover in (path, path.with_name(path.name + ".meta"), path.with_name(path.name + ".spans")):
                leftover.unlink(missing_ok=True)


def prepare(work: Path, settings: dict, pytest_options: dict, *, fresh: bool) -> None:
    """Lay out the scratch project: package, tests and a pyproject.toml with the scope's settings."""
    if fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    sync_tree(ROOT / PACKAGE, work / PACKAGE)
    sync_tree(ROOT / TESTS, work / TESTS)
    drop_stale_mutants(work)
    text = toml_table("tool.pytest.ini_options", pytest_options) + "\n" + toml_table("tool.mutmut", settings)
    target = work / "pyproject.toml"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def module_results(work: Path, only_mutate: list[str]) -> dict[str, tuple[Counter, list[str]]]:
    """Per mutated module: mutant counts by status and the surviving mutants' names (mutmut's ``.meta`` files)."""
    from mutmut.stats import status_by_exit_code

    results = {}
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        if not any(fnmatch.fnmatch(str(meta.relative_to(work / "mutants"))[: -len(".meta")], p) for p in only_mutate):
            continue
        statuses = {key: status_by_exit_code[code] for key, code in json.loads(meta.read_text())["exit_code_by_key"].items()}
        if not statuses:  # a module without functions (e.g. a package's __init__)
            continue
        module = str(meta.relative_to(work / "mutants"))[: -len(".meta")]
        results[module] = (Counter(statuses.values()), sorted(k for k, s in statuses.items() if s == "survived"))
    return results


def kill_rate(counts: Counter) -> float:
    """Killed (timeouts count as killed, as mutmut's own score does) over mutants that ran."""
    ran = sum(counts[s] for s in STATUS_COLUMNS if s not in ("skipped", "not checked"))
    return 100.0 * (counts["killed"] + counts["timeout"]) / ran if ran else 0.0


def report(results: dict[str, tuple[Counter, list[str]]], seconds: float) -> tuple[str, float]:
    """The per-module table, the surviving mutants and the overall kill rate."""

    def row(name: str, counts: Counter) -> str:
        total = sum(counts[s] for s in STATUS_COLUMNS)
        return f"{name:40} {total:6d} " + " ".join(f"{counts[s]:11d}" for s in STATUS_COLUMNS) + f" {kill_rate(counts):8.1f}%"

    header = f"{'module':40} {'total':>6} " + " ".join(f"{s:>11}" for s in STATUS_COLUMNS) + f" {'kill rate':>9}"
    overall = sum((counts for counts, _ in results.values()), Counter())
    survivors = [name for _, names in results.values() for name in names]
    lines = [header, "-" * len(header), *(row(m, counts) for m, (counts, _) in results.items()), row("all", overall)]
    lines.append(f"surviving mutants: {len(survivors)}" + "".join(f"\n  {name}" for name in survivors))
    lines.append(f"mutation run: {seconds:.0f} s wall")
    return "\n".join(lines), kill_rate(overall)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scope", choices=(*SCOPES, "all"), default=os.environ.get("MUTATION_SCOPE", "all"),
                        help="the modules of one package, or every module in [tool.mutmut] (default all)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep earlier verdicts, re-testing only mutants of changed functions (a new test does not re-test survivors)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested in parallel (default 2)")
    parser.add_argument("--fail-under", type=float, default=90.0, help="exit 1 below this kill rate (percent)")
    args = parser.parse_args(argv)

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    settings = existing_test_paths(scoped_settings(pyproject["tool"]["mutmut"], args.scope))
    work = ROOT / "build" / "mutation" / args.scope
    prepare(work, settings, pyproject["tool"]["pytest"]["ini_options"], fresh=not args.reuse)

    mutmut = Path(sys.executable).with_name("mutmut")
    started = time.monotonic()
    # mutmut forks each mutant's test run from a process that already ran the tests: an OpenMP or
    # BLAS thread pool started there spins forever in the child (sklearn, numpy), so one thread.
    env = os.environ | {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    command = [str(mutmut), "run", "--max-children", str(args.max_children)]
    completed = subprocess.run(command, cwd=work, env=env, check=False)
    seconds = time.monotonic() - started
    if completed.returncode != 0:
        print(f"mutation: mutmut run exited {completed.returncode} (output above; scratch project {work})")
        return completed.returncode

    text, rate = report(module_results(work, settings["only_mutate"]), seconds)
    print(text)
    (work / "report.txt").write_text(text + "\n")
    print(f"report: {work / 'report.txt'}; a mutant's diff: cd {work} && {mutmut} show NAME")
    if rate < args.fail_under:
        print(f"mutation: kill rate {rate:.1f}% is under {args.fail_under:.0f}%")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
