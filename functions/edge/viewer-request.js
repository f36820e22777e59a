// CloudFront Function (viewer request, cloudfront-js-2.0) for the image optimizer.
//
// The cache key is the query string, so this puts every image request into one canonical form
// before the cache is consulted: parameter names in lower case, unknown ones dropped, aliases and
// numbers normalised, a fixed order, and `format=auto` settled from the Accept header (CloudFront
// ignores `Vary: Accept`). A value the Lambda would refuse is refused here with the same 400,
// without reaching the origin. template.yaml embeds this file; tests/edge runs it under node.

// BEGIN GENERATED from image_optimizer/parameters.py by embed_in_template.py: do not edit
var MAX_DIMENSION = 4096;
var ALLOWED = { w: [], h: [], q: [], dpr: [] };
// a text parameter's allowed values: the names of the JSON object the template gives
var LISTED = { watermark: '' };
var PRESETS = '';
var UNSIGNED_URLS = 'any';
var SIGNED = true;
// [name, kind, the value that means the same as leaving it out, ...what its kind needs]
var PARAMETERS = [
    ['preset','text',null,/^(?:[a-z0-9][a-z0-9-]{0,31})$/,false,'the name of a preset: a-z, 0-9 and -, at most 32 characters'],
    ['w','number',null,/^(?:[0-9]{1,9})$/,1,MAX_DIMENSION,'an integer from 1 to ' + MAX_DIMENSION],
    ['h','number',null,/^(?:[0-9]{1,9})$/,1,MAX_DIMENSION,'an integer from 1 to ' + MAX_DIMENSION],
    ['q','number',null,/^(?:[0-9]{1,9})$/,0,100,'an integer from 0 to 100'],
    ['format','choice',null,['jpeg','jpg','png','webp','avif','gif','auto','json'],{'jpg':'jpeg'},null],
    ['fit','choice',null,['cover','contain','fill','inside','outside'],{},null],
    ['position','choice',null,['center','top','bottom','left','right','top-left','top-right','bottom-left','bottom-right','entropy','attention'],{},null],
    ['fx','number',null,/^(?:[01]|[01]?\.[0-9]{1,3})$/,0,1,'a number from 0 to 1 (at most 3 decimals)'],
    ['fy','number',null,/^(?:[01]|[01]?\.[0-9]{1,3})$/,0,1,'a number from 0 to 1 (at most 3 decimals)'],
    ['dpr','number','1',/^(?:[1-4](\.[0-9])?)$/,1,4,'a number from 1 to 4 (at most 1 decimal)'],
    ['frames','choice',null,['1'],{},'1 (a still of the first frame)'],
    ['rotate','choice','0',['0','90','180','270'],{},null],
    ['flip','choice',null,['h','v','hv'],{},null],
    ['grayscale','choice',null,['1'],{},'1 (no colour)'],
    ['blur','number',null,/^(?:[0-9]{1,3}(\.[0-9])?)$/,0.3,100,'a number from 0.3 to 100 (at most 1 decimal)'],
    ['sharpen','number',null,/^(?:[0-9]{1,2}(\.[0-9])?)$/,0.5,10,'a number from 0.5 to 10 (at most 1 decimal)'],
    ['bg','text',null,/^(?:[0-9a-f]{6}([0-9a-f]{2})?)$/,false,'a colour as RRGGBB or RRGGBBAA in hex'],
    ['watermark','text',null,/^(?:[a-z0-9][a-z0-9_-]{0,31})$/,false,'the name of a watermark: a-z, 0-9, _ and -, at most 32 characters'],
];
var BY_NAME = {};
PARAMETERS.forEach(function (p) { BY_NAME[p[0]] = p; });
// END GENERATED
var SHOWN_VALUE_CHARS = 40;
// A signed URL's parameters, when signing is on: forwarded (in the cache key) in their one
// spelling, for the function to check the signature; any other form is refused here.
var SIGNING = { s: /^[A-Za-z0-9_-]{1,128}$/, expires: /^[0-9]{1,12}$/ };
var PRESET_PARAMETERS = {}; // name -> its parameters, as the template gives them
PRESETS.split(' ').forEach(function (p) {
    if (p) {
        PRESET_PARAMETERS[p.split(':')[0]] = parsed(p.slice(p.indexOf(':') + 1));
    }
});
var PRESET_NAMES = Object.keys(PRESET_PARAMETERS).sort();
Object.keys(LISTED).forEach(function (name) {
    try {
        ALLOWED[name] = Object.keys(JSON.parse(LISTED[name] || '{}')).sort();
    } catch (e) {
        ALLOWED[name] = []; // the function refuses to start on it, and names it
    }
});

function handler(event) {
    var request = event.request;
    if (request.uri.indexOf('/images/') !== 0) {
        request.querystring = {}; // read by nothing there, and the whole query is the cache key
        return request;
    }
    var result = normalise(request.querystring || {}, header(request.headers, 'accept'));
    if (result.error) {
        return refusal(result.status || 400, result.code || 'invalid_parameter', result.error, result.parameter);
    }
    request.uri = canonicalPath(request.uri);
    request.querystring = result.querystring;
    return request;
}

