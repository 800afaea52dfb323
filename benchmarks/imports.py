"""Cold import of each handler module in a fresh interpreter, as a ratio to `import boto3` in the same run."""

from __future__ import annotations

import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TIMED = "import time; start = time.perf_counter(); import {module}; print(time.perf_counter() - start)"
HANDLER_MODULES = {"cloudwatch": "handlers.cloudwatch_logs", "activity_stream": "handlers.activity_stream"}


@dataclass(frozen=True, slots=True)
class ImportFigures:
    """Median seconds to import boto3 and each handler module, each in a fresh interpreter."""

    boto3_s: float
    handler_s: dict[str, float]

    def ratio(self, name: str) -> float:
        """A handler's import time as a multiple of boto3's."""
        return self.handler_s[name] / self.boto3_s


def import_seconds(module: str, root: Path = ROOT) -> float:
    """Seconds one fresh interpreter (no bytecode writes) spends importing `module`."""
    result = subprocess.run(
        [sys.executable, "-c", _TIMED.format(module=module)],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def measure_imports(repeat: int = 5, root: Path = ROOT) -> ImportFigures:
    """Median of `repeat` interleaved rounds (boto3, then each handler) so all see the same load."""
    samples: dict[str, list[float]] = {"boto3": [], **{name: [] for name in HANDLER_MODULES}}
    for _ in range(repeat):
        samples["boto3"].append(import_seconds("boto3", root))
        for name, module in HANDLER_MODULES.items():
            samples[name].append(import_seconds(module, root))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    boto3_s = medians.pop("boto3")
    return ImportFigures(boto3_s=boto3_s, handler_s=medians)
