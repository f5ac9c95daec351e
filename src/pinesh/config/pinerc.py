"""Pine's configuration file (~/.pinerc): ``name=value`` lines, as Pine and Alpine write them.

Syntax: ``#`` starts a comment line; a line that starts with white space continues the
previous value (Pine writes long lists that way); values may be double-quoted; list
values are separated by commas outside quotes. Unknown variables are kept. A malformed
line is reported with its file and line, and the rest still loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pinesh.errors import ConfigError


@dataclass(frozen=True)
class PinercValue:
    """One variable as written: its raw text and the line it starts on."""

    name: str
    raw: str
    line: int


@dataclass
class Pinerc:
    """The variables of one pinerc file, and the problems found while reading it."""

    path: str
    values: dict[str, PinercValue] = field(default_factory=dict)
    problems: list[ConfigError] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        """The value of a single-valued variable, unquoted; None when unset or empty."""
        value = self.values.get(name)
        if value is None:
            return None
        text = unquote(value.raw.strip())
        return text or None

    def get_list(self, name: str) -> list[str]:
        """The items of a list variable (comma separated, each unquoted)."""
        value = self.values.get(name)
        return [] if value is None else [unquote(item) for item in split_list(value.raw)]

    def line_of(self, name: str) -> int | None:
        value = self.values.get(name)
        return None if value is None else value.line

    def error(self, name: str, message: str, hint: str | None = None) -> ConfigError:
        """A ConfigError that points at the variable's line."""
        return ConfigError(
            message, file=self.path, line=self.line_of(name), setting=name, hint=hint
        )


def unquote(text: str) -> str:
    """Strip one pair of surrounding double quotes, undoing backslash escapes inside."""
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        body, out, i = text[1:-1], [], 0
        while i < len(body):
            if body[i] == "\\" and i + 1 < len(body):
                i += 1
            out.append(body[i])
            i += 1
        return "".join(out)
    return text


def split_list(raw: str) -> list[str]:
    """Split a list value on commas that are not inside double quotes; drop empty items."""
    items, current, quoted, escaped = [], [], False, False
    for ch in raw:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\" and quoted:
            current.append(ch)
            escaped = True
        elif ch == '"':
            current.append(ch)
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    items.append("".join(current).strip())
    return [item for item in items if item]


def parse_pinerc(text: str, path: str) -> Pinerc:
    """Parse pinerc text; problems are collected, never raised."""
    rc = Pinerc(path)
    last: str | None = None
    # Not str.splitlines(): it also breaks on form feeds and Unicode separators.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, raw_line in enumerate(lines, start=1):
        line = raw_line.removesuffix("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            last = None if not line.strip() else last
            continue
        if line[0] in " \t":
            if last is None:
                rc.problems.append(ConfigError(
                    "a continuation line with no variable before it; it is ignored",
                    file=path, line=number,
                    hint="join it to the line it belongs to, or remove it",
                ))  # fmt: skip
                continue
            prev = rc.values[last]
            rc.values[last] = PinercValue(last, f"{prev.raw}{line.strip()}", prev.line)
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name or any(c.isspace() for c in name):
            rc.problems.append(ConfigError(
                f"not a 'name=value' line: {line[:60]!r}; it is ignored",
                file=path, line=number, hint="fix or remove the line",
            ))  # fmt: skip
            last = None
            continue
        rc.values[name] = PinercValue(name, value.strip(), number)
        last = name
    return rc


def load_pinerc(path: Path, named: bool = False) -> Pinerc:
    """Read and parse a pinerc file; a missing file is an empty config, not an error, and
    a problem when named (-p, $PINERC): a mistyped path must not pass for no settings."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        rc = Pinerc(str(path))
        if named:
            rc.problems.append(
                ConfigError(
                    "there is no such file: no Pine settings are read",
                    file=str(path),
                    hint="check the path given with -p or $PINERC",
                )
            )
        return rc
    except OSError as exc:
        rc = Pinerc(str(path))
        rc.problems.append(ConfigError(f"cannot read it: {exc.strerror}", file=str(path)))
        return rc
    return parse_pinerc(text, str(path))
