"""``${VAR}`` / ``${VAR:-default}`` expansion (``$${`` is a literal ``${``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runa_runner.manifest.envexpand import EnvError, expand

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
plain = st.text(alphabet=st.characters(blacklist_characters="$"), max_size=20)
values = st.text(max_size=20)
defaults = st.text(alphabet=st.characters(blacklist_characters="}$"), max_size=20)


def test_examples() -> None:
    env = {"HOST": "db", "EMPTY": ""}
    assert expand("redis://${HOST}:6379", env) == "redis://db:6379"
    assert expand("${PORT:-6379}", env) == "6379"
    assert expand("${EMPTY:-x}", env) == "x"  # as in the shell: empty takes the default
    assert expand("${EMPTY}", env) == ""  # set but empty, without a default, stays empty
    assert expand("cost: $5, $${HOME}", env) == "cost: $5, ${HOME}"


def test_unset_without_default() -> None:
    with pytest.raises(EnvError) as info:
        expand("${FOO}", {})
    assert str(info.value) == (
        "environment variable 'FOO' is not set (use ${FOO:-default} for a default)"
    )


@pytest.mark.parametrize("text", ["${", "${1A}", "${A B}", "${A:default}", "x${}"])
def test_malformed(text: str) -> None:
    with pytest.raises(EnvError, match="invalid reference"):
        expand(text, {"A": "1"})


@given(plain)
def test_text_without_references_is_unchanged(text: str) -> None:
    assert expand(text, {}) == text


@given(plain, names, values, plain)
def test_set_variable_is_substituted(before: str, name: str, value: str, after: str) -> None:
    assert expand(f"{before}${{{name}}}{after}", {name: value}) == before + value + after


@given(names, defaults, values)
def test_default_only_when_unset_or_empty(name: str, default: str, value: str) -> None:
    text = f"${{{name}:-{default}}}"
    assert expand(text, {}) == default
    assert expand(text, {name: value}) == (value or default)


@given(names, values)
def test_values_are_not_expanded_again(name: str, value: str) -> None:
    # A value containing ${...} is inserted verbatim: expansion is one pass.
    assert expand(f"${{{name}}}", {name: "${" + value}) == "${" + value


@given(st.text(max_size=30))
def test_escaped_text_expands_to_itself(text: str) -> None:
    assert expand(text.replace("${", "$${"), {}) == text


def test_nested_defaults_expand_as_in_the_shell() -> None:
    env = {"B": "b", "EMPTY": ""}
    assert expand("${A:-${B}}", env) == "b"
    assert expand("${A:-${C:-${B}}}/x", env) == "b/x"
    assert expand("${A:-pre-${B}-post}", env) == "pre-b-post"
    assert expand("${EMPTY:-${B}}", env) == "b"
    assert expand("${B:-${UNSET}}", env) == "b"  # an unused default is not expanded
    assert expand("${A:-$${B}}", env) == "${B}"  # an escape inside a default stays literal


def test_nested_default_unset_is_the_usual_error() -> None:
    with pytest.raises(EnvError) as info:
        expand("${A:-${B}}", {})
    assert str(info.value) == (
        "environment variable 'B' is not set (use ${B:-default} for a default)"
    )


@pytest.mark.parametrize("text", ["${A:-${B}", "${A:-${}}", "${A:-${B:x}}"])
def test_malformed_nesting(text: str) -> None:
    with pytest.raises(EnvError) as info:
        expand(text, {})
    assert str(info.value) == (
        f"invalid reference in {text!r} (expected ${{NAME}} or ${{NAME:-default}})")


def test_nesting_is_bounded() -> None:
    text = "${A:-" * 500 + "x" + "}" * 500
    with pytest.raises(EnvError) as info:
        expand(text, {})
    assert str(info.value) == (
        "references in '${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-${A:-' "
        "nest deeper than 8")
