//! The heading outline of a markdown body: for any byte offset, the heading path (`H1 >
//! H2 > H3`) and the anchor of the nearest heading.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::domain::HeadingAnchor;

/// The section a position belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub start: usize,
    pub path: Vec<String>,
    pub anchor: String,
}

/// Sections of a markdown body in order.
#[derive(Clone, Debug, Default)]
pub struct Outline {
    sections: Vec<Section>,
}

/// GitHub-style heading slug: lower case, spaces to `-`, punctuation dropped.
#[must_use]
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if c == ' ' || c == '-' || c == '_' {
            out.push(if c == '_' { '_' } else { '-' });
        }
    }
    out
}

fn level(l: HeadingLevel) -> usize {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

impl Outline {
    /// Reads the headings of `markdown`; `anchors` maps heading texts to the ids the page
    /// gave them (a slug of the text is used for the others).
    #[must_use]
    pub fn parse(markdown: &str, anchors: &[HeadingAnchor]) -> Self {
        let mut sections = Vec::new();
        let mut stack: Vec<(usize, String)> = Vec::new();
        let mut current: Option<(usize, usize, String)> = None;
        let mut used = vec![false; anchors.len()];
        for (event, range) in Parser::new_ext(markdown, Options::ENABLE_TABLES).into_offset_iter() {
            match event {
                Event::Start(Tag::Heading { level: l, .. }) => current = Some((level(l), range.start, String::new())),
                Event::Text(t) | Event::Code(t) => {
                    if let Some((_, _, text)) = current.as_mut() {
                        text.push_str(&t);
                    }
                }
                Event::End(TagEnd::Heading(_)) => {
                    let Some((lvl, start, text)) = current.take() else { continue };
                    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    if text.is_empty() {
                        // A heading without text neither opens a section nor closes one.
                        continue;
                    }
                    while stack.last().is_some_and(|(l, _)| *l >= lvl) {
                        stack.pop();
                    }
                    stack.push((lvl, text.clone()));
                    let anchor = anchors
                        .iter()
                        .enumerate()
                        .find(|(i, a)| !used[*i] && a.text == text)
                        .map(|(i, a)| {
                            used[i] = true;
                            a.id.clone()
                        })
                        .unwrap_or_else(|| slugify(&text));
                    sections.push(Section { start, path: stack.iter().map(|(_, t)| t.clone()).collect(), anchor });
                }
                _ => {}
            }
        }
        Self { sections }
    }

    /// The section containing byte `offset` (the last heading at or before it).
    #[must_use]
    pub fn at(&self, offset: usize) -> Option<&Section> {
        let i = self.sections.partition_point(|s| s.start <= offset);
        i.checked_sub(1).map(|i| &self.sections[i])
    }

    #[must_use]
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }
}
