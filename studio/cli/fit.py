"""`studio fit / validate / test`: LightningCLI with the data module deciding model sizes, and Studio's run folders.

`studio fit --config configs/text/quickstart.yaml` trains and writes `checkpoints/<run>/`.
"""

from __future__ import annotations

import importlib
import os
import time
from typing import Any, Optional

import lightning as L
from jsonargparse import Namespace
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.fabric.utilities.seed import max_seed_value, min_seed_value, seed_everything
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback

from studio.checkpoint import check_state_shapes, read_checkpoint, tensor_shapes
from studio.cli.fit_errors import (
    OneLineArgumentParser,
    check_cpu_processes,
    check_worker_processes,
    instantiation_error,
    runs_on_cpu,
)
from studio.cli.fit_memory import check_fit_memory
from studio.cli.init_from import load_initial_weights
from studio.cli.precision import resolve_precision
from studio.errors import StudioError
from studio.io import safe_name
from studio.training.checkpoint_io import AtomicCheckpointIO, StudioMetadata
from studio.training.last_checkpoint import RefreshLastCheckpoint
from studio.training.limit_note import TimeLimitNote
from studio.training.metrics_file import MetricsFile
from studio.training.nonfinite import NonFiniteGuard
from studio.training.plain_progress import PlainProgress, plain_progress_wanted, progress_every
from studio.training.run_lock import RunLock, claim_run
from studio.training.throughput import TokenThroughput
from studio.training.unvalidated_run import UnvalidatedRunNote

DEFAULT_LOGGER = {"class_path": "studio.training.tracking.StudioWandbLogger", "init_args": {"project": "studio"}}
# `--ckpt_path` values that name a checkpoint by role, not by file.
SPECIAL_CKPT_PATHS = ("last", "best", "hpc", "registry")
CHECKPOINT_DEFAULTS = {
    "checkpoint.monitor": "val_loss",
    "checkpoint.mode": "min",
    "checkpoint.filename": "best",
    "checkpoint.save_top_k": 1,
    "checkpoint.save_last": True,
    "checkpoint.enable_version_counter": False,
}


class SaveConfigToRun(SaveConfigCallback):
    """Saves the resolved config as `checkpoints/<run>/config.yaml`, beside the run's checkpoints.

    A resumed run writes it only once training has started from the restored checkpoint, so a resume
    that fails (a mismatched setting, a damaged file) leaves the run's config.yaml as it was.
    """

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """New runs save now; resumed ones wait for `on_train_start`."""
        if not trainer.ckpt_path:
            super().setup(trainer, pl_module, stage)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The checkpoint restored and training began: the config of the resumed run can be saved."""
        if trainer.ckpt_path:
            super().setup(trainer, pl_module, "fit")

    def save_config(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Called on rank zero only."""
        callback = trainer.checkpoint_callback
        if stage != "fit" or callback is None or not getattr(callback, "dirpath", None):
            return
        os.makedirs(callback.dirpath, exist_ok=True)
        self.parser.save(self.config, os.path.join(callback.dirpath, "config.yaml"), skip_none=False, overwrite=True)


