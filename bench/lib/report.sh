# shellcheck shell=bash disable=SC2034 # sourced by bench/run.sh: its variables cross files
# The tables, the targets, the charts and the docs/performance.md blocks,
# from $RAW (one line per wrk run: round name label rps p50 p99 non2xx
# socket_errors cpu_us_per_request db_cpu_us_per_request idle_pct).

# summarize: $RESULTS, one line per row: name label rps p50 p99 errors ratio
# ratio_min ratio_max cpu_us_per_request db_cpu_us_per_request idle_pct,
# medians over the rounds; each run's
# ratio is to the floor of its own round (round 0, the under-logins row, to
# the median floor).
summarize() {
  FLOOR_RPS="$(awk -F'\t' '$2 == "floor" { print $4 }' "$RAW" | median)"
  FLOOR_RPS="${FLOOR_RPS:-0}"
  awk -F'\t' -v OFS='\t' -v fm="$FLOOR_RPS" '
    $2 == "floor" { floor[$1] = $4 }
    { line[NR] = $0; round[NR] = $1; rps[NR] = $4 }
    END { for (i = 1; i <= NR; i++) { f = (round[i] in floor) ? floor[round[i]] : fm; print line[i], (f > 0 ? rps[i] / f : 0) } }' "$RAW" >"$WORK/raw-ratio.tsv"
  : >"$RESULTS"
  local name
  for name in $(awk -F'\t' '!seen[$2]++ { print $2 }' "$RAW"); do
    rows() { awk -F'\t' -v n="$name" -v c="$1" '$2 == n { print $c }' "$WORK/raw-ratio.tsv"; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$(rows 3 | head -1)" "$(rows 4 | median)" "$(rows 5 | median)" \
      "$(rows 6 | median)" "$(awk -F'\t' -v n="$name" '$2 == n { e += $7 + $8 } END { print e + 0 }' "$RAW")" "$(rows 12 | median)" \
      "$(rows 12 | sort -g | head -1)" "$(rows 12 | sort -g | tail -1)" "$(rows 9 | median)" \
      "$(rows 10 | median)" "$(rows 11 | median)" >>"$RESULTS"
  done
}
value() { awk -F'\t' -v n="$1" -v c="$2" '$1 == n { print $c }' "$RESULTS"; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

main_table() {
  echo "| endpoint | req/s | p50 (ms) | p99 (ms) | ratio to floor | ratio range | server CPU per request | database CPU per request | machine idle | non-2xx + errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  awk -F'\t' -v backend="$BACKEND" '$1 !~ /^scale_/ {
      range = ($1 == "list_under_logins") ? "(one run)" : sprintf("%.2f-%.2f", $8, $9)
      db = (backend == "sqlite" || $1 == "floor" || $1 ~ /^peer_/) ? "-" : sprintf("%.0f µs", $11)
      printf "| %s | %.0f | %.2f | %.2f | %.3fx | %s | %.0f µs | %s | %.0f%% | %d |\n", $2, $3, $4 / 1000, $5 / 1000, $7, range, $10, db, $12, $6
    }' "$RESULTS"
}

# memo's req/s over the peer's, per round, median: peer_ratio MEMO_ROW PEER_ROW.
peer_ratio() {
  awk -F'\t' -v m="$1" -v p="$2" '$2 == m { a[$1] = $4 } $2 == p { b[$1] = $4 }
    END { for (r in a) if (b[r] > 0) print a[r] / b[r] }' "$RAW" | median
}
peer_table() {
  echo "| row | memo req/s | Flask req/s | memo / Flask | target |"
  echo "|---|---:|---:|---:|---|"
  printf '| status (`/api/auth/status` vs `/auth/status`) | %.0f | %.0f | %.1fx | >= 45x |\n' \
    "$(value status 3)" "$(value peer_status 3)" "$(peer_ratio status peer_status)"
  printf '| list of 20 memos (`/api/memos` vs `/memos`) | %.0f | %.0f | %.1fx | >= 25x |\n' \
    "$(value list 3)" "$(value peer_list 3)" "$(peer_ratio list peer_list)"
}

check() { # check LABEL OK(0/1) DETAIL
  if (($2)); then echo "| $1 | met | $3 |"; else echo "| $1 | **not met** | $3 |"; fi
}
target_row() { # target_row LABEL ROW MIN
  local r; r="$(awk -v r="$(value "$2" 7)" 'BEGIN { printf "%.3f", r }')"
  check "$1 >= $3x floor" "$(ge "$r" "$3" && echo 1 || echo 0)" "${r}x"
}
targets_table() {
  echo "| target | result | measured |"
  echo "|---|---|---|"
  case "$BACKEND" in
    sqlite) target_row "GET /api/auth/status" status 0.85 ;;
    postgres-redis) target_row "GET /api/auth/status (PostgreSQL + Redis)" status 0.75 ;;
  esac
  if [[ $BACKEND == sqlite ]]; then
    target_row "GET /api/memos" list 0.5
    target_row "POST /api/memos (8 connections, synchronous=FULL)" create 0.25
  else
    target_row "GET /api/memos (PostgreSQL)" list 0.25
    target_row "POST /api/memos (PostgreSQL)" create 0.1
  fi
  target_row "POST /api/auth/refresh (rotating)" refresh 0.15
  local p99; p99="$(value list_under_logins 5)"
  check "p99 GET /api/memos < 10 ms while $LOGIN_CONNECTIONS connection(s) log in" \
    "$(ge 9999 "$p99" && echo 1 || echo 0)" "$(awk -v p="$p99" 'BEGIN { printf "%.2f ms", p / 1000 }') (logins: $LOGINS_RPS/s)"
  check "RSS < 40 MB at $MEM_CONNECTIONS keep-alive connections" "$(ge 40959 "$RSS_PEAK_KB" && echo 1 || echo 0)" \
    "$(awk -v p="$RSS_PEAK_KB" -v i="$RSS_IDLE_KB" -v s="$RSS_SEEDED_KB" 'BEGIN { printf "%.1f MB peak (%.1f MB just before, %.1f MB after seeding)", p / 1024, i / 1024, s / 1024 }'); $CONNS_PEAK sockets open"
  if ((PEER)); then
    local s l
    s="$(peer_ratio status peer_status)"; l="$(peer_ratio list peer_list)"
    check "status >= 45x Flask" "$(ge "$s" 45 && echo 1 || echo 0)" "$(printf '%.1fx' "$s")"
    check "list >= 25x Flask" "$(ge "$l" 25 && echo 1 || echo 0)" "$(printf '%.1fx' "$l")"
  fi
}

