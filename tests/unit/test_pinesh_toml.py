"""pinesh's own TOML config: parsing, errors with file/line/setting, rule matching, location."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinesh.config.pinesh_toml import (
    load_settings,
    matching_rule,
    parse_settings,
)
from pinesh.config.settings import DirectCondition, ForwardSpec, Rule, Settings, Via
from pinesh.errors import ConfigError

FILE = "/home/jane/.config/pinesh/config.toml"

FULL = """\
# pinesh config
open_timeout = 20
state_dir = "/var/tmp/pinesh-state"

[ssh]
path = "/usr/bin/ssh"
persist = 300
options = ["-F", "/home/jane/.ssh/config-mail"]
control_dir = "/run/user/1000/pinesh"
quiet = false
forward_agent = false
forward_x11 = false

[[rule]]
servers = ["mail.example.org"]
services = ["imap"]
user = "jane"
imap_command = ["/usr/lib/dovecot/imap"]
fallback = ["tls"]
direct_when = { domain = "office.example.org" }
ca_file = "/etc/ssl/certs/example-ca.pem"
open_timeout = 7.5

[[rule]]
servers = ["*.isp.example"]
services = "smtp nntp"
login = "shell.isp.example"
user = "jane"
ssh_port = 2222
ssh_options = "-o Compression=yes"
ports = { smtp = 587, nntp = 119 }
fallback = []
verify = false
fingerprint = "SHA256:AbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAb"

[[rule]]
servers = "news.example.org"
via = "direct"
fallback = ["starttls:119", "tls"]
target = "10.0.0.5"
direct_when = { reachable = "news.example.org:119" }

[[forward]]
server = "SMTP.isp.example"
service = "smtp"
listen = 2025

