//! One CMCD payload, typed: every key of CTA-5004 (version 1) and
//! CTA-5004-B (version 2, with its event and response reporting keys).
//!
//! Units are the specification's: milliseconds for times and durations,
//! kilobits per second for bitrates and throughputs, epoch milliseconds
//! for `ts`. Keys this crate does not know (custom keys such as
//! `com.example-abc`, or keys of a later version) are kept, with their
//! text, in [`Report::unknown`], and otherwise ignored; a known key whose
//! value has the wrong type is an error naming the key.

use std::borrow::Cow;

use super::sfv::{self, Bare, DictError, Member, Value};
use crate::error::{Error, Result};

macro_rules! tokens {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $tok:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A token this version does not define (kept, not refused: a
            /// later version may add it).
            Other,
        }

        impl $name {
            /// Reads a token.
            pub fn from_token(token: &str) -> Self {
                match token {
                    $($tok => Self::$variant,)+
                    _ => Self::Other,
                }
            }

            /// The token, `?` for [`Other`](Self::Other).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $tok,)+
                    Self::Other => "?",
                }
            }
        }
    };
}

tokens! {
    /// `ot`: what kind of object was requested.
    ObjectType {
        /// `m`: a manifest or playlist.
        Manifest = "m",
        /// `a`: audio only.
        Audio = "a",
        /// `v`: video only.
        Video = "v",
        /// `av`: muxed audio and video.
        Muxed = "av",
        /// `i`: an init segment.
        Init = "i",
        /// `c`: captions or subtitles.
        Caption = "c",
        /// `tt`: ISOBMFF timed text.
        TimedText = "tt",
        /// `k`: a cryptographic key, license or certificate.
        Key = "k",
        /// `o`: anything else.
        OtherObject = "o",
    }
}

tokens! {
    /// `sf`: the streaming format.
    StreamingFormat {
        /// `d`: MPEG-DASH.
        Dash = "d",
        /// `h`: HTTP Live Streaming.
        Hls = "h",
        /// `e`: HESP.
        Hesp = "e",
        /// `s`: Smooth Streaming.
        Smooth = "s",
        /// `o`: another format.
        OtherFormat = "o",
    }
}

tokens! {
    /// `st`: on demand or live.
    StreamType {
        /// `v`: all segments are available (video on demand).
        Vod = "v",
        /// `l`: segments become available over time (live).
        Live = "l",
        /// `ll`: low-latency live.
        LowLatency = "ll",
    }
}

tokens! {
    /// `sta`: the player's state (version 2).
    PlayerState {
        /// `s`: starting: playback was asked for, nothing shown yet.
        Starting = "s",
        /// `p`: playing.
        Playing = "p",
        /// `k`: seeking.
        Seeking = "k",
        /// `r`: rebuffering.
        Rebuffering = "r",
        /// `a`: paused.
        Paused = "a",
        /// `w`: waiting (e.g. for the user or an ad).
        Waiting = "w",
        /// `e`: ended.
        Ended = "e",
        /// `f`: fatal error.
        Fatal = "f",
        /// `q`: quit before ending.
        Quit = "q",
        /// `d`: preloading.
        Preloading = "d",
    }
}

tokens! {
    /// `e`: what an event-mode report is about (version 2).
    EventType {
        /// `ps`: the player state changed (see `sta`).
        PlayState = "ps",
        /// `e`: an error (see `ec`).
        Error = "e",
        /// `t`: a periodic report.
        TimeInterval = "t",
        /// `c`: the content id changed.
        ContentId = "c",
        /// `b`: backgrounded or foregrounded.
        Background = "b",
        /// `bc`: the bitrate changed.
        BitrateChange = "bc",
        /// `m`: muted.
        Mute = "m",
        /// `um`: unmuted.
        Unmute = "um",
        /// `pe`: player expanded.
        Expand = "pe",
        /// `pc`: player collapsed.
        Collapse = "pc",
        /// `pr`: playback rate changed.
        PlaybackRate = "pr",
        /// `h`: the hostname changed.
        Hostname = "h",
        /// `rr`: a response was received (response reporting).
        ResponseReceived = "rr",
        /// `sk`: skipped.
        Skip = "sk",
        /// `as`: an ad started.
        AdStart = "as",
        /// `ae`: an ad ended.
        AdEnd = "ae",
        /// `abs`: an ad break started.
        AdBreakStart = "abs",
        /// `abe`: an ad break ended.
        AdBreakEnd = "abe",
        /// `ce`: a custom event (see `cen`).
        Custom = "ce",
    }
}

