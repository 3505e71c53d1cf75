//! QR codes as PNG images, for mail (a reception code a visitor shows at the kiosk): mail
//! clients show an attached PNG where they would not draw an SVG.
//!
//! The QR's modules are written straight into a black-and-white PNG (1 bit a pixel): no
//! image library, and a six-digit code comes out at a few hundred bytes.

use qrcode::{Color, QrCode};

/// Pixels a module is drawn with: a version-1 code with its quiet zone is 232 px square,
/// large enough for a phone's screen to be read by a kiosk's scanner.
const MODULE_PIXELS: usize = 8;
/// The light border the QR specification asks for, in modules.
const QUIET_ZONE: usize = 4;

/// Why a QR image could not be made.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error("the text does not fit in a QR code: {0}")]
    TooLong(#[from] qrcode::types::QrError),
    #[error("the QR code cannot be written as PNG: {0}")]
    Png(#[from] png::EncodingError),
}

/// `text` as a QR code in a PNG image, black on white, with its quiet zone. Quick (well under
/// a millisecond for a short text), so callers need not move it off their thread.
pub fn png(text: &str) -> Result<Vec<u8>, QrError> {
    let code = QrCode::new(text.as_bytes())?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * MODULE_PIXELS;
    // One bit a pixel, most significant first; 1 is white in a grayscale PNG.
    let row_bytes = side.div_ceil(8);
    let mut pixels = vec![0u8; row_bytes * side];
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = (x / MODULE_PIXELS, y / MODULE_PIXELS);
            let inside = (QUIET_ZONE..QUIET_ZONE + modules).contains(&mx)
                && (QUIET_ZONE..QUIET_ZONE + modules).contains(&my);
            let dark =
                inside && colors[(my - QUIET_ZONE) * modules + (mx - QUIET_ZONE)] == Color::Dark;
            if !dark {
                pixels[y * row_bytes + x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    let side = u32::try_from(side).expect("a QR code is at most 177 modules wide");
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The image's pixels, 0 (black) to 255 (white), and its side.
    fn decode(bytes: &[u8]) -> (Vec<u8>, usize) {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(info.width, info.height);
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        pixels.truncate(info.buffer_size());
        (pixels, info.width as usize)
    }

    #[test]
    fn a_reception_code_becomes_a_png_a_qr_reader_reads_back() {
        let bytes = png("246810").unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(bytes.len() < 2_000, "{} bytes", bytes.len());
        let (pixels, side) = decode(&bytes);
        assert_eq!(side, (21 + 2 * QUIET_ZONE) * MODULE_PIXELS);
        // The quiet zone is white; the top-left finder pattern starts black.
        assert_eq!(pixels[0], 255);
        let corner = QUIET_ZONE * MODULE_PIXELS;
        assert_eq!(pixels[corner * side + corner], 0);
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| pixels[y * side + x]);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        assert_eq!(grids[0].decode().unwrap().1, "246810");
    }

    #[test]
    fn text_too_long_for_a_qr_code_is_an_error() {
        assert!(matches!(png(&"9".repeat(8000)), Err(QrError::TooLong(_))));
    }
}
