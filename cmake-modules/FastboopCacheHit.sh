# Fast path of FastboopCacheRun.cmake for a cache hit whose digests are all
# recorded: the same key, the same checks and the same outputs, with the shell
# and a few coreutils instead of a CMake process (whose start-up was most of a
# warm-cache build). It never hashes and never writes the shared cache: at the
# first thing it cannot settle from records alone (an unrecorded digest, no
# entry, an odd argument, a missing GNU stat, ...) it hands the very same
# arguments to the CMake script, which is the reference implementation.
#
#   sh FastboopCacheHit.sh <cmake> -D<VAR>=<value>... -P FastboopCacheRun.cmake -- <command>...
#
# The key material and the memo record format must match FastboopCacheRun.cmake
# (see there and ARCHITECTURE.md, "CMake artifact cache").
# Byte-order globbing (as CMake sorts); the caller's locale is put back for the fallback.
if [ "${LC_ALL+set}" = set ]; then caller_lc_all=$LC_ALL; fi
LC_ALL=C
nl='
'
F='%d-%i-%s-%.9Y-%.9Z'

# A -D value CMake would change (surrounding single quotes, trailing blanks) or
# that our lists cannot carry: leave it to CMake.
odd() {
  case $1 in
    *"$nl"*|*';'*|*' '|*'	') return 0;;
    \'*\') return 0;;
  esac
  return 1
}

# D := the recorded digest of file $2 with identity $1 (see _fastboop_memo_get).
lookup() {
  case $1 in ''|*[!0-9.-]*) return 1;; esac
  for dir in "$MEMO_DIR" "$CACHE/digests"; do
    [ -n "$dir" ] && [ -f "$dir/$1" ] || continue
    IFS= read -r line < "$dir/$1" || continue
    d=${line%% *}
    [ "${line#* }" = "$2" ] && [ ${#d} -eq 128 ] || continue
    case $d in *[!0-9a-f]*) continue;; esac
    D=$d
    return 0
  done
  return 1
}

# E := $1 with every space as "\ " (depfile syntax), without a process.
esc() {
  E= r=$1
  while :; do
    case $r in
      *' '*) E="$E${r%% *}\\ " r=${r#* };;
      *) E=$E$r; return;;
    esac
  done
}

