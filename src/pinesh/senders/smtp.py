"""Send a message over SMTP on a channel from the transport (ssh channel or direct TLS).

A small client of our own over the pure parsers of smtp_protocol, not smtplib: the
channel arrives with its greeting already read (and STARTTLS already done, or an ssh
channel), every server reply must be bounded and sanitized before it reaches an error
message, and a refused recipient must stop the send with the server's own words. smtplib
would need its private socket attributes patched and its unbounded, unsanitized replies
re-checked at every step.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

from pinesh.errors import PineshError
from pinesh.senders import smtp_protocol as proto
from pinesh.senders.base import Outgoing, Refusal, SendError, Sent, Stage
from pinesh.senders.compose import to_seven_bit
from pinesh.senders.smtp_session import SmtpSession
from pinesh.textsafe import safe_line
from pinesh.transport.channel import Channel
from pinesh.transport.opener import RouteError

DEFAULT_TIMEOUT = 120.0  # seconds per reply (RFC 5321 suggests minutes; a dead link is seen)
DATA_RATE_FLOOR = 20_000  # bytes/s: the message itself gets its size at this rate on top
QUIT_TIMEOUT = 5.0


def default_helo() -> str:
    """This machine's name for EHLO, or an address literal when it has no usable name."""
    name = socket.gethostname()
    return name if proto.helo_name_ok(name) else "[127.0.0.1]"


