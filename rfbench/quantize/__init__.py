"""Post-training INT8 quantization of RetinaFace models (``rfbench quantize``).

Calibrated on WIDER images through eval's own pre-processing (:mod:`.calibration`); NNCF for
OpenVINO or ONNX Runtime's ``quantize_static``; a provenance sidecar beside every model.
"""
