// The playground: build the image URL from the controls, fetch it like a browser would, and show
// what came back (dimensions, bytes, the saving, X-Cache and Server-Timing) beside the original.
'use strict';

const $ = (id) => document.getElementById(id);
const controls = $('controls');
const GRID_FORMATS = ['jpeg', 'webp', 'avif'];
let originalBytes = 0;
let pending = 0;
const shownUrls = new Map();

function kilobytes(count) {
  return count < 1024 ? `${count} B` : `${(count / 1024).toFixed(1)} KB`;
}

function imageUrl(formatOverride) {
  const params = new URLSearchParams();
  for (const name of ['w', 'h']) {
    if ($(name).value) params.set(name, $(name).value);
  }
  if (!$('q-default').checked) params.set('q', $('q').value);
  const format = formatOverride === undefined ? $('format').value : formatOverride;
  if (format) params.set('format', format);
  if ($('fit').value && $('w').value && $('h').value) params.set('fit', $('fit').value);
  // In the order the service checks them, so that the URL shown is the canonical one.
  for (const name of ['position', 'fx', 'fy', 'dpr']) {
    if ($(name).value) params.set(name, $(name).value);
  }
  if ($('frames').checked) params.set('frames', '1');
  const key = $('image').value.split('/').map(encodeURIComponent).join('/');
  const query = params.toString();
  return `/images/${key}${query ? `?${query}` : ''}`;
}

async function load(img, url) {
  // Fetched rather than set as src so that the bytes and headers can be shown.
  const response = await fetch(url);
  const blob = await response.blob();
  if (!response.ok) {
    const error = JSON.parse(await blob.text()).error;
    throw new Error(`${response.status} ${error.code}: ${error.message}`);
  }
  const previous = shownUrls.get(img);
  const objectUrl = URL.createObjectURL(blob);
  shownUrls.set(img, objectUrl);
  await new Promise((resolve, reject) => {
    img.onload = resolve;
    img.onerror = () => reject(new Error('the browser could not show this image'));
    img.src = objectUrl;
  });
  if (previous) URL.revokeObjectURL(previous);
  return { bytes: blob.size, headers: response.headers };
}

function describe(img, bytes) {
  return `${img.naturalWidth}x${img.naturalHeight}, ${kilobytes(bytes)}`;
}

function saving(bytes) {
  if (!originalBytes) return '';
  const percent = (100 * (originalBytes - bytes)) / originalBytes;
  return ` (${percent >= 0 ? '−' : '+'}${Math.abs(percent).toFixed(1)}% vs original)`;
}

async function showOriginal() {
  const key = $('image').value.split('/').map(encodeURIComponent).join('/');
  const { bytes } = await load($('original'), `/playground/original/${key}`);
  originalBytes = bytes;
  $('original-caption').textContent = `original: ${describe($('original'), bytes)}`;
}

async function showResult() {
  const url = imageUrl();
  $('url').value = new URL(url, window.location.href).href;
  const { bytes, headers } = await load($('result'), url);
  $('result').dataset.url = url;
  $('result-caption').textContent = `result: ${describe($('result'), bytes)}${saving(bytes)}`;
  const list = $('headers');
  list.replaceChildren();
  for (const name of ['Content-Type', 'X-Cache', 'Server-Timing', 'ETag']) {
    const term = document.createElement('dt');
    term.textContent = name;
    const value = document.createElement('dd');
    value.textContent = headers.get(name) || '—';
    list.append(term, value);
  }
}

async function showGrid() {
  const grid = $('grid');
  if (!grid.children.length) {
    for (const format of GRID_FORMATS) {
      const figure = document.createElement('figure');
      const img = document.createElement('img');
      img.alt = `The image as ${format.toUpperCase()}`;
      img.dataset.format = format;
      const caption = document.createElement('figcaption');
      figure.append(img, caption);
      grid.append(figure);
    }
  }
  await Promise.all([...grid.querySelectorAll('img')].map(async (img) => {
    const caption = img.nextElementSibling;
    try {
      const { bytes } = await load(img, imageUrl(img.dataset.format));
      caption.textContent = `${img.dataset.format}: ${describe(img, bytes)}${saving(bytes)}`;
    } catch (error) {
      caption.textContent = `${img.dataset.format}: ${error.message}`;
    }
  }));
}

async function refresh(withOriginal) {
  const ticket = ++pending;
  $('error').hidden = true;
  try {
    if (withOriginal) await showOriginal();
    await showResult();
    await showGrid();
  } catch (error) {
    if (ticket === pending) {
      $('error').textContent = error.message;
      $('error').hidden = false;
    }
  }
  if (ticket === pending) document.body.dataset.state = 'ready';
}

let timer;
function refreshSoon(withOriginal) {
  document.body.dataset.state = 'loading';
  clearTimeout(timer);
  timer = setTimeout(() => refresh(withOriginal), 200);
}

function syncQuality() {
  $('q').disabled = $('q-default').checked;
  $('q-value').textContent = $('q-default').checked ? 'default' : $('q').value;
}

async function start() {
  const response = await fetch('/playground/images');
  const { images } = await response.json();
  for (const key of images) {
    const option = document.createElement('option');
    option.value = option.textContent = key;
    $('image').append(option);
  }
  syncQuality();
  controls.addEventListener('input', (event) => {
    syncQuality();
    refreshSoon(event.target === $('image'));
  });
  controls.addEventListener('submit', (event) => event.preventDefault());
  $('copy').addEventListener('click', async () => {
    $('url').select();
    try {
      await navigator.clipboard.writeText($('url').value);
      $('copy').textContent = 'Copied';
    } catch {
      document.execCommand('copy');
    }
  });
  if (images.length) await refresh(true);
}

start();
