// Tests of the CloudFront Function, run with `node --test tests/edge` (pytest runs them too).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { loadHandler, viewerRequest } = require('./harness');

const handler = loadHandler();

function query(pairs) {
    const querystring = {};
    for (const [name, value] of pairs) {
        if (querystring[name]) {
            const first = querystring[name];
            const values = first.multiValue || [{ value: first.value }];
            querystring[name] = { value: first.value, multiValue: [...values, { value }] };
        } else {
            querystring[name] = { value };
        }
    }
    return querystring;
}

function run(pairs, accept, uri = '/images/a/b.jpg') {
    return handler(viewerRequest(uri, query(pairs), accept));
}

function keys(result) {
    return Object.entries(result.querystring).map(([name, entry]) => `${name}=${entry.value}`).join('&');
}

const CHROME = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
const SAFARI = 'image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5';
const FIREFOX = 'image/avif,image/webp,*/*';
const OLD_FIREFOX = 'image/webp,*/*';
const OLD_SAFARI = 'image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5';

test('format=auto follows the Accept header', () => {
    for (const [accept, expected] of [
        [CHROME, 'w=400&format=avif'],
        [SAFARI, 'w=400&format=avif'],
        [FIREFOX, 'w=400&format=avif'],
        [OLD_FIREFOX, 'w=400&format=webp'],
        ['image/avif;q=0,image/webp', 'w=400&format=webp'],
        [OLD_SAFARI, 'w=400'],
        ['*/*', 'w=400'], // curl: the origin keeps the source format
        ['', 'w=400'],
        [undefined, 'w=400'],
    ]) {
        assert.equal(keys(run([['format', 'auto'], ['w', '400']], accept)), expected, String(accept));
    }
});

test('parameters come out in one order, lower case, aliases resolved', () => {
    assert.equal(keys(run([['FORMAT', 'JPG'], ['fit', 'Contain'], ['H', '0300'], ['w', '400']])),
        'w=400&h=300&format=jpeg&fit=contain');
    assert.equal(keys(run([['q', '80'], ['w', '1']])), 'w=1&q=80');
});

test('unknown parameters are dropped, not refused', () => {
    assert.equal(keys(run([['w', '400'], ['utm_source', 'mail'], ['width', '3']])), 'w=400');
});

test('fit is dropped when only one side is given', () => {
    assert.equal(keys(run([['w', '400'], ['fit', 'fill']])), 'w=400');
});

test('crop positions, focal points, densities and stills in their shortest spelling', () => {
    assert.equal(keys(run([['frames', '1'], ['DPR', '2.0'], ['fy', '.50'], ['fx', '0.250'], ['w', '4'], ['h', '3']])),
        'w=4&h=3&fx=0.25&fy=0.5&dpr=2&frames=1');
    assert.equal(keys(run([['position', 'Top-Left'], ['w', '4'], ['h', '3']])), 'w=4&h=3&position=top-left');
    assert.equal(keys(run([['fx', '1'], ['fy', '0.000'], ['dpr', '1.5']])), 'fx=1&fy=0&dpr=1.5');
    assert.equal(keys(run([['w', '400'], ['dpr', '1.0']])), 'w=400'); // the density of a plain request
});

test('values the Lambda refuses get the same 400 here', () => {
    for (const [pairs, message, parameter] of [
        [[['w', 'abc']], "w must be an integer from 1 to 4096, got 'abc'", 'w'],
        [[['w', '0']], "w must be an integer from 1 to 4096, got '0'", 'w'],
        [[['h', '4097']], "h must be an integer from 1 to 4096, got '4097'", 'h'],
        [[['q', '200']], "q must be an integer from 0 to 100, got '200'", 'q'],
        [[['format', 'tiff']], "format must be one of jpeg, jpg, png, webp, avif, gif, auto, json, got 'tiff'", 'format'],
        [[['fit', 'zoom']], "fit must be one of cover, contain, fill, inside, outside, got 'zoom'", 'fit'],
        [[['w', '1'], ['w', '2']], 'w is given more than once', 'w'],
        [[['q', '']], 'q is empty; give it a value or leave it out', 'q'],
        [[['w', '%zz']], 'w has invalid percent-encoding', 'w'],
        [[['position', 'middle']], 'position must be one of center, top, bottom, left, right, top-left, '
            + "top-right, bottom-left, bottom-right, entropy, attention, got 'middle'", 'position'],
        [[['fx', '1.5']], "fx must be a number from 0 to 1 (at most 3 decimals), got '1.5'", 'fx'],
        [[['fy', '0.1234']], "fy must be a number from 0 to 1 (at most 3 decimals), got '0.1234'", 'fy'],
        [[['dpr', '0.5']], "dpr must be a number from 1 to 4 (at most 1 decimal), got '0.5'", 'dpr'],
        [[['dpr', '1e0']], "dpr must be a number from 1 to 4 (at most 1 decimal), got '1e0'", 'dpr'],
        [[['frames', '2']], "frames must be 1 (a still of the first frame), got '2'", 'frames'],
        [[['position', 'top'], ['fy', '0.2']], 'position and fx/fy both say what a crop keeps; give one or the other', 'position'],
        [[['w', '4096'], ['dpr', '1.1']], 'dpr 1.1 makes w 4506, more than 4096', 'dpr'],
        [[['h', '2049'], ['dpr', '2.0']], 'dpr 2.0 makes h 4098, more than 4096', 'dpr'],
    ]) {
        const response = run(pairs);
        assert.equal(response.statusCode, 400);
        assert.equal(response.headers['content-type'].value, 'application/json');
        assert.equal(response.headers['cache-control'].value, 'public, max-age=60');
        const error = JSON.parse(response.body.data).error;
        assert.deepEqual(error, { code: 'invalid_parameter', message, parameter });
    }
});

