"""Post-training INT8 quantization of RetinaFace models (``rfbench quantize``).

Calibration images are drawn reproducibly from a WIDER data root and fed through rfbench's own
OMZ-exact pre-processing, so the quantizer sees exactly the tensors ``rfbench eval`` feeds.
Two quantizers: NNCF for OpenVINO (an IR out) and ONNX Runtime's ``quantize_static`` (a QDQ
ONNX model out). Every quantized model carries a provenance sidecar beside it.
"""