/// Most entries an object-type list holds: one per media type.
pub const MAX_LIST: usize = 6;

/// A key whose value may be one integer or, in version 2, an inner list of
/// integers, one per media type (`br=(3200;v 128;a)`). Values are
/// non-negative and below 2³² (kbps, ms, counts); kept in 32 bytes, since a
/// report holds fourteen of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OtList {
    values: [u32; MAX_LIST],
    types: [u8; MAX_LIST],
    len: u8,
}

/// An object type as a byte: 0 for none, else 1 + its index in
/// [`OT_ORDER`].
const OT_ORDER: [ObjectType; 10] = [
    ObjectType::Manifest,
    ObjectType::Audio,
    ObjectType::Video,
    ObjectType::Muxed,
    ObjectType::Init,
    ObjectType::Caption,
    ObjectType::TimedText,
    ObjectType::Key,
    ObjectType::OtherObject,
    ObjectType::Other,
];

fn ot_byte(t: Option<ObjectType>) -> u8 {
    t.and_then(|t| OT_ORDER.iter().position(|&o| o == t)).map_or(0, |i| i as u8 + 1)
}

fn ot_of_byte(b: u8) -> Option<ObjectType> {
    b.checked_sub(1).and_then(|i| OT_ORDER.get(usize::from(i)).copied())
}

impl OtList {
    /// A list of one value.
    pub fn one(value: u32) -> Self {
        let mut l = Self::default();
        l.push(value, None);
        l
    }

    fn push(&mut self, value: u32, ot: Option<ObjectType>) -> bool {
        let i = usize::from(self.len);
        if i == MAX_LIST {
            return false;
        }
        self.values[i] = value;
        self.types[i] = ot_byte(ot);
        self.len += 1;
        true
    }

    /// The entries, with the media type each is for when given.
    pub fn iter(&self) -> impl Iterator<Item = (i64, Option<ObjectType>)> + '_ {
        let n = usize::from(self.len);
        self.values[..n].iter().zip(&self.types[..n]).map(|(&v, &t)| (i64::from(v), ot_of_byte(t)))
    }

    /// Whether the key was absent.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first value, if any.
    pub fn first(&self) -> Option<i64> {
        (self.len > 0).then(|| i64::from(self.values[0]))
    }

    /// The value for video: the entry marked `v` or `av`, else the first
    /// unmarked one, else the first.
    pub fn video(&self) -> Option<i64> {
        self.iter()
            .find(|(_, t)| matches!(t, Some(ObjectType::Video | ObjectType::Muxed)))
            .or_else(|| self.iter().find(|(_, t)| t.is_none()))
            .or_else(|| self.iter().next())
            .map(|(v, _)| v)
    }
}

