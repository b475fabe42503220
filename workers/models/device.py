"""Pick the torch device and thread count once per process."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def resolve_device(setting: str = "auto", threads: int = 0) -> str:
    import torch  # heavy: imported only by processes that run models

    if threads > 0:
        torch.set_num_threads(threads)
    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda") and not torch.cuda.is_available():
        from config.errors import ConfigError

        raise ConfigError(
            f"device: expected a usable GPU for {setting!r}, but torch sees no CUDA device"
        )
    return setting
