"""Allow ``python -m rfbench``."""

from rfbench.cli import main

raise SystemExit(main())
