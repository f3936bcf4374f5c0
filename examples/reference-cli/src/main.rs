//! `mlotel-reference`: fits an mlotel drift reference profile from a CSV file, or checks a
//! reference JSON file. Run with `--help` for usage.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mlotel::drift::reference::{
    CalibrationOptions, CsvOptions, DEFAULT_BINS, DEFAULT_TOP_CATEGORIES, FeatureProfile,
    FitOptions, MAX_BINS, NumericProfile, Reference, ReferenceError,
};

const USAGE: &str = "\
mlotel-reference: fit and check mlotel drift reference profiles

USAGE:
    mlotel-reference fit <DATA.csv> [OPTIONS]
    mlotel-reference check <REFERENCE.json> [--features NAME,NAME,...]
    mlotel-reference --help

fit <DATA.csv>
    Reads a CSV file whose first row names the columns and writes the reference profile
    (versioned JSON) to standard output. Every column is a feature, in file order, except
    the excluded and prediction columns. A column whose every non-missing cell is a number
    is numeric (quantile bins), any other is categorical (top categories + other). Cells
    that are empty or one of NA, NaN, nan, null, None are missing.

    --bins N                 Quantile bins per numeric feature, 1 to 10000 (default 10);
                             tied quantiles collapse into one bin.
    --top-categories N       Categories kept per categorical feature, the most frequent
                             first; the rest share an \"other\" bin (default 20).
    --categorical COL        Read column COL as categorical even if it holds numbers
                             (e.g. integer codes). Repeatable.
    --label-column COL       Column COL holds the model's predicted labels: it fits the
                             label profile and is not a feature.
    --confidence-column COL  Column COL holds the model's confidence: it fits the
                             confidence profile and is not a feature.
    --exclude COL            Column COL is not a feature (ids, targets, timestamps).
                             Repeatable.
    --calibrate-window N     Also fit drift thresholds for PSI, Jensen-Shannon and
                             Wasserstein from the reference itself, for windows of N
                             predictions (the service's window size): the 99th percentile
                             of each statistic over simulated windows drawn from the
                             reference, stored in the profile (docs/drift.md).
    --calibrate-quantile Q   The quantile taken as threshold, in (0, 1) (default 0.99,
                             about 1 % false alarms). Needs --calibrate-window.
    -o, --output FILE        Write the JSON to FILE instead of standard output.

check <REFERENCE.json>
    Validates a reference file (layout version, field types, bins, proportions) and prints
    one line per profile.

    --features NAME,...      Also require exactly these features, in this order.

Options take their value as the next argument or after '=' (--bins=5).
Exit status: 0 on success, 2 on any error (the message goes to standard error).

Example:
    mlotel-reference fit examples/reference-cli/data/iris.csv --label-column species -o iris.json
    mlotel-reference fit examples/reference-cli/data/iris.csv --calibrate-window 500 -o iris.json
    mlotel-reference check iris.json --features sepal_length,sepal_width,petal_length,petal_width
";

fn main() -> ExitCode {
    let mut args = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.into_string() {
            Ok(arg) => args.push(arg),
            Err(arg) => return fail(&format!("argument {arg:?} is not valid UTF-8")),
        }
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "mlotel-reference: {message}");
    ExitCode::from(2)
}

fn run(args: Vec<String>) -> Result<(), String> {
    if args.is_empty() {
        return Err("missing command: fit or check (see --help)".to_owned());
    }
    if args.iter().any(|arg| arg == "-h" || arg == "--help") || args[0] == "help" {
        return write_stdout(USAGE);
    }
    let mut args = Args::new(args);
    let command = args.next_value("command")?;
    match command.as_str() {
        "fit" => fit(args),
        "check" => check(args),
        other => Err(format!(
            "unknown command `{other}`: expected fit or check (see --help)"
        )),
    }
}

