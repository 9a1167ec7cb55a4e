"""What is per key: who a client is (auth, keys, the key cache and its change feed), what it
may do (admission against the limits in limits/), what it spent (usage, the ledger writer), the
administration of keys (admin, and its CLI), and `runtime.Tenancy`, which builds them for one
process. The SQL lives in storage/ and the limiters in limits/, each already one concept."""
