"""FDDB beside WIDER: the folds and ellipse annotations, detection files, and the official
``evaluate`` program's discrete and continuous ROC (Jain & Learned-Miller), reproduced.

The command is :mod:`rfbench.commands.eval_fddb`; the report's ROC :mod:`rfbench.report.fddb_roc`.
"""
