//! Near-duplicate fingerprints: a 64-bit simhash (Charikar) over the word shingles of a
//! page's main text. Two pages are near duplicates when their fingerprints differ in at most
//! [`NEAR_DISTANCE`] bits.
//!
//! Features (each distinct one once): every run of three consecutive words (lower-cased, with each digit run written
//! `0`, so a changed date, counter or version number leaves the shingles as they were), plus
//! each number as it is, with an eighth of a shingle's weight (so that pages whose numbers
//! are most of their content, such as the same table for two years, still differ). With 64
//! bits and a threshold of 3, a few changed numbers or a changed word in a page of a few
//! hundred words stay within the threshold, while pages on the same template with different
//! text differ in about 32 bits. Shorter pages need to be closer to be called near duplicates.

use std::collections::HashSet;

/// Largest Hamming distance between the fingerprints of near-duplicate pages.
pub const NEAR_DISTANCE: u32 = 3;

/// Weight of a number (a shingle weighs 1).
const NUMBER_WEIGHT: f32 = 0.125;

/// Words per shingle.
const SHINGLE: usize = 3;

/// Fingerprints are compared band by band: two fingerprints within [`NEAR_DISTANCE`] bits
/// have at least one of `NEAR_DISTANCE + 1` bands equal (pigeonhole), so near duplicates
/// are found by looking up each band of a fingerprint.
pub const BANDS: usize = NEAR_DISTANCE as usize + 1;

/// Min-hashes kept per page, to confirm a near match.
pub const MINHASHES: usize = 32;

/// Smallest estimated resemblance (Jaccard similarity of the shingle sets, numbers counting
/// as `0`) of near duplicates: the simhash finds candidates, this confirms them (a simhash
/// alone calls a pair of short pages that share most of their text near by chance).
pub const NEAR_RESEMBLANCE: f32 = 0.9;

/// What is kept of a page to find its near duplicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub simhash: u64,
    pub minhash: [u32; MINHASHES],
}

impl Fingerprint {
    /// Bytes of [`Fingerprint::to_bytes`].
    pub const BYTES: usize = 8 + 4 * MINHASHES;

    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.simhash.to_be_bytes().to_vec();
        for m in self.minhash {
            out.extend_from_slice(&m.to_be_bytes());
        }
        out
    }

    /// # Panics
    /// `bytes` is not [`Fingerprint::BYTES`] long.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let simhash = u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"));
        let mut minhash = [0u32; MINHASHES];
        for (i, m) in minhash.iter_mut().enumerate() {
            *m = u32::from_be_bytes(bytes[8 + 4 * i..12 + 4 * i].try_into().expect("4 bytes"));
        }
        Self { simhash, minhash }
    }

    /// Whether the two pages are near duplicates: simhashes within [`NEAR_DISTANCE`] bits and
    /// an estimated resemblance of at least [`NEAR_RESEMBLANCE`].
    #[must_use]
    pub fn is_near(&self, other: &Self) -> bool {
        let same = self.minhash.iter().zip(&other.minhash).filter(|(a, b)| a == b).count();
        distance(self.simhash, other.simhash) <= NEAR_DISTANCE && same as f32 >= NEAR_RESEMBLANCE * MINHASHES as f32
    }
}

/// The fingerprint of `text`; `None` when it has no words.
#[must_use]
pub fn fingerprint(text: &str) -> Option<Fingerprint> {
    let (shingles, numbers) = features(text)?;
    let mut minhash = [u32::MAX; MINHASHES];
    for (i, m) in minhash.iter_mut().enumerate() {
        let seed = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        *m = shingles.iter().map(|h| (mix(h ^ seed) >> 32) as u32).min().unwrap_or(u32::MAX);
    }
    Some(Fingerprint { simhash: combine(&shingles, &numbers), minhash })
}

/// The simhash of `text`; `None` when it has no words.
#[must_use]
pub fn simhash(text: &str) -> Option<u64> {
    features(text).map(|(shingles, numbers)| combine(&shingles, &numbers))
}

/// The distinct shingles and numbers of `text` (each distinct feature once: a line repeated
/// on every row of a table must not outweigh the rest); `None` when it has no words.
fn features(text: &str) -> Option<(HashSet<u64>, HashSet<u64>)> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return None;
    }
    let normalised: Vec<String> = words.iter().map(|w| without_digits(w)).collect();
    let shingles =
        normalised.windows(SHINGLE.min(normalised.len())).map(|s| hash_words(s.iter().map(String::as_str))).collect();
    let numbers = words.iter().filter(|w| w.bytes().any(|b| b.is_ascii_digit())).map(|n| hash_words(["#", n])).collect();
    Some((shingles, numbers))
}

/// The simhash of the features.
fn combine(shingles: &HashSet<u64>, numbers: &HashSet<u64>) -> u64 {
    let mut text_sums = [0i32; 64];
    let mut number_sums = [0f32; 64];
    for (bit, sum) in text_sums.iter_mut().enumerate() {
        *sum = shingles.iter().map(|h| if h >> bit & 1 == 1 { 1 } else { -1 }).sum();
    }
    for (bit, sum) in number_sums.iter_mut().enumerate() {
        *sum = numbers.iter().map(|h| if h >> bit & 1 == 1 { NUMBER_WEIGHT } else { -NUMBER_WEIGHT }).sum();
    }
    // A bit on which the shingles tie stays 0 unless the numbers weigh a whole shingle or
    // more (otherwise a changed date would decide every tied bit).
    let mut fingerprint = 0u64;
    for bit in 0..64 {
        let (text, numbers) = (text_sums[bit], number_sums[bit]);
        let numbers = if text == 0 && numbers.abs() < 1.0 { 0.0 } else { numbers };
        if text as f32 + numbers > 0.0 {
            fingerprint |= 1 << bit;
        }
    }
    fingerprint
}

