"""Model files: paths and hashes, input planning and pixel formats, the reference R50 graph."""
