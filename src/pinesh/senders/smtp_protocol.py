"""SMTP syntax as pure functions over bytes: replies, EHLO extensions, commands, DATA.

Nothing here touches a socket, so broken and hostile servers are tested on literal
transcripts. Server text is sanitized (pinesh.textsafe) before anything may show it.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from pinesh.errors import PineshError
from pinesh.textsafe import safe_line

# RFC 5321 says a reply line is at most 512 octets; real servers stay far below that.
# We allow more, but a bound there must be: a hostile server could otherwise stream an
# endless "line" into memory.
MAX_LINE = 4096
MAX_LINES = 200  # lines of one multi-line reply (an EHLO lists a dozen or two)
SHOW_LIMIT = 600  # characters of a reply put into an error message

_LINE = re.compile(rb"([2-5][0-5][0-9])([ -]?)(.*)", re.DOTALL)
_ENHANCED = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})(?= |$)")
_KEYWORD = re.compile(rb"[A-Za-z0-9][A-Za-z0-9-]*")


class SmtpProtocolError(PineshError):
    """The server's bytes are not an SMTP reply (garbage, too long, mixed codes)."""


@dataclass(frozen=True)
class Reply:
    """One complete SMTP reply: its code, its lines' text and the enhanced status code."""

    code: int
    raw_lines: tuple[bytes, ...]  # the text after "250-"/"250 " on each line, CR/LF removed
    enhanced: str | None = None  # "5.7.1" when the first line starts with one (RFC 3463)

    @property
    def positive(self) -> bool:
        return 200 <= self.code < 300

    @property
    def intermediate(self) -> bool:
        return 300 <= self.code < 400

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500

    @property
    def lines(self) -> tuple[str, ...]:
        """Each line's text, made safe for the terminal."""
        return tuple(safe_line(line.decode("utf-8", "replace")) for line in self.raw_lines)

    def text(self, limit: int = SHOW_LIMIT) -> str:
        """The reply as people read it: '554 5.7.1 <x@y>: Relay access denied', sanitized."""
        body = " ".join(line for line in self.lines if line)
        shown = f"{self.code} {body}".rstrip()
        return shown if len(shown) <= limit else shown[:limit] + "..."


def split_reply(buffer: bytes) -> tuple[Reply | None, bytes]:
    """Take one complete reply off the front of buffer: (reply, the rest), or (None, buffer).

    Lines end with LF (a CR before it is dropped; servers that send bare LF are accepted).
    Raises SmtpProtocolError for a line that is not "DDD", "DDD text" or "DDD-text", for
    a line over MAX_LINE bytes, a reply over MAX_LINES lines, or mixed codes.
    """
    codes: list[bytes] = []
    texts: list[bytes] = []
    pos = 0
    while True:
        end = buffer.find(b"\n", pos)
        if end < 0:
            if len(buffer) - pos > MAX_LINE:
                raise SmtpProtocolError(
                    f"the server sent a reply line longer than {MAX_LINE} bytes: "
                    f"{_show(buffer[pos : pos + 80])}..."
                )
            return None, buffer
        line = buffer[pos:end].removesuffix(b"\r")
        if end + 1 - pos > MAX_LINE:
            raise SmtpProtocolError(
                f"the server sent a reply line longer than {MAX_LINE} bytes: {_show(line[:80])}..."
            )
        pos = end + 1
        match = _LINE.fullmatch(line)
        if match is None or (match.group(2) == b"" and match.group(3)):
            raise SmtpProtocolError(f"the server's reply is not SMTP: {_show(line)}")
        code, sep, text = match.groups()
        if codes and code != codes[0]:
            raise SmtpProtocolError(
                f"the server's reply mixes codes {codes[0].decode()} and {code.decode()}: "
                f"{_show(line)}"
            )
        codes.append(code)
        texts.append(text)
        if sep != b"-":
            return _reply(int(codes[0]), texts), buffer[pos:]
        if len(codes) >= MAX_LINES:
            raise SmtpProtocolError(f"the server's reply runs over {MAX_LINES} lines")


def _reply(code: int, texts: list[bytes]) -> Reply:
    first = texts[0].decode("ascii", "replace")
    match = _ENHANCED.match(first)
    enhanced = None
    if match and match.group(1) == str(code)[0]:
        enhanced = match.group(0)
    return Reply(code, tuple(texts), enhanced)


def _show(data: bytes) -> str:
    return repr(safe_line(data.decode("utf-8", "replace"))[:200])


@dataclass(frozen=True)
class Extensions:
    """What an EHLO reply offers: keyword (upper case) -> its parameters."""

    offered: dict[str, str]

    def has(self, keyword: str) -> bool:
        return keyword.upper() in self.offered

    @property
    def auth_mechanisms(self) -> frozenset[str]:
        """SASL mechanisms from "AUTH ..." (and the old "AUTH=..." form some servers add)."""
        words = f"{self.offered.get('AUTH', '')} {self.offered.get('AUTH=', '')}".split()
        return frozenset(word.upper() for word in words)

    @property
    def size_limit(self) -> int | None:
        """The SIZE extension's limit in bytes; None when absent or unlimited (0)."""
        value = self.offered.get("SIZE", "").strip()
        return int(value) if value.isdecimal() and int(value) > 0 else None


