"""The README's first command on a machine with no network and no config: `switchboard serve`
answers with the offline demo model, and a generated master key is printed once and stored."""

from __future__ import annotations

from pathlib import Path

import anthropic

from tests.support.gateway import GatewayProcess


def test_serve_without_config_answers_with_the_demo_model(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_MASTER_KEY": ""}
    with GatewayProcess(None, env=env, cwd=tmp_path) as gw:
        key_file = tmp_path / "switchboard.master_key"
        assert key_file.exists()
        key = key_file.read_text().strip()
        assert key in gw.output()  # printed once for the operator
        assert (key_file.stat().st_mode & 0o777) == 0o600
        with anthropic.Anthropic(base_url=gw.url + "/anthropic", api_key=key) as client:
            msg = client.messages.create(
                model="switchboard/demo",
                max_tokens=100,
                messages=[{"role": "user", "content": "ping"}],
            )
            with client.messages.stream(
                model="switchboard/demo",
                max_tokens=100,
                messages=[{"role": "user", "content": "ping"}],
            ) as stream:
                streamed = stream.get_final_message()
    assert msg.content[0].type == "text"
    assert msg.content[0].text.endswith("You said: ping")
    assert streamed.content[0].type == "text"
    assert streamed.content[0].text == msg.content[0].text
    assert streamed.usage.output_tokens > 0
    # A second start reuses the stored key instead of printing a new one.
    with GatewayProcess(None, env=env, cwd=tmp_path) as again:
        assert key not in again.output()
