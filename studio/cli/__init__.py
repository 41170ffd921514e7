"""The `studio` command: fit / validate / test (LightningCLI), sample and tag; nothing else imports this package."""

from studio.cli.commands import main

__all__ = ["main"]
