//! The instrument tables of `docs/*.md`, for the tests that hold them to the code
//! (`metrics_doc.rs`, `genai_metrics_doc.rs`).

/// The text of `docs/{name}`.
pub fn read_doc(name: &str) -> String {
    let path = format!("{}/../docs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The backticked parts of a table cell: ``"`a`, `b`"`` → `["a", "b"]`.
pub fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The cells of the table rows of `text` that start with one of `prefixes` (after `| `),
/// trimmed; panics, naming the row, when a row has other than `cells` cells.
pub fn table_rows(text: &str, prefixes: &[&str], cells: usize) -> Vec<Vec<String>> {
    text.lines()
        .filter(|line| {
            line.strip_prefix("| ")
                .is_some_and(|rest| prefixes.iter().any(|prefix| rest.starts_with(prefix)))
        })
        .map(|line| {
            let row: Vec<String> = line
                .trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect();
            assert_eq!(row.len(), cells, "a row has {cells} cells: {line}");
            row
        })
        .collect()
}
