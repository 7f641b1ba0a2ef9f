"""The cold / warm-cache / no-op table of ``harness.cachebench`` as Markdown lines (printed by
``python -m harness.cachebench``, and a section of RESULTS.md)."""

from __future__ import annotations

import statistics
from typing import Any

from harness.buildspeed import sparkline

SHORT = {"cold": "cold", "warm_empty_output_one_change": "warm", "noop": "no-op"}
ROW_TITLES = {
    "cold": "cold (empty output, empty cache)",
    "warm_empty_output_one_change": "warm cache, empty output, one change",
    "noop": "no-op rebuild",
}
COLUMN_TITLES = {
    "staticserve": "staticserve",
    "whitenoise": "WhiteNoise",
    "bound": "bound",
}
WHAT = {
    ("bound", "cold"): "harness/bound.py",
    ("bound", "warm_empty_output_one_change"): "cp -a of the output",
    ("bound_hardlinks", "warm_empty_output_one_change"): "cp -al of the output",
    ("bound", "noop"): "find -printf over the output",
    ("whitenoise", "warm_empty_output_one_change"): "cold build, no cache",
}


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _cell(cell: dict[str, Any] | None) -> list[str]:
    if cell is None:
        return ["—", "—", "—"]
    peak = f"{'≤ ' if cell.get('upper_bound') else ''}{cell['peak_mib']:.0f}"
    return [f"{cell['seconds']:.2f}", f"{cell['cpu_seconds']:.2f}", peak]


def _verdict(ratio: float, goal: float) -> str:
    return f"{ratio:.1%} {'PASS' if ratio <= goal else 'FAIL'} (≤ {goal:.0%})"


def _cpu(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    return f"{ours['cpu_seconds'] / theirs['cpu_seconds']:.2f}x" if theirs["cpu_seconds"] else "—"


def _main_table(result: dict[str, Any]) -> list[str]:
    cells, ratios = result["cells"], result["ratios"]
    goals = {"warm_empty_output_one_change": result["goal"], "noop": result["noop_goal"]}
    rows = []
    for row, title in ROW_TITLES.items():
        line = [title]
        for column in COLUMN_TITLES:
            line += _cell(cells[row].get(column))
        extra = cells[row].get("bound_hardlinks")
        if extra:  # cp -al beside cp -a
            line[-3] += f" (cp -al {extra['seconds']:.2f})"
        ours = cells[row]["staticserve"]
        line.append(f"{ratios[row]['bound']:.2f}x (CPU {_cpu(ours, cells[row]['bound'])})")
        wn = cells[row].get("whitenoise")
        line.append(f"{ratios[row]['whitenoise']:.2f}x (CPU {_cpu(ours, wn)})" if wn else "—")
        if row in goals:
            cpu = ours["cpu_seconds"] / cells["cold"]["staticserve"]["cpu_seconds"]
            line.append(f"{_verdict(ratios[row]['cold'], goals[row])}; CPU {cpu:.1%}")
        else:
            line.append("—")
        rows.append(line)
    header = ["build"]
    for title in COLUMN_TITLES.values():
        header += [f"{title} s", f"{title} CPU-s", f"{title} peak MiB"]
    header += ["staticserve ÷ bound", "staticserve ÷ WhiteNoise", "staticserve ÷ its cold (wall)"]
    return _table(header, rows)


def _stages(cells: dict[str, Any]) -> list[str]:
    ours = {row: cells[row]["staticserve"] for row in ROW_TITLES}
    names: list[str] = []
    for cell in ours.values():
        names += [s for s in cell.get("stages", {}) if s not in names]
    if not names:
        return []
    rows = [
        [stage, *(f"{ours[row].get('stages', {}).get(stage, 0.0):.3f}" for row in ROW_TITLES)]
        for stage in names
    ]
    rows.append(["(whole command)", *(f"{ours[row]['seconds']:.3f}" for row in ROW_TITLES)])
    rows.append(
        ["compressed / restored"]
        + [f"{ours[r].get('compressed', 0)} / {ours[r].get('restored', 0)}" for r in ROW_TITLES]
    )
    return [
        "",
        "staticserve's stages (s, from its `--json` report; they overlap, compression starting "
        "while fingerprinting runs):",
        "",
        *_table(["stage", *ROW_TITLES.values()], rows),
    ]


def _others(timeline: list[list[float]]) -> float:
    if not timeline:
        return 0.0
    return statistics.fmean(max(0.0, machine - ours) for _, ours, machine in timeline)


def _timelines(result: dict[str, Any]) -> list[str]:
    cores = result["cores"]
    lines = [
        "",
        f"Cores each command kept busy over its run (sampled every 100 ms, one character per "
        f"1/40 of the run, █ = all {cores} cores; mean cores used, and mean cores others' work "
        "kept busy meanwhile):",
        "",
        "```text",
    ]
    for row in ROW_TITLES:
        for column, cell in result["cells"][row].items():
            timeline = cell.get("timeline") or []
            if not timeline:
                continue
            label = f"{COLUMN_TITLES.get(column, 'bound')} {WHAT.get((column, row), '')}".strip()
            mean = cell["cpu_seconds"] / cell["seconds"] if cell["seconds"] else 0.0
            lines.append(
                f"{SHORT[row]:<5} {label[:32]:<32} |{sparkline(timeline, cores, width=40)}| "
                f"{cell['seconds']:6.2f} s, {mean:.2f} cores, others {_others(timeline):.2f}"
            )
    return [*lines, "```"]


def render(result: dict[str, Any]) -> list[str]:
    rounds = result["rounds"]
    lines = [
        f"Median of {rounds} round{'s' if rounds != 1 else ''}; each command in a fresh process, "
        "wall seconds, CPU-seconds (user + system of it and its children) and its own peak "
        "memory (`harness/measure.py`: the larger of its largest process's high-water mark and "
        "its process tree's summed Pss, not the benchmark's size). WhiteNoise: "
        f"`collectstatic` with `CompressedManifestStaticFilesStorage`, {result['whitenoise']}.",
        "",
        *_main_table(result),
        "",
        "The bound: cold, `harness/bound.py` (copy, gzip -9, brotli -q11; no hashing, rewriting, "
        "manifest or fsync); warm, copying staticserve's finished output (`cp -a`; `cp -al`, "
        "hard links, beside it); no-op, walking the output (`find -printf`). WhiteNoise has no "
        "cache: its warm row is its cold build of the changed files into an empty "
        "`STATIC_ROOT`; its no-op is `collectstatic` again into the filled one. Every command "
        "wrote into a folder of a new name, all deleted after the last measurement (on ext4, "
        "right after many files are deleted, the filesystem stays slow for a while). Cache "
        f"folder after the warm build: {result['cache_bytes'] / 1e6:.1f} MB.",
    ]
    lines += _stages(result["cells"])
    lines += _timelines(result)
    return lines
