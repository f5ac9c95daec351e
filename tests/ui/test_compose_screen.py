"""COMPOSE MESSAGE through Textual's Pilot: typed fields sent through a sendmail script,
Fcc, postpone and resume, cancel, the outbox when the server is down, nicknames, $EDITOR."""

from __future__ import annotations

import asyncio
import contextlib
import email
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.widgets._toast import Toast

from pinesh.config.pine_settings import pine_settings
from pinesh.config.pinerc import parse_pinerc
from pinesh.config.settings import Settings
from pinesh.senders.compose import Draft
from pinesh.senders.outbox import Outbox
from pinesh.services.connections import Connections
from pinesh.services.mail import MailSession
from pinesh.services.postponed import PostponedMessage, list_postponed, request_from_postponed
from pinesh.services.replying import ComposeRequest, post_request, reply_request
from pinesh.stores.base import Address
from pinesh.ui import compose_screen as compose_module
from pinesh.ui.addressbook_screen import AddressBookScreen
from pinesh.ui.app import MainMenu, PineshApp
from pinesh.ui.compose_fields import AttachmentField, BodyArea, run_editor
from pinesh.ui.compose_screen import ComposeScreen
from pinesh.ui.help_screen import HelpScreen
from pinesh.ui.prompts import ConfirmScreen, PromptScreen, SendScreen
from tests.ui.test_index_screen import press, run_app, settle, stack, status, typed_quickly
from tests.unit.gpg_keyring import gpg, make_keyring

HOSTILE = Path(__file__).parent.parent / "corpus" / "hostile" / "escape-sequences.eml"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setattr("getpass.getuser", lambda: "me")
    return tmp_path


def sendmail_script(home: Path, status: int = 0) -> Path:
    """A "sendmail" that keeps its argv and the message it was given, then exits status."""
    script = home / "fake-sendmail"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{home}/sent.argv"\n'
        f'cat > "{home}/sent.msg"\n'
        + (f'echo "queue is full" >&2\nexit {status}\n' if status else "")
    )
    script.chmod(0o755)
    return script


def make_session(home: Path, extra: str = "") -> MailSession:
    text = (
        f"user-domain=pinesh.test\npersonal-name=Me Myself\ninbox-path=#md/{home}/Maildir\n"
        f"signature-file={home}/no-signature\n{extra}"
    )
    rc = parse_pinerc(text, str(home / "pinerc"))
    return MailSession(Connections(Settings(), rc), pine_settings(rc), data_dir=home / "data")


