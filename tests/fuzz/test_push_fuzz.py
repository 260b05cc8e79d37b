"""Generated payloads, job names and options through ``runa-runner push`` (in-process) on
a SQLite manifest: every case is pushed (exit 0, ids on stdout), refused (exit 1, clear
lines on stderr, nothing enqueued) or a usage error (exit 2); never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runa_runner.cli import main

from .conftest import assert_clear, fuzz
from .strategies import DURATIONS, HANDLERS_DIR

MANIFEST = f"""\
app_dir: {HANDLERS_DIR}
default_driver: local
drivers:
  local: {{type: sqlite, path: queue.db}}
queues:
  default: {{max_payload_bytes: 2000}}
  other: {{}}
jobs:
  order: {{handler: "fuzz_handlers:order"}}
  ok: {{handler: "fuzz_handlers:ok"}}
  counts: {{handler: "fuzz_handlers:sync_ok", queue: other}}
"""

JSON: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=30)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
ORDERS = st.fixed_dictionaries(
    {"id": st.one_of(st.integers(), JSON), "items": st.one_of(st.lists(st.text(max_size=5)), JSON)},
    optional={"note": st.one_of(st.none(), st.text(max_size=3000)), "rush": JSON},
)
#: Lone surrogates: valid JSON escapes (``"\ud800"``) that no UTF-8 store can hold.
SURROGATES = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
#: Payloads no stored job could hold: too deep, a lone surrogate, an unconvertible integer.
HOSTILE = st.one_of(
    st.builds(json.dumps, st.one_of(SURROGATES, st.dictionaries(SURROGATES, st.integers(),
                                                                min_size=1, max_size=2))),
    st.integers(60, 100_000).map(lambda n: "[" * n + "]" * n),
    st.integers(60, 70).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.integers(4300, 6000).map(lambda n: "1" * n),
)
PAYLOAD_TEXT = st.one_of(
    st.builds(json.dumps, st.one_of(JSON, ORDERS, st.dictionaries(st.text(max_size=5),
                                                                  st.integers()))),
    st.text(max_size=40),
    HOSTILE,
    st.sampled_from(["", "{", "NaN", "[1,]", "{\"id\": 1, \"items\": []", "\x00", "1e999",
                     '{"id": 1, "items": ["a"]}', "@/nonexistent/file.json", "@", "-x"]),
)
JOBS = st.one_of(st.sampled_from(["order", "ok", "counts"]), st.text(max_size=10))
OPTIONS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["--delay", "--timeout", "--retry-delay", "--unique-for"]),
              DURATIONS.map(str)),
    st.tuples(st.just("--retry"), st.one_of(st.integers(-2, 5).map(str), st.text(max_size=3))),
    st.tuples(st.just("--queue"), st.sampled_from(["default", "other", "nope", ""])),
    st.tuples(st.just("--meta"), st.text(max_size=8)),
    st.tuples(st.just("--meta"), SURROGATES.map(lambda s: f"k={s}")),
    st.tuples(st.just("--unique"), st.one_of(st.text(max_size=8), SURROGATES)),
    st.tuples(st.just("--unique-until"), st.sampled_from(["done", "start", "never"])),
), max_size=3).map(lambda pairs: [x for pair in pairs for x in pair])


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("push-fuzz")
    path = folder / "jobs.yaml"
    path.write_text(MANIFEST, encoding="utf-8")
    return path


def push(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: a usage error, already printed
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    assert_clear(out + err)
    assert code in (0, 1, 2), (code, out, err)
    if code == 0:
        assert err == "" or "warning" in err, err
        # --json prints one id; --jsonl one per non-blank line (possibly none).
        assert out.strip() or "--jsonl" in argv, "pushed, but no id printed"
    elif code == 1:
        assert out == "", f"a refused push printed results: {out!r}"
        assert err.strip() and all(line.strip() for line in err.split("\n")[:-1]), err
    else:  # a usage error: one line naming the command and its --help
        assert err.count("\n") == 1 and ": error: " in err and "--help" in err, err
    return code, out, err


@fuzz(350)
@given(job=JOBS, text=PAYLOAD_TEXT, options=OPTIONS)
def test_generated_payloads_push_or_refuse_clearly(
    job: str, text: str, options: list[str], manifest: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    push(["push", job, "--json", text, *options, "-c", str(manifest)], capsys)


@fuzz(150)
@given(job=JOBS, lines=st.lists(PAYLOAD_TEXT, min_size=1, max_size=5))
def test_generated_jsonl_push_or_refuse_clearly(
    job: str, lines: list[str], manifest: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    source = manifest.parent / "lines.jsonl"
    source.write_text("\n".join(line.replace("\n", " ") for line in lines) + "\n",
                      encoding="utf-8", errors="surrogatepass")
    push(["push", job, "--jsonl", str(source), "-c", str(manifest)], capsys)


@fuzz(150)
@given(payload=st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
              SURROGATES),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=8,
), depth=st.integers(0, 80))
def test_the_api_stores_only_what_a_worker_can_read_back(
    payload: Any, depth: int, manifest: Path
) -> None:
    """registry.push refuses (PayloadInvalid) or stores a job that reads back intact."""
    import asyncio

    import runa_runner as rr
    from runa_runner.errors import PayloadInvalid

    for _ in range(depth):
        payload = [payload]
    registry = rr.load(manifest)

    async def push_and_read() -> None:
        try:
            job_id = await registry.push("ok", payload)
        except PayloadInvalid as exc:
            assert_clear(str(exc))
            return
        info = await registry.job_info(job_id)
        assert info is not None and info.job == "ok", info
        assert json.dumps(info.payload, allow_nan=False) == json.dumps(payload, allow_nan=False)
        await registry.delete("default", job_id)

    async def main() -> None:
        try:
            await push_and_read()
        finally:
            await registry.close()

    asyncio.run(main())
