//! A small pull scanner over JSON bytes: just what the adapters need, without building a tree.
//!
//! Why not serde_json: the hot messages (`l2Book`, `depthUpdate`) are flat, known shapes whose
//! numbers arrive as decimal strings; reading them in one pass straight into fixed point, with
//! any key order, is several times faster than building a `serde_json::Value` (see
//! `benches/venue.rs`). The scanner borrows string contents without unescaping: none of the
//! fields we read (decimal strings, coin names, channel names) legitimately contain escapes,
//! and a field that does simply fails to match or to parse, which the adapter reports.
//!
//! It never panics and never recurses on input: the adapters only descend into the fixed
//! depth of the documented shapes, and [`Scanner::skip_value`] skips any unknown value
//! iteratively, so deeply nested input cannot overflow the stack.

/// Why a message could not be scanned; `at` is the byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub what: &'static str,
    pub at: usize,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

pub type JResult<T> = Result<T, JsonError>;

/// A cursor over one JSON document.
pub struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Scanner { b, i: 0 }
    }

    pub fn pos(&self) -> usize {
        self.i
    }

    /// The input bytes `start..end` (empty when out of range).
    pub fn slice(&self, start: usize, end: usize) -> &'a [u8] {
        self.b.get(start..end).unwrap_or(&[])
    }

    /// The bytes not consumed yet.
    #[inline]
    pub fn rest(&self) -> &'a [u8] {
        self.b.get(self.i..).unwrap_or(&[])
    }

    /// Consumes `n` bytes a caller recognized in [`Self::rest`].
    #[inline]
    pub fn advance(&mut self, n: usize) {
        self.i = (self.i + n).min(self.b.len());
    }

    pub fn err<T>(&self, what: &'static str) -> JResult<T> {
        Err(JsonError { what, at: self.i })
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if c == b' ' || c == b'\n' || c == b'\r' || c == b'\t' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    /// The next non-space byte, not consumed.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    #[inline]
    fn expect(&mut self, c: u8, what: &'static str) -> JResult<()> {
        if self.eat(c) {
            Ok(())
        } else {
            self.err(what)
        }
    }

    /// Only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// A string's raw contents (between the quotes, escapes not decoded).
    #[inline]
    pub fn string(&mut self) -> JResult<&'a [u8]> {
        self.expect(b'"', "expected a string")?;
        let start = self.i;
        loop {
            // Eight bytes at a time over what needs no look (a hash, an address), up to the
            // first quote, backslash or control character, which the byte match reads.
            while let Some(chunk) = self.b.get(self.i..self.i + 8) {
                let flags = string_specials(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
                if flags != 0 {
                    self.i += (flags.trailing_zeros() / 8) as usize;
                    break;
                }
                self.i += 8;
            }
            match self.b.get(self.i) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    let s = &self.b[start..self.i];
                    self.i += 1;
                    return Ok(s);
                }
                Some(b'\\') => self.i += 2,
                Some(&c) if c < 0x20 => return self.err("control character in string"),
                Some(_) => self.i += 1,
            }
        }
    }

    /// A non-negative integer (JSON number without sign, fraction or exponent).
    #[inline]
    pub fn u64(&mut self) -> JResult<u64> {
        self.ws();
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&c) = self.b.get(self.i) {
            if c.is_ascii_digit() {
                v = match v.checked_mul(10).and_then(|v| v.checked_add(u64::from(c - b'0'))) {
                    Some(v) => v,
                    None => return self.err("integer out of range"),
                };
                self.i += 1;
            } else {
                break;
            }
        }
        if self.i == start {
            return self.err("expected a non-negative integer");
        }
        if matches!(self.b.get(self.i), Some(b'.' | b'e' | b'E')) {
            return self.err("expected an integer, found a fraction");
        }
        Ok(v)
    }

    pub fn bool(&mut self) -> JResult<bool> {
        self.ws();
        if self.b[self.i.min(self.b.len())..].starts_with(b"true") {
            self.i += 4;
            Ok(true)
        } else if self.b[self.i.min(self.b.len())..].starts_with(b"false") {
            self.i += 5;
            Ok(false)
        } else {
            self.err("expected true or false")
        }
    }

    /// Consumes `null` and returns true, or returns false and consumes nothing.
    pub fn null(&mut self) -> bool {
        self.ws();
        if self.b[self.i.min(self.b.len())..].starts_with(b"null") {
            self.i += 4;
            true
        } else {
            false
        }
    }

    /// Iterates an object: `f` is called with each key and must consume exactly its value.
    #[inline]
    pub fn object<E: From<JsonError>>(
        &mut self,
        mut f: impl FnMut(&mut Self, &'a [u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.expect(b'{', "expected an object")?;
        if self.eat(b'}') {
            return Ok(());
        }
        loop {
            let key = self.string()?;
            self.expect(b':', "expected ':'")?;
            f(self, key)?;
            if self.eat(b',') {
                continue;
            }
            return Ok(self.expect(b'}', "expected ',' or '}'")?);
        }
    }

    /// Iterates an array: `f` is called for each element and must consume it.
    #[inline]
    pub fn array<E: From<JsonError>>(
        &mut self,
        mut f: impl FnMut(&mut Self) -> Result<(), E>,
    ) -> Result<(), E> {
        self.expect(b'[', "expected an array")?;
        if self.eat(b']') {
            return Ok(());
        }
        loop {
            f(self)?;
            if self.eat(b',') {
                continue;
            }
            return Ok(self.expect(b']', "expected ',' or ']'")?);
        }
    }

    /// Skips one value of any kind and returns its raw bytes. Iterative: nesting depth costs
    /// no stack. Validates brackets and strings, and is lenient about scalar spelling (a
    /// value we skip is one we do not read).
    pub fn skip_value(&mut self) -> JResult<&'a [u8]> {
        self.ws();
        let start = self.i;
        let mut depth: usize = 0;
        // Expected closers, bounded by the input length (each needs an opening byte): the
        // first 128 as bits (set: `}`), without an allocation; any deeper in a vector.
        let mut closers = Closers::default();
        loop {
            self.ws();
            match self.b.get(self.i) {
                None => return self.err("truncated value"),
                Some(b'"') => {
                    self.string()?;
                }
                Some(b'{') => {
                    self.i += 1;
                    closers.push(depth, b'}');
                    depth += 1;
                    continue;
                }
                Some(b'[') => {
                    self.i += 1;
                    closers.push(depth, b']');
                    depth += 1;
                    continue;
                }
                Some(&c @ (b'}' | b']')) => {
                    if depth == 0 || closers.pop(depth - 1) != c {
                        return self.err("mismatched bracket");
                    }
                    self.i += 1;
                    depth -= 1;
                }
                Some(b',' | b':') if depth > 0 => {
                    self.i += 1;
                    continue;
                }
                Some(&c) if c == b'-' || c.is_ascii_alphanumeric() => {
                    while let Some(&c) = self.b.get(self.i) {
                        if c == b'-' || c == b'+' || c == b'.' || c.is_ascii_alphanumeric() {
                            self.i += 1;
                        } else {
                            break;
                        }
                    }
                }
                Some(_) => return self.err("unexpected byte"),
            }
            if depth == 0 {
                return Ok(&self.b[start..self.i]);
            }
        }
    }
}

