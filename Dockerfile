# syntax=docker/dockerfile:1
# Two images from one file; docker-compose.yml builds both:
#   dagster    dagster-webserver and dagster-daemon: Dagster, Postgres storage, the Docker run
#              launcher, the deployment's dagster.yaml + workspace.yaml. No project code.
#   user_code  the project itself: the gRPC code server (`dagster api grpc -m
#              genre_pipeline.definitions`) and, started by the run launcher, every run.
# Both pin the same Dagster release so the webserver, daemon and code server agree.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS base
ARG DAGSTER_VERSION=1.13.27
ARG DAGSTER_LIBS_VERSION=0.29.27
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    GENRE_PIPELINE_HOME=/data/home \
    DAGSTER_VERSION=${DAGSTER_VERSION} \
    DAGSTER_LIBS_VERSION=${DAGSTER_LIBS_VERSION}
# /data is where the shared volume is mounted (home + step logs).
RUN mkdir -p "$DAGSTER_HOME" /data/home /data/dagster/compute_logs /data/dagster/storage
COPY deploy/dagster.yaml $DAGSTER_HOME/dagster.yaml

FROM base AS dagster
RUN pip install \
      "dagster==${DAGSTER_VERSION}" \
      "dagster-graphql==${DAGSTER_VERSION}" \
      "dagster-webserver==${DAGSTER_VERSION}" \
      "dagster-postgres==${DAGSTER_LIBS_VERSION}" \
      "dagster-docker==${DAGSTER_LIBS_VERSION}"
COPY deploy/workspace.yaml $DAGSTER_HOME/workspace.yaml
WORKDIR $DAGSTER_HOME

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
EXPOSE 4000
# The run launcher overrides the command of run containers; this default serves the code.
CMD ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "4000", "-m", "genre_pipeline.definitions"]
