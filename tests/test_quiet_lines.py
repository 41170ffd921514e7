"""`studio` keeps Lightning's advertisement out of every run's output, and every other line in it."""

from __future__ import annotations

import logging

import pytest

from studio.cli.commands import main


def test_the_cloud_logger_tip_is_dropped_and_other_lines_kept(caplog: pytest.LogCaptureFixture, capsys) -> None:
    main(["--help"])  # every command installs the filter first
    capsys.readouterr()
    lightning = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    with caplog.at_level(logging.INFO):
        lightning.info(
            "💡 Tip: For seamless cloud logging, try installing [litlogger](https://pypi.org/project/litlogger/)"
        )
        lightning.info("GPU available: False, used: False")
    assert [record.getMessage() for record in caplog.records] == ["GPU available: False, used: False"]
