"""SMTP: the pure parsers on literal transcripts, then the client against scripted servers.

The scripted servers play replies that the lab's Postfix cannot produce (hostile,
broken, AUTH); the normal path runs against the real Postfix in tests/integration.
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from pinesh.config.server_spec import ServerSpec
from pinesh.errors import PineshError
from pinesh.senders.base import Outgoing, SendError, SmtpEnvelope, Stage
from pinesh.senders.smtp import SmtpSender
from pinesh.senders.smtp_protocol import (
    MAX_LINE,
    MAX_LINES,
    SmtpProtocolError,
    auth_plain,
    base64_line,
    data_payload,
    has_8bit,
    helo_name_ok,
    mail_from,
    needs_smtputf8,
    parse_ehlo,
    rcpt_to,
    split_reply,
)
from pinesh.transport.channel import Channel
from pinesh.transport.greeting import Greeting, GreetingState
from pinesh.transport.routes import DirectRoute, Security
from pinesh.transport.service import Service

# What the lab's Postfix says to EHLO (captured from it).
POSTFIX_EHLO = (
    b"250-mail.pinesh.test\r\n"
    b"250-PIPELINING\r\n"
    b"250-SIZE 10240000\r\n"
    b"250-VRFY\r\n"
    b"250-ETRN\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n"
    b"250-8BITMIME\r\n"
    b"250-DSN\r\n"
    b"250-SMTPUTF8\r\n"
    b"250 CHUNKING\r\n"
)
RELAY_DENIED = b"554 5.7.1 <friend@elsewhere.example>: Relay access denied\r\n"


# --- replies --------------------------------------------------------------------------


def test_single_line_reply() -> None:
    reply, rest = split_reply(b"250 2.1.0 Ok\r\n")
    assert reply is not None and rest == b""
    assert reply.code == 250 and reply.positive and reply.enhanced == "2.1.0"
    assert reply.text() == "250 2.1.0 Ok"


def test_multi_line_ehlo_reply_lists_extensions() -> None:
    reply, rest = split_reply(POSTFIX_EHLO)
    assert reply is not None and rest == b""
    assert len(reply.raw_lines) == 10
    ext = parse_ehlo(reply)
    assert ext.has("8BITMIME") and ext.has("smtputf8") and ext.has("PIPELINING")
    assert not ext.has("mail.pinesh.test")  # the first line is the server's name
    assert not ext.has("AUTH") and ext.auth_mechanisms == frozenset()
    assert ext.size_limit == 10240000


def test_auth_mechanisms_in_both_forms() -> None:
    reply, _ = split_reply(
        b"250-smtp.example.org Hello\r\n250-AUTH PLAIN login CRAM-MD5\r\n"
        b"250-AUTH=LOGIN XOAUTH2\r\n250-SIZE 0\r\n250-what?ever\r\n250 STARTTLS\r\n"
    )
    assert reply is not None
    ext = parse_ehlo(reply)
    assert ext.auth_mechanisms == {"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"}
    assert ext.size_limit is None  # SIZE 0: no limit
    assert ext.has("STARTTLS")
    assert not ext.has("what?ever")  # not a keyword: ignored


def test_incomplete_reply_waits_for_more() -> None:
    assert split_reply(b"250-mail.pinesh.test\r\n250-PIPE") == (
        None,
        b"250-mail.pinesh.test\r\n250-PIPE",
    )
    assert split_reply(b"") == (None, b"")


def test_two_replies_in_one_read_are_taken_one_at_a_time() -> None:
    first, rest = split_reply(b"250 2.1.0 Ok\r\n" + RELAY_DENIED)
    assert first is not None and first.code == 250
    second, rest = split_reply(rest)
    assert second is not None and second.code == 554 and rest == b""


def test_relay_refusal_with_enhanced_code() -> None:
    reply, _ = split_reply(RELAY_DENIED)
    assert reply is not None
    assert reply.code == 554 and not reply.positive and not reply.temporary
    assert reply.enhanced == "5.7.1"
    assert "Relay access denied" in reply.text()


def test_temporary_failure_multi_line_with_enhanced_codes() -> None:
    reply, _ = split_reply(
        b"451-4.3.0 Mail server temporarily rejected message.\r\n451 4.3.0 Try again later\r\n"
    )
    assert reply is not None
    assert reply.temporary and reply.enhanced == "4.3.0"
    assert reply.text() == (
        "451 4.3.0 Mail server temporarily rejected message. 4.3.0 Try again later"
    )


def test_enhanced_code_of_the_wrong_class_is_just_text() -> None:
    reply, _ = split_reply(b"550 4.1.1 odd server\r\n")
    assert reply is not None and reply.enhanced is None
    reply, _ = split_reply(b"250 2.0.0Ok\r\n")  # no space after it: not a code
    assert reply is not None and reply.enhanced is None


def test_bare_code_and_bare_lf_are_accepted() -> None:
    reply, rest = split_reply(b"250\r\n354 go on\n")
    assert reply is not None and reply.code == 250 and reply.text() == "250"
    reply, rest = split_reply(rest)
    assert reply is not None and reply.code == 354 and reply.intermediate and rest == b""


@pytest.mark.parametrize(
    "garbage",
    [
        b"HTTP/1.1 400 Bad Request\r\n",
        b"* OK IMAP4rev1 ready\r\n",
        b"250x\r\n",
        b"25 ok\r\n",
        b"600 six hundred\r\n",
        b"199 one\r\n",
        b"\r\n",
        b"\x00\x01\x02\r\n",
        b"250-a\r\n251 b\r\n",  # mixed codes
        b"250-a\r\n250_b\r\n",
    ],
)
def test_garbage_is_a_protocol_error(garbage: bytes) -> None:
    with pytest.raises(SmtpProtocolError):
        split_reply(garbage)


def test_over_long_line_is_refused_even_before_it_ends() -> None:
    with pytest.raises(SmtpProtocolError, match="longer than"):
        split_reply(b"250 " + b"A" * MAX_LINE + b"\r\n")
    with pytest.raises(SmtpProtocolError, match="longer than"):
        split_reply(b"250 " + b"A" * (MAX_LINE + 10))  # no line end yet: stop reading


def test_endless_multi_line_reply_is_refused() -> None:
    with pytest.raises(SmtpProtocolError, match="lines"):
        split_reply(b"250-x\r\n" * (MAX_LINES + 5))


def test_escape_sequences_in_replies_are_made_harmless() -> None:
    reply, _ = split_reply(b"550 5.1.1 \x1b]0;owned\x07 \x1b[2J gone\r\x00 \xff\r\n")
    assert reply is not None
    shown = reply.text()
    assert "\x1b" not in shown and "\x07" not in shown and "\x00" not in shown
    assert "\\x1b]0;owned\\x07" in shown
    assert "\ufffd" in shown  # an invalid UTF-8 byte is shown as such, not passed on


def test_error_text_of_a_hostile_line_is_sanitized() -> None:
    with pytest.raises(SmtpProtocolError) as caught:
        split_reply(b"\x1b[31mHELLO\r\n")
    assert "\x1b" not in str(caught.value)


def test_long_reply_text_is_cut_for_display() -> None:
    reply, _ = split_reply(b"550 " + b"x" * 2000 + b"\r\n")
    assert reply is not None
    assert len(reply.text()) < 700 and reply.text().endswith("...")


# --- commands and the message ---------------------------------------------------------


def test_mail_from_parameters() -> None:
    assert mail_from("jane@pinesh.test") == b"MAIL FROM:<jane@pinesh.test>\r\n"
    assert mail_from("") == b"MAIL FROM:<>\r\n"
    assert (
        mail_from("zoë@exämple.org", smtputf8=True, eight_bit=True, size=1234)
        == "MAIL FROM:<zoë@exämple.org> SIZE=1234 BODY=8BITMIME SMTPUTF8\r\n".encode()
    )


@pytest.mark.parametrize(
    "bad",
    [
        "a@b>\r\nRSET",
        "a@b\nDATA",
        "jane doe@x.org",
        "",
        "<a@b>",
        "no-domain",
        "a@b\x00",
    ],
)
def test_recipients_that_could_inject_commands_are_refused(bad: str) -> None:
    with pytest.raises(SmtpProtocolError):
        rcpt_to(bad)


def test_auth_plain_token() -> None:
    assert auth_plain("jane", "secret") == b"AUTH PLAIN AGphbmUAc2VjcmV0\r\n"
    with pytest.raises(SmtpProtocolError):
        auth_plain("jane", "se\0cret")


def test_text_that_is_not_utf8_is_refused_by_every_command_builder() -> None:
    # A lone surrogate (a file name's undecodable byte kept by surrogateescape).
    with pytest.raises(SmtpProtocolError):
        auth_plain("jane", "se\udcffcret")
    with pytest.raises(SmtpProtocolError):
        base64_line("jane\udcff")
    with pytest.raises(SmtpProtocolError):
        mail_from("jane\udcff@example.org")
    with pytest.raises(SmtpProtocolError):
        rcpt_to("bob@example.org\udcff")


def test_data_payload_stuffs_dots_and_ends_with_a_dot_line() -> None:
    message = b"Subject: x\r\n\r\n.hidden\r\n.\r\nmiddle\nbare lf\rbare cr\r\nlast"
    assert data_payload(message) == (
        b"Subject: x\r\n\r\n..hidden\r\n..\r\nmiddle\r\nbare lf\r\nbare cr\r\nlast\r\n.\r\n"
    )
    assert data_payload(b"a\r\n") == b"a\r\n.\r\n"


def test_eight_bit_and_smtputf8_detection() -> None:
    body_only = b"Subject: hi\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n"
    assert has_8bit(body_only)
    assert not needs_smtputf8("a@b.c", ("d@e.f",), body_only)
    assert needs_smtputf8("a@b.c", ("zoë@e.f",), b"Subject: hi\r\n\r\n")
    assert needs_smtputf8("a@b.c", ("d@e.f",), "From: zoë@e.f\r\n\r\nx".encode())


@pytest.mark.parametrize(
    ("name", "ok"),
    [("client.pinesh.test", True), ("[127.0.0.1]", True), ("[IPv6:::1]", True),
     ("bad name", False), ("x\r\nMAIL", False), ("", False)],
)  # fmt: skip
def test_helo_names(name: str, ok: bool) -> None:
    assert helo_name_ok(name) is ok


# --- the client against scripted servers ----------------------------------------------

Respond = Callable[[bytes], bytes | None]  # one command line -> the reply (None: say nothing)


class ScriptedServer:
    """Answers a client on a socketpair with scripted replies; records what it was told."""

    def __init__(self, respond: Respond, *, data_reply: bytes = b"250 2.0.0 Ok: queued\r\n"):
        self.respond = respond
        self.data_reply = data_reply
        self.commands: list[bytes] = []
        self.data: bytes | None = None
        self.client, self._sock = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        buffer = b""
        sock = self._sock
        try:
            while True:
                while b"\r\n" not in buffer:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                line, buffer = buffer.split(b"\r\n", 1)
                self.commands.append(line)
                reply = self.respond(line)
                if reply is None:
                    continue
                sock.sendall(reply)
                if line.upper() == b"DATA" and reply.startswith(b"354"):
                    while b"\r\n.\r\n" not in b"\r\n" + buffer:
                        chunk = sock.recv(65536)
                        if not chunk:
                            return
                        buffer += chunk
                    end = (b"\r\n" + buffer).index(b"\r\n.\r\n") + 3
                    self.data, buffer = buffer[:end], buffer[end:]
                    sock.sendall(self.data_reply)
                if line.upper() == b"QUIT":
                    return
        except OSError:
            return
        finally:
            sock.close()

    def channel(self, *, encrypted: bool) -> Channel:
        security = Security.TLS if encrypted else Security.PLAIN
        return Channel(
            self.client,
            Service.SMTP,
            ServerSpec("smtp.scripted.test"),
            DirectRoute("127.0.0.1", 25, security),
            Greeting(GreetingState.READY, b"220 scripted ESMTP\r\n", "scripted ESMTP"),
            encrypted=encrypted,
            shared_master=False,
        )

    def verbs(self) -> list[bytes]:
        return [line.split(b" ", 1)[0].split(b":", 1)[0].upper() for line in self.commands]

    def join(self) -> None:
        self._thread.join(5)


def by_verb(replies: dict[bytes, bytes | list[bytes]]) -> Respond:
    """Reply by command verb; a list is used up in order (its last reply then repeats)."""

    def respond(line: bytes) -> bytes | None:
        verb = line.split(b" ", 1)[0].split(b":", 1)[0].upper()
        if verb == b"QUIT":
            return b"221 2.0.0 Bye\r\n"
        answer = replies.get(verb, POSTFIX_EHLO if verb == b"EHLO" else b"250 2.0.0 Ok\r\n")
        if isinstance(answer, list):
            return answer.pop(0) if len(answer) > 1 else answer[0]
        return answer

    return respond


EHLO_AUTH = (
    b"250-smtp.scripted.test\r\n250-8BITMIME\r\n250-SIZE 1000000\r\n250 AUTH PLAIN LOGIN\r\n"
)
MESSAGE = Outgoing(
    SmtpEnvelope("jane@pinesh.test", ("friend@elsewhere.example", "hidden@elsewhere.example")),
    b"From: jane@pinesh.test\r\nSubject: hi\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    b".leading dot\r\nGr\xc3\xbc\xc3\x9fe\r\n",
)


@pytest.fixture
def servers() -> Iterator[list[ScriptedServer]]:
    made: list[ScriptedServer] = []
    yield made
    for server in made:
        server.client.close()
        server.join()


def sender_for(
    server: ScriptedServer,
    *,
    encrypted: bool,
    user: str | None = None,
    password: Callable[[], str] | None = None,
    timeout: float = 5,
) -> SmtpSender:
    return SmtpSender(
        lambda: server.channel(encrypted=encrypted),
        user=user,
        password=password,
        helo="client.pinesh.test",
        timeout=timeout,
        name="smtp.scripted.test",
    )


def test_auth_plain_over_an_encrypted_channel(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer(by_verb({b"EHLO": EHLO_AUTH, b"AUTH": b"235 2.7.0 ok\r\n",
                                     b"DATA": b"354 go\r\n"}))  # fmt: skip
    servers.append(server)
    asked: list[str] = []

    def password() -> str:
        asked.append("yes")
        return "s3cret"

    sent = sender_for(server, encrypted=True, user="jane", password=password).send(MESSAGE)
    server.join()
    assert sent.reply == "250 2.0.0 Ok: queued"
    assert asked == ["yes"]
    token = base64.b64encode(b"\0jane\0s3cret")
    assert b"AUTH PLAIN " + token in server.commands
    assert server.verbs() == [b"EHLO", b"AUTH", b"MAIL", b"RCPT", b"RCPT", b"DATA", b"QUIT"]
    mail = server.commands[2]
    assert b"BODY=8BITMIME" in mail and b"SIZE=" in mail
    assert server.data is not None and b"\r\n..leading dot\r\n" in server.data
    assert server.data.endswith(b"\r\n.\r\n")


def test_auth_login_flow(servers: list[ScriptedServer]) -> None:
    ehlo = b"250-smtp.scripted.test\r\n250 AUTH LOGIN\r\n"
    auth_steps = [b"334 VXNlcm5hbWU6\r\n", b"334 UGFzc3dvcmQ6\r\n", b"235 2.7.0 ok\r\n"]

    def respond(line: bytes) -> bytes | None:
        # AUTH LOGIN, then the two base64 answers, each get the next step.
        if auth_steps and (line.startswith(b"AUTH") or len(auth_steps) < 3):
            return auth_steps.pop(0)
        return by_verb({b"EHLO": ehlo, b"DATA": b"354 go\r\n"})(line)

    server = ScriptedServer(respond)
    servers.append(server)
    sender_for(server, encrypted=True, user="jane", password=lambda: "pw").send(MESSAGE)
    server.join()
    assert server.commands[1:4] == [
        b"AUTH LOGIN",
        base64.b64encode(b"jane"),
        base64.b64encode(b"pw"),
    ]


def test_no_password_crosses_a_cleartext_channel(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer(by_verb({b"EHLO": EHLO_AUTH}))
    servers.append(server)
    asked: list[str] = []

    def password() -> str:
        asked.append("asked")
        return "s3cret"

    with pytest.raises(SendError) as caught:
        sender_for(server, encrypted=False, user="jane", password=password).send(MESSAGE)
    server.join()
    assert caught.value.stage is Stage.AUTH
    assert "not encrypted" in str(caught.value)
    assert asked == []
    assert b"AUTH" not in server.verbs() and b"MAIL" not in server.verbs()
    assert all(b"s3cret" not in line for line in server.commands)


def test_cleartext_route_to_a_starttls_server_is_named_a_route_matter(
    servers: list[ScriptedServer],
) -> None:
    # Postfix hides AUTH until TLS: the offer of STARTTLS alone must stop the login.
    ehlo = b"250-smtp.scripted.test\r\n250 STARTTLS\r\n"
    server = ScriptedServer(by_verb({b"EHLO": ehlo}))
    servers.append(server)
    with pytest.raises(SendError) as caught:
        sender_for(server, encrypted=False, user="jane", password=lambda: "x").send(MESSAGE)
    assert caught.value.hint is not None and "STARTTLS" in caught.value.hint
    assert "route" in caught.value.hint
    assert b"STARTTLS" not in server.verbs()  # the transport's job, never ours


def test_without_a_user_no_login_is_tried(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer(by_verb({b"EHLO": EHLO_AUTH, b"DATA": b"354 go\r\n"}))
    servers.append(server)
    sender_for(server, encrypted=False).send(MESSAGE)
    server.join()
    assert b"AUTH" not in server.verbs()
    assert server.data is not None


def test_refused_login_shows_the_server_reply(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer(
        by_verb({b"EHLO": EHLO_AUTH, b"AUTH": b"535 5.7.8 \x1b[2JAuthentication failed\r\n"})
    )
    servers.append(server)
    with pytest.raises(SendError) as caught:
        sender_for(server, encrypted=True, user="jane", password=lambda: "bad").send(MESSAGE)
    assert caught.value.stage is Stage.AUTH and not caught.value.temporary
    assert "535 5.7.8" in str(caught.value) and "Authentication failed" in str(caught.value)
    assert "\x1b" not in str(caught.value)
    assert b"MAIL" not in server.verbs()


def test_helo_fallback_and_seven_bit_downgrade(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer(
        by_verb({b"EHLO": b"502 5.5.2 what?\r\n", b"HELO": b"250 old.example\r\n",
                 b"DATA": b"354 go\r\n"})
    )  # fmt: skip
    servers.append(server)
    sender_for(server, encrypted=False).send(MESSAGE)
    server.join()
    assert server.verbs()[:2] == [b"EHLO", b"HELO"]
    assert b"BODY=8BITMIME" not in server.commands[2]
    assert server.data is not None and server.data.isascii()  # no 8BITMIME: re-encoded
    assert b"Content-Transfer-Encoding: base64" in server.data
    assert base64.b64encode(".leading dot\r\nGrüße".encode()) in server.data


def test_raw_eight_bit_without_charset_goes_as_it_is(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer(by_verb({b"EHLO": b"250 old.example\r\n", b"DATA": b"354 go\r\n"}))
    servers.append(server)
    raw = Outgoing(MESSAGE.envelope, b"Subject: hi\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n")
    sender_for(server, encrypted=False).send(raw)
    server.join()
    assert server.data == b"Subject: hi\r\n\r\nGr\xc3\xbc\xc3\x9fe\r\n.\r\n"


def test_one_refused_recipient_stops_the_send(servers: list[ScriptedServer]) -> None:
    hostile = b"550 5.1.1 <hidden@elsewhere.example>: \x1b]0;pwned\x07User unknown\r\n"
    server = ScriptedServer(
        by_verb({b"EHLO": POSTFIX_EHLO, b"RCPT": [b"250 2.1.5 Ok\r\n", hostile]})
    )
    servers.append(server)
    with pytest.raises(SendError) as caught:
        sender_for(server, encrypted=False).send(MESSAGE)
    server.join()
    error = caught.value
    assert error.stage is Stage.RECIPIENTS and not error.temporary
    assert [r.recipient for r in error.refusals] == ["hidden@elsewhere.example"]
    assert "1 of 2 recipients" in str(error) and "User unknown" in str(error)
    assert "\x1b" not in str(error) and "\x07" not in str(error)
    assert b"DATA" not in server.verbs() and b"RSET" in server.verbs()


def test_temporary_recipient_refusal_is_temporary(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer(by_verb({b"RCPT": b"452 4.5.3 Too many recipients\r\n"}))
    servers.append(server)
    with pytest.raises(SendError) as caught:
        sender_for(server, encrypted=False).send(MESSAGE)
    assert caught.value.temporary and len(caught.value.refusals) == 2


def test_relay_refusal_gets_a_hint(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer(by_verb({b"RCPT": RELAY_DENIED}))
    servers.append(server)
    with pytest.raises(SendError) as caught:
        sender_for(server, encrypted=False).send(MESSAGE)
    assert "Relay access denied" in str(caught.value)
    assert caught.value.hint is not None and "ssh rule" in caught.value.hint


def test_message_refused_after_data(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer(
        by_verb({b"DATA": b"354 go\r\n"}), data_reply=b"554 5.6.0 Message rejected: spam\r\n"
    )
    servers.append(server)
    with pytest.raises(SendError, match="spam") as caught:
        sender_for(server, encrypted=False).send(MESSAGE)
    assert caught.value.stage is Stage.DATA and not caught.value.temporary


def test_garbage_reply_is_a_clear_error(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer(by_verb({b"MAIL": b"<html>hello</html>\r\n"}))
    servers.append(server)
    with pytest.raises(SendError, match="does not speak SMTP") as caught:
        sender_for(server, encrypted=False).send(MESSAGE)
    assert caught.value.stage is Stage.SENDER


def test_server_that_hangs_up_mid_session(servers: list[ScriptedServer]) -> None:
    def respond(line: bytes) -> bytes | None:
        if line.startswith(b"MAIL"):
            raise OSError("hang up")  # ends the scripted server: the socket closes
        return by_verb({})(line)

    server = ScriptedServer(respond)
    servers.append(server)
    with pytest.raises(SendError, match="closed the connection") as caught:
        sender_for(server, encrypted=False).send(MESSAGE)
    assert caught.value.temporary and caught.value.stage is Stage.SENDER


def test_silent_server_times_out(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer(lambda line: None)
    servers.append(server)
    with pytest.raises(SendError, match="no reply in time") as caught:
        sender_for(server, encrypted=False, timeout=0.3).send(MESSAGE)
    assert caught.value.temporary


def test_busy_server_on_ehlo_is_temporary(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer(by_verb({b"EHLO": b"421 4.3.2 Service shutting down\r\n"}))
    servers.append(server)
    with pytest.raises(SendError) as caught:
        sender_for(server, encrypted=False).send(MESSAGE)
    assert caught.value.temporary and caught.value.stage is Stage.GREETING


def test_too_big_for_the_server_is_refused_before_mail_from(
    servers: list[ScriptedServer],
) -> None:
    ehlo = b"250-smtp.scripted.test\r\n250 SIZE 50\r\n"
    server = ScriptedServer(by_verb({b"EHLO": ehlo}))
    servers.append(server)
    with pytest.raises(SendError, match="at most 50") as caught:
        sender_for(server, encrypted=False).send(MESSAGE)
    assert caught.value.stage is Stage.LOCAL
    assert b"MAIL" not in server.verbs()


def test_utf8_address_needs_smtputf8(servers: list[ScriptedServer]) -> None:
    server = ScriptedServer(by_verb({b"EHLO": b"250-x\r\n250 8BITMIME\r\n"}))
    servers.append(server)
    outgoing = Outgoing(
        SmtpEnvelope("jane@pinesh.test", ("zoë@example.org",)), b"Subject: x\r\n\r\n"
    )
    with pytest.raises(SendError, match="SMTPUTF8"):
        sender_for(server, encrypted=False).send(outgoing)


def test_unreachable_server_is_a_connect_error() -> None:
    def fail() -> Channel:
        raise PineshError("cannot reach smtp on smtp.isp.test:\n  - refused")

    sender = SmtpSender(fail, name="smtp.isp.test")
    with pytest.raises(SendError) as caught:
        sender.send(MESSAGE)
    assert caught.value.stage is Stage.CONNECT and caught.value.temporary
    assert "smtp.isp.test" in str(caught.value) and "refused" in str(caught.value)


def test_hostile_envelope_is_refused_before_connecting() -> None:
    opened: list[str] = []

    def open_channel() -> Channel:
        opened.append("opened")
        raise AssertionError("must not connect")

    bad = Outgoing(SmtpEnvelope("jane@pinesh.test", ("x@y>\r\nDATA",)), b"x\r\n")
    with pytest.raises(SendError) as caught:
        SmtpSender(open_channel).send(bad)
    assert caught.value.stage is Stage.LOCAL and opened == []
    with pytest.raises(SendError, match="no recipients"):
        SmtpSender(open_channel).send(Outgoing(SmtpEnvelope("a@b.c", ()), b"x\r\n"))


def test_a_wrong_helo_setting_is_refused() -> None:
    def never() -> Channel:
        raise AssertionError("not reached")

    with pytest.raises(PineshError, match="EHLO name"):
        SmtpSender(never, helo="my host")