# The scaling rows: p99 of each row at each size against the same row at the first size.
scale_table() {
  local first="${SCALE_SIZES%% *}"
  echo "| memos in the account | seeded at | row | req/s | p50 (ms) | p99 (ms) | p99 / p99 at $first memos | RSS after seeding |"
  echo "|---:|---:|---|---:|---:|---:|---:|---:|"
  local size kind base
  for size in $SCALE_SIZES; do
    for kind in first deep search; do
      base="$(value "scale_${kind}_$first" 5)"
      awk -F'\t' -v n="scale_${kind}_$size" -v base="$base" -v size="$size" -v k="$kind" '
        FILENAME == ARGV[1] { if ($1 == size) { rate = $2; rss = $4; pos = $5 } next }
        $1 == n {
          row = (k == "first") ? "first page" : (k == "deep") ? (pos ? sprintf("deep page (after memo %d, by cursor)", pos) : "deep page (= first page)") : "`?q=` search"
          printf "| %d | %s | %s | %.0f | %.2f | %.2f | %.2fx | %.1f MB |\n", size, (rate ? sprintf("%d memos/s", rate) : "-"), row, $3, $4 / 1000, $5 / 1000, (base > 0 ? $5 / base : 0), rss / 1024 }' \
        "$SCALE_LOG" "$RESULTS"
    done
  done
}
scale_verdict() {
  local first="${SCALE_SIZES%% *}" worst
  worst="$(for kind in first deep search; do
    base="$(value "scale_${kind}_$first" 5)"
    for size in $SCALE_SIZES; do awk -v p="$(value "scale_${kind}_$size" 5)" -v b="$base" 'BEGIN { print p / b }'; done
  done | sort -g | tail -1)"
  check "p99 of the paged list, deep page and search within 2x of the $first-memo figure up to ${SCALE_SIZES##* } memos" \
    "$(ge 2 "$worst" && echo 1 || echo 0)" "worst $(printf '%.2f' "$worst")x"
}

