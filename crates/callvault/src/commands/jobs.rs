//! `callvault jobs ls|retry`: the operator's view of the job queue and the
//! way back for dead jobs.
//!
//! A job dies when it runs out of attempts or fails for good (a 404, a
//! corrupt download); it then waits for a person. `jobs ls` shows what is
//! live and what died, with the last error, and `jobs retry` puts dead jobs
//! back in the queue with fresh attempts once the cause is fixed. The web
//! status page's "Retry all failures" button does the same for everything
//! at once; this command is for one job, for scripts and for hosts without
//! the web UI.

use anyhow::bail;
use chrono::{DateTime, Utc};
use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use serde::Serialize;
use vault::{Catalog, CatalogError, Job, JobId, JobState};

use crate::configuration::StoreArgs;

/// Options of `callvault jobs`.
#[derive(Debug, Clone, Args)]
pub struct JobsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: JobsAction,
}

/// `jobs` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum JobsAction {
    /// List jobs, newest first: the live ones (queued, leased, retry) and the dead, unless filtered.
    Ls(JobsLsArgs),
    /// Requeue a dead job by id, or every dead job with --all-dead (exit 1 if one could not be).
    Retry(JobsRetryArgs),
}

/// Arguments of `callvault jobs ls`.
#[derive(Debug, Clone, Args)]
pub struct JobsLsArgs {
    /// Where the catalog lives.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only dead jobs (the same as `--state dead`).
    #[arg(long, conflicts_with = "state")]
    pub dead: bool,
    /// Only jobs in this state.
    #[arg(long, value_enum)]
    pub state: Option<StateArg>,
    /// Only jobs of this kind (`download`, `stitch`, …).
    #[arg(long)]
    pub kind: Option<String>,
    /// Jobs listed at most, newest first.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Print a JSON array on stdout: id, kind, dedupeKey, state, attempts,
    /// maxAttempts, lastError, createdAt, runAt, finishedAt per job.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `callvault jobs retry`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["id", "all_dead"])))]
pub struct JobsRetryArgs {
    /// Where the catalog lives.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The dead job's id (the first column of `jobs ls`).
    pub id: Option<i64>,
    /// Requeue every dead job; those that cannot be are listed with why.
    #[arg(long)]
    pub all_dead: bool,
}

/// The `--state` flag: a job state as an operator types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    /// Waiting for its first claim.
    Queued,
    /// Held by a worker.
    Leased,
    /// Waiting to be tried again.
    Retry,
    /// Finished.
    Done,
    /// Given up on; waits for `jobs retry`.
    Dead,
}

impl From<StateArg> for JobState {
    fn from(state: StateArg) -> Self {
        match state {
            StateArg::Queued => JobState::Queued,
            StateArg::Leased => JobState::Leased,
            StateArg::Retry => JobState::Retry,
            StateArg::Done => JobState::Done,
            StateArg::Dead => JobState::Dead,
        }
    }
}

/// What `jobs ls` shows without a state filter: everything that still needs
/// a worker or a person. Done jobs are left out; there are many and they
/// need nobody.
pub const LISTED_BY_DEFAULT: [JobState; 4] = [
    JobState::Queued,
    JobState::Leased,
    JobState::Retry,
    JobState::Dead,
];

/// One job as `jobs ls --json` prints it. Scripts depend on these field
/// names (camelCase, like the other `--json` outputs): add fields, never
/// rename or remove one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRow {
    /// The id `jobs retry` takes.
    pub id: i64,
    /// `download`, `stitch`, …
    pub kind: String,
    /// What the job is about, e.g. `rec:401786818008`.
    pub dedupe_key: String,
    /// `queued`, `leased`, `retry`, `done` or `dead`.
    pub state: JobState,
    /// Attempts used (a retry resets them to 0).
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Why the last attempt failed, if one did.
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When it is (or was) due.
    pub run_at: DateTime<Utc>,
    /// When it finished (done or dead).
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Job> for JobRow {
    fn from(job: Job) -> Self {
        JobRow {
            id: job.id.get(),
            kind: job.kind,
            dedupe_key: job.dedupe_key,
            state: job.state,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            last_error: job.last_error,
            created_at: job.created_at,
            run_at: job.run_at,
            finished_at: job.finished_at,
        }
    }
}

