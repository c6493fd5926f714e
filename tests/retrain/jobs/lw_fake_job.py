"""A stand-in retraining job for the lifecycle tests (run as ``python -m lw_fake_job --key=value ...``).

It follows the job contract without training anything: it registers a version of ``model_name``
tagged ``lakewarden.run_id`` whose MLflow run carries ``holdout_roc_auc=--holdout`` and, if given,
``champion_holdout_roc_auc=--champion_holdout``. Test knobs: ``--starts=PATH`` (append one line
per start), ``--dump=PATH`` (write argv and environment as JSON), ``--gate=PATH`` (wait until the
file exists), ``--sleep=SECONDS``, ``--fail=MESSAGE`` (exit 3 after writing a log),
``--register=no``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path


def parse(argv: list[str]) -> dict[str, str]:
    params = {}
    for arg in argv:
        key, _, value = arg.removeprefix("--").partition("=")
        params[key] = value
    return params


def main() -> int:
    params = parse(sys.argv[1:])
    if params.get("starts"):
        with Path(params["starts"]).open("a", encoding="utf-8") as handle:
            handle.write(" ".join(sys.argv[1:]) + "\n")
    if params.get("dump"):
        Path(params["dump"]).write_text(json.dumps({"argv": sys.argv[1:], "env": dict(os.environ)}))
    if params.get("fail"):
        for line in range(30):
            print(f"training step {line}", flush=True)
        print(f"fatal: {params['fail']}", file=sys.stderr, flush=True)
        return 3
    if params.get("sleep"):
        time.sleep(float(params["sleep"]))
    if params.get("gate"):
        deadline = time.monotonic() + 120
        while not Path(params["gate"]).exists():
            if time.monotonic() > deadline:
                print("gate never opened", file=sys.stderr)
                return 4
            time.sleep(0.05)
    if params.get("register") == "no":
        return 0

    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    name = params["model_name"]
    with contextlib.suppress(MlflowException):  # it exists
        client.create_registered_model(name)
    experiment = client.get_experiment_by_name("lw-fake")
    if experiment is None:
        experiment_id = client.create_experiment("lw-fake", artifact_location=str(Path.cwd() / "artifacts"))
    else:
        experiment_id = experiment.experiment_id
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "holdout_roc_auc", float(params["holdout"]))
    if params.get("champion_holdout"):
        client.log_metric(run.info.run_id, "champion_holdout_roc_auc", float(params["champion_holdout"]))
    client.set_terminated(run.info.run_id)
    version = client.create_model_version(
        name,
        source=f"{run.info.artifact_uri}/model",
        run_id=run.info.run_id,
        tags={"lakewarden.run_id": params["lakewarden_run_id"]},
    )
    print(f"registered {name} version {version.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
