"""The commands the README and the guide tell a storefront owner to run exist in the installed
package: ``flask addon ...``, not the repository's ``worker.py``."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from addon.cli import addon_cli

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "docs" / "mounting.md", ROOT / "docs" / "settings.md"]
# "flask [--app yourapp] addon <command> [<subcommand>]"
COMMAND = re.compile(r"flask (?:--app \S+ )?addon ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)")


def mentioned_commands() -> set[tuple[str, str]]:
    return {(page.name, match) for page in PAGES for match in COMMAND.findall(page.read_text())}


@pytest.mark.parametrize("page, words", sorted(mentioned_commands()))
def test_each_flask_addon_command_in_the_docs_exists(page, words):
    command: click.Command = addon_cli
    for word in words.split():
        if not isinstance(command, click.Group) or word not in command.commands:
            break  # the words after the command are its arguments
        command = command.commands[word]
    assert command is not addon_cli, f"{page}: 'flask addon {words}' is not a command"


def test_the_readmes_instructions_for_an_installed_addon_run_flask_addon_worker():
    readme = (ROOT / "README.md").read_text()
    mounting = readme[readme.index("## Mount it in your storefront") :]
    mounting = mounting[: mounting.index("\n## ", 1)]

    assert "flask --app yourapp addon worker" in mounting
    for sentence in re.split(r"(?<=[.:])\s", mounting):
        if "worker.py" in sentence:  # the demo's worker: only where a clone is meant
            assert "clone" in sentence, sentence
