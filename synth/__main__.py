"""`python -m synth` runs the `neural-strings` command line."""

import sys

from synth.cli import main

sys.exit(main())