// Each segment of the key percent-encoded one way (as the invalidations write it), so that
// /images/%6Ca.jpg and /images/a%2Fb.jpg are the cache entries of /images/la.jpg and /images/a/b.jpg.
function canonicalPath(uri) {
    var key;
    try {
        key = decodeURIComponent(uri.slice(8)); // a + in a path is a +, not a space
    } catch (e) {
        return uri; // the function answers it with its 400
    }
    return '/images/' + key.split('/').map(function (segment) {
        return encodeURIComponent(segment).replace(/[!'()*]/g, function (c) {
            return '%' + c.charCodeAt(0).toString(16).toUpperCase();
        });
    }).join('/');
}

function normalise(querystring, accept) {
    var given = {};
    var signed = {};
    var names = Object.keys(querystring);
    for (var i = 0; i < names.length; i++) {
        var name = decoded(names[i]);
        if (name === null) {
            continue; // not a parameter we know, so not one that reaches the origin either
        }
        name = name.toLowerCase();
        var entry = querystring[names[i]];
        if (SIGNED && own(SIGNING, name)) {
            if (!SIGNING[name].test(entry.value) || (entry.multiValue && entry.multiValue.length > 1)) {
                return forbidden(name === 's' ? 's is not a signature this service makes' : 'expires must be a Unix time in seconds, got ' + shown(entry.value.slice(0, 20)));
            }
            signed[name] = name === 'expires' ? String(Number(entry.value)) : entry.value; // 0179... is 179...
            continue;
        }
        if (!own(BY_NAME, name)) {
            continue; // utm_source and friends: dropped, they would only split the cache
        }
        if (given[name] !== undefined || (entry.multiValue && entry.multiValue.length > 1)) {
            return { error: name + ' is given more than once', parameter: name };
        }
        var value = decoded(entry.value);
        if (value === null) {
            return { error: name + ' has invalid percent-encoding', parameter: name };
        }
        if (value === '') {
            return { error: name + ' is empty; give it a value or leave it out', parameter: name };
        }
        given[name] = value;
    }
    var canonical = {};
    for (var j = 0; j < PARAMETERS.length; j++) {
        var parameter = PARAMETERS[j][0];
        if (given[parameter] === undefined) {
            continue;
        }
        var checked = check(PARAMETERS[j], given[parameter]);
        if (checked.error) {
            return { error: parameter + ' must be ' + checked.error + ', got ' + shown(given[parameter]), parameter: parameter };
        }
        canonical[parameter] = checked.value;
    }
    // The rules between parameters see a preset's parameters in its place (the URL's win).
    var preset = {};
    if (canonical.preset !== undefined) {
        if (!own(PRESET_PARAMETERS, canonical.preset)) {
            var known = PRESET_NAMES.length ? PRESET_NAMES.join(', ') : 'none: this deployment has no presets';
            return { error: 'preset must be one of ' + known + ', got ' + shown(canonical.preset), parameter: 'preset' };
        }
        preset = PRESET_PARAMETERS[canonical.preset];
    }
    var effective = {};
    [preset, canonical].forEach(function (from) {
        Object.keys(from).forEach(function (n) { effective[n] = from[n]; });
    });
    if (effective.position !== undefined && (effective.fx !== undefined || effective.fy !== undefined)) {
        return { error: 'position and fx/fy both say what a crop keeps; give one or the other', parameter: 'position' };
    }
    var sides = ['w', 'h'];
    for (var s = 0; s < sides.length && effective.dpr !== undefined; s++) {
        // As the Lambda rounds a side times the density: half up.
        var side = Math.floor(Number(effective[sides[s]]) * Number(effective.dpr) + 0.5);
        if (side > MAX_DIMENSION) {
            var density = given.dpr === undefined ? effective.dpr : given.dpr;
            return { error: 'dpr ' + density + ' makes ' + sides[s] + ' ' + side + ', more than ' + MAX_DIMENSION, parameter: 'dpr' };
        }
    }
    if (canonical.fit !== undefined && canonical.preset === undefined && (canonical.w === undefined || canonical.h === undefined)) {
        delete canonical.fit; // with one side, every fit gives the same image
    }
    for (var k = 0; k < PARAMETERS.length && canonical.preset === undefined; k++) {
        if (canonical[PARAMETERS[k][0]] === PARAMETERS[k][2]) {
            delete canonical[PARAMETERS[k][0]]; // dpr=1 means the same as leaving it out
        }
    }
    if (signed.s === undefined && signed.expires !== undefined) {
        return forbidden('this service only answers signed URLs; the s parameter is missing'); // as the function
    }
    if (signed.s === undefined) {
        var refused = unsigned(canonical);
        if (refused) {
            return refused;
        }
    }
    if (canonical.format === 'auto') {
        var negotiated = negotiate(accept);
        if (negotiated) {
            canonical.format = negotiated;
        } else {
            delete canonical.format; // the origin keeps the source's own format
        }
    }
    var canonicalQuery = {};
    Object.keys(canonical).forEach(function (n) { canonicalQuery[n] = { value: canonical[n] }; });
    if (signed.expires !== undefined) {
        canonicalQuery.expires = { value: signed.expires };
    }
    if (signed.s !== undefined) {
        canonicalQuery.s = { value: signed.s };
    }
    return { querystring: canonicalQuery };
}

