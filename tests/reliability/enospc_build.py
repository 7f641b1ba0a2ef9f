"""``staticserve build`` on a simulated disk that is full after ``RELIAB_DISK_FREE`` bytes.

``python -m tests.reliability.enospc_build build ...`` is the fallback of the full-disk tests
when no small filesystem can be mounted (mounting a tmpfs needs root): every ``os.write`` (the
only call the build writes files with) past the budget fails with ENOSPC, as the kernel would.
"""

from __future__ import annotations

import errno
import os
import sys

_free = [int(os.environ["RELIAB_DISK_FREE"])]
_write = os.write


def _limited_write(fd: int, data: bytes | memoryview, /) -> int:
    if len(data) > _free[0]:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    written = _write(fd, data)
    _free[0] -= written
    return written


if __name__ == "__main__":
    os.write = _limited_write
    from staticserve.cli import main

    sys.argv[0] = "staticserve"
    main()