class SmtpSender:
    """Sends each message in its own SMTP session on a fresh channel from open_channel.

    AUTH (PLAIN, else LOGIN) happens only when ``user`` is given, the server offers AUTH,
    and the channel allows a password (ssh or TLS); ``password`` is called only then.
    """

    def __init__(
        self,
        open_channel: Callable[[], Channel],
        *,
        user: str | None = None,
        password: Callable[[], str] | None = None,
        helo: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        name: str = "the SMTP server",
    ) -> None:
        if helo is not None and not proto.helo_name_ok(helo):
            raise PineshError(
                f"the EHLO name {helo!r} is not a domain name or an address literal",
                hint="use this machine's DNS name, e.g. host.example.org, or [192.0.2.1]",
            )
        self._open_channel = open_channel
        self._user = user
        self._password = password
        self._helo = helo or default_helo()
        self._timeout = timeout
        self._name = name

    def describe(self) -> str:
        return f"SMTP {self._name}"

    def send(self, outgoing: Outgoing) -> Sent:
        _check_envelope(outgoing)
        channel = self._open()
        try:
            session = SmtpSession(channel, self._timeout)
            return self._transact(session, outgoing)
        finally:
            channel.close()

    def _open(self) -> Channel:
        try:
            channel = self._open_channel()
        except PineshError as exc:  # UnreachableError: every route's reason, and a hint
            raise SendError(
                exc.message, stage=Stage.CONNECT, temporary=True, hint=exc.hint
            ) from None
        except (RouteError, OSError) as exc:
            raise SendError(
                f"cannot reach {self._name}: {exc}", stage=Stage.CONNECT, temporary=True
            ) from None
        return channel

    def _transact(self, session: SmtpSession, outgoing: Outgoing) -> Sent:
        extensions = self._hello(session)
        self._authenticate(session, extensions)
        sender, recipients = outgoing.envelope.sender, outgoing.envelope.recipients
        mail, payload = _prepare(session, extensions, outgoing)
        reply = session.command(mail, Stage.SENDER)
        if not reply.positive:
            _quit(session)
            what = f"refused the sender <{safe_line(sender)}>"
            raise _refused(session, Stage.SENDER, what, reply)
        self._recipients(session, recipients)
        reply = session.command(b"DATA\r\n", Stage.DATA)
        if reply.code != 354:
            _quit(session)
            raise _refused(session, Stage.DATA, "refused to take the message (DATA)", reply)
        timeout = self._timeout + len(payload) / DATA_RATE_FLOOR
        session.send(payload, Stage.DATA, timeout=timeout)
        try:
            reply = session.reply(Stage.DATA, timeout=timeout)
        except SendError as exc:
            # The whole message and its final dot went out: the server may have taken it,
            # and SMTP has no way to ask. Kept and sent again it may arrive twice, which
            # beats losing it; the user is told which.
            raise SendError(
                f"{exc.message}, after the whole message was sent",
                stage=Stage.DATA,
                temporary=True,
                hint="the server may have taken it: it is kept, and sending it again may "
                "deliver it twice; check with a recipient before you send it again",
            ) from exc
        if not reply.positive:
            _quit(session)
            raise _refused(session, Stage.DATA, "refused the message", reply)
        _quit(session)
        return Sent(recipients, reply.text(), session.channel.describe())

    def _hello(self, session: SmtpSession) -> proto.Extensions:
        """EHLO, or HELO when the server does not know EHLO; the extensions offered."""
        # Always EHLO first: after the transport's STARTTLS (channel.starttls_done) what
        # was learned before TLS must be forgotten (RFC 3207), so we ask again anyway.
        reply = session.command(proto.ehlo(self._helo), Stage.GREETING)
        if reply.positive:
            return proto.parse_ehlo(reply)
        if reply.temporary:
            _quit(session)
            raise _refused(session, Stage.GREETING, "refused EHLO", reply)
        reply = session.command(proto.helo(self._helo), Stage.GREETING)
        if not reply.positive:
            _quit(session)
            raise _refused(session, Stage.GREETING, "refused HELO", reply)
        return proto.NO_EXTENSIONS

    def _authenticate(self, session: SmtpSession, extensions: proto.Extensions) -> None:
        """Log in when a user is configured and the server asks; refuse cleartext first."""
        user = self._user
        mechanisms = extensions.auth_mechanisms
        if user is None:
            return
        channel = session.channel
        if not channel.allows_password and (mechanisms or extensions.has("STARTTLS")):
            _quit(session)
            raise SendError(
                f"refusing to send the password for {user} to {session.server}: the "
                f"connection ({channel.describe()}) is not encrypted",
                stage=Stage.AUTH,
                hint=_cleartext_hint(extensions),
            )
        if not mechanisms:
            return  # this server takes mail from here without a login (e.g. from inside)
        password = self._get_password(session, user)
        if "PLAIN" in mechanisms:
            try:
                command = proto.auth_plain(user, password)
            except proto.SmtpProtocolError as exc:
                _quit(session)
                raise SendError(exc.message, stage=Stage.AUTH) from None
            reply = session.command(command, Stage.AUTH)
        elif "LOGIN" in mechanisms:
            reply = session.command(b"AUTH LOGIN\r\n", Stage.AUTH)
            for answer in (user, password):
                if reply.code != 334:
                    break
                reply = session.command(proto.base64_line(answer), Stage.AUTH)
        else:
            _quit(session)
            raise SendError(
                f"{session.server} offers no login method pinesh knows "
                f"(it offers {' '.join(sorted(mechanisms))}; pinesh uses PLAIN or LOGIN)",
                stage=Stage.AUTH,
                hint="reach the server over ssh from inside, where it may not ask for a login",
            )
        if reply.intermediate:  # more challenges than PLAIN/LOGIN have: give up cleanly
            reply = session.command(proto.CANCEL_AUTH, Stage.AUTH)
        if not reply.positive:
            _quit(session)
            raise SendError(
                f"{session.server} refused the login for {user}: {reply.text()}",
                stage=Stage.AUTH,
                server_reply=reply.text(),
                temporary=reply.temporary,
                hint="check the user name (/user= in smtp-server) and the password",
            )

    def _get_password(self, session: SmtpSession, user: str) -> str:
        if self._password is None:
            _quit(session)
            raise SendError(
                f"{session.server} asks {user} to log in, but no password was given",
                stage=Stage.AUTH,
            )
        try:
            return self._password()
        except PineshError as exc:
            _quit(session)
            raise SendError(f"no password for {user}: {exc}", stage=Stage.AUTH) from None

    def _recipients(self, session: SmtpSession, recipients: tuple[str, ...]) -> None:
        """RCPT TO each; if any is refused, nothing is sent (RSET) and all refusals are told.

        As c-client does: a partial send would leave the user unsure who got the message,
        and sending again later would give the others a second copy.
        """
        refusals: list[Refusal] = []
        for recipient in recipients:
            reply = session.command(proto.rcpt_to(recipient), Stage.RECIPIENTS)
            if not reply.positive:
                refusals.append(Refusal(recipient, reply.text(), reply.temporary))
        if not refusals:
            return
        with contextlib.suppress(SendError):  # the refusals are the news, not a failed RSET
            session.command(b"RSET\r\n", Stage.RECIPIENTS)
        _quit(session)
        lines = [f"  {r.recipient}: {r.reply}" for r in refusals]
        count = f"{len(refusals)} of {len(recipients)} recipients"
        raise SendError(
            f"{session.server} refused {count}, so the message was sent to nobody:\n"
            + "\n".join(lines),
            stage=Stage.RECIPIENTS,
            server_reply="\n".join(r.reply for r in refusals),
            temporary=all(r.temporary for r in refusals),
            refusals=tuple(refusals),
            hint=_refusal_hint(refusals[0].reply),
        )


