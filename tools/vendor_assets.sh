#!/usr/bin/env bash
# Vendor the JavaScript the book needs, so the HTML is self-contained offline.
#
#   tools/vendor_assets.sh book      # RequireJS, ipywidgets html-manager, MathJax,
#                                    #   anywidget's AMD front-end
#                                    #   -> book/_static/vendor/   (git-ignored)
#   tools/vendor_assets.sh browser   # playwright-core (for tools/browser_check.py)
#                                    #   -> tools/vendor/node_modules/ (git-ignored)
#
# Every package is fetched from the npm registry with `npm pack` at an exact
# version, and its tarball is checked against the sha512 integrity pinned below
# before it is unpacked (npm also checks it against the registry's metadata).
# We use `npm pack` rather than `npm install` because html-manager's own npm
# dependencies (JupyterLab, ~100 MB) are not needed: its dist/embed-amd.js is a
# complete bundle (base, controls and output widgets, Font Awesome fonts).
# anywidget (the kernel-free explorer widgets, paperlib.book.explorer) is a Python
# package: its wheel, pinned in pyproject.toml, ships the AMD build of its
# front-end (anywidget/nbextension/index.js) that html-manager loads through
# RequireJS; it is copied from the venv's installed package and checked against
# the sha512 pinned below (make runs `venv` before `vendor`).
# Re-running is a no-op once the stamps exist.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_MODULES="$ROOT/tools/vendor/node_modules"
STATIC_VENDOR="$ROOT/book/_static/vendor"

# name version sha512-integrity (as printed by `npm pack --json`)
PIN_REQUIREJS="requirejs 2.3.8 sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw=="
PIN_HTML_MANAGER="@jupyter-widgets/html-manager 1.0.15 sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA=="
PIN_MATHJAX="mathjax 3.2.2 sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
# anywidget VERSION and the sha512 of anywidget/nbextension/index.js in its wheel
PIN_ANYWIDGET="anywidget 0.11.0 sha512-6VKFs6N8SBLqjP/j0KeCcB6FPN/+lBbUCo+oBJuVwcKyXgFggsYasWgAevmvNsWs6SsmJ8EYiWrjFtqO1faFCg=="
PIN_PLAYWRIGHT="playwright-core 1.65.1 sha512-hqPpz7blSMPxWVdoeE1yiBSzXsKiVOd2k+kjCvmUywD2GPO2Dd9HfcWnq9NN0GHbNZDFgZ9JfBFr+X5/BLo0qw=="

die() { echo "vendor_assets: ERROR: $*" >&2; exit 1; }

sri_sha512() {  # print the sha512 subresource-integrity string of file $1
  printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 -w0)"
}

# fetch NAME VERSION INTEGRITY: unpack the checked tarball into $NODE_MODULES/NAME
fetch() {
  local name="$1" version="$2" integrity="$3"
  local dest="$NODE_MODULES/$name" stamp="$NODE_MODULES/$name/.vendored-$version"
  [[ -f "$stamp" ]] && return 0
  command -v npm >/dev/null || die "npm is not installed (apt-get install -y npm)"
  local tmp; tmp="$(mktemp -d)"
  echo "vendor_assets: fetching $name@$version"
  (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null) \
    || { rm -rf "$tmp"; die "npm pack $name@$version failed"; }
  local tgz; tgz="$(ls "$tmp"/*.tgz)"
  local got; got="$(sri_sha512 "$tgz")"
  if [[ "$got" != "$integrity" ]]; then
    rm -rf "$tmp"; die "$name@$version integrity mismatch: got $got, pinned $integrity"
  fi
  rm -rf "$dest" && mkdir -p "$dest"
  tar -xzf "$tgz" -C "$dest" --strip-components=1 --no-same-owner
  rm -rf "$tmp"
  touch "$stamp"
}

fetch_pin() { fetch $1; }  # word-split one PIN_* line into name version integrity

# copy_tree SRC DEST: copy a folder (or file) into the staging vendor folder
copy_into() { mkdir -p "$(dirname "$2")" && cp -R "$1" "$2"; }

