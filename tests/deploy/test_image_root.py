"""The image's filesystem built the way the Containerfile builds it, without a container
runtime (none is reachable here): a Debian bookworm root made with mmdebstrap stands in for the
base image, each stage replays the Containerfile's own COPY, ENV and RUN instructions (the RUN
steps are deploy/build-steps.sh), and the gateway is started from the runtime stage under
chroot, as the image's user, with the image's CMD and config, on 127.0.0.1 only, and serves a
request to the demo model.

Where it differs from `podman build`: the base is Debian's python3 (3.11, in /usr/bin) instead
of the python image's own build (in /usr/local); this host's CA bundle is given to pip (its
network inspects TLS); and there is no network namespace, so --host is 127.0.0.1, not 0.0.0.0.

Slow: the base root (about 1.5 min, cached under ~/.cache/switchboard-tests keyed on the
Containerfile, the build script and the mmdebstrap command) and the builder's pip install
(about 1 min, every run). Needs root, chroot and mmdebstrap; skipped with the reason otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.containerfile import Stage, env_pairs, parse
from tests.support.gateway import GatewayProcess

ROOT = Path(__file__).parents[2]
CONTAINERFILE = ROOT / "Containerfile"
BUILD_STEPS = ROOT / "deploy" / "build-steps.sh"
CACHE = Path.home() / ".cache" / "switchboard-tests"
MMDEBSTRAP = [
    "mmdebstrap",
    "--variant=minbase",
    "--include=python3,python3-venv,ca-certificates",
    "bookworm",
]
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MASTER = "sk-image-test-master"
# What the build context leaves out (.containerignore).
IGNORED = shutil.ignore_patterns("__pycache__", "*.egg-info")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot and mmdebstrap's root mode need root"),
    pytest.mark.skipif(
        shutil.which("mmdebstrap") is None or shutil.which("chroot") is None,
        reason="mmdebstrap missing (apt-get install mmdebstrap)",
    ),
]


def base_root() -> Path:
    """The stand-in for the base image: made once per Containerfile, build script and command."""
    key = hashlib.sha256()
    for part in (
        CONTAINERFILE.read_bytes(),
        BUILD_STEPS.read_bytes(),
        " ".join(MMDEBSTRAP).encode(),
    ):
        key.update(hashlib.sha256(part).digest())
    root = CACHE / f"base-{key.hexdigest()[:16]}"
    if (root / "etc" / "os-release").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in CACHE.glob("base-*"):
        shutil.rmtree(stale, ignore_errors=True)  # one cached root, not one per edit
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    subprocess.run([*MMDEBSTRAP, str(partial)], check=True, capture_output=True, timeout=900)
    partial.rename(root)
    return root


def copy_into(root: Path, source: Path, dest: str) -> None:
    target = root / dest.lstrip("/")
    if dest.endswith("/"):
        target = target / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, ignore=IGNORED, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target)


def build_stage(stage: Stage, root: Path, built: dict[str, Path]) -> dict[str, str]:
    """Replay one stage into `root`; returns the environment its ENV lines set."""
    env = {"PATH": BASE_PATH, "HOME": "/root"}
    for step in stage.instructions:
        if step.keyword == "COPY":
            words = step.args.split()
            origin = ROOT
            if words[0].startswith("--from="):
                origin = built[words.pop(0).removeprefix("--from=")]
            *sources, dest = words
            for source in sources:
                copy_into(root, origin / source.lstrip("/"), dest)
        elif step.keyword == "ENV":
            for name, value in env_pairs(step):
                env[name] = value.replace("${PATH}", env["PATH"])
        elif step.keyword == "RUN":
            # The build host's network and CA bundle, as a builder's would be; not in the image.
            shutil.copy(HOST_CA, root / "etc" / "build-host-ca.crt")
            shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
            build_env = {**env, "PIP_CERT": "/etc/build-host-ca.crt"}
            argv = ["env", "-i", *(f"{k}={v}" for k, v in build_env.items()), *step.exec_form()]
            done = subprocess.run(
                ["chroot", str(root), *argv], capture_output=True, text=True, timeout=600
            )
            assert done.returncode == 0, f"RUN {step.args} failed:\n{done.stdout}\n{done.stderr}"
            (root / "etc" / "build-host-ca.crt").unlink()
    return env


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Stage, dict[str, str]]]:
    base = base_root()
    work = tmp_path_factory.mktemp("image")
    built: dict[str, Path] = {}
    env: dict[str, str] = {}
    parsed = parse(CONTAINERFILE)
    for index, stage in enumerate(parsed.stages):
        root = work / (stage.name or f"stage{index}")
        subprocess.run(["cp", "-a", str(base), str(root)], check=True, timeout=300)
        env = build_stage(stage, root, built)
        built[stage.name or str(index)] = root
    try:
        yield root, parsed.stages[-1], env
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_gateway_from_the_image_root_serves_the_demo_model_as_its_user(
    image: tuple[Path, Stage, dict[str, str]],
) -> None:
    root, runtime, env = image
    assert not (root / "src").exists()  # the source tree stayed in the builder
    (user,) = runtime.all("USER")
    uid, gid = user.args.split(":")
    (cmd,) = runtime.all("CMD")
    argv = cmd.exec_form()
    host = argv.index("--host")
    del argv[host : host + 2]  # the launcher gives --host 127.0.0.1 and a free --port
    image_env = {**env, "SWITCHBOARD_MASTER_KEY": MASTER}
    inside = ["env", "-i", *(f"{k}={v}" for k, v in image_env.items())]
    # argv[0] (`switchboard`) is found on the image's PATH; "$@" is `serve --host .. --port ..`.
    script = 'exec "$0" "$@" ' + shlex.join(argv[2:])
    prefix = [
        "chroot",
        f"--userspec={uid}:{gid}",
        str(root),
        *inside,
        "/bin/sh",
        "-c",
        script,
        argv[0],
    ]
    with GatewayProcess(None, argv_prefix=prefix, inherit_env=False) as gw:
        port = gw.port
        assert port is not None
        status = Path(f"/proc/{gw.pid}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert set(uids) == {uid}  # never root, not even saved
        request = urllib.request.Request(
            gw.url + "/anthropic/v1/messages",
            data=json.dumps(
                {
                    "model": "switchboard/demo",
                    "max_tokens": 64,
                    "messages": [{"role": "user", "content": "hello from the image"}],
                }
            ).encode(),
            headers={
                "x-api-key": MASTER,
                "anthropic-version": "2023-06-01",
                "content-type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=20) as resp:
            assert resp.status == 200
            reply = json.loads(resp.read())
        assert reply["type"] == "message"
        assert reply["model"] == "switchboard/demo"
        assert reply["content"][0]["text"]
        # The image's HEALTHCHECK command, run in the image as its user, passes against it
        # (on the port the test gave the gateway instead of 8787)...
        assert healthcheck(root, runtime, uid, gid, image_env, port) == 0
        # The ledger went to the image's data directory, owned by the image's user.
        db = root / "var" / "lib" / "switchboard" / "switchboard.db"
        assert db.exists()
        assert db.stat().st_uid == int(uid)
    # ...and fails once the gateway is gone.
    assert healthcheck(root, runtime, uid, gid, image_env, port) != 0


def healthcheck(
    root: Path, runtime: Stage, uid: str, gid: str, env: dict[str, str], port: int
) -> int:
    (check,) = runtime.all("HEALTHCHECK")
    argv = json.loads(check.args.split(" CMD ", 1)[1])
    argv = [arg.replace("127.0.0.1:8787", f"127.0.0.1:{port}") for arg in argv]
    inside = ["env", "-i", *(f"{k}={v}" for k, v in env.items())]
    done = subprocess.run(
        ["chroot", f"--userspec={uid}:{gid}", str(root), *inside, *argv],
        capture_output=True,
        timeout=30,
    )
    return done.returncode
