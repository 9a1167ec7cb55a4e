"""Who serves a request: base URL, auth, the HTTP lifecycle and error mapping, per provider kind."""
