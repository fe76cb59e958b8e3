#!/usr/bin/env bash
# Retrieval-quality evaluation on a real documentation site: the PostgreSQL 15 manual from
# Debian's postgresql-doc-15, served locally, and the question set in eval/postgresql-15/.
# Builds one knowledge base per chunking configuration, runs `kb eval` in each search mode,
# and prints the table README.md keeps.
#
#   scripts/eval.sh                 # every configuration (about 20-40 minutes on 2 cores)
#   KB_EVAL_CONFIGS="seeds by_heading" scripts/eval.sh  # only some of them
#   KB_EVAL_CONFIGS="recursive_450 recursive_550 recursive_600" scripts/eval.sh  # the size sweep
#   KB_EVAL_QA="eval/postgresql-15/holdout.jsonl" scripts/eval.sh  # other question sets (space-separated)
#
# Every question set is evaluated on its own and all together ("all"): the first table is
# the union, the second each set's recall@1 and MRR@10.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

# name | kb ingest options | search modes ("dense/ungrouped": every chunk, not each page once;
# "dense/grouped": each page once in a KB that does not group by default)
CONFIGS=(
    "seeds|--strategy recursive --chunk-size 1000 --chunk-overlap 200 --contextual-headers false --neighbor-weight 0 --group-by-page false|dense dense/grouped"
    "recursive|--strategy recursive --chunk-size 1000 --chunk-overlap 200|dense sparse hybrid"
    "by_heading|--strategy by_heading --chunk-size 1000 --chunk-overlap 200|dense sparse hybrid"
    "semantic|--strategy semantic --chunk-size 1000|dense sparse hybrid"
    "fixed|--strategy fixed --size-unit tokens --chunk-size 200 --chunk-overlap 40|dense sparse hybrid"
    "recursive_500_alone|--strategy recursive --chunk-size 500 --chunk-overlap 100 --neighbor-weight 0|dense"
    "recursive_500|--strategy recursive --chunk-size 500 --chunk-overlap 100|dense sparse hybrid dense/ungrouped"
    # not run unless named in KB_EVAL_CONFIGS: the sweep around the default's size and overlap
    "recursive_450|--strategy recursive --chunk-size 450 --chunk-overlap 90|dense"
    "recursive_500_overlap_50|--strategy recursive --chunk-size 500 --chunk-overlap 50|dense"
    "recursive_500_overlap_150|--strategy recursive --chunk-size 500 --chunk-overlap 150|dense"
    "recursive_550|--strategy recursive --chunk-size 550 --chunk-overlap 110|dense"
    "recursive_600|--strategy recursive --chunk-size 600 --chunk-overlap 120|dense"
    "recursive_700|--strategy recursive --chunk-size 700 --chunk-overlap 140|dense"
    # the other strategies at the default's size
    "by_heading_500|--strategy by_heading --chunk-size 500 --chunk-overlap 100|dense"
    "semantic_500|--strategy semantic --chunk-size 500|dense"
    "fixed_125|--strategy fixed --size-unit tokens --chunk-size 125 --chunk-overlap 25|dense"
)
WANTED="${KB_EVAL_CONFIGS:-seeds recursive by_heading semantic fixed recursive_500_alone recursive_500}"
KNOWN=" ${CONFIGS[*]%%|*} "
for name in $WANTED; do
    case "$KNOWN" in *" $name "*) ;; *) echo "eval.sh: unknown configuration in KB_EVAL_CONFIGS: $name" >&2; exit 2 ;; esac
done

# The question sets: questions.jsonl (87, written while the defaults were chosen), holdout.jsonl
# and holdout2.jsonl (60 each, written afterwards from the pages alone; see eval/postgresql-15/SCOPE.md).
read -r -a QA_FILES <<<"${KB_EVAL_QA:-eval/postgresql-15/questions.jsonl eval/postgresql-15/holdout.jsonl eval/postgresql-15/holdout2.jsonl}"
for qa in "${QA_FILES[@]}"; do
    [ -f "$qa" ] || { echo "eval.sh: no question file $qa (KB_EVAL_QA)" >&2; exit 2; }
done
# The server's address is in every link of the pages' markdown, and chunk sizes count it
# (fixed windows its tokens): one port for every run keeps the chunks the same from run to run.
PORT="${KB_EVAL_PORT:-18015}"
if ! [[ "$PORT" =~ ^[1-9][0-9]{0,4}$ ]] || [ "$PORT" -gt 65535 ]; then
    echo "eval.sh: KB_EVAL_PORT must be a port number (1-65535), got: $PORT" >&2
    exit 2
