"""The standard benchmark task from shared/DESIGN.md (same as ``chainrule bench``).

    python benchmarks/standard_task.py [--configs small-32,large-256] [--rounds 3]
"""

import sys

from chainrule.bench import main

if __name__ == "__main__":
    sys.exit(main())
