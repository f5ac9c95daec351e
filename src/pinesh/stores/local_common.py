"""Pure helpers for drivers without a server: MIME structure, part content, sort, thread, search.

Used by the Maildir and mbox drivers, and by news (NNTP has no SORT, THREAD or SEARCH).
Everything here is a function of bytes and envelopes, and forgiving: a malformed message
(bad boundaries, unknown charsets, truncated base64, NUL bytes, a 2 MB header line) gives
a structure and content as far as they can be parsed, and never raises.

MIME is parsed here, over byte offsets, not with ``email.parser``: the structure then
knows where each part's body lies, so that a large attachment is decoded in chunks
straight from the message bytes (or an mmap of the file), never held decoded whole, and
a message is never copied into one ``str`` per part. Header *fields* are still read with
the stdlib (``headers.parse_header_block``), which knows RFC 2231 and RFC 2047.

Section numbers follow IMAP (RFC 3501 6.4.5), as ``imap_bodystructure`` does: the parts of
a multipart are 1, 2, ...; of a nested one 2.1, 2.2; a single-part message's body is 1;
the body of a message/rfc822 part 2 is 2.1 when single, else its multipart is 2.TEXT and
its parts 2.1, 2.2. Sorting and threading follow RFC 5256, so that a folder sorts the same
here as on an IMAP server.
"""

from __future__ import annotations

import binascii
import email.parser
import email.policy
import email.utils
import mmap
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message

from pinesh.stores.base import Address, Envelope, Part, SearchQuery, SortKey, ThreadNode
from pinesh.stores.headers import decode_words, header_text, parse_header_block

ByteSource = bytes | mmap.mmap  # a whole message: in memory, or an mmap of its file

MAX_DEPTH = 64  # nesting of multiparts and messages; deeper is hostile, shown as a leaf
MAX_PARTS = 5000  # parts of one message; the rest of a hostile one is left out
CHUNK = 64 * 1024  # bytes per chunk of part content
MAX_SEARCH_TEXT = 16 * 1024 * 1024  # decoded text of one message that a search looks at

_IDENTITY = ("7bit", "8bit", "binary", "")

# --------------------------------------------------------------------------- structure


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


_TEXT_PARSER = email.parser.Parser(policy=email.policy.compat32)


def _param_text(value: object) -> str:
    """A parameter value: RFC 2231 (charset'lang'%XX) collapsed, then RFC 2047 words."""
    if isinstance(value, tuple):
        try:
            value = email.utils.collapse_rfc2231_value(value, errors="replace")
        except Exception:  # an unknown charset or broken quoting: keep the raw text
            value = value[2] if len(value) == 3 else str(value)
    text = header_text(value)
    return decode_words(text) if "=?" in text else text


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


# --------------------------------------------------------------------------- content


def _slices(data: ByteSource, start: int, end: int, size: int = CHUNK) -> Iterator[bytes]:
    for at in range(start, end, size):
        yield bytes(data[at : min(at + size, end)])


_B64_KEEP = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_B64_DROP = bytes(b for b in range(256) if b not in _B64_KEEP)


