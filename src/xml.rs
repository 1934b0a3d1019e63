//! Small helpers over quick-xml shared by the XML readers (BioC, GENIA, PubMed).

use quick_xml::events::{BytesStart, Event};

/// Why the text or an attribute of an XML event cannot be read; callers add where it was.
#[derive(Debug, thiserror::Error)]
pub(crate) enum XmlError {
    #[error(transparent)]
    Encoding(#[from] quick_xml::encoding::EncodingError),
    #[error(transparent)]
    Attribute(#[from] quick_xml::events::attributes::AttrError),
    #[error(transparent)]
    Xml(#[from] quick_xml::Error),
    #[error("unknown entity &{0};")]
    UnknownEntity(String),
}

/// Appends the character data an event carries (text, CDATA, or an entity/character
/// reference resolved to its character) to `out`. Returns false for other events.
pub(crate) fn push_text(event: &Event<'_>, out: &mut String) -> Result<bool, XmlError> {
    match event {
        Event::Text(t) => {
            out.push_str(&t.xml_content()?);
            Ok(true)
        }
        Event::CData(t) => {
            out.push_str(&t.xml_content()?);
            Ok(true)
        }
        Event::GeneralRef(r) => {
            if let Some(c) = r.resolve_char_ref()? {
                out.push(c);
                return Ok(true);
            }
            let name = r.decode()?;
            match quick_xml::escape::resolve_predefined_entity(&name) {
                Some(s) => out.push_str(s),
                None => return Err(XmlError::UnknownEntity(name.into_owned())),
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The value of attribute `name`, unescaped.
pub(crate) fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, XmlError> {
    match e.try_get_attribute(name)? {
        Some(a) => Ok(Some(a.unescape_value()?.into_owned())),
        None => Ok(None),
    }
}

/// 1-based line numbers of byte positions in one text, counted incrementally: positions that
/// only move forward (as a reader's do) cost one pass over the text in all.
pub(crate) struct Lines<'a> {
    text: &'a [u8],
    pos: std::cell::Cell<usize>,
    line: std::cell::Cell<usize>,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            pos: 0.into(),
            line: 1.into(),
        }
    }

    pub(crate) fn line(&self, pos: usize) -> usize {
        let pos = pos.min(self.text.len());
        let (from, mut line) = if pos >= self.pos.get() {
            (self.pos.get(), self.line.get())
        } else {
            (0, 1)
        };
        line += self.text[from..pos].iter().filter(|&&b| b == b'\n').count();
        self.pos.set(pos);
        self.line.set(line);
        line
    }
}
