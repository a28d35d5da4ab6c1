//! What is sent: the webhook JSON body, the Slack body and Alertmanager's
//! alert objects.

use bytes::Bytes;
use serde_json::{Value, json};
use streammon_core::alert::{AlertEventKind, CauseDimension};
use streammon_core::time::format_rfc3339;
use streammon_core::{Alert, Severity};

use crate::Notice;

/// The `type` of a webhook body and its `Streammon-Event` header.
pub(crate) fn event_type(notice: &Notice) -> &'static str {
    match notice {
        Notice::Alert(e) if e.kind == AlertEventKind::Fired => "alert.fired",
        Notice::Alert(_) => "alert.resolved",
        Notice::Acknowledged { .. } => "alert.acknowledged",
        Notice::Unacknowledged { .. } => "alert.unacknowledged",
        Notice::Test { .. } => "test",
    }
}

/// When the notice happened, epoch ms.
pub(crate) fn timestamp_ms(notice: &Notice) -> i64 {
    match notice {
        Notice::Alert(e) => e.timestamp_ms,
        Notice::Acknowledged { ack, .. } => ack.at_ms,
        Notice::Unacknowledged { at_ms, .. } | Notice::Test { at_ms, .. } => *at_ms,
    }
}

/// The idempotency id: `{alert id}.{what}.{timestamp_ms}`, or
/// `test.{timestamp_ms}`. The same notice always has the same id.
pub(crate) fn id(notice: &Notice) -> String {
    let what = event_type(notice);
    match notice.alert() {
        Some(a) => format!("{}.{}.{}", a.id, what.trim_start_matches("alert."), timestamp_ms(notice)),
        None => format!("test.{}", timestamp_ms(notice)),
    }
}

/// The dashboard's page of an alert.
pub(crate) fn alert_url(dashboard_url: Option<&str>, alert_id: &str) -> Option<String> {
    dashboard_url.map(|base| format!("{}/#/alerts/{alert_id}", base.trim_end_matches('/')))
}

/// The cause hint: the shared region or title and how much of the alert it
/// covers, else the alert's own summary.
pub(crate) fn cause_hint(alert: &Alert) -> String {
    match &alert.cause {
        Some(c) => {
            let dimension = match c.dimension {
                CauseDimension::Region => "region",
                CauseDimension::Content => "title",
                CauseDimension::ContentType => "content type",
                CauseDimension::Rendition => "rendition",
            };
            format!(
                "{dimension} {}: {:.0}% of the affected streams ({:.1}× its share of all streams)",
                c.value,
                100.0 * c.coverage,
                c.lift
            )
        }
        None => alert.summary.clone(),
    }
}

/// The JSON webhook body of `notice`.
pub(crate) fn webhook_json(notice: &Notice, dashboard_url: Option<&str>) -> Bytes {
    let mut body = json!({
        "id": id(notice),
        "type": event_type(notice),
        "timestamp_ms": timestamp_ms(notice),
        "source": "streammon",
    });
    if let Some(alert) = notice.alert() {
        body["alert"] = serde_json::to_value(alert).unwrap_or(Value::Null);
        body["labels"] = serde_json::to_value(alert.labels()).unwrap_or(Value::Null);
        if let Some(url) = alert_url(dashboard_url, &alert.id) {
            body["url"] = Value::String(url);
        }
    }
    match notice {
        Notice::Acknowledged { ack, .. } => {
            body["ack"] = json!({ "by": ack.by, "at_ms": ack.at_ms, "comment": ack.comment });
        }
        Notice::Unacknowledged { by, at_ms, .. } => body["ack"] = json!({ "by": by, "at_ms": at_ms }),
        Notice::Test { by, .. } => {
            body["message"] = Value::String(format!("Test notification from streammon, sent by {by}"));
        }
        Notice::Alert(_) => {}
    }
    Bytes::from(body.to_string())
}

