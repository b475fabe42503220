"""docs/configuration.md is what config.docgen prints from the settings' own descriptions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from config import docgen

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "configuration.md"


def test_committed_page_is_what_the_generator_prints():
    expected = docgen.render()
    actual = PAGE.read_text() if PAGE.exists() else ""
    assert actual == expected, (
        f"{PAGE.relative_to(ROOT)} is stale: expected the output of the generator, got a page that "
        f"differs from it; regenerate it with `{docgen.REGENERATE}`"
    )


def test_every_setting_has_a_description():
    missing = docgen.missing_descriptions()
    assert not missing, f"settings without description=: {missing}; add one in config/settings.py"


def test_every_setting_is_on_the_page():
    page = docgen.render()
    for name in docgen.Settings.model_fields:
        assert f"`FACESTREAM_{name.upper()}`" in page or name in page, name


def test_module_runs_as_documented():
    done = subprocess.run(
        [sys.executable, "-m", "config.docgen"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == docgen.render()


class Tracking(BaseModel):
    """How faces are followed between detections."""

    max_lost_s: float = Field(1.0, gt=0.0, description="a track unseen this long | ends")
    mode: Literal["face", "iou"] = Field("face", description="which tracker")


class Nested(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_", env_nested_delimiter="__")

    token: SecretStr | None = Field(None, description="a secret")
    half: bool = Field(True, description="fp16")
    tracking: Tracking = Field(default_factory=Tracking, description="tracking section")


def test_nested_sections_get_their_own_table_and_env_names():
    page = docgen.render(Nested)
    assert "## Settings" in page and "## tracking" in page
    assert "How faces are followed between detections." in page
    assert "| `max_lost_s` | `APP_TRACKING__MAX_LOST_S` | float, > 0.0 | `1.0` |" in page
    assert "a track unseen this long \\| ends" in page  # a pipe would split the table row
    assert '| `mode` | `APP_TRACKING__MODE` | "face" \\| "iou" | `face` |' in page
    assert "| `token` | `APP_TOKEN` | secret or unset | unset | a secret |" in page
    assert "| `half` | `APP_HALF` | bool | `true` | fp16 |" in page
    assert "`APP_TRACKING`" not in page  # the section itself is not a row
    assert docgen.missing_descriptions(Nested) == []


def test_missing_descriptions_name_the_dotted_field():
    class Bare(BaseModel):
        n: int = 3

    class Outer(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="X_", env_nested_delimiter="__")
        inner: Bare = Field(default_factory=Bare)

    assert docgen.missing_descriptions(Outer) == ["inner.n"]
