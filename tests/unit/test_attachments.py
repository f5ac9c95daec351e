"""Attachment names, atomic saving, and mailcap viewers run without a shell."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from pinesh.services import attachments
from pinesh.services.attachments import (
    MailcapEntry,
    Viewer,
    ViewerError,
    choose_viewer,
    command_argv,
    find_entry,
    mailcap_test_passes,
    parse_mailcap,
    safe_filename,
    save_path,
    temp_name,
    temp_path,
    write_file,
)


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\notes.txt", "notes.txt"),
        (".bashrc", "bashrc"),
        ("...hidden", "hidden"),
        ("a\x1b[2Jb\x07.txt", "a[2Jb.txt"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("  spaced name .doc ", "spaced name .doc"),
        ("dir/", "attachment"),
        ("", "attachment"),
        (None, "attachment"),
    ],
)
def test_safe_filename(name: str | None, safe: str) -> None:
    assert safe_filename(name) == safe


def test_a_long_name_is_cut_keeping_its_extension() -> None:
    name = safe_filename("é" * 300 + ".pdf")
    assert len(name.encode()) <= 200 and name.endswith(".pdf")


def test_save_path_is_under_home_unless_absolute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    assert save_path("~/x.pdf") == Path("/home/someone/x.pdf")
    assert save_path("docs/x.pdf") == Path("/home/someone/docs/x.pdf")
    assert save_path("/tmp/x.pdf") == Path("/tmp/x.pdf")


def test_write_file_is_private_atomic_and_never_clobbers(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    assert write_file(path, [b"one", b"two"]) == 6
    assert path.read_bytes() == b"onetwo" and path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        write_file(path, [b"other"])
    assert path.read_bytes() == b"onetwo"
    assert write_file(path, [b"new"], overwrite=True) == 3
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]  # no temporary left


def test_write_file_cleans_up_when_the_data_fails(tmp_path: Path) -> None:
    def chunks() -> object:
        yield b"start"
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError, match="Input/output"):
        write_file(tmp_path / "x", chunks())  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


MAILCAP = r"""
# a comment
text/plain; less '%s'; needsterminal
image/*; feh %s; test=test -n "$DISPLAY"
image/png; display %s; test=test -n "$DISPLAY"; nametemplate=%s.png
application/pdf; pdftotext %s -; copiousoutput
application/x-tar; tar tvf %s | less; needsterminal
application/x-semi; echo a\;b %s
video; mpv \
  %s
audio/*; play %s; test=test -x /usr/bin/play
broken line without command
"""


def test_parse_mailcap() -> None:
    entries = parse_mailcap(MAILCAP, "mc")
    types = [e.content_type for e in entries]
    assert types == [
        "text/plain",
        "image/*",
        "image/png",
        "application/pdf",
        "application/x-tar",
        "application/x-semi",
        "video/*",
        "audio/*",
    ]
    text, _, png, pdf, _, semi, video, audio = entries
    assert text.needs_terminal and not text.copious_output and text.source == "mc:3"
    assert png.name_template == "%s.png" and png.test == 'test -n "$DISPLAY"'
    assert pdf.copious_output
    assert semi.command == "echo a;b %s"
    assert video.command == "mpv   %s" and video.source == "mc:9"
    assert audio.test == "test -x /usr/bin/play"


def test_find_entry_prefers_exact_types_and_honours_simple_tests() -> None:
    entries = parse_mailcap(MAILCAP)
    with_display = {"DISPLAY": ":0"}
    png = find_entry("image/png", entries, with_display)
    assert png is not None and png.command == "display %s"
    gif = find_entry("IMAGE/GIF", entries, with_display)
    assert gif is not None and gif.command == "feh %s"
    assert find_entry("image/png", entries, {}) is None  # the tests need a display
    assert find_entry("audio/ogg", entries, {}) is None  # a test we cannot run: skipped
    assert find_entry("text/html", entries, {}) is None


def test_mailcap_tests() -> None:
    assert mailcap_test_passes(None, {})
    assert mailcap_test_passes('test -n "$DISPLAY"', {"DISPLAY": ":0"})
    assert not mailcap_test_passes("test -n $DISPLAY", {})
    assert mailcap_test_passes('test -z "${WAYLAND_DISPLAY}"', {})
    assert mailcap_test_passes('test "$TERM"', {"TERM": "xterm"})
    assert mailcap_test_passes("test -x /usr/bin/play", {}) is None
    assert mailcap_test_passes('test -n "$(rm -rf ~)"', {}) is None


def test_command_argv_substitutes_without_a_shell(tmp_path: Path) -> None:
    path = tmp_path / "a file; rm -rf ~.pdf"
    assert command_argv("less '%s'", path, "text/plain") == (("less", str(path)), False)
    assert command_argv("view --type=%t %s", path, "image/png") == (
        ("view", "--type=image/png", str(path)),
        False,
    )
    assert command_argv("cat", path, "text/plain") == (("cat",), True)  # the file on stdin
    assert command_argv("show 100%% %s", path, "x/y")[0] == ("show", "100%", str(path))
    odd = command_argv("view %t", path, "text/plain; rm")[0]
    assert odd == ("view", "application/octet-stream")  # a content type that is not one


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("tar tvf %s | less", "|"),
        ("sh -c 'x' > /tmp/y", ">"),
        ("gunzip -c %s; rm %s", ";"),
        ("xdg-open $HOME/%s", "$"),
        ("run `id` %s", "`"),
        ("a && b %s", "&"),
    ],
)
def test_commands_that_need_a_shell_are_refused(command: str, shown: str, tmp_path: Path) -> None:
    with pytest.raises(ViewerError, match="shell syntax") as caught:
        command_argv(command, tmp_path / "f", "text/plain")
    assert shown in str(caught.value)


def test_choose_viewer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.pdf"
    entry = MailcapEntry("application/pdf", "pdftotext %s -", copious_output=True, source="m:1")
    viewer = choose_viewer("application/pdf", path, entry, {})
    assert viewer == Viewer(("pdftotext", str(path), "-"), None, False, True, "m:1")
    assert not viewer.detached
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/xdg-open")
    opened = choose_viewer("image/png", path, None, {"DISPLAY": ":0"})
    assert opened.argv == ("/usr/bin/xdg-open", str(path)) and opened.detached
    with pytest.raises(ViewerError, match="no viewer for image/png"):
        choose_viewer("image/png", path, None, {})


def test_temp_files_are_private_and_named_safely() -> None:
    entry = MailcapEntry("image/png", "display %s", name_template="%s.png")
    name = temp_name("../my photo;rm.PNG", entry)
    assert name == "my_photo_rm.PNG.png"
    assert temp_name("-rf", None) == "rf"
    path = temp_path(name)
    assert path.name == name and not path.exists()
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_a_copiousoutput_viewer_runs_and_its_output_comes_back(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_bytes(b"line one\nline \x1b[2J two\n")
    for command in ("cat %s", "cat"):  # with %s, and the file on stdin
        entry = MailcapEntry("text/x-test", command, copious_output=True)
        viewer = choose_viewer("text/x-test", data, entry, {})
        assert attachments.run_captured(viewer) == "line one\nline \x1b[2J two\n"


def test_a_terminal_viewer_is_waited_for(tmp_path: Path) -> None:
    target = tmp_path / "copy"
    source = tmp_path / "source"
    source.write_text("hello")
    entry = MailcapEntry("text/x-test", f"cp %s {target}", needs_terminal=True)
    assert attachments.run_waiting(choose_viewer("text/x-test", source, entry, {})) == 0
    assert target.read_text() == "hello"


def test_mailcap_paths_follow_mailcaps(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = tmp_path / "one"
    first.write_text("text/x-a; a %s\n")
    missing = tmp_path / "missing"
    paths = attachments.mailcap_paths({"MAILCAPS": f"{first}:{missing}"})
    assert paths == [first, missing]
    assert [e.command for e in attachments.load_mailcaps(paths)] == ["a %s"]
    monkeypatch.setenv("HOME", str(tmp_path))
    assert attachments.mailcap_paths({}) == [tmp_path / ".mailcap", Path("/etc/mailcap")]
    assert os.environ["HOME"] == str(tmp_path)


def test_a_huge_attachment_name_is_cut_at_once() -> None:
    # Was: cut one character at a time, re-encoding the rest each time: a name of a few
    # hundred kilobytes (a header can hold it) froze the UI for many seconds.
    began = time.monotonic()
    name = safe_filename("a" * 400_000 + ".pdf")
    assert time.monotonic() - began < 1.0
    assert name.endswith(".pdf") and len(name.encode()) <= 200


@pytest.mark.parametrize("hostile", ["-..", "-.", "--..", "-...pdf"])
def test_a_temporary_name_is_never_the_directory_or_its_parent(hostile: str) -> None:
    # Was: "-.." became "..": the viewer's copy was to be written over the directory above.
    name = temp_name(hostile, None)
    assert name not in ("", ".", "..") and not name.startswith((".", "-"))
    path = temp_path(name)
    write_file(path, [b"data"])
    assert path.read_bytes() == b"data"


def test_saving_onto_a_directory_says_so_instead_of_asking_to_overwrite(tmp_path: Path) -> None:
    # Was: FileExistsError, so the screens asked "File ... exists. Overwrite it?", and a
    # yes ended in "Is a directory" anyway.
    (tmp_path / "Downloads").mkdir()
    for overwrite in (False, True):
        with pytest.raises(IsADirectoryError):
            write_file(tmp_path / "Downloads", [b"x"], overwrite=overwrite)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Downloads"]


def test_saving_to_a_directory_puts_the_offered_name_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "Downloads").mkdir()
    assert save_path("~/Downloads", "report.pdf") == tmp_path / "Downloads" / "report.pdf"
    assert save_path("Downloads", "report.pdf") == tmp_path / "Downloads" / "report.pdf"
    assert save_path("~/new-dir/", "report.pdf") == tmp_path / "new-dir" / "report.pdf"
    assert save_path("~/Downloads/mine.pdf", "report.pdf") == tmp_path / "Downloads" / "mine.pdf"
    assert save_path("~/Downloads") == tmp_path / "Downloads"  # no name offered: as typed
