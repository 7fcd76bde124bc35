"""``rfbench import``: published RetinaFace checkpoints as ONNX / OpenVINO IR, no framework needed.

One module per step: :mod:`.formats` (detect), :mod:`.mxnet_params` / :mod:`.mxnet_symbol` /
:mod:`.torch_pickle` (read), :mod:`.mxnet_graph` / :mod:`.pytorch_retinaface` (translate),
:mod:`.onnx_graph` and :mod:`.convert` (write), :mod:`.cache` (``--model`` given a checkpoint).
"""
