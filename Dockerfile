# syntax=docker/dockerfile:1
# (the line above enables BuildKit features used below: RUN --mount=type=cache)
#
# lakewarden: the daemon with local PySpark (needs a Java 17 runtime), MLflow and the workspace SDKs.
#   docker build -t lakewarden .
#   docker run -v lakewarden-state:/var/lib/lakewarden \
#     -v "$PWD/config.yaml:/etc/lakewarden/config.yaml:ro" -p 8080:8080 lakewarden
# The config is read from LAKEWARDEN_CONFIG (/etc/lakewarden/config.yaml); mount yours there.
# For the probes to be reachable from outside the container, the config must bind
# service.http.host: 0.0.0.0 (the built-in HEALTHCHECK itself uses 127.0.0.1).

# One base for both stages: the venv built in the first is copied into the second and its
# interpreter links to /usr/local/bin/python3.11 of this image, so the two must be the same image.
# Bookworm pinned: openjdk-17 is in Debian 12 but not in 13 (trixie).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

WORKDIR /src
RUN python -m venv /opt/venv

# Dependencies first, read from pyproject.toml alone: this layer (pyspark alone is ~490 MB) is
# rebuilt only when pyproject.toml changes, not on every code edit. The pip cache mount keeps
# downloads across builds without storing them in the image. With the dependencies, the extras
# named in EXTRAS: postgres (psycopg 3, for a PostgreSQL state database shared by replicas).
ARG EXTRAS=postgres
COPY pyproject.toml ./
RUN --mount=type=cache,target=/root/.cache/pip \
    EXTRAS="${EXTRAS}" python -c "import os, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
extras = [r for e in os.environ['EXTRAS'].split(',') if e for r in p['optional-dependencies'][e]]; \
print('\n'.join(p['dependencies'] + extras))" \
        > /tmp/requirements.txt \
 && /opt/venv/bin/pip install -r /tmp/requirements.txt

# Then our code: build the wheel (README.md is the package's readme, so it is needed here) and
# install it without touching the dependencies resolved above; `pip check` fails the build, not
# the first start, if the installed set is inconsistent.
COPY README.md ./
COPY config ./config
COPY monitor ./monitor
COPY alerts ./alerts
COPY retrain ./retrain
RUN --mount=type=cache,target=/root/.cache/pip \
    /opt/venv/bin/pip wheel --no-deps --wheel-dir /tmp/dist . \
 && /opt/venv/bin/pip install --no-deps /tmp/dist/lakewarden-*.whl \
 && /opt/venv/bin/pip check

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# Java 17 for local PySpark. Debian's JRE includes the jdk.incubator.vector module that Spark 4's
# launcher requests. Slim images delete /usr/share/man; the JRE's update-alternatives step fails
# without man1. The stable /usr/lib/jvm/java-17 link makes JAVA_HOME the same on amd64 and arm64.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && ln -s "/usr/lib/jvm/java-17-openjdk-$(dpkg --print-architecture)" /usr/lib/jvm/java-17 \
 && /usr/lib/jvm/java-17/bin/java -version \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid, so volume ownership and a Kubernetes runAsUser/fsGroup can refer to it.
# The home directory is where Spark (Ivy) and other libraries put their caches.
RUN groupadd --system --gid 10001 lakewarden \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/lakewarden \
        --shell /usr/sbin/nologin lakewarden \
 && mkdir -p /var/lib/lakewarden /etc/lakewarden \
 && chown lakewarden:lakewarden /var/lib/lakewarden

COPY --from=builder /opt/venv /opt/venv

# PYTHONDONTWRITEBYTECODE: the venv is root-owned and already compiled; the service cannot write there.
# SPARK_LOCAL_IP: local Spark binds to loopback instead of resolving the container's hostname.
# PYSPARK_PYTHON: Spark's Python workers use the venv's interpreter, which has our dependencies.
# MLFLOW_CONFIGURE_LOGGING=false: mlflow's loggers stay on lakewarden's structlog pipeline.
# DO_NOT_TRACK: libraries that honour it send no usage data.
# LAKEWARDEN_CONFIG: every command's default --config (the path the deploy/ manifests mount), so
# `lakewarden health`, `docker exec ... lakewarden alerts list` and the rest read the mounted config.
ENV PATH="/opt/venv/bin:${PATH}" \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    JAVA_HOME=/usr/lib/jvm/java-17 \
    SPARK_LOCAL_IP=127.0.0.1 \
    PYSPARK_PYTHON=/opt/venv/bin/python \
    PYSPARK_DRIVER_PYTHON=/opt/venv/bin/python \
    MLFLOW_DISABLE_TELEMETRY=true \
    MLFLOW_CONFIGURE_LOGGING=false \
    DO_NOT_TRACK=1 \
    LAKEWARDEN_STATE_DIR=/var/lib/lakewarden \
    LAKEWARDEN_CONFIG=/etc/lakewarden/config.yaml

# Declared after the chown above: a new volume is seeded from the image's directory, ownership
# included; changes made to this path after the VOLUME line would be discarded.
VOLUME /var/lib/lakewarden
# The working directory is the state directory too, so relative defaults in the config
# (".lakewarden/state.db", ".lakewarden/lakehouse") land on the volume, not in the container layer.
WORKDIR /var/lib/lakewarden

EXPOSE 8080

# The service's own health command (also usable as a Kubernetes liveness probe): /healthz on the
# port of the config's service.http (through LAKEWARDEN_CONFIG), on loopback when it binds 0.0.0.0.
# start-period covers the JVM and Spark session start-up, during which failures do not count.
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
    CMD ["lakewarden", "health"]

USER lakewarden

# Exec form: lakewarden is PID 1 and receives SIGTERM itself for a graceful drain. Spark's JVM
# and local job subprocesses are children; run with `docker run --init` (or a pod's shared
# process namespace) if orphaned grandchildren must be reaped.
ENTRYPOINT ["lakewarden"]
CMD ["run"]
