"""``staticserve publish`` that freezes itself at a named moment, for kill tests.

``python -m tests.publish.paused_publish MOMENT[:N] publish URL ...`` runs the real CLI; the
``N``-th time (default 1) the publish reaches ``MOMENT`` it writes ``MOMENT`` to the file named
by ``$STATICSERVE_PAUSE_MARKER`` and stops itself with SIGSTOP (every thread at once, requests
the store has already received included). The test looks at the bucket, then sends SIGKILL.

The moments, hooked on the bucket operations' completion, in the order a publish passes them:

``journaled``  the state records the keys this publish may write; nothing else written yet
``uploading``  a content-addressed object (a hashed file or its variant) is stored
``switched``   the new manifest is stored
``replacing``  a logical name's object is replaced
``deleted``    the objects past retention are deleted; the state is not yet updated
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from staticserve.manifest import MANIFEST_NAME
from staticserve.upload import store
from staticserve.upload.objects import STATE_KEY

MARKER_ENV = "STATICSERVE_PAUSE_MARKER"
MOMENTS = ("journaled", "uploading", "switched", "replacing", "deleted")


def _install(moment: str, nth: int) -> None:
    seen = [0]

    def reached(name: str, detail: str) -> None:
        if name != moment:
            return
        seen[0] += 1
        if seen[0] == nth:
            Path(os.environ[MARKER_ENV]).write_text(f"{name}\n{detail}", encoding="utf-8")
            os.kill(os.getpid(), signal.SIGSTOP)

    put, delete = store.Bucket.put, store.Bucket.delete
    state_writes = [0]

    async def paused_put(self: store.Bucket, key: str, *args: Any, **kwargs: Any) -> str:
        tag = await put(self, key, *args, **kwargs)
        if key == STATE_KEY:
            state_writes[0] += 1
            if state_writes[0] == 1:
                reached("journaled", key)
        elif key == MANIFEST_NAME:
            reached("switched", key)
        elif kwargs.get("immutable"):
            reached("uploading", key)
        else:
            reached("replacing", key)
        return tag

    async def paused_delete(self: store.Bucket, keys: list[str]) -> None:
        await delete(self, keys)
        if keys:
            reached("deleted", f"{len(keys)} keys")

    store.Bucket.put = paused_put  # type: ignore[method-assign]
    store.Bucket.delete = paused_delete  # type: ignore[method-assign]


def main() -> None:
    aim, _, count = sys.argv[1].partition(":")
    if aim not in MOMENTS:
        raise SystemExit(f"unknown moment {aim!r}; known: {', '.join(MOMENTS)}")
    _install(aim, int(count or 1))
    from staticserve.cli import main as cli

    cli(sys.argv[2:])


if __name__ == "__main__":
    main()
