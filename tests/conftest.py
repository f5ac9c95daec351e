"""Session fixtures of the test lab: real servers on loopback, started once, stopped at the end.

Each server's fixtures live in its own plugin module under tests/lab/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.common import LabError, LabUser, ensure_lab_user, lab_failure, make_lab_dir
from tests.lab.sshd import LabSshd, check_login, start_sshd

pytest_plugins = [
    "tests.lab.fixtures_dovecot",
    "tests.lab.fixtures_mail_news",
    "tests.lab.fixtures_netlab",
]


@pytest.fixture(autouse=True)
def private_header_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each test's own $XDG_CACHE_HOME: the IMAP header cache is on by default, and a
    cache left warm by another test (or by the user's own pinesh) changes what goes on
    the wire. Tests that want a warm cache fill their own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.fixture(scope="session")
def lab_user() -> LabUser:
    try:
        return ensure_lab_user()
    except LabError as exc:
        lab_failure(exc)
        raise


@pytest.fixture(scope="session")
def sshd(lab_user: LabUser) -> Iterator[LabSshd]:
    try:
        lab = start_sshd(lab_user, make_lab_dir("sshd"))
        check_login(lab)
    except LabError as exc:
        lab_failure(exc)
        raise
    yield lab
    lab.stop()
