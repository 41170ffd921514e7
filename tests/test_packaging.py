"""What a fresh install and the container get: the tested PyTorch release, everywhere it is named."""

from __future__ import annotations

import re

from conftest import ROOT


def _pin(text: str, pattern: str) -> str:
    found = re.search(pattern, text, re.MULTILINE)
    assert found, pattern
    return found.group(1)


def test_the_container_runs_the_torch_release_the_suite_tests() -> None:
    makefile = _pin((ROOT / "Makefile").read_text(), r"^TORCH \?= (torch==[0-9.]+)$")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert _pin(dockerfile, r"^ARG TORCH=(torch==[0-9.]+)$") == makefile
    install = dockerfile.index('pip install "${TORCH}"')
    assert install < dockerfile.index("pip install -r /tmp/requirements.txt")  # before anything that needs torch
    assert "pip install --no-deps ." in dockerfile  # the source does not reinstall a torch of its own


def test_make_demo_plays_bundles_that_ship_in_the_package() -> None:
    from studio.generation.references import bundle_names

    demo = (ROOT / "Makefile").read_text().split("\ndemo:")[1].split("\n\n")[0]
    named = re.findall(r"--ckpt ([a-z0-9-]+)\s", demo)
    assert named and set(named) <= set(bundle_names()), (named, bundle_names())
    config = (ROOT / "pyproject.toml").read_text()
    assert '"bundles/*/*"' in config  # package data: a pip install carries them