# bars_svg TITLE > FILE: req/s of each main row, with the median floor.
bars_svg() {
  awk -F'\t' -v floor="$FLOOR_RPS" -v title="$1" '
    $1 ~ /^scale_/ { next }
    { n++; label[n] = $2; rps[n] = $3; ratio[n] = $7; if ($3 > max) max = $3 }
    END {
      left = 250; width = 420; bar = 22; gap = 8; top = 40
      h = top + n * (bar + gap) + 30
      printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", left + width + 170, h
      printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      printf "<text x=\"10\" y=\"22\" font-size=\"14\" font-weight=\"bold\">%s</text>\n", title
      fx = left + width * floor / max
      for (i = 1; i <= n; i++) {
        y = top + (i - 1) * (bar + gap)
        w = width * rps[i] / max; if (w < 1) w = 1
        color = (label[i] ~ /^floor/) ? "#888888" : (label[i] ~ /^Flask/) ? "#c98b2b" : "#3b6fb6"
        printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", left - 8, y + bar * 0.7, label[i]
        printf "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n", left, y, w, bar, color
        printf "<text x=\"%.1f\" y=\"%d\">%.0f/s (%.3fx)</text>\n", left + w + 6, y + bar * 0.7, rps[i], ratio[i]
      }
      printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\"/>\n", fx, top - 6, fx, h - 24
      printf "<text x=\"%.1f\" y=\"%d\" fill=\"#c0392b\" text-anchor=\"middle\">floor (median) %.0f/s</text>\n", fx, h - 10, floor
      printf "</svg>\n"
    }' "$RESULTS"
}

# scale_svg TITLE > FILE: memos in the account (log scale) against p99, one line per row.
scale_svg() {
  local kind size
  for kind in first deep search; do
    for size in $SCALE_SIZES; do printf '%s\t%s\t%s\n' "$kind" "$size" "$(value "scale_${kind}_$size" 5)"; done
  done | awk -F'\t' -v title="$1" '
    { k[NR] = $1; s[NR] = $2; p[NR] = $3 / 1000; n = NR; if (p[NR] > max) max = p[NR]
      if (!(lo) || $2 < lo) lo = $2; if ($2 > hi) hi = $2 }
    END {
      for (i = 1; i <= n; i++) if (k[i] == "first" && s[i] == lo) limit = 2 * p[i]
      if (limit > max) max = limit
      left = 60; top = 40; w = 560; h = 300; max = max * 1.15; if (max <= 0) max = 1
      printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", left + w + 190, top + h + 50
      printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      printf "<text x=\"10\" y=\"22\" font-size=\"14\" font-weight=\"bold\">%s</text>\n", title
      printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", left, top + h, left + w, top + h
      printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", left, top, left, top + h
      for (t = 0; t <= 4; t++) {
        ty = top + h - h * t / 4
        printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", left - 6, ty + 4, max * t / 4
        printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#dddddd\"/>\n", left, ty, left + w, ty
      }
      printf "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">p99 (ms)</text>\n", top + h / 2, top + h / 2
      printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">memos in the account (log scale)</text>\n", left + w / 2, top + h + 40
      span = log(hi) - log(lo); if (span <= 0) span = 1
      split("first page,deep page (cursor),?q= search", name, ",")
      color["first"] = "#3b6fb6"; color["deep"] = "#c98b2b"; color["search"] = "#2e8b57"
      order[1] = "first"; order[2] = "deep"; order[3] = "search"
      for (i = 1; i <= n; i++) { x[i] = left + w * (log(s[i]) - log(lo)) / span; y[i] = top + h - h * p[i] / max }
      for (i = 1; i <= n; i++) if (k[i] == "first") printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x[i], top + h + 16, s[i]
      for (o = 1; o <= 3; o++) {
        pts = ""; for (i = 1; i <= n; i++) if (k[i] == order[o]) { pts = pts sprintf("%.1f,%.1f ", x[i], y[i])
          printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x[i], y[i], color[order[o]] }
        printf "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n", pts, color[order[o]]
        printf "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", left + w + 20, top + (o - 1) * 20, color[order[o]]
        printf "<text x=\"%d\" y=\"%d\">%s</text>\n", left + w + 38, top + (o - 1) * 20 + 10, name[o]
      }
      ly = top + h - h * limit / max
      printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\"/>\n", left, ly, left + w, ly
      printf "<text x=\"%d\" y=\"%.1f\" fill=\"#c0392b\" text-anchor=\"end\">2x the first page at %d memos</text>\n", left + w, ly - 4, lo
      printf "</svg>\n"
    }'
}

# replace_block DOC MARKER BLOCK_FILE: swaps the <!-- MARKER:begin ... MARKER:end --> block, or appends it.
replace_block() {
  local doc="$1" marker="$2" block="$3"
  [[ -f $doc ]] || printf '# Performance\n' >"$doc"
  if grep -q "<!-- $marker:begin" "$doc"; then
    awk -v begin="<!-- $marker:begin" -v end="<!-- $marker:end -->" -v block="$block" '
      index($0, begin) == 1 { while ((getline line < block) > 0) print line; skip = 1; next }
      skip && index($0, end) == 1 { skip = 0; next }
      !skip { print }' "$doc" >"$WORK/doc.md"
    cat "$WORK/doc.md" >"$doc"
  else
    { echo; cat "$block"; } >>"$doc"
  fi
}
