"""The staticserve demo: a small Starlette site (and its Flask twin) serving a staticserve build.

``python -m demo_app`` builds the assets when they changed, then serves on http://127.0.0.1:8000.
"""
