#!/usr/bin/env bash
# Validates the deployment files without deploying anything:
#   1. template.yaml        cfn-lint, then kb's own contract (infra/check_template.py)
#   2. docker-compose.yml   `docker compose config -q` when a Docker engine answers, and always
#                           infra/check_compose.py (services, depends_on, bucket/queue names
#                           against localstack/init/ready.d/init-aws.sh)
#   3. shell scripts        `bash -n`, and the executable bits LocalStack and users rely on
# Tools live in the venv ${KB_CACHE:-$HOME/.cache/kb}/venv (cfn-lint and pyyaml are installed
# there from PyPI when missing). Exits non-zero, naming the failed check, on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

KB_CACHE="${KB_CACHE:-$HOME/.cache/kb}"
venv="$KB_CACHE/venv"

fail() {
    echo "infra/validate.sh: FAILED: $*" >&2
    exit 1
}
step() { echo "==> $*"; }

# ---------------------------------------------------------------- tools
mkdir -p "$KB_CACHE"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >/dev/null 2>&1 \
        || fail "cannot create the Python venv $venv (on Debian/Ubuntu: apt-get install python3-venv)"
fi
if ! "$venv/bin/python" -c 'import cfnlint, yaml' >/dev/null 2>&1 || [ ! -x "$venv/bin/cfn-lint" ]; then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check cfn-lint pyyaml >&2 \
        || fail "cannot install cfn-lint and pyyaml into $venv (is PyPI reachable?)"
fi
py="$venv/bin/python"

# ---------------------------------------------------------------- template.yaml
step "cfn-lint template.yaml ($("$venv/bin/cfn-lint" --version))"
# Warnings are printed but only errors fail (a newer cfn-lint may add warnings).
"$venv/bin/cfn-lint" --non-zero-exit-code error template.yaml || fail "cfn-lint template.yaml reported the errors above"
echo "cfn-lint: no errors"
"$py" infra/check_template.py template.yaml || fail "template.yaml breaks kb's deployment contract (see above)"

# ---------------------------------------------------------------- docker-compose.yml
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1 \
    && docker info >/dev/null 2>&1; then
    step "docker compose config -q"
    docker compose -f docker-compose.yml config -q || fail "docker compose config rejected docker-compose.yml"
    echo "docker compose config: ok"
else
    step "docker compose config skipped (no Docker engine answers here)"
fi
step "infra/check_compose.py docker-compose.yml"
"$py" infra/check_compose.py docker-compose.yml localstack/init/ready.d/init-aws.sh \
    || fail "docker-compose.yml does not match what kb and the LocalStack init hook expect (see above)"

# ---------------------------------------------------------------- shell scripts
step "bash -n on the deployment scripts"
scripts=(infra/*.sh localstack/init/ready.d/*.sh)
for s in "${scripts[@]}"; do
    [ -f "$s" ] || continue
    bash -n "$s" || fail "$s has a syntax error"
    [ -x "$s" ] || fail "$s is not executable (chmod +x $s)"
done
echo "bash -n: ok (${scripts[*]})"

echo "infra/validate.sh: all checks passed"
