// The playground: build the image URL from the controls, fetch it like a browser would, and show
// what came back (dimensions, bytes, the saving, X-Cache and Server-Timing) beside the original.
'use strict';

const $ = (id) => document.getElementById(id);
const controls = $('controls');
const GRID_FORMATS = ['jpeg', 'webp', 'avif'];
// What the page starts with: a width and a format most pages would ask for.
const INITIAL = { w: '400', format: 'webp' };
let parameters = [];
let originalBytes = 0;
let pending = 0;
const shownUrls = new Map();

function kilobytes(count) {
  return count < 1024 ? `${count} B` : `${(count / 1024).toFixed(1)} KB`;
}

// A control for one parameter of the service's table: a checkbox for a parameter with one
// value, a list for choices, a number field for numbers, a text field otherwise.
function control(parameter) {
  const label = document.createElement('label');
  label.htmlFor = parameter.name;
  const name = document.createElement('code');
  name.textContent = parameter.name;
  const meaning = document.createElement('span');
  meaning.className = 'meaning';
  meaning.textContent = parameter.meaning.replaceAll('`', '');
  label.append(name, ' ', meaning);
  let input;
  if (parameter.kind === 'choice' && parameter.choices.length === 1) {
    input = document.createElement('input');
    input.type = 'checkbox';
    input.value = parameter.choices[0];
  } else if (parameter.kind === 'choice') {
    input = document.createElement('select');
    input.append(new Option('—', ''), ...parameter.choices.map((choice) => new Option(choice, choice)));
  } else {
    input = document.createElement('input');
    if (parameter.kind === 'number') {
      Object.assign(input, { type: 'number', min: parameter.low, max: parameter.high });
      input.step = parameter.decimals ? 10 ** -parameter.decimals : 1;
    }
    input.placeholder = '—';
  }
  input.id = input.name = parameter.name;
  if (INITIAL[parameter.name]) input.value = INITIAL[parameter.name];
  return [label, input];
}

function valueOf(name) {
  const input = $(name);
  return input.type === 'checkbox' ? (input.checked ? input.value : '') : input.value;
}

function imageUrl(formatOverride) {
  const params = new URLSearchParams();
  // In the table's order, the order the service checks them in and writes them back.
  for (const { name } of parameters) {
    const value = name === 'format' && formatOverride !== undefined ? formatOverride : valueOf(name);
    if (value) params.set(name, value);
  }
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
  // format=json: the facts, shown through their placeholder (a data URL).
  const facts = response.headers.get('Content-Type') === 'application/json'
    ? JSON.parse(await blob.text()) : null;
  const previous = shownUrls.get(img);
  const objectUrl = facts ? facts.placeholder : URL.createObjectURL(blob);
  shownUrls.set(img, objectUrl);
  await new Promise((resolve, reject) => {
    img.onload = resolve;
    img.onerror = () => reject(new Error('the browser could not show this image'));
    img.src = objectUrl;
  });
  if (previous && previous.startsWith('blob:')) URL.revokeObjectURL(previous);
  return { bytes: blob.size, headers: response.headers, facts };
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
  const { bytes, headers, facts } = await load($('result'), url);
  $('result').dataset.url = url;
  $('result-caption').textContent = facts
    ? `facts (placeholder shown): ${JSON.stringify({ ...facts, placeholder: undefined })}`
    : `result: ${describe($('result'), bytes)}${saving(bytes)}`;
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

async function start() {
  parameters = (await (await fetch('/playground/parameters')).json()).parameters;
  controls.append(...parameters.flatMap(control));
  const response = await fetch('/playground/images');
  const { images } = await response.json();
  for (const key of images) {
    const option = document.createElement('option');
    option.value = option.textContent = key;
    $('image').append(option);
  }
  controls.addEventListener('input', (event) => {
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
