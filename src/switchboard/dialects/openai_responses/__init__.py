"""The OpenAI Responses API (`POST /v1/responses`), as served to clients (Codex CLI, the SDK)."""
