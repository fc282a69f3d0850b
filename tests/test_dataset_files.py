"""The user's own data: CSV files and image folders."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from core import datasets
from core.cache import RunStore
from core.datasets import DatasetError, files
from core.datasets.base import split

SIGN_LABELS = [k for k in range(25) if k != 9]  # sign-language MNIST: no J (9)


def sign_csv(path, rows_per_class=10):
    rng = np.random.default_rng(0)
    lines = ["label," + ",".join(f"pixel{i}" for i in range(1, 785))]
    for label in SIGN_LABELS:
        for _ in range(rows_per_class):
            pixels = rng.integers(0, 256, 784)
            pixels[0] = label  # the first pixel carries the label, to check alignment
            lines.append(f"{label}," + ",".join(map(str, pixels)))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_sign_language_csv_loads_as_28x28_images_with_24_classes(tmp_path):
    data = datasets.load(str(sign_csv(tmp_path / "sign_mnist_train.csv")))
    info = data.info
    assert (info.modality, info.input_shape, info.num_classes) == ("image", (28, 28, 1), 24)
    assert info.class_names == tuple(str(k) for k in SIGN_LABELS)
    assert data.x_train.dtype == np.uint8
    for x, y in zip(data.x_train, data.y_train, strict=True):
        assert int(x[0, 0, 0]) == SIGN_LABELS[y]  # labels stayed with their rows
    assert sum(data.sizes().values()) == 240


def test_labels_may_be_words_and_features_get_standardized(tmp_path):
    path = tmp_path / "pets.csv"
    rows = [f"{w},{h},{'cat' if w < 5 else 'dog'}" for w in range(10) for h in range(3)]
    path.write_text("weight,height,Species\n" + "\n".join(rows))
    data = datasets.load(str(path))
    assert data.info.task == "binary" and data.info.class_names == ("cat", "dog")
    assert data.info.modality == "tabular" and data.x_train.shape[1] == 2


def test_a_csv_read_in_chunks_is_the_same_data(tmp_path, monkeypatch):
    """Big uploads are parsed in chunks (memory); chunks must not change what is read."""
    path = tmp_path / "chunks.csv"
    rows = [f"{('0', '1', 'cat')[i // 40]},{i * 0.5},{i % 7}" for i in range(120)]
    path.write_text("label,a,b\n" + "\n".join(rows))  # numbers first, a word later
    whole = datasets.load(str(path))
    monkeypatch.setattr(files, "CHUNK_CELLS", 21)  # 7 rows at a time
    again = split(files.read_csv(path, str(path), path.name), whole.fingerprint)
    assert again.info == whole.info and again.info.class_names == ("0", "1", "cat")
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(again, name), getattr(whole, name))
    rows[100] = "1,oops,3"
    path.write_text("label,a,b\n" + "\n".join(rows))
    with pytest.raises(DatasetError, match="'oops' on line 102"):
        files.read_csv(path, str(path), path.name)


def test_a_bom_and_semicolons_are_understood(tmp_path):
    path = tmp_path / "excel.csv"
    rows = [f"{i % 3};{i};{i * 2}" for i in range(60)]
    path.write_bytes(("\ufefflabel;a;b\n" + "\n".join(rows)).encode("utf-8"))
    data = datasets.load(str(path))
    assert data.info.num_classes == 3 and data.x_train.shape[1] == 2


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty"),
        (b"label,a,b\n", "no data rows"),
        (b"a,b,c\n1,2,3\n4,5,6\n", "no label column"),
        (b"label,a,b\n1,2,3\n0,5\n1,2,3,4,5\n", "not a readable CSV"),
        (b"label,a,b\n" + b"0,1,2\n1,1,x\n" * 10, "column 'b' has text"),
        (b"label,a,b\n" + b"0,1,\n1,1,2\n" * 10, "column 'b' is empty, NaN or infinite"),
        (b"label,a,b\n" + b"0,1,2\n" * 20, "same label"),
        (b"label,a,a\n" + b"0,1,2\n1,2,3\n" * 10, "repeats column name"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary file"),
        (
            b"label,"
            + b",".join(f"pixel{i}".encode() for i in range(784))
            + b"\n"
            + b"".join(f"{i % 2},".encode() + b",".join([b"300"] * 784) + b"\n" for i in range(20)),
            "pixel columns must hold",
        ),
    ],
    ids=[
        "empty",
        "header-only",
        "no-label",
        "ragged",
        "text",
        "nan",
        "one-class",
        "duplicate",
        "binary",
        "pixels-out-of-range",
    ],
)
def test_bad_csvs_are_refused_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=message):
        datasets.load(str(path))


def upload(filename: str, content: bytes, limit: int = 50 * 2**20) -> str:
    return datasets.save_upload(filename, io.BytesIO(content), limit)


def files_under(folder) -> list:
    return [p for p in folder.rglob("*") if not p.is_dir()]


def test_an_upload_is_kept_by_content_under_a_safe_name_and_found_by_it(cache_dir):
    content = b"label,a\n" + b"".join(f"{i % 2},{i}\n".encode() for i in range(40))
    name = upload("../../../../etc/cron.d/my data.csv", content)
    assert name == upload("renamed.csv", content)  # same bytes, same dataset, kept once
    (kept,) = files_under(cache_dir)
    assert kept.parent.parent == cache_dir / "uploads" and kept.name == "my_data.csv"
    assert datasets.resolve(name).paths() == [kept]
    assert datasets.load(name).info.num_classes == 2


@pytest.mark.parametrize(
    "content,words",
    [
        (b"a,b\n1,2\n", "no label column"),
        (b"label,a\n" + b"0,1\n1,2\n", "too few"),
        (b"label,a\n" + b"0,1\n1,2\n" * 150_000, "larger than 1 MB"),
    ],
)
def test_a_refused_upload_leaves_nothing_on_disk(cache_dir, content, words):
    with pytest.raises(DatasetError, match=words):
        upload("bad.csv", content, limit=2**20)
    assert files_under(cache_dir) == []


def test_uploads_count_toward_the_cache_cap_and_the_least_recently_used_go(cache_dir):
    rows = "".join(f"{i % 2},{i}\n" for i in range(40))
    first = upload("first.csv", f"label,a\n{rows}".encode())
    second = upload("second.csv", f"label,b\n{rows}".encode())
    store = RunStore()
    one = store.size() // 2
    assert one > 0  # uploads count
    for age, name in enumerate([second, first]):  # then `first` is opened: the recent one
        os.utime(cache_dir / "uploads" / name.split(":")[1], (1000 + age, 1000 + age))
    datasets.resolve(first)
    RunStore(max_bytes=one).evict()
    assert datasets.load(first).info.num_classes == 2
    with pytest.raises(DatasetError, match="no longer on this server"):
        datasets.resolve(second)


def test_an_accepted_upload_evicts_old_entries_under_the_operators_cap(cache_dir, monkeypatch):
    old = cache_dir / "uploads" / ("0" * 16)
    old.mkdir(parents=True)
    with open(old / "old.csv", "wb") as handle:
        handle.truncate(65 * 2**20)  # sparse: 65 MB that take no disk
    os.utime(old, (1000, 1000))
    monkeypatch.setenv("OVERFITTING_LAB_CACHE_MAX_MB", "64")
    name = upload("new.csv", b"label,a\n" + b"0,1\n1,2\n" * 20)
    assert not old.exists() and datasets.load(name).info.num_classes == 2


def test_an_image_folder_loads_with_one_class_per_subfolder(tmp_path, cache_dir):
    root = tmp_path / "pets"
    colours = {"cats": (220, 30, 30), "dogs": (30, 30, 220)}
    for cls, colour in colours.items():
        (root / cls).mkdir(parents=True)
        for i in range(10):
            size = (40 + i, 30 + 2 * i)  # any size: Keras resizes them all
            Image.new("RGB", size, colour).save(root / cls / f"{i}.png")
    data = datasets.load(str(root))
    info = data.info
    assert (info.modality, info.input_shape, info.class_names) == (
        "image",
        (64, 64, 3),
        ("cats", "dogs"),
    )
    assert info.flip_ok
    red = data.x_train[..., 0].mean(axis=(1, 2))
    assert np.all((red > 128) == (data.y_train == 0))  # cats are red, dogs blue
    assert list((cache_dir / "datasets" / "folders").glob("*.npz")), "decoded once, kept"


def test_a_folder_without_class_subfolders_is_refused(tmp_path):
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(DatasetError, match="one sub-folder per class"):
        datasets.load(str(tmp_path / "flat"))


def pets(root):
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (8, 8), (i * 30, 0, 0)).save(root / cls / f"{i}.png")
    return root


def truncated_png(path):
    Image.new("RGB", (40, 40), (1, 2, 3)).save(path)
    path.write_bytes(path.read_bytes()[:60])


@pytest.mark.parametrize(
    "plant,words",
    [
        (lambda p: p.write_bytes(b""), "dogs/bad.png is empty"),
        (lambda p: p.write_text("<html>not found</html>"), "dogs/bad.png is not an image"),
        (lambda p: Image.new("RGB", (8, 8)).save(p, format="TIFF"), "dogs/bad.png is a TIFF"),
        (truncated_png, "dogs/bad.png could not be decoded"),
    ],
    ids=["empty", "fake", "tiff", "truncated"],
)
def test_an_image_keras_cannot_decode_is_named(tmp_path, plant, words):
    """TensorFlow's own error names no file; a class of hundreds of photos needs the name."""
    root = pets(tmp_path / "pets")
    plant(root / "dogs" / "bad.png")
    with pytest.raises(DatasetError, match=f"^pets/{words}"):
        datasets.load(str(root))


