"""Switchboard: a self-hosted LLM API gateway speaking the Anthropic Messages API."""

__version__ = "0.1.0"
