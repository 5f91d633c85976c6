"""What the command line prints while it follows a run: a live bar on a terminal, plain lines otherwise."""

import io
import time

import dagster as dg
from dagster._core.events import DagsterEvent
from dagster._core.execution.plan.objects import StepSuccessData

from genre_pipeline.cli.launch import RunProgress

STEP = "poster_embeddings"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def log(message: str, level: int = 20, step: str = STEP) -> dg.EventLogEntry:
    return dg.EventLogEntry(error_info=None, level=level, user_message=message, run_id="run", timestamp=time.time(),
                            step_key=step, job_name="__ASSET_JOB", dagster_event=None)


def event(kind: str, step: str = STEP, data=None) -> dg.EventLogEntry:
    dagster_event = DagsterEvent(event_type_value=kind, job_name="__ASSET_JOB", step_key=step, event_specific_data=data)
    return dg.EventLogEntry(error_info=None, level=10, user_message="", run_id="run", timestamp=time.time(),
                            step_key=step, job_name="__ASSET_JOB", dagster_event=dagster_event)


def follow(stream) -> str:
    progress = RunProgress(stream)
    for entry in (event("STEP_START"), log("progress: 0/600 posters (starting)"),
                  log("progress: 120/600 posters (40.0/s, ETA 12s)"), log("a poster could not be read", level=30),
                  log("progress: 600/600 posters (150.0/s, ETA 0s)"), event("STEP_SUCCESS", data=StepSuccessData(5.0)),
                  event("STEP_START", "model_evaluation")):
        progress.show(entry)
    progress.close()
    return stream.getvalue()


def test_on_a_terminal_progress_is_a_bar_with_rate_and_eta_under_the_step():
    shown = follow(Terminal())
    frames = shown.split("\r")
    bars = [f for f in frames if "posters" in f and "%|" in f]
    assert any("20%|" in f and "120/600 posters, 40.0/s, ETA 12s" in f for f in bars), shown
    assert any("100%|" in f and "600/600 posters, 150.0/s, ETA 0s" in f for f in bars), shown
    assert "progress:" not in shown  # the lines themselves are drawn, not printed
    # other lines still print in full, and the bar is gone before the step's end line
    assert "    ! poster_embeddings: a poster could not be read\n" in shown
    end = shown.index(f"  ✓ {STEP}")
    assert shown.index("  ▶ poster_embeddings\n") < shown.index("120/600") < end < shown.index("  ▶ model_evaluation")
    assert "%|" not in shown[end:]


def test_in_a_log_file_progress_stays_plain_lines():
    shown = follow(io.StringIO())
    assert shown.splitlines() == [
        f"  ▶ {STEP}",
        f"    · {STEP}: progress: 0/600 posters (starting)",
        f"    · {STEP}: progress: 120/600 posters (40.0/s, ETA 12s)",
        f"    ! {STEP}: a poster could not be read",
        f"    · {STEP}: progress: 600/600 posters (150.0/s, ETA 0s)",
        shown.splitlines()[5],
        "  ▶ model_evaluation",
    ]
    assert shown.splitlines()[5].startswith(f"  ✓ {STEP} (")
    assert "%|" not in shown
