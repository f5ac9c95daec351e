from tests.lab.sshd import LabSshd
def test_login(sshd: LabSshd) -> None:
    assert sshd.authentications() >= 1
