// Runs the real @pyroscope/nodejs SDK against PYROSCOPE_URL with app name
// and tags from the environment, burning CPU in a named function and
// allocating, then stops the SDK (which flushes the last wall profile) and
// exits. It stops once the file STOP_FILE exists, or after RUN_SECONDS
// (the upper bound): the SDK pushes on a timer and skips a round while the
// previous push is unanswered, so how many profiles a fixed run yields
// depends on the machine's load; the end-to-end test instead lets it run
// until the receiver has written what the test needs, then checks what
// arrived.
'use strict';

const fs = require('fs');
const Pyroscope = require('@pyroscope/nodejs');

const url = process.env.PYROSCOPE_URL;
const seconds = Number(process.env.RUN_SECONDS || '4');
const stopFile = process.env.STOP_FILE;
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

// The SDK's stop() can race its own timer: a profiling round whose timer
// already fired (its setImmediate queued) still runs after stop() stopped
// the profilers, and throws "Wall profiler is not started" (or the heap
// profiler's "not enabled") from a promise nobody awaits, which would end
// Node with status 1. That round exports nothing; only that error, and
// only once stopping has begun, is ignored. Any other unhandled error
// fails the program.
let stopping = false;
const STOP_RACE = /^(Wall profiler is not started|Heap profiler is not enabled)/;
process.on('unhandledRejection', (err) => {
  if (stopping && err instanceof Error && STOP_RACE.test(err.message)) {
    console.error('ignored (a profiling round after stop):', err.message);
    return;
  }
  console.error('unhandled rejection:', err);
  process.exit(1);
});

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
  if (Date.now() < end && !(stopFile && fs.existsSync(stopFile))) {
    setImmediate(step);
    return;
  }
  stopping = true;
  Pyroscope.stop().then(
    () => process.exit(0),
    (err) => {
      console.error('stop failed:', err);
      process.exit(1);
    }
  );
}
step();