[[forward]]
server = "news.isp.example"
service = "nntp"
listen = "~/.cache/pinesh/nntp.sock"
"""


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line number of the occurrence-th line containing needle."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in the text")


def config_error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, FILE)
    return info.value


# --- a full example ------------------------------------------------------------------------


@pytest.fixture
def full() -> Settings:
    return parse_settings(FULL, FILE)


def test_top_level(full: Settings) -> None:
    assert full.open_timeout == 20.0
    assert full.state_dir == Path("/var/tmp/pinesh-state")
    assert full.source == Path(FILE)


def test_ssh_table(full: Settings) -> None:
    ssh = full.ssh
    assert ssh.path == "/usr/bin/ssh"
    assert ssh.persist == 300
    assert ssh.options == ("-F", "/home/jane/.ssh/config-mail")
    assert ssh.control_dir == Path("/run/user/1000/pinesh")
    assert ssh.quiet is False
    assert ssh.forward_agent is False
    assert ssh.forward_x11 is False


def test_first_rule(full: Settings) -> None:
    rule = full.rules[0]
    assert rule.servers == ("mail.example.org",)
    assert rule.services == ("imap",)
    assert rule.via is Via.SSH
    assert rule.login_user == "jane"
    assert rule.login is None
    assert rule.imap_command == ("/usr/lib/dovecot/imap",)
    assert rule.fallback == ("tls",)
    assert rule.direct_when == DirectCondition(domain="office.example.org")
    assert rule.ca_file == "/etc/ssl/certs/example-ca.pem"
    assert rule.open_timeout == 7.5
    assert rule.verify is True
    assert rule.line == line_of(FULL, "[[rule]]", 1)


def test_second_rule_with_strings_split_into_words(full: Settings) -> None:
    rule = full.rules[1]
    assert rule.servers == ("*.isp.example",)
    assert rule.services == ("smtp", "nntp")
    assert rule.login == "shell.isp.example"
    assert rule.ssh_port == 2222
    assert rule.ssh_options == ("-o", "Compression=yes")
    assert rule.ports == {"smtp": 587, "nntp": 119}
    assert rule.fallback == ()  # an empty list means no direct route at all
    assert rule.verify is False
    assert rule.fingerprint == "ab" * 32  # normalized: lowercase hex, no colons
    assert rule.imap_command is None
    assert rule.line == line_of(FULL, "[[rule]]", 2)


def test_third_rule(full: Settings) -> None:
    rule = full.rules[2]
    assert rule.servers == ("news.example.org",)
    assert rule.services == ()  # every service
    assert rule.via is Via.DIRECT
    assert rule.fallback == ("starttls:119", "tls")
    assert rule.target_host == "10.0.0.5"
    assert rule.direct_when == DirectCondition(reachable="news.example.org:119")
    assert rule.line == line_of(FULL, "[[rule]]", 3)


def test_forwards(full: Settings) -> None:
    assert full.forwards == (
        ForwardSpec("smtp.isp.example", "smtp", "2025", line=line_of(FULL, "[[forward]]", 1)),
        ForwardSpec(
            "news.isp.example",
            "nntp",
            "~/.cache/pinesh/nntp.sock",
            line=line_of(FULL, "[[forward]]", 2),
        ),
    )


def test_empty_file_gives_defaults() -> None:
    settings = parse_settings("", FILE)
    assert settings == Settings(source=Path(FILE))


def test_rule_defaults() -> None:
    rule = parse_settings('[[rule]]\nservers = ["h"]\n', FILE).rules[0]
    assert rule == Rule(servers=("h",), line=1)
    assert rule.fallback == ("tls",)  # unset fallback: verified TLS, never plain
    assert rule.via is Via.SSH


def test_private_hop_is_the_users_word_and_off_unless_said() -> None:
    text = '[[rule]]\nservers = ["mail.example.org"]\nlogin = "shell"\nprivate_hop = true\n'
    assert parse_settings(text, FILE).rules[0].private_hop is True
    assert parse_settings('[[rule]]\nservers = ["h"]\n', FILE).rules[0].private_hop is False


def test_server_names_are_lowercased() -> None:
    rule = parse_settings('[[rule]]\nservers = ["Mail.Example.ORG"]\n', FILE).rules[0]
    assert rule.servers == ("mail.example.org",)


def test_singular_server_key() -> None:
    rule = parse_settings('[[rule]]\nserver = "mail.example.org"\n', FILE).rules[0]
    assert rule.servers == ("mail.example.org",)


# --- errors: file, line, setting -----------------------------------------------------------


def test_ssh_persist_negative() -> None:
    text = "open_timeout = 10\n\n[ssh]\npath = 'ssh'\npersist = -1\n"
    error = config_error(text)
    assert (error.file, error.line, error.setting) == (FILE, 5, "ssh.persist")
    assert str(error).startswith(f"{FILE}:5: ssh.persist: ")


def test_unknown_via_in_the_second_rule() -> None:
    text = (
        '[[rule]]\nservers = ["a.example"]\n\n'
        '[[rule]]\nservers = ["b.example"]\nvia = "carrier-pigeon"\n'
    )
    error = config_error(text)
    assert (error.line, error.setting) == (6, "rule[2].via")
    assert "carrier-pigeon" in str(error)
    assert error.hint is not None and "ssh or direct" in error.hint


def test_unknown_key_in_a_rule() -> None:
    text = '[[rule]]\nservers = ["a"]\nlogn = "shell.example"\n'
    error = config_error(text)
    assert (error.line, error.setting) == (3, "rule[1].logn")
    assert "unknown setting" in str(error)


def test_unknown_top_level_key() -> None:
    error = config_error('open_timeout = 5\ncolour = "blue"\n')
    assert (error.line, error.setting) == (2, "colour")


def test_unknown_key_in_ssh() -> None:
    error = config_error("[ssh]\npersist = 5\nmultiplex = true\n")
    assert (error.line, error.setting) == (3, "ssh.multiplex")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("login", '"-oProxyCommand=sh"'),
        ("login", '"shell example"'),
        ("user", '"-oProxyCommand=sh"'),
        ("user", '"jane;id"'),
        ("target", '"-oProxyCommand=sh"'),
        ("servers", '["-oProxyCommand=sh"]'),
        ("servers", '["mail example.org"]'),
    ],
)
def test_hostile_names_in_a_rule(key: str, value: str) -> None:
    text = f'# rules\n[[rule]]\nservers = ["mail.example.org"]\n{key} = {value}\n'
    if key == "servers":
        text = f"# rules\n[[rule]]\nservers = {value}\n"
    error = config_error(text)
    assert error.setting == f"rule[1].{key}"
    assert error.line == line_of(text, f"{key} =")
    assert error.file == FILE


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("login", "-oProxyCommand=sh*"),
        ("user", "-oProxyCommand=[x]"),
        ("target", "-oProxyCommand=?"),
    ],
)
def test_glob_characters_do_not_skip_name_checks(key: str, value: str) -> None:
    error = config_error(f'[[rule]]\nservers = ["a"]\n{key} = "{value}"\n')
    assert error.setting == f"rule[1].{key}"


def test_server_globs_are_allowed() -> None:
    rule = parse_settings('[[rule]]\nservers = ["*.example.org", "mail?", "[ab]x"]\n', FILE)
    assert rule.rules[0].servers == ("*.example.org", "mail?", "[ab]x")


@pytest.mark.parametrize(
    "fallback",
    ['["carrier-pigeon"]', '["tls:abc"]', '["TLS"]', '["ssl"]', '"tls starttls:x"'],
)
def test_bad_fallback(fallback: str) -> None:
    text = f'[[rule]]\nservers = ["a"]\n\nfallback = {fallback}\n'
    error = config_error(text)
    assert (error.line, error.setting) == (4, "rule[1].fallback")
    assert error.hint is not None and "starttls" in error.hint


@pytest.mark.parametrize("fallback", ['["tls:993"]', '["starttls:143", "plain:1143"]', '"tls"'])
def test_good_fallback(fallback: str) -> None:
    rule = parse_settings(f'[[rule]]\nservers = ["a"]\nfallback = {fallback}\n', FILE).rules[0]
    assert rule.fallback


@pytest.mark.parametrize("fallback", ["tls:0", "tls:99999", "starttls:²"])
def test_fallback_port_out_of_range(fallback: str) -> None:
    error = config_error(f'[[rule]]\nservers = ["a"]\nfallback = ["{fallback}"]\n')
    assert (error.line, error.setting) == (3, "rule[1].fallback")


def test_toml_syntax_error_names_the_line() -> None:
    text = '# ok\nopen_timeout = 5\nstate_dir = "/tmp\n'
    error = config_error(text)
    assert error.file == FILE
    assert error.line == 3
    assert "not valid TOML" in str(error)


@pytest.mark.parametrize(
    ("text", "line", "setting", "message"),
    [
        ("open_timeout = 0\n", 1, "open_timeout", "more than 0"),
        ("open_timeout = -3\n", 1, "open_timeout", "more than 0"),
        ('open_timeout = "15"\n', 1, "open_timeout", "expected a number"),
        ("open_timeout = true\n", 1, "open_timeout", "got a boolean"),
        ('# x\nssh = "fast"\n', 2, "ssh", "expected a table"),
        ("[ssh]\npersist = true\n", 2, "ssh.persist", "got a boolean"),
        ("[ssh]\npersist = 1.5\n", 2, "ssh.persist", "expected a number"),
        ("[ssh]\nquiet = 1\n", 2, "ssh.quiet", "expected true or false"),
        ("[ssh]\noptions = [1, 2]\n", 2, "ssh.options", "list of strings"),
        ('[[rule]]\nservers = ["a"]\nservices = ["pop3"]\n', 3, "rule[1].services", "pop3"),
        ('[[rule]]\nservers = ["a"]\nssh_port = 0\n', 3, "rule[1].ssh_port", "TCP port"),
        ('[[rule]]\nservers = ["a"]\nssh_port = 70000\n', 3, "rule[1].ssh_port", "TCP port"),
        ('[[rule]]\nservers = ["a"]\nports = { pop3 = 110 }\n', 3, "rule[1].ports", "pop3"),
        ('[[rule]]\nservers = ["a"]\nports = { smtp = 0 }\n', 3, "rule[1].ports", "smtp"),
        ('[[rule]]\nservers = ["a"]\nports = { smtp = "25" }\n', 3, "rule[1].ports", "smtp"),
        (
            '[[rule]]\nservers = ["a"]\ndirect_when = { network = "x" }\n',
            3,
            "rule[1].direct_when",
            "network",
        ),
        ('[[rule]]\nservers = ["a"]\nverify = "no"\n', 3, "rule[1].verify", "true or false"),
        (
            '[[rule]]\nservers = ["a"]\nprivate_hop = "yes"\n',
            3,
            "rule[1].private_hop",
            "true or false",
        ),
    ],
)
def test_setting_errors(text: str, line: int, setting: str, message: str) -> None:
    error = config_error(text)
    assert (error.file, error.line, error.setting) == (FILE, line, setting)
    assert message in str(error)


def test_rule_without_servers_points_at_the_rule() -> None:
    text = 'open_timeout = 5\n\n[[rule]]\nservices = ["imap"]\n'
    error = config_error(text)
    assert (error.line, error.setting) == (3, "rule[1]")
    assert "servers" in str(error)


def test_forward_without_listen_takes_the_default_socket() -> None:
    settings = parse_settings('[[forward]]\nserver = "s"\nservice = "smtp"\n', "c.toml")
    assert settings.forwards[0].listen is None


def test_forward_missing_service() -> None:
    text = '[[forward]]\nserver = "s"\nlisten = 2025\n'
    error = config_error(text)
    assert (error.line, error.setting) == (1, "forward[1]")


def test_forward_unknown_service() -> None:
    text = '[[forward]]\nserver = "s"\nservice = "pop3"\nlisten = 2110\n'
    error = config_error(text)
    assert (error.line, error.setting) == (3, "forward[1].service")


def test_error_in_the_second_forward_names_it() -> None:
    text = (
        '[[forward]]\nserver = "s"\nservice = "smtp"\nlisten = 2025\n\n'
        '[[forward]]\nserver = "n"\nservice = "nntp"\nlisten = 2119\nport = 1\n'
    )
    error = config_error(text)
    assert (error.line, error.setting) == (10, "forward[2].port")


def test_rule_that_is_not_a_table() -> None:
    error = config_error('rule = ["mail.example.org"]\n')
    assert error.setting is not None and error.setting.startswith("rule")


def test_rule_open_timeout_must_be_positive() -> None:
    error = config_error('[[rule]]\nservers = ["a"]\nopen_timeout = -1\n')
    assert (error.line, error.setting) == (3, "rule[1].open_timeout")


def test_direct_when_domain_must_be_a_string() -> None:
    error = config_error('[[rule]]\nservers = ["a"]\ndirect_when = { domain = 5 }\n')
    assert error.setting == "rule[1].direct_when"


# --- matching_rule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "service", "index"),
    [
        ("mail.example.org", "imap", 0),
        ("MAIL.EXAMPLE.ORG", "imap", 0),  # names match without case
        ("mail.example.org", "smtp", None),  # rule 1 covers imap only
        ("smtp.isp.example", "smtp", 1),
        ("news.isp.example", "nntp", 1),
        ("smtp.isp.example", "imap", None),
        ("isp.example", "smtp", None),  # '*.' needs a label before the domain
        ("news.example.org", "imap", 2),  # no services: every service
        ("news.example.org", "nntp", 2),
        ("other.example.org", "imap", None),
    ],
)
def test_matching_rule(full: Settings, server: str, service: str, index: int | None) -> None:
    rule = matching_rule(full, server, service)
    if index is None:
        assert rule is None
    else:
        assert rule is full.rules[index]


def test_first_matching_rule_wins() -> None:
    settings = parse_settings(
        '[[rule]]\nservers = ["mail.*"]\nlogin = "first"\n\n'
        '[[rule]]\nservers = ["*"]\nlogin = "second"\n',
        FILE,
    )
    rule = matching_rule(settings, "mail.example.org", "imap")
    assert rule is not None and rule.login == "first"
    rule = matching_rule(settings, "news.example.org", "nntp")
    assert rule is not None and rule.login == "second"


def test_glob_classes_and_question_marks() -> None:
    settings = parse_settings('[[rule]]\nservers = ["mail[12].example.org", "n?"]\n', FILE)
    assert matching_rule(settings, "mail1.example.org", "imap") is not None
    assert matching_rule(settings, "mail3.example.org", "imap") is None
    assert matching_rule(settings, "nx", "imap") is not None
    assert matching_rule(settings, "nxx", "imap") is None


def test_no_rules_no_match() -> None:
    assert matching_rule(Settings(), "mail.example.org", "imap") is None


# --- where the config file is --------------------------------------------------------------


# --- load_settings -------------------------------------------------------------------------


def test_missing_default_file_gives_defaults(clean_env: Path) -> None:
    assert load_settings() == Settings()


def test_missing_named_file_is_an_error(clean_env: Path) -> None:
    missing = clean_env / "nope.toml"
    with pytest.raises(ConfigError, match="no such file") as info:
        load_settings(str(missing))
    assert info.value.file == str(missing)


def test_missing_env_file_is_an_error(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = clean_env / "env-nope.toml"
    monkeypatch.setenv("PINESH_CONFIG", str(missing))
    with pytest.raises(ConfigError, match="no such file") as info:
        load_settings()
    assert info.value.file == str(missing)


def test_load_default_file(clean_env: Path) -> None:
    path = clean_env / "xdg" / "pinesh" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text("open_timeout = 9\n", encoding="utf-8")
    settings = load_settings()
    assert settings.open_timeout == 9.0
    assert settings.source == path


def test_load_named_file_over_env(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    named, env = clean_env / "named.toml", clean_env / "env.toml"
    named.write_text("open_timeout = 1\n", encoding="utf-8")
    env.write_text("open_timeout = 2\n", encoding="utf-8")
    monkeypatch.setenv("PINESH_CONFIG", str(env))
    assert load_settings(str(named)).open_timeout == 1.0
    assert load_settings().open_timeout == 2.0


def test_load_errors_name_the_real_file(clean_env: Path) -> None:
    path = clean_env / "bad.toml"
    path.write_text("[ssh]\npersist = -5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(str(path))
    assert (info.value.file, info.value.line) == (str(path), 2)


def test_unreadable_named_file_is_a_config_error(clean_env: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        load_settings(str(clean_env))  # a directory


def test_a_bad_fingerprint_is_a_config_error_at_its_line() -> None:
    text = '[[rule]]\nservers = ["x"]\nfingerprint = "ab12"\n'
    with pytest.raises(ConfigError) as failure:
        parse_settings(text, "c.toml")
    assert failure.value.line == 3
    assert failure.value.setting == "rule[1].fingerprint"


def test_control_characters_in_imap_command_are_a_config_error() -> None:
    text = '[[rule]]\nservers = ["x"]\nimap_command = ["/usr/lib/dovecot/imap\\u0000"]\n'
    with pytest.raises(ConfigError, match="control characters") as failure:
        parse_settings(text, "c.toml")
    assert failure.value.line == 3


def test_the_header_cache_is_on_by_default_in_the_xdg_cache_directory() -> None:
    settings = parse_settings("", "c.toml")
    assert settings.cache.enabled and settings.cache.directory is None
    assert settings.cache.bodies_mb == 64


def test_the_cache_table_sets_its_directory_size_and_switch() -> None:
    settings = parse_settings(
        '[cache]\nenabled = false\ndir = "~/cachehere"\nbodies_mb = 0\n', "c.toml"
    )
    assert not settings.cache.enabled
    assert settings.cache.directory == Path("~/cachehere").expanduser()
    assert settings.cache.bodies_mb == 0


def test_a_negative_cache_size_is_refused_with_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings("\n[cache]\nbodies_mb = -1\n", "c.toml")
    assert caught.value.line == 3 and "bodies_mb" in str(caught.value)


def test_every_error_of_the_file_is_told_at_once_in_line_order() -> None:
    text = """\