# copy_anywidget NAME VERSION INTEGRITY DEST: the AMD front-end of the installed
# anywidget (the venv's python), checked against the pin, into DEST/
copy_anywidget() {
  local version="$2" integrity="$3" dest="$4"
  local py="$ROOT/.venv/bin/python"
  [[ -x "$py" ]] || die "no .venv: run 'make venv' first (anywidget comes from the venv)"
  local pkg; pkg="$("$py" -c 'import anywidget, pathlib; print(pathlib.Path(anywidget.__file__).parent)')" \
    || die "anywidget is not installed in .venv (make venv)"
  local got_version; got_version="$("$py" -c 'from importlib.metadata import version; print(version("anywidget"))')"
  [[ "$got_version" == "$version" ]] || die "anywidget $got_version installed, $version pinned (make venv)"
  local got; got="$(sri_sha512 "$pkg/nbextension/index.js")"
  [[ "$got" == "$integrity" ]] || die "anywidget nbextension/index.js integrity mismatch: got $got, pinned $integrity"
  mkdir -p "$dest"
  cp "$pkg/nbextension/index.js" "$dest/index.js"
  local license; license="$(ls "$pkg"/../anywidget-"$version".dist-info/licenses/LICENSE 2>/dev/null || true)"
  [[ -n "$license" ]] && cp "$license" "$dest/LICENSE"
  return 0
}

vendor_book() {
  fetch_pin "$PIN_REQUIREJS"; fetch_pin "$PIN_HTML_MANAGER"; fetch_pin "$PIN_MATHJAX"
  local versions; versions="$(printf '%s\n' "$PIN_REQUIREJS" "$PIN_HTML_MANAGER" "$PIN_MATHJAX" "$PIN_ANYWIDGET")"
  if [[ -f "$STATIC_VENDOR/VERSIONS" && "$(cat "$STATIC_VENDOR/VERSIONS")" == "$versions" ]]; then
    echo "vendor_assets: book/_static/vendor is up to date"; return 0
  fi
  local stage="$STATIC_VENDOR.tmp.$$"
  rm -rf "$stage"
  local rq="$NODE_MODULES/requirejs" hm="$NODE_MODULES/@jupyter-widgets/html-manager"
  local mj="$NODE_MODULES/mathjax"
  copy_into "$rq/require.js" "$stage/requirejs/require.js"
  copy_into "$rq/README.md" "$stage/requirejs/README.md"
  # embed-amd.js resolves its Font Awesome files relative to its own URL.
  mkdir -p "$stage/html-manager"
  cp "$hm/dist/embed-amd.js" "$hm/dist/embed.js.LICENSE.txt" "$stage/html-manager/"
  cp "$hm"/dist/*.woff2 "$hm"/dist/*.woff "$hm"/dist/*.ttf "$hm"/dist/*.eot \
     "$hm"/dist/*.svg "$stage/html-manager/"
  cp "$hm/LICENSE" "$stage/html-manager/LICENSE" 2>/dev/null || true
  # MathJax finds its fonts/extensions relative to the component's URL.
  copy_into "$mj/es5/tex-mml-chtml.js" "$stage/mathjax/es5/tex-mml-chtml.js"
  for part in input output/chtml ui a11y sre; do
    copy_into "$mj/es5/$part" "$stage/mathjax/es5/$part"
  done
  cp "$mj/LICENSE" "$stage/mathjax/LICENSE"
  # html-manager asks RequireJS for the module "anywidget"; book/_static/widget-support.js
  # (loaded before require.js on every page with widgets) maps it to vendor/anywidget/index.
  copy_anywidget $PIN_ANYWIDGET "$stage/anywidget"
  printf '%s\n' "$versions" > "$stage/VERSIONS"
  rm -rf "$STATIC_VENDOR" && mv "$stage" "$STATIC_VENDOR"
  echo "vendor_assets: wrote $(du -sh "$STATIC_VENDOR" | cut -f1) to book/_static/vendor"
}

case "${1:-book}" in
  book) vendor_book ;;
  browser) fetch_pin "$PIN_PLAYWRIGHT"; echo "vendor_assets: playwright-core ready" ;;
  *) die "usage: $0 [book|browser]" ;;
esac