/// One CMCD payload. Every field is `None` (or empty) when its key was
/// absent. Units are the specification's (see [`crate::cmcd`]): ms for
/// times, kbps for bitrates, epoch ms for `ts`.
///
/// ```
/// use streammon_core::cmcd::{ObjectType, Report, StreamType};
/// let r = Report::parse(r#"br=3200,bs,cid="faec5fc2",d=4004,mtp=25400,ot=v,sid="6e2fb550",st=v,tb=6000"#)?;
/// assert_eq!(r.br.first(), Some(3200));
/// assert_eq!(r.bs, Some(true));
/// assert_eq!(r.ot, Some(ObjectType::Video));
/// assert_eq!(r.st, Some(StreamType::Vod));
/// assert_eq!(r.sid.as_deref(), Some("6e2fb550"));
/// assert_eq!(r.version, 1);
/// # Ok::<(), streammon_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report<'a> {
    /// `v`: the CMCD version; 1 when absent.
    pub version: u32,

    // --- object
    /// `br`: encoded bitrate of the object, kbps.
    pub br: OtList,
    /// `ab`: aggregate encoded bitrate (v2), kbps.
    pub ab: OtList,
    /// `d`: object duration, ms.
    pub d: Option<i64>,
    /// `lb`: lowest encoded bitrate available (v2), kbps.
    pub lb: OtList,
    /// `lab`: lowest aggregate bitrate (v2), kbps.
    pub lab: OtList,
    /// `ot`: object type.
    pub ot: Option<ObjectType>,
    /// `tb`: top encoded bitrate available, kbps.
    pub tb: OtList,
    /// `tab`: top aggregate bitrate (v2), kbps.
    pub tab: OtList,
    /// `tpb`: top playable bitrate (v2), kbps.
    pub tpb: OtList,

    // --- request
    /// `bl`: buffer length, ms.
    pub bl: OtList,
    /// `cs`: CMSD state (v2), as given.
    pub cs: Option<Cow<'a, str>>,
    /// `dfa`: dropped frames since the last report (v2).
    pub dfa: Option<i64>,
    /// `dl`: deadline until the buffer runs dry, ms.
    pub dl: Option<i64>,
    /// `ltc`: live latency, ms (v2).
    pub ltc: Option<i64>,
    /// `mtp`: measured throughput, kbps.
    pub mtp: OtList,
    /// `nor`: the next object the player will request (the first, when a
    /// list).
    pub nor: Option<Cow<'a, str>>,
    /// `nrr`: the next range request, `start-end` (v1).
    pub nrr: Option<Cow<'a, str>>,
    /// `pb`: playhead bitrate (v2), kbps.
    pub pb: OtList,
    /// `sn`: sequence number of this report (v2).
    pub sn: Option<i64>,
    /// `sta`: player state (v2).
    pub sta: Option<PlayerState>,
    /// `su`: the object is needed urgently (startup, seek, recovery).
    pub su: Option<bool>,
    /// `tbl`: target buffer length (v2), ms.
    pub tbl: OtList,

    // --- session
    /// `cid`: content id.
    pub cid: Option<Cow<'a, str>>,
    /// `msd`: media start delay (v2): request to first frame, ms.
    pub msd: Option<i64>,
    /// `sf`: streaming format.
    pub sf: Option<StreamingFormat>,
    /// `sid`: session id.
    pub sid: Option<Cow<'a, str>>,
    /// `st`: stream type.
    pub st: Option<StreamType>,

    // --- status
    /// `bg`: the player is in the background (v2).
    pub bg: Option<bool>,
    /// `bs`: the buffer ran dry since the last request.
    pub bs: Option<bool>,
    /// `bsa`: buffer starvations since the session began (v2).
    pub bsa: OtList,
    /// `bsd`: buffer starvation duration since the last report (v2), ms.
    pub bsd: OtList,
    /// `bsda`: total buffer starvation duration of the session (v2), ms.
    pub bsda: OtList,
    /// `cdn`: CDN id (v2).
    pub cdn: Option<Cow<'a, str>>,
    /// `ec`: error codes (v2), as given (a string, or a list's items
    /// joined by spaces).
    pub ec: Option<Cow<'a, str>>,
    /// `nr`: not rendered: the player is not showing the content (v2).
    pub nr: Option<bool>,
    /// `pr`: playback rate, 1 for real time.
    pub pr: Option<f64>,
    /// `pt`: playhead time (v2), ms.
    pub pt: Option<i64>,
    /// `rtp`: requested maximum throughput, kbps.
    pub rtp: Option<i64>,

    // --- event and response reporting (v2)
    /// `e`: event type.
    pub e: Option<EventType>,
    /// `ts`: when, epoch ms.
    pub ts: Option<i64>,
    /// `cen`: custom event name.
    pub cen: Option<Cow<'a, str>>,
    /// `h`: hostname.
    pub h: Option<Cow<'a, str>>,
    /// `rc`: HTTP response code of the reported request.
    pub rc: Option<i64>,
    /// `ttfb`: time to first byte, ms.
    pub ttfb: Option<i64>,
    /// `ttfbb`: time to first body byte, ms.
    pub ttfbb: Option<i64>,
    /// `ttlb`: time to last byte, ms.
    pub ttlb: Option<i64>,
    /// `url`: the URL of the reported request.
    pub url: Option<Cow<'a, str>>,
    /// `cmsdd`: CMSD-Dynamic header of the response.
    pub cmsdd: Option<Cow<'a, str>>,
    /// `cmsds`: CMSD-Static header of the response.
    pub cmsds: Option<Cow<'a, str>>,
    /// `smrt`: SMRT header of the response.
    pub smrt: Option<Cow<'a, str>>,

    /// Keys this crate does not know, with their value's text: kept, not
    /// interpreted.
    pub unknown: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// The reason a member is refused; the key is added by the caller.
