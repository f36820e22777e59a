// CloudFront Function (viewer request, cloudfront-js-2.0) for the image optimizer.
//
// The cache key is the query string, so this puts every image request into one canonical form
// before the cache is consulted: parameter names in lower case, unknown ones dropped, aliases and
// numbers normalised, a fixed order, and `format=auto` settled from the Accept header (CloudFront
// ignores `Vary: Accept`). A value the Lambda would refuse is refused here with the same 400,
// without reaching the origin. template.yaml embeds this file; tests/edge runs it under node.

var PARAMETERS = ['w', 'h', 'q', 'format', 'fit', 'position', 'fx', 'fy', 'dpr', 'frames'];
var MAX_DIMENSION = 4096; // template.yaml puts its MaxDimension parameter here
var FORMATS = { jpeg: 'jpeg', jpg: 'jpeg', png: 'png', webp: 'webp', avif: 'avif', gif: 'gif', auto: 'auto' };
var FORMAT_NAMES = 'jpeg, jpg, png, webp, avif, gif, auto';
var CHOICES = {
    fit: ['cover', 'contain', 'fill', 'inside', 'outside'],
    position: ['center', 'top', 'bottom', 'left', 'right', 'top-left', 'top-right', 'bottom-left',
        'bottom-right', 'entropy', 'attention'],
};
// Each number's form, its range and how a refusal describes it.
var SIDE = [/^[0-9]{1,9}$/, 1, MAX_DIMENSION, 'an integer from 1 to ' + MAX_DIMENSION];
var FRACTION = [/^([01]|[01]?\.[0-9]{1,3})$/, 0, 1, 'a number from 0 to 1 (at most 3 decimals)'];
var NUMBERS = {
    w: SIDE,
    h: SIDE,
    q: [/^[0-9]{1,9}$/, 0, 100, 'an integer from 0 to 100'],
    fx: FRACTION,
    fy: FRACTION,
    dpr: [/^[1-4](\.[0-9])?$/, 1, 4, 'a number from 1 to 4 (at most 1 decimal)'],
};
var ALLOWED = { w: [], h: [], q: [], dpr: [] }; // template.yaml puts its Allowed* parameters here
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
        if (PARAMETERS.indexOf(name) < 0) {
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
        var parameter = PARAMETERS[j];
        if (given[parameter] === undefined) {
            continue;
        }
        var checked = check(parameter, given[parameter]);
        if (checked.error) {
            return { error: checked.error, parameter: parameter };
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
    if (canonical.dpr === '1') {
        delete canonical.dpr; // the density of a plain request
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
        if (canonical[PARAMETERS[k]] !== undefined) {
            canonicalQuery[PARAMETERS[k]] = { value: canonical[PARAMETERS[k]] };
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

function check(name, raw) {
    var number = NUMBERS[name];
    if (number) {
        var valid = number[0].test(raw);
        var allowed = ALLOWED[name] || [];
        if (allowed.length) {
            if (!valid || allowed.indexOf(Number(raw)) < 0) {
                var listed = allowed.slice().sort(function (a, b) { return a - b; }).join(', ');
                return { error: name + ' must be one of ' + listed + ', got ' + shown(raw) };
            }
        } else if (!valid || Number(raw) < number[1] || Number(raw) > number[2]) {
            return { error: name + ' must be ' + number[3] + ', got ' + shown(raw) };
        }
        return { value: String(Number(raw)) }; // 0400 -> 400, .50 -> 0.5, 2.0 -> 2
    }
    if (name === 'frames') {
        if (raw !== '1') {
            return { error: 'frames must be 1 (a still of the first frame), got ' + shown(raw) };
        }
        return { value: raw };
    }
    var lower = raw.toLowerCase();
    if (name === 'format') {
        if (!own(FORMATS, lower)) {
            return { error: 'format must be one of ' + FORMAT_NAMES + ', got ' + shown(raw) };
        }
        return { value: FORMATS[lower] };
    }
    if (CHOICES[name].indexOf(lower) < 0) {
        return { error: name + ' must be one of ' + CHOICES[name].join(', ') + ', got ' + shown(raw) };
    }
    return { value: lower };
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
