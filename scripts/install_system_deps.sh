#!/usr/bin/env bash
# Install the Debian packages emorl uses (speech synthesis for the simulated user,
# PortAudio for the microphone) when they are missing and we may: as root with apt-get.
set -u
packages=(espeak-ng libportaudio2)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { echo "warning: apt-get could not install ${missing[*]}; speech synthesis and the microphone need them" >&2; exit 0; }
else
  echo "skipping system packages ${missing[*]}: not root or no apt-get." \
       "Install them with: sudo apt-get install ${missing[*]}" >&2
fi
