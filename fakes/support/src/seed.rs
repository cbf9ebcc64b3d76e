//! Deterministic sample people: the word lists, generator and email rule both fakes draw from, so
//! their sample people look alike and tests and the demo are reproducible.
//!
//! Only the parts that are the same in both live here; which fields a fake seeds, and in which
//! order it draws them, stays with the fake (changing an order changes every seeded person).

/// First names, drawn with [`Rng::pick`].
pub const FIRST: [&str; 16] = [
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "John",
    "Radia",
    "Edsger",
    "Hedy",
    "Donald",
    "Katherine",
    "Tim",
];
/// Last names, drawn with [`Rng::pick`].
pub const LAST: [&str; 16] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Backus",
    "Perlman",
    "Dijkstra",
    "Lamarr",
    "Knuth",
    "Johnson",
    "Berners-Lee",
];
/// (company, email domain). A fake that seeds more per company (HubSpot's industry) keeps a
/// table of its own in the same order and indexes both with one [`Rng::index`].
pub const COMPANIES: [(&str, &str); 8] = [
    ("Acme Corp", "acme.example"),
    ("Globex", "globex.example"),
    ("Initech", "initech.example"),
    ("Umbrella", "umbrella.example"),
    ("Hooli", "hooli.example"),
    ("Stark Industries", "stark.example"),
    ("Wayne Enterprises", "wayne.example"),
    ("Soylent", "soylent.example"),
];
/// Job titles.
pub const TITLES: [&str; 8] = [
    "CEO",
    "CTO",
    "VP Sales",
    "Marketing Manager",
    "Engineer",
    "Office Manager",
    "Procurement Lead",
    "Analyst",
];
/// SplitMix64: tiny, good enough, and needs no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose draws depend on `seed` only.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// An index into a table of `len` items (`len` > 0); one draw, like [`Rng::below`].
    pub fn index(&mut self, len: usize) -> usize {
        // len is a small table length: the casts cannot truncate.
        self.below(len as u64) as usize
    }

    /// One item of `items` (not empty).
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.index(items.len())]
    }
}

/// A phone number in the reserved `555-01xx` range: `+1 555 01NN NNNN` (two draws).
pub fn phone(rng: &mut Rng) -> String {
    format!("+1 555 01{:02} {:04}", rng.below(100), rng.below(10_000))
}

/// The email of a person named `first` `last` at `domain`, number `index`:
/// `{first}.{last}{index + 1}@{domain}`, all lowercase (for example `ada.lovelace7@acme.example`
/// for index 6). The index makes emails unique within a seed.
pub fn email(first: &str, last: &str, index: u64, domain: &str) -> String {
    format!("{first}.{last}{}@{domain}", index + 1).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_splitmix64() {
        // The published first output for seed 0: a changed generator would reseed every demo.
        assert_eq!(Rng::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn a_seed_gives_the_same_draws() {
        let draws = |seed| {
            let mut rng = Rng::new(seed);
            (rng.pick(&FIRST), rng.pick(&COMPANIES), phone(&mut rng))
        };
        assert_eq!(draws(7), draws(7));
        let mut a = Rng::new(7);
        let mut b = Rng::new(8);
        assert_ne!(
            (0..4).map(|_| a.next_u64()).collect::<Vec<_>>(),
            (0..4).map(|_| b.next_u64()).collect::<Vec<_>>()
        );
        let number = phone(&mut Rng::new(1));
        assert!(
            number.starts_with("+1 555 01") && number.len() == 16,
            "{number}"
        );
    }

    #[test]
    fn emails_follow_the_rule() {
        assert_eq!(
            email("Tim", "Berners-Lee", 6, "acme.example"),
            "tim.berners-lee7@acme.example"
        );
    }
}
