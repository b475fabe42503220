"""Keep secrets out of logs, status output, metrics and error messages.

Two nets: URLs lose their ``user:password@`` part wherever they are shown
(:func:`redact_url`), and every secret value the process knows about (the
Redis password, the Milvus token, camera credentials) is registered here and
scrubbed from any text, including every log record (:class:`SecretFilter`).
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "***"
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:password|passwd|token|secret|auth)=)[^&\s]*")
_secrets: set[str] = set()
_lock = threading.Lock()


def register(*values: object) -> None:
    """Remember secret values (3+ characters) so that :func:`scrub` removes them from any text."""
    with _lock:
        for value in values:
            text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            if isinstance(text, str) and len(text) >= 3:
                _secrets.add(text)


def register_url(url: str | None) -> None:
    """Register the password (and the decoded password) and secret query values found in a URL."""
    if not url or "://" not in url:
        return
    parts = urlsplit(url)
    if parts.password:
        register(parts.password, unquote(parts.password))
    for key, value in parse_qsl(parts.query):
        if key.lower() in ("password", "passwd", "token", "secret", "auth"):
            register(value)


def redact_url(url: str | None) -> str:
    """The URL with any userinfo and secret query values masked."""
    if not url:
        return ""
    return _QUERY_SECRET.sub(rf"\1{MASK}", _USERINFO.sub(f"{MASK}@", url))


def scrub(text: str) -> str:
    """Mask URL credentials and every registered secret in ``text``."""
    text = redact_url(text)
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class SecretFilter(logging.Filter):
    """Rewrites every record's message (args included) through :func:`scrub`."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's problem, not ours
            return True
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        record.msg, record.args = scrub(message), None
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Attach :class:`SecretFilter` to every handler of ``logger`` (the root logger by default)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())
