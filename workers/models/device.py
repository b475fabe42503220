"""Pick the torch device and thread count once per process, importing torch only where it runs.

torch costs ~470 MiB of resident memory and seconds of start-up per process. On a machine
without a GPU driver the answer to "auto" is "cpu" whatever torch would say, so it is given
without importing torch: the `run` command, and an embedder whose model is not a torch model
(dlib), then never load it.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

# what a CUDA (NVIDIA) or ROCm (AMD, also "cuda" to torch) device needs to exist for torch to
# see one: the driver's control files
_GPU_DRIVER_FILES = ("/dev/nvidiactl", "/proc/driver/nvidia", "/dev/kfd")
_threads = 0  # set by resolve_device, applied when torch is imported (torch_module)


def gpu_possible() -> bool:
    """False only when torch could not see a GPU: no driver files, or devices hidden."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return any(Path(p).exists() for p in _GPU_DRIVER_FILES)


def torch_module():
    """``import torch`` with this process's thread count applied (heavy: model code only)."""
    import torch

    if _threads > 0 and torch.get_num_threads() != _threads:
        torch.set_num_threads(_threads)
    return torch


def resolve_device(setting: str = "auto", threads: int = 0) -> str:
    global _threads
    if threads > 0:
        _threads = threads
        if "torch" in sys.modules:  # already loaded: apply now
            torch_module()
    if setting == "cpu" or (setting == "auto" and not gpu_possible()):
        return "cpu"
    torch = torch_module()
    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda") and not torch.cuda.is_available():
        from config.errors import ConfigError

        raise ConfigError(
            f"device: expected a usable GPU for {setting!r}, but torch sees no CUDA device"
        )
    return setting