def sent_message(home: Path) -> EmailMessage:
    msg = email.message_from_bytes((home / "sent.msg").read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def top(app: PineshApp) -> Screen[object]:
    """The screen on top (a call, so that mypy does not carry a narrowed type along)."""
    return app.screen


def status_of(app: PineshApp) -> str:
    return str(top(app).query_one("#status", Static).render())


async def type_into(pilot: Pilot[None], screen: ComposeScreen, field: str, text: str) -> None:
    screen.field(field).focus()
    await pilot.pause()
    await pilot.press(*text)


async def open_compose(app: PineshApp, pilot: Pilot[None]) -> ComposeScreen:
    await pilot.press("c")
    await settle(app, pilot)
    screen = top(app)
    assert isinstance(screen, ComposeScreen)
    return screen


def run(app: PineshApp, scenario: object) -> None:
    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await scenario(pilot)  # type: ignore[operator]

    asyncio.run(main())


def test_typed_message_is_sent_and_copied_to_fcc(home: Path) -> None:
    app = PineshApp(make_session(home, f"sendmail-path={sendmail_script(home)} -oi -t\n"))

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        assert screen.field("To").has_focus
        assert screen.field("Fcc").value == "sent-mail"
        await pilot.press(*"jane@example.org")
        await pilot.press("tab")
        assert screen.field("Cc").has_focus  # Tab goes on to the next header line
        await pilot.press("down")
        assert screen.field("Bcc").has_focus
        await pilot.press(*"hidden@example.net")
        await type_into(pilot, screen, "Subject", "Lunch on Friday")
        await pilot.press("enter")
        assert isinstance(app.focused, BodyArea)  # Enter on the last line: the text
        await pilot.press(*"Noon at the usual place?", "enter", *"Me")
        await pilot.press("ctrl+x")
        assert isinstance(top(app), SendScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(top(app), MainMenu)
        assert status_of(app) == "Message sent and copied to sent-mail"

    run(app, scenario)
    msg = sent_message(home)
    assert msg["To"] == "jane@example.org"
    assert msg["Subject"] == "Lunch on Friday"
    assert msg["From"] == "Me Myself <me@pinesh.test>"
    assert msg["Bcc"] is None  # blind copies are not in the transmitted message
    assert msg.get_content() == "Noon at the usual place?\nMe\n"
    argv = (home / "sent.argv").read_text().split("\n")
    assert argv[-3:] == ["jane@example.org", "hidden@example.net", ""]
    assert "-t" not in argv
    fcc = (home / "mail" / "sent-mail").read_text()
    assert "Subject: Lunch on Friday" in fcc and "Bcc: hidden@example.net" in fcc


def test_postpone_then_resume_and_send(home: Path) -> None:
    session = make_session(home, f"sendmail-path={sendmail_script(home)}\n")
    app = PineshApp(session)

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        await pilot.press(*"bob@example.org")
        await type_into(pilot, screen, "Subject", "Draft one")
        screen.query_one(BodyArea).focus()
        await pilot.press(*"half a thought")
        await pilot.press("ctrl+o")
        await settle(app, pilot)
        assert isinstance(top(app), MainMenu)
        assert status_of(app) == "Composition postponed"
        assert [m.subject for m in list_postponed(session)] == ["Draft one"]

        await pilot.press("c")
        await settle(app, pilot)
        question = top(app)
        assert isinstance(question, ConfirmScreen)
        assert "Continue postponed composition" in question.question
        await pilot.press("y")
        await settle(app, pilot)
        resumed = top(app)
        assert isinstance(resumed, ComposeScreen)
        screen = resumed
        assert screen.field("To").value == "bob@example.org"
        assert screen.field("Subject").value == "Draft one"
        assert screen.query_one(BodyArea).text == "half a thought\n"  # as sent: a final newline
        assert screen.request is not None and screen.request.postponed_key
        await pilot.press("ctrl+x", "y")
        await settle(app, pilot)
        assert status_of(app) == "Message sent and copied to sent-mail"

    run(app, scenario)
    assert list_postponed(session) == []  # removed once sent
    assert sent_message(home)["Subject"] == "Draft one"


def test_cancel_asks_then_abandons(home: Path) -> None:
    app = PineshApp(make_session(home, f"sendmail-path={sendmail_script(home)}\n"))

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        await pilot.press(*"bob@example.org")
        await pilot.press("ctrl+c")
        question = top(app)
        assert isinstance(question, ConfirmScreen)
        assert "abandon your mail message" in question.question
        await pilot.press("n")
        assert top(app) is screen and screen.field("To").value == "bob@example.org"
        await pilot.press("ctrl+c", "y")
        await settle(app, pilot)
        assert isinstance(top(app), MainMenu)
        assert status_of(app) == "Message cancelled"

    run(app, scenario)
    assert not (home / "sent.msg").exists()
    assert not (home / "mail" / "postponed-msgs").exists()


@pytest.mark.parametrize("down", ["smtp", "sendmail"])
def test_a_server_that_is_down_keeps_the_message_in_the_outbox(home: Path, down: str) -> None:
    if down == "smtp":
        extra = "smtp-server=127.0.0.1:1\n"  # nothing listens on port 1
    else:
        extra = f"sendmail-path={sendmail_script(home, status=75)}\n"
    app = PineshApp(make_session(home, extra))

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        await pilot.press(*"bob@example.org")
        await type_into(pilot, screen, "Subject", "While down")
        await pilot.press("ctrl+x", "y")
        await settle(app, pilot)
        assert isinstance(top(app), MainMenu)
        status = status_of(app)
        assert status.startswith("Not sent: ")
        assert status.endswith("kept in the outbox (pinesh outbox flush)")
        assert ("Connection refused" if down == "smtp" else "status 75") in status

    run(app, scenario)
    (kept,) = Outbox(home / "data" / "outbox").list()
    assert kept.subject == "While down" and kept.envelope.recipients == ("bob@example.org",)
    assert not (home / "mail" / "sent-mail").exists()  # no copy of what was not sent


def test_nicknames_expand_and_unknown_ones_stop_the_send(home: Path) -> None:
    (home / ".addressbook").write_text(
        "jane\tDoe, Jane\tjane@example.org\nteam\tTeam\t(jane, carol@example.net)\n"
    )
    app = PineshApp(make_session(home, f"sendmail-path={sendmail_script(home)}\n"))

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        await pilot.press(*"team")
        await pilot.press("tab")
        assert screen.field("To").value == "Jane Doe <jane@example.org>, carol@example.net"
        await type_into(pilot, screen, "Cc", "nobody")
        await pilot.press("ctrl+x")
        assert top(app) is screen  # refused before the question
        assert "'nobody' is not a nickname" in status_of(app)
        screen.field("Cc").value = "jane@"
        await pilot.press("ctrl+x")
        assert top(app) is screen and "Cc:" in status_of(app)
        screen.field("Cc").value = ""
        await pilot.press("ctrl+x", "y")
        await settle(app, pilot)
        assert isinstance(top(app), MainMenu)

    run(app, scenario)
    assert sent_message(home)["To"] == "Jane Doe <jane@example.org>, carol@example.net"


def test_ctrl_t_picks_from_the_address_book(home: Path) -> None:
    (home / ".addressbook").write_text("bob\tBob Smith\tbob@example.org\n")
    app = PineshApp(make_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        await pilot.press(*"x@example.org")
        await pilot.press("ctrl+t")
        await settle(app, pilot)
        book = top(app)
        assert isinstance(book, AddressBookScreen) and book.picking
        await pilot.press("s")
        await settle(app, pilot)
        assert top(app) is screen
        assert screen.field("To").value == "x@example.org, Bob Smith <bob@example.org>"

    run(app, scenario)


def test_attach_a_file_and_send_it(home: Path) -> None:
    (home / "notes.txt").write_text("hello")
    app = PineshApp(make_session(home, f"sendmail-path={sendmail_script(home)}\n"))

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        await pilot.press(*"bob@example.org")
        await pilot.press("ctrl+j")
        assert isinstance(top(app), PromptScreen)
        await pilot.press(*"~/missing.txt", "enter")
        await settle(app, pilot)
        assert "cannot attach ~/missing.txt: No such file" in status_of(app)
        await pilot.press("ctrl+j", *"~/notes.txt", "enter")
        await settle(app, pilot)
        field = screen.query_one(AttachmentField)
        assert str(field.render()) == "1. notes.txt (5 B)"
        await pilot.press("ctrl+x", "y")
        await settle(app, pilot)

    run(app, scenario)
    (part,) = sent_message(home).iter_attachments()
    assert part.get_filename() == "notes.txt" and part.get_content() == "hello"


def test_reply_calls_on_sent_and_hostile_text_stays_inert(home: Path) -> None:
    session = make_session(home, f"sendmail-path={sendmail_script(home)}\n")
    app = PineshApp(session)
    answered: list[bool] = []

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.pause()
        request = reply_request(session, HOSTILE.read_bytes(), to_all=False)
        app.open_compose(request, on_sent=lambda: answered.append(True))
        await settle(app, pilot)
        screen = top(app)
        assert isinstance(screen, ComposeScreen)
        assert isinstance(app.focused, BodyArea)  # a reply starts in the text
        assert screen.field("To").value.endswith("<evil@example.org>")
        shown = [str(w.render()) for w in screen.query(Static)]
        shown += [screen.field(f).value for f in ("To", "Subject")]
        shown.append(screen.query_one(BodyArea).text)
        assert not any("\x1b" in text or "\x07" in text for text in shown)
        await pilot.press("ctrl+x", "y")
        await settle(app, pilot)
        assert isinstance(top(app), MainMenu)

    run(app, scenario)
    assert answered == [True]
    msg = sent_message(home)
    assert msg["In-Reply-To"] == "<esc@example.org>"
    assert "\x1b" not in (home / "sent.msg").read_text()


def editor_script(home: Path) -> Path:
    """An "editor" that appends a line, and the file's mode, to the file it is given."""
    script = home / "fake-editor"
    script.write_text(
        "#!/bin/sh\n"
        "for file; do :; done\n"  # the file is the last argument
        'printf "added by the editor\\n" >> "$file"\n'
        'stat -c "mode %a" "$file" >> "$file"\n'
    )
    script.chmod(0o755)
    return script


def test_run_editor_round_trip(home: Path) -> None:
    environ = {"EDITOR": f"{editor_script(home)} --flag-ignored"}
    before = set(os.listdir(tempfile.gettempdir()))
    assert run_editor("first\n", environ) == "first\nadded by the editor\nmode 600\n"
    after = set(os.listdir(tempfile.gettempdir()))
    assert {n for n in after - before if n.startswith("pinesh-")} == set()  # removed
    failing = home / "fail"
    failing.write_text("#!/bin/sh\nexit 3\n")
    failing.chmod(stat.S_IRWXU)
    with pytest.raises(Exception, match="status 3"):
        run_editor("x", {"VISUAL": str(failing), "EDITOR": "ignored"})
    with pytest.raises(Exception, match="cannot run the editor"):
        run_editor("x", {"EDITOR": str(home / "no-such-editor")})


def test_the_pinercs_editor_comes_before_visual_and_editor(home: Path) -> None:
    environ = {"VISUAL": str(home / "not-this-one"), "EDITOR": str(home / "nor-this")}
    configured = f"{editor_script(home)} --flag-ignored"
    assert run_editor("first\n", environ, configured).endswith("added by the editor\nmode 600\n")
    with pytest.raises(Exception, match="cannot run the editor"):
        run_editor("x", {}, str(home / "no-such-editor"))


@contextlib.contextmanager
def no_suspend() -> Iterator[None]:
    """Headless Textual cannot suspend: the hand-off is tested without it."""
    yield


def test_ctrl_underscore_runs_the_editor(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITOR", str(editor_script(home)))
    app = PineshApp(make_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        await pilot.press("ctrl+underscore")
        assert "cannot hand the terminal" in status_of(app)  # headless: no suspend
        monkeypatch.setattr(app, "suspend", no_suspend)
        screen.query_one(BodyArea).load_text("my text\n")
        await pilot.press("ctrl+underscore")
        assert screen.query_one(BodyArea).text == "my text\nadded by the editor\nmode 600\n"
        assert isinstance(app.focused, BodyArea)

    run(app, scenario)


def test_a_post_shows_newsgroups_and_a_failed_post_keeps_the_screen(home: Path) -> None:
    session = make_session(home, f"sendmail-path={sendmail_script(home)}\n")
    app = PineshApp(session)

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.pause()
        app.open_compose(post_request(session, ("local.test",)))
        await settle(app, pilot)
        screen = top(app)
        assert isinstance(screen, ComposeScreen)
        assert screen.query_one("#row-newsgroups").display
        assert screen.field("Newsgroups").value == "local.test"
        assert screen.field("Subject").has_focus  # a new article: the subject first
        await pilot.press(*"Hello group")
        await pilot.press("ctrl+x", "y")
        await settle(app, pilot)
        assert top(app) is screen  # nothing was lost: the article is still here
        assert status_of(app) == "Not sent: no nntp-server is set; set nntp-server in your pinerc"
        assert not (home / "sent.msg").exists()

    run(app, scenario)


def test_a_mail_server_reply_that_looks_like_markup_is_shown_as_text(home: Path) -> None:
    # notify() parses markup: "[/]" from the server raised MarkupError and ended pinesh
    # (after the message went to the outbox); "[@click=app.quit]" made a live action.
    said = "550 5.7.1 [/] rejected [@click=app.quit]here[/] [b]bold[/b]"
    script = home / "sendmail"
    script.write_text(f"#!/bin/sh\ncat >/dev/null\necho '{said}' >&2\nexit 1\n")
    script.chmod(0o755)
    app = PineshApp(make_session(home, f"sendmail-path={script}\n"))

    async def scenario(pilot: Pilot[None]) -> None:
        await press(app, pilot, "c")
        await pilot.press(*"bob@example.org")
        await press(app, pilot, "ctrl+x", "y")
        assert isinstance(app.screen, MainMenu)
        assert said in status(app)
        (toast,) = app.screen.query(Toast)
        assert said in str(toast.render())  # the brackets as they came: no markup read

    run_app(app, scenario)


def test_a_postponed_message_brings_no_control_character_into_the_fields(home: Path) -> None:
    raw = (
        b"From: me@pinesh.test\r\nTo: =?utf-8?q?A=C2=9B6n?= <a@example.org>\r\n"
        b"Fcc: =?utf-8?q?sent=C2=9B2J?=\r\nSubject: =?utf-8?q?s=C2=9B6n?=\r\n\r\nbody\r\n"
    )
    request = request_from_postponed(raw, fallback_sender=Address("", "me@pinesh.test"))
    app = PineshApp(make_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        app.open_compose(request)
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        values = [screen.field(name).value for name in ("To", "Fcc", "Subject")]
        assert not any(ch in value for value in values for ch in "\x9b\x1b")
        assert values[0] == "A 6n <a@example.org>"  # C1 taken out when read back, as C0

    run_app(app, scenario)


def test_two_quick_enters_in_the_address_book_keep_the_composer(home: Path) -> None:
    (home / ".addressbook").write_text("bob\tBob Smith\tbob@example.org\n")
    app = PineshApp(make_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        await press(app, pilot, "c")
        await press(app, pilot, "ctrl+t")
        assert isinstance(app.screen, AddressBookScreen)
        await typed_quickly(app, pilot, "enter", "enter")
        screen = app.screen
        assert isinstance(screen, ComposeScreen)  # the draft was closed without a word
        assert screen.field("To").value == "Bob Smith <bob@example.org>"

    run_app(app, scenario)


def test_q_in_help_leaves_the_help_not_the_message_being_written(home: Path) -> None:
    app = PineshApp(make_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        await press(app, pilot, "c")
        await pilot.press(*"bob@example.org")
        await press(app, pilot, "ctrl+g")
        assert isinstance(app.screen, HelpScreen)
        await press(app, pilot, "q")
        screen = app.screen
        assert isinstance(screen, ComposeScreen)  # was: pinesh ended, the draft lost
        assert screen.field("To").value == "bob@example.org"

    run_app(app, scenario)


def test_a_nul_in_the_name_of_a_file_to_attach_is_a_message(home: Path) -> None:
    # Pasted into the prompt, it made stat() raise ValueError in the worker: pinesh ended
    # with a traceback.
    app = PineshApp(make_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        await press(app, pilot, "c")
        await press(app, pilot, "ctrl+j")
        field = app.screen.query_one(Input)
        field.post_message(events.Paste(f"{home}/a\x00b"))
        await press(app, pilot, "enter")
        assert isinstance(app.screen, ComposeScreen)
        assert "cannot attach" in status(app) and "null byte" in status(app)

    run_app(app, scenario)


def test_an_address_book_entry_with_escapes_is_made_safe_in_the_composer(home: Path) -> None:
    # Pine's TakeAddr copies a sender's name into the address book as it came: the
    # nickname's expansion (or ^T's pick) put the escape sequence into the To line,
    # which an Input draws as it is.
    (home / ".addressbook").write_text(
        "ev\t\x1b]0;pwned\x07Evil\tevil@example.org\t\x1b[2Jfolder\n"
    )
    app = PineshApp(make_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        await press(app, pilot, "c")
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        await pilot.press("e", "v", "tab")
        await settle(app, pilot)
        to = screen.field("To").value
        assert to.endswith("<evil@example.org>") and "\x1b" not in to and "\x07" not in to
        assert "\x1b" not in screen.field("Fcc").value
        screen.field("To").focus()
        await pilot.pause()
        screen.field("To").value = ""
        await press(app, pilot, "ctrl+t", "s")
        assert stack(app)[-1] == "ComposeScreen"
        to = screen.field("To").value
        assert to.endswith("<evil@example.org>") and "\x1b" not in to

    run_app(app, scenario)


def test_postponed_messages_found_after_typing_began_do_not_take_the_next_key(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The postponed folder is listed in a worker (on a server: a second or more). Its
    # question came up while the user typed "yvonne@...": the y answered it, and the
    # postponed message replaced what was typed.
    typing_began = threading.Event()

    def slow_list(session: object) -> list[PostponedMessage]:
        # The listing ends once typing has begun: a fixed delay (it was 0.3 s) raced the
        # composer's own start-up, and when it lost, the loop below waited for ever.
        typing_began.wait(10)
        return [PostponedMessage(1, "an old draft", "old@example.org", None)]

    def resume(session: object, uid: int) -> ComposeRequest:
        return ComposeRequest(Draft(sender=Address("", "me@pinesh.test"), subject="old"))

    monkeypatch.setattr(compose_module, "list_postponed", slow_list)
    monkeypatch.setattr(compose_module, "resume", resume)
    app = PineshApp(make_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.press("c")
        # Keys typed before the composer is up are another matter (the menu gets them):
        # wait for it, but not for the slow listing.
        while not (isinstance(app.screen, ComposeScreen) and app.focused is not None):
            await pilot.pause(0.01)
        await pilot.press("b", "o", "b")
        typing_began.set()
        await pilot.pause(0.5)
        await pilot.press(*"yvonne@example.org")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        assert screen.field("To").value == "bobyvonne@example.org"
        assert "1 postponed message waiting" in status(app)

    run_app(app, scenario)


def test_the_text_keeps_picos_cut_and_uncut(home: Path) -> None:
    # The message text is a TextArea, whose ^K deletes to the end of the line and ^U to
    # its start: a Pine user's ^K ^K (cut two lines) ^U (put them back) lost the text,
    # and ^W (Where is) deleted a word.
    app = PineshApp(make_session(home))

    async def scenario(pilot: Pilot[None]) -> None:
        await press(app, pilot, "c")
        screen = app.screen
        assert isinstance(screen, ComposeScreen)
        body = screen.query_one(BodyArea)
        body.focus()
        body.load_text("one\ntwo\nthree\nfour\n")
        body.move_cursor((1, 2))  # in "two"
        await pilot.press("ctrl+k", "ctrl+k")
        assert body.text == "one\nfour\n"
        await pilot.press("down", "ctrl+u")  # under "four": the two lines back
        assert body.text == "one\nfour\ntwo\nthree\n"
        body.move_cursor((1, 0))
        await pilot.press("ctrl+k", "down", "ctrl+k", "ctrl+u", "ctrl+u")
        assert body.text == "one\ntwo\nthree\nthree\n"  # a new cut replaced the old one
        body.move_cursor((0, 0))
        await pilot.press("ctrl+w")
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one(Input).value = "thr"
        await press(app, pilot, "enter")
        assert stack(app)[-1] == "ComposeScreen" and body.text == "one\ntwo\nthree\nthree\n"
        assert body.cursor_location == (2, 0)
        await pilot.press("ctrl+w", "enter")  # the same word again: the next one
        assert body.cursor_location == (3, 0)
        await pilot.press("ctrl+w")
        app.screen.query_one(Input).value = "nowhere"
        await press(app, pilot, "enter")
        assert status(app) == '"nowhere" not found' and body.cursor_location == (3, 0)

    run_app(app, scenario)


def test_fcc_name_rule_by_recipient_names_the_copy_after_the_first_recipient(
    home: Path,
) -> None:
    app = PineshApp(make_session(home, "fcc-name-rule=by-recipient\n"))

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        assert screen.field("Fcc").value == "sent-mail"
        await pilot.press(*"jane@example.org, bob@example.net")
        await pilot.press("tab")  # leaving To: the rule names the Fcc
        assert screen.field("Fcc").value == "jane"

    run(app, scenario)


def test_fcc_name_rule_last_fcc_used_offers_the_last_messages_fcc(home: Path) -> None:
    app = PineshApp(
        make_session(
            home, f"fcc-name-rule=last-fcc-used\nsendmail-path={sendmail_script(home)} -oi -t\n"
        )
    )

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        await pilot.press(*"jane@example.org")
        screen.field("Fcc").value = "kept-for-jane"
        await type_into(pilot, screen, "Subject", "one")
        await pilot.press("ctrl+x")
        await pilot.press("y")
        await settle(app, pilot)
        assert status_of(app) == "Message sent and copied to kept-for-jane"
        screen = await open_compose(app, pilot)
        assert screen.field("Fcc").value == "kept-for-jane"

    run(app, scenario)


def test_default_composer_hdrs_shows_only_its_lines_until_rich_headers(home: Path) -> None:
    app = PineshApp(make_session(home, "default-composer-hdrs=To, Fcc, Subject\n"))

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)

        def hidden() -> set[str]:
            return {r.id or "" for r in screen.query(".hidden")}

        assert hidden() == {"row-cc", "row-bcc", "row-attchmnt", "row-newsgroups"}
        await pilot.press("tab")
        assert screen.field("Fcc").has_focus  # Cc and Bcc are not in the way
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert hidden() == {"row-newsgroups"}

    run(app, scenario)


def test_warn_if_blank_subject_asks_before_sending_without_one(home: Path) -> None:
    app = PineshApp(make_session(home, "feature-list=warn-if-blank-subject\n"))

    async def scenario(pilot: Pilot[None]) -> None:
        await open_compose(app, pilot)
        await pilot.press(*"jane@example.org")
        await pilot.press("ctrl+x")
        question = top(app)
        assert isinstance(question, SendScreen)
        assert question.question == "No Subject, send anyway?" and question.default is False
        await pilot.press("n")

    run(app, scenario)


def test_entering_the_text_runs_the_editor_with_enable_alternate_editor_implicitly(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib

    from pinesh.ui import compose_screen

    ran: list[str | None] = []

    def fake_editor(text: str, environ: object, configured: str | None = None) -> str:
        ran.append(configured)
        return "written in the editor\n"

    monkeypatch.setattr(compose_screen, "run_editor", fake_editor)
    rc = "editor=myeditor --wait\nfeature-list=enable-alternate-editor-implicitly\n"
    app = PineshApp(make_session(home, rc))
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        await pilot.press(*"jane@example.org")
        await type_into(pilot, screen, "Subject", "hi")
        await pilot.press("enter")  # into the text: the editor runs, once
        await pilot.pause()
        await pilot.pause()
        assert ran == ["myeditor --wait"]
        assert screen.query_one(BodyArea).text == "written in the editor\n"
        await pilot.press("up", "down")  # leaving and entering again: not again
        await pilot.pause()
        assert len(ran) == 1

    run(app, scenario)


def _crypto_session(
    home: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings | None = None, extra: str = ""
) -> MailSession:
    """A session whose user is Jane of the test keyring (gpg_keyring)."""
    monkeypatch.setenv("GNUPGHOME", str(make_keyring(home / "gnupg")))
    monkeypatch.setattr("getpass.getuser", lambda: "jane")
    text = (
        f"user-domain=example.org\npersonal-name=Jane Doe\n"
        f"sendmail-path={sendmail_script(home)}\nsignature-file={home}/no-signature\n{extra}"
    )
    rc = parse_pinerc(text, str(home / "pinerc"))
    connections = Connections(settings or Settings(), rc)
    return MailSession(connections, pine_settings(rc), data_dir=home / "data")


def test_the_send_question_starts_with_what_the_seal_rules_say(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pinesh.config.settings import SealRule

    rules = Settings(seals=(SealRule(("@example.org",), sign=True, encrypt=True),))
    app = PineshApp(_crypto_session(home, monkeypatch, rules))

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        await pilot.press(*"bob@example.org")
        await type_into(pilot, screen, "Subject", "ruled")
        await pilot.press("ctrl+x")
        question = top(app)
        assert isinstance(question, SendScreen)
        assert "Send message, signed and encrypted (PGP/MIME)?" in str(question.line())
        await pilot.press("e", "y")  # the user's answer stands over the rule
        await settle(app, pilot)

    run(app, scenario)
    sent = (home / "sent.msg").read_bytes()
    assert b"multipart/signed" in sent and b"multipart/encrypted" not in sent


def test_the_send_question_signs_and_encrypts(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = PineshApp(_crypto_session(home, monkeypatch))

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        await pilot.press(*"bob@example.org")
        await type_into(pilot, screen, "Subject", "vault")
        await pilot.press("enter", *"The code is 7291.")
        await pilot.press("ctrl+x")
        question = top(app)
        assert isinstance(question, SendScreen)
        assert "Send message, not signed or encrypted?" in str(question.line())
        await pilot.press("g", "e")
        assert "Send message, signed and encrypted (PGP/MIME)?" in str(question.line())
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(top(app), MainMenu)
        assert status_of(app) == "Message sent and copied to sent-mail"

    run(app, scenario)
    sent = (home / "sent.msg").read_bytes()
    assert b"multipart/encrypted" in sent and b"7291" not in sent
    armour = sent_message(home).get_payload(1).get_content()  # type: ignore[union-attr]
    plaintext = gpg(home / "gnupg", "--decrypt", data=armour)  # Jane's own copy opens
    assert b"The code is 7291." in plaintext


def test_a_recipient_without_a_key_is_asked_about_before_sending_in_clear(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = PineshApp(_crypto_session(home, monkeypatch))

    async def scenario(pilot: Pilot[None]) -> None:
        screen = await open_compose(app, pilot)
        await pilot.press(*"carol@example.org")
        await type_into(pilot, screen, "Subject", "hello")
        await pilot.press("ctrl+x", "e", "y")
        await settle(app, pilot)
        question = top(app)
        assert isinstance(question, ConfirmScreen) and question.default is False
        assert "No key for carol@example.org: send it NOT encrypted" in question.question
        await pilot.press("n")
        await settle(app, pilot)
        assert isinstance(top(app), ComposeScreen)  # kept in the composer
        assert not (home / "sent.msg").exists()
        await pilot.press("ctrl+x", "y")  # the seal chosen is kept: encrypt again
        await settle(app, pilot)
        assert isinstance(top(app), ConfirmScreen)
        await pilot.press("y")
        await settle(app, pilot)
        assert isinstance(top(app), MainMenu)

    run(app, scenario)
    assert b"multipart/encrypted" not in (home / "sent.msg").read_bytes()


def test_a_reply_to_a_locked_encrypted_message_says_it_is_not_quoted(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pinesh.ui.message_commands import NOT_QUOTED
    from tests.ui.test_index_screen import run_index
    from tests.unit.gpg_keyring import forget_passphrases, pgp_mime_encrypted

    maildir = home / "Maildir"
    session = _crypto_session(home, monkeypatch, extra=f"inbox-path=#md/{maildir}\n")
    keyring = home / "gnupg"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    inner = b"Content-Type: text/plain\r\n\r\nFor Bob only.\r\n"
    message = pgp_mime_encrypted(keyring, inner, ("bob@example.org",))
    (maildir / "new" / "1.locked.pinesh").write_bytes(message)
    forget_passphrases(keyring)

    async def scenario(app: PineshApp, pilot: Pilot[None]) -> None:
        await press(app, pilot, "r")
        for _ in range(50):
            if isinstance(top(app), ComposeScreen):
                break
            await pilot.pause(0.1)
        screen = top(app)
        assert isinstance(screen, ComposeScreen)
        assert "For Bob only" not in screen.query_one(BodyArea).text
        said = [notice.message for notice in app._notifications]
        assert NOT_QUOTED in said, said

    run_index(session, scenario)
