//! Letters compared the way a person reads them: case folded, and Latin letters with marks
//! read as their plain letter. Both by small tables of this file: the window's wasm carries
//! them instead of a fuzzy-matching crate's tables (12 KB for case folding alone), and
//! instead of the standard library's lowercase tables.

/// `c` with its case folded: Unicode's simple case folding (one character for one), as
/// Unicode 15 defines it. A `char::to_lowercase` that never changes a text's length, and
/// folds what lowercasing keeps apart (`ſ` and `s`, `ς` and `σ`).
pub fn fold(c: char) -> char {
    let code = u32::from(c);
    if code < 0x80 {
        return c.to_ascii_lowercase();
    }
    let at = FOLD.partition_point(|&(key, _)| key >> 11 <= code);
    let Some(&(key, delta)) = at.checked_sub(1).and_then(|at| FOLD.get(at)) else {
        return c;
    };
    let (start, len, stride) = (key >> 11, (key >> 1) & 0x3FF, 1 + (key & 1));
    let offset = code - start;
    if offset >= len * stride || offset % stride != 0 {
        return c;
    }
    code.checked_add_signed(delta)
        .and_then(char::from_u32)
        .unwrap_or(c)
}

/// `c`, folded already, as its plain letter when it is a Latin letter with marks (`é` is
/// `e`, `ß` is `s`, `ơ` is `o`), else as it is.
pub fn plain(c: char) -> char {
    let code = u32::from(c);
    let table: &[u8] = match code {
        0xC0..=0x36F => &FROM_C0[(code - 0xC0) as usize..],
        0x1D00..=0x1EF1 => &FROM_1D00[(code - 0x1D00) as usize..],
        0x2071 => b"i",
        0x2095..=0x2098 => &b"hklm"[(code - 0x2095) as usize..],
        0x209A..=0x209C => &b"pst"[(code - 0x209A) as usize..],
        0x2184 => b"c",
        _ => return c,
    };
    match table[0] {
        b'.' => c,
        letter => char::from(letter),
    }
}

/// A run of letters that fold alike: `start`, then `len` letters `stride` apart (1, or 2
/// where capital and small letters alternate), each folding to itself plus `delta`. Packed
/// as `(start << 11 | len << 1 | stride - 1, delta)`.
const fn run(start: u32, len: u32, stride: u32, delta: i32) -> (u32, i32) {
    (start << 11 | len << 1 | (stride - 1), delta)
}

