"""The errors pinesh shows to people: each names the thing and says what to do."""

from __future__ import annotations


class PineshError(Exception):
    """An error meant for the user: what went wrong, and what to do about it."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  {self.hint}" if self.hint else self.message


class ConfigError(PineshError):
    """A setting that cannot be used, located by file, line and setting name."""

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        setting: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = file if line is None else f"{file}:{line}"
        what = f"{where}: {setting}: {message}" if setting else f"{where}: {message}"
        super().__init__(what, hint=hint)
        self.file = file
        self.line = line
        self.setting = setting


class CombinedConfigError(ConfigError):
    """Several settings that cannot be used, each on a line of its own, in line order."""

    def __init__(self, errors: list[ConfigError]) -> None:
        ordered = sorted(errors, key=lambda e: (e.line is None, e.line or 0))
        first = ordered[0]
        PineshError.__init__(self, "\n".join(str(e) for e in ordered))
        self.file, self.line, self.setting = first.file, first.line, first.setting
        self.errors = ordered


class UnsafeNameError(PineshError):
    """A host, user or other name that could be misread as an option or holds control bytes."""
