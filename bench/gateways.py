"""The gateways under test and how each is started: Switchboard (1 and 2 workers), the floor relay,
LiteLLM proxy and claude-code-router. Each one listens on 127.0.0.1 only, with its normal
production settings, and is pinned to the gateway core."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from bench import install
from bench.procs import Proc, free_port, wait_port
from bench.replies import UPSTREAM_MODEL

REPO = install.REPO
GATEWAY_CPUS = "0"
RIG_CPUS = "1"


@dataclass(slots=True)
class Running:
    """A started gateway: where to send requests and what it can be measured on."""

    name: str
    label: str
    proc: Proc
    port: int
    headers: dict[str, str]
    model: str = "bench-model"
    passthrough_model: str | None = None  # a model served by an Anthropic-kind upstream
    tools: bool = True  # translates tool calls (the floor does not: text only)
    # The provider lanes: lane name -> (the model served through it, the upstream route a
    # direct request takes for the same reply).
    lanes: dict[str, tuple[str, str]] = field(default_factory=dict)
    cpus: str = GATEWAY_CPUS
    version: str = ""
    notes: list[str] = field(default_factory=list)
    scratch: list[Path] = field(default_factory=list)  # removed once it has stopped (big logs)

    def target(self, *, passthrough: bool = False) -> dict[str, Any]:
        model = self.passthrough_model if passthrough else self.model
        return {"port": self.port, "headers": self.headers, "model": model}

    def lane_target(self, lane: str) -> dict[str, Any]:
        return {"port": self.port, "headers": self.headers, "model": self.lanes[lane][0]}


@dataclass(slots=True)
class Context:
    venv_python: Path
    cache: Path
    workdir: Path  # per-run scratch: configs, logs
    upstream_port: int


# --- Switchboard -----------------------------------------------------------------------------


@dataclass(slots=True)
class SwitchboardSetup:
    """Everything Switchboard needs for the bench: the config, and the `keys create` options
    of the client key it is measured with. The targets hold with keys, limits and the ledger
    on, so the bench uses a database key with every limit set (high enough never to refuse:
    the bench measures their cost, not their effect) and a priced model, so every request is
    admitted, reserved, settled and written to the SQLite ledger."""

    config: dict[str, Any]
    key_options: list[str]


# The provider lanes (`--scenarios providers`): a Gemini API provider and Bedrock's InvokeModel
# for Claude, both at the scripted upstream (loopback; the AWS key is a dummy the upstream does
# not check). Lane -> (model, the upstream route of the same reply, for the direct baseline).
LANES = {
    "gemini": ("bench-gemini", f"/v1beta/models/{UPSTREAM_MODEL}:generateContent"),
    "bedrock": ("bench-bedrock", f"/model/anthropic.{UPSTREAM_MODEL}/invoke"),
}


def _lane_config(up: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    providers: list[dict[str, Any]] = [
        {
            "name": "upg",
            "kind": "gemini",
            "base_url": f"http://127.0.0.1:{up}/v1beta",
            "api_key": "bench-gemini-key",
        },
        {
            "name": "upb",
            "kind": "bedrock",
            "base_url": f"http://127.0.0.1:{up}",
            "region": "us-east-1",
            "aws_access_key_id": "AKIDBENCHBENCHBENCH",
            "aws_secret_access_key": "bench-secret",
        },
    ]
    models: list[dict[str, Any]] = [
        {
            "id": LANES["gemini"][0],
            "channels": [{"provider": "upg", "model": UPSTREAM_MODEL}],
            "pricing": PRICING,
        },
        {
            "id": LANES["bedrock"][0],
            "channels": [{"provider": "upb", "model": f"anthropic.{UPSTREAM_MODEL}"}],
            "pricing": PRICING,
        },
    ]
    return providers, models


def switchboard_setup(
    ctx: Context, db: str = "switchboard.db", *, lanes: bool = True
) -> SwitchboardSetup:
    """`lanes`: with the Gemini and Bedrock providers (left out for `ab` and `instr`, whose
    older revisions may not know those kinds)."""
    up = ctx.upstream_port
    config: dict[str, Any] = {
        "master_key": "sk-bench",
        "database": f"sqlite:///{ctx.workdir / db}",
        "providers": [
            {"name": "up", "kind": "openai", "base_url": f"http://127.0.0.1:{up}/v1"},
            {"name": "upa", "kind": "anthropic", "base_url": f"http://127.0.0.1:{up}"},
        ],
        "models": [
            {
                "id": "bench-model",
                "channels": [{"provider": "up", "model": "bench-upstream"}],
                "pricing": PRICING,
            },
            {
                "id": "bench-passthrough",
                "channels": [{"provider": "upa", "model": "bench-upstream"}],
                "pricing": PRICING,
            },
        ],
    }
    if lanes:
        more_providers, more_models = _lane_config(up)
        config["providers"] += more_providers
        config["models"] += more_models
    # Limits that never bind, within what a key may hold (a 32-bit column: issue 12's bounds).
    limits = ["--rpm", "100000000", "--tpm", "2000000000", "--max-concurrent", "1000000"]
    limits += ["--budget-usd", "1000000000", "--budget-period", "total"]
    return SwitchboardSetup(config=config, key_options=limits)


PRICING = {"input": 3.0, "output": 15.0, "cache_read": 0.3}


def create_key(
    ctx: Context, setup: SwitchboardSetup, config: Path, env: dict[str, str] | None = None
) -> str:
    """A database key with the setup's limits (`switchboard keys create`); its secret. `env`:
    the gateway's own environment, so the CLI of the same revision migrates the database."""
    cmd = [str(ctx.venv_python), "-m", "switchboard", "keys", "create", "--config", str(config)]
    cmd += ["--name", "bench", *setup.key_options, "--json"]
    out = subprocess.run(
        cmd,
        check=True,
        timeout=60,
        cwd=ctx.workdir,
        capture_output=True,
        env={**os.environ, **(env or {})},
    )
    key: str = orjson.loads(out.stdout)["key"]
    return key