fn fit(mut args: Args) -> Result<(), String> {
    let mut data: Option<PathBuf> = None;
    let mut output: Option<PathBuf> = None;
    let mut calibration: Option<CalibrationOptions> = None;
    let mut quantile: Option<f64> = None;
    let mut options = CsvOptions {
        fit: FitOptions {
            bins: DEFAULT_BINS,
            top_categories: DEFAULT_TOP_CATEGORIES,
        },
        ..CsvOptions::default()
    };
    while let Some(arg) = args.next() {
        match arg.option() {
            Some("--bins") => {
                let value = args.value_of(&arg)?;
                options.fit.bins = parse_count(&arg, &value)?;
                if options.fit.bins == 0 || options.fit.bins > MAX_BINS {
                    return Err(format!(
                        "--bins must be between 1 and {MAX_BINS}, got {value}"
                    ));
                }
            }
            Some("--top-categories") => {
                options.fit.top_categories = parse_count(&arg, &args.value_of(&arg)?)?;
            }
            Some("--categorical") => options.categorical.push(args.value_of(&arg)?),
            Some("--label-column") => options.label_column = Some(args.value_of(&arg)?),
            Some("--confidence-column") => options.confidence_column = Some(args.value_of(&arg)?),
            Some("--exclude") => options.exclude.push(args.value_of(&arg)?),
            Some("--calibrate-window") => {
                let window = parse_count(&arg, &args.value_of(&arg)?)?;
                if window == 0 {
                    return Err("--calibrate-window must be at least 1".to_owned());
                }
                calibration = Some(CalibrationOptions {
                    window: window as u64,
                    ..CalibrationOptions::default()
                });
            }
            Some("--calibrate-quantile") => {
                let value = args.value_of(&arg)?;
                match value.parse::<f64>() {
                    Ok(q) if q > 0.0 && q < 1.0 => quantile = Some(q),
                    _ => {
                        return Err(format!(
                            "--calibrate-quantile expects a number between 0 and 1, got `{value}`"
                        ));
                    }
                }
            }
            Some("-o" | "--output") => output = Some(args.value_of(&arg)?.into()),
            Some(_) => return Err(format!("fit: unknown option `{}` (see --help)", arg.name)),
            None if data.is_none() => data = Some(arg.name.into()),
            None => return Err(format!("fit: unexpected argument `{}`", arg.name)),
        }
    }
    let Some(data) = data else {
        return Err("fit: missing the CSV file (mlotel-reference fit <DATA.csv>)".to_owned());
    };
    let mut reference =
        Reference::from_csv_path(&data, options).map_err(|error| describe(&data, &error))?;
    match (calibration, quantile) {
        (Some(mut calibration), quantile) => {
            if let Some(quantile) = quantile {
                calibration.quantile = quantile;
            }
            reference = reference
                .calibrate(calibration)
                .map_err(|error| describe(&data, &error))?;
        }
        (None, Some(_)) => {
            return Err("--calibrate-quantile needs --calibrate-window".to_owned());
        }
        (None, None) => {}
    }
    match output {
        Some(path) => reference.save(&path).map_err(|error| error.to_string()),
        None => write_stdout(&(reference.to_json() + "\n")),
    }
}

fn check(mut args: Args) -> Result<(), String> {
    let mut file: Option<PathBuf> = None;
    let mut features: Option<Vec<String>> = None;
    while let Some(arg) = args.next() {
        match arg.option() {
            Some("--features") => {
                let list = args.value_of(&arg)?;
                features = Some(list.split(',').map(|name| name.trim().to_owned()).collect());
            }
            Some(_) => return Err(format!("check: unknown option `{}` (see --help)", arg.name)),
            None if file.is_none() => file = Some(arg.name.into()),
            None => return Err(format!("check: unexpected argument `{}`", arg.name)),
        }
    }
    let Some(file) = file else {
        return Err("check: missing the reference file (mlotel-reference check <FILE>)".to_owned());
    };
    let reference = Reference::load(&file).map_err(|error| describe(&file, &error))?;
    if let Some(features) = features {
        let expected: Vec<&str> = features.iter().map(String::as_str).collect();
        reference
            .check_features(&expected)
            .map_err(|error| describe(&file, &error))?;
    }
    write_stdout(&summary(&file, &reference))
}