class StudioCLI(LightningCLI):
    """LightningCLI with the data module deciding model sizes, run naming, and Studio's checkpoints."""

    def __init__(self, args: Optional[list[str]] = None, run: bool = True) -> None:
        self.run_lock: Optional[RunLock] = None  # this process's hold on the run folder, for the command's life
        try:
            super().__init__(
                L.LightningModule,
                L.LightningDataModule,
                subclass_mode_model=True,
                subclass_mode_data=True,
                trainer_defaults={"logger": DEFAULT_LOGGER, "gradient_clip_val": 1.0},
                save_config_callback=SaveConfigToRun,
                save_config_kwargs={"overwrite": True, "save_to_log_dir": False},
                parser_kwargs={"default_env": False},
                parser_class=OneLineArgumentParser,
                args=args,
                run=run,
                auto_configure_optimizers=False,
            )
        finally:
            if self.run_lock is not None:
                self.run_lock.release()

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> LightningArgumentParser:
        """Resuming (`--ckpt_path`) loads checkpoints with `weights_only=True` too: no pickled code runs."""
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if "weights_only" in self._subcommand_method_arguments[subcommand]:
            parser.set_defaults(weights_only=True)
        return parser

    def _set_seed(self) -> None:
        """Seed as LightningCLI does, without its "Seed set to" line (the seed is in the run's config.yaml)."""
        seed = self._get(self.config, "seed_everything")
        if seed is False:
            return
        if seed not in (True, None) and not (isinstance(seed, int) and min_seed_value <= seed <= max_seed_value):
            raise StudioError(
                f"--seed_everything {seed!r} must be a whole number from {min_seed_value} to {max_seed_value} "
                "(true: a random one, false: none)"
            )
        seed = seed_everything(None if seed is True else seed, workers=True, verbose=False)
        (self.config[self.subcommand] if self.subcommand else self.config)["seed_everything"] = seed

    def _parse_ckpt_path(self) -> None:
        """Check a `--ckpt_path` file safely before anything else reads it; its settings come from the run's config.

        (Lightning would merge the checkpoint's hyper-parameters into the config here, silently overruling
        flags; Studio instead refuses a checkpoint that does not fit the configured model, in one line.)
        """
        config = self.config.get(str(self.config.get("subcommand")), Namespace())
        ckpt_path = config.get("ckpt_path") if isinstance(config, Namespace) else None
        if ckpt_path and ckpt_path not in SPECIAL_CKPT_PATHS and not str(ckpt_path).startswith("registry:"):
            self._stored_shapes = {ckpt_path: tensor_shapes(read_checkpoint(ckpt_path)["state_dict"])}

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Add `--run_name`, and checkpointing under `checkpoints/<run>/` (last.ckpt and best.ckpt)."""
        parser.add_argument(
            "--run_name", type=Optional[str], default=None, help="Name of the run (default: model-data-time)."
        )
        parser.add_argument(
            "--init_from",
            type=Optional[str],
            default=None,
            help="Start a new run from the weights of a bundled model, a checkpoint or a URL (fine-tuning).",
        )
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(CHECKPOINT_DEFAULTS)
        parser.add_lightning_class_args(RefreshLastCheckpoint, "last_checkpoint")
        parser.add_lightning_class_args(NonFiniteGuard, "nonfinite")

    def before_instantiate_classes(self) -> None:
        """Name the run, point the checkpoint folder and the W&B run at that name, and own the folder (run_lock)."""
        config = self.config.get(str(self.subcommand), self.config)
        if not config.get("run_name"):
            model = config.model.class_path.rpartition(".")[2]
            config.run_name = f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"
        safe_name("--run_name", str(config.run_name), "my-run")  # a folder under checkpoints/, never a path
        if not config.checkpoint.get("dirpath"):
            config.checkpoint.dirpath = os.path.join("checkpoints", config.run_name)
        if self.subcommand in ("fit", "validate", "test"):
            ckpt = config.get("ckpt_path")
            ckpt = os.path.join(config.checkpoint.dirpath, f"{ckpt}.ckpt") if ckpt in ("last", "best") else ckpt
            self.run_lock = claim_run(self.subcommand, config.checkpoint.dirpath, ckpt)
        if self.subcommand == "fit" and not config.get("ckpt_path") and _holds_a_run(config.checkpoint.dirpath):
            raise StudioError(
                f"{config.checkpoint.dirpath} already holds an earlier run (checkpoints or config.yaml): "
                "resume it with --ckpt_path last, or start a new one with another --run_name"
            )
        if config.get("ckpt_path"):
            config.ckpt_path = _resolve_checkpoint(str(config.ckpt_path), config.checkpoint.dirpath)
        check_cpu_processes(config.trainer.get("accelerator"), config.trainer.get("devices"))
        resolve_precision(config.trainer, runs_on_cpu(config.trainer.get("accelerator")))
        logger = config.trainer.get("logger")
        wandb = isinstance(logger, Namespace) and logger.get("class_path", "").endswith("WandbLogger")
        if wandb and not logger.init_args.get("name"):
            logger.init_args.name = config.run_name

    def instantiate_classes(self) -> None:
        """Build the data module first, so the model's sizes (vocabulary, features, labels) come from it."""
        config = self.config.get(str(self.subcommand), self.config)
        try:
            datamodule = _instantiate(config.data)
            # Every process builds or maps the data's store now, before the Trainer and its process group exist:
            # one builds it under the store's lock, the others wait on the lock, not at a collective's time-out.
            datamodule.prepare_store()
            for key, value in datamodule.model_dims().items():
                config.model.init_args[key] = value
            check_fit_memory(config.model, datamodule, config.trainer.get("accelerator"))
            self.config_init = self.parser.instantiate_classes(self.config)
        except (TypeError, ValueError) as error:  # jsonargparse's wrapping of a setting a class refused
            raise instantiation_error(error) from None
        # The parser built a second, still-empty data module (construction is cheap); keep the loaded one.
        self.config_init.get(str(self.subcommand), self.config_init).data = datamodule
        self.datamodule = datamodule
        self.model = self._get(self.config_init, "model")
        datamodule.configure_for_model(dict(self.model.hparams))
        ckpt_path = config.get("ckpt_path")
        if config.get("init_from") and not ckpt_path:  # a resumed run has its own weights already
            load_initial_weights(self.model, datamodule.codec, str(config.init_from))
        if ckpt_path and os.path.isfile(ckpt_path):
            known = getattr(self, "_stored_shapes", {})
            stored = known.get(ckpt_path) or tensor_shapes(read_checkpoint(ckpt_path)["state_dict"])
            _check_fits(self.model, ckpt_path, stored)
        self.trainer = self.instantiate_trainer()

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        """Every run writes Studio checkpoints atomically and logs throughput; off a terminal, progress is plain lines."""
        callbacks = [self._get(self.config_init, key) for key in self._parser(self.subcommand).callback_keys]
        config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        plugins = config.get("plugins") or []
        config["plugins"] = [*(plugins if isinstance(plugins, list) else [plugins]), AtomicCheckpointIO()]
        try:
            studio_callbacks = [
                StudioMetadata(),
                TokenThroughput(),
                MetricsFile(owner=self.subcommand == "fit" or self.run_lock is not None),
                UnvalidatedRunNote(),
                TimeLimitNote(),
            ]
            if config.get("logger") not in (None, False, []):
                studio_callbacks.append(LearningRateMonitor(logging_interval="step"))
            if plain_progress_wanted(config):  # stdout is a file or a pipe: plain lines, not the bar's last frame
                config["enable_progress_bar"] = False
                studio_callbacks.append(PlainProgress(progress_every()))
            return self._instantiate_trainer(config, [*callbacks, *studio_callbacks])
        except (MisconfigurationException, ValueError) as error:
            reason = str(error).strip().splitlines()[0]
            raise StudioError(
                f"the trainer settings were refused ({reason}): check --trainer.accelerator, --trainer.devices "
                "and --trainer.strategy against this machine"
            ) from None


