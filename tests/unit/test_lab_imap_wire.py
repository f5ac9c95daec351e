"""The lab's IMAP wire log: round trips and commands read from a relay's log."""

from __future__ import annotations

from tests.lab.imap_wire import Chunk, command_names, parse_log, round_trips


def test_a_log_reads_back_as_chunks_and_a_record_cut_short_is_left_out() -> None:
    log = b"S 11\n* PREAUTH \n\nC 9\na1 NOOP\r\n\nS 5\nab"
    assert parse_log(log) == [Chunk("S", b"* PREAUTH \n"), Chunk("C", b"a1 NOOP\r\n")]


def test_pipelined_commands_are_one_round_trip_and_each_wait_another() -> None:
    chunks = [
        Chunk("S", b"* PREAUTH\r\n"),
        Chunk("C", b"a1 SELECT INBOX\r\n"),
        Chunk("C", b"a2 UID SEARCH RETURN (ALL) ALL\r\n"),
        Chunk("S", b"a1 OK\r\na2 OK\r\n"),
        Chunk("C", b"a3 UID FETCH 1:5 (FLAGS)\r\n"),
        Chunk("S", b"a3 OK\r\n"),
    ]
    assert round_trips(chunks) == 2
    assert round_trips([]) == 0


def test_commands_skip_literals_and_idle_done() -> None:
    client = (
        b"a1 APPEND Sent {14}\r\nx1 FAKE LINE\r\n\r\n"
        b"a2 uid copy 1:2 Archive\r\na3 IDLE\r\nDONE\r\na4 LOGOUT\r\n"
    )
    assert command_names(client) == ["APPEND", "UID COPY", "IDLE", "LOGOUT"]
