// The peer of the cold-start benchmark: what a Node 20 Lambda with sharp and the AWS SDK v3
// (the AWS Serverless Image Handler's stack) does for its first request in a new process.
// Usage: node first_request.js s3|folder WHERE KEY WIDTH
// Prints one JSON line of milliseconds since the process started, by phase.
'use strict';
const started = performance.timeOrigin + performance.now();
const mark = () => performance.timeOrigin + performance.now();
const [source, where, key, width] = process.argv.slice(2);

async function main() {
    const beforeImports = mark();
    const sharp = require('sharp');
    const s3 = source === 's3' ? require('@aws-sdk/client-s3') : null;
    const fs = require('node:fs/promises');
    const imported = mark();
    let client = null;
    if (s3) {
        client = new s3.S3Client({
            region: process.env.AWS_REGION || 'us-east-1',
            endpoint: process.env.AWS_ENDPOINT_URL_S3,
            forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3),
        });
    }
    const built = mark();
    let data;
    if (s3) {
        const object = await client.send(new s3.GetObjectCommand({ Bucket: where, Key: key }));
        data = await object.Body.transformToByteArray();
    } else {
        data = await fs.readFile(`${where}/${key}`);
    }
    const fetched = mark();
    const body = await sharp(data).rotate().resize({ width: Number(width) }).webp({ quality: 80, effort: 4 }).toBuffer();
    const made = mark();
    process.stdout.write(JSON.stringify({
        interpreter: performance.timeOrigin - 0, // replaced by the caller with its own clock
        started,
        imports: imported - beforeImports,
        clients: built - imported,
        fetch: fetched - built,
        transform: made - fetched,
        bytes: body.length,
        done: made,
    }) + '\n');
}

main().catch((error) => {
    process.stderr.write(String(error && error.stack || error) + '\n');
    process.exit(1);
});
