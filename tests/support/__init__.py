"""Test-support library for Switchboard, one of each: the gateway launcher (gateway.py), the
scripted upstream (mock_upstream.py; a responder adapts it to a scenario table or an agent),
the error-envelope check (envelope.py); besides them the wire builders, SSE tools, the stream
validator, raw servers (raw_http.py, file_server.py) and the raw-socket client.

Modules are imported explicitly (``from tests.support.mock_upstream import ScriptedUpstream``);
nothing is re-exported here so importing one helper never drags in the others.
"""
