#!/usr/bin/env bash
# Rebuilds fuzz/seeds/ from the shared corpus (../shared, or $CCBATCH_SHARED),
# the project's own test fixtures, the hand-written seeds
# (fuzz/seeds/*/hand_*, which stay) and the snapshot assembler's generated
# chunk streams (snapshot_assembler_seeds.py). Run it after the corpus grows and commit
# the result: the fuzzers must start from the same seeds when ../shared is
# absent.
#
# Only files from sources under a permissive licence (MIT, BSD-3-Clause,
# Apache-2.0; fuzz/README.md lists them) are copied: the seeds are committed,
# and the corpus also holds GPL/AGPL files and files without any licence
# (../shared/corpus/LICENSES.md).
#
# Output-judge seeds are "<program byte><output file>", the fuzzer's input
# format: byte 0 Gaussian, 1 ORCA, 2 xTB, 3 CREST, 4 pyAroma. Only outputs up
# to 130 kB are taken, so that one execution stays fast.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${CCBATCH_SHARED:-$root/../shared}"
corpus="$shared/corpus"
seeds="$root/fuzz/seeds"
max_output_bytes=133120
permissive='^(cclib/cclib|materialsproject/custodian|duartegroup/autodE|jvalegre/aqme|patonlab/GoodVibes|patonlab/pyQRC|ppqm/ppqm|coltonbh/qcparse|rivosinc/prometheus-slurm-exporter|OSC/ood_core|DerKleineLi/rohanboard|rug-cit-hpc/hb-jobinfo|\(captured here\))$'

if [ ! -f "$corpus/MANIFEST.tsv" ]; then
  echo "collect_seeds: no corpus at $corpus" >&2
  exit 1
fi

# Removes the seeds this script made before; hand-written ones stay.
reset_dir() {
  mkdir -p "$1"
  find "$1" -type f ! -name 'hand_*' -delete
}

# Corpus paths (relative to $corpus) of `program` from permissive sources,
# at most `max_bytes` long.
corpus_files() {
  awk -F'\t' -v program="$1" -v max_bytes="$2" -v permissive="$permissive" \
    'NR > 1 && $5 == program && $2 ~ permissive && $13 + 0 <= max_bytes {
       print $1
     }' "$corpus/MANIFEST.tsv" | sort
}

program_byte() {
  case "$1" in
    gaussian) printf '\000' ;;
    orca) printf '\001' ;;
    xtb) printf '\002' ;;
    crest) printf '\003' ;;
    pyaroma) printf '\004' ;;
  esac
}

reset_dir "$seeds/squeue_parser"
cp "$root"/tests/queue_agent/testdata/squeue/*.txt "$seeds/squeue_parser/"
corpus_files slurm-squeue 20000 | grep '\.txt$' | while read -r path; do
  cp "$corpus/$path" "$seeds/squeue_parser/corpus_$(basename "$path")"
done

reset_dir "$seeds/batchfile_reader"
cp "$root"/tests/cli/testdata/*.batch "$root/tests/cli/testdata/benzene_study.csv" \
  "$seeds/batchfile_reader/"
cp "$root/examples/xtb-demo/batchfile.csv" "$seeds/batchfile_reader/xtb-demo.csv"

# BatchRunner's rule files as ccbatch ships them (identical to
# ../shared/reference/ccbatchman-rules/).
reset_dir "$seeds/rule_file"
cp "$root"/queue_agent/rules/*.dat "$seeds/rule_file/"

reset_dir "$seeds/output_judge"
for program in gaussian orca xtb crest; do
  corpus_files "$program" "$max_output_bytes" | while read -r path; do
    { program_byte "$program"; cat "$corpus/$path"; } \
      >"$seeds/output_judge/${program}_$(basename "$path")"
  done
done
for f in "$root"/tests/queue_agent/testdata/xtb/*.out; do
  { program_byte xtb; cat "$f"; } >"$seeds/output_judge/xtb_test_$(basename "$f")"
done

# Chunk streams for the snapshot assembler, encoded by hand.
python3 "$root/fuzz/snapshot_assembler_seeds.py" "$seeds/snapshot_assembler"

chmod -R u+w "$seeds"
du -sh "$seeds"/*
