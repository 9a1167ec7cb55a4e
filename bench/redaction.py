"""CPU time of the gateway's redactor (`switchboard.redact.Redactor.text`) per text, in process.

    python -m bench.redaction [--rounds 7] [--min-seconds 0.2]

Request capture runs it over every stored part (docs/capture.md); log lines and upstream error
messages pass it too. The texts: a 200-byte log line, and the bench's 1 KB, 15 KB and 90 KB
Anthropic request bodies (bench/bodies.py; the 90 KB one is Claude-Code-like: a long system
prompt, 20 tools, 40 turns of tool use), each as it is and with secrets in it (two configured
keys, one as written and one JSON-escaped, an `sk-` key and an `Authorization: Bearer` value
nobody configured), plus the 90 KB body with non-ASCII text in it (orjson writes non-ASCII as
it is, and Python stores such a string wider). The redactor is built from a config like a small
deployment's (three providers, a database and Redis password, three client keys in the config).

Each figure is the median over `--rounds` rounds of the CPU time (`time.process_time`) of one
call, each round repeating the call for at least `--min-seconds`. Only this process runs; no
servers, so it is fine on a shared machine (numbers move with its load: compare runs made
minutes apart, or the two revisions alternately)."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from bench.bodies import body
from switchboard.config import parse_config
from switchboard.redact import Redactor

CONFIG = {
    "master_key": "sb-master-7c1e0b9a4f2d6e83",
    "database": "postgresql://sb:Pg-pass-91d3e7a2@127.0.0.1:5432/sb",
    "redis": "redis://:Rd-pass-5b8c0f14@127.0.0.1:6379/0",
    "providers": [
        {
            "name": "anthropic",
            "kind": "anthropic",
            "base_url": "http://127.0.0.1:9",
            "api_key": "sk-ant-api03-Qw3rTy0123456789abcdefGHIJKLmnop",
        },
        {
            "name": "openai",
            "kind": "openai",
            "base_url": "http://127.0.0.1:9/v1",
            "api_key": "sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0",
        },
        {
            "name": "azure",
            "kind": "openai",
            "base_url": "http://127.0.0.1:9/v1",
            "headers": {"api-key": "az/9f8e7d6c5b4a3928+17065f4e3d2c1b0a=="},
        },
    ],
    "keys": [{"name": f"k{i}", "key": f"sk-sb-client{i}-0a1b2c3d4e5f6a7b"} for i in range(3)],
}
MASTER = "sb-master-7c1e0b9a4f2d6e83"
LOG_LINE = (
    '{"level":"warning","logger":"switchboard","msg":"upstream anthropic answered 429: '
    "Number of request tokens has exceeded your per-minute rate limit (model "
    'claude-sonnet-4-5)","request_id":"req_011CSHoEeqs5C35K2UUqR7Fy","attempt":2}'
)
SECRETS = (
    " quoted sk-ant-api03-Qw3rTy0123456789abcdefGHIJKLmnop back ",
    ' header "az\\/9f8e7d6c5b4a3928+17065f4e3d2c1b0a==" ',
    " an unknown key sk-svcacct-A1b2C3d4E5f6G7h8I9j0 here ",
    " Authorization: Bearer tok_8d7f6e5a4b3c2d1e0f ",
)


def with_secrets(text: str) -> str:
    """The text with each of SECRETS put in at an even spacing, between characters: what
    matters is that the redactor finds them, not that the JSON stays valid."""
    step = len(text) // (len(SECRETS) + 1)
    parts = [text[i * step : (i + 1) * step] for i in range(len(SECRETS))]
    rest = text[len(SECRETS) * step :]
    return "".join(p + s for p, s in zip(parts, SECRETS, strict=True)) + rest


def non_ascii(text: str) -> str:
    """Every 'gateway' as 'gâteway — “gateway”': curly quotes, a dash, an accent."""
    return text.replace("gateway", "g\u00e2teway \u2014 \u201cgateway\u201d")


def texts() -> list[tuple[str, str]]:
    out = [("200 B log line", LOG_LINE), ("200 B log line, secrets", LOG_LINE[:140] + SECRETS[0])]
    for size in ("1k", "15k", "90k"):
        raw = body(size, "claude-sonnet-4-5").decode()
        label = f"{len(raw) / 1000:.0f} KB body"
        out += [(label, raw), (f"{label}, secrets", with_secrets(raw))]
    raw = non_ascii(body("90k", "claude-sonnet-4-5").decode())
    out += [(f"{len(raw) / 1000:.0f} KB body, non-ASCII, secrets", with_secrets(raw))]
    return out


def cpu_per_call(call: Callable[[], object], rounds: int, min_seconds: float) -> float:
    """Median CPU seconds of one call over `rounds` rounds."""
    start = time.process_time()
    n = 0
    while time.process_time() - start < min_seconds / 4 or n < 3:
        call()
        n += 1
    per_round = max(3, int(n * 4))  # about min_seconds a round
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(per_round):
            call()
        samples.append((time.process_time() - start) / per_round)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--min-seconds", type=float, default=0.2)
    args = parser.parse_args()
    redactor = Redactor.of(parse_config(CONFIG, "bench", env={}), MASTER)
    print(f"{'text':40} {'chars':>7} {'µs/call':>10} {'µs/KB':>8} {'masked':>6}")
    for label, text in texts():
        seconds = cpu_per_call(lambda t=text: redactor.text(t), args.rounds, args.min_seconds)
        masks = redactor.text(text).count("[redacted]")
        per_kb = seconds * 1e6 / (len(text.encode()) / 1000)
        print(f"{label:40} {len(text):7} {seconds * 1e6:10.1f} {per_kb:8.2f} {masks:6}")


if __name__ == "__main__":
    main()
