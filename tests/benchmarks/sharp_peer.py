"""sharp (0.35, in Node) as a benchmark's peer: one process for a whole run, one job a call.

The jobs are cold_start/node/sharp_peer.js's; each call sends one as a line of JSON and gets back
the milliseconds sharp took, timed inside Node (so the pipe is not counted), and the output.
sharp runs with one thread, as our side does.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from typing import Any

NODE = Path(__file__).resolve().parent / "cold_start" / "node"


class Sharp:
    def __init__(self) -> None:
        if not (NODE / "node_modules" / "sharp").is_dir():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=NODE, check=True
            )
        self._process = subprocess.Popen(
            ["node", str(NODE / "sharp_peer.js")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "UV_THREADPOOL_SIZE": "1"},
        )

    def run(self, **job: Any) -> tuple[float, bytes]:
        """sharp's milliseconds and output for ``job`` (its fields as sharp_peer.js reads them)."""
        assert self._process.stdin
        assert self._process.stdout
        self._process.stdin.write(json.dumps(job) + "\n")
        self._process.stdin.flush()
        answer = json.loads(self._process.stdout.readline())
        return float(answer["ms"]), base64.b64decode(answer["output"])

    def close(self) -> None:
        assert self._process.stdin
        self._process.stdin.close()
        self._process.wait(timeout=10)
