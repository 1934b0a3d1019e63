//! PubTator: per document `ID|t|title`, `ID|a|abstract`, one line per entity
//! `ID<TAB>start<TAB>end<TAB>text<TAB>type<TAB>concept id`, and a blank line. Offsets are
//! characters over `title + " " + abstract` (the format has no sections), so an abstract
//! entity's offsets are shifted by the title's length plus one. The concept id is the linked
//! one (`MESH:D003693`, `|`-joined for a composite) or `-1` where there is none, as BC5CDR
//! writes it.
//!
//! The format is line-based: a tab, carriage return or line feed inside a text (structured
//! abstracts join their parts with `\n`) is written as a space, one character for one, so the
//! offsets stay those of the tables.

use std::io::Write;

use super::tables::RunDocument;

/// One line's worth of `text`: tabs and line breaks as spaces.
fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\t', '\n', '\r']) {
        text.replace(['\t', '\n', '\r'], " ").into()
    } else {
        text.into()
    }
}

/// Writes one document as PubTator.
pub fn write_pubtator(d: &RunDocument, w: &mut dyn Write) -> std::io::Result<()> {
    let [title, abstract_text] = &d.sections;
    writeln!(w, "{}|t|{}", d.id, one_line(title))?;
    writeln!(w, "{}|a|{}", d.id, one_line(abstract_text))?;
    let abstract_base = title.chars().count() + 1;
    for e in &d.entities {
        let base = if e.section == 0 { 0 } else { abstract_base };
        writeln!(
            w,
            "{}\t{}\t{}\t{}\t{}\t{}",
            d.id,
            base + e.char_start,
            base + e.char_end,
            one_line(&e.text),
            e.entity_type,
            e.concept_id.as_deref().unwrap_or("-1")
        )?;
    }
    writeln!(w)
}
