//! BioC, in its XML and its JSON form (the `bioc` Python package's `biocxml` and `biocjson`):
//! a `collection` of `document`s, each with a `title` and an `abstract` `passage` (the
//! `type` infon) whose `offset` places it in the document as PubTator does (the abstract at
//! the title's length plus one), and per entity an `annotation` with the infons `type`,
//! `identifier` (the linked concept, when there is one), `concept_name` and `score`, one
//! `location` (document-level character offset and length) and its `text`. Offsets count
//! characters (Unicode scalar values), as PubTator's BioC does.
//!
//! XML 1.0 cannot hold every character: one it cannot (a control character other than tab,
//! line feed and carriage return, U+FFFE, U+FFFF) is written as U+FFFD, one character for
//! one, so offsets hold; a carriage return is written as `&#13;` so that parsers keep it.

use std::io::Write;

use serde_json::{Value, json};

use super::tables::{RunDocument, RunEntity};

/// `source`, `date` and `key` of the collection.
#[derive(Debug, Clone)]
pub struct Collection {
    pub source: String,
    /// `YYYYMMDD`.
    pub date: String,
}

impl Collection {
    const KEY: &'static str = "bioner.key";
}

/// The passages of a document: (type, document-level offset, text, entities).
fn passages(d: &RunDocument) -> [(&'static str, usize, &str, Vec<&RunEntity>); 2] {
    let [title, abstract_text] = &d.sections;
    let of = |section: usize| d.entities.iter().filter(move |e| e.section == section);
    [
        ("title", 0, title.as_str(), of(0).collect()),
        (
            "abstract",
            title.chars().count() + 1,
            abstract_text.as_str(),
            of(1).collect(),
        ),
    ]
}

/// The infons of an entity's annotation, in order.
fn infons(e: &RunEntity) -> Vec<(&'static str, String)> {
    let mut out = vec![("type", e.entity_type.clone())];
    if let Some(id) = &e.concept_id {
        out.push(("identifier", id.clone()));
    }
    if let Some(name) = &e.concept_name {
        out.push(("concept_name", name.clone()));
    }
    out.push(("score", format!("{:.4}", e.score)));
    out
}

/// `text` escaped for XML character data, with the characters XML 1.0 cannot hold replaced
/// (see the module docs).
fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// The start of a BioC XML collection.
pub fn bioc_xml_head(collection: &Collection, w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        w,
        "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n\
         <!DOCTYPE collection SYSTEM 'BioC.dtd'>\n\
         <collection><source>{}</source><date>{}</date><key>{}</key>",
        xml_text(&collection.source),
        xml_text(&collection.date),
        Collection::KEY
    )
}

/// One document of a BioC XML collection.
pub fn bioc_xml_document(d: &RunDocument, w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(w, "<document><id>{}</id>", xml_text(&d.id))?;
    let mut n = 0;
    for (kind, offset, text, entities) in passages(d) {
        writeln!(
            w,
            "<passage><infon key=\"type\">{kind}</infon><offset>{offset}</offset><text>{}</text>",
            xml_text(text)
        )?;
        for e in entities {
            write!(w, "<annotation id=\"{n}\">")?;
            for (key, value) in infons(e) {
                write!(w, "<infon key=\"{key}\">{}</infon>", xml_text(&value))?;
            }
            writeln!(
                w,
                "<location offset=\"{}\" length=\"{}\"/><text>{}</text></annotation>",
                offset + e.char_start,
                e.char_end - e.char_start,
                xml_text(&e.text)
            )?;
            n += 1;
        }
        writeln!(w, "</passage>")?;
    }
    writeln!(w, "</document>")
}

/// The end of a BioC XML collection.
pub fn bioc_xml_tail(w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(w, "</collection>")
}

/// One document as a BioC JSON object.
fn document_json(d: &RunDocument) -> Value {
    let mut n = 0;
    let passages: Vec<Value> = passages(d)
        .into_iter()
        .map(|(kind, offset, text, entities)| {
            let annotations: Vec<Value> = entities
                .into_iter()
                .map(|e| {
                    let infons: serde_json::Map<String, Value> = infons(e)
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), Value::String(v)))
                        .collect();
                    let a = json!({
                        "id": n.to_string(),
                        "infons": infons,
                        "text": e.text,
                        "locations": [{
                            "offset": offset + e.char_start,
                            "length": e.char_end - e.char_start,
                        }],
                    });
                    n += 1;
                    a
                })
                .collect();
            json!({
                "offset": offset,
                "infons": {"type": kind},
                "text": text,
                "sentences": [],
                "annotations": annotations,
                "relations": [],
            })
        })
        .collect();
    json!({
        "id": d.id,
        "infons": {},
        "passages": passages,
        "annotations": [],
        "relations": [],
    })
}

/// The start of a BioC JSON collection, up to its `documents` array (one document per line
/// inside it, so large collections stay readable with line tools).
pub fn bioc_json_head(collection: &Collection, w: &mut dyn Write) -> std::io::Result<()> {
    let head = json!({
        "source": collection.source,
        "date": collection.date,
        "key": Collection::KEY,
        "infons": {},
    })
    .to_string();
    // `{"date":...,"source":...` without its closing brace, then the documents.
    write!(w, "{},\"documents\":[", &head[..head.len() - 1])
}

/// Document number `index` (from 0) of a BioC JSON collection.
pub fn bioc_json_document(d: &RunDocument, index: usize, w: &mut dyn Write) -> std::io::Result<()> {
    write!(
        w,
        "{}\n{}",
        if index == 0 { "" } else { "," },
        document_json(d)
    )
}

/// The end of a BioC JSON collection.
pub fn bioc_json_tail(w: &mut dyn Write) -> std::io::Result<()> {
    writeln!(w, "\n]}}")
}

#[cfg(test)]
mod tests {
    use super::xml_text;

    #[test]
    fn xml_text_escapes_and_keeps_one_character_for_one() {
        assert_eq!(xml_text("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(xml_text("x\u{1}y\u{FFFF}"), "x\u{FFFD}y\u{FFFD}");
        assert_eq!(xml_text("l1\r\nl2\t"), "l1&#13;\nl2\t");
    }
}
