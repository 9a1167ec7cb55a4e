"""The OpenAI chat-completions wire format, as upstreams speak it."""
