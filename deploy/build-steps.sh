#!/bin/sh
# The RUN steps of the Containerfile, in one script so that the test that builds the image's
# filesystem without a container runtime (tests/deploy/test_image_root.py) runs exactly these.
#   build-steps.sh builder   in the builder stage: the source tree at /src -> a venv at /opt/venv
#   build-steps.sh runtime   in the runtime stage: the unprivileged user and its data directory
set -eu

case "${1:-}" in
builder)
    python3 -m venv /opt/venv
    # The builder stage is thrown away, so pip's cache never reaches the image.
    /opt/venv/bin/pip install --no-compile /src
    # Bytecode compiled once here: the runtime user cannot write into /opt/venv.
    /opt/venv/bin/python -m compileall -q /opt/venv/lib
    ;;
runtime)
    groupadd --system --gid 10001 switchboard
    useradd --system --uid 10001 --gid switchboard --home-dir /var/lib/switchboard \
        --no-create-home --shell /usr/sbin/nologin switchboard
    # SQLite, the ledger journal and a generated master key live here (SWITCHBOARD_HOME).
    install -d -o switchboard -g switchboard -m 0750 /var/lib/switchboard
    ;;
*)
    echo "usage: build-steps.sh builder|runtime" >&2
    exit 2
    ;;
esac
