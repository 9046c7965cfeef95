#!/usr/bin/env bash
# Set-up, build, then the whole CTest suite; exits non-zero on any failure.
# The scikit-learn cross-checks (scripts/golden/check_eval_dumps.py) run in a virtual environment
# made once from the pins of scripts/golden/requirements.txt (numpy, scipy, scikit-learn; Debian's
# numpy and scipy are used where they satisfy the pins) and cached in PYREF_EVAL_DIR (default
# ~/.cache/instret/pyref-eval); the tests find it through INSTRET_PYREF. When it cannot be made
# (no network), the four cross-checks are skipped, and this script says so loudly, twice.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/setup.sh"

pyref="${PYREF_EVAL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/instret/pyref-eval}"
pins="$(grep -E '^(numpy|scipy|scikit-learn)([=<>!~ ]|$)' "$root/scripts/golden/requirements.txt")"
pyref_ok=0
if [ -x "$pyref/bin/python" ] && [ "$(cat "$pyref/.pins" 2>/dev/null)" = "$pins" ] &&
   "$pyref/bin/python" -c 'import numpy, scipy, sklearn' 2>/dev/null; then
  pyref_ok=1
else
  echo "test.sh: making the scikit-learn environment $pyref ($(echo $pins))"
  rm -rf "$pyref"
  # shellcheck disable=SC2086
  if /usr/bin/python3 -m venv --system-site-packages "$pyref" &&
     "$pyref/bin/python" -m pip install -q --disable-pip-version-check $pins &&
     "$pyref/bin/python" -c 'import numpy, scipy, sklearn'; then
    echo "$pins" > "$pyref/.pins"
    pyref_ok=1
  fi
fi
warn() {
  echo "test.sh: ************************************************************************" >&2
  echo "test.sh: WARNING: no scikit-learn environment in $pyref (is PyPI reachable?):" >&2
  echo "test.sh: the 4 scikit-learn cross-checks are SKIPPED (EvalDumps.RecomputeWithScikitLearn," >&2
  echo "test.sh: EvalEerTool.SingleEncoderReportMatchesDumpAndScikitLearn," >&2
  echo "test.sh: EvalRetrievalTool.TrainedEncodersGiveJsonMarkdownAndARecomputableDump," >&2
  echo "test.sh: MapCeilingsScript.AveragePrecisionIsScikitLearns)" >&2
  echo "test.sh: ************************************************************************" >&2
}
if [ "$pyref_ok" = 1 ]; then
  export INSTRET_PYREF="$pyref/bin/python"
else
  rm -rf "$pyref"
  warn
fi

cd "$build"
status=0
ctest --output-on-failure -j "${JOBS:-$(nproc)}" "$@" || status=$?
[ "$pyref_ok" = 1 ] || warn
exit "$status"
