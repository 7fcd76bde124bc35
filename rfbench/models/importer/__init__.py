"""``rfbench import``: published RetinaFace checkpoints as ONNX / OpenVINO IR, no framework needed.

- :mod:`.formats`: which checkpoint a file is (from its bytes) and its companion files;
- :mod:`.mxnet_params`, :mod:`.mxnet_symbol`: insightface's MXNet ``.params`` and ``symbol.json``;
- :mod:`.mxnet_ops` (one translation per MXNet operator) and :mod:`.mxnet_graph` (the graph);
- :mod:`.torch_pickle` (a restricted unpickler for ``.pth``) and :mod:`.pytorch_retinaface`
  (Pytorch_Retinaface's network rebuilt from the state dict's keys);
- :mod:`.onnx_graph`: the ONNX builder and a writer that streams the weights;
- :mod:`.convert`: checkpoint -> model file with its pixel format declared;
- :mod:`.cache`: a checkpoint given as ``--model`` imported once into the user cache.
"""
