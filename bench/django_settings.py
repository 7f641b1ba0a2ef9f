"""Minimal Django settings for the build benchmark: collectstatic with WhiteNoise's storage.

``BENCH_SOURCE`` is the corpus folder, ``BENCH_STATIC_ROOT`` the output; with
``BENCH_KEEP_ONLY_HASHED=1`` WhiteNoise compresses (and keeps) only the hashed copies.
"""

import os

SECRET_KEY = "benchmark-only"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.staticfiles"]
STATIC_URL = "/static/"
STATIC_ROOT = os.environ["BENCH_STATIC_ROOT"]
STATICFILES_DIRS = [os.environ["BENCH_SOURCE"]]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_KEEP_ONLY_HASHED_FILES = os.environ.get("BENCH_KEEP_ONLY_HASHED") == "1"