def decode_base64(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Base64 decoded chunk by chunk; junk characters are skipped, decoding stops at the
    first padding, and a truncated last group gives what it holds (as most readers do)."""
    pending = b""
    for chunk in chunks:
        clean = chunk.translate(None, _B64_DROP)
        pad = clean.find(b"=")
        if pad >= 0:
            clean = clean[:pad]
        pending += clean
        whole = len(pending) // 4 * 4
        if whole:
            yield binascii.a2b_base64(pending[:whole])
            pending = pending[whole:]
        if pad >= 0:
            break
    if len(pending) >= 2:  # 2 or 3 characters carry 1 or 2 bytes; 1 carries nothing
        yield binascii.a2b_base64(pending + b"=" * (4 - len(pending)))


def decode_quoted_printable(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Quoted-printable decoded chunk by chunk, cut only at line ends (a soft line break
    or an =XX escape is never split); a line longer than a chunk is cut before any '='."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        cut = pending.rfind(b"\n") + 1
        if not cut and len(pending) >= CHUNK:
            cut = len(pending)
            escape = pending[-2:].find(b"=")
            if escape >= 0:
                cut = len(pending) - 2 + escape
        if cut:
            yield binascii.a2b_qp(pending[:cut])
            pending = pending[cut:]
    if pending:
        yield binascii.a2b_qp(pending)


def _decoded(chunks: Iterable[bytes], encoding: str) -> Iterator[bytes]:
    if encoding == "base64":
        return decode_base64(chunks)
    if encoding == "quoted-printable":
        return decode_quoted_printable(chunks)
    return iter(chunks)  # 7bit, 8bit, binary, and unknown encodings: as they are


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
    return _decoded(chunks, node.encoding)


def part_bytes(data: ByteSource, part_id: str) -> bytes | None:
    """A part's whole content, decoded (for small parts and tests)."""
    chunks = part_content(data, part_id)
    return None if chunks is None else b"".join(chunks)


def _codec(charset: str | None) -> str:
    name = (charset or "us-ascii").strip().lower()
    if name in ("", "unknown-8bit", "x-unknown", "us-ascii", "ascii"):
        return "utf-8"  # ASCII mail with stray 8-bit bytes is most often UTF-8
    try:
        # With "replace" and a non-ASCII byte, as the callers decode: idna and
        # undefined pass a strict ASCII check but raise on this.
        b"x\xff".decode(name, "replace")
    except (LookupError, UnicodeError):
        return "utf-8"
    return name


def text_parts(data: ByteSource, limit: int = MAX_SEARCH_TEXT) -> Iterator[str]:
    """The decoded text of each text/* leaf of a message, up to limit bytes in all."""
    budget = limit
    for node in _leaves(_parse(data)):
        if not node.content_type.startswith("text/") or budget <= 0:
            continue
        raw = bytearray()
        for chunk in _decoded(_slices(data, node.body_start, node.body_end), node.encoding):
            raw += chunk[:budget]
            budget -= len(chunk)
            if budget <= 0:
                break
        yield bytes(raw).decode(_codec(node.params.get("charset")), "replace")


def _leaves(root: _Node) -> Iterator[_Node]:
    stack = [root]
    while stack:
        node = stack.pop()
        if node.children:
            stack.extend(reversed(node.children))
        else:
            yield node


# --------------------------------------------------------------------------- sort

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WSP = re.compile(r"\s+")
_TRAILER = re.compile(r"(\s*\(fwd\))+\s*$", re.IGNORECASE)
_BLOB = r"\[[^\[\]]*\]\s*"
_LEADER = re.compile(rf"^(?:(?:{_BLOB})*(?:re|fwd?)\s*(?:{_BLOB})?:\s*|\s+)", re.IGNORECASE)
_LEADING_BLOB = re.compile(rf"^{_BLOB}")
_FWD_WRAP = re.compile(r"^\[fwd:(.*)\]$", re.IGNORECASE)


def unicode_casemap(text: str) -> str:
    """i;unicode-casemap (RFC 5051): simple titlecase of each character, then NFKD, the
    comparator of IMAP servers with I18NLEVEL=1 (Dovecot), so that "Ä" sorts with "A"."""
    titled = []
    for ch in text:
        title = ch.title()
        titled.append(title if len(title) == 1 else ch)  # the simple mapping: one char
    return unicodedata.normalize("NFKD", "".join(titled))


def base_subject(subject: str) -> str:
    """RFC 5256 2.1: the subject without "Re:", "Fwd:", "[list]" tags and "(fwd)"."""
    text = _WSP.sub(" ", subject).strip()
    while True:
        before = text
        text = _TRAILER.sub("", text)
        while True:
            stripped = _LEADER.sub("", text, count=1)
            blob = _LEADING_BLOB.match(stripped)
            if blob and stripped[blob.end() :]:
                stripped = stripped[blob.end() :]
            if stripped == text:
                break
            text = stripped
        wrapped = _FWD_WRAP.match(text)
        if wrapped:
            text = wrapped[1].strip()
        if text == before:
            return text


def _mailbox(addresses: tuple[Address, ...]) -> str:
    """RFC 5256 FROM/TO: the local part of the first address (its name if it has none)."""
    if not addresses:
        return ""
    first = addresses[0]
    local = first.email.rpartition("@")[0] or first.email or first.name
    return unicode_casemap(local)


def sent_time(envelope: Envelope) -> float:
    """RFC 5256 sent date: the Date header in UTC, else the arrival time, else 0."""
    moment = envelope.date or envelope.internal_date
    return (moment - _EPOCH).total_seconds() if moment else 0.0


_KEYS: dict[SortKey, Callable[[Envelope], object]] = {
    SortKey.ARRIVAL: lambda e: e.uid,  # local UIDs are in arrival order
    SortKey.DATE: sent_time,
    SortKey.FROM: lambda e: _mailbox(e.sender),
    SortKey.TO: lambda e: _mailbox(e.to),
    SortKey.SUBJECT: lambda e: unicode_casemap(base_subject(e.subject)),
    SortKey.SIZE: lambda e: e.size,
}


def sort_uids(
    envelopes: Sequence[Envelope],
    key: SortKey,
    reverse: bool = False,
    *,
    arrival: Callable[[Envelope], float] | None = None,
) -> list[int]:
    """UIDs ordered by key; equal keys stay in UID (arrival) order, reversed or not.

    arrival, when given, is the ARRIVAL key (an IMAP server's INTERNALDATE); else ARRIVAL
    is the UID, as local UIDs are in arrival order.
    """
    by_uid = sorted(envelopes, key=lambda e: e.uid)
    by = arrival if key is SortKey.ARRIVAL and arrival is not None else _KEYS[key]
    # sorted() is stable with reverse=True too: ties stay in ascending UID order.
    ordered = sorted(by_uid, key=by, reverse=reverse)  # type: ignore[arg-type]
    return [e.uid for e in ordered]


# --------------------------------------------------------------------------- thread


class _Container:
    """JWZ's container: a message (uid) or a placeholder for one that is referred to."""

    __slots__ = ("children", "envelope", "parent")

    def __init__(self) -> None:
        self.envelope: Envelope | None = None
        self.parent: _Container | None = None
        self.children: list[_Container] = []

    def has_descendant(self, other: _Container) -> bool:
        """Whether other is this container or below it (linking would make a loop)."""
        node: _Container | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False

    def adopt(self, child: _Container) -> None:
        if child.parent is not None:
            child.parent.children.remove(child)
        child.parent = self
        self.children.append(child)

    def orphan(self) -> None:
        if self.parent is not None:
            self.parent.children.remove(self)
            self.parent = None


def _containers(envelopes: Sequence[Envelope]) -> list[_Container]:
    """RFC 5256 REFERENCES steps 1 and 2: containers linked by references; the roots."""
    table: dict[str, _Container] = {}
    for envelope in sorted(envelopes, key=lambda e: e.uid):
        mid = envelope.message_id
        if not mid or (mid in table and table[mid].envelope is not None):
            mid = f"<{envelope.uid}.pinesh-unique@invalid>"  # duplicate or missing ID
        this = table.setdefault(mid, _Container())
        this.envelope = envelope
        refs = envelope.references or ((envelope.in_reply_to,) if envelope.in_reply_to else ())
        previous: _Container | None = None
        for ref in refs:
            if ref == mid:
                continue
            container = table.setdefault(ref, _Container())
            # Link each reference to the one before it, unless a parent is known already
            # or the link would make a loop (hostile or broken References).
            if (
                previous is not None
                and container.parent is None
                and not container.has_descendant(previous)
            ):
                previous.adopt(container)
            previous = container
        # The message's own References name its parent, over what others presumed.
        if previous is not None and not this.has_descendant(previous):
            if this.parent is not previous:
                previous.adopt(this)
        elif previous is None:
            this.orphan()
    return [c for c in table.values() if c.parent is None]


def _prune(roots: list[_Container]) -> list[_Container]:
    """RFC 5256 step 3: drop empty containers; an empty one's children move up, except
    that a root keeps its place (as a missing parent) when it has more than one child."""
    out: list[_Container] = []
    stack: list[tuple[_Container, list[_Container], bool]] = [
        (root, out, True) for root in reversed(roots)
    ]
    while stack:
        node, siblings, at_root = stack.pop()
        if node.envelope is None:
            if not node.children:
                continue
            if not at_root or len(node.children) == 1:
                stack.extend((c, siblings, at_root) for c in reversed(node.children))
                continue
        kept: list[_Container] = []
        kids, node.children = node.children, kept
        siblings.append(node)
        stack.extend((c, kept, False) for c in reversed(kids))
    return out


def _first_time(node: _Container) -> tuple[float, int]:
    envelope = node.envelope or node.children[0].envelope
    assert envelope is not None  # pruning keeps only containers with a message below
    return sent_time(envelope), envelope.uid


def thread_envelopes(envelopes: Sequence[Envelope]) -> list[ThreadNode]:
    """Threads by References (else In-Reply-To), RFC 5256 REFERENCES without the subject
    grouping: siblings and threads ordered by sent date, then UID. A missing parent with
    several children is a ThreadNode with uid None."""
    roots = _prune(_containers(envelopes))
    # Children first, then parents (no recursion: a reply chain can be thousands deep).
    order: list[_Container] = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    built: dict[int, ThreadNode] = {}
    for node in reversed(order):
        node.children.sort(key=_first_time)
        uid = node.envelope.uid if node.envelope else None
        built[id(node)] = ThreadNode(uid, tuple(built.pop(id(c)) for c in node.children))
    return [built[id(root)] for root in sorted(roots, key=_first_time)]


# --------------------------------------------------------------------------- search


def _has(haystack: str, needle: str | None) -> bool:
    return needle is None or needle.casefold() in haystack.casefold()


def _addresses(addresses: tuple[Address, ...]) -> str:
    return " ".join(f"{a.name} <{a.email}>" for a in addresses)


def envelope_matches(envelope: Envelope, query: SearchQuery) -> bool:
    """What the envelope alone can answer: subject, from, to, flags and dates."""
    if not _has(envelope.subject, query.subject):
        return False
    if not _has(_addresses(envelope.sender), query.sender):
        return False
    if not _has(_addresses(envelope.to), query.to):
        return False
    if not query.flags <= envelope.flags or query.not_flags & envelope.flags:
        return False
    moment = envelope.date or envelope.internal_date
    if query.since is not None and (moment is None or moment < query.since):
        return False
    return query.before is None or (moment is not None and moment < query.before)


def needs_message(query: SearchQuery) -> bool:
    """Whether the query looks into the message (body or all text), not just the envelope."""
    return bool(query.text or query.body)


def message_matches(data: ByteSource, query: SearchQuery) -> bool:
    """The parts of a query that need the message: the body, and text anywhere."""
    if not needs_message(query):
        return True
    body = "\n".join(text_parts(data))
    if not _has(body, query.body):
        return False
    if query.text is None:
        return True
    try:
        headers = parse_header_block(bytes(data[: body_offset(data)]))
        head = "\n".join(f"{k}: {decode_words(header_text(v))}" for k, v in headers.raw_items())
    except Exception:  # a header block the parser cannot take: search its raw text
        head = bytes(data[: body_offset(data)]).decode("utf-8", "replace")
    return _has(head, query.text) or _has(body, query.text)


def search_uids(
    envelopes: Sequence[Envelope], query: SearchQuery, message: Callable[[int], ByteSource]
) -> list[int]:
    """UIDs (in UID order) whose envelope, and message where needed, match the query.

    message(uid) gives a message's bytes; it is called only for envelopes that match.
    """
    found = []
    for envelope in sorted(envelopes, key=lambda e: e.uid):
        if not envelope_matches(envelope, query):
            continue
        if not needs_message(query) or message_matches(message(envelope.uid), query):
            found.append(envelope.uid)
    return found
