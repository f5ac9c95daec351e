"""SETUP through Textual's Pilot, and the diagnosis it shares with `pinesh doctor`."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import Pinerc, parse_pinerc
from pinesh.config.pinesh_toml import parse_settings
from pinesh.config.server_spec import parse_server_spec
from pinesh.config.settings import Settings
from pinesh.errors import ConfigError
from pinesh.services.connections import Connections
from pinesh.services.diagnosis import TABLE_HEADER, select_servers, table_row, try_route
from pinesh.services.mail import MailSession
from pinesh.services.servers import ConfiguredServer, configured_servers
from pinesh.transport.service import Service
from pinesh.ui import setup_screen
from pinesh.ui.app import MainMenu, PineshApp
from pinesh.ui.help_screen import HelpScreen
from pinesh.ui.setup_screen import SetupScreen, pinerc_lines, settings_lines

PINERC = """\
personal-name=Jane Setup
inbox-path={{127.0.0.1:{port}/notls}}INBOX
this line is not a setting
smtp-server=127.0.0.1:{port}/notls
"""


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed again)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _connections(tmp: Path, port: int, settings: Settings | None = None) -> Connections:
    rc = parse_pinerc(PINERC.format(port=port), str(tmp / "pinerc"))
    return Connections(settings or Settings(state_dir=tmp / "state"), rc)


def _app(tmp: Path, port: int) -> PineshApp:
    connections = _connections(tmp, port)
    session = MailSession(connections, pine_settings(connections.pinerc), data_dir=tmp / "data")
    return PineshApp(session)


async def _settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def _shown(app: PineshApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def test_setup_shows_the_configuration_and_the_routes(tmp_path: Path) -> None:
    app = _app(tmp_path, 1)

    async def scenario() -> None:
        async with app.run_test(size=(120, 50)) as pilot:
            await pilot.press("s")
            assert isinstance(app.screen, SetupScreen)
            await _settle(pilot)
            config = _shown(app, "#config")
            assert f"Pine configuration: {tmp_path / 'pinerc'}" in config
            assert "personal-name" in config and "Jane Setup   (line 1)" in config
            assert f"{tmp_path / 'pinerc'}:3: not a 'name=value' line" in config
            assert "pinesh configuration: none" in config  # no config file: defaults
            assert f"state_dir              {tmp_path / 'state'}" in config
            assert "edit ~/.pinerc and ~/.config/pinesh/config.toml" in _shown(app, "#note")
            routes = _shown(app, "#routes")
            assert "127.0.0.1  imap   from pinerc inbox-path" in routes
            assert "1. PLAIN 127.0.0.1:1" in routes
            assert "127.0.0.1  smtp   from pinerc smtp-server" in routes

            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("e")
            assert isinstance(app.screen, SetupScreen)
            await pilot.press("less_than_sign")
            assert isinstance(app.screen, MainMenu)

    asyncio.run(scenario())


def test_diagnosing_a_closed_port_shows_why_it_failed(tmp_path: Path) -> None:
    app = _app(tmp_path, _closed_port())

    async def scenario() -> None:
        async with app.run_test(size=(140, 50)) as pilot:
            await pilot.press("s")
            await _settle(pilot)
            assert "Press D" in _shown(app, "#doctor")
            await pilot.press("d")
            await _settle(pilot)
            doctor = _shown(app, "#doctor")
            assert "SERVER" in doctor and "GREET" in doctor
            rows = [line for line in doctor.splitlines() if line.startswith("127.0.0.1 ")]
            assert len(rows) == 2 and all(" FAIL " in row for row in rows)
            assert doctor.count("Connection refused") == 2
            status = _shown(app, "#status")
            assert "Diagnosis done: 0 of 2 servers reachable" in status
            assert isinstance(app.screen, SetupScreen)  # no crash, still here

    asyncio.run(scenario())


def test_hostile_settings_are_drawn_inert(tmp_path: Path) -> None:
    rc = parse_pinerc("personal-name=Evil\x1b[2J\x1b]0;owned\x07Name\n", str(tmp_path / "pinerc"))
    session = MailSession(
        Connections(Settings(state_dir=tmp_path / "state"), rc),
        pine_settings(rc),
        data_dir=tmp_path / "data",
    )
    app = PineshApp(session)

    async def scenario() -> None:
        async with app.run_test(size=(120, 50)) as pilot:
            await pilot.press("s")
            await _settle(pilot)
            config = _shown(app, "#config")
            assert "\x1b" not in config and "\x07" not in config
            assert "Evil\\x1b[2J" in config

    asyncio.run(scenario())


def test_settings_lines_show_what_each_rule_says() -> None:
    settings = parse_settings(
        '[[rule]]\nservers = ["mail.example.org"]\nservices = ["imap"]\nlogin = "shell"\n'
        'imap_command = ["/usr/lib/dovecot/imap"]\n'
        '[[forward]]\nserver = "mail.example.org"\nservice = "smtp"\nlisten = "2025"\n',
        "/home/u/.config/pinesh/config.toml",
    )
    text = "\n".join(line for line, _ in settings_lines(settings))
    assert "pinesh configuration: /home/u/.config/pinesh/config.toml" in text
    rule = next(line for line in text.splitlines() if line.strip().startswith("rule 1"))
    assert "(line 1)" in rule
    assert "servers=mail.example.org" in rule and "login=shell" in rule
    assert "imap_command=/usr/lib/dovecot/imap" in rule
    assert "via=" not in rule  # defaults are not repeated
    assert "mail.example.org smtp listen 2025" in text


# -- the diagnosis service (what `pinesh doctor` prints, row by row) ---------------------


def test_a_route_to_a_closed_port_fails_with_its_reason(tmp_path: Path) -> None:
    port = _closed_port()
    connections = _connections(tmp_path, port)
    server = ConfiguredServer(
        parse_server_spec(f"127.0.0.1:{port}/notls"), Service.IMAP, "pinerc inbox-path"
    )
    plan = connections.plan(server.spec, server.service)
    [route] = plan.routes
    trial = try_route(connections, server, plan, route)
    assert not trial.ok and trial.result == "FAIL"
    assert "refused" in trial.why
    row = table_row(trial)
    assert row.startswith(f"{'127.0.0.1':<22} imap  PLAIN 127.0.0.1:{port}")
    # the WHY column starts where the header says it does
    assert row.index("cannot connect") == TABLE_HEADER.index("WHY")


def test_a_route_that_greets_is_ok(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]

        def greet() -> None:
            peer, _ = listener.accept()
            with peer:
                peer.sendall(b"* OK [CAPABILITY IMAP4rev1] lab ready\r\n")

        connections = _connections(tmp_path, port)
        servers, _ = configured_servers(connections.pinerc, connections.settings)
        [server] = select_servers(servers, ["127.0.0.1"], "imap")
        plan = connections.plan(server.spec, server.service)
        server_thread = threading.Thread(target=greet)
        server_thread.start()
        try:
            trial = try_route(connections, server, plan, plan.routes[0])
        finally:
            server_thread.join(timeout=10)
    assert trial.ok and "lab ready" in trial.why
    assert trial.steps.greeting is not None


def test_select_servers_by_host_and_service(tmp_path: Path) -> None:
    connections = _connections(tmp_path, 1)
    servers, problems = configured_servers(connections.pinerc, connections.settings)
    assert problems == []
    assert [s.service for s in select_servers(servers, [], None)] == [Service.IMAP, Service.SMTP]
    assert [s.service for s in select_servers(servers, [], "smtp")] == [Service.SMTP]
    assert select_servers(servers, ["elsewhere"], None) == []


def test_a_server_setting_that_did_not_parse_is_shown_as_written_and_listed(
    tmp_path: Path,
) -> None:
    rc = parse_pinerc(
        "smtp-server=smtp.isp.example/User=x/bogus, backup.isp.example\n"
        "nntp-server=news.isp.example/bogus\n",
        str(tmp_path / "pinerc"),
    )
    config = [text for text, _ in pinerc_lines(rc, pine_settings(rc))]
    assert (
        "  smtp-server            smtp.isp.example/User=x/bogus, backup.isp.example   (line 1)"
        in config
    )
    assert "  nntp-server            news.isp.example/bogus   (line 2)" in config
    servers, problems = configured_servers(rc, Settings())
    assert [(s.spec.host, s.service) for s in servers] == [("backup.isp.example", Service.SMTP)]
    assert problems == [
        "pinerc smtp-server: server 'smtp.isp.example/User=x/bogus': unknown flag '/bogus'",
        "pinerc nntp-server: server 'news.isp.example/bogus': unknown flag '/bogus'",
    ]


def _broken_config(settings: Settings) -> list[tuple[str, str]]:
    raise ConfigError(
        "ssh.persist must be a number of seconds",
        file="/home/me/.config/pinesh/config.toml",
        line=3,
        hint="write persist = 600",
    )


def _unreadable_pinerc(rc: Pinerc, pine: object) -> list[tuple[str, str]]:
    raise PermissionError(13, "Permission denied", "/home/me/.pinerc")


@pytest.mark.parametrize(
    ("function", "broken", "shown_text"),
    [
        (
            "settings_lines",
            _broken_config,
            "/home/me/.config/pinesh/config.toml:3: ssh.persist must be a number of seconds "
            "(write persist = 600)",
        ),
        ("pinerc_lines", _unreadable_pinerc, "Permission denied: /home/me/.pinerc"),
    ],
)
def test_setup_shows_a_configuration_it_cannot_read_as_a_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
    broken: object,
    shown_text: str,
) -> None:
    # Was: the exception ended the load worker, and Textual stopped pinesh with a
    # worker error (a traceback) instead of showing what was wrong.
    monkeypatch.setattr(setup_screen, function, broken)
    app = _app(tmp_path, 1)

    async def scenario() -> None:
        async with app.run_test(size=(120, 50)) as pilot:
            await pilot.press("s")
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
            assert isinstance(app.screen, SetupScreen)
            assert _shown(app, "#config") == f"Cannot show the configuration: {shown_text}"
            assert _shown(app, "#status") == f"Cannot show the configuration: {shown_text}"
            # The routes are worked out all the same.
            assert "127.0.0.1  imap   from pinerc inbox-path" in _shown(app, "#routes")

    asyncio.run(scenario())
    assert app.return_code is None  # still running when the scenario ended: no crash


def test_setup_shows_the_pine_settings_pinesh_honours_with_their_lines(tmp_path: Path) -> None:
    rc = parse_pinerc(
        "sort-key=Date/Reverse\nindex-format=MSGNO(5) FROMORTO(33%) SUBJKEY\n"
        "color-style=force-xterm-256color\n",
        str(tmp_path / "pinerc"),
    )
    config = [text for text, _ in pinerc_lines(rc, pine_settings(rc))]
    assert "  sort-key               date/reverse   (line 1)" in config
    assert "  index-format           MSGNO(5) FROMORTO(33%) SUBJKEY   (line 2)" in config
    assert "  default collection     mail/" in config
    assert "    color-style: not applicable (pinesh keeps the terminal's own colours)" in config