var PRESETS_ONLY = 'without a signature, a URL may name a preset and a format only';

// What an unsigned URL may ask for (UNSIGNED_URLS): anything, a preset and a format, or nothing.
function unsigned(canonical) {
    if (UNSIGNED_URLS === 'none') {
        return forbidden('this service only answers signed URLs; the s parameter is missing');
    }
    if (UNSIGNED_URLS === 'presets') {
        var names = Object.keys(canonical);
        for (var i = 0; i < names.length; i++) {
            if (names[i] !== 'preset' && names[i] !== 'format') {
                return forbidden(PRESETS_ONLY + ': ' + names[i] + ' needs a signed URL', 'signature_required');
            }
        }
        if (canonical.preset === undefined) {
            return forbidden(PRESETS_ONLY + ': name one of ' + PRESET_NAMES.join(', '), 'signature_required');
        }
    }
    return null;
}

function forbidden(message, code) {
    return { status: 403, code: code || 'invalid_signature', error: message };
}

// `parameter` is an entry of PARAMETERS: [name, kind, neutral value, ...what its kind needs].
// Returns the value in canonical form, or in `error` what the parameter allows.
function check(parameter, raw) {
    var kind = parameter[1];
    if (kind === 'number') { // [.., pattern, low, high, description]
        var valid = parameter[3].test(raw);
        var allowed = ALLOWED[parameter[0]] || [];
        if (allowed.length) {
            if (!valid || allowed.indexOf(Number(raw)) < 0) {
                return { error: 'one of ' + allowed.slice().sort(function (a, b) { return a - b; }).join(', ') };
            }
        } else if (!valid || Number(raw) < parameter[4] || Number(raw) > parameter[5]) {
            return { error: parameter[6] };
        }
        return { value: String(Number(raw)) }; // 0400 -> 400, .50 -> 0.5, 2.0 -> 2
    }
    if (kind === 'choice') { // [.., choices, aliases, description or null: the choices]
        var lower = raw.toLowerCase();
        if (parameter[3].indexOf(lower) < 0) {
            return { error: parameter[5] || 'one of ' + parameter[3].join(', ') };
        }
        return { value: own(parameter[4], lower) ? parameter[4][lower] : lower };
    }
    // text: [.., pattern, whether case matters, description]
    var text = parameter[4] ? raw : raw.toLowerCase();
    if (!parameter[3].test(text)) {
        return { error: parameter[5] };
    }
    var names = ALLOWED[parameter[0]];
    if (names && names.indexOf(text) < 0) {
        return { error: names.length ? 'one of ' + names.join(', ') : parameter[5] + ' (this deployment has none)' };
    }
    return { value: text };
}

function negotiate(accept) {
    if (accepts(accept, 'image/avif')) {
        return 'avif';
    }
    if (accepts(accept, 'image/webp')) {
        return 'webp';
    }
    return null;
}

function accepts(accept, mimeType) {
    var items = (accept || '').split(',');
    for (var i = 0; i < items.length; i++) {
        var parts = items[i].split(';');
        if (parts[0].trim().toLowerCase() !== mimeType) {
            continue;
        }
        for (var j = 1; j < parts.length; j++) {
            var option = parts[j].split('=');
            if (option[0].trim().toLowerCase() === 'q') {
                var quality = option.slice(1).join('=').trim();
                return /^([0-9]+(\.[0-9]*)?|\.[0-9]+)$/.test(quality) && parseFloat(quality) > 0;
            }
        }
        return true;
    }
    return false;
}

// Names and values come from the URL: `constructor` or `__proto__` must not find Object's own.
function own(object, key) {
    return Object.prototype.hasOwnProperty.call(object, key);
}

function header(headers, name) {
    return headers && headers[name] ? headers[name].value : '';
}

// A preset's parameters as the template writes them: w=400&h=300 -> { w: '400', h: '300' }.
function parsed(query) {
    var parameters = {};
    query.split('&').forEach(function (pair) {
        var at = pair.indexOf('=');
        if (at > 0) {
            parameters[pair.slice(0, at)] = pair.slice(at + 1);
        }
    });
    return parameters;
}

function decoded(text) {
    try {
        return decodeURIComponent(text.replace(/\+/g, ' '));
    } catch (e) {
        return null;
    }
}

function shown(value) {
    var text = value.length > SHOWN_VALUE_CHARS ? value.slice(0, SHOWN_VALUE_CHARS) + '...' : value;
    return "'" + text.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

function refusal(status, code, message, parameter) {
    var body = { error: { code: code, message: message, parameter: parameter } };
    return {
        statusCode: status,
        headers: {
            'content-type': { value: 'application/json' },
            'cache-control': { value: 'public, max-age=60' },
        },
        body: { encoding: 'text', data: JSON.stringify(body) },
    };
}
