"""`studio prepare`: build a config's data store once, ahead of training, and say where it is and how big.

`studio fit` prepares the store too, in every process before its Trainer exists (one builds it under
the store's lock, the others wait, then all map it). `studio prepare` does only that, on one machine:
before a multi-node run whose nodes share the cache's filesystem (each rank then finds the store and
maps it), or to pay for a large collection's preparation before GPUs are held. It reads the data
settings of the same `--config` files and `--data...` options `studio fit` takes, through the same
`--data` argument LightningCLI builds, and builds the data module as `fit` does; no model, Trainer or
process group is made. Other options of a `fit` command line are read past, so it can be given as it is.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

from studio.errors import StudioError

HELP = """usage: studio prepare --config FILE [--config FILE ...] [--data.init_args.NAME VALUE ...]

Build the data store of a run's settings once, into the cache ($STUDIO_CACHE, else ~/.cache/studio),
and print where it is and how big; a second run says it is already prepared. `studio fit` with the
same data settings then maps it instead of building it. Prepare once, on one machine, before a
multi-node run, with STUDIO_CACHE on a filesystem every node reads (see docs/distributed.md).

examples:
  studio prepare --config configs/midi/performance-lstm.yaml
  STUDIO_CACHE=/shared/studio-cache studio prepare --config configs/text/char-lstm.yaml --data.init_args.path corpus/
  studio prepare --data datamodules.midi.MidiDataModule --data.init_args.paths my_midis/

options:
  -c, --config FILE              a preset or a run's config.yaml (several merge in order); only its data is read
  --data CLASS                   the data module, e.g. datamodules.midi.MidiDataModule
  --data.init_args.NAME VALUE    a data setting, as `studio fit` takes it, e.g. --data.init_args.limit 500
  -h, --help                     this page

The other options of a `studio fit` command line (--trainer..., --model..., --run_name, ...) are read
past, so a run's own command line can be given as it is.
"""

CONFIG_FLAGS = ("-c", "--config")


def prepare_main(argv: list[str]) -> None:
    """Parse the data settings, build the data module, prepare its store, and print what and where it is."""
    if any(a in ("-h", "--help") for a in argv):
        print(HELP, end="")
        return
    datamodule = build_datamodule(argv)
    started = time.monotonic()
    prepared = datamodule.prepare_store()
    if prepared is None:
        print(f"{type(datamodule).__name__} keeps no store in the cache: there is nothing to prepare")
        return
    seconds = time.monotonic() - started
    what = f"the {prepared.kind} ({prepared.contents})"
    print(f"prepared {what} in {seconds:.1f} s" if prepared.built else f"already prepared: {what}")
    print(f"{prepared.folder}  {_size(prepared.size)}")
    from studio.io import cache_root

    if Path(prepared.cache).resolve() == cache_root().resolve():
        where = f"with STUDIO_CACHE={prepared.cache} on every node"
    else:
        where = f"from their cache_dir, {prepared.cache}"
    print(f"`studio fit` with these data settings maps it {where}")


def build_datamodule(argv: list[str]) -> Any:
    """The data module `studio fit` would build from the same arguments (its store not yet prepared)."""
    from studio.cli.fit import _instantiate
    from studio.cli.fit_errors import check_config_files, instantiation_error

    check_config_files(argv)
    config = data_config(argv)
    try:
        return _instantiate(config.data)
    except (TypeError, ValueError) as error:  # a setting the data module refused
        raise instantiation_error(error) from None


def data_config(argv: list[str]) -> Any:
    """The parsed `data` settings (class_path, init_args with defaults) of a `fit` command line's arguments."""
    import lightning as L
    from jsonargparse import ActionConfigFile

    from studio.cli.fit_errors import OneLineArgumentParser

    arguments = data_arguments(argv)
    if not arguments:
        raise StudioError(
            "no data settings to prepare: pass a --config with a `data:` section (e.g. configs/midi/quickstart.yaml) "
            "or --data CLASS (see `studio prepare --help`)"
        )
    parser = OneLineArgumentParser(prog="studio prepare", default_env=False)
    parser.add_argument("-c", "--config", action=ActionConfigFile, help="a config file; only its data is read")
    # As LightningCLI declares `--data` for `studio fit` (subclass_mode_data=True).
    parser.add_lightning_class_args(L.LightningDataModule, "data", subclass_mode=True)
    return parser.parse_args(arguments)


def data_arguments(argv: list[str]) -> list[str]:
    """The arguments about the data, in order: each `--config` file cut to its `data` section, and `--data...`.

    Every other option of a `fit` command line takes one value (`--name value` or `--name=value`) and is
    read past with it.
    """
    kept: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, joined, value = arg.partition("=")
        if not arg.startswith("-"):
            raise StudioError(
                f"unexpected argument {arg!r}: `studio prepare` takes --config FILE and --data... options "
                "(see `studio prepare --help`)"
            )
        given: Optional[str] = value if joined else (argv[i + 1] if i + 1 < len(argv) else None)
        i += 1 if joined or given is None else 2
        if name in CONFIG_FLAGS:
            if given is None:
                raise StudioError("--config needs a file (see `studio prepare --help`)")
            section = _data_section(given)
            if section is not None:
                kept += ["--config", section]
        elif name == "--data" or name.startswith(("--data.", "--data+")):
            kept += [arg] if joined or given is None else [arg, given]
    return kept


def _data_section(path: str) -> Optional[str]:
    """The config file's `data` section as a config of its own (YAML), or None when it has none."""
    import yaml

    settings = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if "data" not in settings:
        return None
    return yaml.safe_dump({"data": settings["data"]}, sort_keys=False)


def _size(count: int) -> str:
    """Bytes as people read them: 512 B, 3.4 kB, 12.3 MB, 1.2 GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count} B"
