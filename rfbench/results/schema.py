"""The JSON Schema of ``results.json``, generated from the record definitions.

``python -m rfbench.results.schema`` writes it to ``docs/results.schema.json``;
``--check`` only compares and exits 1 when the file is stale (the tests do the same).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from rfbench.results.kinds import RECORD_KINDS
from rfbench.results.record import SCHEMA_VERSION

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "results.schema.json"


def results_json_schema() -> dict[str, Any]:
    """A draft 2020-12 schema: one of the registered kinds, told apart by ``kind``."""
    keys: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (cls, "validation") for cls in RECORD_KINDS.values()
    ]
    refs, top = models_json_schema(keys, ref_template="#/$defs/{model}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "rfbench results.json",
        "description": (
            f"A result record written by rfbench (schema version {SCHEMA_VERSION}; the report "
            "also reads version 1, which has the same fields). Generated from "
            "rfbench/results/*_record.py by `python -m rfbench.results.schema`; do not edit."
        ),
        "oneOf": [refs[key] for key in keys],
        "$defs": top["$defs"],
    }


def schema_text() -> str:
    """The schema as the committed file holds it (sorted keys, two-space indent)."""
    return json.dumps(results_json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rfbench.results.schema", description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH,
                        help=f"schema file (default: {DEFAULT_PATH})")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when the file differs from the definitions")
    args = parser.parse_args(argv)
    text = schema_text()
    current = args.path.read_text(encoding="utf-8") if args.path.is_file() else None
    if current == text:
        return 0
    if args.check:
        sys.stderr.write(f"{args.path} is stale: run python -m rfbench.results.schema\n")
        return 1
    args.path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
