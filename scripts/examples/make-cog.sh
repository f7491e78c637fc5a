#!/usr/bin/env bash
# Makes the example Cloud Optimized GeoTIFF of the local stack: a generated world, so nothing is
# downloaded. awk writes an elevation grid (a sum of waves; sea level clamps it at 0) as ASCII
# grids; gdaldem shades it; the COG holds two bands: 1 the elevation in 255 steps (0 is sea),
# which the example mapfile tints with a color ramp, and 2 the hillshade it lays over that.
# Deterministic, about 300 KB, a few seconds.
#
# Usage: scripts/examples/make-cog.sh OUTPUT.tif
set -euo pipefail

output="${1:?usage: make-cog.sh OUTPUT.tif}"
for tool in awk gdal_translate gdaldem gdalbuildvrt; do
  command -v "$tool" >/dev/null 2>&1 || { echo "make-cog: $tool is not installed (scripts/setup.sh installs gdal-bin)" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Half a degree a cell, 720 x 360, lower-left corner at (-180, -90); rows run from north to south.
# The summits named in scripts/examples/bucket/example.map are this grid's highest local maxima.
awk -v dem="$work/dem.asc" -v steps="$work/elevation.asc" 'BEGIN {
  ncols = 720; nrows = 360
  header = "ncols " ncols "\nnrows " nrows "\nxllcorner -180\nyllcorner -90\ncellsize 0.5"
  print header >dem; print header >steps
  pi = atan2(0, -1)
  for (row = 0; row < nrows; row++) {
    lat = 89.75 - row * 0.5
    metres = ""; step = ""
    for (col = 0; col < ncols; col++) {
      lon = -179.75 + col * 0.5
      e = 1500 * sin(lon * pi / 47 + 0.9) * cos(lat * pi / 38) \
        + 800 * cos((lon - 1.7 * lat) * pi / 31) \
        + 380 * sin((2.3 * lon + lat) * pi / 19) \
        + 160 * sin((1.3 * lon - 2.1 * lat) * pi / 9.7) * cos(lon * pi / 13) \
        + 70 * sin((3.1 * lon + 2.7 * lat) * pi / 4.3) - 150
      if (e < 0) e = 0
      v = e > 0 ? 1 + int(e * 254 / 3200) : 0
      if (v > 255) v = 255
      metres = metres (col ? " " : "") int(e)
      step = step (col ? " " : "") v
    }
    print metres >dem; print step >steps
  }
}'

gdal_translate -q -ot Int16 -a_srs EPSG:4326 "$work/dem.asc" "$work/dem.tif"
gdal_translate -q -ot Byte -a_srs EPSG:4326 "$work/elevation.asc" "$work/elevation.tif"
# Metres on a grid in degrees (-s 111120), with the relief exaggerated: at half a degree a cell
# the generated slopes are gentle.
gdaldem hillshade -q -s 111120 -z 60 -alt 40 -compute_edges "$work/dem.tif" "$work/hillshade.tif"
gdalbuildvrt -q -separate "$work/bands.vrt" "$work/elevation.tif" "$work/hillshade.tif"

mkdir -p "$(dirname "$output")"
gdal_translate -q --config GDAL_PAM_ENABLED NO -of COG -co COMPRESS=DEFLATE -co BLOCKSIZE=256 -co OVERVIEWS=AUTO \
  "$work/bands.vrt" "$output.partial"
mv "$output.partial" "$output"
