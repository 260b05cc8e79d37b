"""Errors a user meets: one line on stderr, the documented exit code, nothing on stdout."""

from __future__ import annotations

from .conftest import Project


def test_unknown_job_id_exits_1(project: Project) -> None:
    proc = project.run("job", "nope", ok=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == ("runa-runner: error: job 'nope': unknown job (no such job, or it "
                           "succeeded and was not kept)\n")


def test_push_to_a_memory_driver_queue_is_refused(project: Project) -> None:
    proc = project.run("push", "note.scratch", "--json", '{"text": "x"}', ok=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.count("\n") == 1
    assert "queue 'scratch' uses the in-process memory driver" in proc.stderr
    assert "Use a sqlite, redis, amqp or postgres driver" in proc.stderr


def test_failed_on_a_memory_driver_queue_is_refused_not_guessed(project: Project) -> None:
    for action in ("list", "purge"):
        proc = project.run("failed", action, "scratch", ok=False)
        assert (proc.returncode, proc.stdout) == (1, "")
        assert proc.stderr == (
            "runa-runner: error: queue 'scratch' uses the in-process memory driver 'memory': "
            "its failed jobs live only in the process that runs it\n")


def test_unreachable_redis_is_one_line_without_the_password(project: Project) -> None:
    (project.root / "redis.yaml").write_text(
        "drivers:\n"
        "  remote: {type: redis, url: 'redis://:secret@127.0.0.1:1/0'}\n"
        "queues:\n  q: {driver: remote, workers: [w]}\n"
        "workers:\n  w: {}\n"
        "jobs:\n  note.record: {handler: 'acc_handlers:record', queue: q}\n"
    )
    proc = project.run("-c", "redis.yaml", "push", "note.record", "--json", '{"text": "x"}',
                       ok=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("runa-runner: error: ")
    assert "127.0.0.1:1" in proc.stderr
    assert "secret" not in proc.stderr


def test_unknown_worker_and_usage_errors(project: Project) -> None:
    unknown = project.run("work", "mian", "--burst", ok=False)
    assert unknown.returncode == 1
    assert unknown.stderr == "runa-runner: error: unknown worker 'mian' (did you mean 'main'?)\n"
    assert project.run("work", ok=False).returncode == 2
    unknown_job = project.run("push", "note.recrod", "--json", "{}", ok=False)
    assert unknown_job.returncode == 1 and "did you mean 'note.record'" in unknown_job.stderr


def test_config_option_before_or_after_the_command_and_missing_manifest(
    project: Project,
) -> None:
    (project.root / "jobs.yaml").rename(project.root / "other.yaml")
    assert project.run("-c", "other.yaml", "list", "--json").returncode == 0
    assert project.run("list", "--json", "-c", "other.yaml").returncode == 0
    missing = project.run("list", ok=False)
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr.count("\n") == 1 and "jobs.yaml" in missing.stderr
