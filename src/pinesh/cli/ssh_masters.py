"""`pinesh ssh status` and `pinesh ssh stop [HOST]`."""

from __future__ import annotations

from pinesh.config.pinesh_toml import load_settings
from pinesh.transport.masters import MasterPool


def run_ssh(config: str | None, action: str, host: str | None) -> int:
    pool = MasterPool(load_settings(config).ssh)
    if action == "status":
        masters = pool.status()
        if not masters:
            print("no ssh masters")
        for m in masters:
            state = f"running (pid {m.pid})" if m.running else "not running"
            print(f"{m.label():<32} {state:<22} {m.control_path}")
        return 0
    ended = pool.stop(host)
    if not ended:
        print(f"no ssh master for {host}" if host else "no ssh masters")
        return 1 if host else 0
    for m in ended:
        print(f"{m.label()}: {'stopped' if m.running else 'was not running'}")
    return 0
