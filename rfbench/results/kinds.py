"""The registry of record kinds, and reading a record back through its definition.

Adding a kind (say ``quantize``) is one module with its :class:`ResultRecord` subclass
(``KIND = "quantize"``, ``kind: Literal["quantize"]``, its fields and ``csv_rows``) and one
entry in :data:`RECORD_KINDS`; the writer, the reader and ``docs/results.schema.json``
(``python -m rfbench.results.schema``) then know it.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from rfbench.errors import RfbenchError
from rfbench.results.eval_record import EvalRecord
from rfbench.results.latency_record import LatencyRecord
from rfbench.results.profile_record import ProfileRecord
from rfbench.results.quantize_record import QuantizeRecord
from rfbench.results.record import READABLE_VERSIONS, ResultRecord
from rfbench.results.sweep_record import SweepRecord

#: kind -> its record definition, in the order the schema lists them.
RECORD_KINDS: dict[str, type[ResultRecord]] = {
    cls.KIND: cls for cls in (EvalRecord, LatencyRecord, ProfileRecord, QuantizeRecord, SweepRecord)
}


def parse_record(data: Any, where: str) -> ResultRecord:
    """Validate a decoded ``results.json`` against its kind's definition.

    ``where`` names the file in errors. Raises RfbenchError (one line) for a record that is
    not an object, has a schema version this rfbench does not read, an unknown kind, or a
    field that does not match its definition (the first such field is named).
    """
    if not isinstance(data, dict):
        raise RfbenchError(f"{where}: results must be a JSON object, not {type(data).__name__}")
    version = data.get("schema_version")
    if version not in READABLE_VERSIONS:
        readable = " and ".join(str(v) for v in READABLE_VERSIONS)
        raise RfbenchError(f"{where}: results schema version {version!r}, this rfbench reads {readable}")
    kind = data.get("kind")
    if kind not in RECORD_KINDS:
        raise RfbenchError(
            f"{where}: unknown results kind {kind!r} (expected one of {', '.join(RECORD_KINDS)})"
        )
    try:
        return RECORD_KINDS[kind].model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(record)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise RfbenchError(f"{where}: {kind} record field {field}: {first['msg']}{more}") from None