type Refusal = String;

fn want_int(b: &Bare<'_>) -> Result<i64, Refusal> {
    match b {
        Bare::Integer(v) => Ok(*v),
        other => Err(format!("expected an integer, got {}", other.kind())),
    }
}

fn want_non_negative(b: &Bare<'_>) -> Result<i64, Refusal> {
    let v = want_int(b)?;
    if v < 0 { Err(format!("{v} is negative")) } else { Ok(v) }
}

fn want_bool(b: &Bare<'_>) -> Result<bool, Refusal> {
    match b {
        Bare::Boolean(v) => Ok(*v),
        // Seen from players that write CMCD by hand.
        Bare::Token("true") => Ok(true),
        Bare::Token("false") => Ok(false),
        other => Err(format!("expected a boolean (the key alone for true), got {}", other.kind())),
    }
}

fn want_token<'a>(b: &Bare<'a>) -> Result<&'a str, Refusal> {
    match b {
        Bare::Token(t) => Ok(t),
        other => Err(format!("expected a token, got {}", other.kind())),
    }
}

fn want_string<'a>(b: Bare<'a>) -> Result<Cow<'a, str>, Refusal> {
    match b {
        Bare::String(s) => Ok(s),
        other => Err(format!("expected a string, got {}", other.kind())),
    }
}

fn ot_of(params: sfv::Params<'_>) -> Option<ObjectType> {
    params.iter().find_map(|(k, v)| match (k, v) {
        ("ot", Bare::Token(t)) => Some(ObjectType::from_token(t)),
        (k, Bare::Boolean(true)) => Some(ObjectType::from_token(k)).filter(|t| *t != ObjectType::Other),
        _ => None,
    })
}

/// A list entry: an integer, or a decimal rounded to one (hls.js writes
/// `pb=(367.99)`; the specification says integers, players disagree).
fn want_u32(b: &Bare<'_>) -> Result<u32, Refusal> {
    let v = match b {
        Bare::Decimal(d) if *d >= 0.0 => d.round() as i64,
        other => want_non_negative(other)?,
    };
    u32::try_from(v).map_err(|_| format!("{v} is too large"))
}

fn want_ot_list(value: Value<'_>, params: sfv::Params<'_>) -> Result<OtList, Refusal> {
    let mut list = OtList::default();
    match value {
        Value::Item(b) => {
            let ot = if params.is_empty() { None } else { ot_of(params) };
            list.push(want_u32(&b)?, ot);
        }
        Value::List(items) => {
            for item in items.items() {
                let ot = if item.params.is_empty() { None } else { ot_of(item.params) };
                if !list.push(want_u32(&item.bare)?, ot) {
                    return Err(format!("more than {MAX_LIST} entries"));
                }
            }
        }
    }
    Ok(list)
}

fn first_string<'a>(value: Value<'a>) -> Result<Cow<'a, str>, Refusal> {
    match value {
        Value::Item(b) => want_string(b),
        Value::List(items) => {
            items.items().next().map(|i| want_string(i.bare)).unwrap_or_else(|| Err("the list is empty".into()))
        }
    }
}

