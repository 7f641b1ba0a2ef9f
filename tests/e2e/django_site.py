"""A real Django project for the browser tests, written into a folder: ``startproject``'s
settings with ``django.contrib.admin`` and Django REST framework, an sqlite database with a
superuser, and the static files built into ``STATIC_ROOT``.

``STATICSERVE_MODE`` picks how it serves: ``middleware`` (``StaticServeMiddleware`` right after
``SecurityMiddleware``) or ``wrapper`` (``wrap_wsgi``/``wrap_asgi`` in ``wsgi.py``/``asgi.py``).
Nothing in ``settings.py`` is staticserve's but the app, the middleware line and the storage
(``ManifestStorage``, which ``collectstatic`` builds with): the middleware reads
``STATIC_ROOT`` and ``STATIC_URL``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

USERNAME = "admin"
PASSWORD = "correct horse battery staple"

SETTINGS = """
import os
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "browser test only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = [
    "staticserve.integrations.django",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
]
SERVED_BY_MIDDLEWARE = os.environ.get("STATICSERVE_MODE", "middleware") == "middleware"
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    *(["staticserve.integrations.django.StaticServeMiddleware"] if SERVED_BY_MIDDLEWARE else []),
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "proj.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "staticserve.integrations.django.ManifestStorage"},
}
"""

URLS = """
from django.contrib import admin
from django.contrib.auth.models import User
from django.urls import include, path
from rest_framework import routers, serializers, viewsets


class UserSerializer(serializers.HyperlinkedModelSerializer):
    class Meta:
        model = User
        fields = ["url", "username", "email", "is_staff"]


class UserViewSet(viewsets.ModelViewSet):
    queryset = User.objects.all().order_by("id")
    serializer_class = UserSerializer


router = routers.DefaultRouter()
router.register("users", UserViewSet)
urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(router.urls)),
    path("api-auth/", include("rest_framework.urls")),
]
"""

ENTRY = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
from django.core.{kind} import get_{kind}_application
application = get_{kind}_application()
if os.environ.get("STATICSERVE_MODE") == "wrapper":
    from staticserve.integrations.django import wrap_{kind}
    application = wrap_{kind}(application)
"""


def environment(root: Path, mode: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), *sys.path])
    env["DJANGO_SETTINGS_MODULE"] = "proj.settings"
    env["STATICSERVE_MODE"] = mode
    env["PYTHONUNBUFFERED"] = "1"
    return env


def manage(root: Path, *arguments: str, **extra_env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "django", *arguments],
        cwd=root,
        env={**environment(root, "middleware"), **extra_env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"manage.py {' '.join(arguments)}:\n{result.stderr}"
    return result.stdout


def create(root: Path) -> None:
    """The project, its database with a superuser, and its static files built."""
    (root / "proj").mkdir(parents=True)
    files = {
        "proj/__init__.py": "",
        "proj/settings.py": SETTINGS,
        "proj/urls.py": URLS,
        "proj/wsgi.py": ENTRY.format(kind="wsgi"),
        "proj/asgi.py": ENTRY.format(kind="asgi"),
    }
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    manage(root, "migrate", "--noinput", "-v", "0")
    manage(
        root,
        "createsuperuser",
        "--noinput",
        "--username",
        USERNAME,
        "--email",
        "admin@example.com",
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
    )
    # What a deploy runs: collectstatic builds with ManifestStorage into STATIC_ROOT.
    manage(root, "collectstatic", "--noinput", "-v", "0")
