"""The middlewares' options: one list of keywords, checked the same way by both constructors."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from staticserve import ConfigError, StaticServe, StaticServeWSGI
from staticserve.options import KEYWORDS, ServeOptions

from .conftest import Build

MIDDLEWARES = [StaticServe, StaticServeWSGI]


def unused_app(*args: Any) -> Any:  # pragma: no cover - never called
    raise AssertionError("not a request")


def test_every_option_is_a_constructor_keyword() -> None:
    # ``prefix`` is the third positional parameter; everything else is a keyword.
    assert {f.name for f in fields(ServeOptions)} - {"prefix"} == KEYWORDS


@pytest.mark.parametrize("middleware", MIDDLEWARES)
def test_options_reach_the_catalog(middleware: Any, static_build: Build) -> None:
    served = middleware(
        unused_app, static_build.root, "assets/", max_age=5, index_file="index.html"
    )
    assert served.mount == "/assets/"
    assert served.options == ServeOptions(prefix="/assets", max_age=5, index_file="index.html")


@pytest.mark.parametrize("middleware", MIDDLEWARES)
def test_an_unknown_keyword_is_refused_as_python_does(middleware: Any) -> None:
    message = f"{middleware.__name__}.__init__() got an unexpected keyword argument 'max_ag'"
    with pytest.raises(TypeError) as info:
        middleware(unused_app, max_ag=5)
    assert str(info.value) == message


@pytest.mark.parametrize("middleware", MIDDLEWARES)
@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"max_age": -1}, "max_age must be a whole number >= 0, not -1"),
        ({"memory_total": True}, "memory_total must be a whole number >= 0, not True"),
        ({"index_file": "../x"}, "index_file must be a plain file name, not '../x'"),
        ({"headers": {"*.css": {"x y": "1"}}}, "'x y' is not a valid HTTP header name"),
        *(
            ({"url_base": value}, f"url_base must be an absolute URL such as 'https://cdn.example.com/static/' or '//cdn.example.com/static/', not {value!r}{why}")
            for value, why in [
                ("cdn.example.com/static/", ""),
                ("/static/", ""),
                ("ftp://cdn.example.com/", ""),
                ("https:///static/", ""),
                ("https://cdn.example.com/static/?v=1", " (no query or fragment: hashed paths are appended to it)"),
                ("https://cdn.example.com/my static/", " (no spaces, quotes or non-ASCII characters)"),
                (42, ""),
            ]
        ),
    ],
)  # fmt: skip
def test_a_bad_value_is_a_one_line_config_error(
    middleware: Any, keywords: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        middleware(unused_app, "no-build-needed", **keywords)
    assert str(info.value) == message