open_timeout = -1
[cache]
bodies_mb = -3

[[rule]]
servers = ["a"]
via = "carrier-pigeon"

[[rule]]
servers = ["b"]
[client]
server_idle = 0
"""
    with pytest.raises(ConfigError) as info:
        parse_settings(text, "config.toml")
    lines = str(info.value).splitlines()
    told = [line for line in lines if line.startswith("config.toml:")]
    assert [t.split(":")[1] for t in told] == ["1", "3", "7", "12"]
    assert "open_timeout" in told[0] and "bodies_mb" in told[1]
    assert "carrier-pigeon" in told[2] and "server_idle" in told[3]


def test_one_error_is_told_as_before() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings("open_timeout = 0\n", "config.toml")
    assert str(info.value) == "config.toml:1: open_timeout: must be more than 0 seconds"


def test_seal_rules_by_recipient_and_domain() -> None:
    text = (
        "[[seal]]\n"
        'recipients = ["Bob@Example.org", "@corp.example"]\n'
        "sign = true\nencrypt = true\n"
        '[[seal]]\nrecipients = "@bank.example"\nsign = true\nsmime = true\n'
    )
    first, second = parse_settings(text, FILE).seals
    assert first.recipients == ("bob@example.org", "@corp.example")
    assert (first.sign, first.encrypt, first.smime, first.line) == (True, True, False, 1)
    assert (second.recipients, second.smime, second.line) == (("@bank.example",), True, 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[seal]]\nsign = true\n", "a seal needs recipients"),
        ('[[seal]]\nrecipients = ["bob"]\n', "'bob' is not an address or @domain"),
        ('[[seal]]\nrecipients = ["@x.example"]\nsign = "yes"\n', "expected true or false"),
        ('[[seal]]\nrecipients = ["@x.example"]\nsing = true\n', "unknown setting"),
    ],
)
def test_a_wrong_seal_rule_is_named(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        parse_settings(text, FILE)
    assert raised.value.setting is not None and raised.value.setting.startswith("seal[1]")
