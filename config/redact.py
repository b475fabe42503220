"""Keep secrets out of logs, status output, metrics and error messages: the one redactor.

Two nets: URLs lose their ``user:password@`` part and the values of
credential-like query parameters (:data:`SECRET_PARAMS`) wherever they are
shown (:func:`redact_url`), and every secret value the process knows about
(the Redis password, the Milvus token, camera credentials) is registered here
and scrubbed from any text, including every log record (:class:`SecretFilter`).
Nothing else in facestream masks URLs: everything that shows one imports this.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import unquote, unquote_plus, urlsplit

MASK = "***"
# query (or fragment) parameters whose value is a credential, compared case-insensitively with the
# whole name and with each of its parts ("api_key", "access_token", "X-Amz-Signature" count too)
SECRET_PARAMS = frozenset(
    {
        "pwd",
        "pass",
        "password",
        "passwd",
        "key",
        "apikey",
        "token",
        "secret",
        "auth",
        "sig",
        "signature",
        "authorization",
        "credential",
        "credentials",
    }
)
# userinfo runs to the last "@" before the path: a password with a raw "@" is masked whole
_USERINFO = re.compile(r"(?<=://)[^/\s]*@")
# name=value after "?", "&" or "#"; the value ends at "&", "#", whitespace, a double quote, or a
# single quote that closes a quoted URL in a message (a quote inside a value is kept and masked)
_PARAM = re.compile(r"""([?&#])([^=&#?\s"']+)=((?:[^&#\s"']|'(?![\s:,;)\]}]|$))*)""")
_PART = re.compile(r"[^a-z0-9]+")
_secrets: set[str] = set()
_lock = threading.Lock()


def is_secret_param(name: str) -> bool:
    """True for a query parameter carrying a credential: ``pwd``, ``apiKey``, ``access_token``."""
    low = unquote(name).lower()
    return low in SECRET_PARAMS or any(part in SECRET_PARAMS for part in _PART.split(low))


def register(*values: object) -> None:
    """Remember secret values (3+ characters) so that :func:`scrub` removes them from any text."""
    with _lock:
        for value in values:
            text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            if isinstance(text, str) and len(text) >= 3:
                _secrets.add(text)


def register_url(url: str | None) -> None:
    """Register the password and the secret query values of a URL, as written and decoded."""
    if not url or "://" not in url:
        return
    try:
        password = urlsplit(url).password
    except ValueError:  # a malformed netloc (bad IPv6 brackets): still masked when shown
        password = None
    if password:
        register(password, unquote(password))
    for _, key, value in _PARAM.findall(url):
        if is_secret_param(key):
            register(value, unquote_plus(value))


def redact_url(url: str | None) -> str:
    """The URL (or any text holding URLs) with userinfo and credential-like values masked."""
    if not url:
        return ""
    return _PARAM.sub(_mask_param, _USERINFO.sub(f"{MASK}@", url))


def _mask_param(match: re.Match[str]) -> str:
    sep, name, value = match.groups()
    return f"{sep}{name}={MASK}" if value and is_secret_param(name) else match.group(0)


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
