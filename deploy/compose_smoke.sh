#!/usr/bin/env bash
# `make compose-smoke`: build the images, bring docker-compose.yml up under podman, launch one
# run through the webserver and wait for the daemon's run container to finish it; then take the
# stack down (containers, network, volumes) and keep the images, so a rerun starts at `up`.
#
# For machines without Docker Hub and without a Docker engine: podman (Debian's), a local base
# image made with debootstrap (Debian bookworm, Python 3.11), Postgres built on that base
# (deploy/smoke/postgres.Dockerfile), podman-compose from pip, and podman's Docker API socket
# for the Docker run launcher. Settings (environment):
#   GENRE_PIPELINE_SMOKE_DIR   work folder: rootfs, tools venv, logs, socket (/var/tmp/genre_pipeline_smoke)
#   SMOKE_REBUILD_BASE=1       rebuild the debootstrap base image
#   SMOKE_KEEP=1               leave the stack running (take it down with the printed command)
#   SMOKE_ASSETS, SMOKE_PARTITIONS  the run (raw_movie_records,genre_vocabulary,movies over 2000...2002)
#   SMOKE_SOCKET_GID           group given the podman socket, joined by the daemon (2375)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${GENRE_PIPELINE_SMOKE_DIR:-/var/tmp/genre_pipeline_smoke}"
BASE_IMAGE="localhost/genre_pipeline_base:bookworm"
POSTGRES_IMAGE="localhost/genre_pipeline_postgres:15"
PROJECT="genre_pipeline"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PODMAN_COMPOSE_VERSION="1.6.0"
SMOKE_ASSETS="${SMOKE_ASSETS:-raw_movie_records,genre_vocabulary,movies}"
SMOKE_PARTITIONS="${SMOKE_PARTITIONS:-2000...2002}"
SOCKET="$WORK/podman.sock"
SOCKET_GID="${SMOKE_SOCKET_GID:-2375}"
export CONTAINERS_CONF="$ROOT/deploy/smoke/containers.conf"

mkdir -p "$WORK/logs"
declare -a SUMMARY=()
SERVICE_PID=""
HEALTH_LOOP_PID=""

