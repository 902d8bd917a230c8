//! Tests of the parent module.

use chrono::TimeZone;

use super::*;

fn row() -> JobRow {
    JobRow {
        id: 7,
        kind: "download".into(),
        dedupe_key: "rec:1".into(),
        state: JobState::Dead,
        attempts: 3,
        max_attempts: 20,
        last_error: Some("404\nnot found \u{1b}[31m".into()),
        created_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        run_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        finished_at: None,
    }
}

#[test]
fn jobs_json_keeps_its_field_names() {
    let json = serde_json::to_value([row()]).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "id": 7,
            "kind": "download",
            "dedupeKey": "rec:1",
            "state": "dead",
            "attempts": 3,
            "maxAttempts": 20,
            "lastError": "404\nnot found \u{1b}[31m",
            "createdAt": "2026-01-02T03:04:05Z",
            "runAt": "2026-01-02T03:04:05Z",
            "finishedAt": null,
        }])
    );
}

#[test]
fn jobs_table_aligns_columns_and_escapes_control_characters() {
    let text = table(&[row()]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("ID  KIND      KEY    STATE  ATTEMPTS"));
    assert_eq!(lines[0].find("KIND"), lines[1].find("download"));
    assert!(
        lines[1].ends_with(r"404\nnot found \u{1b}[31m"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("3/20"));
    assert!(lines[1].contains("2026-01-02 03:04:05  -"));
}

#[test]
fn jobs_retry_messages_name_the_job_and_the_reason() {
    let job = Job {
        id: JobId::new(7),
        kind: "download".into(),
        dedupe_key: "rec:1".into(),
        payload: serde_json::json!({}),
        state: JobState::Queued,
        priority: 0,
        run_at: Utc::now(),
        attempts: 0,
        max_attempts: 20,
        holder: None,
        leased_until: None,
        last_error: None,
        created_at: Utc::now(),
        finished_at: None,
    };
    assert_eq!(
        Retried::NotDead(job.clone()).to_string(),
        "job 7 (download rec:1) is queued, not dead: only dead jobs can be retried"
    );
    assert_eq!(
        Retried::LiveTwin {
            job,
            twin: JobId::new(9),
            twin_state: JobState::Queued,
        }
        .to_string(),
        "job 7 (download rec:1) was not requeued: job 9 with the same kind and key is already queued and will do the work"
    );
    assert_eq!(
        Retried::NoSuchJob(JobId::new(5)).to_string(),
        "there is no job 5"
    );
}
