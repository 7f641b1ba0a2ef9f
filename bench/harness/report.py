"""RESULTS.md from the results dictionary (the same one saved as results/results.json)."""

from __future__ import annotations

from typing import Any

from harness import cachetable, kept
from harness.buildspeed import by_tenth, sparkline
from harness.scenarios import SCENARIOS
from harness.targets import Target

SCENARIO_TITLES = {s.key: s.title for s in SCENARIOS}
SHOWN = ("cache-control", "expires", "etag", "vary")
BARE_ROLES = ("ceiling", "diagnostic")
HEADERS_APP = "bare ASGI + asset headers"


def _fmt_rps(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _fmt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def _timing(run: dict[str, Any], scenario: str) -> dict[str, Any] | None:
    result = run["results"].get(scenario)
    return result["timing"] if result else None


def _rps(run: dict[str, Any] | None, scenario: str) -> float | None:
    if run is None or run["state"] != "measured":
        return None
    timing = _timing(run, scenario)
    return timing["requests_per_s"] if timing else None


def _by_key(runs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["name"], r["server"]): r for r in runs}


def _ceiling_for(
    run: dict[str, Any], runs: dict[tuple[str, str], dict[str, Any]]
) -> dict[str, Any] | None:
    bare = "bare WSGI" if run["server"].startswith("gunicorn") else "bare ASGI"
    return runs.get((bare, run["server"])) if run["server"] != "nginx" else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _scenario_rows(scenario: str, runs: list[dict[str, Any]]) -> list[list[str]]:
    keyed = _by_key(runs)
    nginx = keyed.get(("nginx", "nginx"))
    rows: list[list[str]] = []
    for run in runs:
        if run["state"] != "measured":
            continue
        result = run["results"].get(scenario)
        if result is None:
            continue
        check, timing = result["check"], result["timing"]
        if timing is None:
            rows.append([run["name"], run["server"], f"WRONG: {check['problem']}", *["—"] * 5, ""])
            continue
        rps = timing["requests_per_s"]
        ceiling = _ceiling_for(run, keyed)
        extra = ""
        if scenario == "500k":
            extra = f"{rps * check['body_bytes'] / 1e6:,.0f} MB/s"
        elif scenario == "fallthrough" and ceiling is not None and run["role"] not in BARE_ROLES:
            base = _rps(ceiling, scenario)
            extra = f"overhead {1 - rps / base:+.1%}" if base else ""
        if run["role"] in BARE_ROLES and scenario == "500k":
            extra = f"the same bytes from memory, {extra}"
        elif run["role"] in BARE_ROLES and scenario != "fallthrough":
            extra = "constant 2 KB body"
        if timing["non_2xx_3xx"]:
            extra += f" {timing['non_2xx_3xx']} non-2xx/3xx"
        rows.append(
            [
                run["name"],
                run["server"],
                f"{check['status']} {check['encoding']}",
                _fmt_rps(rps),
                _fmt_ms(timing["p50_ms"]),
                _fmt_ms(timing["p99_ms"]),
                _fmt_ratio(_ratio(rps, _rps(ceiling, scenario))) if ceiling is not run else "1.00x",
                _fmt_ratio(_ratio(rps, _rps(nginx, scenario))),
                extra.strip(),
            ]
        )
    return rows


def _summary(runs: list[dict[str, Any]]) -> list[str]:
    header = ["contender", "server", *SCENARIO_TITLES]
    rows = []
    for run in runs:
        if run["state"] != "measured":
            rows.append([run["name"], run["server"], *[run["state"]] * len(SCENARIO_TITLES)])
            continue
        cells = []
        for key in SCENARIO_TITLES:
            result = run["results"].get(key)
            cells.append(
                "wrong" if result and result["timing"] is None else _fmt_rps(_rps(run, key))
            )
        rows.append([run["name"], run["server"], *cells])
    return _table(header, rows)


