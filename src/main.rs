//! The `commentguard` command: run the service, train a model, evaluate it, score one comment.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 bad usage, configuration or input.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use time::OffsetDateTime;

use commentguard::scoring::{self, Scorer};
use commentguard::service::decode::{parse_comment, DecodeError};
use commentguard::service::ScoreResponse;
use commentguard::settings::Settings;
use commentguard::startup::Application;
use commentguard::state::load_scorer;
use commentguard::{classifier, corpus, evaluation, keys, replay, report, telemetry};
use time::format_description::well_known::Rfc3339;

/// Self-hosted comment moderation and spam filtering.
///
/// Settings come from COMMENTGUARD_* environment variables and an optional TOML file
/// (--config or COMMENTGUARD_CONFIG); flags override both.
#[derive(Parser)]
#[command(name = "commentguard", version)]
struct Cli {
    /// TOML config file (overrides COMMENTGUARD_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    #[command(after_help = commentguard::settings::help())]
    Serve {
        /// Address to listen on (overrides COMMENTGUARD_BIND).
        #[arg(long, value_name = "ADDR")]
        bind: Option<SocketAddr>,
        /// Directory with a trained model and rules (overrides COMMENTGUARD_MODELS_DIR).
        #[arg(long, value_name = "DIR")]
        models_dir: Option<PathBuf>,
    },
    /// Train a model from labelled JSON Lines files; prints the manifest as JSON.
    Train {
        /// Labelled JSON Lines file; repeat for several.
        #[arg(long = "input", value_name = "FILE", required = true)]
        inputs: Vec<PathBuf>,
        /// Directory to write the model to.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Do not draw a progress bar.
        #[arg(long)]
        no_progress: bool,
        #[command(flatten)]
        features: FeatureArgs,
    },
    /// Score a labelled file with a model trained on another (`--train`) or an existing one
    /// (`--model`); prints the metrics and verdict shares per label as one line of JSON.
    Eval {
        /// Labelled JSON Lines file to train a fresh model on.
        #[arg(long, value_name = "FILE", required_unless_present = "model")]
        train: Option<PathBuf>,
        /// Evaluate an existing model as it is: `shipped` (the embedded one) or a models
        /// directory.
        #[arg(long, value_name = "shipped|DIR", conflicts_with = "train")]
        model: Option<String>,
        /// Labelled JSON Lines file to test on; its rows may carry any score request field
        /// (author_url, site, …).
        #[arg(long, value_name = "FILE")]
        test: PathBuf,
        /// Also write a self-contained HTML report (report.html, report.json) into DIR.
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
        #[command(flatten)]
        features: FeatureArgs,
    },
    /// Choose the spam threshold by nested cross-validation on training files only; prints a
    /// JSON report with every threshold tried and the recommendation.
    Tune {
        /// Labelled JSON Lines file to cross-validate on; repeat for several.
        #[arg(long = "train", value_name = "FILE", required = true)]
        train: Vec<PathBuf>,
        /// Number of folds.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(2..=20))]
        folds: u16,
        /// Largest cross-validated false-positive rate allowed on any file.
        #[arg(long, default_value_t = 0.01)]
        max_fpr: f64,
        #[command(flatten)]
        features: FeatureArgs,
    },
    /// Create, list or revoke API keys (kept hashed in the data directory, or in
    /// PostgreSQL when COMMENTGUARD_DATABASE_URL is set).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Measure learning from moderators: stream a labelled split through scoring, correct
    /// every wrong or held verdict as a moderator would, and print errors per window next
    /// to the same model left uncorrected.
    Replay {
        /// Labelled JSON Lines file to stream through (in file order).
        #[arg(long, value_name = "FILE")]
        test: PathBuf,
        /// Train a fresh model on this file first (default: the configured model).
        #[arg(long, value_name = "FILE")]
        train: Option<PathBuf>,
        /// Comments per reported window.
        #[arg(long, default_value_t = 100)]
        every: usize,
        /// How many corpus examples one label counts as (overrides COMMENTGUARD_LABEL_WEIGHT).
        #[arg(long)]
        label_weight: Option<f32>,
        /// Shuffle the comments with this seed first (split files are grouped by label,
        /// which real traffic is not); `--seed none` keeps file order.
        #[arg(long, default_value = "1")]
        seed: String,
        /// Label every comment once scored (confirming every verdict), not only the wrong
        /// and held ones.
        #[arg(long)]
        label_all: bool,
        /// Also print errors per window of each site's own comments.
        #[arg(long)]
        by_site: bool,
        /// Per site, import the first share (0 to 1) of its comments as labelled history,
        /// stream the rest, and print per-site F1 / FPR on the rest with and without it.
        #[arg(long, value_name = "P")]
        import_share: Option<f64>,
        /// Site of the rows without a `site` field (default: the test file's name).
        #[arg(long, value_name = "SITE")]
        site: Option<String>,
        /// With --import-share: also print every comment of the rest either run got wrong
        /// or held (truth, verdict, probability and reasons without and with the import).
        #[arg(long)]
        misses: bool,
    },
    /// Measure the fuzzy fingerprints: the share of a spam file's comments with a
    /// near-duplicate among its other comments, and the share of ham files' comments that
    /// match the shipped corpus's spam; prints one line of JSON.
    FuzzyEval {
        /// Labelled JSON Lines file whose spam rows are compared with each other.
        #[arg(long, value_name = "FILE")]
        spam: PathBuf,
        /// Labelled JSON Lines file whose ham rows are compared with the shipped spam;
        /// repeat for several.
        #[arg(long = "ham", value_name = "FILE")]
        ham: Vec<PathBuf>,
    },
    /// Import moderation history (a WordPress dump, WP-CLI JSON, WXR, a Disqus export or
    /// labelled JSON Lines; plain or gzip) as labels: uploaded to a running service with
    /// --url, else written into the data directory (with the service stopped).
    Import {
        /// The export file.
        file: PathBuf,
        /// The blog URL the comments were posted to (WXR and Disqus name their own).
        #[arg(long, value_name = "URL")]
        site: Option<String>,
        /// wordpress-dump, wp-cli, wxr, disqus or jsonl (default: detected from the content).
        #[arg(long, value_name = "FORMAT")]
        format: Option<String>,
        /// A running service to upload to, e.g. http://127.0.0.1:8080.
        #[arg(long, value_name = "SERVICE")]
        url: Option<String>,
        /// An admin API key for --url.
        #[arg(long, value_name = "KEY", requires = "url")]
        key: Option<String>,
        /// Do not draw a progress bar.
        #[arg(long)]
        no_progress: bool,
        /// Only read and count the file (format, records, skips); write nothing.
        #[arg(long, conflicts_with = "url")]
        check: bool,
    },
    /// Copy the labels, keys and models of the file store (the data directory) into the
    /// store COMMENTGUARD_DATABASE_URL names; what is already there is skipped, so it can be
    /// re-run.
    MigrateStore {
        /// The store to copy into.
        #[arg(long, value_enum)]
        to: StoreKind,
    },
    /// Score one comment (score request JSON) read from stdin; prints the verdict as JSON.
    Score {
        /// Directory with a trained model and rules (overrides COMMENTGUARD_MODELS_DIR).
        #[arg(long, value_name = "DIR")]
        models_dir: Option<PathBuf>,
    },
}