NO_EXTENSIONS = Extensions({})


def parse_ehlo(reply: Reply) -> Extensions:
    """The extensions of a positive EHLO reply (its first line is the server's name).

    Lines that are not a keyword are ignored, as RFC 5321 asks of clients.
    """
    offered: dict[str, str] = {}
    for line in reply.raw_lines[1:]:
        keyword, _, params = line.strip().partition(b" ")
        if keyword.upper().startswith(b"AUTH="):
            keyword, params = b"AUTH=", keyword[5:] + b" " + params
        elif _KEYWORD.fullmatch(keyword) is None:
            continue
        offered[keyword.decode("ascii").upper()] = params.decode("ascii", "replace").strip()
    return Extensions(offered)


# --- commands -------------------------------------------------------------------------


_FORBIDDEN_IN_PATH = re.compile(r"[\x00-\x20\x7f<>]")


def check_mailbox(address: str, what: str, *, empty_ok: bool = False) -> str:
    """address if it can go into MAIL FROM/RCPT TO; else SmtpProtocolError naming it.

    No controls, spaces or angle brackets (they would inject commands or break the path).
    """
    if not address:
        if empty_ok:
            return address
        raise SmtpProtocolError(f"the {what} address is empty")
    if _FORBIDDEN_IN_PATH.search(address) or "@" not in address or not _encodable(address):
        raise SmtpProtocolError(
            f"the {what} address {safe_line(address)!r} cannot be sent to an SMTP server",
            hint="an address is local@domain, without spaces, control characters or <>",
        )
    return address


def _encodable(text: str) -> bool:
    """Whether text is UTF-8 text (not lone surrogates, as a file name's bad bytes give)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def helo_name_ok(name: str) -> bool:
    """Whether name may follow EHLO/HELO: a domain name or an address literal."""
    return bool(re.fullmatch(r"[A-Za-z0-9.-]+|\[[A-Za-z0-9.:]+\]", name)) and len(name) < 256


def ehlo(name: str) -> bytes:
    return f"EHLO {name}\r\n".encode("ascii")


def helo(name: str) -> bytes:
    return f"HELO {name}\r\n".encode("ascii")


def mail_from(sender: str, *, smtputf8: bool = False, eight_bit: bool = False,
              size: int | None = None) -> bytes:  # fmt: skip
    """MAIL FROM with the parameters the server offered and the message needs."""
    check_mailbox(sender, "sender", empty_ok=True)
    params = ""
    if size is not None:
        params += f" SIZE={size}"
    if eight_bit:
        params += " BODY=8BITMIME"
    if smtputf8:
        params += " SMTPUTF8"
    return f"MAIL FROM:<{sender}>{params}\r\n".encode()


def rcpt_to(recipient: str) -> bytes:
    check_mailbox(recipient, "recipient")
    return f"RCPT TO:<{recipient}>\r\n".encode()


def auth_plain(user: str, password: str) -> bytes:
    """AUTH PLAIN with its initial response (RFC 4616): base64 of NUL user NUL password."""
    if "\0" in user or "\0" in password:
        raise SmtpProtocolError("the user name or password holds a NUL character")
    if not (_encodable(user) and _encodable(password)):
        raise SmtpProtocolError("the user name or password is not UTF-8 text")
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
    return b"AUTH PLAIN " + token + b"\r\n"


def base64_line(text: str) -> bytes:
    """One SASL response line (AUTH LOGIN's user name, then password)."""
    if not _encodable(text):
        raise SmtpProtocolError("the user name or password is not UTF-8 text")
    return base64.b64encode(text.encode()) + b"\r\n"


CANCEL_AUTH = b"*\r\n"


# --- the message ----------------------------------------------------------------------


def header_section(data: bytes) -> bytes:
    """The message's header lines (up to the first empty line)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = data.find(sep)
        if at >= 0:
            return data[:at]
    return data


def has_8bit(data: bytes) -> bool:
    """Whether any byte has its high bit set (then the body needs 8BITMIME)."""
    return not data.isascii()


def needs_smtputf8(sender: str, recipients: tuple[str, ...], data: bytes) -> bool:
    """Whether the envelope or the headers hold UTF-8 (RFC 6531): SMTPUTF8 is then needed."""
    addresses = (sender, *recipients)
    return not all(a.isascii() for a in addresses) or not header_section(data).isascii()


_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def data_payload(data: bytes) -> bytes:
    """The message as DATA sends it: CRLF line ends, leading dots doubled, ".\\r\\n" at the end.

    Bare CR and LF become CRLF (RFC 5321 forbids them alone); a message that does not end
    with a line break gets one.
    """
    lines = _LINE_BREAK.split(data)
    if lines and lines[-1] == b"":
        lines.pop()
    stuffed = [b"." + line if line.startswith(b".") else line for line in lines]
    return b"".join(line + b"\r\n" for line in stuffed) + b".\r\n"
