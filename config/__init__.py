"""Typed settings for every facestream process (env prefix FACESTREAM_)."""

from config.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]