/// Label stores `migrate-store` can copy into.
#[derive(Clone, Copy, clap::ValueEnum)]
enum StoreKind {
    /// PostgreSQL at COMMENTGUARD_DATABASE_URL.
    Postgres,
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a key; the key itself is the last line of output (shown once, stored hashed).
    Create {
        /// What the key may do.
        #[arg(long, value_enum)]
        role: keys::Role,
        /// The blog URL a site key scores for (required for site keys).
        #[arg(long, value_name = "URL")]
        site: Option<String>,
        /// Only if no active key exists yet (a first-start bootstrap for containers).
        #[arg(long)]
        if_none: bool,
    },
    /// List keys (ids, roles, sites; never the keys).
    List,
    /// Revoke a key by its id (from `keys list`); takes effect within a second.
    Revoke {
        /// The key's id.
        id: String,
    },
}

mod import_cmd;

/// How a command failed, which decides the exit code.
enum Failure {
    /// Bad configuration or input: exit 2.
    Usage(anyhow::Error),
    /// Anything else: exit 1.
    Runtime(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}

fn main() -> ExitCode {
    // clap exits by itself: 2 on usage errors, 0 for --help and --version.
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("error: {}", chain(&e));
            ExitCode::from(2)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("error: {}", chain(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, like `{:#}`, but skipping a cause whose text the
/// previous message already ends with (many errors repeat their source in their message).
fn chain(error: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut previous = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if !previous.ends_with(&message) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&message);
        }
        previous = message;
    }
    out
}

fn run(cli: Cli) -> Result<(), Failure> {
    let mut settings = Settings::load(cli.config.as_deref())
        .map_err(|e| Failure::Usage(anyhow::Error::new(e).context("invalid configuration")))?;
    telemetry::init(settings.log_format)?;

    match cli.command {
        Command::Serve { bind, models_dir } => {
            if let Some(bind) = bind {
                settings.bind = bind;
            }
            if models_dir.is_some() {
                settings.models_dir = models_dir;
            }
            serve(settings)
        }
        Command::Train {
            inputs,
            out,
            no_progress,
            features,
        } => {
            let trainer = features.trainer()?;
            let manifest = classifier::train_files_with(trainer, &inputs, &out, !no_progress)?;
            print_json(&manifest, true)
        }
        Command::Eval {
            train,
            model,
            test,
            report,
            features,
        } => run_eval(&settings, train, model, &test, report, &features),
        Command::Tune {
            train,
            folds,
            max_fpr,
            features,
        } => {
            let report = evaluation::tune(
                &features.trainer()?,
                &train,
                folds as usize,
                max_fpr,
                &settings.policy,
            )?;
            print_json(&report, false)
        }
        Command::Keys { action } => run_keys(&settings, action),
        Command::Replay {
            test,
            train,
            every,
            label_weight,
            seed,
            label_all,
            by_site,
            import_share,
            site,
            misses,
        } => {
            let seed = match seed.as_str() {
                "none" => None,
                s => Some(s.parse::<u64>().map_err(|_| {
                    Failure::Usage(anyhow::anyhow!("--seed must be a whole number or `none`"))
                })?),
            };
            run_replay(
                &settings,
                &test,
                train.as_deref(),
                every,
                label_weight,
                seed,
                ReplayModes {
                    label_all,
                    by_site,
                    import_share,
                    site,
                    misses,
                },
            )
        }
        Command::FuzzyEval { spam, ham } => {
            let load = |p: &std::path::Path| {
                corpus::load_jsonl(p).map_err(|e| Failure::Usage(anyhow::Error::new(e)))
            };
            let spam = load(&spam)?;
            let mut ham_rows = Vec::new();
            for path in &ham {
                ham_rows.extend(load(path)?);
            }
            let report = commentguard::fuzzy::evaluate(
                &spam,
                &ham_rows,
                commentguard::fuzzy::shipped_index(),
            );
            println!("{}", serde_json::to_string(&report).context("report")?);
            Ok(())
        }
        Command::Import {
            file,
            site,
            format,
            url,
            key,
            no_progress,
            check,
        } => import_cmd::run(
            &settings,
            &import_cmd::Args {
                file,
                site,
                format,
                url,
                key,
                progress: !no_progress,
                check,
            },
        ),
        Command::MigrateStore {
            to: StoreKind::Postgres,
        } => migrate_store(&settings),
        Command::Score { models_dir } => {
            if models_dir.is_some() {
                settings.models_dir = models_dir;
            }
            score_stdin(&settings)
        }
    }
}

/// `migrate-store --to postgres`: copies labels, keys and models; prints what was copied
/// as JSON.
fn migrate_store(settings: &Settings) -> Result<(), Failure> {
    use commentguard::database::{
        copy_file_keys, copy_file_labels, copy_file_models, Database, PgKeys, PgLabels, PgModels,
    };
    let url = settings.database_url.as_deref().ok_or_else(|| {
        Failure::Usage(anyhow::anyhow!(
            "set COMMENTGUARD_DATABASE_URL to the PostgreSQL database to copy into"
        ))
    })?;
    let database = Database::open(url)?;
    let store =
        PgLabels::new(database.clone()).context("cannot read the label log's id in PostgreSQL")?;
    let labels = copy_file_labels(&settings.data_dir, &store)
        .with_context(|| format!("cannot copy the labels in {}", settings.data_dir.display()))?;
    let keys = copy_file_keys(&settings.data_dir, &PgKeys::new(database.clone()))
        .with_context(|| format!("cannot copy the keys in {}", settings.data_dir.display()))?;
    let registry = settings
        .registry_dir
        .clone()
        .unwrap_or_else(|| settings.data_dir.join(commentguard::registry::REGISTRY_DIR));
    let models = copy_file_models(&registry, &PgModels::new(database))
        .with_context(|| format!("cannot copy the models in {}", registry.display()))?;
    print_json(
        &serde_json::json!({ "labels": labels, "keys": keys, "models": models }),
        false,
    )
}

fn run_eval(
    settings: &Settings,
    train: Option<PathBuf>,
    model: Option<String>,
    test: &std::path::Path,
    report_dir: Option<PathBuf>,
    features: &FeatureArgs,
) -> Result<(), Failure> {
    let usage = |e: anyhow::Error| Failure::Usage(e);
    let (evaluation, title) = match (train, model) {
        (Some(train), _) => {
            let evaluation =
                evaluation::evaluate_trained(&features.trainer()?, &train, test, &settings.policy)?;
            let title = format!(
                "trained on {}, tested on {}",
                train.display(),
                test.display()
            );
            (evaluation, title)
        }
        (None, Some(model)) => {
            if features.bits.is_some() || features.char_ngrams.is_some() || features.alpha.is_some()
            {
                return Err(usage(anyhow::anyhow!(
                    "--bits, --char-ngrams and --alpha apply to training; --model uses the model \
                     as it is"
                )));
            }
            let dir = (model != "shipped").then(|| PathBuf::from(&model));
            let scorer = Scorer::load(dir.as_deref(), settings.policy)
                .with_context(|| format!("cannot load the model {model}"))
                .map_err(usage)?;
            let rows = evaluation::load_labelled_requests(test)
                .map_err(|e| usage(anyhow::Error::new(e)))?;
            let title = format!(
                "model {} ({}), tested on {}",
                model,
                scorer.model_version(),
                test.display()
            );
            (evaluation::evaluate_comments(&scorer, &rows), title)
        }
        (None, None) => return Err(usage(anyhow::anyhow!("give --train FILE or --model"))),
    };
    print_json(&evaluation, false)?;
    if let Some(dir) = report_dir {
        let page = report::write(&dir, &report::ReportData::new(title, evaluation))?;
        eprintln!("report written to {}", page.display());
    }
    Ok(())
}

fn run_keys(settings: &Settings, action: KeysAction) -> Result<(), Failure> {
    // With a database, keys live there (every replica reads them); else in the data dir.
    let (file, place) = match settings.database_url.as_deref() {
        Some(url) => (
            keys::KeyStore::Shared(std::sync::Arc::new(commentguard::database::PgKeys::new(
                commentguard::database::Database::open(url)?,
            ))),
            "PostgreSQL".to_owned(),
        ),
        None => (
            keys::KeyStore::File(keys::KeyFile::in_dir(&settings.data_dir)),
            settings.data_dir.display().to_string(),
        ),
    };
    let usage = |e: keys::KeyError| match e {
        keys::KeyError::UnknownId(_) | keys::KeyError::InvalidSite(_) => {
            Failure::Usage(anyhow::Error::new(e))
        }
        e => Failure::Runtime(anyhow::Error::new(e)),
    };
    let mut out = std::io::stdout().lock();
    match action {
        KeysAction::Create {
            role,
            site,
            if_none,
        } => {
            let active = file
                .read()
                .map_err(usage)?
                .iter()
                .filter(|r| r.revoked_at.is_none())
                .count();
            if if_none && active > 0 {
                writeln!(out, "{active} active key(s) exist in {place}; none created")
                    .context("cannot write to stdout")?;
                return Ok(());
            }
            let (record, key) = file.create(role, site.as_deref()).map_err(usage)?;
            writeln!(
                out,
                "created {} key {}{} in {place}",
                record.role,
                record.id,
                record.site.map(|s| format!(" for {s}")).unwrap_or_default(),
            )
            .and_then(|()| writeln!(out, "{key}"))
            .context("cannot write to stdout")?;
        }
        KeysAction::List => {
            for r in file.read().map_err(usage)? {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}",
                    r.id,
                    r.role,
                    r.site.as_deref().unwrap_or("-"),
                    r.created_at.format(&Rfc3339).unwrap_or_default(),
                    if r.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                )
                .context("cannot write to stdout")?;
            }
        }
        KeysAction::Revoke { id } => {
            let record = file.revoke(&id).map_err(usage)?;
            writeln!(out, "revoked {} key {}", record.role, record.id)
                .context("cannot write to stdout")?;
        }
    }
    Ok(())
}

