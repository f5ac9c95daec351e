"""parse_listen: where `pinesh forward` listens; loopback or a Unix socket, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinesh.errors import PineshError
from pinesh.transport.forward import Listen, default_socket, parse_listen
from pinesh.transport.service import Service


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("2025", "127.0.0.1", 2025),
        ("1", "127.0.0.1", 1),
        ("65535", "127.0.0.1", 65535),
        ("127.0.0.1:2025", "127.0.0.1", 2025),
        ("localhost:2025", "127.0.0.1", 2025),
        ("127.0.0.2:2119", "127.0.0.2", 2119),  # all of 127/8 is loopback
        ("[::1]:2119", "::1", 2119),
        ("[127.0.0.1]:25", "127.0.0.1", 25),
        ("[0:0:0:0:0:0:0:1]:2025", "::1", 2025),  # normalized
    ],
)
def test_loopback_addresses(text: str, host: str, port: int) -> None:
    listen = parse_listen(text)
    assert listen == Listen(host=host, port=port)
    assert listen.path is None


def test_spec_and_describe_for_tcp() -> None:
    assert parse_listen("2025").spec() == "127.0.0.1:2025"
    assert parse_listen("[::1]:2119").spec() == "[::1]:2119"  # ssh -L wants brackets
    assert parse_listen("[::1]:2119").describe() == "::1:2119"


@pytest.mark.parametrize(
    "text",
    ["/run/user/1000/pinesh/smtp.sock", "./smtp.sock", "relative/dir/nntp.sock"],
)
def test_a_path_is_a_unix_socket(text: str) -> None:
    listen = parse_listen(text)
    # Made absolute here: the master, started elsewhere, would resolve it from its cwd.
    assert listen == Listen(path=Path(text).absolute())
    assert listen.path is not None and listen.path.is_absolute()
    assert (listen.host, listen.port) == (None, None)
    assert listen.spec() == str(Path(text).absolute())
    assert listen.describe() == str(Path(text).absolute())


def ssh_fwd_field(spec: str) -> tuple[str, str]:
    """The first field of an ssh -L spec and the rest, split as OpenSSH's parse_fwd_field does."""
    if spec.startswith("["):
        end = spec.find("]")
        assert end > 0 and spec[end + 1 : end + 2] in (":", ""), f"ssh refuses {spec!r}"
        return spec[1:end], spec[end + 2 :]
    field, i = [], 0
    while i < len(spec):
        ch = spec[i]
        if ch == "\\":
            i += 1
            assert i < len(spec), f"ssh refuses {spec!r}"
            field.append(spec[i])
        elif ch == ":":
            return "".join(field), spec[i + 1 :]
        else:
            field.append(ch)
        i += 1
    return "".join(field), ""


@pytest.mark.parametrize(
    ("text", "listen_field"),
    [
        ("/run/user/1000/pinesh/smtp.sock", "/run/user/1000/pinesh/smtp.sock"),
        ("[::1]:2119", "::1"),
        ("2025", "127.0.0.1"),
    ],
)
def test_spec_reads_back_through_ssh(text: str, listen_field: str) -> None:
    forward = f"{parse_listen(text).spec()}:smtp.isp.example:25"
    field, rest = ssh_fwd_field(forward)
    assert field == listen_field
    if listen_field.startswith("/"):
        assert rest == "smtp.isp.example:25"


@pytest.mark.parametrize("text", ["/tmp/odd:2025/smtp.sock", "/tmp/back\\slash/smtp.sock"])
def test_socket_path_with_ssh_delimiters_is_safe(text: str) -> None:
    try:
        listen = parse_listen(text)
    except PineshError:
        return  # refusing it is fine too
    field, rest = ssh_fwd_field(f"{listen.spec()}:smtp.isp.example:25")
    assert (field, rest) == (text, "smtp.isp.example:25")


def test_tilde_in_a_path_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_listen("~/.cache/pinesh/smtp.sock").path == tmp_path / ".cache/pinesh/smtp.sock"


@pytest.mark.parametrize(
    "text",
    [
        "0.0.0.0:2025",  # every interface
        "[::]:2025",
        "192.168.1.5:25",
        "10.0.0.1:2025",
        "[2001:db8::1]:2025",
        "[::ffff:192.168.1.5]:25",
    ],
)
def test_non_loopback_addresses_are_refused(text: str) -> None:
    with pytest.raises(PineshError, match="loopback only") as info:
        parse_listen(text)
    assert info.value.hint is not None


@pytest.mark.parametrize("text", ["example.org:25", "mail.example.org:2025", ":2025"])
def test_names_other_than_localhost_are_refused(text: str) -> None:
    with pytest.raises(PineshError, match="is not an IP address"):
        parse_listen(text)


@pytest.mark.parametrize(
    "text", ["99999", "0", "65536", "-1", "", "smtp", "127.0.0.1:", "127.0.0.1:x", " 2025"]
)
def test_bad_ports_are_refused(text: str) -> None:
    with pytest.raises(PineshError, match="is not a port"):
        parse_listen(text)


@pytest.mark.parametrize("text", ["²", "127.0.0.1:²"])
def test_superscript_digit_port_is_a_pinesh_error(text: str) -> None:
    with pytest.raises(PineshError):
        parse_listen(text)


def test_the_default_is_a_unix_socket_in_the_runtime_directory() -> None:
    listen = default_socket(Path("/run/user/1000/pinesh"), "smtp.isp.example", Service.SMTP)
    assert listen == Listen(path=Path("/run/user/1000/pinesh/forward-smtp-smtp.isp.example.sock"))
    assert (listen.host, listen.port) == (None, None)


@pytest.mark.parametrize(
    "server", ["{mail:587/user=me}", "x" * 41, ".hidden", "a:b", "back\\slash", "ümlaut"]
)
def test_a_server_name_unfit_for_a_file_name_is_hashed(server: str) -> None:
    listen = default_socket(Path("/d"), server, Service.NNTP)
    assert listen.path is not None
    name = listen.path.name
    assert listen.path.parent == Path("/d")
    assert name.startswith("forward-nntp-") and name.endswith(".sock")
    assert len(name) == len("forward-nntp-") + 16 + len(".sock")
    # What ssh's -L would split or unescape never reaches it.
    assert ":" not in name and "\\" not in name and "/" not in name
