"""Shared test set-up: tests/ importable (for the NumPy reference), hypothesis profiles."""

import os
import sys
from pathlib import Path

from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

# CI must be repeatable: there hypothesis replays a fixed sequence of examples. Local runs
# keep exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")
