#!/usr/bin/env node
'use strict';
/**
 * Every `lo` command is done when main() resolves, so the process exits then, once stdout and
 * stderr have taken everything written (the write callbacks come in order). Without the explicit
 * exit an idle timer of a dependency could keep it alive: after a large Redis reply, ioredis's
 * reply parser shrinks its buffer on a 50 ms interval for one to three seconds.
 */
function exit(code) {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

// A reader that goes away early (`lo kvs keys | head -1`): stop quietly, as other command-line
// tools do, instead of dying on an unhandled EPIPE error with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

require('../dist/main.js').main(process.argv).then(exit, (err) => {
  console.error(err && err.stack ? err.stack : err);
  exit(70);
});
