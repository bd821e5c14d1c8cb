#!/bin/sh
# Install minimal into the virtualenv VENV, with the pinned dependencies; crmgen-runtime is
# not on any registry: it comes from the app's wheels/ folder.
# The Dockerfile runs exactly this; outside Docker: sh deploy/install.sh .venv
set -eu
venv="${1:?usage: install.sh VENV}"
here="$(cd "$(dirname "$0")" && pwd)"
"${PYTHON:-python}" -m venv "$venv"
"$venv/bin/python" -m pip install --no-cache-dir --disable-pip-version-check \
    --find-links "$here/../wheels" --requirement "$here/requirements.txt" "$here/../dist/minimal-0.1.0-py3-none-any.whl"
