//! Composite mentions: one span naming several concepts with a shared head or modifier,
//! `breast and ovarian cancer` (breast cancer, ovarian cancer), `renal damage and dysfunction`
//! (renal damage, renal dysfunction), `hepatic, renal, or cardiac toxicity`.

/// The concept names a composite mention stands for, or `None` when it is not one.
pub fn expand(mention: &str) -> Option<Vec<String>> {
    let parts = conjuncts(mention);
    if parts.len() < 2 {
        return None;
    }
    let words = |p: &str| p.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let first = words(parts[0]);
    let last = words(parts[parts.len() - 1]);
    if last.len() >= 2 && parts[..parts.len() - 1].iter().all(|p| words(p).len() == 1) {
        // shared head: "breast and ovarian cancer"
        let head = last[1..].join(" ");
        let mut out: Vec<String> = parts[..parts.len() - 1]
            .iter()
            .map(|p| format!("{p} {head}"))
            .collect();
        out.push(parts[parts.len() - 1].to_owned());
        return Some(out);
    }
    if first.len() >= 2 && parts[1..].iter().all(|p| words(p).len() == 1) {
        // shared modifier: "renal damage and dysfunction"
        let modifier = first[..first.len() - 1].join(" ");
        let mut out = vec![parts[0].to_owned()];
        out.extend(parts[1..].iter().map(|p| format!("{modifier} {p}")));
        return Some(out);
    }
    None
}

/// The parts between `and`, `or`, `and/or`, commas and slashes.
fn conjuncts(mention: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = mention;
    loop {
        let next = [" and/or ", ", and ", ", or ", " and ", " or ", ", ", "/"]
            .iter()
            .filter_map(|sep| rest.find(sep).map(|i| (i, sep.len())))
            .min_by_key(|&(i, len)| (i, std::cmp::Reverse(len)));
        match next {
            Some((i, len)) => {
                parts.push(rest[..i].trim());
                rest = &rest[i + len..];
            }
            None => {
                parts.push(rest.trim());
                break;
            }
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_heads_and_modifiers_are_distributed() {
        assert_eq!(
            expand("breast and ovarian cancer").unwrap(),
            ["breast cancer", "ovarian cancer"]
        );
        assert_eq!(
            expand("hepatic, renal, or cardiac toxicity").unwrap(),
            ["hepatic toxicity", "renal toxicity", "cardiac toxicity"]
        );
        assert_eq!(
            expand("renal damage and dysfunction").unwrap(),
            ["renal damage", "renal dysfunction"]
        );
        assert_eq!(
            expand("end-stage or malignant liver disease").unwrap(),
            ["end-stage liver disease", "malignant liver disease"]
        );
    }

    #[test]
    fn plain_names_are_not_composite() {
        assert!(expand("renal failure").is_none());
        assert!(expand("nausea and vomiting").is_none());
        assert!(expand("chronic renal failure and severe liver cirrhosis").is_none());
    }
}
