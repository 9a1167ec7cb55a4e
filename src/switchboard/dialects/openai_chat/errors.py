"""What an OpenAI-dialect upstream said when it failed. Vendors disagree on the shape: the nested
envelope, SGLang's flat object, `{"error": "string"}`, FastAPI's `detail`, DeepSeek's
`error_msg`, or plain text."""

from __future__ import annotations

from typing import Any

import orjson


def upstream_error_message(body: bytes) -> str:
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:500].decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if isinstance(err, str) and err:
            return err
        for key in ("message", "error_msg", "detail"):
            if data.get(key):
                value = data[key]
                return value if isinstance(value, str) else orjson.dumps(value).decode()[:500]
    return body[:500].decode("utf-8", "replace")
