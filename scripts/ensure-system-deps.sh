#!/usr/bin/env bash
# Installs the Debian packages the embedded providers need, when missing:
# espeak-ng (TTS), flite (the simulated caller's voice), pocketsphinx + en-us model (STT), sox.
set -euo pipefail
packages=(espeak-ng flite pocketsphinx pocketsphinx-en-us libpocketsphinx-dev sox)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
