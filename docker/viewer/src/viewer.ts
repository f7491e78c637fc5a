// The image's map viewer (/viewer/?map=/mapfiles/<name>.map): asks MapServer for the map's WMS
// capabilities, draws each named layer as its own WMS image layer over the map's extent, and lists
// the layers with a switch each. Everything the map says (titles, names, MapServer's errors) is set
// as text, never as markup: a mapfile is written by whoever may upload to the bucket.
import Map from 'ol/Map.js';
import View from 'ol/View.js';
import type ImageWrapper from 'ol/Image.js';
import ImageLayer from 'ol/layer/Image.js';
import ImageWMS from 'ol/source/ImageWMS.js';
import WMSCapabilities from 'ol/format/WMSCapabilities.js';
import { transformExtent } from 'ol/proj.js';
import type { Extent } from 'ol/extent.js';

/** The image's MS_MAP_PATTERN: Apache refuses any other map value before this page loads. */
const MAP_PATH = /^\/mapfiles\/(?:[A-Za-z0-9_-][A-Za-z0-9_.-]*\/)*[A-Za-z0-9_-][A-Za-z0-9_.-]*\.map$/;
/** Web Mercator stops short of the poles. */
const MERCATOR_LATITUDE = 85.05;

interface WmsLayer {
  Name?: string;
  Title?: string;
  CRS?: string[];
  EX_GeographicBoundingBox?: number[];
  Layer?: WmsLayer[];
}

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

const errors: string[] = [];

/** Shows a message in the error panel, as text. */
function showError(message: string): void {
  if (errors.includes(message)) return;
  errors.push(message);
  element<HTMLPreElement>('error-text').textContent = errors.join('\n\n');
  element('error').hidden = false;
}

/** MapServer's own words from an answer that is not what was asked for: an exception report or its HTML error page. */
function mapServerMessage(text: string, contentType: string): string {
  const xml = /xml/.test(contentType) || /^\s*<\?xml/.test(text);
  const doc = new DOMParser().parseFromString(text, xml ? 'application/xml' : 'text/html');
  const exceptions = Array.from(doc.getElementsByTagName('ServiceException'), (e) => (e.textContent ?? '').trim()).filter(Boolean);
  const message = exceptions.length > 0 ? exceptions.join('\n') : (doc.body?.textContent ?? doc.documentElement?.textContent ?? text);
  return message.replace(/[ \t]+\n/g, '\n').trim() || `an empty answer (${contentType || 'no content type'})`;
}

function namedLayers(layer: WmsLayer | undefined): WmsLayer[] {
  if (!layer) return [];
  const children = layer.Layer ?? [];
  if (children.length === 0) return layer.Name ? [layer] : [];
  return children.flatMap(namedLayers);
}

/** The view's projection and the map's extent in it: Web Mercator where the map offers it, else WGS 84. */
function projectionAndExtent(root: WmsLayer): { projection: string; extent: Extent } | undefined {
  const crs = root.CRS ?? [];
  const box = root.EX_GeographicBoundingBox;
  const [west = -180, south = -90, east = 180, north = 90] = box?.length === 4 ? box : [];
  const lonLat: Extent = [west, south, east, north];
  if (crs.includes('EPSG:3857')) {
    const clamped: Extent = [west, Math.max(south, -MERCATOR_LATITUDE), east, Math.min(north, MERCATOR_LATITUDE)];
    return { projection: 'EPSG:3857', extent: transformExtent(clamped, 'EPSG:4326', 'EPSG:3857') };
  }
  if (crs.includes('EPSG:4326')) return { projection: 'EPSG:4326', extent: lonLat };
  return undefined;
}

/** Loads each image with fetch, so an exception report instead of a PNG shows as MapServer's message. */
function loadImage(title: string) {
  return (image: ImageWrapper, src: string): void => {
    const img = image.getImage() as HTMLImageElement;
    fetch(src)
      .then(async (response) => {
        const type = response.headers.get('content-type') ?? '';
        if (!response.ok || !type.startsWith('image/')) {
          showError(`${title}: ${mapServerMessage(await response.text(), type)}`);
          img.src = '';
          return;
        }
        const url = URL.createObjectURL(await response.blob());
        img.addEventListener('load', () => URL.revokeObjectURL(url), { once: true });
        img.src = url;
      })
      .catch((error: unknown) => {
        showError(`${title}: ${String(error)}`);
        img.src = '';
      });
  };
}

async function main(): Promise<void> {
  const map = new URLSearchParams(window.location.search).get('map') ?? '';
  if (!MAP_PATH.test(map)) {
    showError('Name a mapfile under /mapfiles, as WMS requests do: /viewer/?map=/mapfiles/<name>.map');
    return;
  }
  element('map-path').textContent = map;
  const wms = `/wms/?map=${encodeURIComponent(map)}`;
  const response = await fetch(`${wms}&SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities`);
  const text = await response.text();
  if (!response.ok || !text.includes('<WMS_Capabilities')) {
    showError(mapServerMessage(text, response.headers.get('content-type') ?? ''));
    return;
  }
  const capabilities = new WMSCapabilities().read(text) as { Service?: { Title?: string }; Capability?: { Layer?: WmsLayer } };
  const root = capabilities.Capability?.Layer;
  const title = capabilities.Service?.Title || root?.Title || map;
  element('title').textContent = title;
  document.title = `${title} · map viewer`;
  const layers = namedLayers(root);
  const view = root ? projectionAndExtent(root) : undefined;
  if (!root || !view) {
    showError('The map offers neither EPSG:3857 nor EPSG:4326 ("wms_srs" in its WEB METADATA): the viewer draws in one of these.');
    return;
  }
  if (layers.length === 0) showError('The map has no named layer to draw.');

  const list = element<HTMLUListElement>('layer-list');
  const olLayers = layers.map((layer, index) => {
    const name = layer.Name ?? '';
    const label = layer.Title || name;
    const source = new ImageWMS({
      url: wms,
      params: { LAYERS: name, STYLES: '', FORMAT: 'image/png', TRANSPARENT: 'TRUE', VERSION: '1.3.0' },
      projection: view.projection,
      ratio: 1,
      imageLoadFunction: loadImage(label),
    });
    const olLayer = new ImageLayer({ source, zIndex: index, properties: { name } });
    const item = document.createElement('li');
    const labelElement = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.checked = true;
    box.dataset.layer = name;
    box.addEventListener('change', () => olLayer.setVisible(box.checked));
    const caption = document.createElement('span');
    caption.textContent = label;
    caption.title = name;
    labelElement.append(box, caption);
    item.append(labelElement);
    // WMS lists the bottom layer first; the switcher shows the top layer first.
    list.prepend(item);
    return olLayer;
  });
  element('layers').hidden = false;

  const olMap = new Map({
    target: 'map',
    layers: olLayers,
    view: new View({ projection: view.projection }),
  });
  olMap.getView().fit(view.extent, { size: olMap.getSize() ?? [512, 512] });
  olMap.once('rendercomplete', () => document.body.setAttribute('data-rendered', 'true'));
}

main().catch((error: unknown) => showError(`The viewer failed: ${String(error)}`));
