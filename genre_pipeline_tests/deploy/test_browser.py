"""The web UI in a real browser: Debian's chromium, driven by Playwright, against ``dg dev``.

A small demo run is made with the command line first (as ``make demo`` does), then ``dg dev``
serves that home on 127.0.0.1 (as ``make ui`` does) and the browser checks what a person
sees: the code location loads, the asset graph shows every asset, the co-occurrence heatmap
and the model comparison table render, the Overview timeline shows the command line's run
(which re-executes as it is), and a click on "Materialize" launches a run that succeeds.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``.ci/run``
installs Debian's ``chromium`` when it is missing). Without chromium or Playwright the test
skips on a developer machine and fails under ``CI=true``. Screenshots of every page go to
``$GENRE_PIPELINE_SCREENSHOTS`` when set (else the test's temp folder).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genre_pipeline.definitions import CODE_LOCATION, defs
from genre_pipeline_tests.support import graphql
from genre_pipeline_tests.support.postgres import free_port, skip_or_fail

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEMO_MOVIES = 120
STARTUP_TIMEOUT = 300
RUN_TIMEOUT = 300
PAGE_TIMEOUT_MS = 60_000
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-proxy-server"]


def chromium_path() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or ("/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None)


def clean_env(home: Path) -> dict[str, str]:
    """The environment of the command line and of ``dg dev``: this home, the demo, nothing from the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENRE_PIPELINE_", "DAGSTER_", "TMDB_"))}
    env.update(GENRE_PIPELINE_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), GENRE_PIPELINE_SOURCE="demo",
               GENRE_PIPELINE_DEMO_MOVIES=str(DEMO_MOVIES), GENRE_PIPELINE_VGG16_IMAGE_SIZE="32",
               VIRTUAL_ENV=sys.prefix, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", NO_PROXY="127.0.0.1,localhost",
               NO_COLOR="1")
    return env


def wait_until(predicate, timeout: float, what: str, process: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            pytest.fail(f"dg dev exited with {process.returncode} while waiting for {what}:\n{tail(log)}")
        result = predicate()
        if result:
            return result
        time.sleep(1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}:\n{tail(log)}")


def tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-4000:] if log is not None and log.exists() else ""


def stop_group(process: subprocess.Popen) -> None:
    """End ``dg dev`` and everything it started (webserver, daemon, code server, run workers): its process group."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


class UI:
    def __init__(self, url: str, process: subprocess.Popen, log: Path):
        self.url, self.process, self.log = url, process, log

    def graphql(self, text: str, variables: dict | None = None) -> dict:
        return graphql.query(self.url, text, variables)

    def answers(self) -> bool:
        return graphql.serving(self.url)

    def location_loaded(self) -> bool:
        entries = self.graphql(LOCATION)["workspaceOrError"]["locationEntries"]
        entry = next((e for e in entries if e["name"] == CODE_LOCATION), None)
        if entry is None or entry["loadStatus"] != "LOADED":
            return False
        error = entry["locationOrLoadError"]
        assert error["__typename"] == "RepositoryLocation", f"the code location failed to load: {error.get('message')}"
        return True


LOCATION = """
query { workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus
  locationOrLoadError { __typename ... on PythonError { message }
    ... on RepositoryLocation { repositories { name pipelines { name pipelineSnapshotId } } } }
} } } }
"""

RUN = """
query Run($runId: ID!) { runOrError(runId: $runId) { __typename ... on Run {
  status pipelineName parentPipelineSnapshotId pipelineSnapshotId
  repositoryOrigin { repositoryLocationName repositoryName }
} } }
"""

FAILURES = """
query Logs($runId: ID!) { logsForRun(runId: $runId) { ... on EventConnection { events { __typename
  ... on ExecutionStepFailureEvent { stepKey error { message } } ... on RunFailureEvent { message } } } } }
