//! Finding one page of matching conversations: which term leads (the
//! rarest), and the statement that walks its index rows or, without terms,
//! the newest conversations.

use super::*;

/// How the page query finds its candidate conversations.
enum Driver<'a> {
    /// Every conversation, along the recency index.
    Recency,
    /// The conversations of one index term (`lead`), newest first straight
    /// from the index; the other terms are probed per candidate.
    Terms { lead: &'a str, rest: Vec<&'a str> },
    /// The conversations one id names (conversation, telephony session, call
    /// record or recording id); the terms are probed per candidate.
    Ids { text: &'a str, terms: &'a [String] },
}

/// How many index rows of a term to count at most when choosing the term
/// that leads (the rarest); a term this common leads fast anyway.
const TERM_COUNT_CAP: i64 = 10_000;

impl Catalog {
    /// One page of (conversation id, sort key) matching `filter`, newest first.
    pub(super) async fn matching_page(
        &self,
        scope: Scope,
        filter: &ConversationFilter,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<(String, i64)>, CatalogError> {
        // Terms every match must have.
        let mut required: Vec<String> = Vec::new();
        if let Some(ext) = filter.extension_id.as_deref() {
            required.push(search_index::extension_term(ext));
        }
        if let Some(party) = filter.party.as_deref() {
            let terms = search_index::query_terms(party);
            if terms.is_empty() {
                return Ok(Vec::new());
            }
            required.extend(terms);
        }
        let page: Vec<(String, i64)> = match filter.text.as_deref() {
            // (id match OR text terms) AND the rest: two small queries for the
            // first offset + limit rows each, merged here. Each row of the
            // merged page is within the first offset + limit of its branch.
            Some(text) => {
                let want = offset.saturating_add(limit);
                let mut rows = self
                    .page_ids(
                        scope,
                        filter,
                        Driver::Ids {
                            text,
                            terms: &required,
                        },
                        want,
                        0,
                    )
                    .await?;
                let text_terms = search_index::query_terms(text);
                if !text_terms.is_empty() {
                    let all: Vec<String> = required.iter().cloned().chain(text_terms).collect();
                    let driver = self.lead_term(&all).await?;
                    rows.extend(self.page_ids(scope, filter, driver, want, 0).await?);
                }
                rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
                rows.dedup_by(|a, b| a.0 == b.0);
                rows.into_iter()
                    .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                    .take(usize::try_from(limit).unwrap_or(usize::MAX))
                    .collect()
            }
            None if required.is_empty() => {
                self.page_ids(scope, filter, Driver::Recency, limit, offset)
                    .await?
            }
            None => {
                let driver = self.lead_term(&required).await?;
                self.page_ids(scope, filter, driver, limit, offset).await?
            }
        };
        Ok(page)
    }

    /// Orders `terms` (at least one) with the rarest first, so it leads.
    ///
    /// Each term is counted only up to the smallest count so far: the counts
    /// need only show which term is rarest, so a common term after a rare
    /// one stops after a few index rows instead of [`TERM_COUNT_CAP`].
    async fn lead_term<'a>(&self, terms: &'a [String]) -> Result<Driver<'a>, CatalogError> {
        let mut lead = terms.first().map_or("", String::as_str);
        if terms.len() > 1 {
            // A later term must count fewer than `fewest` to lead: one that
            // reaches the cap ties and stays behind the exactly counted one.
            let mut fewest = TERM_COUNT_CAP;
            for term in terms {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM conversation_terms
                            WHERE term = $1 LIMIT $2) n",
                )
                .bind(term.as_str())
                .bind(fewest)
                .fetch_one(&self.pool)
                .await?;
                if n < fewest {
                    (lead, fewest) = (term.as_str(), n);
                }
                if n == 0 {
                    // Nothing matches: this term leads to an empty page.
                    break;
                }
            }
        }
        Ok(Driver::Terms {
            lead,
            rest: terms
                .iter()
                .map(String::as_str)
                .filter(|t| *t != lead)
                .collect(),
        })
    }

    /// One page of (conversation id, sort key), newest first, found by
    /// `driver` and narrowed by the filters that are not terms.
    async fn page_ids(
        &self,
        scope: Scope,
        filter: &ConversationFilter,
        driver: Driver<'_>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<(String, i64)>, CatalogError> {
        let (state, failed) = match filter.state {
            Some(StateFilter::Is(s)) => (Some(s.as_str()), false),
            Some(StateFilter::HasFailedRecording) => (None, true),
            None => (None, false),
        };
        let rows: Vec<(String, i64)> = {
            // Only the filters in use appear in the statement, so the planner
            // sees plain predicates it can match to indexes.
            let mut q;
            let (at, order);
            match &driver {
                Driver::Recency => {
                    q = Statement::new(
                        "SELECT c.id, COALESCE(c.started_at, c.created_at)
                         FROM conversations c WHERE 1 = 1",
                    );
                    at = "COALESCE(c.started_at, c.created_at)";
                    order = " ORDER BY COALESCE(c.started_at, c.created_at) DESC, c.id DESC";
                }
                Driver::Terms { lead, rest } => {
                    // CROSS JOIN keeps SQLite walking the term's index rows
                    // (already newest first) rather than all conversations.
                    q = Statement::new(
                        "SELECT t.conversation_id, t.at FROM conversation_terms t
                         CROSS JOIN conversations c
                         WHERE c.id = t.conversation_id AND t.term = ",
                    );
                    q.push_bind(*lead);
                    for term in rest {
                        // All terms of a conversation share its `at`: a
                        // primary-key probe.
                        q.push(
                            " AND EXISTS (SELECT 1 FROM conversation_terms t2
                            WHERE t2.term = ",
                        );
                        q.push_bind(*term);
                        q.push(" AND t2.at = t.at AND t2.conversation_id = t.conversation_id)");
                    }
                    at = "t.at";
                    order = " ORDER BY t.at DESC, t.conversation_id DESC";
                }
                Driver::Ids { text, terms } => {
                    q = Statement::new(
                        "SELECT c.id, COALESCE(c.started_at, c.created_at)
                         FROM conversations c WHERE c.id IN (SELECT CAST(",
                    );
                    q.push_bind(*text);
                    q.push(
                        " AS TEXT) UNION SELECT conversation_id FROM conversation_sessions
                        WHERE telephony_session_id = ",
                    );
                    q.push_bind(*text);
                    q.push(" UNION SELECT ics.conversation_id FROM call_records ir
                        JOIN conversation_sessions ics ON ics.telephony_session_id = ir.telephony_session_id
                        WHERE ir.id = ");
                    q.push_bind(*text);
                    q.push(" UNION SELECT rcs.conversation_id FROM recordings irec
                        JOIN conversation_sessions rcs ON rcs.telephony_session_id = irec.telephony_session_id
                        WHERE irec.id = ");
                    q.push_bind(*text);
                    q.push(")");
                    for term in terms.iter() {
                        q.push(
                            " AND EXISTS (SELECT 1 FROM conversation_terms t2
                            WHERE t2.conversation_id = c.id AND t2.term = ",
                        );
                        q.push_bind(term.as_str());
                        q.push(")");
                    }
                    at = "COALESCE(c.started_at, c.created_at)";
                    order = " ORDER BY COALESCE(c.started_at, c.created_at) DESC, c.id DESC";
                }
            }
            if let Scope::User(user) = scope {
                q.push(format_args!(
                    " AND EXISTS (SELECT 1 FROM conversation_sessions vs
                    JOIN call_records vr ON vr.telephony_session_id = vs.telephony_session_id
                    JOIN {USER_EXTENSIONS} ue ON ue.user_id = "
                ));
                q.push_bind(user.get());
                q.push(
                    " WHERE vs.conversation_id = c.id
                      AND (vr.extension_id = ue.extension_id
                           OR EXISTS (SELECT 1 FROM legs vl
                                      WHERE vl.call_record_id = vr.id
                                        AND vl.extension_id = ue.extension_id)))",
                );
            }
            if let Some(from) = filter.from {
                q.push(format!(" AND {at} >= "));
                q.push_bind(to_ms(from));
            }
            if let Some(to) = filter.to {
                q.push(format!(" AND {at} < "));
                q.push_bind(to_ms(to));
            }
            if let Some(direction) = filter.direction.as_deref() {
                q.push(
                    " AND EXISTS (SELECT 1 FROM conversation_sessions ds
                    JOIN call_records dr ON dr.telephony_session_id = ds.telephony_session_id
                    WHERE ds.conversation_id = c.id AND dr.direction = ",
                );
                q.push_bind(direction);
                q.push(")");
            }
            if let Some(state) = state {
                q.push(" AND c.state = ");
                q.push_bind(state);
            }
            if failed {
                q.push(
                    " AND EXISTS (SELECT 1 FROM conversation_sessions fs2
                    JOIN recordings fr2 ON fr2.telephony_session_id = fs2.telephony_session_id
                    WHERE fs2.conversation_id = c.id AND fr2.state = 'failed')",
                );
            }
            q.push(order);
            q.push(" LIMIT ");
            q.push_bind(limit);
            q.push(" OFFSET ");
            q.push_bind(offset);
            q.build_query_as()?.fetch_all(&self.pool).await?
        };
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalog whose term index holds `w:common` for 30 conversations,
    /// `w:rare` for 3 and `w:absent` for none.
    async fn catalog_with_terms() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("c.sqlite").display());
        let catalog = Catalog::open(&url).await.unwrap();
        for i in 0..30_i64 {
            let id = format!("s-{i}");
            sqlx::query(
                "INSERT INTO conversations (id, state, started_at, arrived_by_sync,
                    created_at, updated_at) VALUES ($1, 'single', $2, TRUE, $2, $2)",
            )
            .bind(&id)
            .bind(i)
            .execute(&catalog.pool)
            .await
            .unwrap();
            let terms: &[&str] = if i % 10 == 0 {
                &["w:common", "w:rare"]
            } else {
                &["w:common"]
            };
            for term in terms {
                sqlx::query(
                    "INSERT INTO conversation_terms (term, at, conversation_id)
                     VALUES ($1, $2, $3)",
                )
                .bind(*term)
                .bind(i)
                .bind(&id)
                .execute(&catalog.pool)
                .await
                .unwrap();
            }
        }
        (dir, catalog)
    }

    async fn lead_of(catalog: &Catalog, terms: &[&str]) -> (String, Vec<String>) {
        let terms: Vec<String> = terms.iter().map(|t| (*t).to_owned()).collect();
        match catalog.lead_term(&terms).await.unwrap() {
            Driver::Terms { lead, rest } => (
                lead.to_owned(),
                rest.into_iter().map(str::to_owned).collect(),
            ),
            _ => panic!("lead_term returns a term driver"),
        }
    }

    #[tokio::test]
    async fn the_rarest_term_leads_whichever_order_the_terms_come_in() {
        let (_dir, catalog) = catalog_with_terms().await;
        assert_eq!(
            lead_of(&catalog, &["w:common", "w:rare"]).await,
            ("w:rare".to_owned(), vec!["w:common".to_owned()])
        );
        assert_eq!(
            lead_of(&catalog, &["w:rare", "w:common"]).await,
            ("w:rare".to_owned(), vec!["w:common".to_owned()])
        );
        assert_eq!(
            lead_of(&catalog, &["w:common", "w:absent", "w:rare"]).await,
            (
                "w:absent".to_owned(),
                vec!["w:common".to_owned(), "w:rare".to_owned()]
            )
        );
        assert_eq!(
            lead_of(&catalog, &["w:common"]).await,
            ("w:common".to_owned(), vec![])
        );
    }
}
