//! Listing the account call log: explicit date window,
//! Detailed view, `perPage` up to 1000 (stepping down if the server refuses
//! it), `navigation.nextPage` followed until absent, each link checked to be
//! on the platform host before it is requested.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use futures::{Stream, TryStreamExt};
use url::Url;

use crate::client::{RcClient, StatusMap};
use crate::error::{Error, Result};
use crate::http::RequestSpec;
use crate::ids::TelephonySessionId;
use crate::models::{CallLogRecord, CallLogResponse, RecordingType};
use crate::ratelimit::Endpoint;

/// Page sizes tried, largest first, when the server refuses a `perPage`.
const PER_PAGE_STEPS: [u32; 4] = [1000, 250, 100, 50];

/// `view` of the call log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallLogView {
    /// Records only.
    Simple,
    /// Records with `legs[]` (needed for multi-leg calls).
    Detailed,
}

/// A call-log listing request. The date window is mandatory: without
/// `dateFrom` RingCentral returns only the last 24 hours.
#[derive(Debug, Clone)]
pub struct CallLogQuery {
    /// Start of the window (inclusive).
    pub date_from: DateTime<Utc>,
    /// End of the window.
    pub date_to: DateTime<Utc>,
    /// Default `Detailed`.
    pub view: CallLogView,
    /// Default `All` (calls with any recording); `None` = every call.
    pub recording_type: Option<RecordingType>,
    /// Only records of this telephony session.
    pub telephony_session_id: Option<TelephonySessionId>,
    /// Page size to ask for; `None` = the client's (1000, or what the server accepted).
    pub per_page: Option<u32>,
}

impl CallLogQuery {
    /// Detailed view, recorded calls only, in `[from, to]`.
    pub fn new(date_from: DateTime<Utc>, date_to: DateTime<Utc>) -> CallLogQuery {
        CallLogQuery {
            date_from,
            date_to,
            view: CallLogView::Detailed,
            recording_type: Some(RecordingType::All),
            telephony_session_id: None,
            per_page: None,
        }
    }

    /// Splits `[from, to]` into consecutive windows of at most `span` (oldest
    /// first), so that each page walk stays bounded however long the backfill.
    /// Adjacent windows share their boundary instant: a record starting
    /// exactly there may be listed twice, so callers upsert by record id.
    /// A non-positive `span` yields the whole range as one window.
    pub fn windows(
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        span: chrono::Duration,
    ) -> Vec<CallLogQuery> {
        if span <= chrono::Duration::zero() || to <= from {
            return vec![CallLogQuery::new(from, to)];
        }
        let mut out = Vec::new();
        let mut start = from;
        while start < to {
            let end = start.checked_add_signed(span).unwrap_or(to).min(to);
            out.push(CallLogQuery::new(start, end));
            start = end;
        }
        out
    }

    /// `…/restapi/v1.0/account/~/call-log?…` on `platform`.
    pub(crate) fn url(&self, platform: &Url, per_page: u32) -> Result<Url> {
        let mut url = platform
            .join("/restapi/v1.0/account/~/call-log")
            .map_err(|e| Error::Invalid {
                what: "call-log URL",
                reason: e.to_string(),
            })?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair(
                "view",
                match self.view {
                    CallLogView::Simple => "Simple",
                    CallLogView::Detailed => "Detailed",
                },
            );
            if let Some(rt) = &self.recording_type {
                q.append_pair("recordingType", rt.as_str());
            }
            q.append_pair(
                "dateFrom",
                &self.date_from.to_rfc3339_opts(SecondsFormat::Millis, true),
            );
            q.append_pair(
                "dateTo",
                &self.date_to.to_rfc3339_opts(SecondsFormat::Millis, true),
            );
            if let Some(t) = &self.telephony_session_id {
                q.append_pair("telephonySessionId", t.as_str());
            }
            q.append_pair("page", "1");
            q.append_pair("perPage", &per_page.to_string());
        }
        Ok(url)
    }
}

enum Cursor {
    First,
    Next(Url),
    /// The previous page was yielded; this error comes next, then the end.
    Fail(Error),
    Done,
}

struct Walk {
    client: RcClient,
    query: CallLogQuery,
    cursor: Cursor,
    visited: HashSet<String>,
}

