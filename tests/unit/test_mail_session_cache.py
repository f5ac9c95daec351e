"""The session's header cache per IMAP server: opened once, off when asked, and a cache
directory that is not safely ours turns it off with a reason the status line shows."""

from __future__ import annotations

from pathlib import Path

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.server_spec import ServerSpec
from pinesh.config.settings import CacheSettings, Settings
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession, header_cache_line
from pinesh.stores.names import NameContext, parse_mailbox_name


def _session(tmp: Path, cache: CacheSettings) -> MailSession:
    rc = parse_pinerc("", str(tmp / "pinerc"))
    settings = Settings(cache=cache)
    return MailSession(Connections(settings, rc), pine_settings(rc), data_dir=tmp / "data")


def _server(name: str = "{mail.example.org/user=me}INBOX") -> ServerSpec:
    box = parse_mailbox_name(name, NameContext.from_environment(None, None))
    assert box.server is not None
    return box.server


def test_one_cache_file_per_server_below_the_configured_directory(tmp_path: Path) -> None:
    session = _session(tmp_path, CacheSettings(directory=tmp_path / "c"))
    cache = session.header_cache(_server())
    assert cache is not None
    assert session.header_cache(_server("{MAIL.example.org/user=me}Sent")) is cache
    assert cache.path.parent == tmp_path / "c" / "imap"
    assert "mail.example.org" not in cache.path.name  # a hash, never a server's name
    assert session.cache_problem is None
    session.close()


def test_the_cache_switched_off_is_never_opened(tmp_path: Path) -> None:
    session = _session(tmp_path, CacheSettings(enabled=False, directory=tmp_path / "c"))
    assert session.header_cache(_server()) is None
    assert session.cache_problem is None
    assert not (tmp_path / "c").exists()


def test_a_cache_directory_others_may_write_turns_the_cache_off_with_a_reason(
    tmp_path: Path,
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    session = _session(tmp_path, CacheSettings(directory=shared))
    assert session.header_cache(_server()) is None
    assert session.cached_folder("{mail.example.org/user=me}INBOX", "cached") is None
    assert session.cache_problem is not None
    assert session.cache_problem.startswith("header cache off:")
    assert str(shared) in session.cache_problem


def test_doctor_names_each_servers_cache_file_or_why_it_is_off(tmp_path: Path) -> None:
    spec = _server()
    line = header_cache_line(CacheSettings(directory=tmp_path / "c"), spec)
    assert line.startswith("header cache for me@mail.example.org: ")
    assert line.endswith(".sqlite") and str(tmp_path / "c" / "imap") in line
    off = header_cache_line(CacheSettings(enabled=False), spec)
    assert off.endswith("off ([cache] enabled = false)")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    unsafe = header_cache_line(CacheSettings(directory=shared), spec)
    assert ": off: " in unsafe and str(shared) in unsafe
