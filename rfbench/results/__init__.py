"""Result records: one definition per kind, their JSON Schema, the one writer and reader.

One module per record kind (``*_record.py``), registered in :mod:`~rfbench.results.kinds`.
"""
