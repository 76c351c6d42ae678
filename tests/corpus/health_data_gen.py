"""The health scenario generator, under its test-side name.

It lives in the package (``custodes.demo.health_data``) because ``custodes demo`` ships a
poisoned user-generated batch built by it; tests and benchmarks import it from here.

    python tests/corpus/health_data_gen.py OUT --reference-rows N --batch-rows M --seed S
"""

from __future__ import annotations

import sys

from custodes.demo.health_data import *  # noqa: F403 - the generator's public names
from custodes.demo.health_data import main

if __name__ == "__main__":
    sys.exit(main())
