# syntax=docker/dockerfile:1
# Two images from one file; docker-compose.yml builds both:
#   dagster    dagster-webserver and dagster-daemon: Dagster, Postgres storage, the Docker run
#              launcher, the deployment's dagster.yaml + workspace.yaml. No project code.
#   user_code  the project itself: the gRPC code server (`dagster api grpc -m
#              genre_pipeline.definitions`) and, started by the run launcher, every run.
# Both pin the same Dagster release so the webserver, daemon and code server agree, and both
# run as the unprivileged user `dagster` (uid/gid 10001), which owns /data.
#
# BASE_IMAGE: any Debian bookworm image with Python 3.11 and its venv module, e.g. the default
# below, or a local one (deploy/compose_smoke.sh builds one with debootstrap and uses it).
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS base
ARG DAGSTER_VERSION=1.13.27
ARG DAGSTER_LIBS_VERSION=0.29.27
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    GENRE_PIPELINE_HOME=/data/home \
    DAGSTER_VERSION=${DAGSTER_VERSION} \
    DAGSTER_LIBS_VERSION=${DAGSTER_LIBS_VERSION}
# A virtual environment owned by root: the same on python:3.11-slim and on Debian's own python3
# (which refuses pip installs into the system), and read-only for the user the services run as.
# /data is where the shared volume is mounted (home + step logs); a named volume mounted there
# starts with this ownership.
RUN python3 -m venv "$VIRTUAL_ENV" \
 && groupadd --system --gid 10001 dagster \
 && useradd --system --uid 10001 --gid dagster --create-home --home-dir /home/dagster --shell /usr/sbin/nologin dagster \
 && mkdir -p "$DAGSTER_HOME" /data/home /data/dagster/compute_logs /data/dagster/storage \
 && chown dagster:dagster "$DAGSTER_HOME" \
 && chown -R dagster:dagster /data

FROM base AS dagster
RUN pip install \
      "dagster==${DAGSTER_VERSION}" \
      "dagster-graphql==${DAGSTER_VERSION}" \
      "dagster-webserver==${DAGSTER_VERSION}" \
      "dagster-postgres==${DAGSTER_LIBS_VERSION}" \
      "dagster-docker==${DAGSTER_LIBS_VERSION}"
# The instance and workspace last: editing them rebuilds no package layer.
COPY deploy/dagster.yaml deploy/workspace.yaml $DAGSTER_HOME/
WORKDIR $DAGSTER_HOME
USER dagster:dagster

FROM base AS user_code
# torch/torchvision first (the largest layer, changes least). Pass e.g. PyTorch's CPU-only
# wheel index as TORCH_INDEX_URL to keep CUDA libraries out of the image.
ARG TORCH_INDEX_URL=
ARG TORCH_VERSION=2.14.1
ARG TORCHVISION_VERSION=0.29.1
RUN pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "torch==${TORCH_VERSION}" "torchvision==${TORCHVISION_VERSION}"
WORKDIR /opt/dagster/app
COPY pyproject.toml README.md ./
COPY genre_pipeline ./genre_pipeline
RUN pip install . \
      "dagster==${DAGSTER_VERSION}" \
      "dagster-webserver==${DAGSTER_VERSION}" \
      "dagster-postgres==${DAGSTER_LIBS_VERSION}" \
      "dagster-docker==${DAGSTER_LIBS_VERSION}"
COPY deploy/dagster.yaml $DAGSTER_HOME/dagster.yaml
USER dagster:dagster
EXPOSE 4000
# The run launcher overrides the command of run containers; this default serves the code.
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "4000", "-m", "genre_pipeline.definitions"]
