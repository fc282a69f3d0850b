"""The Model page while a training keeps the only worker busy (issue 16: it once took 108 s
to open). Side by side in one run, on a one-worker Dask cluster training a 7-variant digits
comparison:
- page:   the app's Model page (AppTest runs the real script): summaries and parameter
          counts worked out from the layer list, in the web server's process;
- worker: what the page did before, Keras's summary built on a worker: it waits until the
          training ends (or the limit, 600 s).

    python bench/model_page.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERY = {"ds": "digits"}
LIMIT = 600.0


def main() -> None:
    os.environ["OVERFITTING_LAB_CACHE"] = tempfile.mkdtemp(prefix="model-page-")
    from distributed import LocalCluster
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    from bench._harness import header
    from core.cache import RunStore
    from core.comparison import Comparison
    from core.jobs import JobEngine
    from core.worker import describe_task

    header("Model page while the only worker trains")
    original = PagesManager.__init__  # AppTest and the pages/ folder: see tests/conftest.py

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        os.environ["OVERFITTING_LAB_SCHEDULER"] = cluster.scheduler_address
        engine = JobEngine(cluster.scheduler_address)
        comparison = Comparison.from_query(QUERY)[0]
        entries = comparison.entries(RunStore())
        keys = [e.key for e in entries]
        engine.submit([e.spec for e in entries], keys, {})
        while (watch := engine.watch(keys)) is None or not watch.running:
            time.sleep(0.5)  # until the training holds the worker
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=LIMIT)
        at.query_params.update(QUERY)
        at.run()  # the Compare page first, as a user arrives: not timed
        started = time.perf_counter()
        at.switch_page("pages/model.py").run()
        page = time.perf_counter() - started
        assert not at.exception and any("Total params" in c.value for c in at.code)
        seed0 = [spec.to_dict() for _, spec in comparison.labelled_specs() if spec.seed == 0]
        cache = os.environ["OVERFITTING_LAB_CACHE"]
        started = time.perf_counter()
        try:
            engine.client.submit(describe_task, seed0, cache, pure=False).result(timeout=LIMIT)
            worker = time.perf_counter() - started
        except TimeoutError:
            worker = LIMIT
        still = engine.watch(keys) is not None
        engine.close()
    print(f"page (layer list):      {page:7.2f} s")
    print(f"worker (Keras summary): {worker:7.2f} s{'  (limit)' if worker >= LIMIT else ''}"
          f"{'' if still else '  (it waited for the training to end)'}")  # fmt: skip
    print(f"ratio worker/page:      {worker / page:7.1f}x")


if __name__ == "__main__":
    main()
