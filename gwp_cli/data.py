"""Datasets for `gwp train`: where they are found and how they are read.

Fashion-MNIST is searched for in this order (the first place that holds it wins,
and the run says which): ``--data-dir``, the ``GWP_DATA`` environment variable,
/usr/share/datasets/fashion-mnist (Debian's ``dataset-fashion-mnist``: the
original gzipped IDX files), then torchvision's download. A directory may hold
the four IDX files directly (gzipped or not) or in torchvision's
``FashionMNIST/raw`` layout. The IDX reader is ours, so that a truncated or
corrupt file is named instead of failing somewhere inside a loader.

CIFAR-100 goes through torchvision's own ``datasets.CIFAR100`` on its usual
layout ``<root>/cifar-100-python/{train,test,meta}``; it is downloaded only when
asked (``--download``).

Fashion-MNIST's 1x28x28 images are zero-padded to 32x32 (2 pixels each side, the
background is black), normalised and repeated to 3 channels, the input shape the
workload profile uses (SPEC §2).
"""
from __future__ import annotations

import gzip
import os
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import GwpError

NUM_CLASSES = {"fashion-mnist": 10, "cifar100": 100}
DEBIAN_PACKAGE = "dataset-fashion-mnist"
# Where Debian's dataset-fashion-mnist puts the files (a tuple so tests can point it elsewhere).
SYSTEM_DIRS = {"fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),), "cifar100": ()}
FMNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CIFAR_FOLDER = "cifar-100-python"
CIFAR_FILES = ("train", "test", "meta")

# Normalisation: the usual per-dataset statistics of the training images.
FMNIST_MEAN, FMNIST_STD = 0.2860, 0.3530
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
PAD = 2  # 28 + 2 + 2 = 32

IDX_TYPES = {0x08: np.uint8}  # the only element type Fashion-MNIST uses
REFETCH = (f"reinstall the Debian package {DEBIAN_PACKAGE} or copy a fresh file there, "
           "or pass --data-dir DIR with good files")


@dataclass
class DataSource:
    """Where a dataset was found: ``how`` is one of --data-dir, GWP_DATA, system, download."""

    dataset: str
    path: str
    how: str
    layout: str

    def describe(self) -> str:
        label = {"--data-dir": "--data-dir", "GWP_DATA": "$GWP_DATA",
                 "system": f"Debian package {DEBIAN_PACKAGE}", "download": "torchvision download"}[self.how]
        return f"{self.dataset} from {self.path} ({label}, {self.layout})"

    def as_dict(self) -> dict:
        return {"dataset": self.dataset, "path": self.path, "how": self.how, "layout": self.layout}


@dataclass
class Datasets:
    train: object  # torch Dataset
    test: object
    num_classes: int
    source: DataSource


def default_download_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gwp" / "data"


def _candidates(dataset: str, data_dir: str | None) -> list[tuple[Path, str]]:
    found = []
    if data_dir:
        found.append((Path(data_dir), "--data-dir"))
    env = os.environ.get("GWP_DATA")
    if env:
        found.append((Path(env), "GWP_DATA"))
    found.extend((p, "system") for p in SYSTEM_DIRS.get(dataset, ()))
    return found


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST: IDX files


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped if its name ends in .gz); any defect is a GwpError naming it."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                raw = handle.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a cut-off gzip stream raises EOFError
        kind = "is cut off (truncated gzip stream)" if isinstance(exc, EOFError) else f"cannot be read ({exc})"
        raise GwpError(path, "", kind, REFETCH) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise GwpError(path, "magic number", "is not an IDX file (its first two bytes must be zero)", REFETCH)
    dtype = IDX_TYPES.get(raw[2])
    if dtype is None:
        raise GwpError(path, "magic number", f"has element type 0x{raw[2]:02x}; expected 0x08 (unsigned byte)",
                       REFETCH)
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise GwpError(path, "dimensions", "header is cut off", REFETCH)
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims))
    have = len(raw) - header
    if have != expected:
        what = "is truncated" if have < expected else "has trailing bytes"
        raise GwpError(path, "data", f"{what}: header says {'x'.join(map(str, dims))} = {expected} bytes, "
                       f"file holds {have}", REFETCH)
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)


def _find_idx(directory: Path) -> tuple[dict[str, Path], str] | None:
    """The four files in ``directory`` (flat) or in its FashionMNIST/raw; None if neither has any."""
    for folder, layout in ((directory, "IDX files"), (directory / "FashionMNIST" / "raw", "torchvision FashionMNIST/raw")):
        files, missing = {}, []
        for key, stem in FMNIST_FILES.items():
            for name in (stem + ".gz", stem):
                if (folder / name).is_file():
                    files[key] = folder / name
                    break
            else:
                missing.append(stem + ".gz")
        if files and missing:
            raise GwpError(folder / missing[0], "", "is missing (the other Fashion-MNIST files are there)",
                           f"add it, or point --data-dir at a complete copy (Debian: {DEBIAN_PACKAGE})")
        if files:
            return files, f"{layout}{', gzipped' if files['train_images'].suffix == '.gz' else ''}"
    return None