def _git_version() -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def start_switchboard(
    ctx: Context,
    workers: int = 1,
    *,
    src: Path | None = None,
    name: str = "",
    prefix: list[str] | None = None,
    interpreter_args: list[str] | None = None,
    start_timeout: float = 30,
    traces: float | None = None,
    capture: bool = False,
) -> Running:
    """`src`: run Switchboard from this source tree instead of the installed one (A/B runs).
    Such a run gets a database of its own, made by its own CLI: a shared one would carry the
    newer revision's migrations, which an older revision refuses to start on (uvicorn's exit 3:
    Alembic cannot find the database's revision). `prefix`: a command it runs under
    (`bench/run instr`: Valgrind); `interpreter_args`: what the interpreter is given before
    `-m switchboard` (`bench/run opcodes`: its tracer script). `traces`: OpenTelemetry on, this
    share of requests sampled, exported to the upstream's OTLP sink. `capture`: request
    capture on for every request (the worst case: each is buffered, redacted and stored)."""
    name = name or ("switchboard" if workers == 1 else f"switchboard-w{workers}")
    if src is None:
        setup = switchboard_setup(ctx)
    else:
        setup = switchboard_setup(ctx, f"{name}.db", lanes=False)
    if traces is not None:
        setup.config["telemetry"] = {
            "otlp_endpoint": f"http://127.0.0.1:{ctx.upstream_port}/v1/traces",
            "sample_ratio": traces,
        }
    if capture:
        setup.config["capture"] = {"sample_ratio": 1.0}
    path = ctx.workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(setup.config, sort_keys=False))
    env = {"PYTHONPATH": str(src)} if src is not None else None
    api_key = create_key(ctx, setup, path, env)
    port = free_port()
    cmd = [*(prefix or []), str(ctx.venv_python), *(interpreter_args or [])]
    cmd += ["-m", "switchboard", "serve"]
    cmd += ["--config", str(path), "--host", "127.0.0.1", "--port", str(port)]
    cpus = GATEWAY_CPUS
    if workers > 1:
        cmd += ["--workers", str(workers)]
        cpus = f"{GATEWAY_CPUS},{RIG_CPUS}"
    proc = Proc(name, cmd, cpus=cpus, log=ctx.workdir / f"{name}.log", cwd=ctx.workdir, env=env)
    wait_port(port, start_timeout, proc.popen)
    label = "Switchboard" if workers == 1 else f"Switchboard, {workers} workers"
    if traces is not None:
        label += f", traces at {traces:.0%}"
    if capture:
        label += ", every request captured"
    running = Running(
        name,
        label,
        proc,
        port,
        {"x-api-key": api_key},
        passthrough_model="bench-passthrough",
        lanes=dict(LANES) if src is None and name == "switchboard" else {},  # measured once
        cpus=cpus,
        version=_git_version(),
    )
    if workers > 1:
        running.notes.append(
            f"{workers} worker processes on both cores ({cpus}): they share core {RIG_CPUS} "
            "with the load generator and the upstream"
        )
    return running


# --- the scripted upstream ------------------------------------------------------------------


def start_upstream(python: Path, workdir: Path) -> tuple[Proc, int]:
    """The scripted upstream on the rig's core; its process and port."""
    port = free_port()
    proc = Proc(
        "upstream",
        [str(python), "-m", "bench.upstream", "--port", str(port)],
        cpus=RIG_CPUS,
        log=workdir / "upstream.log",
        cwd=REPO,
    )
    return proc, port


