import gzip
import io
import socket
import tarfile
from dataclasses import replace

import numpy as np
import pytest

from core import datasets
from core.datasets import DatasetError
from core.datasets.base import DatasetInfo, Raw, split
from core.runner import run_key


def ids_raw(n=200, classes=4, test=None) -> Raw:
    """Rows that are their own ids, so overlap between splits is easy to see."""
    y = np.arange(n) % classes
    info = DatasetInfo("ids", "ids", "tabular", (1,), tuple(map(str, range(classes))), "multiclass")
    return Raw(np.arange(n, dtype=np.float32)[:, None], y, info, test)


def test_splits_never_overlap_cover_everything_and_are_stratified_and_seeded():
    raw = ids_raw()
    a, b = split(raw, "fp"), split(raw, "fp")
    # Features are standardized with training statistics: still one distinct value per id.
    ids = {
        name: set(np.round(getattr(a, f"x_{name}")[:, 0], 4)) for name in ("train", "val", "test")
    }
    assert not (ids["train"] & ids["val"]) and not (ids["train"] & ids["test"])
    assert not (ids["val"] & ids["test"])
    assert sum(len(v) for v in ids.values()) == 200
    assert a.sizes() == {"train": 128, "validation": 32, "test": 40}
    for name in ("train", "val", "test"):
        counts = np.bincount(getattr(a, f"y_{name}"))
        assert counts.max() - counts.min() <= 1, f"{name} split is not stratified"
        assert np.array_equal(getattr(a, f"x_{name}"), getattr(b, f"x_{name}"))


def test_an_official_test_split_is_kept_and_validation_comes_from_training():
    test_x = np.full((20, 1), -1.0, np.float32)
    raw = ids_raw(test=(test_x, np.arange(20) % 4))
    data = split(raw, "fp")
    assert len(data.y_test) == 20
    assert data.sizes()["train"] + data.sizes()["validation"] == 200


def test_a_held_out_value_too_far_for_float32_is_refused_by_name():
    info = DatasetInfo("t", "t", "tabular", (2,), ("a", "b"), "binary")
    x, y = np.arange(80, dtype=float).reshape(40, 2), np.arange(40) % 2
    far = x[:4].copy()
    far[1, 1] = 1e300  # a float64, but ~1e299 standard deviations from the training mean
    raw = Raw(x, y, info, test=(far, y[:4]), features=("near", "far"))
    with pytest.raises(DatasetError, match="^'far' has a validation or test value too far"):
        split(raw, "fp")


def test_label_noise_on_regression_data_is_refused_everywhere_in_the_core(tmp_path):
    """It was `ValueError: high <= 0` from numpy, in the middle of a training."""
    with pytest.raises(DatasetError, match="^Noisy sine is regression data"):
        datasets.base_spec("sine", label_noise=0.2)
    spec = replace(datasets.base_spec("sine"), label_noise=0.2)  # as a sweep builds it
    with pytest.raises(DatasetError, match="regression data"):
        run_key(spec)  # before anything is queued
    with pytest.raises(DatasetError, match="regression data"):
        datasets.for_spec(spec).training(0, 0.2)  # and in the worker, should one get there
    prices = tmp_path / "prices.csv"
    prices.write_text("target,size\n" + "".join(f"{i * 1.37:.2f},{i}\n" for i in range(60)))
    assert datasets.info(str(prices)).task == "regression"
    with pytest.raises(DatasetError, match="^prices.csv is regression data"):
        datasets.base_spec(str(prices), label_noise=0.1)


def test_training_sizes_are_nested_stratified_prefixes_of_the_training_split():
    data = datasets.load("digits")
    small, larger = data.training(100), data.training(400)
    assert len(small.y_train) == 100 and len(larger.y_train) == 400
    assert np.bincount(small.y_train, minlength=10).min() >= 9
    assert np.array_equal(larger.x_train[:100], small.x_train)  # 100 are the first of 400
    train_rows = {r.tobytes() for r in data.x_train}
    assert all(r.tobytes() in train_rows for r in larger.x_train)
    assert small.x_val is data.x_val and small.x_test is data.x_test
    everything = data.training(0)
    assert len(everything.y_train) == len(data.y_train) == data.train_count(10**6)