/// Bits in which two fingerprints differ.
#[must_use]
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// Band `i` (0-based) of a fingerprint: 16 bits.
#[must_use]
pub fn band(hash: u64, i: usize) -> u16 {
    (hash >> (16 * i)) as u16
}

/// The first band in which two fingerprints agree (`None` when none does, which means they
/// are not near duplicates). Both sides of a pair compute the same band, so they can agree
/// on which of them came first from the order of that band's entries alone.
#[must_use]
pub fn first_common_band(a: u64, b: u64) -> Option<usize> {
    (0..BANDS).find(|&i| band(a, i) == band(b, i))
}

fn without_digits(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut in_number = false;
    for c in word.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('0');
            }
            in_number = true;
        } else {
            out.push(c);
            in_number = false;
        }
    }
    out
}

/// FNV-1a over the words (each followed by a space), then a 64-bit finaliser so every bit
/// depends on every input byte. Stable across builds and platforms: fingerprints are shared
/// by every worker through the key-value store.
fn hash_words<'a>(words: impl IntoIterator<Item = &'a str>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for word in words {
        for b in word.bytes().chain(std::iter::once(b' ')) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    mix(h)
}

/// A 64-bit finaliser (MurmurHash3's).
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page of ~250 words of documentation prose about `topic`.
    fn article(topic: &str, seed: u64) -> String {
        const WORDS: &[&str] = &[
            "the", "server", "stores", "each", "backup", "in", "a", "bucket", "and", "rotates", "keys", "every", "night",
            "when", "replica", "falls", "behind", "primary", "it", "replays", "log", "from", "archive", "before",
            "accepting", "queries", "again", "so", "operators", "should", "watch", "lag", "metric", "closely",
        ];
        let mut x = seed;
        let mut words = Vec::new();
        for _ in 0..250 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            words.push(WORDS[(x % WORDS.len() as u64) as usize]);
        }
        format!("# {topic}\n\n{}", words.join(" "))
    }

    #[test]
    fn a_changed_date_or_counter_is_near() {
        for seed in 1..40 {
            let body = article("Backups", seed);
            let a = simhash(&format!("Last updated 2024-05-01, viewed 1234 times.\n\n{body}")).unwrap();
            let b = simhash(&format!("Last updated 2025-11-17, viewed 98211 times.\n\n{body}")).unwrap();
            assert!(distance(a, b) <= NEAR_DISTANCE, "seed {seed}: {}", distance(a, b));
            assert!(first_common_band(a, b).is_some());
            let (fa, fb) = (fingerprint(&format!("Updated 2024-05-01. {body}")).unwrap(), fingerprint(&format!("Updated 2025-12-31. {body}")).unwrap());
            assert!(fa.is_near(&fb), "seed {seed}");
            assert_eq!(Fingerprint::from_bytes(&fa.to_bytes()), fa);
        }
    }

    #[test]
    fn the_same_template_with_other_text_is_not_near() {
        for seed in 1..40 {
            let a = simhash(&article("Backups", seed)).unwrap();
            let b = simhash(&article("Backups", seed + 1000)).unwrap();
            assert!(distance(a, b) > 3 * NEAR_DISTANCE, "seed {seed}: {}", distance(a, b));
        }
    }

    #[test]
    fn short_pages_sharing_most_of_their_text_are_not_near() {
        // Like topic pages of one documentation section: the same paragraph around a few
        // words of their own. Their simhashes may fall within 3 bits by chance; the
        // resemblance check keeps them apart.
        let page = |verb: &str, thing: &str, other: &str| {
            format!(
                "Topic: otter {verb}. The otter module {verb} {thing} whenever the {other} threshold is exceeded. \
                 This paragraph explains, in plain words, how operators tune the behaviour for production \
                 workloads and what happens when the limit is reached during peak traffic. Call the API from a \
                 small program. The example below starts a worker and waits for its first result."
            )
        };
        let a = fingerprint(&page("compresses", "the audit log", "heron")).unwrap();
        let b = fingerprint(&page("encrypts", "printer drivers", "falcon")).unwrap();
        assert!(!a.is_near(&b));
        assert!(a.is_near(&a));
    }

    #[test]
    fn pages_whose_numbers_are_their_content_are_not_near() {
        let table = |year: u32| {
            let rows: String = (0..60).map(|i| format!("| region {i} | {} |\n", (year * 7919 + i * 104_729) % 100_000)).collect();
            format!("# Sales in {year}\n\n| region | units |\n{rows}")
        };
        let d = distance(simhash(&table(2022)).unwrap(), simhash(&table(2023)).unwrap());
        assert!(d > NEAR_DISTANCE, "{d}");
    }

    #[test]
    fn fingerprints_are_stable_and_bands_cover_the_hash() {
        assert_eq!(simhash(""), None);
        assert_eq!(simhash("Hello, world"), simhash("hello world"));
        // A fixed value: fingerprints are stored, so they must not change between builds.
        assert_eq!(simhash("the quick brown fox jumps over the lazy dog"), Some(0x7ce9_aa4a_6a29_d8c0));
        let h = 0x1234_5678_9abc_def0;
        assert_eq!((0..BANDS).map(|i| u64::from(band(h, i)) << (16 * i)).sum::<u64>(), h);
        assert_eq!(first_common_band(h, h ^ 1), Some(1));
        assert_eq!(first_common_band(h, !h), None);
        assert_eq!(without_digits("v12b3"), "v0b0");
    }
}
