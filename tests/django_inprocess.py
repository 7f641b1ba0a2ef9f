"""Django configured in this test process, once, for the in-process integration tests.

``configure()`` sets up a minimal project (this module is its URLconf): the staticserve app
before ``django.contrib.staticfiles``, and ``StaticServeMiddleware`` right after
``SecurityMiddleware``. Tests change settings with ``override_settings``; the integration
forgets its serving object whenever a setting it reads changes.
"""

from __future__ import annotations

from typing import Any

SECURITY = "django.middleware.security.SecurityMiddleware"
MIDDLEWARE_ENTRY = "staticserve.integrations.django.StaticServeMiddleware"


def ping(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse(b"pong " + request.path.encode(), content_type="text/plain")


def configure() -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="test only",
        ALLOWED_HOSTS=["testserver", "127.0.0.1"],
        INSTALLED_APPS=[
            "staticserve.integrations.django",
            "django.contrib.staticfiles",
            "django.contrib.contenttypes",
        ],
        MIDDLEWARE=[MIDDLEWARE_ENTRY],
        ROOT_URLCONF=__name__,
        STATIC_URL="/static/",
        STATIC_ROOT=None,
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
    )
    django.setup()


def _urls() -> list[Any]:
    from django.urls import re_path

    return [re_path(r"", ping)]


def __getattr__(name: str) -> Any:  # the URLconf's urlpatterns, made once Django is set up
    if name == "urlpatterns":
        return _urls()
    raise AttributeError(name)
