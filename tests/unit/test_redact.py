"""The one redactor's rules (config/redact.py): userinfo and credential-like query parameters."""

from __future__ import annotations

import logging

import pytest

from config import redact
from config.redact import MASK, SECRET_PARAMS, is_secret_param, redact_url, register_url, scrub

SECRET = "hunter2xyz"
NAMED = ["pwd", "pass", "password", "passwd", "key", "apikey", "token", "secret", "auth", "sig"]


@pytest.mark.parametrize("name", NAMED + [n.upper() for n in NAMED] + ["ApiKey", "Pwd", "PassWord"])
def test_every_credential_parameter_is_masked_in_any_case(name: str) -> None:
    url = f"rtsp://cam/s1?user=admin&{name}={SECRET}&channel=2"
    assert redact_url(url) == f"rtsp://cam/s1?user=admin&{name}={MASK}&channel=2"


def test_the_named_parameters_are_all_in_the_table() -> None:
    assert set(NAMED) <= SECRET_PARAMS


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "access_token",
        "X-Amz-Signature",
        "stream.key",
        "auth_token",
        "client_secret",
        "Authorization",
        "api%5Fkey",
    ],
)
def test_names_with_a_credential_part_are_masked(name: str) -> None:
    assert is_secret_param(name)
    assert SECRET not in redact_url(f"https://h/v.m3u8?{name}={SECRET}")


@pytest.mark.parametrize(
    "name", ["user", "channel", "keyframe", "passthrough", "monkey", "subtype", "tokens2"]
)
def test_ordinary_parameters_are_kept(name: str) -> None:
    assert not is_secret_param(name)
    assert redact_url(f"rtsp://cam/s1?{name}=abc") == f"rtsp://cam/s1?{name}=abc"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:hunter2@10.0.0.7:554/s1", "rtsp://***@10.0.0.7:554/s1"),
        ("rtsp://admin@10.0.0.7/s1", "rtsp://***@10.0.0.7/s1"),
        ("rtsp://admin:p@ss@10.0.0.7/s1", "rtsp://***@10.0.0.7/s1"),  # a raw "@" in the password
        ("redis://:pw%40x@127.0.0.1:6379/0", "redis://***@127.0.0.1:6379/0"),
        ("rtsp://u:p@cam/s?pwd=x&token=y", "rtsp://***@cam/s?pwd=***&token=***"),
        ("https://cam/live.m3u8#token=abc", "https://cam/live.m3u8#token=***"),
        ("rtsp://cam/s1?pwd=", "rtsp://cam/s1?pwd="),
        ("rtsp://cam/s1", "rtsp://cam/s1"),
        ("/videos/clip.mp4", "/videos/clip.mp4"),
        ("0", "0"),
    ],
)
def test_urls(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_empty_and_none() -> None:
    assert redact_url(None) == "" and redact_url("") == ""


def test_urls_inside_messages_keep_the_text_around_them() -> None:
    text = (
        "source 'rtsp://cam/s1?user=admin&pwd=hunter2': cannot open; "
        "next http://a:b@h/x?Sig=zz9 done"
    )
    assert redact_url(text) == (
        "source 'rtsp://cam/s1?user=admin&pwd=***': cannot open; next http://***@h/x?Sig=*** done"
    )
    quoted = redact_url(f"{text!r}")  # repr() of a message: the same three values masked
    assert quoted.count(MASK) == 3 and not any(s in quoted for s in ("hunter2", ":b@", "zz9"))
    assert (
        redact_url("it's fine: http://h/?token=it'sa'secret&x=1")
        == "it's fine: http://h/?token=***&x=1"
    )


def test_redaction_is_idempotent() -> None:
    once = redact_url(f"rtsp://u:{SECRET}@cam/s1?pwd={SECRET}&apikey={SECRET}")
    assert redact_url(once) == once and SECRET not in once


def test_register_url_registers_userinfo_and_parameter_secrets_decoded_too() -> None:
    register_url("rtsp://u:Pa%2Fss77@cam/s1?user=admin&PWD=QsSecret%2B1&x=keep123")
    cleaned = scrub("leaked Pa/ss77 and QsSecret+1 and QsSecret%2B1, kept keep123")
    assert cleaned == f"leaked {MASK} and {MASK} and {MASK}, kept keep123"


def test_log_records_are_scrubbed_of_query_credentials() -> None:
    record = logging.LogRecord(
        "x",
        logging.ERROR,
        __file__,
        1,
        "camera %s failed",
        ("rtsp://cam/s1?user=admin&pwd=hunter2&apiKey=k3y9",),
        None,
    )
    assert redact.SecretFilter().filter(record)
    assert record.getMessage() == "camera rtsp://cam/s1?user=admin&pwd=***&apiKey=*** failed"
