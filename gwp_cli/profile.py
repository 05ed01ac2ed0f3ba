"""Workload profile of the real torch model: per-block FLOPs and bytes (SPEC §2).

FLOPs are counted analytically from each convolution and linear layer as it runs
(forward hooks on the real module), 2 FLOPs per multiply-add. Backward is taken
as 2 x forward (gradients of the input and of the weights), which is right for
depthwise convolutions too; torch's FlopCounterMode multiplies the backward of a
grouped convolution by its group count, so it is not used.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .errors import GwpError

COLUMNS = ["block", "name", "flops", "out_bytes", "act_bytes", "param_bytes"]
NUM_CLASSES = {"fashion-mnist": 10, "cifar100": 100}
INPUT_SHAPE = (3, 32, 32)  # Fashion-MNIST's 1x28x28 is turned into 3x32x32 as well
BYTES_PER_VALUE = 4  # fp32
BACKWARD_FACTOR = 2.0


def conv_flops(module, out) -> float:
    """Forward FLOPs of one Conv2d call per sample: 2 * Cout * H * W * (Cin/groups) * kh * kw."""
    kh, kw = module.kernel_size
    per_out = 2 * (module.in_channels // module.groups) * kh * kw
    return float(per_out * out[0].numel())


def linear_flops(module, out) -> float:
    return float(2 * module.in_features * out[0].numel())


def model_blocks(width: float = 1.0, num_classes: int = 10):
    """torchvision's mobilenet_v2 cut into features[0..18] and the classifier head."""
    import torch.nn as nn
    from torchvision.models import mobilenet_v2

    model = mobilenet_v2(num_classes=num_classes, width_mult=width)
    blocks = [(f"features.{i}", layer) for i, layer in enumerate(model.features)]
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), *model.classifier)
    blocks.append(("classifier", head))
    return blocks


def profile_model(dataset: str = "fashion-mnist", width: float = 1.0, num_classes: int | None = None) -> pd.DataFrame:
    """Measure every block on one sample of the dataset's input shape."""
    import torch
    import torch.nn as nn

    if dataset not in NUM_CLASSES:
        raise GwpError("--dataset", "dataset", f"unknown dataset {dataset!r}", "use fashion-mnist or cifar100")
    num_classes = num_classes or NUM_CLASSES[dataset]
    rows = []
    x = torch.zeros(1, *INPUT_SHAPE)
    for index, (name, block) in enumerate(model_blocks(width, num_classes)):
        block.eval()
        counts = {"flops": 0.0, "saved": 0}

        def hook(module, inputs, out):
            if isinstance(module, nn.Conv2d):
                counts["flops"] += conv_flops(module, out)
            elif isinstance(module, nn.Linear):
                counts["flops"] += linear_flops(module, out)
            # Autograd keeps (about) every leaf module's input for its backward.
            counts["saved"] += inputs[0][0].numel()

        handles = [m.register_forward_hook(hook) for m in block.modules() if len(list(m.children())) == 0]
        with torch.no_grad():
            x = block(x)
        for h in handles:
            h.remove()
        rows.append({
            "block": index,
            "name": name,
            "flops": int(round(counts["flops"] * (1.0 + BACKWARD_FACTOR))),
            "out_bytes": int(x[0].numel() * BYTES_PER_VALUE),
            "act_bytes": int(counts["saved"] * BYTES_PER_VALUE),
            "param_bytes": int(sum(p.numel() for p in block.parameters()) * BYTES_PER_VALUE),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def cache_dir() -> Path:
    return Path(os.environ.get("GWP_CACHE") or Path.home() / ".cache" / "gwp")


def cached_profile(dataset: str = "fashion-mnist", width: float = 1.0, num_classes: int | None = None) -> pd.DataFrame:
    """profile_model, cached on disk under a key of every input (and the gwp version)."""
    from .io import write_csv_atomic

    num_classes = num_classes or NUM_CLASSES.get(dataset)
    path = cache_dir() / "profiles" / f"mobilenet_v2-{dataset}-w{width:g}-c{num_classes}-v{__version__}.csv"
    if path.is_file():
        try:
            return load_profile(path)
        except GwpError:
            path.unlink()
    table = profile_model(dataset, width, num_classes)
    write_csv_atomic(table, path)
    return table


def load_profile(path) -> pd.DataFrame:
    """Read a profile CSV written by `gwp profile`, checking its columns and values."""
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise GwpError(path, "", f"cannot be read as CSV ({exc.__class__.__name__})", "rewrite it with gwp profile") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise GwpError(path, missing[0], "column is missing", f"a profile has columns {','.join(COLUMNS)}")
    numeric = table[COLUMNS[2:]]
    if len(table) == 0 or not np.isfinite(numeric.to_numpy(dtype=float)).all() or (numeric.to_numpy() < 0).any():
        raise GwpError(path, "flops", "has no rows or a negative / non-numeric value", "rewrite it with gwp profile")
    return table[COLUMNS]


class Workload:
    """Profile arrays with prefix sums, so any block range s..e costs O(1)."""

    def __init__(self, table: pd.DataFrame):
        self.table = table
        self.names = list(table["name"])
        self.n_blocks = len(table)
        self.flops = table["flops"].to_numpy(dtype=float)
        self.out_bytes = table["out_bytes"].to_numpy(dtype=float)
        self.act_bytes = table["act_bytes"].to_numpy(dtype=float)
        self.param_bytes = table["param_bytes"].to_numpy(dtype=float)
        self._cum = {k: np.concatenate([[0.0], np.cumsum(getattr(self, k))])
                     for k in ("flops", "act_bytes", "param_bytes")}

    def range_sum(self, field: str, s, e):
        """Sum of a per-block field over blocks s..e inclusive (arrays broadcast)."""
        cum = self._cum[field]
        return cum[np.asarray(e) + 1] - cum[np.asarray(s)]

    def range_matrices(self):
        """(N, N) matrices W[s, e], P[s, e], A[s, e] and the mask s <= e, for every block range
        (zero below the diagonal); computed once, since every solver decision needs them."""
        if not hasattr(self, "_ranges"):
            self._ranges = self._range_matrices()
        return self._ranges

    def _range_matrices(self):
        s, e = np.meshgrid(np.arange(self.n_blocks), np.arange(self.n_blocks), indexing="ij")
        valid = s <= e
        W = np.where(valid, self.range_sum("flops", s, e), 0.0)
        P = np.where(valid, self.range_sum("param_bytes", s, e), 0.0)
        A = np.where(valid, self.range_sum("act_bytes", s, e), 0.0)
        return W, P, A, valid
