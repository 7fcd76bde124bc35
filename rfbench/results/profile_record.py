"""The ``profile`` record: parameters, MACs and FLOPs of a model, each with its counting rule.

Every figure ``X`` has ``X_rule``, a key of ``rules`` (rule name -> what it counts); the
rules are those of :mod:`rfbench.complexity`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from rfbench.results.record import OptReal, Part, Real, ResultRecord


class OpTypeCost(Part):
    """Cost of all operations of one type (GFLOP, GMAC, weights)."""

    op_type: str
    count: int
    gflops_omz: Real
    gflops_model_analyzer_current: Real
    gmacs: Real
    params: int


#: The headline figures of a profile record, in record order (each also has ``<name>_rule``).
FIGURES = ("params", "mparams", "gmacs", "gflops_omz", "gflops_2x_macs",
           "gflops_model_analyzer_current")
#: Figures only a quantized model has (absent otherwise), after :data:`FIGURES`.
INT8_FIGURES = ("gmacs_int8", "int8_macs_share")


class ProfileRecord(ResultRecord):
    """``rfbench profile``: one results.csv row per figure, operation type, uncounted op."""

    KIND: ClassVar[str] = "profile"

    kind: Literal["profile"]
    model_path: str
    model_format: Literal["onnx", "openvino-ir"]
    model_sha256: str
    input_shapes: dict[str, list[int]]  # input name -> shape as profiled
    weights_sha256: str | None = None  # the IR's .bin, when there is one
    params: int
    params_rule: str
    mparams: Real
    mparams_rule: str
    gmacs: Real
    gmacs_rule: str
    gflops_omz: Real
    gflops_omz_rule: str
    gflops_2x_macs: Real
    gflops_2x_macs_rule: str
    gflops_model_analyzer_current: Real
    gflops_model_analyzer_current_rule: str
    gmacs_int8: Real | None = None  # MACs of convs/matmuls run in INT8 (quantized models)
    gmacs_int8_rule: str | None = None
    int8_macs_share: OptReal = None  # gmacs_int8 / gmacs, fraction
    int8_macs_share_rule: str | None = None
    rules: dict[str, str]  # rule name -> description
    breakdown: list[OpTypeCost]
    not_counted: dict[str, int]  # op type without a counting rule -> count

    def figure(self, name: str) -> tuple[Real, str]:
        """(value, rule name) of one of :data:`FIGURES` or :data:`INT8_FIGURES`."""
        return getattr(self, name), getattr(self, f"{name}_rule")

    def figure_names(self) -> list[str]:
        """:data:`FIGURES`, plus :data:`INT8_FIGURES` for a quantized model."""
        extra = [name for name in INT8_FIGURES if getattr(self, f"{name}_rule") is not None]
        return [*FIGURES, *extra]

    def csv_rows(self) -> list[dict[str, Any]]:
        """Tidy rows: one per figure (section 'figure'), one per operation type ('breakdown')."""
        rows: list[dict[str, Any]] = []
        for key in self.figure_names():
            value, rule = self.figure(key)
            rows.append({"section": "figure", "name": key, "value": value, "rule": rule,
                         "description": self.rules[rule]})
        for row in self.breakdown:
            rows.append({"section": "breakdown", "name": row.op_type,
                         **row.model_dump(mode="json", exclude={"op_type"})})
        for op_type, count in self.not_counted.items():
            rows.append({"section": "not_counted", "name": op_type, "count": count})
        return rows
