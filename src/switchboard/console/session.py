"""Console sessions, CSRF tokens and the sign-in rate limit.

A session is a signed token, not a row: `<id>.<expires>.<mac>`, HMAC-SHA256 under a key derived
from the master key. Every worker process of one gateway derives the same key, so a session
works whichever worker answers, and it survives a restart; changing the master key ends every
session. The cookie carries the token (HttpOnly, SameSite=Strict, Path=/console, Max-Age). The
server keeps only the ids of sessions signed out before they expired, so a copied cookie stops
working at sign-out on this process (other workers: at expiry, SESSION_SECONDS at most).

The CSRF token of a session is an HMAC of its id under a second derived key: stateless, bound
to the session, checked on every state-changing form. Before sign-in, the login form carries a
random token that must match a cookie set with the form (double submit)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass

SESSION_SECONDS = 12 * 3600
COOKIE = "sb_session"
LOGIN_COOKIE = "sb_login"
# Failed sign-ins: at most PER_ADDRESS per address and GLOBAL from everyone, per WINDOW.
WINDOW_SECONDS = 300.0
PER_ADDRESS = 5
GLOBAL = 50
_MAX_ADDRESSES = 10_000


def _derive(master_key: str, purpose: bytes) -> bytes:
    return hmac.new(master_key.encode("utf-8", "surrogatepass"), purpose, hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    expires: int  # Unix seconds
    csrf: str


class Sessions:
    def __init__(self, master_key: str) -> None:
        self._sign_key = _derive(master_key, b"switchboard console session v1")
        self._csrf_key = _derive(master_key, b"switchboard console csrf v1")
        self._ended: dict[str, int] = {}  # signed-out session id -> its expiry

    def _mac(self, payload: str) -> str:
        return hmac.new(self._sign_key, payload.encode(), hashlib.sha256).hexdigest()

    def _csrf(self, session_id: str) -> str:
        return hmac.new(self._csrf_key, session_id.encode(), hashlib.sha256).hexdigest()[:32]

    def new(self) -> tuple[Session, str]:
        """A new session and the token for its cookie."""
        sid = secrets.token_hex(16)
        expires = int(time.time()) + SESSION_SECONDS
        payload = f"{sid}.{expires}"
        return Session(sid, expires, self._csrf(sid)), f"{payload}.{self._mac(payload)}"

    def verify(self, token: str | None) -> Session | None:
        if not token or len(token) > 200:
            return None
        sid, _, rest = token.partition(".")
        expires, _, mac = rest.partition(".")
        if not expires.isdigit() or not hmac.compare_digest(mac, self._mac(f"{sid}.{expires}")):
            return None
        if int(expires) <= time.time() or sid in self._ended:
            return None
        return Session(sid, int(expires), self._csrf(sid))

    def end(self, session: Session) -> None:
        now = time.time()
        if len(self._ended) > 1000:
            self._ended = {s: e for s, e in self._ended.items() if e > now}
        self._ended[session.id] = session.expires

    @staticmethod
    def csrf_ok(session: Session, sent: str | None) -> bool:
        return sent is not None and tokens_match(session.csrf, sent)


class SignInLimiter:
    """Failed sign-ins in a sliding window, per client address and in all. Refusing before the
    key is even checked makes guessing the master key hopeless from one place and slow from
    many."""

    def __init__(self) -> None:
        self._by_address: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    @staticmethod
    def _trim(times: deque[float], now: float) -> None:
        while times and times[0] <= now - WINDOW_SECONDS:
            times.popleft()

    def retry_after(self, address: str) -> int:
        """0 when this address may try now, else the seconds until it may."""
        now = time.monotonic()
        self._trim(self._all, now)
        mine = self._by_address.get(address)
        if mine is not None:
            self._trim(mine, now)
        waits = []
        if mine is not None and len(mine) >= PER_ADDRESS:
            waits.append(mine[0] + WINDOW_SECONDS - now)
        if len(self._all) >= GLOBAL:
            waits.append(self._all[0] + WINDOW_SECONDS - now)
        return max(1, int(max(waits)) + 1) if waits else 0

    def failed(self, address: str) -> None:
        now = time.monotonic()
        if address not in self._by_address and len(self._by_address) >= _MAX_ADDRESSES:
            for a in [a for a, t in self._by_address.items() if not t or t[-1] <= now - 300]:
                del self._by_address[a]
        self._by_address.setdefault(address, deque()).append(now)
        self._all.append(now)

    def succeeded(self, address: str) -> None:
        self._by_address.pop(address, None)


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def tokens_match(expected: str, sent: str) -> bool:
    return hmac.compare_digest(expected.encode(), sent.encode())
