// CMCD test vectors from an independent implementation: the encoder and
// decoder of @svta/cml-cmcd (the SVTA's Common Media Library).
//
//   node scripts/node/cmcd-vectors.mjs            # rewrites the fixture
//   node scripts/node/cmcd-vectors.mjs --check    # fails if it is stale
//
// Each vector is a report encoded three ways (the dictionary text, the
// `CMCD=` query argument, the `CMCD-*` headers) with what the library's
// decoder reads back from the text; streammon-core/tests/cmcd.rs parses
// every form and compares each key with `decoded`.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeCmcd, encodeCmcd, toCmcdHeaders, toCmcdQuery } from '@svta/cml-cmcd';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = path.join(REPO, 'streammon-core/tests/fixtures/cmcd-vectors.json');

const SID = '6e2fb550-c457-11e9-bb97-0800200c9a66';
const CID = 'faec5fc2-ac30-11ea-bb37-0242ac130002';

// Version 1: every key of CTA-5004, as its examples use them.
const v1 = [
  ['v1 every key', { br: 3200, bl: 21300, bs: true, cid: CID, d: 4004, dl: 18500, mtp: 48100, nor: '../300kbps/track.m4v', nrr: '12323-48763', ot: 'v', pr: 1.08, rtp: 12000, sf: 'd', sid: SID, st: 'v', su: true, tb: 6000 }],
  ['v1 audio segment', { br: 128, d: 2000, ot: 'a', sid: SID, sf: 'h', st: 'l', mtp: 900 }],
  ['v1 manifest at startup', { ot: 'm', su: true, sid: SID, cid: CID, sf: 'd', st: 'v' }],
  ['v1 init segment', { ot: 'i', sid: SID, br: 800 }],
  ['v1 stall', { bs: true, bl: 0, br: 300, ot: 'v', sid: SID, rtp: 600, pr: 1 }],
  ['v1 other objects', { ot: 'c', sid: SID }],
  ['v1 key object', { ot: 'k', sid: SID }],
  ['v1 timed text', { ot: 'tt', sid: SID, d: 6000 }],
  ['v1 smooth', { sf: 's', sid: SID, st: 'v' }],
];

// Version 2: lists, player states, event and response reporting.
const v2 = [
  ['v2 request lists', { v: 2, br: [3200, 128], bl: [21300, 15000], mtp: [25400], tb: [6000], lb: [300], tbl: [30000], pb: [3200], sid: SID, cid: CID, sta: 'p', ltc: 3500, dfa: 4, sn: 12, msd: 250, st: 'll', sf: 'd' }],
  ['v2 play state event', { v: 2, e: 'ps', sta: 'r', ts: 1700000000123, sid: SID, cid: CID, pt: 64000, bsa: [2], bsd: [1200], bsda: [3400] }],
  ['v2 error event', { v: 2, e: 'e', ec: ['MEDIA_ERR_DECODE', '4001'], sta: 'f', ts: 1700000000456, sid: SID }],
  ['v2 time interval', { v: 2, e: 't', ts: 1700000030000, sid: SID, cid: CID, br: [1800], bl: [12000], mtp: [9000], pt: 30000, ltc: 4000, dfa: 0, cdn: 'cdn-a', nr: true, bg: true }],
  ['v2 response received', { v: 2, e: 'rr', ts: 1700000000789, sid: SID, rc: 404, ttfb: 35, ttfbb: 40, ttlb: 120, url: 'https://cdn.example/v/seg-17.m4s', cmsdd: 'etp=96', cmsds: 'ot=v', smrt: 'x' }],
  ['v2 next objects', { v: 2, nor: ['seg-18.m4s', 'seg-19.m4s'], sid: SID }],
  ['v2 hostname and custom event', { v: 2, e: 'ce', cen: 'ad-click', h: 'edge-7.cdn.example', ts: 1700000000999, sid: SID }],
  ['v2 starting with preload', { v: 2, e: 'ps', sta: 's', ts: 1700000000001, sid: SID, su: true }],
  ['v2 every state', { v: 2, e: 'ps', sta: 'k', ts: 1700000000002, sid: SID }],
  ['v2 paused', { v: 2, e: 'ps', sta: 'a', ts: 1700000000003, sid: SID }],
  ['v2 ended', { v: 2, e: 'ps', sta: 'e', ts: 1700000000004, sid: SID }],
  ['v2 quit', { v: 2, e: 'ps', sta: 'q', ts: 1700000000005, sid: SID }],
  ['v2 waiting', { v: 2, e: 'ps', sta: 'w', ts: 1700000000006, sid: SID }],
  ['v2 preloading', { v: 2, e: 'ps', sta: 'd', ts: 1700000000007, sid: SID }],
  ['v2 aggregates', { v: 2, ab: [3328], lab: [428], tab: [6128], tpb: [6000], sid: SID, cs: 'x' }],
  ['v2 bitrate change and mute', { v: 2, e: 'bc', ts: 1700000000008, br: [4500], sid: SID }],
  ['v2 hesp', { v: 2, sf: 'e', sid: SID }],
];

function build() {
  const vectors = [];
  for (const [name, data, version] of [...v1.map((c) => [...c, 1]), ...v2.map((c) => [...c, 2])]) {
    const options = { version, reportingMode: data.e ? 'event' : 'request' };
    const dict = encodeCmcd(data, options);
    const query = toCmcdQuery(data, options);
    const headers = data.e ? null : toCmcdHeaders(data, options);
    const decoded = decodeCmcd(dict);
    vectors.push({ name, version, dict, query, headers, decoded });
  }
  return { generator: '@svta/cml-cmcd 2.7.0 (encodeCmcd, toCmcdQuery, toCmcdHeaders, decodeCmcd)', vectors };
}

const text = `${JSON.stringify(build(), null, 1)}\n`;
if (process.argv.includes('--check')) {
  const committed = readFileSync(FIXTURE, 'utf8');
  if (committed !== text) {
    console.error(`${FIXTURE} is not what @svta/cml-cmcd encodes now: run node scripts/node/cmcd-vectors.mjs`);
    process.exit(1);
  }
  console.log(`cmcd vectors: ${build().vectors.length} up to date`);
} else {
  writeFileSync(FIXTURE, text);
  console.log(`wrote ${FIXTURE}`);
}
