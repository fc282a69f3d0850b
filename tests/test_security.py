"""A shared classroom server takes files and links from strangers."""

from __future__ import annotations

import re
import subprocess
import tomllib

import pytest

from core import datasets
from core.datasets import DatasetError
from tests.support import ROOT

CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_server_settings_protect_a_shared_server():
    assert CONFIG["server"]["enableXsrfProtection"] is True
    assert CONFIG["client"]["showErrorDetails"] == "none"  # no stack traces for users


def test_uploads_have_a_size_limit():
    assert 1 <= CONFIG["server"]["maxUploadSize"] <= 200


FORBIDDEN = [
    r"pickle\.loads?\(",
    r"allow_pickle\s*=\s*True",
    r"cloudpickle\.loads?\(",
    r"joblib\.load\(",
    r"\bshelve\.",
    r"marshal\.loads?\(",
    r"\bdill\.",
    r"persist\s*=\s*['\"]disk",
]


def test_nothing_is_ever_unpickled():
    files = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert files, "git ls-files found no sources"
    hits = []
    for name in files:
        if name == "tests/test_security.py":
            continue
        text = (ROOT / name).read_text()
        hits += [f"{name}: {p}" for p in FORBIDDEN if re.search(p, text)]
        # Keras model files: only ever with safe_mode on (the app itself loads none).
        for call in re.findall(r"load_model\([^)]*\)", text):
            if "safe_mode=True" not in call:
                hits.append(f"{name}: {call}")
    assert hits == []


@pytest.mark.parametrize("name", ["upload:../../x", "upload:", "upload:a/b"])
def test_upload_names_are_only_content_hashes(name):
    with pytest.raises(DatasetError):
        datasets.resolve(name)


def test_an_oversize_upload_is_refused_with_a_message(cache_dir, apptest_navigation):
    from streamlit.testing.v1 import AppTest

    limit = CONFIG["server"]["maxUploadSize"]
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    big = b"label,a\n" + b"x,1\n" * ((limit * 2**20) // 4 + 10)
    at.sidebar.get("file_uploader")[0].set_value(("huge.csv", big, "text/csv"))
    at.run()
    assert not at.exception
    assert any(f"larger than {limit} MB" in e.value for e in at.sidebar.error)
    assert at.selectbox(key="cmp_dataset").value == "digits"
    assert not [p for p in cache_dir.rglob("*") if p.is_file()]  # nothing of it was kept
