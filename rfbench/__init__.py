"""rfbench: accuracy and speed of the RetinaFace face detector on your runtime and hardware."""

__version__ = "0.1.0"