def _headers_sent(runs: list[dict[str, Any]]) -> list[str]:
    rows = []
    for run in runs:
        if run["state"] != "measured" or run["role"] in BARE_ROLES:
            continue
        result = run["results"].get("medium")
        if not result:
            continue
        sent = result["check"]["sent"]
        rows.append(
            [
                run["name"],
                run["server"],
                result["check"]["encoding"],
                *(sent.get(h, "—") for h in SHOWN),
            ]
        )
    return _table(["contender", "server", "Content-Encoding", *SHOWN], rows)


def _serving(serving: dict[str, Any]) -> list[str]:
    runs = serving.get("contenders", [])
    lines = [
        "## Serving",
        "",
        "Requests per second (higher is better); details per scenario below.",
        "",
    ]
    lines += _summary(runs)
    for key, title in SCENARIO_TITLES.items():
        lines += ["", f"### {key}: {title}", ""]
        header = [
            "contender",
            "server",
            "answer",
            "req/s",
            "p50 ms",
            "p99 ms",
            "x ceiling (same server)",
            "x nginx",
            "notes",
        ]
        lines += _table(header, _scenario_rows(key, runs))
    lines += ["", "### What each sent (medium JS, `Accept-Encoding: gzip, deflate, br`)", ""]
    lines += _headers_sent(runs)
    missing = [r for r in runs if r["state"] != "measured"]
    if missing:
        lines += ["", "### Not measured", ""]
        lines += [
            f"- **{r['name']} · {r['server']}**: {r['state']} ({r['reason']})" for r in missing
        ]
    noisy = [r for r in runs if (r.get("busy_cores_before") or 0) > 0.5]
    if noisy:
        lines += [
            "",
            "Contenders started while other work kept more than half a core busy: "
            + ", ".join(
                f"{r['name']} · {r['server']} ({r['busy_cores_before']} cores)" for r in noisy
            ),
        ]
    return lines


def _build(build: dict[str, Any] | None) -> list[str]:
    if not build:
        return []
    if "corpus" not in build:  # the build benchmark failed (run.py keeps the error)
        return ["## Build", "", f"Not measured: {build.get('error', 'unknown error')}."]
    corpus = build["corpus"]
    lines = [
        "## Build",
        "",
        f"Corpus: {corpus['files']:,} files, {corpus['bytes'] / 1e6:.1f} MB ({', '.join(corpus['parts'])}). "
        "Each tool in a fresh process, on the same files, with the same codecs and levels: brotli "
        "quality 11 (window 22) and gzip level 9 (`mtime=0`), a variant kept when it is at most "
        "95 % of the original, compression on threads across all cores; no zstd "
        "(staticserve's default encodings are br and gzip).",
        "",
    ]
    rows = []
    base = build.get("staticserve", {}).get("seconds", {}).get("full")
    for key in ("staticserve", "whitenoise", "whitenoise_keep_only_hashed"):
        tool = build.get(key)
        if tool is None:
            continue
        if tool["error"]:
            rows.append([key, f"error: {tool['error']}", *["—"] * 10])
            continue
        secs, sizes = tool["seconds"], tool["sizes"]
        cpu = tool.get("cpu_seconds", {}).get("full")
        peak = tool.get("peak_rss_mb", {}).get("full")
        busy = tool.get("busy_cores_at_start", {}).get("full")
        rows.append(
            [
                "staticserve build" if key == "staticserve" else f"collectstatic ({key})",
                f"{secs['full']:.2f}",
                f"{cpu:.1f}" if cpu is not None else "—",
                f"{peak:.0f}" if peak else "—",
                f"{busy:.2f}" if busy is not None else "—",
                f"{secs['noop']:.2f}" if "noop" in secs else "—",
                f"{secs['one_changed']:.2f}" if "one_changed" in secs else "—",
                _fmt_ratio(secs["full"] / base) if base else "—",
                f"{sizes['br_bytes']:,}",
                f"{sizes['gzip_bytes']:,}",
                f"{sizes['br_client_bytes']:,}",
                f"{sizes['gzip_client_bytes']:,}",
                f"{sizes['disk_bytes'] / 1e6:.1f} MB",
            ]
        )
    header = [
        "tool",
        "full s",
        "full CPU s",
        "full peak MiB",
        "others' busy cores at start",
        "no-op s",
        "one file changed s",
        "full time vs staticserve",
        ".br bytes",
        ".gz bytes",
        "br client downloads",
        "gzip client downloads",
        "output on disk",
    ]
    lines += _table(header, rows)
    lines += _stage_line(build.get("staticserve", {}).get("stage_seconds", {}))
    lines += _speed(build.get("staticserve", {}).get("speed"))
    lines += _cache_lines(build.get("staticserve_cache"))
    lines += [
        "",
        "`br client downloads`: the sum over every hashed file of the smallest variant a "
        "`br, gzip` client would get (`gzip client`: a `gzip` client). `collectstatic "
        "(whitenoise)` is WhiteNoise's default, which also compresses the unhashed copies (the "
        "same bytes again); `keep_only_hashed` compresses only the hashed files, the same work "
        "staticserve does (its unhashed names are hard links to the hashed files and their "
        "variants), so the speed target is judged against it. `full CPU s` is user + system "
        "time of the whole command: on this shared machine it moves far less with other "
        "people's load than the wall time does.",
    ]
    return lines


