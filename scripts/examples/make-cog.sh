#!/usr/bin/env bash
# Makes the example Cloud Optimized GeoTIFF of the local stack: a small world-wide grid of
# smooth "relief" values (one byte a cell), written as an ASCII grid by awk and converted with
# gdal_translate -of COG. Deterministic, about 20 KB, no download.
#
# Usage: scripts/examples/make-cog.sh OUTPUT.tif
set -euo pipefail

output="${1:?usage: make-cog.sh OUTPUT.tif}"
for tool in awk gdal_translate; do
  command -v "$tool" >/dev/null 2>&1 || { echo "make-cog: $tool is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# One cell a degree, 360 x 180, lower-left corner at (-180, -90); rows run from north to south.
awk 'BEGIN {
  ncols = 360; nrows = 180
  print "ncols " ncols; print "nrows " nrows
  print "xllcorner -180"; print "yllcorner -90"; print "cellsize 1"
  pi = atan2(0, -1)
  for (row = 0; row < nrows; row++) {
    lat = 89.5 - row
    line = ""
    for (col = 0; col < ncols; col++) {
      lon = -179.5 + col
      v = 127.5 + 80 * sin(lon * pi / 60) * cos(lat * pi / 45) + 47 * cos((lon + lat) * pi / 30)
      if (v < 0) v = 0
      if (v > 255) v = 255
      line = line (col ? " " : "") int(v)
    }
    print line
  }
}' >"$work/relief.asc"

mkdir -p "$(dirname "$output")"
gdal_translate -q -of COG -ot Byte -a_srs EPSG:4326 \
  -co COMPRESS=DEFLATE -co BLOCKSIZE=256 -co OVERVIEWS=AUTO \
  "$work/relief.asc" "$output.partial"
mv "$output.partial" "$output"
