// Loads the CloudFront Function's file as CloudFront does (a script that defines `handler`).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const SOURCE = path.join(__dirname, '..', '..', 'functions', 'edge', 'viewer-request.js');

// `allowed` stands in for the template's Allowed* parameters: { w: [320, 640], ... }; `file`
// for the function's source (the code as deployed, say).
function loadHandler(allowed, file = SOURCE) {
    let code = fs.readFileSync(file, 'utf8');
    if (allowed) {
        code = code.replace(/var ALLOWED = \{[^\n]*\};/, `var ALLOWED = ${JSON.stringify(allowed)};`);
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