def test_only_configured_folders_are_reachable_by_strangers(tmp_path, monkeypatch):
    datasets.check_allowed("digits")
    datasets.check_allowed("upload:abc")
    with pytest.raises(DatasetError, match="outside the folders"):
        datasets.check_allowed("/etc/passwd.csv")
    with pytest.raises(DatasetError, match="outside the folders"):
        datasets.check_allowed(str(tmp_path / "allowed" / ".." / "secret"))
    monkeypatch.setenv("OVERFITTING_LAB_DATA_ROOTS", str(tmp_path / "allowed"))
    (tmp_path / "allowed" / "pets").mkdir(parents=True)
    datasets.check_allowed(str(tmp_path / "allowed" / "pets"))
    with pytest.raises(DatasetError, match="unknown dataset"):
        datasets.check_allowed(str(tmp_path / "allowed" / "cats"))  # inside, but not there
    (tmp_path / "allowed" / "escape").symlink_to("/etc")
    with pytest.raises(DatasetError, match="outside the folders"):
        datasets.check_allowed(str(tmp_path / "allowed" / "escape" / "passwd"))
    with pytest.raises(DatasetError, match="unknown dataset 'nonexistent'"):
        datasets.check_allowed("nonexistent")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_csv_reads_like_its_utf8_twin(tmp_path, encoding):
    """What Excel's "Unicode text" and PowerShell save; with or without a byte-order mark.
    It used to be refused as "a binary file"."""
    text = "label;größe;b\n" + "".join(f"{('ja', 'nein')[i % 2]};{i};{i * 3 % 7}\n"
                                          for i in range(60))  # fmt: skip
    (tmp_path / "utf8.csv").write_text(text, encoding="utf-8")
    (tmp_path / "utf16.csv").write_text(text, encoding=encoding)
    twin, data = (datasets.load(str(tmp_path / f)) for f in ("utf8.csv", "utf16.csv"))
    assert data.info.class_names == ("ja", "nein") == twin.info.class_names
    np.testing.assert_array_equal(data.x_train, twin.x_train)


