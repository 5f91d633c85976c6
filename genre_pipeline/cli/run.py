"""`genre-pipeline run`: materialize assets and partitions as one run of the code location."""

from __future__ import annotations

import argparse
import sys

from genre_pipeline.cli import executors
from genre_pipeline.cli.options import add_home_argument, fail, user_error

SOURCES = ("demo", "snapshot", "tmdb")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("run", help="materialize every selected asset and partition into the home")
    parser.add_argument("--source", choices=SOURCES, default=None,
                        help="catalog source (default: snapshot if --snapshot is given, else $GENRE_PIPELINE_SOURCE or demo)")
    parser.add_argument("--snapshot", default=None, help="snapshot directory (movies.jsonl[.gz], genres.json, posters/)")
    parser.add_argument("--years", default=None, help="release years A-B (default: every release-year partition)")
    parser.add_argument("--select", default=None, help="Dagster asset selection, e.g. 'movies+' or 'group:catalog'")
    parser.add_argument("--demo-movies", type=int, default=None, help="size of the demo catalog if it must be written")
    parser.add_argument("--allow-shrink", action="store_true",
                        help="accept a source with no good record, or fewer than half the records it replaces")
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="wait up to SECONDS while another writer holds the home (default: fail at once)")
    parser.add_argument("--executor", choices=executors.EXECUTORS, default="in_process",
                        help="in_process: every step in the run worker (default); multiprocess: each step in a "
                             "process of its own, one at a time (peak memory of the largest step: large catalogs); "
                             "celery: each step a Celery task run by Celery workers (docs/DEPLOYMENT.md)")
    parser.add_argument("--celery-broker", default=None, metavar="URL",
                        help=f"with --executor celery: broker and result backend (default {executors.DEFAULT_CELERY_BROKER})")
    add_home_argument(parser)
    parser.set_defaults(handler=run)


def parse_years(text: str) -> tuple[int, int]:
    parts = text.split("-")
    try:
        if len(parts) == 1:
            return int(parts[0]), int(parts[0])
        if len(parts) == 2:
            return int(parts[0]), int(parts[1])
    except ValueError:
        pass
    raise ValueError(f"--years expects A-B (e.g. 2015-2016), got {text!r}")


def run_config_for(args: argparse.Namespace, source: str, home_root: str, selected: set[str]) -> dict:
    """Run config for the resources (where records come from, which home) and the source step."""
    source_config: dict = {"kind": source}
    if args.snapshot:
        from pathlib import Path

        source_config["snapshot_dir"] = str(Path(args.snapshot).expanduser().resolve())
    if args.demo_movies:
        source_config["demo_movies"] = int(args.demo_movies)
    config: dict = {"resources": {"catalog_source": {"config": source_config},
                                  "home": {"config": {"root": home_root}}}}
    if args.allow_shrink and "raw_movie_records" in selected:
        config["ops"] = {"raw_movie_records": {"config": {"allow_shrink": True}}}
    return config


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from genre_pipeline.cli import launch
    from genre_pipeline.defs.partitions import year_keys_between
    from genre_pipeline.defs.settings import SettingsError, check_environment
    from genre_pipeline.storage.home import Home, HomeError
    from genre_pipeline.storage.lock import HomeBusy, busy_holder

    home = Home.at(args.home)
    source = args.source or ("snapshot" if args.snapshot else None)
    try:
        check_environment()
        home.ensure()
        year_keys = year_keys_between(*parse_years(args.years)) if args.years else None
        executor = executors.choose(args.executor, args.celery_broker)
        if source == "snapshot" and not args.snapshot:
            raise ValueError("--source snapshot needs --snapshot DIR")
        if args.snapshot and not Path(args.snapshot).expanduser().is_dir():
            raise ValueError(f"snapshot directory {args.snapshot} does not exist")
    except (ValueError, HomeError) as exc:  # SettingsError is a ValueError
        return user_error(str(exc))
    holder = busy_holder(home.lock_path)
    if holder is not None and args.wait <= 0:
        return fail(f"home {home.root} in use by {holder.describe()}")
    try:
        source = source or _env_source()
    except ValueError as exc:
        return user_error(str(exc))
    print(f"genre-pipeline run: source={source}{f' ({args.snapshot})' if args.snapshot else ''} home={home.root}", flush=True)
    instance = launch.instance_for(home)
    try:
        with launch.code_location(instance, executor.module, executor.location) as location:
            graph = location.get_repository(launch.REPOSITORY).asset_graph
        keys = launch.resolve_selection(graph, args.select)
        plan = launch.plan_run(graph, keys, year_keys)
        if not plan.keys:
            raise launch.LaunchError(f"the selection {args.select!r} has only time-partitioned assets: "
                                     f"{', '.join(plan.skipped)}; materialize them by partition in the UI")
        executors.check_ready(executor)
        config = executor.run_config(run_config_for(args, source, str(home.root), {k.to_user_string() for k in plan.keys}))
        dagster_run = launch.create_run(instance, plan, config, tags={}, module=executor.module, location_name=executor.location)
    except launch.LaunchError as exc:
        return user_error(str(exc))
    except executors.ExecutorUnavailable as exc:
        return fail(str(exc))
    if plan.year_range:
        print(f"● run {dagster_run.run_id}: {len(plan.keys)} assets, release years {plan.year_range[0]} … {plan.year_range[1]}", flush=True)
    else:
        print(f"● run {dagster_run.run_id}: {len(plan.keys)} assets", flush=True)
    try:
        outcome = executors.execute(instance, dagster_run, home, executor, wait=args.wait)
    except HomeBusy as exc:
        instance.delete_run(dagster_run.run_id)  # never started
        return fail(str(exc))
    if not outcome.success:
        for check in outcome.failed_checks:
            print(f"FAILED check {check}", file=sys.stderr)
        print(f"FAILED: run {outcome.run_id}: {'; '.join(outcome.failures) or outcome.status}", file=sys.stderr)
        print("Nothing of this run was published; the home's data is as before.", file=sys.stderr)
        return 1
    launch.locate_outputs(home, outcome)
    label = "demo (synthetic)" if source == "demo" else source
    print(launch.format_outcome(outcome, home, label, plan.skipped))
    return 0


def _env_source() -> str:
    from genre_pipeline.defs import settings

    return settings.choice(settings.SOURCE_ENV, settings.SOURCE_KINDS, "demo")