def _others(timeline: list[list[float]]) -> str:
    """Mean cores other people's work kept busy while the command ran."""
    if not timeline:
        return "—"
    return f"{sum(max(0.0, m - o) for _, o, m in timeline) / len(timeline):.2f}"


def _machine_speed(round_: dict[str, Any]) -> str:
    if not round_.get("machine_speed_ratio"):
        return "not measured"
    build, bound = round_["build"]["machine_speed"], round_["bound"]["machine_speed"]
    return (
        f"{round_['machine_speed_ratio']:.2f}x ({build[0]:.2f} to {build[1]:.2f} / "
        f"{bound[0]:.2f} to {bound[1]:.2f})"
    )


def _speed(speed: dict[str, Any] | None) -> list[str]:
    if not speed or not speed.get("rounds"):
        return []
    cores = speed["jobs"]
    lines = [
        "",
        "### Cold build against the compression-only bound",
        "",
        "The bound (`harness/bound.py`): every file copied, and gzip -9 and brotli -q11 of each "
        f"file staticserve compresses, on {cores} processes, largest file first: the work no "
        "build of these files can skip (no hashing, rewriting, manifest or fsync). Each round "
        "runs the bound and a cold `staticserve build` (empty output) back to back, alternating "
        "which goes first, so both meet the same load; the ratio compares the two. CPU is user "
        "+ system of the whole process tree; peak memory is the command's own "
        "(`harness/measure.py`: its largest process's high-water mark or its tree's summed "
        "Pss, whichever is larger; not the benchmark's size). The load-adjusted ratio compares what each "
        "would take on a quiet machine: its CPU time plus the core-seconds it left idle while "
        "it ran (a serial phase, a lone job at the end), over the cores; other people's work "
        "moves the wall times, much less this. It does not undo a host whose cores got slower: "
        "the same work can take a quarter more CPU-seconds when other tenants of the host are "
        "busy, with no steal time to show for it. So the machine's speed is taken just before "
        "and just after each run (`compression_speed()` in `harness/machine.py`: brotli -q11 "
        "of 200 kB on every core at once); the machine speed column compares the build's runs "
        "with the bound's (1.00: the two runs met the same machine; 0.90: it was 10 % slower "
        "around the build). Every run writes a folder of its own, on a filesystem that is not "
        "holding back inodes freed in the last minute (`harness/measure.py`).",
        "",
    ]
    rows = [
        [
            str(number),
            r["first"],
            f"{r['build']['seconds']:.2f}",
            f"{r['bound']['seconds']:.2f}",
            f"**{r['ratio']:.2f}x**",
            f"{r['build']['cpu_seconds']:.1f}",
            f"{r['bound']['cpu_seconds']:.1f}",
            f"{r['cpu_ratio']:.2f}x",
            f"{r.get('adjusted_ratio', 0):.2f}x",
            f"{r['build']['peak_rss_mb']:.0f}",
            f"{r['bound']['peak_rss_mb']:.0f}",
            f"{_others(r['build']['timeline'])} / {_others(r['bound']['timeline'])}",
            _machine_speed(r),
        ]
        for number, r in enumerate(speed["rounds"], 1)
    ]
    header = ["round", "first", "build s", "bound s", "ratio", "build CPU s", "bound CPU s"]
    header += ["CPU ratio", "load-adjusted ratio", "build peak MiB", "bound peak MiB"]
    header += ["others' busy cores (build / bound)", "machine speed, build ÷ bound (MB/s)"]
    lines += _table(header, rows)
    last = speed["rounds"][-1]
    lines += [
        "",
        f"Cores in use over the last round, sampled every 100 ms (one character per 1/60 of the "
        f"run; █ = all {cores} cores; `machine` counts everyone's work, other people's included):",
        "",
        "```text",
    ]
    for name in ("build", "bound"):
        timeline = last[name]["timeline"]
        lines.append(f"{name:<15} |{sparkline(timeline, cores)}|")
        lines.append(f"{name + ' machine':<15} |{sparkline(timeline, cores, column=1)}|")
    lines += ["```", "", "| tenth of the run | " + " | ".join(str(i) for i in range(1, 11)) + " |"]
    lines += ["|---" * 11 + "|"]
    for name in ("build", "bound"):
        tenths = by_tenth(last[name]["timeline"])
        lines.append(f"| {name} cores busy | " + " | ".join(f"{v:.2f}" for v in tenths) + " |")
    stages = last["build"]["report"].get("stage_seconds", {})
    if stages:
        lines += [
            "",
            "Stages of the last cold build (s; they overlap: compression starts while "
            "fingerprinting runs): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()) + ".",
        ]
    noops = speed["noop"]
    lines += [
        "",
        f"No-op rebuilds ({len(noops)}, interpreter start included): "
        + ", ".join(f"{n['seconds']:.3f} s ({n['cpu_seconds']:.2f} CPU-s)" for n in noops)
        + f"; median {speed['noop_median_s']:.3f} s = **{speed['noop_ratio']:.2%}** of the "
        f"median cold build ({speed['full_median_s']:.2f} s). Stages of the last: "
        + ", ".join(f"{k} {v:.3f}" for k, v in noops[-1]["report"].get("stage_seconds", {}).items())
        + ".",
    ]
    return lines


