"""Gateway-issued thinking signatures. Upstream reasoning reaches clients as `thinking` blocks
signed with an HMAC of their text, so a block a client sends back can be verified before it is
returned to the upstream as `reasoning_content` (a forged or foreign block is dropped).

Providers' own opaque signatures (Gemini's `thoughtSignature`) are sealed: carried inside the
gateway's signature next to an HMAC of the block's text and the payload, so the client can give
them back but can neither forge one nor move one to other text."""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "sbsig1."
SEALED = "sbsig2."


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

    def seal(self, thinking: str, payload: str) -> str:
        return SEALED + self._mac(thinking, payload) + "." + payload

    def unseal(self, thinking: str, signature: str) -> str | None:
        """The payload of a signature this gateway sealed over `thinking`; None otherwise."""
        if not signature.startswith(SEALED):
            return None
        mac, dot, payload = signature[len(SEALED) :].partition(".")
        if not dot or not hmac.compare_digest(mac, self._mac(thinking, payload)):
            return None
        return payload

    def _mac(self, thinking: str, payload: str) -> str:
        text = thinking.encode()
        message = b"sealed\x00" + len(text).to_bytes(8, "big") + text + payload.encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