def _holds_a_run(folder: str) -> bool:
    """Whether `folder` already has a run's checkpoints or its config.yaml (a new run must not replace them)."""
    return os.path.isdir(folder) and any(name.endswith(".ckpt") or name == "config.yaml" for name in os.listdir(folder))


def _resolve_checkpoint(ckpt_path: str, dirpath: str) -> str:
    """`last` and `best` name the run folder's last.ckpt and best.ckpt; a checkpoint that is not there is an error."""
    path = os.path.join(dirpath, f"{ckpt_path}.ckpt") if ckpt_path in ("last", "best") else ckpt_path
    if ckpt_path in ("hpc", "registry") or ckpt_path.startswith("registry:"):
        return ckpt_path  # Lightning's own lookups
    if not os.path.exists(path):
        where = f"{dirpath} holds no {ckpt_path}.ckpt" if ckpt_path in ("last", "best") else f"{path} does not exist"
        raise StudioError(
            f"--ckpt_path {ckpt_path}: {where}, so there is nothing to resume; check --run_name or --config "
            "(checkpoints/<run>/config.yaml), or leave out --ckpt_path to start a new run"
        )
    return path


def _check_fits(model: L.LightningModule, ckpt_path: str, stored: dict[str, tuple[int, ...]]) -> None:
    """The checkpoint's tensors (`stored` shapes) must fit the model the settings built.

    Checked before the trainer runs or writes anything, with the same one-line errors as `studio sample`.
    """
    check_state_shapes(
        tensor_shapes(model.state_dict()),
        stored,
        ckpt_path,
        "use the run's own settings (its config.yaml, without overriding model sizes) or start a new run",
    )


def _instantiate(config: Namespace) -> Any:
    """Instantiate a `class_path` + `init_args` config (used for the data module)."""
    module, _, name = config.class_path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    init_args = config.get("init_args") or Namespace()
    check_worker_processes(init_args)  # before any is started
    return cls(**init_args.as_dict())
