"""What the composer starts from: a new message, a reply, a forward, a news follow-up.

Pure over the original's bytes and the settings (the signature file is the only file
read), so a screen can call these in a worker right after fetching the message. The
original is hostile input: its header values are decoded and made inert (control
characters shown as ``\\x1b``), unusable addresses are left out, and nothing but a
PineshError ever comes out of a broken message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from email.utils import format_datetime
from pathlib import Path

from pinesh.errors import PineshError
from pinesh.senders.addresses import parse_typed_addresses
from pinesh.senders.base import ComposeError
from pinesh.senders.compose import Draft, OutgoingAttachment, parse_custom_header, reply_threading
from pinesh.services.addressbook import format_address
from pinesh.services.mail import MailSession
from pinesh.services.original_message import UNSAFE_NAME, OriginalMessage, usable_addresses
from pinesh.services.sealing import NO_SEAL, Seal
from pinesh.services.sending import user_address
from pinesh.stores.base import Address, Envelope
from pinesh.stores.headers import header_end, parse_header_block, with_content_of
from pinesh.stores.nntp.protocol import valid_group_name
from pinesh.stores.signed_parts import PKCS7_MIME
from pinesh.textsafe import safe_line, safe_text

MAX_SIGNATURE = 64 * 1024  # bytes of the signature file used
MAX_SUBJECT = 1000  # characters of the original's subject kept (a hostile one may be MBs)
FORWARD_MARK = "---------- Forwarded message ----------"
_RE = re.compile(r"\s*re\s*(\[\d+\])?\s*:", re.IGNORECASE)
_FWD = re.compile(r"\s*(fwd?|fw)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class ComposeRequest:
    """What the COMPOSE screen opens with."""

    draft: Draft
    newsgroups: tuple[str, ...] = ()  # non-empty: post to news (with or without mail)
    fcc: str | None = None  # None: the pinerc's default-fcc
    postponed_key: str | None = None  # set when resuming a postponed message
    seal: Seal = NO_SEAL  # sign, encrypt: chosen at ^X, kept when postponed


# --- starting points ------------------------------------------------------------------


def new_request(session: MailSession) -> ComposeRequest:
    """A blank message: From (and customized headers) set, the signature in the body."""
    draft = _blank(session)
    signature = _with_signature("", session)
    # Two empty lines above the signature: the cursor starts on the first.
    return ComposeRequest(replace(draft, body="\n\n" + signature if signature else ""))


def post_request(session: MailSession, groups: tuple[str, ...]) -> ComposeRequest:
    """A new article to groups."""
    bad = [g for g in groups if not valid_group_name(g)]
    if bad:
        raise PineshError(f"{safe_line(bad[0])!r} is not a newsgroup name")
    return replace(new_request(session), newsgroups=tuple(dict.fromkeys(groups)))


def reply_request(
    session: MailSession, raw: bytes, *, to_all: bool, decrypted: bytes | None = None
) -> ComposeRequest:
    """A reply to the sender (Reply-To, else From), or to everyone (to_all), quoted.
    decrypted: an encrypted original's decrypted message, whose text is quoted. A reply
    to an encrypted message is to be encrypted, and one to a signed message signed, in
    the same standard (the send question shows it, and can change it)."""
    seal = suggested_seal(raw)
    if decrypted is not None:  # inline PGP too, whose message type does not say it
        seal = replace(seal, encrypt=True)
        raw = with_content_of(raw, decrypted)
    original = OriginalMessage.read(raw)
    env = original.envelope
    draft = _blank(session)
    own = {draft.sender.email.lower(), user_address(session).email.lower()}
    own |= _alt_addresses(session)  # Pine leaves all of them out of a reply
    to = original.reply_to or usable_addresses(env.sender)
    if to and all(a.email.lower() in own for a in to):
        to = usable_addresses(env.to)  # a reply to our own message goes to its recipients again
    cc: tuple[Address, ...] = ()
    if to_all:
        taken = own | {a.email.lower() for a in to}
        cc = _unique(a for a in usable_addresses(env.to + env.cc) if a.email.lower() not in taken)
    in_reply_to, references = reply_threading(env.message_id, _parent_references(env))
    body = _quoted(env, original.text, session)
    draft = replace(
        draft,
        to=_unique(to),
        cc=cc,
        subject=_prefixed(_RE, "Re: ", env.subject),
        body=_reply_body(body, session),
        in_reply_to=in_reply_to,
        references=references,
    )
    return ComposeRequest(draft, seal=seal)


def suggested_seal(raw: bytes) -> Seal:
    """The seal a reply to raw starts with: encrypted if it was, signed if it was."""
    head = parse_header_block(raw[: header_end(raw)])
    kind = head.get_content_type()
    protocol = str(head.get_param("protocol") or "").lower()
    smime_type = str(head.get_param("smime-type") or "").lower()
    if kind == "multipart/encrypted":
        return Seal(encrypt=True)
    if kind in PKCS7_MIME:
        return Seal(
            sign=smime_type == "signed-data", encrypt=smime_type != "signed-data", smime=True
        )
    if kind == "multipart/signed":
        return Seal(sign=True, smime="pkcs7" in protocol)
    return NO_SEAL


def forward_request(session: MailSession, raw: bytes, *, as_attachment: bool) -> ComposeRequest:
    """A forward: the text inline under Pine's mark (with the attachments), or the whole
    message attached as message/rfc822."""
    original = OriginalMessage.read(raw)
    env = original.envelope
    subject = _prefixed(_FWD, "Fwd: ", env.subject)
    draft = replace(_blank(session), subject=subject)
    signature = _with_signature("", session)
    if as_attachment:
        stem = UNSAFE_NAME.sub("-", env.subject[:200]).strip("-.")[:60]
        attachment = OutgoingAttachment((stem or "forwarded") + ".eml", raw, "message/rfc822")
        body = "\n\n" + signature if signature else ""
        return ComposeRequest(replace(draft, body=body, attachments=(attachment,)))
    lines = [FORWARD_MARK, *_header_lines(env)]
    block = "\n".join(lines) + "\n\n" + safe_text(original.text).rstrip("\n") + "\n"
    body = "\n\n" + signature + ("\n" if signature else "") + block
    return ComposeRequest(replace(draft, body=body, attachments=original.attachments))


def followup_request(session: MailSession, raw: bytes) -> ComposeRequest:
    """A news follow-up: to the Followup-To groups, else the Newsgroups, quoted.

    ``Followup-To: poster`` asks for a reply by mail: that is what comes back.
    """
    original = OriginalMessage.read(raw)
    env = original.envelope
    target = original.followup_to.strip()
    if target.lower() == "poster":
        return reply_request(session, raw, to_all=False)
    names = target.split(",") if target else list(env.newsgroups)
    groups = tuple(dict.fromkeys(g.strip() for g in names if valid_group_name(g.strip())))
    if not groups:
        raise PineshError(
            "the article names no newsgroup to follow up to",
            hint="reply by mail instead (R)",
        )
    in_reply_to, references = reply_threading(env.message_id, _parent_references(env))
    body = _quoted(env, original.text, session)
    draft = replace(
        _blank(session),
        subject=_prefixed(_RE, "Re: ", env.subject),
        body=_reply_body(body, session),
        in_reply_to=in_reply_to,
        references=references,
    )
    return ComposeRequest(draft, newsgroups=groups)


def _alt_addresses(session: MailSession) -> set[str]:
    """The pinerc's alt-addresses: the user's other addresses, left out of a reply."""
    return set(session.pine.alt_addresses)


def _parent_references(env: Envelope) -> tuple[str, ...]:
    """The parent's References; without them its In-Reply-To (RFC 5322 3.6.4)."""
    if env.references:
        return env.references
    return (env.in_reply_to,) if env.in_reply_to else ()


