// Loads the CloudFront Function's file as CloudFront does (a script that defines `handler`).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const SOURCE = path.join(__dirname, '..', '..', 'functions', 'edge', 'viewer-request.js');

// `deployment` stands in for the template's parameters: { allowed: { w: [320, 640] },
// listed: { watermark: '{"logo":{"key":"brand/logo.png"}}' }, presets: 'card:w=400',
// unsigned: 'presets', signed: false }, each optional; `file` for the
// function's source (the code as deployed, say).
function loadHandler(deployment = {}, file = SOURCE) {
    let code = fs.readFileSync(file, 'utf8');
    const values = {
        ALLOWED: deployment.allowed && JSON.stringify(deployment.allowed),
        LISTED: deployment.listed && JSON.stringify(deployment.listed),
        PRESETS: deployment.presets !== undefined && `'${deployment.presets}'`,
        UNSIGNED_URLS: deployment.unsigned && `'${deployment.unsigned}'`,
        SIGNED: deployment.signed !== undefined && String(deployment.signed),
    };
    for (const [name, value] of Object.entries(values)) {
        if (value) {
            code = code.replace(new RegExp(`var ${name} ?= ?[^;\n]*;`), `var ${name} = ${value};`);
        }
    }
    const context = vm.createContext({});
    vm.runInContext(code, context, { filename: file });
    return context.handler;
}

function viewerRequest(uri, querystring, accept) {
    const headers = { host: { value: 'd111111abcdef8.cloudfront.net' } };
    if (accept !== undefined) {
        headers.accept = { value: accept };
    }
    return {
        version: '1.0',
        context: { eventType: 'viewer-request' },
        viewer: { ip: '203.0.113.17' },
        request: { method: 'GET', uri, querystring, headers, cookies: {} },
    };
}

module.exports = { loadHandler, viewerRequest };
