//! The BIO mode of bioner's scorer agrees exactly with seqeval's strict IOB2 mode
//! (`classification_report(..., mode="strict", scheme=IOB2)`) on the same predictions:
//! hand-made tricky cases plus many random tag sequences.

mod common;

use bioner::eval::Scorer;
use serde_json::{Value, json};

/// Small deterministic generator (no external RNG needed for a test).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

fn cases() -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let hand: Vec<(&str, &str)> = vec![
        ("B-A I-A O", "B-A I-A O"),                       // exact
        ("I-A I-A O", "B-A I-A O"),                       // I- without B- in gold
        ("B-A I-A O", "I-A I-A O"),                       // I- without B- in prediction
        ("B-A B-A O", "B-A I-A O"),                       // adjacent same-type entities
        ("B-A I-B O", "B-A B-B O"),                       // type change inside
        ("B-Chemical I-Chemical", "B-Disease I-Disease"), // right span, wrong type
        ("O O O", "B-Chemical O I-Chemical"),
        (
            "B-cell_line I-cell_line I-cell_line",
            "B-cell_line I-cell_line O",
        ),
        ("O", "O"),
    ];
    let split = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let mut gold: Vec<Vec<String>> = hand.iter().map(|(g, _)| split(g)).collect();
    let mut pred: Vec<Vec<String>> = hand.iter().map(|(_, p)| split(p)).collect();
    let tags = ["O", "O", "O", "B-A", "I-A", "B-B", "I-B", "B-C", "I-C"];
    let mut rng = Lcg(20261128);
    for _ in 0..500 {
        let n = 1 + (rng.next() % 25) as usize;
        let g: Vec<String> = (0..n).map(|_| rng.pick(&tags).to_owned()).collect();
        // Predictions agree with gold most of the time, so there are many true positives.
        let p: Vec<String> = g
            .iter()
            .map(|t| {
                if rng.next() % 4 == 0 {
                    rng.pick(&tags).to_owned()
                } else {
                    t.clone()
                }
            })
            .collect();
        gold.push(g);
        pred.push(p);
    }
    (gold, pred)
}

#[test]
fn bio_mode_matches_seqeval_strict_iob2() {
    let (gold, pred) = cases();
    let mut scorer = Scorer::new();
    for (g, p) in gold.iter().zip(&pred) {
        scorer.add_bio(g, p).unwrap();
    }
    let ours = scorer.report();

    let input = json!({"gold": gold, "pred": pred}).to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tags.json");
    std::fs::write(&path, input).unwrap();
    let out = common::run_python(
        r#"
import json, sys
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2
d = json.load(open(sys.argv[1]))
r = classification_report(d["gold"], d["pred"], mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
print(json.dumps(r, default=lambda o: o.item()))
"#,
        &[path.to_str().unwrap()],
    );
    let theirs: Value = serde_json::from_str(&out).unwrap();

    let close = |a: f64, b: &Value, what: &str| {
        let b = b.as_f64().unwrap();
        assert!((a - b).abs() < 1e-12, "{what}: bioner {a} vs seqeval {b}");
    };
    let types: Vec<&String> = ours.per_type.keys().collect();
    for ty in &types {
        let c = &ours.per_type[*ty];
        let t = &theirs[ty.as_str()];
        assert!(t.is_object(), "seqeval has no row for {ty}: {theirs}");
        close(c.precision(), &t["precision"], &format!("{ty} precision"));
        close(c.recall(), &t["recall"], &format!("{ty} recall"));
        close(c.f1(), &t["f1-score"], &format!("{ty} f1"));
        assert_eq!(
            c.support() as u64,
            t["support"].as_u64().unwrap(),
            "{ty} support"
        );
    }
    let m = &theirs["micro avg"];
    close(ours.micro.precision(), &m["precision"], "micro precision");
    close(ours.micro.recall(), &m["recall"], "micro recall");
    close(ours.micro.f1(), &m["f1-score"], "micro f1");
    assert_eq!(ours.micro.support() as u64, m["support"].as_u64().unwrap());
    // seqeval reports exactly the same set of types.
    let their_types: Vec<&str> = theirs
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| !k.ends_with(" avg"))
        .collect();
    assert_eq!(
        types.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        their_types
    );
    // Sanity: the random cases exercise true positives, false positives and misses.
    assert!(
        ours.micro.tp > 100 && ours.micro.fp > 50 && ours.micro.fn_ > 50,
        "{ours:?}"
    );
}