impl RcClient {
    /// The account call log for `query`, one page at a time, following
    /// `navigation.nextPage` until it is absent. The stream ends after the
    /// first error (a `nextPage` link off the platform host is
    /// [`Error::ForbiddenHost`], yielded after the page that carried it; a
    /// link seen twice is [`Error::Malformed`]).
    pub fn list_company_call_log(
        &self,
        query: &CallLogQuery,
    ) -> impl Stream<Item = Result<CallLogResponse>> + Send + 'static {
        let walk = Walk {
            client: self.clone(),
            query: query.clone(),
            cursor: Cursor::First,
            visited: HashSet::new(),
        };
        futures::stream::unfold(walk, |mut w| async move {
            let page = match std::mem::replace(&mut w.cursor, Cursor::Done) {
                Cursor::Done => return None,
                Cursor::Fail(e) => return Some((Err(e), w)),
                Cursor::First => w.client.first_page(&w.query).await,
                Cursor::Next(url) => {
                    w.client
                        .execute_json(
                            &RequestSpec::get(url, Endpoint::CallLogList),
                            StatusMap::Plain,
                            "call-log page",
                        )
                        .await
                }
            };
            let page = match page {
                Ok(p) => p,
                Err(e) => return Some((Err(e), w)),
            };
            match w.client.next_link(&page, &mut w.visited) {
                Ok(Some(url)) => w.cursor = Cursor::Next(url),
                Ok(None) => {}
                Err(e) => w.cursor = Cursor::Fail(e),
            }
            Some((Ok(page), w))
        })
    }

    /// The records of [`list_company_call_log`](Self::list_company_call_log), flattened.
    pub fn list_company_call_log_records(
        &self,
        query: &CallLogQuery,
    ) -> impl Stream<Item = Result<CallLogRecord>> + Send + 'static {
        self.list_company_call_log(query)
            .map_ok(|page| futures::stream::iter(page.records.into_iter().map(Ok)))
            .try_flatten()
    }

    /// Every record of telephony session `tsid` in `[from, to]`, oldest first:
    /// the server-side `telephonySessionId` filter plus a client-side one
    /// (a record matches if it or one of its legs belongs to the session).
    /// Records of every kind are returned, recorded or not.
    pub async fn call_log_by_session(
        &self,
        tsid: &TelephonySessionId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CallLogRecord>> {
        let mut q = CallLogQuery::new(from, to);
        q.recording_type = None;
        q.telephony_session_id = Some(tsid.clone());
        let mut records: Vec<CallLogRecord> = self
            .list_company_call_log_records(&q)
            .try_filter(|r| futures::future::ready(r.belongs_to_session(tsid)))
            .try_collect()
            .await?;
        records.sort_by_key(|r| r.start_time);
        Ok(records)
    }

    /// First page, stepping `perPage` down while the server calls it invalid.
    async fn first_page(&self, query: &CallLogQuery) -> Result<CallLogResponse> {
        let mut per_page = query
            .per_page
            .unwrap_or_else(|| self.per_page())
            .clamp(1, 1000);
        loop {
            let url = query.url(self.platform_url(), per_page)?;
            let spec = RequestSpec::get(url, Endpoint::CallLogList);
            match self
                .execute_json::<CallLogResponse>(&spec, StatusMap::Plain, "call-log page")
                .await
            {
                Ok(page) => {
                    if let Some(served) = page.paging.per_page.filter(|&s| s >= 1 && s < per_page) {
                        tracing::info!(asked = per_page, served, "server capped perPage");
                        self.set_per_page(served);
                    } else if query.per_page.is_none() {
                        self.set_per_page(per_page);
                    }
                    return Ok(page);
                }
                Err(Error::Protocol {
                    status: 400,
                    code,
                    body_excerpt,
                }) if body_excerpt.contains("perPage") => {
                    let Some(&smaller) = PER_PAGE_STEPS.iter().find(|&&s| s < per_page) else {
                        return Err(Error::Protocol {
                            status: 400,
                            code,
                            body_excerpt,
                        });
                    };
                    tracing::info!(
                        refused = per_page,
                        next = smaller,
                        "server refused perPage; stepping down"
                    );
                    per_page = smaller;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The validated `nextPage` link of `page`, if any.
    fn next_link(
        &self,
        page: &CallLogResponse,
        visited: &mut HashSet<String>,
    ) -> Result<Option<Url>> {
        let Some(link) = &page.navigation.next_page else {
            return Ok(None);
        };
        if page.records.is_empty() {
            // An empty page that still links onwards would loop forever.
            return Ok(None);
        }
        let url = self
            .platform_url()
            .join(&link.uri)
            .map_err(|e| Error::Malformed {
                what: "nextPage link",
                reason: e.to_string(),
            })?;
        self.core().hosts.check_platform(&url)?;
        if !visited.insert(url.as_str().to_owned()) {
            return Err(Error::Malformed {
                what: "nextPage link",
                reason: "the same page is linked twice".into(),
            });
        }
        Ok(Some(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_range_is_split_into_bounded_adjacent_windows() {
        let from = DateTime::parse_from_rfc3339("2026-08-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let to = from + chrono::Duration::hours(50);
        let w = CallLogQuery::windows(from, to, chrono::Duration::days(1));
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].date_from, from);
        assert_eq!(w[0].date_to, w[1].date_from);
        assert_eq!(w[2].date_to, to);
        assert!(
            w.iter()
                .all(|q| q.date_to - q.date_from <= chrono::Duration::days(1))
        );
        assert_eq!(
            CallLogQuery::windows(from, to, chrono::Duration::zero()).len(),
            1
        );
    }

    #[test]
    fn the_query_always_carries_an_explicit_window_and_detailed_view() {
        let from = DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let to = DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut q = CallLogQuery::new(from, to);
        q.telephony_session_id = Some(TelephonySessionId::parse("s-abc").unwrap());
        let url = q
            .url(
                &Url::parse("https://platform.ringcentral.com").unwrap(),
                1000,
            )
            .unwrap();
        assert_eq!(url.path(), "/restapi/v1.0/account/~/call-log");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(get("view"), Some("Detailed"));
        assert_eq!(get("recordingType"), Some("All"));
        assert_eq!(get("dateFrom"), Some("2026-11-01T00:00:00.000Z"));
        assert_eq!(get("dateTo"), Some("2026-11-02T00:00:00.000Z"));
        assert_eq!(get("telephonySessionId"), Some("s-abc"));
        assert_eq!(get("perPage"), Some("1000"));
    }
}
