"""Entry point of the `perceiver-hf` command: parse the arguments before torch and transformers are imported.

`import perceiver_hf` normally imports the models and registers them with transformers (seconds). This module
tells the package to defer that, so `perceiver-hf --help` and argument errors answer at once;
`perceiver_hf.cli.main` calls `perceiver_hf.load()` before a subcommand runs.
"""

import sys
from typing import Optional, Sequence

DEFER_LOADING = True


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run `perceiver-hf` (see `perceiver_hf.cli.main`)."""
    from perceiver_hf.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
