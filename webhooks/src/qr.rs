//! QR codes as SVG (pairing links, badges): drawn here, so no page loads an image from
//! elsewhere.

use qrcode::QrCode;
use qrcode::render::svg;

/// `text` as a QR code in SVG, black on white, with its quiet zone. Text too long for a QR
/// code (more than about 2,900 bytes) gives an empty SVG; callers pass short URLs.
pub fn svg(text: &str) -> String {
    match QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
        Err(err) => {
            tracing::warn!(%err, "text too long for a QR code");
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"/>"#.to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_becomes_an_svg_qr_code() {
        let svg = super::svg("https://frontdesk.example/kiosk/hq#pair=ABCDEFGHJK");
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<path") || svg.contains("<rect"), "{svg}");
        assert!(!super::svg(&"x".repeat(5000)).contains("<path"));
    }
}
