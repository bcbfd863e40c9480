//! The self-contained HTML report of `mailtriage eval`: figures and three plots per head
//! (confusion matrix, precision against coverage, reliability diagram), drawn as inline SVG
//! so the file opens anywhere with nothing else to fetch.

use std::fmt::Write as _;
use std::path::Path;

use crate::commands::eval::HeadReport;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The report as one HTML document.
pub fn html(model: &Path, version: &str, heads: &[HeadReport]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>mailtriage eval</title>\
         <style>body{{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         th{{background:#f4f4f4}}td:first-child,th:first-child{{text-align:left}}\
         .plots{{display:flex;flex-wrap:wrap;gap:24px}}figure{{margin:0}}figcaption{{font-weight:600;margin-bottom:4px}}\
         svg text{{font:11px system-ui,sans-serif}}</style></head><body>\
         <h1>mailtriage evaluation</h1><p>Model <code>{}</code>, version <code>{}</code>.</p>",
        escape(&model.display().to_string()),
        escape(version)
    );
    for h in heads {
        head_section(&mut out, h);
    }
    out.push_str("</body></html>\n");
    out
}

fn head_section(out: &mut String, h: &HeadReport) {
    let m = &h.metrics;
    let _ = write!(
        out,
        "<h2>Head <code>{}</code> ({} messages, labels from <code>{}</code>)</h2>\
         <table><tr><th>accuracy</th><th>macro-F1</th><th>ECE</th></tr>\
         <tr><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td></tr></table>\
         <table><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>",
        escape(&h.head),
        m.n,
        escape(&h.label_field),
        m.accuracy,
        m.macro_f1,
        h.ece
    );
    for c in &m.classes {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td></tr>",
            escape(&c.label),
            c.precision,
            c.recall,
            c.f1,
            c.support
        );
    }
    out.push_str("</table><table><tr><th>target precision</th><th>automatic</th><th>to review</th><th>confidence threshold</th></tr>");
    for c in &h.coverage {
        let _ = write!(
            out,
            "<tr><td>{:.1}%</td><td>{:.1}%</td><td>{:.1}%</td><td>{}</td></tr>",
            c.target_precision * 100.0,
            c.coverage * 100.0,
            100.0 - c.coverage * 100.0,
            c.threshold
                .map_or_else(|| "none reaches it".to_string(), |t| format!("{t:.4}"))
        );
    }
    out.push_str("</table><div class=\"plots\">");
    confusion(out, h);
    coverage_plot(out, h);
    reliability_plot(out, h);
    out.push_str("</div>");
}

const SIZE: f64 = 300.0;
const PAD: f64 = 40.0;

fn confusion(out: &mut String, head: &HeadReport) {
    let m = &head.metrics;
    let cell = (SIZE - PAD) / m.classes.len().max(1) as f64;
    let _ = write!(
        out,
        "<figure><figcaption>Confusion matrix (rows: true, columns: predicted)</figcaption>\
         <svg width=\"{w}\" height=\"{w}\" viewBox=\"0 0 {w} {w}\" role=\"img\">",
        w = SIZE + PAD
    );
    for (t, row) in m.confusion.iter().enumerate() {
        let total: u64 = row.iter().sum::<u64>().max(1);
        for (p, &v) in row.iter().enumerate() {
            let share = v as f64 / total as f64;
            let (x, y) = (PAD + p as f64 * cell, PAD + t as f64 * cell);
            let light = 97.0 - 55.0 * share;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{cell:.1}\" height=\"{cell:.1}\" fill=\"hsl(210,70%,{light:.0}%)\" stroke=\"#fff\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{}\">{v}</text>",
                x + cell / 2.0,
                y + cell / 2.0 + 4.0,
                if share > 0.5 { "#fff" } else { "#222" }
            );
        }
    }
    for (i, c) in m.classes.iter().enumerate() {
        let mid = PAD + i as f64 * cell + cell / 2.0;
        let _ = write!(
            out,
            "<text x=\"{mid:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text x=\"{:.1}\" y=\"{mid:.1}\" text-anchor=\"end\">{}</text>",
            PAD - 6.0,
            escape(&c.label),
            PAD - 4.0,
            escape(&c.label)
        );
    }
    out.push_str("</svg></figure>");
}

/// Axes from `PAD` to `PAD + SIZE - PAD`, with the x range [0, 1] and y range [y0, 1].
fn axes(out: &mut String, title: &str, xlabel: &str, ylabel: &str, y0: f64) {
    let _ = write!(
        out,
        "<figure><figcaption>{title}</figcaption><svg width=\"{w}\" height=\"{w}\" viewBox=\"0 0 {w} {w}\" role=\"img\">\
         <rect x=\"{PAD}\" y=\"{top}\" width=\"{span}\" height=\"{span}\" fill=\"#fafafa\" stroke=\"#999\"/>\
         <text x=\"{cx}\" y=\"{w}\" text-anchor=\"middle\" dy=\"-4\">{xlabel}</text>\
         <text x=\"12\" y=\"{cy}\" text-anchor=\"middle\" transform=\"rotate(-90 12 {cy})\">{ylabel}</text>\
         <text x=\"{PAD}\" y=\"{bottom}\" dy=\"14\">0</text><text x=\"{right}\" y=\"{bottom}\" dy=\"14\" text-anchor=\"end\">1</text>\
         <text x=\"{PAD}\" y=\"{bottom}\" dx=\"-4\" text-anchor=\"end\">{y0:.2}</text>\
         <text x=\"{PAD}\" y=\"{top}\" dx=\"-4\" dy=\"8\" text-anchor=\"end\">1</text>",
        w = SIZE + PAD,
        top = PAD / 2.0,
        span = SIZE - PAD,
        cx = PAD + (SIZE - PAD) / 2.0,
        cy = PAD / 2.0 + (SIZE - PAD) / 2.0,
        bottom = PAD / 2.0 + SIZE - PAD,
        right = SIZE
    );
}

fn to_xy(x: f64, y: f64, y0: f64) -> (f64, f64) {
    let span = SIZE - PAD;
    let yy = ((y - y0) / (1.0 - y0).max(1e-9)).clamp(0.0, 1.0);
    (
        PAD + x.clamp(0.0, 1.0) * span,
        PAD / 2.0 + (1.0 - yy) * span,
    )
}

fn coverage_plot(out: &mut String, h: &HeadReport) {
    let y0 = h
        .curve
        .iter()
        .map(|p| p.precision)
        .fold(1.0f64, f64::min)
        .clamp(0.0, 0.9);
    let y0 = (y0 * 20.0).floor() / 20.0;
    axes(
        out,
        "Precision against coverage",
        "share of mail decided automatically",
        "precision",
        y0,
    );
    let points: Vec<String> = h
        .curve
        .iter()
        .map(|p| {
            let (x, y) = to_xy(p.coverage, p.precision, y0);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let _ = write!(
        out,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f6fb2\" stroke-width=\"2\"/>",
        points.join(" ")
    );
    for c in &h.coverage {
        if let Some(precision) = c.precision {
            let (x, y) = to_xy(c.coverage, precision, y0);
            let _ = write!(
                out,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"#d9534f\"><title>{:.1}% precision: {:.1}% automatic</title></circle>",
                c.target_precision * 100.0,
                c.coverage * 100.0
            );
        }
    }
    out.push_str("</svg></figure>");
}

fn reliability_plot(out: &mut String, h: &HeadReport) {
    axes(out, "Reliability diagram", "confidence", "accuracy", 0.0);
    let (x0, y0) = to_xy(0.0, 0.0, 0.0);
    let (x1, y1) = to_xy(1.0, 1.0, 0.0);
    let _ = write!(
        out,
        "<line x1=\"{x0:.1}\" y1=\"{y0:.1}\" x2=\"{x1:.1}\" y2=\"{y1:.1}\" stroke=\"#aaa\" stroke-dasharray=\"4 3\"/>"
    );
    for b in h.reliability.iter().filter(|b| b.count > 0) {
        let (xa, ya) = to_xy(b.from, b.accuracy, 0.0);
        let (xb, _) = to_xy(b.to, 0.0, 0.0);
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"{ya:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#1f6fb2\" fill-opacity=\".7\">\
             <title>{:.1}-{:.1}: {} decisions, accuracy {:.3}, confidence {:.3}</title></rect>",
            xa + 1.0,
            (xb - xa - 2.0).max(1.0),
            (y0 - ya).max(0.0),
            b.from,
            b.to,
            b.count,
            b.accuracy,
            b.confidence
        );
    }
    out.push_str("</svg></figure>");
}
