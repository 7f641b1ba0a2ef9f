"""``staticserve cache info|prune``: look after the compression cache folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .cli_support import config_option, errors_as_messages, number, shown, size_text
from .errors import ConfigError
from .pipeline.cache_dir import CacheInfo, cache_info, prune
from .pipeline.config import CACHE_DIR_ENV, load_config

__all__ = ["cache_group"]


@click.group("cache")
def cache_group() -> None:
    """Look after the compression cache folder (--cache-dir of `staticserve build`)."""


_CACHE_DIR_OPTION = click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help=f"The cache folder.  [env: {CACHE_DIR_ENV}; config: cache_dir]",
)


@cache_group.command("info")
@_CACHE_DIR_OPTION
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON on stdout.")
def cache_info_command(cache_dir: Path | None, config_path: Path | None, as_json: bool) -> None:
    """Show the cache folder's entries, their size and what the last build did with them.

    Exit codes: 0 shown, 1 the folder cannot be read, 2 no cache folder configured.
    """
    with errors_as_messages():
        info = cache_info(_cache_folder(cache_dir, config_path)[0])
    if as_json:
        click.echo(json.dumps(info.to_json(), indent=2))
    else:
        click.echo(_cache_summary(info))


@cache_group.command("prune")
@_CACHE_DIR_OPTION
@config_option
@click.option(
    "--max-size",
    metavar="BYTES",
    callback=number,
    help="Keep at most this many bytes of the most recently used entries.  "
    "[config: cache_max_size; default: 1073741824 (1 GiB)]",
)
def cache_prune_command(cache_dir: Path | None, config_path: Path | None, max_size: object) -> None:
    """Remove the least recently used entries past the size limit (0 empties the cache).

    Exit codes: 0 pruned, 1 the folder cannot be changed, 2 usage or configuration error.
    """
    with errors_as_messages():
        folder, limit = _cache_folder(cache_dir, config_path, max_size)
        result = prune(folder, limit)
    click.echo(
        f"Pruned {result.removed} entries ({size_text(result.removed_bytes)}) from {shown(folder)}; "
        f"kept {result.kept} ({size_text(result.kept_bytes)}, at most {size_text(limit)})"
    )


def _cache_folder(
    flag: Path | None, config_path: Path | None, max_size: object = None
) -> tuple[Path, int]:
    """The cache folder (the flag, else the environment, else the config file) and its limit,
    checked as a build checks them."""
    config = load_config(config_path)
    config = config.with_overrides(
        cache_dir=None if flag is None else Path.cwd() / flag, cache_max_size=max_size
    )
    if config.cache_path is None:
        raise ConfigError(
            f"no cache folder: pass --cache-dir DIR, set {CACHE_DIR_ENV}, or set cache_dir "
            "in [tool.staticserve]"
        )
    return config.cache_path, config.cache_max_size


def _cache_summary(info: CacheInfo) -> str:
    to_json = info.to_json()
    lines = [f"Cache {shown(info.path)}: {info.entries} entries, {size_text(info.bytes)}"]
    if info.entries:
        lines.append(f"  last used {to_json['newest_use']}, least recently {to_json['oldest_use']}")
    last = info.last_build
    if last:
        figures = ", ".join(
            f"{k} {last[k]}" for k in ("restored", "missed", "stored", "rejected") if k in last
        )
        lines.append(f"  last build ({last.get('finished', '?')}): {figures}")
    return "\n".join(lines)
