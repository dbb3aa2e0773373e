"""Image data sets for the kernel chapters: scikit-learn's 8×8 digits (ships with the package, no
network access), and optional loaders for MNIST and CIFAR-10 read from local files.

Binary tasks, labels ``y ∈ {−1, +1}``:

- ``parity``: ``y = +1`` for odd digits, ``−1`` for even digits;
- ``pair:a,b``: only classes a (``y = −1``) and b (``y = +1``).

Digits: inputs ``x = pixels/16 ∈ [0, 1]^64`` in ``load_digits().data`` order; split by
``perm = default_rng(seed).permutation(N_task)``, train = ``perm[:n_train]``, test = the rest.
MNIST/CIFAR-10: uint8 files are read as they are and only the selected images are converted to
float64 ``/255``.  Nothing here downloads anything.
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class BinaryTask:
    """Training and test inputs (float64 rows in [0, 1]) with ±1 labels."""

    name: str
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...]


def binary_labels(labels: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray]:
    """``(keep, y)`` for ``task`` ∈ {"parity", "pair:a,b"}: a boolean mask of kept images and their ±1 labels."""
    labels = np.asarray(labels)
    if task == "parity":
        return np.ones(len(labels), bool), np.where(labels % 2 == 1, 1.0, -1.0)
    if task.startswith("pair:"):
        try:
            a, b = (int(s) for s in task[5:].split(","))
        except ValueError:
            raise ValueError(f"task {task!r}: use 'pair:a,b' with two class numbers") from None
        if a == b:
            raise ValueError(f"task {task!r}: the two classes must differ")
        keep = (labels == a) | (labels == b)
        return keep, np.where(labels[keep] == b, 1.0, -1.0)
    raise ValueError(f"unknown task {task!r}; use 'parity' or 'pair:a,b'")


def load_digits_task(task: str = "parity", seed: int = 0, n_train: int | None = None) -> BinaryTask:
    """scikit-learn's digits as a binary task; ``n_train=None`` gives ``⌊2N/3⌋``."""
    from sklearn.datasets import load_digits

    data = load_digits()
    keep, y = binary_labels(data.target, task)
    X = data.data[keep].astype(np.float64) / 16.0
    N = len(X)
    n_train = (2 * N) // 3 if n_train is None else int(n_train)
    if not 1 <= n_train < N:
        raise ValueError(f"n_train must lie in [1, {N - 1}] for task {task!r}, got {n_train}")
    perm = np.random.default_rng(seed).permutation(N)
    tr, te = perm[:n_train], perm[n_train:]
    return BinaryTask(f"digits:{task}", X[tr], y[tr], X[te], y[te], (8, 8))


# ----------------------------------------------------------------------------------------------
# MNIST (IDX files)
# ----------------------------------------------------------------------------------------------

MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _open_maybe_gz(root: Path, name: str) -> bytes:
    for cand in (root / name, root / f"{name}.gz"):
        if cand.is_file():
            return gzip.decompress(cand.read_bytes()) if cand.suffix == ".gz" else cand.read_bytes()
    raise FileNotFoundError(f"{root}: missing {name} (or {name}.gz); the MNIST files are "
                            f"{', '.join(f for pair in MNIST_FILES.values() for f in pair)}")


def read_idx(raw: bytes, magic: int, ndim: int) -> np.ndarray:
    """Parse an IDX file (big-endian: two zero bytes, type byte 0x08 = uint8, number of dimensions,
    one uint32 per dimension, then the data)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError("not an IDX file (the first two bytes must be zero)")
    if raw[2] != 0x08:
        raise ValueError(f"IDX type byte {raw[2]:#04x}; only unsigned bytes (0x08) are supported")
    got_magic = int.from_bytes(raw[:4], "big")
    if got_magic != magic or raw[3] != ndim:
        raise ValueError(f"IDX magic {got_magic} (expected {magic}, {ndim} dimensions)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError("truncated IDX header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(dims))
    if len(raw) - header != size:
        raise ValueError(f"IDX data has {len(raw) - header} bytes, expected {size} for dims {dims}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist(root: str | Path, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST from the four IDX files (optionally ``.gz``) in ``root``: uint8 images (N, 784) and int64 labels."""
    if split not in MNIST_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    img_name, lab_name = MNIST_FILES[split]
    images = read_idx(_open_maybe_gz(root, img_name), 2051, 3)
    labels = read_idx(_open_maybe_gz(root, lab_name), 2049, 1)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return images.reshape(len(images), -1).copy(), labels.astype(np.int64)


# ----------------------------------------------------------------------------------------------
# CIFAR-10 (binary or python distribution)
# ----------------------------------------------------------------------------------------------

CIFAR_RECORD = 1 + 3072