@pytest.mark.parametrize("name", ["moons", "circles", "spiral", "xor", "sine"])
def test_generated_datasets_are_seeded_and_keep_large_fixed_held_out_sets(no_network, name):
    entry = datasets.resolve(name)
    assert entry.generated and entry.available()
    defaults = datasets.defaults(name)
    noise, size = defaults["data_noise"], defaults["data_size"]
    a, b = datasets.load(name, noise, size), datasets.load(name, noise, size)
    assert np.array_equal(a.x_train, b.x_train) and len(a.y_train) == size
    bigger = datasets.load(name, noise, size * 2)
    assert len(bigger.y_val) == len(a.y_val) >= 500 and len(a.y_test) == len(a.y_val)
    if name != "sine":  # the same validation draws whatever the size (sine's y is rescaled)
        assert np.array_equal(bigger.y_val, a.y_val)
    noisier = datasets.load(name, noise + 0.2, size)
    assert datasets.fingerprint(name, noise, size) != datasets.fingerprint(name, noise + 0.2, size)
    assert not np.allclose(noisier.x_train if name != "sine" else noisier.y_train,
                           a.x_train if name != "sine" else a.y_train)  # fmt: skip
    if name == "sine":
        assert a.info.task == "regression" and a.info.input_shape == (1,)
    else:
        assert a.info.task == "binary" and a.info.input_shape == (2,)
        assert abs(a.y_val.mean() - 0.5) < 0.1  # both classes, balanced


def test_noise_and_size_belong_to_generated_datasets_only():
    with pytest.raises(DatasetError, match="no noise or size"):
        datasets.load("iris", 0.3, 100)
    with pytest.raises(DatasetError, match="number of points"):
        datasets.load("moons", 0.3, 0)


@pytest.mark.parametrize(
    "name,modality,shape,classes",
    [
        ("iris", "tabular", (4,), 3),
        ("wine", "tabular", (13,), 3),
        ("breast_cancer", "tabular", (30,), 2),
        ("digits", "image", (8, 8, 1), 10),
        ("mnist5k", "image", (28, 28, 1), 10),
    ],
)
def test_offline_datasets_load_as_described(no_network, name, modality, shape, classes):
    entry = datasets.resolve(name)
    assert entry.available()
    data = datasets.load(name)
    assert data.info == entry.info
    assert (data.info.modality, data.info.input_shape, data.info.num_classes) == (
        modality,
        shape,
        classes,
    )
    assert data.x_train.shape[1:] == shape
    if modality == "image":
        assert data.x_train.dtype == np.uint8 and data.x_train.max() > 200
    else:  # standardized with training statistics
        assert np.allclose(data.x_train.mean(axis=0), 0, atol=1e-4)
    assert set(np.unique(data.y_train)) == set(range(classes))


# --- datasets that Keras downloads: files written here in Keras's format -----------------


def idx_gz(path, array, magic):
    header = np.array([magic, len(array), *array.shape[1:]], ">i4").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def labelled_images(n, shape):
    """Images whose pixels all equal 20 * label, so a misaligned read shows."""
    y = np.arange(n) % 10
    return (np.ones((n, *shape), np.uint8) * (20 * y).reshape(-1, *[1] * len(shape))), y


def folder(cache_dir):
    path = cache_dir / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_mnist_reads_kerass_npz(cache_dir, no_network):
    x, y = labelled_images(60, (28, 28))
    xt, yt = labelled_images(30, (28, 28))
    np.savez(
        folder(cache_dir) / "mnist.npz",
        x_train=x,
        y_train=y.astype(np.uint8),
        x_test=xt,
        y_test=yt.astype(np.uint8),
    )
    data = datasets.load("mnist")
    assert data.x_train.shape[1:] == (28, 28, 1) and len(data.y_test) == 30
    assert np.all(data.x_train[..., 0].mean(axis=(1, 2)) == 20 * data.y_train)


def test_fashion_mnist_reads_kerass_idx_files(cache_dir, no_network):
    base = folder(cache_dir) / "fashion-mnist"
    x, y = labelled_images(60, (28, 28))
    xt, yt = labelled_images(20, (28, 28))
    idx_gz(base / "train-images-idx3-ubyte.gz", x, 2051)
    idx_gz(base / "train-labels-idx1-ubyte.gz", y, 2049)
    idx_gz(base / "t10k-images-idx3-ubyte.gz", xt, 2051)
    idx_gz(base / "t10k-labels-idx1-ubyte.gz", yt, 2049)
    data = datasets.load("fashion_mnist")
    assert data.info.class_names[0] == "T-shirt/top" and data.info.flip_ok
    assert np.all(data.x_val[..., 0].mean(axis=(1, 2)) == 20 * data.y_val)
    assert np.array_equal(np.sort(data.y_test), np.sort(yt))


