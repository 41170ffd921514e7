"""Build a module's parameters as shapes only: on PyTorch's `meta` device, with initialisation skipped.

Loading checks a checkpoint's shapes against the network its settings describe before any memory is
spent. Initialising meta tensors runs PyTorch's Python reference kernels, whose first call imports
the compiler stack (over a second at start-up); shapes need no values, so `torch.nn.init` calls
are passed over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Optional

import torch
from torch.overrides import TorchFunctionMode


class _SkipInit(TorchFunctionMode):
    """Returns the tensor given to any `torch.nn.init` function untouched; every other call runs."""

    def __torch_function__(
        self, func: Callable[..., Any], types: Any, args: tuple[Any, ...] = (), kwargs: Optional[dict[str, Any]] = None
    ) -> Any:
        kwargs = kwargs or {}
        if getattr(func, "__module__", None) == "torch.nn.init":
            return args[0] if args else kwargs["tensor"]
        return func(*args, **kwargs)


@contextmanager
def shapes_only() -> Iterator[None]:
    """Modules built inside hold `meta` tensors of the right shapes and no values (no memory)."""
    with torch.device("meta"), _SkipInit():
        yield