fn severity_color(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#d32f2f",
        Severity::Warning => "#ed6c02",
        Severity::Info => "#0288d1",
    }
}

/// A Slack-compatible incoming-webhook body of `notice`.
pub(crate) fn slack(notice: &Notice, dashboard_url: Option<&str>) -> Bytes {
    let ts = timestamp_ms(notice) / 1_000;
    let (text, color, alert) = match notice {
        Notice::Alert(e) if e.kind == AlertEventKind::Fired => (
            format!(":rotating_light: [FIRING · {}] {} — {}", e.alert.severity, e.alert.rule, e.alert.summary),
            severity_color(e.alert.severity),
            Some(&e.alert),
        ),
        Notice::Alert(e) => {
            (format!(":white_check_mark: [RESOLVED] {} — {}", e.alert.rule, e.alert.summary), "#2e7d32", Some(&e.alert))
        }
        Notice::Acknowledged { alert, ack } => {
            let comment = if ack.comment.is_empty() { String::new() } else { format!(" ({})", ack.comment) };
            (format!(":eyes: Acknowledged by {}{comment}: {}", ack.by, alert.summary), "#757575", Some(alert))
        }
        Notice::Unacknowledged { alert, by, .. } => (
            format!(":leftwards_arrow_with_hook: Acknowledgement taken back by {by}: {}", alert.summary),
            "#757575",
            Some(alert),
        ),
        Notice::Test { by, .. } => (format!(":wave: Test notification from streammon, sent by {by}"), "#757575", None),
    };
    let mut attachment = json!({ "color": color, "footer": "streammon", "ts": ts });
    if let Some(alert) = alert {
        attachment["title"] = Value::String(format!("{} ({})", alert.rule, alert.id));
        attachment["text"] = Value::String(cause_hint(alert));
        if let Some(url) = alert_url(dashboard_url, &alert.id) {
            attachment["title_link"] = Value::String(url);
        }
    }
    Bytes::from(json!({ "text": text, "attachments": [attachment] }).to_string())
}

/// One alert as Alertmanager's v2 API takes it, ending at `ends_ms`.
pub(crate) fn alertmanager(alert: &Alert, ends_ms: i64, dashboard_url: Option<&str>) -> Value {
    let l = alert.labels();
    let mut labels = json!({
        "alertname": l.rule,
        "severity": l.severity.as_str(),
        "source": "streammon",
    });
    if let Some(r) = &l.region {
        labels["region"] = Value::String(r.as_str().to_owned());
    }
    if let Some(c) = &l.content_id {
        labels["content_id"] = Value::String(c.as_str().to_owned());
    }
    if let Some(m) = l.metric {
        labels["metric"] = Value::String(m.as_str().to_owned());
    }
    let mut out = json!({
        "labels": labels,
        "annotations": { "summary": cause_hint(alert), "description": alert.summary },
        "startsAt": format_rfc3339(alert.fired_ms.unwrap_or(alert.started_ms)),
        "endsAt": format_rfc3339(ends_ms),
    });
    if let Some(url) = alert_url(dashboard_url, &alert.id) {
        out["generatorURL"] = Value::String(url);
    }
    out
}

/// The test alert sent to Alertmanager: `StreammonTest`, info, for five
/// minutes.
pub(crate) fn alertmanager_test(by: &str, now_ms: i64, dashboard_url: Option<&str>) -> Value {
    let mut out = json!({
        "labels": { "alertname": "StreammonTest", "severity": "info", "source": "streammon" },
        "annotations": {
            "summary": format!("Test notification from streammon (by {by})"),
            "description": "Sent by POST /alerts/test to check the wiring; it ends by itself in 5 minutes.",
        },
        "startsAt": format_rfc3339(now_ms),
        "endsAt": format_rfc3339(now_ms + 5 * 60_000),
    });
    if let Some(base) = dashboard_url {
        out["generatorURL"] = Value::String(format!("{}/#/alerts", base.trim_end_matches('/')));
    }
    out
}