# --- pieces ---------------------------------------------------------------------------


def _blank(session: MailSession) -> Draft:
    """An empty draft: From, Reply-To and the customized headers of the pinerc."""
    sender = user_address(session)
    reply_to: tuple[Address, ...] = ()
    extra: list[tuple[str, str]] = []
    for item in session.pine.customized_hdrs:
        parsed = parse_custom_header(item)
        if parsed is None:
            continue
        name, value = parsed
        if name.lower() == "from":
            sender = _custom_addresses(value, "From")[0]
        elif name.lower() == "reply-to":
            reply_to = _custom_addresses(value, "Reply-To")
        else:
            extra.append((name, value))
    return Draft(sender=sender, reply_to=reply_to, extra_headers=tuple(extra))


def _custom_addresses(value: str, field: str) -> tuple[Address, ...]:
    try:
        found = parse_typed_addresses(value, field)
    except ComposeError as exc:
        raise ComposeError(f"customized-hdrs: {exc.message}", hint=exc.hint) from None
    if not found:
        raise ComposeError(f"customized-hdrs: {field} has no address")
    return found


def signature(session: MailSession) -> str:
    """The pinerc's literal-signature, else the signature file's text (Pine's default
    ~/.signature); "" when there is none."""
    literal = session.pine.literal_signature
    if literal:
        return safe_text(_unescaped(literal)).strip("\n").rstrip()
    path = session.pine.signature_file or session.name_context().home / ".signature"
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_SIGNATURE)
    except OSError:
        return ""
    return safe_text(data.decode("utf-8", "replace")).strip("\n").rstrip()


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}


