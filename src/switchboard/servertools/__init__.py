"""Anthropic's server tools (`web_search_*`, `web_fetch_*`) on models whose upstreams have none:
the gateway offers the model function tools in their place, runs the calls (a search engine
from the config's `search`, fetches under the URL guard) and loops until the model answers,
so that the client gets what Anthropic's API returns.

    loop.py      ServerTools (what this gateway can run) -> Loop (one request's calls)
    tools.py     the function tools the model sees, and running one call
    backends.py  the search engines, registered by name (BACKENDS)
"""

from switchboard.servertools.loop import Loop, ServerTools

__all__ = ["Loop", "ServerTools"]
