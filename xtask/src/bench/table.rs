//! A Markdown table whose columns line up in a terminal too.

/// Renders `header` and `rows` as a Markdown table: the first `text_columns`
/// columns left-aligned, the others (figures) right-aligned.
pub fn render(header: &[String], rows: &[Vec<String>], text_columns: usize) -> String {
    let width = |column: usize| {
        std::iter::once(&header[column])
            .chain(rows.iter().map(|row| &row[column]))
            .map(|cell| cell.chars().count())
            .max()
            .unwrap_or(0)
            .max(3)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: &[String]| {
        let cells: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, &width))| {
                if column < text_columns {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        format!("| {} |", cells.join(" | "))
    };
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(column, &width)| {
            if column < text_columns {
                "-".repeat(width)
            } else {
                format!("{}:", "-".repeat(width - 1))
            }
        })
        .collect();
    let mut out = vec![line(header), format!("| {} |", rule.join(" | "))];
    out.extend(rows.iter().map(|row| line(row)));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|cell| (*cell).to_owned()).collect()
    }

    #[test]
    fn columns_line_up_text_left_and_figures_right() {
        let header = strings(&["Scenario", "Figure", "floor", "Rust"]);
        let rows = vec![
            strings(&["1. Latency", "median", "0.91 ms", "1.20 ms (×1.32)"]),
            strings(&["", "p99", "2.00 ms", "—"]),
        ];
        let expected = "\
| Scenario   | Figure |   floor |            Rust |
| ---------- | ------ | ------: | --------------: |
| 1. Latency | median | 0.91 ms | 1.20 ms (×1.32) |
|            | p99    | 2.00 ms |               — |";
        assert_eq!(render(&header, &rows, 2), expected);
    }
}
