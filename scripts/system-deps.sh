#!/usr/bin/env bash
# System libraries the project needs beyond Python wheels: OSMesa for offscreen
# MuJoCo rendering on machines without a GPU. Installs with apt when missing.
set -euo pipefail
missing=()
for pkg in libosmesa6; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "robot-il: missing ${missing[*]} (needed for offscreen rendering) and no apt-get; install it with your package manager" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "robot-il: run 'apt-get install ${missing[*]}' as root" >&2; exit 1; }
  SUDO="sudo"
fi
echo "robot-il: installing ${missing[*]} with apt-get"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