"""


@pytest.fixture(scope="module")
def browser_binary() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("the Python package playwright is not installed (pip install -e '.[test]')")
    path = chromium_path()
    if path is None:
        skip_or_fail("chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, browser_binary) -> tuple[Path, str]:
    """A demo home materialized by the command line; the run's id."""
    home = tmp_path_factory.mktemp("browser") / "home"
    started = time.monotonic()
    done = subprocess.run([str(BIN / "genre-pipeline"), "run", "--source", "demo", "--demo-movies", str(DEMO_MOVIES),
                           "--home", str(home)], cwd=ROOT, env=clean_env(home), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    run_id = re.search(r"^● run ([0-9a-f-]{36})", done.stdout, re.MULTILINE).group(1)
    print(f"demo run {run_id} ({DEMO_MOVIES} movies) through the command line in {time.monotonic() - started:.1f}s")
    return home, run_id


@pytest.fixture(scope="module")
def ui(demo_run, tmp_path_factory):
    """``dg dev`` (webserver + daemon) on 127.0.0.1 over the demo home, as ``make ui`` starts it."""
    home, _ = demo_run
    log = tmp_path_factory.mktemp("dg_dev") / "dg_dev.log"
    port = free_port()
    started = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen([str(BIN / "dg"), "dev", "-h", "127.0.0.1", "-p", str(port)], cwd=ROOT,
                                   env=clean_env(home), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = UI(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_until(server.answers, STARTUP_TIMEOUT, "the webserver", process, log)
        wait_until(server.location_loaded, STARTUP_TIMEOUT, "the code location", process, log)
        print(f"dg dev serving the code location after {time.monotonic() - started:.1f}s")
        yield server
    finally:
        stop_group(process)
    assert "superseded" not in tail(log).lower(), tail(log)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("GENRE_PIPELINE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def page(ui, browser_binary, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium_profile")),  # a fresh profile (--user-data-dir)
            executable_path=browser_binary, headless=True, args=CHROMIUM_FLAGS, viewport={"width": 1600, "height": 1000})
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        browser_page = context.new_page()
        browser_page.base = ui.url
        try:
            yield browser_page
        finally:
            context.close()


def visit(page, path: str) -> None:
    """Open ``path`` and dismiss the first-visit community dialog if it shows."""
    page.goto(page.base + path)
    page.wait_for_load_state("networkidle")
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.click()


def metadata_row(page, key: str):
    """The row of the asset page's metadata table whose key is ``key``."""
    return page.locator("tr").filter(has=page.locator("td", has_text=re.compile(rf"^{re.escape(key)}$")))


def test_the_code_location_loads(page, shots):
    visit(page, "/locations")
    page.get_by_text("1 code location").wait_for()
    page.get_by_text("genre_pipeline.definitions").first.wait_for()  # module_name: the dg project's definitions
    page.get_by_text("Loaded", exact=True).wait_for()
    assert page.get_by_text("Failed", exact=True).count() == 0
    page.screenshot(path=str(shots / "locations.png"))


def test_the_asset_graph_shows_every_asset(page, shots):
    expected = sorted(k.to_user_string() for k in defs().resolve_asset_graph().get_all_asset_keys())
    page.set_viewport_size({"width": 2400, "height": 1600})
    try:
        visit(page, "/asset-groups")
        page.locator("[class*='AssetNode_']").first.wait_for()
        page.keyboard.press("Alt+KeyE")  # expand all groups
        zoom_out = page.locator("button:has([aria-label='zoom_out'])")
        shown: set[str] = set()
        for _ in range(8):
            page.wait_for_timeout(800)
            names = page.locator("[class*='AssetNode_assetName']").all_inner_texts()
            shown = {name for name in expected if any(drawn(label, name) for label in names)}
            if len(shown) == len(expected):
                break
            zoom_out.click()
        page.screenshot(path=str(shots / "lineage_expanded.png"))
    finally:
        page.set_viewport_size({"width": 1600, "height": 1000})
    assert sorted(shown) == expected, f"not drawn: {sorted(set(expected) - shown)}"


def drawn(label: str, name: str) -> bool:
    """The graph draws long names shortened in the middle (``senten…_embeddings``)."""
    label = label.strip()
    if "…" not in label:
        return label == name
    head, _, rest = label.partition("…")
    return name.startswith(head) and name.endswith(rest) and len(name) > len(head) + len(rest)


def test_the_cooccurrence_heatmap_renders(page, shots):
    visit(page, "/assets/genre_cooccurrence")
    clusters = metadata_row(page, "clusters").locator("table")
    clusters.wait_for()
    assert clusters.locator("tbody tr").count() >= 2
    metadata_row(page, "heatmap").get_by_text("[Show Markdown]").click()
    image = page.locator("[role=dialog] img[src^='data:image/png']")
    image.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    width = image.evaluate("img => img.naturalWidth")
    assert width >= 400, width  # the heatmap, not a broken-image icon
    page.screenshot(path=str(shots / "genre_cooccurrence_heatmap.png"))
    page.keyboard.press("Escape")


def test_the_model_comparison_table_renders(page, demo_run, shots):
    home, _ = demo_run
    records = json.loads((home / "current" / "models" / "model_evaluation" / "records.json").read_text())
    trained = [name for name, record in records.items() if record.get("status") == "trained"]
    assert trained, records
    visit(page, "/assets/model_evaluation")
    table = metadata_row(page, "comparison").locator("table")
    table.wait_for()
    headers = table.locator("th").all_inner_texts()
    assert headers == ["model", "micro F1", "macro F1", "samples F1", "coverage"]
    assert table.locator("tbody tr td:first-child").all_inner_texts() == trained
    best = max(trained, key=lambda name: records[name]["micro_f1"])
    assert metadata_row(page, "best_micro_f1").locator("td").last.inner_text().strip() == str(round(records[best]["micro_f1"], 4))
    page.set_viewport_size({"width": 1600, "height": 3000})  # the page scrolls inside a panel: a tall window shows it all
    page.screenshot(path=str(shots / "model_evaluation.png"))
    page.set_viewport_size({"width": 1600, "height": 1000})


def test_the_overview_timeline_shows_the_command_line_run(page, demo_run, shots):
    _, run_id = demo_run
    visit(page, "/overview")
    page.get_by_text(CODE_LOCATION, exact=True).first.wait_for()
    page.get_by_role("button", name="1hr", exact=True).click()  # the last hour: the run's bar is wide enough to point at
    chunks = page.locator("[class*='RunTimeline_runChunk__']")
    chunks.first.wait_for()
    link = page.locator(f"a[href^='/runs/{run_id}']")
    for chunk in chunks.all():  # a bar per run (or per group of close runs)
        box = chunk.bounding_box()
        for dx in range(1, max(2, int(box["width"]))):  # hour lines and "Now" lie over parts of a bar: sweep across it
            page.mouse.move(box["x"] + dx, box["y"] + box["height"] / 2)
            page.wait_for_timeout(300)
            if link.count():
                break
        if link.count():
            break
    link.first.wait_for()  # a bar's popover lists the command line's run
    page.screenshot(path=str(shots / "overview_timeline.png"))


def test_the_command_line_run_reexecutes_as_it_is(page, ui, demo_run, shots):
    """The UI's rule (origin and snapshot of the run match the loaded job), else it warns "may be a different version"."""
    _, run_id = demo_run
    run = ui.graphql(RUN, {"runId": run_id})["runOrError"]
    assert run["repositoryOrigin"] == {"repositoryLocationName": CODE_LOCATION, "repositoryName": "__repository__"}
    location = next(e for e in ui.graphql(LOCATION)["workspaceOrError"]["locationEntries"] if e["name"] == CODE_LOCATION)
    (repository,) = location["locationOrLoadError"]["repositories"]
    loaded = {job["name"]: job["pipelineSnapshotId"] for job in repository["pipelines"]}
    assert loaded[run["pipelineName"]] == (run["parentPipelineSnapshotId"] or run["pipelineSnapshotId"])
    visit(page, f"/runs/{run_id}")
    button = page.locator("button").filter(has_text="Re-execute all")
    button.wait_for()
    assert button.locator("[aria-label='warning'], [aria-label='error']").count() == 0
    page.screenshot(path=str(shots / "cli_run.png"))


def test_a_materialize_click_succeeds(page, ui, shots):
    visit(page, "/assets/genre_cooccurrence")
    page.locator("button").filter(has_text=re.compile(r"^Materialize$")).click()
    toast = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))
    toast.wait_for()
    short = re.search(r"[0-9a-f]{8}", toast.inner_text()).group(0)
    page.screenshot(path=str(shots / "materialize_launched.png"))
    run_link = page.locator(f"a[href^='/runs/{short}']").first
    run_id = run_link.get_attribute("href").split("/runs/", 1)[1].split("?")[0]

    def finished():
        status = ui.graphql(RUN, {"runId": run_id})["runOrError"]["status"]
        return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

    status = wait_until(finished, RUN_TIMEOUT, f"run {run_id}", ui.process, ui.log)
    if status != "SUCCESS":
        events = ui.graphql(FAILURES, {"runId": run_id})["logsForRun"].get("events", [])
        failures = [e for e in events if e["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent")]
        pytest.fail(f"run {run_id} ended {status}: {json.dumps(failures)[:3000]}")
    visit(page, f"/runs/{run_id}")
    page.get_by_text("Success", exact=True).first.wait_for()
    page.screenshot(path=str(shots / "materialize_run.png"))
