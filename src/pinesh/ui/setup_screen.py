"""SETUP: the effective configuration, each server's routes, and the doctor table on D."""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import get_current_worker

from pinesh import __version__
from pinesh.config.alpine_settings import unhonoured
from pinesh.config.pine_settings import Collection, PineSettings
from pinesh.config.pinerc import Pinerc
from pinesh.config.settings import Settings
from pinesh.errors import PineshError
from pinesh.paths import default_config_file, state_dir
from pinesh.services.diagnosis import (
    TABLE_HEADER,
    no_routes_row,
    note_row,
    ordered_routes,
    trial_columns,
    try_route,
)
from pinesh.services.mail import MailSession
from pinesh.services.servers import ConfiguredServer, configured_servers
from pinesh.textsafe import safe_line
from pinesh.ui.attachment_screen import FAILURES, failure_text
from pinesh.ui.key_menu import KeyMenu

Line = tuple[str, str]  # (text, style)
READ_ONLY = "Read-only: edit ~/.pinerc and ~/.config/pinesh/config.toml to change these."


def _value(value: object) -> str:
    """A setting's value as it would be written: lists with commas, yes/no, enums by name."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple | list):
        return ", ".join(_value(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return " ".join(f"{k}={_value(v)}" for k, v in _changed(value))
    return "(unset)" if value is None or value == "" else str(value)


def _changed(obj: object) -> list[tuple[str, object]]:
    """A dataclass's fields that differ from their defaults (what the user wrote)."""
    if not dataclasses.is_dataclass(obj):
        return []
    out = []
    for item in dataclasses.fields(obj):
        value = getattr(obj, item.name)
        if item.default is not dataclasses.MISSING:
            default: object = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            default = dataclasses.MISSING
        if value != default and item.name != "line":
            out.append((item.name, value))
    return out


def _collection(c: Collection) -> str:
    return f"{c.label} {c.name}[{c.pattern}]"


def _index_format(pine: PineSettings) -> str | None:
    if pine.index_format is None:
        return None
    return " ".join(
        c.name + (f"({c.cells})" if c.cells else f"({c.percent}%)" if c.percent else "")
        for c in pine.index_format
    )


def _row(name: str, value: object, line: int | None = None) -> Line:
    where = f"   (line {line})" if line else ""
    return (f"  {name:<22} {_value(value)}{where}", "")


def pinerc_lines(rc: Pinerc, pine: PineSettings) -> list[Line]:
    """The pinerc variables pinesh reads, their values and lines, then the file's problems."""
    values: list[tuple[str, object]] = [
        ("personal-name", pine.personal_name),
        ("user-domain", pine.user_domain),
        ("inbox-path", pine.inbox_path),
        ("folder-collections", [_collection(c) for c in pine.folder_collections]),
        ("news-collections", [_collection(c) for c in pine.news_collections]),
        ("incoming-folders", pine.incoming_folders),
        ("default-fcc", pine.default_fcc),
        ("postponed-folder", pine.postponed_folder),
        ("smtp-server", [s.text for s in pine.smtp_servers]),
        ("nntp-server", [s.text for s in pine.nntp_servers]),
        ("sendmail-path", pine.sendmail_path),
        ("signature-file", pine.signature_file),
        ("address-book", pine.address_books),
        ("customized-hdrs", pine.customized_hdrs),
        ("feature-list", sorted(pine.features)),
        ("sort-key", pine.sort_key + ("/reverse" if pine.sort_reverse else "")),
        ("index-format", _index_format(pine)),
        ("incoming-startup-rule", pine.startup_rule),
        ("saved-msg-name-rule", pine.saved_msg_name_rule),
        ("fcc-name-rule", pine.fcc_name_rule),
        ("reply-indent-string", repr(pine.reply_indent_string)),
        ("reply-leadin", pine.reply_leadin),
        ("editor", pine.editor),
        ("viewer-hdrs", pine.viewer_hdrs),
        ("mail-check-interval", f"{pine.mail_check_interval} s"),
        ("default collection", pine.default_collection),
    ]
    found = "" if Path(rc.path).exists() else "   (no such file: Pine's defaults)"
    lines: list[Line] = [(f"Pine configuration: {rc.path}{found}", "bold")]
    lines += [_row(name, value, rc.line_of(name)) for name, value in values]
    for shell in pine.remote_shells:
        state = f"timeout {shell.timeout} s" if shell.enabled else "off"
        lines.append(
            _row(f"{shell.method}-path/command", f"{shell.path} {shell.template} ({state})")
        )
    if rc.problems:
        lines.append(("  Problems found in it:", "bold"))
        for problem in rc.problems:
            lines.append((f"    {problem.message}", ""))
            if problem.hint:
                lines.append((f"      {problem.hint}", "italic"))
    ignored = unhonoured(rc)
    if ignored:
        lines.append(("  Set in it, not honoured by pinesh (docs/config.md lists all):", "bold"))
        lines += [(f"    {item}", "") for item in ignored]
    return lines


