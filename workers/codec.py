"""msgpack on the wire, numpy arrays as an extension type. Never pickle.

An array travels as ExtType(ARRAY_EXT, msgpack([dtype.str, shape, raw bytes])), so
a message is self-describing and any msgpack reader can at least skip it.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

from config.errors import MessageError

ARRAY_EXT = 1
_ALLOWED_DTYPES = {"<f4", "<f8", "<i4", "<i8", "|u1", "|b1", "<u2", "<f2"}


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        arr = (
            obj if obj.flags.c_contiguous else obj.copy(order="C")
        )  # (ascontiguousarray makes 0-d 1-d)
        if arr.dtype.str not in _ALLOWED_DTYPES:
            raise MessageError(
                f"array dtype: expected one of {sorted(_ALLOWED_DTYPES)}, got {arr.dtype.str}"
            )
        return msgpack.ExtType(
            ARRAY_EXT, msgpack.packb([arr.dtype.str, list(arr.shape), arr.tobytes()])
        )
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot encode {type(obj).__name__}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code != ARRAY_EXT:
        raise MessageError(f"msgpack ext type: expected {ARRAY_EXT}, got {code}")
    try:
        dtype, shape, raw = msgpack.unpackb(data)
    except Exception as exc:
        raise MessageError(f"array payload: undecodable ({exc})") from exc
    if dtype not in _ALLOWED_DTYPES:
        raise MessageError(f"array dtype: expected one of {sorted(_ALLOWED_DTYPES)}, got {dtype!r}")
    try:
        return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape)
    except (ValueError, TypeError) as exc:
        raise MessageError(
            f"array shape {shape!r} does not fit {len(raw)} bytes of {dtype}"
        ) from exc


def encode(obj: Any) -> bytes:
    return msgpack.packb(obj, default=_default, use_bin_type=True)


def decode(data: bytes) -> Any:
    try:
        return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except MessageError:
        raise
    except Exception as exc:  # msgpack raises a zoo of types on garbage
        raise MessageError(f"payload: not valid msgpack ({type(exc).__name__}: {exc})") from exc
