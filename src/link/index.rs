//! The link index: every vocabulary's names under their normalised keys, per entity type, and
//! a trigram index per type for the fuzzy fallback. Built once from the `[link]` vocabularies.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::error::LinkError;
use super::ngram::NgramIndex;
use super::normalize::{LEVELS, keys, stem};
use super::vocab::{VocabFile, VocabFormat, VocabularyConfig};
use crate::binio::{Reader, put_str, put_strings, put_u32, put_u64};

/// A concept the index can link to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concept {
    /// With its namespace (`MESH:D003693`); a composite annotation's ids joined by `|`.
    pub id: String,
    /// Preferred name (for a concept known only from annotations, its most frequent mention).
    pub name: String,
    /// Index into [`Index::vocabularies`] of the vocabulary that defines it.
    pub vocabulary: usize,
}

/// What was read from one vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VocabReport {
    pub label: String,
    pub path: String,
    pub lines: usize,
    pub names: usize,
    pub concepts: usize,
    pub bad_lines: usize,
    /// The first few bad lines, `line N: reason`.
    pub first_bad: Vec<String>,
}

/// Names of one vocabulary for one entity type, one map per key level.
type Dictionary = Vec<HashMap<String, u32>>;

#[derive(Debug, Default)]
pub struct Index {
    pub concepts: Vec<Concept>,
    /// `name version` of each vocabulary, in configured order.
    pub vocabularies: Vec<String>,
    pub reports: Vec<VocabReport>,
    /// Per entity type, its dictionaries in configured order.
    dictionaries: BTreeMap<String, Vec<Dictionary>>,
    fuzzy: BTreeMap<String, NgramIndex>,
    /// Alternative id -> concept.
    alt: HashMap<String, u32>,
    by_id: HashMap<String, u32>,
    /// Concepts an annotated corpus (a `pubtator` vocabulary) links mentions to: the fuzzy
    /// fallback prefers them among near-equal names.
    annotated: HashSet<u32>,
    /// Per entity type, how many names use each word (as [`super::normalize::words`] gives
    /// it, and stemmed): what a mention's words may be rewritten into ([`super::variant`]).
    words: BTreeMap<String, HashMap<String, u32>>,
}

/// A key's candidates while building: concept -> weight (preferred names and frequent
/// annotations weigh more).
type Votes = HashMap<String, HashMap<u32, u32>>;

impl Index {
    /// Reads every vocabulary and indexes it.
    pub fn build(vocabularies: &[VocabularyConfig]) -> Result<Self, LinkError> {
        if vocabularies.is_empty() {
            return Err(LinkError::Config("no [[link.vocabularies]] given".into()));
        }
        let mut index = Index::default();
        // Annotation-only concepts take their name from a vocabulary when one defines them.
        let mut annotated_names: HashMap<u32, HashMap<String, u32>> = HashMap::new();
        let mut fuzzy_names: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
        for (v, config) in vocabularies.iter().enumerate() {
            if config.types.is_empty() {
                return Err(LinkError::Config(format!(
                    "vocabulary {:?} links no entity type (types = [])",
                    config.name
                )));
            }
            let file = VocabFile::read(config)?;
            index.vocabularies.push(config.label());
            let mut votes: BTreeMap<&str, Vec<Votes>> = config
                .types
                .iter()
                .map(|t| (t.as_str(), vec![Votes::new(); LEVELS]))
                .collect();
            let mut concepts_here = std::collections::HashSet::new();
            for n in &file.names {
                let authoritative = config.format != VocabFormat::Pubtator;
                let c = index.concept(&n.id, &n.name, v, authoritative && n.preferred);
                concepts_here.insert(c);
                if !authoritative {
                    *annotated_names
                        .entry(c)
                        .or_default()
                        .entry(n.name.clone())
                        .or_default() += 1;
                }
                let Some(k) = keys(&n.name) else { continue };
                let weight = if n.preferred { 3 } else { 1 };
                for (t, levels) in votes.iter_mut() {
                    if n.entity_type.as_deref().is_some_and(|nt| nt != *t) {
                        continue;
                    }
                    for (level, key) in k.iter().enumerate().filter(|(_, k)| !k.is_empty()) {
                        *levels[level]
                            .entry(key.clone())
                            .or_default()
                            .entry(c)
                            .or_default() += weight;
                    }
                    fuzzy_names
                        .entry((*t).to_owned())
                        .or_default()
                        .push((k[1].clone(), c));
                    let counts = index.words.entry((*t).to_owned()).or_default();
                    for w in k[1].split(' ') {
                        let stemmed = stem(w);
                        if stemmed != w {
                            *counts.entry(stemmed).or_default() += 1;
                        }
                        *counts.entry(w.to_owned()).or_default() += 1;
                    }
                }
            }
            for (alt, primary) in &file.alt_ids {
                if let Some(&c) = index.by_id.get(primary) {
                    index.alt.entry(alt.clone()).or_insert(c);
                }
            }
            for (t, levels) in votes {
                let dict: Dictionary = levels.into_iter().map(elect).collect();
                index
                    .dictionaries
                    .entry(t.to_owned())
                    .or_default()
                    .push(dict);
            }
            index.reports.push(VocabReport {
                label: config.label(),
                path: config
                    .path
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                lines: file.lines,
                names: file.names.len(),
                concepts: concepts_here.len(),
                bad_lines: file.bad.len(),
                first_bad: file
                    .bad
                    .iter()
                    .take(3)
                    .map(|b| format!("line {}: {}", b.line, b.reason))
                    .collect(),
            });
        }
        index.annotated = annotated_names.keys().copied().collect();
        for (c, names) in annotated_names {
            let concept = &mut index.concepts[c as usize];
            if concept.name.is_empty() {
                concept.name = names
                    .into_iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                    .map(|(n, _)| n)
                    .unwrap_or_default();
            }
        }
        for (t, mut names) in fuzzy_names {
            names.sort();
            names.dedup_by(|a, b| a.0 == b.0);
            let idx = NgramIndex::build(names.iter().map(|(n, c)| (n.as_str(), *c)));
            index.fuzzy.insert(t, idx);
        }
        Ok(index)
    }

