"""README.md stays true: every command, flag and config key is documented, and CI runs the
README's test command."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from monitor.cli import cli
from monitor.config import (
    Config,
    DigestConfig,
    EmailConfig,
    FetchConfig,
    SmtpConfig,
    SourceConfig,
    TopicConfig,
)

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found += commands(command, f"{full} ")
        else:
            found.append((full, command))
    return found


@pytest.mark.parametrize(("name", "command"), commands(cli), ids=[n for n, _ in commands(cli)])
def test_every_command_and_flag_is_in_the_readme(name: str, command: click.Command) -> None:
    assert f"`monitor {name}" in README, name
    for param in command.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--"):
                assert opt in README, f"{name} {opt}"


@pytest.mark.parametrize("model", [Config, FetchConfig, SourceConfig, TopicConfig, DigestConfig, EmailConfig,
                                   SmtpConfig],
                         ids=lambda m: m.__name__)
def test_every_config_key_is_in_the_readme(model: type) -> None:
    for name, field in model.model_fields.items():
        if name == "path":
            continue
        key = field.alias or name
        assert re.search(rf"(^\s*-?\s*|[{{,]\s*){key}:", README, re.MULTILINE), key


def test_ci_runs_the_readme_test_command() -> None:
    block = re.search(r"<!-- test-command -->\n```sh\n(.+?)\n```\n<!-- /test-command -->", README, re.DOTALL)
    assert block, "README must mark its test command"
    assert "test-command" in (ROOT / ".ci" / "run").read_text()
