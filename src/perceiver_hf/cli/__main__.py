"""`python -m perceiver_hf.cli`."""

import sys

from . import main

sys.exit(main())