def test_label_and_target_together_are_ambiguous(tmp_path):
    """Either may be the answer; the other, used as a feature, could give it away."""
    path = tmp_path / "both.csv"
    path.write_text("a,target,label\n" + "".join(f"{i},{i % 2},{i % 3}\n" for i in range(60)))
    with pytest.raises(DatasetError, match=r"more than one label column \(target, label\)"):
        datasets.load(str(path))


def test_a_label_column_wins_over_a_coordinate_named_y(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("x,y,label\n" + "".join(f"{i},{i % 7},{i % 2}\n" for i in range(60)))
    data = datasets.load(str(path))
    assert data.info.input_shape == (2,) and data.info.class_names == ("0", "1")


def test_too_many_classes_for_the_held_out_sets_says_so(tmp_path):
    """1,000 classes of 5 rows: the validation set (800 rows) cannot hold every class. It
    used to say "each class needs at least 5 examples", which every class had."""
    path = tmp_path / "many.csv"
    path.write_text("label,a\n" + "".join(f"c{i % 1000},{i}\n" for i in range(5000)))
    with pytest.raises(DatasetError, match="5,000 examples are too few for 1,000 classes"):
        datasets.load(str(path))
    path.write_text("label,a\n" + "".join(f"{i % 3 if i else 'rare'},{i}\n" for i in range(60)))
    with pytest.raises(DatasetError, match="class 'rare' has only 1 example"):
        datasets.load(str(path))


@pytest.mark.parametrize("header", ["label ", " LABEL", "Label", " label "])
def test_header_names_are_stripped_and_matched_in_any_case(tmp_path, header):
    path = tmp_path / "spaced.csv"
    rows = "".join(f"{i % 2},{i},{i * 3 % 7}\n" for i in range(40))
    path.write_text(f"{header},a,b\n{rows}")
    data = datasets.load(str(path))
    assert data.info.num_classes == 2 and data.x_train.shape[1] == 2


def test_two_label_columns_are_refused(tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("label,LABEL,a\n" + "0,1,2\n1,0,3\n" * 20)
    with pytest.raises(DatasetError, match="more than one label column"):
        datasets.load(str(path))


def scaled_iris(path, scale: float):
    """Iris with its one telling feature (petal length) in other units, and a useless one."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    noise = np.random.default_rng(0).normal(size=len(iris.target))
    rows = [
        f"{y},{float(x[2]) * scale!r},{float(n)!r}"
        for x, y, n in zip(iris.data, iris.target, noise, strict=True)
    ]
    path.write_text("label,petal,noise\n" + "\n".join(rows))
    return datasets.load(str(path))


def test_a_feature_standardises_alike_in_any_units(tmp_path):
    """In float32 the variance of a feature in units of 1e20 overflowed and the feature was
    silently zeroed; values near ±3e38 became NaN."""
    plain = scaled_iris(tmp_path / "plain.csv", 1.0)
    for scale in (1e20, 1e-20, 4e37, -4e37):
        data = scaled_iris(tmp_path / f"{scale}.csv", scale)
        for name in ("x_train", "x_val", "x_test"):
            same = getattr(plain, name) * np.array([np.sign(scale), 1], np.float32)
            np.testing.assert_allclose(getattr(data, name), same, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("value", ["1e308", "-1e308", "1e200"])
def test_a_feature_too_large_even_for_float64_is_refused_by_name(tmp_path, value):
    path = tmp_path / "huge.csv"
    rows = [f"{i % 2},{i},{i}" for i in range(30)]
    rows[6] = f"0,{value},1"
    path.write_text("label,a,b\n" + "\n".join(rows))
    with pytest.raises(DatasetError, match=r"^'a' .*too large to standardise|^'a' has a .*too far"):
        datasets.load(str(path))


def test_a_fifo_or_a_device_named_like_a_csv_does_not_hang(tmp_path):
    import os
    import threading

    fifo = tmp_path / "x.csv"
    os.mkfifo(fifo)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(_error(str(fifo))), daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert outcome and "not a regular file" in outcome[0]
    device = tmp_path / "zero.csv"
    device.symlink_to("/dev/zero")
    assert "not a regular file" in _error(str(device))


def _error(name: str) -> str:
    try:
        datasets.load(name)
    except DatasetError as exc:
        return str(exc)
    return "loaded"


def test_links_inside_a_data_root_may_not_lead_outside_it(tmp_path, monkeypatch, cache_dir):
    secret = tmp_path / "secret"
    (secret / "cats").mkdir(parents=True)
    Image.new("RGB", (8, 8), (255, 0, 0)).save(secret / "cats" / "private.png")
    root = tmp_path / "roots"
    pets = root / "pets"
    for cls in ("cats", "dogs"):
        (pets / cls).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (8, 8), (i * 20, 0, 0)).save(pets / cls / f"{i}.png")
    monkeypatch.setenv("OVERFITTING_LAB_DATA_ROOTS", str(root))
    (pets / "cats" / "stolen.png").symlink_to(secret / "cats" / "private.png")
    datasets.check_allowed(str(pets))  # the folder itself is inside
    with pytest.raises(DatasetError, match="links to a place outside pets"):
        datasets.load(str(pets))
    (pets / "cats" / "stolen.png").unlink()
    (pets / "birds").symlink_to(secret / "cats", target_is_directory=True)  # a class folder
    with pytest.raises(DatasetError, match="birds links to a place outside pets"):
        datasets.load(str(pets))
    (pets / "birds").unlink()
    (pets / "kittens").symlink_to(pets / "cats", target_is_directory=True)  # inside: fine
    assert datasets.load(str(pets)).info.num_classes == 3
    assert not list((cache_dir / "datasets").rglob("*private*"))


def test_a_full_disk_while_keeping_a_decoded_folder_is_one_line(tmp_path, monkeypatch):
    import errno

    root = pets(tmp_path / "pets")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("core.safefs.tempfile.mkstemp", full)
    with pytest.raises(DatasetError, match="cannot keep the decoded images .*No space left"):
        datasets.load(str(root))
