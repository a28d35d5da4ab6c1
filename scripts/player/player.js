// dash.js 5 player with CMCD v2 (request mode + event mode) for the
// streammon end-to-end test. Query parameters of the page:
//   cid=ID           content id (default cmcd-e2e-clip)
//   sid=ID           session id (default: a fresh UUID)
//   mode=query|headers   request-mode transmission (default query)
//   collector=URL    event-mode target (default /cmcd on this origin)
//   interval=S       time-interval event period in seconds (default 2)
//   manifest=URL     what to play (default manifest.mpd)
//   buffer=S         forward buffer target in seconds (default 8, so a
//                    throttled network drains it and stalls within seconds)
//   debug=1          dash.js debug logging
// The state the test reads is window.e2e (see `state` below).
(function () {
  'use strict';
  const q = new URLSearchParams(location.search);
  const uuid = () => (crypto.randomUUID ? crypto.randomUUID()
    : 'xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx'.replace(/x/g, () => ((Math.random() * 16) | 0).toString(16)));
  const cid = q.get('cid') || 'cmcd-e2e-clip';
  const sid = q.get('sid') || uuid();
  // dash.js compares against Constants.CMCD_MODE_HEADERS, which is 'headers'
  // (its index.d.ts says 'header', which silently falls back to query mode).
  const mode = q.get('mode') === 'headers' ? 'headers' : 'query';
  const collector = new URL(q.get('collector') || '/cmcd', location.href).href;
  const interval = Number(q.get('interval') || 2);
  // Absolute: dash.js's CMCD reporter builds `new URL(request.url)`, which
  // throws on a relative URL, and the manifest request then goes without CMCD.
  const manifest = new URL(q.get('manifest') || 'manifest.mpd', location.href).href;
  const bufferS = Number(q.get('buffer') || 8);

  const video = document.getElementById('video');
  const state = {
    cid, sid, mode, collector,
    created: Date.now(),
    started: false,        // the first `playing`
    startupMs: null,       // attach to first `playing`, as the page saw it
    playing: false,
    ended: false,
    currentTime: 0,
    bufferLevel: 0,        // seconds of video ahead of the playhead
    bitrateKbps: null,     // current video rendition's nominal bitrate
    height: null,
    stalls: 0,             // `waiting` events after the first `playing`
    stalledMs: 0,          // time spent waiting after the first `playing`
    waitingSince: null,
    qualityChanges: 0,
    errors: [],
    // Event-mode reports to the collector, as the browser saw them (a CORS
    // refusal shows as status 0).
    reports: { sent: 0, ok: 0, failed: 0, statuses: {} },
    log: [],
  };
  window.e2e = state;
  const note = (msg) => {
    state.log.push(`${((Date.now() - state.created) / 1000).toFixed(1)}s ${msg}`);
    if (state.log.length > 200) state.log.shift();
  };

  // Count the event-mode reports, whichever loader dash.js uses.
  const isReport = (url) => { try { return new URL(url, location.href).href === collector; } catch (_) { return false; } };
  const count = (status) => {
    state.reports.statuses[status] = (state.reports.statuses[status] || 0) + 1;
    if (status >= 200 && status < 300) state.reports.ok++; else state.reports.failed++;
  };
  const open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    if (method === 'POST' && isReport(url)) {
      state.reports.sent++;
      this.addEventListener('loadend', () => count(this.status));
    }
    return open.call(this, method, url, ...rest);
  };
  const realFetch = window.fetch.bind(window);
  window.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input.url;
    const method = (init && init.method) || (typeof input === 'string' ? 'GET' : input.method);
    if (method === 'POST' && isReport(url)) {
      state.reports.sent++;
      return realFetch(input, init).then((r) => { count(r.status); return r; }, (e) => { count(0); throw e; });
    }
    return realFetch(input, init);
  };

  const player = dashjs.MediaPlayer().create();
  window.e2ePlayer = player;
  player.updateSettings({
    debug: { logLevel: q.get('debug') ? dashjs.Debug.LOG_LEVEL_DEBUG : dashjs.Debug.LOG_LEVEL_WARNING },
    streaming: {
      buffer: {
        bufferTimeDefault: bufferS,
        bufferTimeAtTopQuality: bufferS,
        bufferTimeAtTopQualityLongForm: bufferS,
      },
      cmcd: {
        enabled: true,
        version: 2,
        cid,
        sid,
        mode,
        includeInRequests: ['segment', 'mpd'],
        eventTargets: [{
          url: collector,
          // play state, time interval, error, bitrate change
          events: ['ps', 't', 'e', 'bc'],
          interval,
          batchSize: 1,
          // An event target sends only its enabledKeys (plus e, ts, v):
          // with none it would post bare `e=t,ts=…,v=2` lines.
          enabledKeys: ['br', 'bl', 'mtp', 'cid', 'sid', 'sta', 'sn', 'ot', 'tb', 'pr', 'sf', 'st', 'su', 'd', 'dl', 'msd', 'ltc', 'dfa', 'ec'],
        }],
      },
    },
  });

  const ev = dashjs.MediaPlayer.events;
  player.on(ev.ERROR, (e) => {
    const err = e && e.error ? { code: e.error.code, message: e.error.message } : { message: String(e) };
    state.errors.push(err);
    note(`error ${JSON.stringify(err)}`);
  });
  player.on(ev.QUALITY_CHANGE_RENDERED, (e) => {
    if (e.mediaType !== 'video') return;
    state.qualityChanges++;
    const rep = e.newRepresentation;
    if (rep) {
      state.bitrateKbps = Math.round(rep.bandwidth / 1000);
      state.height = rep.height;
    }
    note(`video rendition ${state.height}p ${state.bitrateKbps} kb/s`);
  });

  video.addEventListener('playing', () => {
    state.playing = true;
    if (!state.started) {
      state.started = true;
      state.startupMs = Date.now() - state.created;
      note(`playing after ${state.startupMs} ms`);
    }
    if (state.waitingSince != null) {
      state.stalledMs += Date.now() - state.waitingSince;
      note(`resumed after ${Date.now() - state.waitingSince} ms`);
      state.waitingSince = null;
    }
  });
  video.addEventListener('waiting', () => {
    state.playing = false;
    if (state.started && state.waitingSince == null) {
      state.stalls++;
      state.waitingSince = Date.now();
      note(`waiting (stall ${state.stalls}) at ${video.currentTime.toFixed(1)} s, buffer ${state.bufferLevel.toFixed(1)} s`);
    }
  });
  video.addEventListener('pause', () => { state.playing = false; });
  video.addEventListener('ended', () => { state.playing = false; state.ended = true; note('ended'); });

  const box = document.getElementById('state');
  setInterval(() => {
    state.currentTime = video.currentTime;
    try { state.bufferLevel = player.getBufferLength('video') || 0; } catch (_) { /* not ready */ }
    if (state.bitrateKbps == null) {
      try {
        const rep = player.getCurrentRepresentationForType && player.getCurrentRepresentationForType('video');
        if (rep) { state.bitrateKbps = Math.round(rep.bandwidth / 1000); state.height = rep.height; }
      } catch (_) { /* not ready */ }
    }
    const { log, ...shown } = state;
    box.textContent = JSON.stringify(shown, null, 1);
  }, 250);

  note(`cid=${cid} sid=${sid} mode=${mode} collector=${collector}`);
  player.initialize(video, manifest, true);
})();