/// How `replay` labels and what it reports beyond the windows.
struct ReplayModes {
    label_all: bool,
    by_site: bool,
    import_share: Option<f64>,
    site: Option<String>,
    misses: bool,
}

fn run_replay(
    settings: &Settings,
    test: &std::path::Path,
    train: Option<&std::path::Path>,
    every: usize,
    label_weight: Option<f32>,
    seed: Option<u64>,
    per_site: ReplayModes,
) -> Result<(), Failure> {
    if per_site
        .import_share
        .is_some_and(|p| !(0.0..=1.0).contains(&p))
    {
        return Err(Failure::Usage(anyhow::anyhow!(
            "--import-share must be between 0 and 1"
        )));
    }
    let scorer = match train {
        Some(train) => {
            let trainer = classifier::Trainer::default();
            let (docs, _) = classifier::extract_files(&trainer, &[train.to_path_buf()], false)?;
            Scorer::new(
                trainer.fit(&docs),
                "replay",
                scoring::shipped_rules().context("shipped rules")?,
                settings.policy,
            )
        }
        None => load_scorer(settings)?,
    };
    let rows = corpus::load_jsonl(test).map_err(|e| Failure::Usage(anyhow::Error::new(e)))?;
    let fallback = per_site.site.clone().unwrap_or_else(|| {
        test.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "replay".into())
    });
    let sites =
        replay::row_sites(test, &fallback).map_err(|e| Failure::Usage(anyhow::Error::new(e)))?;
    let mut paired: Vec<_> = rows.into_iter().zip(sites).collect();
    if let Some(seed) = seed {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        paired.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
    }
    let (rows, sites): (Vec<_>, Vec<_>) = paired.into_iter().unzip();
    let weight = label_weight.unwrap_or(settings.label_weight);
    let dir = std::env::temp_dir().join(format!(
        "commentguard-replay-{:016x}",
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).context("cannot create a scratch label directory")?;
    let moderator = replay::Moderator {
        weight,
        label_all: per_site.label_all,
    };
    if let Some(share) = per_site.import_share {
        let result = replay::replay_import(scorer, &rows, &sites, &dir, moderator, share);
        let _ = std::fs::remove_dir_all(&dir);
        print_import(&result.context("replay failed")?, share, per_site.misses);
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "comments\terrors\terrors_frozen\theld\theld_frozen\tlabels_sent\tfuzzy_hits"
    );
    let result = replay::replay(scorer, &rows, &sites, &dir, moderator, every, |w| {
        let _ = writeln!(
            out,
            "{}-{}\t{}\t{}\t{}\t{}\t{}\t{}",
            w.first,
            w.last,
            w.errors,
            w.errors_frozen,
            w.held,
            w.held_frozen,
            w.labels_sent,
            w.fuzzy_hits
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
    let summary = result.context("replay failed")?;
    let _ = writeln!(
        out,
        "total\t{}\t{}\t\t\t\nerrors per 100: first half {:.2}, second half {:.2} (uncorrected model: {:.2}), label weight {weight}",
        summary.errors,
        summary.errors_frozen,
        summary.first_half_rate,
        summary.second_half_rate,
        summary.second_half_rate_frozen,
    );
    let spam = rows
        .iter()
        .filter(|r| r.label == commentguard::domain::Label::Spam)
        .count();
    let ham = rows.len() - spam;
    let _ = writeln!(
        out,
        "fuzzy.labelled_spam: {} of {spam} spam ({:.1}%), {} of {ham} ham",
        summary.fuzzy_spam_hits,
        100.0 * summary.fuzzy_spam_hits as f64 / spam.max(1) as f64,
        summary.fuzzy_ham_hits,
    );
    if per_site.by_site {
        let _ = writeln!(out, "site\tcomments\terrors\terrors_frozen");
        for w in &summary.by_site {
            let _ = writeln!(
                out,
                "{}\t{}-{}\t{}\t{}",
                w.site, w.first, w.last, w.errors, w.errors_frozen
            );
        }
    }
    Ok(())
}

/// Prints `replay --import-share`'s table: per site, F1 / FPR on the rest of its comments.
fn print_import(sites: &[replay::SiteImport], share: f64, misses: bool) {
    use commentguard::domain::{Label, Verdict};
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "site\thistory\trest\tf1_without\tfpr_without\tf1_with\tfpr_with\t(import share {share})"
    );
    for s in sites {
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{:.4}\t{:.4}\t{:.4}\t{:.4}",
            s.site, s.history, s.rest, s.without.f1, s.without.fpr, s.with.f1, s.with.fpr
        );
    }
    if !misses {
        return;
    }
    let _ = writeln!(
        out,
        "site\tposition\ttruth\tverdict_without\tp_without\tverdict_with\tp_with\treasons_with"
    );
    let name = |v: Verdict| format!("{v:?}").to_lowercase();
    for s in sites {
        for m in &s.misses {
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}\t{:.4}\t{}\t{:.4}\t{}",
                s.site,
                m.position,
                if m.label == Label::Spam {
                    "spam"
                } else {
                    "ham"
                },
                name(m.without.0),
                m.without.1,
                name(m.with.0),
                m.with.1,
                m.with.2.join(",")
            );
        }
    }
}