# --- the floor relay ---------------------------------------------------------------------------


def start_floor(ctx: Context) -> Running:
    port = free_port()
    proc = Proc(
        "floor",
        [str(ctx.venv_python), "-m", "bench.floor", "--port", str(port)],
        cpus=GATEWAY_CPUS,
        log=ctx.workdir / "floor.log",
        env={"FLOOR_UPSTREAM": f"http://127.0.0.1:{ctx.upstream_port}/v1"},
        cwd=REPO,
    )
    wait_port(port, 30, proc.popen)
    return Running("floor", "floor relay", proc, port, {}, tools=False, version="bench/floor.py")


# --- LiteLLM -------------------------------------------------------------------------------------


def start_litellm(ctx: Context) -> Running:
    exe = install.litellm(ctx.cache)
    home = ctx.workdir / "litellm"
    home.mkdir(exist_ok=True)
    config = {
        "model_list": [
            {
                "model_name": "bench-model",
                "litellm_params": {
                    # hosted_vllm: an OpenAI-compatible server, so /v1/messages goes to
                    # chat completions.
                    "model": "hosted_vllm/bench-upstream",
                    "api_base": f"http://127.0.0.1:{ctx.upstream_port}/v1",
                    "api_key": "none",
                },
            }
        ]
    }
    (home / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    key = "sk-" + secrets.token_hex(16)
    port = free_port()
    proc = Proc(
        "litellm",
        [
            str(exe),
            *("--config", str(home / "config.yaml"), "--host", "127.0.0.1"),
            *("--port", str(port), "--num_workers", "1"),
        ],
        cpus=GATEWAY_CPUS,
        log=ctx.workdir / "litellm.log",
        env={
            "LITELLM_MASTER_KEY": key,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "NO_PROXY": "127.0.0.1,localhost",
        },
        cwd=home,
    )
    wait_port(port, 180, proc.popen)
    version = _pip_version(exe.parent / "python", "litellm")
    return Running("litellm", f"LiteLLM {version}", proc, port, {"x-api-key": key}, version=version)


def _pip_version(python: Path, package: str) -> str:
    try:
        out = subprocess.run(
            [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


# --- claude-code-router ------------------------------------------------------------------------


def start_ccr(ctx: Context, *, log: bool = True) -> Running:
    """`log`: ccr's default (LOG unset: debug-level logs to files under HOME, rotated at 50 MB);
    False sets `"LOG": false`, which makes it faster."""
    exe = install.ccr(ctx.cache)
    name = "ccr" if log else "ccr-nolog"
    home = ctx.workdir / f"{name}-home"  # an isolated HOME: ccr reads ~/.claude-code-router
    (home / ".claude-code-router").mkdir(parents=True, exist_ok=True)
    port = free_port()
    key = "sk-" + secrets.token_hex(16)
    config = {
        "PORT": port,
        "HOST": "127.0.0.1",
        "APIKEY": key,
        "Providers": [
            {
                "name": "bench",
                "api_base_url": f"http://127.0.0.1:{ctx.upstream_port}/v1/chat/completions",
                "api_key": "none",
                "models": ["bench-upstream"],
            }
        ],
        "Router": {"default": "bench,bench-upstream"},
    }
    if not log:
        config["LOG"] = False
    (home / ".claude-code-router" / "config.json").write_text(orjson.dumps(config).decode())
    proc = Proc(
        name,
        [str(exe), "start"],
        cpus=GATEWAY_CPUS,
        log=ctx.workdir / f"{name}.log",
        env={"HOME": str(home), "NO_PROXY": "127.0.0.1,localhost"},
        cwd=home,
    )
    wait_port(port, 60, proc.popen)
    version = install.CCR_SPEC.rsplit("@", 1)[1]
    return Running(
        name,
        f"claude-code-router {version}" + ("" if log else ", LOG off"),
        proc,
        port,
        {"x-api-key": key},
        version=version,
        notes=["default config: debug logs to files" if log else '"LOG": false'],
        scratch=[home / ".claude-code-router" / "logs"],
    )


STARTERS: dict[str, Callable[[Context], Running]] = {
    "floor": start_floor,
    "switchboard": start_switchboard,
    "switchboard-w2": lambda ctx: start_switchboard(ctx, workers=2),
    "switchboard-otel": lambda ctx: start_switchboard(ctx, name="switchboard-otel", traces=0.1),
    "switchboard-capture": lambda ctx: start_switchboard(
        ctx, name="switchboard-capture", capture=True
    ),
    "litellm": start_litellm,
    "ccr": start_ccr,
    "ccr-nolog": lambda ctx: start_ccr(ctx, log=False),
}