/// Runs `callvault jobs …`.
pub async fn run(args: JobsArgs) -> anyhow::Result<()> {
    match args.action {
        JobsAction::Ls(args) => {
            let catalog = crate::app::catalog(&args.store).await?;
            let rows = list(&catalog, &args).await?;
            print_list(&rows, args.json)?;
            if rows.len() >= usize::try_from(args.limit).unwrap_or(usize::MAX) {
                // On stderr, so that `--json` output stays one array.
                eprintln!(
                    "(showing the newest {}; there may be more: --limit N)",
                    args.limit
                );
            }
            Ok(())
        }
        JobsAction::Retry(args) => {
            let catalog = crate::app::catalog(&args.store).await?;
            match args.id {
                Some(id) => retry_one_by_id(&catalog, id).await,
                None => retry_every_dead(&catalog).await,
            }
        }
    }
}

/// The jobs `args` asks for, newest first.
pub async fn list(catalog: &Catalog, args: &JobsLsArgs) -> anyhow::Result<Vec<JobRow>> {
    let states: Vec<JobState> = match (args.dead, args.state) {
        (true, _) => vec![JobState::Dead],
        (false, Some(state)) => vec![state.into()],
        (false, None) => LISTED_BY_DEFAULT.to_vec(),
    };
    let jobs = catalog
        .list_jobs(&states, args.kind.as_deref(), args.limit)
        .await?;
    Ok(jobs.into_iter().map(JobRow::from).collect())
}

/// Prints the rows as a JSON array or as an aligned table.
pub fn print_list(rows: &[JobRow], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
    } else if rows.is_empty() {
        println!("no jobs");
    } else {
        print!("{}", table(rows));
    }
    Ok(())
}

/// The rows as a table for a terminal: one line per job, the last error
/// last because it is the longest.
fn table(rows: &[JobRow]) -> String {
    const HEADER: [&str; 8] = [
        "ID",
        "KIND",
        "KEY",
        "STATE",
        "ATTEMPTS",
        "CREATED",
        "FINISHED",
        "LAST ERROR",
    ];
    let lines: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.id.to_string(),
                printable(&r.kind),
                printable(&r.dedupe_key),
                r.state.as_str().to_owned(),
                format!("{}/{}", r.attempts, r.max_attempts),
                time(Some(r.created_at)),
                time(r.finished_at),
                r.last_error
                    .as_deref()
                    .map_or_else(|| "-".into(), printable),
            ]
        })
        .collect();
    let mut widths = HEADER.map(str::len);
    for line in &lines {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = HEADER.map(str::to_owned);
    for line in std::iter::once(&header).chain(&lines) {
        let [padded @ .., last] = line;
        for (cell, width) in padded.iter().zip(widths) {
            out.push_str(&format!("{cell:<width$}  "));
        }
        out.push_str(last);
        out.push('\n');
    }
    out
}

