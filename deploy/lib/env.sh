# shellcheck shell=bash
# Shared locations for Tessera's scripts; source it, don't run it.
# Everything here lives outside the checkout and is kept between runs (and CI runs).
TESSERA_CACHE=${TESSERA_CACHE:-$HOME/.cache/tessera}
TESSERA_VENV=$TESSERA_CACHE/venv
TESSERA_DATA=$TESSERA_CACHE/data
# The Kafka-protocol broker for tests (tansu, built once by install-test-deps.sh).
TESSERA_TANSU=${TESSERA_TANSU:-$TESSERA_CACHE/tansu/bin/tansu}
export TESSERA_CACHE TESSERA_VENV TESSERA_DATA TESSERA_TANSU