/// Unicode 15's simple case folding, in runs (checked letter by letter against
/// nucleo-matcher's table of it by this file's tests).
#[rustfmt::skip]
const FOLD: &[(u32, i32)] = &[
    run(0x0041, 26, 1, 32),
    run(0x00B5, 1, 1, 775),
    run(0x00C0, 23, 1, 32),
    run(0x00D8, 7, 1, 32),
    run(0x0100, 24, 2, 1),
    run(0x0132, 3, 2, 1),
    run(0x0139, 8, 2, 1),
    run(0x014A, 23, 2, 1),
    run(0x0178, 1, 1, -121),
    run(0x0179, 3, 2, 1),
    run(0x017F, 1, 1, -268),
    run(0x0181, 1, 1, 210),
    run(0x0182, 2, 2, 1),
    run(0x0186, 1, 1, 206),
    run(0x0187, 1, 1, 1),
    run(0x0189, 2, 1, 205),
    run(0x018B, 1, 1, 1),
    run(0x018E, 1, 1, 79),
    run(0x018F, 1, 1, 202),
    run(0x0190, 1, 1, 203),
    run(0x0191, 1, 1, 1),
    run(0x0193, 1, 1, 205),
    run(0x0194, 1, 1, 207),
    run(0x0196, 1, 1, 211),
    run(0x0197, 1, 1, 209),
    run(0x0198, 1, 1, 1),
    run(0x019C, 1, 1, 211),
    run(0x019D, 1, 1, 213),
    run(0x019F, 1, 1, 214),
    run(0x01A0, 3, 2, 1),
    run(0x01A6, 1, 1, 218),
    run(0x01A7, 1, 1, 1),
    run(0x01A9, 1, 1, 218),
    run(0x01AC, 1, 1, 1),
    run(0x01AE, 1, 1, 218),
    run(0x01AF, 1, 1, 1),
    run(0x01B1, 2, 1, 217),
    run(0x01B3, 2, 2, 1),
    run(0x01B7, 1, 1, 219),
    run(0x01B8, 1, 1, 1),
    run(0x01BC, 1, 1, 1),
    run(0x01C4, 1, 1, 2),
    run(0x01C5, 1, 1, 1),
    run(0x01C7, 1, 1, 2),
    run(0x01C8, 1, 1, 1),
    run(0x01CA, 1, 1, 2),
    run(0x01CB, 9, 2, 1),
    run(0x01DE, 9, 2, 1),
    run(0x01F1, 1, 1, 2),
    run(0x01F2, 2, 2, 1),
    run(0x01F6, 1, 1, -97),
    run(0x01F7, 1, 1, -56),
    run(0x01F8, 20, 2, 1),
    run(0x0220, 1, 1, -130),
    run(0x0222, 9, 2, 1),
    run(0x023A, 1, 1, 10795),
    run(0x023B, 1, 1, 1),
    run(0x023D, 1, 1, -163),
    run(0x023E, 1, 1, 10792),
    run(0x0241, 1, 1, 1),
    run(0x0243, 1, 1, -195),
    run(0x0244, 1, 1, 69),
    run(0x0245, 1, 1, 71),
    run(0x0246, 5, 2, 1),
    run(0x0345, 1, 1, 116),
    run(0x0370, 2, 2, 1),
    run(0x0376, 1, 1, 1),
    run(0x037F, 1, 1, 116),
    run(0x0386, 1, 1, 38),
    run(0x0388, 3, 1, 37),
    run(0x038C, 1, 1, 64),
    run(0x038E, 2, 1, 63),
    run(0x0391, 17, 1, 32),
    run(0x03A3, 9, 1, 32),
    run(0x03C2, 1, 1, 1),
    run(0x03CF, 1, 1, 8),
    run(0x03D0, 1, 1, -30),
    run(0x03D1, 1, 1, -25),
    run(0x03D5, 1, 1, -15),
    run(0x03D6, 1, 1, -22),
    run(0x03D8, 12, 2, 1),
    run(0x03F0, 1, 1, -54),
    run(0x03F1, 1, 1, -48),
    run(0x03F4, 1, 1, -60),
    run(0x03F5, 1, 1, -64),
    run(0x03F7, 1, 1, 1),
    run(0x03F9, 1, 1, -7),
    run(0x03FA, 1, 1, 1),
    run(0x03FD, 3, 1, -130),
    run(0x0400, 16, 1, 80),
    run(0x0410, 32, 1, 32),
    run(0x0460, 17, 2, 1),
    run(0x048A, 27, 2, 1),
    run(0x04C0, 1, 1, 15),
    run(0x04C1, 7, 2, 1),
    run(0x04D0, 48, 2, 1),
    run(0x0531, 38, 1, 48),
    run(0x10A0, 38, 1, 7264),
    run(0x10C7, 1, 1, 7264),
    run(0x10CD, 1, 1, 7264),
    run(0x13F8, 6, 1, -8),
    run(0x1C80, 1, 1, -6222),
    run(0x1C81, 1, 1, -6221),
    run(0x1C82, 1, 1, -6212),
    run(0x1C83, 2, 1, -6210),
    run(0x1C85, 1, 1, -6211),
    run(0x1C86, 1, 1, -6204),
    run(0x1C87, 1, 1, -6180),
    run(0x1C88, 1, 1, 35267),
    run(0x1C90, 43, 1, -3008),
    run(0x1CBD, 3, 1, -3008),
    run(0x1E00, 75, 2, 1),
    run(0x1E9B, 1, 1, -58),
    run(0x1E9E, 1, 1, -7615),
    run(0x1EA0, 48, 2, 1),
    run(0x1F08, 8, 1, -8),
    run(0x1F18, 6, 1, -8),
    run(0x1F28, 8, 1, -8),
    run(0x1F38, 8, 1, -8),
    run(0x1F48, 6, 1, -8),
    run(0x1F59, 4, 2, -8),
    run(0x1F68, 8, 1, -8),
    run(0x1F88, 8, 1, -8),
    run(0x1F98, 8, 1, -8),
    run(0x1FA8, 8, 1, -8),
    run(0x1FB8, 2, 1, -8),
    run(0x1FBA, 2, 1, -74),
    run(0x1FBC, 1, 1, -9),
    run(0x1FBE, 1, 1, -7173),
    run(0x1FC8, 4, 1, -86),
    run(0x1FCC, 1, 1, -9),
    run(0x1FD8, 2, 1, -8),
    run(0x1FDA, 2, 1, -100),
    run(0x1FE8, 2, 1, -8),
    run(0x1FEA, 2, 1, -112),
    run(0x1FEC, 1, 1, -7),
    run(0x1FF8, 2, 1, -128),
    run(0x1FFA, 2, 1, -126),
    run(0x1FFC, 1, 1, -9),
    run(0x2126, 1, 1, -7517),
    run(0x212A, 1, 1, -8383),
    run(0x212B, 1, 1, -8262),
    run(0x2132, 1, 1, 28),
    run(0x2160, 16, 1, 16),
    run(0x2183, 1, 1, 1),
    run(0x24B6, 26, 1, 26),
    run(0x2C00, 48, 1, 48),
    run(0x2C60, 1, 1, 1),
    run(0x2C62, 1, 1, -10743),
    run(0x2C63, 1, 1, -3814),
    run(0x2C64, 1, 1, -10727),
    run(0x2C67, 3, 2, 1),
    run(0x2C6D, 1, 1, -10780),
    run(0x2C6E, 1, 1, -10749),
    run(0x2C6F, 1, 1, -10783),
    run(0x2C70, 1, 1, -10782),
    run(0x2C72, 1, 1, 1),
    run(0x2C75, 1, 1, 1),
    run(0x2C7E, 2, 1, -10815),
    run(0x2C80, 50, 2, 1),
    run(0x2CEB, 2, 2, 1),
    run(0x2CF2, 1, 1, 1),
    run(0xA640, 23, 2, 1),
    run(0xA680, 14, 2, 1),
    run(0xA722, 7, 2, 1),
    run(0xA732, 31, 2, 1),
    run(0xA779, 2, 2, 1),
    run(0xA77D, 1, 1, -35332),
    run(0xA77E, 5, 2, 1),
    run(0xA78B, 1, 1, 1),
    run(0xA78D, 1, 1, -42280),
    run(0xA790, 2, 2, 1),
    run(0xA796, 10, 2, 1),
    run(0xA7AA, 1, 1, -42308),
    run(0xA7AB, 1, 1, -42319),
    run(0xA7AC, 1, 1, -42315),
    run(0xA7AD, 1, 1, -42305),
    run(0xA7AE, 1, 1, -42308),
    run(0xA7B0, 1, 1, -42258),
    run(0xA7B1, 1, 1, -42282),
    run(0xA7B2, 1, 1, -42261),
    run(0xA7B3, 1, 1, 928),
    run(0xA7B4, 8, 2, 1),
    run(0xA7C4, 1, 1, -48),
    run(0xA7C5, 1, 1, -42307),
    run(0xA7C6, 1, 1, -35384),
    run(0xA7C7, 2, 2, 1),
    run(0xA7D0, 1, 1, 1),
    run(0xA7D6, 2, 2, 1),
    run(0xA7F5, 1, 1, 1),
    run(0xAB70, 80, 1, -38864),
    run(0xFF21, 26, 1, 32),
    run(0x10400, 40, 1, 40),
    run(0x104B0, 36, 1, 40),
    run(0x10570, 11, 1, 39),
    run(0x1057C, 15, 1, 39),
    run(0x1058C, 7, 1, 39),
    run(0x10594, 2, 1, 39),
    run(0x10C80, 51, 1, 64),
    run(0x118A0, 32, 1, 32),
    run(0x16E40, 32, 1, 32),
    run(0x1E900, 34, 1, 34),
];

