"""`python -m benchmarks.overhead`: see benchmarks/overhead/cli.py."""

import sys

from benchmarks.overhead.cli import main

sys.exit(main())