    /// The concept with `id`, created on first sight.
    fn concept(&mut self, id: &str, name: &str, vocabulary: usize, preferred: bool) -> u32 {
        if let Some(&c) = self.by_id.get(id) {
            let concept = &mut self.concepts[c as usize];
            if preferred && concept.name.is_empty() {
                concept.name = name.to_owned();
                concept.vocabulary = vocabulary;
            }
            return c;
        }
        let c = self.concepts.len() as u32;
        self.concepts.push(Concept {
            id: id.to_owned(),
            name: if preferred {
                name.to_owned()
            } else {
                String::new()
            },
            vocabulary,
        });
        self.by_id.insert(id.to_owned(), c);
        c
    }

    /// Entity types some vocabulary links.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.dictionaries.keys().map(String::as_str)
    }

    pub fn links_type(&self, entity_type: &str) -> bool {
        self.dictionaries.contains_key(entity_type)
    }

    /// The concept a name matches exactly (under some key), trying the vocabularies in
    /// configured order and the keys strictest first.
    pub fn exact(&self, entity_type: &str, name: &str) -> Option<u32> {
        let dicts = self.dictionaries.get(entity_type)?;
        let k = keys(name)?;
        dicts.iter().find_map(|d| {
            d.iter()
                .zip(&k)
                .filter(|(_, key)| !key.is_empty())
                .find_map(|(level, key)| level.get(key).copied())
        })
    }

    /// The nearest name of the type by trigram cosine, a concept an annotated corpus uses
    /// counting `annotated_bonus` more (the cosine returned is the name's own).
    pub fn nearest(
        &self,
        entity_type: &str,
        name: &str,
        annotated_bonus: f32,
    ) -> Option<(u32, f32)> {
        self.fuzzy.get(entity_type)?.nearest(name, |c| {
            if self.annotated.contains(&c) {
                annotated_bonus
            } else {
                0.0
            }
        })
    }

    /// A concept id as the index knows it: alternative ids mapped to their primary, a
    /// namespace added where missing.
    pub fn canonical(&self, id: &str, namespace: &str) -> String {
        let q = super::vocab::qualified(namespace, id);
        match self.alt.get(&q) {
            Some(&c) => self.concepts[c as usize].id.clone(),
            None => q,
        }
    }

    /// How many names of `entity_type` use the (lowercase) word `w`, stemmed or not.
    pub fn word_count(&self, entity_type: &str, w: &str) -> u32 {
        self.words
            .get(entity_type)
            .and_then(|counts| counts.get(w))
            .copied()
            .unwrap_or(0)
    }

    /// Names indexed for the fuzzy fallback, per type.
    pub fn fuzzy_sizes(&self) -> impl Iterator<Item = (&str, usize)> {
        self.fuzzy.iter().map(|(t, i)| (t.as_str(), i.len()))
    }
}

fn put_map(buf: &mut Vec<u8>, map: &HashMap<String, u32>) {
    put_u32(buf, map.len() as u32);
    for (k, &v) in map {
        put_str(buf, k);
        put_u32(buf, v);
    }
}

