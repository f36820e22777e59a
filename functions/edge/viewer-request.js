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
// [name, kind, the value that means the same as leaving it out, ...what its kind needs]
var PARAMETERS = [
    ['w', 'number', null, /^(?:[0-9]{1,9})$/, 1, MAX_DIMENSION, 'an integer from 1 to ' + MAX_DIMENSION],
    ['h', 'number', null, /^(?:[0-9]{1,9})$/, 1, MAX_DIMENSION, 'an integer from 1 to ' + MAX_DIMENSION],
    ['q', 'number', null, /^(?:[0-9]{1,9})$/, 0, 100, 'an integer from 0 to 100'],
    ['format', 'choice', null, ['jpeg', 'jpg', 'png', 'webp', 'avif', 'gif', 'auto'], {'jpg': 'jpeg'}, 'one of jpeg, jpg, png, webp, avif, gif, auto'],
    ['fit', 'choice', null, ['cover', 'contain', 'fill', 'inside', 'outside'], {}, 'one of cover, contain, fill, inside, outside'],
    ['position', 'choice', null, ['center', 'top', 'bottom', 'left', 'right', 'top-left', 'top-right', 'bottom-left', 'bottom-right', 'entropy', 'attention'], {}, 'one of center, top, bottom, left, right, top-left, top-right, bottom-left, bottom-right, entropy, attention'],
    ['fx', 'number', null, /^(?:[01]|[01]?\.[0-9]{1,3})$/, 0, 1, 'a number from 0 to 1 (at most 3 decimals)'],
    ['fy', 'number', null, /^(?:[01]|[01]?\.[0-9]{1,3})$/, 0, 1, 'a number from 0 to 1 (at most 3 decimals)'],
    ['dpr', 'number', '1', /^(?:[1-4](\.[0-9])?)$/, 1, 4, 'a number from 1 to 4 (at most 1 decimal)'],
    ['frames', 'choice', null, ['1'], {}, '1 (a still of the first frame)'],
];
var BY_NAME = {};
PARAMETERS.forEach(function (p) { BY_NAME[p[0]] = p; });
// END GENERATED
var SHOWN_VALUE_CHARS = 40;
// A signed URL's parameters pass through as they are; the function checks them. They reach it
// only when the template puts them in the cache key, which it does when signing is on.
var SIGNING = { expires: /^[0-9]{1,12}$/, s: /^[A-Za-z0-9_-]{1,128}$/ };

function handler(event) {
    var request = event.request;
    if (request.uri.indexOf('/images/') !== 0) {
        request.querystring = {}; // read by nothing there, and the whole query is the cache key
        return request;
    }
    var result = normalise(request.querystring || {}, header(request.headers, 'accept'));
    if (result.error) {
        return refusal(result.error, result.parameter);
    }
    request.querystring = result.querystring;
    return request;
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
        if (own(SIGNING, name)) {
            if (SIGNING[name].test(querystring[names[i]].value)) {
                signed[name] = querystring[names[i]].value;
            }
            continue;
        }
        if (!own(BY_NAME, name)) {
            continue; // utm_source and friends: dropped, they would only split the cache
        }
        var entry = querystring[names[i]];
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
    if (canonical.position !== undefined && (canonical.fx !== undefined || canonical.fy !== undefined)) {
        return { error: 'position and fx/fy both say what a crop keeps; give one or the other', parameter: 'position' };
    }
    var sides = ['w', 'h'];
    for (var s = 0; s < sides.length && canonical.dpr !== undefined; s++) {
        // As the Lambda rounds a side times the density: half up.
        var side = Math.floor(Number(canonical[sides[s]]) * Number(canonical.dpr) + 0.5);
        if (side > MAX_DIMENSION) {
            return { error: 'dpr ' + given.dpr + ' makes ' + sides[s] + ' ' + side + ', more than ' + MAX_DIMENSION, parameter: 'dpr' };
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
    if (canonical.fit !== undefined && (canonical.w === undefined || canonical.h === undefined)) {
        delete canonical.fit; // with one side, every fit gives the same image
    }
    var canonicalQuery = {};
    for (var k = 0; k < PARAMETERS.length; k++) {
        var entry = PARAMETERS[k];
        // A value that means the same as leaving it out (dpr=1) is left out.
        if (canonical[entry[0]] !== undefined && canonical[entry[0]] !== entry[2]) {
            canonicalQuery[entry[0]] = { value: canonical[entry[0]] };
        }
    }
    if (signed.expires !== undefined) {
        canonicalQuery.expires = { value: signed.expires };
    }
    if (signed.s !== undefined) {
        canonicalQuery.s = { value: signed.s };
    }
    return { querystring: canonicalQuery };
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
    if (kind === 'choice') { // [.., choices, aliases, description]
        var lower = raw.toLowerCase();
        if (parameter[3].indexOf(lower) < 0) {
            return { error: parameter[5] };
        }
        return { value: own(parameter[4], lower) ? parameter[4][lower] : lower };
    }
    // text: [.., pattern, whether case matters, description]
    var text = parameter[4] ? raw : raw.toLowerCase();
    return parameter[3].test(text) ? { value: text } : { error: parameter[5] };
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

function refusal(message, parameter) {
    var body = { error: { code: 'invalid_parameter', message: message, parameter: parameter } };
    return {
        statusCode: 400,
        statusDescription: 'Bad Request',
        headers: {
            'content-type': { value: 'application/json' },
            'cache-control': { value: 'public, max-age=60' },
        },
        body: { encoding: 'text', data: JSON.stringify(body) },
    };
}