fn joined_strings(value: Value<'_>) -> Result<Cow<'_, str>, Refusal> {
    match value {
        Value::Item(b) => want_string(b),
        Value::List(items) => {
            let mut out = String::new();
            for item in items.items() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&want_string(item.bare)?);
            }
            Ok(Cow::Owned(out))
        }
    }
}

fn item(value: Value<'_>) -> Result<Bare<'_>, Refusal> {
    match value {
        Value::Item(b) => Ok(b),
        Value::List(_) => Err("expected a single value, got a list".into()),
    }
}

impl<'a> Report<'a> {
    /// Parses one payload: the text of a `CMCD=` argument (decoded), of
    /// the `CMCD-*` headers joined by commas, or one line of an
    /// event-mode body.
    ///
    /// # Errors
    /// [`Error::InvalidCmcd`] naming the key whose value is malformed, or
    /// the byte offset of a syntax error.
    pub fn parse(text: &'a str) -> Result<Self> {
        let mut r = Report::default();
        r.merge(text)?;
        Ok(r)
    }

    /// Adds the keys of another payload (a second `CMCD-*` header) to this
    /// report; a key given twice keeps its last value.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn merge(&mut self, text: &'a str) -> Result<()> {
        let result = sfv::parse_dictionary(text, |m: Member<'a>| {
            let key = m.key;
            self.set(m).map_err(|reason| Error::InvalidCmcd { key: key.to_owned(), reason })
        });
        match result {
            Ok(()) => {
                if self.version == 0 {
                    self.version = 1;
                }
                Ok(())
            }
            Err(DictError::Member(e)) => Err(e),
            Err(DictError::Syntax(s)) => Err(Error::InvalidCmcd {
                key: String::new(),
                reason: format!("at byte {}: {} in {:?}", s.at, s.reason, excerpt(text, s.at)),
            }),
        }
    }

    fn set(&mut self, m: Member<'a>) -> Result<(), Refusal> {
        let Member { key, value, params, raw } = m;
        let int = |v: Value<'a>| item(v).and_then(|b| want_non_negative(&b));
        match key {
            "v" => {
                let v = item(value).and_then(|b| want_int(&b))?;
                self.version = u32::try_from(v).ok().filter(|v| *v >= 1).ok_or(format!("{v} is not a version"))?;
            }
            "br" => self.br = want_ot_list(value, params)?,
            "ab" => self.ab = want_ot_list(value, params)?,
            "d" => self.d = Some(int(value)?),
            "lb" => self.lb = want_ot_list(value, params)?,
            "lab" => self.lab = want_ot_list(value, params)?,
            "ot" => self.ot = Some(ObjectType::from_token(item(value).and_then(|b| want_token(&b))?)),
            "tb" => self.tb = want_ot_list(value, params)?,
            "tab" => self.tab = want_ot_list(value, params)?,
            "tpb" => self.tpb = want_ot_list(value, params)?,
            "bl" => self.bl = want_ot_list(value, params)?,
            "cs" => self.cs = Some(item(value).and_then(want_string)?),
            "dfa" => self.dfa = Some(int(value)?),
            "dl" => self.dl = Some(int(value)?),
            "ltc" => self.ltc = Some(int(value)?),
            "mtp" => self.mtp = want_ot_list(value, params)?,
            "nor" => self.nor = Some(first_string(value)?),
            "nrr" => self.nrr = Some(item(value).and_then(want_string)?),
            "pb" => self.pb = want_ot_list(value, params)?,
            "sn" => self.sn = Some(int(value)?),
            "sta" => self.sta = Some(PlayerState::from_token(item(value).and_then(|b| want_token(&b))?)),
            "su" => self.su = Some(item(value).and_then(|b| want_bool(&b))?),
            "tbl" => self.tbl = want_ot_list(value, params)?,
            "cid" => self.cid = Some(item(value).and_then(want_string)?),
            "msd" => self.msd = Some(int(value)?),
            "sf" => self.sf = Some(StreamingFormat::from_token(item(value).and_then(|b| want_token(&b))?)),
            "sid" => self.sid = Some(item(value).and_then(want_string)?),
            "st" => self.st = Some(StreamType::from_token(item(value).and_then(|b| want_token(&b))?)),
            "bg" => self.bg = Some(item(value).and_then(|b| want_bool(&b))?),
            "bs" => self.bs = Some(item(value).and_then(|b| want_bool(&b))?),
            "bsa" => self.bsa = want_ot_list(value, params)?,
            "bsd" => self.bsd = want_ot_list(value, params)?,
            "bsda" => self.bsda = want_ot_list(value, params)?,
            "cdn" => self.cdn = Some(item(value).and_then(want_string)?),
            "ec" => self.ec = Some(joined_strings(value)?),
            "nr" => self.nr = Some(item(value).and_then(|b| want_bool(&b))?),
            "pr" => {
                let rate = match item(value)? {
                    Bare::Decimal(v) => v,
                    Bare::Integer(v) => v as f64,
                    other => return Err(format!("expected a decimal, got {}", other.kind())),
                };
                if rate < 0.0 {
                    return Err(format!("{rate} is negative"));
                }
                self.pr = Some(rate);
            }
            "pt" => self.pt = Some(int(value)?),
            "rtp" => self.rtp = Some(int(value)?),
            "e" => self.e = Some(EventType::from_token(item(value).and_then(|b| want_token(&b))?)),
            "ts" => self.ts = Some(int(value)?),
            "cen" => self.cen = Some(item(value).and_then(want_string)?),
            "h" => self.h = Some(item(value).and_then(want_string)?),
            "rc" => {
                let rc = int(value)?;
                if !(100..=599).contains(&rc) {
                    return Err(format!("{rc} is not an HTTP status code"));
                }
                self.rc = Some(rc);
            }
            "ttfb" => self.ttfb = Some(int(value)?),
            "ttfbb" => self.ttfbb = Some(int(value)?),
            "ttlb" => self.ttlb = Some(int(value)?),
            "url" => self.url = Some(item(value).and_then(want_string)?),
            "cmsdd" => self.cmsdd = Some(item(value).and_then(want_string)?),
            "cmsds" => self.cmsds = Some(item(value).and_then(want_string)?),
            "smrt" => self.smrt = Some(item(value).and_then(want_string)?),
            _ => self.unknown.push((Cow::Borrowed(key), Cow::Borrowed(raw))),
        }
        Ok(())
    }

    /// The same report owning its strings, to keep past the text it was
    /// read from.
    pub fn into_owned(self) -> Report<'static> {
        fn own(s: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(s.into_owned())
        }
        Report {
            version: self.version,
            br: self.br,
            ab: self.ab,
            d: self.d,
            lb: self.lb,
            lab: self.lab,
            ot: self.ot,
            tb: self.tb,
            tab: self.tab,
            tpb: self.tpb,
            bl: self.bl,
            cs: self.cs.map(own),
            dfa: self.dfa,
            dl: self.dl,
            ltc: self.ltc,
            mtp: self.mtp,
            nor: self.nor.map(own),
            nrr: self.nrr.map(own),
            pb: self.pb,
            sn: self.sn,
            sta: self.sta,
            su: self.su,
            tbl: self.tbl,
            cid: self.cid.map(own),
            msd: self.msd,
            sf: self.sf,
            sid: self.sid.map(own),
            st: self.st,
            bg: self.bg,
            bs: self.bs,
            bsa: self.bsa,
            bsd: self.bsd,
            bsda: self.bsda,
            cdn: self.cdn.map(own),
            ec: self.ec.map(own),
            nr: self.nr,
            pr: self.pr,
            pt: self.pt,
            rtp: self.rtp,
            e: self.e,
            ts: self.ts,
            cen: self.cen.map(own),
            h: self.h.map(own),
            rc: self.rc,
            ttfb: self.ttfb,
            ttfbb: self.ttfbb,
            ttlb: self.ttlb,
            url: self.url.map(own),
            cmsdd: self.cmsdd.map(own),
            cmsds: self.cmsds.map(own),
            smrt: self.smrt.map(own),
            unknown: self.unknown.into_iter().map(|(k, v)| (own(k), own(v))).collect(),
        }
    }
}

