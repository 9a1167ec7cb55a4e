"""How the gateway serves clients (server: address, request bounds, shutdown) and reaches
upstreams (routing: retries and channel health; upstreams: connections and trusted CAs)."""

from __future__ import annotations

import ssl

from switchboard.config.base import Strict
from switchboard.config.errors import Problems


class ServerConfig(Strict, frozen=True):
    host: str = "127.0.0.1"
    port: int = 8787
    max_body_bytes: int = 32 * 1024 * 1024
    # Against slow clients: the whole body must arrive within this many seconds.
    body_timeout_seconds: float = 60.0
    max_messages: int = 10_000
    max_tools: int = 1_000
    # On SIGTERM: how long in-flight requests and streams may run before they are ended.
    shutdown_grace_seconds: int = 30
    # An idle client connection is closed after this long. Behind a load balancer, set it
    # above the balancer's own idle timeout, so the gateway never closes a connection the
    # balancer is about to reuse.
    keep_alive_seconds: float = 5.0


class Health(Strict, frozen=True):
    """When a channel (one of its keys) is put in cooldown: after `failures` consecutive
    failures, or when at least `min_requests` in a `window_seconds` window failed at
    `error_rate` or more. After `cooldown_seconds` one probe request is let through."""

    failures: int = 3
    error_rate: float = 0.5
    min_requests: int = 10
    window_seconds: float = 60.0
    cooldown_seconds: float = 30.0


class Routing(Strict, frozen=True):
    """Retries before the first byte: the next channel first, then back-off (honouring the
    upstream's retry-after) once every channel was tried; at most `max_attempts` attempts and
    `max_retry_seconds` of waiting and trying per request."""

    max_attempts: int = 4
    max_retry_seconds: float = 30.0
    backoff_seconds: float = 0.5  # the first back-off; doubled each round
    max_backoff_seconds: float = 8.0
    health: Health = Health()


class Upstreams(Strict, frozen=True):
    """How the gateway connects to upstreams. At most `max_connections_per_origin` connections
    to one scheme://host:port (more requests wait for one, within their first-byte timeout).
    `ca_bundle`: a PEM file of the CAs trusted for https upstreams instead of the system's
    (else REQUESTS_CA_BUNDLE, else OpenSSL's defaults, which honour SSL_CERT_FILE and
    SSL_CERT_DIR). Proxies come from the environment: HTTPS_PROXY, HTTP_PROXY, NO_PROXY."""

    # Above the ~1,500 streams one process relays without stalls (bench/): the cap bounds a
    # runaway (file descriptors, an upstream flooded), not normal load.
    max_connections_per_origin: int = 2048
    ca_bundle: str | None = None


def check_ca_bundle(path: str | None, problems: Problems) -> None:
    if path is None:
        return
    try:
        ssl.create_default_context(cafile=path)
    except ssl.SSLError:  # an OSError too: first
        problems.add("upstreams.ca_bundle", f"{path} holds no PEM certificate")
    except OSError as exc:
        problems.add("upstreams.ca_bundle", f"cannot read {path}: {exc.strerror}")
