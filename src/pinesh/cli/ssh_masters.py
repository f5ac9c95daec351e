"""`pinesh ssh status` and `pinesh ssh stop [HOST]`."""

from __future__ import annotations

from pinesh.cli.output import emit_json, line
from pinesh.config.pinesh_toml import load_settings
from pinesh.transport.masters import MasterInfo, MasterPool


def run_ssh(config: str | None, action: str, host: str | None, as_json: bool = False) -> int:
    pool = MasterPool(load_settings(config).ssh)
    if action == "status":
        masters = pool.status()
        if as_json:
            emit_json({"masters": [_master(m) for m in masters]})
            return 0
        if not masters:
            print("no ssh masters")
        for m in masters:
            state = f"running (pid {m.pid})" if m.running else "not running"
            line(f"{m.label():<32} {state:<22} {m.control_path}")
        return 0
    ended = pool.stop(host)
    status = 1 if host and not ended else 0
    if as_json:
        emit_json({"stopped": [{**_master(m), "was_running": m.running} for m in ended]})
        return status
    if not ended:
        print(f"no ssh master for {host}" if host else "no ssh masters")
    for m in ended:
        line(f"{m.label()}: {'stopped' if m.running else 'was not running'}")
    return status


def _master(m: MasterInfo) -> dict[str, object]:
    return {"label": m.label(), "running": m.running, "pid": m.pid, "control_path": m.control_path}
