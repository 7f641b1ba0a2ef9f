"""Management commands: ``collectstatic`` that runs staticserve's build."""