/// A catalog time for the table, in UTC to the second; `-` when unset.
fn time(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// `text` on one line with its control characters escaped: errors quote
/// what remote servers said, and a newline or an escape sequence in there
/// must not break the table or drive the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// What became of one dead job an operator asked to retry.
#[derive(Debug, Clone, PartialEq)]
pub enum Retried {
    /// Back in the queue, due now, with its attempts reset.
    Requeued(Job),
    /// No job has this id.
    NoSuchJob(JobId),
    /// The job is not dead: a live one runs anyway, a done one succeeded.
    NotDead(Job),
    /// A live job with the same kind and key exists and will do the work;
    /// requeueing would make two.
    LiveTwin {
        /// The dead job.
        job: Job,
        /// Its live twin.
        twin: JobId,
        /// Where the twin stands.
        twin_state: JobState,
    },
    /// The job kept changing while it was being retried.
    Busy(JobId),
}

impl Retried {
    /// Whether the job is back in the queue.
    pub fn requeued(&self) -> bool {
        matches!(self, Retried::Requeued(_))
    }
}

/// `job 7 (download rec:1)`.
fn named(job: &Job) -> String {
    format!(
        "job {} ({} {})",
        job.id,
        printable(&job.kind),
        printable(&job.dedupe_key)
    )
}

impl std::fmt::Display for Retried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Retried::Requeued(job) => write!(
                f,
                "requeued {}: queued, due now, attempts reset",
                named(job)
            ),
            Retried::NoSuchJob(id) => write!(f, "there is no job {id}"),
            Retried::NotDead(job) => write!(
                f,
                "{} is {}, not dead: only dead jobs can be retried",
                named(job),
                job.state.as_str()
            ),
            Retried::LiveTwin {
                job,
                twin,
                twin_state,
            } => write!(
                f,
                "{} was not requeued: job {} with the same kind and key is already {} and will do the work",
                named(job),
                twin,
                twin_state.as_str()
            ),
            Retried::Busy(id) => write!(
                f,
                "job {id} kept changing while being retried; look at `callvault jobs ls` and try again"
            ),
        }
    }
}

/// Rounds of look-then-requeue before [`Retried::Busy`]: another operator
/// or a finishing twin can change the job between the two steps.
const RETRY_ROUNDS: usize = 3;

/// Requeues the dead job `id`, or says why not. Looks first, so the answer
/// names the reason ([`Catalog::requeue_dead`] only says yes or no), then
/// requeues; a change in between makes it look again.
pub async fn retry_job(catalog: &Catalog, id: JobId) -> Result<Retried, CatalogError> {
    for _ in 0..RETRY_ROUNDS {
        let Some(job) = catalog.job(id).await? else {
            return Ok(Retried::NoSuchJob(id));
        };
        if job.state != JobState::Dead {
            return Ok(Retried::NotDead(job));
        }
        if let Some(twin) = catalog.live_job(&job.kind, &job.dedupe_key).await? {
            return Ok(Retried::LiveTwin {
                job,
                twin: twin.id,
                twin_state: twin.state,
            });
        }
        if catalog.requeue_dead(id).await? {
            return Ok(Retried::Requeued(job));
        }
    }
    Ok(Retried::Busy(id))
}

/// `jobs retry ID`: the outcome on stdout, or an error (exit 1).
async fn retry_one_by_id(catalog: &Catalog, id: i64) -> anyhow::Result<()> {
    let outcome = retry_job(catalog, JobId::new(id)).await?;
    if !outcome.requeued() {
        bail!("{outcome}");
    }
    println!("{outcome}");
    Ok(())
}

/// `jobs retry --all-dead`: how many were requeued and, for each one that
/// was not, why; an error (exit 1) when any was not.
async fn retry_every_dead(catalog: &Catalog) -> anyhow::Result<()> {
    // Every dead job, not a page: skipped ones stay dead, so paging by
    // state would see them again.
    let dead = catalog.jobs_in_state(JobState::Dead, u32::MAX).await?;
    if dead.is_empty() {
        println!("no dead jobs");
        return Ok(());
    }
    let mut requeued = 0usize;
    let mut skipped = Vec::new();
    for job in dead {
        let outcome = retry_job(catalog, job.id).await?;
        if outcome.requeued() {
            requeued += 1;
        } else {
            skipped.push(outcome);
        }
    }
    println!("requeued {requeued} dead job(s)");
    if !skipped.is_empty() {
        println!("skipped {}:", skipped.len());
        for outcome in &skipped {
            println!("  {outcome}");
        }
        bail!(
            "{} dead job(s) could not be requeued (listed above)",
            skipped.len()
        );
    }
    Ok(())
}

#[cfg(test)]
#[path = "jobs_tests.rs"]
mod tests;