/// Parses `MIN-MAX` (e.g. `3-5`).
/// Feature settings that `train`, `eval` and `tune` accept, to try a configuration before
/// shipping it.
#[derive(clap::Args)]
struct FeatureArgs {
    /// Hash features into 2^BITS buckets (8-24; default the shipped model's).
    #[arg(long, value_parser = clap::value_parser!(u8).range(8..=24))]
    bits: Option<u8>,
    /// Character n-gram lengths as MIN-MAX, e.g. 3-5 (default the shipped model's).
    #[arg(long, value_name = "MIN-MAX", value_parser = parse_range)]
    char_ngrams: Option<(u8, u8)>,
    /// Additive smoothing of feature counts, a positive number (default the shipped model's).
    #[arg(long)]
    alpha: Option<f64>,
}

impl FeatureArgs {
    /// The shipped trainer with these settings applied (rejected if out of range).
    fn trainer(&self) -> Result<classifier::Trainer, Failure> {
        let mut options = classifier::TrainOptions::default();
        if let Some(bits) = self.bits {
            options.params.features.bits = bits;
        }
        if let Some((min, max)) = self.char_ngrams {
            options.params.features.char_min = min;
            options.params.features.char_max = max;
        }
        if let Some(alpha) = self.alpha {
            options.params.alpha = alpha;
        }
        options
            .params
            .validate()
            .map_err(|e| Failure::Usage(anyhow::anyhow!(e)))?;
        Ok(classifier::Trainer::new(options))
    }
}