def _unescaped(text: str) -> str:
    """literal-signature's escapes (\\n a new line, \\t a tab, \\\\ and \\"), as Pine reads them."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[0]), text)


def _with_signature(body: str, session: MailSession) -> str:
    """body, then the signature as written; with the feature enable-sigdashes, under the
    "-- " line (added when the signature does not start with it), as Alpine does."""
    text = signature(session)
    if not text:
        return body
    dashes = session.pine.feature("enable-sigdashes")
    if dashes and not text.startswith("-- \n") and text != "--":
        text = "-- \n" + text
    return body + text + "\n"


def _reply_body(quoted: str, session: MailSession) -> str:
    """A reply's text with its signature: above the quoted text, as Pine puts it, or
    after it with the feature signature-at-bottom."""
    if session.pine.feature("signature-at-bottom"):
        return _with_signature(quoted, session)
    above = _with_signature("", session)
    return "\n\n" + above + "\n" + quoted if above else quoted


def _leadin(env: Envelope, template: str | None = None) -> str:
    """The reply's first line: Pine's "On Tue, 5 Mar 2024, Jane Doe wrote:", or the
    pinerc's reply-leadin with its tokens filled in (those _leadin_values knows; others
    stay as written)."""
    values = _leadin_values(env)
    if template is None or template.strip().lower() == "default":
        if env.date is None:
            return f"{values['_FROM_']} wrote:"
        return f"On {values['_DAYDATE_']}, {values['_FROM_']} wrote:"
    return safe_text(_TOKEN.sub(lambda m: values.get(m[0], m[0]), template))


_TOKEN = re.compile(r"_[A-Z0-9]+_")


def _leadin_values(env: Envelope) -> dict[str, str]:
    """The reply-leadin tokens pinesh fills in (the ones pinerc files use most)."""
    senders = usable_addresses(env.sender) or env.sender
    values = {
        "_FROM_": safe_line(senders[0].display()) if senders else "the sender",
        "_FROMADDRESS_": safe_line(senders[0].email) if senders else "",
        "_SUBJECT_": safe_line(env.subject[:MAX_SUBJECT]),
        "_NEWSGROUPS_": ",".join(env.newsgroups),
        "_NEWLINE_": "\n",
    }
    if env.date is not None:
        when = env.date
        values |= {
            "_DATE_": f"{when.day} {when:%b %Y}",
            "_DAYDATE_": f"{when:%a}, {when.day} {when:%b %Y}",
            "_DAY_": str(when.day),
            "_MONTH_": f"{when:%B}",
            "_YEAR_": f"{when:%Y}",
            "_TIME24_": f"{when:%H:%M}",
        }
    return values


def _header_lines(env: Envelope) -> list[str]:
    """The original's Date, From, To, Cc and Subject, as a forward or a reply shows them."""
    lines = []
    if env.date is not None:
        lines.append(f"Date: {format_datetime(env.date)}")
    for label, addresses in (("From", env.sender), ("To", env.to), ("Cc", env.cc)):
        if addresses:
            lines.append(f"{label}: " + safe_line(", ".join(map(format_address, addresses))))
    lines.append(f"Subject: {safe_line(env.subject[:MAX_SUBJECT])}")
    return lines


def _quoted(env: Envelope, text: str, session: MailSession) -> str:
    """The reply's body: the lead-in, the original's lines after the reply-indent-string
    ("> "; an empty line gets it without its trailing spaces), a blank line."""
    indent = session.pine.reply_indent_string
    leadin = _leadin(env, session.pine.reply_leadin)
    if session.pine.feature("include-header-in-reply"):  # the original's headers quoted too
        text = "\n".join(_header_lines(env)) + "\n\n" + text
    if not text.strip():
        return f"{leadin}\n\n"
    lines = safe_text(text).rstrip("\n").split("\n")
    bare = indent.rstrip() or indent
    quoted = "\n".join(f"{indent}{line}" if line else bare for line in lines)
    return f"{leadin}\n\n{quoted}\n\n"


def _prefixed(pattern: re.Pattern[str], prefix: str, subject: str) -> str:
    """subject with prefix ("Re: ") added once: never "Re: Re: ..."."""
    text = safe_line(subject[:MAX_SUBJECT]).strip()
    return text if pattern.match(text) else prefix + text


def _unique(addresses: Iterable[Address]) -> tuple[Address, ...]:
    """Each address once, compared without case, in order."""
    seen: set[str] = set()
    out: list[Address] = []
    for address in addresses:
        key = address.email.lower()
        if key not in seen:
            seen.add(key)
            out.append(address)
    return tuple(out)