fi
if (: > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "eval.sh: something already answers on 127.0.0.1:$PORT; set KB_EVAL_PORT to a free port" >&2
    exit 2
fi
DOCS=/usr/share/doc/postgresql-doc-15/html
scripts/setup.sh
apt_install postgresql-doc-15
for qa in "${QA_FILES[@]}"; do
    python3 eval/check_questions.py "$qa" "$DOCS" 'sql-*.html' 'datatype*.html' 'functions*.html' \
        --start sql-commands.html datatype.html functions.html >&2
done
if [ -n "${KB_BIN:-}" ]; then
    KB="$KB_BIN"    # an already built kb (for example the test build: target/debug/kb)
else
    echo "==> building kb (release)" >&2
    cargo build --release --locked -p kb >&2
    KB="$CARGO_TARGET_DIR/release/kb"
fi

# KB_EVAL_DIR keeps the knowledge bases between runs: a configuration already built there
# (same options) is evaluated again without crawling and embedding it again.
if [ -n "${KB_EVAL_DIR:-}" ]; then
    WORK="$KB_EVAL_DIR"
    mkdir -p "$WORK"
    CLEAN=""
else
    WORK="$(mktemp -d)"
    CLEAN="$WORK"
fi
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$DOCS" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; [ -z "$CLEAN" ] || rm -rf "$CLEAN"' EXIT
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$PORT/index.html" >/dev/null 2>&1 && break; sleep 0.1; done
BASE="http://127.0.0.1:$PORT"

# The part of the manual the questions cover (see eval/postgresql-15/SCOPE.md).
SCOPE=(--max-pages 400 --max-depth 3 --include '/sql-*.html' --include '/datatype*.html' --include '/functions*.html')
STARTS=("$BASE/sql-commands.html" "$BASE/datatype.html" "$BASE/functions.html")

# All the question sets in one file, and which set each line comes from.
QA="$WORK/questions-all.jsonl"
SETS="$WORK/questions-all.sets"
: > "$QA"
: > "$SETS"
for qa in "${QA_FILES[@]}"; do
    grep -v -e '^[[:space:]]*$' -e '^[[:space:]]*#' "$qa" | tee -a "$QA" | sed "s|.*|$(basename "$qa" .jsonl)|" >> "$SETS"
done
if [ "${#QA_FILES[@]}" -gt 1 ]; then
    # the same question twice in two sets would count twice
    python3 eval/check_questions.py "$QA" "$DOCS" 'sql-*.html' 'datatype*.html' 'functions*.html' >/dev/null
fi

# The same questions with the pages that the pooled judgments (eval/postgresql-15/judgments.jsonl,
# see SCOPE.md) found to answer them as well: every configuration is scored both ways.
JUDGMENTS="${KB_EVAL_JUDGMENTS:-eval/postgresql-15/judgments.jsonl}"
[ -f "$JUDGMENTS" ] || { echo "eval.sh: no judgments file $JUDGMENTS (KB_EVAL_JUDGMENTS)" >&2; exit 2; }
# every page judged to answer a question must quote the passage that does
python3 eval/pool.py check --judgments "$JUDGMENTS" --docs "$DOCS" >&2
POOLED="$WORK/questions-pooled.jsonl"
: > "$POOLED"
for qa in "${QA_FILES[@]}"; do
    python3 eval/pool.py merge --qa "$qa" --judgments "$JUDGMENTS" >> "$POOLED"
done

RESULTS="$WORK/results.jsonl"
: > "$RESULTS"
mkdir -p "$WORK/runs"
for entry in "${CONFIGS[@]}"; do
    IFS='|' read -r name options modes <<<"$entry"
    case " $WANTED " in *" $name "*) ;; *) continue ;; esac
    if [ -s "$WORK/$name.json" ] && [ "$(cat "$WORK/$name.options" 2>/dev/null)" = "$options" ]; then
        echo "==> $name: reusing the knowledge base in $WORK/$name" >&2
    else
        echo "==> $name: kb ingest $options" >&2
        rm -rf "${WORK:?}/$name" "$WORK/$name.json"
        # shellcheck disable=SC2086
        "$KB" ingest "${STARTS[@]}" "${SCOPE[@]}" $options --name "eval $name" --data-dir "$WORK/$name" --json > "$WORK/$name.json.tmp"
        mv "$WORK/$name.json.tmp" "$WORK/$name.json"
        echo "$options" > "$WORK/$name.options"
    fi
    kb_id="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kb_id"])' "$WORK/$name.json")"
    for run in $modes; do
        mode="${run%%/*}"
        group=()
        case "$run" in */ungrouped) group=(--group-by-page false) ;; */grouped) group=(--group-by-page true) ;; esac
        echo "==> $name: kb eval --mode $mode ${group[*]}" >&2
        for judgments in written pooled; do
            qa="$QA"
            [ "$judgments" = written ] || qa="$POOLED"
            run_json="$WORK/runs/$name.${run//\//.}.$judgments.json"
            "$KB" eval --kb "$kb_id" --qa "$qa" --mode "$mode" "${group[@]}" --top-k 10 --data-dir "$WORK/$name" --json > "$run_json"
            python3 eval/split_metrics.py "$name" "$WORK/$name.json" "$SETS" "$judgments" < "$run_json" >> "$RESULTS"
        done
    done
done

python3 eval/split_metrics.py --table "$RESULTS"

# Pages these runs put in their top 5 that nobody has judged yet count as misses: say so.
unjudged="$(python3 eval/pool.py pending --depth 5 "${QA_FILES[@]/#/--qa=}" --judgments "$JUDGMENTS" "$WORK"/runs/*.written.json | wc -l)"
if [ "$unjudged" -gt 0 ]; then
    echo "eval.sh: $unjudged (question, page) pairs in these runs' top 5 are not judged yet; list them with" >&2
    echo "  python3 eval/pool.py pending --depth 5 ${QA_FILES[*]/#/--qa=} --judgments $JUDGMENTS $WORK/runs/*.written.json" >&2
fi
