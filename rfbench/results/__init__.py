"""Result records: one definition per kind, their JSON Schema, the one writer and reader.

:mod:`~rfbench.results.record` (header and shared parts, schema version),
:mod:`~rfbench.results.eval_record`, :mod:`~rfbench.results.latency_record`,
:mod:`~rfbench.results.profile_record` (the kinds), :mod:`~rfbench.results.kinds` (the
registry, reading a record back), :mod:`~rfbench.results.schema` (``docs/results.schema.json``),
:mod:`~rfbench.results.writer` (results.json / results.csv, output folders) and
:mod:`~rfbench.results.environment` (the machine a result was measured on).
"""