def test_cifar10_reads_the_binary_release(cache_dir, no_network):
    def records(n):
        y = np.arange(n) % 10
        planes = np.stack([np.full((n, 32, 32), 20 * y[:, None, None] + c) for c in range(3)], 1)
        return np.concatenate([y[:, None], planes.reshape(n, -1)], 1).astype(np.uint8), y

    with tarfile.open(folder(cache_dir) / "cifar-10-binary.tar.gz", "w:gz") as tar:
        for name, n in [(f"data_batch_{i}.bin", 20) for i in range(1, 6)] + [
            ("test_batch.bin", 20)
        ]:
            data, _ = records(n)
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = data.nbytes
            tar.addfile(info, io.BytesIO(data.tobytes()))
    data = datasets.load("cifar10")
    assert data.x_train.shape[1:] == (32, 32, 3)
    assert len(data.y_train) + len(data.y_val) == 100 and len(data.y_test) == 20
    # Channel planes land in the last axis: R = 20y, G = 20y+1, B = 20y+2.
    for c in range(3):
        assert np.all(data.x_train[:, 5, 7, c] == 20 * data.y_train + c)


def test_imdb_reads_the_review_archive_as_multi_hot(cache_dir, no_network):
    words = {"pos": "a great wonderful moving film", "neg": "an awful boring dull film"}
    with tarfile.open(folder(cache_dir) / "aclImdb_v1.tar.gz", "w:gz") as tar:
        for split_name, n in (("train", 15), ("test", 6)):
            for label in ("pos", "neg", "unsup"):
                for i in range(n):
                    text = f"{words.get(label, 'unlabelled text')} number{i}".encode()
                    info = tarfile.TarInfo(f"aclImdb/{split_name}/{label}/{i}_7.txt")
                    info.size = len(text)
                    tar.addfile(info, io.BytesIO(text))
    data = datasets.load("imdb")
    assert data.info.modality == "text" and data.info.task == "binary"
    assert data.x_train.shape[1] == 10_000 and len(data.y_test) == 12  # unsup is ignored
    assert len(data.y_train) + len(data.y_val) == 30
    pos, neg = data.x_train[data.y_train == 1], data.x_train[data.y_train == 0]
    shared_pos = np.flatnonzero(pos.min(axis=0))  # words in every positive review
    shared_neg = np.flatnonzero(neg.min(axis=0))
    assert len(shared_pos) == 5 and len(shared_neg) == 5  # 4 own words + "film"
    assert len(set(shared_pos) & set(shared_neg)) == 1
    assert (cache_dir / "datasets" / "imdb-multihot.npz").is_file()  # prepared once


def test_a_missing_download_names_the_file_and_the_command(cache_dir, no_network):
    entry = datasets.resolve("cifar10")
    assert not entry.available()
    with pytest.raises(DatasetError) as caught:
        datasets.load("cifar10")
    message = str(caught.value)
    assert "python -m core download cifar10" in message
    assert str(cache_dir / "datasets" / "cifar-10-binary.tar.gz") in message


def test_download_without_a_network_explains_where_to_put_the_file(cache_dir, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket.socket, "connect", offline)
    monkeypatch.setattr(socket, "create_connection", offline)
    with pytest.raises(DatasetError, match="could not download .*mnist.npz.* copy that file"):
        datasets.download("mnist")


def test_a_corrupt_download_says_so(cache_dir, no_network):
    (folder(cache_dir) / "mnist.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match="not a valid dataset file"):
        datasets.load("mnist")


def test_unknown_names_are_refused_clearly():
    with pytest.raises(DatasetError, match="unknown dataset 'cifar11'"):
        datasets.resolve("cifar11")
    with pytest.raises(DatasetError, match="no longer on this server"):
        datasets.resolve("upload:0123456789abcdef")


@pytest.mark.parametrize(
    "name,words",
    [
        ("", "must be named"),
        ("   ", "must be named"),
        ("x" * 300, "too long"),
        ("a/" + "b" * 300 + ".csv", "too long"),
        ("digits\x00.csv", "NUL"),
    ],
)
def test_names_no_file_system_takes_are_refused_before_touching_one(name, words):
    with pytest.raises(DatasetError, match=words):
        datasets.resolve(name)
    with pytest.raises(DatasetError, match=words):
        datasets.check_allowed(name)
