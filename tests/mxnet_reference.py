"""Real MXNet's outputs of a checkpoint, for the importer's exactness test.

Run by the test under a separate Python that has ``mxnet==1.9.1`` (it needs numpy < 1.24, so it
cannot share rfbench's environment; ``.ci/run`` makes that environment and points
``RFBENCH_MXNET_PYTHON`` at it):

    python tests/mxnet_reference.py PREFIX EPOCH INPUTS.npz OUTPUTS.npz

``INPUTS.npz`` holds float32 ``1x3xHxW`` arrays (any names, any sizes); ``OUTPUTS.npz`` gets, for
each input ``k``, every head of the symbol as ``k/<head name>``. The graph is bound once per
input shape with ``mx.model.load_checkpoint`` and ``Module``, inference mode (``is_train=False``).
"""

from __future__ import annotations

import sys

import numpy as np


def main(prefix: str, epoch: int, inputs_path: str, outputs_path: str) -> None:
    import mxnet as mx

    symbol, args, aux = mx.model.load_checkpoint(prefix, epoch)
    heads = [name.removesuffix("_output") for name in symbol.list_outputs()]
    results: dict[str, np.ndarray] = {}
    with np.load(inputs_path) as inputs:
        for key in inputs.files:
            data = inputs[key]
            module = mx.mod.Module(symbol=symbol, data_names=["data"], label_names=None,
                                   context=mx.cpu())
            module.bind(data_shapes=[("data", data.shape)], for_training=False)
            module.set_params(args, aux, allow_missing=False)
            module.forward(mx.io.DataBatch([mx.nd.array(data)]), is_train=False)
            for head, out in zip(heads, module.get_outputs()):
                results[f"{key}/{head}"] = out.asnumpy()
    np.savez(outputs_path, **results)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
