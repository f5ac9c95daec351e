"""The MIME structure of a message held as bytes, and its parts' content, decoded.

For drivers that have the whole message (Maildir, mbox, news): the structure is parsed
over byte offsets, not with ``email.parser``, so that it knows where each part's body
lies: a large attachment is decoded in chunks straight from the message bytes (or an
mmap of the file), never held decoded whole, and a message is never copied into one
``str`` per part. Header *fields* are still read with the stdlib
(``headers.parse_header_block``), which knows RFC 2231 and RFC 2047. Content goes
through ``stores.mime``'s decoders, the same as an IMAP part's.

Forgiving: a malformed message (bad boundaries, unknown charsets, truncated base64, NUL
bytes, a 2 MB header line) gives a structure and content as far as they can be parsed,
and never raises.

Section numbers follow IMAP (RFC 3501 6.4.5), as ``imap.bodystructure`` does: the parts of
a multipart are 1, 2, ...; of a nested one 2.1, 2.2; a single-part message's body is 1;
the body of a message/rfc822 part 2 is 2.1 when single, else its multipart is 2.TEXT and
its parts 2.1, 2.2.
"""

from __future__ import annotations

import email.parser
import email.utils
import mmap
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email._policybase import compat32  # email.policy would load the modern policy's modules
from email.message import Message

from pinesh.stores import charsets
from pinesh.stores.base import Part
from pinesh.stores.headers import decode_words, header_text
from pinesh.stores.mime import decode_chunks

ByteSource = bytes | mmap.mmap  # a whole message: in memory, or an mmap of its file

MAX_DEPTH = 64  # nesting of multiparts and messages; deeper is hostile, shown as a leaf
MAX_PARTS = 5000  # parts of one message; the rest of a hostile one is left out
CHUNK = 64 * 1024  # bytes per chunk of part content
MAX_SEARCH_TEXT = 16 * 1024 * 1024  # decoded text of one message that a search looks at

_IDENTITY = ("7bit", "8bit", "binary", "")


@dataclass
class _Node:
    """A part while parsing: the Part's fields plus where its body lies in the bytes."""

    part_id: str
    content_type: str
    params: dict[str, str]
    encoding: str
    body_start: int
    body_end: int
    filename: str | None = None
    disposition: str | None = None
    description: str | None = None
    children: list[_Node] = field(default_factory=list)

    def part(self) -> Part:
        """This node and its children as Parts (iteratively: hostile nesting is deep)."""
        order: list[_Node] = []
        stack = [self]
        while stack:
            node = stack.pop()
            order.append(node)
            stack.extend(node.children)
        built: dict[int, Part] = {}
        for node in reversed(order):
            built[id(node)] = Part(
                part_id=node.part_id,
                content_type=node.content_type,
                params=node.params,
                encoding=node.encoding,
                size=node.body_end - node.body_start,
                filename=node.filename,
                disposition=node.disposition,
                description=node.description,
                children=tuple(built.pop(id(c)) for c in node.children),
            )
        return built[id(self)]


_TEXT_PARSER = email.parser.Parser(policy=compat32)


def _param_text(value: object) -> str:
    """A parameter value: RFC 2231 (charset'lang'%XX) collapsed, then RFC 2047 words."""
    if isinstance(value, tuple):
        value = _rfc2231_text(value)
    text = header_text(value)
    return decode_words(text) if "=?" in text else text


def _rfc2231_text(value: tuple[object, ...]) -> str:
    """An RFC 2231 value compat32 gave as (charset, language, quoted text whose characters
    are the bytes), decoded by the charset policy (not collapse_rfc2231_value: it runs any
    codec the value names)."""
    if len(value) != 3:
        return str(value)
    charset, _, quoted = value
    text = email.utils.unquote(str(quoted))
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:  # not percent-encoded: raw UTF-8, already text
        return text
    return charsets.decode(data, str(charset) if charset else None)


