"""`gwp train` end to end on tiny datasets written in the real on-disk formats.

Fashion-MNIST: the four gzipped IDX files (magic number, big-endian dimensions,
unsigned bytes), as Debian's dataset-fashion-mnist ships them. CIFAR-100:
cifar-100-python/{train,test,meta} pickles shaped like the real ones. Every run
goes through the Click command users run (gwp_cli.cli.main).
"""
from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gwp_cli import data as gwp_data
from gwp_cli.cli import main
from gwp_cli.config import load_config

FMNIST_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                "t10k-labels-idx1-ubyte")


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file: 0, 0, type 0x08 (ubyte), ndim, then each dimension as big-endian int32, then the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">i", d) for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def make_fashion_mnist(root: Path, n_train: int = 48, n_test: int = 16, gz: bool = True, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    splits = {"train": n_train, "t10k": n_test}
    for prefix, n in splits.items():
        labels = (np.arange(n) % 10).astype(np.uint8)
        # a learnable signal: the class sets a bright row
        images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
        images[np.arange(n), 2 + 2 * labels, :] = 250
        for kind, array in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            raw = idx_bytes(array)
            name = f"{prefix}-{kind}"
            if gz:
                (root / f"{name}.gz").write_bytes(gzip.compress(raw, mtime=0))
            else:
                (root / name).write_bytes(raw)
    return root


class Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` (BINSTRING opcodes), as the real CIFAR-100 pickles were made
    by Python 2: read with encoding="latin1" (torchvision) the keys are str, with encoding="bytes" b'data'."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def dump_py2(obj, path: Path) -> None:
    with open(path, "wb") as handle:
        Py2Pickler(handle, protocol=2).dump(obj)


def make_cifar100(root: Path, n_train: int = 32, n_test: int = 16, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", n_train), ("test", n_test)):
        fine = [int(i % 100) for i in range(n)]
        entry = {
            b"filenames": [f"img_{i}.png".encode() for i in range(n)],
            b"batch_label": f"{name}ing batch 1 of 1".encode(),
            b"fine_labels": fine,
            b"coarse_labels": [f // 5 for f in fine],
            b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        }
        dump_py2(entry, folder / name)
    meta = {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]}
    dump_py2(meta, folder / "meta")
    return root


def test_tiny_cifar_reads_like_the_real_one(tmp_path):
    folder = make_cifar100(tmp_path / "cifar", n_train=4) / "cifar-100-python"
    with open(folder / "train", "rb") as handle:
        as_bytes = pickle.load(handle, encoding="bytes")
    assert sorted(as_bytes) == [b"batch_label", b"coarse_labels", b"data", b"filenames", b"fine_labels"]
    assert as_bytes[b"data"].dtype == np.uint8 and as_bytes[b"data"].shape == (4, 3072)
    with open(folder / "meta", "rb") as handle:
        assert pickle.load(handle, encoding="latin1")["fine_label_names"][:2] == ["fine0", "fine1"]


@pytest.fixture(autouse=True)
def isolated_data(monkeypatch, tmp_path):
    """No dataset from the machine: no GWP_DATA, no system copy, no network."""
    monkeypatch.delenv("GWP_DATA", raising=False)
    monkeypatch.setattr(gwp_data, "SYSTEM_DIRS", {"fashion-mnist": (tmp_path / "no-system-copy",), "cifar100": ()})

    def offline(dataset, root):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(gwp_data, "_torchvision_download", offline)


@pytest.fixture
def small_config(tmp_path) -> Path:
    """paper.yaml with a mini-batch of 16, so that a tiny dataset has several iterations per epoch."""
    path = tmp_path / "small.yaml"
    path.write_text("cluster:\n  batch_size: 16\n")
    return path


def gwp(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result


def run_train(*args):
    return gwp("train", "--threads", 1, "--no-progress", *args)


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("gwp: error:")]
    assert len(lines) == 1, result.output
    return lines[0]


# ---------------------------------------------------------------------------------------------
# one iteration on each dataset, on the real formats


def test_fashion_mnist_gz_idx_one_iteration(tmp_path):
    data_dir = make_fashion_mnist(tmp_path / "fmnist")
    out = tmp_path / "run"
    result = run_train("--dataset", "fashion-mnist", "--data-dir", data_dir, "--max-iterations", 1, "--out", out)
    assert result.exit_code == 0, result.output
    assert "(--data-dir, IDX files, gzipped)" in result.output
    iterations = pd.read_csv(out / "iterations.csv")
    assert list(iterations.columns[:9]) == ["iteration", "epoch", "loss", "lr", "sim_time_s", "time_s",
                                            "energy_j", "cost", "policy"]
    assert len(iterations) == 1 and iterations.policy[0] == "heuristic"
    assert iterations.loss[0] > 0 and iterations.time_s[0] > 0 and iterations.energy_j[0] > 0
    epochs = pd.read_csv(out / "epochs.csv")
    assert list(epochs.columns[:7]) == ["epoch", "train_loss", "test_loss", "test_acc", "sim_time_s", "energy_j",
                                        "wall_s"]
    assert len(epochs) == 1 and 0.0 <= epochs.test_acc[0] <= 1.0
    assert (out / "checkpoint.pt").is_file()
    run = pd.read_json(out / "run.json", typ="series")
    assert run["data_source"]["how"] == "--data-dir" and run["seed"] == 0


def test_fashion_mnist_torchvision_raw_layout(tmp_path, monkeypatch):
    root = tmp_path / "tv"
    make_fashion_mnist(root / "FashionMNIST" / "raw", gz=False)
    monkeypatch.setenv("GWP_DATA", str(root))
    out = tmp_path / "run"
    result = run_train("--max-iterations", 1, "--limit-test", 8, "--out", out)
    assert result.exit_code == 0, result.output
    assert "$GWP_DATA, torchvision FashionMNIST/raw" in result.output


def test_cifar100_pickles_one_iteration(tmp_path):
    root = make_cifar100(tmp_path / "cifar")
    out = tmp_path / "run"
    result = run_train("--dataset", "cifar100", "--data-dir", root, "--max-iterations", 1, "--out", out)
    assert result.exit_code == 0, result.output
    iterations = pd.read_csv(out / "iterations.csv")
    assert len(iterations) == 1 and iterations.dataset[0] == "cifar100"
    # 100 classes: an untrained model's loss is near ln(100)
    assert 3.0 < iterations.loss[0] < 7.0
    run = pd.read_json(out / "run.json", typ="series")
    assert run["config"]["dataset"] == "cifar100"


# ---------------------------------------------------------------------------------------------
# bad input: corrupt files are named, missing data says where gwp looked


def test_truncated_gz_idx_is_named(tmp_path):
    data_dir = make_fashion_mnist(tmp_path / "fmnist")
    victim = data_dir / "train-images-idx3-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:200])
    result = run_train("--data-dir", data_dir, "--max-iterations", 1, "--out", tmp_path / "run")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert str(victim) in line and "truncated" in line


def test_idx_with_short_data_is_named(tmp_path):
    data_dir = make_fashion_mnist(tmp_path / "fmnist", gz=False)
    victim = data_dir / "t10k-labels-idx1-ubyte"
    victim.write_bytes(victim.read_bytes()[:-3])
    result = run_train("--data-dir", data_dir, "--max-iterations", 1, "--out", tmp_path / "run")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert str(victim) in line and "header says 16" in line


def test_idx_with_bad_magic_is_named(tmp_path):
    data_dir = make_fashion_mnist(tmp_path / "fmnist")
    victim = data_dir / "train-labels-idx1-ubyte.gz"
    victim.write_bytes(gzip.compress(b"\x01\x02\x08\x01" + b"\x00" * 60))
    result = run_train("--data-dir", data_dir, "--max-iterations", 1, "--out", tmp_path / "run")
    assert result.exit_code == 2
    assert str(victim) in one_error_line(result)


def test_corrupt_cifar_pickle_is_named(tmp_path):
    root = make_cifar100(tmp_path / "cifar")
    victim = root / "cifar-100-python" / "train"
    victim.write_bytes(victim.read_bytes()[:1000])
    result = run_train("--dataset", "cifar100", "--data-dir", root, "--max-iterations", 1, "--out", tmp_path / "r")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert str(victim) in line and "pickle" in line


def test_cifar_pickle_with_wrong_shape_is_named(tmp_path):
    root = make_cifar100(tmp_path / "cifar")
    victim = root / "cifar-100-python" / "test"
    dump_py2({b"data": np.zeros((4, 1000), np.uint8), b"fine_labels": [0] * 4}, victim)
    result = run_train("--dataset", "cifar100", "--data-dir", root, "--max-iterations", 1, "--out", tmp_path / "r")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert str(victim) in line and "(n, 3072)" in line


def test_missing_fashion_mnist_offline(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_train("--data-dir", empty, "--max-iterations", 1, "--out", tmp_path / "run")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert str(empty) in line and "no-system-copy" in line  # where it looked
    assert "dataset-fashion-mnist" in line and "--data-dir" in line  # the two ways to provide it
    assert "download" in line and "failed" in line


def test_missing_cifar100_without_download(tmp_path):
    result = run_train("--dataset", "cifar100", "--max-iterations", 1, "--out", tmp_path / "run")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "CIFAR-100 not found" in line and "--data-dir" in line and "--download" in line


# ---------------------------------------------------------------------------------------------
# resume: the same bytes as an uninterrupted run


def _without_wall(path: Path) -> pd.DataFrame:
    return pd.read_csv(path).drop(columns=["wall_s"])


def _same_run(a: Path, b: Path) -> None:
    assert (a / "iterations.csv").read_bytes() == (b / "iterations.csv").read_bytes()
    pd.testing.assert_frame_equal(_without_wall(a / "epochs.csv"), _without_wall(b / "epochs.csv"))


def test_resume_gives_identical_rows(tmp_path, small_config, monkeypatch):
    data_dir = make_fashion_mnist(tmp_path / "fmnist")  # 48 samples / 16 = 3 iterations per epoch
    common = ["--config", small_config, "--data-dir", data_dir, "--epochs", 2, "--limit-test", 8]

    straight = tmp_path / "straight"
    assert run_train(*common, "--out", straight).exit_code == 0
    rows = pd.read_csv(straight / "iterations.csv")
    assert len(rows) == 6 and list(rows.epoch) == [0, 0, 0, 1, 1, 1]
    assert len(pd.read_csv(straight / "epochs.csv")) == 2

    # 1 epoch, then resume for the second
    split = tmp_path / "split"
    first = run_train(*common, "--max-iterations", 3, "--out", split)
    assert first.exit_code == 0, first.output
    assert len(pd.read_csv(split / "epochs.csv")) == 1
    second = run_train(*common, "--resume", "--out", split)
    assert second.exit_code == 0, second.output
    assert "resuming" in second.output
    _same_run(straight, split)

    # stopped mid-epoch (its partial epoch row is dropped on resume)
    mid = tmp_path / "mid"
    assert run_train(*common, "--max-iterations", 4, "--out", mid).exit_code == 0
    assert run_train(*common, "--resume", "--out", mid).exit_code == 0
    _same_run(straight, mid)

    # Ctrl-C during the second epoch: epoch 0's files stay, the rows after it are dropped on resume
    import gwp_cli.simulate as simulate

    real_build = simulate.build_simulator

    def interrupting_build(*args, **kwargs):
        sim = real_build(*args, **kwargs)
        real_step = sim.step

        def step(*a, **kw):
            if sim.k == 4:
                raise KeyboardInterrupt
            return real_step(*a, **kw)

        sim.step = step
        return sim

    interrupted = tmp_path / "interrupted"
    monkeypatch.setattr(simulate, "build_simulator", interrupting_build)
    result = run_train(*common, "--out", interrupted)
    assert result.exit_code == 130
    assert len(pd.read_csv(interrupted / "epochs.csv")) == 1
    assert len(pd.read_csv(interrupted / "iterations.csv")) == 4  # rows of the unfinished epoch are still there
    monkeypatch.setattr(simulate, "build_simulator", real_build)
    assert run_train(*common, "--resume", "--out", interrupted).exit_code == 0
    _same_run(straight, interrupted)

    # a finished run resumed again has nothing to do
    again = run_train(*common, "--resume", "--out", straight)
    assert again.exit_code == 0 and "already complete" in again.output

    # the Fig. 4 sweep replays these losses; medium B (scale 1) is the run's own time axis
    result = gwp("train", "--sweep", "B", "--out", straight, "--no-progress")
    assert result.exit_code == 0, result.output
    sweep = pd.read_csv(straight / "sweep_B.csv")
    assert list(sweep.setting.unique()) == ["low", "medium", "high"] and len(sweep) == 18
    medium = sweep[sweep.setting == "medium"].reset_index(drop=True)
    assert np.array_equal(medium.loss.to_numpy(), rows.loss.to_numpy())
    assert np.array_equal(medium.sim_time_s.to_numpy(), rows.sim_time_s.to_numpy())
    final = sweep.groupby("setting").sim_time_s.last()
    assert final["low"] > final["medium"] > final["high"]
    accs = pd.read_csv(straight / "epochs.csv").test_acc.to_list()
    assert medium.test_acc.to_list() == [accs[0]] * 3 + [accs[1]] * 3


def test_resume_refuses_other_config(tmp_path, small_config):
    data_dir = make_fashion_mnist(tmp_path / "fmnist", n_train=16)
    out = tmp_path / "run"
    common = ["--data-dir", data_dir, "--limit-test", 8, "--epochs", 2, "--out", out]
    assert run_train("--config", small_config, *common, "--max-iterations", 1).exit_code == 0

    other = tmp_path / "other.yaml"
    other.write_text("cluster:\n  batch_size: 16\ntrain:\n  lr: 0.01\n")
    result = run_train("--config", other, *common, "--resume")
    assert result.exit_code == 2
    line = one_error_line(result)
    default_lr = load_config()["train"]["lr"]  # small_config keeps the paper default
    assert "checkpoint.pt: train.lr: differs" in line and f"checkpoint: {default_lr}" in line and "now: 0.01" in line

    result = run_train("--config", small_config, *common, "--resume", "--seed", 3)
    assert result.exit_code == 2 and "checkpoint.pt: seed: differs" in one_error_line(result)

    # without --resume an existing run is never overwritten
    result = run_train("--config", small_config, *common)
    assert result.exit_code == 2 and "--resume" in one_error_line(result)