def _cache_lines(cache: dict[str, Any] | None) -> list[str]:
    """Cold, warm cache into an empty output, no-op: staticserve, WhiteNoise and the bound
    (harness/cachebench.py)."""
    if not cache:
        return []
    title = [
        "",
        "### Cold, warm cache into an empty output, no-op (against WhiteNoise and the bound)",
        "",
    ]
    if "cells" not in cache:
        return [*title, f"Not measured: {cache.get('error', 'not run')}."]
    return [*title, *cachetable.render(cache)]


def _stage_line(stages: dict[str, dict[str, float]]) -> list[str]:
    if not stages:
        return []
    runs = [
        f"{run}: " + ", ".join(f"{stage} {secs:.2f}" for stage, secs in parts.items())
        for run, parts in stages.items()
    ]
    return ["", "staticserve's own stage timings (s) — " + "; ".join(runs) + "."]


def _startup(startup: dict[str, Any] | None) -> list[str]:
    if not startup:
        return []
    lines = [
        "## Startup and memory",
        "",
        f"{startup['files']:,} files built once by staticserve; each middleware constructed over that "
        f"output in a fresh process (median of several). Empty process: {startup['empty_rss_mb']} MB RSS.",
        "",
    ]
    rows = []
    for kind, result in startup["kinds"].items():
        if "error" in result:
            rows.append([kind, f"unavailable ({result['error']})", "—", "—", "—"])
            continue
        rows.append(
            [
                kind,
                f"{result['construct_ms']:.0f}",
                f"{result['import_ms']:.0f}",
                f"{result['rss_growth_mb']:.1f}",
                f"{result['rss_growth_construct_mb']:.1f}",
            ]
        )
    lines += _table(
        ["middleware", "construct ms", "import ms", "RSS growth MB", "of which construction MB"],
        rows,
    )
    lines += [
        "",
        "The peers walk and stat the whole folder (hashed files, plain copies and variants); "
        "staticserve reads its manifest.",
    ]
    return lines


