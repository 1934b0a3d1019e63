//! A small SVG of the training curves: loss and dev F1 per epoch, side by side.

/// Two panels (training loss, dev F1) over epochs 1..=n, as a standalone SVG document.
pub fn curves_svg(title: &str, loss: &[f64], dev_f1: &[f64]) -> String {
    let mut svg = String::from(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"820\" height=\"320\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"820\" height=\"320\" fill=\"white\"/>\n",
    );
    svg.push_str(&format!(
        "<text x=\"410\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n",
        escape(title)
    ));
    panel(&mut svg, 10.0, "training loss", loss, "#c0392b");
    panel(&mut svg, 420.0, "dev F1 (micro, %)", dev_f1, "#2471a3");
    svg.push_str("</svg>\n");
    svg
}

fn panel(svg: &mut String, x0: f64, name: &str, ys: &[f64], colour: &str) {
    let (left, top, w, h) = (x0 + 50.0, 40.0, 330.0, 230.0);
    svg.push_str(&format!(
        "<rect x=\"{left}\" y=\"{top}\" width=\"{w}\" height=\"{h}\" fill=\"none\" stroke=\"#999\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{name}</text>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">epoch</text>\n",
        left + w / 2.0,
        top - 6.0,
        left + w / 2.0,
        top + h + 30.0
    ));
    let finite: Vec<f64> = ys.iter().copied().filter(|y| y.is_finite()).collect();
    if finite.is_empty() {
        return;
    }
    let (mut lo, mut hi) = (
        finite.iter().copied().fold(f64::INFINITY, f64::min),
        finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    if hi - lo < 1e-9 {
        lo -= 0.5;
        hi += 0.5;
    }
    let n = ys.len();
    let x = |i: usize| {
        if n == 1 {
            left + w / 2.0
        } else {
            left + w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| top + h - h * (v - lo) / (hi - lo);
    for (v, label) in [(lo, lo), (hi, hi)] {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{label:.3}</text>\n",
            left - 4.0,
            y(v) + 4.0
        ));
    }
    for i in 0..n {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
            x(i),
            top + h + 15.0,
            i + 1
        ));
    }
    let points: Vec<String> = ys
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, &v)| format!("{:.1},{:.1}", x(i), y(v)))
        .collect();
    svg.push_str(&format!(
        "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\n",
        points.join(" ")
    ));
    for p in &points {
        let (px, py) = p.split_once(',').expect("x,y");
        svg.push_str(&format!(
            "<circle cx=\"{px}\" cy=\"{py}\" r=\"3\" fill=\"{colour}\"/>\n"
        ));
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_both_curves() {
        let svg = super::curves_svg("a <b>", &[1.0, 0.5, 0.25], &[50.0, 70.0, 75.0]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 6);
        assert!(svg.contains("a &lt;b&gt;"));
    }
}
