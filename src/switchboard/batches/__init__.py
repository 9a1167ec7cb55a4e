"""Batches: requests a client hands over in bulk, run later by workers inside the gateway
processes through the one pipeline (service.py), billed at a discount.

    dialect.py   what the machinery needs of a client API (the Message Batches API, the
                 OpenAI Batch API): judge a request, make it an Inbound, encode its outcome
    runtime.py   Batches: create / read / cancel / delete for the handlers, and the worker
                 (claims with a lease, bounded concurrency, sweeps cancel / expiry / end)
    principals.py  the key a stored batch runs as, found again after a restart

The SQL is in storage/batches.py (and storage/files.py, the OpenAI API's files), the wire
formats in dialects/*/batches.py, the handlers in api/message_batches.py and
api/openai_batches.py."""