test('a huge value is cut short in the message', () => {
    const error = JSON.parse(run([['w', '9'.repeat(5000)]]).body.data).error;
    assert.ok(error.message.length < 120);
});

test('other paths pass without their query, which would only split the cache', () => {
    const request = viewerRequest('/health', query([['anything', 'x']]), '');
    const forwarded = handler(request);
    assert.equal(forwarded.uri, '/health');
    assert.equal(Object.keys(forwarded.querystring).length, 0);
});

test('allow-lists narrow w, h and q with the same message as the function', () => {
    const narrowed = loadHandler({ allowed: { w: [1280, 320, 640], q: [80] } });
    const request = (pairs) => narrowed(viewerRequest('/images/a.jpg', query(pairs), ''));
    assert.equal(keys(request([['w', '0640'], ['q', '80']])), 'w=640&q=80');
    const error = JSON.parse(request([['w', '500']]).body.data).error;
    assert.equal(error.message, "w must be one of 320, 640, 1280, got '500'");
    assert.equal(JSON.parse(request([['q', 'x']]).body.data).error.message, "q must be one of 80, got 'x'");
    assert.equal(keys(request([['h', '17']])), 'h=17'); // h is not narrowed
    const dense = loadHandler({ allowed: { dpr: [2, 1.5, 1] } });
    const densities = (pairs) => dense(viewerRequest('/images/a.jpg', query(pairs), ''));
    assert.equal(keys(densities([['w', '400'], ['dpr', '1.5']])), 'w=400&dpr=1.5');
    assert.equal(keys(densities([['w', '400'], ['dpr', '2.0']])), 'w=400&dpr=2');
    assert.equal(JSON.parse(densities([['dpr', '3']]).body.data).error.message, "dpr must be one of 1, 1.5, 2, got '3'");
});

test("names and values that are Object's own properties are plain strings here", () => {
    const builtins = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];
    for (const name of builtins) {
        assert.equal(keys(run([['w', '400'], [name, '1']])), 'w=400', name);
        assert.equal(keys(run([['w', '400'], [name.toUpperCase(), 'x']])), 'w=400', name);
        for (const parameter of ['format', 'fit', 'position', 'fx', 'dpr', 'frames', 'w']) {
            const response = run([[parameter, name]]);
            assert.equal(response.statusCode, 400, `${parameter}=${name}`);
            assert.equal(JSON.parse(response.body.data).error.parameter, parameter);
        }
    }
});

test('the key has one spelling: percent-encoding undone and redone one way', () => {
    for (const [uri, canonical] of [
        ['/images/%6Candscapes/main.jpg', '/images/landscapes/main.jpg'],
        ['/images/landscapes%2Fmain.jpg', '/images/landscapes/main.jpg'],
        ['/images/photos/my%20cat.jpg', '/images/photos/my%20cat.jpg'],
        ['/images/photos/my cat (1).jpg', '/images/photos/my%20cat%20%281%29.jpg'],
        ['/images/caf%C3%A9.jpg', '/images/caf%C3%A9.jpg'],
        ['/images/bad%zz.jpg', '/images/bad%zz.jpg'], // the function answers it with its 400
    ]) {
        assert.equal(run([['w', '10']], '*/*', uri).uri, canonical, uri);
    }
});

test('with signing on, a signature has one spelling and a malformed one goes no further', () => {
    const signing = loadHandler({ signed: true, unsigned: 'none' });
    const ask = (pairs) => signing(viewerRequest('/images/a.jpg', query(pairs), '*/*'));
    assert.equal(keys(ask([['S', 'abc'], ['EXPIRES', '01796457320'], ['w', '4']])), 'w=4&expires=1796457320&s=abc');
    for (const [pairs, message] of [
        [[['w', '4']], 'this service only answers signed URLs; the s parameter is missing'],
        [[['w', '4'], ['s', 'a/b']], 's is not a signature this service makes'],
        [[['w', '4'], ['s', 'abc'], ['expires', '-1']], "expires must be a Unix time in seconds, got '-1'"],
        [[['w', '4'], ['s', 'abc'], ['s', 'abd']], 's is not a signature this service makes'],
        [[['w', '4'], ['expires', '1796457320']], 'this service only answers signed URLs; the s parameter is missing'],
    ]) {
        const refused = ask(pairs);
        assert.equal(refused.statusCode, 403, JSON.stringify(pairs));
        assert.deepEqual(JSON.parse(refused.body.data).error, { code: 'invalid_signature', message });
    }
});

test('with signing off, s and expires are dropped and cannot open what presets close', () => {
    const closed = loadHandler({ signed: false, unsigned: 'presets', presets: 'small:w=40' });
    const ask = (pairs) => closed(viewerRequest('/images/a.jpg', query(pairs), '*/*'));
    assert.equal(keys(ask([['preset', 'small'], ['s', 'abc'], ['expires', '9']])), 'preset=small');
    assert.equal(ask([['w', '4000'], ['s', 'abc']]).statusCode, 403);
});

test('an expires without its s is refused even where unsigned presets are answered', () => {
    const presets = loadHandler({ signed: true, unsigned: 'presets', presets: 'small:w=40' });
    const refused = presets(viewerRequest('/images/a.jpg', query([['preset', 'small'], ['expires', '9']]), '*/*'));
    assert.equal(refused.statusCode, 403);
});