/// One line for the file, then one per profile.
fn summary(file: &Path, reference: &Reference) -> String {
    let mut lines = vec![format!(
        "{}: schema_version {}, {} rows, {} features, label profile: {}, confidence profile: {}",
        file.display(),
        reference.schema_version,
        reference.rows,
        reference.features.len(),
        if reference.label.is_some() {
            "yes"
        } else {
            "no"
        },
        if reference.confidence.is_some() {
            "yes"
        } else {
            "no"
        },
    )];
    let width = reference
        .features
        .iter()
        .map(|f| f.name().len())
        .max()
        .unwrap_or(0)
        .max(10);
    for feature in &reference.features {
        let line = match feature {
            FeatureProfile::Numeric(profile) => numeric_line(profile),
            FeatureProfile::Categorical(profile) => categorical_line(
                &profile.categories,
                &profile.proportions,
                profile.count,
                profile.missing,
            ),
        };
        lines.push(format!("  {:<width$}  {line}", feature.name()));
    }
    if let Some(label) = &reference.label {
        let line = categorical_line(
            &label.categories,
            &label.proportions,
            label.count,
            label.missing,
        );
        lines.push(format!(
            "  {:<width$}  {line}",
            format!("[label {}]", label.name)
        ));
    }
    if let Some(confidence) = &reference.confidence {
        let line = numeric_line(confidence);
        lines.push(format!(
            "  {:<width$}  {line}",
            format!("[confidence {}]", confidence.name)
        ));
    }
    lines.push(String::new());
    lines.join("\n")
}

fn numeric_line(profile: &NumericProfile) -> String {
    format!(
        "numeric      {:>2} value bins  count {}  missing {}  mean {:.4}  std {:.4}  min {}  max {}",
        profile.value_bins(),
        profile.count,
        profile.missing,
        profile.mean,
        profile.std,
        profile.min,
        profile.max
    )
}

fn categorical_line(
    categories: &[String],
    proportions: &[f64],
    count: u64,
    missing: u64,
) -> String {
    let top: Vec<String> = categories
        .iter()
        .zip(proportions)
        .take(5)
        .map(|(category, p)| format!("{category} {p:.3}"))
        .collect();
    let more = if categories.len() > 5 { ", …" } else { "" };
    format!(
        "categorical  {:>2} categories  count {count}  missing {missing}  other {:.3}  top: {}{more}",
        categories.len(),
        proportions.get(categories.len()).copied().unwrap_or(0.0),
        top.join(", ")
    )
}

/// The error, prefixed with the file it concerns unless it already names it.
fn describe(file: &Path, error: &ReferenceError) -> String {
    match error {
        ReferenceError::Io { .. } => error.to_string(),
        _ => format!("{}: {error}", file.display()),
    }
}

fn write_stdout(text: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|error| format!("writing to standard output: {error}"))
}

fn parse_count(arg: &Arg, value: &str) -> Result<usize, String> {
    value
        .parse()
        .map_err(|_| format!("{} expects a non-negative integer, got `{value}`", arg.name))
}

/// One command-line argument; `--name=value` is split.
struct Arg {
    name: String,
    inline: Option<String>,
}

impl Arg {
    /// The option name, or `None` for a positional argument.
    fn option(&self) -> Option<&str> {
        self.name.starts_with('-').then_some(self.name.as_str())
    }
}

struct Args {
    rest: std::vec::IntoIter<String>,
}

impl Args {
    fn new(args: Vec<String>) -> Self {
        Self {
            rest: args.into_iter(),
        }
    }

    fn next(&mut self) -> Option<Arg> {
        let arg = self.rest.next()?;
        if arg.starts_with("--")
            && let Some((name, value)) = arg.split_once('=')
        {
            return Some(Arg {
                name: name.to_owned(),
                inline: Some(value.to_owned()),
            });
        }
        Some(Arg {
            name: arg,
            inline: None,
        })
    }

    fn next_value(&mut self, what: &str) -> Result<String, String> {
        self.rest.next().ok_or_else(|| format!("missing {what}"))
    }

    /// The option's value: after '=' or the next argument.
    fn value_of(&mut self, arg: &Arg) -> Result<String, String> {
        match &arg.inline {
            Some(value) => Ok(value.clone()),
            None => self
                .rest
                .next()
                .ok_or_else(|| format!("{} expects a value", arg.name)),
        }
    }
}
