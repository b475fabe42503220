"""Telling a refused Milvus client from an unreachable server, from the exception chain alone."""

from __future__ import annotations

import grpc
import pytest

from config.errors import ConfigError
from workers.gallery.vectors import check_access, refusal


class RpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str):
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def chained(outer: Exception, inner: BaseException) -> Exception:
    outer.__cause__ = inner
    return outer


def test_a_rejected_token_under_a_generic_error_is_found() -> None:
    exc = chained(
        RuntimeError("server unavailable"), RpcError(grpc.StatusCode.UNAUTHENTICATED, "x")
    )
    assert refusal(exc) == "unauthenticated: x"


def test_an_unreachable_server_is_not_a_refusal() -> None:
    assert (
        refusal(chained(RuntimeError("down"), RpcError(grpc.StatusCode.UNAVAILABLE, "no"))) is None
    )
    assert refusal(ValueError("plain")) is None


def test_a_looping_exception_chain_ends() -> None:
    a, b = RuntimeError("a"), RuntimeError("b")
    a.__context__, b.__context__ = b, a
    assert refusal(a) is None


def test_check_access_names_the_operation() -> None:
    denied = RpcError(grpc.StatusCode.PERMISSION_DENIED, "PrivilegeSearch: permission deny to bob")
    with pytest.raises(ConfigError, match="refused a search of faces_x: .* got permission denied"):
        check_access(denied, "a search of faces_x")
    check_access(RuntimeError("down"), "a search")  # not a refusal: nothing raised