log() { printf '[compose-smoke %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { log "FAILED: $*"; exit 1; }
# timed NAME CMD...: run CMD, log to $WORK/logs/NAME.log, add "NAME Ns" to the summary
timed() {
    local name="$1"; shift
    local start=$SECONDS
    if ! "$@" >"$WORK/logs/$name.log" 2>&1; then
        tail -n 30 "$WORK/logs/$name.log"
        fail "$name (log: $WORK/logs/$name.log)"
    fi
    SUMMARY+=("$(printf '%-22s %5ss' "$name" $((SECONDS - start)))")
    log "$name done in $((SECONDS - start))s"
}

# --- prerequisites -----------------------------------------------------------------------

need=()
for tool in podman runc debootstrap; do
    command -v "$tool" >/dev/null || need+=("$tool")
done
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if ((${#need[@]})); then
    [[ $EUID -eq 0 ]] || fail "missing ${need[*]}: install them (apt-get install ${need[*]})"
    log "installing ${need[*]} (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >"$WORK/logs/apt.log"
fi
if [[ ! -x "$WORK/tools/bin/podman-compose" ]]; then
    log "installing podman-compose $PODMAN_COMPOSE_VERSION into $WORK/tools"
    python3 -m venv "$WORK/tools"
    "$WORK/tools/bin/pip" install --quiet "podman-compose==$PODMAN_COMPOSE_VERSION"
fi
COMPOSE=("$WORK/tools/bin/podman-compose" --project-name "$PROJECT" --env-file "$WORK/smoke.env" -f "$ROOT/docker-compose.yml")

# --- base and Postgres images (cached) ------------------------------------------------------

build_base() {
    local rootfs="$WORK/rootfs"
    rm -rf "$rootfs" &&
        debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" "$DEBIAN_MIRROR" &&
        # pip and TLS inside the builds behave as on this host: its CA bundle (the registries may
        # sit behind a TLS-inspecting proxy) and its pip configuration (index, constraints).
        cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt" &&
        mkdir -p "$rootfs/etc/xdg" &&
        { [[ ! -f /etc/pip.conf ]] || cp /etc/pip.conf "$rootfs/etc/pip.conf"; } &&
        { [[ ! -d /etc/xdg/pip ]] || cp -r /etc/xdg/pip "$rootfs/etc/xdg/"; } &&
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* &&
        tar -C "$rootfs" -c . | podman import --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" &&
        rm -rf "$rootfs"
}
if [[ "${SMOKE_REBUILD_BASE:-0}" == 1 ]] || ! podman image exists "$BASE_IMAGE"; then
    timed base_image build_base
fi
image_id() { podman image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
# build_replacing IMAGE NAME CMD...: timed build; the image IMAGE named before is removed (with
# its build layers) once the build has replaced it, so reruns after changes do not pile up
build_replacing() {
    local image="$1" before
    shift
    before="$(image_id "$image")"
    timed "$@"
    if [[ -n "$before" && "$before" != "$(image_id "$image")" ]]; then
        podman rmi "$before" >/dev/null 2>&1 || true
    fi
}
build_replacing "$POSTGRES_IMAGE" postgres_image podman build --network host --build-arg BASE_IMAGE="$BASE_IMAGE" \
    -t "$POSTGRES_IMAGE" -f "$ROOT/deploy/smoke/postgres.Dockerfile" "$ROOT"

# --- clean-up, whatever happens next -------------------------------------------------------

# the containers the daemon launched: on the project's network, without compose's label
run_containers() {
    comm -23 <(podman ps -aq --no-trunc --filter network=genre_pipeline_network | sort) \
        <(podman ps -aq --no-trunc --filter label=io.podman.compose.project="$PROJECT" | sort)
}
# containers, network and volumes; the images stay
take_down() {
    run_containers | xargs -r podman rm -f
    [[ ! -f "$WORK/smoke.env" ]] || "${COMPOSE[@]}" down -v
}
cleanup() {
    local rc=$?
    [[ -n "$HEALTH_LOOP_PID" ]] && kill "$HEALTH_LOOP_PID" 2>/dev/null
    if ((rc != 0)); then
        for service in postgres user_code webserver daemon; do
            log "--- last lines of $service"
            podman logs --tail 25 "${PROJECT}_${service}_1" 2>&1 || true
        done
    fi
    if [[ "${SMOKE_KEEP:-0}" == 1 ]]; then
        log "stack left running (podman service pid $SERVICE_PID): ${COMPOSE[*]} down -v"
    else
        take_down >"$WORK/logs/down.log" 2>&1 || log "compose down failed (see $WORK/logs/down.log)"
        [[ -n "$SERVICE_PID" ]] && kill "$SERVICE_PID" 2>/dev/null
        rm -f "$SOCKET"
    fi
    exit "$rc"
}
trap cleanup EXIT

# --- podman's Docker API socket, for the daemon's run launcher ----------------------------------

rm -f "$SOCKET"
podman system service --time=0 "unix://$SOCKET" >"$WORK/logs/podman_service.log" 2>&1 &
SERVICE_PID=$!
for _ in $(seq 50); do [[ -S "$SOCKET" ]] && break; sleep 0.2; done
[[ -S "$SOCKET" ]] || fail "podman system service did not create $SOCKET"
# as a Docker engine's socket is root:docker 0660: the daemon (uid 10001) joins this group
chgrp "$SOCKET_GID" "$SOCKET" && chmod 0660 "$SOCKET"


# --- settings: the demo source, a throwaway password, a free port --------------------------------

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
umask 077
cat >"$WORK/smoke.env" <<EOF
DAGSTER_POSTGRES_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
TMDB_API_KEY=unused-with-the-demo-source
GENRE_PIPELINE_SOURCE=demo
GENRE_PIPELINE_SCHEDULES=off
GENRE_PIPELINE_BASE_IMAGE=$BASE_IMAGE
GENRE_PIPELINE_POSTGRES_IMAGE=$POSTGRES_IMAGE
DOCKER_SOCKET=$SOCKET
DOCKER_SOCKET_GID=$SOCKET_GID
DAGSTER_WEBSERVER_PORT=$PORT
EOF
umask 022

# --- build, up ------------------------------------------------------------------------------------

build_replacing localhost/genre_pipeline_dagster:latest build_dagster_image \
    "${COMPOSE[@]}" --podman-build-args="--network host" build webserver
build_replacing localhost/genre_pipeline_user_code:latest build_user_code_image \
    "${COMPOSE[@]}" --podman-build-args="--network host" build user_code
take_down >"$WORK/logs/down_before.log" 2>&1 || true

# podman runs healthchecks from systemd timers; without systemd they run only when asked, so
# this loop asks (the same commands docker-compose.yml declares) while the stack is up.
health_loop() {
    while sleep 3; do
        for service in postgres user_code; do
            podman healthcheck run "${PROJECT}_${service}_1" >/dev/null 2>&1 || true
        done
    done
}
wait_healthy() {
    local container="${PROJECT}_$1_1" deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        [[ "$(podman inspect --format '{{.State.Health.Status}}' "$container" 2>/dev/null)" == healthy ]] && return 0
        sleep 2
    done
    log "$container not healthy after $2s"
    return 1
}
health_loop &
HEALTH_LOOP_PID=$!
# podman 4.3 ignores depends_on conditions (podman-compose needs podman >= 4.6 to wait on
# health), so the services start in the order the conditions describe.
up_stack() {
    "${COMPOSE[@]}" up -d postgres && wait_healthy postgres 120 &&
        "${COMPOSE[@]}" up -d user_code && wait_healthy user_code 300 &&
        "${COMPOSE[@]}" up -d webserver daemon
}
timed up up_stack

# --- a run, launched the way the UI launches it ---------------------------------------------

start=$SECONDS
set +e
RESULT="$(python3 "$ROOT/deploy/smoke/launch_run.py" --url "http://127.0.0.1:$PORT" \
    --assets "$SMOKE_ASSETS" --partitions "$SMOKE_PARTITIONS" 2>"$WORK/logs/run.err")"
run_rc=$?
set -e
if ((run_rc != 0)); then
    cat "$WORK/logs/run.err"
    [[ -n "$RESULT" ]] && echo "$RESULT"
    for container in $(run_containers); do podman logs --tail 40 "$container"; done
    fail "the run did not succeed"
fi
SUMMARY+=("$(printf '%-22s %5ss' "webserver_ready+run" $((SECONDS - start)))")
users=""
for service in user_code webserver daemon; do
    users+="$service=$(podman exec "${PROJECT}_${service}_1" id -un) "
done
for container in $(run_containers); do
    users+="run=$(podman inspect --format '{{.Config.User}}' "$container")"
done

log "SUCCESS"
echo "==================== compose-smoke summary ===================="
printf '  %s\n' "${SUMMARY[@]}"
echo "  run: $RESULT"
echo "  users: $users"
podman images --format '  image {{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'genre_pipeline' || true
echo "==============================================================="
