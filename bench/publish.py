"""Publishing a build to object storage: `staticserve publish` against listing-based syncs.

    python bench/publish.py            # the 2,500-file build corpus (about 5 minutes)
    python bench/publish.py --quick    # the quick build corpus

One SeaweedFS store on 127.0.0.1, one built corpus, three ways to put it in the store, each into
a prefix of its own: `staticserve publish`, the real `aws s3 sync` (awscli, when installed)
and the listing sync of harness/listsync.py (`aws s3 sync`'s method on staticserve's client
library). Each does a full publish into an empty prefix, then no-op publishes of the same build
(the best of `--rounds` counts); wall time of the whole command (interpreter start included)
and the S3 requests the store served, read from the store's own metrics. Writes
bench/results/publish.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import bootstrap
from harness.paths import BENCH_DIR, RESULTS_DIR, WORK_DIR

OUT = RESULTS_DIR / "publish.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the quick (smaller) corpus")
    parser.add_argument("--rounds", type=int, default=3, help="no-op publishes per peer (best)")
    parser.add_argument("--no-bootstrap", action="store_true", help="use this interpreter as is")
    return parser.parse_args(argv)


def _bin(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else shutil.which(name)


def peers(output: Path) -> dict[str, Any]:
    """name -> (prefix) -> command line."""
    found: dict[str, Any] = {
        "staticserve publish": lambda url: [
            _bin("staticserve") or "staticserve", "publish", url, "--output", str(output), "-q"
        ],
        "listing sync (obstore)": lambda url: [
            sys.executable, str(BENCH_DIR / "harness" / "listsync.py"), str(output), url
        ],
    }  # fmt: skip
    aws = _bin("aws")
    if aws:
        found["aws s3 sync (awscli)"] = lambda url: [
            aws, "s3", "sync", str(output), url, "--exclude", ".staticserve/*", "--only-show-errors"
        ]  # fmt: skip
    return found


def timed(command: list[str], store: Any) -> dict[str, float]:
    before = store.requests()
    started = time.perf_counter()
    done = subprocess.run(command, env=store.environment(), capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"Error: {' '.join(command[:3])} failed: {done.stderr.strip()[-500:]}")
    return {"seconds": round(seconds, 3), "requests": store.requests() - before}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from harness import buildbench, machine
    from harness.objectstore import BUCKET, running

    work = WORK_DIR / "publish"
    work.mkdir(parents=True, exist_ok=True)
    source, parts = buildbench.assemble(WORK_DIR, args.quick)
    output = work / "out"
    shutil.rmtree(output, ignore_errors=True)
    build = [_bin("staticserve") or "staticserve", "build", "--source", str(source)]
    subprocess.run([*build, "--output", str(output), "-q"], check=True, cwd=work)
    files = sum(1 for p in output.rglob("*") if p.is_file() and ".staticserve" not in p.parts)
    manifest = json.loads((output / "staticserve.json").read_text())
    print(f"corpus: {len(manifest['assets'])} files built, {files} files in the output", flush=True)
    results: dict[str, Any] = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine.describe(),
        "corpus": {"assets": len(manifest["assets"]), "output_files": files, "parts": parts},
        "peers": {},
    }
    with running(work / "store") as store:
        commands = peers(output)
        for index, (name, command) in enumerate(commands.items()):
            url = f"s3://{BUCKET}/peer{index}"
            print(f"  {name}: full publish", flush=True)
            full = timed(command(url), store)
            noops = []
            for _ in range(args.rounds):
                noops.append(timed(command(url), store))
            best = min(noops, key=lambda r: r["seconds"])
            results["peers"][name] = {"full": full, "noop": best, "noop_rounds": noops}
    return results


def table(results: dict[str, Any]) -> str:
    ours = results["peers"]["staticserve publish"]
    lines = [
        "| peer | full publish | requests | no-op publish | requests |",
        "|---|---|---|---|---|",
    ]
    for name, peer in results["peers"].items():
        full, noop = peer["full"], peer["noop"]
        ratio = (
            ""
            if peer is ours
            else (
                f" ({full['seconds'] / ours['full']['seconds']:.1f}x)",
                f" ({noop['seconds'] / ours['noop']['seconds']:.1f}x)",
            )
        )
        lines.append(
            f"| {name} | {full['seconds']:.2f} s{ratio[0] if ratio else ''} | {full['requests']:,} "
            f"| {noop['seconds']:.2f} s{ratio[1] if ratio else ''} | {noop['requests']:,} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not args.no_bootstrap:
        bootstrap.ensure_venv()
        if not bootstrap.running_in_venv():
            bootstrap.reexec_in_venv(Path(__file__).resolve(), argv)
    results = run(args)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