def _prepare(
    session: SmtpSession, extensions: proto.Extensions, outgoing: Outgoing
) -> tuple[bytes, bytes]:
    """MAIL FROM with the parameters this message needs, and the DATA payload.

    Raises SendError (after QUIT) when the server cannot take the message as it is.
    """
    sender, recipients = outgoing.envelope.sender, outgoing.envelope.recipients
    data = outgoing.data
    utf8 = proto.needs_smtputf8(sender, recipients, data)
    if utf8 and not extensions.has("SMTPUTF8"):
        _quit(session)
        raise SendError(
            f"{session.server} cannot take internationalized (UTF-8) addresses or "
            "headers: it does not offer SMTPUTF8",
            stage=Stage.LOCAL,
            hint="use ASCII addresses, or a server that offers SMTPUTF8",
        )
    if not utf8 and proto.has_8bit(data) and not extensions.has("8BITMIME"):
        data = to_seven_bit(data)  # RFC 6152: no 8-bit body without 8BITMIME
    payload = proto.data_payload(data)
    limit = extensions.size_limit
    if limit is not None and len(payload) > limit:
        _quit(session)
        raise SendError(
            f"the message is {len(payload)} bytes; {session.server} takes at most {limit}",
            stage=Stage.LOCAL,
            hint="send smaller attachments, or share big files another way",
        )
    eight_bit = proto.has_8bit(data) and extensions.has("8BITMIME")
    size = len(payload) if extensions.has("SIZE") else None
    mail = proto.mail_from(sender, smtputf8=utf8, eight_bit=eight_bit, size=size)
    return mail, payload


def _check_envelope(outgoing: Outgoing) -> None:
    """Refuse, before connecting, an envelope that SMTP cannot carry."""
    if not outgoing.envelope.recipients:
        raise SendError("the message has no recipients", stage=Stage.LOCAL)
    try:
        proto.check_mailbox(outgoing.envelope.sender, "sender", empty_ok=True)
        for recipient in outgoing.envelope.recipients:
            proto.check_mailbox(recipient, "recipient")
    except PineshError as exc:
        raise SendError(exc.message, stage=Stage.LOCAL, hint=exc.hint) from None


def _quit(session: SmtpSession) -> None:
    """Say QUIT and read the goodbye, ignoring trouble: the outcome is already known."""
    with contextlib.suppress(SendError):
        session.command(b"QUIT\r\n", Stage.GREETING, timeout=QUIT_TIMEOUT)


def _refused(session: SmtpSession, stage: Stage, what: str, reply: proto.Reply) -> SendError:
    return SendError(
        f"{session.server} {what}: {reply.text()}",
        stage=stage,
        server_reply=reply.text(),
        temporary=reply.temporary,
        hint=_refusal_hint(reply.text()),
    )


def _refusal_hint(reply_text: str) -> str | None:
    lowered = reply_text.lower()
    if "relay" in lowered:
        return (
            "this server relays only for its own network: reach it from inside through "
            "an ssh rule (login = your shell host), or log in with /user=NAME over TLS"
        )
    if " 5.7.0 " in f" {reply_text} " or "authentication required" in lowered:
        return "this server wants a login: add /user=NAME to the smtp-server entry"
    return None


def _cleartext_hint(extensions: proto.Extensions) -> str:
    if extensions.has("STARTTLS"):
        return (
            "the server offers STARTTLS, but this route is cleartext: that is the route's "
            'configuration; drop /notls, use fallback = ["starttls"] in the rule, or an '
            "ssh rule"
        )
    return "use /ssl in smtp-server, or reach the server through an ssh rule"
