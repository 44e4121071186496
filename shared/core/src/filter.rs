//! The sensitive-word filter: a configured word list matched (case-insensitively, in one pass
//! with Aho-Corasick) against message text and custom-element descriptions, either refusing the
//! message or masking each match with `***`.

use crate::element::Element;
use crate::error::{Error, Result};
use aho_corasick::{AhoCorasick, MatchKind};
use std::fmt;
use std::str::FromStr;

/// What a match does to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterMode {
    /// The message is refused with `sensitive_content`.
    Reject,
    /// Each match is replaced by `***` and the message goes through.
    Mask,
}

impl FromStr for FilterMode {
    type Err = String;

    fn from_str(raw: &str) -> std::result::Result<Self, Self::Err> {
        match raw {
            "reject" => Ok(Self::Reject),
            "mask" => Ok(Self::Mask),
            other => Err(format!("the filter mode is reject or mask, not {other:?}")),
        }
    }
}

/// What a masked word becomes.
const MASK: &str = "***";

/// A compiled word list.
pub struct WordFilter {
    words: AhoCorasick,
    count: usize,
    mode: FilterMode,
}

impl fmt::Debug for WordFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WordFilter")
            .field("words", &self.count)
            .field("mode", &self.mode)
            .finish()
    }
}

impl WordFilter {
    /// A filter over `words` (blank ones ignored); `None` when no word is left.
    pub fn new<W: AsRef<str>>(
        words: impl IntoIterator<Item = W>,
        mode: FilterMode,
    ) -> Result<Option<Self>, String> {
        let words: Vec<String> = words
            .into_iter()
            .map(|w| w.as_ref().trim().to_owned())
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return Ok(None);
        }
        let automaton = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&words)
            .map_err(|err| format!("cannot compile the word list: {err}"))?;
        Ok(Some(Self {
            words: automaton,
            count: words.len(),
            mode,
        }))
    }

    /// The words of a list written one per line or separated by commas.
    pub fn parse_list(text: &str) -> Vec<String> {
        text.split(['\n', ','])
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Applies the filter to a body: refuses it, or masks every match, per the mode.
    pub fn apply(&self, body: &mut [Element]) -> Result<()> {
        for element in body.iter_mut() {
            let text = match element {
                Element::Text { text } => Some(text),
                Element::Custom { desc, .. } => desc.as_mut(),
                _ => None,
            };
            let Some(text) = text else { continue };
            if !self.words.is_match(text.as_str()) {
                continue;
            }
            match self.mode {
                FilterMode::Reject => return Err(Error::SensitiveContent),
                FilterMode::Mask => {
                    let masks = vec![MASK; self.count];
                    *text = self.words.replace_all(text, &masks);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(body: &[Element]) -> &str {
        match &body[0] {
            Element::Text { text } => text,
            _ => "",
        }
    }

    #[test]
    fn masking_replaces_every_match_in_any_ascii_case_and_leaves_the_rest() {
        let filter = WordFilter::new(["bad", "worse"], FilterMode::Mask)
            .unwrap()
            .unwrap();
        let mut body = vec![Element::Text {
            text: "Bad, WORSE, fine — 坏 bad!".to_owned(),
        }];
        filter.apply(&mut body).unwrap();
        assert_eq!(text(&body), "***, ***, fine — 坏 ***!");
    }

    #[test]
    fn rejecting_refuses_text_and_custom_descriptions_but_not_custom_data() {
        let filter = WordFilter::new(["秘密"], FilterMode::Reject).unwrap().unwrap();
        let mut clean = vec![Element::Custom {
            data: "秘密".to_owned(),
            desc: Some("ok".to_owned()),
            ext: None,
        }];
        filter.apply(&mut clean).unwrap();
        let mut dirty = vec![Element::Custom {
            data: String::new(),
            desc: Some("这是秘密".to_owned()),
            ext: None,
        }];
        assert_eq!(
            filter.apply(&mut dirty).unwrap_err().code(),
            crate::error::ErrorCode::SensitiveContent
        );
        let mut text = vec![Element::Text {
            text: "a 秘密 b".to_owned(),
        }];
        assert!(filter.apply(&mut text).is_err());
    }

    #[test]
    fn an_empty_list_is_no_filter_and_lists_parse_by_line_or_comma() {
        assert!(WordFilter::new(["", "  "], FilterMode::Mask).unwrap().is_none());
        assert_eq!(WordFilter::parse_list("a, b\n\n c ,"), ["a", "b", "c"]);
        assert_eq!("mask".parse::<FilterMode>(), Ok(FilterMode::Mask));
        assert!("maybe".parse::<FilterMode>().is_err());
    }
}
