//! A very small XML writer: escaping and number formatting for the SVG and HTML output.

use std::fmt::Write;

/// Escapes text for use in XML/HTML element content and in double- or single-quoted
/// attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 forbids most control characters even as references.
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most one decimal, without trailing ".0" (keeps the file small and
/// byte-for-byte stable across platforms).
pub fn num(value: f64) -> String {
    let tenths = (value * 10.0).round() as i64;
    if tenths % 10 == 0 {
        format!("{}", tenths / 10)
    } else {
        let sign = if tenths < 0 { "-" } else { "" };
        let tenths = tenths.abs();
        format!("{sign}{}.{}", tenths / 10, tenths % 10)
    }
}

/// An SVG document under construction.
pub struct Doc {
    pub out: String,
}

impl Doc {
    pub fn new() -> Doc {
        Doc {
            out: String::with_capacity(64 * 1024),
        }
    }

    /// Appends raw markup.
    pub fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
    }

    /// `<text>` at (x, y) with the given class and extra attributes (already escaped).
    pub fn text(&mut self, x: f64, y: f64, class: &str, extra: &str, content: &str) {
        let _ = writeln!(
            self.out,
            r#"<text x="{}" y="{}" class="{class}"{extra}>{}</text>"#,
            num(x),
            num(y),
            escape(content)
        );
    }

    /// A straight `<line>`.
    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), class: &str) {
        let _ = writeln!(
            self.out,
            r#"<line x1="{}" y1="{}" x2="{}" y2="{}" class="{class}"/>"#,
            num(x1),
            num(y1),
            num(x2),
            num(y2)
        );
    }

    /// A `<rect>` with rounded corners `r`.
    pub fn rect(&mut self, (x, y): (f64, f64), (w, h): (f64, f64), r: f64, class: &str) {
        let _ = writeln!(
            self.out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" rx="{r}" class="{class}"/>"#,
            num(x),
            num(y),
            num(w),
            num(h)
        );
    }

    /// A `<title>` child (browsers show it as a tooltip).
    pub fn title(&mut self, content: &str) {
        let _ = writeln!(self.out, "<title>{}</title>", escape(content));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(escape("x\u{1}y"), "x y");
    }

    #[test]
    fn numbers_are_short_and_stable() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.04), "12");
        assert_eq!(num(12.25), "12.3");
        assert_eq!(num(-3.5), "-3.5");
        assert_eq!(num(-0.04), "0");
    }
}
