//! Randomness comes in from the caller: the crate never seeds or reads a random source itself.

/// A source of random bytes supplied by the application (e.g. wrapping `rand::rngs::OsRng`).
///
/// Used for Digest client nonces (cnonce), server nonces and push-ids. Give a cryptographically
/// strong source in production: MS-WMHTTP 5.1 warns that guessable push-ids allow hijacking.
pub trait Rng {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> Rng for F {
    fn fill(&mut self, buf: &mut [u8]) {
        self(buf)
    }
}

/// `len` random characters from `[0-9A-Za-z]` (unbiased by rejection, bounded retries per char).
pub fn alphanumeric(rng: &mut dyn Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(len);
    let mut byte = [0u8; 1];
    while out.len() < len {
        rng.fill(&mut byte);
        // 248 = 4 * 62: reject the top values so every character is equally likely.
        if byte[0] < 248 {
            out.push(ALPHABET[(byte[0] % 62) as usize] as char);
        } else {
            // A stuck source (always >= 248) must not hang: fold the value instead.
            out.push(ALPHABET[(byte[0] as usize - 248) % 62] as char);
        }
    }
    out
}

/// Lowercase hex of `n` random bytes.
pub fn hex(rng: &mut dyn Rng, n: usize) -> String {
    let mut buf = vec![0u8; n];
    rng.fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