/// The plain letter of each letter from U+00C0, `.` for one that stays as it is.
const FROM_C0: &[u8; 688] = b"\
    aaaaaa.ceeeeiiii.nooooo.ouuuuy.saaaaaa.ceeeeiiii.nooooo.ouuuuy.y\
    .a.a.a.c.c.c.c.d.d.e.e.e.e.e.g.g.g.g.h.h.i.i.i.iii...j.k..l.l.l.\
    l.l.n.n.n....o.o.o...r.r.r.s.s.s.s.t.t.t.u.u.u.u.u.u.w.yy.z.z.zs\
    bb.b..o.cdd.d.e.e.fg...i.kl.mnno.o...p.....t.tt.u.v.y.z.........\
    ..............a.i.o.u........e.......g.g.k.o....j....g...n......\
    .a.a.e.e.i.i.o.o.r.r.u.u.s.t...hnd...z.a.e.....o...ylntj..acclts\
    z..buveejjqqrryyaa.bocdde..eeeejggg..hh.i.illl.mmmnnno...rrrrrrr\
    rrs....ttu.vvwyyzz.....c.beghjklq.............h.................\
    ................................................................\
    ................................................................\
    ...................................aeioucdhmrtvx\
";

/// The same from U+1D00.
const FROM_1D00: &[u8; 498] = b"\
    a..bcd.eeijklmnooooo..ooprrtuuumvwz.............................\
    ..................................iruv..........................\
    ................................................................\
    ................................................................\
    .a.b.b.b...d.d.d.d.d.....e.e...f.g.h.h.h.h.h.i...k.k.k.l.....l.m\
    .m.m.n.n.n.n.........p.p...r...r.s.s.......t.t.t.t.u.u.......v.v\
    .w.w.w...w.x.x.y.z...zhtwyas.....a.aaaaaaaaaaaaaaaaaaaaa.e...eee\
    eeeeeeee.i.i.o.ooooooooooooooooooooo.u.uuuuuuuuuuu\
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_every_letter_as_unicode_simple_case_folding_does() {
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            assert_eq!(fold(c), nucleo_matcher::chars::to_lower_case(c), "{c:?}");
        }
        assert_eq!(fold('ſ'), 's');
        assert_eq!(fold('ς'), 'σ');
        assert_eq!(fold('Ǆ'), 'ǆ');
        assert_eq!(fold('Ꭰ'), 'Ꭰ');
        assert_eq!(fold('ꭰ'), 'Ꭰ');
    }

    #[test]
    fn reads_latin_letters_with_marks_as_plain_letters() {
        let read = |text: &str| text.chars().map(fold).map(plain).collect::<String>();
        assert_eq!(read("Crème Brûlée"), "creme brulee");
        assert_eq!(read("Ångström, Straße, Łódź"), "angstrom, strase, lodz");
        assert_eq!(read("Tiếng Việt ơi"), "tieng viet oi");
        assert_eq!(read("xₘ ↄ"), "xm c");
        // Letters of other scripts stay.
        assert_eq!(read("Ωμέγα 東京"), "ωμέγα 東京");
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let p = plain(c);
            assert!(p == c || p.is_ascii_lowercase(), "{c:?} reads as {p:?}");
        }
    }
}
