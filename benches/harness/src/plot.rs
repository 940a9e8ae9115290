//! Line charts of a run, each written as SVG and as PNG (plotters draws both; the PNG
//! through its bitmap backend and the png encoder). Labels use DejaVu Sans from the system
//! (Debian's fonts-dejavu-core), read once.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 560;
const FONT_PATHS: [&str; 2] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
    /// Points drawn as dots as well as joined.
    pub dots: bool,
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// A horizontal reference line (a latency target), with its label.
    pub reference: Option<(f64, String)>,
    /// A point to circle (a ramp's knee), with its label.
    pub marker: Option<((f64, f64), String)>,
}

pub const BLUE_: RGBColor = RGBColor(31, 119, 180);
pub const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub const GREEN_: RGBColor = RGBColor(44, 160, 44);
pub const RED_: RGBColor = RGBColor(214, 39, 40);
pub const GREY: RGBColor = RGBColor(120, 120, 120);
pub const PURPLE: RGBColor = RGBColor(148, 103, 189);

fn font_loaded() -> anyhow::Result<()> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let bytes = FONT_PATHS
                .iter()
                .find_map(|p| std::fs::read(p).ok())
                .ok_or_else(|| {
                    format!("no DejaVu Sans at {FONT_PATHS:?}: install fonts-dejavu-core for plots")
                })?;
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| "DejaVu Sans did not load".to_string())
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

fn bounds(chart: &Chart) -> (f64, f64, f64) {
    let points = chart.series.iter().flat_map(|s| s.points.iter());
    let x_max = points.clone().map(|p| p.0).fold(0.0, f64::max);
    let x_min = points.clone().map(|p| p.0).fold(x_max, f64::min);
    let mut y_max = points.map(|p| p.1).fold(0.0, f64::max);
    if let Some((y, _)) = &chart.reference {
        y_max = y_max.max(*y);
    }
    let x_min = x_min.min(0.0);
    let x_max = if x_max > x_min { x_max } else { x_min + 1.0 };
    (x_min, x_max, if y_max > 0.0 { y_max * 1.1 } else { 1.0 })
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> anyhow::Result<()> {
    let fail = |e: &dyn std::fmt::Debug| anyhow!("drawing `{}`: {e:?}", chart.title);
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let (x_min, x_max, y_max) = bounds(chart);
    let mut context = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x_min..x_max, 0.0..y_max)
        .map_err(|e| fail(&e))?;
    context
        .configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| fail(&e))?;
    for series in &chart.series {
        let color = series.color;
        context
            .draw_series(LineSeries::new(
                series.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| fail(&e))?
            .label(series.name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        if series.dots {
            context
                .draw_series(
                    series
                        .points
                        .iter()
                        .map(|&p| Circle::new(p, 3, color.filled())),
                )
                .map_err(|e| fail(&e))?;
        }
    }
    if let Some((y, label)) = &chart.reference {
        context
            .draw_series(LineSeries::new(
                [(x_min, *y), (x_max, *y)],
                PURPLE.stroke_width(2),
            ))
            .map_err(|e| fail(&e))?
            .label(label.as_str())
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], PURPLE.stroke_width(2)));
    }
    if let Some((point, label)) = &chart.marker {
        context
            .draw_series([Circle::new(*point, 9, RED_.stroke_width(3))])
            .map_err(|e| fail(&e))?
            .label(label.as_str())
            .legend(|(x, y)| Circle::new((x + 10, y), 5, RED_.stroke_width(2)));
    }
    context
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}

/// Writes `DIR/STEM.svg` and `DIR/STEM.png`.
pub fn write(chart: &Chart, dir: &Path, stem: &str) -> anyhow::Result<Vec<PathBuf>> {
    font_loaded()?;
    let svg = dir.join(format!("{stem}.svg"));
    {
        let root = SVGBackend::new(&svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, chart)?;
    }
    let mut pixels = vec![0u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, chart)?;
    }
    let png = dir.join(format!("{stem}.png"));
    std::fs::write(&png, encode_png(&pixels, WIDTH, HEIGHT)?)
        .with_context(|| format!("writing {}", png.display()))?;
    Ok(vec![svg, png])
}

/// An 8-bit RGB PNG: the signature, IHDR, one IDAT of zlib-deflated scanlines (filter
/// type 0 each) and IEND, each chunk with its CRC-32.
fn encode_png(rgb: &[u8], width: u32, height: u32) -> anyhow::Result<Vec<u8>> {
    use std::io::Write as _;
    let row = width as usize * 3;
    let mut deflater = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    for line in rgb.chunks(row) {
        deflater.write_all(&[0])?;
        deflater.write_all(line)?;
    }
    let data = deflater.finish()?;
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8; 4], body: &[u8]| {
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(body);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    };
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &header);
    chunk(b"IDAT", &data);
    chunk(b"IEND", &[]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_real_png_and_svg() {
        if font_loaded().is_err() {
            // Without the font a run reports plots as skipped; the system test checks them.
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let chart = Chart {
            title: "latency".into(),
            x_label: "s".into(),
            y_label: "ms".into(),
            series: vec![Series {
                name: "p99".into(),
                points: (0..20).map(|i| (f64::from(i), f64::from(i * i))).collect(),
                color: BLUE_,
                dots: true,
            }],
            reference: Some((100.0, "target".into())),
            marker: Some(((10.0, 100.0), "knee".into())),
        };
        let files = write(&chart, dir.path(), "t").expect("plots");
        let png = std::fs::read(&files[1]).expect("png");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert!(png.len() > 5_000, "{}", png.len());
        let svg = std::fs::read_to_string(&files[0]).expect("svg");
        assert!(
            svg.contains("<svg") && svg.contains("polyline"),
            "{svg:.200}"
        );
    }
}
