"""RouteMemory: which route worked, per network, in a JSON file under a lock."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from pinesh.transport import json_state
from pinesh.transport.memory import TIMEOUT_MEMORY, RouteMemory
from pinesh.transport.routes import DirectRoute, Route, Security, SshChannelRoute, SshTarget

KEY = "imap:mail.example.org"
SSH = SshChannelRoute(SshTarget("mail.example.org", "jane"), "localhost", 143)
TLS = DirectRoute("mail.example.org", 993, Security.TLS)
STARTTLS = DirectRoute("mail.example.org", 143, Security.STARTTLS)
ROUTES: list[Route] = [SSH, TLS, STARTTLS]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "routes.json"


@pytest.fixture
def memory(path: Path) -> RouteMemory:
    return RouteMemory(path, "net-home")


def test_nothing_remembered_keeps_the_order(memory: RouteMemory) -> None:
    assert memory.order(KEY, ROUTES) == ROUTES


def test_good_route_moves_first(memory: RouteMemory) -> None:
    memory.record(KEY, STARTTLS, ok=True)
    assert memory.order(KEY, ROUTES) == [STARTTLS, SSH, TLS]


def test_latest_good_route_wins(memory: RouteMemory) -> None:
    memory.record(KEY, STARTTLS, ok=True)
    memory.record(KEY, TLS, ok=True)
    assert memory.order(KEY, ROUTES) == [TLS, SSH, STARTTLS]


def test_timed_out_route_goes_last(memory: RouteMemory) -> None:
    memory.record(KEY, SSH, ok=False, timed_out=True)
    assert memory.order(KEY, ROUTES) == [TLS, STARTTLS, SSH]


def test_several_timed_out_routes_keep_their_relative_order(memory: RouteMemory) -> None:
    memory.record(KEY, TLS, ok=False, timed_out=True)
    memory.record(KEY, SSH, ok=False, timed_out=True)
    assert memory.order(KEY, ROUTES) == [STARTTLS, SSH, TLS]


def test_failure_without_timeout_does_not_demote(memory: RouteMemory) -> None:
    memory.record(KEY, SSH, ok=False)
    assert memory.order(KEY, ROUTES) == ROUTES


def test_failure_forgets_the_good_route(memory: RouteMemory) -> None:
    memory.record(KEY, TLS, ok=True)
    memory.record(KEY, TLS, ok=False)
    assert memory.order(KEY, ROUTES) == ROUTES


def test_failure_of_another_route_keeps_the_good_one(memory: RouteMemory) -> None:
    memory.record(KEY, TLS, ok=True)
    memory.record(KEY, SSH, ok=False, timed_out=True)
    assert memory.order(KEY, ROUTES) == [TLS, STARTTLS, SSH]


def test_success_clears_a_timeout(memory: RouteMemory) -> None:
    memory.record(KEY, SSH, ok=False, timed_out=True)
    memory.record(KEY, SSH, ok=True)
    assert memory.order(KEY, ROUTES) == ROUTES


def test_old_timeout_is_forgotten(memory: RouteMemory, path: Path) -> None:
    memory.record(KEY, SSH, ok=False, timed_out=True)
    data = json.loads(path.read_text())
    data["net-home"][KEY]["timed_out"][SSH.key] = time.time() - TIMEOUT_MEMORY - 60
    path.write_text(json.dumps(data))
    assert memory.order(KEY, ROUTES) == ROUTES


def test_networks_are_separate(path: Path) -> None:
    home, office = RouteMemory(path, "net-home"), RouteMemory(path, "net-office")
    home.record(KEY, SSH, ok=False, timed_out=True)
    office.record(KEY, STARTTLS, ok=True)
    assert home.order(KEY, ROUTES) == [TLS, STARTTLS, SSH]
    assert office.order(KEY, ROUTES) == [STARTTLS, SSH, TLS]
    assert set(json.loads(path.read_text())) == {"net-home", "net-office"}


def test_plans_are_separate(memory: RouteMemory) -> None:
    memory.record("smtp:mail.example.org", TLS, ok=True)
    assert memory.order(KEY, ROUTES) == ROUTES


def test_a_good_route_not_in_the_plan_changes_nothing(memory: RouteMemory) -> None:
    other = DirectRoute("mail.example.org", 1993, Security.TLS)
    memory.record(KEY, other, ok=True)
    assert memory.order(KEY, ROUTES) == ROUTES


def test_memory_survives_a_new_instance(path: Path) -> None:
    RouteMemory(path, "net-home").record(KEY, TLS, ok=True)
    assert RouteMemory(path, "net-home").order(KEY, ROUTES)[0] == TLS


def test_record_creates_a_private_state_directory(memory: RouteMemory, path: Path) -> None:
    memory.record(KEY, TLS, ok=True)
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert json.loads(path.read_text())["net-home"][KEY]["good"] == TLS.key


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b'{"net-home": {"imap:mail.example.org": {"good": ',
        b"\x00\xff\xfe garbage",
        b"[1, 2, 3]",
        b'"just a string"',
        b"null",
    ],
)
def test_corrupt_file_is_treated_as_empty(memory: RouteMemory, path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert memory.order(KEY, ROUTES) == ROUTES
    memory.record(KEY, TLS, ok=True)  # and it is replaced by a valid one
    assert memory.order(KEY, ROUTES)[0] == TLS
    assert isinstance(json.loads(path.read_text()), dict)


@pytest.mark.parametrize(
    "content", [b'{"net-home": []}', b'{"net-home": {"' + KEY.encode() + b'": 5}}']
)
def test_wrong_shape_json_is_treated_as_empty(
    memory: RouteMemory, path: Path, content: bytes
) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    assert memory.order(KEY, ROUTES) == ROUTES
    memory.record(KEY, TLS, ok=True)
    assert memory.order(KEY, ROUTES)[0] == TLS


def test_concurrent_records_leave_valid_json_and_lose_nothing(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lock's correctness, not its deadline: on a loaded machine a writer may wait
    # past LOCK_WAIT (2 s) and drop its hint by design, which would read as a lost update.
    monkeypatch.setattr(json_state, "LOCK_WAIT", 120.0)
    threads_n, per_thread = 8, 25
    errors: list[BaseException] = []
    start = threading.Barrier(threads_n)

    def work(n: int) -> None:
        memory = RouteMemory(path, "net-home")  # each thread its own instance and lock fd
        try:
            start.wait()
            for i in range(per_thread):
                memory.record(f"imap:host{n}-{i}.example.org", TLS, ok=True)
                memory.order(KEY, ROUTES)  # readers never see a half-written file
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    data = json.loads(path.read_text())
    assert len(data["net-home"]) == threads_n * per_thread  # the lock lost no update
    assert all(entry["good"] == TLS.key for entry in data["net-home"].values())


def test_a_cleartext_route_that_worked_is_not_promoted(tmp_path: Path) -> None:
    """One bad moment for TLS must not make a downgrade stick on this network."""
    from pinesh.transport.routes import DirectRoute, Security

    tls = DirectRoute("news.example.org", 563, Security.TLS)
    plain = DirectRoute("news.example.org", 119, Security.PLAIN)
    memory = RouteMemory(tmp_path / "routes.json", "net")
    memory.record("nntp:news.example.org", tls, ok=False)
    memory.record("nntp:news.example.org", plain, ok=True)
    assert memory.order("nntp:news.example.org", [tls, plain]) == [tls, plain]


FORMER = "imap:Mail.Example.org"  # the key older pinesh versions wrote: the host as written


def test_an_entry_under_the_former_key_is_still_read(memory: RouteMemory, path: Path) -> None:
    memory.record(FORMER, STARTTLS, ok=True)
    assert memory.order(KEY, ROUTES) == ROUTES  # not without being told the former key
    assert memory.order(KEY, ROUTES, FORMER) == [STARTTLS, SSH, TLS]


def test_a_write_moves_the_former_entry_to_the_new_key(memory: RouteMemory, path: Path) -> None:
    memory.record(FORMER, STARTTLS, ok=True)
    memory.record(KEY, SSH, ok=False, timed_out=True, former_key=FORMER)
    entries = json.loads(path.read_text())["net-home"]
    assert FORMER not in entries
    assert entries[KEY]["good"] == STARTTLS.key
    assert memory.order(KEY, ROUTES) == [STARTTLS, TLS, SSH]


def test_the_new_key_wins_over_the_former_one(memory: RouteMemory) -> None:
    memory.record(FORMER, STARTTLS, ok=True)
    memory.record(KEY, TLS, ok=True)
    assert memory.order(KEY, ROUTES, FORMER)[0] == TLS
