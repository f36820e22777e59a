// Loads the CloudFront Function's file as CloudFront does (a script that defines `handler`).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const SOURCE = path.join(__dirname, '..', '..', 'functions', 'edge', 'viewer-request.js');

// `allowed` stands in for the template's Allowed* parameters: { w: [320, 640], ... }.
function loadHandler(allowed) {
    let code = fs.readFileSync(SOURCE, 'utf8');
    if (allowed) {
        const lists = { w: [], h: [], q: [], dpr: [], ...allowed };
        code = code.replace('var ALLOWED = { w: [], h: [], q: [], dpr: [] };', `var ALLOWED = ${JSON.stringify(lists)};`);
    }
    const context = vm.createContext({});
    vm.runInContext(code, context, { filename: SOURCE });
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