def settings_lines(settings: Settings) -> list[Line]:
    """pinesh's own settings: the file, the top level, [ssh], each rule and forward."""
    source = str(settings.source) if settings.source else f"none ({default_config_file()})"
    lines: list[Line] = [(f"pinesh configuration: {source}", "bold")]
    lines.append(_row("open_timeout", f"{settings.open_timeout:g} s"))
    lines.append(_row("state_dir", settings.state_dir or state_dir()))
    for item in dataclasses.fields(settings.ssh):
        value = getattr(settings.ssh, item.name)
        value = "(default)" if value is None else value
        lines.append(_row(f"ssh.{item.name}", f"{value} s" if item.name == "persist" else value))
    for number, rule in enumerate(settings.rules, start=1):
        where = f"rule {number}" + (f" (line {rule.line})" if rule.line else "")
        lines.append(_row(where, rule))
    for spec in settings.forwards:
        where = "forward" + (f" (line {spec.line})" if spec.line else "")
        lines.append(
            _row(where, f"{spec.server} {spec.service} listen {spec.listen or '(a Unix socket)'}")
        )
    if not settings.rules:
        lines.append(("  no [[rule]]s: IMAP servers are reached the way Pine does it", ""))
    return lines


def _text(lines: list[Line]) -> Text:
    """Lines from files and servers, made safe to draw."""
    return Text("\n").join(Text(safe_line(line), style=style) for line, style in lines)


class SetupScreen(Screen[None]):
    """SETUP: what pinesh read from its two files, and how it reaches each server."""

    DEFAULT_CSS = """
    SetupScreen VerticalScroll { height: 1fr; padding: 0 1; }
    SetupScreen #config, SetupScreen #routes { margin-bottom: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "app.help", "Help"),
        Binding("less_than_sign,m,M", "app.main_menu", "Main Menu"),
        Binding("d,D", "diagnose", "Diagnose"),
        Binding("space", "page(1)", "Spc NextPage", show=False),
        Binding("minus", "page(-1)", "PrevPage", show=False),
        Binding("q,Q", "app.confirm_quit", "Quit"),
    ]
    HELP: ClassVar[str] = """\
SETUP shows the configuration pinesh runs with: the pinerc variables it reads (with
the line each is set on, and any line it could not read), pinesh's own settings from
its TOML file, and for every server your configuration names the routes pinesh tries,
in the order it tries them (a route that worked last time on this network comes first).

D runs the diagnosis that `pinesh doctor` prints: each route of each server is opened
in turn, up to the server's greeting, and the table shows the ssh handshake, channel
and greeting times of each, or why it failed. It runs in the background; the status
line says which route is being tried.

