"""Gateway-issued thinking signatures. Upstream reasoning reaches clients as `thinking` blocks
signed with an HMAC of their text, so a block a client sends back can be verified before it is
returned to the upstream as `reasoning_content` (a forged or foreign block is dropped)."""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "sbsig1."


class ThinkingSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def from_master_key(cls, master_key: str) -> ThinkingSigner:
        # Derived, not configured: every instance sharing a master key verifies the others.
        return cls(
            hmac.new(master_key.encode(), b"switchboard thinking signatures", "sha256").digest()
        )

    def sign(self, thinking: str) -> str:
        digest = hmac.new(self._secret, thinking.encode(), hashlib.sha256).digest()
        return PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verify(self, thinking: str, signature: str) -> bool:
        return signature.startswith(PREFIX) and hmac.compare_digest(self.sign(thinking), signature)
