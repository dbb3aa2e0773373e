"""rob.datasets: the digits tasks, and the MNIST / CIFAR-10 loaders on tiny files written here."""

import gzip
import pickle

import numpy as np
import pytest

from rob import datasets


def test_digits_tasks_and_split():
    t = datasets.load_digits_task("parity", seed=0, n_train=400)
    assert t.X.shape == (400, 64) and t.X_test.shape == (1397, 64) and t.image_shape == (8, 8)
    assert t.X.dtype == np.float64 and t.X.min() >= 0 and t.X.max() <= 1
    y = np.concatenate([t.y, t.y_test])
    assert (y == 1).sum() == 906 and (y == -1).sum() == 891
    again = datasets.load_digits_task("parity", seed=0, n_train=400)
    np.testing.assert_array_equal(t.X, again.X)
    other = datasets.load_digits_task("parity", seed=1, n_train=400)
    assert not np.array_equal(t.X, other.X)
    p = datasets.load_digits_task("pair:3,8", seed=0)
    assert len(p.y) == 238 and len(p.y_test) == 119
    assert datasets.load_digits_task().X.shape == (1198, 64)
    # the pixel grid is the one of load_digits (x = pixels/16)
    from sklearn.datasets import load_digits
    perm = np.random.default_rng(0).permutation(1797)
    np.testing.assert_array_equal(t.X[0] * 16, load_digits().data[perm[0]])
    for bad in ("odd", "pair:3", "pair:3,3", "pair:a,b"):
        with pytest.raises(ValueError):
            datasets.load_digits_task(bad)
    with pytest.raises(ValueError, match="n_train"):
        datasets.load_digits_task("parity", n_train=1797)


# -- MNIST ---------------------------------------------------------------------------------------------

def _idx(data: np.ndarray, magic: int) -> bytes:
    head = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in data.shape)
    return head + data.astype(np.uint8).tobytes()


