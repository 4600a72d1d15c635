"""The live view of `lanner flow run`: merged by time, loop values on log lines, children end before parents."""

from __future__ import annotations

import pytest

from engine.cli_live import LiveView


def ts(second: float) -> str:
    return f"2026-01-01T10:00:{second:09.6f}+00:00"


def run(id_, task, state, start=None, end=None, parent=None, value=None):
    return {"id": id_, "taskId": task, "state": state, "startDate": start, "endDate": end,
            "parentTaskRunId": parent, "value": value}


def test_one_poll_is_printed_in_time_order_with_loop_values():
    summary = {"taskRuns": [
        run("p", "each", "SUCCESS", ts(1), ts(3)),
        run("a", "w", "SUCCESS", ts(1.1), ts(1.5), "p", "alpha"),
        run("b", "w", "SUCCESS", ts(2), ts(3), "p", "beta"),
    ]}
    logs = [
        {"taskRunId": "b", "taskId": "w", "level": "INFO", "timestamp": ts(2.5), "message": "on beta"},
        {"taskRunId": "a", "taskId": "w", "level": "INFO", "timestamp": ts(1.2), "message": "on alpha"},
    ]
    lines = LiveView().lines(summary, logs)
    assert lines == [
        "10:00:01.200 INFO  w[alpha]: on alpha",
        "✔ w[alpha] SUCCESS",
        "10:00:02.500 INFO  w[beta]: on beta",
        "✔ w[beta] SUCCESS",  # ends at the same instant as its parent, and is printed first
        "✔ each SUCCESS",
    ]


def test_states_are_printed_once_and_starts_come_before_their_logs():
    view = LiveView()
    running = {"taskRuns": [run("t", "task", "RUNNING", ts(1))]}
    assert view.lines(running, [{"taskRunId": "t", "taskId": "task", "level": "WARN", "timestamp": ts(1),
                                 "message": "x"}]) == ["▶ task RUNNING", "10:00:01.000 WARN  task: x"]
    assert view.lines(running, []) == []
    done = {"taskRuns": [run("t", "task", "FAILED", ts(1), ts(2))]}
    assert view.lines(done, [{"taskRunId": None, "taskId": None, "level": "INFO", "timestamp": ts(2),
                              "message": "execution"}]) == ["10:00:02.000 INFO  -: execution", "✘ task FAILED"]


def test_the_live_view_polls_a_big_execution_less_often() -> None:
    """A cheap poll keeps the 0.1 s rhythm; a dear one waits so the view stays under its share of a core."""
    from engine.cli_run import POLL_INTERVAL, POLL_SHARE, poll_interval

    assert poll_interval(0.0) == POLL_INTERVAL
    assert poll_interval(0.001) == POLL_INTERVAL
    slow = poll_interval(0.05)
    assert slow > POLL_INTERVAL
    assert 0.05 / (0.05 + slow) == pytest.approx(POLL_SHARE)
