//! `commentguard import FILE --site URL [--format F] [--url SERVICE --key KEY]`: uploads
//! to a running service, or imports into the data directory when no `--url` is given.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use commentguard::domain::Label;
use commentguard::import::{Format, Record, Stop};
use commentguard::keys::{normalize_site, KeyFile};
use commentguard::labels::LabelBook;
use commentguard::service::import::{
    failure_detail, import_into, ImportCounts, ImportFailure, ImportRequest,
};
use commentguard::settings::Settings;
use commentguard::state::load_scorer;
use commentguard::upload::{encode_query_value, post_stream, ServiceUrl};

use super::Failure;

/// The command's arguments.
pub struct Args {
    pub file: PathBuf,
    pub site: Option<String>,
    pub format: Option<String>,
    pub url: Option<String>,
    pub key: Option<String>,
    pub progress: bool,
    pub check: bool,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::Usage(anyhow::anyhow!(message.into()))
}

/// Runs the command.
pub fn run(settings: &Settings, args: &Args) -> Result<(), Failure> {
    let format = match args.format.as_deref() {
        None => None,
        Some(name) => Some(Format::from_name(name).ok_or_else(|| {
            usage(format!(
                "--format must be one of {}",
                Format::ALL.map(Format::name).join(", ")
            ))
        })?),
    };
    let site = match args.site.as_deref() {
        None => None,
        Some(url) => {
            Some(normalize_site(url).ok_or_else(|| usage("--site must be an http(s) URL"))?)
        }
    };
    let file = File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))
        .map_err(Failure::Usage)?;
    let length = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(args.progress, length);
    let result = match &args.url {
        Some(url) => upload(args, url, site.as_deref(), format, file, length, &bar),
        None if args.check => check(site, format, file, &bar),
        None => import_locally(settings, site, format, file, &bar),
    };
    bar.finish_and_clear();
    result
}

fn progress_bar(shown: bool, length: u64) -> ProgressBar {
    if !shown {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(length);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Counts the bytes read from the file into the bar.
struct Metered<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn upload(
    args: &Args,
    url: &str,
    site: Option<&str>,
    format: Option<Format>,
    file: File,
    length: u64,
    bar: &ProgressBar,
) -> Result<(), Failure> {
    let service = ServiceUrl::parse(url).map_err(usage)?;
    let mut query = Vec::new();
    if let Some(site) = site {
        query.push(format!("site={}", encode_query_value(site)));
    }
    if let Some(format) = format {
        query.push(format!("format={}", format.name()));
    }
    let path = format!("/v1/admin/import?{}", query.join("&"));
    bar.set_message("uploading (records are counted by the service)");
    let answer = post_stream(
        &service,
        &path,
        args.key.as_deref(),
        file,
        length,
        &mut |sent| bar.set_position(sent),
    )
    .with_context(|| format!("cannot upload to {url}"))?;
    bar.finish_and_clear();
    let body: serde_json::Value = serde_json::from_slice(&answer.body).with_context(|| {
        format!(
            "the service answered {} with a body that is not JSON",
            answer.status
        )
    })?;
    let pretty = serde_json::to_string_pretty(&body).unwrap_or_default();
    match answer.status {
        200..=299 => {
            println!("{pretty}");
            Ok(())
        }
        400..=499 => Err(usage(format!(
            "the service refused the import ({}): {pretty}",
            answer.status
        ))),
        status => Err(Failure::Runtime(anyhow::anyhow!(
            "the service failed the import ({status}): {pretty}"
        ))),
    }
}

/// Reads the file through the parser and counts, writing nothing.
fn check(
    site: Option<String>,
    format: Option<Format>,
    file: File,
    bar: &ProgressBar,
) -> Result<(), Failure> {
    let input = Metered {
        inner: file,
        bar: bar.clone(),
    };
    let mut counts = ImportCounts::default();
    let (mut spam, mut ham) = (0u64, 0u64);
    let start = std::time::Instant::now();
    let result = {
        let mut sink = |record: Record| -> Result<(), Stop> {
            counts.records_read += 1;
            match record {
                Record::Labelled(_, Label::Spam) => spam += 1,
                Record::Labelled(_, Label::Ham) => ham += 1,
                Record::Skipped(reason) => *counts.skipped.entry(reason).or_default() += 1,
            }
            Ok(())
        };
        commentguard::import::parse(input, format, site.as_deref(), &mut sink)
    };
    bar.finish_and_clear();
    let format = match result {
        Ok(format) => format,
        Err(Stop::Input(e)) => return Err(usage(e.to_string())),
        Err(Stop::Sink(e)) => return Err(Failure::Runtime(e)),
    };
    let summary = serde_json::json!({
        "format": format,
        "records_read": counts.records_read,
        "spam": spam,
        "ham": ham,
        "skipped": counts.skipped,
        "seconds": start.elapsed().as_secs_f64(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&summary).unwrap_or_default()
    );
    Ok(())
}

fn import_locally(
    settings: &Settings,
    site: Option<String>,
    format: Option<Format>,
    file: File,
    bar: &ProgressBar,
) -> Result<(), Failure> {
    let keys = KeyFile::in_dir(&settings.data_dir);
    let _lock = keys.lock().context("cannot lock the data directory")?;
    let scorer = load_scorer(settings)?;
    let (book, _) = LabelBook::open(&settings.data_dir, scorer, settings.label_weight)
        .with_context(|| {
            format!(
                "cannot open the label log in {}",
                settings.data_dir.display()
            )
        })?;
    let request = ImportRequest {
        format,
        site,
        key_id: None,
    };
    let input = Metered {
        inner: file,
        bar: bar.clone(),
    };
    let outcome = import_into(
        &book,
        input,
        &request,
        &mut |format| bar.set_message(format!("{} ", format.name())),
        &mut |counts| {
            bar.set_message(format!(
                "{} records, {} new labels, {} duplicates",
                counts.records_read,
                counts.imported_spam + counts.imported_ham,
                counts.duplicates
            ))
        },
        &mut |_, _| {},
    );
    bar.finish_and_clear();
    match outcome {
        Ok(counts) => {
            let summary = serde_json::json!({ "state": "succeeded", "counts": counts });
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).unwrap_or_default()
            );
            Ok(())
        }
        Err((counts, failure)) => {
            let summary = serde_json::json!({
                "state": "failed",
                "counts": counts,
                "error": failure_detail(&failure),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&summary).unwrap_or_default()
            );
            match failure {
                ImportFailure::Input(e) => Err(usage(format!(
                    "{e}; {} labels were committed before it",
                    counts.committed
                ))),
                ImportFailure::Store(e) => Err(Failure::Runtime(
                    anyhow::Error::new(e).context("the label log cannot be written"),
                )),
            }
        }
    }
}
