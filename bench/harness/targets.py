"""The issue's targets, judged from the results as PASS/FAIL lines (a target not measured fails)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from harness.buildspeed import BOUND_TARGET, NOOP_TARGET

SS_ASGI, SS_WSGI = "staticserve ASGI", "staticserve WSGI"
HOT_SCENARIOS = ("small", "large-br", "304")
WSGI_SERVERS = ("gunicorn-sync", "gunicorn-gthread")
# Servers that cannot send a file themselves (no http.response.pathsend): the middleware sends
# the 500 KB file, against the bare app sending the same bytes from memory (issue 15, item 4).
NO_PATHSEND_SERVERS = ("uvicorn", "hypercorn")
LARGE_FILE_MINIMUM = 0.8

Figure = tuple[str, str, str]  # (contender name, server, scenario)


@dataclass(frozen=True, slots=True)
class Target:
    text: str
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Lookup:
    """req/s by (contender name, server, scenario), with the reason when there is no figure."""

    def __init__(self, serving: dict[str, Any]) -> None:
        self._runs = {(r["name"], r["server"]): r for r in serving.get("contenders", [])}

    def rps(self, name: str, server: str, scenario: str) -> tuple[float | None, str]:
        run = self._runs.get((name, server))
        if run is None:
            return None, f"{name} · {server} not run"
        if run["state"] != "measured":
            return None, f"{name} · {server} {run['state']}: {run['reason']}"
        result = run["results"].get(scenario)
        if result is None:
            return None, f"{scenario} not run"
        if result["timing"] is None:
            return None, f"{name} · {server} answered wrong: {result['check']['problem']}"
        return float(result["timing"]["requests_per_s"]), ""

    def peers(self, server: str) -> list[str]:
        return [
            name
            for (name, srv), run in self._runs.items()
            if srv == server and run["role"] == "peer"
        ]


def _ratio_target(text: str, look: Lookup, ours: Figure, other: Figure, minimum: float) -> Target:
    (mine, why), (theirs, why_not) = look.rps(*ours), look.rps(*other)
    if mine is None or theirs is None:
        return Target(text, False, f"not measured ({why or why_not})")
    ratio = mine / theirs
    return Target(
        text,
        ratio >= minimum,
        f"{mine:,.0f} / {theirs:,.0f} req/s = {ratio:.2f}x (need >= {minimum}x)",
    )


def serving_targets(serving: dict[str, Any]) -> list[Target]:
    look = Lookup(serving)
    targets: list[Target] = []
    for sc in HOT_SCENARIOS:
        targets.append(
            _ratio_target(
                f"uvicorn, {sc}: staticserve >= 0.9x bare ASGI",
                look,
                (SS_ASGI, "uvicorn", sc),
                ("bare ASGI", "uvicorn", sc),
                0.9,
            )
        )
    for sc in HOT_SCENARIOS:
        target = _ratio_target(
            f"granian, {sc}: staticserve >= 2x ServeStatic",
            look,
            (SS_ASGI, "granian", sc),
            ("ServeStatic ASGI", "granian", sc),
            2.0,
        )
        bare, peer = (
            look.rps("bare ASGI", "granian", sc)[0],
            look.rps("ServeStatic ASGI", "granian", sc)[0],
        )
        if bare and peer:  # the most any middleware can reach on this server
            target = replace(target, detail=f"{target.detail}; the bare app: {bare / peer:.2f}x")
        targets.append(target)
    for server in WSGI_SERVERS:
        for sc in HOT_SCENARIOS:
            targets.append(
                _ratio_target(
                    f"{server}, {sc}: staticserve WSGI >= 0.9x bare WSGI",
                    look,
                    (SS_WSGI, server, sc),
                    ("bare WSGI", server, sc),
                    0.9,
                )
            )
    for server in NO_PATHSEND_SERVERS:
        targets.append(
            _ratio_target(
                f"{server}, 500 KB: staticserve >= {LARGE_FILE_MINIMUM}x bare ASGI sending the "
                "same bytes from memory",
                look,
                (SS_ASGI, server, "500k"),
                ("bare ASGI", server, "500k"),
                LARGE_FILE_MINIMUM,
            )
        )
    for name, server, bare in _ours_and_bare():
        targets.append(_overhead_target(look, name, server, bare))
    for name, server, _ in _ours_and_bare():
        targets.append(_best_peer_target(look, name, server))
    return targets


def _ours_and_bare() -> list[tuple[str, str, str]]:
    return [
        (SS_ASGI, "uvicorn", "bare ASGI"),
        (SS_ASGI, "granian", "bare ASGI"),
        *((SS_WSGI, server, "bare WSGI") for server in WSGI_SERVERS),
    ]


def _overhead_target(look: Lookup, name: str, server: str, bare: str) -> Target:
    text = f"{server}: fall-through overhead of {name} <= 3%"
    ours, base = look.rps(name, server, "fallthrough"), look.rps(bare, server, "fallthrough")
    if ours[0] is None or base[0] is None:
        return Target(text, False, f"not measured ({ours[1] or base[1]})")
    overhead = 1 - ours[0] / base[0]
    return Target(
        text,
        overhead <= 0.03,
        f"{ours[0]:,.0f} vs bare {base[0]:,.0f} req/s: {overhead:+.1%}",
    )


def _best_peer_target(look: Lookup, name: str, server: str) -> Target:
    text = f"{server}, 500 KB: {name} >= the best peer on the same server"
    ours = look.rps(name, server, "500k")
    peers = {peer: look.rps(peer, server, "500k")[0] for peer in look.peers(server)}
    measured = {peer: rps for peer, rps in peers.items() if rps is not None}
    if ours[0] is None or not measured:
        return Target(text, False, f"not measured ({ours[1] or 'no peer measured'})")
    best = max(measured, key=lambda p: measured[p])
    return Target(
        text,
        ours[0] >= measured[best],
        f"{ours[0]:,.0f} vs {best} {measured[best]:,.0f} req/s",
    )


def build_targets(build: dict[str, Any] | None) -> list[Target]:
    if not build or not build.get("staticserve", {}).get("seconds"):
        reason = (build or {}).get("error", "build benchmark not run")
        return [
            Target(
                "full build >= 3x faster than collectstatic + WhiteNoise",
                False,
                f"not measured ({reason})",
            )
        ]
    ours = build["staticserve"]
    peers = {k: v for k, v in build.items() if k.startswith("whitenoise") and v.get("seconds")}
    targets: list[Target] = []
    if peers:
        fastest = min(peers, key=lambda k: peers[k]["seconds"]["full"])
        speedup = peers[fastest]["seconds"]["full"] / ours["seconds"]["full"]
        cpu_ours = ours.get("cpu_seconds", {}).get("full")
        cpu_peer = peers[fastest].get("cpu_seconds", {}).get("full")
        cpu = (
            f"; CPU {cpu_ours:.1f} s vs {cpu_peer:.1f} s = {cpu_peer / cpu_ours:.2f}x"
            if cpu_ours and cpu_peer
            else ""
        )
        targets.append(
            Target(
                "full build >= 3x faster than collectstatic + WhiteNoise (its fastest configuration)",
                speedup >= 3.0,
                f"{ours['seconds']['full']:.2f} s vs {fastest} {peers[fastest]['seconds']['full']:.2f} s = {speedup:.2f}x{cpu}",
            )
        )
        targets += _size_targets(ours, peers[fastest])
    else:
        targets.append(
            Target(
                "full build >= 3x faster than collectstatic + WhiteNoise",
                False,
                "collectstatic not measured",
            )
        )
    targets.append(_cache_target(build.get("staticserve_cache")))
    return targets + speed_targets(ours.get("speed"))


def speed_targets(speed: dict[str, Any] | None) -> list[Target]:
    """Issue 15: every cold build within 1.15x the compression-only bound measured beside it,
    and the no-op rebuild within 2 % of a cold build."""
    bound_text = f"cold build <= {BOUND_TARGET:.2f}x the compression-only bound, every round"
    noop_text = f"no-op rebuild <= {NOOP_TARGET:.0%} of a cold build"
    if not speed or not speed.get("rounds"):
        return [Target(bound_text, False, "not measured"), Target(noop_text, False, "not measured")]
    ratios = [r["ratio"] for r in speed["rounds"]]
    detail = ", ".join(
        f"{r['build']['seconds']:.1f} s / {r['bound']['seconds']:.1f} s = {r['ratio']:.2f}x "
        f"(CPU {r['cpu_ratio']:.2f}x, machine speed {r.get('machine_speed_ratio', 0):.2f}x)"
        for r in speed["rounds"]
    )
    noop = speed["noop_ratio"]
    return [
        Target(bound_text, max(ratios) <= BOUND_TARGET, detail),
        Target(
            noop_text,
            noop <= NOOP_TARGET,
            f"median {speed['noop_median_s']:.3f} s / {speed['full_median_s']:.2f} s = {noop:.2%}",
        ),
    ]


def _cache_target(cache: dict[str, Any] | None) -> Target:
    text = "warm cache folder, empty output, one file changed <= 5% of a cold build"
    if not cache or "cells" not in cache:
        return Target(text, False, f"not measured ({(cache or {}).get('error', 'not run')})")
    cold = cache["cells"]["cold"]["staticserve"]
    warm = cache["cells"]["warm_empty_output_one_change"]["staticserve"]
    return Target(
        text,
        cache["ratio"] <= cache["goal"],
        f"{warm['seconds']:.2f} s / {cold['seconds']:.2f} s = {cache['ratio']:.1%}; CPU "
        f"{warm['cpu_seconds']:.1f} s / {cold['cpu_seconds']:.1f} s; peak memory "
        f"{warm['peak_mib']:.0f} MiB / {cold['peak_mib']:.0f} MiB; compressed "
        f"{warm.get('compressed', 0)}, restored {warm.get('restored', 0)}",
    )


def _size_targets(ours: dict[str, Any], peer: dict[str, Any]) -> list[Target]:
    """Compression judged file by file on identical bytes; the totals are shown beside it."""
    same = peer.get("same_content")
    targets = []
    for client, key in (("br", "br_client_bytes"), ("gzip", "gzip_client_bytes")):
        mine, theirs = ours["sizes"][key], peer["sizes"][key]
        text = f"compressed output no larger than WhiteNoise's ({client} client"
        detail = f"all files {mine:,} B vs {theirs:,} B ({mine / theirs - 1:+.2%})"
        if same:
            mine, theirs = same[f"ours_{client}_client"], same[f"theirs_{client}_client"]
            text += ", same bytes in"
            detail = (
                f"{same['files']:,} files with identical content: {mine:,} B vs {theirs:,} B "
                f"({mine / theirs - 1:+.2%}); {detail}, where {same['differing_files']} files "
                "differ before compression (JS module imports rewritten to hashed names, the "
                "changed file)"
            )
        targets.append(Target(text + ")", mine <= theirs, detail))
    return targets


def startup_targets(startup: dict[str, Any] | None) -> list[Target]:
    targets: list[Target] = []
    kinds = (startup or {}).get("kinds", {})
    for kind in ("staticserve-asgi", "staticserve-wsgi"):
        result = kinds.get(kind)
        if not result or "error" in result:
            reason = (result or {}).get("error", "startup benchmark not run")
            targets.append(
                Target(
                    f"{kind}: 10,000-file manifest startup <= 300 ms and RSS growth <= 40 MB",
                    False,
                    f"not measured ({reason})",
                )
            )
            continue
        targets.append(
            Target(
                f"{kind}: 10,000-file manifest startup <= 300 ms",
                result["construct_ms"] <= 300,
                f"{result['construct_ms']:.0f} ms (import {result['import_ms']:.0f} ms more)",
            )
        )
        targets.append(
            Target(
                f"{kind}: RSS growth over an empty app <= 40 MB",
                result["rss_growth_mb"] <= 40,
                f"{result['rss_growth_mb']:.1f} MB (construction alone {result['rss_growth_construct_mb']:.1f} MB)",
            )
        )
    return targets


def evaluate(results: dict[str, Any]) -> list[Target]:
    """The targets of the sections measured (or kept as figures); a section kept only as the
    Markdown of an earlier RESULTS.md brings its own target lines."""
    kept = results.get("kept_markdown", {})
    return [
        *(serving_targets(results.get("serving", {})) if "serving" not in kept else []),
        *(build_targets(results.get("build")) if "build" not in kept else []),
        *(startup_targets(results.get("startup")) if "startup" not in kept else []),
    ]
