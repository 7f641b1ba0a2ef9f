"""The pure parts of publishing: durations, bucket URLs, and the plan drawn from manifests."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staticserve.errors import ConfigError
from staticserve.manifest import Asset, Manifest
from staticserve.pipeline.config import DURATION_UNITS, parse_duration
from staticserve.upload.objects import hashed_objects, logical_objects
from staticserve.upload.plan import PublishState, plan_publish, up_to_date
from staticserve.upload.store import parse_target

DURATIONS = [("90s", 90), ("30m", 1800), ("1h", 3600), ("2d", 172800), ("1w", 604800),
             ("1h30m", 5400), ("1H", 3600), (" 5m ", 300), ("0", 0), (0, 0), (45, 45)]  # fmt: skip


@pytest.mark.parametrize(("text", "seconds"), DURATIONS)
def test_durations_in_words_are_seconds(text: object, seconds: int) -> None:
    assert parse_duration("keep_age", text) == seconds


@pytest.mark.parametrize(
    "text", ["", "h", "1", "1.5h", "-1h", "1 h", "1hour", "1h-", True, 1.5, -3]
)
def test_anything_else_is_one_message_naming_the_key(text: object) -> None:
    with pytest.raises(ConfigError, match=r"^keep_age: must be a duration such as '30m'"):
        parse_duration("keep_age", text)


@given(
    st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(DURATION_UNITS))), min_size=1)
)
def test_a_sum_of_parts_is_the_sum_of_their_seconds(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    assert parse_duration("keep_age", text) == sum(n * DURATION_UNITS[u] for n, u in parts)


@given(st.text(max_size=12))
def test_no_text_escapes_as_anything_but_seconds_or_the_message(text: str) -> None:
    if re.fullmatch(r"\s*(0|(\d+[smhdwSMHDW])+)\s*", text):
        assert parse_duration("keep_age", text) >= 0
    else:
        with pytest.raises(ConfigError, match=r"^keep_age: must be a duration"):
            parse_duration("keep_age", text)


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [("s3://b", "b", ""), ("s3://b/", "b", ""), ("s3://b/static", "b", "static"),
     ("s3://b/a/b/", "b", "a/b"), ("gs://g/x", "g", "x"), ("az://c/x", "c", "x"),
     ("azure://c/x/y", "c", "x/y"), ("abfs://c", "c", ""), ("abfss://c/x", "c", "x")],
)  # fmt: skip
def test_bucket_urls(url: str, bucket: str, prefix: str) -> None:
    target = parse_target(url)
    assert (target.bucket, target.prefix) == (bucket, prefix)


@pytest.mark.parametrize(
    "url",
    [
        "b/x",
        "http://b/x",
        "s3://",
        "s3:///x",
        "s3://b/a//c",
        "s3://b/../c",
        "s3://b/x?y",
        "s3://b/x#y",
        "adl://c/x",  # Data Lake Gen1, retired
        "https://account.blob.core.windows.net/c/x",
    ],
)
def test_what_is_not_a_bucket_url_is_a_usage_error(url: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_target(url)
    assert error.value.exit_code == 2


def asset(logical: str, content: str, generation: int = 1, **fields: object) -> Asset:
    digest = hashlib.sha256(content.encode()).hexdigest()
    stem, _, extension = logical.rpartition(".")
    return Asset(
        logical=logical,
        path=f"{stem}.{digest[:12]}.{extension}",
        size=len(content),
        sha256=digest,
        integrity="sha384-x",
        generation=generation,
        **fields,  # type: ignore[arg-type]
    )


def build(*assets: Asset) -> Manifest:
    return Manifest(assets={a.logical: a for a in assets}, created="2026-12-02T10:00:00Z")


NOW = "2026-12-02T12:00:00Z"


def test_a_first_publish_uploads_everything_and_deletes_nothing() -> None:
    local = build(asset("a.css", "a{}", encodings={"br": 3}), asset("b.js", "b"))
    plan = plan_publish(local, None, None, keep=3, keep_age=0, max_age=60, now=NOW)
    keys = {o.key for o in plan.uploads}
    assert keys == set(hashed_objects(local, 60)) | set(logical_objects(local, 60))
    assert plan.hashed[0].immutable
    assert not any(o.immutable for o in plan.logical)
    assert (plan.switch, plan.deletions, plan.present) == (True, [], 0)
    assert plan.pending == keys  # recorded before the first upload


def test_an_unchanged_logical_name_is_not_uploaded_again() -> None:
    first = plan_publish(build(asset("a.css", "a{}"), asset("b.css", "b{}")), None, None,
                         keep=3, keep_age=0, max_age=60, now=NOW).manifest  # fmt: skip
    local = build(asset("a.css", "a{color:red}"), asset("b.css", "b{}"))
    plan = plan_publish(local, first, PublishState(), keep=3, keep_age=0, max_age=60, now=NOW)
    assert sorted(o.key for o in plan.logical) == ["a.css"]
    assert [o.key for o in plan.hashed] == [local.assets["a.css"].path]
    assert plan.manifest.generation == 2
    assert set(plan.manifest.retained) == {first.assets["a.css"].path}


def test_a_changed_max_age_replaces_the_logical_names() -> None:
    first = plan_publish(build(asset("a.css", "a{}")), None, None, keep=3, keep_age=0,
                         max_age=60, now=NOW).manifest  # fmt: skip
    local = build(asset("a.css", "a{}"))
    plan = plan_publish(local, first, PublishState(), keep=3, keep_age=0, max_age=300, now=NOW)
    assert [o.key for o in plan.logical] == ["a.css"]
    assert plan.logical[0].cache_control == "public, max-age=300"
    assert (plan.hashed, plan.switch) == ([], False)


def test_pending_keys_are_checked_and_the_unneeded_ones_deleted() -> None:
    local = build(asset("a.css", "a{}"))
    live = plan_publish(local, None, None, keep=3, keep_age=0, max_age=60, now=NOW).manifest
    new = build(asset("a.css", "a{x}"))
    stray = "a.0123456789ab.css"  # written by a killed publish of a build never published
    state = PublishState(digest="", pending=frozenset({stray, new.assets["a.css"].path}))
    plan = plan_publish(new, live, state, keep=3, keep_age=0, max_age=60, now=NOW)
    assert plan.check == {new.assets["a.css"].path, "a.css"} & state.pending | {
        new.assets["a.css"].path
    }
    assert plan.deletions == [stray]


def test_an_up_to_date_bucket_needs_no_second_request() -> None:
    local = build(asset("a.css", "a{}"))
    plan = plan_publish(local, None, None, keep=3, keep_age=0, max_age=60, now=NOW)
    assert up_to_date(plan.state, local, 3, 0, now=0)
    assert not up_to_date(plan.state, local, 2, 0, now=0)  # another retention: look again
    assert not up_to_date(None, local, 3, 0, now=0)
    pending = PublishState(**{**_fields(plan.state), "pending": frozenset({"x"})})
    assert not up_to_date(pending, local, 3, 0, now=0)


def _fields(state: PublishState) -> dict[str, object]:
    return {name: getattr(state, name) for name in state.__dataclass_fields__}


def test_the_state_round_trips_and_a_broken_one_says_what_to_do() -> None:
    state = PublishState(digest="d", generation=3, pending=frozenset({"x", "y"}), keep=2,
                         keep_age=3600, prune_at=123.0)  # fmt: skip
    assert PublishState.loads(state.dumps(), "s") == state
    with pytest.raises(Exception, match=re.escape("s is not a staticserve publish state")):
        PublishState.loads(b'{"version": 9}', "s")