try_hit() {
  CACHE= KIND= KEY_FILES= KEY_DIRS= KEY_TEXT= OUTPUTS= OUTPUT_DIR= STAMP= DEPFILE= DEPFILE_TARGET= MEMO_DIR=
  shift # the cmake executable
  for a do
    case $a in
      --) break;;
      -DFASTBOOP_CACHE_DIR=*) CACHE=${a#*=};;
      -DKIND=*) KIND=${a#*=};;
      -DKEY_FILES=*) KEY_FILES=${a#*=};;
      -DKEY_DIRS=*) KEY_DIRS=${a#*=};;
      -DKEY_TEXT=*) KEY_TEXT=${a#*=};;
      -DOUTPUTS=*) OUTPUTS=${a#*=};;
      -DOUTPUT_DIR=*) OUTPUT_DIR=${a#*=};;
      -DSTAMP=*) STAMP=${a#*=};;
      -DDEPFILE=*) DEPFILE=${a#*=};;
      -DDEPFILE_TARGET=*) DEPFILE_TARGET=${a#*=};;
      -DMEMO_DIR=*) MEMO_DIR=${a#*=};;
      -P) ;;
      -D*) return 1;;
      *) case $a in *FastboopCacheRun.cmake) ;; *) return 1;; esac;;
    esac
    if odd "${a#*=}"; then return 1; fi
  done
  [ -n "$CACHE" ] && [ -n "$KIND" ] || return 1
  [ -n "$OUTPUT_DIR" ] || [ -n "$OUTPUTS" ] || return 1

  # Key inputs, in FastboopCacheRun.cmake's order: KEY_FILES, then each
  # KEY_DIRS entry's files sorted by name (flat directories of regular files
  # only; anything else is CMake's to glob).
  set -f
  files= names= dep=
  IFS='|'
  for f in $KEY_FILES; do
    [ -n "$f" ] && [ -f "$f" ] || { IFS=' '; return 1; }
    files=$files$f$nl names=$names/$nl
  done
  IFS=' '
  rest=$KEY_DIRS
  while [ -n "$rest" ]; do
    d=${rest%%|*}
    case $rest in *'|'*) rest=${rest#*|};; *) rest=;; esac
    [ -n "$d" ] && [ -d "$d" ] || return 1
    set +f
    for f in "$d"/.[!.]* "$d"/..?*; do
      [ -e "$f" ] || [ -L "$f" ] && { set -f; return 1; }
    done
    for f in "$d"/*; do
      [ -e "$f" ] || [ -L "$f" ] || continue
      [ -f "$f" ] && [ ! -L "$f" ] || { set -f; return 1; }
      n=${f##*/}
      case $n in *'|'*|*"$nl"*|*';'*|*\\*) set -f; return 1;; esac
      files=$files$f$nl names=$names$n$nl
    done
    set -f
  done

  # Identities in one stat, then every digest from a record.
  set --
  IFS=$nl
  for f in $files; do set -- "$@" "$f"; done
  IFS=' '
  [ $# -gt 0 ] || return 1
  ids=$(stat -L -c "$F" -- "$@" 2>/dev/null) || return 1
  m="fastboop-cache-v1$nl$KIND$nl"
  t=$KEY_TEXT
  while :; do
    case $t in
      *'|'*) m=$m${t%%|*}';' t=${t#*|};;
      *) m=$m$t$nl; break;;
    esac
  done
  for f do
    id=${ids%%"$nl"*} ids=${ids#*"$nl"}
    n=${names%%"$nl"*} names=${names#*"$nl"}
    lookup "$id" "$f" || return 1
    if [ "$n" = / ]; then m=$m$D$nl; else m="$m$n $D$nl"; fi
  done
  # A here-document adds the final newline back (and costs no extra process).
  m=${m%"$nl"}
  key=$(sha512sum 2>/dev/null <<EOF
$m
EOF
) || return 1
  key=${key%% *}
  [ ${#key} -eq 128 ] || return 1
  r=${key#????????????????????????????????????????????????????????????????}
  key=${key%"$r"}
  entry=$CACHE/$KIND/$key
  [ -f "$entry/manifest.txt" ] || return 1

  # The manifest, as _fastboop_read_manifest checks it; each name's destination.
  nout=0
  if [ -z "$OUTPUT_DIR" ]; then
    IFS='|'
    for o in $OUTPUTS; do nout=$((nout + 1)); done
    IFS=' '
  fi
  digests= mnames= srcs= count=0 outdir=
  while IFS= read -r line; do
    d=${line%% *} n=${line#* }
    case $d in ''|*[!0-9a-f]*) return 1;; esac
    case $n in ''|*/*|"$line") return 1;; esac
    if [ -z "$OUTPUT_DIR" ]; then
      found=
      IFS='|'
      for o in $OUTPUTS; do [ "${o##*/}" = "$n" ] && found=$o; done
      IFS=' '
      [ -n "$found" ] || return 1
      od=${found%/*}
      [ -z "$outdir" ] || [ "$outdir" = "$od" ] || return 1
      outdir=$od
    fi
    digests=$digests$d$nl mnames=$mnames$n$nl count=$((count + 1))
  done < "$entry/manifest.txt"
  [ $count -gt 0 ] || return 1
  [ -n "$OUTPUT_DIR" ] || [ $count -eq $nout ] || return 1

  # Stored files' identities (before copying: a verified entry is never
  # replaced, so the copy is of what we verified), the copy, the copies'.
  if [ -n "$OUTPUT_DIR" ]; then
    stage=$OUTPUT_DIR.fastboop-tmp-$$
  else
    [ -d "$outdir" ] || mkdir -p "$outdir" || return 1
    stage=$outdir/.fastboop-tmp-$$
  fi
  set --
  IFS=$nl
  for n in $mnames; do set -- "$@" "$entry/$n"; done
  IFS=' '
  [ ! -e "$stage" ] || return 1
  sids=$(stat -L -c "$F" -- "$@" 2>/dev/null) || return 1
  if [ -n "$OUTPUT_DIR" ]; then
    mkdir "$stage" 2>/dev/null && cp -- "$@" "$stage/" 2>/dev/null || { rm -rf "$stage"; return 1; }
  else
    # The whole entry in one process (cp creates the stage; its manifest goes with the stage).
    cp -R -T -- "$entry" "$stage" 2>/dev/null || { rm -rf "$stage"; return 1; }
  fi
  for p do set -- "$@" "$stage/${p##*/}"; shift; done
  cids=
  if [ -n "$OUTPUT_DIR" ] && [ -n "$MEMO_DIR" ]; then
    cids=$(stat -L -c "$F" -- "$@" 2>/dev/null) || { rm -rf "$stage"; return 1; }
  fi
  ds=$digests ns=$mnames
  while [ -n "$ns" ]; do
    n=${ns%%"$nl"*} ns=${ns#*"$nl"}
    d=${ds%%"$nl"*} ds=${ds#*"$nl"}
    id=${sids%%"$nl"*} sids=${sids#*"$nl"}
    if ! lookup "$id" "$entry/$n" || [ "$D" != "$d" ]; then rm -rf "$stage"; return 1; fi
  done

  # Into place, and record the stage0 files for the boot.img key.
  if [ -n "$OUTPUT_DIR" ]; then
    if [ -e "$OUTPUT_DIR" ] || [ -L "$OUTPUT_DIR" ]; then rm -rf "$OUTPUT_DIR"; fi
    mv -T -- "$stage" "$OUTPUT_DIR" 2>/dev/null || { rm -rf "$stage"; return 1; }
    if [ -n "$MEMO_DIR" ]; then
      [ -d "$MEMO_DIR" ] || mkdir -p "$MEMO_DIR"
      ds=$digests ns=$mnames
      while [ -n "$ns" ]; do
        n=${ns%%"$nl"*} ns=${ns#*"$nl"}
        d=${ds%%"$nl"*} ds=${ds#*"$nl"}
        id=${cids%%"$nl"*} cids=${cids#*"$nl"}
        case $id in ''|*[!0-9.-]*) continue;; esac
        # Written in place: a torn record fails the reader's checks.
        printf '%s %s\n' "$d" "$OUTPUT_DIR/$n" > "$MEMO_DIR/$id"
      done
    fi
  else
    mv -f -- "$@" "$outdir/" || { rm -rf "$stage"; return 1; }
    rm -rf -- "$stage"
  fi

  # The depfile the tool would have written: the key inputs.
  if [ -n "$DEPFILE" ]; then
    esc "$DEPFILE_TARGET"
    dep=$E:
    IFS=$nl
    for f in $files; do
      esc "$f"
      dep="$dep \\$nl  $E"
    done
    IFS=' '
    # Written in place: Ninja reads it only after this command succeeded.
    printf '%s\n' "$dep" > "$DEPFILE" || return 1
  fi
  if [ -n "$STAMP" ]; then : > "$STAMP" || return 1; fi
  echo "-- fastboop: cache hit $KIND $key (fast path)"
  return 0
}

try_hit "$@" && exit 0
if [ "${caller_lc_all+set}" = set ]; then LC_ALL=$caller_lc_all; else unset LC_ALL; fi
exec "$@"