class FashionMNIST:
    """Fashion-MNIST as 3x32x32 float tensors, normalised; images kept as padded uint8."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        import torch

        padded = np.zeros((len(images), 1, 28 + 2 * PAD, 28 + 2 * PAD), dtype=np.uint8)
        padded[:, 0, PAD:PAD + 28, PAD:PAD + 28] = images
        self.images = torch.from_numpy(padded)
        self.targets = torch.from_numpy(labels.astype(np.int64))

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index):
        x = (self.images[index].float().div_(255.0) - FMNIST_MEAN) / FMNIST_STD
        return x.expand(3, -1, -1), self.targets[index]


def _load_fmnist_split(files: dict[str, Path], split: str) -> FashionMNIST:
    images = read_idx(files[f"{split}_images"])
    labels = read_idx(files[f"{split}_labels"])
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise GwpError(files[f"{split}_images"], "dimensions", f"are {images.shape}; expected (n, 28, 28)", REFETCH)
    if labels.ndim != 1:
        raise GwpError(files[f"{split}_labels"], "dimensions", f"are {labels.shape}; expected (n,)", REFETCH)
    if len(labels) != len(images):
        raise GwpError(files[f"{split}_labels"], "count", f"has {len(labels)} labels for {len(images)} images "
                       f"in {files[f'{split}_images'].name}", REFETCH)
    if labels.size and labels.max() >= 10:
        raise GwpError(files[f"{split}_labels"], "labels", f"holds label {int(labels.max())}; classes are 0..9",
                       REFETCH)
    return FashionMNIST(images, labels)


def _torchvision_download(dataset: str, root: Path) -> None:
    """Fetch with torchvision into ``root`` (raises whatever torchvision raises offline)."""
    from torchvision import datasets

    if dataset == "fashion-mnist":
        for train in (True, False):
            datasets.FashionMNIST(str(root), train=train, download=True)
    else:
        datasets.CIFAR100(str(root), train=True, download=True)


def _missing(dataset: str, looked: list[str], download_note: str) -> GwpError:
    where = "; ".join(looked) if looked else "nowhere (no --data-dir, no GWP_DATA)"
    if dataset == "fashion-mnist":
        fix = (f"install the Debian package {DEBIAN_PACKAGE} (apt-get install {DEBIAN_PACKAGE}) "
               "or pass --data-dir DIR holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
               "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz")
        name = "Fashion-MNIST"
    else:
        fix = (f"pass --data-dir DIR where DIR/{CIFAR_FOLDER}/ holds train, test and meta "
               "(the CIFAR-100 python version), or --download when online")
        name = "CIFAR-100"
    return GwpError(f"--dataset {dataset}", "", f"{name} not found; looked in {where}; {download_note}", fix)


def find_fashion_mnist(data_dir: str | None = None, download: bool | None = None):
    """Return (files, DataSource) for the first place that holds Fashion-MNIST."""
    looked = []
    for path, how in _candidates("fashion-mnist", data_dir):
        looked.append(f"{path} ({how})")
        if path.is_dir():
            hit = _find_idx(path)
            if hit:
                return hit[0], DataSource("fashion-mnist", str(path), how, hit[1])
    if download is False:
        raise _missing("fashion-mnist", looked, "download not attempted (--no-download)")
    root = Path(data_dir or os.environ.get("GWP_DATA") or default_download_root())
    try:
        _torchvision_download("fashion-mnist", root)
    except Exception as exc:  # offline: URLError, socket errors, RuntimeError from torchvision
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise _missing("fashion-mnist", looked, f"torchvision download to {root} failed ({reason})") from None
    hit = _find_idx(root)
    if not hit:
        raise _missing("fashion-mnist", looked + [str(root)], "torchvision download left no IDX files")
    return hit[0], DataSource("fashion-mnist", str(root), "download", hit[1])


def load_fashion_mnist(data_dir: str | None = None, download: bool | None = None) -> Datasets:
    files, source = find_fashion_mnist(data_dir, download)
    return Datasets(_load_fmnist_split(files, "train"), _load_fmnist_split(files, "test"), 10, source)


# ---------------------------------------------------------------------------------------------
# CIFAR-100: torchvision's loader on the python-pickle layout


def _cifar_root(path: Path) -> Path | None:
    """The root torchvision wants (the folder above cifar-100-python), if ``path`` has the data."""
    for root in (path, path.parent if path.name == CIFAR_FOLDER else None):
        if root is not None and (root / CIFAR_FOLDER).is_dir():
            present = [(root / CIFAR_FOLDER / n).is_file() for n in CIFAR_FILES]
            if any(present) and not all(present):
                missing = CIFAR_FILES[present.index(False)]
                raise GwpError(root / CIFAR_FOLDER / missing, "", "is missing (the other CIFAR-100 files are there)",
                               "add it, or point --data-dir at a complete copy")
            if all(present):
                return root
    return None


def check_cifar_file(path: Path) -> None:
    """Read one CIFAR-100 pickle as torchvision would and raise GwpError on the first defect."""
    fix = "replace it with the file from cifar-100-python.tar.gz, or pass --data-dir with a good copy"
    try:
        with open(path, "rb") as handle:
            entry = pickle.load(handle, encoding="latin1")
    except Exception as exc:  # truncated: EOFError / UnpicklingError; garbage: many kinds
        raise GwpError(path, "", f"is not a readable pickle ({type(exc).__name__}: truncated or corrupt)", fix) from None
    if not isinstance(entry, dict):
        raise GwpError(path, "", f"holds a {type(entry).__name__}, expected a dict", fix)
    if entry and all(isinstance(k, bytes) for k in entry):
        raise GwpError(path, "", "was re-pickled by Python 3 (its keys are bytes, e.g. b'data'); torchvision reads "
                       "the original Python 2 pickles", fix)
    if path.name == "meta":
        names = entry.get("fine_label_names")
        if not isinstance(names, list) or len(names) != 100:
            raise GwpError(path, "fine_label_names", "must list the 100 fine class names", fix)
        return
    data, labels = entry.get("data"), entry.get("fine_labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise GwpError(path, "data", f"must be a uint8 array of shape (n, 3072), got {shape}", fix)
    if not isinstance(labels, list) or len(labels) != len(data):
        count = len(labels) if isinstance(labels, list) else "no"
        raise GwpError(path, "fine_labels", f"has {count} labels for {len(data)} images", fix)
    if labels and (min(labels) < 0 or max(labels) >= 100):
        raise GwpError(path, "fine_labels", "holds labels outside 0..99", fix)


def _cifar_class():
    from torchvision import datasets

    class CIFAR100(datasets.CIFAR100):
        """torchvision's loader; presence replaces its MD5 check so that any faithful copy loads
        (defects are caught by reading, and named, instead)."""

        def _check_integrity(self) -> bool:
            folder = Path(self.root) / self.base_folder
            return all((folder / name).is_file() for name, _ in self.train_list + self.test_list)

        def _load_meta(self) -> None:
            with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as handle:
                meta = pickle.load(handle, encoding="latin1")
            self.classes = meta[self.meta["key"]]
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    return CIFAR100


def _open_cifar(root: Path, train: bool, transform):
    try:
        ds = _cifar_class()(str(root), train=train, transform=transform, download=False)
    except Exception as exc:
        for name in (("train" if train else "test"), "meta"):
            check_cifar_file(root / CIFAR_FOLDER / name)
        raise GwpError(root / CIFAR_FOLDER, "", f"torchvision could not load it ({type(exc).__name__}: {exc})",
                       "check the files against cifar-100-python.tar.gz") from None
    if len(ds.targets) != len(ds.data) or (ds.targets and max(ds.targets) >= 100):
        check_cifar_file(root / CIFAR_FOLDER / ("train" if train else "test"))
    return ds


def load_cifar100(data_dir: str | None = None, download: bool | None = None) -> Datasets:
    from torchvision import transforms

    looked, root, how = [], None, None
    for path, kind in _candidates("cifar100", data_dir):
        looked.append(f"{path} ({kind})")
        if path.is_dir():
            root = _cifar_root(path)
            if root:
                how = kind
                break
    if root is None:
        if not download:
            raise _missing("cifar100", looked, "download not attempted (pass --download to fetch it)")
        root = Path(data_dir or os.environ.get("GWP_DATA") or default_download_root())
        try:
            _torchvision_download("cifar100", root)
        except Exception as exc:
            reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
            raise _missing("cifar100", looked, f"torchvision download to {root} failed ({reason})") from None
        how = "download"
    normalise = transforms.Normalize(CIFAR100_MEAN, CIFAR100_STD)
    train_tf = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), normalise])
    test_tf = transforms.Compose([transforms.ToTensor(), normalise])
    train = _open_cifar(root, True, train_tf)
    test = _open_cifar(root, False, test_tf)
    source = DataSource("cifar100", str(root), how, f"torchvision {CIFAR_FOLDER}")
    return Datasets(train, test, 100, source)


def load_dataset(dataset: str, data_dir: str | None = None, download: bool | None = None) -> Datasets:
    """Find and open ``dataset``; ``download`` None means: Fashion-MNIST may, CIFAR-100 may not."""
    if dataset == "fashion-mnist":
        return load_fashion_mnist(data_dir, download)
    if dataset == "cifar100":
        return load_cifar100(data_dir, download)
    raise GwpError("--dataset", "", f"unknown dataset {dataset!r}", "use fashion-mnist or cifar100")
