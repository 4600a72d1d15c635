#!/bin/sh
# Print the path of a Python >= 3.12 interpreter: PATH first, then pyenv.
# Exit 1 with a clear message when none exists.
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
for name in python3.13 python3.12 python3 python; do
  p=$(command -v "$name" 2>/dev/null) || continue
  if ok "$p"; then echo "$p"; exit 0; fi
done
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  # Prefer 3.12 (the version the stack is tested on), then newer ones.
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.12' | sort -rV) $(pyenv versions --bare 2>/dev/null | sort -rV); do
    for name in python3 python; do
      p="$root/versions/$v/bin/$name"
      if [ -x "$p" ] && ok "$p"; then echo "$p"; exit 0; fi
    done
  done
fi
echo "error: Lanner needs Python >= 3.12 and none was found on PATH or in pyenv." >&2
echo "Install one, e.g. 'pyenv install 3.12' or 'apt-get install python3.12 python3.12-venv', then re-run make." >&2
exit 1
