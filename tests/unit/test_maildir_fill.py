"""The test-lab Maildir filler: layout, flags, determinism, and that every message parses."""

from __future__ import annotations

import hashlib
import mailbox
import os
from collections import Counter
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr
from pathlib import Path

import pytest

from tests.lab.maildir_fill import KINDS, FilledMessage, fill_maildir, main

COUNT = 2000
PARSER = BytesParser(policy=policy.default)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[FilledMessage]]:
    """One 2,000-message fill shared by the read-only tests of this module."""
    root = tmp_path_factory.mktemp("fill") / "Maildir"
    return root, fill_maildir(root, COUNT, seed=1)


def parse(root: Path, message: FilledMessage) -> EmailMessage:
    parsed = PARSER.parsebytes((root / message.filename).read_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def info_of(filename: str) -> tuple[str, str | None]:
    """(subdirectory, Maildir info flags or None) of a relative file name."""
    subdir, _, name = filename.rpartition("/")
    _, sep, info = name.partition(":2,")
    return subdir.rpartition("/")[2], info if sep else None


def test_a_2000_message_fill_completes(filled: tuple[Path, list[FilledMessage]]) -> None:
    root, messages = filled
    assert len(messages) == COUNT
    assert [m.uid_hint for m in messages] == list(range(1, COUNT + 1))
    files = [p for sub in ("cur", "new") for p in (root / sub).iterdir()]
    assert len(files) == COUNT
    assert not list((root / "tmp").iterdir())


def test_files_sizes_dates_and_names(filled: tuple[Path, list[FilledMessage]]) -> None:
    root, messages = filled
    assert len({m.filename for m in messages}) == COUNT
    assert len({m.message_id for m in messages}) == COUNT
    dates = [m.date for m in messages]
    assert dates == sorted(dates)
    assert (dates[-1] - dates[0]).days > 2 * 365  # spread over years
    for m in messages:
        stat = os.stat(root / m.filename)
        assert stat.st_size == m.size
        assert f",S={m.size}," in m.filename
        assert stat.st_mtime == m.date.timestamp()
        assert m.filename.split("/")[1].startswith(f"{int(m.date.timestamp())}.M{m.uid_hint}P1.")


def test_flags_split_cur_and_new(filled: tuple[Path, list[FilledMessage]]) -> None:
    _, messages = filled
    for m in messages:
        subdir, info = info_of(m.filename)
        if m.flags:
            assert subdir == "cur"
            assert info == m.flags
            assert "S" in m.flags
            assert list(m.flags) == sorted(set(m.flags))
            assert set(m.flags) <= set("FRST")
        else:
            assert subdir == "new"
            assert info is None
    read = sum(1 for m in messages if m.flags) / COUNT
    assert 0.72 < read < 0.88
    letters = Counter(letter for m in messages for letter in m.flags)
    assert letters["R"] > COUNT * 0.05
    assert letters["F"] > COUNT * 0.03
    assert 0 < letters["T"] < COUNT * 0.05


def headers_and_parts_without_defects(message: Message) -> list[str]:
    problems: list[str] = []
    for part in message.walk():
        if part.defects:
            problems.append(f"part {part.get_content_type()}: {part.defects}")
        for name, value in part.items():
            defects = getattr(value, "defects", ())
            if defects:
                problems.append(f"header {name}: {defects}")
    return problems


def legacy_sender(raw_from: str) -> str:
    """The From header decoded by the legacy decoder, as "Name <address>"."""
    name, address = parseaddr(str(make_header(decode_header(raw_from))))
    return f"{name} <{address}>" if name else address


def test_every_message_parses_with_its_headers(
    filled: tuple[Path, list[FilledMessage]],
) -> None:
    root, messages = filled
    for m in messages:
        parsed = parse(root, m)
        assert headers_and_parts_without_defects(parsed) == [], m.filename
        assert str(parsed["Subject"]) == m.subject
        assert parsed["Message-ID"] == m.message_id
        assert parsed["MIME-Version"] == "1.0"
        assert parsed["To"]
        date = parsed["Date"].datetime
        assert date == m.date
        assert date.utcoffset() == m.date.utcoffset()
        address = parsed["From"].addresses[0]
        assert address.addr_spec == m.sender.rpartition("<")[2].rstrip(">")
        # CPython 3.11 keeps the space between two adjacent encoded-words in a display
        # name (gh-128110), so compare the modern parser's name without spaces, and the
        # whole sender exactly through the legacy decoder.
        name = m.sender.rpartition(" <")[0] if "<" in m.sender else ""
        assert address.display_name.replace(" ", "") == name.replace(" ", "")
        raw_from = next(value for key, value in parsed.raw_items() if key.lower() == "from")
        assert legacy_sender(raw_from) == m.sender
        for part in parsed.walk():
            if part.get_content_maintype() == "text":
                text = part.get_content()
                assert isinstance(text, str)
                assert text.strip()
                assert "\ufffd" not in text, m.filename


def test_kinds_charsets_and_sizes(filled: tuple[Path, list[FilledMessage]]) -> None:
    root, messages = filled
    kinds = Counter(m.kind for m in messages)
    assert set(kinds) == set(KINDS)
    charsets: set[str] = set()
    encodings: set[str] = set()
    encoded_subjects = 0
    for m in messages:
        raw = (root / m.filename).read_bytes()
        head = raw.partition(b"\n\n")[0]
        assert head.isascii()
        if b"Subject: =?" in head or b"Subject: Re: =?" in head:
            encoded_subjects += 1
        for part in parse(root, m).walk():
            if part.get_content_maintype() == "text":
                charsets.add(str(part.get_content_charset()))
                encodings.add(str(part["Content-Transfer-Encoding"]))
    assert {"us-ascii", "utf-8", "iso-8859-1", "koi8-r", "shift_jis", "iso-2022-jp"} <= charsets
    assert {"7bit", "8bit", "quoted-printable", "base64"} <= encodings
    assert encoded_subjects > COUNT * 0.1
    assert any(not m.subject.isascii() for m in messages)
    assert any(not m.sender.isascii() for m in messages)
    sizes = [m.size for m in messages]
    assert sum(1 for s in sizes if 1000 <= s <= 8192) > COUNT * 0.8
    assert any(s > 100_000 for s in sizes)
    assert all(m.size > 100_000 for m in messages if m.kind == "large")


def test_html_messages_are_multipart_alternative(
    filled: tuple[Path, list[FilledMessage]],
) -> None:
    root, messages = filled
    for m in messages:
        if m.kind == "html":
            parsed = parse(root, m)
            assert parsed.get_content_type() == "multipart/alternative"
            types = [part.get_content_type() for part in parsed.iter_parts()]
            assert types == ["text/plain", "text/html"]
            body = parsed.get_body(("html",))
            assert body is not None
            assert "<p>" in body.get_content()


def test_threads_point_at_earlier_messages(filled: tuple[Path, list[FilledMessage]]) -> None:
    root, messages = filled
    position = {m.message_id: i for i, m in enumerate(messages)}
    replies = [m for m in messages if m.kind == "reply"]
    assert len(replies) > COUNT * 0.1
    deep = 0
    for index, m in enumerate(messages):
        parsed = parse(root, m)
        if m.kind != "reply":
            assert m.in_reply_to is None
            assert parsed["In-Reply-To"] is None
            continue
        assert m.in_reply_to is not None
        assert position[m.in_reply_to] < index
        assert parsed["In-Reply-To"] == m.in_reply_to
        references = str(parsed["References"]).split()
        assert references[-1] == m.in_reply_to
        assert all(position[ref] < index for ref in references)
        assert m.subject.startswith("Re: ")
        assert not m.subject.startswith("Re: Re: ")
        parent = messages[position[m.in_reply_to]]
        assert m.subject == "Re: " + parent.subject.removeprefix("Re: ")
        deep += len(references) > 1
    assert deep > 0  # replies to replies


def test_attachments_decode_to_the_bytes_written(
    filled: tuple[Path, list[FilledMessage]],
) -> None:
    root, messages = filled
    with_attachment = [m for m in messages if m.attachment_name is not None]
    assert len(with_attachment) > COUNT * 0.05
    names = {m.attachment_name for m in with_attachment}
    assert any(name is not None and not name.isascii() for name in names)
    continued = 0
    for m in with_attachment:
        parsed = parse(root, m)
        assert parsed.get_content_type() == "multipart/mixed"
        attachments = list(parsed.iter_attachments())
        assert len(attachments) == 1
        (attachment,) = attachments
        assert isinstance(attachment, EmailMessage)
        assert attachment.get_filename() == m.attachment_name
        assert attachment["Content-Transfer-Encoding"] == "base64"
        data = attachment.get_content()
        assert isinstance(data, bytes)
        assert hashlib.sha256(data).hexdigest() == m.attachment_sha256
        if b"filename*1*=" in (root / m.filename).read_bytes():
            continued += 1
    assert continued > 0  # some RFC 2231 file names come in continued pieces
    for m in messages:
        if m.attachment_name is None:
            assert m.attachment_sha256 is None


def test_stdlib_mailbox_sees_the_count_and_flags(
    filled: tuple[Path, list[FilledMessage]],
) -> None:
    root, messages = filled
    box = mailbox.Maildir(root, create=False)
    assert len(box) == COUNT
    expected = {Path(m.filename).name.partition(":")[0]: m for m in messages}
    assert set(box.keys()) == set(expected)
    for key, message in box.iteritems():
        m = expected[key]
        assert message.get_flags() == m.flags
        assert message.get_subdir() == ("cur" if m.flags else "new")
        assert message["Message-ID"] == m.message_id
    assert box.list_folders() == []


def test_fill_is_deterministic_per_seed(tmp_path: Path) -> None:
    first = fill_maildir(tmp_path / "a", 300, seed=5)
    again = fill_maildir(tmp_path / "b", 300, seed=5)
    other = fill_maildir(tmp_path / "c", 300, seed=6)
    assert first == again
    for m in first:
        assert (tmp_path / "a" / m.filename).read_bytes() == (
            tmp_path / "b" / m.filename
        ).read_bytes()
    assert [m.message_id for m in first] != [m.message_id for m in other]
    assert [m.subject for m in first] != [m.subject for m in other]


def test_folder_is_a_maildir_plus_plus_subfolder(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    inbox = fill_maildir(root, 50, seed=1)
    archive = fill_maildir(root, 200, seed=1, folder="Archive")
    assert (root / ".Archive" / "maildirfolder").is_file()
    for sub in ("cur", "new", "tmp"):
        assert (root / sub).is_dir()
        assert (root / ".Archive" / sub).is_dir()
    assert all(m.filename.startswith(".Archive/") for m in archive)
    assert all((root / m.filename).is_file() for m in archive)
    # the same seed gives another mailbox's messages in another folder
    assert not {m.message_id for m in inbox} & {m.message_id for m in archive}
    box = mailbox.Maildir(root, create=False)
    assert box.list_folders() == ["Archive"]
    assert len(box) == 50
    folder = box.get_folder("Archive")
    assert len(folder) == 200
    flags = {Path(m.filename).name.partition(":")[0]: m.flags for m in archive}
    assert {key: message.get_flags() for key, message in folder.iteritems()} == flags


def test_a_second_fill_of_the_same_folder_and_seed_refuses(tmp_path: Path) -> None:
    fill_maildir(tmp_path, 5, seed=3)
    with pytest.raises(FileExistsError):
        fill_maildir(tmp_path, 5, seed=3)
    assert len(fill_maildir(tmp_path, 5, seed=4)) == 5


def test_empty_fill_makes_the_maildir(tmp_path: Path) -> None:
    assert fill_maildir(tmp_path / "m", 0) == []
    assert all((tmp_path / "m" / sub).is_dir() for sub in ("cur", "new", "tmp"))


@pytest.mark.parametrize("folder", ["", ".Hidden", "a/b", "Trailing.", "a..b", "März"])
def test_bad_folder_names_are_refused(tmp_path: Path, folder: str) -> None:
    with pytest.raises(ValueError, match="folder"):
        fill_maildir(tmp_path, 1, folder=folder)


def test_negative_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="count"):
        fill_maildir(tmp_path, -1)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "box"), "40", "--seed", "9", "--folder", "Lists.python"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("40 messages, ")
    folder = tmp_path / "box" / ".Lists.python"
    assert sum(1 for sub in ("cur", "new") for _ in (folder / sub).iterdir()) == 40
