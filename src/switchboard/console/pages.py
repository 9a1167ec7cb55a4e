"""The console's routes: sign-in, the seven pages, their forms and the fragments the pages poll.

Handlers are thin: read the query or form, call `Operations` (the same functions the admin API
calls), render a template. Every page needs a session; every form that changes something
needs the session's CSRF token as well."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from switchboard.api.exchange import Exchange
from switchboard.console import web
from switchboard.console.forms import key_fields, team_fields
from switchboard.console.render import Renderer
from switchboard.console.session import (
    COOKIE,
    LOGIN_COOKIE,
    SESSION_SECONDS,
    Session,
    Sessions,
    SignInLimiter,
    new_login_token,
    tokens_match,
)
from switchboard.errors import (
    AuthenticationFailed,
    Conflict,
    GatewayError,
    InvalidRequest,
    NotFound,
)
from switchboard.operations import (
    WINDOWS,
    Operations,
    dimension,
    request_filter,
    sort_key,
    whole_number,
    window,
)
from switchboard.storage import GROUPS
from switchboard.storage.activity import DIMENSIONS, SORTS
from switchboard.tenancy.admin import FIELDS
from switchboard.tenancy.auth import Authenticator
from switchboard.tenancy.keys import PERIODS

PAGE_SIZE = 50
CSV_LIMIT = 100_000
Page = Callable[[Exchange, Session, list[str]], Awaitable[None]]
Form = Callable[[Exchange, Session, list[str], dict[str, str]], Awaitable[None]]
# Read by the pages' scripts, not opened as pages: without a session they answer 401.
FRAGMENTS = frozenset({"inflight"})


class Console:
    def __init__(self, auth: Authenticator, ops: Operations, master_key: str) -> None:
        self._auth = auth
        self._ops = ops
        self._sessions = Sessions(master_key)
        self._limiter = SignInLimiter()
        self._render = Renderer()
        self._static = web.StaticFiles()
        # The first path segment after /console -> its handler.
        self._pages: dict[str, Page] = {
            "": self.overview,
            "inflight": self.inflight,
            "keys": self.keys,
            "teams": self.teams,
            "usage": self.usage,
            "usage.csv": self.usage_csv,
            "requests": self.requests,
            "channels": self.channels,
            "models": self.models,
        }
        self._forms: dict[str, Form] = {
            "keys": self.key_post,
            "teams": self.team_post,
            "channels": self.channel_reset,
            "logout": self.logout,
        }

    # -- dispatch -------------------------------------------------------------------------

    async def home(self, ex: Exchange) -> None:
        await web.redirect(ex, "/console")

    async def __call__(self, ex: Exchange) -> None:
        parts = ex.path.removeprefix("/console").strip("/").split("/")
        method = "GET" if ex.head_only else ex.method
        try:
            if parts[0] == "static" and method == "GET":
                if not await self._static.serve(ex, "/".join(parts[1:])):
                    raise NotFound(f"no file {ex.path}")
                return
            if parts[0] == "login":
                await (self.login_form(ex) if method == "GET" else self.login(ex))
                return
            session = self._sessions.verify(web.cookies(ex).get(COOKIE))
            if session is None:
                if method == "GET" and parts[0] not in FRAGMENTS and len(parts) == 1:
                    await web.redirect(ex, "/console/login")
                else:
                    await self._error(ex, None, 401, "Sign in again: the session has ended.")
                return
            if method == "POST" and parts[0] in self._forms:
                fields = await web.form(ex)
                if not Sessions.csrf_ok(session, fields.get("csrf")):
                    message = "The form's CSRF token is missing or wrong; reload the page."
                    await self._error(ex, session, 403, message)
                    return
                await self._forms[parts[0]](ex, session, parts, fields)
            elif method == "GET" and parts[0] in self._pages:
                await self._pages[parts[0]](ex, session, parts)
            else:
                raise NotFound(f"no page {ex.method} {ex.path}")
        except GatewayError as exc:
            await self._error(ex, None, exc.status, exc.message)

    async def _error(self, ex: Exchange, session: Session | None, status: int, text: str) -> None:
        html = self._render.render(
            "error.html", session=session, status=status, message=text, nav=""
        )
        await web.page(ex, status, html)

    def _page(self, template: str, session: Session, nav: str, **context: Any) -> str:
        return self._render.render(template, session=session, nav=nav, **context)

    # -- sign-in --------------------------------------------------------------------------

    async def login_form(self, ex: Exchange, status: int = 200, message: str = "") -> None:
        token = new_login_token()
        html = self._render.render(
            "login.html", session=None, nav="", login_token=token, message=message
        )
        cookie = web.cookie_header(LOGIN_COOKIE, token, 600, web.served_over_tls(ex))
        await web.page(ex, status, html, [cookie])

    async def login(self, ex: Exchange) -> None:
        if ex.method != "POST":
            raise InvalidRequest(f"method {ex.method} is not allowed on /console/login")
        address = web.client_address(ex)
        wait = self._limiter.retry_after(address)
        if wait:
            await web.page(
                ex,
                429,
                self._render.render(
                    "error.html",
                    session=None,
                    nav="",
                    status=429,
                    message=f"Too many failed sign-ins; try again in {wait} seconds.",
                ),
                [(b"retry-after", str(wait).encode())],
            )
            return
        fields = await web.form(ex)
        sent, expected = fields.get("csrf", ""), web.cookies(ex).get(LOGIN_COOKIE, "")
        if not expected or not tokens_match(expected, sent):
            await self.login_form(ex, 403, "The form expired; sign in again.")
            return
        try:
            principal = await self._auth.authenticate(fields.get("key", "").strip() or None, None)
        except AuthenticationFailed:
            principal = None
        if principal is None or not principal.is_master:
            self._limiter.failed(address)
            message = (
                "That is a client key: the console takes only the master key."
                if principal is not None
                else "That is not the master key."
            )
            await self.login_form(ex, 401, message)
            return
        self._limiter.succeeded(address)
        _, token = self._sessions.new()
        tls = web.served_over_tls(ex)
        await web.redirect(
            ex,
            "/console",
            [
                web.cookie_header(COOKIE, token, SESSION_SECONDS, tls),
                web.cookie_header(LOGIN_COOKIE, "", 0, tls),
            ],
        )

    async def logout(
        self, ex: Exchange, session: Session, parts: list[str], fields: dict[str, str]
    ) -> None:
        self._sessions.end(session)
        await web.redirect(
            ex, "/console/login", [web.cookie_header(COOKIE, "", 0, web.served_over_tls(ex))]
        )

    # -- overview ---------------------------------------------------------------------------

    async def overview(self, ex: Exchange, session: Session, parts: list[str]) -> None:
        q = web.query(ex)
        w, by = window(q.get("window")), dimension(q.get("by"))
        series = await self._ops.overview(w, by)
        names = await self._ops.key_names() if by == "key" else {}
        chart = {
            "step": series.step_seconds,
            "starts": series.starts,
            "totals": series.totals,
            "groups": series.groups,
            "labels": {g: names[g] for g in series.groups if g in names},
            "by": by,
        }
        html = self._page(
            "overview.html",
            session,
            "overview",
            window=w,
            windows=WINDOWS,
            by=by,
            dimensions=DIMENSIONS,
            series=series,
            chart=chart,
            inflight=self._ops.in_flight(),
            names=names,
        )
        await web.page(ex, 200, html)

    async def inflight(self, ex: Exchange, session: Session, parts: list[str]) -> None:
        html = self._render.render("_inflight.html", inflight=self._ops.in_flight())
        await web.page(ex, 200, html)

    # -- keys -------------------------------------------------------------------------------

    async def keys(self, ex: Exchange, session: Session, parts: list[str]) -> None:
        if len(parts) == 2:
            key = await self._ops.keys_admin.get(parts[1])
            html = self._page(
                "key_edit.html", session, "keys", key=key.public(), periods=PERIODS, message=""
            )
            await web.page(ex, 200, html)
            return
        await self._key_list(ex, session)

    async def _key_list(
        self,
        ex: Exchange,
        session: Session,
        status: int = 200,
        message: str = "",
        form: dict[str, str] | None = None,
    ) -> None:
        views = await self._ops.keys()
        v = _sent(form)
        html = self._page(
            "keys.html",
            session,
            "keys",
            keys=views,
            periods=PERIODS,
            message=message,
            v=v,
            now=datetime.now(UTC),
        )
        await web.page(ex, status, html)

    async def key_post(
        self, ex: Exchange, session: Session, parts: list[str], fields: dict[str, str]
    ) -> None:
        admin = self._ops.keys_admin
        if len(parts) == 1:  # create
            try:
                key, secret = await admin.create(key_fields(fields, creating=True))
            except InvalidRequest as exc:
                await self._key_list(ex, session, 400, exc.message, fields)
                return
            await self._secret(ex, session, key.public(), secret, "created")
            return
        key_id = parts[1]
        action = parts[2] if len(parts) == 3 else "update"
        if action == "update":
            try:
                await admin.update(key_id, key_fields(fields, creating=False))
            except InvalidRequest as exc:
                key = await admin.get(key_id)
                html = self._page(
                    "key_edit.html",
                    session,
                    "keys",
                    key=key.public(),
                    periods=PERIODS,
                    message=exc.message,
                )
                await web.page(ex, 400, html)
                return
            await web.redirect(ex, "/console/keys")
        elif action == "revoke":
            await admin.revoke(key_id)
            await web.redirect(ex, "/console/keys")
        elif action == "rotate":
            key, secret = await admin.rotate(key_id)
            await self._secret(ex, session, key.public(), secret, "rotated")
        else:
            raise NotFound(f"no action {action}")

    # -- teams ------------------------------------------------------------------------------

    async def teams(
        self,
        ex: Exchange,
        session: Session,
        parts: list[str],
        status: int = 200,
        message: str = "",
        form: dict[str, str] | None = None,
    ) -> None:
        v = _sent(form)
        html = self._page(
            "teams.html",
            session,
            "teams",
            teams=await self._ops.teams(),
            periods=PERIODS,
            message=message,
            v=v,
        )
        await web.page(ex, status, html)

    async def team_post(
        self, ex: Exchange, session: Session, parts: list[str], fields: dict[str, str]
    ) -> None:
        admin = self._ops.keys_admin.teams
        if admin is None:
            raise NotFound("teams: this gateway keeps no teams")
        if len(parts) == 1:  # create
            try:
                await admin.create(team_fields(fields))
            except (InvalidRequest, Conflict) as exc:
                await self.teams(ex, session, parts, exc.status, exc.message, fields)
                return
        elif len(parts) == 3 and parts[2] == "delete":
            # As `teams delete --force`: its keys leave the team (the page asks first).
            await admin.delete(parts[1], force=True)
        else:
            raise NotFound(f"no action {'/'.join(parts[2:])}")
        await web.redirect(ex, "/console/teams")

    async def _secret(
        self, ex: Exchange, session: Session, key: dict[str, object], secret: str, what: str
    ) -> None:
        """The one response that holds a secret: the answer to the POST itself, never stored
        or cached, never reachable again by GET."""
        html = self._page("key_secret.html", session, "keys", key=key, secret=secret, what=what)
        await web.page(ex, 201 if what == "created" else 200, html)

    # -- usage ------------------------------------------------------------------------------

    async def usage(self, ex: Exchange, session: Session, parts: list[str]) -> None:
        q = web.query(ex)
        f = request_filter(q).usage
        group = q.get("group_by") or "day"
        rows = await self._ops.usage(f, group)
        totals = {
            k: sum(r[k] for r in rows)
            for k in (
                "requests",
                "errors",
                "input_tokens",
                "output_tokens",
                "cost_usd",
                "web_search_requests",
                "web_search_usd",
            )
        }
        ungrouped = {k: v for k, v in q.items() if k != "group_by" and v}
        names = await self._ops.names(group)
        html = self._page(
            "usage.html",
            session,
            "usage",
            rows=rows,
            group=group,
            groups=GROUPS,
            q=q,
            totals=totals,
            ungrouped=ungrouped,
            grouped={**ungrouped, "group_by": group},
            names=names,
        )
        await web.page(ex, 200, html)

    async def usage_csv(self, ex: Exchange, session: Session, parts: list[str]) -> None:
        q = web.query(ex)
        f = request_filter(q).usage
        out = io.StringIO()
        group = q.get("group_by") or ""
        rows = await (self._ops.usage(f, group) if group else self._ops.usage_rows(f, CSV_LIMIT))
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _cell(v) for k, v in row.items()})
        name = f"switchboard-usage{'-by-' + group if group else ''}.csv"
        await web.download(ex, out.getvalue().encode(), name, b"text/csv; charset=utf-8")

    # -- requests ---------------------------------------------------------------------------

    async def requests(self, ex: Exchange, session: Session, parts: list[str]) -> None:
        if len(parts) == 2 and parts[1] != "rows":
            entry = await self._ops.request(parts[1])
            names = await self._ops.key_names()
            captured = await self._ops.capture(parts[1])
            html = self._page(
                "request.html", session, "requests", e=entry, names=names, captured=captured
            )
            await web.page(ex, 200, html)
            return
        q = web.query(ex)
        sort = sort_key(q.get("sort"))
        page_no = whole_number("page", q.get("page"), 1, 10**7) or 1
        live = len(parts) == 2  # the rows alone, for the live refresh: not counted
        page = await self._ops.requests(
            request_filter(q), sort, (page_no - 1) * PAGE_SIZE, PAGE_SIZE, count=not live
        )
        template = "_request_rows.html" if live else "requests.html"
        keep = {k: v for k, v in q.items() if k not in ("page", "sort") and v}
        names = await self._ops.key_names()
        html = self._page(
            template,
            session,
            "requests",
            page=page,
            page_no=page_no,
            sort=sort,
            sorts=SORTS,
            q=q,
            keep=keep,
            pages=max(1, -(-page.total // PAGE_SIZE)),
            names=names,
        )
        await web.page(ex, 200, html)

    # -- channels and models -----------------------------------------------------------------

    async def channels(self, ex: Exchange, session: Session, parts: list[str]) -> None:
        views = await self._ops.channels()
        await web.page(
            ex,
            200,
            self._page(
                "channels.html",
                session,
                "channels",
                channels=views,
                message=web.query(ex).get("reset", ""),
            ),
        )

    async def channel_reset(
        self, ex: Exchange, session: Session, parts: list[str], fields: dict[str, str]
    ) -> None:
        key = fields.get("key", "")
        if not key.isdigit():
            raise InvalidRequest("key: must be a whole number", param="key")
        status = self._ops.reset_channel(fields.get("channel", ""), int(key))
        await web.redirect(ex, f"/console/channels?reset={status.channel}%23{status.key}")

    async def models(self, ex: Exchange, session: Session, parts: list[str]) -> None:
        html = self._page("models.html", session, "models", models=self._ops.models())
        await web.page(ex, 200, html)


def _sent(form: dict[str, str] | None) -> dict[str, Any]:
    """What a create form shows: what was sent when it was refused, else nothing."""
    sent = form or {}
    v: dict[str, Any] = {name: sent.get(name) or None for name in FIELDS}
    v["models"] = [m for m in (sent.get("models") or "").split(",") if m.strip()]
    v["budget_period"] = sent.get("budget_period") or "month"
    return v


def _cell(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # not a formula when the file is opened in a spreadsheet
    return value
