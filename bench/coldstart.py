"""Cold start: the import time of `app` next to `import boto3` alone, in one run.

Each import runs in a fresh interpreter with the environment the Lambda functions get (the
stage's variables, dummy resource names, a region), several times; the median counts. Two
places: this checkout with its cached bytecode, and, when `make package` has run, the
extracted build/deployment.zip with bytecode writes off, as on Lambda's read-only /var/task
(a zip without .pyc files compiles every module at each cold start).

    .venv/bin/python -m bench.coldstart [--runs 7] [--top 12] [--check]

Target: `app` costs no more than 1.5 x `import boto3` (--check exits 1 when it does not).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENT_ZIP = ROOT / "build" / "deployment.zip"
TARGET_RATIO = 1.5
MODULES = ("boto3", "app")
_TIMED_IMPORT = (
    "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
)


def lambda_env() -> dict[str, str]:
    """What a deployed function sees: the stage's variables plus the template's, with dummies."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COHORT_", "POWERTOOLS_"))}
    env.update(config.get("environment_variables", {}))
    env.update(config["stages"]["dev"].get("environment_variables", {}))
    queue = "https://sqs.us-east-1.amazonaws.com/000000000000/"
    env.update(
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_LAMBDA_FUNCTION_NAME="cohort-dev",
        COHORT_TABLE="cohort",
        COHORT_STEPS_QUEUE_URL=queue + "cohort-steps",
        COHORT_JOBS_QUEUE_URL=queue + "cohort-jobs",
        COHORT_SECRET="bench-secret-bench-secret-bench-secret",
        COHORT_ADMIN_TOKEN="bench-admin-token-000",
    )
    return env


def import_ms(module: str, env: dict[str, str], where: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _TIMED_IMPORT.format(module=module)],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def median_ms(module: str, env: dict[str, str], where: Path, runs: int) -> float:
    import_ms(module, env, where)  # warm the OS file cache (and, here, write the .pyc files)
    return statistics.median(import_ms(module, env, where) for _ in range(runs))


def as_deployed(env: dict[str, str], task_dir: Path) -> dict[str, str]:
    """The zip extracted to `task_dir` first on the path, and no bytecode written (Lambda's
    /var/task is read-only: what the zip lacks is compiled again at every cold start)."""
    with zipfile.ZipFile(DEPLOYMENT_ZIP) as zf:
        zf.extractall(task_dir)
    return {**env, "PYTHONPATH": str(task_dir), "PYTHONDONTWRITEBYTECODE": "1"}


def heaviest(env: dict[str, str], top: int) -> list[tuple[str, float]]:
    """Top-level packages imported by `app` but not by `import boto3`, by summed self time (ms)."""

    def self_times(module: str) -> dict[str, float]:
        err = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        times: dict[str, float] = {}
        for line in err.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _cumulative, name = line[len("import time:") :].split("|")
            times[name.strip()] = int(self_us) / 1000
        return times

    boto3_modules = set(self_times("boto3"))
    by_package: dict[str, float] = defaultdict(float)
    for name, ms in self_times("app").items():
        if name not in boto3_modules:
            package = name.split(".")[0]
            by_package[name if package == "chalicelib" else package] += ms
    return sorted(by_package.items(), key=lambda item: -item[1])[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--top", type=int, default=12, help="list the heaviest imports (0: skip)")
    parser.add_argument("--check", action="store_true", help=f"exit 1 above {TARGET_RATIO}x")
    args = parser.parse_args()

    env = lambda_env()
    over = False
    print(f"python {sys.version.split()[0]}, median of {args.runs} fresh interpreters")
    with tempfile.TemporaryDirectory() as task_dir:
        places = [("checkout (.pyc cached)", env, ROOT)]
        if DEPLOYMENT_ZIP.exists():
            places.append(("build/deployment.zip", as_deployed(env, Path(task_dir)), Path(task_dir)))
        for label, place_env, where in places:
            times = {module: median_ms(module, place_env, where, args.runs) for module in MODULES}
            ratio = times["app"] / times["boto3"]
            over = over or ratio > TARGET_RATIO
            verdict = "ok" if ratio <= TARGET_RATIO else "OVER"
            print(
                f"{label:22} import boto3 {times['boto3']:6.1f} ms   import app {times['app']:6.1f} ms"
                f"   ratio {ratio:4.2f} (target <= {TARGET_RATIO}: {verdict})"
            )
    if args.top:
        print("\nheaviest imports of app beyond boto3's (self time, -X importtime, one run):")
        for name, ms in heaviest(env, args.top):
            print(f"  {ms:7.1f} ms  {name}")
    return 1 if args.check and over else 0


if __name__ == "__main__":
    sys.exit(main())