This screen does not change anything: edit ~/.pinerc and ~/.config/pinesh/config.toml.
Space and - scroll; < or M returns to the MAIN MENU.
"""

    def __init__(self, session: MailSession) -> None:
        super().__init__()
        self.session = session
        self.doctor_lines: list[Line] = []

    def compose(self) -> ComposeResult:
        yield Static(Text(f"  PINESH {__version__}   SETUP"), id="title")
        with VerticalScroll(id="setup"):
            yield Static(Text(READ_ONLY, style="italic"), id="note")
            yield Static(Text("Reading the configuration..."), id="config")
            yield Static(Text("Servers: working out the routes..."), id="routes")
            yield Static(Text("Press D to try every route of every server."), id="doctor")
        yield Static("", id="status")
        yield KeyMenu()

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
        self.load()

    @work(thread=True, exclusive=True, group="setup", exit_on_error=False)
    def load(self) -> None:
        """The configuration, then the routes (planning may look at the network)."""
        try:
            config = self._config()
        except FAILURES as exc:
            # A file that cannot be read or shown: say so here, not as a worker's traceback.
            message = f"Cannot show the configuration: {failure_text(exc)}"
            config = [(message, "bold")]
            self.app.call_from_thread(self.say, message)
        self.app.call_from_thread(self._show, "#config", config)
        try:
            routes = self._routes()
        except FAILURES as exc:
            routes = [(f"Servers: {failure_text(exc)}", "bold")]
        self.app.call_from_thread(self._show, "#routes", routes)

    def _config(self) -> list[Line]:
        """The pinerc's lines, then pinesh's own settings."""
        connections = self.session.connections
        config = pinerc_lines(connections.pinerc, self.session.pine)
        return [*config, ("", ""), *settings_lines(connections.settings)]

    def _routes(self) -> list[Line]:
        connections = self.session.connections
        servers, problems = configured_servers(connections.pinerc, connections.settings)
        lines: list[Line] = [("Servers, and their routes in the order pinesh tries them", "bold")]
        if not servers:
            lines.append(("  none configured (pinerc inbox-path, smtp-server, nntp-server)", ""))
        for server in servers:
            lines.append(self._server_heading(server))
            try:
                plan = connections.plan(server.spec, server.service)
                routes = ordered_routes(connections, plan)
            except (PineshError, OSError, ValueError) as exc:
                lines.append((f"      cannot plan its routes: {exc}", "bold"))
                continue
            if not routes:
                lines.append(("      no routes", "bold"))
            lines += [(f"    {n}. {r.describe()}", "") for n, r in enumerate(routes, start=1)]
            lines += [(f"       note: {note}", "italic") for note in plan.notes]
        lines += [(f"  problem: {p}", "bold") for p in problems]
        return lines

    @staticmethod
    def _server_heading(server: ConfiguredServer) -> Line:
        return (f"  {server.spec.host}  {server.service.value}   from {server.source}", "")

    def _show(self, selector: str, lines: list[Line]) -> None:
        if self.is_mounted:
            self.query_one(selector, Static).update(_text(lines))

    def say(self, message: str) -> None:
        if self.is_mounted:
            self.query_one("#status", Static).update(Text(safe_line(message)))

    def action_page(self, step: int) -> None:
        scroll = self.query_one(VerticalScroll)
        if step > 0:
            scroll.scroll_page_down()
        else:
            scroll.scroll_page_up()

    # -- diagnosis --------------------------------------------------------------------

    def action_diagnose(self) -> None:
        self.doctor_lines = [("Diagnosis (pinesh doctor)", "bold"), (TABLE_HEADER, "bold")]
        self._show("#doctor", self.doctor_lines)
        self.say("Diagnosing...")
        self.diagnose()

    def _add(self, line: str, style: str = "") -> None:
        self.doctor_lines.append((line, style))
        self._show("#doctor", self.doctor_lines)

    @work(thread=True, exclusive=True, group="diagnosis")
    def diagnose(self) -> None:
        """Try every route of every server, one at a time, a table line as each ends."""
        call = self.app.call_from_thread
        connections = self.session.connections
        try:
            servers, _ = configured_servers(connections.pinerc, connections.settings)
        except FAILURES as exc:
            call(self.say, f"Cannot diagnose: {failure_text(exc)}")
            return
        worker = get_current_worker()
        failed = 0
        for server in servers:
            try:
                plan = connections.plan(server.spec, server.service)
            except (PineshError, OSError, ValueError) as exc:
                call(self._add, f"{server.spec.host:<22} {server.service.value:<5} {exc}", "bold")
                failed += 1
                continue
            if not plan.routes:
                call(self._add, no_routes_row(server), "bold")
            reached = False
            for number, route in enumerate(plan.routes, start=1):
                if worker.is_cancelled:
                    return  # the screen was left: try no more routes
                call(self.say, f"Trying {server.spec.host} {server.service.value} route {number}")
                try:
                    trial = try_route(connections, server, plan, route)
                except (PineshError, OSError, ValueError) as exc:
                    call(self._add, f"  {route.describe()}: {exc}", "bold")
                    continue
                reached = reached or trial.ok
                call(self._add, trial_columns(trial), "" if trial.ok else "bold")
                call(self._add, f"    {trial.why}", "italic")
            failed += 0 if reached else 1
            for note in plan.notes:
                call(self._add, note_row(note).strip(), "italic")
        total = len(servers)
        call(self.say, f"Diagnosis done: {total - failed} of {total} servers reachable")
