"""Run the Databricks workspace emulator by hand, over a lakehouse folder, until Ctrl-C.

    python tests/emulator/serve.py --port 8765 --lakehouse .lakewarden/demo/lakehouse

Then point lakewarden (or the databricks CLI / SDK) at it:
    workspace: {kind: databricks, host: http://127.0.0.1:8765, token: dapi-emulator-token}
    engine: {kind: sql_warehouse, warehouse_id: emu0warehouse1}

``--job ID`` adds a job (repeatable); ``--monitor TABLE`` adds an active monitor on a table.
OAuth M2M works with ``client_id: emu-sp-client``, ``client_secret: emu-sp-secret-0123456789``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from emu_server import TOKEN, WAREHOUSE_ID, Emulator


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--lakehouse", type=Path, required=True, help="the lakehouse folder (cat/schema/table)")
    parser.add_argument("--token", default=TOKEN)
    parser.add_argument("--warehouse-id", default=WAREHOUSE_ID)
    parser.add_argument("--job", type=int, action="append", default=[], help="a job id that run-now accepts")
    parser.add_argument("--monitor", action="append", default=[], help="a table with an active monitor")
    args = parser.parse_args()

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from monitor.engines.local_spark import LocalSparkEngine

    engine = LocalSparkEngine(args.lakehouse)
    emulator = Emulator(args.lakehouse, lambda: engine.spark, tokens={args.token}, warehouse_ids=(args.warehouse_id,))
    for job_id in args.job:
        emulator.jobs.add(job_id)
    for table in args.monitor:
        emulator.monitors.add(table, pending_seconds=0)
    url = emulator.start(port=args.port)
    print(f"Databricks emulator on {url} (token {args.token}, warehouse {args.warehouse_id}); Ctrl-C stops it")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    emulator.stop()
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
