"""The ONNX Runtime adapter."""
