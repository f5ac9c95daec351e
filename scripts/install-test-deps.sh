#!/usr/bin/env bash
# Installs every system package the test suite needs on a fresh Debian 12 machine (as root).
# Idempotent: safe to run again. Servers are not started here; the test fixtures start
# their own instances on loopback.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

packages=(
  python3 python3-venv python3-pip libpython3.11-testsuite
  openssh-client openssh-server
  dovecot-core dovecot-imapd
  postfix
  inn2
  alpine mutt isync
  tmux iproute2 iptables procps ca-certificates openssl tcpdump
  gnupg gpgsm
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

apt-get update -qq

# Postfix asks a debconf question; answer it ahead ("Local only").
echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
echo "postfix postfix/mailname string pinesh.test" | debconf-set-selections

# INN's post-install fails on a host whose name has no domain: give it one before and
# after unpacking, then let apt finish the configuration.
mkdir -p /etc/news
fix_inn_conf() {
  local conf=/etc/news/inn.conf
  [ -f "$conf" ] || return 0
  grep -q '^domain:[[:space:]]*[^[:space:]]' "$conf" || {
    sed -i '/^domain:/d' "$conf"
    echo 'domain:                 pinesh.test' >>"$conf"
  }
  sed -i 's/^bindaddress6:[[:space:]]*\([^"[:space:]]\+\)[[:space:]]*$/bindaddress6:           "\1"/' "$conf"
}
fix_inn_conf
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  fix_inn_conf
  apt-get -f install -y -qq
fi
fix_inn_conf
dpkg --configure -a