def _targets(
    targets: list[Target], serving: dict[str, Any], markdown: dict[str, dict[str, Any]]
) -> list[str]:
    """The PASS/FAIL lines, measured and kept (from an earlier RESULTS.md), in section order."""
    lines = [f"- {'PASS' if t.passed else 'FAIL'} — {t.text}: {t.detail}" for t in targets]
    notes: list[str] = []
    for section in markdown.values():
        lines += [line for line in section["targets"] if line.startswith("- ")]
        notes += [line for line in section["targets"] if line.strip() and line[:2] != "- "]
    order = list(kept.HEADINGS)
    lines.sort(key=lambda line: order.index(kept.target_section(line)))
    lines += _header_cost(serving.get("contenders", []))
    return ["## Targets", "", *lines, *(["", *notes] if notes else [])]


def _header_cost(runs: list[dict[str, Any]]) -> list[str]:
    """What uvicorn charges for the header fields an asset response must carry."""
    keyed = _by_key(runs)
    bare, headers = keyed.get(("bare ASGI", "uvicorn")), keyed.get((HEADERS_APP, "uvicorn"))
    ours = keyed.get(("staticserve ASGI", "uvicorn"))
    parts = []
    for scenario in ("small", "large-br"):
        cost = _ratio(_rps(headers, scenario), _rps(bare, scenario))
        reach = _ratio(_rps(ours, scenario), _rps(headers, scenario))
        if cost is not None and reach is not None:
            parts.append(
                f"{scenario}: the bare app with those fields runs at {cost:.2f}x the bare app, "
                f"and staticserve at {reach:.2f}x of it"
            )
    if not parts:
        return []
    return [
        "",
        f"What bounds the uvicorn ratios: `{HEADERS_APP}` is the bare app answering with the ten "
        "header fields every asset response carries (Content-Type, Content-Length, ETag, "
        "Last-Modified, Cache-Control, Expires, Vary, Accept-Ranges, "
        "Access-Control-Allow-Origin, X-Content-Type-Options) instead of two; uvicorn validates "
        "and lower-cases each field in Python on every response. " + "; ".join(parts) + ".",
    ]


def _header(results: dict[str, Any]) -> list[str]:
    machine, versions, wrk = results["machine"], results["versions"], results["wrk"]
    load = ", ".join(str(v) for v in machine["load_average_before"])
    return [
        "# staticserve benchmark results",
        "",
        f"Generated {results['date']} by `{results['command']}` ({results['mode']} run, {results['elapsed_s']:.0f} s).",
        "",
        f"- Machine: {machine['nproc']} x {machine['cpu_model']}, Linux {machine['kernel']}; "
        f"load average before the run {load}; {machine['busy_cores_before']} cores busy with other work.",
        f"- Load: `wrk -t{wrk['threads']} -c{wrk['connections']} -d{wrk['duration_s']}s --latency`, "
        f"{wrk.get('rounds', 1)} interleaved rounds per scenario (the best counts)"
        + (f" after a {wrk['warmup_s']} s warm-up" if wrk["warmup_s"] else "")
        + ", wrk pinned to CPU 0, the servers (one worker each) to CPU 1.",
        "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        *_kept(results),
        "",
    ]


def _kept(results: dict[str, Any]) -> list[str]:
    dates = results.get("kept_from_previous") or {}
    if not dates:
        return []
    return [
        "- Skipped in this run, kept from an earlier one (its machine and versions may differ): "
        + ", ".join(f"{section} ({date})" for section, date in dates.items())
        + "."
    ]


def render(results: dict[str, Any], targets: list[Target]) -> str:
    lines = _header(results)
    lines += _targets(targets, results.get("serving", {}), results.get("kept_markdown", {}))
    lines += ["", *(kept.lines(results, "serving") or _serving(results.get("serving", {})))]
    lines += ["", *(kept.lines(results, "build") or _build(results.get("build")))]
    lines += ["", *(kept.lines(results, "startup") or _startup(results.get("startup")))]
    lines += ["", "## Caveats", "", *results.get("caveats", [])]
    return "\n".join(lines).rstrip() + "\n"
