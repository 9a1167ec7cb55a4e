"""The Switchboard benchmark harness: `bench/run` (see bench/README.md). Not part of the test
suite and not shipped with the package."""
