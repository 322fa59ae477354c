#!/usr/bin/env bash
# System libraries the project needs beyond Python wheels, installed with apt when missing:
# - OSMesa, for offscreen MuJoCo rendering on machines without a GPU;
# - the X11 (xcb) libraries that Qt's platform plugin loads for the recording window and PySide6's wheel
#   does not ship (without them Qt aborts on a desktop; robot_il/record/gui.py names any that are missing);
# - Xvfb, the X server the recording window's test runs it under.
# Quick when all are installed (one dpkg query each, no apt).
set -euo pipefail
packages=(
  libosmesa6
  libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
  libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0
  xvfb
)
missing=()
for pkg in "${packages[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "robot-il: missing ${missing[*]} (offscreen rendering, the recording window) and no apt-get; install them with your package manager" >&2
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
