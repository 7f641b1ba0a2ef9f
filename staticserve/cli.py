"""The ``staticserve`` command: a thin skin over :func:`staticserve.build`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import __version__
from .cli_cache import cache_group
from .cli_support import (
    config_option,
    errors_as_messages,
    number,
    prefix_option,
    progress_bar,
    shown,
    size_text,
)
from .pipeline import BuildReport, build
from .pipeline.config import DEFAULT_IGNORE, load_config, parse_source

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="staticserve")
def main() -> None:
    """Build fingerprinted, precompressed static assets; serve them with staticserve's middleware."""


main.add_command(cache_group)


@main.command("build")
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="DIR[=PREFIX]",
    help="A source folder, optionally published under PREFIX; repeat in precedence order. "
    "Replaces `sources`.",
)
@click.option(
    "--package",
    "packages",
    multiple=True,
    metavar="NAME",
    help="An installed package whose static/ folder is a source (after the folders). "
    "Replaces `packages`.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    help="Output folder.  [config: output; default: static_build]",
)
@prefix_option
@config_option
@click.option(
    "--keep",
    metavar="N",
    callback=number,
    help="Builds whose files stay on disk.  [config: keep; default: 3]",
)
@click.option(
    "--keep-age",
    metavar="DURATION",
    help="Also keep the files of every build live within this long, e.g. 1h, 30m, 2d.  "
    "[config: keep_age; default: 0, by count only]",
)
@click.option(
    "--strict/--no-strict",
    default=None,
    help="Treat broken references and duplicates as errors.  [config: strict; default: no-strict]",
)
@click.option(
    "--jobs",
    metavar="N",
    callback=number,
    help="Compression threads, 0 for all cores.  [config: jobs; default: 0]",
)
@click.option(
    "--encodings",
    metavar="LIST",
    help="Comma-separated precompressed encodings: br, gzip, zstd; empty for none.  "
    "[config: encodings; default: br,gzip]",
)
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="GLOB",
    help="Also ignore files matching GLOB (repeatable), besides the config's patterns.  "
    f"[config: ignore; the defaults {' '.join(DEFAULT_IGNORE)} apply unless "
    "ignore_defaults = false]",
)
@click.option(
    "--rewrite-js/--no-rewrite-js",
    default=None,
    help="Rewrite JS module imports and source map comments.  [config: rewrite_js; default: on]",
)
@click.option(
    "--min-size",
    metavar="BYTES",
    callback=number,
    help="Smallest file worth compressing, in bytes.  [config: min_size; default: 0]",
)
@click.option(
    "--fingerprinted",
    "fingerprinted",
    multiple=True,
    metavar="REGEX",
    help="Also keep the names of files whose logical path matches REGEX (whole path) as hashed "
    "already, e.g. 'assets/.*-[A-Za-z0-9_-]{8}\\.js' for Vite (repeatable).  "
    "[config: fingerprinted; default: none, only names carrying their own sha256]",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Keep compressed variants in DIR too, outside the output, for builds from a clean "
    "checkout (CI, Docker).  [env: STATICSERVE_CACHE_DIR; config: cache_dir; default: none]",
)
@click.option(
    "--cache-max-size",
    metavar="BYTES",
    callback=number,
    help="Prune the least recently used entries of --cache-dir past this size.  "
    "[config: cache_max_size; default: 1073741824 (1 GiB)]",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option(
    "--clear", is_flag=True, help="Start afresh: recompress everything, keep no earlier build."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def build_command(
    sources: tuple[str, ...],
    packages: tuple[str, ...],
    config_path: Path | None,
    encodings: str | None,
    ignore: tuple[str, ...],
    fingerprinted: tuple[str, ...],
    dry_run: bool,
    clear: bool,
    as_json: bool,
    quiet: bool,
    **settings: Any,
) -> None:
    """Collect, fingerprint, rewrite, compress and publish the static files.

    Exit codes: 0 built, 1 build error (nothing published), 2 usage or configuration error.
    """
    with errors_as_messages():
        config = load_config(config_path)
        overrides: dict[str, Any] = dict(settings)
        if sources:
            overrides["sources"] = tuple(parse_source(s) for s in sources)
            overrides["base_dir"] = Path.cwd()
        if packages:
            overrides["packages"] = packages
        if encodings is not None:
            overrides["encodings"] = tuple(e.strip() for e in encodings.split(",") if e.strip())
        if ignore:
            overrides["ignore"] = config.ignore + ignore
        if fingerprinted:
            overrides["fingerprinted"] = config.fingerprinted + fingerprinted
        for folder in ("output", "cache_dir"):  # relative to where the command runs
            if overrides.get(folder) is not None:
                overrides[folder] = Path.cwd() / overrides[folder]
        config = config.with_overrides(**overrides)
        show_progress = not (quiet or as_json) and sys.stderr.isatty()
        with progress_bar(show_progress) as progress:
            report = build(
                config, progress=progress, notice=_notice(quiet), dry_run=dry_run, clear=clear
            )
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    elif not quiet:
        click.echo(_summary(report))


@main.command("nginx-conf")
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    help="The build's output folder, as nginx will find it.  [config: output; default: static_build]",
)
@prefix_option
@config_option
@click.option(
    "--max-age",
    metavar="SECONDS",
    callback=number,
    help="Cache-Control max-age of logical (unhashed) names, as the middleware's max_age.  "
    "[default: 60]",
)
@click.option(
    "--allow-origin",
    metavar="ORIGIN",
    default="*",
    show_default=True,
    help="Access-Control-Allow-Origin on every file; '' sends none.",
)
def nginx_conf_command(
    root: Path | None,
    prefix: str | None,
    config_path: Path | None,
    max_age: Any,
    allow_origin: str,
) -> None:
    """Print an nginx location block that serves the build as the middleware does.

    Put it inside your server { } block; its comments say what else it needs. Exit codes: 0
    printed, 2 usage or configuration error.
    """
    from .nginx import nginx_conf  # not imported by a build (nor its serving core)

    with errors_as_messages():
        text = nginx_conf(
            root,
            prefix,
            config=load_config(config_path),
            max_age=max_age,
            allow_origin=allow_origin or None,
        )
    click.echo(text, nl=False)


@main.command("publish")
@click.argument("url")
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    help="The build's output folder.  [config: output; default: static_build]",
)
@config_option
@click.option(
    "--endpoint-url",
    metavar="URL",
    help="The storage service's endpoint (MinIO, SeaweedFS, R2, ...; for az:// the account's "
    "blob endpoint, e.g. Azurite's http://127.0.0.1:10000/devstoreaccount1).  "
    "[default: $AWS_ENDPOINT_URL or $AZURE_STORAGE_ENDPOINT, else the cloud's]",
)
@click.option("--region", help="The S3 bucket's region.  [default: $AWS_REGION]")
@click.option(
    "--keep",
    metavar="N",
    callback=number,
    help="Builds whose files stay in the bucket.  [config: keep; default: 3]",
)
@click.option(
    "--keep-age",
    metavar="DURATION",
    help="Also keep every build live within this long, e.g. 1h.  [config: keep_age; default: 0]",
)
@click.option(
    "--max-age",
    metavar="SECONDS",
    type=click.IntRange(min=0),
    default=60,
    show_default=True,
    help="Cache-Control max-age of the logical (unhashed) names, as the middleware's option.",
)
@click.option(
    "--connections",
    metavar="N",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Requests in flight at once.",
)
@click.option("--dry-run", is_flag=True, help="Report what would be uploaded and deleted.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def publish_command(
    url: str,
    output: Path | None,
    config_path: Path | None,
    dry_run: bool,
    as_json: bool,
    quiet: bool,
    **settings: Any,
) -> None:
    """Upload the build to object storage: URL is s3://BUCKET[/PREFIX] or az://CONTAINER[/PREFIX]
    (also azure://, abfs://, abfss://; gs:// untested).

    Only the objects the bucket lacks are uploaded, the manifest after the files it names;
    the files of the last `keep` builds stay. Credentials come from the environment
    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, ...; for Azure
    AZURE_STORAGE_ACCOUNT_NAME, AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN, ...).
    Exit codes: 0 published (or up to date), 1 publish error (the bucket still serves the
    build it served), 2 usage or configuration error.
    """
    from .upload import publish

    with errors_as_messages(interrupted="Interrupted; the bucket still serves a whole build."):
        show_progress = not (quiet or as_json) and sys.stderr.isatty()
        with progress_bar(show_progress) as progress:
            report = publish(
                url,
                config_path,
                output=None if output is None else Path.cwd() / output,
                dry_run=dry_run,
                progress=progress,
                **settings,
            )
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    elif not quiet:
        click.echo(_publish_summary(report))


