// The sharp side of tests/benchmarks/edits.py and pipeline.py (here, where sharp is installed).
// Reads one JSON job a line ({ job, input, width, output?, logo?, left?, top? }), runs sharp's
// same operation once, and answers with the milliseconds it took and the output (base64).
'use strict';
const fs = require('node:fs');
const readline = require('node:readline');
const sharp = require('sharp');

sharp.concurrency(1); // one core, as our side has
sharp.cache(false); // no result kept between rounds: each round does the whole work

const inputs = new Map(); // path -> bytes, read once, as the Python side holds its own
const logos = new Map(); // path + width -> the watermark resized, made once per output width

function bytes(path) {
    if (!inputs.has(path)) {
        inputs.set(path, fs.readFileSync(path));
    }
    return inputs.get(path);
}

async function logo(path, width) {
    const key = `${path}@${width}`;
    if (!logos.has(key)) {
        logos.set(key, await sharp(bytes(path)).resize(width).png({ compressionLevel: 0 }).toBuffer());
    }
    return logos.get(key);
}

// The format table's settings (image_optimizer/formats.py): AVIF speed 8 is effort 1, 4:2:0.
const OUTPUTS = {
    jpeg: (image) => image.jpeg({ quality: 80, optimiseCoding: true }),
    webp: (image) => image.webp({ quality: 80, effort: 4 }),
    avif: (image) => image.avif({ quality: 50, effort: 1, chromaSubsampling: '4:2:0' }),
};

// Each as a sharp user would write it for the same answer as ours.
const JOBS = {
    resize: (image, job) => image.autoOrient().resize({ width: job.width, fastShrinkOnLoad: false }),
    rotate: (image, job) => image.autoOrient().rotate(90).resize({ width: job.width, fastShrinkOnLoad: false }),
    flip: (image, job) => image.autoOrient().resize({ width: job.width, fastShrinkOnLoad: false }).flop(),
    grayscale: (image, job) => image.autoOrient().resize({ width: job.width, fastShrinkOnLoad: false }).greyscale(),
    blur: (image, job) => image.autoOrient().resize({ width: job.width, fastShrinkOnLoad: false }).blur(2),
    sharpen: (image, job) => image.autoOrient().resize({ width: job.width, fastShrinkOnLoad: false }).sharpen({ sigma: 1 }),
    bg: (image, job) => image.resize({ width: job.width, fastShrinkOnLoad: false }).flatten({ background: '#336699' }),
    watermark: async (image, job) => {
        const overlay = await logo(job.logo, job.markWidth);
        return image.autoOrient().resize({ width: job.width, fastShrinkOnLoad: false }).composite([{ input: overlay, left: job.left, top: job.top }]);
    },
};

async function run(job) {
    const started = process.hrtime.bigint();
    let image = await JOBS[job.job](sharp(bytes(job.input)), job);
    const output = job.output || 'jpeg';
    if (output === 'jpeg' && job.job !== 'bg') {
        // Alpha onto white, as ours. (sharp's methods set options: a second flatten() would
        // replace the bg job's colour, not add a step.)
        image = image.flatten({ background: '#ffffff' });
    }
    // As ours, a source's colour profile is carried rather than converted to sRGB (sharp's
    // default), which costs a 12 MP Display P3 photo 200 ms and changes every pixel.
    const body = await OUTPUTS[output](image.keepIccProfile()).toBuffer();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    return { ms, output: body.toString('base64') };
}

(async () => {
    // Prepared outside the rounds: a watermark's picture is read and sized once, as ours is.
    const lines = readline.createInterface({ input: process.stdin });
    for await (const line of lines) {
        const job = JSON.parse(line);
        if (job.job === 'watermark') {
            await logo(job.logo, job.markWidth);
        }
        process.stdout.write(JSON.stringify(await run(job)) + '\n');
    }
})();
