//! `bioner text-eval`: the sentence splitter measured (boundary P/R/F1 on GENIA and CRAFT) and
//! the word tokenizer (share of BC5CDR and GENIA entity boundaries on token boundaries).

use std::path::PathBuf;

use anyhow::Result;

use bioner::corpus::{read_genia_xml, read_pubtator};
use bioner::parse::read_conllu;
use bioner::text::bench::{GoldSentences, sentence_boundary_errors, token_boundary_coverage};
use bioner::text::{BioTokenizer, RuleSentenceSplitter};

#[derive(clap::Args, Debug)]
pub struct TextEvalArgs {
    /// Folder holding the corpora (as laid out in ../shared/data).
    #[arg(long, env = "BIONER_DATA_DIR", default_value = "../shared/data")]
    pub data_dir: PathBuf,
    /// Print up to N sentence-boundary errors per corpus, with context.
    #[arg(long, default_value_t = 0)]
    pub show_errors: usize,
}

/// One row of the sentence-boundary table, then the sampled errors with their context.
fn boundary_row(name: &str, c: &bioner::eval::Counts, errors: &[(&str, String)]) {
    let pct = |x: f64| 100.0 * x;
    println!(
        "{:<34} {:>8} {:>9.2} {:>9.2} {:>9.2}",
        name,
        c.support(),
        pct(c.precision()),
        pct(c.recall()),
        pct(c.f1())
    );
    for (kind, context) in errors {
        println!("    {kind}: {context}");
    }
}

pub fn run(a: TextEvalArgs) -> Result<()> {
    let data_dir = a.data_dir.as_path();
    let show = a.show_errors;
    let splitter = RuleSentenceSplitter::default();
    let pct = |x: f64| 100.0 * x;
    println!("sentence boundaries (every sentence start but a text's first)");
    println!(
        "{:<34} {:>8} {:>9} {:>9} {:>9}",
        "corpus", "gold", "precision", "recall", "f1"
    );

    let genia = read_genia_xml(
        &data_dir.join("genia_nested/original/GENIAcorpus3.02.xml"),
        None,
    )?;
    let mut gold_by_section: std::collections::HashMap<(&str, u32), Vec<(usize, usize)>> =
        Default::default();
    for s in &genia.sentences {
        gold_by_section
            .entry((s.doc_id.as_str(), s.section))
            .or_default()
            .push((s.char_start as usize, s.char_end as usize));
    }
    let units = genia.documents.iter().flat_map(|d| {
        let gold = &gold_by_section;
        d.sections
            .iter()
            .enumerate()
            .map(move |(i, sec)| GoldSentences {
                text: &sec.text,
                sentences: gold
                    .get(&(d.id.as_str(), i as u32))
                    .cloned()
                    .unwrap_or_default(),
            })
    });
    let (c, errors) = sentence_boundary_errors(&splitter, units, show);
    boundary_row("GENIA 3.02 (2,000 abstracts)", &c, &errors);

    for split in ["train", "dev", "test"] {
        let trees = read_conllu(&data_dir.join(format!("treebanks/craft/{split}.conllu")))?;
        // Paragraph texts: the sentences of a paragraph joined by one space.
        let mut paragraphs: Vec<(String, Vec<(usize, usize)>)> = Vec::new();
        let mut key = None;
        for t in &trees {
            let k = (t.doc_id.clone(), t.par_id.clone());
            if key.as_ref() != Some(&k) {
                paragraphs.push((String::new(), Vec::new()));
                key = Some(k);
            }
            let (text, spans) = paragraphs.last_mut().expect("paragraph");
            if !text.is_empty() {
                text.push(' ');
            }
            let sentence = t.text.clone().unwrap_or_else(|| t.rebuilt_text());
            let start = text.chars().count();
            text.push_str(&sentence);
            spans.push((start, start + sentence.chars().count()));
        }
        let (c, errors) = sentence_boundary_errors(
            &splitter,
            paragraphs.iter().map(|(t, s)| GoldSentences {
                text: t,
                sentences: s.clone(),
            }),
            show,
        );
        boundary_row(
            &format!("CRAFT {split} ({} sentences)", trees.len()),
            &c,
            &errors,
        );
    }

    println!();
    println!("entity boundaries on token boundaries (BioTokenizer)");
    println!(
        "{:<34} {:>9} {:>11} {:>9} {:>15}",
        "corpus", "mentions", "boundaries", "on token", "both ends"
    );
    let mut bc5 = bioner::corpus::Corpus::default();
    for f in ["CDR_TrainingSet", "CDR_DevelopmentSet", "CDR_TestSet"] {
        bc5.extend(read_pubtator(
            &data_dir.join(format!("bc5cdr/pubtator/{f}.PubTator.txt")),
        )?);
    }
    for (name, corpus) in [
        ("BC5CDR (PubTator, all splits)", &bc5),
        ("GENIA 3.02 (5 types)", &genia),
    ] {
        let c = token_boundary_coverage(&BioTokenizer, &corpus.documents, &corpus.mentions);
        println!(
            "{:<34} {:>9} {:>11} {:>8.2}% {:>14.2}%",
            name,
            c.mentions,
            c.boundaries,
            pct(c.boundary_share()),
            pct(c.mention_share())
        );
    }
    Ok(())
}