fn parse_range(s: &str) -> Result<(u8, u8), String> {
    let (min, max) = s.split_once('-').ok_or("expected MIN-MAX, e.g. 3-5")?;
    let parse = |v: &str| v.trim().parse::<u8>().map_err(|e| format!("{v:?}: {e}"));
    Ok((parse(min)?, parse(max)?))
}

fn serve(settings: Settings) -> Result<(), Failure> {
    Application::build(settings)?
        .run_blocking()
        .context("the HTTP server failed")?;
    Ok(())
}

/// Reads one score request from stdin, refuses it exactly as the HTTP route would, and
/// prints the same JSON the route answers.
fn score_stdin(settings: &Settings) -> Result<(), Failure> {
    let bad_input = |e: DecodeError| Failure::Usage(anyhow::anyhow!("{}: {e}", e.code()));
    let limit = settings.max_body_bytes;
    let mut body = Vec::new();
    // One byte past the limit is enough to know it is too large.
    std::io::stdin()
        .lock()
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .context("cannot read stdin")?;
    if body.len() > limit {
        return Err(Failure::Usage(anyhow::anyhow!(
            "payload_too_large: request body is larger than the {limit}-byte limit"
        )));
    }
    let comment = parse_comment(&body).map_err(bad_input)?;
    let scorer = load_scorer(settings)?;
    let assessment = scorer.score_comment(&comment, OffsetDateTime::now_utc());
    print_json(&ScoreResponse::fresh(assessment), false)
}

/// Prints `value` as JSON on stdout: one line, or indented when `pretty`.
fn print_json(value: &impl serde::Serialize, pretty: bool) -> Result<(), Failure> {
    let json = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
    .context("cannot serialise the output")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{json}").context("cannot write to stdout")?;
    Ok(())
}
