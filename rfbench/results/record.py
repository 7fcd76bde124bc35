"""What every ``results.json`` holds: the schema version, the header fields and the shared parts.

Records are pydantic 2 models, not dataclasses, because one definition then gives all three
things the results need: validation when a record is written (a builder that forgets a field
or passes a wrong type fails in the tests, not in a report months later), validation when the
report reads a folder (one-line errors naming the file), and the JSON Schema that
``docs/results.schema.json`` ships (:mod:`rfbench.results.schema`). Dataclasses would need a
hand-written validator and schema generator that could drift from the classes.

Conventions of every record model:

- ``strict``: no silent coercion, so a record's JSON is exactly what its builder computed
  (an int stays an int, a float a float: :data:`Real` fields keep both).
- ``extra="forbid"``: every field is declared here, once; :class:`OpenPart` (``extra="allow"``)
  is only for parts that a plug-in may extend (a runtime adapter's description).
- A field that some records omit (not null: absent) has a default and is written with
  ``exclude_unset``, so absent stays absent and the field order is the declaration order.

Versions: 1 was the hand-assembled dicts before these models; 2 is the same fields defined
here, except that a latency record's ``stop_rule`` changed meaning (a time or iteration budget
ends the run; the minimums only judge validity; see ``latency_record.StopRule``). Records of
both versions read through the same models.
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, WithJsonSchema
from typing_extensions import Self

from rfbench import __version__

#: Version written into every new record.
SCHEMA_VERSION = 2
#: Versions the report reads (all share the field definitions of this package).
READABLE_VERSIONS = (1, 2)
SchemaVersion = Literal[1, 2]

#: A JSON number that keeps Python's int/float distinction (``5`` stays ``5``, not ``5.0``).
Real = Annotated[int | float, WithJsonSchema({"type": "number"})]
#: A number that may be missing (NaN and inf are written as null).
OptReal = Annotated[int | float | None, WithJsonSchema({"type": ["number", "null"]})]


class Part(BaseModel):
    """A closed part of a record: declared fields only, no coercion."""

    model_config = ConfigDict(strict=True, extra="forbid", defer_build=True)


class OpenPart(BaseModel):
    """A part that plug-ins may extend with fields of their own (kept, after the declared ones)."""

    model_config = ConfigDict(strict=True, extra="allow", defer_build=True)


class Environment(Part):
    """Machine and software a result was measured on (see :mod:`rfbench.results.environment`)."""

    cpu_model: str
    cpu_count_logical: int | None
    cpu_count_usable: int | None
    os: str
    python_version: str
    hostname: str
    packages: dict[str, str | None]  # distribution name -> version (None: not installed)
    loadavg_1min: OptReal


class Tensor(Part):
    """A model input or output as the runtime reports it; None dimensions are dynamic."""

    name: str
    shape: list[int | None]
    dtype: str


class PixelFormat(Part):
    """Network input pixels: ``(pixel - mean) / scale`` per channel, in ``channel_order``."""

    channel_order: str
    mean: list[Real]
    scale: list[Real]


class OutputLayout(Part):
    """Decoder layout ``A`` (insightface heads) or ``B`` (biubug6) and its output names by role."""

    kind: str
    names: dict[str, str]


def shape_text(shape: Sequence[int | None]) -> str:
    """``[1, 3, 640, 640]`` -> ``"1x3x640x640"`` (``?`` for a dynamic dimension)."""
    return "x".join("?" if d is None else str(d) for d in shape)


class ResultRecord(Part):
    """Header of every record; a kind subclasses it with ``kind: Literal[...]`` and its fields.

    Subclasses also define :meth:`csv_rows`, the tidy rows of ``results.csv``, from the record
    itself (so the CSV cannot say something the JSON does not).
    """

    KIND: ClassVar[str] = ""

    schema_version: SchemaVersion
    kind: str
    rfbench_version: str
    created_utc: str  # ISO 8601, seconds, UTC
    command_line: str
    environment: Environment

    @classmethod
    def build(cls, header: dict[str, Any], **fields: Any) -> Self:
        """A new record from :func:`record_header` and the kind's fields, validated.

        Values are made plain JSON first (numpy scalars and arrays, tuples, paths; NaN and
        inf become null), exactly as ``results.json`` will hold them.
        """
        return cls.model_validate(to_jsonable({**header, **fields}))

    def csv_rows(self) -> list[dict[str, Any]]:
        """Rows of ``results.csv``; every kind defines its own."""
        raise NotImplementedError(f"{type(self).__name__} defines no results.csv rows")

    def to_json_dict(self) -> dict[str, Any]:
        """The record as ``results.json`` holds it (absent optional fields stay absent)."""
        return self.model_dump(mode="json", exclude_unset=True)


def record_header(kind: str) -> dict[str, Any]:
    """Header fields of a new record of ``kind``: version, time, command line, environment."""
    from rfbench.results.environment import describe_environment

    return {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "rfbench_version": __version__,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command_line": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "environment": describe_environment(),
    }


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and paths to plain JSON types; NaN and inf become None."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value
