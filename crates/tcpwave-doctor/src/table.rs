//! A plain text table: a header row, columns padded to their widest cell, numbers right
//! aligned. No colours, no box drawing: the output is grep- and log-friendly.

use std::fmt::Write;

pub(crate) struct Table {
    headers: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns whose header starts with `>` are right-aligned (the `>` is not printed).
    pub(crate) fn new(headers: &[&'static str]) -> Table {
        Table {
            right: headers.iter().map(|h| h.starts_with('>')).collect(),
            headers: headers.iter().map(|h| h.trim_start_matches('>')).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    /// Renders with `indent` spaces before each line.
    pub(crate) fn render(&self, indent: usize) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for cells in std::iter::once(&header).chain(&self.rows) {
            let mut line = " ".repeat(indent);
            for (index, cell) in cells.iter().enumerate() {
                let pad = widths[index] - cell.chars().count();
                let last = index + 1 == cells.len();
                if self.right[index] {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    if !last {
                        line.push_str(&" ".repeat(pad));
                    }
                }
                if !last {
                    line.push_str("  ");
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_and_aligns() {
        let mut table = Table::new(&["NAME", ">COUNT", "NOTE"]);
        table.row(vec!["a".into(), "5".into(), "x".into()]);
        table.row(vec!["longer".into(), "1200".into(), "".into()]);
        let text = table.render(2);
        assert_eq!(
            text,
            "  NAME    COUNT  NOTE\n  a           5  x\n  longer   1200\n"
        );
    }
}