/// The high bit of each byte of `v` that is a quote, a backslash or a control character (the
/// bytes a string's scan must look at); 0 when there is none. Only the lowest flagged byte is
/// exact (a borrow runs up from a flagged byte only), and the scan reads no further than it.
#[inline(always)]
fn string_specials(v: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    zero(v ^ (ONES * u64::from(b'"')))
        | zero(v ^ (ONES * u64::from(b'\\')))
        | (v.wrapping_sub(ONES * 0x20) & !v & HIGH)
}

/// The closers `skip_value` expects, by depth: bits for the first 128, a vector beyond.
#[derive(Default)]
struct Closers {
    braces: u128,
    deeper: Vec<u8>,
}

impl Closers {
    /// The closer of the bracket opened at `depth` (the current depth before it).
    #[inline]
    fn push(&mut self, depth: usize, closer: u8) {
        if depth < 128 {
            let bit = 1u128 << depth;
            if closer == b'}' {
                self.braces |= bit;
            } else {
                self.braces &= !bit;
            }
        } else {
            self.deeper.push(closer);
        }
    }

    /// The closer expected for the bracket opened at `depth`, the innermost one open.
    #[inline]
    fn pop(&mut self, depth: usize) -> u8 {
        if depth >= 128 {
            self.deeper.pop().unwrap_or(0)
        } else if self.braces >> depth & 1 == 1 {
            b'}'
        } else {
            b']'
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_objects_in_any_key_order_and_skips_unknown_values() {
        let mut s = Scanner::new(br#" {"b":[1,{"x":[[]]},"]"], "a" : "q\"z", "n": 42 , "t":true} "#);
        let mut seen = vec![];
        s.object(|s, k| -> JResult<()> {
            match k {
                b"a" => seen.push(s.string()?.to_vec()),
                b"n" => seen.push(s.u64()?.to_string().into_bytes()),
                b"t" => seen.push(s.bool()?.to_string().into_bytes()),
                _ => {
                    s.skip_value()?;
                }
            }
            Ok(())
        })
        .unwrap();
        assert!(s.at_end());
        assert_eq!(seen, vec![b"q\\\"z".to_vec(), b"42".to_vec(), b"true".to_vec()]);
    }

    #[test]
    fn reports_truncation_and_bad_brackets() {
        assert!(Scanner::new(b"{\"a\":[1,2").skip_value().is_err());
        assert!(Scanner::new(b"[1,2}").skip_value().is_err());
        assert!(Scanner::new(b"\"abc").string().is_err());
        assert!(Scanner::new(b"12.5").u64().is_err());
        assert!(Scanner::new(b"99999999999999999999999").u64().is_err());
    }

    #[test]
    fn deep_nesting_costs_no_stack() {
        let mut v = vec![b'['; 1_000_000];
        v.extend(vec![b']'; 1_000_000]);
        assert_eq!(Scanner::new(&v).skip_value().unwrap().len(), 2_000_000);
    }

    /// The string scan a byte at a time, as it was before it read eight at once.
    fn string_bytewise(b: &[u8]) -> JResult<(Vec<u8>, usize)> {
        let mut i = 0;
        if b.first() != Some(&b'"') {
            return Err(JsonError { what: "expected a string", at: 0 });
        }
        i += 1;
        let start = i;
        loop {
            match b.get(i) {
                None => return Err(JsonError { what: "unterminated string", at: i }),
                Some(b'"') => return Ok((b[start..i].to_vec(), i + 1)),
                Some(b'\\') => i += 2,
                Some(&c) if c < 0x20 => return Err(JsonError { what: "control character in string", at: i }),
                Some(_) => i += 1,
            }
        }
    }

    proptest::proptest! {
        /// Quotes, escapes (one at the very end too), control and high bytes at every offset
        /// of the eight-byte words: the same contents, end and error, at the same byte.
        #[test]
        fn strings_read_eight_bytes_at_once_as_one_at_a_time(
            body in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => proptest::prelude::Just(b'a'),
                    1 => proptest::prelude::Just(b'"'),
                    1 => proptest::prelude::Just(b'\\'),
                    1 => proptest::prelude::any::<u8>(),
                ],
                0..40,
            )
        ) {
            let mut b = vec![b'"'];
            b.extend(&body);
            let mut s = Scanner::new(&b);
            let got = s.string().map(|v| (v.to_vec(), s.pos()));
            proptest::prop_assert_eq!(got, string_bytewise(&b));
        }
    }

    #[test]
    fn brackets_are_matched_beyond_the_first_128_levels() {
        for depth in [1usize, 127, 128, 129, 300] {
            let open: Vec<u8> = (0..depth).map(|d| if d % 3 == 0 { b'{' } else { b'[' }).collect();
            // `{` needs a key before a value: objects here hold `"k":` then the inner value.
            let mut v = Vec::new();
            for &o in &open {
                v.push(o);
                if o == b'{' {
                    v.extend(b"\"k\":");
                }
            }
            v.extend(b"1");
            let close = |o: &u8| if *o == b'{' { b'}' } else { b']' };
            let mut ok = v.clone();
            ok.extend(open.iter().rev().map(close));
            assert_eq!(Scanner::new(&ok).skip_value().unwrap().len(), ok.len(), "depth {depth}");
            // The wrong closer at every depth, outermost and innermost included.
            for wrong_at in [0, depth / 2, depth - 1] {
                let mut bad = v.clone();
                for (d, o) in open.iter().enumerate().rev() {
                    let c = close(o);
                    let other = if c == b'}' { b']' } else { b'}' };
                    bad.push(if d == wrong_at { other } else { c });
                }
                let e = Scanner::new(&bad).skip_value().unwrap_err();
                assert_eq!(e.what, "mismatched bracket", "depth {depth} wrong at {wrong_at}");
            }
        }
        assert_eq!(Scanner::new(b"]").skip_value().unwrap_err().what, "mismatched bracket");
    }
}
