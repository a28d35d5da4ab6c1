// The committed CMCD vectors (streammon-core/tests/fixtures/cmcd-vectors.json)
// are what @svta/cml-cmcd encodes today: regenerate them with
// `node scripts/node/cmcd-vectors.mjs` when the library changes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

test('the CMCD vectors match the independent encoder', () => {
  const run = spawnSync(process.execPath, [path.join(HERE, 'cmcd-vectors.mjs'), '--check'], { encoding: 'utf8' });
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
});
