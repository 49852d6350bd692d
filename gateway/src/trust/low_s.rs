//! Canonical ("low-S") ES256 signatures. An ECDSA signature `(r, s)` has a twin `(r, n - s)` that
//! verifies just as well, and anyone can compute it from the signature alone (no key needed): a
//! second, different token for the same signed content. We accept only the twin with
//! `s <= (n - 1) / 2` and make only that one, so every signed content has one signature form.

/// Bytes of one ES256 signature half (`r` or `s`), big-endian.
const HALF_LEN: usize = 32;

/// The order n of the P-256 group, big-endian (SEC 2 §2.4.2, FIPS 186-4 D.1.2.3).
const P256_ORDER: [u8; HALF_LEN] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `(n - 1) / 2` (n is odd): the largest canonical `s`.
const P256_HALF_ORDER: [u8; HALF_LEN] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

/// Whether the `s` half of a 64-byte `r || s` signature is canonical (`s <= (n - 1) / 2`).
/// Anything but 64 bytes is not canonical.
pub(super) fn is_low_s(signature: &[u8]) -> bool {
    // Equal-length big-endian byte strings order like the numbers they hold.
    signature.len() == 2 * HALF_LEN && signature[HALF_LEN..] <= P256_HALF_ORDER[..]
}

/// Turns a 64-byte `r || s` signature into its canonical twin in place: `s := n - s` when `s` is
/// above `(n - 1) / 2`. A signature that is already canonical (or not 64 bytes) is left alone.
pub(super) fn normalize_low_s(signature: &mut [u8]) {
    if signature.len() != 2 * HALF_LEN || is_low_s(signature) {
        return;
    }
    let s = &mut signature[HALF_LEN..];
    // s < n for any valid signature, so the subtraction never borrows out of the top byte.
    let mut borrow = 0u16;
    for (digit, n) in s.iter_mut().zip(P256_ORDER).rev() {
        let subtrahend = u16::from(*digit) + borrow;
        let n = u16::from(n);
        borrow = u16::from(n < subtrahend);
        // Adding 256 when borrowing keeps the difference in 0..=255.
        *digit = (n + (borrow << 8) - subtrahend) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_s(s: [u8; HALF_LEN]) -> Vec<u8> {
        let mut signature = vec![0x11; HALF_LEN];
        signature.extend_from_slice(&s);
        signature
    }

    fn plus_one(mut x: [u8; HALF_LEN]) -> [u8; HALF_LEN] {
        for byte in x.iter_mut().rev() {
            let (sum, carry) = byte.overflowing_add(1);
            *byte = sum;
            if !carry {
                break;
            }
        }
        x
    }

    #[test]
    fn the_boundary_is_half_the_order() {
        assert!(is_low_s(&with_s(P256_HALF_ORDER)));
        assert!(!is_low_s(&with_s(plus_one(P256_HALF_ORDER))));
        let mut one = [0u8; HALF_LEN];
        one[HALF_LEN - 1] = 1;
        assert!(is_low_s(&with_s(one)));
        assert!(!is_low_s(&with_s([0xff; HALF_LEN])));
        assert!(!is_low_s(&[0u8; 63]));
        // 2 * HALF + 1 = n: the constants agree with each other.
        let mut doubled = [0u8; HALF_LEN];
        let mut carry = 1u16;
        for i in (0..HALF_LEN).rev() {
            let sum = 2 * u16::from(P256_HALF_ORDER[i]) + carry;
            doubled[i] = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(doubled, P256_ORDER);
    }

    #[test]
    fn normalising_maps_s_to_n_minus_s_and_leaves_low_s_alone() {
        // n - 1 becomes 1; (n - 1) / 2 + 1 becomes (n - 1) / 2.
        let mut n_minus_one = P256_ORDER;
        n_minus_one[HALF_LEN - 1] -= 1;
        let mut signature = with_s(n_minus_one);
        normalize_low_s(&mut signature);
        let mut one = [0u8; HALF_LEN];
        one[HALF_LEN - 1] = 1;
        assert_eq!(signature, with_s(one));

        let mut signature = with_s(plus_one(P256_HALF_ORDER));
        normalize_low_s(&mut signature);
        assert_eq!(signature, with_s(P256_HALF_ORDER));

        // A borrow that runs through several bytes: s = n - 0x0100…00 + …
        let mut s = P256_ORDER;
        s[HALF_LEN - 1] = 0x00;
        s[HALF_LEN - 2] = 0x00;
        let mut signature = with_s(s);
        normalize_low_s(&mut signature);
        let mut expected = [0u8; HALF_LEN];
        expected[HALF_LEN - 2] = 0x25;
        expected[HALF_LEN - 1] = 0x51;
        assert_eq!(signature, with_s(expected));

        let low = with_s(P256_HALF_ORDER);
        let mut unchanged = low.clone();
        normalize_low_s(&mut unchanged);
        assert_eq!(unchanged, low);
    }
}
