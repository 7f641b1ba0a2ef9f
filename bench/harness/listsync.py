"""The listing-based sync that `aws s3 sync` does, as the publish benchmark's peer.

    python listsync.py FOLDER s3://BUCKET/PREFIX

List every object under the prefix (1,000 keys a request), then upload each file of FOLDER whose
key is missing or whose size differs, 16 at a time, with a Content-Type guessed from the name:
what a sync that knows nothing of the manifest can do. It uses obstore, the client `staticserve
publish` uses, so the comparison is between the two ways of deciding what to send.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import sys
from pathlib import Path

import obstore
from obstore.store import from_url


async def sync(folder: Path, url: str) -> tuple[int, int]:
    client = {"allow_http": True}
    store = from_url(url, client_options=client, config={"virtual_hosted_style_request": False})
    remote: dict[str, int] = {}
    async for batch in obstore.list(store, chunk_size=1000):
        for meta in batch:
            remote[meta["path"]] = meta["size"]
    local = {
        path.relative_to(folder).as_posix(): path
        for path in folder.rglob("*")
        if path.is_file() and ".staticserve" not in path.relative_to(folder).parts
    }
    todo = [(k, p) for k, p in local.items() if remote.get(k) != p.stat().st_size]
    limit = asyncio.Semaphore(16)

    async def upload(key: str, path: Path) -> None:
        kind = mimetypes.guess_type(key)[0] or "application/octet-stream"
        async with limit:
            await obstore.put_async(
                store, key, path.read_bytes(), attributes={"Content-Type": kind}
            )

    await asyncio.gather(*(upload(k, p) for k, p in todo))
    return len(todo), len(local) - len(todo)


if __name__ == "__main__":
    os.environ.setdefault("AWS_ALLOW_HTTP", "true")
    uploaded, present = asyncio.run(sync(Path(sys.argv[1]), sys.argv[2]))
    print(f"uploaded {uploaded}, {present} already there")