def _publish_summary(report: Any) -> str:
    if report.dry_run and not report.changed:
        return f"Up to date (dry run): {report.url} serves this build ({report.present:,} objects)"
    if report.dry_run:
        lines = [
            f"Would upload {len(report.planned):,} objects "
            f"({size_text(report.uploaded_bytes)}) to {report.url}; {report.present:,} already "
            f"there; would delete {len(report.planned_deletions)}"
        ]
        lines.extend(f"  {key}" for key in report.planned[:20])
        if len(report.planned) > 20:
            lines.append(f"  … and {len(report.planned) - 20} more")
        return "\n".join(lines)
    if not report.changed:
        return f"Up to date: {report.url} serves this build ({report.present:,} objects)"
    return (
        f"Published generation {report.generation} to {report.url} in {report.seconds:.2f} s: "
        f"uploaded {report.uploaded:,} objects, {size_text(report.uploaded_bytes)}; "
        f"{report.present:,} already there; deleted {report.deleted:,}"
    )


def _notice(quiet: bool) -> Callable[[str], None]:
    """Where the build's messages go: stderr (stdout may carry --json), unless --quiet."""

    def say(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    return say


def _summary(report: BuildReport) -> str:
    verb = "Would build" if report.dry_run else "Built" if report.changed else "Up to date:"
    lines = [
        f"{verb} {report.files} files ({size_text(report.total_bytes)}) into {shown(report.output)} "
        f"(generation {report.generation}) in {report.seconds:.2f} s"
    ]
    # Written files are counted one way in both: "N files (M with variants)".
    written = f"{report.written} files ({report.written + report.written_variants} with variants)"
    if report.dry_run:
        lines.append(f"  {written} would be written")
        lines.extend(f"    {name}" for name in report.planned[:20])
        if len(report.planned) > 20:
            lines.append(f"    … and {len(report.planned) - 20} more")
    else:
        lines.append(
            f"  compressed {report.compressed}, reused {report.reused}"
            + (f", restored {report.restored}" if report.cache_dir is not None else "")
            + f" variants; {written} written, pruned {report.pruned}"
        )
    for name, stats in report.encodings.items():
        if stats.files:
            ratio = stats.compressed_bytes / stats.original_bytes
            lines.append(
                f"  {name:<5} {size_text(stats.original_bytes)} -> {size_text(stats.compressed_bytes)} "
                f"({ratio:.0%}) over {stats.files} files"
            )
    if report.duplicates:
        lines.append(f"  {len(report.duplicates)} duplicate(s), the first source wins:")
        lines.extend(f"    {d.logical}: {d.winner} shadows {d.shadowed}" for d in report.duplicates)
    if report.warnings:
        lines.append(f"  {len(report.warnings)} warning(s):")
        lines.extend(f"    {w}" for w in report.warnings)
    return "\n".join(lines)