fn read_map(r: &mut Reader<'_>) -> Option<HashMap<String, u32>> {
    let n = r.count(8)?;
    let mut map = HashMap::with_capacity(n);
    for _ in 0..n {
        map.insert(r.string()?, r.u32()?);
    }
    Some(map)
}

impl Index {
    /// The index as bytes (the link index cache, [`super::cache`]).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        put_u32(&mut buf, self.concepts.len() as u32);
        for c in &self.concepts {
            put_str(&mut buf, &c.id);
            put_str(&mut buf, &c.name);
            put_u32(&mut buf, c.vocabulary as u32);
        }
        put_strings(&mut buf, &self.vocabularies);
        put_u32(&mut buf, self.reports.len() as u32);
        for r in &self.reports {
            put_str(&mut buf, &r.label);
            put_str(&mut buf, &r.path);
            for n in [r.lines, r.names, r.concepts, r.bad_lines] {
                put_u64(&mut buf, n as u64);
            }
            put_strings(&mut buf, &r.first_bad);
        }
        put_u32(&mut buf, self.dictionaries.len() as u32);
        for (t, dicts) in &self.dictionaries {
            put_str(&mut buf, t);
            put_u32(&mut buf, dicts.len() as u32);
            for d in dicts {
                put_u32(&mut buf, d.len() as u32);
                for level in d {
                    put_map(&mut buf, level);
                }
            }
        }
        put_u32(&mut buf, self.fuzzy.len() as u32);
        for (t, f) in &self.fuzzy {
            put_str(&mut buf, t);
            f.encode(&mut buf);
        }
        put_map(&mut buf, &self.alt);
        put_map(&mut buf, &self.by_id);
        let mut annotated: Vec<u32> = self.annotated.iter().copied().collect();
        annotated.sort_unstable();
        put_u32(&mut buf, annotated.len() as u32);
        for c in annotated {
            put_u32(&mut buf, c);
        }
        put_u32(&mut buf, self.words.len() as u32);
        for (t, counts) in &self.words {
            put_str(&mut buf, t);
            put_map(&mut buf, counts);
        }
        buf
    }

    /// Reads what [`Index::encode`] wrote; `None` if it is truncated or malformed.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Index> {
        let mut r = Reader::new(bytes);
        let concepts = (0..r.count(12)?)
            .map(|_| {
                Some(Concept {
                    id: r.string()?,
                    name: r.string()?,
                    vocabulary: r.u32()? as usize,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let vocabularies = r.strings()?;
        let reports = (0..r.count(40)?)
            .map(|_| {
                Some(VocabReport {
                    label: r.string()?,
                    path: r.string()?,
                    lines: r.u64()? as usize,
                    names: r.u64()? as usize,
                    concepts: r.u64()? as usize,
                    bad_lines: r.u64()? as usize,
                    first_bad: r.strings()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        let mut dictionaries = BTreeMap::new();
        for _ in 0..r.count(8)? {
            let t = r.string()?;
            let dicts = (0..r.count(4)?)
                .map(|_| (0..r.count(4)?).map(|_| read_map(&mut r)).collect())
                .collect::<Option<Vec<Dictionary>>>()?;
            dictionaries.insert(t, dicts);
        }
        let mut fuzzy = BTreeMap::new();
        for _ in 0..r.count(8)? {
            let t = r.string()?;
            fuzzy.insert(t, NgramIndex::decode(&mut r)?);
        }
        let alt = read_map(&mut r)?;
        let by_id = read_map(&mut r)?;
        let annotated = (0..r.count(4)?)
            .map(|_| r.u32())
            .collect::<Option<HashSet<u32>>>()?;
        let mut words = BTreeMap::new();
        for _ in 0..r.count(8)? {
            let t = r.string()?;
            words.insert(t, read_map(&mut r)?);
        }
        let valid = r.at_end()
            && concepts.iter().all(|c| c.vocabulary < vocabularies.len())
            && by_id
                .values()
                .chain(alt.values())
                .chain(&annotated)
                .all(|&c| (c as usize) < concepts.len());
        valid.then_some(Index {
            concepts,
            vocabularies,
            reports,
            dictionaries,
            fuzzy,
            alt,
            by_id,
            annotated,
            words,
        })
    }
}

/// Each key's concept with the most weight (ties: the concept seen first).
fn elect(votes: Votes) -> HashMap<String, u32> {
    votes
        .into_iter()
        .map(|(key, candidates)| {
            let best = candidates
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                .map(|(c, _)| c)
                .expect("a key has a candidate");
            (key, best)
        })
        .collect()
}
