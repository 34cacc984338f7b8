// Runs the real @pyroscope/nodejs SDK for a few seconds against
// PYROSCOPE_URL with app name and tags from the environment, burning CPU
// in a named function and allocating, then stops the SDK (which flushes
// the last profiles) and exits. The end-to-end test checks what arrives.
'use strict';

const Pyroscope = require('@pyroscope/nodejs');

const url = process.env.PYROSCOPE_URL;
const seconds = Number(process.env.RUN_SECONDS || '4');
if (!url) {
  console.error('PYROSCOPE_URL is required');
  process.exit(2);
}

Pyroscope.init({
  serverAddress: url,
  appName: process.env.APP_NAME || 'node-e2e',
  tags: { region: 'eu-north-1', team: 'profiling' },
  flushIntervalMs: 1000,
  basicAuthUser: process.env.PYRO_USER,
  basicAuthPassword: process.env.PYRO_PASS,
  tenantID: process.env.PYRO_TENANT,
  heap: { samplingIntervalBytes: 4096 },
  wall: { collectCpuTime: true },
});
Pyroscope.start();

const keep = [];
function burnCpuInNamedFunction(until) {
  let x = 1;
  while (Date.now() < until) {
    for (let i = 0; i < 100000; i++) x = (x * 1103515245 + 12345) % 2147483648;
  }
  return x;
}
function allocateBuffers() {
  for (let i = 0; i < 2000; i++) keep.push(Buffer.alloc(1024 + (i % 512)));
  if (keep.length > 20000) keep.splice(0, 10000);
}

const end = Date.now() + seconds * 1000;
function step() {
  burnCpuInNamedFunction(Date.now() + 50);
  allocateBuffers();
  if (Date.now() < end) {
    setImmediate(step);
    return;
  }
  Pyroscope.stop().then(
    () => process.exit(0),
    (err) => {
      console.error('stop failed:', err);
      process.exit(1);
    }
  );
}
step();
