//! The Prometheus text exposition format (version 0.0.4), written by hand:
//! a dozen series read from atomics, the catalog and the rate-limit
//! scheduler do not earn a dependency and its registry, and the format is a
//! few documented lines per series.

use std::fmt::Write as _;

use super::Histogram;

/// An exposition being written: `# HELP` and `# TYPE` headers, then samples.
#[derive(Debug, Default)]
pub struct Exposition(String);

impl Exposition {
    /// The text written so far.
    pub fn finish(self) -> String {
        self.0
    }

    /// Writes the `# HELP` and `# TYPE` lines of series `name`.
    pub fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    /// Writes `{k="v",…}`, escaping the values as the format requires.
    fn labels(&mut self, labels: &[(&str, &str)]) {
        if labels.is_empty() {
            return;
        }
        self.0.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            let _ = write!(self.0, "{k}=\"");
            for c in v.chars() {
                match c {
                    '\\' => self.0.push_str("\\\\"),
                    '"' => self.0.push_str("\\\""),
                    '\n' => self.0.push_str("\\n"),
                    c => self.0.push(c),
                }
            }
            self.0.push('"');
        }
        self.0.push('}');
    }

    /// Writes one integer sample of `name` with `labels`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.0.push_str(name);
        self.labels(labels);
        let _ = writeln!(self.0, " {value}");
    }

    /// Writes one floating-point sample of `name` with `labels`.
    pub fn sample_f64(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        self.labels(labels);
        let _ = writeln!(self.0, " {value}");
    }

    /// Writes histogram `name`: its header, cumulative buckets, sum and count.
    pub fn histogram(&mut self, name: &str, help: &str, h: &Histogram) {
        self.header(name, "histogram", help);
        let snapshot = h.snapshot();
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (bound, n) in h.bounds.iter().zip(&snapshot.buckets) {
            cumulative += n;
            self.sample(&bucket, &[("le", &bound.to_string())], cumulative);
        }
        self.sample(&bucket, &[("le", "+Inf")], snapshot.count);
        self.sample_f64(&format!("{name}_sum"), &[], snapshot.sum);
        self.sample(&format!("{name}_count"), &[], snapshot.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf() {
        let h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.1, 0.5, 3.0, -1.0] {
            h.observe(v);
        }
        let mut t = Exposition::default();
        t.histogram("x_seconds", "x.", &h);
        let text = t.0;
        assert!(text.contains("x_seconds_bucket{le=\"0.1\"} 3\n"), "{text}");
        assert!(text.contains("x_seconds_bucket{le=\"1\"} 4\n"), "{text}");
        assert!(text.contains("x_seconds_bucket{le=\"+Inf\"} 5\n"), "{text}");
        assert!(text.contains("x_seconds_count 5\n"), "{text}");
        assert!(text.contains("x_seconds_sum 3.65\n"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut t = Exposition::default();
        t.sample("m", &[("group", "a\"b\\c\nd")], 1);
        assert_eq!(t.0, "m{group=\"a\\\"b\\\\c\\nd\"} 1\n");
    }
}
