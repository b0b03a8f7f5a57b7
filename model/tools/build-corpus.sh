#!/usr/bin/env bash
# Rebuilds model/src/main/resources/corpus/{train,validation}.txt.gz from two Debian packages
# (public-domain texts; see corpus/SOURCE.md). Deterministic: same packages -> same bytes.
# Usage: model/tools/build-corpus.sh [WORK_DIR]   (needs apt-get, dpkg, awk, gzip; run as root)
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/src/main/resources/corpus"
work="${1:-$(mktemp -d)}"
cd "$work"
apt-get download bible-kjv-text=4.38 bible-kjv=4.38 dict-devil=1.0-13.1
for f in *.deb; do dpkg -x "$f" x; done
# The King James Version, one verse per line ("Ge1:1 In the beginning ...").
x/usr/bin/bible -f -p x/usr/lib "gen1:1-rev22:21" > kjv.raw
zcat x/usr/share/dictd/devil.dict.dz > devil.raw
# Documents are separated by a line holding one form feed (\f). A KJV book is one document
# (chapters separated by a blank line, the verse references dropped); every 10th book
# (index 9, 19, ...) is held out for validation.
perl -ne '
  BEGIN { open(T, ">", "kjv.train"); open(V, ">", "kjv.valid"); $nb = 0; $prev = ""; }
  next unless /^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$/;
  my ($book, $chap, $text) = ($1, $2, $4);
  if ($book ne $prev) {
    print $fh "\f\n" if $nb > 0;
    $fh = ($nb % 10 == 9) ? \*V : \*T; $nb++; $prev = $book; $pc = $chap;
  } elsif ($chap ne $pc) { print $fh "\n"; $pc = $chap; }
  print $fh "$text\n";
  END { print T "\f\n"; print V "\f\n"; }' kjv.raw
# The Devil's Dictionary from its PREFACE on: one document per initial letter of the entries;
# the entries under W, X, Y and Z are held out for validation.
perl -ne '
  BEGIN { open(T, ">", "devil.train"); open(V, ">", "devil.valid"); $fh = undef; $letter = ""; }
  if (!defined $fh) { next unless /^\s*PREFACE\s*$/; $fh = \*T; }
  next if /^ abcdefghijklmnopqrstuvwxyz$/;
  if (/^([A-Z])[A-Z\x27 -]+, [a-z]/ && $1 gt $letter) {  # headwords run A..Z
    print $fh "\f\n" if $letter ne ""; $letter = $1; $fh = ($letter =~ /[WXYZ]/) ? \*V : \*T;
  }
  s/[ \t]+$//; print $fh $_;
  END { print $fh "\f\n"; }' devil.raw
cat kjv.train devil.train | gzip -9n > "$out/train.txt.gz"
cat kjv.valid devil.valid | gzip -9n > "$out/validation.txt.gz"
ls -l "$out"
