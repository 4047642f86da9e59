"""Cold start: a fresh process until its first lookup answer, photo-sync against the SDK baseline.

photo-sync: a new interpreter imports ``function_app`` (as the Python worker does), indexes its
functions, and invokes ``photo_lookup`` once: settings, the MSAL token, the photo API calls and
the state table read all happen on that first invocation (nothing does I/O at import).
Baseline: a new interpreter imports the SDK, builds one ``GraphServiceClient`` and awaits
``users.by_user_id(u).photo.get()``. Both against the same emulator (no added latency: this
measures start-up work, not the network), alternating, ``reps`` times each; the clock runs
from spawning the process to reading its answer line.

``python -m bench.coldstart child`` is the photo-sync side (run by the benchmark).
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # not imported at run time: the child's start-up is what is measured
    from bench.stack import BenchStack

USER = "user0000@contoso.com"
ANSWER_TIMEOUT_S = 60.0


def child() -> int:
    started = time.perf_counter()
    import azure.functions as func

    import function_app

    functions = {f.get_function_name(): f.get_user_function()
                 for f in function_app.app.get_functions()}
    request = func.HttpRequest("GET", f"http://localhost/api/users/{USER}/photo", headers={},
                               route_params={"user": USER}, body=b"")
    response = functions["photo_lookup"](request)
    answer = json.loads(response.get_body())
    sys.stdout.write(json.dumps({"status": response.status_code, "width": answer.get("width"),
                                 "seconds": time.perf_counter() - started}) + "\n")
    sys.stdout.flush()
    return 0 if response.status_code == 200 else 1


def _spawn(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, dict[str, Any]]:
    """Seconds from spawning ``cmd`` to its answer line, and the answer. The child's stderr goes
    to a file (a pipe nobody reads could fill and block it); no answer within
    ``ANSWER_TIMEOUT_S`` is an error that carries the end of that stderr."""
    with tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err,
                                text=True)
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=ANSWER_TIMEOUT_S)
        line = proc.stdout.readline() if ready else ""
        elapsed = time.perf_counter() - started
        if not ready:
            proc.kill()
        proc.communicate(timeout=60)
        err.seek(0)
        if not line.strip():
            raise RuntimeError(f"{cmd[1:4]} gave no answer within {ANSWER_TIMEOUT_S:g} s: "
                               f"{err.read()[-2000:]}")
    return elapsed, json.loads(line)


def import_profile(env: dict[str, str], cwd: Path, python: Path) -> dict[str, Any]:
    """``python -X importtime -c 'import function_app'``: total and the heaviest top-level
    imports (cumulative microseconds)."""
    proc = subprocess.run([str(python), "-X", "importtime", "-c", "import function_app"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
                          check=True)
    rows: list[tuple[str, int]] = []
    for line in proc.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        rows.append((parts[2].strip(), int(parts[1])))
    total = next((us for name, us in rows if name == "function_app"), 0)
    heavy = sorted(((n, us) for n, us in rows if n.count(".") <= 2 and n != "function_app"),
                   key=lambda item: -item[1])[:8]
    return {"function_app_import_ms": round(total / 1000, 1),
            "heaviest_imports_ms": {n: round(us / 1000, 1) for n, us in heavy}}


def run(stack: BenchStack, reps: int = 10) -> dict[str, Any]:
    from bench.common import BENCH_PYTHON, PYTHON, REPO, median

    workdir = stack.workdir
    info_file = workdir / "emulator-cold.json"
    info_file.write_text(json.dumps(stack.emulator))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHOTO_")}
    ours_env = {**env, **stack.settings(), "PYTHONDONTWRITEBYTECODE": "1"}
    ours_cmd = [str(PYTHON), "-m", "bench.coldstart", "child"]
    base_cmd = [str(BENCH_PYTHON), "-m", "bench.baseline_graph", "cold", "--emulator",
                str(info_file), "--user", USER]
    ours: list[float] = []
    base: list[float] = []
    _spawn(ours_cmd, ours_env, REPO)  # compile caches warm for both, as on a deployed app
    _spawn(base_cmd, env, REPO)
    for _ in range(reps):
        seconds, answer = _spawn(ours_cmd, ours_env, REPO)
        if answer.get("status") != 200:
            raise RuntimeError(f"photo-sync's first lookup failed: {answer}")
        ours.append(seconds)
        seconds, answer = _spawn(base_cmd, env, REPO)
        base.append(seconds)
    return {"photo_sync_s": [round(s, 3) for s in ours], "baseline_s": [round(s, 3) for s in base],
            "photo_sync_median_s": round(median(ours), 3),
            "baseline_median_s": round(median(base), 3),
            "imports": import_profile(ours_env, REPO, PYTHON)}


if __name__ == "__main__":
    if sys.argv[1:] == ["child"]:
        sys.exit(child())
    from bench.stack import BenchStack

    with BenchStack(users=4, host=False) as running:
        print(json.dumps(run(running, 3), indent=2))
