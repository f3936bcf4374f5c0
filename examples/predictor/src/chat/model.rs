//! The demo's generative model: a word-level bigram chain trained at start-up on a
//! public-domain text shipped in the repository (the opening of Lewis Carroll's *Alice's
//! Adventures in Wonderland*, 1865). Tiny and in-process, no download; its answers are
//! Carroll-flavoured nonsense, which is all a telemetry demo needs.

use std::collections::HashMap;

/// The public-domain training text.
const CORPUS: &str = include_str!("corpus.txt");

/// Name the model answers to.
pub(crate) const MODEL_NAME: &str = "mlotel-wonderland";

/// Words (and punctuation marks as their own tokens) with the words seen after each.
pub(crate) struct BigramModel {
    vocabulary: Vec<&'static str>,
    index: HashMap<&'static str, usize>,
    /// For each word, the words that followed it in the text (repeats kept: frequency is
    /// probability).
    next: Vec<Vec<usize>>,
    /// Words that begin a sentence.
    starts: Vec<usize>,
}

/// Splits text into tokens: runs of letters, digits, `'` and `-`, and single punctuation
/// marks. The same tokenizer counts prompt tokens.
pub(crate) fn tokens(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches(|c: char| !is_word(c) && !is_mark(c));
        let first = rest.chars().next()?;
        let length = if is_mark(first) {
            first.len_utf8()
        } else {
            rest.find(|c: char| !is_word(c)).unwrap_or(rest.len())
        };
        let (token, after) = rest.split_at(length);
        rest = after;
        Some(token)
    })
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '\'' || c == '-'
}

fn is_mark(c: char) -> bool {
    matches!(c, '.' | ',' | ';' | ':' | '!' | '?')
}

fn ends_sentence(token: &str) -> bool {
    matches!(token, "." | "!" | "?")
}

impl BigramModel {
    pub(crate) fn train() -> Self {
        let mut model = Self {
            vocabulary: Vec::new(),
            index: HashMap::new(),
            next: Vec::new(),
            starts: Vec::new(),
        };
        let mut previous: Option<usize> = None;
        for token in tokens(CORPUS) {
            let id = model.id(token);
            match previous {
                Some(before) => {
                    model.next[before].push(id);
                    if ends_sentence(model.vocabulary[before]) {
                        model.starts.push(id);
                    }
                }
                None => model.starts.push(id),
            }
            previous = Some(id);
        }
        model
    }

    fn id(&mut self, token: &'static str) -> usize {
        if let Some(&id) = self.index.get(token) {
            return id;
        }
        let id = self.vocabulary.len();
        self.vocabulary.push(token);
        self.index.insert(token, id);
        self.next.push(Vec::new());
        id
    }

    /// The word to start an answer to `prompt` from: its last known word, else a sentence
    /// start.
    pub(crate) fn seed(&self, prompt: &str, random: &mut Random) -> usize {
        let known = tokens(prompt)
            .filter_map(|token| {
                self.index
                    .get(token.to_lowercase().as_str())
                    .or(self.index.get(token))
            })
            .filter(|&&id| !self.next[id].is_empty())
            .last()
            .copied();
        known.unwrap_or_else(|| self.starts[random.below(self.starts.len())])
    }

    /// The word after `word`: the most frequent at temperature 0, else sampled.
    pub(crate) fn next(&self, word: usize, temperature: f64, random: &mut Random) -> usize {
        let followers = &self.next[word];
        if followers.is_empty() {
            return self.starts[random.below(self.starts.len())];
        }
        if temperature <= 0.0 {
            let mut counts: HashMap<usize, usize> = HashMap::new();
            for &follower in followers {
                *counts.entry(follower).or_default() += 1;
            }
            return counts
                .into_iter()
                .max_by_key(|&(id, count)| (count, std::cmp::Reverse(id)))
                .map_or(followers[0], |(id, _)| id);
        }
        followers[random.below(followers.len())]
    }

    pub(crate) fn word(&self, id: usize) -> &'static str {
        self.vocabulary[id]
    }

    pub(crate) fn ends_sentence(&self, id: usize) -> bool {
        ends_sentence(self.vocabulary[id])
    }
}

/// xorshift64*: a deterministic generator from the request's seed (no dependency for a
/// demo's dice).
pub(crate) struct Random(u64);

impl Random {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub(crate) fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let value = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (value % bound.max(1) as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_words_and_marks() {
        let split: Vec<_> = tokens("Oh dear! I shall be late, said the rabbit-hole.").collect();
        assert_eq!(
            split,
            [
                "Oh",
                "dear",
                "!",
                "I",
                "shall",
                "be",
                "late",
                ",",
                "said",
                "the",
                "rabbit-hole",
                "."
            ]
        );
    }

    #[test]
    fn a_greedy_answer_follows_the_text() {
        let model = BigramModel::train();
        let mut random = Random::new(7);
        let white = model.seed("the White", &mut random);
        assert_eq!(model.word(white), "White");
        assert_eq!(model.word(model.next(white, 0.0, &mut random)), "Rabbit");
    }
}
