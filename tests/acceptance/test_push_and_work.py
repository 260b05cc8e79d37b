"""push, work --burst, list, job and failed, as a user runs them (DESIGN.md §6, §7b)."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import Project, wait_for

JOB_FIELDS = {"id", "queue", "job", "state", "attempts", "max_attempts", "payload", "meta",
              "error", "enqueued_at", "available_at"}


@pytest.fixture
def project(driver_project: Project) -> Project:
    """Every flow here runs on SQLite and on PostgreSQL (conftest.driver_project)."""
    return driver_project


def test_push_then_burst_runs_the_job(project: Project) -> None:
    job_id = project.push("note.record", {"text": "hello"})
    assert len(job_id) == 26 and "\n" not in job_id
    assert project.queue("main")["pending"] == 1

    done = project.run("work", "main", "--burst")

    assert project.lines("record.log") == ["hello"]
    assert done.stdout == ""
    assert " INFO    runa_runner.cli: worker main started (queues: main, fragile, scratch; " \
        "concurrency 4" in done.stderr
    assert " INFO    runa_runner.cli: worker main stopped" in done.stderr
    assert project.queue("main")["pending"] == 0
    assert project.run("job", job_id, ok=False).returncode == 1  # succeeded jobs are deleted


def test_delayed_job_is_listed_as_delayed_then_runs_when_due(project: Project) -> None:
    # Each check of "not yet due" is made only while the clock says so: on a loaded
    # machine a command can take longer than the delay.
    job_id = project.push("note.record", {"text": "later"}, "--delay", "3s")
    info = project.json("job", job_id)
    due = info["available_at"]
    assert info["state"] == "delayed" or time.time() >= due
    queue = project.queue("main")
    if time.time() < due:
        assert (queue["pending"], queue["delayed"]) == (0, 1)

    project.run("work", "main", "--burst")  # burst does not wait for delayed jobs
    if time.time() < due:
        assert project.lines("record.log") == []

    wait_for(lambda: bool(project.lines("record.log")) or project.queue("main")["pending"] == 1,
             "the delayed job to become due")
    project.run("work", "main", "--burst")
    assert project.lines("record.log") == ["later"]


def test_unique_key_returns_the_existing_id(project: Project) -> None:
    first = project.push("note.record", {"text": "a"}, "--unique", "k1")
    again = project.push("note.record", {"text": "b"}, "--unique", "k1")
    other = project.push("note.record", {"text": "c"}, "--unique", "k2")
    assert first == again != other
    assert project.queue("main")["pending"] == 2


def test_retry_two_runs_three_times_then_fails_with_stats(project: Project) -> None:
    (project.root / "broken").touch()
    job_id = project.push("note.explode", {"text": "x"})

    project.run("work", "main", "--burst")

    assert project.lines("explode.log") == ["x attempt 1", "x attempt 2", "x attempt 3"]
    info = project.json("job", job_id)
    assert (info["state"], info["attempts"], info["max_attempts"]) == ("failed", 3, 3)
    assert "boom on attempt 3" in info["error"]
    stats = project.worker_stats("main")
    assert [stats[k] for k in ("processed", "succeeded", "failed", "retried")] == [3, 0, 1, 2]
    assert stats["instances"] == 0  # a cleanly stopped worker leaves at once
    assert project.queue("fragile")["failed"] == 1

    text = project.run("job", job_id).stdout
    assert "state:" in text and "failed" in text
    assert "RuntimeError: boom on attempt 3" in text  # the traceback is shown


def test_failed_list_retry_reruns_the_job(project: Project) -> None:
    (project.root / "broken").touch()
    job_id = project.push("note.explode", {"text": "y"}, "--retry", "0")
    project.run("work", "main", "--burst")
    listed = project.json("failed", "list", "fragile")
    assert [j["id"] for j in listed] == [job_id]
    assert set(listed[0]) == JOB_FIELDS | {"failed_at", "traceback"}
    table = project.run("failed", "list", "fragile").stdout
    assert table.splitlines()[0].split() == ["ID", "JOB", "ATTEMPTS", "ENQUEUED", "FAILED", "AT",
                                             "ERROR"]
    assert job_id in table

    (project.root / "broken").unlink()
    assert project.run("failed", "retry", "fragile", job_id).stdout.startswith("retried 1 ")
    assert project.json("job", job_id)["state"] == "pending"
    project.run("work", "main", "--burst")

    assert project.lines("explode.log") == ["y attempt 1", "y attempt 1"]
    assert project.json("failed", "list", "fragile") == []


def test_failed_delete_purge_and_usage(project: Project) -> None:
    (project.root / "broken").touch()
    ids = [project.push("note.explode", {"text": str(i)}, "--retry", "0") for i in range(3)]
    project.run("work", "main", "--burst")
    assert project.run("failed", "delete", "fragile", ids[0]).stdout.startswith("deleted 1 ")
    # DESIGN §6: `failed` exits 0; an id that is not a failed job is a warning line.
    gone = project.run("failed", "delete", "fragile", ids[0])
    assert gone.stdout.startswith("deleted 0 ")
    assert gone.stderr == (f"runa-runner: warning: no job '{ids[0]}' among the failed jobs "
                           "of queue 'fragile'\n")
    usage = project.run("failed", "retry", "fragile", ok=False)
    assert usage.returncode == 2 and usage.stdout == ""
    assert usage.stderr == ("runa-runner failed: error: failed retry: give job IDs or --all "
                            "(see 'runa-runner failed --help')\n")
    # IDs may come after options.
    assert project.json("failed", "retry", "fragile", "--json", ids[1]) == {"retried": 1}
    project.run("work", "--all", "--burst")
    assert project.json("failed", "retry", "fragile", "--all") == {"retried": 2}
    project.run("work", "--all", "--burst")  # still broken: both fail again
    assert project.run("failed", "purge", "fragile", "--older-than", "1h").stdout.startswith(
        "purged 0 ")
    assert project.json("failed", "purge", "fragile") == {"purged": 2}
    assert project.queue("fragile")["failed"] == 0
    project.push("note.explode", {"text": "again"}, "--retry", "0")
    project.run("work", "main", "--burst")
    assert project.json("failed", "delete", "fragile", "--all") == {"deleted": 1}
    assert project.queue("fragile")["failed"] == 0


def test_bad_payload_is_refused_with_field_errors_and_nothing_enqueued(project: Project) -> None:
    bad = project.run("push", "note.record", "--json", '{"txt": 1}', ok=False)
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert "note.record: text: Field required" in bad.stderr.splitlines()

    broken = project.run("push", "note.record", "--json", '{"text": ', ok=False)
    assert broken.returncode == 1
    assert broken.stderr.count("\n") == 1
    assert "invalid JSON at line 1 column 10" in broken.stderr
    assert project.queue("main")["pending"] == 0


def test_push_options_show_in_job_json(project: Project) -> None:
    (project.root / "payload.json").write_text('{"text": "from a file"}')
    job_id = project.run(
        "push", "note.record", "--json", "@payload.json", "--delay", "1h", "--retry", "4",
        "--meta", "n=5", "--meta", "who=ops", "--timeout", "2m",
    ).stdout.strip()
    info = project.json("job", job_id)
    assert set(info) == JOB_FIELDS
    assert info["id"] == job_id and info["queue"] == "main" and info["job"] == "note.record"
    assert (info["state"], info["attempts"], info["max_attempts"]) == ("delayed", 0, 5)
    assert info["payload"] == {"text": "from a file"}
    assert info["meta"] == {"n": "5", "who": "ops"}
    assert info["error"] is None
    assert info["available_at"] - info["enqueued_at"] > 3500

    from_stdin = project.run("push", "note.record", "--json", "-", "--queue", "fragile",
                             stdin='{"text": "in"}')
    info = project.json("job", from_stdin.stdout.strip())
    assert (info["payload"], info["queue"], info["max_attempts"]) == ({"text": "in"}, "fragile", 3)

    bad_delay = project.run("push", "note.record", "--json", "{}", "--delay", "soon", ok=False)
    assert bad_delay.returncode == 2 and "invalid duration 'soon'" in bad_delay.stderr


def test_bulk_jsonl_of_500_lines(project: Project) -> None:
    lines = "\n".join(json.dumps({"text": f"n{i}"}) for i in range(500)) + "\n"
    (project.root / "bulk.jsonl").write_text(lines)

    pushed = project.run("push", "note.record", "--jsonl", "bulk.jsonl")

    ids = pushed.stdout.split()
    assert len(ids) == len(set(ids)) == 500
    assert pushed.stderr == ""  # no progress bar when stderr is not a terminal
    assert project.queue("main")["pending"] == 500
    project.run("work", "main", "--burst")
    assert sorted(project.lines("record.log")) == sorted(f"n{i}" for i in range(500))

    three = "".join(lines.splitlines(keepends=True)[:3])
    from_stdin = project.run("push", "note.record", "--jsonl", "-", stdin=three)
    assert len(from_stdin.stdout.split()) == 3


def test_bulk_bad_line_names_its_number_and_pushes_nothing(project: Project) -> None:
    good = json.dumps({"text": "ok"})
    body = "\n".join([good, good, '{"texte": "typo"}', good, "{oops", good]) + "\n"
    bad = project.run("push", "note.record", "--jsonl", "-", stdin=body, ok=False)
    assert bad.returncode == 1
    assert bad.stdout == ""
    errors = bad.stderr.splitlines()
    assert errors[0] == "line 3: note.record: text: Field required"
    assert errors[1].startswith("line 5: invalid JSON at column 2")
    assert project.queue("main")["pending"] == 0


def test_list_tables_and_json(project: Project) -> None:
    project.push("note.record", {"text": "a"})
    text = project.run("list").stdout.splitlines()
    assert text[0].split() == ["QUEUE", "DRIVER", "WORKERS", "PENDING", "DELAYED", "RESERVED",
                               "FAILED"]
    assert text[1].split() == ["main", "local", "main", "1", "0", "0", "0"]
    header = next(line for line in text if line.startswith("WORKER"))
    assert header.split() == ["WORKER", "QUEUES", "CONCURRENCY", "INSTANCES", "PROCESSED",
                              "SUCCEEDED", "FAILED", "RETRIED"]
    assert "main,fragile,scratch" in text[text.index(header) + 1]
    data = project.json("list")
    assert set(data) == {"queues", "workers"}
    assert set(data["queues"][0]) == {"name", "driver", "workers", "pending", "delayed",
                                      "reserved", "failed", "paused"}
    assert set(data["workers"][0]) == {"name", "queues", "concurrency", "instances",
                                       "processed", "succeeded", "failed", "retried"}
    scratch = next(q for q in data["queues"] if q["name"] == "scratch")
    assert scratch["pending"] is None  # an in-process driver cannot be seen from here
