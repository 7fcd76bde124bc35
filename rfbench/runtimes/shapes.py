"""Input shapes given to an adapter: the ``input_shape`` argument per input, merged with the
model's declared shapes (dynamic dimensions as None)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rfbench.errors import RfbenchError


def normalise_input_shapes(
    input_shape: Sequence[int] | Mapping[str, Sequence[int]] | None,
    input_names: Sequence[str],
    model_name: str,
) -> dict[str, tuple[int, ...]]:
    """Turn the ``input_shape`` argument into ``{input name: shape tuple}`` (may be empty)."""
    if input_shape is None:
        return {}
    if isinstance(input_shape, Mapping):
        unknown = sorted(set(input_shape) - set(input_names))
        if unknown:
            raise RfbenchError(
                f"{model_name}: input_shape names {unknown} not among the inputs {list(input_names)}"
            )
        shapes = {k: tuple(int(d) for d in v) for k, v in input_shape.items()}
    else:
        if len(input_names) != 1:
            raise RfbenchError(
                f"{model_name}: has {len(input_names)} inputs {list(input_names)}; "
                "give input_shape per input name"
            )
        shapes = {input_names[0]: tuple(int(d) for d in input_shape)}
    for name, shape in shapes.items():
        if not shape or any(d <= 0 and d != -1 for d in shape):
            raise RfbenchError(f"{model_name}: input_shape {list(shape)} for '{name}' is not valid")
    return shapes


def merge_shape(
    declared: Sequence[int | None], requested: Sequence[int] | None, name: str, model_name: str
) -> tuple[int | None, ...]:
    """Fill a declared shape's dynamic dims (None) from ``requested``; check fixed dims agree.

    A requested ``-1`` keeps a dynamic dim dynamic (None in the result).
    """
    declared = tuple(declared)
    if requested is None:
        return declared
    if not fits(declared, requested):
        raise RfbenchError(
            f"{model_name}: input_shape {list(requested)} does not fit input '{name}' "
            f"of shape {shape_str(declared)}"
        )
    return tuple(None if r == -1 else int(r) for r in requested)


def fixed_input_shapes(
    declared: Mapping[str, Sequence[int | None]],
    input_shape: Sequence[int] | Mapping[str, Sequence[int]] | None,
    model_name: str,
    shown: Mapping[str, Sequence[object]] | None = None,
) -> dict[str, tuple[int | None, ...]]:
    """``{input name: shape}``: each declared shape (dynamic dims None) merged with the
    ``input_shape`` argument (:func:`merge_shape`).

    RfbenchError for an input still dynamic that the request does not keep dynamic on purpose
    (-1); the message writes its declared shape as ``shown`` does (default ``declared``).
    """
    wanted = normalise_input_shapes(input_shape, list(declared), model_name)
    shapes = {}
    for name, dims in declared.items():
        requested = wanted.get(name)
        shapes[name] = merge_shape(dims, requested, name, model_name)
        if None in shapes[name] and not (requested is not None and -1 in requested):
            text = list((shown or declared)[name])
            raise RfbenchError(f"{model_name}: input '{name}' has a dynamic shape {text}; "
                               "give an input shape such as 1x3x640x640")
    return shapes


def fits(declared: Sequence[int | None], shape: Sequence[int]) -> bool:
    """Whether ``shape`` has the rank of ``declared`` and its every fixed (not None) dim."""
    return len(shape) == len(declared) and all(
        d is None or d == s for d, s in zip(declared, shape, strict=True)
    )


def shape_str(shape: Sequence[int | None]) -> str:
    """``[1,3,?,?]``: a shape with dynamic dimensions as ``?``."""
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


