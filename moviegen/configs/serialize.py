"""Typed configs to JSON and back, for checkpoints and model cards (no pickle anywhere).

:func:`config_to_dict` turns a (nested) frozen dataclass into plain JSON values: enums by value, tuples as lists.
:func:`config_from_dict` rebuilds it from the class's type hints, so a checkpoint's ``config.json`` restores exactly the
config it was trained with, and unknown or missing keys are reported by name.
"""

import dataclasses
import enum
import types
import typing
from typing import Any, TypeVar

_C = TypeVar("_C")


def config_to_dict(cfg: Any) -> Any:
    """A dataclass (or enum, tuple, list, dict, scalar) as JSON-ready values."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, enum.Enum):
        return cfg.value
    if isinstance(cfg, (tuple, list)):
        return [config_to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {str(k.value if isinstance(k, enum.Enum) else k): config_to_dict(v) for k, v in cfg.items()}
    return cfg


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except (TypeError, ValueError) as err:
                errors.append(str(err))
        raise ValueError(f"{where}: {value!r} matches none of {tp}: {errors}")
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin is list:
        (arg,) = typing.get_args(tp)
        return [_convert(arg, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        key_tp, val_tp = typing.get_args(tp)
        return {_convert(key_tp, k, where): _convert(val_tp, v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return config_from_dict(tp, value, where=where)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    if tp is float and isinstance(value, int):
        return float(value)
    if tp in (int, float, str, bool) and not isinstance(value, tp):
        raise ValueError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def config_from_dict(cls: type[_C], data: dict[str, Any], *, where: str | None = None) -> _C:
    """Rebuild ``cls`` from :func:`config_to_dict` output.

    Raises:
        ValueError: unknown keys, or values of the wrong type (the message gives the dotted key path).
    """
    where = where or cls.__name__
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object for {cls.__name__}, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - fields
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; {cls.__name__} has {sorted(fields)}")
    kwargs = {name: _convert(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    return cls(**kwargs)
