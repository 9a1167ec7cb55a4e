"""Test-support library for Switchboard: scripted upstreams, SSE tools, gateway launcher.

Modules are imported explicitly (``from tests.support.mock_upstream import ScriptedUpstream``);
nothing is re-exported here so importing one helper never drags in the others.
"""
