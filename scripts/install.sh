#!/usr/bin/env bash
# Installs pinesh on a Debian 12 machine (as root): OpenSSH's client, a virtual
# environment in /opt/pinesh, and the commands pinesh and pinesh-connect in /usr/local/bin.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
need=()
for p in python3 python3-venv openssh-client; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

prefix=${PINESH_PREFIX:-/opt/pinesh}
python3 -m venv "$prefix"
"$prefix/bin/pip" install -q --upgrade pip
"$prefix/bin/pip" install -q .
ln -sf "$prefix/bin/pinesh" /usr/local/bin/pinesh
ln -sf "$prefix/bin/pinesh-connect" /usr/local/bin/pinesh-connect
echo "pinesh installed: $(/usr/local/bin/pinesh --version)"
