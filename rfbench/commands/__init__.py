"""One module per ``rfbench`` sub-command; each exposes ``register(subparsers)``."""
