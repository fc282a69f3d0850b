"""`pip install .` installs the engine with a console command; the README's two commands
stay as they are."""

from __future__ import annotations

import os
import subprocess

from tests.support import ROOT, install_project


def test_pip_install_gives_a_working_console_command(tmp_path):
    site = install_project(tmp_path / "site")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(site)}
    listing = subprocess.run([str(site / "bin" / "overfitting-lab"), "datasets"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert listing.returncode == 0, listing.stderr[-2000:]
    assert "moons" in listing.stdout and "mnist5k" in listing.stdout
    wrong = subprocess.run(
        [str(site / "bin" / "overfitting-lab"), "run", "--dataset", "nope"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: unknown dataset 'nope'")


def test_an_installed_engine_caches_in_the_users_cache_folder_not_site_packages(tmp_path):
    site = install_project(tmp_path / "site")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "OVERFITTING_LAB_CACHE")}  # fmt: skip
    env |= {"PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "user-cache")}
    done = subprocess.run(
        [str(site / "bin" / "overfitting-lab"), "run", "--dataset", "iris", "--variants",
         "baseline", "--epochs", "1", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    runs = list((tmp_path / "user-cache" / "overfitting-lab" / "runs").glob("*/run.json"))
    assert len(runs) == 1
    assert not list(site.rglob("run.json")) and not (site / "cache").exists()


def test_the_readme_opens_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    blocks = [b.split("```")[0].strip() for b in text.split("```bash")[1:3]]
    assert blocks == [
        "pip install -r requirements.txt && streamlit run streamlit_app.py",
        "pip install -r requirements-dev.txt && python -m pytest",
    ]
    assert (
        "pip install -r requirements-dev.txt && python -m pytest"
        in (ROOT / ".ci" / "run").read_text()
    )