def _header_fields(
    block: bytes, default_type: str
) -> tuple[str, dict[str, str], str, str | None, str | None, str | None]:
    """(content type, params, encoding, disposition, filename, description) of a header block."""
    # Parsed as text, not bytes: compat32 turns a header with 8-bit bytes into U+FFFD when
    # asked for it, and raw UTF-8 file names (RFC 6532, and common anyway) would be lost.
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        text = block.decode("latin-1")
    try:
        msg = _TEXT_PARSER.parsestr(text, headersonly=True)
    except Exception:  # the stdlib parser is forgiving, but a part must never stop the rest
        msg = Message()
    msg.set_default_type(default_type)
    try:
        content_type = header_text(msg.get_content_type()).lower()
    except Exception:
        content_type = default_type
    params: dict[str, str] = {}
    try:
        for key, value in (msg.get_params() or [])[1:]:
            params.setdefault(header_text(key).strip().lower(), _param_text(value))
    except Exception:  # e.g. a hostile parameter list the stdlib chokes on
        params = {}
    encoding = header_text(msg.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    disposition: str | None = None
    filename: str | None = None
    try:
        disposition = msg.get_content_disposition()
        raw_name = msg.get_param("filename", None, "content-disposition")
        if raw_name is None:
            raw_name = msg.get_param("name", None)
        filename = _param_text(raw_name) if raw_name is not None else None
    except Exception:  # a hostile disposition: the part is still shown, without a name
        disposition = filename = None
    description = msg.get("Content-Description")
    return (
        content_type,
        params,
        encoding or "7bit",
        header_text(disposition).lower() if disposition else None,
        filename or None,
        decode_words(header_text(description)) if description is not None else None,
    )


def body_offset(data: ByteSource, start: int = 0, end: int | None = None) -> int:
    """Where the body of the entity at data[start:end] begins: after the first empty line
    (LF or CRLF, whichever comes first), or end when there is none."""
    stop = len(data) if end is None else end
    if data[start : start + 1] == b"\n":
        return start + 1
    if data[start : start + 2] == b"\r\n":
        return start + 2
    found = stop
    for sep in (b"\n\n", b"\n\r\n"):
        at = data.find(sep, start, stop)
        if 0 <= at < found:
            found = at + len(sep)
            stop = at + 1  # only an earlier separator can win now
    return found


def _delimiters(
    data: ByteSource, start: int, end: int, boundary: bytes
) -> list[tuple[int, int, bool]]:
    """(line start, next line start, is closing) of each delimiter line in data[start:end]."""
    pattern = re.compile(
        rb"(?m)^--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r\n|\n|\r|\Z)",
    )
    found: list[tuple[int, int, bool]] = []
    for match in pattern.finditer(data, start, end):
        found.append((match.start(), match.end(), match.group(1) is not None))
        if match.group(1) is not None or len(found) > MAX_PARTS:
            break
    return found


def _line_break_before(data: ByteSource, at: int, floor: int) -> int:
    """at, less the line break just before it (which belongs to a delimiter)."""
    if at > floor and data[at - 1 : at] == b"\n":
        at -= 1
        if at > floor and data[at - 1 : at] == b"\r":
            at -= 1
    return at


class _Parser:
    def __init__(self, data: ByteSource) -> None:
        self.data = data
        self.parts = 0

    def entity(
        self, start: int, end: int, part_id: str | None, prefix: str, default: str, depth: int
    ) -> _Node:
        """The entity (headers and body) at data[start:end].

        part_id None: a message's top, numbered from its type (see the module docstring)
        under prefix; else a part of a multipart, whose own parts are numbered under it.
        """
        self.parts += 1
        body = body_offset(self.data, start, end)
        ctype, params, cte, disposition, filename, description = _header_fields(
            bytes(self.data[start:body]), default
        )
        if part_id is None:
            if ctype.startswith("multipart/"):
                part_id = f"{prefix}.TEXT" if prefix else ""
            else:
                part_id = prefix = f"{prefix}.1" if prefix else "1"
        else:
            prefix = part_id
        node = _Node(part_id, ctype, params, cte, body, end, filename, disposition, description)
        if depth >= MAX_DEPTH or self.parts > MAX_PARTS:
            return node
        if ctype.startswith("multipart/"):
            self._split(node, prefix, depth)
            if not node.children and part_id.endswith(".TEXT"):
                node.part_id = f"{part_id[:-5]}.1"
            elif not node.children and part_id == "":
                node.part_id = "1"
        elif ctype in ("message/rfc822", "message/global") and cte in _IDENTITY:
            node.children.append(self.entity(body, end, None, part_id, "text/plain", depth + 1))
        return node

    def _split(self, node: _Node, prefix: str, depth: int) -> None:
        boundary = node.params.get("boundary", "").encode("utf-8", "surrogateescape")
        found = _delimiters(self.data, node.body_start, node.body_end, boundary) if boundary else []
        opening = [d for d in found if not d[2]]
        if not opening:
            # No boundary, or none in the body: show the body as text rather than nothing.
            node.content_type = "text/plain"
            node.description = node.description or "malformed multipart (no parts found)"
            return
        default = "message/rfc822" if node.content_type == "multipart/digest" else "text/plain"
        for index, (_, part_start, _) in enumerate(found):
            if index + 1 < len(found):
                part_end = _line_break_before(self.data, found[index + 1][0], part_start)
            elif found[index][2]:
                break  # the closing delimiter: what follows is the epilogue
            else:
                part_end = node.body_end  # no closing delimiter (truncated): up to the end
            number = index + 1
            child_id = f"{prefix}.{number}" if prefix else str(number)
            node.children.append(
                self.entity(part_start, part_end, child_id, child_id, default, depth + 1)
            )
            if self.parts > MAX_PARTS:
                break


def _parse(data: ByteSource) -> _Node:
    return _Parser(data).entity(0, len(data), None, "", "text/plain", 0)


def mime_structure(data: ByteSource) -> Part:
    """The MIME structure of a whole message (never raises)."""
    return _parse(data).part()


def _find(root: _Node, part_id: str) -> _Node | None:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.part_id == part_id:
            return node
        stack.extend(node.children)
    return None


def _slices(data: ByteSource, start: int, end: int, size: int = CHUNK) -> Iterator[bytes]:
    for at in range(start, end, size):
        yield bytes(data[at : min(at + size, end)])


def part_content(data: ByteSource, part_id: str) -> Iterator[bytes] | None:
    """A part's content in chunks, transfer-encoding decoded; None if there is no such part.

    "" is the whole message, undecoded; a multipart (or an "N.TEXT") is its raw body.
    """
    if part_id == "":
        return _slices(data, 0, len(data))
    node = _find(_parse(data), part_id)
    if node is None:
        return None
    chunks = _slices(data, node.body_start, node.body_end)
    if node.content_type.startswith("multipart/") and node.children:
        return chunks
    return decode_chunks(chunks, node.encoding)


def part_bytes(data: ByteSource, part_id: str) -> bytes | None:
    """A part's whole content, decoded (for small parts and tests)."""
    chunks = part_content(data, part_id)
    return None if chunks is None else b"".join(chunks)


def text_parts(data: ByteSource, limit: int = MAX_SEARCH_TEXT) -> Iterator[str]:
    """The decoded text of each text/* leaf of a message, up to limit bytes in all."""
    budget = limit
    for node in _leaves(_parse(data)):
        if not node.content_type.startswith("text/") or budget <= 0:
            continue
        raw = bytearray()
        for chunk in decode_chunks(_slices(data, node.body_start, node.body_end), node.encoding):
            raw += chunk[:budget]
            budget -= len(chunk)
            if budget <= 0:
                break
        yield charsets.decode(bytes(raw), node.params.get("charset"))


def _leaves(root: _Node) -> Iterator[_Node]:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.children:
            stack.extend(reversed(node.children))
        else:
            yield node
