#!/usr/bin/env bash
# Install the Debian packages that Khiên's build, tests, fuzzing and benchmarks need.
# Idempotent: packages already present are left alone; apt is asked only when something is missing.
# Run as root on Debian 12 (bookworm). Set KH_DEPS_MINIMAL=1 for the build-only set.
set -euo pipefail

build_pkgs=(
  build-essential cmake pkg-config git
  libvectorscan-dev     # Vectorscan: multi-pattern body signature matching (<hs/hs.h>)
  libarchive-dev        # containers: zip, 7z, rar, cab, tar, cpio, iso9660, lha, gz, bz2, xz, zstd
  libmspack-dev         # CHM (Microsoft Compiled HTML Help): its LZX decompressor
  libssl-dev            # hashes (EVP), later TLS and X.509
  libjansson-dev        # JSON output and records (quarantine)
  libyara-dev           # YARA rules (issue 7)
  libsodium-dev         # Ed25519 package signatures (issue 3)
  libsqlite3-dev        # embedded storage
  libcurl4-openssl-dev  # update client: mirrors over HTTP(S), proxies, resume
  libmicrohttpd-dev     # khien server: mirror, console API and web console
  libpq-dev             # console storage on PostgreSQL, for scale
  libidn2-dev           # dns: IDNA (punycode) names
  libpsl-dev            # dns: registrable domain from the Public Suffix List
  zlib1g-dev            # OLE2: PowerPoint embedded objects (zlib-compressed ExOleObjStg);
                        # PDF FlateDecode streams (bare zlib, which libarchive does not read);
                        # installers (NSIS, InstallShield, SIS)
  liblzma-dev           # NSIS installers and UPX-packed PEs compressed with LZMA (raw LZMA1)
  libfstrm-dev          # dns: dnstap input, Frame Streams control frames (files and sockets)
  libprotobuf-c-dev protobuf-c-compiler  # dns: dnstap protobuf payload; protoc-c at build time
)
test_pkgs=(
  clang libclang-rt-14-dev   # libFuzzer + ASan/UBSan runtimes
  libcmocka-dev              # unit tests
  libarchive-tools           # bsdtar: tests build archives of every format
  clamav-testfiles           # ClamAV's test corpus (clam.exe in 44 containers)
  clamav yara                # peers for bench/ (clamscan, yara)
  python3 zip gzip bzip2 xz-utils zstd lzma
  openssl                    # tests sign .cvd files with their own RSA keys
  postgresql                 # the console tests start a real PostgreSQL server
  bind9-utils unbound        # dns: named-checkzone, a real Unbound loading the RPZ zone and
                             # sending dnstap to khien dns watch (Debian's is built --enable-dnstap)
  systemd                    # systemd-analyze verify checks the agent's service file
  chromium chromium-driver   # the web console's tests run in a real browser (WebDriver)
  qpdf                       # tests encrypt PDFs (RC4 40/128, AES-128, AES-256 R5/R6) as real
                             # producers do
)

pkgs=("${build_pkgs[@]}")
if [ "${KH_DEPS_MINIMAL:-0}" != 1 ]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