/// Up to 24 characters of `text` around byte `at`, for an error message.
fn excerpt(text: &str, at: usize) -> &str {
    let mut start = at.saturating_sub(12).min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + 12).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    &text[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (String, String) {
        match Report::parse(text).unwrap_err() {
            Error::InvalidCmcd { key, reason } => (key, reason),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn version_two_lists_and_event_keys() {
        let r = Report::parse(
            r#"bl=(21300 5000;a),br=(3200;v 128;a),e=ps,ec=("ERR_NET" "E2"),ltc=3500,nor=("a.m4s" "b.m4s"),sta=r,ts=1700000000000,v=2,dfa=4,sn=7,bsd=(1200)"#,
        )
        .unwrap();
        assert_eq!(r.version, 2);
        assert_eq!(r.br.video(), Some(3200));
        assert_eq!(r.br.iter().nth(1), Some((128, Some(ObjectType::Audio))));
        assert_eq!(r.bl.first(), Some(21300));
        assert_eq!(r.e, Some(EventType::PlayState));
        assert_eq!(r.sta, Some(PlayerState::Rebuffering));
        assert_eq!(r.ec.as_deref(), Some("ERR_NET E2"));
        assert_eq!(r.nor.as_deref(), Some("a.m4s"));
        assert_eq!(r.ts, Some(1_700_000_000_000));
        assert_eq!((r.ltc, r.dfa, r.sn), (Some(3500), Some(4), Some(7)));
        assert_eq!(r.bsd.first(), Some(1200));
    }

    #[test]
    fn unknown_keys_are_kept_and_tokens_of_later_versions_too() {
        let r = Report::parse(r#"com.example-key="x",br=1,ot=zz,zz=(1 2)"#).unwrap();
        assert_eq!(
            r.unknown,
            vec![(Cow::Borrowed("com.example-key"), Cow::Borrowed("\"x\"")), ("zz".into(), "(1 2)".into())]
        );
        assert_eq!(r.ot, Some(ObjectType::Other));
    }

    #[test]
    fn decimals_in_lists_are_rounded_as_hls_js_writes_them() {
        let r = Report::parse("pb=(367.99),tpb=(1566.234),br=1566.5,v=2").unwrap();
        assert_eq!((r.pb.first(), r.tpb.first(), r.br.first()), (Some(368), Some(1566), Some(1567)));
        assert_eq!(err("br=-1.5").0, "br");
    }

    #[test]
    fn malformed_values_name_the_key() {
        assert_eq!(err("br=fast").0, "br");
        assert!(err("br=fast").1.contains("expected an integer, got a token"));
        assert_eq!(err("bs=1").0, "bs");
        assert_eq!(err("sid=abc").0, "sid");
        assert!(err("sid=abc").1.contains("expected a string"));
        assert_eq!(err("ot=\"v\"").0, "ot");
        assert_eq!(err("d=-5").1, "-5 is negative");
        assert_eq!(err("rc=42").1, "42 is not an HTTP status code");
        assert_eq!(err("v=0").0, "v");
        assert_eq!(err("br=(1 2 3 4 5 6 7)").1, "more than 6 entries");
        assert_eq!(err("sid=(\"a\")").1, "expected a single value, got a list");
        let (key, reason) = err("br=3200,,d=4");
        assert!(key.is_empty() && reason.contains("at byte 8"), "{reason}");
    }

    #[test]
    fn into_owned_keeps_everything() {
        let text = String::from(r#"cid="c",sid="s",x-y=1,br=5"#);
        let owned = Report::parse(&text).unwrap().into_owned();
        drop(text);
        assert_eq!((owned.cid.as_deref(), owned.sid.as_deref(), owned.br.first()), (Some("c"), Some("s"), Some(5)));
        assert_eq!(owned.unknown.len(), 1);
    }
}
