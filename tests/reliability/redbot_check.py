"""Run REDbot on one URL with chosen request headers; print its HAR report on stdout.

``python -m tests.reliability.redbot_check URL [-H "Name: value"]...``

REDbot's own command line cannot set request headers, which a 304 or a range request needs;
its Python API can (``HttpResource.set_request``). Local addresses are allowed, as its command
line allows them.
"""

from __future__ import annotations

import argparse
import sys
from configparser import ConfigParser


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("-H", "--header", action="append", default=[], dest="headers")
    args = parser.parse_args()
    headers = []
    for line in args.headers:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))

    import thor
    from redbot.formatter import find_formatter
    from redbot.resource import HttpResource

    settings = ConfigParser()
    settings.read_dict({"redbot": {"enable_local_access": "True"}})
    config = settings["redbot"]
    resource = HttpResource(config)
    resource.set_request(args.url, headers=headers)
    formatter = find_formatter("har")(config, resource, sys.stdout.write, {"tty_out": False})
    formatter.bind_resource(resource)

    @thor.events.on(formatter)
    def formatter_done() -> None:
        thor.stop()

    resource.check()
    thor.run()


if __name__ == "__main__":
    main()
