"""FDDB beside WIDER: the folds and ellipse annotations, detection files, and the official
``evaluate`` program's discrete and continuous ROC (Jain & Learned-Miller), reproduced.

- :mod:`.folds`: ``FDDB-folds/FDDB-fold-NN.txt`` + ``-ellipseList.txt`` (``--folds``);
- :mod:`.detections`: the detection text format (name, count, ``x y w h score`` lines);
- :mod:`.regions`: image sizes and the pixel-count overlap of ellipses and rectangles;
- :mod:`.evaluate`: per-image matching at every score threshold and the merged ROC.

The command is :mod:`rfbench.commands.eval_fddb`; the report's ROC :mod:`rfbench.report.fddb_roc`.
"""