def _write_mnist(root, compress=False, n=5, n_labels=None):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labs = np.arange(n_labels or n, dtype=np.uint8) % 10
    for split, (iname, lname) in datasets.MNIST_FILES.items():
        for name, raw in ((iname, _idx(imgs, 2051)), (lname, _idx(labs, 2049))):
            if compress:
                (root / f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                (root / name).write_bytes(raw)
    return imgs, labs


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_round_trip(tmp_path, compress):
    imgs, labs = _write_mnist(tmp_path, compress)
    X, y = datasets.load_mnist(tmp_path, "train")
    assert X.shape == (5, 784) and X.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(X, imgs.reshape(5, -1))
    np.testing.assert_array_equal(y, labs)
    task = datasets.file_task(X, y, *datasets.load_mnist(tmp_path, "test"), "parity", 3, 2, "mnist", (28, 28))
    assert task.X.dtype == np.float64 and task.X.max() <= 1 and task.X.min() >= 0
    np.testing.assert_allclose(task.X * 255, imgs.reshape(5, -1)[:3])
    np.testing.assert_array_equal(task.y, [-1, 1, -1])
    pair = datasets.file_task(X, y, X, y, "pair:1,3", 2, 2, "mnist", (28, 28))
    np.testing.assert_array_equal(pair.y, [-1, 1])
    with pytest.raises(ValueError, match="only"):
        datasets.file_task(X, y, X, y, "pair:1,3", 3, 2, "mnist", (28, 28))


def test_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        datasets.load_mnist(tmp_path)
    with pytest.raises(ValueError, match="split"):
        datasets.load_mnist(tmp_path, "valid")
    _write_mnist(tmp_path, n=5, n_labels=4)
    with pytest.raises(ValueError, match="labels"):
        datasets.load_mnist(tmp_path)
    img = tmp_path / "train-images-idx3-ubyte"
    good = _idx(np.zeros((5, 28, 28), np.uint8), 2051)
    for broken, msg in ((b"\x01" + good[1:], "IDX file"), (good[:2] + b"\x0d" + good[3:], "type byte"),
                        (_idx(np.zeros((5, 28, 28), np.uint8), 2049 + 0x100 * 0), "magic"),
                        (good[:-3], "bytes")):
        img.write_bytes(broken)
        with pytest.raises(ValueError, match=msg):
            datasets.load_mnist(tmp_path)


# -- CIFAR-10 ------------------------------------------------------------------------------------------

def _cifar_records(labels, rng):
    imgs = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
    return imgs, np.concatenate([np.asarray(labels, np.uint8)[:, None], imgs], axis=1).tobytes()


def test_cifar_binary_and_python_layouts(tmp_path):
    rng = np.random.default_rng(1)
    tr_lab, te_lab = [0, 1, 2, 1], [1, 0, 0]
    tr_img, tr_raw = _cifar_records(tr_lab, rng)
    tr_img[2, :] = 0
    tr_img[2, 5] = 255                          # one red pixel: index 0..1023 is the red channel
    tr_raw = np.concatenate([np.asarray(tr_lab, np.uint8)[:, None], tr_img], 1).tobytes()
    te_img, te_raw = _cifar_records(te_lab, rng)
    binroot = tmp_path / "bin" / "cifar-10-batches-bin"
    binroot.mkdir(parents=True)
    (binroot / "data_batch_1.bin").write_bytes(tr_raw)
    (binroot / "test_batch.bin").write_bytes(te_raw)
    with pytest.raises(FileNotFoundError, match="need at least 5"):
        datasets.load_cifar10(tmp_path / "bin", "train")
    X, y = datasets.load_cifar10(tmp_path / "bin", "train", min_train_batches=1)
    assert X.shape == (4, 3072) and X.dtype == np.uint8
    np.testing.assert_array_equal(X, tr_img)
    np.testing.assert_array_equal(y, tr_lab)
    assert X[2].reshape(3, 32, 32)[0, 0, 5] == 255 and X[2].reshape(3, 32, 32)[1:].max() == 0
    Xt, yt = datasets.load_cifar10(tmp_path / "bin", "test")
    np.testing.assert_array_equal(Xt, te_img)
    task = datasets.file_task(X, y, Xt, yt, "pair:0,1", 2, 3, "cifar10", (3, 32, 32))
    np.testing.assert_array_equal(task.y, [-1, 1]) and np.testing.assert_array_equal(task.y_test, [1, -1, -1])
    np.testing.assert_allclose(task.X * 255, tr_img[:2])

    pyroot = tmp_path / "py" / "cifar-10-batches-py"
    pyroot.mkdir(parents=True)
    for name, img, lab in (("data_batch_1", tr_img, tr_lab), ("test_batch", te_img, te_lab)):
        with (pyroot / name).open("wb") as fh:
            pickle.dump({b"data": img, b"labels": list(lab)}, fh)
    Xp, yp = datasets.load_cifar10(tmp_path / "py", "train", min_train_batches=1)
    np.testing.assert_array_equal(Xp, X)
    np.testing.assert_array_equal(yp, y)
    np.testing.assert_array_equal(datasets.load_cifar10(tmp_path / "py", "test")[0], Xt)


def test_cifar_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_batch_1.bin"):
        datasets.load_cifar10(tmp_path, "train")
    with pytest.raises(ValueError, match="split"):
        datasets.load_cifar10(tmp_path, "valid")
    (tmp_path / "test_batch.bin").write_bytes(b"\x00" * 3074)
    with pytest.raises(ValueError, match="multiple"):
        datasets.load_cifar10(tmp_path, "test")
    (tmp_path / "test_batch.bin").write_bytes(b"\x0c" + b"\x00" * 3072)
    with pytest.raises(ValueError, match="label"):
        datasets.load_cifar10(tmp_path, "test")
    (tmp_path / "test_batch.bin").unlink()
    with (tmp_path / "test_batch").open("wb") as fh:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]}, fh)
    with pytest.raises(ValueError, match="labels"):
        datasets.load_cifar10(tmp_path, "test")
    with (tmp_path / "test_batch").open("wb") as fh:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [1, 2]}, fh)
    with pytest.raises(ValueError, match="shape"):
        datasets.load_cifar10(tmp_path, "test")


def test_load_task_dispatch(tmp_path):
    _write_mnist(tmp_path)
    t = datasets.load_task("mnist:parity", seed=0, n_train=3, n_test=2, root=tmp_path)
    assert t.X.shape == (3, 784) and t.name == "mnist:parity"
    assert datasets.load_task("parity", 0, 400).X.shape == (400, 64)
    with pytest.raises(FileNotFoundError):
        datasets.load_task("cifar10:0,1", root=tmp_path)
    with pytest.raises(ValueError, match="unknown task"):
        datasets.load_task("digits")
