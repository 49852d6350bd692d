//! `report.html`: one self-contained page (inline CSS, no scripts, no external assets) with a
//! pass/fail matrix by area × case and, for every failure, its request, response excerpt and
//! reason. Every value from the run or the endpoint is HTML-escaped.

use std::fmt::Write as _;

use super::report::{CaseReport, Exchange, Outcome, SuiteReport};

/// Escapes text for HTML element content and double-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2330;max-width:75rem}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #d4d8e0;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#f2f4f8}
.pass{background:#dff3e4}.fail{background:#fbe0e0}.skip{background:#f3f0da}
a.cell{display:inline-block;margin:.1rem;padding:.15rem .4rem;border-radius:.25rem;
text-decoration:none;color:inherit;font-family:ui-monospace,monospace;font-size:.85rem}
.mandatory{font-weight:600}
pre{background:#f6f7f9;border:1px solid #e1e4ea;padding:.5rem;white-space:pre-wrap;
word-break:break-all;font-size:.8rem}
.case{border:1px solid #d4d8e0;border-radius:.3rem;padding:.6rem 1rem;margin:.8rem 0}
.meta{color:#5a6273;font-size:.9rem}
";

/// Renders the page.
pub(crate) fn render(report: &SuiteReport) -> String {
    let mut h = String::new();
    let s = &report.summary;
    let verdict = if report.mandatory_failed() {
        "NOT CONFORMANT: a mandatory case failed"
    } else {
        "conformant: every mandatory case passed"
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Conformance report: {ds} {endpoint}</title><style>{STYLE}</style></head><body>\n\
         <h1>Conformance report: {ds}</h1>\n\
         <p class=\"meta\">Endpoint <code>{endpoint}</code> · login {login} · run <code>{run}</code> · \
         started {started} · {ms} ms · {suite}</p>\n\
         <p class=\"{vclass}\"><strong>{verdict}</strong>: {passed} passed, {failed} failed \
         ({mfailed} mandatory), {skipped} skipped of {total}.</p>\n",
        ds = escape(report.data_space.as_str()),
        endpoint = escape(&report.endpoint),
        login = escape(&report.login),
        run = escape(&report.run_id),
        started = escape(&report.started_at.to_rfc3339()),
        ms = report.duration_ms,
        suite = escape(&report.suite),
        vclass = if report.mandatory_failed() {
            "fail"
        } else {
            "pass"
        },
        passed = s.passed,
        failed = s.failed,
        mfailed = s.mandatory_failed,
        skipped = s.skipped,
        total = s.total,
    );

    // Matrix: one row per area, one cell per case.
    h.push_str("<h2>Matrix</h2>\n<table><tr><th>area</th><th>pass</th><th>fail</th><th>skip</th><th>cases</th></tr>\n");
    for area in areas(report) {
        let of_area: Vec<&CaseReport> = report.cases.iter().filter(|c| c.area == area).collect();
        let n = |o: Outcome| of_area.iter().filter(|c| c.outcome == o).count();
        let _ = write!(
            h,
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>",
            escape(&area),
            n(Outcome::Pass),
            n(Outcome::Fail),
            n(Outcome::Skip)
        );
        for c in of_area {
            let _ = write!(
                h,
                "<a class=\"cell {outcome} {level}\" href=\"#{id}\" title=\"{title}\">{id} {outcome}</a>",
                outcome = c.outcome.as_str(),
                level = c.level.as_str(),
                id = escape(&c.id),
                title = escape(&format!("{} ({})", c.description, c.level)),
            );
        }
        h.push_str("</td></tr>\n");
    }
    h.push_str("</table>\n<p class=\"meta\">Bold cells are mandatory cases.</p>\n");

    // Case list.
    h.push_str("<h2>Cases</h2>\n<table><tr><th>id</th><th>level</th><th>outcome</th><th>description</th><th>spec</th><th>ms</th></tr>\n");
    for c in &report.cases {
        let _ = writeln!(
            h,
            "<tr class=\"{outcome}\"><td><a href=\"#{id}\">{id}</a></td><td>{level}</td><td>{outcome}</td>\
             <td>{desc}</td><td><code>{spec}</code></td><td>{ms}</td></tr>",
            outcome = c.outcome.as_str(),
            id = escape(&c.id),
            level = c.level.as_str(),
            desc = escape(&c.description),
            spec = escape(&c.spec),
            ms = c.duration_ms,
        );
    }
    h.push_str("</table>\n");

    // Details: failures first with everything, then the rest with their exchanges folded.
    h.push_str("<h2>Details</h2>\n");
    for c in &report.cases {
        let _ = writeln!(
            h,
            "<div class=\"case {outcome}\" id=\"{id}\"><h3>{id}: {outcome}</h3>\
             <p>{desc} <span class=\"meta\">({level}; <code>{spec}</code>)</span></p>",
            outcome = c.outcome.as_str(),
            id = escape(&c.id),
            desc = escape(&c.description),
            level = c.level.as_str(),
            spec = escape(&c.spec),
        );
        if let Some(reason) = &c.reason {
            let _ = writeln!(h, "<p><strong>Reason:</strong> {}</p>", escape(reason));
        }
        if c.outcome == Outcome::Fail {
            exchanges(&mut h, &c.exchanges);
        } else if !c.exchanges.is_empty() {
            let _ = write!(
                h,
                "<details><summary>{} request(s)</summary>",
                c.exchanges.len()
            );
            exchanges(&mut h, &c.exchanges);
            h.push_str("</details>");
        }
        h.push_str("</div>\n");
    }
    h.push_str("</body></html>\n");
    h
}

fn areas(report: &SuiteReport) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in &report.cases {
        if !out.contains(&c.area) {
            out.push(c.area.clone());
        }
    }
    out
}

fn exchanges(h: &mut String, list: &[Exchange]) {
    for (i, ex) in list.iter().enumerate() {
        let r = &ex.request;
        let mut text = format!("{} {}\n", r.method, r.url);
        for (k, v) in &r.headers {
            text.push_str(&format!("{k}: {v}\n"));
        }
        if let Some(body) = &r.body {
            text.push('\n');
            text.push_str(body);
            text.push('\n');
        }
        let _ = write!(
            h,
            "<p class=\"meta\">Request {} ({} ms)</p><pre>{}</pre>",
            i + 1,
            ex.duration_ms,
            escape(&text)
        );
        let answer = match (&ex.response, &ex.error) {
            (Some(resp), _) => {
                let mut t = format!("HTTP {}\n", resp.status);
                for (k, v) in &resp.headers {
                    t.push_str(&format!("{k}: {v}\n"));
                }
                if let Some(body) = &resp.body {
                    t.push('\n');
                    t.push_str(body);
                }
                t
            }
            (None, Some(error)) => format!("no answer: {error}"),
            (None, None) => "no answer".to_owned(),
        };
        let _ = writeln!(h, "<pre>{}</pre>", escape(&answer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x&'y")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;&#39;y&quot;)&lt;/script&gt;"
        );
    }
}