def _cifar_names(split: str, min_train_batches: int) -> list[str]:
    if split == "train":
        return [f"data_batch_{i}" for i in range(1, 6)]
    if split == "test":
        return ["test_batch"]
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def load_cifar10(root: str | Path, split: str = "train", min_train_batches: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 in file order: uint8 images (N, 3072) (1024 red, 1024 green, 1024 blue, each 32×32
    row-major) and int64 labels.  ``root`` may hold (or be) ``cifar-10-batches-bin/``
    (``data_batch_1.bin`` … ``data_batch_5.bin``, ``test_batch.bin``) or ``cifar-10-batches-py/``
    (pickles; unpickling is only safe for files you trust).  ``min_train_batches`` < 5 accepts fewer
    training batches (for tests)."""
    root = Path(root)
    names = _cifar_names(split, min_train_batches)
    for folder in (root / "cifar-10-batches-bin", root):
        paths = [folder / f"{n}.bin" for n in names]
        found = [p for p in paths if p.is_file()]
        if found:
            return _read_cifar_bin(found, len(names) if split == "test" else min_train_batches)
    for folder in (root / "cifar-10-batches-py", root):
        paths = [folder / n for n in names]
        found = [p for p in paths if p.is_file()]
        if found:
            return _read_cifar_py(found, len(names) if split == "test" else min_train_batches)
    raise FileNotFoundError(f"{root}: no CIFAR-10 {split} files; expected cifar-10-batches-bin/ with "
                            f"{', '.join(n + '.bin' for n in names)} or cifar-10-batches-py/ with {', '.join(names)}")


def _need(found: list[Path], required: int) -> None:
    if len(found) < required:
        raise FileNotFoundError(f"found only {[p.name for p in found]}; need at least {required} batch file(s)")


def _read_cifar_bin(paths: list[Path], required: int) -> tuple[np.ndarray, np.ndarray]:
    _need(paths, required)
    images, labels = [], []
    for p in paths:
        raw = p.read_bytes()
        if len(raw) == 0 or len(raw) % CIFAR_RECORD:
            raise ValueError(f"{p.name}: {len(raw)} bytes is not a multiple of the record size {CIFAR_RECORD}")
        rec = np.frombuffer(raw, np.uint8).reshape(-1, CIFAR_RECORD)
        if rec[:, 0].max() > 9:
            raise ValueError(f"{p.name}: label byte above 9")
        labels.append(rec[:, 0].astype(np.int64))
        images.append(rec[:, 1:].copy())
    return np.concatenate(images), np.concatenate(labels)


def _read_cifar_py(paths: list[Path], required: int) -> tuple[np.ndarray, np.ndarray]:
    _need(paths, required)
    images, labels = [], []
    for p in paths:
        with p.open("rb") as fh:
            batch = pickle.load(fh, encoding="bytes")  # trusted files only
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        lab = np.asarray(batch[b"labels"], dtype=np.int64)
        if data.ndim != 2 or data.shape[1] != 3072:
            raise ValueError(f"{p.name}: data of shape {data.shape}, expected (N, 3072)")
        if len(data) != len(lab):
            raise ValueError(f"{p.name}: {len(data)} images but {len(lab)} labels")
        images.append(data)
        labels.append(lab)
    return np.concatenate(images), np.concatenate(labels)


def file_task(images_train: np.ndarray, labels_train: np.ndarray, images_test: np.ndarray,
              labels_test: np.ndarray, task: str, n_train: int, n_test: int, name: str,
              image_shape: tuple[int, ...], seed: int | None = None) -> BinaryTask:
    """A binary task from uint8 train/test files: filter by ``task``, then take the first ``n_train``
    / ``n_test`` images (file order, the authors' convention) or, with ``seed``, the first entries of
    seeded permutations; only the selected images are converted to float64 ``/255``."""
    def pick(images, labels, k, stream):
        keep, y = binary_labels(labels, task)
        idx = np.flatnonzero(keep)
        order = np.arange(len(idx)) if seed is None else np.random.default_rng([seed, stream]).permutation(len(idx))
        sel = order[:k]
        if len(sel) < k:
            raise ValueError(f"{name}: only {len(idx)} images for task {task!r}, asked for {k}")
        return images[idx[sel]].astype(np.float64) / 255.0, y[sel]

    X, y = pick(images_train, labels_train, n_train, 0)
    Xt, yt = pick(images_test, labels_test, n_test, 1)
    return BinaryTask(f"{name}:{task}", X, y, Xt, yt, image_shape)


def load_task(spec: str, seed: int = 0, n_train: int | None = None, n_test: int | None = None,
              root: str | Path = "data") -> BinaryTask:
    """``"parity"`` / ``"pair:a,b"`` (digits), ``"mnist:<task>"`` or ``"cifar10:a,b"`` (local files under
    ``root``; MNIST: seeded permutations, 2000/2000 by default; CIFAR-10: file order, 2000/100)."""
    if spec.startswith("mnist:"):
        tr, te = load_mnist(root, "train"), load_mnist(root, "test")
        return file_task(*tr, *te, spec[6:], n_train or 2000, n_test or 2000, "mnist", (28, 28), seed=seed)
    if spec.startswith("cifar10:"):
        tr, te = load_cifar10(root, "train"), load_cifar10(root, "test")
        return file_task(*tr, *te, "pair:" + spec[8:], n_train or 2000, n_test or 100, "cifar10", (3, 32, 32))
    return load_digits_task(spec, seed, n_train)
